//! Statement import on PostgreSQL: a generated 100,000-transaction statement, beside the raw
//! CSV parse rate of the same file in the same run.
//!
//! `cargo bench -p gate --bench statements` starts the gate in this process on a throwaway
//! PostgreSQL database (testkit: `PROCGATE_TEST_DATABASE_URL`, `DATABASE_URL`, or
//! 127.0.0.1:5432), registers 30 schools, 300 cards and 500 card-paid purchase checks, writes
//! a statement of `STATEMENT_ROWS` (default 100,000) transactions to a temporary file (about
//! a fifth technology), then measures:
//!
//! 1. the raw parse: the `csv` crate reading every record of the file;
//! 2. the profile parse: the `procgate` profile's reader turning each record into a typed row;
//! 3. a dry run over HTTP (stream up, parse, check, read the log for every reference,
//!    reconcile, answer);
//! 4. the import (the same, plus one atomic append of every event);
//! 5. the same file again (every transaction already recorded: nothing appended).
//!
//! The file is streamed from disk as the body and into the parser; the process's peak
//! resident memory (the server's and the bench's: one process) is printed before the imports,
//! beside the file's size, and for each HTTP step, measured from the step's start.

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::{AuthConfig, Issuer, Role, Verifier};
use eventlog::{Actor, ExpectedVersion, Metadata, PgOptions, PgStore, Store};
use events::school::{SchoolEvent, SchoolRegistered};
use events::values::{SchoolId, ShortText};
use serde_json::{Value, json};

