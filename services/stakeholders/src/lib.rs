//! procgate's stakeholder relations service: schools and their purchasing agreements, the
//! people IT works with, what they said (vision, "2 stars and a wish"), the wishes and their
//! headway, the promises IT made and kept, and the follow-ups it owes.
//!
//! - [`domain`]: the pure decision core (commands in, events out; no IO, no clock).
//! - [`read_models`]: the read models, kept from the log, one per file.
//! - [`queries`]: what the API answers with: joins of the read models and what is computed
//!   when reading, as plain functions testable without HTTP.
//! - the reminders' scheduler (`scheduler`, private: a task in every instance that writes
//!   `promise-due-soon`, `followup-overdue`, … once each when they fall due).
//! - the HTTP API (`api`, private: handlers that parse, run a command or a query, and render)
//!   and the service wiring ([`Stakeholders`], [`openapi`], [`projections()`] and [`rebuild`]
//!   for `procgate rebuild`).

pub mod domain;
pub mod queries;
pub mod read_models;

mod api;
mod app;
mod scheduler;

pub use app::{Settings, Stakeholders, openapi, projections, rebuild};
pub use kernel::Clock;
