//! [`Email`]: a pragmatic e-mail address.

use serde::{Deserialize, Serialize};

use super::{ValueError, quote, string_schema, string_value};

/// The characters RFC 5322 allows in an unquoted local part besides letters and digits.
const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~.-";

/// An e-mail address, checked for a pragmatic shape (not full RFC 5322):
///
/// - at most 254 characters, no spaces or control characters, exactly one `@`;
/// - a local part of 1 to 64 ASCII letters, digits and ``!#$%&'*+/=?^_`{|}~.-``, without a
///   `.` at either end or two in a row (no quoted local parts);
/// - a domain with at least one `.`, whose labels are 1 to 63 ASCII letters, digits and `-`
///   (not at either end of a label), and whose last label is not all digits.
///
/// The domain is stored lowercase (domains are case-insensitive); the local part is kept as
/// given, since a mail server may distinguish case there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The longest address accepted.
    pub const MAX: usize = 254;

    /// Parses an e-mail address, lowercasing its domain.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let fail = |why: &str| {
            Err(ValueError::new(
                "email",
                format!(
                    "an e-mail address {why}, like \"pat.lee@district.org\"; found {}",
                    quote(input)
                ),
            ))
        };
        if input.is_empty() {
            return fail("must not be empty");
        }
        if input.len() > Self::MAX {
            return fail("may be at most 254 characters");
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return fail("may not contain spaces");
        }
        let Some((local, domain)) = input.split_once('@') else {
            return fail("needs an '@'");
        };
        if domain.contains('@') {
            return fail("must have exactly one '@'");
        }
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return fail(
                "needs 1 to 64 letters, digits or ordinary symbols before the '@', with no '.' at either end or two in a row",
            );
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let labels_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
            && labels.last().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
        if !labels_ok {
            return fail(
                "needs a domain after the '@' made of letters, digits and '-' with at least one '.'",
            );
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The part after the `@`, lowercase.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// The address lowercased whole: what tells one person's address from another's across
    /// the district (`Pat.Lee@District.org` and `pat.lee@district.org` are one address; an
    /// address is ASCII, so this is exact). Kept as sent everywhere else.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// Whether `self` and `other` are one address ([`key`](Self::key)).
    pub fn is(&self, other: &Email) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

string_value!(
    Email,
    string_schema(
        "An e-mail address: one '@', a local part of at most 64 characters, a domain with a '.'; the domain is sent back lowercase.",
        Some(
            r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9-]*[A-Za-z-][A-Za-z0-9-]*$",
        ),
        Some(3),
        Some(Email::MAX),
        "pat.lee@district.org",
    )
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::test_support::de_err;

    #[test]
    fn one_address_whatever_its_case() {
        let sent = Email::parse("Pat.Lee@District.org").unwrap();
        let again = Email::parse("pat.lee@district.org").unwrap();
        assert_eq!(sent.as_str(), "Pat.Lee@district.org", "the local part is kept as sent");
        assert!(sent.is(&again) && again.is(&sent));
        assert_eq!(sent.key(), "pat.lee@district.org");
        assert_eq!(sent.key(), again.key());
        assert!(!sent.is(&Email::parse("pat.leee@district.org").unwrap()));
    }

    #[test]
    fn good_addresses() {
        assert_eq!(Email::parse("Pat.Lee@District.ORG").unwrap().as_str(), "Pat.Lee@district.org");
        assert_eq!(Email::parse("a+tag@x-y.k12.us").unwrap().domain(), "x-y.k12.us");
        assert!(Email::parse("o'brien@schools.example").is_ok());
        let local = "l".repeat(64);
        assert!(Email::parse(&format!("{local}@d.org")).is_ok());
    }

    #[test]
    fn bad_addresses() {
        let long_domain = format!("a@{}.org", vec!["d".repeat(63); 4].join("."));
        for bad in [
            "",
            "plain",
            "@district.org",
            "pat@",
            "pat@district",
            "pat@@district.org",
            "pat@dis@trict.org",
            "pat lee@district.org",
            " pat@district.org",
            "pat@district.org\n",
            ".pat@district.org",
            "pat.@district.org",
            "pa..t@district.org",
            "pat@-district.org",
            "pat@district-.org",
            "pat@district..org",
            "pat@district.org.",
            "pat@dist_rict.org",
            "pat@10.0.0.1",
            "pät@district.org",
            "pat@distrïct.org",
            "\"pat\"@district.org",
            &format!("{}@d.org", "l".repeat(65)),
            &long_domain,
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse("pat").unwrap_err().message().contains("'@'"));
    }

    #[test]
    fn serde() {
        let e: Email = serde_json::from_str("\"Pat@District.org\"").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"Pat@district.org\"");
        assert!(de_err::<Email>("\"nope\"").contains("e-mail"));
    }
}
