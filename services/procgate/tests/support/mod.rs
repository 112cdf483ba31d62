//! A real `procgate serve` for the console's tests: the binary on a free port of loopback,
//! with its own data directory, filled by `procgate demo`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

/// A throwaway PostgreSQL database for a server on `backend` (kept alive as long as the value),
/// or none for the embedded store.
pub async fn database_for(backend: testkit::Backend) -> Option<testkit::TestDatabase> {
    match backend {
        testkit::Backend::Postgres => Some(testkit::pg_database().await),
        testkit::Backend::Sqlite => None,
    }
}

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
        env.push(("PROCGATE_JWT_SECRET", JWT_SECRET));
        env.push(("PROCGATE_WEBHOOK_KEY", webhook_key));
        env.push(("PROCGATE_MASTER_KEY", MASTER_KEY));
    }
    env
}

/// The HS256 secret of a server on PostgreSQL, which generates none.
pub const JWT_SECRET: &str = "the-test-servers-jwt-secret-of-at-least-32-bytes";

/// A running all-in-one server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The one-time sign-in link it printed.
    pub link: String,
    pub data_dir: tempfile::TempDir,
    /// PROCGATE_JWT_SECRET as it was started with (else its data directory's).
    secret: Option<String>,
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
        let secret = env.iter().rev().find(|(k, _)| *k == "PROCGATE_JWT_SECRET");
        let secret = secret.map(|(_, v)| (*v).to_owned());
        let server = Self { url, link, data_dir, secret, _process: process };
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

    /// Runs `procgate ARGS` with the server's data directory and secret, and no identity
    /// provider or token from the environment; it must succeed.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_procgate"));
        command
            .args(args)
            .env("PROCGATE_DATA_DIR", self.data_dir.path())
            .env_remove("PROCGATE_JWT_SECRET")
            .env_remove("PROCGATE_OIDC_ISSUER")
            .env_remove("PROCGATE_TOKEN");
        if let Some(secret) = &self.secret {
            command.env("PROCGATE_JWT_SECRET", secret);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "procgate {} failed: {stderr}", args[0]);
        out
    }

    /// Fills it with a small district (`procgate demo`).
    pub fn demo(&self, schools: usize, checks: usize) {
        let (schools, checks) = (schools.to_string(), checks.to_string());
        self.run(&["demo", "--schools", &schools, "--checks", &checks, "--url", &self.url]);
    }

    /// A token for `subject` with `roles`, signed with the server's key.
    pub fn token(&self, subject: &str, roles: &[&str]) -> String {
        let mut args = vec!["token", "--subject", subject];
        for role in roles {
            args.extend(["--role", role]);
        }
        String::from_utf8(self.run(&args).stdout).unwrap().trim().to_owned()
    }
}

/// The server's API as one person: their bearer token on every request.
pub struct Api {
    pub client: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Api {
    /// A client of `server`'s API with `token`.
    pub fn new(server: &Server, token: String) -> Self {
        Self { client: reqwest::Client::new(), url: server.url.clone(), token }
    }

    /// `METHOD path`, with `body` as JSON when given: the status and the answer's text.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, String) {
        let mut request =
            self.client.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// `GET path`, which must answer 200: the answer's text.
    pub async fn text(&self, path: &str) -> String {
        let (status, text) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {text}");
        text
    }

    /// `GET path`, which must answer 200, as JSON.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.text(path).await).unwrap()
    }

    /// The array `field` of `GET path`.
    pub async fn list(&self, path: &str, field: &str) -> Vec<serde_json::Value> {
        let page = self.json(path).await;
        page[field].as_array().unwrap_or_else(|| panic!("{path}: {page}")).clone()
    }
}
