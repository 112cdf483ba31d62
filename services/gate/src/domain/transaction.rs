//! A card transaction (`transaction-{uuid}`): recorded by a statement import with its
//! reconciliation, then worked by IT.
//!
//! Rules of IT's commands ([`CardTransaction::handle`]):
//!
//! - **Confirm** a match: only a matched transaction (`not-matched`); again is nothing.
//! - **Undo** a match, with a reason: only a matched transaction; a technology transaction
//!   is then unchecked technology again (`card-transaction-flagged` follows in the same
//!   append).
//! - **Choose** the purchase check (for an ambiguous or unchecked transaction, or after an
//!   undo): not for a credit (`credit`), not while matched to another check
//!   (`already-matched`; the same check again is nothing), only a check of the transaction's
//!   school (`school-mismatch`). The choice is a match `chosen_by_it`, confirmed by choosing.
//! - **Log outreach** to the card holder: only for unchecked technology (`invalid-state`),
//!   not in the future (`outreach-in-future`).

use chrono::{DateTime, Utc};
use events::card::{
    CardMatchConfirmed, CardMatchUndone, CardOutreachLogged, CardTransactionEvent,
    CardTransactionFlagged, CardTransactionMatched, CardTransactionRecorded, FlagReason,
    MatchCandidate, MatchHow, MatchMethod, TransactionStatus,
};
use events::values::{LongText, SchoolId};
use kernel::{Aggregate, At, Decision};
use uuid::Uuid;

use super::MAX_CALL_AHEAD;

/// A card transaction as its stream tells it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardTransaction {
    pub recorded: Option<CardTransactionRecorded>,
    pub status: Option<TransactionStatus>,
    pub matched: Option<CardTransactionMatched>,
    pub confirmed: bool,
    /// The checks that fitted when reconciliation could not choose.
    pub candidates: Vec<MatchCandidate>,
    /// When it was last flagged as unchecked technology.
    pub flagged_at: Option<DateTime<Utc>>,
    pub outreach: Vec<CardOutreachLogged>,
    pub version: u64,
}

/// IT's outreach to the card holder.
#[derive(Debug, Clone, PartialEq)]
pub struct LogOutreach {
    pub outreach_id: Uuid,
    pub holder_reached: bool,
    pub notes: Option<LongText>,
    pub occurred_at: DateTime<Utc>,
    /// When the command is handled (the server's clock).
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransactionCommand {
    Confirm,
    Undo {
        reason: LongText,
    },
    /// IT chose `purchase_id`, a check of `school_id`; `how` measures the fit.
    Choose {
        purchase_id: Uuid,
        school_id: SchoolId,
        how: MatchHow,
    },
    LogOutreach(LogOutreach),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("There is no such card transaction.")]
    NotFound,
    #[error("The transaction is not matched with a purchase check.")]
    NotMatched,
    #[error("The transaction is matched with purchase {purchase_id}; undo that match first.")]
    AlreadyMatched { purchase_id: Uuid },
    #[error("The transaction is a credit: money paid back is not matched with a purchase.")]
    Credit,
    #[error(
        "The purchase is for school {purchase_school}, the card transaction for {transaction_school}."
    )]
    SchoolMismatch { purchase_school: String, transaction_school: String },
    #[error("Outreach is logged for unchecked technology; this transaction is {status}.")]
    InvalidState { status: String },
    #[error("The outreach is dated in the future.")]
    OutreachInFuture,
}

impl TransactionError {
    pub fn slug(&self) -> &'static str {
        match self {
            Self::NotFound => "not-found",
            Self::NotMatched => "not-matched",
            Self::AlreadyMatched { .. } => "already-matched",
            Self::Credit => "credit",
            Self::SchoolMismatch { .. } => "school-mismatch",
            Self::InvalidState { .. } => "invalid-state",
            Self::OutreachInFuture => "outreach-in-future",
        }
    }
}

impl CardTransaction {
    fn technology(&self) -> bool {
        self.recorded.as_ref().is_some_and(|r| r.technology.is_some())
    }

    /// The check it is matched with, if any.
    pub fn purchase_id(&self) -> Option<Uuid> {
        self.matched.as_ref().map(|m| m.purchase_id)
    }
}

impl Aggregate for CardTransaction {
    type Event = CardTransactionEvent;
    type Command = TransactionCommand;
    type Error = TransactionError;

