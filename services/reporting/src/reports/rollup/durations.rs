//! Durations as a rollup keeps them: each in hundredths of a business hour, stored in order as
//! a short string.
//!
//! **Stored.** A report reads every duration of its period (a percentile needs them one by
//! one), so how they are stored is most of what a read of response times or SLA costs. They
//! are kept in order, as the steps from each to the next (the first from zero), and each step
//! in base 32 with the digits of [`DIGITS`]: its last digit from the first half
//! (`0`–`9`, `A`–`V`), the ones before it from the second (`W`–`Z`, `a`–`z`, `-`, `_`). The
//! durations of an entry are close together, so most steps are one or two characters: `[25,
//! 150, 150]` is `"PZT0"` (25; 125 = 3 × 32 + 29; 0). A JSON string is read with no parsing of
//! numbers and stored by the database as text, and a reader that does not want the durations
//! (the promises report, of the held purchases' figures) passes over it at once. A list of the
//! numbers, as they were once stored, still reads.
//!
//! **Exact percentiles.** Rounding to the hundredth keeps the order of the durations, so the
//! nearest-rank percentile of the rounded ones is the percentile of the durations as printed,
//! the same figure a sort of every duration gives ([`Stats::of`]).

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use super::super::figures::Stats;
use super::Sum;

/// Durations of business time, each in hundredths of an hour (36 seconds, rounded to the
/// nearest), which is what the reports print. Stored in order, as a string of the steps from
/// each to the next (see the module): an entry sees a few durations, mostly distinct, and a
/// report reads every one of its period's. Summing groups of them ([`Sum`]) appends, and the
/// statistics find their ranks without ordering them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durations(Vec<u32>);

impl Durations {
    /// Counts one duration (a negative one as zero), in order.
    pub fn add(&mut self, duration: TimeDelta) {
        let h = hundredths(duration);
        let at = self.0.partition_point(|d| *d <= h);
        self.0.insert(at, h);
    }

    /// Takes back each of `counted` (durations this one was once given, as [`Sum::add`] gave
    /// them), one each; an error, and nothing taken, should one not be here.
    pub fn take_back(&mut self, counted: &Durations) -> Result<(), String> {
        if counted.0.is_empty() {
            // Nearly every count: nothing to take back, nothing to copy.
            return Ok(());
        }
        let mut left = self.0.clone();
        for h in &counted.0 {
            let at = left.iter().position(|d| d == h).ok_or_else(|| {
                format!("durations: {h} hundredths of an hour to take back were never counted")
            })?;
            left.remove(at);
        }
        self.0 = left;
        Ok(())
    }

    /// Whether none is counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many durations are counted.
    pub fn count(&self) -> u64 {
        self.0.len() as u64
    }

    /// The count, median, 90th percentile (nearest rank) and maximum. Kept in order, read
    /// off; summed from several entries (appended), found without ordering them all: a
    /// report's group may hold every held purchase's duration.
    pub fn stats(&self) -> Stats {
        let count = self.0.len();
        let hours = |h: u32| f64::from(h) / 100.0;
        // The index of the nearest rank of the `p`th percentile.
        let rank = |p: usize| (p * count).div_ceil(100).max(1) - 1;
        let (p50, p90, max) = if count == 0 {
            (None, None, None)
        } else if self.0.is_sorted() {
            (Some(self.0[rank(50)]), Some(self.0[rank(90)]), self.0.last().copied())
        } else {
            let ([p50, p90], max) = at_ranks(&self.0, [rank(50), rank(90)]);
            (Some(p50), Some(p90), Some(max))
        };
        Stats {
            count: count as u64,
            p50_business_hours: p50.map(hours),
            p90_business_hours: p90.map(hours),
            max_business_hours: max.map(hours),
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
        serializer.serialize_str(&encode(&self.sorted()))
    }
}

impl<'de> Deserialize<'de> for Durations {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Steps;

