//! The reports' dates and months are the district's, in its time zone, and a purchase entered
//! after the fact counts when it took place: a sign-up at 23:30 in Chicago on the last day of
//! August is August's, though September's in UTC; a check sent in October for a purchase
//! requested on 30 September counts in September; its clocks run from its request and stop at
//! IT's decision, as it dated it.

use auth::Role;
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use events::district::{BusinessMinutes, DistrictEvent, DistrictSet, SlaTargets};
use events::gate::{
    CallLogged, Decision, PurchaseApproved, PurchaseDecided, PurchaseEvent, PurchaseSubmitted,
    Reason, ReasonCode, purchase_stream,
};
use events::school::{SchoolEvent, SchoolRegistered, school_stream};
use events::values::{LongText, SchoolId, ShortText};
use serde_json::Value;
use uuid::Uuid;

use crate::common::TestApp;
use crate::history::t;

on_both_backends!(months_and_days_are_the_districts_and_late_entries_count_when_they_took_place);

/// Saturday 31 August 2024, 23:30 in Chicago.
const LAST_NIGHT_OF_AUGUST: &str = "2024-09-01T04:30:00Z";
/// Monday 30 September 2024, 23:30 in Chicago.
const LAST_NIGHT_OF_SEPTEMBER: &str = "2024-10-01T04:30:00Z";

