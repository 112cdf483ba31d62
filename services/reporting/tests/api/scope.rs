//! The whole feed, paged and live, read as each role: what each must not contain.

use std::time::Duration;

use auth::Role;
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, Store};
use serde_json::{Value, json};

use crate::common::{SseReader, TestApp, stream};

on_both_backends!(the_feed_as_each_role);

async fn put(store: &Store, name: &str, event_type: &str, data: Value, subject: &str, role: &str) {
    let meta = Metadata::new(Actor::new(subject, role), "gate");
    store
        .append(&stream(name), ExpectedVersion::Any, vec![NewEvent::new(event_type, data, meta)])
        .await
        .unwrap();
}

/// A small district: two finance systems' purchases, a call naming whom IT reached, a
/// principal's record, a card, a promise, a school.
async fn district(store: &Store) {
    let submitted = |by: &str, email: &str| json!({"submitted_by": by, "requester_email": email, "school_id": "lincoln-elem", "vendor": "Gadget Barn"});
    let call = json!({"requester_reached": true, "goal": "Film science experiments",
        "notes": "Pat Lee explained the science fair", "spoke_with": {"name": "Pat Lee", "phone": "+1 555 0100"}});
    let erp_a = ("erp-a", "finance");
    let erp_b = ("erp-b", "finance");
    let it = ("jdoe@district.org", "it_staff");
    // Stream, type, data, and who wrote it.
    let events = [
        ("purchase-a1", "purchase-submitted", submitted("erp-a", "pat.lee@district.org"), erp_a),
        ("purchase-a1", "purchase-decided", json!({"decision": "held"}), erp_a),
        ("purchase-b1", "purchase-submitted", submitted("erp-b", "dana.ruiz@district.org"), erp_b),
        ("purchase-a1", "call-logged", call.clone(), it),
        ("purchase-b1", "call-logged", call, it),
        (
            "sla-a1",
            "purchase-sla-warning",
            json!({"purchase_id": "a1", "percent": 50}),
            ("system:gate", "system"),
        ),
        (
            "stakeholder-p1",
            "stakeholder-registered",
            json!({"name": "Pat Lee", "email": "pat.lee@district.org", "phone": "+1 555 0100"}),
            it,
        ),
        (
            "card-c1",
            "card-registered",
            json!({"last4": "4242", "holder_email": "pat.lee@district.org"}),
            it,
        ),
        (
            "promise-x1",
            "promise-made",
            json!({"text": "A laptop cart by May", "owner": "jdoe@district.org"}),
            it,
        ),
        (
            "school-lincoln-elem",
            "school-registered",
            json!({"school_id": "lincoln-elem", "name": "Lincoln"}),
            it,
        ),
    ];
    for (name, event_type, data, (subject, role)) in events {
        put(store, name, event_type, data, subject, role).await;
    }
}

/// Every event the role reads, paging `/v1/events` to the head.
async fn paged(app: &TestApp, role: Role, subject: &str) -> Vec<Value> {
    let token = app.token_for(subject, &[role]);
    let (mut after, mut out) = (0u64, Vec::new());
    loop {
        let page: Value = app
            .client
            .get(format!("{}/v1/events?after={after}&limit=3", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(page["events"].as_array().unwrap().iter().cloned());
        let next = page["next_after"].as_u64().unwrap();
        if next >= page["head"].as_u64().unwrap() {
            return out;
        }
        assert!(next > after, "paging moves on");
        after = next;
    }
}

/// The events the live feed sends the role, up to a marker appended after the district.
async fn live(app: &TestApp, role: Role, subject: &str, expected: usize) -> Vec<Value> {
    let res = app
        .client
        .get(format!("{}/v1/events/live", app.base))
        .bearer_auth(app.token_for(subject, &[role]))
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(res);
    let mut out = Vec::new();
    while out.len() < expected {
        let message = reader.next(Duration::from_secs(10)).await;
        if message.is_event() {
            out.push(message.json());
        }
    }
    out
}

fn subjects(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["subject"].as_str().unwrap().to_owned()).collect()
}

fn text(events: &[Value]) -> String {
    serde_json::to_string(events).unwrap()
}

async fn the_feed_as_each_role(app: TestApp) {
    district(&app.store).await;

    // Staff read everything, whole.
    for role in [Role::ItStaff, Role::Auditor, Role::Admin] {
        let all = paged(&app, role, "someone").await;
        assert_eq!(all.len(), 10, "{role}");
        assert!(text(&all).contains("+1 555 0100") && text(&all).contains("Pat Lee explained"));
        assert_eq!(live(&app, role, "someone", 10).await, all, "{role}: live = paged");
    }

    // A finance system: its own purchase and its clock, without whom IT reached.
    let erp_a = paged(&app, Role::Finance, "erp-a").await;
    assert_eq!(subjects(&erp_a), ["purchase-a1", "purchase-a1", "purchase-a1", "sla-a1"]);
    let seen = text(&erp_a);
    assert!(seen.contains("pat.lee@district.org"), "its own requester's address");
    for secret in [
        "dana.ruiz",
        "+1 555 0100",
        "Pat Lee",
        "spoke_with",
        "notes",
        "4242",
        "laptop cart",
        "jdoe",
    ] {
        assert!(!seen.contains(secret), "finance read {secret}: {seen}");
    }
    assert_eq!(erp_a[2]["data"]["goal"], "Film science experiments");
    // Who in IT logged the call is a person: named by role only.
    assert_eq!(
        (erp_a[2]["actor"].as_str(), erp_a[2]["actorrole"].as_str()),
        (Some("it_staff"), Some("it_staff"))
    );
    assert_eq!(erp_a[0]["actor"], "erp-a", "a finance system is not a person");
    assert_eq!(live(&app, Role::Finance, "erp-a", 4).await, erp_a, "live = paged");
    let erp_b = paged(&app, Role::Finance, "erp-b").await;
    assert_eq!(subjects(&erp_b), ["purchase-b1", "purchase-b1"]);
    // Asking for another category gives nothing, and says the head.
    let page = app.get_json("/v1/events?category=stakeholder", Role::Finance).await;
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["next_after"], page["head"]);

    // An integration: everything but people's records and personal fields.
    let integration = paged(&app, Role::Integration, "district-erp").await;
    assert_eq!(
        subjects(&integration),
        [
            "purchase-a1",
            "purchase-a1",
            "purchase-b1",
            "purchase-a1",
            "purchase-b1",
            "sla-a1",
            "school-lincoln-elem"
        ]
    );
    let seen = text(&integration);
    for secret in [
        "pat.lee",
        "dana.ruiz",
        "+1 555 0100",
        "Pat Lee",
        "spoke_with",
        "notes",
        "holder_email",
        "laptop cart",
        "jdoe",
    ] {
        assert!(!seen.contains(secret), "integration read {secret}: {seen}");
    }
    assert_eq!(live(&app, Role::Integration, "district-erp", 7).await, integration);
    app.stop().await;
}
