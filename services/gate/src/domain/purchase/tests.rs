//! Given/when/then for every purchase rule and error, and a property test of call before
//! cancel over random command sequences.

use super::*;
use crate::domain::testing::fixtures::*;
use crate::domain::testing::{given, given_at, t0};
use events::gate::{Decision, ReasonCode};
use events::stakeholders::Phone;
use events::values::{Email, ShortText};

/// The registered stakeholder whose e-mail is the fixtures' requester's.
fn requester() -> Uuid {
    Uuid::from_u128(0x5eed)
}

/// A call that reached the requester, a registered stakeholder.
fn reached_call(id: u128, minutes_after_t0: i64) -> LogCall {
    LogCall {
        call_id: Uuid::from_u128(id),
        requester_reached: true,
        goal: Some(long("Wants laptops that can run the robotics software")),
        notes: Some(long("Agreed to look at the standard model.")),
        occurred_at: at(minutes_after_t0),
        now: at(60),
        spoke_with: None,
        requester: Some(requester()),
    }
}

/// Pat Lee, reachable by phone: a requester who is not a registered stakeholder.
fn pat_by_phone() -> PersonReached {
    PersonReached {
        stakeholder_id: None,
        name: Some(ShortText::parse("Pat Lee").unwrap()),
        phone: Some(Phone::parse("555-0142").unwrap()),
        email: None,
    }
}

fn unreached_call(id: u128, minutes_after_t0: i64) -> LogCall {
    LogCall {
        requester_reached: false,
        goal: None,
        notes: None,
        ..reached_call(id, minutes_after_t0)
    }
}

/// The event a call the gate accepts records: a reached registered requester by their id,
/// anyone else as named.
fn call_event(call: &LogCall) -> PurchaseEvent {
    let spoke_with = match (call.requester_reached, call.requester) {
        (true, Some(id)) => Some(PersonReached::stakeholder(id)),
        _ => call.spoke_with.clone(),
    };
    CallLogged {
        call_id: call.call_id,
        requester_reached: call.requester_reached,
        goal: call.goal.clone(),
        notes: call.notes.clone(),
        occurred_at: call.occurred_at,
        spoke_with,
    }
    .into()
}

fn proposal(id: u128) -> ProposeAlternative {
    let lines = vec![supported_line()];
    ProposeAlternative {
        alternative_id: Uuid::from_u128(id),
        description: long("Two Latitude 5440s from the catalog, imaged by IT."),
        assessment: crate::domain::assess_lines(&lines, &standards()),
        lines,
        call_id: None,
        occurred: None,
    }
}

fn proposal_event(p: &ProposeAlternative) -> PurchaseEvent {
    AlternativeProposed {
        alternative_id: p.alternative_id,
        description: p.description.clone(),
        lines: p.lines.clone(),
        call_id: p.call_id,
        assessment: p.assessment.clone(),
        occurred_at: p.occurred.map(|o| o.at),
    }
    .into()
}

fn with(
    mut events: Vec<PurchaseEvent>,
    more: impl IntoIterator<Item = PurchaseEvent>,
) -> Vec<PurchaseEvent> {
    events.extend(more);
    events
}

fn cancel() -> PurchaseCommand {
    PurchaseCommand::Cancel {
        reason: long("The requester chose to wait for the refresh."),
        occurred: None,
    }
}

fn cancelled(events: Vec<PurchaseEvent>) -> Vec<PurchaseEvent> {
    let state = given::<Purchase>(events.clone()).state().clone();
    let PurchaseEvent::Cancelled(_) = &state.handle(cancel()).unwrap()[0] else { panic!() };
    with(events, state.handle(cancel()).unwrap())
}

fn approved_by_it(events: Vec<PurchaseEvent>) -> Vec<PurchaseEvent> {
    with(events, [PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into()])
}

// --- submit ---------------------------------------------------------------------------------

