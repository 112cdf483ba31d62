//! Bad input: every field of every body, malformed requests, and the domain's refusals. Each
//! gets a problem (never a 500) and writes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    Calls, GATED, Reply, TestApp, Who, check_body, laptops, line, unique_ref, with, without,
};

on_both_backends!(
    every_bad_field_of_a_check_is_named,
    every_missing_field_of_a_check_is_named,
    all_bad_fields_are_reported_at_once,
    a_check_has_1_to_500_lines,
    bad_calls_are_refused,
    bad_alternatives_are_refused,
    bad_cancels_and_approvals_are_refused,
    bad_catalog_changes_are_refused,
    malformed_requests_get_problems,
    authentication_comes_before_the_body,
    an_unknown_school_is_refused,
    the_currency_must_be_the_policys,
    a_total_past_the_maximum_is_refused,
    no_policy_no_answer,
);

/// Sends `body` to `path` as `who` and expects a `validation` problem naming `field`, with
/// nothing written.
async fn expect_invalid(app: &TestApp, method: Method, path: &str, body: &Value, field: &str) {
    let head = app.head().await;
    let reply = app.send(Who::ItStaff, method, path, Some(body)).await;
    assert_eq!(reply.status, 422, "{path} {body}: {}", reply.text);
    reply.expect_invalid(field);
    assert_eq!(app.head().await, head, "{path} {body} wrote something");
}

async fn expect_invalid_check(app: &TestApp, body: &Value, field: &str) {
    let head = app.head().await;
    let reply = app.check(body).await;
    assert_eq!(reply.status, 422, "{field}: {}", reply.text);
    reply.expect_invalid(field);
    assert_eq!(app.head().await, head, "{field}: a refused check wrote something");
}

