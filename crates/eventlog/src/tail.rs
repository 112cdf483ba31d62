//! The log's latest events, read from the table once for every follower of a store in this
//! process (both backends keep one).
//!
//! Each read model, the scheduler, the webhooks and the live feed follow the log
//! ([`Subscription`](crate::Subscription)) with their own filter. Without the tail, every move
//! of the head sends each of them to the table for the few events just appended: a service with
//! seven followers asks seven times what one read answers. The tail keeps the latest events in
//! memory, all of them, in order, with no gap: those from `from` (exclusive) to `to`
//! (inclusive). A follower at or past `from` is answered from it, after one follower has read
//! what the head added since `to`; a follower further behind (a rebuild, a consumer resuming
//! from an old checkpoint) reads the table as before ([`EventStore::read_following`]).
//!
//! The tail only ever holds events at or before a head it saw: those are all visible (the head
//! is the last position every reader can see, and positions are dense), so what it holds is
//! exactly the log's run from `from` to `to`, as appended. A row edited behind the store's back
//! is for verification to find, which, like a page of the feed, reads the table itself
//! ([`EventStore::read_all`]).
//!
//! [`EventStore::read_following`]: crate::EventStore::read_following
//! [`EventStore::read_all`]: crate::EventStore::read_all

use std::collections::VecDeque;
use std::future::Future;

use tokio::sync::Mutex;

use crate::error::Result;
use crate::event::{Filter, RecordedEvent};

/// How many of the latest events the tail keeps.
const KEEP: usize = 4096;
/// How many events one read of the table adds to the tail.
const READ: usize = 1000;

#[derive(Debug, Default)]
pub(crate) struct Tail {
    run: Mutex<Run>,
}

#[derive(Debug, Default)]
struct Run {
    /// The events `from + 1 ..= to`, in order.
    events: VecDeque<RecordedEvent>,
    from: u64,
    to: u64,
    /// Whether `from` was set: the tail starts where its first reader is.
    started: bool,
}

impl Tail {
    /// The events after `after` that match `filter`, at most `max`, in order, with everything
    /// up to `head` (at least) taken into account: from the tail when it holds `after`, brought
    /// up to `head` first by `fetch` (the table's events after a position, unfiltered, at most a
    /// number). `None` when the tail cannot answer: the caller reads the table itself.
    async fn read<F, Fut>(
        &self,
        head: u64,
        after: u64,
        filter: &Filter,
        max: usize,
        fetch: F,
    ) -> Result<Option<Vec<RecordedEvent>>>
    where
        F: Fn(u64, usize) -> Fut,
        Fut: Future<Output = Result<Vec<RecordedEvent>>>,
    {
        let mut run = self.run.lock().await;
        if !run.started {
            *run = Run { events: VecDeque::new(), from: after, to: after, started: true };
        }
        if after < run.from || after > head {
            return Ok(None);
        }
        while run.to < head {
            if usize::try_from(head - run.to).is_ok_and(|behind| behind > KEEP) {
                // Too far behind to keep: start again at the head, from the next reader on.
                *run = Run { events: VecDeque::new(), from: head, to: head, started: true };
                return Ok(None);
            }
            let read = fetch(run.to, READ).await?;
            let before = run.to;
            for event in read {
                // Dense positions: the next one, or the read is not what the tail holds.
                if event.position != run.to + 1 || event.position > head {
                    break;
                }
                run.to = event.position;
                run.events.push_back(event);
            }
            if run.to == before {
                // Nothing up to the head could be read (yet): let the table answer.
                return Ok(None);
            }
        }
        while run.events.len() > KEEP {
            if let Some(dropped) = run.events.pop_front() {
                run.from = dropped.position;
            }
        }
        if after < run.from {
            return Ok(None);
        }
        let start = run.events.partition_point(|e| e.position <= after);
        Ok(Some(
            run.events.range(start..).filter(|e| filter.matches(e)).take(max).cloned().collect(),
        ))
    }