    fn handle(
        &self,
        command: TransactionCommand,
    ) -> Result<Decision<CardTransactionEvent>, TransactionError> {
        let Some(recorded) = &self.recorded else { return Err(TransactionError::NotFound) };
        let events: Vec<CardTransactionEvent> = match command {
            TransactionCommand::Confirm => {
                let purchase_id = self.purchase_id().ok_or(TransactionError::NotMatched)?;
                if self.confirmed {
                    return Ok(Decision::nothing());
                }
                vec![CardMatchConfirmed { purchase_id }.into()]
            }
            TransactionCommand::Undo { reason } => {
                let purchase_id = self.purchase_id().ok_or(TransactionError::NotMatched)?;
                let mut events = vec![CardMatchUndone { purchase_id, reason }.into()];
                if self.technology() {
                    events.push(
                        CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into(),
                    );
                }
                events
            }
            TransactionCommand::Choose { purchase_id, school_id, how } => {
                if recorded.credit {
                    return Err(TransactionError::Credit);
                }
                match self.purchase_id() {
                    Some(matched) if matched == purchase_id => return Ok(Decision::nothing()),
                    Some(matched) => {
                        return Err(TransactionError::AlreadyMatched { purchase_id: matched });
                    }
                    None => {}
                }
                if school_id != recorded.school_id {
                    return Err(TransactionError::SchoolMismatch {
                        purchase_school: school_id.to_string(),
                        transaction_school: recorded.school_id.to_string(),
                    });
                }
                let how = MatchHow { method: MatchMethod::ChosenByIt, ..how };
                vec![CardTransactionMatched { purchase_id, how }.into()]
            }
            TransactionCommand::LogOutreach(o) => {
                if self.status != Some(TransactionStatus::UncheckedTechnology) {
                    let status = self.status.map_or("unknown", TransactionStatus::as_str);
                    return Err(TransactionError::InvalidState { status: status.to_owned() });
                }
                if o.occurred_at > o.now + MAX_CALL_AHEAD {
                    return Err(TransactionError::OutreachInFuture);
                }
                vec![
                    CardOutreachLogged {
                        outreach_id: o.outreach_id,
                        holder_reached: o.holder_reached,
                        notes: o.notes,
                        occurred_at: o.occurred_at,
                    }
                    .into(),
                ]
            }
        };
        Ok(Decision::events(events))
    }

