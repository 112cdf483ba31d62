//! `GET /v1/reports/sla`: how often IT answers flagged purchases within the district's targets.
//!
//! Every flagged purchase has clocks (`events::clocks`): a held one `first_contact` (a call
//! logged) and `decision` (approved or cancelled), an advisory one `advisory_outreach` (a call
//! logged), each with its target in business minutes (`PUT /v1/sla`, by payment method, the
//! targets in force when the purchase was flagged) and paused while IT waits on the requester.
//! Each clock is judged as the gate judges it: a running one at the time of the request, in
//! the district's calendar now in force; a stopped one at its stop, in the calendar in force
//! when the event that stopped it was read (see below). So a closure entered after the fact
//! (a snow day recorded the next day) moves the due times of running clocks, here as in the
//! gate, but not the verdict this report keeps for a clock that had stopped before it; the
//! gate's purchase view judges every clock in the calendar now in force, so for such a clock
//! the two can differ.
//!
//! - `met`: stopped at or before its due time;
//! - `breached`: stopped after it, or still running past it;
//! - `on_track`, `warning`: still running, before or past a warning threshold.
//!
//! `attainment` is met over met and breached (the clocks with a verdict), to four decimals.
//! `business_hours` summarizes how much business time the stopped clocks ran (the time IT took,
//! waits on the requester excluded). Over all flagged purchases, by school and by the month (in
//! the district's time zone) they were flagged. Purchases flagged while the district had no
//! targets (and not approved or cancelled before it set some) are judged from when the first
//! targets were set; with no targets at all there are
//! no clocks, and every count is 0. With a period (`?from=`, `?to=`, `?school_year=`), the
//! purchases whose clocks started in it (the district's date). Schools are named beside their
//! ids.
//!
//! The figures come from the clocks projection ([`super::clocks`]), kept as the events arrive
//! so that a request does not fold every flagged purchase:
//!
//! - **Stopped clocks are judged when they stop.** The projection counts each clock once, when
//!   it applies the event that stops it (the call, the approval or the cancellation), judged
//!   as the gate judges it (`Clock::status` at its stop: met or breached) with the business
//!   time it ran, in the district's calendar and targets in force then; and each purchase
//!   once, when its clocks start. Both count on the district's day the clocks started (in the
//!   calendar in force when the projection first saw them) and the purchase's school, in its
//!   [rollup](super::rollup) `reporting.clocks.by_day`. A later change of calendar counts from
//!   then on: it does not rewrite a verdict given at a stop or a duration measured.
//! - **Breached running clocks are counted when the scheduler records them.** The gate's
//!   scheduler writes `purchase-sla-breached` (`sla-{purchase_id}`) when a running clock
//!   passes its due time: the projection counts that clock then, breached and `breached_open`,
//!   on its purchase's day (unless the calendar in force then puts its due time later, a
//!   closure written while the scheduler judged it: then it is judged at the request, as a
//!   running clock). A breach so counted is not a verdict given at a stop: when the clock
//!   stops, `breached_open` is taken back, the time it ran is counted, and it is judged at its
//!   stop like any clock, in the calendar in force then. It stays breached, unless it stopped
//!   by its due time after all (a call that took place in time but was logged after the
//!   breach was recorded, or a closure entered since), which makes it met, as the gate's
//!   purchase view has it.
//! - **Running clocks are judged at the request.** Whether one is on track, warning or
//!   breached depends on the time: the purchases with a clock still running and not recorded
//!   breached are kept apart (`reporting.clocks.open`, each removed once all its clocks
//!   stopped or were recorded breached), and only those clocks are judged when the report is
//!   asked for, in the district now in force, and added to the groups of their day; their
//!   other clocks are in the rollup already. A clock past its due time whose breach the
//!   scheduler has not written yet (it was down, or is behind) is judged breached here, as
//!   the gate judges it, until the breach is written.
//!
//! Edge cases:
//!
//! - *Flagged before any targets.* Its clocks start when the first targets were set (as the
//!   gate has it), so it has none when it is flagged: it stays among the open ones and is
//!   judged in full at the request, as before (every clock from the first targets, one that
//!   stopped before them met with no business time, on the day of the first targets in the
//!   calendar now in force), until an event of its own after the targets were set. That event
//!   counts it in the rollup as any purchase: once, on the day of the first targets in the
//!   calendar then, with each clock stopped by then. One approved or cancelled before the
//!   targets were set is dropped then: it had no clocks, it never counts (not even once
//!   targets are set), and is no longer kept among the open ones. One whose clocks otherwise
//!   stopped before the targets (an advisory one called, not resolved) gets no such event and
//!   stays open, judged at each request (only the purchases flagged before the district's
//!   first targets can be in that case). With no targets at all no purchase has clocks, and
//!   every count is 0.
//! - *A stopped clock never runs again* (`events::clocks`), and one counted is not counted
//!   again: an event that comes later and says something took place earlier (a call logged
//!   after the approval, dated before it, that would move the first contact or add a wait)
//!   does not change the verdict or the duration counted; the open clocks, judged at the
//!   request, take it.
//! - *Once per purchase.* A purchase counts in `purchases` once: when its clocks first show
//!   (its `day` is set then, and `counted` lists its clocks in the rollup); a second decision
//!   is not read, and an event that changes nothing of its clocks counts nothing.

