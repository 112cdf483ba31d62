//! Load generator for the gate: purchase checks per second and their latency at a fixed
//! concurrency, beside the same server's `/health/live` measured in the same run.
//!
//! `cargo bench -p procgate --bench load` starts the gate in this process on a fresh
//! PostgreSQL database (`PROCGATE_BENCH_DATABASE_URL`, else `DATABASE_URL`, else
//! 127.0.0.1:5432; created and dropped here), sets up a catalog, a policy and schools through
//! the API, then runs, each for `LOAD_SECONDS` (default 5) and at most `LOAD_MAX_REQUESTS`
//! (default 200,000):
//!
//! 1. `GET /health/live`, closed loop at `LOAD_CONCURRENCY` (default 16): the baseline;
//! 2. `POST /v1/purchase-checks`, closed loop at the same concurrency: the most it serves;
//! 3. `POST /v1/purchase-checks`, open loop at `LOAD_RATE` per second (default 1000): latency
//!    at that rate, counted from when each request was due, so queueing is not hidden.
//!
//! It does so three times in one sitting, each on a fresh log: on PostgreSQL as stored, then
//! with personal data sealed as `procgate serve` opens it (`kernel::privacy`), then on the
//! embedded store (SQLite in a temporary directory, sealed: `procgate serve`'s default), and
//! prints the ratios between them (checks carry no sealed field: the sealed store only looks
//! their type up).
//!
//! With `PROCGATE_LOAD_URL` (and `PROCGATE_LOAD_FINANCE_TOKEN`, `PROCGATE_LOAD_IT_TOKEN`) it
//! drives a server already running instead. Only loopback addresses are accepted.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth::{AuthConfig, Issuer, Role, Verifier};
use serde_json::{Value, json};

/// The allocator `procgate` runs with (`src/main.rs`): the bench measures the gate as it serves.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Target {
    base: String,
    finance: String,
    it: String,
    client: reqwest::Client,
}

/// Latencies, in microseconds.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn percentile(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i] as f64 / 1000.0
    }
}

struct Run {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Samples,
}

impl Run {
    fn print(&mut self, name: &str) -> (f64, f64) {
        let rate = self.requests as f64 / self.elapsed.as_secs_f64();
        let (p50, p99) = (self.latencies.percentile(0.50), self.latencies.percentile(0.99));
        println!(
            "{name:<34} {rate:>9.0}/s  p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  ({} requests, {} errors)",
            self.requests, self.errors
        );
        (rate, p99)
    }
}

fn check_body(n: u64) -> Value {
    // A mix: supported laptops at a gated school (approved), unknown gadgets at a gated school
    // (held), unknown gadgets at an ungated school (advisory), paper (not technology).
    let (school, line) = match n % 4 {
        0 => (
            "gated-elem",
            json!({"sku": "LAP-14", "description": "Laptop", "category": "laptops", "quantity": 2, "unit_price": "899.00"}),
        ),
        1 => (
            "gated-elem",
            json!({"description": "Gadget", "category": "laptops", "quantity": 1, "unit_price": "350.00"}),
        ),
        2 => (
            "open-middle",
            json!({"description": "Gadget", "category": "laptops", "quantity": 1, "unit_price": "350.00"}),
        ),
        _ => (
            "open-middle",
            json!({"description": "Paper", "category": "supplies", "quantity": 10, "unit_price": "4.50"}),
        ),
    };
    json!({
        "external_ref": format!("load-{}-{n}", std::process::id()),
        "school_id": school,
        "requester_email": "principal@district.org",
        "vendor": "dell",
        "payment_method": "purchase_order",
        "currency": "USD",
        "lines": [line],
    })
}

async fn request(target: &Target, n: u64, check: bool) -> bool {
    let response = if check {
        target
            .client
            .post(format!("{}/v1/purchase-checks", target.base))
            .bearer_auth(&target.finance)
            .json(&check_body(n))
            .send()
            .await
    } else {
        target.client.get(format!("{}/health/live", target.base)).send().await
    };
    response.is_ok_and(|r| r.status().is_success())
}

/// Closed loop: `concurrency` workers, each sending its next request when the last is answered.
async fn closed_loop(target: Arc<Target>, check: bool, seed: u64) -> Run {
    let concurrency: usize = env("LOAD_CONCURRENCY", 16);
    let max: u64 = env("LOAD_MAX_REQUESTS", 200_000);
    let deadline = Instant::now() + Duration::from_secs_f64(env("LOAD_SECONDS", 5.0));
    let load = Load { target, seed, check, total: max, deadline: Some(deadline) };
    load.run(concurrency, |_| None).await
}

