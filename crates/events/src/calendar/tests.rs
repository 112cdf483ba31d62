use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn hours(start: &str, end: &str, days: &[Weekday]) -> BusinessHours {
    BusinessHours::new(
        ClockTime::parse(start).unwrap(),
        ClockTime::parse(end).unwrap(),
        days.to_vec(),
    )
    .unwrap()
}

const WEEKDAYS: &[Weekday] =
    &[Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];

/// Chicago, 08:00 to 17:00, Monday to Friday.
fn chicago() -> DistrictCalendar {
    in_zone("America/Chicago", hours("08:00", "17:00", WEEKDAYS))
}

fn in_zone(zone: &str, hours: BusinessHours) -> DistrictCalendar {
    DistrictCalendar::new(TimeZoneName::parse(zone).unwrap(), hours)
}

/// `(from, business minutes, expected due)`, checked both ways: adding, and measuring back.
#[track_caller]
fn due(calendar: &DistrictCalendar, from: &str, minutes: u32, expected: &str) {
    let (from, expected) = (t(from), t(expected));
    assert_eq!(calendar.add_business_minutes(from, minutes), expected, "{from} + {minutes} min");
    assert_eq!(calendar.business_minutes_between(from, expected), i64::from(minutes));
}

#[test]
fn a_friday_afternoon_flag_in_chicago_is_due_monday_at_the_right_minute() {
    // Friday 6 September 2024, 15:30 CDT: 90 minutes left on Friday, 30 more on Monday.
    due(&chicago(), "2024-09-06T20:30:00Z", 120, "2024-09-09T13:30:00Z");
    // Not 08:30 UTC, or 08:30 on Saturday.
    assert_eq!(chicago().local(t("2024-09-09T13:30:00Z")).to_string(), "2024-09-09 08:30:00");
}

#[test]
fn spring_forward_weekend_moves_the_opening_in_utc() {
    // Friday 8 March 2024, 16:00 CST (UTC-6); clocks go forward on Sunday 10 March, so
    // Monday opens at 08:00 CDT (UTC-5), 13:00 UTC, not 14:00 UTC.
    due(&chicago(), "2024-03-08T22:00:00Z", 120, "2024-03-11T14:00:00Z");
    assert_eq!(chicago().local(t("2024-03-11T14:00:00Z")).to_string(), "2024-03-11 09:00:00");
}

#[test]
fn fall_back_weekend_moves_the_opening_in_utc() {
    // Friday 1 November 2024, 16:00 CDT (UTC-5); clocks go back on Sunday 3 November, so
    // Monday opens at 08:00 CST (UTC-6), 14:00 UTC.
    due(&chicago(), "2024-11-01T21:00:00Z", 120, "2024-11-04T15:00:00Z");
    assert_eq!(chicago().local(t("2024-11-04T15:00:00Z")).to_string(), "2024-11-04 09:00:00");
}

#[test]
fn a_day_with_a_change_inside_its_hours_has_the_time_that_really_passes() {
    let always = in_zone("America/Chicago", hours("00:00", "24:00", &Weekday::ALL));
    // The spring-forward Sunday has 23 hours, the fall-back Sunday 25.
    let hours_of = |from: &str, to: &str| always.business_time_between(t(from), t(to)).num_hours();
    assert_eq!(hours_of("2024-03-10T06:00:00Z", "2024-03-11T05:00:00Z"), 23);
    assert_eq!(hours_of("2024-11-03T05:00:00Z", "2024-11-04T06:00:00Z"), 25);
    // Business time is real time here: a day of business minutes after Saturday noon is
    // Sunday 13:00 CDT, 24 real hours later.
    due(&always, "2024-03-09T18:00:00Z", 24 * 60, "2024-03-10T18:00:00Z");
    // 08:00 to 17:00 on those Sundays is still nine hours.
    let days = in_zone("America/Chicago", hours("08:00", "17:00", &Weekday::ALL));
    let nine = |from: &str, to: &str| days.business_time_between(t(from), t(to)).num_hours();
    assert_eq!(nine("2024-03-10T00:00:00Z", "2024-03-11T00:00:00Z"), 9);
    assert_eq!(nine("2024-11-03T00:00:00Z", "2024-11-04T00:00:00Z"), 9);
    // Hours starting in the skipped hour start after it: 02:30 is read as 03:30 CDT.
    let night = in_zone("America/Chicago", hours("02:30", "04:00", &[Weekday::Sun]));
    assert_eq!(
        night.business_time_between(t("2024-03-10T00:00:00Z"), t("2024-03-11T00:00:00Z")),
        TimeDelta::minutes(30)
    );
}

