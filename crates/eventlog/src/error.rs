use uuid::Uuid;

use crate::event::{ExpectedVersion, StreamName};

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream} is at version {actual}, not the expected {expected:?}")]
    WrongExpectedVersion { stream: StreamName, expected: ExpectedVersion, actual: u64 },
    #[error("event {event_id} is already stored in stream {stored_in}, not {sent_to}")]
    DuplicateEventId { event_id: Uuid, stored_in: String, sent_to: String },
    #[error(
        "event {event_id} is already stored but others in the same append are not: not a retry"
    )]
    PartlyStored { event_id: Uuid },
    #[error("invalid stream name {0:?}: expected `category-id`, printable ASCII")]
    InvalidStream(String),
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("an append needs at least one event")]
    EmptyAppend,
    #[error("projection {projection} failed at position {position}: {message}")]
    Projection { projection: String, position: u64, message: String },
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// Whether this is a concurrency conflict that a caller may resolve by re-reading.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::WrongExpectedVersion { .. }
                | Self::DuplicateEventId { .. }
                | Self::PartlyStored { .. }
        )
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if connection_lost(&e) {
            Self::Unavailable(e.to_string())
        } else {
            Self::Database(e.to_string())
        }
    }
}

/// Whether `e` says the database went away (so the request may succeed later) rather than
/// that it refused what was asked: the connection closed or broke (an IO error, at any moment,
/// mid-query included), connecting failed, or the server is shutting down, starting, out of
/// connections, or ended this session (SQLSTATE class 08, 57P01–57P03, 53300).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    e.as_db_error().is_none() && (io || e.to_string().contains("connect"))
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
