//! The store interface every backend implements.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::event::{
    AppendResult, Direction, ExpectedVersion, Filter, NewEvent, RecordedEvent, StreamAppend,
    StreamName,
};
use crate::hash::{self, Hash};
use crate::keys::{DataKey, KeySelector};
use crate::projection::Projection;

/// One position of the chain as stored, for verification.
#[derive(Debug, Clone)]
pub struct ChainRow {
    pub position: u64,
    /// The chain link stored for this position.
    pub link: Hash,
    /// The stored hash of the event's content.
    pub stored_hash: Hash,
    /// The event itself, or `None` when its row is missing.
    pub event: Option<RecordedEvent>,
    /// The category column as stored, which reads by category filter on (outside the content
    /// hash: it must be the stream's).
    pub category: String,
}

/// The outcome of recomputing the hash chain over a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub ok: bool,
    /// How many positions were checked.
    pub checked: u64,
    /// The first position whose content, order or presence does not match.
    pub first_bad_sequence: Option<u64>,
    /// What did not match there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Moves a head watch forward to `to` (never back), waking its receivers only if it moved:
/// both backends' writers after an append, and PostgreSQL's listener on a notification.
pub(crate) fn raise_head(head: &watch::Sender<u64>, to: u64) {
    head.send_if_modified(|h| {
        let moved = to > *h;
        *h = (*h).max(to);
        moved
    });
}

fn no_keys() -> StoreError {
    StoreError::Unavailable("this store keeps no data keys".into())
}

/// Where a projection's reader stands, for [`EventStore::apply_projection`]: the checkpoint
/// it last saw stored (where its reading went on from), and the last erasure it knows of: the
/// position of an erasure whose announcement it has read, and every one before it, which made
/// a sealed store forget the keys those erasures destroyed
/// ([`crate::projection::learn_erasures`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub checkpoint: u64,
    pub erasure: u64,
}

impl Seen {
    /// Whether a projection's documents at `checkpoint`, last reset for the erasure at
    /// `reset_for` (its `<name>@erasure` mark), were reset since this reader read: their
    /// checkpoint is behind the one it saw, or, for a projection that `rebuilds` after
    /// erasures ([`Projection::rebuilds_after_erasure`]), they were reset for an erasure it
    /// does not know of (what it read may hold what that erasure erased, opened with keys it
    /// had cached). The mark of a projection that does not rebuild after erasures (any more)
    /// says nothing.
    pub fn outdated_by(&self, rebuilds: bool, checkpoint: u64, reset_for: u64) -> bool {
        checkpoint < self.checkpoint || (rebuilds && reset_for > self.erasure)
    }
}

/// The checkpoint that records the last erasure a projection was rebuilt for.
pub fn erasure_checkpoint(projection: &str) -> String {
    format!("{projection}@erasure")
}

/// The checkpoint that records the version of a projection's definition its documents were
/// built by ([`Projection::version`]); absent, version 1.
pub fn definition_checkpoint(projection: &str) -> String {
    format!("{projection}@definition")
}

/// Refuses to apply a batch with a projection whose definition is older than the one its
/// documents are now built by (`built_by`, from [`definition_checkpoint`]): while a new release
/// rolls out, a runner of the old one must not write into the documents the new one rebuilds.
pub(crate) fn refuse_older_definition(
    (name, version): (&str, u64),
    built_by: Option<u64>,
    position: u64,
) -> Result<()> {
    let built_by = built_by.unwrap_or(1);
    if built_by <= version {
        return Ok(());
    }
    Err(StoreError::Projection {
        projection: name.to_owned(),
        position,
        message: format!(
            "its documents are built by version {built_by} of its definition and this is \
             version {version}: a newer release runs on this database (to go back, rebuild it \
             with this one: procgate rebuild)"
        ),
    })
}

/// The event log. Both backends pass the same conformance suite (`tests/conformance.rs`).
#[async_trait]
pub trait EventStore: Send + Sync + std::fmt::Debug {
    /// `"postgres"` or `"sqlite"`.
    fn backend(&self) -> &'static str;

    /// Appends to one or more streams atomically: every event is stored or none is.
    ///
    /// Each stream's expected version is checked first; a mismatch is
    /// [`StoreError::WrongExpectedVersion`](crate::StoreError) naming the actual version. If
    /// every event id is already stored in the stream it is sent to, nothing is written and the
    /// original result is returned (a safe retry); an id stored in another stream is
    /// [`StoreError::DuplicateEventId`](crate::StoreError).
    async fn append_streams(&self, appends: Vec<StreamAppend>) -> Result<Vec<AppendResult>>;

