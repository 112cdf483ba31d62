//! Follow-ups as the API shows them: with whom they are owed to, and where they stand today.

use chrono::NaiveDate;
use events::values::ShortText;
use kernel::{ReadModel, View};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::{Names, all_names, name_of};
use crate::read_models::{FollowUpDoc, FollowUps, Stakeholders, sort_follow_ups};

/// The read models follow-up views are built from.
pub const READS: &[&str] = &[FollowUps::NAME, Stakeholders::NAME];

/// Where a follow-up stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpState {
    /// Not done, and not due before today.
    Open,
    /// Not done, and due before today.
    Overdue,
    Done,
}

/// Something to come back to a stakeholder about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpView {
    #[serde(flatten)]
    pub follow_up: FollowUpDoc,
    pub stakeholder_name: Option<ShortText>,
    pub status: FollowUpState,
}

/// The follow-up as it stands `today`, named from `names`.
pub fn follow_up_view(doc: FollowUpDoc, today: NaiveDate, names: &Names) -> FollowUpView {
    let status = if doc.done_on.is_some() {
        FollowUpState::Done
    } else if doc.is_overdue(today) {
        FollowUpState::Overdue
    } else {
        FollowUpState::Open
    };
    FollowUpView {
        stakeholder_name: names.get(&doc.stakeholder_id).cloned(),
        status,
        follow_up: doc,
    }
}

/// `docs` as they stand `today`: overdue first, then open, then done; by due date within each.
pub fn follow_up_views(
    mut docs: Vec<FollowUpDoc>,
    today: NaiveDate,
    names: &Names,
) -> Vec<FollowUpView> {
    sort_follow_ups(&mut docs, today);
    docs.into_iter().map(|f| follow_up_view(f, today, names)).collect()
}

/// The follow-ups owed to `stakeholder_id` (everyone's when `None`) that stand as `status`
/// today (any when `None`), overdue first.
pub async fn follow_ups(
    view: &View<'_>,
    stakeholder_id: Option<Uuid>,
    status: Option<FollowUpState>,
    today: NaiveDate,
) -> Result<Vec<FollowUpView>, ApiError> {
    let (docs, names) = futures::try_join!(view.all::<FollowUps>(), all_names(view))?;
    let docs = docs.into_iter().filter(|f| stakeholder_id.is_none_or(|s| f.stakeholder_id == s));
    let mut list = follow_up_views(docs.collect(), today, &names);
    list.retain(|f| status.is_none_or(|s| f.status == s));
    Ok(list)
}

/// The follow-up `id`, if there is one.
pub async fn follow_up(
    view: &View<'_>,
    id: Uuid,
    today: NaiveDate,
) -> Result<Option<FollowUpView>, ApiError> {
    let Some(doc) = view.one::<FollowUps>(&id.to_string()).await? else { return Ok(None) };
    let names = name_of(view, doc.stakeholder_id).await?;
    Ok(Some(follow_up_view(doc, today, &names)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queries::names;
    use crate::read_models::testing::*;

    #[test]
    fn follow_ups_stand_as_of_today_overdue_first() {
        let docs = district_docs();
        let names = names(&collection::<Stakeholders>(&docs));
        let list = follow_up_views(collection::<FollowUps>(&docs), day("2024-08-10"), &names);
        let standing: Vec<_> = list.iter().map(|f| (f.follow_up.followup_id, f.status)).collect();
        assert_eq!(
            standing,
            [
                (FOLLOWUP_LATE, FollowUpState::Overdue),
                (FOLLOWUP_SAM, FollowUpState::Open),
                (FOLLOWUP_DONE, FollowUpState::Done)
            ]
        );
        assert_eq!(list[1].stakeholder_name.as_ref().map(ShortText::as_str), Some("Sam Ortiz"));
        // Not overdue on its due date.
        let on_the_day = follow_up_views(collection::<FollowUps>(&docs), day("2024-08-03"), &names);
        assert_eq!(on_the_day[0].status, FollowUpState::Open);
    }
}
