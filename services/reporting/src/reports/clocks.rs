//! The clocks projection (`reporting.clocks`): the facts the reports in business time need,
//! kept incrementally; the business time itself is computed when a report is asked for, in
//! the district's calendar then in force.
//!
//! - `reporting.clocks`: one [`ClockDoc`] per **flagged** purchase (held or advisory): its
//!   school and the published fold of its clocks ([`PurchaseClocks`]: the flag, the payment
//!   method, the calls, the approval or cancellation), the same fold the gate's views and its
//!   scheduler use, so the reports judge a clock as the gate does.
//! - `reporting.clocks.district`: one [`DistrictDoc`] holding the `district-settings` stream's
//!   events (a handful a year: the calendar, closures, targets), folded into the published
//!   [`District`] at request time. The reports' *today* and *month* are the district's, in its
//!   time zone.
//! - `reporting.clocks.pending`: one [`PendingClocks`] document holding the submissions whose
//!   decision has not been read yet (as the purchase projection keeps its own): a purchase
//!   approved at once never gets a document.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use eventlog::{DocKey, Filter};
use events::Published;
use events::clocks::PurchaseClocks;
use events::district::{District, DistrictEvent};
use events::gate::PurchaseEvent;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The projection's (and checkpoint's) name, and the collection of its [`ClockDoc`]s.
pub const NAME: &str = "reporting.clocks";
/// The one [`DistrictDoc`], under [`DISTRICT_KEY`].
pub const DISTRICT: &str = "reporting.clocks.district";
/// The key of the one district document.
pub const DISTRICT_KEY: &str = "district-settings";
/// The submissions awaiting their decision: one [`PendingClocks`] under [`PENDING_KEY`].
pub const PENDING: &str = "reporting.clocks.pending";
/// The key of the one pending document.
pub const PENDING_KEY: &str = "awaiting-decision";

/// A flagged purchase's clocks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockDoc {
    pub school_id: String,
    pub clocks: PurchaseClocks,
}

/// Submissions whose decision has not been read yet, by purchase id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingClocks {
    pub submitted: BTreeMap<String, ClockDoc>,
}

/// The `district-settings` stream's events, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistrictDoc {
    pub events: Vec<DistrictRecord>,
}

/// One event of `district-settings`, as the log recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictRecord {
    pub version: u64,
    pub recorded_at: DateTime<Utc>,
    pub event_type: String,
    pub data: Value,
}

impl DistrictDoc {
    /// Keeps an event of the `district-settings` stream (once: a later copy of an event kept
    /// already is left out).
    pub fn keep(&mut self, event: &Recorded<'_>) {
        if self.events.last().is_none_or(|last| last.version < event.version) {
            self.events.push(DistrictRecord {
                version: event.version,
                recorded_at: event.recorded_at,
                event_type: event.event_type.clone(),
                data: event.data.clone(),
            });
        }
    }

    /// The district these events make (events that no longer decode are left out; the read
    /// model only keeps ones that did).
    pub fn district(&self) -> District {
        let mut district = District::default();
        for record in &self.events {
            if let Ok(event) = DistrictEvent::from_parts(&record.event_type, &record.data) {
                district.apply(&event, record.version, record.recorded_at);
            }
        }
        district
    }
}

/// Keeps the [`ClockDoc`]s, [`DISTRICT`] and [`PENDING`].
#[derive(Debug, Default)]
pub struct Clocks;

impl ReadModel for Clocks {
    const NAME: &'static str = NAME;
    const SKIP_UNDECODABLE: bool = true;
    type Doc = ClockDoc;

