use events::calendar::DistrictCalendar;

use super::*;
use events::card::TransactionStatus;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

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
    }
}

fn advisory(school: &str, vendor: &str, cents: i64, on: Option<&str>) -> AdvisoryDoc {
    AdvisoryDoc {
        school_id: school.into(),
        vendor: vendor.into(),
        currency: "USD".into(),
        total_cents: cents,
        decided_on: on.map(day),
        asked_at: None,
    }
}

fn change(sequence: u64, school: &str, change: Change, on: &str) -> ChangeDoc {
    ChangeDoc { sequence, school_id: school.into(), change, on: day(on), principal_id: None }
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
    let advisories =
        [advisory("b", "Amazon", 1_200_000, Some("2024-10-02")), advisory("b", "Dell", 100, None)];
    let report = build(&transactions, &advisories, &[], None, &Scope::all());
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
    // The advisory purchase without a day counts in every figure but the months.
    let months: Vec<&str> = report.by_month.iter().map(|g| g.month.as_deref().unwrap()).collect();
    assert_eq!(months, ["2024-09", "2024-10"]);
    assert_eq!(report.by_month[1].advisory_total, "12000.00");
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
    let advisories = [advisory("b", "Best Buy", 70_000, Some("2024-09-12"))];
    let coverage = CoverageDoc {
        statements: 2,
        first_date: Some(day("2024-08-01")),
        last_date: Some(day("2024-10-31")),
    };
    let report = build(&transactions, &advisories, &changes, Some(&coverage), &Scope::all());
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
}

#[test]
fn rates_round_to_the_cent() {
    assert_eq!(per_30_days(60_000, 19).as_deref(), Some("947.37"));
    assert_eq!(per_30_days(1, 60).as_deref(), Some("0.01"));
    assert_eq!(per_30_days(1, 61).as_deref(), Some("0.00"));
    assert_eq!(per_30_days(100, 0), None);
}

#[test]
fn an_advisory_purchase_counts_on_the_districts_date_it_was_asked_about() {
    use events::calendar::{BusinessHours, TimeZoneName};
    let chicago = DistrictCalendar::new(
        TimeZoneName::parse("America/Chicago").unwrap(),
        BusinessHours::office(),
    );
    // 23:30 in Chicago on 30 September: 1 October in UTC.
    let late = AdvisoryDoc {
        asked_at: Some("2024-10-01T04:30:00Z".parse().unwrap()),
        ..advisory("a", "Dell", 70_000, None)
    };
    let scope = Scope { calendar: chicago, ..Scope::all() };
    let report = build(&[], std::slice::from_ref(&late), &[], None, &scope);
    let months: Vec<_> = report.by_month.iter().map(|g| g.month.clone()).collect();
    assert_eq!(months, [Some("2024-09".to_owned())]);
    let report = build(&[], &[late], &[], None, &Scope::all());
    assert_eq!(report.by_month[0].month.as_deref(), Some("2024-10"));
}

#[test]
fn a_period_counts_what_was_dated_in_it_and_the_covered_days_within_it() {
    use TransactionStatus::*;
    let transactions = [
        card("a", "2024-08-10", "BEST BUY #1", 40_000, UncheckedTechnology),
        card("a", "2024-09-10", "BEST BUY #1", 60_000, UncheckedTechnology),
    ];
    let advisories = [advisory("a", "Dell", 10_000, Some("2024-08-11"))];
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
    let report = build(&transactions, &advisories, &[], Some(&coverage), &scope);
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
