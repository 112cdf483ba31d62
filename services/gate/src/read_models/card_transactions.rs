//! `gate.card-transactions`: each card transaction as it stands, for the transaction list
//! and IT's outreach queue (`transactions` below: pure functions of the documents).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use events::Published;
use events::card::{
    CardOutreachLogged, CardTransactionEvent, CardTransactionMatched, CardTransactionRecorded,
    MatchCandidate, TRANSACTION_CATEGORY, TransactionStatus,
};
use events::values::format_cents;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SchoolDoc;

/// IT's outreach to a card holder, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutreachView {
    #[serde(flatten)]
    pub outreach: CardOutreachLogged,
    pub logged_at: DateTime<Utc>,
}

/// A card transaction: what the statement said, and where reconciliation and IT left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TransactionDoc {
    #[serde(flatten)]
    pub recorded: CardTransactionRecorded,
    pub status: TransactionStatus,
    /// The purchase check it is matched with, and how.
    pub matched: Option<CardTransactionMatched>,
    /// Whether IT confirmed the match (a check IT chose is confirmed).
    pub confirmed: bool,
    /// The checks that fitted when reconciliation could not choose.
    pub candidates: Vec<MatchCandidate>,
    /// When it became unchecked technology (absent unless it is).
    pub flagged_at: Option<DateTime<Utc>>,
    pub outreach: Vec<OutreachView>,
    pub recorded_at: DateTime<Utc>,
    /// The log position it was recorded at: the list's order.
    pub sequence: u64,
    pub updated_at: DateTime<Utc>,
}

impl TransactionDoc {
    /// Whether IT still has to reach the card holder: unchecked technology and no outreach
    /// that reached them.
    pub fn needs_outreach(&self) -> bool {
        self.status == TransactionStatus::UncheckedTechnology
            && !self.outreach.iter().any(|o| o.outreach.holder_reached)
    }
}

/// Keeps `gate.card-transactions`.
#[derive(Debug, Default)]
pub struct CardTransactions;

impl ReadModel for CardTransactions {
    const NAME: &'static str = "gate.card-transactions";
    type Doc = TransactionDoc;

    const CATEGORIES: &'static [&'static str] = &[TRANSACTION_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, TransactionDoc>) -> Applied {
        let Published::CardTransaction(decoded) = event.event else { return Ok(()) };
        let key = event.stream_id();
        let at = event.recorded_at;
        let mut doc = match decoded {
            CardTransactionEvent::Recorded(r) => TransactionDoc {
                recorded: r.clone(),
                status: TransactionStatus::NotTechnology,
                matched: None,
                confirmed: false,
                candidates: vec![],
                flagged_at: None,
                outreach: vec![],
                recorded_at: at,
                sequence: event.position,
                updated_at: at,
            },
            _ => docs.require(key, event)?,
        };
        doc.status = TransactionStatus::after(Some(doc.status), decoded).unwrap_or(doc.status);
        match decoded {
            CardTransactionEvent::Recorded(_) | CardTransactionEvent::Flagged(_) => {}
            CardTransactionEvent::Matched(m) => {
                doc.confirmed = m.how.method == events::card::MatchMethod::ChosenByIt;
                doc.matched = Some(m.clone());
                doc.candidates.clear();
            }
            CardTransactionEvent::Ambiguous(a) => doc.candidates = a.candidates.clone(),
            CardTransactionEvent::MatchConfirmed(_) => doc.confirmed = true,
            CardTransactionEvent::MatchUndone(_) => {
                doc.matched = None;
                doc.confirmed = false;
            }
            CardTransactionEvent::OutreachLogged(o) => {
                doc.outreach.push(OutreachView { outreach: o.clone(), logged_at: at });
            }
        }
        doc.flagged_at = match doc.status {
            TransactionStatus::UncheckedTechnology => doc.flagged_at.or(Some(at)),
            _ => None,
        };
        doc.updated_at = at;
        docs.put(key, &doc);
        Ok(())
    }
}

