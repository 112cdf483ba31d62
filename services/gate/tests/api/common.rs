//! The gate on a random port, on either backend, and an HTTP client that calls it as a role.
//!
//! Schools come from the log, as in production: the tests append `school-…` events to the
//! store directly, as the stakeholder relations service would. The standards are set through
//! the gate's own catalog API.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::{AuthConfig, Issuer, Role, Verifier};
use eventlog::{Actor, ExpectedVersion, Filter, Metadata, RecordedEvent, Store};
use events::school::{AgreementSigned, AgreementWithdrawn, SchoolEvent, SchoolRegistered};
use events::values::{LongText, SchoolId, ShortText};
use serde_json::{Value, json};
pub use testkit::http::{Calls, Reply};
use uuid::Uuid;

pub const SECRET: &[u8] = b"gate-test-secret-that-is-at-least-32-bytes";
pub const ISSUER: &str = "procgate";
pub const AUDIENCE: &str = "procgate";

/// A school that signed the purchasing agreement: its purchases that need review are held.
pub const GATED: &str = "lincoln-elem";
/// A registered school without an agreement: its purchases that need review are advisory.
pub const UNGATED: &str = "jefferson-high";

pub use testkit::Backend;
use testkit::TestStore;

/// Who calls: a token with these roles and subject, or no token at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The finance system the tests' purchases come from.
    Finance,
    /// Another finance system: it must not see the first one's purchases.
    OtherFinance,
    ItStaff,
    Auditor,
    Admin,
    /// A valid token without any procgate role.
    NoRole,
    /// No `Authorization` header.
    Nobody,
}

impl Who {
    /// Everyone with a valid token.
    pub const WITH_TOKEN: [Who; 6] =
        [Who::Finance, Who::OtherFinance, Who::ItStaff, Who::Auditor, Who::Admin, Who::NoRole];

    pub fn subject(self) -> &'static str {
        match self {
            Who::Finance => "erp-finance",
            Who::OtherFinance => "card-finance",
            Who::ItStaff => "it-jdoe",
            Who::Auditor => "auditor-kim",
            Who::Admin => "admin-root",
            Who::NoRole => "someone",
            Who::Nobody => "",
        }
    }

    pub fn roles(self) -> &'static [Role] {
        match self {
            Who::Finance | Who::OtherFinance => &[Role::Finance],
            Who::ItStaff => &[Role::ItStaff],
            Who::Auditor => &[Role::Auditor],
            Who::Admin => &[Role::Admin],
            Who::NoRole | Who::Nobody => &[],
        }
    }
}

/// The real app (plumbing included) serving the gate on 127.0.0.1:<random>.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// The PostgreSQL database's URL (for a second instance on it).
    pub database_url: Option<String>,
    issuer: Issuer,
    handle: actix_web::dev::ServerHandle,
    _store: TestStore,
}

/// A gate on `store`, served on a random port: its base URL and its server's handle.
pub async fn serve(store: Store) -> (String, actix_web::dev::ServerHandle) {
    let (base, handle, _) = serve_with(store, gate::Clock::system()).await;
    (base, handle)
}

/// A gate on `store` telling time by `clock`, served on a random port: its base URL, its
/// server's handle, and the service (to stop its scheduler).
pub async fn serve_with(
    store: Store,
    clock: gate::Clock,
) -> (String, actix_web::dev::ServerHandle, gate::Gate) {
    let verifier = Arc::new(Verifier::new(AuthConfig::hs256(SECRET, ISSUER, AUDIENCE)).unwrap());
    let gate = gate::Gate::start_with(store, verifier, clock).await.unwrap();
    let (base, handle) = testkit::serve(vec![Arc::new(gate.clone())], 1);
    (base, handle, gate)
}

impl Calls for TestApp {
    type Who = Who;

