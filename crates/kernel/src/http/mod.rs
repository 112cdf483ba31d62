//! The HTTP glue every service's handlers share: who calls ([`Caller`]), what they send
//! ([`Body`], [`path`], [`query_param`], [`page`]), what their events are stamped with
//! ([`metadata`]), how the log's failures read ([`store_error`]), and the OpenAPI document
//! ([`document`], [`BearerAuth`]), and what a service registers its handlers with
//! ([`Handlers`]).

mod body;
mod caller;
mod context;
mod conventions;
mod handlers;
mod idempotency;
pub mod limits;
mod openapi;
mod params;

pub use body::{Body, FromJson, OptionalBody, optional_json, parse_object};
pub use caller::{Caller, Roles};
pub use context::Context;
pub use conventions::conventions;
pub use handlers::Handlers;
pub use idempotency::{
    IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, Idempotency, IdempotencyKeyHeader, Written,
    idempotency_key,
};
pub use limits::{Cost, RateLimits};
pub use openapi::{BearerAuth, Secured, document, problem_responses};
pub use params::{
    Page, Paging, after, date, limit, offset, optional_date, path, path_id, query_param,
};

use actix_web::HttpRequest;
use auth::Principal;
use eventlog::{Actor, Metadata, StoreError};
use uuid::Uuid;
use web::ApiError;

/// What a handler answers: its response, or a problem.
pub type Reply = Result<actix_web::HttpResponse, ApiError>;

/// The metadata of events written for this request by `service`: who, and the correlation id
/// (the request id when it is a UUID).
pub fn metadata(principal: &Principal, req: &HttpRequest, service: &str) -> Metadata {
    let correlation = web::request_id::request_id(req)
        .and_then(|id| Uuid::parse_str(id.as_str()).ok())
        .unwrap_or_else(Uuid::now_v7);
    Metadata::new(Actor::new(principal.subject.clone(), principal.actor_role()), service)
        .correlated(correlation, None)
}

/// A store failure as a problem: unavailable is 503 (with `Retry-After`), a version conflict
/// that survived the retries is 409 `concurrent-update`, anything else is internal.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable(detail) => {
            tracing::warn!(%detail, "the event log is unavailable");
            ApiError::unavailable("The event log is unavailable; try again shortly.")
        }
        StoreError::WrongExpectedVersion { .. } => concurrent_update(),
        other => ApiError::internal(other),
    }
}

/// The slug of [`concurrent_update`].
const CONCURRENT_UPDATE: &str = "concurrent-update";

/// 409 `concurrent-update`: others kept changing the same thing while a command was retried.
pub fn concurrent_update() -> ApiError {
    ApiError::conflict(
        CONCURRENT_UPDATE,
        "Others changed this at the same moment, several times over; try again.",
    )
}

/// Whether `error` is [`concurrent_update`]: for a write where the last of several writers at
/// once has the word, and losing the race is not a failure.
pub fn is_concurrent_update(error: &ApiError) -> bool {
    error.slug() == CONCURRENT_UPDATE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_race_is_told_from_other_conflicts() {
        assert!(is_concurrent_update(&concurrent_update()));
        assert!(is_concurrent_update(&store_error(StoreError::WrongExpectedVersion {
            stream: crate::stream("purchase-1"),
            expected: eventlog::ExpectedVersion::Exact(1),
            actual: 2,
        })));
        assert!(!is_concurrent_update(&ApiError::conflict("invalid-state", "Not held.")));
    }
}
