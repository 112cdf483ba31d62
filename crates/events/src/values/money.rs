//! [`Money`]: an amount as a decimal string, held as whole cents.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::{Quantity, ValueError, quote, string_schema};

const WHAT: &str = "money amount";

/// An amount of money, in the currency the surrounding record names: a decimal string on the
/// wire (`"499.00"`), whole cents inside.
///
/// Accepted: digits, optionally a `.` and one or two more digits (`"5"`, `"5.5"`, `"499.00"`,
/// `"0"`), from `0` to [`Money::MAX`] (`100000000.00`). Refused: JSON numbers (a float loses
/// cents), negative amounts, a `+` sign, exponents, thousands separators, more than two
/// decimals, spaces. Always serialized with exactly two decimals (`"5"` becomes `"5.00"`).
///
/// Arithmetic is checked: [`checked_add`](Money::checked_add) and
/// [`checked_mul`](Money::checked_mul) return `None` past [`Money::MAX`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);
    /// The largest amount procgate accepts: 100,000,000.00.
    pub const MAX: Money = Money(10_000_000_000);

    /// Parses a decimal string such as `"499.00"`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let shape = || {
            ValueError::new(
                WHAT,
                format!(
                    "an amount must be written as digits with at most two decimals, like \"499.00\"; found {}",
                    quote(input)
                ),
            )
        };
        if input.len() > 32 {
            return Err(ValueError::new(
                WHAT,
                format!("an amount is written in at most 32 characters; found {}", input.len()),
            ));
        }
        if input.is_empty() {
            return Err(ValueError::new(
                WHAT,
                "an amount must not be empty; write it like \"499.00\"",
            ));
        }
        if input.starts_with('-') {
            return Err(ValueError::new(
                WHAT,
                format!("an amount must not be negative; found {}", quote(input)),
            ));
        }
        let (whole, fraction) = match input.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (input, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape());
        }
        let cents_part = match fraction {
            None => 0,
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(shape());
            }
            Some(f) if f.len() > 2 => {
                return Err(ValueError::new(
                    WHAT,
                    format!(
                        "an amount may have at most two decimals (whole cents); found {}",
                        quote(input)
                    ),
                ));
            }
            Some(f) => {
                let digits: i64 = f.parse().map_err(|_| shape())?;
                if f.len() == 1 { digits * 10 } else { digits }
            }
        };
        let too_large = || {
            ValueError::new(
                WHAT,
                format!("an amount may be at most {}; found {}", Money::MAX, quote(input)),
            )
        };
        let whole = whole.trim_start_matches('0');
        if whole.len() > 12 {
            return Err(too_large());
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| shape())? };
        let cents = whole.checked_mul(100).and_then(|c| c.checked_add(cents_part));
        match cents {
            Some(c) if c <= Self::MAX.0 => Ok(Money(c)),
            _ => Err(too_large()),
        }
    }

    /// The amount of `cents` cents, if it is within `0..=MAX`.
    pub fn from_cents(cents: i64) -> Result<Self, ValueError> {
        if cents < 0 {
            Err(ValueError::new(
                WHAT,
                format!("an amount must not be negative; found {cents} cents"),
            ))
        } else if cents > Self::MAX.0 {
            Err(ValueError::new(WHAT, format!("an amount may be at most {}", Money::MAX)))
        } else {
            Ok(Money(cents))
        }
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` past [`Money::MAX`].
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).filter(|c| *c <= Self::MAX.0).map(Money)
    }

    /// `self × quantity`, or `None` past [`Money::MAX`].
    pub fn checked_mul(self, quantity: Quantity) -> Option<Money> {
        self.0.checked_mul(i64::from(quantity.get())).filter(|c| *c <= Self::MAX.0).map(Money)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Cents(self.0).fmt(f)
    }
}

/// An amount in cents as a decimal string with two decimals, the way [`Money`] is written
/// (`123456` → `"1234.56"`, `-150` → `"-1.50"`). Sums and differences of amounts can pass
/// [`Money::MAX`] or go below zero, so readers keep them as cents and write them here.
pub fn format_cents(cents: i64) -> String {
    Cents(cents).to_string()
}

/// Cents written with two decimals, without an allocation of its own.
struct Cents(i64);

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let cents = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", cents / 100, cents % 100)
    }
}

impl std::str::FromStr for Money {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Money {
    type Error = ValueError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl TryFrom<String> for Money {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Money> for String {
    fn from(value: Money) -> Self {
        value.to_string()
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MoneyVisitor)
    }
}

/// Accepts strings only; a JSON number gets its own message, because it is the mistake
/// callers actually make.
struct MoneyVisitor;

const NOT_A_NUMBER: &str =
    "an amount must be a decimal string like \"499.00\", not a JSON number (numbers lose cents)";

impl Visitor<'_> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount as a decimal string, like \"499.00\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
        Money::parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Money, E> {
        Err(E::custom(NOT_A_NUMBER))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Money, E> {
        Err(E::custom(NOT_A_NUMBER))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Money, E> {
        Err(E::custom(NOT_A_NUMBER))
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "An amount of money as a decimal string with at most two decimals, from 0 to 100000000.00; never a JSON number. Sent back with exactly two decimals.",
            Some(r"^[0-9]+(\.[0-9]{1,2})?$"),
            Some(1),
            Some(32),
            "499.00",
        )
    }
}

impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::test_support::de_err;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn parses_good_amounts() {
        assert_eq!(m("499.00").cents(), 49_900);
        assert_eq!(m("5").cents(), 500);
        assert_eq!(m("5.5").cents(), 550);
        assert_eq!(m("5.05").cents(), 505);
        assert_eq!(m("0").cents(), 0);
        assert_eq!(m("0.01").cents(), 1);
        assert_eq!(m("007.10").cents(), 710);
        assert_eq!(m("100000000.00"), Money::MAX);
        assert_eq!(m("100000000"), Money::MAX);
    }

    #[test]
    fn given_cents_of_any_sign_then_they_are_written_with_two_decimals() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(123_456), "1234.56");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(-550), "-5.50");
        assert_eq!(format_cents(1_000_000_000_000), "10000000000.00");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn displays_two_decimals() {
        assert_eq!(m("5").to_string(), "5.00");
        assert_eq!(m("5.5").to_string(), "5.50");
        assert_eq!(m("0.07").to_string(), "0.07");
        assert_eq!(m("1234.56").to_string(), "1234.56");
        assert_eq!(Money::MAX.to_string(), "100000000.00");
    }

    #[test]
    fn refuses_bad_amounts() {
        for bad in [
            "",
            " 5",
            "5 ",
            "-5",
            "+5",
            "1e3",
            "5.",
            ".5",
            "5.001",
            "1,000.00",
            "abc",
            "5.5.5",
            "100000000.01",
            "99999999999999999999999",
            "0x10",
            "５",
            "NaN",
            "inf",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Money::parse("-5").unwrap_err().message().contains("negative"));
        assert!(Money::parse("5.001").unwrap_err().message().contains("two decimals"));
        assert!(Money::parse("100000000.01").unwrap_err().message().contains("at most"));
        assert_eq!(Money::parse("x").unwrap_err().what(), "money amount");
    }

    #[test]
    fn serde_round_trips_as_string() {
        let v: Money = serde_json::from_str("\"5\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"5.00\"");
        let back: Money =
            serde_json::from_str(&serde_json::to_string(&m("499.99")).unwrap()).unwrap();
        assert_eq!(back, m("499.99"));
    }

    #[test]
    fn refuses_json_numbers() {
        for json in ["499.0", "499", "-1", "4.99e2"] {
            let err = de_err::<Money>(json);
            assert!(err.contains("not a JSON number"), "{json}: {err}");
        }
        assert!(de_err::<Money>("\"1.234\"").contains("two decimals"));
        assert!(de_err::<Money>("null").contains("decimal string"));
    }

    #[test]
    fn checked_arithmetic() {
        let q = |n| Quantity::new(n).unwrap();
        assert_eq!(m("499.99").checked_mul(q(3)), Some(m("1499.97")));
        assert_eq!(m("1.00").checked_add(m("2.50")), Some(m("3.50")));
        assert_eq!(Money::MAX.checked_add(m("0.01")), None);
        assert_eq!(m("50000000.01").checked_mul(q(2)), None);
        assert_eq!(Money::MAX.checked_mul(q(100_000)), None);
        assert!(Money::from_cents(-1).is_err());
        assert!(Money::from_cents(10_000_000_001).is_err());
        assert_eq!(Money::from_cents(12).unwrap().to_string(), "0.12");
    }

    proptest::proptest! {
        #[test]
        fn display_parse_round_trip(cents in 0i64..=10_000_000_000) {
            let money = Money::from_cents(cents).unwrap();
            proptest::prop_assert_eq!(Money::parse(&money.to_string()).unwrap(), money);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = Money::parse(&s);
        }
    }
}
