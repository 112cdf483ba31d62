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
//!   undo): only a purchase there is (`not-found`) paid by card (`not-card-purchase`) and not
//!   cancelled (`purchase-cancelled`: a charge for a cancelled purchase is unchecked
//!   technology, as reconciliation leaves it), not for a credit (`credit`), not while matched
//!   to another check (`already-matched`; the same check again is nothing), only a check of the
//!   transaction's school (`school-mismatch`) in its currency (`currency-mismatch`), the
//!   requirements reconciliation holds a fit to. The choice is a match `chosen_by_it`,
//!   confirmed by choosing, measured as reconciliation measures a fit ([`matching::measure`]):
//!   against what the purchase costs now ([`AmendedTotal`]), the check dated on the district's
//!   day it was asked ([`matching::asked_on`], in the calendar the command brings).
//! - **Log outreach** to the card holder: only for unchecked technology (`invalid-state`),
//!   not in the future (`outreach-in-future`).

use chrono::{DateTime, Utc};
use events::calendar::DistrictCalendar;
use events::card::{
    CardMatchConfirmed, CardMatchUndone, CardOutreachLogged, CardTransactionEvent,
    CardTransactionFlagged, CardTransactionMatched, CardTransactionRecorded, FlagReason,
    MatchCandidate, MatchMethod, TransactionStatus,
};
use events::gate::{AmendedTotal, PurchaseStatus, PurchaseSubmitted};
use events::values::{LongText, PaymentMethod};
use kernel::{Aggregate, At, Decision};
use uuid::Uuid;

use super::MAX_CALL_AHEAD;
use super::matching::{self, Charge, CheckRef};

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
    /// IT chose `purchase_id`; `purchase` is its check as the log recorded it (`None` when
    /// there is no such purchase), dated in the district's `calendar` now in force.
    Choose {
        purchase_id: Uuid,
        purchase: Option<Box<ChosenPurchase>>,
        calendar: DistrictCalendar,
    },
    LogOutreach(LogOutreach),
}

/// The purchase check IT chose for a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ChosenPurchase {
    pub submitted: PurchaseSubmitted,
    /// When the log recorded the check.
    pub recorded_at: DateTime<Utc>,
    /// Where the purchase stands now ([`PurchaseStatus::after`] over its stream).
    pub status: Option<PurchaseStatus>,
    /// What it costs now ([`AmendedTotal::apply`] over its stream).
    pub amended: AmendedTotal,
    /// When IT approved it (when that took place), for a held purchase approved.
    pub approved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("There is no such card transaction.")]
    NotFound,
    #[error("The transaction is not matched with a purchase check.")]
    NotMatched,
    #[error("The transaction is matched with purchase {purchase_id}; undo that match first.")]
    AlreadyMatched { purchase_id: Uuid },
    #[error("There is no purchase {purchase_id}.")]
    UnknownPurchase { purchase_id: Uuid },
    #[error("The purchase check was not paid by card (payment method p_card).")]
    NotCardPurchase,
    #[error("The transaction is a credit: money paid back is not matched with a purchase.")]
    Credit,
    #[error(
        "The purchase is for school {purchase_school}, the card transaction for {transaction_school}."
    )]
    SchoolMismatch { purchase_school: String, transaction_school: String },
    #[error(
        "The purchase is in {purchase_currency}, the card transaction in {transaction_currency}."
    )]
    CurrencyMismatch { purchase_currency: String, transaction_currency: String },
    #[error("The purchase was cancelled: a charge for it is unchecked technology, for outreach.")]
    PurchaseCancelled,
    #[error("Outreach is logged for unchecked technology; this transaction is {status}.")]
    InvalidState { status: String },
    #[error("The outreach is dated in the future.")]
    OutreachInFuture,
}

