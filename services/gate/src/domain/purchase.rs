//! The purchase aggregate: one `purchase-{uuid}` stream, from the finance system's check to
//! IT's approval or cancellation.
//!
//! State ([`Purchase`]) is rebuilt by applying the stream's events with the time each was
//! recorded; commands ([`PurchaseCommand`]) are handled against it and return the events to
//! append, or a [`PurchaseError`]. A refused command emits nothing.
//!
//! Rules:
//!
//! - **Submit** only on an empty stream: it emits `purchase-submitted` and `purchase-decided`
//!   together. Submitting again with the same request hash is a repeat and emits nothing (the
//!   caller answers with the stored decision); with another hash it is `idempotency-conflict`.
//!   A check sent after the fact says when the purchase was requested (`requested_at`): not
//!   more than [`MAX_CALL_AHEAD`] after the command's `now` (`requested-in-future`), nor more
//!   than [`MAX_REQUESTED_BEFORE`] before it (`requested-too-long-ago`).
//! - A purchase decided `held` or `advisory` is **flagged** when its decision took place
//!   ([`Purchase::flagged_at`], [`Decision::flags`](events::gate::Decision::flags)): when it was
//!   recorded, or when the purchase was requested, for one entered after the fact
//!   ([`took_place_at`]).
//! - **Entered after the fact**, IT's steps say when they took place (`occurred_at`:
//!   [`Occurred`]): an alternative, an approval, an acceptance, a cancellation may not have
//!   taken place before the flag (`occurred-before-flag`) nor more than [`MAX_CALL_AHEAD`]
//!   after `now` (`occurred-in-future`), and IT's decision (approving, accepting, cancelling)
//!   not before a call or an alternative already logged (`occurred-out-of-order`): so a
//!   cancellation dated in the past still comes after the call that reached the requester and
//!   the alternative, as call before cancel promises.
//! - **Waiting on the requester** only on a held purchase (`invalid-state`): from the time it
//!   is logged, the decision clock pauses until a call reaches them (events::clocks).
//! - **Calls** and **alternatives** only on held or advisory purchases (`invalid-state`). A
//!   call may not have happened before the flag (`call-before-flag`) nor more than
//!   [`MAX_CALL_AHEAD`] after the command's `now` (`call-in-future`, allowing for clock skew);
//!   when the requester was reached, what they are trying to accomplish (`goal`) is required
//!   (`goal-required`). Call and alternative ids are unique within a purchase (`duplicate-id`).
//! - **Who was reached** is recorded with the call (`spoke_with`). The caller says whether the
//!   purchase's `requester_email` belongs to a registered stakeholder ([`LogCall::requester`]).
//!   If it does, `requester_reached` means that person: the call records their stakeholder id,
//!   and naming another stakeholder is `not-the-requester`. If it does not, a call that reached
//!   the requester names them: a name and a phone or an e-mail (`reached-person-required`), and
//!   no stakeholder id (`not-the-requester`: a registered stakeholder would have the
//!   requester's e-mail). A call that did not reach the requester may name whom IT spoke with
//!   instead, and then names someone.
//! - An alternative may name the call in which it was discussed, a call of this purchase
//!   (`call-not-found`); its lines are judged against the standards by the caller
//!   ([`assess_lines`](super::decision::assess_lines)) and recorded with it, so an alternative
//!   whose lines are themselves unsupported says so.
//! - **Accepting** an alternative needs a held purchase (`invalid-state`), a proposed
//!   alternative (`alternative-not-found`) and, since it replaces what the requester asked for,
//!   a call that reached the requester after the flag with their goal (`call-required`: call
//!   before cancel's [`CallBeforeCancel::may_accept`]). It emits two events,
//!   `alternative-accepted` then `purchase-approved` naming the alternative, so that
//!   `purchase-approved` is the one event that ends every approval by IT.
//! - **Approve** only a held purchase (`invalid-state`).
//! - **Call before cancel:** cancel only a held purchase (`invalid-state`), and only when a call
//!   that reached the requester, after the flag, recorded their goal, and an alternative was
//!   proposed (`call-required` otherwise; it changes nothing). The rule is the published fold
//!   [`CallBeforeCancel`], which the other services' readers use too, so the stakeholders'
//!   record of the promise, the reports and the replay judge a purchase as the gate does.
//! - Approved and cancelled purchases are final.

