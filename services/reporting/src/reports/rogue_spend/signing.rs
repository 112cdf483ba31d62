//! Before and after signing, as the rogue-spend report tells them apart: on which side of its
//! school's agreement a day falls ([`Agreements`]), the days the card statements cover within a
//! period ([`covered`]), the months whose days do not all fall alike ([`split_months`]), and
//! the rates per 30 days compared.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::super::adoption::{Change, ChangeDoc};
use super::super::card_spend::CoverageDoc;
use super::super::rollup::first_of_month;
use super::super::{ReportPeriod, format_cents};
use super::{Period, PeriodSpend, Sum};

/// Each school's agreement changes, in date order: when it stood.
pub(super) struct Agreements<'a>(pub(super) BTreeMap<&'a str, Vec<(NaiveDate, Change)>>);

impl<'a> Agreements<'a> {
    pub(super) fn new(changes: &'a [ChangeDoc]) -> Self {
        let mut sorted: Vec<&ChangeDoc> = changes.iter().collect();
        sorted.sort_by_key(|c| (c.on, c.sequence));
        let mut by_school: BTreeMap<&str, Vec<(NaiveDate, Change)>> = BTreeMap::new();
        for c in sorted {
            by_school.entry(&c.school_id).or_default().push((c.on, c.change));
        }
        Self(by_school)
    }

    /// The period `day` falls in for `school`: after signing when the last change on or before
    /// it is a signature.
    pub(super) fn period(&self, school: &str, day: NaiveDate) -> Period {
        let last =
            self.0.get(school).and_then(|c| c.iter().take_while(|(on, _)| *on <= day).last());
        match last {
            Some((_, Change::Signed)) => Period::AfterSigning,
            _ => Period::BeforeSigning,
        }
    }

    pub(super) fn signed_on(&self, school: &str) -> Option<NaiveDate> {
        self.0.get(school)?.iter().find(|(_, c)| *c == Change::Signed).map(|(on, _)| *on)
    }

    pub(super) fn withdrawn_on(&self, school: &str) -> Option<NaiveDate> {
        match self.0.get(school)?.last()? {
            (on, Change::Withdrawn) => Some(*on),
            _ => None,
        }
    }

    /// The covered days of each period for `school`: (before, after).
    pub(super) fn days(&self, school: &str, covered: Option<(NaiveDate, NaiveDate)>) -> (u64, u64) {
        let Some((from, to)) = covered else { return (0, 0) };
        let (mut before, mut after) = (0, 0);
        for day in from.iter_days().take_while(|d| *d <= to) {
            match self.period(school, day) {
                Period::BeforeSigning => before += 1,
                Period::AfterSigning => after += 1,
            }
        }
        (before, after)
    }
}

/// `cents × 30 / days`, rounded to the cent; `None` without days.
pub(super) fn per_30_days(cents: i64, days: u64) -> Option<String> {
    let days = i128::from(days);
    (days > 0).then(|| {
        let scaled = i128::from(cents) * 30;
        let rounded = (scaled * 2 + scaled.signum() * days) / (2 * days);
        format_cents(i64::try_from(rounded).unwrap_or(i64::MAX))
    })
}

pub(super) fn period_spend(sum: &Sum, days: u64) -> PeriodSpend {
    PeriodSpend {
        days,
        unchecked_transactions: sum.unchecked,
        unchecked_total: format_cents(sum.unchecked_cents),
        unchecked_per_30_days: per_30_days(sum.unchecked_cents, days),
        advisory_purchases: sum.advisory,
        advisory_total: format_cents(sum.advisory_cents),
        advisory_per_30_days: per_30_days(sum.advisory_cents, days),
    }
}

/// Whether the unchecked spend per day fell: `after / after_days < before / before_days`,
/// compared exactly.
pub(super) fn reduced(
    before: &Sum,
    before_days: u64,
    after: &Sum,
    after_days: u64,
) -> Option<bool> {
    (before_days > 0 && after_days > 0).then(|| {
        i128::from(after.unchecked_cents) * i128::from(before_days)
            < i128::from(before.unchecked_cents) * i128::from(after_days)
    })
}

/// The covered days within `period`: from the statements' earliest to their latest
/// transaction date.
pub(super) fn covered(
    coverage: Option<&CoverageDoc>,
    period: &ReportPeriod,
) -> Option<(NaiveDate, NaiveDate)> {
    coverage
        .and_then(|c| Some((c.first_date?, c.last_date?)))
        .map(|(f, l)| (period.from.map_or(f, |p| p.max(f)), period.to.map_or(l, |p| p.min(l))))
        .filter(|(f, l)| f <= l)
}

/// The months (their first days) whose days do not all fall alike: on one side of signing for
/// every school, and all in or all out of the covered days within `period`. A month in which
/// an agreement changed after its first day, or the covered days start after it or end before
/// its last: the report reads their days rather than the month's sums.
pub fn split_months(
    changes: &[ChangeDoc],
    coverage: Option<&CoverageDoc>,
    period: &ReportPeriod,
) -> BTreeSet<NaiveDate> {
    let changed = changes.iter().map(|c| c.on).filter(|on| *on != first_of_month(*on));
    let covered = covered(coverage, period).into_iter().flat_map(|(from, to)| {
        let ends_within = to.succ_opt().is_some_and(|next| next != first_of_month(next));
        [(from != first_of_month(from)).then_some(from), ends_within.then_some(to)]
    });
    changed.chain(covered.flatten()).map(first_of_month).collect()
}