#[test]
fn a_closure_is_skipped() {
    let labor_day = chicago().with_closure(day("2024-09-02"), "Labor Day");
    // Friday 30 August, 16:00 CDT: one hour on Friday, the rest on Tuesday.
    due(&labor_day, "2024-08-30T21:00:00Z", 120, "2024-09-03T14:00:00Z");
    assert!(!labor_day.is_business_day(day("2024-09-02")));
    assert!(labor_day.is_business_day(day("2024-09-03")));
    assert!(!labor_day.is_business_day(day("2024-09-07")), "a Saturday");
}

#[test]
fn a_retroactive_closure_for_today_gives_back_the_time_already_counted() {
    // Flagged Tuesday 10 September 2024 at 09:00 CDT; it is 11:00 CDT.
    let (flagged, now) = (t("2024-09-10T14:00:00Z"), t("2024-09-10T16:00:00Z"));
    let open = chicago();
    assert_eq!(open.business_minutes_between(flagged, now), 120);
    assert_eq!(open.add_business_minutes(flagged, 240), t("2024-09-10T18:00:00Z"));
    // At 11:00 the district closes for snow, for the whole of today.
    let snow = open.with_closure(day("2024-09-10"), "Snow day");
    assert_eq!(snow.business_minutes_between(flagged, now), 0);
    assert_eq!(snow.add_business_minutes(flagged, 240), t("2024-09-11T17:00:00Z"));
}

#[test]
fn outside_hours_the_clock_starts_at_the_next_opening_and_a_due_time_may_be_a_closing() {
    let c = chicago();
    // Saturday: Monday 08:00 + 1 minute.
    due(&c, "2024-09-07T15:00:00Z", 1, "2024-09-09T13:01:00Z");
    // Friday 16:00 + 60 minutes is Friday 17:00, not Monday 08:00.
    due(&c, "2024-09-06T21:00:00Z", 60, "2024-09-06T22:00:00Z");
    // Adding nothing is the instant itself, even when closed.
    due(&c, "2024-09-07T15:00:00Z", 0, "2024-09-07T15:00:00Z");
    assert!(c.is_open(t("2024-09-06T21:59:59Z")));
    assert!(!c.is_open(t("2024-09-06T22:00:00Z")));
    assert!(!c.is_open(t("2024-09-07T15:00:00Z")));
}

#[test]
fn measuring_backwards_is_negative_and_minutes_round_down() {
    let c = chicago();
    let (a, b) = (t("2024-09-09T13:00:00Z"), t("2024-09-09T13:10:30Z"));
    assert_eq!(c.business_minutes_between(a, b), 10);
    assert_eq!(c.business_minutes_between(b, a), -11);
    assert_eq!(whole_minutes(TimeDelta::seconds(-30)), -1);
    assert_eq!(whole_minutes(TimeDelta::seconds(59)), 0);
}

#[test]
fn today_is_the_districts_date() {
    // 03:00 UTC on Saturday is still Friday evening in Chicago.
    assert_eq!(chicago().today(t("2024-09-07T03:00:00Z")), day("2024-09-06"));
    assert_eq!(DistrictCalendar::default().today(t("2024-09-07T03:00:00Z")), day("2024-09-07"));
    let tokyo = in_zone("Asia/Tokyo", BusinessHours::office());
    assert_eq!(tokyo.today(t("2024-09-06T16:00:00Z")), day("2024-09-07"));
}

