//! Webhooks end to end: a real receiver on loopback, deliveries verified with an independent
//! Standard Webhooks implementation (the `standardwebhooks` crate), failures and retries,
//! scope, several delivering instances, restarts.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web as aweb};
use auth::Role;
use chrono::TimeDelta;
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, Store};
use reporting::Reporting;
use reporting::notify::{Settings, Targets, WebhookKey};
use serde_json::{Value, json};
use testkit::{Backend, eventually};

use crate::common::{self, TestApp, stream};

const KEY: &[u8] = b"the-district-webhook-key-32-bytes-long!!";
const WAIT: Duration = Duration::from_secs(30);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(20);

on_each_backend!(
    a_failing_receiver_gets_every_event_once_in_order_verified_independently,
    a_finance_endpoint_receives_only_its_own_purchases_without_personal_data,
    two_instances_deliver_each_event_once_per_attempt,
    a_restart_mid_retry_loses_nothing,
    gone_disables_and_replay_delivers_again,
    rotation_signs_with_both_secrets_during_the_overlap,
    registration_is_checked_and_endpoints_are_their_owners,
    subscriptions_resume_from_their_acknowledged_checkpoint,
    an_erased_person_is_delivered_erased_on_replay,
    a_deleted_endpoint_gets_nothing_more_of_the_batch_being_sent,
);

/// A delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: http::HeaderMap,
    body: Vec<u8>,
    status: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
}

