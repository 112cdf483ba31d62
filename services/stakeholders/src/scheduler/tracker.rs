//! What the reminders' scheduler keeps in memory: the district, the reminders' settings, and
//! every open promise and follow-up, indexed by when each next needs the scheduler. Pure: the
//! scheduler feeds it recorded events and asks it what is due.

use eventlog::RecordedEvent;
use events::district::District;
use events::reminders::{ItemReminders, ReminderEvent, ReminderSettings};
use events::stakeholders::{FOLLOWUP_CATEGORY, FollowUpEvent, PROMISE_CATEGORY, PromiseEvent};
use kernel::schedule::{Folded, Followed, Tracks};
use uuid::Uuid;

/// A promise or a follow-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Kind {
    #[default]
    Promise,
    FollowUp,
}

/// One promise's or follow-up's reminders, and the version of its own stream they were folded
/// to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracked {
    pub kind: Kind,
    pub reminders: ItemReminders,
    pub version: u64,
}

impl Folded for Tracked {
    fn version(&self) -> u64 {
        self.version
    }
}

/// The open promises and follow-ups, by next wake.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pub district: District,
    pub settings: ReminderSettings,
    items: Followed<Tracked>,
}

impl Tracker {
    /// Folds in a recorded event of a `promise-…`, `followup-…`, `reminder-…` or
    /// `district-settings` stream (others are ignored, as are events that do not decode: the
    /// read models report those).
    pub fn apply(&mut self, record: &RecordedEvent) {
        match record.category() {
            PROMISE_CATEGORY => {
                let Ok(event) = kernel::decode::<PromiseEvent>(record) else { return };
                self.apply_item(record, Kind::Promise, |r| r.apply_promise(&event));
            }
            FOLLOWUP_CATEGORY => {
                let Ok(event) = kernel::decode::<FollowUpEvent>(record) else { return };
                self.apply_item(record, Kind::FollowUp, |r| r.apply_follow_up(&event));
            }
            events::reminders::REMINDER_CATEGORY => {
                let Ok(event) = kernel::decode::<ReminderEvent>(record) else { return };
                if record.stream == events::reminders::REMINDER_SETTINGS_STREAM {
                    self.settings.apply(&event, record.version);
                    self.reschedule_all();
                    return;
                }
                let Ok(id) = record.stream_id().parse::<Uuid>() else { return };
                if let Some(tracked) = self.items.get_mut(id) {
                    tracked.reminders.apply_recorded(&event);
                    self.reschedule(id);
                }
            }
            events::district::DISTRICT_CATEGORY => {
                let Ok(event) = kernel::decode(record) else { return };
                self.district.apply(&event, record.version, record.recorded_at);
                self.reschedule_all();
            }
            _ => {}
        }
    }

    fn apply_item(
        &mut self,
        record: &RecordedEvent,
        kind: Kind,
        apply: impl FnOnce(&mut ItemReminders),
    ) {
        let Ok(id) = record.stream_id().parse::<Uuid>() else { return };
        let new = || Tracked { kind, ..Tracked::default() };
        let Some(tracked) = self.items.to_fold(id, record.version, new) else { return };
        apply(&mut tracked.reminders);
        tracked.version = record.version;
        self.reschedule(id);
    }
}

impl Tracks for Tracker {
    type Item = Tracked;

    fn followed(&self) -> &Followed<Tracked> {
        &self.items
    }

    fn followed_mut(&mut self) -> &mut Followed<Tracked> {
        &mut self.items
    }

