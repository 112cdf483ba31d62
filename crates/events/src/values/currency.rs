//! [`Currency`]: an ISO 4217 alphabetic code.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::{ValueError, quote, string_value};

/// The active ISO 4217 alphabetic codes ("list one"), sorted, as of 2025: it includes the
/// fund codes (`BOV`, `CHE`, `USN`, …), precious metals and the special `X..` codes, `XCG`
/// (Caribbean guilder) and `ZWG` (Zimbabwe Gold); withdrawn codes (`ANG`, `CUC`, `HRK`, `SLL`,
/// `ZWL`, …) are not in it. Update it when ISO publishes an amendment.
pub const CURRENCY_CODES: [&str; 178] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK",
    "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD",
    "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD",
    "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP",
    "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF",
    "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG",
];

/// An active ISO 4217 alphabetic currency code, uppercase (`"USD"`), one of
/// [`CURRENCY_CODES`]. Lowercase is refused rather than corrected, like every identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct Currency(&'static str);

// Written by hand: serde's derive would tie the `&'static str` to the deserializer's lifetime.
impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl Currency {
    /// Parses an ISO 4217 code such as `"USD"`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        if let Ok(i) = CURRENCY_CODES.binary_search(&input) {
            return Ok(Self(CURRENCY_CODES[i]));
        }
        let upper = input.to_ascii_uppercase();
        let message = if upper != input && CURRENCY_CODES.binary_search(&upper.as_str()).is_ok() {
            format!("currency codes are written in uppercase: use {upper:?}")
        } else {
            format!(
                "a currency must be an active ISO 4217 code of three uppercase letters, like \"USD\"; found {}",
                quote(input)
            )
        };
        Err(ValueError::new("currency", message))
    }
}

string_value!(
    Currency,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("An active ISO 4217 alphabetic currency code, uppercase."))
        .pattern(Some("^[A-Z]{3}$"))
        .enum_values(Some(CURRENCY_CODES))
        .examples([serde_json::Value::from("USD")])
        .into()
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::test_support::de_err;

    #[test]
    fn list_is_sorted_unique_and_well_formed() {
        assert!(CURRENCY_CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(
            CURRENCY_CODES
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn parses_codes() {
        for code in ["USD", "EUR", "CAD", "JPY", "XCG", "ZWG", "AED", "ZMW"] {
            assert_eq!(Currency::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn refuses_others() {
        assert!(Currency::parse("usd").unwrap_err().message().contains("use \"USD\""));
        for bad in ["", "US", "USDD", "ABC", "HRK", " USD", "U$D"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde() {
        let c: Currency = serde_json::from_str("\"USD\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"USD\"");
        assert!(de_err::<Currency>("\"XYZ\"").contains("ISO 4217"));
        assert!(de_err::<Currency>("840").contains("invalid type"));
    }
}
