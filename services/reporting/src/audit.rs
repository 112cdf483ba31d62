//! What auditors ask: `GET /v1/audit/verify`, the log's hash chain recomputed, and
//! [`verify_log`] for the command line (`procgate audit verify`). The decision-history replay,
//! `GET /v1/audit/purchases/{id}`, is in [`crate::replay`].
//!
//! Each event's stored content hash and chain link are recomputed from its fields and the link
//! before it ([`eventlog::EventStore::verify`]); the first position whose content, order or
//! presence does not match is named. Verifications run one at a time per instance (a second
//! request waits for the first): each reads its whole range, and two at once would only compete
//! for the same database.

use actix_web::web::{Data, Query};
use actix_web::{HttpResponse, get};
use auth::Role;
use eventlog::EventStore;
use kernel::http::{Caller, Reply, Roles, store_error};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use web::ApiError;

use crate::Reporting;
use crate::query::invalid_query;

/// Who may verify the log.
pub const VERIFY_ROLES: [Role; 2] = [Role::Auditor, Role::Admin];

/// [`VERIFY_ROLES`].
pub(crate) struct Verifiers;
impl Roles for Verifiers {
    const ROLES: &'static [Role] = &VERIFY_ROLES;
    const COST: kernel::http::Cost = kernel::http::Cost::Expensive;
}

kernel::problem_responses! {
    /// What the audit operations (verifying the log, replaying a purchase) may answer besides
    /// their own responses.
    pub(crate) AuditErrors {
        "401" => "No valid bearer token.",
        "403" => "Needs auditor or admin.",
        "503" => "The event store is not answering.",
    }
}

/// How often (in positions) a running verification logs its progress.
const PROGRESS_EVERY: u64 = 100_000;

/// Query parameters of `GET /v1/audit/verify`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    /// The first sequence to check (default 1). The chain is recomputed from the link stored
    /// before it, so a range checks that its events match that link onwards.
    #[param(minimum = 1, default = 1)]
    pub from: Option<u64>,
    /// The last sequence to check (default, and at most: the head when the request arrives;
    /// the answer's `to` says where it stopped). Must not be before `from`.
    #[param(minimum = 1)]
    pub to: Option<u64>,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "ok": false,
    "checked": 4,
    "first_bad_sequence": 5,
    "problem": "the event's content was changed",
    "from": 1,
    "to": 10000
}))]
pub struct VerifyReport {
    /// Whether every event in the range matched its hash and the chain.
    pub ok: bool,
    /// How many events were checked and matched.
    pub checked: u64,
    /// The first sequence whose content, order or presence does not match; `null` when `ok`.
    pub first_bad_sequence: Option<u64>,
    /// What did not match there; `null` when `ok`.
    pub problem: Option<String>,
    /// The first sequence of the range checked.
    pub from: u64,
    /// The last sequence of the range checked (0 for an empty log).
    pub to: u64,
}

/// Recomputes the hash chain of the whole log, from sequence 1 to the head as it is when the
/// verification starts, and names the first event that does not match. `progress` is told the
/// sequence reached after each batch (2000 events), for a progress bar.
pub async fn verify_log(
    store: &dyn EventStore,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> eventlog::Result<VerifyReport> {
    let to = store.head().await?;
    verify_range(store, 1, to, progress).await
}

/// Recomputes the hash chain over `from..=to` (from the link stored before `from`).
pub async fn verify_range(
    store: &dyn EventStore,
    from: u64,
    to: u64,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> eventlog::Result<VerifyReport> {
    let outcome = store.verify(from, Some(to), progress).await?;
    Ok(VerifyReport {
        ok: outcome.ok,
        checked: outcome.checked,
        first_bad_sequence: outcome.first_bad_sequence,
        problem: outcome.problem,
        from,
        to,
    })
}

/// Recomputes the log's hash chain over a range (the whole log by default) and names the first
/// event that does not match.
#[utoipa::path(
    tag = "audit",
    operation_id = "verify_log",
    params(VerifyParams),
    responses(
        (status = 200, description = "The verification ran; `ok` says whether the range is intact.", body = VerifyReport),
        (status = 400, description = "A parameter is malformed (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The range holds nothing the log has (`invalid-range`): `to` before `from`, or `from` past the head.", body = web::Problem, content_type = "application/problem+json"),
        AuditErrors,
    )
)]
#[get("/v1/audit/verify")]
pub async fn verify(
    _caller: Caller<Verifiers>,
    service: Data<Reporting>,
    params: Query<VerifyParams>,
) -> Reply {
    let from = params.from.unwrap_or(1);
    if from == 0 {
        return Err(invalid_query("`from` is 0; sequences start at 1."));
    }
    let store = service.store();
    let head = store.head().await.map_err(store_error)?;
    if params.from.is_some_and(|from| from > i64::MAX as u64) {
        return Err(invalid_query(format!("`from` must be at most {}.", i64::MAX)));
    }
    if params.to.is_some_and(|to| to > i64::MAX as u64) {
        return Err(invalid_query(format!("`to` must be at most {}.", i64::MAX)));
    }
    // A range past the head checks up to the head: the answer's `to` says so.
    let to = params.to.unwrap_or(head).min(head);
    // An empty log with no range given is simply intact; any other empty range is a mistake.
    let empty_log = head == 0 && params.from.is_none() && params.to.is_none();
    if to < from && !empty_log {
        // A well-formed range the log cannot answer: 422, as the domain's refusals are.
        let detail = if params.to.is_some() {
            format!("`to` ({to}) is before `from` ({from}).")
        } else {
            format!("`from` is {from}, but the log ends at sequence {head}.")
        };
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-range",
            detail,
        ));
    }
    let _one_at_a_time = service.state.verifying.lock().await;
    let started = std::time::Instant::now();
    let next_log = std::sync::atomic::AtomicU64::new(from.saturating_add(PROGRESS_EVERY));
    let progress = |reached: u64| {
        if reached >= next_log.load(std::sync::atomic::Ordering::Relaxed) {
            next_log.store(reached + PROGRESS_EVERY, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(reached, to, "verifying the log");
        }
    };
    let report = verify_range(&**store, from, to, &progress).await.map_err(store_error)?;
    tracing::info!(
        ok = report.ok,
        checked = report.checked,
        first_bad_sequence = report.first_bad_sequence,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "log verified"
    );
    if !report.ok {
        tracing::warn!(
            first_bad_sequence = report.first_bad_sequence,
            problem = report.problem.as_deref(),
            "the log's hash chain does not match"
        );
    }
    metrics::counter!("reporting_verifications_total", "ok" => report.ok.to_string()).increment(1);
    Ok(HttpResponse::Ok().json(report))
}
