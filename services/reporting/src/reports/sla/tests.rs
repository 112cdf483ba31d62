use eventlog::{DocKey, RecordedEvent};
use events::clocks::{PurchaseClocks, PurchaseSlaBreached, SlaEvent, sla_stream};
use events::district::{BusinessMinutes, DistrictEvent};
use events::gate::PurchaseEvent;
use kernel::ReadModel;
use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use std::collections::BTreeMap;

use super::super::clocks::{BY_DAY, Clocks, DISTRICT, DISTRICT_KEY, DistrictDoc, NAME as CLOCKS};
use super::*;
use crate::reports::purchases::fixtures::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Minutes from t0 (2024-09-02T09:00:00Z) to `s`.
fn m(s: &str) -> i64 {
    (t(s) - at(0)).num_minutes()
}

/// The report as it was once built for every request, kept to check the rollup against: a
/// fold over every flagged purchase's clocks, each judged in `district` at `now`.
fn folded(docs: &[ClockDoc], district: &District, now: DateTime<Utc>, scope: &Scope) -> SlaReport {
    let calendar = &district.calendar;
    let mut groups: Grouped<Acc> = Grouped::default();
    for doc in docs {
        let clocks = doc.clocks.clocks(district);
        let Some(started) = clocks.first().map(|c| c.started_at) else { continue };
        if !scope.period.contains_at(started, calendar) {
            continue;
        }
        let judged = judge(clocks.iter(), calendar, now);
        let month = month_of_day(calendar.today(started));
        groups.add(&doc.school_id, month, |acc| acc.add_judged(true, &judged));
    }
    report(groups, district, now, scope)
}

/// What the clocks projection keeps after `log`, one batch per event.
struct Projected {
    store: BTreeMap<DocKey, Value>,
    /// The day partitions, by key.
    partitions: Vec<(String, Rollup<SlaFigures>)>,
    open: Vec<ClockDoc>,
    docs: Vec<ClockDoc>,
    district: District,
}

fn projected(log: &[RecordedEvent]) -> Projected {
    let store = kernel::testing::project(&*Clocks::default().into_projection(), log);
    let of = |collection: &str| -> Vec<(String, Value)> {
        store
            .iter()
            .filter(|(k, _)| k.collection == collection)
            .map(|(k, v)| (k.key.clone(), v.clone()))
            .collect()
    };
    let decode = |v: Value| serde_json::from_value::<ClockDoc>(v).unwrap();
    let district = store
        .get(&DocKey::new(DISTRICT, DISTRICT_KEY))
        .map(|v| serde_json::from_value::<DistrictDoc>(v.clone()).unwrap().district())
        .unwrap_or_default();
    Projected {
        store: store.clone(),
        partitions: of(BY_DAY)
            .into_iter()
            .map(|(k, v)| (k, serde_json::from_value(v).unwrap()))
            .collect(),
        open: of(OPEN).into_iter().map(|(_, v)| decode(v)).collect(),
        docs: of(CLOCKS).into_iter().map(|(_, v)| decode(v)).collect(),
        district,
    }
}

impl Projected {
    fn report(&self, now: DateTime<Utc>, scope: &Scope) -> SlaReport {
        let partitions = rollup::read_in_memory(&self.store, SLA_FIGURES, &scope.period);
        build(&partitions, &self.open, &self.district, now, scope)
    }

    fn folded(&self, now: DateTime<Utc>, scope: &Scope) -> SlaReport {
        folded(&self.docs, &self.district, now, scope)
    }
}

/// Appends purchase `n` of `school` to `log`: submitted and decided at `flag`, then `events`
/// recorded at their times.
fn append(
    log: &mut Vec<RecordedEvent>,
    n: u128,
    school: &str,
    decision: PurchaseEvent,
    flag: &str,
    events: &[(PurchaseEvent, &str)],
) {
    let id = Uuid::from_u128(n);
    let mut history = vec![(submitted_at(id, school), m(flag)), (decision, m(flag))];
    history.extend(events.iter().map(|(e, at)| (e.clone(), m(at))));
    let next = log.last().map_or(1, |e| e.position + 1);
    log.extend(recorded(id, next, &history));
}

