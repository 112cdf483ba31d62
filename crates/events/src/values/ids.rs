//! Identifiers and codes: [`SchoolId`], [`ThemeId`], [`Category`], [`Sku`], [`VendorId`], [`Mcc`],
//! [`ExternalRef`], [`IdempotencyKey`].

use serde::{Deserialize, Serialize};

use super::{ValueError, quote, string_schema, string_value};

/// The longest slug, SKU or vendor id.
const MAX_ID: usize = 64;
/// The longest external reference or idempotency key.
const MAX_REF: usize = 128;

/// Checks the slug shape: 1 to 64 of `a-z 0-9 -`, no `-` at either end or twice in a row.
fn check_slug(what: &'static str, example: &str, input: &str) -> Result<(), ValueError> {
    let fail = |why: &str| {
        Err(ValueError::new(
            what,
            format!(
                "a {what} {why}: use 1 to {MAX_ID} lowercase letters, digits and single '-' between them, like {example:?}; found {}",
                quote(input)
            ),
        ))
    };
    if input.is_empty() {
        return fail("must not be empty");
    }
    if input.len() > MAX_ID {
        return fail("is too long");
    }
    if !input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return fail("may contain only lowercase letters, digits and '-'");
    }
    if input.starts_with('-') || input.ends_with('-') || input.contains("--") {
        return fail("may not start or end with '-' or have two in a row");
    }
    Ok(())
}

/// Checks 1 to 64 of `A-Z a-z 0-9 - _ .`.
fn check_code(what: &'static str, example: &str, input: &str) -> Result<(), ValueError> {
    let ok = !input.is_empty()
        && input.len() <= MAX_ID
        && input.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ValueError::new(
            what,
            format!(
                "a {what} must be 1 to {MAX_ID} letters, digits, '-', '_' or '.', like {example:?}; found {}",
                quote(input)
            ),
        ))
    }
}

/// Checks 1 to 128 visible ASCII characters.
fn check_ref(what: &'static str, input: &str) -> Result<(), ValueError> {
    let ok =
        !input.is_empty() && input.len() <= MAX_REF && input.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ValueError::new(
            what,
            format!(
                "an {what} must be 1 to {MAX_REF} visible ASCII characters (no spaces); found {}",
                quote(input)
            ),
        ))
    }
}

/// Declares a slug identifier `$name(String)`, checked by [`check_slug`] and kept as given,
/// with its string plumbing and its schema (`$description`, the slug pattern, 1 to 64
/// characters, `$example`).
macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $example:literal, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Parses a ", $what, " such as `", $example, "`.")]
            pub fn parse(input: &str) -> Result<Self, ValueError> {
                check_slug($what, $example, input)?;
                Ok(Self(input.to_owned()))
            }
        }

        string_value!(
            $name,
            string_schema(
                $description,
                Some("^[a-z0-9]+(-[a-z0-9]+)*$"),
                Some(1),
                Some(MAX_ID),
                $example,
            )
        );
    };
}

/// Declares a reference `$name(String)` of 1 to 128 visible ASCII characters, checked by
/// [`check_ref`] and kept as given, with its string plumbing and its schema (`$description`,
/// `$example`).
macro_rules! visible_ref {
    ($(#[$doc:meta])* $name:ident, $what:literal, $example:literal, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Parses an ", $what, ".")]
            pub fn parse(input: &str) -> Result<Self, ValueError> {
                check_ref($what, input)?;
                Ok(Self(input.to_owned()))
            }
        }

        string_value!(
            $name,
            string_schema($description, Some("^[!-~]+$"), Some(1), Some(MAX_REF), $example)
        );
    };
}

slug_id!(
    /// A school's id, a slug the district chooses: `lincoln-elem`. 1 to 64 of `a-z 0-9 -`, no
    /// `-` at either end or twice in a row. Not trimmed or lowercased: it names a stream
    /// (`school-lincoln-elem`) and a URL path, so it must arrive exact.
    SchoolId,
    "school id",
    "lincoln-elem",
    "A school's id: a slug of lowercase letters, digits and single '-'."
);

