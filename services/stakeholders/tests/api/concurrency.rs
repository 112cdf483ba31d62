//! Commands at the same moment. Within an instance, commands on a stream take turns; two
//! instances on one database meet at the append's expected version, where the loser reads and
//! decides again. Nothing is lost and nothing is doubled.
//!
//! Several instances are a PostgreSQL deployment (the SQLite store is one process's), so the
//! two-instance case runs on PostgreSQL; on SQLite the same requests go to one instance.

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::common::{Backend, Calls, Reply, TestApp, Who, conversation, today};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_at_the_same_moment() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let second = app.second_instance().await;
    at_the_same_moment(&app, &[app.base.clone(), second]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_on_sqlite_at_the_same_moment() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    at_the_same_moment(&app, std::slice::from_ref(&app.base)).await;
}

/// Sends each batch of requests at once, spread over the instances at `bases`.
async fn at_the_same_moment(app: &TestApp, bases: &[String]) {
    let send = |i: usize, method: Method, path: String, body: serde_json::Value| {
        let req = app
            .client
            .request(method, format!("{}{path}", bases[i % bases.len()]))
            .bearer_auth(app.token(Who::ItStaff))
            .json(&body);
        async move { Reply::read(req.send().await.unwrap()).await }
    };

    // Six signatures at once: one signs, the others find it signed so already.
    let (school, principal) = app.school_with_principal().await;
    let path = format!("/v1/schools/{school}/agreement");
    let body = json!({"principal_id": principal, "signed_on": today()});
    let replies = join_all((0..6).map(|i| send(i, Method::PUT, path.clone(), body.clone()))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 201], "{replies:#?}");
    for repeat in replies.iter().filter(|r| r.status == 200) {
        assert_eq!(repeat.body["agreement"]["principal_id"], json!(principal), "{repeat:?}");
    }
    let filter = eventlog::Filter::all().with_types(["agreement-signed", "promise-made"]);
    let written = app.store.read_all(0, &filter, 100).await.unwrap();
    assert_eq!(written.len(), 2, "one signature and its one promise: {written:#?}");

    // Six conversations at once with one person: all recorded, each with its wish.
    let path = format!("/v1/stakeholders/{principal}/conversations");
    let replies =
        join_all((0..6).map(|i| send(i, Method::POST, path.clone(), conversation()))).await;
    for reply in &replies {
        reply.expect(201);
    }
    let profile = app.get(Who::Auditor, &format!("/v1/stakeholders/{principal}")).await;
    let profile = profile.expect(200);
    assert_eq!(profile["conversations"].as_array().unwrap().len(), 6);
    assert_eq!(profile["wishes"].as_array().unwrap().len(), 6);
    let versions = app
        .store
        .read_stream_to_end(&eventlog::StreamName::new(format!("stakeholder-{principal}")).unwrap())
        .await
        .unwrap();
    assert_eq!(versions.iter().map(|e| e.version).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>());
    app.stop().await;
}
