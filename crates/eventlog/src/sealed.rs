//! Personal data sealed in the log, so a person can be erased from an append-only, chained log
//! (crypto-shredding).
//!
//! [`SealedStore`] wraps a store. On append, the fields its [`Sealing`] rules name (a person's
//! name, e-mail, phone, vision, notes…) are encrypted with the data key of their *subject*
//! (AES-256-GCM, a key per person, per conversation's notes, per call's notes), and the event is
//! stored with the ciphertext: the content hash and the chain cover the ciphertext. The keys live
//! outside the chain, in the store's key table ([`crate::keys`]), each wrapped by the district's
//! [`MasterKey`]. On every read (streams, the whole log, the feed, replays, projections), sealed
//! fields are opened again, or, once their key was destroyed, read as the *mask* stored beside
//! the ciphertext (`"(erased)"`, an `erased.…@erased.invalid` address, `null`): erased
//! everywhere at once, and [`EventStore::verify`] still passes.
//!
//! A stored sealed field is `{"$sealed": {"subject", "mask", "nonce", "ciphertext"}}`; the
//! ciphertext is bound to the event's id and the field's name (the AEAD's associated data), so
//! it cannot be moved to another event or field. A field written for a subject whose key is
//! already destroyed is stored as its mask alone.
//!
//! Erasures are announced by events of the [`ERASURE_CATEGORY`]: a store that reads one it had
//! not read before forgets every key it cached (other processes destroyed keys in the table first), and projections
//! that hold personal data rebuild after one ([`crate::projection`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::event::{
    AppendResult, Direction, Filter, NewEvent, RecordedEvent, StreamAppend, StreamName,
};
use crate::hash::Hash;
use crate::keys::{DataKey, KeySelector};
use crate::projection::Projection;
use crate::store::{ChainRow, EventStore, Seen};

/// The category of the events that announce erasures.
pub const ERASURE_CATEGORY: &str = "privacy";

/// The types of the erasure announcements: a person's personal data erased; data past its
/// retention erased.
pub const ERASURE_TYPES: &[&str] = &["personal-data-erased", "retention-erased"];

/// What a sealed text reads as once erased.
pub const ERASED: &str = "(erased)";

/// The domain of an erased e-mail address (`.invalid` is reserved: it never delivers).
pub const ERASED_DOMAIN: &str = "erased.invalid";

/// The most keys a store keeps opened in memory (forgotten all at once past this).
const MAX_CACHED_KEYS: usize = 50_000;

/// Where a rule finds its subject: the event's stream name, or `{prefix}-{value}` of a field
/// (a path into the event's data).
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Stream,
    Field { prefix: &'static str, path: &'static [&'static str] },
}

impl Subject {
    fn of(&self, stream: &str, data: &Value) -> Option<String> {
        match self {
            Self::Stream => Some(stream.to_owned()),
            Self::Field { prefix, path } => {
                let value = path.iter().try_fold(data, |v, step| v.get(step))?.as_str()?;
                Some(format!("{prefix}-{value}"))
            }
        }
    }
}

/// Which fields of one event type are personal, and under whose key they are sealed.
#[derive(Debug, Clone, Copy)]
pub struct SealRule {
    pub event_type: &'static str,
    /// Whose key seals the fields.
    pub subject: Subject,
    /// The person the key belongs to when it is not the subject (erasing them destroys it).
    pub owner: Option<Subject>,
    /// What the key seals (`person`, `conversation-notes`…), for retention.
    pub purpose: &'static str,
    /// A top-level field holding the time the sealed data is about (RFC 3339), for retention.
    pub dated: Option<&'static str>,
    /// The top-level fields sealed (absent and `null` ones are left as they are), each with
    /// what it reads once erased.
    pub fields: &'static [(&'static str, Mask)],
}

/// What a sealed field reads once its key is destroyed: a value of its own type, so every
/// reader still decodes the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// `"(erased)"` (each text of a list of texts).
    Text,
    /// `erased.{subject}@erased.invalid`: still an address, unique per person, never
    /// delivered (`.invalid` is reserved).
    Email,
    /// `null`, for optional fields.
    Null,
}

/// The rules of a deployment: every personal field of every event type.
#[derive(Debug, Clone, Copy)]
pub struct Sealing {
    pub rules: &'static [SealRule],
}

