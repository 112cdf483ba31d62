//! Rollups: a report's figures summed by the district's day and school as the events arrive,
//! so that a report reads a few documents whatever the length of the log, not one document per
//! purchase or promise.
//!
//! A rollup is kept in **partitions**, one document per UTC day on which the log recorded the
//! changes ([`partition_key`]): a projection that learns something (a held purchase flagged, its
//! first reached call, its resolution) adds it to the partition of the event it learned it from,
//! under the district's day the figure counts by (the flag's, say) and the school. Every figure
//! kept is a sum (counts, cents, durations counted by the hundredth of an hour), so the figures
//! of a day are the sum of its entries over every partition, whichever day recorded them.
//! A report asked for a period reads the partitions that can hold its days ([`Partitions`]),
//! sums the entries of its days into all, by school and by month ([`Grouped`]), and is done:
//! the work is in the number of days and schools, not of purchases, except for durations:
//! counted exactly by the hundredth of an hour, a day and school keeps as many counts as the
//! distinct durations it saw, at worst one per purchase. And a partition holds what the log
//! recorded on its day: history entered after the fact in one day lands in one partition,
//! which every later write that day rewrites. (Both are open: partitions by the day an entry
//! counts on, durations in buckets of bounded size.) A partition is a UTC day's
//! rather than a month's so that what a projection writes back after a batch, or after each
//! event as it follows the log, is a day's entries: a few schools', not a month of them.
//!
//! **Measured when they happen.** A rollup takes the district's day and business time in the
//! calendar in force when the projection applies the event (the district's `district-settings`
//! events are in the log before the events they govern), so a figure once measured stays as it
//! was: a later change of time zone, hours or closures counts from then on and does not rewrite
//! the figures of past months. (`procgate rebuild reporting` measures every event again the same
//! way: each in the calendar in force at its place in the log.)
//!
//! **Exact percentiles.** Durations are kept as counts by the hundredth of a business hour
//! ([`Durations`]): the precision the reports print. Rounding to it keeps the order of the
//! durations, so the nearest-rank percentile of the counts is the percentile of the durations
//! as printed, the same figure a sort of every duration gives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::district::District;
use serde::{Deserialize, Serialize};

use super::ReportPeriod;
use kernel::{Documents, Recorded};
use serde::de::DeserializeOwned;

use super::clocks::{DISTRICT_KEY, DistrictDoc};
use super::figures::{Grouped, Stats, month_of_day};

/// The partition of a rollup that takes the changes the log recorded at `recorded_at`: its UTC
/// day (`2024-09-02`).
pub fn partition_key(recorded_at: DateTime<Utc>) -> String {
    recorded_at.date_naive().to_string()
}

/// The partitions a period needs: an entry for a day is recorded at or after the start of that
/// day in the district's time zone (a flag, a call and a resolution come after the purchase was
/// requested), which is at the earliest on the UTC day before. So a period from a day needs the
/// partitions from the day before on; a period open at its start needs them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partitions {
    first: Option<String>,
}

impl Partitions {
    /// Every partition: for a rollup whose entries may be recorded before their day (a card
    /// transaction dated after the statement that lists it, however wrong).
    pub fn all() -> Self {
        Self { first: None }
    }

    pub fn of(period: &ReportPeriod) -> Self {
        let first = period.from.and_then(|from| from.pred_opt()).map(|day| day.to_string());
        Self { first }
    }

    /// Whether the partition `key` may hold a day of the period.
    pub fn needs(&self, key: &str) -> bool {
        self.first.as_deref().is_none_or(|first| key >= first)
    }
}

/// One partition: entries by the district's day and school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    transparent,
    bound(serialize = "E: Serialize", deserialize = "E: serde::de::DeserializeOwned")
)]
pub struct Rollup<E> {
    pub days: BTreeMap<NaiveDate, BTreeMap<String, E>>,
}

impl<E> Default for Rollup<E> {
    fn default() -> Self {
        Self { days: BTreeMap::new() }
    }
}

impl<E: Default> Rollup<E> {
    /// The entry of `school` on `day`, new if there was none.
    pub fn entry(&mut self, day: NaiveDate, school: &str) -> &mut E {
        let schools = self.days.entry(day).or_default();
        if !schools.contains_key(school) {
            schools.insert(school.to_owned(), E::default());
        }
        schools.get_mut(school).expect("inserted above")
    }
}

/// A rollup's figures: summed over the entries of a group.
pub trait Sum: Default {
    fn add(&mut self, other: &Self);
}

/// The entries of `partitions` (keyed by their [`partition_key`]) whose day is in `period`,
/// summed over all, by school and by the month of their day.
pub fn group<'a, E: Sum + 'a>(
    partitions: impl IntoIterator<Item = (&'a str, &'a Rollup<E>)>,
    period: &ReportPeriod,
) -> Grouped<E> {
    group_into(partitions, period, E::add)
}

