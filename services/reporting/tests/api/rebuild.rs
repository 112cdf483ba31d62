//! `reporting::rebuild`: the report projections rebuilt from the log in one pass hold exactly
//! what following the log event by event built.

use std::collections::BTreeMap;

use auth::Role;
use serde_json::Value;

use crate::common::{TestApp, append_many};
use crate::history::write_history;

on_both_backends!(a_rebuild_equals_the_incremental_build);

/// Every document of every report projection, and each projection's checkpoint.
async fn snapshot(app: &TestApp) -> (BTreeMap<String, Vec<(String, Value)>>, Vec<Option<u64>>) {
    let mut docs = BTreeMap::new();
    let mut checkpoints = Vec::new();
    for p in reporting::projections() {
        for collection in p.collections() {
            docs.insert(collection.clone(), app.store.documents(&collection).await.unwrap());
        }
        checkpoints.push(app.store.checkpoint(p.name()).await.unwrap());
    }
    (docs, checkpoints)
}

async fn reports(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for name in ["adoption", "response-times", "promises", "rogue-spend"] {
        out.push(app.get_json(&format!("/v1/reports/{name}"), Role::Auditor).await);
    }
    let mut wishes = app.get_json("/v1/reports/wishes", Role::Auditor).await;
    wishes["as_of"] = Value::Null; // a time, not a day: differs between two reads
    out.push(wishes);
    let mut sla = app.get_json("/v1/reports/sla", Role::Auditor).await;
    sla["as_of"] = Value::Null;
    out.push(sla);
    out
}

async fn a_rebuild_equals_the_incremental_build(app: TestApp) {
    // Built incrementally: the projections follow the log while it is written, in whatever
    // batches the appends happen to form, with a report read in between.
    write_history(&app).await;
    crate::rogue_spend::write_statement(&app).await;
    crate::rogue_spend::write_it_work(&app).await;
    let _ = app.get_json("/v1/reports/promises", Role::Auditor).await;
    // Events no report reads (and that do not decode as purchase events) move the checkpoints
    // along without changing a document.
    append_many(&app.store, 30).await;
    app.reporting.reports_caught_up().await.unwrap();
    let incremental = snapshot(&app).await;
    let head = app.store.head().await.unwrap();
    assert!(incremental.0.values().map(Vec::len).sum::<usize>() > 20, "{incremental:?}");
    let before = reports(&app).await;

    let reached = std::sync::Mutex::new(Vec::new());
    let read = reporting::rebuild(&*app.store, &|p| reached.lock().unwrap().push(p)).await.unwrap();
    assert!(read > 0 && read <= head, "{read} of {head}");
    assert_eq!(reached.lock().unwrap().last(), Some(&head));
    let rebuilt = snapshot(&app).await;
    assert_eq!(rebuilt.0, incremental.0);
    // A following projection saves its checkpoint when it applies events for it; a rebuild
    // leaves every one at the head.
    assert!(rebuilt.1.iter().all(|c| *c == Some(head)), "{:?} at {head}", rebuilt.1);
    assert_eq!(reports(&app).await, before);

    // Again, on a current-thread runtime (as a small command-line tool might use): the same
    // documents.
    let store = app.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async { reporting::rebuild(&*store, &|_| {}).await.unwrap() })
    })
    .await
    .unwrap();
    assert!(read > 0 && read <= head, "{read} of {head}");
    assert_eq!(snapshot(&app).await, rebuilt);
    app.stop().await;
}
