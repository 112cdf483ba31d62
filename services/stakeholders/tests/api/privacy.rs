//! Erasing a person: their personal data is sealed in the log with a key of their own; once the
//! key is destroyed it reads as erased in every view, and the chain still verifies.

use eventlog::Filter;
use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who, conversation, person_body, today};

/// What only the erased person's records say.
const SECRETS: [&str; 4] = ["Dana Whitfield", "maker space", "kindergarten", "in hospital"];

on_both_backends!(
    erasing_a_person_erases_their_data_everywhere_and_the_log_still_verifies,
    an_erasure_that_stopped_before_its_record_is_recorded_when_asked_again,
    conversation_notes_past_retention_are_erased_once_by_several_instances,
    erasures_asked_at_once_record_one_erasure,
);

/// Every event of the log as stored (sealed fields as ciphertext), as one text.
async fn stored_log(app: &TestApp) -> String {
    let rows = app.store.chain_rows(0, 100_000).await.unwrap();
    let data: Vec<Value> = rows.into_iter().filter_map(|r| r.event).map(|e| e.data).collect();
    serde_json::to_string(&data).unwrap()
}

/// Every event of the log as readers get it.
async fn read_log(app: &TestApp) -> String {
    let events = app.store.read_all(0, &Filter::all(), 100_000).await.unwrap();
    let data: Vec<&Value> = events.iter().map(|e| &e.data).collect();
    serde_json::to_string(&data).unwrap()
}

