//! The clocks' scheduler: a task in every gate instance that appends `purchase-sla-warning`,
//! `purchase-sla-breached` and `purchase-escalated` when a flagged purchase's clock passes a
//! threshold or its due time.
//!
//! - **Once, whatever the number of instances.** What to record is decided from the
//!   purchase's streams as read just then ([`PurchaseClocks::due_events`]); each event has a
//!   deterministic id ([`SlaEvent::event_id`]) and is appended to the purchase's `sla-…` stream
//!   at the version read. Two instances deciding the same breach append the same id: the log
//!   keeps one and answers the other as a retry. An instance that read too early meets the
//!   expected version, reads again and finds nothing left to do. No leader, no lock.
//! - **Catching up.** On start it reads the purchases', their clocks' and the district's
//!   events from the beginning, and records whatever passed while no instance ran, each event
//!   with the time it is about (the threshold, the due time), not the time it is written.
//! - **Recording recomputations.** When the district's calendar changes, every running clock
//!   whose due time moved gets a `purchase-sla-rescheduled` (before and after, the district's
//!   version), with an id per purchase, clock and version: written once, also after downtime.
//! - **Waking at the next deadline.** It keeps every open clock's next threshold in order
//!   ([`Tracker`]) and sleeps until the first of them, or until the log moves (a purchase
//!   flagged, a call, a snow day: the subscription wakes it and only what changed is
//!   rescheduled) or the gate's clock is moved (tests). It never scans the queue on a timer.
//!
//! The loop itself (follow, sleep, wake, write) is the kernel's ([`kernel::schedule`]); this
//! module is the clocks' [`Schedule`]: what to fold, and what to write when something is due.

mod tracker;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use eventlog::{
    Actor, ExpectedVersion, Filter, Metadata, RecordedEvent, Store, StoreError, StreamAppend,
};
use events::clocks::{PurchaseClocks, SlaEvent};
use events::gate::PurchaseEvent;
use kernel::{Aggregate, At, Schedule};
use uuid::Uuid;

pub(crate) use kernel::schedule::Running;
use kernel::schedule::Tracks;
pub(crate) use tracker::{Tracked, Tracker};

use crate::clock::Clock;
use crate::domain::{self, DistrictSettings};

/// How many times a purchase is judged again after another writer got there first.
const RETRIES: usize = 5;
/// How many purchases' reschedules go in one append.
const RESCHEDULES_PER_APPEND: usize = 200;

/// Starts the scheduler on `store`, telling time by `clock` (the kernel's loop:
/// [`kernel::schedule`]).
pub(crate) fn spawn(store: Store, clock: Clock) -> Running {
    kernel::schedule::spawn(store, clock, Clocks::default)
}

/// The clocks' schedule: every open clock by its next wake.
#[derive(Debug, Default)]
struct Clocks {
    tracker: Tracker,
}

impl Schedule for Clocks {
    const NAME: &'static str = "gate.clocks";

    fn filter(&self) -> Filter {
        Filter::categories([
            events::gate::PURCHASE_CATEGORY,
            events::clocks::SLA_CATEGORY,
            events::district::DISTRICT_CATEGORY,
        ])
    }

    fn apply(&mut self, record: &RecordedEvent) {
        self.tracker.apply(record);
    }

    async fn settle(&mut self, store: &Store) {
        let reschedules = self.tracker.take_reschedules();
        if !reschedules.is_empty() {
            // What the log failed to take is tried again when the scheduler next settles.
            let unrecorded = record_reschedules(store, reschedules).await;
            self.tracker.retry_reschedules(unrecorded);
        }
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.tracker.followed().next_wake()
    }

    async fn run_due(&mut self, store: &Store, now: DateTime<Utc>) {
        let due = self.tracker.followed().due(now);
        record(store, &mut self.tracker, due, now).await;
    }

    fn counts(&self) -> (usize, usize) {
        self.tracker.followed().counts()
    }
}

/// Judges the purchases `due` at `now`, several at once, and records what they need.
async fn record(store: &Store, tracker: &mut Tracker, due: Vec<Uuid>, now: DateTime<Utc>) {
    let district = tracker.district.clone();
    let judged = kernel::schedule::judge_all(due, |id| {
        let district = &district;
        async move { (id, judge(store, id, district, now).await) }
    })
    .await;
    kernel::schedule::settle(tracker, judged, now, "a clock event");
}

