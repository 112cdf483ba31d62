//! Signed anchors of the log's hash chain: statements, signed with the district's Ed25519 key,
//! that the chain's link at `sequence` was `chain_hash` at `signed_at`. An administrator who
//! rewrites an event and recomputes every later link keeps the chain self-consistent, but
//! cannot make it match an anchor kept where they cannot reach (a file shipped elsewhere, a
//! webhook to another system).
//!
//! Anchors are also appended to the log (`anchor-signed` on `anchor-district`), so auditors
//! can list and export them; an anchor's event id is derived from its key and sequence, so
//! several instances anchoring the same head write it once.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The category of the anchors' stream.
pub const ANCHOR_CATEGORY: &str = "anchor";
/// The anchors' stream.
pub const ANCHOR_STREAM: &str = "anchor-district";

/// A signed statement of the chain's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnchorSigned {
    /// The log position anchored.
    pub sequence: u64,
    /// The chain link at `sequence`, hex.
    pub chain_hash: String,
    pub signed_at: DateTime<Utc>,
    /// The signing key's id: the first 16 hex digits of the SHA-256 of its public key.
    pub key_id: String,
    /// Ed25519 over [`AnchorSigned::statement`], base64.
    pub signature: String,
}

impl AnchorSigned {
    /// The exact text signed.
    pub fn statement(
        sequence: u64,
        chain_hash: &str,
        signed_at: &DateTime<Utc>,
        key_id: &str,
    ) -> String {
        format!(
            "procgate-anchor-v1\n{sequence}\n{chain_hash}\n{}\n{key_id}\n",
            signed_at.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }

    /// This anchor's statement.
    pub fn signed_text(&self) -> String {
        Self::statement(self.sequence, &self.chain_hash, &self.signed_at, &self.key_id)
    }

    /// The id of its event in the log: one per key and sequence.
    pub fn event_id(&self) -> Uuid {
        const NAMESPACE: Uuid = Uuid::from_u128(0x2f6b_0a4e_93c1_4d58_8e07_c5a9_1b3d_f462);
        Uuid::new_v5(&NAMESPACE, format!("{}:{}", self.key_id, self.sequence).as_bytes())
    }
}

event_family! {
    /// The events of the `anchor-district` stream.
    pub enum AnchorEvent in "anchor" {
        Signed(AnchorSigned) = "anchor-signed",
    }
}
