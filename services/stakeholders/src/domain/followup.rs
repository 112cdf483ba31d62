//! A follow-up (stream `followup-{uuid}`): something to come back to a stakeholder about.
//!
//! - **Schedule**: for a registered stakeholder (the caller looks them up), due today or later.
//! - **Done**: once; `on` is not after `today`.
//! - **Overdue** ([`is_overdue`]): its due date has passed and it is not done. The aggregate,
//!   the read model and relationship health all ask it.

use chrono::{DateTime, NaiveDate, Utc};
use events::stakeholders::{FollowUpDone, FollowUpEvent, FollowUpScheduled};
use events::values::LongText;
use kernel::{Aggregate, At, Decision};
use uuid::Uuid;

use events::rules::is_past_due;

use super::{DomainError, not_before, not_in_future};

/// Whether a follow-up due on `due_on` is **overdue** on `today`: not `done`, and past its due
/// date ([`events::rules::is_past_due`]).
pub fn is_overdue(due_on: NaiveDate, done: bool, today: NaiveDate) -> bool {
    !done && is_past_due(due_on, today)
}

/// A follow-up, rebuilt from its stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowUp {
    pub scheduled: Option<FollowUpScheduled>,
    /// When the log recorded the scheduling.
    pub scheduled_at: Option<DateTime<Utc>>,
    pub done_on: Option<NaiveDate>,
}

/// What can be asked of a follow-up.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowUpCommand {
    Schedule(ScheduleFollowUp),
    Done(CompleteFollowUp),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleFollowUp {
    pub followup_id: Uuid,
    pub stakeholder_id: Uuid,
    /// Whether the stakeholder is registered (looked up by the caller).
    pub stakeholder_exists: bool,
    pub about: LongText,
    pub due_on: NaiveDate,
    /// The district's date now.
    pub today: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompleteFollowUp {
    pub on: NaiveDate,
    pub note: Option<LongText>,
    /// The district's date now.
    pub today: NaiveDate,
    /// The district's date when it was scheduled (`None`: unknown): it is not done before.
    pub scheduled_on: Option<NaiveDate>,
}

impl FollowUp {
    /// Whether it is overdue on `today`: scheduled, due before `today`, not done.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        match &self.scheduled {
            Some(s) => is_overdue(s.due_on, self.done_on.is_some(), today),
            None => false,
        }
    }
}

impl Aggregate for FollowUp {
    type Event = FollowUpEvent;
    type Command = FollowUpCommand;
    type Error = DomainError;

    fn apply(&mut self, event: &FollowUpEvent, at: At) {
        match event {
            FollowUpEvent::Scheduled(e) => {
                self.scheduled = Some(e.clone());
                self.scheduled_at = Some(at.recorded_at);
            }
            FollowUpEvent::Done(e) => self.done_on = Some(e.on),
        }
    }

