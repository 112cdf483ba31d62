//! The clocks on flagged purchases over HTTP: due times in business time on the purchase and
//! in the queue, moved by a snow day, met by a call, paused while waiting on the requester.
//!
//! The flag is the log's own time, so these tests cannot choose a Friday: they make *today* in
//! Chicago the Friday, with a working week whose next two days are off and whose hours end
//! half an hour from now.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::calendar::{BusinessHours, ClockTime, DistrictCalendar, TimeZoneName, Weekday};
use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who, held_body, unique_ref, with};

on_both_backends!(
    a_friday_afternoon_flag_in_chicago_is_due_monday_at_the_right_minute,
    a_snow_day_moves_the_deadline,
    a_call_before_the_deadline_marks_the_first_contact_met,
    waiting_on_the_requester_pauses_the_decision_clock,
    an_explicit_wait_on_the_requester_pauses_it_until_their_answer,
    the_queue_sorted_by_due_puts_the_soonest_breach_first,
    no_targets_no_clocks,
);

/// The first-contact target of these tests, in business minutes.
const FIRST_CONTACT: i64 = 120;

/// A week in Chicago shaped around now: "Friday" is the local date half an hour from now, its
/// hours run from 00:00 to then (at least to 01:30, so every working day holds what is left of
/// the first contact's two hours); the two days after it are off; the four after those work.
struct Week {
    calendar: DistrictCalendar,
    friday: NaiveDate,
    end: ClockTime,
}

impl Week {
    fn around(now: DateTime<Utc>) -> Self {
        let zone = TimeZoneName::parse("America/Chicago").unwrap();
        let local = DistrictCalendar::new(zone.clone(), BusinessHours::office())
            .local(now + TimeDelta::minutes(30));
        let friday = local.date();
        // Rounded up to the minute, at least 90 minutes into the day.
        let minutes = ((local.time() - chrono::NaiveTime::MIN).num_seconds() + 59) / 60;
        let minutes = minutes.max(90);
        let end = ClockTime::hm((minutes / 60) as u16, (minutes % 60) as u16)
            .unwrap_or(ClockTime::END_OF_DAY);
        let days: Vec<Weekday> =
            [0, 3, 4, 5, 6].iter().map(|d| Weekday::of(friday + TimeDelta::days(*d))).collect();
        let hours = BusinessHours::new(ClockTime::parse("00:00").unwrap(), end, days).unwrap();
        Self { calendar: DistrictCalendar::new(zone, hours), friday, end }
    }

    fn body(&self) -> Value {
        json!({
            "name": "Springfield Public Schools",
            "time_zone": "America/Chicago",
            "business_hours": self.calendar.hours(),
        })
    }

    fn day(&self, after_friday: i64) -> NaiveDate {
        self.friday + TimeDelta::days(after_friday)
    }

    fn midnight(&self, date: NaiveDate) -> DateTime<Utc> {
        self.calendar.instant(date, ClockTime::parse("00:00").unwrap()).unwrap()
    }

    /// The business time "Friday" gives a clock started at `flagged`.
    fn friday_share(&self, flagged: DateTime<Utc>) -> TimeDelta {
        let close = self.calendar.instant(self.friday, self.end).unwrap();
        close - flagged.max(self.midnight(self.friday))
    }

    /// When `minutes` of business time started at `flagged` run out, the rest after Friday
    /// falling on `date` from midnight (at most 90 minutes: before 02:00, when Chicago's clocks
    /// change).
    fn due(&self, flagged: DateTime<Utc>, minutes: i64, date: NaiveDate) -> DateTime<Utc> {
        self.midnight(date) + (TimeDelta::minutes(minutes) - self.friday_share(flagged))
    }
}

/// The district shaped around now, targets set, the standards and schools seeded.
async fn friday(app: &TestApp) -> Week {
    app.seed().await;
    let week = Week::around(Utc::now());
    app.put(Who::Admin, "/v1/district", &week.body()).await.expect(200);
    app.put(Who::ItStaff, "/v1/sla", &targets()).await.expect(200);
    week
}

fn targets() -> Value {
    json!({
        "first_contact_minutes": FIRST_CONTACT,
        "decision_minutes": 600,
        "advisory_outreach_minutes": 240,
        "warn_at_percent": [50],
        "by_payment_method": {"p_card": {"first_contact_minutes": 15}},
    })
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("{value} is not a time")).parse().unwrap()
}

/// The clock of `kind` in a purchase's `sla`.
fn clock<'a>(sla: &'a Value, kind: &str) -> &'a Value {
    sla["clocks"].as_array().unwrap().iter().find(|c| c["clock"] == kind).unwrap()
}

