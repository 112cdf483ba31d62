//! The gate's rules that hold up under scrutiny (issue 11): evidence of who was reached,
//! accepting an alternative obeys call before cancel, failing closed on classification, a
//! catalog product's vendor, and idempotency on every action.

use chrono::{Duration, Utc};
use eventlog::{Actor, ExpectedVersion, Metadata};
use events::stakeholders::{
    StakeholderEvent, StakeholderRegistered, StakeholderRole, StakeholderUpdated,
    stakeholder_stream,
};
use events::values::{Email, ShortText};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{
    Calls, GATED, Reply, TestApp, UNGATED, Who, alternative, check_body, expect_reasons, held_body,
    line, reached_call, reasons, unique_ref, unknown_laptop, with,
};

on_both_backends!(
    a_call_with_a_registered_requester_records_their_stakeholder_id,
    a_call_with_an_unregistered_requester_names_them,
    accepting_an_alternative_needs_a_reached_call_after_the_flag,
    an_alternative_names_its_call_and_says_whether_its_lines_are_supported,
    an_unclassified_category_is_reviewed_until_it_is_classified,
    a_non_technology_line_that_names_technology_is_reviewed,
    a_catalog_product_comes_from_any_approved_vendor_unless_it_names_one,
    every_action_is_done_once_per_idempotency_key,
    another_body_under_the_same_key_is_a_conflict,
    identical_actions_at_once_with_one_key_do_it_once,
    card_transaction_actions_are_done_once_per_key,
);

/// The requester of [`held_body`]'s purchases.
const REQUESTER: &str = "pat.lee@district.org";

/// A teacher's profile, as the stakeholder relations service records it.
fn teacher(name: &str, email: &str) -> StakeholderUpdated {
    StakeholderUpdated {
        name: ShortText::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        phone: None,
        role: StakeholderRole::Teacher,
        school_id: None,
    }
}

/// Registers a stakeholder as the stakeholder relations service would; their id.
async fn register(app: &TestApp, name: &str, email: &str) -> Uuid {
    let id = Uuid::now_v7();
    let registered = StakeholderRegistered::new(id, teacher(name, email));
    append_stakeholder(app, id, registered.into()).await;
    id
}

async fn change_email(app: &TestApp, id: Uuid, name: &str, email: &str) {
    append_stakeholder(app, id, teacher(name, email).into()).await;
}

async fn append_stakeholder(app: &TestApp, id: Uuid, event: StakeholderEvent) {
    let metadata = Metadata::new(Actor::new("it-jdoe", "it_staff"), "stakeholders");
    let stream = eventlog::StreamName::new(stakeholder_stream(id)).unwrap();
    app.store
        .append(&stream, ExpectedVersion::Any, vec![gate::domain::new_event(&event, metadata)])
        .await
        .unwrap();
}

/// A reached call that names nobody.
fn reached_call_naming_nobody() -> Value {
    json!({"requester_reached": true, "goal": "Laptops that run the robotics software"})
}

/// Sends `body` to `path` as IT with `Idempotency-Key: key`.
async fn post_with_key(app: &TestApp, path: &str, key: &str, body: Option<&Value>) -> Reply {
    let mut req = app.request(Who::ItStaff, Method::POST, path).header("Idempotency-Key", key);
    if let Some(body) = body {
        req = req.json(body);
    }
    Reply::read(req.send().await.unwrap()).await
}

fn key() -> String {
    format!("key-{}", Uuid::new_v4())
}

