//! Several gate instances on one PostgreSQL database: every purchase exists exactly once,
//! however the requests are spread between them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use eventlog::{PgOptions, PgStore, Store};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::{Backend, Reply, TestApp, Who, check_body, held_body, serve, with};

/// How many distinct purchases, and how many of them are also sent to the other instance.
const PURCHASES: usize = 200;
const DUPLICATES: usize = 40;

async fn check_at(app: &TestApp, base: &str, body: &Value) -> Reply {
    let req = app.client.post(format!("{base}/v1/purchase-checks"));
    let req = req.bearer_auth(app.token(Who::Finance)).json(body);
    Reply::read(req.send().await.unwrap()).await
}

async fn listed_ids(app: &TestApp, base: &str, query: &str) -> Vec<Value> {
    let req = app.client.get(format!("{base}/v1/purchases?limit=1000{query}"));
    let reply = Reply::read(req.bearer_auth(app.token(Who::Auditor)).send().await.unwrap()).await;
    reply.expect(200)["purchases"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_keep_every_purchase_once() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.seed().await;
    let url = app.database_url.clone().unwrap();
    let second: Store = Arc::new(PgStore::connect(&url, PgOptions::default()).await.unwrap());
    let (second_base, second_handle) = serve(second).await;
    let bases = [app.base.clone(), second_base];

    // Half to each instance; some also to the other one at the same time.
    let bodies: Vec<Value> = (0..PURCHASES)
        .map(|i| {
            let external_ref = format!("REQ-{i:04}");
            if i % 2 == 0 { held_body(&external_ref) } else { check_body(&external_ref) }
        })
        .collect();
    let mut sends: Vec<(usize, &str)> =
        (0..PURCHASES).map(|i| (i, bases[i % 2].as_str())).collect();
    sends.extend(
        (0..DUPLICATES).map(|i| (i * (PURCHASES / DUPLICATES), bases[(i + 1) % 2].as_str())),
    );
    // Interleave the duplicates with their originals.
    sends.sort_by_key(|(i, _)| *i);
    let replies: Vec<(usize, Reply)> = futures::stream::iter(sends)
        .map(|(i, base)| {
            let (app, body) = (&app, &bodies[i]);
            async move { (i, check_at(app, base, body).await) }
        })
        .buffer_unordered(40)
        .collect()
        .await;

    // Each purchase: one 201, any repeats 200 with the same answer.
    let mut by_purchase: BTreeMap<usize, Vec<Reply>> = BTreeMap::new();
    for (i, reply) in replies {
        by_purchase.entry(i).or_default().push(reply);
    }
    let mut answered = BTreeSet::new();
    for (i, replies) in &by_purchase {
        let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        statuses.sort_unstable();
        let expected = if i % (PURCHASES / DUPLICATES) == 0 { vec![200, 201] } else { vec![201] };
        assert_eq!(
            statuses,
            expected,
            "purchase {i}: {:?}",
            replies.iter().map(|r| &r.text).collect::<Vec<_>>()
        );
        let first = &replies[0].body;
        assert!(replies.iter().all(|r| &r.body == first), "purchase {i}");
        answered.insert(first["purchase_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(answered.len(), PURCHASES);

    // The log and both instances' lists agree: every purchase once, none lost.
    let submitted = app.events_of_type("purchase-submitted").await;
    let in_log: BTreeSet<String> =
        submitted.iter().map(|e| e.data["purchase_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(submitted.len(), PURCHASES, "duplicates in the log");
    assert_eq!(in_log, answered);
    for base in &bases {
        let listed = listed_ids(&app, base, "").await;
        let ids: Vec<String> =
            listed.iter().map(|p| p["purchase_id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), PURCHASES, "{base}");
        assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), answered, "{base}");
        assert_eq!(listed_ids(&app, base, "&status=held").await.len(), PURCHASES / 2);
    }

    // IT works the held queue through both instances at once: each call counted once.
    let held = listed_ids(&app, &bases[0], "&status=held").await;
    let calls = held.iter().take(20).enumerate().map(|(n, p)| {
        let path =
            format!("{}/v1/purchases/{}/calls", bases[n % 2], p["purchase_id"].as_str().unwrap());
        let req = app.client.post(path).bearer_auth(app.token(Who::ItStaff));
        let req = req.json(&crate::common::reached_call());
        async move { Reply::read(req.send().await.unwrap()).await }
    });
    for reply in futures::future::join_all(calls).await {
        reply.expect(201);
    }
    for base in &bases {
        let listed = listed_ids(&app, base, "&status=held").await;
        let with_calls: Vec<u64> = listed.iter().map(|p| p["calls"].as_u64().unwrap()).collect();
        assert_eq!(with_calls.iter().filter(|c| **c == 1).count(), 20, "{base}: {with_calls:?}");
        assert!(with_calls.iter().all(|c| *c <= 1), "{base}: {with_calls:?}");
    }
    assert_eq!(json!(app.events_of_type("call-logged").await.len()), json!(20));

    // Both instances on one purchase at once: every call lands, once.
    let id = held[0]["purchase_id"].as_str().unwrap();
    let calls = (0..8).map(|n| {
        let path = format!("{}/v1/purchases/{id}/calls", bases[n % 2]);
        let req = app.client.post(path).bearer_auth(app.token(Who::ItStaff));
        let req = req.json(&crate::common::reached_call());
        async move { Reply::read(req.send().await.unwrap()).await }
    });
    for reply in futures::future::join_all(calls).await {
        reply.expect(201);
    }
    assert_eq!(app.purchase(id).await["calls"].as_array().unwrap().len(), 1 + 8);

    // A catalog change through one instance is seen by the next check through the other.
    let product = json!({"name": "Latitude 9440", "category": "laptops", "vendor_id": "dell"});
    let req = app.client.put(format!("{}/v1/catalog/products/LAT-9440", bases[0]));
    let req = req.bearer_auth(app.token(Who::ItStaff)).json(&product);
    let catalog = Reply::read(req.send().await.unwrap()).await;
    let version = catalog.expect(200)["version"].clone();
    let body = with(check_body("REQ-NEW-MODEL"), "/lines/0/sku", json!("LAT-9440"));
    let answer = check_at(&app, &bases[1], &body).await;
    let answer = TestApp::decided(&answer, "approved");
    assert_eq!(answer["policy_version"], version);

    second_handle.stop(false).await;
    app.stop().await;
}
