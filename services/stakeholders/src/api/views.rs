//! What the API answers with, built from the read models: the documents of
//! [`crate::read_models`] plus what is computed when reading (a promise's or follow-up's status
//! as of today, the record of a standing call-before-cancel promise, answer times).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use events::stakeholders::{PromiseTo, WishStatus};
use events::values::{LongText, ShortText};
use kernel::View;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use crate::app::State;
use crate::domain::health::STALE_WISH_DAYS;
use crate::queries::{CallBeforeCancelRecord, call_before_cancel_record};
use crate::read_models::{
    FollowUpDoc, HeldPurchaseDoc, HeldPurchases, PromiseDoc, PromiseStatus, SchoolDoc, Schools,
    WishDoc,
};

/// Every held purchase, as the API shows it.
pub(crate) async fn held_purchases(view: &View<'_>) -> Result<Vec<HeldPurchaseDoc>, ApiError> {
    Ok(view.all::<HeldPurchases>().await?.into_iter().map(|h| h.purchase).collect())
}

/// Stakeholders' names by id, for views that name the person.
pub(crate) type Names = HashMap<Uuid, ShortText>;

// ---------------------------------------------------------------------------------------------
// Promises

/// Where a promise stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromiseState {
    /// Neither kept nor broken, and not due before today.
    Open,
    /// Neither kept nor broken, and due before today.
    Overdue,
    /// Kept. A standing call-before-cancel promise is kept until a cancellation breaches it.
    Kept,
    /// Broken. A standing call-before-cancel promise is broken when a purchase of the school
    /// held under its agreement was cancelled without a reached call and an alternative.
    Broken,
}

/// A promise IT made, and where it stands today.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromiseView {
    pub promise_id: Uuid,
    /// To whom: `{"type": "stakeholder", "stakeholder_id": …}` or `{"type": "school", "school_id": …}`.
    pub to: PromiseTo,
    pub text: LongText,
    pub due_on: NaiveDate,
    /// Who made it (the JWT subject of the request).
    pub owner: String,
    pub made_on: NaiveDate,
    /// `call-before-cancel` for a purchasing agreement's standing promise.
    pub kind: Option<String>,
    /// Whether it is a purchasing agreement's standing promise, whose outcome is the gate's
    /// record (`call_before_cancel`) and is never recorded by hand.
    pub standing: bool,
    pub status: PromiseState,
    /// What shows it was kept or broken (recorded by hand).
    pub evidence: Option<LongText>,
    pub settled_on: Option<NaiveDate>,
    /// For a standing promise: the gate's record of the school's held purchases under its
    /// agreement.
    pub call_before_cancel: Option<CallBeforeCancelRecord>,
    pub made_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What promise views are joined with: the schools of standing promises and the held
/// purchases.
#[derive(Debug, Default)]
pub(crate) struct Joins {
    pub schools: HashMap<String, SchoolDoc>,
    pub held: Vec<HeldPurchaseDoc>,
}

impl Joins {
    /// What `promises` need: nothing unless one of them is a standing promise.
    pub async fn for_promises(state: &State, promises: &[PromiseDoc]) -> Result<Self, ApiError> {
        let view = state.read_models.view();
        if promises.iter().all(|p| p.status != PromiseStatus::Standing) {
            return Ok(Self::default());
        }
        let (schools, held) = futures::try_join!(view.all::<Schools>(), held_purchases(&view),)?;
        Ok(Self::new(schools, held))
    }

    pub fn new(schools: Vec<SchoolDoc>, held: Vec<HeldPurchaseDoc>) -> Self {
        let schools = schools.into_iter().map(|s| (s.school_id.as_str().to_owned(), s)).collect();
        Self { schools, held }
    }
}

