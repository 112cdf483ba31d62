//! `GET /v1/reports/rogue-spend`: technology bought outside the gate, and whether signing the
//! purchasing agreement reduced it.
//!
//! # Definitions
//!
//! - **Unchecked technology** is technology bought on a purchasing card that no purchase check
//!   covers: a card transaction whose status is `unchecked_technology` (the gate's
//!   reconciliation flagged it, and IT has not matched it since). Matched, ambiguous,
//!   non-technology transactions and credits do not count. Its amount is the transaction's,
//!   its school the card's when the transaction was recorded, and its day the transaction
//!   date (kept by the [`super::card_spend`] projection). It counts while its status is
//!   unchecked: a later match takes it out, an undone match and a new flag put it back.
//! - **Advisory** spend, beside it, is the purchase checks the gate answered `advisory`: the
//!   school had not signed, so the purchase went ahead and IT was told. Its amount is the
//!   check's submitted total, its day the district's date it was asked about (when the gate
//!   decided, or for a check sent after the fact, when the purchase was requested), in the
//!   time zone in force at its decision (kept by the shared purchase projection,
//!   [`super::purchases`]). These purchases did ask; the unchecked ones never did.
//! - **Before and after signing.** Each day falls *after signing* for a school when its
//!   purchasing agreement stood that day (from an `agreement-signed`'s `signed_on`, until an
//!   `agreement-withdrawn`'s `withdrawn_on`), and *before signing* otherwise: before it first
//!   signed, or after it withdrew (the agreement changes are kept by the adoption report's
//!   projection, [`super::adoption`]).
//! - **Covered days**: from the earliest to the latest transaction date of the imported
//!   statements. Unchecked spend is only known for those days, so the comparison of before and
//!   after signing counts the days of each period within them, and the spend (unchecked and
//!   advisory) dated within them, and gives each as a rate per 30 days.
//!
//! # Figures
//!
//! Per currency, with the count and the total of unchecked technology transactions and of
//! advisory purchases in every group: over all (`totals`), by school, by month (of the day),
//! by school, month and period (`by_school_and_month`: a month in which a school signed has
//! a row for each side), by vendor (the card's merchant or the check's vendor, grouped without
//! regard to case or surrounding spaces), by school and vendor, and by amount band (under 500,
//! 500 to under 2,500, 2,500 to under 10,000, 10,000 and over). Then `signing`: per school
//! with spend, the two periods side by side and whether the unchecked spend per 30 days fell
//! after signing; and `trend`: the same pooled over every school that has covered days on both
//! sides, the district's answer to "did signing reduce it?".
//!
//! Groups by month are in month order; the others by their whole total (unchecked and
//! advisory), largest first. A vendor group is named by the first spelling of its unchecked
//! transactions (by month, then school, then spelling), or without one, of its advisory
//! purchases.
//!
//! With a period (`?from=`, `?to=`, `?school_year=`, echoed as `report_period`): the
//! transactions dated in it, the advisory purchases asked about in it, and the covered days
//! within it. Schools are named beside their ids (`school_name`).
//!
//! # How it is kept
//!
//! The projections keep the spend as [rollups](super::rollup) of [`DaySpend`] entries ([`spend`]):
//! by day (and by month) and school, per currency, counts and cents by vendor as spelled and by
//! amount band; the unchecked transactions in `reporting.card_spend.unchecked_by_day` and
//! `unchecked_by_month`, added when a transaction becomes unchecked and taken away exactly as added
//! when it stops being so, the advisory purchases in `reporting.purchases.advisory_by_day` and
//! `advisory_by_month`. A request reads its period's whole months from the month partitions, except
//! the months in which some school's agreement changed after their first day, or the covered days
//! start or end ([`split_months`]): those, like the days of the months the period covers in part,
//! it reads by day ([`super::rollup::reads_splitting`]), so that each entry falls on one side of
//! signing, in or out of the covered days. Then it regroups them: which side of signing a day falls
//! on, vendor groups and names are decided then (agreements change seldom, and an agreement signed
//! later moves the days it covers). Its work grows with the months, schools and vendors (and the
//! days of the months read by day), not with the purchases and transactions.
//!
//! **Changed** from the first version of this report, which counted advisory purchases only:
//! each group's `purchases` and `total` are now `advisory_purchases` and `advisory_total`,
//! beside `unchecked_transactions` and `unchecked_total`; `covered`, `by_month`,
//! `by_school_and_month`, `signing` and `trend` are new, and so are the CSV's columns.

