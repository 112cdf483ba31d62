//! The PostgreSQL backend, for production and for several service instances on one database.
//!
//! Every process has one writer task. It takes all the appends waiting at that moment and
//! makes them one transaction with one commit, holding the lock on the `log_head` row, so
//! positions and chain links are given at insert, in commit order: in one flight when it knows
//! the head and the streams, else in two. See the crate documentation for what that
//! guarantees and costs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{AsyncMessage, NoTls, Row};
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::event::{
    AppendResult, Direction, ExpectedVersion, Filter, Metadata, RecordedEvent, StreamAppend,
    StreamName, check_appends, now_micros,
};
use crate::hash::{self, GENESIS, Hash};
use crate::projection::{DocKey, Docs, Projection, apply_batch, batch_keys};
use crate::store::{ChainRow, EventStore};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Changes whenever the PostgreSQL migrations change (it is their text): test database
/// templates are keyed by a hash of it.
pub const MIGRATIONS_FINGERPRINT: &str = include_str!("../migrations/postgres/V1__event_log.sql");

const NOTIFY_CHANNEL: &str = "procgate_events";
const MIGRATION_LOCK: i64 = 7_234_990_345_712_094;
/// The most events one batch transaction carries.
const MAX_BATCH_EVENTS: usize = 2000;

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
    writer: mpsc::UnboundedSender<Request>,
    shutdown: Arc<Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.notify_waiters();
    }
}

/// One caller's append, waiting for the writer task.
#[derive(Debug)]
struct Request {
    appends: Vec<StreamAppend>,
    reply: oneshot::Sender<Result<Vec<AppendResult>>>,
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
        tokio::spawn(write_loop(requests, pool.clone(), head.clone()));
        tokio::spawn(listen_loop(config, Arc::downgrade(&head), shutdown.clone()));
        Ok(Self { inner: Arc::new(Inner { pool, head, writer, shutdown }) })
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

fn raise_head(head: &watch::Sender<u64>, to: u64) {
    head.send_if_modified(|h| {
        let moved = to > *h;
        *h = (*h).max(to);
        moved
    });
}

/// Fast batches in flight at once on the writer's connection: one executing, one queued
/// behind it in PostgreSQL, while the next one forms.
const PIPELINE_DEPTH: usize = 2;
/// The longest pause of one-flight batches after refusals, in batches.
const MAX_PAUSE: u32 = 64;
/// The most stream versions the writer remembers (forgotten all at once past this).
const MAX_REMEMBERED_STREAMS: usize = 100_000;

/// What the writer task shares with the batches it started.
struct Writer {
    pool: Pool,
    head: Arc<watch::Sender<u64>>,
    /// Held by a two-flight batch until it has the head lock and has planned.
    slot: Arc<Semaphore>,
    tip: Mutex<Tip>,
    /// Notified when the last running two-flight batch finishes.
    settled: Notify,
}

/// What this process believes the log looks like once everything it has sent commits: the
/// head and the versions of the streams it has written or looked up. Only a belief: another
/// process may have appended since. A batch planned on it is guarded in SQL (see
/// [`FAST_SQL`]), so a wrong belief costs a retry, never a wrong write.
#[derive(Default)]
struct Tip {
    /// `None` while unknown: at start, after a fast batch failed, while two-flight batches run.
    head: Option<(u64, Hash)>,
    versions: HashMap<String, u64>,
    /// Bumped whenever `head` is replaced or dropped; a failed fast batch drops only the head
    /// of its own epoch.
    epoch: u64,
    /// Two-flight batches running, and the highest head they committed.
    slow: usize,
    settled: Option<(u64, Hash)>,
    /// Batches to send the two-flight way before trying one flight again, after refusals
    /// (another process appending, typically); `penalty` doubles with each refusal in a row.
    paused: u32,
    penalty: u32,
}

impl Tip {
    fn remember(&mut self, versions: HashMap<String, u64>) {
        if self.versions.len() + versions.len() > MAX_REMEMBERED_STREAMS {
            self.versions.clear();
        }
        self.versions.extend(versions);
    }

