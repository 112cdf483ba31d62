//! `GET /v1/reports/adoption`: how many schools route their technology purchases through IT,
//! over time, and how much of the technology spend went through gated schools.
//!
//! # Definitions
//!
//! - A school **counts** from the day it was registered (the district's date when the log
//!   recorded `school-registered`) or, if earlier, the date of its first agreement change. It is
//!   **gated** while its purchasing agreement stands: from an `agreement-signed` (dated
//!   `signed_on`) to an `agreement-withdrawn` (dated `withdrawn_on`).
//! - A purchase check is **technology** when its decision has at least one reason other than
//!   `not-technology`: at least one of its lines is technology (in the catalog or not), so the
//!   gate had something to say about it. A purchase whose every line is `not-technology` is not.
//! - **Technology spend** is the sum of the submitted totals of technology purchase checks,
//!   counted in the month they were asked about (when the gate decided, or for a check sent
//!   after the fact, when the purchase was requested), whatever IT did with them later: it
//!   measures what schools set out to buy, which is what the gate is meant to see. It is kept
//!   per currency.
//! - Spend **through gated schools** is the part whose decision recorded that the school had
//!   signed the agreement (`school_gated`): held for review or approved as supported.
//!
//! # Figures
//!
//! - `schools`: the schools counted and gated now (by the order of the log), and the share.
//! - `technology_spend`: per currency, all time.
//! - `months`: one entry per calendar month of the district (in its time zone now in force)
//!   from the first month with a school or a check to the current month (the district's
//!   today's: `as_of`): schools counted and gated at the month's end (by agreement dates), and
//!   that month's technology spend per currency.
//! - `agreement_changes`: every signature and withdrawal in date order, with the schools gated
//!   and counted after it.
//!
//! The CSV has one row per month and currency (a month without checks has one row with an
//! empty currency).
//!
//! Schools and agreement changes are kept by the `reporting.schools` projection here; the spend
//! sums by the shared purchase projection ([`super::purchases`]).

use std::collections::{BTreeMap, BTreeSet};

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::{DateTime, NaiveDate, Utc};
use eventlog::{DocKey, Filter};
use events::Published;
use events::calendar::DistrictCalendar;
use events::school::SchoolEvent;
use kernel::http::Caller;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use web::ApiError;

use super::clocks::Clocks;
use super::csv::{Cell, Csv};
use super::figures::{last_day_of, month_of_day, months_between, share, share_cents};
use super::purchases::{self, SpendDoc, SpendSums};
use super::{Report, ReportParams, ReportReaders, format_cents, parse_query, render};
use crate::Reporting;

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.schools";
/// One document per school: [`SchoolDoc`].
pub const SCHOOLS: &str = "reporting.schools.schools";
/// One document per agreement change, keyed by its sequence: [`ChangeDoc`].
pub const CHANGES: &str = "reporting.schools.changes";

/// A school as the adoption report needs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchoolDoc {
    pub school_id: String,
    pub name: Option<String>,
    /// The day (UTC) its registration was recorded, in documents written before
    /// `registered_at` was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_on: Option<NaiveDate>,
    /// When its registration was recorded: the report takes the district's date of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<DateTime<Utc>>,
    /// Whether its agreement stands now (by the order of the log).
    pub gated: bool,
}

/// Signed or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Signed,
    Withdrawn,
}

/// One agreement change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeDoc {
    pub sequence: u64,
    pub school_id: String,
    pub change: Change,
    /// `signed_on` or `withdrawn_on`.
    pub on: NaiveDate,
}

/// Keeps the schools and their agreement changes.
#[derive(Debug, Default)]
pub struct Schools;

const TYPES: [&str; 4] =
    ["school-registered", "school-updated", "agreement-signed", "agreement-withdrawn"];

impl ReadModel for Schools {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = SCHOOLS;
    const SKIP_UNDECODABLE: bool = true;
    type Doc = SchoolDoc;