/// Open loop: requests are due at a fixed rate; latency counts from when each was due.
async fn open_loop(target: Arc<Target>, seed: u64) -> Run {
    let rate: f64 = env("LOAD_RATE", 1000.0);
    let seconds: f64 = env("LOAD_SECONDS", 5.0);
    let total = ((rate * seconds) as u64).min(env("LOAD_MAX_REQUESTS", 200_000));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let load = Load { target, seed, check: true, total, deadline: None };
    // Enough workers that a slow answer does not hold back the schedule.
    load.run(env("LOAD_OPEN_WORKERS", 64usize), move |n| Some(start + interval.mul_f64(n as f64)))
        .await
}

/// Requests `seed + n` for each `n` below `total`, sent by workers that share the numbers.
struct Load {
    target: Arc<Target>,
    seed: u64,
    /// Purchase checks, or the liveness probe.
    check: bool,
    total: u64,
    /// When no worker takes another number, if ever.
    deadline: Option<Instant>,
}

impl Load {
    /// Runs `workers` workers. Each request waits until `due(n)` when that is an instant, and
    /// its latency counts from then; otherwise it is sent at once and counts from sending.
    async fn run(
        self,
        workers: usize,
        due: impl Fn(u64) -> Option<Instant> + Clone + Send + 'static,
    ) -> Run {
        let load = Arc::new(self);
        let counter = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                let (load, counter, due) = (load.clone(), counter.clone(), due.clone());
                tokio::spawn(async move {
                    let (mut samples, mut errors) = (Vec::new(), 0);
                    while load.deadline.is_none_or(|d| Instant::now() < d) {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        if n >= load.total {
                            break;
                        }
                        let from = match due(n) {
                            Some(due) => {
                                tokio::time::sleep_until(due.into()).await;
                                due
                            }
                            None => Instant::now(),
                        };
                        if !request(&load.target, load.seed + n, load.check).await {
                            errors += 1;
                        }
                        samples.push(from.elapsed().as_micros() as u64);
                    }
                    (samples, errors)
                })
            })
            .collect();
        collect(workers, start).await
    }
}

async fn collect(workers: Vec<tokio::task::JoinHandle<(Vec<u64>, u64)>>, start: Instant) -> Run {
    let mut run =
        Run { requests: 0, errors: 0, elapsed: Duration::ZERO, latencies: Samples::default() };
    for w in workers {
        let (samples, errors) = w.await.expect("a load worker failed");
        run.requests += samples.len() as u64;
        run.errors += errors;
        run.latencies.0.extend(samples);
    }
    run.elapsed = start.elapsed();
    run
}

async fn setup(target: &Target, store: &eventlog::Store) -> anyhow::Result<()> {
    let put = |path: &str, body: Value| {
        target
            .client
            .put(format!("{}{path}", target.base))
            .bearer_auth(&target.it)
            .json(&body)
            .send()
    };
    put("/v1/catalog/vendors/dell", json!({"name": "Dell", "approved": true}))
        .await?
        .error_for_status()?;
    put(
        "/v1/catalog/products/LAP-14",
        json!({"name": "Laptop 14", "category": "laptops", "vendor_id": "dell"}),
    )
    .await?
    .error_for_status()?;
    put(
        "/v1/catalog/policy",
        json!({"technology_categories": ["laptops", "software"], "technology_mccs": ["5732"],
               "review_threshold": "5000.00", "currency": "USD"}),
    )
    .await?
    .error_for_status()?;
    // Schools come from the stakeholder relations service's events.
    use events::school::{AgreementSigned, SchoolEvent, SchoolRegistered};
    use events::values::{SchoolId, ShortText};
    let meta = eventlog::Metadata::new(eventlog::Actor::system("bench"), "stakeholders");
    for (id, gated) in [("gated-elem", true), ("open-middle", false)] {
        let school = SchoolId::parse(id)?;
        let mut evs = vec![SchoolEvent::from(SchoolRegistered {
            school_id: school.clone(),
            name: ShortText::parse(id)?,
        })];
        if gated {
            evs.push(SchoolEvent::from(AgreementSigned {
                school_id: school.clone(),
                principal_id: uuid::Uuid::now_v7(),
                signed_on: chrono::Utc::now().date_naive(),
            }));
        }
        let new: Vec<_> = evs.iter().map(|e| gate::domain::new_event(e, meta.clone())).collect();
        store
            .append(&gate::domain::school_stream(&school), eventlog::ExpectedVersion::NoStream, new)
            .await?;
    }
    Ok(())
}

fn loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    if let Ok(base) = std::env::var("PROCGATE_LOAD_URL") {
        anyhow::ensure!(loopback(&base), "PROCGATE_LOAD_URL must be a loopback address");
        let target = Arc::new(Target {
            base,
            finance: std::env::var("PROCGATE_LOAD_FINANCE_TOKEN")?,
            it: std::env::var("PROCGATE_LOAD_IT_TOKEN")?,
            client,
        });
        // A server elsewhere: its projections cannot be waited for from here.
        return measure(target, || async { Ok(None) }).await.map(|_| ());
    }

    // The same gate three times in one sitting, each on a fresh log.
    let plain = in_process(client.clone(), Log::Postgres).await?;
    let sealed = in_process(client.clone(), Log::PostgresSealed).await?;
    let embedded = in_process(client, Log::EmbeddedSealed).await?;
    compare("sealed against plain, same sitting:", &sealed, &plain);
    compare("embedded against PostgreSQL (both sealed), same sitting:", &embedded, &sealed);
    Ok(())
}

