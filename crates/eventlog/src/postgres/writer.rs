//! The writer task: every append of this process goes through it, batched with the others
//! waiting at that moment into one transaction that holds the head-row lock to commit.
//!
//! It keeps what it believes of the streams it wrote (their versions), plans each batch with
//! the crate's one planner ([`Plan`]) and sends it [one flight](one_flight) or
//! [two](two_flight) (always two for a large batch, inserted by `COPY`), then answers each
//! caller. See the crate documentation for what the lock
//! guarantees and what batching pays back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::{LARGE_BATCH_EVENTS, to_i64};
use crate::batch::{Batch, Outcomes};
use crate::error::{Result, StoreError};
use crate::event::{AppendResult, ExpectedVersion, Metadata, StreamAppend, now_micros};
use crate::plan::{Known, Plan, Planned};

pub(super) use crate::batch::Request;

mod one_flight;
mod two_flight;

use one_flight::{FastConnection, ready_connection, run_fast};
use two_flight::append_batch;

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

/// Hands an append to the writer task and waits for its outcome.
pub(super) async fn append(
    writer: &mpsc::UnboundedSender<Request>,
    appends: Vec<StreamAppend>,
) -> Result<Vec<AppendResult>> {
    let (request, outcome) = Request::new(appends);
    writer.send(request).map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
    outcome.await.map_err(|_| StoreError::Unavailable("the writer stopped".into()))?
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
///   meanwhile and its lock wait overlaps this commit. A batch of more than
///   [`LARGE_BATCH_EVENTS`] events always goes this way, inserted by `COPY`.
///
/// It ends when the store is dropped.
pub(super) async fn write_loop(
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
    // An append that did not fit the last batch: it starts the next.
    let mut held: Option<Request> = None;
    loop {
        let first = match held.take() {
            Some(first) => first,
            None => match requests.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let Ok(lane) = lanes.clone().acquire_owned().await else { return };
        let mut batch = Batch::new(first);
        held = gather(&mut batch, &mut requests);
        let large = batch.events() > LARGE_BATCH_EVENTS;
        if let Some(plan) = (!large).then(|| writer.plan_fast(&batch)).flatten() {
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
        if held.is_none() {
            held = gather(&mut batch, &mut requests);
        }
        let writer = writer.clone();
        tokio::spawn(async move { writer.run_slow(batch, permit).await });
    }
}

/// Adds the requests waiting now to `batch` while they fit ([`Batch::take`]); returns the
/// first that did not, which starts the next batch.
fn gather(batch: &mut Batch, requests: &mut mpsc::UnboundedReceiver<Request>) -> Option<Request> {
    while batch.is_open() {
        if let Err(next) = batch.take(requests.try_recv().ok()?) {
            return Some(next);
        }
    }
    None
}

/// Sends a planned batch as one statement, and spawns the wait for its outcome. The first poll
/// of the query writes it to the connection, so batches reach PostgreSQL in the order they
/// were planned.
async fn send_fast(
    writer: &Arc<Writer>,
    client: Arc<deadpool_postgres::Object>,
    statement: tokio_postgres::Statement,
    batch: Batch,
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
                for results in outcomes.iter_mut().flatten() {
                    for position in results.iter_mut().flat_map(|r| r.positions.iter_mut()) {
                        *position += offset;
                    }
                }
                batch.answer(outcomes, Some(&writer.head));
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

impl Writer {
    /// Plans the batch on the versions this process knows (a stream it has not seen counts as
    /// new when the append expects no stream), numbering it from position 1. `None` when the
    /// batch must look things up, or would be refused, or is a retry: the two-flight path
    /// decides those against the stored state.
    fn plan_fast(&self, batch: &Batch) -> Option<FastPlan> {
        let requests = batch.appends();
        let mut versions = HashMap::new();
        {
            let known = self.versions.lock().unwrap_or_else(|p| p.into_inner());
            for append in requests.iter().flat_map(|r| r.iter()) {
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
    async fn run_slow(&self, batch: Batch, permit: OwnedSemaphorePermit) {
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
    batch: Batch,
    slot: OwnedSemaphorePermit,
) -> Option<HashMap<String, u64>> {
    let appends = batch.appends();
    let (outcomes, settled): (Outcomes, _) = match append_batch(pool, &appends, Some(slot)).await {
        Ok(plan) => (plan.outcomes, Some(plan.versions)),
        // Something in one request broke the whole transaction: run each on its own, so
        // that only that one fails.
        Err(_) if appends.len() > 1 => {
            let mut outcomes = Vec::with_capacity(appends.len());
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
    batch.answer(outcomes, Some(head));
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

impl Rows {
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

    /// The columns every insert sends together, in this order: event id, stream, category,
    /// version, type, data, metadata; each statement adds its own before and after them.
    fn event_columns(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.ids,
            &self.streams,
            &self.categories,
            &self.versions,
            &self.types,
            &self.data,
            &self.metadata,
        ]
    }
}
