//! Rollups: a report's figures summed by the district's day and school as the events arrive,
//! so that a report reads a few documents whatever the length of the log, not one document per
//! purchase or promise.
//!
//! A rollup is kept in **partitions** at two grains ([`Grains`]): one document per district
//! day that figures count on ([`partition_key`]), and sixteen per month, each for the schools a
//! stable hash of their id puts there ([`month_partition_key`]). A projection that learns
//! something (a held purchase flagged, its first reached call, its resolution) works out what
//! it adds (a delta of the rollup's entry type, [`Sum`]) and adds it ([`add`]) to the entry of
//! the day the figure counts by (the flag's, say) and the school, in that day's partition, and
//! to the school's entry in its partition of that month (under the month's first day). The day
//! is often known only from the purchase's own document (a call does not say when its purchase
//! was flagged): the projection asks for both partitions as it applies the event, and the store
//! fetches them in another round ([`eventlog::projection`]). Every figure kept is a sum
//! (counts, cents, durations), so a month's entry is the sum of its days', and a group of days
//! or months sums their entries.
//!
//! A report asked for a period reads each of its whole months from the month partitions and
//! only the days of the months it covers in part from the day partitions ([`reads`]: at most
//! three range reads), sums their entries into all, by school and by month ([`Grouped`]), and
//! is done: the work is in the number of months, schools and odd days, not of purchases, except
//! for durations, which percentiles need one by one: an entry keeps its purchases' durations in
//! order as a short string ([`Durations`]: one or two characters each), and the percentiles are
//! counted or selected rather than every duration ordered. A report that must tell apart the
//! days of some months (rogue spend: before or after a school signed, in or out of the days the
//! card statements cover) reads those months by day too ([`reads_splitting`]).
//!
//! What a projection writes back after a batch, or after each event as it follows the log, is
//! a day's partition and the month partitions of the schools it changed, a sixteenth of a
//! month's schools each. History entered after the fact (a district moving years of purchases
//! in one afternoon) spreads over the days and months it happened on, as live history does: no
//! partition grows with the log. (Adoption's spend, by day and currency, is a rollup by day
//! alone: [`partition`], [`days_of`].)
//!
//! **Measured when they happen.** A rollup takes the district's day and business time in the
//! calendar in force when the projection applies the event (the district's `district-settings`
//! events are in the log before the events they govern), so a figure once measured stays as it
//! was: a later change of time zone, hours or closures counts from then on and does not rewrite
//! the figures of past months. (`procgate rebuild reporting` measures every event again the same
//! way: each in the calendar in force at its place in the log.)
//!
//! **Exact percentiles.** Durations are kept in hundredths of a business hour
//! ([`Durations`]): the precision the reports print, so a percentile of them is the percentile
//! of the durations as printed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{Datelike, Months, NaiveDate};
use eventlog::DocKey;
use events::district::District;
use serde::{Deserialize, Serialize};

use super::ReportPeriod;
use kernel::{Documents, Recorded};
use serde::de::DeserializeOwned;

use super::clocks::{DISTRICT_KEY, DistrictDoc};
use super::figures::{Grouped, month_of_day};

mod durations;
pub use durations::Durations;

/// The partition of a rollup that holds the entries of the district's `day` (`2024-09-02`), or
/// at the month grain, of the month that starts on `day`. Keys sort as their days do.
pub fn partition_key(day: NaiveDate) -> String {
    day.to_string()
}

/// The first day of `day`'s month: the day a month partition keeps its entries under.
pub fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The partition of a rollup's month grain that holds `school`'s entry for the month that
/// starts on `month`: one of [`MONTH_BUCKETS`] a month (`2024-09-01/07`), the school's by a
/// hash of its id that never changes. A month split among a few partitions keeps a write
/// small (it rewrites a sixteenth of a month's schools, not all of them) and a read of many
/// months a few documents a month; their keys sort by month first, so a range of months is
/// one range of keys ([`reads`]).
pub fn month_partition_key(month: NaiveDate, school: &str) -> String {
    // FNV-1a, 32 bits: stable across builds and platforms, as stored keys must be.
    let hash =
        school.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("{month}{MONTH_SEPARATOR}{:02}", hash % MONTH_BUCKETS)
}

