//! The purchase projection (`reporting.purchases`) that four reports share: what each purchase
//! check and IT's work on it mean for the figures.
//!
//! - `reporting.purchases.held`: one [`HeldDoc`] per **held** purchase: the flag, the first
//!   reached call (the earliest: a call entered late and dated before it takes its place, and
//!   the business time counted to it is taken back), call before cancel (the published fold,
//!   [`CallBeforeCancel`], so the report judges a cancellation as the gate does), the
//!   resolution: what a later event of the purchase needs to know to count in
//!   [`HELD_BY_DAY`]. No report reads them.
//! - `reporting.purchases.advisory_by_day` and `advisory_by_month`: the advisory purchases'
//!   figures as a [rollup](super::rollup): [`DaySpend`] by the district's day the purchase was
//!   asked about (in the calendar in force at its decision) and school, per currency, by vendor
//!   and amount band, one partition per such day and one per month. Rogue spend reads these.
//! - `reporting.purchases.held_by_day` and `held_by_month`: the held purchases' figures as a
//!   [rollup](super::rollup): [`HeldFigures`] by the district's day of the flag and school
//!   (held, approved, cancelled, business time to the first reached call and to the resolution,
//!   cancellations with and without a reached call and an alternative first), one partition per
//!   day of flags and one per month. The response-times and promises reports read these, not
//!   the purchases.
//! - `reporting.purchases.district`: the `district-settings` events ([`DistrictDoc`]), so that
//!   the day of a flag and the business time are measured in the calendar in force when they
//!   happen.
//! - `reporting.purchases.spend`: the technology spend sums of the adoption report, by the
//!   district's day the purchases were asked about (in its time zone when the gate decided)
//!   and currency: one [`SpendDoc`] per such day (a partition, as a
//!   [rollup](super::rollup)'s), so the report reads a document a day.
//!
//! Every time here is when the fact took place ([`took_place_at`]): a check sent after the fact
//! counts from when the purchase was requested, IT's decision logged after the fact from when
//! it was made.
//! - `reporting.purchases.pending`: one document, [`PendingDoc`], holding the submissions whose
//!   decision has not been read yet. A decision needs its submission's school, vendor and total;
//!   the gate appends both together, so an entry lives from one event to the next, and the
//!   document is usually empty (and then removed) at the end of a batch.
//!
//! Most purchases are approved at once and need nothing after their decision: keeping their
//! submission in the one pending document rather than in a document of their own means such a
//! purchase costs the database nothing (no lookup, no write, no delete); only flagged purchases
//! get a document, in the collection of the report that reads it. One projection rather than
//! one per report: each purchase event is decoded once and touches at most one purchase
//! document, which is what makes a rebuild of a long log fast (see the `throughput` bench).
//! Each event is decoded once, by the kernel, into the published enums ([`Published`]), and
//! matched on; the decision of a held purchase starts its call-before-cancel fold as it is.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use eventlog::{DocKey, Filter};
use events::Published;
use events::clocks::took_place_at;
use events::district::{District, DistrictEvent};
use events::gate::{
    Decision, PurchaseDecided, PurchaseEvent, PurchaseStatus, PurchaseSubmitted, ReasonCode,
};
use events::rules::{CallBeforeCancel, first_reached};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};

use super::clocks::DistrictDoc;
use super::rogue_spend::{DaySpend, Spent};
use super::rollup::{self, DistrictMemo, Durations, Grains, Sum, partition};

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.purchases";
/// One document per held purchase: [`HeldDoc`].
pub const HELD: &str = "reporting.purchases.held";
/// A collection of documents this projection no longer keeps (one per advisory purchase, which
/// nothing read): listed among its collections so that a rebuild clears it.
const RETIRED_ADVISORY: &str = "reporting.purchases.advisory";
/// The advisory purchases' figures: one [`Rollup<DaySpend>`] per day they were asked about.
pub const ADVISORY_BY_DAY: &str = "reporting.purchases.advisory_by_day";
/// The same, one [`Rollup<DaySpend>`] per month they were asked about.
pub const ADVISORY_BY_MONTH: &str = "reporting.purchases.advisory_by_month";
/// The advisory purchases' figures at both grains.
pub const ADVISORY_FIGURES: Grains = Grains { days: ADVISORY_BY_DAY, months: ADVISORY_BY_MONTH };
/// One document per day purchases were asked about: [`SpendDoc`].
pub const SPEND: &str = "reporting.purchases.spend";
/// The submissions awaiting their decision: one [`PendingDoc`] under [`PENDING_KEY`].
pub const PENDING: &str = "reporting.purchases.pending";
/// The key of the one pending document.
pub const PENDING_KEY: &str = "awaiting-decision";
/// The held purchases' figures: one [`Rollup<HeldFigures>`] per day of flags.
pub const HELD_BY_DAY: &str = "reporting.purchases.held_by_day";
/// The same, one [`Rollup<HeldFigures>`] per month of flags.
pub const HELD_BY_MONTH: &str = "reporting.purchases.held_by_month";
/// The held purchases' figures at both grains.
pub const HELD_FIGURES: Grains = Grains { days: HELD_BY_DAY, months: HELD_BY_MONTH };
/// The district's settings: one [`DistrictDoc`] under [`DISTRICT_KEY`].
pub const DISTRICT: &str = "reporting.purchases.district";
pub use super::clocks::DISTRICT_KEY;

