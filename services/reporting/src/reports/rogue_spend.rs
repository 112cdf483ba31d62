//! `GET /v1/reports/rogue-spend`: technology bought outside the gate.
//!
//! An **advisory** purchase is one the gate would have held for IT review, but whose school had
//! not signed the purchasing agreement: it went ahead, and IT was told. Their submitted totals
//! are summed, with counts, per currency: over all, by school, by vendor (as the finance system
//! named it, grouped without regard to case or surrounding spaces), by school and vendor, and
//! by amount band (the purchase's total: under 500, 500 to under 2,500, 2,500 to under 10,000,
//! 10,000 and over). Groups are ordered by total, largest first.
//!
//! The advisory purchases are kept by the shared purchase projection ([`super::purchases`]).

use std::collections::BTreeMap;

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use kernel::ReadModel;
use kernel::http::Caller;
use serde::Serialize;
use utoipa::ToSchema;
use web::ApiError;

use super::csv::{Cell, Csv};
use super::purchases::{ADVISORY, AdvisoryDoc, Purchases};
use super::{Report, ReportParams, ReportReaders, format_cents, parse_query, render};
use crate::Reporting;

// ---------------------------------------------------------------------------------------------
// The report

/// The rogue-spend report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RogueSpendReport {
    /// Per currency, over all schools.
    pub totals: Vec<RogueGroup>,
    pub by_school: Vec<RogueGroup>,
    pub by_vendor: Vec<RogueGroup>,
    pub by_school_and_vendor: Vec<RogueGroup>,
    /// By the purchase's total: `under-500`, `500-2500`, `2500-10000`, `10000-and-over`.
    pub by_amount: Vec<RogueGroup>,
}

/// Advisory purchases of one group, in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RogueGroup {
    /// The school, when grouped by school.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub school_id: Option<String>,
    /// The vendor (as first named), when grouped by vendor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// The amount band, when grouped by amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_band: Option<&'static str>,
    #[schema(example = "USD")]
    pub currency: String,
    /// How many advisory purchases.
    pub purchases: u64,
    /// Their submitted totals.
    #[schema(example = "2499.00")]
    pub total: String,
}

/// The amount bands, in cents: (name, from inclusive).
const BANDS: [(&str, i64); 4] = [
    ("under-500", 0),
    ("500-2500", 50_000),
    ("2500-10000", 250_000),
    ("10000-and-over", 1_000_000),
];

fn band(cents: i64) -> &'static str {
    BANDS.iter().rev().find(|(_, from)| cents >= *from).map_or(BANDS[0].0, |(name, _)| name)
}

#[derive(Default)]
struct Sum {
    purchases: u64,
    cents: i64,
}