#[test]
fn submit_records_the_check_and_the_decision() {
    let submit = submit(unsupported_check(), &gated_school());
    let outcome = submit.outcome.clone();
    let check = submit.check.clone();
    let then = given::<Purchase>([]).when(PurchaseCommand::Submit(submit));
    let Ok(decision) = then.result() else { panic!("refused") };
    let events = &decision.events;
    assert_eq!(events.len(), 2);
    let PurchaseEvent::Submitted(s) = &events[0] else { panic!("{events:?}") };
    assert_eq!(s.purchase_id, purchase_id());
    assert_eq!(s.total, money("2499.00"));
    assert_eq!(s.request_hash, check.request_hash());
    assert_eq!(s.submitted_by, "finance-erp");
    assert_eq!(s.lines, check.lines);
    assert_eq!(events[1], outcome.to_event().into());

    let state = then.then_state(at(1));
    assert_eq!(state.status, Some(PurchaseStatus::Held));
    assert_eq!(state.flagged_at, Some(at(1)));
    assert_eq!(state.id(), Some(purchase_id()));
    assert_eq!(state.version, 2);
}

#[test]
fn a_check_the_policy_does_not_call_technology_for_sure_is_held_never_approved() {
    let globe = PurchaseLine {
        description: text("Classroom globe"),
        category: category("classroom-decor"),
        ..paper()
    };
    let laptop_as_supplies = PurchaseLine { description: text("Laptop for the office"), ..paper() };
    for (line, code) in [
        (globe, ReasonCode::UnclassifiedCategory),
        (laptop_as_supplies, ReasonCode::LooksLikeTechnology),
    ] {
        let check = PurchaseCheck { lines: vec![line], ..check() };
        let then =
            given::<Purchase>([]).when(PurchaseCommand::Submit(submit(check, &gated_school())));
        let [_, PurchaseEvent::Decided(decided)] = &then.decision().events[..] else { panic!() };
        assert_eq!(decided.decision, Decision::Held);
        assert_eq!(decided.reasons[0].code, code);
        assert_eq!(then.then_state(at(0)).status, Some(PurchaseStatus::Held));
    }
}

#[test]
fn an_approved_decision_is_not_flagged() {
    let state = given::<Purchase>(approved_purchase()).state().clone();
    assert_eq!(state.status, Some(PurchaseStatus::Approved));
    assert_eq!(state.flagged_at, None);
    assert_eq!(state.decision.unwrap().reasons[0].code, ReasonCode::InCatalog);
}

#[test]
fn advisory_is_flagged_too() {
    let state =
        given_at::<Purchase>(advisory_purchase().into_iter().map(|e| (e, at(3)))).state().clone();
    assert_eq!(state.status, Some(PurchaseStatus::Advisory));
    assert_eq!(state.flagged_at, Some(at(3)));
}

#[test]
fn submitting_the_same_request_again_emits_nothing() {
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::Submit(submit(unsupported_check(), &gated_school())))
        .then_expect_events(vec![]);
}

#[test]
fn submitting_a_different_request_on_the_same_purchase_is_a_conflict() {
    let err = given::<Purchase>(held_purchase())
        .when(PurchaseCommand::Submit(submit(check(), &gated_school())))
        .then_expect_error(PurchaseError::IdempotencyConflict { purchase_id: purchase_id() });
    assert_eq!(err.slug(), "idempotency-conflict");
}

#[test]
fn submit_new_needs_a_decision() {
    let mut standards = standards();
    standards.policy = None;
    let err = Submit::new(purchase_id(), check(), "erp", None, &gated_school(), &standards, t0());
    assert_eq!(err, Err(DecisionError::NoPolicy));
}

#[test]
fn commands_on_an_unknown_purchase_are_not_found() {
    for command in [
        PurchaseCommand::LogCall(reached_call(1, 5)),
        PurchaseCommand::ProposeAlternative(proposal(2)),
        PurchaseCommand::AcceptAlternative { alternative_id: Uuid::from_u128(2), occurred: None },
        PurchaseCommand::Approve { note: None, occurred: None },
        cancel(),
    ] {
        let err = given::<Purchase>([]).when(command).then_expect_error(PurchaseError::NotFound);
        assert_eq!(err.slug(), "purchase-not-found");
    }
}

// --- calls ----------------------------------------------------------------------------------

#[test]
fn calls_are_logged_on_held_and_advisory_purchases() {
    let call = reached_call(1, 5);
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(call.clone()))
        .then_expect_events(vec![call_event(&call)]);
    given::<Purchase>(advisory_purchase())
        .when(PurchaseCommand::LogCall(call.clone()))
        .then_expect_events(vec![call_event(&call)]);
    let unreached = unreached_call(2, 5);
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(unreached.clone()))
        .then_expect_events(vec![call_event(&unreached)]);
}

