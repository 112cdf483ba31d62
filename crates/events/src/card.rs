//! Purchasing cards and their statements: the gate writes them, reporting reads them.
//!
//! ## Streams
//!
//! | stream | family | what |
//! |---|---|---|
//! | `card-{uuid}` ([`card_stream`]) | [`CardEvent`] | a purchasing card: its last four digits, its holder, their school |
//! | `statement-{uuid}` ([`statement_stream`]) | [`StatementEvent`] | one imported statement file and what it added |
//! | `transaction-{uuid}` ([`transaction_stream`]) | [`CardTransactionEvent`] | one card transaction and its reconciliation |
//! | `reconciliation-district` ([`RECONCILIATION_STREAM`]) | [`ReconciliationEvent`] | how the district matches card transactions with purchase checks |
//! | `cardmatch-{uuid}` ([`card_match_stream`]) | [`CardMatchEvent`] | which transaction a purchase check is matched with: what makes a check one transaction's, race-free |
//!
//! A transaction's id is UUID v5 of its bank reference ([`transaction_id`]), and its stream is
//! opened with the expected version "no stream": whatever statements carry it, and however
//! many imports run at once, a transaction is recorded once.
//!
//! ## A transaction's life
//!
//! `card-transaction-recorded`, and in the same append its reconciliation: one purchase check
//! fits it (`card-transaction-matched`, saying how), several do (`card-transaction-ambiguous`:
//! IT chooses, nobody guesses), or none does and it is technology
//! (`card-transaction-flagged`: unchecked technology, for IT to reach out about). A
//! transaction that is not technology and that no check fits needs nothing more. IT may then
//! confirm a match (`card-match-confirmed`), undo it (`card-match-undone`, followed by
//! `card-transaction-flagged` when the transaction is technology), choose the check itself
//! (`card-transaction-matched` with the method `chosen_by_it`), and log its outreach to the
//! card holder (`card-outreach-logged`). [`TransactionStatus::after`] is where a transaction
//! stands after each event.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rules::{Claim, claim_holder};
use crate::values::{
    BankReference, CardLast4, Currency, Email, IdempotencyKey, LongText, Mcc, Money, SchoolId,
    ShortText,
};

/// The category of card streams.
pub const CARD_CATEGORY: &str = "card";
/// The category of statement streams.
pub const STATEMENT_CATEGORY: &str = "statement";
/// The category of card-transaction streams.
pub const TRANSACTION_CATEGORY: &str = "transaction";
/// The category of the reconciliation settings' stream.
pub const RECONCILIATION_CATEGORY: &str = "reconciliation";
/// The category of the streams of purchase checks' card matches.
pub const CARD_MATCH_CATEGORY: &str = "cardmatch";
/// The one stream holding the district's reconciliation settings.
pub const RECONCILIATION_STREAM: &str = "reconciliation-district";

/// The namespace of transaction ids: `transaction_id = v5(namespace, reference)`.
pub const TRANSACTION_NAMESPACE: Uuid = Uuid::from_u128(0x8d5e_1c4a_27b9_4f03_a6e2_93c1_0b7d_5f18);

/// The stream of card `id`: `card-{id}`.
pub fn card_stream(id: Uuid) -> String {
    format!("{CARD_CATEGORY}-{id}")
}

/// The stream of statement `id`: `statement-{id}`.
pub fn statement_stream(id: Uuid) -> String {
    format!("{STATEMENT_CATEGORY}-{id}")
}

/// The stream of transaction `id`: `transaction-{id}`.
pub fn transaction_stream(id: Uuid) -> String {
    format!("{TRANSACTION_CATEGORY}-{id}")
}

/// The stream of the card match of purchase check `purchase_id`: `cardmatch-{purchase_id}`.
pub fn card_match_stream(purchase_id: Uuid) -> String {
    format!("{CARD_MATCH_CATEGORY}-{purchase_id}")
}

/// The id of the transaction the issuer calls `reference`: the same in every statement.
pub fn transaction_id(reference: &BankReference) -> Uuid {
    Uuid::new_v5(&TRANSACTION_NAMESPACE, reference.as_str().as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Cards

/// A purchasing card was registered, or its details changed: who holds it and for which
/// school, so that its transactions are attributed to a person and a school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardRegistered {
    pub card_id: Uuid,
    pub last4: CardLast4,
    pub holder_email: Email,
    pub school_id: SchoolId,
}

/// A card's details changed: the same fields, as they are now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardUpdated {
    pub card_id: Uuid,
    pub last4: CardLast4,
    pub holder_email: Email,
    pub school_id: SchoolId,
}