type Key = (Option<String>, Option<String>, Option<&'static str>, String);

/// The report from the purchase projection's advisory purchases.
pub fn build(docs: &[AdvisoryDoc]) -> RogueSpendReport {
    // Vendors group without regard to case and spaces; the first spelling names the group.
    let mut vendor_names: BTreeMap<String, &str> = BTreeMap::new();
    let mut groups: [BTreeMap<Key, Sum>; 5] = Default::default();
    for doc in docs {
        let vendor_key = doc.vendor.trim().to_lowercase();
        let vendor = (*vendor_names.entry(vendor_key).or_insert(doc.vendor.trim())).to_owned();
        let school = Some(doc.school_id.clone());
        let currency = doc.currency.clone();
        let keys: [Key; 5] = [
            (None, None, None, currency.clone()),
            (school.clone(), None, None, currency.clone()),
            (None, Some(vendor.clone()), None, currency.clone()),
            (school, Some(vendor), None, currency.clone()),
            (None, None, Some(band(doc.total_cents)), currency),
        ];
        for (group, key) in groups.iter_mut().zip(keys) {
            let sum = group.entry(key).or_default();
            sum.purchases += 1;
            sum.cents += doc.total_cents;
        }
    }
    let [totals, by_school, by_vendor, by_school_and_vendor, by_amount] = groups.map(|group| {
        let mut rows: Vec<(Key, Sum)> = group.into_iter().collect();
        rows.sort_by(|(ka, a), (kb, b)| b.cents.cmp(&a.cents).then_with(|| ka.cmp(kb)));
        rows.into_iter()
            .map(|((school_id, vendor, amount_band, currency), sum)| RogueGroup {
                school_id,
                vendor,
                amount_band,
                currency,
                purchases: sum.purchases,
                total: format_cents(sum.cents),
            })
            .collect::<Vec<_>>()
    });
    RogueSpendReport { totals, by_school, by_vendor, by_school_and_vendor, by_amount }
}

impl Report for RogueSpendReport {
    const NAME: &'static str = "rogue-spend";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "dimension",
            "school_id",
            "vendor",
            "amount_band",
            "currency",
            "purchases",
            "total",
        ]);
        let groups = self
            .totals
            .iter()
            .map(|g| ("all", g))
            .chain(self.by_school.iter().map(|g| ("school", g)))
            .chain(self.by_vendor.iter().map(|g| ("vendor", g)))
            .chain(self.by_school_and_vendor.iter().map(|g| ("school_and_vendor", g)))
            .chain(self.by_amount.iter().map(|g| ("amount", g)));
        for (dimension, g) in groups {
            csv.row([
                Cell::Text(dimension),
                g.school_id.as_deref().into(),
                g.vendor.as_deref().into(),
                g.amount_band.into(),
                g.currency.as_str().into(),
                g.purchases.into(),
                g.total.as_str().into(),
            ]);
        }
        csv
    }
}

/// Advisory purchases (technology bought by schools that have not signed the agreement): totals
/// and counts by school, vendor and amount.
///
/// Per currency; groups ordered by total, largest first. `?format=csv` gives one row per group
/// (`dimension` `all`, `school`, `vendor`, `school_and_vendor` or `amount`).
#[utoipa::path(
    tag = "reports",
    operation_id = "rogue_spend_report",
    params(ReportParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (RogueSpendReport = "application/json"),
            (String = "text/csv", example = json!("dimension,school_id,vendor,amount_band,currency,purchases,total\r\nall,,,,USD,2,1300.00\r\nschool,roosevelt-high,,,USD,2,1300.00\r\n")),
        )),
        (status = 400, description = "A query parameter is invalid (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token.", body = web::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs it_staff, auditor or admin.", body = web::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is not answering, or the report is still catching up with the log.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/reports/rogue-spend")]
pub async fn rogue_spend_report(
    _caller: Caller<ReportReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params: ReportParams = parse_query(req.query_string())?;
    let report = service
        .cached_report(&[Purchases::NAME], |_| async {
            Ok(build(&service.documents::<AdvisoryDoc>(ADVISORY).await?))
        })
        .await?;
    Ok(render(&*report, params.format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        let doc = |school: &str, vendor: &str, cents: i64| AdvisoryDoc {
            school_id: school.into(),
            vendor: vendor.into(),
            currency: "USD".into(),
            total_cents: cents,
        };
        let docs = [
            doc("a", "Best Buy", 40_000),
            doc("a", " best buy ", 60_000),
            doc("b", "Amazon", 1_200_000),
        ];
        let report = build(&docs);
        assert_eq!(report.totals.len(), 1);
        assert_eq!((report.totals[0].purchases, report.totals[0].total.as_str()), (3, "13000.00"));
        let vendors: Vec<(&str, u64)> =
            report.by_vendor.iter().map(|g| (g.vendor.as_deref().unwrap(), g.purchases)).collect();
        assert_eq!(vendors, [("Amazon", 1), ("Best Buy", 2)]);
        let bands: Vec<&str> = report.by_amount.iter().map(|g| g.amount_band.unwrap()).collect();
        assert_eq!(bands, ["10000-and-over", "500-2500", "under-500"]);
        assert_eq!(band(49_999), "under-500");
        assert_eq!(band(250_000), "2500-10000");
        let csv = report.csv().finish();
        assert!(csv.contains("\r\nschool_and_vendor,a,Best Buy,,USD,2,1000.00\r\n"), "{csv}");
    }
}
