//! Typed read models over [`eventlog::Projection`]: each recorded event is decoded once, into
//! the published enums ([`Published`]), and a read model works on its own documents as typed
//! values, never on JSON or type strings.
//!
//! ```ignore
//! impl ReadModel for Wishes {
//!     const NAME: &'static str = "stakeholders.wishes";
//!     type Doc = WishDoc;
//!     fn filter(&self) -> Filter { Filter::categories([WISH_CATEGORY]) }
//!     fn keys(&self, event: &Recorded<'_>) -> Vec<String> { vec![event.stream_id().to_owned()] }
//!     fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, WishDoc>) -> Result<(), String> {
//!         let Published::Wish(wish) = event.event else { return Ok(()) };
//!         …
//!     }
//! }
//! ```
//!
//! [`ReadModel::into_projection`] turns one into the `Arc<dyn Projection>` the log runs.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use eventlog::{DocKey, Docs, Filter, Projection, RecordedEvent, Store};
use events::Published;
use serde::Serialize;
use serde::de::DeserializeOwned;
use web::ApiError;

use crate::http::store_error;

/// A recorded event and its decoded form.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// The event, decoded once.
    pub event: &'a Published,
    /// The record: position, stream, version, metadata, time.
    pub record: &'a RecordedEvent,
}

impl Deref for Recorded<'_> {
    type Target = RecordedEvent;

    fn deref(&self) -> &RecordedEvent {
        self.record
    }
}

impl Recorded<'_> {
    /// An error naming the event, for a document it needs that is not there.
    pub fn missing(&self, collection: &str, key: &str) -> String {
        format!(
            "{} at position {}: no {collection}/{key} document",
            self.record.event_type, self.record.position
        )
    }
}

/// A read model: documents of one type in one collection, kept from the log.
pub trait ReadModel: Send + Sync + 'static {
    /// The collection it owns, and the name of its checkpoint.
    const NAME: &'static str;
    /// Its documents.
    type Doc: Serialize + DeserializeOwned;

    /// The events it reads.
    fn filter(&self) -> Filter;

    /// The keys of the documents `update` reads or writes for this event.
    fn keys(&self, event: &Recorded<'_>) -> Vec<String>;

    /// Applies one event to the documents. Pure: no IO, no clock.
    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, Self::Doc>,
    ) -> Result<(), String>;

    /// The projection the log runs for it.
    fn into_projection(self) -> Arc<dyn Projection>
    where
        Self: Sized,
    {
        Arc::new(Typed { model: self, decoded: Mutex::default() })
    }
}

/// A read model's documents within a batch of the projection.
#[derive(Debug)]
pub struct Documents<'a, D> {
    docs: &'a mut Docs,
    collection: &'static str,
    doc: PhantomData<D>,
}

impl<'a, D: Serialize + DeserializeOwned> Documents<'a, D> {
    /// The documents of `collection` in `docs`.
    pub fn new(docs: &'a mut Docs, collection: &'static str) -> Self {
        Self { docs, collection, doc: PhantomData }
    }

    /// The document at `key`, if there is one.
    pub fn get(&mut self, key: &str) -> Option<D> {
        self.docs.get_as(self.collection, key)
    }

    /// The document at `key`, or an error naming the event that needed it.
    pub fn require(&mut self, key: &str, event: &Recorded<'_>) -> Result<D, String> {
        self.get(key).ok_or_else(|| event.missing(self.collection, key))
    }

    pub fn put(&mut self, key: &str, doc: &D) {
        self.docs.put_as(self.collection, key, doc);
    }

    pub fn remove(&mut self, key: &str) {
        self.docs.remove(self.collection, key);
    }
}

/// The projection of a [`ReadModel`]: decodes each event in `keys` and keeps it until `apply`
/// takes it (the log calls `keys` for a batch's events, then `apply` for each).
struct Typed<R> {
    model: R,
    decoded: Mutex<HashMap<u64, Arc<Published>>>,
}

fn decode(record: &RecordedEvent) -> Result<Published, String> {
    Published::decode(record.category(), &record.event_type, &record.data)
        .map_err(|e| format!("{} at {}: {e}", record.stream, record.position))
}

impl<R: ReadModel> Projection for Typed<R> {
    fn name(&self) -> &str {
        R::NAME
    }

    fn filter(&self) -> Filter {
        self.model.filter()
    }

    fn collections(&self) -> Vec<String> {
        vec![R::NAME.to_owned()]
    }

