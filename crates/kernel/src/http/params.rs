//! Path and query parameters, and pages of lists.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

/// A date as the documents write one (`YYYY-MM-DD`, the `date` format's pattern): a year of
/// four digits. chrono alone also reads a signed year of any length (`+20000-01-03`), which
/// no document allows and the district's calendar cannot hold.
pub fn date(s: &str) -> Option<chrono::NaiveDate> {
    let plain = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    plain.then(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).flatten()
}

/// [`date`] for an optional date serde reads (a query parameter):
/// `#[serde(default, deserialize_with = "kernel::http::optional_date")]`.
pub fn optional_date<'de, D>(deserializer: D) -> Result<Option<chrono::NaiveDate>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw: Option<String> = Option::deserialize(deserializer)?;
    raw.map(|s| {
        date(&s).ok_or_else(|| serde::de::Error::custom(format!("a date is YYYY-MM-DD, not {s:?}")))
    })
    .transpose()
}

/// A path segment parsed, or a 400 `invalid-path` problem naming it.
pub fn path<T, E: std::fmt::Display>(
    name: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| {
        ApiError::bad_request(
            "invalid-path",
            format!("The path parameter `{name}` is invalid: {e}"),
        )
    })
}

/// A UUID path segment (`{id}`).
pub fn path_id(name: &str, raw: &str) -> Result<Uuid, ApiError> {
    path(name, raw, |s| Uuid::parse_str(s).map_err(|_| "it must be a UUID"))
}

/// A query parameter parsed, or a 400 `invalid-query` problem naming it.
pub fn query_param<T, E: std::fmt::Display>(
    name: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, ApiError> {
    raw.map(|raw| {
        parse(raw).map_err(|e| {
            ApiError::bad_request(
                "invalid-query",
                format!("The query parameter `{name}` is invalid: {e}"),
            )
        })
    })
    .transpose()
}

/// The page size asked for: 1 to 1000, default 100; a 400 `invalid-query` problem otherwise.
pub fn limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid-query", "`limit` must be from 1 to 1000."));
    }
    Ok(limit)
}

/// The largest `offset` a list takes (as its document says).
pub const MAX_OFFSET: usize = 1_000_000_000;

/// How many items to skip (`offset`, default 0): at most [`MAX_OFFSET`]; a 400 `invalid-query`
/// problem otherwise.
pub fn offset(offset: Option<usize>) -> Result<usize, ApiError> {
    match offset.unwrap_or(0) {
        offset if offset > MAX_OFFSET => Err(ApiError::bad_request(
            "invalid-query",
            format!("`offset` may be at most {MAX_OFFSET}."),
        )),
        offset => Ok(offset),
    }
}

/// The log position a list continues after (`after`, default 0): at most `i64::MAX`, as every
/// log position is; a 400 `invalid-query` problem otherwise.
pub fn after(after: Option<u64>) -> Result<u64, ApiError> {
    match after.unwrap_or(0) {
        after if after > i64::MAX as u64 => Err(ApiError::bad_request(
            "invalid-query",
            format!("`after` may be at most {}.", i64::MAX),
        )),
        after => Ok(after),
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page {
    /// How many items match the filters, over all pages.
    pub total: usize,
    /// Pass as `offset` for the next page; absent on the last page.
    pub next_offset: Option<usize>,
}

/// The paging parameters of a list: `limit` and `offset`, documented once for every list that
/// takes them (list them after the list's own: `params(SchoolQuery, Paging)`).
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<usize>,
    /// Skip this many (the `next_offset` of the previous page).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<usize>,
}

impl Paging {
    /// The page of `items` from `offset` (default 0), at most `limit` items (see [`limit`]).
    pub fn page<T>(&self, mut items: Vec<T>) -> Result<(Vec<T>, Page), ApiError> {
        let limit = self::limit(self.limit)?;
        let offset = self::offset(self.offset)?;
        let total = items.len();
        let end = offset.saturating_add(limit).min(total);
        let next_offset = (end < total).then_some(end);
        let items = if offset >= total { Vec::new() } else { items.drain(offset..end).collect() };
        Ok((items, Page { total, next_offset }))
    }
}

#[cfg(test)]
mod tests {
    use super::{Paging, date};

    #[test]
    fn given_a_date_then_only_the_documented_shape_reads() {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 9, 3);
        assert_eq!(date("2024-09-03"), day);
        for bad in ["+20000-01-03", "20000-01-03", "2024-9-3", "2024-02-30", " 2024-09-03", ""] {
            assert_eq!(date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pages() {
        let all = || (0..5).collect::<Vec<i32>>();
        let (items, page) = Paging { limit: Some(2), offset: None }.page(all()).unwrap();
        assert_eq!((items, page.total, page.next_offset), (vec![0, 1], 5, Some(2)));
        let (items, page) = Paging { limit: Some(2), offset: Some(4) }.page(all()).unwrap();
        assert_eq!((items, page.next_offset), (vec![4], None));
        let (items, page) = Paging { limit: None, offset: Some(9) }.page(all()).unwrap();
        assert_eq!((items.len(), page.total, page.next_offset), (0, 5, None));
        assert!(Paging { limit: Some(0), offset: None }.page(vec![1]).is_err());
        assert!(Paging { limit: Some(1001), offset: None }.page(vec![1]).is_err());
        assert!(Paging { limit: None, offset: Some(1_000_000_001) }.page(vec![1]).is_err());
    }

    #[test]
    fn cursors_and_offsets_stay_in_range() {
        assert_eq!((super::after(None).unwrap(), super::offset(None).unwrap()), (0, 0));
        assert_eq!(super::after(Some(i64::MAX as u64)).unwrap(), i64::MAX as u64);
        let p = super::after(Some(i64::MAX as u64 + 1)).unwrap_err().to_problem(None, None);
        assert_eq!((p.status, p.slug()), (400, Some("invalid-query")));
        assert!(p.detail.contains("`after`"), "{}", p.detail);
        assert_eq!(super::offset(Some(super::MAX_OFFSET)).unwrap(), super::MAX_OFFSET);
        assert!(super::offset(Some(super::MAX_OFFSET + 1)).is_err());
    }

    #[test]
    fn bad_parameters_are_400_problems_naming_them() {
        let p = super::path_id("id", "nope").unwrap_err().to_problem(None, None);
        assert_eq!((p.status, p.slug()), (400, Some("invalid-path")));
        assert!(p.detail.contains("`id`"));
        let p = super::query_param("due", Some("x"), |s| s.parse::<u8>()).unwrap_err();
        assert_eq!(p.to_problem(None, None).slug(), Some("invalid-query"));
        assert_eq!(super::query_param("due", None, |s| s.parse::<u8>()).unwrap(), None);
    }
}