use kernel::http::Reply;
use std::collections::{BTreeMap, BTreeSet};

use actix_web::get;
use chrono::NaiveDate;
use kernel::ReadModel;
use serde::Serialize;
use utoipa::ToSchema;

use super::adoption::{self, ChangeDoc};
use super::card_spend::{self, CardSpend, CoverageDoc};
use super::clocks::Clocks;
use super::csv::{Cell, Csv};
use super::figures::month_of_day;
use super::purchases::{ADVISORY_FIGURES, Purchases};
use super::rollup::{Rollup, first_of_month};
use super::{
    Report, ReportParams, ReportPeriod, ReportRequest, ReportResponses, SchoolNames, Scope,
    format_cents,
};

// ---------------------------------------------------------------------------------------------
// The report

/// The rogue-spend report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RogueSpendReport {
    /// The transactions dated and the advisory purchases asked about in this period.
    pub report_period: ReportPeriod,
    /// The days the imported statements cover (within the period); `null` before the first
    /// statement.
    pub covered: Option<Covered>,
    /// Per currency, over all schools.
    pub totals: Vec<RogueGroup>,
    pub by_school: Vec<RogueGroup>,
    /// By calendar month of the day, in month order.
    pub by_month: Vec<RogueGroup>,
    /// By school, month and period (before or after the school signed), in that order.
    pub by_school_and_month: Vec<RogueGroup>,
    pub by_vendor: Vec<RogueGroup>,
    pub by_school_and_vendor: Vec<RogueGroup>,
    /// By amount: `under-500`, `500-2500`, `2500-10000`, `10000-and-over`.
    pub by_amount: Vec<RogueGroup>,
    /// Per school with spend and currency: before and after it signed, within the covered
    /// days.
    pub signing: Vec<SchoolSigning>,
    /// Per currency, over every school with covered days both before and after signing.
    pub trend: Vec<SigningTrend>,
}

/// The days the imported statements cover.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Covered {
    /// Statements imported.
    pub statements: u64,
    /// The earliest transaction date of any statement.
    pub from: NaiveDate,
    /// The latest.
    pub to: NaiveDate,
    pub days: u64,
}

/// Before or after a school signed the purchasing agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// No agreement stood that day: before the school first signed, or after it withdrew.
    BeforeSigning,
    /// The school's agreement stood that day.
    AfterSigning,
}

impl Period {
    fn as_str(self) -> &'static str {
        match self {
            Self::BeforeSigning => "before_signing",
            Self::AfterSigning => "after_signing",
        }
    }
}

/// Unchecked technology and advisory purchases of one group, in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RogueGroup {
    /// The school, when grouped by school.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub school_id: Option<String>,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub school_name: Option<String>,
    /// The month (`2024-09`), when grouped by month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// Before or after the school signed, when grouped by school and month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// The merchant or vendor (as first named), when grouped by vendor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// The amount band, when grouped by amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_band: Option<&'static str>,
    #[schema(example = "USD")]
    pub currency: String,
    /// Unchecked technology card transactions.
    pub unchecked_transactions: u64,
    /// Their amounts.
    #[schema(example = "1299.99")]
    pub unchecked_total: String,
    /// Advisory purchase checks.
    pub advisory_purchases: u64,
    /// Their submitted totals.
    #[schema(example = "2499.00")]
    pub advisory_total: String,
}

