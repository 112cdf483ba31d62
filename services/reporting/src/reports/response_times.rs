//! `GET /v1/reports/response-times`: how fast IT answers held purchases.
//!
//! For each **held** purchase (decided `held`: its school had signed, and finance waits):
//!
//! - **to first reached call**: from the flag (when the `held` decision took place: when the
//!   log recorded it, or for a check sent after the fact, when the purchase was requested) to
//!   the first call that reached the requester (`requester_reached`, at the call's
//!   `occurred_at`);
//! - **to resolution**: from the flag to the approval or cancellation (its `occurred_at`, else
//!   when the log recorded `purchase-approved` or `purchase-cancelled`).
//!
//! Every time is when the fact took place, as the clocks take it
//! ([`events::clocks::took_place_at`]).
//!
//! Each is measured in **business time**: the time that passed inside the district's business
//! hours on its business days (its calendar now in force: time zone, hours, closures; see
//! `events::calendar`), so a purchase flagged on Friday afternoon and answered on Monday
//! morning waited a few business hours, not a weekend. Each is summarized as a count, the
//! median and 90th percentile (nearest rank: the smallest measured value with at least that
//! share of values at or below it) and the maximum, in business hours (two decimals), over all
//! held purchases, by school and by month of the flag (in the district's time zone). A purchase
//! not yet reached or not yet resolved counts in `held` and `open` but has no duration yet.
//!
//! With a period (`?from=`, `?to=`, `?school_year=`), the held purchases flagged in it (the
//! district's date of the flag). Schools are named beside their ids.
//!
//! The figures come from the held purchases kept by the shared purchase projection
//! ([`super::purchases`]) and the district kept by the clocks projection ([`super::clocks`]),
//! measured when the report is asked for.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{DateTime, TimeDelta, Utc};
use events::calendar::DistrictCalendar;
use events::gate::PurchaseStatus;
use kernel::ReadModel;
use kernel::http::Caller;
use serde::Serialize;
use utoipa::ToSchema;
use web::ApiError;

use super::clocks::Clocks;
use super::csv::{Cell, Csv};
use super::figures::{Grouped, Stats, month_of_day};
use super::purchases::{HELD, HeldDoc, Purchases};
use super::{Report, ReportParams, ReportPeriod, ReportReaders, Scope, parse_query, render};
use crate::Reporting;

// ---------------------------------------------------------------------------------------------
// The report

/// The response-times report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResponseTimesReport {
    /// The held purchases flagged in this period (the district's date of the flag).
    pub period: ReportPeriod,
    /// Every held purchase.
    pub all: ResponseGroup,
    /// By school, ordered by school id.
    pub by_school: Vec<ResponseGroup>,
    /// By the month (in the district's time zone) the purchases were flagged, in order.
    pub by_month: Vec<ResponseGroup>,
}

/// The figures of one group of held purchases.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResponseGroup {
    /// The school id, the month (`2024-09`) or `all`.
    pub key: String,
    /// The school's name, for a school.
    pub name: Option<String>,
    /// Held purchases.
    pub held: u64,
    /// Of those, not yet approved or cancelled.
    pub open: u64,
    /// From the flag to the first call that reached the requester.
    pub to_first_reached_call: Stats,
    /// From the flag to the approval or cancellation.
    pub to_resolution: Stats,
    /// Of the resolved, how many were approved and how many cancelled.
    pub approved: u64,
    pub cancelled: u64,
}

#[derive(Default)]
struct Acc {
    held: u64,
    open: u64,
    to_call: Vec<TimeDelta>,
    to_resolution: Vec<TimeDelta>,
    approved: u64,
    cancelled: u64,
}

impl Acc {
    fn add(&mut self, doc: &HeldDoc, flagged_at: DateTime<Utc>, calendar: &DistrictCalendar) {
        self.held += 1;
        let business = |at: DateTime<Utc>| {
            calendar.business_time_between(flagged_at, at).max(TimeDelta::zero())
        };
        if let Some(at) = doc.first_reached_at {
            self.to_call.push(business(at));
        }
        match (doc.resolved_at, doc.resolution) {
            (Some(at), Some(resolution)) => {
                self.to_resolution.push(business(at));
                if resolution == PurchaseStatus::Cancelled {
                    self.cancelled += 1;
                } else {
                    self.approved += 1;
                }
            }
            _ => self.open += 1,
        }
    }

    fn finish(self, key: String, name: Option<String>) -> ResponseGroup {
        ResponseGroup {
            key,
            name,
            held: self.held,
            open: self.open,
            to_first_reached_call: Stats::of(self.to_call),
            to_resolution: Stats::of(self.to_resolution),
            approved: self.approved,
            cancelled: self.cancelled,
        }
    }
}

