//! `GET /v1/reports/response-times`: how fast IT answers held purchases.
//!
//! For each **held** purchase (decided `held`: its school had signed, and finance waits):
//!
//! - **to first reached call**: from the flag (when the `held` decision took place: when the
//!   log recorded it, or for a check sent after the fact, when the purchase was requested) to
//!   the first call that reached the requester (`requester_reached`, at the call's
//!   `occurred_at`: the earliest, in whatever order the calls were logged,
//!   [`events::rules::first_reached`]);
//! - **to resolution**: from the flag to the approval or cancellation (its `occurred_at`, else
//!   when the log recorded `purchase-approved` or `purchase-cancelled`).
//!
//! Every time is when the fact took place, as the clocks take it
//! ([`events::clocks::took_place_at`]).
//!
//! Each is measured in **business time**: the time that passed inside the district's business hours
//! on its business days (its calendar in force when the call or resolution is recorded: time zone,
//! hours, closures; see `events::calendar`), so a purchase flagged on Friday afternoon and answered
//! on Monday morning waited a few business hours, not a weekend. Each is summarized as a count, the
//! median and 90th percentile (nearest rank: the smallest measured value with at least that share
//! of values at or below it) and the maximum, in business hours (two decimals), over all held
//! purchases, by school and by month of the flag (in the district's time zone). A purchase not yet
//! reached or not yet resolved counts in `held` and `open` but has no duration yet.
//!
//! With a period (`?from=`, `?to=`, `?school_year=`), the held purchases flagged in it (the
//! district's date of the flag). Schools are named beside their ids.
//!
//! The figures are kept as they happen by the shared purchase projection
//! ([`super::purchases`]) in its [rollup](super::rollup) of held purchases by the day (and the
//! month) of the flag and school: each duration is measured when the call or resolution is
//! recorded, in the district's calendar in force then, and counted by the hundredth of a
//! business hour (a call entered late and dated before the one counted takes its place: the
//! duration counted is taken back and the new one counted). A read sums the whole months of the period and its other days, each entry's
//! durations as the hundredths of an hour they took (one per purchase).

use actix_web::get;
use kernel::ReadModel;
use kernel::http::Reply;
use serde::Serialize;
use utoipa::ToSchema;

use super::csv::{Cell, Csv};
use super::figures::Stats;
use super::purchases::{HELD_FIGURES, HeldFigures, Purchases};
use super::rollup::{self, Rollup};
use super::{Report, ReportParams, ReportPeriod, ReportRequest, ReportResponses, Scope};

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

impl ResponseGroup {
    fn of(figures: HeldFigures, key: String, name: Option<String>) -> Self {
        let resolved = figures.approved + figures.cancelled;
        Self {
            key,
            name,
            held: figures.held,
            open: figures.held.saturating_sub(resolved),
            to_first_reached_call: figures.to_first_reached_call.stats(),
            to_resolution: figures.to_resolution.stats(),
            approved: figures.approved,
            cancelled: figures.cancelled,
        }
    }
}

/// The report from the held purchases' rollup partitions that the scope's period needs
/// ([`rollup::reads`]): the purchases flagged in it.
pub fn build<'a>(
    partitions: impl IntoIterator<Item = &'a Rollup<HeldFigures>>,
    scope: &Scope,
) -> ResponseTimesReport {
    let groups = rollup::group(partitions, &scope.period);
    let (all, by_school, by_month) = groups.finish(&scope.names, &ResponseGroup::of);
    ResponseTimesReport { period: scope.period.clone(), all, by_school, by_month }
}

