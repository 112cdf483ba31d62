//! Purchases entered after the fact, over HTTP: a check that says when it was requested, IT's
//! answer dated when it happened, each bounded and in order, the clocks running from the
//! request and stopping at the decision, the log's own times untouched; and the scheduler,
//! which records what such a purchase's clocks passed only after its history had time to come
//! in, once, with the times they are about.

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use events::calendar::{BusinessHours, ClockTime, DistrictCalendar, TimeZoneName};
use events::clocks::ENTRY_GRACE;
use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who, held_body, reached_call, serve_with, unique_ref, with};
use crate::scheduler::{clock_events, wait_for};

on_both_backends!(
    a_check_sent_after_the_fact_runs_its_clocks_from_the_request,
    a_request_in_the_future_or_too_long_ago_is_refused_and_writes_nothing,
    it_logs_its_answer_after_the_fact_in_order_and_the_clocks_stop_then,
    an_acceptance_and_an_approval_after_the_fact_say_when,
    a_call_entered_late_and_dated_earlier_is_when_the_requester_was_first_reached,
    a_purchase_entered_past_its_deadlines_is_breached_once_after_its_grace,
);

/// Chicago, 08:00 to 17:00 on weekdays.
fn chicago() -> DistrictCalendar {
    let hours = BusinessHours::new(
        ClockTime::parse("08:00").unwrap(),
        ClockTime::parse("17:00").unwrap(),
        events::calendar::Weekday::ALL[..5].to_vec(),
    )
    .unwrap();
    DistrictCalendar::new(TimeZoneName::parse("America/Chicago").unwrap(), hours)
}

/// The district in Chicago; a first call within 120 business minutes, a decision within 600.
async fn district(app: &TestApp) -> DistrictCalendar {
    app.seed().await;
    let calendar = chicago();
    let body = json!({"name": "Springfield", "time_zone": "America/Chicago",
                      "business_hours": calendar.hours()});
    app.put(Who::Admin, "/v1/district", &body).await.expect(200);
    let targets = json!({"first_contact_minutes": 120, "decision_minutes": 600,
                         "advisory_outreach_minutes": 240, "warn_at_percent": [50]});
    app.put(Who::ItStaff, "/v1/sla", &targets).await.expect(200);
    calendar
}

/// Friday 15:30 in Chicago, at least a week ago.
fn a_friday_afternoon(calendar: &DistrictCalendar) -> DateTime<Utc> {
    let mut day = calendar.today(Utc::now()) - TimeDelta::days(7);
    while day.weekday() != Weekday::Fri {
        day = day.pred_opt().unwrap();
    }
    calendar.instant(day, ClockTime::parse("15:30").unwrap()).unwrap()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("{value} is not a time")).parse().unwrap()
}

fn at(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339())
}

/// A held purchase requested at `requested`; its id.
async fn requested(app: &TestApp, requested: DateTime<Utc>) -> String {
    let body = with(held_body(&unique_ref()), "/requested_at", at(requested));
    app.submit(&body, "held").await
}

fn clock<'a>(sla: &'a Value, kind: &str) -> &'a Value {
    sla["clocks"].as_array().unwrap().iter().find(|c| c["clock"] == kind).unwrap()
}

