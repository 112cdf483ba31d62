use chrono::{DateTime, TimeDelta, Utc};
use eventlog::RecordedEvent;
use events::stakeholders::{
    CALL_BEFORE_CANCEL, PromiseBroken, PromiseKept, PromiseMade, StakeholderRegistered,
    StakeholderRole, StakeholderUpdated, promise_stream, stakeholder_stream,
};
use events::values::{Email, LongText, SchoolId, ShortText};
use proptest::prelude::*;

use super::super::purchases::fixtures::*;
use super::*;

/// t0 (2024-09-02T09:00:00Z) plus `days`, and `minutes`.
fn on(days: i64, minutes: i64) -> DateTime<Utc> {
    at(days * 24 * 60 + minutes)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn school(id: &str) -> PromiseTo {
    PromiseTo::School { school_id: SchoolId::parse(id).unwrap() }
}

fn person(n: u128) -> PromiseTo {
    PromiseTo::Stakeholder { stakeholder_id: Uuid::from_u128(n) }
}

/// The teacher `n`, working at `school` (none: district staff).
fn teacher(n: u128, school: Option<&str>) -> StakeholderRegistered {
    StakeholderRegistered {
        stakeholder_id: Uuid::from_u128(n),
        name: ShortText::parse("Pat Lee").unwrap(),
        email: Email::parse(&format!("p{n}@district.org")).unwrap(),
        phone: None,
        role: StakeholderRole::Teacher,
        school_id: school.map(|s| SchoolId::parse(s).unwrap()),
    }
}

/// `e`, of the stakeholder `n`, recorded on day `days`.
fn stakeholder_event(n: u128, e: StakeholderEvent, days: i64) -> RecordedEvent {
    event_at(stakeholder_stream(Uuid::from_u128(n)), e.event_type(), e.to_data(), on(days, 0))
}

/// The stakeholder `n` registered at `school` (none: district staff) on day `days`.
fn registered(n: u128, school: Option<&str>, days: i64) -> RecordedEvent {
    stakeholder_event(n, teacher(n, school).into(), days)
}

/// The stakeholder `n` moving to `school` on day `days`.
fn moved(n: u128, school: Option<&str>, days: i64) -> RecordedEvent {
    let StakeholderRegistered { name, email, phone, role, school_id, .. } = teacher(n, school);
    stakeholder_event(n, StakeholderUpdated { name, email, phone, role, school_id }.into(), days)
}

/// The promise `n` made by `owner` to `to`, recorded at day `days` and `minutes`, made on
/// that (UTC) day less `back` days, due `due_in` days after it; the standing promise of
/// an agreement when `standing`.
#[allow(clippy::too_many_arguments)]
fn made(
    n: u128,
    owner: &str,
    to: PromiseTo,
    days: i64,
    minutes: i64,
    back: i64,
    due_in: i64,
    standing: bool,
) -> RecordedEvent {
    let recorded_at = on(days, minutes);
    let made_on = recorded_at.date_naive() - TimeDelta::days(back);
    let e = PromiseEvent::from(PromiseMade {
        promise_id: Uuid::from_u128(n),
        to,
        text: LongText::parse("Projector fixed").unwrap(),
        due_on: made_on + TimeDelta::days(due_in),
        owner: owner.into(),
        made_on,
        kind: standing.then(|| CALL_BEFORE_CANCEL.to_owned()),
    });
    event_at(promise_stream(Uuid::from_u128(n)), e.event_type(), e.to_data(), recorded_at)
}

/// A promise made simply: recorded on day `days` at t0's time, due `due_in` days later.
fn promise(n: u128, owner: &str, to: PromiseTo, days: i64, due_in: i64) -> RecordedEvent {
    made(n, owner, to, days, 0, 0, due_in, false)
}

/// The standing promise `n` of `school`'s agreement, recorded on day `days`.
fn standing(n: u128, owner: &str, school_id: &str, days: i64) -> RecordedEvent {
    made(n, owner, school(school_id), days, 0, 0, 0, true)
}

/// The promise `n` kept (or broken) on day `days`.
fn settled(n: u128, kept: bool, days: i64) -> RecordedEvent {
    let recorded_at = on(days, 0);
    let evidence = LongText::parse("Ticket 4411").unwrap();
    let on = recorded_at.date_naive();
    let e = if kept {
        PromiseEvent::from(PromiseKept { evidence, on })
    } else {
        PromiseEvent::from(PromiseBroken { evidence, on })
    };
    event_at(promise_stream(Uuid::from_u128(n)), e.event_type(), e.to_data(), recorded_at)
}

/// How a held purchase ends.
#[derive(Debug, Clone, Copy)]
enum End {
    StillHeld,
    Approved,
    CancelledAfterCall,
    CancelledWithoutCall,
}

/// The held purchase `n` of `school` flagged at `minutes` after t0 and what became of it.
fn purchase(n: u128, school: &str, minutes: i64, end: End) -> Vec<RecordedEvent> {
    let id = Uuid::from_u128(1_000 + n);
    let mut history = vec![(submitted_at(id, school), minutes), (held(), minutes)];
    match end {
        End::StillHeld => {}
        End::Approved => history.push((approved(), minutes + 60)),
        End::CancelledAfterCall => history.extend([
            (reached(minutes + 10, true), minutes + 10),
            (alternative(), minutes + 20),
            (cancelled(), minutes + 30),
        ]),
        End::CancelledWithoutCall => history.push((cancelled(), minutes + 30)),
    }
    recorded(id, 0, &history)
}

/// The documents the promises projection keeps after `log`.
fn projected(log: &[RecordedEvent]) -> BTreeMap<DocKey, serde_json::Value> {
    kernel::testing::project(&*Promises.into_projection(), log)
}

/// The report from what the projections keep after `log`.
fn report(
    log: &[RecordedEvent],
    changes: &[ChangeDoc],
    today: NaiveDate,
    scope: &Scope,
) -> PromisesReport {
    let store = projected(log);
    let promises: Vec<PromiseDoc> = of(&store, STANDING).into_iter().map(|(_, doc)| doc).collect();
    let settled: Vec<Rollup<PromiseFigures>> =
        rollup::read_in_memory(&store, PROMISE_FIGURES, &scope.period);
    let held = held_partitions(log, &scope.period);
    build(&promises, &settled, &held, changes, today, scope)
}

/// The documents of `collection` in `store`, decoded, with their keys.
fn of<T: serde::de::DeserializeOwned>(
    store: &BTreeMap<DocKey, serde_json::Value>,
    collection: &str,
) -> Vec<(String, T)> {
    store
        .iter()
        .filter(|(k, _)| k.collection == collection)
        .map(|(k, v)| (k.key.clone(), serde_json::from_value(v.clone()).unwrap()))
        .collect()
}

fn withdrawn(school: &str, on: NaiveDate) -> ChangeDoc {
    ChangeDoc {
        sequence: 10_000,
        school_id: school.into(),
        change: Change::Withdrawn,
        on,
        principal_id: None,
    }
}

fn figures(g: &PromiseGroup) -> (u64, u64, u64, u64, u64) {
    (g.made, g.kept, g.broken, g.overdue, g.open)
}

#[test]
fn given_promises_kept_broken_and_open_when_reported_then_each_counts_where_it_stands_today() {
    // Given a teacher at a (from day -10) who moves to b on day 5, and a district employee.
    let mut log = vec![registered(1, Some("a"), -10), registered(2, None, -10)];
    log.push(moved(1, Some("b"), 5));
    // 1: to the teacher at a, kept. 2: to school b, broken. 3: to the district employee,
    // due day 4 and not settled. 4: to the teacher once at b, due day 26.
    log.extend([
        promise(1, "cto", person(1), 0, 3),
        settled(1, true, 2),
        promise(2, "tech", school("b"), 1, 1),
        settled(2, false, 4),
        promise(3, "tech", person(2), 2, 2),
        promise(4, "cto", person(1), 6, 20),
    ]);
    let log = in_log_order(log);
    let today = on(10, 0).date_naive();

    // When reported on day 10.
    let report = report(&log, &[], today, &Scope::all());

    // Then 3 is overdue, 4 open; each by its owner and the school it concerned when made.
    assert_eq!(figures(&report.all), (4, 1, 1, 1, 1));
    assert_eq!(report.all.kept_share, Some(0.5));
    let owners: Vec<_> = report.by_owner.iter().map(|g| (g.key.as_deref(), figures(g))).collect();
    assert_eq!(owners, [(Some("cto"), (2, 1, 0, 0, 1)), (Some("tech"), (2, 0, 1, 1, 0))]);
    let schools: Vec<_> = report.by_school.iter().map(|g| (g.key.as_deref(), figures(g))).collect();
    assert_eq!(
        schools,
        [(Some("a"), (1, 1, 0, 0, 0)), (Some("b"), (2, 0, 1, 0, 1)), (None, (1, 0, 0, 1, 0))]
    );
    assert_eq!(report.call_before_cancel, CallBeforeCancel::default());
    let csv = report.csv().finish();
    assert!(csv.starts_with("dimension,key,name,made,kept,broken,overdue,open,kept_share\r\n"));
    assert!(csv.contains("\r\nschool,,,1,0,0,1,0,\r\n"), "{csv}");
    assert!(csv.contains("\r\nowner,tech,,2,0,1,1,0,0\r\n"), "{csv}");

    // And on the day 4 is due, it is still open; the day after, overdue.
    let due = on(26, 0).date_naive();
    assert_eq!(figures(&report_on(&log, due).all), (4, 1, 1, 1, 1));
    assert_eq!(figures(&report_on(&log, due.succ_opt().unwrap()).all), (4, 1, 1, 2, 0));
}

fn report_on(log: &[RecordedEvent], today: NaiveDate) -> PromisesReport {
    report(log, &[], today, &Scope::all())
}

#[test]
fn given_promises_when_kept_then_each_is_counted_by_day_and_only_the_open_and_standing_have_documents()
 {
    // Given two promises settled (one made in September, settled in October), one open and
    // a standing one.
    let log = in_log_order(vec![
        promise(1, "cto", school("a"), 0, 3),
        settled(1, true, 30),
        promise(2, "cto", school("a"), 1, 3),
        settled(2, false, 2),
        promise(3, "tech", school("b"), 1, 3),
        standing(4, "cto", "a", 1),
        // Settling a standing promise is not how it is settled: it stays.
        settled(4, false, 3),
    ]);
    // When projected.
    let store = projected(&log);
    // Then the open promise has a document (what settling it needs), the standing one one
    // of its own; every promise is counted by the day it was made and school, by owner,
    // in the partition of the day it was made: open by its due day until it is settled.
    let keys = |c: &str| -> Vec<String> {
        store.keys().filter(|k| k.collection == c).map(|k| k.key.clone()).collect()
    };
    assert_eq!(keys(PROMISES), [Uuid::from_u128(3).to_string()]);
    assert_eq!(keys(STANDING), [Uuid::from_u128(4).to_string()]);
    let partitions: BTreeMap<&str, &serde_json::Value> = store
        .iter()
        .filter(|(k, _)| k.collection == BY_DAY)
        .map(|(k, v)| (k.key.as_str(), v))
        .collect();
    assert_eq!(
        partitions,
        BTreeMap::from([
            ("2024-09-02", &serde_json::json!({"2024-09-02": {"a": {"cto": {"kept": 1}}}})),
            (
                "2024-09-03",
                &serde_json::json!({"2024-09-03": {
                    "a": {"cto": {"broken": 1}},
                    "b": {"tech": {"open": {"2024-09-06": 1}}}
                }})
            ),
        ])
    );
    // And by the month it was made and school, the days' entries summed under its first day.
    assert_eq!(
        store.get(&DocKey::new(BY_MONTH, rollup::month_partition_key(day("2024-09-01"), "a"))),
        Some(&serde_json::json!({"2024-09-01": {"a": {"cto": {"kept": 1, "broken": 1}}}}))
    );
    assert_eq!(
        store.get(&DocKey::new(BY_MONTH, rollup::month_partition_key(day("2024-09-01"), "b"))),
        Some(&serde_json::json!({"2024-09-01": {"b": {"tech": {"open": {"2024-09-06": 1}}}}}))
    );
    // And they count as before.
    let report = report_on(&log, on(10, 0).date_naive());
    assert_eq!(figures(&report.all), (4, 2, 1, 1, 0));
    assert_eq!(figures(&report.by_school[0]), (3, 2, 1, 0, 0));
}

#[test]
fn given_standing_promises_when_a_cancellation_came_without_a_call_then_the_one_in_force_is_broken()
{
    // Given the standing promises of a (day 0) and of b (day 0, and again on day 20 after
    // signing anew).
    let mut log = vec![
        standing(5, "cto", "a", 0),
        standing(6, "cto", "b", 0),
        standing(20, "tech", "b", 20),
        promise(1, "cto", school("a"), 1, 50),
    ];
    // Two cancellations at a after a call and an alternative; one at b without, held on
    // day 5 (in force: b's first promise); one at b still held; one approved.
    log.extend(purchase(1, "a", 2 * 24 * 60, End::CancelledAfterCall));
    log.extend(purchase(2, "a", 3 * 24 * 60, End::CancelledAfterCall));
    log.extend(purchase(3, "b", 5 * 24 * 60, End::CancelledWithoutCall));
    log.extend(purchase(4, "b", 21 * 24 * 60, End::StillHeld));
    log.extend(purchase(5, "b", 22 * 24 * 60, End::Approved));
    let log = in_log_order(log);

    // When reported.
    let today = on(40, 0).date_naive();
    let report = report(&log, &[], today, &Scope::all());

    // Then b's first standing promise is broken, its second (made after) kept.
    let cbc = &report.call_before_cancel;
    assert_eq!((cbc.promises, cbc.kept, cbc.broken), (3, 2, 1));
    assert_eq!((cbc.cancellations, cbc.call_and_alternative_first, cbc.without), (3, 2, 1));
    let b = &cbc.by_school[1];
    assert_eq!(b.school_id, "b");
    assert_eq!((b.promises, b.kept, b.broken, b.owner.as_deref()), (2, 1, 1, Some("tech")));
    assert_eq!((b.cancellations, b.without), (1, 1));
    // And they count among all promises, by owner and by school.
    assert_eq!(figures(&report.all), (4, 2, 1, 0, 1));
    let owners: Vec<_> = report.by_owner.iter().map(|g| (g.key.as_deref(), figures(g))).collect();
    assert_eq!(owners, [(Some("cto"), (3, 1, 1, 0, 1)), (Some("tech"), (1, 1, 0, 0, 0))]);

    // When a cancellation without a call follows the second one's signing, it is broken too.
    let mut more = log.clone();
    more.extend(purchase(6, "b", 30 * 24 * 60, End::CancelledWithoutCall));
    let report = report_on(&in_log_order(more), today);
    assert_eq!(report.call_before_cancel.by_school[1].broken, 2);
}

#[test]
fn given_a_period_when_reported_then_promises_made_in_it_and_the_standing_ones_then_count() {
    // Given a standing promise for a and for b (day 0); promises made on day 1 (kept on
    // day 40) and day 35 (broken on day 36) and day 36 (open); a cancellation without a
    // call at b flagged on day 2, one at a flagged on day 33.
    let mut log = vec![
        standing(1, "cto", "a", 0),
        standing(2, "cto", "b", 0),
        promise(3, "cto", school("a"), 1, 3),
        settled(3, true, 40),
        promise(4, "tech", school("b"), 35, 3),
        settled(4, false, 36),
        promise(5, "tech", school("a"), 36, 30),
    ];
    log.extend(purchase(1, "b", 2 * 24 * 60, End::CancelledWithoutCall));
    log.extend(purchase(2, "a", 33 * 24 * 60, End::CancelledWithoutCall));
    let log = in_log_order(log);
    let today = on(50, 0).date_naive();
    // When asked for October (days 29 to 59), with the schools' names.
    let october = Scope {
        period: ReportPeriod::between(Some(day("2024-10-01")), Some(day("2024-10-31"))),
        names: [("a", "Adams Elementary"), ("b", "Bryant Elementary")].into(),
        ..Scope::all()
    };
    let got = report(&log, &[], today, &october);
    // Then the promises made in October (4 broken, 5 open) and both standing promises, a's
    // broken by October's cancellation, b's kept (its cancellation was in September).
    assert_eq!(figures(&got.all), (4, 1, 2, 0, 1));
    let cbc = &got.call_before_cancel;
    assert_eq!((cbc.promises, cbc.kept, cbc.broken, cbc.cancellations), (2, 1, 1, 1));
    let named: Vec<_> = cbc
        .by_school
        .iter()
        .map(|s| (s.school_id.as_str(), s.school_name.as_deref(), s.broken))
        .collect();
    assert_eq!(named, [("a", Some("Adams Elementary"), 1), ("b", Some("Bryant Elementary"), 0)]);
    assert_eq!(got.by_school[0].name.as_deref(), Some("Adams Elementary"));
    // September: promise 3 (kept, though settled in October) and both standing promises,
    // b's broken.
    let september = ReportPeriod::between(Some(day("2024-09-01")), Some(day("2024-09-30")));
    let got = report(&log, &[], today, &Scope { period: september, ..Scope::all() });
    assert_eq!(figures(&got.all), (3, 2, 1, 0, 0));
    // Before any standing promise was made, none stands.
    let before = ReportPeriod::between(None, Some(day("2024-09-01")));
    let got = report(&log, &[], today, &Scope { period: before, ..Scope::all() });
    assert_eq!(got.call_before_cancel.promises, 0);
    // School b withdrew in September: in October its standing promise stood no more.
    let changes = [withdrawn("b", day("2024-09-15"))];
    let got = report(&log, &changes, today, &october);
    let schools: Vec<_> =
        got.call_before_cancel.by_school.iter().map(|s| s.school_id.as_str()).collect();
    assert_eq!(schools, ["a"]);
}

#[test]
fn given_a_school_that_withdrew_and_signed_again_on_one_day_when_reported_later_then_the_new_promise_stands()
 {
    // Given b's standing promise of day 0, its withdrawal on day 20 and its signing again on
    // that day (a new standing promise, logged after the withdrawal), and a cancellation
    // without a call on day 40 (October).
    let mut log = vec![standing(2, "cto", "b", 0), standing(7, "tech", "b", 20)];
    log.extend(purchase(1, "b", 40 * 24 * 60, End::CancelledWithoutCall));
    let mut log = in_log_order(log);
    for event in &mut log {
        event.position *= 10;
    }
    let again = promise_stream(Uuid::from_u128(7));
    let signed_again = log.iter().find(|e| e.stream == again).unwrap().position;
    let changes =
        [ChangeDoc { sequence: signed_again - 5, ..withdrawn("b", on(20, 0).date_naive()) }];
    let october = ReportPeriod::between(Some(day("2024-10-01")), Some(day("2024-10-31")));

    // When October is reported.
    let got =
        report(&log, &changes, on(50, 0).date_naive(), &Scope { period: october, ..Scope::all() });

    // Then the promise made on signing again stood, and the cancellation broke it; the one the
    // withdrawal ended did not stand.
    let cbc = &got.call_before_cancel;
    assert_eq!((cbc.promises, cbc.kept, cbc.broken, cbc.without), (1, 0, 1, 1));
    assert_eq!(cbc.by_school[0].owner.as_deref(), Some("tech"));
}

/// The report as it was once made, on every request: one document per promise (its
/// outcome too), a fold over every held purchase's document and every promise. The read
/// models kept as the events arrive must give the same report.
mod oracle {
    use super::super::super::purchases::HeldDoc;
    use super::*;

    const ORACLE_PROMISES: &str = "oracle.promises";
    const ORACLE_STAKEHOLDERS: &str = "oracle.promises.stakeholders";

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    enum Outcome {
        Kept,
        Broken,
    }

    /// A promise as it was made, and its outcome once settled.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct OldPromiseDoc {
        #[serde(flatten)]
        made: PromiseDoc,
        outcome: Option<Outcome>,
    }

    impl std::ops::Deref for OldPromiseDoc {
        type Target = PromiseDoc;

        fn deref(&self) -> &PromiseDoc {
            &self.made
        }
    }

    struct OldPromises;

    impl ReadModel for OldPromises {
        const NAME: &'static str = ORACLE_PROMISES;
        type Doc = OldPromiseDoc;

        fn collections(&self) -> Vec<&'static str> {
            vec![ORACLE_PROMISES, ORACLE_STAKEHOLDERS]
        }

        fn filter(&self) -> Filter {
            Filter::all().with_types(TYPES)
        }

        fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
            promise_key(event)
        }

        fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
            match event.event {
                Published::Stakeholder(_) => {
                    vec![DocKey::new(ORACLE_STAKEHOLDERS, event.stream_id())]
                }
                Published::Promise(PromiseEvent::Made(PromiseMade {
                    to: PromiseTo::Stakeholder { stakeholder_id },
                    ..
                })) => vec![DocKey::new(ORACLE_STAKEHOLDERS, stakeholder_id.to_string())],
                _ => vec![],
            }
        }

        fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, OldPromiseDoc>) -> Applied {
            let id = event.stream_id();
            match event.event {
                Published::Stakeholder(e) => {
                    StakeholderDoc::keep(e, id, docs.of(ORACLE_STAKEHOLDERS));
                }
                Published::Promise(PromiseEvent::Made(m)) => {
                    let made = PromiseDoc::made(m, event.position, docs.of(ORACLE_STAKEHOLDERS));
                    docs.put(id, &OldPromiseDoc { made, outcome: None });
                }
                Published::Promise(settled) => {
                    let Some(mut doc) = docs.get(id) else { return Ok(()) };
                    if doc.is_call_before_cancel() {
                        return Ok(());
                    }
                    doc.outcome = match settled {
                        PromiseEvent::Kept(_) => Some(Outcome::Kept),
                        _ => Some(Outcome::Broken),
                    };
                    docs.put(id, &doc);
                }
                _ => {}
            }
            Ok(())
        }
    }

    /// Every promise's document after `log`, as the old read model kept them.
    pub fn promise_documents(log: &[RecordedEvent]) -> Vec<OldPromiseDoc> {
        kernel::testing::project(&*OldPromises.into_projection(), log)
            .into_iter()
            .filter(|(k, _)| k.collection == ORACLE_PROMISES)
            .map(|(_, v)| serde_json::from_value(v).unwrap())
            .collect()
    }

    /// The old `build`.
    pub fn folded(
        promises: &[OldPromiseDoc],
        held: &[HeldDoc],
        changes: &[ChangeDoc],
        today: NaiveDate,
        scope: &Scope,
    ) -> PromisesReport {
        let period = &scope.period;
        let mut standing: BTreeMap<&str, Vec<(&OldPromiseDoc, bool)>> = BTreeMap::new();
        let withdrawn_before_period = |p: &OldPromiseDoc| {
            period.from.is_some_and(|from| {
                changes.iter().any(|c| {
                    c.change == Change::Withdrawn
                        && p.school_id.as_deref() == Some(c.school_id.as_str())
                        && p.sequence < c.sequence
                        && c.on < from
                })
            })
        };
        let standing_then = |p: &&OldPromiseDoc| {
            period.to.is_none_or(|to| p.made_on <= to) && !withdrawn_before_period(p)
        };
        for p in promises.iter().filter(|p| p.is_call_before_cancel()).filter(standing_then) {
            if let Some(school) = p.school_id.as_deref() {
                standing.entry(school).or_default().push((p, true));
            }
        }
        for list in standing.values_mut() {
            list.sort_by_key(|(p, _)| p.sequence);
        }
        let mut cbc_schools: BTreeMap<&str, CallBeforeCancelSchool> = BTreeMap::new();
        let mut cbc = CallBeforeCancel::default();
        let flagged_in_period =
            |h: &&HeldDoc| period.is_all() || h.flagged_at.is_some_and(|at| scope.contains_at(at));
        for h in held.iter().filter(flagged_in_period) {
            let Some(first) = h.call_and_alternative_first else { continue };
            cbc.cancellations += 1;
            let school = cbc_schools.entry(&h.school_id).or_default();
            school.cancellations += 1;
            if first {
                cbc.call_and_alternative_first += 1;
                school.call_and_alternative_first += 1;
            } else {
                cbc.without += 1;
                school.without += 1;
            }
            let covering = standing.get_mut(h.school_id.as_str()).and_then(|list| {
                list.iter_mut().rev().find(|(p, _)| p.sequence < h.decided_sequence)
            });
            if let Some((_, kept)) = covering {
                *kept &= first;
            }
        }
        let mut standings: Vec<(&OldPromiseDoc, Standing)> = promises
            .iter()
            .filter(|p| !p.is_call_before_cancel() && period.contains(p.made_on))
            .map(|p| {
                let s = match p.outcome {
                    Some(Outcome::Kept) => Standing::Kept,
                    Some(Outcome::Broken) => Standing::Broken,
                    None if is_past_due(p.due_on, today) => Standing::Overdue,
                    None => Standing::Open,
                };
                (p, s)
            })
            .collect();
        for (school, list) in &standing {
            let entry = cbc_schools.entry(school).or_default();
            for (p, kept) in list {
                standings.push((p, if *kept { Standing::Kept } else { Standing::Broken }));
                cbc.promises += 1;
                entry.promises += 1;
                entry.owner = Some(p.owner.clone());
                if *kept {
                    cbc.kept += 1;
                    entry.kept += 1;
                } else {
                    cbc.broken += 1;
                    entry.broken += 1;
                }
            }
        }
        let mut all = PromiseGroup::default();
        let mut by_owner: BTreeMap<&str, PromiseGroup> = BTreeMap::new();
        let mut by_school: BTreeMap<Option<&str>, PromiseGroup> = BTreeMap::new();
        for (p, s) in standings {
            all.add(s, 1);
            by_owner.entry(&p.owner).or_default().add(s, 1);
            by_school.entry(p.school_id.as_deref()).or_default().add(s, 1);
        }
        cbc.by_school = cbc_schools
            .into_iter()
            .map(|(school, mut s)| {
                s.school_id = school.to_owned();
                s.school_name = scope.names.get(school);
                s
            })
            .collect();
        let keyed = |key: Option<&str>, name: Option<String>, g: PromiseGroup| PromiseGroup {
            key: key.map(str::to_owned),
            name,
            ..g.finish()
        };
        let mut by_school: Vec<PromiseGroup> =
            by_school.into_iter().map(|(k, g)| keyed(k, scope.names.of_some(k), g)).collect();
        by_school.sort_by_key(|g| (g.key.is_none(), g.key.clone()));
        PromisesReport {
            as_of: today,
            period: period.clone(),
            all: all.finish(),
            by_owner: by_owner.into_iter().map(|(k, g)| keyed(Some(k), None, g)).collect(),
            by_school,
            call_before_cancel: cbc,
        }
    }
}

