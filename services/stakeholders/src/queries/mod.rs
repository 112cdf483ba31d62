//! The read side's queries: joins of the read models ([`crate::read_models`]) and what is
//! computed when reading, as plain functions of documents, testable without HTTP.
//!
//! # Joins happen when reading
//!
//! A read model must name the documents an event touches from the event alone, so documents
//! keep references (a stakeholder's wish, follow-up and promise ids; a school's promise ids
//! and agreement history with the log positions of each signing and withdrawal), and these
//! functions join them:
//!
//! - [`call_before_cancel_record`]: whether a school's standing call-before-cancel promise was
//!   kept: every purchase of the school held while that agreement was in force (between the
//!   positions of its signing and its withdrawal) and then cancelled was cancelled as the rule
//!   allows, judged at its cancellation.
//! - [`health_inputs`]: the facts [`crate::domain::health`] scores.

mod call_before_cancel;
mod health;

pub use call_before_cancel::{CallBeforeCancelRecord, call_before_cancel_record};
pub use health::{HealthDocs, health_inputs};
