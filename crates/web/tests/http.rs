//! The plumbing as a client sees it: an app built with `with_plumbing`, driven by
//! `actix_web::test`.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, HttpResponse, test, web as aweb};
use serde::Deserialize;
use web::{ApiError, FieldError, NotReady, Problem, ReadinessCheck};

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by serde
struct Order {
    sku: String,
    quantity: u32,
}

async fn create_order(order: aweb::Json<Order>) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({ "sku": order.sku }))
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by serde
struct Page {
    limit: u32,
}

async fn list(page: aweb::Query<Page>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "limit": page.limit }))
}

async fn by_id(id: aweb::Path<u64>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "id": id.into_inner() }))
}

async fn boom() -> Result<HttpResponse, ApiError> {
    let cause = std::io::Error::other("connection to db.internal:5432 refused; password=hunter2");
    Err(ApiError::internal(cause))
}

async fn conflict() -> Result<HttpResponse, ApiError> {
    Err(ApiError::conflict("version-conflict", "The stream moved on; reload and retry.")
        .with_extension("actual_version", 4))
}

async fn invalid() -> Result<HttpResponse, ApiError> {
    Err(ApiError::validation(vec![
        FieldError::new("stars", "give exactly two stars"),
        FieldError::new("wish", "must not be empty"),
    ]))
}

async fn plain_actix_error() -> Result<HttpResponse, actix_web::Error> {
    Err(actix_web::error::ErrorBadRequest("the widget is upside down"))
}

async fn plain_actix_server_error() -> Result<HttpResponse, actix_web::Error> {
    Err(actix_web::error::ErrorInternalServerError("secret internal detail"))
}

/// The test app, with a JSON limit of 64 bytes and the readiness check given.
macro_rules! app {
    ($ready:expr) => {
        test::init_service(web::with_plumbing(
            App::new()
                .app_data(aweb::Data::new(web::AllowedMethods::new([
                    ("/orders", vec![Method::GET, Method::POST]),
                    ("/only-put", vec![Method::PUT]),
                ])))
                .configure(|cfg| web::health_routes(cfg, $ready))
                .configure(web::metrics_routes)
                .route("/orders", aweb::post().to(create_order))
                .route("/orders", aweb::get().to(list))
                .route("/orders/{id}", aweb::get().to(by_id))
                .route("/boom", aweb::get().to(boom))
                .route("/conflict", aweb::get().to(conflict))
                .route("/invalid", aweb::post().to(invalid))
                .route("/plain", aweb::get().to(plain_actix_error))
                .route("/plain500", aweb::get().to(plain_actix_server_error))
                .service(
                    aweb::resource("/only-put").route(aweb::put().to(HttpResponse::NoContent)),
                ),
            64,
        ))
        .await
    };
}

fn request_id_of<B>(res: &ServiceResponse<B>) -> String {
    res.headers()
        .get("x-request-id")
        .expect("every response has an x-request-id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// Reads a problem response: checks the content type and that the body's request id is the
/// header's.
async fn problem<B: MessageBody>(res: ServiceResponse<B>) -> Problem {
    let id = request_id_of(&res);
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let status = res.status().as_u16();
    let problem: Problem = test::read_body_json(res).await;
    assert_eq!(problem.status, status);
    assert_eq!(problem.request_id.as_deref(), Some(id.as_str()));
    assert!(problem.type_.starts_with(web::PROBLEM_BASE));
    assert!(!problem.detail.is_empty());
    problem
}

/// Sends `req` to `app`, checks that the answer is a problem of `status` and `slug` (see
/// [`problem`]), and reads it.
async fn problem_of<S, R, B>(app: &S, req: R, status: StatusCode, slug: &str) -> Problem
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    assert_eq!(res.status(), status, "{slug}");
    let p = problem(res).await;
    assert_eq!(p.slug(), Some(slug));
    p
}

/// A POST of `payload` to `/orders`, declared JSON.
fn json_order(payload: impl Into<actix_web::web::Bytes>) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/orders")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(payload)
}

