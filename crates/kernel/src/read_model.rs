//! Typed read models over [`eventlog::Projection`]: each recorded event is decoded once, into
//! the published enums ([`Published`]), and a read model works on its own documents as typed
//! values, never on JSON or type strings.
//!
//! ```ignore
//! impl ReadModel for Wishes {
//!     const NAME: &'static str = "stakeholders.wishes";
//!     const CATEGORIES: &'static [&'static str] = &[WISH_CATEGORY];
//!     type Doc = WishDoc;
//!     fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, WishDoc>) -> Applied {
//!         let Published::Wish(wish) = event.event else { return Ok(()) };
//!         …
//!     }
//! }
//! ```
//!
//! Its documents are keyed by stream id unless it says otherwise ([`ReadModel::keys`]).
//! [`ReadModel::into_projection`] turns one into the `Arc<dyn Projection>` the log runs.
//!
//! A read model may own several collections ([`ReadModel::collections`]): its documents
//! ([`ReadModel::Doc`]) are in [`ReadModel::COLLECTION`], the others are named with their
//! collection in [`ReadModel::other_keys`] and read and written with [`Documents::of`]:
//!
//! ```ignore
//! impl ReadModel for Schools {
//!     const NAME: &'static str = "reporting.schools";
//!     const COLLECTION: &'static str = SCHOOLS;
//!     type Doc = SchoolDoc;
//!     fn collections(&self) -> Vec<&'static str> { vec![SCHOOLS, CHANGES] }
//!     fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
//!         vec![DocKey::new(CHANGES, change_key(event.position))]
//!     }
//!     fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, SchoolDoc>) -> Applied {
//!         let mut school = docs.get(event.stream_id()).unwrap_or_default();
//!         // (the school changed by the event)
//!         docs.put(event.stream_id(), &school);
//!         let change = ChangeDoc { school_id: school.school_id, on: event.recorded_at };
//!         docs.of::<ChangeDoc>(CHANGES).put(&change_key(event.position), &change);
//!         Ok(())
//!     }
//! }
//! ```

use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use eventlog::sealed::ERASURE_CATEGORY;
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
    /// An error naming the event.
    pub fn failed(&self, error: &str) -> String {
        format!("{} at position {}: {error}", self.record.event_type, self.record.position)
    }

    /// An error naming the event, for a document it needs that is not there.
    pub fn missing(&self, collection: &str, key: &str) -> String {
        format!(
            "{} at position {}: no {collection}/{key} document",
            self.record.event_type, self.record.position
        )
    }
}

/// What [`ReadModel::update`] returns: the event applied, or why it could not be (the read
/// model then stops at the event, or skips it, as [`ReadModel::SKIP_UNDECODABLE`] says).
pub type Applied = Result<(), String>;

