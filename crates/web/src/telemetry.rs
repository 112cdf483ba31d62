//! Logging and per-request spans.
//!
//! [`init_tracing`] installs the process's subscriber (called once by each binary's `main`);
//! [`tracing_logger`] is the tracing-actix-web middleware that opens one span per request.
//! The span is built by [`ProcgateRootSpan`] so that it carries *our* request id (the one in
//! `x-request-id`, from [`crate::request_id`]) rather than tracing-actix-web's own, which
//! therefore never appears. Everything logged while handling a request, including
//! [`crate::ApiError::internal`]'s cause, is inside that span.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder, TracingLogger};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::request_id::request_id;

/// Installs the global tracing subscriber: JSON lines when `json` is true (for production log
/// shippers), human-readable text otherwise. The level filter comes from `RUST_LOG` (default
/// `info`). Calling it again, or after another subscriber was installed, does nothing.
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _already_installed = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    };
}

/// The tracing middleware with procgate's root span. Register it *inside* the request-id
/// middleware (wrap it before that one), so the id is assigned when the span opens.
pub fn tracing_logger() -> TracingLogger<ProcgateRootSpan> {
    TracingLogger::<ProcgateRootSpan>::new()
}

/// Builds the per-request root span: method, route pattern, target, our request id, and the
/// fields tracing-actix-web fills in when the response is known (status, error).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcgateRootSpan;

impl RootSpanBuilder for ProcgateRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request_id(request.request()).map(|id| id.to_string()).unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.status_code = tracing::field::Empty,
            request_id = %request_id,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
