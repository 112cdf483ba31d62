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
    // A range past the head checks up to the head, and says so.
    let report = app.get_json("/v1/audit/verify?to=21", Role::Auditor).await;
    assert_eq!((report["ok"].as_bool(), report["to"].as_u64()), (Some(true), Some(20)));
    for empty in ["from=9&to=3", "from=25"] {
        let (status, problem) =
            app.get_problem(&format!("/v1/audit/verify?{empty}"), auditor).await;
        assert_eq!(status, 422, "{empty}");
        assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-range", "{empty}");
    }
    for bad in ["from=0", "to=9223372036854775808", "from=x", "until=3"] {
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

mod anchors {
    use auth::Role;
    use serde_json::{Value, json};

    use crate::common::{TestApp, append};

    on_both_backends!(anchors_are_signed_listed_and_checked, a_sequence_past_int64_is_invalid);

    async fn send(app: &TestApp, path: &str, body: Option<Value>) -> (u16, Value) {
        let req =
            app.client.post(format!("{}{path}", app.base)).bearer_auth(app.token(&[Role::Auditor]));
        let req = match body {
            Some(body) => req.json(&body),
            None => req,
        };
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    async fn anchors_are_signed_listed_and_checked(app: TestApp) {
        for i in 0..5 {
            append(&app.store, &format!("school-s{i}"), "school-registered", json!({"i": i})).await;
        }
        let (status, anchor) = send(&app, "/v1/audit/anchors", None).await;
        assert_eq!(status, 201, "{anchor}");
        assert_eq!(anchor["sequence"], 5);
        assert_eq!(anchor["chain_hash"].as_str().unwrap().len(), 64);
        let list = app.get_json("/v1/audit/anchors", Role::Admin).await;
        assert_eq!(list["anchors"], json!([anchor]));
        assert_eq!(list["key_id"], anchor["key_id"]);

        let (status, check) =
            send(&app, "/v1/audit/anchors/verify", Some(json!({"anchors": [anchor]}))).await;
        assert_eq!((status, check["ok"].as_bool()), (200, Some(true)), "{check}");
        let mut forged = anchor.clone();
        forged["sequence"] = json!(4);
        let (_, check) =
            send(&app, "/v1/audit/anchors/verify", Some(json!({"anchors": [forged]}))).await;
        assert_eq!(check["ok"], false);
        assert!(
            check["problem"].as_str().unwrap().contains("altered after it was signed"),
            "{check}"
        );
        let (status, _) =
            send(&app, "/v1/audit/anchors/verify", Some(json!({"anchors": [{"x": 1}]}))).await;
        assert_eq!(status, 422);
        let res = app
            .client
            .post(format!("{}/v1/audit/anchors", app.base))
            .bearer_auth(app.token(&[Role::ItStaff]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        app.stop().await;
    }

    /// A log position is an int64, as the document says: an anchor past it is a 422 naming
    /// the field, not an anchor the log has not reached.
    async fn a_sequence_past_int64_is_invalid(app: TestApp) {
        append(&app.store, "school-s0", "school-registered", json!({"i": 0})).await;
        let (status, anchor) = send(&app, "/v1/audit/anchors", None).await;
        assert_eq!(status, 201, "{anchor}");
        let mut past = anchor.clone();
        past["sequence"] = json!(i64::MAX as u64 + 1);
        let (status, problem) =
            send(&app, "/v1/audit/anchors/verify", Some(json!({"anchors": [anchor, past]}))).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "anchors[1].sequence", "{problem}");
        // The largest int64 is a position, one the log has not reached.
        past["sequence"] = json!(i64::MAX);
        let (status, check) =
            send(&app, "/v1/audit/anchors/verify", Some(json!({"anchors": [past]}))).await;
        assert_eq!((status, check["ok"].as_bool()), (200, Some(false)), "{check}");
        app.stop().await;
    }
}
