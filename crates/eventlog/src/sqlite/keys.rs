//! The data key table on SQLite (see [`crate::keys`]), and the reset of a projection after an
//! erasure. Each function runs on the write connection, in a transaction of its own.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, StoreError};
use crate::hash;
use crate::keys::{DataKey, KeySelector};
use crate::store::erasure_checkpoint;

pub(super) fn data_keys(conn: &mut Connection, subjects: &[String]) -> Result<Vec<DataKey>> {
    let mut select = conn.prepare_cached(
        "SELECT subject, owner, purpose, dated, wrapped FROM data_keys WHERE subject = ?1",
    )?;
    let mut found = Vec::new();
    for subject in subjects {
        let row = select
            .query_row([subject], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                ))
            })
            .optional()?;
        if let Some((subject, owner, purpose, dated, wrapped)) = row {
            let dated = match dated {
                Some(text) => Some(
                    DateTime::parse_from_rfc3339(&text)
                        .map_err(|e| StoreError::Corrupt(format!("data key {subject}: {e}")))?
                        .with_timezone(&Utc),
                ),
                None => None,
            };
            found.push(DataKey { subject, owner, purpose, dated, wrapped });
        }
    }
    Ok(found)
}

pub(super) fn add_data_keys(conn: &mut Connection, keys: &[DataKey]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        // No key under an owner whose key is destroyed (writes are serialized: no erasure
        // comes between this check and the insert).
        let mut insert = tx.prepare_cached(
            "INSERT INTO data_keys (subject, owner, purpose, dated, wrapped, created_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE ?2 IS NULL OR NOT EXISTS \
               (SELECT 1 FROM data_keys o WHERE o.subject = ?2 AND o.wrapped IS NULL) \
             ON CONFLICT (subject) DO NOTHING",
        )?;
        let now = hash::time_text(&Utc::now());
        for k in keys {
            let dated = k.dated.as_ref().map(hash::time_text);
            insert.execute(params![k.subject, k.owner, k.purpose, dated, k.wrapped, now])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn destroyed_data_keys(
    conn: &mut Connection,
    which: &KeySelector,
) -> Result<Vec<String>> {
    const DESTROYED: &str = "SELECT subject FROM data_keys WHERE wrapped IS NULL AND ";
    let mut subjects: Vec<String> = match which {
        KeySelector::Person(person) => {
            let sql = format!("{DESTROYED} (subject = ?1 OR owner = ?1)");
            let mut select = conn.prepare(&sql)?;
            let rows = select.query_map(params![person], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
        KeySelector::DatedBefore { purpose, before } => {
            let sql = format!("{DESTROYED} purpose = ?1 AND dated < ?2");
            let mut select = conn.prepare(&sql)?;
            let before = hash::time_text(before);
            let rows = select.query_map(params![purpose, before], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    subjects.sort();
    Ok(subjects)
}

pub(super) fn destroy_data_keys(
    conn: &mut Connection,
    which: &KeySelector,
    reason: &str,
) -> Result<Vec<String>> {
    const SET: &str = "UPDATE data_keys SET wrapped = NULL, destroyed_at = ?2, \
                       destroy_reason = ?3 WHERE wrapped IS NOT NULL AND ";
    let now = hash::time_text(&Utc::now());
    let tx = conn.transaction()?;
    let mut subjects: Vec<String> = match which {
        KeySelector::Person(person) => {
            let sql = format!("{SET} (subject = ?1 OR owner = ?1) RETURNING subject");
            let mut update = tx.prepare(&sql)?;
            let rows = update.query_map(params![person, now, reason], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
        KeySelector::DatedBefore { purpose, before } => {
            let sql = format!("{SET} purpose = ?1 AND dated < ?4 RETURNING subject");
            let mut update = tx.prepare(&sql)?;
            let before = hash::time_text(before);
            let rows = update.query_map(params![purpose, now, reason, before], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    tx.commit()?;
    subjects.sort();
    Ok(subjects)
}

pub(super) fn reset_projection_after_erasure(
    conn: &mut Connection,
    name: &str,
    collections: &[String],
    position: u64,
) -> Result<bool> {
    reset_projection_unless_marked(conn, name, collections, &erasure_checkpoint(name), 0, position)
}

/// Resets the projection and sets the checkpoint `mark` to `position`, unless `mark` (`absent`
/// when there is none) is at `position` or beyond already: one transaction.
pub(super) fn reset_projection_unless_marked(
    conn: &mut Connection,
    name: &str,
    collections: &[String],
    mark: &str,
    absent: u64,
    position: u64,
) -> Result<bool> {
    let tx = conn.transaction()?;
    let done: u64 = tx
        .query_row("SELECT position FROM checkpoints WHERE name = ?1", [mark], |r| r.get(0))
        .optional()?
        .unwrap_or(absent);
    if done >= position {
        return Ok(false);
    }
    for c in collections {
        tx.execute("DELETE FROM documents WHERE collection = ?1", [c])?;
    }
    tx.execute("DELETE FROM checkpoints WHERE name = ?1", [name])?;
    super::upsert_checkpoint(&tx, mark, position)?;
    tx.commit()?;
    Ok(true)
}
