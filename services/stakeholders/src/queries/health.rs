//! The facts a stakeholder's relationship health is scored from, joined from the read models.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use events::card::CardSpend;
use events::stakeholders::PromiseTo;
use uuid::Uuid;

use super::{call_before_cancel_record, standing_outcome};
use crate::domain::health::{
    AsOf, FollowUpFact, HealthInputs, HeldPurchaseFact, PromiseFact, RequestFact, RequestOutcome,
    WishFact, health,
};
use crate::domain::promise::Outcome;
use crate::read_models::{
    FollowUpDoc, HeldPurchase, HeldPurchaseDoc, HeldState, PromiseDoc, PromiseStatus, SchoolDoc,
    StakeholderDoc, WishDoc,
};

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
    /// Held purchases (with their clocks), of which those they requested count (their e-mail
    /// on the check).
    pub requested: &'a [HeldPurchase],
    /// Technology card transactions, of which those of their school count.
    pub card_spend: &'a [CardSpend],
}

/// Whether `who` requested `purchase` (the check's e-mail is theirs, ignoring case).
pub fn requested_by(who: &StakeholderDoc, purchase: &HeldPurchaseDoc) -> bool {
    purchase.requester_email.is(&who.email)
}

fn request_fact(held: &HeldPurchase) -> Option<RequestFact> {
    let p = &held.purchase;
    let outcome = match p.state {
        HeldState::Submitted => return None,
        HeldState::Held => RequestOutcome::Open,
        HeldState::Approved => RequestOutcome::Approved,
        HeldState::Cancelled => {
            RequestOutcome::Cancelled { call_before_cancel: p.call_before_cancel.unwrap_or(false) }
        }
    };
    Some(RequestFact {
        flagged_at: p.flagged_at?,
        answered_at: p.answered_at(),
        alternatives_proposed: p.alternatives_proposed,
        alternative_accepted: p.accepted_alternative.is_some(),
        outcome,
        clocks: held.clocks.clone(),
    })
}

/// The last *meaningful* contact with a person: their latest conversation. What decays their
/// relationship health (`crate::domain::health`, "Trust decays") and puts them on the
/// going-cold list ([`crate::queries::going_cold`]). A reached call on one of their held
/// purchases does not count (the health module's docs say why); were it to, it would be added
/// here and nowhere else.
pub fn last_meaningful_contact(who: &StakeholderDoc) -> Option<DateTime<Utc>> {
    who.last_contact
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
        .map(|w| WishFact {
            status: w.status,
            last_activity_at: w.last_activity_at,
            headway: w.progress.iter().filter(|p| p.is_headway()).count() as u32,
        })
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
                PromiseStatus::Standing => {
                    let record = school.and_then(|(s, held)| call_before_cancel_record(p, s, held));
                    Some(standing_outcome(record.as_ref()))
                }
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
    let requests: Vec<RequestFact> = docs
        .requested
        .iter()
        .filter(|p| requested_by(who, &p.purchase))
        .filter_map(request_fact)
        .collect();
    // A principal is answered for the whole school; anyone else for what they asked.
    let held_purchases = held_purchases.or_else(|| {
        let mine = requests
            .iter()
            .map(|r| HeldPurchaseFact { flagged_at: r.flagged_at, answered_at: r.answered_at });
        (!requests.is_empty()).then(|| mine.collect())
    });
    HealthInputs {
        last_contact: last_meaningful_contact(who),
        conversations: who.conversations.len() as u32,
        follow_ups,
        promises,
        wishes,
        held_purchases,
        requests,
        school_card_spend: who.school_id.as_ref().map(|school| {
            let spend = docs.card_spend.iter().filter(|s| s.school_id == *school);
            (school.clone(), spend.cloned().collect())
        }),
    }
}

/// Whole collections of the read models, to score many people at once.
#[derive(Debug, Clone, Default)]
pub struct Collections {
    pub wishes: Vec<WishDoc>,
    pub follow_ups: Vec<FollowUpDoc>,
    pub promises: Vec<PromiseDoc>,
    pub schools: Vec<SchoolDoc>,
    pub held: Vec<HeldPurchase>,
}

