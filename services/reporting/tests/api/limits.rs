//! Resource limits: a subject's budget of writes and of expensive reads, and of live streams.
//! Each test runs in its own process (nextest), so the process-wide limits it installs are its
//! own.

use auth::Role;
use reporting::Settings;
use serde_json::json;
use testkit::Backend;

use crate::common::{TestApp, header};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_past_its_budget_is_told_when_to_come_back() {
    assert!(kernel::http::limits::install(kernel::http::RateLimits::per_minute(3, 2)));
    let app = TestApp::spawn(Backend::Sqlite).await;
    let put = |subject: &str| {
        app.client
            .put(format!("{}/v1/subscriptions/feed-{subject}", app.base))
            .bearer_auth(app.token_for(subject, &[Role::Integration]))
            .json(&json!({}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(put("erp").await.unwrap().status().as_u16() / 100, 2);
    }
    let refused = put("erp").await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "https://procgate.dev/problems/rate-limited");
    assert_eq!(put("other-erp").await.unwrap().status().as_u16() / 100, 2, "its own budget");
    // Ordinary reads are not limited; reports are.
    for _ in 0..10 {
        assert_eq!(
            app.get("/v1/events", Some(&[Role::Auditor])).send().await.unwrap().status(),
            200
        );
    }
    for _ in 0..2 {
        let res = app.get("/v1/reports/adoption", Some(&[Role::Auditor])).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = app.get("/v1/reports/adoption", Some(&[Role::Auditor])).send().await.unwrap();
    assert_eq!(res.status(), 429);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_may_hold_only_so_many_live_streams() {
    // A short heartbeat: the server learns a client has gone when a write to it fails.
    let settings = Settings {
        live_streams_per_subject: 2,
        heartbeat: std::time::Duration::from_millis(100),
        ..Settings::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, settings).await;
    let open = || app.get("/v1/events/live", Some(&[Role::Auditor])).send();
    let (first, second) = (open().await.unwrap(), open().await.unwrap());
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    let third = open().await.unwrap();
    assert_eq!(third.status(), 429);
    assert_eq!(header(&third, "retry-after"), "5");
    // Closing one frees a place.
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let res = open().await.unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the closed stream was never released");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(second);
    app.stop().await;
}
