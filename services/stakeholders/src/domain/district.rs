//! The district as this service needs it: its calendar, whose time zone says what date
//! "today" is and which days are business days. The `district-settings` stream is the gate's
//! to write (`PUT /v1/district`); here it is only folded, with the published
//! [`events::district::District`].
//!
//! Relationships are measured in the district's business days ([`business_days_after`]): the
//! working weekdays of its business hours that are not closures, as the reminders' leads and
//! the meeting plan's work days count them. A summer or a winter break the district records as
//! closures does not make anyone go cold.

use std::ops::Bound;

use chrono::{DateTime, Days, NaiveDate, Utc};
use events::calendar::{DistrictCalendar, Weekday};
use events::district::DistrictEvent;
use kernel::{Aggregate, At, Decision, Versioned};

/// The `district-settings` stream.
pub fn district_stream() -> eventlog::StreamName {
    kernel::stream(events::district::DISTRICT_STREAM)
}

/// The district's settings, folded; this service decides nothing on them.
///
/// Until the district sets its time zone the calendar is UTC's, so "today" is the UTC date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct District(pub events::district::District);

impl District {
    /// The district's date at `now`, in its time zone: what dates are checked against and
    /// what *overdue* is measured from.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.0.calendar.today(now)
    }
}

/// How many business days of `calendar` there are after `from`, up to and including `to`: 0
/// when `to` is not after `from`. The days since a contact on `from`, counted on `to`: none on
/// the day itself, one on the next business day.
pub fn business_days_after(calendar: &DistrictCalendar, from: NaiveDate, to: NaiveDate) -> u32 {
    if to <= from {
        return 0;
    }
    let hours = calendar.hours();
    let days = (to - from).num_days();
    // Every seven days in a row hold each weekday once.
    let weeks = days / 7;
    let mut count = weeks * hours.days.len() as i64;
    let mut day = from + Days::new(7 * weeks as u64);
    for _ in 0..days % 7 {
        day = day.succ_opt().unwrap_or(day);
        count += i64::from(hours.works_on(Weekday::of(day)));
    }
    let closed = calendar
        .closures()
        .range((Bound::Excluded(from), Bound::Included(to)))
        .filter(|(date, _)| hours.works_on(Weekday::of(**date)))
        .count() as i64;
    u32::try_from(count - closed).unwrap_or(u32::MAX)
}

impl Aggregate for District {
    type Event = DistrictEvent;
    /// None: the gate writes the district's settings.
    type Command = std::convert::Infallible;
    type Error = std::convert::Infallible;

    fn handle(&self, command: Self::Command) -> Result<Decision<DistrictEvent>, Self::Error> {
        match command {}
    }

    fn apply(&mut self, event: &DistrictEvent, at: At) {
        self.0.apply(event, at.version, at.recorded_at);
    }
}

impl Versioned for District {
    fn version(&self) -> u64 {
        self.0.version
    }
}

#[cfg(test)]
mod tests {
    use events::calendar::{BusinessHours, TimeZoneName};
    use events::district::DistrictSet;
    use events::values::ShortText;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn today_is_the_utc_date_until_the_district_sets_its_time_zone() {
        // Thursday 2024-09-05, 19:30 in Chicago: already Friday in UTC.
        let evening = t("2024-09-06T00:30:00Z");
        let mut district = District::default();
        assert_eq!(district.today(evening), "2024-09-06".parse::<NaiveDate>().unwrap());
        let set = DistrictSet {
            name: ShortText::parse("Springfield").unwrap(),
            time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
            business_hours: BusinessHours::office(),
            school_year_starts_in: None,
        };
        district.apply(&set.into(), At { version: 1, recorded_at: t("2024-09-01T00:00:00Z") });
        assert_eq!(district.today(evening), "2024-09-05".parse::<NaiveDate>().unwrap());
        assert_eq!(district.version(), 1);
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn business_days_after_a_date_skip_weekends_and_closures() {
        // Friday 2024-09-06; Monday 2024-09-09 a closure.
        let calendar = DistrictCalendar::default().with_closure(d("2024-09-09"), "Teacher day");
        let friday = d("2024-09-06");
        assert_eq!(business_days_after(&calendar, friday, friday), 0);
        assert_eq!(business_days_after(&calendar, friday, d("2024-09-05")), 0);
        assert_eq!(business_days_after(&calendar, friday, d("2024-09-08")), 0, "the weekend");
        assert_eq!(business_days_after(&calendar, friday, d("2024-09-09")), 0, "closed");
        assert_eq!(business_days_after(&calendar, friday, d("2024-09-10")), 1);
        assert_eq!(business_days_after(&calendar, friday, d("2024-09-20")), 9);
        // From a Saturday: Monday is the first.
        assert_eq!(
            business_days_after(&DistrictCalendar::default(), d("2024-09-07"), d("2024-09-09")),
            1
        );
        // A closure on a Sunday changes nothing.
        let sunday = DistrictCalendar::default().with_closure(d("2024-09-08"), "Sunday");
        assert_eq!(business_days_after(&sunday, friday, d("2024-09-20")), 10);
    }

    proptest::proptest! {
        /// The count equals walking the days one by one, for any working week and closures.
        #[test]
        fn business_days_after_counts_as_walking_the_days(
            start in 0u32..3000,
            span in 0u32..800,
            working in proptest::sample::subsequence(Weekday::ALL.to_vec(), 1..=7),
            closures in proptest::collection::vec(0u32..900, 0..40),
        ) {
            use events::calendar::{BusinessHours, ClockTime, TimeZoneName};
            let base = d("2020-01-01");
            let from = base + Days::new(u64::from(start));
            let to = from + Days::new(u64::from(span));
            let hours = BusinessHours::new(ClockTime::hm(8, 0).unwrap(), ClockTime::hm(16, 0).unwrap(), working).unwrap();
            let mut calendar = DistrictCalendar::new(TimeZoneName::parse("America/Chicago").unwrap(), hours);
            for c in closures {
                calendar = calendar.with_closure(from + Days::new(u64::from(c)), "closed");
            }
            let walked = from.iter_days().skip(1).take_while(|day| *day <= to).filter(|day| calendar.is_business_day(*day)).count() as u32;
            proptest::prop_assert_eq!(business_days_after(&calendar, from, to), walked);
        }
    }
}
