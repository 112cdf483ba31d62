//! One flight: a batch planned on the stream versions the writer believes, sent as one
//! statement, `SELECT procgate_append(…)` (migration V2), on the writer's own connection,
//! without waiting for the batch before it.
//!
//! The function checks that every stream the batch continues holds the version planned, then,
//! under the head lock, numbers and chains the events after the head (the chain link as
//! `hash::chain_link` computes it), inserts them and moves the head. A batch planned on a wrong
//! belief writes nothing: `NULL`, or a unique violation for a version or event id that exists.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use super::Rows;
use crate::error::Result;
use crate::postgres::to_u64;

/// A whole batch in one statement, planned on the stream versions this process believes: see
/// `procgate_append` (migration V2) for the guards and what it computes.
const FAST_SQL: &str = "SELECT procgate_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// The writer's own connection, with the one-flight statement prepared on it.
///
/// Unlike the pool's connections (see [`PgStore::connect`](crate::PgStore::connect)), it keeps
/// PostgreSQL's plan cache, so that a batch is not planned again on the critical path. The
/// plans (the function's statements' too) are made for the table as it is, so they are
/// discarded whenever the log has doubled since they were made.
pub(super) struct FastConnection {
    pub(super) client: Arc<deadpool_postgres::Object>,
    pub(super) statement: tokio_postgres::Statement,
    replan_at: u64,
}

/// The log's size at which the writer's plans are first made again.
const FIRST_REPLAN: u64 = 1024;

/// The writer's connection: replaced when it broke, its plans discarded when due.
pub(super) async fn ready_connection<'c>(
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

/// Runs [`FAST_SQL`]: the batch's first position, or `None` when a stream was not at the
/// version planned.
pub(super) async fn run_fast(
    client: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    r: &Rows,
    recorded_at: DateTime<Utc>,
) -> std::result::Result<Option<u64>, tokio_postgres::Error> {
    let (continued, continued_from) = r.continued();
    // In `FAST_SQL`'s order: the event columns, then the rest.
    let after: [&(dyn ToSql + Sync); 4] = [&recorded_at, &r.hashes, &continued, &continued_from];
    let params = [r.event_columns().as_slice(), &after].concat();
    let row = client.query_one(statement, &params).await?;
    Ok(row.get::<_, Option<i64>>(0).map(to_u64))
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
}

#[cfg(test)]
mod tests {
    //! The one-flight function, driven directly: numbered and chained by the database exactly
    //! as the crate chains (verify recomputes it), landing after whatever others appended, and
    //! writing nothing when planned on a wrong version.

    use std::collections::HashMap;

    use uuid::Uuid;

    use super::super::Rows;
    use super::{FAST_SQL, run_fast};
    use crate::event::{
        Actor, Direction, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName, now_micros,
    };
    use crate::plan::{Known, Plan};
    use crate::{EventStore, PgOptions, PgStore};

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
