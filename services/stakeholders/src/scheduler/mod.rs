//! The reminders' scheduler: a task in every instance of the service that appends
//! `promise-due-soon`, `promise-overdue`, `followup-due-soon` and `followup-overdue` when an
//! open promise or follow-up reaches its moment ([`events::reminders`]).
//!
//! - **Once, whatever the number of instances.** What to record is decided from the item's
//!   streams as read just then ([`ItemReminders::due_events`]); each reminder has a
//!   deterministic id (the item, the event type, the due date) and is appended to the item's
//!   `reminder-…` stream at the version read: a second instance deciding the same reminder
//!   appends the same id (the log keeps one), or meets the expected version, reads again and
//!   finds nothing left to do.
//! - **Catching up.** On start it reads the promises', follow-ups', reminders' and district's
//!   events from the beginning and records whatever fell due while no instance ran, with the
//!   moment it is about; an item already overdue gets only its overdue reminder.
//! - **Waking at the next moment.** It keeps every open item's next moment in order
//!   ([`Tracker`]) and sleeps until the first, or until the log moves (a promise made or kept,
//!   a snow day, another lead) or the service's clock is moved (tests). The loop is the
//!   kernel's ([`kernel::schedule`]); this module is what to fold and what to write.

mod retention;
mod tracker;

use chrono::{DateTime, Utc};
use eventlog::{Actor, ExpectedVersion, Filter, Metadata, RecordedEvent, Store, StoreError};
use events::district::District;
use events::reminders::{ItemReminders, ReminderEvent, ReminderSettings};
use events::stakeholders::{FollowUpEvent, PromiseEvent, followup_stream, promise_stream};
use kernel::{Clock, Schedule};
use uuid::Uuid;

pub(crate) use kernel::schedule::Running;
use kernel::schedule::Tracks;
pub(crate) use retention::{Retention, Unannounced};
pub(crate) use tracker::{Kind, Tracked, Tracker};

/// How many times an item is judged again after another writer got there first.
const RETRIES: usize = 5;

/// Starts the scheduler on `store`, telling time by `clock`.
pub(crate) fn spawn(store: Store, clock: Clock) -> Running {
    kernel::schedule::spawn(store, clock, Reminders::default)
}

/// The reminders' schedule: every open promise and follow-up by its next moment.
#[derive(Debug, Default)]
struct Reminders {
    tracker: Tracker,
}

impl Schedule for Reminders {
    const NAME: &'static str = "stakeholders.reminders";

    fn filter(&self) -> Filter {
        Filter::categories([
            events::stakeholders::PROMISE_CATEGORY,
            events::stakeholders::FOLLOWUP_CATEGORY,
            events::reminders::REMINDER_CATEGORY,
            events::district::DISTRICT_CATEGORY,
        ])
    }

    fn apply(&mut self, record: &RecordedEvent) {
        self.tracker.apply(record);
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.tracker.followed().next_wake()
    }

    async fn run_due(&mut self, store: &Store, now: DateTime<Utc>) {
        let tracker = &mut self.tracker;
        let followed = tracker.followed();
        let due: Vec<(Uuid, Kind)> = followed
            .due(now)
            .into_iter()
            .filter_map(|id| Some((id, followed.get(id)?.kind)))
            .collect();
        let (district, settings) = (&tracker.district, tracker.settings);
        let judged = kernel::schedule::judge_all(due, |(id, kind)| async move {
            (id, judge(store, id, kind, district.clone(), settings, now).await)
        })
        .await;
        kernel::schedule::settle(tracker, judged, now, "a reminder");
    }

    fn counts(&self) -> (usize, usize) {
        self.tracker.followed().counts()
    }
}

/// Reads the item, its reminders and the newest district and reminder settings; appends what
/// is due at `now`; returns the item as it now stands.
async fn judge(
    store: &Store,
    id: Uuid,
    kind: Kind,
    mut district: District,
    mut settings: ReminderSettings,
    now: DateTime<Utc>,
) -> Result<Tracked, StoreError> {
    let item = kernel::stream(match kind {
        Kind::Promise => promise_stream(id),
        Kind::FollowUp => followup_stream(id),
    });
    let reminders = kernel::stream(events::reminders::reminder_stream(id));
    let district_stream = kernel::stream(events::district::DISTRICT_STREAM);
    let settings_stream = kernel::stream(events::reminders::REMINDER_SETTINGS_STREAM);
    for _ in 0..RETRIES {
        let read = store
            .read_streams(&[
                (item.clone(), 1),
                (reminders.clone(), 1),
                (district_stream.clone(), district.version + 1),
                (settings_stream.clone(), settings.version + 1),
            ])
            .await?;
        let [item_records, reminder_records, district_tail, settings_tail] =
            <[Vec<RecordedEvent>; 4]>::try_from(read).map_err(|_| {
                StoreError::Unavailable("a read of four streams returned another count".into())
            })?;
        for record in &district_tail {
            if let Ok(event) = kernel::decode(record) {
                district.apply(&event, record.version, record.recorded_at);
            }
        }
        for record in &settings_tail {
            if let Ok(event) = kernel::decode(record) {
                settings.apply(&event, record.version);
            }
        }
        let mut tracked = fold(kind, &item_records, &reminder_records);
        let lead = settings.due_soon_business_days;
        let events = tracked.reminders.due_events(&district, lead, now);
        if events.is_empty() {
            return Ok(tracked);
        }
        let meta =
            Metadata::new(Actor::system("stakeholders"), "stakeholders").correlated(id, None);
        let new = events
            .iter()
            .map(|e| {
                let event = kernel::new_event(e, meta.clone());
                match e.event_id() {
                    Some(id) => event.with_id(id),
                    None => event,
                }
            })
            .collect();
        let version = reminder_records.last().map_or(0, |r| r.version);
        match store.append(&reminders, ExpectedVersion::after(version), new).await {
            Ok(_) => {
                for event in &events {
                    tracked.reminders.apply_recorded(event);
                }
                return Ok(tracked);
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable(format!(
        "{reminders} kept changing while its reminders were recorded"
    )))
}

/// An item's reminders from its streams' records.
fn fold(kind: Kind, item: &[RecordedEvent], reminders: &[RecordedEvent]) -> Tracked {
    let mut folded = ItemReminders::default();
    for record in item {
        match kind {
            Kind::Promise => {
                if let Ok(event) = kernel::decode::<PromiseEvent>(record) {
                    folded.apply_promise(&event);
                }
            }
            Kind::FollowUp => {
                if let Ok(event) = kernel::decode::<FollowUpEvent>(record) {
                    folded.apply_follow_up(&event);
                }
            }
        }
    }
    for record in reminders {
        if let Ok(event) = kernel::decode::<ReminderEvent>(record) {
            folded.apply_recorded(&event);
        }
    }
    Tracked { kind, reminders: folded, version: item.last().map_or(0, |r| r.version) }
}
