//! Signed anchors of the hash chain (`events::anchors`): `GET`/`POST /v1/audit/anchors`,
//! `POST /v1/audit/anchors/verify`, the periodic signer, and [`check_anchors`] for
//! `procgate audit verify --anchor FILE`.
//!
//! The chain catches a careless edit, but an administrator who rewrites an event and
//! recomputes every later link leaves a chain that verifies. An anchor kept out of their reach
//! does not move with it: [`check_anchors`] fails when the log no longer holds what an anchor
//! signed (a rewritten and re-chained event, a truncated tail, a reordering), and with several
//! anchors it names the stretch of the log that changed: after the last anchor that still
//! matches, up to the first that does not.

use std::time::Duration;

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use eventlog::{Actor, EventStore, ExpectedVersion, Metadata, NewEvent, StoreError};
use events::anchors::{ANCHOR_STREAM, AnchorEvent, AnchorSigned};
use kernel::http::{Body, Caller, FromJson, Reply, store_error};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use web::{ApiError, Fields};

use crate::Reporting;
use crate::audit::Verifiers;

/// The district's anchor key.
#[derive(Clone)]
pub struct AnchorKey {
    signing: SigningKey,
}

impl std::fmt::Debug for AnchorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnchorKey({})", self.key_id())
    }
}

/// The id of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex_string(&Sha256::digest(key.as_bytes()))[..16].to_owned()
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AnchorKey {
    /// A new random key.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
        Ok(Self { signing: SigningKey::from_bytes(&seed) })
    }

    /// From a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        SigningKey::from_pkcs8_pem(pem)
            .map(|signing| Self { signing })
            .map_err(|e| format!("not an Ed25519 private key in PKCS#8 PEM: {e}"))
    }

    /// As a PKCS#8 PEM private key.
    pub fn to_pem(&self) -> Result<String, String> {
        self.signing
            .to_pkcs8_pem(Default::default())
            .map(|pem| pem.to_string())
            .map_err(|e| e.to_string())
    }

    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public())
    }

    /// Signs that the chain's link at `sequence` is `chain_hash`, now.
    pub fn sign(&self, sequence: u64, chain_hash: &[u8]) -> AnchorSigned {
        let signed_at = Utc::now();
        let chain_hash = hex_string(chain_hash);
        let key_id = self.key_id();
        let text = AnchorSigned::statement(sequence, &chain_hash, &signed_at, &key_id);
        let signature = STANDARD.encode(self.signing.sign(text.as_bytes()).to_bytes());
        AnchorSigned { sequence, chain_hash, signed_at, key_id, signature }
    }
}

/// Signs the log's head as it is and appends the anchor (once per head and key, whoever asks).
pub async fn anchor_head(
    store: &dyn EventStore,
    key: &AnchorKey,
) -> eventlog::Result<AnchorSigned> {
    let head = store.head().await?;
    let link = store
        .chain_link(head)
        .await?
        .ok_or_else(|| StoreError::Unavailable(format!("no chain link at the head, {head}")))?;
    let anchor = key.sign(head, &link);
    let event = AnchorEvent::from(anchor.clone());
    let meta = Metadata::new(Actor::system("reporting"), "reporting");
    let new = NewEvent::new(event.event_type(), event.to_data(), meta).with_id(anchor.event_id());
    let stream = kernel::stream(ANCHOR_STREAM);
    match store.append(&stream, ExpectedVersion::Any, vec![new]).await {
        Ok(_) | Err(StoreError::DuplicateEventId { .. }) => Ok(anchor),
        Err(e) => Err(e),
    }
}

/// Every anchor in the log, oldest first.
pub async fn stored_anchors(store: &dyn EventStore) -> eventlog::Result<Vec<AnchorSigned>> {
    let records = store.read_stream_to_end(&kernel::stream(ANCHOR_STREAM)).await?;
    Ok(records
        .iter()
        .filter_map(|r| match kernel::decode::<AnchorEvent>(r) {
            Ok(AnchorEvent::Signed(a)) => Some(a),
            Err(_) => None,
        })
        .collect())
}

/// What checking anchors against the log found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AnchorCheck {
    /// Every anchor is signed by a trusted key and the log still holds what it signed.
    pub ok: bool,
    /// How many anchors were checked.
    pub checked: usize,
    /// The last anchor (by sequence) the log still matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_matching_sequence: Option<u64>,
    /// The first anchor it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failing_sequence: Option<u64>,
    /// What differs, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Checks `anchors` against the log, trusting signatures by `trusted` keys only.
