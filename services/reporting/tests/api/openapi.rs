//! The OpenAPI document: committed, served, and complete.

use std::path::Path;

use serde_json::Value;

use crate::common::{Backend, TestApp};

#[test]
fn the_committed_document_matches_the_code() {
    web::check_openapi_file(
        &reporting::openapi(),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/reporting.json")),
    );
}

#[test]
fn every_route_is_documented_with_its_security() {
    let doc = serde_json::to_value(reporting::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["/v1/audit/verify", "/v1/events", "/v1/events/live", "/v1/streams/{stream}"]
    );
    let scheme = &doc["components"]["securitySchemes"][reporting::SECURITY_SCHEME];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(scheme["bearerFormat"], "JWT");
    assert_eq!(doc["security"][0][reporting::SECURITY_SCHEME], Value::Array(vec![]));
    for (path, item) in paths {
        let get = &item["get"];
        for status in ["200", "400", "401", "403"] {
            assert!(get["responses"][status].is_object(), "{path} documents no {status}");
        }
    }
    let live = &paths["/v1/events/live"]["get"]["responses"]["200"]["content"];
    assert!(live["text/event-stream"].is_object(), "{live}");
    let feed_params: Vec<&str> = paths["/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(feed_params, ["after", "limit", "category", "type"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_serves_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, serde_json::to_value(reporting::openapi()).unwrap());
    app.stop().await;
}
