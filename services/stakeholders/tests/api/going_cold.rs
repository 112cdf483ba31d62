//! Trust that decays: the contact settings (`/v1/reminder-settings`), health's contact decay on
//! a profile, and the people going cold (`GET /v1/reports/going-cold`, JSON and CSV), all in
//! the district's business days.
//!
//! The services' clock stands on Monday 2031-03-03 (the district's calendar is UTC's, Monday
//! to Friday, until it sets one). Conversations are written up with the day they were held.

use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who, person_body};

on_both_backends!(
    the_contact_settings_are_read_and_set,
    principals_going_cold_most_overdue_first_in_json_and_csv,
    contact_decays_on_the_profile_with_the_districts_half_life,
);

const SETTINGS: &str = "/v1/reminder-settings";
const REPORT: &str = "/v1/reports/going-cold";

/// Monday 2031-03-03, 18:00 UTC.
const NOW: &str = "2031-03-03T18:00:00Z";

/// A conversation with `who`, held at `held_at`.
async fn met(app: &TestApp, who: &str, held_at: &str) {
    let body = json!({
        "held_at": held_at, "location": "Her office",
        "their_vision": "Every fourth grader codes by spring.",
        "stars": ["Fast projector fixes", "A friendly help desk"],
        "wish": "Loaner laptops the same day",
    });
    app.post(Who::ItStaff, &format!("/v1/stakeholders/{who}/conversations"), &body)
        .await
        .expect(201);
}