/// Spend within one period of the covered days.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodSpend {
    /// Covered days in the period (for a trend, school-days: summed over its schools).
    pub days: u64,
    pub unchecked_transactions: u64,
    #[schema(example = "600.00")]
    pub unchecked_total: String,
    /// `unchecked_total × 30 / days`, to the cent; `null` without days.
    #[schema(example = "947.37")]
    pub unchecked_per_30_days: Option<String>,
    pub advisory_purchases: u64,
    #[schema(example = "0.00")]
    pub advisory_total: String,
    /// `advisory_total × 30 / days`, to the cent; `null` without days.
    pub advisory_per_30_days: Option<String>,
}

/// One school's spend in one currency, before and after it signed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SchoolSigning {
    pub school_id: String,
    pub school_name: Option<String>,
    #[schema(example = "USD")]
    pub currency: String,
    /// The day it first signed; `null` if it never has.
    pub signed_on: Option<NaiveDate>,
    /// The day it withdrew, when its agreement does not stand now.
    pub withdrawn_on: Option<NaiveDate>,
    pub before_signing: PeriodSpend,
    pub after_signing: PeriodSpend,
    /// Whether unchecked technology spend per 30 days is lower after signing than before;
    /// `null` unless both periods have covered days.
    pub reduced: Option<bool>,
}

/// Before and after signing over the schools that have covered days on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SigningTrend {
    #[schema(example = "USD")]
    pub currency: String,
    /// The schools pooled (whether or not they had spend).
    pub schools: u64,
    pub before_signing: PeriodSpend,
    pub after_signing: PeriodSpend,
    /// Whether unchecked technology spend per 30 school-days is lower after signing than
    /// before; `null` without schools.
    pub reduced: Option<bool>,
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

/// Counts and cents of both kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sum {
    unchecked: u64,
    unchecked_cents: i64,
    advisory: u64,
    advisory_cents: i64,
}

impl Sum {
    /// The sums of a day's entries of both kinds (`[unchecked, advisory]`): a kind that does
    /// not come to at least one item counts nothing.
    fn of([unchecked, advisory]: &[Spend; 2]) -> Self {
        let kept = |s: &Spend| if s.count > 0 { (s.count.unsigned_abs(), s.cents) } else { (0, 0) };
        let ((unchecked, unchecked_cents), (advisory, advisory_cents)) =
            (kept(unchecked), kept(advisory));
        Self { unchecked, unchecked_cents, advisory, advisory_cents }
    }

    fn is_empty(&self) -> bool {
        self.unchecked == 0 && self.advisory == 0
    }

    fn merge(&mut self, other: &Sum) {
        self.unchecked += other.unchecked;
        self.unchecked_cents += other.unchecked_cents;
        self.advisory += other.advisory;
        self.advisory_cents += other.advisory_cents;
    }

    fn whole(&self) -> i64 {
        self.unchecked_cents + self.advisory_cents
    }
}

/// (school, month (its first day), period, vendor, amount band, currency), borrowed from the
/// rollups' entries while they are summed.
type Key<'a> = (
    Option<&'a str>,
    Option<NaiveDate>,
    Option<Period>,
    Option<&'a str>,
    Option<&'static str>,
    &'a str,
);

fn groups(rows: BTreeMap<Key<'_>, Sum>, by_total: bool, names: &SchoolNames) -> Vec<RogueGroup> {
    let mut rows: Vec<(Key, Sum)> = rows.into_iter().collect();
    if by_total {
        rows.sort_by(|(ka, a), (kb, b)| b.whole().cmp(&a.whole()).then_with(|| ka.cmp(kb)));
    }
    rows.into_iter()
        .map(|((school_id, month, period, vendor, amount_band, currency), sum)| RogueGroup {
            school_name: names.of_some(school_id),
            school_id: school_id.map(str::to_owned),
            month: month.map(month_of_day),
            period,
            vendor: vendor.map(str::to_owned),
            amount_band,
            currency: currency.to_owned(),
            unchecked_transactions: sum.unchecked,
            unchecked_total: format_cents(sum.unchecked_cents),
            advisory_purchases: sum.advisory,
            advisory_total: format_cents(sum.advisory_cents),
        })
        .collect()
}