    fn collections(&self) -> Vec<&'static str> {
        vec![SCHOOLS, CHANGES]
    }

    fn filter(&self) -> Filter {
        Filter::all().with_types(TYPES)
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        match event.event {
            Published::School(
                SchoolEvent::AgreementSigned(_) | SchoolEvent::AgreementWithdrawn(_),
            ) => {
                vec![DocKey::new(CHANGES, change_key(event.position))]
            }
            _ => vec![],
        }
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, SchoolDoc>,
    ) -> Result<(), String> {
        let Published::School(school_event) = event.event else { return Ok(()) };
        let id = event.stream_id();
        let mut school = docs
            .get(id)
            .unwrap_or_else(|| SchoolDoc { school_id: id.to_owned(), ..SchoolDoc::default() });
        let change = match school_event {
            SchoolEvent::Registered(e) => {
                school.name = Some(e.name.to_string());
                if school.registered_at.is_none() && school.registered_on.is_none() {
                    school.registered_at = Some(event.recorded_at);
                }
                None
            }
            SchoolEvent::Updated(e) => {
                school.name = Some(e.name.to_string());
                None
            }
            SchoolEvent::AgreementSigned(e) => {
                school.gated = true;
                Some((Change::Signed, e.signed_on))
            }
            SchoolEvent::AgreementWithdrawn(e) => {
                school.gated = false;
                Some((Change::Withdrawn, e.withdrawn_on))
            }
        };
        if let Some((change, on)) = change {
            let doc = ChangeDoc { sequence: event.position, school_id: id.to_owned(), change, on };
            docs.of::<ChangeDoc>(CHANGES).put(&change_key(event.position), &doc);
        }
        docs.put(id, &school);
        Ok(())
    }
}

/// Change documents sort by sequence.
fn change_key(position: u64) -> String {
    format!("{position:020}")
}

// ---------------------------------------------------------------------------------------------
// The report

/// The adoption report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdoptionReport {
    /// The day the report was made (the district's date).
    pub as_of: NaiveDate,
    /// Schools now.
    pub schools: SchoolCounts,
    /// Technology spend, all time, per currency.
    pub technology_spend: Vec<Spend>,
    /// Month by month, from the first month with a school or a check to the current month.
    pub months: Vec<AdoptionMonth>,
    /// Every signature and withdrawal, by date.
    pub agreement_changes: Vec<AgreementChange>,
}

/// How many schools are counted and gated.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SchoolCounts {
    /// Schools counted.
    pub total: u64,
    /// Schools whose purchasing agreement stands.
    pub gated: u64,
    /// `gated / total`, to four decimals; `null` without schools.
    pub gated_share: Option<f64>,
}

/// Technology spend in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Spend {
    #[schema(example = "USD")]
    pub currency: String,
    /// Every purchase check decided (technology or not).
    pub checks: u64,
    /// Technology checks.
    pub technology_checks: u64,
    /// Their submitted totals.
    #[schema(example = "12500.00")]
    pub technology_spend: String,
    /// Technology checks of schools whose agreement stood when the gate decided.
    pub gated_checks: u64,
    /// Their submitted totals.
    #[schema(example = "9000.00")]
    pub gated_spend: String,
    /// `gated_spend / technology_spend`, to four decimals; `null` without technology spend.
    pub gated_spend_share: Option<f64>,
}

impl Spend {
    fn of(currency: &str, sums: &SpendSums) -> Self {
        Self {
            currency: currency.to_owned(),
            checks: sums.checks,
            technology_checks: sums.technology_checks,
            technology_spend: format_cents(sums.technology_cents),
            gated_checks: sums.gated_checks,
            gated_spend: format_cents(sums.gated_cents),
            gated_spend_share: share_cents(sums.gated_cents, sums.technology_cents),
        }
    }
}

/// One month.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdoptionMonth {
    #[schema(example = "2024-09")]
    pub month: String,
    /// Schools counted and gated at the month's end.
    pub schools: SchoolCounts,
    /// The technology spend decided in the month, per currency.
    pub technology_spend: Vec<Spend>,
}

/// A signature or a withdrawal.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgreementChange {
    /// The log sequence of the event.
    pub sequence: u64,
    pub on: NaiveDate,
    pub school_id: String,
    pub change: Change,
    /// Schools counted and gated after it.
    pub schools: SchoolCounts,
}

fn counts(total: u64, gated: u64) -> SchoolCounts {
    SchoolCounts { total, gated, gated_share: share(gated, total) }
}