const SCHOOLS: [&str; 3] = ["adams", "bryant", "carver"];

/// A promise: owner, to (0 to 2 a stakeholder, 3 to 5 a school), the day and minute it is
/// recorded, days before it was made (a standing promise: signed earlier), due in, standing,
/// and its settling (kept, days after).
type PromiseCase = (usize, usize, i64, i64, i64, i64, bool, Option<(bool, i64)>);

fn promise_case() -> impl Strategy<Value = PromiseCase> {
    (
        0usize..2,
        0usize..6,
        0i64..70,
        0i64..24 * 60,
        0i64..3,
        0i64..30,
        proptest::bool::weighted(0.2),
        proptest::option::of((any::<bool>(), 0i64..40)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the promises, stakeholders' moves, purchases, agreement changes, day and
    /// period, the read models kept as the events arrive give what the fold over every
    /// promise and held purchase gave.
    #[test]
    fn the_rollups_give_what_folding_every_promise_and_purchase_gives(
        moves in proptest::collection::vec((0u128..3, 0usize..4, 0i64..70), 0..6),
        promises in proptest::collection::vec(promise_case(), 0..30),
        purchases in proptest::collection::vec((0usize..3, 0i64..60 * 24 * 70, 0usize..4), 0..30),
        changes in proptest::collection::vec((0usize..3, any::<bool>(), 0i64..70), 0..4),
        today in 0i64..120,
        from in proptest::option::of(-5i64..90),
        length in proptest::option::of(0i64..60),
    ) {
        let school_of = |i: usize| SCHOOLS.get(i).copied();
        let mut log = vec![
            registered(0, Some("adams"), -30),
            registered(1, Some("bryant"), -30),
            registered(2, None, -30),
        ];
        for (who, to, days) in &moves {
            log.push(moved(*who, school_of(*to), *days));
        }
        let owners = ["cto", "tech"];
        for (n, (owner, to, days, minutes, back, due_in, standing, settle)) in
            promises.iter().enumerate()
        {
            let n = n as u128 + 1;
            let to_school = *to >= 3;
            let to = if to_school { school(SCHOOLS[to - 3]) } else { person(*to as u128) };
            let standing = *standing && to_school;
            let back = if standing { *back } else { 0 };
            log.push(made(n, owners[*owner], to, *days, *minutes, back, *due_in, standing));
            if let Some((kept, after)) = settle {
                let mut e = settled(n, *kept, days + after);
                e.recorded_at = e.recorded_at.max(on(*days, *minutes));
                log.push(e);
            }
        }
        let ends = [End::StillHeld, End::Approved, End::CancelledAfterCall, End::CancelledWithoutCall];
        for (n, (school, minutes, end)) in purchases.iter().enumerate() {
            log.extend(purchase(n as u128, SCHOOLS[*school], *minutes, ends[*end]));
        }
        let log = in_log_order(log);
        let changes: Vec<ChangeDoc> = changes
            .iter()
            .zip(0u64..)
            .map(|((school, withdrew, days), sequence)| ChangeDoc {
                sequence,
                school_id: SCHOOLS[*school].into(),
                change: if *withdrew { Change::Withdrawn } else { Change::Signed },
                on: on(*days, 0).date_naive(),
                principal_id: None,
            })
            .collect();
        let t0 = at(0).date_naive();
        let today = t0 + TimeDelta::days(today);
        let from = from.map(|d| t0 + TimeDelta::days(d));
        let to = from.zip(length).map(|(f, l)| f + TimeDelta::days(l));
        let scope = Scope {
            period: ReportPeriod::between(from, to),
            names: [("adams", "Adams")].into(),
            ..Scope::all()
        };
        let held: Vec<_> = held_documents(&log).into_values().collect();
        let old = oracle::folded(&oracle::promise_documents(&log), &held, &changes, today, &scope);
        prop_assert_eq!(report(&log, &changes, today, &scope), old);
    }
}
