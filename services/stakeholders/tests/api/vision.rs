//! IT's vision and the connections conversations make to it; the meeting plan's coverage and
//! rounds of meetings.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who, conversation};

on_both_backends!(
    the_vision_is_versioned_and_conversations_connect_to_its_themes,
    coverage_lists_the_principals_not_met_first_and_counts_work_days,
    a_round_of_meetings_is_planned_and_covered_in_work_days,
    the_themes_report_shows_which_themes_carry_which_schools,
);

fn vision(themes: &[(&str, &str)]) -> Value {
    let themes: Vec<Value> =
        themes.iter().map(|(id, title)| json!({"theme_id": id, "title": title})).collect();
    json!({"statement": "Every child learns with technology that works.", "themes": themes})
}

async fn the_vision_is_versioned_and_conversations_connect_to_its_themes(app: TestApp) {
    // Before IT sets it, the vision is empty; finance systems may not read it.
    let empty = app.get(Who::ItStaff, "/v1/vision").await.expect(200).clone();
    assert_eq!(empty, json!({"statement": null, "themes": [], "version": 0}));
    app.get(Who::Finance, "/v1/vision").await.expect(403);
    app.put(Who::Auditor, "/v1/vision", &vision(&[])).await.expect(403);

    let themes = [("equity", "Digital equity"), ("coding", "Coding for all")];
    let set = app.put(Who::ItStaff, "/v1/vision", &vision(&themes)).await.expect(200).clone();
    assert_eq!(set["version"], 1);
    assert_eq!(set["themes"][1], json!({"theme_id": "coding", "title": "Coding for all"}));
    // The same vision again is no new version; another is.
    let again = app.put(Who::ItStaff, "/v1/vision", &vision(&themes)).await;
    assert_eq!(again.expect(200)["version"], 1);
    let two = app.put(Who::Admin, "/v1/vision", &vision(&themes[..1])).await;
    assert_eq!(two.expect(200)["version"], 2);
    let twice = vision(&[("equity", "A"), ("equity", "B")]);
    let dup = app.put(Who::ItStaff, "/v1/vision", &twice).await;
    dup.expect_problem(422, "duplicate-theme");
    let bad = app.put(Who::ItStaff, "/v1/vision", &vision(&[("Not A Slug", "A")])).await;
    bad.expect_invalid("themes[0].theme_id");
    app.put(Who::ItStaff, "/v1/vision", &vision(&themes)).await.expect(200);

    // A conversation names the themes the person's vision connects to, and where it was held.
    let (_, principal) = app.school_with_principal().await;
    let path = format!("/v1/stakeholders/{principal}/conversations");
    let mut body = conversation();
    body["connections"] = json!(["robots"]);
    app.post(Who::ItStaff, &path, &body).await.expect_problem(422, "unknown-theme");
    body["connections"] = json!(null);
    app.post(Who::ItStaff, &path, &body).await.expect_invalid("connections");
    body["connections"] = json!(["coding", "equity", "coding"]);
    body["on_their_turf"] = json!(true);
    app.post(Who::ItStaff, &path, &body).await.expect(201);
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{principal}")).await;
    let held = &profile.expect(200)["conversations"][0];
    assert_eq!(held["connections"], json!(["coding", "equity"]));
    assert_eq!(held["on_their_turf"], true);
    // A conversation without connections still works as before.
    app.post(Who::ItStaff, &path, &conversation()).await.expect(201);
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn meet(app: &TestApp, person: &str, at: &str, on_their_turf: bool) {
    let mut body = conversation();
    body["held_at"] = json!(at);
    body["on_their_turf"] = json!(on_their_turf);
    let path = format!("/v1/stakeholders/{person}/conversations");
    app.post(Who::ItStaff, &path, &body).await.expect(201);
}

async fn coverage_lists_the_principals_not_met_first_and_counts_work_days(app: TestApp) {
    // Chicago, weekdays; Thursday 2030-01-10. Monday's and Wednesday's meetings are in the past.
    app.clock.set(t("2030-01-10T18:00:00Z"));
    app.in_chicago().await;
    for (id, name) in [("adams-elem", "Adams"), ("baker-elem", "Baker"), ("carver-elem", "Carver")]
    {
        app.school(id, name).await;
    }
    let adams = app.person("Ada Adams", "principal", Some("adams-elem")).await;
    let baker = app.person("Ben Baker", "principal", Some("baker-elem")).await;
    app.person("Cy Carver", "principal", Some("carver-elem")).await;
    // A teacher met at Carver does not count: the plan is about principals.
    let teacher = app.person("Tess Teacher", "teacher", Some("carver-elem")).await;
    meet(&app, &teacher, "2030-01-07T16:00:00Z", true).await;
    meet(&app, &adams, "2030-01-07T15:00:00Z", true).await;
    meet(&app, &baker, "2030-01-09T15:00:00Z", false).await;
    meet(&app, &adams, "2030-01-10T15:00:00Z", false).await;

    let report = app.get(Who::Auditor, "/v1/reports/coverage").await.expect(200).clone();
    assert_eq!((report["schools"].as_u64(), report["met"].as_u64()), (Some(3), Some(2)));
    assert_eq!(report["met_on_their_turf"], 1);
    assert_eq!(
        (report["started_on"].as_str(), report["latest_on"].as_str()),
        (Some("2030-01-07"), Some("2030-01-09"))
    );
    assert_eq!(report["work_days"], 3, "Monday to Wednesday");
    let rows = report["rows"].as_array().unwrap();
    let order: Vec<&str> = rows.iter().map(|r| r["school_id"].as_str().unwrap()).collect();
    assert_eq!(order, ["carver-elem", "adams-elem", "baker-elem"], "not met first");
    assert_eq!(rows[0]["met"], false);
    assert_eq!(rows[0]["principal_name"], "Cy Carver");
    assert_eq!(
        (rows[1]["work_day"].as_u64(), rows[1]["conversations"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(rows[1]["on_their_turf"], true, "the first meeting was on their turf");
    assert_eq!(
        (rows[2]["work_day"].as_u64(), rows[2]["on_their_turf"].as_bool()),
        (Some(3), Some(false))
    );
    app.get(Who::Finance, "/v1/reports/coverage").await.expect(403);
}

async fn a_round_of_meetings_is_planned_and_covered_in_work_days(app: TestApp) {
    // Chicago, weekdays; Thursday 2030-01-10. The round started on Monday the 7th.
    app.clock.set(t("2030-01-10T18:00:00Z"));
    app.in_chicago().await;
    for (id, name) in [("adams-elem", "Adams"), ("baker-elem", "Baker")] {
        app.school(id, name).await;
    }
    let adams = app.person("Ada Adams", "principal", Some("adams-elem")).await;
    let baker = app.person("Ben Baker", "principal", Some("baker-elem")).await;
    let teacher = app.person("Tess Teacher", "teacher", Some("baker-elem")).await;
    // Met before the round: does not count for it.
    meet(&app, &baker, "2030-01-03T15:00:00Z", true).await;
    meet(&app, &adams, "2030-01-08T15:00:00Z", true).await;

    // Every principal by default, in five work days: due on Friday.
    let body =
        json!({"name": "Every principal, winter", "starts_on": "2030-01-07", "work_days": 5});
    app.post(Who::Auditor, "/v1/meeting-rounds", &body).await.expect(403);
    let round = app.post(Who::ItStaff, "/v1/meeting-rounds", &body).await.expect(201).clone();
    assert_eq!(round["due_on"], "2030-01-11");
    assert_eq!((round["people"].as_u64(), round["met"].as_u64()), (Some(2), Some(1)));
    assert_eq!(round["work_days_taken"], 4, "Monday to Thursday");
    assert_eq!(
        (round["complete"].as_bool(), round["overdue"].as_bool()),
        (Some(false), Some(false))
    );
    let rows = round["rows"].as_array().unwrap();
    assert_eq!(rows[0]["stakeholder_id"], json!(baker), "not met first");
    assert_eq!(rows[0]["met"], false);
    assert_eq!(rows[1]["name"], "Ada Adams");
    assert_eq!(
        (rows[1]["work_day"].as_u64(), rows[1]["on_their_turf"].as_bool()),
        (Some(2), Some(true))
    );

    // Past its last work day with Baker not met: overdue. Met on Monday: complete in 6.
    app.clock.set(t("2030-01-14T18:00:00Z"));
    let id = round["round_id"].as_str().unwrap();
    let path = format!("/v1/meeting-rounds/{id}");
    assert_eq!(app.get(Who::Auditor, &path).await.expect(200)["overdue"], true);
    meet(&app, &baker, "2030-01-14T16:00:00Z", false).await;
    let done = app.get(Who::Auditor, &path).await.expect(200).clone();
    assert_eq!((done["complete"].as_bool(), done["overdue"].as_bool()), (Some(true), Some(false)));
    assert_eq!(done["work_days_taken"], 6, "the 7th to the 14th, the weekend not counted");
    assert_eq!(done["met_on_their_turf"], 1);

    // Named people; each must be registered; the list shows every round, newest first.
    let named = json!({"name": "Baker's staff", "stakeholder_ids": [teacher, baker]});
    let second = app.post(Who::ItStaff, "/v1/meeting-rounds", &named).await.expect(201).clone();
    assert_eq!(second["starts_on"], "2030-01-14", "today, the district's date");
    assert_eq!(second["due_on"], "2030-02-22", "30 work days by default");
    let nobody = json!({"name": "Ghosts", "stakeholder_ids": [uuid::Uuid::now_v7()]});
    app.post(Who::ItStaff, "/v1/meeting-rounds", &nobody)
        .await
        .expect_problem(422, "unknown-invitee");
    let empty = json!({"name": "Nobody", "stakeholder_ids": []});
    app.post(Who::ItStaff, "/v1/meeting-rounds", &empty).await.expect_invalid("stakeholder_ids");
    // A round whose last work day would fall in year 10000 has no date to be due on.
    let late = json!({"name": "Far off", "starts_on": "9999-12-20", "work_days": 30});
    app.post(Who::ItStaff, "/v1/meeting-rounds", &late).await.expect_problem(422, "date-too-late");
    let long = json!({"name": "Forever", "work_days": 251});
    app.post(Who::ItStaff, "/v1/meeting-rounds", &long).await.expect_invalid("work_days");
    let list = app.get(Who::ItStaff, "/v1/meeting-rounds").await.expect(200).clone();
    let names: Vec<&str> =
        list["rounds"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Baker's staff", "Every principal, winter"]);
    app.get(Who::Finance, "/v1/meeting-rounds").await.expect(403);
    let unknown = format!("/v1/meeting-rounds/{}", uuid::Uuid::now_v7());
    app.get(Who::ItStaff, &unknown).await.expect_problem(404, "unknown-round");
}

async fn the_themes_report_shows_which_themes_carry_which_schools(app: TestApp) {
    // Before a vision: no themes, every school without one.
    let (lincoln, dana) = app.school_with_principal().await;
    let empty = app.get(Who::Auditor, "/v1/reports/themes").await.expect(200).clone();
    assert_eq!(empty["vision_version"], 0);
    assert_eq!(empty["themes"], json!([]));
    app.get(Who::Finance, "/v1/reports/themes").await.expect(403);

    let themes =
        [("equity", "Digital equity"), ("coding", "Coding for all"), ("privacy", "Privacy")];
    app.put(Who::ItStaff, "/v1/vision", &vision(&themes)).await.expect(200);
    let (washington, maria) = app.school_with_principal().await;
    let teacher = app.person("Sam Lee", "teacher", Some(&lincoln)).await;
    for (who, connections) in [
        (&dana, json!(["coding", "equity"])),
        (&teacher, json!(["coding"])),
        (&maria, json!(["equity"])),
    ] {
        let mut body = conversation();
        body["connections"] = connections;
        let path = format!("/v1/stakeholders/{who}/conversations");
        app.post(Who::ItStaff, &path, &body).await.expect(201);
    }
    let (_, _) = app.school_with_principal().await;

    let report = app.get(Who::ItStaff, "/v1/reports/themes").await.expect(200).clone();
    assert_eq!(report["vision_version"], 1);
    let coding = &report["themes"][1];
    assert_eq!(
        (coding["theme_id"].clone(), coding["school_count"].clone()),
        (json!("coding"), json!(1))
    );
    assert_eq!(coding["schools"][0]["school_id"], lincoln.as_str());
    assert_eq!(coding["schools"][0]["school_name"], "Lincoln Elementary");
    assert_eq!(
        (coding["schools"][0]["people"].clone(), coding["people"].clone()),
        (json!(2), json!(2))
    );
    let equity: Vec<&str> = report["themes"][0]["schools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["school_id"].as_str().unwrap())
        .collect();
    assert_eq!(equity.len(), 2);
    assert!(equity.contains(&lincoln.as_str()) && equity.contains(&washington.as_str()));
    assert_eq!(report["themes"][2]["schools"], json!([]), "nobody shares privacy yet");
    assert_eq!(report["schools_without_a_theme"].as_array().unwrap().len(), 1);

    let res = app
        .request(Who::Auditor, reqwest::Method::GET, "/v1/reports/themes?format=csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("procgate-themes.csv"));
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with(
            "theme_id,title,school_id,school_name,people,conversations,last_connected_at\r\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("\r\ncoding,Coding for all,{lincoln},Lincoln Elementary,2,2,")),
        "{csv}"
    );
    assert!(csv.contains("\r\nprivacy,Privacy,,,,,\r\n"), "{csv}");
    let bad = app.get(Who::ItStaff, "/v1/reports/themes?format=pdf").await;
    bad.expect_problem(400, "invalid-query");
}