/// A status to answer, and a `Retry-After`.
type Answer = (u16, Option<&'static str>);

/// A webhook receiver on loopback that answers from a plan (then 204) and records everything.
#[derive(Clone, Default)]
struct Receiver {
    plan: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<Received>>>,
    /// How long it takes to answer, in milliseconds (a slow endpoint).
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    url: String,
}

impl Receiver {
    async fn start() -> Self {
        let mut receiver = Receiver::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        receiver.url = format!("http://127.0.0.1:{}/hooks", listener.local_addr().unwrap().port());
        let state = receiver.clone();
        let server = HttpServer::new(move || {
            App::new().app_data(aweb::Data::new(state.clone())).default_service(aweb::to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        receiver
    }

    fn answer(&self, status: u16, retry_after: Option<&'static str>) {
        self.plan.lock().unwrap().push_back((status, retry_after));
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    fn delivered(&self) -> Vec<Received> {
        self.seen().into_iter().filter(|r| r.status < 300).collect()
    }

    /// Waits until `n` deliveries succeeded.
    async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        eventually(WAIT, POLL, async || {
            let done = self.delivered();
            if done.len() >= n {
                return Ok(done);
            }
            let statuses: Vec<u16> = self.seen().iter().map(|r| r.status).collect();
            Err(format!("{} of {n} deliveries after {WAIT:?}: {statuses:?}", done.len()))
        })
        .await
    }

    /// Waits until `n` attempts reached the receiver.
    async fn wait_seen(&self, n: usize) {
        eventually(WAIT, POLL, async || {
            let seen = self.seen().len();
            if seen >= n { Ok(()) } else { Err(format!("{seen} of {n} attempts")) }
        })
        .await;
    }
}

async fn receive(req: HttpRequest, body: aweb::Bytes, me: aweb::Data<Receiver>) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        headers.insert(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let (status, retry_after) = me.plan.lock().unwrap().pop_front().unwrap_or((204, None));
    me.seen.lock().unwrap().push(Received { headers, body: body.to_vec(), status });
    let delay = me.delay_ms.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(after) = retry_after {
        response.insert_header(("retry-after", after));
    }
    response.body("thanks")
}

fn settings(instance: &str, deliver: bool) -> Settings {
    let mut settings = Settings::new(WebhookKey::new(KEY).unwrap(), instance);
    settings.targets = Targets::AllowPrivate;
    settings.attempt_timeout = Duration::from_secs(5);
    settings.deliver = deliver;
    settings
}

/// A delivering instance on `store` (no HTTP), telling time by `clock`.
async fn deliverer(store: &Store, clock: &kernel::Clock, instance: &str) -> Reporting {
    common::instance(store, clock).await.with_notifications(settings(instance, true))
}

/// The API on `backend` (delivering unless `deliver` is false), and its clock.
async fn api(backend: Backend, deliver: bool) -> (TestApp, kernel::Clock) {
    let clock = kernel::Clock::system();
    let app = TestApp::spawn_notifying(backend, clock.clone(), settings("api", deliver)).await;
    (app, clock)
}

fn as_subject(subject: &str, role: &str) -> Metadata {
    Metadata::new(Actor::new(subject, role), "gate")
}

async fn append_as(
    store: &Store,
    stream_name: &str,
    event_type: &str,
    data: Value,
    meta: Metadata,
) -> u64 {
    store
        .append(
            &stream(stream_name),
            ExpectedVersion::Any,
            vec![NewEvent::new(event_type, data, meta)],
        )
        .await
        .unwrap()
        .last_position()
}

async fn append_schools(store: &Store, n: usize) {
    for i in 0..n {
        let data = json!({"school_id": format!("school-{i}"), "name": format!("School {i}")});
        append_as(
            store,
            &format!("school-s{i}"),
            "school-registered",
            data,
            as_subject("jdoe", "it_staff"),
        )
        .await;
    }
}

/// A caller: a subject with roles.
type Caller<'a> = (&'a str, &'a [Role]);

/// The district's administrator.
const ROOT: Caller = ("root", &[Role::Admin]);
/// The district's integration, owner of most endpoints and subscriptions here.
const ERP: Caller = ("erp", &[Role::Integration]);

/// Sends JSON as `subject` with `roles`; the status and body.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    (subject, roles): Caller<'_>,
    body: Option<Value>,
) -> (u16, Value) {
    let token = app.token_for(subject, roles);
    let url = format!("{}{path}", app.base);
    let req = match method {
        "POST" => app.client.post(url),
        "PUT" => app.client.put(url),
        "DELETE" => app.client.delete(url),
        _ => app.client.get(url),
    };
    let req = req.bearer_auth(token);
    let req = match body {
        Some(body) => req.json(&body),
        None => req,
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// Acknowledges the `erp-feed` subscription up to `sequence`; the status and body.
async fn ack(app: &TestApp, sequence: Value) -> (u16, Value) {
    let body = json!({ "sequence": sequence });
    send(app, "POST", "/v1/subscriptions/erp-feed/ack", ERP, Some(body)).await
}

/// Replays the webhook `id` from after `after`, as `who`; the status and body.
async fn replay(app: &TestApp, id: &str, who: Caller<'_>, after: u64) -> (u16, Value) {
    let path = format!("/v1/webhooks/{id}/replay");
    send(app, "POST", &path, who, Some(json!({ "after": after }))).await
}

async fn register(app: &TestApp, subject: &str, role: Role, body: Value) -> Value {
    let (status, hook) = send(app, "POST", "/v1/webhooks", (subject, &[role]), Some(body)).await;
    assert_eq!(status, 201, "{hook}");
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    hook
}

fn verify(secret: &str, delivery: &Received) {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    wh.verify(&delivery.body, &delivery.headers)
        .unwrap_or_else(|e| panic!("delivery {} does not verify: {e:?}", delivery.id()));
}

/// The schools the deliveries are about, in the order received.
fn schools(deliveries: &[Received]) -> Vec<String> {
    deliveries.iter().map(|d| d.json()["data"]["school_id"].as_str().unwrap().to_owned()).collect()
}

fn school_ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("school-{i}")).collect()
}

/// Deliveries are in log order.
fn assert_in_log_order(deliveries: &[Received]) {
    let sequences: Vec<u64> =
        deliveries.iter().map(|d| d.json()["sequence"].as_u64().unwrap()).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
}

/// Waits until the webhook's record shows `n` attempts.
async fn wait_attempts(app: &TestApp, id: &str, n: usize) -> Vec<Value> {
    let path = format!("/v1/webhooks/{id}/deliveries");
    eventually(WAIT, POLL, async || {
        let (status, list) = send(app, "GET", &path, ROOT, None).await;
        assert_eq!(status, 200, "{list}");
        let attempts = list["deliveries"].as_array().unwrap().clone();
        if attempts.len() >= n {
            return Ok(attempts);
        }
        Err(format!("{} of {n} attempts recorded", attempts.len()))
    })
    .await
}

async fn a_failing_receiver_gets_every_event_once_in_order_verified_independently(
    backend: Backend,
) {
    let (app, clock) = api(backend, true).await;
    let receiver = Receiver::start().await;
    receiver.answer(500, None);
    receiver.answer(429, Some("60"));
    let hook = register(
        &app,
        "root",
        Role::Admin,
        json!({"url": receiver.url, "description": "IT's tracker"}),
    )
    .await;
    let id = hook["id"].as_str().unwrap();
    let secret = hook["secret"].as_str().unwrap();
    append_schools(&app.store, 5).await;

    // The first attempt fails: the event waits 5 s (the schedule's first step).
    receiver.wait_seen(1).await;
    let attempts = wait_attempts(&app, id, 1).await;
    assert_eq!(attempts[0]["outcome"], "failed");
    assert_eq!(attempts[0]["status"], 500);
    assert_eq!(attempts[0]["attempt"], 1);
    assert!(attempts[0]["next_attempt_at"].is_string());
    // The second is refused with 429 and Retry-After: 60 s: honoured, longer than 5 min? No:
    // the schedule's second step (5 min) is longer, so it waits 5 min.
    clock.advance(TimeDelta::seconds(6));
    receiver.wait_seen(2).await;
    let attempts = wait_attempts(&app, id, 2).await;
    assert_eq!(attempts[0]["status"], 429);
    assert_eq!(attempts[0]["attempt"], 2);
    assert_eq!(receiver.seen().len(), 2, "nothing is sent before the retry is due");
    clock.advance(TimeDelta::minutes(6));
    let delivered = receiver.wait_delivered(5).await;

    // Every event once, in log order, the failed one included; every attempt verifies.
    assert_eq!(schools(&delivered), school_ids(0..5));
    assert_in_log_order(&delivered);
    let ids: Vec<String> = receiver.seen().iter().map(Received::id).collect();
    assert_eq!(ids[0], ids[1], "webhook-id is stable across retries");
    assert_eq!(ids[1], ids[2]);
    for delivery in receiver.seen() {
        verify(secret, &delivery);
        assert_eq!(delivery.headers["content-type"], "application/cloudevents+json");
        let event = delivery.json();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["id"].as_str().unwrap(), delivery.id());
    }
    // The record: 2 failures then 5 deliveries; the endpoint's view agrees.
    let attempts = wait_attempts(&app, id, 7).await;
    let outcomes: Vec<&str> =
        attempts.iter().rev().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["failed", "failed", "delivered", "delivered", "delivered", "delivered", "delivered"]
    );
    let (_, view) = send(&app, "GET", &format!("/v1/webhooks/{id}"), ROOT, None).await;
    let last = delivered[4].json()["sequence"].as_u64();
    assert_eq!(
        (view["delivered_through"].as_u64(), view["delivered"].as_u64(), view["failed"].as_u64()),
        (last, Some(5), Some(2))
    );
    assert!(view.get("secret").is_none(), "the secret is shown once");
    assert!(view.get("failing").is_none());
    // A tampered body does not verify.
    let mut forged = delivered[0].clone();
    forged.body = br#"{"forged":true}"#.to_vec();
    assert!(
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(&forged.body, &forged.headers)
            .is_err()
    );
    // Metrics count deliveries by outcome.
    let metrics =
        app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("procgate_webhook_deliveries_total"), "{metrics}");
    app.stop().await;
}