#[test]
fn no_calls_on_approved_or_cancelled_purchases() {
    let rule = "calls are logged only on held or advisory purchases";
    let err = given::<Purchase>(approved_purchase())
        .when(PurchaseCommand::LogCall(reached_call(1, 5)))
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Approved, rule });
    assert_eq!(err.slug(), "invalid-state");
    assert_eq!(err.to_string(), format!("This purchase is approved: {rule}."));
    let ready =
        with(held_purchase(), [call_event(&reached_call(1, 5)), proposal_event(&proposal(2))]);
    given::<Purchase>(cancelled(ready))
        .when(PurchaseCommand::LogCall(reached_call(3, 6)))
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Cancelled, rule });
    given::<Purchase>(approved_by_it(held_purchase()))
        .when(PurchaseCommand::LogCall(reached_call(3, 6)))
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Approved, rule });
}

#[test]
fn a_call_cannot_predate_the_flag() {
    let flagged = given_at::<Purchase>(held_purchase().into_iter().map(|e| (e, at(10))));
    let err = flagged.when(PurchaseCommand::LogCall(reached_call(1, 9))).then_expect_error(
        PurchaseError::CallBeforeFlag { occurred_at: at(9), flagged_at: at(10) },
    );
    assert_eq!(err.slug(), "call-before-flag");
    let at_flag = reached_call(1, 10);
    given_at::<Purchase>(held_purchase().into_iter().map(|e| (e, at(10))))
        .when(PurchaseCommand::LogCall(at_flag.clone()))
        .then_expect_events(vec![call_event(&at_flag)]);
}

#[test]
fn a_call_cannot_be_in_the_future() {
    let mut call = reached_call(1, 66);
    call.now = at(60);
    let err = given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(call.clone()))
        .then_expect_error(PurchaseError::CallInFuture { occurred_at: at(66), now: at(60) });
    assert_eq!(err.slug(), "call-in-future");
    call.occurred_at = at(65); // exactly five minutes ahead: clock skew is allowed
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(call.clone()))
        .then_expect_events(vec![call_event(&call)]);
}

#[test]
fn a_reached_requester_call_needs_the_goal() {
    let call = LogCall { goal: None, ..reached_call(1, 5) };
    let err = given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(call))
        .then_expect_error(PurchaseError::GoalRequired);
    assert_eq!(err.slug(), "goal-required");
}

#[test]
fn a_reached_registered_requester_is_recorded_by_their_stakeholder_id() {
    let call = reached_call(1, 5);
    let then = given::<Purchase>(held_purchase()).when(PurchaseCommand::LogCall(call.clone()));
    let [PurchaseEvent::CallLogged(logged)] = &then.decision().events[..] else { panic!() };
    assert_eq!(logged.spoke_with, Some(PersonReached::stakeholder(requester())));
    // Naming the requester's id, or the requester by name, records the same.
    for spoke_with in [PersonReached::stakeholder(requester()), pat_by_phone()] {
        let named = LogCall { spoke_with: Some(spoke_with), ..call.clone() };
        given::<Purchase>(held_purchase())
            .when(PurchaseCommand::LogCall(named))
            .then_expect_events(vec![call_event(&call)]);
    }
}

#[test]
fn a_reached_call_with_another_stakeholder_is_not_with_the_requester() {
    let someone_else = Uuid::from_u128(0xbad);
    let call = LogCall {
        spoke_with: Some(PersonReached::stakeholder(someone_else)),
        ..reached_call(1, 5)
    };
    let err = given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(call))
        .then_expect_error(PurchaseError::NotTheRequester {
            stakeholder_id: someone_else,
            requester: Some(requester()),
        });
    assert_eq!(err.slug(), "not-the-requester");
    assert!(err.to_string().contains(&requester().to_string()), "{err}");
}

