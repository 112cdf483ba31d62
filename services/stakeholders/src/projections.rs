//! The stakeholder relations service's read models, kept from the log by projections
//! ([`eventlog::Projection`]: pure `keys` and `apply` on JSON documents, written with the
//! checkpoint in one transaction).
//!
//! | collection | key | document | from |
//! |---|---|---|---|
//! | `stakeholders.schools` | school id | [`SchoolDoc`]: name, agreement status and history, promises made to the school | `school-*`; `promise-made` to a school |
//! | `stakeholders.stakeholders` | stakeholder id | [`StakeholderDoc`]: profile, conversations, ids of their wishes, follow-ups and promises | `stakeholder-*`; `wish-recorded`, `followup-scheduled`, `promise-made` to a stakeholder |
//! | `stakeholders.wishes` | wish id | [`WishDoc`]: the wish, status, headway | `wish-*` |
//! | `stakeholders.promises` | promise id | [`PromiseDoc`]: the promise and its outcome | `promise-*` |
//! | `stakeholders.followups` | follow-up id | [`FollowUpDoc`] | `followup-*` |
//! | `stakeholders.held_purchases` | purchase id | [`HeldPurchaseDoc`]: the gate's held purchases, for answer speed and the standing promise | the gate's `purchase-*` |
//!
//! # Joins happen when reading
//!
//! A projection must name the documents an event touches from the event alone. The gate's
//! `call-logged` or `purchase-cancelled` does not name its school, and `wish-progressed` does
//! not name its stakeholder, so no projection can keep per-school or per-stakeholder totals of
//! them. Instead documents keep references (a stakeholder's wish, follow-up and promise ids; a
//! school's promise ids and agreement history with the log positions of each signing and
//! withdrawal), and two pure functions join them when the API reads:
//!
//! - [`call_before_cancel_record`]: whether a school's standing call-before-cancel promise was
//!   kept: every purchase of the school held while that agreement was in force (between the
//!   positions of its signing and its withdrawal) and then cancelled had a reached call and a
//!   proposed alternative logged before the cancellation.
//! - [`health_inputs`]: the facts [`crate::domain::health`] scores.
//!
//! `stakeholders.held_purchases` keeps only purchases the gate held (others are dropped when
//! decided), so scanning it for one school is cheap at a district's scale.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use eventlog::{DocKey, Docs, Filter, Projection, RecordedEvent};
use events::EventFamily;
use events::gate::{Decision as GateDecision, PURCHASE_CATEGORY, PurchaseEvent};
use events::school::{SCHOOL_CATEGORY, SchoolEvent};
use events::stakeholders::{
    ConversationHeld, FOLLOWUP_CATEGORY, FollowUpEvent, PROMISE_CATEGORY, Phone, PromiseEvent,
    PromiseTo, STAKEHOLDER_CATEGORY, StakeholderEvent, StakeholderRole, WISH_CATEGORY, WishEvent,
    WishProgressed, WishStatus,
};
use events::values::{Email, LongText, SchoolId, ShortText};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::health::{FollowUpFact, HealthInputs, HeldPurchaseFact, PromiseFact, WishFact};
use crate::domain::is_past_due;
use crate::domain::promise::Outcome;

pub const SCHOOLS: &str = "stakeholders.schools";
pub const STAKEHOLDERS: &str = "stakeholders.stakeholders";
pub const WISHES: &str = "stakeholders.wishes";
pub const PROMISES: &str = "stakeholders.promises";
pub const FOLLOW_UPS: &str = "stakeholders.followups";
pub const HELD_PURCHASES: &str = "stakeholders.held_purchases";

/// Every projection of the service, to spawn or rebuild.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(Schools),
        Arc::new(Stakeholders),
        Arc::new(Wishes),
        Arc::new(Promises),
        Arc::new(FollowUps),
        Arc::new(HeldPurchases),
    ]
}

fn decode<F: EventFamily>(event: &RecordedEvent) -> Result<F, String> {
    F::from_parts(&event.event_type, &event.data)
        .map_err(|e| format!("{} at {}: {e}", event.stream, event.position))
}

fn missing(collection: &str, key: &str, event: &RecordedEvent) -> String {
    format!("{} at position {}: no {collection}/{key} document", event.event_type, event.position)
}

// ---------------------------------------------------------------------------------------------
// Schools

/// Where a school's purchasing agreement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgreementStatus {
    NeverSigned,
    /// In force: the school's purchases are gated.
    Signed,
    Withdrawn,
}

/// One signing of the agreement, and its withdrawal if it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgreementRecord {
    pub principal_id: Uuid,
    pub signed_on: NaiveDate,
    /// The log position of `agreement-signed`.
    pub signed_position: u64,
    /// The standing call-before-cancel promise made with it.
    pub promise_id: Option<Uuid>,
    pub withdrawn_on: Option<NaiveDate>,
    pub withdrawal_reason: Option<LongText>,
    /// The log position of `agreement-withdrawn`.
    pub withdrawn_position: Option<u64>,
}

/// A school (`stakeholders.schools`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolDoc {
    pub school_id: SchoolId,
    pub name: ShortText,
    pub agreement_status: AgreementStatus,
    /// Every signing, oldest first; the last is the current or latest agreement.
    pub agreements: Vec<AgreementRecord>,
    /// Promises made to the school, oldest first (the standing promises included).
    pub promise_ids: Vec<Uuid>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SchoolDoc {
    /// The agreement in force, if any.
    pub fn agreement_in_force(&self) -> Option<&AgreementRecord> {
        self.agreements.last().filter(|a| a.withdrawn_on.is_none())
    }
}

/// Keeps `stakeholders.schools`.
#[derive(Debug, Default)]
pub struct Schools;

impl Projection for Schools {
    fn name(&self) -> &str {
        SCHOOLS
    }

    fn filter(&self) -> Filter {
        Filter::categories([SCHOOL_CATEGORY, PROMISE_CATEGORY])
            .with_types(SchoolEvent::EVENT_TYPES.iter().copied().chain(["promise-made"]))
    }

