//! The relationship story the demo tells, dated in the district's calendar: the CTO meets every
//! principal on their own turf, one a work day, in a round of meetings that starts with the
//! demo's school year; about 60% of the schools sign the purchasing agreement in the weeks
//! after their meeting; their principals speak for IT to the principals who have not signed;
//! and those schools sign over the following months, the last some weeks before today, so
//! that every school has signed by then. Pure: the dates come from the calendar, today and a
//! generator, never from the clock.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::calendar::{ClockTime, DistrictCalendar};

use super::Rng;

/// The round's name, by which a second run finds it.
pub(super) const ROUND_NAME: &str = "Every principal on their own turf";
/// The work days the round is given (more when there are more principals than that: one
/// meeting a work day).
pub(super) const ROUND_WORK_DAYS: u32 = 30;
/// The first wave (three schools in five) signs this many days after the meeting, at the
/// earliest, and up to three weeks later.
const FIRST_SIGNATURE_AFTER_DAYS: i64 = 7;
/// The other schools start signing this many days after the round's last meeting (more than a
/// month after the first wave's last signature, so that at least one month ends with the first
/// wave alone signed)...
const LATER_SIGNATURES_FROM_DAYS: i64 = 65;
/// ... and the last signs this many days before today.
const LAST_SIGNATURE_DAYS_AGO: i64 = 21;

/// One school's part of the story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SchoolStory {
    /// When IT met the principal, in their office, on the school's work day of the round.
    pub met_at: DateTime<Utc>,
    /// Whether the school signs in the weeks after its meeting (else months later, after
    /// signed principals spoke for IT).
    pub first_wave: bool,
    pub signed_on: NaiveDate,
    /// The first-wave schools (their numbers) whose principals spoke for IT to this school's
    /// principal, and when: after their own signature, before this school's.
    pub advocates: Vec<(usize, NaiveDate)>,
}

/// The whole story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Story {
    pub round_starts_on: NaiveDate,
    pub round_work_days: u32,
    /// The day of the round's last meeting.
    pub round_ends_on: NaiveDate,
    pub schools: Vec<SchoolStory>,
}

/// Whether school `n` is in the first wave: three in five, so about 60%.
pub(super) fn first_wave(n: usize) -> bool {
    n % 5 < 3
}

/// The first business day on or after `day`.
fn business_day_from(calendar: &DistrictCalendar, day: NaiveDate) -> NaiveDate {
    day.iter_days().find(|d| calendar.is_business_day(*d)).unwrap_or(day)
}

