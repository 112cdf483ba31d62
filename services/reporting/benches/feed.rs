//! The feed's throughput.
//!
//! `cargo bench -p reporting --bench feed`. PostgreSQL as the tests find it (testkit:
//! `PROCGATE_TEST_DATABASE_URL`, `DATABASE_URL`, else 127.0.0.1:5432); `BENCH_EVENTS` sets the
//! log's size (default 50,000), `BENCH_SECONDS` the serialization run (default 2).
//!
//! 1. Serialization alone: a page of 1000 realistic events to JSON, the borrowing
//!    [`reporting::CloudEvent`] beside building a `serde_json::Value` per event (what a
//!    straightforward `json!` mapping would do).
//! 2. On each backend, the log read three ways: the store's `read_all` in pages of 1000 (the
//!    floor), `GET /v1/events?limit=1000` page after page over HTTP, and `GET /v1/events/live`
//!    catching up from 0; then delivered to one webhook endpoint on loopback (a receiver that
//!    answers 204 at once), signed, one POST per event in log order, each batch recorded on the
//!    endpoint's stream: the first `BENCH_DELIVERIES` events (default 5,000), reported beside
//!    the feed's rate as a ratio.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventlog::{
    Actor, ExpectedVersion, Filter, Metadata, NewEvent, PgOptions, PgStore, RecordedEvent,
    SqliteStore, Store, StreamAppend, StreamName,
};
use futures::StreamExt;
use reporting::feed::EventPage;
use reporting::{CloudEvent, Reporting};
use serde_json::{Value, json};

mod common;

use common::{auditor_token, env_number, read_feed, verifier};

fn sample_data(n: u64) -> Value {
    json!({
        "school_id": "lincoln-elem",
        "requester_email": "principal@lincoln.example.org",
        "vendor": "Acme Computers",
        "payment_method": "p_card",
        "currency": "USD",
        "lines": [
            {"sku": "LAP-14", "description": "14\" laptop", "category": "computers", "quantity": 2, "unit_price": "499.00"},
            {"description": "Laptop sleeve", "category": "accessories", "quantity": 2, "unit_price": "19.90"}
        ],
        "n": n,
    })
}

fn metadata() -> Metadata {
    Metadata::new(Actor::new("finance-system", "finance"), "gate")
}

fn recorded(n: u64) -> RecordedEvent {
    RecordedEvent {
        position: n,
        id: uuid::Uuid::now_v7(),
        stream: format!("purchase-{}", uuid::Uuid::now_v7()),
        version: 1,
        event_type: "purchase-submitted".into(),
        data: sample_data(n),
        metadata: metadata(),
        recorded_at: chrono::Utc::now(),
        hash: String::new(),
    }
}

/// What a per-event `json!` mapping would build.
fn as_value(e: &RecordedEvent) -> Value {
    json!({
        "specversion": "1.0",
        "id": e.id,
        "source": format!("/procgate/{}", e.metadata.service),
        "type": e.event_type,
        "subject": e.stream,
        "time": e.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "datacontenttype": "application/json",
        "data": e.data.clone(),
        "sequence": e.position,
        "streamversion": e.version,
        "correlationid": e.metadata.correlation_id,
        "actor": e.metadata.actor.subject,
        "actorrole": e.metadata.actor.role,
        "schemaversion": e.metadata.schema_version,
    })
}

fn serialization() {
    let events: Vec<RecordedEvent> = (1..=1000).map(recorded).collect();
    let run = Duration::from_secs_f64(env_number("BENCH_SECONDS", 2.0));
    let measure = |name: &str, page: &dyn Fn() -> Vec<u8>| {
        let (start, mut pages, mut bytes) = (Instant::now(), 0u64, 0usize);
        while start.elapsed() < run {
            bytes += page().len();
            pages += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "serialize  {name:<28} {:>10.0} events/s  {:>7.1} MB/s",
            pages as f64 * 1000.0 / secs,
            bytes as f64 / secs / 1e6
        );
    };
    measure("borrowed CloudEvent", &|| {
        let page = EventPage {
            events: events.iter().map(CloudEvent::from).collect(),
            next_after: 1000,
            head: 1000,
        };
        let mut out = Vec::with_capacity(1000 * 512);
        serde_json::to_writer(&mut out, &page).unwrap();
        out
    });
    measure("serde_json::Value per event", &|| {
        let page = json!({
            "events": events.iter().map(as_value).collect::<Vec<_>>(),
            "next_after": 1000,
            "head": 1000,
        });
        serde_json::to_vec(&page).unwrap()
    });
}

