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
//! The unchecked transactions' figures are also kept as a rollup,
//! `reporting.card_spend.unchecked_by_day` and `unchecked_by_month` ([`UNCHECKED_FIGURES`]): by
//! transaction date and school, per currency, by merchant and amount band ([`DaySpend`]), one
//! partition per transaction date ([`rollup::partition_key`]) and one per month. A transaction is
//! added when it becomes unchecked (recorded, or flagged again) and taken away, exactly as it was
//! added, when it stops being so (matched, ambiguous, an undone match); its document says whether
//! it is counted ([`TransactionDoc::counted`]). The report reads these, not the transactions: the
//! partitions of its period's months and days.
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
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};

use super::rogue_spend::{DaySpend, Spent};
use super::rollup::{self, Grains};

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.card_spend";
/// One document per technology card transaction (not a credit), keyed by its stream:
/// [`TransactionDoc`].
pub const TRANSACTIONS: &str = "reporting.card_spend.transactions";
/// One document, [`COVERAGE_KEY`]: [`CoverageDoc`].
pub const COVERAGE: &str = "reporting.card_spend.coverage";
/// The key of the coverage document.
pub const COVERAGE_KEY: &str = "statements";
/// The unchecked transactions' figures: one [`Rollup<DaySpend>`] per transaction date.
pub const UNCHECKED_BY_DAY: &str = "reporting.card_spend.unchecked_by_day";
/// The same, one [`Rollup<DaySpend>`] per month of transaction dates.
pub const UNCHECKED_BY_MONTH: &str = "reporting.card_spend.unchecked_by_month";
/// The unchecked transactions' figures at both grains.
pub const UNCHECKED_FIGURES: Grains = Grains { days: UNCHECKED_BY_DAY, months: UNCHECKED_BY_MONTH };

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
    /// Whether its amount is counted in [`UNCHECKED_BY_DAY`]: while it is unchecked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counted: bool,
}

impl TransactionDoc {
    fn spent(&self) -> Spent<'_> {
        Spent { currency: &self.currency, vendor: &self.merchant, cents: self.cents }
    }
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

