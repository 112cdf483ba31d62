//! The district as this service needs it: its calendar, whose time zone says what date
//! "today" is and which days are business days. The `district-settings` stream is the gate's
//! to write (`PUT /v1/district`); here it is only folded, with the published
//! [`events::district::District`].
//!
//! Relationships are measured in the district's business days
//! ([`events::calendar::DistrictCalendar`]: `business_days_after`, `business_days_from`,
//! `nth_business_day`): the
//! working weekdays of its business hours that are not closures, as the reminders' leads and
//! the meeting plan's work days count them. A summer or a winter break the district records as
//! closures does not make anyone go cold.

use chrono::{DateTime, NaiveDate, Utc};
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
}