async fn erasing_a_person_erases_their_data_everywhere_and_the_log_still_verifies(app: TestApp) {
    let (_, principal) = app.school_with_principal().await;
    let other = app.person("Sam Ortiz", "teacher", None).await;
    let mut talk = conversation();
    talk["their_vision"] = json!("A maker space in every wing");
    talk["notes"] = json!("Her daughter starts kindergarten in May");
    let talk_path = format!("/v1/stakeholders/{principal}/conversations");
    app.post(Who::ItStaff, &talk_path, &talk).await.expect(201);
    app.converse(&other).await;
    let follow_up = json!({"stakeholder_id": principal, "about": "The maker space budget",
                           "due_on": today()});
    let follow_up = app.post(Who::ItStaff, "/v1/follow-ups", &follow_up).await.expect(201).clone();
    let done = format!("/v1/follow-ups/{}/done", follow_up["followup_id"].as_str().unwrap());
    let note = json!({"note": "Her husband is in hospital: the budget waits a month"});
    app.post(Who::ItStaff, &done, &note).await.expect(200);
    let path = format!("/v1/stakeholders/{principal}");
    let before = app.get(Who::ItStaff, &path).await.expect(200).clone();
    let email = before["email"].as_str().unwrap().to_owned();
    assert_eq!(before["name"], "Dana Whitfield");
    assert_eq!(before["erased_at"], Value::Null);

    // At rest the personal fields are ciphertext; readers get them back.
    let stored = stored_log(&app).await;
    for secret in SECRETS.iter().copied().chain([email.as_str()]) {
        assert!(!stored.contains(secret), "{secret:?} is stored in clear");
        assert!(read_log(&app).await.contains(secret), "{secret:?} does not read back");
    }

    // Only admins erase, with a reason; an unknown person is 404.
    let erase = format!("{path}/personal-data");
    let reason = json!({"reason": "Left the district and asked to be forgotten"});
    app.delete(Who::ItStaff, &erase, &reason).await.expect(403);
    app.delete(Who::Auditor, &erase, &reason).await.expect(403);
    app.delete(Who::Admin, &erase, &json!({})).await.expect_invalid("reason");
    let nobody = format!("/v1/stakeholders/{}/personal-data", uuid::Uuid::now_v7());
    app.delete(Who::Admin, &nobody, &reason).await.expect_problem(404, "unknown-stakeholder");
    let erased = app.delete(Who::Admin, &erase, &reason).await.expect(200).clone();
    assert_eq!(erased["stakeholder_id"], json!(principal));
    assert_eq!(erased["reason"], reason["reason"]);
    // Their own key, the conversation's notes' key.
    assert_eq!(erased["keys_destroyed"], 2, "{erased}");
    // Asked again: the first erasure, nothing more.
    let again = app.delete(Who::Admin, &erase, &reason).await.expect(200).clone();
    assert_eq!(again, erased);

    // The profile: who they are is gone, what happened stays.
    let after = app.get(Who::ItStaff, &path).await.expect(200).clone();
    assert_eq!(after["name"], "(erased)");
    assert!(after["email"].as_str().unwrap().ends_with("@erased.invalid"), "{after}");
    assert_eq!(after["phone"], Value::Null);
    assert_eq!(after["role"], "principal");
    assert!(after["erased_at"].is_string());
    let talk = &after["conversations"][0];
    assert_eq!(talk["their_vision"], "(erased)", "{talk}");
    assert_eq!(talk["stars"], json!(["(erased)", "(erased)"]));
    assert_eq!(talk["wish"], "(erased)");
    assert_eq!(talk["notes"], "(erased)");
    assert_eq!(talk["location"], "Her office");
    assert_eq!(after["wishes"][0]["text"], "(erased)");
    assert_eq!(after["follow_ups"][0]["about"], "(erased)");
    assert_eq!(after["follow_ups"][0]["note"], "(erased)", "{after}");

    // Lists and the log read the same; the other person is untouched.
    let everyone = app.get(Who::ItStaff, "/v1/stakeholders").await.expect(200).to_string();
    let wishes = app.get(Who::ItStaff, "/v1/wishes").await.expect(200).to_string();
    let log = read_log(&app).await;
    for text in [&everyone, &wishes, &log] {
        for secret in SECRETS.iter().copied().chain([email.as_str()]) {
            assert!(!text.contains(secret), "{secret:?} still reads");
        }
    }
    assert!(everyone.contains("Sam Ortiz"));
    let sam = app.get(Who::ItStaff, &format!("/v1/stakeholders/{other}")).await;
    assert_eq!(sam.expect(200)["conversations"][0]["notes"], "Mentioned the robotics club");

    // The chain covers the ciphertext: it still verifies.
    let verified = app.store.verify(1, None, &|_| {}).await.unwrap();
    assert!(verified.ok, "{verified:?}");

    // The erased record gets no personal data again (the person would be registered anew),
    // and takes no address; its role and school may still change.
    let as_read = |name: &Value, role: &str| {
        json!({"name": name, "email": after["email"], "phone": null, "role": role,
               "school_id": after["school_id"]})
    };
    let head = app.store.head().await.unwrap();
    let mut named = as_read(&json!("Dana Whitfield"), "principal");
    app.put(Who::ItStaff, &path, &named).await.expect_problem(409, "stakeholder-erased");
    named["name"] = after["name"].clone();
    named["email"] = json!(email);
    app.put(Who::ItStaff, &path, &named).await.expect_problem(409, "stakeholder-erased");
    assert_eq!(app.store.head().await.unwrap(), head, "a refused change wrote something");
    let moved = app.put(Who::ItStaff, &path, &as_read(&after["name"], "teacher")).await;
    assert_eq!(moved.expect(200)["role"], "teacher");
    assert_eq!(app.get(Who::ItStaff, &path).await.expect(200)["name"], "(erased)");

    // Their address is free again: registering it does not lead back to the erased record.
    let mut newcomer = person_body("Robin Hale", "teacher", None);
    newcomer["email"] = json!(email);
    let newcomer = app.post(Who::ItStaff, "/v1/stakeholders", &newcomer).await.expect(201).clone();
    assert_ne!(newcomer["stakeholder_id"], json!(principal));
}

/// The `retention-erased` events of the log, as `(years, keys)`.
async fn retention_erasures(app: &TestApp) -> Vec<(u64, usize)> {
    let filter = Filter::categories(["privacy"]).with_types(["retention-erased"]);
    let events = app.store.read_all(0, &filter, 1000).await.unwrap();
    events
        .iter()
        .map(|e| (e.data["years"].as_u64().unwrap(), e.data["keys"].as_array().unwrap().len()))
        .collect()
}

