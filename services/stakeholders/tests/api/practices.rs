//! The practices that carry the relationships: two stars and a wish asked at the first
//! conversation (later ones may record neither), stars praised in public, and advocates.

use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who, conversation, today};

on_both_backends!(
    the_first_conversation_asks_for_stars_and_a_wish_later_ones_may_not,
    stars_are_praised_in_public,
    advocates_are_recorded_and_joined_to_the_signings,
);

fn without_stars_and_wish() -> Value {
    let mut body = conversation();
    let map = body.as_object_mut().unwrap();
    map.remove("stars");
    map.remove("wish");
    body
}

async fn the_first_conversation_asks_for_stars_and_a_wish_later_ones_may_not(app: TestApp) {
    let (_, principal) = app.school_with_principal().await;
    let path = format!("/v1/stakeholders/{principal}/conversations");
    let refused = app.post(Who::ItStaff, &path, &without_stars_and_wish()).await;
    refused.expect_problem(422, "two-stars-and-a-wish-first");
    let mut no_wish = conversation();
    no_wish.as_object_mut().unwrap().remove("wish");
    app.post(Who::ItStaff, &path, &no_wish).await.expect_problem(422, "two-stars-and-a-wish-first");
    let mut null_stars = conversation();
    null_stars["stars"] = Value::Null;
    app.post(Who::ItStaff, &path, &null_stars).await.expect_invalid("stars");

    let first = app.post(Who::ItStaff, &path, &conversation()).await;
    assert!(first.header("location").starts_with("/v1/wishes/"));
    let later = app.post(Who::ItStaff, &path, &without_stars_and_wish()).await;
    assert_eq!(later.header("location"), "", "no wish, no wish to point at");
    let later = later.expect(201);
    assert_eq!(later["wish"], Value::Null);
    assert_eq!(later["conversation"]["stars"], Value::Null);
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{principal}")).await;
    let profile = profile.expect(200);
    assert_eq!(profile["conversations"].as_array().unwrap().len(), 2);
    assert_eq!(profile["wishes"].as_array().unwrap().len(), 1, "only the first made a wish");
}

async fn stars_are_praised_in_public(app: TestApp) {
    let (_, principal) = app.school_with_principal().await;
    let first = app.converse(&principal).await;
    let starred = first["conversation"]["conversation_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/stakeholders/{principal}/conversations");
    let later = app.post(Who::ItStaff, &path, &without_stars_and_wish()).await.expect(201).clone();
    let bare = later["conversation"]["conversation_id"].as_str().unwrap().to_owned();

    let ack =
        |id: &str| format!("/v1/stakeholders/{principal}/conversations/{id}/acknowledgements");
    let body = json!({"where": "School Committee, March meeting", "on": today()});
    let done = app.post(Who::ItStaff, &ack(&starred), &body).await.expect(201).clone();
    assert_eq!(done["where"], "School Committee, March meeting");
    app.post(Who::ItStaff, &ack(&bare), &body).await.expect_problem(404, "no-stars-to-acknowledge");
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(2)).to_string();
    let future = json!({"where": "Newsletter", "on": tomorrow});
    app.post(Who::ItStaff, &ack(&starred), &future).await.expect_problem(422, "date-in-future");
    let before = json!({"where": "PTA", "on": "2001-01-01"});
    app.post(Who::ItStaff, &ack(&starred), &before).await.expect_problem(422, "date-too-early");
    app.post(Who::Auditor, &ack(&starred), &body).await.expect(403);
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{principal}")).await;
    let acknowledgements = profile.expect(200)["acknowledgements"].clone();
    assert_eq!(acknowledgements.as_array().unwrap().len(), 1);
    assert_eq!(acknowledgements[0]["conversation_id"], starred.as_str());
}

async fn advocates_are_recorded_and_joined_to_the_signings(app: TestApp) {
    let (signed_school, advocate) = app.school_with_principal().await;
    app.sign(&signed_school, &advocate).await;
    let (other_school, listener) = app.school_with_principal().await;
    let path = format!("/v1/stakeholders/{advocate}/advocacy");
    let body = |to: &str| json!({"to_stakeholder_id": to, "about": "The gate got our Chromebooks in a week", "on": today()});
    app.post(Who::ItStaff, &path, &body(&listener)).await.expect(201);
    let nobody = uuid::Uuid::new_v4().to_string();
    app.post(Who::ItStaff, &path, &body(&nobody)).await.expect_problem(422, "unknown-listener");
    app.post(Who::ItStaff, &path, &body(&advocate))
        .await
        .expect_problem(422, "spoke-to-themselves");

    let report = app.get(Who::Auditor, "/v1/reports/advocates").await.expect(200).clone();
    assert_eq!(report["advocacy"].as_array().unwrap().len(), 1);
    assert_eq!(report["advocacy"][0]["advocate"]["stakeholder_id"], advocate.as_str());
    assert_eq!(report["advocacy"][0]["to"]["stakeholder_id"], listener.as_str());
    let unsigned: Vec<&Value> = report["unsigned_schools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["school_id"] == other_school.as_str())
        .collect();
    assert_eq!(unsigned[0]["signed_principals_who_spoke"][0]["stakeholder_id"], advocate.as_str());
    assert!(report["signings_after_advocacy"].as_array().unwrap().is_empty());

    // The listener's school signs: its signing followed the advocate's word.
    app.sign(&other_school, &listener).await;
    let report = app.get(Who::ItStaff, "/v1/reports/advocates").await.expect(200).clone();
    let signings = report["signings_after_advocacy"].as_array().unwrap();
    assert_eq!(signings.len(), 1);
    assert_eq!(signings[0]["school_id"], other_school.as_str());
    assert_eq!(signings[0]["advocates"][0]["stakeholder_id"], advocate.as_str());
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{advocate}")).await;
    assert_eq!(profile.expect(200)["spoke_for_it"][0]["to_stakeholder_id"], listener.as_str());
    app.get(Who::Finance, "/v1/reports/advocates").await.expect(403);

    // The school withdraws and signs again: the word before the withdrawal belonged to the
    // first signing, not to the second (the rule the adoption report follows too).
    let agreement = format!("/v1/schools/{other_school}/agreement");
    let reason = json!({"reason": "A new principal wants to review it"});
    app.delete(Who::ItStaff, &agreement, &reason).await.expect(200);
    app.sign(&other_school, &listener).await;
    let report = app.get(Who::ItStaff, "/v1/reports/advocates").await.expect(200).clone();
    let signings = report["signings_after_advocacy"].as_array().unwrap();
    assert_eq!(signings.len(), 1, "{signings:?}");
}