async fn a_check_sent_after_the_fact_runs_its_clocks_from_the_request(app: TestApp) {
    let calendar = district(&app).await;
    let friday = a_friday_afternoon(&calendar);
    let body = with(held_body(&unique_ref()), "/requested_at", at(friday));
    let id = app.submit(&body, "held").await;
    let purchase = app.purchase(&id).await;
    assert_eq!(time(&purchase["requested_at"]), friday);
    assert_eq!(time(&purchase["flagged_at"]), friday, "flagged from the request");
    // The log keeps its own time: the check arrived now.
    let submitted = time(&purchase["submitted_at"]);
    assert!(Utc::now() - submitted < TimeDelta::minutes(1), "{submitted}");
    assert!(purchase["timeline"].as_array().unwrap().iter().all(|e| time(&e["at"]) == submitted));
    // 90 business minutes on Friday, the other 30 on Monday morning: long past, unanswered.
    let sla = &purchase["sla"];
    let due = calendar.add_business_minutes(friday, 120);
    assert_eq!(time(&sla["first_contact_due_at"]), due, "{sla:#}");
    assert_eq!(calendar.today(due).weekday(), Weekday::Mon);
    assert_eq!(sla["state"], "breached");
    assert_eq!(time(&clock(sla, "decision")["started_at"]), friday);
    // The list says the same.
    let list = app.get(Who::ItStaff, "/v1/purchases?status=held").await.expect(200).clone();
    let listed = &list["purchases"][0];
    assert_eq!(time(&listed["flagged_at"]), friday);
    assert_eq!(listed["sla"]["first_contact_due_at"], sla["first_contact_due_at"]);

    // The time it was requested is part of the question.
    app.check(&body).await.expect(200);
    let moved = with(body, "/requested_at", at(friday + TimeDelta::hours(1)));
    app.check(&moved).await.expect_problem(409, "idempotency-conflict");
    app.stop().await;
}

async fn a_request_in_the_future_or_too_long_ago_is_refused_and_writes_nothing(app: TestApp) {
    district(&app).await;
    let head = app.head().await;
    let body = |requested: Value| with(held_body(&unique_ref()), "/requested_at", requested);
    let future = app.check(&body(at(Utc::now() + TimeDelta::hours(1)))).await;
    let problem = future.expect_problem(422, "requested-in-future");
    assert!(problem["detail"].as_str().unwrap().contains("in the future"), "{problem:#}");
    let ancient = app.check(&body(at(Utc::now() - TimeDelta::days(401)))).await;
    ancient.expect_problem(422, "requested-too-long-ago");
    app.check(&body(json!("last Friday"))).await.expect_invalid("requested_at");
    app.check(&body(json!(20240906))).await.expect_invalid("requested_at");
    assert_eq!(app.head().await, head, "a refused check writes nothing");
    // A minute ahead of the server's clock is within the skew allowed.
    app.submit(&body(at(Utc::now() + TimeDelta::minutes(1))), "held").await;
    app.stop().await;
}

async fn it_logs_its_answer_after_the_fact_in_order_and_the_clocks_stop_then(app: TestApp) {
    let calendar = district(&app).await;
    let friday = a_friday_afternoon(&calendar);
    let id = requested(&app, friday).await;
    let minutes = |m: i64| friday + TimeDelta::minutes(m);

    let early = with(reached_call(), "/occurred_at", at(minutes(-60)));
    app.act(&id, "calls", &early).await.expect_problem(422, "call-before-flag");
    // Called an hour after the request, on Friday at 16:30.
    let call = with(reached_call(), "/occurred_at", at(minutes(60)));
    app.act(&id, "calls", &call).await.expect(201);
    let offer = json!({"description": "The supported Latitude 5440"});
    let before_flag = with(offer.clone(), "/occurred_at", at(minutes(-1)));
    app.act(&id, "alternatives", &before_flag).await.expect_problem(422, "occurred-before-flag");
    let offer = with(offer, "/occurred_at", at(minutes(70)));
    let view = app.act(&id, "alternatives", &offer).await.expect(201).clone();
    assert_eq!(time(&view["alternatives"][0]["occurred_at"]), minutes(70));

    let head = app.head().await;
    let cancel =
        |t: DateTime<Utc>| json!({"reason": "Took the catalog model", "occurred_at": at(t)});
    let problem = app.act(&id, "cancel", &cancel(minutes(65))).await;
    let problem = problem.expect_problem(422, "occurred-out-of-order");
    assert!(problem["detail"].as_str().unwrap().contains("alternative"), "{problem:#}");
    let ahead = app.act(&id, "cancel", &cancel(Utc::now() + TimeDelta::hours(1))).await;
    ahead.expect_problem(422, "occurred-in-future");
    app.act(&id, "cancel", &cancel(minutes(-5))).await.expect_problem(422, "occurred-before-flag");
    let bad = json!({"reason": "Took the catalog model", "occurred_at": "Monday"});
    app.act(&id, "cancel", &bad).await.expect_invalid("occurred_at");
    assert_eq!(app.head().await, head, "refusals write nothing");

    // Cancelled on Monday at 09:00: 90 business minutes on Friday and 60 on Monday.
    let monday = calendar.add_business_minutes(friday, 90 + 60);
    let view = app.act(&id, "cancel", &cancel(monday)).await.expect(200).clone();
    assert_eq!(view["status"], "cancelled");
    assert_eq!(time(&view["closed_at"]), monday);
    assert_eq!(time(&view["cancellation"]["occurred_at"]), monday);
    let sla = &view["sla"];
    assert_eq!(sla["state"], "met", "{sla:#}");
    assert_eq!(clock(sla, "first_contact")["business_minutes_used"], 60);
    assert_eq!(time(&clock(sla, "decision")["stopped_at"]), monday);
    assert_eq!(clock(sla, "decision")["business_minutes_used"], 150);
    app.stop().await;
}