    fn base(&self) -> &str {
        &self.base
    }

    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn bearer(&self, who: Who) -> Option<String> {
        (who != Who::Nobody).then(|| self.token(who))
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        let test_store = TestStore::open(backend).await;
        let (store, database_url) =
            (test_store.shared(), test_store.database_url().map(Into::into));
        let (base, handle) = serve(store.clone()).await;
        Self {
            base,
            client: testkit::http::client(),
            store,
            database_url,
            issuer: Issuer::hs256(SECRET, ISSUER, AUDIENCE).unwrap(),
            handle,
            _store: test_store,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }

    pub fn token(&self, who: Who) -> String {
        self.issuer.issue(who.subject(), who.roles(), Duration::from_secs(600))
    }

    /// `GET path` with a token for `subject` holding `roles` (for mixes no [`Who`] has).
    pub async fn get_with_roles(&self, subject: &str, roles: &[Role], path: &str) -> Reply {
        let token = self.issuer.issue(subject, roles, Duration::from_secs(600));
        Reply::read(self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()).await
    }

    /// A purchase check from the finance system.
    pub async fn check(&self, body: &Value) -> Reply {
        self.post(Who::Finance, "/v1/purchase-checks", body).await
    }

    /// A new purchase's answer, asserting it is new (201) and has `decision`.
    #[track_caller]
    pub fn decided(reply: &Reply, decision: &str) -> Value {
        let answer = reply.expect(201).clone();
        assert_eq!(answer["decision"], decision, "{answer:#}");
        answer
    }

    /// Checks `body` and returns the new purchase's id, asserting its decision.
    pub async fn submit(&self, body: &Value, decision: &str) -> String {
        let reply = self.check(body).await;
        let answer = Self::decided(&reply, decision);
        answer["purchase_id"].as_str().unwrap().to_owned()
    }

    /// A fresh held purchase (an unknown laptop for the gated school); its id.
    pub async fn held_purchase(&self) -> String {
        self.submit(&held_body(&unique_ref()), "held").await
    }

    /// A purchase as IT sees it (asserting 200).
    pub async fn purchase(&self, id: &str) -> Value {
        self.get(Who::ItStaff, &format!("/v1/purchases/{id}")).await.expect(200).clone()
    }

    /// An IT action on a purchase: `POST /v1/purchases/{id}/{action}`.
    pub async fn act(&self, id: &str, action: &str, body: &Value) -> Reply {
        self.post(Who::ItStaff, &format!("/v1/purchases/{id}/{action}"), body).await
    }

    /// Logs a call that reached the requester and recorded their goal.
    pub async fn reached_call(&self, id: &str) -> Value {
        self.act(id, "calls", &reached_call()).await.expect(201).clone()
    }

    /// Proposes an alternative; returns its id.
    pub async fn propose(&self, id: &str) -> String {
        let view = self.act(id, "alternatives", &alternative()).await.expect(201).clone();
        let last = view["alternatives"].as_array().unwrap().last().unwrap().clone();
        last["alternative_id"].as_str().unwrap().to_owned()
    }

    /// The log's head: unchanged by anything refused.
    pub async fn head(&self) -> u64 {
        self.store.head().await.unwrap()
    }

    /// Every event of `event_type` in the log.
    pub async fn events_of_type(&self, event_type: &str) -> Vec<RecordedEvent> {
        let filter = Filter::all().with_types([event_type]);
        let mut out: Vec<RecordedEvent> = Vec::new();
        loop {
            let after = out.last().map_or(0, |e| e.position);
            let page = self.store.read_all(after, &filter, 1000).await.unwrap();
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
    }

    // -- the district -------------------------------------------------------------------------

    /// The standards and schools most tests start from: vendors `dell` (approved) and
    /// `gadget-barn` (listed, not approved); product `LAT-5440` (laptops, Dell); technology
    /// categories laptops, tablets and software, codes 5732 and 5734, review over 5000.00 USD;
    /// schools [`GATED`] (signed) and [`UNGATED`] (registered only).
    pub async fn seed(&self) {
        self.put_vendor("dell", "Dell Technologies", true).await;
        self.put_vendor("gadget-barn", "Gadget Barn", false).await;
        self.put_product("LAT-5440", "Latitude 5440").await;
        self.put(Who::ItStaff, "/v1/catalog/policy", &policy()).await.expect(200);
        self.register_school(GATED, "Lincoln Elementary").await;
        self.sign_agreement(GATED).await;
        self.register_school(UNGATED, "Jefferson High").await;
    }

    pub async fn put_vendor(&self, id: &str, name: &str, approved: bool) -> Value {
        let body = json!({"name": name, "approved": approved});
        self.put(Who::ItStaff, &format!("/v1/catalog/vendors/{id}"), &body)
            .await
            .expect(200)
            .clone()
    }

    /// A Dell laptop in the catalog; returns the catalog.
    pub async fn put_product(&self, sku: &str, name: &str) -> Value {
        let body = json!({
            "name": name, "category": "laptops", "vendor_id": "dell",
            "unit_price": "899.00", "currency": "USD",
        });
        self.put(Who::ItStaff, &format!("/v1/catalog/products/{sku}"), &body)
            .await
            .expect(200)
            .clone()
    }

    /// The catalog's version: the policy version decisions record.
    pub async fn catalog_version(&self) -> u64 {
        self.get(Who::Auditor, "/v1/catalog").await.expect(200)["version"].as_u64().unwrap()
    }

    pub async fn register_school(&self, id: &str, name: &str) -> u64 {
        let name = ShortText::parse(name).unwrap();
        self.append_school(id, SchoolRegistered { school_id: school(id), name }.into()).await
    }

    pub async fn sign_agreement(&self, id: &str) -> u64 {
        let signed = AgreementSigned {
            school_id: school(id),
            principal_id: Uuid::from_u128(7),
            signed_on: "2024-08-20".parse().unwrap(),
        };
        self.append_school(id, signed.into()).await
    }

    pub async fn withdraw_agreement(&self, id: &str) -> u64 {
        let withdrawn = AgreementWithdrawn {
            school_id: school(id),
            reason: LongText::parse("The new principal wants to review it").unwrap(),
            withdrawn_on: "2025-01-10".parse().unwrap(),
        };
        self.append_school(id, withdrawn.into()).await
    }

    /// Appends a school event as the stakeholder relations service would; its position.
    async fn append_school(&self, id: &str, event: SchoolEvent) -> u64 {
        let metadata = Metadata::new(Actor::new("it-jdoe", "it_staff"), "stakeholders");
        self.store
            .append(
                &gate::domain::school_stream(&school(id)),
                ExpectedVersion::Any,
                vec![gate::domain::new_event(&event, metadata)],
            )
            .await
            .unwrap()
            .last_position()
    }
}

fn school(id: &str) -> SchoolId {
    SchoolId::parse(id).unwrap()
}

/// A token signed with the right key for `claims` (to make expired or odd tokens).
pub fn token_with_claims(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap()
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

// -- bodies ---------------------------------------------------------------------------------

/// A fresh external reference.
pub fn unique_ref() -> String {
    format!("REQ-{}", Uuid::new_v4().simple())
}

/// The tests' policy: laptops, tablets and software are technology; office supplies and
/// furniture are not (other categories are unclassified); the default technology terms.
pub fn policy() -> Value {
    json!({
        "technology_categories": ["laptops", "tablets", "software"],
        "non_technology_categories": ["office-supplies", "furniture"],
        "technology_mccs": ["5732", "5734"],
        "review_threshold": "5000.00",
        "currency": "USD",
    })
}

pub fn line(sku: Option<&str>, description: &str, category: &str, qty: u32, price: &str) -> Value {
    json!({
        "sku": sku, "description": description, "category": category,
        "quantity": qty, "unit_price": price,
    })
}

/// `quantity` catalog laptops (LAT-5440 at 899.00).
pub fn laptops(quantity: u32) -> Value {
    line(Some("LAT-5440"), "Latitude 5440", "laptops", quantity, "899.00")
}

/// A laptop that is not in the catalog.
pub fn unknown_laptop() -> Value {
    line(Some("XPS-9999"), "XPS 13", "laptops", 1, "1299.00")
}

/// Something that is not technology.
pub fn paper() -> Value {
    line(None, "Copy paper", "office-supplies", 10, "4.50")
}

/// A check that is approved: two catalog laptops from Dell for the gated school (1798.00).
pub fn check_body(external_ref: &str) -> Value {
    json!({
        "external_ref": external_ref,
        "school_id": GATED,
        "requester_email": "pat.lee@district.org",
        "vendor": "Dell",
        "payment_method": "purchase_order",
        "currency": "USD",
        "lines": [laptops(2)],
        "purpose": "Laptops for the robotics club",
    })
}

/// A check that is held: a laptop not in the catalog, for the gated school.
pub fn held_body(external_ref: &str) -> Value {
    with(check_body(external_ref), "/lines", json!([unknown_laptop()]))
}

/// `body` with the value at JSON pointer `pointer` replaced (or added to its object).
pub fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = body.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent} in the body"));
    match target {
        Value::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = value,
        other => panic!("{parent} is {other}, not an object or array"),
    }
    body
}

/// `body` without the member at `pointer`.
pub fn without(mut body: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    body.pointer_mut(parent).and_then(Value::as_object_mut).unwrap().remove(key);
    body
}

/// A call that reached the requester and recorded their goal. The tests' requester
/// (`pat.lee@district.org`) is no registered stakeholder, so the call names them.
pub fn reached_call() -> Value {
    json!({
        "requester_reached": true,
        "goal": "Students need laptops that run the robotics software",
        "notes": "Spoke with Pat; open to a supported model",
        "spoke_with": {"name": "Pat Lee", "phone": "555-0142"},
    })
}

pub fn alternative() -> Value {
    json!({
        "description": "The supported Latitude 5440 runs the robotics software",
        "lines": [laptops(1)],
    })
}

/// The codes and line indexes of an answer's reasons, in order.
pub fn reasons(answer: &Value) -> Vec<(String, Option<u64>)> {
    answer["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["code"].as_str().unwrap().to_owned(), r["line"].as_u64()))
        .collect()
}

/// `(code, line)` pairs, for comparing with [`reasons`].
pub fn expect_reasons(pairs: &[(&str, Option<u64>)]) -> Vec<(String, Option<u64>)> {
    pairs.iter().map(|(c, l)| ((*c).to_owned(), *l)).collect()
}