/// The report from the purchase projection's held purchases flagged in the scope's period, in
/// business time in its calendar.
pub fn build(docs: &[HeldDoc], scope: &Scope) -> ResponseTimesReport {
    let calendar = &scope.calendar;
    let mut groups: Grouped<Acc> = Grouped::default();
    for doc in docs {
        let Some(flagged_at) = doc.flagged_at.filter(|at| scope.contains_at(*at)) else {
            continue;
        };
        let month = month_of_day(calendar.today(flagged_at));
        groups.add(&doc.school_id, month, |acc| acc.add(doc, flagged_at, calendar));
    }
    let (all, by_school, by_month) = groups.finish(&scope.names, &Acc::finish);
    ResponseTimesReport { period: scope.period.clone(), all, by_school, by_month }
}

impl Report for ResponseTimesReport {
    const NAME: &'static str = "response-times";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "dimension",
            "key",
            "name",
            "held",
            "open",
            "approved",
            "cancelled",
            "reached_count",
            "to_first_reached_call_p50_business_hours",
            "to_first_reached_call_p90_business_hours",
            "to_first_reached_call_max_business_hours",
            "resolved_count",
            "to_resolution_p50_business_hours",
            "to_resolution_p90_business_hours",
            "to_resolution_max_business_hours",
        ]);
        let groups = std::iter::once(("all", &self.all))
            .chain(self.by_school.iter().map(|g| ("school", g)))
            .chain(self.by_month.iter().map(|g| ("month", g)));
        for (dimension, g) in groups {
            let (c, r) = (&g.to_first_reached_call, &g.to_resolution);
            csv.row([
                Cell::Text(dimension),
                g.key.as_str().into(),
                g.name.as_deref().into(),
                g.held.into(),
                g.open.into(),
                g.approved.into(),
                g.cancelled.into(),
                c.count.into(),
                Cell::Float(c.p50_business_hours),
                Cell::Float(c.p90_business_hours),
                Cell::Float(c.max_business_hours),
                r.count.into(),
                Cell::Float(r.p50_business_hours),
                Cell::Float(r.p90_business_hours),
                Cell::Float(r.max_business_hours),
            ]);
        }
        csv
    }
}

/// How fast IT answers held purchases: from the flag to the first reached call and to the
/// approval or cancellation.
///
/// Median (p50), 90th percentile (p90, nearest rank) and maximum in **business hours** (two
/// decimals): the time inside the district's business hours on its business days (`GET
/// /v1/district`: time zone, hours, closures), not the time on the wall. Over all held
/// purchases, by school and by the month (in the district's time zone) they were flagged.
/// `?format=csv` gives one row per group (`dimension` `all`, `school` or `month`).
#[utoipa::path(
    tag = "reports",
    operation_id = "response_times_report",
    params(ReportParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (ResponseTimesReport = "application/json"),
            (String = "text/csv", example = json!("dimension,key,name,held,open,approved,cancelled,reached_count,to_first_reached_call_p50_business_hours,to_first_reached_call_p90_business_hours,to_first_reached_call_max_business_hours,resolved_count,to_resolution_p50_business_hours,to_resolution_p90_business_hours,to_resolution_max_business_hours\r\nall,all,,3,1,1,1,2,1,2.5,2.5,2,8,10.5,10.5\r\n")),
        )),
        (status = 400, description = "A query parameter is invalid (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token.", body = web::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs it_staff, auditor or admin.", body = web::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is not answering, or the report is still catching up with the log.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/reports/response-times")]
pub async fn response_times_report(
    _caller: Caller<ReportReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params: ReportParams = parse_query(req.query_string())?;
    let scope = service.scope(&params).await?;
    let report = service
        .cached_report(&[Purchases::NAME, Clocks::NAME], &scope.period, |_| async {
            Ok(build(&service.documents::<HeldDoc>(HELD).await?, &scope))
        })
        .await?;
    Ok(render(&*report, params.format))
}

#[cfg(test)]
mod tests {
    use events::calendar::{BusinessHours, ClockTime, TimeZoneName, Weekday};

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Business hours around the clock, every day, in UTC: business time is wall time.
    fn always() -> DistrictCalendar {
        let hours = BusinessHours::new(
            ClockTime::parse("00:00").unwrap(),
            ClockTime::END_OF_DAY,
            Weekday::ALL.to_vec(),
        )
        .unwrap();
        DistrictCalendar::new(TimeZoneName::parse("UTC").unwrap(), hours)
    }