event_family! {
    /// The events of a `card-{uuid}` stream.
    pub enum CardEvent in "card" {
        /// `card-registered`
        Registered(CardRegistered) = "card-registered",
        /// `card-updated`
        Updated(CardUpdated) = "card-updated",
    }
}

// ---------------------------------------------------------------------------------------------
// Statements

/// A statement file was imported: everything it added was appended with this, in one atomic
/// append. Counts are of distinct transactions (a reference twice in a file is one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatementImported {
    pub statement_id: Uuid,
    /// The profile the file was read with (`procgate`, `usbank`, `munis`, `mapping`).
    pub profile: String,
    /// Hex SHA-256 of the file as received.
    pub file_sha256: String,
    /// The `Idempotency-Key` the import carried, if any.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Data rows in the file.
    pub rows: u64,
    /// Distinct transactions in the file.
    pub transactions: u64,
    /// Transactions recorded by this import.
    pub recorded: u64,
    /// Transactions an earlier statement had recorded: not counted again.
    pub already_recorded: u64,
    pub matched: u64,
    pub ambiguous: u64,
    pub unchecked_technology: u64,
    pub not_technology: u64,
    pub credits: u64,
    /// The earliest and latest transaction dates in the file.
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
}

event_family! {
    /// The events of a `statement-{uuid}` stream.
    pub enum StatementEvent in "statement" {
        /// `statement-imported`
        Imported(StatementImported) = "statement-imported",
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions

/// Why a transaction counts as technology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TechnologyReason {
    /// Its merchant category code is one of the policy's technology codes.
    Mcc,
    /// Its merchant is one IT lists as a technology merchant.
    ListedMerchant,
}

/// A card transaction from a statement. Always followed, in the same append, by its
/// reconciliation when it matched, was ambiguous, or is unchecked technology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardTransactionRecorded {
    /// UUID v5 of `reference` ([`transaction_id`]).
    pub transaction_id: Uuid,
    pub reference: BankReference,
    /// The statement that first carried it, and its line there (1 is the first line).
    pub statement_id: Uuid,
    pub line: u64,
    pub card_id: Uuid,
    pub card_last4: CardLast4,
    /// The card's holder and school when it was recorded.
    pub holder_email: Email,
    pub school_id: SchoolId,
    pub transaction_date: NaiveDate,
    pub posted_on: Option<NaiveDate>,
    /// The merchant as the statement names it.
    pub merchant: ShortText,
    pub mcc: Mcc,
    /// The amount, always positive; `credit` says whether it was paid back to the card.
    pub amount: Money,
    pub credit: bool,
    pub currency: Currency,
    /// Why it is technology; absent when it is not.
    pub technology: Option<TechnologyReason>,
    /// The version of the `standards-district` stream it was classified against.
    pub policy_version: u64,
}

/// How a match was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchMethod {
    /// The amounts are equal to the cent (dates within the window, vendor names similar).
    Exact,
    /// The amounts differ by no more than the district's tolerance.
    WithinTolerance,
    /// IT chose the purchase check.
    ChosenByIt,
}

/// How a transaction and a purchase check fit each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatchHow {
    pub method: MatchMethod,
    /// |transaction amount − what the check costs now| (its accepted alternative's total, when
    /// that alternative priced its lines; else its total).
    pub amount_difference: Money,
    /// Days between the check and the transaction: before the day it was asked, or after that
    /// day or the day IT approved it, whichever is later; 0 between them.
    pub days_apart: u32,
    /// How similar the merchant's name is to the check's vendor, 0 to 100.
    pub vendor_similarity: u8,
}

/// The transaction was matched with a purchase check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardTransactionMatched {
    pub purchase_id: Uuid,
    pub how: MatchHow,
}

/// One purchase check that fits a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MatchCandidate {
    pub purchase_id: Uuid,
    pub how: MatchHow,
}

/// Several purchase checks fit the transaction equally well: IT chooses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardTransactionAmbiguous {
    pub candidates: Vec<MatchCandidate>,
}

