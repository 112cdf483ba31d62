//! The clocks' scheduler: warnings, breaches and escalations written once each, with the time
//! they are about, by any number of instances, and by an instance that starts after the
//! deadline passed.
//!
//! The district works around the clock in UTC, so business time is real time and a one-hour
//! target is due an hour after the flag. Time passes by moving a gate's clock forward: the
//! scheduler of a gate started with [`serve_with`] wakes when its clock moves.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use eventlog::{PgOptions, PgStore, RecordedEvent, Store};
use serde_json::{Value, json};

use crate::common::{Backend, Calls, TestApp, Who, serve_with};

on_both_backends!(
    an_instance_started_after_the_deadline_writes_each_event_once_with_its_time,
    a_call_in_time_and_a_snow_day_keep_the_first_contact_from_breaching,
);

const EVENTS: [&str; 3] = ["purchase-sla-warning", "purchase-sla-breached", "purchase-escalated"];

/// UTC around the clock; first contact in 60 minutes, a decision in 120; a warning at 50%;
/// breaches escalated to the CTO.
async fn around_the_clock(app: &TestApp) {
    app.seed().await;
    let district = json!({
        "name": "Springfield", "time_zone": "UTC",
        "business_hours": {"start": "00:00", "end": "24:00",
                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
    });
    app.put(Who::Admin, "/v1/district", &district).await.expect(200);
    let targets = json!({
        "first_contact_minutes": 60, "decision_minutes": 120, "advisory_outreach_minutes": 60,
        "warn_at_percent": [50], "escalate_to": "cto@district.example",
    });
    app.put(Who::ItStaff, "/v1/sla", &targets).await.expect(200);
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// The clock events in the log, as `(type, clock, the time they are about, purchase)`, sorted.
pub(crate) async fn clock_events(app: &TestApp) -> Vec<(String, String, DateTime<Utc>, String)> {
    let mut all = Vec::new();
    for event_type in EVENTS {
        for e in app.events_of_type(event_type).await {
            let about = e.data.get("warned_at").unwrap_or(&e.data["due_at"]);
            all.push((
                e.event_type.clone(),
                e.data["clock"].as_str().unwrap().to_owned(),
                time(about),
                e.data["purchase_id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    all.sort();
    all
}

/// Waits until the log holds `count` events of `event_type` (panics after 20 s).
pub(crate) async fn wait_for(app: &TestApp, event_type: &str, count: usize) -> Vec<RecordedEvent> {
    for _ in 0..200 {
        let events = app.events_of_type(event_type).await;
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {count} {event_type} events after 20 s: {:?}", clock_events(app).await);
}

async fn an_instance_started_after_the_deadline_writes_each_event_once_with_its_time(app: TestApp) {
    around_the_clock(&app).await;
    let id = app.held_purchase().await;
    let flagged = time(&app.purchase(&id).await["flagged_at"]);

    // The test app's own gate was "stopped" before the deadline (its clock is the real one:
    // its deadlines are an hour away). Another one starts three hours later.
    let clock = gate::Clock::system();
    clock.advance(TimeDelta::hours(3));
    let (base, handle, later) = serve_with(app.store.clone(), clock.clone()).await;
    wait_for(&app, "purchase-escalated", 2).await;

    let minutes = |m: i64| flagged + TimeDelta::minutes(m);
    let expected = |t: &str, clock: &str, at| (t.to_owned(), clock.to_owned(), at, id.clone());
    assert_eq!(
        clock_events(&app).await,
        vec![
            expected("purchase-escalated", "decision", minutes(120)),
            expected("purchase-escalated", "first_contact", minutes(60)),
            expected("purchase-sla-breached", "decision", minutes(120)),
            expected("purchase-sla-breached", "first_contact", minutes(60)),
            expected("purchase-sla-warning", "decision", minutes(60)),
            expected("purchase-sla-warning", "first_contact", minutes(30)),
        ]
    );
    let breach = &app.events_of_type("purchase-sla-breached").await[0];
    assert_eq!(breach.stream, format!("sla-{id}"));
    assert_eq!(breach.metadata.actor.subject, "system:gate");
    assert_eq!(breach.data["target_minutes"], 60);
    let escalation = &app.events_of_type("purchase-escalated").await[0];
    assert_eq!(escalation.data["escalate_to"], "cto@district.example");

    // The purchase, seen through that instance, is breached; more time changes nothing.
    let view = app.client.get(format!("{base}/v1/purchases/{id}"));
    let view =
        crate::common::Reply::read(view.bearer_auth(app.token(Who::ItStaff)).send().await.unwrap())
            .await;
    assert_eq!(view.expect(200)["sla"]["state"], "breached");
    clock.advance(TimeDelta::hours(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(clock_events(&app).await.len(), 6);

    // Stopped and started again, later still: it catches up, and writes nothing twice. A
    // purchase flagged now is overdue at once by its clock: its events show it is at work.
    later.stop_scheduler();
    handle.stop(false).await;
    clock.advance(TimeDelta::hours(1));
    let (_, handle, again) = serve_with(app.store.clone(), clock).await;
    let next = app.held_purchase().await;
    wait_for(&app, "purchase-escalated", 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = clock_events(&app).await;
    assert_eq!(events.iter().filter(|e| e.3 == id).count(), 6, "{events:?}");
    assert_eq!(events.iter().filter(|e| e.3 == next).count(), 6, "{events:?}");
    again.stop_scheduler();
    handle.stop(false).await;
    app.stop().await;
}

async fn a_call_in_time_and_a_snow_day_keep_the_first_contact_from_breaching(app: TestApp) {
    // Not across midnight UTC: "today" must stay today while the purchases are flagged.
    let to_midnight =
        Utc::now().date_naive().succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc()
            - Utc::now();
    if to_midnight < TimeDelta::minutes(1) {
        tokio::time::sleep(to_midnight.to_std().unwrap() + Duration::from_secs(1)).await;
    }
    around_the_clock(&app).await;
    let today = Utc::now().date_naive();
    let path = format!("/v1/district/closures/{today}");
    app.put(Who::ItStaff, &path, &json!({"reason": "Snow day"})).await.expect(200);
    let called = app.held_purchase().await;
    app.reached_call(&called).await;
    let waiting = app.held_purchase().await;
    // Closed today: the clocks start at midnight.
    let midnight = today.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();

    let clock = gate::Clock::system();
    clock.advance(midnight + TimeDelta::minutes(20) - Utc::now());
    let (_, handle, gate) = serve_with(app.store.clone(), clock.clone()).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(clock_events(&app).await, vec![], "20 minutes into tomorrow, nothing is due");

    clock.advance(TimeDelta::minutes(50));
    wait_for(&app, "purchase-escalated", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at = |m: i64| midnight + TimeDelta::minutes(m);
    let event =
        |t: &str, clock: &str, m, id: &str| (t.to_owned(), clock.to_owned(), at(m), id.to_owned());
    let mut expected = vec![
        // The purchase called in time: no first-contact event; its decision's warning.
        event("purchase-sla-warning", "decision", 60, &called),
        // The one waiting: a warning, the breach and its escalation, a day late for the snow.
        event("purchase-escalated", "first_contact", 60, &waiting),
        event("purchase-sla-breached", "first_contact", 60, &waiting),
        event("purchase-sla-warning", "decision", 60, &waiting),
        event("purchase-sla-warning", "first_contact", 30, &waiting),
    ];
    expected.sort();
    assert_eq!(clock_events(&app).await, expected);
    gate.stop_scheduler();
    handle.stop(false).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_write_one_breach() {
    let app = TestApp::spawn(Backend::Postgres).await;
    around_the_clock(&app).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(app.held_purchase().await);
    }
    let url = app.database_url.clone().unwrap();
    let mut instances = Vec::new();
    let clock = gate::Clock::system();
    for _ in 0..2 {
        let store: Store = Arc::new(PgStore::connect(&url, PgOptions::default()).await.unwrap());
        instances.push(serve_with(store, clock.clone()).await);
    }
    // Both instances' clocks pass every deadline at the same moment.
    clock.advance(TimeDelta::hours(3));
    wait_for(&app, "purchase-escalated", 2 * ids.len()).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let events = clock_events(&app).await;
    for event_type in EVENTS {
        let of_type = events.iter().filter(|e| e.0 == event_type).count();
        assert_eq!(of_type, 2 * ids.len(), "{event_type}: {events:?}");
    }
    let unique: std::collections::BTreeSet<_> = events.iter().collect();
    assert_eq!(unique.len(), events.len(), "no event twice");
    for (_, handle, gate) in instances {
        gate.stop_scheduler();
        handle.stop(false).await;
    }
    app.stop().await;
}
