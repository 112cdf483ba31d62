//! The clocks' scheduler under load: 10,000 open clocks, the CPU it uses while nothing is due,
//! and how late it writes what falls due.
//!
//! `cargo bench -p gate --bench clocks` starts the gate in this process on a fresh PostgreSQL
//! database (a throwaway one from testkit: `PROCGATE_TEST_DATABASE_URL`, else `DATABASE_URL`,
//! else 127.0.0.1:5432), in a district that works around the clock in UTC, and:
//!
//! 1. appends `CLOCKS_OPEN` (default 10,000) held purchases under targets of 10 hours, so every
//!    clock is open and none falls due during the run, and waits until the scheduler tracks
//!    them (the catch-up time is printed);
//! 2. measures the process's CPU time over `CLOCKS_IDLE_SECONDS` (default 10) while nothing is
//!    due: the scheduler, the gate's projections and the store's connections, all of it;
//! 3. sets targets of one business minute (a clock keeps the targets it started with, so only
//!    new purchases get them) and appends `CLOCKS_DUE` (default 50) held purchases, one every
//!    200 ms, then waits for their breaches: each is written with its due time, so how late
//!    it was is the time the log recorded it minus that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth::{AuthConfig, Verifier};
use chrono::{DateTime, Utc};
use eventlog::{Actor, ExpectedVersion, Filter, Metadata, RecordedEvent, Store, StreamAppend};
use events::district::DistrictEvent;
use events::gate::PurchaseEvent;
use gate::domain::testing::fixtures;
use serde_json::json;
use uuid::Uuid;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU time of this process so far (user and system), from /proc (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name (which is in parentheses and may hold spaces).
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn meta() -> Metadata {
    Metadata::new(Actor::new("bench", "finance"), "gate")
}

fn district_event(event: serde_json::Value, event_type: &str) -> eventlog::NewEvent {
    let event = DistrictEvent::from_parts(event_type, &event).expect("a district event");
    kernel::new_event(&event, meta())
}

async fn set_targets(store: &Store, minutes: u32) {
    let targets = json!({
        "first_contact_minutes": minutes, "decision_minutes": minutes,
        "advisory_outreach_minutes": minutes, "warn_at_percent": [],
    });
    let stream = gate::domain::district_stream();
    let event = district_event(targets, "sla-targets-set");
    store.append(&stream, ExpectedVersion::Any, vec![event]).await.unwrap();
}

/// Held purchases, appended as the gate's purchase check would, `batch` streams at a time.
async fn flag(store: &Store, count: usize, batch: usize) -> Vec<Uuid> {
    let template = fixtures::held_purchase();
    let mut ids = Vec::with_capacity(count);
    let mut appends = Vec::new();
    for _ in 0..count {
        let id = Uuid::new_v4();
        let events = template
            .iter()
            .map(|event| {
                let mut event = event.clone();
                if let PurchaseEvent::Submitted(s) = &mut event {
                    s.purchase_id = id;
                }
                kernel::new_event(&event, meta())
            })
            .collect();
        let stream = gate::domain::purchase_stream(id);
        appends.push(StreamAppend::new(stream, ExpectedVersion::NoStream, events));
        ids.push(id);
        if appends.len() == batch {
            store.append_streams(std::mem::take(&mut appends)).await.unwrap();
        }
    }
    if !appends.is_empty() {
        store.append_streams(appends).await.unwrap();
    }
    ids
}

async fn breaches(store: &Store) -> Vec<RecordedEvent> {
    let filter = Filter::categories(["sla"]).with_types(["purchase-sla-breached"]);
    let mut out: Vec<RecordedEvent> = Vec::new();
    loop {
        let after = out.last().map_or(0, |e| e.position);
        let page = store.read_all(after, &filter, 1000).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let open = env("CLOCKS_OPEN", 10_000usize);
    let idle_seconds = env("CLOCKS_IDLE_SECONDS", 10u64);
    let due_count = env("CLOCKS_DUE", 50usize);
    let test_store = testkit::TestStore::open(testkit::Backend::Postgres).await;
    let store: Store = test_store.shared();

    // A district working around the clock in UTC: business time is real time.
    let district = json!({
        "name": "Bench District", "time_zone": "UTC",
        "business_hours": {"start": "00:00", "end": "24:00",
                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
    });
    let set = district_event(district, "district-set");
    store.append(&gate::domain::district_stream(), ExpectedVersion::Any, vec![set]).await.unwrap();
    set_targets(&store, 600).await;
    let started = Instant::now();
    flag(&store, open, 500).await;
    println!("{open} held purchases appended in {:.1} s", started.elapsed().as_secs_f64());

    let verifier = Arc::new(
        Verifier::new(AuthConfig::hs256(
            b"bench-secret-that-is-at-least-32-bytes!",
            "procgate",
            "procgate",
        ))
        .unwrap(),
    );
    let started = Instant::now();
    let service = gate::Gate::start(store.clone(), verifier).await.unwrap();
    service.caught_up().await.unwrap();
    // The scheduler catches up on its own; give it until its CPU use settles.
    let mut last = cpu_time();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_time();
        if now - last < Duration::from_millis(30) {
            break;
        }
        last = now;
    }
    println!(
        "gate started, projections and scheduler caught up with {open} open clocks in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (cpu, wall) = (cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(idle_seconds)).await;
    let used = cpu_time() - cpu;
    let share = used.as_secs_f64() / wall.elapsed().as_secs_f64() * 100.0;
    println!(
        "idle with {open} open clocks: {:.0} ms of CPU in {:.1} s = {share:.2}% of a core (goal: under 1%)",
        used.as_secs_f64() * 1000.0,
        wall.elapsed().as_secs_f64()
    );

    set_targets(&store, 1).await;
    for _ in 0..due_count {
        flag(&store, 1, 1).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Each has two clocks (first contact, decision) due a minute after its flag.
    let expected = 2 * due_count;
    let deadline = Instant::now() + Duration::from_secs(120);
    let written = loop {
        let written = breaches(&store).await;
        if written.len() >= expected || Instant::now() > deadline {
            break written;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut late: Vec<f64> = written
        .iter()
        .map(|e| {
            let due: DateTime<Utc> = e.data["due_at"].as_str().unwrap().parse().unwrap();
            (e.recorded_at - due).num_microseconds().unwrap() as f64 / 1000.0
        })
        .collect();
    late.sort_by(f64::total_cmp);
    println!(
        "{} of {expected} breaches written; late by p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal: within 1 s)",
        written.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(f64::NAN),
    );
    service.stop_scheduler();
    drop(test_store);
}