/// Why a transaction was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// Technology bought on a card with no purchase check: IT reaches out to the holder.
    UncheckedTechnology,
}

/// The transaction is technology no purchase check covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardTransactionFlagged {
    pub reason: FlagReason,
}

/// IT confirmed the match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardMatchConfirmed {
    pub purchase_id: Uuid,
}

/// IT undid the match: the check was not this purchase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardMatchUndone {
    pub purchase_id: Uuid,
    pub reason: LongText,
}

/// IT reached out (or tried to) to the card holder about an unchecked technology purchase:
/// outreach, not cancellation, since the purchase already happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardOutreachLogged {
    pub outreach_id: Uuid,
    pub holder_reached: bool,
    pub notes: Option<LongText>,
    pub occurred_at: DateTime<Utc>,
}

event_family! {
    /// The events of a `transaction-{uuid}` stream.
    pub enum CardTransactionEvent in "transaction" {
        /// `card-transaction-recorded`
        Recorded(CardTransactionRecorded) = "card-transaction-recorded",
        /// `card-transaction-matched`
        Matched(CardTransactionMatched) = "card-transaction-matched",
        /// `card-transaction-ambiguous`
        Ambiguous(CardTransactionAmbiguous) = "card-transaction-ambiguous",
        /// `card-transaction-flagged`
        Flagged(CardTransactionFlagged) = "card-transaction-flagged",
        /// `card-match-confirmed`
        MatchConfirmed(CardMatchConfirmed) = "card-match-confirmed",
        /// `card-match-undone`
        MatchUndone(CardMatchUndone) = "card-match-undone",
        /// `card-outreach-logged`
        OutreachLogged(CardOutreachLogged) = "card-outreach-logged",
    }
}

/// Where a card transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// A purchase check covers it.
    Matched,
    /// Several checks fit: IT chooses.
    Ambiguous,
    /// Technology that no check covers.
    UncheckedTechnology,
    /// Not technology and no check: recorded, not flagged.
    NotTechnology,
    /// Money paid back to the card.
    Credit,
}

impl TransactionStatus {
    /// Every status, in the order lists show them.
    pub const ALL: [Self; 5] = [
        Self::Matched,
        Self::Ambiguous,
        Self::UncheckedTechnology,
        Self::NotTechnology,
        Self::Credit,
    ];

    /// The wire name (`unchecked_technology`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::Ambiguous => "ambiguous",
            Self::UncheckedTechnology => "unchecked_technology",
            Self::NotTechnology => "not_technology",
            Self::Credit => "credit",
        }
    }

    /// Whether a transaction in this status counts as unchecked technology spend ([`CardSpend`]).
    pub fn is_unchecked(self) -> bool {
        self == Self::UncheckedTechnology
    }

    /// Where a transaction stands after `event`, from where it stood (`None`: not recorded).
    /// Recorded, it is a credit, unchecked technology or not technology; its reconciliation
    /// and IT's choices move it. An undone match leaves it not technology until the
    /// `card-transaction-flagged` that follows it for technology.
    pub fn after(status: Option<Self>, event: &CardTransactionEvent) -> Option<Self> {
        Some(match event {
            CardTransactionEvent::Recorded(r) if r.credit => Self::Credit,
            CardTransactionEvent::Recorded(r) if r.technology.is_some() => {
                Self::UncheckedTechnology
            }
            CardTransactionEvent::Recorded(_) => Self::NotTechnology,
            CardTransactionEvent::Matched(_) | CardTransactionEvent::MatchConfirmed(_) => {
                Self::Matched
            }
            CardTransactionEvent::Ambiguous(_) => Self::Ambiguous,
            CardTransactionEvent::Flagged(_) => Self::UncheckedTechnology,
            CardTransactionEvent::MatchUndone(_) => Self::NotTechnology,
            CardTransactionEvent::OutreachLogged(_) => return status,
        })
    }
}

