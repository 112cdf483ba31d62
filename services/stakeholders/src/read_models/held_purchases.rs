//! `stakeholders.held_purchases`: the gate's purchases that it held, from the gate's events,
//! for the speed of IT's answer (and, with the gate's own fold of their clocks, whether it came
//! within the district's targets), what became of the requests, and the record of the standing
//! call-before-cancel promise.
//! Purchases the gate did not hold are dropped when decided, so scanning it for one school is
//! cheap at a district's scale.
//!
//! Whether a cancellation honoured call before cancel is not worked out here: each document
//! keeps the published rule ([`CallBeforeCancel`]) folded over the purchase's events, and a
//! cancellation is judged by the rule as it stood at that moment, exactly as the gate decides.

use chrono::{DateTime, Utc};
use events::Published;
use events::clocks::{PurchaseClocks, took_place_at};
use events::gate::{Decision as GateDecision, PURCHASE_CATEGORY, PurchaseEvent, PurchaseSubmitted};
use events::rules::{CallBeforeCancel, first_reached};
use events::values::{Email, SchoolId};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a held purchase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeldState {
    /// Submitted, decision not read yet (only between the two events of one append).
    Submitted,
    Held,
    Approved,
    Cancelled,
}

/// A purchase the gate held (`stakeholders.held_purchases`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeldPurchaseDoc {
    pub purchase_id: Uuid,
    pub school_id: SchoolId,
    pub requester_email: Email,
    pub state: HeldState,
    /// When the gate held it (when the decision took place: for a check sent after the fact,
    /// when the purchase was requested) and the decision's log position.
    pub flagged_at: Option<DateTime<Utc>>,
    pub flagged_position: Option<u64>,
    /// When the first call that reached the requester took place.
    pub first_reached_call_at: Option<DateTime<Utc>>,
    pub alternatives_proposed: u32,
    /// The alternative the requester accepted (`alternative-accepted`), if any: the purchase
    /// was approved as amended.
    #[serde(default)]
    pub accepted_alternative: Option<Uuid>,
    /// When it was approved or cancelled (the decision's `occurred_at`, else when the log
    /// recorded it).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Set when cancelled: whether a reached call and a proposed alternative were logged
    /// before the cancellation (call before cancel honoured).
    // The verdict of `CallBeforeCancel::honoured`: the call also recorded the requester's goal
    // and took place at or after the flag.
    pub call_before_cancel: Option<bool>,
}

impl HeldPurchaseDoc {
    /// When IT answered: the first reached call, or the approval if that came first.
    pub fn answered_at(&self) -> Option<DateTime<Utc>> {
        let approved_at = self.resolved_at.filter(|_| self.state == HeldState::Approved);
        match (self.first_reached_call_at, approved_at) {
            (Some(call), Some(approved)) => Some(call.min(approved)),
            (call, approved) => call.or(approved),
        }
    }
}

/// What `stakeholders.held_purchases` keeps of a purchase: the purchase as the API shows it,
/// the call-before-cancel rule folded over its events so far, which judges its cancellation,
/// and its clocks, which the district's targets judge when health is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldPurchase {
    #[serde(flatten)]
    pub purchase: HeldPurchaseDoc,
    /// The published rule over the purchase's events (`events::rules::CallBeforeCancel`).
    #[serde(default)]
    pub rule: CallBeforeCancel,
    /// The published fold of its clocks over its events (`events::clocks::PurchaseClocks`), as
    /// the gate keeps it. Absent from documents written before it was kept: `procgate rebuild
    /// stakeholders` fills it in.
    #[serde(default)]
    pub clocks: PurchaseClocks,
}

impl HeldPurchase {
    /// A purchase just submitted: not decided, so not held yet.
    fn submitted(s: &PurchaseSubmitted) -> Self {
        let purchase = HeldPurchaseDoc {
            purchase_id: s.purchase_id,
            school_id: s.school_id.clone(),
            requester_email: s.requester_email.clone(),
            state: HeldState::Submitted,
            flagged_at: None,
            flagged_position: None,
            first_reached_call_at: None,
            alternatives_proposed: 0,
            accepted_alternative: None,
            resolved_at: None,
            call_before_cancel: None,
        };
        Self { purchase, rule: CallBeforeCancel::default(), clocks: PurchaseClocks::default() }
    }
}

/// Keeps `stakeholders.held_purchases`.
#[derive(Debug, Default)]
pub struct HeldPurchases;