    fn handle(&self, command: FollowUpCommand) -> Result<Decision<FollowUpEvent>, DomainError> {
        match command {
            FollowUpCommand::Schedule(cmd) => {
                if self.scheduled.is_some() {
                    return Err(DomainError::AlreadyExists { what: "follow-up" });
                }
                if !cmd.stakeholder_exists {
                    return Err(DomainError::UnknownStakeholder);
                }
                not_before(
                    "due_on",
                    cmd.due_on,
                    cmd.today,
                    "a follow-up is scheduled for today or later",
                )?;
                Ok(Decision::events(vec![
                    FollowUpScheduled {
                        followup_id: cmd.followup_id,
                        stakeholder_id: cmd.stakeholder_id,
                        about: cmd.about,
                        due_on: cmd.due_on,
                    }
                    .into(),
                ]))
            }
            FollowUpCommand::Done(cmd) => {
                let Some(scheduled) = &self.scheduled else {
                    return Err(DomainError::UnknownFollowUp);
                };
                if self.done_on.is_some() {
                    return Err(DomainError::FollowUpAlreadyDone);
                }
                not_in_future("on", cmd.on, cmd.today)?;
                if let Some(scheduled_on) = cmd.scheduled_on {
                    let because = "a follow-up is done on the day it was scheduled or later";
                    not_before("on", cmd.on, scheduled_on, because)?;
                }
                let stakeholder_id = Some(scheduled.stakeholder_id);
                let done = FollowUpDone { on: cmd.on, note: cmd.note, stakeholder_id };
                Ok(Decision::events(vec![done.into()]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::testing::given;

    const ID: Uuid = Uuid::from_u128(5);
    const WHO: Uuid = Uuid::from_u128(1);

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn about() -> LongText {
        LongText::parse("How the loaners work out").unwrap()
    }

    fn scheduled() -> FollowUpEvent {
        FollowUpScheduled {
            followup_id: ID,
            stakeholder_id: WHO,
            about: about(),
            due_on: day("2024-10-01"),
        }
        .into()
    }

    fn schedule(due_on: &str, stakeholder_exists: bool) -> FollowUpCommand {
        FollowUpCommand::Schedule(ScheduleFollowUp {
            followup_id: ID,
            stakeholder_id: WHO,
            stakeholder_exists,
            about: about(),
            due_on: day(due_on),
            today: day("2024-09-10"),
        })
    }

    fn done(on: &str) -> FollowUpCommand {
        FollowUpCommand::Done(CompleteFollowUp {
            on: day(on),
            note: None,
            today: day("2024-10-02"),
            scheduled_on: Some(day("2024-09-10")),
        })
    }

    #[test]
    fn scheduling() {
        given::<FollowUp>([])
            .when(schedule("2024-10-01", true))
            .then_expect_events(vec![scheduled()]);
        given::<FollowUp>([])
            .when(schedule("2024-10-01", false))
            .then_expect_error(DomainError::UnknownStakeholder);
        given::<FollowUp>([]).when(schedule("2024-09-09", true)).then_expect_error(
            DomainError::DateTooEarly {
                field: "due_on",
                earliest: day("2024-09-10"),
                because: "a follow-up is scheduled for today or later",
            },
        );
        given::<FollowUp>([scheduled()])
            .when(schedule("2024-10-01", true))
            .then_expect_error(DomainError::AlreadyExists { what: "follow-up" });
    }

    #[test]
    fn done_once() {
        given::<FollowUp>([scheduled()])
            .when(done("2024-10-02"))
            .then_expect_events(vec![
                FollowUpDone { on: day("2024-10-02"), note: None, stakeholder_id: Some(WHO) }
                    .into(),
            ])
            .then_apply()
            .when(done("2024-10-02"))
            .then_expect_error(DomainError::FollowUpAlreadyDone);
        given::<FollowUp>([scheduled()])
            .when(done("2024-10-03"))
            .then_expect_error(DomainError::DateInFuture { field: "on" });
        given::<FollowUp>([])
            .when(done("2024-10-02"))
            .then_expect_error(DomainError::UnknownFollowUp);
        // Not before the day it was scheduled (2024-09-10 in `done`).
        given::<FollowUp>([scheduled()]).when(done("2024-09-10")).then_expect_events(vec![
            FollowUpDone { on: day("2024-09-10"), note: None, stakeholder_id: Some(WHO) }.into(),
        ]);
        given::<FollowUp>([scheduled()]).when(done("2024-09-09")).then_expect_error(
            DomainError::DateTooEarly {
                field: "on",
                earliest: day("2024-09-10"),
                because: "a follow-up is done on the day it was scheduled or later",
            },
        );
    }

    #[test]
    fn given_a_follow_up_then_it_is_overdue_only_not_done_and_past_its_due_date() {
        let due = day("2024-10-01");
        assert!(!is_overdue(due, false, day("2024-10-01")), "not on its due date");
        assert!(is_overdue(due, false, day("2024-10-02")));
        assert!(!is_overdue(due, true, day("2030-01-01")), "done");
    }

    #[test]
    fn overdue() {
        let open = given::<FollowUp>([scheduled()]).state().clone();
        assert!(!open.is_overdue(day("2024-10-01")));
        assert!(open.is_overdue(day("2024-10-02")));
        let finished = given::<FollowUp>([
            scheduled(),
            FollowUpDone { on: day("2024-10-05"), note: None, stakeholder_id: Some(WHO) }.into(),
        ])
        .state()
        .clone();
        assert!(!finished.is_overdue(day("2024-10-09")));
    }
}