use chrono::{DateTime, TimeDelta, Utc};
use events::clocks::{PurchaseClocks, took_place_at};
use events::gate::{
    AlternativeAccepted, AlternativeProposed, CallLogged, LinesAssessed, PersonReached,
    PurchaseApproved, PurchaseCancelled, PurchaseDecided, PurchaseEvent, PurchaseLine,
    PurchaseStatus, PurchaseSubmitted, WaitingOnRequester,
};
use events::rules::{CALL_CLOCK_SKEW, CallBeforeCancel};
use events::school::SchoolStatus;
use events::values::{IdempotencyKey, LongText};
use uuid::Uuid;

use super::decision::{DecisionError, MAX_LINES, Outcome, PurchaseCheck, decide};
use super::standards::Standards;
use kernel::{Aggregate, At, Decision};

/// How far after the command's `now` a call's `occurred_at` may be (clock skew between IT's
/// device and the server): call before cancel's own allowance, so that every call the gate
/// logs counts for the rule.
pub const MAX_CALL_AHEAD: TimeDelta = CALL_CLOCK_SKEW;

/// How long before the command's `now` a check sent after the fact may say the purchase was
/// requested: a school year and its summer.
pub const MAX_REQUESTED_BEFORE: TimeDelta = TimeDelta::days(400);

/// A logged call, with the time the log recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub call: CallLogged,
    pub logged_at: DateTime<Utc>,
}

/// A proposed alternative, with the time the log recorded it and whether it was accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub proposal: AlternativeProposed,
    pub proposed_at: DateTime<Utc>,
    pub accepted: bool,
}

/// A purchase, as its events left it. `Default` is the empty stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Purchase {
    /// The stream version applied (0: nothing submitted).
    pub version: u64,
    pub submission: Option<PurchaseSubmitted>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decision: Option<PurchaseDecided>,
    /// `None` until decided.
    pub status: Option<PurchaseStatus>,
    /// When the purchase was flagged: when the gate decided `held` or `advisory`, or for a
    /// purchase entered after the fact, when it was requested ([`took_place_at`]).
    pub flagged_at: Option<DateTime<Utc>>,
    /// Call before cancel, folded from the same events.
    pub call_before_cancel: CallBeforeCancel,
    /// The clocks' facts (flag, calls, resolution), folded from the same events; due times
    /// and states come from them with the district's calendar and targets.
    pub clocks: PurchaseClocks,
    pub calls: Vec<Call>,
    pub alternatives: Vec<Alternative>,
    pub approval: Option<PurchaseApproved>,
    pub cancellation: Option<PurchaseCancelled>,
    /// When it was approved or cancelled by IT (the decision's `occurred_at`, else when the log
    /// recorded it).
    pub closed_at: Option<DateTime<Utc>>,
}

impl Purchase {
    /// Folds in one event, recorded at `recorded_at`; the version moves on by one.
    pub fn apply(&mut self, event: &PurchaseEvent, recorded_at: DateTime<Utc>) {
        let requested_at = self.submission.as_ref().and_then(|s| s.requested_at);
        let took_place = took_place_at(event, recorded_at, requested_at);
        self.version += 1;
        self.status = PurchaseStatus::after(self.status, event);
        self.call_before_cancel.apply(event, recorded_at);
        self.clocks.apply(event, recorded_at);
        match event {
            PurchaseEvent::Submitted(e) => {
                self.submission = Some(e.clone());
                self.submitted_at = Some(recorded_at);
            }
            PurchaseEvent::Decided(e) => {
                if e.decision.flags() {
                    self.flagged_at = Some(took_place);
                }
                self.decision = Some(e.clone());
            }
            PurchaseEvent::CallLogged(e) => {
                self.calls.push(Call { call: e.clone(), logged_at: recorded_at });
            }
            PurchaseEvent::AlternativeProposed(e) => self.alternatives.push(Alternative {
                proposal: e.clone(),
                proposed_at: recorded_at,
                accepted: false,
            }),
            PurchaseEvent::AlternativeAccepted(e) => {
                if let Some(a) = self.alternative_mut(e.alternative_id) {
                    a.accepted = true;
                }
            }
            PurchaseEvent::Approved(e) => {
                self.approval = Some(e.clone());
                self.closed_at = Some(took_place);
            }
            PurchaseEvent::Cancelled(e) => {
                self.cancellation = Some(e.clone());
                self.closed_at = Some(took_place);
            }
            PurchaseEvent::WaitingOnRequester(_) => {}
        }
    }

