//! The decision history of one purchase, replayed from the log itself:
//! `GET /v1/audit/purchases/{id}?as_of=`, and [`replay_purchase`] / [`render_timeline`] for the
//! command line (`procgate audit replay --purchase ID`).
//!
//! The replay reads the purchase's stream (`purchase-{id}`) from the store, never a projection,
//! and folds each event into the purchase's state with its own fold ([`PurchaseState`]; the
//! reporting service depends on no other service, only on the published event types). Whether
//! the purchase may be cancelled is the published rule, [`CallBeforeCancel`], which the gate
//! decides with, so the replay shows what the gate would have answered at each step. Each step
//! shows the event (sequence, type, actor and role, the time the log recorded it, its data) and
//! the state after it. With `as_of`, only the events recorded at or before that time are
//! replayed: the purchase as it stood then.
//!
//! An event whose data does not decode (a changed row, say) is shown with a `problem` and leaves
//! the state as it was: an auditor should see it rather than get an error. The hash chain
//! (`GET /v1/audit/verify`) says whether anything was changed.

use std::fmt::Write as _;

use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get};
use auth::Role;
use chrono::{DateTime, Utc};
use eventlog::{EventStore, RecordedEvent, StoreError, StreamName};
use events::clocks::took_place_at;
use events::gate::{Decision, PurchaseEvent, PurchaseStatus, Reason, ReasonCode, purchase_stream};
use events::rules::CallBeforeCancel;
use kernel::http::{Caller, Reply, Roles, store_error};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use crate::Reporting;
use crate::audit::AuditErrors;
use crate::cloudevent::Rfc3339Micros;

/// Who may replay a purchase.
pub const REPLAY_ROLES: [Role; 2] = [Role::Auditor, Role::Admin];

/// [`REPLAY_ROLES`].
pub(crate) struct Replayers;
impl Roles for Replayers {
    const ROLES: &'static [Role] = &REPLAY_ROLES;
    const COST: kernel::http::Cost = kernel::http::Cost::Expensive;
}

/// A purchase's history, replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Replay {
    pub purchase_id: Uuid,
    /// Its stream: `purchase-{id}`.
    pub stream: String,
    /// Only events recorded at or before this time were replayed; `null`: all of them.
    pub as_of: Option<DateTime<Utc>>,
    /// How many events the stream holds (at any time).
    pub events_in_stream: u64,
    /// The events replayed, in stream order, each with the state after it.
    pub events: Vec<ReplayStep>,
    /// The state after the last event replayed; `null` when none was (the purchase did not
    /// exist yet at `as_of`).
    pub state: Option<PurchaseState>,
}

/// One event and the purchase's state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReplayStep {
    /// The event's global position.
    pub sequence: u64,
    /// Its position in the purchase's stream, from 1.
    pub version: u64,
    pub event_id: Uuid,
    /// The event type (`purchase-decided`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Who caused it: the JWT subject (or `system:{service}`).
    pub actor: String,
    /// The role the actor acted in.
    pub role: String,
    /// The service that wrote it.
    pub service: String,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    /// The event's data, as stored.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Why the event did not change the state (its data does not decode); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The purchase after this event.
    pub state: PurchaseState,
}

