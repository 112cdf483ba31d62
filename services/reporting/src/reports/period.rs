//! The period a report covers, and the names beside the ids it shows.
//!
//! Every report takes `?from=` and `?to=` (the district's dates, both included, either may be
//! left open) or `?school_year=` (`2025-26`, or the year it starts in; July to June unless the
//! district starts its school year in another month, `GET /v1/district`). Without them a report
//! covers all time. Each report counts what *happened* in the period, by the district's date of
//! one moment per item, named in its own documentation (a purchase by when it was flagged, a
//! promise by the day it was made, a card transaction by its date, …), and says which period it
//! covered in `period`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use events::calendar::DistrictCalendar;
use events::district::District;
use events::school_year::SchoolYear;
use serde::Serialize;
use utoipa::ToSchema;
use web::ApiError;

use super::ReportParams;
use super::adoption::SchoolDoc;
use crate::query::invalid_query;

/// The days a report covers: from `from` to `to`, both included; an open end is unbounded
/// (the default, both ends open, is all time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub struct ReportPeriod {
    /// The first day counted; `null`: from the start of the log.
    pub from: Option<NaiveDate>,
    /// The last day counted; `null`: up to now.
    pub to: Option<NaiveDate>,
    /// The school year asked for, by name (`2025-26`); `null` when a range or all time was.
    #[schema(example = "2025-26")]
    pub school_year: Option<String>,
}

impl ReportPeriod {
    /// From `from` to `to`, both included.
    pub fn between(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Self {
        Self { from, to, school_year: None }
    }

    /// The period the query asks for, in the district's school years; a 400 `invalid-query`
    /// problem when it asks for a school year and a range at once, for a school year that is
    /// not one, or for a range that ends before it starts.
    pub fn of(params: &ReportParams, district: &District) -> Result<Self, ApiError> {
        match (&params.school_year, params.from, params.to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(invalid_query(
                "Ask for a school year or for a range of dates (from, to), not both.",
            )),
            (Some(name), None, None) => {
                let year = SchoolYear::parse(name, district.school_year_starts_in)
                    .map_err(|e| invalid_query(format!("school_year: {}.", e.message())))?;
                Ok(Self::school_year(year))
            }
            (None, Some(from), Some(to)) if from > to => {
                Err(invalid_query(format!("The range ends ({to}) before it starts ({from}).")))
            }
            (None, from, to) => Ok(Self::between(from, to)),
        }
    }

    /// One school year.
    pub fn school_year(year: SchoolYear) -> Self {
        Self {
            from: Some(year.first_day()),
            to: Some(year.last_day()),
            school_year: Some(year.name()),
        }
    }

    /// Whether the period covers all time.
    pub fn is_all(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether `day` is in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|from| from <= day) && self.to.is_none_or(|to| day <= to)
    }

    /// Whether the district's date at `at` is in the period.
    pub fn contains_at(&self, at: DateTime<Utc>, calendar: &DistrictCalendar) -> bool {
        self.is_all() || self.contains(calendar.today(at))
    }

    /// The last day the period covers up to `today`: its end, or today when it is open or
    /// ends later.
    pub fn last_day(&self, today: NaiveDate) -> NaiveDate {
        self.to.map_or(today, |to| to.min(today))
    }
}

/// What a report is asked for beyond its documents: the period, the district's calendar (whose
/// dates the period counts in) and the schools' names.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub period: ReportPeriod,
    pub calendar: DistrictCalendar,
    pub names: SchoolNames,
}

impl Scope {
    /// All time, in UTC's calendar, without names.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether the district's date at `at` is in the period.
    pub fn contains_at(&self, at: DateTime<Utc>) -> bool {
        self.period.contains_at(at, &self.calendar)
    }

    /// Whether `day` is in the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.period.contains(day)
    }
}

/// Schools' names by id, as the adoption projection keeps them (`reporting.schools`): what a
/// report shows beside each school id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchoolNames(BTreeMap<String, String>);

impl SchoolNames {
    pub fn of(schools: &[SchoolDoc]) -> Self {
        Self(schools.iter().filter_map(|s| Some((s.school_id.clone(), s.name.clone()?))).collect())
    }

