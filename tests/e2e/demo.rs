//! `procgate demo` in both deployments (against `procgate serve`, and against the three
//! services on PostgreSQL, each at its own address): it finishes, the reports it points to
//! show non-trivial figures (response times in business hours over several months, clocks
//! met and breached), and a second run with the same seed adds nothing (the same bodies for
//! the same `external_ref`s, no second meeting, nothing handled twice).

use std::collections::BTreeMap;
use std::process::Output;

use crate::api::{Api, Who};
use crate::deployment::{Deployment, SECRET};

const SCHOOLS: usize = 15;
const CHECKS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_the_all_in_one_server_and_a_second_run_adds_nothing() {
    demo_twice(Deployment::all_in_one_embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_three_services_on_postgres_and_a_second_run_adds_nothing() {
    demo_twice(Deployment::three_services_on_postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_says_when_the_server_is_not_the_one_its_secret_belongs_to() {
    let mut d = Deployment::all_in_one_embedded().await;
    let other = [("PROCGATE_JWT_SECRET", "another-districts-secret-of-forty-bytes!!")];
    let out = d.procgate_with(&["demo", "--url", &d.gate, "--checks", "1"], &other).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the demo's token"), "{err}");
    assert!(err.contains("PROCGATE_DATA_DIR"), "{err}");
    assert!(d.stop().await.is_empty(), "the server had to be killed");
}

async fn demo_twice(mut d: Deployment) {
    let api = Api::new(SECRET);
    let reporting = d.reporting.clone();

    let first = demo(&d).await;
    assert!(first.contains(&format!("{CHECKS} checks:")), "{first}");
    assert!(first.contains(&format!("{reporting}/v1/reports/adoption")), "{first}");
    let after_first = event_counts(&api, &reporting).await;
    assert_eq!(after_first.get("school-registered"), Some(&SCHOOLS), "{after_first:?}");
    assert_eq!(after_first.get("purchase-submitted"), Some(&CHECKS), "{after_first:?}");
    // Each principal met in the round, and again when the school signed.
    assert_eq!(after_first.get("conversation-held"), Some(&(2 * SCHOOLS)), "{after_first:?}");
    assert_eq!(after_first.get("round-planned"), Some(&1), "{after_first:?}");
    assert!(after_first.get("spoke-for-it").is_some_and(|n| *n > 0), "{after_first:?}");

    // The figures are not trivial: every school signed by today (60% first); held, advisory
    // and handled purchases.
    let api_ref = &api;
    let report = |name: &str| {
        let url = format!("{reporting}/v1/reports/{name}");
        async move { api_ref.get(Who::It, &url).await }
    };
    let adoption = report("adoption").await;
    assert_eq!(adoption["schools"]["total"], SCHOOLS, "{adoption:#}");
    assert_eq!(adoption["schools"]["gated"], SCHOOLS, "{adoption:#}");
    let times = report("response-times").await;
    let held = times["all"]["held"].as_u64().unwrap_or_default();
    assert!(held > 0, "no held purchases: {times:#}");
    let open = times["all"]["open"].as_u64().unwrap_or_default();
    assert!(open >= 3, "the demo leaves the latest held purchases in the queue: {times:#}");
    assert!(first.contains(&format!("{open} held ones still wait for IT")), "{first}");
    assert_eq!(times["all"]["to_first_reached_call"]["count"], held - open, "{times:#}");
    // Entered after the fact over the school year behind today: the answers took business
    // hours, in several months; most clocks met their targets, some were breached.
    let hours = |stats: &serde_json::Value| stats["p50_business_hours"].as_f64().unwrap_or(0.0);
    assert!(hours(&times["all"]["to_first_reached_call"]) > 0.0, "{times:#}");
    assert!(hours(&times["all"]["to_resolution"]) > 0.0, "{times:#}");
    assert!(times["by_month"].as_array().unwrap().len() >= 3, "{times:#}");
    let sla = report("sla").await;
    let decision = &sla["all"]["decision"];
    let count = |clock: &serde_json::Value, field: &str| clock[field].as_u64().unwrap_or(0);
    for clock in [&sla["all"]["first_contact"], decision, &sla["all"]["advisory_outreach"]] {
        assert!(count(clock, "met") > count(clock, "breached"), "{sla:#}");
    }
    let first_contact = &sla["all"]["first_contact"];
    assert!(count(first_contact, "breached") + count(decision, "breached") > 0, "{sla:#}");
    assert!(sla["by_month"].as_array().unwrap().len() >= 3, "{sla:#}");
    // The statement's unchecked technology, beside the advisory purchases; both periods of the
    // schools that signed are compared over the days it covers.
    let rogue = report("rogue-spend").await;
    let totals = &rogue["totals"][0];
    assert!(totals["unchecked_transactions"].as_u64().unwrap_or_default() > 0, "{rogue:#}");
    assert!(totals["advisory_purchases"].as_u64().unwrap_or_default() > 0, "{rogue:#}");
    assert!(rogue["covered"]["days"].as_u64().unwrap_or_default() > 0, "{rogue:#}");
    assert!(!rogue["signing"].as_array().unwrap().is_empty(), "{rogue:#}");
    let promises = report("promises").await;
    assert!(promises["all"]["made"].as_u64().unwrap_or_default() > 0, "{promises:#}");
    let wishes = report("wishes").await;
    assert_eq!(wishes["all"]["wishes"], SCHOOLS, "{wishes:#}");
    let verify = api.get(Who::Auditor, &format!("{reporting}/v1/audit/verify")).await;
    assert_eq!(verify["ok"], true, "{verify:#}");

    // Again, the same seed: it succeeds and records no new fact.
    let second = demo(&d).await;
    assert!(second.contains("0 new stakeholders"), "{second}");
    let after_second = event_counts(&api, &reporting).await;
    for kind in [
        "school-registered",
        "stakeholder-registered",
        "conversation-held",
        "promise-made",
        "promise-kept",
        "promise-broken",
        "round-planned",
        "spoke-for-it",
        "followup-scheduled",
        "followup-done",
        "wish-progressed",
        "agreement-signed",
        "purchase-submitted",
        "call-logged",
        "alternative-proposed",
        "alternative-accepted",
        "purchase-approved",
        "purchase-cancelled",
        "card-registered",
        "reconciliation-set",
        "statement-imported",
        "card-transaction-recorded",
        "card-transaction-matched",
        "card-transaction-ambiguous",
        "card-transaction-flagged",
    ] {
        assert_eq!(
            after_second.get(kind),
            after_first.get(kind),
            "a second run appended {kind} events\nfirst run:\n{first}\nsecond run:\n{second}"
        );
    }
    assert!(d.stop().await.is_empty(), "the server had to be killed");
}

/// Runs `procgate demo` against the deployment and returns what it printed.
async fn demo(d: &Deployment) -> String {
    let (schools, checks) = (SCHOOLS.to_string(), CHECKS.to_string());
    let args = [
        "demo",
        "--gate-url",
        &d.gate,
        "--stakeholders-url",
        &d.stakeholders,
        "--reporting-url",
        &d.reporting,
        "--seed",
        "7",
        "--schools",
        &schools,
        "--checks",
        &checks,
    ];
    let Output { status, stdout, stderr } = d.procgate(&args).await;
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "procgate demo failed ({status}):\n{stdout}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// How many events of each type the log holds, read through the feed page by page.
async fn event_counts(api: &Api, reporting: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut after = 0;
    loop {
        let url = format!("{reporting}/v1/events?after={after}&limit=1000");
        let page = api.get(Who::Auditor, &url).await;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        for event in &events {
            *counts.entry(event["type"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
        }
        let next = page["next_after"].as_u64().expect("next_after");
        if events.is_empty() || Some(next) == page["head"].as_u64() {
            return counts;
        }
        after = next;
    }
}
