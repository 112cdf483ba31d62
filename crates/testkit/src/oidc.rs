//! A real OpenID provider for tests: panva's `oidc-provider` (OpenID Certified), run by Node
//! from the script in `crates/auth/tests/oidc` (see its header for the clients and settings).
//! Test-only: it holds throwaway keys and fixed client secrets.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the provider may take to start.
const PATIENCE: Duration = Duration::from_secs(30);

/// The folder of the provider's script and its pinned `package.json`.
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../auth/tests/oidc")
}

/// `npm ci` there unless oidc-provider is installed; one test process at a time.
fn ensure_installed() {
    let dir = provider_dir();
    let installed = || dir.join("node_modules/oidc-provider/package.json").exists();
    if installed() {
        return;
    }
    let lock_path = std::env::temp_dir().join("procgate-auth-oidc-npm-ci.lock");
    let lock = std::fs::File::create(&lock_path).unwrap();
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

/// A running provider; killed when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
    pub port: u16,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider with its private keys in `key_dir` (generated when missing, so a
/// restart can keep publishing an old key) and `env` (`OIDC_PORT`, `OIDC_KEYS`,
/// `OIDC_RESOURCES`, `OIDC_CONSOLE_REDIRECT`: see the script; by default any free port, one
/// RS256 key `k1`, the resource `urn:procgate`). Waits until it answers.
pub fn start(key_dir: &Path, env: &[(&str, &str)]) -> OidcProvider {
    ensure_installed();
    let mut child = Command::new("node")
        .arg(provider_dir().join("provider.mjs"))
        .env("OIDC_PORT", "0")
        .env("OIDC_KEYS", "k1:RS256")
        .env("OIDC_RESOURCES", "urn:procgate")
        .envs(env.iter().copied())
        .env("OIDC_KEY_DIR", key_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run node ({e}): install nodejs and npm (apt-get install nodejs npm)")
        });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading what it prints, so a write never fails on a closed pipe.
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    let mut provider = OidcProvider { child, issuer: String::new(), port: 0 };
    let line = rx.recv_timeout(PATIENCE).expect("the provider did not start in time");
    let issuer = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("the provider did not start: {line:?} (its stderr is above)"));
    provider.issuer = issuer.to_owned();
    provider.port = issuer.rsplit(':').next().unwrap().parse().unwrap();
    provider
}
