//! The gate's read models (typed, see `kernel::ReadModel`), one per file.
//!
//! - `gate.purchases`: one summary per purchase, for the purchase list and the held queue.
//! - `gate.schools`: each school's registration and agreement, from the `school-…` streams the
//!   stakeholder relations service writes.
//! - `gate.stakeholders`: each registered stakeholder's e-mail address, to tell whether a
//!   purchase's requester is one (and who) when IT logs a call.
//! - `gate.cards`, `gate.card-transactions`, `gate.card-purchases`: purchasing cards, card
//!   transactions as they stand (the transaction list and IT's outreach queue), and the
//!   purchase checks paid by card that statements are reconciled with.
//!
//! A purchase check never relies on these for its decision: it reads the school's and the
//! standards' streams themselves, so a change acknowledged before the check is always seen
//! whatever the projections' lag. Reads of the lists wait until the projection has caught up
//! with the log's head, so a list read after a check shows it.

mod card_purchases;
mod card_transactions;
mod cards;
mod purchases;
mod queue;
mod schools;
mod stakeholders;

use std::sync::Arc;

use eventlog::Projection;
use kernel::ReadModel;

pub use card_purchases::{CardPurchaseDoc, CardPurchases};
pub use card_transactions::{
    CardTransactions, OutreachItem, OutreachQueue, OutreachView, TransactionDoc, TransactionFilter,
    TransactionList, list_transactions, outreach_queue,
};
pub use cards::{CardDoc, Cards};
pub use purchases::{PurchaseDoc, PurchaseSummary, Purchases};
pub use queue::{ListFilter, ListOrder, ListedPurchase, PurchaseList, list};
pub use schools::{SchoolDoc, Schools};
pub use stakeholders::{StakeholderEmailDoc, StakeholderEmails, stakeholder_with_email};

/// Every read model of the gate, as the projections the log runs.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Purchases.into_projection(),
        Schools.into_projection(),
        StakeholderEmails.into_projection(),
        Cards.into_projection(),
        CardPurchases.into_projection(),
        CardTransactions.into_projection(),
    ]
}
