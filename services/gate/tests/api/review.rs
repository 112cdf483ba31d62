//! What IT does with a flagged purchase: calls, alternatives, approval, and call before cancel;
//! and the held queue.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{
    Calls, GATED, TestApp, UNGATED, Who, alternative, check_body, held_body, reached_call,
    unique_ref, with,
};

on_both_backends!(
    cancelling_needs_a_reached_call_with_a_goal_and_an_alternative,
    an_accepted_alternative_approves_the_purchase_as_amended,
    a_held_purchase_can_be_approved_as_submitted,
    only_held_purchases_are_approved_or_cancelled,
    advisory_purchases_take_calls_but_are_not_held,
    call_times_must_be_after_the_flag_and_not_in_the_future,
    unknown_purchases_and_alternatives_are_404,
    the_held_queue_is_oldest_first_and_pages,
    concurrent_it_actions_on_one_purchase,
);

fn cancel() -> Value {
    json!({"reason": "The model cannot be supported"})
}

/// Tries to cancel, expecting `call-required` and no change at all.
async fn cancel_is_refused(app: &TestApp, id: &str, missing: &str) {
    let before = app.purchase(id).await;
    assert_eq!(before["cancellable"], false);
    let head = app.head().await;
    let reply = app.act(id, "cancel", &cancel()).await;
    let detail = reply.expect_problem(409, "call-required")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains(missing), "{detail}");
    assert_eq!(app.head().await, head, "a refused cancel wrote something");
    let after = app.purchase(id).await;
    assert_eq!(after["version"], before["version"]);
    assert_eq!(after["status"], "held");
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn event_types(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().into())
        .collect()
}

