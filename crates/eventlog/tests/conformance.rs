//! One conformance suite, run against every backend.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use eventlog::{
    Actor, Direction, DocKey, Docs, EventStore, ExpectedVersion, Filter, Metadata, NewEvent,
    PgOptions, PgStore, Projection, RecordedEvent, Seen, SqliteStore, Store, StoreError,
    StreamAppend, StreamName, Subscription,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// A store under test, with raw SQL access to its database for tampering and fault injection.
struct Harness {
    store: Store,
    raw: Raw,
    /// Opens a second, independent instance on the same database (another service instance).
    reopen: Box<dyn Fn() -> futures::future::BoxFuture<'static, Store> + Send + Sync>,
    _guard: Box<dyn std::any::Any + Send>,
}

enum Raw {
    Pg(PgStore),
    Sqlite(SqliteStore),
}

impl Raw {
    async fn exec(&self, pg: &str, sqlite: &str) {
        match self {
            Raw::Pg(store) => {
                let client = store.pool().get().await.unwrap();
                client.batch_execute(pg).await.unwrap();
            }
            Raw::Sqlite(store) => {
                let sql = sqlite.to_owned();
                store.with_connection(move |c| Ok(c.execute_batch(&sql)?)).await.unwrap();
            }
        }
    }
}

async fn postgres() -> Harness {
    let db = testkit::pg_database().await;
    let url = db.url().to_owned();
    let store = PgStore::connect(&url, PgOptions::default()).await.unwrap();
    Harness {
        store: Arc::new(store.clone()),
        raw: Raw::Pg(store),
        reopen: Box::new(move || {
            let url = url.clone();
            Box::pin(async move {
                Arc::new(PgStore::connect(&url, PgOptions::default()).await.unwrap()) as Store
            })
        }),
        _guard: Box::new(db),
    }
}

async fn sqlite() -> Harness {
    let (dir, path) = testkit::sqlite_path();
    let store = SqliteStore::open(&path).await.unwrap();
    Harness {
        store: Arc::new(store.clone()),
        raw: Raw::Sqlite(store),
        reopen: Box::new(move || {
            let path = path.clone();
            Box::pin(async move { Arc::new(SqliteStore::open(&path).await.unwrap()) as Store })
        }),
        _guard: Box::new(dir),
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::postgres().await).await;
                }
            )*
        }
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::sqlite().await).await;
                }
            )*
        }
    };
}

conformance!(
    appends_and_reads_a_stream,
    expected_versions_are_enforced,
    retries_are_idempotent,
    duplicate_ids_in_another_stream_conflict,
    multi_stream_appends_are_atomic,
    an_append_failing_halfway_leaves_nothing,
    concurrent_appends_are_each_decided_alone,
    bad_appends_are_refused,
    reads_the_log_with_filters,
    metadata_and_time_are_recorded,
    subscriptions_catch_up_then_go_live,
    a_follower_at_the_head_does_not_read_the_table,
    checkpoints_survive_a_restart,
    projections_commit_documents_with_their_checkpoint,
    a_failing_projection_writes_nothing,
    documents_known_only_from_others_are_fetched_in_another_round,
    rebuilt_projection_equals_incremental,
    a_projection_whose_definition_changed_is_rebuilt_once,
    two_runners_of_one_projection_never_report_unapplied_events,
    a_batch_read_before_a_reset_is_not_applied,
    a_batch_read_before_an_erasure_reset_is_not_applied_even_once_rebuilt_past_it,
    a_runner_rebuilds_documents_another_instance_reset,
    verify_passes_on_an_untouched_log,
    verify_names_a_changed_event,
    verify_names_a_deleted_event,
    verify_names_swapped_events,
    verify_names_an_event_past_the_head,
    verify_names_an_event_moved_to_another_category,
    concurrent_writers_and_a_tailing_reader,
);

fn stream(name: &str) -> StreamName {
    StreamName::new(name).unwrap()
}

fn meta() -> Metadata {
    Metadata::new(Actor::new("alice", "it_staff"), "test")
}

fn event(kind: &str, data: Value) -> NewEvent {
    NewEvent::new(kind, data, meta())
}

fn events(n: usize) -> Vec<NewEvent> {
    (0..n).map(|i| event("thing-happened", json!({ "n": i }))).collect()
}

