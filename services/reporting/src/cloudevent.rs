//! Events as outside readers see them: CloudEvents 1.0 in the JSON event format.
//!
//! [`CloudEvent`] borrows everything from the [`RecordedEvent`] it describes, so turning a page
//! of events into JSON allocates nothing per event beyond the output buffer: ids are written
//! from the stack, the time and `source` are formatted straight into the serializer, and `data`
//! is the stored JSON value serialized in place.
//!
//! The attributes, and where each comes from:
//!
//! | attribute | from | example |
//! |---|---|---|
//! | `specversion` | always | `"1.0"` |
//! | `id` | the event id (unique in the log; a retried append keeps it) | `"0190c1a2-…"` |
//! | `source` | `/procgate/` and the writing service (metadata) | `"/procgate/gate"` |
//! | `type` | the event type, as stored | `"purchase-submitted"` |
//! | `subject` | the stream | `"purchase-0190c1a2-…"` |
//! | `time` | when the store recorded it, RFC 3339 UTC, microseconds | `"2025-03-04T09:15:00.123456Z"` |
//! | `datacontenttype` | always | `"application/json"` |
//! | `data` | the event's data | `{…}` |
//! | `sequence` (extension) | the global position: dense, from 1, the feed's order | `42` |
//! | `streamversion` (extension) | the position within the stream, from 1 | `3` |
//! | `correlationid`, `causationid` (extensions) | metadata; `causationid` only when set | UUIDs |
//! | `actor`, `actorrole` (extensions) | metadata: the JWT subject and role that caused it | `"jdoe"`, `"it_staff"` |
//! | `schemaversion` (extension) | metadata: the version of the type's data schema | `1` |
//!
//! `type` is the plain event type (no reverse-DNS prefix): `source` already scopes it to
//! procgate, and consumers filter on the same names the `type` query parameter takes.
//! Extension values are JSON integers where the spec's type is Integer.

use std::fmt;

use chrono::{DateTime, Utc};
use eventlog::RecordedEvent;
use serde::{Serialize, Serializer};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// The CloudEvents spec version served.
pub const SPEC_VERSION: &str = "1.0";
/// The `datacontenttype` of every event: data is JSON.
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// The prefix of every `source`: `/procgate/{service}`.
pub const SOURCE_PREFIX: &str = "/procgate/";

/// One event of the log as a CloudEvent (JSON event format, spec 1.0).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "specversion": "1.0",
    "id": "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d2e",
    "source": "/procgate/gate",
    "type": "purchase-submitted",
    "subject": "purchase-0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00",
    "time": "2025-03-04T09:15:00.123456Z",
    "datacontenttype": "application/json",
    "data": {"school_id": "lincoln-elem"},
    "sequence": 42,
    "streamversion": 1,
    "correlationid": "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d2f",
    "actor": "finance-system",
    "actorrole": "finance",
    "schemaversion": 1
}))]
pub struct CloudEvent<'a> {
    /// Always `1.0`.
    pub specversion: &'static str,
    /// The event id: unique in the log.
    pub id: Uuid,
    /// `/procgate/{service}`: the service that wrote the event.
    #[schema(value_type = String)]
    pub source: Source<'a>,
    /// The event type (`purchase-submitted`).
    #[serde(rename = "type")]
    pub type_: &'a str,
    /// The stream the event belongs to (`category-id`).
    pub subject: &'a str,
    /// When the store recorded the event (RFC 3339, UTC, microseconds).
    #[schema(value_type = String, format = DateTime)]
    pub time: Rfc3339Micros<'a>,
    /// Always `application/json`.
    pub datacontenttype: &'static str,
    /// The event's data.
    #[schema(value_type = Object)]
    pub data: &'a Value,
    /// Extension: the event's global position, dense from 1; pass it as `after` to resume.
    pub sequence: u64,
    /// Extension: the event's position in its stream, from 1.
    pub streamversion: u64,
    /// Extension: the correlation id shared by the events of one request or workflow.
    pub correlationid: Uuid,
    /// Extension: the id of the event or command that caused this one, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causationid: Option<Uuid>,
    /// Extension: who caused the event (the JWT subject, or `system:{service}`).
    pub actor: &'a str,
    /// Extension: the role the actor acted in (`it_staff`, `system`, …).
    pub actorrole: &'a str,
    /// Extension: the version of the event type's data schema.
    pub schemaversion: u32,
}

