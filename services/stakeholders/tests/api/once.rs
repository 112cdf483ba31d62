//! One person per e-mail address, and every creating request done once per `Idempotency-Key`.

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{
    Calls, Reply, TestApp, Who, conversation, in_days, person_body, promise_body, today, with,
};

on_both_backends!(
    an_address_is_one_persons,
    registrations_of_one_address_at_once_make_one_person,
    a_new_address_frees_the_old_one,
    every_creating_request_is_done_once_per_key,
    another_body_under_a_key_is_a_conflict,
    a_repeat_answers_with_the_day_the_first_recorded,
);

/// Sends `body` to `path` as IT staff with `Idempotency-Key: key`.
async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> Reply {
    let req = app.request(Who::ItStaff, Method::POST, path).header("Idempotency-Key", key);
    Reply::read(req.json(body).send().await.unwrap()).await
}

fn key() -> String {
    format!("key-{}", Uuid::new_v4())
}

async fn an_address_is_one_persons(app: TestApp) {
    let first = person_body("Dana Whitfield", "principal", None);
    let dana = app.post(Who::ItStaff, "/v1/stakeholders", &first).await.expect(201).clone();
    let dana_id = dana["stakeholder_id"].as_str().unwrap().to_owned();
    let head = app.head().await;
    // The same address, in other letters, for someone else: 409 naming Dana.
    let shouted = first["email"]
        .as_str()
        .unwrap()
        .to_uppercase()
        .replace("DISTRICT.EXAMPLE", "district.example");
    let second = with(person_body("Dana W.", "teacher", None), "email", json!(shouted));
    let reply = app.post(Who::ItStaff, "/v1/stakeholders", &second).await;
    let problem = reply.expect_problem(409, "email-taken").clone();
    assert_eq!(problem["stakeholder_id"], json!(dana_id));
    assert_eq!(problem["stakeholder"], json!(format!("/v1/stakeholders/{dana_id}")));
    assert!(problem["detail"].as_str().unwrap().contains(&dana_id), "{problem}");
    assert_eq!(app.head().await, head, "a refusal writes nothing");
    // Nor may someone else change to it.
    let sam = app.person("Sam Ortiz", "teacher", None).await;
    let taking = with(person_body("Sam Ortiz", "teacher", None), "email", first["email"].clone());
    let reply = app.put(Who::ItStaff, &format!("/v1/stakeholders/{sam}"), &taking).await;
    assert_eq!(reply.expect_problem(409, "email-taken")["stakeholder_id"], json!(dana_id));
    // Dana may save her own profile with it, in any letters.
    let hers = with(first.clone(), "email", json!(shouted));
    app.put(Who::ItStaff, &format!("/v1/stakeholders/{dana_id}"), &hers).await.expect(200);
    app.stop().await;
}

async fn registrations_of_one_address_at_once_make_one_person(app: TestApp) {
    let body = person_body("Kim Lee", "librarian", None);
    let app = &app;
    let replies = join_all((0..8).map(|i| {
        let body = with(body.clone(), "name", json!(format!("Kim Lee {i}")));
        async move { app.post(Who::ItStaff, "/v1/stakeholders", &body).await }
    }))
    .await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409], "{replies:#?}");
    let kim = replies.iter().find(|r| r.status == 201).unwrap().body["stakeholder_id"].clone();
    for refused in replies.iter().filter(|r| r.status == 409) {
        assert_eq!(refused.expect_problem(409, "email-taken")["stakeholder_id"], kim);
    }
    let filter = eventlog::Filter::all().with_types(["stakeholder-registered"]);
    assert_eq!(app.store.read_all(0, &filter, 100).await.unwrap().len(), 1);
    app.stop().await;
}

async fn a_new_address_frees_the_old_one(app: TestApp) {
    let old = person_body("Alex Moreno", "it", None);
    let alex = app.post(Who::ItStaff, "/v1/stakeholders", &old).await.expect(201).clone();
    let alex_id = alex["stakeholder_id"].as_str().unwrap().to_owned();
    let moved =
        with(old.clone(), "email", json!(format!("alex.{}@newschool.example", &key()[4..12])));
    let view = app.put(Who::ItStaff, &format!("/v1/stakeholders/{alex_id}"), &moved).await;
    assert_eq!(view.expect(200)["email"], moved["email"]);
    // The old address is someone else's to take now; the new one is Alex's.
    let successor = with(person_body("Jo Park", "it", None), "email", old["email"].clone());
    app.post(Who::ItStaff, "/v1/stakeholders", &successor).await.expect(201);
    let taking = with(person_body("Lee Chen", "it", None), "email", moved["email"].clone());
    let reply = app.post(Who::ItStaff, "/v1/stakeholders", &taking).await;
    assert_eq!(reply.expect_problem(409, "email-taken")["stakeholder_id"], json!(alex_id));
    app.stop().await;
}