#[test]
fn an_unregistered_requester_reached_is_named_with_a_phone_or_an_email() {
    let unregistered = LogCall { requester: None, ..reached_call(1, 5) };
    // Nobody named, or a name without a way to reach them: refused.
    let name_only = PersonReached { phone: None, ..pat_by_phone() };
    for spoke_with in [None, Some(name_only)] {
        let err = given::<Purchase>(held_purchase())
            .when(PurchaseCommand::LogCall(LogCall { spoke_with, ..unregistered.clone() }))
            .then_expect_error(PurchaseError::ReachedPersonRequired);
        assert_eq!(err.slug(), "reached-person-required");
    }
    // A name and a phone, or a name and an e-mail: recorded as given.
    let by_email = PersonReached {
        phone: None,
        email: Some(Email::parse("pat.lee@lincoln.district.org").unwrap()),
        ..pat_by_phone()
    };
    for person in [pat_by_phone(), by_email] {
        let call = LogCall { spoke_with: Some(person), ..unregistered.clone() };
        given::<Purchase>(held_purchase())
            .when(PurchaseCommand::LogCall(call.clone()))
            .then_expect_events(vec![call_event(&call)]);
    }
    // A registered stakeholder is not this requester: their e-mail would be the requester's.
    let stakeholder = Uuid::from_u128(0xbad);
    let call =
        LogCall { spoke_with: Some(PersonReached::stakeholder(stakeholder)), ..unregistered };
    given::<Purchase>(held_purchase()).when(PurchaseCommand::LogCall(call)).then_expect_error(
        PurchaseError::NotTheRequester { stakeholder_id: stakeholder, requester: None },
    );
}

#[test]
fn a_call_that_missed_the_requester_may_name_whom_it_reached() {
    let assistant = PersonReached {
        name: Some(ShortText::parse("Sam, the front office").unwrap()),
        ..pat_by_phone()
    };
    let call = LogCall { spoke_with: Some(assistant), ..unreached_call(1, 5) };
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(call.clone()))
        .then_expect_events(vec![call_event(&call)]);
    let nobody = PersonReached { phone: None, ..pat_by_phone() };
    let call = LogCall { spoke_with: Some(nobody), ..unreached_call(2, 5) };
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::LogCall(call))
        .then_expect_error(PurchaseError::ReachedPersonRequired);
}

#[test]
fn call_ids_are_unique() {
    let call = reached_call(1, 5);
    let err = given::<Purchase>(with(held_purchase(), [call_event(&call)]))
        .when(PurchaseCommand::LogCall(reached_call(1, 7)))
        .then_expect_error(PurchaseError::DuplicateId { id: Uuid::from_u128(1) });
    assert_eq!(err.slug(), "duplicate-id");
}

// --- alternatives ---------------------------------------------------------------------------

#[test]
fn alternatives_are_proposed_on_held_and_advisory_purchases() {
    let p = proposal(2);
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::ProposeAlternative(p.clone()))
        .then_expect_events(vec![proposal_event(&p)]);
    given::<Purchase>(advisory_purchase())
        .when(PurchaseCommand::ProposeAlternative(p.clone()))
        .then_expect_events(vec![proposal_event(&p)]);
    let advice = ProposeAlternative { lines: vec![], ..proposal(3) };
    given::<Purchase>(held_purchase())
        .when(PurchaseCommand::ProposeAlternative(advice.clone()))
        .then_expect_events(vec![proposal_event(&advice)]);
}

#[test]
fn an_alternative_may_name_the_call_it_was_discussed_in() {
    let call = reached_call(1, 5);
    let p = ProposeAlternative { call_id: Some(call.call_id), ..proposal(2) };
    given::<Purchase>(with(held_purchase(), [call_event(&call)]))
        .when(PurchaseCommand::ProposeAlternative(p.clone()))
        .then_expect_events(vec![proposal_event(&p)]);
    let unknown = ProposeAlternative { call_id: Some(Uuid::from_u128(9)), ..proposal(2) };
    let err = given::<Purchase>(with(held_purchase(), [call_event(&call)]))
        .when(PurchaseCommand::ProposeAlternative(unknown))
        .then_expect_error(PurchaseError::CallNotFound { call_id: Uuid::from_u128(9) });
    assert_eq!(err.slug(), "call-not-found");
}

