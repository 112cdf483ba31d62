use chrono::{DateTime, TimeDelta, Utc};
use eventlog::{DocKey, RecordedEvent};
use events::calendar::DistrictCalendar;
use events::card::{TransactionStatus, transaction_stream};
use proptest::prelude::*;
use uuid::Uuid;

use super::super::adoption::Change;
use super::super::card_spend::fixtures as cards;
use super::super::card_spend::{TRANSACTIONS, TransactionDoc, UNCHECKED_FIGURES};
use super::super::purchases::fixtures as purchases;
use super::super::rollup::{self, Grains};
use super::signing::per_30_days;
use super::*;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The oracle: the report as it was once folded from every document, for every request

/// One unchecked transaction or advisory purchase.
struct Item<'a> {
    unchecked: bool,
    school_id: &'a str,
    /// `None` for an advisory document written before they kept their day.
    day: Option<NaiveDate>,
    vendor: &'a str,
    currency: &'a str,
    cents: i64,
}

fn add(sum: &mut Sum, item: &Item<'_>) {
    if item.unchecked {
        sum.unchecked += 1;
        sum.unchecked_cents += item.cents;
    } else {
        sum.advisory += 1;
        sum.advisory_cents += item.cents;
    }
}

/// The report from the card-spend projection's transactions and the purchase projection's
/// advisory purchases, each read in full (the report's `build` before the rollups). The
/// rollups must give the same figures, in one calendar, with the documents in the order that
/// names the vendor groups: by month, school and spelling.
fn folded(
    transactions: &[TransactionDoc],
    advisory: &[AdvisoryDoc],
    changes: &[ChangeDoc],
    coverage: Option<&CoverageDoc>,
    scope: &Scope,
) -> RogueSpendReport {
    let calendar = &scope.calendar;
    let period = &scope.period;
    let unchecked = transactions.iter().filter(|t| t.status.is_unchecked());
    let items: Vec<Item<'_>> = unchecked
        .map(|t| Item {
            unchecked: true,
            school_id: &t.school_id,
            day: Some(t.transaction_date),
            vendor: &t.merchant,
            currency: &t.currency,
            cents: t.cents,
        })
        .chain(advisory.iter().map(|a| Item {
            unchecked: false,
            school_id: &a.school_id,
            day: a.day(calendar),
            vendor: &a.vendor,
            currency: &a.currency,
            cents: a.total_cents,
        }))
        .filter(|item| period.is_all() || item.day.is_some_and(|d| period.contains(d)))
        .collect();
    let agreements = Agreements::new(changes);
    let covered = coverage
        .and_then(|c| Some((c.first_date?, c.last_date?)))
        .map(|(f, l)| (period.from.map_or(f, |p| p.max(f)), period.to.map_or(l, |p| p.min(l))))
        .filter(|(f, l)| f <= l);
    let in_covered = |day: Option<NaiveDate>| -> Option<NaiveDate> {
        let (from, to) = covered?;
        day.filter(|d| from <= *d && *d <= to)
    };

    let mut vendor_names: BTreeMap<String, &str> = BTreeMap::new();
    let mut dims: [BTreeMap<Key, Sum>; 7] = Default::default();
    let mut periods: BTreeMap<(&str, &str), [Sum; 2]> = BTreeMap::new();
    for item in &items {
        let vendor_key = item.vendor.trim().to_lowercase();
        let vendor: &str = vendor_names.entry(vendor_key).or_insert(item.vendor.trim());
        let (school, currency) = (Some(item.school_id), item.currency);
        let month = item.day.map(first_of_month);
        let period = item.day.map(|d| agreements.period(item.school_id, d));
        let mut keys: Vec<(usize, Key)> = vec![
            (0, (None, None, None, None, None, currency)),
            (1, (school, None, None, None, None, currency)),
            (4, (None, None, None, Some(vendor), None, currency)),
            (5, (school, None, None, Some(vendor), None, currency)),
            (6, (None, None, None, None, Some(band(item.cents)), currency)),
        ];
        if month.is_some() {
            keys.push((2, (None, month, None, None, None, currency)));
            keys.push((3, (school, month, period, None, None, currency)));
        }
        for (dim, key) in keys {
            add(dims[dim].entry(key).or_default(), item);
        }
        if let Some(day) = in_covered(item.day) {
            let side = agreements.period(item.school_id, day) as usize;
            add(&mut periods.entry((item.school_id, item.currency)).or_default()[side], item);
        }
    }
    finish(dims, &periods, &agreements, covered, coverage, scope)
}

