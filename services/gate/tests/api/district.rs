//! District time over HTTP: the calendar (`/v1/district`, closures) and the clocks' targets
//! (`/v1/sla`), with their roles, their validation and their idempotent `PUT`s.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who};

on_both_backends!(
    the_district_starts_with_the_default_calendar,
    an_admin_sets_the_district_and_a_repeat_changes_nothing,
    closures_are_declared_and_lifted,
    the_targets_are_set_by_it_and_read_by_anyone,
    no_escalation_is_not_redacted_into_one,
    each_endpoint_refuses_the_wrong_roles,
    bad_bodies_list_every_bad_field,
    optional_targets_may_be_left_out_but_are_not_null,
    the_school_year_starts_in_july_unless_the_district_says_otherwise,
);

/// Chicago, 08:00 to 17:00 on weekdays.
pub fn chicago() -> Value {
    json!({
        "name": "Springfield Public Schools",
        "time_zone": "America/Chicago",
        "business_hours": {"start": "08:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
    })
}

/// First contact in 120 business minutes (30 for card purchases), a decision in 960, advisory
/// outreach in 480; warnings at 50 and 75%; breaches escalated to the CTO.
pub fn targets() -> Value {
    json!({
        "first_contact_minutes": 120,
        "decision_minutes": 960,
        "advisory_outreach_minutes": 480,
        "warn_at_percent": [75, 50],
        "escalate_to": "cto@district.example",
        "by_payment_method": {"p_card": {"first_contact_minutes": 30}},
    })
}

async fn the_district_starts_with_the_default_calendar(app: TestApp) {
    let district = app.get(Who::Finance, "/v1/district").await.expect(200).clone();
    assert_eq!(district["version"], 0);
    assert_eq!(district["name"], Value::Null);
    assert_eq!(district["time_zone"], "UTC");
    assert_eq!(district["business_hours"]["start"], "09:00");
    assert_eq!(district["closures"], json!([]));
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(district["today"], today);
    app.get(Who::Auditor, "/v1/sla").await.expect_problem(404, "sla-not-set");
    app.stop().await;
}

async fn an_admin_sets_the_district_and_a_repeat_changes_nothing(app: TestApp) {
    let district = app.put(Who::Admin, "/v1/district", &chicago()).await.expect(200).clone();
    assert_eq!(district["name"], "Springfield Public Schools");
    assert_eq!(district["time_zone"], "America/Chicago");
    assert_eq!(district["business_hours"]["days"], json!(["mon", "tue", "wed", "thu", "fri"]));
    assert_eq!(district["version"], 1);
    // "today" is Chicago's date now, not UTC's.
    let now = chrono::Utc::now();
    let chicago_today = (now - chrono::TimeDelta::hours(6)).date_naive();
    let chicago_today_dst = (now - chrono::TimeDelta::hours(5)).date_naive();
    let today = district["today"].as_str().unwrap().to_owned();
    assert!(
        [chicago_today.to_string(), chicago_today_dst.to_string()].contains(&today),
        "{today} at {now}"
    );

    let head = app.head().await;
    let again = app.put(Who::Admin, "/v1/district", &chicago()).await.expect(200).clone();
    assert_eq!(again["version"], 1);
    assert_eq!(app.head().await, head, "a repeat writes nothing");
    assert_eq!(app.events_of_type("district-set").await.len(), 1);
    app.stop().await;
}

async fn closures_are_declared_and_lifted(app: TestApp) {
    let path = "/v1/district/closures/2026-12-24";
    let snow = json!({"reason": "Snow day"});
    let district = app.put(Who::ItStaff, path, &snow).await.expect(200).clone();
    assert_eq!(district["closures"], json!([{"date": "2026-12-24", "reason": "Snow day"}]));
    let version = district["version"].clone();
    let again = app.put(Who::Admin, path, &snow).await.expect(200).clone();
    assert_eq!(again["version"], version, "the same closure again writes nothing");
    let renamed = app.put(Who::ItStaff, path, &json!({"reason": "Ice storm"})).await;
    assert_eq!(renamed.expect(200)["closures"][0]["reason"], "Ice storm");

    let lifted = app.send(Who::ItStaff, Method::DELETE, path, None).await;
    assert_eq!(lifted.expect(200)["closures"], json!([]));
    app.send(Who::ItStaff, Method::DELETE, path, None)
        .await
        .expect_problem(404, "closure-not-found");
    app.put(Who::ItStaff, "/v1/district/closures/christmas", &snow)
        .await
        .expect_problem(400, "invalid-path");
    app.put(Who::ItStaff, "/v1/district/closures/2026-02-30", &snow)
        .await
        .expect_problem(400, "invalid-path");
    let kinds: Vec<String> = app
        .events_of_type("closure-added")
        .await
        .iter()
        .map(|e| e.data["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["Snow day", "Ice storm"]);
    app.stop().await;
}

async fn the_targets_are_set_by_it_and_read_by_anyone(app: TestApp) {
    let set = app.put(Who::ItStaff, "/v1/sla", &targets()).await.expect(200).clone();
    assert_eq!(set["first_contact_minutes"], 120);
    assert_eq!(set["warn_at_percent"], json!([50, 75]), "sorted");
    assert_eq!(set["by_payment_method"], json!({"p_card": {"first_contact_minutes": 30}}));
    assert_eq!(set["escalate_to"], "cto@district.example");
    // IT staff, auditors and admins read whom breaches go to; the others that it is someone.
    for who in [Who::ItStaff, Who::Auditor, Who::Admin] {
        assert_eq!(app.get(who, "/v1/sla").await.expect(200), &set, "{who:?}");
    }
    let mut redacted = set.clone();
    redacted["escalate_to"] = json!(events::audience::REDACTED_EMAIL);
    for who in [Who::Finance, Who::OtherFinance] {
        assert_eq!(app.get(who, "/v1/sla").await.expect(200), &redacted, "{who:?}");
    }
    let head = app.head().await;
    app.put(Who::Admin, "/v1/sla", &targets()).await.expect(200);
    assert_eq!(app.head().await, head, "a repeat writes nothing");
    // The targets and the calendar share one stream and one version.
    let district = app.put(Who::Admin, "/v1/district", &crate::district::chicago()).await;
    assert_eq!(district.expect(200)["version"], 2);
    app.stop().await;
}

async fn no_escalation_is_not_redacted_into_one(app: TestApp) {
    let mut body = targets();
    body.as_object_mut().unwrap().remove("escalate_to");
    app.put(Who::Admin, "/v1/sla", &body).await.expect(200);
    let read = app.get(Who::Finance, "/v1/sla").await.expect(200).clone();
    assert!(read.get("escalate_to").is_none(), "{read:#}");
    app.stop().await;
}

async fn each_endpoint_refuses_the_wrong_roles(app: TestApp) {
    let closure = json!({"reason": "Snow day"});
    let path = "/v1/district/closures/2026-12-24";
    let cases: Vec<(Method, &str, Option<Value>, &[Who])> = vec![
        (Method::GET, "/v1/district", None, &Who::WITH_TOKEN[..5]),
        (Method::PUT, "/v1/district", Some(chicago()), &[Who::Admin]),
        (Method::PUT, path, Some(closure), &[Who::ItStaff, Who::Admin]),
        (Method::PUT, "/v1/sla", Some(targets()), &[Who::ItStaff, Who::Admin]),
        (Method::GET, "/v1/sla", None, &Who::WITH_TOKEN[..5]),
        (Method::DELETE, path, None, &[Who::ItStaff, Who::Admin]),
    ];
    for (method, path, body, allowed) in cases {
        for who in Who::WITH_TOKEN.into_iter().chain([Who::Nobody]) {
            let reply = app.send(who, method.clone(), path, body.as_ref()).await;
            if allowed.contains(&who) {
                // Allowed: anything but 401 and 403 (a second DELETE finds nothing to lift).
                assert!(
                    ![401, 403].contains(&reply.status),
                    "{method} {path} as {who:?}: {}",
                    reply.text
                );
            } else if who == Who::Nobody {
                reply.expect_problem(401, "unauthorized");
            } else {
                reply.expect_problem(403, "forbidden");
            }
        }
    }
    app.stop().await;
}

async fn bad_bodies_list_every_bad_field(app: TestApp) {
    let bad = json!({
        "name": " ", "time_zone": "America/Chicag",
        "business_hours": {"start": "17:00", "end": "08:00", "days": ["mon"]},
    });
    let reply = app.put(Who::Admin, "/v1/district", &bad).await;
    reply.expect_invalid_fields(&["name", "time_zone", "business_hours"]);
    let mut bad = chicago();
    bad["school_year_starts_in"] = json!(13);
    app.put(Who::Admin, "/v1/district", &bad)
        .await
        .expect_invalid_fields(&["school_year_starts_in"]);
    let bad = json!({
        "first_contact_minutes": 0, "decision_minutes": 100001, "advisory_outreach_minutes": 1.5,
        "warn_at_percent": [0, 50], "by_payment_method": {"card": {}},
    });
    let reply = app.put(Who::ItStaff, "/v1/sla", &bad).await;
    reply.expect_invalid_fields(&[
        "first_contact_minutes",
        "decision_minutes",
        "advisory_outreach_minutes",
        "warn_at_percent[0]",
        "by_payment_method.card",
    ]);
    app.put(Who::ItStaff, "/v1/district/closures/2026-12-24", &json!({}))
        .await
        .expect_invalid_fields(&["reason"]);
    assert_eq!(app.head().await, 0, "nothing refused was written");
    app.stop().await;
}

/// `warn_at_percent` and `by_payment_method` may be left out (no warnings, the default targets
/// for every method) but are not nullable in their document: null is refused, as any other
/// value of the wrong type. A method's own targets are nullable, as documented.
async fn optional_targets_may_be_left_out_but_are_not_null(app: TestApp) {
    for field in ["warn_at_percent", "by_payment_method"] {
        let mut null = targets();
        null[field] = Value::Null;
        app.put(Who::ItStaff, "/v1/sla", &null).await.expect_invalid_fields(&[field]);
    }
    assert_eq!(app.head().await, 0, "nothing refused was written");

    let mut left_out = targets();
    for field in ["warn_at_percent", "by_payment_method", "escalate_to"] {
        left_out.as_object_mut().unwrap().remove(field);
    }
    let set = app.put(Who::ItStaff, "/v1/sla", &left_out).await.expect(200).clone();
    assert_eq!(set["warn_at_percent"], json!([]));
    assert_eq!(set["by_payment_method"], json!({}));

    let mut null_method = targets();
    null_method["by_payment_method"] =
        json!({"p_card": null, "reimbursement": {"decision_minutes": 480}});
    let set = app.put(Who::ItStaff, "/v1/sla", &null_method).await.expect(200).clone();
    assert_eq!(set["by_payment_method"], json!({"reimbursement": {"decision_minutes": 480}}));
    app.stop().await;
}

async fn the_school_year_starts_in_july_unless_the_district_says_otherwise(app: TestApp) {
    let district = app.get(Who::Finance, "/v1/district").await.expect(200).clone();
    assert_eq!(district["school_year_starts_in"], 7);
    let today = chrono::Utc::now().date_naive();
    let year = events::school_year::SchoolYear::containing(today, Default::default());
    assert_eq!(district["school_year"], year.name());

    let mut august = chicago();
    august["school_year_starts_in"] = json!(8);
    let district = app.put(Who::Admin, "/v1/district", &august).await.expect(200).clone();
    assert_eq!(district["school_year_starts_in"], 8);
    assert_eq!(district["version"], 1);
    let events = app.events_of_type("district-set").await;
    assert_eq!(events[0].data["school_year_starts_in"], 8, "{events:?}");
    // Set again without it: July again, a change.
    let district = app.put(Who::Admin, "/v1/district", &chicago()).await.expect(200).clone();
    assert_eq!(
        (district["school_year_starts_in"].clone(), district["version"].clone()),
        (json!(7), json!(2))
    );
    app.stop().await;
}