    /// The purchase's id, once submitted.
    pub fn id(&self) -> Option<Uuid> {
        self.submission.as_ref().map(|s| s.purchase_id)
    }

    /// The proposed alternative with this id.
    pub fn alternative(&self, id: Uuid) -> Option<&Alternative> {
        self.alternatives.iter().find(|a| a.proposal.alternative_id == id)
    }

    fn alternative_mut(&mut self, id: Uuid) -> Option<&mut Alternative> {
        self.alternatives.iter_mut().find(|a| a.proposal.alternative_id == id)
    }

    /// The first call that counts for call before cancel
    /// ([`CallBeforeCancel::counts`]): it reached the requester, recorded their goal, and
    /// happened at or after the flag.
    pub fn reached_call_after_flag(&self) -> Option<&Call> {
        self.calls.iter().find(|c| self.call_before_cancel.counts(&c.call))
    }

    /// Whether IT may cancel now, and if not, why (`invalid-state` or `call-required`).
    pub fn can_cancel(&self) -> Result<(), PurchaseError> {
        self.require(&[PurchaseStatus::Held], "only a held purchase can be cancelled")?;
        let rule = &self.call_before_cancel;
        if rule.satisfied() {
            Ok(())
        } else {
            Err(PurchaseError::CallRequired {
                reached_call: rule.reached_call(),
                alternative_proposed: rule.alternative_proposed(),
            })
        }
    }

    /// The events `command` produces, or why it is refused (see the module docs).
    pub fn handle(&self, command: PurchaseCommand) -> Result<Vec<PurchaseEvent>, PurchaseError> {
        match command {
            PurchaseCommand::Submit(submit) => self.submit(submit),
            PurchaseCommand::LogCall(call) => self.log_call(call),
            PurchaseCommand::ProposeAlternative(p) => self.propose(p),
            PurchaseCommand::AcceptAlternative { alternative_id, occurred } => {
                self.require(&[PurchaseStatus::Held], "only a held purchase can be amended")?;
                if self.alternative(alternative_id).is_none() {
                    return Err(PurchaseError::AlternativeNotFound { alternative_id });
                }
                if !self.call_before_cancel.may_accept() {
                    return Err(PurchaseError::AcceptNeedsCall);
                }
                let occurred_at = self.decided_at(occurred)?;
                let approved = PurchaseApproved {
                    note: None,
                    alternative_id: Some(alternative_id),
                    occurred_at,
                };
                Ok(vec![AlternativeAccepted { alternative_id }.into(), approved.into()])
            }
            PurchaseCommand::Approve { note, occurred } => {
                self.require(&[PurchaseStatus::Held], "only a held purchase can be approved")?;
                let occurred_at = self.decided_at(occurred)?;
                Ok(vec![PurchaseApproved { note, alternative_id: None, occurred_at }.into()])
            }
            PurchaseCommand::Cancel { reason, occurred } => {
                self.can_cancel()?;
                let occurred_at = self.decided_at(occurred)?;
                Ok(vec![PurchaseCancelled { reason, occurred_at }.into()])
            }
            PurchaseCommand::WaitOnRequester { note, now } => {
                let rule = "only a held purchase's decision waits on the requester";
                self.require(&[PurchaseStatus::Held], rule)?;
                Ok(vec![WaitingOnRequester { note, since: now }.into()])
            }
        }
    }

    /// When a step of IT's (an alternative, a decision) took place, as IT says: not before the
    /// flag, not in the future (`None`: when the log records it).
    fn took_place(
        &self,
        occurred: Option<Occurred>,
    ) -> Result<Option<DateTime<Utc>>, PurchaseError> {
        let Some(Occurred { at, now }) = occurred else { return Ok(None) };
        if let Some(flagged_at) = self.flagged_at
            && at < flagged_at
        {
            return Err(PurchaseError::OccurredBeforeFlag { occurred_at: at, flagged_at });
        }
        if at > now + MAX_CALL_AHEAD {
            return Err(PurchaseError::OccurredInFuture { occurred_at: at, now });
        }
        Ok(Some(at))
    }

