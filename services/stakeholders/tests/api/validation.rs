//! Every validation rule over HTTP: a refused request gets a 4xx problem (the right status,
//! type and fields) and writes nothing: the log's head does not move.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{
    Calls, Reply, TestApp, Who, conversation, in_days, person_body, promise_body, today,
    unique_school, with, without,
};

on_both_backends!(
    schools_and_agreements,
    stakeholders,
    conversations,
    wishes_promises_and_follow_ups,
    malformed_requests_paths_and_queries,
);

/// Sends the request as IT staff and checks that it is refused with `status` and `slug`, and
/// that nothing was written.
async fn refused(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
    status: u16,
    slug: &str,
) -> Reply {
    let head = app.head().await;
    let reply = app.send(Who::ItStaff, method.clone(), path, body).await;
    reply.expect_problem(status, slug);
    assert_eq!(app.head().await, head, "{method} {path} was refused but wrote to the log");
    reply
}

async fn put(app: &TestApp, path: &str, body: Value, status: u16, slug: &str) -> Reply {
    refused(app, Method::PUT, path, Some(&body), status, slug).await
}

async fn post(app: &TestApp, path: &str, body: Value, status: u16, slug: &str) -> Reply {
    refused(app, Method::POST, path, Some(&body), status, slug).await
}

async fn delete(app: &TestApp, path: &str, body: Value, status: u16, slug: &str) -> Reply {
    refused(app, Method::DELETE, path, Some(&body), status, slug).await
}

async fn schools_and_agreements(app: TestApp) {
    // Slugs in the path.
    for bad in ["Lincoln_Elem", "lincoln--elem", "-lincoln", "LINCOLN"] {
        put(&app, &format!("/v1/schools/{bad}"), json!({"name": "Lincoln"}), 400, "invalid-path")
            .await;
    }
    let new = format!("/v1/schools/{}", unique_school());
    for body in [json!({}), json!({"name": " "}), json!({"name": 5}), json!({"name": "a\nb"})] {
        put(&app, &new, body, 422, "validation").await.expect_invalid_fields(&["name"]);
    }

    let (school, principal) = app.school_with_principal().await;
    let teacher = app.person("Sam Ortiz", "teacher", Some(&school)).await;
    let (_other_school, other_principal) = app.school_with_principal().await;
    let agreement = format!("/v1/schools/{school}/agreement");
    let sign = |who: &str, on: &str| json!({"principal_id": who, "signed_on": on});

    // Who signs.
    let unregistered = format!("/v1/schools/{}/agreement", unique_school());
    put(&app, &unregistered, sign(&principal, &today()), 404, "unknown-school").await;
    put(&app, &agreement, sign(&other_principal, &today()), 422, "not-a-principal-of-school").await;
    put(&app, &agreement, sign(&teacher, &today()), 422, "not-a-principal-of-school").await;
    let nobody = Uuid::now_v7().to_string();
    put(&app, &agreement, sign(&nobody, &today()), 422, "unknown-stakeholder").await;
    // When.
    let p = put(&app, &agreement, sign(&principal, &in_days(1)), 422, "date-in-future").await;
    assert_eq!(p.body["field"], "signed_on");
    put(
        &app,
        &agreement,
        json!({"principal_id": "dana", "signed_on": "2024-13-40"}),
        422,
        "validation",
    )
    .await
    .expect_invalid_fields(&["principal_id", "signed_on"]);
    put(&app, &agreement, json!({"signed_on": "03/09/2024"}), 422, "validation")
        .await
        .expect_invalid_fields(&["principal_id", "signed_on"]);

    // Withdraw only what is signed; sign only once.
    let reason = json!({"reason": "The new principal wants to review it"});
    delete(&app, &agreement, reason.clone(), 409, "agreement-not-signed").await;
    app.put(Who::ItStaff, &agreement, &sign(&principal, &in_days(-10))).await.expect(201);
    let head = app.store.head().await.unwrap();
    app.put(Who::ItStaff, &agreement, &sign(&principal, &in_days(-10))).await.expect(200);
    assert_eq!(app.store.head().await.unwrap(), head, "the same signature again wrote something");
    put(&app, &agreement, sign(&principal, &today()), 409, "agreement-already-signed").await;
    delete(&app, &agreement, json!({}), 422, "validation").await.expect_invalid_fields(&["reason"]);
    let tomorrow = with(reason.clone(), "withdrawn_on", json!(in_days(1)));
    let p = delete(&app, &agreement, tomorrow, 422, "date-in-future").await;
    assert_eq!(p.body["field"], "withdrawn_on");
    let before_signing = with(reason.clone(), "withdrawn_on", json!(in_days(-20)));
    let p = delete(&app, &agreement, before_signing, 422, "date-too-early").await;
    assert_eq!(
        (p.body["field"].as_str(), p.body["earliest"].as_str()),
        (Some("withdrawn_on"), Some(in_days(-10).as_str()))
    );
    // After a withdrawal, a new signature is not dated before it.
    let withdrawn = with(reason, "withdrawn_on", json!(in_days(-5)));
    app.delete(Who::ItStaff, &agreement, &withdrawn).await.expect(200);
    // The same withdrawal again writes nothing; another is refused.
    let head = app.store.head().await.unwrap();
    app.delete(Who::ItStaff, &agreement, &withdrawn).await.expect(200);
    assert_eq!(app.store.head().await.unwrap(), head, "the same withdrawal again wrote something");
    let another = with(withdrawn.clone(), "withdrawn_on", json!(in_days(-4)));
    delete(&app, &agreement, another, 409, "agreement-not-signed").await;
    let p = put(&app, &agreement, sign(&principal, &in_days(-6)), 422, "date-too-early").await;
    assert_eq!(p.body["field"], "signed_on");
    app.stop().await;
}

