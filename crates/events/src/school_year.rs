//! The school year: July to June unless the district starts it in another month
//! (`school_year_starts_in` of `district-set`, kept by [`crate::district::District`]).
//!
//! A school year is named by the calendar years it spans, `2025-26` (July 2025 to June 2026), or
//! by one year when it starts in January (`2026`). Reports take `?school_year=2025-26` (or the
//! year it starts in, `2025`) and count what happened on the district's dates inside it.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::values::{ValueError, int_value};

/// The month a school year starts in: 1 (January) to 12 (December); July (7) by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct StartMonth(u32);

impl StartMonth {
    /// July: the school and fiscal year of most districts.
    pub const JULY: Self = Self(7);

    pub fn new(month: u32) -> Result<Self, ValueError> {
        if (1..=12).contains(&month) {
            Ok(Self(month))
        } else {
            Err(ValueError::new(
                "month",
                format!(
                    "a month is a whole number from 1 (January) to 12 (December); found {month}"
                ),
            ))
        }
    }
}

impl Default for StartMonth {
    fn default() -> Self {
        Self::JULY
    }
}

int_value!(
    StartMonth(u32),
    1,
    12,
    "The month the school year starts in: 1 (January) to 12 (December).",
    7
);

/// One school year: from the first day of its start month to the day before the next one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchoolYear {
    first_day: NaiveDate,
}

impl SchoolYear {
    /// The school year that starts in `year`.
    pub fn starting(year: i32, start: StartMonth) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, start.get(), 1).map(|first_day| Self { first_day })
    }

    /// The school year `day` falls in.
    pub fn containing(day: NaiveDate, start: StartMonth) -> Self {
        let year = if day.month() >= start.get() { day.year() } else { day.year() - 1 };
        // The first of a month of a year next to a valid date's is a valid date.
        Self::starting(year, start).unwrap_or(Self { first_day: day })
    }

    /// A school year by its name, `2025-26` (or `2025-2026`), or by the year it starts in,
    /// `2025`.
    pub fn parse(name: &str, start: StartMonth) -> Result<Self, ValueError> {
        let invalid = || {
            ValueError::new(
                "school year",
                format!(
                    "a school year is named by the years it spans, as 2025-26, or by the year it starts in, as 2025; found {:?}",
                    name
                ),
            )
        };
        let (first, second) = match name.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (name, None),
        };
        let year: i32 = first
            .parse()
            .ok()
            .filter(|y| (1900..=9998).contains(y) && first.len() == 4)
            .ok_or_else(invalid)?;
        if let Some(second) = second {
            let next = year + 1;
            let ok = match second.len() {
                2 => second == format!("{:02}", next % 100),
                4 => second == next.to_string(),
                _ => false,
            };
            if !ok || start.get() == 1 {
                return Err(invalid());
            }
        }
        Self::starting(year, start).ok_or_else(invalid)
    }

    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    pub fn last_day(self) -> NaiveDate {
        let next = self.first_day.with_year(self.first_day.year() + 1).unwrap_or(self.first_day);
        next.pred_opt().unwrap_or(next)
    }

    /// `2025-26`, or `2026` for a year that starts in January.
    pub fn name(self) -> String {
        let year = self.first_day.year();
        if self.first_day.month() == 1 {
            year.to_string()
        } else {
            format!("{year}-{:02}", (year + 1) % 100)
        }
    }

    pub fn contains(self, day: NaiveDate) -> bool {
        self.first_day <= day && day <= self.last_day()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn july_to_june_by_default() {
        let year = SchoolYear::containing(day("2026-03-15"), StartMonth::default());
        assert_eq!((year.first_day(), year.last_day()), (day("2025-07-01"), day("2026-06-30")));
        assert_eq!(year.name(), "2025-26");
        assert!(year.contains(day("2025-07-01")) && year.contains(day("2026-06-30")));
        assert!(!year.contains(day("2026-07-01")) && !year.contains(day("2025-06-30")));
        let next = SchoolYear::containing(day("2026-07-01"), StartMonth::default());
        assert_eq!(next.name(), "2026-27");
    }

    #[test]
    fn a_district_may_start_it_in_another_month() {
        let august = StartMonth::new(8).unwrap();
        let year = SchoolYear::containing(day("2026-07-31"), august);
        assert_eq!((year.first_day(), year.last_day()), (day("2025-08-01"), day("2026-07-31")));
        let january = StartMonth::new(1).unwrap();
        let year = SchoolYear::containing(day("2026-07-31"), january);
        assert_eq!((year.first_day(), year.last_day()), (day("2026-01-01"), day("2026-12-31")));
        assert_eq!(year.name(), "2026");
        // A year spanning a leap day ends the day before the next one starts.
        let march = StartMonth::new(3).unwrap();
        let year = SchoolYear::containing(day("2024-02-29"), march);
        assert_eq!(year.last_day(), day("2024-02-29"));
    }

    #[test]
    fn names_parse_back() {
        let july = StartMonth::default();
        for name in ["2025-26", "2025-2026", "2025"] {
            let year = SchoolYear::parse(name, july).unwrap();
            assert_eq!(year.name(), "2025-26", "{name}");
        }
        assert_eq!(SchoolYear::parse("1999-00", july).unwrap().name(), "1999-00");
        for bad in ["2025-27", "25-26", "2025-", "twenty", "2025-2027", ""] {
            assert!(SchoolYear::parse(bad, july).is_err(), "{bad}");
        }
        let january = StartMonth::new(1).unwrap();
        assert_eq!(SchoolYear::parse("2026", january).unwrap().name(), "2026");
        assert!(SchoolYear::parse("2025-26", january).is_err());
    }

    #[test]
    fn months_out_of_range_are_refused() {
        assert!(StartMonth::new(0).is_err());
        assert!(StartMonth::new(13).is_err());
        assert!(serde_json::from_str::<StartMonth>("13").is_err());
        assert_eq!(serde_json::from_str::<StartMonth>("9").unwrap().get(), 9);
    }
}