impl Sealing {
    fn rules_for<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a SealRule> + 'a {
        self.rules.iter().filter(move |r| r.event_type == event_type)
    }
}

/// The district's master key: it wraps every data key (AES-256-GCM, the subject as associated
/// data). From configuration; losing it loses every sealed field.
#[derive(Clone)]
pub struct MasterKey(Aes256Gcm);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// A key of 32 bytes.
    pub fn new(bytes: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(bytes.into()))
    }

    /// A key written as base64 (standard or URL-safe, padded or not) of 32 bytes.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let decoded = B64
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| "the master key must be 32 bytes in base64 (openssl rand -base64 32)")?;
        let bytes: [u8; 32] = decoded.try_into().map_err(|v: Vec<u8>| {
            format!("the master key must be 32 bytes in base64; found {} bytes", v.len())
        })?;
        Ok(Self::new(&bytes))
    }

    /// A new random key, as base64.
    pub fn generate() -> std::result::Result<String, String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        Ok(B64.encode(bytes))
    }

    fn wrap(&self, subject: &str, key: &[u8; 32]) -> Result<Vec<u8>> {
        seal_bytes(&self.0, key, subject.as_bytes())
    }

    fn unwrap(&self, subject: &str, wrapped: &[u8]) -> Result<Aes256Gcm> {
        let key = open_bytes(&self.0, wrapped, subject.as_bytes()).map_err(|_| {
            StoreError::Corrupt(format!(
                "the data key of {subject} does not open with this master key (is it the \
                 district's?)"
            ))
        })?;
        let key: [u8; 32] = key.try_into().map_err(|_| {
            StoreError::Corrupt(format!("the data key of {subject} is not 32 bytes"))
        })?;
        Ok(Aes256Gcm::new(&key.into()))
    }
}

/// `nonce ‖ ciphertext` of `plain` under `cipher`, bound to `aad`.
fn seal_bytes(cipher: &Aes256Gcm, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce)
        .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
    let sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| StoreError::InvalidEvent("cannot encrypt".into()))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

fn open_bytes(cipher: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> std::result::Result<Vec<u8>, ()> {
    if sealed.len() < 12 {
        return Err(());
    }
    let (nonce, body) = sealed.split_at(12);
    cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad }).map_err(|_| ())
}

/// What `value`, sealed under `subject`, reads as once erased.
pub fn mask(mask: Mask, value: &Value, subject: &str) -> Value {
    match (mask, value) {
        (Mask::Null, _) => Value::Null,
        (_, Value::Array(items)) => {
            Value::Array(items.iter().map(|v| self::mask(mask, v, subject)).collect())
        }
        (Mask::Email, _) => {
            let id: String = subject.chars().filter(char::is_ascii_alphanumeric).take(48).collect();
            json!(format!("erased.{id}@{ERASED_DOMAIN}"))
        }
        (Mask::Text, _) => json!(ERASED),
    }
}

/// A key as a store holds it in memory: opened, or destroyed.
type Opened = Option<Arc<Aes256Gcm>>;

/// A store whose personal fields are sealed (see the module documentation).
pub struct SealedStore {
    inner: Arc<dyn EventStore>,
    sealing: Sealing,
    master: MasterKey,
    keys: Mutex<HashMap<String, Opened>>,
    /// The position of the latest erasure announcement read: only a later one empties the
    /// cache (readers of the whole log meet the old ones again and again).
    erasure_seen: AtomicU64,
    /// How many times keys were forgotten (destroyed, or the cache emptied for an erasure),
    /// moved while the cache is locked: a key looked up before it moved is used for that read
    /// but not cached, or a destroyed key could come back into the cache.
    forgotten: AtomicU64,
}

impl std::fmt::Debug for SealedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedStore").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// One field to seal: where it is and the key's row.
struct Job {
    append: usize,
    event: usize,
    fields: &'static [(&'static str, Mask)],
    key: DataKey,
}