/// The two kinds of spend, as the rollups' entries are summed: `[unchecked, advisory]`.
const UNCHECKED: usize = 0;
const ADVISORY: usize = 1;

/// (day, school, currency, vendor as spelled or amount band): the day of a day's entry, the
/// first of the month of a month's (all of whose days fall on one side of signing, and in or
/// out of the covered days).
type DayKey<'a> = (NaiveDate, &'a str, &'a str, &'a str);

/// The entries of the period's days in the rollups, summed over their partitions: by vendor as
/// spelled, and by amount band.
#[derive(Default)]
struct Days<'a> {
    vendors: BTreeMap<DayKey<'a>, [Spend; 2]>,
    bands: BTreeMap<DayKey<'a>, [Spend; 2]>,
}

impl<'a> Days<'a> {
    fn add(
        &mut self,
        kind: usize,
        partitions: impl IntoIterator<Item = &'a Rollup<DaySpend>>,
        period: &ReportPeriod,
    ) {
        let from = period.from.unwrap_or(NaiveDate::MIN);
        let to = period.to.unwrap_or(NaiveDate::MAX);
        for rollup in partitions {
            for (day, schools) in rollup.days.range(from..=to) {
                for (school, spend) in schools {
                    for (currency, spend) in &spend.0 {
                        for (vendor, s) in &spend.vendors {
                            let key = (*day, school.as_str(), currency.as_str(), vendor.as_str());
                            self.vendors.entry(key).or_default()[kind].add(s);
                        }
                        for (band, s) in &spend.bands {
                            let key = (*day, school.as_str(), currency.as_str(), band.as_str());
                            self.bands.entry(key).or_default()[kind].add(s);
                        }
                    }
                }
            }
        }
    }
}

/// The name of each vendor group (keyed by the vendor without regard to case and surrounding
/// spaces): its first spelling among the unchecked transactions, by month, school and
/// spelling; without one, among the advisory purchases.
fn vendor_names<'a>(vendors: &[(DayKey<'a>, Sum)]) -> BTreeMap<String, &'a str> {
    let mut first: BTreeMap<String, (bool, NaiveDate, &str, &'a str)> = BTreeMap::new();
    for ((day, school, _, vendor), sum) in vendors {
        let rank = (sum.unchecked == 0, first_of_month(*day), *school, *vendor);
        let slot = first.entry(vendor.to_lowercase()).or_insert(rank);
        *slot = (*slot).min(rank);
    }
    first.into_iter().map(|(key, (.., vendor))| (key, vendor)).collect()
}

/// The report from the rollups of unchecked technology transactions ([`card_spend`]'s) and of
/// advisory purchases ([`super::purchases`]'), each as the partitions the period needs with
/// the months of [`split_months`] read by day, the agreement changes and the statements'
/// coverage, for the scope's period (the transactions dated in it, the advisory purchases
/// asked about in it, the covered days within it).
pub fn build<'a>(
    unchecked: impl IntoIterator<Item = &'a Rollup<DaySpend>>,
    advisory: impl IntoIterator<Item = &'a Rollup<DaySpend>>,
    changes: &[ChangeDoc],
    coverage: Option<&CoverageDoc>,
    scope: &Scope,
) -> RogueSpendReport {
    let period = &scope.period;
    let mut days = Days::default();
    days.add(UNCHECKED, unchecked, period);
    days.add(ADVISORY, advisory, period);
    let kept = |sums: BTreeMap<DayKey<'a>, [Spend; 2]>| -> Vec<(DayKey<'a>, Sum)> {
        sums.into_iter()
            .map(|(key, spend)| (key, Sum::of(&spend)))
            .filter(|(_, sum)| !sum.is_empty())
            .collect()
    };
    let (vendors, bands) = (kept(days.vendors), kept(days.bands));
    let agreements = Agreements::new(changes);
    let covered = covered(coverage, period);
    let in_covered = |day: NaiveDate| covered.is_some_and(|(from, to)| from <= day && day <= to);

    // Vendors group without regard to case and spaces; the first spelling names the group.
    let names = vendor_names(&vendors);
    let mut dims: [BTreeMap<Key, Sum>; 7] = Default::default();
    // (school, currency) → [before, after], within the covered days.
    let mut periods: SigningPeriods<'_> = BTreeMap::new();
    for ((day, school_id, currency, vendor), sum) in &vendors {
        let vendor = names.get(&vendor.to_lowercase()).copied().unwrap_or(vendor);
        let (school, month) = (Some(*school_id), Some(first_of_month(*day)));
        let side = agreements.period(school_id, *day);
        let keys: [(usize, Key); 6] = [
            (0, (None, None, None, None, None, currency)),
            (1, (school, None, None, None, None, currency)),
            (2, (None, month, None, None, None, currency)),
            (3, (school, month, Some(side), None, None, currency)),
            (4, (None, None, None, Some(vendor), None, currency)),
            (5, (school, None, None, Some(vendor), None, currency)),
        ];
        for (dim, key) in keys {
            dims[dim].entry(key).or_default().merge(sum);
        }
        if in_covered(*day) {
            periods.entry((school_id, currency)).or_default()[side as usize].merge(sum);
        }
    }
    for ((_, _, currency, band), sum) in &bands {
        let Some(band) = BANDS.iter().map(|(name, _)| *name).find(|name| name == band) else {
            continue;
        };
        let key = (None, None, None, None, Some(band), *currency);
        dims[6].entry(key).or_default().merge(sum);
    }
    finish(dims, &periods, &agreements, covered, coverage, scope)
}

