//! The clocks projection (`reporting.clocks`): the facts the reports in business time need,
//! kept incrementally, and the SLA report's figures of the clocks that stopped.
//!
//! - `reporting.clocks`: one [`ClockDoc`] per **flagged** purchase (held or advisory): its
//!   school and the published fold of its clocks ([`PurchaseClocks`]: the flag, the payment
//!   method, the calls, the approval or cancellation), the same fold the gate's views and its
//!   scheduler use, so the reports judge a clock as the gate does; and what of it
//!   [`BY_DAY`] counts already (the day its clocks started, the clocks counted).
//! - `reporting.clocks.by_day`: the SLA figures as a [rollup](super::rollup): [`SlaFigures`] by the
//!   district's day the purchase's clocks started and school, one partition per such day, and one
//!   per month (`reporting.clocks.by_month`): the purchases with clocks, and per kind of clock the
//!   stopped ones, met or breached, and the business time they ran. Each purchase is counted once,
//!   by the event that starts its clocks; each clock once, by the event that stops it, judged then
//!   as the gate judges it ([`Clock::status`] at its stop), in the district's calendar and targets
//!   in force when the projection applies that event. A running clock the gate's scheduler recorded
//!   breached (`purchase-sla-breached` in `sla-{purchase_id}`, written at its due time:
//!   [`SlaEvent::Breached`]) is counted by that event instead, breached and `breached_open`:
//!   the time passing cannot change that. (Unless the calendar in force at that event puts its
//!   due time later than the breach says, a closure written while the scheduler judged it: the
//!   clock is not due yet, and stays among the open ones.) When it stops, the event that stops it takes
//!   `breached_open` back (−1), adds the business time it ran, and judges it at its stop like
//!   any other: it stays breached, unless it stopped by its due time after all (a call that
//!   took place in time, logged after the scheduler recorded the breach; or a closure entered
//!   since), which takes the breach back (−1) and counts it met, as the gate's views judge it.
//! - `reporting.clocks.open`: a copy of the [`ClockDoc`] of each flagged purchase that has a
//!   clock still running and not recorded breached (or no clocks yet: flagged while the
//!   district had no targets), removed once every clock it has is counted, stopped or
//!   recorded breached: then nothing of it depends on the time of a request. A running
//!   clock's state depends on the time it is judged at, so the report judges these (their
//!   clocks counted neither way) when it is asked for. A clock past its due time whose breach
//!   the scheduler has not written yet (it was down, or is behind) is judged there too, as
//!   breached, as before. A purchase without clocks that is approved or cancelled while the
//!   district has no targets is dropped, from here and from `reporting.clocks`: it never
//!   counts (it had no clocks while it was open), even once targets are set.
//! - `reporting.clocks.district`: one [`DistrictDoc`] holding the `district-settings` stream's
//!   events (a handful a year: the calendar, closures, targets), folded into the published
//!   [`District`] at request time, and by the projection once per change
//!   ([`DistrictMemo`]). The reports' *today* and *month* are the district's, in its time zone.
//! - `reporting.clocks.pending`: one [`PendingClocks`] document holding the submissions whose
//!   decision has not been read yet (as the purchase projection keeps its own): a purchase
//!   approved at once never gets a document.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use eventlog::{DocKey, Filter};
use events::Published;
use events::clocks::{Clock, ClockKind, PurchaseClocks, SlaEvent, SlaState};
use events::district::{District, DistrictEvent};
use events::gate::PurchaseEvent;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::purchases::HELD_PURCHASE_EVENTS;
use super::rollup::{self, DistrictMemo, Durations, Grains, Sum};

/// The projection's (and checkpoint's) name, and the collection of its [`ClockDoc`]s.
pub const NAME: &str = "reporting.clocks";
/// The one [`DistrictDoc`], under [`DISTRICT_KEY`].
pub const DISTRICT: &str = "reporting.clocks.district";
/// The key of the one district document.
pub const DISTRICT_KEY: &str = "district-settings";
/// The submissions awaiting their decision: one [`PendingClocks`] under [`PENDING_KEY`].
pub const PENDING: &str = "reporting.clocks.pending";
/// The key of the one pending document.
pub const PENDING_KEY: &str = "awaiting-decision";
/// The SLA figures: one [`Rollup<SlaFigures>`] per day clocks started.
pub const BY_DAY: &str = "reporting.clocks.by_day";
/// The same, one [`Rollup<SlaFigures>`] per month clocks started.
pub const BY_MONTH: &str = "reporting.clocks.by_month";
/// The SLA figures at both grains.
pub const SLA_FIGURES: Grains = Grains { days: BY_DAY, months: BY_MONTH };
/// The [`ClockDoc`]s of the purchases with a clock still running (or none yet), by purchase id.
pub const OPEN: &str = "reporting.clocks.open";

