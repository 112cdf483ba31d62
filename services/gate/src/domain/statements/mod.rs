//! Statement import: rows in, a plan of events out, all or nothing.
//!
//! A statement is read row by row ([`profiles`]); each row is checked against the district as
//! it comes ([`Collector`]): its card must be registered (and its last four digits name one
//! card), its currency must be the policy's, and a reference given twice must give the same
//! transaction both times. Every problem is kept with its line and field; a statement with
//! any is refused whole. Then [`plan`] leaves out the transactions an earlier statement
//! recorded, classifies the rest (technology by merchant category code or by IT's list of
//! merchants), reconciles them with the purchase checks ([`super::matching`]) and returns
//! every event to append, in one atomic append, with the statement's summary.

pub mod profiles;

use std::collections::{HashMap, HashSet};

use events::card::{
    CardTransactionAmbiguous, CardTransactionEvent, CardTransactionFlagged, CardTransactionMatched,
    CardTransactionRecorded, FlagReason, ReconciliationSet, StatementImported, TechnologyReason,
    transaction_id,
};
use events::values::{BankReference, CardLast4, Currency, Email, IdempotencyKey, Mcc, SchoolId};
use uuid::Uuid;

use super::matching::{self, Charge, CheckRef, Reconciled};
pub use profiles::{Field, Layout, Mapping, RowError, StatementRow, read_rows};

/// The most transactions one statement may hold: it is appended as one atomic batch.
pub const MAX_TRANSACTIONS: usize = 200_000;
/// The most errors an answer lists (`error_count` counts them all).
pub const MAX_ERRORS_LISTED: usize = 1_000;

/// A registered card, as an import needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct CardInfo {
    pub card_id: Uuid,
    pub last4: CardLast4,
    pub holder_email: Email,
    pub school_id: SchoolId,
}

/// What checking and classifying a statement's rows needs from the district.
#[derive(Debug, Clone)]
pub struct Context {
    pub statement_id: Uuid,
    /// The cards, by their last four digits (two cards may share them).
    pub cards: HashMap<CardLast4, Vec<CardInfo>>,
    /// The policy's currency, technology codes and version.
    pub currency: Currency,
    pub technology_mccs: HashSet<Mcc>,
    pub policy_version: u64,
    pub settings: ReconciliationSet,
}

impl Context {
    /// Why `mcc` and `merchant` make a transaction technology, if they do.
    fn technology(&self, mcc: &Mcc, merchant: &str) -> Option<TechnologyReason> {
        if self.technology_mccs.contains(mcc) {
            Some(TechnologyReason::Mcc)
        } else if matching::listed_merchant(merchant, &self.settings) {
            Some(TechnologyReason::ListedMerchant)
        } else {
            None
        }
    }
}

/// A statement's rows as they are read: the transactions (one per reference) and every
/// error, with the counts an answer needs.
#[derive(Debug)]
pub struct Collector {
    context: Context,
    transactions: Vec<CardTransactionRecorded>,
    by_reference: HashMap<BankReference, usize>,
    errors: Vec<RowError>,
    error_count: u64,
    rows: u64,
}

/// The statement's transactions, or why it is refused.
#[derive(Debug)]
pub enum Collected {
    Valid { rows: u64, transactions: Vec<CardTransactionRecorded> },
    Refused { rows: u64, errors: Vec<RowError>, error_count: u64 },
}

