//! Test support: a throwaway PostgreSQL database per test, in the manner of crates.io's
//! `crates_io_test_db`, a throwaway directory for an embedded (SQLite) store, and HTTP answers
//! read whole ([`http::Reply`]).
//!
//! The event log's migrations run **once per migration content** into a template database,
//! `procgate_tpl_<hash>`, whose name carries a short hash of
//! [`eventlog::postgres::MIGRATIONS_FINGERPRINT`]. Every [`pg_database`] is then a
//! `CREATE DATABASE test_<random> TEMPLATE procgate_tpl_<hash>` (milliseconds), dropped
//! `WITH (FORCE)` when the [`TestDatabase`] goes out of scope.
//!
//! The server is the one `PROCGATE_TEST_DATABASE_URL` names (an admin URL: databases are
//! created through it), else `DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/postgres`.
//! `scripts/test` finds or starts a server and sets the variable, so run the tests with it.
//! Set `PROCGATE_TEST_KEEP_DB=1` to keep test databases after the test, for a look inside.
//!
//! Many test processes may start at once (nextest runs each test in its own process): the
//! template is checked and built under a PostgreSQL advisory lock, built as
//! `procgate_tpl_<hash>_building` and renamed and marked a template only once migrated, so a
//! half-built template is never cloned.
//!
//! ```no_run
//! # async fn example() {
//! let db = testkit::pg_database().await;
//! let client = db.connect().await;
//! client.batch_execute("SELECT 1").await.unwrap();
//! // `db.url()` is what a store or a service under test connects to.
//! # }
//! ```

pub mod http;
pub mod oidc;
mod store;

pub use store::{Backend, TestStore};

/// Serves `services` on a free port of 127.0.0.1 (always ready, with `workers` HTTP workers):
/// its base URL and the server's handle. Call it inside a Tokio runtime.
pub fn serve(
    services: Vec<std::sync::Arc<dyn web::Service>>,
    workers: usize,
) -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app =
        web::Application::build(listener, services, web::always_ready(), Some(workers)).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    (base, handle)
}

/// Asks `check` every `every` until it answers `Ok`, and returns that; once `within` has passed,
/// panics with what it last saw (its `Err`). For what a test waits on: deliveries, e-mails, a
/// record the service writes in the background.
pub async fn eventually<T>(
    within: Duration,
    every: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(done) => return done,
            Err(seen) => assert!(tokio::time::Instant::now() < deadline, "{seen}"),
        }
        tokio::time::sleep(every).await;
    }
}

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, NoTls};

/// The server used when neither `PROCGATE_TEST_DATABASE_URL` nor `DATABASE_URL` is set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Session advisory lock held (on the admin database) while the template is checked and built.
const TEMPLATE_LOCK: i64 = 0x7072_6f63_6761_7465; // "procgate"

/// How long a connection attempt may take before the server counts as not answering.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long dropping a test database may take before we give up with a warning.
const DROP_TIMEOUT: Duration = Duration::from_secs(60);

/// Templates this process already knows to be ready, keyed by admin URL and template name.
static READY: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A database that exists for one test and is dropped (`WITH (FORCE)`) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// A connection URL for this database (same server and credentials as the admin URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (`test_<random>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh connection to this database; its connection task runs on the current runtime.
    pub async fn connect(&self) -> Client {
        connect(&self.url).await.unwrap_or_else(|e| {
            panic!("testkit: cannot connect to test database {}: {e}", self.name)
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var_os("PROCGATE_TEST_KEEP_DB").is_some_and(|v| !v.is_empty() && v != "0") {
            eprintln!("testkit: keeping test database {} (PROCGATE_TEST_KEEP_DB)", self.url);
            return;
        }
        // Drop is synchronous and may run inside (or outside) any runtime: do the work on a
        // thread of our own with its own runtime, and wait for it.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let spawned = std::thread::Builder::new().name("testkit-drop-db".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            runtime.block_on(async {
                tokio::time::timeout(DROP_TIMEOUT, drop_database(&admin_url, &name))
                    .await
                    .unwrap_or_else(|_| Err(format!("timed out after {DROP_TIMEOUT:?}")))
            })
        });
        let outcome = match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| Err("the drop thread panicked".into())),
            Err(e) => Err(format!("cannot spawn a thread: {e}")),
        };
        if let Err(e) = outcome {
            eprintln!("testkit: warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// A fresh database cloned from the migrated template: the event log's schema, no events.
///
/// Panics (this is test code) when no PostgreSQL server answers or the template cannot be
/// built; the message says how to get a server.
pub async fn pg_database() -> TestDatabase {
    let admin_url = admin_url();
    let template = template_name(eventlog::postgres::MIGRATIONS_FINGERPRINT);
    let admin = connect_admin(&admin_url).await;
    let key = format!("{admin_url}\n{template}");
    if !READY.lock().unwrap_or_else(|e| e.into_inner()).contains(&key) {
        ensure_template(&admin, &admin_url, &template, migrate_event_log)
            .await
            .unwrap_or_else(|e| panic!("testkit: cannot build template {template}: {e}"));
        READY.lock().unwrap_or_else(|e| e.into_inner()).push(key);
    }
    create_database(&admin, &admin_url, &template).await
}

/// A fresh, empty database (cloned from `template0`): for tests of the migrations themselves.
///
/// Panics like [`pg_database`].
pub async fn empty_pg_database() -> TestDatabase {
    let admin_url = admin_url();
    let admin = connect_admin(&admin_url).await;
    create_database(&admin, &admin_url, "template0").await
}

/// A path for an embedded store's file inside a fresh temporary directory. The directory, and
/// everything in it, is deleted when the guard (the first element) is dropped: keep it alive.
pub fn sqlite_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("procgate-test-")
        .tempdir()
        .expect("testkit: cannot create a temporary directory");
    let path = dir.path().join("events.sqlite3");
    (dir, path)
}

/// The admin URL tests create databases through: `PROCGATE_TEST_DATABASE_URL`, else
/// `DATABASE_URL`, else [`DEFAULT_ADMIN_URL`].
pub fn admin_url() -> String {
    ["PROCGATE_TEST_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// The template's name for a migrations fingerprint: `procgate_tpl_` and 12 hex digits.
fn template_name(fingerprint: &str) -> String {
    let digest = hex::encode(Sha256::digest(fingerprint.as_bytes()));
    format!("procgate_tpl_{}", &digest[..12])
}

type MigrateFn = for<'a> fn(&'a mut Client) -> BoxFuture<'a, Result<(), String>>;
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn migrate_event_log(client: &mut Client) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move { eventlog::postgres::migrate(client).await.map_err(|e| e.to_string()) })
}