/// The report from the projection's documents, on `today`, in the district's `calendar`.
pub fn build(
    schools: &[SchoolDoc],
    changes: &[ChangeDoc],
    spend: &[SpendDoc],
    today: NaiveDate,
    calendar: &DistrictCalendar,
) -> AdoptionReport {
    let mut changes: Vec<&ChangeDoc> = changes.iter().collect();
    changes.sort_by_key(|c| (c.on, c.sequence));
    // When each school starts to count.
    let mut counted_from: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for s in schools {
        if let Some(day) = s.registered_at.map(|at| calendar.today(at)).or(s.registered_on) {
            counted_from.insert(&s.school_id, day);
        }
    }
    for c in &changes {
        let day = counted_from.entry(&c.school_id).or_insert(c.on);
        *day = (*day).min(c.on);
    }
    let counted_by = |day: NaiveDate| counted_from.values().filter(|d| **d <= day).count() as u64;

    // Agreement changes in date order, with the gated set after each.
    let mut gated: BTreeSet<&str> = BTreeSet::new();
    let mut agreement_changes = Vec::with_capacity(changes.len());
    for c in &changes {
        match c.change {
            Change::Signed => gated.insert(&c.school_id),
            Change::Withdrawn => gated.remove(c.school_id.as_str()),
        };
        agreement_changes.push(AgreementChange {
            sequence: c.sequence,
            on: c.on,
            school_id: c.school_id.clone(),
            change: c.change,
            schools: counts(counted_by(c.on), gated.len() as u64),
        });
    }

    // Per month and currency, and all time per currency.
    let mut spend_by_month: BTreeMap<String, BTreeMap<&str, SpendSums>> = BTreeMap::new();
    let mut all_time: BTreeMap<&str, SpendSums> = BTreeMap::new();
    for (month, currency, sums) in spend.iter().flat_map(|s| s.by_month(calendar)) {
        spend_by_month.entry(month).or_default().entry(currency).or_default().add(sums);
        all_time.entry(currency).or_default().add(sums);
    }
    let first =
        counted_from.values().map(|d| month_of_day(*d)).chain(spend_by_month.keys().cloned()).min();
    let last = counted_from
        .values()
        .chain(changes.iter().map(|c| &c.on))
        .map(|d| month_of_day(*d))
        .chain(spend_by_month.keys().cloned())
        .chain([month_of_day(today)])
        .max()
        .unwrap_or_else(|| month_of_day(today));
    let mut months = Vec::new();
    if let Some(first) = first {
        let mut next_change = 0;
        let mut gated_then: BTreeSet<&str> = BTreeSet::new();
        for month in months_between(&first, &last) {
            let Some(end) = last_day_of(&month) else { continue };
            while let Some(c) = changes.get(next_change).filter(|c| c.on <= end) {
                match c.change {
                    Change::Signed => gated_then.insert(&c.school_id),
                    Change::Withdrawn => gated_then.remove(c.school_id.as_str()),
                };
                next_change += 1;
            }
            let technology_spend = spend_by_month
                .get(month.as_str())
                .map(|s| s.iter().map(|(c, sums)| Spend::of(c, sums)).collect())
                .unwrap_or_default();
            months.push(AdoptionMonth {
                schools: counts(counted_by(end), gated_then.len() as u64),
                month,
                technology_spend,
            });
        }
    }

    AdoptionReport {
        as_of: today,
        schools: counts(schools.len() as u64, schools.iter().filter(|s| s.gated).count() as u64),
        technology_spend: all_time.iter().map(|(c, sums)| Spend::of(c, sums)).collect(),
        months,
        agreement_changes,
    }
}