const SECRET: &[u8] = b"bench-secret-that-is-at-least-32-bytes-long";

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small deterministic generator (xorshift), so every run imports the same statement.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Starts measuring the peak again from the resident memory now (Linux: `clear_refs` 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

const MERCHANTS: [(&str, &str, bool); 8] = [
    ("BEST BUY #1234", "5732", true),
    ("APPLE.COM/US", "5734", true),
    ("CDW GOVT #A123", "5734", true),
    ("OFFICE DEPOT #1105", "5943", false),
    ("STAPLES 00110", "5943", false),
    ("HOME DEPOT #0412", "5200", false),
    ("TRADER JOES #552", "5411", false),
    ("AMAZON MKTPL", "5942", false),
];

fn write_statement(path: &std::path::Path, rows: usize, cards: usize) -> std::io::Result<u64> {
    let today = chrono::Utc::now().date_naive();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency")?;
    let mut rng = Rng(0x5eed_cafe);
    for n in 0..rows {
        // One in five is technology (the first three merchants).
        let merchant = if rng.below(5) == 0 { rng.below(3) } else { 3 + rng.below(5) };
        let (name, mcc, _) = MERCHANTS[merchant as usize];
        let day = today - chrono::TimeDelta::days(rng.below(28) as i64);
        // Mostly small; the technology ones near the checks' totals (300.00 to 800.00).
        let cents = if merchant < 3 { 29_000 + rng.below(52_000) } else { 100 + rng.below(20_000) };
        writeln!(
            out,
            "BENCH{n:09},{day},{},{:04},{name},{mcc},{}.{:02},USD",
            day + chrono::TimeDelta::days(2),
            1000 + rng.below(cards as u64),
            cents / 100,
            cents % 100
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

async fn post_file(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    path: &std::path::Path,
) -> (u16, Value) {
    let file = tokio::fs::File::open(path).await.unwrap();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let rows: usize = env("STATEMENT_ROWS", 100_000);
    let (schools, cards, checks) = (30usize, 300usize, 500usize);
    let db = testkit::pg_database().await;
    let store: Store = Arc::new(PgStore::connect(db.url(), PgOptions::default()).await.unwrap());
    let verifier =
        Arc::new(Verifier::new(AuthConfig::hs256(SECRET, "procgate", "procgate")).unwrap());
    let gate = gate::Gate::start(store.clone(), verifier).await.unwrap();
    let read_models = gate.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app =
        web::Application::build(listener, vec![Arc::new(gate)], web::always_ready(), None).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let issuer = Issuer::hs256(SECRET, "procgate", "procgate").unwrap();
    let it = issuer.issue("bench-it", &[Role::ItStaff], Duration::from_secs(7200));
    let finance = issuer.issue("bench-erp", &[Role::Finance], Duration::from_secs(7200));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3600)).build().unwrap();
    let put = |path: String, body: Value| {
        let (client, it, base) = (client.clone(), it.clone(), base.clone());
        async move {
            let r = client
                .put(format!("{base}{path}"))
                .bearer_auth(it)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.text().await.unwrap());
        }
    };

    // The district.
    let policy = json!({"technology_categories": ["laptops", "tablets"], "technology_mccs": ["5732", "5734"],
                        "review_threshold": "5000.00", "currency": "USD"});
    put("/v1/catalog/policy".into(), policy).await;
    for s in 0..schools {
        let id = SchoolId::parse(&format!("school-{s:02}")).unwrap();
        let event = SchoolEvent::from(SchoolRegistered {
            school_id: id.clone(),
            name: ShortText::parse(&format!("School {s}")).unwrap(),
        });
        let meta = Metadata::new(Actor::new("bench", "it_staff"), "stakeholders");
        store
            .append(
                &gate::domain::school_stream(&id),
                ExpectedVersion::Any,
                vec![gate::domain::new_event(&event, meta)],
            )
            .await
            .unwrap();
    }
    for c in 0..cards {
        let body = json!({"last4": format!("{:04}", 1000 + c), "holder_email": format!("holder{c}@district.org"),
                          "school_id": format!("school-{:02}", c % schools)});
        put(format!("/v1/cards/00000000-0000-4000-8000-{c:012}"), body).await;
    }
    for p in 0..checks {
        let body = json!({
            "external_ref": format!("BENCH-CHECK-{p}"), "school_id": format!("school-{:02}", p % schools),
            "requester_email": "someone@district.org", "vendor": "Best Buy", "payment_method": "p_card",
            "currency": "USD", "lines": [{"description": "Laptop", "category": "laptops", "quantity": 1,
                                          "unit_price": format!("{}.00", 300 + p)}],
        });
        let r = client
            .post(format!("{base}/v1/purchase-checks"))
            .bearer_auth(&finance)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    println!("district: {schools} schools, {cards} cards, {checks} card-paid purchase checks");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statement.csv");
    let bytes = write_statement(&path, rows, cards).unwrap();
    println!("statement: {rows} transactions, {:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    let rss_before = peak_rss_mib();

    let started = Instant::now();
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let mut record = csv::StringRecord::new();
    let mut count = 0u64;
    while reader.read_record(&mut record).unwrap() {
        count += 1;
    }
    let raw = started.elapsed();
    let rate = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "raw CSV parse (csv crate, records):        {count} in {raw:>9.3?} = {:>10.0}/s",
        rate(count, raw)
    );

    let started = Instant::now();
    let layout = gate::domain::statements::Layout::procgate();
    let mut typed = 0u64;
    let file = std::fs::File::open(&path).unwrap();
    gate::domain::statements::read_rows(&layout, std::io::BufReader::new(file), |row| {
        typed += u64::from(row.is_ok());
    })
    .unwrap();
    let parse = started.elapsed();
    println!(
        "profile parse (procgate, typed rows):      {typed} in {parse:>9.3?} = {:>10.0}/s",
        rate(typed, parse)
    );

    let url = format!("{base}/v1/card-statements");
    for (name, query) in [
        ("dry run over HTTP", "?dry_run=true"),
        ("import over HTTP (appended)", ""),
        ("the same file again (nothing new)", ""),
    ] {
        let head = store.head().await.unwrap();
        reset_peak_rss();
        let started = Instant::now();
        let (status, answer) = post_file(&client, &format!("{url}{query}"), &finance, &path).await;
        let took = started.elapsed();
        let peak = peak_rss_mib();
        assert!(status < 300, "{status}: {answer}");
        let appended = store.head().await.unwrap() - head;
        let caught_up = Instant::now();
        read_models.caught_up().await.unwrap();
        let caught_up = caught_up.elapsed();
        println!(
            "{name:42} {rows} in {took:>9.3?} = {:>10.0}/s  (recorded {}, matched {}, ambiguous {}, unchecked {}; {appended} events appended; peak resident memory {peak:.0} MiB; read models caught up {caught_up:.1?} later)",
            rate(rows as u64, took),
            answer["recorded"],
            answer["matched"],
            answer["ambiguous"],
            answer["unchecked_technology"],
        );
    }
    println!(
        "peak resident memory: {rss_before:.0} MiB before the imports (file {:.0} MiB)",
        bytes as f64 / (1024.0 * 1024.0)
    );
}
