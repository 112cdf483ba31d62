//! procgate's gate service: purchase checks, the standards catalog, the flagged-order queue
//! and call before cancel.
//!
//! - [`domain`]: the pure decision core (no IO): decisions, the purchase aggregate, the
//!   standards.
//! - [`read_models`]: the read models (purchase list, schools), one per file, and the list
//!   query over them.
//! - the HTTP API (`api`, private) and the service wiring ([`Gate`]).

pub mod domain;
pub mod read_models;

mod api;
mod app;
mod clock;
mod latest;
mod scheduler;

pub use app::{Gate, openapi};
pub use clock::Clock;

/// The gate's read models, for a rebuild.
pub fn projections() -> Vec<std::sync::Arc<dyn eventlog::Projection>> {
    read_models::all()
}
