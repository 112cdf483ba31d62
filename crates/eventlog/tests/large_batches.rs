//! Large atomic batches (a card statement is one append of over 100,000 events), on both
//! backends. On PostgreSQL a batch above `LARGE_BATCH_EVENTS` skips the one-flight function:
//! it is looked up and planned under the head lock and streamed in by `COPY`. Whichever way it
//! goes, it keeps every guarantee of a small one.

use std::collections::HashSet;
use std::sync::Arc;

use eventlog::postgres::LARGE_BATCH_EVENTS;
use eventlog::{
    Actor, AppendResult, ExpectedVersion, Filter, Metadata, NewEvent, PgOptions, PgStore, Store,
    StoreError, StreamAppend, StreamName,
};
use serde_json::json;
use testkit::{Backend, TestStore};

testkit::on_each_backend!(
    a_large_batch_is_numbered_versioned_and_chained,
    a_large_batch_sent_again_is_a_retry,
    a_conflict_refuses_a_large_batch_whole,
    a_large_batch_failing_halfway_leaves_nothing,
    small_appends_interleave_with_a_large_batch,
);

/// Events in the large batches: over the threshold, with a margin.
const LARGE: usize = LARGE_BATCH_EVENTS + 1_000;

fn stream(name: &str) -> StreamName {
    StreamName::new(name).unwrap()
}

fn event(n: usize) -> NewEvent {
    let data = json!({ "n": n, "merchant": "BEST BUY #1234", "amount": "1299.99" });
    NewEvent::new("thing-happened", data, Metadata::new(Actor::new("erp", "finance"), "test"))
}

fn events(n: usize) -> Vec<NewEvent> {
    (0..n).map(event).collect()
}

/// `LARGE` events: two for each of `LARGE / 2 - 2` new `statement_tag-…` streams, then two to
/// `a-1` at version 3 and two to `b-1` whatever its version.
fn large_batch(tag: &str) -> Vec<StreamAppend> {
    let mut appends: Vec<StreamAppend> = (0..LARGE / 2 - 2)
        .map(|n| {
            let name = stream(&format!("{tag}-{n}"));
            StreamAppend::new(name, ExpectedVersion::NoStream, events(2))
        })
        .collect();
    appends.push(StreamAppend::new(stream("a-1"), ExpectedVersion::Exact(3), events(2)));
    appends.push(StreamAppend::new(stream("b-1"), ExpectedVersion::Any, events(2)));
    appends
}

/// A store with `a-1` at version 3 and `b-1` at version 1 (head 4).
async fn opened(backend: Backend) -> (TestStore, Store) {
    let test = TestStore::open(backend).await;
    let store = test.shared();
    store.append(&stream("a-1"), ExpectedVersion::NoStream, events(3)).await.unwrap();
    store.append(&stream("b-1"), ExpectedVersion::NoStream, events(1)).await.unwrap();
    (test, store)
}

async fn verified(store: &Store) {
    let verification = store.verify(1, None, &|_| {}).await.unwrap();
    assert!(verification.ok, "{verification:?}");
}