/// Makes sure the template `name` exists, migrated by `migrate`. Safe to call from many
/// processes at once: the check and the build happen under an advisory lock, and the template
/// only gets its final name (and `IS_TEMPLATE`) once fully migrated.
async fn ensure_template(
    admin: &Client,
    admin_url: &str,
    name: &str,
    migrate: MigrateFn,
) -> Result<(), String> {
    let sql_err = |what: &str| {
        let what = what.to_owned();
        move |e: tokio_postgres::Error| format!("{what}: {}", describe(&e))
    };
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
        .await
        .map_err(sql_err("taking the template lock"))?;
    let outcome = build_template_if_missing(admin, admin_url, name, migrate).await;
    // On failure the lock also goes with the session; unlock anyway for a caller that goes on.
    let unlocked = admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
        .await
        .map_err(sql_err("releasing the template lock"));
    outcome.and(unlocked.map(|_| ()))
}

async fn build_template_if_missing(
    admin: &Client,
    admin_url: &str,
    name: &str,
    migrate: MigrateFn,
) -> Result<(), String> {
    let ready: bool = admin
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)",
            &[&name],
        )
        .await
        .map_err(|e| format!("looking for the template: {}", describe(&e)))?
        .get(0);
    if ready {
        return Ok(());
    }
    let building = format!("{name}_building");
    // Leftovers of a build that died half-way (we hold the lock: nobody else is building).
    execute(admin, format!(r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#)).await?;
    execute(admin, format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).await?;
    execute(admin, format!(r#"CREATE DATABASE "{building}" TEMPLATE template0"#)).await?;
    {
        let url = database_url(admin_url, &building);
        let mut client =
            connect(&url).await.map_err(|e| format!("connecting to {building}: {e}"))?;
        migrate(&mut client).await.map_err(|e| format!("migrating {building}: {e}"))?;
        // Disconnected before the rename: a template must have no sessions.
    }
    execute(
        admin,
        format!(
            r#"BEGIN;
           ALTER DATABASE "{building}" RENAME TO "{name}";
           ALTER DATABASE "{name}" IS_TEMPLATE true;
           COMMIT"#
        ),
    )
    .await
}

async fn execute(client: &Client, sql: String) -> Result<(), String> {
    client.batch_execute(&sql).await.map_err(|e| format!("{sql}: {}", describe(&e)))
}

async fn create_database(admin: &Client, admin_url: &str, template: &str) -> TestDatabase {
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let sql = format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#);
    admin.batch_execute(&sql).await.unwrap_or_else(|e| panic!("testkit: {sql}: {}", describe(&e)));
    TestDatabase { url: database_url(admin_url, &name), name, admin_url: admin_url.to_owned() }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let admin = connect(admin_url).await?;
    admin
        .batch_execute(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
        .await
        .map_err(|e| describe(&e))
}

/// Connects to the admin database, or panics saying how to get a server.
async fn connect_admin(admin_url: &str) -> Client {
    connect(admin_url).await.unwrap_or_else(|e| {
        panic!(
            "testkit: no PostgreSQL server answers at {} ({e}).\n\
             Run the tests with `scripts/test`, which finds or starts a server and sets \
             PROCGATE_TEST_DATABASE_URL; or point PROCGATE_TEST_DATABASE_URL at a server you \
             run (an admin URL: tests create and drop databases through it).",
            redact(admin_url)
        )
    })
}

/// Connects without TLS and spawns the connection task on the current runtime.
async fn connect(url: &str) -> Result<Client, String> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| format!("bad database URL {}: {e}", redact(url)))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) = config.connect(NoTls).await.map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("testkit: connection error: {}", describe(&e));
        }
    });
    Ok(client)
}