/// How many partitions a month of a rollup is split among, by school.
pub const MONTH_BUCKETS: u32 = 16;

/// What separates the month from the bucket in a month partition's key.
const MONTH_SEPARATOR: char = '/';

/// The month a partition's key names (a day partition's key is its day's).
fn month_of_key(key: &str) -> &str {
    key.split_once(MONTH_SEPARATOR).map_or(key, |(month, _)| month)
}

/// The last key of the month partitions of the month that starts on `month`: after all of
/// them (the character after the separator sorts after every digit).
fn last_month_key(month: NaiveDate) -> String {
    format!("{month}{MONTH_SEPARATOR}{}", char::MAX)
}

/// A rollup's two collections: its partitions by day, and by month (a few a month, by school).
/// A month partition holds the sum of each of its schools' entries of the month's days, under
/// the month's first day ([`first_of_month`]), so a period reads its whole months a few
/// documents each, and only the days of the months it covers in part ([`reads`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grains {
    pub days: &'static str,
    pub months: &'static str,
}

impl Grains {
    /// Both collections, for a read model's [`kernel::ReadModel::collections`].
    pub fn collections(self) -> [&'static str; 2] {
        [self.days, self.months]
    }

    /// The keys of the partitions that hold `school`'s entries on `day`: the day's, and its
    /// month's.
    pub fn keys(self, day: NaiveDate, school: &str) -> [DocKey; 2] {
        [
            DocKey::new(self.days, partition_key(day)),
            DocKey::new(self.months, month_partition_key(first_of_month(day), school)),
        ]
    }
}

/// Adds `delta` to the entry of `school` on `day`, in the day's partition and in its month's.
/// The partitions are often asked for only as the event is applied (the day is in an item's
/// own document): the store then fetches both in another round ([`eventlog::projection`]).
/// An entry that comes to nothing (its figures all zero, [`Default`]) is removed.
pub fn add<D, E>(
    docs: &mut Documents<'_, D>,
    grains: Grains,
    day: NaiveDate,
    school: &str,
    delta: &E,
    event: &Recorded<'_>,
) -> Result<(), String>
where
    D: Serialize + DeserializeOwned,
    E: Sum + PartialEq + Serialize + DeserializeOwned + Send + 'static,
{
    change(docs, grains, day, school, event, |entry: &mut E| entry.add(delta))
}

/// Changes the entry of `school` on `day` with `f`, in the day's partition and in its month's
/// (as [`add`] does): for what a sum cannot say, such as a duration taken back. An entry that
/// comes to nothing is removed.
pub fn change<D, E>(
    docs: &mut Documents<'_, D>,
    grains: Grains,
    day: NaiveDate,
    school: &str,
    event: &Recorded<'_>,
    f: impl Fn(&mut E),
) -> Result<(), String>
where
    D: Serialize + DeserializeOwned,
    E: Default + PartialEq + Serialize + DeserializeOwned + Send + 'static,
{
    let month = first_of_month(day);
    // Both partitions are asked for before either error is answered, so that a round that
    // misses them learns of both at once.
    let [day_key, month_key] = grains.keys(day, school);
    let days = docs
        .entry_in::<Rollup<E>>(grains.days, &day_key.key, event)
        .map(|rollup| rollup.change(day, school, &f));
    let months = docs.entry_in::<Rollup<E>>(grains.months, &month_key.key, event)?;
    months.change(month, school, &f);
    days
}

/// The partition of `collection` that holds the entries of `day`, to change in place for the
/// batch: for a rollup kept by day only (where a report needs every day's entries). Often
/// asked for only as the event is applied: the store then fetches it in another round.
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

/// The read of the day partitions of `collection` that `period` needs (open where the period
/// is): for a rollup kept by day alone.
pub fn days_of(collection: &'static str, period: &ReportPeriod) -> Read {
    Read {
        collection,
        first: period.from.map(partition_key),
        last: period.to.map(partition_key),
        skip: BTreeSet::new(),
    }
}

/// A read of a rollup's partitions: those of `collection` whose keys lie between `first` and
/// `last` (both included; open where `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub collection: &'static str,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Months in that range to pass over (their partition keys' months): read by day instead.
    pub skip: BTreeSet<String>,
}