slug_id!(
    /// A theme of IT's vision for the district, a slug IT chooses: `digital-equity`. 1 to 64 of
    /// `a-z 0-9 -`, no `-` at either end or twice in a row.
    ThemeId,
    "theme id",
    "digital-equity",
    "A theme of IT's vision: a slug of lowercase letters, digits and single '-'."
);

/// A purchase line's or product's category, such as `laptops` or `software`: the input is
/// trimmed and lowercased, then must be a slug (1 to 64 of `a-z 0-9 -`, no `-` at either end
/// or twice in a row).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    /// Parses a category, trimming and lowercasing it first (` Laptops ` is `laptops`).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let normalized = input.trim().to_lowercase();
        check_slug("category", "laptops", &normalized)?;
        Ok(Self(normalized))
    }
}

string_value!(
    Category,
    string_schema(
        "A category slug such as `laptops` or `software`, at most 64 characters once trimmed and lowercased on input.",
        Some(r"^\s*[A-Za-z0-9]+(-[A-Za-z0-9]+)*\s*$"),
        Some(1),
        None,
        "laptops",
    )
);

/// Declares a code `$name(String)` of 1 to 64 of `A-Z a-z 0-9 - _ .`, checked by
/// [`check_code`] and kept case-folded by `$fold` (so codes compare case-insensitively), with
/// its string plumbing and its schema (`$description`, `$example`).
macro_rules! code_id {
    (
        $(#[$doc:meta])* $name:ident, $what:literal, $example:literal,
        $(#[$parse_doc:meta])* $fold:ident, $description:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            $(#[$parse_doc])*
            pub fn parse(input: &str) -> Result<Self, ValueError> {
                check_code($what, $example, input)?;
                Ok(Self(input.$fold()))
            }
        }

        string_value!(
            $name,
            string_schema($description, Some("^[A-Za-z0-9._-]+$"), Some(1), Some(MAX_ID), $example)
        );
    };
}

code_id!(
    /// A product's stock keeping unit: 1 to 64 of `A-Z a-z 0-9 - _ .`. SKUs compare
    /// case-insensitively, so a SKU is stored uppercase (`lat-5440` becomes `LAT-5440`).
    Sku,
    "SKU",
    "LAT-5440",
    /// Parses a SKU, uppercasing it (`lat-5440` is `LAT-5440`).
    to_ascii_uppercase,
    "A stock keeping unit: letters, digits, '-', '_' and '.'; compared case-insensitively and sent back uppercase."
);

code_id!(
    /// An approved-vendor list's key for a vendor: 1 to 64 of `A-Z a-z 0-9 - _ .`, stored
    /// lowercase (`CDW` becomes `cdw`), so ids compare case-insensitively.
    ///
    /// A purchase check names its vendor in free text; the gate matches that text against both
    /// vendor ids and vendor names, ignoring case.
    VendorId,
    "vendor id",
    "cdw-g",
    /// Parses a vendor id, lowercasing it (`CDW-G` is `cdw-g`).
    to_ascii_lowercase,
    "A vendor's id: letters, digits, '-', '_' and '.'; compared case-insensitively and sent back lowercase."
);

/// A card network's merchant category code: exactly four digits, as a string (`"5734"`,
/// computer software stores), since leading zeros matter (`"0742"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mcc(String);

impl Mcc {
    /// Parses a merchant category code such as `"5734"`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        if input.len() == 4 && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(ValueError::new(
                "merchant category code",
                format!(
                    "a merchant category code must be exactly four digits, as a string like \"5734\"; found {}",
                    quote(input)
                ),
            ))
        }
    }
}

string_value!(
    Mcc,
    string_schema(
        "A merchant category code: exactly four digits, as a string.",
        Some("^[0-9]{4}$"),
        Some(4),
        Some(4),
        "5734",
    )
);

