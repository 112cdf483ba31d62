//! The live feed: `GET /v1/events/live`, the log as server-sent events (`text/event-stream`).
//!
//! A client gets every matching event after its starting point (catch-up), then each new event
//! as it commits, for as long as it stays connected. Each event is one SSE message:
//!
//! ```text
//! id: 42
//! event: purchase-submitted
//! data: {"specversion":"1.0","id":"…","sequence":42,…}
//!
//! ```
//!
//! `id` is the event's sequence, so an `EventSource` that reconnects sends it back as
//! `Last-Event-ID` and resumes with no gap and no repeat. **`Last-Event-ID` wins over `after`**:
//! a reconnecting `EventSource` repeats the original URL (with the original `after`) and adds the
//! header, and it is the header that says how far the client got. The stream opens with a
//! `retry:` line (the reconnection delay) and, whenever it has been silent for the heartbeat
//! interval (15 s by default), sends a `: keep-alive` comment, which keeps proxies from closing
//! an idle connection and lets the server notice a client that has gone.
//!
//! # How it works
//!
//! The response body is a stream ([`futures::stream::unfold`]) over an
//! [`eventlog::Subscription`]: it reads up to 500 events at a time while catching up, and when
//! there is nothing more it waits on the store's head watch (no polling loop; on PostgreSQL the
//! watch follows `LISTEN`/`NOTIFY`, so appends by other instances wake it too) or the heartbeat,
//! whichever comes first. The body is only polled when the connection can take more, so a slow
//! client holds back its own stream and nothing else. No task is spawned: when the client
//! disconnects actix-web drops the body, which drops the subscription and ends the work. A store
//! error ends the stream cleanly (logged); the client reconnects with its `Last-Event-ID`.

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse, get};
use auth::Principal;
use eventlog::{Filter, Store, Subscription};
use futures::Stream;
use kernel::http::{Caller, Reply};
use web::ApiError;

use crate::cloudevent::TYPICAL_EVENT_JSON;
use crate::feed::{FeedErrors, FeedReaders};
use crate::query::LiveParams;
use crate::scope::{Scope, Shown};
use crate::{Reporting, Settings, State};

/// How long a live stream stays silent before it sends a `: keep-alive` comment.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// The most events read (and sent in one chunk) at a time.
pub const LIVE_BATCH: usize = 500;
/// The SSE comment sent when the stream has been idle for the heartbeat interval.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Streams the log as server-sent events: catch up from `after` (or `Last-Event-ID`), then
/// follow new events as they commit.
///
/// Each message has `id:` the event's sequence, `event:` its type and `data:` the CloudEvent
/// JSON (one line). `: keep-alive` comments are sent after 15 s of silence. When the
/// connection drops, reconnect with `Last-Event-ID` (an `EventSource` does this by itself):
/// the stream resumes after that sequence, with no gap and no repeat.
#[utoipa::path(
    tag = "feed",
    operation_id = "live_events",
    params(
        LiveParams,
        ("Last-Event-ID" = Option<u64>, Header, nullable = false, minimum = 0, description = "The sequence of the last event the client has: resume after it. Takes precedence over `after`; an `EventSource` sends it when it reconnects."),
    ),
    responses(
        (status = 200, description = "An endless `text/event-stream`: `id:` is the sequence, `event:` the type, `data:` the CloudEvent JSON; `: keep-alive` comments when idle. The schema describes one message.", body = LiveMessage, content_type = "text/event-stream"),
        (status = 400, description = "A query parameter (`invalid-query`) or the `Last-Event-ID` header (`invalid-header`) is invalid.", body = web::Problem, content_type = "application/problem+json"),
        FeedErrors,
    )
)]
#[get("/v1/events/live")]
pub async fn live_events(
    caller: Caller<FeedReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Reply {
    let query = LiveParams::parse(req.query_string())?;
    let after = resume_after(&req, query.after)?;
    let stream = service.live(&caller, after, query.filter)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Tells nginx-style proxies not to buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(stream))
}