/// The events of a held purchase's life that this projection and the clocks both fold: the
/// submission, the decision, calls and the resolution.
pub(crate) const HELD_PURCHASE_EVENTS: [&str; 5] = [
    "purchase-submitted",
    "purchase-decided",
    "call-logged",
    "purchase-approved",
    "purchase-cancelled",
];

/// What the held purchases flagged on one day at one school came to (zeros and empty lists are
/// left out of the stored JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeldFigures {
    #[serde(skip_serializing_if = "is_zero")]
    pub held: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub approved: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cancelled: u64,
    /// Business time from the flag to the first call that reached the requester.
    #[serde(skip_serializing_if = "Durations::is_empty")]
    pub to_first_reached_call: Durations,
    /// Business time from the flag to the approval or cancellation.
    #[serde(skip_serializing_if = "Durations::is_empty")]
    pub to_resolution: Durations,
    /// Cancellations after a reached call and an alternative (call before cancel honoured).
    #[serde(skip_serializing_if = "is_zero")]
    pub cancelled_after_call: u64,
    /// Cancellations without: the log sequence of each one's `held` decision (the report
    /// finds the standing promise in force then).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cancelled_without_call: Vec<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Of [`HeldFigures`], the cancellations alone: what the promises report reads of them (the
/// rest of each entry is passed over, not decoded).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HeldCancellations {
    pub cancelled_after_call: u64,
    pub cancelled_without_call: Vec<u64>,
}

impl Sum for HeldCancellations {
    fn add(&mut self, other: &Self) {
        self.cancelled_after_call += other.cancelled_after_call;
        self.cancelled_without_call.extend_from_slice(&other.cancelled_without_call);
    }
}

impl Sum for HeldFigures {
    fn add(&mut self, other: &Self) {
        self.held += other.held;
        self.approved += other.approved;
        self.cancelled += other.cancelled;
        Sum::add(&mut self.to_first_reached_call, &other.to_first_reached_call);
        Sum::add(&mut self.to_resolution, &other.to_resolution);
        self.cancelled_after_call += other.cancelled_after_call;
        self.cancelled_without_call.extend_from_slice(&other.cancelled_without_call);
    }
}

/// Submissions whose decision has not been read yet, by purchase id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingDoc {
    pub checks: BTreeMap<String, PendingCheck>,
}

/// What a decision needs of its submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCheck {
    pub school_id: String,
    pub vendor: String,
    pub currency: String,
    pub total_cents: i64,
    /// When the purchase was requested, for a check sent after the fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
}

/// A held purchase. Unset and false fields are left out of the stored JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeldDoc {
    pub school_id: String,
    /// The log sequence of the decision.
    pub decided_sequence: u64,
    /// When the purchase was flagged: when the log recorded the decision, or for a check sent
    /// after the fact, when the purchase was requested.
    pub flagged_at: Option<DateTime<Utc>>,
    /// The district's date of the flag, in the calendar in force then: the day its figures
    /// count on in [`HELD_BY_DAY`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_day: Option<NaiveDate>,
    /// When the first call that reached the requester took place: the earliest, in whatever
    /// order the calls were logged ([`first_reached`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_reached_at: Option<DateTime<Utc>>,
    /// The business time to it that [`HELD_FIGURES`] counts (one duration, measured in the
    /// calendar in force when the call was logged): taken back from there should a call dated
    /// earlier be logged.
    #[serde(skip_serializing_if = "Durations::is_empty")]
    pub reached_counted: Durations,
    /// Call before cancel, folded from the purchase's events from its decision on.
    pub call_before_cancel: CallBeforeCancel,
    /// When the approval or cancellation took place (its `occurred_at`, else when the log
    /// recorded it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// `approved` or `cancelled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<PurchaseStatus>,
    /// At a cancellation: whether a reached call and an alternative came first (call before
    /// cancel was satisfied: [`CallBeforeCancel::honoured`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_and_alternative_first: Option<bool>,
}

