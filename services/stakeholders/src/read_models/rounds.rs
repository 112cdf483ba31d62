//! `stakeholders.rounds`: every round of meetings IT planned.

use chrono::{DateTime, Utc};
use events::Published;
use events::rounds::{ROUND_CATEGORY, RoundEvent, RoundPlanned};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};

/// A round as planned (`stakeholders.rounds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundDoc {
    #[serde(flatten)]
    pub planned: RoundPlanned,
    pub planned_at: DateTime<Utc>,
}

/// Keeps `stakeholders.rounds`.
#[derive(Debug, Default)]
pub struct Rounds;

impl ReadModel for Rounds {
    const NAME: &'static str = "stakeholders.rounds";
    /// Rounds hold ids and dates, no personal data.
    const REBUILDS_AFTER_ERASURE: bool = false;
    type Doc = RoundDoc;

    const CATEGORIES: &'static [&'static str] = &[ROUND_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, RoundDoc>) -> Applied {
        if let Published::Round(RoundEvent::Planned(planned)) = event.event {
            let doc = RoundDoc { planned: planned.clone(), planned_at: event.recorded_at };
            docs.put(event.stream_id(), &doc);
        }
        Ok(())
    }
}