/// The story of `schools` schools whose school year started on `year_start`, told on `today`.
pub(super) fn story(
    calendar: &DistrictCalendar,
    year_start: NaiveDate,
    today: NaiveDate,
    schools: usize,
    seed: u64,
) -> Story {
    let round_starts_on = business_day_from(calendar, year_start);
    let work_days: Vec<NaiveDate> = round_starts_on
        .iter_days()
        .filter(|d| calendar.is_business_day(*d))
        .take(schools.max(1))
        .collect();
    let round_ends_on = *work_days.last().unwrap_or(&round_starts_on);
    let latest = today - TimeDelta::days(LAST_SIGNATURE_DAYS_AGO);
    let mut stories: Vec<SchoolStory> = work_days
        .iter()
        .enumerate()
        .map(|(n, day)| {
            let mut rng = Rng::derived(seed, "meeting", n);
            // In the principal's office between 08:30 and 15:00, on the quarter hour.
            let minutes = 8 * 60 + 30 + 15 * rng.below(27);
            let time = ClockTime::hm((minutes / 60) as u16, (minutes % 60) as u16)
                .expect("a time of day before 15:00");
            let met_at = calendar
                .instant(*day, time)
                .unwrap_or_else(|| day.and_time(chrono::NaiveTime::MIN).and_utc());
            let after = FIRST_SIGNATURE_AFTER_DAYS + rng.below(22) as i64;
            let signed_on = business_day_from(calendar, *day + TimeDelta::days(after)).min(today);
            SchoolStory { met_at, first_wave: first_wave(n), signed_on, advocates: Vec::new() }
        })
        .collect();

    // The others sign one after another, evenly over the months from a month after the round
    // to three weeks before today.
    let later: Vec<usize> = (0..stories.len()).filter(|n| !stories[*n].first_wave).collect();
    let from = round_ends_on + TimeDelta::days(LATER_SIGNATURES_FROM_DAYS);
    let span = (latest - from).num_days().max(0);
    for (k, n) in later.iter().enumerate() {
        let offset = span * (2 * k as i64 + 1) / (2 * later.len() as i64);
        let signed_on = business_day_from(calendar, from + TimeDelta::days(offset)).min(today);
        // One or two principals of first-wave schools that signed at least two weeks before
        // spoke for IT to this school's principal, in the weeks before it signed.
        let mut rng = Rng::derived(seed, "advocacy", *n);
        let mut speakers: Vec<usize> = (0..stories.len())
            .filter(|a| {
                stories[*a].first_wave && stories[*a].signed_on + TimeDelta::days(14) < signed_on
            })
            .collect();
        let mut advocates = Vec::new();
        for _ in 0..(1 + rng.below(2)).min(speakers.len()) {
            let advocate = speakers.remove(rng.below(speakers.len()));
            let earliest = stories[advocate].signed_on + TimeDelta::days(7);
            let on = (signed_on - TimeDelta::days(3 + rng.below(40) as i64)).max(earliest);
            advocates.push((advocate, on));
        }
        advocates.sort_by_key(|(a, on)| (*on, *a));
        stories[*n].signed_on = signed_on;
        stories[*n].advocates = advocates;
    }
    Story {
        round_starts_on,
        round_work_days: ROUND_WORK_DAYS.max(schools as u32),
        round_ends_on,
        schools: stories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::district::{chicago_2025_26 as chicago, test_day as day};

    #[test]
    fn every_principal_is_met_one_a_work_day_in_business_hours() {
        let calendar = chicago();
        let story = story(&calendar, day("2025-08-30"), day("2026-06-26"), 30, 7);
        // From the Saturday the year starts on, the first work day is Tuesday (Labor Day).
        assert_eq!(story.round_starts_on, day("2025-09-02"));
        assert_eq!(story.round_work_days, 30);
        let days: Vec<NaiveDate> = story.schools.iter().map(|s| calendar.today(s.met_at)).collect();
        assert!(days.iter().all(|d| calendar.is_business_day(*d)));
        assert!(days.windows(2).all(|w| w[0] < w[1]), "one a work day: {days:?}");
        assert_eq!(days.last(), Some(&story.round_ends_on));
        let work_days = days[0].iter_days().take_while(|d| *d <= days[29]);
        assert_eq!(work_days.filter(|d| calendar.is_business_day(*d)).count(), 30);
        assert!(story.schools.iter().all(|s| calendar.is_open(s.met_at)));
    }

    #[test]
    fn sixty_percent_sign_first_the_rest_after_an_advocate_and_all_by_today() {
        let calendar = chicago();
        let today = day("2026-06-26");
        let story = story(&calendar, day("2025-08-30"), today, 30, 7);
        let first: Vec<&SchoolStory> = story.schools.iter().filter(|s| s.first_wave).collect();
        assert_eq!(first.len(), 18);
        for s in &first {
            let weeks = (s.signed_on - calendar.today(s.met_at)).num_days();
            assert!((7..=31).contains(&weeks), "in the weeks after the meeting: {weeks}");
            assert!(s.advocates.is_empty());
        }
        let last_first = first.iter().map(|s| s.signed_on).max().unwrap();
        let first_later = story.schools.iter().filter(|s| !s.first_wave).map(|s| s.signed_on);
        assert!(first_later.min().unwrap() - last_first > TimeDelta::days(31), "a month between");
        for s in story.schools.iter().filter(|s| !s.first_wave) {
            assert!(s.signed_on > last_first && s.signed_on <= today - TimeDelta::days(21));
            assert!(calendar.is_business_day(s.signed_on));
            assert!(!s.advocates.is_empty(), "someone spoke for IT first");
            for (advocate, on) in &s.advocates {
                let advocate = &story.schools[*advocate];
                assert!(advocate.first_wave && advocate.signed_on < *on && *on < s.signed_on);
            }
        }
    }

    #[test]
    fn a_small_district_tells_the_same_story() {
        let calendar = chicago();
        let story = story(&calendar, day("2025-08-30"), day("2026-06-26"), 4, 7);
        assert_eq!(story.round_work_days, 30);
        assert_eq!(story.schools.iter().filter(|s| s.first_wave).count(), 3);
        // The one school that signs later heard from an advocate first; the others did not.
        assert!(story.schools.iter().all(|s| s.advocates.is_empty() == s.first_wave));
    }
}