impl Report for AdoptionReport {
    const NAME: &'static str = "adoption";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "month",
            "schools_total",
            "schools_gated",
            "schools_gated_share",
            "currency",
            "checks",
            "technology_checks",
            "technology_spend",
            "gated_checks",
            "gated_spend",
            "gated_spend_share",
        ]);
        for m in &self.months {
            let schools = |csv: &mut Csv, spend: Option<&Spend>| {
                let mut cells: Vec<Cell> = vec![
                    m.month.as_str().into(),
                    m.schools.total.into(),
                    m.schools.gated.into(),
                    m.schools.gated_share.into(),
                ];
                match spend {
                    Some(s) => cells.extend([
                        s.currency.as_str().into(),
                        s.checks.into(),
                        s.technology_checks.into(),
                        s.technology_spend.as_str().into(),
                        s.gated_checks.into(),
                        s.gated_spend.as_str().into(),
                        s.gated_spend_share.into(),
                    ]),
                    None => cells.extend(std::iter::repeat_n(Cell::Empty, 7)),
                }
                csv.row(cells);
            };
            if m.technology_spend.is_empty() {
                schools(&mut csv, None);
            }
            for s in &m.technology_spend {
                schools(&mut csv, Some(s));
            }
        }
        csv
    }
}

/// Schools signed over total, over time, and the share of technology spend through gated
/// schools.
///
/// A school is *gated* while its purchasing agreement stands. *Technology spend* is the sum of
/// the submitted totals of purchase checks with at least one technology line (a decision
/// reason other than `not-technology`), counted in the month the gate decided, whatever IT did
/// later; the *gated* part is that of checks decided while the school's agreement stood. A
/// check sent after the fact counts in the month the purchase was requested. Months are the
/// district's calendar months, in its time zone (`GET /v1/district`), up to the current one.
/// `?format=csv` gives one row per month and currency.
#[utoipa::path(
    tag = "reports",
    operation_id = "adoption_report",
    params(ReportParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (AdoptionReport = "application/json"),
            (String = "text/csv", example = json!("month,schools_total,schools_gated,schools_gated_share,currency,checks,technology_checks,technology_spend,gated_checks,gated_spend,gated_spend_share\r\n2024-09,3,2,0.6667,USD,4,3,3000.00,2,2000.00,0.6667\r\n")),
        )),
        (status = 400, description = "A query parameter is invalid (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token.", body = web::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs it_staff, auditor or admin.", body = web::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is not answering, or the report is still catching up with the log.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/reports/adoption")]
pub async fn adoption_report(
    _caller: Caller<ReportReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params: ReportParams = parse_query(req.query_string())?;
    service.wait_for(&[Schools::NAME, purchases::Purchases::NAME, Clocks::NAME]).await?;
    let (schools, changes, spend, district) = futures::try_join!(
        service.documents::<SchoolDoc>(SCHOOLS),
        service.documents::<ChangeDoc>(CHANGES),
        service.documents::<SpendDoc>(purchases::SPEND),
        service.district(),
    )?;
    let today = district.calendar.today(service.now());
    let report = build(&schools, &changes, &spend, today, &district.calendar);
    Ok(render(&report, params.format))
}

#[cfg(test)]
mod tests {
    use events::calendar::{BusinessHours, TimeZoneName};

    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn utc() -> DistrictCalendar {
        DistrictCalendar::default()
    }

    fn chicago() -> DistrictCalendar {
        DistrictCalendar::new(
            TimeZoneName::parse("America/Chicago").unwrap(),
            BusinessHours::office(),
        )
    }

    fn school(id: &str, registered: &str, gated: bool) -> SchoolDoc {
        SchoolDoc {
            school_id: id.into(),
            name: None,
            registered_on: Some(day(registered)),
            registered_at: None,
            gated,
        }
    }