impl ReadModel for HeldPurchases {
    const NAME: &'static str = "stakeholders.held_purchases";
    /// 2: a purchase is not requested after the log recorded its check
    /// (`events::clocks::requested`).
    const VERSION: u64 = 2;
    type Doc = HeldPurchase;

    const CATEGORIES: &'static [&'static str] = &[PURCHASE_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, HeldPurchase>) -> Applied {
        let key = event.stream_id();
        let at = event.recorded_at;
        let Published::Purchase(purchase_event) = event.event else { return Ok(()) };
        let mut held = match purchase_event {
            PurchaseEvent::Submitted(s) => HeldPurchase::submitted(s),
            // Purchases that were not held were dropped: nothing to do for them.
            _ => match docs.get(key) {
                Some(held) => held,
                None => return Ok(()),
            },
        };
        held.rule.apply(purchase_event, at);
        held.clocks.apply(purchase_event, at);
        // When each fact took place (a check or a decision entered after the fact says so), as
        // the gate's clocks take it.
        let took_place = took_place_at(purchase_event, at, held.rule.requested_at());
        let doc = &mut held.purchase;
        match purchase_event {
            PurchaseEvent::Decided(d) if d.decision != GateDecision::Held => {
                docs.remove(key);
                return Ok(());
            }
            PurchaseEvent::Decided(_) => {
                doc.state = HeldState::Held;
                doc.flagged_at = Some(took_place);
                doc.flagged_position = Some(event.position);
            }
            PurchaseEvent::CallLogged(_) => {
                doc.first_reached_call_at =
                    first_reached(doc.first_reached_call_at, purchase_event);
            }
            PurchaseEvent::AlternativeProposed(_) => doc.alternatives_proposed += 1,
            PurchaseEvent::Approved(_) => {
                doc.state = HeldState::Approved;
                doc.resolved_at = Some(took_place);
            }
            PurchaseEvent::Cancelled(_) => {
                doc.state = HeldState::Cancelled;
                doc.resolved_at = Some(took_place);
            }
            PurchaseEvent::AlternativeAccepted(a) => {
                doc.accepted_alternative = Some(a.alternative_id);
            }
            PurchaseEvent::Submitted(_) | PurchaseEvent::WaitingOnRequester(_) => {}
        }
        doc.call_before_cancel = held.rule.honoured();
        docs.put(key, &held);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use events::gate::{AlternativeAccepted, CallLogged, PurchaseApproved, PurchaseCancelled};

    use super::*;
    use crate::read_models::testing::*;

    #[test]
    fn only_held_purchases_are_kept() {
        let docs = district_docs();
        let held = collection::<HeldPurchases>(&docs);
        let mut ids: Vec<_> = held.iter().map(|p| p.purchase.purchase_id).collect();
        ids.sort();
        assert_eq!(ids, [CANCELLED, APPROVED_AFTER_HOLD, WAITING, LATER]);
        let cancelled = doc::<HeldPurchases>(&docs, CANCELLED).purchase;
        assert_eq!(cancelled.state, HeldState::Cancelled);
        assert_eq!(cancelled.call_before_cancel, Some(true));
        let flagged = cancelled.flagged_at.unwrap();
        assert_eq!(cancelled.first_reached_call_at, Some(flagged + TimeDelta::hours(2)));
        assert_eq!(cancelled.answered_at(), Some(flagged + TimeDelta::hours(2)));
        let approved = doc::<HeldPurchases>(&docs, APPROVED_AFTER_HOLD).purchase;
        assert_eq!(approved.state, HeldState::Approved);
        assert_eq!(approved.answered_at(), approved.resolved_at);
        assert!(
            approved.answered_at().unwrap() - approved.flagged_at.unwrap() > TimeDelta::hours(30)
        );
        let waiting = doc::<HeldPurchases>(&docs, WAITING).purchase;
        assert_eq!((waiting.state, waiting.answered_at()), (HeldState::Held, None));
    }

    /// A purchase of Lincoln held at the log's next append, then `events` one append each
    /// (`at(flag)` maps hours from the flag to a time); the document kept for it.
    fn held_then(
        events: impl FnOnce(&dyn Fn(i64) -> DateTime<Utc>) -> Vec<PurchaseEvent>,
    ) -> HeldPurchase {
        let mut log = Log::new();
        log.purchase(CANCELLED, vec![submitted(CANCELLED, lincoln()), decided(GateDecision::Held)]);
        let flagged = log.clock;
        for event in events(&|hours| flagged + TimeDelta::hours(hours)) {
            log.purchase(CANCELLED, vec![event]);
        }
        let docs = project(&[HeldPurchases.into_projection()], &log.events, 1000);
        let held = doc::<HeldPurchases>(&docs, CANCELLED);
        let purchase_events: Vec<(PurchaseEvent, DateTime<Utc>)> = log
            .events
            .iter()
            .map(|e| (PurchaseEvent::from_parts(&e.event_type, &e.data).unwrap(), e.recorded_at))
            .collect();
        let rule = CallBeforeCancel::from_events(purchase_events.iter().map(|(e, t)| (e, *t)));
        assert_eq!(held.rule, rule, "the document keeps the published fold over its events");
        let mut clocks = PurchaseClocks::default();
        for (event, at) in &purchase_events {
            clocks.apply(event, *at);
        }
        assert_eq!(held.clocks, clocks, "and the gate's fold of its clocks");
        held
    }

    fn cancel() -> PurchaseEvent {
        PurchaseCancelled { reason: long("Not needed"), occurred_at: None }.into()
    }

    #[test]
    fn a_purchase_entered_after_the_fact_counts_from_its_request_to_its_decision() {
        // Requested two days before the log took it in; reached a day later, approved an hour
        // after that, both entered with it.
        let mut log = Log::new();
        let entered = log.clock;
        let requested = entered - TimeDelta::days(2);
        let PurchaseEvent::Submitted(mut check) = submitted(LATER, lincoln()) else {
            unreachable!()
        };
        check.requested_at = Some(requested);
        let approved = PurchaseApproved {
            note: None,
            alternative_id: None,
            occurred_at: Some(requested + TimeDelta::hours(25)),
        };
        let events = vec![
            check.into(),
            decided(GateDecision::Held),
            call(true, requested + TimeDelta::days(1)),
            approved.into(),
        ];
        log.purchase(LATER, events);
        let docs = project(&[HeldPurchases.into_projection()], &log.events, 1000);
        let held = doc::<HeldPurchases>(&docs, LATER).purchase;
        assert_eq!(held.flagged_at, Some(requested));
        assert_eq!(held.resolved_at, Some(requested + TimeDelta::hours(25)));
        assert_eq!(held.answered_at(), Some(requested + TimeDelta::days(1)));
    }

    #[test]
    fn an_accepted_alternative_is_kept_with_the_approval_it_came_with() {
        let accepted = AlternativeAccepted { alternative_id: uuid::Uuid::from_u128(9) };
        let approved = PurchaseApproved {
            note: None,
            alternative_id: Some(accepted.alternative_id),
            occurred_at: None,
        };
        let held = held_then(|at| {
            vec![call(true, at(1)), alternative(), accepted.into(), approved.into()]
        });
        assert_eq!(held.purchase.accepted_alternative, Some(uuid::Uuid::from_u128(9)));
        assert_eq!(held.purchase.state, HeldState::Approved);
        // Its clocks stopped with the approval.
        assert!(held.clocks.stopped());
    }

    #[test]
    fn a_cancellation_after_a_reached_call_after_the_flag_and_an_alternative_honours_it() {
        let held = held_then(|at| vec![call(true, at(1)), alternative(), cancel()]);
        assert_eq!(held.purchase.call_before_cancel, Some(true));
        assert_eq!(held.purchase.state, HeldState::Cancelled);
    }

    #[test]
    fn a_cancellation_is_judged_by_the_published_rule() {
        // A reached call that did not record the requester's goal does not count.
        let without_goal = |at: &dyn Fn(i64) -> DateTime<Utc>| -> PurchaseEvent {
            CallLogged {
                call_id: uuid::Uuid::from_u128(7),
                requester_reached: true,
                goal: None,
                notes: None,
                occurred_at: at(2),
                spoke_with: None,
            }
            .into()
        };
        let held = held_then(|at| vec![without_goal(at), alternative(), cancel()]);
        assert_eq!(held.purchase.call_before_cancel, Some(false));
        // It still answered the requester, for the answer time.
        assert!(held.purchase.first_reached_call_at.is_some());
        // Nor does a call that took place before the purchase was flagged.
        let held = held_then(|at| vec![call(true, at(-1)), alternative(), cancel()]);
        assert_eq!(held.purchase.call_before_cancel, Some(false));
        // Nor a call after the cancellation: the verdict is the rule's at that moment.
        let held = held_then(|at| vec![alternative(), cancel(), call(true, at(3))]);
        assert_eq!(held.purchase.call_before_cancel, Some(false));
        // Nothing to judge while it is not cancelled.
        let held = held_then(|at| vec![call(true, at(1)), alternative()]);
        assert_eq!(held.purchase.call_before_cancel, None);
        assert!(held.rule.satisfied());
    }
}
