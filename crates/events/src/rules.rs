//! Rules that several services judge from the same events, each stated once, as a fold over
//! the published events, so that every reader reaches the same answer.
//!
//! - [`CallBeforeCancel`]: whether a held purchase may be cancelled, or an alternative accepted
//!   for it (the gate's decisions), was cancelled as the purchasing agreement promises (the
//!   stakeholders' record of the promise, the promises report), and may be cancelled at each
//!   step of its history (the auditor's replay).
//! - [`is_past_due`]: when a promise or a follow-up that is not settled is overdue (the
//!   stakeholders' lists and health, the promises report).
//! - [`followed_advocacy`]: whether a school's signing followed an advocate's word (the
//!   stakeholders' advocates report, the adoption report).
//! - [`claim_holder`]: who holds a claim stream (an e-mail address, a purchase check's card
//!   match): what keeps one address one person's and one check one transaction's.
//!
//! A fold here is a plain value: `Default` is "no events yet", `apply(event, recorded_at)` takes
//! one event of its stream with the time the log recorded it, and the queries answer from what
//! was applied. It does no IO and reads no clock, so the gate's pure core can hold one, and it
//! is `Serialize`/`Deserialize` so a read model can keep it in its document between events.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clocks::took_place_at;
use crate::gate::{CallLogged, PurchaseEvent};

/// How far after the time it was logged a call may say it took place: the clock skew allowed
/// between IT's device and the server. A call dated later is in the future: the gate refuses
/// it, and [`CallBeforeCancel`] does not count it.
pub const CALL_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// **Call before cancel**: a held purchase may be cancelled only when a call that reached the
/// requester and recorded their goal (what they are trying to accomplish) took place at or after
/// the purchase was flagged, and an alternative was proposed after the flag. Accepting an
/// alternative replaces what the requester asked for, so it needs the call too
/// ([`may_accept`](Self::may_accept)).
///
/// - *Flagged* is when the purchase's `held` or `advisory` decision took place
///   ([`Decision::flags`](crate::gate::Decision::flags); an `approved` decision does not flag):
///   when the log recorded it, or for a purchase entered after the fact, when it was requested
///   ([`took_place_at`]).
/// - A call counts when it reached the requester (`requester_reached`; the gate records who
///   that was, `spoke_with`, and refuses a reached call without it, so calls logged before it
///   recorded who keep the verdict they had) and recorded their goal, and took place
///   (`occurred_at`) at or after the flag and not after it was logged (allowing
///   [`CALL_CLOCK_SKEW`]). Calls are judged against the flag as it stands now: whatever the
///   order the events came in, the rule holds when some applied call counts
///   ([`counts`](Self::counts)).
/// - An alternative counts when it was proposed ([`took_place_at`]: its `occurred_at`, else
///   when the log recorded it) at or after the flag, accepted or not.
///
/// Whether the purchase is *held* is not part of the rule: the gate refuses to cancel anything
/// else before asking this (`invalid-state`), and readers know the status themselves
/// ([`PurchaseStatus::after`](crate::gate::PurchaseStatus::after)).
///
/// ```
/// use chrono::{DateTime, TimeDelta, Utc};
/// use events::gate::{CallLogged, Decision, PersonReached, PurchaseDecided, PurchaseEvent};
/// use events::rules::CallBeforeCancel;
/// use events::values::LongText;
/// use uuid::Uuid;
///
/// let flagged: DateTime<Utc> = "2024-09-02T09:00:00Z".parse().unwrap();
/// let decided = PurchaseDecided {
///     decision: Decision::Held,
///     reasons: vec![],
///     policy_version: 4,
///     school_gated: true,
/// };
/// let call = CallLogged {
///     call_id: Uuid::nil(),
///     requester_reached: true,
///     goal: Some(LongText::parse("Laptops for the robotics club").unwrap()),
///     notes: None,
///     occurred_at: flagged + TimeDelta::hours(2),
///     spoke_with: Some(PersonReached::stakeholder(Uuid::from_u128(7))),
/// };
/// let mut rule = CallBeforeCancel::default();
/// rule.apply(&PurchaseEvent::from(decided), flagged);
/// assert!(!rule.may_accept(), "no call yet");
/// rule.apply(&PurchaseEvent::from(call), flagged + TimeDelta::hours(3));
/// assert!(rule.reached_call());
/// assert!(rule.may_accept());
/// assert!(!rule.satisfied(), "no alternative yet");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallBeforeCancel {
    /// When the purchase was requested, for one entered after the fact.
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_at: Option<DateTime<Utc>>,
    /// When the latest `held` or `advisory` decision took place.
    #[serde(skip_serializing_if = "Option::is_none")]
    flagged_at: Option<DateTime<Utc>>,
    /// When the latest call (by `occurred_at`) that reached the requester, recorded their
    /// goal and was not dated after it was logged took place: a call counts when this is at or
    /// after the flag, so keeping the latest answers for any flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_reached_call_at: Option<DateTime<Utc>>,
    /// The reached calls with the goal that were dated after they were logged (beyond
    /// [`CALL_CLOCK_SKEW`]): they never count. The gate writes none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    calls_ahead_of_the_log: Vec<Uuid>,
    /// Whether an alternative was proposed (kept for documents written before
    /// `latest_alternative_at`, which then count their alternative as after the flag).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    alternative_proposed: bool,
    /// When the latest proposed alternative was proposed: it counts when at or after the
    /// flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_alternative_at: Option<DateTime<Utc>>,
    /// At the first `purchase-cancelled`: whether the rule was satisfied then.
    #[serde(skip_serializing_if = "Option::is_none")]
    satisfied_at_cancellation: Option<bool>,
    /// At the first `alternative-accepted`: whether a reached call counted then.
    #[serde(skip_serializing_if = "Option::is_none")]
    call_at_acceptance: Option<bool>,
}

