//! A newcomer's first hour, as the binary meets it: a busy port is said before any store is
//! touched; `token` and `demo` find the secret the way `serve` does, and say what to do when
//! they cannot; the demo says when no server answers, or when the server is not the one whose
//! secret it holds.

use std::net::TcpListener;
use std::process::{Command, Output};

fn procgate(args: &[&str], data_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_procgate"))
        .args(args)
        .env_remove("PROCGATE_DATABASE_URL")
        .env_remove("PROCGATE_JWT_SECRET")
        .env_remove("PROCGATE_LISTEN")
        .env("PROCGATE_DATA_DIR", data_dir)
        .output()
        .expect("procgate runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `procgate demo` (one school, one check) with a secret in a fresh data directory, for the
/// server PROCGATE_LISTEN says is at `listen`.
fn demo_listening_at(listen: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwt-secret"), "a-secret-of-at-least-thirty-two-bytes-long")
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_procgate"))
        .args(["demo", "--checks", "1", "--schools", "1"])
        .env("PROCGATE_DATA_DIR", dir.path())
        .env("PROCGATE_LISTEN", listen)
        .env_remove("PROCGATE_JWT_SECRET")
        .output()
        .unwrap()
}

#[test]
fn serve_on_a_busy_port_says_so_before_creating_a_store() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = procgate(&["serve", "--listen", &address], &data_dir);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {address}")), "{err}");
    assert!(!data_dir.exists(), "the store was created before the port was checked");
}

#[test]
fn the_examples_placeholders_and_a_worker_count_of_nothing_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    // The example's JWT secret is published: a token signed with it would be anyone's.
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../procgate.env.example"),
    )
    .unwrap();
    let placeholder = example
        .lines()
        .find_map(|l| l.strip_prefix("PROCGATE_JWT_SECRET="))
        .expect("the example sets the secret");
    let out = Command::new(env!("CARGO_BIN_EXE_procgate"))
        .args(["token", "--role", "admin", "--subject", "me"])
        .env_remove("PROCGATE_DATABASE_URL")
        .env("PROCGATE_DATA_DIR", &data_dir)
        .env("PROCGATE_JWT_SECRET", placeholder)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a token was signed with the example's secret");
    assert!(stderr(&out).contains("still the example's placeholder"), "{}", stderr(&out));
    // No worker is no server: said, not a panic once the store is made.
    let out = procgate(&["serve", "--listen", &free, "--workers", "0"], &data_dir);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--workers"), "{}", stderr(&out));
    // Nothing to rebuild where there is no log: said, and no store is made there.
    let out = procgate(&["rebuild"], &data_dir);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("there is no log to rebuild"), "{}", stderr(&out));
    assert!(!data_dir.exists(), "a store or key was made");
}

#[test]
fn token_without_a_secret_names_the_file_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = procgate(&["token", "--role", "it_staff", "--subject", "me"], dir.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    let file = dir.path().join("jwt-secret");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains("PROCGATE_DATA_DIR"), "{err}");
}

#[test]
fn demo_without_a_server_says_to_start_one() {
    // A port nothing listens on: bound, then released.
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let out = demo_listening_at(&free);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("no procgate answers at http://{free}")), "{err}");
    assert!(err.contains("procgate serve"), "{err}");
}

#[test]
fn the_listen_address_is_reached_on_loopback_when_it_is_a_wildcard() {
    // The demo reads PROCGATE_LISTEN as serve does; `serve --listen 0.0.0.0:9000` is reached at
    // 127.0.0.1:9000. Checked through the message of a demo that finds nothing there.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = demo_listening_at(&format!("0.0.0.0:{port}"));
    let err = stderr(&out);
    assert!(err.contains(&format!("http://127.0.0.1:{port}")), "{err}");
}

#[test]
fn on_postgresql_serve_refuses_to_make_a_jwt_secret_of_its_own() {
    // Each instance would make its own and refuse every other's tokens.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(testkit::pg_database());
    let dir = tempfile::tempdir().unwrap();
    let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_procgate"))
        .args(["serve", "gate", "--listen", &free])
        .env_remove("PROCGATE_JWT_SECRET")
        .env_remove("PROCGATE_OIDC_ISSUER")
        .env_remove("PROCGATE_JWKS_URL")
        .env("PROCGATE_DATA_DIR", dir.path())
        .env("PROCGATE_DATABASE_URL", database.url())
        .env("PROCGATE_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve started without a shared secret");
    let err = stderr(&out);
    assert!(err.contains("PROCGATE_JWT_SECRET is not set: on PostgreSQL"), "{err}");
    assert!(!dir.path().join("jwt-secret").exists(), "a secret of its own was made");
}