use actix_web::get;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::calendar::{DistrictCalendar, TimeZoneName};
use events::clocks::{Clock, ClockKind, SlaState};
use events::district::District;
use kernel::http::Reply;
use serde::Serialize;
use utoipa::ToSchema;

use super::clocks::{ClockDoc, OPEN, SLA_FIGURES, SlaFigures};
use super::csv::{Cell, Csv};
use super::figures::{Grouped, Stats, month_of_day, share};
use super::rollup::{self, Durations, Rollup};
use super::{Report, ReportParams, ReportPeriod, ReportRequest, ReportResponses, Scope};

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
    met: u64,
    /// Signed, as `breached_open`: a delta takes back the +1 of a clock recorded breached
    /// that stopped by its due time after all.
    breached: i64,
    /// Signed: a delta takes back the +1 of a clock recorded breached when it stops.
    breached_open: i64,
    on_track: u64,
    warning: u64,
    ran: Durations,
}

/// One clock judged at the request.
struct Judged {
    kind: ClockKind,
    state: SlaState,
    stopped: bool,
    ran: TimeDelta,
}

const KINDS: [ClockKind; 3] =
    [ClockKind::FirstContact, ClockKind::Decision, ClockKind::AdvisoryOutreach];

impl Acc {
    /// The purchases and stopped clocks of a day of the rollup.
    fn add_counted(&mut self, figures: &SlaFigures) {
        self.purchases += figures.purchases;
        for (acc, kind) in self.kinds.iter_mut().zip(KINDS) {
            let stopped = figures.of(kind);
            acc.met += stopped.met;
            acc.breached += stopped.breached;
            acc.breached_open += stopped.breached_open;
            super::rollup::Sum::add(&mut acc.ran, &stopped.ran);
        }
    }

    /// Clocks judged at the request; and the purchase, unless the rollup counts it.
    fn add_judged(&mut self, purchase: bool, clocks: &[Judged]) {
        self.purchases += u64::from(purchase);
        for clock in clocks {
            let Some(i) = KINDS.iter().position(|k| *k == clock.kind) else { continue };
            let acc = &mut self.kinds[i];
            match clock.state {
                SlaState::Met => acc.met += 1,
                SlaState::Breached => {
                    acc.breached += 1;
                    acc.breached_open += i64::from(!clock.stopped);
                }
                SlaState::OnTrack => acc.on_track += 1,
                SlaState::Warning => acc.warning += 1,
            }
            if clock.stopped {
                acc.ran.add(clock.ran);
            }
        }
    }