/// The scheduler's `purchase-sla-breached` for `clock` of purchase `n`, due at `due_at`,
/// recorded at `recorded_at`: appended to `log` (the `sla-…` stream's next version).
fn breach(
    log: &mut Vec<RecordedEvent>,
    n: u128,
    clock: ClockKind,
    due_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
) {
    let id = Uuid::from_u128(n);
    let event = SlaEvent::from(PurchaseSlaBreached {
        purchase_id: id,
        clock,
        due_at,
        target_minutes: BusinessMinutes::new(240).unwrap(),
        district_version: 1,
    });
    let stream = sla_stream(id);
    let version = log.iter().filter(|e| e.stream == stream).count() as u64 + 1;
    let mut recorded = event_at(stream, event.event_type(), event.to_data(), recorded_at);
    recorded.position = log.last().map_or(1, |e| e.position + 1);
    recorded.version = version;
    log.push(recorded);
}

/// The due time of `kind` of clock of the purchase `doc` keeps, in `district`.
fn due_at(doc: &ClockDoc, district: &District, kind: ClockKind) -> DateTime<Utc> {
    let clocks = doc.clocks.clocks(district);
    let clock = clocks.iter().find(|c| c.kind == kind).unwrap();
    clock.due_at(&district.calendar).unwrap()
}

/// Appends `events` of purchase `n` (flagged by [`append`] already) to `log`, recorded at
/// their times.
fn append_to(log: &mut Vec<RecordedEvent>, n: u128, events: &[(PurchaseEvent, &str)]) {
    let id = Uuid::from_u128(n);
    let stream = events::gate::purchase_stream(id);
    let versions = log.iter().filter(|e| e.stream == stream).count() as u64;
    let history: Vec<(PurchaseEvent, i64)> =
        events.iter().map(|(e, at)| (e.clone(), m(at))).collect();
    let next = log.last().map_or(1, |e| e.position + 1);
    log.extend(recorded(id, next, &history).into_iter().map(|mut e| {
        e.version += versions;
        e
    }));
}

fn approved_at(at: &str) -> PurchaseEvent {
    events::gate::PurchaseApproved { note: None, alternative_id: None, occurred_at: Some(t(at)) }
        .into()
}

/// Chicago, 08:00 to 16:30 on weekdays, Labor Day closed; with the targets of [`sla_targets`]
/// (first contact in 60 business minutes, a decision in 480, advisory outreach in 240, a
/// warning at half) set on 2024-08-01, or none; then four purchases.
fn log(with_targets: bool) -> Vec<RecordedEvent> {
    let mut settings = chicago_settings_with_labor_day();
    if with_targets {
        settings.push(sla_targets());
    }
    // Set on 2024-08-01, before the purchases.
    let mut log = district_later(1, 1, m("2024-08-01T00:00:00Z"), settings);
    // Monday 09:00 in Chicago: a call at 09:30, approved at 11:00. Both met.
    append(
        &mut log,
        1,
        "a",
        held(),
        "2024-09-09T14:00:00Z",
        &[
            (reached(m("2024-09-09T14:30:00Z"), true), "2024-09-09T14:31:00Z"),
            (approved(), "2024-09-09T16:00:00Z"),
        ],
    );
    // Monday 09:00: a call at 11:00 (late), no decision after 13.5 business hours.
    append(
        &mut log,
        2,
        "a",
        held(),
        "2024-09-09T14:00:00Z",
        &[(reached(m("2024-09-09T16:00:00Z"), true), "2024-09-09T16:00:00Z")],
    );
    // Tuesday 13:00: advisory, an hour of its four.
    append(&mut log, 3, "b", advisory(), "2024-09-10T18:00:00Z", &[]);
    // Friday 2024-08-30 15:00: the call on Tuesday at 08:30 after Labor Day (2 business hours:
    // late); approved Tuesday at 10:00 (3.5 business hours: in time).
    append(
        &mut log,
        4,
        "b",
        held(),
        "2024-08-30T20:00:00Z",
        &[
            (reached(m("2024-09-03T13:30:00Z"), true), "2024-09-03T13:30:00Z"),
            (approved_at("2024-09-03T15:00:00Z"), "2024-09-03T15:00:00Z"),
        ],
    );
    log
}