    /// When IT's decision took place, as IT says ([`took_place`](Self::took_place)), and not
    /// before a call or an alternative already logged: the purchase was still held then, and
    /// call before cancel's call and alternative come before the cancellation in time too.
    fn decided_at(
        &self,
        occurred: Option<Occurred>,
    ) -> Result<Option<DateTime<Utc>>, PurchaseError> {
        let Some(at) = self.took_place(occurred)? else { return Ok(None) };
        let calls = self.calls.iter().map(|c| ("call", c.call.occurred_at));
        let alternatives = self
            .alternatives
            .iter()
            .map(|a| ("alternative", a.proposal.occurred_at.unwrap_or(a.proposed_at)));
        if let Some((step, step_at)) = calls.chain(alternatives).max_by_key(|(_, t)| *t)
            && at < step_at
        {
            return Err(PurchaseError::OccurredOutOfOrder { occurred_at: at, step, step_at });
        }
        Ok(Some(at))
    }

    /// The current status if it is one of `allowed`; `NotFound` before submission.
    fn require(
        &self,
        allowed: &[PurchaseStatus],
        rule: &'static str,
    ) -> Result<PurchaseStatus, PurchaseError> {
        let status = self.status.ok_or(PurchaseError::NotFound)?;
        if allowed.contains(&status) {
            Ok(status)
        } else {
            Err(PurchaseError::InvalidState { status, rule })
        }
    }

    fn submit(&self, submit: Submit) -> Result<Vec<PurchaseEvent>, PurchaseError> {
        if let Some(existing) = &self.submission {
            return if existing.request_hash == submit.request_hash {
                Ok(vec![])
            } else {
                Err(PurchaseError::IdempotencyConflict { purchase_id: existing.purchase_id })
            };
        }
        let Submit {
            purchase_id,
            check,
            outcome,
            submitted_by,
            request_hash,
            idempotency_key,
            now,
        } = submit;
        if let Some(requested_at) = check.requested_at {
            if requested_at > now + MAX_CALL_AHEAD {
                return Err(PurchaseError::RequestedInFuture { requested_at, now });
            }
            if requested_at < now - MAX_REQUESTED_BEFORE {
                return Err(PurchaseError::RequestedTooLongAgo { requested_at, now });
            }
        }
        let decided = outcome.to_event();
        let submitted = PurchaseSubmitted {
            purchase_id,
            external_ref: check.external_ref,
            idempotency_key,
            submitted_by,
            request_hash,
            school_id: check.school_id,
            requester_email: check.requester_email,
            vendor: check.vendor,
            payment_method: check.payment_method,
            merchant_category_code: check.merchant_category_code,
            currency: check.currency,
            lines: check.lines,
            purpose: check.purpose,
            total: outcome.total,
            requested_at: check.requested_at,
        };
        Ok(vec![submitted.into(), decided.into()])
    }

    fn log_call(&self, call: LogCall) -> Result<Vec<PurchaseEvent>, PurchaseError> {
        self.require(
            &[PurchaseStatus::Held, PurchaseStatus::Advisory],
            "calls are logged only on held or advisory purchases",
        )?;
        if self.calls.iter().any(|c| c.call.call_id == call.call_id) {
            return Err(PurchaseError::DuplicateId { id: call.call_id });
        }
        if let Some(flagged_at) = self.flagged_at
            && call.occurred_at < flagged_at
        {
            return Err(PurchaseError::CallBeforeFlag {
                occurred_at: call.occurred_at,
                flagged_at,
            });
        }
        if call.occurred_at > call.now + MAX_CALL_AHEAD {
            return Err(PurchaseError::CallInFuture {
                occurred_at: call.occurred_at,
                now: call.now,
            });
        }
        if call.requester_reached && call.goal.is_none() {
            return Err(PurchaseError::GoalRequired);
        }
        let spoke_with = Self::person_reached(&call)?;
        Ok(vec![
            CallLogged {
                call_id: call.call_id,
                requester_reached: call.requester_reached,
                goal: call.goal,
                notes: call.notes,
                occurred_at: call.occurred_at,
                spoke_with,
            }
            .into(),
        ])
    }

