//! Every reason code and every decision, as a finance system sees them.

use serde_json::{Value, json};

use crate::common::{
    Calls, TestApp, UNGATED, Who, check_body, expect_reasons, held_body, laptops, line, paper,
    reasons, unique_ref, unknown_laptop, with,
};

on_both_backends!(
    supported_technology_is_approved,
    the_purchase_records_the_answer,
    non_technology_is_approved_whatever_the_vendor,
    a_technology_line_not_in_the_catalog_is_held,
    a_technology_line_without_a_sku_is_not_in_the_catalog,
    an_unapproved_vendor_is_held,
    over_the_review_threshold_is_held_even_when_supported,
    an_ungated_school_gets_advisory,
    a_technology_merchant_category_code_makes_every_line_technology,
    every_reason_names_its_line,
    the_policy_version_is_the_catalog_version,
);

async fn supported_technology_is_approved(app: TestApp) {
    app.seed().await;
    let reply = app.check(&check_body("REQ-1001")).await;
    let answer = TestApp::decided(&reply, "approved");
    assert_eq!(reasons(&answer), expect_reasons(&[("in-catalog", Some(0))]));
    assert_eq!(answer["total"], "1798.00");
    assert_eq!(answer["currency"], "USD");
    assert_eq!(answer["school_gated"], true);
    let id = answer["purchase_id"].as_str().unwrap();
    assert_eq!(answer["links"]["purchase"], format!("/v1/purchases/{id}"));
    assert_eq!(reply.header("location"), format!("/v1/purchases/{id}"));
    let detail = answer["reasons"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("LAT-5440"), "{detail}");
    app.stop().await;
}

async fn the_purchase_records_the_answer(app: TestApp) {
    app.seed().await;
    let body = with(held_body("REQ-1002"), "/merchant_category_code", json!("5732"));
    let body = with(body, "/payment_method", json!("p_card"));
    let answer = TestApp::decided(&app.check(&body).await, "held");
    let id = answer["purchase_id"].as_str().unwrap();
    let view = app.purchase(id).await;
    assert_eq!(view["status"], "held");
    assert_eq!(view["decision"], "held");
    assert_eq!(view["reasons"], answer["reasons"]);
    assert_eq!(view["policy_version"], answer["policy_version"]);
    assert_eq!(view["total"], answer["total"]);
    for field in [
        "external_ref",
        "school_id",
        "requester_email",
        "vendor",
        "payment_method",
        "merchant_category_code",
        "currency",
        "purpose",
    ] {
        assert_eq!(view[field], body[field], "{field}");
    }
    assert_eq!(view["lines"][0]["sku"], "XPS-9999");
    assert_eq!(view["lines"][0]["unit_price"], "1299.00");
    assert_eq!(view["submitted_by"], Who::Finance.subject());
    assert!(view["flagged_at"].is_string(), "{view:#}");
    assert_eq!(view["cancellable"], false);
    let timeline: Vec<&str> =
        view["timeline"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["purchase-submitted", "purchase-decided"]);
    assert_eq!(view["timeline"][0]["actor"], Who::Finance.subject());
    assert_eq!(view["timeline"][0]["actor_role"], "finance");
    assert_eq!(view["version"], 2);
    app.stop().await;
}

async fn non_technology_is_approved_whatever_the_vendor(app: TestApp) {
    app.seed().await;
    let body = with(check_body(&unique_ref()), "/vendor", json!("Paper Palace"));
    let big_paper = line(None, "Card stock", "office-supplies", 2000, "9.99");
    let body = with(body, "/lines", json!([paper(), big_paper]));
    let answer = TestApp::decided(&app.check(&body).await, "approved");
    // Not technology: neither the vendor nor the threshold (19980.00 + 45.00) matters.
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[("not-technology", Some(0)), ("not-technology", Some(1))])
    );
    assert_eq!(answer["total"], "20025.00");
    app.stop().await;
}

