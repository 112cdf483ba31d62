use chrono::NaiveDate;

use super::*;
use crate::gate::{
    CallLogged, PurchaseApproved, PurchaseDecided, PurchaseSubmitted, WaitingOnRequester,
};
use crate::values::{LongText, ShortText};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Chicago, 08:00–17:00 on weekdays; first contact 120, decision 960, outreach 480 business
/// minutes (30 for the first contact of a card purchase); warnings at 50 and 75%; breaches
/// escalated to the CTO.
fn district() -> District {
    let mut district = District::default();
    let set = crate::testing::district_set("America/Chicago");
    let targets = crate::district::tests::targets(120);
    district.apply(&set.into(), 1, t("2024-09-01T00:00:00Z"));
    district.apply(&targets.into(), 2, t("2024-09-01T00:00:00Z"));
    district
}

fn with_closure(mut district: District, date: &str) -> District {
    let closure = crate::district::ClosureAdded {
        date: date.parse::<NaiveDate>().unwrap(),
        reason: ShortText::parse("Snow day").unwrap(),
    };
    district.apply(&closure.into(), district.version + 1, t("2024-09-08T00:00:00Z"));
    district
}

const PURCHASE: Uuid = Uuid::from_u128(42);

fn submitted(method: PaymentMethod) -> PurchaseEvent {
    let submitted = crate::testing::submitted(PURCHASE);
    PurchaseSubmitted { payment_method: method, request_hash: "00".repeat(32), ..submitted }.into()
}

fn decided(decision: Decision) -> PurchaseEvent {
    PurchaseDecided { decision, reasons: vec![], policy_version: 1, school_gated: true }.into()
}

fn call(reached: bool, occurred_at: &str) -> PurchaseEvent {
    CallLogged {
        call_id: Uuid::new_v4(),
        requester_reached: reached,
        goal: reached.then(|| LongText::parse("Tablets for the reading group").unwrap()),
        notes: None,
        occurred_at: t(occurred_at),
        spoke_with: None,
    }
    .into()
}

fn approved() -> PurchaseEvent {
    PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into()
}

/// Friday 6 September 2024, 15:30 CDT.
const FRIDAY_AFTERNOON: &str = "2024-09-06T20:30:00Z";

/// A purchase paid by `method`, decided `decision` on Friday afternoon, then `more` (each
/// recorded when it says).
fn purchase(
    method: PaymentMethod,
    decision: Decision,
    more: &[(PurchaseEvent, &str)],
) -> PurchaseClocks {
    let mut clocks = PurchaseClocks::default();
    clocks.apply(&submitted(method), t(FRIDAY_AFTERNOON));
    clocks.apply(&decided(decision), t(FRIDAY_AFTERNOON));
    for (event, at) in more {
        clocks.apply(event, t(at));
    }
    clocks
}

fn held(more: &[(PurchaseEvent, &str)]) -> PurchaseClocks {
    purchase(PaymentMethod::PurchaseOrder, Decision::Held, more)
}

fn clock(status: &SlaStatus, kind: ClockKind) -> &ClockStatus {
    status.clocks.iter().find(|c| c.clock == kind).unwrap()
}

#[test]
fn a_friday_afternoon_flag_is_due_monday_morning() {
    let status = held(&[]).status(&district(), t("2024-09-06T21:00:00Z")).unwrap();
    // 90 minutes on Friday, 30 on Monday from 08:00 CDT.
    assert_eq!(status.first_contact_due_at, Some(t("2024-09-09T13:30:00Z")));
    // 630 minutes by Monday's close, 330 more on Tuesday: 13:30 CDT.
    assert_eq!(status.decision_due_at, Some(t("2024-09-10T18:30:00Z")));
    assert_eq!(status.state, SlaState::OnTrack);
    assert_eq!(status.business_minutes_left, Some(90));
    assert_eq!(status.next_due_at, status.first_contact_due_at);
    assert!(!status.paused);
    assert_eq!(clock(&status, ClockKind::Decision).business_minutes_left, 930);
}

