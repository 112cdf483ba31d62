//! `GET /v1/reports/wishes`: the wishes of "2 stars and a wish", and whether IT makes headway
//! on them within a year.
//!
//! # Definitions
//!
//! - **Headway** is a `wish-progressed` event that does not decline the wish: work started
//!   (`in_progress`), a note of progress without a change of status, a reopening, or `done`.
//!   Declining is an answer, not headway. A wish's first headway is the `at` of the first such
//!   event.
//! - Each wish is in exactly one state: `open` (not closed, no headway yet), `headway` (not
//!   closed, headway at least once), `done`, or `declined`.
//! - **Headway within a year**: the wish saw headway at most 365 days after it was made (its
//!   `recorded_at`, the conversation's time). The share is taken over the wishes whose outcome
//!   is known: those that saw headway (in time or not), those whose year has passed, and those
//!   declined without headway. Younger wishes without headway yet are `pending`, left out of
//!   the share rather than counted as failures.
//!
//! Figures are given for all wishes and by school (the wisher's school when the wish was
//! made, with its name; wishes of district staff have no school). With a period (`?from=`,
//! `?to=`, `?school_year=`), the wishes made in it (the district's date of `recorded_at`).
//!
//! # What is kept
//!
//! The `reporting.wishes` projection keeps the figures as a [rollup](super::rollup), so that a
//! read sums the days of its period and does not grow with the number of wishes:
//! [`WishFigures`] by the district's day the wish was made (in the calendar in force when the
//! log recorded it) and school ([`NO_SCHOOL`] for none), one partition per UTC day the log
//! recorded the changes on. A wish counts once where it was made; each later change of its
//! state counts −1 for the state it left and +1 for the one it entered, in the partition of
//! the change, so the sum over every partition is where each wish stands now. Its first
//! headway counts once, in or after its year. What depends on the time of the request, whether
//! a wish without headway is still within its year, is read from the wishes still waiting
//! ([`WishFigures::waiting`]: by when each was made).
//!
//! The projection also keeps one [`WishDoc`] per wish (`reporting.wishes.wishes`), what a
//! change needs to know of the state it changes; the report does not read them.
//! (`reporting.wishes.district` keeps the district's settings, for the day a wish was made.)

use std::collections::BTreeMap;

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use eventlog::{DocKey, Filter};
use events::Published;
use events::district::DistrictEvent;
use events::stakeholders::{WishEvent, WishStatus};
use kernel::http::Caller;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use web::ApiError;

use super::clocks::DistrictDoc;
use super::csv::{Cell, Csv};
use super::figures::share;
use super::rollup::{self, DistrictMemo, Rollup, Sum, partition_key};
use super::{Report, ReportParams, ReportPeriod, ReportReaders, Scope, parse_query, render};
use crate::Reporting;

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.wishes";
/// One document per wish: [`WishDoc`].
pub const WISHES: &str = "reporting.wishes.wishes";
/// The wishes' figures: one [`Rollup<WishFigures>`] per UTC day of changes.
pub const WISHES_BY_DAY: &str = "reporting.wishes.by_day";
/// The district's settings: one [`DistrictDoc`] under [`DISTRICT_KEY`].
pub const DISTRICT: &str = "reporting.wishes.district";
pub use super::clocks::DISTRICT_KEY;
/// The school key, in [`WISHES_BY_DAY`], of the wishes of district staff (no school). A
/// school id is never empty.
pub const NO_SCHOOL: &str = "";

/// How long headway may take to count as within a year.
pub const A_YEAR: TimeDelta = TimeDelta::days(365);

/// A wish as the projection needs it to count its changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WishDoc {
    pub school_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub status: WishStatus,
    pub first_headway_at: Option<DateTime<Utc>>,
    /// `wish-progressed` events seen.
    pub progressed: u32,
    /// The district's date it was made, in the calendar in force then: the day it counts on in
    /// [`WISHES_BY_DAY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
}