async fn every_bad_field_of_a_check_is_named(app: TestApp) {
    app.seed().await;
    let long = |n: usize| json!("x".repeat(n));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/external_ref", json!(""), "external_ref"),
        ("/external_ref", json!("REQ 1"), "external_ref"),
        ("/external_ref", json!("R".repeat(129)), "external_ref"),
        ("/external_ref", json!(1001), "external_ref"),
        ("/school_id", json!("Lincoln Elem"), "school_id"),
        ("/school_id", json!("lincoln--elem"), "school_id"),
        ("/requester_email", json!("pat.lee"), "requester_email"),
        ("/requester_email", json!("pat lee@district.org"), "requester_email"),
        ("/vendor", json!("   "), "vendor"),
        ("/vendor", long(201), "vendor"),
        ("/vendor", json!("Dell\nInc"), "vendor"),
        ("/payment_method", json!("cash"), "payment_method"),
        ("/payment_method", json!(true), "payment_method"),
        ("/merchant_category_code", json!("573"), "merchant_category_code"),
        ("/merchant_category_code", json!("57a4"), "merchant_category_code"),
        ("/merchant_category_code", json!(5734), "merchant_category_code"),
        ("/currency", json!("usd"), "currency"),
        ("/currency", json!("XYZ"), "currency"),
        ("/lines", json!("laptops"), "lines"),
        ("/lines", json!({"sku": "LAT-5440"}), "lines"),
        ("/lines/0", json!("LAT-5440"), "lines[0]"),
        ("/lines/0/sku", json!("LAT 5440"), "lines[0].sku"),
        ("/lines/0/sku", json!(5440), "lines[0].sku"),
        ("/lines/0/description", json!(""), "lines[0].description"),
        ("/lines/0/description", long(201), "lines[0].description"),
        ("/lines/0/category", json!("laptops!"), "lines[0].category"),
        ("/lines/0/category", json!("lap tops"), "lines[0].category"),
        ("/lines/0/quantity", json!(0), "lines[0].quantity"),
        ("/lines/0/quantity", json!(-1), "lines[0].quantity"),
        ("/lines/0/quantity", json!(1.5), "lines[0].quantity"),
        ("/lines/0/quantity", json!(100_001), "lines[0].quantity"),
        ("/lines/0/quantity", json!(5_000_000_000_u64), "lines[0].quantity"),
        ("/lines/0/quantity", json!("2"), "lines[0].quantity"),
        ("/lines/0/unit_price", json!(899.0), "lines[0].unit_price"),
        ("/lines/0/unit_price", json!(899), "lines[0].unit_price"),
        ("/lines/0/unit_price", json!("899.001"), "lines[0].unit_price"),
        ("/lines/0/unit_price", json!("-899.00"), "lines[0].unit_price"),
        ("/lines/0/unit_price", json!("100000000.01"), "lines[0].unit_price"),
        ("/lines/0/unit_price", json!("1,299.00"), "lines[0].unit_price"),
        ("/lines/0/unit_price", json!("1e3"), "lines[0].unit_price"),
        ("/purpose", long(4001), "purpose"),
        ("/purpose", json!("Robotics\u{0007}club"), "purpose"),
        ("/purpose", json!(42), "purpose"),
    ];
    for (pointer, value, field) in cases {
        let body = with(check_body(&unique_ref()), pointer, value);
        expect_invalid_check(&app, &body, field).await;
    }
    // A bad line among good ones is named by its index.
    let body = with(check_body(&unique_ref()), "/lines", json!([laptops(1), laptops(1)]));
    let body = with(body, "/lines/1/quantity", json!(0));
    expect_invalid_check(&app, &body, "lines[1].quantity").await;
    // The body itself must be an object.
    let head = app.head().await;
    for body in [json!([]), json!("check"), json!(null)] {
        app.check(&body).await.expect_problem(422, "validation");
    }
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn every_missing_field_of_a_check_is_named(app: TestApp) {
    app.seed().await;
    for field in [
        "external_ref",
        "school_id",
        "requester_email",
        "vendor",
        "payment_method",
        "currency",
        "lines",
    ] {
        let body = without(check_body(&unique_ref()), &format!("/{field}"));
        expect_invalid_check(&app, &body, field).await;
        let body = with(check_body(&unique_ref()), &format!("/{field}"), Value::Null);
        expect_invalid_check(&app, &body, field).await;
    }
    for field in ["description", "category", "quantity", "unit_price"] {
        let body = without(check_body(&unique_ref()), &format!("/lines/0/{field}"));
        expect_invalid_check(&app, &body, &format!("lines[0].{field}")).await;
    }
    app.stop().await;
}

async fn all_bad_fields_are_reported_at_once(app: TestApp) {
    app.seed().await;
    let body = json!({
        "external_ref": "",
        "school_id": "Nope Nope",
        "requester_email": "x",
        "payment_method": "cash",
        "currency": "usd",
        "lines": [{"description": "", "category": "x y", "quantity": 0, "unit_price": 1}],
    });
    let reply = app.check(&body).await;
    reply.expect_problem(422, "validation");
    let mut fields = reply.invalid_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "currency",
            "external_ref",
            "lines[0].category",
            "lines[0].description",
            "lines[0].quantity",
            "lines[0].unit_price",
            "payment_method",
            "requester_email",
            "school_id",
            "vendor",
        ]
    );
    for error in reply.body["errors"].as_array().unwrap() {
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
    }
    app.stop().await;
}

async fn a_check_has_1_to_500_lines(app: TestApp) {
    app.seed().await;
    let paper = line(None, "Paper", "office-supplies", 1, "1.00");
    let body = with(check_body(&unique_ref()), "/lines", json!([]));
    expect_invalid_check(&app, &body, "lines").await;
    let body = with(check_body(&unique_ref()), "/lines", json!(vec![paper.clone(); 501]));
    expect_invalid_check(&app, &body, "lines").await;
    // 500 is fine.
    let body = with(check_body(&unique_ref()), "/lines", json!(vec![paper; 500]));
    let answer = TestApp::decided(&app.check(&body).await, "approved");
    assert_eq!(answer["reasons"].as_array().unwrap().len(), 500);
    assert_eq!(answer["reasons"][499]["line"], 499);
    assert_eq!(answer["total"], "500.00");
    app.stop().await;
}