async fn a_call_with_a_registered_requester_records_their_stakeholder_id(app: TestApp) {
    app.seed().await;
    let pat = register(&app, "Pat Lee", "Pat.Lee@District.org").await;
    let other = register(&app, "Dana Reyes", "dana@district.org").await;
    let id = app.held_purchase().await;

    // Reached: the call is with the requester, by their id; no name needed.
    let view = app.act(&id, "calls", &reached_call_naming_nobody()).await.expect(201).clone();
    assert_eq!(view["calls"][0]["spoke_with"], json!({"stakeholder_id": pat}));

    // Saying it was someone else, while the requester is registered: refused, nothing written.
    let head = app.head().await;
    let someone_else =
        with(reached_call_naming_nobody(), "/spoke_with", json!({"stakeholder_id": other}));
    let problem =
        app.act(&id, "calls", &someone_else).await.expect_problem(422, "not-the-requester").clone();
    assert!(problem["detail"].as_str().unwrap().contains(&pat.to_string()), "{problem}");
    assert_eq!(app.head().await, head);

    // A call that did not reach the requester may name whom IT spoke with.
    let assistant = json!({"requester_reached": false, "notes": "Spoke with Dana instead",
                           "spoke_with": {"stakeholder_id": other}});
    let view = app.act(&id, "calls", &assistant).await.expect(201).clone();
    assert_eq!(view["calls"][1]["spoke_with"]["stakeholder_id"], json!(other));

    // When the requester's address moves to someone else, the requester is that person.
    change_email(&app, pat, "Pat Lee", "pat.lee@newschool.org").await;
    change_email(&app, other, "Dana Reyes", REQUESTER).await;
    let view = app.act(&id, "calls", &reached_call_naming_nobody()).await.expect(201).clone();
    assert_eq!(view["calls"][2]["spoke_with"], json!({"stakeholder_id": other}));

    // A finance system sees its purchase's calls, but not whom IT spoke with nor the call's
    // notes, and IT's people by their role only: what the feed gives it of the same events.
    assert_eq!(view["calls"][1]["notes"], "Spoke with Dana instead");
    assert_eq!(view["timeline"].as_array().unwrap().last().unwrap()["actor"], "it-jdoe");
    let seen = app.get(Who::Finance, &format!("/v1/purchases/{id}")).await;
    let seen = seen.expect(200);
    assert_eq!(seen["calls"][0]["requester_reached"], true);
    assert_eq!(seen["requester_email"], view["requester_email"]);
    assert!(seen["calls"][0].get("spoke_with").is_none(), "{seen}");
    assert!(seen["calls"][1].get("notes").is_none(), "{seen}");
    for entry in seen["timeline"].as_array().unwrap() {
        let by_finance = entry["actor_role"] == "finance";
        assert!(by_finance || entry["actor"] == entry["actor_role"], "{entry}");
    }
    app.stop().await;
}

async fn a_call_with_an_unregistered_requester_names_them(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let head = app.head().await;
    // Reached, but whom? Refused.
    app.act(&id, "calls", &reached_call_naming_nobody())
        .await
        .expect_problem(422, "reached-person-required");
    let name_only = with(reached_call_naming_nobody(), "/spoke_with", json!({"name": "Pat Lee"}));
    app.act(&id, "calls", &name_only).await.expect_problem(422, "reached-person-required");
    // A registered stakeholder is not this requester.
    let stakeholder = register(&app, "Dana Reyes", "dana@district.org").await;
    let head = head + 1;
    let named =
        with(reached_call_naming_nobody(), "/spoke_with", json!({"stakeholder_id": stakeholder}));
    app.act(&id, "calls", &named).await.expect_problem(422, "not-the-requester");
    // A malformed person is a validation problem.
    let bad = with(
        reached_call_naming_nobody(),
        "/spoke_with",
        json!({"name": "Pat", "phone": "call me"}),
    );
    let problem = app.act(&id, "calls", &bad).await.expect_problem(422, "validation").clone();
    assert_eq!(problem["errors"][0]["field"], "spoke_with.phone", "{problem}");
    assert_eq!(app.head().await, head, "refusals wrote nothing");

    // Named with an e-mail: logged, and it counts for call before cancel.
    let by_email = with(
        reached_call_naming_nobody(),
        "/spoke_with",
        json!({"name": "Pat Lee", "email": REQUESTER}),
    );
    let view = app.act(&id, "calls", &by_email).await.expect(201).clone();
    assert_eq!(view["calls"][0]["spoke_with"], json!({"name": "Pat Lee", "email": REQUESTER}));
    // Which a finance system does not see.
    let seen = app.get(Who::Finance, &format!("/v1/purchases/{id}")).await;
    assert!(seen.expect(200)["calls"][0].get("spoke_with").is_none());
    app.propose(&id).await;
    assert_eq!(app.purchase(&id).await["cancellable"], true);

    // Not in the future (beyond five minutes of skew), not before the flag.
    let flagged_at = view["flagged_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
    for (at, slug) in [
        (Utc::now() + Duration::minutes(30), "call-in-future"),
        (flagged_at - Duration::minutes(1), "call-before-flag"),
    ] {
        let call = with(reached_call(), "/occurred_at", json!(at.to_rfc3339()));
        app.act(&id, "calls", &call).await.expect_problem(422, slug);
    }
    app.stop().await;
}

async fn accepting_an_alternative_needs_a_reached_call_after_the_flag(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let alt = app.propose(&id).await;
    let accept = format!("/v1/purchases/{id}/alternatives/{alt}/accept");

    // Not before any call, nor after one that did not reach the requester.
    let head = app.head().await;
    let problem = app.post(Who::ItStaff, &accept, &json!({})).await;
    let detail =
        problem.expect_problem(409, "call-required")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("replaces what they asked for"), "{detail}");
    assert_eq!(app.head().await, head, "a refusal writes nothing");
    let voicemail = json!({"requester_reached": false, "notes": "Left a voicemail"});
    app.act(&id, "calls", &voicemail).await.expect(201);
    app.post(Who::ItStaff, &accept, &json!({})).await.expect_problem(409, "call-required");
    assert_eq!(app.purchase(&id).await["status"], "held");

    // After a call that reached the requester: approved as amended.
    app.reached_call(&id).await;
    let view = app.post(Who::ItStaff, &accept, &json!({})).await.expect(200).clone();
    assert_eq!(view["status"], "approved");
    assert_eq!(view["approval"]["alternative_id"], json!(alt));
    app.stop().await;
}

