//! Catch-up subscriptions: read from a position, then wait for new events without polling.

use tokio::sync::watch;

use crate::error::{Result, StoreError};
use crate::event::{Filter, RecordedEvent};
use crate::store::EventStore;

/// Reads the log from a position, then waits for the head to move.
///
/// Every event after the starting position that matches the filter is returned exactly once,
/// in global order. With a checkpoint saved from [`Subscription::position`], a consumer resumes
/// where it stopped.
#[derive(Debug)]
pub struct Subscription {
    head: watch::Receiver<u64>,
    after: u64,
    filter: Filter,
    batch: usize,
}

impl Subscription {
    pub fn new(head: watch::Receiver<u64>, after: u64, filter: Filter, batch: usize) -> Self {
        Self { head, after, filter, batch: batch.max(1) }
    }

    /// Starts from a named consumer's checkpoint (or the beginning).
    pub async fn resume(store: &dyn EventStore, name: &str, filter: Filter) -> Result<Self> {
        let after = store.checkpoint(name).await?.unwrap_or(0);
        Ok(Self::new(store.watch_head(), after, filter, 1000))
    }

    /// The position read up to: every matching event up to here has been returned.
    pub fn position(&self) -> u64 {
        self.after
    }

    /// Goes back to reading after `position` (for a consumer whose work after it was lost).
    pub fn rewind(&mut self, position: u64) {
        self.after = self.after.min(position);
    }

    /// The next events; waits until there is at least one.
    pub async fn next(&mut self, store: &dyn EventStore) -> Result<Vec<RecordedEvent>> {
        loop {
            if let Some(events) = self.poll(store).await? {
                return Ok(events);
            }
            self.changed().await?;
        }
    }

    /// Waits until the head moves past what the last [`poll`](Self::poll) saw.
    pub async fn changed(&mut self) -> Result<()> {
        self.head
            .changed()
            .await
            .map_err(|_| StoreError::Unavailable("the store was closed".into()))
    }

    /// The next events if there are any now, without waiting.
    ///
    /// It asks the store only when the head is past what was read: everything up to the head is
    /// visible, and an event past it moves the head (and wakes [`changed`](Self::changed)). A
    /// read that returns less than a batch has seen every matching event up to the head, so the
    /// next starts there, not at the last match: a consumer of a few categories asks once per
    /// move of the head, not twice.
    pub async fn poll(&mut self, store: &dyn EventStore) -> Result<Option<Vec<RecordedEvent>>> {
        // Read the head before reading the log: everything up to it is visible to the read.
        let head = *self.head.borrow_and_update();
        if self.after >= head {
            return Ok(None);
        }
        let events = store.read_following(self.after, &self.filter, self.batch).await?;
        let complete = events.len() < self.batch;
        let Some(last) = events.last() else {
            // Nothing matched up to the head: skip the scanned range next time.
            self.after = head;
            return Ok(None);
        };
        self.after = if complete { last.position.max(head) } else { last.position };
        Ok(Some(events))
    }
}
