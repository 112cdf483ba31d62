//! `stakeholders.wishes`: every conversation's wish, with the headway on it.

use chrono::{DateTime, Utc};
use events::Published;
use events::stakeholders::{WISH_CATEGORY, WishEvent, WishProgressed, WishRecorded, WishStatus};
use events::values::{LongText, SchoolId};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A tracked wish (`stakeholders.wishes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WishDoc {
    pub wish_id: Uuid,
    pub stakeholder_id: Uuid,
    pub school_id: Option<SchoolId>,
    pub text: LongText,
    pub conversation_id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub status: WishStatus,
    /// Every headway, oldest first.
    pub progress: Vec<WishProgressed>,
    /// When it was recorded or last progressed.
    pub last_activity_at: DateTime<Utc>,
}

impl WishDoc {
    /// A wish just recorded: open, without headway.
    fn recorded(r: WishRecorded) -> Self {
        let WishRecorded { wish_id, stakeholder_id, school_id, text, conversation_id, recorded_at } =
            r;
        Self {
            wish_id,
            stakeholder_id,
            school_id,
            text,
            conversation_id,
            recorded_at,
            status: WishStatus::Open,
            progress: vec![],
            last_activity_at: recorded_at,
        }
    }
}

/// Keeps `stakeholders.wishes`.
#[derive(Debug, Default)]
pub struct Wishes;

impl ReadModel for Wishes {
    const NAME: &'static str = "stakeholders.wishes";
    type Doc = WishDoc;

    const CATEGORIES: &'static [&'static str] = &[WISH_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, WishDoc>) -> Applied {
        let key = event.stream_id();
        match event.event {
            Published::Wish(WishEvent::Recorded(r)) => {
                docs.put(key, &WishDoc::recorded(r.clone()));
                Ok(())
            }
            Published::Wish(WishEvent::Progressed(p)) => docs.change(key, event, |doc| {
                doc.status = p.status;
                doc.last_activity_at = doc.last_activity_at.max(p.at);
                doc.progress.push(p.clone());
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::*;

    #[test]
    fn wishes_with_headway() {
        let docs = district_docs();
        let wish = doc::<Wishes>(&docs, WISH_DANA);
        assert_eq!(wish.status, WishStatus::Done);
        assert_eq!(wish.stakeholder_id, DANA);
        assert_eq!(wish.school_id, Some(lincoln()));
        assert_eq!(wish.text.as_str(), "Loaners the same day");
        assert_eq!(wish.progress.len(), 2);
        assert_eq!(wish.last_activity_at, wish.progress[1].at);
        let sams = doc::<Wishes>(&docs, WISH_SAM);
        assert_eq!((sams.status, sams.last_activity_at), (WishStatus::Open, sams.recorded_at));
    }
}