    /// A store's `read_following`: from the tail when it can answer (brought up to `head` by
    /// `fetch`, the store's unfiltered read after a position), else `table`, the store's own
    /// read of what was asked.
    pub(crate) async fn follow<F, Fut, T, TFut>(
        &self,
        (head, after): (u64, u64),
        filter: &Filter,
        max: usize,
        fetch: F,
        table: T,
    ) -> Result<Vec<RecordedEvent>>
    where
        F: Fn(u64, usize) -> Fut,
        Fut: Future<Output = Result<Vec<RecordedEvent>>>,
        T: FnOnce() -> TFut,
        TFut: Future<Output = Result<Vec<RecordedEvent>>>,
    {
        match self.read(head, after, filter, max, fetch).await? {
            Some(events) => Ok(events),
            None => table().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::event::{Actor, Metadata};

    fn event(position: u64) -> RecordedEvent {
        let category = if position.is_multiple_of(2) { "even" } else { "odd" };
        RecordedEvent {
            position,
            id: Uuid::from_u128(position.into()),
            stream: format!("{category}-1"),
            version: position,
            event_type: "happened".into(),
            data: serde_json::Value::Null,
            metadata: Metadata::new(Actor::system("test"), "test"),
            recorded_at: Utc::now(),
            hash: String::new(),
        }
    }

    /// A table of `len` events that counts how often it is read.
    struct Table {
        len: u64,
        reads: AtomicUsize,
    }

    impl Table {
        fn new(len: u64) -> Self {
            Self { len, reads: AtomicUsize::new(0) }
        }

        async fn fetch(&self, after: u64, max: usize) -> Result<Vec<RecordedEvent>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok((after + 1..=self.len).take(max).map(event).collect())
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    fn positions(events: Option<Vec<RecordedEvent>>) -> Option<Vec<u64>> {
        events.map(|events| events.iter().map(|e| e.position).collect())
    }

    #[tokio::test]
    async fn followers_of_the_head_are_answered_by_one_read_of_the_table() {
        // Given a tail started at 0, and ten events in the log
        let (tail, table) = (Tail::default(), Table::new(10));
        let fetch = |after, max| table.fetch(after, max);
        // When three followers with their own filters ask for what came after 0
        let odd = tail.read(10, 0, &Filter::categories(["odd"]), 100, fetch).await.unwrap();
        let even = tail.read(10, 0, &Filter::categories(["even"]), 2, fetch).await.unwrap();
        let all = tail.read(10, 4, &Filter::all(), 100, fetch).await.unwrap();
        // Then each gets its own events, and the table was read once
        assert_eq!(positions(odd), Some(vec![1, 3, 5, 7, 9]));
        assert_eq!(positions(even), Some(vec![2, 4]));
        assert_eq!(positions(all), Some(vec![5, 6, 7, 8, 9, 10]));
        assert_eq!(table.reads(), 1);
    }

    #[tokio::test]
    async fn it_holds_nothing_past_the_head_and_reads_again_when_the_head_moves() {
        // Given a log of ten events whose head says six
        let (tail, table) = (Tail::default(), Table::new(10));
        let fetch = |after, max| table.fetch(after, max);
        let first = tail.read(6, 0, &Filter::all(), 100, fetch).await.unwrap();
        // Then only the events up to the head are answered
        assert_eq!(positions(first), Some(vec![1, 2, 3, 4, 5, 6]));
        // When the head moves to ten
        let next = tail.read(10, 6, &Filter::all(), 100, fetch).await.unwrap();
        // Then the rest is read, once
        assert_eq!(positions(next), Some(vec![7, 8, 9, 10]));
        assert_eq!(table.reads(), 2);
        // And a reader already at the head is answered without reading
        assert_eq!(
            positions(tail.read(10, 10, &Filter::all(), 100, fetch).await.unwrap()),
            Some(vec![])
        );
        assert_eq!(table.reads(), 2);
    }

    #[tokio::test]
    async fn readers_behind_the_tail_or_past_the_head_read_the_table() {
        // Given a tail started at 5
        let (tail, table) = (Tail::default(), Table::new(10));
        let fetch = |after, max| table.fetch(after, max);
        assert_eq!(
            positions(tail.read(10, 5, &Filter::all(), 3, fetch).await.unwrap()),
            Some(vec![6, 7, 8])
        );
        // When a reader asks from before it, or from past the head
        let behind = tail.read(10, 2, &Filter::all(), 100, fetch).await.unwrap();
        let ahead = tail.read(10, 11, &Filter::all(), 100, fetch).await.unwrap();
        // Then the tail does not answer
        assert!(behind.is_none() && ahead.is_none());
    }

    #[tokio::test]
    async fn a_follower_the_tail_cannot_answer_gets_the_tables_answer() {
        // Given a tail started at 5 on a log of ten events
        let (tail, table) = (Tail::default(), Table::new(10));
        let fetch = |after, max| table.fetch(after, max);
        let odd = Filter::categories(["odd"]);
        let from_tail = tail.follow((10, 5), &odd, 100, fetch, || async { Ok(vec![]) }).await;
        assert_eq!(positions(from_tail.ok()), Some(vec![7, 9]));
        // When a follower from before it asks
        let behind = tail.follow((10, 2), &odd, 100, fetch, || async { Ok(vec![event(3)]) }).await;
        // Then it gets what the table answers, and the tail was read once
        assert_eq!(positions(behind.ok()), Some(vec![3]));
        assert_eq!(table.reads(), 1);
    }

    #[tokio::test]
    async fn it_keeps_the_latest_events_read_a_batch_at_a_time() {
        // Given a log of KEEP + 500 events, and a tail started at 0
        let len = (KEEP + 500) as u64;
        let (tail, table) = (Tail::default(), Table::new(len));
        let fetch = |after, max| table.fetch(after, max);
        // When a reader at 0 asks with the head at KEEP, then at the end
        let first = tail.read(KEEP as u64, 0, &Filter::all(), usize::MAX, fetch).await.unwrap();
        assert_eq!(first.map(|events| events.len()), Some(KEEP));
        let behind = tail.read(len, 100, &Filter::all(), usize::MAX, fetch).await.unwrap();
        // Then the table was read a batch at a time, the tail kept only the latest KEEP events,
        // and it cannot answer from 100 any more
        assert_eq!(table.reads(), KEEP.div_ceil(READ) + 1);
        assert!(behind.is_none());
        let latest = tail.read(len, len - 2, &Filter::all(), 100, fetch).await.unwrap();
        assert_eq!(positions(latest), Some(vec![len - 1, len]));
        assert_eq!(table.reads(), KEEP.div_ceil(READ) + 1);
    }

    #[tokio::test]
    async fn a_tail_far_behind_the_head_starts_again_at_the_head() {
        // Given a tail started at 0 and a head more than KEEP events ahead
        let len = (KEEP + 10) as u64;
        let (tail, table) = (Tail::default(), Table::new(len));
        let fetch = |after, max| table.fetch(after, max);
        // When a reader at 0 asks
        let far = tail.read(len, 0, &Filter::all(), 100, fetch).await.unwrap();
        // Then the table answers it, and the tail serves readers from the head on
        assert!(far.is_none());
        assert_eq!(table.reads(), 0);
        assert_eq!(
            positions(tail.read(len, len, &Filter::all(), 100, fetch).await.unwrap()),
            Some(vec![])
        );
    }
}
