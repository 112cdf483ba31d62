//! Every endpoint with every role: allowed, 401 without a valid token, 403 for the wrong role;
//! and finance systems see only their own purchases.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{
    AUDIENCE, Calls, ISSUER, Reply, TestApp, Who, alternative, check_body, held_body, reached_call,
    token_with_claims, unique_ref, unix_now,
};

on_both_backends!(
    every_endpoint_with_every_role,
    tokens_that_do_not_verify_get_401_with_a_challenge,
    finance_sees_only_its_own_purchases,
);

/// The gate's endpoints (API.md, "Gate service").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Check,
    List,
    Get,
    LogCall,
    Propose,
    Accept,
    Approve,
    Cancel,
    Catalog,
    PutProduct,
    DeleteProduct,
    PutVendor,
    PutPolicy,
    PutCategory,
}

/// A request, and the status it gets from a caller allowed to make it.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    success: u16,
}

impl Call {
    fn new(method: Method, path: String, body: Option<Value>, success: u16) -> Self {
        Self { method, path, body, success }
    }
}

const READERS: &[Who] = &[Who::Finance, Who::OtherFinance, Who::ItStaff, Who::Auditor, Who::Admin];
const IT: &[Who] = &[Who::ItStaff, Who::Admin];

impl Endpoint {
    const ALL: [Endpoint; 14] = [
        Endpoint::Check,
        Endpoint::List,
        Endpoint::Get,
        Endpoint::LogCall,
        Endpoint::Propose,
        Endpoint::Accept,
        Endpoint::Approve,
        Endpoint::Cancel,
        Endpoint::Catalog,
        Endpoint::PutProduct,
        Endpoint::DeleteProduct,
        Endpoint::PutVendor,
        Endpoint::PutPolicy,
        Endpoint::PutCategory,
    ];

    /// Who may call it.
    fn allowed(self) -> &'static [Who] {
        match self {
            Endpoint::Check => &[Who::Finance, Who::OtherFinance],
            Endpoint::List | Endpoint::Get | Endpoint::Catalog => READERS,
            _ => IT,
        }
    }

    /// A request that succeeds for an allowed caller, after setting up what it needs (a fresh
    /// purchase for each, so every caller finds it in the same state).
    async fn prepare(self, app: &TestApp) -> Call {
        let held = || async { app.held_purchase().await };
        match self {
            Endpoint::Check => Call::new(
                Method::POST,
                "/v1/purchase-checks".into(),
                Some(check_body(&unique_ref())),
                201,
            ),
            Endpoint::List => Call::new(Method::GET, "/v1/purchases".into(), None, 200),
            Endpoint::Get => {
                Call::new(Method::GET, format!("/v1/purchases/{}", held().await), None, 200)
            }
            Endpoint::LogCall => Call::new(
                Method::POST,
                format!("/v1/purchases/{}/calls", held().await),
                Some(json!({"requester_reached": false, "notes": "Voicemail"})),
                201,
            ),
            Endpoint::Propose => Call::new(
                Method::POST,
                format!("/v1/purchases/{}/alternatives", held().await),
                Some(alternative()),
                201,
            ),
            Endpoint::Accept => {
                let id = held().await;
                app.reached_call(&id).await;
                let alt = app.propose(&id).await;
                Call::new(
                    Method::POST,
                    format!("/v1/purchases/{id}/alternatives/{alt}/accept"),
                    None,
                    200,
                )
            }
            Endpoint::Approve => Call::new(
                Method::POST,
                format!("/v1/purchases/{}/approve", held().await),
                Some(json!({"note": "Fine"})),
                200,
            ),
            Endpoint::Cancel => {
                let id = held().await;
                app.reached_call(&id).await;
                app.propose(&id).await;
                Call::new(
                    Method::POST,
                    format!("/v1/purchases/{id}/cancel"),
                    Some(json!({"reason": "Replaced by the supported model"})),
                    200,
                )
            }
            Endpoint::Catalog => Call::new(Method::GET, "/v1/catalog".into(), None, 200),
            Endpoint::PutProduct => Call::new(
                Method::PUT,
                format!("/v1/catalog/products/SKU-{}", Uuid::new_v4().simple()),
                Some(json!({"name": "Latitude 7440", "category": "laptops", "vendor_id": "dell"})),
                200,
            ),
            Endpoint::DeleteProduct => {
                let sku = format!("SKU-{}", Uuid::new_v4().simple());
                app.put_product(&sku, "Latitude 3440").await;
                Call::new(Method::DELETE, format!("/v1/catalog/products/{sku}"), None, 200)
            }
            Endpoint::PutVendor => Call::new(
                Method::PUT,
                format!("/v1/catalog/vendors/v-{}", Uuid::new_v4().simple()),
                Some(json!({"name": "Lenovo", "approved": true})),
                200,
            ),
            Endpoint::PutPolicy => Call::new(
                Method::PUT,
                "/v1/catalog/policy".into(),
                Some(crate::common::policy()),
                200,
            ),
            Endpoint::PutCategory => Call::new(
                Method::PUT,
                "/v1/catalog/categories/books".into(),
                Some(json!({"technology": false})),
                200,
            ),
        }
    }

    /// The status an allowed caller gets: another finance system does not see the first
    /// one's purchase at all.
    fn success_for(self, who: Who, call: &Call) -> u16 {
        if self == Endpoint::Get && who == Who::OtherFinance { 404 } else { call.success }
    }
}

