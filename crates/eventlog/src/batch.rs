//! What both backends' writers do alike with the appends waiting for them: gather them into a
//! batch within one limit, and answer each caller once the batch is written.
//!
//! A backend writes the batch its own way (one transaction, or each request alone when
//! something in one broke the transaction); [`Batch`] holds the rules around that: how large a
//! batch may grow, that an append which would take it past the limit starts the next batch
//! rather than joining this one, and that followers learn of what was written (the head is
//! raised) before any caller is answered, whether or not the caller is still waiting.

use tokio::sync::{oneshot, watch};

use crate::error::Result;
use crate::event::{AppendResult, StreamAppend};
use crate::store::raise_head;

/// The most events one batch carries, unless a single append is larger (it goes alone).
pub(crate) const MAX_BATCH_EVENTS: usize = 2000;

/// What each request in a batch came to, in the batch's order.
pub(crate) type Outcomes = Vec<Result<Vec<AppendResult>>>;

/// One caller's appends, and where their outcome goes.
#[derive(Debug)]
pub(crate) struct Request {
    appends: Vec<StreamAppend>,
    reply: oneshot::Sender<Result<Vec<AppendResult>>>,
}

impl Request {
    /// A request, and the receiver its outcome arrives on.
    pub(crate) fn new(
        appends: Vec<StreamAppend>,
    ) -> (Self, oneshot::Receiver<Result<Vec<AppendResult>>>) {
        let (reply, outcome) = oneshot::channel();
        (Self { appends, reply }, outcome)
    }

    fn events(&self) -> usize {
        self.appends.iter().map(|a| a.events.len()).sum()
    }
}

/// The requests one transaction writes, in the order they arrived.
#[derive(Debug)]
pub(crate) struct Batch {
    requests: Vec<Request>,
    events: usize,
}

impl Batch {
    /// A batch that starts with `first`, however large.
    pub(crate) fn new(first: Request) -> Self {
        Self { events: first.events(), requests: vec![first] }
    }

    /// Adds `next` when the batch stays within [`MAX_BATCH_EVENTS`]; gives it back otherwise,
    /// to start the next batch (a card statement's append is not pulled into a small append's
    /// transaction, to hold it up).
    pub(crate) fn take(&mut self, next: Request) -> std::result::Result<(), Request> {
        if !self.is_open() || self.events + next.events() > MAX_BATCH_EVENTS {
            return Err(next);
        }
        self.events += next.events();
        self.requests.push(next);
        Ok(())
    }

    /// Whether another request may still fit.
    pub(crate) fn is_open(&self) -> bool {
        self.events < MAX_BATCH_EVENTS
    }

    /// How many events the batch carries.
    pub(crate) fn events(&self) -> usize {
        self.events
    }

    /// Each request's appends, in order: what the planner and the backend write.
    pub(crate) fn appends(&self) -> Vec<&[StreamAppend]> {
        self.requests.iter().map(|r| r.appends.as_slice()).collect()
    }

    /// Raises `head` to the last position any request reached, then answers each request
    /// with its outcome (`outcomes` in the batch's order). A caller that has gone is not
    /// answered; its events are stored all the same, and a retry is safe.
    pub(crate) fn answer(self, outcomes: Outcomes, head: Option<&watch::Sender<u64>>) {
        debug_assert_eq!(outcomes.len(), self.requests.len());
        let top = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .flat_map(|results| results.iter().map(AppendResult::last_position))
            .max();
        if let (Some(head), Some(top)) = (head, top) {
            raise_head(head, top);
        }
        for (request, outcome) in self.requests.into_iter().zip(outcomes) {
            let _ = request.reply.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;
    use crate::event::{Actor, ExpectedVersion, Metadata, NewEvent, StreamName};
    use serde_json::json;

    fn request(events: usize) -> (Request, oneshot::Receiver<Result<Vec<AppendResult>>>) {
        let stream = StreamName::new("test-1").expect("a stream name");
        let meta = Metadata::new(Actor::system("test"), "test");
        let events =
            (0..events).map(|_| NewEvent::new("happened", json!({}), meta.clone())).collect();
        Request::new(vec![StreamAppend::new(stream, ExpectedVersion::Any, events)])
    }

    fn appended(positions: Vec<u64>) -> Result<Vec<AppendResult>> {
        let stream = StreamName::new("test-1").expect("a stream name");
        Ok(vec![AppendResult { stream, stream_version: 1, positions, already_stored: false }])
    }

    #[test]
    fn given_a_small_batch_when_a_large_append_waits_then_it_starts_the_next_batch() {
        let mut batch = Batch::new(request(3).0);
        assert!(batch.take(request(10).0).is_ok());
        let statement = batch.take(request(MAX_BATCH_EVENTS).0);
        assert_eq!(statement.map_err(|r| r.events()), Err(MAX_BATCH_EVENTS));
        assert_eq!((batch.appends().len(), batch.events()), (2, 13));
        assert!(batch.is_open());
    }

    #[test]
    fn given_a_large_first_append_then_it_goes_alone() {
        let mut batch = Batch::new(request(MAX_BATCH_EVENTS + 1).0);
        assert!(!batch.is_open());
        assert!(batch.take(request(1).0).is_err());
        assert_eq!(batch.appends().len(), 1);
    }

    #[test]
    fn given_a_batch_filled_to_the_limit_then_it_takes_no_more() {
        let mut batch = Batch::new(request(MAX_BATCH_EVENTS - 1).0);
        assert!(batch.take(request(1).0).is_ok());
        assert!(!batch.is_open());
        assert!(batch.take(request(1).0).is_err());
    }

    #[tokio::test]
    async fn when_answered_then_the_head_rises_before_each_caller_hears_its_own_outcome() {
        let ((first, first_rx), (second, second_rx)) = (request(2), request(1));
        let (gone, gone_rx) = request(1);
        drop(gone_rx);
        let mut batch = Batch::new(first);
        batch.take(second).expect("fits");
        batch.take(gone).expect("fits");
        let (head, watch) = watch::channel(4);
        let refused = Err(StoreError::Unavailable("refused".into()));
        batch.answer(vec![appended(vec![5, 6]), refused, appended(vec![7])], Some(&head));
        assert_eq!(*watch.borrow(), 7, "the head counts a caller that has gone");
        let first = first_rx.await.expect("answered").expect("appended");
        assert_eq!(first[0].positions, vec![5, 6]);
        assert!(second_rx.await.expect("answered").is_err());
    }

    #[tokio::test]
    async fn when_a_retry_answers_old_positions_then_the_head_does_not_go_back() {
        let (only, rx) = request(1);
        let (head, watch) = watch::channel(9);
        Batch::new(only).answer(vec![appended(vec![3])], Some(&head));
        assert_eq!(*watch.borrow(), 9, "a retry's old positions do not lower the head");
        assert!(rx.await.expect("answered").is_ok());
    }
}
