//! The stakeholder relations service's decision core: commands in, events out.
//!
//! Nothing here does IO, reads a clock or draws random numbers. Whatever a rule needs from
//! outside arrives with the command: the time (`now`) and the district's date (`today`), the
//! ids of new things (a promise id, a wish id), and facts the HTTP layer looked up in the read
//! models (whether a school exists, the signer's registered role and school).
//!
//! Each aggregate ([`school::School`], [`stakeholder::Stakeholder`], [`wish::Wish`],
//! [`promise::Promise`], [`followup::FollowUp`]) is rebuilt from its own stream with
//! [`Aggregate::apply`] and decides with [`Aggregate::handle`], which returns a [`Decision`]:
//! the events for its own stream, and the events that open new streams in the same atomic
//! append (a conversation opens its wish's stream; a signature opens the standing promise's).
//! [`health`] turns read-model facts into a relationship-health score.
//!
//! # Rules
//!
//! | rule | error |
//! |---|---|
//! | PUT of a school registers it if new, renames it if the name changed, and does nothing if it is the same | — |
//! | only a principal registered **at that school** signs its agreement | `not-a-principal-of-school` (`unknown-stakeholder` if the signer is not registered) |
//! | an agreement is not signed twice without a withdrawal between | `agreement-already-signed` |
//! | only a signed agreement is withdrawn, with a reason | `agreement-not-signed` |
//! | `signed_on`, `withdrawn_on`, a promise's or a follow-up's settling date: not after `today` | `date-in-future` |
//! | a re-signing is not dated before the previous withdrawal; a withdrawal not before its signing | `date-too-early` |
//! | a signing opens the standing `call-before-cancel` promise to the school, made and due on `signed_on` | — |
//! | a stakeholder's school, when given, is registered | `unknown-school` |
//! | a conversation has exactly two stars and one wish; `held_at` is at most [`CLOCK_SKEW`] after `now` | `exactly-two-stars`, `date-in-future` |
//! | a conversation's wish becomes a tracked wish (its own stream), `open` | — |
//! | every headway on a wish has a note; `done`/`declined` wishes only reopen (`open`/`in_progress`), and the note then says why | `wish-closed` |
//! | a promise is due no earlier than the day it is made, and is kept or broken once, with evidence, not before it was made | `date-too-early`, `promise-already-settled` |
//! | the standing `call-before-cancel` promise is settled by the gate's record, never by hand | `standing-promise` |
//! | a follow-up is due today or later, and done once | `date-too-early`, `follow-up-already-done` |
//! | a promise or follow-up is *overdue* when its due date is before `today` and it is not settled ([`is_past_due`]) | — |
//!
//! Text bounds come from the value types the commands carry: [`ShortText`](events::values::ShortText)
//! (1 to 200 characters, one line: names, locations, stars) and
//! [`LongText`](events::values::LongText) (1 to 4000: vision, wishes, notes, evidence,
//! reasons). A required text that is missing or blank never reaches the domain: the HTTP
//! layer refuses it while parsing the request.

pub mod error;
pub mod followup;
pub mod health;
pub mod promise;
pub mod school;
pub mod stakeholder;
pub mod testing;
pub mod wish;

use chrono::{NaiveDate, TimeDelta};
use events::school::{SchoolEvent, school_stream};
use events::stakeholders::{
    FollowUpEvent, PromiseEvent, StakeholderEvent, WishEvent, followup_stream, promise_stream,
    stakeholder_stream, wish_stream,
};
use events::values::SchoolId;
use uuid::Uuid;

pub use error::{DomainError, ErrorKind};

/// How far in the future a reported time (a conversation's `held_at`) may be: clocks of the
/// device a person types on and of the server differ.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Whether something due on `due_on` and not settled is overdue on `today`: its due date has
/// passed (it is not overdue *on* its due date).
pub fn is_past_due(due_on: NaiveDate, today: NaiveDate) -> bool {
    due_on < today
}

/// A decision maker rebuilt from its stream.
pub trait Aggregate: Default + std::fmt::Debug {
    /// The events of its stream.
    type Event: Clone + std::fmt::Debug + PartialEq;
    /// What it is asked to do.
    type Command;