// ---------------------------------------------------------------------------------------------
// Reports from documents, rolled up as the projections roll them up

fn card(
    school: &str,
    date: &str,
    merchant: &str,
    cents: i64,
    status: TransactionStatus,
) -> TransactionDoc {
    TransactionDoc {
        school_id: school.into(),
        transaction_date: day(date),
        merchant: merchant.into(),
        currency: "USD".into(),
        cents,
        status,
        counted: status.is_unchecked(),
    }
}

/// An advisory purchase, as the fold kept to check the rollups against took it.
#[derive(Debug, Clone, Default)]
struct AdvisoryDoc {
    school_id: String,
    vendor: String,
    currency: String,
    total_cents: i64,
    /// The district's day it was asked about, when given as a day.
    decided_on: Option<NaiveDate>,
    /// When it was asked about.
    asked_at: Option<DateTime<Utc>>,
}

impl AdvisoryDoc {
    /// The district's date the purchase was asked about, in `calendar`.
    fn day(&self, calendar: &DistrictCalendar) -> Option<NaiveDate> {
        self.asked_at.map(|at| calendar.today(at)).or(self.decided_on)
    }
}

fn advisory_doc(school: &str, vendor: &str, cents: i64, on: &str) -> AdvisoryDoc {
    AdvisoryDoc {
        school_id: school.into(),
        vendor: vendor.into(),
        currency: "USD".into(),
        total_cents: cents,
        decided_on: Some(day(on)),
        asked_at: None,
    }
}

fn change(sequence: u64, school: &str, change: Change, on: &str) -> ChangeDoc {
    ChangeDoc { sequence, school_id: school.into(), change, on: day(on), principal_id: None }
}

/// The report from the rollups of these documents' figures (in the scope's calendar), one
/// partition per day.
fn rolled(
    transactions: &[TransactionDoc],
    advisories: &[AdvisoryDoc],
    changes: &[ChangeDoc],
    coverage: Option<&CoverageDoc>,
    scope: &Scope,
) -> RogueSpendReport {
    let unchecked = transactions.iter().filter(|t| t.status.is_unchecked()).map(|t| {
        let item = Spent { currency: &t.currency, vendor: &t.merchant, cents: t.cents };
        (t.transaction_date, t.school_id.as_str(), item)
    });
    let advisory = advisories.iter().map(|a| {
        let day = a.day(&scope.calendar).expect("an advisory purchase with its day");
        let item = Spent { currency: &a.currency, vendor: &a.vendor, cents: a.total_cents };
        (day, a.school_id.as_str(), item)
    });
    let (period, split) = (&scope.period, split_months(changes, coverage, &scope.period));
    let grains = Grains { days: "unchecked.by_day", months: "unchecked.by_month" };
    let unchecked =
        rollup::read_splitting_in_memory(&rolled_up(unchecked, grains), grains, period, &split);
    let advisory =
        rollup::read_splitting_in_memory(&rolled_up(advisory, grains), grains, period, &split);
    build(&unchecked, &advisory, changes, coverage, scope)
}

/// `(day, school, item)`s counted as a projection counts them, by day and by month.
fn rolled_up<'a>(
    items: impl Iterator<Item = (NaiveDate, &'a str, Spent<'a>)>,
    grains: Grains,
) -> BTreeMap<DocKey, serde_json::Value> {
    let mut partitions: BTreeMap<DocKey, Rollup<DaySpend>> = BTreeMap::new();
    for (day, school, item) in items {
        let [day_key, month_key] = grains.keys(day, school);
        let delta = DaySpend::of(item, 1);
        partitions.entry(day_key).or_default().add(day, school, &delta);
        partitions.entry(month_key).or_default().add(first_of_month(day), school, &delta);
    }
    partitions.into_iter().map(|(k, p)| (k, serde_json::to_value(p).unwrap())).collect()
}