/// The same server and credentials as `admin_url`, with another database.
fn database_url(admin_url: &str, dbname: &str) -> String {
    let trimmed = admin_url.trim();
    match trimmed.split_once("://") {
        Some((scheme, rest)) => {
            // authority ends at the first '/' or '?'; the path is the database; keep the query.
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let query = tail.find('?').map_or("", |q| &tail[q..]);
            format!("{scheme}://{authority}/{dbname}{query}")
        }
        // key=value form: a later key wins.
        None => format!("{trimmed} dbname={dbname}"),
    }
}

/// The URL with any password hidden, for messages.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            return format!("{scheme}://{}:***{}", &rest[..colon], &rest[at..]);
        }
        return url.to_owned();
    }
    url.split_whitespace()
        .map(|kv| if kv.starts_with("password=") { "password=***" } else { kv })
        .collect::<Vec<_>>()
        .join(" ")
}

/// tokio-postgres's `Display` for a server error is just "db error": include the server's text.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn database_url_replaces_only_the_database() {
        assert_eq!(
            database_url("postgres://u:p@h:5433/postgres?sslmode=disable", "test_x"),
            "postgres://u:p@h:5433/test_x?sslmode=disable"
        );
        assert_eq!(database_url("postgresql://h", "d"), "postgresql://h/d");
        assert_eq!(database_url("postgres://h?host=/tmp/s", "d"), "postgres://h/d?host=/tmp/s");
        assert_eq!(database_url("host=h user=u dbname=x", "d"), "host=h user=u dbname=x dbname=d");
        let parsed: tokio_postgres::Config = database_url("host=h dbname=x", "d").parse().unwrap();
        assert_eq!(parsed.get_dbname(), Some("d"));
    }

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("host=h password=secret"), "host=h password=***");
    }

    #[test]
    fn template_name_follows_the_fingerprint() {
        let a = template_name("v1:abc");
        assert_eq!(a, template_name("v1:abc"));
        assert_ne!(a, template_name("v1:abd"));
        assert!(a.len() < 63 - "_building".len(), "PostgreSQL names are at most 63 bytes");
    }

    #[tokio::test]
    #[should_panic(expected = "scripts/test")]
    async fn an_absent_server_says_how_to_get_one() {
        // Port 1 on loopback: nothing listens there.
        connect_admin("postgres://postgres@127.0.0.1:1/postgres").await;
    }

    static MIGRATIONS_RUN: AtomicUsize = AtomicUsize::new(0);

    fn slow_migration(client: &mut Client) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            MIGRATIONS_RUN.fetch_add(1, Ordering::SeqCst);
            // Slow enough that every racer arrives while the template is being built.
            tokio::time::sleep(Duration::from_millis(300)).await;
            client.batch_execute("CREATE TABLE marker (id int)").await.map_err(|e| describe(&e))
        })
    }

    /// Several sessions (as several processes would) race to build the same template.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_builders_migrate_the_template_once() {
        let admin_url = admin_url();
        let name = template_name(&format!("race-{}", uuid::Uuid::new_v4()));
        let mut racers = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            racers.spawn(async move {
                let admin = connect_admin(&admin_url).await;
                ensure_template(&admin, &admin_url, &name, slow_migration).await
            });
        }
        let outcomes = racers.join_all().await;

        let admin = connect_admin(&admin_url).await;
        let clone = create_database(&admin, &admin_url, &name).await;
        let has_marker: bool = clone
            .connect()
            .await
            .query_one("SELECT to_regclass('marker') IS NOT NULL", &[])
            .await
            .unwrap()
            .get(0);
        drop(clone);
        let leftovers: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&format!("{name}_building")],
            )
            .await
            .unwrap()
            .get(0);
        // Clean up before asserting, so a failure leaves nothing behind.
        // (Two calls: a multi-statement batch is one transaction, and DROP DATABASE refuses one.)
        execute(&admin, format!(r#"ALTER DATABASE "{name}" IS_TEMPLATE false"#)).await.unwrap();
        execute(&admin, format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#)).await.unwrap();

        for outcome in outcomes {
            outcome.unwrap();
        }
        assert_eq!(MIGRATIONS_RUN.load(Ordering::SeqCst), 1, "migrated more than once");
        assert!(has_marker, "a clone of the template lacks the migrated table");
        assert_eq!(leftovers, 0, "the _building database was left behind");
    }
}
