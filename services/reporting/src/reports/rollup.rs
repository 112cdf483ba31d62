//! Rollups: a report's figures summed by the district's day and school as the events arrive,
//! so that a report reads a few documents whatever the length of the log, not one document per
//! purchase or promise.
//!
//! A rollup is kept in **partitions**, one document per district day that figures count on
//! ([`partition_key`]): a projection that learns something (a held purchase flagged, its first
//! reached call, its resolution) adds it to the entry of the day the figure counts by (the
//! flag's, say) and the school, in that day's partition. The day is often known only from the
//! purchase's own document (a call does not say when its purchase was flagged): the projection
//! asks for the partition as it applies the event, and the store fetches it in another round
//! ([`eventlog::projection`]). Every figure kept is a sum (counts, cents, lists of durations),
//! so a group of days sums their entries. A report asked for a period reads exactly the
//! partitions of its days ([`partitions_of`]), sums their entries into all, by school and by month
//! ([`Grouped`]), and is done: the work is in the number of days and schools, not of purchases,
//! except for durations, which percentiles need one by one: a day and school keeps each of its
//! purchases' durations as a small integer ([`Durations`]), a few bytes to read and to order.
//!
//! A partition is a day's, not a month's, so that what a projection writes back after a batch,
//! or after each event as it follows the log, is one day's entries: a few schools'. History
//! entered after the fact (a district moving years of purchases in one afternoon) spreads over
//! the days it happened on, as live history does: no partition grows with the log.
//!
//! **Measured when they happen.** A rollup takes the district's day and business time in the
//! calendar in force when the projection applies the event (the district's `district-settings`
//! events are in the log before the events they govern), so a figure once measured stays as it
//! was: a later change of time zone, hours or closures counts from then on and does not rewrite
//! the figures of past months. (`procgate rebuild reporting` measures every event again the same
//! way: each in the calendar in force at its place in the log.)
//!
//! **Exact percentiles.** Durations are kept in hundredths of a business hour
//! ([`Durations`]): the precision the reports print. Rounding to it keeps the order of the
//! durations, so the nearest-rank percentile of the rounded ones is the percentile of the
//! durations as printed, the same figure a sort of every duration gives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{NaiveDate, TimeDelta};
use events::district::District;
use serde::{Deserialize, Serialize};

use super::ReportPeriod;
use kernel::{Documents, Recorded};
use serde::de::DeserializeOwned;

use super::clocks::{DISTRICT_KEY, DistrictDoc};
use super::figures::{Grouped, Stats, month_of_day};

/// The partition of a rollup that holds the entries of the district's `day` (`2024-09-02`).
/// Keys sort as their days do.
pub fn partition_key(day: NaiveDate) -> String {
    day.to_string()
}

/// The partition of `collection` that holds the entries of `day`, to change in place for the
/// batch. Often asked for only as the event is applied (the day is in an item's own document):
/// the store then fetches it in another round ([`eventlog::projection`]).
pub fn partition<'d, D, P>(
    docs: &'d mut Documents<'_, D>,
    collection: &'static str,
    day: NaiveDate,
    event: &Recorded<'_>,
) -> Result<&'d mut P, String>
where
    D: Serialize + DeserializeOwned,
    P: Serialize + DeserializeOwned + Default + Send + 'static,
{
    docs.entry_in(collection, &partition_key(day), event)
}

/// The keys of the first and last partitions `period` needs, those of its days (open where
/// the period is): a range to read.
pub fn partitions_of(period: &ReportPeriod) -> (Option<String>, Option<String>) {
    (period.from.map(partition_key), period.to.map(partition_key))
}

/// One partition: entries by the district's day (its own) and school.
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
/// summed over all, by school and by the month of their day. (Partitions of other days add
/// nothing: a partition holds its own day's entries.)
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
    let (from, to) = (period.from.unwrap_or(NaiveDate::MIN), period.to.unwrap_or(NaiveDate::MAX));
    let mut groups = Grouped::default();
    for (_, rollup) in partitions {
        for (day, schools) in rollup.days.range(from..=to) {
            let month = month_of_day(*day);
            for (school, entry) in schools {
                groups.add(school, month.clone(), |acc: &mut A| add(acc, entry));
            }
        }
    }
    groups
}

