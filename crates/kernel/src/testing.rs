//! Given/when/then for aggregates, after cqrs-es's `TestFramework`:
//! `given(events).when(command).then_expect_events(..)` or `.then_expect_error(..)`.
//!
//! Events given without a time are recorded at [`t0`] with versions 1, 2, …; give
//! `(event, time)` pairs to [`given_at`] when times matter.

use chrono::{DateTime, Utc};

use eventlog::{Actor, Metadata, RecordedEvent};
use events::EventFamily;

use crate::aggregate::{Aggregate, At, Decision, Opened};

/// The time given events are recorded at unless told otherwise: 2024-09-02T09:00:00Z.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_725_267_600, 0).expect("a valid timestamp")
}

/// `event` as the log would hand it back: at `version` of `stream`, recorded at `at` (position
/// 0, no hash), for a tracker or a fold fed records by hand.
pub fn recorded<E: EventFamily>(
    stream: String,
    version: u64,
    event: &E,
    at: DateTime<Utc>,
) -> RecordedEvent {
    let new = crate::new_event(event, Metadata::new(Actor::system("test"), "test"));
    RecordedEvent {
        position: 0,
        id: new.id,
        stream,
        version,
        event_type: new.event_type,
        data: new.data,
        metadata: new.metadata,
        recorded_at: at,
        hash: String::new(),
    }
}

/// Starts a scenario from `events`, each recorded at [`t0`].
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    given_at(events.into_iter().map(|e| (e, t0())))
}

/// Starts a scenario from `(event, recorded_at)` pairs.
pub fn given_at<A: Aggregate>(
    events: impl IntoIterator<Item = (A::Event, DateTime<Utc>)>,
) -> Given<A> {
    let mut given = Given { state: A::default(), version: 0 };
    for (event, at) in events {
        given.apply(&event, at);
    }
    given
}

/// An aggregate built from the given events, waiting for a command.
#[derive(Debug)]
pub struct Given<A: Aggregate> {
    state: A,
    version: u64,
}

impl<A: Aggregate> Given<A> {
    fn apply(&mut self, event: &A::Event, recorded_at: DateTime<Utc>) {
        self.version += 1;
        self.state.apply(event, At { version: self.version, recorded_at });
    }

    /// The state the given events produced.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// Handles `command` against the given state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = self.state.handle(command);
        Then { given: self, result }
    }
}

/// The result of a command, to check.
#[derive(Debug)]
pub struct Then<A: Aggregate> {
    given: Given<A>,
    result: Result<Decision<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A> {
    /// The decision, or a panic naming the refusal.
    #[track_caller]
    pub fn decision(&self) -> &Decision<A::Event> {
        match &self.result {
            Ok(decision) => decision,
            Err(e) => panic!("expected a decision, but the command was refused: {e:?} ({e})"),
        }
    }

    /// The command's result, for checks the helpers do not cover.
    pub fn result(&self) -> &Result<Decision<A::Event>, A::Error> {
        &self.result
    }

    /// Asserts the events for the aggregate's own stream; returns `self` to check more.
    #[track_caller]
    pub fn then_expect_events(self, expected: Vec<A::Event>) -> Self {
        assert_eq!(self.decision().events, expected, "the command emitted other events");
        self
    }

    /// Asserts the events opening other streams; returns `self` to check more.
    #[track_caller]
    pub fn then_expect_opens(self, expected: Vec<Opened>) -> Self {
        assert_eq!(self.decision().opens, expected, "the command opened other streams");
        self
    }

    /// Asserts that the command changes nothing (and is not refused).
    #[track_caller]
    pub fn then_expect_nothing(self) {
        let decision = self.decision();
        assert!(decision.is_empty(), "expected nothing, got {decision:?}");
    }

    /// Asserts the refusal; returns the error for more checks.
    #[track_caller]
    pub fn then_expect_error(self, expected: A::Error) -> A::Error {
        match self.result {
            Ok(decision) => panic!("expected the error {expected:?}, but got {decision:?}"),
            Err(e) => {
                assert_eq!(e, expected, "the command was refused for another reason");
                e
            }
        }
    }

    /// The scenario after the decided events, recorded at [`t0`]: to chain another command.
    #[track_caller]
    pub fn then_apply(self) -> Given<A> {
        self.then_apply_at(t0())
    }

    /// The scenario after the decided events, recorded at `recorded_at`.
    #[track_caller]
    pub fn then_apply_at(self, recorded_at: DateTime<Utc>) -> Given<A> {
        let mut given = self.given;
        match self.result {
            Ok(decision) => {
                for event in &decision.events {
                    given.apply(event, recorded_at);
                }
                given
            }
            Err(e) => panic!("expected success, but the command was refused: {e:?} ({e})"),
        }
    }

    /// The state after the decided events, recorded at `recorded_at`.
    #[track_caller]
    pub fn then_state(self, recorded_at: DateTime<Utc>) -> A {
        self.then_apply_at(recorded_at).state
    }
}

/// Every document `projection` keeps after `events`, applied one batch per event in memory,
/// as the log would: for read models' tests that need no store.
pub fn project(
    projection: &dyn eventlog::Projection,
    events: &[eventlog::RecordedEvent],
) -> std::collections::BTreeMap<eventlog::DocKey, serde_json::Value> {
    use eventlog::projection::apply_in_memory;
    let mut store = std::collections::BTreeMap::new();
    for event in events {
        let changes =
            apply_in_memory(projection, std::slice::from_ref(event), 0, |k| store.get(k).cloned())
                .unwrap_or_else(|e| panic!("{} does not apply: {e}", event.event_type));
        for (key, value) in changes {
            match value {
                Some(value) => store.insert(key, value),
                None => store.remove(&key),
            };
        }
    }
    store
}
