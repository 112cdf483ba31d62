//! Read models on PostgreSQL: named checkpoints, and the projections' documents, written with
//! their checkpoint in one transaction.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use serde_json::Value;

use super::{to_i64, to_u64};
use crate::error::Result;
use crate::event::RecordedEvent;
use crate::projection::{DocKey, Projection, apply_in_rounds, batch_keys};
use crate::store::{Seen, definition_checkpoint, erasure_checkpoint, refuse_older_definition};

pub(super) async fn checkpoint(pool: &Pool, name: &str) -> Result<Option<u64>> {
    let client = pool.get().await?;
    let row =
        client.query_opt("SELECT position FROM checkpoints WHERE name = $1", &[&name]).await?;
    Ok(row.map(|r| to_u64(r.get(0))))
}

/// Saves checkpoint `name` at `position`; with `forward`, only over a stored one behind it.
pub(super) async fn save_checkpoint(
    pool: &Pool,
    name: &str,
    position: u64,
    forward: bool,
) -> Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO checkpoints (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now() \
             WHERE NOT $3 OR checkpoints.position < EXCLUDED.position",
            &[&name, &to_i64(position), &forward],
        )
        .await?;
    Ok(())
}

pub(super) async fn apply_projection(
    pool: &Pool,
    projection: &dyn Projection,
    seen: Seen,
    events: &[RecordedEvent],
) -> Result<u64> {
    let Some(last) = events.last() else {
        return Ok(checkpoint(pool, projection.name()).await?.unwrap_or(0));
    };
    let name = projection.name();
    let mut client = pool.get().await?;
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
    let locked = tx
        .query_opt("SELECT position FROM checkpoints WHERE name = $1 FOR UPDATE", &[&name])
        .await?;
    // No row: a reset deleted it while this waited for its lock. Nothing is applied.
    let Some(row) = locked else { return Ok(0) };
    let checkpoint = to_u64(row.get(0));
    let marks = [definition_checkpoint(name), erasure_checkpoint(name)];
    let (mut built_by, mut reset_for) = (None, 0);
    let query = "SELECT name, position FROM checkpoints WHERE name = ANY($1)";
    for row in tx.query(query, &[&marks.as_slice()]).await? {
        let (mark, position): (String, i64) = (row.get(0), row.get(1));
        if mark == marks[0] {
            built_by = Some(to_u64(position));
        } else {
            reset_for = to_u64(position);
        }
    }
    refuse_older_definition((name, projection.version()), built_by, last.position)?;
    // Reset since the batch was read (see the trait).
    if last.position <= checkpoint
        || seen.outdated_by(projection.rebuilds_after_erasure(), checkpoint, reset_for)
    {
        return Ok(checkpoint);
    }
    let (todo, keys) = batch_keys(projection, events, checkpoint);
    let changes = apply_in_rounds(projection, &todo, keys, |keys| fetch(&tx, keys)).await?;
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

/// The documents at `keys`, `None` where there is none.
async fn fetch(
    tx: &deadpool_postgres::Transaction<'_>,
    keys: Vec<DocKey>,
) -> Result<HashMap<DocKey, Option<Value>>> {
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
    Ok(fetched)
}

/// Takes the lock an apply of projection `name` holds until it commits (its checkpoint row,
/// made if missing): a reset waits for an apply in flight, so that its delete, a statement
/// after this one, sees and removes what that apply wrote.
pub(super) async fn wait_for_applies(
    tx: &tokio_postgres::Transaction<'_>,
    name: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
        &[&name],
    )
    .await?;
    tx.execute("SELECT position FROM checkpoints WHERE name = $1 FOR UPDATE", &[&name]).await?;
    Ok(())
}

pub(super) async fn reset_projection(pool: &Pool, projection: &dyn Projection) -> Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // What it builds from now on is this version's. The definition's mark is locked before the
    // checkpoint, as a reset for a new definition locks them.
    tx.execute(
        "INSERT INTO checkpoints (name, position) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()",
        &[&definition_checkpoint(projection.name()), &to_i64(projection.version())],
    )
    .await?;
    wait_for_applies(&tx, projection.name()).await?;
    tx.execute("DELETE FROM documents WHERE collection = ANY($1)", &[&projection.collections()])
        .await?;
    tx.execute("DELETE FROM checkpoints WHERE name = $1", &[&projection.name()]).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn document(pool: &Pool, collection: &str, key: &str) -> Result<Option<Value>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT doc FROM documents WHERE collection = $1 AND key = $2",
            &[&collection, &key],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

pub(super) async fn documents_at(
    pool: &Pool,
    collection: &str,
    keys: &[String],
) -> Result<Vec<(String, Value)>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT key, doc FROM documents WHERE collection = $1 AND key = ANY($2) ORDER BY key",
            &[&collection, &keys],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) async fn documents_between(
    pool: &Pool,
    collection: &str,
    first: Option<&str>,
    last: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let client = pool.get().await?;
    // Byte by byte (the "C" collation), as the other backend and the trait's contract compare.
    let rows = client
        .query(
            "SELECT key, doc::text FROM documents WHERE collection = $1 \
             AND ($2::text IS NULL OR key COLLATE \"C\" >= $2) \
             AND ($3::text IS NULL OR key COLLATE \"C\" <= $3) ORDER BY key COLLATE \"C\"",
            &[&collection, &first, &last],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) async fn documents(pool: &Pool, collection: &str) -> Result<Vec<(String, Value)>> {
    let client = pool.get().await?;
    let rows = client
        .query("SELECT key, doc FROM documents WHERE collection = $1 ORDER BY key", &[&collection])
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}
