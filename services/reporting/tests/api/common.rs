//! The reporting service on a random port, on either backend, and an HTTP client for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::{AuthConfig, Issuer, Role, Verifier};
use chrono::{DateTime, Utc};
use eventlog::{
    Actor, AppendResult, ChainRow, Direction, EventStore, ExpectedVersion, Filter, Metadata,
    NewEvent, Projection, RecordedEvent, Store, StreamAppend, StreamName,
};
use futures::StreamExt;
use reporting::{Reporting, Settings};
use serde_json::{Value, json};
use tokio::sync::watch;
use uuid::Uuid;

pub const SECRET: &[u8] = b"reporting-test-secret-at-least-32-bytes";

pub use testkit::Backend;
use testkit::TestStore;

/// The real app (plumbing included) serving the reporting service on 127.0.0.1:<random>.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The store the service reads (a [`Clocked`] view of the real one).
    pub store: Store,
    /// Sets the time recorded for the events appended through `store`.
    pub clock: Arc<Clocked>,
    pub reporting: Reporting,
    pub backend: Backend,
    /// The PostgreSQL database's URL (`None` on SQLite), for a second store instance.
    pub pg_url: Option<String>,
    issuer: Issuer,
    handle: actix_web::dev::ServerHandle,
    /// The store under the clock, and its database or directory.
    raw: TestStore,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Settings::default()).await
    }

    pub async fn spawn_with(backend: Backend, settings: Settings) -> Self {
        Self::spawn_full(backend, settings, None).await
    }

    /// The service with webhooks and subscriptions (`notify`), telling time by `clock`.
    pub async fn spawn_notifying(
        backend: Backend,
        clock: kernel::Clock,
        notify: reporting::notify::Settings,
    ) -> Self {
        Self::spawn_full(backend, Settings::default(), Some((clock, notify))).await
    }

    async fn spawn_full(
        backend: Backend,
        settings: Settings,
        notify: Option<(kernel::Clock, reporting::notify::Settings)>,
    ) -> Self {
        let raw = TestStore::open(backend).await;
        let pg_url = raw.database_url().map(str::to_owned);
        let clock = Arc::new(Clocked::new(raw.shared()));
        let store: Store = clock.clone();
        let verifier = verifier();
        let anchors = reporting::anchors::AnchorKey::generate().unwrap();
        let mut reporting = Reporting::start(store.clone(), verifier)
            .await
            .unwrap()
            .with_settings(settings)
            .with_anchors(anchors, None);
        if let Some((clock, notify)) = notify {
            reporting = reporting.with_clock(clock).with_notifications(notify);
        }
        let (base, handle) = testkit::serve(vec![Arc::new(reporting.clone())], 1);
        Self {
            base,
            client: testkit::http::client(),
            store,
            clock,
            reporting,
            backend,
            pg_url,
            issuer: Issuer::hs256(SECRET, "procgate", "procgate").unwrap(),
            raw,
            handle,
        }
    }

    /// The real store with personal data sealed, as `procgate serve` opens it.
    pub fn sealed(&self) -> Store {
        kernel::privacy::sealed(self.raw.shared(), eventlog::MasterKey::new(&[7; 32]))
    }

    pub fn token(&self, roles: &[Role]) -> String {
        self.token_for("tester", roles)
    }

    pub fn token_for(&self, subject: &str, roles: &[Role]) -> String {
        self.issuer.issue(subject, roles, Duration::from_secs(600))
    }

    /// A GET with a token for `roles` (`None`: no token at all).
    pub fn get(&self, path: &str, roles: Option<&[Role]>) -> reqwest::RequestBuilder {
        let req = self.client.get(format!("{}{path}", self.base));
        match roles {
            Some(roles) => req.bearer_auth(self.token(roles)),
            None => req,
        }
    }

    /// GETs `path` as an auditor and returns the JSON of a 200.
    pub async fn get_json(&self, path: &str, role: Role) -> Value {
        let res = self.get(path, Some(&[role])).send().await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// GETs `path` and returns the status and problem body of an error.
    pub async fn get_problem(&self, path: &str, roles: Option<&[Role]>) -> (u16, Value) {
        let res = self.get(path, roles).send().await.unwrap();
        let status = res.status().as_u16();
        let content_type = header(&res, "content-type");
        let body = res.text().await.unwrap();
        assert!(status >= 400, "GET {path} should have failed: {status} {body}");
        assert!(content_type.starts_with("application/problem+json"), "{content_type}: {body}");
        (status, serde_json::from_str(&body).unwrap())
    }

    /// Changes event `position`'s data behind the store's back.
    pub async fn tamper(&self, position: u64) {
        match &self.raw {
            TestStore::Postgres { store: pg, .. } => {
                let client = pg.pool().get().await.unwrap();
                client
                    .execute(
                        &format!(
                            "UPDATE events SET data = '{{\"x\":1}}' WHERE position = {position}"
                        ),
                        &[],
                    )
                    .await
                    .unwrap();
            }
            TestStore::Sqlite { store: lite, .. } => {
                lite.with_connection(move |c| {
                    c.execute(
                        &format!(
                            "UPDATE events SET data = '{{\"x\":1}}' WHERE position = {position}"
                        ),
                        (),
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
            }
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// The verifier of the tests' tokens (HS256 with [`SECRET`]).
pub fn verifier() -> Arc<Verifier> {
    Arc::new(Verifier::new(AuthConfig::hs256(SECRET, "procgate", "procgate")).unwrap())
}

/// Another instance of the service on `store`, not served, telling time by `clock` (add what
/// it does in the background: mail, deliveries).
pub async fn instance(store: &Store, clock: &kernel::Clock) -> Reporting {
    Reporting::start(store.clone(), verifier()).await.unwrap().with_clock(clock.clone())
}

/// Each item of `list` (a JSON array) as the values at `fields` (JSON pointers: `/vendor`,
/// `/schools/gated`), in order: a table to compare with `json!`.
pub fn table(list: &Value, fields: &[&str]) -> Value {
    let items = list.as_array().unwrap_or_else(|| panic!("not a list: {list}"));
    let row = |item: &Value| -> Value {
        let value = |f: &&str| item.pointer(f).unwrap_or_else(|| panic!("no {f} in {item}"));
        fields.iter().map(value).cloned().collect()
    };
    items.iter().map(row).collect()
}

pub fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

pub fn metadata() -> Metadata {
    Metadata::new(Actor::new("jdoe", "it_staff"), "gate")
}

pub fn event(event_type: &str, data: Value) -> NewEvent {
    NewEvent::new(event_type, data, metadata())
}

pub fn stream(name: &str) -> StreamName {
    StreamName::new(name).unwrap()
}

/// Appends one event to `stream_name`; returns its position.
pub async fn append(store: &Store, stream_name: &str, event_type: &str, data: Value) -> u64 {
    store
        .append(&stream(stream_name), ExpectedVersion::Any, vec![event(event_type, data)])
        .await
        .unwrap()
        .last_position()
}

/// The categories and types of [`append_many`]'s events, by index.
pub fn kind_of(i: u64) -> (&'static str, &'static str) {
    match i % 4 {
        0 | 1 => ("purchase", "purchase-submitted"),
        2 => ("school", "school-registered"),
        _ => ("promise", "promise-made"),
    }
}

/// Appends `n` events in atomic batches of up to 1000 (over 50 streams a batch), event `i`
/// (from 0) of category and type [`kind_of`]`(i)` with data `{"i": i}`.
pub async fn append_many(store: &Store, n: u64) {
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let mut by_stream: Vec<(String, Vec<NewEvent>)> = Vec::new();
        for j in i..end {
            let (category, event_type) = kind_of(j);
            let name = format!("{category}-s{}", j % 50);
            let new = event(event_type, json!({"i": j}));
            match by_stream.iter_mut().find(|(s, _)| *s == name) {
                Some((_, events)) => events.push(new),
                None => by_stream.push((name, vec![new])),
            }
        }
        // One append per stream keeps each event's index order within its stream; streams in
        // one atomic batch take positions in the order given, so positions follow `i` only
        // within a stream. The tests check order by sequence, and content by `i`.
        let appends = by_stream
            .into_iter()
            .map(|(name, events)| StreamAppend::new(stream(&name), ExpectedVersion::Any, events))
            .collect();
        store.append_streams(appends).await.unwrap();
        i = end;
    }
}

/// One server-sent message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub retry: Option<String>,
    pub comments: Vec<String>,
}

impl Message {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.data.as_deref().unwrap()).unwrap()
    }

    pub fn is_event(&self) -> bool {
        self.data.is_some()
    }
}

/// Reads a `text/event-stream` response message by message.
pub struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<actix_web::web::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub fn new(res: reqwest::Response) -> Self {
        assert_eq!(res.status(), 200);
        assert!(header(&res, "content-type").starts_with("text/event-stream"));
        Self { body: res.bytes_stream().boxed(), buffer: String::new() }
    }

    /// The next message (event, comment or `retry:`), waiting at most `within`.
    pub async fn next(&mut self, within: Duration) -> Message {
        tokio::time::timeout(within, self.next_message())
            .await
            .unwrap_or_else(|_| panic!("no server-sent message within {within:?}"))
    }

    async fn next_message(&mut self) -> Message {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return parse_message(&block);
            }
            let chunk = self.body.next().await.expect("the stream ended").unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `n` events, skipping comments and `retry:`.
    pub async fn events(&mut self, n: usize, within: Duration) -> Vec<Message> {
        let deadline = tokio::time::Instant::now() + within;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next(left).await;
            if message.is_event() {
                out.push(message);
            }
        }
        out
    }
}