async fn a_large_batch_is_numbered_versioned_and_chained(backend: Backend) {
    let (_test, store) = opened(backend).await;
    let results = store.append_streams(large_batch("statement")).await.unwrap();
    let positions: Vec<u64> = results.iter().flat_map(|r| r.positions.clone()).collect();
    assert_eq!(positions, (5..5 + LARGE as u64).collect::<Vec<_>>(), "dense, after the head");
    assert!(results[..results.len() - 2].iter().all(|r| r.stream_version == 2));
    let [.., a, b] = results.as_slice() else { unreachable!() };
    assert_eq!((a.stream_version, b.stream_version), (5, 3));
    assert!(results.iter().all(|r| !r.already_stored));
    assert_eq!(store.head().await.unwrap(), 4 + LARGE as u64);

    let a_1 = store.read_stream_to_end(&stream("a-1")).await.unwrap();
    let versions: Vec<(u64, u64)> = a_1.iter().map(|e| (e.version, e.position)).collect();
    let last = 4 + LARGE as u64;
    assert_eq!(versions, [(1, 1), (2, 2), (3, 3), (4, last - 3), (5, last - 2)]);
    let first = store.read_stream_to_end(&stream("statement-0")).await.unwrap();
    assert_eq!(first.iter().map(|e| (e.version, e.position)).collect::<Vec<_>>(), [(1, 5), (2, 6)]);
    assert_eq!(first[1].data["n"], 1);
    let all = store.read_all(0, &Filter::all(), 2 * LARGE).await.unwrap();
    assert_eq!(all.len(), 4 + LARGE);
    verified(&store).await;

    // Continuing the streams it wrote (the writer knows their versions) is large too.
    let again: Vec<StreamAppend> = (0..LARGE / 2)
        .map(|n| {
            let name = stream(&format!("statement-{n}"));
            let expected = ExpectedVersion::Exact(if n < LARGE / 2 - 2 { 2 } else { 0 });
            StreamAppend::new(name, expected, events(2))
        })
        .collect();
    let results = store.append_streams(again).await.unwrap();
    assert!(results[..LARGE / 2 - 2].iter().all(|r| r.stream_version == 4));
    assert_eq!(results[0].positions, [last + 1, last + 2]);
    assert_eq!(store.head().await.unwrap(), last + LARGE as u64);
    verified(&store).await;
}

