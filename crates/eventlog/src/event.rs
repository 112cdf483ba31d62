//! The values that go into and come out of the log.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::StoreError;

/// Longest accepted stream name, in bytes.
pub const MAX_STREAM_LEN: usize = 200;
/// Longest accepted event type, in bytes.
pub const MAX_TYPE_LEN: usize = 100;

/// A stream name, `category-id`: the category is the part before the first `-`.
///
/// Both parts are non-empty; the name is at most [`MAX_STREAM_LEN`] bytes of printable ASCII
/// without spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamName(String);

impl StreamName {
    pub fn new(name: impl Into<String>) -> Result<Self, StoreError> {
        let name = name.into();
        let valid = name.len() <= MAX_STREAM_LEN
            && name.bytes().all(|b| b.is_ascii_graphic())
            && matches!(name.split_once('-'), Some((c, id)) if !c.is_empty() && !id.is_empty());
        if valid { Ok(Self(name)) } else { Err(StoreError::InvalidStream(name)) }
    }

    /// A stream from its category and id: `StreamName::of("purchase", id)`.
    pub fn of(category: &str, id: impl std::fmt::Display) -> Result<Self, StoreError> {
        Self::new(format!("{category}-{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn category(&self) -> &str {
        self.0.split_once('-').map_or(&self.0, |(c, _)| c)
    }

    /// The part after the category.
    pub fn id(&self) -> &str {
        self.0.split_once('-').map_or("", |(_, id)| id)
    }
}

impl TryFrom<String> for StreamName {
    type Error = StoreError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<StreamName> for String {
    fn from(value: StreamName) -> Self {
        value.0
    }
}

impl std::fmt::Display for StreamName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version a writer expects a stream to be at. Versions start at 1: a stream with three
/// events is at version 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have this version (0 means the same as `NoStream`).
    Exact(u64),
}

impl ExpectedVersion {
    /// The stream version a writer that has read up to `version` expects.
    pub fn after(version: u64) -> Self {
        if version == 0 { Self::NoStream } else { Self::Exact(version) }
    }

    pub(crate) fn accepts(self, current: u64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => current == 0,
            Self::Exact(n) => current == n,
        }
    }
}

/// Who caused an event: the JWT subject and the role it acted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub subject: String,
    pub role: String,
}

impl Actor {
    pub fn new(subject: impl Into<String>, role: impl Into<String>) -> Self {
        Self { subject: subject.into(), role: role.into() }
    }

    /// The actor for events a service writes on its own account.
    pub fn system(service: &str) -> Self {
        Self::new(format!("system:{service}"), "system")
    }
}

/// What every event carries besides its data. The time recorded is set by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub actor: Actor,
    pub correlation_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The service that wrote the event.
    pub service: String,
    /// The version of the event type's data schema.
    pub schema_version: u32,
}

impl Metadata {
    pub fn new(actor: Actor, service: impl Into<String>) -> Self {
        Self {
            actor,
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            service: service.into(),
            schema_version: 1,
        }
    }

    pub fn correlated(mut self, correlation_id: Uuid, causation_id: Option<Uuid>) -> Self {
        self.correlation_id = correlation_id;
        self.causation_id = causation_id;
        self
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Chosen by the writer: appending the same id again is a safe retry.
    pub id: Uuid,
    pub event_type: String,
    pub data: Value,
    pub metadata: Metadata,
}

impl NewEvent {
    pub fn new(event_type: impl Into<String>, data: Value, metadata: Metadata) -> Self {
        Self { id: Uuid::now_v7(), event_type: event_type.into(), data, metadata }
    }

    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let t = &self.event_type;
        if t.is_empty() || t.len() > MAX_TYPE_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(StoreError::InvalidEvent(format!("event type {t:?}")));
        }
        Ok(())
    }
}

/// Events for one stream, part of an append.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream: StreamName,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    pub fn new(stream: StreamName, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        Self { stream, expected, events }
    }
}

/// What an append did to one stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppendResult {
    pub stream: StreamName,
    /// The stream's version after the append (the version of its last appended event).
    pub stream_version: u64,
    /// The global position of each appended event, in the order given.
    pub positions: Vec<u64>,
    /// Whether the events were already stored (the append was a retry and wrote nothing).
    pub already_stored: bool,
}

impl AppendResult {
    /// The position of the last event appended.
    pub fn last_position(&self) -> u64 {
        self.positions.last().copied().unwrap_or(0)
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedEvent {
    /// Global position: dense, starting at 1, the order every reader sees.
    pub position: u64,
    pub id: Uuid,
    pub stream: String,
    /// Position within the stream, starting at 1.
    pub version: u64,
    pub event_type: String,
    pub data: Value,
    pub metadata: Metadata,
    pub recorded_at: DateTime<Utc>,
    /// The event's content hash (hex).
    pub hash: String,
}

impl RecordedEvent {
    pub fn category(&self) -> &str {
        self.stream.split_once('-').map_or(&self.stream, |(c, _)| c)
    }

    /// The part of the stream name after the category.
    pub fn stream_id(&self) -> &str {
        self.stream.split_once('-').map_or("", |(_, id)| id)
    }

    /// The data, as a typed value.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

/// Which direction to read a stream in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forwards,
    Backwards,
}

/// Which events a read of the whole log returns. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub categories: Vec<String>,
    pub event_types: Vec<String>,
}

impl Filter {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn categories<I: IntoIterator<Item = S>, S: Into<String>>(categories: I) -> Self {
        Self { categories: categories.into_iter().map(Into::into).collect(), event_types: vec![] }
    }

    pub fn with_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.event_types = types.into_iter().map(Into::into).collect();
        self
    }

    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.categories.is_empty() || self.categories.iter().any(|c| c == event.category()))
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
    }

    pub fn is_all(&self) -> bool {
        self.categories.is_empty() && self.event_types.is_empty()
    }
}

/// The time an append records: now, to the microsecond (what both backends store exactly).
pub(crate) fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Checks an append before it reaches a backend: events in every stream, each stream once,
/// valid event types.
pub(crate) fn check_appends(appends: &[StreamAppend]) -> Result<(), StoreError> {
    if appends.is_empty() || appends.iter().any(|a| a.events.is_empty()) {
        return Err(StoreError::EmptyAppend);
    }
    let mut seen = std::collections::HashSet::new();
    for append in appends {
        if !seen.insert(append.stream.as_str()) {
            return Err(StoreError::InvalidEvent(format!(
                "stream {} is listed twice in one append",
                append.stream
            )));
        }
        for event in &append.events {
            event.check()?;
        }
    }
    let mut ids = std::collections::HashSet::new();
    for event in appends.iter().flat_map(|a| &a.events) {
        if !ids.insert(event.id) {
            return Err(StoreError::InvalidEvent(format!("event id {} appears twice", event.id)));
        }
    }
    Ok(())
}