/// The one state a wish is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Headway,
    Done,
    Declined,
}

impl WishDoc {
    fn state(&self) -> State {
        match self.status {
            WishStatus::Done => State::Done,
            WishStatus::Declined => State::Declined,
            _ if self.first_headway_at.is_some() => State::Headway,
            _ => State::Open,
        }
    }

    /// No headway yet and not declined: whether it sees headway within its year depends on
    /// when it is asked.
    fn is_waiting(&self) -> bool {
        self.first_headway_at.is_none() && self.status != WishStatus::Declined
    }

    /// Declined without headway: known, missed.
    fn declined_without_headway(&self) -> bool {
        self.first_headway_at.is_none() && self.status == WishStatus::Declined
    }
}

/// What the wishes made on one day at one school come to. The states and
/// `declined_without_headway` are sums of changes (−1 for a state left, +1 for the one
/// entered), so an entry of one partition may hold negative figures; their sum over every
/// partition is never negative. Zeros and empty maps are left out of the stored JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WishFigures {
    /// Wishes made.
    #[serde(skip_serializing_if = "is_zero")]
    pub wishes: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub open: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub headway: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub done: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub declined: i64,
    /// First headway within a year of being made.
    #[serde(skip_serializing_if = "is_zero")]
    pub met: i64,
    /// First headway after that.
    #[serde(skip_serializing_if = "is_zero")]
    pub late: i64,
    /// Declined without headway.
    #[serde(skip_serializing_if = "is_zero")]
    pub declined_without_headway: i64,
    /// Waiting: no headway yet, not declined; by when each was made (+1 when made, −1 when it
    /// sees headway or is declined).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub waiting: BTreeMap<DateTime<Utc>, i64>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl WishFigures {
    /// One more (`n` = 1) or one less (−1) wish in `state`.
    fn count(&mut self, state: State, n: i64) {
        match state {
            State::Open => self.open += n,
            State::Headway => self.headway += n,
            State::Done => self.done += n,
            State::Declined => self.declined += n,
        }
    }
}

impl Sum for WishFigures {
    fn add(&mut self, other: &Self) {
        self.wishes += other.wishes;
        self.open += other.open;
        self.headway += other.headway;
        self.done += other.done;
        self.declined += other.declined;
        self.met += other.met;
        self.late += other.late;
        self.declined_without_headway += other.declined_without_headway;
        for (at, n) in &other.waiting {
            let sum = self.waiting.entry(*at).or_default();
            *sum += n;
            if *sum == 0 {
                self.waiting.remove(at);
            }
        }
    }
}

/// Keeps one [`WishDoc`] per wish, the [`WISHES_BY_DAY`] rollup, and the district's settings.
#[derive(Debug, Default)]
pub struct Wishes {
    district: DistrictMemo,
}

impl ReadModel for Wishes {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = WISHES;
    const SKIP_UNDECODABLE: bool = true;
    /// 2: keeps the wishes' figures by day and school.
    const VERSION: u64 = 2;
    type Doc = WishDoc;

