//! `stakeholders.held_purchases`: the gate's purchases that it held, from the gate's events,
//! for the speed of IT's answer and the record of the standing call-before-cancel promise.
//! Purchases the gate did not hold are dropped when decided, so scanning it for one school is
//! cheap at a district's scale.

use chrono::{DateTime, Utc};
use eventlog::Filter;
use events::Published;
use events::gate::{Decision as GateDecision, PURCHASE_CATEGORY, PurchaseEvent};
use events::values::{Email, SchoolId};
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
    /// When the gate held it (the decision's time) and the decision's log position.
    pub flagged_at: Option<DateTime<Utc>>,
    pub flagged_position: Option<u64>,
    /// When the first call that reached the requester took place.
    pub first_reached_call_at: Option<DateTime<Utc>>,
    pub alternatives_proposed: u32,
    /// When it was approved or cancelled.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Set when cancelled: whether a reached call and a proposed alternative were logged
    /// before the cancellation (call before cancel honoured).
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

/// Keeps `stakeholders.held_purchases`.
#[derive(Debug, Default)]
pub struct HeldPurchases;

impl ReadModel for HeldPurchases {
    const NAME: &'static str = "stakeholders.held_purchases";
    type Doc = HeldPurchaseDoc;

    fn filter(&self) -> Filter {
        Filter::categories([PURCHASE_CATEGORY])
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        vec![event.stream_id().to_owned()]
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, HeldPurchaseDoc>,
    ) -> Result<(), String> {
        let key = event.stream_id();
        let at = event.recorded_at;
        let Published::Purchase(purchase_event) = event.event else { return Ok(()) };
        if let PurchaseEvent::Submitted(s) = purchase_event {
            let doc = HeldPurchaseDoc {
                purchase_id: s.purchase_id,
                school_id: s.school_id.clone(),
                requester_email: s.requester_email.clone(),
                state: HeldState::Submitted,
                flagged_at: None,
                flagged_position: None,
                first_reached_call_at: None,
                alternatives_proposed: 0,
                resolved_at: None,
                call_before_cancel: None,
            };
            docs.put(key, &doc);
            return Ok(());
        }
        // Purchases that were not held were dropped: nothing to do for them.
        let Some(mut doc) = docs.get(key) else { return Ok(()) };
        match purchase_event {
            PurchaseEvent::Submitted(_) | PurchaseEvent::AlternativeAccepted(_) => {}
            PurchaseEvent::Decided(d) => {
                if d.decision != GateDecision::Held {
                    docs.remove(key);
                    return Ok(());
                }
                doc.state = HeldState::Held;
                doc.flagged_at = Some(at);
                doc.flagged_position = Some(event.position);
            }
            PurchaseEvent::CallLogged(c) => {
                if c.requester_reached {
                    doc.first_reached_call_at = match doc.first_reached_call_at {
                        Some(first) => Some(first.min(c.occurred_at)),
                        None => Some(c.occurred_at),
                    };
                }
            }
            PurchaseEvent::AlternativeProposed(_) => doc.alternatives_proposed += 1,
            PurchaseEvent::Approved(_) => {
                doc.state = HeldState::Approved;
                doc.resolved_at = Some(at);
            }
            PurchaseEvent::Cancelled(_) => {
                doc.state = HeldState::Cancelled;
                doc.resolved_at = Some(at);
                doc.call_before_cancel =
                    Some(doc.first_reached_call_at.is_some() && doc.alternatives_proposed > 0);
            }
        }
        docs.put(key, &doc);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::read_models::testing::*;

    #[test]
    fn only_held_purchases_are_kept() {
        let docs = district_docs();
        let held = collection::<HeldPurchases>(&docs);
        let mut ids: Vec<_> = held.iter().map(|p| p.purchase_id).collect();
        ids.sort();
        assert_eq!(ids, [CANCELLED, APPROVED_AFTER_HOLD, WAITING, LATER]);
        let cancelled = doc::<HeldPurchases>(&docs, CANCELLED);
        assert_eq!(cancelled.state, HeldState::Cancelled);
        assert_eq!(cancelled.call_before_cancel, Some(true));
        let flagged = cancelled.flagged_at.unwrap();
        assert_eq!(cancelled.first_reached_call_at, Some(flagged + TimeDelta::hours(3)));
        assert_eq!(cancelled.answered_at(), Some(flagged + TimeDelta::hours(3)));
        let approved = doc::<HeldPurchases>(&docs, APPROVED_AFTER_HOLD);
        assert_eq!(approved.state, HeldState::Approved);
        assert_eq!(approved.answered_at(), approved.resolved_at);
        assert!(
            approved.answered_at().unwrap() - approved.flagged_at.unwrap() > TimeDelta::hours(30)
        );
        let waiting = doc::<HeldPurchases>(&docs, WAITING);
        assert_eq!((waiting.state, waiting.answered_at()), (HeldState::Held, None));
    }
}