    fn finish(self, key: String, name: Option<String>) -> SlaGroup {
        let [first_contact, decision, advisory_outreach] = self.kinds.map(|k| {
            // Both never negative summed over a purchase's entries; 0 should one be left out.
            let breached = u64::try_from(k.breached).unwrap_or(0);
            Attainment {
                clocks: k.met + breached + k.on_track + k.warning,
                met: k.met,
                breached,
                breached_open: u64::try_from(k.breached_open).unwrap_or(0),
                on_track: k.on_track,
                warning: k.warning,
                attainment: share(k.met, k.met + breached),
                business_hours: k.ran.stats(),
            }
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

/// The report for the scope's period: the purchases and stopped clocks the rollup partitions
/// it needs ([`rollup::reads`]) count on its days, and the clocks of the `open` purchases
/// (those with a clock still running, or none counted yet) that the rollup counts neither
/// stopped nor recorded breached, judged in `district` at `now`.
pub fn build<'a>(
    partitions: impl IntoIterator<Item = &'a Rollup<SlaFigures>>,
    open: &[ClockDoc],
    district: &District,
    now: DateTime<Utc>,
    scope: &Scope,
) -> SlaReport {
    let calendar = &district.calendar;
    let period = &scope.period;
    let mut groups: Grouped<Acc> = rollup::group_into(partitions, period, Acc::add_counted);
    for doc in open {
        let clocks = doc.clocks.clocks(district);
        let Some(started) = clocks.first().map(|c| c.started_at) else { continue };
        // Counted in the rollup already: its day, as measured then.
        let day = doc.day.unwrap_or_else(|| calendar.today(started));
        if !period.contains(day) {
            continue;
        }
        let uncounted = clocks.iter().filter(|clock| !doc.is_counted(clock.kind));
        let judged = judge(uncounted, calendar, now);
        groups.add(&doc.school_id, month_of_day(day), |acc| {
            acc.add_judged(doc.day.is_none(), &judged);
        });
    }
    report(groups, district, now, scope)
}

/// Each clock judged at `now` in `calendar`, as the gate judges it.
fn judge<'c>(
    clocks: impl Iterator<Item = &'c Clock>,
    calendar: &DistrictCalendar,
    now: DateTime<Utc>,
) -> Vec<Judged> {
    clocks
        .map(|clock| Judged {
            kind: clock.kind,
            state: clock.status(calendar, now).state,
            stopped: clock.stopped_at.is_some_and(|at| at <= now),
            ran: clock.elapsed(calendar, now),
        })
        .collect()
}

/// The report of the groups, judged in `district` at `now`.
fn report(
    groups: Grouped<Acc>,
    district: &District,
    now: DateTime<Utc>,
    scope: &Scope,
) -> SlaReport {
    let calendar = &district.calendar;
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
    const CSV_EXAMPLE: &'static str = "\
        dimension,key,name,purchases,first_contact_clocks,first_contact_met,first_contact_breached,first_contact_breached_open,first_contact_on_track,first_contact_warning,first_contact_attainment,first_contact_p50_business_hours,first_contact_p90_business_hours,decision_clocks,…\r\n\
        all,all,,4,3,2,1,0,0,0,0.6667,1.5,5,…\r\n";

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
/// `advisory_outreach`) is judged as the gate judges it, in the district's calendar (`GET
/// /v1/district`) and targets (`GET /v1/sla`): a stopped clock when it stopped, in the
/// calendar in force then, a running one now, in the calendar now in force: `met` (stopped in time),
/// `breached` (stopped late or still running past its due time; `breached_open`: still
/// running), `on_track` or `warning` (running). `attainment` is met over met and breached;
/// `business_hours` summarizes the business time the stopped clocks ran (median, 90th
/// percentile, maximum, in business hours). Months are the district's. `?format=csv` gives one
/// row per group (`dimension` `all`, `school` or `month`), nine columns per kind of clock.
#[utoipa::path(tag = "reports", params(ReportParams), responses(ReportResponses<SlaReport>))]
#[get("/v1/reports/sla")]
pub async fn sla_report(report: ReportRequest) -> Reply {
    let (service, scope) = (&report.service, &report.scope);
    // Running clocks move with the time: judged for each request, never cached.
    let (partitions, open, district) = futures::try_join!(
        service.rollup::<SlaFigures>(SLA_FIGURES, &scope.period),
        service.documents::<ClockDoc>(OPEN),
        service.district(),
    )?;
    Ok(report.render(&build(&partitions, &open, &district, service.now(), scope)))
}

#[cfg(test)]
mod tests;
