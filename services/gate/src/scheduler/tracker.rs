//! What the scheduler keeps in memory: the district, and every purchase whose clocks may still
//! need something recorded, indexed by when each next needs the scheduler. Pure: the scheduler
//! feeds it recorded events and asks it what is due.

use eventlog::RecordedEvent;
use events::clocks::{PurchaseClocks, SlaEvent};
use events::gate::PurchaseEvent;
use kernel::schedule::{Folded, Followed, Tracks};
use kernel::{Aggregate, At};
use uuid::Uuid;

use crate::domain::DistrictSettings;

/// A purchase's clocks, and the version of its `purchase-…` stream they were folded to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracked {
    pub clocks: PurchaseClocks,
    pub version: u64,
}

impl Folded for Tracked {
    fn version(&self) -> u64 {
        self.version
    }
}

/// The open clocks, by next wake.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pub district: DistrictSettings,
    purchases: Followed<Tracked>,
    /// The records of the due times calendar changes moved, to write.
    reschedules: Vec<SlaEvent>,
}

impl Tracker {
    /// Folds in a recorded event of a `purchase-…`, `sla-…` or `district-settings` stream
    /// (others are ignored, as are events that do not decode: the read models report those).
    pub fn apply(&mut self, record: &RecordedEvent) {
        match record.category() {
            events::gate::PURCHASE_CATEGORY => {
                let Ok(event) = kernel::decode::<PurchaseEvent>(record) else { return };
                let Ok(id) = record.stream_id().parse::<Uuid>() else { return };
                let Some(tracked) = self.purchases.to_fold(id, record.version, Tracked::default)
                else {
                    return;
                };
                tracked.clocks.apply(&event, record.recorded_at);
                tracked.version = record.version;
                self.reschedule(id);
            }
            events::clocks::SLA_CATEGORY => {
                let Ok(event) = kernel::decode::<SlaEvent>(record) else { return };
                let Ok(id) = record.stream_id().parse::<Uuid>() else { return };
                if let Some(tracked) = self.purchases.get_mut(id) {
                    tracked.clocks.apply_recorded(&event);
                    self.reschedule(id);
                }
            }
            events::district::DISTRICT_CATEGORY => {
                let Ok(event) = kernel::decode(record) else { return };
                let before = self.district.0.clone();
                self.district.apply(&event, At::of(record));
                for tracked in self.purchases.values() {
                    let moved = tracked.clocks.rescheduled(&before, &self.district.0);
                    self.reschedules.extend(moved);
                }
                self.reschedule_all();
            }
            _ => {}
        }
    }

    /// The records of moved due times still to write: those of purchases still tracked whose
    /// `sla-…` stream does not hold them yet (a catch-up meets both the change and, later, its
    /// records).
    pub fn take_reschedules(&mut self) -> Vec<SlaEvent> {
        let pending = std::mem::take(&mut self.reschedules);
        pending
            .into_iter()
            .filter(|e| {
                self.purchases.get(e.purchase_id()).is_some_and(|t| !t.clocks.has_recorded(e))
            })
            .collect()
    }

    /// Puts back records the log did not take, to write when the scheduler next settles.
    pub fn retry_reschedules(&mut self, unrecorded: Vec<SlaEvent>) {
        self.reschedules.extend(unrecorded);
    }

    #[cfg(test)]
    fn take_reschedules_peek(&self) -> &[SlaEvent] {
        &self.reschedules
    }
}

impl Tracks for Tracker {
    type Item = Tracked;

    fn followed(&self) -> &Followed<Tracked> {
        &self.purchases
    }

    fn followed_mut(&mut self) -> &mut Followed<Tracked> {
        &mut self.purchases
    }

