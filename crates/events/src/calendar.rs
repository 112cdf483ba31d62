//! District time: the district's business calendar and business-time arithmetic.
//!
//! A [`DistrictCalendar`] is a time zone (an IANA name such as `America/Chicago`, looked up in
//! the time-zone database compiled into the binary, never the machine's), business hours
//! (`start`–`end` in local time on some days of the week) and closures (whole local days:
//! holidays, snow days). Business time is the real time that passes inside the business hours
//! of business days: a day is a *business day* when its weekday is one of the working days and
//! it is not a closure.
//!
//! - [`add_business_minutes`](DistrictCalendar::add_business_minutes): the instant `n` business
//!   minutes after another (a due time);
//! - [`business_time_between`](DistrictCalendar::business_time_between): how much business time
//!   passed between two instants (time elapsed on a clock, time left);
//! - [`today`](DistrictCalendar::today): the district's date at an instant.
//!
//! Each business day's opening and closing are found by converting the local times to instants
//! in the zone *for that date*, so daylight-saving changes are right in both directions: the
//! hours Monday 08:00–17:00 in Chicago are 13:00–22:00 UTC in March and 14:00–23:00 UTC in
//! November (a fixed offset, as in some reports, is off by an hour for half the year). A day
//! whose hours include a change has as much business time as really passes (8:00 on a 23-hour
//! day to 24:00 is 15 hours). A local time that a change skips is read as the time after the gap
//! (02:30 on a spring-forward night is 03:30), one it repeats as its first occurrence.
//!
//! Arithmetic is exact to the microsecond (times are RFC 3339 UTC to the microsecond): adding
//! then measuring gives back what was added, and measuring is additive over adjacent spans.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::values::{ShortText, ValueError, quote, string_schema, string_value};

const MICROS_PER_MINUTE: i64 = 60_000_000;

// ---------------------------------------------------------------------------------------------
// Values

/// An IANA time-zone name that the bundled time-zone database knows (`America/Chicago`,
/// `Europe/Berlin`, `UTC`), stored as given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// Parses a time-zone name, checking that the bundled database has it.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        Self::zone(input).map(|_| Self(input.to_owned()))
    }

    fn zone(name: &str) -> Result<TimeZone, ValueError> {
        if name.is_empty() || name.len() > 64 {
            return Err(ValueError::new(
                "time zone",
                format!(
                    "a time zone must be an IANA name like \"America/Chicago\"; found {}",
                    quote(name)
                ),
            ));
        }
        TimeZone::get(name).map_err(|_| {
            ValueError::new(
                "time zone",
                format!(
                    "{} is not a time zone of the IANA database; use a name like \"America/Chicago\"",
                    quote(name)
                ),
            )
        })
    }

    /// The zone's rules.
    pub fn time_zone(&self) -> TimeZone {
        Self::zone(&self.0).expect("a parsed time-zone name is in the bundled database")
    }
}

string_value!(
    TimeZoneName,
    string_schema(
        "An IANA time-zone name, such as `America/Chicago`.",
        None,
        Some(1),
        Some(64),
        "America/Chicago",
    )
);