/// A purchase's state, as the events so far leave it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseState {
    /// `null` until decided; then the decision, until IT approves or cancels.
    pub status: Option<PurchaseStatus>,
    pub decision: Option<Decision>,
    pub reasons: Vec<Reason>,
    /// Whether the school had signed the purchasing agreement when the gate decided.
    pub school_gated: Option<bool>,
    /// The `standards-district` version the decision was made against.
    pub policy_version: Option<u64>,
    pub external_ref: Option<String>,
    /// The finance system that asked.
    pub submitted_by: Option<String>,
    pub school_id: Option<String>,
    pub requester_email: Option<String>,
    pub vendor: Option<String>,
    #[schema(example = "USD")]
    pub currency: Option<String>,
    #[schema(example = "1798.00")]
    pub total: Option<String>,
    /// Lines submitted.
    pub lines: u64,
    pub submitted_at: Option<DateTime<Utc>>,
    /// When the requester asked for the purchase, for a check sent after the fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    /// When the gate held or flagged it: when it decided, or for a check sent after the fact,
    /// when the purchase was requested.
    pub flagged_at: Option<DateTime<Utc>>,
    pub calls: Vec<CallRecord>,
    pub alternatives: Vec<AlternativeRecord>,
    /// Whether call before cancel is satisfied: held, a call after the flag reached the
    /// requester and recorded their goal, and an alternative was proposed.
    pub may_cancel: bool,
    pub approval_note: Option<String>,
    /// The accepted alternative it was approved as.
    pub approved_alternative_id: Option<Uuid>,
    pub cancel_reason: Option<String>,
    /// When IT approved or cancelled it: the decision's `occurred_at`, else when the log
    /// recorded it.
    pub closed_at: Option<DateTime<Utc>>,
    /// Call before cancel, folded from the same events: what `may_cancel` and each call's
    /// `counts_for_cancel` show. Not part of the replay's JSON (a deserialized state has the
    /// empty fold: it is for reading, not for applying more events to).
    #[serde(skip)]
    #[schema(ignore)]
    call_before_cancel: CallBeforeCancel,
}

/// A call with the requester.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallRecord {
    pub call_id: Uuid,
    pub requester_reached: bool,
    /// What the requester is trying to accomplish.
    pub goal: Option<String>,
    pub notes: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded it.
    pub logged_at: DateTime<Utc>,
    /// Whether it counts for call before cancel: reached, goal recorded, at or after the flag.
    pub counts_for_cancel: bool,
}

/// An alternative IT proposed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlternativeRecord {
    pub alternative_id: Uuid,
    pub description: String,
    /// Lines it proposes.
    pub lines: u64,
    /// When it was proposed: its `occurred_at`, else when the log recorded it.
    pub proposed_at: DateTime<Utc>,
    /// When the log recorded it.
    pub logged_at: DateTime<Utc>,
    pub accepted: bool,
}

