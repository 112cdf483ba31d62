//! The state of a settings stream as last read, brought up to date on every use with one read
//! of the stream's tail (the events after the cached version): for streams read on nearly
//! every request that change rarely (the standards, the district's calendar).

use std::sync::{Arc, Mutex, PoisonError};

use eventlog::{RecordedEvent, Store, StreamName};
use web::ApiError;

use crate::http::store_error;
use crate::{Aggregate, At};

/// An aggregate that knows the version of its stream it was folded to.
pub trait Versioned {
    fn version(&self) -> u64;
}

/// The latest state of the aggregate of one stream.
#[derive(Debug)]
pub struct Latest<A> {
    stream: StreamName,
    slot: Mutex<Arc<A>>,
}

impl<A: Aggregate + Versioned> Latest<A> {
    pub fn new(stream: StreamName) -> Self {
        Self { stream, slot: Mutex::default() }
    }

    pub fn stream(&self) -> &StreamName {
        &self.stream
    }

    /// The state as last read, without reading.
    pub fn cached(&self) -> Arc<A> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The state now: the cached state plus whatever the stream has gained since (the lock is
    /// taken only to install a newer state).
    pub async fn now(&self, store: &Store) -> Result<Arc<A>, ApiError> {
        let cached = self.cached();
        let tail = store
            .read_streams(&[(self.stream.clone(), cached.version() + 1)])
            .await
            .map_err(store_error)?
            .pop()
            .unwrap_or_default();
        self.with_tail(cached, &tail)
    }

    /// `cached` with `tail` (its stream's events after it) applied, kept if newer.
    pub fn with_tail(&self, cached: Arc<A>, tail: &[RecordedEvent]) -> Result<Arc<A>, ApiError> {
        if tail.is_empty() {
            return Ok(cached);
        }
        let mut fresh = (*cached).clone();
        for record in tail {
            fresh.apply(&crate::decode(record).map_err(ApiError::internal)?, At::of(record));
        }
        let fresh = Arc::new(fresh);
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.version() < fresh.version() {
            *slot = fresh.clone();
        }
        Ok(fresh)
    }
}