visible_ref!(
    /// The caller's own id for a purchase (its requisition or card-transaction number): 1 to 128
    /// visible ASCII characters. With the caller's identity it makes purchase checks idempotent.
    ExternalRef,
    "external reference",
    "REQ-2024-00173",
    "The caller's own id for the purchase: 1 to 128 visible ASCII characters."
);

visible_ref!(
    /// The value of an `Idempotency-Key` header: 1 to 128 visible ASCII characters.
    IdempotencyKey,
    "idempotency key",
    "0b8e6f5c-2b9e-4c53-9c1c-6f7f4f0c1d2e",
    "An idempotency key: 1 to 128 visible ASCII characters."
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::test_support::de_err;

    /// Each of `bad` is refused.
    fn refuses<T: std::str::FromStr>(bad: &[&str]) {
        for input in bad {
            assert!(input.parse::<T>().is_err(), "{input:?}");
        }
    }

    #[test]
    fn school_id() {
        for good in ["lincoln-elem", "a", "ps-118", "x1-y2-z3", &"a".repeat(64)] {
            assert_eq!(SchoolId::parse(good).unwrap().as_str(), good);
        }
        let bad = ["", "Lincoln", "-a", "a-", "a--b", "a b", "a_b", " a", "é", &"a".repeat(65)];
        refuses::<SchoolId>(&bad);
        assert!(SchoolId::parse("A").unwrap_err().message().contains("lowercase"));
        assert!(de_err::<SchoolId>("\"Lincoln\"").contains("lincoln-elem"));
        let id: SchoolId = serde_json::from_str("\"lincoln-elem\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"lincoln-elem\"");
    }

    #[test]
    fn category_is_trimmed_and_lowercased() {
        assert_eq!(Category::parse(" Laptops ").unwrap().as_str(), "laptops");
        assert_eq!(Category::parse("network-gear").unwrap().as_str(), "network-gear");
        refuses::<Category>(&["", "  ", "lap tops", "a--b", "-x", "x_y", &"a".repeat(65)]);
        let c: Category = serde_json::from_str("\"SOFTWARE\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"software\"");
    }

    #[test]
    fn sku_is_uppercased() {
        assert_eq!(Sku::parse("lat-5440").unwrap().as_str(), "LAT-5440");
        assert_eq!(Sku::parse("a.b_c-1").unwrap().as_str(), "A.B_C-1");
        refuses::<Sku>(&["", "a b", "a/b", "é", " x", &"a".repeat(65)]);
        assert_eq!(Sku::parse("x").unwrap(), Sku::parse("X").unwrap());
        assert!(de_err::<Sku>("\"a/b\"").contains("SKU"));
    }

    #[test]
    fn vendor_id_is_lowercased() {
        assert_eq!(VendorId::parse("CDW-G").unwrap().as_str(), "cdw-g");
        assert_eq!(VendorId::parse("b_h.photo").unwrap().as_str(), "b_h.photo");
        refuses::<VendorId>(&["", "cdw g", "cdw/g", &"a".repeat(65)]);
        let v: VendorId = serde_json::from_str("\"Apple\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"apple\"");
    }

    #[test]
    fn mcc() {
        assert_eq!(Mcc::parse("5734").unwrap().as_str(), "5734");
        assert_eq!(Mcc::parse("0742").unwrap().as_str(), "0742");
        refuses::<Mcc>(&["", "573", "57345", "57a4", " 573", "٥٧٣٤"]);
        assert!(de_err::<Mcc>("5734").contains("invalid type"));
    }

    #[test]
    fn refs() {
        assert_eq!(ExternalRef::parse("REQ-1/2#x").unwrap().as_str(), "REQ-1/2#x");
        assert_eq!(IdempotencyKey::parse(&"k".repeat(128)).unwrap().as_str().len(), 128);
        for bad in ["", "a b", "tab\t", "é", &"k".repeat(129)] {
            assert!(ExternalRef::parse(bad).is_err(), "{bad:?}");
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(de_err::<ExternalRef>("\"\"").contains("1 to 128"));
        let r: ExternalRef = serde_json::from_str("\"PO-7\"").unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"PO-7\"");
    }
}