    fn forget_head(&mut self) {
        self.head = None;
        self.epoch += 1;
    }
}

/// The writer task. Each batch is the appends waiting at that moment, written in one
/// transaction that holds the head-row lock to commit. A batch goes one of two ways:
///
/// - **one flight** (the usual case): when this process knows the head and the versions of
///   the streams involved (it wrote them last), the batch is planned in memory and sent as one
///   autocommit statement ([`FAST_SQL`]) on the writer's own connection, without waiting for
///   the batch before it: statements on one connection run in order, so the next batch, planned
///   on the head this one will leave, queues behind it inside PostgreSQL. The statement takes
///   the head lock only if the head is where the plan says, and the unique keys on positions,
///   event ids and stream versions refuse anything stale; a batch refused either way is run
///   again the other way.
/// - **two flights** ([`append_batch`]): lock and look up the ids and versions, then insert and
///   commit. It holds the writer's slot until it has planned, so the next batch forms
///   meanwhile and its lock wait overlaps this commit.
///
/// It ends when the store is dropped.
async fn write_loop(
    mut requests: mpsc::UnboundedReceiver<Request>,
    pool: Pool,
    head: Arc<watch::Sender<u64>>,
) {
    let writer = Arc::new(Writer {
        pool,
        head,
        slot: Arc::new(Semaphore::new(1)),
        tip: Mutex::new(Tip::default()),
        settled: Notify::new(),
    });
    let lanes = Arc::new(Semaphore::new(PIPELINE_DEPTH));
    let mut connection: Option<FastConnection> = None;
    while let Some(first) = requests.recv().await {
        let Ok(lane) = lanes.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        gather(&mut batch, &mut requests);
        let mut fast = writer.plan_fast(&batch);
        if matches!(fast, Fast::Settling) {
            writer.settled().await;
            gather(&mut batch, &mut requests);
            fast = writer.plan_fast(&batch);
        }
        if let Fast::Ready(fast) = fast {
            let head = *writer.head.borrow();
            match ready_connection(&writer.pool, &mut connection, head).await {
                Ok(c) => {
                    send_fast(&writer, c.client.clone(), c.statement.clone(), batch, fast, lane)
                        .await;
                    continue;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no connection for a one-flight batch");
                    writer.tip.lock().unwrap_or_else(|p| p.into_inner()).forget_head();
                }
            }
        }
        drop(lane);
        writer.begin_slow();
        let Ok(permit) = writer.slot.clone().acquire_owned().await else { return };
        gather(&mut batch, &mut requests);
        let writer = writer.clone();
        tokio::spawn(async move { writer.run_slow(batch, permit).await });
    }
}

/// Adds the requests waiting now to `batch`, up to [`MAX_BATCH_EVENTS`].
fn gather(batch: &mut Vec<Request>, requests: &mut mpsc::UnboundedReceiver<Request>) {
    let count = |r: &Request| r.appends.iter().map(|a| a.events.len()).sum::<usize>();
    let mut events = batch.iter().map(count).sum::<usize>();
    while events < MAX_BATCH_EVENTS {
        let Ok(next) = requests.try_recv() else { break };
        events += count(&next);
        batch.push(next);
    }
}

/// The writer's own connection, with the one-flight statement prepared on it.
///
/// Unlike the pool's connections (see [`PgStore::connect`]), it keeps PostgreSQL's plan cache,
/// so that a batch is not planned again on the critical path. The plan is made for the table
/// as it is, so the statement is prepared again whenever the log has doubled since.
struct FastConnection {
    client: Arc<deadpool_postgres::Object>,
    statement: tokio_postgres::Statement,
    replan_at: u64,
}

/// The log's size at which the one-flight statement is first prepared again.
const FIRST_REPLAN: u64 = 1024;

/// The writer's connection, replaced when it broke, its statement prepared again when due.
async fn ready_connection<'c>(
    pool: &Pool,
    connection: &'c mut Option<FastConnection>,
    head: u64,
) -> Result<&'c FastConnection> {
    let replan_at = (2 * head).max(FIRST_REPLAN);
    match connection {
        Some(c) if !c.client.is_closed() && head < c.replan_at => {}
        Some(c) if !c.client.is_closed() => {
            c.statement = c.client.prepare(FAST_SQL).await?;
            c.replan_at = replan_at;
        }
        _ => {
            let client = pool.get().await?;
            client.batch_execute("SET plan_cache_mode = auto").await?;
            let statement = client.prepare(FAST_SQL).await?;
            *connection = Some(FastConnection { client: Arc::new(client), statement, replan_at });
        }
    }
    Ok(connection.as_ref().expect("set above"))
}

/// Sends a planned batch as one statement, and spawns the wait for its outcome. The first poll
/// of the query writes it to the connection, so batches reach PostgreSQL in the order they
/// were planned.
async fn send_fast(
    writer: &Arc<Writer>,
    client: Arc<deadpool_postgres::Object>,
    statement: tokio_postgres::Statement,
    batch: Vec<Request>,
    fast: Box<FastPlan>,
    lane: OwnedSemaphorePermit,
) {
    let FastPlan { plan, from, epoch } = *fast;
    let Plan { rows, outcomes, head: (position, link), recorded_at, .. } = plan;
    let mut query = Box::pin(async move {
        run_fast(&client, &statement, &rows, recorded_at, (position, link), from).await
    });
    let sent = futures::poll!(query.as_mut());
    let writer = writer.clone();
    tokio::spawn(async move {
        let outcome = match sent {
            std::task::Poll::Ready(outcome) => outcome,
            std::task::Poll::Pending => query.await,
        };
        drop(lane);
        match outcome {
            Ok(rows) if rows.len() == 1 => {
                writer.tip.lock().unwrap_or_else(|p| p.into_inner()).penalty = 0;
                raise_head(&writer.head, position);
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            refused => {
                if let Err(e) = refused {
                    tracing::debug!(error = %e, "a one-flight batch was refused; running it again");
                }
                {
                    let mut tip = writer.tip.lock().unwrap_or_else(|p| p.into_inner());
                    if tip.epoch == epoch {
                        tip.forget_head();
                        tip.penalty = (tip.penalty * 2).clamp(1, MAX_PAUSE);
                        tip.paused = tip.penalty;
                    }
                }
                writer.begin_slow();
                let Ok(permit) = writer.slot.clone().acquire_owned().await else { return };
                writer.run_slow(batch, permit).await;
            }
        }
    });
}

/// Whether a batch can go in one flight.
enum Fast {
    Ready(Box<FastPlan>),
    /// Perhaps, once the two-flight batches running now have committed.
    Settling,
    No,
}

/// Runs [`FAST_SQL`]: one row when the batch was written, none when a guard refused it.
async fn run_fast(
    client: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    r: &Rows,
    recorded_at: DateTime<Utc>,
    (position, link): (u64, Hash),
    (from, from_link): (u64, Hash),
) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
    let (position, chain, from) = (to_i64(position), link.to_vec(), to_i64(from));
    let from_link = from_link.to_vec();
    let (continued, continued_from) = r.continued();
    let mut params = r.columns().to_vec();
    params.extend([
        &recorded_at as &(dyn ToSql + Sync),
        &position,
        &chain,
        &from,
        &from_link,
        &continued,
        &continued_from,
    ]);
    client.query(statement, &params).await
}

