//! The rogue-spend report over HTTP: unchecked technology card spend from card statements
//! written to the log as the gate writes them, beside the advisory purchases of `history.rs`,
//! before and after each school signed.
//!
//! The statement (written by [`write_statement`]) covers 2024-08-01 to 2024-10-31 (92 days),
//! for the schools of `history.rs` (lincoln signed 08-20; washington signed 09-10 and withdrew
//! 10-15; roosevelt never signed). Its transactions (USD), as the import records them:
//!
//! | | school | date | merchant | amount | at import | then |
//! |---|---|---|---|---|---|---|
//! | T1 | lincoln | 08-05 | BEST BUY #1234 | 600.00 | unchecked technology | |
//! | T2 | lincoln | 09-15 | APPLE.COM/US | 300.00 | unchecked technology | |
//! | T3 | lincoln | 09-03 | DELL MARKETING | 1500.00 | matched | |
//! | T4 | roosevelt | 09-20 | OFFICE DEPOT #1105 | 80.00 | not technology | |
//! | T5 | roosevelt | 10-10 | SQ *GEEK SQUAD | 250.00 | unchecked technology | |
//! | T6 | washington | 09-01 | BEST BUY #1234 | 400.00 | matched | IT undoes the match: unchecked |
//! | T7 | lincoln | 10-01 | B&H PHOTO | 200.00 | unchecked technology | IT chooses a check: matched |
//! | T8 | lincoln | 09-20 | BEST BUY #1234 | 50.00 | a credit | |
//! | T9 | washington | 10-20 | BEST BUY #1234 | 100.00 | unchecked technology | |
//!
//! The advisory purchases of `history.rs`: P4 (roosevelt, Best Buy, 700.00, decided 09-12) and
//! P5 (roosevelt, Amazon, 12000.00, 10-03).

use auth::Role;
use chrono::NaiveDate;
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use events::EventFamily;
use events::card::{
    CardMatchUndone, CardTransactionEvent, CardTransactionFlagged, CardTransactionMatched,
    CardTransactionRecorded, FlagReason, MatchHow, MatchMethod, StatementEvent, StatementImported,
    TechnologyReason, statement_stream, transaction_id, transaction_stream,
};
use events::values::{
    BankReference, CardLast4, Currency, Email, LongText, Mcc, Money, SchoolId, ShortText,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestApp, header, table};
use crate::history::{LINCOLN, ROOSEVELT, WASHINGTON, t, write_history};

on_both_backends!(
    unchecked_technology_counts_beside_advisory_spend,
    matched_and_other_transactions_do_not_count,
    before_and_after_signing
);

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn meta() -> Metadata {
    Metadata::new(Actor::new("finance-erp", "finance"), "gate")
}

