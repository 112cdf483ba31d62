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

use std::collections::BTreeMap;

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{DateTime, TimeDelta, Utc};
use eventlog::Filter;
use events::Published;
use events::stakeholders::{WishEvent, WishStatus};
use kernel::http::Caller;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use web::ApiError;

use super::csv::{Cell, Csv};
use super::figures::share;
use super::{Report, ReportParams, ReportPeriod, ReportReaders, Scope, parse_query, render};
use crate::Reporting;

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.wishes";
/// One document per wish: [`WishDoc`].
pub const WISHES: &str = "reporting.wishes.wishes";

/// How long headway may take to count as within a year.
pub const A_YEAR: TimeDelta = TimeDelta::days(365);

/// A wish as the report needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WishDoc {
    pub school_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub status: WishStatus,
    pub first_headway_at: Option<DateTime<Utc>>,
    /// `wish-progressed` events seen.
    pub progressed: u32,
}

/// Keeps one [`WishDoc`] per wish.
#[derive(Debug, Default)]
pub struct Wishes;

impl ReadModel for Wishes {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = WISHES;
    const SKIP_UNDECODABLE: bool = true;
    type Doc = WishDoc;

    fn filter(&self) -> Filter {
        Filter::all().with_types(["wish-recorded", "wish-progressed"])
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, WishDoc>,
    ) -> Result<(), String> {
        let Published::Wish(wish) = event.event else { return Ok(()) };
        let id = event.stream_id();
        match wish {
            WishEvent::Recorded(r) => {
                let doc = WishDoc {
                    school_id: r.school_id.as_ref().map(|s| s.to_string()),
                    recorded_at: r.recorded_at,
                    status: WishStatus::Open,
                    first_headway_at: None,
                    progressed: 0,
                };
                docs.put(id, &doc);
            }
            WishEvent::Progressed(p) => {
                let Some(mut doc) = docs.get(id) else { return Ok(()) };
                doc.status = p.status;
                doc.progressed += 1;
                if p.status != WishStatus::Declined && doc.first_headway_at.is_none() {
                    doc.first_headway_at = Some(p.at);
                }
                docs.put(id, &doc);
            }
        }
        Ok(())
    }
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
    fn add(&mut self, doc: &WishDoc, now: DateTime<Utc>) {
        self.wishes += 1;
        match doc.status {
            WishStatus::Done => self.done += 1,
            WishStatus::Declined => self.declined += 1,
            _ if doc.first_headway_at.is_some() => self.headway += 1,
            _ => self.open += 1,
        }
        let deadline = doc.recorded_at + A_YEAR;
        match doc.first_headway_at {
            Some(at) => {
                self.within_a_year.known += 1;
                if at <= deadline {
                    self.within_a_year.met += 1;
                }
            }
            None if deadline <= now || doc.status == WishStatus::Declined => {
                self.within_a_year.known += 1;
            }
            None => self.within_a_year.pending += 1,
        }
    }

    fn finish(mut self) -> Self {
        self.within_a_year.share = share(self.within_a_year.met, self.within_a_year.known);
        self
    }
}

/// The report from the projection's documents, at `now`, of the wishes made in the scope's
/// period.
pub fn build(docs: &[WishDoc], now: DateTime<Utc>, scope: &Scope) -> WishesReport {
    let mut all = WishGroup::default();
    let mut by_school: BTreeMap<Option<&str>, WishGroup> = BTreeMap::new();
    for doc in docs.iter().filter(|d| scope.contains_at(d.recorded_at)) {
        all.add(doc, now);
        let school = doc.school_id.as_deref();
        by_school
            .entry(school)
            .or_insert_with(|| WishGroup {
                school_id: school.map(str::to_owned),
                school_name: scope.names.of_some(school),
                ..WishGroup::default()
            })
            .add(doc, now);
    }
    // `None` sorts first in a map; district staff's wishes go last.
    let mut by_school: Vec<WishGroup> = by_school.into_values().map(WishGroup::finish).collect();
    by_school.sort_by_key(|g| (g.school_id.is_none(), g.school_id.clone()));
    WishesReport { as_of: now, period: scope.period.clone(), all: all.finish(), by_school }
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
    let docs = service.documents::<WishDoc>(WISHES).await?;
    Ok(render(&build(&docs, service.now(), &scope), params.format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn states_and_the_year() {
        let wish =
            |school: Option<&str>, made: &str, status: WishStatus, headway: Option<&str>| WishDoc {
                school_id: school.map(str::to_owned),
                recorded_at: t(made),
                status,
                first_headway_at: headway.map(t),
                progressed: u32::from(headway.is_some()),
            };
        let now = t("2025-06-01T00:00:00Z");
        let docs = [
            // Open for over a year: known, missed.
            wish(Some("a"), "2024-01-01T00:00:00Z", WishStatus::Open, None),
            // Headway in time.
            wish(
                Some("a"),
                "2024-01-01T00:00:00Z",
                WishStatus::InProgress,
                Some("2024-03-01T00:00:00Z"),
            ),
            // Done, but after the year.
            wish(Some("b"), "2023-01-01T00:00:00Z", WishStatus::Done, Some("2024-02-01T00:00:00Z")),
            // Young and open: pending.
            wish(None, "2025-05-01T00:00:00Z", WishStatus::Open, None),
            // Declined without headway: known, missed.
            wish(Some("b"), "2025-05-01T00:00:00Z", WishStatus::Declined, None),
        ];
        let report = build(&docs, now, &Scope::all());
        let all = &report.all;
        assert_eq!((all.wishes, all.open, all.headway, all.done, all.declined), (5, 2, 1, 1, 1));
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
        let report = build(&docs, now, &scope);
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
}