/// A flagged purchase's clocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockDoc {
    pub school_id: String,
    pub clocks: PurchaseClocks,
    /// The district's day its clocks started, in the calendar in force when the projection
    /// first saw them (at the flag; for a purchase flagged before the district had targets, at
    /// its first event after they were set): the day it counts on in [`BY_DAY`]. `None` while
    /// it has no clocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The clocks [`BY_DAY`] counts: stopped, and judged when they stopped (or, for one the
    /// scheduler recorded breached while it ran, breached then, with the time it ran).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counted: Vec<ClockKind>,
    /// The running clocks [`BY_DAY`] counts breached and still running (`breached_open`): the
    /// scheduler recorded their breach (`purchase-sla-breached`). Once one stops it moves to
    /// [`counted`](Self::counted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub breached_open: Vec<ClockKind>,
}

impl ClockDoc {
    /// Whether [`BY_DAY`] counts `kind` of clock already: stopped, or breached and running.
    pub fn is_counted(&self, kind: ClockKind) -> bool {
        self.counted.contains(&kind) || self.breached_open.contains(&kind)
    }

    /// Whether [`BY_DAY`] counts all of it, `clocks` being its clocks: the purchase, and every
    /// clock (stopped, or recorded breached). Nothing of it depends on the time of a request
    /// any more; otherwise it is kept in [`OPEN`] and judged when the report is asked for.
    pub fn is_closed(&self, clocks: &[Clock]) -> bool {
        self.day.is_some() && clocks.iter().all(|clock| self.is_counted(clock.kind))
    }
}

/// What the purchases whose clocks started on one day at one school came to (zeros are left out
/// of the stored JSON): the purchases with clocks, and the clocks that stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlaFigures {
    #[serde(skip_serializing_if = "is_zero")]
    pub purchases: u64,
    #[serde(skip_serializing_if = "StoppedClocks::is_empty")]
    pub first_contact: StoppedClocks,
    #[serde(skip_serializing_if = "StoppedClocks::is_empty")]
    pub decision: StoppedClocks,
    #[serde(skip_serializing_if = "StoppedClocks::is_empty")]
    pub advisory_outreach: StoppedClocks,
}

impl SlaFigures {
    /// The figures of one kind of clock.
    pub fn of(&self, kind: ClockKind) -> &StoppedClocks {
        match kind {
            ClockKind::FirstContact => &self.first_contact,
            ClockKind::Decision => &self.decision,
            ClockKind::AdvisoryOutreach => &self.advisory_outreach,
        }
    }

    fn of_mut(&mut self, kind: ClockKind) -> &mut StoppedClocks {
        match kind {
            ClockKind::FirstContact => &mut self.first_contact,
            ClockKind::Decision => &mut self.decision,
            ClockKind::AdvisoryOutreach => &mut self.advisory_outreach,
        }
    }
}

impl Sum for SlaFigures {
    fn add(&mut self, other: &Self) {
        self.purchases += other.purchases;
        self.first_contact.add(&other.first_contact);
        self.decision.add(&other.decision);
        self.advisory_outreach.add(&other.advisory_outreach);
    }
}

/// Clocks of one kind with a verdict: how many stopped by their due time (met) and how many
/// stopped after it or were recorded breached while running (every stopped clock is met or
/// breached), and the business time each stopped one ran. The counts of breaches are signed:
/// a delta takes back what an earlier one counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoppedClocks {
    #[serde(skip_serializing_if = "is_zero")]
    pub met: u64,
    /// +1 when the scheduler's breach is counted or a clock stops late, −1 when a clock
    /// recorded breached stops by its due time after all.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub breached: i64,
    /// Of the breached, the ones still running: +1 when the scheduler's breach is counted, −1
    /// when the clock stops.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub breached_open: i64,
    /// The business time each ran, waits on the requester left out.
    #[serde(skip_serializing_if = "Durations::is_empty")]
    pub ran: Durations,
}

impl StoppedClocks {
    pub fn is_empty(&self) -> bool {
        self.met == 0 && self.breached == 0 && self.breached_open == 0 && self.ran.is_empty()
    }

    /// Counts a clock stopped in `state` (met or breached) after running `ran`.
    fn count(&mut self, state: SlaState, ran: TimeDelta) {
        if state == SlaState::Breached {
            self.breached += 1;
        } else {
            self.met += 1;
        }
        self.ran.add(ran);
    }
}

