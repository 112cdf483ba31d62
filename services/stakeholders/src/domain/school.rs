//! A school and its purchasing agreement (stream `school-{school_id}`).
//!
//! - **Put** (`PUT /v1/schools/{id}`): registers the school if new, renames it if the name
//!   changed, does nothing if it is the same (so the call is safe to repeat).
//! - **Sign**: the school's principal signs. The HTTP layer looks the signer up and passes
//!   their registered role and school ([`Signer`]); only a principal of *this* school signs.
//!   Not while an agreement is in force. `signed_on` is not after `today` and not before the
//!   previous withdrawal (backdating is otherwise allowed: paper agreements often predate their
//!   recording, and registration carries no date to compare with). The signature opens the
//!   standing promise ([`STANDING_PROMISE_TEXT`], kind `call-before-cancel`) on a new
//!   `promise-{promise_id}` stream in the same append, made to the school and made and due on
//!   `signed_on`.
//! - **Withdraw**: only an agreement in force, with a reason; `withdrawn_on` is not after
//!   `today` and not before the signing. The school may sign again later.

use chrono::NaiveDate;
use events::school::{
    AgreementSigned, AgreementWithdrawn, SchoolEvent, SchoolRegistered, SchoolStatus, SchoolUpdated,
};
use events::stakeholders::{
    CALL_BEFORE_CANCEL, PromiseEvent, PromiseMade, PromiseTo, StakeholderRole, promise_stream,
};
use events::values::{LongText, SchoolId, ShortText};
use kernel::{Aggregate, At, Decision, Opened, stream};
use uuid::Uuid;

use super::stakeholder::Profile;
use super::{DomainError, not_before, not_in_future};

/// The text of the promise every signed agreement carries.
pub const STANDING_PROMISE_TEXT: &str = "IT will never cancel a technology purchase of this school before calling the requester personally, hearing what they are trying to accomplish, and proposing an alternative.";

/// A school, rebuilt from its stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct School {
    pub school_id: Option<SchoolId>,
    /// Registration, name and the agreement in force: the same fold the gate uses.
    pub status: SchoolStatus,
    /// When the agreement was last withdrawn.
    pub last_withdrawn_on: Option<NaiveDate>,
    /// Why, for knowing a retried withdrawal.
    pub last_withdrawn_for: Option<LongText>,
}

/// What can be asked of a school.
#[derive(Debug, Clone, PartialEq)]
pub enum SchoolCommand {
    /// Register, or rename, the school.
    Put {
        school_id: SchoolId,
        name: ShortText,
    },
    SignAgreement(SignAgreement),
    WithdrawAgreement(WithdrawAgreement),
}

/// The principal signs the purchasing agreement.
#[derive(Debug, Clone, PartialEq)]
pub struct SignAgreement {
    /// The stakeholder id of the principal.
    pub principal_id: Uuid,
    /// The signer as registered (looked up by the caller); `None` if there is no such
    /// stakeholder.
    pub signer: Option<Signer>,
    pub signed_on: NaiveDate,
    /// The district's date now.
    pub today: NaiveDate,
    /// The id of the standing promise's new stream.
    pub promise_id: Uuid,
    /// Who records the signature (JWT subject): the standing promise's owner.
    pub recorded_by: String,
}

/// What the register says about the person signing.
#[derive(Debug, Clone, PartialEq)]
pub struct Signer {
    pub role: StakeholderRole,
    pub school_id: Option<SchoolId>,
}

impl From<&Profile> for Signer {
    fn from(p: &Profile) -> Self {
        Self { role: p.role, school_id: p.school_id.clone() }
    }
}

/// The school withdraws from the agreement.
#[derive(Debug, Clone, PartialEq)]
pub struct WithdrawAgreement {
    pub reason: LongText,
    pub withdrawn_on: NaiveDate,
    /// The district's date now.
    pub today: NaiveDate,
}

impl Aggregate for School {
    type Event = SchoolEvent;
    type Command = SchoolCommand;
    type Error = DomainError;