/// A transaction of the statement: (reference, school, date, merchant, amount, technology,
/// credit).
type Row = (&'static str, &'static str, &'static str, &'static str, &'static str, bool, bool);

const ROWS: [Row; 9] = [
    ("T1", LINCOLN, "2024-08-05", "BEST BUY #1234", "600.00", true, false),
    ("T2", LINCOLN, "2024-09-15", "APPLE.COM/US", "300.00", true, false),
    ("T3", LINCOLN, "2024-09-03", "DELL MARKETING", "1500.00", true, false),
    ("T4", ROOSEVELT, "2024-09-20", "OFFICE DEPOT #1105", "80.00", false, false),
    ("T5", ROOSEVELT, "2024-10-10", "SQ *GEEK SQUAD", "250.00", true, false),
    ("T6", WASHINGTON, "2024-09-01", "BEST BUY #1234", "400.00", true, false),
    ("T7", LINCOLN, "2024-10-01", "B&H PHOTO", "200.00", true, false),
    ("T8", LINCOLN, "2024-09-20", "BEST BUY #1234", "50.00", true, true),
    ("T9", WASHINGTON, "2024-10-20", "BEST BUY #1234", "100.00", true, false),
];

/// The references matched at import.
const MATCHED: [&str; 2] = ["T3", "T6"];

fn reference(name: &str) -> BankReference {
    BankReference::parse(&format!("2469216500{name}")).unwrap()
}

fn stream_of(name: &str) -> String {
    transaction_stream(transaction_id(&reference(name)))
}

fn how(method: MatchMethod) -> MatchHow {
    MatchHow { method, amount_difference: Money::ZERO, days_apart: 1, vendor_similarity: 100 }
}

fn parts<E: EventFamily>(events: &[E]) -> Vec<NewEvent> {
    events.iter().map(|e| NewEvent::new(e.event_type(), e.to_data(), meta())).collect()
}

/// The statement's import: `statement-imported` and every transaction with its
/// reconciliation, in one append, as the gate writes it.
pub async fn write_statement(app: &TestApp) {
    let statement_id = Uuid::now_v7();
    let mut appends = Vec::new();
    let mut counts = (0, 0, 0, 0); // matched, unchecked, not technology, credits
    for (line, (name, school, date, merchant, amount, technology, credit)) in
        ROWS.iter().copied().enumerate()
    {
        let recorded = CardTransactionRecorded {
            transaction_id: transaction_id(&reference(name)),
            reference: reference(name),
            statement_id,
            line: line as u64 + 2,
            card_id: Uuid::from_u128(school.len() as u128),
            card_last4: CardLast4::parse("4821").unwrap(),
            holder_email: Email::parse("pcard@district.org").unwrap(),
            school_id: SchoolId::parse(school).unwrap(),
            transaction_date: day(date),
            posted_on: None,
            merchant: ShortText::parse(merchant).unwrap(),
            mcc: Mcc::parse(if technology { "5732" } else { "5943" }).unwrap(),
            amount: Money::parse(amount).unwrap(),
            credit,
            currency: Currency::parse("USD").unwrap(),
            technology: technology.then_some(TechnologyReason::Mcc),
            policy_version: 3,
        };
        let mut events = vec![CardTransactionEvent::from(recorded)];
        if MATCHED.contains(&name) {
            counts.0 += 1;
            let matched = CardTransactionMatched {
                purchase_id: Uuid::now_v7(),
                how: how(MatchMethod::Exact),
            };
            events.push(matched.into());
        } else if credit {
            counts.3 += 1;
        } else if technology {
            counts.1 += 1;
            events.push(CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into());
        } else {
            counts.2 += 1;
        }
        appends.push(StreamAppend::new(
            StreamName::new(stream_of(name)).unwrap(),
            ExpectedVersion::NoStream,
            parts(&events),
        ));
    }
    let imported: StatementEvent = StatementImported {
        statement_id,
        profile: "procgate".into(),
        file_sha256: "ab".repeat(32),
        idempotency_key: None,
        rows: ROWS.len() as u64,
        transactions: ROWS.len() as u64,
        recorded: ROWS.len() as u64,
        already_recorded: 0,
        matched: counts.0,
        ambiguous: 0,
        unchecked_technology: counts.1,
        not_technology: counts.2,
        credits: counts.3,
        // The statement's period: wider than its first and last transactions.
        first_date: Some(day("2024-08-01")),
        last_date: Some(day("2024-10-31")),
    }
    .into();
    appends.insert(
        0,
        StreamAppend::new(
            StreamName::new(statement_stream(statement_id)).unwrap(),
            ExpectedVersion::NoStream,
            parts(&[imported]),
        ),
    );
    app.clock.set(Some(t("2024-11-05T09:00:00Z")));
    app.store.append_streams(appends).await.unwrap();
    app.clock.set(None);
}

/// IT's work after the import: T6's match undone (and flagged), T7 matched by hand.
pub async fn write_it_work(app: &TestApp) {
    let undone: Vec<CardTransactionEvent> = vec![
        CardMatchUndone {
            purchase_id: Uuid::now_v7(),
            reason: LongText::parse("That check was another order").unwrap(),
        }
        .into(),
        CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into(),
    ];
    let chosen: Vec<CardTransactionEvent> = vec![
        CardTransactionMatched { purchase_id: Uuid::now_v7(), how: how(MatchMethod::ChosenByIt) }
            .into(),
    ];
    let append = |name: &str, events: &[CardTransactionEvent]| {
        StreamAppend::new(
            StreamName::new(stream_of(name)).unwrap(),
            ExpectedVersion::Any,
            parts(events),
        )
    };
    app.store.append_streams(vec![append("T6", &undone), append("T7", &chosen)]).await.unwrap();
}

fn totals(report: &Value) -> (u64, &str, u64, &str) {
    let all = &report["totals"][0];
    (
        all["unchecked_transactions"].as_u64().unwrap(),
        all["unchecked_total"].as_str().unwrap(),
        all["advisory_purchases"].as_u64().unwrap(),
        all["advisory_total"].as_str().unwrap(),
    )
}

async fn unchecked_technology_counts_beside_advisory_spend(app: TestApp) {
    write_history(&app).await;
    // Before any statement: the advisory purchases only.
    let report = app.get_json("/v1/reports/rogue-spend", Role::ItStaff).await;
    assert_eq!(report["covered"], Value::Null);
    assert_eq!(totals(&report), (0, "0.00", 2, "12700.00"));

    write_statement(&app).await;
    let report = app.get_json("/v1/reports/rogue-spend", Role::ItStaff).await;
    // T1, T2, T5, T7, T9.
    assert_eq!(totals(&report), (5, "1450.00", 2, "12700.00"));
    assert_eq!(
        report["covered"],
        json!({"statements": 1, "from": "2024-08-01", "to": "2024-10-31", "days": 92})
    );
    assert_eq!(
        report["by_school"],
        json!([
            {"school_id": ROOSEVELT, "school_name": "Roosevelt High", "currency": "USD", "unchecked_transactions": 1,
             "unchecked_total": "250.00", "advisory_purchases": 2, "advisory_total": "12700.00"},
            {"school_id": LINCOLN, "school_name": "Lincoln Elementary", "currency": "USD", "unchecked_transactions": 3,
             "unchecked_total": "1100.00", "advisory_purchases": 0, "advisory_total": "0.00"},
            {"school_id": WASHINGTON, "school_name": "Washington Middle", "currency": "USD", "unchecked_transactions": 1,
             "unchecked_total": "100.00", "advisory_purchases": 0, "advisory_total": "0.00"},
        ])
    );
    // Card merchants and checks' vendors side by side.
    assert_eq!(
        table(&report["by_vendor"], &["/vendor", "/unchecked_total", "/advisory_total"]),
        json!([
            ["Amazon", "0.00", "12000.00"],
            // A tie: by name.
            ["BEST BUY #1234", "700.00", "0.00"],
            ["Best Buy", "0.00", "700.00"],
            ["APPLE.COM/US", "300.00", "0.00"],
            ["SQ *GEEK SQUAD", "250.00", "0.00"],
            ["B&H PHOTO", "200.00", "0.00"],
        ])
    );

    // As CSV: a header, then the groups, then the comparisons.
    let res =
        app.get("/v1/reports/rogue-spend?format=csv", Some(&[Role::Auditor])).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type").starts_with("text/csv"));
    let body = res.text().await.unwrap();
    let rows: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        rows[0],
        "dimension,school_id,school_name,month,period,vendor,amount_band,currency,signed_on,days,unchecked_transactions,unchecked_total,unchecked_per_30_days,advisory_purchases,advisory_total,advisory_per_30_days,reduced"
    );
    assert_eq!(rows[1], "all,,,,,,,USD,,,5,1450.00,,2,12700.00,,");
    assert!(rows.contains(&"month,,,2024-10,,,,USD,,,3,550.00,,1,12000.00,,"), "{body}");
    assert!(
        rows.contains(
            &"school_and_month,lincoln-elem,Lincoln Elementary,2024-08,before_signing,,,USD,,,1,600.00,,0,0.00,,"
        ),
        "{body}"
    );
    assert!(rows.contains(&"vendor,,,,,B&H PHOTO,,USD,,,1,200.00,,0,0.00,,"), "{body}");
    app.stop().await;
}

