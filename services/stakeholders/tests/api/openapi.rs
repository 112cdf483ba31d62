//! The OpenAPI document: committed, complete, explaining the health score, and served as
//! built.

use std::path::Path;

use serde_json::Value;
use stakeholders::domain::health;

use crate::common::{Backend, Calls, TestApp, Who};

/// Every operation: API.md's stakeholder table, plus the single reads, the profile update,
/// the reminders' settings and the reports.
const OPERATIONS: [(&str, &str); 36] = [
    ("get", "/v1/schools"),
    ("get", "/v1/schools/{school_id}"),
    ("put", "/v1/schools/{school_id}"),
    ("put", "/v1/schools/{school_id}/agreement"),
    ("delete", "/v1/schools/{school_id}/agreement"),
    ("get", "/v1/stakeholders"),
    ("post", "/v1/stakeholders"),
    ("get", "/v1/stakeholders/{id}"),
    ("put", "/v1/stakeholders/{id}"),
    ("post", "/v1/stakeholders/{id}/conversations"),
    ("delete", "/v1/stakeholders/{id}/personal-data"),
    ("post", "/v1/meeting-rounds"),
    ("get", "/v1/meeting-rounds"),
    ("get", "/v1/meeting-rounds/{id}"),
    ("get", "/v1/wishes"),
    ("get", "/v1/wishes/{id}"),
    ("post", "/v1/wishes/{id}/progress"),
    ("get", "/v1/promises"),
    ("post", "/v1/promises"),
    ("get", "/v1/promises/{id}"),
    ("post", "/v1/promises/{id}/kept"),
    ("post", "/v1/promises/{id}/broken"),
    ("get", "/v1/follow-ups"),
    ("post", "/v1/follow-ups"),
    ("get", "/v1/follow-ups/{id}"),
    ("post", "/v1/follow-ups/{id}/done"),
    ("get", "/v1/reminder-settings"),
    ("put", "/v1/reminder-settings"),
    ("get", "/v1/vision"),
    ("put", "/v1/vision"),
    ("get", "/v1/reports/coverage"),
    ("get", "/v1/reports/going-cold"),
    ("get", "/v1/reports/themes"),
    ("post", "/v1/stakeholders/{id}/conversations/{conversation_id}/acknowledgements"),
    ("post", "/v1/stakeholders/{id}/advocacy"),
    ("get", "/v1/reports/advocates"),
];

fn document() -> Value {
    serde_json::to_value(stakeholders::openapi()).unwrap()
}

#[test]
fn the_committed_document_matches_the_code() {
    web::check_openapi_file(
        &stakeholders::openapi(),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/stakeholders.json")),
    );
}

#[test]
fn the_document_has_every_operation() {
    let schemas = [
        "Problem",
        "SchoolView",
        "StakeholderView",
        "ConversationView",
        "WishView",
        "PromiseView",
        "FollowUpView",
        "Health",
    ];
    web::check_operations(&stakeholders::openapi(), &OPERATIONS, &["401", "403"], &schemas);
}

/// The profile's description explains the score with the numbers the code uses.
#[test]
fn the_profile_explains_the_health_score() {
    let doc = document();
    let description = doc["paths"]["/v1/stakeholders/{id}"]["get"]["description"]
        .as_str()
        .expect("the profile has a description")
        .to_owned();
    let rows = [
        ("each overdue follow-up (due before today, not done)", health::OVERDUE_FOLLOW_UP),
        (
            "each broken promise (to them; for a principal also to their school)",
            health::BROKEN_PROMISE,
        ),
        (
            "each overdue promise (due before today, neither kept nor broken)",
            health::OVERDUE_PROMISE,
        ),
        (
            &format!(
                "each wish `open` or `in_progress` without headway (recorded or progressed) in the last {} days",
                health::STALE_WISH_DAYS
            ),
            health::STALE_WISH,
        ),
        (
            &format!(
                "the median time IT took to answer the held purchases they answer for (a principal: their school's; anyone else: those they requested) is over {} hours",
                health::SLOW_MEDIAN_HOURS
            ),
            (health::SLOW_MEDIAN, health::SLOW_MEDIAN),
        ),
        (
            &format!("the longest such time is over {} hours", health::SLOW_MAX_HOURS),
            (health::SLOW_MAX, health::SLOW_MAX),
        ),
    ];
    assert!(description.contains("start at **100**"), "{description}");
    let decay = format!(
        "| contact lost to decay: {0} − {0} × ½^(business days since the last conversation ÷ the half-life), rounded; all {0} when none was ever held | 0 to {0} | {0} |",
        health::CONTACT_POINTS
    );
    assert!(
        description.contains(&decay),
        "the description lacks the row {decay:?}:\n{description}"
    );
    assert!(description.contains("**Trust decays**"), "{description}");
    for (what, (points, cap)) in rows {
        let row = format!("| {what} | {points} | {cap} |");
        assert!(
            description.contains(&row),
            "the description lacks the row {row:?}:\n{description}"
        );
    }
    assert!(description.contains(&format!("last {} days count", health::ANSWER_WINDOW_DAYS)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_serves_the_document_and_the_docs() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // Served beside the gate: its own document at /openapi/stakeholders.json, both merged at
    // /openapi.json.
    let own = app.get(Who::Nobody, "/openapi/stakeholders.json").await;
    assert_eq!(own.expect(200), &document());
    let merged = app.get(Who::Nobody, "/openapi.json").await;
    let merged = merged.expect(200);
    assert!(merged["paths"]["/v1/stakeholders/{id}"].is_object());
    assert!(merged["paths"]["/v1/purchase-checks"].is_object());

    let docs = app.client.get(app.url("/docs/stakeholders/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    app.stop().await;
}
