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
//! The `reporting.wishes` projection keeps the figures as a [rollup](super::rollup), so that a read
//! sums the days of its period and does not grow with the number of wishes: [`WishFigures`] by the
//! district's day the wish was made (in the calendar in force when the log recorded it) and school
//! ([`NO_SCHOOL`] for none), one partition per such day and one per month
//! (`reporting.wishes.by_month`). A wish counts once where it was made; each later change of its
//! state counts −1 for the state it left and +1 for the one it entered, in the entry of the day it
//! was made, so the sum of its entries is where each wish stands now. Its first headway counts
//! once, in or after its year. What depends on the time of the request, whether a wish without
//! headway is still within its year, is read from the wishes still waiting
//! ([`WishFigures::waiting`]: by when each was made).
//!
//! The projection also keeps one [`WishDoc`] per wish (`reporting.wishes.wishes`), what a
//! change needs to know of the state it changes; the report does not read them.
//! (`reporting.wishes.district` keeps the district's settings, for the day a wish was made.)

use kernel::http::Reply;
use std::collections::BTreeMap;

use actix_web::get;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use eventlog::{DocKey, Filter};
use events::Published;
use events::district::DistrictEvent;
use events::stakeholders::{WishEvent, WishStatus};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clocks::DistrictDoc;
use super::csv::{Cell, Csv};
use super::figures::share;
use super::rollup::{self, DistrictMemo, Grains, Rollup, Sum};
use super::{Report, ReportParams, ReportPeriod, ReportRequest, ReportResponses, Scope};

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.wishes";
/// One document per wish: [`WishDoc`].
pub const WISHES: &str = "reporting.wishes.wishes";
/// The wishes' figures: one [`Rollup<WishFigures>`] per day wishes were made.
pub const WISHES_BY_DAY: &str = "reporting.wishes.by_day";
/// The same, one [`Rollup<WishFigures>`] per month wishes were made.
pub const WISHES_BY_MONTH: &str = "reporting.wishes.by_month";
/// The wishes' figures at both grains.
pub const WISH_FIGURES: Grains = Grains { days: WISHES_BY_DAY, months: WISHES_BY_MONTH };
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
    /// 2: keeps the wishes' figures by day and school. 3: one partition per day wishes were
    /// recorded. 4: and per month ([`WISHES_BY_MONTH`]).
    const VERSION: u64 = 4;
    type Doc = WishDoc;

    fn collections(&self) -> Vec<&'static str> {
        let mut collections = vec![WISHES, DISTRICT];
        collections.extend(WISH_FIGURES.collections());
        collections
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
        // The partition of a wish's day is known from the district's calendar or the wish's
        // own document: `figures` asks for it (see [`eventlog::projection`]).
        match event.event {
            Published::District(_) | Published::Wish(WishEvent::Recorded(_)) => {
                vec![DocKey::new(DISTRICT, DISTRICT_KEY)]
            }
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, WishDoc>) -> Applied {
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
                let mut made = WishFigures { wishes: 1, ..WishFigures::default() };
                made.count(doc.state(), 1);
                made.waiting.insert(doc.recorded_at, 1);
                count(event, &doc, &made, docs)?;
                docs.put(id, &doc);
            }
            WishEvent::Progressed(p) => {
                let Some(mut doc) = docs.get(id) else { return Ok(()) };
                let before = doc.clone();
                doc.status = p.status;
                doc.progressed += 1;
                if p.is_headway() && doc.first_headway_at.is_none() {
                    doc.first_headway_at = Some(p.at);
                }
                count_change(event, &before, &doc, docs)?;
                docs.put(id, &doc);
            }
        }
        Ok(())
    }
}

/// Adds `delta` to the figures of the wish `doc`'s day and school.
fn count(
    event: &Recorded<'_>,
    doc: &WishDoc,
    delta: &WishFigures,
    docs: &mut Documents<'_, WishDoc>,
) -> Result<(), String> {
    // A document written before the day was kept: its day in UTC's calendar.
    let day = doc.day.unwrap_or_else(|| doc.recorded_at.date_naive());
    let school = doc.school_id.as_deref().unwrap_or(NO_SCHOOL);
    rollup::add(docs, WISH_FIGURES, day, school, delta, event)
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
    let mut figures = WishFigures::default();
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
    count(event, after, &figures, docs)
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

/// The report at `now` from the rollup partitions the scope's period needs
/// ([`rollup::reads`]): the wishes made in it.
pub fn build<'a>(
    partitions: impl IntoIterator<Item = &'a Rollup<WishFigures>>,
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
    const CSV_EXAMPLE: &'static str = "\
        dimension,school_id,school_name,wishes,open,headway,done,declined,within_a_year_known,within_a_year_met,within_a_year_pending,within_a_year_share\r\n\
        all,,,4,1,1,1,1,3,2,1,0.6667\r\n";

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
#[utoipa::path(tag = "reports", params(ReportParams), responses(ReportResponses<WishesReport>))]
#[get("/v1/reports/wishes")]
pub async fn wishes_report(report: ReportRequest) -> Reply {
    let (service, scope) = (&report.service, &report.scope);
    service.wait_for(&[Wishes::NAME]).await?;
    let partitions = service.rollup::<WishFigures>(WISH_FIGURES, &scope.period).await?;
    Ok(report.render(&build(&partitions, service.now(), scope)))
}

#[cfg(test)]
mod tests;