/// Judged on Tuesday 2024-09-10 at 14:00 in Chicago (19:00Z).
const NOW: &str = "2024-09-10T19:00:00Z";

#[test]
fn given_flagged_purchases_when_reported_then_clocks_are_judged_in_business_time_by_school_and_month()
 {
    // Given the four purchases, in Chicago's calendar with targets.
    let projected = projected(&log(true));
    // Only the two with a running clock are open: P2 (its decision) and P3 (its outreach).
    assert_eq!(projected.open.len(), 2);

    // When reported.
    let report = projected.report(t(NOW), &Scope::all());

    // Then each clock is judged in business time, as folding every purchase judged it.
    assert_eq!(report, projected.folded(t(NOW), &Scope::all()));
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
fn given_an_open_advisory_clock_when_reported_later_then_it_warns_then_breaches() {
    let projected = projected(&log(true));
    // Tuesday 15:30 in Chicago: 2.5 of 4 business hours.
    let later = projected.report(t("2024-09-10T20:30:00Z"), &Scope::all());
    assert_eq!(later.all.advisory_outreach.warning, 1);
    // Wednesday 09:00: 4.5 business hours.
    let breached = projected.report(t("2024-09-11T14:00:00Z"), &Scope::all());
    let outreach = &breached.all.advisory_outreach;
    assert_eq!((outreach.breached, outreach.breached_open, outreach.attainment), (1, 1, Some(0.0)));
    assert_eq!(breached, projected.folded(t("2024-09-11T14:00:00Z"), &Scope::all()));
}

#[test]
fn given_no_targets_when_reported_then_there_are_no_clocks() {
    let projected = projected(&log(false));
    assert!(projected.partitions.is_empty(), "nothing counted");
    let report = projected.report(t(NOW), &Scope::all());
    assert!(!report.targets_set);
    assert_eq!(report.all, SlaGroup { key: "all".into(), ..SlaGroup::default() });
    assert!(report.by_school.is_empty() && report.by_month.is_empty());
}

#[test]
fn given_no_targets_when_purchases_are_resolved_then_they_leave_the_open_ones_and_never_count() {
    // Given the four purchases without targets (P1 and P4 approved, P2 and P3 not resolved),
    // and an advisory purchase P5 cancelled without a call.
    let mut log = log(false);
    append(
        &mut log,
        5,
        "c",
        advisory(),
        "2024-09-10T15:00:00Z",
        &[(cancelled(), "2024-09-10T16:00:00Z")],
    );
    let projected_before = projected(&log);

    // Then only the unresolved ones are kept, open: the resolved ones have no clocks.
    assert_eq!(projected_before.open.len(), 2);
    let schools: Vec<&str> = projected_before.open.iter().map(|d| d.school_id.as_str()).collect();
    assert_eq!(schools, ["a", "b"], "P2 and P3");
    assert_eq!(projected_before.docs.len(), 2);
    assert!(projected_before.partitions.is_empty(), "nothing counted");
    let report = projected_before.report(t(NOW), &Scope::all());
    assert_eq!(report.all, SlaGroup { key: "all".into(), ..SlaGroup::default() });

    // When the targets are set afterwards, and a call is logged for the cancelled one.
    let next = log.last().unwrap().position + 1;
    log.extend(district_later(next, 3, m("2024-09-10T18:30:00Z"), vec![sla_targets()]));
    append_to(&mut log, 5, &[(reached(m("2024-09-10T18:40:00Z"), true), "2024-09-10T18:40:00Z")]);
    let after = projected(&log);

    // Then the unresolved ones are judged from the targets, as before; the resolved ones never
    // count.
    assert_eq!(after.open.len(), 2);
    let report = after.report(t(NOW), &Scope::all());
    assert_eq!(report, after.folded(t(NOW), &Scope::all()));
    assert_eq!(report.all.purchases, 2);
    assert_eq!(report.all.advisory_outreach.clocks, 1);
}

#[test]
fn given_an_advisory_purchase_never_called_when_its_breach_is_recorded_then_it_leaves_the_open_ones()
 {
    // Given the four purchases with targets, and the scheduler's breach of P3's outreach at
    // its due time (Wednesday 08:30 in Chicago: 3.5 business hours on Tuesday, half an hour on
    // Wednesday).
    let mut log = log(true);
    let projected_before = projected(&log);
    let p3 = projected_before.open.iter().find(|d| d.school_id == "b").unwrap();
    let due = due_at(p3, &projected_before.district, ClockKind::AdvisoryOutreach);
    assert_eq!(due, t("2024-09-11T13:30:00Z"));
    breach(&mut log, 3, ClockKind::AdvisoryOutreach, due, due);
    let breached = projected(&log);

    // Then only P2 (its decision clock running) is open.
    assert_eq!(breached.open.len(), 1);
    assert_eq!(breached.open[0].school_id, "a");
    let doc = breached.docs.iter().find(|d| d.school_id == "b").unwrap();
    assert_eq!(doc.breached_open, [ClockKind::AdvisoryOutreach]);
    assert!(doc.counted.is_empty());

    // When reported at Wednesday 09:00: breached and still running, as folding every
    // purchase judged it.
    let now = t("2024-09-11T14:00:00Z");
    let report = breached.report(now, &Scope::all());
    assert_eq!(report, breached.folded(now, &Scope::all()));
    let outreach = &report.all.advisory_outreach;
    assert_eq!((outreach.clocks, outreach.breached, outreach.breached_open), (1, 1, 1));
    assert_eq!(outreach.attainment, Some(0.0));
    // Before its breach was recorded the same: judged at the request.
    assert_eq!(projected_before.report(now, &Scope::all()), report);

    // When IT calls on Wednesday at 10:00 (5.5 business hours).
    append_to(&mut log, 3, &[(reached(m("2024-09-11T15:00:00Z"), true), "2024-09-11T15:00:00Z")]);
    let called = projected(&log);

    // Then it is breached, not open, with the business time it ran.
    let later = t("2024-09-12T15:00:00Z");
    let report = called.report(later, &Scope::all());
    assert_eq!(report, called.folded(later, &Scope::all()));
    let outreach = &report.all.advisory_outreach;
    assert_eq!((outreach.clocks, outreach.breached, outreach.breached_open), (1, 1, 0));
    assert_eq!(outreach.business_hours.max_business_hours, Some(5.5));
    let doc = called.docs.iter().find(|d| d.school_id == "b").unwrap();
    assert_eq!(
        (doc.counted.as_slice(), doc.breached_open.as_slice()),
        (&[ClockKind::AdvisoryOutreach][..], &[][..])
    );
    // The breach recorded again (a second scheduler) counts nothing more.
    breach(&mut log, 3, ClockKind::AdvisoryOutreach, due, t("2024-09-12T14:00:00Z"));
    assert_eq!(projected(&log).report(later, &Scope::all()), report);
}

/// When P3's outreach clock is due after `log` (Wednesday 08:30 in Chicago).
fn p3_outreach_due(log: &[RecordedEvent]) -> DateTime<Utc> {
    let projected = projected(log);
    let p3 = projected.open.iter().find(|d| d.school_id == "b").unwrap();
    due_at(p3, &projected.district, ClockKind::AdvisoryOutreach)
}

#[test]
fn given_a_breach_recorded_when_a_call_in_time_is_logged_after_it_then_the_clock_is_met() {
    // Given the scheduler's breach of P3's outreach at its due time, Wednesday 08:30 in Chicago,
    let mut log = log(true);
    let due = p3_outreach_due(&log);
    breach(&mut log, 3, ClockKind::AdvisoryOutreach, due, due);
    // when IT logs at 08:40 the call it made at 08:00, before the due time,
    let call = reached(m("2024-09-11T13:00:00Z"), true);
    append_to(&mut log, 3, &[(call, "2024-09-11T13:40:00Z")]);
    let called = projected(&log);
    // then the clock stopped in time: met, as the gate's fold judges it, not breached.
    let later = t("2024-09-12T15:00:00Z");
    let report = called.report(later, &Scope::all());
    assert_eq!(report, called.folded(later, &Scope::all()));
    let outreach = &report.all.advisory_outreach;
    assert_eq!(
        (outreach.clocks, outreach.met, outreach.breached, outreach.breached_open),
        (1, 1, 0, 0)
    );
    assert_eq!(outreach.attainment, Some(1.0));
    // And the breach recorded again (a second scheduler) changes nothing.
    breach(&mut log, 3, ClockKind::AdvisoryOutreach, due, t("2024-09-12T14:00:00Z"));
    assert_eq!(projected(&log).report(later, &Scope::all()), report);
}

#[test]
fn given_a_closure_written_while_the_breach_was_judged_when_it_is_recorded_then_it_is_not_counted()
{
    // Given P3's outreach due Wednesday 08:30 in Chicago, and a snow day for that Wednesday
    // recorded at 08:29, just before the scheduler (which read the calendar before it) records
    // the breach at 08:30.
    let mut log = log(true);
    let due = p3_outreach_due(&log);
    let district = log[0].stream.clone();
    let version = log.iter().filter(|e| e.stream == district).count() as u64 + 1;
    let next = log.last().unwrap().position + 1;
    let snow = DistrictEvent::from(events::district::ClosureAdded {
        date: "2024-09-11".parse().unwrap(),
        reason: events::values::ShortText::parse("Snow day").unwrap(),
    });
    log.extend(district_later(next, version, m("2024-09-11T13:29:00Z"), vec![snow]));
    breach(&mut log, 3, ClockKind::AdvisoryOutreach, due, due);
    // When projected, then the breach is not counted: the clock is due on Thursday now, and
    // stays among the open ones, judged at the request as the gate judges it.
    let projected = projected(&log);
    assert!(projected.open.iter().any(|d| d.school_id == "b"));
    let now = t("2024-09-11T14:00:00Z");
    let report = projected.report(now, &Scope::all());
    assert_eq!(report, projected.folded(now, &Scope::all()));
    let outreach = &report.all.advisory_outreach;
    assert_eq!((outreach.clocks, outreach.breached, outreach.breached_open), (1, 0, 0));
}

#[test]
fn given_a_period_when_reported_then_it_counts_the_purchases_whose_clocks_started_in_it() {
    let projected = projected(&log(true));
    let scope = Scope {
        period: ReportPeriod::between(Some("2024-09-01".parse().unwrap()), None),
        calendar: projected.district.calendar.clone(),
        names: [("a", "Adams Elementary")].into(),
    };
    let report = projected.report(t(NOW), &scope);
    assert_eq!(report, projected.folded(t(NOW), &scope));
    let months: Vec<&str> = report.by_month.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(months, ["2024-09"]);
    assert_eq!(report.all.purchases, 3);
    assert_eq!(report.period, scope.period);
    let names: Vec<Option<&str>> = report.by_school.iter().map(|g| g.name.as_deref()).collect();
    assert_eq!(names, [Some("Adams Elementary"), None]);
    assert!(report.csv().finish().contains("\r\nschool,a,Adams Elementary,"));
}

/// `settings` recorded `minutes` after t0, as versions from `first_version` of the district's
/// stream, from global position `first_position` on.
fn district_later(
    first_position: u64,
    first_version: u64,
    minutes: i64,
    settings: Vec<DistrictEvent>,
) -> Vec<RecordedEvent> {
    district_log(first_position, settings)
        .into_iter()
        .map(|mut e| {
            e.version += first_version - 1;
            e.recorded_at = at(minutes);
            e
        })
        .collect()
}

#[test]
fn given_a_purchase_flagged_before_any_targets_when_reported_then_its_clocks_start_with_them() {
    // Given the district around the clock in UTC, without targets; a held purchase flagged at
    // t0 and called an hour later; the targets set at 02:00.
    let mut log = district_log(1, always_settings());
    let id = Uuid::from_u128(1);
    log.extend(recorded(id, 2, &[(submitted(id), 0), (held(), 0), (reached(60, true), 60)]));
    log.extend(district_later(5, 2, 120, vec![sla_targets()]));

    // When reported at 03:00: its clocks started with the targets; the first contact, made
    // before, met with no business time; the decision an hour in, on track.
    let projected_before = projected(&log);
    assert!(projected_before.partitions.is_empty(), "no clocks when it was flagged or called");
    assert_eq!(projected_before.open.len(), 1, "judged at the request");
    let now = at(180);
    let report = projected_before.report(now, &Scope::all());
    assert_eq!(report, projected_before.folded(now, &Scope::all()));
    assert_eq!(report.all.purchases, 1);
    assert_eq!((report.all.first_contact.met, report.all.decision.on_track), (1, 1));
    assert_eq!(report.all.first_contact.business_hours.max_business_hours, Some(0.0));

    // When it is approved at 04:00 (two business hours after the targets): the event counts
    // it, once, and every clock; it is no longer open.
    log.extend(recorded(id, 6, &[(approved(), 240)]));
    let after = projected(&log);
    assert!(after.open.is_empty());
    let later = at(600);
    let report = after.report(later, &Scope::all());
    assert_eq!(report, after.folded(later, &Scope::all()));
    assert_eq!(report.all.purchases, 1);
    assert_eq!((report.all.first_contact.met, report.all.decision.met), (1, 1));
    assert_eq!(report.all.decision.business_hours.max_business_hours, Some(2.0));
}

#[test]
fn given_a_calendar_changed_later_when_reported_then_stopped_clocks_keep_their_verdicts() {
    // Given the district around the clock in UTC with targets; a held purchase flagged at t0,
    // called after 30 minutes and approved after 7 hours (met: 420 of 480 minutes); an advisory
    // one flagged at t0, not called yet.
    let mut settings = always_settings();
    settings.push(sla_targets());
    let mut log = district_log(1, settings);
    let (held_id, advisory_id) = (Uuid::from_u128(1), Uuid::from_u128(2));
    log.extend(recorded(
        held_id,
        3,
        &[(submitted(held_id), 0), (held(), 0), (reached(30, true), 30), (approved(), 420)],
    ));
    log.extend(recorded(advisory_id, 7, &[(submitted(advisory_id), 0), (advisory(), 0)]));
    let before = projected(&log).report(at(600), &Scope::all());
    assert_eq!((before.all.decision.met, before.all.advisory_outreach.breached_open), (1, 1));

    // When the district then moves to Chicago's office hours (Labor Day, t0's day, closed).
    log.extend(district_later(9, 3, 500, chicago_settings_with_labor_day()));
    let after = projected(&log);
    let report = after.report(at(600), &Scope::all());

    // Then the approval stays in time and its 7 hours stay 7 hours (folding every purchase
    // in the new calendar would now find none); the open advisory clock is judged in the
    // calendar now in force: no business time yet on the holiday, on track.
    assert_eq!(report.all.decision, before.all.decision);
    assert_eq!(report.all.decision.business_hours.max_business_hours, Some(7.0));
    assert_eq!(
        after.folded(at(600), &Scope::all()).all.decision.business_hours.max_business_hours,
        Some(0.0)
    );
    assert_eq!(report.all.advisory_outreach.on_track, 1);
    // The purchases keep the days they were flagged on (UTC's): no month moves.
    assert_eq!(report.by_month.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), ["2024-09"]);
}

