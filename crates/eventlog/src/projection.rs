//! Projections: read models kept as JSON documents in the store's own database.
//!
//! A projection says which documents an event touches ([`Projection::keys`]) and how the event
//! changes them ([`Projection::apply`], pure). The store fetches those documents, applies a batch
//! of events and writes the changed documents together with the projection's checkpoint in one
//! transaction, so a read model and its checkpoint never disagree, on either backend, and a
//! projection never writes SQL.
//!
//! Some documents are known only from others: a purchase's figures count on the day it was
//! flagged, which its own document holds. A batch that reads a document it was not given is
//! **applied again** with that document fetched too ([`apply_batch`] answers
//! [`Applied::Needs`]), in the same transaction, until it has every document it reads (at most
//! [`MAX_ROUNDS`] rounds). `keys` is what the store fetches first: the more it names, the fewer
//! rounds; nothing it leaves out is ever read as missing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::event::{Filter, RecordedEvent};
use crate::sealed::{ERASURE_CATEGORY, ERASURE_TYPES};
use crate::store::{EventStore, Seen, erasure_checkpoint};
use crate::subscription::Subscription;

/// A document's address: a collection (owned by one projection) and a key within it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocKey {
    pub collection: String,
    pub key: String,
}

impl DocKey {
    pub fn new(collection: impl Into<String>, key: impl Into<String>) -> Self {
        Self { collection: collection.into(), key: key.into() }
    }
}

/// A read model built from the log.
pub trait Projection: Send + Sync {
    /// The checkpoint's name; unique in the store.
    fn name(&self) -> &str;
    /// The events it reads.
    fn filter(&self) -> Filter;
    /// The collections it owns: cleared when it is rebuilt.
    fn collections(&self) -> Vec<String>;
    /// The documents `apply` reads or writes for this event, as far as the event alone tells:
    /// fetched before the batch is applied. A document read beyond them is fetched in another
    /// round (see the module docs).
    fn keys(&self, event: &RecordedEvent) -> Vec<DocKey>;
    /// Applies one event to the documents. Pure: no IO, no clock.
    fn apply(&self, event: &RecordedEvent, docs: &mut Docs) -> Result<(), String>;
    /// Whether its documents may hold personal data: it then also reads the erasure
    /// announcements ([`ERASURE_CATEGORY`]) and, after each, is rebuilt from the log, where the
    /// erased data now reads as erased.
    fn rebuilds_after_erasure(&self) -> bool {
        false
    }

    /// The version of its definition: raised when its documents come to mean something else
    /// or new ones are kept for past events, so that documents built by an earlier version are
    /// rebuilt from the log before it runs ([`EventStore::reset_projection_for_definition`]).
    fn version(&self) -> u64 {
        1
    }
}

/// The events a projection follows: its filter, and the erasure announcements when it
/// rebuilds after them.
fn followed(projection: &dyn Projection) -> Filter {
    let mut filter = projection.filter();
    if projection.rebuilds_after_erasure() {
        if !filter.categories.is_empty() {
            filter.categories.push(ERASURE_CATEGORY.to_owned());
        }
        if !filter.event_types.is_empty() {
            filter.event_types.extend(ERASURE_TYPES.iter().map(|t| (*t).to_owned()));
        }
    }
    filter
}

struct Slot {
    value: Option<Value>,
    dirty: bool,
    /// The document decoded, while a batch works on it ([`Docs::entry_as`]): `value` is stale
    /// until it is written back.
    decoded: Option<Box<dyn Decoded>>,
}

impl Slot {
    fn new(value: Option<Value>, dirty: bool) -> Self {
        Self { value, dirty, decoded: None }
    }

    /// Writes the decoded document back into `value`.
    fn encode(&mut self) {
        if let Some(decoded) = self.decoded.take() {
            // A document only read stays as it was (and absent when it was).
            if self.dirty {
                self.value = Some(decoded.to_value());
            }
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("value", &self.value)
            .field("dirty", &self.dirty)
            .field("decoded", &self.decoded.is_some())
            .finish()
    }
}

/// A document kept decoded for a batch.
trait Decoded: Send {
    fn to_value(&self) -> Value;
    fn as_any(&mut self) -> &mut dyn std::any::Any;
}

impl<T: Serialize + Send + 'static> Decoded for T {
    fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// The documents a batch works on: fetched before it, written after it.
#[derive(Debug, Default)]
pub struct Docs {
    slots: BTreeMap<DocKey, Slot>,
    unfetched: BTreeSet<DocKey>,
}

impl Docs {
    /// Documents as fetched from the store (`None`: not there yet).
    pub fn fetched(docs: impl IntoIterator<Item = (DocKey, Option<Value>)>) -> Self {
        Self {
            slots: docs.into_iter().map(|(k, value)| (k, Slot::new(value, false))).collect(),
            unfetched: BTreeSet::new(),
        }
    }

