//! The identifiers of card statements: [`CardLast4`] and [`BankReference`].

use serde::{Deserialize, Serialize};

use super::{ValueError, quote, string_schema, string_value};

/// The last four digits of a purchasing card's number: exactly four ASCII digits (`"4821"`).
/// The whole number is never stored: statements show only these, and they are enough to
/// attribute a transaction to a card the district registered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardLast4(String);

impl CardLast4 {
    /// Parses four digits such as `"4821"`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        if input.len() == 4 && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(ValueError::new(
                "card's last four digits",
                format!(
                    "the last four digits of a card must be exactly four digits, like \"4821\"; found {}",
                    quote(input)
                ),
            ))
        }
    }

    /// The last four digits of a card number as a statement prints it, masked or not
    /// (`"************4821"`, `"XXXX-XXXX-XXXX-4821"`, `"4821"`): the last four digits in it.
    pub fn from_card_number(input: &str) -> Result<Self, ValueError> {
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        match digits.len() {
            4.. => Self::parse(&digits[digits.len() - 4..]),
            _ => Self::parse(input),
        }
    }
}

string_value!(
    CardLast4,
    string_schema(
        "The last four digits of a purchasing card's number.",
        Some("^[0-9]{4}$"),
        Some(4),
        Some(4),
        "4821",
    )
);

/// The card issuer's reference for one transaction: 1 to 128 visible ASCII characters, as
/// the statement gives it. It is the transaction's identity: the same reference in two
/// statements is one transaction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BankReference(String);

impl BankReference {
    /// Parses a reference such as `"24692164129100012345678"`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let ok =
            !input.is_empty() && input.len() <= 128 && input.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(ValueError::new(
                "bank reference",
                format!(
                    "a transaction reference must be 1 to 128 visible ASCII characters (no spaces); found {}",
                    quote(input)
                ),
            ))
        }
    }
}

string_value!(
    BankReference,
    string_schema(
        "The card issuer's reference for a transaction: its identity across statements.",
        Some("^[!-~]{1,128}$"),
        Some(1),
        Some(128),
        "24692164129100012345678",
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_four_digits_come_from_masked_numbers_too() {
        assert_eq!(CardLast4::parse("4821").unwrap().as_str(), "4821");
        assert_eq!(CardLast4::from_card_number("************4821").unwrap().as_str(), "4821");
        assert_eq!(CardLast4::from_card_number("XXXX-XXXX-XXXX-0042").unwrap().as_str(), "0042");
        assert!(CardLast4::parse("482").is_err());
        assert!(CardLast4::parse("48a1").is_err());
        assert!(CardLast4::from_card_number("XXXX").is_err());
    }

    #[test]
    fn references_are_visible_ascii() {
        assert!(BankReference::parse("2469-2164 1").is_err());
        assert!(BankReference::parse("").is_err());
        assert_eq!(BankReference::parse("T-1").unwrap().to_string(), "T-1");
        let json = serde_json::to_string(&BankReference::parse("T-1").unwrap()).unwrap();
        assert_eq!(json, "\"T-1\"");
        assert!(serde_json::from_str::<BankReference>("\"a b\"").is_err());
    }
}