/// Which transactions to list.
#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    pub status: Option<TransactionStatus>,
    pub school_id: Option<String>,
    pub statement_id: Option<uuid::Uuid>,
    /// Only transactions recorded after this log position.
    pub after: u64,
    pub limit: usize,
}

/// A page of card transactions, in the order they were recorded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransactionList {
    pub transactions: Vec<TransactionDoc>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// The page of `docs` that `filter` selects.
pub fn list_transactions(docs: Vec<TransactionDoc>, filter: &TransactionFilter) -> TransactionList {
    let mut selected: Vec<TransactionDoc> = docs
        .into_iter()
        .filter(|t| t.sequence > filter.after)
        .filter(|t| filter.status.is_none_or(|s| t.status == s))
        .filter(|t| filter.school_id.as_ref().is_none_or(|s| t.recorded.school_id.as_str() == s))
        .filter(|t| filter.statement_id.is_none_or(|s| t.recorded.statement_id == s))
        .collect();
    selected.sort_by_key(|t| t.sequence);
    let next_after = (selected.len() > filter.limit).then(|| selected[filter.limit - 1].sequence);
    selected.truncate(filter.limit);
    TransactionList { transactions: selected, next_after }
}

/// Technology bought on a card with no purchase check: IT calls the holder to hear what they
/// needed, since the purchase already happened (outreach, not cancellation).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutreachItem {
    pub transaction_id: uuid::Uuid,
    pub reference: String,
    pub school_id: String,
    pub school_name: Option<String>,
    /// Whether the school has the purchasing agreement in force now.
    pub school_gated_now: bool,
    pub holder_email: String,
    pub card_last4: String,
    pub merchant: String,
    pub mcc: String,
    #[schema(value_type = String, example = "1299.99")]
    pub amount: String,
    pub currency: String,
    pub transaction_date: chrono::NaiveDate,
    pub flagged_at: Option<DateTime<Utc>>,
    /// Attempts so far that did not reach the holder.
    pub attempts: usize,
    pub sequence: u64,
}

/// IT's outreach queue: the unchecked technology whose holder was not reached yet, oldest
/// transaction first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutreachQueue {
    pub items: Vec<OutreachItem>,
    /// How many are waiting, and their total per currency.
    pub waiting: usize,
    pub totals: HashMap<String, String>,
}

/// The outreach queue from the transactions and the schools, `school_id` alone when given.
pub fn outreach_queue(
    docs: Vec<TransactionDoc>,
    schools: &HashMap<String, SchoolDoc>,
    school_id: Option<&str>,
) -> OutreachQueue {
    let mut waiting: Vec<TransactionDoc> = docs
        .into_iter()
        .filter(TransactionDoc::needs_outreach)
        .filter(|t| school_id.is_none_or(|s| t.recorded.school_id.as_str() == s))
        .collect();
    waiting.sort_by_key(|t| (t.recorded.transaction_date, t.sequence));
    let mut cents: HashMap<String, i64> = HashMap::new();
    for t in &waiting {
        *cents.entry(t.recorded.currency.to_string()).or_default() += t.recorded.amount.cents();
    }
    let totals = cents.into_iter().map(|(currency, c)| (currency, format_cents(c))).collect();
    let items: Vec<OutreachItem> = waiting
        .into_iter()
        .map(|t| {
            let school = schools.get(t.recorded.school_id.as_str());
            let r = t.recorded;
            OutreachItem {
                transaction_id: r.transaction_id,
                reference: r.reference.to_string(),
                school_name: school.and_then(|s| s.status.name.as_ref()).map(ToString::to_string),
                school_gated_now: school.is_some_and(|s| s.status.is_gated()),
                school_id: r.school_id.to_string(),
                holder_email: r.holder_email.to_string(),
                card_last4: r.card_last4.to_string(),
                merchant: r.merchant.to_string(),
                mcc: r.mcc.to_string(),
                amount: r.amount.to_string(),
                currency: r.currency.to_string(),
                transaction_date: r.transaction_date,
                flagged_at: t.flagged_at,
                attempts: t.outreach.len(),
                sequence: t.sequence,
            }
        })
        .collect();
    OutreachQueue { waiting: items.len(), items, totals }
}
