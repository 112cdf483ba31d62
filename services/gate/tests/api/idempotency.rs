//! Checks are idempotent: the same question gets the same purchase and answer, never a second
//! purchase; the same key with another question is a conflict.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::common::{Calls, Reply, TestApp, Who, check_body, held_body, unique_ref, with};

on_both_backends!(
    the_same_body_again_gets_the_same_answer,
    the_same_question_written_differently_is_the_same,
    another_body_with_the_same_external_ref_conflicts,
    the_idempotency_key_header_works_the_same_way,
    a_bad_idempotency_key_is_refused,
    keys_are_per_finance_system,
    identical_checks_at_once_create_one_purchase,
);

async fn check_with_key(app: &TestApp, key: &str, body: &Value) -> Reply {
    let req = app.request(Who::Finance, reqwest::Method::POST, "/v1/purchase-checks");
    Reply::read(req.header("Idempotency-Key", key).json(body).send().await.unwrap()).await
}

async fn the_same_body_again_gets_the_same_answer(app: TestApp) {
    app.seed().await;
    let body = held_body(&unique_ref());
    let first = app.check(&body).await;
    let answer = first.expect(201).clone();
    let head = app.head().await;

    let again = app.check(&body).await;
    assert_eq!(again.expect(200), &answer);
    assert_eq!(app.head().await, head, "a repeat writes nothing");

    // Still the original answer after IT acted on the purchase, with where it stands now
    // beside it.
    assert_eq!(answer["status"], "held");
    let id = answer["purchase_id"].as_str().unwrap();
    app.act(id, "approve", &json!({})).await.expect(200);
    let later = app.check(&body).await.expect(200).clone();
    assert_eq!(later["status"], "approved");
    assert_eq!(with(later, "/status", json!("held")), answer);
    app.stop().await;
}

async fn the_same_question_written_differently_is_the_same(app: TestApp) {
    app.seed().await;
    let body = check_body(&unique_ref());
    let answer = app.check(&body).await.expect(201).clone();
    // "899" is 899.00, SKUs ignore case, and text is trimmed.
    let same = with(body.clone(), "/lines/0/unit_price", json!("899"));
    let same = with(same, "/lines/0/sku", json!("lat-5440"));
    let same = with(same, "/vendor", json!("  Dell "));
    assert_eq!(app.check(&same).await.expect(200), &answer);
    app.stop().await;
}

async fn another_body_with_the_same_external_ref_conflicts(app: TestApp) {
    app.seed().await;
    let external_ref = unique_ref();
    let answer = app.check(&check_body(&external_ref)).await.expect(201).clone();
    let head = app.head().await;

    let different = with(check_body(&external_ref), "/purpose", json!("Something else"));
    let reply = app.check(&different).await;
    let problem = reply.expect_problem(409, "idempotency-conflict");
    assert_eq!(problem["purchase_id"], answer["purchase_id"]);
    // Leaving out an optional field is a different question too.
    let without_purpose = crate::common::without(check_body(&external_ref), "/purpose");
    app.check(&without_purpose).await.expect_problem(409, "idempotency-conflict");
    assert_eq!(app.head().await, head, "a conflict writes nothing");

    // The original still stands.
    assert_eq!(app.check(&check_body(&external_ref)).await.expect(200), &answer);
    app.stop().await;
}

async fn the_idempotency_key_header_works_the_same_way(app: TestApp) {
    app.seed().await;
    let key = format!("key-{}", unique_ref());
    let body = held_body(&unique_ref());
    let first = check_with_key(&app, &key, &body).await;
    let answer = first.expect(201).clone();
    let head = app.head().await;

    assert_eq!(check_with_key(&app, &key, &body).await.expect(200), &answer);
    // Spaces after a header's value are no part of it (as the document's pattern says).
    assert_eq!(check_with_key(&app, &format!("{key}  "), &body).await.expect(200), &answer);

    // The key names the request: another question under it conflicts, whatever its
    // external_ref.
    for other in [with(body.clone(), "/purpose", json!("Something else")), held_body(&unique_ref())]
    {
        let reply = check_with_key(&app, &key, &other).await;
        assert_eq!(
            reply.expect_problem(409, "idempotency-conflict")["purchase_id"],
            answer["purchase_id"]
        );
    }
    assert_eq!(app.head().await, head);

    // Without the key, the external_ref still names the same purchase: never a second one.
    assert_eq!(app.check(&body).await.expect(200), &answer);
    assert_eq!(app.head().await, head);
    // The same external_ref under another key is the same purchase too, and that key names it
    // from then on: another question under it conflicts, as under a key that came first.
    let other_key = format!("key-{}", unique_ref());
    assert_eq!(check_with_key(&app, &other_key, &body).await.expect(200), &answer);
    assert_eq!(check_with_key(&app, &other_key, &body).await.expect(200), &answer);
    let reply = check_with_key(&app, &other_key, &held_body(&unique_ref())).await;
    assert_eq!(
        reply.expect_problem(409, "idempotency-conflict")["purchase_id"],
        answer["purchase_id"]
    );
    assert_eq!(app.head().await, head + 1, "the key's use, recorded once");
    app.stop().await;
}

async fn a_bad_idempotency_key_is_refused(app: TestApp) {
    app.seed().await;
    let head = app.head().await;
    for key in ["", "has spaces", &"k".repeat(129)] {
        check_with_key(&app, key, &check_body(&unique_ref()))
            .await
            .expect_problem(400, "invalid-header");
    }
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn keys_are_per_finance_system(app: TestApp) {
    app.seed().await;
    let body = check_body(&unique_ref());
    let mine = app.check(&body).await.expect(201).clone();
    let theirs = app.post(Who::OtherFinance, "/v1/purchase-checks", &body).await;
    assert_ne!(theirs.expect(201)["purchase_id"], mine["purchase_id"]);
    app.stop().await;
}

async fn identical_checks_at_once_create_one_purchase(app: TestApp) {
    app.seed().await;
    let body = held_body(&unique_ref());
    let replies = join_all((0..20).map(|_| app.check(&body))).await;

    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    let mut expected = vec![200; 19];
    expected.push(201);
    assert_eq!(statuses, expected, "{:?}", replies.iter().map(|r| &r.text).collect::<Vec<_>>());
    let answer = &replies.iter().find(|r| r.status == 201).unwrap().body;
    for reply in &replies {
        assert_eq!(&reply.body, answer);
    }

    let list = app.get(Who::ItStaff, "/v1/purchases").await;
    let listed = list.expect(200)["purchases"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["purchase_id"], answer["purchase_id"]);
    let submitted = app.events_of_type("purchase-submitted").await;
    assert_eq!(submitted.len(), 1);
    assert_eq!(app.events_of_type("purchase-decided").await.len(), 1);
    app.stop().await;
}
