//! The log in pages: `GET /v1/events` (the whole log, filtered) and `GET /v1/streams/{stream}`
//! (one stream), both as CloudEvents.
//!
//! A page is read straight from the store (`read_all`, `read_stream`) and serialized in one pass
//! into a buffer sized for it; events are borrowed, never cloned ([`CloudEvent`]).
//!
//! # Paging the feed
//!
//! Pass `next_after` back as `after` until `next_after` reaches `head` (or, while tailing, keep
//! polling). Every matching event is served exactly once, in sequence order, even while other
//! instances append: the store hands out positions so that a reader that has seen position `p`
//! has seen everything before it.
//!
//! `next_after` is the last event's sequence when the page is full. When it is not full, the
//! page holds every matching event up to the head read before the page was, so `next_after`
//! moves on to that head: a filtered reader then skips the stretch of the log that held
//! nothing for it instead of scanning it again on every poll. Unfiltered, this is always the
//! last event's sequence (or `after`, on an empty page at the head).

use actix_web::http::header;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get};
use auth::Role;
use eventlog::{Direction, RecordedEvent, StreamName};
use kernel::http::{Caller, Reply, Roles, store_error};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use web::ApiError;

use crate::Reporting;
use crate::cloudevent::{CloudEvent, TYPICAL_EVENT_JSON};
use crate::query::{DEFAULT_LIMIT, FeedParams, FeedQuery, MAX_LIMIT, invalid_query};
use crate::scope::{Scope, Shown};

/// Who may read the feed: any procgate role.
pub const FEED_ROLES: [Role; 5] = Role::ALL;
/// Who may read single streams.
pub const STREAM_ROLES: [Role; 3] = [Role::Auditor, Role::ItStaff, Role::Admin];

/// [`FEED_ROLES`]: any procgate role.
pub(crate) struct FeedReaders;
impl Roles for FeedReaders {
    const ROLES: &'static [Role] = &FEED_ROLES;
}

/// [`STREAM_ROLES`].
pub(crate) struct StreamReaders;
impl Roles for StreamReaders {
    const ROLES: &'static [Role] = &STREAM_ROLES;
}

/// A page of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage<'a> {
    /// The events, oldest first; each one's `data` is typed by its `type` (see `FeedEvent`).
    #[schema(value_type = Vec<crate::schemas::FeedEvent>)]
    pub events: Vec<CloudEvent<'a>>,
    /// Pass as `after` to get the next page: every matching event up to this sequence has been
    /// served. The last event's sequence when the page is full; otherwise the head the page was
    /// read against (so filtered readers skip what holds nothing for them).
    pub next_after: u64,
    /// The sequence of the last event in the log when the page was read.
    pub head: u64,
}

kernel::problem_responses! {
    /// What the feed's reads, in pages or live, answer a caller without a role: any procgate
    /// role may read the feed.
    pub(crate) FeedErrors {
        "401" => "No valid bearer token.",
        "403" => "The token grants no procgate role.",
    }
}

/// Reads a page of the log as CloudEvents, oldest first.
///
/// What each role reads: IT staff, auditors and admins every event whole; an integration
/// every event but people's records (stakeholders, wishes, promises, follow-ups, reminders,
/// cards, e-mail, procgate's own bookkeeping), with personal fields (whom IT reached on a call,
/// call notes, e-mail addresses, phones) left out; a finance system only the events of the
/// purchases it checked (and their clocks), without whom IT reached. A page may then hold
/// fewer events than `limit` before the head: keep paging from `next_after`.
///
/// Filters (`category`, `type`) may be repeated or comma-separated; within one filter any
/// value matches, and both filters must match. Continue from `next_after`.
#[utoipa::path(
    tag = "feed",
    operation_id = "list_events",
    params(FeedParams),
    responses(
        (status = 200, description = "A page of events, oldest first: an `EventPage`, or with `Accept: application/cloudevents-batch+json` a CloudEvents JSON batch (an array of the events). Both carry the paging in the `Next-After` and `Log-Head` headers.",
            content(
                (EventPage = "application/json"),
                (Vec<crate::schemas::FeedEvent> = "application/cloudevents-batch+json"),
            ),
            headers(
                ("Next-After" = u64, description = "The page's `next_after`: pass it as `after` for the next page."),
                ("Log-Head" = u64, description = "The page's `head`: the log's last sequence when the page was read."),
            ),
        ),
        (status = 400, description = "A query parameter is invalid (`invalid-query`), for example `limit` over 1000 or an unknown parameter.", body = web::Problem, content_type = "application/problem+json"),
        FeedErrors,
        (status = 503, description = "The event store is not answering.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/events")]
