//! The record of a standing call-before-cancel promise, from the gate's held purchases.

use chrono::NaiveDate;
use events::stakeholders::PromiseTo;
use events::values::SchoolId;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::promise::Outcome;
use crate::read_models::{HeldPurchaseDoc, PromiseDoc, PromiseStatus, SchoolDoc};

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

/// Whether a standing call-before-cancel promise was kept, by its `record` (`None` when there
/// is none: its school or its agreement is not in the history read): kept until a
/// cancellation breaches it. The promise views and relationship health both judge it here.
pub fn standing_outcome(record: Option<&CallBeforeCancelRecord>) -> Outcome {
    match record {
        Some(r) if r.outcome == PromiseStatus::Broken => Outcome::Broken,
        _ => Outcome::Kept,
    }
}

#[cfg(test)]
mod tests {
    use events::gate::PurchaseCancelled;

    use super::*;
    use crate::read_models::testing::*;
    use crate::read_models::{Promises, Schools};

    #[test]
    fn the_call_before_cancel_record_per_agreement() {
        let mut log = district();
        // A cancellation without a proposed alternative (the gate refuses it; the record must
        // still catch it if it ever got into the log).
        log.purchase(
            LATER,
            vec![
                call(true, log.clock),
                PurchaseCancelled { reason: long("No budget"), occurred_at: None }.into(),
            ],
        );
        let docs = project(&crate::read_models::all(), &log.events, 1000);
        let school = doc::<Schools>(&docs, "lincoln-elem");
        let held = held_docs(&docs);

        let first = doc::<Promises>(&docs, STANDING_1);
        let record = call_before_cancel_record(&first, &school, &held).unwrap();
        assert!(!record.in_force);
        assert_eq!(record.since, day("2024-08-01"));
        assert!(record.until.is_some());
        assert_eq!((record.held_purchases, record.cancelled, record.honoured), (3, 1, 1));
        assert_eq!(record.outcome, PromiseStatus::Kept);

        let second = doc::<Promises>(&docs, STANDING_2);
        let record = call_before_cancel_record(&second, &school, &held).unwrap();
        assert!(record.in_force);
        assert_eq!((record.held_purchases, record.cancelled, record.honoured), (1, 1, 0));
        assert_eq!(record.breaches, [LATER]);
        assert_eq!(record.outcome, PromiseStatus::Broken);

        // Not a standing promise, or not this school's: no record.
        let ordinary = doc::<Promises>(&docs, PROMISE_SCHOOL);
        assert!(call_before_cancel_record(&ordinary, &school, &held).is_none());
        let other = doc::<Schools>(&docs, "washington-high");
        assert!(call_before_cancel_record(&first, &other, &held).is_none());
    }
}
