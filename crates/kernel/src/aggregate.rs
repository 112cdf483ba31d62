//! The one shape of a decision maker, after cqrs-es: `handle` decides, `apply` folds.

use chrono::{DateTime, Utc};
use eventlog::{Metadata, NewEvent, RecordedEvent, StreamName};
use events::{DecodeError, EventFamily};
use serde_json::Value;

/// An aggregate: state rebuilt from its own stream, deciding commands against it.
///
/// `handle` never changes the aggregate: a refused command (an `Err`) emits nothing and leaves
/// everything as it was. The [command runner](crate::Commands) appends the events of a
/// [`Decision`] at the version the aggregate was loaded at; the next load applies them.
pub trait Aggregate: Default + Clone + std::fmt::Debug {
    /// The events of its stream: one published family.
    type Event: EventFamily + Clone + PartialEq + std::fmt::Debug;
    /// What it is asked to do.
    type Command;
    /// Why it refuses.
    type Error: std::error::Error + Clone + PartialEq;

    /// What `command` does, from the state alone.
    fn handle(&self, command: Self::Command) -> Result<Decision<Self::Event>, Self::Error>;

    /// Folds one event of its stream in. Never fails: events are facts.
    fn apply(&mut self, event: &Self::Event, at: At);
}

/// Where and when the log recorded an event being applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// The event's version in its stream (1 for the first).
    pub version: u64,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl At {
    pub fn of(record: &RecordedEvent) -> Self {
        Self { version: record.version, recorded_at: record.recorded_at }
    }
}

/// What a command decided: events for the aggregate's own stream, and events opening other
/// streams in the same atomic append (each expected not to exist yet). Empty: nothing changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<E> {
    pub events: Vec<E>,
    pub opens: Vec<Opened>,
}

impl<E> Decision<E> {
    /// Nothing to append.
    pub fn nothing() -> Self {
        Self { events: vec![], opens: vec![] }
    }

    /// These events on the aggregate's own stream.
    pub fn events(events: Vec<E>) -> Self {
        Self { events, opens: vec![] }
    }

    /// Also opens a new stream with `opened`.
    pub fn opening(mut self, opened: impl Into<Opened>) -> Self {
        self.opens.push(opened.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.opens.is_empty()
    }
}

impl<E> From<Vec<E>> for Decision<E> {
    fn from(events: Vec<E>) -> Self {
        Self::events(events)
    }
}

/// An event for a stream other than the deciding aggregate's: the first of a new stream, or,
/// with [`after`](Opened::after), the next of a stream the command looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub stream: StreamName,
    pub event_type: &'static str,
    pub data: Value,
    /// The stream's version when it was read: 0, a new stream, unless [`Opened::after`].
    pub read_at: u64,
}

impl Opened {
    /// `event` as the first event of `stream`.
    pub fn new<E: EventFamily>(stream: StreamName, event: &E) -> Self {
        Self { stream, event_type: event.event_type(), data: event.to_data(), read_at: 0 }
    }

    /// Appended to `stream` as it was read, at `version` (a looked-up stream): another writer
    /// that got there first makes the command decide again.
    pub fn after(mut self, version: u64) -> Self {
        self.read_at = version;
        self
    }
}

/// `name` as a stream name; for names built by the events crate's stream functions, which are
/// valid by construction.
pub fn stream(name: impl Into<String>) -> StreamName {
    StreamName::new(name.into()).expect("the events crate's stream names are valid")
}

/// An event of a family, ready to append with `metadata` (a fresh event id; use
/// [`NewEvent::with_id`] for a deterministic one).
pub fn new_event<E: EventFamily>(event: &E, metadata: Metadata) -> NewEvent {
    NewEvent::new(event.event_type(), event.to_data(), metadata)
}

/// The typed event of a recorded one.
pub fn decode<E: EventFamily>(record: &RecordedEvent) -> Result<E, DecodeError> {
    E::from_parts(&record.event_type, &record.data)
}

/// The aggregate folded from its stream's recorded events, in stream order.
pub fn load<A: Aggregate>(records: &[RecordedEvent]) -> Result<A, DecodeError> {
    let mut aggregate = A::default();
    for record in records {
        aggregate.apply(&decode(record)?, At::of(record));
    }
    Ok(aggregate)
}
