//! procgate's published language: the value types and the events the services write to the
//! log and read from it, and that outside systems receive through the public feed.
//!
//! - [`values`], "parse, don't validate" newtypes (`Money`, `SchoolId`, `Email`, …) whose
//!   constructors, and whose deserialization, refuse bad input.
//! - [`gate`], the gate service's streams (`standards-district`, `purchase-{uuid}`) and events.
//! - [`school`], the school streams (`school-{school_id}`) the stakeholder relations service
//!   writes and the gate reads, with the [`school::SchoolStatus`] fold.
//! - [`card`], purchasing cards, their statements and transactions (`card-{uuid}`,
//!   `statement-{uuid}`, `transaction-{uuid}`), and the reconciliation settings.
//! - [`rules`], the rules several services judge from the same events, each one fold
//!   ([`rules::CallBeforeCancel`]), so that they cannot disagree.
//! - [`calendar`], [`district`] and [`clocks`]: district time. The district's calendar (time
//!   zone, business hours, closures) and business-time arithmetic
//!   ([`calendar::DistrictCalendar`]); the `district-settings` stream and its fold
//!   ([`district::District`]); the clocks on flagged purchases ([`clocks::PurchaseClocks`])
//!   and the `sla-…` streams of their warnings, breaches and escalations.
//! - [`notifications`]: webhook endpoints (`webhook-{uuid}`: registration, secret rotation,
//!   lease, every delivery attempt) and durable subscriptions (`subscription-{name}`), with the
//!   retry schedule and the endpoint's fold ([`notifications::Webhook`]); [`audience`]: who
//!   may receive which event, and what of it.
//! - [`reminders`]: promises and follow-ups due soon and overdue, in the district's calendar
//!   ([`reminders::ItemReminders`]), and the `reminder-…` streams their scheduler writes.
//!
//! Events come in *families*, one enum per stream category ([`gate::StandardsEvent`],
//! [`gate::PurchaseEvent`], [`school::SchoolEvent`]). Each variant wraps a plain payload struct
//! (the event's `data`), and the enum knows its wire form through [`EventFamily`]:
//! [`event_type`](EventFamily::event_type) (kebab-case, like `purchase-submitted`),
//! [`to_data`](EventFamily::to_data) and [`from_parts`](EventFamily::from_parts). The type is
//! kept beside the data (as the log's `event_type` column and CloudEvents' `type`), never inside
//! it, so the data is exactly the payload struct and its schema is that struct's schema.
//!
//! [`event_schemas`] lists every event type with the OpenAPI schema of its data, and
//! [`component_schemas`] every schema those refer to, for the reporting service's feed
//! document.
//!
//! This crate depends on no other procgate crate (not on the log, not on the web plumbing), so
//! any service, and any outside Rust client, can use it.

#[macro_use]
mod family;

pub mod anchors;
pub mod audience;
pub mod calendar;
pub mod card;
pub mod clocks;
pub mod district;
pub mod gate;
pub mod notifications;
pub mod privacy;
pub mod published;
pub mod reminders;
pub mod rounds;
pub mod rules;
pub mod school;
pub mod school_year;
pub mod stakeholders;
pub mod values;

pub use published::Published;

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Ref, RefOr};

/// The events of one stream category, as an enum with a variant per event type.
///
/// Implemented by the `event_family!` macro, which also gives each family the same methods as
/// inherent ones (so callers need not import this trait) and `From<Payload>` for each variant.
pub trait EventFamily: Sized {
    /// The stream category the family's events are written to (`purchase`).
    const CATEGORY: &'static str;
    /// Every event type of the family, in declaration order.
    const EVENT_TYPES: &'static [&'static str];

    /// The event's type on the wire (`purchase-submitted`).
    fn event_type(&self) -> &'static str;
    /// The event's data as JSON: the payload struct, serialized.
    fn to_data(&self) -> Value;
    /// The event from its type and data, as read from the log.
    fn from_parts(event_type: &str, data: &Value) -> Result<Self, DecodeError>;
    /// Every event type of the family with its data's schema.
    fn event_schemas() -> Vec<EventSchema>;
}