#[test]
fn local_times_as_instants() {
    let c = chicago();
    let at = |d: &str, time: &str| c.instant(day(d), ClockTime::parse(time).unwrap());
    assert_eq!(at("2024-09-09", "08:30"), Some(t("2024-09-09T13:30:00Z")));
    assert_eq!(at("2024-09-09", "24:00"), Some(t("2024-09-10T05:00:00Z")));
    // 02:30 does not exist on 10 March 2024: the time after the gap.
    assert_eq!(at("2024-03-10", "02:30"), Some(t("2024-03-10T08:30:00Z")));
}

#[test]
fn hours_ending_at_midnight() {
    let late = in_zone("America/Chicago", hours("20:00", "24:00", WEEKDAYS));
    // Friday 23:00 CDT + 120: one hour on Friday, one on Monday from 20:00.
    due(&late, "2024-09-07T04:00:00Z", 120, "2024-09-10T02:00:00Z");
}

#[test]
fn values_parse_and_refuse() {
    assert_eq!(ClockTime::parse("08:30").unwrap().minutes(), 510);
    assert_eq!(ClockTime::parse("24:00").unwrap(), ClockTime::END_OF_DAY);
    assert_eq!(ClockTime::hm(7, 5).unwrap().to_string(), "07:05");
    for bad in ["8:30", "24:01", "25:00", "12:60", "1230", "", "ab:cd", " 08:30"] {
        assert!(ClockTime::parse(bad).is_err(), "{bad:?}");
    }
    assert!(TimeZoneName::parse("America/Chicago").is_ok());
    assert!(TimeZoneName::parse("UTC").is_ok());
    let err = TimeZoneName::parse("Mars/Olympus_Mons").unwrap_err();
    assert!(err.message().contains("IANA"), "{err}");
    assert!(TimeZoneName::parse("").is_err());
    assert_eq!(Weekday::parse("sat").unwrap(), Weekday::Sat);
    assert!(Weekday::parse("Saturday").is_err());
    assert_eq!(Weekday::of(day("2024-09-06")), Weekday::Fri);

    let start_after_end = BusinessHours::new(
        ClockTime::parse("17:00").unwrap(),
        ClockTime::parse("08:00").unwrap(),
        WEEKDAYS.to_vec(),
    );
    assert!(start_after_end.unwrap_err().message().contains("start before"));
    let no_days = BusinessHours::new(
        ClockTime::parse("08:00").unwrap(),
        ClockTime::parse("17:00").unwrap(),
        vec![],
    );
    assert!(no_days.is_err());
    let sorted = hours("08:00", "17:00", &[Weekday::Fri, Weekday::Mon, Weekday::Fri]);
    assert_eq!(sorted.days, vec![Weekday::Mon, Weekday::Fri]);
}

#[test]
fn wire_forms() {
    let h = hours("08:00", "17:00", &[Weekday::Mon, Weekday::Tue]);
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(json, serde_json::json!({"start": "08:00", "end": "17:00", "days": ["mon", "tue"]}));
    assert_eq!(serde_json::from_value::<BusinessHours>(json).unwrap(), h);
    let backwards = serde_json::json!({"start": "17:00", "end": "08:00", "days": ["mon"]});
    assert!(serde_json::from_value::<BusinessHours>(backwards).is_err());
    assert!(serde_json::from_value::<TimeZoneName>("\"Nowhere/Town\"".into()).is_err());
    assert_eq!(
        serde_json::to_value(TimeZoneName::parse("Europe/Berlin").unwrap()).unwrap(),
        "Europe/Berlin"
    );
}

mod property {
    use proptest::prelude::*;

    use super::*;

    /// Zones with daylight saving in both hemispheres, a half-hour change (Lord Howe), odd
    /// offsets and none at all.
    const ZONES: &[&str] = &[
        "UTC",
        "America/Chicago",
        "Europe/London",
        "Australia/Lord_Howe",
        "America/St_Johns",
        "Asia/Kolkata",
        "Pacific/Auckland",
    ];

