//! A purchase as IT, auditors and its finance system see it.

use chrono::{DateTime, Utc};
use eventlog::RecordedEvent;
use events::audience::Audience;
use events::clocks::SlaStatus;
use events::district::District;
use events::gate::{
    AlternativeProposed, CallLogged, Decision, PurchaseApproved, PurchaseCancelled, PurchaseLine,
    PurchaseStatus, Reason,
};
use events::values::{
    Currency, Email, ExternalRef, LongText, Mcc, Money, PaymentMethod, SchoolId, ShortText,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use crate::domain::Purchase;

/// Who did something, and when.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// The event's position in the log.
    pub sequence: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub at: DateTime<Utc>,
    /// Who did it (the JWT subject); to a finance system, IT's people are their role.
    pub actor: String,
    pub actor_role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    #[serde(flatten)]
    pub call: CallLogged,
    pub logged_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlternativeView {
    #[serde(flatten)]
    pub alternative: AlternativeProposed,
    /// When the log recorded it (`occurred_at`, when given, is when it was proposed).
    pub proposed_at: DateTime<Utc>,
    pub accepted: bool,
}

/// A purchase: what was asked, what the gate decided and why, and what IT did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseView {
    pub purchase_id: Uuid,
    pub status: PurchaseStatus,
    pub external_ref: ExternalRef,
    pub school_id: SchoolId,
    pub requester_email: Email,
    pub vendor: ShortText,
    pub payment_method: PaymentMethod,
    pub merchant_category_code: Option<Mcc>,
    pub currency: Currency,
    pub lines: Vec<PurchaseLine>,
    pub purpose: Option<LongText>,
    pub total: Money,
    pub submitted_by: String,
    /// When the log recorded the check.
    pub submitted_at: DateTime<Utc>,
    /// When the requester asked for the purchase, for a check sent after the fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub policy_version: u64,
    pub school_gated: bool,
    /// When the gate flagged it (held or advisory): when it decided, or for a check sent after
    /// the fact, when the purchase was requested. The clocks run from then.
    pub flagged_at: Option<DateTime<Utc>>,
    pub calls: Vec<CallView>,
    pub alternatives: Vec<AlternativeView>,
    pub approval: Option<PurchaseApproved>,
    pub cancellation: Option<PurchaseCancelled>,
    /// When IT approved or cancelled it: the decision's `occurred_at`, else when the log
    /// recorded it.
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether IT may cancel it now (a held purchase after a reached call and an alternative).
    pub cancellable: bool,
    /// Its clocks in business time, for a held or advisory purchase once the district has
    /// targets: due times, state, business minutes left.
    pub sla: Option<SlaStatus>,
    pub timeline: Vec<TimelineEntry>,
    /// The purchase stream's version.
    pub version: u64,
}

impl PurchaseView {
    /// The view as `audience` may read it, by the rule the feed applies to the same events
    /// (`events::audience`): a finance system reads neither whom IT spoke with nor a call's
    /// notes, and reads IT's people by their role only.
    pub(crate) fn shown_to(mut self, audience: &Audience) -> Result<serde_json::Value, ApiError> {
        for entry in &mut self.timeline {
            if !audience.names_actor(&entry.actor_role) {
                entry.actor.clone_from(&entry.actor_role);
            }
        }
        audience.shown(&self).map_err(ApiError::internal)
    }
}

/// The purchase as it stands at `now`, its clocks in `district`'s calendar.
pub(crate) fn view(
    purchase: Purchase,
    records: &[RecordedEvent],
    district: &District,
    now: DateTime<Utc>,
) -> Result<PurchaseView, ApiError> {
    let cancellable = purchase.can_cancel().is_ok();
    let sla = purchase.clocks.status(district, now);
    let (Some(s), Some(d), Some(status), Some(submitted_at)) =
        (purchase.submission, purchase.decision, purchase.status, purchase.submitted_at)
    else {
        return Err(ApiError::internal("a purchase stream without its submission and decision"));
    };
    Ok(PurchaseView {
        purchase_id: s.purchase_id,
        status,
        external_ref: s.external_ref,
        school_id: s.school_id,
        requester_email: s.requester_email,
        vendor: s.vendor,
        payment_method: s.payment_method,
        merchant_category_code: s.merchant_category_code,
        currency: s.currency,
        lines: s.lines,
        purpose: s.purpose,
        total: s.total,
        submitted_by: s.submitted_by,
        submitted_at,
        requested_at: s.requested_at,
        decision: d.decision,
        reasons: d.reasons,
        policy_version: d.policy_version,
        school_gated: d.school_gated,
        flagged_at: purchase.flagged_at,
        calls: purchase
            .calls
            .into_iter()
            .map(|c| CallView { call: c.call, logged_at: c.logged_at })
            .collect(),
        alternatives: purchase
            .alternatives
            .into_iter()
            .map(|a| AlternativeView {
                alternative: a.proposal,
                proposed_at: a.proposed_at,
                accepted: a.accepted,
            })
            .collect(),
        approval: purchase.approval,
        cancellation: purchase.cancellation,
        closed_at: purchase.closed_at,
        cancellable,
        sla,
        timeline: records
            .iter()
            .map(|r| TimelineEntry {
                sequence: r.position,
                event_type: r.event_type.clone(),
                at: r.recorded_at,
                actor: r.metadata.actor.subject.clone(),
                actor_role: r.metadata.actor.role.clone(),
            })
            .collect(),
        version: purchase.version,
    })
}