    fn collections(&self) -> Vec<&'static str> {
        vec![WISHES, WISHES_BY_DAY, DISTRICT]
    }

    fn filter(&self) -> Filter {
        let mut types = vec!["wish-recorded", "wish-progressed"];
        types.extend(DistrictEvent::EVENT_TYPES);
        Filter::all().with_types(types)
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::Wish(_) => vec![event.stream_id().to_owned()],
            _ => vec![],
        }
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        let district = || DocKey::new(DISTRICT, DISTRICT_KEY);
        let rollup = || DocKey::new(WISHES_BY_DAY, partition_key(event.recorded_at));
        match event.event {
            Published::District(_) => vec![district()],
            Published::Wish(WishEvent::Recorded(_)) => vec![district(), rollup()],
            Published::Wish(WishEvent::Progressed(_)) => vec![rollup()],
            _ => vec![],
        }
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, WishDoc>,
    ) -> Result<(), String> {
        let wish = match event.event {
            Published::Wish(wish) => wish,
            Published::District(_) => {
                docs.of::<DistrictDoc>(DISTRICT).entry(DISTRICT_KEY, event)?.keep(event);
                return Ok(());
            }
            _ => return Ok(()),
        };
        let id = event.stream_id();
        match wish {
            WishEvent::Recorded(r) => {
                // A wish is recorded once, with its stream: a copy changes nothing.
                if docs.get(id).is_some() {
                    return Ok(());
                }
                let calendar = self.district.in_force(docs, DISTRICT, event)?.calendar.clone();
                let doc = WishDoc {
                    school_id: r.school_id.as_ref().map(|s| s.to_string()),
                    recorded_at: r.recorded_at,
                    status: WishStatus::Open,
                    first_headway_at: None,
                    progressed: 0,
                    day: Some(calendar.today(r.recorded_at)),
                };
                let figures = figures(event, &doc, docs)?;
                figures.wishes += 1;
                figures.count(doc.state(), 1);
                *figures.waiting.entry(doc.recorded_at).or_default() += 1;
                docs.put(id, &doc);
            }
            WishEvent::Progressed(p) => {
                let Some(mut doc) = docs.get(id) else { return Ok(()) };
                let before = doc.clone();
                doc.status = p.status;
                doc.progressed += 1;
                if p.status != WishStatus::Declined && doc.first_headway_at.is_none() {
                    doc.first_headway_at = Some(p.at);
                }
                count_change(event, &before, &doc, docs)?;
                docs.put(id, &doc);
            }
        }
        Ok(())
    }
}

/// The entry of the wish `doc` in the partition `event` counts in.
fn figures<'d>(
    event: &Recorded<'_>,
    doc: &WishDoc,
    docs: &'d mut Documents<'_, WishDoc>,
) -> Result<&'d mut WishFigures, String> {
    // A document written before the day was kept: its day in UTC's calendar.
    let day = doc.day.unwrap_or_else(|| doc.recorded_at.date_naive());
    let school = doc.school_id.as_deref().unwrap_or(NO_SCHOOL);
    let partition: &mut Rollup<WishFigures> =
        docs.entry_in(WISHES_BY_DAY, &partition_key(event.recorded_at), event)?;
    Ok(partition.entry(day, school))
}

/// What a wish's change from `before` to `after` changes in its day's figures.
fn count_change(
    event: &Recorded<'_>,
    before: &WishDoc,
    after: &WishDoc,
    docs: &mut Documents<'_, WishDoc>,
) -> Result<(), String> {
    let states = (before.state(), after.state());
    let waiting = (before.is_waiting(), after.is_waiting());
    let declined = (before.declined_without_headway(), after.declined_without_headway());
    let headway = after.first_headway_at.filter(|_| before.first_headway_at.is_none());
    let unchanged = states.0 == states.1 && waiting.0 == waiting.1 && declined.0 == declined.1;
    if unchanged && headway.is_none() {
        return Ok(());
    }
    let figures = figures(event, after, docs)?;
    if states.0 != states.1 {
        figures.count(states.0, -1);
        figures.count(states.1, 1);
    }
    let delta = |(was, is): (bool, bool)| i64::from(is) - i64::from(was);
    figures.declined_without_headway += delta(declined);
    if waiting.0 != waiting.1 {
        let n = figures.waiting.entry(after.recorded_at).or_default();
        *n += delta(waiting);
        if *n == 0 {
            figures.waiting.remove(&after.recorded_at);
        }
    }
    if let Some(at) = headway {
        if at <= after.recorded_at + A_YEAR {
            figures.met += 1;
        } else {
            figures.late += 1;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The report

/// The wishes report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WishesReport {
    /// When the report was made: "a year" is counted up to here.
    pub as_of: DateTime<Utc>,
    /// The wishes made in this period (the district's date when each was recorded).
    pub period: ReportPeriod,
    pub all: WishGroup,
    /// By school, ordered by school id; wishes without a school last (`school_id` null).
    pub by_school: Vec<WishGroup>,
}

/// The wishes of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct WishGroup {
    /// The school (absent for all wishes and for wishes of district staff).
    pub school_id: Option<String>,
    /// The school's name.
    pub school_name: Option<String>,
    pub wishes: u64,
    /// Not closed, no headway yet.
    pub open: u64,
    /// Not closed, with headway at least once.
    pub headway: u64,
    pub done: u64,
    pub declined: u64,
    /// Headway within a year of being made.
    pub within_a_year: WithinAYear,
}

/// How many wishes saw headway within a year.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct WithinAYear {
    /// Wishes whose outcome is known.
    pub known: u64,
    /// Of those, how many saw headway within 365 days.
    pub met: u64,
    /// Younger than a year, no headway yet.
    pub pending: u64,
    /// `met / known`, to four decimals; `null` when none is known.
    pub share: Option<f64>,
}

