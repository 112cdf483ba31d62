//! The purchase projection (`reporting.purchases`) that four reports share: what each purchase
//! check and IT's work on it mean for the figures.
//!
//! - `reporting.purchases.held`: one [`HeldDoc`] per **held** purchase: the flag, the first
//!   reached call, call before cancel (the published fold, [`CallBeforeCancel`], so the report
//!   judges a cancellation as the gate does), the resolution: what a later event of the
//!   purchase needs to know to count in [`HELD_BY_DAY`]. No report reads them.
//! - `reporting.purchases.advisory_by_day`: the advisory purchases' figures as a
//!   [rollup](super::rollup): [`DaySpend`] by the district's day the purchase was asked about (in
//!   the calendar in force at its decision) and school, per currency, by vendor and amount band,
//!   one partition per UTC day the log recorded the decisions on. Rogue spend reads these.
//! - `reporting.purchases.held_by_day`: the held purchases' figures as a [rollup](super::rollup):
//!   [`HeldFigures`] by the district's day of the flag and school (held, approved, cancelled,
//!   business time to the first reached call and to the resolution, cancellations with and
//!   without a reached call and an alternative first), one partition per UTC day the log
//!   recorded them on. The response-times and promises reports read these, not the purchases.
//! - `reporting.purchases.district`: the `district-settings` events ([`DistrictDoc`]), so that
//!   the day of a flag and the business time are measured in the calendar in force when they
//!   happen.
//! - `reporting.purchases.spend`: the technology spend sums of the adoption report, by the
//!   district's day the purchases were asked about (in its time zone when the gate decided)
//!   and currency: one [`SpendDoc`] per UTC day the log recorded the decisions on (a
//!   partition, as a [rollup](super::rollup)'s), so the report reads a document a day.
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
use events::rules::CallBeforeCancel;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};

use super::clocks::DistrictDoc;
use super::rogue_spend::{self, DaySpend, Spent};
use super::rollup::{DistrictMemo, Durations, Rollup, Sum, partition_key};

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.purchases";
/// One document per held purchase: [`HeldDoc`].
pub const HELD: &str = "reporting.purchases.held";
/// A collection of documents this projection no longer keeps (one per advisory purchase, which
/// nothing read): listed among its collections so that a rebuild clears it.
const RETIRED_ADVISORY: &str = "reporting.purchases.advisory";
/// The advisory purchases' figures: one [`Rollup<DaySpend>`] per UTC day of decisions.
pub const ADVISORY_BY_DAY: &str = "reporting.purchases.advisory_by_day";
/// One document per UTC day of decisions: [`SpendDoc`].
pub const SPEND: &str = "reporting.purchases.spend";
/// The submissions awaiting their decision: one [`PendingDoc`] under [`PENDING_KEY`].
pub const PENDING: &str = "reporting.purchases.pending";
/// The key of the one pending document.
pub const PENDING_KEY: &str = "awaiting-decision";
/// The held purchases' figures: one [`Rollup<HeldFigures>`] per UTC day of changes.
pub const HELD_BY_DAY: &str = "reporting.purchases.held_by_day";
/// The district's settings: one [`DistrictDoc`] under [`DISTRICT_KEY`].
pub const DISTRICT: &str = "reporting.purchases.district";
pub use super::clocks::DISTRICT_KEY;

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
    /// When the first call that reached the requester took place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_reached_at: Option<DateTime<Utc>>,
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

/// The purchase checks whose decisions the log recorded on one UTC day (the partition), by
/// the district's day they were asked about and currency.
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

/// Keeps [`HELD`] (its documents), [`HELD_BY_DAY`], [`ADVISORY_BY_DAY`],
/// [`SPEND`], [`PENDING`] and [`DISTRICT`].
#[derive(Debug, Default)]
pub struct Purchases {
    district: DistrictMemo,
}

impl Purchases {
    /// The district in force: its settings as the log has them so far.
    fn district(
        &self,
        docs: &mut Documents<'_, HeldDoc>,
        event: &Recorded<'_>,
    ) -> Result<std::sync::Arc<District>, String> {
        self.district.in_force(docs, DISTRICT, event)
    }
}