#[test]
fn given_a_purchase_when_its_events_repeat_or_come_late_then_it_and_its_clocks_count_once() {
    // Given targets around the clock; a held purchase flagged at t0, decided again, called at
    // 02:00 (first contact breached: 120 of 60 minutes), approved at 03:00, approved again;
    // then a call logged at 04:00 saying it took place at 00:30.
    let mut settings = always_settings();
    settings.push(sla_targets());
    let mut log = district_log(1, settings);
    let id = Uuid::from_u128(1);
    log.extend(recorded(
        id,
        3,
        &[
            (submitted(id), 0),
            (held(), 0),
            (held(), 1),
            (reached(120, true), 120),
            (approved(), 180),
            (approved(), 190),
            (unreached(30), 240),
        ],
    ));
    let projected = projected(&log);

    // Then the purchase counts once, each clock once, judged when it stopped.
    let report = projected.report(at(600), &Scope::all());
    assert_eq!(report.all.purchases, 1);
    assert_eq!((report.all.first_contact.clocks, report.all.first_contact.breached), (1, 1));
    assert_eq!((report.all.decision.clocks, report.all.decision.met), (1, 1));
    assert_eq!(report.all.first_contact.business_hours.max_business_hours, Some(2.0));
    assert!(projected.open.is_empty());
    let doc = &projected.docs[0];
    assert_eq!(doc.counted, [ClockKind::FirstContact, ClockKind::Decision]);
    // The late call does not rewrite the first contact counted (a fold now would call it met).
    assert_eq!(projected.folded(at(600), &Scope::all()).all.first_contact.met, 1);

    // And the rollup is stored by partition, day and school, zeros left out.
    let json = serde_json::to_value(&projected.partitions[0].1).unwrap();
    assert_eq!(projected.partitions[0].0, "2024-09-02");
    assert_eq!(
        json,
        serde_json::json!({"2024-09-02": {"lincoln-elem": {
            "purchases": 1,
            "first_contact": {"breached": 1, "ran": "c8"},
            "decision": {"met": 1, "ran": "fC"},
        }}})
    );
}

