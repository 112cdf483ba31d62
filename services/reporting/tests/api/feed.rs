//! `GET /v1/events`: paging, CloudEvents attributes, filters, limits.

use std::collections::HashSet;
use std::time::Instant;

use auth::Role;
use serde_json::{Value, json};

use crate::common::{TestApp, append, append_many, kind_of};

on_both_backends!(
    pages_through_ten_thousand_events_once_and_in_order,
    events_are_cloudevents,
    filters_repeat_combine_and_skip_ahead,
    limit_and_query_are_checked,
    pages_come_as_a_cloudevents_batch_when_asked,
);

async fn pages_come_as_a_cloudevents_batch_when_asked(app: TestApp) {
    append_many(&app.store, 5).await;
    let page = app.get_json("/v1/events?limit=3", Role::Auditor).await;
    let res = app
        .get("/v1/events?limit=3", Some(&[Role::Auditor]))
        .header("accept", "application/cloudevents-batch+json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(crate::common::header(&res, "content-type"), "application/cloudevents-batch+json");
    assert_eq!(crate::common::header(&res, "next-after"), "3");
    assert_eq!(crate::common::header(&res, "log-head"), "5");
    let batch: Value = res.json().await.unwrap();
    assert_eq!(batch, page["events"], "the same events, as a JSON array of CloudEvents");
    // The usual page carries the paging in headers too.
    let res = app.get("/v1/events?limit=3", Some(&[Role::Auditor])).send().await.unwrap();
    assert_eq!(crate::common::header(&res, "next-after"), "3");
    assert!(crate::common::header(&res, "content-type").starts_with("application/json"));
}

fn events(page: &Value) -> &Vec<Value> {
    page["events"].as_array().unwrap()
}

fn sequences(page: &Value) -> Vec<u64> {
    events(page).iter().map(|e| e["sequence"].as_u64().unwrap()).collect()
}

async fn pages_through_ten_thousand_events_once_and_in_order(app: TestApp) {
    const N: u64 = 10_000;
    append_many(&app.store, N).await;

    // The default page is 100 events.
    let first = app.get_json("/v1/events", Role::Auditor).await;
    assert_eq!(sequences(&first), (1..=100).collect::<Vec<_>>());
    assert_eq!(first["next_after"], 100);
    assert_eq!(first["head"], N);

    let started = Instant::now();
    let (mut after, mut pages, mut bytes) = (0u64, 0, 0);
    let mut ids = HashSet::new();
    let mut indexes = HashSet::new();
    loop {
        let res = app
            .get(&format!("/v1/events?after={after}&limit=1000"), Some(&[Role::Auditor]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body = res.bytes().await.unwrap();
        bytes += body.len();
        let page: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(page["head"], N);
        if events(&page).is_empty() {
            assert_eq!(page["next_after"], after);
            break;
        }
        pages += 1;
        for event in events(&page) {
            let sequence = event["sequence"].as_u64().unwrap();
            assert_eq!(sequence, after + 1, "every event once, in order");
            after = sequence;
            assert!(ids.insert(event["id"].as_str().unwrap().to_owned()), "duplicate id");
            let i = event["data"]["i"].as_u64().unwrap();
            assert!(indexes.insert(i), "duplicate event {i}");
            let (category, event_type) = kind_of(i);
            assert_eq!(event["type"], event_type);
            assert!(event["subject"].as_str().unwrap().starts_with(&format!("{category}-")));
        }
        assert_eq!(page["next_after"], after);
    }
    let elapsed = started.elapsed();
    assert_eq!(after, N);
    assert_eq!(pages, 10);
    assert_eq!(indexes, (0..N).collect::<HashSet<_>>());
    eprintln!(
        "{:?}: {N} events in {pages} pages of 1000 over HTTP in {elapsed:?} ({:.0} events/s, {} KiB)",
        app.backend,
        N as f64 / elapsed.as_secs_f64(),
        bytes / 1024
    );
    app.stop().await;
}

async fn events_are_cloudevents(app: TestApp) {
    let position = append(&app.store, "purchase-7f3a", "purchase-submitted", json!({"n": 1})).await;
    append(&app.store, "purchase-7f3a", "purchase-flagged", json!({"n": 2})).await;
    let stored = app.store.read_all(0, &eventlog::Filter::all(), 10).await.unwrap();

    let page = app.get_json("/v1/events", Role::Auditor).await;
    let event = &events(&page)[1];
    let recorded = &stored[1];
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["id"], recorded.id.to_string());
    assert_eq!(event["source"], "/procgate/gate");
    assert_eq!(event["type"], "purchase-flagged");
    assert_eq!(event["subject"], "purchase-7f3a");
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["data"], json!({"n": 2}));
    assert_eq!(event["sequence"], position + 1);
    assert_eq!(event["streamversion"], 2);
    assert_eq!(event["correlationid"], recorded.metadata.correlation_id.to_string());
    assert!(event.get("causationid").is_none());
    assert_eq!(event["actor"], "jdoe");
    assert_eq!(event["actorrole"], "it_staff");
    assert_eq!(event["schemaversion"], 1);
    let time: chrono::DateTime<chrono::Utc> = event["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(time, recorded.recorded_at);
    assert!(event["time"].as_str().unwrap().ends_with('Z'));
    app.stop().await;
}

async fn filters_repeat_combine_and_skip_ahead(app: TestApp) {
    // 40 events: i % 4 in {0, 1} purchase-submitted, 2 school-registered, 3 promise-made.
    append_many(&app.store, 40).await;
    let count = |page: &Value| events(page).len();
    let get = |query: &'static str| app.get_json(query, Role::ItStaff);

    let schools = get("/v1/events?category=school&limit=1000").await;
    assert_eq!(count(&schools), 10);
    assert!(events(&schools).iter().all(|e| e["type"] == "school-registered"));

    for query in [
        "/v1/events?category=school,promise",
        "/v1/events?category=school&category=promise",
        "/v1/events?category=school&category=promise,school&category=",
    ] {
        let page = get(query).await;
        assert_eq!(count(&page), 20, "{query}");
        let seq = sequences(&page);
        assert!(seq.windows(2).all(|w| w[0] < w[1]), "{query}: oldest first");
    }
    assert_eq!(count(&get("/v1/events?type=promise-made").await), 10);
    assert_eq!(count(&get("/v1/events?type=promise-made,school-registered").await), 20);

    // Both filters must match: nothing is both a purchase and a promise.
    let none = get("/v1/events?category=purchase&type=promise-made").await;
    assert_eq!(count(&none), 0);
    // ... and a page that is not full moves `next_after` to the head, past what held nothing.
    assert_eq!(none["next_after"], 40);
    assert_eq!(none["head"], 40);

    // Paging a filter: full pages end at their last event; the last, partial page at the head.
    let mut after = 0;
    let mut seen: Vec<u64> = Vec::new();
    loop {
        let page = app
            .get_json(
                &format!("/v1/events?type=purchase-submitted&limit=7&after={after}"),
                Role::Admin,
            )
            .await;
        let seq = sequences(&page);
        seen.extend(&seq);
        let next = page["next_after"].as_u64().unwrap();
        if seq.len() == 7 {
            assert_eq!(next, *seq.last().unwrap());
        } else {
            assert_eq!(next, 40);
            break;
        }
        after = next;
    }
    assert_eq!(seen.len(), 20);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    // A new matching event is found after the skip.
    let position = append(&app.store, "school-new", "school-registered", json!({})).await;
    let page = get("/v1/events?category=school&after=40").await;
    assert_eq!(sequences(&page), [position]);
    app.stop().await;
}

async fn limit_and_query_are_checked(app: TestApp) {
    append_many(&app.store, 1200).await;
    let page = app.get_json("/v1/events?limit=1000", Role::Auditor).await;
    assert_eq!(events(&page).len(), 1000);
    let page = app.get_json("/v1/events?limit=1", Role::Auditor).await;
    assert_eq!(sequences(&page), [1]);

    let auditor = Some(&[Role::Auditor][..]);
    for (query, needle) in [
        ("limit=1001", "between 1 and 1000"),
        ("limit=0", "between 1 and 1000"),
        ("limit=-5", "whole number"),
        ("limit=lots", "whole number"),
        ("after=-1", "whole number"),
        ("after=1&after=2", "more than once"),
        ("categroy=purchase", "Unknown query parameter `categroy`"),
        ("category=purchase-s1", "contains `-`"),
    ] {
        let (status, problem) = app.get_problem(&format!("/v1/events?{query}"), auditor).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-query", "{query}");
        assert!(problem["detail"].as_str().unwrap().contains(needle), "{query}: {problem}");
        assert!(problem["request_id"].is_string());
        assert_eq!(problem["instance"], "/v1/events");
    }
    // Past the head: an empty page that stays where it is.
    let page = app.get_json("/v1/events?after=5000", Role::Auditor).await;
    assert_eq!(events(&page).len(), 0);
    assert_eq!(page["next_after"], 5000);
    assert_eq!(page["head"], 1200);
    app.stop().await;
}