    fn apply(&mut self, event: &CardTransactionEvent, at: At) {
        self.status = TransactionStatus::after(self.status, event);
        match event {
            CardTransactionEvent::Recorded(r) => {
                self.recorded = Some(r.clone());
                if r.technology.is_some() && !r.credit {
                    self.flagged_at = Some(at.recorded_at);
                }
            }
            CardTransactionEvent::Matched(m) => {
                self.confirmed = m.how.method == MatchMethod::ChosenByIt;
                self.matched = Some(m.clone());
                self.candidates.clear();
                self.flagged_at = None;
            }
            CardTransactionEvent::Ambiguous(a) => {
                self.candidates = a.candidates.clone();
                self.flagged_at = None;
            }
            CardTransactionEvent::Flagged(_) => self.flagged_at = Some(at.recorded_at),
            CardTransactionEvent::MatchConfirmed(_) => self.confirmed = true,
            CardTransactionEvent::MatchUndone(_) => {
                self.matched = None;
                self.confirmed = false;
            }
            CardTransactionEvent::OutreachLogged(o) => self.outreach.push(o.clone()),
        }
        self.version = at.version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::card::{CardTransactionAmbiguous, TechnologyReason};
    use events::values::{BankReference, CardLast4, Currency, Email, Mcc, Money, ShortText};
    use kernel::testing::{given, t0};

    fn recorded(technology: bool, credit: bool) -> CardTransactionEvent {
        let reference = BankReference::parse("R-1").unwrap();
        CardTransactionRecorded {
            transaction_id: events::card::transaction_id(&reference),
            reference,
            statement_id: Uuid::from_u128(1),
            line: 2,
            card_id: Uuid::from_u128(2),
            card_last4: CardLast4::parse("4821").unwrap(),
            holder_email: Email::parse("pat@district.org").unwrap(),
            school_id: SchoolId::parse("lincoln-elem").unwrap(),
            transaction_date: "2025-10-02".parse().unwrap(),
            posted_on: None,
            merchant: ShortText::parse("BEST BUY").unwrap(),
            mcc: Mcc::parse("5732").unwrap(),
            amount: Money::parse("499.00").unwrap(),
            credit,
            currency: Currency::parse("USD").unwrap(),
            technology: technology.then_some(TechnologyReason::Mcc),
            policy_version: 1,
        }
        .into()
    }

    fn how(method: MatchMethod) -> MatchHow {
        MatchHow { method, amount_difference: Money::ZERO, days_apart: 1, vendor_similarity: 100 }
    }

    fn matched(n: u128) -> CardTransactionEvent {
        CardTransactionMatched { purchase_id: Uuid::from_u128(n), how: how(MatchMethod::Exact) }
            .into()
    }

    fn flagged() -> CardTransactionEvent {
        CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into()
    }

    fn reason() -> LongText {
        LongText::parse("The receipt is for another order").unwrap()
    }

    fn choose(n: u128, school: &str) -> TransactionCommand {
        TransactionCommand::Choose {
            purchase_id: Uuid::from_u128(n),
            school_id: SchoolId::parse(school).unwrap(),
            how: how(MatchMethod::WithinTolerance),
        }
    }

    #[test]
    fn a_match_is_confirmed_once() {
        given::<CardTransaction>([recorded(true, false), matched(7)])
            .when(TransactionCommand::Confirm)
            .then_expect_events(vec![CardMatchConfirmed { purchase_id: Uuid::from_u128(7) }.into()])
            .then_apply()
            .when(TransactionCommand::Confirm)
            .then_expect_nothing();
        given::<CardTransaction>([recorded(false, false)])
            .when(TransactionCommand::Confirm)
            .then_expect_error(TransactionError::NotMatched);
    }

    #[test]
    fn undoing_a_technology_match_flags_it_again() {
        let undone = CardMatchUndone { purchase_id: Uuid::from_u128(7), reason: reason() };
        let state = given::<CardTransaction>([recorded(true, false), matched(7)])
            .when(TransactionCommand::Undo { reason: reason() })
            .then_expect_events(vec![undone.clone().into(), flagged()])
            .then_state(t0());
        assert_eq!(state.status, Some(TransactionStatus::UncheckedTechnology));
        assert_eq!(state.flagged_at, Some(t0()));
        given::<CardTransaction>([recorded(false, false), matched(7)])
            .when(TransactionCommand::Undo { reason: reason() })
            .then_expect_events(vec![undone.into()]);
    }

    #[test]
    fn it_chooses_among_ambiguous_candidates_of_the_same_school() {
        let ambiguous = CardTransactionAmbiguous { candidates: vec![] }.into();
        let state = given::<CardTransaction>([recorded(true, false), ambiguous])
            .when(choose(7, "lincoln-elem"))
            .then_state(t0());
        assert_eq!((state.status, state.confirmed), (Some(TransactionStatus::Matched), true));
        assert_eq!(state.matched.unwrap().how.method, MatchMethod::ChosenByIt);
        given::<CardTransaction>([recorded(true, false), flagged()])
            .when(choose(7, "adams-middle"))
            .then_expect_error(TransactionError::SchoolMismatch {
                purchase_school: "adams-middle".into(),
                transaction_school: "lincoln-elem".into(),
            });
        given::<CardTransaction>([recorded(true, false), matched(7)])
            .when(choose(8, "lincoln-elem"))
            .then_expect_error(TransactionError::AlreadyMatched {
                purchase_id: Uuid::from_u128(7),
            });
        given::<CardTransaction>([recorded(true, false), matched(7)])
            .when(choose(7, "lincoln-elem"))
            .then_expect_nothing();
        given::<CardTransaction>([recorded(true, true)])
            .when(choose(7, "lincoln-elem"))
            .then_expect_error(TransactionError::Credit);
    }

    #[test]
    fn outreach_is_for_unchecked_technology_only() {
        let outreach = |occurred_at| {
            TransactionCommand::LogOutreach(LogOutreach {
                outreach_id: Uuid::from_u128(5),
                holder_reached: true,
                notes: None,
                occurred_at,
                now: t0(),
            })
        };
        let then =
            given::<CardTransaction>([recorded(true, false), flagged()]).when(outreach(t0()));
        assert!(matches!(then.decision().events[..], [CardTransactionEvent::OutreachLogged(_)]));
        given::<CardTransaction>([recorded(true, false), flagged()])
            .when(outreach(t0() + chrono::TimeDelta::days(1)))
            .then_expect_error(TransactionError::OutreachInFuture);
        given::<CardTransaction>([recorded(false, false)])
            .when(outreach(t0()))
            .then_expect_error(TransactionError::InvalidState { status: "not_technology".into() });
        given::<CardTransaction>([])
            .when(TransactionCommand::Confirm)
            .then_expect_error(TransactionError::NotFound);
    }
}
