//! `GET /v1/reports/response-times`: how fast IT answers held purchases.
//!
//! For each **held** purchase (decided `held`: its school had signed, and finance waits):
//!
//! - **to first reached call**: from the flag (when the log recorded the `held` decision) to
//!   the first call that reached the requester (`requester_reached`, at the call's
//!   `occurred_at`);
//! - **to resolution**: from the flag to the approval or cancellation (when the log recorded
//!   `purchase-approved` or `purchase-cancelled`).
//!
//! Each is summarized as a count, the median and 90th percentile (nearest rank: the smallest
//! measured value with at least that share of values at or below it) and the maximum, in whole
//! seconds, over all held purchases, by school and by month of the flag (UTC). A purchase not
//! yet reached or not yet resolved counts in `held` and `open` but has no duration yet.
//!
//! The figures come from the held purchases kept by the shared purchase projection
//! ([`super::purchases`]).

use std::collections::BTreeMap;

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{DateTime, Utc};
use events::gate::PurchaseStatus;
use kernel::ReadModel;
use kernel::http::Caller;
use serde::Serialize;
use utoipa::ToSchema;
use web::ApiError;

use super::csv::{Cell, Csv};
use super::figures::{Stats, month_of};
use super::purchases::{HELD, HeldDoc, Purchases};
use super::{Report, ReportParams, ReportReaders, parse_query, render};
use crate::Reporting;

// ---------------------------------------------------------------------------------------------
// The report

/// The response-times report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResponseTimesReport {
    /// Every held purchase.
    pub all: ResponseGroup,
    /// By school, ordered by school id.
    pub by_school: Vec<ResponseGroup>,
    /// By the month (UTC) the purchases were flagged, in order.
    pub by_month: Vec<ResponseGroup>,
}

/// The figures of one group of held purchases.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResponseGroup {
    /// The school id, the month (`2024-09`) or `all`.
    pub key: String,
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
    to_call: Vec<i64>,
    to_resolution: Vec<i64>,
    approved: u64,
    cancelled: u64,
}

impl Acc {
    fn add(&mut self, doc: &HeldDoc, flagged_at: DateTime<Utc>) {
        self.held += 1;
        let seconds = |at: DateTime<Utc>| (at - flagged_at).num_seconds().max(0);
        if let Some(at) = doc.first_reached_at {
            self.to_call.push(seconds(at));
        }
        match (doc.resolved_at, doc.resolution) {
            (Some(at), Some(resolution)) => {
                self.to_resolution.push(seconds(at));
                if resolution == PurchaseStatus::Cancelled {
                    self.cancelled += 1;
                } else {
                    self.approved += 1;
                }
            }
            _ => self.open += 1,
        }
    }

    fn finish(self, key: String) -> ResponseGroup {
        ResponseGroup {
            key,
            held: self.held,
            open: self.open,
            to_first_reached_call: Stats::of(self.to_call),
            to_resolution: Stats::of(self.to_resolution),
            approved: self.approved,
            cancelled: self.cancelled,
        }
    }
}

/// The report from the purchase projection's held purchases.
pub fn build(docs: &[HeldDoc]) -> ResponseTimesReport {
    let mut all = Acc::default();
    let mut by_school: BTreeMap<&str, Acc> = BTreeMap::new();
    let mut by_month: BTreeMap<String, Acc> = BTreeMap::new();
    for doc in docs {
        let Some(flagged_at) = doc.flagged_at else { continue };
        all.add(doc, flagged_at);
        by_school.entry(&doc.school_id).or_default().add(doc, flagged_at);
        by_month.entry(month_of(flagged_at)).or_default().add(doc, flagged_at);
    }
    ResponseTimesReport {
        all: all.finish("all".to_owned()),
        by_school: by_school.into_iter().map(|(k, a)| a.finish(k.to_owned())).collect(),
        by_month: by_month.into_iter().map(|(k, a)| a.finish(k)).collect(),
    }
}

impl Report for ResponseTimesReport {
    const NAME: &'static str = "response-times";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "dimension",
            "key",
            "held",
            "open",
            "approved",
            "cancelled",
            "reached_count",
            "to_first_reached_call_p50_seconds",
            "to_first_reached_call_p90_seconds",
            "to_first_reached_call_max_seconds",
            "resolved_count",
            "to_resolution_p50_seconds",
            "to_resolution_p90_seconds",
            "to_resolution_max_seconds",
        ]);
        let groups = std::iter::once(("all", &self.all))
            .chain(self.by_school.iter().map(|g| ("school", g)))
            .chain(self.by_month.iter().map(|g| ("month", g)));
        for (dimension, g) in groups {
            let (c, r) = (&g.to_first_reached_call, &g.to_resolution);
            csv.row([
                Cell::Text(dimension),
                g.key.as_str().into(),
                g.held.into(),
                g.open.into(),
                g.approved.into(),
                g.cancelled.into(),
                c.count.into(),
                c.p50_seconds.into(),
                c.p90_seconds.into(),
                c.max_seconds.into(),
                r.count.into(),
                r.p50_seconds.into(),
                r.p90_seconds.into(),
                r.max_seconds.into(),
            ]);
        }
        csv
    }
}

/// How fast IT answers held purchases: from the flag to the first reached call and to the
/// approval or cancellation.
///
/// Median (p50), 90th percentile (p90, nearest rank) and maximum in seconds, over all held
/// purchases, by school and by the month (UTC) they were flagged. `?format=csv` gives one row
/// per group (`dimension` `all`, `school` or `month`).
#[utoipa::path(
    tag = "reports",
    operation_id = "response_times_report",
    params(ReportParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (ResponseTimesReport = "application/json"),
            (String = "text/csv", example = json!("dimension,key,held,open,approved,cancelled,reached_count,to_first_reached_call_p50_seconds,to_first_reached_call_p90_seconds,to_first_reached_call_max_seconds,resolved_count,to_resolution_p50_seconds,to_resolution_p90_seconds,to_resolution_max_seconds\r\nall,all,3,1,1,1,2,3600,7200,7200,2,86400,90000,90000\r\n")),
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
    let report = service
        .cached_report(&[Purchases::NAME], |_| async {
            Ok(build(&service.documents::<HeldDoc>(HELD).await?))
        })
        .await?;
    Ok(render(&*report, params.format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn groups_and_percentiles() {
        let doc = |school: &str,
                   flag: &str,
                   call: Option<&str>,
                   done: Option<(&str, PurchaseStatus)>| HeldDoc {
            school_id: school.into(),
            flagged_at: Some(t(flag)),
            first_reached_at: call.map(t),
            resolved_at: done.map(|(at, _)| t(at)),
            resolution: done.map(|(_, r)| r),
            ..HeldDoc::default()
        };
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
        let report = build(&docs);
        assert_eq!(report.all.held, 3);
        assert_eq!(report.all.open, 1);
        assert_eq!(
            report.all.to_first_reached_call,
            Stats {
                count: 2,
                p50_seconds: Some(3600),
                p90_seconds: Some(7200),
                max_seconds: Some(7200)
            }
        );
        assert_eq!(report.all.to_resolution.p50_seconds, Some(86_400));
        assert_eq!(report.all.to_resolution.max_seconds, Some(90_000));
        assert_eq!(report.by_school.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(report.by_month.iter().map(|g| g.held).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(report.by_month[1].to_resolution, Stats::default());
        let csv = report.csv().finish();
        assert!(csv.contains("\r\nmonth,2024-10,1,1,0,0,0,,,,0,,,\r\n"), "{csv}");
    }
}