async fn bad_calls_are_refused(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let path = format!("/v1/purchases/{id}/calls");
    let good = crate::common::reached_call();
    let cases: Vec<(Value, &str)> = vec![
        (without(good.clone(), "/requester_reached"), "requester_reached"),
        (with(good.clone(), "/requester_reached", json!("yes")), "requester_reached"),
        (with(good.clone(), "/requester_reached", json!(1)), "requester_reached"),
        (with(good.clone(), "/goal", json!("")), "goal"),
        (with(good.clone(), "/goal", json!("g".repeat(4001))), "goal"),
        (with(good.clone(), "/goal", json!(["learn"])), "goal"),
        (with(good.clone(), "/notes", json!("a\u{0000}b")), "notes"),
        (with(good.clone(), "/occurred_at", json!("yesterday")), "occurred_at"),
        (with(good.clone(), "/occurred_at", json!("2026-11-24 15:30")), "occurred_at"),
        (with(good.clone(), "/occurred_at", json!(1_700_000_000)), "occurred_at"),
        (json!([]), ""),
    ];
    for (body, field) in cases {
        expect_invalid(&app, Method::POST, &path, &body, field).await;
    }
    app.stop().await;
}

async fn bad_alternatives_are_refused(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let path = format!("/v1/purchases/{id}/alternatives");
    let good = crate::common::alternative();
    let cases: Vec<(Value, &str)> = vec![
        (without(good.clone(), "/description"), "description"),
        (with(good.clone(), "/description", json!(" ")), "description"),
        (with(good.clone(), "/description", json!("d".repeat(4001))), "description"),
        (with(good.clone(), "/lines", json!("one laptop")), "lines"),
        (with(good.clone(), "/lines/0/quantity", json!(0)), "lines[0].quantity"),
        (with(good.clone(), "/lines/0/unit_price", json!(1.5)), "lines[0].unit_price"),
        (with(good.clone(), "/lines/0/sku", json!("bad sku")), "lines[0].sku"),
        (with(good.clone(), "/lines", json!(vec![laptops(1); 501])), "lines"),
    ];
    for (body, field) in cases {
        expect_invalid(&app, Method::POST, &path, &body, field).await;
    }
    // Lines are optional.
    let view = app.post(Who::ItStaff, &path, &without(good, "/lines")).await;
    assert_eq!(view.expect(201)["alternatives"][0]["lines"], json!([]));
    app.stop().await;
}

async fn bad_cancels_and_approvals_are_refused(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    app.reached_call(&id).await;
    app.propose(&id).await;
    let cancel = format!("/v1/purchases/{id}/cancel");
    for body in [json!({}), json!({"reason": ""}), json!({"reason": 7}), json!({"reason": null})] {
        expect_invalid(&app, Method::POST, &cancel, &body, "reason").await;
    }
    let approve = format!("/v1/purchases/{id}/approve");
    for body in [json!({"note": 5}), json!({"note": "  "}), json!({"note": "n".repeat(4001)})] {
        expect_invalid(&app, Method::POST, &approve, &body, "note").await;
    }
    expect_invalid(&app, Method::POST, &approve, &json!("approve"), "").await;
    // None of it changed the purchase.
    assert_eq!(app.purchase(&id).await["status"], "held");
    app.stop().await;
}

