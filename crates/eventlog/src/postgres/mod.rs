//! The PostgreSQL backend, for production and for several service instances on one database.
//!
//! Every process has one writer task. It takes all the appends waiting at that moment and
//! makes them one transaction with one commit, holding the lock on the `log_head` row, so
//! positions and chain links are given at insert, in commit order: in one flight when it knows
//! the versions of the streams involved, else in two. See the crate documentation for what
//! that guarantees and costs.
//!
//! - this module: [`PgStore`], connecting and migrating, and the [`EventStore`] impl, which
//!   hands each call to the part below that serves it;
//! - `writer`: the batching writer task, and its one-flight (`procgate_append`) and two-flight
//!   ways of writing a batch, both planned by the crate's one planner (`plan`);
//! - `listener`: `LISTEN` for other processes' appends, to move the head watch;
//! - `reads`: stream, stream set and log reads, and the chain rows verification checks;
//! - `documents`: checkpoints, and projections' documents written with their checkpoint.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};
use tokio_postgres::NoTls;

use crate::error::{Result, StoreError};
use crate::event::{
    AppendResult, Direction, Filter, RecordedEvent, StreamAppend, StreamName, check_appends,
};
use crate::hash::Hash;
use crate::keys::{DataKey, KeySelector};
use crate::projection::Projection;
use crate::store::{ChainRow, EventStore, Seen, definition_checkpoint};
use crate::tail::Tail;

mod documents;
mod keys;
mod listener;
mod reads;
mod writer;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Changes whenever the PostgreSQL migrations change (it is their text): test database
/// templates are keyed by a hash of it.
pub const MIGRATIONS_FINGERPRINT: &str = concat!(
    include_str!("../../migrations/postgres/V1__event_log.sql"),
    include_str!("../../migrations/postgres/V2__append_function.sql"),
    include_str!("../../migrations/postgres/V3__data_keys.sql"),
);

/// A batch of more events than this (in practice one large append, such as a card statement)
/// is written the two-flight way whatever the writer knows, its rows streamed by binary
/// `COPY` (see the crate documentation). It is well above what the writer gathers from
/// concurrent appends (2,000 events), so that ordinary batches keep the one flight; at this
/// size the copy is already the faster way.
pub const LARGE_BATCH_EVENTS: usize = 5_000;

const MIGRATION_LOCK: i64 = 7_234_990_345_712_094;

/// Runs the migrations (safe to run twice, and from several processes at once).
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let outcome = embedded::migrations::runner()
        .run_async(client)
        .await
        .map(|_| ())
        .map_err(|e| StoreError::Database(format!("migration failed: {e}")));
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    outcome
}

/// Settings for [`PgStore::connect`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool.
    pub pool_size: usize,
    /// Run the migrations when connecting.
    pub migrate: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self { pool_size: 16, migrate: true }
    }
}

