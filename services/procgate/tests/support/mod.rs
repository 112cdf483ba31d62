//! A real `procgate serve` for the console's tests: the binary on a free port of loopback,
//! with its own data directory, filled by `procgate demo`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
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

/// The real OpenID provider (panva's `oidc-provider`, see `testkit::oidc`) with `env`; the
/// provider and its issuer URL.
pub fn start_provider(
    key_dir: &Path,
    env: &[(&str, &str)],
) -> (testkit::oidc::OidcProvider, String) {
    let provider = testkit::oidc::start(key_dir, env);
    let issuer = provider.issuer.clone();
    (provider, issuer)
}

/// A free port on loopback (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The master key of every PostgreSQL server under test (PostgreSQL deployments must set one).
pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The environment of a server under test: no rate limits (a test's burst of requests is past
/// any production budget), no webhook deliveries, no anchors; on PostgreSQL (`database`, the
/// caller's throwaway one) its URL and the keys a PostgreSQL deployment needs.
pub fn quiet_env<'a>(
    database: Option<&'a testkit::TestDatabase>,
    webhook_key: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let mut env = vec![
        ("PROCGATE_RATE_WRITES_PER_MINUTE", "0"),
        ("PROCGATE_RATE_EXPENSIVE_PER_MINUTE", "0"),
        ("PROCGATE_WEBHOOKS_DELIVER", "false"),
        ("PROCGATE_ANCHOR_INTERVAL_MINUTES", "0"),
    ];
    if let Some(database) = database {
        env.push(("PROCGATE_DATABASE_URL", database.url()));
        env.push(("PROCGATE_WEBHOOK_KEY", webhook_key));
        env.push(("PROCGATE_MASTER_KEY", MASTER_KEY));
    }
    env
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
