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

use crate::event::{Metadata, RecordedEvent};

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

pub fn content_hash(
    id: &Uuid,
    stream: &str,
    event_type: &str,
    recorded_at: &DateTime<Utc>,
    data: &Value,
    metadata: &Metadata,
) -> Hash {
    let mut h = Sha256::new();
    field(&mut h, b"procgate-event-v1");
    field(&mut h, id.as_bytes());
    field(&mut h, stream.as_bytes());
    field(&mut h, event_type.as_bytes());
    field(&mut h, time_text(recorded_at).as_bytes());
    // serde_json's maps are sorted (no `preserve_order`), so this is canonical.
    field(&mut h, data.to_string().as_bytes());
    field(&mut h, serde_json::to_value(metadata).unwrap_or_default().to_string().as_bytes());
    h.finalize().into()
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