pub(crate) fn promise_view(doc: PromiseDoc, today: NaiveDate, joins: &Joins) -> PromiseView {
    let record = match (&doc.status, &doc.to) {
        (PromiseStatus::Standing, PromiseTo::School { school_id }) => joins
            .schools
            .get(school_id.as_str())
            .and_then(|school| call_before_cancel_record(&doc, school, &joins.held)),
        _ => None,
    };
    let status = match doc.status {
        PromiseStatus::Open if doc.is_overdue(today) => PromiseState::Overdue,
        PromiseStatus::Open => PromiseState::Open,
        PromiseStatus::Kept => PromiseState::Kept,
        PromiseStatus::Broken => PromiseState::Broken,
        PromiseStatus::Standing => match &record {
            Some(r) if r.outcome == PromiseStatus::Broken => PromiseState::Broken,
            _ => PromiseState::Kept,
        },
    };
    PromiseView {
        promise_id: doc.promise_id,
        to: doc.to,
        text: doc.text,
        due_on: doc.due_on,
        owner: doc.owner,
        made_on: doc.made_on,
        kind: doc.kind,
        standing: doc.status == PromiseStatus::Standing,
        status,
        evidence: doc.evidence,
        settled_on: doc.settled_on,
        call_before_cancel: record,
        made_at: doc.made_at,
        updated_at: doc.updated_at,
    }
}

/// Orders promises for a list: overdue first, then open, then settled; by due date within
/// each, then by id.
pub(crate) fn sort_promises(list: &mut [PromiseView]) {
    list.sort_by_key(|p| {
        let group = match p.status {
            PromiseState::Overdue => 0,
            PromiseState::Open => 1,
            PromiseState::Kept | PromiseState::Broken => 2,
        };
        (group, p.due_on, p.promise_id)
    });
}

// ---------------------------------------------------------------------------------------------
// Wishes

/// A tracked wish, with the headway on it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WishView {
    #[serde(flatten)]
    pub wish: WishDoc,
    /// Whose wish it is.
    pub stakeholder_name: Option<ShortText>,
    /// Open or in progress without headway (recorded or progressed) in the last 60 days.
    pub stale: bool,
}

pub(crate) fn wish_view(doc: WishDoc, now: DateTime<Utc>, names: &Names) -> WishView {
    let stale = !doc.status.is_closed()
        && doc.last_activity_at < now - chrono::TimeDelta::days(STALE_WISH_DAYS);
    WishView { stakeholder_name: names.get(&doc.stakeholder_id).cloned(), stale, wish: doc }
}

/// Orders wishes: oldest first (by when they were said), then by id.
pub(crate) fn sort_wishes(list: &mut [WishView]) {
    list.sort_by_key(|w| (w.wish.recorded_at, w.wish.wish_id));
}

/// Whether a wish has `status`.
pub(crate) fn wish_has(w: &WishView, status: Option<WishStatus>) -> bool {
    status.is_none_or(|s| w.wish.status == s)
}

// ---------------------------------------------------------------------------------------------
// Follow-ups

/// Where a follow-up stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpState {
    /// Not done, and not due before today.
    Open,
    /// Not done, and due before today.
    Overdue,
    Done,
}

/// Something to come back to a stakeholder about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpView {
    #[serde(flatten)]
    pub follow_up: FollowUpDoc,
    pub stakeholder_name: Option<ShortText>,
    pub status: FollowUpState,
}

pub(crate) fn follow_up_view(doc: FollowUpDoc, today: NaiveDate, names: &Names) -> FollowUpView {
    let status = if doc.done_on.is_some() {
        FollowUpState::Done
    } else if doc.is_overdue(today) {
        FollowUpState::Overdue
    } else {
        FollowUpState::Open
    };
    FollowUpView {
        stakeholder_name: names.get(&doc.stakeholder_id).cloned(),
        status,
        follow_up: doc,
    }
}

// ---------------------------------------------------------------------------------------------
// Held purchases

/// A purchase of a principal's school that the gate held, and how fast IT answered it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldPurchaseView {
    #[serde(flatten)]
    pub purchase: HeldPurchaseDoc,
    /// When IT answered: the first call that reached the requester, or the approval if it came
    /// first. Absent while the requester waits.
    pub answered_at: Option<DateTime<Utc>>,
    /// Hours from the flag to the answer (or, while waiting, until now), to a tenth.
    pub hours_to_answer: Option<f64>,
}

pub(crate) fn held_purchase_view(doc: HeldPurchaseDoc, now: DateTime<Utc>) -> HeldPurchaseView {
    let answered_at = doc.answered_at();
    let hours_to_answer = doc.flagged_at.map(|flagged| {
        let seconds = (answered_at.unwrap_or(now) - flagged).num_seconds().max(0);
        (seconds as f64 / 360.0).round() / 10.0
    });
    HeldPurchaseView { purchase: doc, answered_at, hours_to_answer }
}