/// (school, currency) → [before signing, after signing], within the covered days.
type SigningPeriods<'a> = BTreeMap<(&'a str, &'a str), [Sum; 2]>;

/// The report from its seven dimensions' sums and the spend before and after signing within
/// the covered days.
fn finish(
    dims: [BTreeMap<Key<'_>, Sum>; 7],
    periods: &SigningPeriods<'_>,
    agreements: &Agreements<'_>,
    covered: Option<(NaiveDate, NaiveDate)>,
    coverage: Option<&CoverageDoc>,
    scope: &Scope,
) -> RogueSpendReport {
    let period = &scope.period;
    // Every school with spend in the covered days has a row per currency it spent in.
    let signing: Vec<SchoolSigning> = periods
        .iter()
        .map(|((school, currency), [before, after])| {
            let (before_days, after_days) = agreements.days(school, covered);
            SchoolSigning {
                school_id: (*school).to_owned(),
                school_name: scope.names.get(school),
                currency: (*currency).to_owned(),
                signed_on: agreements.signed_on(school),
                withdrawn_on: agreements.withdrawn_on(school),
                before_signing: period_spend(before, before_days),
                after_signing: period_spend(after, after_days),
                reduced: reduced(before, before_days, after, after_days),
            }
        })
        .collect();
    // Pooled over the schools with covered days on both sides, spend or not.
    let pooled: Vec<(&str, (u64, u64))> = agreements
        .0
        .keys()
        .map(|school| (*school, agreements.days(school, covered)))
        .filter(|(_, (before, after))| *before > 0 && *after > 0)
        .collect();
    // The currencies spent in (the totals have one group each).
    let currencies: BTreeSet<&str> = dims[0].keys().map(|key| key.5).collect();
    let trend: Vec<SigningTrend> = if pooled.is_empty() {
        vec![]
    } else {
        currencies
            .into_iter()
            .map(|currency| {
                let (mut before, mut after) = (Sum::default(), Sum::default());
                let (mut before_days, mut after_days) = (0, 0);
                for (school, (b, a)) in &pooled {
                    before_days += b;
                    after_days += a;
                    if let Some([sb, sa]) = periods.get(&(*school, currency)) {
                        before.merge(sb);
                        after.merge(sa);
                    }
                }
                SigningTrend {
                    currency: currency.to_owned(),
                    schools: pooled.len() as u64,
                    before_signing: period_spend(&before, before_days),
                    after_signing: period_spend(&after, after_days),
                    reduced: reduced(&before, before_days, &after, after_days),
                }
            })
            .collect()
    };
    let [
        totals,
        by_school,
        by_month,
        by_school_and_month,
        by_vendor,
        by_school_and_vendor,
        by_amount,
    ] = dims;
    RogueSpendReport {
        report_period: period.clone(),
        covered: covered.map(|(from, to)| Covered {
            statements: coverage.map_or(0, |c| c.statements),
            from,
            to,
            days: u64::try_from((to - from).num_days() + 1).unwrap_or(0),
        }),
        totals: groups(totals, true, &scope.names),
        by_school: groups(by_school, true, &scope.names),
        by_month: groups(by_month, false, &scope.names),
        by_school_and_month: groups(by_school_and_month, false, &scope.names),
        by_vendor: groups(by_vendor, true, &scope.names),
        by_school_and_vendor: groups(by_school_and_vendor, true, &scope.names),
        by_amount: groups(by_amount, true, &scope.names),
        signing,
        trend,
    }
}

const CSV_HEADER: [&str; 17] = [
    "dimension",
    "school_id",
    "school_name",
    "month",
    "period",
    "vendor",
    "amount_band",
    "currency",
    "signed_on",
    "days",
    "unchecked_transactions",
    "unchecked_total",
    "unchecked_per_30_days",
    "advisory_purchases",
    "advisory_total",
    "advisory_per_30_days",
    "reduced",
];

impl Report for RogueSpendReport {
    const NAME: &'static str = "rogue-spend";
    const CSV_EXAMPLE: &'static str = "\
        dimension,school_id,school_name,month,period,vendor,amount_band,currency,signed_on,days,unchecked_transactions,unchecked_total,unchecked_per_30_days,advisory_purchases,advisory_total,advisory_per_30_days,reduced\r\n\
        all,,,,,,,USD,,,3,1900.00,,1,700.00,,\r\n\
        school,roosevelt-high,Roosevelt High,,,,,USD,,,2,1300.00,,1,700.00,,\r\n\
        signing,lincoln-elem,Lincoln Elementary,,before_signing,,,USD,2024-08-20,19,1,600.00,947.37,0,0.00,0.00,\r\n\
        signing,lincoln-elem,Lincoln Elementary,,after_signing,,,USD,2024-08-20,73,0,0.00,0.00,0,0.00,0.00,true\r\n";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&CSV_HEADER);
        let groups = self
            .totals
            .iter()
            .map(|g| ("all", g))
            .chain(self.by_school.iter().map(|g| ("school", g)))
            .chain(self.by_month.iter().map(|g| ("month", g)))
            .chain(self.by_school_and_month.iter().map(|g| ("school_and_month", g)))
            .chain(self.by_vendor.iter().map(|g| ("vendor", g)))
            .chain(self.by_school_and_vendor.iter().map(|g| ("school_and_vendor", g)))
            .chain(self.by_amount.iter().map(|g| ("amount", g)));
        for (dimension, g) in groups {
            csv.row([
                Cell::Text(dimension),
                g.school_id.as_deref().into(),
                g.school_name.as_deref().into(),
                g.month.as_deref().into(),
                g.period.map(Period::as_str).into(),
                g.vendor.as_deref().into(),
                g.amount_band.into(),
                g.currency.as_str().into(),
                Cell::Empty,
                Cell::Empty,
                g.unchecked_transactions.into(),
                g.unchecked_total.as_str().into(),
                Cell::Empty,
                g.advisory_purchases.into(),
                g.advisory_total.as_str().into(),
                Cell::Empty,
                Cell::Empty,
            ]);
        }
        for s in &self.signing {
            let school = Some((s.school_id.as_str(), s.school_name.as_deref()));
            let sides = [&s.before_signing, &s.after_signing];
            comparison_rows(
                &mut csv,
                "signing",
                school,
                &s.currency,
                s.signed_on,
                sides,
                s.reduced,
            );
        }
        for t in &self.trend {
            let sides = [&t.before_signing, &t.after_signing];
            comparison_rows(&mut csv, "trend", None, &t.currency, None, sides, t.reduced);
        }
        csv
    }
}