#[test]
fn groups_and_bands() {
    use TransactionStatus::*;
    let transactions = [
        card("a", "2024-09-03", "BEST BUY #1", 40_000, UncheckedTechnology),
        card("a", "2024-09-04", " best buy #1 ", 60_000, UncheckedTechnology),
        card("a", "2024-09-05", "BEST BUY #1", 99_999, Matched),
        card("b", "2024-10-01", "Amazon", 1_200_000, Ambiguous),
    ];
    let advisories = [
        advisory_doc("b", "Amazon", 1_200_000, "2024-10-02"),
        advisory_doc("b", "Dell", 100, "2024-10-05"),
    ];
    let report = rolled(&transactions, &advisories, &[], None, &Scope::all());
    assert_eq!(report.covered, None);
    let totals = &report.totals[0];
    assert_eq!(
        (
            totals.unchecked_transactions,
            totals.unchecked_total.as_str(),
            totals.advisory_purchases,
            totals.advisory_total.as_str()
        ),
        (2, "1000.00", 2, "12001.00")
    );
    let schools: Vec<&str> =
        report.by_school.iter().map(|g| g.school_id.as_deref().unwrap()).collect();
    assert_eq!(schools, ["b", "a"]);
    let vendors: Vec<(&str, u64)> = report
        .by_vendor
        .iter()
        .map(|g| (g.vendor.as_deref().unwrap(), g.unchecked_transactions))
        .collect();
    assert_eq!(vendors, [("Amazon", 0), ("BEST BUY #1", 2), ("Dell", 0)]);
    let bands: Vec<&str> = report.by_amount.iter().map(|g| g.amount_band.unwrap()).collect();
    assert_eq!(bands, ["10000-and-over", "500-2500", "under-500"]);
    assert_eq!(band(49_999), "under-500");
    assert_eq!(band(250_000), "2500-10000");
    let months: Vec<&str> = report.by_month.iter().map(|g| g.month.as_deref().unwrap()).collect();
    assert_eq!(months, ["2024-09", "2024-10"]);
    assert_eq!(report.by_month[1].advisory_total, "12001.00");
    // Nothing covered: no comparison.
    assert!(report.signing.is_empty() && report.trend.is_empty());
    let csv = report.csv().finish();
    assert!(csv.starts_with(&format!("{}\r\n", CSV_HEADER.join(","))), "{csv}");
    assert!(
        csv.contains("\r\nschool_and_vendor,a,,,,BEST BUY #1,,USD,,,2,1000.00,,0,0.00,,\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(
            "\r\nschool_and_month,a,,2024-09,before_signing,,,USD,,,2,1000.00,,0,0.00,,\r\n"
        ),
        "{csv}"
    );
    // The same figures as folding every document.
    assert_eq!(report, folded(&transactions, &advisories, &[], None, &Scope::all()));
}