async fn an_alternative_names_its_call_and_says_whether_its_lines_are_supported(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let view = app.reached_call(&id).await;
    let call_id = view["calls"][0]["call_id"].clone();

    // Discussed in that call, with supported lines.
    let discussed = with(alternative(), "/call_id", call_id.clone());
    let view = app.act(&id, "alternatives", &discussed).await.expect(201).clone();
    let proposed = &view["alternatives"][0];
    assert_eq!(proposed["call_id"], call_id);
    assert_eq!(proposed["assessment"]["supported"], true);
    assert_eq!(reasons(&proposed["assessment"]), expect_reasons(&[("in-catalog", Some(0))]));
    assert_eq!(proposed["assessment"]["policy_version"], view["policy_version"]);

    // Lines that are themselves unsupported say so.
    let unsupported = with(
        alternative(),
        "/lines",
        json!([
            unknown_laptop(),
            line(None, "Standing desk", "furniture", 1, "300.00"),
            line(None, "Label maker", "gadgets", 1, "40.00")
        ]),
    );
    let view = app.act(&id, "alternatives", &unsupported).await.expect(201).clone();
    let assessment = &view["alternatives"][1]["assessment"];
    assert_eq!(assessment["supported"], false);
    assert_eq!(
        reasons(assessment),
        expect_reasons(&[
            ("not-in-catalog", Some(0)),
            ("not-technology", Some(1)),
            ("unclassified-category", Some(2)),
        ])
    );
    // Without lines, there is nothing to judge.
    let advice = json!({"description": "Wait for the district refresh in January"});
    let view = app.act(&id, "alternatives", &advice).await.expect(201).clone();
    assert!(view["alternatives"][2].get("assessment").is_none());

    // A call of another purchase, or none at all, is not this purchase's.
    let head = app.head().await;
    let unknown = with(alternative(), "/call_id", json!(Uuid::new_v4()));
    app.act(&id, "alternatives", &unknown).await.expect_problem(422, "call-not-found");
    let malformed = with(alternative(), "/call_id", json!("yesterday's"));
    app.act(&id, "alternatives", &malformed).await.expect_problem(422, "validation");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

/// A check for `lines` at the gated (or ungated) school.
fn check_of(lines: Value, school: &str) -> Value {
    with(with(check_body(&unique_ref()), "/lines", lines), "/school_id", json!(school))
}

async fn an_unclassified_category_is_reviewed_until_it_is_classified(app: TestApp) {
    app.seed().await;
    let globes = || json!([line(None, "Classroom globe", "classroom-decor", 2, "45.00")]);
    // Neither technology nor not: held for a gated school, advisory otherwise; never approved.
    let answer = TestApp::decided(&app.check(&check_of(globes(), GATED)).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("unclassified-category", Some(0))]));
    let detail = answer["reasons"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("classroom-decor") && detail.contains("neither"), "{detail}");
    let answer = TestApp::decided(&app.check(&check_of(globes(), UNGATED)).await, "advisory");
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[("unclassified-category", Some(0)), ("school-not-gated", None)])
    );

    // IT classifies the category once; later checks follow it.
    let version = app.catalog_version().await;
    let catalog = app
        .put(Who::ItStaff, "/v1/catalog/categories/classroom-decor", &json!({"technology": false}))
        .await
        .expect(200)
        .clone();
    assert_eq!(catalog["version"], version + 1);
    let listed = catalog["policy"]["non_technology_categories"].as_array().unwrap();
    assert!(listed.contains(&json!("classroom-decor")), "{catalog}");
    let answer = TestApp::decided(&app.check(&check_of(globes(), GATED)).await, "approved");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-technology", Some(0))]));
    // Saying it again changes nothing.
    app.put(Who::ItStaff, "/v1/catalog/categories/classroom-decor", &json!({"technology": false}))
        .await
        .expect(200);
    assert_eq!(app.catalog_version().await, version + 1);
    // In a path a category is its slug alone, as documented: nothing around it to trim.
    for path in ["%20classroom-decor", "classroom-decor%0D", &"c".repeat(65)] {
        app.put(
            Who::ItStaff,
            &format!("/v1/catalog/categories/{path}"),
            &json!({"technology": false}),
        )
        .await
        .expect_problem(400, "invalid-path");
    }
    assert_eq!(app.catalog_version().await, version + 1);
    // And a category may be classified as technology.
    app.put(Who::ItStaff, "/v1/catalog/categories/classroom-decor", &json!({"technology": true}))
        .await
        .expect(200);
    let answer = TestApp::decided(&app.check(&check_of(globes(), GATED)).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-in-catalog", Some(0))]));
    // Both lists at once is refused.
    let both = with(crate::common::policy(), "/non_technology_categories", json!(["laptops"]));
    app.put(Who::ItStaff, "/v1/catalog/policy", &both)
        .await
        .expect_problem(422, "category-in-both-lists");
    app.stop().await;
}