    /// Who the call records IT spoke with (see the module docs).
    fn person_reached(call: &LogCall) -> Result<Option<PersonReached>, PurchaseError> {
        let named = call.spoke_with.as_ref();
        let named_stakeholder = named.and_then(|p| p.stakeholder_id);
        if !call.requester_reached {
            return match named {
                Some(person) if !person.names_someone() => {
                    Err(PurchaseError::ReachedPersonRequired)
                }
                _ => Ok(call.spoke_with.clone()),
            };
        }
        match (call.requester, named_stakeholder) {
            (Some(requester), Some(other)) if other != requester => {
                Err(PurchaseError::NotTheRequester {
                    stakeholder_id: other,
                    requester: Some(requester),
                })
            }
            (Some(requester), _) => Ok(Some(PersonReached::stakeholder(requester))),
            (None, Some(other)) => {
                Err(PurchaseError::NotTheRequester { stakeholder_id: other, requester: None })
            }
            (None, None) => match named {
                Some(person) if person.names_someone() => Ok(Some(person.clone())),
                _ => Err(PurchaseError::ReachedPersonRequired),
            },
        }
    }

    fn propose(&self, p: ProposeAlternative) -> Result<Vec<PurchaseEvent>, PurchaseError> {
        self.require(
            &[PurchaseStatus::Held, PurchaseStatus::Advisory],
            "alternatives are proposed only on held or advisory purchases",
        )?;
        if self.alternative(p.alternative_id).is_some() {
            return Err(PurchaseError::DuplicateId { id: p.alternative_id });
        }
        if p.lines.len() > MAX_LINES {
            return Err(PurchaseError::TooManyLines { count: p.lines.len() });
        }
        if let Some(call_id) = p.call_id
            && !self.calls.iter().any(|c| c.call.call_id == call_id)
        {
            return Err(PurchaseError::CallNotFound { call_id });
        }
        let occurred_at = self.took_place(p.occurred)?;
        Ok(vec![
            AlternativeProposed {
                alternative_id: p.alternative_id,
                description: p.description,
                lines: p.lines,
                call_id: p.call_id,
                assessment: p.assessment,
                occurred_at,
            }
            .into(),
        ])
    }
}

impl Aggregate for Purchase {
    type Command = PurchaseCommand;
    type Event = PurchaseEvent;
    type Error = PurchaseError;

    fn handle(&self, command: PurchaseCommand) -> Result<Decision<PurchaseEvent>, PurchaseError> {
        Purchase::handle(self, command).map(Decision::events)
    }

    fn apply(&mut self, event: &PurchaseEvent, at: At) {
        Purchase::apply(self, event, at.recorded_at);
        self.version = at.version;
    }
}

/// What can be done to a purchase.
// A command is built, handled once and dropped: `Submit` being larger costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PurchaseCommand {
    /// A finance system's check (`POST /v1/purchase-checks`).
    Submit(Submit),
    /// IT logs a call with the requester (`POST /v1/purchases/{id}/calls`).
    LogCall(LogCall),
    /// IT proposes an alternative (`POST /v1/purchases/{id}/alternatives`).
    ProposeAlternative(ProposeAlternative),
    /// The requester accepted an alternative; the purchase is approved as amended
    /// (`POST /v1/purchases/{id}/alternatives/{alt_id}/accept`).
    AcceptAlternative { alternative_id: Uuid, occurred: Option<Occurred> },
    /// IT approves the purchase as submitted (`POST /v1/purchases/{id}/approve`).
    Approve { note: Option<LongText>, occurred: Option<Occurred> },
    /// IT cancels the purchase (`POST /v1/purchases/{id}/cancel`).
    Cancel { reason: LongText, occurred: Option<Occurred> },
    /// IT waits on the requester from `now` (`POST /v1/purchases/{id}/waiting`): the decision
    /// clock pauses until a call reaches them.
    WaitOnRequester { note: LongText, now: DateTime<Utc> },
}

/// When a step IT logs after the fact took place (`at`, its `occurred_at`), with the time the
/// command is handled (`now`, the server's clock). A step without one took place when the log
/// records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurred {
    pub at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// A purchase check to record, with the gate's decision on it.
///
/// The decision is made before the command (by [`Submit::new`], which calls [`decide`]), so the
/// aggregate does not need the standards or the school: it records what was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Submit {
    /// The new purchase's id, chosen by the caller.
    pub purchase_id: Uuid,
    pub check: PurchaseCheck,
    pub outcome: Outcome,
    /// The JWT subject of the finance system.
    pub submitted_by: String,
    /// [`PurchaseCheck::request_hash`] of `check`, unless the caller hashes otherwise.
    pub request_hash: String,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The time the command is handled (the server's clock).
    pub now: DateTime<Utc>,
}

