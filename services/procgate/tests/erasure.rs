//! Erasing a person, end to end against the real `procgate serve` on PostgreSQL and on the
//! embedded store, after `procgate demo` filled it: before, their name, address and words are
//! in their profile, the reports and the log; after `DELETE /v1/stakeholders/{id}/personal-data`
//! they are nowhere (profiles and lists, every report as JSON and as CSV, every page of the
//! feed, the live stream from the start, their streams, the replay of purchases they were
//! called about), while the chain verifies, through the API and `procgate audit verify`. A
//! purchase's `requester_email` is the purchasing record's and stays (see `kernel::privacy`).

mod support;

use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Api, Server};
use testkit::Backend;

testkit::on_each_backend!(an_erased_person_reads_as_erased_everywhere_and_the_log_verifies);

impl Api {
    /// Every event of the feed, page by page from the start.
    async fn feed(&self) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.json(&format!("/v1/events?after={after}&limit=500")).await;
            all.extend(page["events"].as_array().unwrap().iter().cloned());
            let (next, head) =
                (page["next_after"].as_u64().unwrap(), page["head"].as_u64().unwrap());
            if next >= head || next == after {
                return all;
            }
            after = next;
        }
    }

    /// The live stream from the start, until it has sent the event at `head`.
    async fn live(&self, head: u64) -> String {
        let response = self
            .client
            .get(format!("{}/v1/events/live?after=0", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.bytes_stream();
        let mut text = String::new();
        let until = format!("id: {head}\n");
        let read = async {
            while let Some(chunk) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                if text.contains(&until) {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read).await.expect("the live stream ends");
        text
    }
}

/// Everything a reader may see: views, reports (JSON and CSV), the feed, the live stream.
async fn everything(api: &Api, person: &str, purchases: &[String]) -> String {
    let mut all = vec![
        api.text(&format!("/v1/stakeholders/{person}")).await,
        api.text("/v1/stakeholders").await,
        api.text("/v1/wishes").await,
        api.text("/v1/promises").await,
        api.text("/v1/follow-ups").await,
        api.text("/v1/schools").await,
        api.text(&format!("/v1/streams/stakeholder-{person}")).await,
    ];
    for report in [
        "/v1/reports/coverage",
        "/v1/reports/going-cold",
        "/v1/reports/advocates",
        "/v1/reports/wishes",
        "/v1/reports/promises",
        "/v1/reports/adoption",
        "/v1/reports/response-times",
        "/v1/reports/rogue-spend",
        "/v1/reports/sla",
    ] {
        all.push(api.text(report).await);
        if !report.ends_with("advocates") && !report.ends_with("coverage") {
            all.push(api.text(&format!("{report}?format=csv")).await);
        }
    }
    for purchase in purchases {
        all.push(api.text(&format!("/v1/purchases/{purchase}")).await);
        all.push(api.text(&format!("/v1/audit/purchases/{purchase}")).await);
    }
    all.push(Value::from(api.feed().await).to_string());
    let head = api.json("/v1/audit/verify").await["checked"].as_u64().unwrap();
    all.push(api.live(head).await);
    all.join("\n")
}

async fn an_erased_person_reads_as_erased_everywhere_and_the_log_verifies(backend: Backend) {
    let database = support::database_for(backend).await;
    let env =
        support::quiet_env(database.as_ref(), "the-erasure-test-webhook-key-of-at-least-32-bytes");
    let server = tokio::task::block_in_place(|| {
        let server = Server::start(&env);
        server.demo(4, 40);
        server
    });
    let token = server.token("admin@district.example", &["admin", "it_staff", "auditor"]);
    let api = Api::new(&server, token);

    // A principal IT met, and the purchases where IT spoke with them on a call.
    let people = api.json("/v1/stakeholders?role=principal").await;
    let mut met = None;
    for person in people["stakeholders"].as_array().expect("a list of principals") {
        let id = person["stakeholder_id"].as_str().unwrap().to_owned();
        let profile = api.json(&format!("/v1/stakeholders/{id}")).await;
        if profile["conversations"].as_array().is_some_and(|c| !c.is_empty()) {
            met = Some((id, profile));
            break;
        }
    }
    let (id, profile) = met.expect("the demo meets principals");
    let name = profile["name"].as_str().unwrap().to_owned();
    let email = profile["email"].as_str().unwrap().to_owned();
    // What only they are (the demo's visions come from a few shared sentences).
    let secrets = [format!("\"{name}\""), email.clone()];
    // A held purchase's requester, registered as a person, and reached on a call about it.
    let held = api.json("/v1/purchases?status=held").await;
    let purchase = held["purchases"][0].clone();
    let purchase_id = purchase["purchase_id"].as_str().expect("the demo leaves held purchases");
    let requester = json!({
        "name": "Robin Quartermain", "email": purchase["requester_email"], "role": "other",
        "school_id": purchase["school_id"],
    });
    let (status, text) = api.call(Method::POST, "/v1/stakeholders", Some(&requester)).await;
    assert_eq!(status, 201, "{text}");
    let robin = serde_json::from_str::<Value>(&text).unwrap()["stakeholder_id"].clone();
    let call = json!({"requester_reached": true, "goal": "Robin wants tablets for the choir",
                      "notes": "Robin prefers texts to calls"});
    let calls = format!("/v1/purchases/{purchase_id}/calls");
    let (status, text) = api.call(Method::POST, &calls, Some(&call)).await;
    assert_eq!(status, 201, "{text}");
    let view = api.json(&format!("/v1/purchases/{purchase_id}")).await.to_string();
    assert!(view.contains(robin.as_str().unwrap()), "the call names whom IT reached: {view}");
    let secrets = [
        &secrets[..],
        &["Robin Quartermain".into(), "tablets for the choir".into(), "prefers texts".into()],
    ]
    .concat();
    let purchases = vec![purchase_id.to_owned()];
    let before = everything(&api, &id, &purchases).await;
    for secret in &secrets {
        assert!(before.contains(secret.as_str()), "{secret} is not shown before the erasure");
    }

    let reason = json!({"reason": "Left the district and asked to be forgotten"});
    let path = format!("/v1/stakeholders/{id}/personal-data");
    let (status, answer) = api.call(Method::DELETE, &path, Some(&reason)).await;
    assert_eq!(status, 200, "{answer}");
    let path = format!("/v1/stakeholders/{}/personal-data", robin.as_str().unwrap());
    let (status, answer) = api.call(Method::DELETE, &path, Some(&reason)).await;
    assert_eq!(status, 200, "{answer}");

    let after = everything(&api, &id, &purchases).await;
    for secret in &secrets {
        assert!(!after.contains(secret.as_str()), "{secret} still shows after the erasure");
    }
    assert!(after.contains("(erased)"));
    let profile = api.json(&format!("/v1/stakeholders/{id}")).await;
    assert_eq!(profile["name"], "(erased)");
    assert!(profile["erased_at"].is_string());
    for talk in profile["conversations"].as_array().unwrap() {
        assert_eq!(talk["their_vision"], "(erased)", "{talk}");
    }
    let stream = api.json(&format!("/v1/streams/stakeholder-{id}")).await.to_string();
    assert!(!stream.contains(&email) && stream.contains("(erased)"), "{stream}");

    // The chain covers the ciphertext: verified through the API and the command line.
    let verify = api.json("/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_procgate"));
    command.args(["audit", "verify"]).env("PROCGATE_DATA_DIR", server.data_dir.path());
    match &database {
        Some(database) => command.env("PROCGATE_DATABASE_URL", database.url()),
        None => command.env_remove("PROCGATE_DATABASE_URL"),
    };
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
