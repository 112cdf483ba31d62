//! `GET /v1/events/live`: catch up, follow, resume with `Last-Event-ID`, heartbeats, and a
//! client that leaves.

use std::time::Duration;

use auth::Role;
use eventlog::{ExpectedVersion, StreamAppend};
use reporting::Settings;
use serde_json::json;

use crate::common::{Backend, Message, SseReader, TestApp, append, event, stream};

on_both_backends!(
    catches_up_then_follows_new_events,
    resumes_after_last_event_id_with_no_gap_and_no_repeat,
    filters_apply_live,
    bad_last_event_id_is_a_problem,
);

const WAIT: Duration = Duration::from_secs(10);

fn sequence(m: &Message) -> u64 {
    let sequence = m.json()["sequence"].as_u64().unwrap();
    assert_eq!(m.id.as_deref(), Some(sequence.to_string().as_str()), "id: is the sequence");
    assert_eq!(m.event.as_deref(), m.json()["type"].as_str(), "event: is the type");
    sequence
}

fn sequences(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(sequence).collect()
}

async fn connect(app: &TestApp, query: &str, last_event_id: Option<&str>) -> SseReader {
    let mut req = app.get(&format!("/v1/events/live{query}"), Some(&[Role::Auditor]));
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let res = req.send().await.unwrap();
    assert_eq!(crate::common::header(&res, "cache-control"), "no-cache");
    SseReader::new(res)
}

async fn catches_up_then_follows_new_events(app: TestApp) {
    for n in 0..3 {
        append(&app.store, "purchase-7f3a", "purchase-note", json!({"n": n})).await;
    }
    let mut live = connect(&app, "", None).await;
    let first = live.next(WAIT).await;
    assert_eq!(first.retry.as_deref(), Some("3000"), "{first:?}");
    let caught_up = live.events(3, WAIT).await;
    assert_eq!(sequences(&caught_up), [1, 2, 3]);
    assert_eq!(caught_up[2].json()["data"], json!({"n": 2}));
    assert_eq!(caught_up[2].json()["source"], "/procgate/gate");

    // Appended after the client connected (and caught up): pushed as it commits.
    let position = append(&app.store, "school-lincoln", "school-registered", json!({})).await;
    assert_eq!(position, 4);
    let pushed = live.events(1, WAIT).await;
    assert_eq!(sequences(&pushed), [4]);
    assert_eq!(pushed[0].event.as_deref(), Some("school-registered"));

    // An atomic append to several streams arrives whole, in order.
    app.store
        .append_streams(vec![
            StreamAppend::new(
                stream("promise-1"),
                ExpectedVersion::Any,
                vec![event("promise-made", json!({}))],
            ),
            StreamAppend::new(
                stream("promise-2"),
                ExpectedVersion::Any,
                vec![event("promise-made", json!({})), event("promise-kept", json!({}))],
            ),
        ])
        .await
        .unwrap();
    assert_eq!(sequences(&live.events(3, WAIT).await), [5, 6, 7]);
    assert_eq!(app.reporting.live_streams(), 1);
    app.stop().await;
}

async fn resumes_after_last_event_id_with_no_gap_and_no_repeat(app: TestApp) {
    for n in 0..5 {
        append(&app.store, &format!("purchase-{}", n % 2), "purchase-note", json!({"n": n})).await;
    }
    let mut live = connect(&app, "?after=2", None).await;
    let got = live.events(3, WAIT).await;
    assert_eq!(sequences(&got), [3, 4, 5]);
    let last_id = got[2].id.clone().unwrap();
    drop(live);

    // Written while the client was away.
    for n in 5..8 {
        append(&app.store, "purchase-2", "purchase-note", json!({"n": n})).await;
    }
    // Reconnect as an EventSource does: the original URL, plus Last-Event-ID (which wins).
    let mut live = connect(&app, "?after=2", Some(&last_id)).await;
    let resumed = live.events(3, WAIT).await;
    assert_eq!(sequences(&resumed), [6, 7, 8]);
    append(&app.store, "purchase-3", "purchase-note", json!({"n": 8})).await;
    // The next event is 9: nothing repeated or skipped in between.
    assert_eq!(sequences(&live.events(1, WAIT).await), [9]);

    // An empty Last-Event-ID counts as none: `after` applies.
    let mut live = connect(&app, "?after=7", Some("")).await;
    assert_eq!(sequences(&live.events(2, WAIT).await), [8, 9]);
    app.stop().await;
}