        impl<'de> serde::de::Visitor<'de> for Steps {
            type Value = Durations;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("durations: a string of steps, or a list of hundredths of an hour")
            }

            fn visit_str<E: serde::de::Error>(self, steps: &str) -> Result<Durations, E> {
                decode(steps).map(Durations).map_err(E::custom)
            }

            /// A list of hundredths, as they were once stored.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Durations, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<u32>()? {
                    values.push(value);
                }
                Ok(Durations(values))
            }
        }

        deserializer.deserialize_any(Steps)
    }
}

/// The digits of the steps: a step's last digit is one of the first 32, the others of the
/// last 32 (a digit's value is its place in its half).
const DIGITS: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/// Sorted values as the steps from each to the next (the first from zero), each in base 32,
/// its most significant digits first.
fn encode(sorted: &[u32]) -> String {
    let mut out = Vec::with_capacity(sorted.len() * 2);
    let mut previous = 0;
    for value in sorted {
        let mut step = value - previous;
        previous = *value;
        let mut digits = [0u8; 7];
        let mut at = digits.len() - 1;
        digits[at] = DIGITS[(step % 32) as usize];
        step /= 32;
        while step > 0 {
            at -= 1;
            digits[at] = DIGITS[(32 + step % 32) as usize];
            step /= 32;
        }
        out.extend_from_slice(&digits[at..]);
    }
    String::from_utf8(out).expect("the digits are ASCII")
}

/// The values [`encode`] wrote, in order; an error for a character that is not a digit, a step
/// left unfinished, or a value past `u32::MAX`.
fn decode(steps: &str) -> Result<Vec<u32>, String> {
    let mut values = Vec::with_capacity(steps.len());
    let (mut value, mut step) = (0u32, 0u32);
    let mut within = false;
    for c in steps.bytes() {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            b'-' => 62,
            b'_' => 63,
            _ => return Err(format!("durations: {:?} is not a digit", char::from(c))),
        };
        step = step
            .checked_mul(32)
            .and_then(|s| s.checked_add(u32::from(digit % 32)))
            .ok_or("durations: a step past the largest")?;
        within = digit >= 32;
        if !within {
            value = value.checked_add(step).ok_or("durations: a value past the largest")?;
            values.push(value);
            step = 0;
        }
    }
    if within {
        return Err("durations: the last step is unfinished".into());
    }
    Ok(values)
}

impl Sum for Durations {
    fn add(&mut self, other: &Self) {
        self.0.extend_from_slice(&other.0);
    }
}

/// The values at `ranks` (indices into `values` ordered, the first at or below the second)
/// and the largest value, of values in any order (at least one). Counted when the values are
/// dense (a large group's durations, a few thousand hundredths of an hour apart at most: one
/// pass and a walk over the counts), else selected.
fn at_ranks(values: &[u32], [low, high]: [usize; 2]) -> ([u32; 2], u32) {
    let max = values.iter().copied().max().unwrap_or(0);
    if (max as usize) < 4 * values.len() {
        let mut counts = vec![0u32; max as usize + 1];
        values.iter().for_each(|v| counts[*v as usize] += 1);
        let (ranks, mut found, mut next, mut seen) = ([low, high], [max; 2], 0, 0usize);
        for (value, n) in counts.iter().enumerate() {
            seen += *n as usize;
            // Every rank below the values seen so far is this value.
            while next < 2 && ranks[next] < seen {
                found[next] = value as u32;
                next += 1;
            }
            if next == 2 {
                break;
            }
        }
        (found, max)
    } else {
        let mut values = values.to_vec();
        let (below, at_high, _) = values.select_nth_unstable(high);
        let at_high = *at_high;
        // The low rank is at or below the high one: among those selected below it.
        let at_low = if low < high { *below.select_nth_unstable(low).1 } else { at_high };
        ([at_low, at_high], max)
    }
}