    fn collections(&self) -> Vec<String> {
        vec![SCHOOLS.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        if event.category() != PROMISE_CATEGORY {
            return vec![DocKey::new(SCHOOLS, event.stream_id())];
        }
        match decode::<PromiseEvent>(event) {
            Ok(PromiseEvent::Made(m)) => match m.to {
                PromiseTo::School { school_id } => vec![DocKey::new(SCHOOLS, school_id.as_str())],
                PromiseTo::Stakeholder { .. } => vec![],
            },
            _ => vec![],
        }
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let at = event.recorded_at;
        if event.category() == PROMISE_CATEGORY {
            let PromiseEvent::Made(made) = decode(event)? else { return Ok(()) };
            let PromiseTo::School { school_id } = &made.to else { return Ok(()) };
            let key = school_id.as_str();
            let mut doc = docs
                .get_as::<SchoolDoc>(SCHOOLS, key)
                .ok_or_else(|| missing(SCHOOLS, key, event))?;
            doc.promise_ids.push(made.promise_id);
            if made.is_call_before_cancel() {
                // Appended right after its agreement-signed, in the same append.
                if let Some(current) = doc
                    .agreements
                    .last_mut()
                    .filter(|a| a.withdrawn_on.is_none() && a.promise_id.is_none())
                {
                    current.promise_id = Some(made.promise_id);
                }
            }
            doc.updated_at = at;
            docs.put_as(SCHOOLS, key, &doc);
            return Ok(());
        }
        let key = event.stream_id();
        let school_event: SchoolEvent = decode(event)?;
        if let SchoolEvent::Registered(r) = &school_event {
            let doc = SchoolDoc {
                school_id: r.school_id.clone(),
                name: r.name.clone(),
                agreement_status: AgreementStatus::NeverSigned,
                agreements: vec![],
                promise_ids: vec![],
                registered_at: at,
                updated_at: at,
            };
            docs.put_as(SCHOOLS, key, &doc);
            return Ok(());
        }
        let mut doc =
            docs.get_as::<SchoolDoc>(SCHOOLS, key).ok_or_else(|| missing(SCHOOLS, key, event))?;
        match school_event {
            SchoolEvent::Registered(_) => {}
            SchoolEvent::Updated(u) => doc.name = u.name,
            SchoolEvent::AgreementSigned(s) => {
                doc.agreements.push(AgreementRecord {
                    principal_id: s.principal_id,
                    signed_on: s.signed_on,
                    signed_position: event.position,
                    promise_id: None,
                    withdrawn_on: None,
                    withdrawal_reason: None,
                    withdrawn_position: None,
                });
                doc.agreement_status = AgreementStatus::Signed;
            }
            SchoolEvent::AgreementWithdrawn(w) => {
                let current =
                    doc.agreements.last_mut().filter(|a| a.withdrawn_on.is_none()).ok_or_else(
                        || format!("agreement-withdrawn at {} without a signing", event.position),
                    )?;
                current.withdrawn_on = Some(w.withdrawn_on);
                current.withdrawal_reason = Some(w.reason);
                current.withdrawn_position = Some(event.position);
                doc.agreement_status = AgreementStatus::Withdrawn;
            }
        }
        doc.updated_at = at;
        docs.put_as(SCHOOLS, key, &doc);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Stakeholders

/// A stakeholder (`stakeholders.stakeholders`): the profile, what they said, and references to
/// what IT owes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StakeholderDoc {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    pub school_id: Option<SchoolId>,
    /// Every conversation, in the order they were recorded.
    pub conversations: Vec<ConversationHeld>,
    /// When the latest conversation was held.
    pub last_contact: Option<DateTime<Utc>>,
    pub wish_ids: Vec<Uuid>,
    pub followup_ids: Vec<Uuid>,
    /// Promises made to them personally.
    pub promise_ids: Vec<Uuid>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StakeholderDoc {
    /// Whether they are a principal of a school (the school's promises and held purchases then
    /// count towards their relationship health).
    pub fn principal_of(&self) -> Option<&SchoolId> {
        self.school_id.as_ref().filter(|_| self.role == StakeholderRole::Principal)
    }
}

/// Keeps `stakeholders.stakeholders`.
#[derive(Debug, Default)]
pub struct Stakeholders;

const STAKEHOLDER_REFERENCES: [&str; 3] = ["wish-recorded", "followup-scheduled", "promise-made"];

impl Stakeholders {
    /// The stakeholder an event is about, if it touches a stakeholder document.
    fn key(event: &RecordedEvent) -> Option<String> {
        match event.category() {
            STAKEHOLDER_CATEGORY => Some(event.stream_id().to_owned()),
            WISH_CATEGORY => match decode::<WishEvent>(event) {
                Ok(WishEvent::Recorded(r)) => Some(r.stakeholder_id.to_string()),
                _ => None,
            },
            FOLLOWUP_CATEGORY => match decode::<FollowUpEvent>(event) {
                Ok(FollowUpEvent::Scheduled(s)) => Some(s.stakeholder_id.to_string()),
                _ => None,
            },
            PROMISE_CATEGORY => match decode::<PromiseEvent>(event) {
                Ok(PromiseEvent::Made(m)) => match m.to {
                    PromiseTo::Stakeholder { stakeholder_id } => Some(stakeholder_id.to_string()),
                    PromiseTo::School { .. } => None,
                },
                _ => None,
            },
            _ => None,
        }
    }
}

impl Projection for Stakeholders {
    fn name(&self) -> &str {
        STAKEHOLDERS
    }

    fn filter(&self) -> Filter {
        Filter::categories([
            STAKEHOLDER_CATEGORY,
            WISH_CATEGORY,
            FOLLOWUP_CATEGORY,
            PROMISE_CATEGORY,
        ])
        .with_types(StakeholderEvent::EVENT_TYPES.iter().copied().chain(STAKEHOLDER_REFERENCES))
    }

    fn collections(&self) -> Vec<String> {
        vec![STAKEHOLDERS.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        Self::key(event).map(|k| DocKey::new(STAKEHOLDERS, k)).into_iter().collect()
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let Some(key) = Self::key(event) else { return Ok(()) };
        let at = event.recorded_at;
        if event.category() == STAKEHOLDER_CATEGORY
            && let StakeholderEvent::Registered(r) = decode(event)?
        {
            let doc = StakeholderDoc {
                stakeholder_id: r.stakeholder_id,
                name: r.name,
                email: r.email,
                phone: r.phone,
                role: r.role,
                school_id: r.school_id,
                conversations: vec![],
                last_contact: None,
                wish_ids: vec![],
                followup_ids: vec![],
                promise_ids: vec![],
                registered_at: at,
                updated_at: at,
            };
            docs.put_as(STAKEHOLDERS, &key, &doc);
            return Ok(());
        }
        let mut doc = docs
            .get_as::<StakeholderDoc>(STAKEHOLDERS, &key)
            .ok_or_else(|| missing(STAKEHOLDERS, &key, event))?;
        match event.category() {
            STAKEHOLDER_CATEGORY => match decode(event)? {
                StakeholderEvent::Registered(_) => {}
                StakeholderEvent::Updated(u) => {
                    doc.name = u.name;
                    doc.email = u.email;
                    doc.phone = u.phone;
                    doc.role = u.role;
                    doc.school_id = u.school_id;
                }
                StakeholderEvent::ConversationHeld(c) => {
                    doc.last_contact = doc.last_contact.max(Some(c.held_at));
                    doc.conversations.push(c);
                }
            },
            WISH_CATEGORY => doc.wish_ids.push(event_subject_id(event)?),
            FOLLOWUP_CATEGORY => doc.followup_ids.push(event_subject_id(event)?),
            _ => doc.promise_ids.push(event_subject_id(event)?),
        }
        doc.updated_at = at;
        docs.put_as(STAKEHOLDERS, &key, &doc);
        Ok(())
    }
}

/// The uuid of a `wish-…`, `followup-…` or `promise-…` stream.
fn event_subject_id(event: &RecordedEvent) -> Result<Uuid, String> {
    event.stream_id().parse().map_err(|_| format!("{} is not a uuid stream", event.stream))
}

// ---------------------------------------------------------------------------------------------
// Wishes

/// A tracked wish (`stakeholders.wishes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WishDoc {
    pub wish_id: Uuid,
    pub stakeholder_id: Uuid,
    pub school_id: Option<SchoolId>,
    pub text: LongText,
    pub conversation_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub status: WishStatus,
    /// Every headway, oldest first.
    pub progress: Vec<WishProgressed>,
    /// When it was recorded or last progressed.
    pub last_activity_at: DateTime<Utc>,
}

/// Keeps `stakeholders.wishes`.
#[derive(Debug, Default)]
pub struct Wishes;

impl Projection for Wishes {
    fn name(&self) -> &str {
        WISHES
    }

    fn filter(&self) -> Filter {
        Filter::categories([WISH_CATEGORY])
    }

    fn collections(&self) -> Vec<String> {
        vec![WISHES.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new(WISHES, event.stream_id())]
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let key = event.stream_id();
        match decode(event)? {
            WishEvent::Recorded(r) => {
                let doc = WishDoc {
                    wish_id: r.wish_id,
                    stakeholder_id: r.stakeholder_id,
                    school_id: r.school_id,
                    text: r.text,
                    conversation_id: r.conversation_id,
                    recorded_at: r.recorded_at,
                    status: WishStatus::Open,
                    progress: vec![],
                    last_activity_at: r.recorded_at,
                };
                docs.put_as(WISHES, key, &doc);
            }
            WishEvent::Progressed(p) => {
                let mut doc = docs
                    .get_as::<WishDoc>(WISHES, key)
                    .ok_or_else(|| missing(WISHES, key, event))?;
                doc.status = p.status;
                doc.last_activity_at = doc.last_activity_at.max(p.at);
                doc.progress.push(p);
                docs.put_as(WISHES, key, &doc);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Promises

/// Where a promise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromiseStatus {
    Open,
    Kept,
    Broken,
    /// The standing call-before-cancel promise: see [`call_before_cancel_record`].
    Standing,
}

/// A promise (`stakeholders.promises`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromiseDoc {
    pub promise_id: Uuid,
    pub to: PromiseTo,
    pub text: LongText,
    pub due_on: NaiveDate,
    pub owner: String,
    pub made_on: NaiveDate,
    pub kind: Option<String>,
    pub status: PromiseStatus,
    /// What shows it was kept or broken.
    pub evidence: Option<LongText>,
    pub settled_on: Option<NaiveDate>,
    pub made_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PromiseDoc {
    /// Whether it is overdue on `today`: open (not standing) and due before today.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.status == PromiseStatus::Open && is_past_due(self.due_on, today)
    }
}

/// Keeps `stakeholders.promises`.
#[derive(Debug, Default)]
pub struct Promises;

impl Projection for Promises {
    fn name(&self) -> &str {
        PROMISES
    }

    fn filter(&self) -> Filter {
        Filter::categories([PROMISE_CATEGORY])
    }

    fn collections(&self) -> Vec<String> {
        vec![PROMISES.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new(PROMISES, event.stream_id())]
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let key = event.stream_id();
        let at = event.recorded_at;
        let (status, evidence, on) = match decode(event)? {
            PromiseEvent::Made(m) => {
                let status = if m.is_call_before_cancel() {
                    PromiseStatus::Standing
                } else {
                    PromiseStatus::Open
                };
                let doc = PromiseDoc {
                    promise_id: m.promise_id,
                    to: m.to,
                    text: m.text,
                    due_on: m.due_on,
                    owner: m.owner,
                    made_on: m.made_on,
                    kind: m.kind,
                    status,
                    evidence: None,
                    settled_on: None,
                    made_at: at,
                    updated_at: at,
                };
                docs.put_as(PROMISES, key, &doc);
                return Ok(());
            }
            PromiseEvent::Kept(k) => (PromiseStatus::Kept, k.evidence, k.on),
            PromiseEvent::Broken(b) => (PromiseStatus::Broken, b.evidence, b.on),
        };
        let mut doc = docs
            .get_as::<PromiseDoc>(PROMISES, key)
            .ok_or_else(|| missing(PROMISES, key, event))?;
        doc.status = status;
        doc.evidence = Some(evidence);
        doc.settled_on = Some(on);
        doc.updated_at = at;
        docs.put_as(PROMISES, key, &doc);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Follow-ups

/// A follow-up (`stakeholders.followups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FollowUpDoc {
    pub followup_id: Uuid,
    pub stakeholder_id: Uuid,
    pub about: LongText,
    pub due_on: NaiveDate,
    pub scheduled_at: DateTime<Utc>,
    pub done_on: Option<NaiveDate>,
    pub note: Option<LongText>,
}

impl FollowUpDoc {
    /// Whether it is overdue on `today`: not done and due before today.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        self.done_on.is_none() && is_past_due(self.due_on, today)
    }
}

/// Orders follow-ups for the list: overdue first, then open, then done; by due date within
/// each (then by id, so the order is total).
pub fn sort_follow_ups(list: &mut [FollowUpDoc], today: NaiveDate) {
    list.sort_by_key(|f| {
        let group = if f.is_overdue(today) {
            0
        } else if f.done_on.is_none() {
            1
        } else {
            2
        };
        (group, f.due_on, f.followup_id)
    });
}

/// Keeps `stakeholders.followups`.
#[derive(Debug, Default)]
pub struct FollowUps;

impl Projection for FollowUps {
    fn name(&self) -> &str {
        FOLLOW_UPS
    }

    fn filter(&self) -> Filter {
        Filter::categories([FOLLOWUP_CATEGORY])
    }

    fn collections(&self) -> Vec<String> {
        vec![FOLLOW_UPS.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new(FOLLOW_UPS, event.stream_id())]
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let key = event.stream_id();
        match decode(event)? {
            FollowUpEvent::Scheduled(s) => {
                let doc = FollowUpDoc {
                    followup_id: s.followup_id,
                    stakeholder_id: s.stakeholder_id,
                    about: s.about,
                    due_on: s.due_on,
                    scheduled_at: event.recorded_at,
                    done_on: None,
                    note: None,
                };
                docs.put_as(FOLLOW_UPS, key, &doc);
            }
            FollowUpEvent::Done(d) => {
                let mut doc = docs
                    .get_as::<FollowUpDoc>(FOLLOW_UPS, key)
                    .ok_or_else(|| missing(FOLLOW_UPS, key, event))?;
                doc.done_on = Some(d.on);
                doc.note = d.note;
                docs.put_as(FOLLOW_UPS, key, &doc);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Held purchases (from the gate's events)

/// Where a held purchase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeldState {
    /// Submitted, decision not read yet (only between the two events of one append).
    Submitted,
    Held,
    Approved,
    Cancelled,
}

/// A purchase the gate held (`stakeholders.held_purchases`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeldPurchaseDoc {
    pub purchase_id: Uuid,
    pub school_id: SchoolId,
    pub requester_email: Email,
    pub state: HeldState,
    /// When the gate held it (the decision's time) and the decision's log position.
    pub flagged_at: Option<DateTime<Utc>>,
    pub flagged_position: Option<u64>,
    /// When the first call that reached the requester took place.
    pub first_reached_call_at: Option<DateTime<Utc>>,
    pub alternatives_proposed: u32,
    /// When it was approved or cancelled.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Set when cancelled: whether a reached call and a proposed alternative were logged
    /// before the cancellation (call before cancel honoured).
    pub call_before_cancel: Option<bool>,
}

impl HeldPurchaseDoc {
    /// When IT answered: the first reached call, or the approval if that came first.
    pub fn answered_at(&self) -> Option<DateTime<Utc>> {
        let approved_at = self.resolved_at.filter(|_| self.state == HeldState::Approved);
        match (self.first_reached_call_at, approved_at) {
            (Some(call), Some(approved)) => Some(call.min(approved)),
            (call, approved) => call.or(approved),
        }
    }
}

/// Keeps `stakeholders.held_purchases`.
#[derive(Debug, Default)]
pub struct HeldPurchases;

impl Projection for HeldPurchases {
    fn name(&self) -> &str {
        HELD_PURCHASES
    }

    fn filter(&self) -> Filter {
        Filter::categories([PURCHASE_CATEGORY])
    }

    fn collections(&self) -> Vec<String> {
        vec![HELD_PURCHASES.into()]
    }

    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new(HELD_PURCHASES, event.stream_id())]
    }

    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let key = event.stream_id();
        let at = event.recorded_at;
        let purchase_event: PurchaseEvent = decode(event)?;
        if let PurchaseEvent::Submitted(s) = &purchase_event {
            let doc = HeldPurchaseDoc {
                purchase_id: s.purchase_id,
                school_id: s.school_id.clone(),
                requester_email: s.requester_email.clone(),
                state: HeldState::Submitted,
                flagged_at: None,
                flagged_position: None,
                first_reached_call_at: None,
                alternatives_proposed: 0,
                resolved_at: None,
                call_before_cancel: None,
            };
            docs.put_as(HELD_PURCHASES, key, &doc);
            return Ok(());
        }
        // Purchases that were not held were dropped: nothing to do for them.
        let Some(mut doc) = docs.get_as::<HeldPurchaseDoc>(HELD_PURCHASES, key) else {
            return Ok(());
        };
        match purchase_event {
            PurchaseEvent::Submitted(_) | PurchaseEvent::AlternativeAccepted(_) => {}
            PurchaseEvent::Decided(d) => {
                if d.decision != GateDecision::Held {
                    docs.remove(HELD_PURCHASES, key);
                    return Ok(());
                }
                doc.state = HeldState::Held;
                doc.flagged_at = Some(at);
                doc.flagged_position = Some(event.position);
            }
            PurchaseEvent::CallLogged(c) => {
                if c.requester_reached {
                    doc.first_reached_call_at = match doc.first_reached_call_at {
                        Some(first) => Some(first.min(c.occurred_at)),
                        None => Some(c.occurred_at),
                    };
                }
            }
            PurchaseEvent::AlternativeProposed(_) => doc.alternatives_proposed += 1,
            PurchaseEvent::Approved(_) => {
                doc.state = HeldState::Approved;
                doc.resolved_at = Some(at);
            }
            PurchaseEvent::Cancelled(_) => {
                doc.state = HeldState::Cancelled;
                doc.resolved_at = Some(at);
                doc.call_before_cancel =
                    Some(doc.first_reached_call_at.is_some() && doc.alternatives_proposed > 0);
            }
        }
        docs.put_as(HELD_PURCHASES, key, &doc);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Joins

/// The record of a standing call-before-cancel promise, from the gate's events.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CallBeforeCancelRecord {
    pub school_id: SchoolId,
    /// Whether the agreement it came with is still in force.
    pub in_force: bool,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
    /// Purchases of the school held while it was in force.
    pub held_purchases: u32,
    pub cancelled: u32,
    /// Cancelled after a reached call and a proposed alternative.
    pub honoured: u32,
    /// Cancelled without them: the promise was broken for these purchases.
    pub breaches: Vec<Uuid>,
    /// `kept` unless a cancellation breached it.
    pub outcome: PromiseStatus,
}

/// The record of `promise`, a standing call-before-cancel promise to `school`, from the
/// school's held purchases (`held` may hold other schools' too). `None` when the promise is not
/// a standing one of that school, or its agreement is not in the school's history.
pub fn call_before_cancel_record(
    promise: &PromiseDoc,
    school: &SchoolDoc,
    held: &[HeldPurchaseDoc],
) -> Option<CallBeforeCancelRecord> {
    let is_this_school =
        matches!(&promise.to, PromiseTo::School { school_id } if *school_id == school.school_id);
    if promise.status != PromiseStatus::Standing || !is_this_school {
        return None;
    }
    let agreement = school.agreements.iter().find(|a| a.promise_id == Some(promise.promise_id))?;
    let covered = held.iter().filter(|p| {
        p.school_id == school.school_id
            && p.flagged_position.is_some_and(|at| {
                at > agreement.signed_position
                    && agreement.withdrawn_position.is_none_or(|end| at < end)
            })
    });
    let mut record = CallBeforeCancelRecord {
        school_id: school.school_id.clone(),
        in_force: agreement.withdrawn_on.is_none(),
        since: agreement.signed_on,
        until: agreement.withdrawn_on,
        held_purchases: 0,
        cancelled: 0,
        honoured: 0,
        breaches: vec![],
        outcome: PromiseStatus::Kept,
    };
    for p in covered {
        record.held_purchases += 1;
        match p.call_before_cancel {
            Some(true) => {
                record.cancelled += 1;
                record.honoured += 1;
            }
            Some(false) => {
                record.cancelled += 1;
                record.breaches.push(p.purchase_id);
            }
            None => {}
        }
    }
    if !record.breaches.is_empty() {
        record.outcome = PromiseStatus::Broken;
    }
    Some(record)
}

/// The read models a stakeholder's health is computed from. Lists may hold more than this
/// stakeholder's documents (whole collections, say): each is filtered to what counts.
#[derive(Debug, Clone, Copy)]
pub struct HealthDocs<'a> {
    pub stakeholder: &'a StakeholderDoc,
    pub follow_ups: &'a [FollowUpDoc],
    pub wishes: &'a [WishDoc],
    /// Promises to them and, for a principal, to their school.
    pub promises: &'a [PromiseDoc],
    /// For a principal: their school's document and held purchases.
    pub school: Option<(&'a SchoolDoc, &'a [HeldPurchaseDoc])>,
}

/// The facts [`crate::domain::health::health`] scores, from the read models.
pub fn health_inputs(docs: HealthDocs<'_>) -> HealthInputs {
    let who = docs.stakeholder;
    let school = match (who.principal_of(), docs.school) {
        (Some(id), Some((school, held))) if school.school_id == *id => Some((school, held)),
        _ => None,
    };
    let follow_ups = docs
        .follow_ups
        .iter()
        .filter(|f| f.stakeholder_id == who.stakeholder_id)
        .map(|f| FollowUpFact { due_on: f.due_on, done: f.done_on.is_some() })
        .collect();
    let wishes = docs
        .wishes
        .iter()
        .filter(|w| w.stakeholder_id == who.stakeholder_id)
        .map(|w| WishFact { status: w.status, last_activity_at: w.last_activity_at })
        .collect();
    let promises = docs
        .promises
        .iter()
        .filter_map(|p| {
            let counts = match &p.to {
                PromiseTo::Stakeholder { stakeholder_id } => *stakeholder_id == who.stakeholder_id,
                PromiseTo::School { school_id } => {
                    school.is_some_and(|(s, _)| s.school_id == *school_id)
                }
            };
            if !counts {
                return None;
            }
            let outcome = match p.status {
                PromiseStatus::Open => None,
                PromiseStatus::Kept => Some(Outcome::Kept),
                PromiseStatus::Broken => Some(Outcome::Broken),
                PromiseStatus::Standing => school
                    .and_then(|(s, held)| call_before_cancel_record(p, s, held))
                    .map(|r| if r.breaches.is_empty() { Outcome::Kept } else { Outcome::Broken }),
            };
            Some(PromiseFact {
                due_on: p.due_on,
                outcome,
                standing: p.status == PromiseStatus::Standing,
            })
        })
        .collect();
    let held_purchases = school.map(|(s, held)| {
        held.iter()
            .filter(|p| p.school_id == s.school_id)
            .filter_map(|p| {
                let flagged_at = p.flagged_at?;
                Some(HeldPurchaseFact { flagged_at, answered_at: p.answered_at() })
            })
            .collect()
    });
    HealthInputs {
        last_contact: who.last_contact,
        conversations: who.conversations.len() as u32,
        follow_ups,
        promises,
        wishes,
        held_purchases,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeDelta;
    use eventlog::projection::{apply_batch, batch_keys};
    use eventlog::{Actor, Metadata, NewEvent};
    use events::gate::{
        AlternativeProposed, CallLogged, PurchaseApproved, PurchaseCancelled, PurchaseDecided,
        PurchaseLine, PurchaseSubmitted,
    };
    use events::values::{Category, Currency, ExternalRef, Money, PaymentMethod, Quantity};
    use serde_json::Value;

    use super::*;
    use crate::domain::health::health;
    use crate::domain::school::{School, SchoolCommand, SignAgreement, Signer, WithdrawAgreement};
    use crate::domain::stakeholder::{
        HoldConversation, Profile, RegisterStakeholder, Stakeholder, StakeholderCommand,
    };
    use events::stakeholders::{
        FollowUpDone, FollowUpScheduled, PromiseKept, PromiseMade, followup_stream, promise_stream,
        wish_stream,
    };
    use kernel::Aggregate;

    // -- an in-memory log ------------------------------------------------------------------

    /// Events as the store would record them, grouped by atomic append.
    #[derive(Debug, Default)]
    struct Log {
        events: Vec<RecordedEvent>,
        appends: Vec<Vec<usize>>,
        versions: BTreeMap<String, u64>,
        clock: DateTime<Utc>,
    }

    impl Log {
        fn new() -> Self {
            Self { clock: "2024-08-01T08:00:00Z".parse().unwrap(), ..Self::default() }
        }

        /// Appends events atomically, an hour after the previous append.
        fn append(&mut self, events: Vec<(String, &'static str, Value)>) {
            self.clock += TimeDelta::hours(1);
            let mut group = vec![];
            for (stream, event_type, data) in events {
                let version = self.versions.entry(stream.clone()).or_default();
                *version += 1;
                group.push(self.events.len());
                self.events.push(RecordedEvent {
                    position: self.events.len() as u64 + 1,
                    id: Uuid::from_u128(1_000_000 + self.events.len() as u128),
                    stream,
                    version: *version,
                    event_type: event_type.into(),
                    data,
                    metadata: Metadata::new(Actor::new("cto@district", "it_staff"), "test"),
                    recorded_at: self.clock,
                    hash: String::new(),
                });
            }
            self.appends.push(group);
        }

        /// Appends one event to `stream`.
        fn write<E: EventFamily>(&mut self, stream: String, event: impl Into<E>) {
            let event = event.into();
            self.append(vec![(stream, event.event_type(), event.to_data())]);
        }

        fn purchase(&mut self, id: Uuid, events: Vec<PurchaseEvent>) {
            let stream = events::gate::purchase_stream(id);
            self.append(
                events.iter().map(|e| (stream.clone(), e.event_type(), e.to_data())).collect(),
            );
        }

        fn advance(&mut self, hours: i64) {
            self.clock += TimeDelta::hours(hours);
        }

        /// Runs a command on the aggregate rebuilt from its stream and appends the decision:
        /// its own events, then the streams it opens.
        fn run<A: Aggregate>(&mut self, stream: &str, command: A::Command) {
            let past: Vec<RecordedEvent> =
                self.events.iter().filter(|e| e.stream == stream).cloned().collect();
            let aggregate: A = kernel::load(&past).unwrap();
            let decision = aggregate.handle(command).unwrap();
            let own =
                decision.events.iter().map(|e| (stream.to_owned(), e.event_type(), e.to_data()));
            let opened =
                decision.opens.into_iter().map(|o| (o.stream.to_string(), o.event_type, o.data));
            let events = own.collect::<Vec<_>>().into_iter().chain(opened).collect();
            self.append(events);
        }
    }

    /// The documents the projections keep after `events`, applied in batches of `batch` the way
    /// the store does it (fetch the declared keys, apply, write the changes).
    fn project(
        projections: &[Arc<dyn Projection>],
        events: &[RecordedEvent],
        batch: usize,
    ) -> BTreeMap<DocKey, Value> {
        let mut store: BTreeMap<DocKey, Value> = BTreeMap::new();
        for projection in projections {
            let mut checkpoint = 0;
            for chunk in events.chunks(batch) {
                let (todo, keys) = batch_keys(&**projection, chunk, checkpoint);
                let fetched = keys.into_iter().map(|k| {
                    let v = store.get(&k).cloned();
                    (k, v)
                });
                let changes = apply_batch(&**projection, &todo, Docs::fetched(fetched)).unwrap();
                for (k, v) in changes {
                    assert!(
                        projection.collections().contains(&k.collection),
                        "{k:?} is not {}'s",
                        projection.name()
                    );
                    match v {
                        Some(v) => store.insert(k, v),
                        None => store.remove(&k),
                    };
                }
                checkpoint = chunk.last().map_or(checkpoint, |e| e.position);
            }
        }
        store
    }

    fn doc<T: serde::de::DeserializeOwned>(
        docs: &BTreeMap<DocKey, Value>,
        collection: &str,
        key: impl ToString,
    ) -> T {
        let key = DocKey::new(collection, key.to_string());
        T::deserialize(docs.get(&key).unwrap_or_else(|| panic!("no {key:?}"))).unwrap()
    }

    fn collection<T: serde::de::DeserializeOwned>(
        docs: &BTreeMap<DocKey, Value>,
        collection: &str,
    ) -> Vec<T> {
        docs.iter()
            .filter(|(k, _)| k.collection == collection)
            .map(|(_, v)| T::deserialize(v).unwrap())
            .collect()
    }

    // -- a district's story ----------------------------------------------------------------

    fn short(s: &str) -> ShortText {
        ShortText::parse(s).unwrap()
    }

    fn long(s: &str) -> LongText {
        LongText::parse(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn lincoln() -> SchoolId {
        SchoolId::parse("lincoln-elem").unwrap()
    }

    fn washington() -> SchoolId {
        SchoolId::parse("washington-high").unwrap()
    }

    const DANA: Uuid = Uuid::from_u128(0xD);
    const SAM: Uuid = Uuid::from_u128(0x5);
    const WISH_DANA: Uuid = Uuid::from_u128(0x101);
    const WISH_SAM: Uuid = Uuid::from_u128(0x102);
    const STANDING_1: Uuid = Uuid::from_u128(0x201);
    const STANDING_2: Uuid = Uuid::from_u128(0x202);
    const PROMISE_DANA: Uuid = Uuid::from_u128(0x203);
    const PROMISE_SAM: Uuid = Uuid::from_u128(0x204);
    const PROMISE_SCHOOL: Uuid = Uuid::from_u128(0x205);
    const FOLLOWUP_LATE: Uuid = Uuid::from_u128(0x301);
    const FOLLOWUP_DONE: Uuid = Uuid::from_u128(0x302);
    const FOLLOWUP_SAM: Uuid = Uuid::from_u128(0x303);
    const APPROVED_AT_ONCE: Uuid = Uuid::from_u128(0x401);
    const CANCELLED: Uuid = Uuid::from_u128(0x402);
    const APPROVED_AFTER_HOLD: Uuid = Uuid::from_u128(0x403);
    const ADVISORY: Uuid = Uuid::from_u128(0x404);
    const WAITING: Uuid = Uuid::from_u128(0x405);
    const LATER: Uuid = Uuid::from_u128(0x406);

    fn submitted(id: Uuid, school: SchoolId) -> PurchaseEvent {
        PurchaseSubmitted {
            purchase_id: id,
            external_ref: ExternalRef::parse(&format!("REQ-{id}")).unwrap(),
            idempotency_key: None,
            submitted_by: "finance-erp".into(),
            request_hash: "00".repeat(32),
            school_id: school,
            requester_email: Email::parse("sam@lincoln.example").unwrap(),
            vendor: short("Gadgets Inc"),
            payment_method: PaymentMethod::PCard,
            merchant_category_code: None,
            currency: Currency::parse("USD").unwrap(),
            lines: vec![PurchaseLine {
                sku: None,
                description: short("Tablet"),
                category: Category::parse("tablets").unwrap(),
                quantity: Quantity::new(1).unwrap(),
                unit_price: Money::parse("499.00").unwrap(),
            }],
            purpose: None,
            total: Money::parse("499.00").unwrap(),
        }
        .into()
    }

    fn decided(decision: GateDecision) -> PurchaseEvent {
        PurchaseDecided {
            decision,
            reasons: vec![],
            policy_version: 1,
            school_gated: decision == GateDecision::Held,
        }
        .into()
    }

    fn call(reached: bool, occurred_at: DateTime<Utc>) -> PurchaseEvent {
        CallLogged {
            call_id: Uuid::now_v7(),
            requester_reached: reached,
            goal: reached.then(|| long("A tablet for reading groups")),
            notes: None,
            occurred_at,
        }
        .into()
    }

    fn alternative() -> PurchaseEvent {
        AlternativeProposed {
            alternative_id: Uuid::from_u128(9),
            description: long("The standard tablet"),
            lines: vec![],
        }
        .into()
    }

    fn put_school(log: &mut Log, id: SchoolId, name: &str) {
        let stream = events::school::school_stream(&id);
        log.run::<School>(&stream, SchoolCommand::Put { school_id: id, name: short(name) });
    }

    fn register(
        log: &mut Log,
        id: Uuid,
        name: &str,
        role: StakeholderRole,
        school: Option<SchoolId>,
    ) {
        let profile = Profile {
            name: short(name),
            email: Email::parse(&format!(
                "{}@district.example",
                name.to_lowercase().replace(' ', ".")
            ))
            .unwrap(),
            phone: None,
            role,
            school_id: school,
        };
        let cmd = StakeholderCommand::Register(RegisterStakeholder {
            stakeholder_id: id,
            profile,
            school_exists: true,
        });
        log.run::<Stakeholder>(&events::stakeholders::stakeholder_stream(id), cmd);
    }

    fn converse(log: &mut Log, id: Uuid, wish_id: Uuid, wish: &str) {
        let cmd = StakeholderCommand::HoldConversation(HoldConversation {
            conversation_id: Uuid::from_u128(wish_id.as_u128() + 0x1000),
            wish_id,
            held_at: log.clock,
            now: log.clock,
            location: short("School office"),
            their_vision: long("Every child reads and codes."),
            stars: vec![short("Quick fixes"), short("Kind help desk")],
            wish: long(wish),
            notes: None,
        });
        log.run::<Stakeholder>(&events::stakeholders::stakeholder_stream(id), cmd);
    }

    fn sign(log: &mut Log, promise_id: Uuid, on: &str) {
        let cmd = SchoolCommand::SignAgreement(SignAgreement {
            principal_id: DANA,
            signer: Some(Signer { role: StakeholderRole::Principal, school_id: Some(lincoln()) }),
            signed_on: day(on),
            today: log.clock.date_naive(),
            promise_id,
            recorded_by: "cto@district".into(),
        });
        log.run::<School>("school-lincoln-elem", cmd);
    }

    fn promise(log: &mut Log, id: Uuid, to: PromiseTo, due_on: &str) {
        log.write::<PromiseEvent>(
            promise_stream(id),
            PromiseMade {
                promise_id: id,
                to,
                text: long("Projector fixed by Friday"),
                due_on: day(due_on),
                owner: "cto@district".into(),
                made_on: day("2024-08-01"),
                kind: None,
            },
        );
    }

    fn followup(log: &mut Log, id: Uuid, who: Uuid, due_on: &str) {
        log.write::<FollowUpEvent>(
            followup_stream(id),
            FollowUpScheduled {
                followup_id: id,
                stakeholder_id: who,
                about: long("Check in"),
                due_on: day(due_on),
            },
        );
    }

    /// A small district's first weeks: two schools, a principal and a teacher, conversations,
    /// wishes, promises, follow-ups, an agreement signed, withdrawn and signed again, and the
    /// gate's purchases of both schools.
    fn district() -> Log {
        let mut log = Log::new();
        put_school(&mut log, lincoln(), "Lincoln");
        put_school(&mut log, washington(), "Washington High");
        put_school(&mut log, lincoln(), "Lincoln Elementary");
        register(&mut log, DANA, "Dana Whitfield", StakeholderRole::Principal, Some(lincoln()));
        register(&mut log, SAM, "Sam Ortiz", StakeholderRole::Teacher, Some(lincoln()));
        converse(&mut log, DANA, WISH_DANA, "Loaners the same day");
        converse(&mut log, SAM, WISH_SAM, "A faster wifi in room 12");
        let at = log.clock;
        log.write::<WishEvent>(
            wish_stream(WISH_DANA),
            WishProgressed { note: long("Ten loaners staged"), status: WishStatus::InProgress, at },
        );
        log.write::<WishEvent>(
            wish_stream(WISH_DANA),
            WishProgressed {
                note: long("Done"),
                status: WishStatus::Done,
                at: at + TimeDelta::hours(1),
            },
        );
        sign(&mut log, STANDING_1, "2024-08-01");
        promise(
            &mut log,
            PROMISE_DANA,
            PromiseTo::Stakeholder { stakeholder_id: DANA },
            "2024-08-09",
        );
        promise(
            &mut log,
            PROMISE_SAM,
            PromiseTo::Stakeholder { stakeholder_id: SAM },
            "2024-08-09",
        );
        log.write::<PromiseEvent>(
            promise_stream(PROMISE_SAM),
            PromiseKept { evidence: long("Fixed"), on: day("2024-08-02") },
        );
        promise(&mut log, PROMISE_SCHOOL, PromiseTo::School { school_id: lincoln() }, "2024-08-05");
        followup(&mut log, FOLLOWUP_LATE, DANA, "2024-08-03");
        followup(&mut log, FOLLOWUP_DONE, DANA, "2024-08-04");
        log.write::<FollowUpEvent>(
            followup_stream(FOLLOWUP_DONE),
            FollowUpDone { on: day("2024-08-02"), note: None },
        );
        followup(&mut log, FOLLOWUP_SAM, SAM, "2024-08-20");
        // The gate's purchases.
        log.purchase(
            APPROVED_AT_ONCE,
            vec![submitted(APPROVED_AT_ONCE, lincoln()), decided(GateDecision::Approved)],
        );
        log.purchase(
            ADVISORY,
            vec![submitted(ADVISORY, washington()), decided(GateDecision::Advisory)],
        );
        log.purchase(CANCELLED, vec![submitted(CANCELLED, lincoln()), decided(GateDecision::Held)]);
        let flagged = log.clock;
        log.purchase(CANCELLED, vec![call(false, flagged + TimeDelta::hours(1))]);
        log.purchase(CANCELLED, vec![call(true, flagged + TimeDelta::hours(3))]);
        log.purchase(CANCELLED, vec![alternative()]);
        log.purchase(
            CANCELLED,
            vec![PurchaseCancelled { reason: long("Duplicate of a district order") }.into()],
        );
        log.purchase(
            APPROVED_AFTER_HOLD,
            vec![submitted(APPROVED_AFTER_HOLD, lincoln()), decided(GateDecision::Held)],
        );
        log.advance(30);
        log.purchase(
            APPROVED_AFTER_HOLD,
            vec![PurchaseApproved { note: None, alternative_id: None }.into()],
        );
        log.purchase(WAITING, vec![submitted(WAITING, lincoln()), decided(GateDecision::Held)]);
        // Withdrawn, then signed again; a purchase held under the second agreement.
        let cmd = SchoolCommand::WithdrawAgreement(WithdrawAgreement {
            reason: long("The new assistant principal wants to review it"),
            withdrawn_on: log.clock.date_naive(),
            today: log.clock.date_naive(),
        });
        log.run::<School>("school-lincoln-elem", cmd);
        let again = log.clock.date_naive().to_string();
        sign(&mut log, STANDING_2, &again);
        log.purchase(LATER, vec![submitted(LATER, lincoln()), decided(GateDecision::Held)]);
        log
    }

    // -- tests -----------------------------------------------------------------------------

    #[test]
    fn schools_with_agreement_history_and_promises() {
        let log = district();
        let docs = project(&all(), &log.events, 1000);
        let school: SchoolDoc = doc(&docs, SCHOOLS, "lincoln-elem");
        assert_eq!(school.name.as_str(), "Lincoln Elementary");
        assert_eq!(school.agreement_status, AgreementStatus::Signed);
        assert_eq!(school.agreements.len(), 2);
        let [first, second] = &school.agreements[..] else { unreachable!() };
        assert_eq!((first.principal_id, first.promise_id), (DANA, Some(STANDING_1)));
        assert!(
            first.withdrawn_on.is_some()
                && first.withdrawn_position.unwrap() > first.signed_position
        );
        assert_eq!(
            first.withdrawal_reason.as_ref().unwrap().as_str(),
            "The new assistant principal wants to review it"
        );
        assert_eq!(second.promise_id, Some(STANDING_2));
        assert_eq!(school.agreement_in_force(), Some(second));
        assert_eq!(school.promise_ids, [STANDING_1, PROMISE_SCHOOL, STANDING_2]);
        assert!(school.registered_at < school.updated_at);
        let other: SchoolDoc = doc(&docs, SCHOOLS, "washington-high");
        assert_eq!(other.agreement_status, AgreementStatus::NeverSigned);
        assert!(other.agreement_in_force().is_none());
    }

    #[test]
    fn stakeholders_keep_profile_conversations_and_references() {
        let docs = project(&all(), &district().events, 1000);
        let dana: StakeholderDoc = doc(&docs, STAKEHOLDERS, DANA);
        assert_eq!(dana.role, StakeholderRole::Principal);
        assert_eq!(dana.principal_of(), Some(&lincoln()));
        assert_eq!(dana.conversations.len(), 1);
        assert_eq!(dana.conversations[0].wish_id, WISH_DANA);
        assert_eq!(dana.last_contact, Some(dana.conversations[0].held_at));
        assert_eq!(dana.wish_ids, [WISH_DANA]);
        assert_eq!(dana.followup_ids, [FOLLOWUP_LATE, FOLLOWUP_DONE]);
        assert_eq!(dana.promise_ids, [PROMISE_DANA]);
        let sam: StakeholderDoc = doc(&docs, STAKEHOLDERS, SAM);
        assert_eq!(sam.principal_of(), None);
        assert_eq!(
            (sam.wish_ids.as_slice(), sam.promise_ids.as_slice()),
            (&[WISH_SAM][..], &[PROMISE_SAM][..])
        );
    }

    #[test]
    fn a_profile_update_replaces_the_profile() {
        let mut log = district();
        let profile = Profile {
            name: short("Sam Ortiz"),
            email: Email::parse("sam@lincoln.example").unwrap(),
            phone: Some(Phone::parse("555 0101").unwrap()),
            role: StakeholderRole::Librarian,
            school_id: Some(washington()),
        };
        let cmd = StakeholderCommand::Update(crate::domain::stakeholder::UpdateStakeholder {
            profile,
            school_exists: true,
        });
        log.run::<Stakeholder>(&events::stakeholders::stakeholder_stream(SAM), cmd);
        let sam: StakeholderDoc = doc(&project(&all(), &log.events, 1000), STAKEHOLDERS, SAM);
        assert_eq!(sam.role, StakeholderRole::Librarian);
        assert_eq!(sam.school_id, Some(washington()));
        assert_eq!(sam.phone.unwrap().as_str(), "555 0101");
        assert_eq!(sam.conversations.len(), 1, "conversations survive an update");
    }

    #[test]
    fn wishes_with_headway() {
        let docs = project(&all(), &district().events, 1000);
        let wish: WishDoc = doc(&docs, WISHES, WISH_DANA);
        assert_eq!(wish.status, WishStatus::Done);
        assert_eq!(wish.stakeholder_id, DANA);
        assert_eq!(wish.school_id, Some(lincoln()));
        assert_eq!(wish.text.as_str(), "Loaners the same day");
        assert_eq!(wish.progress.len(), 2);
        assert_eq!(wish.last_activity_at, wish.progress[1].at);
        let sams: WishDoc = doc(&docs, WISHES, WISH_SAM);
        assert_eq!((sams.status, sams.last_activity_at), (WishStatus::Open, sams.recorded_at));
    }

    #[test]
    fn promises_and_their_outcomes() {
        let docs = project(&all(), &district().events, 1000);
        let kept: PromiseDoc = doc(&docs, PROMISES, PROMISE_SAM);
        assert_eq!((kept.status, kept.settled_on), (PromiseStatus::Kept, Some(day("2024-08-02"))));
        assert_eq!(kept.evidence.unwrap().as_str(), "Fixed");
        let open: PromiseDoc = doc(&docs, PROMISES, PROMISE_DANA);
        assert_eq!(open.status, PromiseStatus::Open);
        assert!(!open.is_overdue(day("2024-08-09")));
        assert!(open.is_overdue(day("2024-08-10")));
        let standing: PromiseDoc = doc(&docs, PROMISES, STANDING_1);
        assert_eq!(standing.status, PromiseStatus::Standing);
        assert_eq!(standing.kind.as_deref(), Some(events::stakeholders::CALL_BEFORE_CANCEL));
        assert!(!standing.is_overdue(day("2030-01-01")));
    }

    #[test]
    fn follow_ups_overdue_first() {
        let docs = project(&all(), &district().events, 1000);
        let mut list: Vec<FollowUpDoc> = collection(&docs, FOLLOW_UPS);
        sort_follow_ups(&mut list, day("2024-08-10"));
        let order: Vec<_> = list.iter().map(|f| f.followup_id).collect();
        assert_eq!(order, [FOLLOWUP_LATE, FOLLOWUP_SAM, FOLLOWUP_DONE]);
        assert!(list[0].is_overdue(day("2024-08-10")));
        assert!(!list[1].is_overdue(day("2024-08-10")));
        assert_eq!(list[2].done_on, Some(day("2024-08-02")));
        assert!(!list[2].is_overdue(day("2024-09-10")));
    }

    #[test]
    fn only_held_purchases_are_kept() {
        let docs = project(&all(), &district().events, 1000);
        let held: Vec<HeldPurchaseDoc> = collection(&docs, HELD_PURCHASES);
        let mut ids: Vec<_> = held.iter().map(|p| p.purchase_id).collect();
        ids.sort();
        assert_eq!(ids, [CANCELLED, APPROVED_AFTER_HOLD, WAITING, LATER]);
        let cancelled: HeldPurchaseDoc = doc(&docs, HELD_PURCHASES, CANCELLED);
        assert_eq!(cancelled.state, HeldState::Cancelled);
        assert_eq!(cancelled.call_before_cancel, Some(true));
        let flagged = cancelled.flagged_at.unwrap();
        assert_eq!(cancelled.first_reached_call_at, Some(flagged + TimeDelta::hours(3)));
        assert_eq!(cancelled.answered_at(), Some(flagged + TimeDelta::hours(3)));
        let approved: HeldPurchaseDoc = doc(&docs, HELD_PURCHASES, APPROVED_AFTER_HOLD);
        assert_eq!(approved.state, HeldState::Approved);
        assert_eq!(approved.answered_at(), approved.resolved_at);
        assert!(
            approved.answered_at().unwrap() - approved.flagged_at.unwrap() > TimeDelta::hours(30)
        );
        let waiting: HeldPurchaseDoc = doc(&docs, HELD_PURCHASES, WAITING);
        assert_eq!((waiting.state, waiting.answered_at()), (HeldState::Held, None));
    }

    #[test]
    fn the_call_before_cancel_record_per_agreement() {
        let mut log = district();
        // A cancellation without a proposed alternative (the gate refuses it; the record must
        // still catch it if it ever got into the log).
        log.purchase(
            LATER,
            vec![call(true, log.clock), PurchaseCancelled { reason: long("No budget") }.into()],
        );
        let docs = project(&all(), &log.events, 1000);
        let school: SchoolDoc = doc(&docs, SCHOOLS, "lincoln-elem");
        let held: Vec<HeldPurchaseDoc> = collection(&docs, HELD_PURCHASES);

        let first: PromiseDoc = doc(&docs, PROMISES, STANDING_1);
        let record = call_before_cancel_record(&first, &school, &held).unwrap();
        assert!(!record.in_force);
        assert_eq!(record.since, day("2024-08-01"));
        assert!(record.until.is_some());
        assert_eq!((record.held_purchases, record.cancelled, record.honoured), (3, 1, 1));
        assert_eq!(record.outcome, PromiseStatus::Kept);

        let second: PromiseDoc = doc(&docs, PROMISES, STANDING_2);
        let record = call_before_cancel_record(&second, &school, &held).unwrap();
        assert!(record.in_force);
        assert_eq!((record.held_purchases, record.cancelled, record.honoured), (1, 1, 0));
        assert_eq!(record.breaches, [LATER]);
        assert_eq!(record.outcome, PromiseStatus::Broken);

        // Not a standing promise, or not this school's: no record.
        let ordinary: PromiseDoc = doc(&docs, PROMISES, PROMISE_SCHOOL);
        assert!(call_before_cancel_record(&ordinary, &school, &held).is_none());
        let other: SchoolDoc = doc(&docs, SCHOOLS, "washington-high");
        assert!(call_before_cancel_record(&first, &other, &held).is_none());
    }

    #[test]
    fn health_from_the_read_models() {
        let docs = project(&all(), &district().events, 1000);
        let dana: StakeholderDoc = doc(&docs, STAKEHOLDERS, DANA);
        let school: SchoolDoc = doc(&docs, SCHOOLS, "lincoln-elem");
        let follow_ups: Vec<FollowUpDoc> = collection(&docs, FOLLOW_UPS);
        let wishes: Vec<WishDoc> = collection(&docs, WISHES);
        let promises: Vec<PromiseDoc> = collection(&docs, PROMISES);
        let held: Vec<HeldPurchaseDoc> = collection(&docs, HELD_PURCHASES);
        let inputs = health_inputs(HealthDocs {
            stakeholder: &dana,
            follow_ups: &follow_ups,
            wishes: &wishes,
            promises: &promises,
            school: Some((&school, &held)),
        });
        assert_eq!(inputs.conversations, 1);
        assert_eq!(inputs.follow_ups.len(), 2, "Sam's follow-up is not Dana's");
        assert_eq!(inputs.wishes.len(), 1);
        // Hers, the school's ordinary one and both standing ones; not Sam's.
        assert_eq!(inputs.promises.len(), 4);
        assert_eq!(inputs.promises.iter().filter(|p| p.standing).count(), 2);
        assert!(
            inputs.promises.iter().filter(|p| p.standing).all(|p| p.outcome == Some(Outcome::Kept))
        );
        let held_facts = inputs.held_purchases.as_ref().unwrap();
        assert_eq!(held_facts.len(), 4);

        let now: DateTime<Utc> = "2024-08-10T12:00:00Z".parse().unwrap();
        let h = health(&inputs, now, now.date_naive());
        // One overdue follow-up (10), two overdue promises (20), the waiting purchase has
        // waited over 72 hours (10); median answer over 24 hours (10).
        let codes: Vec<_> = h.penalties.iter().map(|p| (p.code.as_str(), p.points)).collect();
        assert_eq!(
            codes,
            [
                ("overdue-follow-ups", 10),
                ("overdue-promises", 20),
                ("slow-median-answer", 10),
                ("slow-longest-answer", 10)
            ]
        );
        assert_eq!(h.score, 50);
        assert_eq!(
            h.promises,
            crate::domain::health::PromiseCounts { open: 2, kept: 2, broken: 0, overdue: 2 }
        );

        // For a teacher: no school figures, whatever is passed.
        let sam: StakeholderDoc = doc(&docs, STAKEHOLDERS, SAM);
        let inputs = health_inputs(HealthDocs {
            stakeholder: &sam,
            follow_ups: &follow_ups,
            wishes: &wishes,
            promises: &promises,
            school: Some((&school, &held)),
        });
        assert!(inputs.held_purchases.is_none());
        assert_eq!(inputs.promises.len(), 1);
        assert_eq!(health(&inputs, now, now.date_naive()).score, 100);
    }

    #[test]
    fn batches_do_not_change_the_result() {
        let log = district();
        let whole = project(&all(), &log.events, 10_000);
        for batch in [1, 2, 3, 7] {
            assert_eq!(project(&all(), &log.events, batch), whole, "batches of {batch}");
        }
    }

    #[test]
    fn every_projection_owns_distinct_collections_named_stakeholders() {
        let mut names = std::collections::BTreeSet::new();
        for p in all() {
            assert!(names.insert(p.name().to_owned()));
            for c in p.collections() {
                assert!(c.starts_with("stakeholders."), "{c}");
            }
        }
        assert_eq!(names.len(), 6);
    }

    /// The projections on the real SQLite store: applied incrementally while the log grows,
    /// then rebuilt from scratch; both give the same documents.
    #[tokio::test]
    async fn rebuild_equals_incremental_on_sqlite() {
        let (_dir, path) = testkit::sqlite_path();
        let store = eventlog::SqliteStore::open(&path).await.unwrap();
        let log = district();
        let meta = Metadata::new(Actor::new("cto@district", "it_staff"), "stakeholders");
        let projections = all();
        let collections: Vec<String> = projections.iter().flat_map(|p| p.collections()).collect();
        let snapshot = |store: &eventlog::SqliteStore| {
            let store = store.clone();
            let collections = collections.clone();
            async move {
                let mut all = BTreeMap::new();
                for c in collections {
                    all.insert(
                        c.clone(),
                        eventlog::EventStore::documents(&store, &c).await.unwrap(),
                    );
                }
                all
            }
        };
        for (i, group) in log.appends.iter().enumerate() {
            let mut appends: Vec<eventlog::StreamAppend> = vec![];
            for &n in group {
                let e = &log.events[n];
                let event = NewEvent::new(e.event_type.clone(), e.data.clone(), meta.clone());
                match appends.iter_mut().find(|a| a.stream.as_str() == e.stream) {
                    Some(a) => a.events.push(event),
                    None => appends.push(eventlog::StreamAppend::new(
                        eventlog::StreamName::new(e.stream.clone()).unwrap(),
                        eventlog::ExpectedVersion::Any,
                        vec![event],
                    )),
                }
            }
            eventlog::EventStore::append_streams(&store, appends).await.unwrap();
            if i % 5 == 0 {
                for p in &projections {
                    eventlog::catch_up(&store, &**p, &|_| {}).await.unwrap();
                }
            }
        }
        for p in &projections {
            eventlog::catch_up(&store, &**p, &|_| {}).await.unwrap();
        }
        let incremental = snapshot(&store).await;
        assert_eq!(incremental[SCHOOLS].len(), 2);
        assert_eq!(incremental[HELD_PURCHASES].len(), 4);
        let school = SchoolDoc::deserialize(&incremental[SCHOOLS][0].1).unwrap();
        assert_eq!(
            (school.agreement_status, school.agreements.len()),
            (AgreementStatus::Signed, 2)
        );
        for p in &projections {
            eventlog::rebuild(&store, &**p, &|_| {}).await.unwrap();
        }
        assert_eq!(snapshot(&store).await, incremental);
    }
}
