//! Tamper evidence: a content hash per event and a chain over the global order.
//!
//! `hash = sha256(domain ‖ id ‖ stream ‖ type ‖ recorded_at ‖ data ‖ metadata)`, each field
//! length-prefixed, with `data` and `metadata` in canonical JSON (keys sorted, no spaces), so the
//! hash does not depend on how a backend stores JSON. The chain link of position `p` is
//! `sha256(link(p-1) ‖ p ‖ version ‖ hash(p))`, starting from 32 zero bytes, so a changed field,
//! a reordering or a missing event breaks every link after it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::event::{Metadata, NewEvent, RecordedEvent};

pub type Hash = [u8; 32];

/// The link before position 1.
pub const GENESIS: Hash = [0; 32];

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The canonical text of a recorded time: RFC 3339, UTC, microseconds.
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The content hash of an event (see the module's documentation).
pub fn content_hash(
    id: &Uuid,
    stream: &str,
    event_type: &str,
    recorded_at: &DateTime<Utc>,
    data: &Value,
    metadata: &Metadata,
) -> Hash {
    // serde_json's maps are sorted (no `preserve_order`), so `to_string` is canonical; the
    // metadata goes through a `Value` so that its maps are sorted too.
    let metadata = serde_json::to_value(metadata).unwrap_or_default().to_string();
    let fields = [id.as_bytes().as_slice(), stream.as_bytes(), event_type.as_bytes()];
    digest(fields, &time_text(recorded_at), data.to_string().as_bytes(), &metadata)
}

/// The hash of an event's fields, each length-prefixed after the domain: `identity` is its id,
/// stream and type; the rest are the canonical texts of its recorded time, data and metadata.
fn digest(identity: [&[u8]; 3], recorded_at: &str, data: &[u8], metadata: &str) -> Hash {
    let mut h = Sha256::new();
    field(&mut h, b"procgate-event-v1");
    for bytes in identity {
        field(&mut h, bytes);
    }
    field(&mut h, recorded_at.as_bytes());
    field(&mut h, data);
    field(&mut h, metadata.as_bytes());
    h.finalize().into()
}

/// [`content_hash`] for many events, byte for byte the same, without doing again what
/// consecutive events share: the text of the recorded time and of the metadata (an append's
/// events usually carry one), and the buffer the data is written to.
#[derive(Debug, Default)]
pub(crate) struct Hasher {
    recorded_at: Option<(DateTime<Utc>, String)>,
    metadata: Option<(Metadata, String)>,
    data: Vec<u8>,
}

impl Hasher {
    /// The content hash of `event` appended to `stream` at `recorded_at`.
    pub(crate) fn event_hash(
        &mut self,
        stream: &str,
        event: &NewEvent,
        recorded_at: &DateTime<Utc>,
    ) -> Hash {
        if self.recorded_at.as_ref().is_none_or(|(t, _)| t != recorded_at) {
            self.recorded_at = Some((*recorded_at, time_text(recorded_at)));
        }
        if self.metadata.as_ref().is_none_or(|(m, _)| *m != event.metadata) {
            // Through a `Value`, whose maps are sorted: canonical.
            let text = serde_json::to_value(&event.metadata).unwrap_or_default().to_string();
            self.metadata = Some((event.metadata.clone(), text));
        }
        self.data.clear();
        // Canonical, as in `content_hash`; writing a `Value` cannot fail.
        let _ = serde_json::to_writer(&mut self.data, &event.data);
        let fields =
            [event.id.as_bytes().as_slice(), stream.as_bytes(), event.event_type.as_bytes()];
        let recorded_at = self.recorded_at.as_ref().map_or("", |(_, t)| t);
        digest(fields, recorded_at, &self.data, self.metadata.as_ref().map_or("", |(_, m)| m))
    }
}

/// Recomputes a recorded event's content hash from its fields.
pub fn recompute(event: &RecordedEvent) -> Hash {
    content_hash(
        &event.id,
        &event.stream,
        &event.event_type,
        &event.recorded_at,
        &event.data,
        &event.metadata,
    )
}

pub fn chain_link(previous: &Hash, position: u64, version: u64, content: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(position.to_be_bytes());
    h.update(version.to_be_bytes());
    h.update(content);
    h.finalize().into()
}

pub(crate) fn to_hash(bytes: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    if bytes.len() == 32 {
        out.copy_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::event::Actor;

    #[test]
    fn the_batch_hasher_hashes_as_content_hash_does() {
        let times = [Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(), Utc::now()];
        let metadata = [
            Metadata::new(Actor::new("a", "finance"), "gate"),
            Metadata::new(Actor::new("b", "it_staff"), "gate"),
        ];
        // The definition, field by field.
        let defined = |id: &Uuid, t: &DateTime<Utc>, data: &Value, m: &Metadata| -> Hash {
            let mut h = Sha256::new();
            for bytes in [
                b"procgate-event-v1".as_slice(),
                id.as_bytes(),
                b"s-1",
                b"tested",
                t.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes(),
                data.to_string().as_bytes(),
                serde_json::to_value(m).unwrap().to_string().as_bytes(),
            ] {
                field(&mut h, bytes);
            }
            h.finalize().into()
        };
        let mut hasher = Hasher::default();
        // Shared and changing times and metadata, in every order, and back again.
        for (n, (t, m)) in [(0, 0), (0, 0), (0, 1), (1, 1), (1, 0), (0, 0)].into_iter().enumerate()
        {
            let data = json!({"n": n, "text": "é\"\n", "list": [1, 2]});
            let event = NewEvent::new("tested", data, metadata[m].clone());
            let (id, data) = (&event.id, &event.data);
            let expected = defined(id, &times[t], data, &metadata[m]);
            assert_eq!(hasher.event_hash("s-1", &event, &times[t]), expected);
            assert_eq!(content_hash(id, "s-1", "tested", &times[t], data, &metadata[m]), expected);
        }
    }
}