async fn a_call_entered_late_and_dated_earlier_is_when_the_requester_was_first_reached(
    app: TestApp,
) {
    let calendar = district(&app).await;
    let friday = a_friday_afternoon(&calendar);
    let minutes = |m: i64| friday + TimeDelta::minutes(m);
    let id = requested(&app, friday).await;
    // Given a call that reached the requester at 16:30, logged first, then one at 15:50 logged
    // after it, and one at 16:00.
    for m in [60, 20, 30] {
        let call = with(reached_call(), "/occurred_at", at(minutes(m)));
        app.act(&id, "calls", &call).await.expect(201);
    }
    // Then the list says the requester was first reached at 15:50.
    let list = app.get(Who::ItStaff, "/v1/purchases").await;
    let listed = list.expect(200)["purchases"][0].clone();
    assert_eq!((listed["purchase_id"].as_str(), listed["calls"].as_u64()), (Some(&*id), Some(3)));
    assert_eq!(time(&listed["first_reached_at"]), minutes(20));
    app.stop().await;
}

async fn an_acceptance_and_an_approval_after_the_fact_say_when(app: TestApp) {
    let calendar = district(&app).await;
    let friday = a_friday_afternoon(&calendar);
    let minutes = |m: i64| friday + TimeDelta::minutes(m);
    let (accepted, approved) = (requested(&app, friday).await, requested(&app, friday).await);
    for id in [&accepted, &approved] {
        let call = with(reached_call(), "/occurred_at", at(minutes(20)));
        app.act(id, "calls", &call).await.expect(201);
    }
    let offer =
        json!({"description": "The supported Latitude 5440", "occurred_at": at(minutes(25))});
    let view = app.act(&accepted, "alternatives", &offer).await.expect(201).clone();
    let alt = view["alternatives"][0]["alternative_id"].as_str().unwrap().to_owned();
    let accept = format!("alternatives/{alt}/accept");
    let too_early = json!({"occurred_at": at(minutes(24))});
    app.act(&accepted, &accept, &too_early).await.expect_problem(422, "occurred-out-of-order");
    let view = app.act(&accepted, &accept, &json!({"occurred_at": at(minutes(40))})).await;
    let view = view.expect(200).clone();
    assert_eq!(view["status"], "approved");
    assert_eq!(time(&view["approval"]["occurred_at"]), minutes(40));
    assert_eq!(time(&view["closed_at"]), minutes(40));

    let body = json!({"note": "Fits the plan", "occurred_at": at(minutes(10))});
    app.act(&approved, "approve", &body).await.expect_problem(422, "occurred-out-of-order");
    let body = json!({"note": "Fits the plan", "occurred_at": at(minutes(45))});
    let view = app.act(&approved, "approve", &body).await.expect(200).clone();
    assert_eq!(time(&view["closed_at"]), minutes(45));
    assert_eq!(view["sla"]["state"], "met");
    // The list's resolution time is the decision's.
    let list = app.get(Who::ItStaff, "/v1/purchases?status=approved").await.expect(200).clone();
    let listed: Vec<&Value> = list["purchases"].as_array().unwrap().iter().collect();
    let mine = listed.iter().find(|p| p["purchase_id"] == approved.as_str()).unwrap();
    assert_eq!(time(&mine["resolved_at"]), minutes(45));
    app.stop().await;
}