/// Durations of business time, each in hundredths of an hour (36 seconds, rounded to the
/// nearest), which is what the reports print. Stored as the list of those numbers in order
/// (`[25, 150, 150]`): a day and school sees a few durations, mostly distinct, and a list of
/// small integers is the cheapest JSON to keep and to read back. Summing groups of them
/// ([`Sum`]) appends, and the statistics order them once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Durations(Vec<u32>);

impl Durations {
    /// Counts one duration (a negative one as zero), in order.
    pub fn add(&mut self, duration: TimeDelta) {
        let h = hundredths(duration);
        let at = self.0.partition_point(|d| *d <= h);
        self.0.insert(at, h);
    }

    /// Whether none is counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many durations are counted.
    pub fn count(&self) -> u64 {
        self.0.len() as u64
    }

    /// The count, median, 90th percentile (nearest rank) and maximum.
    pub fn stats(&self) -> Stats {
        let sorted = self.sorted();
        let count = sorted.len() as u64;
        let hours = |h: u32| f64::from(h) / 100.0;
        let percentile = |p: u64| -> Option<f64> {
            let rank = (p * count).div_ceil(100).max(1);
            sorted.get(usize::try_from(rank - 1).ok()?).copied().map(hours)
        };
        Stats {
            count,
            p50_business_hours: percentile(50),
            p90_business_hours: percentile(90),
            max_business_hours: sorted.last().copied().map(hours),
        }
    }

    /// The durations in order: as kept, or ordered now after sums appended them.
    fn sorted(&self) -> std::borrow::Cow<'_, [u32]> {
        if self.0.is_sorted() {
            std::borrow::Cow::Borrowed(&self.0)
        } else {
            let mut sorted = self.0.clone();
            sorted.sort_unstable();
            std::borrow::Cow::Owned(sorted)
        }
    }
}

impl Serialize for Durations {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.sorted().serialize(serializer)
    }
}

impl Sum for Durations {
    fn add(&mut self, other: &Self) {
        self.0.extend_from_slice(&other.0);
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
    fn given_partitions_of_days_when_grouped_then_a_period_reads_the_partitions_of_its_days() {
        // Given a flag and, later, its resolution on 30 September at Adams, and a purchase of 1
        // October at Lincoln: each in the partition of its day.
        let mut september: Rollup<Count> = Rollup::default();
        september.entry(day("2024-09-30"), "adams").0 += 1;
        september.entry(day("2024-09-30"), "adams").0 += 2;
        let mut october: Rollup<Count> = Rollup::default();
        october.entry(day("2024-10-01"), "lincoln").0 += 5;
        let (sep_key, oct_key) =
            (partition_key(day("2024-09-30")), partition_key(day("2024-10-01")));
        assert_eq!((sep_key.as_str(), oct_key.as_str()), ("2024-09-30", "2024-10-01"));
        let partitions = [(sep_key.as_str(), &september), (oct_key.as_str(), &october)];

        // When grouped over all time.
        let all = group(partitions, &ReportPeriod::default());
        let (all, by_school, by_month) =
            all.finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        assert_eq!(all, ("all".to_owned(), 8));
        assert_eq!(by_school, [("adams".to_owned(), 3), ("lincoln".to_owned(), 5)]);
        assert_eq!(by_month, [("2024-09".to_owned(), 3), ("2024-10".to_owned(), 5)]);

        // When grouped over 30 September only, or from 1 October: the partitions of those days.
        let period = ReportPeriod::between(Some(day("2024-09-30")), Some(day("2024-09-30")));
        let (all, _, _) =
            group(partitions, &period).finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        assert_eq!(all.1, 3);
        let period = ReportPeriod::between(Some(day("2024-10-01")), None);
        let (all, _, _) =
            group(partitions, &period).finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        assert_eq!(all.1, 5);
        assert_eq!(partitions_of(&period), (Some("2024-10-01".to_owned()), None));
        let september = ReportPeriod::between(None, Some(day("2024-09-30")));
        assert_eq!(partitions_of(&september), (None, Some("2024-09-30".to_owned())));
        assert_eq!(partitions_of(&ReportPeriod::default()), (None, None));
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
        d.add(TimeDelta::minutes(15));
        d.add(TimeDelta::minutes(90));
        assert_eq!(serde_json::to_value(&d).unwrap(), serde_json::json!([25, 150, 150]));
        assert_eq!(
            serde_json::from_value::<Durations>(serde_json::json!([25, 150, 150])).unwrap(),
            d
        );
    }
}