impl Report for ResponseTimesReport {
    const NAME: &'static str = "response-times";
    const CSV_EXAMPLE: &'static str = "\
        dimension,key,name,held,open,approved,cancelled,reached_count,to_first_reached_call_p50_business_hours,to_first_reached_call_p90_business_hours,to_first_reached_call_max_business_hours,resolved_count,to_resolution_p50_business_hours,to_resolution_p90_business_hours,to_resolution_max_business_hours\r\n\
        all,all,,3,1,1,1,2,1,2.5,2.5,2,8,10.5,10.5\r\n";

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
/// /v1/district`: time zone, hours, closures), not the time on the wall, measured when the
/// call or resolution is recorded, in the calendar in force then. Over all held purchases, by
/// school and by the month (in the district's time zone) they were flagged.
/// `?format=csv` gives one row per group (`dimension` `all`, `school` or `month`).
#[utoipa::path(tag = "reports", params(ReportParams), responses(ReportResponses<ResponseTimesReport>))]
#[get("/v1/reports/response-times")]
pub async fn response_times_report(report: ReportRequest) -> Reply {
    let (service, scope) = (&report.service, &report.scope);
    service.wait_for(&[Purchases::NAME]).await?;
    let partitions = service.rollup::<HeldFigures>(HELD_FIGURES, &scope.period).await?;
    Ok(report.render(&build(&partitions, scope)))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};
    use eventlog::RecordedEvent;
    use events::gate::PurchaseStatus;
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::super::figures::{Grouped, month_of_day};
    use super::super::purchases::HeldDoc;
    use super::super::purchases::fixtures::*;
    use super::*;

    /// The report as it was once measured, for every request: a fold over every held
    /// purchase's document in one calendar. The rollup must give the same figures.
    fn folded(docs: &[HeldDoc], scope: &Scope) -> ResponseTimesReport {
        #[derive(Default)]
        struct Acc(HeldFigures);
        let calendar = &scope.calendar;
        let mut groups: Grouped<Acc> = Grouped::default();
        for doc in docs {
            let Some(flagged_at) = doc.flagged_at.filter(|at| scope.contains_at(*at)) else {
                continue;
            };
            let business = |at: DateTime<Utc>| {
                calendar.business_time_between(flagged_at, at).max(TimeDelta::zero())
            };
            let month = month_of_day(calendar.today(flagged_at));
            groups.add(&doc.school_id, month, |acc| {
                acc.0.held += 1;
                if let Some(at) = doc.first_reached_at {
                    acc.0.to_first_reached_call.add(business(at));
                }
                if let (Some(at), Some(r)) = (doc.resolved_at, doc.resolution) {
                    acc.0.to_resolution.add(business(at));
                    if r == PurchaseStatus::Cancelled {
                        acc.0.cancelled += 1;
                    } else {
                        acc.0.approved += 1;
                    }
                }
            });
        }
        let (all, by_school, by_month) =
            groups.finish(&scope.names, &|a: Acc, k, n| ResponseGroup::of(a.0, k, n));
        ResponseTimesReport { period: scope.period.clone(), all, by_school, by_month }
    }

    /// The report from the rollup the purchase projection keeps for `events`.
    fn report(events: &[RecordedEvent], scope: &Scope) -> ResponseTimesReport {
        build(&held_partitions(events, &scope.period), scope)
    }

    /// A held purchase of `school` flagged `flag` minutes after t0, reached by `calls` (each
    /// this many minutes after the flag, logged in this order, none before it took place),
    /// resolved `done` minutes after the flag; each recorded as it happened.
    fn purchase(
        n: u128,
        school: &str,
        flag: i64,
        calls: &[i64],
        done: Option<(i64, PurchaseStatus)>,
    ) -> Vec<(Uuid, Vec<(events::gate::PurchaseEvent, i64)>)> {
        let id = Uuid::from_u128(n);
        let mut history = vec![(submitted_at(id, school), flag), (held(), flag)];
        let mut logged = flag;
        for c in calls {
            logged = logged.max(flag + c);
            history.push((reached(flag + c, true), logged));
        }
        if let Some((d, resolution)) = done {
            if resolution == PurchaseStatus::Cancelled {
                history.push((alternative(), flag + d));
                history.push((cancelled(), flag + d));
            } else {
                history.push((approved(), flag + d));
            }
        }
        vec![(id, history)]
    }