/// An event could not be decoded from its type and data.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The type is not one of the family's.
    #[error("{event_type:?} is not a known {category} event type")]
    UnknownType { category: &'static str, event_type: String },
    /// The stream category has no published events.
    #[error("{category:?} is not a category of published events")]
    UnknownCategory { category: String },
    /// The type is known but the data does not fit its schema (or holds an invalid value).
    #[error("the data of a {event_type} event is invalid: {source}")]
    InvalidData {
        event_type: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// One event type of the published language and the OpenAPI schema of its data.
#[derive(Clone)]
pub struct EventSchema {
    /// The event's type (`purchase-submitted`).
    pub event_type: &'static str,
    /// The category of the streams it is written to (`purchase`).
    pub category: &'static str,
    /// The name of the data's schema among an OpenAPI document's components
    /// (`PurchaseSubmitted`).
    pub schema_name: String,
    /// The data's schema.
    pub schema: RefOr<Schema>,
    /// Every schema the data's schema refers to (`Money`, `PurchaseLine`, …), by name.
    pub references: Vec<(String, RefOr<Schema>)>,
}

impl EventSchema {
    /// The entry for an event of type `event_type` in category `category` whose data is a `T`.
    pub fn of<T: ToSchema>(event_type: &'static str, category: &'static str) -> Self {
        let mut references = Vec::new();
        T::schemas(&mut references);
        Self {
            event_type,
            category,
            schema_name: T::name().into_owned(),
            schema: T::schema(),
            references,
        }
    }

    /// A `$ref` to the data's schema in `#/components/schemas`.
    pub fn data_ref(&self) -> RefOr<Schema> {
        RefOr::Ref(Ref::from_schema_name(&self.schema_name))
    }
}

impl std::fmt::Debug for EventSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSchema")
            .field("event_type", &self.event_type)
            .field("category", &self.category)
            .field("schema_name", &self.schema_name)
            .finish_non_exhaustive()
    }
}

/// Every event type of procgate, with its category and the schema of its data.
///
/// To publish a new family, add its `event_schemas()` here (one line); the tests below then
/// check its event types and schema names against the rest.
pub fn event_schemas() -> Vec<EventSchema> {
    [
        gate::StandardsEvent::event_schemas(),
        gate::PurchaseEvent::event_schemas(),
        gate::IdempotencyEvent::event_schemas(),
        school::SchoolEvent::event_schemas(),
        stakeholders::StakeholderEvent::event_schemas(),
        stakeholders::WishEvent::event_schemas(),
        stakeholders::PromiseEvent::event_schemas(),
        stakeholders::FollowUpEvent::event_schemas(),
        stakeholders::EmailEvent::event_schemas(),
        stakeholders::VisionEvent::event_schemas(),
        card::CardEvent::event_schemas(),
        card::StatementEvent::event_schemas(),
        card::CardTransactionEvent::event_schemas(),
        card::ReconciliationEvent::event_schemas(),
        card::CardMatchEvent::event_schemas(),
        district::DistrictEvent::event_schemas(),
        clocks::SlaEvent::event_schemas(),
        reminders::ReminderEvent::event_schemas(),
        notifications::WebhookEvent::event_schemas(),
        notifications::SubscriptionEvent::event_schemas(),
        notifications::MailEvent::event_schemas(),
        notifications::MailPreferenceEvent::event_schemas(),
        anchors::AnchorEvent::event_schemas(),
        privacy::PrivacyEvent::event_schemas(),
        rounds::RoundEvent::event_schemas(),
    ]
    .concat()
}

/// Every schema the events' data need, by component name, sorted: each event's data schema
/// and all the schemas they refer to. Add them to an OpenAPI document with
/// `ComponentsBuilder::schemas_from_iter(events::component_schemas())`.
pub fn component_schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut all = BTreeMap::new();
    for event in event_schemas() {
        all.extend(event.references);
        all.insert(event.schema_name, event.schema);
    }
    all.into_iter().collect()
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn event_types_are_unique_kebab_case() {
        let schemas = event_schemas();
        let types: BTreeSet<_> = schemas.iter().map(|s| s.event_type).collect();
        assert_eq!(types.len(), schemas.len(), "an event type is listed twice");
        for t in types {
            assert!(
                !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{t} is not kebab-case"
            );
        }
    }

    #[test]
    fn schema_names_do_not_collide() {
        // Two different types with the same schema name would silently overwrite each other in
        // an OpenAPI document's components.
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for event in event_schemas() {
            let refs = event.references.iter().cloned();
            for (name, schema) in refs.chain([(event.schema_name.clone(), event.schema.clone())]) {
                let json = serde_json::to_string(&schema).unwrap();
                if let Some(previous) = seen.insert(name.clone(), json.clone()) {
                    assert_eq!(previous, json, "two different schemas are named {name}");
                }
            }
        }
    }

    #[test]
    fn components_cover_every_reference() {
        let components = component_schemas();
        let names: BTreeSet<_> = components.iter().map(|(n, _)| n.clone()).collect();
        let json = serde_json::to_string(&components).unwrap();
        for piece in json.split("#/components/schemas/").skip(1) {
            let name: String = piece.chars().take_while(|c| *c != '"').collect();
            assert!(names.contains(&name), "{name} is referred to but not in the components");
        }
        for expected in ["PurchaseSubmitted", "PurchaseLine", "Money", "Currency", "SchoolId"] {
            assert!(names.contains(expected), "{expected} missing");
        }
    }

    #[test]
    fn money_schema_is_a_string() {
        let components: BTreeMap<_, _> = component_schemas().into_iter().collect();
        let money = serde_json::to_value(&components["Money"]).unwrap();
        assert_eq!(money["type"], "string");
        assert!(money["pattern"].is_string());
    }
}