async fn every_creating_request_is_done_once_per_key(app: TestApp) {
    let (_, principal) = app.school_with_principal().await;
    // Each creating request twice with one key: the second is the first's answer, written
    // once.
    let requests: Vec<(String, Value, u16)> = vec![
        ("/v1/stakeholders".into(), person_body("Sam Ortiz", "teacher", None), 201),
        (format!("/v1/stakeholders/{principal}/conversations"), conversation(), 201),
        (
            "/v1/promises".into(),
            promise_body(json!({"type": "stakeholder", "stakeholder_id": principal}), &in_days(7)),
            201,
        ),
        (
            "/v1/follow-ups".into(),
            json!({"stakeholder_id": principal, "about": "The loaners", "due_on": in_days(3)}),
            201,
        ),
    ];
    for (path, body, status) in requests {
        let k = key();
        let first = post_with_key(&app, &path, &k, &body).await;
        let answer = first.expect(status).clone();
        assert_eq!(first.header("idempotent-replayed"), "", "{path}");
        let head = app.head().await;
        let again = post_with_key(&app, &path, &k, &body).await;
        assert_eq!(again.header("idempotent-replayed"), "true", "{path}");
        assert_eq!(again.header("location"), first.header("location"), "{path}");
        let repeat = again.expect(status);
        for id in [
            "/stakeholder_id",
            "/conversation/conversation_id",
            "/wish/wish_id",
            "/promise_id",
            "/followup_id",
        ] {
            assert_eq!(repeat.pointer(id), answer.pointer(id), "{path}: {id}");
        }
        assert!(
            ["/stakeholder_id", "/conversation/conversation_id", "/promise_id", "/followup_id"]
                .iter()
                .any(|id| answer.pointer(id).is_some_and(Value::is_string)),
            "{path}: {answer}"
        );
        assert_eq!(app.head().await, head, "{path}: a repeat writes nothing");
    }
    // And the requests on what exists: progress, keep, done.
    let view = app.converse(&principal).await;
    let wish = view["wish"]["wish_id"].as_str().unwrap().to_owned();
    let promise = app.promise_to(&principal).await;
    let follow_up = app.follow_up(&principal).await;
    for (path, body, status) in [
        (
            format!("/v1/wishes/{wish}/progress"),
            json!({"note": "Ordered ten loaners", "status": "in_progress"}),
            201,
        ),
        (format!("/v1/promises/{promise}/kept"), json!({"evidence": "Fixed", "on": today()}), 200),
        (format!("/v1/follow-ups/{follow_up}/done"), json!({"on": today()}), 200),
    ] {
        let k = key();
        post_with_key(&app, &path, &k, &body).await.expect(status);
        let head = app.head().await;
        // Without the key, a second keep or done would be refused: with it, a repeat.
        let again = post_with_key(&app, &path, &k, &body).await;
        again.expect(status);
        assert_eq!(again.header("idempotent-replayed"), "true", "{path}");
        assert_eq!(app.head().await, head, "{path}: a repeat writes nothing");
    }
    app.stop().await;
}

async fn another_body_under_a_key_is_a_conflict(app: TestApp) {
    let k = key();
    let sam = person_body("Sam Ortiz", "teacher", None);
    post_with_key(&app, "/v1/stakeholders", &k, &sam).await.expect(201);
    let head = app.head().await;
    let kim = person_body("Kim Lee", "teacher", None);
    let reply = post_with_key(&app, "/v1/stakeholders", &k, &kim).await;
    reply.expect_problem(409, "idempotency-conflict");
    assert_eq!(app.head().await, head);
    // Concurrent duplicates with one key: one person.
    let k = key();
    let lee = person_body("Lee Chen", "teacher", None);
    let replies = join_all((0..8).map(|_| post_with_key(&app, "/v1/stakeholders", &k, &lee))).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|r| r.expect(201)["stakeholder_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{replies:#?}");
    app.stop().await;
}

/// Praise and advocacy without `on` are dated today; sent again under the key the next day,
/// they answer with the day the first recorded, not the new today.
async fn a_repeat_answers_with_the_day_the_first_recorded(app: TestApp) {
    let monday = chrono::Utc::now() + chrono::TimeDelta::days(3);
    app.clock.set(monday);
    let (_, principal) = app.school_with_principal().await;
    let (_, listener) = app.school_with_principal().await;
    let talk = app.converse(&principal).await;
    let conversation = talk["conversation"]["conversation_id"].as_str().unwrap();
    let praise =
        format!("/v1/stakeholders/{principal}/conversations/{conversation}/acknowledgements");
    let praise_body = json!({"where": "School Committee"});
    let advocacy = format!("/v1/stakeholders/{principal}/advocacy");
    let advocacy_body = json!({"to_stakeholder_id": listener, "about": "Chromebooks in a week"});
    let (praised, spoke) = (key(), key());
    let first_praise =
        post_with_key(&app, &praise, &praised, &praise_body).await.expect(201).clone();
    let first_word =
        post_with_key(&app, &advocacy, &spoke, &advocacy_body).await.expect(201).clone();
    assert_ne!(first_praise["acknowledged_on"], Value::Null, "{first_praise}");

    app.clock.set(monday + chrono::TimeDelta::days(1));
    let again = post_with_key(&app, &praise, &praised, &praise_body).await;
    assert_eq!(again.expect(201), &first_praise);
    let again = post_with_key(&app, &advocacy, &spoke, &advocacy_body).await;
    assert_eq!(again.expect(201), &first_word);
}
