//! `stakeholders.followups`: what IT owes people a call about, and when it was done.

use chrono::{DateTime, NaiveDate, Utc};
use events::Published;
use events::stakeholders::{FOLLOWUP_CATEGORY, FollowUpEvent, FollowUpScheduled};
use events::values::LongText;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::followup;

/// A follow-up (`stakeholders.followups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FollowUpDoc {
    pub followup_id: Uuid,
    pub stakeholder_id: Uuid,
    pub about: LongText,
    pub due_on: NaiveDate,
    pub scheduled_at: DateTime<Utc>,
    pub done_on: Option<NaiveDate>,
    pub note: Option<LongText>,
}

impl FollowUpDoc {
    /// A follow-up scheduled at `at`, not done.
    fn scheduled(s: FollowUpScheduled, at: DateTime<Utc>) -> Self {
        let FollowUpScheduled { followup_id, stakeholder_id, about, due_on } = s;
        Self {
            followup_id,
            stakeholder_id,
            about,
            due_on,
            scheduled_at: at,
            done_on: None,
            note: None,
        }
    }

    /// Whether it is overdue on `today`: not done and due before today.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        followup::is_overdue(self.due_on, self.done_on.is_some(), today)
    }
}

/// Orders follow-ups for the list: overdue first, then open, then done; by due date within
/// each (then by id, so the order is total).
pub fn sort_follow_ups(list: &mut [FollowUpDoc], today: NaiveDate) {
    list.sort_by_key(|f| {
        let group = if f.is_overdue(today) {
            0
        } else if f.done_on.is_none() {
            1
        } else {
            2
        };
        (group, f.due_on, f.followup_id)
    });
}

/// Keeps `stakeholders.followups`.
#[derive(Debug, Default)]
pub struct FollowUps;

impl ReadModel for FollowUps {
    const NAME: &'static str = "stakeholders.followups";
    type Doc = FollowUpDoc;

    const CATEGORIES: &'static [&'static str] = &[FOLLOWUP_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, FollowUpDoc>) -> Applied {
        let key = event.stream_id();
        match event.event {
            Published::FollowUp(FollowUpEvent::Scheduled(s)) => {
                docs.put(key, &FollowUpDoc::scheduled(s.clone(), event.recorded_at));
                Ok(())
            }
            Published::FollowUp(FollowUpEvent::Done(d)) => docs.change(key, event, |doc| {
                doc.done_on = Some(d.on);
                doc.note = d.note.clone();
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
    fn follow_ups_overdue_first() {
        let mut list = collection::<FollowUps>(&district_docs());
        sort_follow_ups(&mut list, day("2024-08-10"));
        let order: Vec<_> = list.iter().map(|f| f.followup_id).collect();
        assert_eq!(order, [FOLLOWUP_LATE, FOLLOWUP_SAM, FOLLOWUP_DONE]);
        assert!(list[0].is_overdue(day("2024-08-10")));
        assert!(!list[1].is_overdue(day("2024-08-10")));
        assert_eq!(list[2].done_on, Some(day("2024-08-02")));
        assert!(!list[2].is_overdue(day("2024-09-10")));
    }
}