impl WishGroup {
    /// The group of `figures`, at `now`.
    fn of(
        figures: WishFigures,
        school_id: Option<String>,
        school_name: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        // Still within their year, or past it without headway.
        let (mut pending, mut missed) = (0, 0);
        for (made, count) in &figures.waiting {
            if *made + A_YEAR <= now {
                missed += count;
            } else {
                pending += count;
            }
        }
        let known = figures.met + figures.late + figures.declined_without_headway + missed;
        let met = n(figures.met);
        let known = n(known);
        Self {
            school_id,
            school_name,
            wishes: n(figures.wishes),
            open: n(figures.open),
            headway: n(figures.headway),
            done: n(figures.done),
            declined: n(figures.declined),
            within_a_year: WithinAYear {
                known,
                met,
                pending: n(pending),
                share: share(met, known),
            },
        }
    }
}

/// The report at `now` from the rollup partitions (keyed by their partition key): the wishes
/// made in the scope's period.
pub fn build<'a>(
    partitions: impl IntoIterator<Item = (&'a str, &'a Rollup<WishFigures>)>,
    now: DateTime<Utc>,
    scope: &Scope,
) -> WishesReport {
    let groups = rollup::group(partitions, &scope.period);
    let (all, by_school, _) =
        groups.finish(&scope.names, &|f: WishFigures, key, name| (f, key, name));
    let all = WishGroup::of(all.0, None, None, now);
    // District staff's wishes (no school) go last.
    let mut by_school: Vec<WishGroup> = by_school
        .into_iter()
        .map(|(f, key, name)| {
            let school = (key != NO_SCHOOL).then_some(key);
            WishGroup::of(f, school, name, now)
        })
        .collect();
    by_school.sort_by_key(|g| (g.school_id.is_none(), g.school_id.clone()));
    WishesReport { as_of: now, period: scope.period.clone(), all, by_school }
}

impl Report for WishesReport {
    const NAME: &'static str = "wishes";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "dimension",
            "school_id",
            "school_name",
            "wishes",
            "open",
            "headway",
            "done",
            "declined",
            "within_a_year_known",
            "within_a_year_met",
            "within_a_year_pending",
            "within_a_year_share",
        ]);
        let groups =
            std::iter::once(("all", &self.all)).chain(self.by_school.iter().map(|g| ("school", g)));
        for (dimension, g) in groups {
            let y = &g.within_a_year;
            csv.row([
                Cell::Text(dimension),
                g.school_id.as_deref().into(),
                g.school_name.as_deref().into(),
                g.wishes.into(),
                g.open.into(),
                g.headway.into(),
                g.done.into(),
                g.declined.into(),
                y.known.into(),
                y.met.into(),
                y.pending.into(),
                y.share.into(),
            ]);
        }
        csv
    }
}

