//! The `Principal` extractor in an app built like a service's: 401 and 403 problems.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web as aweb};
use auth::{AuthConfig, Issuer, Principal, Role, Verifier};
use web::{ApiError, Problem};

mod support;
use support::bearer;

const SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes-long";

async fn whoami(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "subject": principal.subject,
        "actor_role": principal.actor_role(),
    }))
}

async fn cancel(principal: Principal) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::ItStaff, Role::Admin])?;
    Ok(HttpResponse::NoContent().finish())
}

async fn maybe(principal: Option<Principal>) -> HttpResponse {
    HttpResponse::Ok().body(principal.map_or("anonymous".to_owned(), |p| p.subject))
}

fn issuer() -> Issuer {
    Issuer::hs256(SECRET, "procgate", "procgate").unwrap()
}

/// A token of ours for `subject` with `roles`, valid for a minute.
fn token(subject: &str, roles: &[Role]) -> String {
    issuer().issue(subject, roles, Duration::from_secs(60))
}

macro_rules! app {
    ($data:expr) => {
        test::init_service(web::with_plumbing(
            App::new()
                .app_data($data)
                .route("/whoami", aweb::get().to(whoami))
                .route("/cancel", aweb::post().to(cancel))
                .route("/maybe", aweb::get().to(maybe)),
            1024,
        ))
        .await
    };
}

fn verifier() -> Verifier {
    Verifier::new(AuthConfig::hs256(SECRET, "procgate", "procgate")).unwrap()
}

fn header_of<B>(res: &actix_web::dev::ServiceResponse<B>, name: header::HeaderName) -> String {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[actix_web::test]
async fn missing_token_is_401_with_a_challenge() {
    let app = app!(aweb::Data::new(verifier()));
    let res = test::call_service(&app, test::TestRequest::get().uri("/whoami").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, header::WWW_AUTHENTICATE), r#"Bearer realm="procgate""#);
    let id = header_of(&res, header::HeaderName::from_static("x-request-id"));
    let p: Problem = test::read_body_json(res).await;
    assert_eq!(p.status, 401);
    assert_eq!(p.slug(), Some("unauthorized"));
    assert_eq!(p.request_id.as_deref(), Some(id.as_str()));
    assert!(p.detail.contains("Authorization: Bearer"), "{}", p.detail);

    // A non-bearer scheme counts as no token.
    let req = test::TestRequest::get()
        .uri("/whoami")
        .insert_header((header::AUTHORIZATION, "Basic YWxpY2U6c2VjcmV0"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, header::WWW_AUTHENTICATE), r#"Bearer realm="procgate""#);
}

#[actix_web::test]
async fn bad_token_is_401_invalid_token() {
    let app = app!(aweb::Data::new(verifier()));
    let other =
        Issuer::hs256(b"a-different-secret-of-at-least-32-bytes".to_vec(), "procgate", "procgate")
            .unwrap();
    for token in
        ["not-a-jwt".to_owned(), other.issue("mallory", &[Role::Admin], Duration::from_secs(60))]
    {
        let req = bearer(test::TestRequest::get().uri("/whoami"), &token);
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header_of(&res, header::WWW_AUTHENTICATE),
            r#"Bearer realm="procgate", error="invalid_token""#
        );
        let p: Problem = test::read_body_json(res).await;
        assert_eq!(p.slug(), Some("unauthorized"));
        assert!(p.detail.contains("refused"), "{}", p.detail);
    }
}

#[actix_web::test]
async fn valid_token_reaches_the_handler() {
    let app = app!(aweb::Data::new(verifier()));
    let token = token("carol", &[Role::Auditor, Role::ItStaff]);
    let req = test::TestRequest::get()
        .uri("/whoami")
        .insert_header((header::AUTHORIZATION, format!("bearer {token}")))
        .to_request();
    let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(body["subject"], "carol");
    assert_eq!(body["actor_role"], "it_staff");
}

#[actix_web::test]
async fn wrong_role_is_403_problem() {
    let app = app!(aweb::Data::new(verifier()));
    let req = bearer(
        test::TestRequest::post().uri("/cancel"),
        &token("finance-system-1", &[Role::Finance]),
    );
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(header_of(&res, header::CONTENT_TYPE), "application/problem+json");
    let p: Problem = test::read_body_json(res).await;
    assert_eq!(p.slug(), Some("forbidden"));
    assert!(p.detail.contains("it_staff, admin"), "{}", p.detail);
    assert!(p.detail.contains("finance"), "{}", p.detail);
    assert!(p.request_id.is_some());

    let req = bearer(test::TestRequest::post().uri("/cancel"), &token("it-bob", &[Role::ItStaff]));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn verifier_may_be_an_arc_and_principal_optional() {
    let app = app!(Arc::new(verifier()));
    let req = test::TestRequest::get().uri("/maybe").to_request();
    assert_eq!(test::call_and_read_body(&app, req).await, "anonymous");

    let req = bearer(test::TestRequest::get().uri("/maybe"), &token("dana", &[]));
    assert_eq!(test::call_and_read_body(&app, req.to_request()).await, "dana");
}

#[actix_web::test]
async fn missing_verifier_is_a_500_that_says_nothing() {
    let app = app!(aweb::Data::new(42u8));
    let req = bearer(test::TestRequest::get().uri("/whoami"), &token("erin", &[Role::Admin]));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let p: Problem = test::read_body_json(res).await;
    assert!(!p.detail.contains("Verifier"), "{}", p.detail);
}

#[actix_web::test]
async fn principal_roles() {
    let p = Principal::new("x", vec![Role::Finance, Role::Auditor]);
    assert!(p.has(Role::Finance));
    assert!(!p.has(Role::Admin));
    assert!(p.has_any(&[Role::Admin, Role::Auditor]));
    assert!(!p.has_any(&[]));
    assert_eq!(p.actor_role(), "auditor");
    assert_eq!(Principal::new("y", vec![]).actor_role(), "none");
    assert_eq!(
        Principal::new("z", vec![Role::ItStaff, Role::Admin, Role::Finance]).actor_role(),
        "admin"
    );
    assert_eq!(Principal::new("f", vec![Role::Finance]).require(&[Role::Finance]).ok(), Some(()));
    let err = Principal::new("f", vec![Role::Finance]).require(&[Role::Auditor]).unwrap_err();
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
}