#[actix_web::test]
async fn generates_a_uuid_v7_request_id() {
    let app = app!(web::always_ready());
    let res =
        test::call_service(&app, test::TestRequest::get().uri("/health/live").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = uuid::Uuid::parse_str(&request_id_of(&res)).unwrap();
    assert_eq!(id.get_version_num(), 7);
}

#[actix_web::test]
async fn echoes_a_sane_request_id_and_replaces_an_insane_one() {
    let app = app!(web::always_ready());
    let req = test::TestRequest::get()
        .uri("/health/live")
        .insert_header(("x-request-id", "client-42.abc"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(request_id_of(&res), "client-42.abc");

    let long = "x".repeat(65);
    let req = test::TestRequest::get()
        .uri("/health/live")
        .insert_header(("x-request-id", long.as_str()))
        .to_request();
    let res = test::call_service(&app, req).await;
    let id = request_id_of(&res);
    assert_ne!(id, long);
    assert!(uuid::Uuid::parse_str(&id).is_ok());
}

#[actix_web::test]
async fn echoed_request_id_appears_in_problem_bodies() {
    let app = app!(web::always_ready());
    let req = test::TestRequest::get()
        .uri("/nowhere")
        .insert_header(("x-request-id", "trace-me"))
        .to_request();
    let p = problem(test::call_service(&app, req).await).await;
    assert_eq!(p.request_id.as_deref(), Some("trace-me"));
}

#[actix_web::test]
async fn malformed_json_is_a_400_problem() {
    let app = app!(web::always_ready());
    let req = json_order(r#"{"sku": "A1", "quantity": "#).to_request();
    let p = problem_of(&app, req, StatusCode::BAD_REQUEST, "malformed-json").await;
    assert_eq!(p.instance.as_deref(), Some("/orders"));

    // Valid JSON of the wrong shape: the serde message names the field.
    let req = json_order(r#"{"sku": "A1", "quantity": "two"}"#).to_request();
    let p = problem_of(&app, req, StatusCode::BAD_REQUEST, "malformed-json").await;
    assert!(p.detail.contains("invalid type"), "{}", p.detail);
}

#[actix_web::test]
async fn good_json_passes() {
    let app = app!(web::always_ready());
    let req = test::TestRequest::post()
        .uri("/orders")
        .set_json(serde_json::json!({"sku": "A1", "quantity": 2}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn wrong_or_missing_content_type_is_a_415_problem() {
    let app = app!(web::always_ready());
    for content_type in [Some("text/plain"), None] {
        let mut req =
            test::TestRequest::post().uri("/orders").set_payload(r#"{"sku": "A1", "quantity": 2}"#);
        if let Some(ct) = content_type {
            req = req.insert_header((header::CONTENT_TYPE, ct));
        }
        let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        problem_of(&app, req.to_request(), status, "unsupported-media-type").await;
    }
}

#[actix_web::test]
async fn too_large_body_is_a_413_problem() {
    let app = app!(web::always_ready());
    let big = format!(r#"{{"sku": "{}", "quantity": 1}}"#, "A".repeat(200));
    let req = json_order(big).to_request();
    let p = problem_of(&app, req, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    assert!(p.detail.contains("64"), "{}", p.detail);
}

#[actix_web::test]
async fn bad_query_and_path_are_400_problems() {
    let app = app!(web::always_ready());
    for (uri, slug) in [("/orders?limit=lots", "invalid-query"), ("/orders/seven", "invalid-path")]
    {
        let req = test::TestRequest::get().uri(uri).to_request();
        problem_of(&app, req, StatusCode::BAD_REQUEST, slug).await;
    }
}

#[actix_web::test]
async fn unknown_route_is_a_404_problem() {
    let app = app!(web::always_ready());
    let req = test::TestRequest::get().uri("/v1/nothing-here").to_request();
    let p = problem_of(&app, req, StatusCode::NOT_FOUND, "not-found").await;
    assert_eq!(p.instance.as_deref(), Some("/v1/nothing-here"));
}

#[actix_web::test]
async fn wrong_method_is_a_405_problem() {
    let app = app!(web::always_ready());
    // A path registered through `App::route` for other methods.
    let res =
        test::call_service(&app, test::TestRequest::delete().uri("/orders").to_request()).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers().get("allow").unwrap(), "GET, POST, HEAD");
    assert_eq!(problem(res).await.slug(), Some("method-not-allowed"));

    // A resource with its own (empty-bodied) 405.
    let res =
        test::call_service(&app, test::TestRequest::get().uri("/only-put").to_request()).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers().get("allow").unwrap(), "PUT");
    assert_eq!(problem(res).await.slug(), Some("method-not-allowed"));
}

#[actix_web::test]
async fn internal_error_does_not_leak_its_cause() {
    let app = app!(web::always_ready());
    let res = test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = request_id_of(&res);
    let body = test::read_body(res).await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("db.internal"), "{text}");
    let p: Problem = serde_json::from_str(&text).unwrap();
    assert_eq!(p.slug(), Some("internal"));
    assert_eq!(p.request_id.as_deref(), Some(id.as_str()));

    // A plain actix 500 is made a problem without its message.
    let req = test::TestRequest::get().uri("/plain500").to_request();
    let p = problem_of(&app, req, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    assert!(!p.detail.contains("secret"), "{}", p.detail);
}

#[actix_web::test]
async fn plain_actix_client_errors_become_problems() {
    let app = app!(web::always_ready());
    let req = test::TestRequest::get().uri("/plain").to_request();
    let p = problem_of(&app, req, StatusCode::BAD_REQUEST, "bad-request").await;
    assert_eq!(p.detail, "the widget is upside down");
}

#[actix_web::test]
async fn extensions_and_validation_errors_reach_the_client() {
    let app = app!(web::always_ready());
    let req = test::TestRequest::get().uri("/conflict").to_request();
    let p = problem_of(&app, req, StatusCode::CONFLICT, "version-conflict").await;
    assert_eq!(p.extensions["actual_version"], 4);

    let req = test::TestRequest::post().uri("/invalid").to_request();
    let p = problem_of(&app, req, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(p.errors.len(), 2);
    assert_eq!(p.errors[0].field, "stars");
}

#[actix_web::test]
async fn health_endpoints() {
    let app = app!(web::always_ready());
    for path in ["/health/live", "/health/ready"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body, serde_json::json!({"status": "ok"}));
    }

    let not_ready: Arc<dyn ReadinessCheck> = Arc::new(|| async {
        Err(NotReady::new("The event store does not answer.")
            .with_cause("connection refused to 10.0.0.7"))
    });
    let app = app!(not_ready);
    let res =
        test::call_service(&app, test::TestRequest::get().uri("/health/live").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let req = test::TestRequest::get().uri("/health/ready").to_request();
    let p = problem_of(&app, req, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(p.detail, "The event store does not answer.");
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = app!(web::always_ready());
    let res =
        test::call_service(&app, test::TestRequest::get().uri("/orders/12345").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let _ =
        test::call_service(&app, test::TestRequest::get().uri("/no/such/route/777").to_request())
            .await;

    let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!request_id_of(&res).is_empty());
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let counter = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains(r#"route="/orders/{id}""#)
                && l.contains(r#"method="GET""#)
                && l.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no counter for /orders/{{id}} in:\n{text}"));
    let value: f64 = counter.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(value >= 1.0);
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    assert!(!text.contains("12345"), "raw paths must not become labels");
    assert!(!text.contains("777"), "raw paths must not become labels");
    assert!(text.contains("http_request_duration_seconds_bucket{"), "{text}");
}

#[actix_web::test]
async fn openapi_and_docs_are_served() {
    use utoipa::openapi::{InfoBuilder, OpenApiBuilder};
    let doc = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("gate").version("1.0.0").build())
        .build();
    let app = test::init_service(web::with_plumbing(
        App::new().configure(|cfg| web::openapi_routes(cfg, doc)),
        1024,
    ))
    .await;

    let res =
        test::call_service(&app, test::TestRequest::get().uri("/openapi.json").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["info"]["title"], "gate");

    let res = test::call_service(&app, test::TestRequest::get().uri("/docs").to_request()).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/docs/");

    let res = test::call_service(&app, test::TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(html.contains("swagger-ui"), "{html}");

    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/docs/swagger-initializer.js").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let js = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(js.contains("/openapi.json"), "{js}");
}

#[actix_web::test]
async fn request_id_extractor_sees_the_middleware_id() {
    let app = test::init_service(web::with_plumbing(
        App::new()
            .route("/whoami", aweb::get().to(|id: web::RequestId| async move { id.to_string() })),
        1024,
    ))
    .await;
    let req =
        test::TestRequest::get().uri("/whoami").insert_header(("x-request-id", "abc")).to_request();
    let body = test::call_and_read_body(&app, req).await;
    assert_eq!(body, "abc");
}

/// A service error type of its own that renders through `ApiError::render` (without the
/// request's members): the middleware fills them in.
#[derive(Debug)]
struct ServiceError;

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("service error")
    }
}

impl actix_web::ResponseError for ServiceError {
    fn status_code(&self) -> StatusCode {
        StatusCode::CONFLICT
    }
    fn error_response(&self) -> HttpResponse {
        ApiError::conflict("call-required", "Call the requester first.").render(None, None)
    }
}

#[actix_web::get("/macro")]
async fn macro_get() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[actix_web::test]
async fn problems_rendered_elsewhere_get_the_request_members() {
    let app = test::init_service(web::with_plumbing(
        App::new()
            .route("/svc", aweb::post().to(|| async { Err::<HttpResponse, _>(ServiceError) })),
        1024,
    ))
    .await;
    let req = test::TestRequest::post().uri("/svc").to_request();
    let p = problem_of(&app, req, StatusCode::CONFLICT, "call-required").await;
    assert_eq!(p.instance.as_deref(), Some("/svc"));
}

#[actix_web::test]
async fn macro_routes_and_scopes_get_404_and_405_problems() {
    let app = test::init_service(web::with_plumbing(
        App::new()
            .service(macro_get)
            .service(aweb::scope("/v1").route("/things", aweb::get().to(HttpResponse::Ok))),
        1024,
    ))
    .await;
    let (not_allowed, not_found) = (StatusCode::METHOD_NOT_ALLOWED, StatusCode::NOT_FOUND);
    for (req, status, slug) in [
        (test::TestRequest::post().uri("/macro"), not_allowed, "method-not-allowed"),
        (test::TestRequest::get().uri("/v1/nope"), not_found, "not-found"),
        (test::TestRequest::delete().uri("/v1/things"), not_allowed, "method-not-allowed"),
    ] {
        problem_of(&app, req.to_request(), status, slug).await;
    }
}