impl CallBeforeCancel {
    /// The rule after `events` (each with the time the log recorded it), in stream order.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = (&'a PurchaseEvent, DateTime<Utc>)>,
    ) -> Self {
        let mut rule = Self::default();
        for (event, recorded_at) in events {
            rule.apply(event, recorded_at);
        }
        rule
    }

    /// The rule after the purchase's submission alone, for a reader that keeps only what the
    /// submission said: when it was requested (its `requested_at`), as folding the
    /// `purchase-submitted` would.
    pub fn requested(requested_at: Option<DateTime<Utc>>) -> Self {
        Self { requested_at, ..Self::default() }
    }

    /// Folds in one event of the purchase's stream, recorded at `recorded_at`.
    pub fn apply(&mut self, event: &PurchaseEvent, recorded_at: DateTime<Utc>) {
        let took_place = took_place_at(event, recorded_at, self.requested_at);
        match event {
            PurchaseEvent::Submitted(s) => self.requested_at = s.requested_at,
            PurchaseEvent::Decided(d) if d.decision.flags() => self.flagged_at = Some(took_place),
            PurchaseEvent::CallLogged(c) if c.requester_reached && c.goal.is_some() => {
                if c.occurred_at > recorded_at + CALL_CLOCK_SKEW {
                    self.calls_ahead_of_the_log.push(c.call_id);
                } else {
                    self.latest_reached_call_at = Some(
                        self.latest_reached_call_at.map_or(c.occurred_at, |t| t.max(c.occurred_at)),
                    );
                }
            }
            PurchaseEvent::AlternativeProposed(_) => {
                self.alternative_proposed = true;
                self.latest_alternative_at =
                    Some(self.latest_alternative_at.map_or(took_place, |t| t.max(took_place)));
            }
            PurchaseEvent::AlternativeAccepted(_) => {
                let may = self.may_accept();
                self.call_at_acceptance.get_or_insert(may);
            }
            PurchaseEvent::Cancelled(_) => {
                let satisfied = self.satisfied();
                self.satisfied_at_cancellation.get_or_insert(satisfied);
            }
            // Waiting on the requester is neither a call with them nor an alternative.
            PurchaseEvent::Decided(_)
            | PurchaseEvent::CallLogged(_)
            | PurchaseEvent::Approved(_)
            | PurchaseEvent::WaitingOnRequester(_) => {}
        }
    }

    /// When the purchase was requested, for one entered after the fact (its submission's
    /// `requested_at`).
    pub fn requested_at(&self) -> Option<DateTime<Utc>> {
        self.requested_at
    }

    /// When the purchase was flagged: when its `held` or `advisory` decision took place (when
    /// the log recorded it, or when the purchase was requested, for one entered after the
    /// fact). `None` before that, and for a purchase approved at once.
    pub fn flagged_at(&self) -> Option<DateTime<Utc>> {
        self.flagged_at
    }

    /// Whether `call`, once applied, counts for the rule: it reached the requester, recorded
    /// their goal, took place at or after the flag, and was not dated after it was logged.
    pub fn counts(&self, call: &CallLogged) -> bool {
        call.requester_reached
            && call.goal.is_some()
            && self.flagged_at.is_some_and(|flagged| call.occurred_at >= flagged)
            && !self.calls_ahead_of_the_log.contains(&call.call_id)
    }

    /// Whether a call that counts ([`counts`](Self::counts)) was logged.
    pub fn reached_call(&self) -> bool {
        match (self.flagged_at, self.latest_reached_call_at) {
            (Some(flagged), Some(call)) => call >= flagged,
            _ => false,
        }
    }

    /// Whether an alternative was proposed at or after the flag.
    pub fn alternative_proposed(&self) -> bool {
        match (self.flagged_at, self.latest_alternative_at) {
            (Some(flagged), Some(proposed)) => proposed >= flagged,
            // A document kept before the time of alternatives was: as it was judged then.
            (Some(_), None) => self.alternative_proposed,
            (None, _) => false,
        }
    }

    /// Whether the rule is satisfied: a reached call that counts, and an alternative.
    pub fn satisfied(&self) -> bool {
        self.reached_call() && self.alternative_proposed()
    }

    /// Whether an alternative may be accepted: accepting replaces what the requester asked
    /// for, so it needs a reached call that counts (the alternative itself exists, or there
    /// would be nothing to accept).
    pub fn may_accept(&self) -> bool {
        self.reached_call()
    }

    /// How the first alternative was accepted: `None` while none was, `Some(true)` when a
    /// reached call counted then, `Some(false)` when it was accepted without one.
    pub fn accepted_after_call(&self) -> Option<bool> {
        self.call_at_acceptance
    }

    /// How the purchase was cancelled: `None` while it was not, `Some(true)` when the rule was
    /// satisfied at its (first) cancellation, `Some(false)` when it was cancelled without (the
    /// agreement's promise broken for this purchase).
    pub fn honoured(&self) -> Option<bool> {
        self.satisfied_at_cancellation
    }
}