#[test]
fn an_alternative_records_whether_its_own_lines_are_supported() {
    let supported = proposal(2);
    assert!(supported.assessment.as_ref().unwrap().supported);
    let lines = vec![supported_line(), unknown_laptop()];
    let unsupported = ProposeAlternative {
        assessment: crate::domain::assess_lines(&lines, &standards()),
        lines,
        ..proposal(3)
    };
    let then = given::<Purchase>(held_purchase())
        .when(PurchaseCommand::ProposeAlternative(unsupported.clone()));
    let [PurchaseEvent::AlternativeProposed(proposed)] = &then.decision().events[..] else {
        panic!()
    };
    let assessment = proposed.assessment.as_ref().unwrap();
    assert!(!assessment.supported);
    let codes: Vec<_> = assessment.reasons.iter().map(|r| (r.code, r.line)).collect();
    assert_eq!(codes, vec![(ReasonCode::InCatalog, Some(0)), (ReasonCode::NotInCatalog, Some(1))]);
}

#[test]
fn no_alternatives_on_approved_purchases() {
    given::<Purchase>(approved_purchase())
        .when(PurchaseCommand::ProposeAlternative(proposal(2)))
        .then_expect_error(PurchaseError::InvalidState {
            status: PurchaseStatus::Approved,
            rule: "alternatives are proposed only on held or advisory purchases",
        });
}

#[test]
fn alternative_ids_are_unique_and_lines_bounded() {
    given::<Purchase>(with(held_purchase(), [proposal_event(&proposal(2))]))
        .when(PurchaseCommand::ProposeAlternative(proposal(2)))
        .then_expect_error(PurchaseError::DuplicateId { id: Uuid::from_u128(2) });
    let huge = ProposeAlternative { lines: vec![supported_line(); MAX_LINES + 1], ..proposal(3) };
    let err = given::<Purchase>(held_purchase())
        .when(PurchaseCommand::ProposeAlternative(huge))
        .then_expect_error(PurchaseError::TooManyLines { count: MAX_LINES + 1 });
    assert_eq!(err.slug(), "invalid-lines");
}

#[test]
fn accepting_an_alternative_approves_the_purchase_as_amended() {
    let id = Uuid::from_u128(2);
    let ready = [call_event(&reached_call(1, 5)), proposal_event(&proposal(2))];
    let then = given::<Purchase>(with(held_purchase(), ready))
        .when(PurchaseCommand::AcceptAlternative { alternative_id: id, occurred: None });
    assert_eq!(
        &then.result().as_ref().unwrap().events,
        &vec![
            AlternativeAccepted { alternative_id: id }.into(),
            PurchaseApproved { note: None, alternative_id: Some(id), occurred_at: None }.into(),
        ]
    );
    let state = then.then_state(at(30));
    assert_eq!(state.status, Some(PurchaseStatus::Approved));
    assert!(state.alternative(id).unwrap().accepted);
    assert_eq!(state.closed_at, Some(at(30)));
}

#[test]
fn accepting_needs_a_proposed_alternative() {
    let ready = [call_event(&reached_call(1, 5)), proposal_event(&proposal(2))];
    let err = given::<Purchase>(with(held_purchase(), ready))
        .when(PurchaseCommand::AcceptAlternative {
            alternative_id: Uuid::from_u128(9),
            occurred: None,
        })
        .then_expect_error(PurchaseError::AlternativeNotFound {
            alternative_id: Uuid::from_u128(9),
        });
    assert_eq!(err.slug(), "alternative-not-found");
}

#[test]
fn accepting_needs_a_reached_call_with_the_requester_after_the_flag() {
    let accept = || PurchaseCommand::AcceptAlternative {
        alternative_id: Uuid::from_u128(2),
        occurred: None,
    };
    // No call at all: refused, and nothing changes.
    let err = given::<Purchase>(with(held_purchase(), [proposal_event(&proposal(2))]))
        .when(accept())
        .then_expect_error(PurchaseError::AcceptNeedsCall);
    assert_eq!(err.slug(), "call-required");
    assert!(err.to_string().contains("replaces what they asked for"), "{err}");
    // A call that did not reach the requester: refused.
    given::<Purchase>(with(
        held_purchase(),
        [call_event(&unreached_call(1, 5)), proposal_event(&proposal(2))],
    ))
    .when(accept())
    .then_expect_error(PurchaseError::AcceptNeedsCall);
    // A reached call that took place before the flag (a history the gate never writes):
    // refused.
    let mut early: Vec<_> = held_purchase().into_iter().map(|e| (e, at(10))).collect();
    early.push((call_event(&reached_call(1, 5)), at(11)));
    early.push((proposal_event(&proposal(2)), at(12)));
    given_at::<Purchase>(early).when(accept()).then_expect_error(PurchaseError::AcceptNeedsCall);
    // A reached call after the flag: accepted; no alternative-free cancel rule applies.
    given::<Purchase>(with(
        held_purchase(),
        [proposal_event(&proposal(2)), call_event(&reached_call(1, 5))],
    ))
    .when(accept())
    .decision();
}