impl Sum for StoppedClocks {
    fn add(&mut self, other: &Self) {
        self.met += other.met;
        self.breached += other.breached;
        self.breached_open += other.breached_open;
        Sum::add(&mut self.ran, &other.ran);
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// Submissions whose decision has not been read yet, by purchase id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingClocks {
    pub submitted: BTreeMap<String, ClockDoc>,
}

/// The `district-settings` stream's events, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistrictDoc {
    pub events: Vec<DistrictRecord>,
}

/// One event of `district-settings`, as the log recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictRecord {
    pub version: u64,
    pub recorded_at: DateTime<Utc>,
    pub event_type: String,
    pub data: Value,
}

impl DistrictDoc {
    /// Keeps an event of the `district-settings` stream (once: a later copy of an event kept
    /// already is left out).
    pub fn keep(&mut self, event: &Recorded<'_>) {
        if self.events.last().is_none_or(|last| last.version < event.version) {
            self.events.push(DistrictRecord {
                version: event.version,
                recorded_at: event.recorded_at,
                event_type: event.event_type.clone(),
                data: event.data.clone(),
            });
        }
    }

    /// The district these events make (events that no longer decode are left out; the read
    /// model only keeps ones that did).
    pub fn district(&self) -> District {
        let mut district = District::default();
        for record in &self.events {
            if let Ok(event) = DistrictEvent::from_parts(&record.event_type, &record.data) {
                district.apply(&event, record.version, record.recorded_at);
            }
        }
        district
    }
}

/// Keeps the [`ClockDoc`]s, [`BY_DAY`], [`OPEN`], [`DISTRICT`] and [`PENDING`].
#[derive(Debug, Default)]
pub struct Clocks {
    district: DistrictMemo,
}

impl ReadModel for Clocks {
    const NAME: &'static str = NAME;
    const SKIP_UNDECODABLE: bool = true;
    /// 2: keeps the SLA figures by day and school, and the open purchases; reads
    /// `waiting-on-requester`. 3: reads the scheduler's `purchase-sla-breached` (a clock
    /// recorded breached leaves the open ones); drops the purchases resolved without clocks.
    /// 4: one partition per day clocks started. 5: and per month ([`BY_MONTH`]). 6: a purchase
    /// is not requested after the log recorded its check (`events::clocks::requested`). 7: a
    /// clock recorded breached that stops by its due time is met; a breach whose due time the
    /// calendar in force has moved later is not counted.
    const VERSION: u64 = 7;
    type Doc = ClockDoc;

