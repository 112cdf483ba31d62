//! `GET /v1/audit/purchases/{id}`: a purchase's history replayed from its stream, now and as it
//! stood at an earlier time; and the library functions the command line uses.

use auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestApp, header};
use crate::history::{LINCOLN, write_history};

on_both_backends!(replays_a_purchase_and_its_earlier_state, the_library_functions);

async fn replays_a_purchase_and_its_earlier_state(app: TestApp) {
    let history = write_history(&app).await;
    let p1 = history.purchases[0];

    let replay = app.get_json(&format!("/v1/audit/purchases/{p1}"), Role::Auditor).await;
    assert_eq!(replay["purchase_id"], p1.to_string());
    assert_eq!(replay["stream"], format!("purchase-{p1}"));
    assert_eq!(replay["as_of"], Value::Null);
    assert_eq!(replay["events_in_stream"], 6);
    let steps = replay["events"].as_array().unwrap();
    let types: Vec<&str> = steps.iter().map(|s| s["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "purchase-submitted",
            "purchase-decided",
            "call-logged",
            "call-logged",
            "alternative-proposed",
            "purchase-approved"
        ]
    );
    let versions: Vec<u64> = steps.iter().map(|s| s["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    assert!(steps.windows(2).all(|w| w[0]["sequence"].as_u64() < w[1]["sequence"].as_u64()));
    // Who, as what, and when.
    assert_eq!(
        (steps[0]["actor"].as_str(), steps[0]["role"].as_str()),
        (Some("finance-erp"), Some("finance"))
    );
    assert_eq!(
        (steps[2]["actor"].as_str(), steps[2]["role"].as_str()),
        (Some("jdoe"), Some("it_staff"))
    );
    assert_eq!(steps[0]["service"], "gate");
    assert_eq!(steps[1]["recorded_at"], "2024-09-02T08:00:00Z");
    assert_eq!(steps[5]["recorded_at"], "2024-09-03T08:00:00Z");
    assert_eq!(steps[1]["data"]["decision"], "held");
    // The state after each event.
    assert_eq!(steps[0]["state"]["status"], Value::Null);
    assert_eq!(steps[0]["state"]["school_id"], LINCOLN);
    assert_eq!(steps[0]["state"]["total"], "1500.00");
    assert_eq!(steps[1]["state"]["status"], "held");
    assert_eq!(steps[1]["state"]["flagged_at"], "2024-09-02T08:00:00Z");
    assert_eq!(steps[1]["state"]["reasons"][0]["code"], "not-in-catalog");
    assert_eq!(steps[2]["state"]["calls"][0]["requester_reached"], false);
    assert_eq!(steps[3]["state"]["calls"][1]["counts_for_cancel"], true);
    assert_eq!(steps[3]["state"]["may_cancel"], false, "no alternative yet");
    assert_eq!(steps[4]["state"]["may_cancel"], true);
    assert_eq!(steps[4]["state"]["alternatives"].as_array().unwrap().len(), 1);
    assert_eq!(steps[5]["state"]["status"], "approved");
    assert_eq!(steps[5]["state"]["approval_note"], "Supported after the call");
    assert_eq!(steps[5]["state"]["closed_at"], "2024-09-03T08:00:00Z");
    assert_eq!(replay["state"], steps[5]["state"]);

    // As it stood after the second call, before the alternative.
    let earlier = app
        .get_json(&format!("/v1/audit/purchases/{p1}?as_of=2024-09-02T10:07:00Z"), Role::Admin)
        .await;
    assert_eq!(earlier["as_of"], "2024-09-02T10:07:00Z");
    assert_eq!(earlier["events"].as_array().unwrap().len(), 4);
    assert_eq!(earlier["events_in_stream"], 6);
    assert_eq!(earlier["state"]["status"], "held");
    assert_eq!(earlier["state"]["calls"].as_array().unwrap().len(), 2);
    assert_eq!(earlier["state"]["alternatives"], json!([]));
    assert_eq!(earlier["state"]["may_cancel"], false);
    assert_eq!(earlier["events"][3], steps[3], "the steps up to as_of are the same");
    // `as_of` is inclusive, and takes any offset.
    let at = app
        .get_json(
            &format!("/v1/audit/purchases/{p1}?as_of=2024-09-02T10:10:00%2B00:00"),
            Role::Auditor,
        )
        .await;
    assert_eq!(at["events"].as_array().unwrap().len(), 5);
    // Before it was submitted: nothing yet.
    let before = app
        .get_json(&format!("/v1/audit/purchases/{p1}?as_of=2024-01-01T00:00:00Z"), Role::Auditor)
        .await;
    assert_eq!((before["events"].clone(), before["state"].clone()), (json!([]), Value::Null));

    // A cancelled purchase, as text.
    let p2 = history.purchases[1];
    let res = app
        .get(&format!("/v1/audit/purchases/{p2}?format=text"), Some(&[Role::Auditor]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type").starts_with("text/plain"));
    let text = res.text().await.unwrap();
    assert!(text.starts_with(&format!("Purchase {p2} (purchase-{p2})\n5 events\n")), "{text}");
    assert!(text.contains("purchase-cancelled  by jdoe (it_staff, gate)"), "{text}");
    assert!(
        text.contains("=> held; calls 1 (1 reached); alternatives 1; may be cancelled"),
        "{text}"
    );
    assert!(text.contains("cancelled: The requester took the alternative"), "{text}");

    // Unknown purchase, bad id, bad time.
    let auditor = Some(&[Role::Auditor][..]);
    let (status, problem) =
        app.get_problem(&format!("/v1/audit/purchases/{}", Uuid::now_v7()), auditor).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (404, Some("https://procgate.dev/problems/not-found"))
    );
    let (status, _) = app.get_problem("/v1/audit/purchases/not-a-uuid", auditor).await;
    assert_eq!(status, 400);
    for bad in ["as_of=yesterday", "as_of=2024-09-02", "asof=2024-09-02T00:00:00Z"] {
        let (status, problem) =
            app.get_problem(&format!("/v1/audit/purchases/{p1}?{bad}"), auditor).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-query", "{bad}");
    }
    app.stop().await;
}

async fn the_library_functions(app: TestApp) {
    let history = write_history(&app).await;
    let p8 = history.purchases[7];
    let replay = reporting::replay_purchase(&*app.store, p8, None).await.unwrap();
    assert_eq!(replay.events.len(), 5);
    let state = replay.state.as_ref().unwrap();
    assert_eq!(state.status, Some(events::gate::PurchaseStatus::Cancelled));
    assert_eq!(
        state.cancel_reason.as_deref(),
        Some("The requester took the alternative through the catalog")
    );
    let as_of = Some(crate::history::t("2024-10-01T04:05:00Z"));
    let earlier = reporting::replay_purchase(&*app.store, p8, as_of).await.unwrap();
    assert_eq!(earlier.events.len(), 3);
    assert_eq!(earlier.state.as_ref().unwrap().status, Some(events::gate::PurchaseStatus::Held));
    let text = reporting::render_timeline(&earlier);
    assert!(text.contains("As of 2024-10-01T04:05:00.000000Z: 3 of 5 events"), "{text}");
    assert!(
        text.contains("decision: held (not-in-catalog (line 1)); school gated; policy version 3"),
        "{text}"
    );
    assert!(text.contains("goal: Laptops the robotics club can take home"), "{text}");
    assert!(matches!(
        reporting::replay_purchase(&*app.store, Uuid::now_v7(), None).await,
        Err(reporting::ReplayError::NotFound(_))
    ));

    let reached = std::sync::Mutex::new(Vec::new());
    let report =
        reporting::verify_log(&*app.store, &|p| reached.lock().unwrap().push(p)).await.unwrap();
    let head = app.store.head().await.unwrap();
    assert!(report.ok && report.checked == head && report.to == head, "{report:?}");
    assert_eq!(reached.lock().unwrap().last(), Some(&head));
    app.tamper(3).await;
    let report = reporting::verify_log(&*app.store, &|_| {}).await.unwrap();
    assert_eq!((report.ok, report.first_bad_sequence), (false, Some(3)));
    app.stop().await;
}
