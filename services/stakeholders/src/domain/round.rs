//! Rounds of meetings (`round-{id}`): whom IT is to meet, from which day, in how many work
//! days. The seed's CTO met every principal, on their turf, 30 meetings in 30 work days.
//!
//! Rules: a round meets at least one person, each registered (`empty-round`,
//! `unknown-invitee`), each once; it is due on its last work day, counted in the district's
//! calendar in force when it is planned ([`due_on`]), a date of a four-digit year
//! (`date-too-late`); a round is planned once.

use chrono::{Datelike, NaiveDate};
use events::calendar::DistrictCalendar;
use events::rounds::{RoundEvent, RoundPlanned};
use events::values::ShortText;
use kernel::{Aggregate, At, Decision};
use uuid::Uuid;

use super::DomainError;

/// The most work days a round is given.
pub const MAX_WORK_DAYS: u32 = 250;

/// A round of meetings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    pub planned: Option<RoundPlanned>,
}

/// `POST /v1/meeting-rounds`: the facts looked up (who is registered) come with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRound {
    pub round_id: Uuid,
    pub name: ShortText,
    /// Whom to meet, with whether each is registered.
    pub invitees: Vec<(Uuid, bool)>,
    pub starts_on: NaiveDate,
    pub work_days: u32,
    pub calendar: DistrictCalendar,
}

impl Aggregate for Round {
    type Event = RoundEvent;
    type Command = PlanRound;
    type Error = DomainError;

    fn handle(&self, command: PlanRound) -> Result<Decision<RoundEvent>, DomainError> {
        if self.planned.is_some() {
            return Err(DomainError::AlreadyExists { what: "round" });
        }
        if let Some((stakeholder_id, _)) = command.invitees.iter().find(|(_, known)| !known) {
            return Err(DomainError::UnknownInvitee { stakeholder_id: *stakeholder_id });
        }
        let mut stakeholder_ids: Vec<Uuid> = Vec::new();
        for (id, _) in command.invitees {
            if !stakeholder_ids.contains(&id) {
                stakeholder_ids.push(id);
            }
        }
        if stakeholder_ids.is_empty() {
            return Err(DomainError::EmptyRound);
        }
        let due_on = command.calendar.nth_business_day(command.starts_on, command.work_days);
        if due_on.year() > 9999 {
            return Err(DomainError::DateTooLate {
                field: "starts_on",
                because: "the round's last work day would fall after 9999-12-31",
            });
        }
        let planned = RoundPlanned {
            round_id: command.round_id,
            name: command.name,
            stakeholder_ids,
            starts_on: command.starts_on,
            work_days: command.work_days,
            due_on,
        };
        Ok(vec![planned.into()].into())
    }

    fn apply(&mut self, event: &RoundEvent, _: At) {
        let RoundEvent::Planned(planned) = event;
        self.planned = Some(planned.clone());
    }
}

#[cfg(test)]
mod tests {
    use kernel::testing::given;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn plan(invitees: Vec<(Uuid, bool)>) -> PlanRound {
        PlanRound {
            round_id: Uuid::from_u128(9),
            name: ShortText::parse("Every principal").unwrap(),
            invitees,
            // A Monday; the default calendar works Monday to Friday.
            starts_on: d("2026-08-31"),
            work_days: 30,
            calendar: DistrictCalendar::default(),
        }
    }

    #[test]
    fn a_round_meets_registered_people_each_once() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let planned = RoundPlanned {
            round_id: Uuid::from_u128(9),
            name: ShortText::parse("Every principal").unwrap(),
            stakeholder_ids: vec![a, b],
            starts_on: d("2026-08-31"),
            work_days: 30,
            due_on: d("2026-10-09"),
        };
        given::<Round>([])
            .when(plan(vec![(a, true), (b, true), (a, true)]))
            .then_expect_events(vec![planned.clone().into()]);
        given::<Round>([])
            .when(plan(vec![(a, true), (b, false)]))
            .then_expect_error(DomainError::UnknownInvitee { stakeholder_id: b });
        given::<Round>([]).when(plan(vec![])).then_expect_error(DomainError::EmptyRound);
        // Its last work day is in year 9999 at the latest: one in 10000 has no `YYYY-MM-DD`.
        let late = PlanRound { starts_on: d("9999-12-01"), ..plan(vec![(a, true)]) };
        given::<Round>([]).when(late).then_expect_error(DomainError::DateTooLate {
            field: "starts_on",
            because: "the round's last work day would fall after 9999-12-31",
        });
        let last = PlanRound { starts_on: d("9999-11-01"), work_days: 5, ..plan(vec![(a, true)]) };
        assert_eq!(given::<Round>([]).when(last).decision().events.len(), 1);
        given::<Round>([planned.into()])
            .when(plan(vec![(a, true)]))
            .then_expect_error(DomainError::AlreadyExists { what: "round" });
    }
}
