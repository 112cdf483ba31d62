//! Prometheus metrics: the process-wide recorder, the HTTP metrics middleware, and
//! `GET /metrics`.
//!
//! The recorder is installed once per process ([`prometheus_handle`] does it on first use, with
//! a `OnceLock`), because the `metrics` facade has one global recorder and tests build many apps
//! in one process. Any crate can then record with the `metrics` macros (`counter!`,
//! `histogram!`, `gauge!`) and the values appear at `/metrics`.
//!
//! [`middleware`] records, per request:
//!
//! - `http_requests_total{method, route, status}`: a counter;
//! - `http_request_duration_seconds{method, route}`: a histogram, time to the response head.
//!
//! `route` is the matched route *pattern* (`/v1/purchases/{id}`), never the raw path, so ids do
//! not explode the number of series; requests no route matched share `route="unmatched"`.
//! Methods outside the standard set are counted as `OTHER` for the same reason.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The name of the request counter.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// The name of the request duration histogram.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";

/// Buckets for request durations, in seconds: 1 ms to 10 s.
const DURATION_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The handle of the process's Prometheus recorder, installing the recorder on first call.
///
/// If some other recorder was installed globally first, a warning is logged and the handle
/// renders only what is recorded through it (nothing, in practice).
pub fn prometheus_handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                DURATION_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(err) = metrics::set_global_recorder(recorder) {
            tracing::warn!(%err, "a metrics recorder was already installed; /metrics will be empty");
        }
        metrics::describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP requests answered");
        metrics::describe_histogram!(
            HTTP_REQUEST_DURATION_SECONDS,
            metrics::Unit::Seconds,
            "Time from request to response head"
        );
        handle
    })
}

/// The HTTP metrics middleware (see the module docs). Use with
/// [`actix_web::middleware::from_fn`], inside the request-id middleware.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    prometheus_handle();
    let started = Instant::now();
    let method = method_label(req.method());
    let result = next.call(req).await;
    let (route, status) = match &result {
        Ok(res) => {
            (res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned()), res.status())
        }
        Err(err) => ("unmatched".to_owned(), err.as_response_error().status_code()),
    };
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "method" => method,
        "route" => route.clone(),
        "status" => status.as_u16().to_string(),
    )
    .increment(1);
    metrics::histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        "method" => method,
        "route" => route,
    )
    .record(elapsed);
    result
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Registers `GET /metrics`, the Prometheus text exposition of every metric in the process.
pub fn metrics_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(render));
}

async fn render() -> HttpResponse {
    let handle = prometheus_handle();
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render())
}
