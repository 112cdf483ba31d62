//! The data key table on PostgreSQL (see [`crate::keys`]), and the reset of a projection
//! after an erasure.

use deadpool_postgres::Pool;

use super::{to_i64, to_u64};
use crate::error::Result;
use crate::keys::{DataKey, KeySelector};
use crate::projection::Projection;
use crate::store::erasure_checkpoint;

pub(super) async fn data_keys(pool: &Pool, subjects: &[String]) -> Result<Vec<DataKey>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT subject, owner, purpose, dated, wrapped FROM data_keys \
             WHERE subject = ANY($1)",
            &[&subjects],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DataKey {
            subject: r.get(0),
            owner: r.get(1),
            purpose: r.get(2),
            dated: r.get(3),
            wrapped: r.get(4),
        })
        .collect())
}

pub(super) async fn add_data_keys(pool: &Pool, keys: &[DataKey]) -> Result<()> {
    let client = pool.get().await?;
    let subjects: Vec<&str> = keys.iter().map(|k| k.subject.as_str()).collect();
    let owners: Vec<Option<&str>> = keys.iter().map(|k| k.owner.as_deref()).collect();
    let purposes: Vec<&str> = keys.iter().map(|k| k.purpose.as_str()).collect();
    let dated: Vec<_> = keys.iter().map(|k| k.dated).collect();
    let wrapped: Vec<Option<&[u8]>> = keys.iter().map(|k| k.wrapped.as_deref()).collect();
    // No key under an owner whose key is destroyed. A live owner's row is share-locked, so an
    // erasure of the owner (which locks that row before it destroys) waits for this insert
    // and then destroys the new key too; an insert that waited for an erasure finds the row
    // destroyed and adds nothing.
    client
        .execute(
            "WITH new AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], \
                                  $4::timestamptz[], $5::bytea[]) \
                          AS k(subject, owner, purpose, dated, wrapped)), \
                  live AS (SELECT subject FROM data_keys \
                           WHERE subject IN (SELECT owner FROM new) AND wrapped IS NOT NULL \
                           FOR SHARE) \
             INSERT INTO data_keys (subject, owner, purpose, dated, wrapped) \
             SELECT * FROM new WHERE owner IS NULL OR owner IN (SELECT subject FROM live) \
                OR NOT EXISTS (SELECT 1 FROM data_keys d WHERE d.subject = new.owner) \
             ON CONFLICT (subject) DO NOTHING",
            &[&subjects, &owners, &purposes, &dated, &wrapped],
        )
        .await?;
    Ok(())
}

pub(super) async fn destroyed_data_keys(pool: &Pool, which: &KeySelector) -> Result<Vec<String>> {
    const DESTROYED: &str = "SELECT subject FROM data_keys WHERE wrapped IS NULL AND ";
    let client = pool.get().await?;
    let rows = match which {
        KeySelector::Person(person) => {
            let sql = format!("{DESTROYED} (subject = $1 OR owner = $1)");
            client.query(&sql, &[person]).await?
        }
        KeySelector::DatedBefore { purpose, before } => {
            let sql = format!("{DESTROYED} purpose = $1 AND dated < $2");
            client.query(&sql, &[purpose, before]).await?
        }
    };
    let mut subjects: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    subjects.sort();
    Ok(subjects)
}

pub(super) async fn destroy_data_keys(
    pool: &Pool,
    which: &KeySelector,
    reason: &str,
) -> Result<Vec<String>> {
    const SET: &str = "UPDATE data_keys SET wrapped = NULL, destroyed_at = now(), \
                       destroy_reason = $2 WHERE wrapped IS NOT NULL AND ";
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = match which {
        KeySelector::Person(person) => {
            // The person's row first: a key being added under them (which share-locks it) is
            // committed before the update below reads the table, so it is destroyed too.
            tx.execute("SELECT 1 FROM data_keys WHERE subject = $1 FOR UPDATE", &[person]).await?;
            let sql = format!("{SET} (subject = $1 OR owner = $1) RETURNING subject");
            tx.query(&sql, &[person, &reason]).await?
        }
        KeySelector::DatedBefore { purpose, before } => {
            let sql = format!("{SET} purpose = $1 AND dated < $3 RETURNING subject");
            tx.query(&sql, &[purpose, &reason, before]).await?
        }
    };
    tx.commit().await?;
    let mut subjects: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    subjects.sort();
    Ok(subjects)
}

pub(super) async fn reset_projection_after_erasure(
    pool: &Pool,
    projection: &dyn Projection,
    position: u64,
) -> Result<bool> {
    reset_projection_unless_marked(
        pool,
        projection,
        &erasure_checkpoint(projection.name()),
        0,
        position,
    )
    .await
}

/// Resets the projection and sets the checkpoint `mark` to `position`, unless `mark` (`absent`
/// when there is none) is at `position` or beyond already: one transaction.
pub(super) async fn reset_projection_unless_marked(
    pool: &Pool,
    projection: &dyn Projection,
    mark: &str,
    absent: u64,
    position: u64,
) -> Result<bool> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO checkpoints (name, position) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&mark, &to_i64(absent)],
    )
    .await?;
    let done: i64 = tx
        .query_one("SELECT position FROM checkpoints WHERE name = $1 FOR UPDATE", &[&mark])
        .await?
        .get(0);
    if to_u64(done) >= position {
        return Ok(false);
    }
    super::documents::wait_for_applies(&tx, projection.name()).await?;
    tx.execute("DELETE FROM documents WHERE collection = ANY($1)", &[&projection.collections()])
        .await?;
    tx.execute("DELETE FROM checkpoints WHERE name = $1", &[&projection.name()]).await?;
    tx.execute(
        "UPDATE checkpoints SET position = $2, updated_at = now() WHERE name = $1",
        &[&mark, &to_i64(position)],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
