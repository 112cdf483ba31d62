//! The embedded store's writer: one thread owns the write connection and runs its jobs in
//! order; the appends waiting when it takes one are planned together and written in one
//! transaction (one sync a batch), each request decided on its own.

use std::collections::HashMap;
use std::sync::{Arc, mpsc};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{oneshot, watch};

use crate::batch::{Batch, Outcomes, Request};
use crate::error::{Result, StoreError};
use crate::event::{AppendResult, StreamAppend, now_micros};
use crate::hash;
use crate::plan::{Known, Placed, Plan};

/// What a connection's thread is asked to do: run a function, or append (the writer gathers
/// the appends waiting into one transaction).
enum Job {
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
    Append(Request),
}

/// A thread that owns a connection and runs jobs on it in order.
#[derive(Debug, Clone)]
pub(super) struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the thread; `head`, for a writer, is raised by each batch it commits, before its
    /// callers are answered (whether or not they are still waiting).
    pub(super) fn spawn(
        mut conn: Connection,
        name: &str,
        head: Option<Arc<watch::Sender<u64>>>,
    ) -> Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut next = None;
                while let Some(job) = next.take().or_else(|| rx.recv().ok()) {
                    match job {
                        Job::Run(f) => f(&mut conn),
                        Job::Append(first) => {
                            let mut batch = Batch::new(first);
                            next = gather(&mut batch, &rx);
                            append_batch(&mut conn, batch, head.as_deref());
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the {name} thread: {e}")))?;
        Ok(Self { jobs })
    }

    pub(super) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Run(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            })))
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the store thread stopped".into()))?
    }

    /// Appends `appends` with whatever else is waiting; their results.
    pub(super) async fn append(&self, appends: Vec<StreamAppend>) -> Result<Vec<AppendResult>> {
        let (request, rx) = Request::new(appends);
        self.jobs
            .send(Job::Append(request))
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the store thread stopped".into()))?
    }
}

/// Adds the appends waiting now to `batch` while they fit ([`Batch::take`]); returns the first
/// job it did not add (another kind, or an append that starts the next batch), which runs
/// next: it was sent after them.
fn gather(batch: &mut Batch, rx: &mpsc::Receiver<Job>) -> Option<Job> {
    while batch.is_open() {
        match rx.try_recv().ok()? {
            Job::Append(next) => {
                if let Err(next) = batch.take(next) {
                    return Some(Job::Append(next));
                }
            }
            other => return Some(other),
        }
    }
    None
}

/// Appends a batch of requests in one transaction and answers each. Should the transaction
/// fail as a whole (something in one request broke it), each request runs again on its own,
/// so that only that one fails.
fn append_batch(conn: &mut Connection, batch: Batch, head: Option<&watch::Sender<u64>>) {
    let requests = batch.appends();
    let outcomes: Outcomes = match append_sync(conn, &requests) {
        Ok(outcomes) => outcomes,
        Err(_) if requests.len() > 1 => requests
            .iter()
            .map(|one| append_sync(conn, std::slice::from_ref(one))?.remove(0))
            .collect(),
        Err(e) => vec![Err(e)],
    };
    batch.answer(outcomes, head);
}

/// Appends a batch of requests in one transaction: looks up what the planner needs, plans
/// (each request on its own), and writes what it planned. Returns each request's outcome.
fn append_sync(conn: &mut Connection, requests: &[&[StreamAppend]]) -> Result<Outcomes> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let known = known(&tx, requests.iter().flat_map(|r| r.iter()))?;
    let Plan { events, outcomes, head, recorded_at, .. } = Plan::new(requests, known, now_micros());
    if events.is_empty() {
        return Ok(outcomes);
    }
    let recorded_text = hash::time_text(&recorded_at);
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (position, event_id, stream, category, version, event_type, data, \
             metadata, recorded_at, hash, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for p in &events {
            insert.execute(params![
                p.position,
                p.event.id.to_string(),
                p.append.stream.as_str(),
                p.append.stream.category(),
                p.version,
                p.event.event_type,
                p.event.data.to_string(),
                serde_json::to_string(&p.event.metadata)?,
                recorded_text,
                p.content.as_slice(),
                p.link.expect("planned after the head, so chained").as_slice(),
            ])?;
        }
    }
    let (position, link) = head;
    tx.execute(
        "UPDATE log_head SET position = ?1, chain = ?2",
        params![position, link.as_slice()],
    )?;
    tx.commit()?;
    Ok(outcomes)
}

/// What the planner needs, read in the append's transaction: where the append's event ids are
/// stored, its streams' versions, and the head.
fn known<'a>(
    tx: &rusqlite::Transaction<'_>,
    appends: impl Iterator<Item = &'a StreamAppend> + Clone,
) -> Result<Known> {
    let mut placed = HashMap::new();
    let mut stmt =
        tx.prepare_cached("SELECT stream, version, position FROM events WHERE event_id = ?1")?;
    for event in appends.clone().flat_map(|a| &a.events) {
        let row = stmt
            .query_row([event.id.to_string()], |r| {
                Ok(Placed { stream: r.get(0)?, version: r.get(1)?, position: r.get(2)? })
            })
            .optional()?;
        if let Some(p) = row {
            placed.insert(event.id, p);
        }
    }
    let mut versions = HashMap::new();
    for append in appends {
        if versions.contains_key(append.stream.as_str()) {
            continue;
        }
        let version: u64 = tx.query_row(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream = ?1",
            [append.stream.as_str()],
            |r| r.get(0),
        )?;
        versions.insert(append.stream.to_string(), version);
    }
    let head = tx.query_row("SELECT position, chain FROM log_head", [], |r| {
        Ok((r.get(0)?, hash::to_hash(&r.get::<_, Vec<u8>>(1)?)))
    })?;
    Ok(Known { placed, versions, head: Some(head) })
}