/// The purchase checks asked about on one of the district's days (the partition's), by that
/// day and currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SpendDoc {
    pub by_day: BTreeMap<NaiveDate, BTreeMap<String, SpendSums>>,
}

/// Sums of checks in one currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendSums {
    /// Every check decided.
    pub checks: u64,
    /// Checks with at least one technology line (a reason other than `not-technology`).
    pub technology_checks: u64,
    pub technology_cents: i64,
    /// Technology checks decided while the school's agreement stood (`school_gated`).
    pub gated_checks: u64,
    pub gated_cents: i64,
}

impl SpendSums {
    pub fn add(&mut self, other: &SpendSums) {
        self.checks += other.checks;
        self.technology_checks += other.technology_checks;
        self.technology_cents += other.technology_cents;
        self.gated_checks += other.gated_checks;
        self.gated_cents += other.gated_cents;
    }
}

/// Keeps [`HELD`] (its documents), [`HELD_FIGURES`], [`ADVISORY_FIGURES`], [`SPEND`],
/// [`PENDING`] and [`DISTRICT`].
#[derive(Debug, Default)]
pub struct Purchases {
    district: DistrictMemo,
}

impl ReadModel for Purchases {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = HELD;
    const SKIP_UNDECODABLE: bool = true;
    /// 2: keeps the held and advisory purchases' rollups ([`HELD_BY_DAY`],
    /// [`ADVISORY_BY_DAY`]) and the district; spend by the district's day. 3: one partition
    /// per day the figures count on. 4: the held and advisory purchases' figures by month too
    /// ([`HELD_BY_MONTH`], [`ADVISORY_BY_MONTH`]). 5: the first reached call is the earliest,
    /// not the first logged, and a held purchase keeps the business time counted to it. 6: a
    /// purchase is not requested after the log recorded its check (`events::clocks::requested`).
    const VERSION: u64 = 6;
    type Doc = HeldDoc;

    fn collections(&self) -> Vec<&'static str> {
        let mut collections = vec![HELD, SPEND, PENDING, DISTRICT];
        collections.extend(HELD_FIGURES.collections());
        collections.extend(ADVISORY_FIGURES.collections());
        collections.push(RETIRED_ADVISORY);
        collections
    }

    fn filter(&self) -> Filter {
        // Accepting an alternative changes nothing here (it is followed by the approval).
        let mut types = HELD_PURCHASE_EVENTS.to_vec();
        types.push("alternative-proposed");
        types.extend(DistrictEvent::EVENT_TYPES);
        Filter::all().with_types(types)
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        let Published::Purchase(purchase) = event.event else { return vec![] };
        match purchase {
            PurchaseEvent::Submitted(_) => vec![],
            // Only a flagged purchase gets a document of its own.
            PurchaseEvent::Decided(d) if d.decision != Decision::Held => vec![],
            // Calls, alternatives and resolutions matter for held purchases only.
            _ => vec![event.stream_id().to_owned()],
        }
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        let district = || DocKey::new(DISTRICT, DISTRICT_KEY);
        let Published::Purchase(purchase) = event.event else {
            return match event.event {
                Published::District(_) => vec![district()],
                _ => vec![],
            };
        };
        // The partitions of the day a purchase counts on are known from its submission or its
        // own document: `update` asks for them (see [`eventlog::projection`]).
        let pending = || DocKey::new(PENDING, PENDING_KEY);
        match purchase {
            PurchaseEvent::Submitted(_) => vec![pending()],
            PurchaseEvent::Decided(_) => vec![pending(), district()],
            PurchaseEvent::CallLogged(_)
            | PurchaseEvent::Approved(_)
            | PurchaseEvent::Cancelled(_) => vec![district()],
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, HeldDoc>) -> Applied {
        let Published::Purchase(purchase) = event.event else {
            if let Published::District(_) = event.event {
                docs.of::<DistrictDoc>(DISTRICT).entry(DISTRICT_KEY, event)?.keep(event);
            }
            return Ok(());
        };
        let id = event.stream_id();
        match purchase {
            PurchaseEvent::Submitted(s) => awaiting_decision(id, s, docs),
            PurchaseEvent::Decided(d) => {
                let district = self.district.in_force(docs, DISTRICT, event)?;
                match decided(event, purchase, d, &district, docs)? {
                    Some(Decided::Held(held)) => self.flagged(event, held, &district, docs)?,
                    Some(Decided::Advisory(check, asked_at)) => {
                        advised(event, &check, asked_at, &district, docs)?;
                    }
                    None => {}
                }
            }
            _ => {
                // Not held (approved at once, advisory, or unknown): nothing to record.
                let Some(mut doc) = docs.get(id) else { return Ok(()) };
                let before = doc.clone();
                if follow_up(event, purchase, &mut doc) {
                    self.count_follow_up(event, &before, &mut doc, docs)?;
                    docs.put(id, &doc);
                }
            }
        }
        Ok(())
    }
}