/// Prints `this`'s figures as ratios of `that`'s.
fn compare(title: &str, this: &Measured, that: &Measured) {
    println!("\n{title}");
    println!("{:<34} {:>9.1}%", "checks/s (closed loop)", 100.0 * this.checks / that.checks);
    println!("{:<34} {:>9.2}", "p99 at the fixed rate, ratio", this.p99 / that.p99);
}

/// The log a run's gate is on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Log {
    /// PostgreSQL, the log as stored.
    Postgres,
    /// PostgreSQL, personal data sealed.
    PostgresSealed,
    /// The embedded store (SQLite), personal data sealed.
    EmbeddedSealed,
}

/// Starts the gate in this process on a fresh `log`, and measures it.
async fn in_process(client: reqwest::Client, log: Log) -> anyhow::Result<Measured> {
    let title = match log {
        Log::Postgres => "plain store:",
        Log::PostgresSealed => "sealed store:",
        Log::EmbeddedSealed => "embedded store (SQLite), sealed:",
    };
    println!("\n{title}");
    // Kept until the run ends: the database is dropped, or the directory removed, after it.
    let (mut store, _fresh): (eventlog::Store, Box<dyn std::any::Any>) = match log {
        Log::Postgres | Log::PostgresSealed => {
            let db = testkit::pg_database().await;
            let store = eventlog::PgStore::connect(db.url(), Default::default()).await?;
            (Arc::new(store), Box::new(db))
        }
        Log::EmbeddedSealed => {
            let (dir, path) = testkit::sqlite_path();
            (Arc::new(eventlog::SqliteStore::open(&path).await?), Box::new(dir))
        }
    };
    if log != Log::Postgres {
        store = kernel::privacy::sealed(store, eventlog::MasterKey::new(&[7; 32]));
    }
    let secret = "a-load-test-secret-of-at-least-32-bytes".to_owned();
    let verifier =
        Arc::new(Verifier::new(AuthConfig::hs256(secret.clone(), "procgate", "procgate"))?);
    let issuer = Issuer::hs256(secret, "procgate", "procgate")?;
    let gate = gate::Gate::start(store.clone(), verifier).await?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let app =
        web::Application::build(listener, vec![Arc::new(gate.clone())], web::always_ready(), None)?;
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let hour = Duration::from_secs(3600);
    let target = Arc::new(Target {
        base: format!("http://127.0.0.1:{port}"),
        finance: issuer.issue("load-finance", &[Role::Finance], hour),
        it: issuer.issue("load-it", &[Role::ItStaff], hour),
        client,
    });
    setup(&target, &store).await?;
    let settle = {
        let gate = gate.clone();
        move || {
            let gate = gate.clone();
            async move {
                let started = Instant::now();
                gate.caught_up().await?;
                Ok(Some(started.elapsed()))
            }
        }
    };
    let outcome = measure(target, settle).await;
    handle.stop(true).await;
    outcome
}

/// What a run measured: checks per second (closed loop) and the p99 at the fixed rate, ms.
struct Measured {
    checks: f64,
    p99: f64,
}

/// Runs the three phases. `settle` waits until the server's projections have caught up with
/// what the previous phase wrote (when it can tell), so that the backlog of one phase is not
/// counted against the next.
async fn measure<F, Fut>(target: Arc<Target>, settle: F) -> anyhow::Result<Measured>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<Duration>>>,
{
    let concurrency: usize = env("LOAD_CONCURRENCY", 16);
    println!(
        "gate load, loopback, {concurrency} concurrent clients, {} s each:",
        env("LOAD_SECONDS", 5.0)
    );
    let (baseline, _) =
        closed_loop(target.clone(), false, 0).await.print("GET /health/live (baseline)");
    let (checks, _) = closed_loop(target.clone(), true, 0).await.print("POST /v1/purchase-checks");
    println!("{:<34} {:>9.1}%", "checks/s as a share of baseline", 100.0 * checks / baseline);
    if let Some(waited) = settle().await? {
        println!("{:<34} {:>9.0} ms", "projections caught up after", waited.as_secs_f64() * 1e3);
    }
    let rate: f64 = env("LOAD_RATE", 1000.0);
    let (_, p99) =
        open_loop(target, 10_000_000).await.print(&format!("checks at a fixed {rate:.0}/s"));
    println!("{:<34} {}", "p99 under 10 ms at that rate", if p99 < 10.0 { "yes" } else { "no" });
    Ok(Measured { checks, p99 })
}