/// A batch planned on the [`Tip`]: `from` is the head it expects, `epoch` the tip's.
struct FastPlan {
    plan: Plan,
    from: (u64, Hash),
    epoch: u64,
}

impl Writer {
    /// Plans the batch on what this process believes, when it believes enough: the head, and
    /// each stream's version (a stream it has not seen counts as new when the append expects
    /// no stream). [`Fast::No`] when the batch must look things up (or would be refused, or is
    /// a retry: the two-flight path decides those against the stored state), or while one-flight
    /// batches are paused after refusals; [`Fast::Settling`] while two-flight batches run.
    fn plan_fast(&self, batch: &[Request]) -> Fast {
        let mut versions = HashMap::new();
        let (head, epoch) = {
            let mut tip = self.tip.lock().unwrap_or_else(|p| p.into_inner());
            if tip.paused > 0 {
                tip.paused -= 1;
                return Fast::No;
            }
            for append in batch.iter().flat_map(|r| &r.appends) {
                let stream = append.stream.as_str();
                if versions.contains_key(stream) {
                    continue;
                }
                let version = match tip.versions.get(stream) {
                    Some(v) => *v,
                    None if matches!(
                        append.expected,
                        ExpectedVersion::NoStream | ExpectedVersion::Exact(0)
                    ) =>
                    {
                        0
                    }
                    None => return Fast::No,
                };
                versions.insert(stream.to_owned(), version);
            }
            if tip.slow > 0 {
                return Fast::Settling;
            }
            let Some(head) = tip.head else { return Fast::No };
            (head, tip.epoch)
        };
        let requests: Vec<&[StreamAppend]> = batch.iter().map(|r| r.appends.as_slice()).collect();
        let plan = Plan::new(&requests, head, HashMap::new(), versions);
        let plain = |o: &Result<Vec<AppendResult>>| {
            o.as_ref().is_ok_and(|results| !results.iter().any(|r| r.already_stored))
        };
        if plan.rows.positions.is_empty() || !plan.outcomes.iter().all(plain) {
            return Fast::No;
        }
        let mut tip = self.tip.lock().unwrap_or_else(|p| p.into_inner());
        if tip.epoch != epoch || tip.slow > 0 {
            return Fast::No;
        }
        tip.head = Some(plan.head);
        tip.remember(plan.versions.clone());
        Fast::Ready(Box::new(FastPlan { plan, from: head, epoch }))
    }

    /// Waits until no two-flight batch runs (at most their commit).
    async fn settled(&self) {
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.tip.lock().unwrap_or_else(|p| p.into_inner()).slow == 0 {
                return;
            }
            notified.await;
        }
    }

    /// A two-flight batch is about to run: until every such batch has finished, the head is
    /// not known here.
    fn begin_slow(&self) {
        let mut tip = self.tip.lock().unwrap_or_else(|p| p.into_inner());
        tip.slow += 1;
        tip.forget_head();
    }

    /// Runs a batch the two-flight way, then learns the head it left.
    async fn run_slow(&self, batch: Vec<Request>, permit: OwnedSemaphorePermit) {
        let settled = run_requests(&self.pool, &self.head, batch, permit).await;
        let mut tip = self.tip.lock().unwrap_or_else(|p| p.into_inner());
        tip.slow -= 1;
        if let Some((head, versions)) = settled {
            tip.remember(versions);
            if tip.settled.is_none_or(|s| s.0 < head.0) {
                tip.settled = Some(head);
            }
        }
        if tip.slow == 0 {
            tip.head = tip.settled.take();
            tip.epoch += 1;
            self.settled.notify_waiters();
        }
    }
}

/// Appends a batch of requests the two-flight way and answers each. Returns the head and the
/// stream versions the batch's transaction left, when it committed as one.
async fn run_requests(
    pool: &Pool,
    head: &watch::Sender<u64>,
    batch: Vec<Request>,
    slot: OwnedSemaphorePermit,
) -> Option<((u64, Hash), HashMap<String, u64>)> {
    let appends: Vec<&[StreamAppend]> = batch.iter().map(|r| r.appends.as_slice()).collect();
    let (outcomes, settled) = match append_batch(pool, &appends, Some(slot)).await {
        Ok(plan) => (plan.outcomes, Some((plan.head, plan.versions))),
        // Something in one request broke the whole transaction: run each on its own, so that
        // only that one fails.
        Err(_) if batch.len() > 1 => {
            let mut outcomes = Vec::with_capacity(batch.len());
            for appends in &appends {
                outcomes.push(match append_batch(pool, &[appends], None).await {
                    Ok(mut one) => one.outcomes.remove(0),
                    Err(e) => Err(e),
                });
            }
            (outcomes, None)
        }
        Err(e) => (vec![Err(e)], None),
    };
    let top = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok())
        .flat_map(|results| results.iter().map(AppendResult::last_position))
        .max();
    if let Some(top) = top {
        raise_head(head, top);
    }
    for (request, outcome) in batch.into_iter().zip(outcomes) {
        // The caller may have gone; its events are stored all the same (a retry is safe).
        let _ = request.reply.send(outcome);
    }
    settled
}