impl Purchases {
    /// A held purchase's flag: its day, and one more held purchase on it.
    fn flagged(
        &self,
        event: &Recorded<'_>,
        mut doc: HeldDoc,
        district: &District,
        docs: &mut Documents<'_, HeldDoc>,
    ) -> Result<(), String> {
        doc.flag_day = doc.flagged_at.map(|at| district.calendar.today(at));
        if let Some(day) = doc.flag_day {
            let flagged = HeldFigures { held: 1, ..HeldFigures::default() };
            rollup::add(docs, HELD_FIGURES, day, &doc.school_id, &flagged, event)?;
        }
        docs.put(event.stream_id(), &doc);
        Ok(())
    }
}

/// An advisory purchase: its spend on the district's day it was asked about, in the calendar
/// in force when the decision is applied. (Nothing later changes it: it needs no document of
/// its own.)
fn advised(
    event: &Recorded<'_>,
    check: &PendingCheck,
    asked_at: DateTime<Utc>,
    district: &District,
    docs: &mut Documents<'_, HeldDoc>,
) -> Result<(), String> {
    let day = district.calendar.today(asked_at);
    let spent =
        Spent { currency: &check.currency, vendor: &check.vendor, cents: check.total_cents };
    rollup::add(docs, ADVISORY_FIGURES, day, &check.school_id, &DaySpend::of(spent, 1), event)
}

impl Purchases {
    /// What IT's work on a held purchase adds to its day's figures: the first reached call,
    /// the resolution, and whether a cancellation honoured call before cancel. The business
    /// time is the district's in force when the event is applied.
    fn count_follow_up(
        &self,
        event: &Recorded<'_>,
        before: &HeldDoc,
        doc: &mut HeldDoc,
        docs: &mut Documents<'_, HeldDoc>,
    ) -> Result<(), String> {
        let reached = doc.first_reached_at.filter(|at| before.first_reached_at != Some(*at));
        let resolved = doc.resolved_at.filter(|_| before.resolved_at.is_none());
        let Some(flagged_at) = doc.flagged_at.filter(|_| reached.is_some() || resolved.is_some())
        else {
            return Ok(());
        };
        let district = self.district.in_force(docs, DISTRICT, event)?;
        count(event, doc, flagged_at, reached, resolved, &district, docs)
    }
}

/// Counts a held purchase's first reached call (taking back the one counted before, should a
/// call dated earlier have been logged) and its resolution on its day.
fn count(
    event: &Recorded<'_>,
    doc: &mut HeldDoc,
    flagged_at: DateTime<Utc>,
    reached: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    district: &District,
    docs: &mut Documents<'_, HeldDoc>,
) -> Result<(), String> {
    let day = *doc.flag_day.get_or_insert_with(|| district.calendar.today(flagged_at));
    let business = |at: DateTime<Utc>| {
        district.calendar.business_time_between(flagged_at, at).max(TimeDelta::zero())
    };
    let mut figures = HeldFigures::default();
    let mut taken_back = Durations::default();
    if let Some(at) = reached {
        figures.to_first_reached_call.add(business(at));
        taken_back =
            std::mem::replace(&mut doc.reached_counted, figures.to_first_reached_call.clone());
    }
    if let Some(at) = resolved {
        figures.to_resolution.add(business(at));
        if doc.resolution == Some(PurchaseStatus::Cancelled) {
            figures.cancelled += 1;
            match doc.call_and_alternative_first {
                Some(true) => figures.cancelled_after_call += 1,
                Some(false) => figures.cancelled_without_call.push(doc.decided_sequence),
                None => {}
            }
        } else {
            figures.approved += 1;
        }
    }
    rollup::change(docs, HELD_FIGURES, day, &doc.school_id, event, |entry: &mut HeldFigures| {
        if let Err(e) = entry.to_first_reached_call.take_back(&taken_back) {
            // Not expected (the document keeps what it counted): the reports carry on, with
            // this purchase counted twice, rather than stop.
            tracing::error!(position = event.position, error = %e, "a call's time not taken back");
        }
        entry.add(&figures);
    })
}