/// As [`group`], into a report's own accumulator `A`, which `add` adds an entry to.
pub fn group_into<'a, E: 'a, A: Default>(
    partitions: impl IntoIterator<Item = (&'a str, &'a Rollup<E>)>,
    period: &ReportPeriod,
    add: impl Fn(&mut A, &E),
) -> Grouped<A> {
    let needed = Partitions::of(period);
    let (from, to) = (period.from.unwrap_or(NaiveDate::MIN), period.to.unwrap_or(NaiveDate::MAX));
    let mut groups = Grouped::default();
    for (_, rollup) in partitions.into_iter().filter(|(key, _)| needed.needs(key)) {
        for (day, schools) in rollup.days.range(from..=to) {
            let month = month_of_day(*day);
            for (school, entry) in schools {
                groups.add(school, month.clone(), |acc: &mut A| add(acc, entry));
            }
        }
    }
    groups
}

/// Durations of business time, counted by the hundredth of an hour (36 seconds, rounded to the
/// nearest), which is what the reports print.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Durations(BTreeMap<u32, u64>);

impl Durations {
    /// Counts one duration (a negative one as zero).
    pub fn add(&mut self, duration: TimeDelta) {
        *self.0.entry(hundredths(duration)).or_default() += 1;
    }

    /// Whether none is counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many durations are counted.
    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// The count, median, 90th percentile (nearest rank) and maximum.
    pub fn stats(&self) -> Stats {
        let count = self.count();
        let hours = |h: u32| f64::from(h) / 100.0;
        Stats {
            count,
            p50_business_hours: self.percentile(50, count).map(hours),
            p90_business_hours: self.percentile(90, count).map(hours),
            max_business_hours: self.0.keys().next_back().copied().map(hours),
        }
    }

    /// The `p`th percentile by the nearest-rank method ([`super::percentile`]).
    fn percentile(&self, p: u32, count: u64) -> Option<u32> {
        if count == 0 {
            return None;
        }
        let rank = (u64::from(p) * count).div_ceil(100).max(1);
        let mut seen = 0;
        self.0.iter().find_map(|(h, n)| {
            seen += n;
            (seen >= rank).then_some(*h)
        })
    }
}

impl Sum for Durations {
    fn add(&mut self, other: &Self) {
        for (h, n) in &other.0 {
            *self.0.entry(*h).or_default() += n;
        }
    }
}

/// A duration in hundredths of an hour, rounded to the nearest as [`Stats::of`] rounds hours.
fn hundredths(duration: TimeDelta) -> u32 {
    let micros = duration.num_microseconds().unwrap_or(i64::MAX).max(0);
    let h = (micros as f64 / 36_000_000.0).round();
    if h >= f64::from(u32::MAX) { u32::MAX } else { h as u32 }
}

/// The district a projection applies an event in: its `district-settings` events folded, kept
/// folded while they do not change (a projection reads the document with every batch, and the
/// district changes a few times a year).
#[derive(Debug, Default)]
pub struct DistrictMemo(Mutex<Option<(DistrictVersion, Arc<District>)>>);

/// What identifies a district document's events: how many, and the last one's version.
type DistrictVersion = (usize, u64);

impl DistrictMemo {
    /// The district in force for `event`, in a read model that keeps the district's settings
    /// under [`DISTRICT_KEY`] in its `collection` (declared among the event's keys).
    pub fn in_force<D: Serialize + DeserializeOwned>(
        &self,
        docs: &mut Documents<'_, D>,
        collection: &'static str,
        event: &Recorded<'_>,
    ) -> Result<Arc<District>, String> {
        Ok(self.district(docs.of::<DistrictDoc>(collection).read(DISTRICT_KEY, event)?))
    }

    /// The district `doc` makes (UTC's calendar and no targets without one).
    pub fn district(&self, doc: Option<&DistrictDoc>) -> Arc<District> {
        let version =
            doc.map_or((0, 0), |d| (d.events.len(), d.events.last().map_or(0, |e| e.version)));
        let mut memo = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, district)) = memo.as_ref().filter(|(v, _)| *v == version) {
            return district.clone();
        }
        let district = Arc::new(doc.map(DistrictDoc::district).unwrap_or_default());
        *memo = Some((version, district.clone()));
        district
    }
}

#[cfg(test)]
mod tests {
    use super::super::SchoolNames;
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
    struct Count(u64);

    impl Sum for Count {
        fn add(&mut self, other: &Self) {
            self.0 += other.0;
        }
    }

