use events::calendar::{BusinessHours, DistrictCalendar, TimeZoneName};

use super::*;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn utc() -> DistrictCalendar {
    DistrictCalendar::default()
}

fn chicago() -> DistrictCalendar {
    DistrictCalendar::new(TimeZoneName::parse("America/Chicago").unwrap(), BusinessHours::office())
}

fn in_calendar(calendar: DistrictCalendar) -> Scope {
    Scope { calendar, ..Scope::all() }
}

fn school(id: &str, registered: &str, gated: bool) -> SchoolDoc {
    SchoolDoc {
        school_id: id.into(),
        name: None,
        registered_on: Some(day(registered)),
        registered_at: None,
        gated,
    }
}

#[test]
fn series_by_month_and_change() {
    let schools = [
        school("a", "2024-08-01", true),
        school("b", "2024-08-15", false),
        school("c", "2024-10-02", true),
    ];
    let changes = [
        ChangeDoc {
            sequence: 5,
            school_id: "a".into(),
            change: Change::Signed,
            on: day("2024-08-20"),
            principal_id: None,
        },
        ChangeDoc {
            sequence: 9,
            school_id: "b".into(),
            change: Change::Signed,
            on: day("2024-09-01"),
            principal_id: None,
        },
        ChangeDoc {
            sequence: 12,
            school_id: "b".into(),
            change: Change::Withdrawn,
            on: day("2024-10-05"),
            principal_id: None,
        },
        ChangeDoc {
            sequence: 14,
            school_id: "c".into(),
            change: Change::Signed,
            on: day("2024-10-03"),
            principal_id: None,
        },
    ];
    let mut sums = SpendSums::default();
    sums.add(&SpendSums {
        checks: 3,
        technology_checks: 2,
        technology_cents: 30_000,
        gated_checks: 1,
        gated_cents: 10_000,
    });
    // Counted on two days of September, kept in two partitions.
    let (half, rest) = split(&sums);
    let spend = [
        SpendDoc { by_day: [(day("2024-09-12"), [("USD".into(), half)].into())].into() },
        SpendDoc { by_day: [(day("2024-09-30"), [("USD".into(), rest)].into())].into() },
    ];
    let docs = AdoptionDocs {
        schools: schools.to_vec(),
        changes: changes.to_vec(),
        spend: spend.to_vec(),
        ..AdoptionDocs::default()
    };
    let report = build(&docs, day("2024-11-10"), &in_calendar(utc()));
    assert_eq!(report.schools, counts(3, 2));
    let months: Vec<(&str, u64, u64)> = report
        .months
        .iter()
        .map(|m| (m.month.as_str(), m.schools.total, m.schools.gated))
        .collect();
    assert_eq!(
        months,
        [("2024-08", 2, 1), ("2024-09", 2, 2), ("2024-10", 3, 2), ("2024-11", 3, 2)]
    );
    assert_eq!(report.months[1].technology_spend[0].technology_spend, "300.00");
    assert_eq!(report.months[1].technology_spend[0].gated_spend_share, Some(0.3333));
    let order: Vec<u64> = report.agreement_changes.iter().map(|c| c.sequence).collect();
    assert_eq!(order, [5, 9, 14, 12]);
    assert_eq!(report.agreement_changes[3].schools, counts(3, 2));
    let csv = report.csv().finish();
    assert!(csv.starts_with("dimension,month,schools_total,"), "{csv}");
    assert!(csv.contains("\r\nmonth,2024-08,2,1,0.5,0.3333,,,,,,,,,,,,\r\n"), "{csv}");
    assert!(
        csv.contains("\r\nmonth,2024-09,2,2,1,0.6667,USD,3,2,300.00,1,100.00,0.3333,,,,,\r\n"),
        "{csv}"
    );
    assert!(csv.contains("\r\nsigning,,,,,,,,,,,,,a,,2024-08-20,,\r\n"), "{csv}");
    assert_eq!(report.signings.len(), 3);

    // September and October only: their months, spend and changes; the schools at the
    // end of October.
    let scope = Scope {
        period: ReportPeriod::between(Some(day("2024-09-01")), Some(day("2024-10-31"))),
        ..in_calendar(utc())
    };
    let report = build(&docs, day("2024-11-10"), &scope);
    let months: Vec<&str> = report.months.iter().map(|m| m.month.as_str()).collect();
    assert_eq!(months, ["2024-09", "2024-10"]);
    assert_eq!(report.technology_spend[0].technology_spend, "300.00");
    let order: Vec<u64> = report.agreement_changes.iter().map(|c| c.sequence).collect();
    assert_eq!(order, [9, 14, 12]);
    assert_eq!(report.schools, counts(3, 2));
    assert_eq!(report.signings.len(), 2);
    // A period that ends within October: its row counts the schools at the period's end
    // (Washington withdrew on the 5th, after it), as `schools` does.
    let scope = Scope {
        period: ReportPeriod::between(Some(day("2024-10-01")), Some(day("2024-10-04"))),
        ..in_calendar(utc())
    };
    let report = build(&docs, day("2024-11-10"), &scope);
    assert_eq!(report.months.len(), 1);
    assert_eq!(report.months[0].schools, counts(3, 3));
    assert_eq!(report.schools, counts(3, 3));
    // August alone: two schools counted then, one gated.
    let scope = Scope {
        period: ReportPeriod::between(None, Some(day("2024-08-31"))),
        ..in_calendar(utc())
    };
    let report = build(&docs, day("2024-11-10"), &scope);
    assert_eq!(report.schools, counts(2, 1));
    assert!(report.technology_spend.is_empty());
}

