//! The feed's events in the OpenAPI document, typed by `type`.
//!
//! Every event type procgate writes ([`events::event_schemas`]) gets a schema
//! `{DataSchema}CloudEvent` (for example `PurchaseSubmittedCloudEvent`): the [`CloudEvent`]
//! envelope with `type` fixed to that event type and `data` referring to the data's own schema
//! (`PurchaseSubmitted`, from [`events::component_schemas`]). [`FeedEvent`] is the `oneOf` of
//! them all with a discriminator on `type` whose mapping names each one, so a client generator
//! produces one class per event type and picks it by `type`. Its description carries the same
//! mapping as a table (type, stream category, data schema) for people.
//!
//! A new event type is added to `events::event_schemas()`, and so to this document, before any
//! service writes it; a client that meets a type it does not know should skip the event.

use std::borrow::Cow;
use std::fmt::Write as _;

use events::EventSchema;
use utoipa::openapi::schema::{
    AllOfBuilder, Discriminator, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::cloudevent::CloudEvent;

/// The name of the typed envelope schema of an event type: `PurchaseSubmittedCloudEvent`.
pub fn typed_schema_name(event: &EventSchema) -> String {
    format!("{}CloudEvent", event.schema_name)
}

/// The envelope with `type` fixed and `data` typed.
fn typed_schema(event: &EventSchema) -> RefOr<Schema> {
    let narrowed = ObjectBuilder::new()
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .enum_values(Some([event.event_type]))
                .description(Some(format!("Always `{}`.", event.event_type))),
        )
        .required("type")
        .property("data", event.data_ref())
        .required("data");
    AllOfBuilder::new()
        .item(Ref::from_schema_name(CloudEvent::name()))
        .item(narrowed)
        .description(Some(format!(
            "A `{}` event (streams `{}-…`): the CloudEvent envelope with `data` a `{}`.",
            event.event_type, event.category, event.schema_name
        )))
        .into()
}

/// Any event of the feed: one of the typed envelopes, told apart by `type`.
#[derive(Debug, Clone, Copy)]
pub struct FeedEvent;

impl PartialSchema for FeedEvent {
    fn schema() -> RefOr<Schema> {
        let events = events::event_schemas();
        let mut description = String::from(
            "An event of the log as a CloudEvent, typed by `type`: the schema of `data` depends \
             on the event type, as listed here and in the discriminator's mapping. A client that \
             meets a type not listed (written by a newer procgate) should skip it.\n\n\
             | type | stream category | data schema |\n|---|---|---|\n",
        );
        let mut one_of = OneOfBuilder::new();
        let mut mapping = Vec::with_capacity(events.len());
        for event in &events {
            let name = typed_schema_name(event);
            let _ = writeln!(
                description,
                "| `{}` | `{}` | `{}` |",
                event.event_type, event.category, event.schema_name
            );
            one_of = one_of.item(Ref::from_schema_name(&name));
            mapping.push((event.event_type.to_owned(), format!("#/components/schemas/{name}")));
        }
        one_of
            .discriminator(Some(Discriminator::with_mapping("type", mapping)))
            .description(Some(description))
            .into()
    }
}

impl ToSchema for FeedEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FeedEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((CloudEvent::name().into_owned(), CloudEvent::schema()));
        for event in events::event_schemas() {
            schemas.push((typed_schema_name(&event), typed_schema(&event)));
        }
        schemas.extend(events::component_schemas());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_mapped_to_a_typed_envelope() {
        let events = events::event_schemas();
        let schema = serde_json::to_value(FeedEvent::schema()).unwrap();
        let mapping = schema["discriminator"]["mapping"].as_object().unwrap();
        assert_eq!(schema["discriminator"]["propertyName"], "type");
        assert_eq!(mapping.len(), events.len());
        assert_eq!(schema["oneOf"].as_array().unwrap().len(), events.len());
        let mut components = Vec::new();
        FeedEvent::schemas(&mut components);
        let components: std::collections::BTreeMap<String, serde_json::Value> =
            components.into_iter().map(|(n, s)| (n, serde_json::to_value(s).unwrap())).collect();
        for event in &events {
            let target = mapping[event.event_type].as_str().unwrap();
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            let typed = &components[name];
            assert_eq!(typed["allOf"][0]["$ref"], "#/components/schemas/CloudEvent");
            let narrowed = &typed["allOf"][1]["properties"];
            assert_eq!(narrowed["type"]["enum"], serde_json::json!([event.event_type]));
            let data = narrowed["data"]["$ref"].as_str().unwrap();
            let data = data.strip_prefix("#/components/schemas/").unwrap();
            assert!(components.contains_key(data), "{data} is not among the components");
        }
        for family_type in
            ["purchase-submitted", "promise-made", "wish-progressed", "followup-done"]
        {
            assert!(mapping.contains_key(family_type), "{family_type} missing");
        }
    }
}
