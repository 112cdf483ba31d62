//! The event log's throughput, beside a plain single-row INSERT measured in the same run.
//!
//! `cargo bench -p eventlog --bench append` against the PostgreSQL that
//! `PROCGATE_BENCH_DATABASE_URL` (or `DATABASE_URL`) names, else 127.0.0.1:5432. It creates
//! and drops its own database. `BENCH_SECONDS` sets each measurement's length (default 3).
//!
//! For 1, 4, 16 and 64 concurrent writers it measures single-event appends per second through
//! the store and plain INSERTs per second into a table of the same shape (`LIKE events
//! INCLUDING ALL`: the same columns, constraints and indexes, the position from an identity
//! column), each writer on its own stream,
//! and prints the store as a percentage of the plain INSERT; then 16 writers spread over two
//! stores on the same database (two service instances), against the plain INSERT at 16. Then
//! it reads the whole log back
//! (events/s), and measures single-event appends on the embedded SQLite store against plain
//! single-row INSERTs into a SQLite table of the same shape, 1 to 64 writers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use eventlog::{
    Actor, EventStore, ExpectedVersion, Filter, Metadata, NewEvent, PgOptions, PgStore,
    SqliteStore, StreamName,
};
use serde_json::json;
use tokio_postgres::NoTls;
use uuid::Uuid;

const LEVELS: [usize; 4] = [1, 4, 16, 64];