#[test]
fn accepting_needs_a_held_purchase() {
    given::<Purchase>(with(advisory_purchase(), [proposal_event(&proposal(2))]))
        .when(PurchaseCommand::AcceptAlternative {
            alternative_id: Uuid::from_u128(2),
            occurred: None,
        })
        .then_expect_error(PurchaseError::InvalidState {
            status: PurchaseStatus::Advisory,
            rule: "only a held purchase can be amended",
        });
}

// --- approve --------------------------------------------------------------------------------

#[test]
fn approving_a_held_purchase() {
    let note = Some(long("The club's software needs this model."));
    let then = given::<Purchase>(held_purchase())
        .when(PurchaseCommand::Approve { note: note.clone(), occurred: None });
    assert_eq!(
        &then.result().as_ref().unwrap().events,
        &vec![PurchaseApproved { note, alternative_id: None, occurred_at: None }.into()]
    );
    assert_eq!(then.then_state(at(20)).status, Some(PurchaseStatus::Approved));
}

#[test]
fn approving_needs_a_held_purchase() {
    let rule = "only a held purchase can be approved";
    for (events, status) in [
        (advisory_purchase(), PurchaseStatus::Advisory),
        (approved_purchase(), PurchaseStatus::Approved),
        (approved_by_it(held_purchase()), PurchaseStatus::Approved),
    ] {
        given::<Purchase>(events)
            .when(PurchaseCommand::Approve { note: None, occurred: None })
            .then_expect_error(PurchaseError::InvalidState { status, rule });
    }
}

// --- call before cancel ---------------------------------------------------------------------

#[test]
fn cancel_without_call_or_alternative_is_refused() {
    let err = given::<Purchase>(held_purchase()).when(cancel()).then_expect_error(
        PurchaseError::CallRequired { reached_call: false, alternative_proposed: false },
    );
    assert_eq!(err.slug(), "call-required");
    assert!(err.to_string().contains("calling the requester"), "{err}");
}

#[test]
fn cancel_with_only_a_reached_call_is_refused() {
    let err = given::<Purchase>(with(held_purchase(), [call_event(&reached_call(1, 5))]))
        .when(cancel())
        .then_expect_error(PurchaseError::CallRequired {
            reached_call: true,
            alternative_proposed: false,
        });
    assert!(err.to_string().contains("has no alternative"), "{err}");
}

#[test]
fn cancel_with_only_an_alternative_is_refused() {
    given::<Purchase>(with(held_purchase(), [proposal_event(&proposal(2))]))
        .when(cancel())
        .then_expect_error(PurchaseError::CallRequired {
            reached_call: false,
            alternative_proposed: true,
        });
}

#[test]
fn cancel_after_an_unanswered_call_is_refused() {
    given::<Purchase>(with(
        held_purchase(),
        [call_event(&unreached_call(1, 5)), proposal_event(&proposal(2))],
    ))
    .when(cancel())
    .then_expect_error(PurchaseError::CallRequired {
        reached_call: false,
        alternative_proposed: true,
    });
}

#[test]
fn a_call_from_before_the_flag_does_not_count() {
    // Such an event cannot be produced by `handle`, but the rule holds on any history.
    let early = call_event(&reached_call(1, 5));
    let mut events: Vec<_> = held_purchase().into_iter().map(|e| (e, at(10))).collect();
    events.push((early, at(11)));
    events.push((proposal_event(&proposal(2)), at(12)));
    given_at::<Purchase>(events).when(cancel()).then_expect_error(PurchaseError::CallRequired {
        reached_call: false,
        alternative_proposed: true,
    });
}