    pub fn get(&mut self, collection: &str, key: &str) -> Option<&Value> {
        let k = DocKey::new(collection, key);
        if !self.slots.contains_key(&k) {
            self.unfetched.insert(k);
            return None;
        }
        let slot = self.slots.get_mut(&k)?;
        slot.encode();
        slot.value.as_ref()
    }

    /// A document decoded into `T`, or `None` when there is none (or it does not decode).
    pub fn get_as<T: DeserializeOwned>(&mut self, collection: &str, key: &str) -> Option<T> {
        self.get(collection, key).and_then(|v| T::deserialize(v).ok())
    }

    pub fn put(&mut self, collection: &str, key: &str, value: Value) {
        self.slots.insert(DocKey::new(collection, key), Slot::new(Some(value), true));
    }

    pub fn put_as<T: Serialize>(&mut self, collection: &str, key: &str, value: &T) {
        self.put(collection, key, serde_json::to_value(value).unwrap_or(Value::Null));
    }

    pub fn remove(&mut self, collection: &str, key: &str) {
        self.slots.insert(DocKey::new(collection, key), Slot::new(None, true));
    }

    /// A document to change in place, decoded into `T` (a new `T::default()` when there is
    /// none), and kept decoded until the batch ends: a document that many events of a batch
    /// change (a day's sums, say) is decoded and encoded once per batch rather than once per
    /// event. The document counts as changed. An error when it was not declared in the
    /// projection's keys, or does not decode as `T` (it is never replaced by a default).
    pub fn entry_as<T>(&mut self, collection: &str, key: &str) -> Result<&mut T, String>
    where
        T: Serialize + DeserializeOwned + Default + Send + 'static,
    {
        let slot = self.decoded::<T>(collection, key)?;
        slot.dirty = true;
        slot.decoded.as_mut().and_then(|d| d.as_any().downcast_mut::<T>()).ok_or_else(|| {
            format!("{collection}/{key} is kept decoded as another type in this batch")
        })
    }

    /// A document decoded into `T` and kept decoded until the batch ends, to read (as
    /// [`Docs::entry_as`], without changing it): `None` when there is none.
    pub fn read_as<T>(&mut self, collection: &str, key: &str) -> Result<Option<&T>, String>
    where
        T: Serialize + DeserializeOwned + Default + Send + 'static,
    {
        let present = self
            .slots
            .get(&DocKey::new(collection, key))
            .is_none_or(|s| s.value.is_some() || s.decoded.is_some());
        if !present {
            return Ok(None);
        }
        let slot = self.decoded::<T>(collection, key)?;
        Ok(slot.decoded.as_mut().and_then(|d| d.as_any().downcast_mut::<T>()).map(|t| &*t))
    }

    /// The slot of a declared document, decoded into `T`.
    fn decoded<T>(&mut self, collection: &str, key: &str) -> Result<&mut Slot, String>
    where
        T: Serialize + DeserializeOwned + Default + Send + 'static,
    {
        let k = DocKey::new(collection, key);
        let Some(slot) = self.slots.get_mut(&k) else {
            self.unfetched.insert(k);
            return Err(format!("{collection}/{key} is not fetched yet"));
        };
        if !slot.decoded.as_mut().is_some_and(|d| d.as_any().is::<T>()) {
            slot.encode();
            let doc: T = match slot.value.as_ref() {
                Some(v) => T::deserialize(v)
                    .map_err(|e| format!("the document {collection}/{key} does not decode: {e}"))?,
                None => T::default(),
            };
            slot.decoded = Some(Box::new(doc));
        }
        Ok(slot)
    }

    /// The documents changed by the batch: `None` means deleted.
    pub fn into_changes(self) -> Vec<(DocKey, Option<Value>)> {
        self.slots
            .into_iter()
            .filter(|(_, s)| s.dirty)
            .map(|(k, mut s)| {
                s.encode();
                (k, s.value)
            })
            .collect()
    }