/// Waits (up to 10 s) until the first conversation of `person` has `notes`.
async fn notes_become(app: &TestApp, person: &str, index: usize, notes: &str) -> Value {
    let path = format!("/v1/stakeholders/{person}");
    for _ in 0..100 {
        let profile = app.get(Who::ItStaff, &path).await.expect(200).clone();
        if profile["conversations"][index]["notes"] == notes {
            return profile;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the notes of conversation {index} of {person} never read {notes:?}");
}

/// A principal with one conversation with notes (their two keys), the conversation's body and
/// its path.
async fn principal_with_notes(app: &TestApp) -> (String, Value, String) {
    let (_, principal) = app.school_with_principal().await;
    let mut talk = conversation();
    talk["notes"] = json!("Her daughter starts kindergarten in May");
    let talk_path = format!("/v1/stakeholders/{principal}/conversations");
    app.post(Who::ItStaff, &talk_path, &talk).await.expect(201);
    (principal, talk, talk_path)
}

async fn an_erasure_that_stopped_before_its_record_is_recorded_when_asked_again(app: TestApp) {
    let (principal, mut talk, talk_path) = principal_with_notes(&app).await;
    // Given an erasure that destroyed their two keys and stopped before recording it.
    let person = eventlog::KeySelector::Person(format!("stakeholder-{principal}"));
    assert_eq!(app.store.destroy_data_keys(&person, "stopped").await.unwrap().len(), 2);
    assert_eq!(erasures(&app).await, Vec::<Value>::new());
    // And, since nothing was recorded, another conversation with notes: stored erased from
    // the start (no key is made for an erased person's data), never readable.
    talk["notes"] = json!("Asked about the summer program");
    app.post(Who::ItStaff, &talk_path, &talk).await.expect(201);
    notes_become(&app, &principal, 1, "(erased)").await;

    // When asked again, then it is recorded, naming the two keys destroyed before, and reads
    // as erased.
    let erase = format!("/v1/stakeholders/{principal}/personal-data");
    let reason = json!({"reason": "Left the district and asked to be forgotten"});
    let erased = app.delete(Who::Admin, &erase, &reason).await.expect(200).clone();
    assert_eq!(erased["keys_destroyed"], 2, "{erased}");
    let recorded = erasures(&app).await;
    assert_eq!(recorded.len(), 1);
    let keys = recorded[0]["keys"].as_array().unwrap();
    assert!(keys.contains(&json!(format!("stakeholder-{principal}"))), "{keys:?}");
    let profile = format!("/v1/stakeholders/{principal}");
    let after = app.get(Who::ItStaff, &profile).await.expect(200).clone();
    assert_eq!((after["name"].as_str(), after["erased_at"].is_string()), (Some("(erased)"), true));
    // Asked once more: that erasure, nothing more.
    assert_eq!(app.delete(Who::Admin, &erase, &reason).await.expect(200).clone(), erased);
    assert_eq!(erasures(&app).await.len(), 1);
    app.stop().await;
}

async fn erasures_asked_at_once_record_one_erasure(app: TestApp) {
    let (principal, ..) = principal_with_notes(&app).await;
    // When an admin's double click (and more) asks for the first erasure several times at once.
    let erase = format!("/v1/stakeholders/{principal}/personal-data");
    let reason = json!({"reason": "Left the district and asked to be forgotten"});
    let replies =
        futures::future::join_all((0..6).map(|_| app.delete(Who::Admin, &erase, &reason))).await;
    // Then one erasure is recorded, naming both keys, and every answer is that one.
    let recorded = erasures(&app).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["keys"].as_array().map(Vec::len), Some(2), "{recorded:?}");
    let first = replies[0].expect(200).clone();
    assert_eq!(first["keys_destroyed"], 2, "{first}");
    for reply in &replies {
        assert_eq!(reply.expect(200), &first);
    }

    // Given an address still claimed by them (as an erasure before erasures released
    // addresses left it), when erasing is asked again several times at once, then it is
    // released once and every answer is the first erasure.
    let claim = eventlog::StreamName::new(format!("email-{}", uuid::Uuid::new_v4())).unwrap();
    let claimed = eventlog::NewEvent::new(
        "email-claimed",
        json!({"stakeholder_id": principal}),
        eventlog::Metadata::new(eventlog::Actor::system("test"), "stakeholders"),
    );
    app.store.append(&claim, eventlog::ExpectedVersion::NoStream, vec![claimed]).await.unwrap();
    let replies =
        futures::future::join_all((0..4).map(|_| app.delete(Who::Admin, &erase, &reason))).await;
    for reply in &replies {
        assert_eq!(reply.expect(200), &first);
    }
    let stream = app.store.read_stream_to_end(&claim).await.unwrap();
    let types: Vec<&str> = stream.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["email-claimed", "email-released"]);
    assert_eq!(erasures(&app).await.len(), 1);
    app.stop().await;
}