    fn collections(&self) -> Vec<&'static str> {
        vec![NAME, DISTRICT, PENDING]
    }

    fn filter(&self) -> Filter {
        let mut types = vec![
            "purchase-submitted",
            "purchase-decided",
            "call-logged",
            "purchase-approved",
            "purchase-cancelled",
        ];
        types.extend(DistrictEvent::EVENT_TYPES);
        Filter::all().with_types(types)
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::Purchase(PurchaseEvent::Submitted(_)) => vec![],
            Published::Purchase(PurchaseEvent::Decided(d)) if !d.decision.flags() => vec![],
            Published::Purchase(_) => vec![event.stream_id().to_owned()],
            _ => vec![],
        }
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        match event.event {
            Published::Purchase(PurchaseEvent::Submitted(_) | PurchaseEvent::Decided(_)) => {
                vec![DocKey::new(PENDING, PENDING_KEY)]
            }
            Published::District(_) => vec![DocKey::new(DISTRICT, DISTRICT_KEY)],
            _ => vec![],
        }
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, ClockDoc>,
    ) -> Result<(), String> {
        let id = event.stream_id();
        match event.event {
            Published::Purchase(purchase @ PurchaseEvent::Submitted(s)) => {
                let mut clocks = PurchaseClocks::default();
                clocks.apply(purchase, event.recorded_at);
                let mut pending = docs.of::<PendingClocks>(PENDING);
                let mut doc = pending.get(PENDING_KEY).unwrap_or_default();
                let school_id = s.school_id.to_string();
                doc.submitted.insert(id.to_owned(), ClockDoc { school_id, clocks });
                pending.put(PENDING_KEY, &doc);
            }
            Published::Purchase(decision @ PurchaseEvent::Decided(d)) => {
                let mut pending = docs.of::<PendingClocks>(PENDING);
                let mut waiting = pending.get(PENDING_KEY).unwrap_or_default();
                // Decided twice, or without a submission: nothing to keep.
                let Some(mut doc) = waiting.submitted.remove(id) else { return Ok(()) };
                if waiting.submitted.is_empty() {
                    pending.remove(PENDING_KEY);
                } else {
                    pending.put(PENDING_KEY, &waiting);
                }
                if d.decision.flags() {
                    doc.clocks.apply(decision, event.recorded_at);
                    docs.put(id, &doc);
                }
            }
            Published::Purchase(purchase) => {
                // Not flagged (approved at once, or unknown): no clocks.
                let Some(mut doc) = docs.get(id) else { return Ok(()) };
                let before = doc.clocks.clone();
                doc.clocks.apply(purchase, event.recorded_at);
                if doc.clocks != before {
                    docs.put(id, &doc);
                }
            }
            Published::District(_) => {
                let mut district = docs.of::<DistrictDoc>(DISTRICT);
                district.entry(DISTRICT_KEY, event)?.keep(event);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use eventlog::RecordedEvent;
    use events::calendar::{BusinessHours, TimeZoneName};
    use events::clocks::SlaState;
    use events::district::{BusinessMinutes, DistrictSet, SlaTargets};
    use events::values::ShortText;
    use uuid::Uuid;

    use super::*;
    use crate::reports::purchases::fixtures::*;

    /// Every document after the events, applied one batch per event.
    fn apply(events: &[RecordedEvent]) -> BTreeMap<DocKey, Value> {
        let projection = Clocks.into_projection();
        kernel::testing::project(&*projection, events)
    }

    fn district_events(first_position: u64) -> Vec<RecordedEvent> {
        let set = DistrictEvent::from(DistrictSet {
            name: ShortText::parse("Springfield").unwrap(),
            time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
            business_hours: BusinessHours::office(),
            school_year_starts_in: None,
        });
        let minutes = |n| BusinessMinutes::new(n).unwrap();
        let targets = DistrictEvent::from(SlaTargets {
            first_contact_minutes: minutes(60),
            decision_minutes: minutes(480),
            advisory_outreach_minutes: minutes(240),
            warn_at_percent: vec![],
            escalate_to: None,
            by_payment_method: Default::default(),
        });
        [set, targets]
            .iter()
            .zip(0u64..)
            .map(|(e, i)| RecordedEvent {
                position: first_position + i,
                id: Uuid::now_v7(),
                stream: "district-settings".into(),
                version: i + 1,
                event_type: e.event_type().into(),
                data: e.to_data(),
                metadata: eventlog::Metadata::new(eventlog::Actor::new("admin", "admin"), "gate"),
                recorded_at: at(-60 * 24),
                hash: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_flagged_purchase_keeps_its_clocks_and_the_district_its_events() {
        let (held_id, approved_id) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut events = district_events(1);
        events.extend(recorded(held_id, 3, &[(submitted(held_id), 0), (held(), 0)]));
        let approved = events::gate::PurchaseDecided {
            decision: events::gate::Decision::Approved,
            reasons: vec![],
            policy_version: 4,
            school_gated: false,
        };
        events.extend(recorded(
            approved_id,
            5,
            &[(submitted(approved_id), 0), (approved.into(), 0)],
        ));
        events.extend(recorded(held_id, 7, &[(reached(30, true), 30), (cancelled(), 90)]));
        let store = apply(&events);

        assert!(
            !store.keys().any(|k| k.collection == PENDING),
            "the pending document is removed once empty"
        );
        assert!(!store.contains_key(&DocKey::new(NAME, approved_id.to_string())));
        let doc: ClockDoc =
            serde_json::from_value(store[&DocKey::new(NAME, held_id.to_string())].clone()).unwrap();
        assert_eq!(doc.school_id, "lincoln-elem");
        let district: DistrictDoc =
            serde_json::from_value(store[&DocKey::new(DISTRICT, DISTRICT_KEY)].clone()).unwrap();
        let district = district.district();
        assert_eq!(district.version, 2);
        assert_eq!(district.calendar.time_zone().as_str(), "America/Chicago");
        // Monday 2024-09-02 09:00Z is 04:00 in Chicago: the office opens at 14:00Z. The call at
        // 09:30Z came before any business time passed; the cancellation at 10:30Z too.
        let status = doc.clocks.status(&district, at(60 * 24)).unwrap();
        assert_eq!(status.state, SlaState::Met);
        assert_eq!(status.clocks.len(), 2);
    }
}
