//! Wishes as the API shows them: with whose wish it is, and whether it went stale.

use chrono::{DateTime, Utc};
use events::stakeholders::WishStatus;
use events::values::{SchoolId, ShortText};
use kernel::{ReadModel, View};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::{Names, all_names, name_of};
use crate::domain::health::is_stale_wish;
use crate::read_models::{Stakeholders, WishDoc, Wishes};

/// The read models wish views are built from.
pub const READS: &[&str] = &[Wishes::NAME, Stakeholders::NAME];

/// A tracked wish, with the headway on it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WishView {
    #[serde(flatten)]
    pub wish: WishDoc,
    /// Whose wish it is.
    pub stakeholder_name: Option<ShortText>,
    /// Open or in progress without headway (recorded or progressed) in the last 60 days.
    pub stale: bool,
}

/// The wish as of `now`, named from `names`.
pub fn wish_view(doc: WishDoc, now: DateTime<Utc>, names: &Names) -> WishView {
    let stale = is_stale_wish(doc.status, doc.last_activity_at, now);
    WishView { stakeholder_name: names.get(&doc.stakeholder_id).cloned(), stale, wish: doc }
}

/// Orders wishes: oldest first (by when they were said), then by id.
pub fn sort_wishes(list: &mut [WishView]) {
    list.sort_by_key(|w| (w.wish.recorded_at, w.wish.wish_id));
}

/// Which wishes a list shows; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct WishFilter {
    pub status: Option<WishStatus>,
    /// Whose.
    pub stakeholder_id: Option<Uuid>,
    /// Made at this school (the person's school when they said it).
    pub school_id: Option<SchoolId>,
}

impl WishFilter {
    fn matches(&self, w: &WishDoc) -> bool {
        self.status.is_none_or(|s| w.status == s)
            && self.stakeholder_id.is_none_or(|s| w.stakeholder_id == s)
            && self.school_id.as_ref().is_none_or(|s| w.school_id.as_ref() == Some(s))
    }
}

/// The wishes `filter` lets through, as of `now`, oldest first.
pub fn wish_list(
    docs: Vec<WishDoc>,
    filter: &WishFilter,
    now: DateTime<Utc>,
    names: &Names,
) -> Vec<WishView> {
    let mut wishes: Vec<WishView> =
        docs.into_iter().filter(|w| filter.matches(w)).map(|w| wish_view(w, now, names)).collect();
    sort_wishes(&mut wishes);
    wishes
}

/// The wishes `filter` lets through ([`wish_list`]), from the read models.
pub async fn wishes(
    view: &View<'_>,
    filter: &WishFilter,
    now: DateTime<Utc>,
) -> Result<Vec<WishView>, ApiError> {
    let (docs, names) = futures::try_join!(view.all::<Wishes>(), all_names(view))?;
    Ok(wish_list(docs, filter, now, &names))
}

/// The wish `id`, if there is one.
pub async fn wish(
    view: &View<'_>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<WishView>, ApiError> {
    let Some(doc) = view.one::<Wishes>(&id.to_string()).await? else { return Ok(None) };
    let names = name_of(view, doc.stakeholder_id).await?;
    Ok(Some(wish_view(doc, now, &names)))
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::domain::health::STALE_WISH_DAYS;
    use crate::queries::names;
    use crate::read_models::testing::*;

    #[test]
    fn wishes_oldest_first_filtered_named_and_stale_after_sixty_days() {
        let docs = district_docs();
        let names = names(&collection::<Stakeholders>(&docs));
        let wishes = collection::<Wishes>(&docs);
        let recorded = doc::<Wishes>(&docs, WISH_SAM).recorded_at;
        let all = wish_list(wishes.clone(), &WishFilter::default(), recorded, &names);
        let ids: Vec<_> = all.iter().map(|w| w.wish.wish_id).collect();
        assert_eq!(ids, [WISH_DANA, WISH_SAM]);
        assert_eq!(all[0].stakeholder_name.as_ref().map(ShortText::as_str), Some("Dana Whitfield"));
        assert!(!all[1].stale);

        let open = WishFilter { status: Some(WishStatus::Open), ..WishFilter::default() };
        let later = recorded + TimeDelta::days(STALE_WISH_DAYS) + TimeDelta::seconds(1);
        let stale = wish_list(wishes.clone(), &open, later, &names);
        assert_eq!(stale.len(), 1);
        assert!(stale[0].stale, "open without headway for over 60 days");
        let dana = WishFilter { stakeholder_id: Some(DANA), ..WishFilter::default() };
        let done = wish_list(wishes.clone(), &dana, later, &names);
        assert!(!done[0].stale, "a done wish is never stale");
        let elsewhere = WishFilter { school_id: Some(washington()), ..WishFilter::default() };
        assert!(wish_list(wishes, &elsewhere, later, &names).is_empty());
    }
}
