//! `GET /v1/reports/sla`: how often IT answers flagged purchases within the district's targets.
//!
//! Every flagged purchase has clocks (`events::clocks`): a held one `first_contact` (a call
//! logged) and `decision` (approved or cancelled), an advisory one `advisory_outreach` (a call
//! logged), each with its target in business minutes (`PUT /v1/sla`, by payment method, the
//! targets in force when the purchase was flagged) and paused while IT waits on the requester.
//! Each clock is judged as the gate judges it, in the district's calendar now in force and at
//! the time of the request:
//!
//! - `met`: stopped at or before its due time;
//! - `breached`: stopped after it, or still running past it;
//! - `on_track`, `warning`: still running, before or past a warning threshold.
//!
//! `attainment` is met over met and breached (the clocks with a verdict), to four decimals.
//! `business_hours` summarizes how much business time the stopped clocks ran (the time IT took,
//! waits on the requester excluded). Over all flagged purchases, by school and by the month (in
//! the district's time zone) they were flagged. Purchases flagged while the district had no
//! targets are judged from when the first targets were set; with no targets at all there are
//! no clocks, and every count is 0. With a period (`?from=`, `?to=`, `?school_year=`), the
//! purchases whose clocks started in it (the district's date). Schools are named beside their
//! ids.
//!
//! The figures come from the clocks projection ([`super::clocks`]): each flagged purchase's
//! clock fold, and the district, folded together when the report is asked for.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::calendar::TimeZoneName;
use events::clocks::{ClockKind, SlaState};
use events::district::District;
use kernel::http::Caller;
use serde::Serialize;
use utoipa::ToSchema;
use web::ApiError;

use super::clocks::{ClockDoc, NAME as CLOCKS};
use super::csv::{Cell, Csv};
use super::figures::{Grouped, Stats, month_of_day, share};
use super::{Report, ReportParams, ReportPeriod, ReportReaders, Scope, parse_query, render};
use crate::Reporting;

/// The SLA report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SlaReport {
    /// When the running clocks were judged.
    pub as_of: DateTime<Utc>,
    /// The district's date then.
    pub today: NaiveDate,
    /// The district's time zone: the months are its.
    pub time_zone: TimeZoneName,
    /// Whether the district has set targets (without them there are no clocks).
    pub targets_set: bool,
    /// The purchases flagged in this period (the district's date their clocks started).
    pub period: ReportPeriod,
    /// Every flagged purchase.
    pub all: SlaGroup,
    /// By school, ordered by school id.
    pub by_school: Vec<SlaGroup>,
    /// By the month the purchases were flagged, in order.
    pub by_month: Vec<SlaGroup>,
}

/// The figures of one group of flagged purchases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct SlaGroup {
    /// The school id, the month (`2024-09`) or `all`.
    pub key: String,
    /// The school's name, for a school.
    pub name: Option<String>,
    /// Flagged purchases with clocks.
    pub purchases: u64,
    /// Held purchases: the first call.
    pub first_contact: Attainment,
    /// Held purchases: the approval or cancellation.
    pub decision: Attainment,
    /// Advisory purchases: IT's first call.
    pub advisory_outreach: Attainment,
}

/// How one kind of clock fared in a group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Attainment {
    pub clocks: u64,
    pub met: u64,
    /// Stopped late, or running past the due time.
    pub breached: u64,
    /// Of the breached, still running.
    pub breached_open: u64,
    pub on_track: u64,
    pub warning: u64,
    /// Met over met and breached, to four decimals; `null` before any verdict.
    pub attainment: Option<f64>,
    /// The business time the stopped clocks ran.
    pub business_hours: Stats,
}

#[derive(Default)]
struct Acc {
    purchases: u64,
    kinds: [KindAcc; 3],
}

#[derive(Default)]
struct KindAcc {
    clocks: u64,
    met: u64,
    breached: u64,
    breached_open: u64,
    on_track: u64,
    warning: u64,
    ran: Vec<TimeDelta>,
}

/// One clock judged.
struct Judged {
    kind: ClockKind,
    state: SlaState,
    stopped: bool,
    ran: TimeDelta,
}

const KINDS: [ClockKind; 3] =
    [ClockKind::FirstContact, ClockKind::Decision, ClockKind::AdvisoryOutreach];

impl Acc {
    fn add(&mut self, clocks: &[Judged]) {
        self.purchases += 1;
        for clock in clocks {
            let Some(i) = KINDS.iter().position(|k| *k == clock.kind) else { continue };
            let acc = &mut self.kinds[i];
            acc.clocks += 1;
            match clock.state {
                SlaState::Met => acc.met += 1,
                SlaState::Breached => {
                    acc.breached += 1;
                    acc.breached_open += u64::from(!clock.stopped);
                }
                SlaState::OnTrack => acc.on_track += 1,
                SlaState::Warning => acc.warning += 1,
            }
            if clock.stopped {
                acc.ran.push(clock.ran);
            }
        }
    }

    fn finish(self, key: String, name: Option<String>) -> SlaGroup {
        let [first_contact, decision, advisory_outreach] = self.kinds.map(|k| Attainment {
            clocks: k.clocks,
            met: k.met,
            breached: k.breached,
            breached_open: k.breached_open,
            on_track: k.on_track,
            warning: k.warning,
            attainment: share(k.met, k.met + k.breached),
            business_hours: Stats::of(k.ran),
        });
        SlaGroup {
            key,
            name,
            purchases: self.purchases,
            first_contact,
            decision,
            advisory_outreach,
        }
    }
}