#[test]
fn cancel_after_a_reached_call_and_an_alternative() {
    let reason = long("The requester chose to wait for the refresh.");
    let then = given::<Purchase>(with(
        held_purchase(),
        [call_event(&reached_call(1, 5)), proposal_event(&proposal(2))],
    ))
    .when(PurchaseCommand::Cancel { reason: reason.clone(), occurred: None });
    assert_eq!(
        &then.result().as_ref().unwrap().events,
        &vec![PurchaseCancelled { reason, occurred_at: None }.into()]
    );
    let state = then.then_state(at(40));
    assert_eq!(state.status, Some(PurchaseStatus::Cancelled));
    assert_eq!(state.closed_at, Some(at(40)));
    // The order of call and alternative does not matter.
    given::<Purchase>(with(
        held_purchase(),
        [proposal_event(&proposal(2)), call_event(&reached_call(1, 5))],
    ))
    .when(cancel())
    .result()
    .as_ref()
    .unwrap();
}

#[test]
fn only_held_purchases_are_cancelled() {
    let rule = "only a held purchase can be cancelled";
    let ready = [call_event(&reached_call(1, 5)), proposal_event(&proposal(2))];
    given::<Purchase>(with(advisory_purchase(), ready.clone()))
        .when(cancel())
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Advisory, rule });
    given::<Purchase>(cancelled(with(held_purchase(), ready.clone())))
        .when(cancel())
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Cancelled, rule });
    given::<Purchase>(approved_by_it(with(held_purchase(), ready)))
        .when(cancel())
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Approved, rule });
}

#[test]
fn held_decision_records_the_rules() {
    let state = given::<Purchase>(held_purchase()).state().clone();
    let decided = state.decision.unwrap();
    assert_eq!(decided.decision, Decision::Held);
    assert!(decided.school_gated);
    assert_eq!(decided.policy_version, standards().version);
}

#[test]
fn every_error_has_a_distinct_slug_and_a_detail() {
    let errors = [
        PurchaseError::NotFound,
        PurchaseError::IdempotencyConflict { purchase_id: Uuid::nil() },
        PurchaseError::InvalidState { status: PurchaseStatus::Held, rule: "x" },
        PurchaseError::CallRequired { reached_call: false, alternative_proposed: false },
        PurchaseError::AlternativeNotFound { alternative_id: Uuid::nil() },
        PurchaseError::CallBeforeFlag { occurred_at: t0(), flagged_at: t0() },
        PurchaseError::CallInFuture { occurred_at: t0(), now: t0() },
        PurchaseError::GoalRequired,
        PurchaseError::DuplicateId { id: Uuid::nil() },
        PurchaseError::TooManyLines { count: 501 },
        PurchaseError::ReachedPersonRequired,
        PurchaseError::NotTheRequester { stakeholder_id: Uuid::nil(), requester: None },
        PurchaseError::CallNotFound { call_id: Uuid::nil() },
    ];
    let slugs: std::collections::BTreeSet<_> = errors.iter().map(PurchaseError::slug).collect();
    assert_eq!(slugs.len(), errors.len());
    // Refusing to accept without a call is call before cancel's refusal, by its slug.
    assert_eq!(PurchaseError::AcceptNeedsCall.slug(), "call-required");
    assert!(PurchaseError::AcceptNeedsCall.to_string().ends_with('.'));
    for e in errors {
        assert!(e.to_string().ends_with('.'), "{e}");
    }
}

// --- property: call before cancel over random command sequences -----------------------------

mod property;

// --- property: the published fold and the gate decide call before cancel alike --------------

mod fold_agrees_with_the_gate;

// --- waiting on the requester ---------------------------------------------------------------

#[test]
fn only_a_held_purchase_waits_on_its_requester() {
    let note = LongText::parse("The quote from the vendor").unwrap();
    let wait = || PurchaseCommand::WaitOnRequester { note: note.clone(), now: at(7) };
    given::<Purchase>(held_purchase()).when(wait()).then_expect_events(vec![
        events::gate::WaitingOnRequester { note: note.clone(), since: at(7) }.into(),
    ]);
    let rule = "only a held purchase's decision waits on the requester";
    given::<Purchase>(advisory_purchase())
        .when(wait())
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Advisory, rule });
    given::<Purchase>(approved_by_it(held_purchase()))
        .when(wait())
        .then_expect_error(PurchaseError::InvalidState { status: PurchaseStatus::Approved, rule });
}

mod entered_late;
