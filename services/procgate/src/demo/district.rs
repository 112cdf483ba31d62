//! The demo's district time: the calendar (Chicago, 08:00 to 16:30 on weekdays, the holidays
//! of this school year and the last), the targets of the clocks on flagged purchases, and the
//! lead of the reminders. Everything is a `PUT` of what is already there on a second run:
//! nothing new.

use chrono::{Datelike, NaiveDate, Weekday};
use events::calendar::{BusinessHours, ClockTime, DistrictCalendar, TimeZoneName, Weekday as Day};
use reqwest::Method;
use serde_json::json;

use super::Demo;

impl Demo {
    /// Sets the district's time; returns its date today (the date the services check dates
    /// against: Chicago's, not UTC's) and its calendar, with which the demo dates what happened
    /// in the school year behind it.
    pub(super) async fn district_time(&self) -> anyhow::Result<(NaiveDate, DistrictCalendar)> {
        let district = json!({
            "name": "Springfield Public Schools", "time_zone": "America/Chicago",
            "business_hours": {"start": "08:00", "end": "16:30",
                               "days": ["mon", "tue", "wed", "thu", "fri"]},
        });
        let url = format!("{}/v1/district", self.gate);
        let set = self.call(Method::PUT, url, &self.admin, Some(district)).await?;
        let today: NaiveDate = set["today"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("the district's answer has no date today: {set}"))?;
        // This school year's holidays and the last one's: the demo's purchases go back a year.
        let mut closures = holidays(today - chrono::TimeDelta::days(365));
        closures.extend(holidays(today));
        for (date, reason) in &closures {
            let path = format!("/v1/district/closures/{date}");
            self.it(Method::PUT, &self.gate, &path, Some(json!({"reason": reason}))).await?;
        }
        // A first call within half a business day (an hour for a card purchase at the till), a
        // decision within two business days; warnings at half and three quarters of the way.
        let targets = json!({
            "first_contact_minutes": TARGETS.first_contact, "decision_minutes": TARGETS.decision,
            "advisory_outreach_minutes": TARGETS.outreach, "warn_at_percent": [50, 75],
            "escalate_to": "it-director@district.org",
            "by_payment_method": {"p_card": {"first_contact_minutes": CARD_TARGETS.first_contact,
                                             "decision_minutes": CARD_TARGETS.decision}},
        });
        self.it(Method::PUT, &self.gate, "/v1/sla", Some(targets)).await?;
        let reminders = json!({"due_soon_business_days": 3});
        self.it(Method::PUT, &self.stakeholders, "/v1/reminder-settings", Some(reminders)).await?;
        println!(
            "  district time: America/Chicago, 08:00-16:30 Monday to Friday, {} holidays; a first \
             call within 4 business hours (1 for card purchases), a decision within 2 business \
             days; reminders 3 business days ahead",
            closures.len()
        );
        Ok((today, calendar(closures)?))
    }
}

/// The demo's calendar (Chicago, 08:00 to 16:30 on weekdays), closed on `closures`.
fn calendar(
    closures: impl IntoIterator<Item = (NaiveDate, &'static str)>,
) -> anyhow::Result<DistrictCalendar> {
    let hours = BusinessHours::new(
        ClockTime::parse("08:00")?,
        ClockTime::parse("16:30")?,
        Day::ALL[..5].to_vec(),
    )?;
    let chicago = DistrictCalendar::new(TimeZoneName::parse("America/Chicago")?, hours);
    Ok(closures.into_iter().fold(chicago, |c, (date, reason)| c.with_closure(date, reason)))
}

/// The targets of a purchase's clocks, in business minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Targets {
    pub first_contact: u32,
    pub decision: u32,
    pub outreach: u32,
}

/// The district's targets for purchase orders (and anything but cards)...
pub(super) const TARGETS: Targets = Targets { first_contact: 240, decision: 960, outreach: 960 };
/// ... and for card purchases at the till.
pub(super) const CARD_TARGETS: Targets =
    Targets { first_contact: 60, decision: 240, outreach: TARGETS.outreach };

/// The holidays of the school year `today` is in (from August): Labor Day, Thanksgiving and
/// the day after, Martin Luther King Jr. Day, Presidents' Day and Memorial Day.
fn holidays(today: NaiveDate) -> Vec<(NaiveDate, &'static str)> {
    let fall = if today.month() >= 8 { today.year() } else { today.year() - 1 };
    let spring = fall + 1;
    let mut days = Vec::new();
    let mut add = |date: Option<NaiveDate>, reason| days.extend(date.map(|d| (d, reason)));
    add(NaiveDate::from_weekday_of_month_opt(fall, 9, Weekday::Mon, 1), "Labor Day");
    let thanksgiving = NaiveDate::from_weekday_of_month_opt(fall, 11, Weekday::Thu, 4);
    add(thanksgiving, "Thanksgiving");
    add(thanksgiving.and_then(|d| d.succ_opt()), "Thanksgiving break");
    add(
        NaiveDate::from_weekday_of_month_opt(spring, 1, Weekday::Mon, 3),
        "Martin Luther King Jr. Day",
    );
    add(NaiveDate::from_weekday_of_month_opt(spring, 2, Weekday::Mon, 3), "Presidents' Day");
    let last_monday_of_may = (1..=5)
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(spring, 5, Weekday::Mon, n));
    add(last_monday_of_may, "Memorial Day");
    days
}

/// The demo's calendar (Chicago, 08:00 to 16:30 on weekdays) with the holidays of the school
/// year around `day`: what its date arithmetic is tested against.
#[cfg(test)]
pub(super) fn calendar_around(day: NaiveDate) -> DistrictCalendar {
    calendar(holidays(day)).unwrap()
}

/// The demo's calendar in the school year 2025-26, which its date tests use.
#[cfg(test)]
pub(super) fn chicago_2025_26() -> DistrictCalendar {
    calendar_around(test_day("2025-10-01"))
}

/// A date in a test.
#[cfg(test)]
pub(super) fn test_day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_holidays_of_the_school_year() {
        let expected = vec![
            (day("2024-09-02"), "Labor Day"),
            (day("2024-11-28"), "Thanksgiving"),
            (day("2024-11-29"), "Thanksgiving break"),
            (day("2025-01-20"), "Martin Luther King Jr. Day"),
            (day("2025-02-17"), "Presidents' Day"),
            (day("2025-05-26"), "Memorial Day"),
        ];
        assert_eq!(holidays(day("2024-10-15")), expected);
        assert_eq!(holidays(day("2025-03-01")), expected);
    }
}
