//! `GET /v1/streams/{stream}`: one stream's events, paged by version.

use auth::Role;
use serde_json::{Value, json};

use crate::common::{TestApp, append};

on_both_backends!(reads_one_stream_in_pages);

fn versions(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["streamversion"].as_u64().unwrap())
        .collect()
}

async fn reads_one_stream_in_pages(app: TestApp) {
    for n in 0..5 {
        append(&app.store, "purchase-7f3a", "purchase-note", json!({"n": n})).await;
        append(&app.store, "purchase-other", "purchase-note", json!({"n": n})).await;
    }

    let page = app.get_json("/v1/streams/purchase-7f3a", Role::Auditor).await;
    assert_eq!(page["stream"], "purchase-7f3a");
    assert_eq!(versions(&page), [1, 2, 3, 4, 5]);
    assert_eq!(page["next_from_version"], 6);
    let event = &page["events"][0];
    assert_eq!(
        (event["subject"].as_str(), event["sequence"].as_u64()),
        (Some("purchase-7f3a"), Some(1))
    );
    assert_eq!(event["data"], json!({"n": 0}));
    assert_eq!(page["events"][4]["sequence"], 9);

    let page =
        app.get_json("/v1/streams/purchase-7f3a?from_version=2&limit=2", Role::ItStaff).await;
    assert_eq!(versions(&page), [2, 3]);
    assert_eq!(page["next_from_version"], 4);
    let page =
        app.get_json("/v1/streams/purchase-7f3a?from_version=4&limit=1000", Role::Admin).await;
    assert_eq!(versions(&page), [4, 5]);
    // Past the end of a stream that exists: an empty page, not a 404.
    let page = app.get_json("/v1/streams/purchase-7f3a?from_version=6", Role::Auditor).await;
    assert_eq!(versions(&page), Vec::<u64>::new());
    assert_eq!(page["next_from_version"], 6);

    let auditor = Some(&[Role::Auditor][..]);
    let (status, problem) = app.get_problem("/v1/streams/purchase-nope", auditor).await;
    assert_eq!(status, 404);
    assert_eq!(problem["type"], "https://procgate.dev/problems/not-found");
    assert_eq!(problem["stream"], "purchase-nope");

    for bad in ["nodash", "-7f3a", "purchase-", "purchase-a%20b"] {
        let (status, problem) = app.get_problem(&format!("/v1/streams/{bad}"), auditor).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-path", "{bad}");
    }
    for bad in ["limit=0", "limit=1001", "from_version=0", "from_version=x", "foo=1"] {
        let (status, problem) =
            app.get_problem(&format!("/v1/streams/purchase-7f3a?{bad}"), auditor).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(problem["type"], "https://procgate.dev/problems/invalid-query", "{bad}");
    }
    app.stop().await;
}
