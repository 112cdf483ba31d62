//! The OpenAPI document: committed, complete, and served as built.

use std::path::Path;

use serde_json::Value;

use crate::common::{Backend, Calls, TestApp, Who};

/// Every operation of API.md's gate table.
const OPERATIONS: [(&str, &str); 33] = [
    ("post", "/v1/purchase-checks"),
    ("get", "/v1/purchases"),
    ("get", "/v1/purchases/{id}"),
    ("post", "/v1/purchases/{id}/calls"),
    ("post", "/v1/purchases/{id}/alternatives"),
    ("post", "/v1/purchases/{id}/alternatives/{alt_id}/accept"),
    ("post", "/v1/purchases/{id}/approve"),
    ("post", "/v1/purchases/{id}/cancel"),
    ("post", "/v1/purchases/{id}/waiting"),
    ("get", "/v1/catalog"),
    ("put", "/v1/catalog/products/{sku}"),
    ("delete", "/v1/catalog/products/{sku}"),
    ("put", "/v1/catalog/vendors/{vendor_id}"),
    ("put", "/v1/catalog/policy"),
    ("put", "/v1/catalog/categories/{category}"),
    ("get", "/v1/district"),
    ("put", "/v1/district"),
    ("put", "/v1/district/closures/{date}"),
    ("delete", "/v1/district/closures/{date}"),
    ("get", "/v1/sla"),
    ("put", "/v1/sla"),
    ("put", "/v1/cards/{card_id}"),
    ("get", "/v1/cards"),
    ("get", "/v1/reconciliation"),
    ("put", "/v1/reconciliation"),
    ("post", "/v1/card-statements"),
    ("get", "/v1/card-transactions"),
    ("get", "/v1/card-transactions/{id}"),
    ("post", "/v1/card-transactions/{id}/confirm"),
    ("post", "/v1/card-transactions/{id}/undo-match"),
    ("post", "/v1/card-transactions/{id}/match"),
    ("post", "/v1/card-transactions/{id}/outreach"),
    ("get", "/v1/outreach"),
];

fn document() -> Value {
    serde_json::to_value(gate::openapi()).unwrap()
}

#[test]
fn the_committed_document_matches_the_code() {
    web::check_openapi_file(
        &gate::openapi(),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/gate.json")),
    );
}

#[test]
fn the_document_has_every_operation_of_the_api() {
    let schemas = [
        "Problem",
        "CheckAnswer",
        "PurchaseView",
        "PurchaseList",
        "CatalogView",
        "DistrictView",
        "SlaView",
    ];
    web::check_operations(&gate::openapi(), &OPERATIONS, &["401"], &schemas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_serves_the_document_and_the_docs() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served = app.get(Who::Nobody, "/openapi.json").await;
    assert_eq!(served.expect(200), &document());

    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let content_type = docs.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    app.stop().await;
}