/// The wishes of "2 stars and a wish": open, with headway, done, declined, and the share that
/// saw headway within a year of being made.
///
/// Headway is any progress that does not decline the wish. The share counts the wishes whose
/// outcome is known (headway came, the year passed, or the wish was declined); younger wishes
/// without headway are `pending`. `?format=csv` gives one row for all wishes and one per
/// school.
#[utoipa::path(
    tag = "reports",
    operation_id = "wishes_report",
    params(ReportParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (WishesReport = "application/json"),
            (String = "text/csv", example = json!("dimension,school_id,school_name,wishes,open,headway,done,declined,within_a_year_known,within_a_year_met,within_a_year_pending,within_a_year_share\r\nall,,,4,1,1,1,1,3,2,1,0.6667\r\n")),
        )),
        (status = 400, description = "A query parameter is invalid (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token.", body = web::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs it_staff, auditor or admin.", body = web::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is not answering, or the report is still catching up with the log.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/reports/wishes")]
pub async fn wishes_report(
    _caller: Caller<ReportReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params: ReportParams = parse_query(req.query_string())?;
    let scope = service.scope(&params).await?;
    service.wait_for(&[Wishes::NAME]).await?;
    let partitions =
        service.partitions::<Rollup<WishFigures>>(WISHES_BY_DAY, &scope.period).await?;
    let report = build(partitions.iter().map(|(k, p)| (k.as_str(), p)), service.now(), &scope);
    Ok(render(&report, params.format))
}

#[cfg(test)]
mod tests {
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

    /// The rollup partitions the projection keeps after `log`.
    fn partitions(log: &[RecordedEvent]) -> Vec<(String, Rollup<WishFigures>)> {
        kernel::testing::project(&*Wishes::default().into_projection(), log)
            .into_iter()
            .filter(|(k, _)| k.collection == WISHES_BY_DAY)
            .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
            .collect()
    }

    fn report(log: &[RecordedEvent], now: DateTime<Utc>, scope: &Scope) -> WishesReport {
        let partitions = partitions(log);
        build(partitions.iter().map(|(k, p)| (k.as_str(), p)), now, scope)
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
        assert_eq!(
            all.within_a_year,
            WithinAYear { known: 4, met: 1, pending: 1, share: Some(0.25) }
        );
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
        // Given a wish declined, then reopened in time, then done: its changes count in the
        // partitions of the months they were recorded in.
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
        // One entry per UTC day of changes, under the day it was made; their sum is where the
        // wish stands.
        let stored: Vec<(String, serde_json::Value)> = partitions(&log)
            .into_iter()
            .map(|(k, p)| (k, serde_json::to_value(&p).unwrap()))
            .collect();
        let day = |entry: serde_json::Value| serde_json::json!({ "2024-01-01": { "a": entry } });
        let entry = |day_entry: serde_json::Value| day(day_entry);
        assert_eq!(
            stored,
            [
                (
                    "2024-01-01".to_owned(),
                    entry(serde_json::json!({
                        "wishes": 1, "open": 1, "waiting": {"2024-01-01T00:00:00Z": 1}
                    }))
                ),
                (
                    "2024-01-15".to_owned(),
                    entry(serde_json::json!({
                        "open": -1, "waiting": {"2024-01-01T00:00:00Z": -1},
                        "declined": 1, "declined_without_headway": 1
                    }))
                ),
                (
                    "2024-02-01".to_owned(),
                    entry(serde_json::json!({
                        "headway": 1, "declined": -1, "met": 1, "declined_without_headway": -1
                    }))
                ),
                ("2024-03-01".to_owned(), entry(serde_json::json!({"headway": -1, "done": 1}))),
            ]
        );
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

            fn update(
                &self,
                event: &Recorded<'_>,
                docs: &mut Documents<'_, OldWishDoc>,
            ) -> Result<(), String> {
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
}
