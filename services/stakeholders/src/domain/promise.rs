//! A promise IT made (stream `promise-{uuid}`), and its outcome.
//!
//! - **Make**: to a registered stakeholder or school (the caller looks it up), made `today`,
//!   due no earlier than that. The owner is who made it (the JWT subject).
//! - **Keep** / **Break**: once, with evidence; `on` is not after `today` and not before the
//!   promise was made. The purchasing agreement's standing promise (kind `call-before-cancel`)
//!   is never settled by hand: its record is the gate's
//!   ([`crate::queries::call_before_cancel_record`]).
//! - **Overdue** ([`is_overdue`]): an ordinary promise whose due date has passed and that is
//!   neither kept nor broken. The aggregate, the read model and relationship health all ask it.

use chrono::NaiveDate;
use events::stakeholders::{PromiseBroken, PromiseEvent, PromiseKept, PromiseMade, PromiseTo};
use events::values::LongText;
use kernel::{Aggregate, At, Decision};
use uuid::Uuid;

use events::rules::is_past_due;

use super::{DomainError, not_before, not_in_future};

/// Whether a promise due on `due_on` is **overdue** on `today`: an ordinary one (a purchasing
/// agreement's standing promise, `standing`, is never due), neither kept nor broken (`settled`),
/// and past its due date ([`events::rules::is_past_due`]).
pub fn is_overdue(due_on: NaiveDate, standing: bool, settled: bool, today: NaiveDate) -> bool {
    !standing && !settled && is_past_due(due_on, today)
}

/// How a promise ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Kept,
    Broken,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kept => "kept",
            Self::Broken => "broken",
        }
    }
}

/// A promise, rebuilt from its stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Promise {
    pub made: Option<PromiseMade>,
    pub outcome: Option<(Outcome, NaiveDate)>,
}

/// What can be asked of a promise.
#[derive(Debug, Clone, PartialEq)]
pub enum PromiseCommand {
    Make(MakePromise),
    Keep(Settle),
    Break(Settle),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MakePromise {
    pub promise_id: Uuid,
    pub to: PromiseTo,
    /// Whether `to` names a registered stakeholder or school (looked up by the caller).
    pub to_exists: bool,
    pub text: LongText,
    pub due_on: NaiveDate,
    /// Who makes it (JWT subject).
    pub owner: String,
    /// The district's date now: the day it is made.
    pub today: NaiveDate,
}

/// The outcome of a promise, with what shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settle {
    pub evidence: LongText,
    pub on: NaiveDate,
    /// The district's date now.
    pub today: NaiveDate,
}

impl Promise {
    /// Whether the promise is overdue on `today`: made, an ordinary one, due before `today`,
    /// neither kept nor broken.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        match &self.made {
            Some(made) => {
                is_overdue(made.due_on, made.is_call_before_cancel(), self.outcome.is_some(), today)
            }
            None => false,
        }
    }

    fn settle(&self, outcome: Outcome, cmd: Settle) -> Result<Decision<PromiseEvent>, DomainError> {
        let made = self.made.as_ref().ok_or(DomainError::UnknownPromise)?;
        if made.is_call_before_cancel() {
            return Err(DomainError::StandingPromise);
        }
        if let Some((done, _)) = self.outcome {
            return Err(DomainError::PromiseAlreadySettled { outcome: done.as_str() });
        }
        not_in_future("on", cmd.on, cmd.today)?;
        not_before("on", cmd.on, made.made_on, "the promise was made then")?;
        let event = match outcome {
            Outcome::Kept => PromiseKept { evidence: cmd.evidence, on: cmd.on }.into(),
            Outcome::Broken => PromiseBroken { evidence: cmd.evidence, on: cmd.on }.into(),
        };
        Ok(Decision::events(vec![event]))
    }
}

impl Aggregate for Promise {
    type Event = PromiseEvent;
    type Command = PromiseCommand;
    type Error = DomainError;

    fn apply(&mut self, event: &PromiseEvent, _: At) {
        match event {
            PromiseEvent::Made(e) => self.made = Some(e.clone()),
            PromiseEvent::Kept(e) => self.outcome = Some((Outcome::Kept, e.on)),
            PromiseEvent::Broken(e) => self.outcome = Some((Outcome::Broken, e.on)),
        }
    }