impl ReadModel for Purchases {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = HELD;
    const SKIP_UNDECODABLE: bool = true;
    /// 2: keeps the held and advisory purchases' rollups ([`HELD_BY_DAY`],
    /// [`ADVISORY_BY_DAY`]) and the district; spend by the district's day.
    const VERSION: u64 = 2;
    type Doc = HeldDoc;

    fn collections(&self) -> Vec<&'static str> {
        vec![HELD, HELD_BY_DAY, ADVISORY_BY_DAY, SPEND, PENDING, DISTRICT, RETIRED_ADVISORY]
    }

    fn filter(&self) -> Filter {
        // Accepting an alternative changes nothing here (it is followed by the approval).
        let mut types = vec![
            "purchase-submitted",
            "purchase-decided",
            "call-logged",
            "alternative-proposed",
            "purchase-approved",
            "purchase-cancelled",
        ];
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
        let pending = || DocKey::new(PENDING, PENDING_KEY);
        let rollup = || DocKey::new(HELD_BY_DAY, partition_key(event.recorded_at));
        match purchase {
            PurchaseEvent::Submitted(_) => vec![pending()],
            PurchaseEvent::Decided(d) => {
                let spend = DocKey::new(SPEND, partition_key(event.recorded_at));
                let mut keys = vec![pending(), spend, district()];
                match d.decision {
                    Decision::Advisory => {
                        keys.push(DocKey::new(ADVISORY_BY_DAY, partition_key(event.recorded_at)));
                    }
                    Decision::Held => keys.push(rollup()),
                    Decision::Approved => {}
                }
                keys
            }
            PurchaseEvent::CallLogged(_)
            | PurchaseEvent::Approved(_)
            | PurchaseEvent::Cancelled(_) => vec![district(), rollup()],
            _ => vec![],
        }
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, HeldDoc>,
    ) -> Result<(), String> {
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
                let district = self.district(docs, event)?;
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
            figures(event, docs)?.entry(day, &doc.school_id).held += 1;
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
    let key = partition_key(event.recorded_at);
    let rollup = docs.entry_in::<Rollup<DaySpend>>(ADVISORY_BY_DAY, &key, event)?;
    let spent =
        Spent { currency: &check.currency, vendor: &check.vendor, cents: check.total_cents };
    rogue_spend::count(rollup, day, &check.school_id, spent, 1);
    Ok(())
}

/// The partition of the held purchases' figures this event counts in.
fn figures<'d>(
    event: &Recorded<'_>,
    docs: &'d mut Documents<'_, HeldDoc>,
) -> Result<&'d mut Rollup<HeldFigures>, String> {
    docs.entry_in(HELD_BY_DAY, &partition_key(event.recorded_at), event)
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
        let reached = doc.first_reached_at.filter(|_| before.first_reached_at.is_none());
        let resolved = doc.resolved_at.filter(|_| before.resolved_at.is_none());
        let Some(flagged_at) = doc.flagged_at.filter(|_| reached.is_some() || resolved.is_some())
        else {
            return Ok(());
        };
        let district = self.district(docs, event)?;
        count(event, doc, flagged_at, reached, resolved, &district, docs)
    }
}