#[test]
fn a_snow_day_moves_every_open_deadline() {
    let snowed = with_closure(district(), "2024-09-09");
    let status = held(&[]).status(&snowed, t("2024-09-06T21:00:00Z")).unwrap();
    assert_eq!(status.first_contact_due_at, Some(t("2024-09-10T13:30:00Z")));
    assert_eq!(status.decision_due_at, Some(t("2024-09-11T18:30:00Z")));
}

#[test]
fn warnings_and_breaches_follow_business_time() {
    let d = district();
    let state = |at: &str| held(&[]).status(&d, t(at)).unwrap().state;
    assert_eq!(state("2024-09-06T21:29:59Z"), SlaState::OnTrack);
    assert_eq!(state("2024-09-06T21:30:00Z"), SlaState::Warning, "50% of 120 minutes");
    // Over the weekend nothing moves.
    let sunday = held(&[]).status(&d, t("2024-09-08T12:00:00Z")).unwrap();
    assert_eq!((sunday.state, sunday.business_minutes_left), (SlaState::Warning, Some(30)));
    assert_eq!(state("2024-09-09T13:30:00Z"), SlaState::Breached);
    let late = held(&[]).status(&d, t("2024-09-09T14:00:00Z")).unwrap();
    assert_eq!(late.business_minutes_left, Some(-30));
}

#[test]
fn a_call_before_the_deadline_meets_the_first_contact() {
    let d = district();
    let called = held(&[(call(true, "2024-09-09T13:00:00Z"), "2024-09-09T13:05:00Z")]);
    let status = called.status(&d, t("2024-09-09T15:00:00Z")).unwrap();
    let first = clock(&status, ClockKind::FirstContact);
    assert_eq!((first.state, first.stopped_at), (SlaState::Met, Some(t("2024-09-09T13:00:00Z"))));
    assert_eq!(first.business_minutes_used, 90);
    // The decision clock runs on: 210 of 960 minutes used.
    assert_eq!(status.state, SlaState::OnTrack);
    assert_eq!(status.next_due_at, status.decision_due_at);
}

#[test]
fn a_late_call_breaches_and_a_decision_meets_the_rest() {
    let d = district();
    let late = held(&[(call(true, "2024-09-09T14:00:00Z"), "2024-09-09T14:00:00Z")]);
    let status = late.status(&d, t("2024-09-09T15:00:00Z")).unwrap();
    assert_eq!(clock(&status, ClockKind::FirstContact).state, SlaState::Breached);
    assert_eq!(status.state, SlaState::Breached);

    let done = held(&[
        (call(true, "2024-09-09T13:00:00Z"), "2024-09-09T13:00:00Z"),
        (approved(), "2024-09-09T15:00:00Z"),
    ]);
    let status = done.status(&d, t("2024-09-12T00:00:00Z")).unwrap();
    assert_eq!(status.state, SlaState::Met);
    assert_eq!((status.business_minutes_left, status.next_due_at), (None, None));
    // Approved without a call: the first contact is not needed any more.
    let approved_at_once = held(&[(approved(), "2024-09-06T21:00:00Z")]);
    let status = approved_at_once.status(&d, t("2024-09-12T00:00:00Z")).unwrap();
    assert_eq!(status.state, SlaState::Met);
}

#[test]
fn waiting_on_the_requester_pauses_the_decision_clock() {
    let d = district();
    // Monday 08:00 CDT: no answer; the requester calls back at 11:00 CDT.
    let unanswered = (call(false, "2024-09-09T13:00:00Z"), "2024-09-09T13:00:00Z");
    let waiting = held(std::slice::from_ref(&unanswered));
    let status = waiting.status(&d, t("2024-09-09T15:00:00Z")).unwrap();
    assert!(status.paused);
    assert_eq!(status.decision_due_at, None, "no due time while waiting");
    let decision = clock(&status, ClockKind::Decision);
    assert_eq!(decision.business_minutes_used, 90, "Friday only");
    assert_eq!(clock(&status, ClockKind::FirstContact).state, SlaState::Met);

    let answered =
        held(&[unanswered, (call(true, "2024-09-09T16:00:00Z"), "2024-09-09T16:00:00Z")]);
    let status = answered.status(&d, t("2024-09-09T17:00:00Z")).unwrap();
    assert!(!status.paused);
    // Three business hours later than without the wait: Tuesday 16:30 CDT.
    assert_eq!(status.decision_due_at, Some(t("2024-09-10T21:30:00Z")));
    assert_eq!(clock(&status, ClockKind::Decision).business_minutes_used, 90 + 60);
}

