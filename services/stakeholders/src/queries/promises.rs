//! Promises as the API shows them: where each stands today, and for a standing
//! call-before-cancel promise, the gate's record of it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use events::stakeholders::PromiseTo;
use events::values::{LongText, SchoolId};
use kernel::{ReadModel, View};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::{CallBeforeCancelRecord, call_before_cancel_record, held_purchases, standing_outcome};
use crate::domain::promise::Outcome;
use crate::read_models::{
    HeldPurchaseDoc, HeldPurchases, PromiseDoc, PromiseStatus, Promises, SchoolDoc, Schools,
};

/// The read models promise views are built from.
pub const READS: &[&str] = &[Promises::NAME, Schools::NAME, HeldPurchases::NAME];

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
pub struct Joins {
    pub schools: HashMap<String, SchoolDoc>,
    pub held: Vec<HeldPurchaseDoc>,
}

impl Joins {
    pub fn new(schools: Vec<SchoolDoc>, held: Vec<HeldPurchaseDoc>) -> Self {
        let schools = schools.into_iter().map(|s| (s.school_id.as_str().to_owned(), s)).collect();
        Self { schools, held }
    }

    /// What `promises` need: nothing unless one of them is a standing promise.
    pub async fn read(view: &View<'_>, promises: &[PromiseDoc]) -> Result<Self, ApiError> {
        if promises.iter().all(|p| p.status != PromiseStatus::Standing) {
            return Ok(Self::default());
        }
        let (schools, held) = futures::try_join!(view.all::<Schools>(), held_purchases(view))?;
        Ok(Self::new(schools, held))
    }
}

