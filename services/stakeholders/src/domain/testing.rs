//! Given/when/then for aggregates: `given(events).when(command).then_expect_events(..)`.
//!
//! ```
//! use stakeholders::domain::testing::given;
//! use stakeholders::domain::school::{School, SchoolCommand};
//! use events::values::{SchoolId, ShortText};
//!
//! let id = SchoolId::parse("lincoln-elem").unwrap();
//! let name = ShortText::parse("Lincoln Elementary").unwrap();
//! given::<School>([])
//!     .when(SchoolCommand::Put { school_id: id.clone(), name: name.clone() })
//!     .then_expect_events(vec![
//!         events::school::SchoolRegistered { school_id: id, name }.into(),
//!     ]);
//! ```

use super::{Aggregate, Change, Decision, DomainError};

/// The aggregate after `events`.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let events: Vec<A::Event> = events.into_iter().collect();
    Given { state: A::from_events(&events) }
}

/// An aggregate rebuilt from past events, waiting for a command.
#[derive(Debug)]
pub struct Given<A> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = self.state.handle(command);
        Then { state: self.state, result }
    }
}

/// What a command decided, to check.
#[derive(Debug)]
pub struct Then<A: Aggregate> {
    state: A,
    result: Result<Decision<A::Event>, DomainError>,
}

impl<A: Aggregate> Then<A> {
    /// The decision, or a panic naming the error.
    pub fn decision(&self) -> &Decision<A::Event> {
        match &self.result {
            Ok(decision) => decision,
            Err(e) => panic!("expected a decision, got the error {:?} ({e})", e.slug()),
        }
    }

    /// Asserts the events for the aggregate's own stream; returns `self` to check more.
    #[track_caller]
    pub fn then_expect_events(self, expected: Vec<A::Event>) -> Self {
        assert_eq!(self.decision().events, expected);
        self
    }

    /// Asserts the events opening other streams.
    #[track_caller]
    pub fn then_expect_opens(self, expected: Vec<Change>) -> Self {
        assert_eq!(self.decision().opens, expected);
        self
    }

    /// Asserts that the command changes nothing (and is not refused).
    #[track_caller]
    pub fn then_expect_nothing(self) {
        let decision = self.decision();
        assert!(decision.is_empty(), "expected nothing, got {decision:?}");
    }

    /// Asserts the refusal.
    #[track_caller]
    pub fn then_expect_error(self, expected: DomainError) {
        match self.result {
            Err(e) => assert_eq!(e, expected),
            Ok(d) => panic!("expected the error {:?}, got {d:?}", expected.slug()),
        }
    }

    /// The state after applying the decided events: to chain a further command.
    pub fn then_apply(self) -> Given<A> {
        let mut state = self.state;
        if let Ok(decision) = &self.result {
            for event in &decision.events {
                state.apply(event);
            }
        }
        Given { state }
    }
}