/// `sums` in two parts that add up to it.
fn split(sums: &SpendSums) -> (SpendSums, SpendSums) {
    let first = SpendSums {
        checks: 1,
        technology_checks: 1,
        technology_cents: 20_000,
        gated_checks: 0,
        gated_cents: 0,
    };
    let rest = SpendSums {
        checks: sums.checks - 1,
        technology_checks: sums.technology_checks - 1,
        technology_cents: sums.technology_cents - 20_000,
        gated_checks: sums.gated_checks,
        gated_cents: sums.gated_cents,
    };
    (first, rest)
}

#[test]
fn a_sign_up_at_half_past_eleven_at_night_on_the_last_day_of_a_month_counts_in_that_month() {
    // Saturday 31 August 2024, 23:30 in Chicago: 04:30 on 1 September in UTC.
    let late = "2024-09-01T04:30:00Z".parse().unwrap();
    let schools = [SchoolDoc {
        school_id: "a".into(),
        name: None,
        registered_on: None,
        registered_at: Some(late),
        gated: false,
    }];
    let check = SpendSums {
        checks: 1,
        technology_checks: 1,
        technology_cents: 50_000,
        ..SpendSums::default()
    };
    // Counted on the district's day when the gate decided: 31 August in Chicago.
    let spend = [SpendDoc { by_day: [(day("2024-08-31"), [("USD".into(), check)].into())].into() }];
    let docs = AdoptionDocs {
        schools: schools.to_vec(),
        spend: spend.to_vec(),
        ..AdoptionDocs::default()
    };
    let report = build(&docs, day("2024-09-10"), &in_calendar(chicago()));
    let months: Vec<(&str, u64, usize)> = report
        .months
        .iter()
        .map(|m| (m.month.as_str(), m.schools.total, m.technology_spend.len()))
        .collect();
    assert_eq!(months, [("2024-08", 1, 1), ("2024-09", 1, 0)]);
    assert_eq!(report.months[0].technology_spend[0].technology_spend, "500.00");
    // In UTC's calendar, the registration is September's; the spend stays on the day it was
    // counted on when the gate decided.
    let report = build(&docs, day("2024-09-10"), &in_calendar(utc()));
    let months: Vec<(&str, u64, usize)> = report
        .months
        .iter()
        .map(|m| (m.month.as_str(), m.schools.total, m.technology_spend.len()))
        .collect();
    assert_eq!(months, [("2024-08", 0, 1), ("2024-09", 1, 0)]);
}

#[test]
fn empty() {
    let report = build(&AdoptionDocs::default(), day("2024-11-10"), &Scope::all());
    assert!(report.months.is_empty());
    assert_eq!(report.schools, counts(0, 0));
    assert_eq!(report.schools.gated_share, None);
}

/// A signing: the school, its principal's name, the advocates' names and schools.
type Summary<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, &'a str)>);

