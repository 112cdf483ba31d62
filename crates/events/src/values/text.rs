//! Human text: [`ShortText`] (names, one line) and [`LongText`] (notes, several lines).

use serde::{Deserialize, Serialize};

use super::{ValueError, string_schema, string_value};

/// Trims `input` and checks it is non-empty, at most `max` characters, and free of control
/// characters (except line breaks and tabs when `multiline`). `\r\n` becomes `\n`.
fn parse_text(
    what: &'static str,
    input: &str,
    max: usize,
    multiline: bool,
) -> Result<String, ValueError> {
    let text = if multiline { input.replace("\r\n", "\n") } else { input.to_owned() };
    let text = text.trim();
    if text.is_empty() {
        return Err(ValueError::new(what, format!("the {what} must not be empty")));
    }
    let len = text.chars().count();
    if len > max {
        return Err(ValueError::new(
            what,
            format!("the {what} may be at most {max} characters long; it has {len}"),
        ));
    }
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        let message = if multiline {
            format!("the {what} may not contain control characters other than line breaks and tabs")
        } else {
            format!("the {what} must be a single line without tabs or control characters")
        };
        return Err(ValueError::new(what, message));
    }
    Ok(text.to_owned())
}

/// A short piece of human text on one line: a name, a description, a vendor. Trimmed, then 1
/// to [`ShortText::MAX`] (200) characters with no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortText(String);

impl ShortText {
    /// The most characters a short text may have.
    pub const MAX: usize = 200;

    /// Parses a short text, trimming it first.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        parse_text("text", input, Self::MAX, false).map(Self)
    }
}

string_value!(
    ShortText,
    string_schema(
        "Text on one line, 1 to 200 characters after trimming.",
        Some(
            r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
        ),
        Some(1),
        Some(ShortText::MAX),
        "Latitude 5440 laptop",
    )
);

/// A longer piece of human text: notes, reasons, goals. Trimmed, then 1 to
/// [`LongText::MAX`] (4000) characters; line breaks and tabs are allowed (`\r\n` is stored as
/// `\n`), other control characters are not.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LongText(String);

impl LongText {
    /// The most characters a long text may have.
    pub const MAX: usize = 4000;

    /// Parses a long text, trimming it and storing `\r\n` as `\n`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        parse_text("text", input, Self::MAX, true).map(Self)
    }
}

string_value!(
    LongText,
    string_schema(
        "Text of 1 to 4000 characters after trimming; line breaks and tabs allowed.",
        Some(
            r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
        ),
        Some(1),
        Some(LongText::MAX),
        "Needs laptops the district can image for the new robotics club.",
    )
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::test_support::de_err;

    #[test]
    fn short_text() {
        assert_eq!(ShortText::parse("  Dell Latitude  ").unwrap().as_str(), "Dell Latitude");
        assert_eq!(ShortText::parse("Café Ünïcode").unwrap().as_str(), "Café Ünïcode");
        assert!(ShortText::parse(&"é".repeat(200)).is_ok());
        assert!(ShortText::parse(&"é".repeat(201)).unwrap_err().message().contains("200"));
        for bad in ["", "   ", "a\nb", "a\tb", "a\u{7}b"] {
            assert!(ShortText::parse(bad).is_err(), "{bad:?}");
        }
        assert!(de_err::<ShortText>("\" \"").contains("must not be empty"));
    }

    #[test]
    fn long_text() {
        assert_eq!(LongText::parse(" a\r\nb\tc \n").unwrap().as_str(), "a\nb\tc");
        assert!(LongText::parse(&"x".repeat(4000)).is_ok());
        assert!(LongText::parse(&"x".repeat(4001)).is_err());
        for bad in ["", "\n\t ", "a\rb", "a\u{0}b", "a\u{1b}b"] {
            assert!(LongText::parse(bad).is_err(), "{bad:?}");
        }
        let t: LongText = serde_json::from_str("\"line one\\nline two\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"line one\\nline two\"");
    }
}