    #[test]
    fn given_held_purchases_when_reported_then_groups_and_percentiles_are_in_business_hours() {
        // Given (UTC around the clock) two purchases at school a in September, one open at b in
        // October.
        let day = 24 * 60;
        let mut log = district_log(1, always_settings());
        for (id, history) in [
            purchase(1, "a", 0, &[60], Some((day, PurchaseStatus::Approved))),
            purchase(2, "a", 9 * day, &[120], Some((day + 60, PurchaseStatus::Cancelled))),
            purchase(3, "b", 29 * day, &[], None),
        ]
        .into_iter()
        .flatten()
        {
            let next = log.last().map_or(1, |e| e.position + 1);
            log.extend(recorded(id, next, &history));
        }
        let report = report(&log, &Scope::all());
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

        // When asked for October only, with the schools' names.
        let october = Scope {
            period: ReportPeriod::between(Some("2024-10-01".parse().unwrap()), None),
            names: [("b", "Bryant Elementary")].into(),
            ..Scope::all()
        };
        let report = build_from(&log, &october);
        assert_eq!((report.all.held, report.by_month.len()), (1, 1));
        assert_eq!(report.by_school[0].name.as_deref(), Some("Bryant Elementary"));
        assert!(report.csv().finish().contains("\r\nschool,b,Bryant Elementary,1,1,"));
    }

    fn build_from(log: &[RecordedEvent], scope: &Scope) -> ResponseTimesReport {
        report(log, scope)
    }

