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
//! when it becomes so ([`DaySpend::of`], a delta added to its date's entry and its month's) and
//! takes away exactly what it added when it stops being so. Sums, and entries, that come to
//! nothing are removed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::rollup::Sum;
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

impl DaySpend {
    /// What counting `item` once (`sign` 1) or taking it away (`sign` -1) adds to an entry.
    pub fn of(item: Spent<'_>, sign: i64) -> Self {
        let mut delta = Self::default();
        delta.count(item, sign);
        delta
    }
}

impl Sum for DaySpend {
    /// Adds `other`'s sums; sums, and currencies, that come to nothing are removed.
    fn add(&mut self, other: &Self) {
        for (code, spend) in &other.0 {
            let currency = self.0.entry(code.clone()).or_default();
            for (vendor, s) in &spend.vendors {
                bump(&mut currency.vendors, vendor, *s);
            }
            for (band, s) in &spend.bands {
                bump(&mut currency.bands, band, *s);
            }
            if currency.vendors.is_empty() && currency.bands.is_empty() {
                self.0.remove(code);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::super::rollup::Rollup;
    use super::*;

    #[test]
    fn an_item_taken_away_leaves_nothing_behind() {
        let day: NaiveDate = "2024-09-03".parse().unwrap();
        let best_buy = Spent { currency: "USD", vendor: " BEST BUY ", cents: 60_000 };
        let dell = Spent { currency: "USD", vendor: "Dell", cents: 100 };
        let mut rollup = Rollup::default();
        rollup.add(day, "a", &DaySpend::of(best_buy, 1));
        rollup.add(day, "a", &DaySpend::of(dell, 1));
        assert_eq!(
            serde_json::to_value(&rollup).unwrap(),
            serde_json::json!({"2024-09-03": {"a": {"USD": {
                "vendors": {"BEST BUY": {"count": 1, "cents": 60000}, "Dell": {"count": 1, "cents": 100}},
                "bands": {"500-2500": {"count": 1, "cents": 60000}, "under-500": {"count": 1, "cents": 100}},
            }}}})
        );
        rollup.add(day, "a", &DaySpend::of(dell, -1));
        rollup.add(day, "a", &DaySpend::of(best_buy, -1));
        assert_eq!(rollup, Rollup::default());
        // Taken away from an entry that did not count it: a negative entry.
        let mut later = Rollup::default();
        later.add(day, "a", &DaySpend::of(dell, -1));
        assert_eq!(
            later.days[&day]["a"].0["USD"].vendors["Dell"],
            Spend { count: -1, cents: -100 }
        );
    }
}
