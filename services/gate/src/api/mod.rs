//! The gate's HTTP API (../shared/API.md, "Gate service").
//!
//! Handlers parse the request into domain types, load what the decision needs from the log,
//! call the pure core, and append what it returns at the version they read, retrying when
//! another writer got there first.

mod bodies;
mod card_bodies;
mod cards;
mod catalog;
mod checks;
mod district;
mod purchases;
mod statements;
mod transactions;

use actix_web::http::StatusCode;
use auth::Role;
use kernel::http::{BearerAuth, Roles};
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use web::ApiError;

use crate::domain::{DecisionError, PurchaseError, StandardsError};

/// IT staff and admins: they work the queue and keep the catalog.
pub(crate) struct Writers;
impl Roles for Writers {
    const ROLES: &'static [Role] = &[Role::ItStaff, Role::Admin];
}

/// Who may read purchases: IT, auditors, admins, and finance systems (their own).
pub(crate) struct Readers;
impl Roles for Readers {
    const ROLES: &'static [Role] = &[Role::ItStaff, Role::Auditor, Role::Admin, Role::Finance];
}

/// Finance systems: they ask the gate.
pub(crate) struct FinanceSystems;
impl Roles for FinanceSystems {
    const ROLES: &'static [Role] = &[Role::Finance];
}

/// Any procgate role.
pub(crate) struct AnyRole;
impl Roles for AnyRole {
    const ROLES: &'static [Role] = &Role::ALL;
}

/// A change asked by IT staff or an admin: the caller (checked first), the state, the request.
pub(crate) type Change = kernel::http::Context<crate::app::State, Writers>;

pub(crate) use kernel::http::Secured;

kernel::problem_responses! {
    /// An operation on one thing the path names: [`Secured`](kernel::http::Secured), or no such thing.
    pub(crate) ItemErrors { "401" => "", "403" => "", "404" => "" }
    /// An IT action on one purchase: [`ItemErrors`], or a bad path, body or key.
    pub(crate) ActionErrors {
        "400" => "`invalid-path`, `malformed-json`, `invalid-header` (the Idempotency-Key)",
        "401" => "",
        "403" => "",
        "404" => "",
    }
}

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
        .service(purchases::wait_on_requester)
        .service(catalog::get_catalog)
        .service(catalog::put_product)
        .service(catalog::delete_product)
        .service(catalog::put_vendor)
        .service(catalog::put_policy)
        .service(catalog::put_category)
        .service(district::get_district)
        .service(district::put_district)
        .service(district::put_closure)
        .service(district::delete_closure)
        .service(district::get_sla)
        .service(district::put_sla);
    cards::routes(cfg);
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
        (name = "cards", description = "Purchasing cards and how their transactions are reconciled."),
        (name = "card statements", description = "Card statements imported and reconciled: technology bought without a check, for IT's outreach."),
        (name = "district", description = "District time: the calendar (time zone, business hours, closures) and the targets of the clocks on flagged purchases."),
    ),
    components(schemas(web::Problem, web::FieldError, crate::read_models::ListOrder)),
    modifiers(&BearerAuth),
)]
pub(crate) struct ApiDoc;

impl From<PurchaseError> for ApiError {
    fn from(e: PurchaseError) -> Self {
        purchase_error(e)
    }
}

impl From<StandardsError> for ApiError {
    fn from(e: StandardsError) -> Self {
        standards_error(e)
    }
}

impl From<DecisionError> for ApiError {
    fn from(e: DecisionError) -> Self {
        decision_error(e)
    }
}

fn purchase_error(e: PurchaseError) -> ApiError {
    let status = match &e {
        PurchaseError::NotFound | PurchaseError::AlternativeNotFound { .. } => {
            StatusCode::NOT_FOUND
        }
        PurchaseError::IdempotencyConflict { .. }
        | PurchaseError::InvalidState { .. }
        | PurchaseError::CallRequired { .. }
        | PurchaseError::AcceptNeedsCall
        | PurchaseError::DuplicateId { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.slug(), e.to_string())
}

fn decision_error(e: DecisionError) -> ApiError {
    let status = match e {
        DecisionError::NoPolicy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.slug(), e.to_string())
}

fn standards_error(e: StandardsError) -> ApiError {
    let status = match e {
        StandardsError::ProductNotFound { .. } => StatusCode::NOT_FOUND,
        StandardsError::NoPolicy => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.slug(), e.to_string())
}
