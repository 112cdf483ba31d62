//! Schools as the API shows them: where the agreement stands, its history with the record of
//! each standing promise, the promises made to the school and its principals.

use chrono::{DateTime, NaiveDate, Utc};
use events::values::{Email, SchoolId, ShortText};
use kernel::{ReadModel, View};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::promises::{Joins, PromiseView, promise_views};
use super::{CallBeforeCancelRecord, Names, call_before_cancel_record, held_purchases, names};
use crate::read_models::{
    AgreementRecord, AgreementStatus, HeldPurchaseDoc, HeldPurchases, PromiseDoc, Promises,
    SchoolDoc, Schools, StakeholderDoc, Stakeholders,
};

/// The read models a school's view is built from.
pub const READS: &[&str] =
    &[Schools::NAME, Stakeholders::NAME, Promises::NAME, HeldPurchases::NAME];

/// The read models the list of schools is built from.
pub const LIST_READS: &[&str] = &[Schools::NAME, Stakeholders::NAME];

/// The agreement in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrentAgreement {
    /// The principal who signed (a stakeholder id).
    pub principal_id: Uuid,
    pub principal_name: Option<ShortText>,
    pub signed_on: NaiveDate,
    /// Its standing call-before-cancel promise.
    pub promise_id: Option<Uuid>,
}

/// A school and where its purchasing agreement stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchoolSummary {
    pub school_id: SchoolId,
    pub name: ShortText,
    pub agreement_status: AgreementStatus,
    /// Whether the agreement is in force: the gate holds the school's technology purchases
    /// that need review (`held`) rather than letting them through with a note (`advisory`).
    pub gated: bool,
    pub agreement: Option<CurrentAgreement>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One signing of the agreement, and the record of its standing promise.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgreementView {
    #[serde(flatten)]
    pub agreement: AgreementRecord,
    pub principal_name: Option<ShortText>,
    /// The gate's record of the school's purchases held under this agreement.
    pub call_before_cancel: Option<CallBeforeCancelRecord>,
}

/// A principal of the school: who can sign its agreement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrincipalRef {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub email: Email,
}

/// A school: its agreement status and history, the record of the call-before-cancel promise,
/// the promises made to it and its principals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchoolView {
    #[serde(flatten)]
    pub summary: SchoolSummary,
    /// The record of the latest agreement's standing promise (IT never cancels a purchase of
    /// the school before calling the requester and proposing an alternative): the purchases
    /// held under it, how many were cancelled, and whether each cancellation was preceded by a
    /// reached call and an alternative. Absent if the school never signed.
    pub call_before_cancel: Option<CallBeforeCancelRecord>,
    /// Every signing, oldest first.
    pub agreements: Vec<AgreementView>,
    /// Every promise made to the school (the standing ones included), overdue first.
    pub promises: Vec<PromiseView>,
    /// The school's registered principals.
    pub principals: Vec<PrincipalRef>,
}

/// The school in a list, its signers named from `names`.
pub fn summary(doc: &SchoolDoc, names: &Names) -> SchoolSummary {
    SchoolSummary {
        school_id: doc.school_id.clone(),
        name: doc.name.clone(),
        agreement_status: doc.agreement_status,
        gated: doc.agreement_in_force().is_some(),
        agreement: doc.agreement_in_force().map(|a| CurrentAgreement {
            principal_id: a.principal_id,
            principal_name: names.get(&a.principal_id).cloned(),
            signed_on: a.signed_on,
            promise_id: a.promise_id,
        }),
        registered_at: doc.registered_at,
        updated_at: doc.updated_at,
    }
}

/// The schools whose agreement stands as `status` (all when `None`), by name.
pub fn school_list(
    schools: &[SchoolDoc],
    people: &[StakeholderDoc],
    status: Option<AgreementStatus>,
) -> Vec<SchoolSummary> {
    let names = names(people);
    let mut list: Vec<SchoolSummary> = schools
        .iter()
        .filter(|s| status.is_none_or(|status| s.agreement_status == status))
        .map(|s| summary(s, &names))
        .collect();
    list.sort_by(|a, b| {
        (a.name.as_str().to_lowercase(), a.school_id.as_str())
            .cmp(&(b.name.as_str().to_lowercase(), b.school_id.as_str()))
    });
    list
}

/// The schools whose agreement stands as `status` ([`school_list`]), from the read models.
pub async fn schools(
    view: &View<'_>,
    status: Option<AgreementStatus>,
) -> Result<Vec<SchoolSummary>, ApiError> {
    let (schools, people) = futures::try_join!(view.all::<Schools>(), view.all::<Stakeholders>())?;
    Ok(school_list(&schools, &people, status))
}