fn parse_message(block: &str) -> Message {
    let mut m = Message::default();
    for line in block.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix(':') {
            m.comments.push(comment.trim().to_owned());
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
        match field {
            "id" => m.id = Some(value),
            "event" => m.event = Some(value),
            "data" => m.data = Some(value),
            "retry" => m.retry = Some(value),
            other => panic!("unexpected SSE field {other:?} in {block:?}"),
        }
    }
    m
}

/// A view of a store whose clock the test sets: events appended through it while a time is
/// set read back with that time as `recorded_at` (the real store records the real time; the
/// view rewrites it on every read). Reports measure durations between recorded times, and this
/// lets a test write a history that spans months in milliseconds. Everything else is passed
/// through (so the hash chain still covers the real times).
#[derive(Debug)]
pub struct Clocked {
    inner: Store,
    now: Mutex<Option<DateTime<Utc>>>,
    times: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl Clocked {
    pub fn new(inner: Store) -> Self {
        Self { inner, now: Mutex::new(None), times: Mutex::new(HashMap::new()) }
    }

    /// Events appended from now on are recorded at `at` (`None`: the real time again).
    pub fn set(&self, at: Option<DateTime<Utc>>) {
        *self.now.lock().unwrap() = at;
    }

    fn rewrite(&self, mut events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
        let times = self.times.lock().unwrap();
        for e in &mut events {
            if let Some(at) = times.get(&e.id) {
                e.recorded_at = *at;
            }
        }
        events
    }
}

#[async_trait::async_trait]
impl EventStore for Clocked {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
    ) -> eventlog::Result<Vec<AppendResult>> {
        if let Some(at) = *self.now.lock().unwrap() {
            let mut times = self.times.lock().unwrap();
            for e in appends.iter().flat_map(|a| &a.events) {
                times.insert(e.id, at);
            }
        }
        self.inner.append_streams(appends).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> eventlog::Result<Vec<RecordedEvent>> {
        Ok(self.rewrite(self.inner.read_stream(stream, from_version, direction, limit).await?))
    }

    async fn read_all(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> eventlog::Result<Vec<RecordedEvent>> {
        Ok(self.rewrite(self.inner.read_all(after, filter, limit).await?))
    }

    /// The inner store's (its tail, as the service's followers read it in production).
    async fn read_following(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> eventlog::Result<Vec<RecordedEvent>> {
        Ok(self.rewrite(self.inner.read_following(after, filter, limit).await?))
    }

    async fn head(&self) -> eventlog::Result<u64> {
        self.inner.head().await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.inner.watch_head()
    }

    async fn chain_rows(&self, after: u64, limit: usize) -> eventlog::Result<Vec<ChainRow>> {
        self.inner.chain_rows(after, limit).await
    }

    async fn chain_link(&self, position: u64) -> eventlog::Result<Option<eventlog::hash::Hash>> {
        self.inner.chain_link(position).await
    }

    async fn checkpoint(&self, name: &str) -> eventlog::Result<Option<u64>> {
        self.inner.checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> eventlog::Result<()> {
        self.inner.save_checkpoint(name, position).await
    }

    async fn advance_checkpoint(&self, name: &str, position: u64) -> eventlog::Result<()> {
        self.inner.advance_checkpoint(name, position).await
    }

    async fn apply_projection(
        &self,
        projection: &dyn Projection,
        seen: eventlog::Seen,
        events: &[RecordedEvent],
    ) -> eventlog::Result<u64> {
        self.inner.apply_projection(projection, seen, events).await
    }

    async fn reset_projection(&self, projection: &dyn Projection) -> eventlog::Result<()> {
        self.inner.reset_projection(projection).await
    }

    async fn document(
        &self,
        collection: &str,
        key: &str,
    ) -> eventlog::Result<Option<serde_json::Value>> {
        self.inner.document(collection, key).await
    }

    async fn documents(
        &self,
        collection: &str,
    ) -> eventlog::Result<Vec<(String, serde_json::Value)>> {
        self.inner.documents(collection).await
    }

    async fn documents_between(
        &self,
        collection: &str,
        first: Option<&str>,
        last: Option<&str>,
    ) -> eventlog::Result<Vec<(String, String)>> {
        self.inner.documents_between(collection, first, last).await
    }

    async fn ping(&self) -> eventlog::Result<()> {
        self.inner.ping().await
    }
}
