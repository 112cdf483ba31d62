//! The card-spend projection (`reporting.card_spend`) behind the rogue-spend report
//! ([`super::rogue_spend`]): each technology card transaction and where it stands, and the
//! days the imported statements cover.
//!
//! A card transaction's stream (`transaction-{uuid}`) holds its record and its reconciliation
//! (matched, ambiguous, flagged), then IT's confirmations, undone matches and choices; where it
//! stands after each is [`TransactionStatus::after`], the gate's own fold. What counts as
//! unchecked technology is stated once, in [`events::card::CardSpend`] (which relationship
//! health uses too): only technology that is not a credit can ever be unchecked (the gate flags
//! nothing else), so only such transactions get a document: its school, date, merchant, amount
//! and status. The report counts those whose status is `unchecked_technology`
//! ([`TransactionStatus::is_unchecked`]); a later match moves one out, an undone match (and the
//! flag that follows it) moves it back.
//!
//! Each `statement-imported` widens the covered days (the earliest first and latest last
//! transaction date of the statements): unchecked spend is only known for days a statement
//! covers, so the report's before-and-after-signing comparison measures those days.

use chrono::NaiveDate;
use eventlog::{DocKey, Filter};
use events::Published;
use events::card::{
    CardSpend as UncheckedRule, CardTransactionEvent, StatementEvent, TransactionStatus,
};
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.card_spend";
/// One document per technology card transaction (not a credit), keyed by its stream:
/// [`TransactionDoc`].
pub const TRANSACTIONS: &str = "reporting.card_spend.transactions";
/// One document, [`COVERAGE_KEY`]: [`CoverageDoc`].
pub const COVERAGE: &str = "reporting.card_spend.coverage";
/// The key of the coverage document.
pub const COVERAGE_KEY: &str = "statements";

/// A technology card transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionDoc {
    pub school_id: String,
    pub transaction_date: NaiveDate,
    /// The merchant as the statement names it.
    pub merchant: String,
    pub currency: String,
    pub cents: i64,
    pub status: TransactionStatus,
}

/// The days the imported statements cover.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageDoc {
    /// Statements imported.
    pub statements: u64,
    /// The earliest transaction date of any statement.
    pub first_date: Option<NaiveDate>,
    /// The latest.
    pub last_date: Option<NaiveDate>,
}

/// Keeps [`TRANSACTIONS`] and [`COVERAGE`].
#[derive(Debug, Default)]
pub struct CardSpend;

/// Whether the event concerns a document: the published rule of what unchecked spend follows
/// ([`UncheckedRule::follows`]: a recorded technology transaction that is not a credit, and its
/// reconciliation and IT's choices).
fn kept(event: &CardTransactionEvent) -> bool {
    UncheckedRule::follows(event)
}

impl ReadModel for CardSpend {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = TRANSACTIONS;
    const SKIP_UNDECODABLE: bool = true;
    type Doc = TransactionDoc;