impl SealedStore {
    pub fn new(inner: Arc<dyn EventStore>, sealing: Sealing, master: MasterKey) -> Self {
        let (erasure_seen, forgotten) = (AtomicU64::new(0), AtomicU64::new(0));
        Self { inner, sealing, master, keys: Mutex::default(), erasure_seen, forgotten }
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<String, Opened>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys of `subjects`, opened: from memory, else the key table; with `create`, new
    /// keys are made for subjects that have none (`rows` gives their owner, purpose, date).
    /// A subject missing from the answer has no key (read as erased).
    async fn open_keys(
        &self,
        subjects: &HashSet<String>,
        create: &[DataKey],
    ) -> Result<HashMap<String, Opened>> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.cached();
            for s in subjects {
                match cache.get(s) {
                    Some(k) => {
                        found.insert(s.clone(), k.clone());
                    }
                    None => missing.push(s.clone()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let forgotten = self.forgotten.load(Ordering::Acquire);
        let mut rows = self.inner.data_keys(&missing).await?;
        let to_make: Vec<&DataKey> = create
            .iter()
            .filter(|k| {
                missing.contains(&k.subject) && !rows.iter().any(|r| r.subject == k.subject)
            })
            .collect();
        // An erased person's new data (a conversation's notes, a call's) is stored erased: no
        // key is made under an owner whose own key is destroyed.
        // An owner whose key this lookup read, or the cache holds, needs no query.
        let known = |owner: &String| -> Option<bool> {
            match rows.iter().find(|r| &r.subject == owner) {
                Some(row) => Some(row.wrapped.is_none()),
                None => found.get(owner).map(Option::is_none),
            }
        };
        let mut erased: HashSet<String> = HashSet::new();
        let mut unknown: Vec<String> = Vec::new();
        for owner in to_make.iter().filter_map(|k| k.owner.as_ref()) {
            match known(owner) {
                Some(true) => {
                    erased.insert(owner.clone());
                }
                Some(false) => {}
                None => unknown.push(owner.clone()),
            }
        }
        if !unknown.is_empty() {
            let owners = self.inner.data_keys(&unknown).await?;
            erased.extend(owners.into_iter().filter(|r| r.wrapped.is_none()).map(|r| r.subject));
        }
        let absent: Vec<DataKey> = to_make
            .into_iter()
            .filter(|k| k.owner.as_ref().is_none_or(|owner| !erased.contains(owner)))
            .map(|k| {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes)
                    .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
                Ok(DataKey { wrapped: Some(self.master.wrap(&k.subject, &bytes)?), ..k.clone() })
            })
            .collect::<Result<_>>()?;
        if !absent.is_empty() {
            self.inner.add_data_keys(&absent).await?;
            // Another writer may have added one first: its key is the one.
            let subjects: Vec<String> = absent.iter().map(|k| k.subject.clone()).collect();
            rows.extend(self.inner.data_keys(&subjects).await?);
        }
        let mut cache = self.cached();
        if cache.len() + rows.len() > MAX_CACHED_KEYS {
            cache.clear();
        }
        // Keys forgotten since the lookup began: it may hold a key destroyed meanwhile.
        let current = self.forgotten.load(Ordering::Acquire) == forgotten;
        for row in rows {
            let opened = match &row.wrapped {
                Some(wrapped) => Some(Arc::new(self.master.unwrap(&row.subject, wrapped)?)),
                None => None,
            };
            if current {
                cache.insert(row.subject.clone(), opened.clone());
            }
            found.insert(row.subject, opened);
        }
        Ok(found)
    }

    /// Seals the personal fields of `appends` in place.
    async fn seal(&self, appends: &mut [StreamAppend]) -> Result<()> {
        let mut jobs = Vec::new();
        for (a, append) in appends.iter().enumerate() {
            for (e, event) in append.events.iter().enumerate() {
                for rule in self.sealing.rules_for(&event.event_type) {
                    if let Some(key) = key_row(rule, append.stream.as_str(), &event.data) {
                        jobs.push(Job { append: a, event: e, fields: rule.fields, key });
                    }
                }
            }
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let subjects: HashSet<String> = jobs.iter().map(|j| j.key.subject.clone()).collect();
        let rows: Vec<DataKey> = jobs.iter().map(|j| j.key.clone()).collect();
        let keys = self.open_keys(&subjects, &rows).await?;
        for job in jobs {
            let event = &mut appends[job.append].events[job.event];
            let subject = &job.key.subject;
            let key = keys.get(subject).cloned().flatten();
            seal_fields(event, job.fields, subject, key.as_deref())?;
        }
        Ok(())
    }

    /// Opens the sealed fields of `events` in place (or masks them).
    async fn open(&self, mut events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>> {
        let erasure =
            events.iter().filter(|e| e.category() == ERASURE_CATEGORY).map(|e| e.position);
        if let Some(latest) = erasure.max()
            && self.erasure_seen.fetch_max(latest, Ordering::AcqRel) < latest
        {
            let mut cache = self.cached();
            self.forgotten.fetch_add(1, Ordering::AcqRel);
            cache.clear();
        }
        let mut subjects = HashSet::new();
        for event in &events {
            for rule in self.sealing.rules_for(&event.event_type) {
                for (field, _) in rule.fields {
                    if let Some(subject) = sealed_subject(&event.data, field) {
                        subjects.insert(subject.to_owned());
                    }
                }
            }
        }
        if subjects.is_empty() {
            return Ok(events);
        }
        let keys = self.open_keys(&subjects, &[]).await?;
        for event in &mut events {
            let id = event.id;
            let fields: Vec<&str> = self
                .sealing
                .rules_for(&event.event_type)
                .flat_map(|r| r.fields.iter().map(|(f, _)| *f))
                .collect();
            if let Some(data) = event.data.as_object_mut() {
                for field in fields {
                    open_field(data, field, &id, &keys)?;
                }
            }
        }
        Ok(events)
    }
}

/// The key row a rule asks for on an event, when the event has the subject.
fn key_row(rule: &SealRule, stream: &str, data: &Value) -> Option<DataKey> {
    let subject = rule.subject.of(stream, data)?;
    let owner = rule.owner.and_then(|o| o.of(stream, data)).filter(|o| *o != subject);
    let dated = rule
        .dated
        .and_then(|f| data.get(f)?.as_str().map(str::to_owned))
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    Some(DataKey { subject, owner, purpose: rule.purpose.to_owned(), dated, wrapped: None })
}

fn seal_fields(
    event: &mut NewEvent,
    fields: &[(&str, Mask)],
    subject: &str,
    key: Option<&Aes256Gcm>,
) -> Result<()> {
    let id = event.id;
    let Some(data) = event.data.as_object_mut() else { return Ok(()) };
    for &(field, how) in fields {
        let Some(value) = data.get(field).filter(|v| !v.is_null() && !is_sealed(v)) else {
            continue;
        };
        let masked = mask(how, value, subject);
        let sealed = match key {
            Some(key) => {
                let plain = serde_json::to_vec(value)
                    .map_err(|e| StoreError::InvalidEvent(e.to_string()))?;
                let bytes = seal_bytes(key, &plain, aad(&id, field).as_bytes())?;
                let (nonce, ciphertext) = bytes.split_at(12);
                json!({"$sealed": {
                    "subject": subject,
                    "mask": masked,
                    "nonce": B64.encode(nonce),
                    "ciphertext": B64.encode(ciphertext),
                }})
            }
            // Written for someone already erased: stored erased.
            None => json!({"$sealed": {"subject": subject, "mask": masked}}),
        };
        data.insert(field.to_owned(), sealed);
    }
    Ok(())
}

fn aad(id: &uuid::Uuid, field: &str) -> String {
    format!("{id}/{field}")
}

fn is_sealed(value: &Value) -> bool {
    value.get("$sealed").is_some()
}

fn sealed_subject<'a>(data: &'a Value, field: &str) -> Option<&'a str> {
    data.get(field)?.get("$sealed")?.get("subject")?.as_str()
}

fn open_field(
    data: &mut serde_json::Map<String, Value>,
    field: &str,
    id: &uuid::Uuid,
    keys: &HashMap<String, Opened>,
) -> Result<()> {
    let Some(sealed) = data.get(field).and_then(|v| v.get("$sealed")) else { return Ok(()) };
    let subject = sealed.get("subject").and_then(Value::as_str).unwrap_or_default();
    let mask = sealed.get("mask").cloned().unwrap_or(Value::Null);
    let key = keys.get(subject).cloned().flatten();
    let text = |name: &str| sealed.get(name).and_then(Value::as_str).map(|t| B64.decode(t));
    let value = match (key, text("nonce"), text("ciphertext")) {
        (Some(key), Some(Ok(nonce)), Some(Ok(ciphertext))) => {
            let bytes = [nonce, ciphertext].concat();
            let plain = open_bytes(&key, &bytes, aad(id, field).as_bytes()).map_err(|_| {
                StoreError::Corrupt(format!("event {id}: the sealed {field} does not open"))
            })?;
            serde_json::from_slice(&plain)
                .map_err(|e| StoreError::Corrupt(format!("event {id}: sealed {field}: {e}")))?
        }
        _ => mask,
    };
    data.insert(field.to_owned(), value);
    Ok(())
}

#[async_trait]
impl EventStore for SealedStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn append_streams(&self, mut appends: Vec<StreamAppend>) -> Result<Vec<AppendResult>> {
        self.seal(&mut appends).await?;
        self.inner.append_streams(appends).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.open(self.inner.read_stream(stream, from_version, direction, limit).await?).await
    }

    async fn read_streams(
        &self,
        requests: &[(StreamName, u64)],
    ) -> Result<Vec<Vec<RecordedEvent>>> {
        let lists = self.inner.read_streams(requests).await?;
        let mut out = Vec::with_capacity(lists.len());
        for list in lists {
            out.push(self.open(list).await?);
        }
        Ok(out)
    }

    async fn read_all(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.open(self.inner.read_all(after, filter, limit).await?).await
    }

    async fn read_following(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.open(self.inner.read_following(after, filter, limit).await?).await
    }

    async fn head(&self) -> Result<u64> {
        self.inner.head().await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.inner.watch_head()
    }

    async fn chain_rows(&self, after: u64, limit: usize) -> Result<Vec<ChainRow>> {
        // As stored: the chain covers the ciphertext.
        self.inner.chain_rows(after, limit).await
    }

    async fn chain_link(&self, position: u64) -> Result<Option<Hash>> {
        self.inner.chain_link(position).await
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>> {
        self.inner.checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<()> {
        self.inner.save_checkpoint(name, position).await
    }

    async fn advance_checkpoint(&self, name: &str, position: u64) -> Result<()> {
        self.inner.advance_checkpoint(name, position).await
    }

    async fn apply_projection(
        &self,
        projection: &dyn Projection,
        seen: Seen,
        events: &[RecordedEvent],
    ) -> Result<u64> {
        self.inner.apply_projection(projection, seen, events).await
    }

    async fn reset_projection(&self, projection: &dyn Projection) -> Result<()> {
        self.inner.reset_projection(projection).await
    }

    async fn document(&self, collection: &str, key: &str) -> Result<Option<Value>> {
        self.inner.document(collection, key).await
    }

    async fn documents(&self, collection: &str) -> Result<Vec<(String, Value)>> {
        self.inner.documents(collection).await
    }

    async fn documents_between(
        &self,
        collection: &str,
        first: Option<&str>,
        last: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        self.inner.documents_between(collection, first, last).await
    }

    async fn documents_at(
        &self,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<(String, Value)>> {
        self.inner.documents_at(collection, keys).await
    }

    async fn data_keys(&self, subjects: &[String]) -> Result<Vec<DataKey>> {
        self.inner.data_keys(subjects).await
    }

    async fn add_data_keys(&self, keys: &[DataKey]) -> Result<()> {
        self.inner.add_data_keys(keys).await
    }

    async fn destroy_data_keys(&self, which: &KeySelector, reason: &str) -> Result<Vec<String>> {
        let destroyed = self.inner.destroy_data_keys(which, reason).await?;
        let mut cache = self.cached();
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        for subject in &destroyed {
            cache.insert(subject.clone(), None);
        }
        Ok(destroyed)
    }

    async fn destroyed_data_keys(&self, which: &KeySelector) -> Result<Vec<String>> {
        let destroyed = self.inner.destroyed_data_keys(which).await?;
        let mut cache = self.cached();
        if !destroyed.is_empty() {
            self.forgotten.fetch_add(1, Ordering::AcqRel);
        }
        for subject in &destroyed {
            cache.insert(subject.clone(), None);
        }
        Ok(destroyed)
    }

    async fn reset_projection_after_erasure(
        &self,
        projection: &dyn Projection,
        position: u64,
    ) -> Result<bool> {
        self.inner.reset_projection_after_erasure(projection, position).await
    }

    async fn reset_projection_for_definition(&self, projection: &dyn Projection) -> Result<bool> {
        self.inner.reset_projection_for_definition(projection).await
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}
