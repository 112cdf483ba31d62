//! The value types of procgate's published language: "parse, don't validate".
//!
//! Each type's constructor refuses bad input with a [`ValueError`] whose
//! [`message`](ValueError::message) a person can act on, so code that holds a `SchoolId` or a
//! `Money` cannot hold garbage. Deserializing goes through the same constructors, so an event or
//! request with an invalid value fails to decode rather than smuggling it in. Each type has an
//! OpenAPI schema (`utoipa::ToSchema`) stating its shape: type, pattern, bounds, example.
//!
//! | type | accepts | stored / serialized as |
//! |---|---|---|
//! | [`Money`] | a JSON *string* of digits with at most 2 decimals, `0` to `100000000.00`; never a JSON number, a sign, an exponent or spaces | cents (`i64`); always 2 decimals: `"5"` becomes `"5.00"` |
//! | [`Quantity`] | an integer `1..=100000` | JSON number |
//! | [`Currency`] | an active ISO 4217 alphabetic code, uppercase ([`CURRENCY_CODES`]) | `"USD"` |
//! | [`Email`] | `local@domain.tld`: see [`Email`] | the domain lowercased |
//! | [`SchoolId`], [`Category`] | slugs: `a-z`, `0-9`, single `-` between; 1 to 64 characters | as given (a category is trimmed and lowercased first) |
//! | [`Sku`] | 1 to 64 of `A-Z a-z 0-9 - _ .` | uppercased (SKUs compare case-insensitively) |
//! | [`VendorId`] | 1 to 64 of `A-Z a-z 0-9 - _ .` | lowercased |
//! | [`Mcc`] | exactly 4 digits, as a string (`"5734"`) | as given |
//! | [`ExternalRef`], [`IdempotencyKey`] | 1 to 128 visible ASCII characters (`!` to `~`) | as given |
//! | [`ShortText`] | 1 to 200 characters on one line, trimmed | trimmed |
//! | [`LongText`] | 1 to 4000 characters, trimmed; tabs and line breaks allowed | trimmed, `\r\n` as `\n` |
//! | [`PaymentMethod`] | `purchase_order`, `p_card`, `reimbursement` | the same |
//! | [`CardLast4`] | exactly 4 digits (`"4821"`); from a masked card number, its last four digits | as given |
//! | [`BankReference`] | 1 to 128 visible ASCII characters | as given |
//! | [`TechnologyTerm`] | 1 to 64 characters on one line, at least one ASCII letter or digit, trimmed | as given; matched as whole words, ignoring case |
//!
//! Identifiers are never trimmed: a space in a school id or an external reference is an error,
//! because silently changing an identifier hides the caller's bug. Human text (names,
//! descriptions, categories) is trimmed.

mod card;
mod currency;
mod email;
mod ids;
mod money;
mod payment;
mod quantity;
mod term;
mod text;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

pub use card::{BankReference, CardLast4};
pub use currency::{CURRENCY_CODES, Currency};
pub use email::Email;
pub use ids::{Category, ExternalRef, IdempotencyKey, Mcc, SchoolId, Sku, ThemeId, VendorId};
pub use money::{Money, format_cents};
pub use payment::PaymentMethod;
pub use quantity::Quantity;
pub use term::TechnologyTerm;
pub use text::{LongText, ShortText};

/// Why a value was refused: which kind of value, and a sentence a person can act on.
///
/// Services map it to a field error of a `validation` problem (the field name is theirs to
/// know): `FieldError::new("lines[2].unit_price", err.message())`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    what: &'static str,
    message: String,
}

impl ValueError {
    pub(crate) fn new(what: &'static str, message: impl Into<String>) -> Self {
        Self { what, message: message.into() }
    }

    /// What is wrong, as a sentence a person can act on ("a school id may contain only …").
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind of value refused, in words ("school id", "money amount").
    pub fn what(&self) -> &'static str {
        self.what
    }
}

/// The input, shortened for quoting in an error message.
pub(crate) fn quote(input: &str) -> String {
    const MAX: usize = 40;
    if input.chars().count() <= MAX {
        format!("{input:?}")
    } else {
        let head: String = input.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

/// A string schema with a description, an optional pattern and length bounds, and an example.
pub(crate) fn string_schema(
    description: &str,
    pattern: Option<&str>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    example: &str,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .min_length(min_length)
        .max_length(max_length)
        .examples([serde_json::Value::from(example)])
        .into()
}

/// Implements the string plumbing of a string newtype `$name(String)` that has
/// `fn parse(&str) -> Result<Self, ValueError>`: `TryFrom<String>`/`TryFrom<&str>`, `FromStr`,
/// `Into<String>`, `AsRef<str>`, `Display`, and `ToSchema` with the schema given.
macro_rules! string_value {
    ($name:ident, $schema:expr) => {
        impl $name {
            /// The value as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::values::ValueError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::values::ValueError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::values::ValueError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0.into()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use string_value;

/// Declares the plumbing of a whole number `$name($int)` whose `new` checks its range: `get`,
/// serde through `$int` (with `#[serde(try_from = "…", into = "…")]` on the type), and its
/// schema: an integer from `$min` to `$max`, `$description`, `$example`.
macro_rules! int_value {
    ($name:ident($int:ty), $min:expr, $max:expr, $description:literal, $example:literal) => {
        impl $name {
            /// The number.
            pub fn get(self) -> $int {
                self.0
            }
        }

        impl TryFrom<$int> for $name {
            type Error = $crate::values::ValueError;
            fn try_from(value: $int) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for $int {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                    .description(Some($description))
                    .minimum(Some($min))
                    .maximum(Some($max))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use int_value;

#[cfg(test)]
pub(crate) mod test_support {
    use serde::de::DeserializeOwned;

    /// Deserializes `json` as `T`, expecting failure, and returns the error message.
    pub fn de_err<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
        match serde_json::from_str::<T>(json) {
            Ok(v) => panic!("{json} should not deserialize, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }
}