/// **First reached**: when the requester of a purchase was first reached, given `so_far` (what
/// the events before `event` gave): the earliest `occurred_at` of the calls that reached them
/// (`requester_reached`), whatever order the log took the calls in. A call entered late, dated
/// before one entered earlier, moves it back; a call that did not reach the requester, and
/// every other event, leaves it as it was.
pub fn first_reached(
    so_far: Option<DateTime<Utc>>,
    event: &PurchaseEvent,
) -> Option<DateTime<Utc>> {
    match event {
        PurchaseEvent::CallLogged(c) if c.requester_reached => {
            Some(so_far.map_or(c.occurred_at, |earliest| earliest.min(c.occurred_at)))
        }
        _ => so_far,
    }
}

/// One event of a claim stream: an id took the claim, or released it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Taken(Uuid),
    Released(Uuid),
}

/// Who holds a claim, folded from its stream's `claims` in order: the last id to take it, until
/// that id releases it (`None`: never taken, or released). A release by any other id changes
/// nothing: it releases what it no longer holds.
pub fn claim_holder(claims: impl IntoIterator<Item = Claim>) -> Option<Uuid> {
    claims.into_iter().fold(None, |holder, claim| match claim {
        Claim::Taken(id) => Some(id),
        Claim::Released(id) if holder == Some(id) => None,
        Claim::Released(_) => holder,
    })
}

