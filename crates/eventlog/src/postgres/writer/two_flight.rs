//! Two flights, when the writer does not know enough to plan alone (a stream it has not
//! written, a retry, a conflict), a one-flight batch was refused, or the batch is large:
//! `BEGIN`, the head lock and the lookups of the batch's ids and streams, pipelined; the plan,
//! in memory; then the insert of the numbered and chained rows and `COMMIT`, pipelined.
//!
//! A large batch (more than [`LARGE_BATCH_EVENTS`] events) is hashed while the lookups run,
//! and inserted by binary `COPY` instead, streamed from the plan; then the head is moved and
//! the transaction committed in one more flight. Its rows never exist as one message, on
//! either side of the connection.

use std::collections::HashMap;
use std::task::Poll;
use std::time::Instant;

use deadpool_postgres::{Client, Pool};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::OwnedSemaphorePermit;
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{Json, ToSql, Type};
use uuid::Uuid;

use super::Rows;
use crate::error::{Result, StoreError};
use crate::event::{StreamAppend, now_micros};
use crate::hash::{self, Hash};
use crate::plan::{Contents, Known, Placed, Plan};
use crate::postgres::{LARGE_BATCH_EVENTS, to_i64, to_u64};

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
const COPY_SQL: &str = "COPY events (position, event_id, stream, category, version, event_type, \
     data, metadata, recorded_at, hash, chain) FROM STDIN (FORMAT binary)";
/// The column types of [`COPY_SQL`], in its order.
const COPY_TYPES: [Type; 11] = [
    Type::INT8,
    Type::UUID,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::JSONB,
    Type::JSONB,
    Type::TIMESTAMPTZ,
    Type::BYTEA,
    Type::BYTEA,
];
const MOVE_HEAD_SQL: &str = "WITH moved AS (UPDATE log_head SET position = $1, chain = $2) \
     SELECT pg_notify('procgate_events', $1::text)";

/// Runs one batch transaction the two-flight way: its plan, with one outcome per request.
///
/// The `FOR UPDATE` on the head row is the global writer lock: it is held until commit, and
/// it waits for the previous holder's commit and then reads its head, so positions are given
/// in commit order. Each request is decided in memory by [`Plan`] against the stored versions
/// and ids (and what earlier requests of the batch appended), then everything is inserted at
/// once.
/// Two round trips: `BEGIN`, the lock and the lookups pipelined; then the insert and `COMMIT`.
/// A large batch is hashed while the database looks up, and inserted by `COPY` (one more
/// round trip, to start it).
pub(super) async fn append_batch<'a>(
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
    let large = ids.len() > LARGE_BATCH_EVENTS;
    let run = async {
        let started = Instant::now();
        let params: [&(dyn ToSql + Sync); 2] = [&ids, &streams];
        let mut lookups = std::pin::pin!(futures::future::try_join3(
            client.batch_execute("BEGIN"),
            client.query_one(&head_sql, &[]),
            client.query(&known_sql, &params),
        ));
        // The first poll sends them; a large batch is hashed while they run.
        let sent = futures::poll!(lookups.as_mut());
        let contents = large.then(|| off_the_runtime(|| Contents::new(requests, now_micros())));
        let (_, head, known) = match sent {
            Poll::Ready(looked_up) => looked_up,
            Poll::Pending => lookups.await,
        }?;
        let looked_up = started.elapsed();
        let head = (to_u64(head.get(0)), hash::to_hash(&head.get::<_, Vec<u8>>(1)));
        let known = known_rows(&known, head);
        let plan = match &contents {
            Some(contents) => Plan::with_contents(requests, known, contents),
            None => Plan::new(requests, known, now_micros()),
        };
        drop(slot);
        let planned = started.elapsed();
        let (position, chain) = (to_i64(plan.head.0), plan.head.1.to_vec());
        if plan.events.is_empty() {
            client.batch_execute("COMMIT").await?;
        } else if large {
            copy_events(&client, &plan).await?;
            let copied = started.elapsed();
            let move_head = client.prepare_cached(MOVE_HEAD_SQL).await?;
            futures::future::try_join(
                client.query(&move_head, &[&position, &chain]),
                client.batch_execute("COMMIT"),
            )
            .await?;
            tracing::debug!(
                events = plan.events.len(),
                ?looked_up,
                ?planned,
                ?copied,
                committed = ?started.elapsed(),
                "a large batch was appended"
            );
        } else {
            let r = &Rows::new(&plan.events);
            // In `INSERT_SQL`'s order: the position, the event columns, then the rest.
            let after: [&(dyn ToSql + Sync); 5] =
                [&r.hashes, &r.links, &plan.recorded_at, &position, &chain];
            let params =
                [&[&r.positions as &(dyn ToSql + Sync)], &r.event_columns()[..], &after].concat();
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

/// Runs `work`, long and CPU-bound, without holding up the tasks queued behind the current
/// one (the connection's, sending the lookups): on a multi-threaded runtime, the worker hands
/// them to another thread first.
fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
    if matches!(flavor, Ok(RuntimeFlavor::MultiThread)) {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// Streams the plan's events (numbered and chained) into `events` by binary `COPY`.
async fn copy_events(client: &Client, plan: &Plan<'_>) -> Result<()> {
    let statement = client.prepare_cached(COPY_SQL).await?;
    let sink = client.copy_in(&statement).await?;
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    let mut writer = std::pin::pin!(writer);
    for p in &plan.events {
        let link = p.link.ok_or_else(|| StoreError::Database("an unchained plan".into()))?;
        let row: [&(dyn ToSql + Sync); 11] = [
            &to_i64(p.position),
            &p.event.id,
            &p.append.stream.as_str(),
            &p.append.stream.category(),
            &to_i64(p.version),
            &p.event.event_type,
            &p.event.data,
            &Json(&p.event.metadata),
            &plan.recorded_at,
            &&p.content[..],
            &&link[..],
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(())
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