async fn filters_apply_live(app: TestApp) {
    append(&app.store, "school-a", "school-registered", json!({})).await;
    append(&app.store, "purchase-a", "purchase-note", json!({})).await;
    let mut live =
        connect(&app, "?category=school,promise&type=school-registered&type=promise-made", None)
            .await;
    assert_eq!(sequences(&live.events(1, WAIT).await), [1]);
    append(&app.store, "purchase-b", "purchase-note", json!({})).await; // 3: wrong category
    append(&app.store, "promise-a", "promise-kept", json!({})).await; // 4: wrong type
    append(&app.store, "promise-a", "promise-made", json!({})).await; // 5
    append(&app.store, "school-b", "school-registered", json!({})).await; // 6
    assert_eq!(sequences(&live.events(2, WAIT).await), [5, 6]);
    app.stop().await;
}

async fn bad_last_event_id_is_a_problem(app: TestApp) {
    let res = app
        .get("/v1/events/live", Some(&[Role::Auditor]))
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-header");
    let (status, problem) =
        app.get_problem("/v1/events/live?limit=5", Some(&[Role::Auditor])).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-query");
    app.stop().await;
}

/// With a short heartbeat: idle streams send `: keep-alive`, and a client that disconnects
/// stops its stream's work.
async fn heartbeats_and_a_client_leaving(backend: Backend) {
    let settings = Settings { heartbeat: Duration::from_millis(100), ..Settings::default() };
    let app = TestApp::spawn_with(backend, settings).await;
    append(&app.store, "school-a", "school-registered", json!({})).await;

    let mut live = connect(&app, "", None).await;
    assert_eq!(sequences(&live.events(1, WAIT).await), [1]);
    let next = live.next(Duration::from_secs(2)).await;
    assert_eq!(next.comments, ["keep-alive"], "{next:?}");
    assert!(!next.is_event());
    // Still live after heartbeats.
    append(&app.store, "school-b", "school-registered", json!({})).await;
    assert_eq!(sequences(&live.events(1, WAIT).await), [2]);

    let others = [connect(&app, "", None).await, connect(&app, "?after=2", None).await];
    assert_eq!(app.reporting.live_streams(), 3);
    drop(live);
    drop(others);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.reporting.live_streams() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} live streams still open 10 s after their clients left",
            app.reporting.live_streams()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

/// Another instance (its own `PgStore`: its own writer, pool and `LISTEN` connection) appends;
/// the live stream served from this one wakes on the notification, without polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakes_on_appends_by_another_instance_on_postgres() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let other: eventlog::Store = std::sync::Arc::new(
        eventlog::PgStore::connect(app.pg_url.as_deref().unwrap(), Default::default())
            .await
            .unwrap(),
    );
    let mut live = connect(&app, "", None).await;
    assert!(live.next(WAIT).await.retry.is_some());
    for n in 0..3 {
        append(&other, "purchase-elsewhere", "purchase-note", json!({"n": n})).await;
        assert_eq!(sequences(&live.events(1, WAIT).await), [n + 1]);
    }
    app.stop().await;
}

mod heartbeats_and_a_client_leaving {
    use crate::common::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        super::heartbeats_and_a_client_leaving(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        super::heartbeats_and_a_client_leaving(Backend::Sqlite).await;
    }
}