async fn a_technology_line_not_in_the_catalog_is_held(app: TestApp) {
    app.seed().await;
    let answer = TestApp::decided(&app.check(&held_body(&unique_ref())).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-in-catalog", Some(0))]));
    assert!(answer["reasons"][0]["detail"].as_str().unwrap().contains("XPS-9999"));
    assert_eq!(answer["school_gated"], true);
    app.stop().await;
}

async fn a_technology_line_without_a_sku_is_not_in_the_catalog(app: TestApp) {
    app.seed().await;
    let body = with(check_body(&unique_ref()), "/lines/0/sku", Value::Null);
    let answer = TestApp::decided(&app.check(&body).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-in-catalog", Some(0))]));
    // Absent works like null.
    let body = crate::common::without(check_body(&unique_ref()), "/lines/0/sku");
    let answer = TestApp::decided(&app.check(&body).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-in-catalog", Some(0))]));
    app.stop().await;
}

async fn an_unapproved_vendor_is_held(app: TestApp) {
    app.seed().await;
    // Listed but not approved, and not listed at all: the same answer.
    for vendor in ["Gadget Barn", "gadget-barn", "Laptops R Us"] {
        let body = with(check_body(&unique_ref()), "/vendor", json!(vendor));
        let body = with(body, "/lines", json!([laptops(1), paper()]));
        let answer = TestApp::decided(&app.check(&body).await, "held");
        assert_eq!(
            reasons(&answer),
            expect_reasons(&[("not-technology", Some(1)), ("vendor-not-approved", None)]),
            "{vendor}"
        );
    }
    // The approved vendor by id or by name, in any case.
    for vendor in ["dell", "DELL TECHNOLOGIES", "Dell Technologies"] {
        let body = with(check_body(&unique_ref()), "/vendor", json!(vendor));
        TestApp::decided(&app.check(&body).await, "approved");
    }
    app.stop().await;
}

async fn over_the_review_threshold_is_held_even_when_supported(app: TestApp) {
    app.seed().await;
    // 5 × 899.00 + 505.00 of paper = 5000.00: not over.
    let exactly = line(None, "Paper", "office-supplies", 1, "505.00");
    let body = with(check_body(&unique_ref()), "/lines", json!([laptops(5), exactly]));
    let answer = TestApp::decided(&app.check(&body).await, "approved");
    assert_eq!(answer["total"], "5000.00");

    let body = with(check_body(&unique_ref()), "/lines", json!([laptops(6)]));
    let answer = TestApp::decided(&app.check(&body).await, "held");
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[("in-catalog", Some(0)), ("over-review-threshold", None)])
    );
    assert_eq!(answer["total"], "5394.00");
    app.stop().await;
}

async fn an_ungated_school_gets_advisory(app: TestApp) {
    app.seed().await;
    let body = with(held_body(&unique_ref()), "/school_id", json!(UNGATED));
    let answer = TestApp::decided(&app.check(&body).await, "advisory");
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[("not-in-catalog", Some(0)), ("school-not-gated", None)])
    );
    assert_eq!(answer["school_gated"], false);
    // Supported technology is approved whether or not the school signed.
    let body = with(check_body(&unique_ref()), "/school_id", json!(UNGATED));
    TestApp::decided(&app.check(&body).await, "approved");
    app.stop().await;
}

async fn a_technology_merchant_category_code_makes_every_line_technology(app: TestApp) {
    app.seed().await;
    let body = with(check_body(&unique_ref()), "/lines", json!([paper(), laptops(1)]));
    let body = with(body, "/payment_method", json!("p_card"));

    let at_computer_store = with(body.clone(), "/merchant_category_code", json!("5734"));
    let answer = TestApp::decided(&app.check(&at_computer_store).await, "held");
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[("not-in-catalog", Some(0)), ("in-catalog", Some(1))])
    );
    let detail = answer["reasons"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("merchant category code 5734"), "{detail}");

    let at_book_store = with(body, "/merchant_category_code", json!("5942"));
    let at_book_store = with(at_book_store, "/external_ref", json!(unique_ref()));
    let answer = TestApp::decided(&app.check(&at_book_store).await, "approved");
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[("not-technology", Some(0)), ("in-catalog", Some(1))])
    );

    // By category alone, without any code: a tablet is technology.
    let tablet = line(None, "Tablet", "tablets", 1, "300.00");
    let body = with(check_body(&unique_ref()), "/lines", json!([tablet]));
    let answer = TestApp::decided(&app.check(&body).await, "held");
    assert_eq!(reasons(&answer), expect_reasons(&[("not-in-catalog", Some(0))]));
    app.stop().await;
}

async fn every_reason_names_its_line(app: TestApp) {
    app.seed().await;
    let body = with(check_body(&unique_ref()), "/school_id", json!(UNGATED));
    let body = with(body, "/vendor", json!("Gadget Barn"));
    let body = with(body, "/lines", json!([paper(), unknown_laptop(), laptops(9), paper()]));
    let answer = TestApp::decided(&app.check(&body).await, "advisory");
    assert_eq!(
        reasons(&answer),
        expect_reasons(&[
            ("not-technology", Some(0)),
            ("not-in-catalog", Some(1)),
            ("not-technology", Some(3)),
            ("vendor-not-approved", None),
            ("over-review-threshold", None),
            ("school-not-gated", None),
        ])
    );
    for reason in answer["reasons"].as_array().unwrap() {
        let detail = reason["detail"].as_str().unwrap();
        assert!(detail.len() > 20 && detail.ends_with('.'), "{reason}");
    }
    app.stop().await;
}

async fn the_policy_version_is_the_catalog_version(app: TestApp) {
    app.seed().await;
    let version = app.catalog_version().await;
    let answer = TestApp::decided(&app.check(&check_body(&unique_ref())).await, "approved");
    assert_eq!(answer["policy_version"], version);

    // Take the laptop out of the catalog: the version moves on, and the answer changes.
    let catalog = app
        .send(Who::ItStaff, reqwest::Method::DELETE, "/v1/catalog/products/LAT-5440", None)
        .await;
    let catalog = catalog.expect(200);
    assert_eq!(catalog["version"], version + 1);
    assert_eq!(app.catalog_version().await, version + 1);
    let answer = TestApp::decided(&app.check(&check_body(&unique_ref())).await, "held");
    assert_eq!(answer["policy_version"], version + 1);
    assert_eq!(reasons(&answer), expect_reasons(&[("not-in-catalog", Some(0))]));

    // Setting the same policy again changes nothing, so the version stays.
    let catalog = app.put(Who::ItStaff, "/v1/catalog/policy", &crate::common::policy()).await;
    assert_eq!(catalog.expect(200)["version"], version + 1);
    app.stop().await;
}