    /// Documents read that were not among those fetched: the batch needs them too.
    pub fn unfetched(&self) -> &BTreeSet<DocKey> {
        &self.unfetched
    }
}

/// The events of a batch that come after `checkpoint` and that the projection reads, and the
/// documents they touch.
pub fn batch_keys<'a>(
    projection: &dyn Projection,
    events: &'a [RecordedEvent],
    checkpoint: u64,
) -> (Vec<&'a RecordedEvent>, Vec<DocKey>) {
    let filter = projection.filter();
    let events: Vec<&RecordedEvent> =
        events.iter().filter(|e| e.position > checkpoint && filter.matches(e)).collect();
    let keys: BTreeSet<DocKey> = events.iter().flat_map(|e| projection.keys(e)).collect();
    (events, keys.into_iter().collect())
}

/// How many times a store applies one batch, each time with the documents the last one read
/// beyond those it was given, before it gives up: a projection whose documents name other
/// documents (a purchase's day names the day's figures) needs two or three.
pub const MAX_ROUNDS: usize = 8;

/// What applying a batch came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The documents changed, for the store to write back (`None`: deleted).
    Changes(Vec<(DocKey, Option<Value>)>),
    /// Documents the batch read beyond those it was given: the store fetches them too and
    /// applies the batch again, to the documents as they were.
    Needs(Vec<DocKey>),
}

/// Applies the events to the fetched documents. When an event reads a document that was not
/// fetched, the batch carries on only to learn what else it reads (its changes and errors are
/// thrown away) and answers [`Applied::Needs`].
pub fn apply_batch(
    projection: &dyn Projection,
    events: &[&RecordedEvent],
    mut docs: Docs,
) -> Result<Applied> {
    for event in events {
        let applied = projection.apply(event, &mut docs);
        if docs.unfetched().is_empty() {
            applied.map_err(|message| StoreError::Projection {
                projection: projection.name().to_owned(),
                position: event.position,
                message,
            })?;
        }
    }
    if docs.unfetched().is_empty() {
        Ok(Applied::Changes(docs.into_changes()))
    } else {
        Ok(Applied::Needs(docs.unfetched.into_iter().collect()))
    }
}

/// Applies `events` to the documents at `keys` and whatever else they turn out to read, round
/// after round (see the module docs): `fetch` reads the documents at the keys it is given
/// (`None` where there is none) as they were before the batch. What the store must write back.
pub async fn apply_in_rounds<F, Fut, I>(
    projection: &dyn Projection,
    events: &[&RecordedEvent],
    mut keys: Vec<DocKey>,
    mut fetch: F,
) -> Result<Vec<(DocKey, Option<Value>)>>
where
    F: FnMut(Vec<DocKey>) -> Fut,
    Fut: std::future::Future<Output = Result<I>>,
    I: IntoIterator<Item = (DocKey, Option<Value>)>,
{
    for _ in 0..MAX_ROUNDS {
        match apply_batch(projection, events, Docs::fetched(fetch(keys.clone()).await?))? {
            Applied::Changes(changes) => return Ok(changes),
            // Documents known only from others: fetched too, and the batch applied again.
            Applied::Needs(more) => keys.extend(more),
        }
    }
    Err(StoreError::Projection {
        projection: projection.name().to_owned(),
        position: events.first().map_or(0, |e| e.position),
        message: format!(
            "the batch still reads documents it was not given after {MAX_ROUNDS} rounds"
        ),
    })
}

/// Applies the events of `events` after `checkpoint` to documents looked up in memory
/// (`lookup`: the document at a key, if there is one), round after round as a store does: what
/// a store would write back. For tests and benches that keep documents in a map.
pub fn apply_in_memory(
    projection: &dyn Projection,
    events: &[RecordedEvent],
    checkpoint: u64,
    mut lookup: impl FnMut(&DocKey) -> Option<Value>,
) -> Result<Vec<(DocKey, Option<Value>)>> {
    let (todo, keys) = batch_keys(projection, events, checkpoint);
    let fetch = |keys: Vec<DocKey>| {
        let docs: Vec<_> = keys
            .into_iter()
            .map(|k| {
                let doc = lookup(&k);
                (k, doc)
            })
            .collect();
        std::future::ready(Ok(docs))
    };
    // Every document is at hand: the rounds never wait.
    futures::executor::block_on(apply_in_rounds(projection, &todo, keys, fetch))
}

/// Runs a projection in the background: catches up from its checkpoint, then follows the log.
#[derive(Debug, Clone)]
pub struct ProjectionHandle {
    progress: watch::Receiver<u64>,
}

impl ProjectionHandle {
    /// How far the projection has read (every event up to here is applied).
    pub fn position(&self) -> u64 {
        *self.progress.borrow()
    }

    /// Waits until the projection has read up to `position`.
    pub async fn wait_for(&self, position: u64) -> Result<()> {
        let mut rx = self.progress.clone();
        rx.wait_for(|p| *p >= position)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::Unavailable("the projection has stopped".into()))
    }

    /// Waits until the projection has read everything in the log now.
    pub async fn catch_up(&self, store: &dyn EventStore) -> Result<()> {
        let head = store.head().await?;
        self.wait_for(head).await
    }
}