/// Where an event id already is: stored, or appended earlier in the same batch.
#[derive(Debug, Clone)]
struct Placed {
    stream: String,
    version: u64,
    position: u64,
}

/// The rows a batch inserts, as the parallel arrays `unnest` takes.
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    ids: Vec<Uuid>,
    streams: Vec<String>,
    categories: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    data: Vec<Value>,
    metadata: Vec<Json<Metadata>>,
    hashes: Vec<Vec<u8>>,
    links: Vec<Vec<u8>>,
}

const HEAD_SQL: &str = "SELECT position, chain FROM log_head FOR UPDATE";
const KNOWN_SQL: &str = "SELECT e.event_id, e.stream, e.version, e.position FROM events e \
     WHERE e.event_id = ANY($1) \
     UNION ALL \
     SELECT NULL, s, (SELECT coalesce(max(version), 0) FROM events WHERE stream = s), NULL \
     FROM unnest($2::text[]) AS s";
/// The insert both ways share.
macro_rules! insert_rows {
    () => {
        "INSERT INTO events (position, event_id, stream, category, version, \
                                  event_type, data, metadata, recorded_at, hash, chain) \
       SELECT p, i, s, c, v, t, d, m, $11, h, l \
       FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[], \
                   $7::jsonb[], $8::jsonb[], $9::bytea[], $10::bytea[]) \
            AS r(p, i, s, c, v, t, d, m, h, l)"
    };
}
const INSERT_SQL: &str = concat!(
    "WITH appended AS (",
    insert_rows!(),
    "), moved AS (UPDATE log_head SET position = $12, chain = $13) \
     SELECT pg_notify('procgate_events', $12::text)"
);
/// A whole batch in one autocommit statement, planned on what this process believes and
/// guarded so that it writes all of it only if the belief holds, else nothing:
///
/// - the head must be at position `$14` with the chain link `$15` (the link, not the position
///   alone: another process may have moved the head to the very position a refused batch of
///   ours meant to reach, and the batch planned on top of that one must be refused too);
/// - each stream the batch continues must hold the version it continues from (`$16`, `$17`),
///   while the unique key on stream versions refuses a version that exists already: together,
///   the stream is at exactly that version;
/// - the unique keys on positions and event ids refuse a position or an id stored before.
///
/// The head guards sit in the `UPDATE` of the head row, which takes the head lock (held to
/// commit) before anything is inserted. A guard that fails makes the statement return no row
/// and write nothing; a key that refuses fails the statement.
const FAST_SQL: &str = concat!(
    "WITH moved AS ( \
       UPDATE log_head SET position = $12, chain = $13 \
       WHERE position = $14 AND chain = $15 \
         AND NOT EXISTS (SELECT 1 FROM unnest($16::text[], $17::bigint[]) AS b(s, v) \
                         WHERE NOT EXISTS (SELECT 1 FROM events e \
                                           WHERE e.stream = b.s AND e.version = b.v)) \
       RETURNING position), \
     appended AS (",
    insert_rows!(),
    " WHERE EXISTS (SELECT 1 FROM moved)) \
     SELECT pg_notify('procgate_events', $12::text) FROM moved"
);