impl Read {
    /// Whether the partition at `key` is one to read.
    pub fn wants(&self, key: &str) -> bool {
        self.first.as_deref().is_none_or(|first| key >= first)
            && self.last.as_deref().is_none_or(|last| key <= last)
            && !self.skip.contains(month_of_key(key))
    }
}

/// The reads of `grains`' partitions that `period` needs, each partition once: its whole
/// months from the month partitions, the days of the months it covers only in part from the
/// day partitions (the days before its first whole month, and after its last). A period
/// within a month, or across two without a whole one, reads its days.
pub fn reads(grains: Grains, period: &ReportPeriod) -> Vec<Read> {
    reads_splitting(grains, period, &BTreeSet::new())
}

/// As [`reads`], with the whole months that start on the days of `split` read by day too: for
/// a report that must tell the days of those months apart (rogue spend, in the months a
/// school signed).
pub fn reads_splitting(
    grains: Grains,
    period: &ReportPeriod,
    split: &BTreeSet<NaiveDate>,
) -> Vec<Read> {
    let read = |collection, from, to| days_of(collection, &ReportPeriod::between(from, to));
    // The first day of the first and of the last whole month (open: the log's first or last).
    let first_whole = match period.from {
        None => Some(None),
        Some(from) if from.day() == 1 => Some(Some(from)),
        Some(from) => next_month(from).map(Some),
    };
    let last_whole = match period.to {
        None => Some(None),
        Some(to) if to.succ_opt().is_none_or(|next| next.day() == 1) => {
            Some(Some(first_of_month(to)))
        }
        Some(to) => first_of_month(to).pred_opt().map(|end| Some(first_of_month(end))),
    };
    let (Some(first_whole), Some(last_whole)) = (first_whole, last_whole) else {
        return vec![read(grains.days, period.from, period.to)];
    };
    if let (Some(first), Some(last)) = (first_whole, last_whole)
        && first > last
    {
        return vec![read(grains.days, period.from, period.to)];
    }
    let mut reads = Vec::with_capacity(3);
    if let (Some(from), Some(first)) = (period.from, first_whole)
        && from < first
    {
        reads.push(read(grains.days, Some(from), first.pred_opt()));
    }
    let mut months =
        Read { last: last_whole.map(last_month_key), ..read(grains.months, first_whole, None) };
    let split: Vec<&NaiveDate> =
        split.iter().filter(|month| months.wants(&partition_key(**month))).collect();
    for month in split {
        months.skip.insert(partition_key(*month));
        let last = next_month(*month).and_then(|next| next.pred_opt());
        reads.push(read(grains.days, Some(*month), last.or(Some(NaiveDate::MAX))));
    }
    reads.push(months);
    if let (Some(to), Some(last)) = (period.to, last_whole)
        && let Some(after) = next_month(last)
        && after <= to
    {
        reads.push(read(grains.days, Some(after), Some(to)));
    }
    reads
}

/// The first day of the month after `day`'s.
fn next_month(day: NaiveDate) -> Option<NaiveDate> {
    first_of_month(day).checked_add_months(Months::new(1))
}

/// The partitions `period` needs of `grains`, from every document of a store kept in memory
/// (`store`: what [`kernel::testing::project`] gives), read as a report reads them
/// ([`reads`]).
#[cfg(test)]
pub fn read_in_memory<E: DeserializeOwned>(
    store: &BTreeMap<DocKey, serde_json::Value>,
    grains: Grains,
    period: &ReportPeriod,
) -> Vec<Rollup<E>> {
    read_splitting_in_memory(store, grains, period, &BTreeSet::new())
}

