//! [`Quantity`]: how many of a line's item are bought.

use serde::{Deserialize, Serialize};

use super::{ValueError, int_value};

/// How many units a purchase line buys: a whole number from 1 to [`Quantity::MAX`] (100,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// The largest quantity one line may have.
    pub const MAX: u32 = 100_000;

    /// A quantity of `n`, if `1 <= n <= 100000`.
    pub fn new(n: u32) -> Result<Self, ValueError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(ValueError::new(
                "quantity",
                format!("a quantity must be a whole number from 1 to {}; found {n}", Self::MAX),
            ))
        }
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

int_value!(Quantity(u32), 1, Quantity::MAX, "How many units: a whole number from 1 to 100000.", 3);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::test_support::de_err;

    #[test]
    fn bounds() {
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert_eq!(Quantity::new(100_000).unwrap().get(), 100_000);
        assert!(Quantity::new(0).unwrap_err().message().contains("1 to 100000"));
        assert!(Quantity::new(100_001).is_err());
    }

    #[test]
    fn serde() {
        let q: Quantity = serde_json::from_str("3").unwrap();
        assert_eq!(serde_json::to_string(&q).unwrap(), "3");
        assert!(de_err::<Quantity>("0").contains("from 1 to 100000"));
        assert!(de_err::<Quantity>("-1").contains("invalid value"));
        assert!(de_err::<Quantity>("2.5").contains("invalid type"));
        assert!(de_err::<Quantity>("\"3\"").contains("invalid type"));
    }
}
