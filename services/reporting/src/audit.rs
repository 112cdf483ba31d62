//! What auditors ask: `GET /v1/audit/verify`, the log's hash chain recomputed, and
//! [`verify_log`] for the command line (`procgate audit verify`). The decision-history replay,
//! `GET /v1/audit/purchases/{id}`, is in [`crate::replay`].
//!
//! Each event's stored content hash and chain link are recomputed from its fields and the link
//! before it ([`eventlog::EventStore::verify`]); the first position whose content, order or
//! presence does not match is named. Verifications run one at a time per instance (a second
//! request waits for the first): each reads its whole range, and two at once would only compete
//! for the same database.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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

impl VerifyParams {
    /// The first sequence asked for (default 1), checked before anything is read: a 400
    /// `invalid-query` problem for 0, or for a bound the document's int64 cannot carry.
    pub fn first(&self) -> Result<u64, ApiError> {
        let from = self.from.unwrap_or(1);
        if from == 0 {
            return Err(invalid_query("`from` is 0; sequences start at 1."));
        }
        if from > i64::MAX as u64 {
            return Err(invalid_query(format!("`from` must be at most {}.", i64::MAX)));
        }
        if self.to.is_some_and(|to| to > i64::MAX as u64) {
            return Err(invalid_query(format!("`to` must be at most {}.", i64::MAX)));
        }
        Ok(from)
    }

    /// The range to check, from `from` (see [`VerifyParams::first`]), against the log's `head`:
    /// a range past the head checks up to the head; an empty log with no range given is simply
    /// intact (`1..=0`); 422 `invalid-range` for any other range that holds nothing the log
    /// has.
    pub fn range(&self, from: u64, head: u64) -> Result<RangeInclusive<u64>, ApiError> {
        let to = self.to.unwrap_or(head).min(head);
        let empty_log = head == 0 && self.from.is_none() && self.to.is_none();
        if to < from && !empty_log {
            // A well-formed range the log cannot answer: 422, as the domain's refusals are.
            let detail = if self.to.is_some() {
                format!("`to` ({to}) is before `from` ({from}).")
            } else {
                format!("`from` is {from}, but the log ends at sequence {head}.")
            };
            return Err(ApiError::unprocessable("invalid-range", detail));
        }
        Ok(from..=to)
    }
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

impl Reporting {
    /// The turn of one verification of the chain on this instance: held, the others wait.
    pub(crate) async fn verifications(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.state.verifying.lock().await
    }

    /// Verifies `range` once the verifications before it on this instance are done, logging
    /// its progress and outcome and counting it.
    async fn verify_one_at_a_time(
        &self,
        range: RangeInclusive<u64>,
    ) -> eventlog::Result<VerifyReport> {
        let _one_at_a_time = self.verifications().await;
        let started = Instant::now();
        let (from, to) = (*range.start(), *range.end());
        let progress = progress_log(from, to);
        let report = verify_range(&**self.store(), from, to, &progress).await?;
        log_outcome(&report, started);
        Ok(report)
    }
}

/// Logs how far a verification of `from..=to` got, at most once every [`PROGRESS_EVERY`]
/// positions.
fn progress_log(from: u64, to: u64) -> impl Fn(u64) + Send + Sync {
    let next_log = AtomicU64::new(from.saturating_add(PROGRESS_EVERY));
    move |reached: u64| {
        if reached >= next_log.load(Ordering::Relaxed) {
            next_log.store(reached + PROGRESS_EVERY, Ordering::Relaxed);
            tracing::info!(reached, to, "verifying the log");
        }
    }
}

/// Logs a verification's outcome (a warning when the chain does not match) and counts it.
fn log_outcome(report: &VerifyReport, started: Instant) {
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
    let from = params.first()?;
    let head = service.store().head().await.map_err(store_error)?;
    let range = params.range(from, head)?;
    let report = service.verify_one_at_a_time(range).await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(from: Option<u64>, to: Option<u64>) -> VerifyParams {
        VerifyParams { from, to }
    }

    /// The range of `from..=to` against `head`, or the refusal's status and slug.
    fn range(from: Option<u64>, to: Option<u64>, head: u64) -> Result<(u64, u64), (u16, String)> {
        let p = params(from, to);
        let refused = |e: ApiError| (e.status().as_u16(), e.slug().to_owned());
        let range = p.first().and_then(|first| p.range(first, head)).map_err(refused)?;
        Ok((*range.start(), *range.end()))
    }

    #[test]
    fn given_no_range_the_whole_log_up_to_the_head_is_checked() {
        assert_eq!(range(None, None, 10), Ok((1, 10)));
        assert_eq!(range(Some(4), None, 10), Ok((4, 10)));
    }

    #[test]
    fn given_an_empty_log_and_no_range_it_is_simply_intact() {
        assert_eq!(range(None, None, 0), Ok((1, 0)));
        assert_eq!(range(Some(1), None, 0), Err((422, "invalid-range".into())));
    }

    #[test]
    fn a_range_past_the_head_checks_up_to_the_head() {
        assert_eq!(range(Some(2), Some(50), 10), Ok((2, 10)));
    }

    #[test]
    fn sequences_start_at_1_and_fit_in_int64() {
        assert_eq!(range(Some(0), None, 10), Err((400, "invalid-query".into())));
        let big = i64::MAX as u64 + 1;
        assert_eq!(range(Some(big), None, 10), Err((400, "invalid-query".into())));
        assert_eq!(range(None, Some(big), 10), Err((400, "invalid-query".into())));
        assert_eq!(range(Some(i64::MAX as u64), None, 10), Err((422, "invalid-range".into())));
        // `first` alone refuses them: `verify` calls it before asking the log for its head.
        assert!(params(Some(big), None).first().is_err());
        assert!(params(None, Some(big)).first().is_err());
    }

    #[test]
    fn a_range_that_holds_nothing_is_refused_saying_why() {
        let before = params(Some(5), Some(3)).range(5, 10).unwrap_err();
        assert_eq!((before.status().as_u16(), before.slug()), (422, "invalid-range"));
        assert_eq!(before.detail(), "`to` (3) is before `from` (5).");
        let past = params(Some(11), None).range(11, 10).unwrap_err();
        assert_eq!(past.detail(), "`from` is 11, but the log ends at sequence 10.");
    }
}