impl Collector {
    pub fn new(context: Context) -> Self {
        Self {
            context,
            transactions: Vec::new(),
            by_reference: HashMap::new(),
            errors: Vec::new(),
            error_count: 0,
            rows: 0,
        }
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    fn error(&mut self, error: RowError) {
        self.error_count += 1;
        if self.errors.len() < MAX_ERRORS_LISTED {
            self.errors.push(error);
        }
    }

    /// Takes one row as [`read_rows`] hands it over.
    pub fn push(&mut self, row: Result<StatementRow, Vec<RowError>>) {
        self.rows += 1;
        match row {
            Ok(row) => self.check(row),
            Err(errors) => errors.into_iter().for_each(|e| self.error(e)),
        }
    }

    fn check(&mut self, row: StatementRow) {
        let line = row.line;
        let card = match self.context.cards.get(&row.card_last4).map(Vec::as_slice) {
            Some([card]) => Some(card.clone()),
            Some(several) => {
                let message = format!(
                    "{} cards end in {}: the statement cannot say which one this is",
                    several.len(),
                    row.card_last4
                );
                self.error(RowError::new(line, Field::CardLast4.name(), message));
                None
            }
            None => {
                let message = format!(
                    "no registered card ends in {}: IT registers cards first",
                    row.card_last4
                );
                self.error(RowError::new(line, Field::CardLast4.name(), message));
                None
            }
        };
        let currency = row.currency.unwrap_or(self.context.currency);
        if currency != self.context.currency {
            let message = format!(
                "the statement is in {currency}, but the district's policy is in {}",
                self.context.currency
            );
            self.error(RowError::new(line, Field::Currency.name(), message));
            return;
        }
        let Some(card) = card else { return };
        let technology = self.context.technology(&row.mcc, row.merchant.as_str());
        let recorded = CardTransactionRecorded {
            transaction_id: transaction_id(&row.reference),
            reference: row.reference,
            statement_id: self.context.statement_id,
            line,
            card_id: card.card_id,
            card_last4: card.last4,
            holder_email: card.holder_email,
            school_id: card.school_id,
            transaction_date: row.transaction_date,
            posted_on: row.posted_on,
            merchant: row.merchant,
            mcc: row.mcc,
            amount: row.amount,
            credit: row.credit,
            currency,
            technology: if row.credit { None } else { technology },
            policy_version: self.context.policy_version,
        };
        if let Some(&first) = self.by_reference.get(&recorded.reference) {
            let earlier = &self.transactions[first];
            if !same_transaction(earlier, &recorded) {
                let message = format!(
                    "the reference {} is on line {} with other details: one reference is one transaction",
                    recorded.reference, earlier.line
                );
                self.error(RowError::new(line, Field::Reference.name(), message));
            }
            return;
        }
        if self.transactions.len() >= MAX_TRANSACTIONS {
            let message = format!(
                "a statement holds at most {MAX_TRANSACTIONS} transactions: split the file"
            );
            self.error(RowError::new(line, "file", message));
            return;
        }
        self.by_reference.insert(recorded.reference.clone(), self.transactions.len());
        self.transactions.push(recorded);
    }

    /// The transactions, or every error (by line) when there is any.
    pub fn finish(mut self) -> Collected {
        if self.error_count > 0 {
            self.errors.sort_by_key(|e| e.line);
            Collected::Refused {
                rows: self.rows,
                errors: self.errors,
                error_count: self.error_count,
            }
        } else {
            Collected::Valid { rows: self.rows, transactions: self.transactions }
        }
    }
}

/// Whether two rows with one reference give the same transaction (their lines aside).
fn same_transaction(a: &CardTransactionRecorded, b: &CardTransactionRecorded) -> bool {
    (a.card_id, &a.transaction_date, &a.merchant, &a.mcc, a.amount, a.credit)
        == (b.card_id, &b.transaction_date, &b.merchant, &b.mcc, b.amount, b.credit)
}

/// What an import appends: the statement's summary and each new transaction's events.
#[derive(Debug)]
pub struct ImportPlan {
    pub imported: StatementImported,
    /// Each new transaction's id and events, in file order.
    pub transactions: Vec<(Uuid, Vec<CardTransactionEvent>)>,
}

/// The statement file as read: what its summary records besides the counts.
#[derive(Debug, Clone)]
pub struct StatementFile {
    pub profile: String,
    pub file_sha256: String,
    pub idempotency_key: Option<IdempotencyKey>,
    /// Data rows in the file.
    pub rows: u64,
}

/// What the statement adds (each new transaction cloned into its events), given the
/// transactions already recorded (`existing`, by id) and the card-paid checks not yet matched
/// (`checks`).
pub fn plan(
    context: &Context,
    file: StatementFile,
    transactions: &[CardTransactionRecorded],
    existing: &HashSet<Uuid>,
    checks: &[CheckRef],
) -> ImportPlan {
    let total = transactions.len() as u64;
    let first_date = transactions.iter().map(|t| t.transaction_date).min();
    let last_date = transactions.iter().map(|t| t.transaction_date).max();
    let new: Vec<&CardTransactionRecorded> =
        transactions.iter().filter(|t| !existing.contains(&t.transaction_id)).collect();
    let charges: Vec<Charge<'_>> = new.iter().map(|t| Charge::from(*t)).collect();
    let outcomes = matching::reconcile(&charges, checks, &context.settings);
    drop(charges);
    let mut imported = StatementImported {
        statement_id: context.statement_id,
        profile: file.profile,
        file_sha256: file.file_sha256,
        idempotency_key: file.idempotency_key,
        rows: file.rows,
        transactions: total,
        recorded: new.len() as u64,
        already_recorded: total - new.len() as u64,
        matched: 0,
        ambiguous: 0,
        unchecked_technology: 0,
        not_technology: 0,
        credits: 0,
        first_date,
        last_date,
    };
    let transactions = new
        .into_iter()
        .zip(outcomes)
        .map(|(recorded, outcome)| {
            let id = recorded.transaction_id;
            let (credit, technology) = (recorded.credit, recorded.technology.is_some());
            let mut events = vec![CardTransactionEvent::Recorded(recorded.clone())];
            match outcome {
                Reconciled::Matched(m) => {
                    imported.matched += 1;
                    events.push(
                        CardTransactionMatched { purchase_id: m.purchase_id, how: m.how }.into(),
                    );
                }
                Reconciled::Ambiguous(candidates) => {
                    imported.ambiguous += 1;
                    events.push(CardTransactionAmbiguous { candidates }.into());
                }
                Reconciled::Unmatched if credit => imported.credits += 1,
                Reconciled::Unmatched if technology => {
                    imported.unchecked_technology += 1;
                    events.push(
                        CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into(),
                    );
                }
                Reconciled::Unmatched => imported.not_technology += 1,
            }
            (id, events)
        })
        .collect();
    ImportPlan { imported, transactions }
}

#[cfg(test)]
mod tests;
