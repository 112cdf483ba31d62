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
//! - [`district`], the district's settings ([`DistrictSettings`]): calendar, closures and the
//!   clocks' targets.
//! - [`cards`], purchasing cards ([`Card`]) and the reconciliation settings
//!   ([`Reconciliation`]); [`statements`], statement profiles and the import plan;
//!   [`matching`], which purchase check a card transaction is; [`transaction`], a card
//!   transaction ([`CardTransaction`]) and what IT does with it.
//! - [`testing`], `given(events).when(command).then_expect_events(..)`.
//!
//! The streams, and the glue between these types and the log's (`NewEvent`, `RecordedEvent`),
//! are here too: [`standards_stream`], [`purchase_stream`], [`school_stream`], [`new_event`],
//! [`decode`], [`load`], [`load_school`].

pub mod cards;
pub mod decision;
pub mod district;
pub mod matching;
pub mod purchase;
pub mod standards;
pub mod statements;
pub mod testing;
pub mod transaction;

use eventlog::{RecordedEvent, StreamName};
use events::DecodeError;
use events::school::{SchoolEvent, SchoolStatus};
use events::values::SchoolId;
use uuid::Uuid;

pub use decision::{DecisionError, MAX_LINES, Outcome, PurchaseCheck, assess_lines, decide};
pub use district::{DistrictCommand, DistrictError, DistrictSettings, district_stream};
pub use purchase::{
    Alternative, Call, LogCall, MAX_CALL_AHEAD, MAX_REQUESTED_BEFORE, Occurred, ProposeAlternative,
    Purchase, PurchaseCommand, PurchaseError, Submit,
};
pub use standards::{Standards, StandardsCommand, StandardsError};

pub use cards::{Card, CardError, PutCard, Reconciliation, ReconciliationError};
pub use transaction::{
    CardTransaction, ChosenPurchase, LogOutreach, TransactionCommand, TransactionError,
};

pub use kernel::{Aggregate, At, Decision, decode, load, new_event};

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
    use eventlog::{Actor, Metadata};
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