async fn a_finance_endpoint_receives_only_its_own_purchases_without_personal_data(
    backend: Backend,
) {
    let (app, _clock) = api(backend, true).await;
    let receiver = Receiver::start().await;
    register(&app, "erp-a", Role::Finance, json!({"url": receiver.url})).await;
    let store = &app.store;
    let submitted = |email: &str, by: &str| json!({"requester_email": email, "school_id": "lincoln-elem", "submitted_by": by});
    append_as(
        store,
        "purchase-a1",
        "purchase-submitted",
        submitted("pat@district.org", "erp-a"),
        as_subject("erp-a", "finance"),
    )
    .await;
    append_as(
        store,
        "purchase-b1",
        "purchase-submitted",
        submitted("lee@district.org", "erp-b"),
        as_subject("erp-b", "finance"),
    )
    .await;
    append_schools(store, 1).await;
    append_as(
        store,
        "stakeholder-x",
        "stakeholder-registered",
        json!({"email": "pat@district.org"}),
        as_subject("jdoe", "it_staff"),
    )
    .await;
    let call = json!({"requester_reached": true, "goal": "film experiments", "notes": "met Pat", "spoke_with": {"name": "Pat Lee", "phone": "+1 555 0100"}});
    append_as(store, "purchase-b1", "call-logged", call.clone(), as_subject("jdoe", "it_staff"))
        .await;
    append_as(store, "purchase-a1", "call-logged", call, as_subject("jdoe", "it_staff")).await;
    append_as(
        store,
        "sla-a1",
        "purchase-sla-warning",
        json!({"clock": "decision"}),
        as_subject("system:gate", "system"),
    )
    .await;

    let delivered = receiver.wait_delivered(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered_now = receiver.delivered();
    assert_eq!(
        delivered_now.len(),
        3,
        "only erp-a's purchase a1: {:?}",
        delivered_now.iter().map(Received::json).collect::<Vec<_>>()
    );
    let subjects: Vec<Value> = delivered.iter().map(|d| d.json()["subject"].clone()).collect();
    assert_eq!(subjects, [json!("purchase-a1"), json!("purchase-a1"), json!("sla-a1")]);
    assert_eq!(
        delivered[0].json()["data"]["requester_email"],
        "pat@district.org",
        "its own requester"
    );
    let call = delivered[1].json();
    assert_eq!(call["data"]["goal"], "film experiments");
    assert!(
        call["data"].get("spoke_with").is_none() && call["data"].get("notes").is_none(),
        "{call}"
    );
    app.stop().await;
}

async fn two_instances_deliver_each_event_once_per_attempt(backend: Backend) {
    let (app, clock) = api(backend, false).await;
    let receiver = Receiver::start().await;
    receiver.answer(503, None);
    let hook = register(&app, "root", Role::Admin, json!({"url": receiver.url})).await;
    // Each instance on its own store connection where the backend has them.
    let other_store: Store = match &app.pg_url {
        Some(url) => Arc::new(eventlog::PgStore::connect(url, Default::default()).await.unwrap()),
        None => app.store.clone(),
    };
    let one = deliverer(&app.store, &clock, "one").await;
    let two = deliverer(&other_store, &clock, "two").await;
    append_schools(&app.store, 40).await;
    receiver.wait_seen(1).await;
    clock.advance(TimeDelta::seconds(6));
    let delivered = receiver.wait_delivered(40).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 41, "one failed attempt and 40 deliveries, no duplicates");
    assert_eq!(schools(&delivered), school_ids(0..40));
    assert_in_log_order(&delivered);
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for d in &delivered {
        *per_id.entry(d.id()).or_default() += 1;
    }
    assert!(per_id.values().all(|n| *n == 1));
    let secret = hook["secret"].as_str().unwrap();
    seen.iter().for_each(|d| verify(secret, d));
    drop((one, two));
    app.stop().await;
}

