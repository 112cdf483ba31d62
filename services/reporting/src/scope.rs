//! What a reader receives of the log: the audience rule (`events::audience`) applied to events
//! read from the store, for every way events leave the service: the feed pages, the live feed,
//! durable subscriptions and webhook deliveries.
//!
//! A [`Scope`] is built for a caller ([`Scope::of`]: IT staff, auditors and admins see
//! everything; an integration no personal data; a finance system its own purchases) or for the
//! owner of an endpoint or subscription ([`Scope::for_owner`]). It narrows the store's filter
//! to the categories the audience may see ([`Scope::narrow`], so nothing else is read), then
//! admits each event read ([`Scope::admit`]), looking up once which finance system asked for
//! each purchase.

use std::collections::HashMap;

use auth::Principal;
use eventlog::{Direction, EventStore, Filter, RecordedEvent, StreamName};
use events::audience::{Admitted, Audience};
use events::clocks::SLA_CATEGORY;
use events::gate::PurchaseEvent;
use events::notifications::Owner;
use serde_json::Value;

use crate::cloudevent::CloudEvent;

/// An event a reader receives: the event, and its data when some of it is left out.
#[derive(Debug)]
pub struct Shown<'a> {
    pub event: &'a RecordedEvent,
    pub redacted: Option<Value>,
    /// Whether the person who caused it is named by their role only (`actor` is then the
    /// role): IT staff, auditors and admins are people, and only staff read people's names.
    pub anonymous: bool,
}

impl<'a> Shown<'a> {
    /// `event` as it is.
    pub fn whole(event: &'a RecordedEvent) -> Self {
        Self { event, redacted: None, anonymous: false }
    }

    /// As a CloudEvent (borrowing the event, or its redacted data).
    pub fn cloud(&self) -> CloudEvent<'_> {
        let mut cloud = CloudEvent::from(self.event);
        if let Some(data) = &self.redacted {
            cloud.data = data;
        }
        if self.anonymous {
            cloud.actor = cloud.actorrole;
        }
        cloud
    }
}

/// One reader's view of the log.
#[derive(Debug)]
pub struct Scope {
    audience: Audience,
    owners: PurchaseOwners,
}

impl Scope {
    /// The scope of a caller: the widest of its roles (staff, then integration, then
    /// finance).
    pub fn of(principal: &Principal) -> Self {
        Self::new(kernel::privacy::audience(principal))
    }

    /// The scope of an endpoint's or a subscription's owner.
    pub fn for_owner(owner: &Owner) -> Self {
        Self::new(kernel::privacy::audience_of_role(owner.role.parse().ok(), &owner.subject))
    }

    fn new(audience: Audience) -> Self {
        Self { audience, owners: PurchaseOwners::default() }
    }

    /// Whether the reader sees every event whole.
    pub fn sees_everything(&self) -> bool {
        self.audience == Audience::Staff
    }

    /// `filter` narrowed to the categories the reader may see; `None` when nothing is left.
    pub fn narrow(&self, filter: &Filter) -> Option<Filter> {
        if self.sees_everything() {
            return Some(filter.clone());
        }
        let allowed = |c: &str| self.audience.may_see_category(c);
        let categories: Vec<String> = if filter.categories.is_empty() {
            events::Published::CATEGORIES
                .iter()
                .filter(|c| allowed(c))
                .map(|c| (*c).to_owned())
                .collect()
        } else {
            filter.categories.iter().filter(|c| allowed(c)).cloned().collect()
        };
        if categories.is_empty() {
            return None;
        }
        Some(Filter { categories, event_types: filter.event_types.clone() })
    }

    /// The events of `events` the reader receives, in order.
    pub async fn admit<'a>(
        &mut self,
        store: &dyn EventStore,
        events: &'a [RecordedEvent],
    ) -> eventlog::Result<Vec<Shown<'a>>> {
        if self.sees_everything() {
            return Ok(events.iter().map(Shown::whole).collect());
        }
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let owner = self.owners.owner_of(store, event).await?;
            let redacted =
                match self.audience.admit(event.category(), &event.data, owner.as_deref()) {
                    Admitted::No => continue,
                    Admitted::Whole => None,
                    Admitted::Redacted(data) => Some(data),
                };
            let anonymous = !self.audience.names_actor(&event.metadata.actor.role);
            out.push(Shown { event, redacted, anonymous });
        }
        Ok(out)
    }
}

/// Who asked for each purchase check: the `submitted_by` of its `purchase-submitted` (the
/// finance system's token subject, as the gate's own reads judge it).
#[derive(Debug, Default)]
struct PurchaseOwners {
    known: HashMap<String, Option<String>>,
}

/// Forgets what it knows past this many purchases.
const REMEMBERED: usize = 100_000;

impl PurchaseOwners {
    /// The subject that asked for the purchase `event` belongs to (`purchase-…` and `sla-…`
    /// events), `None` for other events or an unknown purchase.
    async fn owner_of(
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
            let subject = submitted_by(event);
            self.remember(id, subject.clone());
            return Ok(subject);
        }
        if let Some(known) = self.known.get(id) {
            return Ok(known.clone());
        }
        let stream = StreamName::new(format!("{}-{id}", PurchaseEvent::CATEGORY))
            .map_err(|e| eventlog::StoreError::InvalidStream(e.to_string()))?;
        let first = store.read_stream(&stream, 1, Direction::Forwards, 1).await?;
        let subject = first.first().and_then(submitted_by);
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

fn submitted_by(event: &RecordedEvent) -> Option<String> {
    event.data.get("submitted_by").and_then(Value::as_str).map(str::to_owned)
}