    fn apply(&mut self, event: &SchoolEvent, _: At) {
        match event {
            SchoolEvent::Registered(e) => self.school_id = Some(e.school_id.clone()),
            SchoolEvent::AgreementWithdrawn(e) => {
                self.last_withdrawn_on = Some(e.withdrawn_on);
                self.last_withdrawn_for = Some(e.reason.clone());
            }
            SchoolEvent::Updated(_) | SchoolEvent::AgreementSigned(_) => {}
        }
        self.status.apply(event);
    }

    fn handle(&self, command: SchoolCommand) -> Result<Decision<SchoolEvent>, DomainError> {
        match command {
            SchoolCommand::Put { school_id, name } => Ok(self.put(school_id, name)),
            SchoolCommand::SignAgreement(sign) => self.sign(sign),
            SchoolCommand::WithdrawAgreement(withdraw) => self.withdraw(withdraw),
        }
    }
}

impl School {
    fn put(&self, school_id: SchoolId, name: ShortText) -> Decision<SchoolEvent> {
        if !self.status.registered {
            Decision::events(vec![SchoolRegistered { school_id, name }.into()])
        } else if self.status.name.as_ref() != Some(&name) {
            Decision::events(vec![SchoolUpdated { school_id, name }.into()])
        } else {
            Decision::nothing()
        }
    }

    fn registered_id(&self) -> Result<&SchoolId, DomainError> {
        match &self.school_id {
            Some(id) if self.status.registered => Ok(id),
            _ => Err(DomainError::UnknownSchool),
        }
    }

    fn sign(&self, cmd: SignAgreement) -> Result<Decision<SchoolEvent>, DomainError> {
        let school_id = self.registered_id()?;
        let signer = cmd.signer.ok_or(DomainError::UnknownStakeholder)?;
        if signer.role != StakeholderRole::Principal || signer.school_id.as_ref() != Some(school_id)
        {
            return Err(DomainError::NotAPrincipalOfSchool);
        }
        if let Some(agreement) = &self.status.agreement {
            // The same signature again (a retried PUT) is nothing; another is refused.
            if (agreement.principal_id, agreement.signed_on) == (cmd.principal_id, cmd.signed_on) {
                return Ok(Decision::nothing());
            }
            return Err(DomainError::AgreementAlreadySigned);
        }
        not_in_future("signed_on", cmd.signed_on, cmd.today)?;
        if let Some(withdrawn_on) = self.last_withdrawn_on {
            not_before(
                "signed_on",
                cmd.signed_on,
                withdrawn_on,
                "the agreement was withdrawn then, and agreements do not overlap",
            )?;
        }
        let signed = AgreementSigned {
            school_id: school_id.clone(),
            principal_id: cmd.principal_id,
            signed_on: cmd.signed_on,
        };
        let promise = PromiseMade {
            promise_id: cmd.promise_id,
            to: PromiseTo::School { school_id: school_id.clone() },
            text: LongText::parse(STANDING_PROMISE_TEXT)
                .expect("the standing promise is valid text"),
            due_on: cmd.signed_on,
            owner: cmd.recorded_by,
            made_on: cmd.signed_on,
            kind: Some(CALL_BEFORE_CANCEL.into()),
        };
        let promise =
            Opened::new(stream(promise_stream(cmd.promise_id)), &PromiseEvent::from(promise));
        Ok(Decision::events(vec![signed.into()]).opening(promise))
    }