/// The report from the clocks of the purchases flagged in the scope's period, judged in
/// `district` at `now`.
pub fn build(
    docs: &[ClockDoc],
    district: &District,
    now: DateTime<Utc>,
    scope: &Scope,
) -> SlaReport {
    let calendar = &district.calendar;
    let mut groups: Grouped<Acc> = Grouped::default();
    for doc in docs {
        let clocks = doc.clocks.clocks(district);
        let Some(started) = clocks.first().map(|c| c.started_at) else { continue };
        if !scope.period.contains_at(started, calendar) {
            continue;
        }
        let judged: Vec<Judged> = clocks
            .iter()
            .map(|clock| {
                let status = clock.status(calendar, now);
                Judged {
                    kind: clock.kind,
                    state: status.state,
                    stopped: clock.stopped_at.is_some_and(|at| at <= now),
                    ran: clock.elapsed(calendar, now),
                }
            })
            .collect();
        let month = month_of_day(calendar.today(started));
        groups.add(&doc.school_id, month, |acc| acc.add(&judged));
    }
    let (all, by_school, by_month) = groups.finish(&scope.names, &Acc::finish);
    SlaReport {
        as_of: now,
        today: calendar.today(now),
        time_zone: calendar.time_zone().clone(),
        targets_set: district.targets().is_some(),
        period: scope.period.clone(),
        all,
        by_school,
        by_month,
    }
}

impl Report for SlaReport {
    const NAME: &'static str = "sla";

    fn csv(&self) -> Csv {
        let mut header: Vec<String> =
            ["dimension", "key", "name", "purchases"].map(String::from).to_vec();
        for kind in ["first_contact", "decision", "advisory_outreach"] {
            header.extend(COLUMNS.iter().map(|what| format!("{kind}_{what}")));
        }
        let mut csv = Csv::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
        let groups = std::iter::once(("all", &self.all))
            .chain(self.by_school.iter().map(|g| ("school", g)))
            .chain(self.by_month.iter().map(|g| ("month", g)));
        for (dimension, g) in groups {
            let mut row = vec![
                Cell::Text(dimension),
                g.key.as_str().into(),
                g.name.as_deref().into(),
                g.purchases.into(),
            ];
            for a in [&g.first_contact, &g.decision, &g.advisory_outreach] {
                row.extend([
                    a.clocks.into(),
                    a.met.into(),
                    a.breached.into(),
                    a.breached_open.into(),
                    a.on_track.into(),
                    a.warning.into(),
                    Cell::Float(a.attainment),
                    Cell::Float(a.business_hours.p50_business_hours),
                    Cell::Float(a.business_hours.p90_business_hours),
                ]);
            }
            csv.row(row);
        }
        csv
    }
}

/// The CSV columns of each kind of clock, after its name (`first_contact_met`).
const COLUMNS: [&str; 9] = [
    "clocks",
    "met",
    "breached",
    "breached_open",
    "on_track",
    "warning",
    "attainment",
    "p50_business_hours",
    "p90_business_hours",
];

/// How often flagged purchases were answered within the district's targets: met, breached,
/// by school and by month, in business time.
///
/// Each clock of each flagged purchase (held: `first_contact`, `decision`; advisory:
/// `advisory_outreach`) is judged as the gate judges it, in the district's calendar now in
/// force (`GET /v1/district`) and its targets (`GET /v1/sla`): `met` (stopped in time),
/// `breached` (stopped late or still running past its due time; `breached_open`: still
/// running), `on_track` or `warning` (running). `attainment` is met over met and breached;
/// `business_hours` summarizes the business time the stopped clocks ran (median, 90th
/// percentile, maximum, in business hours). Months are the district's. `?format=csv` gives one
/// row per group (`dimension` `all`, `school` or `month`), nine columns per kind of clock.
#[utoipa::path(
    tag = "reports",
    operation_id = "sla_report",
    params(ReportParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (SlaReport = "application/json"),
            (String = "text/csv", example = json!("dimension,key,name,purchases,first_contact_clocks,first_contact_met,first_contact_breached,first_contact_breached_open,first_contact_on_track,first_contact_warning,first_contact_attainment,first_contact_p50_business_hours,first_contact_p90_business_hours,decision_clocks,…\r\nall,all,,4,3,2,1,0,0,0,0.6667,1.5,5,…\r\n")),
        )),
        (status = 400, description = "A query parameter is invalid (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token.", body = web::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs it_staff, auditor or admin.", body = web::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is not answering, or the report is still catching up with the log.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/reports/sla")]
pub async fn sla_report(
    _caller: Caller<ReportReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params: ReportParams = parse_query(req.query_string())?;
    let scope = service.scope(&params).await?;
    // Running clocks move with the time: built for each request, never cached.
    let (docs, district) =
        futures::try_join!(service.documents::<ClockDoc>(CLOCKS), service.district())?;
    Ok(render(&build(&docs, &district, service.now(), &scope), params.format))
}

#[cfg(test)]
mod tests;