async fn a_large_batch_sent_again_is_a_retry(backend: Backend) {
    let (_test, store) = opened(backend).await;
    let batch = large_batch("statement");
    let first = store.append_streams(batch.clone()).await.unwrap();
    store.append(&stream("c-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    let head = store.head().await.unwrap();
    // The same events again, although `a-1` is no longer at version 3.
    let again = store.append_streams(batch).await.unwrap();
    assert!(again.iter().all(|r| r.already_stored));
    let placed = |results: &[AppendResult]| {
        results.iter().map(|r| (r.stream_version, r.positions.clone())).collect::<Vec<_>>()
    };
    assert_eq!(placed(&again), placed(&first));
    assert_eq!(store.head().await.unwrap(), head);
    verified(&store).await;
}

async fn a_conflict_refuses_a_large_batch_whole(backend: Backend) {
    let (_test, store) = opened(backend).await;
    let unchanged = |store: Store| async move {
        assert_eq!(store.head().await.unwrap(), 4);
        assert!(store.read_stream_to_end(&stream("statement-0")).await.unwrap().is_empty());
        assert_eq!(store.read_stream_to_end(&stream("a-1")).await.unwrap().len(), 3);
        verified(&store).await;
    };
    // The last stream's expectation fails: nothing before it is written.
    let mut batch = large_batch("statement");
    batch.last_mut().unwrap().expected = ExpectedVersion::NoStream;
    match store.append_streams(batch).await {
        Err(StoreError::WrongExpectedVersion { stream, actual: 1, .. }) => {
            assert_eq!(stream.as_str(), "b-1")
        }
        other => panic!("expected a conflict on b-1, got {:?}", other.map(|r| r.len())),
    }
    unchanged(store.clone()).await;
    // An event id stored in another stream.
    let stored = store.read_stream_to_end(&stream("b-1")).await.unwrap()[0].id;
    let mut batch = large_batch("statement");
    let mut moved = event(0);
    moved.id = stored;
    batch[10].events.push(moved);
    let refused = store.append_streams(batch).await;
    assert!(matches!(refused, Err(StoreError::DuplicateEventId { .. })), "{:?}", refused.err());
    unchanged(store.clone()).await;
    // The log goes on.
    let done = store.append_streams(large_batch("statement")).await.unwrap();
    assert_eq!(done[0].positions, [5, 6]);
    verified(&store).await;
}

async fn a_large_batch_failing_halfway_leaves_nothing(backend: Backend) {
    let (test, store) = opened(backend).await;
    // A trigger makes the database refuse an event deep in the batch.
    match &test {
        TestStore::Postgres { store, .. } => {
            let client = store.pool().get().await.unwrap();
            client
                .batch_execute(
                    "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                       IF NEW.event_type = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; \
                       RETURN NEW; END $$; \
                     CREATE TRIGGER boom BEFORE INSERT ON events FOR EACH ROW \
                       EXECUTE FUNCTION boom();",
                )
                .await
                .unwrap();
        }
        TestStore::Sqlite { store, .. } => {
            let sql = "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.event_type = 'boom' \
                       BEGIN SELECT RAISE(ABORT, 'boom'); END;";
            store.with_connection(move |c| Ok(c.execute_batch(sql)?)).await.unwrap();
        }
    }
    let mut batch = large_batch("statement");
    let boom = NewEvent::new("boom", json!({}), Metadata::new(Actor::system("t"), "test"));
    batch[LARGE / 4].events.push(boom);
    assert!(store.append_streams(batch).await.is_err());
    assert_eq!(store.head().await.unwrap(), 4);
    assert!(store.read_stream_to_end(&stream("statement-0")).await.unwrap().is_empty());
    // The connection and the log go on as if nothing happened.
    let done = store.append_streams(large_batch("statement")).await.unwrap();
    assert_eq!(done[0].positions, [5, 6]);
    let small = store.append(&stream("c-1"), ExpectedVersion::NoStream, events(1)).await.unwrap();
    assert_eq!(small.positions, [5 + LARGE as u64]);
    verified(&store).await;
}

async fn small_appends_interleave_with_a_large_batch(backend: Backend) {
    let (test, store) = opened(backend).await;
    // Small appends from this instance and, on PostgreSQL, from another one (another process
    // taking turns at the head lock), some to a stream the large batch also appends to.
    let mut instances = vec![store.clone()];
    if let Some(url) = test.database_url() {
        instances.push(Arc::new(PgStore::connect(url, PgOptions::default()).await.unwrap()));
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let small: Vec<_> = instances
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let mut appended = Vec::new();
                let mut n = 0;
                // Until the large batch is in, and a few more after it.
                let mut after = 0;
                while after < 5 {
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        after += 1;
                    }
                    let target = if n % 3 == 0 { stream("b-1") } else { stream(&format!("s-{i}")) };
                    let e = event(n);
                    let id = e.id;
                    let result = store.append(&target, ExpectedVersion::Any, vec![e]).await;
                    appended.push((id, result.unwrap().positions[0]));
                    n += 1;
                    tokio::task::yield_now().await;
                }
                appended
            })
        })
        .collect();
    let results = store.append_streams(large_batch("statement")).await.unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut small_positions = Vec::new();
    for task in small {
        small_positions.extend(task.await.unwrap());
    }

    // The large batch is one contiguous run of positions; the small appends fall around it.
    let batch: Vec<u64> = results.iter().flat_map(|r| r.positions.clone()).collect();
    let (first, last) = (batch[0], batch[batch.len() - 1]);
    assert_eq!(batch, (first..=last).collect::<Vec<_>>());
    assert!(small_positions.iter().all(|(_, p)| *p < first || *p > last));
    // Every position once, each event where its append said.
    let head = store.head().await.unwrap();
    assert_eq!(head, 4 + (LARGE + small_positions.len()) as u64);
    let all = store.read_all(0, &Filter::all(), 2 * head as usize).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<_>>());
    let at: std::collections::HashMap<_, _> = all.iter().map(|e| (e.id, e.position)).collect();
    assert!(small_positions.iter().all(|(id, p)| at[id] == *p));
    let ids: HashSet<_> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), all.len());
    // The shared stream's versions follow the global order.
    let b_1 = store.read_stream_to_end(&stream("b-1")).await.unwrap();
    assert!(
        b_1.windows(2).all(|w| w[0].version + 1 == w[1].version && w[0].position < w[1].position)
    );
    verified(&store).await;
}
