//! The feed's query parameters: `after`, `limit`, and the repeatable filters `category` and
//! `type`.
//!
//! `serde_urlencoded` (behind `web::Query`) cannot collect a repeated key into a list, so the
//! feed's parameters are read from the query string's pairs here. The rules:
//!
//! - `category` and `type` may be repeated and may hold comma-separated lists
//!   (`?type=a&type=b,c`); together they mean "any of these"; both given means both must
//!   match. Empty items are ignored.
//! - `after` and `limit` may appear once.
//! - Unknown parameters are refused: a misspelt filter (`?catgory=purchase`) would otherwise
//!   silently return the whole log.
//!
//! Every refusal is a 400 `invalid-query` problem naming the parameter, the same type the
//! shared query config uses for the other endpoints.

use eventlog::Filter;
use utoipa::IntoParams;
use web::ApiError;

/// The default page size of `GET /v1/events`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page `GET /v1/events` serves; a larger `limit` is refused.
pub const MAX_LIMIT: usize = 1000;
/// The most `category` plus `type` values one request may filter on.
pub const MAX_FILTER_VALUES: usize = 100;
/// The longest category or type accepted in a filter, in bytes.
const MAX_FILTER_VALUE_LEN: usize = 200;

/// Query parameters of `GET /v1/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Return events after this sequence (exclusive); `0` (the default) starts at the
    /// beginning. Pass the previous page's `next_after` to continue.
    #[param(minimum = 0, default = 0)]
    pub after: Option<u64>,
    /// The most events to return: 1 to 1000, default 100. A larger value is refused (400), not
    /// clamped.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<usize>,
    /// Only events of these stream categories (the part of the stream name before the first
    /// `-`: `purchase`, `school`, …, so never with a `-`). Repeat the parameter or separate
    /// values with commas.
    #[param(style = Form, explode, required = false, value_type = Vec<String>, pattern = "^[!-,.-~]{1,200}$")]
    pub category: Vec<String>,
    /// Only events of these types (`purchase-submitted`, …). Repeat the parameter or separate
    /// values with commas.
    #[param(rename = "type", style = Form, explode, required = false, value_type = Vec<String>, pattern = "^[!-~]{1,200}$")]
    pub event_type: Vec<String>,
}

/// Query parameters of `GET /v1/events/live`.
#[derive(Debug, Clone, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// Start after this sequence (exclusive); `0` (the default) replays the whole log first.
    /// A `Last-Event-ID` header, which an EventSource sends when it reconnects, takes
    /// precedence.
    #[param(minimum = 0, default = 0)]
    pub after: Option<u64>,
    /// Only events of these stream categories (never with a `-`). Repeat the parameter or
    /// separate values with commas.
    #[param(style = Form, explode, required = false, value_type = Vec<String>, pattern = "^[!-,.-~]{1,200}$")]
    pub category: Vec<String>,
    /// Only events of these types. Repeat the parameter or separate values with commas.
    #[param(rename = "type", style = Form, explode, required = false, value_type = Vec<String>, pattern = "^[!-~]{1,200}$")]
    pub event_type: Vec<String>,
}

/// The feed's parameters, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    pub after: u64,
    pub limit: usize,
    pub filter: Filter,
}

impl FeedParams {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<FeedQuery, ApiError> {
        let parsed = parse_pairs(query, &["after", "limit", "category", "type"])?;
        let limit = match parsed.limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(n) => {
                return Err(invalid_query(format!(
                    "`limit` is {n}; it must be between 1 and {MAX_LIMIT}. Page through larger ranges with `after`."
                )));
            }
        };
        Ok(FeedQuery { after: parsed.after.unwrap_or(0), limit, filter: parsed.filter })
    }
}

/// The live stream's parameters, parsed and checked (the `after` before any `Last-Event-ID`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveQuery {
    pub after: u64,
    pub filter: Filter,
}

impl LiveParams {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<LiveQuery, ApiError> {
        let parsed = parse_pairs(query, &["after", "category", "type"])?;
        Ok(LiveQuery { after: parsed.after.unwrap_or(0), filter: parsed.filter })
    }
}

#[derive(Default)]
struct Parsed {
    after: Option<u64>,
    limit: Option<usize>,
    filter: Filter,
}

/// A 400 `invalid-query` problem: the refusal of every query parameter the service reads.
pub(crate) fn invalid_query(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid-query", detail).with_title("Invalid query string")
}

