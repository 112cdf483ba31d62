use events::calendar::{BusinessHours, ClockTime, TimeZoneName, Weekday};
use events::clocks::PurchaseClocks;
use events::district::{BusinessMinutes, ClosureAdded, DistrictEvent, DistrictSet, SlaTargets};
use events::gate::{CallLogged, Decision, PurchaseApproved, PurchaseDecided, PurchaseEvent};
use events::values::ShortText;
use uuid::Uuid;

use super::*;
use crate::reports::purchases::fixtures::{held, submitted};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Chicago, 08:00 to 16:30 on weekdays, Labor Day closed; first contact in 60 business
/// minutes, a decision in 480, advisory outreach in 240; a warning at half.
fn chicago(with_targets: bool) -> District {
    let set = DistrictEvent::from(DistrictSet {
        name: ShortText::parse("Springfield").unwrap(),
        time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
        business_hours: BusinessHours::new(
            ClockTime::parse("08:00").unwrap(),
            ClockTime::parse("16:30").unwrap(),
            Weekday::ALL[..5].to_vec(),
        )
        .unwrap(),
        school_year_starts_in: None,
    });
    let labor_day = DistrictEvent::from(ClosureAdded {
        date: "2024-09-02".parse().unwrap(),
        reason: ShortText::parse("Labor Day").unwrap(),
    });
    let minutes = |n| BusinessMinutes::new(n).unwrap();
    let targets = DistrictEvent::from(SlaTargets {
        first_contact_minutes: minutes(60),
        decision_minutes: minutes(480),
        advisory_outreach_minutes: minutes(240),
        warn_at_percent: vec![50],
        escalate_to: None,
        by_payment_method: Default::default(),
    });
    let mut events = vec![set, labor_day];
    if with_targets {
        events.push(targets);
    }
    let at = t("2024-08-01T00:00:00Z");
    District::from_events(events.iter().zip(1..).map(|(e, v)| (e, v, at)))
}

fn call(at: &str) -> PurchaseEvent {
    CallLogged {
        call_id: Uuid::now_v7(),
        requester_reached: true,
        goal: None,
        notes: None,
        occurred_at: t(at),
        spoke_with: None,
    }
    .into()
}

fn approved() -> PurchaseEvent {
    PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into()
}

fn advisory() -> PurchaseEvent {
    PurchaseDecided {
        decision: Decision::Advisory,
        reasons: vec![],
        policy_version: 4,
        school_gated: false,
    }
    .into()
}

/// Purchase `n` of `school`: submitted and decided at `flag`, then `events` recorded at their
/// times.
fn doc(
    n: u128,
    school: &str,
    decision: PurchaseEvent,
    flag: &str,
    events: &[(PurchaseEvent, &str)],
) -> ClockDoc {
    let mut clocks = PurchaseClocks::default();
    clocks.apply(&submitted(Uuid::from_u128(n)), t(flag));
    clocks.apply(&decision, t(flag));
    for (event, at) in events {
        clocks.apply(event, t(at));
    }
    ClockDoc { school_id: school.into(), clocks }
}

/// Judged on Tuesday 2024-09-10 at 14:00 in Chicago (19:00Z).
const NOW: &str = "2024-09-10T19:00:00Z";

fn docs() -> Vec<ClockDoc> {
    vec![
        // Monday 09:00 in Chicago: a call at 09:30, approved at 11:00. Both met.
        doc(
            1,
            "a",
            held(),
            "2024-09-09T14:00:00Z",
            &[
                (call("2024-09-09T14:30:00Z"), "2024-09-09T14:31:00Z"),
                (approved(), "2024-09-09T16:00:00Z"),
            ],
        ),
        // Monday 09:00: a call at 11:00 (late), no decision after 13.5 business hours.
        doc(
            2,
            "a",
            held(),
            "2024-09-09T14:00:00Z",
            &[(call("2024-09-09T16:00:00Z"), "2024-09-09T16:00:00Z")],
        ),
        // Tuesday 13:00: advisory, an hour of its four.
        doc(3, "b", advisory(), "2024-09-10T18:00:00Z", &[]),
        // Friday 2024-08-30 15:00: the call on Tuesday at 08:30 after Labor Day (2 business
        // hours: late); approved Tuesday at 10:00 (3.5 business hours: in time).
        doc(
            4,
            "b",
            held(),
            "2024-08-30T20:00:00Z",
            &[
                (call("2024-09-03T13:30:00Z"), "2024-09-03T13:30:00Z"),
                (approved(), "2024-09-03T15:00:00Z"),
            ],
        ),
    ]
}