    #[test]
    fn given_durations_when_counted_by_the_hundredth_then_the_stats_are_those_of_every_duration() {
        // Given durations with many distinct values, and repeated ones.
        let minutes = [90, 30, 61, 61, 0, 600, 17, 45, 45, 45, 1, 2999];
        let deltas: Vec<TimeDelta> = minutes.iter().map(|m| TimeDelta::minutes(*m)).collect();
        let mut counted = Durations::default();
        for d in &deltas {
            counted.add(*d);
        }
        // When summarized from the counts, then they are what sorting every duration gives.
        assert_eq!(counted.stats(), Stats::of(deltas.clone()));
        // And for any prefix (every count from 1 to 12).
        for n in 1..=deltas.len() {
            let mut part = Durations::default();
            deltas[..n].iter().for_each(|d| part.add(*d));
            assert_eq!(part.stats(), Stats::of(deltas[..n].to_vec()), "first {n}");
        }
        assert_eq!(Durations::default().stats(), Stats::default());
        // Seconds round to the nearest hundredth of an hour, as the reports print them.
        let mut seconds = Durations::default();
        seconds.add(TimeDelta::seconds(17));
        seconds.add(TimeDelta::seconds(19));
        seconds.add(TimeDelta::seconds(-5));
        assert_eq!(seconds.stats().max_business_hours, Some(0.01));
        assert_eq!(seconds.stats().p50_business_hours, Some(0.0));
    }

    #[test]
    fn given_two_sets_of_durations_when_summed_then_the_stats_are_those_of_both() {
        let (mut a, mut b) = (Durations::default(), Durations::default());
        [5, 50, 500].iter().for_each(|m| a.add(TimeDelta::minutes(*m)));
        [7, 70].iter().for_each(|m| b.add(TimeDelta::minutes(*m)));
        Sum::add(&mut a, &b);
        let all = [5, 50, 500, 7, 70].map(TimeDelta::minutes).to_vec();
        assert_eq!(a.stats(), Stats::of(all));
    }

    #[test]
    fn given_entries_in_several_partitions_when_grouped_then_a_days_figures_are_their_sum() {
        // Given a flag recorded on 30 September for that day, and its resolution recorded on 2
        // October for the same day; and a purchase of 1 October recorded on 2 October.
        let mut september: Rollup<Count> = Rollup::default();
        september.entry(day("2024-09-30"), "adams").0 += 1;
        let mut october: Rollup<Count> = Rollup::default();
        october.entry(day("2024-09-30"), "adams").0 += 2;
        october.entry(day("2024-10-01"), "lincoln").0 += 5;
        let partitions = [("2024-09-30", &september), ("2024-10-02", &october)];

        // When grouped over all time.
        let all = group(partitions, &ReportPeriod::default());
        let (all, by_school, by_month) =
            all.finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        assert_eq!(all, ("all".to_owned(), 8));
        assert_eq!(by_school, [("adams".to_owned(), 3), ("lincoln".to_owned(), 5)]);
        assert_eq!(by_month, [("2024-09".to_owned(), 3), ("2024-10".to_owned(), 5)]);

        // When grouped over 30 September only: both partitions' entries of that day.
        let period = ReportPeriod::between(Some(day("2024-09-30")), Some(day("2024-09-30")));
        let (all, _, _) =
            group(partitions, &period).finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        assert_eq!(all.1, 3);

        // When grouped from 1 October: 30 September's partition (recorded the day before) is
        // read, earlier ones are not.
        let from = |d: &str| Partitions::of(&ReportPeriod::between(Some(day(d)), None));
        assert!(from("2024-10-01").needs("2024-09-30"));
        assert!(!from("2024-10-01").needs("2024-09-29"));
        assert!(!from("2024-10-02").needs("2024-09-30"));
        assert!(Partitions::all().needs("1999-01-01"));
        let period = ReportPeriod::between(Some(day("2024-10-01")), None);
        let (all, _, _) =
            group(partitions, &period).finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        assert_eq!(all.1, 5);
    }

    #[test]
    fn a_rollup_is_stored_as_days_and_schools() {
        let mut rollup: Rollup<Count> = Rollup::default();
        rollup.entry(day("2024-09-30"), "adams").0 += 1;
        let json = serde_json::to_value(&rollup).unwrap();
        assert_eq!(json, serde_json::json!({ "2024-09-30": { "adams": 1 } }));
        assert_eq!(serde_json::from_value::<Rollup<Count>>(json).unwrap(), rollup);
        let mut d = Durations::default();
        d.add(TimeDelta::minutes(90));
        assert_eq!(serde_json::to_value(&d).unwrap(), serde_json::json!({ "150": 1 }));
        assert_eq!(
            serde_json::from_value::<Durations>(serde_json::json!({ "150": 1 })).unwrap(),
            d
        );
    }
}