async fn a_friday_afternoon_flag_in_chicago_is_due_monday_at_the_right_minute(app: TestApp) {
    let week = friday(&app).await;
    let id = app.held_purchase().await;
    let purchase = app.purchase(&id).await;
    let flagged = time(&purchase["flagged_at"]);
    let sla = &purchase["sla"];
    // The rest of the hour after Friday's close falls on Monday, three days later.
    let expected = week.due(flagged, FIRST_CONTACT, week.day(3));
    assert_eq!(time(&sla["first_contact_due_at"]), expected, "{sla:#}");
    assert_eq!(sla["state"], "on_track");
    assert_eq!(sla["paused"], false);
    assert_eq!(sla["next_due_at"], sla["first_contact_due_at"]);
    let left = sla["business_minutes_left"].as_i64().unwrap();
    assert!((FIRST_CONTACT - 1..=FIRST_CONTACT).contains(&left), "{left}");
    let decision = clock(sla, "decision");
    assert_eq!(decision["target_minutes"], 600);
    assert!(time(&decision["due_at"]) > expected);
    // The list carries the same clocks.
    let list = app.get(Who::ItStaff, "/v1/purchases?status=held").await.expect(200).clone();
    let listed = &list["purchases"][0];
    assert_eq!(listed["purchase_id"], id);
    assert_eq!(listed["sla"]["first_contact_due_at"], sla["first_contact_due_at"]);
    app.stop().await;
}

async fn a_snow_day_moves_the_deadline(app: TestApp) {
    let week = friday(&app).await;
    let id = app.held_purchase().await;
    let flagged = time(&app.purchase(&id).await["flagged_at"]);
    let monday = week.day(3);
    let path = format!("/v1/district/closures/{monday}");
    app.put(Who::ItStaff, &path, &json!({"reason": "Snow day"})).await.expect(200);
    let sla = app.purchase(&id).await["sla"].clone();
    let (on_monday, on_tuesday) =
        (week.due(flagged, FIRST_CONTACT, monday), week.due(flagged, FIRST_CONTACT, week.day(4)));
    assert_eq!(time(&sla["first_contact_due_at"]), on_tuesday);
    // Lifted again, it is due on Monday again.
    app.send(Who::ItStaff, reqwest::Method::DELETE, &path, None).await.expect(200);
    let sla = app.purchase(&id).await["sla"].clone();
    assert_eq!(time(&sla["first_contact_due_at"]), on_monday);

    // Each recomputation is on the record, for both clocks: written by the gate's scheduler.
    let recorded = rescheduled(&app, 4).await;
    let first_contact: Vec<(Value, Value)> = recorded
        .iter()
        .filter(|e| e.data["clock"] == "first_contact" && e.data["purchase_id"] == id)
        .map(|e| (e.data["previous_due_at"].clone(), e.data["due_at"].clone()))
        .collect();
    let at = |t: DateTime<Utc>| json!(t);
    assert_eq!(
        first_contact,
        vec![(at(on_monday), at(on_tuesday)), (at(on_tuesday), at(on_monday))]
    );
    app.stop().await;
}