    fn collections(&self) -> Vec<&'static str> {
        let mut collections = vec![NAME, OPEN, DISTRICT, PENDING];
        collections.extend(SLA_FIGURES.collections());
        collections
    }

    fn filter(&self) -> Filter {
        // Every purchase event the clocks' fold reacts to: waiting on the requester pauses the
        // decision clock as the gate judges it.
        let mut types = HELD_PURCHASE_EVENTS.to_vec();
        types.push("waiting-on-requester");
        // The scheduler's breach: counted once, so the clock is not judged at each request.
        types.push("purchase-sla-breached");
        types.extend(DistrictEvent::EVENT_TYPES);
        Filter::all().with_types(types)
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::Purchase(PurchaseEvent::Submitted(_)) => vec![],
            Published::Purchase(PurchaseEvent::Decided(d)) if !d.decision.flags() => vec![],
            Published::Purchase(_) => vec![event.stream_id().to_owned()],
            Published::Sla(SlaEvent::Breached(b)) => vec![b.purchase_id.to_string()],
            _ => vec![],
        }
    }

    /// [`OPEN`] is only written (put or removed), never read: it needs no key here.
    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        let district = || DocKey::new(DISTRICT, DISTRICT_KEY);
        let pending = || DocKey::new(PENDING, PENDING_KEY);
        // The partition of the day a purchase's clocks started is known from its own document:
        // `count` asks for it (see [`eventlog::projection`]).
        match event.event {
            Published::Purchase(PurchaseEvent::Submitted(_)) => vec![pending()],
            Published::Purchase(PurchaseEvent::Decided(d)) if d.decision.flags() => {
                vec![pending(), district()]
            }
            Published::Purchase(PurchaseEvent::Decided(_)) => vec![pending()],
            Published::Purchase(_) | Published::Sla(SlaEvent::Breached(_)) => vec![district()],
            Published::District(_) => vec![district()],
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, ClockDoc>) -> Applied {
        let id = event.stream_id();
        match event.event {
            Published::Purchase(purchase @ PurchaseEvent::Submitted(s)) => {
                let mut clocks = PurchaseClocks::default();
                clocks.apply(purchase, event.recorded_at);
                let mut pending = docs.of::<PendingClocks>(PENDING);
                let mut doc = pending.get(PENDING_KEY).unwrap_or_default();
                let school_id = s.school_id.to_string();
                doc.submitted
                    .insert(id.to_owned(), ClockDoc { school_id, clocks, ..ClockDoc::default() });
                pending.put(PENDING_KEY, &doc);
            }
            Published::Purchase(decision @ PurchaseEvent::Decided(d)) => {
                let mut pending = docs.of::<PendingClocks>(PENDING);
                let mut waiting = pending.get(PENDING_KEY).unwrap_or_default();
                // Decided twice, or without a submission: nothing to keep.
                let Some(mut doc) = waiting.submitted.remove(id) else { return Ok(()) };
                if waiting.submitted.is_empty() {
                    pending.remove(PENDING_KEY);
                } else {
                    pending.put(PENDING_KEY, &waiting);
                }
                if d.decision.flags() {
                    doc.clocks.apply(decision, event.recorded_at);
                    self.count(event, id, &mut doc, Change::Flagged, docs)?;
                }
            }
            Published::Purchase(purchase) => {
                // Not flagged (approved at once, or unknown), or resolved without clocks.
                let Some(mut doc) = docs.get(id) else { return Ok(()) };
                let before = doc.clocks.clone();
                doc.clocks.apply(purchase, event.recorded_at);
                if doc.clocks != before {
                    let resolves = matches!(
                        purchase,
                        PurchaseEvent::Approved(_) | PurchaseEvent::Cancelled(_)
                    );
                    self.count(event, id, &mut doc, Change::Purchase { resolves }, docs)?;
                }
            }
            Published::Sla(SlaEvent::Breached(breach)) => {
                let id = breach.purchase_id.to_string();
                // Not flagged, resolved without clocks, or the clock counted already.
                let Some(mut doc) = docs.get(&id) else { return Ok(()) };
                if !doc.is_counted(breach.clock) {
                    let change = Change::Breached(breach.clock, breach.due_at);
                    self.count(event, &id, &mut doc, change, docs)?;
                }
            }
            Published::District(_) => {
                let mut district = docs.of::<DistrictDoc>(DISTRICT);
                district.entry(DISTRICT_KEY, event)?.keep(event);
            }
            _ => {}
        }
        Ok(())
    }
}

/// What an event did to a flagged purchase, for [`Clocks::count`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// The decision that flagged it: it has no document in [`OPEN`] yet.
    Flagged,
    /// Another of its events changed its clocks; `resolves`: an approval or a cancellation.
    Purchase { resolves: bool },
    /// The scheduler recorded this clock breached at this due time (not counted yet).
    Breached(ClockKind, DateTime<Utc>),
}

