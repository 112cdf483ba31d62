//! Two flights, when the writer does not know enough to plan alone (a stream it has not
//! written, a retry, a conflict) or a one-flight batch was refused: `BEGIN`, the head lock and
//! the lookups of the batch's ids and streams, pipelined; the plan, in memory; then the insert
//! of the numbered and chained rows and `COMMIT`, pipelined.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use tokio::sync::OwnedSemaphorePermit;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::Rows;
use crate::error::{Result, StoreError};
use crate::event::{StreamAppend, now_micros};
use crate::hash::{self, Hash};
use crate::plan::{Known, Placed, Plan};
use crate::postgres::{to_i64, to_u64};

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

/// Runs one batch transaction the two-flight way: its plan, with one outcome per request.
///
/// The `FOR UPDATE` on the head row is the global writer lock: it is held until commit, and
/// it waits for the previous holder's commit and then reads its head, so positions are given
/// in commit order. Each request is decided in memory by [`Plan`] against the stored versions
/// and ids (and what earlier requests of the batch appended), then everything is inserted at
/// once.
/// Two round trips: `BEGIN`, the lock and the lookups pipelined; then the insert and `COMMIT`.
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