#[test]
fn an_explicit_wait_on_the_requester_pauses_the_decision_clock_like_an_unanswered_call() {
    let d = district();
    // Monday 08:00 CDT: IT reached the requester, who will send the quote; it arrives with
    // their call at 11:00 CDT. The wait counts as the unanswered call above did.
    let reached = (call(true, "2024-09-09T13:00:00Z"), "2024-09-09T13:00:00Z");
    let wait = WaitingOnRequester {
        note: LongText::parse("The quote from the vendor").unwrap(),
        since: t("2024-09-09T13:00:00Z"),
    };
    let waiting = held(&[reached.clone(), (wait.clone().into(), "2024-09-09T13:00:00Z")]);
    let status = waiting.status(&d, t("2024-09-09T15:00:00Z")).unwrap();
    assert!(status.paused);
    assert_eq!(status.decision_due_at, None, "no due time while waiting");
    let answered = held(&[
        reached,
        (wait.into(), "2024-09-09T13:00:00Z"),
        (call(true, "2024-09-09T16:00:00Z"), "2024-09-09T16:00:00Z"),
    ]);
    let status = answered.status(&d, t("2024-09-09T17:00:00Z")).unwrap();
    assert!(!status.paused);
    assert_eq!(status.decision_due_at, Some(t("2024-09-10T21:30:00Z")), "three hours later");
}

#[test]
fn the_scheduler_records_each_threshold_once_with_its_time() {
    let d = district();
    let mut clocks = held(&[]);
    let events = clocks.due_events(&d, t("2024-09-09T14:00:00Z"));
    let summary: Vec<(&str, ClockKind, DateTime<Utc>)> =
        events.iter().map(|e| (e.event_type(), e.clock(), e.at())).collect();
    use ClockKind::FirstContact;
    assert_eq!(
        summary,
        vec![
            ("purchase-sla-warning", FirstContact, t("2024-09-06T21:30:00Z")),
            ("purchase-sla-warning", FirstContact, t("2024-09-06T22:00:00Z")),
            ("purchase-sla-breached", FirstContact, t("2024-09-09T13:30:00Z")),
            ("purchase-escalated", FirstContact, t("2024-09-09T13:30:00Z")),
        ]
    );
    let SlaEvent::Breached(breach) = &events[2] else { panic!() };
    assert_eq!((breach.target_minutes.get(), breach.district_version), (120, 2));
    let SlaEvent::Escalated(escalation) = &events[3] else { panic!() };
    assert_eq!(escalation.escalate_to.as_str(), "cto@district.org");

    for event in &events {
        clocks.apply_recorded(event);
    }
    assert!(clocks.due_events(&d, t("2024-09-09T14:00:00Z")).is_empty(), "once");
    // Next: the decision clock's 50%, 480 minutes in: Monday 14:30 CDT.
    assert_eq!(clocks.next_wake(&d), Some(t("2024-09-09T19:30:00Z")));
}

#[test]
fn catching_up_records_only_what_happened_while_the_clock_ran() {
    // Called on Friday at 16:45 CDT, after the 50% warning, before the 75% one; the scheduler
    // was down until Monday.
    let d = district();
    let called = held(&[(call(true, "2024-09-06T21:45:00Z"), "2024-09-06T21:46:00Z")]);
    let events = called.due_events(&d, t("2024-09-09T14:00:00Z"));
    assert_eq!(events.len(), 1, "{events:?}");
    let SlaEvent::Warning(w) = &events[0] else { panic!() };
    assert_eq!(
        (w.clock, w.percent, w.warned_at),
        (ClockKind::FirstContact, 50, t("2024-09-06T21:30:00Z"))
    );
    assert_eq!(w.due_at, Some(t("2024-09-09T13:30:00Z")));
}