fn admin_url() -> String {
    std::env::var("PROCGATE_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn seconds() -> Duration {
    let s = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    Duration::from_secs_f64(s)
}

fn sample_event(writer: usize, n: u64) -> NewEvent {
    NewEvent::new(
        "purchase-submitted",
        json!({
            "school_id": "lincoln-elem",
            "vendor": "Acme Computers",
            "lines": [{ "sku": "LAP-14", "quantity": 2, "unit_price": "499.00" }],
            "writer": writer,
            "n": n,
        }),
        Metadata::new(Actor::new("finance-system", "finance"), "bench"),
    )
}

/// Runs `writers` tasks calling `op(writer, n)` until the time is up; returns operations/s.
async fn measure<F, Fut>(writers: usize, op: F) -> f64
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + seconds();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (op, done) = (op.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    op(w, n).await;
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a writer failed");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn pool(url: &str, size: usize) -> Pool {
    let config: tokio_postgres::Config = url.parse().expect("database URL");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    Pool::builder(manager).max_size(size).build().expect("pool")
}

async fn plain_inserts(url: &str, writers: usize, run: u64) -> f64 {
    let pool = pool(url, writers);
    let metadata =
        serde_json::to_value(Metadata::new(Actor::new("finance-system", "finance"), "bench"))
            .unwrap();
    let sql = "INSERT INTO plain_events (event_id, stream, category, version, event_type, data, \
               metadata, recorded_at, hash, chain) VALUES ($1, $2, 'plain', $3, $4, $5, $6, $7, $8, $8)";
    measure(writers, move |w, n| {
        let (pool, metadata) = (pool.clone(), metadata.clone());
        async move {
            let client = pool.get().await.expect("connection");
            let stmt = client.prepare_cached(sql).await.expect("prepare");
            let e = sample_event(w, n);
            let stream = format!("plain-{run}x{w}");
            client
                .execute(
                    &stmt,
                    &[
                        &e.id,
                        &stream,
                        &(n as i64),
                        &e.event_type,
                        &e.data,
                        &metadata,
                        &Utc::now(),
                        &vec![0u8; 32],
                    ],
                )
                .await
                .expect("insert");
        }
    })
    .await
}

/// Appends through `stores`, writer `w` through store `w % stores.len()`.
async fn store_appends(stores: Vec<Arc<dyn EventStore>>, writers: usize, run: u64) -> f64 {
    measure(writers, move |w, n| {
        let store = stores[w % stores.len()].clone();
        async move {
            let stream = StreamName::new(format!("bench-{run}x{w}")).unwrap();
            store
                .append(&stream, ExpectedVersion::Any, vec![sample_event(w, n)])
                .await
                .expect("append");
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let admin = admin_url();
    let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.unwrap_or_else(|e| {
        eprintln!("cannot reach PostgreSQL at {admin}: {e}\nset PROCGATE_BENCH_DATABASE_URL");
        std::process::exit(2);
    });
    tokio::spawn(conn);
    let name = format!("procgate_bench_{}", Uuid::new_v4().simple());
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let mut config: tokio_postgres::Config = admin.parse().unwrap();
    config.dbname(&name);
    let url = format!(
        "postgres://{}@{}:{}/{name}",
        config.get_user().unwrap_or("postgres"),
        match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        },
        config.get_ports().first().copied().unwrap_or(5432),
    );

    let outcome = run(&url).await;
    client.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    outcome.unwrap();
}

async fn run(url: &str) -> anyhow::Result<()> {
    // Migrate, and make the plain table the same shape as the log's.
    let store = PgStore::connect(url, PgOptions { pool_size: 4, migrate: true }).await?;
    store
        .pool()
        .get()
        .await?
        .batch_execute(
            "CREATE TABLE plain_events (LIKE events INCLUDING ALL); \
             ALTER TABLE plain_events ALTER position ADD GENERATED ALWAYS AS IDENTITY",
        )
        .await?;
    drop(store);

    println!(
        "PostgreSQL appends, single-event, each writer on its own stream ({:?} each):",
        seconds()
    );
    println!(
        "{:>8} {:>16} {:>16} {:>10}",
        "writers", "plain INSERT/s", "store append/s", "store %"
    );
    let mut plain_at_16 = 0.0;
    for (run, writers) in LEVELS.into_iter().enumerate() {
        let plain = plain_inserts(url, writers, run as u64).await;
        let store: Arc<dyn EventStore> = Arc::new(
            PgStore::connect(url, PgOptions { pool_size: writers + 2, migrate: false }).await?,
        );
        let appended = store_appends(vec![store], writers, run as u64).await;
        println!("{writers:>8} {plain:>16.0} {appended:>16.0} {:>9.0}%", 100.0 * appended / plain);
        if writers == 16 {
            plain_at_16 = plain;
        }
    }
    // Two stores on the same database stand for two service instances: their batches
    // interleave, so each often finds the head moved by the other.
    let mut stores: Vec<Arc<dyn EventStore>> = Vec::new();
    for _ in 0..2 {
        let options = PgOptions { pool_size: 10, migrate: false };
        stores.push(Arc::new(PgStore::connect(url, options).await?));
    }
    let appended = store_appends(stores, 16, 50).await;
    println!(
        "{:>8} {plain_at_16:>16.0} {appended:>16.0} {:>9.0}%   (2 stores, 8 writers each)",
        "2x8",
        100.0 * appended / plain_at_16
    );

    let store = PgStore::connect(url, PgOptions { pool_size: 4, migrate: false }).await?;
    let head = store.head().await?;
    let start = Instant::now();
    let mut after = 0;
    let mut read = 0u64;
    loop {
        let page = store.read_all(after, &Filter::all(), 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
    }
    let rate = read as f64 / start.elapsed().as_secs_f64();
    println!(
        "\nPostgreSQL read_all, pages of 1000: {read} events ({head} in the log) at {rate:.0} events/s"
    );
    let start = Instant::now();
    let v = store.verify(1, None, &|_| {}).await?;
    println!(
        "PostgreSQL verify: {} events at {:.0} events/s (ok: {})",
        v.checked,
        v.checked as f64 / start.elapsed().as_secs_f64(),
        v.ok
    );

    let dir = tempfile::tempdir()?;
    println!(
        "\nSQLite (WAL, synchronous=FULL), single-event appends against plain single-row \
         INSERTs into a table of the same shape in the same file:"
    );
    println!("{:>8} {:>16} {:>16} {:>8}", "writers", "plain INSERT/s", "store append/s", "store %");
    let path = dir.path().join("bench.sqlite3");
    for writers in LEVELS {
        let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(&path).await?);
        let plain = sqlite_plain_inserts(&path, writers, 100 + writers as u64).await;
        let rate = store_appends(vec![store], writers, 100 + writers as u64).await;
        println!("{writers:>8} {plain:>16.0} {rate:>16.0} {:>7.0}%", 100.0 * rate / plain.max(1.0));
    }
    Ok(())
}

/// Plain single-row INSERTs into `plain_events`, a table made like the store's `events` (its
/// columns, constraints and indexes) in the store's file, each in its own transaction, with
/// the store's settings (WAL, `synchronous=FULL`): `writers` tasks share the one connection a
/// SQLite file allows a writer, as the store's writer thread does.
async fn sqlite_plain_inserts(path: &std::path::Path, writers: usize, run: u64) -> f64 {
    let conn = rusqlite::Connection::open(path).expect("the bench file");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    let ddl: Vec<String> = conn
        .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    conn.execute_batch("DROP TABLE IF EXISTS plain_events").unwrap();
    for statement in ddl {
        let statement = statement
            .replacen("TABLE events", "TABLE plain_events", 1)
            .replace(" ON events", " ON plain_events")
            .replacen("INDEX ", "INDEX plain_", 1);
        conn.execute_batch(&statement).unwrap();
    }
    let metadata =
        serde_json::to_string(&Metadata::new(Actor::new("finance-system", "finance"), "bench"))
            .unwrap();
    let conn = Arc::new(std::sync::Mutex::new((conn, 0u64)));
    measure(writers, move |w, n| {
        let (conn, metadata) = (conn.clone(), metadata.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let mut guard = conn.lock().unwrap();
                guard.1 += 1;
                let (c, position) = (&guard.0, guard.1);
                let e = sample_event(w, n);
                c.prepare_cached(
                    "INSERT INTO plain_events (position, event_id, stream, category, version, \
                     event_type, data, metadata, recorded_at, hash, chain) \
                     VALUES (?1, ?2, ?3, 'plain', ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                )
                .unwrap()
                .execute(rusqlite::params![
                    position,
                    e.id.to_string(),
                    format!("plain-{run}x{w}"),
                    n,
                    e.event_type,
                    e.data.to_string(),
                    metadata,
                    Utc::now().to_rfc3339(),
                    [0u8; 32].as_slice(),
                ])
                .unwrap();
            })
            .await
            .unwrap();
        }
    })
    .await
}