#[test]
fn before_and_after_signing() {
    use TransactionStatus::UncheckedTechnology as U;
    // a signs 08-20; c signs 09-10 and withdraws 10-15; b never signs. Covered: August to
    // October (92 days).
    let changes = [
        change(3, "a", Change::Signed, "2024-08-20"),
        change(7, "c", Change::Signed, "2024-09-10"),
        change(9, "c", Change::Withdrawn, "2024-10-15"),
    ];
    let transactions = [
        card("a", "2024-08-05", "BEST BUY", 60_000, U),
        card("a", "2024-08-20", "APPLE.COM", 30_000, U),
        card("b", "2024-10-10", "GEEK SQUAD", 25_000, U),
        card("c", "2024-09-01", "BEST BUY", 40_000, U),
        card("c", "2024-10-20", "BEST BUY", 10_000, U),
        // Outside the covered days: in the groups, not in the comparison.
        card("a", "2024-12-01", "BEST BUY", 5_000, U),
    ];
    let advisories = [advisory_doc("b", "Best Buy", 70_000, "2024-09-12")];
    let coverage = CoverageDoc {
        statements: 2,
        first_date: Some(day("2024-08-01")),
        last_date: Some(day("2024-10-31")),
    };
    let report = rolled(&transactions, &advisories, &changes, Some(&coverage), &Scope::all());
    assert_eq!(
        report.covered,
        Some(Covered { statements: 2, from: day("2024-08-01"), to: day("2024-10-31"), days: 92 })
    );
    let a = &report.signing[0];
    assert_eq!(
        (a.school_id.as_str(), a.signed_on, a.withdrawn_on),
        ("a", Some(day("2024-08-20")), None)
    );
    assert_eq!(
        a.before_signing,
        period_spend(&Sum { unchecked: 1, unchecked_cents: 60_000, ..Sum::default() }, 19)
    );
    assert_eq!(a.before_signing.unchecked_per_30_days.as_deref(), Some("947.37"));
    assert_eq!(a.after_signing.days, 73);
    assert_eq!(a.after_signing.unchecked_total, "300.00");
    assert_eq!(a.after_signing.unchecked_per_30_days.as_deref(), Some("123.29"));
    assert_eq!(a.reduced, Some(true));
    let b = &report.signing[1];
    assert_eq!((b.before_signing.days, b.after_signing.days, b.reduced), (92, 0, None));
    assert_eq!(b.before_signing.advisory_total, "700.00");
    assert_eq!(b.after_signing.unchecked_per_30_days, None);
    let c = &report.signing[2];
    assert_eq!(c.withdrawn_on, Some(day("2024-10-15")));
    // Standing 09-10 to 10-14: 35 days; the rest, and the withdrawn days, before.
    assert_eq!((c.before_signing.days, c.after_signing.days), (57, 35));
    assert_eq!(c.before_signing.unchecked_total, "500.00");
    assert_eq!(c.reduced, Some(true));
    // Pooled: a and c (b has no days after signing).
    let t = &report.trend[0];
    assert_eq!(t.schools, 2);
    assert_eq!((t.before_signing.days, t.after_signing.days), (76, 108));
    assert_eq!(t.before_signing.unchecked_total, "1100.00");
    assert_eq!(t.before_signing.unchecked_per_30_days.as_deref(), Some("434.21"));
    assert_eq!(t.after_signing.unchecked_per_30_days.as_deref(), Some("83.33"));
    assert_eq!(t.reduced, Some(true));
    // The signing month has a row on each side.
    let a_months: Vec<(&str, Period)> = report
        .by_school_and_month
        .iter()
        .filter(|g| g.school_id.as_deref() == Some("a"))
        .map(|g| (g.month.as_deref().unwrap(), g.period.unwrap()))
        .collect();
    assert_eq!(
        a_months,
        [
            ("2024-08", Period::BeforeSigning),
            ("2024-08", Period::AfterSigning),
            ("2024-12", Period::AfterSigning)
        ]
    );
    let csv = report.csv().finish();
    assert!(
        csv.contains(
            "\r\nsigning,a,,,before_signing,,,USD,2024-08-20,19,1,600.00,947.37,0,0.00,0.00,\r\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(
            "\r\nsigning,a,,,after_signing,,,USD,2024-08-20,73,1,300.00,123.29,0,0.00,0.00,true\r\n"
        ),
        "{csv}"
    );
    assert!(
        csv.ends_with("\r\ntrend,,,,after_signing,,,USD,,108,1,300.00,83.33,0,0.00,0.00,true\r\n"),
        "{csv}"
    );
    // An agreement signed later moves the days it covers after signing when the report is
    // asked: the rollups keep the days, not the sides.
    let mut later = changes.to_vec();
    later.push(change(11, "b", Change::Signed, "2024-10-01"));
    let report = rolled(&transactions, &advisories, &later, Some(&coverage), &Scope::all());
    let b = &report.signing[1];
    assert_eq!((b.before_signing.days, b.after_signing.days), (61, 31));
    assert_eq!(b.after_signing.unchecked_total, "250.00");
    assert_eq!(report, folded(&transactions, &advisories, &later, Some(&coverage), &Scope::all()));
}

#[test]
fn rates_round_to_the_cent() {
    assert_eq!(per_30_days(60_000, 19).as_deref(), Some("947.37"));
    assert_eq!(per_30_days(1, 60).as_deref(), Some("0.01"));
    assert_eq!(per_30_days(1, 61).as_deref(), Some("0.00"));
    assert_eq!(per_30_days(100, 0), None);
}

