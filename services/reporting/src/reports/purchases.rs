//! The purchase projection (`reporting.purchases`) that four reports share: what each purchase
//! check and IT's work on it mean for the figures.
//!
//! - `reporting.purchases.held`: one [`HeldDoc`] per **held** purchase: the flag, the first
//!   reached call, whether call before cancel was satisfied, the resolution. Response times
//!   read them, and the promises report the cancelled ones.
//! - `reporting.purchases.advisory`: one [`AdvisoryDoc`] per **advisory** purchase: school,
//!   vendor, total. Rogue spend reads them.
//! - `reporting.purchases.spend`: one [`SpendDoc`] per calendar month (UTC) of decisions, with
//!   the technology spend sums of the adoption report.
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
//! For the same reason `purchase-submitted` and `purchase-decided`, half of a typical log, are
//! decoded into views of the fields the reports read ([`SubmittedView`], [`DecidedView`]), with
//! the published value types (`SchoolId`, `Money`, …), rather than whole (lines, purpose,
//! reason texts are not read); the other purchase events are decoded whole.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use eventlog::{DocKey, Docs, Filter, Projection, RecordedEvent};
use events::gate::{Decision, PurchaseEvent, PurchaseStatus, ReasonCode};
use events::values::{Currency, Money, SchoolId, ShortText};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::decode;
use super::figures::month_of;

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.purchases";
/// One document per held purchase: [`HeldDoc`].
pub const HELD: &str = "reporting.purchases.held";
/// One document per advisory purchase: [`AdvisoryDoc`].
pub const ADVISORY: &str = "reporting.purchases.advisory";
/// One document per month of decisions: [`SpendDoc`].
pub const SPEND: &str = "reporting.purchases.spend";
/// The submissions awaiting their decision: one [`PendingDoc`] under [`PENDING_KEY`].
pub const PENDING: &str = "reporting.purchases.pending";
/// The key of the one pending document.
pub const PENDING_KEY: &str = "awaiting-decision";

/// What the reports read of a `purchase-submitted` (`events::gate::PurchaseSubmitted`).
#[derive(Debug, Deserialize)]
pub struct SubmittedView {
    pub school_id: SchoolId,
    pub vendor: ShortText,
    pub currency: Currency,
    pub total: Money,
}

/// What the reports read of a `purchase-decided` (`events::gate::PurchaseDecided`).
#[derive(Debug, Deserialize)]
pub struct DecidedView {
    pub decision: Decision,
    pub reasons: Vec<ReasonView>,
    pub school_gated: bool,
}

/// A decision's reason, without its text.
#[derive(Debug, Deserialize)]
pub struct ReasonView {
    pub code: ReasonCode,
}

/// A view of an event's data, or `None` (logged) when it does not match.
fn view<T: DeserializeOwned>(event: &RecordedEvent) -> Option<T> {
    match T::deserialize(&event.data) {
        Ok(view) => Some(view),
        Err(error) => {
            tracing::warn!(
                projection = NAME,
                position = event.position,
                event_type = %event.event_type,
                %error,
                "skipping an event whose data does not match its schema"
            );
            None
        }
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
}

/// A held purchase. Unset and false fields are left out of the stored JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeldDoc {
    pub school_id: String,
    /// The log sequence of the decision.
    pub decided_sequence: u64,
    /// When the log recorded the decision: when the purchase was flagged.
    pub flagged_at: Option<DateTime<Utc>>,
    /// When the first call that reached the requester took place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_reached_at: Option<DateTime<Utc>>,
    /// A call reached the requester, recorded their goal, and took place at or after the flag
    /// (what call before cancel asks for).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reached_call: bool,
    /// An alternative was proposed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub alternative: bool,
    /// When the log recorded the approval or cancellation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// `approved` or `cancelled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<PurchaseStatus>,
    /// At a cancellation: whether a reached call and an alternative came first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_and_alternative_first: Option<bool>,
}

/// An advisory purchase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryDoc {
    pub school_id: String,
    pub vendor: String,
    pub currency: String,
    pub total_cents: i64,
}

/// The purchase checks decided in one month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpendDoc {
    pub month: String,
    pub by_currency: BTreeMap<String, SpendSums>,
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

/// Keeps [`HELD`], [`ADVISORY`], [`SPEND`] and [`PENDING`].
#[derive(Debug, Default)]
pub struct Purchases;

impl Projection for Purchases {
    fn name(&self) -> &str {
        NAME
    }

    fn filter(&self) -> Filter {
        // Accepting an alternative changes nothing here (it is followed by the approval).
        Filter::all().with_types([
            "purchase-submitted",
            "purchase-decided",
            "call-logged",
            "alternative-proposed",
            "purchase-approved",
            "purchase-cancelled",
        ])
    }