impl TransactionError {
    pub fn slug(&self) -> &'static str {
        match self {
            Self::NotFound | Self::UnknownPurchase { .. } => "not-found",
            Self::NotCardPurchase => "not-card-purchase",
            Self::NotMatched => "not-matched",
            Self::AlreadyMatched { .. } => "already-matched",
            Self::Credit => "credit",
            Self::SchoolMismatch { .. } => "school-mismatch",
            Self::CurrencyMismatch { .. } => "currency-mismatch",
            Self::PurchaseCancelled => "purchase-cancelled",
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
            TransactionCommand::Choose { purchase_id, purchase, calendar } => {
                let purchase = purchase.ok_or(TransactionError::UnknownPurchase { purchase_id })?;
                let check = CheckRef::submitted(
                    &purchase.submitted,
                    (&purchase.amended, purchase.approved_at),
                    purchase.recorded_at,
                    &calendar,
                );
                if purchase.submitted.payment_method != PaymentMethod::PCard {
                    return Err(TransactionError::NotCardPurchase);
                }
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
                if purchase.status == Some(PurchaseStatus::Cancelled) {
                    return Err(TransactionError::PurchaseCancelled);
                }
                if check.school_id != recorded.school_id {
                    return Err(TransactionError::SchoolMismatch {
                        purchase_school: check.school_id.to_string(),
                        transaction_school: recorded.school_id.to_string(),
                    });
                }
                if check.currency != recorded.currency {
                    return Err(TransactionError::CurrencyMismatch {
                        purchase_currency: check.currency.to_string(),
                        transaction_currency: recorded.currency.to_string(),
                    });
                }
                let how =
                    matching::measure(&Charge::from(recorded), &check, MatchMethod::ChosenByIt);
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
    use events::card::MatchHow;
    use events::card::{CardTransactionAmbiguous, TechnologyReason};
    use events::gate::PurchaseEvent;
    use events::values::{
        BankReference, CardLast4, Currency, Email, Mcc, Money, SchoolId, ShortText,
    };
    use kernel::testing::{given, t0};

    use crate::domain::testing::fixtures;

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

    /// IT chooses purchase `n`: the fixtures' laptop check (2499.00 from Dell, recorded at
    /// [`t0`]) for `school`, paid by `method`, in a district that has not set its zone (UTC).
    fn choose_paid(n: u128, school: &str, method: PaymentMethod) -> TransactionCommand {
        let PurchaseEvent::Submitted(mut submitted) = fixtures::held_purchase().remove(0) else {
            panic!("a purchase's stream starts with its check");
        };
        submitted.purchase_id = Uuid::from_u128(n);
        submitted.school_id = SchoolId::parse(school).unwrap();
        submitted.payment_method = method;
        let (status, amended) = (Some(PurchaseStatus::Held), AmendedTotal::default());
        let recorded_at = t0();
        let purchase =
            Box::new(ChosenPurchase { submitted, recorded_at, status, amended, approved_at: None });
        TransactionCommand::Choose {
            purchase_id: Uuid::from_u128(n),
            purchase: Some(purchase),
            calendar: DistrictCalendar::default(),
        }
    }

    fn choose(n: u128, school: &str) -> TransactionCommand {
        choose_paid(n, school, PaymentMethod::PCard)
    }

    fn chosen_how(command: TransactionCommand) -> MatchHow {
        let then = given::<CardTransaction>([recorded(true, false), flagged()]).when(command);
        match &then.decision().events[..] {
            [CardTransactionEvent::Matched(m)] => m.how,
            other => panic!("expected a match, got {other:?}"),
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
    fn only_a_purchase_there_is_paid_by_card_is_chosen() {
        let unknown = TransactionCommand::Choose {
            purchase_id: Uuid::from_u128(7),
            purchase: None,
            calendar: DistrictCalendar::default(),
        };
        given::<CardTransaction>([recorded(true, false), flagged()])
            .when(unknown.clone())
            .then_expect_error(TransactionError::UnknownPurchase {
                purchase_id: Uuid::from_u128(7),
            });
        given::<CardTransaction>([recorded(true, false), flagged()])
            .when(choose_paid(7, "lincoln-elem", PaymentMethod::PurchaseOrder))
            .then_expect_error(TransactionError::NotCardPurchase);
        // The transaction is looked for first: there is none, whatever was chosen.
        given::<CardTransaction>([]).when(unknown).then_expect_error(TransactionError::NotFound);
    }

    #[test]
    fn a_chosen_match_is_measured_as_reconciliation_measures_a_fit() {
        // 499.00 at BEST BUY on 2025-10-02, against 2499.00 from Dell asked on t0's day.
        let how = chosen_how(choose(7, "lincoln-elem"));
        assert_eq!(how.method, MatchMethod::ChosenByIt);
        assert_eq!(how.amount_difference, Money::parse("2000.00").unwrap());
        let transaction_day: chrono::NaiveDate = "2025-10-02".parse().unwrap();
        let apart = (transaction_day - t0().date_naive()).num_days().unsigned_abs();
        assert_eq!(u64::from(how.days_apart), apart);
        assert!(how.vendor_similarity < 50, "{how:?}");
        // A check sent after the fact is dated when it was requested.
        let TransactionCommand::Choose { purchase: Some(mut late), calendar, .. } =
            choose(7, "lincoln-elem")
        else {
            unreachable!()
        };
        let requested = chrono::DateTime::from_naive_utc_and_offset(
            transaction_day.and_hms_opt(9, 0, 0).unwrap(),
            chrono::Utc,
        );
        late.submitted.requested_at = Some(requested);
        late.recorded_at = requested + chrono::TimeDelta::days(3);
        let purchase_id = Uuid::from_u128(7);
        let purchase = Some(late);
        let how = chosen_how(TransactionCommand::Choose { purchase_id, purchase, calendar });
        assert_eq!(how.days_apart, 0);
    }

    /// [`choose`] with the chosen purchase changed by `change`.
    fn choose_with(change: impl FnOnce(&mut ChosenPurchase)) -> TransactionCommand {
        let TransactionCommand::Choose { purchase_id, purchase: Some(mut check), calendar } =
            choose(7, "lincoln-elem")
        else {
            unreachable!()
        };
        change(&mut check);
        TransactionCommand::Choose { purchase_id, purchase: Some(check), calendar }
    }

    #[test]
    fn a_chosen_check_is_what_reconciliation_could_fit() {
        // Given an unchecked USD transaction of Lincoln's,
        let unchecked = || given::<CardTransaction>([recorded(true, false), flagged()]);
        // when IT chooses a cancelled check, then it is refused: the charge stays unchecked;
        unchecked()
            .when(choose_with(|c| c.status = Some(PurchaseStatus::Cancelled)))
            .then_expect_error(TransactionError::PurchaseCancelled);
        // (choosing again the check it was matched with before the cancellation changes
        // nothing, as choosing the same check again always does);
        given::<CardTransaction>([recorded(true, false), matched(7)])
            .when(choose_with(|c| c.status = Some(PurchaseStatus::Cancelled)))
            .then_expect_nothing();
        // when IT chooses a check in another currency, then it is refused.
        unchecked()
            .when(choose_with(|c| c.submitted.currency = Currency::parse("CAD").unwrap()))
            .then_expect_error(TransactionError::CurrencyMismatch {
                purchase_currency: "CAD".into(),
                transaction_currency: "USD".into(),
            });
    }

    #[test]
    fn a_chosen_check_amended_by_an_alternative_is_measured_at_what_it_costs_now() {
        // Given the 2499.00 check amended to an accepted 499.00 alternative (the charge's amount),
        let amended = choose_with(|c| c.amended.accepted = Some(Money::parse("499.00").unwrap()));
        // when IT chooses it, then the match records no difference in amount.
        assert_eq!(chosen_how(amended).amount_difference, Money::ZERO);
    }

    #[test]
    fn a_chosen_check_is_dated_on_the_district_s_day_it_was_asked() {
        // Given a district in Chicago, and a card transaction dated 2025-10-02 on its statement.
        let chicago = DistrictCalendar::new(
            events::calendar::TimeZoneName::parse("America/Chicago").unwrap(),
            events::calendar::BusinessHours::office(),
        );
        let transaction_day: chrono::NaiveDate = "2025-10-02".parse().unwrap();
        let seven_pm = events::calendar::ClockTime::parse("19:00").unwrap();
        let evening = chicago.instant(transaction_day, seven_pm).unwrap();
        // (which is already the 3rd in UTC: the UTC date would say 1 day apart)
        assert_eq!(evening.date_naive(), transaction_day.succ_opt().unwrap());
        let days_later = evening + chrono::TimeDelta::days(3);
        for (requested_at, recorded_at) in [(None, evening), (Some(evening), days_later)] {
            let TransactionCommand::Choose { purchase: Some(mut check), .. } =
                choose(7, "lincoln-elem")
            else {
                unreachable!()
            };
            // When IT chooses the check sent (or requested) at 19:00 that day.
            check.submitted.requested_at = requested_at;
            check.recorded_at = recorded_at;
            let purchase_id = Uuid::from_u128(7);
            let calendar = chicago.clone();
            let how = chosen_how(TransactionCommand::Choose {
                purchase_id,
                purchase: Some(check),
                calendar,
            });
            // Then the match records them 0 days apart.
            assert_eq!(how.days_apart, 0, "{requested_at:?}, {recorded_at}");
        }
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
