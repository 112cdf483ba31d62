//! Reads of the log on PostgreSQL: a stream, several streams at once, the whole log (or some
//! categories and event types) in global order, and the chain rows that verification checks.
//! Each runs on a connection of the pool, outside the writer.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};

use super::{to_i64, to_u64};
use crate::error::Result;
use crate::event::{Direction, Filter, Metadata, RecordedEvent, StreamName};
use crate::hash::{self, GENESIS, Hash};
use crate::store::ChainRow;

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

pub(super) async fn read_stream(
    pool: &Pool,
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
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&stream.as_str(), &to_i64(from_version), &limit(max)]).await?;
    decode_all(&rows)
}

pub(super) async fn read_streams(
    pool: &Pool,
    requests: &[(StreamName, u64)],
) -> Result<Vec<Vec<RecordedEvent>>> {
    let names: Vec<&str> = requests.iter().map(|(s, _)| s.as_str()).collect();
    let from: Vec<i64> = requests.iter().map(|(_, v)| to_i64(*v)).collect();
    let client = pool.get().await?;
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

pub(super) async fn read_all(
    pool: &Pool,
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
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &params).await?;
    decode_all(&rows)
}

pub(super) async fn chain_rows(pool: &Pool, after: u64, max: usize) -> Result<Vec<ChainRow>> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS}, chain, category FROM events WHERE position > $1 \
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
                category: row.try_get(10)?,
            })
        })
        .collect()
}

pub(super) async fn chain_link(pool: &Pool, position: u64) -> Result<Option<Hash>> {
    if position == 0 {
        return Ok(Some(GENESIS));
    }
    let client = pool.get().await?;
    let row = client
        .query_opt("SELECT chain FROM events WHERE position = $1", &[&to_i64(position)])
        .await?;
    Ok(row.map(|r| hash::to_hash(&r.get::<_, Vec<u8>>(0))))
}