impl<'a> From<&'a RecordedEvent> for CloudEvent<'a> {
    fn from(event: &'a RecordedEvent) -> Self {
        let meta = &event.metadata;
        Self {
            specversion: SPEC_VERSION,
            id: event.id,
            source: Source(&meta.service),
            type_: &event.event_type,
            subject: &event.stream,
            time: Rfc3339Micros(&event.recorded_at),
            datacontenttype: DATA_CONTENT_TYPE,
            data: &event.data,
            sequence: event.position,
            streamversion: event.version,
            correlationid: meta.correlation_id,
            causationid: meta.causation_id,
            actor: &meta.actor.subject,
            actorrole: &meta.actor.role,
            schemaversion: meta.schema_version,
        }
    }
}

/// A CloudEvent `source`: `/procgate/{service}`, written without an intermediate string.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a>(pub &'a str);

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SOURCE_PREFIX)?;
        f.write_str(self.0)
    }
}

impl Serialize for Source<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A time as RFC 3339 UTC with exactly six fractional digits (what the store records, and the
/// form the content hash covers), written without an intermediate string.
#[derive(Debug, Clone, Copy)]
pub struct Rfc3339Micros<'a>(pub &'a DateTime<Utc>);

impl fmt::Display for Rfc3339Micros<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }
}

impl Serialize for Rfc3339Micros<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A rough size of one event's JSON, to size output buffers once.
pub(crate) const TYPICAL_EVENT_JSON: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;
    use eventlog::{Actor, Metadata};
    use serde_json::json;

    fn recorded(causation: Option<Uuid>) -> RecordedEvent {
        let mut metadata = Metadata::new(Actor::new("jdoe", "it_staff"), "gate");
        metadata.causation_id = causation;
        RecordedEvent {
            position: 42,
            id: Uuid::now_v7(),
            stream: "purchase-7f3a".into(),
            version: 3,
            event_type: "purchase-flagged".into(),
            data: json!({"b": 1, "a": [true, null, "x\ny"]}),
            metadata,
            recorded_at: "2025-03-04T09:15:00.12Z".parse().unwrap(),
            hash: String::new(),
        }
    }

    #[test]
    fn attributes_follow_the_spec_and_the_metadata() {
        let cause = Uuid::now_v7();
        let event = recorded(Some(cause));
        let json = serde_json::to_value(CloudEvent::from(&event)).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["id"], event.id.to_string());
        assert_eq!(json["source"], "/procgate/gate");
        assert_eq!(json["type"], "purchase-flagged");
        assert_eq!(json["subject"], "purchase-7f3a");
        assert_eq!(json["time"], "2025-03-04T09:15:00.120000Z");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["data"], event.data);
        assert_eq!(json["sequence"], 42);
        assert_eq!(json["streamversion"], 3);
        assert_eq!(json["correlationid"], event.metadata.correlation_id.to_string());
        assert_eq!(json["causationid"], cause.to_string());
        assert_eq!(json["actor"], "jdoe");
        assert_eq!(json["actorrole"], "it_staff");
        assert_eq!(json["schemaversion"], 1);
        // Extension names are lowercase alphanumeric (CloudEvents 1.0, attribute naming).
        for key in json.as_object().unwrap().keys() {
            assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{key}");
        }
    }

    #[test]
    fn causation_is_left_out_when_unknown() {
        let json = serde_json::to_value(CloudEvent::from(&recorded(None))).unwrap();
        assert!(json.get("causationid").is_none());
    }

    #[test]
    fn the_schema_names_every_attribute_serialized() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(CloudEvent::schema()).unwrap();
        let mut documented: Vec<String> =
            schema["properties"].as_object().unwrap().keys().cloned().collect();
        let mut served: Vec<String> =
            serde_json::to_value(CloudEvent::from(&recorded(Some(Uuid::now_v7()))))
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }
}