async fn matched_and_other_transactions_do_not_count(app: TestApp) {
    write_history(&app).await;
    write_statement(&app).await;
    write_it_work(&app).await;
    let report = app.get_json("/v1/reports/rogue-spend", Role::Admin).await;
    // T7 matched by IT leaves; T6, its match undone, comes in: T1, T2, T5, T6, T9. Never T3
    // (matched), T4 (not technology) or T8 (a credit).
    assert_eq!(totals(&report), (5, "1650.00", 2, "12700.00"));
    assert_eq!(
        table(&report["by_month"], &["/month", "/unchecked_transactions", "/unchecked_total"]),
        json!([["2024-08", 1, "600.00"], ["2024-09", 2, "700.00"], ["2024-10", 2, "350.00"]])
    );
    let merchants: Vec<&str> = report["by_vendor"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["unchecked_transactions"] != 0)
        .map(|g| g["vendor"].as_str().unwrap())
        .collect();
    assert_eq!(merchants, ["BEST BUY #1234", "APPLE.COM/US", "SQ *GEEK SQUAD"]);
    assert_eq!(
        table(&report["by_amount"], &["/amount_band", "/unchecked_transactions"]),
        json!([["10000-and-over", 0], ["500-2500", 1], ["under-500", 4]])
    );
    app.stop().await;
}