    fn keys(&self, record: &RecordedEvent) -> Vec<DocKey> {
        // An event that does not decode names no document; `apply` reports it.
        let Ok(event) = decode(record) else { return vec![] };
        let keys = self.model.keys(&Recorded { event: &event, record });
        self.decoded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.position, Arc::new(event));
        keys.into_iter().map(|key| DocKey::new(R::NAME, key)).collect()
    }

    fn apply(&self, record: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let kept =
            self.decoded.lock().unwrap_or_else(PoisonError::into_inner).remove(&record.position);
        let event = match kept {
            Some(event) => event,
            None => Arc::new(decode(record)?),
        };
        self.model.update(&Recorded { event: &event, record }, &mut Documents::new(docs, R::NAME))
    }
}

/// Reads a read model's documents, typed.
#[derive(Debug, Clone)]
pub struct View<'a> {
    store: &'a Store,
}

impl<'a> View<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Every document of `R`.
    pub async fn all<R: ReadModel>(&self) -> Result<Vec<R::Doc>, ApiError> {
        let docs = self.store.documents(R::NAME).await.map_err(store_error)?;
        docs.into_iter().map(|(key, doc)| parse::<R::Doc>(R::NAME, &key, doc)).collect()
    }

    /// Every document of `R` with its key.
    pub async fn keyed<R: ReadModel>(&self) -> Result<Vec<(String, R::Doc)>, ApiError> {
        let docs = self.store.documents(R::NAME).await.map_err(store_error)?;
        docs.into_iter()
            .map(|(key, doc)| Ok((key.clone(), parse::<R::Doc>(R::NAME, &key, doc)?)))
            .collect()
    }

    /// The document of `R` at `key`, if there is one.
    pub async fn one<R: ReadModel>(&self, key: &str) -> Result<Option<R::Doc>, ApiError> {
        let doc = self.store.document(R::NAME, key).await.map_err(store_error)?;
        doc.map(|doc| parse::<R::Doc>(R::NAME, key, doc)).transpose()
    }

    /// The documents of `R` with these keys that exist, in the order of the keys.
    pub async fn some<R: ReadModel>(
        &self,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<Vec<R::Doc>, ApiError> {
        let reads = keys.into_iter().map(|key| async move { self.one::<R>(&key).await });
        let docs = futures::future::try_join_all(reads).await?;
        Ok(docs.into_iter().flatten().collect())
    }
}

fn parse<T: DeserializeOwned>(
    collection: &str,
    key: &str,
    doc: serde_json::Value,
) -> Result<T, ApiError> {
    serde_json::from_value(doc).map_err(|e| {
        ApiError::internal(format!("the document {collection}/{key} does not parse: {e}"))
    })
}

/// How long a read waits for the read models to reach the log's head before answering 503.
pub const READ_MODEL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A service's read models, running: each catches up from its checkpoint, then follows the log.
#[derive(Debug)]
pub struct ReadModels {
    store: Store,
    running: HashMap<String, eventlog::ProjectionHandle>,
}

impl ReadModels {
    /// Starts `projections` on `store`.
    pub fn spawn(store: &Store, projections: Vec<Arc<dyn Projection>>) -> Self {
        let running = projections
            .into_iter()
            .map(|p| (p.name().to_owned(), eventlog::spawn_projection(store.clone(), p)))
            .collect();
        Self { store: store.clone(), running }
    }

    /// Typed reads of the documents.
    pub fn view(&self) -> View<'_> {
        View::new(&self.store)
    }

    /// Waits until the read models `names` have applied every event up to `position`; a 503
    /// problem if that takes longer than [`READ_MODEL_WAIT`].
    pub async fn at(&self, position: u64, names: &[&str]) -> Result<(), ApiError> {
        match tokio::time::timeout(READ_MODEL_WAIT, self.wait(position, names)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(store_error(e)),
            Err(_) => Err(ApiError::unavailable(
                "The read models are catching up with the event log; try again shortly.",
            )),
        }
    }

    /// Waits, without a time limit, until the read models `names` (all when empty) have
    /// applied every event up to `position`.
    pub async fn wait(&self, position: u64, names: &[&str]) -> eventlog::Result<()> {
        let handles: Vec<_> = if names.is_empty() {
            self.running.values().collect()
        } else {
            names
                .iter()
                .map(|name| {
                    self.running.get(*name).ok_or_else(|| {
                        eventlog::StoreError::Unavailable(format!(
                            "the read model {name} is not running"
                        ))
                    })
                })
                .collect::<eventlog::Result<_>>()?
        };
        futures::future::try_join_all(handles.into_iter().map(|h| h.wait_for(position))).await?;
        Ok(())
    }

    /// Waits until the read models `names` include everything in the log now: a read sees
    /// every change answered before it.
    pub async fn caught_up(&self, names: &[&str]) -> Result<(), ApiError> {
        let head = self.store.head().await.map_err(store_error)?;
        self.at(head, names).await
    }
}