    #[test]
    fn series_by_month_and_change() {
        let schools = [
            school("a", "2024-08-01", true),
            school("b", "2024-08-15", false),
            school("c", "2024-10-02", true),
        ];
        let changes = [
            ChangeDoc {
                sequence: 5,
                school_id: "a".into(),
                change: Change::Signed,
                on: day("2024-08-20"),
            },
            ChangeDoc {
                sequence: 9,
                school_id: "b".into(),
                change: Change::Signed,
                on: day("2024-09-01"),
            },
            ChangeDoc {
                sequence: 12,
                school_id: "b".into(),
                change: Change::Withdrawn,
                on: day("2024-10-05"),
            },
            ChangeDoc {
                sequence: 14,
                school_id: "c".into(),
                change: Change::Signed,
                on: day("2024-10-03"),
            },
        ];
        let mut sums = SpendSums::default();
        sums.add(&SpendSums {
            checks: 3,
            technology_checks: 2,
            technology_cents: 30_000,
            gated_checks: 1,
            gated_cents: 10_000,
        });
        // Kept by the quarter hour, and (a document written before) by the month.
        let (half, rest) = split(&sums);
        let at = "2024-09-12T15:00:00Z".parse().unwrap();
        let spend = [
            SpendDoc {
                by_quarter_hour: [(at, [("USD".into(), half)].into())].into(),
                ..SpendDoc::default()
            },
            SpendDoc {
                month: Some("2024-09".into()),
                by_currency: [("USD".into(), rest)].into(),
                ..SpendDoc::default()
            },
        ];
        let report = build(&schools, &changes, &spend, day("2024-11-10"), &utc());
        assert_eq!(report.schools, counts(3, 2));
        let months: Vec<(&str, u64, u64)> = report
            .months
            .iter()
            .map(|m| (m.month.as_str(), m.schools.total, m.schools.gated))
            .collect();
        assert_eq!(
            months,
            [("2024-08", 2, 1), ("2024-09", 2, 2), ("2024-10", 3, 2), ("2024-11", 3, 2)]
        );
        assert_eq!(report.months[1].technology_spend[0].technology_spend, "300.00");
        assert_eq!(report.months[1].technology_spend[0].gated_spend_share, Some(0.3333));
        let order: Vec<u64> = report.agreement_changes.iter().map(|c| c.sequence).collect();
        assert_eq!(order, [5, 9, 14, 12]);
        assert_eq!(report.agreement_changes[3].schools, counts(3, 2));
        let csv = report.csv().finish();
        assert!(csv.starts_with("month,schools_total,"), "{csv}");
        assert!(csv.contains("\r\n2024-08,2,1,0.5,,,,,,,\r\n"), "{csv}");
        assert!(csv.contains("\r\n2024-09,2,2,1,USD,3,2,300.00,1,100.00,0.3333\r\n"), "{csv}");
    }

    /// `sums` in two parts that add up to it.
    fn split(sums: &SpendSums) -> (SpendSums, SpendSums) {
        let first = SpendSums {
            checks: 1,
            technology_checks: 1,
            technology_cents: 20_000,
            gated_checks: 0,
            gated_cents: 0,
        };
        let rest = SpendSums {
            checks: sums.checks - 1,
            technology_checks: sums.technology_checks - 1,
            technology_cents: sums.technology_cents - 20_000,
            gated_checks: sums.gated_checks,
            gated_cents: sums.gated_cents,
        };
        (first, rest)
    }

    #[test]
    fn a_sign_up_at_half_past_eleven_at_night_on_the_last_day_of_a_month_counts_in_that_month() {
        // Saturday 31 August 2024, 23:30 in Chicago: 04:30 on 1 September in UTC.
        let late = "2024-09-01T04:30:00Z".parse().unwrap();
        let schools = [SchoolDoc {
            school_id: "a".into(),
            name: None,
            registered_on: None,
            registered_at: Some(late),
            gated: false,
        }];
        let check = SpendSums {
            checks: 1,
            technology_checks: 1,
            technology_cents: 50_000,
            ..SpendSums::default()
        };
        let spend = [SpendDoc {
            by_quarter_hour: [(late, [("USD".into(), check)].into())].into(),
            ..SpendDoc::default()
        }];
        let report = build(&schools, &[], &spend, day("2024-09-10"), &chicago());
        let months: Vec<(&str, u64, usize)> = report
            .months
            .iter()
            .map(|m| (m.month.as_str(), m.schools.total, m.technology_spend.len()))
            .collect();
        assert_eq!(months, [("2024-08", 1, 1), ("2024-09", 1, 0)]);
        assert_eq!(report.months[0].technology_spend[0].technology_spend, "500.00");
        // In UTC's calendar, the same moment is September's.
        let report = build(&schools, &[], &spend, day("2024-09-10"), &utc());
        assert_eq!(report.months.iter().map(|m| m.month.as_str()).collect::<Vec<_>>(), ["2024-09"]);
    }

    #[test]
    fn empty() {
        let report = build(&[], &[], &[], day("2024-11-10"), &utc());
        assert!(report.months.is_empty());
        assert_eq!(report.schools, counts(0, 0));
        assert_eq!(report.schools.gated_share, None);
    }
}