/// `(name, business_days_since, never_contacted)` of each row.
fn rows(report: &Value) -> Vec<(String, u64, bool)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["business_days_since"].as_u64().unwrap(),
                r["never_contacted"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn names(report: &Value) -> Vec<String> {
    rows(report).into_iter().map(|r| r.0).collect()
}

async fn the_contact_settings_are_read_and_set(app: TestApp) {
    let defaults = json!({
        "due_soon_business_days": 2, "going_cold_after_business_days": 20,
        "contact_half_life_business_days": 45, "version": 0,
    });
    assert_eq!(app.get(Who::Auditor, SETTINGS).await.expect(200), &defaults);
    app.get(Who::Finance, SETTINGS).await.expect_problem(403, "forbidden");
    app.get(Who::Nobody, SETTINGS).await.expect(401);
    let cold = json!({"due_soon_business_days": 2, "going_cold_after_business_days": 10});
    app.put(Who::Finance, SETTINGS, &cold).await.expect(403);
    app.put(Who::Auditor, SETTINGS, &cold).await.expect(403);

    let head = app.head().await;
    let set = app.put(Who::ItStaff, SETTINGS, &cold).await;
    let expected = json!({
        "due_soon_business_days": 2, "going_cold_after_business_days": 10,
        "contact_half_life_business_days": 45, "version": 1,
    });
    assert_eq!(set.expect(200), &expected);
    // The event carries every setting, so it reads whole.
    let written = app.events_of_type("reminders-set").await;
    assert_eq!(written.len(), 1);
    assert_eq!(
        written[0].data,
        json!({"due_soon_business_days": 2, "going_cold_after_business_days": 10, "contact_half_life_business_days": 45})
    );
    // A client that knows only the lead keeps the contact settings.
    let lead = app.put(Who::Admin, SETTINGS, &json!({"due_soon_business_days": 3})).await;
    assert_eq!(lead.expect(200)["going_cold_after_business_days"], 10);
    let half = json!({"due_soon_business_days": 3, "contact_half_life_business_days": 90,
                      "going_cold_after_business_days": null});
    let set = app.put(Who::Admin, SETTINGS, &half).await;
    assert_eq!(
        set.expect(200),
        &json!({
            "due_soon_business_days": 3, "going_cold_after_business_days": 10,
            "contact_half_life_business_days": 90, "version": 3,
        })
    );
    // What is in force again writes nothing.
    app.put(Who::ItStaff, SETTINGS, &half).await.expect(200);
    assert_eq!(app.head().await, head + 3);

    for field in ["going_cold_after_business_days", "contact_half_life_business_days"] {
        for bad in [json!(0), json!(261), json!(-1), json!("20"), json!(2.5)] {
            let mut body = json!({"due_soon_business_days": 2});
            body[field] = bad;
            app.put(Who::ItStaff, SETTINGS, &body).await.expect_invalid(field);
        }
    }
    assert_eq!(app.head().await, head + 3, "nothing refused was written");
    app.stop().await;
}

/// Schools, principals and a teacher; conversations on the days given. Returns Ada's and the
/// teacher's ids.
async fn district(app: &TestApp) -> (String, String) {
    app.clock.set(NOW.parse().unwrap());
    app.school("lincoln-elem", "Lincoln Elementary").await;
    app.school("washington-high", "Washington High").await;
    let ada = app.person("Ada Lovelace", "principal", Some("lincoln-elem")).await;
    let bo = app.person("Bo Diddley", "principal", Some("washington-high")).await;
    let cy = app.person("Cy Young", "principal", None).await;
    app.person("Zed Zebra", "principal", None).await;
    let teacher = app.person("Tea Cher", "teacher", Some("lincoln-elem")).await;
    // Friday 2031-01-31: 21 business days before Monday 2031-03-03.
    met(app, &ada, "2031-01-31T15:00:00Z").await;
    // Monday 2031-02-03: 20, going cold today.
    met(app, &bo, "2031-02-03T15:00:00Z").await;
    // Monday 2031-02-24: 5.
    met(app, &cy, "2031-02-24T15:00:00Z").await;
    // Long ago, but a teacher is not watched (until they speak for IT).
    met(app, &teacher, "2030-01-07T15:00:00Z").await;
    (ada, teacher)
}

async fn principals_going_cold_most_overdue_first_in_json_and_csv(app: TestApp) {
    let (ada, teacher) = district(&app).await;

    // Zed, never met, counts from his registration (years before the clock): first.
    let report = app.get(Who::Auditor, REPORT).await;
    let report = report.expect(200).clone();
    assert_eq!(report["business_days"], 20, "the district's setting");
    assert_eq!(report["half_life_business_days"], 45);
    assert_eq!(report["watched"], 4, "four principals");
    assert_eq!(report["today"], "2031-03-03");
    assert_eq!(names(&report), ["Zed Zebra", "Ada Lovelace", "Bo Diddley"]);
    let found = rows(&report);
    assert!(found[0].2 && found[0].1 > 21, "{found:?}");
    assert_eq!(found[1..], [("Ada Lovelace".into(), 21, false), ("Bo Diddley".into(), 20, false)]);
    let row = &report["rows"][1];
    assert_eq!(row["stakeholder_id"], ada.as_str());
    assert_eq!(row["role"], "principal");
    assert_eq!(row["school_id"], "lincoln-elem");
    assert_eq!(row["school_name"], "Lincoln Elementary");
    assert_eq!(row["last_contact"], "2031-01-31T15:00:00Z");
    assert_eq!(row["since"], "2031-01-31T15:00:00Z");
    assert_eq!(row["contact_worth"], 21.7, "30 × ½^(21/45)");
    assert_eq!(report["rows"][0]["last_contact"], Value::Null);

    // As CSV: a header and a row each, in the same order.
    let res = app
        .request(Who::ItStaff, reqwest::Method::GET, &format!("{REPORT}?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let header = |name: &str| res.headers()[name].to_str().unwrap().to_owned();
    assert!(header("content-type").starts_with("text/csv"), "{}", header("content-type"));
    assert!(header("content-disposition").contains("procgate-going-cold.csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "stakeholder_id,name,role,advocate,school_id,school_name,last_contact,never_contacted,business_days_since,contact_worth"
    );
    assert_eq!(
        lines[2],
        format!(
            "{ada},Ada Lovelace,principal,false,lincoln-elem,Lincoln Elementary,2031-01-31T15:00:00Z,false,21,21.7"
        )
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].contains(",Zed Zebra,principal,false,,,,true,"), "{}", lines[1]);

    // A threshold of the request's own: Cy, met five business days ago, is listed too.
    let five = app.get(Who::Admin, &format!("{REPORT}?business_days=5")).await;
    assert_eq!(names(five.expect(200)), ["Zed Zebra", "Ada Lovelace", "Bo Diddley", "Cy Young"]);
    assert_eq!(five.body["business_days"], 5);
    let csv = app.request(
        Who::Admin,
        reqwest::Method::GET,
        &format!("{REPORT}?business_days=5&format=csv"),
    );
    let csv = csv.send().await.unwrap().text().await.unwrap();
    assert_eq!(csv.matches("\r\n").count(), 5, "{csv}");

    // The district's threshold moves the list.
    let settings = json!({"due_soon_business_days": 2, "going_cold_after_business_days": 21});
    app.put(Who::Admin, SETTINGS, &settings).await.expect(200);
    assert_eq!(
        names(app.get(Who::ItStaff, REPORT).await.expect(200)),
        ["Zed Zebra", "Ada Lovelace"]
    );
    // A closure is not a business day: with Presidents' Day closed, Ada is at 20.
    let closure = json!({"reason": "Presidents' Day"});
    app.put(Who::Admin, "/v1/district/closures/2031-02-17", &closure).await.expect(200);
    assert_eq!(names(app.get(Who::ItStaff, REPORT).await.expect(200)), ["Zed Zebra"]);
    let twenty = app.get(Who::ItStaff, &format!("{REPORT}?business_days=20")).await;
    assert_eq!(rows(twenty.expect(200))[1], ("Ada Lovelace".into(), 20, false));

    // The teacher speaks for IT to Bo: an advocate now, watched, and long without a
    // conversation (speaking for IT is not a conversation with IT).
    let advocacy = json!({"to_stakeholder_id": bo_of(&app).await, "about": "The loaners saved the science fair", "on": "2031-02-20"});
    app.post(Who::ItStaff, &format!("/v1/stakeholders/{teacher}/advocacy"), &advocacy)
        .await
        .expect(201);
    let report = app.get(Who::Auditor, REPORT).await;
    let report = report.expect(200).clone();
    assert_eq!(names(&report), ["Zed Zebra", "Tea Cher"]);
    assert_eq!(report["watched"], 5);
    let row = &report["rows"][1];
    assert_eq!((&row["role"], &row["advocate"]), (&json!("teacher"), &json!(true)));
    assert_eq!(row["last_contact"], "2030-01-07T15:00:00Z");

    // Who may read it, and what it takes.
    app.get(Who::Finance, REPORT).await.expect_problem(403, "forbidden");
    app.get(Who::Finance, &format!("{REPORT}?format=csv")).await.expect_problem(403, "forbidden");
    app.get(Who::NoRole, REPORT).await.expect(403);
    app.get(Who::Nobody, REPORT).await.expect(401);
    app.get(Who::Finance, &format!("{REPORT}?business_days=0")).await.expect(403);
    for bad in ["business_days=0", "business_days=261", "business_days=x", "format=xml", "days=3"] {
        app.get(Who::ItStaff, &format!("{REPORT}?{bad}"))
            .await
            .expect_problem(400, "invalid-query");
    }
    app.stop().await;
}

async fn health_of(app: &TestApp, id: &str) -> Value {
    app.get(Who::Auditor, &format!("/v1/stakeholders/{id}")).await.expect(200)["health"].clone()
}

/// Bo's id, from the list of principals.
async fn bo_of(app: &TestApp) -> String {
    let list = app.get(Who::Auditor, "/v1/stakeholders?role=principal").await;
    let people = list.expect(200)["stakeholders"].as_array().unwrap().clone();
    let bo = people.iter().find(|p| p["name"] == "Bo Diddley").unwrap();
    bo["stakeholder_id"].as_str().unwrap().to_owned()
}

async fn contact_decays_on_the_profile_with_the_districts_half_life(app: TestApp) {
    let (ada, _) = district(&app).await;
    let health = health_of(&app, &ada).await;
    assert_eq!(
        health["contact"],
        json!({
            "last_contact": "2031-01-31T15:00:00Z", "business_days_since": 21,
            "half_life_business_days": 45, "full_points": 30, "worth": 21.7, "lost": 8,
        })
    );
    let penalty = &health["penalties"][0];
    assert_eq!(
        (penalty["code"].as_str(), penalty["points"].as_u64()),
        (Some("contact-decay"), Some(8))
    );
    assert!(penalty["detail"].as_str().unwrap().contains("21 business days ago (on 2031-01-31)"));
    assert_eq!(health["score"], 92);

    // A shorter half-life: worth 30 × ½^(21/10), 7 points kept.
    let fast = json!({"due_soon_business_days": 2, "contact_half_life_business_days": 10});
    app.put(Who::ItStaff, SETTINGS, &fast).await.expect(200);
    let health = health_of(&app, &ada).await;
    assert_eq!(
        (health["contact"]["worth"].as_f64(), health["score"].as_u64()),
        (Some(7.0), Some(77))
    );
    let report = app.get(Who::Auditor, "/v1/reports/going-cold").await;
    assert_eq!(report.expect(200)["rows"][1]["contact_worth"], 7.0);
    // The list shows the same score.
    let list = app.get(Who::Auditor, "/v1/stakeholders?role=principal").await;
    let listed = list.expect(200)["stakeholders"].as_array().unwrap().clone();
    let row = listed.iter().find(|p| p["stakeholder_id"] == ada.as_str()).unwrap();
    assert_eq!(row["health_score"], 77);

    // A conversation today restores contact in full.
    met(&app, &ada, "2031-03-03T17:00:00Z").await;
    let health = health_of(&app, &ada).await;
    assert_eq!(health["contact"]["business_days_since"], 0);
    assert_eq!(health["score"], 100, "{health:#}");
    // Never met: none of it.
    let body = person_body("Nova Principal", "principal", None);
    let nova = app.post(Who::ItStaff, "/v1/stakeholders", &body).await.expect(201).clone();
    assert_eq!(nova["health"]["score"], 70);
    assert_eq!(nova["health"]["penalties"][0]["code"], "no-contact");
    app.stop().await;
}