/// A comparison as CSV: a row for each side (`before_signing`, `after_signing`), whether it
/// fell on the second.
fn comparison_rows(
    csv: &mut Csv,
    dimension: &'static str,
    school: Option<(&str, Option<&str>)>,
    currency: &str,
    signed_on: Option<NaiveDate>,
    sides: [&PeriodSpend; 2],
    reduced: Option<bool>,
) {
    for (period, spend) in [Period::BeforeSigning, Period::AfterSigning].into_iter().zip(sides) {
        let reduced = match (period, reduced) {
            (Period::AfterSigning, Some(r)) => Cell::Text(if r { "true" } else { "false" }),
            _ => Cell::Empty,
        };
        let money = |amount: &Option<String>| amount.clone().map_or(Cell::Empty, Cell::Owned);
        csv.row([
            Cell::Text(dimension),
            school.map(|(id, _)| id).into(),
            school.and_then(|(_, name)| name).into(),
            Cell::Empty,
            Cell::Text(period.as_str()),
            Cell::Empty,
            Cell::Empty,
            Cell::Owned(currency.to_owned()),
            signed_on.map_or(Cell::Empty, |d| Cell::Owned(d.to_string())),
            spend.days.into(),
            spend.unchecked_transactions.into(),
            spend.unchecked_total.as_str().into(),
            money(&spend.unchecked_per_30_days),
            spend.advisory_purchases.into(),
            spend.advisory_total.as_str().into(),
            money(&spend.advisory_per_30_days),
            reduced,
        ]);
    }
}