    /// Recomputes a purchase's wake; forgets it when nothing can happen to its clocks any more
    /// (it was not flagged, or its clocks stopped with nothing left to record). Before its
    /// decision it is kept, without a wake.
    fn reschedule(&mut self, id: Uuid) {
        let Some(tracked) = self.purchases.get(id) else { return };
        let district = &self.district.0;
        let wake = tracked.clocks.next_wake(district);
        let decided = tracked.version >= 2;
        let finished =
            decided && wake.is_none() && (!tracked.clocks.is_flagged() || tracked.clocks.stopped());
        if finished {
            self.purchases.forget(id);
        } else {
            self.purchases.set_wake(id, wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use events::district::{ClosureAdded, ClosureRemoved, DistrictEvent};
    use events::gate::{PurchaseApproved, PurchaseEvent};

    use kernel::testing::recorded;

    use super::*;
    use crate::domain::testing::{fixtures, t0};

    fn targets() -> DistrictEvent {
        fixtures::targets().into()
    }

    /// A tracker with targets (UTC, 09:00-17:00 on weekdays: t0 is Monday 09:00) and the
    /// purchase `n` flagged `minutes` after t0 with `events`.
    fn purchase(tracker: &mut Tracker, n: u128, minutes: i64, events: Vec<PurchaseEvent>) -> Uuid {
        let id = Uuid::from_u128(n);
        for (version, mut event) in events.into_iter().enumerate() {
            if let PurchaseEvent::Submitted(s) = &mut event {
                s.purchase_id = id;
            }
            let at = t0() + TimeDelta::minutes(minutes);
            tracker.apply(&recorded(format!("purchase-{id}"), version as u64 + 1, &event, at));
        }
        id
    }

    fn with_targets() -> Tracker {
        let mut tracker = Tracker::default();
        tracker.apply(&recorded(
            "district-settings".into(),
            1,
            &targets(),
            t0() - TimeDelta::days(1),
        ));
        tracker
    }

    #[test]
    fn wakes_at_the_soonest_deadline_and_forgets_what_cannot_change() {
        let mut tracker = with_targets();
        let late = purchase(&mut tracker, 1, 30, fixtures::held_purchase());
        let early = purchase(&mut tracker, 2, 0, fixtures::held_purchase());
        purchase(&mut tracker, 3, 0, fixtures::approved_purchase());
        assert_eq!(
            tracker.followed().counts(),
            (2, 2),
            "the purchase approved at once is forgotten"
        );
        assert_eq!(tracker.followed().next_wake(), Some(t0() + TimeDelta::hours(1)));
        assert_eq!(tracker.followed().due(t0() + TimeDelta::minutes(90)), vec![early, late]);
        assert!(tracker.followed().due(t0()).is_empty());

        // Approved: its clocks stopped before any deadline; nothing left, forgotten.
        let approved = PurchaseEvent::from(PurchaseApproved {
            note: None,
            alternative_id: None,
            occurred_at: None,
        });
        tracker.apply(&recorded(
            format!("purchase-{early}"),
            3,
            &approved,
            t0() + TimeDelta::minutes(5),
        ));
        assert_eq!(tracker.followed().counts(), (1, 1));
        assert_eq!(tracker.followed().next_wake(), Some(t0() + TimeDelta::minutes(90)));
        // An event seen twice (a fresh read, then the subscription) is applied once.
        tracker.apply(&recorded(
            format!("purchase-{late}"),
            2,
            &fixtures::held_purchase()[1],
            t0(),
        ));
        assert_eq!(tracker.followed().get(late).unwrap().version, 2);
    }

    #[test]
    fn without_targets_flagged_purchases_wait_and_a_district_change_wakes_them() {
        let mut tracker = Tracker::default();
        let id = purchase(&mut tracker, 1, 0, fixtures::held_purchase());
        assert_eq!(tracker.followed().counts(), (1, 0), "kept, without a wake");
        tracker.apply(&recorded(
            "district-settings".into(),
            1,
            &targets(),
            t0() + TimeDelta::hours(2),
        ));
        // The clock starts when the targets were set.
        assert_eq!(tracker.followed().next_wake(), Some(t0() + TimeDelta::hours(3)));
        assert_eq!(tracker.followed().due(t0() + TimeDelta::hours(3)), vec![id]);
    }

    #[test]
    fn a_calendar_change_is_recorded_for_each_clock_it_moved() {
        let mut tracker = with_targets();
        let id = purchase(&mut tracker, 1, 0, fixtures::held_purchase());
        purchase(&mut tracker, 2, 0, fixtures::approved_purchase());
        let closure = ClosureAdded { date: t0().date_naive(), reason: "Snow".parse().unwrap() };
        let closure = DistrictEvent::from(closure);
        tracker.apply(&recorded(
            "district-settings".into(),
            2,
            &closure,
            t0() + TimeDelta::hours(1),
        ));
        let moved = tracker.take_reschedules();
        assert_eq!(moved.len(), 2, "both clocks of the held purchase: {moved:?}");
        assert!(moved.iter().all(|e| e.purchase_id() == id));
        assert!(tracker.take_reschedules().is_empty(), "taken");
        // Those the log failed to take come back, unless recorded meanwhile.
        tracker.retry_reschedules(moved.clone());
        tracker.apply(&recorded(format!("sla-{id}"), 1, &moved[0], t0()));
        assert_eq!(tracker.take_reschedules(), vec![moved[1].clone()], "tried again, once");
        let mut tracker = with_targets();
        let id = purchase(&mut tracker, 1, 0, fixtures::held_purchase());
        purchase(&mut tracker, 2, 0, fixtures::approved_purchase());
        tracker.apply(&recorded(
            "district-settings".into(),
            2,
            &closure,
            t0() + TimeDelta::hours(1),
        ));
        assert_eq!(tracker.take_reschedules().len(), 2);
        // Met again in the replay of its sla stream: not written twice.
        let again = ClosureRemoved { date: t0().date_naive() };
        tracker.apply(&recorded("district-settings".into(), 3, &DistrictEvent::from(again), t0()));
        let first = tracker.take_reschedules_peek()[0].clone();
        tracker.apply(&recorded(format!("sla-{id}"), 1, &first, t0()));
        assert_eq!(tracker.take_reschedules().len(), 1);
    }

    #[test]
    fn a_recorded_breach_moves_the_wake_on() {
        let mut tracker = with_targets();
        let id = purchase(&mut tracker, 1, 0, fixtures::held_purchase());
        let now = t0() + TimeDelta::hours(2);
        let due = tracker.followed().get(id).unwrap().clocks.due_events(&tracker.district.0, now);
        assert_eq!(due.len(), 1, "the first contact's breach");
        tracker.apply(&recorded(format!("sla-{id}"), 1, &due[0], now));
        // Next: the decision's due time, 480 minutes in: 17:00.
        assert_eq!(tracker.followed().next_wake(), Some(t0() + TimeDelta::hours(8)));
        tracker.retry_at(id, now);
        assert_eq!(tracker.followed().next_wake(), Some(now));
    }
}