    /// Recomputes an item's wake; forgets it once nothing more can be recorded for it
    /// (settled, or its overdue reminder recorded).
    fn reschedule(&mut self, id: Uuid) {
        let Some(tracked) = self.items.get(id) else { return };
        let lead = self.settings.due_soon_business_days;
        let wake = tracked.reminders.next_wake(&self.district, lead);
        if wake.is_none() && tracked.version > 0 {
            self.items.forget(id);
        } else {
            self.items.set_wake(id, wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};
    use events::EventFamily;
    use events::calendar::{BusinessHours, TimeZoneName};
    use events::district::{ClosureAdded, DistrictEvent, DistrictSet};
    use events::reminders::{BusinessDays, RemindersSet};
    use events::stakeholders::{FollowUpDone, FollowUpScheduled};
    use events::values::{LongText, ShortText};
    use kernel::testing::recorded;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn record<E: EventFamily>(stream: String, version: u64, event: &E) -> RecordedEvent {
        recorded(stream, version, event, t("2024-09-01T00:00:00Z"))
    }

    /// A tracker in Chicago (09:00 to 17:00 on weekdays).
    fn chicago() -> Tracker {
        let mut tracker = Tracker::default();
        let set = DistrictEvent::from(DistrictSet {
            name: ShortText::parse("Springfield").unwrap(),
            time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
            business_hours: BusinessHours::office(),
            school_year_starts_in: None,
        });
        tracker.apply(&record("district-settings".into(), 1, &set));
        tracker
    }

    fn follow_up(tracker: &mut Tracker, n: u128, due_on: &str) -> Uuid {
        let id = Uuid::from_u128(n);
        let scheduled = FollowUpEvent::from(FollowUpScheduled {
            followup_id: id,
            stakeholder_id: Uuid::from_u128(99),
            about: LongText::parse("The loaners").unwrap(),
            due_on: day(due_on),
        });
        tracker.apply(&record(format!("followup-{id}"), 1, &scheduled));
        id
    }

    #[test]
    fn wakes_at_the_soonest_moment_and_forgets_what_is_settled() {
        let mut tracker = chicago();
        // Due Friday 2024-09-13 and Thursday 2024-09-12: due soon from Wednesday's and
        // Tuesday's 09:00 (14:00Z, CDT).
        let friday = follow_up(&mut tracker, 1, "2024-09-13");
        let thursday = follow_up(&mut tracker, 2, "2024-09-12");
        assert_eq!(tracker.followed().counts(), (2, 2));
        assert_eq!(tracker.followed().next_wake(), Some(t("2024-09-10T14:00:00Z")));
        assert_eq!(tracker.followed().due(t("2024-09-11T14:00:00Z")), vec![thursday, friday]);

        let done = FollowUpEvent::from(FollowUpDone {
            on: day("2024-09-09"),
            note: None,
            stakeholder_id: None,
        });
        tracker.apply(&record(format!("followup-{thursday}"), 2, &done));
        assert_eq!(tracker.followed().counts(), (1, 1), "the one done is forgotten");
        // Seen again (a fresh read, then the subscription): applied once.
        tracker.apply(&record(format!("followup-{thursday}"), 2, &done));
        assert_eq!(tracker.followed().counts(), (1, 1));

        // Its due-soon reminder recorded: next, overdue at Chicago's midnight.
        let due = tracker.followed().get(friday).unwrap().reminders.due_events(
            &tracker.district,
            BusinessDays::DEFAULT,
            t("2024-09-11T14:00:00Z"),
        );
        tracker.apply(&record(format!("reminder-{friday}"), 1, &due[0]));
        assert_eq!(tracker.followed().next_wake(), Some(t("2024-09-14T05:00:00Z")));
        tracker.retry_at(friday, t("2024-09-11T15:00:00Z"));
        assert_eq!(tracker.followed().wake(friday), Some(t("2024-09-11T15:00:00Z")));
    }

    #[test]
    fn the_lead_and_the_calendar_move_every_wake() {
        let mut tracker = chicago();
        follow_up(&mut tracker, 1, "2024-09-13");
        let lead = RemindersSet {
            due_soon_business_days: BusinessDays::new(0).unwrap(),
            ..Default::default()
        };
        tracker.apply(&record("reminder-settings".into(), 1, &ReminderEvent::from(lead)));
        assert_eq!(tracker.followed().next_wake(), Some(t("2024-09-13T14:00:00Z")));
        let snow = DistrictEvent::from(ClosureAdded {
            date: day("2024-09-13"),
            reason: ShortText::parse("Snow").unwrap(),
        });
        tracker.apply(&record("district-settings".into(), 2, &snow));
        assert_eq!(tracker.followed().next_wake(), Some(t("2024-09-12T14:00:00Z")));
    }
}