async fn a_non_technology_line_that_names_technology_is_reviewed(app: TestApp) {
    app.seed().await;
    // A laptop filed under office supplies does not slip through.
    let laptop = json!([line(
        None,
        "Dell Laptops (2) for the front office",
        "office-supplies",
        2,
        "650.00"
    )]);
    let answer = TestApp::decided(&app.check(&check_of(laptop.clone(), GATED)).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("looks-like-technology", Some(0))]));
    let detail = answer["reasons"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("\"laptop\"") && detail.contains("whole words"), "{detail}");
    // Whole words only: tablespoons are not tablets.
    let spoons = json!([line(None, "Tablespoons, 3 boxes", "office-supplies", 3, "4.00")]);
    let answer = TestApp::decided(&app.check(&check_of(spoons, GATED)).await, "approved");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-technology", Some(0))]));
    // The policy's own terms replace the defaults.
    let policy = with(crate::common::policy(), "/technology_terms", json!(["label maker"]));
    let catalog = app.put(Who::ItStaff, "/v1/catalog/policy", &policy).await.expect(200).clone();
    assert_eq!(catalog["policy"]["technology_terms"], json!(["label maker"]));
    TestApp::decided(&app.check(&check_of(laptop, GATED)).await, "approved");
    let labels = json!([line(None, "Label Makers", "office-supplies", 1, "40.00")]);
    let answer = TestApp::decided(&app.check(&check_of(labels, UNGATED)).await, "advisory");
    assert_eq!(answer["reasons"][0]["code"], "looks-like-technology");
    // Left out, the terms are the defaults again.
    let catalog = app
        .put(Who::ItStaff, "/v1/catalog/policy", &crate::common::policy())
        .await
        .expect(200)
        .clone();
    let terms = catalog["policy"]["technology_terms"].as_array().unwrap();
    assert!(terms.contains(&json!("Chromebook")) && terms.contains(&json!("3D printer")));
    app.stop().await;
}