    fn handle(&self, command: PromiseCommand) -> Result<Decision<PromiseEvent>, DomainError> {
        match command {
            PromiseCommand::Make(cmd) => {
                if self.made.is_some() {
                    return Err(DomainError::AlreadyExists { what: "promise" });
                }
                if !cmd.to_exists {
                    return Err(match cmd.to {
                        PromiseTo::Stakeholder { .. } => DomainError::UnknownStakeholder,
                        PromiseTo::School { .. } => DomainError::UnknownSchool,
                    });
                }
                not_before(
                    "due_on",
                    cmd.due_on,
                    cmd.today,
                    "a promise is not due before it is made",
                )?;
                Ok(Decision::events(vec![
                    PromiseMade {
                        promise_id: cmd.promise_id,
                        to: cmd.to,
                        text: cmd.text,
                        due_on: cmd.due_on,
                        owner: cmd.owner,
                        made_on: cmd.today,
                        kind: None,
                    }
                    .into(),
                ]))
            }
            PromiseCommand::Keep(cmd) => self.settle(Outcome::Kept, cmd),
            PromiseCommand::Break(cmd) => self.settle(Outcome::Broken, cmd),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::stakeholders::CALL_BEFORE_CANCEL;
    use events::values::SchoolId;
    use kernel::testing::given;

    const ID: Uuid = Uuid::from_u128(4);
    const TO: PromiseTo = PromiseTo::Stakeholder { stakeholder_id: Uuid::from_u128(1) };

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn text(s: &str) -> LongText {
        LongText::parse(s).unwrap()
    }

    fn made(kind: Option<&str>) -> PromiseEvent {
        PromiseMade {
            promise_id: ID,
            to: TO,
            text: text("Projector fixed by Friday"),
            due_on: day("2024-09-13"),
            owner: "cto@district".into(),
            made_on: day("2024-09-10"),
            kind: kind.map(Into::into),
        }
        .into()
    }

    fn make(due_on: &str, to_exists: bool) -> PromiseCommand {
        PromiseCommand::Make(MakePromise {
            promise_id: ID,
            to: TO,
            to_exists,
            text: text("Projector fixed by Friday"),
            due_on: day(due_on),
            owner: "cto@district".into(),
            today: day("2024-09-10"),
        })
    }

    fn settle(on: &str) -> Settle {
        Settle { evidence: text("Ticket 4411"), on: day(on), today: day("2024-09-20") }
    }

    #[test]
    fn make_a_promise() {
        given::<Promise>([]).when(make("2024-09-13", true)).then_expect_events(vec![made(None)]);
        given::<Promise>([]).when(make("2024-09-10", true)).then_expect_events(vec![
            PromiseMade {
                due_on: day("2024-09-10"),
                ..match made(None) {
                    PromiseEvent::Made(m) => m,
                    _ => unreachable!(),
                }
            }
            .into(),
        ]);
        given::<Promise>([]).when(make("2024-09-09", true)).then_expect_error(
            DomainError::DateTooEarly {
                field: "due_on",
                earliest: day("2024-09-10"),
                because: "a promise is not due before it is made",
            },
        );
        given::<Promise>([])
            .when(make("2024-09-13", false))
            .then_expect_error(DomainError::UnknownStakeholder);
        let to_school = PromiseCommand::Make(MakePromise {
            promise_id: ID,
            to: PromiseTo::School { school_id: SchoolId::parse("x").unwrap() },
            to_exists: false,
            text: text("t"),
            due_on: day("2024-09-13"),
            owner: "o".into(),
            today: day("2024-09-10"),
        });
        given::<Promise>([]).when(to_school).then_expect_error(DomainError::UnknownSchool);
        given::<Promise>([made(None)])
            .when(make("2024-09-13", true))
            .then_expect_error(DomainError::AlreadyExists { what: "promise" });
    }

    #[test]
    fn kept_or_broken_exactly_once() {
        given::<Promise>([made(None)])
            .when(PromiseCommand::Keep(settle("2024-09-12")))
            .then_expect_events(vec![
                PromiseKept { evidence: text("Ticket 4411"), on: day("2024-09-12") }.into(),
            ])
            .then_apply()
            .when(PromiseCommand::Break(settle("2024-09-14")))
            .then_expect_error(DomainError::PromiseAlreadySettled { outcome: "kept" });
        given::<Promise>([made(None)])
            .when(PromiseCommand::Break(settle("2024-09-14")))
            .then_expect_events(vec![
                PromiseBroken { evidence: text("Ticket 4411"), on: day("2024-09-14") }.into(),
            ])
            .then_apply()
            .when(PromiseCommand::Break(settle("2024-09-14")))
            .then_expect_error(DomainError::PromiseAlreadySettled { outcome: "broken" });
        given::<Promise>([])
            .when(PromiseCommand::Keep(settle("2024-09-12")))
            .then_expect_error(DomainError::UnknownPromise);
    }

    #[test]
    fn settling_dates() {
        given::<Promise>([made(None)])
            .when(PromiseCommand::Keep(settle("2024-09-21")))
            .then_expect_error(DomainError::DateInFuture { field: "on" });
        given::<Promise>([made(None)])
            .when(PromiseCommand::Keep(settle("2024-09-09")))
            .then_expect_error(DomainError::DateTooEarly {
                field: "on",
                earliest: day("2024-09-10"),
                because: "the promise was made then",
            });
    }

    #[test]
    fn the_standing_promise_is_not_settled_by_hand() {
        for cmd in [
            PromiseCommand::Keep(settle("2024-09-12")),
            PromiseCommand::Break(settle("2024-09-12")),
        ] {
            given::<Promise>([made(Some(CALL_BEFORE_CANCEL))])
                .when(cmd)
                .then_expect_error(DomainError::StandingPromise);
        }
    }

    #[test]
    fn given_a_promise_then_it_is_overdue_only_ordinary_unsettled_and_past_its_due_date() {
        let due = day("2024-09-13");
        assert!(!is_overdue(due, false, false, day("2024-09-13")), "not on its due date");
        assert!(is_overdue(due, false, false, day("2024-09-14")));
        assert!(!is_overdue(due, true, false, day("2030-01-01")), "a standing one is never due");
        assert!(!is_overdue(due, false, true, day("2030-01-01")), "kept or broken");
    }

    #[test]
    fn overdue_means_due_date_passed_and_unsettled() {
        let state = |events: Vec<PromiseEvent>| given::<Promise>(events).state().clone();
        let open = state(vec![made(None)]);
        assert!(!open.is_overdue(day("2024-09-13")));
        assert!(open.is_overdue(day("2024-09-14")));
        let kept = state(vec![
            made(None),
            PromiseKept { evidence: text("x"), on: day("2024-09-20") }.into(),
        ]);
        assert!(!kept.is_overdue(day("2024-10-01")));
        let standing = state(vec![made(Some(CALL_BEFORE_CANCEL))]);
        assert!(!standing.is_overdue(day("2030-01-01")));
        assert!(!Promise::default().is_overdue(day("2030-01-01")));
    }
}
