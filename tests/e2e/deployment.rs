//! The real `procgate` binary, run as separate processes: the deployments the story runs in.
//!
//! The binary is `target/<profile>/procgate`, next to this test's executable
//! (`target/<profile>/deps/e2e-…`); when it is missing it is built first with
//! `cargo build -p procgate --bin procgate` in the same profile. Every process gets a fixed
//! HS256 secret, its own free port (`PROCGATE_LISTEN`) and the store (a temporary
//! `PROCGATE_DATA_DIR`, or `PROCGATE_DATABASE_URL`), and none of the caller's other `PROCGATE_`
//! settings. Its output goes to a log file, printed when the test fails. A process is killed
//! (and waited for) when its [`Server`] is dropped, so a failing test leaves nothing running.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The HS256 secret every process checks tokens with (at least 32 bytes).
pub const SECRET: &str = "procgate-e2e-secret-for-tests-only-0123456789";

/// How long a process may take to answer `/health/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process may take to stop after SIGTERM before it is killed: longer than the
/// server's shutdown timeout (`web::server::SHUTDOWN_TIMEOUT_SECS`), which bounds how long a
/// live stream (`GET /v1/events/live`) may hold up a graceful stop.
const STOP_GRACE: Duration = Duration::from_secs(8);

/// One deployment of procgate: where each service answers, and how to stop it.
#[derive(Debug)]
pub struct Deployment {
    /// `all-in-one (embedded)` or `three services (PostgreSQL)`.
    pub name: &'static str,
    pub gate: String,
    pub stakeholders: String,
    pub reporting: String,
    // Dropped in this order: the processes first, then the database and the directory.
    servers: Vec<Server>,
    store_env: Vec<(&'static str, String)>,
    _database: Option<testkit::TestDatabase>,
    _dir: tempfile::TempDir,
}

impl Deployment {
    /// (a) `procgate serve`: the three services in one process, on the embedded store in a
    /// temporary data directory.
    pub async fn all_in_one_embedded() -> Self {
        let dir = temp_dir();
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("create the data directory");
        let store_env = vec![("PROCGATE_DATA_DIR", data_dir.display().to_string())];
        let mut server = Server::spawn("all-in-one", &["serve"], &store_env, dir.path());
        server.wait_ready().await;
        let url = server.url.clone();
        Self {
            name: "all-in-one (embedded)",
            gate: url.clone(),
            stakeholders: url.clone(),
            reporting: url,
            servers: vec![server],
            store_env,
            _database: None,
            _dir: dir,
        }
    }

