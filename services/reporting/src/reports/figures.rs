//! Figures shared by the reports: money sums, shares, months, percentiles and business hours.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::SchoolNames;

/// Sums of [`events::values::Money`] can pass its maximum, so the reports keep them as cents
/// and write them as `Money` is written.
pub use events::values::format_cents;

/// `part / whole` rounded to four decimals; `None` when `whole` is 0.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// `part / whole` of two amounts, rounded to four decimals; `None` when `whole` is 0.
pub fn share_cents(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// The calendar month of a time, UTC: `2024-09`.
pub fn month_of(at: DateTime<Utc>) -> String {
    month_of_day(at.date_naive())
}

/// The calendar month of a day: `2024-09`.
pub fn month_of_day(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// The months from `first` to `last` (both `YYYY-MM`, inclusive), in order.
pub fn months_between(first: &str, last: &str) -> Vec<String> {
    let parse = |m: &str| -> Option<(i32, u32)> {
        let (y, mo) = m.split_once('-')?;
        Some((y.parse().ok()?, mo.parse().ok()?))
    };
    let (Some((mut y, mut m)), Some(end)) = (parse(first), parse(last)) else {
        return vec![];
    };
    let mut out = Vec::new();
    while (y, m) <= end {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// The last day of a month `YYYY-MM`.
pub fn last_day_of(month: &str) -> Option<NaiveDate> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next?.pred_opt()
}

/// The `p`th percentile (0 < p ≤ 100) of sorted values by the nearest-rank method: the
/// smallest value such that at least `p`% of the values are at or below it. `None` for no
/// values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).unwrap_or(usize::MAX)).copied()
}

/// The distribution of a duration in business time over a group: how many were measured, and
/// the median, 90th percentile (nearest rank) and maximum, in business hours to two decimals
/// (`null` when none were measured).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Stats {
    /// How many durations were measured.
    pub count: u64,
    /// The median (nearest rank), in business hours.
    pub p50_business_hours: Option<f64>,
    /// The 90th percentile (nearest rank), in business hours.
    pub p90_business_hours: Option<f64>,
    /// The longest, in business hours.
    pub max_business_hours: Option<f64>,
}

impl Stats {
    /// The statistics of `durations` of business time (in any order).
    pub fn of(durations: Vec<TimeDelta>) -> Self {
        let mut micros: Vec<i64> =
            durations.iter().map(|d| d.num_microseconds().unwrap_or(i64::MAX)).collect();
        micros.sort_unstable();
        Self {
            count: micros.len() as u64,
            p50_business_hours: percentile(&micros, 50).map(hours),
            p90_business_hours: percentile(&micros, 90).map(hours),
            max_business_hours: micros.last().copied().map(hours),
        }
    }
}

/// Microseconds as hours, to two decimals.
fn hours(micros: i64) -> f64 {
    (micros as f64 / 36_000_000.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares() {
        assert_eq!(share(2, 3), Some(0.6667));
        assert_eq!(share(0, 0), None);
        assert_eq!(share(3, 3), Some(1.0));
        assert_eq!(share_cents(1, 8), Some(0.125));
    }

    #[test]
    fn months() {
        assert_eq!(month_of("2024-09-30T23:59:59Z".parse().unwrap()), "2024-09");
        assert_eq!(
            months_between("2024-11", "2025-02"),
            ["2024-11", "2024-12", "2025-01", "2025-02"]
        );
        assert_eq!(months_between("2025-02", "2025-01"), Vec::<String>::new());
        assert_eq!(last_day_of("2024-02"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(last_day_of("2024-12"), NaiveDate::from_ymd_opt(2024, 12, 31));
    }

    #[test]
    fn nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 100), Some(10));
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[1, 2], 50), Some(1));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
        assert_eq!(percentile(&[], 50), None);
        let stats = Stats::of([90, 30, 61].map(TimeDelta::minutes).to_vec());
        assert_eq!(
            stats,
            Stats {
                count: 3,
                p50_business_hours: Some(1.02),
                p90_business_hours: Some(1.5),
                max_business_hours: Some(1.5)
            }
        );
        assert_eq!(Stats::of(vec![]), Stats::default());
    }
}

/// Figures over every item, by school and by month (`2024-09`), accumulated in `A`.
#[derive(Debug, Default)]
pub struct Grouped<A> {
    all: A,
    by_school: BTreeMap<String, A>,
    by_month: BTreeMap<String, A>,
}

/// One group's figures: its key (`all`, a school id, a month) and the school's name.
pub type Finish<'a, A, G> = &'a dyn Fn(A, String, Option<String>) -> G;

impl<A: Default> Grouped<A> {
    /// Adds an item of `school` in `month` to all three groupings.
    pub fn add(&mut self, school: &str, month: String, add: impl Fn(&mut A)) {
        add(&mut self.all);
        add(self.by_school.entry(school.to_owned()).or_default());
        add(self.by_month.entry(month).or_default());
    }

    /// (all, by school in id order, by month in order), each finished by `finish` with its key
    /// and, for a school, its name.
    pub fn finish<G>(self, names: &SchoolNames, finish: Finish<'_, A, G>) -> (G, Vec<G>, Vec<G>) {
        let all = finish(self.all, "all".to_owned(), None);
        let by_school = self
            .by_school
            .into_iter()
            .map(|(k, a)| {
                let name = names.get(&k);
                finish(a, k, name)
            })
            .collect();
        let by_month = self.by_month.into_iter().map(|(k, a)| finish(a, k, None)).collect();
        (all, by_school, by_month)
    }
}
