//! HTTP plumbing shared by every procgate service (gate, stakeholders, reporting).
//!
//! This is the lowest HTTP crate: it knows actix-web but nothing of procgate's domain, of
//! authentication (the `auth` crate builds on it) or of any service. What it gives a service:
//!
//! | piece | module | what for |
//! |---|---|---|
//! | [`ApiError`], [`Problem`], [`FieldError`] | [`problem`] | every error is RFC 9457 `application/problem+json`; internal causes are logged, never sent |
//! | [`request_id::middleware`], [`RequestId`] | [`request_id`] | an `x-request-id` on every response and in every problem body |
//! | [`init_tracing`], [`tracing_logger`] | [`telemetry`] | one span per request carrying the request id; text or JSON logs |
//! | [`json_config`], [`query_config`], [`path_config`], [`not_found`] | [`extract`] | bad input gets a 400/413/415 problem; unknown routes 404, wrong methods 405 |
//! | [`health_routes`], [`ReadinessCheck`] | [`health`] | `/health/live`, `/health/ready` |
//! | [`metrics::middleware`], [`metrics_routes`] | [`metrics`] | request counters and latency histograms at `/metrics` |
//! | [`openapi_routes`], [`check_openapi_file`], [`check_operations`] | [`openapi`] | `/openapi.json`, Swagger UI at `/docs`, and the drift check |
//! | [`Service`], [`Application`] | [`server`] | one or several services on one listener, with all of the above |
//! | [`csv::Csv`], [`csv::attachment`] | [`csv`] | reports as CSV (`?format=csv`), safe to open in a spreadsheet |
//!
//! A service's app is its routes plus [`with_plumbing`], applied last:
//!
//! ```no_run
//! use std::sync::Arc;
//! use actix_web::{App, HttpServer};
//!
//! # async fn run() -> std::io::Result<()> {
//! HttpServer::new(|| {
//!     web::with_plumbing(
//!         App::new()
//!             .configure(|cfg| web::health_routes(cfg, web::always_ready()))
//!             .configure(web::metrics_routes),
//!         web::DEFAULT_JSON_LIMIT,
//!     )
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await
//! # }
//! ```

pub mod allow;
pub mod csv;
pub mod extract;
pub mod health;
pub mod input;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod request_id;
pub mod server;
pub mod telemetry;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, Error};

pub use allow::AllowedMethods;
pub use extract::{DEFAULT_JSON_LIMIT, json_config, not_found, path_config, query_config};
pub use health::{NotReady, ReadinessCheck, ReadyFuture, always_ready, health_routes};
pub use input::Fields;
pub use metrics::{metrics_routes, prometheus_handle};
pub use openapi::{
    check_openapi_file, check_operations, openapi_json, openapi_routes, openapi_routes_at,
};
pub use problem::{ApiError, FieldError, PROBLEM_BASE, PROBLEM_JSON, Problem, problem_type};
pub use request_id::{REQUEST_ID_HEADER, RequestId};
pub use server::{Application, Service, merged_openapi};
pub use telemetry::{init_tracing, tracing_logger};

/// Adds the shared plumbing to an app: the JSON, query and path extractor configs (JSON bodies
/// up to `json_limit_bytes`), the 404/405 default service, and the middleware stack, from the
/// inside out: HTTP metrics, the tracing span, request ids and problem completion.
///
/// Call it last, after the app's routes and any middleware of its own, so the request-id layer
/// is outermost and every response (including one a service middleware short-circuits) gets
/// its `x-request-id`. It replaces any default service set before.
pub fn with_plumbing<T, B>(
    app: App<T>,
    json_limit_bytes: usize,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    metrics::prometheus_handle();
    app.app_data(json_config(json_limit_bytes))
        .app_data(query_config())
        .app_data(path_config())
        .default_service(actix_web::web::to(not_found))
        .wrap(from_fn(metrics::middleware))
        .wrap(tracing_logger())
        .wrap(from_fn(request_id::middleware))
}