async fn bad_catalog_changes_are_refused(app: TestApp) {
    app.seed().await;
    let product = json!({
        "name": "Latitude 7440", "category": "laptops", "vendor_id": "dell",
        "unit_price": "1099.00", "currency": "USD",
    });
    let path = "/v1/catalog/products/LAT-7440";
    let cases: Vec<(Value, &str)> = vec![
        (without(product.clone(), "/name"), "name"),
        (with(product.clone(), "/name", json!("")), "name"),
        (with(product.clone(), "/category", json!("lap_tops")), "category"),
        (without(product.clone(), "/category"), "category"),
        (with(product.clone(), "/vendor_id", json!("Dell Inc")), "vendor_id"),
        (with(product.clone(), "/unit_price", json!(1099)), "unit_price"),
        (with(product.clone(), "/unit_price", json!("-1")), "unit_price"),
        (with(product.clone(), "/currency", json!("dollars")), "currency"),
    ];
    for (body, field) in cases {
        expect_invalid(&app, Method::PUT, path, &body, field).await;
    }
    // The catalog's own rules.
    let head = app.head().await;
    let reply =
        app.put(Who::ItStaff, path, &with(product.clone(), "/vendor_id", json!("hp"))).await;
    reply.expect_problem(422, "unknown-vendor");
    let reply = app.put(Who::ItStaff, path, &without(product.clone(), "/currency")).await;
    reply.expect_problem(422, "incomplete-price");
    let reply = app.put(Who::ItStaff, path, &with(product, "/currency", json!("EUR"))).await;
    reply.expect_problem(422, "currency-mismatch");
    let reply = app.send(Who::ItStaff, Method::DELETE, "/v1/catalog/products/NOPE-1", None).await;
    reply.expect_problem(404, "not-found");
    let reply = app.put(Who::ItStaff, "/v1/catalog/products/bad%20sku", &json!({})).await;
    reply.expect_problem(400, "invalid-path");
    let reply = app.put(Who::ItStaff, "/v1/catalog/vendors/Dell%20Inc", &json!({})).await;
    reply.expect_problem(400, "invalid-path");
    assert_eq!(app.head().await, head);

    let vendor = json!({"name": "Lenovo", "approved": true});
    let path = "/v1/catalog/vendors/lenovo";
    for (body, field) in [
        (without(vendor.clone(), "/name"), "name"),
        (with(vendor.clone(), "/name", json!("n".repeat(201))), "name"),
        (with(vendor.clone(), "/approved", json!("yes")), "approved"),
        (without(vendor, "/approved"), "approved"),
    ] {
        expect_invalid(&app, Method::PUT, path, &body, field).await;
    }

    let policy = crate::common::policy();
    let path = "/v1/catalog/policy";
    for (body, field) in [
        (with(policy.clone(), "/technology_categories", json!("laptops")), "technology_categories"),
        (
            with(policy.clone(), "/technology_categories", json!(["lap tops"])),
            "technology_categories[0]",
        ),
        (with(policy.clone(), "/technology_mccs", json!([5734])), "technology_mccs[0]"),
        (with(policy.clone(), "/technology_mccs", json!(["5734", "57"])), "technology_mccs[1]"),
        (with(policy.clone(), "/review_threshold", json!(5000)), "review_threshold"),
        (without(policy.clone(), "/review_threshold"), "review_threshold"),
        (without(policy.clone(), "/currency"), "currency"),
        // The document's arrays are not nullable; the required ones may not be left out.
        (without(policy.clone(), "/technology_categories"), "technology_categories"),
        (with(policy.clone(), "/technology_mccs", json!(null)), "technology_mccs"),
        (
            with(policy.clone(), "/non_technology_categories", json!(null)),
            "non_technology_categories",
        ),
        (with(policy.clone(), "/technology_terms", json!(null)), "technology_terms"),
        (
            with(policy.clone(), "/technology_categories", json!(vec!["laptops"; 501])),
            "technology_categories",
        ),
    ] {
        expect_invalid(&app, Method::PUT, path, &body, field).await;
    }
    let head = app.head().await;
    let empty = with(policy.clone(), "/technology_categories", json!([]));
    let empty = with(empty, "/technology_mccs", json!([]));
    app.put(Who::ItStaff, path, &empty).await.expect_problem(422, "empty-policy");
    // Products are priced in USD: the policy cannot move to euros under them.
    let euros = with(policy, "/currency", json!("EUR"));
    app.put(Who::ItStaff, path, &euros).await.expect_problem(422, "currency-mismatch");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

/// Sends raw bytes with a content type (or none) as `who`.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut req = app.request(Who::Finance, method, path).body(body);
    if let Some(content_type) = content_type {
        req = req.header("content-type", content_type);
    }
    Reply::read(req.send().await.unwrap()).await
}