async fn stakeholders(app: TestApp) {
    let bad = json!({
        "name": " ", "email": "dana.at.lincoln", "phone": "call me maybe",
        "role": "janitor", "school_id": "Lincoln Elem",
    });
    post(&app, "/v1/stakeholders", bad, 422, "validation").await.expect_invalid_fields(&[
        "name",
        "email",
        "phone",
        "role",
        "school_id",
    ]);
    post(&app, "/v1/stakeholders", json!({}), 422, "validation")
        .await
        .expect_invalid_fields(&["name", "email", "role"]);
    for email in ["dana@", "@lincoln.example", "dana lincoln@example.org", "dana@@lincoln.example"]
    {
        let body = with(person_body("Dana", "principal", None), "email", json!(email));
        post(&app, "/v1/stakeholders", body, 422, "validation")
            .await
            .expect_invalid_fields(&["email"]);
    }
    for phone in ["12", "555-CALL-NOW", "555\n0101"] {
        let body = with(person_body("Dana", "teacher", None), "phone", json!(phone));
        post(&app, "/v1/stakeholders", body, 422, "validation")
            .await
            .expect_invalid_fields(&["phone"]);
    }
    let unknown_school = person_body("Dana", "principal", Some("nowhere-elem"));
    post(&app, "/v1/stakeholders", unknown_school, 422, "unknown-school").await;

    let id = app.person("Sam Ortiz", "teacher", None).await;
    let moved = person_body("Sam Ortiz", "teacher", Some("nowhere-elem"));
    put(&app, &format!("/v1/stakeholders/{id}"), moved, 422, "unknown-school").await;
    let nobody = format!("/v1/stakeholders/{}", Uuid::now_v7());
    put(&app, &nobody, person_body("Sam Ortiz", "teacher", None), 404, "unknown-stakeholder").await;
    put(&app, "/v1/stakeholders/sam", person_body("Sam", "teacher", None), 400, "invalid-path")
        .await;
    app.stop().await;
}

async fn conversations(app: TestApp) {
    let id = app.person("Dana Whitfield", "principal", None).await;
    let path = format!("/v1/stakeholders/{id}/conversations");
    for stars in [json!(["Fast fixes"]), json!(["Fast fixes", "Kind desk", "Good wifi"]), json!([])]
    {
        let found = stars.as_array().unwrap().len();
        let p =
            post(&app, &path, with(conversation(), "stars", stars), 422, "exactly-two-stars").await;
        assert_eq!(
            (p.body["field"].as_str(), p.body["found"].as_u64()),
            (Some("stars"), Some(found as u64))
        );
    }
    // Leaving them out is well-formed (later conversations may); the first must have them.
    post(&app, &path, without(conversation(), "stars"), 422, "two-stars-and-a-wish-first").await;
    post(&app, &path, with(conversation(), "stars", json!(["Fast fixes", " "])), 422, "validation")
        .await
        .expect_invalid_fields(&["stars[1]"]);
    let tomorrow = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
    let p =
        post(&app, &path, with(conversation(), "held_at", json!(tomorrow)), 422, "date-in-future")
            .await;
    assert_eq!(p.body["field"], "held_at");
    let bad = json!({"held_at": "yesterday", "location": "", "their_vision": 7, "stars": "two", "wish": null});
    post(&app, &path, bad, 422, "validation").await.expect_invalid_fields(&[
        "held_at",
        "location",
        "their_vision",
        "stars",
        "wish",
    ]);
    let nobody = format!("/v1/stakeholders/{}/conversations", Uuid::now_v7());
    post(&app, &nobody, conversation(), 404, "unknown-stakeholder").await;
    app.stop().await;
}

