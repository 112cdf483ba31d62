//! What an endpoint's or subscription's owner receives of an event: the audience rule
//! (`events::audience`) applied to events read from the log, with the purchase each event
//! belongs to looked up once.

use std::collections::HashMap;

use auth::Role;
use eventlog::{Direction, EventStore, RecordedEvent, StreamName};
use events::audience::{Admitted, Audience};
use events::clocks::SLA_CATEGORY;
use events::gate::PurchaseEvent;
use events::notifications::Owner;

use crate::cloudevent::CloudEvent;

/// The audience of an owner: by the role it acted in.
pub fn audience_of(owner: &Owner) -> Audience {
    match owner.role.parse::<Role>() {
        Ok(Role::Admin | Role::ItStaff | Role::Auditor) => Audience::Staff,
        Ok(Role::Finance) => Audience::Finance { subject: owner.subject.clone() },
        // Integration, and anything unknown: no personal data.
        _ => Audience::Integration,
    }
}

/// Who asked for each purchase check: the subject of its `purchase-submitted`.
#[derive(Debug, Default)]
pub struct PurchaseOwners {
    known: HashMap<String, Option<String>>,
}

/// Forgets the oldest half of what it knows past this many purchases.
const REMEMBERED: usize = 100_000;

impl PurchaseOwners {
    /// The subject that asked for the purchase `event` belongs to (`purchase-…` and `sla-…`
    /// events), `None` for other events or an unknown purchase.
    pub async fn owner_of(
        &mut self,
        store: &dyn EventStore,
        event: &RecordedEvent,
    ) -> eventlog::Result<Option<String>> {
        let category = event.category();
        if category != PurchaseEvent::CATEGORY && category != SLA_CATEGORY {
            return Ok(None);
        }
        let id = event.stream_id();
        if category == PurchaseEvent::CATEGORY && event.version == 1 {
            let subject = Some(event.metadata.actor.subject.clone());
            self.remember(id, subject.clone());
            return Ok(subject);
        }
        if let Some(known) = self.known.get(id) {
            return Ok(known.clone());
        }
        let stream = StreamName::new(format!("{}-{id}", PurchaseEvent::CATEGORY))
            .map_err(|e| eventlog::StoreError::InvalidStream(e.to_string()))?;
        let first = store.read_stream(&stream, 1, Direction::Forwards, 1).await?;
        let subject = first.first().map(|e| e.metadata.actor.subject.clone());
        self.remember(id, subject.clone());
        Ok(subject)
    }

    fn remember(&mut self, id: &str, subject: Option<String>) {
        if self.known.len() >= REMEMBERED {
            self.known.clear();
        }
        self.known.insert(id.to_owned(), subject);
    }
}

/// `event` as `audience` may receive it, serialized as a CloudEvent; `None` when it is not
/// for them.
pub fn admit_json(
    audience: &Audience,
    event: &RecordedEvent,
    owner: Option<&str>,
) -> Option<serde_json::Value> {
    let data = match audience.admit(event.category(), &event.data, owner) {
        Admitted::No => return None,
        Admitted::Whole => None,
        Admitted::Redacted(data) => Some(data),
    };
    let mut cloud = CloudEvent::from(event);
    if let Some(data) = &data {
        cloud.data = data;
    }
    Some(serde_json::to_value(&cloud).expect("a CloudEvent serializes"))
}
