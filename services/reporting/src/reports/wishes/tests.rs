use eventlog::RecordedEvent;
use events::stakeholders::{WishProgressed, WishRecorded, wish_stream};
use events::values::{LongText, SchoolId};
use proptest::prelude::*;
use uuid::Uuid;

use super::super::purchases::fixtures::*;
use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The wish `n` of someone at `school`, made at `made`, recorded by the log at `logged`.
fn wish(
    n: u128,
    school: Option<&str>,
    made: DateTime<Utc>,
    logged: DateTime<Utc>,
) -> RecordedEvent {
    let e = WishEvent::from(WishRecorded {
        wish_id: Uuid::from_u128(n),
        stakeholder_id: Uuid::from_u128(1),
        school_id: school.map(|s| SchoolId::parse(s).unwrap()),
        text: LongText::parse("Faster Wi-Fi").unwrap(),
        conversation_id: Uuid::from_u128(n),
        recorded_at: made,
    });
    event_at(wish_stream(Uuid::from_u128(n)), e.event_type(), e.to_data(), logged)
}

/// The wish `n` progressed to `status` at `at`, recorded by the log at `logged`.
fn progressed(
    n: u128,
    status: WishStatus,
    at: DateTime<Utc>,
    logged: DateTime<Utc>,
) -> RecordedEvent {
    let note = LongText::parse("note").unwrap();
    let e = WishEvent::from(WishProgressed { note, status, at });
    event_at(wish_stream(Uuid::from_u128(n)), e.event_type(), e.to_data(), logged)
}

/// A wish made and recorded at once.
fn made(n: u128, school: Option<&str>, at: &str) -> RecordedEvent {
    wish(n, school, t(at), t(at))
}

/// Progress recorded at once.
fn progress(n: u128, status: WishStatus, at: &str) -> RecordedEvent {
    progressed(n, status, t(at), t(at))
}

/// The day partitions the projection keeps after `log`, by key.
fn partitions(log: &[RecordedEvent]) -> Vec<(String, Rollup<WishFigures>)> {
    kernel::testing::project(&*Wishes::default().into_projection(), log)
        .into_iter()
        .filter(|(k, _)| k.collection == WISHES_BY_DAY)
        .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
        .collect()
}

fn report(log: &[RecordedEvent], now: DateTime<Utc>, scope: &Scope) -> WishesReport {
    let store = kernel::testing::project(&*Wishes::default().into_projection(), log);
    build(&rollup::read_in_memory(&store, WISH_FIGURES, &scope.period), now, scope)
}

fn states(g: &WishGroup) -> (u64, u64, u64, u64, u64) {
    (g.wishes, g.open, g.headway, g.done, g.declined)
}

/// Five wishes: open for over a year; headway in time; done after the year; young and
/// open (of district staff); declined without headway.
fn five_wishes() -> Vec<RecordedEvent> {
    in_log_order(vec![
        made(1, Some("a"), "2024-01-01T00:00:00Z"),
        made(2, Some("a"), "2024-01-01T00:00:00Z"),
        progress(2, WishStatus::InProgress, "2024-03-01T00:00:00Z"),
        made(3, Some("b"), "2023-01-01T00:00:00Z"),
        progress(3, WishStatus::Done, "2024-02-01T00:00:00Z"),
        made(4, None, "2025-05-01T00:00:00Z"),
        made(5, Some("b"), "2025-05-01T00:00:00Z"),
        progress(5, WishStatus::Declined, "2025-05-02T00:00:00Z"),
    ])
}

#[test]
fn given_wishes_in_each_state_when_reported_then_each_counts_once_and_the_year_is_judged_now() {
    // Given five wishes.
    let log = five_wishes();
    // When reported on 2025-06-01.
    let now = t("2025-06-01T00:00:00Z");
    let report = report(&log, now, &Scope::all());
    // Then one in each state but two open, and the young open one pending.
    let all = &report.all;
    assert_eq!(states(all), (5, 2, 1, 1, 1));
    assert_eq!(all.within_a_year, WithinAYear { known: 4, met: 1, pending: 1, share: Some(0.25) });
    let schools: Vec<Option<&str>> =
        report.by_school.iter().map(|g| g.school_id.as_deref()).collect();
    assert_eq!(schools, [Some("a"), Some("b"), None]);
    assert_eq!(report.by_school[0].within_a_year.share, Some(0.5));
    let csv = report.csv().finish();
    assert!(csv.contains("\r\nschool,,,1,1,0,0,0,0,0,1,\r\n"), "{csv}");

    // The school year 2024-25 counts the wishes made from July 2024 to June 2025, with the
    // schools' names beside their ids.
    let year = events::school_year::SchoolYear::parse("2024-25", Default::default()).unwrap();
    let scope = Scope {
        period: ReportPeriod::school_year(year),
        names: [("b", "Bryant Elementary")].into(),
        ..Scope::all()
    };
    let report = build_at(&log, now, &scope);
    assert_eq!(report.period.school_year.as_deref(), Some("2024-25"));
    assert_eq!((report.all.wishes, report.all.declined), (2, 1));
    let schools: Vec<(Option<&str>, Option<&str>)> = report
        .by_school
        .iter()
        .map(|g| (g.school_id.as_deref(), g.school_name.as_deref()))
        .collect();
    assert_eq!(schools, [(Some("b"), Some("Bryant Elementary")), (None, None)]);
    let csv = report.csv().finish();
    assert!(csv.contains("\r\nschool,b,Bryant Elementary,1,0,0,0,1,1,0,0,0\r\n"), "{csv}");
}