/// A local time of day on the minute, `HH:MM` from `00:00` to `24:00` (the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    /// The end of the day, `24:00`.
    pub const END_OF_DAY: Self = Self(24 * 60);

    /// Parses `HH:MM`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let parsed = input.split_once(':').and_then(|(h, m)| {
            let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
            if !digits(h) || !digits(m) {
                return None;
            }
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(Self(h * 60 + m))
        });
        parsed.ok_or_else(|| {
            ValueError::new(
                "time of day",
                format!(
                    "a time of day must be HH:MM from 00:00 to 24:00, like \"08:30\"; found {}",
                    quote(input)
                ),
            )
        })
    }

    /// `hours:minutes`, if valid.
    pub fn hm(hours: u16, minutes: u16) -> Result<Self, ValueError> {
        Self::parse(&format!("{hours:02}:{minutes:02}"))
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl TryFrom<String> for ClockTime {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl FromStr for ClockTime {
    type Err = ValueError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl From<ClockTime> for String {
    fn from(value: ClockTime) -> Self {
        value.to_string()
    }
}

impl std::fmt::Display for ClockTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl utoipa::PartialSchema for ClockTime {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "A local time of day, HH:MM, from 00:00 to 24:00 (the end of the day).",
            Some("^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"),
            Some(5),
            Some(5),
            "08:00",
        )
    }
}

impl utoipa::ToSchema for ClockTime {}

/// A day of the week.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Self; 7] =
        [Self::Mon, Self::Tue, Self::Wed, Self::Thu, Self::Fri, Self::Sat, Self::Sun];

    /// The wire name (`mon`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mon => "mon",
            Self::Tue => "tue",
            Self::Wed => "wed",
            Self::Thu => "thu",
            Self::Fri => "fri",
            Self::Sat => "sat",
            Self::Sun => "sun",
        }
    }

    /// The weekday of a date.
    pub fn of(date: NaiveDate) -> Self {
        Self::ALL[date.weekday().num_days_from_monday() as usize]
    }

    /// Parses a wire name (`mon` … `sun`).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        Self::ALL.into_iter().find(|d| d.as_str() == input).ok_or_else(|| {
            ValueError::new(
                "weekday",
                format!(
                    "a day must be one of mon, tue, wed, thu, fri, sat, sun; found {}",
                    quote(input)
                ),
            )
        })
    }
}

/// When the district works: from `start` to `end` (local times, `start` before `end`) on each
/// of `days` (at least one; stored in week order without repeats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "BusinessHoursData")]
pub struct BusinessHours {
    pub start: ClockTime,
    pub end: ClockTime,
    #[schema(min_items = 1, max_items = 7)]
    pub days: Vec<Weekday>,
}

#[derive(Deserialize)]
struct BusinessHoursData {
    start: ClockTime,
    end: ClockTime,
    days: Vec<Weekday>,
}

impl TryFrom<BusinessHoursData> for BusinessHours {
    type Error = ValueError;
    fn try_from(data: BusinessHoursData) -> Result<Self, ValueError> {
        Self::new(data.start, data.end, data.days)
    }
}

impl BusinessHours {
    /// Hours from `start` to `end` on `days`: `start` must be before `end`, and there must be at
    /// least one day.
    pub fn new(
        start: ClockTime,
        end: ClockTime,
        mut days: Vec<Weekday>,
    ) -> Result<Self, ValueError> {
        if start >= end {
            return Err(ValueError::new(
                "business hours",
                format!("business hours must start before they end; found {start} to {end}"),
            ));
        }
        days.sort_unstable();
        days.dedup();
        if days.is_empty() {
            return Err(ValueError::new(
                "business hours",
                "business hours need at least one working day",
            ));
        }
        Ok(Self { start, end, days })
    }

    /// 09:00 to 17:00, Monday to Friday.
    pub fn office() -> Self {
        let nine_to_five = (ClockTime(9 * 60), ClockTime(17 * 60));
        Self::new(nine_to_five.0, nine_to_five.1, Weekday::ALL[..5].to_vec())
            .expect("09:00-17:00 on weekdays is valid")
    }

    /// Whether `day` is a working day.
    pub fn works_on(&self, day: Weekday) -> bool {
        self.days.contains(&day)
    }
}

// ---------------------------------------------------------------------------------------------
// The calendar

/// The district's business calendar: time zone, business hours and closures. See the module
/// docs for what business time is.
///
/// The default is `UTC`, 09:00–17:00 Monday to Friday, no closures: the calendar until the
/// district sets its own.
#[derive(Debug, Clone)]
pub struct DistrictCalendar {
    time_zone: TimeZoneName,
    zone: TimeZone,
    hours: BusinessHours,
    closures: BTreeMap<NaiveDate, ShortText>,
}

impl Default for DistrictCalendar {
    fn default() -> Self {
        Self::new(TimeZoneName("UTC".into()), BusinessHours::office())
    }
}

impl PartialEq for DistrictCalendar {
    fn eq(&self, other: &Self) -> bool {
        (&self.time_zone, &self.hours, &self.closures)
            == (&other.time_zone, &other.hours, &other.closures)
    }
}

impl Eq for DistrictCalendar {}

