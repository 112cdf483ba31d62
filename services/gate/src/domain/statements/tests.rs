//! Each profile reads its fixture (`tests/fixtures/`, the samples the README shows); the
//! collector refuses a statement whole, naming every bad line and field; the plan leaves out
//! what was recorded before and reconciles the rest.

use chrono::NaiveDate;
use events::card::{CardTransactionEvent, MatchMethod, TechnologyReason};
use events::values::{Money, ShortText};

use super::*;

const PROCGATE: &str = include_str!("../../../tests/fixtures/statement-procgate.csv");
const USBANK: &str = include_str!("../../../tests/fixtures/statement-usbank.csv");
const MUNIS: &str = include_str!("../../../tests/fixtures/statement-munis.txt");
const MAPPING: &str = include_str!("../../../tests/fixtures/statement-mapping.csv");
const BAD: &str = include_str!("../../../tests/fixtures/statement-bad.csv");

/// The mapping the README gives for `statement-mapping.csv`.
pub fn fixture_mapping() -> Mapping {
    Mapping {
        delimiter: Some(";".into()),
        date_format: Some("%m/%d/%Y".into()),
        columns: [
            ("reference", "Txn Ref"),
            ("transaction_date", "Date"),
            ("card_last4", "Card"),
            ("merchant", "Vendor"),
            ("mcc", "MCC"),
            ("amount", "Amount"),
        ]
        .map(|(f, h)| (f.to_owned(), h.to_owned()))
        .to_vec(),
    }
}

fn card(n: u128, last4: &str, email: &str, school: &str) -> CardInfo {
    CardInfo {
        card_id: Uuid::from_u128(n),
        last4: CardLast4::parse(last4).unwrap(),
        holder_email: Email::parse(email).unwrap(),
        school_id: SchoolId::parse(school).unwrap(),
    }
}

fn context() -> Context {
    let cards = [
        card(1, "4821", "pat.lee@district.org", "lincoln-elem"),
        card(2, "0042", "sam.ortiz@district.org", "jefferson-high"),
    ];
    Context {
        statement_id: Uuid::from_u128(99),
        cards: cards.into_iter().map(|c| (c.last4.clone(), vec![c])).collect(),
        currency: Currency::parse("USD").unwrap(),
        technology_mccs: ["5732", "5734"].map(|m| Mcc::parse(m).unwrap()).into(),
        policy_version: 4,
        settings: ReconciliationSet {
            technology_merchants: vec![ShortText::parse("Geek Squad").unwrap()],
            ..ReconciliationSet::default()
        },
    }
}

fn collect(layout: &Layout, text: &str) -> Collected {
    let mut collector = Collector::new(context());
    if let Err(errors) = read_rows(layout, text.as_bytes(), |row| collector.push(row)) {
        return Collected::Refused { rows: 0, errors, error_count: 1 };
    }
    collector.finish()
}

fn valid(layout: &Layout, text: &str) -> Vec<CardTransactionRecorded> {
    match collect(layout, text) {
        Collected::Valid { transactions, .. } => transactions,
        Collected::Refused { errors, .. } => panic!("refused: {errors:#?}"),
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn the_procgate_profile_reads_api_md_s_header() {
    let t = valid(&Layout::procgate(), PROCGATE);
    assert_eq!(t.len(), 5);
    assert_eq!(t[0].reference.as_str(), "24692165001000000000001");
    assert_eq!(
        (t[0].line, t[0].transaction_date, t[0].posted_on),
        (2, day("2025-10-02"), Some(day("2025-10-04")))
    );
    assert_eq!(
        (t[0].amount, t[0].technology),
        (Money::parse("1299.99").unwrap(), Some(TechnologyReason::Mcc))
    );
    assert_eq!(t[0].school_id.as_str(), "lincoln-elem");
    assert_eq!(t[1].technology, None);
    // 7379 is not a technology code, but IT lists Geek Squad.
    assert_eq!(t[2].technology, Some(TechnologyReason::ListedMerchant));
    assert_eq!(t[2].holder_email.as_str(), "sam.ortiz@district.org");
    // A credit is recorded as a positive amount paid back, never technology.
    assert_eq!((t[4].amount.cents(), t[4].credit, t[4].technology), (4999, true, None));
}

#[test]
fn the_usbank_profile_reads_named_columns_masked_accounts_and_indicators() {
    let t = valid(&Layout::usbank(), USBANK);
    assert_eq!(t.len(), 4);
    assert_eq!(t[0].amount, Money::parse("1049.00").unwrap());
    assert_eq!(t[0].transaction_date, day("2025-10-14"));
    assert_eq!(t[0].card_last4.as_str(), "4821");
    assert_eq!(t[2].merchant.as_str(), "DELL MARKETING L.P.");
    assert_eq!((t[2].technology, t[3].credit), (None, true));
}

#[test]
fn the_munis_profile_reads_pipes_by_position_in_the_policy_s_currency() {
    let t = valid(&Layout::munis(), MUNIS);
    assert_eq!(t.len(), 3);
    assert_eq!(t[0].reference.as_str(), "24801065290000000000201");
    assert_eq!((t[0].line, t[0].card_last4.as_str()), (1, "0042"));
    assert_eq!(t[0].merchant.as_str(), "CDW GOVT #A123");
    assert_eq!(t[0].currency.to_string(), "USD");
    assert_eq!(t[2].amount, Money::parse("1899.00").unwrap());
}

#[test]
fn the_mapping_profile_reads_the_columns_the_district_names() {
    let t = valid(&fixture_mapping().layout().unwrap(), MAPPING);
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].reference.as_str(), t[0].transaction_date),
        ("DF-2025-11-0001", day("2025-11-03"))
    );
    assert_eq!((t[0].card_last4.as_str(), t[1].card_last4.as_str()), ("4821", "0042"));
    assert_eq!(t[0].posted_on, None);
}