async fn send(app: &TestApp, who: Who, call: &Call) -> Reply {
    app.send(who, call.method.clone(), &call.path, call.body.as_ref()).await
}

async fn every_endpoint_with_every_role(app: TestApp) {
    app.seed().await;
    for endpoint in Endpoint::ALL {
        for who in Who::WITH_TOKEN {
            let call = endpoint.prepare(&app).await;
            let head = app.head().await;
            let reply = send(&app, who, &call).await;
            if endpoint.allowed().contains(&who) {
                let expected = endpoint.success_for(who, &call);
                assert_eq!(reply.status, expected, "{endpoint:?} as {who:?}: {}", reply.text);
                continue;
            }
            assert_eq!(reply.status, 403, "{endpoint:?} as {who:?}: {}", reply.text);
            reply.expect_problem(403, "forbidden");
            assert!(
                reply.header("www-authenticate").contains("insufficient_scope"),
                "{endpoint:?} as {who:?}: {:?}",
                reply.headers
            );
            assert_eq!(app.head().await, head, "{endpoint:?} as {who:?} wrote something");
        }
    }
    app.stop().await;
}

async fn tokens_that_do_not_verify_get_401_with_a_challenge(app: TestApp) {
    app.seed().await;
    let now = unix_now();
    let claims = |iss: &str, aud: &str, exp: u64| {
        json!({"sub": "erp-finance", "roles": ["finance", "it_staff", "auditor", "admin"],
               "iss": iss, "aud": aud, "iat": now - 7200, "exp": exp})
    };
    let other_key =
        auth::Issuer::hs256(b"another-secret-that-is-at-least-32-bytes".to_vec(), ISSUER, AUDIENCE)
            .unwrap()
            .issue("erp-finance", &auth::Role::ALL, std::time::Duration::from_secs(600));
    let refused: [(&str, Option<String>); 6] = [
        ("no token", None),
        ("not a JWT", Some("not.a.token".into())),
        ("another key", Some(other_key)),
        ("expired", Some(token_with_claims(&claims(ISSUER, AUDIENCE, now - 3600)))),
        ("wrong audience", Some(token_with_claims(&claims(ISSUER, "elsewhere", now + 600)))),
        ("wrong issuer", Some(token_with_claims(&claims("mallory", AUDIENCE, now + 600)))),
    ];
    // The same claims with the right issuer and audience work: the refusals are about them.
    let good = token_with_claims(&claims(ISSUER, AUDIENCE, now + 600));
    let reply = Reply::read(
        app.client.get(app.url("/v1/purchases")).bearer_auth(good).send().await.unwrap(),
    )
    .await;
    reply.expect(200);

    for endpoint in Endpoint::ALL {
        let call = endpoint.prepare(&app).await;
        let head = app.head().await;
        for (what, token) in &refused {
            let mut req = app.client.request(call.method.clone(), app.url(&call.path));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some(body) = &call.body {
                req = req.json(body);
            }
            let reply = Reply::read(req.send().await.unwrap()).await;
            assert_eq!(reply.status, 401, "{endpoint:?} with {what}: {}", reply.text);
            reply.expect_problem(401, "unauthorized");
            let challenge = reply.header("www-authenticate");
            assert!(challenge.starts_with(r#"Bearer realm="procgate""#), "{what}: {challenge}");
            assert_eq!(
                challenge.contains(r#"error="invalid_token""#),
                token.is_some(),
                "{endpoint:?} with {what}: {challenge}"
            );
        }
        assert_eq!(app.head().await, head, "{endpoint:?}: a refused request wrote something");
    }
    app.stop().await;
}

async fn finance_sees_only_its_own_purchases(app: TestApp) {
    app.seed().await;
    let mine = app.submit(&held_body(&unique_ref()), "held").await;
    let theirs = {
        let reply =
            app.post(Who::OtherFinance, "/v1/purchase-checks", &check_body(&unique_ref())).await;
        reply.expect(201)["purchase_id"].as_str().unwrap().to_owned()
    };
    let ids = |reply: &Reply| -> Vec<String> {
        reply.expect(200)["purchases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["purchase_id"].as_str().unwrap().to_owned())
            .collect()
    };

    assert_eq!(ids(&app.get(Who::Finance, "/v1/purchases").await), vec![mine.clone()]);
    assert_eq!(ids(&app.get(Who::OtherFinance, "/v1/purchases").await), vec![theirs.clone()]);
    let held_for_other = app.get(Who::OtherFinance, "/v1/purchases?status=held").await;
    assert!(ids(&held_for_other).is_empty());
    for who in [Who::ItStaff, Who::Auditor, Who::Admin] {
        assert_eq!(ids(&app.get(who, "/v1/purchases").await), vec![mine.clone(), theirs.clone()]);
    }

    let view = app.get(Who::Finance, &format!("/v1/purchases/{mine}")).await;
    assert_eq!(view.expect(200)["submitted_by"], "erp-finance");
    // Another finance system gets the same 404 as for a purchase that does not exist.
    app.get(Who::OtherFinance, &format!("/v1/purchases/{mine}"))
        .await
        .expect_problem(404, "purchase-not-found");
    app.get(Who::Finance, &format!("/v1/purchases/{theirs}"))
        .await
        .expect_problem(404, "purchase-not-found");
    app.get(Who::Finance, &format!("/v1/purchases/{}", Uuid::new_v4()))
        .await
        .expect_problem(404, "purchase-not-found");

    // A token that is an integration's too reads every purchase, without personal data (as in
    // the feed): no requester's e-mail, in the list as in one purchase.
    let both = [auth::Role::Finance, auth::Role::Integration];
    let list = app.get_with_roles("erp-both", &both, "/v1/purchases").await;
    assert_eq!(ids(&list), vec![mine.clone(), theirs.clone()]);
    for row in list.expect(200)["purchases"].as_array().unwrap() {
        assert_eq!(row["requester_email"], "redacted@redacted.invalid", "{row}");
    }
    let one = app.get_with_roles("erp-both", &both, &format!("/v1/purchases/{mine}")).await;
    assert_eq!(one.expect(200)["requester_email"], "redacted@redacted.invalid");
    let own = app.get(Who::Finance, "/v1/purchases").await;
    assert_ne!(own.expect(200)["purchases"][0]["requester_email"], "redacted@redacted.invalid");

    // Nor can a finance system act on a purchase, even its own.
    app.post(Who::Finance, &format!("/v1/purchases/{mine}/calls"), &reached_call())
        .await
        .expect_problem(403, "forbidden");
    app.stop().await;
}
