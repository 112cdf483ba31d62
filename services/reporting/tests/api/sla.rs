//! The reports in the district's business time: the SLA report (clocks met and breached, by
//! school and by month) and the response times, once the district works in Chicago.

use auth::Role;
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use events::calendar::{BusinessHours, DistrictCalendar, TimeZoneName};
use events::district::{BusinessMinutes, ClosureAdded, DistrictEvent, DistrictSet, SlaTargets};
use events::values::{Email, ShortText};
use serde_json::{Value, json};

use crate::common::{TestApp, header, table};
use crate::history::{LINCOLN, ROOSEVELT, WASHINGTON, t, write_history};

on_both_backends!(attainment_in_business_time_by_school_and_month, without_targets_no_clocks);

fn chicago() -> BusinessHours {
    events::testing::weekdays("08:00", "16:30")
}

/// The district in Chicago, 08:00 to 16:30 on weekdays, Labor Day closed; first contact within
/// 120 business minutes, a decision within 960, advisory outreach within 480. Set on
/// 2024-08-01, before the history's purchases.
async fn district_time(app: &TestApp) {
    let minutes = |n| BusinessMinutes::new(n).unwrap();
    let events = [
        DistrictEvent::from(DistrictSet {
            name: ShortText::parse("Springfield Public Schools").unwrap(),
            time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
            business_hours: chicago(),
            school_year_starts_in: None,
        }),
        ClosureAdded {
            date: "2024-09-02".parse().unwrap(),
            reason: ShortText::parse("Labor Day").unwrap(),
        }
        .into(),
        SlaTargets {
            first_contact_minutes: minutes(120),
            decision_minutes: minutes(960),
            advisory_outreach_minutes: minutes(480),
            warn_at_percent: vec![50],
            escalate_to: Some(Email::parse("cto@district.org").unwrap()),
            by_payment_method: Default::default(),
        }
        .into(),
    ];
    let meta = Metadata::new(Actor::new("admin-root", "admin"), "gate");
    let new =
        events.iter().map(|e| NewEvent::new(e.event_type(), e.to_data(), meta.clone())).collect();
    app.clock.set(Some(t("2024-08-01T12:00:00Z")));
    let stream = StreamName::new("district-settings").unwrap();
    app.store
        .append_streams(vec![StreamAppend::new(stream, ExpectedVersion::Any, new)])
        .await
        .unwrap();
    app.clock.set(None);
}

async fn csv_rows(app: &TestApp, name: &str) -> Vec<String> {
    let res = app
        .get(&format!("/v1/reports/{name}?format=csv"), Some(&[Role::ItStaff]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type").starts_with("text/csv"));
    let body = res.text().await.unwrap();
    body.split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn keys(groups: &Value) -> Vec<(String, u64)> {
    groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["purchases"].as_u64().unwrap()))
        .collect()
}

async fn attainment_in_business_time_by_school_and_month(app: TestApp) {
    // The district sets its calendar before the purchases (figures are measured in the
    // calendar in force when they happen).
    district_time(&app).await;
    write_history(&app).await;
    let report = app.get_json("/v1/reports/sla", Role::Auditor).await;
    let calendar =
        DistrictCalendar::new(TimeZoneName::parse("America/Chicago").unwrap(), chicago());
    assert_eq!(report["today"], calendar.today(chrono::Utc::now()).to_string());
    assert_eq!(
        (report["time_zone"].as_str(), report["targets_set"].as_bool()),
        (Some("America/Chicago"), Some(true))
    );

    // Held: P1 (Labor Day, its call and approval before any business time: met twice), P2
    // (reached before Thursday's opening: met; cancelled after 17 business hours of 16:
    // breached), P3 (nothing yet: both breached, still open), P8 (reached in the night: met;
    // cancelled after 8.5 business hours: met). Advisory: P4 and P5, never called: breached.
    let all = &report["all"];
    assert_eq!(all["purchases"], 6);
    assert_eq!(
        all["first_contact"],
        json!({
            "clocks": 4, "met": 3, "breached": 1, "breached_open": 1, "on_track": 0, "warning": 0,
            "attainment": 0.75,
            "business_hours": {"count": 3, "p50_business_hours": 0.0, "p90_business_hours": 0.0, "max_business_hours": 0.0}
        })
    );
    assert_eq!(
        all["decision"],
        json!({
            "clocks": 4, "met": 2, "breached": 2, "breached_open": 1, "on_track": 0, "warning": 0,
            "attainment": 0.5,
            "business_hours": {"count": 3, "p50_business_hours": 8.5, "p90_business_hours": 17.0, "max_business_hours": 17.0}
        })
    );
    let outreach = &all["advisory_outreach"];
    assert_eq!((&outreach["breached_open"], &outreach["attainment"]), (&json!(2), &json!(0.0)));
    assert_eq!(
        keys(&report["by_school"]),
        [(LINCOLN.to_owned(), 2), (ROOSEVELT.to_owned(), 2), (WASHINGTON.to_owned(), 2)]
    );
    assert_eq!(report["by_school"][0]["decision"]["attainment"], 0.5);
    // P8 was flagged at 00:00 UTC on October 1st: September 30th in Chicago.
    assert_eq!(keys(&report["by_month"]), [("2024-09".to_owned(), 5), ("2024-10".to_owned(), 1)]);

    let rows = csv_rows(&app, "sla").await;
    assert!(rows[0].starts_with("dimension,key,name,purchases,first_contact_clocks,first_contact_met,first_contact_breached,first_contact_breached_open,first_contact_on_track,first_contact_warning,first_contact_attainment,first_contact_p50_business_hours,first_contact_p90_business_hours,decision_clocks"), "{}", rows[0]);
    assert_eq!(rows[1], "all,all,,6,4,3,1,1,0,0,0.75,0,0,4,2,2,1,0,0,0.5,8.5,17,2,0,2,2,0,0,0,,");
    assert_eq!(rows.len(), 1 + 1 + 3 + 2);

    // The response times in the same calendar: P2 cancelled after 17 business hours, P8 after
    // 8.5, P1 with none; P8 counts in September.
    let times = app.get_json("/v1/reports/response-times", Role::Auditor).await;
    assert_eq!(
        times["all"]["to_resolution"],
        json!({"count": 3, "p50_business_hours": 8.5, "p90_business_hours": 17.0, "max_business_hours": 17.0})
    );
    assert_eq!(table(&times["by_month"], &["/key", "/held"]), json!([["2024-09", 4]]));
    app.stop().await;
}

async fn without_targets_no_clocks(app: TestApp) {
    write_history(&app).await;
    let report = app.get_json("/v1/reports/sla", Role::ItStaff).await;
    assert_eq!(report["targets_set"], false);
    assert_eq!(report["time_zone"], "UTC");
    assert_eq!(report["all"]["purchases"], 0);
    assert_eq!(report["by_school"], json!([]));
    let rows = csv_rows(&app, "sla").await;
    assert_eq!(rows.len(), 2, "the header and the row of all: {rows:?}");
    app.stop().await;
}