#[test]
fn a_card_purchase_has_its_own_targets() {
    let card = purchase(PaymentMethod::PCard, Decision::Held, &[]);
    let status = card.status(&district(), t(FRIDAY_AFTERNOON)).unwrap();
    assert_eq!(status.first_contact_due_at, Some(t("2024-09-06T21:00:00Z")));
    assert_eq!(status.decision_due_at, Some(t("2024-09-10T18:30:00Z")), "the default");
}

#[test]
fn an_advisory_purchase_has_one_clock_for_the_outreach() {
    let advisory = purchase(PaymentMethod::PurchaseOrder, Decision::Advisory, &[]);
    let status = advisory.status(&district(), t(FRIDAY_AFTERNOON)).unwrap();
    assert_eq!(status.clocks.len(), 1);
    assert_eq!(status.clocks[0].clock, ClockKind::AdvisoryOutreach);
    // 90 on Friday, 390 on Monday: 14:30 CDT.
    assert_eq!(status.first_contact_due_at, Some(t("2024-09-09T19:30:00Z")));
    assert_eq!(status.decision_due_at, None);
}

#[test]
fn a_purchase_stops_when_resolved_or_when_called_if_advisory() {
    assert!(!held(&[]).stopped());
    assert!(!held(&[(call(true, "2024-09-09T13:00:00Z"), "2024-09-09T13:00:00Z")]).stopped());
    assert!(held(&[(approved(), "2024-09-09T13:00:00Z")]).stopped());
    let advisory = |more: &[(PurchaseEvent, &str)]| {
        purchase(PaymentMethod::PurchaseOrder, Decision::Advisory, more)
    };
    assert!(!advisory(&[]).stopped());
    assert!(advisory(&[(call(false, "2024-09-09T13:00:00Z"), "2024-09-09T13:00:00Z")]).stopped());
    assert!(!PurchaseClocks::default().stopped());
}

#[test]
fn no_clocks_without_a_flag_or_without_targets() {
    let approved = purchase(PaymentMethod::PurchaseOrder, Decision::Approved, &[]);
    assert!(approved.status(&district(), t(FRIDAY_AFTERNOON)).is_none());
    assert!(approved.due_events(&district(), t("2025-01-01T00:00:00Z")).is_empty());
    assert!(held(&[]).status(&District::default(), t(FRIDAY_AFTERNOON)).is_none());
    assert_eq!(held(&[]).next_wake(&District::default()), None);
}

#[test]
fn event_ids_are_deterministic_and_distinct() {
    let d = district();
    let events = held(&[]).due_events(&d, t("2024-09-20T00:00:00Z"));
    let again = held(&[]).due_events(&d, t("2024-09-21T00:00:00Z"));
    let ids: Vec<Uuid> = events.iter().map(SlaEvent::event_id).collect();
    assert_eq!(ids, again.iter().map(SlaEvent::event_id).collect::<Vec<_>>());
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(events.len(), 2 * 4, "two clocks, each: two warnings, a breach, an escalation");
    assert_eq!(SlaEvent::EVENT_TYPES[..2], [WARNING, BREACHED]);
    // A snow day moves the due time, not the identity of the breach.
    let snowed = with_closure(d, "2024-09-09");
    let moved = held(&[]).due_events(&snowed, t("2024-09-21T00:00:00Z"));
    assert_eq!(moved.iter().map(SlaEvent::event_id).collect::<Vec<_>>(), ids);
}

