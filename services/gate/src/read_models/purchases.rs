//! `gate.purchases`: one summary per purchase, for the purchase list and the held queue.

use chrono::{DateTime, Utc};
use events::Published;
use events::clocks::{PurchaseClocks, took_place_at};
use events::gate::{PurchaseEvent, PurchaseStatus};
use events::rules::first_reached;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
    /// When the gate flagged it (held or advisory): when it decided, or for a check sent after
    /// the fact, when the purchase was requested.
    pub flagged_at: Option<DateTime<Utc>>,
    /// Calls logged.
    pub calls: u32,
    /// When the requester was first reached: the earliest call that reached them, in whatever
    /// order the calls were logged.
    pub first_reached_at: Option<DateTime<Utc>>,
    pub alternatives: u32,
    /// When it was approved or cancelled after review (the decision's `occurred_at`, else when
    /// the log recorded it).
    pub resolved_at: Option<DateTime<Utc>>,
    /// The log position of its submission: the queue's order.
    pub sequence: u64,
    pub updated_at: DateTime<Utc>,
}

/// A purchase's document: its summary, and its clocks' facts (the list computes `sla` from
/// them with the district's calendar and the time of the request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseDoc {
    #[serde(flatten)]
    pub summary: PurchaseSummary,
    /// Absent in documents written before the clocks: `procgate rebuild` fills it in.
    #[serde(default)]
    pub clocks: PurchaseClocks,
}

/// Keeps `gate.purchases`.
#[derive(Debug, Default)]
pub struct Purchases;

impl ReadModel for Purchases {
    const NAME: &'static str = "gate.purchases";
    /// 2: `first_reached_at` is the earliest reached call, not the first logged. 3: a purchase
    /// is not requested after the log recorded its check (`events::clocks::requested`).
    const VERSION: u64 = 3;
    type Doc = PurchaseDoc;

    const CATEGORIES: &'static [&'static str] = &[events::gate::PURCHASE_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, PurchaseDoc>) -> Applied {
        let Published::Purchase(decoded) = event.event else { return Ok(()) };
        let key = event.stream_id();
        let at = event.recorded_at;
        if let PurchaseEvent::Submitted(s) = decoded {
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
            let mut clocks = PurchaseClocks::default();
            clocks.apply(decoded, at);
            docs.put(key, &PurchaseDoc { summary, clocks });
            return Ok(());
        }
        let Some(PurchaseDoc { mut summary, mut clocks }) = docs.get(key) else {
            return Err(format!("{} before purchase-submitted", event.event_type));
        };
        clocks.apply(decoded, at);
        let took_place = took_place_at(decoded, at, clocks.requested_at());
        if let Some(status) = PurchaseStatus::after(Some(summary.status), decoded) {
            summary.status = status;
        }
        match decoded {
            PurchaseEvent::Submitted(_) => {}
            PurchaseEvent::Decided(d) => {
                summary.reasons = d.reasons.iter().map(|r| r.code.as_str().to_owned()).collect();
                if d.decision.flags() {
                    summary.flagged_at = Some(took_place);
                }
            }
            PurchaseEvent::CallLogged(_) => {
                summary.calls += 1;
                summary.first_reached_at = first_reached(summary.first_reached_at, decoded);
            }
            PurchaseEvent::AlternativeProposed(_) => summary.alternatives += 1,
            // The clocks keep the wait; the summary shows it through `sla.paused`.
            PurchaseEvent::AlternativeAccepted(_) | PurchaseEvent::WaitingOnRequester(_) => {}
            PurchaseEvent::Approved(_) | PurchaseEvent::Cancelled(_) => {
                summary.resolved_at = Some(took_place);
            }
        }
        summary.updated_at = at;
        docs.put(key, &PurchaseDoc { summary, clocks });
        Ok(())
    }
}