/// Runs one batch transaction the two-flight way: its plan, with one outcome per request.
///
/// The `FOR UPDATE` on the head row is the global writer lock: it is held until commit, and
/// it waits for the previous holder's commit and then reads its head, so positions are given
/// in commit order. Each request is decided in memory against the stored versions and ids
/// (and what earlier requests of the batch appended), then everything is inserted at once.
/// Two round trips: `BEGIN`, the lock and the lookups pipelined; then the insert and `COMMIT`.
async fn append_batch(
    pool: &Pool,
    requests: &[&[StreamAppend]],
    slot: Option<OwnedSemaphorePermit>,
) -> Result<Plan> {
    let client = pool.get().await?;
    let (head_sql, known_sql, insert_sql) = futures::future::try_join3(
        client.prepare_cached(HEAD_SQL),
        client.prepare_cached(KNOWN_SQL),
        client.prepare_cached(INSERT_SQL),
    )
    .await?;
    let ids: Vec<Uuid> = requests
        .iter()
        .flat_map(|r| r.iter().flat_map(|a| a.events.iter().map(|e| e.id)))
        .collect();
    let streams: Vec<&str> =
        requests.iter().flat_map(|r| r.iter().map(|a| a.stream.as_str())).collect();
    let run = async {
        let (_, head, known) = futures::future::try_join3(
            client.batch_execute("BEGIN"),
            client.query_one(&head_sql, &[]),
            client.query(&known_sql, &[&ids, &streams]),
        )
        .await?;
        let head = (to_u64(head.get(0)), hash::to_hash(&head.get::<_, Vec<u8>>(1)));
        let (placed, versions) = known_maps(&known);
        let plan = Plan::new(requests, head, placed, versions);
        drop(slot);
        if plan.rows.positions.is_empty() {
            client.batch_execute("COMMIT").await?;
        } else {
            let r = &plan.rows;
            let (position, chain) = (to_i64(plan.head.0), plan.head.1.to_vec());
            let mut params = r.columns().to_vec();
            params.extend([&plan.recorded_at as &(dyn ToSql + Sync), &position, &chain]);
            futures::future::try_join(
                client.query(&insert_sql, &params),
                client.batch_execute("COMMIT"),
            )
            .await?;
        }
        Ok::<_, StoreError>(plan)
    };
    let outcome = run.await;
    if outcome.is_err() {
        // Leave the pooled connection outside any transaction.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    outcome
}

/// The rows of `KNOWN_SQL`: where the batch's ids are stored, and its streams' versions.
fn known_maps(known: &[Row]) -> (HashMap<Uuid, Placed>, HashMap<String, u64>) {
    let mut placed = HashMap::new();
    let mut versions = HashMap::new();
    for row in known {
        let stream: String = row.get(1);
        match row.get::<_, Option<Uuid>>(0) {
            Some(id) => {
                let (version, position) = (to_u64(row.get(2)), to_u64(row.get(3)));
                placed.insert(id, Placed { stream, version, position });
            }
            None => {
                versions.insert(stream, to_u64(row.get(2)));
            }
        }
    }
    (placed, versions)
}

/// A batch decided in memory: the rows to insert, each request's outcome, the new head and
/// the versions of the batch's streams after it.
struct Plan {
    rows: Rows,
    outcomes: Vec<Result<Vec<AppendResult>>>,
    head: (u64, Hash),
    versions: HashMap<String, u64>,
    recorded_at: DateTime<Utc>,
}

impl Plan {
    /// `placed` and `versions`: where the batch's ids are stored, and its streams' versions.
    fn new(
        requests: &[&[StreamAppend]],
        head: (u64, Hash),
        mut placed: HashMap<Uuid, Placed>,
        mut versions: HashMap<String, u64>,
    ) -> Self {
        let recorded_at = now_micros();
        let (mut position, mut link) = head;
        let mut rows = Rows::default();
        let mut outcomes = Vec::with_capacity(requests.len());
        for appends in requests {
            let mut outcome = decide(appends, &placed, &versions);
            if let Ok(results) = &mut outcome
                && !results.iter().any(|r| r.already_stored)
            {
                for (append, result) in appends.iter().zip(results.iter_mut()) {
                    let mut version = versions.get(append.stream.as_str()).copied().unwrap_or(0);
                    for event in &append.events {
                        position += 1;
                        version += 1;
                        let content = hash::content_hash(
                            &event.id,
                            append.stream.as_str(),
                            &event.event_type,
                            &recorded_at,
                            &event.data,
                            &event.metadata,
                        );
                        link = hash::chain_link(&link, position, version, &content);
                        rows.push(position, append, event, version, &content, &link);
                        result.positions.push(position);
                        placed.insert(
                            event.id,
                            Placed { stream: append.stream.to_string(), version, position },
                        );
                    }
                    result.stream_version = version;
                    versions.insert(append.stream.to_string(), version);
                }
            }
            outcomes.push(outcome);
        }
        Self { rows, outcomes, head: (position, link), versions, recorded_at }
    }
}

impl Rows {
    /// The ten arrays, as the statements' first ten parameters.
    fn columns(&self) -> [&(dyn ToSql + Sync); 10] {
        [
            &self.positions,
            &self.ids,
            &self.streams,
            &self.categories,
            &self.versions,
            &self.types,
            &self.data,
            &self.metadata,
            &self.hashes,
            &self.links,
        ]
    }

    /// The streams the rows continue (rather than start), and the version each continues from.
    fn continued(&self) -> (Vec<&str>, Vec<i64>) {
        let mut first: HashMap<&str, i64> = HashMap::new();
        for (stream, version) in self.streams.iter().zip(&self.versions) {
            let v = first.entry(stream.as_str()).or_insert(*version);
            *v = (*v).min(*version);
        }
        first.into_iter().filter(|(_, v)| *v > 1).map(|(s, v)| (s, v - 1)).unzip()
    }

    fn push(
        &mut self,
        position: u64,
        append: &StreamAppend,
        event: &crate::event::NewEvent,
        version: u64,
        content: &Hash,
        link: &Hash,
    ) {
        self.positions.push(to_i64(position));
        self.ids.push(event.id);
        self.streams.push(append.stream.as_str().to_owned());
        self.categories.push(append.stream.category().to_owned());
        self.versions.push(to_i64(version));
        self.types.push(event.event_type.clone());
        self.data.push(event.data.clone());
        self.metadata.push(Json(event.metadata.clone()));
        self.hashes.push(content.to_vec());
        self.links.push(link.to_vec());
    }
}

/// What one request would do, before anything of it is written: a conflict, a retry of events
/// already placed, or empty results to fill in.
fn decide(
    appends: &[StreamAppend],
    placed: &HashMap<Uuid, Placed>,
    versions: &HashMap<String, u64>,
) -> Result<Vec<AppendResult>> {
    let events = || appends.iter().flat_map(|a| a.events.iter().map(move |e| (a, e)));
    let mut stored = 0;
    for (append, event) in events() {
        if let Some(p) = placed.get(&event.id) {
            if p.stream != append.stream.as_str() {
                return Err(StoreError::DuplicateEventId {
                    event_id: event.id,
                    stored_in: p.stream.clone(),
                    sent_to: append.stream.to_string(),
                });
            }
            stored += 1;
        }
    }
    let fresh = |already_stored| {
        appends
            .iter()
            .map(|a| AppendResult {
                stream: a.stream.clone(),
                stream_version: 0,
                positions: Vec::with_capacity(a.events.len()),
                already_stored,
            })
            .collect::<Vec<_>>()
    };
    if stored > 0 {
        if stored < events().count() {
            let (_, event) = events()
                .find(|(_, e)| placed.contains_key(&e.id))
                .unwrap_or_else(|| events().next().unwrap_or((&appends[0], &appends[0].events[0])));
            return Err(StoreError::PartlyStored { event_id: event.id });
        }
        let mut results = fresh(true);
        for (result, append) in results.iter_mut().zip(appends) {
            for event in &append.events {
                let p = &placed[&event.id];
                result.positions.push(p.position);
                result.stream_version = result.stream_version.max(p.version);
            }
        }
        return Ok(results);
    }
    for append in appends {
        let current = versions.get(append.stream.as_str()).copied().unwrap_or(0);
        if !append.expected.accepts(current) {
            return Err(StoreError::WrongExpectedVersion {
                stream: append.stream.clone(),
                expected: append.expected,
                actual: current,
            });
        }
    }
    Ok(fresh(false))
}

/// Listens for other processes' appends and moves the head watch. Reconnects with backoff.
async fn listen_loop(
    config: tokio_postgres::Config,
    head: Weak<watch::Sender<u64>>,
    shutdown: Arc<Notify>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        tokio::select! {
            outcome = listen(&config, &head) => match outcome {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "event listener disconnected; reconnecting"),
            },
            () = shutdown.notified() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.notified() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn listen(config: &tokio_postgres::Config, head: &Weak<watch::Sender<u64>>) -> Result<()> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.unbounded_send(n.payload().parse::<u64>().unwrap_or(0)).is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(StoreError::from(e)),
            }
        }
        Err(StoreError::Unavailable("listener connection closed".into()))
    });
    client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")).await?;
    // Anything appended while nobody was listening.
    let now = client.query_one("SELECT position FROM log_head", &[]).await?;
    match head.upgrade() {
        Some(head) => raise_head(&head, to_u64(now.get(0))),
        None => return Ok(()),
    }
    while let Some(position) = rx.next().await {
        match head.upgrade() {
            Some(head) => raise_head(&head, position),
            None => return Ok(()),
        }
    }
    drop(client);
    match driver.await {
        Ok(Err(e)) => Err(e),
        _ => Err(StoreError::Unavailable("listener connection closed".into())),
    }
}

