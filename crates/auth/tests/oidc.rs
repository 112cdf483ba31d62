//! Tokens from a real OpenID provider: panva's `oidc-provider` (OpenID Certified), run by Node
//! from `tests/oidc/` (pinned in its `package-lock.json`; `scripts/test` installs it, and so
//! does this test when `node_modules` is missing). Each test starts its own provider on a free
//! loopback port and gets real access tokens from it (client_credentials grant, JWT format):
//! discovery, the JWKS, roles from the configured claim, refusals, and key rotation picked up
//! without rebuilding the verifier.

use std::path::Path;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web as aweb};
use auth::{AuthError, OidcConfig, Principal, Role, Verifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

mod support;
use support::bearer;

const AUDIENCE: &str = "urn:procgate";
const OTHER_AUDIENCE: &str = "urn:another-api";
/// The secret of the provider script's clients (tests/oidc/provider.mjs).
const CLIENT_SECRET: &str = "test-client-secret-not-a-real-one";
/// How long a provider may take to start, or a key change to be picked up.
const PATIENCE: Duration = Duration::from_secs(30);

/// The provider script's provider; killed when dropped.
type Provider = testkit::oidc::OidcProvider;

/// Starts the provider on `port` (0: a free one) publishing `keys` (`kid:alg,...`, the first
/// signs), with the private keys in `key_dir` (generated when missing, so a restart can keep
/// publishing an old key).
async fn start_provider(key_dir: &Path, keys: &str, port: u16) -> Provider {
    let (port, resources) = (port.to_string(), format!("{AUDIENCE},{OTHER_AUDIENCE}"));
    let env = [("OIDC_PORT", port.as_str()), ("OIDC_KEYS", keys), ("OIDC_RESOURCES", &resources)];
    let key_dir = key_dir.to_owned();
    let env: Vec<(String, String)> =
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        testkit::oidc::start(&key_dir, &env)
    })
    .await
    .unwrap()
}

/// `application/x-www-form-urlencoded`.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// A real access token from the provider for `client`, for the resource (audience) `resource`.
async fn access_token(provider: &Provider, client: &str, resource: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/token", provider.issuer))
        .header(header::CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", CLIENT_SECRET),
            ("resource", resource),
            ("scope", "api"),
        ]))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "token request refused: {status} {body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// A token's header, as JSON.
fn header_of(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap())
        .unwrap()
}

/// `token` with its header replaced by `header` (the signature no longer matches).
fn with_header(token: &str, header: Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    parts.join(".")
}

/// Polls `check` until it gives a value.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config(provider: &Provider) -> OidcConfig {
    OidcConfig::discover(&provider.issuer, AUDIENCE)
}

/// A verifier whose first (background) fetch has completed.
async fn loaded(config: OidcConfig) -> Verifier {
    let verifier = Verifier::oidc(config).unwrap();
    eventually("the first fetch of the keys completes", || {
        (!verifier.key_ids().is_empty()).then_some(())
    })
    .await;
    verifier
}

async fn whoami(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "subject": principal.subject,
        "roles": principal.roles,
    }))
}

/// An app as a service builds it, with `verifier` and the route `/whoami`.
macro_rules! whoami_app {
    ($verifier:expr) => {
        test::init_service(web::with_plumbing(
            App::new()
                .app_data(aweb::Data::new($verifier))
                .route("/whoami", aweb::get().to(whoami)),
            1024,
        ))
        .await
    };
}