/// Counts a held purchase's first reached call and resolution on its day.
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
    let figures = figures(event, docs)?.entry(day, &doc.school_id);
    if let Some(at) = reached {
        figures.to_first_reached_call.add(business(at));
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
    Ok(())
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
    let spend: &mut SpendDoc = docs.entry_in(SPEND, &partition_key(event.recorded_at), event)?;
    let day = spend.by_day.entry(district.calendar.today(asked_at)).or_default();
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
        PurchaseEvent::CallLogged(c) if c.requester_reached => {
            doc.first_reached_at.get_or_insert(c.occurred_at);
            true
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
pub(crate) mod fixtures {
    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeDelta, Utc};
    use eventlog::{Actor, DocKey, Metadata, RecordedEvent};
    use events::calendar::{BusinessHours, ClockTime, DistrictCalendar, TimeZoneName, Weekday};
    use events::district::{ClosureAdded, District, DistrictEvent, DistrictSet};
    use kernel::ReadModel;

    use super::{ADVISORY_BY_DAY, HELD, HELD_BY_DAY, HeldDoc, HeldFigures, Purchases};
    use crate::reports::rogue_spend::DaySpend;
    use crate::reports::rollup::Rollup;
    use events::gate::{
        AlternativeProposed, CallLogged, Decision, PurchaseCancelled, PurchaseDecided,
        PurchaseEvent, PurchaseLine, PurchaseSubmitted, purchase_stream,
    };
    use events::values::{
        Category, Currency, Email, ExternalRef, LongText, Money, PaymentMethod, Quantity, SchoolId,
        ShortText,
    };
    use uuid::Uuid;

    /// 2024-09-02T09:00:00Z plus `minutes`.
    pub fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_725_267_600, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    pub fn long(s: &str) -> LongText {
        LongText::parse(s).unwrap()
    }

    pub fn submitted(id: Uuid) -> PurchaseEvent {
        let line = PurchaseLine {
            sku: None,
            description: ShortText::parse("Gaming laptop").unwrap(),
            category: Category::parse("laptops").unwrap(),
            quantity: Quantity::new(1).unwrap(),
            unit_price: Money::parse("2499.00").unwrap(),
        };
        PurchaseSubmitted {
            purchase_id: id,
            external_ref: ExternalRef::parse("REQ-1").unwrap(),
            idempotency_key: None,
            submitted_by: "finance-erp".into(),
            request_hash: "ab".repeat(32),
            school_id: SchoolId::parse("lincoln-elem").unwrap(),
            requester_email: Email::parse("pat@district.org").unwrap(),
            vendor: ShortText::parse("Gadget Barn").unwrap(),
            payment_method: PaymentMethod::PCard,
            merchant_category_code: None,
            currency: Currency::parse("USD").unwrap(),
            lines: vec![line],
            purpose: None,
            total: Money::parse("2499.00").unwrap(),
            requested_at: None,
        }
        .into()
    }

    pub fn held() -> PurchaseEvent {
        PurchaseDecided {
            decision: Decision::Held,
            reasons: vec![],
            policy_version: 4,
            school_gated: true,
        }
        .into()
    }

    /// A call that reached the requester, took place `minutes` after t0, with or without the
    /// goal.
    pub fn reached(minutes: i64, goal: bool) -> PurchaseEvent {
        CallLogged {
            call_id: Uuid::from_u128(minutes.unsigned_abs().into()),
            requester_reached: true,
            goal: goal.then(|| long("Laptops for the robotics club")),
            notes: None,
            occurred_at: at(minutes),
            spoke_with: None,
        }
        .into()
    }

    pub fn alternative() -> PurchaseEvent {
        AlternativeProposed {
            alternative_id: Uuid::from_u128(7),
            description: long("The standard model"),
            lines: vec![],
            call_id: None,
            assessment: None,
            occurred_at: None,
        }
        .into()
    }

    pub fn cancelled() -> PurchaseEvent {
        PurchaseCancelled { reason: long("Not needed"), occurred_at: None }.into()
    }

    pub fn approved() -> PurchaseEvent {
        events::gate::PurchaseApproved { note: None, alternative_id: None, occurred_at: None }
            .into()
    }

    /// [`submitted`] at another school.
    pub fn submitted_at(id: Uuid, school: &str) -> PurchaseEvent {
        match submitted(id) {
            PurchaseEvent::Submitted(mut s) => {
                s.school_id = SchoolId::parse(school).unwrap();
                s.into()
            }
            _ => unreachable!("submitted() is a submission"),
        }
    }

    /// The scope a property test asks for: from `from` days after t0 (open without), for
    /// `length` days more (open without), in `calendar`, with Adams named.
    pub fn generated_scope(
        from: Option<i64>,
        length: Option<i64>,
        calendar: DistrictCalendar,
    ) -> crate::reports::Scope {
        let t0 = at(0).date_naive();
        let from = from.map(|d| t0 + TimeDelta::days(d));
        let to = from.zip(length).map(|(f, l)| f + TimeDelta::days(l));
        crate::reports::Scope {
            period: crate::reports::ReportPeriod::between(from, to),
            calendar,
            names: [("adams", "Adams")].into(),
        }
    }

    /// A district working around the clock, every day, in UTC: business time is wall time.
    pub fn always_settings() -> Vec<DistrictEvent> {
        let hours = BusinessHours::new(
            ClockTime::parse("00:00").unwrap(),
            ClockTime::END_OF_DAY,
            Weekday::ALL.to_vec(),
        )
        .unwrap();
        vec![settings("UTC", hours)]
    }

    /// Chicago, 08:00 to 16:30 on weekdays, closed on Labor Day (Monday 2024-09-02).
    pub fn chicago_settings_with_labor_day() -> Vec<DistrictEvent> {
        let hours = BusinessHours::new(
            ClockTime::parse("08:00").unwrap(),
            ClockTime::parse("16:30").unwrap(),
            Weekday::ALL[..5].to_vec(),
        )
        .unwrap();
        let labor_day = ClosureAdded {
            date: "2024-09-02".parse().unwrap(),
            reason: ShortText::parse("Labor Day").unwrap(),
        };
        vec![settings("America/Chicago", hours), labor_day.into()]
    }

    /// 08:00 to 16:30 on weekdays in `zone` (`Pacific/Kiritimati`, say: 14 hours ahead of UTC).
    pub fn office_settings(zone: &str) -> Vec<DistrictEvent> {
        let hours = BusinessHours::new(
            ClockTime::parse("08:00").unwrap(),
            ClockTime::parse("16:30").unwrap(),
            Weekday::ALL[..5].to_vec(),
        )
        .unwrap();
        vec![settings(zone, hours)]
    }

    fn settings(zone: &str, business_hours: BusinessHours) -> DistrictEvent {
        DistrictSet {
            name: ShortText::parse("Springfield").unwrap(),
            time_zone: TimeZoneName::parse(zone).unwrap(),
            business_hours,
            school_year_starts_in: None,
        }
        .into()
    }

    /// The calendar `settings` make.
    pub fn calendar_of(settings: &[DistrictEvent]) -> DistrictCalendar {
        let mut district = District::default();
        settings.iter().zip(1..).for_each(|(e, v)| district.apply(e, v, at(0)));
        district.calendar
    }

    /// `settings` as the `district-settings` stream, recorded 60 days before t0, from global
    /// position `first_position` on.
    pub fn district_log(first_position: u64, settings: Vec<DistrictEvent>) -> Vec<RecordedEvent> {
        settings
            .iter()
            .zip(0u64..)
            .map(|(e, i)| RecordedEvent {
                position: first_position + i,
                id: Uuid::now_v7(),
                stream: "district-settings".into(),
                version: i + 1,
                event_type: e.event_type().into(),
                data: e.to_data(),
                metadata: Metadata::new(Actor::new("admin", "admin"), "gate"),
                recorded_at: at(-60 * 24),
                hash: String::new(),
            })
            .collect()
    }

    /// Every document the purchase projection keeps after `events`, one batch per event.
    fn projected(events: &[RecordedEvent]) -> BTreeMap<DocKey, serde_json::Value> {
        kernel::testing::project(&*Purchases::default().into_projection(), events)
    }

    /// The held purchases' documents after `events`, by purchase id.
    pub fn held_documents(events: &[RecordedEvent]) -> BTreeMap<String, HeldDoc> {
        projected(events)
            .into_iter()
            .filter(|(k, _)| k.collection == HELD)
            .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
            .collect()
    }

    /// The held purchases' rollup partitions after `events`, by partition key.
    pub fn held_partitions(events: &[RecordedEvent]) -> Vec<(String, Rollup<HeldFigures>)> {
        projected(events)
            .into_iter()
            .filter(|(k, _)| k.collection == HELD_BY_DAY)
            .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
            .collect()
    }

    /// `(event, minutes after t0 it was recorded)` pairs as the purchase `id`'s stream, from
    /// global position `first_position` on.
    pub fn recorded(
        id: Uuid,
        first_position: u64,
        events: &[(PurchaseEvent, i64)],
    ) -> Vec<RecordedEvent> {
        events
            .iter()
            .zip(0u64..)
            .map(|((event, minutes), i)| RecordedEvent {
                position: first_position + i,
                id: Uuid::now_v7(),
                stream: purchase_stream(id),
                version: i + 1,
                event_type: event.event_type().into(),
                data: event.to_data(),
                metadata: Metadata::new(Actor::new("jdoe", "it_staff"), "gate"),
                recorded_at: at(*minutes),
                hash: String::new(),
            })
            .collect()
    }

    /// Targets: first contact in 60 business minutes, a decision in 480, advisory outreach in
    /// 240, a warning at half; the same for every payment method.
    pub fn sla_targets() -> DistrictEvent {
        let minutes = |n| events::district::BusinessMinutes::new(n).unwrap();
        events::district::SlaTargets {
            first_contact_minutes: minutes(60),
            decision_minutes: minutes(480),
            advisory_outreach_minutes: minutes(240),
            warn_at_percent: vec![50],
            escalate_to: None,
            by_payment_method: Default::default(),
        }
        .into()
    }

    /// The gate's `advisory` decision: IT reaches out, finance does not wait.
    pub fn advisory() -> PurchaseEvent {
        PurchaseDecided {
            decision: Decision::Advisory,
            reasons: vec![],
            policy_version: 4,
            school_gated: false,
        }
        .into()
    }

    /// A call that did not reach the requester, took place `minutes` after t0.
    pub fn unreached(minutes: i64) -> PurchaseEvent {
        CallLogged {
            call_id: Uuid::from_u128(1_000_000 + u128::from(minutes.unsigned_abs())),
            requester_reached: false,
            goal: None,
            notes: None,
            occurred_at: at(minutes),
            spoke_with: None,
        }
        .into()
    }

    /// An event of `stream` recorded at `recorded_at`; its position and version are set by
    /// [`in_log_order`].
    pub fn event_at(
        stream: String,
        event_type: &str,
        data: serde_json::Value,
        recorded_at: DateTime<Utc>,
    ) -> RecordedEvent {
        RecordedEvent {
            position: 0,
            id: Uuid::now_v7(),
            stream,
            version: 0,
            event_type: event_type.into(),
            data,
            metadata: Metadata::new(Actor::new("jdoe", "it_staff"), "stakeholders"),
            recorded_at,
            hash: String::new(),
        }
    }

    /// `events` (of any streams) as the log records them: in the order they were recorded (a
    /// stable sort: events recorded at the same time keep their order), at positions from 1,
    /// each stream's versions from 1.
    pub fn in_log_order(mut events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        events.sort_by_key(|e| e.recorded_at);
        let mut versions: BTreeMap<String, u64> = BTreeMap::new();
        for (event, position) in events.iter_mut().zip(1..) {
            event.position = position;
            let version = versions.entry(event.stream.clone()).or_default();
            *version += 1;
            event.version = *version;
        }
        events
    }

    /// [`submitted`] at `school`, from `vendor` (as spelled), for a total of `cents`.
    pub fn submitted_from(id: Uuid, school: &str, vendor: &str, cents: i64) -> PurchaseEvent {
        match submitted_at(id, school) {
            PurchaseEvent::Submitted(mut s) => {
                s.vendor = ShortText::parse(vendor).unwrap();
                s.total = Money::from_cents(cents).unwrap();
                s.into()
            }
            _ => unreachable!("submitted_at() is a submission"),
        }
    }

    /// The advisory purchases' rollup partitions after `events`, by partition key.
    pub fn advisory_partitions(events: &[RecordedEvent]) -> Vec<(String, Rollup<DaySpend>)> {
        projected(events)
            .into_iter()
            .filter(|(k, _)| k.collection == ADVISORY_BY_DAY)
            .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::fixtures::*;
    use super::*;

    /// Whether the cancellation of a held purchase with `calls` (flagged at 10 minutes after
    /// t0) and an alternative counts as honouring call before cancel.
    fn honoured_with(calls: Vec<(PurchaseEvent, i64)>) -> Option<bool> {
        let id = Uuid::from_u128(1);
        let mut history = vec![(submitted(id), 10), (held(), 10)];
        history.extend(calls);
        history.extend([(alternative(), 40), (cancelled(), 50)]);
        let docs = held_documents(&recorded(id, 1, &history));
        let doc = &docs[&id.to_string()];
        assert_eq!(doc.flagged_at, Some(at(10)));
        assert_eq!(doc.resolution, Some(PurchaseStatus::Cancelled));
        doc.call_and_alternative_first
    }

    #[test]
    fn a_cancellation_after_a_reached_call_with_the_goal_and_an_alternative_is_honoured() {
        assert_eq!(honoured_with(vec![(reached(20, true), 30)]), Some(true));
    }

    #[test]
    fn a_cancellation_is_judged_by_the_gates_rule() {
        // No goal recorded, or the call took place before the flag: not what the gate asks.
        assert_eq!(honoured_with(vec![(reached(20, false), 30)]), Some(false));
        assert_eq!(honoured_with(vec![(reached(5, true), 30)]), Some(false));
        assert_eq!(honoured_with(vec![]), Some(false));
        // The first reached call is still the response time's, goal or not.
        let id = Uuid::from_u128(2);
        let history = [(submitted(id), 10), (held(), 10), (reached(20, false), 30)];
        let docs = held_documents(&recorded(id, 1, &history));
        assert_eq!(docs[&id.to_string()].first_reached_at, Some(at(20)));
    }

    #[test]
    fn a_purchase_entered_after_the_fact_counts_from_when_it_took_place() {
        // Requested three days before t0 and entered at t0, called and cancelled after the
        // fact, all entered within the hour.
        let id = Uuid::from_u128(3);
        let PurchaseEvent::Submitted(mut check) = submitted(id) else { unreachable!() };
        check.requested_at = Some(at(-3 * 24 * 60));
        let cancelled = events::gate::PurchaseCancelled {
            reason: long("Not needed"),
            occurred_at: Some(at(-2 * 24 * 60)),
        };
        let history = [
            (check.into(), 0),
            (held(), 0),
            (reached(-3 * 24 * 60 + 60, true), 10),
            (alternative(), 20),
            (cancelled.into(), 30),
        ];
        let events = recorded(id, 1, &history);
        let docs = held_documents(&events);
        let doc = &docs[&id.to_string()];
        assert_eq!(doc.flagged_at, Some(at(-3 * 24 * 60)));
        assert_eq!(doc.resolved_at, Some(at(-2 * 24 * 60)));
        assert_eq!(doc.call_and_alternative_first, Some(true));
        // Its spend counts on the day it was requested (in UTC's calendar: the district set
        // none), kept in the partition of the month the log recorded the decision in.
        let store = kernel::testing::project(&*Purchases::default().into_projection(), &events);
        let spend: SpendDoc =
            serde_json::from_value(store[&DocKey::new(SPEND, "2024-09-02")].clone()).unwrap();
        let requested = at(-3 * 24 * 60).date_naive();
        assert_eq!(spend.by_day.keys().copied().collect::<Vec<_>>(), [requested]);
        assert_eq!(spend.by_day[&requested]["USD"].technology_checks, 0);
        assert_eq!(spend.by_day[&requested]["USD"].checks, 1);
        let json = serde_json::to_value(&spend).unwrap();
        assert_eq!(serde_json::from_value::<SpendDoc>(json).unwrap(), spend, "round trips");
    }

    #[test]
    fn spend_counts_on_the_districts_day_in_its_time_zone_when_decided() {
        // Chicago: 2024-09-02T03:00Z is 22:00 on 1 September.
        let id = Uuid::from_u128(4);
        let mut events = district_log(1, chicago_settings_with_labor_day());
        events.extend(recorded(id, 5, &[(submitted(id), -6 * 60), (held(), -6 * 60)]));
        let store = kernel::testing::project(&*Purchases::default().into_projection(), &events);
        let spend: SpendDoc =
            serde_json::from_value(store[&DocKey::new(SPEND, "2024-09-02")].clone()).unwrap();
        let sunday: NaiveDate = "2024-09-01".parse().unwrap();
        assert_eq!(spend.by_day.keys().copied().collect::<Vec<_>>(), [sunday]);
    }
}