impl PurchaseState {
    /// Folds in one event, recorded at `at`.
    pub fn apply(&mut self, event: &PurchaseEvent, at: DateTime<Utc>) {
        let took_place = took_place_at(event, at, self.requested_at);
        self.status = PurchaseStatus::after(self.status, event);
        self.call_before_cancel.apply(event, at);
        match event {
            PurchaseEvent::Submitted(s) => {
                self.external_ref = Some(s.external_ref.to_string());
                self.submitted_by = Some(s.submitted_by.clone());
                self.school_id = Some(s.school_id.to_string());
                self.requester_email = Some(s.requester_email.to_string());
                self.vendor = Some(s.vendor.to_string());
                self.currency = Some(s.currency.to_string());
                self.total = Some(s.total.to_string());
                self.lines = s.lines.len() as u64;
                self.submitted_at = Some(at);
                self.requested_at = s.requested_at;
            }
            PurchaseEvent::Decided(d) => {
                self.decision = Some(d.decision);
                self.reasons = d.reasons.clone();
                self.school_gated = Some(d.school_gated);
                self.policy_version = Some(d.policy_version);
                self.flagged_at = self.call_before_cancel.flagged_at();
            }
            PurchaseEvent::CallLogged(c) => {
                let counts = self.call_before_cancel.counts(c);
                self.calls.push(CallRecord {
                    call_id: c.call_id,
                    requester_reached: c.requester_reached,
                    goal: c.goal.as_ref().map(ToString::to_string),
                    notes: c.notes.as_ref().map(ToString::to_string),
                    occurred_at: c.occurred_at,
                    logged_at: at,
                    counts_for_cancel: counts,
                });
            }
            PurchaseEvent::AlternativeProposed(a) => self.alternatives.push(AlternativeRecord {
                alternative_id: a.alternative_id,
                description: a.description.to_string(),
                lines: a.lines.len() as u64,
                proposed_at: took_place,
                logged_at: at,
                accepted: false,
            }),
            PurchaseEvent::AlternativeAccepted(a) => {
                for alt in &mut self.alternatives {
                    if alt.alternative_id == a.alternative_id {
                        alt.accepted = true;
                    }
                }
            }
            PurchaseEvent::Approved(a) => {
                self.approval_note = a.note.as_ref().map(ToString::to_string);
                self.approved_alternative_id = a.alternative_id;
                self.closed_at = Some(took_place);
            }
            PurchaseEvent::Cancelled(c) => {
                self.cancel_reason = Some(c.reason.to_string());
                self.closed_at = Some(took_place);
            }
            // A pause of the decision clock: the clocks' replay, not the decision's.
            PurchaseEvent::WaitingOnRequester(_) => {}
        }
        self.may_cancel =
            self.status == Some(PurchaseStatus::Held) && self.call_before_cancel.satisfied();
    }
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No event was ever written to the purchase's stream.
    #[error("there is no purchase {0}")]
    NotFound(Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replays the purchase `id` from its stream in the log, up to `as_of` (inclusive) when given.
pub async fn replay_purchase(
    store: &dyn EventStore,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Replay, ReplayError> {
    let stream = StreamName::new(purchase_stream(id))?;
    let events = store.read_stream_to_end(&stream).await?;
    if events.is_empty() {
        return Err(ReplayError::NotFound(id));
    }
    Ok(replay_events(id, &events, as_of))
}

/// Replays the events of a purchase's stream (pure).
pub fn replay_events(id: Uuid, events: &[RecordedEvent], as_of: Option<DateTime<Utc>>) -> Replay {
    let mut state = PurchaseState::default();
    let mut steps = Vec::new();
    for event in events.iter().filter(|e| as_of.is_none_or(|t| e.recorded_at <= t)) {
        let problem = match PurchaseEvent::from_parts(&event.event_type, &event.data) {
            Ok(decoded) => {
                state.apply(&decoded, event.recorded_at);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        let meta = &event.metadata;
        steps.push(ReplayStep {
            sequence: event.position,
            version: event.version,
            event_id: event.id,
            event_type: event.event_type.clone(),
            actor: meta.actor.subject.clone(),
            role: meta.actor.role.clone(),
            service: meta.service.clone(),
            recorded_at: event.recorded_at,
            correlation_id: meta.correlation_id,
            causation_id: meta.causation_id,
            data: event.data.clone(),
            problem,
            state: state.clone(),
        });
    }
    Replay {
        purchase_id: id,
        stream: purchase_stream(id),
        as_of,
        events_in_stream: events.len() as u64,
        state: steps.last().map(|s| s.state.clone()),
        events: steps,
    }
}

/// The replay as a readable text timeline, one block per event: when, what, who, what it said,
/// and where the purchase stood after it.
pub fn render_timeline(replay: &Replay) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Purchase {} ({})", replay.purchase_id, replay.stream);
    match replay.as_of {
        Some(t) => {
            let _ = writeln!(
                out,
                "As of {}: {} of {} events",
                Rfc3339Micros(&t),
                replay.events.len(),
                replay.events_in_stream
            );
        }
        None => {
            let _ = writeln!(out, "{} events", replay.events_in_stream);
        }
    }
    for step in &replay.events {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "#{} {}  {}  by {} ({}, {})",
            step.sequence,
            Rfc3339Micros(&step.recorded_at),
            step.event_type,
            step.actor,
            step.role,
            step.service
        );
        if let Some(problem) = &step.problem {
            let _ = writeln!(out, "    ! {problem}");
        }
        for line in describe(step) {
            let _ = writeln!(out, "    {line}");
        }
        let _ = writeln!(out, "    => {}", summary(&step.state));
    }
    if replay.events.is_empty() {
        let _ = writeln!(out, "\n(no event was recorded by then)");
    }
    out
}

/// What an event said, in a line or two.
fn describe(step: &ReplayStep) -> Vec<String> {
    let Ok(event) = PurchaseEvent::from_parts(&step.event_type, &step.data) else {
        return vec![];
    };
    match event {
        PurchaseEvent::Submitted(s) => {
            let mut lines = vec![format!(
                "{} at {} asks for {} {} from {} ({} line{}, {}), ref {}",
                s.requester_email,
                s.school_id,
                s.total,
                s.currency,
                s.vendor,
                s.lines.len(),
                if s.lines.len() == 1 { "" } else { "s" },
                s.payment_method,
                s.external_ref
            )];
            if let Some(purpose) = s.purpose {
                lines.push(format!("purpose: {purpose}"));
            }
            lines
        }
        PurchaseEvent::Decided(d) => {
            let reasons: Vec<String> = d.reasons.iter().map(reason).collect();
            vec![format!(
                "decision: {} ({}); school {}; policy version {}",
                PurchaseStatus::from(d.decision),
                reasons.join(", "),
                if d.school_gated { "gated" } else { "not gated" },
                d.policy_version
            )]
        }
        PurchaseEvent::CallLogged(c) => {
            let mut lines = vec![format!(
                "call at {}: requester {}",
                Rfc3339Micros(&c.occurred_at),
                if c.requester_reached { "reached" } else { "not reached" }
            )];
            if let Some(goal) = c.goal {
                lines.push(format!("goal: {goal}"));
            }
            if let Some(notes) = c.notes {
                lines.push(format!("notes: {notes}"));
            }
            lines
        }
        PurchaseEvent::AlternativeProposed(a) => {
            vec![format!(
                "alternative {}: {} ({} lines)",
                a.alternative_id,
                a.description,
                a.lines.len()
            )]
        }
        PurchaseEvent::AlternativeAccepted(a) => {
            vec![format!("alternative {} accepted", a.alternative_id)]
        }
        PurchaseEvent::Approved(a) => {
            let mut line = match a.alternative_id {
                Some(alt) => format!("approved as alternative {alt}"),
                None => "approved as submitted".to_owned(),
            };
            if let Some(note) = a.note {
                let _ = write!(line, ": {note}");
            }
            vec![line]
        }
        PurchaseEvent::Cancelled(c) => vec![format!("cancelled: {}", c.reason)],
        PurchaseEvent::WaitingOnRequester(w) => {
            vec![format!("waiting on the requester since {}: {}", Rfc3339Micros(&w.since), w.note)]
        }
    }
}

fn reason(r: &Reason) -> String {
    match r.line {
        Some(line) => format!("{} (line {})", r.code.as_str(), line + 1),
        None => r.code.as_str().to_owned(),
    }
}

fn summary(state: &PurchaseState) -> String {
    let status = state.status.map_or("submitted, not decided", PurchaseStatus::as_str);
    let reached = state.calls.iter().filter(|c| c.requester_reached).count();
    let mut out = format!(
        "{status}; calls {} ({reached} reached); alternatives {}",
        state.calls.len(),
        state.alternatives.len()
    );
    if state.status == Some(PurchaseStatus::Held) {
        out.push_str(if state.may_cancel {
            "; may be cancelled"
        } else {
            "; may not be cancelled yet (call before cancel)"
        });
    }
    if state.reasons.iter().any(|r| r.code == ReasonCode::SchoolNotGated) {
        out.push_str("; school not gated");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// Query parameters of `GET /v1/audit/purchases/{id}`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReplayParams {
    /// Replay only the events recorded at or before this time (RFC 3339, for example
    /// `2025-03-04T09:15:00Z`; encode a `+` offset as `%2B`).
    pub as_of: Option<DateTime<Utc>>,
    /// `json` (the default) or `text` (the timeline as plain text).
    #[param(inline)]
    pub format: Option<ReplayFormat>,
}

/// The format of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplayFormat {
    #[default]
    Json,
    Text,
}

/// Replays one purchase's decision history from the log: each event, who caused it and when,
/// its data, and the purchase's state after it.
///
/// Read from the purchase's stream itself, not from a projection. With `as_of`, only events
/// recorded at or before that time: the purchase as it stood then (no events, and `state`
/// `null`, before it was submitted). `?format=text` gives a readable timeline.
#[utoipa::path(
    tag = "audit",
    operation_id = "replay_purchase",
    params(
        ("id" = Uuid, Path, description = "The purchase id."),
        ReplayParams,
    ),
    responses(
        (status = 200, description = "The replay.", content(
            (Replay = "application/json"),
            (String = "text/plain", example = json!("Purchase 0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00 (purchase-0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00)\n2 events\n\n#41 2025-03-04T09:15:00.123456Z  purchase-submitted  by finance-erp (finance, gate)\n    …\n    => submitted, not decided; calls 0 (0 reached); alternatives 0\n")),
        )),
        (status = 400, description = "The id is not a UUID (`invalid-path`) or `as_of` is not an RFC 3339 time (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No purchase has this id (`not-found`).", body = web::Problem, content_type = "application/problem+json"),
        AuditErrors,
    )
)]
#[get("/v1/audit/purchases/{id}")]
pub async fn purchase_history(
    _caller: Caller<Replayers>,
    service: Data<Reporting>,
    id: Path<String>,
    req: HttpRequest,
) -> Reply {
    let id = purchase_id(&id)?;
    let params: ReplayParams = crate::reports::parse_query(req.query_string())?;
    let replay = replay_purchase(&**service.store(), id, params.as_of).await?;
    Ok(match params.format.unwrap_or_default() {
        ReplayFormat::Json => HttpResponse::Ok().json(&replay),
        ReplayFormat::Text => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(render_timeline(&replay)),
    })
}

/// The `{id}` path segment as a purchase id: a 400 `invalid-path` problem unless it is a UUID.
fn purchase_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid-path",
            format!(
                "{raw:?} is not a purchase id: a UUID, like 0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00."
            ),
        )
        .with_title("Invalid path parameter")
    })
}