async fn a_restart_mid_retry_loses_nothing(backend: Backend) {
    let (app, clock) = api(backend, false).await;
    let receiver = Receiver::start().await;
    receiver.answer(500, None);
    let hook = register(&app, "root", Role::Admin, json!({"url": receiver.url})).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let first = deliverer(&app.store, &clock, "one").await;
    append_schools(&app.store, 3).await;
    wait_attempts(&app, &id, 1).await;
    // The instance stops while the first event waits for its retry, and starts again.
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.seen().len(), 1);
    let again = deliverer(&app.store, &clock, "one").await;
    clock.advance(TimeDelta::seconds(6));
    let delivered = receiver.wait_delivered(3).await;
    assert_eq!(schools(&delivered), school_ids(0..3));
    assert_in_log_order(&delivered);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.seen().len(), 4, "the failed attempt and one delivery of each event");
    drop(again);
    app.stop().await;
}

async fn gone_disables_and_replay_delivers_again(backend: Backend) {
    let (app, _clock) = api(backend, true).await;
    let receiver = Receiver::start().await;
    let hook = register(
        &app,
        "erp",
        Role::Integration,
        json!({"url": receiver.url, "event_types": ["school-registered"]}),
    )
    .await;
    let id = hook["id"].as_str().unwrap().to_owned();
    append_schools(&app.store, 2).await;
    receiver.wait_delivered(2).await;
    receiver.answer(410, None);
    append_schools(&app.store, 1).await;
    receiver.wait_seen(3).await;
    let path = format!("/v1/webhooks/{id}");
    let view = eventually(WAIT, POLL, async || {
        let (_, view) = send(&app, "GET", &path, ERP, None).await;
        if view["status"] == "disabled" { Ok(view) } else { Err(view.to_string()) }
    })
    .await;
    assert_eq!(view["disabled"]["reason"], "gone");
    // Disabled: nothing more goes out.
    append_schools(&app.store, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.seen().len(), 3);
    // A replay from the start enables it and delivers everything again, in order.
    let (status, body) = replay(&app, &id, ERP, 0).await;
    assert_eq!(status, 202, "{body}");
    let delivered = receiver.wait_delivered(2 + 4).await;
    let replayed: Vec<Value> =
        delivered[2..].iter().map(|d| d.json()["data"]["school_id"].clone()).collect();
    assert_eq!(
        replayed,
        [json!("school-0"), json!("school-1"), json!("school-0"), json!("school-0")]
    );
    let (status, body) = replay(&app, &id, ERP, 10_000).await;
    assert_eq!(status, 422, "{body}");
    app.stop().await;
}