const EVENT_COLUMNS: &str =
    "position, event_id, stream, version, event_type, data, metadata, recorded_at, hash";

fn decode_event(row: &Row) -> Result<RecordedEvent> {
    let Json(metadata): Json<Metadata> = row.try_get(6)?;
    let hash: Vec<u8> = row.try_get(8)?;
    Ok(RecordedEvent {
        position: to_u64(row.try_get(0)?),
        id: row.try_get(1)?,
        stream: row.try_get(2)?,
        version: to_u64(row.try_get(3)?),
        event_type: row.try_get(4)?,
        data: row.try_get(5)?,
        metadata,
        recorded_at: row.try_get::<_, DateTime<Utc>>(7)?,
        hash: hex::encode(hash),
    })
}

fn decode_all(rows: &[Row]) -> Result<Vec<RecordedEvent>> {
    rows.iter().map(decode_event).collect()
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl EventStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn append_streams(&self, appends: Vec<StreamAppend>) -> Result<Vec<AppendResult>> {
        check_appends(&appends)?;
        let (reply, outcome) = oneshot::channel();
        self.inner
            .writer
            .send(Request { appends, reply })
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        outcome.await.map_err(|_| StoreError::Unavailable("the writer stopped".into()))?
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        direction: Direction,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let sql = match direction {
            Direction::Forwards => format!(
                "SELECT {EVENT_COLUMNS} FROM events \
                 WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3"
            ),
            Direction::Backwards => format!(
                "SELECT {EVENT_COLUMNS} FROM events \
                 WHERE stream = $1 AND version <= $2 ORDER BY version DESC LIMIT $3"
            ),
        };
        let client = self.inner.pool.get().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let rows =
            client.query(&stmt, &[&stream.as_str(), &to_i64(from_version), &limit(max)]).await?;
        decode_all(&rows)
    }

    async fn read_streams(
        &self,
        requests: &[(StreamName, u64)],
    ) -> Result<Vec<Vec<RecordedEvent>>> {
        let names: Vec<&str> = requests.iter().map(|(s, _)| s.as_str()).collect();
        let from: Vec<i64> = requests.iter().map(|(_, v)| to_i64(*v)).collect();
        let client = self.inner.pool.get().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS}, r.i FROM unnest($1::text[], $2::bigint[]) \
                 WITH ORDINALITY AS r(name, from_version, i) \
                 JOIN events ON stream = r.name AND version >= r.from_version \
                 ORDER BY r.i, version"
            ))
            .await?;
        let rows = client.query(&stmt, &[&names, &from]).await?;
        let mut out = vec![Vec::new(); requests.len()];
        for row in &rows {
            let i = usize::try_from(row.get::<_, i64>(9) - 1).unwrap_or(0);
            out[i].push(decode_event(row)?);
        }
        Ok(out)
    }

    async fn read_all(
        &self,
        after: u64,
        filter: &Filter,
        max: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE position > $1");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(4);
        let after = to_i64(after);
        let max = limit(max);
        params.push(&after);
        if !filter.categories.is_empty() {
            params.push(&filter.categories);
            sql.push_str(&format!(" AND category = ANY(${})", params.len()));
        }
        if !filter.event_types.is_empty() {
            params.push(&filter.event_types);
            sql.push_str(&format!(" AND event_type = ANY(${})", params.len()));
        }
        params.push(&max);
        sql.push_str(&format!(" ORDER BY position LIMIT ${}", params.len()));
        let client = self.inner.pool.get().await?;
        let stmt = client.prepare_cached(&sql).await?;
        let rows = client.query(&stmt, &params).await?;
        decode_all(&rows)
    }

    async fn head(&self) -> Result<u64> {
        read_head(&self.inner.pool).await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }

    async fn chain_rows(&self, after: u64, max: usize) -> Result<Vec<ChainRow>> {
        let client = self.inner.pool.get().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS}, chain FROM events WHERE position > $1 \
                 ORDER BY position LIMIT $2"
            ))
            .await?;
        let rows = client.query(&stmt, &[&to_i64(after), &limit(max)]).await?;
        rows.iter()
            .map(|row| {
                Ok(ChainRow {
                    position: to_u64(row.try_get(0)?),
                    link: hash::to_hash(&row.try_get::<_, Vec<u8>>(9)?),
                    stored_hash: hash::to_hash(&row.try_get::<_, Vec<u8>>(8)?),
                    // A row that no longer decodes counts as changed content.
                    event: decode_event(row).ok(),
                })
            })
            .collect()
    }

    async fn chain_link(&self, position: u64) -> Result<Option<Hash>> {
        if position == 0 {
            return Ok(Some(GENESIS));
        }
        let client = self.inner.pool.get().await?;
        let row = client
            .query_opt("SELECT chain FROM events WHERE position = $1", &[&to_i64(position)])
            .await?;
        Ok(row.map(|r| hash::to_hash(&r.get::<_, Vec<u8>>(0))))
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>> {
        let client = self.inner.pool.get().await?;
        let row =
            client.query_opt("SELECT position FROM checkpoints WHERE name = $1", &[&name]).await?;
        Ok(row.map(|r| to_u64(r.get(0))))
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<()> {
        let client = self.inner.pool.get().await?;
        client
            .execute(
                "INSERT INTO checkpoints (name, position) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
                &[&name, &to_i64(position)],
            )
            .await?;
        Ok(())
    }

    async fn apply_projection(
        &self,
        projection: &dyn Projection,
        events: &[RecordedEvent],
    ) -> Result<u64> {
        let Some(last) = events.last() else {
            return Ok(self.checkpoint(projection.name()).await?.unwrap_or(0));
        };
        let name = projection.name();
        let mut client = self.inner.pool.get().await?;
        let tx = client.transaction().await?;
        // Read models are derived: a crash may lose their last commits, but documents and
        // checkpoint together, so they are re-applied from the log. No need to wait for the
        // disk, which would double the fsyncs of every append that a projection follows.
        tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
        tx.execute(
            "INSERT INTO checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
            &[&name],
        )
        .await?;
        let checkpoint: i64 = tx
            .query_one("SELECT position FROM checkpoints WHERE name = $1 FOR UPDATE", &[&name])
            .await?
            .get(0);
        let checkpoint = to_u64(checkpoint);
        if last.position <= checkpoint {
            return Ok(checkpoint);
        }
        let (todo, keys) = batch_keys(projection, events, checkpoint);
        let collections: Vec<&str> = keys.iter().map(|k| k.collection.as_str()).collect();
        let doc_keys: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
        let found = tx
            .query(
                "SELECT d.collection, d.key, d.doc FROM documents d \
                 JOIN unnest($1::text[], $2::text[]) AS k(c, k) ON d.collection = k.c AND d.key = k.k",
                &[&collections, &doc_keys],
            )
            .await?;
        let mut fetched: HashMap<DocKey, Option<Value>> =
            keys.iter().map(|k| (k.clone(), None)).collect();
        for row in found {
            fetched.insert(
                DocKey::new(row.get::<_, String>(0), row.get::<_, String>(1)),
                Some(row.get(2)),
            );
        }
        let changes = apply_batch(projection, &todo, Docs::fetched(fetched))?;
        let (mut put_c, mut put_k, mut put_v, mut del_c, mut del_k) =
            (vec![], vec![], vec![], vec![], vec![]);
        for (key, value) in &changes {
            match value {
                Some(v) => {
                    put_c.push(key.collection.as_str());
                    put_k.push(key.key.as_str());
                    put_v.push(v);
                }
                None => {
                    del_c.push(key.collection.as_str());
                    del_k.push(key.key.as_str());
                }
            }
        }
        if !put_c.is_empty() {
            tx.execute(
                "INSERT INTO documents (collection, key, doc) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[]) \
                 ON CONFLICT (collection, key) DO UPDATE SET doc = EXCLUDED.doc",
                &[&put_c, &put_k, &put_v],
            )
            .await?;
        }
        if !del_c.is_empty() {
            tx.execute(
                "DELETE FROM documents d USING unnest($1::text[], $2::text[]) AS k(c, k) \
                 WHERE d.collection = k.c AND d.key = k.k",
                &[&del_c, &del_k],
            )
            .await?;
        }
        tx.execute(
            "UPDATE checkpoints SET position = $2, updated_at = now() WHERE name = $1",
            &[&name, &to_i64(last.position)],
        )
        .await?;
        tx.commit().await?;
        Ok(last.position)
    }

    async fn reset_projection(&self, projection: &dyn Projection) -> Result<()> {
        let mut client = self.inner.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM documents WHERE collection = ANY($1)",
            &[&projection.collections()],
        )
        .await?;
        tx.execute("DELETE FROM checkpoints WHERE name = $1", &[&projection.name()]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn document(&self, collection: &str, key: &str) -> Result<Option<Value>> {
        let client = self.inner.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT doc FROM documents WHERE collection = $1 AND key = $2",
                &[&collection, &key],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn documents(&self, collection: &str) -> Result<Vec<(String, Value)>> {
        let client = self.inner.pool.get().await?;
        let rows = client
            .query(
                "SELECT key, doc FROM documents WHERE collection = $1 ORDER BY key",
                &[&collection],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn ping(&self) -> Result<()> {
        let client = self.inner.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! The one-flight statement's guards, driven directly: a batch planned on a wrong belief
    //! writes nothing.

    use super::*;
    use crate::event::{Actor, NewEvent};

    struct Setup {
        store: PgStore,
        client: deadpool_postgres::Object,
        statement: tokio_postgres::Statement,
        stream: StreamName,
        _db: testkit::TestDatabase,
    }

    /// A log holding `stream` at version 2, with the head at position 3 (one other event).
    async fn setup() -> Setup {
        let db = testkit::pg_database().await;
        let store = PgStore::connect(db.url(), PgOptions::default()).await.unwrap();
        let stream = StreamName::new("fast-1").unwrap();
        store.append(&stream, ExpectedVersion::NoStream, vec![event(), event()]).await.unwrap();
        let other = StreamName::new("fast-2").unwrap();
        store.append(&other, ExpectedVersion::NoStream, vec![event()]).await.unwrap();
        let client = store.pool().get().await.unwrap();
        let statement = client.prepare_cached(FAST_SQL).await.unwrap();
        Setup { store, client, statement, stream, _db: db }
    }

    fn event() -> NewEvent {
        NewEvent::new("tested", serde_json::json!({"n": 1}), Metadata::new(Actor::system("t"), "t"))
    }

    impl Setup {
        async fn head(&self) -> (u64, Hash) {
            let row = self.client.query_one("SELECT position, chain FROM log_head", &[]).await;
            let row = row.unwrap();
            (to_u64(row.get(0)), hash::to_hash(&row.get::<_, Vec<u8>>(1)))
        }

        /// Sends one event for the stream, planned on `head` and the stream at `version`.
        async fn send(
            &self,
            head: (u64, Hash),
            version: u64,
        ) -> std::result::Result<usize, tokio_postgres::Error> {
            let appends =
                [StreamAppend::new(self.stream.clone(), ExpectedVersion::Any, vec![event()])];
            let versions = HashMap::from([(self.stream.to_string(), version)]);
            let plan = Plan::new(&[&appends], head, HashMap::new(), versions);
            let rows = run_fast(
                &self.client,
                &self.statement,
                &plan.rows,
                plan.recorded_at,
                plan.head,
                head,
            )
            .await?;
            Ok(rows.len())
        }

        async fn unchanged(&self, head: (u64, Hash)) {
            assert_eq!(self.head().await, head);
            assert_eq!(self.store.head().await.unwrap(), 3);
            let count = self.client.query_one("SELECT count(*) FROM events", &[]).await.unwrap();
            assert_eq!(count.get::<_, i64>(0), 3);
        }
    }

    #[tokio::test]
    async fn a_batch_planned_on_the_true_state_is_written() {
        let s = setup().await;
        let head = s.head().await;
        assert_eq!(s.send(head, 2).await.unwrap(), 1);
        let stored = s.store.read_stream(&s.stream, 1, Direction::Forwards, 10).await.unwrap();
        assert_eq!(stored.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(stored[2].position, 4);
        assert!(s.store.verify(1, None, &|_| {}).await.unwrap().ok);
    }

    #[tokio::test]
    async fn a_head_elsewhere_is_refused() {
        let s = setup().await;
        let head = s.head().await;
        assert_eq!(s.send((head.0 - 1, head.1), 2).await.unwrap(), 0);
        s.unchanged(head).await;
        // The right position with another link: another history that reached the same length.
        assert_eq!(s.send((head.0, GENESIS), 2).await.unwrap(), 0);
        s.unchanged(head).await;
    }

    #[tokio::test]
    async fn a_stream_version_ahead_of_the_stream_is_refused() {
        // Appending version 6 to a stream at version 2 would leave a gap.
        let s = setup().await;
        let head = s.head().await;
        assert_eq!(s.send(head, 5).await.unwrap(), 0);
        s.unchanged(head).await;
    }

    #[tokio::test]
    async fn a_stream_version_behind_the_stream_fails() {
        // Version 2 exists: the unique key refuses it, and nothing is written.
        let s = setup().await;
        let head = s.head().await;
        let error = s.send(head, 1).await.unwrap_err();
        assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION));
        s.unchanged(head).await;
        // A stream believed new that exists.
        let error = s.send(head, 0).await.unwrap_err();
        assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION));
        s.unchanged(head).await;
    }
}
