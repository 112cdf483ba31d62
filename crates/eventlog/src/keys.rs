//! Data keys: the rows of the key table that seals personal data (see [`crate::sealed`]).
//!
//! A key lives outside the chained log, wrapped by the district's master key. Destroying it
//! erases what it sealed: the ciphertext stays in the log (so the chain still verifies) but
//! nobody can read it any more.

use chrono::{DateTime, Utc};

/// One data key as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    /// What it seals: a person (`stakeholder-{id}`), a conversation's notes
    /// (`conversation-{id}`), a call's notes (`call-{id}`).
    pub subject: String,
    /// The person the key belongs to when it is not the subject itself: erasing the person
    /// destroys it too.
    pub owner: Option<String>,
    /// What kind of data it seals (`person`, `conversation-notes`, `call-notes`), for
    /// retention.
    pub purpose: String,
    /// When what it seals took place, for retention.
    pub dated: Option<DateTime<Utc>>,
    /// The key wrapped by the master key; `None` once destroyed.
    pub wrapped: Option<Vec<u8>>,
}

/// Which keys to destroy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySelector {
    /// A person's: the key whose subject they are and every key they own.
    Person(String),
    /// Keys of one purpose dated before a time (retention).
    DatedBefore { purpose: String, before: DateTime<Utc> },
}
