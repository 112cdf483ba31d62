//! The gate's read models (typed, see `kernel::ReadModel`), one per file.
//!
//! - `gate.purchases`: one summary per purchase, for the purchase list and the held queue.
//! - `gate.schools`: each school's registration and agreement, from the `school-…` streams the
//!   stakeholder relations service writes.
//!
//! A purchase check never relies on these for its decision: it reads the school's and the
//! standards' streams themselves, so a change acknowledged before the check is always seen
//! whatever the projections' lag. Reads of the lists wait until the projection has caught up
//! with the log's head, so a list read after a check shows it.

mod purchases;
mod queue;
mod schools;

use std::sync::Arc;

use eventlog::Projection;
use kernel::ReadModel;

pub use purchases::{PurchaseSummary, Purchases};
pub use queue::{ListFilter, ListedPurchase, PurchaseList, list};
pub use schools::{SchoolDoc, Schools};

/// Every read model of the gate, as the projections the log runs.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![Purchases.into_projection(), Schools.into_projection()]
}
