//! `stakeholders.card_spend`: the gate's technology card transactions, for the unchecked
//! technology spend at a person's school in their relationship health.
//!
//! Each document is the published rule folded over the transaction's stream
//! ([`CardSpend`]: its school, day, amount, currency and where it stands), so what counts as
//! unchecked is decided where the rogue-spend report decides it. Transactions that can never be
//! unchecked (credits, and what is not technology) get no document.

use events::Published;
use events::card::{CardSpend, TRANSACTION_CATEGORY};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};

/// Keeps `stakeholders.card_spend`, one [`CardSpend`] per technology transaction that is not a
/// credit, keyed by its id.
#[derive(Debug, Default)]
pub struct CardSpends;

impl ReadModel for CardSpends {
    const NAME: &'static str = "stakeholders.card_spend";
    /// Its documents hold no personal data (no holder, no merchant): an erasure changes none.
    const REBUILDS_AFTER_ERASURE: bool = false;
    type Doc = CardSpend;

    const CATEGORIES: &'static [&'static str] = &[TRANSACTION_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, CardSpend>) -> Applied {
        let Published::CardTransaction(transaction) = event.event else { return Ok(()) };
        if !CardSpend::follows(transaction) {
            return Ok(());
        }
        let key = event.stream_id();
        let before = docs.get(key);
        match CardSpend::after(before.clone(), transaction) {
            Some(after) if before.as_ref() != Some(&after) => docs.put(key, &after),
            Some(_) => {}
            None if before.is_some() => docs.remove(key),
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::*;

    #[test]
    fn only_technology_that_is_not_a_credit_is_kept_with_where_it_stands() {
        let docs = district_docs();
        let mut spend = collection::<CardSpends>(&docs);
        spend.sort_by_key(|s| s.transaction_date);
        let found: Vec<_> = spend
            .iter()
            .map(|s| (s.school_id.as_str(), s.amount.to_string(), s.is_unchecked()))
            .collect();
        // Unchecked at Lincoln; matched at Lincoln; unchecked at Washington High. The credit
        // and the paper are not followed.
        assert_eq!(
            found,
            [
                ("lincoln-elem", "1299.99".to_owned(), true),
                ("lincoln-elem", "499.00".to_owned(), false),
                ("washington-high", "89.50".to_owned(), true),
            ]
        );
    }
}