async fn rotation_signs_with_both_secrets_during_the_overlap(backend: Backend) {
    let (app, clock) = api(backend, true).await;
    let receiver = Receiver::start().await;
    let hook = register(&app, "root", Role::Admin, json!({"url": receiver.url})).await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();
    let (status, rotated) = send(
        &app,
        "POST",
        &format!("/v1/webhooks/{id}/rotate-secret"),
        ROOT,
        Some(json!({"overlap_hours": 2})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert_eq!(rotated["secret_generation"], 2);
    append_schools(&app.store, 1).await;
    let during = receiver.wait_delivered(1).await;
    verify(&old, &during[0]);
    verify(&new, &during[0]);
    assert_eq!(during[0].headers["webhook-signature"].to_str().unwrap().split(' ').count(), 2);
    // After the overlap only the new secret signs.
    clock.advance(TimeDelta::hours(3));
    append_schools(&app.store, 1).await;
    let after = receiver.wait_delivered(2).await;
    verify(&new, &after[1]);
    assert!(
        standardwebhooks::Webhook::new(&old)
            .unwrap()
            .verify(&after[1].body, &after[1].headers)
            .is_err()
    );
    app.stop().await;
}

async fn registration_is_checked_and_endpoints_are_their_owners(backend: Backend) {
    let (app, _clock) = api(backend, false).await;
    // Public targets only unless the operator allows private ones: the setting is the API's.
    let public = {
        let clock = kernel::Clock::system();
        let mut settings = settings("strict", false);
        settings.targets = Targets::PublicOnly;
        TestApp::spawn_notifying(backend, clock, settings).await
    };
    for url in [
        "http://erp.example.org/x",
        "https://127.0.0.1/x",
        "https://169.254.169.254/x",
        "https://localhost/x",
    ] {
        let (status, problem) =
            send(&public, "POST", "/v1/webhooks", ROOT, Some(json!({"url": url}))).await;
        assert_eq!(
            (status, problem["type"].as_str().unwrap().ends_with("invalid-url")),
            (422, true),
            "{url}: {problem}"
        );
    }
    public.stop().await;

    let (status, problem) = send(
        &app,
        "POST",
        "/v1/webhooks",
        ROOT,
        Some(json!({"url": "http://127.0.0.1:9/x", "event_types": ["no-such-event"]})),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    for role in [Role::Auditor, Role::ItStaff] {
        let (status, _) = send(&app, "GET", "/v1/webhooks", ("someone", &[role]), None).await;
        assert_eq!(status, 403);
    }
    let a = register(&app, "erp-a", Role::Finance, json!({"url": "http://127.0.0.1:9/a"})).await;
    let b = register(&app, "erp-b", Role::Finance, json!({"url": "http://127.0.0.1:9/b"})).await;
    let a_id = a["id"].as_str().unwrap();
    assert_eq!(a["owner"], json!({"subject": "erp-a", "role": "finance"}));
    // Each owner sees its own; an admin sees both.
    let (_, list) = send(&app, "GET", "/v1/webhooks", ("erp-b", &[Role::Finance]), None).await;
    let ids: Vec<&Value> = list["webhooks"].as_array().unwrap().iter().map(|w| &w["id"]).collect();
    assert_eq!(ids, [&b["id"]]);
    let (_, list) = send(&app, "GET", "/v1/webhooks", ROOT, None).await;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 2);
    for (method, path) in [
        ("GET", format!("/v1/webhooks/{a_id}")),
        ("DELETE", format!("/v1/webhooks/{a_id}")),
        ("GET", format!("/v1/webhooks/{a_id}/deliveries")),
    ] {
        let (status, _) = send(&app, method, &path, ("erp-b", &[Role::Finance]), None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let (status, _) =
        send(&app, "DELETE", &format!("/v1/webhooks/{a_id}"), ("erp-a", &[Role::Finance]), None)
            .await;
    assert_eq!(status, 204);
    let (status, _) =
        send(&app, "GET", &format!("/v1/webhooks/{a_id}"), ("erp-a", &[Role::Finance]), None).await;
    assert_eq!(status, 404);
    let (status, _) =
        send(&app, "GET", "/v1/webhooks/not-a-uuid", ("erp-a", &[Role::Finance]), None).await;
    assert_eq!(status, 400);
    // The same Idempotency-Key answers the first registration again, secret included.
    let post = |key: &'static str| {
        app.client
            .post(format!("{}/v1/webhooks", app.base))
            .bearer_auth(app.token_for("erp-c", &[Role::Integration]))
            .header("Idempotency-Key", key)
            .json(&json!({"url": "http://127.0.0.1:9/c"}))
            .send()
    };
    let first: Value = post("k-1").await.unwrap().json().await.unwrap();
    let again = post("k-1").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!((&again["id"], &again["secret"]), (&first["id"], &first["secret"]));
    // Once the endpoint is deleted, the key's first answer is gone with it.
    let path = format!("/v1/webhooks/{}", first["id"].as_str().unwrap());
    let (status, _) = send(&app, "DELETE", &path, ("erp-c", &[Role::Integration]), None).await;
    assert_eq!(status, 204);
    let gone = post("k-1").await.unwrap();
    assert_eq!(gone.status(), 404);
    app.stop().await;
}

async fn subscriptions_resume_from_their_acknowledged_checkpoint(backend: Backend) {
    let (app, _clock) = api(backend, false).await;
    append_schools(&app.store, 2).await;
    let (status, sub) =
        send(&app, "PUT", "/v1/subscriptions/erp-feed", ERP, Some(json!({"start": "beginning"})))
            .await;
    assert_eq!(status, 201, "{sub}");
    assert_eq!(sub["checkpoint"], 0);
    let (status, same) = send(&app, "PUT", "/v1/subscriptions/erp-feed", ERP, None).await;
    assert_eq!(status, 200, "{same}");
    let (status, _) =
        send(&app, "PUT", "/v1/subscriptions/erp-feed", ("other", &[Role::Integration]), None)
            .await;
    assert_eq!(status, 409, "another system's name");
    let (status, _) =
        send(&app, "GET", "/v1/subscriptions/erp-feed/events", ("erp", &[Role::Finance]), None)
            .await;
    assert_eq!(status, 403);
    let (status, _) = send(&app, "PUT", "/v1/subscriptions/Bad%20Name", ERP, None).await;
    assert_eq!(status, 400);
    append_as(
        &app.store,
        "stakeholder-x",
        "stakeholder-registered",
        json!({"email": "pat@district.org"}),
        as_subject("jdoe", "it_staff"),
    )
    .await;
    let call =
        json!({"requester_reached": true, "notes": "met Pat", "spoke_with": {"name": "Pat"}});
    append_as(&app.store, "purchase-p", "call-logged", call, as_subject("jdoe", "it_staff")).await;

    let (_, page) = send(&app, "GET", "/v1/subscriptions/erp-feed/events?limit=2", ERP, None).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_after"], 2);
    // Not acknowledged: the same page again.
    let (_, again) =
        send(&app, "GET", "/v1/subscriptions/erp-feed/events?limit=2", ERP, None).await;
    assert_eq!(again["events"], page["events"]);
    let (status, acked) = ack(&app, json!(2)).await;
    assert_eq!((status, &acked["checkpoint"]), (200, &json!(2)));
    // An integration never sees a person's record, nor whom IT reached.
    let (_, rest) = send(&app, "GET", "/v1/subscriptions/erp-feed/events", ERP, None).await;
    let events = rest["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{rest}");
    assert_eq!(events[0]["type"], "call-logged");
    assert!(
        events[0]["data"].get("spoke_with").is_none() && events[0]["data"].get("notes").is_none()
    );
    // Positions: two schools, the subscription itself, the stakeholder, the call.
    assert_eq!(rest["next_after"], 5);
    let (status, _) = ack(&app, json!(99)).await;
    assert_eq!(status, 422);
    // A position is an int64, as documented.
    let (status, problem) = ack(&app, json!(i64::MAX as u64 + 1)).await;
    assert_eq!((status, &problem["errors"][0]["field"]), (422, &json!("sequence")), "{problem}");
    // The checkpoint is durable: another instance on the same log answers from it.
    let (status, _) = ack(&app, json!(5)).await;
    assert_eq!(status, 200);
    let other = deliverer(&app.store, &kernel::Clock::system(), "other").await;
    let store = other.store();
    assert_eq!(store.checkpoint("subscription:erp-feed").await.unwrap(), Some(5));
    // An older acknowledgement does not move it back.
    let (_, acked) = ack(&app, json!(1)).await;
    assert_eq!(acked["checkpoint"], 5);
    // Two replicas create one subscription at once with different event types: one is
    // created, the other told it exists otherwise (not a 201 for types it will never get).
    for round in 0..8 {
        let path = format!("/v1/subscriptions/erp-rollout-{round}");
        let (a, b) = futures::join!(
            send(&app, "PUT", &path, ERP, Some(json!({"event_types": ["purchase-decided"]}))),
            send(&app, "PUT", &path, ERP, Some(json!({"event_types": ["purchase-approved"]}))),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}: {a:?} {b:?}");
    }
    app.stop().await;
}

async fn a_deleted_endpoint_gets_nothing_more_of_the_batch_being_sent(backend: Backend) {
    let (app, _clock) = api(backend, true).await;
    // A slow endpoint, with a backlog: a batch takes a while to send.
    let receiver = Receiver::start().await;
    receiver.delay_ms.store(200, std::sync::atomic::Ordering::Relaxed);
    let types = json!(["school-registered"]);
    let hook = register(
        &app,
        "erp",
        Role::Integration,
        json!({"url": receiver.url, "event_types": types}),
    )
    .await;
    let path = format!("/v1/webhooks/{}", hook["id"].as_str().unwrap());
    append_schools(&app.store, 20).await;
    receiver.wait_seen(3).await;
    let (status, _) = send(&app, "DELETE", &path, ERP, None).await;
    assert_eq!(status, 204);
    let at_delete = receiver.seen().len();
    // At most the request already on its way arrives; nothing more of the batch is sent.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = receiver.seen().len();
    assert!(seen <= at_delete + 1, "{} more were sent after the delete", seen - at_delete);
    assert!(seen < 20);
    app.stop().await;
}

async fn an_erased_person_is_delivered_erased_on_replay(backend: Backend) {
    // The API does not deliver; an instance on the sealed store (as procgate serve opens it)
    // does.
    let (app, clock) = api(backend, false).await;
    let sealed = app.sealed();
    let _sender = deliverer(&sealed, &clock, "sealed").await;
    let receiver = Receiver::start().await;
    let types = json!(["stakeholder-registered"]);
    let hook =
        register(&app, "root", Role::Admin, json!({"url": receiver.url, "event_types": types}))
            .await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let person = uuid::Uuid::now_v7();
    let pat = json!({"stakeholder_id": person, "name": "Pat Lee", "email": "pat.lee@district.org",
                     "phone": "+1 555 010 4477", "role": "principal", "school_id": null});
    let stakeholder = format!("stakeholder-{person}");
    append_as(&sealed, &stakeholder, "stakeholder-registered", pat, as_subject("jdoe", "it_staff"))
        .await;
    let first = receiver.wait_delivered(1).await;
    assert_eq!(first[0].json()["data"]["name"], "Pat Lee");

    // Erased: the key destroyed, the erasure announced; a replay delivers them erased.
    let keys = sealed
        .destroy_data_keys(&eventlog::KeySelector::Person(stakeholder), "left the district")
        .await
        .unwrap();
    let erased = json!({"stakeholder_id": person, "reason": "Left the district",
                        "erased_by": "root", "keys": keys});
    let privacy = format!("privacy-{person}");
    append_as(&sealed, &privacy, "personal-data-erased", erased, as_subject("root", "admin")).await;
    let (status, body) = replay(&app, &id, ROOT, 0).await;
    assert_eq!(status, 202, "{body}");
    let delivered = receiver.wait_delivered(2).await;
    let again = delivered[1].json();
    assert_eq!(again["data"]["name"], "(erased)", "{again}");
    assert_eq!(again["data"]["phone"], Value::Null);
    assert!(!String::from_utf8_lossy(&delivered[1].body).contains("pat.lee"));
    app.stop().await;
}
