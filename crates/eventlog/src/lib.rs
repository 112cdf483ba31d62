//! procgate's event log: the only way its services share facts.
//!
//! One interface, [`EventStore`], over two backends that pass one conformance suite:
//! [`PgStore`] (PostgreSQL, for production and several instances on one database) and
//! [`SqliteStore`] (an embedded file, the zero-set-up default for one process).
//!
//! # Guarantees
//!
//! - **Atomic appends** with an expected version per stream ([`ExpectedVersion`]), to one stream
//!   or several at once; a conflict names the actual version and writes nothing.
//! - **Safe retries**: re-appending events whose ids are stored in that stream returns the
//!   original result; an id stored in another stream is a conflict.
//! - **A global order no reader skips** (see below), dense positions from 1, returned by the
//!   append.
//! - **Live subscriptions** ([`Subscription`]) that catch up and then wait on a watch of the head
//!   (PostgreSQL `LISTEN`/`NOTIFY` across processes, an in-process signal on SQLite), and
//!   **named checkpoints**; projections ([`Projection`]) write their documents and checkpoint in
//!   one transaction.
//! - **Tamper evidence**: a content hash per event and a chain over the global order
//!   ([`hash`]); [`EventStore::verify`] names the first position whose content, order or presence
//!   does not match.
//! - **Metadata** on every event ([`Metadata`]): actor, correlation and causation ids, writing
//!   service, schema version; the store records the time.
//!
//! # Why a reader tailing the log never skips an event
//!
//! On PostgreSQL a position taken from a sequence at insert becomes visible only at commit, so
//! a reader that resumes "after the last position I saw" would skip a row that commits later
//! with a lower number. Here positions are given under one lock (the `FOR UPDATE` lock on the
//! single `log_head` row) that is held until the transaction commits: the next writer gets the
//! lock only after that commit, reads the new head, and numbers its events after it. So events
//! become visible in position order, densely, and a reader that has seen position `p` has seen
//! everything before it. The same lock lets each event's chain link be computed from the
//! previous one at insert (by the writer, or by the database's append function). On SQLite the
//! single write connection does the same.
//!
//! What an append does is decided in one place for both backends, the planner (`plan`). From
//! what the backend knows (where the event ids are stored, the streams' versions and, when it
//! numbers the events itself, the head), it tells whether each request is a conflict, a retry
//! or new events, and gives those their versions, content hashes and, given the head,
//! positions and chain links. A backend only looks things up and writes what was planned.
//!
//! **What it costs, and how it is paid down**: appends to the whole log are serialized on that
//! lock, commit latency included. Each process therefore has one writer task that takes every
//! append waiting at that moment and writes them in one transaction (application-level group
//! commit), in one of two ways:
//!
//! - **One flight**, the usual case. The writer remembers the versions of the streams it
//!   wrote last, plans the batch on them (versions, content hashes) and sends it as one
//!   statement, `SELECT procgate_append(…)`, on its own connection, without waiting for the
//!   batch before it: PostgreSQL runs one connection's statements in order, so the next batch
//!   is already queued when that one commits. The function (a migration) checks that every
//!   continued stream holds the planned version, then takes the head lock, numbers and chains
//!   the events after the head (the same SHA-256 links, computed by the database), inserts
//!   them and moves the head; the lock is held only for that and the commit. Positions come
//!   from the head as it is, so batches of several processes interleave freely. A wrong
//!   version (another process wrote the stream), an event id stored before or an existing
//!   version makes the function write nothing; the batch then runs the other way, and the
//!   streams involved are looked up again.
//! - **Two flights**, when the writer does not know enough: `BEGIN`, the lock and one lookup
//!   of ids and stream versions, pipelined; then one `INSERT … SELECT FROM unnest(…)` and
//!   `COMMIT`, pipelined. The next batch forms while this one commits and queues for the lock,
//!   so the wait overlaps the commit.
//! - **Large batches** (more than [`postgres::LARGE_BATCH_EVENTS`] events: in practice one
//!   large append, such as a card statement's) always go two flights, planned in Rust by the
//!   same planner: the function's per-event loop and the one array message per column do not
//!   scale to a hundred thousand events. The events are hashed while the lock and the lookups
//!   are under way, and the planned rows are streamed in by binary `COPY`; then the head is
//!   moved and the transaction committed. All or nothing, numbered and chained under the lock,
//!   as any batch; the lock is held for the lookups, the plan and the copy (two to three
//!   seconds for a card statement's 120,000 events on the development machine), and other
//!   appends wait for it.
//!
//! Throughput grows with concurrency, as batches fill; a caller waits for at most its batch and
//! the one before it. Requests in a batch are decided independently (one's conflict does not
//! refuse another's), and if one makes the transaction fail, each is retried alone. `NOTIFY`
//! goes out in the batch's own transaction: commits are serialized anyway, so it adds nothing
//! (the usual advice to keep `NOTIFY` out of append transactions is about not serializing
//! commits).
//! Figures against a plain INSERT are in the README (`cargo bench -p eventlog`).

mod batch;
pub mod error;
pub mod event;
pub mod hash;
pub mod keys;
mod plan;
pub mod postgres;
pub mod projection;
pub mod sealed;
pub mod sqlite;
pub mod store;
pub mod subscription;
mod tail;

use std::path::Path;
use std::sync::Arc;

pub use error::{Result, StoreError};
pub use event::{
    Actor, AppendResult, Direction, ExpectedVersion, Filter, Metadata, NewEvent, RecordedEvent,
    StreamAppend, StreamName,
};
pub use keys::{DataKey, KeySelector};
pub use postgres::{PgOptions, PgStore};
pub use projection::{
    DocKey, Docs, Projection, ProjectionHandle, catch_up, rebuild, spawn_projection,
};
pub use sealed::{Mask, MasterKey, SealRule, SealedStore, Sealing, Subject};
pub use sqlite::SqliteStore;
pub use store::{ChainRow, EventStore, Seen, Verification};
pub use subscription::Subscription;

/// The embedded store's file in its data directory.
pub const EMBEDDED_FILE: &str = "events.sqlite3";

/// A shared handle to whichever store is configured.
pub type Store = Arc<dyn EventStore>;

/// Opens the configured store: PostgreSQL when `database_url` is given, else the embedded
/// SQLite file [`EMBEDDED_FILE`] (`events.sqlite3`) in `data_dir`.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Store> {
    match database_url {
        Some(url) => Ok(Arc::new(PgStore::connect(url, PgOptions::default()).await?)),
        None => Ok(Arc::new(SqliteStore::open(data_dir.join(EMBEDDED_FILE)).await?)),
    }
}