/// Appends `events` (their types and data) to `stream`, recorded at `at`.
async fn write(app: &TestApp, at: &str, stream: String, events: Vec<(&'static str, Value)>) {
    let meta = Metadata::new(Actor::new("it-jdoe", "it_staff"), "gate");
    let new = events.into_iter().map(|(t, data)| NewEvent::new(t, data, meta.clone())).collect();
    app.clock.set(Some(t(at)));
    let append = StreamAppend::new(StreamName::new(stream).unwrap(), ExpectedVersion::Any, new);
    app.store.append_streams(vec![append]).await.unwrap();
    app.clock.set(None);
}

fn parts<E: events::EventFamily>(events: Vec<E>) -> Vec<(&'static str, Value)> {
    events.iter().map(|e| (e.event_type(), e.to_data())).collect()
}

/// A check of 1000.00 USD for lincoln-elem, decided `decision` when recorded at `at`, requested
/// at `requested_at` when given.
async fn check(app: &TestApp, at: &str, requested_at: Option<&str>, decision: Decision) -> Uuid {
    let id = Uuid::now_v7();
    let submitted = PurchaseSubmitted {
        requested_at: requested_at.map(t),
        ..events::testing::priced(id, "1000.00")
    };
    let code = ReasonCode::NotInCatalog;
    let decided = PurchaseDecided {
        decision,
        reasons: vec![Reason { code, line: Some(0), detail: code.as_str().into() }],
        policy_version: 1,
        school_gated: decision == Decision::Held,
    };
    let events: Vec<PurchaseEvent> = vec![submitted.into(), decided.into()];
    write(app, at, purchase_stream(id), parts(events)).await;
    id
}

async fn months_and_days_are_the_districts_and_late_entries_count_when_they_took_place(
    app: TestApp,
) {
    // The district in Chicago, 08:00 to 16:30 on weekdays; a first call within 120 business
    // minutes, a decision within 960.
    let set = DistrictSet {
        business_hours: events::testing::weekdays("08:00", "16:30"),
        ..events::testing::district_set("America/Chicago")
    };
    let minutes = |n| BusinessMinutes::new(n).unwrap();
    let targets = SlaTargets {
        first_contact_minutes: minutes(120),
        decision_minutes: minutes(960),
        advisory_outreach_minutes: minutes(480),
        warn_at_percent: vec![],
        escalate_to: None,
        by_payment_method: Default::default(),
    };
    let district: Vec<DistrictEvent> = vec![set.into(), targets.into()];
    write(&app, "2024-08-01T12:00:00Z", "district-settings".into(), parts(district)).await;

    // A school signs up, and a check comes in, at 23:30 on the last night of August.
    let registered: SchoolEvent = SchoolRegistered {
        school_id: SchoolId::parse("lincoln-elem").unwrap(),
        name: ShortText::parse("Lincoln Elementary").unwrap(),
    }
    .into();
    let school = school_stream(&SchoolId::parse("lincoln-elem").unwrap());
    write(&app, LAST_NIGHT_OF_AUGUST, school, parts(vec![registered])).await;
    check(&app, LAST_NIGHT_OF_AUGUST, None, Decision::Advisory).await;
    // A held purchase requested on the last night of September, entered a week later; IT's
    // call (Tuesday 1 October, 09:00) and approval (10:00) entered with it.
    let late =
        check(&app, "2024-10-07T15:00:00Z", Some(LAST_NIGHT_OF_SEPTEMBER), Decision::Held).await;
    let call: PurchaseEvent = CallLogged {
        call_id: Uuid::now_v7(),
        requester_reached: true,
        goal: Some(LongText::parse("Tablets for the reading group").unwrap()),
        notes: None,
        occurred_at: t("2024-10-01T14:00:00Z"),
        spoke_with: None,
    }
    .into();
    let approved: PurchaseEvent = PurchaseApproved {
        note: None,
        alternative_id: None,
        occurred_at: Some(t("2024-10-01T15:00:00Z")),
    }
    .into();
    write(&app, "2024-10-07T15:01:00Z", purchase_stream(late), parts(vec![call, approved])).await;

    let adoption = app.get_json("/v1/reports/adoption", Role::ItStaff).await;
    let months = adoption["months"].as_array().unwrap();
    let month = |m: &str| months.iter().find(|x| x["month"] == m).unwrap().clone();
    assert_eq!(months[0]["month"], "2024-08", "{adoption:#}");
    assert_eq!(month("2024-08")["schools"]["total"], 1, "signed up in August: {adoption:#}");
    assert_eq!(month("2024-08")["technology_spend"][0]["technology_spend"], "1000.00");
    assert_eq!(month("2024-09")["technology_spend"][0]["technology_spend"], "1000.00");
    assert_eq!(month("2024-10")["technology_spend"], Value::Array(vec![]), "{adoption:#}");

    // The advisory purchase is August's in the rogue spend report.
    let rogue = app.get_json("/v1/reports/rogue-spend", Role::ItStaff).await;
    let rogue_months: Vec<&str> =
        rogue["by_month"].as_array().unwrap().iter().filter_map(|g| g["month"].as_str()).collect();
    assert_eq!(rogue_months, ["2024-08"], "{rogue:#}");

    // The late entry: flagged on the last night of September (its month), called after 60
    // business minutes (08:00 to 09:00 on Tuesday) and approved after 120: both in time.
    let times = app.get_json("/v1/reports/response-times", Role::ItStaff).await;
    let by_month = &times["by_month"][0];
    assert_eq!(by_month["key"], "2024-09", "{times:#}");
    assert_eq!(by_month["to_first_reached_call"]["max_business_hours"], 1.0, "{times:#}");
    assert_eq!(by_month["to_resolution"]["max_business_hours"], 2.0, "{times:#}");
    let sla = app.get_json("/v1/reports/sla", Role::ItStaff).await;
    let held = sla["by_month"].as_array().unwrap();
    let september = held.iter().find(|g| g["key"] == "2024-09").unwrap();
    assert_eq!(september["first_contact"]["met"], 1, "{sla:#}");
    assert_eq!(september["decision"]["met"], 1, "{sla:#}");
    assert_eq!(september["decision"]["business_hours"]["max_business_hours"], 2.0);
    // The audit replay shows both times: when it was requested, and when the log took it in.
    let replay = app.get_json(&format!("/v1/audit/purchases/{late}"), Role::Auditor).await;
    let state = &replay["events"].as_array().unwrap().last().unwrap()["state"];
    assert_eq!(state["requested_at"], "2024-10-01T04:30:00Z", "{replay:#}");
    assert_eq!(state["flagged_at"], "2024-10-01T04:30:00Z");
    assert_eq!(state["closed_at"], "2024-10-01T15:00:00Z");
    app.stop().await;
}