impl std::fmt::Display for TransactionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TransactionStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| {
            "must be one of matched, ambiguous, unchecked_technology, not_technology, credit"
                .to_owned()
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Unchecked technology spend

/// A card transaction as the figures of unchecked technology spend count it: the one
/// statement of that rule, for the rogue-spend report and for relationship health (the
/// unchecked spend at a person's school).
///
/// **Unchecked technology** is technology bought on a purchasing card that no purchase check
/// covers: a transaction whose status ([`TransactionStatus::after`]) is `unchecked_technology`
/// ([`TransactionStatus::is_unchecked`]): the gate's reconciliation flagged it, and IT has not
/// matched it since. Only a technology transaction that is not a credit can ever be that (the
/// gate flags nothing else), so only those are followed ([`CardSpend::follows`]). Its amount is
/// the transaction's, its school the card's when the transaction was recorded, its day the
/// transaction date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSpend {
    pub school_id: SchoolId,
    pub transaction_date: NaiveDate,
    pub amount: Money,
    pub currency: Currency,
    pub status: TransactionStatus,
}

impl CardSpend {
    /// Whether `event` can change what the figures count: the record of a technology
    /// transaction that is not a credit, and every reconciliation and choice of IT (outreach
    /// changes no status).
    pub fn follows(event: &CardTransactionEvent) -> bool {
        match event {
            CardTransactionEvent::Recorded(r) => r.technology.is_some() && !r.credit,
            CardTransactionEvent::OutreachLogged(_) => false,
            _ => true,
        }
    }

    /// The transaction after `event`, from what it was (`None`: not followed, or not recorded
    /// yet). A record starts it over (a transaction is recorded once: its stream is opened with
    /// the expected version "no stream").
    pub fn after(spend: Option<Self>, event: &CardTransactionEvent) -> Option<Self> {
        if !Self::follows(event) {
            return spend;
        }
        match event {
            CardTransactionEvent::Recorded(r) => Some(Self {
                school_id: r.school_id.clone(),
                transaction_date: r.transaction_date,
                amount: r.amount,
                currency: r.currency,
                status: TransactionStatus::after(None, event)?,
            }),
            _ => {
                let mut spend = spend?;
                spend.status = TransactionStatus::after(Some(spend.status), event)?;
                Some(spend)
            }
        }
    }

    /// The transaction after `events`, in stream order.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = &'a CardTransactionEvent>,
    ) -> Option<Self> {
        events.into_iter().fold(None, Self::after)
    }

    /// Whether it counts as unchecked technology spend now.
    pub fn is_unchecked(&self) -> bool {
        self.status.is_unchecked()
    }
}

// ---------------------------------------------------------------------------------------------
// Reconciliation settings

/// How the district matches card transactions with purchase checks, and which merchants IT
/// counts as technology whatever their category code. Replaces the previous settings whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationSet {
    /// A check fits a transaction whose amount differs by at most this much…
    pub amount_tolerance: Money,
    /// …or by at most this percentage of the check's total, whichever is larger (0 to 100).
    pub amount_tolerance_percent: u8,
    /// …dated at most this many days before the day the check was asked, or after that day or
    /// the day IT approved it (a held purchase), whichever is later (0 to 366)…
    pub date_window_days: u16,
    /// …at a merchant whose name is at least this similar to the check's vendor (0 to 100).
    pub min_vendor_similarity: u8,
    /// Merchants whose transactions are technology whatever their category code (`Geek
    /// Squad`): a merchant whose name holds one of these as whole words (`GEEK SQUAD #12`,
    /// not `BESTBUYGEEKSQUAD`), whatever `min_vendor_similarity` is.
    pub technology_merchants: Vec<ShortText>,
}

impl Default for ReconciliationSet {
    /// The settings until IT sets its own: 5.00 or 2 %, 7 days, similarity 60, no listed
    /// merchants.
    fn default() -> Self {
        Self {
            amount_tolerance: Money::from_cents(500).expect("5.00 is a valid amount"),
            amount_tolerance_percent: 2,
            date_window_days: 7,
            min_vendor_similarity: 60,
            technology_merchants: vec![],
        }
    }
}

event_family! {
    /// The events of the `reconciliation-district` stream.
    pub enum ReconciliationEvent in "reconciliation" {
        /// `reconciliation-set`
        Set(ReconciliationSet) = "reconciliation-set",
    }
}

// ---------------------------------------------------------------------------------------------
// Card matches of purchase checks

/// A transaction was matched with the purchase check (by the reconciliation or by IT), in the
/// same append, at the check's match stream's version read ("no stream" for a check never
/// matched): two transactions cannot take one check, whatever runs at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardMatchClaimed {
    pub transaction_id: Uuid,
}

/// The transaction's match with the check was undone: the check is free again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardMatchReleased {
    pub transaction_id: Uuid,
}