#[test]
fn clocks_are_judged_in_business_time_by_school_and_month() {
    let report = build(&docs(), &chicago(true), t(NOW), &Scope::all());
    assert_eq!(report.today.to_string(), "2024-09-10");
    assert_eq!(report.time_zone.as_str(), "America/Chicago");
    assert!(report.targets_set);
    let all = &report.all;
    assert_eq!(all.purchases, 4);
    assert_eq!(
        all.first_contact,
        Attainment {
            clocks: 3,
            met: 1,
            breached: 2,
            breached_open: 0,
            on_track: 0,
            warning: 0,
            attainment: Some(0.3333),
            business_hours: Stats {
                count: 3,
                p50_business_hours: Some(2.0),
                p90_business_hours: Some(2.0),
                max_business_hours: Some(2.0),
            },
        }
    );
    let decision = &all.decision;
    assert_eq!((decision.clocks, decision.met, decision.breached), (3, 2, 1));
    assert_eq!((decision.breached_open, decision.attainment), (1, Some(0.6667)));
    assert_eq!(decision.business_hours.max_business_hours, Some(3.5));
    let outreach = &all.advisory_outreach;
    assert_eq!((outreach.clocks, outreach.on_track, outreach.attainment), (1, 1, None));

    let schools: Vec<(&str, u64)> =
        report.by_school.iter().map(|g| (g.key.as_str(), g.purchases)).collect();
    assert_eq!(schools, [("a", 2), ("b", 2)]);
    assert_eq!(report.by_school[0].first_contact.attainment, Some(0.5));
    let months: Vec<(&str, u64)> =
        report.by_month.iter().map(|g| (g.key.as_str(), g.purchases)).collect();
    assert_eq!(months, [("2024-08", 1), ("2024-09", 3)]);

    let csv = report.csv().finish();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("dimension,key,name,purchases,first_contact_clocks,first_contact_met,")
    );
    assert!(
        header.ends_with(
            ",advisory_outreach_p50_business_hours,advisory_outreach_p90_business_hours"
        )
    );
    assert_eq!(header.split(',').count(), 4 + 3 * 9);
    assert_eq!(
        lines.next().unwrap(),
        "all,all,,4,3,1,2,0,0,0,0.3333,2,2,3,2,1,1,0,0,0.6667,2,3.5,1,0,0,0,1,0,,,"
    );
    assert_eq!(csv.lines().count(), 1 + 1 + 2 + 2);
}

#[test]
fn later_the_open_advisory_clock_warns_then_breaches() {
    let district = chicago(true);
    // Tuesday 15:30 in Chicago: 2.5 of 4 business hours.
    let later = build(&docs(), &district, t("2024-09-10T20:30:00Z"), &Scope::all());
    assert_eq!(later.all.advisory_outreach.warning, 1);
    // Wednesday 09:00: 4.5 business hours.
    let breached = build(&docs(), &district, t("2024-09-11T14:00:00Z"), &Scope::all());
    let outreach = &breached.all.advisory_outreach;
    assert_eq!((outreach.breached, outreach.breached_open, outreach.attainment), (1, 1, Some(0.0)));
}

#[test]
fn without_targets_there_are_no_clocks() {
    let report = build(&docs(), &chicago(false), t(NOW), &Scope::all());
    assert!(!report.targets_set);
    assert_eq!(report.all, SlaGroup { key: "all".into(), ..SlaGroup::default() });
    assert!(report.by_school.is_empty() && report.by_month.is_empty());
}

#[test]
fn a_period_counts_the_purchases_flagged_in_it_and_schools_are_named() {
    let district = chicago(true);
    let scope = Scope {
        period: ReportPeriod::between(Some("2024-09-01".parse().unwrap()), None),
        calendar: district.calendar.clone(),
        names: [("a", "Adams Elementary")].into(),
    };
    let report = build(&docs(), &district, t(NOW), &scope);
    let months: Vec<&str> = report.by_month.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(months, ["2024-09"]);
    assert_eq!(report.all.purchases, 3);
    assert_eq!(report.period, scope.period);
    let names: Vec<Option<&str>> = report.by_school.iter().map(|g| g.name.as_deref()).collect();
    assert_eq!(names, [Some("Adams Elementary"), None]);
    assert!(report.csv().finish().contains("\r\nschool,a,Adams Elementary,"));
}
