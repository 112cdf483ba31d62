//! "Today" is the district's date in its time zone (`PUT /v1/district`, the gate's), or the
//! UTC date until the district sets one: what follow-ups and promises are checked against and
//! what *overdue* is measured from.

use serde_json::json;

use crate::common::{Calls, TestApp, Who};

on_both_backends!(a_follow_up_due_on_friday_is_not_overdue_on_thursday_evening_in_chicago);

/// Thursday 2030-01-10, 19:30 in Chicago (CST, UTC−6): already Friday 01:30 in UTC.
const THURSDAY_EVENING: &str = "2030-01-11T01:30:00Z";
/// Friday 2030-01-11, 19:30 in Chicago: Saturday in UTC.
const FRIDAY_EVENING: &str = "2030-01-12T01:30:00Z";
const THURSDAY: &str = "2030-01-10";
const FRIDAY: &str = "2030-01-11";

/// `(due_on, status)` of the person's follow-ups, in the list's order.
async fn follow_ups(app: &TestApp, person: &str) -> Vec<(String, String)> {
    let list = app.get(Who::Auditor, &format!("/v1/follow-ups?stakeholder_id={person}")).await;
    list.expect(200)["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["due_on"].as_str().unwrap().into(), f["status"].as_str().unwrap().into()))
        .collect()
}

async fn a_follow_up_due_on_friday_is_not_overdue_on_thursday_evening_in_chicago(app: TestApp) {
    app.clock.set(THURSDAY_EVENING.parse().unwrap());
    let person = app.person("Dana Whitfield", "principal", None).await;
    let follow_up = |due_on: &str| json!({"stakeholder_id": person, "about": "How the loaners work out", "due_on": due_on});
    let promise = |due_on: &str| {
        json!({"to": {"type": "stakeholder", "stakeholder_id": person},
               "text": "The projector in room 12 fixed", "due_on": due_on})
    };

    // The district has not set its time zone: today is the UTC date, Friday, and Thursday is
    // already past.
    let refused = app.post(Who::ItStaff, "/v1/follow-ups", &follow_up(THURSDAY)).await;
    refused.expect_problem(422, "date-too-early");

    // Chicago's date is Thursday.
    app.in_chicago().await;
    let district = app.get(Who::Auditor, "/v1/district").await;
    assert_eq!(district.expect(200)["today"], THURSDAY);
    let friday = app.post(Who::ItStaff, "/v1/follow-ups", &follow_up(FRIDAY)).await;
    assert_eq!(friday.expect(201)["status"], "open", "due tomorrow in Chicago");
    let thursday = app.post(Who::ItStaff, "/v1/follow-ups", &follow_up(THURSDAY)).await;
    assert_eq!(thursday.expect(201)["status"], "open", "due today in Chicago, not overdue");
    let made = app.post(Who::ItStaff, "/v1/promises", &promise(THURSDAY)).await;
    let promise_id = made.expect(201)["promise_id"].as_str().unwrap().to_owned();
    assert_eq!(made.body["status"], "open");
    assert_eq!(
        follow_ups(&app, &person).await,
        [(THURSDAY.into(), "open".into()), (FRIDAY.into(), "open".into())]
    );
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{person}")).await;
    let health = profile.expect(200)["health"].clone();
    assert_eq!(health["follow_ups"]["overdue"], 0, "{health}");

    // A day later in Chicago: Thursday's are overdue (listed first), Friday's is due today.
    app.clock.set(FRIDAY_EVENING.parse().unwrap());
    assert_eq!(
        follow_ups(&app, &person).await,
        [(THURSDAY.into(), "overdue".into()), (FRIDAY.into(), "open".into())]
    );
    let promise = app.get(Who::Auditor, &format!("/v1/promises/{promise_id}")).await;
    assert_eq!(promise.expect(200)["status"], "overdue");
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{person}")).await;
    let health = profile.expect(200)["health"].clone();
    assert_eq!(health["follow_ups"]["overdue"], 1, "{health}");
    app.stop().await;
}