    /// Folds one of its stream's events into the state. Never fails: events are facts.
    fn apply(&mut self, event: &Self::Event);

    /// Decides what a command does, from the state alone. Nothing changes until the events
    /// are appended (and then applied).
    fn handle(&self, command: Self::Command) -> Result<Decision<Self::Event>, DomainError>;

    /// The state after `events`, in stream order.
    fn from_events<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }
}

/// What a command decided: events for the aggregate's own stream (appended at the version the
/// aggregate was loaded at, or as a new stream), and events opening other streams in the same
/// atomic append (each expected not to exist yet). Empty: the command changed nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<E> {
    pub events: Vec<E>,
    pub opens: Vec<Change>,
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

    /// Also opens a new stream with `change`.
    pub fn opening(mut self, change: Change) -> Self {
        self.opens.push(change);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.opens.is_empty()
    }

    /// Every event with its stream, the aggregate's own first (so readers of one append see the
    /// signature before its promise, the conversation before its wish).
    pub fn into_changes(self, own: impl Fn(E) -> Change) -> Vec<Change> {
        self.events.into_iter().map(own).chain(self.opens).collect()
    }
}

/// An event with the stream it goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    School(SchoolId, SchoolEvent),
    Stakeholder(Uuid, StakeholderEvent),
    Wish(Uuid, WishEvent),
    Promise(Uuid, PromiseEvent),
    FollowUp(Uuid, FollowUpEvent),
}

impl Change {
    /// The stream's name (`school-lincoln-elem`, `wish-{uuid}`).
    pub fn stream(&self) -> String {
        match self {
            Self::School(id, _) => school_stream(id),
            Self::Stakeholder(id, _) => stakeholder_stream(*id),
            Self::Wish(id, _) => wish_stream(*id),
            Self::Promise(id, _) => promise_stream(*id),
            Self::FollowUp(id, _) => followup_stream(*id),
        }
    }

    /// The event's type (`agreement-signed`).
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::School(_, e) => e.event_type(),
            Self::Stakeholder(_, e) => e.event_type(),
            Self::Wish(_, e) => e.event_type(),
            Self::Promise(_, e) => e.event_type(),
            Self::FollowUp(_, e) => e.event_type(),
        }
    }

    /// The event's data.
    pub fn to_data(&self) -> serde_json::Value {
        match self {
            Self::School(_, e) => e.to_data(),
            Self::Stakeholder(_, e) => e.to_data(),
            Self::Wish(_, e) => e.to_data(),
            Self::Promise(_, e) => e.to_data(),
            Self::FollowUp(_, e) => e.to_data(),
        }
    }
}

/// `date` must not be after `today`.
pub(crate) fn not_in_future(
    field: &'static str,
    date: NaiveDate,
    today: NaiveDate,
) -> Result<(), DomainError> {
    if date > today { Err(DomainError::DateInFuture { field }) } else { Ok(()) }
}

/// `date` must not be before `earliest`.
pub(crate) fn not_before(
    field: &'static str,
    date: NaiveDate,
    earliest: NaiveDate,
    because: &'static str,
) -> Result<(), DomainError> {
    if date < earliest {
        Err(DomainError::DateTooEarly { field, earliest, because })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::school::SchoolRegistered;
    use events::values::ShortText;

    #[test]
    fn past_due_is_strictly_after_the_due_date() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(!is_past_due(d("2024-09-03"), d("2024-09-03")));
        assert!(is_past_due(d("2024-09-03"), d("2024-09-04")));
        assert!(!is_past_due(d("2024-09-03"), d("2024-09-02")));
    }

    #[test]
    fn changes_know_their_streams() {
        let id = SchoolId::parse("lincoln-elem").unwrap();
        let registered =
            SchoolRegistered { school_id: id.clone(), name: ShortText::parse("Lincoln").unwrap() };
        let change = Change::School(id, registered.into());
        assert_eq!(change.stream(), "school-lincoln-elem");
        assert_eq!(change.event_type(), "school-registered");
        assert_eq!(change.to_data()["name"], "Lincoln");
        let decision: Decision<SchoolEvent> = Decision::nothing();
        assert!(decision.is_empty());
    }
}