    /// (b) `procgate serve gate`, `procgate serve stakeholders` and `procgate serve reporting`:
    /// three processes, each on its own port, sharing one PostgreSQL database.
    pub async fn three_services_on_postgres() -> Self {
        let dir = temp_dir();
        let database = testkit::pg_database().await;
        let store_env = vec![
            ("PROCGATE_DATABASE_URL", database.url().to_owned()),
            // Several instances sign webhooks alike: one key for all.
            ("PROCGATE_WEBHOOK_KEY", "the-e2e-deployment-webhook-key-of-48-bytes!!!!!".to_owned()),
            // And open personal data alike.
            ("PROCGATE_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned()),
            // Never used with a database URL; set so that nothing lands in the working directory.
            ("PROCGATE_DATA_DIR", dir.path().join("data").display().to_string()),
        ];
        let mut servers: Vec<Server> = ["gate", "stakeholders", "reporting"]
            .into_iter()
            .map(|name| Server::spawn(name, &["serve", name], &store_env, dir.path()))
            .collect();
        for server in &mut servers {
            server.wait_ready().await;
        }
        Self {
            name: "three services (PostgreSQL)",
            gate: servers[0].url.clone(),
            stakeholders: servers[1].url.clone(),
            reporting: servers[2].url.clone(),
            servers,
            store_env,
            _database: Some(database),
            _dir: dir,
        }
    }

    /// Whether each service runs in a process of its own.
    pub fn separate(&self) -> bool {
        self.servers.len() > 1
    }

    /// Stops every process: SIGTERM, and SIGKILL for those still running after [`STOP_GRACE`].
    /// A process that exits by itself must exit successfully. Returns the names of the
    /// processes that had to be killed.
    pub async fn stop(&mut self) -> Vec<String> {
        let mut killed = Vec::new();
        for server in &mut self.servers {
            match server.stop().await {
                Stopped::Exited(status) => assert!(
                    status.success(),
                    "{} did not stop cleanly after SIGTERM: {status}\n{}",
                    server.name,
                    server.log_tail()
                ),
                Stopped::Killed => killed.push(server.name.clone()),
            }
        }
        killed
    }

    /// Runs `procgate ARGS` as a command on this deployment's store, and waits for it.
    pub async fn procgate(&self, args: &[&str]) -> Output {
        self.procgate_with(args, &[]).await
    }

    /// `procgate ARGS` as [`Deployment::procgate`], with `env` set on top.
    pub async fn procgate_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = procgate_command(&self.store_env);
        command.envs(env.iter().copied()).args(args).stdin(Stdio::null());
        let shown = format!("procgate {}", args.join(" "));
        tokio::task::spawn_blocking(move || {
            command.output().unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
        })
        .await
        .expect("the command's thread")
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("procgate-e2e-").tempdir().expect("a temporary directory")
}

/// A port nobody listens on now: bound, read, released.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// `procgate` with the store settings, and none of the caller's other `PROCGATE_` settings.
fn procgate_command(store_env: &[(&'static str, String)]) -> Command {
    let mut command = Command::new(binary());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PROCGATE_") {
            command.env_remove(key);
        }
    }
    command.env("PROCGATE_JWT_SECRET", SECRET);
    for (key, value) in store_env {
        command.env(key, value);
    }
    command
}

/// How a process ended.
#[derive(Debug)]
enum Stopped {
    /// By itself, after SIGTERM.
    Exited(ExitStatus),
    /// Still running after the grace: killed.
    Killed,
}

/// One running `procgate serve …` process.
#[derive(Debug)]
struct Server {
    name: String,
    args: Vec<String>,
    store_env: Vec<(&'static str, String)>,
    url: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    /// Starts `procgate ARGS` on a free port, logging to `dir/NAME.log`.
    fn spawn(name: &str, args: &[&str], store_env: &[(&'static str, String)], dir: &Path) -> Self {
        let mut server = Self {
            name: name.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            store_env: store_env.to_vec(),
            url: String::new(),
            child: None,
            log: dir.join(format!("{name}.log")),
        };
        server.start();
        server
    }

    fn start(&mut self) {
        let port = free_port();
        let out = File::create(&self.log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let child = procgate_command(&self.store_env)
            .args(&self.args)
            .env("PROCGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("PROCGATE_WORKERS", "2")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start procgate {}: {e}", self.args.join(" ")));
        self.url = format!("http://127.0.0.1:{port}");
        self.child = Some(child);
    }

    /// Waits until `/health/ready` answers 200 (the store answers). A process that could not
    /// listen (another one took the port between its release and the start) is started again
    /// on another port.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        let started = Instant::now();
        let mut attempts = 1;
        loop {
            let child = self.child.as_mut().expect("a running process");
            if let Some(status) = child.try_wait().expect("the process's status") {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                if log.contains("cannot listen on") && attempts < 3 {
                    attempts += 1;
                    self.start();
                    continue;
                }
                panic!("{} exited ({status}) before it was ready:\n{}", self.name, self.log_tail());
            }
            let answer = http.get(format!("{}/health/ready", self.url)).send().await;
            if answer.is_ok_and(|a| a.status() == reqwest::StatusCode::OK) {
                return;
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "{} was not ready within {READY_TIMEOUT:?}:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM (a graceful stop), then SIGKILL if it takes longer than [`STOP_GRACE`].
    async fn stop(&mut self) -> Stopped {
        let mut child = self.child.take().expect("a running process");
        let terminated = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if terminated {
            let started = Instant::now();
            while started.elapsed() < STOP_GRACE {
                if let Some(status) = child.try_wait().expect("the process's status") {
                    return Stopped::Exited(status);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let _ = child.kill();
        child.wait().expect("wait for the process");
        Stopped::Killed
    }

    /// The end of the process's log, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        format!("--- the last lines of {} ({}) ---\n{tail}\n---", self.name, self.log.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}

/// The `procgate` binary next to this test's executable, built first if it is missing.
fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/e2e-… → target/<profile>
        let deps = exe.parent().expect("the test executable's directory");
        let profile_dir = if deps.ends_with("deps") { deps.parent().unwrap_or(deps) } else { deps };
        let binary = profile_dir.join(format!("procgate{}", std::env::consts::EXE_SUFFIX));
        if !binary.exists() {
            build(profile_dir);
            assert!(
                binary.exists(),
                "`cargo build -p procgate` succeeded but {} is still missing",
                binary.display()
            );
        }
        binary
    })
}

/// `cargo build -p procgate --bin procgate` in the profile of `profile_dir`.
fn build(profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let profile = profile_dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
    let mut command = Command::new(cargo);
    command
        .args(["build", "-p", "procgate", "--bin", "procgate"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    eprintln!(
        "e2e: {} is missing; building it ({command:?})",
        profile_dir.join("procgate").display()
    );
    let status = command.status().expect("run cargo");
    assert!(status.success(), "building procgate failed: {status}");
}
