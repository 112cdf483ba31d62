//! Read-your-writes: what was acknowledged before a request is what the request sees.

use serde_json::json;

use crate::common::{
    Calls, TestApp, Who, check_body, expect_reasons, held_body, reasons, unique_ref, with,
};

on_both_backends!(
    a_school_signing_is_seen_by_the_next_check,
    a_withdrawal_is_seen_by_the_next_check,
    a_catalog_change_is_seen_by_the_next_check,
    the_list_shows_a_check_at_once,
    the_list_shows_an_action_at_once,
    concurrent_catalog_changes_all_land,
    concurrent_distinct_checks_all_land,
);

async fn a_school_signing_is_seen_by_the_next_check(app: TestApp) {
    app.seed().await;
    // A new school, registered and signed just now (as the stakeholder relations service
    // would), and checked at once, over and over.
    for i in 0..5 {
        let school = format!("new-school-{i}");
        app.register_school(&school, &format!("New School {i}")).await;
        let body = with(held_body(&unique_ref()), "/school_id", json!(school));
        TestApp::decided(&app.check(&body).await, "advisory");
        app.sign_agreement(&school).await;
        let body = with(held_body(&unique_ref()), "/school_id", json!(school));
        let answer = TestApp::decided(&app.check(&body).await, "held");
        assert_eq!(answer["school_gated"], true);
    }
    app.stop().await;
}

async fn a_withdrawal_is_seen_by_the_next_check(app: TestApp) {
    app.seed().await;
    let school = crate::common::GATED;
    TestApp::decided(&app.check(&held_body(&unique_ref())).await, "held");
    app.withdraw_agreement(school).await;
    let answer = TestApp::decided(&app.check(&held_body(&unique_ref())).await, "advisory");
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[("not-in-catalog", Some(0)), ("school-not-gated", None)])
    );
    // The list's view of the school follows too.
    let list = app.get(Who::ItStaff, "/v1/purchases").await;
    let purchases = list.expect(200)["purchases"].as_array().unwrap().clone();
    assert!(purchases.iter().all(|p| p["school_gated_now"] == false), "{purchases:#?}");
    // Signing again gates it again.
    app.sign_agreement(school).await;
    TestApp::decided(&app.check(&held_body(&unique_ref())).await, "held");
    app.stop().await;
}

async fn a_catalog_change_is_seen_by_the_next_check(app: TestApp) {
    app.seed().await;
    for i in 0..5 {
        let sku = format!("NEW-{i}");
        let body = with(check_body(&unique_ref()), "/lines/0/sku", json!(sku));
        TestApp::decided(&app.check(&body).await, "held");
        let catalog = app.put_product(&sku, "A new laptop").await;
        let body = with(check_body(&unique_ref()), "/lines/0/sku", json!(sku));
        let answer = TestApp::decided(&app.check(&body).await, "approved");
        assert_eq!(answer["policy_version"], catalog["version"]);
    }
    // A vendor losing its approval, likewise.
    app.put_vendor("dell", "Dell Technologies", false).await;
    TestApp::decided(&app.check(&check_body(&unique_ref())).await, "held");
    app.stop().await;
}

async fn the_list_shows_a_check_at_once(app: TestApp) {
    app.seed().await;
    for n in 1..=10 {
        let id = app.held_purchase().await;
        for who in [Who::ItStaff, Who::Finance] {
            let list = app.get(who, "/v1/purchases?status=held").await;
            let listed = list.expect(200)["purchases"].as_array().unwrap().clone();
            assert_eq!(listed.len(), n, "{who:?}");
            assert_eq!(listed.last().unwrap()["purchase_id"], id, "{who:?}");
        }
    }
    app.stop().await;
}

async fn the_list_shows_an_action_at_once(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    app.reached_call(&id).await;
    let list = app.get(Who::ItStaff, "/v1/purchases").await;
    let listed = list.expect(200)["purchases"][0].clone();
    assert_eq!(listed["calls"], 1);
    assert!(listed["first_reached_at"].is_string());
    app.propose(&id).await;
    app.act(&id, "cancel", &json!({"reason": "Unsupported"})).await.expect(200);
    let list = app.get(Who::ItStaff, "/v1/purchases").await;
    let listed = list.expect(200)["purchases"][0].clone();
    assert_eq!(listed["status"], "cancelled");
    assert_eq!(listed["alternatives"], 1);
    assert!(listed["resolved_at"].is_string());
    let queue = app.get(Who::ItStaff, "/v1/purchases?status=held").await;
    assert_eq!(queue.expect(200)["purchases"], json!([]));
    app.stop().await;
}

async fn concurrent_catalog_changes_all_land(app: TestApp) {
    app.seed().await;
    let version = app.catalog_version().await;
    let client = &app;
    let puts = (0..8).map(|i| async move {
        let body =
            json!({"name": format!("Model {i}"), "category": "laptops", "vendor_id": "dell"});
        client.put(Who::ItStaff, &format!("/v1/catalog/products/M-{i}"), &body).await
    });
    for reply in futures::future::join_all(puts).await {
        reply.expect(200);
    }
    assert_eq!(app.catalog_version().await, version + 8);
    app.stop().await;
}

async fn concurrent_distinct_checks_all_land(app: TestApp) {
    app.seed().await;
    let checks: Vec<_> = (0..40).map(|_| held_body(&unique_ref())).collect();
    let replies = futures::future::join_all(checks.iter().map(|body| app.check(body))).await;
    for reply in &replies {
        reply.expect(201);
    }
    let list = app.get(Who::ItStaff, "/v1/purchases?status=held").await;
    assert_eq!(list.expect(200)["purchases"].as_array().unwrap().len(), 40);
    app.stop().await;
}
