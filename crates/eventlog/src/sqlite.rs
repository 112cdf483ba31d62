//! The embedded SQLite backend: the zero-set-up default, for one process.
//!
//! One writer thread owns the write connection, so appends are serialized and each gets its
//! positions and chain links at insert: readers can never see a later position before an
//! earlier one. The appends waiting when the thread takes one are written with it, in one
//! transaction (group commit: `synchronous=FULL` pays one sync a batch, not one an append),
//! each request decided on its own by the planner. A second thread serves reads from its own
//! connection (WAL mode), so long reads do not hold up appends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde_json::Value;
use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::event::{
    AppendResult, Direction, Filter, RecordedEvent, StreamAppend, StreamName, check_appends,
};
use crate::hash::{self, GENESIS, Hash};
use crate::keys::{DataKey, KeySelector};
use crate::projection::{DocKey, Projection, apply_in_rounds, batch_keys};
use crate::store::{
    ChainRow, EventStore, Seen, definition_checkpoint, erasure_checkpoint, raise_head,
    refuse_older_definition,
};
use crate::tail::Tail;

mod keys;
mod writer;

use writer::Worker;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// The event log in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: Worker,
    reader: Worker,
    head: Arc<watch::Sender<u64>>,
    path: PathBuf,
    /// The latest events, for every follower of the head (see `crate::tail`).
    tail: Tail,
}

/// The head watch of a file, shared by every store opened on it in this process, so that a
/// subscriber on one handle is woken by appends through another.
fn shared_head(path: &Path, head: u64) -> Arc<watch::Sender<u64>> {
    static HEADS: OnceLock<Mutex<HashMap<PathBuf, Weak<watch::Sender<u64>>>>> = OnceLock::new();
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut heads =
        HEADS.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    heads.retain(|_, w| w.strong_count() > 0);
    if let Some(existing) = heads.get(&key).and_then(Weak::upgrade) {
        raise_head(&existing, head);
        return existing;
    }
    let sender = Arc::new(watch::channel(head).0);
    heads.insert(key, Arc::downgrade(&sender));
    sender
}

fn connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // An acknowledged append is on disk: this is an audit log.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the log at `path` and runs its migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut conn = connection(&path)?;
        embedded::migrations::runner()
            .run(&mut conn)
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        let head: u64 = conn.query_row("SELECT position FROM log_head", [], |r| r.get(0))?;
        let reader = connection(&path)?;
        reader.pragma_update(None, "query_only", true)?;
        let head = shared_head(&path, head);
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Worker::spawn(conn, "eventlog-writer", Some(head.clone()))?,
                reader: Worker::spawn(reader, "eventlog-reader", None)?,
                head,
                path,
                tail: Tail::default(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the write connection: for maintenance and tests (e.g. tampering).
    pub async fn with_connection<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        self.inner.writer.run(f).await
    }
}

const EVENT_COLUMNS: &str =
    "position, event_id, stream, version, event_type, data, metadata, recorded_at, hash";

fn decode_event(row: &rusqlite::Row<'_>) -> Result<RecordedEvent> {
    let text = |i: usize| -> Result<String> { Ok(row.get::<_, String>(i)?) };
    let bad = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    Ok(RecordedEvent {
        position: row.get(0)?,
        id: text(1)?.parse().map_err(|e| bad("event id", &e))?,
        stream: text(2)?,
        version: row.get(3)?,
        event_type: text(4)?,
        data: serde_json::from_str(&text(5)?)?,
        metadata: serde_json::from_str(&text(6)?)?,
        recorded_at: DateTime::parse_from_rfc3339(&text(7)?)
            .map_err(|e| bad("recorded_at", &e))?
            .with_timezone(&Utc),
        hash: hex::encode(row.get::<_, Vec<u8>>(8)?),
    })
}

fn query_events(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RecordedEvent>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode_event(row)?);
    }
    Ok(out)
}