async fn malformed_requests_get_problems(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let head = app.head().await;
    let checks = "/v1/purchase-checks";
    let json_type = Some("application/json");

    raw(&app, Method::POST, checks, json_type, "{\"external_ref\": ")
        .await
        .expect_problem(400, "malformed-json");
    raw(&app, Method::POST, checks, json_type, "").await.expect_problem(400, "malformed-json");
    let body = serde_json::to_string(&check_body(&unique_ref())).unwrap();
    raw(&app, Method::POST, checks, Some("text/plain"), body.clone())
        .await
        .expect_problem(415, "unsupported-media-type");
    raw(&app, Method::POST, checks, None, body).await.expect_problem(415, "unsupported-media-type");
    let huge = format!("{{\"purpose\": \"{}\"}}", "x".repeat(300 * 1024));
    raw(&app, Method::POST, checks, json_type, huge).await.expect_problem(413, "payload-too-large");

    // The IT actions' bodies, the same way (approve's body is optional, so it is read by hand).
    for action in ["calls", "alternatives", "cancel", "approve"] {
        let path = format!("/v1/purchases/{id}/{action}");
        let reply = app
            .request(Who::ItStaff, Method::POST, &path)
            .header("content-type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap();
        Reply::read(reply).await.expect_problem(400, "malformed-json");
        let reply = app
            .request(Who::ItStaff, Method::POST, &path)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        Reply::read(reply).await.expect_problem(415, "unsupported-media-type");
    }
    let reply = app
        .request(Who::ItStaff, Method::PUT, "/v1/catalog/policy")
        .header("content-type", "application/json")
        .body("[1, 2")
        .send()
        .await
        .unwrap();
    Reply::read(reply).await.expect_problem(400, "malformed-json");

    // Paths and queries.
    app.get(Who::ItStaff, "/v1/purchases/not-a-uuid").await.expect_problem(400, "invalid-path");
    let bad = "/v1/purchases/not-a-uuid/calls";
    app.post(Who::ItStaff, bad, &crate::common::reached_call())
        .await
        .expect_problem(400, "invalid-path");
    let bad = format!("/v1/purchases/{id}/alternatives/nope/accept");
    app.post(Who::ItStaff, &bad, &json!({})).await.expect_problem(400, "invalid-path");
    for query in ["?status=lost", "?limit=0", "?limit=1001", "?limit=ten", "?after=-1"] {
        let reply = app.get(Who::ItStaff, &format!("/v1/purchases{query}")).await;
        reply.expect_problem(400, "invalid-query");
    }

    // Routes.
    app.get(Who::ItStaff, "/v1/nothing-here").await.expect_problem(404, "not-found");
    app.get(Who::ItStaff, "/v2/purchases").await.expect_problem(404, "not-found");
    app.get(Who::Finance, checks).await.expect_problem(405, "method-not-allowed");
    let reply = app.send(Who::ItStaff, Method::DELETE, "/v1/purchases", None).await;
    reply.expect_problem(405, "method-not-allowed");
    let reply = app.send(Who::ItStaff, Method::POST, "/v1/catalog", Some(&json!({}))).await;
    reply.expect_problem(405, "method-not-allowed");
    let reply = app.send(Who::ItStaff, Method::DELETE, &format!("/v1/purchases/{id}"), None).await;
    reply.expect_problem(405, "method-not-allowed");
    let reply = app.get(Who::ItStaff, &format!("/v1/purchases/{id}/cancel")).await;
    reply.expect_problem(405, "method-not-allowed");

    // A body over the limit where the body is optional (approve) is the same 413.
    let huge_note = format!("{{\"note\": \"{}\"}}", "x".repeat(300 * 1024));
    let reply = app
        .request(Who::ItStaff, Method::POST, &format!("/v1/purchases/{id}/approve"))
        .header("content-type", "application/json")
        .body(huge_note)
        .send()
        .await
        .unwrap();
    Reply::read(reply).await.expect_problem(413, "payload-too-large");

    assert_eq!(app.head().await, head, "a malformed request wrote something");
    app.stop().await;
}

async fn authentication_comes_before_the_body(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    let head = app.head().await;
    for path in ["/v1/purchase-checks".to_owned(), format!("/v1/purchases/{id}/approve")] {
        for (content_type, body) in [
            (Some("application/json"), "{oops".to_owned()),
            (Some("text/plain"), "{}".to_owned()),
            (None, "{}".to_owned()),
            (Some("application/json"), format!("\"{}\"", "x".repeat(300 * 1024))),
        ] {
            let mut req = app.client.post(app.url(&path)).body(body);
            if let Some(content_type) = content_type {
                req = req.header("content-type", content_type);
            }
            let reply = Reply::read(req.send().await.unwrap()).await;
            reply.expect_problem(401, "unauthorized");
        }
    }
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn an_unknown_school_is_refused(app: TestApp) {
    app.seed().await;
    let head = app.head().await;
    let body = with(check_body(&unique_ref()), "/school_id", json!("nowhere-elem"));
    let reply = app.check(&body).await;
    assert_eq!(reply.expect_problem(422, "unknown-school")["school_id"], "nowhere-elem");
    assert_eq!(app.head().await, head);
    // Once the school is registered, the same check goes through.
    app.register_school("nowhere-elem", "Nowhere Elementary").await;
    TestApp::decided(&app.check(&body).await, "approved");
    app.stop().await;
}

async fn the_currency_must_be_the_policys(app: TestApp) {
    app.seed().await;
    let head = app.head().await;
    let body = with(check_body(&unique_ref()), "/currency", json!("EUR"));
    let detail = app.check(&body).await.expect_problem(422, "currency-mismatch")["detail"].clone();
    assert!(detail.as_str().unwrap().contains("USD"), "{detail}");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn a_total_past_the_maximum_is_refused(app: TestApp) {
    app.seed().await;
    let head = app.head().await;
    let line = line(None, "Server farm", "laptops", 100_000, "100000000.00");
    let body = with(check_body(&unique_ref()), "/lines", json!([line]));
    app.check(&body).await.expect_problem(422, "total-too-large");
    assert_eq!(app.head().await, head);
    app.stop().await;
}

async fn no_policy_no_answer(app: TestApp) {
    // A school, a vendor and a product, but no policy yet.
    app.register_school(GATED, "Lincoln Elementary").await;
    app.put_vendor("dell", "Dell Technologies", true).await;
    app.put_product("LAT-5440", "Latitude 5440").await;
    let catalog = app.get(Who::ItStaff, "/v1/catalog").await;
    assert_eq!(catalog.expect(200)["policy"], Value::Null);

    let head = app.head().await;
    let reply = app.check(&check_body(&unique_ref())).await;
    let detail = reply.expect_problem(503, "no-policy")["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("PUT /v1/catalog/policy"), "{detail}");
    assert_eq!(app.head().await, head);

    app.put(Who::ItStaff, "/v1/catalog/policy", &crate::common::policy()).await.expect(200);
    TestApp::decided(&app.check(&check_body(&unique_ref())).await, "approved");
    app.stop().await;
}