    fn doc(
        school: &str,
        flag: &str,
        call: Option<&str>,
        done: Option<(&str, PurchaseStatus)>,
    ) -> HeldDoc {
        HeldDoc {
            school_id: school.into(),
            flagged_at: Some(t(flag)),
            first_reached_at: call.map(t),
            resolved_at: done.map(|(at, _)| t(at)),
            resolution: done.map(|(_, r)| r),
            ..HeldDoc::default()
        }
    }

    #[test]
    fn groups_and_percentiles() {
        let docs = [
            doc(
                "a",
                "2024-09-01T00:00:00Z",
                Some("2024-09-01T01:00:00Z"),
                Some(("2024-09-02T00:00:00Z", PurchaseStatus::Approved)),
            ),
            doc(
                "a",
                "2024-09-10T00:00:00Z",
                Some("2024-09-10T02:00:00Z"),
                Some(("2024-09-11T01:00:00Z", PurchaseStatus::Cancelled)),
            ),
            doc("b", "2024-10-01T00:00:00Z", None, None),
            // Not flagged yet (no such document is kept, but it must not count).
            HeldDoc { school_id: "c".into(), ..HeldDoc::default() },
        ];
        let report = build(&docs, &Scope { calendar: always(), ..Scope::all() });
        assert_eq!(report.all.held, 3);
        assert_eq!(report.all.open, 1);
        assert_eq!(
            report.all.to_first_reached_call,
            Stats {
                count: 2,
                p50_business_hours: Some(1.0),
                p90_business_hours: Some(2.0),
                max_business_hours: Some(2.0)
            }
        );
        assert_eq!(report.all.to_resolution.p50_business_hours, Some(24.0));
        assert_eq!(report.all.to_resolution.max_business_hours, Some(25.0));
        assert_eq!(report.by_school.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(report.by_month.iter().map(|g| g.held).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(report.by_month[1].to_resolution, Stats::default());
        let csv = report.csv().finish();
        assert!(csv.contains("\r\nall,all,,3,1,1,1,2,1,2,2,2,24,25,25\r\n"), "{csv}");
        assert!(csv.contains("\r\nmonth,2024-10,,1,1,0,0,0,,,,0,,,\r\n"), "{csv}");

        // October only, with the schools' names.
        let october = Scope {
            calendar: always(),
            period: ReportPeriod::between(Some("2024-10-01".parse().unwrap()), None),
            names: [("b", "Bryant Elementary")].into(),
        };
        let report = build(&docs, &october);
        assert_eq!((report.all.held, report.by_month.len()), (1, 1));
        assert_eq!(report.by_school[0].name.as_deref(), Some("Bryant Elementary"));
        assert!(report.csv().finish().contains("\r\nschool,b,Bryant Elementary,1,1,"));
    }

    #[test]
    fn a_weekend_and_a_holiday_are_not_business_time() {
        // Chicago, 08:00 to 16:30 on weekdays; Labor Day (Monday 2024-09-02) closed.
        let chicago = DistrictCalendar::new(
            TimeZoneName::parse("America/Chicago").unwrap(),
            BusinessHours::new(
                ClockTime::parse("08:00").unwrap(),
                ClockTime::parse("16:30").unwrap(),
                Weekday::ALL[..5].to_vec(),
            )
            .unwrap(),
        )
        .with_closure("2024-09-02".parse().unwrap(), "Labor Day");
        // Flagged Friday 2024-08-30 at 15:00 in Chicago (20:00Z); reached Tuesday at 09:00
        // (14:00Z); resolved Tuesday at 16:30 (21:30Z). Also the month: August in Chicago,
        // though 2024-09-01 in UTC for one flagged at 23:30 Chicago time on 08-31.
        let docs = [
            doc(
                "a",
                "2024-08-30T20:00:00Z",
                Some("2024-09-03T14:00:00Z"),
                Some(("2024-09-03T21:30:00Z", PurchaseStatus::Approved)),
            ),
            doc("a", "2024-09-01T04:30:00Z", None, None),
        ];
        let report = build(&docs, &Scope { calendar: chicago, ..Scope::all() });
        // 1.5 business hours on Friday, 1 on Tuesday.
        assert_eq!(report.all.to_first_reached_call.max_business_hours, Some(2.5));
        // 1.5 on Friday, 8.5 on Tuesday.
        assert_eq!(report.all.to_resolution.max_business_hours, Some(10.0));
        assert_eq!(report.by_month.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), ["2024-08"]);
    }
}
