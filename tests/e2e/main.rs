//! The whole story, end to end, against the real `procgate` binary run as separate processes,
//! in both deployments:
//!
//! - (a) `procgate serve`: the three services in one process, on the embedded store;
//! - (b) `procgate serve gate`, `… stakeholders`, `… reporting`: three processes on one
//!   PostgreSQL database (`testkit::pg_database()`), each on its own port, the test talking to
//!   each service's own address.
//!
//! The story (one function, [`story`]): IT registers ten schools and their principals and meets
//! each principal (vision, two stars and a wish); 60% of the schools sign the purchasing
//! agreement; IT sets the catalog and the policy; finance checks purchases (approved, held,
//! advisory, not technology, over the threshold); IT calls, proposes alternatives, cancels one
//! (refused with `call-required` until a reached call and an alternative came first) and
//! approves one through an accepted alternative; IT keeps a promise and makes headway on every
//! wish; the reports show it (adoption 60%, then 100% once the other schools sign; response
//! times; rogue spend; promises); an auditor replays the cancelled purchase and verifies the
//! chain (over HTTP, and with `procgate audit verify` as a command); an outside consumer reads
//! the whole feed page by page and follows the live stream.
//!
//! Beside the story, [`demo`] runs `procgate demo` in both deployments: it finishes, the
//! reports show non-trivial figures, and running it again with the same seed adds nothing.
//!
//! Run with a PostgreSQL server for (b): `PROCGATE_TEST_DATABASE_URL=postgres://… cargo test -p e2e`
//! (see `testkit`). The `procgate` binary is built first if it is missing (see [`deployment`]).