/// The promise as it stands `today`.
pub fn promise_view(doc: PromiseDoc, today: NaiveDate, joins: &Joins) -> PromiseView {
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
        PromiseStatus::Standing => match standing_outcome(record.as_ref()) {
            Outcome::Kept => PromiseState::Kept,
            Outcome::Broken => PromiseState::Broken,
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

/// `docs` as they stand `today`: overdue first, then open, then settled; by due date within
/// each, then by id.
pub fn promise_views(docs: Vec<PromiseDoc>, today: NaiveDate, joins: &Joins) -> Vec<PromiseView> {
    let mut list: Vec<PromiseView> =
        docs.into_iter().map(|p| promise_view(p, today, joins)).collect();
    list.sort_by_key(|p| {
        let group = match p.status {
            PromiseState::Overdue => 0,
            PromiseState::Open => 1,
            PromiseState::Kept | PromiseState::Broken => 2,
        };
        (group, p.due_on, p.promise_id)
    });
    list
}

/// Which promises a list shows; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct PromiseFilter {
    /// Standing so today (`open` excludes `overdue`).
    pub status: Option<PromiseState>,
    /// Made to this person (only promises to people, then).
    pub stakeholder_id: Option<Uuid>,
    /// Made to this school (only promises to schools, then; with `stakeholder_id`, none).
    pub school_id: Option<SchoolId>,
    /// Made by this JWT subject.
    pub owner: Option<String>,
}

impl PromiseFilter {
    /// Whether `p` is to whom and by whom the filter asks.
    fn made(&self, p: &PromiseDoc) -> bool {
        let to = match (&p.to, self.stakeholder_id, &self.school_id) {
            (_, None, None) => true,
            (PromiseTo::Stakeholder { stakeholder_id }, Some(wanted), None) => {
                *stakeholder_id == wanted
            }
            (PromiseTo::School { school_id }, None, Some(wanted)) => school_id == wanted,
            _ => false,
        };
        to && self.owner.as_ref().is_none_or(|o| &p.owner == o)
    }
}

/// The promises `filter` lets through, as they stand `today`, overdue first.
pub async fn promises(
    view: &View<'_>,
    filter: &PromiseFilter,
    today: NaiveDate,
) -> Result<Vec<PromiseView>, ApiError> {
    let docs: Vec<PromiseDoc> =
        view.all::<Promises>().await?.into_iter().filter(|p| filter.made(p)).collect();
    let joins = Joins::read(view, &docs).await?;
    let mut list = promise_views(docs, today, &joins);
    list.retain(|p| filter.status.is_none_or(|s| p.status == s));
    Ok(list)
}

/// The promise `id`, if there is one.
pub async fn promise(
    view: &View<'_>,
    id: Uuid,
    today: NaiveDate,
) -> Result<Option<PromiseView>, ApiError> {
    let Some(doc) = view.one::<Promises>(&id.to_string()).await? else { return Ok(None) };
    let docs = [doc];
    let joins = Joins::read(view, &docs).await?;
    let [doc] = docs;
    Ok(Some(promise_view(doc, today, &joins)))
}

#[cfg(test)]
mod tests {
    use events::gate::PurchaseCancelled;

    use super::*;
    use crate::read_models::testing::*;

    fn views(log: &Log, today: &str) -> Vec<PromiseView> {
        let docs = project(&crate::read_models::all(), &log.events, 1000);
        let joins = Joins::new(collection::<Schools>(&docs), held_docs(&docs));
        promise_views(collection::<Promises>(&docs), day(today), &joins)
    }

    fn status(list: &[PromiseView], id: Uuid) -> PromiseState {
        list.iter().find(|p| p.promise_id == id).unwrap().status
    }

    #[test]
    fn promises_stand_as_of_today_overdue_first() {
        let list = views(&district(), "2024-08-10");
        let order: Vec<_> = list.iter().map(|p| (p.promise_id, p.status)).collect();
        assert_eq!(
            order,
            [
                (PROMISE_SCHOOL, PromiseState::Overdue),
                (PROMISE_DANA, PromiseState::Overdue),
                (STANDING_1, PromiseState::Kept),
                (STANDING_2, PromiseState::Kept),
                (PROMISE_SAM, PromiseState::Kept),
            ]
        );
        let standing = list.iter().find(|p| p.promise_id == STANDING_1).unwrap();
        assert!(standing.standing);
        assert_eq!(standing.call_before_cancel.as_ref().map(|r| r.honoured), Some(1));
        assert!(list.iter().filter(|p| !p.standing).all(|p| p.call_before_cancel.is_none()));
        // Due on the day is not overdue yet.
        assert_eq!(status(&views(&district(), "2024-08-09"), PROMISE_DANA), PromiseState::Open);
    }

    #[test]
    fn a_standing_promise_is_broken_by_a_cancellation_that_breaches_it() {
        let mut log = district();
        log.purchase(
            LATER,
            vec![PurchaseCancelled { reason: long("No budget"), occurred_at: None }.into()],
        );
        let list = views(&log, "2024-08-10");
        assert_eq!(status(&list, STANDING_2), PromiseState::Broken);
        assert_eq!(status(&list, STANDING_1), PromiseState::Kept, "the first agreement's");
    }

    #[test]
    fn filters_by_whom_to_and_by_whom() {
        let docs = collection::<Promises>(&district_docs());
        let made = |filter: PromiseFilter| -> Vec<Uuid> {
            docs.iter().filter(|p| filter.made(p)).map(|p| p.promise_id).collect()
        };
        let to_dana = PromiseFilter { stakeholder_id: Some(DANA), ..PromiseFilter::default() };
        assert_eq!(made(to_dana), [PROMISE_DANA]);
        let to_lincoln = PromiseFilter { school_id: Some(lincoln()), ..PromiseFilter::default() };
        assert_eq!(made(to_lincoln).len(), 3, "both standing promises and the ordinary one");
        let both = PromiseFilter {
            stakeholder_id: Some(DANA),
            school_id: Some(lincoln()),
            ..PromiseFilter::default()
        };
        assert!(made(both).is_empty());
        let by =
            |owner: &str| PromiseFilter { owner: Some(owner.into()), ..PromiseFilter::default() };
        assert_eq!(made(by("cto@district")).len(), 5);
        assert!(made(by("someone-else")).is_empty());
    }
}