async fn a_purchase_entered_past_its_deadlines_is_breached_once_after_its_grace(app: TestApp) {
    // Around the clock in UTC: business time is real time. First contact in 60 minutes, the
    // decision in 120, a warning at half of each, breaches escalated.
    app.seed().await;
    let district = json!({"name": "Springfield", "time_zone": "UTC",
        "business_hours": {"start": "00:00", "end": "24:00",
                           "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}});
    app.put(Who::Admin, "/v1/district", &district).await.expect(200);
    let targets = json!({"first_contact_minutes": 60, "decision_minutes": 120,
                         "advisory_outreach_minutes": 60, "warn_at_percent": [50],
                         "escalate_to": "cto@district.example"});
    app.put(Who::ItStaff, "/v1/sla", &targets).await.expect(200);
    let requested_at = (Utc::now() - TimeDelta::hours(3)).with_nanosecond_zero();
    let minutes = |m: i64| requested_at + TimeDelta::minutes(m);
    // Left open: every deadline passed before the check came in.
    let open = requested(&app, requested_at).await;
    // Answered in time, entered right after the check: called at 30, approved at 90.
    let answered = requested(&app, requested_at).await;
    let call = with(reached_call(), "/occurred_at", at(minutes(30)));
    app.act(&answered, "calls", &call).await.expect(201);
    let approve = json!({"occurred_at": at(minutes(90))});
    app.act(&answered, "approve", &approve).await.expect(200);

    // Within the grace (the test app's own scheduler, on the real clock), nothing is written.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(clock_events(&app).await, vec![]);

    // Once it is over, each event of what the clocks really passed, with its time, once.
    let clock = gate::Clock::system();
    clock.advance(ENTRY_GRACE + TimeDelta::minutes(1));
    let (_, handle, gate) = serve_with(app.store.clone(), clock.clone()).await;
    wait_for(&app, "purchase-escalated", 2).await;
    let event = |t: &str, c: &str, m: i64, id: &str| {
        (t.to_owned(), c.to_owned(), minutes(m), id.to_owned())
    };
    let mut expected = vec![
        event("purchase-sla-warning", "first_contact", 30, &open),
        event("purchase-sla-breached", "first_contact", 60, &open),
        event("purchase-escalated", "first_contact", 60, &open),
        event("purchase-sla-warning", "decision", 60, &open),
        event("purchase-sla-breached", "decision", 120, &open),
        event("purchase-escalated", "decision", 120, &open),
        // The answered one ran past half its decision target before its approval, no more.
        event("purchase-sla-warning", "decision", 60, &answered),
    ];
    expected.sort();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(clock_events(&app).await, expected);
    // Later still, and after a restart: nothing twice.
    gate.stop_scheduler();
    handle.stop(false).await;
    clock.advance(TimeDelta::hours(1));
    let (_, handle, gate) = serve_with(app.store.clone(), clock).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(clock_events(&app).await, expected);
    gate.stop_scheduler();
    handle.stop(false).await;
    app.stop().await;
}

trait NanosecondZero {
    fn with_nanosecond_zero(self) -> Self;
}

impl NanosecondZero for DateTime<Utc> {
    /// To the second: the times the tests compare come back as the log wrote them.
    fn with_nanosecond_zero(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).unwrap()
    }
}