async fn a_catalog_product_comes_from_any_approved_vendor_unless_it_names_one(app: TestApp) {
    app.seed().await;
    app.put_vendor("cdw", "CDW Education", true).await;
    // LAT-5440 names Dell: bought from CDW, another approved vendor, it is reviewed.
    let from_cdw = with(check_body(&unique_ref()), "/vendor", json!("CDW Education"));
    let answer = TestApp::decided(&app.check(&from_cdw).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-from-catalog-vendor", Some(0))]));
    let detail = answer["reasons"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("only from Dell Technologies"), "{detail}");
    // A product without a vendor may come from any approved vendor.
    let body = json!({"name": "Chromebook 3110", "category": "laptops",
                      "unit_price": "289.00", "currency": "USD"});
    let catalog =
        app.put(Who::ItStaff, "/v1/catalog/products/CB-3110", &body).await.expect(200).clone();
    let product = catalog["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == "CB-3110")
        .unwrap()
        .clone();
    assert!(product.get("vendor_id").is_none(), "{product}");
    let chromebooks = json!([line(Some("CB-3110"), "Chromebook 3110", "laptops", 3, "289.00")]);
    for vendor in ["CDW Education", "Dell"] {
        let body = with(
            with(check_body(&unique_ref()), "/lines", chromebooks.clone()),
            "/vendor",
            json!(vendor),
        );
        let answer = TestApp::decided(&app.check(&body).await, "approved");
        assert_eq!(reasons(&answer), expect_reasons(&[("in-catalog", Some(0))]));
    }
    // But not from a vendor that is not approved.
    let body = with(
        with(check_body(&unique_ref()), "/lines", chromebooks),
        "/vendor",
        json!("Gadget Barn"),
    );
    let answer = TestApp::decided(&app.check(&body).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("vendor-not-approved", None)]));
    // A vendor the product names must be on the list.
    let unknown = with(body_of_product(), "/vendor_id", json!("hp"));
    app.put(Who::ItStaff, "/v1/catalog/products/HP-1", &unknown)
        .await
        .expect_problem(422, "unknown-vendor");
    app.stop().await;
}

fn body_of_product() -> Value {
    json!({"name": "EliteBook", "category": "laptops"})
}