async fn appends_and_reads_a_stream(h: Harness) {
    let s = stream("purchase-1");
    let r = h.store.append(&s, ExpectedVersion::NoStream, events(3)).await.unwrap();
    assert_eq!(r.stream_version, 3);
    assert_eq!(r.positions, vec![1, 2, 3]);
    assert!(!r.already_stored);
    let r = h.store.append(&s, ExpectedVersion::Exact(3), events(2)).await.unwrap();
    assert_eq!((r.stream_version, r.positions.clone()), (5, vec![4, 5]));

    let all = h.store.read_stream(&s, 1, Direction::Forwards, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert_eq!(all[2].data, json!({ "n": 2 }));
    let from3 = h.store.read_stream(&s, 3, Direction::Forwards, 2).await.unwrap();
    assert_eq!(from3.iter().map(|e| e.version).collect::<Vec<_>>(), vec![3, 4]);
    let back = h.store.read_stream(&s, u64::MAX, Direction::Backwards, 2).await.unwrap();
    assert_eq!(back.iter().map(|e| e.version).collect::<Vec<_>>(), vec![5, 4]);
    let back3 = h.store.read_stream(&s, 3, Direction::Backwards, 10).await.unwrap();
    assert_eq!(back3.iter().map(|e| e.version).collect::<Vec<_>>(), vec![3, 2, 1]);
    assert!(
        h.store
            .read_stream(&stream("purchase-2"), 1, Direction::Forwards, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.store.read_stream_to_end(&s).await.unwrap(), all);
    let several = h
        .store
        .read_streams(&[(s.clone(), 4), (stream("purchase-2"), 1), (s.clone(), 1)])
        .await
        .unwrap();
    assert_eq!(several, vec![all[3..].to_vec(), vec![], all.clone()]);
    assert_eq!(h.store.head().await.unwrap(), 5);
}

async fn expected_versions_are_enforced(h: Harness) {
    let s = stream("school-lincoln");
    h.store.append(&s, ExpectedVersion::NoStream, events(2)).await.unwrap();
    for (expected, label) in [
        (ExpectedVersion::NoStream, "no stream"),
        (ExpectedVersion::Exact(1), "behind"),
        (ExpectedVersion::Exact(7), "ahead"),
    ] {
        match h.store.append(&s, expected, events(1)).await {
            Err(StoreError::WrongExpectedVersion { stream, expected: e, actual }) => {
                assert_eq!(
                    (stream.as_str(), e, actual),
                    ("school-lincoln", expected, 2),
                    "{label}"
                );
            }
            other => panic!("{label}: expected a conflict, got {other:?}"),
        }
    }
    match h.store.append(&stream("school-other"), ExpectedVersion::Exact(1), events(1)).await {
        Err(StoreError::WrongExpectedVersion { actual: 0, .. }) => {}
        other => panic!("expected a conflict naming version 0, got {other:?}"),
    }
    // Nothing was written by the refusals.
    assert_eq!(h.store.head().await.unwrap(), 2);
    let r = h.store.append(&s, ExpectedVersion::Exact(2), events(1)).await.unwrap();
    assert_eq!(r.stream_version, 3);
    let r = h.store.append(&s, ExpectedVersion::Any, events(1)).await.unwrap();
    assert_eq!(r.stream_version, 4);
    let r = h.store.append(&stream("school-new"), ExpectedVersion::Any, events(1)).await.unwrap();
    assert_eq!(r.stream_version, 1);
    assert_eq!(ExpectedVersion::after(0), ExpectedVersion::NoStream);
}

async fn retries_are_idempotent(h: Harness) {
    let s = stream("purchase-9");
    let batch = events(3);
    let first = h.store.append(&s, ExpectedVersion::NoStream, batch.clone()).await.unwrap();
    h.store.append(&stream("other-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    // The same events again, even with an expected version that no longer holds.
    let again = h.store.append(&s, ExpectedVersion::NoStream, batch.clone()).await.unwrap();
    assert!(again.already_stored);
    assert_eq!(
        (again.stream_version, again.positions.clone()),
        (first.stream_version, first.positions.clone())
    );
    assert_eq!(h.store.head().await.unwrap(), 5);
    assert_eq!(h.store.read_stream_to_end(&s).await.unwrap().len(), 3);

    // Some stored, some new: not a retry.
    let mut mixed = batch.clone();
    mixed.push(event("thing-happened", json!({})));
    match h.store.append(&s, ExpectedVersion::Any, mixed).await {
        Err(e @ StoreError::PartlyStored { .. }) => assert!(e.is_conflict()),
        other => panic!("expected PartlyStored, got {other:?}"),
    }
    // The error names an event that is stored, even when a new one comes first.
    let fresh_first = vec![event("thing-happened", json!({})), batch[1].clone()];
    match h.store.append(&s, ExpectedVersion::Any, fresh_first).await {
        Err(StoreError::PartlyStored { event_id }) => assert_eq!(event_id, batch[1].id),
        other => panic!("expected PartlyStored, got {other:?}"),
    }
    assert_eq!(h.store.head().await.unwrap(), 5);
}

async fn duplicate_ids_in_another_stream_conflict(h: Harness) {
    let e = event("thing-happened", json!({}));
    h.store.append(&stream("a-1"), ExpectedVersion::Any, vec![e.clone()]).await.unwrap();
    match h.store.append(&stream("b-1"), ExpectedVersion::Any, vec![e.clone()]).await {
        Err(StoreError::DuplicateEventId { event_id, stored_in, sent_to }) => {
            assert_eq!((event_id, stored_in.as_str(), sent_to.as_str()), (e.id, "a-1", "b-1"));
        }
        other => panic!("expected DuplicateEventId, got {other:?}"),
    }
    assert_eq!(h.store.head().await.unwrap(), 1);
}

async fn multi_stream_appends_are_atomic(h: Harness) {
    h.store.append(&stream("b-2"), ExpectedVersion::Any, events(1)).await.unwrap();
    // The second stream's expectation fails: nothing of the first is written.
    let refused = h
        .store
        .append_streams(vec![
            StreamAppend::new(stream("a-2"), ExpectedVersion::NoStream, events(2)),
            StreamAppend::new(stream("b-2"), ExpectedVersion::NoStream, events(1)),
        ])
        .await;
    match refused {
        Err(StoreError::WrongExpectedVersion { stream, actual: 1, .. }) => {
            assert_eq!(stream.as_str(), "b-2")
        }
        other => panic!("expected a conflict on b-2, got {other:?}"),
    }
    assert!(h.store.read_stream_to_end(&stream("a-2")).await.unwrap().is_empty());
    assert_eq!(h.store.head().await.unwrap(), 1);

    let done = h
        .store
        .append_streams(vec![
            StreamAppend::new(stream("a-2"), ExpectedVersion::NoStream, events(2)),
            StreamAppend::new(stream("b-2"), ExpectedVersion::Exact(1), events(1)),
            StreamAppend::new(stream("c-2"), ExpectedVersion::Any, events(3)),
        ])
        .await
        .unwrap();
    assert_eq!(done.iter().map(|r| r.stream_version).collect::<Vec<_>>(), vec![2, 2, 3]);
    let positions: Vec<u64> = done.iter().flat_map(|r| r.positions.clone()).collect();
    assert_eq!(positions, vec![2, 3, 4, 5, 6, 7]);
    // The retry of the whole batch returns the same.
    let retry = h
        .store
        .append_streams(vec![StreamAppend::new(stream("a-2"), ExpectedVersion::NoStream, vec![])])
        .await;
    assert!(matches!(retry, Err(StoreError::EmptyAppend)));
}

/// Makes the database refuse every event of type `boom`, with a trigger.
async fn refuse_booms(h: &Harness) {
    h.raw
        .exec(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.event_type = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION boom();",
            "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.event_type = 'boom' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .await;
}

async fn an_append_failing_halfway_leaves_nothing(h: Harness) {
    // A trigger makes the database refuse the third event, after the first two were inserted.
    refuse_booms(&h).await;
    let mut batch = events(2);
    batch.push(event("boom", json!({})));
    let failed = h
        .store
        .append_streams(vec![
            StreamAppend::new(stream("a-3"), ExpectedVersion::Any, events(2)),
            StreamAppend::new(stream("b-3"), ExpectedVersion::Any, batch),
        ])
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(h.store.head().await.unwrap(), 0);
    assert!(h.store.read_stream_to_end(&stream("a-3")).await.unwrap().is_empty());
    assert!(h.store.read_stream_to_end(&stream("b-3")).await.unwrap().is_empty());
    // The log goes on as if nothing happened.
    let r = h.store.append(&stream("a-3"), ExpectedVersion::NoStream, events(1)).await.unwrap();
    assert_eq!(r.positions, vec![1]);
    assert!(h.store.verify(1, None, &|_| {}).await.unwrap().ok);
}

async fn concurrent_appends_are_each_decided_alone(h: Harness) {
    refuse_booms(&h).await;
    // Sent at once (the store may write them in one transaction): 16 racing to start one
    // stream, 16 each starting its own, and one the database refuses halfway.
    let mut racing = Vec::new();
    let mut own = Vec::new();
    for n in 0..16 {
        let store = h.store.clone();
        racing.push(tokio::spawn(async move {
            store.append(&stream("race-1"), ExpectedVersion::NoStream, events(2)).await
        }));
        let store = h.store.clone();
        own.push(tokio::spawn(async move {
            store.append(&stream(&format!("own-{n}")), ExpectedVersion::NoStream, events(1)).await
        }));
    }
    let store = h.store.clone();
    let refused = tokio::spawn(async move {
        let batch = vec![event("fine", json!({})), event("boom", json!({}))];
        store.append(&stream("boom-1"), ExpectedVersion::Any, batch).await
    });
    // One started the stream; every other was refused for its expected version alone.
    let mut won = 0;
    for r in racing {
        match r.await.unwrap() {
            Ok(result) => {
                won += 1;
                assert_eq!(result.stream_version, 2);
            }
            Err(e) => assert!(e.is_conflict(), "{e}"),
        }
    }
    assert_eq!(won, 1);
    for r in own {
        assert_eq!(r.await.unwrap().unwrap().stream_version, 1);
    }
    assert!(refused.await.unwrap().is_err());
    assert!(h.store.read_stream_to_end(&stream("boom-1")).await.unwrap().is_empty());
    // Every accepted event once, numbered without a gap, the chain whole.
    assert_eq!(h.store.head().await.unwrap(), 2 + 16);
    let all = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=18).collect::<Vec<u64>>());
    assert!(h.store.verify(1, None, &|_| {}).await.unwrap().ok);
}

async fn bad_appends_are_refused(h: Harness) {
    assert!(StreamName::new("nodash").is_err());
    assert!(StreamName::new("-x").is_err());
    assert!(StreamName::new("x-").is_err());
    assert!(StreamName::new("has space-1").is_err());
    assert!(StreamName::new("x".repeat(300) + "-1").is_err());
    assert_eq!(StreamName::new("school-lincoln-elem").unwrap().category(), "school");
    assert_eq!(StreamName::new("school-lincoln-elem").unwrap().id(), "lincoln-elem");
    let s = stream("a-4");
    assert!(matches!(
        h.store.append(&s, ExpectedVersion::Any, vec![]).await,
        Err(StoreError::EmptyAppend)
    ));
    let bad_type = vec![event("", json!({}))];
    assert!(matches!(
        h.store.append(&s, ExpectedVersion::Any, bad_type).await,
        Err(StoreError::InvalidEvent(_))
    ));
    let e = event("x", json!({}));
    let twice = vec![e.clone(), e];
    assert!(matches!(
        h.store.append(&s, ExpectedVersion::Any, twice).await,
        Err(StoreError::InvalidEvent(_))
    ));
    let same_stream_twice = h
        .store
        .append_streams(vec![
            StreamAppend::new(s.clone(), ExpectedVersion::Any, events(1)),
            StreamAppend::new(s.clone(), ExpectedVersion::Any, events(1)),
        ])
        .await;
    assert!(matches!(same_stream_twice, Err(StoreError::InvalidEvent(_))));
    assert_eq!(h.store.head().await.unwrap(), 0);
}

async fn reads_the_log_with_filters(h: Harness) {
    for (s, kind) in [
        ("purchase-1", "purchase-submitted"),
        ("school-a", "school-registered"),
        ("purchase-2", "purchase-submitted"),
        ("purchase-1", "purchase-decided"),
        ("school-b", "school-registered"),
        ("catalog-main", "product-added"),
    ] {
        h.store
            .append(&stream(s), ExpectedVersion::Any, vec![event(kind, json!({}))])
            .await
            .unwrap();
    }
    let positions =
        |events: Vec<RecordedEvent>| events.iter().map(|e| e.position).collect::<Vec<_>>();
    assert_eq!(
        positions(h.store.read_all(0, &Filter::all(), 100).await.unwrap()),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(positions(h.store.read_all(2, &Filter::all(), 3).await.unwrap()), vec![3, 4, 5]);
    assert_eq!(
        positions(h.store.read_all(0, &Filter::categories(["purchase"]), 100).await.unwrap()),
        vec![1, 3, 4]
    );
    assert_eq!(
        positions(
            h.store.read_all(0, &Filter::categories(["school", "catalog"]), 100).await.unwrap()
        ),
        vec![2, 5, 6]
    );
    assert_eq!(
        positions(
            h.store
                .read_all(0, &Filter::all().with_types(["purchase-submitted"]), 100)
                .await
                .unwrap()
        ),
        vec![1, 3]
    );
    assert_eq!(
        positions(
            h.store
                .read_all(
                    1,
                    &Filter::categories(["purchase"]).with_types(["purchase-submitted"]),
                    100
                )
                .await
                .unwrap()
        ),
        vec![3]
    );
    assert_eq!(positions(h.store.read_category("school", 2, 10).await.unwrap()), vec![5]);
    assert!(h.store.read_all(6, &Filter::all(), 10).await.unwrap().is_empty());
    assert_eq!(h.store.head().await.unwrap(), 6);
    assert_eq!(*h.store.watch_head().borrow(), 6);
}

async fn metadata_and_time_are_recorded(h: Harness) {
    let correlation = Uuid::now_v7();
    let cause = Uuid::now_v7();
    let mut m = Metadata::new(Actor::new("finance-sys", "finance"), "gate")
        .correlated(correlation, Some(cause));
    m.schema_version = 2;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    h.store
        .append(
            &stream("purchase-7"),
            ExpectedVersion::Any,
            vec![NewEvent::new("x", json!({"a": [1, 2.5, "é"]}), m.clone())],
        )
        .await
        .unwrap();
    let e = &h.store.read_all(0, &Filter::all(), 1).await.unwrap()[0];
    assert_eq!(e.metadata, m);
    assert_eq!(e.data, json!({"a": [1, 2.5, "é"]}));
    assert!(e.recorded_at >= before && e.recorded_at <= chrono::Utc::now());
    assert_eq!(e.hash.len(), 64);
    assert_eq!(e.category(), "purchase");
    assert_eq!(e.stream_id(), "7");
}

async fn subscriptions_catch_up_then_go_live(h: Harness) {
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(3)).await.unwrap();
    h.store.append(&stream("b-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    let mut sub = Subscription::new(h.store.watch_head(), 1, Filter::all(), 100);
    let first = sub.next(&*h.store).await.unwrap();
    assert_eq!(first.iter().map(|e| e.position).collect::<Vec<_>>(), vec![2, 3, 4, 5]);

    // Only category `a`, from the start; then live.
    let store = h.store.clone();
    let live = tokio::spawn(async move {
        let mut sub = Subscription::new(store.watch_head(), 0, Filter::categories(["a"]), 100);
        let mut seen = vec![];
        while seen.len() < 5 {
            seen.extend(sub.next(&*store).await.unwrap().into_iter().map(|e| e.position));
        }
        (seen, sub.position())
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.store.append(&stream("b-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    let (seen, position) =
        tokio::time::timeout(Duration::from_secs(10), live).await.unwrap().unwrap();
    assert_eq!(seen, vec![1, 2, 3, 7, 8]);
    assert_eq!(position, 8);

    // A subscriber on another instance (another process) is woken too.
    let other = (h.reopen)().await;
    let mut sub = Subscription::new(other.watch_head(), 8, Filter::all(), 100);
    let waiter = tokio::spawn(async move { sub.next(&*other).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.store.append(&stream("c-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), waiter).await.unwrap().unwrap();
    assert_eq!(got.iter().map(|e| e.position).collect::<Vec<_>>(), vec![9]);
}

async fn a_follower_at_the_head_does_not_read_the_table(h: Harness) {
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    h.store.append(&stream("b-1"), ExpectedVersion::Any, events(3)).await.unwrap();
    let mut sub = Subscription::new(h.store.watch_head(), 0, Filter::categories(["a"]), 100);
    let got = sub.poll(&*h.store).await.unwrap().unwrap();
    assert_eq!(got.iter().map(|e| e.position).collect::<Vec<_>>(), vec![1, 2]);
    // A read shorter than a batch saw everything up to the head: the follower is at the head,
    // not at its last match, and the `b` events after it are not scanned again.
    assert_eq!(sub.position(), 5);

    // With the log's table out of reach, a follower at the head still answers: it does not ask.
    let other = (h.reopen)().await;
    let away = "ALTER TABLE events RENAME TO events_away";
    let back = "ALTER TABLE events_away RENAME TO events";
    h.raw.exec(away, away).await;
    assert!(sub.poll(&*h.store).await.unwrap().is_none());
    // A follower behind the head on another instance (nothing in memory) does ask, and fails.
    let mut behind = Subscription::new(other.watch_head(), 3, Filter::all(), 100);
    let refused = behind.poll(&*other).await;
    assert!(refused.is_err(), "{refused:?}");
    h.raw.exec(back, back).await;
    let got = behind.poll(&*other).await.unwrap().unwrap();
    assert_eq!(got.iter().map(|e| e.position).collect::<Vec<_>>(), vec![4, 5]);
}

async fn checkpoints_survive_a_restart(h: Harness) {
    assert_eq!(h.store.checkpoint("mailer").await.unwrap(), None);
    h.store.save_checkpoint("mailer", 41).await.unwrap();
    h.store.save_checkpoint("mailer", 42).await.unwrap();
    h.store.save_checkpoint("other", 7).await.unwrap();
    drop(h.store);
    let restarted = (h.reopen)().await;
    assert_eq!(restarted.checkpoint("mailer").await.unwrap(), Some(42));
    assert_eq!(restarted.checkpoint("other").await.unwrap(), Some(7));
    restarted.append(&stream("a-1"), ExpectedVersion::Any, events(3)).await.unwrap();
    let mut sub = Subscription::resume(&*restarted, "other", Filter::all()).await.unwrap();
    assert_eq!(sub.position(), 7);
    restarted.save_checkpoint("other", 1).await.unwrap();
    let mut sub2 = Subscription::resume(&*restarted, "other", Filter::all()).await.unwrap();
    assert_eq!(
        sub2.next(&*restarted).await.unwrap().iter().map(|e| e.position).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert!(sub.poll(&*restarted).await.unwrap().is_none());

    // Advancing moves a checkpoint only forward, and starts one.
    restarted.advance_checkpoint("acked", 5).await.unwrap();
    restarted.advance_checkpoint("acked", 9).await.unwrap();
    restarted.advance_checkpoint("acked", 6).await.unwrap();
    assert_eq!(restarted.checkpoint("acked").await.unwrap(), Some(9));
}

/// Counts events per stream and per category; fails on an event of type `poison`.
struct Counter;

impl Projection for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    fn filter(&self) -> Filter {
        Filter::categories(["a", "b", "p"])
    }
    fn collections(&self) -> Vec<String> {
        vec!["counter-streams".into(), "counter-categories".into()]
    }
    fn keys(&self, e: &RecordedEvent) -> Vec<DocKey> {
        vec![
            DocKey::new("counter-streams", &e.stream),
            DocKey::new("counter-categories", e.category()),
        ]
    }
    fn apply(&self, e: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        if e.event_type == "poison" {
            return Err("poisoned".into());
        }
        for (collection, key) in
            [("counter-streams", e.stream.as_str()), ("counter-categories", e.category())]
        {
            let n = docs.get(collection, key).and_then(|v| v["count"].as_u64()).unwrap_or(0);
            if n + 1 == 3 && collection == "counter-streams" {
                docs.remove(collection, key);
            } else {
                docs.put(collection, key, json!({ "count": n + 1, "last": e.position }));
            }
        }
        Ok(())
    }
}

async fn state(
    store: &dyn EventStore,
) -> (Vec<(String, Value)>, Vec<(String, Value)>, Option<u64>) {
    (
        store.documents("counter-streams").await.unwrap(),
        store.documents("counter-categories").await.unwrap(),
        store.checkpoint("counter").await.unwrap(),
    )
}

async fn projections_commit_documents_with_their_checkpoint(h: Harness) {
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    h.store.append(&stream("z-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    h.store.append(&stream("b-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    let all = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    let checkpoint = h.store.apply_projection(&Counter, at(0), &all).await.unwrap();
    assert_eq!(checkpoint, 4);
    let (streams, categories, cp) = state(&*h.store).await;
    assert_eq!(
        streams,
        vec![
            ("a-1".into(), json!({"count": 2, "last": 2})),
            ("b-1".into(), json!({"count": 1, "last": 4}))
        ]
    );
    assert_eq!(categories.len(), 2);
    assert_eq!(cp, Some(4));
    // Applying the same events again changes nothing: they are behind the checkpoint.
    assert_eq!(h.store.apply_projection(&Counter, at(4), &all).await.unwrap(), 4);
    assert_eq!(state(&*h.store).await, (streams, categories, cp));
    assert_eq!(
        h.store.document("counter-streams", "a-1").await.unwrap(),
        Some(json!({"count": 2, "last": 2}))
    );
    assert_eq!(h.store.document("counter-streams", "nope").await.unwrap(), None);
    let keys = ["b-1", "nope", "a-1", "b-1"].map(String::from);
    assert_eq!(
        h.store.documents_at("counter-streams", &keys).await.unwrap(),
        vec![
            ("a-1".into(), json!({"count": 2, "last": 2})),
            ("b-1".into(), json!({"count": 1, "last": 4}))
        ],
        "the documents at those keys that exist, once each, in key order"
    );
    let between = |first: Option<&'static str>, last: Option<&'static str>| {
        let store = h.store.clone();
        async move {
            let docs = store.documents_between("counter-streams", first, last).await.unwrap();
            docs.into_iter().map(|(key, _)| key).collect::<Vec<_>>()
        }
    };
    assert_eq!(between(None, None).await, ["a-1", "b-1"]);
    assert_eq!(between(Some("a-2"), None).await, ["b-1"]);
    assert_eq!(between(None, Some("a-1")).await, ["a-1"]);
    assert_eq!(between(Some("a-1"), Some("b-1")).await, ["a-1", "b-1"]);
    assert_eq!(between(Some("b-2"), Some("z")).await, Vec::<String>::new());
    // Byte by byte: "Z" sorts before "a", whatever the database's collation says.
    assert_eq!(between(Some("Z"), Some("b")).await, ["a-1"]);

    // The third event of a stream deletes its document.
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    let handle = eventlog::spawn_projection(h.store.clone(), Arc::new(Counter));
    tokio::time::timeout(Duration::from_secs(10), handle.catch_up(&*h.store))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(h.store.document("counter-streams", "a-1").await.unwrap(), None);
    assert_eq!(h.store.checkpoint("counter").await.unwrap(), Some(5));
    // And it follows the log live.
    h.store.append(&stream("p-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle.wait_for(6)).await.unwrap().unwrap();
    assert_eq!(
        h.store.document("counter-streams", "p-1").await.unwrap(),
        Some(json!({"count": 1, "last": 6}))
    );
}

/// [`Counter`] at another version of its definition, rebuilt after each erasure when
/// `erasures` (which [`Counter`] is not).
struct CounterAt {
    version: u64,
    erasures: bool,
}

/// [`Counter`] at `version` of its definition.
fn counter_at(version: u64) -> CounterAt {
    CounterAt { version, erasures: false }
}

impl Projection for CounterAt {
    fn name(&self) -> &str {
        Counter.name()
    }
    fn filter(&self) -> Filter {
        Counter.filter()
    }
    fn collections(&self) -> Vec<String> {
        Counter.collections()
    }
    fn keys(&self, e: &RecordedEvent) -> Vec<DocKey> {
        Counter.keys(e)
    }
    fn apply(&self, e: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        Counter.apply(e, docs)
    }
    fn version(&self) -> u64 {
        self.version
    }
    fn rebuilds_after_erasure(&self) -> bool {
        self.erasures
    }
}

async fn a_projection_whose_definition_changed_is_rebuilt_once(h: Harness) {
    // Given documents built by the first definition (which records no version).
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    let all = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    h.store.apply_projection(&Counter, at(0), &all).await.unwrap();
    let built = state(&*h.store).await;
    assert!(!h.store.reset_projection_for_definition(&Counter).await.unwrap(), "none is version 1");
    assert_eq!(state(&*h.store).await, built);

    // When version 2 starts: its documents are cleared once, whichever instance comes first.
    let second_definition = counter_at(2);
    let (first, second) = tokio::join!(
        h.store.reset_projection_for_definition(&second_definition),
        h.store.reset_projection_for_definition(&second_definition),
    );
    assert_eq!([first.unwrap(), second.unwrap()].iter().filter(|r| **r).count(), 1);
    assert_eq!(state(&*h.store).await, (vec![], vec![], None));
    assert_eq!(h.store.checkpoint("counter@definition").await.unwrap(), Some(2));

    // Then a runner builds them again from the log, and a restart leaves them alone.
    let handle = eventlog::spawn_projection(h.store.clone(), Arc::new(counter_at(2)));
    tokio::time::timeout(Duration::from_secs(10), handle.catch_up(&*h.store))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state(&*h.store).await, built);
    assert!(!h.store.reset_projection_for_definition(&counter_at(2)).await.unwrap());

    // A runner of the first definition, still running while the new one rolls out, is refused
    // and writes nothing.
    drop(handle);
    tokio::time::sleep(Duration::from_millis(100)).await;
    h.store.append(&stream("b-9"), ExpectedVersion::Any, events(1)).await.unwrap();
    let all = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    match h.store.apply_projection(&Counter, at(2), &all).await {
        Err(StoreError::Projection { message, .. }) => assert!(message.contains("version 2")),
        other => panic!("expected the older definition to be refused, got {other:?}"),
    }
    assert_eq!(state(&*h.store).await, built);

    // A rebuild records the version it builds by: version 3 rebuilt by hand is not rebuilt
    // again when it starts.
    h.store.reset_projection(&counter_at(3)).await.unwrap();
    assert!(!h.store.reset_projection_for_definition(&counter_at(3)).await.unwrap());
}

async fn a_batch_read_before_a_reset_is_not_applied(h: Harness) {
    // Given documents built up to 3, and a batch of the two events after, read from there.
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    h.store.append(&stream("b-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    let first = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    assert_eq!(h.store.apply_projection(&Counter, at(0), &first).await.unwrap(), 3);
    let built = state(&*h.store).await;
    h.store.append(&stream("p-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    let batch = h.store.read_all(3, &Filter::all(), 100).await.unwrap();

    // When another instance resets the documents before the batch is applied.
    (h.reopen)().await.reset_projection(&Counter).await.unwrap();

    // Then the batch is not applied onto the empty documents: the checkpoint it is behind is
    // returned, and nothing is written.
    assert_eq!(h.store.apply_projection(&Counter, at(3), &batch).await.unwrap(), 0);
    assert_eq!(state(&*h.store).await, (vec![], vec![], None));
    // Read again from there, the documents are whole: the first three events are in them.
    eventlog::projection::catch_up(&*h.store, &Counter, &|_| {}).await.unwrap();
    let (streams, categories, checkpoint) = state(&*h.store).await;
    assert_eq!(streams[..2], built.0[..]);
    assert_eq!(streams[2], ("p-1".into(), json!({"count": 2, "last": 5})));
    assert_eq!(categories.iter().map(|(_, d)| d["count"].as_u64().unwrap()).sum::<u64>(), 5);
    assert_eq!(checkpoint, Some(5));
}

/// Where a reader that knows of no erasure stands at `checkpoint`.
fn at(checkpoint: u64) -> Seen {
    Seen { checkpoint, erasure: 0 }
}

async fn a_batch_read_before_an_erasure_reset_is_not_applied_even_once_rebuilt_past_it(h: Harness) {
    let forgetful = CounterAt { version: 1, erasures: true };
    // Given documents built up to 3, and a batch of the two events after, read from there by a
    // reader that knows of no erasure (opened with the keys it had).
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    h.store.append(&stream("b-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    let first = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    assert_eq!(h.store.apply_projection(&forgetful, at(0), &first).await.unwrap(), 3);
    h.store.append(&stream("p-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    let batch = h.store.read_all(3, &Filter::all(), 100).await.unwrap();

    // When another instance resets the documents for an erasure announced at 5 and rebuilds
    // them up to 4, past where the batch begins.
    let other = (h.reopen)().await;
    assert!(other.reset_projection_after_erasure(&forgetful, 5).await.unwrap());
    let rebuilt = Seen { checkpoint: 0, erasure: 5 };
    let four = other.read_all(0, &Filter::all(), 4).await.unwrap();
    assert_eq!(other.apply_projection(&forgetful, rebuilt, &four).await.unwrap(), 4);
    let built = state(&*h.store).await;

    // Then the batch is not applied: the stored checkpoint comes back, nothing is written.
    assert_eq!(h.store.apply_projection(&forgetful, at(3), &batch).await.unwrap(), 4);
    assert_eq!(state(&*h.store).await, built);
    // A reader that learns the erasures (catch_up does) goes on from there.
    let caught_up = eventlog::projection::catch_up(&*h.store, &forgetful, &|_| {});
    tokio::time::timeout(Duration::from_secs(10), caught_up).await.unwrap().unwrap();
    assert_eq!(state(&*h.store).await.2, Some(5));

    // The mark says nothing to a definition that no longer rebuilds after erasures: it
    // follows the log, never refused for an erasure it has no reason to learn.
    h.store.append(&stream("p-2"), ExpectedVersion::Any, events(1)).await.unwrap();
    let caught_up = eventlog::projection::catch_up(&*h.store, &Counter, &|_| {});
    tokio::time::timeout(Duration::from_secs(10), caught_up).await.unwrap().unwrap();
    assert_eq!(state(&*h.store).await.2, Some(6));
}

async fn a_runner_rebuilds_documents_another_instance_reset(h: Harness) {
    // Given a runner that has applied three events and waits for more.
    let runner = eventlog::spawn_projection(h.store.clone(), Arc::new(Counter));
    h.store.append(&stream("p-1"), ExpectedVersion::Any, events(3)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), runner.catch_up(&*h.store))
        .await
        .unwrap()
        .unwrap();
    // When another instance resets the documents (a rebuild by hand, or for an erasure), and
    // then the log moves on.
    (h.reopen)().await.reset_projection(&Counter).await.unwrap();
    h.store.append(&stream("p-2"), ExpectedVersion::Any, events(1)).await.unwrap();
    // Then the runner rebuilds the documents from the start, not only from the new event.
    let rebuilt = async {
        loop {
            if h.store.checkpoint("counter").await.unwrap() == Some(4) {
                return h.store.document("counter-categories", "p").await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let doc = tokio::time::timeout(Duration::from_secs(10), rebuilt).await.unwrap();
    assert_eq!(doc, Some(json!({"count": 4, "last": 4})));
    assert_eq!(h.store.document("counter-streams", "p-2").await.unwrap().unwrap()["count"], 1);
}

async fn a_failing_projection_writes_nothing(h: Harness) {
    h.store.append(&stream("a-1"), ExpectedVersion::Any, events(2)).await.unwrap();
    let first = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    h.store.apply_projection(&Counter, at(0), &first).await.unwrap();
    let before = state(&*h.store).await;
    h.store.append(&stream("b-1"), ExpectedVersion::Any, events(1)).await.unwrap();
    h.store
        .append(&stream("b-1"), ExpectedVersion::Any, vec![event("poison", json!({}))])
        .await
        .unwrap();
    let batch = h.store.read_all(2, &Filter::all(), 100).await.unwrap();
    match h.store.apply_projection(&Counter, at(2), &batch).await {
        Err(StoreError::Projection { position: 4, .. }) => {}
        other => panic!("expected the projection to fail at 4, got {other:?}"),
    }
    assert_eq!(state(&*h.store).await, before);
}

/// Counts each stream's events on the day its first event names: `by-day/{day}` is known only
/// from the stream's own document, `by-stream/{stream}`, which is all `keys` names. With
/// `wander`, every event also reads a document no round has fetched yet.
struct ByDay {
    wander: bool,
}

impl Projection for ByDay {
    fn name(&self) -> &str {
        "by-day"
    }
    fn filter(&self) -> Filter {
        Filter::categories(["d"])
    }
    fn collections(&self) -> Vec<String> {
        vec!["by-stream".into(), "by-day".into()]
    }
    fn keys(&self, e: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new("by-stream", &e.stream)]
    }
    fn apply(&self, e: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        let day = match docs.get("by-stream", &e.stream) {
            Some(doc) => doc["day"].as_str().ok_or("no day")?.to_owned(),
            None => {
                let day = e.data["day"].as_str().ok_or("the first event names the day")?;
                docs.put("by-stream", &e.stream, json!({ "day": day }));
                day.to_owned()
            }
        };
        let n = docs.entry_as::<u64>("by-day", &day)?;
        *n += 1;
        if self.wander {
            // The first of `wander/0`, `wander/1`, … not fetched yet: one more each round.
            for k in 0.. {
                let asked = docs.unfetched().len();
                docs.get("wander", &k.to_string());
                if docs.unfetched().len() > asked {
                    break;
                }
            }
        }
        Ok(())
    }
}

async fn documents_known_only_from_others_are_fetched_in_another_round(h: Harness) {
    // Given two streams opened on two days, and a third on the first day; one batch opens and
    // counts in the same stream, so its day is known only once the batch has opened it.
    let on = |day: &str| event("counted", json!({ "day": day }));
    let counted = || event("counted", json!({}));
    h.store.append(&stream("d-1"), ExpectedVersion::Any, vec![on("mon"), counted()]).await.unwrap();
    h.store.append(&stream("d-2"), ExpectedVersion::Any, vec![on("tue")]).await.unwrap();
    let first = h.store.read_all(0, &Filter::all(), 100).await.unwrap();
    assert_eq!(h.store.apply_projection(&ByDay { wander: false }, at(0), &first).await.unwrap(), 3);
    // When later batches count in streams opened before, each alone.
    h.store.append(&stream("d-1"), ExpectedVersion::Any, vec![counted()]).await.unwrap();
    h.store.append(&stream("d-3"), ExpectedVersion::Any, vec![on("mon")]).await.unwrap();
    h.store.append(&stream("d-2"), ExpectedVersion::Any, vec![counted()]).await.unwrap();
    for after in 3..6 {
        let batch = h.store.read_all(after, &Filter::all(), 1).await.unwrap();
        h.store.apply_projection(&ByDay { wander: false }, at(after), &batch).await.unwrap();
    }
    // Then each day counts what it should, fetched from the store and added to.
    assert_eq!(
        h.store.documents("by-day").await.unwrap(),
        vec![("mon".into(), json!(4)), ("tue".into(), json!(2))]
    );
    assert_eq!(h.store.checkpoint("by-day").await.unwrap(), Some(6));

    // A projection that reads a new document every round is stopped, and writes nothing.
    h.store.append(&stream("d-1"), ExpectedVersion::Any, vec![counted()]).await.unwrap();
    let batch = h.store.read_all(6, &Filter::all(), 100).await.unwrap();
    match h.store.apply_projection(&ByDay { wander: true }, at(6), &batch).await {
        Err(StoreError::Projection { position: 7, message, .. }) => {
            assert!(message.contains("rounds"), "{message}")
        }
        other => panic!("expected the projection to be stopped, got {other:?}"),
    }
    assert_eq!(h.store.checkpoint("by-day").await.unwrap(), Some(6));
    assert_eq!(h.store.documents("wander").await.unwrap(), vec![]);
}

async fn rebuilt_projection_equals_incremental(h: Harness) {
    let handle = eventlog::spawn_projection(h.store.clone(), Arc::new(Counter));
    for i in 0..40 {
        let s = stream(&format!("{}-{}", ["a", "b", "p", "z"][i % 4], i % 7));
        h.store.append(&s, ExpectedVersion::Any, events(1 + i % 3)).await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), handle.catch_up(&*h.store))
        .await
        .unwrap()
        .unwrap();
    let incremental = state(&*h.store).await;
    let applied = eventlog::rebuild(&*h.store, &Counter, &|_| {}).await.unwrap();
    assert!(applied > 0);
    assert_eq!(state(&*h.store).await.0, incremental.0);
    assert_eq!(state(&*h.store).await.1, incremental.1);
}

async fn verify_passes_on_an_untouched_log(h: Harness) {
    assert!(h.store.verify(1, None, &|_| {}).await.unwrap().ok);
    for i in 0..30 {
        h.store
            .append(&stream(&format!("a-{}", i % 4)), ExpectedVersion::Any, events(1 + i % 3))
            .await
            .unwrap();
    }
    let head = h.store.head().await.unwrap();
    let seen = std::sync::Mutex::new(0);
    let v = h.store.verify(1, None, &|p| *seen.lock().unwrap() = p).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!((v.checked, v.first_bad_sequence), (head, None));
    assert_eq!(*seen.lock().unwrap(), head);
    let part = h.store.verify(10, Some(20), &|_| {}).await.unwrap();
    assert_eq!((part.ok, part.checked), (true, 11));
}

async fn tampered(h: &Harness, pg: &str, sqlite: &str) -> eventlog::Verification {
    for i in 0..10 {
        h.store
            .append(&stream(&format!("a-{}", i % 3)), ExpectedVersion::Any, events(1))
            .await
            .unwrap();
    }
    assert!(h.store.verify(1, None, &|_| {}).await.unwrap().ok);
    h.raw.exec(pg, sqlite).await;
    h.store.verify(1, None, &|_| {}).await.unwrap()
}

async fn verify_names_a_changed_event(h: Harness) {
    let v = tampered(
        &h,
        "UPDATE events SET data = '{\"n\": 99}' WHERE position = 6",
        "UPDATE events SET data = '{\"n\":99}' WHERE position = 6",
    )
    .await;
    assert_eq!((v.ok, v.first_bad_sequence, v.checked), (false, Some(6), 5), "{v:?}");
    // Changing the stored hash along with the data does not help.
    let h2 = h;
    h2.raw
        .exec(
            "UPDATE events SET data = '{\"n\": 5}' WHERE position = 6; \
             UPDATE events SET metadata = jsonb_set(metadata, '{actor,subject}', '\"mallory\"') \
               WHERE position = 3",
            "UPDATE events SET data = '{\"n\":5}' WHERE position = 6; \
             UPDATE events SET metadata = json_set(metadata, '$.actor.subject', 'mallory') WHERE position = 3",
        )
        .await;
    let v = h2.store.verify(1, None, &|_| {}).await.unwrap();
    assert_eq!(v.first_bad_sequence, Some(3), "{v:?}");
}

async fn verify_names_a_deleted_event(h: Harness) {
    // The same statement on both backends.
    let delete = "DELETE FROM events WHERE position = 4";
    let v = tampered(&h, delete, delete).await;
    assert_eq!((v.ok, v.first_bad_sequence), (false, Some(4)), "{v:?}");
    // Deleting the last one is noticed too.
    h.raw
        .exec("DELETE FROM events WHERE position = 10", "DELETE FROM events WHERE position = 10")
        .await;
    let v = h.store.verify(6, None, &|_| {}).await.unwrap();
    assert_eq!((v.ok, v.first_bad_sequence, v.checked), (false, Some(10), 4), "{v:?}");
    // A range starting right after the missing event is not clean either.
    let v = h.store.verify(5, None, &|_| {}).await.unwrap();
    assert!(!v.ok, "{v:?}");
}

async fn verify_names_swapped_events(h: Harness) {
    let v = tampered(
        &h,
        "UPDATE events SET position = 1000 WHERE position = 3; \
         UPDATE events SET position = 3 WHERE position = 7; \
         UPDATE events SET position = 7 WHERE position = 1000;",
        "UPDATE events SET position = 1000 WHERE position = 3; \
         UPDATE events SET position = 3 WHERE position = 7; \
         UPDATE events SET position = 7 WHERE position = 1000;",
    )
    .await;
    assert_eq!((v.ok, v.first_bad_sequence), (false, Some(3)), "{v:?}");
}

async fn verify_names_an_event_past_the_head(h: Harness) {
    // A row written around the writer, past the head (readers would serve it), chain and all
    // copied from the last event.
    let v = tampered(
        &h,
        "INSERT INTO events (position, event_id, stream, category, version, event_type, data, \
           metadata, recorded_at, hash, chain) \
         SELECT 510, gen_random_uuid(), stream, category, version + 100, event_type, data, \
           metadata, recorded_at, hash, chain FROM events WHERE position = 10",
        "INSERT INTO events (position, event_id, stream, category, version, event_type, data, \
           metadata, recorded_at, hash, chain) \
         SELECT 510, lower(hex(randomblob(16))), stream, category, version + 100, event_type, \
           data, metadata, recorded_at, hash, chain FROM events WHERE position = 10",
    )
    .await;
    assert_eq!((v.ok, v.first_bad_sequence, v.checked), (false, Some(510), 10), "{v:?}");
    // So does a range ending at the head; one that stops before it is not asked about it.
    let v = h.store.verify(1, Some(10), &|_| {}).await.unwrap();
    assert_eq!((v.ok, v.first_bad_sequence), (false, Some(510)), "{v:?}");
    assert!(h.store.verify(1, Some(9), &|_| {}).await.unwrap().ok);
}

async fn verify_names_an_event_moved_to_another_category(h: Harness) {
    // Reads by category (the feeds) would no longer find it; its content hash is unchanged.
    let hide = "UPDATE events SET category = 'hidden' WHERE position = 6";
    let v = tampered(&h, hide, hide).await;
    assert_eq!((v.ok, v.first_bad_sequence, v.checked), (false, Some(6), 5), "{v:?}");
}

/// A reset after an erasure on PostgreSQL waits for an apply of the projection in flight in
/// another instance: what that apply writes is deleted with the rest, not left behind to be
/// applied again by the rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_reset_waits_for_an_apply_in_flight() {
    let h = postgres().await;
    let Raw::Pg(pg) = &h.raw else { unreachable!() };
    // Another instance's apply, not yet committed: it holds the checkpoint and wrote a document.
    let mut apply = pg.pool().get().await.unwrap();
    let tx = apply.transaction().await.unwrap();
    tx.batch_execute(
        "INSERT INTO checkpoints (name, position) VALUES ('counter', 0) ON CONFLICT DO NOTHING; \
         SELECT position FROM checkpoints WHERE name = 'counter' FOR UPDATE; \
         INSERT INTO documents (collection, key, doc) VALUES ('counter-streams', 'a-1', '{\"count\": 1}'); \
         UPDATE checkpoints SET position = 1 WHERE name = 'counter';",
    )
    .await
    .unwrap();
    let store = h.store.clone();
    let reset =
        tokio::spawn(
            async move { store.reset_projection_after_erasure(&Counter, 5).await.unwrap() },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!reset.is_finished(), "the reset did not wait for the apply");
    tx.commit().await.unwrap();
    assert!(reset.await.unwrap(), "the reset ran");
    assert_eq!(h.store.documents("counter-streams").await.unwrap(), vec![]);
    assert_eq!(h.store.checkpoint("counter").await.unwrap(), None);
}

async fn concurrent_writers_and_a_tailing_reader(h: Harness) {
    const PER_WRITER: usize = 500;
    const WRITERS_PER_INSTANCE: usize = 8;
    let instances = [h.store.clone(), (h.reopen)().await];
    let total = instances.len() * WRITERS_PER_INSTANCE * PER_WRITER;

    let reader_store = h.store.clone();
    let reader = tokio::spawn(async move {
        let mut sub = Subscription::new(reader_store.watch_head(), 0, Filter::all(), 300);
        let mut seen: Vec<(u64, Uuid)> = Vec::with_capacity(total);
        while seen.len() < total {
            let batch = tokio::time::timeout(Duration::from_secs(60), sub.next(&*reader_store))
                .await
                .expect("the reader stalled")
                .unwrap();
            seen.extend(batch.into_iter().map(|e| (e.position, e.id)));
        }
        seen
    });

    let mut writers = Vec::new();
    for (i, store) in instances.iter().enumerate() {
        for w in 0..WRITERS_PER_INSTANCE {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                let mut ids = Vec::with_capacity(PER_WRITER);
                // Each writer appends to its own stream, and every tenth event to a shared one.
                let own = stream(&format!("w-{i}x{w}"));
                for n in 0..PER_WRITER {
                    let e = event("written", json!({ "writer": w, "n": n }));
                    ids.push(e.id);
                    let target = if n % 10 == 0 { stream("shared-1") } else { own.clone() };
                    store.append(&target, ExpectedVersion::Any, vec![e]).await.unwrap();
                }
                ids
            }));
        }
    }
    let mut written = HashSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    let seen = tokio::time::timeout(Duration::from_secs(120), reader).await.unwrap().unwrap();
    assert_eq!(seen.len(), total);
    let positions: Vec<u64> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, (1..=total as u64).collect::<Vec<_>>(), "every position once, in order");
    assert_eq!(seen.iter().map(|(_, id)| *id).collect::<HashSet<_>>(), written);
    // The shared stream's versions follow the global order.
    let shared = h.store.read_stream_to_end(&stream("shared-1")).await.unwrap();
    assert!(
        shared
            .windows(2)
            .all(|w| w[0].version + 1 == w[1].version && w[0].position < w[1].position)
    );
    assert!(h.store.verify(1, None, &|_| {}).await.unwrap().ok);
}

async fn two_runners_of_one_projection_never_report_unapplied_events(h: Harness) {
    let other = (h.reopen)().await;
    let runners = [
        eventlog::spawn_projection(h.store.clone(), Arc::new(Counter)),
        eventlog::spawn_projection(other.clone(), Arc::new(Counter)),
        eventlog::spawn_projection(other.clone(), Arc::new(Counter)),
    ];
    let mut total = 0;
    for round in 0..40 {
        // Appends from several writers at once, so the runners' batches differ.
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let store = if w % 2 == 0 { h.store.clone() } else { other.clone() };
                tokio::spawn(async move {
                    let s = stream(&format!("p-{}", (round + w) % 3));
                    store.append(&s, ExpectedVersion::Any, events(1 + w % 2)).await.unwrap();
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        total += 6;
        let head = h.store.head().await.unwrap();
        for runner in &runners {
            tokio::time::timeout(Duration::from_secs(10), runner.wait_for(head))
                .await
                .unwrap()
                .unwrap();
            // What a runner reports as read is in the documents.
            let doc = h.store.document("counter-categories", "p").await.unwrap().unwrap();
            assert_eq!(
                doc["count"],
                json!(total),
                "a runner reported {head} before it was applied"
            );
        }
    }
}