impl Submit {
    /// Decides `check` against `school` and `standards` and builds the command, handled at
    /// `now`.
    pub fn new(
        purchase_id: Uuid,
        check: PurchaseCheck,
        submitted_by: impl Into<String>,
        idempotency_key: Option<IdempotencyKey>,
        school: &SchoolStatus,
        standards: &Standards,
        now: DateTime<Utc>,
    ) -> Result<Self, DecisionError> {
        let outcome = decide(&check, school, standards)?;
        Ok(Self {
            purchase_id,
            request_hash: check.request_hash(),
            check,
            outcome,
            submitted_by: submitted_by.into(),
            idempotency_key,
            now,
        })
    }
}

/// A call with the requester to log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogCall {
    /// The new call's id, chosen by the caller.
    pub call_id: Uuid,
    pub requester_reached: bool,
    /// What the requester is trying to accomplish; required when they were reached.
    pub goal: Option<LongText>,
    pub notes: Option<LongText>,
    pub occurred_at: DateTime<Utc>,
    /// The time the command is handled (the server's clock).
    pub now: DateTime<Utc>,
    /// Whom IT says it spoke with, as sent.
    pub spoke_with: Option<PersonReached>,
    /// The registered stakeholder whose e-mail is the purchase's `requester_email`, if any
    /// (the caller looks it up).
    pub requester: Option<Uuid>,
}

/// An alternative to propose.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposeAlternative {
    /// The new alternative's id, chosen by the caller.
    pub alternative_id: Uuid,
    pub description: LongText,
    /// At most [`MAX_LINES`]; may be empty.
    pub lines: Vec<PurchaseLine>,
    /// The call of this purchase in which it was discussed, if named.
    pub call_id: Option<Uuid>,
    /// Its lines judged against the standards
    /// ([`assess_lines`](super::decision::assess_lines)); `None` without lines.
    pub assessment: Option<LinesAssessed>,
    /// When it was proposed, when IT logs it after the fact.
    pub occurred: Option<Occurred>,
}

/// Why a purchase command was refused. The `Display` text is the problem's `detail`; the
/// [`slug`](PurchaseError::slug) its stable type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseError {
    #[error("There is no purchase with this id.")]
    NotFound,
    #[error(
        "This external_ref was already used for purchase {purchase_id} with a different request; use a new external_ref for a new purchase."
    )]
    IdempotencyConflict { purchase_id: Uuid },
    #[error("This purchase is {status}: {rule}.")]
    InvalidState { status: PurchaseStatus, rule: &'static str },
    #[error("{}", call_required_detail(*reached_call, *alternative_proposed))]
    CallRequired { reached_call: bool, alternative_proposed: bool },
    #[error("This purchase has no alternative {alternative_id}; propose it first.")]
    AlternativeNotFound { alternative_id: Uuid },
    #[error(
        "The call's occurred_at ({occurred_at}) is before the purchase was flagged ({flagged_at}); log calls made about this purchase after it was flagged."
    )]
    CallBeforeFlag { occurred_at: DateTime<Utc>, flagged_at: DateTime<Utc> },
    #[error(
        "The call's occurred_at ({occurred_at}) is in the future (the server's time is {now}); give the time the call took place."
    )]
    CallInFuture { occurred_at: DateTime<Utc>, now: DateTime<Utc> },
    #[error("The requester was reached, so record what they are trying to accomplish in `goal`.")]
    GoalRequired,
    #[error("The id {id} is already used in this purchase; use a new id.")]
    DuplicateId { id: Uuid },
    #[error("An alternative may have at most {max} lines; this one has {count}.", max = MAX_LINES)]
    TooManyLines { count: usize },
    #[error(
        "IT accepts an alternative only after a call that reached the requester after the purchase was flagged and heard what they are trying to accomplish: accepting replaces what they asked for. Log that call first."
    )]
    AcceptNeedsCall,
    #[error(
        "Say whom IT spoke with in `spoke_with`: the requester's e-mail belongs to no registered stakeholder, so give their `name` and a `phone` or `email`."
    )]
    ReachedPersonRequired,
    #[error("{}", not_the_requester_detail(*stakeholder_id, *requester))]
    NotTheRequester { stakeholder_id: Uuid, requester: Option<Uuid> },
    #[error("This purchase has no call {call_id}; name a call logged on it, or none.")]
    CallNotFound { call_id: Uuid },
    #[error(
        "The check's requested_at ({requested_at}) is in the future (the server's time is {now}); give the time the requester asked for the purchase, or leave it out."
    )]
    RequestedInFuture { requested_at: DateTime<Utc>, now: DateTime<Utc> },
    #[error(
        "The check's requested_at ({requested_at}) is more than {days} days before the server's time ({now}); a check is entered after the fact for at most that long.", days = MAX_REQUESTED_BEFORE.num_days()
    )]
    RequestedTooLongAgo { requested_at: DateTime<Utc>, now: DateTime<Utc> },
    #[error(
        "The occurred_at ({occurred_at}) is before the purchase was flagged ({flagged_at}); give the time it took place, after the flag."
    )]
    OccurredBeforeFlag { occurred_at: DateTime<Utc>, flagged_at: DateTime<Utc> },
    #[error(
        "The occurred_at ({occurred_at}) is in the future (the server's time is {now}); give the time it took place."
    )]
    OccurredInFuture { occurred_at: DateTime<Utc>, now: DateTime<Utc> },
    #[error(
        "The occurred_at ({occurred_at}) is before the {step} logged on this purchase at {step_at}; IT decides a held purchase after its calls and alternatives, so give a time at or after it."
    )]
    OccurredOutOfOrder { occurred_at: DateTime<Utc>, step: &'static str, step_at: DateTime<Utc> },
}

