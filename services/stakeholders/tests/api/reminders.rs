//! Reminders: promises and follow-ups due soon and overdue, each written once, with the moment
//! it is about, by any number of instances, and by an instance started after the moment.
//!
//! The district is in Chicago (08:00 to 16:30 on weekdays; January: CST, UTC−6). Time passes
//! by setting the services' clock: the schedulers wake when it moves.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::common::{Backend, Calls, TestApp, Who};

on_both_backends!(
    each_reminder_is_written_once_and_a_restart_writes_nothing_twice,
    the_settings_are_read_and_set,
);

const TYPES: [&str; 4] =
    ["promise-due-soon", "promise-overdue", "followup-due-soon", "followup-overdue"];

/// Monday 2030-01-07, 07:00 in Chicago.
const MONDAY_MORNING: &str = "2030-01-07T13:00:00Z";
const THURSDAY: &str = "2030-01-10";
const FRIDAY: &str = "2030-01-11";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The district in Chicago, the clock on Monday morning there, and a person; their id.
async fn monday_in_chicago(app: &TestApp) -> String {
    app.clock.set(t(MONDAY_MORNING));
    app.in_chicago().await;
    app.person("Dana Whitfield", "principal", None).await
}

async fn promise(app: &TestApp, person: &str, due_on: &str) -> String {
    let body = json!({"to": {"type": "stakeholder", "stakeholder_id": person},
                      "text": "The projector in room 12 fixed", "due_on": due_on});
    let made = app.post(Who::ItStaff, "/v1/promises", &body).await;
    made.expect(201)["promise_id"].as_str().unwrap().to_owned()
}

async fn follow_up(app: &TestApp, person: &str, due_on: &str) -> String {
    let body = json!({"stakeholder_id": person, "about": "The loaners", "due_on": due_on});
    let scheduled = app.post(Who::ItStaff, "/v1/follow-ups", &body).await;
    scheduled.expect(201)["followup_id"].as_str().unwrap().to_owned()
}

/// Every reminder in the log, as `(type, item id, the moment it is about)`, by type.
async fn reminders(app: &TestApp) -> BTreeMap<&'static str, Vec<(String, DateTime<Utc>)>> {
    let mut all = BTreeMap::new();
    for event_type in TYPES {
        let mut found = Vec::new();
        for e in app.events_of_type(event_type).await {
            let id = e.data.get("promise_id").unwrap_or(&e.data["followup_id"]);
            let at = e.data.get("due_soon_at").unwrap_or(&e.data["overdue_at"]);
            found.push((id.as_str().unwrap().to_owned(), t(at.as_str().unwrap())));
        }
        found.sort();
        all.insert(event_type, found);
    }
    all
}

/// The events of the item's `reminder-…` stream.
async fn reminder_stream(app: &TestApp, id: &str) -> Vec<eventlog::RecordedEvent> {
    let stream = eventlog::StreamName::new(format!("reminder-{id}")).unwrap();
    app.store.read_stream_to_end(&stream).await.unwrap()
}