impl DistrictCalendar {
    /// A calendar in `time_zone` with `hours` and no closures.
    pub fn new(time_zone: TimeZoneName, hours: BusinessHours) -> Self {
        let zone = time_zone.time_zone();
        Self { time_zone, zone, hours, closures: BTreeMap::new() }
    }

    /// The same calendar in another zone with other hours; the closures stay.
    pub fn set(&mut self, time_zone: TimeZoneName, hours: BusinessHours) {
        let closures = std::mem::take(&mut self.closures);
        *self = Self { closures, ..Self::new(time_zone, hours) };
    }

    /// Closes the district on `date` (replacing the reason of a closure already there).
    pub fn close(&mut self, date: NaiveDate, reason: ShortText) {
        self.closures.insert(date, reason);
    }

    /// Opens the district again on `date`; whether it was closed.
    pub fn reopen(&mut self, date: NaiveDate) -> bool {
        self.closures.remove(&date).is_some()
    }

    /// The calendar with a closure on `date` (for building calendars in tests and examples).
    pub fn with_closure(mut self, date: NaiveDate, reason: &str) -> Self {
        self.close(date, ShortText::parse(reason).expect("a valid reason"));
        self
    }

    pub fn time_zone(&self) -> &TimeZoneName {
        &self.time_zone
    }

    pub fn hours(&self) -> &BusinessHours {
        &self.hours
    }

    /// The closures, by date.
    pub fn closures(&self) -> &BTreeMap<NaiveDate, ShortText> {
        &self.closures
    }