pub async fn list_events(
    caller: Caller<FeedReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Reply {
    let query = FeedParams::parse(req.query_string())?;
    let store = service.store();
    // The head first: everything up to it is visible to the read that follows.
    let head = store.head().await.map_err(store_error)?;
    let mut scope = Scope::of(&caller);
    let Some(filter) = scope.narrow(&query.filter) else {
        // Nothing the caller asked for is theirs to see.
        return page_response(&req, &EventPage::empty(query.after, head));
    };
    let events = store.read_all(query.after, &filter, query.limit).await.map_err(store_error)?;
    let shown = scope.admit(&**store, &events).await.map_err(store_error)?;
    page_response(&req, &EventPage::of(&shown, &events, &query, head))
}

impl<'a> EventPage<'a> {
    /// A page that holds nothing the caller may see, read after `after` against `head`.
    fn empty(after: u64, head: u64) -> Self {
        EventPage { events: vec![], next_after: head.max(after), head }
    }

    /// The page of `shown`, the events of `read` the caller may see, read for `query` against
    /// `head`.
    fn of(shown: &'a [Shown<'_>], read: &[RecordedEvent], query: &FeedQuery, head: u64) -> Self {
        let last = read.last().map(|e| e.position);
        EventPage {
            events: shown.iter().map(Shown::cloud).collect(),
            next_after: next_after(query, read.len(), last, head),
            // Appends that committed after the head was read may be on the page.
            head: head.max(last.unwrap_or(0)),
        }
    }
}

/// Where the next page starts, after a read for `query` against `head` that found `read`
/// events, the last at `last`: that last event when the page is full; otherwise everything up
/// to the head has been read, so the head (or the last event, should one have committed past
/// it).
fn next_after(query: &FeedQuery, read: usize, last: Option<u64>, head: u64) -> u64 {
    let reached = last.unwrap_or(query.after);
    if read < query.limit { reached.max(head) } else { reached }
}

/// The CloudEvents JSON batch format's media type.
pub const BATCH: &str = "application/cloudevents-batch+json";

/// A page as the client asked for it: an [`EventPage`], or the events as a CloudEvents batch
/// when `Accept` names it; the paging in headers either way.
fn page_response(req: &HttpRequest, page: &EventPage<'_>) -> Reply {
    let batch =
        req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| {
            accept
                .split(',')
                .any(|m| m.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(BATCH)))
        });
    let mut response = if batch {
        let mut out = Vec::with_capacity(2 + page.events.len() * TYPICAL_EVENT_JSON);
        serde_json::to_writer(&mut out, &page.events).map_err(ApiError::internal)?;
        HttpResponse::Ok().insert_header((header::CONTENT_TYPE, BATCH)).body(out)
    } else {
        json_response(page, page.events.len())?
    };
    let headers = response.headers_mut();
    headers.insert(header::HeaderName::from_static("next-after"), page.next_after.into());
    headers.insert(header::HeaderName::from_static("log-head"), page.head.into());
    Ok(response)
}

/// Query parameters of `GET /v1/streams/{stream}`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamParams {
    /// The first stream version to return (versions start at 1; default 1). Pass the previous
    /// page's `next_from_version` to continue.
    #[param(minimum = 1, default = 1)]
    pub from_version: Option<u64>,
    /// The most events to return: 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<usize>,
}

/// A page of one stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamPage<'a> {
    /// The stream.
    pub stream: &'a str,
    /// Its events from `from_version`, in stream order; each one's `data` is typed by its
    /// `type` (see `FeedEvent`).
    #[schema(value_type = Vec<crate::schemas::FeedEvent>)]
    pub events: Vec<CloudEvent<'a>>,
    /// Pass as `from_version` to get the next page.
    pub next_from_version: u64,
}

/// Reads one stream's events as CloudEvents, in stream order.
#[utoipa::path(
    tag = "feed",
    operation_id = "read_stream",
    params(
        ("stream" = String, Path, pattern = "^[!-,.-~]+-[!-~]+$", description = "The stream: `category-id`, for example `purchase-0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00`."),
        StreamParams,
    ),
    responses(
        (status = 200, description = "A page of the stream's events.", body = StreamPage),
        (status = 400, description = "The stream name is not `category-id` (`invalid-path`), or a query parameter is invalid (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token.", body = web::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs auditor, it_staff or admin.", body = web::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream (`not-found`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is not answering.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/streams/{stream}")]
pub async fn read_stream(
    _caller: Caller<StreamReaders>,
    service: Data<Reporting>,
    stream: Path<String>,
    params: Query<StreamParams>,
) -> Reply {
    let stream = stream_name(stream.into_inner())?;
    let (from, limit) = params.page()?;
    let events = read_stream_page(&**service.store(), &stream, from, limit).await?;
    let page = StreamPage {
        stream: stream.as_str(),
        next_from_version: events.last().map_or(from, |e| e.version + 1),
        events: events.iter().map(CloudEvent::from).collect(),
    };
    json_response(&page, events.len())
}

