//! A purchase entered after the fact: its clocks run from when it was requested and stop when
//! IT's decision took place, and the scheduler records only what a clock still running passed,
//! once the purchase's history has had [`ENTRY_GRACE`] to come in.

use super::*;
use crate::gate::{AlternativeAccepted, AlternativeProposed, PurchaseCancelled};

/// Requested on Friday afternoon (15:30 CDT), a week before the log recorded the check.
const ENTERED: &str = "2024-09-13T15:00:00Z";

fn requested(method: PaymentMethod) -> PurchaseEvent {
    let PurchaseEvent::Submitted(mut s) = submitted(method) else { unreachable!() };
    s.requested_at = Some(t(FRIDAY_AFTERNOON));
    s.into()
}

/// A held purchase requested on Friday afternoon, entered a week later, then `more`.
fn entered_late(more: &[(PurchaseEvent, &str)]) -> PurchaseClocks {
    let mut clocks = PurchaseClocks::default();
    clocks.apply(&requested(PaymentMethod::PurchaseOrder), t(ENTERED));
    clocks.apply(&decided(Decision::Held), t(ENTERED));
    for (event, at) in more {
        clocks.apply(event, t(at));
    }
    clocks
}

fn approved_at(at: &str) -> PurchaseEvent {
    PurchaseApproved { note: None, alternative_id: None, occurred_at: Some(t(at)) }.into()
}

fn kinds(events: &[SlaEvent]) -> Vec<(&'static str, ClockKind, DateTime<Utc>)> {
    events.iter().map(|e| (e.event_type(), e.clock(), e.at())).collect()
}

#[test]
fn given_each_event_when_asked_when_it_took_place_then_its_own_time_else_its_recording() {
    let recorded = t(ENTERED);
    let requested_at = Some(t(FRIDAY_AFTERNOON));
    let took_place = |event: &PurchaseEvent, requested| took_place_at(event, recorded, requested);
    // The check and the flagging decision: when the purchase was requested, if it says.
    assert_eq!(took_place(&requested(PaymentMethod::PCard), None), t(FRIDAY_AFTERNOON));
    assert_eq!(took_place(&submitted(PaymentMethod::PCard), None), recorded);
    assert_eq!(took_place(&decided(Decision::Held), requested_at), t(FRIDAY_AFTERNOON));
    assert_eq!(took_place(&decided(Decision::Held), None), recorded);
    // Calls and waits always say; IT's steps when logged after the fact.
    let call = call(true, "2024-09-09T13:00:00Z");
    assert_eq!(took_place(&call, requested_at), t("2024-09-09T13:00:00Z"));
    let wait = WaitingOnRequester {
        note: LongText::parse("The quote").unwrap(),
        since: t("2024-09-09T14:00:00Z"),
    };
    assert_eq!(took_place(&wait.into(), None), t("2024-09-09T14:00:00Z"));
    assert_eq!(took_place(&approved_at("2024-09-10T15:00:00Z"), None), t("2024-09-10T15:00:00Z"));
    assert_eq!(took_place(&approved(), requested_at), recorded);
    let cancelled = PurchaseCancelled {
        reason: LongText::parse("Not needed").unwrap(),
        occurred_at: Some(t("2024-09-11T15:00:00Z")),
    };
    assert_eq!(took_place(&cancelled.into(), None), t("2024-09-11T15:00:00Z"));
    let proposed = AlternativeProposed {
        alternative_id: Uuid::from_u128(2),
        description: LongText::parse("The catalog model").unwrap(),
        lines: vec![],
        call_id: None,
        assessment: None,
        occurred_at: Some(t("2024-09-09T13:10:00Z")),
    };
    assert_eq!(took_place(&proposed.into(), None), t("2024-09-09T13:10:00Z"));
    let accepted = AlternativeAccepted { alternative_id: Uuid::from_u128(2) };
    assert_eq!(took_place(&accepted.into(), requested_at), recorded);
    // A check whose clock ran a few minutes ahead was requested when it arrived, not later:
    // an alternative proposed at once is not before the flag.
    let ahead = Some(recorded + TimeDelta::minutes(4));
    let PurchaseEvent::Submitted(mut early) = submitted(PaymentMethod::PCard) else {
        unreachable!()
    };
    early.requested_at = ahead;
    assert_eq!(took_place(&early.into(), None), recorded);
    assert_eq!(took_place(&decided(Decision::Held), ahead), recorded);
}

