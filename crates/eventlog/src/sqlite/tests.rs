//! The embedded writer's batches: appends queued together commit as one, each decided
//! alone, and followers hear of them whoever waits.

use serde_json::json;

use super::*;
use crate::event::{ExpectedVersion, NewEvent};
use crate::{Actor, Metadata};

fn append(stream: &str, expected: ExpectedVersion) -> Vec<StreamAppend> {
    append_of(stream, expected, "noted")
}

fn append_of(stream: &str, expected: ExpectedVersion, kind: &str) -> Vec<StreamAppend> {
    let meta = Metadata::new(Actor::new("jdoe", "it_staff"), "test");
    let event = NewEvent::new(kind, json!({}), meta);
    vec![StreamAppend::new(StreamName::new(stream).unwrap(), expected, vec![event])]
}

/// Keeps the writer busy until the sender returned is used (or dropped): what is sent to
/// it meanwhile queues behind.
fn busy_writer(
    store: &SqliteStore,
) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<Result<()>>) {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let writer = store.inner.writer.clone();
    let busy = tokio::spawn(async move {
        writer
            .run(move |_| {
                wait.recv().ok();
                Ok(())
            })
            .await
    });
    (release, busy)
}

/// Sends each of `appends` from a task of its own, in order, while the writer is busy
/// (so they queue behind it: on a test's one thread, tasks start in the order spawned),
/// then frees the writer; their outcomes.
async fn queued_behind_a_busy_writer(
    store: &SqliteStore,
    appends: Vec<Vec<StreamAppend>>,
) -> Vec<Result<Vec<AppendResult>>> {
    let (release, busy) = busy_writer(store);
    let sent: Vec<_> = appends
        .into_iter()
        .map(|a| {
            let store = store.clone();
            tokio::spawn(async move { store.append_streams(a).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    let mut outcomes = Vec::new();
    for s in sent {
        outcomes.push(s.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn appends_waiting_together_commit_as_one_batch_each_decided_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("log.sqlite3")).await.unwrap();
    // Given the writer busy, and five appends sent meanwhile: three to streams of their
    // own, two racing to start one stream.
    let appends = ["a-1", "b-1", "race-1", "race-1", "c-1"]
        .map(|s| append(s, ExpectedVersion::NoStream))
        .to_vec();
    let outcomes = queued_behind_a_busy_writer(&store, appends).await;
    // When the writer is free, then one transaction wrote the four accepted ones (one time
    // recorded), the second racer alone refused.
    let refused: Vec<bool> = outcomes.iter().map(Result::is_err).collect();
    assert_eq!(refused, [false, false, false, true, false]);
    assert!(outcomes[3].as_ref().unwrap_err().is_conflict());
    let log = store.read_all(0, &Filter::all(), 10).await.unwrap();
    assert_eq!(log.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(log.windows(2).all(|w| w[0].recorded_at == w[1].recorded_at), "{log:?}");
    assert!(store.verify(1, None, &|_| {}).await.unwrap().ok);
}

#[tokio::test]
async fn a_batch_the_database_refuses_whole_is_written_again_one_append_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("log.sqlite3")).await.unwrap();
    store
        .with_connection(|conn| {
            conn.execute_batch(
                "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.event_type = 'boom' \
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    // Given three appends queued behind a busy writer, the second of which the database
    // refuses.
    let appends = vec![
        append("a-1", ExpectedVersion::NoStream),
        append_of("b-1", ExpectedVersion::NoStream, "boom"),
        append("c-1", ExpectedVersion::NoStream),
    ];
    let outcomes = queued_behind_a_busy_writer(&store, appends).await;
    // Then that one alone fails; the others were written each in a transaction of its
    // own (two times recorded), in order, the chain whole.
    assert_eq!(outcomes.iter().map(Result::is_ok).collect::<Vec<_>>(), [true, false, true]);
    let log = store.read_all(0, &Filter::all(), 10).await.unwrap();
    let streams: Vec<&str> = log.iter().map(|e| e.stream.as_str()).collect();
    assert_eq!(streams, ["a-1", "c-1"]);
    assert_eq!(log.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2]);
    assert_ne!(log[0].recorded_at, log[1].recorded_at);
    assert!(store.verify(1, None, &|_| {}).await.unwrap().ok);
}

#[tokio::test]
async fn an_append_whose_caller_went_away_still_moves_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("log.sqlite3")).await.unwrap();
    let (release, busy) = busy_writer(&store);
    // Given an append sent while the writer is busy, whose caller then goes away.
    let caller = {
        let store = store.clone();
        tokio::spawn(
            async move { store.append_streams(append("a-1", ExpectedVersion::NoStream)).await },
        )
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    caller.abort();
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    // When the writer has done what was sent before this, then the event is stored and
    // every follower of the head is told.
    store.inner.writer.run(|_| Ok(())).await.unwrap();
    assert_eq!(*store.watch_head().borrow(), 1);
    assert_eq!(store.head().await.unwrap(), 1);
}
