//! The PostgreSQL backend, for production and for several service instances on one database.
//!
//! Every process has one writer task. It takes all the appends waiting at that moment and
//! makes them one transaction with one commit, holding the lock on the `log_head` row, so
//! positions and chain links are given at insert, in commit order: in one flight when it knows
//! the versions of the streams involved, else in two. See the crate documentation for what
//! that guarantees and costs.

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
use crate::plan::{Known, Placed, Plan, Planned};
use crate::projection::{DocKey, Docs, Projection, apply_batch, batch_keys};
use crate::store::{ChainRow, EventStore};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Changes whenever the PostgreSQL migrations change (it is their text): test database
/// templates are keyed by a hash of it.
pub const MIGRATIONS_FINGERPRINT: &str = concat!(
    include_str!("../migrations/postgres/V1__event_log.sql"),
    include_str!("../migrations/postgres/V2__append_function.sql"),
);

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

/// One-flight batches in flight at once on the writer's connection: one executing, one queued
/// behind it in PostgreSQL, while the next one forms.
const PIPELINE_DEPTH: usize = 2;
/// The most stream versions the writer remembers (forgotten all at once past this).
const MAX_REMEMBERED_STREAMS: usize = 100_000;

/// What the writer task shares with the batches it started.
struct Writer {
    pool: Pool,
    head: Arc<watch::Sender<u64>>,
    /// Held by a two-flight batch until it has the head lock and has planned.
    slot: Arc<Semaphore>,
    /// The versions of the streams this process wrote or looked up last. Only a belief:
    /// another process may have appended since. A batch planned on it is guarded (see
    /// `procgate_append`), so a wrong belief costs a retry, never a wrong write.
    versions: Mutex<HashMap<String, u64>>,
}