/// Starts a projection on the current tokio runtime. Failures are logged and retried from the
/// stored checkpoint.
pub fn spawn_projection(
    store: Arc<dyn EventStore>,
    projection: Arc<dyn Projection>,
) -> ProjectionHandle {
    let (tx, rx) = watch::channel(0);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            match follow(&*store, &*projection, &tx).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(projection = projection.name(), error = %e, "projection failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    ProjectionHandle { progress: rx }
}

async fn follow(
    store: &dyn EventStore,
    projection: &dyn Projection,
    progress: &watch::Sender<u64>,
) -> Result<()> {
    if store.reset_projection_for_definition(projection).await? {
        tracing::info!(
            projection = projection.name(),
            version = projection.version(),
            "its definition changed: rebuilding it from the log"
        );
    }
    // The last erasure this runner knows of (its keys forgotten): at least the last one the
    // projection was rebuilt for, by this runner or another.
    let mut handled = learn_erasures(store, projection, 0).await?;
    // The checkpoint as this runner last saw it stored.
    let mut seen = store.checkpoint(projection.name()).await?.unwrap_or(0);
    let mut sub = Subscription::new(store.watch_head(), seen, followed(projection), 1000);
    let erasures = projection.rebuilds_after_erasure();
    loop {
        if progress.is_closed() {
            return Ok(());
        }
        match sub.poll(store).await? {
            Some(events) => {
                let erasure = erasures
                    .then(|| {
                        events
                            .iter()
                            .find(|e| e.category() == ERASURE_CATEGORY && e.position > handled)
                    })
                    .flatten();
                if let Some(erasure) = erasure {
                    // A new erasure: the documents are rebuilt from the log, where the erased
                    // data now reads as erased. One runner resets them (whichever comes first:
                    // the reset is conditional); every runner then reads from where the
                    // documents are, the start while they are rebuilt, and passes over this
                    // erasure when it meets it again. Nothing of this batch is applied: it was
                    // read before the reset. Readers waiting for a position wait for the
                    // rebuild.
                    handled = erasure.position;
                    store.reset_projection_after_erasure(projection, handled).await?;
                    seen = store.checkpoint(projection.name()).await?.unwrap_or(0);
                    sub.rewind(seen);
                    progress.send_replace(seen);
                    continue;
                }
                let last = events.last().map_or(0, |e| e.position);
                let at = Seen { checkpoint: seen, erasure: handled };
                let checkpoint = store.apply_projection(projection, at, &events).await?;
                if checkpoint < seen {
                    // Reset by another instance (a rebuild, or for an erasure it read first)
                    // since this batch was read: nothing of it was applied.
                    progress.send_replace(checkpoint);
                }
                seen = checkpoint;
                if checkpoint < last {
                    // Another runner of this projection moved the checkpoint first, or reset
                    // it (perhaps for an erasure this one has not read, and rebuilt it past
                    // where this batch began), and this batch was not applied: read again from
                    // where the documents really are, after the erasures are learnt.
                    handled = learn_erasures(store, projection, handled).await?;
                    sub.rewind(checkpoint);
                    continue;
                }
                progress.send_replace(sub.position());
            }
            None => {
                // Read up to the head, even if nothing there was for this projection.
                progress.send_replace(sub.position());
                sub.changed().await?;
            }
        }
    }
}

/// Before a runner reads the log again for documents reset by another instance: reads the
/// erasure announcements since `handled`, the last erasure it rebuilt for. Reading one makes a
/// sealed store forget every key it cached, some of which the erasure destroyed; the rebuild
/// then reads the erased data as erased, as the instance that reset the documents does.
/// Returns the last erasure the documents were reset for, which the runner then passes over.
pub async fn learn_erasures(
    store: &dyn EventStore,
    projection: &dyn Projection,
    handled: u64,
) -> Result<u64> {
    if !projection.rebuilds_after_erasure() {
        return Ok(handled);
    }
    // The mark first: its erasure's announcement was appended before it, so the reading below
    // reaches that announcement (read the other way round, an erasure marked in between would
    // be claimed without its announcement read, its keys still cached).
    let reset_for = store.checkpoint(&erasure_checkpoint(projection.name())).await?;
    let announcements = Filter::categories([ERASURE_CATEGORY]);
    let mut after = handled;
    while let Some(last) = store.read_all(after, &announcements, 1000).await?.last() {
        after = last.position;
    }
    Ok(reset_for.unwrap_or(0).max(handled))
}

/// Rebuilds a projection from position 0: clears it, then applies the whole log in batches.
/// `progress` is told the position reached after each batch. Returns the events applied.
pub async fn rebuild(
    store: &dyn EventStore,
    projection: &dyn Projection,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    store.reset_projection(projection).await?;
    catch_up(store, projection, progress).await
}

/// Applies everything after the projection's checkpoint, up to the head now.
pub async fn catch_up(
    store: &dyn EventStore,
    projection: &dyn Projection,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64> {
    let head = store.head().await?;
    let filter = projection.filter();
    let mut erasure = learn_erasures(store, projection, 0).await?;
    let mut after = store.checkpoint(projection.name()).await?.unwrap_or(0);
    let mut applied = 0;
    while after < head {
        let events = store.read_all(after, &filter, 5000).await?;
        let Some(last) = events.last() else { break };
        let seen = Seen { checkpoint: after, erasure };
        let checkpoint = store.apply_projection(projection, seen, &events).await?;
        if checkpoint < last.position {
            // Reset, or moved on, by another instance meanwhile: go on from where it is,
            // knowing the erasures it was reset for.
            erasure = learn_erasures(store, projection, erasure).await?;
            after = checkpoint;
            continue;
        }
        after = last.position;
        applied += events.len() as u64;
        progress(after);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, serde::Deserialize)]
    struct Sums {
        n: u64,
    }

    fn key(k: &str) -> DocKey {
        DocKey::new("c", k)
    }

    #[test]
    fn given_a_document_changed_in_place_by_several_events_then_the_batch_writes_the_last_state() {
        // Given a fetched document and a missing one.
        let mut docs = Docs::fetched([(key("a"), Some(json!({ "n": 1 }))), (key("b"), None)]);
        // When three events add to each in place.
        for _ in 0..3 {
            docs.entry_as::<Sums>("c", "a").unwrap().n += 1;
            docs.entry_as::<Sums>("c", "b").unwrap().n += 10;
        }
        // Then a plain read in between sees the changes so far, and the batch writes both.
        assert_eq!(docs.get("c", "a"), Some(&json!({ "n": 4 })));
        docs.entry_as::<Sums>("c", "a").unwrap().n += 1;
        let changes = docs.into_changes();
        assert_eq!(
            changes,
            [(key("a"), Some(json!({ "n": 5 }))), (key("b"), Some(json!({ "n": 30 })))]
        );
    }

    #[test]
    fn a_document_that_does_not_decode_is_an_error_not_a_default() {
        let mut docs = Docs::fetched([(key("a"), Some(json!({ "n": "many" })))]);
        let error = docs.entry_as::<Sums>("c", "a").unwrap_err();
        assert!(error.contains("c/a does not decode"), "{error}");
        assert!(docs.read_as::<Sums>("c", "a").is_err());
        assert_eq!(docs.into_changes(), []);
    }

    #[test]
    fn a_document_only_read_is_not_written() {
        let mut docs = Docs::fetched([(key("a"), Some(json!({ "n": 1 }))), (key("b"), None)]);
        assert_eq!(docs.read_as::<Sums>("c", "a"), Ok(Some(&Sums { n: 1 })));
        assert_eq!(docs.read_as::<Sums>("c", "b"), Ok(None));
        assert_eq!(docs.get("c", "a"), Some(&json!({ "n": 1 })));
        assert_eq!(docs.into_changes(), []);
        let mut docs = Docs::fetched([(key("a"), Some(json!({ "n": 1 })))]);
        docs.remove("c", "a");
        assert_eq!(docs.read_as::<Sums>("c", "a"), Ok(None));
        assert_eq!(docs.into_changes(), [(key("a"), None)]);
    }

    #[test]
    fn a_document_put_after_an_in_place_change_replaces_it_and_an_undeclared_one_is_reported() {
        let mut docs = Docs::fetched([(key("a"), None)]);
        docs.entry_as::<Sums>("c", "a").unwrap().n = 7;
        docs.put_as("c", "a", &Sums { n: 2 });
        assert_eq!(docs.get_as::<Sums>("c", "a"), Some(Sums { n: 2 }));
        assert!(docs.entry_as::<Sums>("c", "x").is_err());
        assert!(docs.read_as::<Sums>("c", "a").is_ok_and(|s| s.is_some_and(|s| s.n == 2)));
        assert_eq!(docs.unfetched().iter().next(), Some(&key("x")));
        assert_eq!(docs.into_changes(), [(key("a"), Some(json!({ "n": 2 })))]);
    }
}
