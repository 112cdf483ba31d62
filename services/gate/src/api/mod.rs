//! The gate's HTTP API (../shared/API.md, "Gate service").
//!
//! Handlers parse the request into domain types, load what the decision needs from the log,
//! call the pure core, and append what it returns at the version they read, retrying when
//! another writer got there first.

mod catalog;
mod checks;
mod parse;
mod purchases;

use actix_web::HttpRequest;
use auth::Principal;
use eventlog::{Actor, Metadata, StoreError};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use web::ApiError;

use crate::domain::{DecisionError, PurchaseError, StandardsError};

/// How many times a command is retried when another writer appended to its stream first.
const RETRIES: usize = 5;

/// Registers the gate's routes; the OpenAPI document is built from the same function.
pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(checks::check_purchase)
        .service(purchases::list_purchases)
        .service(purchases::get_purchase)
        .service(purchases::log_call)
        .service(purchases::propose_alternative)
        .service(purchases::accept_alternative)
        .service(purchases::approve)
        .service(purchases::cancel)
        .service(catalog::get_catalog)
        .service(catalog::put_product)
        .service(catalog::delete_product)
        .service(catalog::put_vendor)
        .service(catalog::put_policy);
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "procgate gate",
        description = "Purchase checks for finance systems, the flagged-purchase queue for IT staff \
                       (call before cancel), and the standards catalog. Errors are RFC 9457 \
                       problem documents (`application/problem+json`) with a stable `type`.",
    ),
    tags(
        (name = "purchase checks", description = "Finance systems ask before approving a purchase."),
        (name = "purchases", description = "IT staff work the flagged purchases."),
        (name = "catalog", description = "The standards: supported products, approved vendors, the policy."),
    ),
    components(schemas(web::Problem, web::FieldError)),
    modifiers(&BearerAuth),
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A JWT with the caller's roles in `roles`."))
                    .build(),
            ),
        );
    }
}

/// The metadata of events written for this request: who, and its correlation id (the request
/// id when it is a UUID).
pub(crate) fn metadata(principal: &Principal, req: &HttpRequest) -> Metadata {
    let correlation = web::request_id::request_id(req)
        .and_then(|id| Uuid::parse_str(id.as_str()).ok())
        .unwrap_or_else(Uuid::now_v7);
    Metadata::new(Actor::new(principal.subject.clone(), principal.actor_role()), "gate")
        .correlated(correlation, None)
}

/// A store failure as a problem: unavailable is 503, anything else is internal.
pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable(detail) => {
            tracing::warn!(%detail, "the event log is unavailable");
            ApiError::unavailable("The event log is unavailable; try again shortly.")
        }
        StoreError::WrongExpectedVersion { .. } => ApiError::conflict(
            "concurrent-update",
            "Others changed this at the same moment, several times over; try again.",
        ),
        other => ApiError::internal(other),
    }
}

pub(crate) fn purchase_error(e: PurchaseError) -> ApiError {
    use actix_web::http::StatusCode;
    let status = match &e {
        PurchaseError::NotFound | PurchaseError::AlternativeNotFound { .. } => {
            StatusCode::NOT_FOUND
        }
        PurchaseError::IdempotencyConflict { .. }
        | PurchaseError::InvalidState { .. }
        | PurchaseError::CallRequired { .. }
        | PurchaseError::DuplicateId { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.slug(), e.to_string())
}

pub(crate) fn decision_error(e: DecisionError) -> ApiError {
    use actix_web::http::StatusCode;
    let status = match e {
        DecisionError::NoPolicy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.slug(), e.to_string())
}

pub(crate) fn standards_error(e: StandardsError) -> ApiError {
    use actix_web::http::StatusCode;
    let status = match e {
        StandardsError::ProductNotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.slug(), e.to_string())
}
