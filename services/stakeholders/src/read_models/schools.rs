//! `stakeholders.schools`: each school, its agreement history (with the log positions of each
//! signing and withdrawal, which say which held purchases an agreement covers) and the
//! promises made to it.

use chrono::{DateTime, NaiveDate, Utc};
use eventlog::Filter;
use events::Published;
use events::school::{SCHOOL_CATEGORY, SchoolEvent};
use events::stakeholders::{PROMISE_CATEGORY, PromiseEvent, PromiseMade, PromiseTo};
use events::values::{LongText, SchoolId, ShortText};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    /// A promise made to the school; a standing one is tied to the agreement just signed.
    fn promise_made(&mut self, made: &PromiseMade) {
        self.promise_ids.push(made.promise_id);
        if made.is_call_before_cancel() {
            // Appended right after its agreement-signed, in the same append.
            if let Some(current) = self
                .agreements
                .last_mut()
                .filter(|a| a.withdrawn_on.is_none() && a.promise_id.is_none())
            {
                current.promise_id = Some(made.promise_id);
            }
        }
    }

    /// One of the school's own events, recorded at log position `position`.
    fn apply(&mut self, event: &SchoolEvent, position: u64) -> Result<(), String> {
        match event {
            SchoolEvent::Registered(_) => {}
            SchoolEvent::Updated(u) => self.name = u.name.clone(),
            SchoolEvent::AgreementSigned(s) => {
                self.agreements.push(AgreementRecord {
                    principal_id: s.principal_id,
                    signed_on: s.signed_on,
                    signed_position: position,
                    promise_id: None,
                    withdrawn_on: None,
                    withdrawal_reason: None,
                    withdrawn_position: None,
                });
                self.agreement_status = AgreementStatus::Signed;
            }
            SchoolEvent::AgreementWithdrawn(w) => {
                let current =
                    self.agreements.last_mut().filter(|a| a.withdrawn_on.is_none()).ok_or_else(
                        || format!("agreement-withdrawn at {position} without a signing"),
                    )?;
                current.withdrawn_on = Some(w.withdrawn_on);
                current.withdrawal_reason = Some(w.reason.clone());
                current.withdrawn_position = Some(position);
                self.agreement_status = AgreementStatus::Withdrawn;
            }
        }
        Ok(())
    }
}

/// Keeps `stakeholders.schools`.
#[derive(Debug, Default)]
pub struct Schools;

/// The school a `promise-made` is to, if it is to a school.
fn school_promised(made: &PromiseMade) -> Option<&SchoolId> {
    match &made.to {
        PromiseTo::School { school_id } => Some(school_id),
        PromiseTo::Stakeholder { .. } => None,
    }
}

impl ReadModel for Schools {
    const NAME: &'static str = "stakeholders.schools";
    type Doc = SchoolDoc;

    fn filter(&self) -> Filter {
        Filter::categories([SCHOOL_CATEGORY, PROMISE_CATEGORY])
            .with_types(SchoolEvent::EVENT_TYPES.iter().copied().chain(["promise-made"]))
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::School(_) => vec![event.stream_id().to_owned()],
            Published::Promise(PromiseEvent::Made(made)) => {
                school_promised(made).map(|id| id.as_str().to_owned()).into_iter().collect()
            }
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, SchoolDoc>) -> Applied {
        let at = event.recorded_at;
        let (key, mut doc) = match event.event {
            Published::School(SchoolEvent::Registered(r)) => {
                let doc = SchoolDoc {
                    school_id: r.school_id.clone(),
                    name: r.name.clone(),
                    agreement_status: AgreementStatus::NeverSigned,
                    agreements: vec![],
                    promise_ids: vec![],
                    registered_at: at,
                    updated_at: at,
                };
                docs.put(event.stream_id(), &doc);
                return Ok(());
            }
            Published::School(school_event) => {
                let key = event.stream_id();
                let mut doc = docs.require(key, event)?;
                doc.apply(school_event, event.position)?;
                (key, doc)
            }
            Published::Promise(PromiseEvent::Made(made)) => {
                let Some(school_id) = school_promised(made) else { return Ok(()) };
                let key = school_id.as_str();
                let mut doc = docs.require(key, event)?;
                doc.promise_made(made);
                (key, doc)
            }
            _ => return Ok(()),
        };
        doc.updated_at = at;
        docs.put(key, &doc);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::*;

    #[test]
    fn schools_with_agreement_history_and_promises() {
        let log = district();
        let docs = project(&crate::read_models::all(), &log.events, 1000);
        let school: SchoolDoc = doc::<Schools>(&docs, "lincoln-elem");
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
        let other: SchoolDoc = doc::<Schools>(&docs, "washington-high");
        assert_eq!(other.agreement_status, AgreementStatus::NeverSigned);
        assert!(other.agreement_in_force().is_none());
    }
}
