//! The stakeholder relations service's read models, kept from the log: one per file, each a
//! document type and its [`kernel::ReadModel`] (events decoded once into the published enums,
//! documents written with the checkpoint in one transaction).
//!
//! | collection | key | document | from |
//! |---|---|---|---|
//! | `stakeholders.schools` | school id | [`SchoolDoc`]: name, agreement status and history, promises made to the school | `school-*`; `promise-made` to a school |
//! | `stakeholders.stakeholders` | stakeholder id | [`StakeholderDoc`]: profile, conversations, ids of their wishes, follow-ups and promises | `stakeholder-*`; `wish-recorded`, `followup-scheduled`, `promise-made` to a stakeholder |
//! | `stakeholders.wishes` | wish id | [`WishDoc`]: the wish, status, headway | `wish-*` |
//! | `stakeholders.promises` | promise id | [`PromiseDoc`]: the promise and its outcome | `promise-*` |
//! | `stakeholders.followups` | follow-up id | [`FollowUpDoc`] | `followup-*` |
//! | `stakeholders.rounds` | round id | [`RoundDoc`]: a round of meetings as planned | `round-*` |
//! | `stakeholders.card_spend` | transaction id | [`events::card::CardSpend`]: a technology card transaction (not a credit), its school and whether it is unchecked | the gate's `transaction-*` |
//! | `stakeholders.held_purchases` | purchase id | [`HeldPurchase`]: the gate's held purchases, for answer speed, the requests' counts and the standing promise, with the call-before-cancel rule and the clocks folded over each | the gate's `purchase-*` |
//!
//! A read model must name the documents an event touches from the event alone. The gate's
//! `call-logged` or `purchase-cancelled` does not name its school, and `wish-progressed` does
//! not name its stakeholder, so no read model can keep per-school or per-stakeholder totals of
//! them. Instead documents keep references (a stakeholder's wish, follow-up and promise ids; a
//! school's promise ids and agreement history with the log positions of each signing and
//! withdrawal), and [`crate::queries`] joins them when the API reads.

mod card_spend;
mod follow_ups;
mod held_purchases;
mod promises;
mod rounds;
mod schools;
mod stakeholders;
mod wishes;

#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;

use eventlog::Projection;
use kernel::ReadModel;

pub use card_spend::CardSpends;
pub use follow_ups::{FollowUpDoc, FollowUps, sort_follow_ups};
pub use held_purchases::{HeldPurchase, HeldPurchaseDoc, HeldPurchases, HeldState};
pub use promises::{PromiseDoc, PromiseStatus, Promises};
pub use rounds::{RoundDoc, Rounds};
pub use schools::{AgreementRecord, AgreementStatus, SchoolDoc, Schools};
pub use stakeholders::{StakeholderDoc, Stakeholders, school_principal};
pub use wishes::{WishDoc, Wishes};

/// Every read model of the service, as projections to spawn or rebuild.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Schools.into_projection(),
        Stakeholders.into_projection(),
        Wishes.into_projection(),
        Promises.into_projection(),
        FollowUps.into_projection(),
        HeldPurchases.into_projection(),
        Rounds.into_projection(),
        CardSpends.into_projection(),
    ]
}

/// The names of every read model (their collections and checkpoints).
pub const ALL: &[&str] = &[
    Schools::NAME,
    Stakeholders::NAME,
    Wishes::NAME,
    Promises::NAME,
    FollowUps::NAME,
    HeldPurchases::NAME,
    Rounds::NAME,
    CardSpends::NAME,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use eventlog::{Actor, Metadata, NewEvent};

    use super::testing::{district, project};
    use super::*;

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
        assert_eq!(names.len(), 8);
        assert_eq!(names, ALL.iter().map(|n| n.to_string()).collect());
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
        assert_eq!(incremental[Schools::NAME].len(), 2);
        assert_eq!(incremental[HeldPurchases::NAME].len(), 4);
        assert_eq!(incremental[CardSpends::NAME].len(), 3, "technology, not credits");
        let school: SchoolDoc =
            serde_json::from_value(incremental[Schools::NAME][0].1.clone()).unwrap();
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