async fn cancelling_needs_a_reached_call_with_a_goal_and_an_alternative(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    cancel_is_refused(&app, &id, "no call that reached the requester").await;

    // A call that did not reach the requester is logged, but does not count.
    let voicemail = json!({"requester_reached": false, "notes": "Left a voicemail"});
    let view = app.act(&id, "calls", &voicemail).await.expect(201).clone();
    assert_eq!(view["calls"].as_array().unwrap().len(), 1);
    assert_eq!(view["calls"][0]["requester_reached"], false);
    cancel_is_refused(&app, &id, "no call that reached the requester").await;

    // Reaching the requester without hearing their goal is not a call IT may log.
    let head = app.head().await;
    let no_goal = json!({"requester_reached": true, "notes": "Talked briefly"});
    app.act(&id, "calls", &no_goal).await.expect_problem(422, "goal-required");
    assert_eq!(app.head().await, head);

    // A reached call with the goal: still no alternative.
    let view = app.reached_call(&id).await;
    assert_eq!(view["calls"].as_array().unwrap().len(), 2);
    assert_eq!(view["calls"][1]["goal"], reached_call()["goal"]);
    assert!(view["calls"][1]["logged_at"].is_string());
    cancel_is_refused(&app, &id, "no alternative").await;

    // An alternative: now IT may cancel.
    let view = app.act(&id, "alternatives", &alternative()).await.expect(201).clone();
    assert_eq!(view["alternatives"][0]["description"], alternative()["description"]);
    assert_eq!(view["alternatives"][0]["lines"][0]["sku"], "LAT-5440");
    assert_eq!(view["alternatives"][0]["accepted"], false);
    assert_eq!(view["cancellable"], true);

    let view = app.act(&id, "cancel", &cancel()).await.expect(200).clone();
    assert_eq!(view["status"], "cancelled");
    assert_eq!(view["cancellation"]["reason"], cancel()["reason"]);
    assert!(view["closed_at"].is_string());
    assert_eq!(view["cancellable"], false);
    assert_eq!(
        event_types(&view),
        [
            "purchase-submitted",
            "purchase-decided",
            "call-logged",
            "call-logged",
            "alternative-proposed",
            "purchase-cancelled"
        ]
    );
    let last = view["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["actor"].as_str(), last["actor_role"].as_str()),
        (Some("it-jdoe"), Some("it_staff"))
    );
    assert_eq!(app.purchase(&id).await["status"], "cancelled");
    let finance_view = app.get(Who::Finance, &format!("/v1/purchases/{id}")).await;
    assert_eq!(finance_view.expect(200)["status"], "cancelled");

    // A cancelled purchase is final.
    let head = app.head().await;
    app.act(&id, "calls", &reached_call()).await.expect_problem(409, "invalid-state");
    app.act(&id, "alternatives", &alternative()).await.expect_problem(409, "invalid-state");
    app.act(&id, "approve", &json!({})).await.expect_problem(409, "invalid-state");
    app.act(&id, "cancel", &cancel()).await.expect_problem(409, "invalid-state");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn an_accepted_alternative_approves_the_purchase_as_amended(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    app.reached_call(&id).await;
    let first = app.propose(&id).await;
    let second = app.propose(&id).await;
    assert_ne!(first, second);

    let path = format!("/v1/purchases/{id}/alternatives/{second}/accept");
    let view = app.post(Who::ItStaff, &path, &json!({})).await.expect(200).clone();
    assert_eq!(view["status"], "approved");
    assert_eq!(view["approval"]["alternative_id"], second);
    assert_eq!(view["alternatives"][0]["accepted"], false);
    assert_eq!(view["alternatives"][1]["accepted"], true);
    assert!(view["closed_at"].is_string());
    let types = event_types(&view);
    assert_eq!(types[types.len() - 2..], ["alternative-accepted", "purchase-approved"]);
    // The answer a finance system gets again is still the original decision; the purchase
    // shows where it stands now.
    let view = app.get(Who::Finance, &format!("/v1/purchases/{id}")).await;
    assert_eq!(view.expect(200)["status"], "approved");

    // Approved is final.
    let head = app.head().await;
    let path = format!("/v1/purchases/{id}/alternatives/{first}/accept");
    app.post(Who::ItStaff, &path, &json!({})).await.expect_problem(409, "invalid-state");
    app.act(&id, "cancel", &cancel()).await.expect_problem(409, "invalid-state");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn a_held_purchase_can_be_approved_as_submitted(app: TestApp) {
    app.seed().await;
    let with_note = app.held_purchase().await;
    let view = app.act(&with_note, "approve", &json!({"note": "Lab pilot"})).await;
    let view = view.expect(200);
    assert_eq!(view["status"], "approved");
    assert_eq!(view["approval"]["note"], "Lab pilot");
    assert_eq!(view["approval"]["alternative_id"], Value::Null);

    // No body at all, and an empty JSON object: both fine.
    let no_body = app.held_purchase().await;
    let path = format!("/v1/purchases/{no_body}/approve");
    let view = app.send(Who::Admin, reqwest::Method::POST, &path, None).await;
    let view = view.expect(200);
    assert_eq!(view["status"], "approved");
    assert_eq!(view["approval"]["note"], Value::Null);
    assert_eq!(view["timeline"].as_array().unwrap().last().unwrap()["actor_role"], "admin");

    let empty = app.held_purchase().await;
    app.act(&empty, "approve", &json!({})).await.expect(200);

    // Approving twice: the second is refused.
    app.act(&empty, "approve", &json!({})).await.expect_problem(409, "invalid-state");
    app.stop().await;
}

async fn only_held_purchases_are_approved_or_cancelled(app: TestApp) {
    app.seed().await;
    let approved = app.submit(&check_body(&unique_ref()), "approved").await;
    let head = app.head().await;
    app.act(&approved, "approve", &json!({})).await.expect_problem(409, "invalid-state");
    app.act(&approved, "cancel", &cancel()).await.expect_problem(409, "invalid-state");
    app.act(&approved, "calls", &reached_call()).await.expect_problem(409, "invalid-state");
    app.act(&approved, "alternatives", &alternative()).await.expect_problem(409, "invalid-state");
    let accept = format!("/v1/purchases/{approved}/alternatives/{}/accept", Uuid::new_v4());
    app.post(Who::ItStaff, &accept, &json!({})).await.expect_problem(409, "invalid-state");
    assert_eq!(app.head().await, head);
    assert_eq!(app.purchase(&approved).await["status"], "approved");
    app.stop().await;
}

async fn advisory_purchases_take_calls_but_are_not_held(app: TestApp) {
    app.seed().await;
    let body = with(held_body(&unique_ref()), "/school_id", json!(UNGATED));
    let id = app.submit(&body, "advisory").await;
    assert!(app.purchase(&id).await["flagged_at"].is_string());

    // IT reaches out: calls and alternatives are logged.
    app.reached_call(&id).await;
    let alternative_id = app.propose(&id).await;
    let view = app.purchase(&id).await;
    assert_eq!(view["status"], "advisory");
    assert_eq!(view["cancellable"], false);

    // But finance may already have bought it: nothing to approve, cancel or amend.
    let head = app.head().await;
    app.act(&id, "approve", &json!({})).await.expect_problem(409, "invalid-state");
    app.act(&id, "cancel", &cancel()).await.expect_problem(409, "invalid-state");
    let accept = format!("/v1/purchases/{id}/alternatives/{alternative_id}/accept");
    app.post(Who::ItStaff, &accept, &json!({})).await.expect_problem(409, "invalid-state");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn call_times_must_be_after_the_flag_and_not_in_the_future(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let flagged_at = time(&app.purchase(&id).await["flagged_at"]);
    let at = |t: DateTime<Utc>| with(reached_call(), "/occurred_at", json!(t.to_rfc3339()));
    let head = app.head().await;

    let reply = app.act(&id, "calls", &at(flagged_at - Duration::hours(1))).await;
    reply.expect_problem(422, "call-before-flag");
    let reply = app.act(&id, "calls", &at(Utc::now() + Duration::hours(1))).await;
    reply.expect_problem(422, "call-in-future");
    assert_eq!(app.head().await, head);

    // At the flag itself, and a minute ahead (clock skew), are fine.
    let view = app.act(&id, "calls", &at(flagged_at)).await.expect(201).clone();
    assert_eq!(time(&view["calls"][0]["occurred_at"]), flagged_at);
    app.act(&id, "calls", &at(Utc::now() + Duration::minutes(1))).await.expect(201);
    app.stop().await;
}

async fn unknown_purchases_and_alternatives_are_404(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let head = app.head().await;
    let path = format!("/v1/purchases/{id}/alternatives/{}/accept", Uuid::new_v4());
    app.post(Who::ItStaff, &path, &json!({})).await.expect_problem(404, "alternative-not-found");

    let nobody = Uuid::new_v4();
    app.get(Who::ItStaff, &format!("/v1/purchases/{nobody}"))
        .await
        .expect_problem(404, "purchase-not-found");
    for (action, body) in [
        ("calls", reached_call()),
        ("alternatives", alternative()),
        ("approve", json!({})),
        ("cancel", cancel()),
        (&format!("alternatives/{}/accept", Uuid::new_v4()), json!({})),
    ] {
        let reply = app.act(&nobody.to_string(), action, &body).await;
        reply.expect_problem(404, "purchase-not-found");
    }
    assert_eq!(app.head().await, head);
    app.stop().await;
}

/// The ids of a page of the list, and its `next_after`.
async fn page(app: &TestApp, query: &str) -> (Vec<String>, Option<u64>) {
    let reply = app.get(Who::ItStaff, &format!("/v1/purchases{query}")).await;
    let body = reply.expect(200);
    let ids = body["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["purchase_id"].as_str().unwrap().to_owned())
        .collect();
    (ids, body["next_after"].as_u64())
}

async fn the_held_queue_is_oldest_first_and_pages(app: TestApp) {
    app.seed().await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(app.held_purchase().await);
        app.submit(&check_body(&unique_ref()), "approved").await;
        let advisory = with(held_body(&unique_ref()), "/school_id", json!(UNGATED));
        app.submit(&advisory, "advisory").await;
    }
    let (all, next) = page(&app, "?status=held").await;
    assert_eq!((all, next), (held.clone(), None));

    // Pages of two.
    let (first, next) = page(&app, "?status=held&limit=2").await;
    assert_eq!(first, held[..2]);
    let (second, next) = page(&app, &format!("?status=held&limit=2&after={}", next.unwrap())).await;
    assert_eq!(second, held[2..4]);
    let (third, next) = page(&app, &format!("?status=held&limit=2&after={}", next.unwrap())).await;
    assert_eq!((third, next), (held[4..].to_vec(), None));

    // Approved and cancelled purchases leave the queue.
    app.act(&held[1], "approve", &json!({})).await.expect(200);
    let (queue, _) = page(&app, "?status=held").await;
    assert_eq!(queue, [held[0].clone(), held[2].clone(), held[3].clone(), held[4].clone()]);

    // The list says what each purchase is, and about its school now.
    let reply = app.get(Who::ItStaff, "/v1/purchases?status=held&limit=1").await;
    let first = reply.expect(200)["purchases"][0].clone();
    assert_eq!(first["purchase_id"], held[0]);
    assert_eq!(first["status"], "held");
    assert_eq!(first["school_id"], GATED);
    assert_eq!(first["school_name"], "Lincoln Elementary");
    assert_eq!(first["school_gated_now"], true);
    assert_eq!(first["reasons"], json!(["not-in-catalog"]));
    assert_eq!(first["total"], "1299.00");

    // Other filters.
    let (advisory, _) = page(&app, &format!("?status=advisory&school_id={UNGATED}")).await;
    assert_eq!(advisory.len(), 5);
    let (none, _) = page(&app, &format!("?status=held&school_id={UNGATED}")).await;
    assert!(none.is_empty());
    let (approved, _) = page(&app, "?status=approved").await;
    assert_eq!(approved.len(), 6);
    assert!(approved.contains(&held[1]));
    let (everything, _) = page(&app, "").await;
    assert_eq!(everything.len(), 15);
    app.stop().await;
}

async fn concurrent_it_actions_on_one_purchase(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    // Many calls and alternatives at once: each is logged exactly once.
    let (call, proposal) = (reached_call(), alternative());
    let calls = (0..8).map(|_| app.act(&id, "calls", &call));
    let alternatives = (0..8).map(|_| app.act(&id, "alternatives", &proposal));
    let (calls, alternatives) =
        futures::join!(futures::future::join_all(calls), futures::future::join_all(alternatives));
    for reply in calls.iter().chain(&alternatives) {
        reply.expect(201);
    }
    let view = app.purchase(&id).await;
    assert_eq!(view["calls"].as_array().unwrap().len(), 8);
    assert_eq!(view["alternatives"].as_array().unwrap().len(), 8);

    // Approve and cancel at once: exactly one wins, the other finds it closed.
    let (approve, cancel) = (json!({}), cancel());
    let (approved, cancelled) =
        futures::join!(app.act(&id, "approve", &approve), app.act(&id, "cancel", &cancel));
    let mut statuses = [approved.status, cancelled.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", approved.text, cancelled.text);
    let loser = if approved.status == 409 { &approved } else { &cancelled };
    loser.expect_problem(409, "invalid-state");
    let closing = app.events_of_type("purchase-approved").await.len()
        + app.events_of_type("purchase-cancelled").await.len();
    assert_eq!(closing, 1);
    app.stop().await;
}