impl Clocks {
    /// What `event` adds to [`BY_DAY`] for the purchase `id` of `doc`, which it just changed,
    /// in the district in force when the event is applied: the purchase, once, when its clocks
    /// first show (the day they started); each clock, once, when it shows stopped, judged at
    /// its stop; a running clock the scheduler recorded breached, breached and open, until it
    /// stops (then the time it ran). Then keeps the document,
    /// and keeps it among the [`OPEN`] ones while it is not all counted. A purchase without
    /// clocks (the district has no targets) that is approved or cancelled is dropped: it never
    /// counts.
    fn count(
        &self,
        event: &Recorded<'_>,
        id: &str,
        doc: &mut ClockDoc,
        change: Change,
        docs: &mut Documents<'_, ClockDoc>,
    ) -> Result<(), String> {
        let district = self.district.in_force(docs, DISTRICT, event)?;
        let clocks = doc.clocks.clocks(&district);
        let was_open = change != Change::Flagged && !doc.is_closed(&clocks);
        if let Some(first) = clocks.first() {
            let calendar = &district.calendar;
            let started = doc.day.is_none();
            let day = *doc.day.get_or_insert_with(|| calendar.today(first.started_at));
            let stopped: Vec<&Clock> = clocks
                .iter()
                .filter(|c| c.stopped_at.is_some() && !doc.counted.contains(&c.kind))
                .collect();
            let breached = match change {
                // Unless the calendar in force now puts its due time later than the breach
                // says (a closure written while the scheduler judged it): then it is not due
                // yet, and stays among the open ones, judged at each request.
                Change::Breached(kind, due_at) => clocks
                    .iter()
                    .find(|c| c.kind == kind && c.stopped_at.is_none() && !doc.is_counted(kind))
                    .filter(|c| c.due_at(calendar).is_some_and(|due| due <= due_at))
                    .map(|c| c.kind),
                _ => None,
            };
            if started || !stopped.is_empty() || breached.is_some() {
                let mut figures = SlaFigures::default();
                figures.purchases += u64::from(started);
                for clock in stopped {
                    let Some(at) = clock.stopped_at else { continue };
                    let ran = clock.elapsed(calendar, at);
                    let kind = figures.of_mut(clock.kind);
                    if let Some(i) = doc.breached_open.iter().position(|k| *k == clock.kind) {
                        // Counted breached when the scheduler recorded it: now it ran this long,
                        // and it is judged at its stop, as the gate judges it.
                        doc.breached_open.remove(i);
                        kind.breached_open -= 1;
                        kind.ran.add(ran);
                        if clock.status(calendar, at).state == SlaState::Met {
                            kind.breached -= 1;
                            kind.met += 1;
                        }
                    } else {
                        kind.count(clock.status(calendar, at).state, ran);
                    }
                    doc.counted.push(clock.kind);
                }
                if let Some(clock) = breached {
                    let kind = figures.of_mut(clock);
                    kind.breached += 1;
                    kind.breached_open += 1;
                    doc.breached_open.push(clock);
                }
                rollup::add(docs, SLA_FIGURES, day, &doc.school_id, &figures, event)?;
            } else if let Change::Breached(..) = change {
                // A breach of a clock this purchase does not have, or that stopped already:
                // nothing changes.
                return Ok(());
            }
        } else if change == (Change::Purchase { resolves: true }) {
            // Approved or cancelled while the district has no targets: it never has clocks.
            docs.remove(id);
            if was_open {
                docs.of::<ClockDoc>(OPEN).remove(id);
            }
            return Ok(());
        } else if let Change::Breached(..) = change {
            return Ok(());
        }
        docs.put(id, doc);
        let mut open = docs.of::<ClockDoc>(OPEN);
        if !doc.is_closed(&clocks) {
            open.put(id, doc);
        } else if was_open {
            open.remove(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use eventlog::RecordedEvent;
    use events::clocks::SlaState;
    use uuid::Uuid;

    use super::*;
    use crate::reports::purchases::fixtures::*;

    /// Every document after the events, applied one batch per event.
    fn apply(events: &[RecordedEvent]) -> BTreeMap<DocKey, Value> {
        let projection = Clocks::default().into_projection();
        kernel::testing::project(&*projection, events)
    }

    /// The district in Chicago, office hours, with targets: first contact in 60 business
    /// minutes, a decision in 480, advisory outreach in 240.
    fn district_events(first_position: u64) -> Vec<RecordedEvent> {
        let mut settings = office_settings("America/Chicago");
        settings.push(sla_targets());
        district_log(first_position, settings)
    }

    #[test]
    fn a_flagged_purchase_keeps_its_clocks_and_the_district_its_events() {
        let (held_id, approved_id) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut events = district_events(1);
        events.extend(recorded(held_id, 3, &[(submitted(held_id), 0), (held(), 0)]));
        let approved = events::gate::PurchaseDecided {
            decision: events::gate::Decision::Approved,
            reasons: vec![],
            policy_version: 4,
            school_gated: false,
        };
        events.extend(recorded(
            approved_id,
            5,
            &[(submitted(approved_id), 0), (approved.into(), 0)],
        ));
        events.extend(recorded(held_id, 7, &[(reached(30, true), 30), (cancelled(), 90)]));
        let store = apply(&events);

        assert!(
            !store.keys().any(|k| k.collection == PENDING),
            "the pending document is removed once empty"
        );
        assert!(!store.contains_key(&DocKey::new(NAME, approved_id.to_string())));
        let doc: ClockDoc =
            serde_json::from_value(store[&DocKey::new(NAME, held_id.to_string())].clone()).unwrap();
        assert_eq!(doc.school_id, "lincoln-elem");
        let district: DistrictDoc =
            serde_json::from_value(store[&DocKey::new(DISTRICT, DISTRICT_KEY)].clone()).unwrap();
        let district = district.district();
        assert_eq!(district.version, 2);
        assert_eq!(district.calendar.time_zone().as_str(), "America/Chicago");
        // Monday 2024-09-02 09:00Z is 04:00 in Chicago: the office opens at 14:00Z. The call at
        // 09:30Z came before any business time passed; the cancellation at 10:30Z too.
        let status = doc.clocks.status(&district, at(60 * 24)).unwrap();
        assert_eq!(status.state, SlaState::Met);
        assert_eq!(status.clocks.len(), 2);
    }
}
