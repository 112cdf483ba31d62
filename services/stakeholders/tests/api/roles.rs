//! Every endpoint with every role: IT staff and admins write; every role but finance reads;
//! 401 without a valid token (with a challenge), 403 for the wrong role; and a refused
//! request writes nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{
    Calls, TestApp, Who, conversation, in_days, person_body, today, unique_school,
};

on_both_backends!(every_endpoint_with_every_role);

/// The service's endpoints (API.md, "Stakeholder relations service", and the few reads and
/// the profile update it adds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    ListSchools,
    GetSchool,
    PutSchool,
    SignAgreement,
    WithdrawAgreement,
    ListStakeholders,
    RegisterStakeholder,
    GetStakeholder,
    UpdateStakeholder,
    HoldConversation,
    ListWishes,
    GetWish,
    ProgressWish,
    ListPromises,
    MakePromise,
    GetPromise,
    KeepPromise,
    BreakPromise,
    ListFollowUps,
    ScheduleFollowUp,
    GetFollowUp,
    CompleteFollowUp,
}

impl Endpoint {
    const ALL: [Endpoint; 22] = [
        Endpoint::ListSchools,
        Endpoint::GetSchool,
        Endpoint::PutSchool,
        Endpoint::SignAgreement,
        Endpoint::WithdrawAgreement,
        Endpoint::ListStakeholders,
        Endpoint::RegisterStakeholder,
        Endpoint::GetStakeholder,
        Endpoint::UpdateStakeholder,
        Endpoint::HoldConversation,
        Endpoint::ListWishes,
        Endpoint::GetWish,
        Endpoint::ProgressWish,
        Endpoint::ListPromises,
        Endpoint::MakePromise,
        Endpoint::GetPromise,
        Endpoint::KeepPromise,
        Endpoint::BreakPromise,
        Endpoint::ListFollowUps,
        Endpoint::ScheduleFollowUp,
        Endpoint::GetFollowUp,
        Endpoint::CompleteFollowUp,
    ];

    fn is_read(self) -> bool {
        matches!(
            self,
            Endpoint::ListSchools
                | Endpoint::GetSchool
                | Endpoint::ListStakeholders
                | Endpoint::GetStakeholder
                | Endpoint::ListWishes
                | Endpoint::GetWish
                | Endpoint::ListPromises
                | Endpoint::GetPromise
                | Endpoint::ListFollowUps
                | Endpoint::GetFollowUp
        )
    }

    /// The status `who` gets.
    fn expected(self, who: Who, success: u16) -> u16 {
        match who {
            Who::Nobody | Who::BadToken => 401,
            Who::Finance | Who::NoRole => 403,
            Who::Auditor if !self.is_read() => 403,
            Who::Auditor | Who::ItStaff | Who::Admin => success,
        }
    }
}

/// A request, and the status it gets from a caller allowed to make it.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    success: u16,
}

fn call(method: Method, path: String, body: Option<Value>, success: u16) -> Call {
    Call { method, path, body, success }
}

async fn teacher(app: &TestApp) -> String {
    app.person("Sam Ortiz", "teacher", None).await
}