/// As [`read_in_memory`], as [`reads_splitting`] reads.
#[cfg(test)]
pub fn read_splitting_in_memory<E: DeserializeOwned>(
    store: &BTreeMap<DocKey, serde_json::Value>,
    grains: Grains,
    period: &ReportPeriod,
    split: &BTreeSet<NaiveDate>,
) -> Vec<Rollup<E>> {
    reads_splitting(grains, period, split)
        .into_iter()
        .flat_map(|read| {
            store.iter().filter(move |(k, _)| k.collection == read.collection && read.wants(&k.key))
        })
        .map(|(_, doc)| serde_json::from_value(doc.clone()).expect("a rollup partition"))
        .collect()
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

/// Tests build partitions by hand with it; the projections go through [`change`].
#[cfg(test)]
impl<E: Sum + PartialEq> Rollup<E> {
    /// Adds `delta` to the entry of `school` on `day`; removes the entry should it come to
    /// nothing, and the day should it have no entry left.
    pub fn add(&mut self, day: NaiveDate, school: &str, delta: &E) {
        self.change(day, school, |entry| entry.add(delta));
    }
}

impl<E: Default + PartialEq> Rollup<E> {
    /// Changes the entry of `school` on `day` with `f`; removes the entry should it come to
    /// nothing, and the day should it have no entry left.
    pub fn change(&mut self, day: NaiveDate, school: &str, f: impl Fn(&mut E)) {
        let entry = self.entry(day, school);
        f(entry);
        if *entry == E::default() {
            let schools = self.days.entry(day).or_default();
            schools.remove(school);
            if schools.is_empty() {
                self.days.remove(&day);
            }
        }
    }
}

/// A rollup's figures: summed over the entries of a group.
pub trait Sum: Default {
    fn add(&mut self, other: &Self);
}

/// The entries of `partitions` (as [`reads`] finds them) whose day is in `period`, summed over
/// all, by school and by the month of their day. (Entries of other days add nothing: a
/// month partition's entries are under the month's first day, which a period that reads the
/// month holds.)
pub fn group<'a, E: Sum + 'a>(
    partitions: impl IntoIterator<Item = &'a Rollup<E>>,
    period: &ReportPeriod,
) -> Grouped<E> {
    group_into(partitions, period, E::add)
}

/// As [`group`], into a report's own accumulator `A`, which `add` adds an entry to.
pub fn group_into<'a, E: 'a, A: Default>(
    partitions: impl IntoIterator<Item = &'a Rollup<E>>,
    period: &ReportPeriod,
    add: impl Fn(&mut A, &E),
) -> Grouped<A> {
    let (from, to) = (period.from.unwrap_or(NaiveDate::MIN), period.to.unwrap_or(NaiveDate::MAX));
    let mut groups = Grouped::default();
    for rollup in partitions {
        for (day, schools) in rollup.days.range(from..=to) {
            let month = month_of_day(*day);
            for (school, entry) in schools {
                groups.add(school, month.clone(), |acc: &mut A| add(acc, entry));
            }
        }
    }
    groups
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
    use chrono::TimeDelta;

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

    const GRAINS: Grains = Grains { days: "test.by_day", months: "test.by_month" };

    /// `(day, school, count)` entries added as a projection adds them: each to its day's
    /// partition and its month's, in a store kept in memory.
    fn store_of(entries: &[(&str, &str, u64)]) -> BTreeMap<DocKey, serde_json::Value> {
        let mut partitions: BTreeMap<DocKey, Rollup<Count>> = BTreeMap::new();
        for (on, school, n) in entries {
            let on = day(on);
            let [day_key, month_key] = GRAINS.keys(on, school);
            partitions.entry(day_key).or_default().add(on, school, &Count(*n));
            partitions.entry(month_key).or_default().add(first_of_month(on), school, &Count(*n));
        }
        partitions.into_iter().map(|(k, p)| (k, serde_json::to_value(p).unwrap())).collect()
    }

    fn total(store: &BTreeMap<DocKey, serde_json::Value>, period: &ReportPeriod) -> u64 {
        split_total(store, period, &BTreeSet::new())
    }

    fn split_total(
        store: &BTreeMap<DocKey, serde_json::Value>,
        period: &ReportPeriod,
        split: &BTreeSet<NaiveDate>,
    ) -> u64 {
        let partitions: Vec<Rollup<Count>> = read_splitting_in_memory(store, GRAINS, period, split);
        let (all, _, _) =
            group(&partitions, period).finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        all.1
    }

    fn between(from: Option<&str>, to: Option<&str>) -> ReportPeriod {
        ReportPeriod::between(from.map(day), to.map(day))
    }

    #[test]
    fn given_partitions_of_days_and_months_when_grouped_then_a_period_reads_each_entry_once() {
        // Given a flag and, later, its resolution on 30 September at Adams, and a purchase of 1
        // October at Lincoln: each in the partition of its day and of its month.
        let store = store_of(&[
            ("2024-09-30", "adams", 1),
            ("2024-09-30", "adams", 2),
            ("2024-10-01", "lincoln", 5),
        ]);
        let keys: Vec<(&str, &str)> =
            store.keys().map(|k| (k.collection.as_str(), k.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                ("test.by_day", "2024-09-30"),
                ("test.by_day", "2024-10-01"),
                ("test.by_month", month_partition_key(day("2024-09-01"), "adams").as_str()),
                ("test.by_month", month_partition_key(day("2024-10-01"), "lincoln").as_str()),
            ]
        );

        // When grouped over all time: the months, by school and by month.
        let partitions: Vec<Rollup<Count>> =
            read_in_memory(&store, GRAINS, &ReportPeriod::default());
        assert_eq!(partitions.len(), 2, "the months only");
        let (all, by_school, by_month) = group(&partitions, &ReportPeriod::default())
            .finish(&SchoolNames::default(), &|c: Count, k, _| (k, c.0));
        assert_eq!(all, ("all".to_owned(), 8));
        assert_eq!(by_school, [("adams".to_owned(), 3), ("lincoln".to_owned(), 5)]);
        assert_eq!(by_month, [("2024-09".to_owned(), 3), ("2024-10".to_owned(), 5)]);

        // When grouped over 30 September only, from 1 October, or across both months in part.
        assert_eq!(total(&store, &between(Some("2024-09-30"), Some("2024-09-30"))), 3);
        assert_eq!(total(&store, &between(Some("2024-10-01"), None)), 5);
        assert_eq!(total(&store, &between(Some("2024-09-02"), Some("2024-10-30"))), 8);
        assert_eq!(total(&store, &between(None, Some("2024-09-29"))), 0);
        assert_eq!(total(&store, &between(Some("2024-10-02"), None)), 0);
    }

    #[test]
    fn given_a_period_when_planned_then_whole_months_are_read_by_month_and_the_rest_by_day() {
        let plan = |from: Option<&str>, to: Option<&str>| -> Vec<(&str, String, String)> {
            reads(GRAINS, &between(from, to))
                .into_iter()
                .map(|r| {
                    let grain = if r.collection == GRAINS.days { "days" } else { "months" };
                    // A month read's last key is after every school's of its last month.
                    let last = r.last.map(|last| month_of_key(&last).to_owned());
                    (grain, r.first.unwrap_or("…".into()), last.unwrap_or("…".into()))
                })
                .collect()
        };
        let read = |grain, first: &str, last: &str| (grain, first.to_owned(), last.to_owned());
        // All time, and open ends: months.
        assert_eq!(plan(None, None), [read("months", "…", "…")]);
        assert_eq!(plan(Some("2024-09-01"), None), [read("months", "2024-09-01", "…")]);
        assert_eq!(plan(None, Some("2024-09-30")), [read("months", "…", "2024-09-01")]);
        // A school year: its twelve months.
        assert_eq!(
            plan(Some("2024-07-01"), Some("2025-06-30")),
            [read("months", "2024-07-01", "2025-06-01")]
        );
        // Odd days on both sides (February of a leap year ends on the 29th).
        assert_eq!(
            plan(Some("2024-01-15"), Some("2024-03-10")),
            [
                read("days", "2024-01-15", "2024-01-31"),
                read("months", "2024-02-01", "2024-02-01"),
                read("days", "2024-03-01", "2024-03-10"),
            ]
        );
        assert_eq!(
            plan(Some("2024-01-01"), Some("2024-02-29")),
            [read("months", "2024-01-01", "2024-02-01")]
        );
        assert_eq!(
            plan(Some("2024-01-02"), None),
            [read("days", "2024-01-02", "2024-01-31"), read("months", "2024-02-01", "…")]
        );
        assert_eq!(
            plan(None, Some("2024-02-28")),
            [read("months", "…", "2024-01-01"), read("days", "2024-02-01", "2024-02-28")]
        );
        // Within a month, or across two without a whole one: days.
        assert_eq!(
            plan(Some("2024-09-03"), Some("2024-09-20")),
            [read("days", "2024-09-03", "2024-09-20")]
        );
        assert_eq!(
            plan(Some("2024-09-03"), Some("2024-10-20")),
            [read("days", "2024-09-03", "2024-10-20")]
        );
        // Whole months to read by day too: the others stay whole.
        let split = BTreeSet::from([day("2024-02-01"), day("2024-05-01"), day("2023-01-01")]);
        let months =
            reads_splitting(GRAINS, &between(Some("2024-01-15"), Some("2024-04-30")), &split);
        let months: Vec<_> = months
            .iter()
            .map(|r| {
                let skip: Vec<&str> = r.skip.iter().map(String::as_str).collect();
                (r.collection, r.first.as_deref(), r.last.as_deref().map(month_of_key), skip)
            })
            .collect();
        assert_eq!(
            months,
            [
                ("test.by_day", Some("2024-01-15"), Some("2024-01-31"), vec![]),
                ("test.by_day", Some("2024-02-01"), Some("2024-02-29"), vec![]),
                ("test.by_month", Some("2024-02-01"), Some("2024-04-01"), vec!["2024-02-01"]),
            ]
        );
        // The calendar's ends.
        assert_eq!(plan(Some(&NaiveDate::MAX.to_string()), None).len(), 1);
        assert_eq!(plan(None, Some(&NaiveDate::MIN.to_string())).len(), 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever the entries and the period, reading its whole months by month and the rest
        /// by day counts what the days alone count.
        #[test]
        fn months_and_odd_days_count_what_the_days_count(
            entries in proptest::collection::vec((0i64..400, 0usize..3, 1u64..100), 0..60),
            from in proptest::option::of(0i64..400),
            length in proptest::option::of(0i64..400),
            split in proptest::collection::btree_set(0i64..14, 0..4),
        ) {
            let start = day("2024-01-01");
            let on = |n: i64| start + TimeDelta::days(n);
            let days: Vec<(String, &str, u64)> = entries
                .iter()
                .map(|(n, school, count)| (on(*n).to_string(), ["a", "b", "c"][*school], *count))
                .collect();
            let borrowed: Vec<(&str, &str, u64)> =
                days.iter().map(|(d, s, c)| (d.as_str(), *s, *c)).collect();
            let store = store_of(&borrowed);
            let from = from.map(on);
            let to = length.map(|l| from.unwrap_or(start) + TimeDelta::days(l));
            let period = ReportPeriod::between(from, to);
            let expected: u64 = entries
                .iter()
                .filter(|(n, ..)| from.is_none_or(|f| on(*n) >= f) && to.is_none_or(|t| on(*n) <= t))
                .map(|(.., count)| count)
                .sum();
            proptest::prop_assert_eq!(total(&store, &period), expected);
            // And so do months read by day.
            let split: BTreeSet<NaiveDate> = split
                .iter()
                .map(|m| start.checked_add_months(Months::new(*m as u32)).unwrap())
                .collect();
            proptest::prop_assert_eq!(split_total(&store, &period, &split), expected);
        }
    }

    #[test]
    fn a_month_partition_is_named_by_its_month_and_a_stable_bucket_of_the_school() {
        // The keys are stored: the bucket of a school never changes.
        let september = day("2024-09-01");
        assert_eq!(month_partition_key(september, "adams"), "2024-09-01/03");
        assert_eq!(month_partition_key(september, "lincoln-elem"), "2024-09-01/08");
        assert_eq!(month_partition_key(september, ""), "2024-09-01/05");
        // Schools spread over the buckets, all within the month's range of keys.
        let keys: BTreeSet<String> =
            (0..200).map(|n| month_partition_key(september, &format!("school-{n}"))).collect();
        assert_eq!(keys.len(), MONTH_BUCKETS as usize);
        assert!(keys.iter().all(|k| month_of_key(k) == "2024-09-01"));
        assert!(keys.iter().all(|k| k.as_str() < last_month_key(september).as_str()));
        assert!(keys.iter().all(|k| k.as_str() < "2024-09-02"));
    }

    #[test]
    fn a_rollup_is_stored_as_days_and_schools() {
        let mut rollup: Rollup<Count> = Rollup::default();
        rollup.entry(day("2024-09-30"), "adams").0 += 1;
        let json = serde_json::to_value(&rollup).unwrap();
        assert_eq!(json, serde_json::json!({ "2024-09-30": { "adams": 1 } }));
        assert_eq!(serde_json::from_value::<Rollup<Count>>(json).unwrap(), rollup);
    }
}