pub async fn check_anchors(
    store: &dyn EventStore,
    anchors: &[AnchorSigned],
    trusted: &[VerifyingKey],
) -> eventlog::Result<AnchorCheck> {
    let mut sorted = anchors.to_vec();
    sorted.sort_by_key(|a| a.sequence);
    let head = store.head().await?;
    let mut last_ok = None;
    for anchor in &sorted {
        let fail = |problem: String| AnchorCheck {
            ok: false,
            checked: sorted.len(),
            last_matching_sequence: last_ok,
            first_failing_sequence: Some(anchor.sequence),
            problem: Some(problem),
        };
        if let Err(why) = signature_holds(anchor, trusted) {
            return Ok(fail(why));
        }
        if anchor.sequence > head {
            return Ok(fail(format!(
                "the log ends at sequence {head}, but an anchor signed sequence {}: events \
                 were removed from the end of the log",
                anchor.sequence
            )));
        }
        let link = store.chain_link(anchor.sequence).await?.map(|l| hex_string(&l));
        if link.as_deref() != Some(anchor.chain_hash.as_str()) {
            let since = last_ok.map_or(1, |s| s + 1);
            return Ok(fail(format!(
                "the chain at sequence {} is {}, but the anchor signed {} at {}: an event from \
                 sequence {since} to {} was rewritten, removed or reordered, and the chain \
                 recomputed after it",
                anchor.sequence,
                link.unwrap_or_else(|| "missing".into()),
                anchor.chain_hash,
                anchor.signed_at.to_rfc3339(),
                anchor.sequence
            )));
        }
        last_ok = Some(anchor.sequence);
    }
    Ok(AnchorCheck {
        ok: true,
        checked: sorted.len(),
        last_matching_sequence: last_ok,
        first_failing_sequence: None,
        problem: None,
    })
}

/// [`check_anchors`], then the chain recomputed from the first event to the last anchor that
/// matched: a link stored at an anchor's sequence says nothing of the events before it unless
/// they still hash to it (an administrator may change an event and its hash and keep the
/// links). `procgate audit verify` recomputes the whole chain first; an HTTP caller gets both
/// here.
pub async fn check_log_against(
    store: &dyn EventStore,
    anchors: &[AnchorSigned],
    trusted: &[VerifyingKey],
) -> eventlog::Result<AnchorCheck> {
    let check = check_anchors(store, anchors, trusted).await?;
    let Some(last) = check.last_matching_sequence else { return Ok(check) };
    let chain = store.verify(1, Some(last), &|_| {}).await?;
    if chain.ok {
        return Ok(check);
    }
    let bad = chain.first_bad_sequence.unwrap_or(1);
    let problem = chain.problem.unwrap_or_default();
    let mut sequences: Vec<u64> = anchors.iter().map(|a| a.sequence).collect();
    sequences.sort_unstable();
    Ok(AnchorCheck {
        ok: false,
        checked: sequences.len(),
        last_matching_sequence: sequences.iter().rev().find(|s| **s < bad).copied(),
        first_failing_sequence: sequences.iter().find(|s| **s >= bad).copied(),
        // Past the last anchor (a row past the head) it is the log's fault, not the anchors'.
        problem: Some(if bad > last {
            format!("the log is broken at sequence {bad}: {problem}")
        } else {
            format!(
                "the chain does not recompute at sequence {bad} ({problem}): the events an \
                 anchor signed were changed and their stored links kept"
            )
        }),
    })
}

fn signature_holds(anchor: &AnchorSigned, trusted: &[VerifyingKey]) -> Result<(), String> {
    let key = trusted.iter().find(|k| key_id(k) == anchor.key_id).ok_or_else(|| {
        format!(
            "the anchor at sequence {} is signed by key {}, which this district does not trust",
            anchor.sequence, anchor.key_id
        )
    })?;
    let bytes = STANDARD.decode(&anchor.signature).map_err(|_| {
        format!("the anchor at sequence {} has no valid signature", anchor.sequence)
    })?;
    let signature = Signature::from_slice(&bytes).map_err(|_| {
        format!("the anchor at sequence {} has no valid signature", anchor.sequence)
    })?;
    key.verify(anchor.signed_text().as_bytes(), &signature).map_err(|_| {
        format!(
            "the anchor at sequence {} does not verify: it was altered after it was signed",
            anchor.sequence
        )
    })
}

/// Signs the head every `interval` while the log moves; stops when dropped.
pub(crate) fn spawn_signer(
    store: eventlog::Store,
    key: AnchorKey,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            match unanchored(&*store).await {
                Ok(false) => {}
                Ok(true) => {
                    if let Err(e) = anchor_head(&*store, &key).await {
                        tracing::warn!(error = %e, "could not anchor the log");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not read the log's head to anchor it"),
            }
        }
    })
}

/// Whether the log moved since it was last anchored: it holds events and the last of them is
/// not an anchor. An anchor is an event itself, whichever instance signed it: instances that
/// took another's anchor for the log moving would anchor each other's anchors for ever.
async fn unanchored(store: &dyn EventStore) -> eventlog::Result<bool> {
    let head = store.head().await?;
    if head == 0 {
        return Ok(false);
    }
    let last = store.read_all(head - 1, &eventlog::Filter::all(), 1).await?;
    Ok(last.first().is_none_or(|e| e.category() != AnchorEvent::CATEGORY))
}

/// The anchors in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnchorList {
    pub anchors: Vec<AnchorSigned>,
    /// The public key that signs them (hex), and its id.
    pub public_key: String,
    pub key_id: String,
}