#[test]
fn a_period_counts_what_was_dated_in_it_and_the_covered_days_within_it() {
    use TransactionStatus::*;
    let transactions = [
        card("a", "2024-08-10", "BEST BUY #1", 40_000, UncheckedTechnology),
        card("a", "2024-09-10", "BEST BUY #1", 60_000, UncheckedTechnology),
    ];
    let advisories = [advisory_doc("a", "Dell", 10_000, "2024-08-11")];
    let coverage = CoverageDoc {
        statements: 1,
        first_date: Some(day("2024-08-01")),
        last_date: Some(day("2024-10-31")),
    };
    let scope = Scope {
        period: ReportPeriod::between(Some(day("2024-09-01")), Some(day("2024-12-31"))),
        names: [("a", "Adams Elementary")].into(),
        ..Scope::all()
    };
    let report = rolled(&transactions, &advisories, &[], Some(&coverage), &scope);
    assert_eq!(report.report_period, scope.period);
    let totals = &report.totals[0];
    assert_eq!((totals.unchecked_transactions, totals.advisory_purchases), (1, 0));
    assert_eq!(
        report.covered,
        Some(Covered { statements: 1, from: day("2024-09-01"), to: day("2024-10-31"), days: 61 })
    );
    assert_eq!(report.by_school[0].school_name.as_deref(), Some("Adams Elementary"));
    assert_eq!(report.signing[0].school_name.as_deref(), Some("Adams Elementary"));
    assert_eq!(report.signing[0].before_signing.days, 61);
    let csv = report.csv().finish();
    assert!(csv.contains("\r\nschool,a,Adams Elementary,,,,,USD,"), "{csv}");
}

// ---------------------------------------------------------------------------------------------
// From the log, through the projections

/// 2024-09-02T09:00:00Z plus `minutes`.
fn at(minutes: i64) -> DateTime<Utc> {
    purchases::at(minutes)
}

/// `(school, vendor, cents, minutes after t0)`: advisory purchases, each asked about and
/// decided when recorded, after the district's `settings`.
fn advisory_log(
    settings: Vec<events::district::DistrictEvent>,
    checks: &[(&str, &str, i64, i64)],
) -> Vec<RecordedEvent> {
    let mut log = purchases::district_log(1, settings);
    for (n, (school, vendor, cents, minutes)) in checks.iter().enumerate() {
        let id = Uuid::from_u128(n as u128 + 1);
        let history = [
            (purchases::submitted_from(id, school, vendor, *cents), *minutes),
            (purchases::advisory(), *minutes),
        ];
        let next = log.last().map_or(1, |e| e.position + 1);
        log.extend(purchases::recorded(id, next, &history));
    }
    log
}

/// A card transaction's history: `(event, when recorded)`.
type CardHistory = Vec<(events::card::CardTransactionEvent, DateTime<Utc>)>;

/// The card transactions' histories as the log records them, the n-th as its stream n + 1.
fn card_log(histories: &[CardHistory]) -> Vec<RecordedEvent> {
    let mut log: Vec<RecordedEvent> = Vec::new();
    for (n, history) in histories.iter().enumerate() {
        let stream = transaction_stream(Uuid::from_u128(n as u128 + 1));
        let next = log.last().map_or(1, |e| e.position + 1);
        log.extend(cards::as_recorded_at(stream, history, next));
    }
    log
}

/// The report from what the projections keep for these logs, read as the service reads it.
fn projected(
    cards_log: &[RecordedEvent],
    purchases_log: &[RecordedEvent],
    changes: &[ChangeDoc],
    coverage: Option<&CoverageDoc>,
    scope: &Scope,
) -> RogueSpendReport {
    let (period, split) = (&scope.period, split_months(changes, coverage, &scope.period));
    let cards = cards::apply(cards_log);
    let unchecked = rollup::read_splitting_in_memory(&cards, UNCHECKED_FIGURES, period, &split);
    let advisory = purchases::advisory_rollups(purchases_log, period, &split);
    build(&unchecked, &advisory, changes, coverage, scope)
}