#[test]
fn given_a_purchase_entered_a_week_late_when_judged_then_its_clocks_ran_from_the_request() {
    // Called on Monday at 08:00 CDT, approved on Tuesday at 09:00 CDT: both in time.
    let clocks = entered_late(&[
        (call(true, "2024-09-09T13:00:00Z"), ENTERED),
        (approved_at("2024-09-10T14:00:00Z"), ENTERED),
    ]);
    let status = clocks.status(&district(), t(ENTERED)).unwrap();
    assert_eq!(status.first_contact_due_at, Some(t("2024-09-09T13:30:00Z")));
    assert_eq!(status.decision_due_at, Some(t("2024-09-10T18:30:00Z")));
    assert_eq!(status.state, SlaState::Met);
    let decision = clock(&status, ClockKind::Decision);
    assert_eq!(decision.stopped_at, Some(t("2024-09-10T14:00:00Z")));
    // 90 minutes on Friday, 540 on Monday, 60 on Tuesday.
    assert_eq!(decision.business_minutes_used, 90 + 540 + 60);
    // A decision a day later than its due time breached it.
    let late = entered_late(&[
        (call(true, "2024-09-09T13:00:00Z"), ENTERED),
        (approved_at("2024-09-11T18:30:00Z"), ENTERED),
    ]);
    let status = late.status(&district(), t(ENTERED)).unwrap();
    assert_eq!(clock(&status, ClockKind::Decision).state, SlaState::Breached);
    assert_eq!(clock(&status, ClockKind::FirstContact).state, SlaState::Met);
}

#[test]
fn given_targets_set_after_the_request_when_entered_later_then_they_judge_it_from_the_request() {
    // The district set its targets on 1 September; a purchase requested in August and entered
    // in September is judged by them, from its request.
    let mut clocks = PurchaseClocks::default();
    let PurchaseEvent::Submitted(mut s) = submitted(PaymentMethod::PurchaseOrder) else {
        unreachable!()
    };
    s.requested_at = Some(t("2024-08-30T20:30:00Z"));
    clocks.apply(&s.into(), t(ENTERED));
    clocks.apply(&decided(Decision::Held), t(ENTERED));
    let status = clocks.status(&district(), t(ENTERED)).unwrap();
    assert_eq!(clock(&status, ClockKind::FirstContact).started_at, t("2024-08-30T20:30:00Z"));
    assert_eq!(status.state, SlaState::Breached, "no call in two weeks");
}

#[test]
fn given_a_late_entry_within_its_grace_when_the_scheduler_looks_then_nothing_is_due_yet() {
    let d = district();
    let clocks = entered_late(&[]);
    let entered = t(ENTERED);
    assert!(clocks.due_events(&d, entered).is_empty());
    assert!(clocks.due_events(&d, entered + ENTRY_GRACE - TimeDelta::seconds(1)).is_empty());
    assert_eq!(clocks.next_wake(&d), Some(entered + ENTRY_GRACE));
}