    /// The school's name, if it was registered with one.
    pub fn get(&self, school_id: &str) -> Option<String> {
        self.0.get(school_id).cloned()
    }

    /// The name of an optional school.
    pub fn of_some(&self, school_id: Option<&str>) -> Option<String> {
        school_id.and_then(|id| self.get(id))
    }
}

impl<const N: usize> From<[(&str, &str); N]> for SchoolNames {
    fn from(names: [(&str, &str); N]) -> Self {
        Self(names.iter().map(|(id, name)| ((*id).to_owned(), (*name).to_owned())).collect())
    }
}

#[cfg(test)]
mod tests {
    use events::district::DistrictEvent;
    use events::school_year::StartMonth;

    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn params(from: Option<&str>, to: Option<&str>, year: Option<&str>) -> ReportParams {
        ReportParams {
            from: from.map(day),
            to: to.map(day),
            school_year: year.map(str::to_owned),
            ..ReportParams::default()
        }
    }

    fn district(start: Option<u32>) -> District {
        let mut district = District::default();
        if let Some(month) = start {
            let set = events::district::DistrictSet {
                name: events::values::ShortText::parse("Springfield").unwrap(),
                time_zone: events::calendar::TimeZoneName::parse("UTC").unwrap(),
                business_hours: events::calendar::BusinessHours::office(),
                school_year_starts_in: Some(StartMonth::new(month).unwrap()),
            };
            district.apply(&DistrictEvent::DistrictSet(set), 1, Utc::now());
        }
        district
    }

    #[test]
    fn a_school_year_is_july_to_june_unless_the_district_says_otherwise() {
        let period =
            ReportPeriod::of(&params(None, None, Some("2025-26")), &district(None)).unwrap();
        assert_eq!(period.from, Some(day("2025-07-01")));
        assert_eq!(period.to, Some(day("2026-06-30")));
        assert_eq!(period.school_year.as_deref(), Some("2025-26"));
        let period =
            ReportPeriod::of(&params(None, None, Some("2025")), &district(Some(8))).unwrap();
        assert_eq!((period.from, period.to), (Some(day("2025-08-01")), Some(day("2026-07-31"))));
    }

    #[test]
    fn ranges_include_both_ends_and_may_be_open() {
        let period =
            ReportPeriod::of(&params(Some("2025-09-01"), None, None), &district(None)).unwrap();
        assert!(!period.contains(day("2025-08-31")));
        assert!(period.contains(day("2025-09-01")) && period.contains(day("2040-01-01")));
        let period = ReportPeriod::of(
            &params(Some("2025-09-01"), Some("2025-09-30"), None),
            &district(None),
        )
        .unwrap();
        assert!(period.contains(day("2025-09-30")) && !period.contains(day("2025-10-01")));
        assert_eq!(period.last_day(day("2025-09-15")), day("2025-09-15"));
        assert_eq!(period.last_day(day("2026-01-01")), day("2025-09-30"));
        assert!(ReportPeriod::default().contains(day("1990-01-01")));
    }

    #[test]
    fn contradictions_are_refused() {
        let both = params(Some("2025-09-01"), None, Some("2025-26"));
        assert_eq!(ReportPeriod::of(&both, &district(None)).unwrap_err().status().as_u16(), 400);
        let backwards = params(Some("2025-09-02"), Some("2025-09-01"), None);
        assert_eq!(
            ReportPeriod::of(&backwards, &district(None)).unwrap_err().status().as_u16(),
            400
        );
        let not_a_year = params(None, None, Some("2025-27"));
        assert_eq!(
            ReportPeriod::of(&not_a_year, &district(None)).unwrap_err().status().as_u16(),
            400
        );
    }

    #[test]
    fn names_beside_ids() {
        let schools = [
            SchoolDoc { school_id: "a".into(), name: Some("Adams".into()), ..SchoolDoc::default() },
            SchoolDoc { school_id: "b".into(), name: None, ..SchoolDoc::default() },
        ];
        let names = SchoolNames::of(&schools);
        assert_eq!(names.get("a").as_deref(), Some("Adams"));
        assert_eq!(names.get("b"), None);
        assert_eq!(names.of_some(None), None);
    }
}