/// A read model: documents of one type in one collection, kept from the log (and, for a read
/// model that needs them, documents of other types in other collections of its own).
pub trait ReadModel: Send + Sync + 'static {
    /// The name of its checkpoint, and the collection it owns unless [`Self::COLLECTION`] says
    /// otherwise.
    const NAME: &'static str;
    /// The collection of its documents ([`Self::Doc`]): [`Self::NAME`] unless set.
    const COLLECTION: &'static str = Self::NAME;
    /// Whether an event whose data does not decode is skipped, with a warning (`true`), or
    /// stops the read model at that event, which then retries (`false`, the default: its
    /// documents would otherwise silently miss the event). Reports skip, so that one bad event
    /// cannot stop them all.
    const SKIP_UNDECODABLE: bool = false;
    /// Whether it is rebuilt from the log after each erasure of personal data (`true`, the
    /// default: its documents may hold what was erased). The erasure announcements themselves
    /// never reach [`Self::update`].
    const REBUILDS_AFTER_ERASURE: bool = true;
    /// The version of its definition: raise it when its documents come to mean something else,
    /// or it keeps new documents for past events. On start, documents built by an earlier
    /// version are rebuilt from the log ([`Projection::version`]).
    const VERSION: u64 = 1;
    /// Its documents.
    type Doc: Serialize + DeserializeOwned;

    /// The collections it owns, cleared when it is rebuilt: [`Self::COLLECTION`] unless it
    /// keeps others ([`Self::other_keys`], [`Documents::of`]).
    fn collections(&self) -> Vec<&'static str> {
        vec![Self::COLLECTION]
    }

    /// The stream categories it reads every event of ([`Self::filter`]).
    const CATEGORIES: &'static [&'static str] = &[];

    /// The events it reads: every event of [`Self::CATEGORIES`] unless it says otherwise. A
    /// read model names its categories or overrides this: no categories would read the whole
    /// log, so it panics (at start, when the projection is made) rather than do that silently.
    fn filter(&self) -> Filter {
        assert!(
            !Self::CATEGORIES.is_empty(),
            "the read model {} names no CATEGORIES and does not override filter",
            Self::NAME
        );
        Filter::categories(Self::CATEGORIES.iter().copied())
    }

    /// The keys of the documents `update` reads or writes for this event, in
    /// [`Self::COLLECTION`].
    ///
    /// By default, the one document named by the event's stream id (`wish-{id}` keeps the
    /// document `{id}`), which is what most read models keep.
    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        vec![event.stream_id().to_owned()]
    }

    /// The documents `update` reads or writes for this event in its other collections (see
    /// [`Self::collections`]), each named with its collection: none unless it keeps others.
    /// What the event alone cannot tell (a day's figures, when the day is in the purchase's
    /// document) is left out: `update` asks for it, and the store fetches it and applies the
    /// batch again ([`eventlog::projection`]).
    fn other_keys(&self, _event: &Recorded<'_>) -> Vec<DocKey> {
        Vec::new()
    }

    /// Applies one event to the documents. Pure: no IO, no clock.
    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, Self::Doc>) -> Applied;

    /// The projection the log runs for it.
    fn into_projection(self) -> Arc<dyn Projection>
    where
        Self: Sized,
    {
        // Its filter is asked for now, so that one without categories fails at start.
        drop(self.filter());
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

    /// Changes the document at `key` with `change` and puts it back; an error naming `event`
    /// when there is none (an event on a stream whose opening event was not read).
    pub fn change(
        &mut self,
        key: &str,
        event: &Recorded<'_>,
        change: impl FnOnce(&mut D),
    ) -> Applied {
        let mut doc = self.require(key, event)?;
        change(&mut doc);
        self.put(key, &doc);
        Ok(())
    }

    /// The document at `key` to read, decoded once for the batch ([`Docs::read_as`]): for a
    /// document every event reads (the district's settings, say). An error naming the event
    /// when `key` was not declared or the document does not decode.
    pub fn read(&mut self, key: &str, event: &Recorded<'_>) -> Result<Option<&D>, String>
    where
        D: Default + Send + 'static,
    {
        self.docs.read_as::<D>(self.collection, key).map_err(|e| event.failed(&e))
    }

    /// The document at `key` to change in place (a new `D::default()` when there is none),
    /// decoded once for the batch ([`Docs::entry_as`]): for documents many events change, such
    /// as a rollup's partition. An error naming the event when `key` was not declared or the
    /// document does not decode.
    pub fn entry(&mut self, key: &str, event: &Recorded<'_>) -> Result<&mut D, String>
    where
        D: Default + Send + 'static,
    {
        self.docs.entry_as::<D>(self.collection, key).map_err(|e| event.failed(&e))
    }

    pub fn remove(&mut self, key: &str) {
        self.docs.remove(self.collection, key);
    }

    /// A document of another of the read model's collections to change in place, as
    /// [`Documents::entry`].
    pub fn entry_in<E>(
        &mut self,
        collection: &'static str,
        key: &str,
        event: &Recorded<'_>,
    ) -> Result<&mut E, String>
    where
        E: Serialize + DeserializeOwned + Default + Send + 'static,
    {
        self.docs.entry_as::<E>(collection, key).map_err(|e| event.failed(&e))
    }

    /// The documents of another of the read model's collections (see
    /// [`ReadModel::collections`]), typed as `E`; their keys come from
    /// [`ReadModel::other_keys`].
    pub fn of<E: Serialize + DeserializeOwned>(
        &mut self,
        collection: &'static str,
    ) -> Documents<'_, E> {
        Documents::new(self.docs, collection)
    }
}

/// The projection of a [`ReadModel`]: decodes each event in `keys` and keeps it until `apply`
/// takes it (the log calls `keys` for a batch's events, then `apply` for each).
struct Typed<R> {
    model: R,
    decoded: Mutex<HashMap<u64, Published>>,
}

fn decode(record: &RecordedEvent) -> Result<Published, String> {
    Published::decode(record.category(), &record.event_type, &record.data)
        .map_err(|e| format!("{} at {}: {e}", record.stream, record.position))
}

impl<R: ReadModel> Typed<R> {
    /// An erasure announcement the model does not read itself (it follows them only to be
    /// rebuilt after each).
    fn passes_over(&self, record: &RecordedEvent) -> bool {
        record.category() == ERASURE_CATEGORY
            && !self.model.filter().categories.iter().any(|c| c == ERASURE_CATEGORY)
    }
}

impl<R: ReadModel> Projection for Typed<R> {
    fn name(&self) -> &str {
        R::NAME
    }

    fn filter(&self) -> Filter {
        self.model.filter()
    }

    fn collections(&self) -> Vec<String> {
        self.model.collections().into_iter().map(str::to_owned).collect()
    }

    fn rebuilds_after_erasure(&self) -> bool {
        R::REBUILDS_AFTER_ERASURE
    }

    fn version(&self) -> u64 {
        R::VERSION
    }

    fn keys(&self, record: &RecordedEvent) -> Vec<DocKey> {
        if self.passes_over(record) {
            return vec![];
        }
        // An event that does not decode names no document; `apply` reports or skips it.
        let Ok(event) = decode(record) else { return vec![] };
        let recorded = Recorded { event: &event, record };
        let (keys, mut other) = (self.model.keys(&recorded), self.model.other_keys(&recorded));
        self.decoded.lock().unwrap_or_else(PoisonError::into_inner).insert(record.position, event);
        if keys.is_empty() {
            return other;
        }
        other.reserve(keys.len());
        other.extend(keys.into_iter().map(|key| DocKey::new(R::COLLECTION, key)));
        other
    }

    fn apply(&self, record: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        if self.passes_over(record) {
            return Ok(());
        }
        let kept =
            self.decoded.lock().unwrap_or_else(PoisonError::into_inner).remove(&record.position);
        let event = match kept {
            Some(event) => event,
            None => match decode(record) {
                Ok(event) => event,
                Err(error) if R::SKIP_UNDECODABLE => {
                    tracing::warn!(
                        read_model = R::NAME,
                        position = record.position,
                        event_type = %record.event_type,
                        %error,
                        "skipping an event whose data does not match its schema"
                    );
                    return Ok(());
                }
                Err(error) => return Err(error),
            },
        };
        let mut docs = Documents::new(docs, R::COLLECTION);
        self.model.update(&Recorded { event: &event, record }, &mut docs)
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
        let docs = self.store.documents(R::COLLECTION).await.map_err(store_error)?;
        docs.into_iter().map(|(key, doc)| parse::<R::Doc>(R::COLLECTION, &key, doc)).collect()
    }

    /// Every document of `R` with its key.
    pub async fn keyed<R: ReadModel>(&self) -> Result<Vec<(String, R::Doc)>, ApiError> {
        let docs = self.store.documents(R::COLLECTION).await.map_err(store_error)?;
        docs.into_iter()
            .map(|(key, doc)| Ok((key.clone(), parse::<R::Doc>(R::COLLECTION, &key, doc)?)))
            .collect()
    }

    /// The document of `R` at `key`, if there is one.
    pub async fn one<R: ReadModel>(&self, key: &str) -> Result<Option<R::Doc>, ApiError> {
        let doc = self.store.document(R::COLLECTION, key).await.map_err(store_error)?;
        doc.map(|doc| parse::<R::Doc>(R::COLLECTION, key, doc)).transpose()
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

    /// How far the read model `name` has read (every event up to there is applied); `None`
    /// when it is not one of these.
    pub fn position(&self, name: &str) -> Option<u64> {
        self.running.get(name).map(eventlog::ProjectionHandle::position)
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

    /// Waits until the read models `names` include `position`, where a write just appended
    /// (everything in the log now, when `None`: the write changed nothing): the write's answer
    /// shows what a read right after it would.
    pub async fn include(&self, position: Option<u64>, names: &[&str]) -> Result<(), ApiError> {
        match position {
            Some(position) => self.at(position, names).await,
            None => self.caught_up(names).await,
        }
    }

    /// Waits until the read models `names` include everything in the log now: a read sees
    /// every change answered before it.
    pub async fn caught_up(&self, names: &[&str]) -> Result<(), ApiError> {
        let head = self.store.head().await.map_err(store_error)?;
        self.at(head, names).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use eventlog::projection::apply_in_memory;
    use eventlog::{Actor, Metadata};
    use events::school::{AgreementSigned, SchoolEvent, SchoolRegistered};
    use events::values::{SchoolId, ShortText};
    use serde::Deserialize;
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::*;

    /// A read model that names no categories and keeps the default filter.
    struct Everything;

    impl ReadModel for Everything {
        const NAME: &'static str = "test.everything";
        type Doc = String;

        fn update(&self, _: &Recorded<'_>, _: &mut Documents<'_, String>) -> Applied {
            Ok(())
        }
    }

    #[test]
    #[should_panic(expected = "test.everything names no CATEGORIES")]
    fn a_read_model_without_categories_is_refused_at_start() {
        let _ = Everything.into_projection();
    }

    /// A read model with two collections: a school's name in `test.names`, and one document
    /// per agreement signed in `test.signatures`.
    struct Names;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Signature {
        school: String,
    }

    impl ReadModel for Names {
        const NAME: &'static str = "test";
        const COLLECTION: &'static str = "test.names";
        const SKIP_UNDECODABLE: bool = true;
        type Doc = String;

        fn collections(&self) -> Vec<&'static str> {
            vec!["test.names", "test.signatures"]
        }

        const CATEGORIES: &'static [&'static str] = &["school"];

        fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
            vec![event.stream_id().to_owned()]
        }

        fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
            match event.event {
                Published::School(SchoolEvent::AgreementSigned(_)) => {
                    vec![DocKey::new("test.signatures", event.position.to_string())]
                }
                _ => vec![],
            }
        }

        fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, String>) -> Applied {
            let key = event.stream_id();
            match event.event {
                Published::School(SchoolEvent::Registered(r)) => docs.put(key, &r.name.to_string()),
                Published::School(SchoolEvent::AgreementSigned(_)) => {
                    // Reads both collections: both were fetched.
                    let school = docs.require(key, event)?;
                    let mut signatures = docs.of::<Signature>("test.signatures");
                    let at = event.position.to_string();
                    assert_eq!(signatures.get(&at), None);
                    signatures.put(&at, &Signature { school });
                }
                _ => {}
            }
            Ok(())
        }
    }

    /// The same, stopping at an event that does not decode (the default).
    struct Strict;

    impl ReadModel for Strict {
        const NAME: &'static str = "strict";
        type Doc = String;

        const CATEGORIES: &'static [&'static str] = &["school"];

        fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
            vec![event.stream_id().to_owned()]
        }

        fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, String>) -> Applied {
            docs.put(event.stream_id(), &event.event_type);
            Ok(())
        }
    }

    fn recorded(position: u64, event_type: &str, data: Value) -> RecordedEvent {
        RecordedEvent {
            position,
            id: Uuid::from_u128(position.into()),
            stream: "school-lincoln".into(),
            version: position,
            event_type: event_type.into(),
            data,
            metadata: Metadata::new(Actor::new("it", "it_staff"), "test"),
            recorded_at: DateTime::<Utc>::UNIX_EPOCH,
            hash: String::new(),
        }
    }

    fn log() -> Vec<RecordedEvent> {
        let id = SchoolId::parse("lincoln").unwrap();
        let registered: SchoolEvent =
            SchoolRegistered { school_id: id.clone(), name: ShortText::parse("Lincoln").unwrap() }
                .into();
        let signed: SchoolEvent = AgreementSigned {
            school_id: id,
            principal_id: Uuid::from_u128(9),
            signed_on: "2024-09-02".parse().unwrap(),
        }
        .into();
        vec![
            recorded(1, registered.event_type(), registered.to_data()),
            recorded(2, "school-registered", json!({"name": 7})),
            recorded(3, signed.event_type(), signed.to_data()),
        ]
    }

    /// The documents after applying `events` as one batch, as the store would.
    fn project(
        projection: &dyn Projection,
        events: &[RecordedEvent],
    ) -> eventlog::Result<Vec<(DocKey, Option<Value>)>> {
        apply_in_memory(projection, events, 0, |_| None)
    }

    #[test]
    fn a_read_model_keeps_several_collections_and_may_skip_what_does_not_decode() {
        let names = Names.into_projection();
        assert_eq!(names.name(), "test");
        assert_eq!(names.collections(), ["test.names", "test.signatures"]);
        let events = log();
        let keys: Vec<Vec<DocKey>> = events.iter().map(|e| names.keys(e)).collect();
        let name = DocKey::new("test.names", "lincoln");
        assert_eq!(
            keys,
            [vec![name.clone()], vec![], vec![DocKey::new("test.signatures", "3"), name.clone()]]
        );
        let changes = project(&*names, &events).unwrap();
        assert_eq!(
            changes,
            [
                (name, Some(json!("Lincoln"))),
                (DocKey::new("test.signatures", "3"), Some(json!({"school": "Lincoln"}))),
            ]
        );
    }

    #[test]
    fn by_default_a_read_model_owns_one_collection_and_stops_at_what_does_not_decode() {
        let strict = Strict.into_projection();
        assert_eq!(strict.collections(), ["strict"]);
        let error = project(&*strict, &log()).unwrap_err().to_string();
        assert!(error.contains("failed at position 2"), "{error}");
    }

    #[tokio::test]
    async fn running_read_models_say_how_far_they_have_read() {
        let test = testkit::TestStore::open(testkit::Backend::Sqlite).await;
        let store = test.shared();
        let read_models = ReadModels::spawn(&store, vec![Names.into_projection()]);
        let stream = eventlog::StreamName::new("school-lincoln").unwrap();
        let events = log()
            .into_iter()
            .map(|e| eventlog::NewEvent::new(e.event_type, e.data, e.metadata))
            .collect();
        let append = eventlog::StreamAppend::new(stream, eventlog::ExpectedVersion::Any, events);
        store.append_streams(vec![append]).await.unwrap();
        let head = store.head().await.unwrap();
        read_models.wait(head, &[Names::NAME]).await.unwrap();
        assert_eq!(read_models.position(Names::NAME), Some(head));
        assert_eq!(read_models.position("nope"), None);
        let names = read_models.view().all::<Names>().await.unwrap();
        assert_eq!(names, ["Lincoln"]);
    }
}