#[test]
fn a_calendar_change_records_each_running_clock_it_moved() {
    let before = district();
    let after = with_closure(before.clone(), "2024-09-09");
    let moved = held(&[]).rescheduled(&before, &after);
    let summary: Vec<_> = moved
        .iter()
        .map(|e| match e {
            SlaEvent::Rescheduled(r) => (r.clock, r.previous_due_at, r.due_at, r.district_version),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                ClockKind::FirstContact,
                Some(t("2024-09-09T13:30:00Z")),
                Some(t("2024-09-10T13:30:00Z")),
                3
            ),
            (
                ClockKind::Decision,
                Some(t("2024-09-10T18:30:00Z")),
                Some(t("2024-09-11T18:30:00Z")),
                3
            ),
        ]
    );
    // Ids per calendar version: lifting the closure is another record.
    let lifted = {
        let mut d = after.clone();
        let reopened = crate::district::ClosureRemoved { date: "2024-09-09".parse().unwrap() };
        d.apply(&reopened.into(), 4, t("2024-09-08T01:00:00Z"));
        d
    };
    let back = held(&[]).rescheduled(&after, &lifted);
    assert_eq!(back.len(), 2);
    assert_ne!(back[0].event_id(), moved[0].event_id());
    // A stopped clock is not moved; a change that moves nothing records nothing.
    let called = held(&[(call(true, "2024-09-06T21:00:00Z"), "2024-09-06T21:00:00Z")]);
    let only_decision = called.rescheduled(&before, &after);
    assert_eq!(only_decision.len(), 1);
    let far = with_closure(before.clone(), "2025-01-01");
    assert!(held(&[]).rescheduled(&before, &far).is_empty());
    assert!(held(&[]).rescheduled(&District::default(), &before).is_empty(), "clocks started");
    for event in moved {
        assert_eq!(SlaEvent::from_parts(event.event_type(), &event.to_data()).unwrap(), event);
    }
}

#[test]
fn the_fold_round_trips_in_a_document() {
    let clocks = held(&[(call(false, "2024-09-09T13:00:00Z"), "2024-09-09T13:00:00Z")]);
    let json = serde_json::to_value(&clocks).unwrap();
    assert_eq!(serde_json::from_value::<PurchaseClocks>(json).unwrap(), clocks);
    assert_eq!(serde_json::to_value(PurchaseClocks::default()).unwrap(), serde_json::json!({}));
}

#[test]
fn events_round_trip() {
    let events = held(&[]).due_events(&district(), t("2024-09-20T00:00:00Z"));
    for event in events {
        let back = SlaEvent::from_parts(event.event_type(), &event.to_data()).unwrap();
        assert_eq!(back, event);
    }
    assert_eq!(sla_stream(PURCHASE), format!("sla-{PURCHASE}"));
    assert_eq!(SlaEvent::CATEGORY, SLA_CATEGORY);
}

mod property {
    use proptest::prelude::*;

    use super::*;

    /// Calls (reached or not) at minutes after the flag.
    fn calls() -> impl Strategy<Value = Vec<(bool, i64)>> {
        proptest::collection::vec((any::<bool>(), 0i64..6000), 0..5)
    }

    proptest! {
        #[test]
        fn what_is_due_is_recorded_once_and_the_next_wake_is_later(
            calls in calls(), resolved in proptest::option::of(0i64..8000), now in 0i64..10000,
            advisory in any::<bool>(),
        ) {
            let d = district();
            let flag = t(FRIDAY_AFTERNOON);
            let at = |m: i64| flag + TimeDelta::minutes(m);
            let decision = if advisory { Decision::Advisory } else { Decision::Held };
            let mut clocks = purchase(PaymentMethod::PurchaseOrder, decision, &[]);
            for (reached, m) in &calls {
                let event = CallLogged {
                    call_id: Uuid::nil(),
                    requester_reached: *reached,
                    goal: None,
                    notes: None,
                    occurred_at: at(*m),
                    spoke_with: None,
                };
                clocks.apply(&event.into(), at(*m));
            }
            if let Some(m) = resolved {
                clocks.apply(&approved(), at(m));
            }
            let now = at(now);
            let due = clocks.due_events(&d, now);
            prop_assert!(due.iter().all(|e| e.at() <= now));
            prop_assert!(due.windows(2).all(|w| w[0].at() <= w[1].at()));
            for event in &due {
                clocks.apply_recorded(event);
            }
            prop_assert!(clocks.due_events(&d, now).is_empty());
            prop_assert!(clocks.next_wake(&d).is_none_or(|w| w > now));
            // A breach recorded means the status says breached, and the other way round for a
            // clock that stopped.
            let status = clocks.status(&d, now).unwrap();
            for c in &status.clocks {
                let breached = due.iter().any(|e| matches!(e, SlaEvent::Breached(b) if b.clock == c.clock));
                if breached {
                    prop_assert_eq!(c.state, SlaState::Breached);
                }
            }
        }
    }
}

mod entered_late;
