//! Liveness and readiness endpoints, for orchestrators and load balancers.
//!
//! - `GET /health/live`: the process answers HTTP; always 200 `{"status":"ok"}`.
//! - `GET /health/ready`: the service can do its work; runs the service's [`ReadinessCheck`]
//!   (for procgate: the event store really answers a query) and answers 200
//!   `{"status":"ok"}` or a 503 `unavailable` problem.
//!
//! A check is anything implementing [`ReadinessCheck`], including an async closure
//! `|| async { Ok(()) }`; pass it as an `Arc<dyn ReadinessCheck>`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::ApiError;

/// Why a service is not ready.
#[derive(Debug, Clone)]
pub struct NotReady {
    detail: String,
    cause: Option<String>,
}

impl NotReady {
    /// Not ready; `detail` is shown to the caller, so say *what* is unavailable ("The event
    /// store does not answer."), not the internal reason.
    pub fn new(detail: impl Into<String>) -> Self {
        Self { detail: detail.into(), cause: None }
    }

    /// Adds the internal reason, which is logged but not sent.
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// The detail shown to the caller.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// The future a [`ReadinessCheck`] returns.
pub type ReadyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotReady>> + 'a>>;

/// A service's readiness check: `Ok(())` when it can serve requests.
pub trait ReadinessCheck: Send + Sync + 'static {
    /// Checks readiness; should finish within a couple of seconds (use a timeout inside).
    fn check(&self) -> ReadyFuture<'_>;
}

impl<F, Fut> ReadinessCheck for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), NotReady>> + 'static,
{
    fn check(&self) -> ReadyFuture<'_> {
        Box::pin(self())
    }
}

/// A check that always passes, for services (and tests) with nothing to wait for.
pub fn always_ready() -> Arc<dyn ReadinessCheck> {
    Arc::new(|| async { Ok(()) })
}

/// The body of a healthy answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthStatus {
    /// Always `ok`.
    pub status: &'static str,
}

const OK: HealthStatus = HealthStatus { status: "ok" };

/// Registers `GET /health/live` and `GET /health/ready` (see the module docs).
pub fn health_routes(cfg: &mut web::ServiceConfig, ready_check: Arc<dyn ReadinessCheck>) {
    cfg.route("/health/live", web::get().to(live)).route(
        "/health/ready",
        web::get().to(move || {
            let check = Arc::clone(&ready_check);
            async move { ready(&*check).await }
        }),
    );
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(OK)
}

async fn ready(check: &dyn ReadinessCheck) -> Result<HttpResponse, ApiError> {
    match check.check().await {
        Ok(()) => Ok(HttpResponse::Ok().json(OK)),
        Err(not_ready) => {
            tracing::warn!(
                detail = %not_ready.detail,
                cause = not_ready.cause.as_deref().unwrap_or(""),
                "readiness check failed"
            );
            Err(ApiError::unavailable(not_ready.detail).with_title("Not ready"))
        }
    }
}