    /// Whether `date` (a local date) is a business day: a working weekday, not closed.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        self.hours.works_on(Weekday::of(date)) && !self.closures.contains_key(&date)
    }

    /// How many business days there are after `from`, up to and including `to`: 0 when `to`
    /// is not after `from`. The days since a contact on `from`, counted on `to`: none on the day
    /// itself, one on the next business day.
    pub fn business_days_after(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        if to <= from {
            return 0;
        }
        let days = (to - from).num_days();
        // Every seven days in a row hold each weekday once.
        let weeks = days / 7;
        let mut count = weeks * self.hours.days.len() as i64;
        let mut day = from + chrono::Days::new(7 * weeks as u64);
        for _ in 0..days % 7 {
            day = day.succ_opt().unwrap_or(day);
            count += i64::from(self.hours.works_on(Weekday::of(day)));
        }
        let closed = self
            .closures
            .range((std::ops::Bound::Excluded(from), std::ops::Bound::Included(to)))
            .filter(|(date, _)| self.hours.works_on(Weekday::of(**date)))
            .count() as i64;
        u32::try_from(count - closed).unwrap_or(u32::MAX)
    }

    /// How many business days there are from `from` to `to`, both counted (0 when `to` is
    /// before `from`): the work days a span of dates holds.
    pub fn business_days_from(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        match from.pred_opt() {
            Some(before) => self.business_days_after(before, to),
            None => {
                u32::from(self.is_business_day(from) && from <= to)
                    + self.business_days_after(from, to)
            }
        }
    }

    /// The `n`-th business day from `from` (`from` itself is the first when it is one; `n` is
    /// at least 1): when work given `n` work days from `from` is due.
    pub fn nth_business_day(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut left = n.max(1);
        let mut day = from;
        loop {
            if self.is_business_day(day) {
                left -= 1;
                if left == 0 {
                    return day;
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => return day,
            }
        }
    }

    /// The district's date at `at`: "today" in its time zone.
    pub fn today(&self, at: DateTime<Utc>) -> NaiveDate {
        to_naive(self.zone.to_datetime(timestamp(at)).date())
    }

    /// The district's local date and time at `at`.
    pub fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        let local = self.zone.to_datetime(timestamp(at));
        let date = to_naive(local.date());
        let time = chrono::NaiveTime::from_hms_micro_opt(
            local.hour() as u32,
            local.minute() as u32,
            local.second() as u32,
            (local.subsec_nanosecond() / 1000) as u32,
        )
        .expect("a civil time is a valid time");
        date.and_time(time)
    }

    /// The instant of the local time `time` on the local `date` (`24:00`: the next day's
    /// midnight; a time a daylight-saving change skips: the time after the gap).
    pub fn instant(&self, date: NaiveDate, time: ClockTime) -> Option<DateTime<Utc>> {
        let date = Date::new(
            i16::try_from(date.year()).ok()?,
            i8::try_from(date.month()).ok()?,
            i8::try_from(date.day()).ok()?,
        )
        .ok()?;
        self.at(date, time).map(instant)
    }

    /// Whether the district is open at `at`: inside the business hours of a business day.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let at = micros(at);
        let date = self.local_date(at);
        self.window(date).is_some_and(|(open, close)| open <= at && at < close)
    }

    /// The instant `minutes` business minutes after `from` (`from` itself for 0).
    pub fn add_business_minutes(&self, from: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
        self.add_business_time(from, TimeDelta::minutes(minutes.into()))
    }

    /// The instant `amount` of business time after `from` (`from` itself when `amount` is zero
    /// or negative). When `from` is outside business hours, business time starts at the next
    /// opening; a result at a closing time is that closing time (not the next opening).
    pub fn add_business_time(&self, from: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
        let Some(amount) = amount.num_microseconds() else {
            return DateTime::<Utc>::MAX_UTC;
        };
        let from = micros(from);
        if amount <= 0 {
            return instant(from);
        }
        let mut remaining = amount;
        let mut date = self.local_date(from);
        loop {
            if let Some((open, close)) = self.window(date)
                && close > from
            {
                let start = open.max(from);
                let available = close - start;
                if remaining <= available {
                    return instant(start + remaining);
                }
                remaining -= available;
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => return DateTime::<Utc>::MAX_UTC,
            }
        }
    }

    /// The business time between `from` and `to`: how much of `[from, to)` lies inside business
    /// hours of business days. Negative when `to` is before `from`.
    pub fn business_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to < from {
            return -self.business_time_between(to, from);
        }
        let (from, to) = (micros(from), micros(to));
        let (mut date, last) = (self.local_date(from), self.local_date(to));
        let mut total = 0;
        loop {
            if let Some((open, close)) = self.window(date) {
                let (start, end) = (open.max(from), close.min(to));
                if end > start {
                    total += end - start;
                }
            }
            if date >= last {
                return TimeDelta::microseconds(total);
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => return TimeDelta::microseconds(total),
            }
        }
    }

    /// The whole business minutes between `from` and `to` (rounded towards minus infinity, so a
    /// clock 30 seconds overdue has -1 minute left).
    pub fn business_minutes_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        whole_minutes(self.business_time_between(from, to))
    }

    /// The local date of the instant `at` (microseconds since the epoch).
    fn local_date(&self, at: i64) -> Date {
        self.zone.to_datetime(ts_micros(at)).date()
    }

    /// The business hours of `date` as instants (microseconds), if it is a business day whose
    /// hours are not swallowed by a daylight-saving change.
    fn window(&self, date: Date) -> Option<(i64, i64)> {
        if !self.is_business_day(to_naive(date)) {
            return None;
        }
        let open = self.at(date, self.hours.start)?;
        let close = self.at(date, self.hours.end)?;
        (close > open).then_some((open, close))
    }

    /// The instant (microseconds) of the local time `time` on `date` (`24:00`: the next day's
    /// midnight).
    fn at(&self, date: Date, time: ClockTime) -> Option<i64> {
        let (date, minutes) = if time == ClockTime::END_OF_DAY {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, time.minutes())
        };
        let hour = i8::try_from(minutes / 60).ok()?;
        let minute = i8::try_from(minutes % 60).ok()?;
        let civil = date.at(hour, minute, 0, 0);
        self.zone.to_timestamp(civil).ok().map(Timestamp::as_microsecond)
    }
}

/// Whole minutes of `delta`, rounded towards minus infinity.
pub fn whole_minutes(delta: TimeDelta) -> i64 {
    delta
        .num_microseconds()
        .map_or_else(|| delta.num_minutes(), |us| us.div_euclid(MICROS_PER_MINUTE))
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn instant(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn ts_micros(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

fn timestamp(at: DateTime<Utc>) -> Timestamp {
    ts_micros(micros(at))
}

fn to_naive(date: Date) -> NaiveDate {
    NaiveDate::from_ymd_opt(date.year().into(), date.month() as u32, date.day() as u32)
        .expect("a civil date is a valid date")
}

#[cfg(test)]
mod tests;
