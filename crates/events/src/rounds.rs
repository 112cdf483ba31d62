//! Rounds of meetings: IT's plan to meet a set of people (every principal, as the district's
//! CTO did: 30 principals in 30 work days), by when, in work days.
//!
//! | stream | family | what |
//! |---|---|---|
//! | `round-{uuid}` ([`round_stream`]) | [`RoundEvent`] | one round of meetings, as planned |
//!
//! A round's coverage (who was met, on their own turf or elsewhere, on which of its work days)
//! is read from the people's conversations held from its first day.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::values::ShortText;

/// The category of round streams.
pub const ROUND_CATEGORY: &str = "round";

/// The stream of the round `id`.
pub fn round_stream(id: Uuid) -> String {
    format!("{ROUND_CATEGORY}-{id}")
}

/// IT planned a round of meetings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoundPlanned {
    pub round_id: Uuid,
    /// What IT calls it (`Meet every principal, fall 2026`).
    pub name: ShortText,
    /// Whom IT is to meet, in the order planned.
    pub stakeholder_ids: Vec<Uuid>,
    /// Its first day: conversations from this day (the district's date) count.
    pub starts_on: NaiveDate,
    /// The work days it is given (business days of the district's calendar).
    pub work_days: u32,
    /// Its last work day, in the district's calendar when it was planned.
    pub due_on: NaiveDate,
}

event_family! {
    /// The events of a `round-{uuid}` stream.
    pub enum RoundEvent in "round" {
        /// `round-planned`
        Planned(RoundPlanned) = "round-planned",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let event = RoundEvent::from(RoundPlanned {
            round_id: Uuid::from_u128(1),
            name: ShortText::parse("Every principal, fall").unwrap(),
            stakeholder_ids: vec![Uuid::from_u128(2), Uuid::from_u128(3)],
            starts_on: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            work_days: 30,
            due_on: NaiveDate::from_ymd_opt(2026, 10, 13).unwrap(),
        });
        let back = RoundEvent::from_parts(event.event_type(), &event.to_data()).unwrap();
        assert_eq!(back, event);
        assert_eq!(round_stream(Uuid::from_u128(1)), format!("round-{}", Uuid::from_u128(1)));
    }
}