    fn calendar() -> impl Strategy<Value = DistrictCalendar> {
        (
            0..ZONES.len(),
            0u16..(24 * 60),
            1u16..=(24 * 60),
            proptest::collection::btree_set(0..7usize, 1..=7),
            proptest::collection::vec(0i64..730, 0..12),
        )
            .prop_map(|(zone, start, length, days, closed)| {
                let end = (start + length).min(24 * 60);
                let hours = BusinessHours::new(
                    ClockTime(start),
                    ClockTime(end.max(start + 1)),
                    days.into_iter().map(|d| Weekday::ALL[d]).collect(),
                )
                .unwrap();
                let mut calendar = in_zone(ZONES[zone], hours);
                for offset in closed {
                    calendar = calendar
                        .with_closure(day("2024-01-01") + TimeDelta::days(offset), "Closed");
                }
                calendar
            })
    }

    /// An instant in 2024 or 2025, to the microsecond.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (1_704_067_200_000_000i64..1_767_225_600_000_000).prop_map(super::super::instant)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn adding_then_measuring_gives_back_what_was_added(
            calendar in calendar(), from in instant(), minutes in 0u32..3000,
        ) {
            let due = calendar.add_business_minutes(from, minutes);
            prop_assert!(due >= from);
            prop_assert_eq!(
                calendar.business_time_between(from, due),
                TimeDelta::minutes(minutes.into())
            );
        }

        #[test]
        fn a_due_time_is_inside_business_hours_of_a_business_day(
            calendar in calendar(), from in instant(), minutes in 1u32..3000,
        ) {
            // The business time just before it: open, on a working weekday, not closed.
            let due = calendar.add_business_minutes(from, minutes);
            let just_before = due - TimeDelta::microseconds(1);
            prop_assert!(calendar.is_open(just_before), "{} is not open", just_before);
            let date = calendar.today(just_before);
            prop_assert!(calendar.hours().works_on(Weekday::of(date)));
            prop_assert!(!calendar.closures().contains_key(&date));
        }

        #[test]
        fn closed_days_and_days_off_hold_no_business_time(
            calendar in calendar(), offset in 0i64..730,
        ) {
            let date = day("2024-01-01") + TimeDelta::days(offset);
            let closed = calendar.clone().with_closure(date, "Snow day");
            let midnight = |d: NaiveDate| {
                let local = d.and_hms_opt(0, 0, 0).unwrap();
                let zone = calendar.time_zone().time_zone();
                let civil = jiff::civil::date(local.year() as i16, local.month() as i8, local.day() as i8)
                    .at(0, 0, 0, 0);
                super::super::instant(zone.to_timestamp(civil).unwrap().as_microsecond())
            };
            let (start, end) = (midnight(date), midnight(date + TimeDelta::days(1)));
            prop_assert_eq!(closed.business_time_between(start, end), TimeDelta::zero());
            if !calendar.hours().works_on(Weekday::of(date)) {
                prop_assert_eq!(calendar.business_time_between(start, end), TimeDelta::zero());
            }
        }

        #[test]
        fn a_closure_never_brings_a_due_time_forward(
            calendar in calendar(), from in instant(), minutes in 0u32..3000, offset in 0i64..730,
        ) {
            let closed = calendar.clone().with_closure(day("2024-01-01") + TimeDelta::days(offset), "Snow");
            prop_assert!(
                closed.add_business_minutes(from, minutes) >= calendar.add_business_minutes(from, minutes)
            );
        }

        #[test]
        fn measuring_is_additive_and_monotone(
            calendar in calendar(), a in instant(), b in instant(), c in instant(),
        ) {
            let mut points = [a, b, c];
            points.sort();
            let [a, b, c] = points;
            let (ab, bc, ac) = (
                calendar.business_time_between(a, b),
                calendar.business_time_between(b, c),
                calendar.business_time_between(a, c),
            );
            prop_assert_eq!(ab + bc, ac);
            prop_assert!(ab >= TimeDelta::zero() && ab <= ac);
            prop_assert!(ac <= c - a, "no more business time than real time");
            prop_assert_eq!(calendar.business_time_between(c, a), -ac);
        }

        #[test]
        fn adding_is_monotone(
            calendar in calendar(), from in instant(), m in 0u32..2000, more in 0u32..1000,
        ) {
            prop_assert!(
                calendar.add_business_minutes(from, m) <= calendar.add_business_minutes(from, m + more)
            );
            let later = from + TimeDelta::minutes(more.into());
            prop_assert!(calendar.add_business_minutes(from, m) <= calendar.add_business_minutes(later, m));
        }
    }
}