#[test]
fn given_an_advisory_purchase_late_at_night_then_it_counts_on_the_districts_day_then() {
    // Given Chicago, and a purchase asked about at 23:30 there on 30 September (1 October,
    // 04:30, in UTC).
    let late = 28 * 24 * 60 + 19 * 60 + 30;
    assert_eq!(at(late), "2024-10-01T04:30:00Z".parse::<DateTime<Utc>>().unwrap());
    let mut log = advisory_log(
        purchases::chicago_settings_with_labor_day(),
        &[("adams", "Dell", 70_000, late)],
    );
    // When reported, then it is September's, on the 30th.
    let report = projected(&[], &log, &[], None, &Scope::all());
    let months: Vec<_> = report.by_month.iter().map(|g| g.month.clone()).collect();
    assert_eq!(months, [Some("2024-09".to_owned())]);
    let partitions = purchases::advisory_partitions(&log);
    assert_eq!(partitions.len(), 1);
    assert_eq!(partitions[0].0, "2024-09-30", "the district's day it was asked about");
    assert!(partitions[0].1.days.contains_key(&day("2024-09-30")));
    let september =
        Scope { period: ReportPeriod::between(None, Some(day("2024-09-30"))), ..Scope::all() };
    assert_eq!(projected(&[], &log, &[], None, &september).totals[0].advisory_total, "700.00");

    // When the district moves to UTC afterwards, then the purchase stays on the day it was
    // measured on.
    let next = log.last().unwrap().position + 1;
    let moved = purchases::district_log(next, purchases::always_settings());
    log.extend(moved.into_iter().map(|mut e| {
        e.version += 2;
        e
    }));
    assert_eq!(projected(&[], &log, &[], None, &Scope::all()), report);
}

#[test]
fn given_card_spend_and_advisory_spend_then_a_vendor_is_named_as_its_first_card_spelled_it() {
    // Given an advisory purchase from "best buy" on 3 September, and card transactions at
    // "Best Buy" on 5 September and "BEST BUY" on 4 September, the latter matched later.
    let checks = [("adams", "best buy", 100_000, 24 * 60)];
    let log = advisory_log(purchases::always_settings(), &checks);
    let on = |date: &str, merchant: &'static str, reference: &'static str| cards::Card {
        school: "adams",
        date: day(date),
        merchant,
        cents: 30_000,
        ..cards::Card::technology(reference)
    };
    let recorded_at: DateTime<Utc> = "2024-09-10T12:00:00Z".parse().unwrap();
    let histories = vec![
        vec![(on("2024-09-05", "Best Buy", "REF-1").recorded(), recorded_at)],
        vec![
            (on("2024-09-04", "BEST BUY", "REF-2").recorded(), recorded_at),
            (cards::matched(), "2024-10-02T12:00:00Z".parse().unwrap()),
        ],
    ];
    let report = projected(&card_log(&histories), &log, &[], None, &Scope::all());
    // Then one group, named as the card spelled it, with one unchecked transaction.
    let vendors: Vec<(&str, u64, u64)> = report
        .by_vendor
        .iter()
        .map(|g| (g.vendor.as_deref().unwrap(), g.unchecked_transactions, g.advisory_purchases))
        .collect();
    assert_eq!(vendors, [("Best Buy", 1, 1)]);
    // Without card spend, the advisory purchase names it.
    let report = projected(&[], &log, &[], None, &Scope::all());
    assert_eq!(report.by_vendor[0].vendor.as_deref(), Some("best buy"));
}

const SCHOOLS: [&str; 3] = ["adams", "bryant", "carver"];
const VENDORS: [&str; 5] = ["Best Buy", "BEST BUY", "best buy", "Dell", "Amazon.com"];

