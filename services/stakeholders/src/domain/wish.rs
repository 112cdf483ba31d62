//! A tracked wish (stream `wish-{uuid}`): recorded by a conversation, then progressed.
//!
//! Every progress carries a note (the headway, or why not) and the status after it:
//!
//! - an `open` or `in_progress` wish may move to any status, or stay where it is (a note of
//!   headway without a change of status counts as headway);
//! - `done` and `declined` are closed: the only way on is **reopening** (to `open` or
//!   `in_progress`), and the note, required as always, then says why it was reopened. Moving a
//!   closed wish to a closed status (`done` again, `done` to `declined`) is refused with
//!   `wish-closed`.

use chrono::{DateTime, Utc};
use events::stakeholders::{WishEvent, WishProgressed, WishRecorded, WishStatus};
use events::values::LongText;
use kernel::{Aggregate, At, Decision};

use super::DomainError;

/// A wish, rebuilt from its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Wish {
    pub recorded: Option<WishRecorded>,
    pub status: WishStatus,
    /// When there was last headway (or when it was recorded).
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl Default for Wish {
    fn default() -> Self {
        Self { recorded: None, status: WishStatus::Open, last_activity_at: None }
    }
}

/// Headway on a wish.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressWish {
    pub note: LongText,
    pub status: WishStatus,
    /// The time now.
    pub at: DateTime<Utc>,
}

impl Aggregate for Wish {
    type Event = WishEvent;
    type Command = ProgressWish;
    type Error = DomainError;

    fn apply(&mut self, event: &WishEvent, _: At) {
        match event {
            WishEvent::Recorded(e) => {
                self.recorded = Some(e.clone());
                self.status = WishStatus::Open;
                self.last_activity_at = Some(e.recorded_at);
            }
            WishEvent::Progressed(e) => {
                self.status = e.status;
                self.last_activity_at = self.last_activity_at.max(Some(e.at));
            }
        }
    }

    fn handle(&self, cmd: ProgressWish) -> Result<Decision<WishEvent>, DomainError> {
        if self.recorded.is_none() {
            return Err(DomainError::UnknownWish);
        }
        if self.status.is_closed() && cmd.status.is_closed() {
            return Err(DomainError::WishClosed { status: self.status });
        }
        Ok(Decision::events(vec![
            WishProgressed { note: cmd.note, status: cmd.status, at: cmd.at }.into(),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::testing::given;
    use uuid::Uuid;

    fn at() -> DateTime<Utc> {
        "2024-09-10T15:00:00Z".parse().unwrap()
    }

    fn recorded() -> WishEvent {
        WishRecorded {
            wish_id: Uuid::from_u128(3),
            stakeholder_id: Uuid::from_u128(1),
            school_id: None,
            text: LongText::parse("Loaners the same day").unwrap(),
            conversation_id: Uuid::from_u128(2),
            recorded_at: "2024-09-01T10:00:00Z".parse().unwrap(),
        }
        .into()
    }

    fn progressed(status: WishStatus) -> WishEvent {
        WishProgressed { note: LongText::parse("note").unwrap(), status, at: at() }.into()
    }

    fn progress(status: WishStatus) -> ProgressWish {
        ProgressWish { note: LongText::parse("note").unwrap(), status, at: at() }
    }

    use WishStatus::{Declined, Done, InProgress, Open};

    #[test]
    fn open_wishes_move_anywhere() {
        for from in [None, Some(Open), Some(InProgress)] {
            for to in [Open, InProgress, Done, Declined] {
                let history: Vec<_> =
                    std::iter::once(recorded()).chain(from.map(progressed)).collect();
                given::<Wish>(history).when(progress(to)).then_expect_events(vec![progressed(to)]);
            }
        }
    }

    #[test]
    fn closed_wishes_only_reopen() {
        for closed in [Done, Declined] {
            for to in [Done, Declined] {
                given::<Wish>([recorded(), progressed(closed)])
                    .when(progress(to))
                    .then_expect_error(DomainError::WishClosed { status: closed });
            }
            for reopen in [Open, InProgress] {
                given::<Wish>([recorded(), progressed(closed)])
                    .when(progress(reopen))
                    .then_expect_events(vec![progressed(reopen)])
                    .then_apply()
                    .when(progress(Done))
                    .then_expect_events(vec![progressed(Done)]);
            }
        }
    }

    #[test]
    fn unknown_wish() {
        given::<Wish>([]).when(progress(Done)).then_expect_error(DomainError::UnknownWish);
    }

    #[test]
    fn activity_is_tracked() {
        let given = given::<Wish>([recorded(), progressed(InProgress)]);
        let wish = given.state();
        assert_eq!((wish.status, wish.last_activity_at), (InProgress, Some(at())));
    }
}