/// The `personal-data-erased` events of the log, as recorded.
async fn erasures(app: &TestApp) -> Vec<Value> {
    let filter = Filter::categories(["privacy"]).with_types(["personal-data-erased"]);
    let events = app.store.read_all(0, &filter, 100).await.unwrap();
    events.into_iter().map(|e| e.data).collect()
}

async fn conversation_notes_past_retention_are_erased_once_by_several_instances(app: TestApp) {
    app.clock.set("2030-01-10T18:00:00Z".parse().unwrap());
    let (_, principal) = app.school_with_principal().await;
    let path = format!("/v1/stakeholders/{principal}/conversations");
    for (held_at, notes) in
        [("2027-06-01T15:00:00Z", "Old notes"), ("2029-12-01T15:00:00Z", "Recent notes")]
    {
        let mut talk = conversation();
        talk["held_at"] = json!(held_at);
        talk["notes"] = json!(notes);
        app.post(Who::ItStaff, &path, &talk).await.expect(201);
    }
    // Two instances keep notes two years (on PostgreSQL, the second on connections of its own).
    let keep = stakeholders::Settings { notes_retention_years: Some(2) };
    let other = app.own_store().await.unwrap_or_else(|| app.store.clone());
    let _one = app.configured(app.store.clone(), keep).await;
    let _two = app.configured(other, keep).await;

    // The 2027 notes are past it: erased, once; the rest of the conversation stays.
    let profile = notes_become(&app, &principal, 0, "(erased)").await;
    assert_eq!(profile["conversations"][0]["their_vision"], "Every fourth grader codes by spring.");
    assert_eq!(profile["conversations"][1]["notes"], "Recent notes");
    assert_eq!(profile["name"], "Dana Whitfield");
    assert_eq!(retention_erasures(&app).await, vec![(2, 1)]);
    // Past the time an instance waits for another's announcement (15 minutes and its own
    // jitter, at most 5): neither announces them again.
    app.clock.set("2030-01-10T18:21:00Z".parse().unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(retention_erasures(&app).await, vec![(2, 1)]);

    // Two years after the second conversation, its notes go too.
    app.clock.set("2031-12-02T18:00:00Z".parse().unwrap());
    notes_become(&app, &principal, 1, "(erased)").await;
    assert_eq!(retention_erasures(&app).await, vec![(2, 1), (2, 1)]);
    let verified = app.store.verify(1, None, &|_| {}).await.unwrap();
    assert!(verified.ok, "{verified:?}");

    // Erasing the person then names their own key only: the notes keys are retention's,
    // announced by it.
    let erase = format!("/v1/stakeholders/{principal}/personal-data");
    let reason = json!({"reason": "Left the district"});
    let erased = app.delete(Who::Admin, &erase, &reason).await.expect(200).clone();
    assert_eq!(erased["keys_destroyed"], 1, "{erased}");
    let recorded = erasures(&app).await;
    assert_eq!(recorded[0]["keys"], json!([format!("stakeholder-{principal}")]));
}