/// The `{stream}` path segment as a stream name: a 400 `invalid-path` problem unless it is
/// `category-id`.
fn stream_name(raw: String) -> Result<StreamName, ApiError> {
    StreamName::new(raw).map_err(|e| {
        ApiError::bad_request("invalid-path", format!("{e}; for example `purchase-7f3a`."))
            .with_title("Invalid path parameter")
    })
}

impl StreamParams {
    /// The first version and the page size asked for: versions start at 1 and fit in int64,
    /// and a page holds 1 to [`MAX_LIMIT`] events; a 400 `invalid-query` problem otherwise.
    pub fn page(&self) -> Result<(u64, usize), ApiError> {
        let from = self.from_version.unwrap_or(1);
        if from > i64::MAX as u64 {
            return Err(invalid_query(format!("`from_version` may be at most {}.", i64::MAX)));
        }
        if from == 0 {
            return Err(invalid_query("`from_version` is 0; stream versions start at 1."));
        }
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(invalid_query(format!(
                "`limit` is {limit}; it must be between 1 and {MAX_LIMIT}."
            )));
        }
        Ok((from, limit))
    }
}

/// At most `limit` events of `stream` from version `from`: a 404 problem when the stream has
/// none at all (an empty page past the end of a stream that exists is no error).
async fn read_stream_page(
    store: &dyn eventlog::EventStore,
    stream: &StreamName,
    from: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, ApiError> {
    let events =
        store.read_stream(stream, from, Direction::Forwards, limit).await.map_err(store_error)?;
    if events.is_empty() && !stream_exists(store, stream).await? {
        return Err(ApiError::not_found(format!(
            "There is no stream {stream}: no event has been written to it."
        ))
        .with_extension("stream", stream.as_str()));
    }
    Ok(events)
}

async fn stream_exists(
    store: &dyn eventlog::EventStore,
    stream: &StreamName,
) -> Result<bool, ApiError> {
    let last =
        store.read_stream(stream, u64::MAX, Direction::Backwards, 1).await.map_err(store_error)?;
    Ok(!last.is_empty())
}

/// Serializes `body` into a buffer sized for `events` events, as an `application/json` 200.
pub(crate) fn json_response<T: Serialize>(body: &T, events: usize) -> Reply {
    let mut out = Vec::with_capacity(64 + events * TYPICAL_EVENT_JSON);
    serde_json::to_writer(&mut out, body).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "application/json")).body(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventlog::Filter;

    fn query(after: u64, limit: usize) -> FeedQuery {
        FeedQuery { after, limit, filter: Filter::all() }
    }

    #[test]
    fn a_full_page_continues_after_its_last_event() {
        assert_eq!(next_after(&query(0, 2), 2, Some(7), 100), 7);
    }

    #[test]
    fn a_short_page_moves_on_to_the_head_it_was_read_against() {
        assert_eq!(next_after(&query(0, 5), 2, Some(7), 100), 100);
        assert_eq!(next_after(&query(40, 5), 0, None, 100), 100);
        // An event that committed past the head read before the page.
        assert_eq!(next_after(&query(0, 5), 1, Some(101), 100), 101);
        // An empty page at the head stays where it was.
        assert_eq!(next_after(&query(100, 5), 0, None, 100), 100);
    }

    #[test]
    fn a_page_of_nothing_visible_moves_on_to_the_head() {
        let page = EventPage::empty(3, 10);
        assert_eq!((page.next_after, page.head), (10, 10));
        assert_eq!(EventPage::empty(12, 10).next_after, 12);
    }

    fn page(from_version: Option<u64>, limit: Option<usize>) -> Result<(u64, usize), String> {
        StreamParams { from_version, limit }.page().map_err(|e| e.detail().to_owned())
    }

    #[test]
    fn a_stream_page_starts_at_version_1_and_holds_up_to_1000_events() {
        assert_eq!(page(None, None), Ok((1, DEFAULT_LIMIT)));
        assert_eq!(page(Some(5), Some(MAX_LIMIT)), Ok((5, MAX_LIMIT)));
        assert!(page(Some(0), None).unwrap_err().contains("start at 1"));
        assert!(page(Some(i64::MAX as u64 + 1), None).unwrap_err().contains("at most"));
        assert!(page(None, Some(0)).unwrap_err().contains("between 1 and 1000"));
        assert!(page(None, Some(MAX_LIMIT + 1)).unwrap_err().contains("between 1 and 1000"));
    }

    #[test]
    fn a_stream_is_named_category_dash_id() {
        assert_eq!(stream_name("purchase-7f3a".into()).unwrap().as_str(), "purchase-7f3a");
        let refused = stream_name("purchase".into()).unwrap_err();
        assert_eq!((refused.status().as_u16(), refused.slug()), (400, "invalid-path"));
    }
}
