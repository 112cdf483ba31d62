use uuid::Uuid;

use super::fixtures::*;
use super::*;

/// Whether the cancellation of a held purchase with `calls` (flagged at 10 minutes after
/// t0) and an alternative counts as honouring call before cancel.
fn honoured_with(calls: Vec<(PurchaseEvent, i64)>) -> Option<bool> {
    let id = Uuid::from_u128(1);
    let mut history = vec![(submitted(id), 10), (held(), 10)];
    history.extend(calls);
    history.extend([(alternative(), 40), (cancelled(), 50)]);
    let docs = held_documents(&recorded(id, 1, &history));
    let doc = &docs[&id.to_string()];
    assert_eq!(doc.flagged_at, Some(at(10)));
    assert_eq!(doc.resolution, Some(PurchaseStatus::Cancelled));
    doc.call_and_alternative_first
}

#[test]
fn a_cancellation_after_a_reached_call_with_the_goal_and_an_alternative_is_honoured() {
    assert_eq!(honoured_with(vec![(reached(20, true), 30)]), Some(true));
}

#[test]
fn a_cancellation_is_judged_by_the_gates_rule() {
    // No goal recorded, or the call took place before the flag: not what the gate asks.
    assert_eq!(honoured_with(vec![(reached(20, false), 30)]), Some(false));
    assert_eq!(honoured_with(vec![(reached(5, true), 30)]), Some(false));
    assert_eq!(honoured_with(vec![]), Some(false));
    // The first reached call is still the response time's, goal or not.
    let id = Uuid::from_u128(2);
    let history = [(submitted(id), 10), (held(), 10), (reached(20, false), 30)];
    let docs = held_documents(&recorded(id, 1, &history));
    assert_eq!(docs[&id.to_string()].first_reached_at, Some(at(20)));
}

#[test]
fn a_purchase_entered_after_the_fact_counts_from_when_it_took_place() {
    // Requested three days before t0 and entered at t0, called and cancelled after the
    // fact, all entered within the hour.
    let id = Uuid::from_u128(3);
    let PurchaseEvent::Submitted(mut check) = submitted(id) else { unreachable!() };
    check.requested_at = Some(at(-3 * 24 * 60));
    let cancelled = events::gate::PurchaseCancelled {
        reason: long("Not needed"),
        occurred_at: Some(at(-2 * 24 * 60)),
    };
    let history = [
        (check.into(), 0),
        (held(), 0),
        (reached(-3 * 24 * 60 + 60, true), 10),
        (alternative(), 20),
        (cancelled.into(), 30),
    ];
    let events = recorded(id, 1, &history);
    let docs = held_documents(&events);
    let doc = &docs[&id.to_string()];
    assert_eq!(doc.flagged_at, Some(at(-3 * 24 * 60)));
    assert_eq!(doc.resolved_at, Some(at(-2 * 24 * 60)));
    assert_eq!(doc.call_and_alternative_first, Some(true));
    // Its spend counts on the day it was requested (in UTC's calendar: the district set
    // none), kept in the partition of that day.
    let store = kernel::testing::project(&*Purchases::default().into_projection(), &events);
    let requested = at(-3 * 24 * 60).date_naive();
    let spend: SpendDoc =
        serde_json::from_value(store[&DocKey::new(SPEND, requested.to_string())].clone()).unwrap();
    assert_eq!(spend.by_day.keys().copied().collect::<Vec<_>>(), [requested]);
    assert_eq!(spend.by_day[&requested]["USD"].technology_checks, 0);
    assert_eq!(spend.by_day[&requested]["USD"].checks, 1);
    let json = serde_json::to_value(&spend).unwrap();
    assert_eq!(serde_json::from_value::<SpendDoc>(json).unwrap(), spend, "round trips");
}

#[test]
fn spend_counts_on_the_districts_day_in_its_time_zone_when_decided() {
    // Chicago: 2024-09-02T03:00Z is 22:00 on 1 September.
    let id = Uuid::from_u128(4);
    let mut events = district_log(1, chicago_settings_with_labor_day());
    events.extend(recorded(id, 5, &[(submitted(id), -6 * 60), (held(), -6 * 60)]));
    let store = kernel::testing::project(&*Purchases::default().into_projection(), &events);
    let spend: SpendDoc =
        serde_json::from_value(store[&DocKey::new(SPEND, "2024-09-01")].clone()).unwrap();
    let sunday: NaiveDate = "2024-09-01".parse().unwrap();
    assert_eq!(spend.by_day.keys().copied().collect::<Vec<_>>(), [sunday]);
}