async fn every_action_is_done_once_per_idempotency_key(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let base = format!("/v1/purchases/{id}");

    // A call: the same key and body again give the first answer and write nothing.
    let k = key();
    let first = post_with_key(&app, &format!("{base}/calls"), &k, Some(&reached_call())).await;
    let first_view = first.expect(201).clone();
    assert_eq!(first.header("idempotent-replayed"), "");
    let head = app.head().await;
    let again = post_with_key(&app, &format!("{base}/calls"), &k, Some(&reached_call())).await;
    assert_eq!(again.header("idempotent-replayed"), "true");
    let again_view = again.expect(201);
    assert_eq!(again_view["calls"], first_view["calls"]);
    assert_eq!(again_view["version"], first_view["version"]);
    assert_eq!(app.head().await, head, "a repeat writes nothing");

    // An alternative: likewise, and the answer is the purchase as the first request left it.
    let k = key();
    let path = format!("{base}/alternatives");
    let first = post_with_key(&app, &path, &k, Some(&alternative())).await.expect(201).clone();
    app.act(&id, "calls", &reached_call()).await.expect(201);
    let head = app.head().await;
    let again = post_with_key(&app, &path, &k, Some(&alternative())).await;
    assert_eq!(again.expect(201)["version"], first["version"]);
    assert_eq!(again.expect(201)["alternatives"], first["alternatives"]);
    assert_eq!(app.head().await, head);
    let alt = first["alternatives"][0]["alternative_id"].as_str().unwrap().to_owned();

    // Cancelling (the purchase has a reached call and an alternative by now), then approving
    // and accepting on purchases of their own.
    let k = key();
    let reason = json!({"reason": "The requester will use the district pool"});
    let cancelled = post_with_key(&app, &format!("{base}/cancel"), &k, Some(&reason)).await;
    assert_eq!(cancelled.expect(200)["status"], "cancelled");
    let head = app.head().await;
    let again = post_with_key(&app, &format!("{base}/cancel"), &k, Some(&reason)).await;
    assert_eq!(again.expect(200)["status"], "cancelled", "not 409 invalid-state: a repeat");
    assert_eq!(app.head().await, head);
    // Without the key, a second cancel is what it always was.
    app.act(&id, "cancel", &reason).await.expect_problem(409, "invalid-state");
    assert_eq!(app.purchase(&id).await["alternatives"][0]["alternative_id"], json!(alt));

    let approved = app.held_purchase().await;
    let k = key();
    let path = format!("/v1/purchases/{approved}/approve");
    post_with_key(&app, &path, &k, None).await.expect(200);
    let head = app.head().await;
    assert_eq!(post_with_key(&app, &path, &k, None).await.expect(200)["status"], "approved");
    assert_eq!(app.head().await, head);

    let amended = app.held_purchase().await;
    app.reached_call(&amended).await;
    let alt = app.propose(&amended).await;
    let k = key();
    let path = format!("/v1/purchases/{amended}/alternatives/{alt}/accept");
    post_with_key(&app, &path, &k, None).await.expect(200);
    let head = app.head().await;
    assert_eq!(post_with_key(&app, &path, &k, None).await.expect(200)["status"], "approved");
    assert_eq!(app.head().await, head);
    assert_eq!(app.events_of_type("alternative-accepted").await.len(), 1);

    // A malformed key is refused before anything is done.
    let head = app.head().await;
    post_with_key(
        &app,
        &format!("/v1/purchases/{amended}/calls"),
        "has spaces",
        Some(&reached_call()),
    )
    .await
    .expect_problem(400, "invalid-header");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn another_body_under_the_same_key_is_a_conflict(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let other = app.held_purchase().await;
    let k = key();
    post_with_key(&app, &format!("/v1/purchases/{id}/calls"), &k, Some(&reached_call()))
        .await
        .expect(201);
    let head = app.head().await;
    // Another body, another action, another purchase: each a conflict, none written.
    let voicemail = json!({"requester_reached": false, "notes": "Voicemail"});
    for (path, body) in [
        (format!("/v1/purchases/{id}/calls"), voicemail),
        (format!("/v1/purchases/{id}/alternatives"), alternative()),
        (format!("/v1/purchases/{other}/calls"), reached_call()),
    ] {
        let reply = post_with_key(&app, &path, &k, Some(&body)).await;
        let detail = reply.expect_problem(409, "idempotency-conflict")["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(detail.contains(&format!("/v1/purchases/{id}/calls")), "{detail}");
    }
    assert_eq!(app.head().await, head);
    // Keys are per caller: another IT person's same key is theirs.
    let req = app
        .request(Who::Admin, Method::POST, &format!("/v1/purchases/{id}/calls"))
        .header("Idempotency-Key", &k)
        .json(&reached_call());
    Reply::read(req.send().await.unwrap()).await.expect(201);
    // A finance system's check key is another request too.
    let check_key = key();
    let check = |body: Value| {
        app.request(Who::Finance, Method::POST, "/v1/purchase-checks")
            .header("Idempotency-Key", &check_key)
            .json(&body)
            .send()
    };
    Reply::read(check(held_body(&unique_ref())).await.unwrap()).await.expect(201);
    app.stop().await;
}

async fn identical_actions_at_once_with_one_key_do_it_once(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let k = key();
    let path = format!("/v1/purchases/{id}/calls");
    let call = reached_call();
    let replies = join_all((0..12).map(|_| post_with_key(&app, &path, &k, Some(&call)))).await;
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let fresh = replies.iter().filter(|r| r.header("idempotent-replayed").is_empty()).count();
    assert_eq!(fresh, 1, "one did it, the others were repeats");
    let view = app.purchase(&id).await;
    assert_eq!(view["calls"].as_array().unwrap().len(), 1, "{view:#}");
    for reply in &replies {
        assert_eq!(reply.body["calls"], view["calls"]);
    }
    assert_eq!(app.events_of_type("idempotent-request-recorded").await.len(), 1);
    app.stop().await;
}

async fn card_transaction_actions_are_done_once_per_key(app: TestApp) {
    app.seed_cards().await;
    let file = include_str!("../fixtures/statement-procgate.csv");
    app.statement("", file).await.expect(201);
    let unchecked = app.transactions("status=unchecked_technology").await;
    let id = unchecked[0]["transaction_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/card-transactions/{id}/outreach");
    let missed = json!({"holder_reached": false, "notes": "Voicemail"});
    let k = key();
    let first = post_with_key(&app, &path, &k, Some(&missed)).await;
    assert_eq!(first.expect(201)["outreach"].as_array().unwrap().len(), 1);
    let head = app.head().await;
    let again = post_with_key(&app, &path, &k, Some(&missed)).await;
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!(again.expect(201)["outreach"].as_array().unwrap().len(), 1);
    assert_eq!(app.head().await, head, "a repeat writes nothing");
    let reached = json!({"holder_reached": true, "notes": "Will loan one"});
    post_with_key(&app, &path, &k, Some(&reached))
        .await
        .expect_problem(409, "idempotency-conflict");
    assert_eq!(app.head().await, head);
    app.stop().await;
}