#[test]
fn thirty_work_days_from_a_monday_end_on_the_friday_six_weeks_later() {
    let calendar = DistrictCalendar::default();
    assert_eq!(calendar.nth_business_day(day("2026-08-31"), 30), day("2026-10-09"));
    assert_eq!(calendar.nth_business_day(day("2026-08-31"), 1), day("2026-08-31"));
    // From a Saturday, the first work day is Monday.
    assert_eq!(calendar.nth_business_day(day("2026-08-29"), 1), day("2026-08-31"));
}

#[test]
fn business_days_after_a_date_skip_weekends_and_closures() {
    // Friday 2024-09-06; Monday 2024-09-09 a closure.
    let calendar = DistrictCalendar::default().with_closure(day("2024-09-09"), "Teacher day");
    let friday = day("2024-09-06");
    assert_eq!(calendar.business_days_after(friday, friday), 0);
    assert_eq!(calendar.business_days_after(friday, day("2024-09-05")), 0);
    assert_eq!(calendar.business_days_after(friday, day("2024-09-08")), 0, "the weekend");
    assert_eq!(calendar.business_days_after(friday, day("2024-09-09")), 0, "closed");
    assert_eq!(calendar.business_days_after(friday, day("2024-09-10")), 1);
    assert_eq!(calendar.business_days_after(friday, day("2024-09-20")), 9);
    // From a Saturday: Monday is the first.
    assert_eq!(
        DistrictCalendar::default().business_days_after(day("2024-09-07"), day("2024-09-09")),
        1
    );
    // A closure on a Sunday changes nothing.
    let sunday = DistrictCalendar::default().with_closure(day("2024-09-08"), "Sunday");
    assert_eq!(sunday.business_days_after(friday, day("2024-09-20")), 10);
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
        let base = day("2020-01-01");
        let from = base + chrono::Days::new(u64::from(start));
        let to = from + chrono::Days::new(u64::from(span));
        let hours = BusinessHours::new(ClockTime::hm(8, 0).unwrap(), ClockTime::hm(16, 0).unwrap(), working).unwrap();
        let mut calendar = DistrictCalendar::new(TimeZoneName::parse("America/Chicago").unwrap(), hours);
        for c in closures {
            calendar = calendar.with_closure(from + chrono::Days::new(u64::from(c)), "closed");
        }
        let walked = from.iter_days().skip(1).take_while(|day| *day <= to).filter(|day| calendar.is_business_day(*day)).count() as u32;
        proptest::prop_assert_eq!(calendar.business_days_after(from, to), walked);
        let with_from = walked + u32::from(calendar.is_business_day(from));
        proptest::prop_assert_eq!(calendar.business_days_from(from, to), with_from);
    }
}

#[test]
fn the_business_days_of_a_span_count_both_ends() {
    // Friday 2024-09-06 to Tuesday 2024-09-10, Monday closed: Friday and Tuesday.
    let calendar = DistrictCalendar::default().with_closure(day("2024-09-09"), "Teacher day");
    assert_eq!(calendar.business_days_from(day("2024-09-06"), day("2024-09-10")), 2);
    assert_eq!(calendar.business_days_from(day("2024-09-06"), day("2024-09-06")), 1);
    assert_eq!(calendar.business_days_from(day("2024-09-07"), day("2024-09-08")), 0, "a weekend");
    assert_eq!(calendar.business_days_from(day("2024-09-10"), day("2024-09-06")), 0, "backwards");
}