    /// Reads a stream from `from_version` (inclusive; forwards, or backwards towards 1), at most
    /// `limit` events. `Backwards` from `u64::MAX` reads from the end.
    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// Reads the whole log after `after` (exclusive) in global order, at most `limit` events.
    async fn read_all(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// [`read_all`](Self::read_all) for a follower of the head (a
    /// [`Subscription`](crate::Subscription)): a backend may answer it from the latest events it
    /// keeps, read from its table once for every follower in the process. A read that must see
    /// the table as it is now (a page of the feed, a replay) calls `read_all`.
    async fn read_following(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_all(after, filter, limit).await
    }

    /// The position of the last event every reader can see.
    async fn head(&self) -> Result<u64>;

    /// A watch of the head: it changes when new events become visible, to this process's
    /// appends at once and to other processes' within a wake-up (no polling loop needed).
    fn watch_head(&self) -> watch::Receiver<u64>;

    /// The stored chain rows after `after`, for verification.
    async fn chain_rows(&self, after: u64, limit: usize) -> Result<Vec<ChainRow>>;

    /// The stored link at `position` (the genesis link for 0).
    async fn chain_link(&self, position: u64) -> Result<Option<Hash>>;

    /// A named consumer's checkpoint.
    async fn checkpoint(&self, name: &str) -> Result<Option<u64>>;

    /// Saves a named consumer's checkpoint.
    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<()>;

    /// Moves a named consumer's checkpoint to `position` only if that is forward of the stored
    /// one (or none is stored), in one statement: of two consumers acknowledging at once, the
    /// one further on wins, whichever writes last.
    async fn advance_checkpoint(&self, name: &str, position: u64) -> Result<()>;

    /// Applies events to a projection's documents and moves its checkpoint to the last of them,
    /// in one transaction. Events at or before the stored checkpoint are skipped. Returns the
    /// checkpoint.
    ///
    /// `seen` is where the caller stands ([`Seen`]). The documents were reset since it read
    /// when the stored checkpoint is behind the one it saw (a rebuild, or a reset after an
    /// erasure by another instance), or when they were reset for an erasure it does not know
    /// of, even if rebuilt past its batch since (the batch may hold what the erasure erased,
    /// opened with keys the caller had cached). Either way the batch is not applied and the
    /// stored checkpoint is returned, for the caller to learn the erasures and read again.
    async fn apply_projection(
        &self,
        projection: &dyn Projection,
        seen: Seen,
        events: &[RecordedEvent],
    ) -> Result<u64>;

    /// Deletes a projection's documents and checkpoint, in one transaction, for a rebuild, and
    /// records its definition's version ([`Projection::version`]) as the one its documents are
    /// built by from now on.
    async fn reset_projection(&self, projection: &dyn Projection) -> Result<()>;

    /// One document of a read model.
    async fn document(&self, collection: &str, key: &str) -> Result<Option<Value>>;

    /// Every document of a collection, ordered by key.
    async fn documents(&self, collection: &str) -> Result<Vec<(String, Value)>>;

    /// The documents of a collection whose keys are from `first` to `last` (both included; open
    /// where `None`), ordered by key, keys compared byte by byte, each as its JSON text: a read
    /// model partitioned by keys that sort as their days do reads a period's partitions in one
    /// query, and decodes them straight into its own types (leaving out what it does not need).
    async fn documents_between(
        &self,
        collection: &str,
        first: Option<&str>,
        last: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        let docs = self.documents(collection).await?;
        Ok(docs
            .into_iter()
            .filter(|(key, _)| {
                first.is_none_or(|f| key.as_str() >= f) && last.is_none_or(|l| key.as_str() <= l)
            })
            .map(|(key, doc)| (key, doc.to_string()))
            .collect())
    }

    /// The documents of a collection at `keys` that exist, ordered by key: one query in both
    /// backends, for a read that needs a few documents by key.
    async fn documents_at(
        &self,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<(String, Value)>> {
        let mut found = Vec::new();
        for key in keys {
            if let Some(doc) = self.document(collection, key).await? {
                found.push((key.clone(), doc));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|a, b| a.0 == b.0);
        Ok(found)
    }

    /// The data keys of `subjects` that exist (destroyed ones with no key material).
    async fn data_keys(&self, subjects: &[String]) -> Result<Vec<DataKey>> {
        let _ = subjects;
        Err(no_keys())
    }

    /// Adds data keys; a subject that already has one keeps it (the caller reads it back). A
    /// key whose owner's key is destroyed is not added, even by an erasure racing this call:
    /// what it would seal is stored erased.
    async fn add_data_keys(&self, keys: &[DataKey]) -> Result<()> {
        let _ = keys;
        Err(no_keys())
    }

    /// Destroys the selected keys (their material is deleted; the row remains, with the
    /// reason and the time), returning the subjects destroyed now.
    async fn destroy_data_keys(&self, which: &KeySelector, reason: &str) -> Result<Vec<String>> {
        let _ = (which, reason);
        Err(no_keys())
    }

    /// The subjects of the selected keys that are destroyed already, sorted: what an erasure
    /// whose announcement never came destroyed.
    async fn destroyed_data_keys(&self, which: &KeySelector) -> Result<Vec<String>> {
        let _ = which;
        Err(no_keys())
    }

    /// After an erasure at `position`: resets the projection for a rebuild, unless a runner of
    /// it already did for this erasure or a later one. Atomic, so several instances following
    /// one database rebuild once. Returns whether it reset.
    async fn reset_projection_after_erasure(
        &self,
        projection: &dyn Projection,
        position: u64,
    ) -> Result<bool> {
        let _ = (projection, position);
        Err(no_keys())
    }

    /// Before a projection runs: resets it for a rebuild from the log when its documents were
    /// built by an earlier version of its definition ([`Projection::version`]; none recorded
    /// is version 1), and records its version. Atomic in both backends, so several instances
    /// starting on one database rebuild once. Returns whether it reset.
    async fn reset_projection_for_definition(&self, projection: &dyn Projection) -> Result<bool> {
        let mark = definition_checkpoint(projection.name());
        let version = projection.version();
        if self.checkpoint(&mark).await?.unwrap_or(1) >= version {
            return Ok(false);
        }
        self.reset_projection(projection).await?;
        self.save_checkpoint(&mark, version).await?;
        Ok(true)
    }

    /// Asks the database something, for readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Appends to one stream.
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        let mut results =
            self.append_streams(vec![StreamAppend::new(stream.clone(), expected, events)]).await?;
        Ok(results.remove(0))
    }

    /// Reads one category after `after` in global order.
    async fn read_category(
        &self,
        category: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.read_all(after, &Filter::categories([category]), limit).await
    }

    /// Reads several streams, each from its own version (inclusive) to its end, in one go:
    /// one round trip on PostgreSQL. The result has one list per request, in order.
    async fn read_streams(
        &self,
        requests: &[(StreamName, u64)],
    ) -> Result<Vec<Vec<RecordedEvent>>> {
        let mut out = Vec::with_capacity(requests.len());
        for (stream, from) in requests {
            let mut events: Vec<RecordedEvent> = Vec::new();
            loop {
                let next = events.last().map_or(*from, |e| e.version + 1);
                let page = self.read_stream(stream, next, Direction::Forwards, 1000).await?;
                let done = page.len() < 1000;
                events.extend(page);
                if done {
                    break;
                }
            }
            out.push(events);
        }
        Ok(out)
    }

    /// Reads a whole stream, forwards.
    async fn read_stream_to_end(&self, stream: &StreamName) -> Result<Vec<RecordedEvent>> {
        let mut out: Vec<RecordedEvent> = Vec::new();
        loop {
            let from = out.last().map_or(1, |e| e.version + 1);
            let page = self.read_stream(stream, from, Direction::Forwards, 1000).await?;
            let done = page.len() < 1000;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// Recomputes the hash chain over positions `from..=to` (to the head when `to` is `None`),
    /// starting from the stored link before `from`, and checks each row's stored category is its
    /// stream's. When the range ends at the head, it also checks that no row stands past the head
    /// (readers would serve one written around the log's writer). `progress` is told how far it
    /// has got.
    async fn verify(
        &self,
        from: u64,
        to: Option<u64>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Verification> {
        let from = from.max(1);
        let head = self.head().await?;
        let to = to.unwrap_or(head);
        let mut previous = match self.chain_link(from - 1).await? {
            Some(link) => link,
            None => {
                return Ok(Verification {
                    ok: false,
                    checked: 0,
                    first_bad_sequence: Some(from - 1),
                    problem: Some("the link before the range is missing".into()),
                });
            }
        };
        let mut expected_position = from;
        let mut checked = 0;
        let bad = |position: u64, checked: u64, problem: String| Verification {
            ok: false,
            checked,
            first_bad_sequence: Some(position),
            problem: Some(problem),
        };
        while expected_position <= to {
            let limit = usize::try_from((to - expected_position + 1).min(2000)).unwrap_or(2000);
            let rows = self.chain_rows(expected_position - 1, limit).await?;
            if rows.is_empty() {
                return Ok(bad(expected_position, checked, "the event is missing".into()));
            }
            for row in rows {
                if row.position != expected_position {
                    return Ok(bad(expected_position, checked, "the event is missing".into()));
                }
                let Some(event) = &row.event else {
                    return Ok(bad(row.position, checked, "the event is missing".into()));
                };
                let content = hash::recompute(event);
                if content != row.stored_hash {
                    return Ok(bad(
                        row.position,
                        checked,
                        "the event's content was changed".into(),
                    ));
                }
                if row.category != event.category() {
                    return Ok(bad(
                        row.position,
                        checked,
                        "the event's stored category is not its stream's: reads by category \
                         would miss it"
                            .into(),
                    ));
                }
                let link = hash::chain_link(&previous, row.position, event.version, &content);
                if link != row.link {
                    return Ok(bad(
                        row.position,
                        checked,
                        "the chain does not match: events were reordered, removed or changed"
                            .into(),
                    ));
                }
                previous = link;
                checked += 1;
                expected_position += 1;
            }
            progress(expected_position - 1);
        }
        // A range that reaches the head: the row after it, read before the head is read again
        // (an append committed meanwhile has raised the head with its rows, so only a row past
        // the head is out of place).
        if to >= head
            && let Some(row) = self.chain_rows(to, 1).await?.first()
            && row.position > self.head().await?
        {
            return Ok(bad(
                row.position,
                checked,
                "an event stands past the log's head: it was not written by the log's writer"
                    .into(),
            ));
        }
        Ok(Verification { ok: true, checked, first_bad_sequence: None, problem: None })
    }
}
