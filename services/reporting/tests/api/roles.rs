//! Every endpoint with every role: allowed, 401 without a (valid) token, 403 for a wrong role.

use auth::Role;
use serde_json::json;

use crate::common::{TestApp, append, header};

on_both_backends!(every_endpoint_with_every_role);

const REPORTS: &[Role] = &[Role::ItStaff, Role::Auditor, Role::Admin];
const AUDIT: &[Role] = &[Role::Auditor, Role::Admin];

/// A purchase the role test replays.
const PURCHASE: &str = "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00";

/// The endpoints and the roles each allows.
const ENDPOINTS: [(&str, &[Role]); 20] = [
    ("/v1/events", &Role::ALL),
    ("/v1/events/live", &Role::ALL),
    ("/v1/streams/purchase-7f3a", &[Role::Auditor, Role::ItStaff, Role::Admin]),
    ("/v1/reports/adoption", REPORTS),
    ("/v1/reports/adoption?format=csv", REPORTS),
    ("/v1/reports/response-times", REPORTS),
    ("/v1/reports/response-times?format=csv", REPORTS),
    ("/v1/reports/promises", REPORTS),
    ("/v1/reports/promises?format=csv", REPORTS),
    ("/v1/reports/rogue-spend", REPORTS),
    ("/v1/reports/rogue-spend?format=csv", REPORTS),
    ("/v1/reports/wishes", REPORTS),
    ("/v1/reports/wishes?format=csv", REPORTS),
    ("/v1/reports/sla", REPORTS),
    ("/v1/reports/sla?format=csv", REPORTS),
    ("/v1/audit/purchases/0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00", AUDIT),
    ("/v1/audit/purchases/0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00?format=text", AUDIT),
    ("/v1/audit/verify", AUDIT),
    ("/v1/webhooks", &[Role::Admin, Role::Finance, Role::Integration]),
    ("/v1/audit/anchors", AUDIT),
];

async fn every_endpoint_with_every_role(app: TestApp) {
    append(&app.store, "purchase-7f3a", "purchase-submitted", json!({})).await;
    append(&app.store, &format!("purchase-{PURCHASE}"), "purchase-submitted", json!({})).await;
    for (path, allowed) in ENDPOINTS {
        for role in Role::ALL {
            let res = app.get(path, Some(&[role])).send().await.unwrap();
            let status = res.status().as_u16();
            if allowed.contains(&role) {
                assert_eq!(status, 200, "{path} as {role}");
                // Dropping the response closes a live stream.
                continue;
            }
            assert_eq!(status, 403, "{path} as {role}");
            assert!(header(&res, "www-authenticate").contains("insufficient_scope"));
            let problem: serde_json::Value = res.json().await.unwrap();
            assert_eq!(problem["type"], "https://procgate.dev/problems/forbidden", "{path}");
        }
        // Several roles: allowed if any is.
        let res = app.get(path, Some(&[Role::Finance, Role::Admin])).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path} as finance+admin");

        // No procgate role at all.
        let (status, problem) = app.get_problem(path, Some(&[])).await;
        assert_eq!(
            (status, problem["type"].as_str()),
            (403, Some("https://procgate.dev/problems/forbidden")),
            "{path}"
        );

        // No token, and a token that does not verify.
        let (status, problem) = app.get_problem(path, None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(problem["type"], "https://procgate.dev/problems/unauthorized");
        let res = app
            .client
            .get(format!("{}{path}", app.base))
            .bearer_auth("not.a.token")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path} with a bad token");
        assert!(header(&res, "www-authenticate").contains("invalid_token"));
    }
    // Authentication comes before the query is looked at.
    let (status, _) = app.get_problem("/v1/events?limit=5000", None).await;
    assert_eq!(status, 401);
    let (status, _) = app.get_problem("/v1/audit/verify?from=0", Some(&[Role::Finance])).await;
    assert_eq!(status, 403);
    let (status, _) = app.get_problem("/v1/reports/adoption?format=xml", None).await;
    assert_eq!(status, 401);
    let (status, _) =
        app.get_problem("/v1/audit/purchases/not-a-uuid?as_of=x", Some(&[Role::ItStaff])).await;
    assert_eq!(status, 403);
    app.stop().await;
}
