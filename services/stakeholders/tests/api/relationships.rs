//! The relationship work over HTTP: schools put idempotently, conversations that record their
//! wish in the same append, headway on wishes, promises and follow-ups with their status as
//! of today (overdue first), relationship health, and the lists' filters and pages.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Calls, TestApp, Who, in_days, person_body, unique_school};

on_both_backends!(
    schools_are_put_idempotently,
    a_conversation_records_its_wish,
    promises_follow_ups_and_health,
    lists_filter_and_page,
);

async fn schools_are_put_idempotently(app: TestApp) {
    let school = unique_school();
    let path = format!("/v1/schools/{school}");
    let created = app.put(Who::ItStaff, &path, &json!({"name": "Lincoln"})).await;
    assert_eq!(created.header("location"), path);
    let created = created.expect(201).clone();
    assert_eq!(
        (created["school_id"].as_str(), created["name"].as_str()),
        (Some(school.as_str()), Some("Lincoln"))
    );
    assert_eq!(created["agreements"], json!([]));

    let head = app.head().await;
    let again = app.put(Who::Admin, &path, &json!({"name": "Lincoln"})).await;
    assert_eq!(again.expect(200)["name"], "Lincoln");
    assert_eq!(app.head().await, head, "the same name again writes nothing");
    let renamed = app.put(Who::ItStaff, &path, &json!({"name": "Lincoln Elementary"})).await;
    assert_eq!(renamed.expect(200)["name"], "Lincoln Elementary");
    assert_eq!(app.head().await, head + 1);
    let read = app.get(Who::Auditor, &path).await;
    assert_eq!(read.expect(200)["name"], "Lincoln Elementary");
    app.stop().await;
}