#[actix_web::test]
async fn provider_tokens_verify_with_roles_from_the_configured_claim() {
    let keys = tempfile::tempdir().unwrap();
    let provider = start_provider(keys.path(), "k1:RS256", 0).await;

    // Discovery from the issuer, the JWKS fetched in the background.
    let verifier = loaded(config(&provider)).await;
    assert_eq!(verifier.key_ids(), ["k1"]);
    assert_eq!(verifier.algorithm(), "JWKS");

    let finance = access_token(&provider, "finance-system", AUDIENCE).await;
    assert_eq!(header_of(&finance)["alg"], "RS256");
    assert_eq!(header_of(&finance)["kid"], "k1");
    let claims = verifier.verify(&finance).unwrap();
    assert_eq!(claims.sub, "finance-system");
    assert_eq!(claims.roles, [Role::Finance], "`janitor` is not a procgate role");
    assert_eq!(claims.iss, provider.issuer);
    assert_eq!(claims.aud, [AUDIENCE]);
    assert!(claims.jti.is_some());

    let it = access_token(&provider, "it-desk", AUDIENCE).await;
    assert_eq!(verifier.verify(&it).unwrap().roles, [Role::ItStaff, Role::Admin]);

    // The roles claim may be a dotted path (Keycloak's realm roles) or a space-separated
    // string; the provider puts a different set in each, so these show which was read.
    let nested =
        loaded(OidcConfig { roles_claim: "realm_access.roles".to_owned(), ..config(&provider) })
            .await;
    assert_eq!(nested.verify(&finance).unwrap().roles, [Role::Auditor]);
    assert_eq!(nested.verify(&it).unwrap().roles, [Role::ItStaff]);
    let spaced =
        loaded(OidcConfig { roles_claim: "procgate_roles".to_owned(), ..config(&provider) }).await;
    assert_eq!(spaced.verify(&finance).unwrap().roles, [Role::Integration]);
    assert_eq!(spaced.verify(&it).unwrap().roles, [Role::Auditor, Role::Admin]);
    let absent = loaded(OidcConfig { roles_claim: "groups".to_owned(), ..config(&provider) }).await;
    assert!(absent.verify(&it).unwrap().roles.is_empty());
    // An object where the roles should be is refused, not guessed at.
    let object =
        loaded(OidcConfig { roles_claim: "realm_access".to_owned(), ..config(&provider) }).await;
    let err = object.verify(&it).unwrap_err();
    assert!(matches!(&err, AuthError::InvalidClaim(m) if m.contains("`realm_access`")), "{err}");

    // The JWKS URL given directly (PROCGATE_JWKS_URL) instead of discovery.
    let direct =
        loaded(OidcConfig::jwks(format!("{}/jwks", provider.issuer), &provider.issuer, AUDIENCE))
            .await;
    assert_eq!(direct.verify(&it).unwrap().sub, "it-desk");

    // The algorithm comes from the key, never from the token.
    for alg in ["none", "HS256", "RS384", "PS256", "EdDSA"] {
        let forged = with_header(&it, json!({"alg": alg, "kid": "k1", "typ": "at+jwt"}));
        let err = verifier.verify(&forged).unwrap_err();
        assert!(
            matches!(&err, AuthError::AlgorithmMismatch { found, .. } if found == alg),
            "{alg}: {err}"
        );
    }
    let no_alg = with_header(&it, json!({"kid": "k1"}));
    assert!(matches!(verifier.verify(&no_alg), Err(AuthError::AlgorithmMismatch { .. })));
    // A tampered payload (roles raised to admin) fails the signature.
    let mut parts: Vec<&str> = it.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("someone-else");
    let tampered_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    parts[1] = &tampered_payload;
    assert_eq!(verifier.verify(&parts.join(".")), Err(AuthError::InvalidSignature));
    // A token naming no key, while the provider has one: that key is the only candidate.
    let mut unnamed = header_of(&it);
    unnamed.as_object_mut().unwrap().remove("kid");
    assert_eq!(verifier.verify(&with_header(&it, unnamed)), Err(AuthError::InvalidSignature));

    // Through the extractor, as the services use it.
    let app = whoami_app!(verifier);
    let req = bearer(test::TestRequest::get().uri("/whoami"), &it);
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body, json!({"subject": "it-desk", "roles": ["it_staff", "admin"]}));
    let res = test::call_service(&app, test::TestRequest::get().uri("/whoami").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = test::read_body_json(res).await;
    assert!(body["detail"].as_str().unwrap().contains("identity provider"), "{body}");
}