async fn fill(store: &Store, n: u64) {
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let appends = (i..end)
            .map(|j| {
                StreamAppend::new(
                    StreamName::new(format!("purchase-{j}")).unwrap(),
                    ExpectedVersion::NoStream,
                    vec![NewEvent::new("purchase-submitted", sample_data(j), metadata())],
                )
            })
            .collect();
        store.append_streams(appends).await.unwrap();
        i = end;
    }
}

async fn over_http(name: &str, store: Store, n: u64) {
    fill(&store, n).await;
    let rate = |start: Instant| n as f64 / start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut after = 0;
    while after < n {
        let page = store.read_all(after, &Filter::all(), 1000).await.unwrap();
        after = page.last().unwrap().position;
    }
    println!("{name:<8} store read_all, pages of 1000     {:>10.0} events/s", rate(start));

    let reporting = Reporting::start(store.clone(), verifier()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app =
        web::Application::build(listener, vec![Arc::new(reporting)], web::always_ready(), Some(2))
            .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let token = auditor_token(Duration::from_secs(600));
    let client = reqwest::Client::new();

    let start = Instant::now();
    let bytes = read_feed(&client, &base, &token, n).await;
    let page_rate = rate(start);
    println!(
        "{name:<8} GET /v1/events, pages of 1000    {page_rate:>10.0} events/s  ({:.0} bytes/event)",
        bytes as f64 / n as f64
    );

    let start = Instant::now();
    let res =
        client.get(format!("{base}/v1/events/live")).bearer_auth(&token).send().await.unwrap();
    let mut body = res.bytes_stream();
    let last = format!("id: {n}\n");
    let mut tail = String::new();
    while let Some(chunk) = body.next().await {
        tail.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        if tail.contains(&last) {
            break;
        }
        let keep = tail.len().saturating_sub(last.len());
        tail.drain(..keep);
    }
    println!("{name:<8} GET /v1/events/live, catch-up     {:>10.0} events/s", rate(start));
    handle.stop(false).await;
    let feed_rate = page_rate;
    deliveries(name, store, n, feed_rate).await;
}

/// Counts the POSTs it answers.
#[derive(Clone, Default)]
struct Counter(Arc<std::sync::atomic::AtomicU64>);

async fn deliveries(name: &str, store: Store, n: u64, feed_rate: f64) {
    use actix_web::{App, HttpResponse, HttpServer, web as aweb};
    use std::sync::atomic::Ordering;
    let count = env_number("BENCH_DELIVERIES", 5_000.0).min(n as f64) as u64;
    let received = Counter::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hooks", listener.local_addr().unwrap().port());
    let state = received.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().default_service(aweb::to(move || {
            state.0.fetch_add(1, Ordering::Relaxed);
            async { HttpResponse::NoContent().finish() }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let server_handle = server.handle();
    tokio::spawn(server);

    let key = reporting::notify::WebhookKey::new(&[7; 32]).unwrap();
    let mut settings = reporting::notify::Settings::new(key, "bench");
    settings.targets = reporting::notify::Targets::AllowPrivate;
    let reporting =
        Reporting::start(store.clone(), verifier()).await.unwrap().with_notifications(settings);
    // The endpoint, registered as the API does, delivering from the start of the log.
    let id = uuid::Uuid::now_v7();
    let registered =
        events::notifications::WebhookEvent::from(events::notifications::WebhookRegistered {
            webhook_id: id,
            url,
            event_types: vec!["purchase-submitted".into()],
            description: None,
            owner: events::notifications::Owner { subject: "bench".into(), role: "admin".into() },
            start_after: 0,
        });
    let start = Instant::now();
    store
        .append(
            &StreamName::new(events::notifications::webhook_stream(id)).unwrap(),
            ExpectedVersion::NoStream,
            vec![NewEvent::new(registered.event_type(), registered.to_data(), metadata())],
        )
        .await
        .unwrap();
    while received.0.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    println!(
        "{name:<8} webhook deliveries, one endpoint {rate:>10.0} events/s  ({:.1}% of the feed's pages)",
        rate / feed_rate * 100.0
    );
    drop(reporting);
    server_handle.stop(false).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_number("BENCH_EVENTS", 50_000.0) as u64;
    serialization();

    let (_dir, path) = testkit::sqlite_path();
    let sqlite: Store = Arc::new(SqliteStore::open(&path).await.unwrap());
    over_http("sqlite", sqlite, n).await;

    let db = testkit::pg_database().await;
    let pg: Store = Arc::new(PgStore::connect(db.url(), PgOptions::default()).await.unwrap());
    over_http("postgres", pg, n).await;
}
