//! Purchases entered after the fact: a check that says when it was requested, and IT's steps
//! that say when they took place, each within bounds and in order.

use super::*;

/// A week before t0, when the log records the check.
fn a_week_ago() -> DateTime<Utc> {
    t0() - TimeDelta::days(7)
}

/// The held purchase's check, requested at `requested_at` and sent at t0.
fn submit_requested(requested_at: DateTime<Utc>) -> PurchaseCommand {
    let check = PurchaseCheck { requested_at: Some(requested_at), ..unsupported_check() };
    PurchaseCommand::Submit(submit(check, &gated_school()))
}

/// A held purchase requested a week ago, entered at t0.
fn entered_a_week_late() -> Vec<PurchaseEvent> {
    given::<Purchase>([]).when(submit_requested(a_week_ago())).decision().events.clone()
}

/// A call that reached the requester `hours` after the request, logged at t0.
fn call_after(hours: i64) -> LogCall {
    let at = a_week_ago() + TimeDelta::hours(hours);
    LogCall { occurred_at: at, now: t0(), ..reached_call(1, 0) }
}

fn dated(hours_after_request: i64) -> Option<Occurred> {
    Some(Occurred { at: a_week_ago() + TimeDelta::hours(hours_after_request), now: t0() })
}

fn alternative_after(hours: i64) -> ProposeAlternative {
    ProposeAlternative { occurred: dated(hours), ..proposal(2) }
}

/// The purchase entered a week late, called and offered an alternative after the request.
fn called_and_offered() -> Vec<PurchaseEvent> {
    let mut events = entered_a_week_late();
    events.push(call_event(&call_after(2)));
    events.push(proposal_event(&alternative_after(3)));
    events
}

#[test]
fn given_a_check_sent_late_when_submitted_then_the_event_says_when_it_was_requested() {
    let events = entered_a_week_late();
    let PurchaseEvent::Submitted(s) = &events[0] else { panic!("{events:?}") };
    assert_eq!(s.requested_at, Some(a_week_ago()));
    let purchase = given::<Purchase>(events.clone()).state().clone();
    assert_eq!(purchase.flagged_at, Some(a_week_ago()), "flagged from the request");
    assert_eq!(purchase.submitted_at, Some(t0()), "recorded when it arrived");
    // The request's time is part of the question: the same ref with another time conflicts.
    let another = submit_requested(a_week_ago() + TimeDelta::hours(1));
    given::<Purchase>(events)
        .when(another)
        .then_expect_error(PurchaseError::IdempotencyConflict { purchase_id: purchase_id() });
}

#[test]
fn given_a_check_requested_in_the_future_or_too_long_ago_when_submitted_then_it_is_refused() {
    let future = t0() + MAX_CALL_AHEAD + TimeDelta::seconds(1);
    given::<Purchase>([])
        .when(submit_requested(future))
        .then_expect_error(PurchaseError::RequestedInFuture { requested_at: future, now: t0() });
    // Within the clock skew allowance it is taken as it is.
    given::<Purchase>([]).when(submit_requested(t0() + MAX_CALL_AHEAD)).decision();
    let ancient = t0() - MAX_REQUESTED_BEFORE - TimeDelta::seconds(1);
    let err = given::<Purchase>([])
        .when(submit_requested(ancient))
        .then_expect_error(PurchaseError::RequestedTooLongAgo { requested_at: ancient, now: t0() });
    assert_eq!(err.slug(), "requested-too-long-ago");
    given::<Purchase>([]).when(submit_requested(t0() - MAX_REQUESTED_BEFORE)).decision();
}

#[test]
fn given_a_late_entry_when_calls_are_logged_then_they_may_date_from_the_request() {
    given::<Purchase>(entered_a_week_late())
        .when(PurchaseCommand::LogCall(call_after(2)))
        .then_expect_events(vec![call_event(&call_after(2))]);
    let before = call_after(-1);
    given::<Purchase>(entered_a_week_late())
        .when(PurchaseCommand::LogCall(before.clone()))
        .then_expect_error(PurchaseError::CallBeforeFlag {
            occurred_at: before.occurred_at,
            flagged_at: a_week_ago(),
        });
}