/// Anchors to check against the log.
#[derive(Debug, ToSchema)]
pub struct AnchorsBody {
    /// As `GET /v1/audit/anchors` exported them (or any of them).
    #[schema(min_items = 1, max_items = 100000)]
    pub anchors: Vec<AnchorSigned>,
}

impl FromJson for AnchorsBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let anchors = f.array("anchors", map.get("anchors"), 1, 100_000, |f, p, v| {
            match serde_json::from_value::<AnchorSigned>(v.clone()) {
                // A log position is an int64, as the document says.
                Ok(a) => match web::input::int64(a.sequence) {
                    Ok(_) => Some(a),
                    Err(e) => {
                        f.error(format!("{p}.sequence"), e);
                        None
                    }
                },
                Err(e) => {
                    f.error(p, format!("not an anchor: {e}"));
                    None
                }
            }
        });
        Some(Self { anchors: anchors? })
    }
}

kernel::problem_responses! {
    /// What every anchor operation may answer besides its own responses.
    AnchorErrors {
        "401" => "",
        "403" => "Needs auditor or admin",
        "503" => "",
    }
}

impl Reporting {
    fn anchor_key(&self) -> Result<&AnchorKey, ApiError> {
        self.anchor_key.as_ref().ok_or_else(|| {
            ApiError::unavailable("Anchors are not configured on this instance (no anchor key).")
        })
    }
}

/// The signed anchors of the chain in the log, oldest first: export them and keep them where
/// the database's administrators cannot reach.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 200, body = AnchorList),
        AnchorErrors,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/audit/anchors")]
pub async fn list_anchors(_: Caller<Verifiers>, service: Data<Reporting>) -> Reply {
    let key = service.anchor_key()?;
    let anchors = stored_anchors(&**service.store()).await.map_err(store_error)?;
    Ok(HttpResponse::Ok().json(AnchorList {
        anchors,
        public_key: hex_string(key.public().as_bytes()),
        key_id: key.key_id(),
    }))
}

/// Sign the chain's head now.
#[utoipa::path(
    tag = "audit",
    responses(
        (status = 201, description = "The anchor of the head", body = AnchorSigned),
        AnchorErrors,
    ),
    security(("bearer" = [])),
)]
#[post("/v1/audit/anchors")]
pub async fn create_anchor(
    _: Caller<Verifiers>,
    service: Data<Reporting>,
    _req: HttpRequest,
) -> Reply {
    let key = service.anchor_key()?.clone();
    let anchor = anchor_head(&**service.store(), &key).await.map_err(store_error)?;
    Ok(HttpResponse::Created().json(anchor))
}

/// Check anchors against the log: whether it still holds what each signed (each anchor's
/// signature and chain link, and the chain recomputed up to the last anchor that matches).
#[utoipa::path(
    tag = "audit",
    request_body = AnchorsBody,
    responses(
        (status = 200, description = "`ok`, or the first anchor the log no longer matches", body = AnchorCheck),
        (status = 400, description = "`malformed-json`", body = web::Problem),
        (status = 422, description = "`validation`: not anchors", body = web::Problem),
        AnchorErrors,
    ),
    security(("bearer" = [])),
)]
#[post("/v1/audit/anchors/verify")]
pub async fn verify_anchors(
    _: Caller<Verifiers>,
    service: Data<Reporting>,
    body: Body<AnchorsBody>,
) -> Reply {
    let anchors = body.parse()?.anchors;
    let key = service.anchor_key()?;
    // It recomputes the chain: one verification at a time, as `GET /v1/audit/verify`.
    let _turn = service.verifications().await;
    let check = check_log_against(&**service.store(), &anchors, &[key.public()])
        .await
        .map_err(store_error)?;
    Ok(HttpResponse::Ok().json(check))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventlog::SqliteStore;
    use serde_json::json;

    #[tokio::test]
    async fn given_instances_anchoring_then_only_a_log_that_moved_is_anchored_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("events.sqlite3")).await.unwrap();
        let (one, other) = (AnchorKey::generate().unwrap(), AnchorKey::generate().unwrap());
        assert!(!unanchored(&store).await.unwrap(), "an empty log");
        let meta = Metadata::new(Actor::system("test"), "test");
        let event = || NewEvent::new("school-registered", json!({}), meta.clone());
        let school = kernel::stream("school-s1");
        store.append(&school, ExpectedVersion::Any, vec![event()]).await.unwrap();
        assert!(unanchored(&store).await.unwrap());
        // An instance anchors it; neither it nor another instance (another key) sees it move.
        anchor_head(&store, &one).await.unwrap();
        assert!(!unanchored(&store).await.unwrap());
        // Until something else happens.
        store.append(&school, ExpectedVersion::Any, vec![event()]).await.unwrap();
        assert!(unanchored(&store).await.unwrap());
        anchor_head(&store, &other).await.unwrap();
        assert!(!unanchored(&store).await.unwrap());
    }
}