#[test]
fn a_bad_statement_is_refused_naming_every_line_and_field() {
    let Collected::Refused { rows, errors, error_count } = collect(&Layout::procgate(), BAD) else {
        panic!("a bad statement was accepted");
    };
    let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        found,
        [(3, "transaction_date"), (4, "card_last4"), (5, "mcc"), (5, "amount"), (6, "currency")]
    );
    assert_eq!((rows, error_count), (5, 5));
    assert!(errors[1].message.contains("9999"), "{}", errors[1].message);
}

#[test]
fn a_reference_twice_is_one_transaction_unless_the_details_differ() {
    let header = "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n";
    let row = "R-1,2025-10-02,,4821,BEST BUY,5732,10.00,USD\n";
    let same = format!("{header}{row}{row}");
    assert_eq!(valid(&Layout::procgate(), &same).len(), 1);
    let other = format!("{header}{row}R-1,2025-10-02,,4821,BEST BUY,5732,11.00,USD\n");
    let Collected::Refused { errors, .. } = collect(&Layout::procgate(), &other) else { panic!() };
    assert_eq!((errors[0].line, errors[0].field.as_str()), (3, "reference"));
    assert!(errors[0].message.contains("line 2"), "{}", errors[0].message);
}

#[test]
fn two_cards_with_the_same_last_digits_cannot_be_told_apart() {
    let mut ctx = context();
    ctx.cards.get_mut(&CardLast4::parse("4821").unwrap()).unwrap().push(card(
        3,
        "4821",
        "kim@district.org",
        "lincoln-elem",
    ));
    let mut collector = Collector::new(ctx);
    read_rows(&Layout::procgate(), PROCGATE.as_bytes(), |row| collector.push(row)).unwrap();
    let Collected::Refused { errors, .. } = collector.finish() else { panic!() };
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e.field == "card_last4" && e.message.contains("2 cards")));
}

#[test]
fn the_plan_records_only_new_transactions_and_reconciles_them() {
    let ctx = context();
    let transactions = valid(&Layout::procgate(), PROCGATE);
    let known = HashSet::from([transactions[1].transaction_id]);
    let check = CheckRef {
        purchase_id: Uuid::from_u128(7),
        school_id: SchoolId::parse("jefferson-high").unwrap(),
        vendor: "Apple".into(),
        total: Money::parse("329.00").unwrap(),
        currency: ctx.currency,
        date: day("2025-10-06"),
        approved_on: None,
    };
    let plan = plan(
        &ctx,
        StatementFile {
            profile: "procgate".into(),
            file_sha256: "ab".repeat(32),
            idempotency_key: None,
            rows: 5,
        },
        &transactions,
        &known,
        &[check],
    );
    let s = &plan.imported;
    assert_eq!((s.transactions, s.recorded, s.already_recorded), (5, 4, 1));
    assert_eq!(
        (s.matched, s.ambiguous, s.unchecked_technology, s.not_technology, s.credits),
        (1, 0, 2, 0, 1)
    );
    assert_eq!((s.first_date, s.last_date), (Some(day("2025-10-02")), Some(day("2025-10-09"))));
    let types: Vec<Vec<&str>> = plan
        .transactions
        .iter()
        .map(|(_, e)| e.iter().map(CardTransactionEvent::event_type).collect())
        .collect();
    assert_eq!(
        types,
        [
            vec!["card-transaction-recorded", "card-transaction-flagged"],
            vec!["card-transaction-recorded", "card-transaction-flagged"],
            vec!["card-transaction-recorded", "card-transaction-matched"],
            vec!["card-transaction-recorded"],
        ]
    );
    let CardTransactionEvent::Matched(m) = &plan.transactions[2].1[1] else { panic!() };
    assert_eq!(
        (m.purchase_id, m.how.method, m.how.days_apart),
        (Uuid::from_u128(7), MatchMethod::Exact, 1)
    );
}
