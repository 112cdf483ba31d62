//! procgate's gate service: purchase checks, the standards catalog, the flagged-order queue
//! and call before cancel.
//!
//! - [`domain`]: the pure decision core (no IO): decisions, the purchase aggregate, the
//!   standards.
//! - [`projections`]: the read models (purchase list, schools).
//! - the HTTP API (`api`, private) and the service wiring ([`Gate`]).

pub mod domain;
pub mod projections;

mod api;
mod app;

pub use app::{Gate, openapi};

/// The gate's read models, for a rebuild.
pub fn projections() -> Vec<std::sync::Arc<dyn eventlog::Projection>> {
    vec![std::sync::Arc::new(projections::Purchases), std::sync::Arc::new(projections::Schools)]
}
