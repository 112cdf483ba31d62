//! The gate's pure decision core: commands in, events out, state rebuilt by applying events.
//!
//! Nothing in here does IO, reads a clock or draws a random number: the time a command is
//! handled (`now`) and the ids of new things come in with the command, and the time an event
//! was recorded comes in with the event when it is applied. So every rule is proven by plain,
//! microsecond-fast tests ([`testing`]'s given/when/then), and the HTTP adapters around the core
//! only load state, call it, and append what it returns.
//!
//! - [`standards`], the catalog and policy ([`Standards`]), folded from `standards-district`,
//!   and IT's commands on them.
//! - [`decision`], [`decide`], the answer to a purchase check, from the check, the school's
//!   agreement status and the standards.
//! - [`purchase`], the purchase aggregate ([`Purchase`]): submission, calls, alternatives,
//!   approval, and call before cancel.
//! - [`testing`], `given(events).when(command).then_expect_events(..)`.
//!
//! The streams, and the glue between these types and the log's (`NewEvent`, `RecordedEvent`),
//! are here too: [`standards_stream`], [`purchase_stream`], [`school_stream`], [`new_event`],
//! [`decode`], [`load`], [`load_school`].

pub mod decision;
pub mod purchase;
pub mod standards;
pub mod testing;

use chrono::{DateTime, Utc};
use eventlog::{Metadata, NewEvent, RecordedEvent, StreamName};
use events::school::{SchoolEvent, SchoolStatus};
use events::values::SchoolId;
use events::{DecodeError, EventFamily};
use uuid::Uuid;

pub use decision::{DecisionError, MAX_LINES, Outcome, PurchaseCheck, decide};
pub use purchase::{
    Alternative, Call, LogCall, MAX_CALL_AHEAD, ProposeAlternative, Purchase, PurchaseCommand,
    PurchaseError, Submit,
};
pub use standards::{Standards, StandardsCommand, StandardsError};

/// The shape every aggregate of the core has, after cqrs-es: `handle` decides, `apply` folds.
///
/// `handle` never changes the aggregate: a refused command (an `Err`) emits nothing and leaves
/// everything as it was; the caller appends the events of an `Ok` at the aggregate's version
/// and then applies them.
pub trait Aggregate: Default + Clone + std::fmt::Debug {
    type Command;
    type Event: Clone + PartialEq + std::fmt::Debug;
    type Error: std::error::Error + Clone + PartialEq;

    /// The events the command produces, or why it is refused.
    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one event in, given its stream version and the time the log recorded it.
    fn apply_recorded(&mut self, event: &Self::Event, version: u64, recorded_at: DateTime<Utc>);

    /// The stream version the aggregate has applied up to (0: no events).
    fn version(&self) -> u64;
}

/// The `standards-district` stream.
pub fn standards_stream() -> StreamName {
    StreamName::new(events::gate::STANDARDS_STREAM).expect("standards-district is a valid stream")
}

/// The stream of purchase `id`: `purchase-{id}`.
pub fn purchase_stream(id: Uuid) -> StreamName {
    StreamName::new(events::gate::purchase_stream(id)).expect("purchase-{uuid} is a valid stream")
}

/// The stream recording the use of an idempotency key: `idempotency-{id}`.
pub fn idempotency_stream(id: Uuid) -> StreamName {
    StreamName::new(events::gate::idempotency_stream(id)).expect("idempotency-{uuid} is valid")
}

/// The stream of school `id`: `school-{id}`.
pub fn school_stream(id: &SchoolId) -> StreamName {
    StreamName::new(events::school::school_stream(id)).expect("school-{slug} is a valid stream")
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
pub fn load<A>(records: &[RecordedEvent]) -> Result<A, DecodeError>
where
    A: Aggregate,
    A::Event: EventFamily,
{
    let mut aggregate = A::default();
    for record in records {
        aggregate.apply_recorded(&decode(record)?, record.version, record.recorded_at);
    }
    Ok(aggregate)
}

/// A school's status folded from its stream's recorded events.
pub fn load_school(records: &[RecordedEvent]) -> Result<SchoolStatus, DecodeError> {
    let mut status = SchoolStatus::default();
    for record in records {
        status.apply(&decode::<SchoolEvent>(record)?);
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventlog::Actor;
    use events::gate::{PurchaseEvent, PurchaseStatus};

    fn record(event: &PurchaseEvent, version: u64) -> RecordedEvent {
        let new = new_event(event, Metadata::new(Actor::new("erp", "finance"), "gate"));
        RecordedEvent {
            position: version,
            id: new.id,
            stream: purchase_stream(Uuid::nil()).to_string(),
            version,
            event_type: new.event_type,
            data: new.data,
            metadata: new.metadata,
            recorded_at: testing::t0(),
            hash: String::new(),
        }
    }

    #[test]
    fn streams_are_named_category_dash_id() {
        assert_eq!(standards_stream().category(), "standards");
        assert_eq!(purchase_stream(Uuid::nil()).category(), "purchase");
        let school = school_stream(&SchoolId::parse("lincoln-elem").unwrap());
        assert_eq!((school.category(), school.id()), ("school", "lincoln-elem"));
    }

    #[test]
    fn load_folds_recorded_events() {
        let records: Vec<_> = testing::fixtures::held_purchase()
            .iter()
            .enumerate()
            .map(|(i, e)| record(e, i as u64 + 1))
            .collect();
        let purchase: Purchase = load(&records).unwrap();
        assert_eq!(purchase.status, Some(PurchaseStatus::Held));
        assert_eq!(purchase.version, 2);
        assert_eq!(purchase.flagged_at, Some(testing::t0()));

        let mut bad = records[0].clone();
        bad.event_type = "purchase-exploded".into();
        assert!(load::<Purchase>(&[bad]).is_err());
    }
}