    fn withdraw(&self, cmd: WithdrawAgreement) -> Result<Decision<SchoolEvent>, DomainError> {
        let school_id = self.registered_id()?;
        let Some(agreement) = &self.status.agreement else {
            // The same withdrawal again (a retried request) is nothing; another is refused.
            let last = (self.last_withdrawn_on, self.last_withdrawn_for.as_ref());
            if last == (Some(cmd.withdrawn_on), Some(&cmd.reason)) {
                return Ok(Decision::nothing());
            }
            return Err(DomainError::AgreementNotSigned);
        };
        not_in_future("withdrawn_on", cmd.withdrawn_on, cmd.today)?;
        not_before(
            "withdrawn_on",
            cmd.withdrawn_on,
            agreement.signed_on,
            "the agreement was signed then",
        )?;
        Ok(Decision::events(vec![
            AgreementWithdrawn {
                school_id: school_id.clone(),
                reason: cmd.reason,
                withdrawn_on: cmd.withdrawn_on,
            }
            .into(),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::testing::given;

    fn id() -> SchoolId {
        SchoolId::parse("lincoln-elem").unwrap()
    }

    fn other() -> SchoolId {
        SchoolId::parse("washington-high").unwrap()
    }

    fn name(s: &str) -> ShortText {
        ShortText::parse(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const PRINCIPAL: Uuid = Uuid::from_u128(7);
    const PROMISE: Uuid = Uuid::from_u128(99);

    fn registered() -> SchoolEvent {
        SchoolRegistered { school_id: id(), name: name("Lincoln Elementary") }.into()
    }

    fn signed(on: &str) -> SchoolEvent {
        AgreementSigned { school_id: id(), principal_id: PRINCIPAL, signed_on: day(on) }.into()
    }

    fn withdrawn(on: &str) -> SchoolEvent {
        AgreementWithdrawn {
            school_id: id(),
            reason: LongText::parse("New principal").unwrap(),
            withdrawn_on: day(on),
        }
        .into()
    }

    fn sign(on: &str) -> SchoolCommand {
        sign_by(Some(Signer { role: StakeholderRole::Principal, school_id: Some(id()) }), on)
    }

    fn sign_by(signer: Option<Signer>, on: &str) -> SchoolCommand {
        SchoolCommand::SignAgreement(SignAgreement {
            principal_id: PRINCIPAL,
            signer,
            signed_on: day(on),
            today: day("2024-09-10"),
            promise_id: PROMISE,
            recorded_by: "cto@district".into(),
        })
    }

    fn withdraw(on: &str) -> SchoolCommand {
        SchoolCommand::WithdrawAgreement(WithdrawAgreement {
            reason: LongText::parse("New principal").unwrap(),
            withdrawn_on: day(on),
            today: day("2024-09-10"),
        })
    }

    #[test]
    fn put_registers_renames_or_does_nothing() {
        given::<School>([])
            .when(SchoolCommand::Put { school_id: id(), name: name("Lincoln Elementary") })
            .then_expect_events(vec![registered()]);
        given::<School>([registered()])
            .when(SchoolCommand::Put { school_id: id(), name: name("Lincoln Elementary") })
            .then_expect_nothing();
        given::<School>([registered()])
            .when(SchoolCommand::Put { school_id: id(), name: name("Lincoln Elem") })
            .then_expect_events(vec![
                SchoolUpdated { school_id: id(), name: name("Lincoln Elem") }.into(),
            ]);
    }

    #[test]
    fn the_principal_signs_and_the_standing_promise_is_opened_with_it() {
        let then = given::<School>([registered()])
            .when(sign("2024-09-10"))
            .then_expect_events(vec![signed("2024-09-10")]);
        let opens = &then.decision().opens;
        let [opened] = opens.as_slice() else { panic!("expected one opening, got {opens:?}") };
        let Ok(PromiseEvent::Made(made)) =
            PromiseEvent::from_parts(opened.event_type, &opened.data)
        else {
            panic!("expected a promise-made, got {opened:?}");
        };
        assert_eq!(made.promise_id, PROMISE);
        assert_eq!(made.to, PromiseTo::School { school_id: id() });
        assert!(made.is_call_before_cancel());
        assert_eq!((made.made_on, made.due_on), (day("2024-09-10"), day("2024-09-10")));
        assert_eq!(made.owner, "cto@district");
        assert_eq!(made.text.as_str(), STANDING_PROMISE_TEXT);
        assert_eq!(opened.stream.as_str(), format!("promise-{PROMISE}"));
    }

    #[test]
    fn only_a_principal_of_that_school_signs() {
        let teacher = Signer { role: StakeholderRole::Teacher, school_id: Some(id()) };
        let elsewhere = Signer { role: StakeholderRole::Principal, school_id: Some(other()) };
        let district = Signer { role: StakeholderRole::Principal, school_id: None };
        for signer in [teacher, elsewhere, district] {
            given::<School>([registered()])
                .when(sign_by(Some(signer), "2024-09-01"))
                .then_expect_error(DomainError::NotAPrincipalOfSchool);
        }
        given::<School>([registered()])
            .when(sign_by(None, "2024-09-01"))
            .then_expect_error(DomainError::UnknownStakeholder);
    }

    #[test]
    fn an_unregistered_school_cannot_sign_or_withdraw() {
        given::<School>([]).when(sign("2024-09-01")).then_expect_error(DomainError::UnknownSchool);
        given::<School>([])
            .when(withdraw("2024-09-01"))
            .then_expect_error(DomainError::UnknownSchool);
    }

    #[test]
    fn the_same_withdrawal_again_is_nothing_and_another_is_refused() {
        let withdrawn = [registered(), signed("2024-08-01"), withdrawn("2024-08-15")];
        given::<School>(withdrawn.clone()).when(withdraw("2024-08-15")).then_expect_nothing();
        given::<School>(withdrawn)
            .when(withdraw("2024-08-20"))
            .then_expect_error(DomainError::AgreementNotSigned);
        given::<School>([registered()])
            .when(withdraw("2024-08-15"))
            .then_expect_error(DomainError::AgreementNotSigned);
    }

    #[test]
    fn not_signed_twice_without_a_withdrawal_between() {
        given::<School>([registered(), signed("2024-08-01")])
            .when(sign("2024-09-01"))
            .then_expect_error(DomainError::AgreementAlreadySigned);
        // The same signature again is nothing: a retried PUT.
        given::<School>([registered(), signed("2024-08-01")])
            .when(sign("2024-08-01"))
            .then_expect_nothing();
        given::<School>([registered(), signed("2024-08-01"), withdrawn("2024-08-15")])
            .when(sign("2024-09-01"))
            .then_expect_events(vec![signed("2024-09-01")]);
    }

    #[test]
    fn signing_dates() {
        given::<School>([registered()])
            .when(sign("2024-09-11"))
            .then_expect_error(DomainError::DateInFuture { field: "signed_on" });
        // Backdating is allowed...
        given::<School>([registered()])
            .when(sign("2019-03-01"))
            .then_expect_events(vec![signed("2019-03-01")]);
        // ...but not before the previous withdrawal; the same day is fine.
        let history = [registered(), signed("2024-08-01"), withdrawn("2024-08-15")];
        given::<School>(history.clone()).when(sign("2024-08-14")).then_expect_error(
            DomainError::DateTooEarly {
                field: "signed_on",
                earliest: day("2024-08-15"),
                because: "the agreement was withdrawn then, and agreements do not overlap",
            },
        );
        given::<School>(history)
            .when(sign("2024-08-15"))
            .then_expect_events(vec![signed("2024-08-15")]);
    }

    #[test]
    fn withdraw_only_when_signed_and_not_before_the_signing() {
        given::<School>([registered()])
            .when(withdraw("2024-09-01"))
            .then_expect_error(DomainError::AgreementNotSigned);
        given::<School>([registered(), signed("2024-08-01"), withdrawn("2024-08-15")])
            .when(withdraw("2024-09-01"))
            .then_expect_error(DomainError::AgreementNotSigned);
        given::<School>([registered(), signed("2024-08-01")])
            .when(withdraw("2024-09-11"))
            .then_expect_error(DomainError::DateInFuture { field: "withdrawn_on" });
        given::<School>([registered(), signed("2024-08-01")])
            .when(withdraw("2024-07-31"))
            .then_expect_error(DomainError::DateTooEarly {
                field: "withdrawn_on",
                earliest: day("2024-08-01"),
                because: "the agreement was signed then",
            });
        given::<School>([registered(), signed("2024-08-01")])
            .when(withdraw("2024-08-15"))
            .then_expect_events(vec![withdrawn("2024-08-15")]);
    }

    #[test]
    fn sign_withdraw_sign_again() {
        given::<School>([registered()])
            .when(sign("2024-08-01"))
            .then_apply()
            .when(withdraw("2024-08-15"))
            .then_apply()
            .when(sign("2024-09-01"))
            .then_expect_events(vec![signed("2024-09-01")])
            .then_apply()
            .when(sign("2024-09-02"))
            .then_expect_error(DomainError::AgreementAlreadySigned);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Put(bool),
            Sign { signer: u8, day: u32 },
            Withdraw { day: u32 },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                any::<bool>().prop_map(Op::Put),
                (0u8..4, 0u32..40).prop_map(|(signer, day)| Op::Sign { signer, day }),
                (0u32..40).prop_map(|day| Op::Withdraw { day }),
            ]
        }

        fn nth_day(n: u32) -> NaiveDate {
            day("2024-09-01") + chrono::Days::new(u64::from(n))
        }

        proptest! {
            /// Whatever the commands, the stream alternates signed and withdrawn, only a
            /// principal of the school signs, dates never go backwards or into the future, and
            /// every signature opens exactly one standing promise.
            #[test]
            fn agreement_history_stays_consistent(ops in proptest::collection::vec(op(), 0..40)) {
                let today = nth_day(30);
                let mut school = School::default();
                let mut stream: Vec<SchoolEvent> = vec![];
                for (i, op) in ops.into_iter().enumerate() {
                    let command = match op {
                        Op::Put(rename) => SchoolCommand::Put {
                            school_id: id(),
                            name: name(if rename { "Lincoln Elem" } else { "Lincoln Elementary" }),
                        },
                        Op::Sign { signer, day } => {
                            let signer = match signer {
                                0 => None,
                                1 => Some(Signer { role: StakeholderRole::Teacher, school_id: Some(id()) }),
                                2 => Some(Signer { role: StakeholderRole::Principal, school_id: Some(other()) }),
                                _ => Some(Signer { role: StakeholderRole::Principal, school_id: Some(id()) }),
                            };
                            SchoolCommand::SignAgreement(SignAgreement {
                                principal_id: PRINCIPAL,
                                signer,
                                signed_on: nth_day(day),
                                today,
                                promise_id: Uuid::from_u128(i as u128),
                                recorded_by: "cto".into(),
                            })
                        }
                        Op::Withdraw { day } => SchoolCommand::WithdrawAgreement(WithdrawAgreement {
                            reason: LongText::parse("reason").unwrap(),
                            withdrawn_on: nth_day(day),
                            today,
                        }),
                    };
                    let signer_ok = match &command {
                        SchoolCommand::SignAgreement(s) => s.signer == Some(Signer { role: StakeholderRole::Principal, school_id: Some(id()) }),
                        _ => true,
                    };
                    let Ok(decision) = school.handle(command) else { continue };
                    prop_assert!(signer_ok, "a signature by someone other than the school's principal");
                    let signatures = decision.events.iter().filter(|e| matches!(e, SchoolEvent::AgreementSigned(_))).count();
                    prop_assert_eq!(decision.opens.len(), signatures);
                    for opened in &decision.opens {
                        let Ok(PromiseEvent::Made(made)) = PromiseEvent::from_parts(opened.event_type, &opened.data) else {
                            return Err(TestCaseError::fail("only promises are opened"));
                        };
                        prop_assert!(made.is_call_before_cancel());
                    }
                    for event in decision.events {
                        school.apply(&event, At { version: stream.len() as u64 + 1, recorded_at: kernel::testing::t0() });
                        stream.push(event);
                    }
                }
                let mut gated = false;
                let mut last_date = NaiveDate::MIN;
                for event in &stream {
                    match event {
                        SchoolEvent::AgreementSigned(s) => {
                            prop_assert!(!gated, "signed twice");
                            prop_assert!(s.signed_on >= last_date && s.signed_on <= today);
                            (gated, last_date) = (true, s.signed_on);
                        }
                        SchoolEvent::AgreementWithdrawn(w) => {
                            prop_assert!(gated, "withdrawn while not signed");
                            prop_assert!(w.withdrawn_on >= last_date && w.withdrawn_on <= today);
                            (gated, last_date) = (false, w.withdrawn_on);
                        }
                        SchoolEvent::Registered(_) | SchoolEvent::Updated(_) => {}
                    }
                }
                prop_assert_eq!(SchoolStatus::from_events(&stream).is_gated(), gated);
                let registrations = stream.iter().filter(|e| matches!(e, SchoolEvent::Registered(_))).count();
                prop_assert!(registrations <= 1);
            }
        }
    }
}