fn not_the_requester_detail(stakeholder_id: Uuid, requester: Option<Uuid>) -> String {
    match requester {
        Some(requester) => format!(
            "The requester is stakeholder {requester} (their e-mail is the purchase's requester_email), not {stakeholder_id}; with `requester_reached: true` the call is with the requester."
        ),
        None => format!(
            "Stakeholder {stakeholder_id} is not the requester: the purchase's requester_email belongs to no registered stakeholder. Name the requester with `name` and a `phone` or `email`, or set `requester_reached: false`."
        ),
    }
}

fn call_required_detail(reached_call: bool, alternative_proposed: bool) -> String {
    let missing = match (reached_call, alternative_proposed) {
        (false, false) => {
            "no call that reached the requester and recorded their goal, and no alternative"
        }
        (false, true) => "no call that reached the requester and recorded their goal",
        (true, false) => "no alternative",
        (true, true) => "nothing",
    };
    format!(
        "IT cancels a held purchase only after calling the requester, hearing what they are trying to accomplish, and proposing an alternative; this purchase has {missing} since it was flagged."
    )
}

impl PurchaseError {
    /// The stable problem-type slug. Suggested statuses: `purchase-not-found` 404;
    /// `idempotency-conflict`, `invalid-state`, `call-required` (to cancel, or to accept an
    /// alternative), `duplicate-id` 409; `alternative-not-found` 404; the others 422.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::NotFound => "purchase-not-found",
            Self::IdempotencyConflict { .. } => "idempotency-conflict",
            Self::InvalidState { .. } => "invalid-state",
            Self::CallRequired { .. } => "call-required",
            Self::AlternativeNotFound { .. } => "alternative-not-found",
            Self::CallBeforeFlag { .. } => "call-before-flag",
            Self::CallInFuture { .. } => "call-in-future",
            Self::GoalRequired => "goal-required",
            Self::DuplicateId { .. } => "duplicate-id",
            Self::TooManyLines { .. } => "invalid-lines",
            Self::AcceptNeedsCall => "call-required",
            Self::ReachedPersonRequired => "reached-person-required",
            Self::NotTheRequester { .. } => "not-the-requester",
            Self::CallNotFound { .. } => "call-not-found",
            Self::RequestedInFuture { .. } => "requested-in-future",
            Self::RequestedTooLongAgo { .. } => "requested-too-long-ago",
            Self::OccurredBeforeFlag { .. } => "occurred-before-flag",
            Self::OccurredInFuture { .. } => "occurred-in-future",
            Self::OccurredOutOfOrder { .. } => "occurred-out-of-order",
        }
    }
}

#[cfg(test)]
mod tests;