#[test]
fn given_a_late_entry_left_open_when_its_grace_is_over_then_each_breach_is_recorded_once_with_its_due_time()
 {
    let d = district();
    let mut clocks = entered_late(&[]);
    let after_grace = t(ENTERED) + ENTRY_GRACE;
    let events = clocks.due_events(&d, after_grace);
    use ClockKind::{Decision as D, FirstContact as F};
    assert_eq!(
        kinds(&events),
        vec![
            ("purchase-sla-warning", F, t("2024-09-06T21:30:00Z")),
            ("purchase-sla-warning", F, t("2024-09-06T22:00:00Z")),
            ("purchase-sla-breached", F, t("2024-09-09T13:30:00Z")),
            ("purchase-escalated", F, t("2024-09-09T13:30:00Z")),
            ("purchase-sla-warning", D, t("2024-09-09T19:30:00Z")),
            ("purchase-sla-warning", D, t("2024-09-10T14:30:00Z")),
            ("purchase-sla-breached", D, t("2024-09-10T18:30:00Z")),
            ("purchase-escalated", D, t("2024-09-10T18:30:00Z")),
        ]
    );
    for event in &events {
        clocks.apply_recorded(event);
    }
    assert!(clocks.due_events(&d, after_grace + TimeDelta::days(1)).is_empty(), "once");
    assert_eq!(clocks.next_wake(&d), None);
}

#[test]
fn given_a_late_entry_whose_history_came_in_time_when_its_grace_is_over_then_only_what_ran_past_is_recorded()
 {
    let d = district();
    let after_grace = t(ENTERED) + ENTRY_GRACE;
    // Called in time, decided in time: only the warnings the clocks really passed.
    let in_time = entered_late(&[
        (call(true, "2024-09-09T13:00:00Z"), ENTERED),
        (approved_at("2024-09-10T14:00:00Z"), ENTERED),
    ]);
    use ClockKind::{Decision as D, FirstContact as F};
    assert_eq!(
        kinds(&in_time.due_events(&d, after_grace)),
        vec![
            ("purchase-sla-warning", F, t("2024-09-06T21:30:00Z")),
            ("purchase-sla-warning", F, t("2024-09-06T22:00:00Z")),
            ("purchase-sla-warning", D, t("2024-09-09T19:30:00Z")),
        ]
    );
    assert_eq!(in_time.next_wake(&d), Some(after_grace));
    // Called late, decided in time: the first contact's breach, and nothing of the decision's.
    let called_late = entered_late(&[
        (call(true, "2024-09-09T15:00:00Z"), ENTERED),
        (approved_at("2024-09-09T16:00:00Z"), ENTERED),
    ]);
    let events = called_late.due_events(&d, after_grace);
    assert!(events.iter().any(|e| matches!(e, SlaEvent::Breached(b) if b.clock == F)));
    assert!(!events.iter().any(|e| matches!(e, SlaEvent::Breached(b) if b.clock == D)));
}

#[test]
fn given_a_due_time_minutes_after_a_late_entry_when_it_passes_then_the_history_is_waited_for() {
    // Entered on Monday two minutes before its first contact was due (08:30 CDT); the call
    // that reached the requester at 08:00 is logged a minute after the due time.
    let d = district();
    let entered = t("2024-09-09T13:28:00Z");
    let mut clocks = PurchaseClocks::default();
    clocks.apply(&requested(PaymentMethod::PurchaseOrder), entered);
    clocks.apply(&decided(Decision::Held), entered);
    let breached = |events: &[SlaEvent]| events.iter().any(|e| matches!(e, SlaEvent::Breached(_)));
    let due = t("2024-09-09T13:30:00Z");
    assert!(!breached(&clocks.due_events(&d, due)), "breached before its history could come");
    assert_eq!(clocks.next_wake(&d), Some(entered + ENTRY_GRACE));
    clocks.apply(&call(true, "2024-09-09T13:00:00Z"), t("2024-09-09T13:31:00Z"));
    let events = clocks.due_events(&d, entered + ENTRY_GRACE);
    assert!(!breached(&events), "{:?}", kinds(&events));
    // Left open, it is breached once the grace is over, dated when it was due.
    let mut open = PurchaseClocks::default();
    open.apply(&requested(PaymentMethod::PurchaseOrder), entered);
    open.apply(&decided(Decision::Held), entered);
    let events = open.due_events(&d, entered + ENTRY_GRACE);
    assert!(kinds(&events).contains(&("purchase-sla-breached", ClockKind::FirstContact, due)));
}