/// A purchase's history for the property test: `(school, advisory, flag, calls, done,
/// breaches)` with the calls as `(minutes after the flag, reached)`, `done` as `(minutes after
/// the flag, cancelled)` (held purchases only), and `breaches` by clock (in the order of
/// [`PurchaseClocks::clocks`]) as the minutes after its due time the scheduler records its
/// breach, when it ran past its due time.
type Generated = (usize, bool, i64, Vec<(i64, bool)>, Option<(i64, bool)>, Vec<Option<i64>>);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the histories (the scheduler's breaches among them), the period and the time
    /// of the request, in one calendar with the targets set first, the rollup and the open
    /// purchases give what folding every purchase gave.
    #[test]
    fn the_rollup_and_the_open_purchases_give_what_folding_every_purchase_gives(
        purchases in proptest::collection::vec(
            (0usize..3, any::<bool>(), 0i64..60 * 24 * 60,
             proptest::collection::vec((0i64..60 * 24 * 6, any::<bool>()), 0..3),
             proptest::option::of((0i64..60 * 24 * 10, any::<bool>())),
             proptest::collection::vec(proptest::option::of(0i64..60 * 24 * 3), 2)),
            0..30,
        ),
        from in proptest::option::of(-5i64..70),
        length in proptest::option::of(0i64..40),
        later in 0i64..60 * 24 * 8,
        chicago in any::<bool>(),
    ) {
        let mut settings =
            if chicago { chicago_settings_with_labor_day() } else { always_settings() };
        settings.push(sla_targets());
        let calendar = calendar_of(&settings);
        let district_events = district_log(1, settings);
        let mut district = District::default();
        for e in &district_events {
            let event = DistrictEvent::from_parts(&e.event_type, &e.data).unwrap();
            district.apply(&event, e.version, e.recorded_at);
        }
        // Each purchase's events at the times they took place, the log in time order.
        let mut events: Vec<RecordedEvent> = Vec::new();
        let purchases: &[Generated] = &purchases;
        for (n, (school, is_advisory, flag, calls, done, breaches)) in purchases.iter().enumerate() {
            let id = Uuid::from_u128(n as u128 + 1);
            let school = ["adams", "bryant", "carver"][*school];
            let decision = if *is_advisory { advisory() } else { held() };
            let mut history = vec![(submitted_at(id, school), *flag), (decision, *flag)];
            for (after, was_reached) in calls {
                let call = if *was_reached { reached(flag + after, true) } else { unreached(flag + after) };
                history.push((call, flag + after));
            }
            if let Some((after, cancel)) = done.filter(|_| !is_advisory) {
                history.push((if cancel { cancelled() } else { approved() }, flag + after));
            }
            history[2..].sort_by_key(|(_, at)| *at);
            let purchase = recorded(id, 0, &history);
            // The breaches the scheduler records, as the gate decides them: a clock that ran
            // past its due time (what is recorded after it took place then, so the fold of the
            // whole history gives the due time it had).
            let mut clocks = PurchaseClocks::default();
            for (event, e) in history.iter().zip(&purchase) {
                clocks.apply(&event.0, e.recorded_at);
            }
            let mut sla = 0;
            for (clock, after) in clocks.clocks(&district).iter().zip(breaches) {
                let (Some(after), Some(due)) = (after, clock.due_at(&district.calendar)) else {
                    continue;
                };
                if clock.stopped_at.is_none_or(|stop| due < stop) {
                    let event = SlaEvent::from(PurchaseSlaBreached {
                        purchase_id: id,
                        clock: clock.kind,
                        due_at: due,
                        target_minutes: clock.target,
                        district_version: district.version,
                    });
                    let mut e = event_at(
                        sla_stream(id),
                        event.event_type(),
                        event.to_data(),
                        due + TimeDelta::minutes(*after),
                    );
                    sla += 1;
                    e.version = sla;
                    events.push(e);
                }
            }
            events.extend(purchase);
        }
        events.sort_by_key(|e| e.recorded_at);
        let mut log = district_events;
        for (e, position) in events.into_iter().zip(log.len() as u64 + 1..) {
            log.push(RecordedEvent { position, ..e });
        }
        let now = log.iter().map(|e| e.recorded_at).max().unwrap_or(at(0)) + TimeDelta::minutes(later);
        let scope = generated_scope(from, length, calendar);
        let projected = projected(&log);
        prop_assert_eq!(projected.report(now, &scope), projected.folded(now, &scope));
    }
}