/// Keeps [`TRANSACTIONS`], [`UNCHECKED_BY_DAY`] and [`COVERAGE`].
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
    /// 2: keeps the unchecked spend by transaction date and school. 3: one partition per
    /// transaction date. 4: and per month ([`UNCHECKED_BY_MONTH`]).
    const VERSION: u64 = 4;
    type Doc = TransactionDoc;

    fn collections(&self) -> Vec<&'static str> {
        let mut collections = vec![TRANSACTIONS, COVERAGE];
        collections.extend(UNCHECKED_FIGURES.collections());
        collections
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
            // The partitions of a transaction's date are known from its own document: `count`
            // asks for them (see [`eventlog::projection`]).
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, TransactionDoc>) -> Applied {
        match event.event {
            Published::CardTransaction(e) if kept(e) => {
                let id = event.stream_id();
                let before = docs.get(id);
                let mut doc = match e {
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
                            counted: false,
                        }
                    }
                    _ => {
                        // Not technology, a credit, or not recorded: nothing to count.
                        let Some(mut doc) = before.clone() else { return Ok(()) };
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
                count(event, before.as_ref(), &mut doc, docs)?;
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

/// Takes away what the transaction counted `before` in the unchecked rollup, and counts it
/// as it is now if it is unchecked, on its date.
fn count(
    event: &Recorded<'_>,
    before: Option<&TransactionDoc>,
    doc: &mut TransactionDoc,
    docs: &mut Documents<'_, TransactionDoc>,
) -> Result<(), String> {
    let before = before.filter(|b| b.counted);
    let now = doc.status.is_unchecked();
    doc.counted = now;
    if before.is_none() && !now {
        return Ok(());
    }
    for (counted, sign) in before.into_iter().map(|b| (b, -1)).chain(now.then_some((&*doc, 1))) {
        let (day, school) = (counted.transaction_date, &counted.school_id);
        let delta = DaySpend::of(counted.spent(), sign);
        rollup::add(docs, UNCHECKED_FIGURES, day, school, &delta, event)?;
    }
    Ok(())
}

/// Card transactions' histories as the log records them, for the tests of this projection and
/// of the rogue-spend report.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::collections::BTreeMap;

    use chrono::{DateTime, NaiveDate, Utc};
    use eventlog::{Actor, DocKey, Metadata, RecordedEvent};
    use events::EventFamily;
    use events::card::{
        CardMatchUndone, CardTransactionAmbiguous, CardTransactionEvent, CardTransactionFlagged,
        CardTransactionMatched, CardTransactionRecorded, FlagReason, MatchHow, MatchMethod,
        TechnologyReason,
    };
    use events::values::{LongText, Money, SchoolId, ShortText};
    use kernel::ReadModel;
    use serde_json::Value;
    use uuid::Uuid;

    use super::CardSpend;

    /// A transaction recorded from a statement.
    pub struct Card<'a> {
        pub reference: &'a str,
        pub school: &'a str,
        pub date: NaiveDate,
        pub merchant: &'a str,
        pub cents: i64,
        pub technology: bool,
        pub credit: bool,
    }

    impl Card<'_> {
        /// A technology purchase of 1299.99 at BEST BUY #1234, lincoln-elem, 2025-10-03.
        pub fn technology(reference: &str) -> Card<'_> {
            Card {
                reference,
                school: "lincoln-elem",
                date: "2025-10-03".parse().unwrap(),
                merchant: "BEST BUY #1234",
                cents: 129_999,
                technology: true,
                credit: false,
            }
        }

        pub fn recorded(&self) -> CardTransactionEvent {
            CardTransactionRecorded {
                school_id: SchoolId::parse(self.school).unwrap(),
                transaction_date: self.date,
                merchant: ShortText::parse(self.merchant).unwrap(),
                amount: Money::from_cents(self.cents).unwrap(),
                credit: self.credit,
                technology: self.technology.then_some(TechnologyReason::Mcc),
                ..events::testing::card_transaction(self.reference)
            }
            .into()
        }
    }

    pub fn matched() -> CardTransactionEvent {
        let how = MatchHow {
            method: MatchMethod::Exact,
            amount_difference: Money::ZERO,
            days_apart: 0,
            vendor_similarity: 100,
        };
        CardTransactionMatched { purchase_id: Uuid::from_u128(9), how }.into()
    }

    pub fn flagged() -> CardTransactionEvent {
        CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into()
    }

    pub fn ambiguous() -> CardTransactionEvent {
        CardTransactionAmbiguous { candidates: vec![] }.into()
    }

    pub fn undone() -> CardTransactionEvent {
        CardMatchUndone {
            purchase_id: Uuid::from_u128(9),
            reason: LongText::parse("Another order").unwrap(),
        }
        .into()
    }

    /// `(event, when the log recorded it)` pairs as the stream `stream`, from global position
    /// `first` on.
    pub fn as_recorded_at<E: EventFamily>(
        stream: String,
        events: &[(E, DateTime<Utc>)],
        first: u64,
    ) -> Vec<RecordedEvent> {
        events
            .iter()
            .zip(first..)
            .map(|((e, recorded_at), position)| RecordedEvent {
                position,
                id: Uuid::now_v7(),
                stream: stream.clone(),
                version: position - first + 1,
                event_type: e.event_type().into(),
                data: e.to_data(),
                metadata: Metadata::new(Actor::new("jdoe", "it_staff"), "gate"),
                recorded_at: *recorded_at,
                hash: String::new(),
            })
            .collect()
    }

    /// Every document after the events, applied one batch per event.
    pub fn apply(events: &[RecordedEvent]) -> BTreeMap<DocKey, Value> {
        let projection = CardSpend.into_projection();
        for event in events {
            assert!(projection.filter().matches(event), "{}", event.event_type);
        }
        kernel::testing::project(&*projection, events)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use eventlog::RecordedEvent;

    use super::super::rogue_spend::DaySpend;
    use super::super::rollup::Rollup;
    use events::EventFamily;
    use events::card::{StatementImported, statement_stream, transaction_stream};
    use uuid::Uuid;

    use super::fixtures::*;
    use super::*;

    fn recorded(reference: &str, technology: bool, credit: bool) -> CardTransactionEvent {
        Card { technology, credit, ..Card::technology(reference) }.recorded()
    }

    fn as_recorded<E: EventFamily + Clone>(
        stream: String,
        events: &[E],
        first: u64,
    ) -> Vec<RecordedEvent> {
        let at: DateTime<Utc> = "2025-11-01T09:00:00Z".parse().unwrap();
        let events: Vec<(E, DateTime<Utc>)> = events.iter().map(|e| (e.clone(), at)).collect();
        as_recorded_at(stream, &events, first)
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

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// The unchecked rollup's partitions after `events`, by key.
    fn partitions(events: &[RecordedEvent]) -> BTreeMap<String, Rollup<DaySpend>> {
        apply(events)
            .into_iter()
            .filter(|(k, _)| k.collection == UNCHECKED_BY_DAY)
            .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
            .collect()
    }

    /// What the partitions count for `school` on `day` by merchant: (count, cents), summed.
    fn counted(
        partitions: &BTreeMap<String, Rollup<DaySpend>>,
        day: &str,
        school: &str,
    ) -> BTreeMap<String, (i64, i64)> {
        let day: NaiveDate = day.parse().unwrap();
        let mut sums: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let entries = partitions.values().filter_map(|p| p.days.get(&day)?.get(school));
        for (merchant, s) in entries.flat_map(|e| &e.0["USD"].vendors) {
            let sum = sums.entry(merchant.clone()).or_default();
            (sum.0, sum.1) = (sum.0 + s.count, sum.1 + s.cents);
        }
        sums.retain(|_, s| *s != (0, 0));
        sums
    }

    #[test]
    fn given_an_unchecked_transaction_when_matched_later_then_what_it_counted_is_taken_away() {
        // Given a technology transaction of 3 October recorded (unchecked) in October.
        let id = Uuid::from_u128(5);
        let card = Card { date: "2025-10-03".parse().unwrap(), ..Card::technology("REF-9") };
        let mut history = vec![(card.recorded(), at("2025-10-20T09:00:00Z"))];
        let stream = || transaction_stream(id);
        let october = partitions(&as_recorded_at(stream(), &history, 1));
        // Then it counts on its date, at its school, in its date's partition.
        assert_eq!(
            counted(&october, "2025-10-03", "lincoln-elem"),
            [("BEST BUY #1234".to_owned(), (1, 129_999))].into()
        );
        assert_eq!(october.keys().collect::<Vec<_>>(), ["2025-10-03"]);
        let band =
            &october["2025-10-03"].days[&"2025-10-03".parse().unwrap()]["lincoln-elem"].0["USD"];
        assert_eq!(
            band.bands["500-2500"],
            super::super::rogue_spend::Spend { count: 1, cents: 129_999 }
        );

        // When IT matches it in November: it is taken away from its date's partition, exactly.
        history.push((matched(), at("2025-11-02T09:00:00Z")));
        let events = as_recorded_at(stream(), &history, 1);
        let matched_later = partitions(&events);
        assert_eq!(matched_later.keys().collect::<Vec<_>>(), ["2025-10-03"]);
        assert_eq!(counted(&matched_later, "2025-10-03", "lincoln-elem"), BTreeMap::new());
        let docs = apply(&events);
        let doc: TransactionDoc =
            serde_json::from_value(docs[&DocKey::new(TRANSACTIONS, id.to_string())].clone())
                .unwrap();
        assert!(!doc.counted);

        // When the match is undone, flagged again, then found ambiguous: counted once, then not.
        history.push((undone(), at("2025-12-01T09:00:00Z")));
        history.push((flagged(), at("2025-12-01T09:00:01Z")));
        let flagged_again = partitions(&as_recorded_at(stream(), &history, 1));
        assert_eq!(
            counted(&flagged_again, "2025-10-03", "lincoln-elem"),
            [("BEST BUY #1234".to_owned(), (1, 129_999))].into()
        );
        history.push((ambiguous(), at("2026-01-05T09:00:00Z")));
        let ambiguous_now = partitions(&as_recorded_at(stream(), &history, 1));
        assert_eq!(counted(&ambiguous_now, "2025-10-03", "lincoln-elem"), BTreeMap::new());
    }

    #[test]
    fn given_transactions_that_are_never_unchecked_then_the_rollup_counts_nothing() {
        let id = Uuid::from_u128(6);
        let t = at("2025-10-20T09:00:00Z");
        let not_technology = Card { technology: false, ..Card::technology("REF-10") };
        let credit = Card { credit: true, ..Card::technology("REF-11") };
        let mut events =
            as_recorded_at(transaction_stream(id), &[(not_technology.recorded(), t)], 1);
        let other = Uuid::from_u128(7);
        events.extend(as_recorded_at(transaction_stream(other), &[(credit.recorded(), t)], 2));
        // Recorded and matched in the same batch: added and taken away.
        let third = Uuid::from_u128(8);
        let tech = Card::technology("REF-12");
        events.extend(as_recorded_at(
            transaction_stream(third),
            &[(tech.recorded(), t), (matched(), t)],
            3,
        ));
        let partitions = partitions(&events);
        assert!(partitions.values().all(|p| p.days.is_empty()), "{partitions:?}");
    }
}