async fn wishes_promises_and_follow_ups(app: TestApp) {
    let id = app.person("Dana Whitfield", "principal", None).await;

    // Wishes.
    let wish = app.converse(&id).await["wish"]["wish_id"].as_str().unwrap().to_owned();
    let progress = format!("/v1/wishes/{wish}/progress");
    post(&app, &progress, json!({"note": "x", "status": "finished"}), 422, "validation")
        .await
        .expect_invalid_fields(&["status"]);
    post(&app, &progress, json!({"status": "done"}), 422, "validation")
        .await
        .expect_invalid_fields(&["note"]);
    let unknown = format!("/v1/wishes/{}/progress", Uuid::now_v7());
    post(&app, &unknown, json!({"note": "x", "status": "done"}), 404, "unknown-wish").await;
    app.post(Who::ItStaff, &progress, &json!({"note": "Granted", "status": "done"}))
        .await
        .expect(201);
    post(
        &app,
        &progress,
        json!({"note": "Declined after all", "status": "declined"}),
        409,
        "wish-closed",
    )
    .await;

    // Promises.
    let to_dana = json!({"type": "stakeholder", "stakeholder_id": id});
    let p = post(
        &app,
        "/v1/promises",
        promise_body(to_dana.clone(), &in_days(-1)),
        422,
        "date-too-early",
    )
    .await;
    assert_eq!(
        (p.body["field"].as_str(), p.body["earliest"].as_str()),
        (Some("due_on"), Some(today().as_str()))
    );
    let nobody = json!({"type": "stakeholder", "stakeholder_id": Uuid::now_v7()});
    post(&app, "/v1/promises", promise_body(nobody, &today()), 422, "unknown-stakeholder").await;
    let nowhere = json!({"type": "school", "school_id": "nowhere-elem"});
    post(&app, "/v1/promises", promise_body(nowhere, &today()), 422, "unknown-school").await;
    post(
        &app,
        "/v1/promises",
        promise_body(json!({"type": "parent"}), &today()),
        422,
        "validation",
    )
    .await
    .expect_invalid_fields(&["to.type"]);
    post(&app, "/v1/promises", json!({"to": "dana"}), 422, "validation")
        .await
        .expect_invalid_fields(&["to", "text", "due_on"]);
    let promise = app.promise_to(&id).await;
    let kept = format!("/v1/promises/{promise}/kept");
    let p = post(&app, &kept, json!({"evidence": "Done", "on": in_days(1)}), 422, "date-in-future")
        .await;
    assert_eq!(p.body["field"], "on");
    post(&app, &kept, json!({"evidence": "  "}), 422, "validation")
        .await
        .expect_invalid_fields(&["evidence"]);
    app.post(Who::ItStaff, &kept, &json!({"evidence": "Ticket 4411 closed"})).await.expect(200);
    let broken = format!("/v1/promises/{promise}/broken");
    post(&app, &broken, json!({"evidence": "Late"}), 409, "promise-already-settled").await;
    let unknown = format!("/v1/promises/{}/kept", Uuid::now_v7());
    post(&app, &unknown, json!({"evidence": "x"}), 404, "unknown-promise").await;
    // The agreement's standing promise is the gate's to settle.
    let (school, principal) = app.school_with_principal().await;
    let signed = app.sign(&school, &principal).await;
    let standing = signed["agreement"]["promise_id"].as_str().unwrap().to_owned();
    for outcome in ["kept", "broken"] {
        let path = format!("/v1/promises/{standing}/{outcome}");
        post(&app, &path, json!({"evidence": "By hand"}), 409, "standing-promise").await;
    }

    // Follow-ups.
    let body =
        |who: &str, due: &str| json!({"stakeholder_id": who, "about": "Check in", "due_on": due});
    post(&app, "/v1/follow-ups", body(&id, &in_days(-1)), 422, "date-too-early").await;
    post(
        &app,
        "/v1/follow-ups",
        body(&Uuid::now_v7().to_string(), &today()),
        422,
        "unknown-stakeholder",
    )
    .await;
    post(
        &app,
        "/v1/follow-ups",
        json!({"stakeholder_id": "dana", "due_on": "soon"}),
        422,
        "validation",
    )
    .await
    .expect_invalid_fields(&["stakeholder_id", "about", "due_on"]);
    let follow_up = app.follow_up(&id).await;
    let done = format!("/v1/follow-ups/{follow_up}/done");
    post(&app, &done, json!({"on": in_days(1)}), 422, "date-in-future").await;
    // Not before the day it was scheduled (today).
    let p = post(&app, &done, json!({"on": in_days(-1)}), 422, "date-too-early").await;
    assert_eq!(p.body["field"], "on");
    app.post(Who::ItStaff, &done, &json!({})).await.expect(200);
    post(&app, &done, json!({}), 409, "follow-up-already-done").await;
    let unknown = format!("/v1/follow-ups/{}/done", Uuid::now_v7());
    post(&app, &unknown, json!({}), 404, "unknown-follow-up").await;
    app.stop().await;
}

