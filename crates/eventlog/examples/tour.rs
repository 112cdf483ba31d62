//! A tour of the event log on the embedded store: append, retry, conflict, read, verify.
//!
//! `cargo run -p eventlog --example tour` (data in `./procgate-data`, or `PROCGATE_DATA_DIR`);
//! with `PROCGATE_DATABASE_URL=postgres://…` it runs on PostgreSQL instead.

use std::path::PathBuf;

use eventlog::{Actor, ExpectedVersion, Filter, Metadata, NewEvent, StoreError, StreamName};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_dir =
        PathBuf::from(std::env::var("PROCGATE_DATA_DIR").unwrap_or("procgate-data".into()));
    let url = std::env::var("PROCGATE_DATABASE_URL").ok();
    let store = eventlog::open(url.as_deref(), &data_dir).await?;
    println!("store: {} (head at {})", store.backend(), store.head().await?);

    let meta = Metadata::new(Actor::new("tour", "admin"), "example");
    let stream = StreamName::of("purchase", uuid::Uuid::now_v7())?;
    let submitted = NewEvent::new("purchase-submitted", json!({ "total": "998.00" }), meta.clone());
    let first = store.append(&stream, ExpectedVersion::NoStream, vec![submitted.clone()]).await?;
    println!(
        "appended to {stream}: version {}, position {}",
        first.stream_version,
        first.last_position()
    );

    let retry = store.append(&stream, ExpectedVersion::NoStream, vec![submitted]).await?;
    println!(
        "retried the same event: already stored = {}, position {}",
        retry.already_stored,
        retry.last_position()
    );

    let decided = NewEvent::new("purchase-decided", json!({ "decision": "held" }), meta);
    match store.append(&stream, ExpectedVersion::NoStream, vec![decided.clone()]).await {
        Err(StoreError::WrongExpectedVersion { actual, .. }) => {
            println!("a stale writer is refused: the stream is at {actual}")
        }
        other => println!("unexpected: {other:?}"),
    }
    store.append(&stream, ExpectedVersion::Exact(1), vec![decided]).await?;

    for e in store.read_stream_to_end(&stream).await? {
        println!(
            "  #{} v{} {} by {} at {}",
            e.position, e.version, e.event_type, e.metadata.actor.subject, e.recorded_at
        );
    }
    let purchases = store.read_all(0, &Filter::categories(["purchase"]), 1000).await?;
    println!("{} purchase events in the log", purchases.len());
    let v = store.verify(1, None, &|_| {}).await?;
    println!("verify: ok = {}, {} events checked", v.ok, v.checked);
    Ok(())
}