impl Reporting {
    /// A live stream for `caller` of the events after `after` that match `filter`, counted
    /// among the caller's open streams: 429 when it has its most open already.
    fn live(
        &self,
        caller: &Principal,
        after: u64,
        filter: Filter,
    ) -> Result<impl Stream<Item = Result<Bytes, Infallible>> + 'static, ApiError> {
        let settings = self.settings();
        let guard = LiveGuard::new(
            Arc::clone(&self.state),
            &caller.subject,
            settings.live_streams_per_subject,
        )?;
        Ok(event_stream(self.store().clone(), after, filter, Scope::of(caller), settings, guard))
    }
}

/// Where a live stream starts: after the `Last-Event-ID` a reconnecting client sends, which
/// wins over the `after` of the URL it repeats.
fn resume_after(req: &HttpRequest, after: u64) -> Result<u64, ApiError> {
    Ok(last_event_id(req)?.unwrap_or(after))
}

/// The `Last-Event-ID` header as a sequence, if sent (an empty one counts as not sent).
fn last_event_id(req: &HttpRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get("last-event-id") else { return Ok(None) };
    let text = value.to_str().unwrap_or("\u{fffd}").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().ok().filter(|id| *id <= i64::MAX as u64).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            "invalid-header",
            format!(
                "`Last-Event-ID` is {text:?}; it must be the `id` of an event this stream sent (a sequence number)."
            ),
        )
        .with_title("Invalid header")
    })
}

/// Counts an open live stream for as long as it lives, in all and for its subject.
struct LiveGuard(Arc<State>, String);

impl LiveGuard {
    /// `429 rate-limited` when `subject` already has `most` streams open.
    fn new(state: Arc<State>, subject: &str, most: usize) -> Result<Self, ApiError> {
        {
            let mut open = state.live_by_subject.lock().unwrap_or_else(|e| e.into_inner());
            let mine = open.entry(subject.to_owned()).or_default();
            if *mine >= most {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    format!("{subject} already has {most} live streams open; close one first."),
                )
                .with_header(header::RETRY_AFTER, header::HeaderValue::from_static("5")));
            }
            *mine += 1;
        }
        state.live_streams.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("reporting_live_streams").increment(1.0);
        Ok(Self(state, subject.to_owned()))
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live_streams.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("reporting_live_streams").decrement(1.0);
        let mut open = self.0.live_by_subject.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = open.get_mut(&self.1) {
            *mine -= 1;
            if *mine == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// One live stream's state, owned by its response body.
struct Live {
    store: Store,
    sub: Subscription,
    /// What the caller may see; `None` for a filter that leaves it nothing.
    scope: Option<Scope>,
    settings: Settings,
    /// Whether the `retry:` preamble has been sent.
    started: bool,
    /// Whether the log may hold events not yet read (false after a read came back empty and
    /// until the head moves).
    may_have_more: bool,
    _guard: LiveGuard,
}

/// The body of a live response: the preamble, then event batches and keep-alives, until the
/// store fails or closes (or the body is dropped).
fn event_stream(
    store: Store,
    after: u64,
    filter: Filter,
    scope: Scope,
    settings: Settings,
    guard: LiveGuard,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    let narrowed = scope.narrow(&filter);
    let visible = narrowed.is_some();
    let live = Live {
        sub: Subscription::new(store.watch_head(), after, narrowed.unwrap_or(filter), LIVE_BATCH),
        scope: visible.then_some(scope),
        store,
        settings,
        started: false,
        may_have_more: true,
        _guard: guard,
    };
    futures::stream::unfold(live, |mut live| async move {
        let chunk = live.next_chunk().await?;
        Some((Ok(chunk), live))
    })
}

impl Live {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.started {
            self.started = true;
            return Some(Bytes::from(format!("retry: {}\n\n", self.settings.retry_ms)));
        }
        loop {
            if self.may_have_more
                && let Some(scope) = &mut self.scope
            {
                match self.sub.poll(&*self.store).await {
                    Ok(Some(events)) => {
                        let shown = match scope.admit(&*self.store, &events).await {
                            Ok(shown) => shown,
                            Err(e) => {
                                tracing::warn!(error = %e, "live stream ends: the store failed");
                                return None;
                            }
                        };
                        if shown.is_empty() {
                            continue;
                        }
                        metrics::counter!("reporting_live_events_sent_total")
                            .increment(shown.len() as u64);
                        return Some(encode_sse(&shown));
                    }
                    Ok(None) => self.may_have_more = false,
                    Err(e) => {
                        tracing::warn!(error = %e, after = self.sub.position(), "live stream ends: the store failed");
                        return None;
                    }
                }
            }
            tokio::select! {
                changed = self.sub.changed() => {
                    if changed.is_err() {
                        tracing::info!("live stream ends: the store closed");
                        return None;
                    }
                    self.may_have_more = true;
                }
                () = tokio::time::sleep(self.settings.heartbeat) => {
                    return Some(Bytes::from_static(KEEP_ALIVE));
                }
            }
        }
    }
}