async fn before_and_after_signing(app: TestApp) {
    write_history(&app).await;
    write_statement(&app).await;
    write_it_work(&app).await;
    let report = app.get_json("/v1/reports/rogue-spend", Role::ItStaff).await;
    let signing = report["signing"].as_array().unwrap();
    let schools: Vec<&str> = signing.iter().map(|s| s["school_id"].as_str().unwrap()).collect();
    assert_eq!(schools, [LINCOLN, ROOSEVELT, WASHINGTON]);
    // Lincoln signed 08-20: 19 covered days before (T1), 73 after (T2).
    assert_eq!(
        signing[0],
        json!({
            "school_id": LINCOLN, "school_name": "Lincoln Elementary", "currency": "USD", "signed_on": "2024-08-20", "withdrawn_on": null,
            "before_signing": {"days": 19, "unchecked_transactions": 1, "unchecked_total": "600.00",
                "unchecked_per_30_days": "947.37", "advisory_purchases": 0, "advisory_total": "0.00",
                "advisory_per_30_days": "0.00"},
            "after_signing": {"days": 73, "unchecked_transactions": 1, "unchecked_total": "300.00",
                "unchecked_per_30_days": "123.29", "advisory_purchases": 0, "advisory_total": "0.00",
                "advisory_per_30_days": "0.00"},
            "reduced": true
        })
    );
    // Roosevelt never signed: every day before, no comparison.
    assert_eq!(signing[1]["signed_on"], Value::Null);
    assert_eq!(signing[1]["before_signing"]["days"], 92);
    assert_eq!(signing[1]["before_signing"]["advisory_total"], "12700.00");
    assert_eq!(signing[1]["after_signing"]["days"], 0);
    assert_eq!(signing[1]["after_signing"]["unchecked_per_30_days"], Value::Null);
    assert_eq!(signing[1]["reduced"], Value::Null);
    // Washington's agreement stood 09-10 to 10-14 (35 days); T6 (09-01) came before it, T9
    // (10-20) after the withdrawal: both count before signing.
    assert_eq!(signing[2]["withdrawn_on"], "2024-10-15");
    assert_eq!(signing[2]["before_signing"]["days"], 57);
    assert_eq!(signing[2]["before_signing"]["unchecked_total"], "500.00");
    assert_eq!(signing[2]["after_signing"]["days"], 35);
    assert_eq!(signing[2]["after_signing"]["unchecked_transactions"], 0);
    assert_eq!(signing[2]["reduced"], true);
    // The district: lincoln and washington pooled, per 30 school-days.
    assert_eq!(
        report["trend"],
        json!([{
            "currency": "USD", "schools": 2,
            "before_signing": {"days": 76, "unchecked_transactions": 3, "unchecked_total": "1100.00",
                "unchecked_per_30_days": "434.21", "advisory_purchases": 0, "advisory_total": "0.00",
                "advisory_per_30_days": "0.00"},
            "after_signing": {"days": 108, "unchecked_transactions": 1, "unchecked_total": "300.00",
                "unchecked_per_30_days": "83.33", "advisory_purchases": 0, "advisory_total": "0.00",
                "advisory_per_30_days": "0.00"},
            "reduced": true
        }])
    );
    // By school and month, the period each day fell in.
    let lincoln: Vec<(&str, &str, &str)> = report["by_school_and_month"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["school_id"] == LINCOLN)
        .map(|g| {
            (
                g["month"].as_str().unwrap(),
                g["period"].as_str().unwrap(),
                g["unchecked_total"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lincoln,
        [("2024-08", "before_signing", "600.00"), ("2024-09", "after_signing", "300.00")]
    );
    let res =
        app.get("/v1/reports/rogue-spend?format=csv", Some(&[Role::ItStaff])).send().await.unwrap();
    let body = res.text().await.unwrap();
    assert!(
        body.contains("\r\nsigning,lincoln-elem,Lincoln Elementary,,after_signing,,,USD,2024-08-20,73,1,300.00,123.29,0,0.00,0.00,true\r\n"),
        "{body}"
    );
    assert!(
        body.ends_with("\r\ntrend,,,,after_signing,,,USD,,108,1,300.00,83.33,0,0.00,0.00,true\r\n"),
        "{body}"
    );
    app.stop().await;
}