async fn a_conversation_records_its_wish(app: TestApp) {
    let school = unique_school();
    app.school(&school, "Washington High").await;
    let id = app.person("Sam Ortiz", "teacher", Some(&school)).await;

    let head = app.head().await;
    let path = format!("/v1/stakeholders/{id}/conversations");
    let reply = app.post(Who::ItStaff, &path, &crate::common::conversation()).await;
    let answer = reply.expect(201).clone();
    let wish_id = answer["wish"]["wish_id"].as_str().unwrap().to_owned();
    assert_eq!(reply.header("location"), format!("/v1/wishes/{wish_id}"));
    assert_eq!(
        answer["conversation"]["stars"],
        json!(["Fast projector fixes", "A friendly help desk"])
    );
    assert_eq!(answer["conversation"]["wish_id"], wish_id.as_str());
    let wish = &answer["wish"];
    assert_eq!(
        (wish["status"].as_str(), wish["text"].as_str()),
        (Some("open"), Some("Loaner laptops the same day"))
    );
    assert_eq!(
        (wish["school_id"].as_str(), wish["stakeholder_name"].as_str()),
        (Some(school.as_str()), Some("Sam Ortiz"))
    );
    // One append: the conversation, then its wish.
    let appended = app.store.read_all(head, &eventlog::Filter::all(), 10).await.unwrap();
    let written: Vec<(String, &str)> =
        appended.iter().map(|e| (e.stream.clone(), e.event_type.as_str())).collect();
    assert_eq!(
        written,
        [
            (format!("stakeholder-{id}"), "conversation-held"),
            (format!("wish-{wish_id}"), "wish-recorded")
        ]
    );

    // Headway.
    let progress = format!("/v1/wishes/{wish_id}/progress");
    let body = json!({"note": "Ten loaners staged at the library", "status": "in_progress"});
    let progressed = app.post(Who::Admin, &progress, &body).await.expect(201).clone();
    assert_eq!(progressed["status"], "in_progress");
    assert_eq!(progressed["progress"][0]["note"], "Ten loaners staged at the library");
    app.post(Who::ItStaff, &progress, &json!({"note": "All set", "status": "done"}))
        .await
        .expect(201);
    let reopen = json!({"note": "Loaners ran out again in March", "status": "open"});
    let reopened = app.post(Who::ItStaff, &progress, &reopen).await.expect(201).clone();
    assert_eq!(
        (reopened["status"].as_str(), reopened["progress"].as_array().map(Vec::len)),
        (Some("open"), Some(3))
    );

    let profile =
        app.get(Who::Auditor, &format!("/v1/stakeholders/{id}")).await.expect(200).clone();
    assert_eq!(profile["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(profile["wishes"][0]["wish_id"], wish_id.as_str());
    assert_eq!(profile["health"]["conversations"], 1);
    assert!(profile["held_purchases"].is_null(), "not a principal: {profile:#}");
    app.stop().await;
}

fn codes(health: &Value) -> Vec<(String, u64)> {
    health["penalties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["code"].as_str().unwrap().to_owned(), p["points"].as_u64().unwrap()))
        .collect()
}

async fn promises_follow_ups_and_health(app: TestApp) {
    let id = app.person("Dana Whitfield", "business_officer", None).await;
    let profile =
        app.get(Who::ItStaff, &format!("/v1/stakeholders/{id}")).await.expect(200).clone();
    assert_eq!(profile["health"]["score"], 70, "never met: {profile:#}");
    assert_eq!(codes(&profile["health"]), [("no-contact".to_owned(), 30)]);
    app.converse(&id).await;

    // A promise made today, and one made last month that is overdue now (appended as it was
    // then: the API only makes promises today).
    let promise = app.promise_to(&id).await;
    let late = Uuid::now_v7();
    app.append(
        &format!("promise-{late}"),
        vec![(
            "promise-made",
            json!({
                "promise_id": late, "to": {"type": "stakeholder", "stakeholder_id": id},
                "text": "New projector bulbs", "due_on": in_days(-3), "owner": "it-jdoe",
                "made_on": in_days(-30), "kind": null,
            }),
        )],
    )
    .await;
    let kept = app
        .post(
            Who::ItStaff,
            &format!("/v1/promises/{promise}/kept"),
            &json!({"evidence": "Ticket 4411"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(
        (kept["status"].as_str(), kept["evidence"].as_str(), kept["owner"].as_str()),
        (Some("kept"), Some("Ticket 4411"), Some("it-jdoe"))
    );
    let listed = app.get(Who::Auditor, "/v1/promises").await.expect(200).clone();
    let promises = statuses(&listed["promises"], "promise_id");
    assert_eq!(promises, [(late.to_string().as_str(), "overdue"), (promise.as_str(), "kept")]);
    let overdue = app.get(Who::Auditor, "/v1/promises?status=overdue").await.expect(200).clone();
    assert_eq!(overdue["total"], 1);

    // Follow-ups: one due next week, one overdue, one done.
    let soon = app.follow_up(&id).await;
    let late_follow_up = Uuid::now_v7();
    app.append(
        &format!("followup-{late_follow_up}"),
        vec![(
            "followup-scheduled",
            json!({"followup_id": late_follow_up, "stakeholder_id": id, "about": "Wifi in room 12", "due_on": in_days(-2)}),
        )],
    )
    .await;
    let done = app.follow_up(&id).await;
    app.post(Who::ItStaff, &format!("/v1/follow-ups/{done}/done"), &json!({"note": "All good"}))
        .await
        .expect(200);
    let listed = app.get(Who::Auditor, "/v1/follow-ups").await.expect(200).clone();
    let order = statuses(&listed["follow_ups"], "followup_id");
    let late_follow_up = late_follow_up.to_string();
    assert_eq!(
        order,
        [(late_follow_up.as_str(), "overdue"), (soon.as_str(), "open"), (done.as_str(), "done")]
    );
    assert_eq!(listed["follow_ups"][0]["stakeholder_name"], "Dana Whitfield");
    let open = app.get(Who::Auditor, "/v1/follow-ups?status=open").await.expect(200).clone();
    assert_eq!(open["total"], 1);

    // Health: an overdue promise and an overdue follow-up cost 10 points each (met two hours
    // ago: contact has not decayed by half a point).
    let profile =
        app.get(Who::Auditor, &format!("/v1/stakeholders/{id}")).await.expect(200).clone();
    let health = &profile["health"];
    assert_eq!(health["score"], 80, "{health:#}");
    assert_eq!(
        codes(health),
        [("overdue-follow-ups".to_owned(), 10), ("overdue-promises".to_owned(), 10)]
    );
    assert_eq!(health["promises"], json!({"open": 1, "kept": 1, "broken": 0, "overdue": 1}));
    assert_eq!(health["follow_ups"], json!({"open": 2, "overdue": 1}));
    assert_eq!(profile["follow_ups"][0]["status"], "overdue");
    assert_eq!(profile["promises"][0]["status"], "overdue");
    let list = app.get(Who::Auditor, "/v1/stakeholders").await.expect(200).clone();
    assert_eq!(list["stakeholders"][0]["health_score"], 80);

    // A broken promise costs 15.
    app.post(
        Who::ItStaff,
        &format!("/v1/promises/{late}/broken"),
        &json!({"evidence": "Never came"}),
    )
    .await
    .expect(200);
    let profile =
        app.get(Who::Auditor, &format!("/v1/stakeholders/{id}")).await.expect(200).clone();
    assert_eq!(profile["health"]["score"], 75, "{:#}", profile["health"]);
    app.stop().await;
}

async fn lists_filter_and_page(app: TestApp) {
    let (lincoln, dana) = app.school_with_principal().await;
    let washington = unique_school();
    app.school(&washington, "Washington High").await;
    let sam = app.person("Sam Ortiz", "teacher", Some(&lincoln)).await;
    let kim = app.person("Kim Lee", "teacher", Some(&washington)).await;
    let district = app.person("Alex Moreno", "it", None).await;
    for who in [dana.as_str(), sam.as_str(), kim.as_str()] {
        app.converse(who).await;
    }
    app.sign(&lincoln, &dana).await;

    let ids = |list: &Value, key: &str, id: &str| -> Vec<String> {
        list[key].as_array().unwrap().iter().map(|v| v[id].as_str().unwrap().to_owned()).collect()
    };
    let all = app.get(Who::Auditor, "/v1/stakeholders").await.expect(200).clone();
    assert_eq!(
        ids(&all, "stakeholders", "stakeholder_id"),
        [district.as_str(), dana.as_str(), kim.as_str(), sam.as_str()],
        "by name"
    );
    assert_eq!((all["total"].as_u64(), all["next_offset"].as_u64()), (Some(4), None));
    let teachers = app.get(Who::Auditor, "/v1/stakeholders?role=teacher").await.expect(200).clone();
    assert_eq!(ids(&teachers, "stakeholders", "stakeholder_id"), [kim.as_str(), sam.as_str()]);
    let path = format!("/v1/stakeholders?role=teacher&school_id={lincoln}");
    let lincoln_teachers = app.get(Who::Auditor, &path).await.expect(200).clone();
    assert_eq!(ids(&lincoln_teachers, "stakeholders", "stakeholder_id"), [sam.as_str()]);
    let first = app.get(Who::Auditor, "/v1/stakeholders?limit=3").await.expect(200).clone();
    assert_eq!(
        (first["stakeholders"].as_array().unwrap().len(), first["next_offset"].as_u64()),
        (3, Some(3))
    );
    let rest = app.get(Who::Auditor, "/v1/stakeholders?limit=3&offset=3").await.expect(200).clone();
    assert_eq!(ids(&rest, "stakeholders", "stakeholder_id"), [sam.as_str()]);
    assert!(rest["next_offset"].is_null());

    let wishes = app.get(Who::Auditor, "/v1/wishes").await.expect(200).clone();
    assert_eq!(wishes["total"], 3);
    let path = format!("/v1/wishes?school_id={lincoln}");
    let at_lincoln = app.get(Who::Auditor, &path).await.expect(200).clone();
    assert_eq!(at_lincoln["total"], 2);
    let path = format!("/v1/wishes?stakeholder_id={kim}&status=open");
    let kims = app.get(Who::Auditor, &path).await.expect(200).clone();
    assert_eq!(ids(&kims, "wishes", "stakeholder_id"), [kim.as_str()]);
    let done = app.get(Who::Auditor, "/v1/wishes?status=done").await.expect(200).clone();
    assert_eq!(done["total"], 0);

    let signed =
        app.get(Who::Auditor, "/v1/schools?agreement_status=signed").await.expect(200).clone();
    assert_eq!(ids(&signed, "schools", "school_id"), [lincoln.as_str()]);
    let schools = app.get(Who::Auditor, "/v1/schools").await.expect(200).clone();
    assert_eq!(
        ids(&schools, "schools", "school_id"),
        [lincoln.as_str(), washington.as_str()],
        "by name"
    );

    let path = format!("/v1/promises?school_id={lincoln}");
    let to_lincoln = app.get(Who::Auditor, &path).await.expect(200).clone();
    assert_eq!(to_lincoln["total"], 1);
    assert_eq!(to_lincoln["promises"][0]["kind"], "call-before-cancel");
    let path = format!("/v1/promises?stakeholder_id={dana}");
    assert_eq!(app.get(Who::Auditor, &path).await.expect(200)["total"], 0);

    // A principal's profile counts the promises made to their school.
    let profile =
        app.get(Who::Auditor, &format!("/v1/stakeholders/{dana}")).await.expect(200).clone();
    assert_eq!(profile["promises"][0]["standing"], true);
    assert_eq!(profile["health"]["promises"]["kept"], 1);
    assert_eq!(profile["held_purchases"], json!([]));

    // A profile update: the whole profile, nothing written when it is the same.
    let moved = person_body("Sam Ortiz", "instruction_lead", Some(&washington));
    let updated = app.put(Who::ItStaff, &format!("/v1/stakeholders/{sam}"), &moved).await;
    let updated = updated.expect(200);
    assert_eq!(
        (updated["role"].as_str(), updated["school_id"].as_str()),
        (Some("instruction_lead"), Some(washington.as_str()))
    );
    let head = app.head().await;
    app.put(Who::ItStaff, &format!("/v1/stakeholders/{sam}"), &moved).await.expect(200);
    assert_eq!(app.head().await, head);
    app.stop().await;
}

/// The id (`id`) and status of every item of a list, in its order.
fn statuses<'a>(items: &'a Value, id: &str) -> Vec<(&'a str, &'a str)> {
    let items = items.as_array().unwrap().iter();
    items.map(|i| (i[id].as_str().unwrap(), i["status"].as_str().unwrap())).collect()
}
