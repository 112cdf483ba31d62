//! The read side's queries: what the API answers with, built from the read models
//! ([`crate::read_models`]) plus what is computed when reading (a promise's or follow-up's
//! status as of today, the record of a standing call-before-cancel promise, answer times,
//! relationship health). Each is a plain function of documents (or of a [`View`] of them),
//! testable without HTTP; the time comes in as an argument, never from a clock.
//!
//! | query | module | answers |
//! |---|---|---|
//! | a school, the list of schools | [`schools`] | [`SchoolView`], [`SchoolSummary`] |
//! | a stakeholder's profile with health, the list of stakeholders, a conversation | [`stakeholders`] | [`StakeholderView`], [`StakeholderSummary`], [`ConversationView`] |
//! | wishes | [`wishes`] | [`WishView`] |
//! | promises | [`promises`] | [`PromiseView`] |
//! | follow-ups | [`follow_ups`] | [`FollowUpView`] |
//! | people going cold | [`going_cold`] | [`going_cold::GoingColdReport`] |
//! | which themes of IT's vision carry which schools | [`themes`] | [`themes::ThemesReport`] |
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
//! - [`health_inputs`]: the facts [`crate::domain::health`] scores, with
//!   [`last_meaningful_contact`], what counts as contact (for health and [`going_cold`]).

pub mod advocates;
mod call_before_cancel;
pub mod coverage;
pub mod follow_ups;
pub mod going_cold;
mod health;
pub mod promises;
pub mod schools;
pub mod stakeholders;
pub mod themes;
pub mod wishes;

use std::collections::HashMap;

use events::values::ShortText;
use kernel::View;
use uuid::Uuid;
use web::ApiError;

use crate::read_models::{HeldPurchaseDoc, HeldPurchases, StakeholderDoc, Stakeholders};

pub use call_before_cancel::{CallBeforeCancelRecord, call_before_cancel_record, standing_outcome};
pub use follow_ups::{FollowUpState, FollowUpView};
pub use health::{
    Collections, HealthDocs, health_inputs, health_scores, last_meaningful_contact, requested_by,
};
pub use promises::{PromiseState, PromiseView};
pub use schools::{SchoolSummary, SchoolView};
pub use stakeholders::{ConversationView, StakeholderSummary, StakeholderView};
pub use wishes::WishView;

/// Stakeholders' names by id, for views that name the person.
pub type Names = HashMap<Uuid, ShortText>;

/// The names of `people`.
pub fn names<'a>(people: impl IntoIterator<Item = &'a StakeholderDoc>) -> Names {
    people.into_iter().map(|p| (p.stakeholder_id, p.name.clone())).collect()
}

/// Every stakeholder's name.
async fn all_names(view: &View<'_>) -> Result<Names, ApiError> {
    Ok(names(&view.all::<Stakeholders>().await?))
}

/// The name of the stakeholder `id`, if registered.
async fn name_of(view: &View<'_>, id: Uuid) -> Result<Names, ApiError> {
    Ok(names(&view.one::<Stakeholders>(&id.to_string()).await?))
}

/// Every held purchase, as the API shows it.
async fn held_purchases(view: &View<'_>) -> Result<Vec<HeldPurchaseDoc>, ApiError> {
    Ok(view.all::<HeldPurchases>().await?.into_iter().map(|h| h.purchase).collect())
}