/// Each person's health score as of a moment, from whole collections grouped once.
pub fn health_scores(
    people: &[StakeholderDoc],
    all: Collections,
    as_of: &AsOf,
) -> HashMap<Uuid, u32> {
    let mut wishes_of: HashMap<Uuid, Vec<WishDoc>> = HashMap::new();
    for w in all.wishes {
        wishes_of.entry(w.stakeholder_id).or_default().push(w);
    }
    let mut follow_ups_of: HashMap<Uuid, Vec<FollowUpDoc>> = HashMap::new();
    for f in all.follow_ups {
        follow_ups_of.entry(f.stakeholder_id).or_default().push(f);
    }
    let mut promises_to: HashMap<Uuid, Vec<PromiseDoc>> = HashMap::new();
    let mut promises_to_school: HashMap<String, Vec<PromiseDoc>> = HashMap::new();
    for p in all.promises {
        match &p.to {
            PromiseTo::Stakeholder { stakeholder_id } => {
                promises_to.entry(*stakeholder_id).or_default().push(p)
            }
            PromiseTo::School { school_id } => {
                promises_to_school.entry(school_id.as_str().to_owned()).or_default().push(p)
            }
        }
    }
    let mut held_of: HashMap<String, Vec<HeldPurchaseDoc>> = HashMap::new();
    let mut requested_by: HashMap<String, Vec<HeldPurchase>> = HashMap::new();
    for p in all.held {
        let requester = p.purchase.requester_email.key();
        let school = p.purchase.school_id.as_str().to_owned();
        held_of.entry(school).or_default().push(p.purchase.clone());
        requested_by.entry(requester).or_default().push(p);
    }
    let schools: HashMap<String, SchoolDoc> =
        all.schools.into_iter().map(|s| (s.school_id.as_str().to_owned(), s)).collect();
    let none: Vec<HeldPurchaseDoc> = Vec::new();
    people
        .iter()
        .map(|who| {
            let school = who.principal_of().and_then(|id| schools.get(id.as_str()));
            let mut promises = promises_to.get(&who.stakeholder_id).cloned().unwrap_or_default();
            if let Some(s) = school {
                promises.extend(
                    promises_to_school.get(s.school_id.as_str()).into_iter().flatten().cloned(),
                );
            }
            let held = school.and_then(|s| held_of.get(s.school_id.as_str())).unwrap_or(&none);
            let inputs = health_inputs(HealthDocs {
                stakeholder: who,
                follow_ups: follow_ups_of.get(&who.stakeholder_id).map_or(&[], Vec::as_slice),
                wishes: wishes_of.get(&who.stakeholder_id).map_or(&[], Vec::as_slice),
                promises: &promises,
                school: school.map(|s| (s, held.as_slice())),
                requested: requested_by.get(&who.email.key()).map_or(&[], Vec::as_slice),
                // The school's card spend is counted, not scored.
                card_spend: &[],
            });
            (who.stakeholder_id, health(&inputs, as_of).score)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use events::calendar::DistrictCalendar;
    use events::reminders::ContactSettings;

    use super::*;
    use crate::read_models::testing::*;
    use crate::read_models::{FollowUps, HeldPurchases, Promises, Schools, Stakeholders, Wishes};

    fn as_of(now: DateTime<Utc>) -> AsOf {
        AsOf::new(now, DistrictCalendar::default(), ContactSettings::default())
    }

    #[test]
    fn health_from_the_read_models() {
        let docs = district_docs();
        let dana = doc::<Stakeholders>(&docs, DANA);
        let school = doc::<Schools>(&docs, "lincoln-elem");
        let follow_ups = collection::<FollowUps>(&docs);
        let wishes = collection::<Wishes>(&docs);
        let promises = collection::<Promises>(&docs);
        let held = held_docs(&docs);
        // Everyone's documents, and the school's, for `stakeholder`.
        let inputs_for = |stakeholder| {
            health_inputs(HealthDocs {
                stakeholder,
                follow_ups: &follow_ups,
                wishes: &wishes,
                promises: &promises,
                school: Some((&school, &held)),
                requested: &[],
                card_spend: &[],
            })
        };
        let inputs = inputs_for(&dana);
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
        let h = health(&inputs, &as_of(now));
        // One overdue follow-up (10), two overdue promises (20), contact from Thursday
        // 2024-08-01 decayed over six business days (30 × ½^(6/45) = 27.4: 3), the waiting
        // purchase has waited over 72 hours (10); median answer over 24 hours (10).
        let codes: Vec<_> = h.penalties.iter().map(|p| (p.code.as_str(), p.points)).collect();
        assert_eq!(
            codes,
            [
                ("overdue-follow-ups", 10),
                ("overdue-promises", 20),
                ("contact-decay", 3),
                ("slow-median-answer", 10),
                ("slow-longest-answer", 10)
            ]
        );
        assert_eq!(h.contact.business_days_since, Some(6));
        assert_eq!(h.score, 47);
        assert_eq!(
            h.promises,
            crate::domain::health::PromiseCounts { open: 2, kept: 2, broken: 0, overdue: 2 }
        );

        // For a teacher: no school figures, whatever is passed.
        let sam = doc::<Stakeholders>(&docs, SAM);
        let inputs = inputs_for(&sam);
        assert!(inputs.held_purchases.is_none());
        assert_eq!(inputs.promises.len(), 1);
        assert_eq!(health(&inputs, &as_of(now)).score, 97, "contact decay alone");
    }

    #[test]
    fn given_a_wish_only_declined_then_it_had_no_headway() {
        use events::stakeholders::{WishProgressed, WishStatus};

        let docs = district_docs();
        let dana = doc::<Stakeholders>(&docs, DANA);
        let mut wishes = collection::<Wishes>(&docs);
        let at: DateTime<Utc> = "2024-08-05T12:00:00Z".parse().unwrap();
        let declined =
            WishProgressed { note: long("Not this year"), status: WishStatus::Declined, at };
        for w in wishes.iter_mut().filter(|w| w.stakeholder_id == dana.stakeholder_id) {
            w.status = WishStatus::Declined;
            w.progress = vec![declined.clone()];
            w.last_activity_at = at;
        }
        let inputs = health_inputs(HealthDocs {
            stakeholder: &dana,
            follow_ups: &[],
            wishes: &wishes,
            promises: &[],
            school: None,
            requested: &[],
            card_spend: &[],
        });
        assert_eq!(inputs.wishes.len(), 1);
        assert_eq!(inputs.wishes[0].headway, 0, "declining is an answer, not headway");
        let h = health(&inputs, &as_of("2024-08-10T12:00:00Z".parse().unwrap()));
        assert_eq!((h.wishes.declined, h.wishes.progressed), (1, 0));
    }

    #[test]
    fn given_a_standing_promise_without_a_record_then_it_is_kept_as_its_view_shows() {
        let docs = district_docs();
        let dana = doc::<Stakeholders>(&docs, DANA);
        // The school's history as read holds neither agreement: no record of either promise.
        let mut school = doc::<Schools>(&docs, "lincoln-elem");
        school.agreements.clear();
        let promises = collection::<Promises>(&docs);
        let held = held_docs(&docs);
        let inputs = health_inputs(HealthDocs {
            stakeholder: &dana,
            follow_ups: &[],
            wishes: &[],
            promises: &promises,
            school: Some((&school, &held)),
            requested: &[],
            card_spend: &[],
        });
        let standing: Vec<_> = inputs.promises.iter().filter(|p| p.standing).collect();
        assert_eq!(standing.len(), 2);
        assert!(standing.iter().all(|p| p.outcome == Some(Outcome::Kept)), "{standing:?}");

        let joins = crate::queries::promises::Joins::new(vec![school], held);
        let today = day("2024-08-10");
        for p in promises.into_iter().filter(|p| p.status == PromiseStatus::Standing) {
            let view = crate::queries::promises::promise_view(p, today, &joins);
            assert_eq!(view.status, crate::queries::promises::PromiseState::Kept);
        }
    }

    #[test]
    fn scores_from_whole_collections_equal_each_persons_own() {
        let docs = district_docs();
        let people = collection::<Stakeholders>(&docs);
        let all = Collections {
            wishes: collection::<Wishes>(&docs),
            follow_ups: collection::<FollowUps>(&docs),
            promises: collection::<Promises>(&docs),
            schools: collection::<Schools>(&docs),
            held: collection::<HeldPurchases>(&docs),
        };
        let now: DateTime<Utc> = "2024-08-10T12:00:00Z".parse().unwrap();
        let scores = health_scores(&people, all, &as_of(now));
        assert_eq!((scores[&DANA], scores[&SAM]), (47, 97));
    }
}