event_family! {
    /// The events of a `cardmatch-{uuid}` stream.
    pub enum CardMatchEvent in "cardmatch" {
        Claimed(CardMatchClaimed) = "card-match-claimed",
        Released(CardMatchReleased) = "card-match-released",
    }
}

/// The transaction a purchase check is matched with, folded from its match stream: `None`
/// when none is (never matched, or released).
pub fn matched_transaction<'a>(
    events: impl IntoIterator<Item = &'a CardMatchEvent>,
) -> Option<Uuid> {
    claim_holder(events.into_iter().map(|event| match event {
        CardMatchEvent::Claimed(c) => Claim::Taken(c.transaction_id),
        CardMatchEvent::Released(r) => Claim::Released(r.transaction_id),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::round_trip;

    #[test]
    fn given_claims_and_releases_then_the_last_claim_not_released_holds_the_check() {
        let (one, two) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let claimed = |t| CardMatchEvent::from(CardMatchClaimed { transaction_id: t });
        let released = |t| CardMatchEvent::from(CardMatchReleased { transaction_id: t });
        assert_eq!(matched_transaction(&[]), None);
        assert_eq!(matched_transaction(&[claimed(one)]), Some(one));
        assert_eq!(matched_transaction(&[claimed(one), released(one)]), None);
        // A release of another transaction's match (one recorded before checks were claimed)
        // leaves the holder.
        assert_eq!(matched_transaction(&[claimed(one), released(two)]), Some(one));
        assert_eq!(matched_transaction(&[claimed(one), released(one), claimed(two)]), Some(two));
        round_trip(vec![claimed(one), released(one)]);
    }

    fn recorded(technology: Option<TechnologyReason>, credit: bool) -> CardTransactionRecorded {
        CardTransactionRecorded {
            posted_on: Some("2025-10-05".parse().unwrap()),
            credit,
            technology,
            ..crate::testing::card_transaction("24692164129100012345678")
        }
    }

    fn how(method: MatchMethod) -> MatchHow {
        MatchHow {
            method,
            amount_difference: Money::parse("1.50").unwrap(),
            days_apart: 2,
            vendor_similarity: 100,
        }
    }

    fn transaction_events() -> Vec<CardTransactionEvent> {
        vec![
            recorded(Some(TechnologyReason::Mcc), false).into(),
            CardTransactionMatched {
                purchase_id: Uuid::from_u128(9),
                how: how(MatchMethod::Exact),
            }
            .into(),
            CardTransactionAmbiguous {
                candidates: vec![MatchCandidate {
                    purchase_id: Uuid::from_u128(9),
                    how: how(MatchMethod::WithinTolerance),
                }],
            }
            .into(),
            CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into(),
            CardMatchConfirmed { purchase_id: Uuid::from_u128(9) }.into(),
            CardMatchUndone {
                purchase_id: Uuid::from_u128(9),
                reason: LongText::parse("Another order").unwrap(),
            }
            .into(),
            CardOutreachLogged {
                outreach_id: Uuid::from_u128(3),
                holder_reached: true,
                notes: None,
                occurred_at: "2025-10-07T15:00:00Z".parse().unwrap(),
            }
            .into(),
        ]
    }

    #[test]
    fn every_event_round_trips() {
        round_trip(transaction_events());
        let card = CardRegistered {
            card_id: Uuid::from_u128(2),
            last4: CardLast4::parse("4821").unwrap(),
            holder_email: Email::parse("pat.lee@district.org").unwrap(),
            school_id: SchoolId::parse("lincoln-elem").unwrap(),
        };
        let updated = CardUpdated {
            card_id: card.card_id,
            last4: card.last4.clone(),
            holder_email: card.holder_email.clone(),
            school_id: card.school_id.clone(),
        };
        round_trip(vec![CardEvent::Registered(card), CardEvent::Updated(updated)]);
        round_trip(vec![ReconciliationEvent::Set(ReconciliationSet::default())]);
        round_trip(vec![StatementEvent::from(StatementImported {
            statement_id: Uuid::from_u128(1),
            profile: "procgate".into(),
            file_sha256: "ab".repeat(32),
            idempotency_key: None,
            rows: 3,
            transactions: 2,
            recorded: 2,
            already_recorded: 0,
            matched: 1,
            ambiguous: 0,
            unchecked_technology: 1,
            not_technology: 0,
            credits: 0,
            first_date: Some("2025-10-01".parse().unwrap()),
            last_date: Some("2025-10-03".parse().unwrap()),
        })]);
    }

    #[test]
    fn the_wire_form_keeps_money_as_strings_and_dates_as_days() {
        let data =
            CardTransactionEvent::from(recorded(Some(TechnologyReason::Mcc), false)).to_data();
        assert_eq!(data["amount"], "1299.99");
        assert_eq!(data["transaction_date"], "2025-10-03");
        assert_eq!(data["technology"], "mcc");
        assert_eq!(data["card_last4"], "4821");
    }

    #[test]
    fn a_reference_is_one_transaction_wherever_it_appears() {
        let a = BankReference::parse("REF-1").unwrap();
        assert_eq!(transaction_id(&a), transaction_id(&BankReference::parse("REF-1").unwrap()));
        assert_ne!(transaction_id(&a), transaction_id(&BankReference::parse("REF-2").unwrap()));
        assert_eq!(transaction_stream(transaction_id(&a)).split('-').next(), Some("transaction"));
    }

    #[test]
    fn unchecked_spend_is_technology_on_a_card_that_no_check_covers() {
        let events = transaction_events();
        let flagged = CardTransactionEvent::from(CardTransactionFlagged {
            reason: FlagReason::UncheckedTechnology,
        });
        let spend =
            |events: &[&CardTransactionEvent]| CardSpend::from_events(events.iter().copied());
        // Recorded technology, not a credit, with no check: unchecked, at the card's school,
        // for the transaction's amount and day.
        let bought = &events[0];
        let unchecked = spend(&[bought, &flagged]).unwrap();
        assert!(unchecked.is_unchecked());
        assert_eq!(unchecked.school_id.as_str(), "lincoln-elem");
        assert_eq!(unchecked.amount, Money::parse("1299.99").unwrap());
        assert_eq!(unchecked.transaction_date, "2025-10-03".parse().unwrap());
        // Matched (or confirmed), then no longer; undone and flagged again, once more.
        assert!(!spend(&[bought, &events[1]]).unwrap().is_unchecked());
        assert!(!spend(&[bought, &events[1], &events[4]]).unwrap().is_unchecked());
        assert!(spend(&[bought, &events[1], &events[5], &flagged]).unwrap().is_unchecked());
        // Several checks fit: IT chooses; not unchecked meanwhile.
        assert!(!spend(&[bought, &events[2]]).unwrap().is_unchecked());
        // Outreach changes nothing.
        assert!(!CardSpend::follows(&events[6]));
        assert!(spend(&[bought, &flagged, &events[6]]).unwrap().is_unchecked());
        // Credits and transactions that are not technology are never followed, whatever follows.
        let credit = CardTransactionEvent::from(recorded(Some(TechnologyReason::Mcc), true));
        let plain = CardTransactionEvent::from(recorded(None, false));
        assert_eq!(spend(&[&credit, &flagged]), None);
        assert_eq!(spend(&[&plain, &events[1], &events[5]]), None);
        // Nor is a transaction never recorded.
        assert_eq!(spend(&[&flagged]), None);
    }

    #[test]
    fn status_follows_the_reconciliation_and_it() {
        use TransactionStatus::*;
        let events = transaction_events();
        let after = |status, i: usize| TransactionStatus::after(status, &events[i]);
        assert_eq!(after(None, 0), Some(UncheckedTechnology));
        let plain = CardTransactionEvent::from(recorded(None, false));
        assert_eq!(TransactionStatus::after(None, &plain), Some(NotTechnology));
        let credit = CardTransactionEvent::from(recorded(Some(TechnologyReason::Mcc), true));
        assert_eq!(TransactionStatus::after(None, &credit), Some(Credit));
        assert_eq!(after(Some(UncheckedTechnology), 1), Some(Matched));
        assert_eq!(after(Some(UncheckedTechnology), 2), Some(Ambiguous));
        assert_eq!(after(Some(Matched), 5), Some(NotTechnology));
        assert_eq!(after(Some(NotTechnology), 3), Some(UncheckedTechnology));
        assert_eq!(after(Some(UncheckedTechnology), 6), Some(UncheckedTechnology));
        for status in TransactionStatus::ALL {
            assert_eq!(status.as_str().parse::<TransactionStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }
}
