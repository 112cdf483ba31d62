//! `gate.schools`: each school's registration and agreement, from the `school-…` streams the
//! stakeholder relations service writes.

use events::Published;
use events::school::SchoolStatus;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};

/// A school as the gate knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchoolDoc {
    pub school_id: String,
    pub status: SchoolStatus,
}

/// Keeps `gate.schools`.
#[derive(Debug, Default)]
pub struct Schools;

impl ReadModel for Schools {
    const NAME: &'static str = "gate.schools";
    type Doc = SchoolDoc;

    const CATEGORIES: &'static [&'static str] = &[events::school::SCHOOL_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, SchoolDoc>) -> Applied {
        let Published::School(school_event) = event.event else { return Ok(()) };
        let key = event.stream_id();
        let mut doc = docs.get(key).unwrap_or_else(|| SchoolDoc {
            school_id: key.to_owned(),
            status: SchoolStatus::default(),
        });
        doc.status.apply(school_event);
        docs.put(key, &doc);
        Ok(())
    }
}