fn clamp(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Writes a projection's changed documents and its checkpoint, if the checkpoint is still
/// where the batch started (else another runner got there first and its writes stand).
fn write_projection(
    conn: &mut Connection,
    (name, version, rebuilds): (&str, u64, bool),
    (seen, checkpoint, last): (Seen, u64, u64),
    changes: &[(DocKey, Option<Value>)],
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let position_of = |name: &str| -> Result<Option<u64>> {
        let position = tx
            .query_row("SELECT position FROM checkpoints WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        Ok(position)
    };
    refuse_older_definition((name, version), position_of(&definition_checkpoint(name))?, last)?;
    let now: u64 = position_of(name)?.unwrap_or(0);
    let reset_for = position_of(&erasure_checkpoint(name))?.unwrap_or(0);
    if now != checkpoint || seen.outdated_by(rebuilds, now, reset_for) {
        return Ok(now);
    }
    for (key, value) in changes {
        match value {
            Some(v) => tx.execute(
                "INSERT INTO documents (collection, key, doc) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (collection, key) DO UPDATE SET doc = excluded.doc",
                params![key.collection, key.key, v.to_string()],
            )?,
            None => tx.execute(
                "DELETE FROM documents WHERE collection = ?1 AND key = ?2",
                params![key.collection, key.key],
            )?,
        };
    }
    upsert_checkpoint(&tx, name, last)?;
    tx.commit()?;
    Ok(last)
}

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

impl SqliteStore {
    /// The documents at `keys` (`None` where there is none), read by the writer's connection,
    /// which writes them back.
    async fn fetch_documents(&self, keys: Vec<DocKey>) -> Result<Vec<(DocKey, Option<Value>)>> {
        self.inner
            .writer
            .run(move |conn| {
                let mut out = Vec::with_capacity(keys.len());
                for key in keys {
                    let doc = read_document(conn, &key.collection, &key.key)?;
                    out.push((key, doc));
                }
                Ok(out)
            })
            .await
    }
}

/// One document of a read model, `None` where there is none.
fn read_document(conn: &Connection, collection: &str, key: &str) -> Result<Option<Value>> {
    let mut stmt =
        conn.prepare_cached("SELECT doc FROM documents WHERE collection = ?1 AND key = ?2")?;
    let doc: Option<String> = stmt.query_row(params![collection, key], |r| r.get(0)).optional()?;
    Ok(doc.map(|d| serde_json::from_str(&d)).transpose()?)
}

#[async_trait]
impl EventStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn append_streams(&self, appends: Vec<StreamAppend>) -> Result<Vec<AppendResult>> {
        check_appends(&appends)?;
        self.inner.writer.append(appends).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let sql = match direction {
            Direction::Forwards => format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND version >= ?2 \
                 ORDER BY version LIMIT ?3"
            ),
            Direction::Backwards => format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND version <= ?2 \
                 ORDER BY version DESC LIMIT ?3"
            ),
        };
        let stream = stream.to_string();
        let from = i64::try_from(from_version).unwrap_or(i64::MAX);
        self.inner
            .reader
            .run(move |conn| query_events(conn, &sql, params![stream, from, clamp(limit)]))
            .await
    }

    async fn read_all(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1");
        let mut values: Vec<rusqlite::types::Value> =
            vec![i64::try_from(after).unwrap_or(i64::MAX).into()];
        if !filter.categories.is_empty() {
            sql.push_str(&format!(
                " AND category IN ({})",
                placeholders(values.len() + 1, filter.categories.len())
            ));
            values.extend(filter.categories.iter().cloned().map(Into::into));
        }
        if !filter.event_types.is_empty() {
            sql.push_str(&format!(
                " AND event_type IN ({})",
                placeholders(values.len() + 1, filter.event_types.len())
            ));
            values.extend(filter.event_types.iter().cloned().map(Into::into));
        }
        sql.push_str(&format!(" ORDER BY position LIMIT ?{}", values.len() + 1));
        values.push(clamp(limit).into());
        self.inner.reader.run(move |conn| query_events(conn, &sql, params_from_iter(values))).await
    }

    async fn read_following(
        &self,
        after: u64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let (all, head) = (Filter::all(), *self.inner.head.borrow());
        let fetch = |after, limit| self.read_all(after, &all, limit);
        let table = || self.read_all(after, filter, limit);
        self.inner.tail.follow((head, after), filter, limit, fetch, table).await
    }

    async fn head(&self) -> Result<u64> {
        self.inner
            .reader
            .run(|conn| Ok(conn.query_row("SELECT position FROM log_head", [], |r| r.get(0))?))
            .await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }

    async fn chain_rows(&self, after: u64, limit: usize) -> Result<Vec<ChainRow>> {
        self.inner
            .reader
            .run(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS}, chain, category FROM events WHERE position > ?1 \
                     ORDER BY position LIMIT ?2"
                ))?;
                let mut rows = stmt.query(params![after, clamp(limit)])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(ChainRow {
                        position: row.get(0)?,
                        link: hash::to_hash(&row.get::<_, Vec<u8>>(9)?),
                        stored_hash: hash::to_hash(&row.get::<_, Vec<u8>>(8)?),
                        // A row that no longer decodes counts as changed content.
                        event: decode_event(row).ok(),
                        category: row.get(10)?,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn chain_link(&self, position: u64) -> Result<Option<Hash>> {
        if position == 0 {
            return Ok(Some(GENESIS));
        }
        self.inner
            .reader
            .run(move |conn| {
                Ok(conn
                    .query_row("SELECT chain FROM events WHERE position = ?1", [position], |r| {
                        r.get::<_, Vec<u8>>(0)
                    })
                    .optional()?
                    .map(|b| hash::to_hash(&b)))
            })
            .await
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>> {
        let name = name.to_owned();
        self.inner
            .reader
            .run(move |conn| {
                Ok(conn
                    .query_row("SELECT position FROM checkpoints WHERE name = ?1", [name], |r| {
                        r.get(0)
                    })
                    .optional()?)
            })
            .await
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<()> {
        let name = name.to_owned();
        self.inner
            .writer
            .run(move |conn| {
                upsert_checkpoint(conn, &name, position)?;
                Ok(())
            })
            .await
    }

    async fn advance_checkpoint(&self, name: &str, position: u64) -> Result<()> {
        let name = name.to_owned();
        self.inner.writer.run(move |conn| save_checkpoint_row(conn, &name, position, true)).await
    }

    async fn apply_projection(
        &self,
        projection: &dyn Projection,
        seen: Seen,
        events: &[RecordedEvent],
    ) -> Result<u64> {
        let (name, version) = (projection.name().to_owned(), projection.version());
        let rebuilds = projection.rebuilds_after_erasure();
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(self.checkpoint(&name).await?.unwrap_or(0));
        };
        // Read the checkpoint and documents, apply here, then write documents and checkpoint
        // in one transaction that first checks the checkpoint has not moved meanwhile.
        let checkpoint = self.checkpoint(&name).await?.unwrap_or(0);
        // Behind what the caller saw: reset since the batch was read (see the trait). The
        // write checks again, with the erasure the documents were last reset for.
        if last <= checkpoint || checkpoint < seen.checkpoint {
            return Ok(checkpoint);
        }
        let (todo, keys) = batch_keys(projection, events, checkpoint);
        let fetch = |keys| self.fetch_documents(keys);
        let changes = apply_in_rounds(projection, &todo, keys, fetch).await?;
        self.inner
            .writer
            .run(move |conn| {
                // Derived data, written with its checkpoint: no need to wait for the disk
                // (WAL with synchronous=NORMAL stays consistent; a crash re-applies the tail).
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                let definition = (name.as_str(), version, rebuilds);
                let at = (seen, checkpoint, last);
                let outcome = write_projection(conn, definition, at, &changes);
                conn.pragma_update(None, "synchronous", "FULL")?;
                outcome
            })
            .await
    }

    async fn data_keys(&self, subjects: &[String]) -> Result<Vec<DataKey>> {
        let subjects = subjects.to_vec();
        self.inner.reader.run(move |conn| keys::data_keys(conn, &subjects)).await
    }

    async fn add_data_keys(&self, new: &[DataKey]) -> Result<()> {
        let new = new.to_vec();
        self.inner.writer.run(move |conn| keys::add_data_keys(conn, &new)).await
    }

    async fn destroy_data_keys(&self, which: &KeySelector, reason: &str) -> Result<Vec<String>> {
        let (which, reason) = (which.clone(), reason.to_owned());
        self.inner.writer.run(move |conn| keys::destroy_data_keys(conn, &which, &reason)).await
    }

    async fn destroyed_data_keys(&self, which: &KeySelector) -> Result<Vec<String>> {
        let which = which.clone();
        self.inner.reader.run(move |conn| keys::destroyed_data_keys(conn, &which)).await
    }

    async fn reset_projection_after_erasure(
        &self,
        projection: &dyn Projection,
        position: u64,
    ) -> Result<bool> {
        let (name, collections) = (projection.name().to_owned(), projection.collections());
        self.inner
            .writer
            .run(move |conn| {
                keys::reset_projection_after_erasure(conn, &name, &collections, position)
            })
            .await
    }

    async fn reset_projection_for_definition(&self, projection: &dyn Projection) -> Result<bool> {
        let (name, collections) = (projection.name().to_owned(), projection.collections());
        let (mark, version) = (definition_checkpoint(&name), projection.version());
        self.inner
            .writer
            .run(move |conn| {
                keys::reset_projection_unless_marked(conn, &name, &collections, &mark, 1, version)
            })
            .await
    }

    async fn reset_projection(&self, projection: &dyn Projection) -> Result<()> {
        let name = projection.name().to_owned();
        let collections = projection.collections();
        let (mark, version) = (definition_checkpoint(&name), projection.version());
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction()?;
                for c in &collections {
                    tx.execute("DELETE FROM documents WHERE collection = ?1", [c])?;
                }
                tx.execute("DELETE FROM checkpoints WHERE name = ?1", [&name])?;
                // What it builds from now on is this version's.
                upsert_checkpoint(&tx, &mark, version)?;
                tx.commit()?;
                Ok(())
            })
            .await
    }

    async fn document(&self, collection: &str, key: &str) -> Result<Option<Value>> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.inner.reader.run(move |conn| read_document(conn, &collection, &key)).await
    }

    async fn documents_at(
        &self,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<(String, Value)>> {
        let (collection, mut keys) = (collection.to_owned(), keys.to_vec());
        keys.sort();
        keys.dedup();
        self.inner
            .reader
            .run(move |conn| {
                let mut found = Vec::new();
                for key in keys {
                    if let Some(doc) = read_document(conn, &collection, &key)? {
                        found.push((key, doc));
                    }
                }
                Ok(found)
            })
            .await
    }

    async fn documents(&self, collection: &str) -> Result<Vec<(String, Value)>> {
        let docs = self.documents_between(collection, None, None).await?;
        docs.into_iter().map(|(key, doc)| Ok((key, serde_json::from_str(&doc)?))).collect()
    }

    async fn documents_between(
        &self,
        collection: &str,
        first: Option<&str>,
        last: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        let (collection, first, last) =
            (collection.to_owned(), first.map(str::to_owned), last.map(str::to_owned));
        self.inner
            .reader
            .run(move |conn| {
                // SQLite compares text byte by byte (its default BINARY collation).
                let mut stmt = conn.prepare_cached(
                    "SELECT key, doc FROM documents WHERE collection = ?1 \
                     AND (?2 IS NULL OR key >= ?2) AND (?3 IS NULL OR key <= ?3) ORDER BY key",
                )?;
                let rows = stmt.query_map(params![collection, first, last], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<(String, String)>>>()?)
            })
            .await
    }

    async fn ping(&self) -> Result<()> {
        self.inner.reader.run(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }
}

/// Sets the checkpoint `name` to `position` (inserted, or moved), stamped now.
pub(super) fn upsert_checkpoint(conn: &Connection, name: &str, position: u64) -> Result<()> {
    save_checkpoint_row(conn, name, position, false)
}

/// Saves checkpoint `name` at `position`; with `forward`, only over a stored one behind it.
fn save_checkpoint_row(conn: &Connection, name: &str, position: u64, forward: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO checkpoints (name, position, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
         updated_at = excluded.updated_at WHERE NOT ?4 OR checkpoints.position < excluded.position",
        params![name, position, hash::time_text(&Utc::now()), forward],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