/// Makes what the endpoint acts on (as IT staff), and the request to send.
async fn prepare(app: &TestApp, endpoint: Endpoint) -> Call {
    use Endpoint as E;
    match endpoint {
        E::ListSchools => call(Method::GET, "/v1/schools".into(), None, 200),
        E::GetSchool => {
            let school = unique_school();
            app.school(&school, "Jefferson High").await;
            call(Method::GET, format!("/v1/schools/{school}"), None, 200)
        }
        E::PutSchool => {
            let path = format!("/v1/schools/{}", unique_school());
            call(Method::PUT, path, Some(json!({"name": "Jefferson High"})), 201)
        }
        E::SignAgreement => {
            let (school, principal) = app.school_with_principal().await;
            let body = json!({"principal_id": principal, "signed_on": today()});
            call(Method::PUT, format!("/v1/schools/{school}/agreement"), Some(body), 201)
        }
        E::WithdrawAgreement => {
            let (school, principal) = app.school_with_principal().await;
            app.sign(&school, &principal).await;
            let body = json!({"reason": "The new principal wants to review it"});
            call(Method::DELETE, format!("/v1/schools/{school}/agreement"), Some(body), 200)
        }
        E::ListStakeholders => call(Method::GET, "/v1/stakeholders".into(), None, 200),
        E::RegisterStakeholder => {
            let body = person_body("Lee Park", "librarian", None);
            call(Method::POST, "/v1/stakeholders".into(), Some(body), 201)
        }
        E::GetStakeholder => {
            let id = teacher(app).await;
            call(Method::GET, format!("/v1/stakeholders/{id}"), None, 200)
        }
        E::UpdateStakeholder => {
            let id = teacher(app).await;
            let body = person_body("Sam Ortiz", "instruction_lead", None);
            call(Method::PUT, format!("/v1/stakeholders/{id}"), Some(body), 200)
        }
        E::HoldConversation => {
            let id = teacher(app).await;
            let path = format!("/v1/stakeholders/{id}/conversations");
            call(Method::POST, path, Some(conversation()), 201)
        }
        E::ListWishes => call(Method::GET, "/v1/wishes".into(), None, 200),
        E::GetWish | E::ProgressWish => {
            let id = teacher(app).await;
            let wish = app.converse(&id).await["wish"]["wish_id"].as_str().unwrap().to_owned();
            if endpoint == E::GetWish {
                call(Method::GET, format!("/v1/wishes/{wish}"), None, 200)
            } else {
                let body = json!({"note": "Ten loaners staged", "status": "in_progress"});
                call(Method::POST, format!("/v1/wishes/{wish}/progress"), Some(body), 201)
            }
        }
        E::ListPromises => call(Method::GET, "/v1/promises".into(), None, 200),
        E::MakePromise => {
            let id = teacher(app).await;
            let body = json!({
                "to": {"type": "stakeholder", "stakeholder_id": id},
                "text": "Projector fixed by Friday", "due_on": in_days(3),
            });
            call(Method::POST, "/v1/promises".into(), Some(body), 201)
        }
        E::GetPromise | E::KeepPromise | E::BreakPromise => {
            let id = teacher(app).await;
            let promise = app.promise_to(&id).await;
            let evidence = json!({"evidence": "Ticket 4411 closed"});
            match endpoint {
                E::GetPromise => call(Method::GET, format!("/v1/promises/{promise}"), None, 200),
                E::KeepPromise => {
                    call(Method::POST, format!("/v1/promises/{promise}/kept"), Some(evidence), 200)
                }
                _ => call(
                    Method::POST,
                    format!("/v1/promises/{promise}/broken"),
                    Some(evidence),
                    200,
                ),
            }
        }
        E::ListFollowUps => call(Method::GET, "/v1/follow-ups".into(), None, 200),
        E::ScheduleFollowUp => {
            let id = teacher(app).await;
            let body = json!({"stakeholder_id": id, "about": "Check in", "due_on": in_days(1)});
            call(Method::POST, "/v1/follow-ups".into(), Some(body), 201)
        }
        E::GetFollowUp | E::CompleteFollowUp => {
            let id = teacher(app).await;
            let follow_up = app.follow_up(&id).await;
            if endpoint == E::GetFollowUp {
                call(Method::GET, format!("/v1/follow-ups/{follow_up}"), None, 200)
            } else {
                let body = json!({"note": "Going well"});
                call(Method::POST, format!("/v1/follow-ups/{follow_up}/done"), Some(body), 200)
            }
        }
    }
}

async fn every_endpoint_with_every_role(app: TestApp) {
    for endpoint in Endpoint::ALL {
        for who in Who::ALL {
            let call = prepare(&app, endpoint).await;
            let head = app.head().await;
            let reply = app.send(who, call.method.clone(), &call.path, call.body.as_ref()).await;
            let expected = endpoint.expected(who, call.success);
            let context = format!("{endpoint:?} as {who:?}: {} {}", call.method, call.path);
            assert_eq!(reply.status, expected, "{context}: {}", reply.text);
            match expected {
                401 => {
                    reply.expect_problem(401, "unauthorized");
                    assert!(reply.header("www-authenticate").starts_with("Bearer"), "{context}");
                }
                403 => {
                    reply.expect_problem(403, "forbidden");
                }
                _ => {
                    assert!(reply.body.is_object(), "{context}: {}", reply.text);
                }
            }
            if expected >= 400 || endpoint.is_read() {
                assert_eq!(app.head().await, head, "{context} wrote to the log");
            } else {
                assert!(app.head().await > head, "{context} wrote nothing");
            }
        }
    }
    app.stop().await;
}