/// A replay that failed, as a problem: 404 naming the purchase when its stream holds nothing.
impl From<ReplayError> for ApiError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::NotFound(id) => ApiError::not_found(format!(
                "There is no purchase {id}: its stream holds no event."
            ))
            .with_extension("purchase_id", id),
            ReplayError::Store(e) => store_error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::reports::purchases::fixtures::*;

    #[test]
    fn may_cancel_follows_the_gates_rule_step_by_step() {
        let id = Uuid::from_u128(1);
        let history = [
            (submitted(id), 10),
            (held(), 10),
            // Took place before the flag: logged, but does not count.
            (reached(5, true), 20),
            (alternative(), 30),
            (reached(25, true), 40),
            (cancelled(), 50),
        ];
        let replay = replay_events(id, &recorded(id, 1, &history), None);
        let steps: Vec<(bool, Option<PurchaseStatus>)> =
            replay.events.iter().map(|s| (s.state.may_cancel, s.state.status)).collect();
        let held = Some(PurchaseStatus::Held);
        assert_eq!(
            steps,
            [
                (false, None),
                (false, held),
                (false, held),
                (false, held),
                (true, held),
                (false, Some(PurchaseStatus::Cancelled)),
            ]
        );
        let state = replay.state.unwrap();
        assert_eq!(state.flagged_at, Some(at(10)));
        let counts: Vec<bool> = state.calls.iter().map(|c| c.counts_for_cancel).collect();
        assert_eq!(counts, [false, true]);
    }

    #[test]
    fn a_purchase_id_is_a_uuid() {
        let id = Uuid::from_u128(1);
        assert_eq!(purchase_id(&id.to_string()).unwrap(), id);
        let refused = purchase_id("p-1").unwrap_err();
        assert_eq!((refused.status().as_u16(), refused.slug()), (400, "invalid-path"));
        assert!(refused.detail().starts_with("\"p-1\" is not a purchase id"));
    }

    #[test]
    fn a_purchase_without_events_is_not_found_and_a_silent_store_unavailable() {
        let id = Uuid::from_u128(1);
        let missing = ApiError::from(ReplayError::NotFound(id));
        assert_eq!((missing.status().as_u16(), missing.slug()), (404, "not-found"));
        let problem = missing.to_problem(None, None);
        assert_eq!(problem.extensions.get("purchase_id"), Some(&serde_json::json!(id)));
        let down =
            ApiError::from(ReplayError::Store(eventlog::StoreError::Unavailable("x".into())));
        assert_eq!(down.status().as_u16(), 503);
    }
}