    fn collections(&self) -> Vec<&'static str> {
        vec![TRANSACTIONS, COVERAGE]
    }

    fn filter(&self) -> Filter {
        let transactions = CardTransactionEvent::EVENT_TYPES
            .iter()
            .copied()
            .filter(|t| *t != "card-outreach-logged");
        Filter::all().with_types(transactions.chain(StatementEvent::EVENT_TYPES.iter().copied()))
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::CardTransaction(e) if kept(e) => vec![event.stream_id().to_owned()],
            _ => vec![],
        }
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        match event.event {
            Published::Statement(StatementEvent::Imported(_)) => {
                vec![DocKey::new(COVERAGE, COVERAGE_KEY)]
            }
            _ => vec![],
        }
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, TransactionDoc>,
    ) -> Result<(), String> {
        match event.event {
            Published::CardTransaction(e) if kept(e) => {
                let id = event.stream_id();
                let doc = match e {
                    CardTransactionEvent::Recorded(r) => {
                        // Recorded once (the stream is opened with "no stream"); a second
                        // record would start it over.
                        let Some(status) = TransactionStatus::after(None, e) else {
                            return Ok(());
                        };
                        TransactionDoc {
                            school_id: r.school_id.to_string(),
                            transaction_date: r.transaction_date,
                            merchant: r.merchant.to_string(),
                            currency: r.currency.to_string(),
                            cents: r.amount.cents(),
                            status,
                        }
                    }
                    _ => {
                        // Not technology, a credit, or not recorded: nothing to count.
                        let Some(mut doc) = docs.get(id) else { return Ok(()) };
                        let Some(status) = TransactionStatus::after(Some(doc.status), e) else {
                            return Ok(());
                        };
                        if status == doc.status {
                            return Ok(());
                        }
                        doc.status = status;
                        doc
                    }
                };
                docs.put(id, &doc);
            }
            Published::Statement(StatementEvent::Imported(s)) => {
                let mut coverage = docs.of::<CoverageDoc>(COVERAGE);
                let mut doc = coverage.get(COVERAGE_KEY).unwrap_or_default();
                doc.statements += 1;
                doc.first_date = doc.first_date.into_iter().chain(s.first_date).min();
                doc.last_date = doc.last_date.into_iter().chain(s.last_date).max();
                coverage.put(COVERAGE_KEY, &doc);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use eventlog::{Actor, Metadata, RecordedEvent};
    use events::EventFamily;
    use events::card::{
        CardMatchUndone, CardTransactionFlagged, CardTransactionMatched, CardTransactionRecorded,
        FlagReason, MatchHow, MatchMethod, StatementImported, TechnologyReason, statement_stream,
        transaction_id, transaction_stream,
    };
    use events::values::{
        BankReference, CardLast4, Currency, Email, LongText, Mcc, Money, SchoolId, ShortText,
    };
    use serde_json::Value;
    use uuid::Uuid;

    use super::*;

    fn recorded(reference: &str, technology: bool, credit: bool) -> CardTransactionEvent {
        let reference = BankReference::parse(reference).unwrap();
        CardTransactionRecorded {
            transaction_id: transaction_id(&reference),
            reference,
            statement_id: Uuid::from_u128(1),
            line: 2,
            card_id: Uuid::from_u128(2),
            card_last4: CardLast4::parse("4821").unwrap(),
            holder_email: Email::parse("pat.lee@district.org").unwrap(),
            school_id: SchoolId::parse("lincoln-elem").unwrap(),
            transaction_date: "2025-10-03".parse().unwrap(),
            posted_on: None,
            merchant: ShortText::parse("BEST BUY #1234").unwrap(),
            mcc: Mcc::parse("5732").unwrap(),
            amount: Money::parse("1299.99").unwrap(),
            credit,
            currency: Currency::parse("USD").unwrap(),
            technology: technology.then_some(TechnologyReason::Mcc),
            policy_version: 3,
        }
        .into()
    }

    fn matched() -> CardTransactionEvent {
        let how = MatchHow {
            method: MatchMethod::Exact,
            amount_difference: Money::ZERO,
            days_apart: 0,
            vendor_similarity: 100,
        };
        CardTransactionMatched { purchase_id: Uuid::from_u128(9), how }.into()
    }

    fn flagged() -> CardTransactionEvent {
        CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into()
    }

    fn undone() -> CardTransactionEvent {
        CardMatchUndone {
            purchase_id: Uuid::from_u128(9),
            reason: LongText::parse("Another order").unwrap(),
        }
        .into()
    }

    fn as_recorded<E: EventFamily>(stream: String, events: &[E], first: u64) -> Vec<RecordedEvent> {
        events
            .iter()
            .zip(first..)
            .map(|(e, position)| RecordedEvent {
                position,
                id: Uuid::now_v7(),
                stream: stream.clone(),
                version: position - first + 1,
                event_type: e.event_type().into(),
                data: e.to_data(),
                metadata: Metadata::new(Actor::new("jdoe", "it_staff"), "gate"),
                recorded_at: "2025-11-01T09:00:00Z".parse().unwrap(),
                hash: String::new(),
            })
            .collect()
    }

    /// Every document after the events, applied one batch per event.
    fn apply(events: &[RecordedEvent]) -> BTreeMap<DocKey, Value> {
        let projection = CardSpend.into_projection();
        for event in events {
            assert!(projection.filter().matches(event), "{}", event.event_type);
        }
        kernel::testing::project(&*projection, events)
    }

    fn status_after(events: &[CardTransactionEvent]) -> Option<TransactionStatus> {
        let id = Uuid::from_u128(5);
        let docs = apply(&as_recorded(transaction_stream(id), events, 1));
        let key = DocKey::new(TRANSACTIONS, id.to_string());
        docs.get(&key)
            .map(|doc| serde_json::from_value::<TransactionDoc>(doc.clone()).unwrap().status)
    }

    #[test]
    fn a_technology_transaction_is_followed_through_its_reconciliation() {
        use TransactionStatus::*;
        let r = || recorded("REF-1", true, false);
        assert_eq!(status_after(&[r(), flagged()]), Some(UncheckedTechnology));
        assert_eq!(status_after(&[r(), matched()]), Some(Matched));
        assert_eq!(status_after(&[r(), flagged(), matched()]), Some(Matched));
        assert_eq!(status_after(&[r(), matched(), undone(), flagged()]), Some(UncheckedTechnology));
    }

    #[test]
    fn other_transactions_get_no_document() {
        assert_eq!(status_after(&[recorded("REF-2", false, false), matched(), undone()]), None);
        assert_eq!(status_after(&[recorded("REF-3", true, true)]), None);
        // Events of a transaction never recorded.
        assert_eq!(status_after(&[flagged()]), None);
    }

    #[test]
    fn statements_widen_the_covered_days() {
        let imported = |first: &str, last: &str| -> StatementEvent {
            StatementImported {
                statement_id: Uuid::now_v7(),
                profile: "procgate".into(),
                file_sha256: "00".repeat(32),
                idempotency_key: None,
                rows: 1,
                transactions: 1,
                recorded: 1,
                already_recorded: 0,
                matched: 0,
                ambiguous: 0,
                unchecked_technology: 1,
                not_technology: 0,
                credits: 0,
                first_date: Some(first.parse().unwrap()),
                last_date: Some(last.parse().unwrap()),
            }
            .into()
        };
        let events = [imported("2025-10-01", "2025-10-31"), imported("2025-09-15", "2025-10-20")];
        let docs = apply(&as_recorded(statement_stream(Uuid::from_u128(3)), &events, 1));
        let doc = &docs[&DocKey::new(COVERAGE, COVERAGE_KEY)];
        let doc: CoverageDoc = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(
            doc,
            CoverageDoc {
                statements: 2,
                first_date: Some("2025-09-15".parse().unwrap()),
                last_date: Some("2025-10-31".parse().unwrap()),
            }
        );
    }
}