/// A submission, kept until its decision.
fn awaiting_decision(id: &str, s: &PurchaseSubmitted, docs: &mut Documents<'_, HeldDoc>) {
    let mut pending = docs.of::<PendingDoc>(PENDING);
    let mut doc = pending.get(PENDING_KEY).unwrap_or_default();
    let check = PendingCheck {
        school_id: s.school_id.to_string(),
        vendor: s.vendor.to_string(),
        currency: s.currency.to_string(),
        total_cents: s.total.cents(),
        requested_at: s.requested_at,
    };
    doc.checks.insert(id.to_owned(), check);
    pending.put(PENDING_KEY, &doc);
}

/// What a decision leaves to keep.
enum Decided {
    Held(HeldDoc),
    Advisory(PendingCheck, DateTime<Utc>),
}

/// A decision: the day's spend; the document of a held or advisory purchase, to be kept.
fn decided(
    event: &Recorded<'_>,
    decision: &PurchaseEvent,
    d: &PurchaseDecided,
    district: &District,
    docs: &mut Documents<'_, HeldDoc>,
) -> Result<Option<Decided>, String> {
    let id = event.stream_id();
    let mut pending = docs.of::<PendingDoc>(PENDING);
    let mut waiting = pending.get(PENDING_KEY).unwrap_or_default();
    // Decided twice, or without a submission: nothing to count.
    let Some(check) = waiting.checks.remove(id) else { return Ok(None) };
    if waiting.checks.is_empty() {
        pending.remove(PENDING_KEY);
    } else {
        pending.put(PENDING_KEY, &waiting);
    }
    let asked_at = took_place_at(decision, event.recorded_at, check.requested_at);
    let day = district.calendar.today(asked_at);
    let spend: &mut SpendDoc = partition(docs, SPEND, day, event)?;
    let day = spend.by_day.entry(day).or_default();
    let sums = day.entry(check.currency.clone()).or_default();
    sums.checks += 1;
    if d.reasons.iter().any(|r| r.code != ReasonCode::NotTechnology) {
        sums.technology_checks += 1;
        sums.technology_cents += check.total_cents;
        if d.school_gated {
            sums.gated_checks += 1;
            sums.gated_cents += check.total_cents;
        }
    }
    Ok(match d.decision {
        Decision::Approved => None,
        Decision::Held => {
            // The fold takes the decision as the gate wrote it, after what its submission said.
            let mut call_before_cancel = CallBeforeCancel::requested(check.requested_at);
            call_before_cancel.apply(decision, event.recorded_at);
            Some(Decided::Held(HeldDoc {
                school_id: check.school_id,
                decided_sequence: event.position,
                flagged_at: call_before_cancel.flagged_at(),
                call_before_cancel,
                ..HeldDoc::default()
            }))
        }
        Decision::Advisory => Some(Decided::Advisory(check, asked_at)),
    })
}

/// IT's work on a held purchase; whether the document changed.
fn follow_up(event: &Recorded<'_>, decoded: &PurchaseEvent, doc: &mut HeldDoc) -> bool {
    let rule_before = doc.call_before_cancel.clone();
    doc.call_before_cancel.apply(decoded, event.recorded_at);
    let rule_changed = doc.call_before_cancel != rule_before;
    let changed = match decoded {
        PurchaseEvent::CallLogged(_) => {
            let earliest = first_reached(doc.first_reached_at, decoded);
            let moved = earliest != doc.first_reached_at;
            doc.first_reached_at = earliest;
            moved
        }
        PurchaseEvent::Approved(_) | PurchaseEvent::Cancelled(_) if doc.resolved_at.is_none() => {
            doc.resolved_at = Some(took_place_at(decoded, event.recorded_at, None));
            if matches!(decoded, PurchaseEvent::Cancelled(_)) {
                doc.resolution = Some(PurchaseStatus::Cancelled);
                doc.call_and_alternative_first = doc.call_before_cancel.honoured();
            } else {
                doc.resolution = Some(PurchaseStatus::Approved);
            }
            true
        }
        _ => false,
    };
    changed || rule_changed
}

/// A purchase's history as the log records it, for the tests of the readers of purchase
/// events (this projection, the replay).
#[cfg(test)]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests;