#[actix_web::test]
async fn tokens_of_another_issuer_or_audience_are_refused() {
    let keys = tempfile::tempdir().unwrap();
    let provider = start_provider(keys.path(), "k1:RS256", 0).await;
    // Another provider signing with the very same key: only `iss` tells its tokens apart.
    let impostor = start_provider(keys.path(), "k1:RS256", 0).await;
    assert_ne!(provider.issuer, impostor.issuer);
    let verifier = loaded(config(&provider)).await;

    let good = access_token(&provider, "it-desk", AUDIENCE).await;
    assert!(verifier.verify(&good).is_ok());
    let other_audience = access_token(&provider, "it-desk", OTHER_AUDIENCE).await;
    assert_eq!(verifier.verify(&other_audience), Err(AuthError::WrongAudience));
    let other_issuer = access_token(&impostor, "it-desk", AUDIENCE).await;
    assert_eq!(header_of(&other_issuer)["kid"], "k1");
    assert_eq!(verifier.verify(&other_issuer), Err(AuthError::WrongIssuer));

    // Discovery checks that the provider names itself as configured (here: a trailing slash).
    let mismatched =
        Verifier::oidc(OidcConfig::discover(format!("{}/", provider.issuer), AUDIENCE)).unwrap();
    let err = mismatched.refresh_keys().await.unwrap_err();
    assert!(matches!(&err, AuthError::KeyFetch(m) if m.contains("names the issuer")), "{err}");
    assert!(mismatched.key_ids().is_empty());

    // Plain http is refused, but on loopback.
    let err = Verifier::oidc(OidcConfig::discover("http://login.district.example", AUDIENCE))
        .unwrap_err();
    assert!(matches!(&err, AuthError::InvalidSettings(m) if m.contains("https")), "{err}");

    // A provider that does not answer: tokens cannot be checked, 503 rather than 401.
    let gone = impostor.issuer.clone();
    drop(impostor);
    let unreachable = Verifier::oidc(OidcConfig::discover(&gone, AUDIENCE)).unwrap();
    assert!(unreachable.refresh_keys().await.is_err());
    assert_eq!(unreachable.verify(&good), Err(AuthError::KeysUnavailable));
    let app = whoami_app!(unreachable);
    let req = bearer(test::TestRequest::get().uri("/whoami"), &good);
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
}

#[actix_web::test]
async fn a_rotated_signing_key_is_picked_up_without_rebuilding_the_verifier() {
    let keys = tempfile::tempdir().unwrap();
    let provider = start_provider(keys.path(), "k1:RS256", 0).await;
    let port = provider.port;
    // A short interval between fetches keeps the test short (the default is 30 s).
    let verifier =
        loaded(OidcConfig { min_refresh_interval: Duration::from_secs(2), ..config(&provider) })
            .await;
    let old = access_token(&provider, "finance-system", AUDIENCE).await;
    assert_eq!(verifier.verify(&old).unwrap().roles, [Role::Finance]);

    // The provider restarts with a new signing key (EdDSA, k2) and still publishes k1.
    drop(provider);
    let provider = start_provider(keys.path(), "k2:EdDSA,k1:RS256", port).await;
    let new = access_token(&provider, "it-desk", AUDIENCE).await;
    assert_eq!(header_of(&new)["kid"], "k2");
    assert_eq!(header_of(&new)["alg"], "EdDSA");
    // The first sight of k2 is refused (verifying never waits for the network) and starts a
    // refetch; a retry soon after passes, with the same verifier.
    assert_eq!(verifier.verify(&new), Err(AuthError::UnknownKey("k2".to_owned())));
    let claims =
        eventually("a token signed with k2 is accepted", || verifier.verify(&new).ok()).await;
    assert_eq!(claims.roles, [Role::ItStaff, Role::Admin]);
    assert_eq!(verifier.key_ids(), ["k2", "k1"]);
    assert!(verifier.verify(&old).is_ok(), "k1 is still published");

    // Rotated again, to ES256 (k3), k1 and k2 retired: tokens of retired keys stop passing.
    drop(provider);
    let provider = start_provider(keys.path(), "k3:ES256", port).await;
    let newest = access_token(&provider, "finance-system", AUDIENCE).await;
    assert_eq!(header_of(&newest)["alg"], "ES256");
    let claims =
        eventually("a token signed with k3 is accepted", || verifier.verify(&newest).ok()).await;
    assert_eq!(claims.sub, "finance-system");
    assert_eq!(verifier.key_ids(), ["k3"]);
    assert_eq!(verifier.verify(&old), Err(AuthError::UnknownKey("k1".to_owned())));
    assert_eq!(verifier.verify(&new), Err(AuthError::UnknownKey("k2".to_owned())));
}