    #[test]
    fn given_the_districts_calendar_when_measured_then_a_weekend_and_a_holiday_are_not_business_time()
     {
        // Given Chicago, 08:00 to 16:30 on weekdays, Labor Day (Monday 2024-09-02) closed.
        let mut log = district_log(1, chicago_settings_with_labor_day());
        // A purchase flagged Friday 2024-08-30 at 15:00 in Chicago (20:00Z), reached Tuesday at
        // 09:00 (14:00Z), approved Tuesday at 16:30 (21:30Z); and one flagged at 23:30 Chicago
        // time on 08-31 (2024-09-01 in UTC).
        let friday = -(3 * 24 * 60) + 11 * 60; // 2024-08-30T20:00Z
        let tuesday_call = 24 * 60 + 5 * 60; // 2024-09-03T14:00Z
        let id = Uuid::from_u128(1);
        let history = [
            (submitted(id), friday),
            (held(), friday),
            (reached(tuesday_call, true), tuesday_call),
            (approved(), tuesday_call + 7 * 60 + 30),
        ];
        log.extend(recorded(id, 10, &history));
        let late = -(28 * 60 + 30); // 2024-09-01T04:30Z
        let other = Uuid::from_u128(2);
        log.extend(recorded(other, 20, &[(submitted(other), late), (held(), late)]));
        // When reported, then 1.5 business hours on Friday and 1 on Tuesday to the call; 1.5
        // and 8.5 to the approval; both in August, Chicago's month.
        let report = report(&log, &Scope::all());
        assert_eq!(report.all.to_first_reached_call.max_business_hours, Some(2.5));
        assert_eq!(report.all.to_resolution.max_business_hours, Some(10.0));
        assert_eq!(report.by_month.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), ["2024-08"]);
        let august = ReportPeriod::between(None, Some("2024-08-31".parse().unwrap()));
        assert_eq!(report_in(&log, august).all.held, 2);
    }

    fn report_in(log: &[RecordedEvent], period: ReportPeriod) -> ResponseTimesReport {
        report(log, &Scope { period, ..Scope::all() })
    }

    #[test]
    fn given_a_call_entered_late_and_dated_earlier_when_reported_then_it_is_the_first_reached() {
        // Given a purchase flagged at t0, reached at 3 hours (logged then), then a call that
        // reached the requester at 1 hour entered at 5 hours, then one at 2 hours.
        let mut log = district_log(1, always_settings());
        let id = Uuid::from_u128(1);
        let history = [
            (submitted(id), 0),
            (held(), 0),
            (reached(180, true), 180),
            (reached(60, true), 300),
            (reached(120, true), 310),
        ];
        log.extend(recorded(id, 5, &history));
        // Then the purchase counts once, an hour to its first reached call, whether the
        // report reads its month whole or its day alone.
        let one_hour = Stats {
            count: 1,
            p50_business_hours: Some(1.0),
            p90_business_hours: Some(1.0),
            max_business_hours: Some(1.0),
        };
        assert_eq!(report(&log, &Scope::all()).all.to_first_reached_call, one_hour);
        let day = ReportPeriod::between(Some(at(0).date_naive()), Some(at(0).date_naive()));
        assert_eq!(report_in(&log, day).all.to_first_reached_call, one_hour);
        let docs = held_documents(&log);
        assert_eq!(docs[&id.to_string()].first_reached_at, Some(at(60)));
    }

    #[test]
    fn given_the_calendar_changed_before_an_earlier_call_is_entered_then_it_replaces_the_first() {
        // Given a purchase flagged at t0 (Monday 2 September 2024, 09:00 UTC) while the
        // district worked around the clock, reached at 3 hours and resolved at 4.
        let mut log = district_log(1, always_settings());
        let id = Uuid::from_u128(1);
        let history =
            [(submitted(id), 0), (held(), 0), (reached(180, true), 180), (approved(), 240)];
        log.extend(recorded(id, 5, &history));
        assert_eq!(
            report(&log, &Scope::all()).all.to_first_reached_call.max_business_hours,
            Some(3.0)
        );
        // When the district moves to Chicago's office hours (Labor Day closed), then a call at
        // one hour, entered after the resolution, is the first reached: measured in the
        // calendar in force now (no business time on a holiday), the 3 hours taken back.
        log.extend(district_log(9, chicago_settings_with_labor_day()).into_iter().map(|mut e| {
            e.version += 2;
            e
        }));
        let next = log.last().unwrap().position + 1;
        let mut late = recorded(id, next, &[(reached(60, true), 600)]);
        late[0].version = 5;
        log.extend(late);
        let report = report(&log, &Scope::all());
        assert_eq!(report.all.to_first_reached_call.count, 1);
        assert_eq!(report.all.to_first_reached_call.max_business_hours, Some(0.0));
        // The resolution stays as measured.
        assert_eq!(report.all.to_resolution.max_business_hours, Some(4.0));
    }

    #[test]
    fn given_a_calendar_changed_later_when_reported_then_earlier_figures_stay_as_measured() {
        // Given a purchase resolved while the district worked around the clock, then the
        // district moving to office hours.
        let mut log = district_log(1, always_settings());
        let id = Uuid::from_u128(1);
        log.extend(recorded(id, 5, &[(submitted(id), 0), (held(), 0), (approved(), 24 * 60)]));
        let before = report(&log, &Scope::all());
        let changed = district_log(9, chicago_settings_with_labor_day());
        log.extend(changed.into_iter().map(|mut e| {
            e.version += 2;
            e
        }));
        // Then the 24 hours it took stay 24 hours.
        assert_eq!(before.all.to_resolution.max_business_hours, Some(24.0));
        assert_eq!(report(&log, &Scope::all()), before);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the histories (calls entered late and dated earlier among them) and the
        /// period, in one calendar the rollup gives what the fold over every purchase gave.
        #[test]
        fn the_rollup_gives_what_folding_every_purchase_gives(
            purchases in proptest::collection::vec(
                (0usize..3, 0i64..60 * 24 * 90,
                 proptest::collection::vec(0i64..60 * 24 * 20, 0..3),
                 proptest::option::of((0i64..60 * 24 * 40, any::<bool>()))),
                0..40,
            ),
            from in proptest::option::of(0i64..90),
            length in proptest::option::of(0i64..60),
            zone in 0usize..3,
        ) {
            // UTC around the clock; Chicago (behind UTC) with a holiday; office hours 14 hours
            // ahead of UTC, where a district day starts in the UTC day before.
            let settings = match zone {
                0 => always_settings(),
                1 => chicago_settings_with_labor_day(),
                _ => office_settings("Pacific/Kiritimati"),
            };
            let calendar = calendar_of(&settings);
            let mut log = district_log(1, settings);
            for (n, (school, flag, calls, done)) in purchases.iter().enumerate() {
                let school = ["adams", "bryant", "carver"][*school];
                let done = done.map(|(d, cancel)| {
                    (d, if cancel { PurchaseStatus::Cancelled } else { PurchaseStatus::Approved })
                });
                for (id, history) in purchase(n as u128 + 1, school, *flag, calls, done) {
                    let next = log.last().map_or(1, |e| e.position + 1);
                    log.extend(recorded(id, next, &history));
                }
            }
            let scope = generated_scope(from, length, calendar);
            let docs: Vec<HeldDoc> = held_documents(&log).into_values().collect();
            prop_assert_eq!(report(&log, &scope), folded(&docs, &scope));
        }
    }
}