mod api;
mod demo;
mod deployment;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use api::{Api, FINANCE, IT, Who, text};
use deployment::{Deployment, SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_on_the_all_in_one_server_and_the_embedded_store() {
    let mut deployment = Deployment::all_in_one_embedded().await;
    story(&mut deployment).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_on_three_services_sharing_one_postgres_database() {
    let mut deployment = Deployment::three_services_on_postgres().await;
    story(&mut deployment).await;
}

/// The district's schools: (slug, name). The first six sign the agreement at first.
const SCHOOLS: [(&str, &str); 10] = [
    ("lincoln-elem", "Lincoln Elementary"),
    ("washington-elem", "Washington Elementary"),
    ("roosevelt-middle", "Roosevelt Middle School"),
    ("jefferson-high", "Jefferson High School"),
    ("madison-elem", "Madison Elementary"),
    ("franklin-middle", "Franklin Middle School"),
    ("kennedy-high", "Kennedy High School"),
    ("adams-elem", "Adams Elementary"),
    ("hamilton-middle", "Hamilton Middle School"),
    ("carver-high", "Carver High School"),
];
const SIGN_FIRST: usize = 6;

const PRINCIPALS: [&str; 10] = [
    "Maria Garcia",
    "James Johnson",
    "Aisha Okafor",
    "Daniel Nguyen",
    "Mei Chen",
    "Robert Smith",
    "Priya Patel",
    "Carlos Rivera",
    "Hannah Kim",
    "Omar Haddad",
];
const VISIONS: [&str; 3] = [
    "Every student reads at grade level by third grade, with devices in every classroom.",
    "A maker space where students build robots and learn to code after school.",
    "Families can follow their children's progress online, in their own language.",
];
const STARS: [[&str; 2]; 3] = [
    ["Laptop repairs come back within two days", "The help desk answers the phone"],
    ["Wi-Fi in the gym finally works", "Password resets are quick"],
    ["Chromebook carts are always charged", "IT staff explain things without jargon"],
];
const WISHES: [&str; 3] = [
    "A faster way to buy classroom apps",
    "Loaner devices while laptops are in repair",
    "A clear list of what we can buy without asking",
];

/// A school as the story knows it.
#[derive(Debug, Clone)]
struct School {
    id: &'static str,
    principal_id: String,
}

fn line(sku: Option<&str>, description: &str, category: &str, quantity: u32, price: &str) -> Value {
    json!({"sku": sku, "description": description, "category": category,
           "quantity": quantity, "unit_price": price})
}

fn codes(reasons: &Value) -> Vec<&str> {
    reasons.as_array().expect("reasons").iter().map(|r| r["code"].as_str().unwrap()).collect()
}

/// Finance checks the new purchase `body` at `url`: the answer, which must decide `decision`
/// for `reasons`.
async fn checked(api: &Api, url: &str, body: &Value, decision: &str, reasons: &[&str]) -> Value {
    let answer = api.post(Who::Finance, url, body).await.expect(201);
    assert_eq!(answer["decision"], decision, "{answer:#}");
    assert_eq!(codes(&answer["reasons"]), reasons, "{answer:#}");
    answer
}

/// The story, asserting as it goes.
async fn story(d: &mut Deployment) {
    let api = Api::new(SECRET);
    let (gate, people, reporting) = (d.gate.clone(), d.stakeholders.clone(), d.reporting.clone());
    let today = Utc::now().date_naive();
    eprintln!("e2e: {} (gate {gate}, stakeholders {people}, reporting {reporting})", d.name);

    if d.separate() {
        // Each process serves its own service only.
        let other = api.send(Who::It, Method::GET, &format!("{gate}/v1/schools"), None).await;
        assert_eq!(other.status, 404, "the gate process serves stakeholder paths: {other:?}");
        let other = api.send(Who::It, Method::GET, &format!("{people}/v1/catalog"), None).await;
        assert_eq!(other.status, 404, "the stakeholder process serves gate paths: {other:?}");
    }

    // ---- IT registers the schools and their principals, and meets each principal. ----------
    let mut schools = Vec::new();
    for (n, (id, name)) in SCHOOLS.into_iter().enumerate() {
        let url = format!("{people}/v1/schools/{id}");
        let school = api.put(Who::It, &url, &json!({"name": name})).await.expect(201);
        assert_eq!(school["school_id"], id);
        assert_eq!(school["agreement_status"], "never_signed");
        assert_eq!(school["gated"], false);

        let principal = json!({
            "name": PRINCIPALS[n], "email": format!("principal@{id}.district.org"),
            "phone": format!("555-01{n:02}"), "role": "principal", "school_id": id});
        let principal =
            api.post(Who::It, &format!("{people}/v1/stakeholders"), &principal).await.expect(201);
        let principal_id = text(&principal, "stakeholder_id");
        assert_eq!(principal["role"], "principal");
        assert_eq!(principal["school_id"], id);

        // On their turf: their vision, two stars and a wish.
        let held_at = (Utc::now() - TimeDelta::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let meeting = json!({
            "held_at": held_at, "location": format!("{name}, the principal's office"),
            "their_vision": VISIONS[n % 3], "stars": STARS[n % 3], "wish": WISHES[n % 3],
            "notes": "Tied their vision to the district's technology plan."});
        let url = format!("{people}/v1/stakeholders/{principal_id}/conversations");
        let met = api.post(Who::It, &url, &meeting).await.expect(201);
        assert_eq!(met["stakeholder_id"], principal_id.as_str());
        assert_eq!(met["conversation"]["their_vision"], VISIONS[n % 3]);
        assert_eq!(met["conversation"]["stars"], json!(STARS[n % 3]));
        assert_eq!(met["wish"]["text"], WISHES[n % 3]);
        assert_eq!(met["wish"]["status"], "open");
        assert_eq!(met["wish"]["school_id"], id);
        schools.push(School { id, principal_id });
    }
    // Registering a school again is harmless.
    let again = format!("{people}/v1/schools/{}", SCHOOLS[0].0);
    api.put(Who::It, &again, &json!({"name": SCHOOLS[0].1})).await.expect(200);
    // IT remembers what each principal said.
    let profile =
        api.get(Who::It, &format!("{people}/v1/stakeholders/{}", schools[0].principal_id)).await;
    assert_eq!(profile["conversations"].as_array().unwrap().len(), 1, "{profile:#}");
    assert_eq!(profile["conversations"][0]["their_vision"], VISIONS[0]);
    assert_eq!(profile["wishes"][0]["text"], WISHES[0]);
    assert_eq!(profile["health"]["conversations"], 1);

    // ---- 60% of the schools sign the purchasing agreement (their principal signs). --------
    let signed_on = (today - TimeDelta::days(1)).to_string();
    for school in &schools[..SIGN_FIRST] {
        sign(&api, &people, school, &signed_on).await;
    }
    let list = api.get(Who::It, &format!("{people}/v1/schools")).await;
    let listed = list["schools"].as_array().unwrap();
    assert_eq!(listed.len(), SCHOOLS.len());
    let gated: HashSet<&str> = listed
        .iter()
        .filter(|s| s["gated"] == true)
        .map(|s| s["school_id"].as_str().unwrap())
        .collect();
    assert_eq!(gated, SCHOOLS[..SIGN_FIRST].iter().map(|(id, _)| *id).collect());

    // ---- IT sets the catalog and the policy. ----------------------------------------------
    let check_url = format!("{gate}/v1/purchase-checks");
    let early = purchase(
        "EARLY-1",
        "lincoln-elem",
        "Dell",
        vec![line(Some("LAT-5440"), "Latitude", "laptops", 1, "899.00")],
    );
    api.post(Who::Finance, &check_url, &early).await.problem(503, "no-policy");
    for (id, name, approved) in [
        ("dell", "Dell Technologies", true),
        ("apple", "Apple", true),
        ("gadget-barn", "Gadget Barn", false),
        ("marketplace", "Online Marketplace", false),
    ] {
        let url = format!("{gate}/v1/catalog/vendors/{id}");
        api.put(Who::It, &url, &json!({"name": name, "approved": approved})).await.expect(200);
    }
    for (sku, name, category, vendor) in [
        ("LAT-5440", "Dell Latitude 5440", "laptops", "dell"),
        ("IPAD-10", "iPad 10th generation", "tablets", "apple"),
    ] {
        let url = format!("{gate}/v1/catalog/products/{sku}");
        let body = json!({"name": name, "category": category, "vendor_id": vendor});
        api.put(Who::It, &url, &body).await.expect(200);
    }
    let policy = json!({
        "technology_categories": ["laptops", "chromebooks", "tablets", "peripherals", "av-equipment", "software"],
        "non_technology_categories": ["supplies", "office-supplies", "furniture"],
        "technology_mccs": ["5045", "5732", "5734"],
        "review_threshold": "5000.00", "currency": "USD"});
    let catalog = api.put(Who::It, &format!("{gate}/v1/catalog/policy"), &policy).await.expect(200);
    assert_eq!(catalog["products"].as_array().unwrap().len(), 2);
    assert_eq!(catalog["vendors"].as_array().unwrap().len(), 4);
    let policy_version = catalog["version"].as_u64().unwrap();
    assert_eq!(
        api.get(Who::Finance, &format!("{gate}/v1/catalog")).await["version"],
        policy_version
    );

    // ---- Finance checks purchases. -----------------------------------------------------------
    // Supported technology at a signed school: approved.
    let supported = purchase(
        "PO-1001",
        "lincoln-elem",
        "Dell",
        vec![line(Some("LAT-5440"), "Latitude 5440 for the front office", "laptops", 2, "899.00")],
    );
    let answer = checked(&api, &check_url, &supported, "approved", &["in-catalog"]).await;
    assert_eq!(answer["total"], "1798.00");
    assert_eq!(answer["policy_version"], policy_version);
    let approved_id = text(&answer, "purchase_id");
    // The same question again gets the same answer, never a second purchase; another body under
    // the same external_ref is a conflict.
    let repeat = api.post(Who::Finance, &check_url, &supported).await.expect(200);
    assert_eq!(repeat, answer);
    let mut changed = supported.clone();
    changed["lines"][0]["quantity"] = json!(3);
    api.post(Who::Finance, &check_url, &changed).await.problem(409, "idempotency-conflict");

    // Unsupported technology at a signed school: held.
    let smart_board = purchase_by_card(
        "PC-2001",
        "washington-elem",
        "Gadget Barn",
        vec![line(None, "Interactive smart board from a trade show", "av-equipment", 1, "2499.00")],
    );
    let answer =
        checked(&api, &check_url, &smart_board, "held", &["not-in-catalog", "vendor-not-approved"])
            .await;
    assert_eq!(answer["reasons"][0]["line"], 0);
    assert_eq!(answer["school_gated"], true);
    let held_id = text(&answer, "purchase_id");

    // Unsupported technology at a school that has not signed: advisory.
    let gaming = purchase_by_card(
        "PC-3001",
        "kennedy-high",
        "Online Marketplace",
        vec![line(None, "Gaming laptops for the esports club", "laptops", 2, "1299.00")],
    );
    let answer = checked(
        &api,
        &check_url,
        &gaming,
        "advisory",
        &["not-in-catalog", "vendor-not-approved", "school-not-gated"],
    )
    .await;
    assert_eq!(answer["school_gated"], false);
    let advisory_id = text(&answer, "purchase_id");

    // Not technology at all: approved, saying so.
    let paper = purchase(
        "PO-4001",
        "roosevelt-middle",
        "Office Depot",
        vec![line(None, "Copy paper, 10 cases", "supplies", 10, "42.50")],
    );
    let answer = checked(&api, &check_url, &paper, "approved", &["not-technology"]).await;
    assert_eq!(answer["total"], "425.00");

    // Supported, but over the review threshold, at a signed school: held.
    let laptops = purchase(
        "PO-5001",
        "jefferson-high",
        "Dell",
        vec![line(Some("LAT-5440"), "Latitude 5440 for the computer lab", "laptops", 10, "899.00")],
    );
    let answer =
        checked(&api, &check_url, &laptops, "held", &["in-catalog", "over-review-threshold"]).await;
    assert_eq!(answer["total"], "8990.00");
    let over_id = text(&answer, "purchase_id");

    // IT's queue: the held purchases, oldest first.
    let queue = api.get(Who::It, &format!("{gate}/v1/purchases?status=held")).await;
    let queued: Vec<&str> = queue["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["purchase_id"].as_str().unwrap())
        .collect();
    assert_eq!(queued, [held_id.as_str(), over_id.as_str()]);
    // Finance sees its own purchase.
    let own = api.get(Who::Finance, &format!("{gate}/v1/purchases/{approved_id}")).await;
    assert_eq!(own["status"], "approved");

    // ---- Call before cancel. ------------------------------------------------------------------
    let held_url = format!("{gate}/v1/purchases/{held_id}");
    let cancel = json!({"reason": "The requester chose the supported projector from the catalog"});
    // Cancelling before the call is refused, and changes nothing.
    let refused = api
        .post(Who::It, &format!("{held_url}/cancel"), &cancel)
        .await
        .problem(409, "call-required");
    let before = api.get(Who::It, &held_url).await;
    assert_eq!(before["status"], "held");
    assert_eq!(before["cancellable"], false);
    let version = before["version"].clone();
    // IT calls the requester and hears what they are trying to accomplish.
    // The requester (the school's requests desk) is no registered stakeholder: the call names
    // whom IT reached.
    let call = json!({"requester_reached": true,
                      "goal": "Students need a large interactive display for the reading program",
                      "notes": "Walked through the supported options together",
                      "spoke_with": {"name": "Pat Lee, office manager", "phone": "555-0142"}});
    let after_call = api.post(Who::It, &format!("{held_url}/calls"), &call).await.expect(201);
    assert_eq!(after_call["calls"][0]["requester_reached"], true);
    assert_eq!(after_call["calls"][0]["goal"], call["goal"]);
    // A call alone is not enough: an alternative must be proposed too.
    let still = api
        .post(Who::It, &format!("{held_url}/cancel"), &cancel)
        .await
        .problem(409, "call-required");
    assert_ne!(still["detail"], refused["detail"], "the refusal says what is missing now");
    let alternative = json!({"description": "The catalog's classroom projector, with district warranty and setup",
                             "lines": [line(Some("IPAD-10"), "iPad for the presenter", "tablets", 1, "349.00")]});
    let proposed =
        api.post(Who::It, &format!("{held_url}/alternatives"), &alternative).await.expect(201);
    assert_eq!(proposed["cancellable"], true);
    assert_eq!(proposed["version"], version.as_u64().unwrap() + 2, "the refusals wrote nothing");
    let cancelled = api.post(Who::It, &format!("{held_url}/cancel"), &cancel).await.expect(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancellation"]["reason"], cancel["reason"]);

    // The over-threshold purchase: a call, a smaller alternative, accepted: approved as amended.
    let over_url = format!("{gate}/v1/purchases/{over_id}");
    let call = json!({"requester_reached": true, "goal": "A laptop for every student in the coding class",
                      "notes": "Half the class shares; five laptops cover it",
                      "spoke_with": {"name": "Jo Park", "email": "requests@jefferson-high.district.org"}});
    api.post(Who::It, &format!("{over_url}/calls"), &call).await.expect(201);
    let smaller = json!({"description": "Five laptops now, five next term",
                         "lines": [line(Some("LAT-5440"), "Latitude 5440", "laptops", 5, "899.00")]});
    let proposed =
        api.post(Who::It, &format!("{over_url}/alternatives"), &smaller).await.expect(201);
    let alternative_id = text(&proposed["alternatives"][0], "alternative_id");
    let accept = format!("{over_url}/alternatives/{alternative_id}/accept");
    let amended = api.send(Who::It, Method::POST, &accept, None).await.expect(200);
    assert_eq!(amended["status"], "approved");
    assert_eq!(amended["approval"]["alternative_id"], alternative_id.as_str());
    assert_eq!(amended["alternatives"][0]["accepted"], true);

    // The advisory purchase: IT reaches out anyway.
    let advisory_url = format!("{gate}/v1/purchases/{advisory_id}");
    let call = json!({"requester_reached": true, "goal": "An esports club that competes this spring",
                      "spoke_with": {"name": "Coach Rivera", "phone": "555-0177"}});
    api.post(Who::It, &format!("{advisory_url}/calls"), &call).await.expect(201);
    let offer =
        json!({"description": "Two supported laptops from the catalog, set up for the club"});
    let advisory =
        api.post(Who::It, &format!("{advisory_url}/alternatives"), &offer).await.expect(201);
    assert_eq!(advisory["status"], "advisory");
    assert!(
        api.get(Who::It, &format!("{gate}/v1/purchases?status=held")).await["purchases"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The school's record of its standing promise, kept by the stakeholder service from the
    // gate's events.
    let washington = api.get(Who::It, &format!("{people}/v1/schools/washington-elem")).await;
    let record = &washington["call_before_cancel"];
    assert_eq!(record["held_purchases"], 1, "{washington:#}");
    assert_eq!(record["cancelled"], 1);
    assert_eq!(record["honoured"], 1);
    assert_eq!(record["outcome"], "kept");

    // ---- IT keeps its promises and makes headway on the wishes. ---------------------------
    let due = (today + TimeDelta::days(14)).to_string();
    let promise = json!({"to": {"type": "stakeholder", "stakeholder_id": schools[0].principal_id},
                         "text": "Same-week turnaround on repairs for the classroom laptops", "due_on": due});
    let made = api.post(Who::It, &format!("{people}/v1/promises"), &promise).await.expect(201);
    assert_eq!(made["status"], "open");
    assert_eq!(made["owner"], IT);
    let promise_id = text(&made, "promise_id");
    let evidence = json!({"evidence": "Every repair ticket of the school closed within five days"});
    let kept = api
        .post(Who::It, &format!("{people}/v1/promises/{promise_id}/kept"), &evidence)
        .await
        .expect(200);
    assert_eq!(kept["status"], "kept");
    assert_eq!(kept["evidence"], evidence["evidence"]);

    let wishes = api.get(Who::It, &format!("{people}/v1/wishes")).await;
    let wishes = wishes["wishes"].as_array().unwrap().clone();
    assert_eq!(wishes.len(), SCHOOLS.len());
    let mut done = 0;
    for (n, wish) in wishes.iter().enumerate() {
        assert_eq!(wish["status"], "open");
        let status = if n % 3 == 0 { "done" } else { "in_progress" };
        done += usize::from(status == "done");
        let body =
            json!({"note": "Raised at the IT team meeting; a plan is in motion", "status": status});
        let url = format!("{people}/v1/wishes/{}/progress", text(wish, "wish_id"));
        let progressed = api.post(Who::It, &url, &body).await.expect(201);
        assert_eq!(progressed["status"], status);
    }

    // ---- The reports. ------------------------------------------------------------------------
    let adoption = api.get(Who::It, &format!("{reporting}/v1/reports/adoption")).await;
    assert_eq!(adoption["schools"]["total"], 10, "{adoption:#}");
    assert_eq!(adoption["schools"]["gated"], 6);
    assert_eq!(adoption["schools"]["gated_share"], 0.6);
    assert_eq!(adoption["agreement_changes"].as_array().unwrap().len(), SIGN_FIRST);
    let spend = &adoption["technology_spend"][0];
    assert_eq!(spend["currency"], "USD");
    assert_eq!(spend["checks"], 5);
    assert_eq!(spend["technology_checks"], 4);
    assert_eq!(spend["technology_spend"], "15885.00"); // 1798 + 2499 + 2598 + 8990
    assert_eq!(spend["gated_checks"], 3);
    assert_eq!(spend["gated_spend"], "13287.00"); // 1798 + 2499 + 8990

    // Kept promises bring the rest.
    for school in &schools[SIGN_FIRST..] {
        sign(&api, &people, school, &today.to_string()).await;
    }
    let adoption = api.get(Who::Auditor, &format!("{reporting}/v1/reports/adoption")).await;
    assert_eq!(adoption["schools"]["total"], 10, "{adoption:#}");
    assert_eq!(adoption["schools"]["gated"], 10);
    assert_eq!(adoption["schools"]["gated_share"], 1.0);
    assert_eq!(adoption["agreement_changes"].as_array().unwrap().len(), SCHOOLS.len());
    let csv = report_csv(&api, &reporting, "adoption").await;
    assert!(csv.starts_with("dimension,month,schools_total,schools_gated"), "{csv}");
    assert!(csv.contains(",lincoln-elem,Lincoln Elementary,"), "schools named: {csv}");
    assert_eq!(adoption["signings"].as_array().unwrap().len(), SCHOOLS.len());

    let times = api.get(Who::It, &format!("{reporting}/v1/reports/response-times")).await;
    let all = &times["all"];
    assert_eq!(all["held"], 2, "{times:#}");
    assert_eq!(all["open"], 0);
    assert_eq!(all["approved"], 1);
    assert_eq!(all["cancelled"], 1);
    assert_eq!(all["to_first_reached_call"]["count"], 2);
    assert_eq!(all["to_resolution"]["count"], 2);
    let by_school: Vec<&str> =
        times["by_school"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(by_school, ["jefferson-high", "washington-elem"]);

    let rogue = api.get(Who::It, &format!("{reporting}/v1/reports/rogue-spend")).await;
    assert_eq!(
        rogue["totals"],
        json!([{"currency": "USD", "unchecked_transactions": 0, "unchecked_total": "0.00",
                "advisory_purchases": 1, "advisory_total": "2598.00"}]),
        "{rogue:#}"
    );
    assert_eq!(rogue["by_school"][0]["school_id"], "kennedy-high");
    assert_eq!(rogue["by_vendor"][0]["vendor"], "Online Marketplace");
    assert_eq!(rogue["by_amount"][0]["amount_band"], "2500-10000");

    let promises = api.get(Who::It, &format!("{reporting}/v1/reports/promises")).await;
    let cbc = &promises["call_before_cancel"];
    assert_eq!(cbc["promises"], 10, "{promises:#}"); // one standing promise per signature
    assert_eq!(cbc["kept"], 10);
    assert_eq!(cbc["broken"], 0);
    assert_eq!(cbc["cancellations"], 1);
    assert_eq!(cbc["call_and_alternative_first"], 1);
    assert_eq!(cbc["without"], 0);
    let cancelled_at =
        cbc["by_school"].as_array().unwrap().iter().find(|g| g["cancellations"] != 0);
    let cancelled_at = cancelled_at.expect("the school with the cancellation");
    assert_eq!(cancelled_at["school_id"], "washington-elem");
    assert_eq!(cancelled_at["call_and_alternative_first"], 1);
    assert_eq!(cancelled_at["kept"], 1);
    assert_eq!(promises["all"]["made"], 11); // the kept promise and the ten standing ones
    assert_eq!(promises["all"]["kept"], 11);
    assert_eq!(promises["all"]["broken"], 0);
    let lincoln =
        promises["by_school"].as_array().unwrap().iter().find(|g| g["key"] == "lincoln-elem");
    assert_eq!(lincoln.expect("lincoln-elem's promises")["made"], 2, "{promises:#}");

    let wishes = api.get(Who::It, &format!("{reporting}/v1/reports/wishes")).await;
    assert_eq!(wishes["all"]["wishes"], 10, "{wishes:#}");
    assert_eq!(wishes["all"]["open"], 0);
    assert_eq!(wishes["all"]["done"], done);
    assert_eq!(wishes["all"]["headway"], 10 - done);
    assert_eq!(wishes["all"]["within_a_year"]["met"], 10);

    // ---- An auditor replays the cancelled purchase and verifies the chain. ----------------
    api.send(Who::It, Method::GET, &format!("{reporting}/v1/audit/purchases/{held_id}"), None)
        .await
        .problem(403, "forbidden");
    let replay = api.get(Who::Auditor, &format!("{reporting}/v1/audit/purchases/{held_id}")).await;
    check_cancelled_history(&replay);

    let verified = api.get(Who::Auditor, &format!("{reporting}/v1/audit/verify")).await;
    assert_eq!(verified["ok"], true, "{verified:#}");
    assert_eq!(verified["first_bad_sequence"], Value::Null);
    let checked = verified["checked"].as_u64().unwrap();

    // ---- An auditor reads the whole feed, then follows it live. ----------------------------
    let mut after = 0u64;
    let mut seen = HashSet::new();
    let mut sequences = Vec::new();
    let mut streams_of_held = Vec::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let head = loop {
        let page =
            api.get(Who::Auditor, &format!("{reporting}/v1/events?after={after}&limit=40")).await;
        let events = page["events"].as_array().unwrap();
        for event in events {
            assert_eq!(event["specversion"], "1.0");
            // The service that wrote it: the gate keeps purchases and the standards, the
            // stakeholder service the rest.
            let subject = text(event, "subject");
            let writer = match subject.split('-').next().unwrap() {
                "purchase" | "standards" => "/procgate/gate",
                _ => "/procgate/stakeholders",
            };
            assert_eq!(event["source"], writer, "{event:#}");
            assert!(seen.insert(text(event, "id")), "event {} served twice", event["id"]);
            sequences.push(event["sequence"].as_u64().unwrap());
            *types.entry(text(event, "type")).or_default() += 1;
            if event["subject"] == format!("purchase-{held_id}") {
                streams_of_held
                    .push((text(event, "type"), event["streamversion"].as_u64().unwrap()));
            }
        }
        let next = page["next_after"].as_u64().unwrap();
        if events.is_empty() {
            assert_eq!(next, after);
            break page["head"].as_u64().unwrap();
        }
        after = next;
    };
    assert_eq!(sequences, (1..=head).collect::<Vec<_>>(), "every event once, in order");
    // What the story did, and nothing else: refusals, repeats and re-registrations wrote nothing.
    let expected: BTreeMap<String, usize> = [
        ("school-registered", 10),
        ("stakeholder-registered", 10),
        ("email-claimed", 10), // each person's e-mail address, claimed as they register
        ("conversation-held", 10),
        ("wish-recorded", 10),
        ("agreement-signed", 10),
        ("promise-made", 11), // ten standing call-before-cancel promises, and one by hand
        ("promise-kept", 1),
        ("wish-progressed", 10),
        ("vendor-upserted", 4),
        ("product-upserted", 2),
        ("policy-set", 1),
        ("purchase-submitted", 5),
        ("purchase-decided", 5),
        ("call-logged", 3),
        ("alternative-proposed", 3),
        ("alternative-accepted", 1),
        ("purchase-approved", 1),
        ("purchase-cancelled", 1),
    ]
    .into_iter()
    .map(|(t, n)| (t.to_owned(), n))
    .collect();
    assert_eq!(types, expected);
    // A consumer interested in signatures only.
    let signed =
        api.get(Who::Auditor, &format!("{reporting}/v1/events?type=agreement-signed")).await;
    assert_eq!(signed["events"].as_array().unwrap().len(), SCHOOLS.len());
    assert_eq!(signed["next_after"], head);
    assert_eq!(checked, head, "the verification checked the whole log");
    assert_eq!(
        streams_of_held,
        [
            "purchase-submitted",
            "purchase-decided",
            "call-logged",
            "alternative-proposed",
            "purchase-cancelled"
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u64 + 1))
        .collect::<Vec<_>>()
    );

    // The live stream: catch up from the last event, then a new one as it commits.
    let live_url = format!("{reporting}/v1/events/live?after={}", head - 1);
    let response = api
        .http
        .get(&live_url)
        .bearer_auth(api.token(Who::Auditor))
        .send()
        .await
        .expect("the live stream");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut live = Live { response, buffer: Vec::new() };
    let first = live.next().await;
    assert_eq!(first.id, head, "the catch-up starts after `after`");
    let tablets = purchase(
        "PO-6001",
        "adams-elem",
        "Apple",
        vec![line(Some("IPAD-10"), "iPads for the reading program", "tablets", 4, "349.00")],
    );
    let answer = api.post(Who::Finance, &check_url, &tablets).await.expect(201);
    assert_eq!(answer["decision"], "approved");
    let new = live.next().await;
    assert_eq!(new.id, head + 1, "the next event, live");
    assert_eq!(new.event, "purchase-submitted");
    assert_eq!(new.data["subject"], format!("purchase-{}", text(&answer, "purchase_id")));
    assert_eq!(new.data["actor"], FINANCE);
    drop(live);

    // ---- After the servers stop, the log still verifies from the command line. ------------
    let killed = d.stop().await;
    // Every process stops by itself on SIGTERM, a live stream's included (within the server's
    // shutdown timeout).
    assert!(killed.is_empty(), "killed after SIGTERM did not stop them in time: {killed:?}");
    let verify = d.procgate(&["audit", "verify"]).await;
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "procgate audit verify failed ({}):\n{stdout}\n{}",
        verify.status,
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(stdout.contains(&format!("{} events checked", head + 2)), "{stdout}");
    let replay = d.procgate(&["audit", "replay", "--purchase", &held_id, "--json"]).await;
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let replay: Value = serde_json::from_slice(&replay.stdout).expect("the replay as JSON");
    check_cancelled_history(&replay);
}

/// A purchase order body.
fn purchase(external_ref: &str, school: &str, vendor: &str, lines: Vec<Value>) -> Value {
    json!({"external_ref": external_ref, "school_id": school,
           "requester_email": format!("requests@{school}.district.org"), "vendor": vendor,
           "payment_method": "purchase_order", "currency": "USD", "lines": lines,
           "purpose": "For the new term"})
}

/// A purchasing-card body, at a computer store's merchant category code.
fn purchase_by_card(external_ref: &str, school: &str, vendor: &str, lines: Vec<Value>) -> Value {
    let mut body = purchase(external_ref, school, vendor, lines);
    body["payment_method"] = json!("p_card");
    body["merchant_category_code"] = json!("5732");
    body
}

/// The school's principal signs the agreement; its standing promise comes with it.
async fn sign(api: &Api, people: &str, school: &School, signed_on: &str) {
    let body = json!({"principal_id": school.principal_id, "signed_on": signed_on});
    let url = format!("{people}/v1/schools/{}/agreement", school.id);
    let signed = api.put(Who::It, &url, &body).await.expect(201);
    assert_eq!(signed["agreement_status"], "signed", "{signed:#}");
    assert_eq!(signed["gated"], true);
    assert_eq!(signed["agreement"]["principal_id"], school.principal_id.as_str());
    let standing = signed["promises"].as_array().unwrap();
    assert!(
        standing.iter().any(|p| p["kind"] == "call-before-cancel" && p["status"] == "kept"),
        "the standing call-before-cancel promise: {signed:#}"
    );
}

/// The CSV form of a report.
async fn report_csv(api: &Api, reporting: &str, name: &str) -> String {
    let url = format!("{reporting}/v1/reports/{name}?format=csv");
    let response = api.http.get(&url).bearer_auth(api.token(Who::It)).send().await.expect(&url);
    assert_eq!(response.status(), 200, "{url}");
    let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/csv"), "{url}: {kind}");
    response.text().await.expect("the CSV")
}

/// The replayed history of the cancelled purchase: the call and the alternative come before the
/// cancellation, each with its actor; the refused cancellations left no trace.
#[track_caller]
fn check_cancelled_history(replay: &Value) {
    let steps: Vec<(&str, &str, &str)> = replay["events"]
        .as_array()
        .unwrap_or_else(|| panic!("a replay: {replay:#}"))
        .iter()
        .map(|e| {
            (e["type"].as_str().unwrap(), e["actor"].as_str().unwrap(), e["role"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("purchase-submitted", FINANCE, "finance"),
            ("purchase-decided", FINANCE, "finance"),
            ("call-logged", IT, "it_staff"),
            ("alternative-proposed", IT, "it_staff"),
            ("purchase-cancelled", IT, "it_staff"),
        ],
        "{replay:#}"
    );
    assert_eq!(replay["events_in_stream"], 5);
    let states: Vec<Option<&str>> = replay["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"]["status"].as_str())
        .collect();
    assert_eq!(states, [None, Some("held"), Some("held"), Some("held"), Some("cancelled")]);
    // Only the cancellation's step may cancel; before the alternative it could not.
    assert_eq!(replay["events"][2]["state"]["may_cancel"], false);
    assert_eq!(replay["events"][3]["state"]["may_cancel"], true);
    assert_eq!(replay["state"]["status"], "cancelled");
    assert_eq!(replay["state"]["calls"][0]["counts_for_cancel"], true);
    let sequences: Vec<u64> = replay["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "in log order: {sequences:?}");
}

/// One server-sent event.
#[derive(Debug)]
struct Message {
    id: u64,
    event: String,
    data: Value,
}

/// A live stream being read.
#[derive(Debug)]
struct Live {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Live {
    /// The next event (comments and `retry:` are skipped), within 10 seconds.
    async fn next(&mut self) -> Message {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("UTF-8 events");
                let (mut id, mut event, mut data) = (None, None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse().expect("a numeric id"));
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).expect("JSON data"));
                    }
                }
                if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                    return Message { id, event, data };
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event within 10 seconds")
                .expect("the live stream")
                .expect("the live stream ended");
            self.buffer.extend_from_slice(&chunk);
        }
    }
}