/// Writes the records of moved due times, each in its purchase's `sla-…` stream, several
/// streams per append; their ids make a repeat (another instance, a catch-up) a no-op.
/// Returns those the log did not take.
async fn record_reschedules(store: &Store, moved: Vec<SlaEvent>) -> Vec<SlaEvent> {
    let mut by_purchase: BTreeMap<Uuid, Vec<SlaEvent>> = BTreeMap::new();
    for event in moved {
        by_purchase.entry(event.purchase_id()).or_default().push(event);
    }
    let append_of = |id: Uuid, events: &[SlaEvent]| {
        let meta = Metadata::new(Actor::system("gate"), "gate").correlated(id, None);
        let new = events
            .iter()
            .map(|e| kernel::new_event(e, meta.clone()).with_id(e.event_id()))
            .collect();
        StreamAppend::new(kernel::stream(events::clocks::sla_stream(id)), ExpectedVersion::Any, new)
    };
    let by_purchase: Vec<(Uuid, Vec<SlaEvent>)> = by_purchase.into_iter().collect();
    let mut unrecorded = Vec::new();
    for chunk in by_purchase.chunks(RESCHEDULES_PER_APPEND) {
        let appends = chunk.iter().map(|(id, events)| append_of(*id, events)).collect();
        if store.append_streams(appends).await.is_ok() {
            continue;
        }
        // Something refused (another instance wrote some of them first) or the log failed:
        // each event alone, so that every one not yet stored lands.
        for (id, events) in chunk {
            for event in events {
                let one = append_of(*id, std::slice::from_ref(event));
                if let Err(e) = store.append(&one.stream, ExpectedVersion::Any, one.events).await {
                    tracing::warn!(purchase = %id, error = %e, "could not record a reschedule; trying again");
                    unrecorded.push(event.clone());
                }
            }
        }
    }
    unrecorded
}

/// Reads the purchase, its clock events and the district's newest events; appends what is
/// due at `now`; returns the purchase's clocks as they now stand.
async fn judge(
    store: &Store,
    id: Uuid,
    district: &DistrictSettings,
    now: DateTime<Utc>,
) -> Result<Tracked, StoreError> {
    let purchase = domain::purchase_stream(id);
    let sla = kernel::stream(events::clocks::sla_stream(id));
    let district_stream = domain::district_stream();
    let mut district = district.clone();
    for _ in 0..RETRIES {
        let read = store
            .read_streams(&[
                (purchase.clone(), 1),
                (sla.clone(), 1),
                (district_stream.clone(), district.0.version + 1),
            ])
            .await?;
        let [purchase_records, sla_records, district_tail] =
            <[Vec<RecordedEvent>; 3]>::try_from(read).map_err(|_| {
                StoreError::Unavailable("a read of three streams returned another count".into())
            })?;
        for record in &district_tail {
            if let Ok(event) = kernel::decode(record) {
                district.apply(&event, At::of(record));
            }
        }
        let mut tracked = fold(&purchase_records, &sla_records);
        let events = tracked.clocks.due_events(&district.0, now);
        if events.is_empty() {
            return Ok(tracked);
        }
        let meta = Metadata::new(Actor::system("gate"), "gate").correlated(id, None);
        let new = events
            .iter()
            .map(|e| kernel::new_event(e, meta.clone()).with_id(e.event_id()))
            .collect();
        let version = sla_records.last().map_or(0, |r| r.version);
        match store.append(&sla, ExpectedVersion::after(version), new).await {
            Ok(_) => {
                for event in &events {
                    tracked.clocks.apply_recorded(event);
                }
                return Ok(tracked);
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Unavailable(format!(
        "{sla} kept changing while its clock events were recorded"
    )))
}

/// A purchase's clocks from its streams' records.
fn fold(purchase: &[RecordedEvent], sla: &[RecordedEvent]) -> Tracked {
    let mut clocks = PurchaseClocks::default();
    for record in purchase {
        if let Ok(event) = kernel::decode::<PurchaseEvent>(record) {
            clocks.apply(&event, record.recorded_at);
        }
    }
    for record in sla {
        if let Ok(event) = kernel::decode::<SlaEvent>(record) {
            clocks.apply_recorded(&event);
        }
    }
    Tracked { clocks, version: purchase.last().map_or(0, |r| r.version) }
}