#[test]
fn given_a_late_entry_when_an_alternative_is_dated_then_it_is_bounded_like_a_call() {
    let events = entered_a_week_late();
    let then = given::<Purchase>(events.clone())
        .when(PurchaseCommand::ProposeAlternative(alternative_after(3)));
    let [PurchaseEvent::AlternativeProposed(a)] = &then.decision().events[..] else { panic!() };
    assert_eq!(a.occurred_at, Some(a_week_ago() + TimeDelta::hours(3)));
    given::<Purchase>(events.clone())
        .when(PurchaseCommand::ProposeAlternative(alternative_after(-1)))
        .then_expect_error(PurchaseError::OccurredBeforeFlag {
            occurred_at: a_week_ago() - TimeDelta::hours(1),
            flagged_at: a_week_ago(),
        });
    let ahead = t0() + MAX_CALL_AHEAD + TimeDelta::minutes(1);
    let p = ProposeAlternative { occurred: Some(Occurred { at: ahead, now: t0() }), ..proposal(2) };
    given::<Purchase>(events)
        .when(PurchaseCommand::ProposeAlternative(p))
        .then_expect_error(PurchaseError::OccurredInFuture { occurred_at: ahead, now: t0() });
}

#[test]
fn given_a_late_entry_when_it_is_decided_after_the_fact_then_the_decision_says_when() {
    let approve = PurchaseCommand::Approve { note: None, occurred: dated(30) };
    let then = given::<Purchase>(called_and_offered()).when(approve);
    let approved =
        PurchaseApproved { note: None, alternative_id: None, occurred_at: dated(30).map(|o| o.at) };
    assert_eq!(then.decision().events, vec![approved.into()]);
    let closed = then.then_apply_at(t0()).state().closed_at;
    assert_eq!(closed, Some(a_week_ago() + TimeDelta::hours(30)), "closed when it took place");

    let cancel =
        PurchaseCommand::Cancel { reason: long("Took the catalog model"), occurred: dated(4) };
    let then = given::<Purchase>(called_and_offered()).when(cancel);
    let [PurchaseEvent::Cancelled(c)] = &then.decision().events[..] else { panic!() };
    assert_eq!(c.occurred_at, dated(4).map(|o| o.at));

    let accept = PurchaseCommand::AcceptAlternative {
        alternative_id: Uuid::from_u128(2),
        occurred: dated(5),
    };
    let then = given::<Purchase>(called_and_offered()).when(accept);
    let [PurchaseEvent::AlternativeAccepted(_), PurchaseEvent::Approved(a)] =
        &then.decision().events[..]
    else {
        panic!()
    };
    assert_eq!(a.occurred_at, dated(5).map(|o| o.at), "the approval that ends it says when");
}

#[test]
fn given_a_late_entry_when_a_decision_is_dated_out_of_bounds_or_order_then_it_is_refused() {
    // Before the flag, in the future.
    let err = given::<Purchase>(called_and_offered())
        .when(PurchaseCommand::Approve { note: None, occurred: dated(-1) })
        .then_expect_error(PurchaseError::OccurredBeforeFlag {
            occurred_at: a_week_ago() - TimeDelta::hours(1),
            flagged_at: a_week_ago(),
        });
    assert_eq!(err.slug(), "occurred-before-flag");
    let ahead = Some(Occurred { at: t0() + TimeDelta::hours(1), now: t0() });
    given::<Purchase>(called_and_offered())
        .when(PurchaseCommand::Approve { note: None, occurred: ahead })
        .then_expect_error(PurchaseError::OccurredInFuture {
            occurred_at: t0() + TimeDelta::hours(1),
            now: t0(),
        });
    // A cancellation dated before the call that reached the requester, or before the
    // alternative: call before cancel would not have been kept then.
    let err = given::<Purchase>(called_and_offered())
        .when(PurchaseCommand::Cancel { reason: long("Not needed"), occurred: dated(1) })
        .then_expect_error(PurchaseError::OccurredOutOfOrder {
            occurred_at: a_week_ago() + TimeDelta::hours(1),
            step: "alternative",
            step_at: a_week_ago() + TimeDelta::hours(3),
        });
    assert_eq!(err.slug(), "occurred-out-of-order");
    let accept = PurchaseCommand::AcceptAlternative {
        alternative_id: Uuid::from_u128(2),
        occurred: dated(2),
    };
    given::<Purchase>(called_and_offered()).when(accept).then_expect_error(
        PurchaseError::OccurredOutOfOrder {
            occurred_at: a_week_ago() + TimeDelta::hours(2),
            step: "alternative",
            step_at: a_week_ago() + TimeDelta::hours(3),
        },
    );
    // The rules come first: a purchase not yet called is still `call-required`.
    given::<Purchase>(entered_a_week_late())
        .when(PurchaseCommand::Cancel { reason: long("Not needed"), occurred: dated(4) })
        .then_expect_error(PurchaseError::CallRequired {
            reached_call: false,
            alternative_proposed: false,
        });
}