fn build_at(log: &[RecordedEvent], now: DateTime<Utc>, scope: &Scope) -> WishesReport {
    report(log, now, scope)
}

#[test]
fn given_a_wish_without_headway_when_its_year_passes_then_it_is_known_and_missed() {
    // Given a wish made on 2024-01-01 at noon.
    let log = in_log_order(vec![made(1, Some("a"), "2024-01-01T12:00:00Z")]);
    let year = |now: &str| report(&log, t(now), &Scope::all()).all.within_a_year;
    // Then pending until its year has passed to the second, then known and missed.
    let pending = WithinAYear { known: 0, met: 0, pending: 1, share: None };
    assert_eq!(year("2024-12-31T11:59:59Z"), pending);
    let missed = WithinAYear { known: 1, met: 0, pending: 0, share: Some(0.0) };
    assert_eq!(year("2024-12-31T12:00:00Z"), missed);

    // When headway comes after the year, it is still missed, and no longer open.
    let mut late = log.clone();
    late.push(progress(1, WishStatus::InProgress, "2025-02-01T00:00:00Z"));
    let late = in_log_order(late);
    let report = report(&late, t("2025-03-01T00:00:00Z"), &Scope::all());
    assert_eq!(states(&report.all), (1, 0, 1, 0, 0));
    assert_eq!(report.all.within_a_year, missed);
}

#[test]
fn given_a_declined_wish_reopened_when_reported_then_the_reopening_is_its_headway() {
    // Given a wish declined, then reopened in time, then done.
    let log = in_log_order(vec![
        made(1, Some("a"), "2024-01-01T00:00:00Z"),
        progress(1, WishStatus::Declined, "2024-01-15T00:00:00Z"),
        progress(1, WishStatus::Open, "2024-02-01T00:00:00Z"),
        progress(1, WishStatus::Done, "2024-03-01T00:00:00Z"),
    ]);
    let now = t("2024-03-02T00:00:00Z");
    let report = report(&log, now, &Scope::all());
    // Then it is done, and saw headway in time.
    assert_eq!(states(&report.all), (1, 0, 0, 1, 0));
    assert_eq!(
        report.all.within_a_year,
        WithinAYear { known: 1, met: 1, pending: 0, share: Some(1.0) }
    );
    // One entry, under the day it was made, in that day's partition: where the wish stands
    // (zeros left out).
    let stored: Vec<(String, serde_json::Value)> =
        partitions(&log).into_iter().map(|(k, p)| (k, serde_json::to_value(&p).unwrap())).collect();
    let entry = serde_json::json!({ "2024-01-01": { "a": {"wishes": 1, "met": 1, "done": 1} } });
    assert_eq!(stored, [("2024-01-01".to_owned(), entry)]);
}

#[test]
fn given_the_districts_time_zone_when_a_wish_is_made_then_it_counts_on_the_districts_date() {
    // Given Chicago, and a wish made at 23:30 on 30 September there (04:30Z on 1 October).
    let mut log = district_log(1, chicago_settings_with_labor_day());
    log.push(made(1, Some("a"), "2024-10-01T04:30:00Z"));
    let log = in_log_order(log);
    let september = ReportPeriod::between(None, Some("2024-09-30".parse().unwrap()));
    let now = t("2024-10-02T00:00:00Z");
    // Then it is September's.
    let report = report(&log, now, &Scope { period: september, ..Scope::all() });
    assert_eq!(report.all.wishes, 1);
}

/// The report as it was once made, on every request: a fold over every wish's document in
/// one calendar. The rollup must give the same report.
mod oracle {
    use super::*;

    const ORACLE_WISHES: &str = "oracle.wishes";

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct OldWishDoc {
        school_id: Option<String>,
        recorded_at: DateTime<Utc>,
        status: WishStatus,
        first_headway_at: Option<DateTime<Utc>>,
    }

    struct OldWishes;

    impl ReadModel for OldWishes {
        const NAME: &'static str = ORACLE_WISHES;
        type Doc = OldWishDoc;

        fn filter(&self) -> Filter {
            Filter::all().with_types(["wish-recorded", "wish-progressed"])
        }

        fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, OldWishDoc>) -> Applied {
            let Published::Wish(wish) = event.event else { return Ok(()) };
            let id = event.stream_id();
            match wish {
                WishEvent::Recorded(r) => {
                    let doc = OldWishDoc {
                        school_id: r.school_id.as_ref().map(|s| s.to_string()),
                        recorded_at: r.recorded_at,
                        status: WishStatus::Open,
                        first_headway_at: None,
                    };
                    docs.put(id, &doc);
                }
                WishEvent::Progressed(p) => {
                    let Some(mut doc) = docs.get(id) else { return Ok(()) };
                    doc.status = p.status;
                    if p.status != WishStatus::Declined && doc.first_headway_at.is_none() {
                        doc.first_headway_at = Some(p.at);
                    }
                    docs.put(id, &doc);
                }
            }
            Ok(())
        }
    }

    pub fn wish_documents(log: &[RecordedEvent]) -> Vec<OldWishDoc> {
        kernel::testing::project(&*OldWishes.into_projection(), log)
            .into_values()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect()
    }

    fn add(g: &mut WishGroup, doc: &OldWishDoc, now: DateTime<Utc>) {
        g.wishes += 1;
        match doc.status {
            WishStatus::Done => g.done += 1,
            WishStatus::Declined => g.declined += 1,
            _ if doc.first_headway_at.is_some() => g.headway += 1,
            _ => g.open += 1,
        }
        let deadline = doc.recorded_at + A_YEAR;
        match doc.first_headway_at {
            Some(at) => {
                g.within_a_year.known += 1;
                if at <= deadline {
                    g.within_a_year.met += 1;
                }
            }
            None if deadline <= now || doc.status == WishStatus::Declined => {
                g.within_a_year.known += 1;
            }
            None => g.within_a_year.pending += 1,
        }
    }

    fn finish(mut g: WishGroup) -> WishGroup {
        g.within_a_year.share = share(g.within_a_year.met, g.within_a_year.known);
        g
    }

    /// The old `build`.
    pub fn folded(docs: &[OldWishDoc], now: DateTime<Utc>, scope: &Scope) -> WishesReport {
        let mut all = WishGroup::default();
        let mut by_school: BTreeMap<Option<&str>, WishGroup> = BTreeMap::new();
        for doc in docs.iter().filter(|d| scope.contains_at(d.recorded_at)) {
            add(&mut all, doc, now);
            let school = doc.school_id.as_deref();
            let group = by_school.entry(school).or_insert_with(|| WishGroup {
                school_id: school.map(str::to_owned),
                school_name: scope.names.of_some(school),
                ..WishGroup::default()
            });
            add(group, doc, now);
        }
        let mut by_school: Vec<WishGroup> = by_school.into_values().map(finish).collect();
        by_school.sort_by_key(|g| (g.school_id.is_none(), g.school_id.clone()));
        WishesReport { as_of: now, period: scope.period.clone(), all: finish(all), by_school }
    }
}

const STATUSES: [WishStatus; 4] =
    [WishStatus::Open, WishStatus::InProgress, WishStatus::Done, WishStatus::Declined];

/// A wish: its school (3: none), when made (minutes after t0), how much later the log
/// recorded it (minutes), and its progress: status, minutes after it was made, how much
/// later the log recorded it (days).
type WishCase = (usize, i64, i64, Vec<(usize, i64, i64)>);

fn wish_case() -> impl Strategy<Value = WishCase> {
    let day = 24 * 60;
    (
        0usize..4,
        0i64..day * 500,
        0i64..day * 3,
        proptest::collection::vec((0usize..4, 0i64..day * 500, 0i64..30), 0..4),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the wishes, their progress, the time of the request and the period, in one
    /// calendar the rollup gives what the fold over every wish gave.
    #[test]
    fn the_rollup_gives_what_folding_every_wish_gives(
        wishes in proptest::collection::vec(wish_case(), 0..30),
        now in 0i64..24 * 60 * 900,
        from in proptest::option::of(-5i64..600),
        length in proptest::option::of(0i64..400),
        chicago in any::<bool>(),
    ) {
        let settings =
            if chicago { chicago_settings_with_labor_day() } else { always_settings() };
        let calendar = calendar_of(&settings);
        let mut log = district_log(1, settings);
        let schools = [Some("adams"), Some("bryant"), Some("carver"), None];
        for (n, (school, made, delay, progress)) in wishes.iter().enumerate() {
            let n = n as u128 + 1;
            let mut logged = at(made + delay);
            log.push(wish(n, schools[*school], at(*made), logged));
            for (status, after, delay) in progress {
                logged += TimeDelta::days(*delay);
                log.push(progressed(n, STATUSES[*status], at(made + after), logged));
            }
        }
        let log = in_log_order(log);
        let scope = generated_scope(from, length, calendar);
        let now = at(now);
        let old = oracle::folded(&oracle::wish_documents(&log), now, &scope);
        prop_assert_eq!(report(&log, now, &scope), old);
    }
}
