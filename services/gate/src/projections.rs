//! The gate's read models, kept by projections in the store's database.
//!
//! - `gate.purchases`: one summary per purchase, for the purchase list and the held queue.
//! - `gate.schools`: each school's registration and agreement, from the `school-…` streams the
//!   stakeholder relations service writes.
//!
//! A purchase check never relies on these for its decision: it reads the school's and the
//! standards' streams themselves, so a change acknowledged before the check is always seen
//! whatever the projections' lag. Reads of the lists wait until the projection has caught up
//! with the log's head, so a list read after a check shows it.

use chrono::{DateTime, Utc};
use eventlog::{DocKey, Docs, Filter, Projection, RecordedEvent};
use events::gate::{PurchaseEvent, PurchaseStatus};
use events::school::{SchoolEvent, SchoolStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub const PURCHASES: &str = "gate.purchases";
pub const SCHOOLS: &str = "gate.schools";

/// A purchase as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseSummary {
    pub purchase_id: Uuid,
    pub external_ref: String,
    pub school_id: String,
    pub requester_email: String,
    pub vendor: String,
    #[schema(value_type = String, example = "1499.00")]
    pub total: String,
    pub currency: String,
    pub status: PurchaseStatus,
    /// The reason codes of the decision.
    pub reasons: Vec<String>,
    /// The finance system that asked (JWT subject).
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    /// When the gate flagged it (held or advisory).
    pub flagged_at: Option<DateTime<Utc>>,
    /// Calls logged, and when the requester was first reached.
    pub calls: u32,
    pub first_reached_at: Option<DateTime<Utc>>,
    pub alternatives: u32,
    /// When it was approved or cancelled after review.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The log position of its submission: the queue's order.
    pub sequence: u64,
    pub updated_at: DateTime<Utc>,
}

/// Keeps `gate.purchases`.
#[derive(Debug, Default)]
pub struct Purchases;

impl Projection for Purchases {
    fn name(&self) -> &str {
        PURCHASES
    }

    fn filter(&self) -> Filter {
        Filter::categories([events::gate::PURCHASE_CATEGORY])
    }

    fn collections(&self) -> Vec<String> {
        vec![PURCHASES.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new(PURCHASES, event.stream_id())]
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let decoded =
            PurchaseEvent::from_parts(&event.event_type, &event.data).map_err(|e| e.to_string())?;
        let key = event.stream_id();
        let at = event.recorded_at;
        if let PurchaseEvent::Submitted(s) = &decoded {
            let summary = PurchaseSummary {
                purchase_id: s.purchase_id,
                external_ref: s.external_ref.to_string(),
                school_id: s.school_id.to_string(),
                requester_email: s.requester_email.to_string(),
                vendor: s.vendor.to_string(),
                total: s.total.to_string(),
                currency: s.currency.to_string(),
                status: PurchaseStatus::Approved,
                reasons: vec![],
                submitted_by: s.submitted_by.clone(),
                submitted_at: at,
                flagged_at: None,
                calls: 0,
                first_reached_at: None,
                alternatives: 0,
                resolved_at: None,
                sequence: event.position,
                updated_at: at,
            };
            docs.put_as(PURCHASES, key, &summary);
            return Ok(());
        }
        let Some(mut summary) = docs.get_as::<PurchaseSummary>(PURCHASES, key) else {
            return Err(format!("{} before purchase-submitted", event.event_type));
        };
        match decoded {
            PurchaseEvent::Submitted(_) => {}
            PurchaseEvent::Decided(d) => {
                summary.status = d.decision.into();
                summary.reasons = d.reasons.iter().map(|r| r.code.as_str().to_owned()).collect();
                if summary.status != PurchaseStatus::Approved {
                    summary.flagged_at = Some(at);
                }
            }
            PurchaseEvent::CallLogged(c) => {
                summary.calls += 1;
                if c.requester_reached && summary.first_reached_at.is_none() {
                    summary.first_reached_at = Some(c.occurred_at);
                }
            }
            PurchaseEvent::AlternativeProposed(_) => summary.alternatives += 1,
            PurchaseEvent::AlternativeAccepted(_) => {}
            PurchaseEvent::Approved(_) => {
                summary.status = PurchaseStatus::Approved;
                summary.resolved_at = Some(at);
            }
            PurchaseEvent::Cancelled(_) => {
                summary.status = PurchaseStatus::Cancelled;
                summary.resolved_at = Some(at);
            }
        }
        summary.updated_at = at;
        docs.put_as(PURCHASES, key, &summary);
        Ok(())
    }
}

/// A school as the gate knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolDoc {
    pub school_id: String,
    pub status: SchoolStatus,
}

/// Keeps `gate.schools`.
#[derive(Debug, Default)]
pub struct Schools;

impl Projection for Schools {
    fn name(&self) -> &str {
        SCHOOLS
    }

    fn filter(&self) -> Filter {
        Filter::categories([events::school::SCHOOL_CATEGORY])
    }

    fn collections(&self) -> Vec<String> {
        vec![SCHOOLS.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new(SCHOOLS, event.stream_id())]
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let decoded =
            SchoolEvent::from_parts(&event.event_type, &event.data).map_err(|e| e.to_string())?;
        let key = event.stream_id();
        let mut doc = docs.get_as::<SchoolDoc>(SCHOOLS, key).unwrap_or_else(|| SchoolDoc {
            school_id: key.to_owned(),
            status: SchoolStatus::default(),
        });
        doc.status.apply(&decoded);
        docs.put_as(SCHOOLS, key, &doc);
        Ok(())
    }
}
