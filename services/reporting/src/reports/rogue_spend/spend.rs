//! The rollups the rogue-spend report reads: what the unchecked technology transactions (kept
//! by [`super::super::card_spend`]) and the advisory purchases (kept by
//! [`super::super::purchases`]) of one school came to on one day, in a
//! [rollup](super::super::rollup) of [`DaySpend`] entries.
//!
//! An entry keeps, per currency, a count and a sum of cents by the vendor as spelled (spaces
//! around it trimmed: the report groups spellings without regard to case, and names a group by
//! one of them) and by amount band: what the report regroups when it is asked, by school and
//! before or after signing (the agreements change seldom, and a day falls on one side of them
//! only when the report is asked), by month, by vendor and by band. Sums only: a request reads
//! the entries of its days, not one document per purchase or transaction.
//!
//! The sums are signed. A card transaction counts while it is unchecked: the projection adds it
//! when it becomes so and takes away exactly what it added when it stops being so, in the
//! partition of the event that changed it (the day and the rest stay the transaction's). So the
//! figures of a day are the sum of its entries over every partition, and an entry of one
//! partition may be negative. Entries that come to nothing are removed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::super::rollup::Rollup;
use super::band;

/// One school's spend of one kind on one day, per currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DaySpend(pub BTreeMap<String, CurrencySpend>);

/// Spend in one currency: by vendor as spelled, and by amount band.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CurrencySpend {
    /// By the vendor's (or the card's merchant's) name, spaces around it trimmed.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vendors: BTreeMap<String, Spend>,
    /// By amount band (`under-500`, …), as the report names them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bands: BTreeMap<String, Spend>,
}

/// How many, and their cents (both signed: see the module).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    pub count: i64,
    pub cents: i64,
}

impl Spend {
    /// Adds `other`.
    pub fn add(&mut self, other: &Spend) {
        self.count += other.count;
        self.cents += other.cents;
    }

    fn is_nothing(&self) -> bool {
        *self == Spend::default()
    }
}

/// One purchase or transaction: what it counts in an entry.
#[derive(Debug, Clone, Copy)]
pub struct Spent<'a> {
    pub currency: &'a str,
    /// As spelled (spaces around it are trimmed here).
    pub vendor: &'a str,
    pub cents: i64,
}

impl DaySpend {
    /// Counts `item` once (`sign` 1) or takes it away (`sign` -1).
    pub fn count(&mut self, item: Spent<'_>, sign: i64) {
        let spend = Spend { count: sign, cents: sign * item.cents };
        let currency = self.0.entry(item.currency.to_owned()).or_default();
        bump(&mut currency.vendors, item.vendor.trim(), spend);
        bump(&mut currency.bands, band(item.cents), spend);
        if currency.vendors.is_empty() && currency.bands.is_empty() {
            self.0.remove(item.currency);
        }
    }

    /// Whether it counts nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn bump(sums: &mut BTreeMap<String, Spend>, key: &str, spend: Spend) {
    let sum = sums.entry(key.to_owned()).or_default();
    sum.add(&spend);
    if sum.is_nothing() {
        sums.remove(key);
    }
}

/// Counts `item` of `school` on `day` in `rollup` (`sign` 1), or takes it away (`sign` -1);
/// an entry, and a day, that come to nothing are removed.
pub fn count(
    rollup: &mut Rollup<DaySpend>,
    day: NaiveDate,
    school: &str,
    item: Spent<'_>,
    sign: i64,
) {
    rollup.entry(day, school).count(item, sign);
    let Some(schools) = rollup.days.get_mut(&day) else { return };
    if schools.get(school).is_some_and(DaySpend::is_empty) {
        schools.remove(school);
    }
    if schools.is_empty() {
        rollup.days.remove(&day);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_taken_away_leaves_nothing_behind() {
        let day: NaiveDate = "2024-09-03".parse().unwrap();
        let best_buy = Spent { currency: "USD", vendor: " BEST BUY ", cents: 60_000 };
        let dell = Spent { currency: "USD", vendor: "Dell", cents: 100 };
        let mut rollup = Rollup::default();
        count(&mut rollup, day, "a", best_buy, 1);
        count(&mut rollup, day, "a", dell, 1);
        assert_eq!(
            serde_json::to_value(&rollup).unwrap(),
            serde_json::json!({"2024-09-03": {"a": {"USD": {
                "vendors": {"BEST BUY": {"count": 1, "cents": 60000}, "Dell": {"count": 1, "cents": 100}},
                "bands": {"500-2500": {"count": 1, "cents": 60000}, "under-500": {"count": 1, "cents": 100}},
            }}}})
        );
        count(&mut rollup, day, "a", dell, -1);
        count(&mut rollup, day, "a", best_buy, -1);
        assert_eq!(rollup, Rollup::default());
        // Taken away in another partition: a negative entry, which the first one cancels.
        let mut later = Rollup::default();
        count(&mut later, day, "a", dell, -1);
        assert_eq!(
            later.days[&day]["a"].0["USD"].vendors["Dell"],
            Spend { count: -1, cents: -100 }
        );
    }
}
