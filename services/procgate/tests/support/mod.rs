//! A real `procgate serve` for the console's tests: the binary on a free port of loopback,
//! with its own data directory, filled by `procgate demo`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real OpenID provider (panva's `oidc-provider`, run from the script in
/// `crates/auth/tests/oidc`).
pub fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/auth/tests/oidc")
}

/// `npm ci` there unless oidc-provider is installed; one test process at a time.
fn ensure_installed() {
    let dir = oidc_dir();
    let installed = || dir.join("node_modules/oidc-provider/package.json").exists();
    if installed() {
        return;
    }
    let lock =
        std::fs::File::create(std::env::temp_dir().join("procgate-auth-oidc-npm-ci.lock")).unwrap();
    lock.lock().unwrap();
    if installed() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run npm ({e}): install nodejs and npm (apt-get install nodejs npm)")
        });
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

/// Starts the provider (with `env`, see its script); returns it and its issuer URL.
pub fn start_provider(key_dir: &Path, env: &[(&str, &str)]) -> (Running, String) {
    ensure_installed();
    let mut child = Command::new("node")
        .arg(oidc_dir().join("provider.mjs"))
        .env("OIDC_PORT", "0")
        .env("OIDC_KEY_DIR", key_dir)
        .env("OIDC_KEYS", "k1:RS256")
        .env("OIDC_RESOURCES", "urn:procgate")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): install nodejs and npm (apt-get install nodejs npm)")
        });
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    let mut out = BufReader::new(stdout);
    out.read_line(&mut line).unwrap();
    // Keep reading what it prints, so a write never fails on a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let issuer = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("the provider did not start: {line:?} (its stderr is above)"))
        .to_owned();
    (running, issuer)
}

/// A free port on loopback (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running all-in-one server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The one-time sign-in link it printed.
    pub link: String,
    pub data_dir: tempfile::TempDir,
    _process: Running,
}

impl Server {
    /// Starts `procgate serve` on the embedded store with `env` set, and waits for its link.
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_on(free_port(), env)
    }

    /// As [`Self::start`], on `port`.
    pub fn start_on(port: u16, env: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_procgate"));
        command
            .arg("serve")
            .env_remove("PROCGATE_DATABASE_URL")
            .env_remove("PROCGATE_JWT_SECRET")
            .env_remove("PROCGATE_OIDC_ISSUER")
            .env("PROCGATE_DATA_DIR", data_dir.path())
            .env("PROCGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("PROCGATE_WORKERS", "2")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("procgate starts");
        let stdout = child.stdout.take().unwrap();
        let process = Running(child);
        let mut link = String::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.trim().strip_prefix("console:") {
                link = rest.split_whitespace().next().unwrap_or_default().to_owned();
                break;
            }
        }
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        assert!(link.starts_with("http"), "serve printed no console line");
        let server = Self { url, link, data_dir, _process: process };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = self.url.trim_start_matches("http://").to_owned();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "procgate did not answer at {}", self.url);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fills it with a small district (`procgate demo`).
    pub fn demo(&self, schools: usize, checks: usize) {
        let out = Command::new(env!("CARGO_BIN_EXE_procgate"))
            .args(["demo", "--schools", &schools.to_string(), "--checks", &checks.to_string()])
            .args(["--url", &self.url])
            .env("PROCGATE_DATA_DIR", self.data_dir.path())
            .env_remove("PROCGATE_JWT_SECRET")
            .env_remove("PROCGATE_OIDC_ISSUER")
            .output()
            .unwrap();
        assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A token for `subject` with `roles`, signed with the server's key.
    pub fn token(&self, subject: &str, roles: &[&str]) -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_procgate"));
        command.args(["token", "--subject", subject]);
        for role in roles {
            command.args(["--role", role]);
        }
        let out = command
            .env("PROCGATE_DATA_DIR", self.data_dir.path())
            .env_remove("PROCGATE_JWT_SECRET")
            .env_remove("PROCGATE_OIDC_ISSUER")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}