/// What a school's view joins: the school, the promises made to it, its held purchases and
/// the people (for names and principals).
#[derive(Debug, Clone)]
pub struct SchoolDocs {
    pub school: SchoolDoc,
    pub promises: Vec<PromiseDoc>,
    /// Held purchases; other schools' are left out.
    pub held: Vec<HeldPurchaseDoc>,
    pub people: Vec<StakeholderDoc>,
}

impl SchoolDocs {
    /// The documents of the school `school_id`, if it is registered.
    pub async fn read(view: &View<'_>, school_id: &SchoolId) -> Result<Option<Self>, ApiError> {
        let Some(school) = view.one::<Schools>(school_id.as_str()).await? else { return Ok(None) };
        let promise_ids = school.promise_ids.iter().map(Uuid::to_string);
        let (promises, held, people) = futures::try_join!(
            view.some::<Promises>(promise_ids),
            held_purchases(view),
            view.all::<Stakeholders>(),
        )?;
        Ok(Some(Self { school, promises, held, people }))
    }

    /// The school as it stands `today`.
    pub fn view(self, today: NaiveDate) -> SchoolView {
        let Self { school, promises, held, people } = self;
        let held: Vec<HeldPurchaseDoc> =
            held.into_iter().filter(|p| p.school_id == school.school_id).collect();
        let names = names(&people);
        let record_of = |a: &AgreementRecord| {
            let promise = promises.iter().find(|p| Some(p.promise_id) == a.promise_id)?;
            call_before_cancel_record(promise, &school, &held)
        };
        let agreements: Vec<AgreementView> = school
            .agreements
            .iter()
            .map(|a| AgreementView {
                agreement: a.clone(),
                principal_name: names.get(&a.principal_id).cloned(),
                call_before_cancel: record_of(a),
            })
            .collect();
        let call_before_cancel = agreements.last().and_then(|a| a.call_before_cancel.clone());
        let principals = people
            .iter()
            .filter(|p| p.principal_of() == Some(&school.school_id))
            .map(|p| PrincipalRef {
                stakeholder_id: p.stakeholder_id,
                name: p.name.clone(),
                email: p.email.clone(),
            })
            .collect();
        let summary = summary(&school, &names);
        let promises = promise_views(promises, today, &Joins::new(vec![school], held));
        SchoolView { summary, call_before_cancel, agreements, promises, principals }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::*;

    fn lincoln_docs() -> SchoolDocs {
        let docs = district_docs();
        let school = doc::<Schools>(&docs, "lincoln-elem");
        let promises = collection::<Promises>(&docs)
            .into_iter()
            .filter(|p| school.promise_ids.contains(&p.promise_id))
            .collect();
        SchoolDocs {
            school,
            promises,
            held: held_docs(&docs),
            people: collection::<Stakeholders>(&docs),
        }
    }

    #[test]
    fn a_school_with_its_agreements_their_records_promises_and_principals() {
        let view = lincoln_docs().view(day("2024-08-10"));
        assert!(view.summary.gated);
        let current = view.summary.agreement.as_ref().unwrap();
        assert_eq!(current.principal_name.as_ref().map(ShortText::as_str), Some("Dana Whitfield"));
        assert_eq!(current.promise_id, Some(STANDING_2));
        let records: Vec<_> = view
            .agreements
            .iter()
            .map(|a| a.call_before_cancel.as_ref().map(|r| (r.held_purchases, r.honoured)))
            .collect();
        assert_eq!(records, [Some((3, 1)), Some((1, 0))]);
        assert_eq!(view.call_before_cancel, view.agreements[1].call_before_cancel);
        let principals: Vec<_> = view.principals.iter().map(|p| p.stakeholder_id).collect();
        assert_eq!(principals, [DANA], "Sam teaches there");
        let promises: Vec<_> = view.promises.iter().map(|p| p.promise_id).collect();
        assert_eq!(promises[0], PROMISE_SCHOOL, "overdue first");
        assert_eq!(promises.len(), 3);
    }

    #[test]
    fn schools_by_name_filtered_by_agreement() {
        let docs = district_docs();
        let (schools, people) = (collection::<Schools>(&docs), collection::<Stakeholders>(&docs));
        let all: Vec<_> =
            school_list(&schools, &people, None).into_iter().map(|s| s.school_id).collect();
        assert_eq!(all, [lincoln(), washington()], "Lincoln Elementary, Washington High");
        let never = school_list(&schools, &people, Some(AgreementStatus::NeverSigned));
        assert_eq!(never.len(), 1);
        assert!(!never[0].gated && never[0].agreement.is_none());
        assert!(school_list(&schools, &people, Some(AgreementStatus::Withdrawn)).is_empty());
    }
}