fn parse_pairs(query: &str, known: &[&str]) -> Result<Parsed, ApiError> {
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|e| invalid_query(format!("The query string is invalid: {e}.")))?
        .into_inner();
    let mut parsed = Parsed::default();
    for (key, value) in pairs {
        match key.as_str() {
            k if !known.contains(&k) => {
                return Err(invalid_query(format!(
                    "Unknown query parameter `{k}`; this endpoint takes {}.",
                    known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                )));
            }
            "after" => {
                let after: u64 = once(parsed.after, "after", &value)?;
                // The document's integers are int64: what it cannot carry is refused.
                if after > i64::MAX as u64 {
                    return Err(invalid_query(format!(
                        "`after` is {after}; it must be at most {}.",
                        i64::MAX
                    )));
                }
                parsed.after = Some(after);
            }
            "limit" => parsed.limit = Some(once(parsed.limit, "limit", &value)?),
            "category" => push_values(&mut parsed.filter.categories, "category", &value)?,
            _ => push_values(&mut parsed.filter.event_types, "type", &value)?,
        }
        if parsed.filter.categories.len() + parsed.filter.event_types.len() > MAX_FILTER_VALUES {
            return Err(invalid_query(format!(
                "At most {MAX_FILTER_VALUES} `category` and `type` values may be given together."
            )));
        }
    }
    dedup(&mut parsed.filter.categories);
    dedup(&mut parsed.filter.event_types);
    Ok(parsed)
}

fn once<T: std::str::FromStr>(seen: Option<T>, name: &str, value: &str) -> Result<T, ApiError> {
    if seen.is_some() {
        return Err(invalid_query(format!("`{name}` is given more than once; give it once.")));
    }
    value.trim().parse().map_err(|_| {
        invalid_query(format!("`{name}` is {value:?}; it must be a whole number, 0 or more."))
    })
}

fn push_values(list: &mut Vec<String>, name: &str, value: &str) -> Result<(), ApiError> {
    for item in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        let printable = item.bytes().all(|b| b.is_ascii_graphic());
        if !printable || item.len() > MAX_FILTER_VALUE_LEN {
            return Err(invalid_query(format!(
                "`{name}` value {item:?} is not a valid {name}: printable ASCII, at most {MAX_FILTER_VALUE_LEN} bytes."
            )));
        }
        if name == "category" && item.contains('-') {
            return Err(invalid_query(format!(
                "`category` value {item:?} contains `-`; a category is the part of a stream name before the first `-` (`purchase`, not `purchase-7f3a`)."
            )));
        }
        list.push(item.to_owned());
    }
    Ok(())
}

fn dedup(list: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|v| seen.insert(v.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(q: &str) -> Result<FeedQuery, String> {
        FeedParams::parse(q).map_err(|e| e.detail().to_owned())
    }

    #[test]
    fn defaults() {
        let q = feed("").unwrap();
        assert_eq!(q, FeedQuery { after: 0, limit: DEFAULT_LIMIT, filter: Filter::all() });
    }

    #[test]
    fn filters_repeat_and_split_on_commas() {
        let q =
            feed("category=purchase&type=a,b&type=c&category=school,%20purchase,&after=7").unwrap();
        assert_eq!(q.after, 7);
        assert_eq!(q.filter.categories, ["purchase", "school"]);
        assert_eq!(q.filter.event_types, ["a", "b", "c"]);
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(feed("limit=1").unwrap().limit, 1);
        assert_eq!(feed("limit=1000").unwrap().limit, 1000);
        assert!(feed("limit=1001").unwrap_err().contains("between 1 and 1000"));
        assert!(feed("limit=0").is_err());
        assert!(feed("limit=-1").is_err());
        assert!(feed("limit=ten").is_err());
    }

    #[test]
    fn refusals() {
        assert!(feed("after=1&after=2").unwrap_err().contains("more than once"));
        assert!(feed("after=-3").is_err());
        assert!(feed("catgory=purchase").unwrap_err().contains("Unknown query parameter"));
        assert!(feed("category=purchase-7f3a").unwrap_err().contains("contains `-`"));
        assert!(feed("type=a%0Ab").is_err());
        let many = (0..=MAX_FILTER_VALUES).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",");
        assert!(feed(&format!("type={many}")).is_err());
        assert!(LiveParams::parse("limit=5").is_err());
    }

    #[test]
    fn the_documented_parameters_are_the_parsed_ones() {
        use utoipa::IntoParams;
        let names = |params: Vec<utoipa::openapi::path::Parameter>| {
            params.into_iter().map(|p| p.name).collect::<Vec<_>>()
        };
        assert_eq!(names(FeedParams::into_params(|| None)), ["after", "limit", "category", "type"]);
        assert_eq!(names(LiveParams::into_params(|| None)), ["after", "category", "type"]);
    }
}
