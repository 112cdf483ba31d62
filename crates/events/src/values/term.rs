//! [`TechnologyTerm`]: a word or product name that marks a purchase line as technology, and how
//! a description is searched for it (whole words, ignoring case).

use serde::{Deserialize, Serialize};

use super::{ValueError, quote, string_schema, string_value};

/// A word or a product name that names technology (`laptop`, `3D printer`, `access point`),
/// as the gate policy lists them: trimmed, 1 to [`TechnologyTerm::MAX`] characters on one line,
/// with at least one ASCII letter or digit. Kept as given, for people; matched ignoring case.
///
/// A description **names** a term ([`TechnologyTerm::found_in`]) when the term's words appear
/// in it as whole words, one after the other. Words are the runs of letters and digits, so
/// punctuation and spaces between them do not matter (`Wi-Fi` is `wi fi`); the term's last
/// word may also appear with a plural `s` or `es` (`laptops`, `3D printers`, `iPads`). So
/// `tablet` is found in `"Tablets (3) for reading groups"` but not in `"Tablespoons"`, and
/// `monitor` not in `"Monitoring service"`.
///
/// ```
/// use events::values::TechnologyTerm;
///
/// let printer = TechnologyTerm::parse("3D printer").unwrap();
/// assert!(printer.found_in("Two 3D printers for the maker space"));
/// assert!(printer.found_in("3d PRINTER filament kit"));
/// assert!(!printer.found_in("Printer paper"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TechnologyTerm(String);

impl TechnologyTerm {
    /// The longest term.
    pub const MAX: usize = 64;

    /// Parses a term, trimming it first.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let term = input.trim();
        let fail = |why: &str| {
            Err(ValueError::new(
                "technology term",
                format!(
                    "a technology term {why}, like \"laptop\" or \"3D printer\"; found {}",
                    quote(input)
                ),
            ))
        };
        if term.chars().count() > Self::MAX {
            return fail("may be at most 64 characters long");
        }
        if term.chars().any(|c| c.is_ascii_control()) {
            return fail("must be on one line");
        }
        if !term.chars().any(|c| c.is_ascii_alphanumeric()) {
            return fail("needs at least one letter or digit (A-Z, 0-9)");
        }
        Ok(Self(term.to_owned()))
    }

    /// Whether `description` names this term: its words, as whole words, one after the other,
    /// ignoring case (the last one may be plural).
    pub fn found_in(&self, description: &str) -> bool {
        let wanted = words(&self.0);
        let text = words(description);
        let Some((last, first)) = wanted.split_last() else { return false };
        if text.len() < wanted.len() {
            return false;
        }
        text.windows(wanted.len()).any(|window| {
            let (end, start) = window.split_last().expect("windows are not empty");
            start == first
                && (end == last
                    || end
                        .strip_prefix(last.as_str())
                        .is_some_and(|rest| rest == "s" || rest == "es"))
        })
    }
}

/// The words of `text`: its runs of letters and digits, lowercased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

string_value!(
    TechnologyTerm,
    string_schema(
        "A word or product name that names technology, matched in line descriptions as whole words, ignoring case (the last word may be plural): 1 to 64 characters with at least one ASCII letter or digit.",
        Some(r"^[^\x00-\x1F\x7F]*[A-Za-z0-9][^\x00-\x1F\x7F]*$"),
        Some(1),
        Some(TechnologyTerm::MAX),
        "3D printer",
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    fn term(s: &str) -> TechnologyTerm {
        TechnologyTerm::parse(s).unwrap()
    }

    #[test]
    fn terms_are_trimmed_and_need_a_word() {
        assert_eq!(term("  iPad ").as_str(), "iPad");
        for bad in ["", "   ", "--", "a\nb", &"x".repeat(65)] {
            assert!(TechnologyTerm::parse(bad).is_err(), "{bad:?}");
        }
        assert!(TechnologyTerm::parse(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn whole_words_ignoring_case() {
        let laptop = term("laptop");
        assert!(laptop.found_in("Dell LAPTOP, 14 inch"));
        assert!(laptop.found_in("laptop"));
        assert!(laptop.found_in("Gaming laptops for the esports club"));
        assert!(laptop.found_in("laptop's charger"));
        assert!(!laptop.found_in("Laptopbag"));
        assert!(!laptop.found_in("Desktop"));
        let tablet = term("tablet");
        assert!(!tablet.found_in("Tablespoons, 2 boxes"));
        assert!(!term("monitor").found_in("Monitoring service"));
        assert!(term("iPad").found_in("ipads x3"));
        assert!(term("switch").found_in("Network switches"));
    }

    #[test]
    fn several_words_in_order() {
        let access_point = term("access point");
        assert!(access_point.found_in("Wireless ACCESS POINTS for the gym"));
        assert!(access_point.found_in("access-point"));
        assert!(!access_point.found_in("point of access"));
        assert!(!access_point.found_in("access"));
        assert!(term("Wi-Fi").found_in("wi fi extender"));
        assert!(term("software licence").found_in("Reading software licences, 30 seats"));
        assert!(!term("software licence").found_in("software"));
        assert!(term("3D printer").found_in("3d printers"));
    }

    #[test]
    fn serializes_as_given() {
        let t: TechnologyTerm = serde_json::from_str("\" Chromebook \"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"Chromebook\"");
        assert!(serde_json::from_str::<TechnologyTerm>("\"?!\"").is_err());
    }
}