/// The writer task. Each batch is the appends waiting at that moment, written in one
/// transaction that holds the head-row lock to commit. A batch goes one of two ways:
///
/// - **one flight** (the usual case): when this process knows the versions of the streams
///   involved (it wrote them last, or they are new), the batch is planned in memory (versions,
///   content hashes) and sent as one statement, `SELECT procgate_append(…)`, on the writer's
///   own connection, without waiting for the batch before it: statements on one connection
///   run in order, so the next batch is already queued when this one commits. The function
///   takes the head lock, numbers and chains the events after the head, inserts them and
///   moves the head; it refuses a batch whose streams are not at the planned versions. A
///   refused batch is run again the other way.
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
        versions: Mutex::default(),
    });
    let lanes = Arc::new(Semaphore::new(PIPELINE_DEPTH));
    let mut connection: Option<FastConnection> = None;
    while let Some(first) = requests.recv().await {
        let Ok(lane) = lanes.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        gather(&mut batch, &mut requests);
        if let Some(plan) = writer.plan_fast(&batch) {
            let head = *writer.head.borrow();
            match ready_connection(&writer.pool, &mut connection, head).await {
                Ok(c) => {
                    send_fast(&writer, c.client.clone(), c.statement.clone(), batch, plan, lane)
                        .await;
                    continue;
                }
                Err(e) => tracing::debug!(error = %e, "no connection for a one-flight batch"),
            }
        }
        drop(lane);
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
/// so that a batch is not planned again on the critical path. The plans (the function's
/// statements' too) are made for the table as it is, so they are discarded whenever the log
/// has doubled since they were made.
struct FastConnection {
    client: Arc<deadpool_postgres::Object>,
    statement: tokio_postgres::Statement,
    replan_at: u64,
}

/// The log's size at which the writer's plans are first made again.
const FIRST_REPLAN: u64 = 1024;

/// The writer's connection: replaced when it broke, its plans discarded when due.
async fn ready_connection<'c>(
    pool: &Pool,
    connection: &'c mut Option<FastConnection>,
    head: u64,
) -> Result<&'c FastConnection> {
    let replan_at = (2 * head).max(FIRST_REPLAN);
    match connection {
        Some(c) if !c.client.is_closed() && head < c.replan_at => {}
        Some(c) if !c.client.is_closed() => {
            c.client.batch_execute("DISCARD PLANS").await?;
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
    plan: FastPlan,
    lane: OwnedSemaphorePermit,
) {
    let FastPlan { rows, mut outcomes, recorded_at } = plan;
    let streams = rows.streams.clone();
    let mut query =
        Box::pin(async move { run_fast(&client, &statement, &rows, recorded_at).await });
    let sent = futures::poll!(query.as_mut());
    let writer = writer.clone();
    tokio::spawn(async move {
        let outcome = match sent {
            std::task::Poll::Ready(outcome) => outcome,
            std::task::Poll::Pending => query.await,
        };
        drop(lane);
        match outcome {
            Ok(Some(first)) => {
                // The plan numbered the batch from position 1.
                let offset = first - 1;
                let mut last = first;
                for results in outcomes.iter_mut().flatten() {
                    for position in results.iter_mut().flat_map(|r| r.positions.iter_mut()) {
                        *position += offset;
                        last = last.max(*position);
                    }
                }
                raise_head(&writer.head, last);
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            refused => {
                if let Err(e) = refused {
                    tracing::debug!(error = %e, "a one-flight batch was refused; running it again");
                }
                writer.forget(&streams);
                let Ok(permit) = writer.slot.clone().acquire_owned().await else { return };
                writer.run_slow(batch, permit).await;
            }
        }
    });
}

/// Runs [`FAST_SQL`]: the batch's first position, or `None` when a stream was not at the
/// version planned.
async fn run_fast(
    client: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    r: &Rows,
    recorded_at: DateTime<Utc>,
) -> std::result::Result<Option<u64>, tokio_postgres::Error> {
    let (continued, continued_from) = r.continued();
    let params: [&(dyn ToSql + Sync); 11] = [
        &r.ids,
        &r.streams,
        &r.categories,
        &r.versions,
        &r.types,
        &r.data,
        &r.metadata,
        &recorded_at,
        &r.hashes,
        &continued,
        &continued_from,
    ];
    let row = client.query_one(statement, &params).await?;
    Ok(row.get::<_, Option<i64>>(0).map(to_u64))
}

impl Writer {
    /// Plans the batch on the versions this process knows (a stream it has not seen counts as
    /// new when the append expects no stream), numbering it from position 1. `None` when the
    /// batch must look things up, or would be refused, or is a retry: the two-flight path
    /// decides those against the stored state.
    fn plan_fast(&self, batch: &[Request]) -> Option<FastPlan> {
        let mut versions = HashMap::new();
        {
            let known = self.versions.lock().unwrap_or_else(|p| p.into_inner());
            for append in batch.iter().flat_map(|r| &r.appends) {
                let stream = append.stream.as_str();
                if versions.contains_key(stream) {
                    continue;
                }
                let version = match known.get(stream) {
                    Some(v) => *v,
                    None if matches!(
                        append.expected,
                        ExpectedVersion::NoStream | ExpectedVersion::Exact(0)
                    ) =>
                    {
                        0
                    }
                    None => return None,
                };
                versions.insert(stream.to_owned(), version);
            }
        }
        let requests: Vec<&[StreamAppend]> = batch.iter().map(|r| r.appends.as_slice()).collect();
        let known = Known { versions, ..Known::default() };
        let Plan { events, outcomes, versions, recorded_at, .. } =
            Plan::new(&requests, known, now_micros());
        let plain = |o: &Result<Vec<AppendResult>>| {
            o.as_ref().is_ok_and(|results| !results.iter().any(|r| r.already_stored))
        };
        if events.is_empty() || !outcomes.iter().all(plain) {
            return None;
        }
        self.remember(versions);
        Some(FastPlan { rows: Rows::new(&events), outcomes, recorded_at })
    }

    fn remember(&self, versions: HashMap<String, u64>) {
        let mut known = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() + versions.len() > MAX_REMEMBERED_STREAMS {
            known.clear();
        }
        known.extend(versions);
    }

    /// Forgets the versions of streams a refused batch planned on: they are looked up again.
    fn forget(&self, streams: &[String]) {
        let mut known = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        for stream in streams {
            known.remove(stream);
        }
    }

    /// Runs a batch the two-flight way, then remembers the versions it left.
    async fn run_slow(&self, batch: Vec<Request>, permit: OwnedSemaphorePermit) {
        if let Some(versions) = run_requests(&self.pool, &self.head, batch, permit).await {
            self.remember(versions);
        }
    }
}

/// Appends a batch of requests the two-flight way and answers each. Returns the stream
/// versions the batch's transaction left, when it committed as one.
async fn run_requests(
    pool: &Pool,
    head: &watch::Sender<u64>,
    batch: Vec<Request>,
    slot: OwnedSemaphorePermit,
) -> Option<HashMap<String, u64>> {
    let appends: Vec<&[StreamAppend]> = batch.iter().map(|r| r.appends.as_slice()).collect();
    let (outcomes, settled) = match append_batch(pool, &appends, Some(slot)).await {
        Ok(plan) => (plan.outcomes, Some(plan.versions)),
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

/// A batch planned for one flight: its rows, owned so that they travel with the query, and
/// each request's outcome, its positions counted from 1.
struct FastPlan {
    rows: Rows,
    outcomes: Vec<Result<Vec<AppendResult>>>,
    recorded_at: DateTime<Utc>,
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
const INSERT_SQL: &str = "WITH appended AS ( \
       INSERT INTO events (position, event_id, stream, category, version, event_type, data, \
                           metadata, recorded_at, hash, chain) \
       SELECT p, i, s, c, v, t, d, m, $11, h, l \
       FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[], \
                   $7::jsonb[], $8::jsonb[], $9::bytea[], $10::bytea[]) \
            AS r(p, i, s, c, v, t, d, m, h, l)), \
     moved AS (UPDATE log_head SET position = $12, chain = $13) \
     SELECT pg_notify('procgate_events', $12::text)";
/// A whole batch in one statement, planned on the stream versions this process believes: see
/// `procgate_append` (migration V2) for the guards and what it computes.
const FAST_SQL: &str = "SELECT procgate_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Runs one batch transaction the two-flight way: its plan, with one outcome per request.
///
/// The `FOR UPDATE` on the head row is the global writer lock: it is held until commit, and
/// it waits for the previous holder's commit and then reads its head, so positions are given
/// in commit order. Each request is decided in memory against the stored versions and ids
/// (and what earlier requests of the batch appended), then everything is inserted at once.
/// Two round trips: `BEGIN`, the lock and the lookups pipelined; then the insert and `COMMIT`.
async fn append_batch<'a>(
    pool: &Pool,
    requests: &[&'a [StreamAppend]],
    slot: Option<OwnedSemaphorePermit>,
) -> Result<Plan<'a>> {
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
        let plan = Plan::new(requests, known_rows(&known, head), now_micros());
        drop(slot);
        if plan.events.is_empty() {
            client.batch_execute("COMMIT").await?;
        } else {
            let r = &Rows::new(&plan.events);
            let (position, chain) = (to_i64(plan.head.0), plan.head.1.to_vec());
            let params: [&(dyn ToSql + Sync); 13] = [
                &r.positions,
                &r.ids,
                &r.streams,
                &r.categories,
                &r.versions,
                &r.types,
                &r.data,
                &r.metadata,
                &r.hashes,
                &r.links,
                &plan.recorded_at,
                &position,
                &chain,
            ];
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

/// The rows of `KNOWN_SQL` (where the batch's ids are stored, and its streams' versions) and
/// the head they were read under.
fn known_rows(known: &[Row], head: (u64, Hash)) -> Known {
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
    Known { placed, versions, head: Some(head) }
}

impl Rows {
    /// The streams the rows continue (rather than start), and the version each continues from.
    fn continued(&self) -> (Vec<&str>, Vec<i64>) {
        let mut first: HashMap<&str, i64> = HashMap::new();
        for (stream, version) in self.streams.iter().zip(&self.versions) {
            let v = first.entry(stream.as_str()).or_insert(*version);
            *v = (*v).min(*version);
        }
        first.into_iter().filter(|(_, v)| *v > 1).map(|(s, v)| (s, v - 1)).unzip()
    }

    /// The planned events as columns; `links` only for a plan that chained them.
    fn new(planned: &[Planned<'_>]) -> Self {
        let mut rows = Self::default();
        for p in planned {
            rows.positions.push(to_i64(p.position));
            rows.ids.push(p.event.id);
            rows.streams.push(p.append.stream.as_str().to_owned());
            rows.categories.push(p.append.stream.category().to_owned());
            rows.versions.push(to_i64(p.version));
            rows.types.push(p.event.event_type.clone());
            rows.data.push(p.event.data.clone());
            rows.metadata.push(Json(p.event.metadata.clone()));
            rows.hashes.push(p.content.to_vec());
            if let Some(link) = p.link {
                rows.links.push(link.to_vec());
            }
        }
        rows
    }
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
    //! The one-flight function, driven directly: numbered and chained by the database exactly
    //! as the crate chains (verify recomputes it), landing after whatever others appended, and
    //! writing nothing when planned on a wrong version.

    use super::*;
    use crate::event::{Actor, NewEvent};

    struct Setup {
        store: PgStore,
        client: deadpool_postgres::Object,
        statement: tokio_postgres::Statement,
        stream: StreamName,
        _db: testkit::TestDatabase,
    }

    /// A log holding `fast-1` at version 2, with the head at position 3 (one other event).
    async fn setup() -> Setup {
        let db = testkit::pg_database().await;
        let store = PgStore::connect(db.url(), PgOptions::default()).await.unwrap();
        let stream = StreamName::new("fast-1").unwrap();
        store.append(&stream, ExpectedVersion::NoStream, vec![event(), event()]).await.unwrap();
        let other = StreamName::new("fast-2").unwrap();
        store.append(&other, ExpectedVersion::NoStream, vec![event()]).await.unwrap();
        let client = store.pool().get().await.unwrap();
        let statement = client.prepare(FAST_SQL).await.unwrap();
        Setup { store, client, statement, stream, _db: db }
    }

    fn event() -> NewEvent {
        NewEvent::new("tested", serde_json::json!({"n": 1}), Metadata::new(Actor::system("t"), "t"))
    }

    impl Setup {
        /// Sends `count` events for the stream (and one for a new stream), planned on the
        /// stream at `version`: the first position, or `None` when refused.
        async fn send(
            &self,
            version: u64,
            count: usize,
        ) -> std::result::Result<Option<u64>, tokio_postgres::Error> {
            let events = (0..count).map(|_| event()).collect();
            let fresh = StreamName::new(format!("fresh-{}", Uuid::now_v7())).unwrap();
            let appends = [
                StreamAppend::new(self.stream.clone(), ExpectedVersion::Any, events),
                StreamAppend::new(fresh, ExpectedVersion::NoStream, vec![event()]),
            ];
            let versions = HashMap::from([(self.stream.to_string(), version)]);
            let known = Known { versions, ..Known::default() };
            let plan = Plan::new(&[&appends], known, now_micros());
            run_fast(&self.client, &self.statement, &Rows::new(&plan.events), plan.recorded_at)
                .await
        }

        async fn versions(&self) -> Vec<(u64, u64)> {
            let stored = self.store.read_stream(&self.stream, 1, Direction::Forwards, 100).await;
            stored.unwrap().iter().map(|e| (e.version, e.position)).collect()
        }

        async fn verified(&self) {
            let verification = self.store.verify(1, None, &|_| {}).await.unwrap();
            assert!(verification.ok, "{verification:?}");
        }

        async fn unchanged(&self) {
            assert_eq!(self.store.head().await.unwrap(), 3);
            let count = self.client.query_one("SELECT count(*) FROM events", &[]).await.unwrap();
            assert_eq!(count.get::<_, i64>(0), 3);
            self.verified().await;
        }
    }

    #[tokio::test]
    async fn a_batch_is_numbered_and_chained_after_the_head() {
        let s = setup().await;
        assert_eq!(s.send(2, 3).await.unwrap(), Some(4));
        assert_eq!(s.versions().await, [(1, 1), (2, 2), (3, 4), (4, 5), (5, 6)]);
        assert_eq!(s.store.head().await.unwrap(), 7);
        // The chain the database computed is the one the crate recomputes.
        s.verified().await;
    }

    #[tokio::test]
    async fn a_batch_lands_after_what_others_appended_meanwhile() {
        let s = setup().await;
        let other = StreamName::new("fast-3").unwrap();
        s.store.append(&other, ExpectedVersion::NoStream, vec![event(), event()]).await.unwrap();
        assert_eq!(s.send(2, 1).await.unwrap(), Some(6));
        assert_eq!(s.versions().await, [(1, 1), (2, 2), (3, 6)]);
        s.verified().await;
    }

    #[tokio::test]
    async fn a_stream_version_ahead_of_the_stream_is_refused() {
        // Appending version 6 to a stream at version 2 would leave a gap.
        let s = setup().await;
        assert_eq!(s.send(5, 1).await.unwrap(), None);
        s.unchanged().await;
    }

    #[tokio::test]
    async fn a_stream_version_behind_the_stream_fails() {
        // Version 2 exists: the unique key refuses it, and nothing is written.
        let s = setup().await;
        let error = s.send(1, 1).await.unwrap_err();
        assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION));
        s.unchanged().await;
        // A stream believed new that exists.
        let error = s.send(0, 1).await.unwrap_err();
        assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION));
        s.unchanged().await;
    }
}
