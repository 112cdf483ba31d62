//! `stakeholders.promises`: every promise IT made and its outcome, when recorded by hand. The
//! standing call-before-cancel promise has none here: its record is the gate's
//! ([`crate::queries::call_before_cancel_record`]).

use chrono::{DateTime, NaiveDate, Utc};
use events::Published;
use events::stakeholders::{PROMISE_CATEGORY, PromiseEvent, PromiseMade, PromiseTo};
use events::values::LongText;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::promise;

/// Where a promise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromiseStatus {
    Open,
    Kept,
    Broken,
    /// The standing call-before-cancel promise: see [`call_before_cancel_record`].
    ///
    /// [`call_before_cancel_record`]: crate::queries::call_before_cancel_record
    Standing,
}

/// A promise (`stakeholders.promises`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromiseDoc {
    pub promise_id: Uuid,
    pub to: PromiseTo,
    pub text: LongText,
    pub due_on: NaiveDate,
    pub owner: String,
    pub made_on: NaiveDate,
    pub kind: Option<String>,
    pub status: PromiseStatus,
    /// What shows it was kept or broken.
    pub evidence: Option<LongText>,
    pub settled_on: Option<NaiveDate>,
    pub made_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PromiseDoc {
    /// A promise made at `at`: open, or standing for the agreement's call-before-cancel one.
    fn made(m: PromiseMade, at: DateTime<Utc>) -> Self {
        let status =
            if m.is_call_before_cancel() { PromiseStatus::Standing } else { PromiseStatus::Open };
        let PromiseMade { promise_id, to, text, due_on, owner, made_on, kind } = m;
        Self {
            promise_id,
            to,
            text,
            due_on,
            owner,
            made_on,
            kind,
            status,
            evidence: None,
            settled_on: None,
            made_at: at,
            updated_at: at,
        }
    }

    /// Whether it is overdue on `today`: open (not standing) and due before today.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        let standing = self.status == PromiseStatus::Standing;
        let settled = matches!(self.status, PromiseStatus::Kept | PromiseStatus::Broken);
        promise::is_overdue(self.due_on, standing, settled, today)
    }
}

/// Keeps `stakeholders.promises`.
#[derive(Debug, Default)]
pub struct Promises;

impl ReadModel for Promises {
    const NAME: &'static str = "stakeholders.promises";
    type Doc = PromiseDoc;

    const CATEGORIES: &'static [&'static str] = &[PROMISE_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, PromiseDoc>) -> Applied {
        let key = event.stream_id();
        let at = event.recorded_at;
        let Published::Promise(promise_event) = event.event else { return Ok(()) };
        let (status, evidence, on) = match promise_event {
            PromiseEvent::Made(m) => {
                docs.put(key, &PromiseDoc::made(m.clone(), at));
                return Ok(());
            }
            PromiseEvent::Kept(k) => (PromiseStatus::Kept, &k.evidence, k.on),
            PromiseEvent::Broken(b) => (PromiseStatus::Broken, &b.evidence, b.on),
        };
        docs.change(key, event, |doc| {
            doc.status = status;
            doc.evidence = Some(evidence.clone());
            doc.settled_on = Some(on);
            doc.updated_at = at;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::testing::*;

    #[test]
    fn promises_and_their_outcomes() {
        let docs = district_docs();
        let kept = doc::<Promises>(&docs, PROMISE_SAM);
        assert_eq!((kept.status, kept.settled_on), (PromiseStatus::Kept, Some(day("2024-08-02"))));
        assert_eq!(kept.evidence.unwrap().as_str(), "Fixed");
        let open = doc::<Promises>(&docs, PROMISE_DANA);
        assert_eq!(open.status, PromiseStatus::Open);
        assert!(!open.is_overdue(day("2024-08-09")));
        assert!(open.is_overdue(day("2024-08-10")));
        let standing = doc::<Promises>(&docs, STANDING_1);
        assert_eq!(standing.status, PromiseStatus::Standing);
        assert_eq!(standing.kind.as_deref(), Some(events::stakeholders::CALL_BEFORE_CANCEL));
        assert!(!standing.is_overdue(day("2030-01-01")));
    }
}