/// Waits until the log holds `count` reminders of `event_type` (panics after 20 s).
async fn wait_for(app: &TestApp, event_type: &str, count: usize) {
    for _ in 0..200 {
        if app.events_of_type(event_type).await.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {count} {event_type} after 20 s: {:?}", reminders(app).await);
}

async fn each_reminder_is_written_once_and_a_restart_writes_nothing_twice(app: TestApp) {
    let person = monday_in_chicago(&app).await;
    let lead = json!({"due_soon_business_days": 1});
    app.put(Who::ItStaff, "/v1/reminder-settings", &lead).await.expect(200);
    // Due soon from Wednesday's 08:00 (14:00Z); overdue from Friday's midnight (06:00Z).
    let promised = promise(&app, &person, THURSDAY).await;
    // Due soon from Thursday's 08:00; overdue from Saturday's midnight.
    let owed = follow_up(&app, &person, FRIDAY).await;
    // Done before anything fell due: no reminder ever.
    let done = follow_up(&app, &person, THURSDAY).await;
    app.post(Who::ItStaff, &format!("/v1/follow-ups/{done}/done"), &json!({})).await.expect(200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(reminders(&app).await.values().all(Vec::is_empty), "nothing due on Monday");

    app.clock.set(t("2030-01-09T14:00:01Z"));
    wait_for(&app, "promise-due-soon", 1).await;
    app.clock.set(t("2030-01-10T14:00:01Z"));
    wait_for(&app, "followup-due-soon", 1).await;

    // The instance stops; both due dates pass while no scheduler runs.
    app.stakeholders.stop_scheduler();
    app.clock.set(t("2030-01-12T07:00:00Z"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.events_of_type("promise-overdue").await.is_empty());
    // Started again: it writes what passed, with the moments it is about.
    let restarted = app.instance(app.store.clone()).await;
    wait_for(&app, "promise-overdue", 1).await;
    wait_for(&app, "followup-overdue", 1).await;
    // And once more: nothing is written twice.
    let again = app.instance(app.store.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let expected = BTreeMap::from([
        ("followup-due-soon", vec![(owed.clone(), t("2030-01-10T14:00:00Z"))]),
        ("followup-overdue", vec![(owed.clone(), t("2030-01-12T06:00:00Z"))]),
        ("promise-due-soon", vec![(promised.clone(), t("2030-01-09T14:00:00Z"))]),
        ("promise-overdue", vec![(promised.clone(), t("2030-01-11T06:00:00Z"))]),
    ]);
    assert_eq!(reminders(&app).await, expected);
    let stream = reminder_stream(&app, &owed).await;
    assert_eq!(stream.len(), 2, "{stream:?}");
    let overdue = &stream[1];
    assert_eq!(overdue.metadata.actor.subject, "system:stakeholders");
    assert_eq!(overdue.data["stakeholder_id"], person.as_str());
    assert_eq!(overdue.data["due_on"], FRIDAY);
    drop((restarted, again));
    app.stop().await;
}

async fn the_settings_are_read_and_set(app: TestApp) {
    let path = "/v1/reminder-settings";
    let settings = app.get(Who::Auditor, path).await;
    assert_eq!(settings.expect(200)["due_soon_business_days"], 2);
    assert_eq!(settings.body["version"], 0);
    app.get(Who::Finance, path).await.expect_problem(403, "forbidden");
    app.put(Who::Auditor, path, &json!({"due_soon_business_days": 1})).await.expect(403);

    let head = app.head().await;
    let same = app.put(Who::ItStaff, path, &json!({"due_soon_business_days": 2})).await;
    assert_eq!(same.expect(200)["version"], 0);
    assert_eq!(app.head().await, head, "the lead in force again writes nothing");
    let set = app.put(Who::Admin, path, &json!({"due_soon_business_days": 5})).await;
    let set = set.expect(200);
    assert_eq!((&set["due_soon_business_days"], &set["version"]), (&json!(5), &json!(1)));
    assert_eq!(app.get(Who::ItStaff, path).await.expect(200)["due_soon_business_days"], 5);

    for bad in [
        json!({}),
        json!({"due_soon_business_days": 21}),
        json!({"due_soon_business_days": -1}),
        json!({"due_soon_business_days": "2"}),
    ] {
        app.put(Who::ItStaff, path, &bad).await.expect_invalid("due_soon_business_days");
    }
    assert_eq!(app.head().await, head + 1);
    app.stop().await;
}

/// Two instances, each with its own connections to one PostgreSQL database, both following the
/// log: every reminder lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_write_each_reminder_once() {
    const ITEMS: usize = 12;
    let app = TestApp::spawn(Backend::Postgres).await;
    let person = monday_in_chicago(&app).await;
    let second = app.instance(app.own_store().await.unwrap()).await;
    let mut promises = Vec::new();
    let mut follow_ups = Vec::new();
    for _ in 0..ITEMS {
        promises.push(promise(&app, &person, THURSDAY).await);
        follow_ups.push(follow_up(&app, &person, FRIDAY).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Wednesday: with the default lead of 2, both are due soon (from Tuesday's and
    // Wednesday's openings).
    app.clock.set(t("2030-01-09T15:00:00Z"));
    wait_for(&app, "promise-due-soon", ITEMS).await;
    wait_for(&app, "followup-due-soon", ITEMS).await;
    // Saturday: both overdue.
    app.clock.set(t("2030-01-12T07:00:00Z"));
    wait_for(&app, "promise-overdue", ITEMS).await;
    wait_for(&app, "followup-overdue", ITEMS).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let all = reminders(&app).await;
    for event_type in TYPES {
        assert_eq!(all[event_type].len(), ITEMS, "{event_type}: {:?}", all[event_type]);
    }
    for id in promises.iter().chain(&follow_ups) {
        let stream = reminder_stream(&app, id).await;
        let types: Vec<&str> = stream.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(types.len(), 2, "{id}: {types:?}");
    }
    drop(second);
    app.stop().await;
}