/// A card transaction's status changes after its record: matched, flagged, undone, ambiguous.
fn status_change(kind: usize) -> events::card::CardTransactionEvent {
    match kind {
        0 => cards::matched(),
        1 => cards::flagged(),
        2 => cards::undone(),
        _ => cards::ambiguous(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the card transactions (and how their status changes later), advisory
    /// purchases, agreements, statements and period, in one calendar the rollups give what
    /// folding every document gave.
    #[test]
    fn the_rollups_give_what_folding_every_document_gives(
        card_spend in proptest::collection::vec(
            (0usize..3, 0usize..5, 1i64..1_500_000, 0i64..100, -70i64..40,
             proptest::collection::vec((0usize..4, 0i64..60 * 24 * 30), 0..4)),
            0..20,
        ),
        checks in proptest::collection::vec(
            (0usize..3, 0usize..5, 1i64..1_500_000, 0i64..60 * 24 * 100),
            0..20,
        ),
        agreements in proptest::collection::vec((0usize..3, any::<bool>(), 0i64..100), 0..5),
        coverage in proptest::option::of((0i64..100, 0i64..60)),
        from in proptest::option::of(0i64..100),
        length in proptest::option::of(0i64..60),
        chicago in any::<bool>(),
    ) {
        let settings = if chicago {
            purchases::chicago_settings_with_labor_day()
        } else {
            purchases::always_settings()
        };
        let calendar: DistrictCalendar = purchases::calendar_of(&settings);
        let t0 = at(0).date_naive();
        let days = |n: i64| t0 + TimeDelta::days(n);

        // The advisory purchases.
        let checks: Vec<(&str, &str, i64, i64)> = checks
            .iter()
            .map(|(s, v, cents, minutes)| (SCHOOLS[*s], VENDORS[*v], *cents, *minutes))
            .collect();
        let purchases_log = advisory_log(settings, &checks);

        // The card transactions: each recorded some days after its date (or, a statement's
        // mistake, up to 70 days before it), then changed.
        let histories: Vec<CardHistory> = card_spend
            .iter()
            .enumerate()
            .map(|(n, (school, merchant, cents, date, delay, changes))| {
                let reference = format!("REF-{n}");
                let card = cards::Card {
                    reference: &reference,
                    school: SCHOOLS[*school],
                    date: days(*date),
                    merchant: VENDORS[*merchant],
                    cents: *cents,
                    technology: true,
                    credit: false,
                };
                let mut when = at(0) + TimeDelta::days(date + delay);
                let mut history = vec![(card.recorded(), when)];
                for (kind, after) in changes {
                    when += TimeDelta::minutes(*after);
                    history.push((status_change(*kind), when));
                }
                history
            })
            .collect();
        let cards_log = card_log(&histories);

        let changes: Vec<ChangeDoc> = agreements
            .iter()
            .zip(1u64..)
            .map(|((school, signed, on), sequence)| ChangeDoc {
                sequence,
                school_id: SCHOOLS[*school].to_owned(),
                change: if *signed { Change::Signed } else { Change::Withdrawn },
                on: days(*on),
                principal_id: None,
            })
            .collect();
        let coverage = coverage.map(|(first, length)| CoverageDoc {
            statements: 1,
            first_date: Some(days(first)),
            last_date: Some(days(first + length)),
        });
        let from = from.map(days);
        let to = from.zip(length).map(|(f, l)| f + TimeDelta::days(l));
        let scope = Scope {
            period: ReportPeriod::between(from, to),
            calendar,
            names: [("adams", "Adams")].into(),
        };

        // The documents as the fold read them, in the order that names the vendor groups.
        let card_docs = cards::apply(&cards_log);
        let mut transactions: Vec<TransactionDoc> = card_docs
            .iter()
            .filter(|(k, _)| k.collection == TRANSACTIONS)
            .map(|(_, v)| serde_json::from_value(v.clone()).unwrap())
            .collect();
        transactions.sort_by(|a, b| {
            (first_of_month(a.transaction_date), &a.school_id, a.merchant.trim())
                .cmp(&(first_of_month(b.transaction_date), &b.school_id, b.merchant.trim()))
        });
        let mut advisories: Vec<AdvisoryDoc> = checks
            .iter()
            .map(|(school, vendor, cents, minutes)| AdvisoryDoc {
                asked_at: Some(at(*minutes)),
                decided_on: None,
                ..advisory_doc(school, vendor, *cents, "2024-09-02")
            })
            .collect();
        let day_of = |a: &AdvisoryDoc| a.day(&scope.calendar).map(first_of_month);
        advisories.sort_by(|a, b| {
            (day_of(a), &a.school_id, a.vendor.trim()).cmp(&(day_of(b), &b.school_id, b.vendor.trim()))
        });

        let report = projected(&cards_log, &purchases_log, &changes, coverage.as_ref(), &scope);
        let oracle = folded(&transactions, &advisories, &changes, coverage.as_ref(), &scope);
        prop_assert_eq!(report, oracle);
    }
}