#[test]
fn given_it_waits_on_the_requester_when_reported_then_the_decision_clock_pauses_as_the_gates_does()
{
    // Given a held purchase flagged Monday 09:00 in Chicago, reached at 09:30, waiting on the
    // requester from 10:00, approved Tuesday at 10:00.
    let mut log = log(true);
    let id = Uuid::from_u128(9);
    let wait: PurchaseEvent = events::gate::WaitingOnRequester {
        note: long("They send the quote"),
        since: t("2024-09-09T15:00:00Z"),
    }
    .into();
    let history = [
        (reached(m("2024-09-09T14:30:00Z"), true), "2024-09-09T14:30:00Z"),
        (wait, "2024-09-09T15:00:00Z"),
        (approved(), "2024-09-10T15:00:00Z"),
    ];
    append(&mut log, 9, "c", held(), "2024-09-09T14:00:00Z", &history);
    // When projected, then the clocks kept are the gate's fold of every event of the purchase.
    let projected = projected(&log);
    let mut gate = events::clocks::PurchaseClocks::default();
    for e in log.iter().filter(|e| e.stream == events::gate::purchase_stream(id)) {
        let event = PurchaseEvent::from_parts(&e.event_type, &e.data).unwrap();
        gate.apply(&event, e.recorded_at);
    }
    let kept = projected.docs.iter().find(|d| d.school_id == "c").unwrap();
    assert_eq!(kept.clocks, gate);
    // And the report judges its decision clock as the gate does.
    let now = t(NOW);
    let status = gate.status(&projected.district, now).unwrap();
    let decision = status.clocks.iter().find(|c| c.clock == ClockKind::Decision).unwrap();
    let report = projected.report(now, &Scope::all());
    let school = report.by_school.iter().find(|g| g.key == "c").unwrap();
    let (met, breached) = (school.decision.met, school.decision.breached);
    assert_eq!(
        (met, breached),
        (
            u64::from(decision.state == SlaState::Met),
            u64::from(decision.state == SlaState::Breached)
        )
    );
}