    fn collections(&self) -> Vec<String> {
        [HELD, ADVISORY, SPEND, PENDING].map(String::from).to_vec()
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        let id = event.stream_id();
        let pending = || DocKey::new(PENDING, PENDING_KEY);
        match event.event_type.as_str() {
            "purchase-submitted" => vec![pending()],
            "purchase-decided" => {
                let mut keys = vec![pending(), DocKey::new(SPEND, month_of(event.recorded_at))];
                // Only a flagged purchase gets a document of its own.
                match event.data["decision"].as_str() {
                    Some("held") => keys.push(DocKey::new(HELD, id)),
                    Some("advisory") => keys.push(DocKey::new(ADVISORY, id)),
                    _ => {}
                }
                keys
            }
            // Calls, alternatives and resolutions matter for held purchases only.
            _ => vec![DocKey::new(HELD, id)],
        }
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let id = event.stream_id();
        match event.event_type.as_str() {
            "purchase-submitted" => {
                let Some(s) = view::<SubmittedView>(event) else { return Ok(()) };
                let mut pending =
                    docs.get_as::<PendingDoc>(PENDING, PENDING_KEY).unwrap_or_default();
                let check = PendingCheck {
                    school_id: s.school_id.to_string(),
                    vendor: s.vendor.to_string(),
                    currency: s.currency.to_string(),
                    total_cents: s.total.cents(),
                };
                pending.checks.insert(id.to_owned(), check);
                docs.put_as(PENDING, PENDING_KEY, &pending);
                Ok(())
            }
            "purchase-decided" => {
                let Some(d) = view::<DecidedView>(event) else { return Ok(()) };
                decided(event, &d, docs);
                Ok(())
            }
            _ => {
                let Some(decoded) = decode::<PurchaseEvent>(NAME, event) else { return Ok(()) };
                // Not held (approved at once, advisory, or unknown): nothing to record.
                let Some(mut doc) = docs.get_as::<HeldDoc>(HELD, id) else { return Ok(()) };
                if follow_up(event, &decoded, &mut doc) {
                    docs.put_as(HELD, id, &doc);
                }
                Ok(())
            }
        }
    }
}

/// A decision: the month's spend, and a document for a flagged purchase.
fn decided(event: &RecordedEvent, d: &DecidedView, docs: &mut Docs) {
    let id = event.stream_id();
    let mut pending = docs.get_as::<PendingDoc>(PENDING, PENDING_KEY).unwrap_or_default();
    // Decided twice, or without a submission: nothing to count.
    let Some(check) = pending.checks.remove(id) else { return };
    if pending.checks.is_empty() {
        docs.remove(PENDING, PENDING_KEY);
    } else {
        docs.put_as(PENDING, PENDING_KEY, &pending);
    }
    let month = month_of(event.recorded_at);
    let mut spend = docs
        .get_as::<SpendDoc>(SPEND, &month)
        .unwrap_or_else(|| SpendDoc { month: month.clone(), ..SpendDoc::default() });
    let sums = spend.by_currency.entry(check.currency.clone()).or_default();
    sums.checks += 1;
    if d.reasons.iter().any(|r| r.code != ReasonCode::NotTechnology) {
        sums.technology_checks += 1;
        sums.technology_cents += check.total_cents;
        if d.school_gated {
            sums.gated_checks += 1;
            sums.gated_cents += check.total_cents;
        }
    }
    docs.put_as(SPEND, &month, &spend);
    match d.decision {
        Decision::Approved => {}
        Decision::Held => {
            let doc = HeldDoc {
                school_id: check.school_id,
                decided_sequence: event.position,
                flagged_at: Some(event.recorded_at),
                ..HeldDoc::default()
            };
            docs.put_as(HELD, id, &doc);
        }
        Decision::Advisory => {
            let doc = AdvisoryDoc {
                school_id: check.school_id,
                vendor: check.vendor,
                currency: check.currency,
                total_cents: check.total_cents,
            };
            docs.put_as(ADVISORY, id, &doc);
        }
    }
}

/// IT's work on a held purchase; whether the document changed.
fn follow_up(event: &RecordedEvent, decoded: &PurchaseEvent, doc: &mut HeldDoc) -> bool {
    match decoded {
        PurchaseEvent::CallLogged(c) if c.requester_reached => {
            doc.first_reached_at.get_or_insert(c.occurred_at);
            let after_flag = doc.flagged_at.is_some_and(|f| c.occurred_at >= f);
            doc.reached_call |= c.goal.is_some() && after_flag;
            true
        }
        PurchaseEvent::AlternativeProposed(_) => {
            doc.alternative = true;
            true
        }
        PurchaseEvent::Approved(_) | PurchaseEvent::Cancelled(_) if doc.resolved_at.is_none() => {
            doc.resolved_at = Some(event.recorded_at);
            if matches!(decoded, PurchaseEvent::Cancelled(_)) {
                doc.resolution = Some(PurchaseStatus::Cancelled);
                doc.call_and_alternative_first = Some(doc.reached_call && doc.alternative);
            } else {
                doc.resolution = Some(PurchaseStatus::Approved);
            }
            true
        }
        _ => false,
    }
}
