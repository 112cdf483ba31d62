//! The advocates report (`GET /v1/reports/advocates`): who spoke for IT to whom; for each
//! school that has not signed the agreement, the signed principals who have spoken to its
//! principal; and which signings followed an advocate's word (a principal who signed after
//! someone spoke to them for IT).

use std::collections::HashMap;

use chrono::NaiveDate;
use events::rules::followed_advocacy;
use events::stakeholders::StakeholderRole;
use events::values::{LongText, SchoolId, ShortText};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::read_models::{AgreementStatus, SchoolDoc, StakeholderDoc, school_principal};

/// A person, named.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PersonRef {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub role: StakeholderRole,
    pub school_id: Option<SchoolId>,
}

/// One time a person spoke for IT.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Advocacy {
    pub advocate: PersonRef,
    pub to: PersonRef,
    pub about: LongText,
    pub on: NaiveDate,
}

/// A school that has not signed, and the signed principals who spoke to its principal.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UnsignedSchool {
    pub school_id: SchoolId,
    pub school_name: ShortText,
    pub principal: Option<PersonRef>,
    /// Principals of signed schools who have spoken to this school's principal for IT.
    pub signed_principals_who_spoke: Vec<PersonRef>,
}

/// A signing that followed an advocate's word.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SigningAfterAdvocacy {
    pub school_id: SchoolId,
    pub school_name: ShortText,
    pub signed_on: NaiveDate,
    pub principal: PersonRef,
    /// Who spoke to the principal for IT before they signed (on or before the day).
    pub advocates: Vec<PersonRef>,
}

/// The advocates report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdvocatesReport {
    /// Every time someone spoke for IT, latest first.
    pub advocacy: Vec<Advocacy>,
    /// Every school without an agreement in force, by name.
    pub unsigned_schools: Vec<UnsignedSchool>,
    /// Every signing by a principal someone had spoken to for IT, by date.
    pub signings_after_advocacy: Vec<SigningAfterAdvocacy>,
}

fn person(p: &StakeholderDoc) -> PersonRef {
    PersonRef {
        stakeholder_id: p.stakeholder_id,
        name: p.name.clone(),
        role: p.role,
        school_id: p.school_id.clone(),
    }
}

/// The report from the schools and the people.
pub fn advocates(schools: &[SchoolDoc], people: &[StakeholderDoc]) -> AdvocatesReport {
    let by_id: HashMap<Uuid, &StakeholderDoc> =
        people.iter().map(|p| (p.stakeholder_id, p)).collect();
    let signed: HashMap<&SchoolId, &SchoolDoc> = schools
        .iter()
        .filter(|s| s.agreement_status == AgreementStatus::Signed)
        .map(|s| (&s.school_id, s))
        .collect();
    let mut advocacy: Vec<Advocacy> = people
        .iter()
        .flat_map(|p| p.spoke_for_it.iter().map(move |s| (p, s)))
        .filter_map(|(p, s)| {
            let to = by_id.get(&s.to_stakeholder_id)?;
            Some(Advocacy { advocate: person(p), to: person(to), about: s.about.clone(), on: s.on })
        })
        .collect();
    advocacy.sort_by_key(|a| std::cmp::Reverse(a.on));
    let is_signed_principal = |p: &PersonRef| {
        p.role == StakeholderRole::Principal
            && p.school_id.as_ref().is_some_and(|s| signed.contains_key(s))
    };
    let mut unsigned_schools: Vec<UnsignedSchool> = schools
        .iter()
        .filter(|s| s.agreement_status != AgreementStatus::Signed)
        .map(|school| {
            let principal = school_principal(people, &school.school_id);
            let mut spoke: Vec<PersonRef> = advocacy
                .iter()
                .filter(|a| principal.is_some_and(|p| p.stakeholder_id == a.to.stakeholder_id))
                .map(|a| a.advocate.clone())
                .filter(is_signed_principal)
                .collect();
            spoke.sort_by_key(|p| p.stakeholder_id);
            spoke.dedup();
            UnsignedSchool {
                school_id: school.school_id.clone(),
                school_name: school.name.clone(),
                principal: principal.map(person),
                signed_principals_who_spoke: spoke,
            }
        })
        .collect();
    unsigned_schools.sort_by_key(|s| s.school_name.as_str().to_lowercase());
    let mut signings_after_advocacy: Vec<SigningAfterAdvocacy> = schools
        .iter()
        .flat_map(|school| {
            // Each signing with the withdrawal that ended the one before it, if any.
            let withdrawn_before =
                std::iter::once(None).chain(school.agreements.iter().map(|a| a.withdrawn_on));
            school.agreements.iter().zip(withdrawn_before).map(move |(a, w)| (school, a, w))
        })
        .filter_map(|(school, agreement, withdrawn_before)| {
            let principal = by_id.get(&agreement.principal_id)?;
            let mut before: Vec<PersonRef> = advocacy
                .iter()
                .filter(|a| {
                    followed_advocacy(
                        principal.stakeholder_id,
                        agreement.signed_on,
                        withdrawn_before,
                        a.to.stakeholder_id,
                        a.on,
                    )
                })
                .map(|a| a.advocate.clone())
                .collect();
            before.sort_by_key(|p| p.stakeholder_id);
            before.dedup();
            (!before.is_empty()).then(|| SigningAfterAdvocacy {
                school_id: school.school_id.clone(),
                school_name: school.name.clone(),
                signed_on: agreement.signed_on,
                principal: person(principal),
                advocates: before,
            })
        })
        .collect();
    signings_after_advocacy.sort_by_key(|s| (s.signed_on, s.school_id.clone()));
    AdvocatesReport { advocacy, unsigned_schools, signings_after_advocacy }
}