/// Whether something due on `due_on` and not settled (a promise neither kept nor broken, a
/// follow-up not done) is **overdue** on `today`: its due date has passed. It is not overdue
/// *on* its due date. `today` is the district's "today": its date in its time zone.
pub fn is_past_due(due_on: NaiveDate, today: NaiveDate) -> bool {
    due_on < today
}

/// Whether a signing of the purchasing agreement by `principal` on `signed_on` **followed an
/// advocate's word** spoken to `to` on `spoken_on` (a `spoke-for-it`): it was said to the
/// principal who signed, on or before the day they signed, and after the school last withdrew
/// (`withdrawn_before`, the school's withdrawal before this signing, if any): a word that an
/// earlier signing already followed does not carry over to the next.
pub fn followed_advocacy(
    principal: Uuid,
    signed_on: NaiveDate,
    withdrawn_before: Option<NaiveDate>,
    to: Uuid,
    spoken_on: NaiveDate,
) -> bool {
    to == principal
        && spoken_on <= signed_on
        && withdrawn_before.is_none_or(|withdrawn| withdrawn < spoken_on)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn given_a_claim_stream_then_the_last_taker_holds_it_until_it_releases_it() {
        let (one, two) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(claim_holder([]), None);
        assert_eq!(claim_holder([Claim::Taken(one)]), Some(one));
        assert_eq!(claim_holder([Claim::Taken(one), Claim::Released(one)]), None);
        assert_eq!(claim_holder([Claim::Taken(one), Claim::Released(two)]), Some(one));
        let again = [Claim::Taken(one), Claim::Released(one), Claim::Taken(two)];
        assert_eq!(claim_holder(again), Some(two));
    }
    use crate::gate::{
        AlternativeAccepted, AlternativeProposed, Decision, PersonReached, PurchaseApproved,
        PurchaseCancelled, PurchaseDecided,
    };
    use crate::values::LongText;

    #[test]
    fn a_signing_follows_a_word_said_to_the_principal_on_or_before_the_day() {
        let (principal, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let signed: NaiveDate = "2024-10-01".parse().unwrap();
        let before: NaiveDate = "2024-09-20".parse().unwrap();
        let after: NaiveDate = "2024-10-02".parse().unwrap();
        assert!(followed_advocacy(principal, signed, None, principal, before));
        assert!(followed_advocacy(principal, signed, None, principal, signed));
        assert!(!followed_advocacy(principal, signed, None, principal, after));
        assert!(!followed_advocacy(principal, signed, None, other, before));
        // A word before the school last withdrew belonged to the earlier signing.
        let withdrew: NaiveDate = "2024-09-25".parse().unwrap();
        assert!(!followed_advocacy(principal, signed, Some(withdrew), principal, before));
        assert!(followed_advocacy(principal, signed, Some(before), principal, withdrew));
    }

    /// 2024-09-02T09:00:00Z plus `minutes`.
    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_725_267_600, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn decided(decision: Decision) -> PurchaseEvent {
        PurchaseDecided { decision, reasons: vec![], policy_version: 4, school_gated: true }.into()
    }

    fn call(reached: bool, goal: bool, occurred_minutes: i64) -> CallLogged {
        CallLogged {
            call_id: Uuid::from_u128(1),
            requester_reached: reached,
            goal: goal.then(|| LongText::parse("Laptops for the robotics club").unwrap()),
            notes: None,
            occurred_at: at(occurred_minutes),
            spoke_with: reached.then(|| PersonReached::stakeholder(Uuid::from_u128(9))),
        }
    }

    fn reached(occurred_minutes: i64) -> PurchaseEvent {
        call(true, true, occurred_minutes).into()
    }

    fn alternative() -> PurchaseEvent {
        AlternativeProposed {
            alternative_id: Uuid::from_u128(2),
            description: LongText::parse("The standard model").unwrap(),
            lines: vec![],
            call_id: None,
            assessment: None,
            occurred_at: None,
        }
        .into()
    }

    fn accepted() -> PurchaseEvent {
        AlternativeAccepted { alternative_id: Uuid::from_u128(2) }.into()
    }

    fn cancelled() -> PurchaseEvent {
        PurchaseCancelled { reason: LongText::parse("Not needed").unwrap(), occurred_at: None }
            .into()
    }

    /// The rule after `(event, minutes after t0 it was recorded)` pairs.
    fn given(events: &[(PurchaseEvent, i64)]) -> CallBeforeCancel {
        CallBeforeCancel::from_events(events.iter().map(|(e, m)| (e, at(*m))))
    }

    /// `(reached_call, alternative_proposed, satisfied)`.
    fn verdict(rule: &CallBeforeCancel) -> (bool, bool, bool) {
        (rule.reached_call(), rule.alternative_proposed(), rule.satisfied())
    }

    #[test]
    fn a_held_purchase_without_call_or_alternative_may_not_be_cancelled() {
        let rule = given(&[(decided(Decision::Held), 0)]);
        assert_eq!(rule.flagged_at(), Some(at(0)));
        assert_eq!(verdict(&rule), (false, false, false));
        assert_eq!(rule.honoured(), None);
    }

    #[test]
    fn a_reached_call_with_the_goal_after_the_flag_and_an_alternative_satisfy_it() {
        let rule = given(&[(decided(Decision::Held), 0), (reached(5), 6), (alternative(), 7)]);
        assert_eq!(verdict(&rule), (true, true, true));
        // In either order.
        let rule = given(&[(decided(Decision::Held), 0), (alternative(), 3), (reached(5), 6)]);
        assert_eq!(verdict(&rule), (true, true, true));
    }

    #[test]
    fn the_call_alone_or_the_alternative_alone_is_not_enough() {
        let rule = given(&[(decided(Decision::Held), 0), (reached(5), 6)]);
        assert_eq!(verdict(&rule), (true, false, false));
        let rule = given(&[(decided(Decision::Held), 0), (alternative(), 6)]);
        assert_eq!(verdict(&rule), (false, true, false));
    }

    #[test]
    fn a_call_that_did_not_reach_the_requester_does_not_count() {
        let unreached = call(false, false, 5);
        let rule = given(&[(decided(Decision::Held), 0), (unreached.clone().into(), 6)]);
        assert!(!rule.counts(&unreached));
        assert_eq!(verdict(&rule), (false, false, false));
    }

    #[test]
    fn a_reached_call_without_the_goal_does_not_count() {
        let no_goal = call(true, false, 5);
        let rule =
            given(&[(decided(Decision::Held), 0), (no_goal.clone().into(), 6), (alternative(), 7)]);
        assert!(!rule.counts(&no_goal));
        assert_eq!(verdict(&rule), (false, true, false));
    }

    #[test]
    fn a_call_counts_by_when_it_took_place_not_when_it_was_logged() {
        // Took place before the flag, logged after it: does not count.
        let early = call(true, true, -1);
        let rule =
            given(&[(decided(Decision::Held), 0), (early.clone().into(), 6), (alternative(), 7)]);
        assert!(!rule.counts(&early));
        assert_eq!(verdict(&rule), (false, true, false));
        // Exactly at the flag: counts.
        let rule = given(&[(decided(Decision::Held), 0), (reached(0), 6), (alternative(), 7)]);
        assert!(rule.satisfied());
    }

    #[test]
    fn calls_are_judged_against_the_flag_as_it_stands() {
        // A call logged before any decision counts once the decision flags the purchase before
        // it took place, and one of two calls is enough whatever their order.
        let rule = given(&[(reached(5), 1), (decided(Decision::Held), 2), (alternative(), 3)]);
        assert!(rule.satisfied());
        let rule = given(&[
            (decided(Decision::Held), 0),
            (reached(30), 31),
            (reached(-5), 32),
            (alternative(), 33),
        ]);
        assert!(rule.satisfied());
        // A later flag (a second decision, which the gate never writes) moves the bar, for
        // the call and the alternative alike.
        let rule = given(&[
            (decided(Decision::Held), 0),
            (reached(5), 6),
            (alternative(), 7),
            (decided(Decision::Held), 10),
        ]);
        assert_eq!(rule.flagged_at(), Some(at(10)));
        assert_eq!(verdict(&rule), (false, false, false));
    }

    #[test]
    fn an_alternative_counts_when_proposed_at_or_after_the_flag() {
        // Proposed before any decision flagged the purchase (the gate never writes that).
        let rule = given(&[(alternative(), 0), (decided(Decision::Held), 1), (reached(5), 6)]);
        assert_eq!(verdict(&rule), (true, false, false));
        let rule = given(&[(decided(Decision::Held), 1), (alternative(), 1), (reached(5), 6)]);
        assert_eq!(verdict(&rule), (true, true, true));
    }

    #[test]
    fn given_a_purchase_entered_after_the_fact_it_is_flagged_from_its_request() {
        // Requested at t0 - 3 days, entered at t0: a call on the day after the request counts,
        // one before the request does not, and a dated alternative counts from its own time.
        let requested = at(-3 * 24 * 60);

        let submitted = crate::gate::PurchaseSubmitted {
            requested_at: Some(requested),
            ..crate::testing::submitted(Uuid::from_u128(3))
        };
        let dated_alternative = |minutes: i64| -> PurchaseEvent {
            let PurchaseEvent::AlternativeProposed(mut a) = alternative() else { unreachable!() };
            a.occurred_at = Some(at(minutes));
            a.into()
        };
        let events = [
            (submitted.into(), 0),
            (decided(Decision::Held), 0),
            (reached(-2 * 24 * 60), 1),
            (dated_alternative(-2 * 24 * 60 + 5), 2),
        ];
        let rule = given(&events);
        assert_eq!(rule.flagged_at(), Some(requested));
        assert_eq!(verdict(&rule), (true, true, true));
        let early = call(true, true, -4 * 24 * 60);
        assert!(!rule.counts(&early), "before the request");
        // An alternative dated before the request does not count.
        let rule = given(&[events[0].clone(), events[1].clone(), (dated_alternative(-5000), 3)]);
        assert!(!rule.alternative_proposed());
    }

    #[test]
    fn a_call_dated_after_it_was_logged_does_not_count() {
        // Logged at minute 6, said to have taken place at minute 12: in the future.
        let ahead = call(true, true, 12);
        let rule =
            given(&[(decided(Decision::Held), 0), (ahead.clone().into(), 6), (alternative(), 7)]);
        assert!(!rule.counts(&ahead));
        assert_eq!(verdict(&rule), (false, true, false));
        // Within the clock skew: counts.
        let skewed = call(true, true, 11);
        let rule =
            given(&[(decided(Decision::Held), 0), (skewed.clone().into(), 6), (alternative(), 7)]);
        assert!(rule.counts(&skewed));
        assert!(rule.satisfied());
    }

    #[test]
    fn accepting_needs_a_reached_call_and_is_judged_at_that_moment() {
        let rule = given(&[(decided(Decision::Held), 0), (alternative(), 3)]);
        assert!(!rule.may_accept());
        let mut without = rule.clone();
        without.apply(&accepted(), at(4));
        assert_eq!(without.accepted_after_call(), Some(false));
        let rule = given(&[(decided(Decision::Held), 0), (alternative(), 3), (reached(4), 5)]);
        assert!(rule.may_accept());
        let mut with = rule.clone();
        with.apply(&accepted(), at(6));
        assert_eq!(with.accepted_after_call(), Some(true));
        // An unreached call, or one without the goal, is not enough.
        let rule = given(&[
            (decided(Decision::Held), 0),
            (call(false, false, 2).into(), 3),
            (call(true, false, 3).into(), 4),
        ]);
        assert!(!rule.may_accept());
    }

    #[test]
    fn advisory_flags_too_and_approved_does_not() {
        let rule = given(&[(decided(Decision::Advisory), 3), (reached(5), 6), (alternative(), 7)]);
        assert_eq!(rule.flagged_at(), Some(at(3)));
        assert!(rule.satisfied());
        let rule = given(&[(decided(Decision::Approved), 0), (reached(5), 6), (alternative(), 7)]);
        assert_eq!(rule.flagged_at(), None);
        assert_eq!(verdict(&rule), (false, false, false));
        // An approved decision after a flag leaves the flag where it was.
        let rule = given(&[(decided(Decision::Held), 0), (decided(Decision::Approved), 4)]);
        assert_eq!(rule.flagged_at(), Some(at(0)));
    }

    #[test]
    fn accepting_or_approving_changes_no_verdict() {
        let before = given(&[(decided(Decision::Held), 0), (reached(5), 6), (alternative(), 7)]);
        let mut after = before.clone();
        after.apply(&accepted(), at(8));
        after.apply(
            &PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into(),
            at(8),
        );
        assert_eq!(verdict(&after), verdict(&before));
        assert_eq!(after.honoured(), None);
        let mut approved = before.clone();
        approved.apply(
            &PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into(),
            at(8),
        );
        assert_eq!(approved, before);
    }

    #[test]
    fn documents_kept_before_alternatives_had_a_time_keep_their_verdict() {
        let old = serde_json::json!({
            "flagged_at": "2024-09-02T09:00:00Z",
            "latest_reached_call_at": "2024-09-02T09:05:00Z",
            "alternative_proposed": true,
        });
        let rule: CallBeforeCancel = serde_json::from_value(old).unwrap();
        assert_eq!(verdict(&rule), (true, true, true));
    }

    #[test]
    fn a_cancellation_is_judged_by_the_rule_at_that_moment() {
        let honoured = given(&[
            (decided(Decision::Held), 0),
            (reached(5), 6),
            (alternative(), 7),
            (cancelled(), 8),
        ]);
        assert_eq!(honoured.honoured(), Some(true));
        let breached = given(&[(decided(Decision::Held), 0), (alternative(), 7), (cancelled(), 8)]);
        assert_eq!(breached.honoured(), Some(false));
        // What comes after the (first) cancellation does not change the verdict.
        let mut later = breached.clone();
        later.apply(&reached(9), at(10));
        later.apply(&cancelled(), at(11));
        assert!(later.satisfied());
        assert_eq!(later.honoured(), Some(false));
    }

    #[test]
    fn a_read_model_can_keep_it_in_its_document() {
        let rule = given(&[(decided(Decision::Held), 0), (reached(5), 6), (alternative(), 7)]);
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(serde_json::from_value::<CallBeforeCancel>(json.clone()).unwrap(), rule);
        assert_eq!(json["flagged_at"], "2024-09-02T09:00:00Z");
        // Unset parts are left out, and a missing document is the empty fold.
        assert_eq!(
            serde_json::to_value(CallBeforeCancel::default()).unwrap(),
            serde_json::json!({})
        );
        assert_eq!(
            serde_json::from_value::<CallBeforeCancel>(serde_json::json!({})).unwrap(),
            CallBeforeCancel::default()
        );
    }

    #[test]
    fn the_requester_is_first_reached_by_the_earliest_reached_call_in_any_order() {
        let fold = |events: &[PurchaseEvent]| events.iter().fold(None, first_reached);
        // Given no call, or only calls that did not reach the requester: never reached.
        assert_eq!(fold(&[decided(Decision::Held)]), None);
        assert_eq!(fold(&[PurchaseEvent::from(call(false, true, 30))]), None);
        // When a reached call is logged: reached then, whatever the goal.
        let unreached = PurchaseEvent::from(call(false, true, 10));
        let without_goal = PurchaseEvent::from(call(true, false, 40));
        assert_eq!(fold(&[unreached.clone(), without_goal.clone()]), Some(at(40)));
        // When a call dated earlier is logged later: reached at the earlier time, in both
        // orders; a later one after it changes nothing.
        let (early, late) = (reached(20), reached(60));
        assert_eq!(fold(&[late.clone(), early.clone()]), Some(at(20)));
        assert_eq!(fold(&[early.clone(), late.clone()]), Some(at(20)));
        assert_eq!(fold(&[without_goal, early, late, unreached, alternative()]), Some(at(20)));
    }

    #[test]
    fn past_due_is_strictly_after_the_due_date() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(!is_past_due(day("2024-09-03"), day("2024-09-02")));
        assert!(!is_past_due(day("2024-09-03"), day("2024-09-03")));
        assert!(is_past_due(day("2024-09-03"), day("2024-09-04")));
    }

    mod property {
        use proptest::prelude::*;

        use super::*;

        /// A purchase event the rule reads (or ignores, as the cancellation), calls taking
        /// place around the times the events are recorded at.
        fn event() -> impl Strategy<Value = PurchaseEvent> {
            prop_oneof![
                prop_oneof![
                    Just(Decision::Held),
                    Just(Decision::Advisory),
                    Just(Decision::Approved)
                ]
                .prop_map(decided),
                (any::<bool>(), any::<bool>(), -20i64..40)
                    .prop_map(|(r, g, m)| PurchaseEvent::from(call(r, g, m))),
                Just(alternative()),
                Just(accepted()),
                Just(cancelled()),
            ]
        }

        proptest! {
            /// The fold agrees with the rule stated over the whole history: some call event
            /// reached the requester, recorded the goal, took place at or after the last
            /// flagging decision's recorded time and not after its own (beyond the skew); and
            /// some alternative event recorded at or after that flag. Accepting needs the call.
            #[test]
            fn the_fold_agrees_with_the_rule_over_the_whole_history(
                events in proptest::collection::vec(event(), 0..20),
            ) {
                let history: Vec<(PurchaseEvent, i64)> =
                    events.into_iter().zip(0i64..).collect();
                let rule = given(&history);
                let flag = history.iter().rev().find_map(|(e, m)| match e {
                    PurchaseEvent::Decided(d) if d.decision.flags() => Some(at(*m)),
                    _ => None,
                });
                let reached = history.iter().any(|(e, m)| matches!(e,
                    PurchaseEvent::CallLogged(c)
                        if c.requester_reached && c.goal.is_some()
                            && flag.is_some_and(|f| c.occurred_at >= f)
                            && c.occurred_at <= at(*m) + CALL_CLOCK_SKEW));
                let proposed = history.iter().any(|(e, m)| {
                    matches!(e, PurchaseEvent::AlternativeProposed(_))
                        && flag.is_some_and(|f| at(*m) >= f)
                });
                prop_assert_eq!(rule.flagged_at(), flag);
                prop_assert_eq!(verdict(&rule), (reached, proposed, reached && proposed));
                prop_assert_eq!(rule.may_accept(), reached);
            }
        }
    }
}
