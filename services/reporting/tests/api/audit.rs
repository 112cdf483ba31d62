//! `GET /v1/audit/verify`: the chain is intact, then an edit in the database is caught.

use auth::Role;
use serde_json::json;

use crate::common::{TestApp, append_many};

on_both_backends!(verify_reports_ok_then_names_an_edited_event);

async fn verify_reports_ok_then_names_an_edited_event(app: TestApp) {
    // An empty log is intact.
    let report = app.get_json("/v1/audit/verify", Role::Auditor).await;
    assert_eq!(
        report,
        json!({"ok": true, "checked": 0, "first_bad_sequence": null, "problem": null, "from": 1, "to": 0})
    );

    append_many(&app.store, 20).await;
    let report = app.get_json("/v1/audit/verify", Role::Auditor).await;
    assert_eq!(
        report,
        json!({"ok": true, "checked": 20, "first_bad_sequence": null, "problem": null, "from": 1, "to": 20})
    );
    let report = app.get_json("/v1/audit/verify?from=3&to=9", Role::Admin).await;
    assert_eq!((report["ok"].as_bool(), report["checked"].as_u64()), (Some(true), Some(7)));

    let auditor = Some(&[Role::Auditor][..]);
    for bad in ["from=0", "to=21", "from=9&to=3", "from=25", "from=x", "until=3"] {
        let (status, problem) = app.get_problem(&format!("/v1/audit/verify?{bad}"), auditor).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-query", "{bad}");
    }

    app.tamper(5).await;
    let report = app.get_json("/v1/audit/verify", Role::Auditor).await;
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_bad_sequence"], 5);
    assert_eq!(report["checked"], 4);
    assert!(report["problem"].as_str().unwrap().contains("changed"), "{report}");
    // A range after the edit still verifies (it starts from the link stored before it) ...
    let report = app.get_json("/v1/audit/verify?from=6", Role::Auditor).await;
    assert_eq!((report["ok"].as_bool(), report["checked"].as_u64()), (Some(true), Some(15)));
    // ... and one that covers it does not.
    let report = app.get_json("/v1/audit/verify?from=5&to=5", Role::Auditor).await;
    assert_eq!(
        (report["ok"].as_bool(), report["first_bad_sequence"].as_u64()),
        (Some(false), Some(5))
    );

    // The feed serves what is stored, edited or not: verification is how readers find out.
    let page = app.get_json("/v1/events?after=4&limit=1", Role::Auditor).await;
    assert_eq!(page["events"][0]["data"], json!({"x": 1}));
    app.stop().await;
}