async fn malformed_requests_paths_and_queries(app: TestApp) {
    let id = app.person("Dana Whitfield", "principal", None).await;
    let follow_up = app.follow_up(&id).await;
    let writes = [
        (Method::PUT, format!("/v1/schools/{}", unique_school())),
        (Method::PUT, "/v1/schools/lincoln-elem/agreement".to_owned()),
        (Method::DELETE, "/v1/schools/lincoln-elem/agreement".to_owned()),
        (Method::POST, "/v1/stakeholders".to_owned()),
        (Method::PUT, format!("/v1/stakeholders/{id}")),
        (Method::POST, format!("/v1/stakeholders/{id}/conversations")),
        (Method::POST, format!("/v1/wishes/{}/progress", Uuid::now_v7())),
        (Method::POST, "/v1/promises".to_owned()),
        (Method::POST, format!("/v1/promises/{}/kept", Uuid::now_v7())),
        (Method::POST, format!("/v1/promises/{}/broken", Uuid::now_v7())),
        (Method::POST, "/v1/follow-ups".to_owned()),
        (Method::POST, format!("/v1/follow-ups/{follow_up}/done")),
    ];
    for (method, path) in writes {
        let head = app.head().await;
        let send = |content_type: &'static str, body: &'static str| {
            app.request(Who::ItStaff, method.clone(), &path)
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let reply = Reply::read(send("application/json", "{\"name\": ").await.unwrap()).await;
        let problem = reply.expect_problem(400, "malformed-json");
        assert_eq!(problem["title"], "Malformed JSON", "{method} {path}: {problem}");
        let reply = Reply::read(send("text/plain", "name=Lincoln").await.unwrap()).await;
        reply.expect_problem(415, "unsupported-media-type");
        // Not an object.
        let reply = Reply::read(send("application/json", "[1, 2]").await.unwrap()).await;
        reply.expect_problem(422, "validation");
        // The caller's role is checked before the body is read.
        let as_auditor = app.request(Who::Auditor, method.clone(), &path);
        let sent = as_auditor.header("content-type", "application/json").body("{\"name\": ");
        Reply::read(sent.send().await.unwrap()).await.expect_problem(403, "forbidden");
        assert_eq!(app.head().await, head, "{method} {path} wrote to the log");
    }
    // The path is checked before the body's fields.
    let bad_both = app.put(Who::ItStaff, "/v1/schools/Lincoln_Elem", &json!({"name": " "})).await;
    bad_both.expect_problem(400, "invalid-path");

    let bad_paths = [
        "/v1/schools/Lincoln_Elem",
        "/v1/stakeholders/dana",
        "/v1/wishes/7",
        "/v1/promises/not-a-uuid",
        "/v1/follow-ups/x",
    ]
    .map(|path| (path, "invalid-path"));
    let unknown = [
        (format!("/v1/schools/{}", unique_school()), "unknown-school"),
        (format!("/v1/stakeholders/{}", Uuid::now_v7()), "unknown-stakeholder"),
        (format!("/v1/wishes/{}", Uuid::now_v7()), "unknown-wish"),
        (format!("/v1/promises/{}", Uuid::now_v7()), "unknown-promise"),
        (format!("/v1/follow-ups/{}", Uuid::now_v7()), "unknown-follow-up"),
    ];
    for (path, slug) in unknown {
        app.get(Who::Auditor, &path).await.expect_problem(404, slug);
    }
    let bad_queries = [
        "/v1/schools?agreement_status=maybe",
        "/v1/schools?limit=0",
        "/v1/stakeholders?role=janitor",
        "/v1/stakeholders?school_id=Lincoln_Elem",
        "/v1/wishes?status=finished",
        "/v1/wishes?stakeholder_id=dana",
        "/v1/promises?status=pending",
        "/v1/promises?limit=1001",
        "/v1/follow-ups?status=late",
        "/v1/follow-ups?offset=-1",
    ]
    .map(|path| (path, "invalid-query"));
    for (path, slug) in bad_paths.into_iter().chain(bad_queries) {
        app.get(Who::Auditor, path).await.expect_problem(400, slug);
    }
    app.stop().await;
}