#[test]
fn signings_name_the_advocates_whose_word_came_first() {
    let [ana, sam, lee, kim] = [1u128, 2, 3, 4].map(Uuid::from_u128);
    let person = |id: Uuid, name: &str, school: &str| PersonDoc {
        stakeholder_id: id,
        name: name.into(),
        school_id: Some(school.into()),
    };
    let word = |advocate: Uuid, to: Uuid, on: &str| AdvocacyDoc {
        advocate_id: advocate,
        to_id: to,
        on: day(on),
    };
    let signed = |seq: u64, school: &str, on: &str, principal: Uuid| ChangeDoc {
        sequence: seq,
        school_id: school.into(),
        change: Change::Signed,
        on: day(on),
        principal_id: Some(principal),
    };
    let docs = AdoptionDocs {
        schools: vec![
            SchoolDoc { name: Some("Adams Elementary".into()), ..school("a", "2024-08-01", true) },
            SchoolDoc { name: Some("Bryant Middle".into()), ..school("b", "2024-08-01", true) },
            school("c", "2024-08-01", true),
        ],
        changes: vec![
            signed(5, "a", "2024-09-01", ana),
            signed(9, "b", "2024-10-01", sam),
            signed(12, "c", "2024-10-05", lee),
        ],
        people: vec![
            person(ana, "Ana Ruiz", "a"),
            person(sam, "Sam Lee", "b"),
            person(lee, "Lee Park", "c"),
            person(kim, "Kim Cho", "a"),
        ],
        advocacy: vec![
            // Ana and Kim spoke to Sam before he signed; Ana twice.
            word(ana, sam, "2024-09-10"),
            word(kim, sam, "2024-09-20"),
            word(ana, sam, "2024-09-25"),
            // Sam spoke to Lee after Lee signed: it did not come first.
            word(sam, lee, "2024-10-06"),
        ],
        ..AdoptionDocs::default()
    };
    let scope =
        Scope { names: [("a", "Adams Elementary"), ("b", "Bryant Middle")].into(), ..Scope::all() };
    let report = build(&docs, day("2024-11-10"), &scope);
    let summary: Vec<Summary> = report
        .signings
        .iter()
        .map(|s| {
            let advocates = s
                .advocates
                .iter()
                .map(|a| {
                    (
                        a.advocate.name.as_deref().unwrap(),
                        a.advocate.school_name.as_deref().unwrap(),
                    )
                })
                .collect();
            (s.school_id.as_str(), s.principal.as_ref().and_then(|p| p.name.as_deref()), advocates)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("a", Some("Ana Ruiz"), vec![]),
            (
                "b",
                Some("Sam Lee"),
                vec![("Ana Ruiz", "Adams Elementary"), ("Kim Cho", "Adams Elementary")]
            ),
            ("c", Some("Lee Park"), vec![]),
        ]
    );
    assert_eq!(report.signings[1].advocates[0].on, day("2024-09-10"));
    assert_eq!(
        report.advocacy,
        AdvocacyShare { signings: 3, after_advocacy: 1, share: Some(0.3333) }
    );
    assert_eq!(report.agreement_changes[1].school_name.as_deref(), Some("Bryant Middle"));
    let csv = report.csv().finish();
    assert!(
        csv.contains("\r\nsigning,,,,,,,,,,,,,b,Bryant Middle,2024-10-01,Sam Lee,Ana Ruiz (2024-09-10); Kim Cho (2024-09-20)\r\n"),
        "{csv}"
    );

    // A word said before a withdrawal does not carry over to a later signature.
    let mut docs = docs;
    docs.changes.push(ChangeDoc {
        sequence: 20,
        school_id: "b".into(),
        change: Change::Withdrawn,
        on: day("2024-10-15"),
        principal_id: None,
    });
    docs.changes.push(signed(21, "b", "2024-11-01", sam));
    let report = build(&docs, day("2024-11-10"), &scope);
    assert_eq!(report.signings.len(), 4);
    assert!(report.signings[3].advocates.is_empty());
}

#[test]
fn only_the_principals_who_signed_and_the_advocates_are_named() {
    let (principal, advocate, spoken_to) =
        (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    let change = |principal_id| ChangeDoc {
        sequence: 1,
        school_id: "a".into(),
        change: Change::Signed,
        on: day("2024-09-01"),
        principal_id,
    };
    let advocacy = AdvocacyDoc { advocate_id: advocate, to_id: spoken_to, on: day("2024-08-20") };
    let named = named(&[change(Some(principal)), change(None)], &[advocacy]);
    assert_eq!(named, BTreeSet::from([principal.to_string(), advocate.to_string()]));
}
