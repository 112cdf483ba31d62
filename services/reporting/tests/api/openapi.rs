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
        [
            "/v1/audit/anchors",
            "/v1/audit/anchors/verify",
            "/v1/audit/purchases/{id}",
            "/v1/audit/verify",
            "/v1/email-preferences/{email}",
            "/v1/events",
            "/v1/events/live",
            "/v1/reports/adoption",
            "/v1/reports/promises",
            "/v1/reports/response-times",
            "/v1/reports/rogue-spend",
            "/v1/reports/sla",
            "/v1/reports/wishes",
            "/v1/streams/{stream}",
            "/v1/subscriptions/{name}",
            "/v1/subscriptions/{name}/ack",
            "/v1/subscriptions/{name}/events",
            "/v1/webhooks",
            "/v1/webhooks/{id}",
            "/v1/webhooks/{id}/deliveries",
            "/v1/webhooks/{id}/replay",
            "/v1/webhooks/{id}/rotate-secret",
        ]
    );
    let scheme = &doc["components"]["securitySchemes"][reporting::SECURITY_SCHEME];
    assert_eq!(
        (scheme["type"].as_str(), scheme["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(scheme["bearerFormat"], "JWT");
    assert_eq!(doc["security"][0][reporting::SECURITY_SCHEME], Value::Array(vec![]));
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            for status in ["401", "403"] {
                let documented = operation["responses"][status].is_object();
                assert!(documented, "{method} {path} documents no {status}");
            }
        }
        let get = &item["get"];
        if get.is_object() && !path.starts_with("/v1/webhooks") && path != "/v1/audit/anchors" {
            for status in ["200", "400"] {
                assert!(get["responses"][status].is_object(), "{path} documents no {status}");
            }
        }
    }
    for report in ["adoption", "promises", "response-times", "rogue-spend", "sla", "wishes"] {
        let content =
            &paths[&format!("/v1/reports/{report}")]["get"]["responses"]["200"]["content"];
        assert!(content["application/json"]["schema"]["$ref"].is_string(), "{report}");
        assert!(content["text/csv"].is_object(), "{report}");
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

/// Every event type's `data` is described: the feed's pages hold `FeedEvent`s, a `oneOf` of one
/// typed envelope per event type with a discriminator on `type`, and every schema they refer to
/// is among the components.
#[test]
fn every_event_type_has_its_data_schema() {
    let doc = serde_json::to_value(reporting::openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for page in ["EventPage", "StreamPage"] {
        assert_eq!(
            schemas[page]["properties"]["events"]["items"]["$ref"],
            "#/components/schemas/FeedEvent",
            "{page}"
        );
    }
    let feed_event = &schemas["FeedEvent"];
    let mapping = feed_event["discriminator"]["mapping"].as_object().unwrap();
    assert_eq!(feed_event["discriminator"]["propertyName"], "type");
    let types = events::event_schemas();
    assert_eq!(mapping.len(), types.len());
    for event in &types {
        let typed = mapping[event.event_type].as_str().unwrap();
        let typed = &schemas[typed.strip_prefix("#/components/schemas/").unwrap()];
        let data = &typed["allOf"][1]["properties"]["data"]["$ref"];
        assert_eq!(data, &format!("#/components/schemas/{}", event.schema_name));
        assert!(schemas.contains_key(&event.schema_name));
    }
    for (name, _) in events::component_schemas() {
        assert!(schemas.contains_key(&name), "{name} is not among the components");
    }
    // Every reference in the document resolves.
    let text = doc.to_string();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name: String = piece.chars().take_while(|c| *c != '"').collect();
        assert!(schemas.contains_key(&name), "{name} is referred to but not defined");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_serves_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served: Value = app.get("/openapi.json", None).send().await.unwrap().json().await.unwrap();
    assert_eq!(served, serde_json::to_value(reporting::openapi()).unwrap());
    app.stop().await;
}