/// One message of the live stream, as an SSE client reads it.
#[derive(Debug, utoipa::ToSchema)]
#[schema(example = json!({"id": "42", "event": "purchase-submitted", "data": "{\"specversion\":\"1.0\",\"type\":\"purchase-submitted\",\"sequence\":42}"}))]
pub struct LiveMessage {
    /// The event's sequence: send it back as `Last-Event-ID` to resume after it.
    pub id: Option<String>,
    /// The event's type.
    pub event: Option<String>,
    /// The event as a CloudEvent, JSON on one line.
    pub data: Option<String>,
}

/// Events as SSE messages, one after the other.
pub fn encode_sse(events: &[Shown<'_>]) -> Bytes {
    let mut out = Vec::with_capacity(events.len() * (TYPICAL_EVENT_JSON + 64));
    for shown in events {
        let event = shown.event;
        // Writing to a Vec cannot fail. The type is printable ASCII (the store checks), and
        // compact JSON holds no raw newline, so neither can break the message framing.
        let _ = write!(out, "id: {}\nevent: {}\ndata: ", event.position, event.event_type);
        let _ = serde_json::to_writer(&mut out, &shown.cloud());
        out.extend_from_slice(b"\n\n");
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventlog::{Actor, Metadata, RecordedEvent};
    use serde_json::json;

    #[test]
    fn last_event_id_wins_over_after() {
        let request = |id: Option<&str>| {
            let mut req = actix_web::test::TestRequest::get();
            if let Some(id) = id {
                req = req.insert_header(("last-event-id", id));
            }
            req.to_http_request()
        };
        assert_eq!(resume_after(&request(None), 5).unwrap(), 5);
        assert_eq!(resume_after(&request(Some("9")), 5).unwrap(), 9);
        assert_eq!(resume_after(&request(Some("2")), 5).unwrap(), 2);
        // An empty header counts as not sent.
        assert_eq!(resume_after(&request(Some(" ")), 5).unwrap(), 5);
        let refused = resume_after(&request(Some("x")), 5).unwrap_err();
        assert_eq!((refused.status().as_u16(), refused.slug()), (400, "invalid-header"));
    }

    #[test]
    fn messages_are_framed_one_per_event() {
        let event = |position| RecordedEvent {
            position,
            id: uuid::Uuid::now_v7(),
            stream: "school-lincoln".into(),
            version: position,
            event_type: "school-registered".into(),
            data: json!({"note": "line one\nline two"}),
            metadata: Metadata::new(Actor::new("jdoe", "admin"), "stakeholders"),
            recorded_at: chrono::Utc::now(),
            hash: String::new(),
        };
        let (one, two) = (event(1), event(2));
        let shown = Shown::whole;
        let bytes = encode_sse(&[shown(&one), shown(&two)]);
        let text = std::str::from_utf8(&bytes).unwrap();
        let messages: Vec<&str> = text.split_terminator("\n\n").collect();
        assert_eq!(messages.len(), 2);
        let lines: Vec<&str> = messages[1].lines().collect();
        assert_eq!(lines[0], "id: 2");
        assert_eq!(lines[1], "event: school-registered");
        let data: serde_json::Value =
            serde_json::from_str(lines[2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(data["sequence"], 2);
        assert_eq!(data["data"]["note"], "line one\nline two");
    }
}
