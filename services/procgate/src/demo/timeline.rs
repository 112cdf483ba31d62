//! When things happened in the demo's school year: when each purchase was requested, and when
//! IT called the requester, proposed an alternative and decided, in the district's business
//! time. Most answers come within the district's targets, some do not, as in a real year; the
//! purchases are entered after the fact (`requested_at`, `occurred_at`), so the reports in
//! business time show what such a year looks like. Pure: the times come from the calendar, the
//! dates and a generator, never from the clock.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::calendar::{ClockTime, DistrictCalendar};

use super::Rng;
use super::district::Targets;

/// How far back the demo's school year goes: about ten months of purchases.
pub(super) const YEAR_DAYS: i64 = 300;
/// The purchases of the last days, which the queue still holds, go back this many business
/// days before today.
const RECENT_BUSINESS_DAYS: usize = 3;
/// The history stops this many days before today, so that IT's answers to it are all past.
const HISTORY_ENDS_DAYS_AGO: i64 = 14;
/// The share (in percent) of first calls and of decisions that come within their targets.
const IN_TIME_PERCENT: usize = 85;

/// When a purchase of the school year was requested: on a business day between `earliest` (the
/// school year's start, or the day after its school signed the agreement) and two weeks ago, or
/// for a `recent` one, on one of the last few business days before `today`; mostly in business
/// hours, sometimes in the evening (a card purchase after school).
pub(super) fn requested_at(
    calendar: &DistrictCalendar,
    today: NaiveDate,
    earliest: NaiveDate,
    recent: bool,
    rng: &mut Rng,
) -> DateTime<Utc> {
    let day = if recent {
        let days: Vec<NaiveDate> = (1..=30)
            .map(|n| today - TimeDelta::days(n))
            .filter(|d| calendar.is_business_day(*d))
            .take(RECENT_BUSINESS_DAYS)
            .collect();
        *rng.pick(&days)
    } else {
        let latest = today - TimeDelta::days(HISTORY_ENDS_DAYS_AGO);
        let span = (latest - earliest).num_days().max(0);
        let mut day = earliest + TimeDelta::days(rng.below(span as usize + 1) as i64);
        while !calendar.is_business_day(day) && day < latest {
            day = day.succ_opt().unwrap_or(day);
        }
        day
    };
    // 08:00 to 16:20 local, or one time in ten between 17:00 and 20:59.
    let minutes = if rng.chance(10) { 17 * 60 + rng.below(240) } else { 8 * 60 + rng.below(500) };
    let time = ClockTime::hm((minutes / 60) as u16, (minutes % 60) as u16)
        .expect("a time of day before 21:00");
    calendar.instant(day, time).unwrap_or_else(|| day.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// When IT answered a purchase requested at `requested`: the first call (that reached the
/// requester), the alternative proposed in it, and the decision (held purchases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Answer {
    pub call: DateTime<Utc>,
    pub alternative: DateTime<Utc>,
    pub decision: DateTime<Utc>,
}

/// IT's answer to a purchase requested at `requested` under `targets` (a held purchase's first
/// contact and decision; an advisory one's outreach is its first call): each within its target
/// [`IN_TIME_PERCENT`] times in a hundred, else up to three times over.
pub(super) fn answer(
    calendar: &DistrictCalendar,
    requested: DateTime<Utc>,
    targets: Targets,
    held: bool,
    rng: &mut Rng,
) -> Answer {
    let first_target = if held { targets.first_contact } else { targets.outreach };
    let call_minutes = within_or_over(first_target, 5, rng);
    let call = calendar.add_business_minutes(requested, call_minutes);
    let alternative = call + TimeDelta::minutes(10 + rng.below(20) as i64);
    let decision_minutes = within_or_over(targets.decision, call_minutes + 30, rng);
    let decision = calendar.add_business_minutes(requested, decision_minutes).max(alternative);
    Answer { call, alternative, decision }
}

/// A number of business minutes: most times within `target` (from `least`), else over it.
fn within_or_over(target: u32, least: u32, rng: &mut Rng) -> u32 {
    let target = target as usize;
    let least = least as usize;
    if rng.chance(IN_TIME_PERCENT) && least < target * 9 / 10 {
        (least + rng.below(target * 9 / 10 - least)) as u32
    } else {
        (least.max(target + target / 20) + rng.below(2 * target)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::district::{CARD_TARGETS, TARGETS};
    use crate::demo::district::{chicago_2025_26 as chicago, test_day as day};

    #[test]
    fn purchases_are_requested_on_business_days_within_the_year_or_the_last_days() {
        let calendar = chicago();
        let today = day("2025-12-03");
        let earliest = today - TimeDelta::days(YEAR_DAYS);
        for n in 0..500 {
            let mut rng = Rng::derived(7, "time", n);
            let at = requested_at(&calendar, today, earliest, false, &mut rng);
            let local = calendar.today(at);
            assert!(calendar.is_business_day(local), "{at}");
            assert!(earliest <= local && local <= today - TimeDelta::days(14), "{at}");
            let recent = requested_at(&calendar, today, earliest, true, &mut rng);
            let local = calendar.today(recent);
            assert!(calendar.is_business_day(local) && local < today, "{recent}");
            assert!(local >= day("2025-11-26"), "the last three business days: {recent}");
        }
    }

    #[test]
    fn most_answers_come_within_the_targets_and_each_step_follows_the_last() {
        let calendar = chicago();
        let (mut calls_in_time, mut decisions_in_time, runs) = (0, 0, 1000);
        for n in 0..runs {
            let mut rng = Rng::derived(7, "answer", n);
            let targets = if n % 2 == 0 { TARGETS } else { CARD_TARGETS };
            let requested =
                requested_at(&calendar, day("2025-12-03"), day("2025-02-01"), false, &mut rng);
            let a = answer(&calendar, requested, targets, true, &mut rng);
            assert!(requested < a.call && a.call < a.alternative && a.alternative <= a.decision);
            let business = |at| calendar.business_minutes_between(requested, at);
            calls_in_time += usize::from(business(a.call) <= i64::from(targets.first_contact));
            decisions_in_time += usize::from(business(a.decision) <= i64::from(targets.decision));
        }
        for in_time in [calls_in_time, decisions_in_time] {
            assert!((750..950).contains(&in_time), "{in_time} of {runs} in time");
        }
    }
}