/// Waits until the log holds `count` `purchase-sla-rescheduled` events (panics after 20 s).
async fn rescheduled(app: &TestApp, count: usize) -> Vec<eventlog::RecordedEvent> {
    for _ in 0..200 {
        let events = app.events_of_type("purchase-sla-rescheduled").await;
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {count} purchase-sla-rescheduled events after 20 s");
}

async fn a_call_before_the_deadline_marks_the_first_contact_met(app: TestApp) {
    friday(&app).await;
    let id = app.held_purchase().await;
    let view = app.reached_call(&id).await;
    let sla = &view["sla"];
    let first = clock(sla, "first_contact");
    assert_eq!(first["state"], "met", "{sla:#}");
    assert_eq!(first["stopped_at"], view["calls"][0]["occurred_at"]);
    assert_eq!(clock(sla, "decision")["state"], "on_track");
    assert_eq!(sla["state"], "on_track", "the decision clock still runs");
    assert_eq!(sla["next_due_at"], sla["decision_due_at"]);
    // Approved: every clock met.
    let approved = app.act(&id, "approve", &json!({})).await.expect(200).clone();
    assert_eq!(approved["sla"]["state"], "met");
    assert_eq!(approved["sla"]["business_minutes_left"], Value::Null);
    app.stop().await;
}

async fn waiting_on_the_requester_pauses_the_decision_clock(app: TestApp) {
    friday(&app).await;
    let id = app.held_purchase().await;
    let no_answer = json!({"requester_reached": false, "notes": "Voicemail"});
    let view = app.act(&id, "calls", &no_answer).await.expect(201).clone();
    let sla = &view["sla"];
    assert_eq!(sla["paused"], true, "{sla:#}");
    assert_eq!(sla["decision_due_at"], Value::Null, "no due time while waiting");
    assert_eq!(clock(sla, "first_contact")["state"], "met", "a call was logged");
    assert_eq!(clock(sla, "decision")["paused"], true);
    let view = app.reached_call(&id).await;
    assert_eq!(view["sla"]["paused"], false);
    assert!(view["sla"]["decision_due_at"].is_string());
    app.stop().await;
}

async fn an_explicit_wait_on_the_requester_pauses_it_until_their_answer(app: TestApp) {
    friday(&app).await;
    let id = app.held_purchase().await;
    // IT reached them; they will send the quote: IT waits on them.
    let view = app.reached_call(&id).await;
    assert_eq!(view["sla"]["paused"], false);
    let wait = json!({"note": "The quote from the vendor"});
    let view = app.act(&id, "waiting", &wait).await.expect(200).clone();
    let sla = &view["sla"];
    assert_eq!(sla["paused"], true, "{sla:#}");
    assert_eq!(sla["decision_due_at"], Value::Null, "no due time while waiting");
    let types: Vec<&str> =
        view["timeline"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"waiting-on-requester"), "{types:?}");
    // Their answer resumes it.
    let view = app.reached_call(&id).await;
    assert_eq!(view["sla"]["paused"], false);
    assert!(view["sla"]["decision_due_at"].is_string());
    // Only a held purchase's decision waits; a note is required; finance may not.
    app.act(&id, "waiting", &json!({})).await.expect_invalid("note");
    app.post(Who::Finance, &format!("/v1/purchases/{id}/waiting"), &wait).await.expect(403);
    app.act(&id, "approve", &json!({})).await.expect(200);
    app.act(&id, "waiting", &wait).await.expect_problem(409, "invalid-state");
    app.stop().await;
}

async fn the_queue_sorted_by_due_puts_the_soonest_breach_first(app: TestApp) {
    friday(&app).await;
    let order = app.held_purchase().await;
    let card = with(held_body(&unique_ref()), "/payment_method", json!("p_card"));
    let card = app.submit(&card, "held").await;
    let approved_at_once = app.submit(&crate::common::check_body(&unique_ref()), "approved").await;

    let by_due = app.get(Who::ItStaff, "/v1/purchases?sort=due").await.expect(200).clone();
    let ids: Vec<&str> = by_due["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["purchase_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [card.as_str(), order.as_str(), approved_at_once.as_str()]);
    assert_eq!(by_due["purchases"][2]["sla"], Value::Null);
    let oldest_first = app.get(Who::ItStaff, "/v1/purchases?status=held").await.expect(200).clone();
    assert_eq!(oldest_first["purchases"][0]["purchase_id"], order);

    let page = app.get(Who::ItStaff, "/v1/purchases?sort=due&limit=1").await.expect(200).clone();
    assert_eq!(page["next_offset"], 1);
    let next = app.get(Who::ItStaff, "/v1/purchases?sort=due&limit=1&offset=1").await;
    assert_eq!(next.expect(200)["purchases"][0]["purchase_id"], order);
    // `after` and `offset` narrow either order: purchases after a sequence, then skip some.
    let all = app.get(Who::ItStaff, "/v1/purchases?sort=due").await.expect(200).clone();
    let skipped =
        app.get(Who::ItStaff, "/v1/purchases?sort=due&offset=1").await.expect(200).clone();
    assert_eq!(skipped["purchases"][0], all["purchases"][1]);
    let first = app.get(Who::ItStaff, "/v1/purchases").await.expect(200).clone();
    let second = app.get(Who::ItStaff, "/v1/purchases?offset=1").await.expect(200).clone();
    assert_eq!(second["purchases"][0], first["purchases"][1]);
    app.stop().await;
}

async fn no_targets_no_clocks(app: TestApp) {
    app.seed().await;
    let id = app.held_purchase().await;
    assert_eq!(app.purchase(&id).await["sla"], Value::Null);
    // Targets set later: the clock starts when they were set.
    app.put(Who::ItStaff, "/v1/sla", &targets()).await.expect(200);
    let purchase = app.purchase(&id).await;
    let started = time(&clock(&purchase["sla"], "first_contact")["started_at"]);
    assert!(started > time(&purchase["flagged_at"]));
    app.stop().await;
}