/// Unchecked technology card spend (technology bought on a purchasing card that no purchase
/// check covers) beside advisory spend (checks the gate answered `advisory`), by school,
/// month, vendor and amount, and before and after each school signed the purchasing agreement.
///
/// A card transaction counts while its status is `unchecked_technology`, on its transaction
/// date; an advisory purchase on the district's date it was asked about (when the gate
/// decided, or when it was requested, for a check sent after the fact). A day is *after
/// signing* for a
/// school while its agreement stood (from `signed_on` until a withdrawal), and *before
/// signing* otherwise. `signing` (per school) and `trend` (pooled over the schools with days
/// on both sides) compare the two periods within the days the imported statements cover
/// (`covered`), as totals and per 30 days; `reduced` says whether unchecked spend per 30 days
/// fell after signing. Per currency; groups by month in month order, the others by their
/// whole total, largest first. `?format=csv` gives one row per group (`dimension` `all`,
/// `school`, `month`, `school_and_month`, `vendor`, `school_and_vendor`, `amount`), then two
/// rows (`before_signing`, `after_signing`) per `signing` and `trend` entry.
#[utoipa::path(tag = "reports", params(ReportParams), responses(ReportResponses<RogueSpendReport>))]
#[get("/v1/reports/rogue-spend")]
pub async fn rogue_spend_report(report: ReportRequest) -> Reply {
    let (service, scope) = (&report.service, &report.scope);
    let names = [CardSpend::NAME, Purchases::NAME, adoption::Schools::NAME, Clocks::NAME];
    service.wait_for(&names).await?;
    let (changes, coverage) = futures::try_join!(
        service.documents::<ChangeDoc>(adoption::CHANGES),
        service.documents::<CoverageDoc>(card_spend::COVERAGE),
    )?;
    // The months whose days fall differently are read by day.
    let (period, split) = (&scope.period, split_months(&changes, coverage.first(), &scope.period));
    let (unchecked, advisory) = futures::try_join!(
        service.rollup_splitting::<DaySpend>(card_spend::UNCHECKED_FIGURES, period, &split),
        service.rollup_splitting::<DaySpend>(ADVISORY_FIGURES, period, &split),
    )?;
    Ok(report.render(&build(&unchecked, &advisory, &changes, coverage.first(), scope)))
}

mod signing;
pub mod spend;
pub use signing::split_months;
use signing::{Agreements, covered, period_spend, reduced};
pub use spend::{CurrencySpend, DaySpend, Spend, Spent};

#[cfg(test)]
mod tests;