/// A duration in hundredths of an hour, rounded to the nearest as [`Stats::of`] rounds hours.
fn hundredths(duration: TimeDelta) -> u32 {
    let micros = duration.num_microseconds().unwrap_or(i64::MAX).max(0);
    let h = (micros as f64 / 36_000_000.0).round();
    if h >= f64::from(u32::MAX) { u32::MAX } else { h as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn given_counted_durations_when_some_are_taken_back_then_only_those_go() {
        let of = |minutes: &[i64]| {
            let mut d = Durations::default();
            minutes.iter().for_each(|m| d.add(TimeDelta::minutes(*m)));
            d
        };
        // Given 30, 60, 60 and 90 minutes summed from two entries (appended, not in order).
        let mut counted = of(&[60, 90]);
        Sum::add(&mut counted, &of(&[30, 60]));
        // When one 60 and the 90 are taken back, then one of each goes.
        counted.take_back(&of(&[60, 90])).unwrap();
        assert_eq!(counted.stats(), of(&[30, 60]).stats());
        // When one never counted is asked for, then nothing goes, and it says so.
        let before = counted.clone();
        let refused = counted.take_back(&of(&[30, 45])).unwrap_err();
        assert!(refused.contains("never counted"), "{refused}");
        assert_eq!(counted, before);
        // Taking back none changes nothing.
        counted.take_back(&Durations::default()).unwrap();
        assert_eq!(counted, before);
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
    fn durations_are_stored_as_steps_in_base_32() {
        let mut d = Durations::default();
        d.add(TimeDelta::minutes(90));
        d.add(TimeDelta::minutes(15));
        d.add(TimeDelta::minutes(90));
        assert_eq!(serde_json::to_value(&d).unwrap(), serde_json::json!("PZT0"));
        assert_eq!(serde_json::from_value::<Durations>(serde_json::json!("PZT0")).unwrap(), d);
        // As they were once stored.
        let listed = serde_json::json!([25, 150, 150]);
        assert_eq!(serde_json::from_value::<Durations>(listed).unwrap(), d);
        assert_eq!(serde_json::to_value(Durations::default()).unwrap(), serde_json::json!(""));
        // The largest value, and what is not steps.
        let largest = Durations(vec![0, u32::MAX]);
        let stored = serde_json::to_value(&largest).unwrap();
        assert_eq!(serde_json::from_value::<Durations>(stored).unwrap(), largest);
        for wrong in ["P!", "PZ", "3_________", "0V3_______V"] {
            let json = serde_json::json!(wrong);
            assert!(serde_json::from_value::<Durations>(json).is_err(), "{wrong}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Summed entries' statistics, ranks selected, are those of every duration ordered.
        #[test]
        fn selected_percentiles_are_those_of_every_duration(
            parts in proptest::collection::vec(proptest::collection::vec(0i64..6000, 0..20), 0..6),
            dense in proptest::collection::vec(proptest::collection::vec(0i64..90, 0..60), 0..6),
        ) {
            // Sparse values are selected, dense ones counted.
            let parts = if dense.iter().map(Vec::len).sum::<usize>() > 40 { dense } else { parts };
            let mut sum = Durations::default();
            for part in &parts {
                let mut entry = Durations::default();
                part.iter().for_each(|m| entry.add(TimeDelta::minutes(*m)));
                Sum::add(&mut sum, &entry);
            }
            let every: Vec<TimeDelta> = parts.iter().flatten().map(|m| TimeDelta::minutes(*m)).collect();
            proptest::prop_assert_eq!(sum.stats(), Stats::of(every));
        }

        /// Whatever the values, they read back as they were, in order.
        #[test]
        fn durations_read_back_as_stored(values in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..50)) {
            let durations = Durations(values.clone());
            let stored = serde_json::to_string(&durations).unwrap();
            let mut sorted = values;
            sorted.sort_unstable();
            proptest::prop_assert_eq!(serde_json::from_str::<Durations>(&stored).unwrap(), Durations(sorted));
        }
    }
}