/// The event log on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    head: Arc<watch::Sender<u64>>,
    writer: mpsc::UnboundedSender<writer::Request>,
    shutdown: Arc<Notify>,
    /// The latest events, for every follower of the head (see `crate::tail`).
    tail: Tail,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.notify_waiters();
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`), migrates, and starts the writer and the listener.
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?;
        // Statements are prepared once per connection and run for its whole life. PostgreSQL
        // would settle on a generic plan after five runs, planned for the table as it was
        // then: on a young log, a sequential scan or a hash join over `events`, kept while the
        // table grows (until an ANALYZE happens to replan it). Planning every run with the
        // actual parameters keeps the index lookups; it costs a few tens of microseconds.
        let session = format!(
            "{} -c plan_cache_mode=force_custom_plan",
            config.get_options().unwrap_or_default()
        );
        config.options(session.trim_start());
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        if options.migrate {
            let mut client = pool.get().await?;
            migrate(&mut client).await?;
        }
        let head = Arc::new(watch::channel(read_head(&pool).await?).0);
        let (writer, requests) = mpsc::unbounded_channel();
        let shutdown = Arc::new(Notify::new());
        tokio::spawn(writer::write_loop(requests, pool.clone(), head.clone()));
        tokio::spawn(listener::listen_loop(config, Arc::downgrade(&head), shutdown.clone()));
        Ok(Self { inner: Arc::new(Inner { pool, head, writer, shutdown, tail: Tail::default() }) })
    }

    /// The connection pool, for maintenance in the same database.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }
}

async fn read_head(pool: &Pool) -> Result<u64> {
    let client = pool.get().await?;
    let row = client.query_one("SELECT position FROM log_head", &[]).await?;
    Ok(to_u64(row.get(0)))
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn append_streams(&self, appends: Vec<StreamAppend>) -> Result<Vec<AppendResult>> {
        check_appends(&appends)?;
        writer::append(&self.inner.writer, appends).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        reads::read_stream(&self.inner.pool, stream, from_version, direction, max).await
    }

    async fn read_streams(
        &self,
        requests: &[(StreamName, u64)],
    ) -> Result<Vec<Vec<RecordedEvent>>> {
        reads::read_streams(&self.inner.pool, requests).await
    }

    async fn read_all(
        &self,
        after: u64,
        filter: &Filter,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        reads::read_all(&self.inner.pool, after, filter, max).await
    }

    async fn read_following(
        &self,
        after: u64,
        filter: &Filter,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let (pool, all, head) = (&self.inner.pool, Filter::all(), *self.inner.head.borrow());
        let fetch = |after, max| reads::read_all(pool, after, &all, max);
        let table = || reads::read_all(pool, after, filter, max);
        self.inner.tail.follow((head, after), filter, max, fetch, table).await
    }

    async fn head(&self) -> Result<u64> {
        read_head(&self.inner.pool).await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }

    async fn chain_rows(&self, after: u64, max: usize) -> Result<Vec<ChainRow>> {
        reads::chain_rows(&self.inner.pool, after, max).await
    }

    async fn chain_link(&self, position: u64) -> Result<Option<Hash>> {
        reads::chain_link(&self.inner.pool, position).await
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>> {
        documents::checkpoint(&self.inner.pool, name).await
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<()> {
        documents::save_checkpoint(&self.inner.pool, name, position, false).await
    }

    async fn advance_checkpoint(&self, name: &str, position: u64) -> Result<()> {
        documents::save_checkpoint(&self.inner.pool, name, position, true).await
    }

    async fn apply_projection(
        &self,
        projection: &dyn Projection,
        seen: Seen,
        events: &[RecordedEvent],
    ) -> Result<u64> {
        documents::apply_projection(&self.inner.pool, projection, seen, events).await
    }

    async fn reset_projection_for_definition(&self, projection: &dyn Projection) -> Result<bool> {
        let mark = definition_checkpoint(projection.name());
        let pool = &self.inner.pool;
        keys::reset_projection_unless_marked(pool, projection, &mark, 1, projection.version()).await
    }

    async fn reset_projection(&self, projection: &dyn Projection) -> Result<()> {
        documents::reset_projection(&self.inner.pool, projection).await
    }

    async fn document(&self, collection: &str, key: &str) -> Result<Option<Value>> {
        documents::document(&self.inner.pool, collection, key).await
    }

    async fn documents(&self, collection: &str) -> Result<Vec<(String, Value)>> {
        documents::documents(&self.inner.pool, collection).await
    }

    async fn documents_between(
        &self,
        collection: &str,
        first: Option<&str>,
        last: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        documents::documents_between(&self.inner.pool, collection, first, last).await
    }

    async fn documents_at(
        &self,
        collection: &str,
        keys: &[String],
    ) -> Result<Vec<(String, Value)>> {
        documents::documents_at(&self.inner.pool, collection, keys).await
    }

    async fn data_keys(&self, subjects: &[String]) -> Result<Vec<DataKey>> {
        keys::data_keys(&self.inner.pool, subjects).await
    }

    async fn add_data_keys(&self, new: &[DataKey]) -> Result<()> {
        keys::add_data_keys(&self.inner.pool, new).await
    }

    async fn destroy_data_keys(&self, which: &KeySelector, reason: &str) -> Result<Vec<String>> {
        keys::destroy_data_keys(&self.inner.pool, which, reason).await
    }

    async fn destroyed_data_keys(&self, which: &KeySelector) -> Result<Vec<String>> {
        keys::destroyed_data_keys(&self.inner.pool, which).await
    }

    async fn reset_projection_after_erasure(
        &self,
        projection: &dyn Projection,
        position: u64,
    ) -> Result<bool> {
        keys::reset_projection_after_erasure(&self.inner.pool, projection, position).await
    }

    async fn ping(&self) -> Result<()> {
        let client = self.inner.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok(())
    }
}
