//! The stakeholder relations service on a random port, beside the gate as in the all-in-one
//! server, on either backend, and an HTTP client that calls it as a role.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use auth::{AuthConfig, Issuer, Role, Verifier};
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, Store, StreamAppend, StreamName};
use serde_json::{Value, json};
pub use testkit::http::{Calls, Reply};
use uuid::Uuid;

pub const SECRET: &[u8] = b"stakeholders-test-secret-at-least-32-bytes";
pub const ISSUER: &str = "procgate";
pub const AUDIENCE: &str = "procgate";

pub use testkit::Backend;

/// The district's master key in these tests.
fn master_key() -> eventlog::MasterKey {
    eventlog::MasterKey::new(&[7; 32])
}
use testkit::TestStore;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Finance,
    ItStaff,
    Auditor,
    Admin,
    /// A valid token without any procgate role.
    NoRole,
    /// A token that does not verify.
    BadToken,
    /// No `Authorization` header.
    Nobody,
}

impl Who {
    pub const ALL: [Who; 7] = [
        Who::Finance,
        Who::ItStaff,
        Who::Auditor,
        Who::Admin,
        Who::NoRole,
        Who::BadToken,
        Who::Nobody,
    ];

    pub fn subject(self) -> &'static str {
        match self {
            Who::Finance => "erp-finance",
            Who::ItStaff => "it-jdoe",
            Who::Auditor => "auditor-kim",
            Who::Admin => "admin-root",
            Who::NoRole => "someone",
            Who::BadToken | Who::Nobody => "",
        }
    }

    pub fn roles(self) -> &'static [Role] {
        match self {
            Who::Finance => &[Role::Finance],
            Who::ItStaff => &[Role::ItStaff],
            Who::Auditor => &[Role::Auditor],
            Who::Admin => &[Role::Admin],
            Who::NoRole | Who::BadToken | Who::Nobody => &[],
        }
    }
}

/// The real app (plumbing included) serving the stakeholder relations service and the gate
/// on 127.0.0.1:<random>.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// The clock of both services: tests set it (an evening in Chicago).
    pub clock: stakeholders::Clock,
    /// The stakeholder relations service served (to stop its scheduler).
    pub stakeholders: stakeholders::Stakeholders,
    issuer: Issuer,
    handle: actix_web::dev::ServerHandle,
    _store: TestStore,
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
        // Sealed as `procgate serve` opens it: people's personal data encrypted in the log.
        let store =
            kernel::privacy::sealed(test_store.shared(), eventlog::MasterKey::new(&[7; 32]));
        let verifier =
            Arc::new(Verifier::new(AuthConfig::hs256(SECRET, ISSUER, AUDIENCE)).unwrap());
        let clock = stakeholders::Clock::system();
        let stakeholders =
            stakeholders::Stakeholders::start_with(store.clone(), verifier.clone(), clock.clone())
                .await
                .unwrap();
        let gate = gate::Gate::start_with(store.clone(), verifier, clock.clone()).await.unwrap();
        let (base, handle) =
            testkit::serve(vec![Arc::new(stakeholders.clone()), Arc::new(gate)], 2);
        Self {
            base,
            client: testkit::http::client(),
            store,
            clock,
            stakeholders,
            issuer: Issuer::hs256(SECRET, ISSUER, AUDIENCE).unwrap(),
            handle,
            _store: test_store,
        }
    }

    /// A second instance of the stakeholder relations service on the same store, as a
    /// deployment of several would run: its own projections and write locks; its base URL.
    pub async fn second_instance(&self) -> String {
        let verifier =
            Arc::new(Verifier::new(AuthConfig::hs256(SECRET, ISSUER, AUDIENCE)).unwrap());
        let service = stakeholders::Stakeholders::start_with(
            self.store.clone(),
            verifier,
            self.clock.clone(),
        )
        .await
        .unwrap();
        testkit::serve(vec![Arc::new(service)], 2).0
    }

    /// Another instance of the service on `store` (the same database, through its own
    /// connections when it is another store), with the same clock, not served: its projections
    /// and its scheduler run.
    pub async fn instance(&self, store: Store) -> stakeholders::Stakeholders {
        self.configured(store, stakeholders::Settings::default()).await
    }

    /// [`instance`](Self::instance), with the district's `settings`.
    pub async fn configured(
        &self,
        store: Store,
        settings: stakeholders::Settings,
    ) -> stakeholders::Stakeholders {
        let verifier =
            Arc::new(Verifier::new(AuthConfig::hs256(SECRET, ISSUER, AUDIENCE)).unwrap());
        let clock = self.clock.clone();
        stakeholders::Stakeholders::start_configured(store, verifier, clock, settings)
            .await
            .unwrap()
    }

    /// A store of its own on this app's PostgreSQL database (`None` on SQLite).
    pub async fn own_store(&self) -> Option<Store> {
        let url = self._store.database_url()?;
        let store = eventlog::PgStore::connect(url, eventlog::PgOptions::default()).await.unwrap();
        Some(kernel::privacy::sealed(Arc::new(store), master_key()))
    }

    /// Every event of `event_type` in the log, oldest first.
    pub async fn events_of_type(&self, event_type: &str) -> Vec<eventlog::RecordedEvent> {
        let filter = eventlog::Filter::all().with_types([event_type]);
        let mut out: Vec<eventlog::RecordedEvent> = Vec::new();
        loop {
            let after = out.last().map_or(0, |e| e.position);
            let page = self.store.read_all(after, &filter, 1000).await.unwrap();
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    pub fn token(&self, who: Who) -> String {
        match who {
            Who::BadToken => "not.a.jwt".to_owned(),
            who => self.issuer.issue(who.subject(), who.roles(), Duration::from_secs(600)),
        }
    }

    /// The log's head: unchanged by anything refused.
    pub async fn head(&self) -> u64 {
        self.store.head().await.unwrap()
    }

    // -- the district, through the API ------------------------------------------------------

    /// Sets the district's calendar as an admin: Chicago's time zone, business hours 08:00 to
    /// 16:30 on weekdays.
    pub async fn in_chicago(&self) {
        let district = json!({
            "name": "Springfield Public Schools", "time_zone": "America/Chicago",
            "business_hours": {"start": "08:00", "end": "16:30", "days": ["mon", "tue", "wed", "thu", "fri"]},
        });
        self.put(Who::Admin, "/v1/district", &district).await.expect(200);
    }

    /// Sets the gate's policy as IT staff: laptops (and MCC 5732) are technology, reviewed from
    /// 5000.00 USD.
    pub async fn laptop_policy(&self) {
        let policy = json!({
            "technology_categories": ["laptops"], "technology_mccs": ["5732"],
            "review_threshold": "5000.00", "currency": "USD",
        });
        self.put(Who::ItStaff, "/v1/catalog/policy", &policy).await.expect(200);
    }

    /// Imports a card statement (`csv`) into the gate as finance, at `path` (the import's
    /// path with its query); it must be taken (201).
    pub async fn import_card_statement(&self, path: &str, csv: String) {
        let reply = self
            .request(Who::Finance, reqwest::Method::POST, path)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
    }

    /// Registers (or renames) a school as IT staff; its view.
    pub async fn school(&self, id: &str, name: &str) -> Value {
        let reply =
            self.put(Who::ItStaff, &format!("/v1/schools/{id}"), &json!({"name": name})).await;
        assert!(reply.status == 201 || reply.status == 200, "{}", reply.text);
        reply.body
    }

    /// Registers a person as IT staff; their id.
    pub async fn person(&self, name: &str, role: &str, school: Option<&str>) -> String {
        let body = person_body(name, role, school);
        let view = self.post(Who::ItStaff, "/v1/stakeholders", &body).await.expect(201).clone();
        view["stakeholder_id"].as_str().unwrap().to_owned()
    }

    /// A fresh school with a registered principal: `(school_id, principal_id)`.
    pub async fn school_with_principal(&self) -> (String, String) {
        let school = unique_school();
        self.school(&school, "Lincoln Elementary").await;
        let principal = self.person("Dana Whitfield", "principal", Some(&school)).await;
        (school, principal)
    }

    /// The principal signs the school's agreement (today); the school's view.
    pub async fn sign(&self, school: &str, principal: &str) -> Value {
        self.put(
            Who::ItStaff,
            &format!("/v1/schools/{school}/agreement"),
            &json!({"principal_id": principal, "signed_on": today()}),
        )
        .await
        .expect(201)
        .clone()
    }

    /// A conversation with `who`; the answer (conversation and wish).
    pub async fn converse(&self, who: &str) -> Value {
        self.post(Who::ItStaff, &format!("/v1/stakeholders/{who}/conversations"), &conversation())
            .await
            .expect(201)
            .clone()
    }

    /// A promise to the person, due in a week; its id.
    pub async fn promise_to(&self, who: &str) -> String {
        let body = promise_body(json!({"type": "stakeholder", "stakeholder_id": who}), &in_days(7));
        let view = self.post(Who::ItStaff, "/v1/promises", &body).await.expect(201).clone();
        view["promise_id"].as_str().unwrap().to_owned()
    }

    /// A follow-up with the person, due in a week; its id.
    pub async fn follow_up(&self, who: &str) -> String {
        let body = json!({"stakeholder_id": who, "about": "How the loaners work out", "due_on": in_days(7)});
        let view = self.post(Who::ItStaff, "/v1/follow-ups", &body).await.expect(201).clone();
        view["followup_id"].as_str().unwrap().to_owned()
    }

    /// Appends events directly, as another instance or an earlier day would have: for facts
    /// the API cannot create now (a promise due last month).
    pub async fn append(&self, stream: &str, events: Vec<(&str, Value)>) {
        let meta = Metadata::new(Actor::new("it-jdoe", "it_staff"), "stakeholders");
        let events = events
            .into_iter()
            .map(|(event_type, data)| NewEvent::new(event_type, data, meta.clone()))
            .collect();
        self.store
            .append_streams(vec![StreamAppend::new(
                StreamName::new(stream).unwrap(),
                ExpectedVersion::Any,
                events,
            )])
            .await
            .unwrap();
    }

    /// Every document of every read model of the service.
    pub async fn read_models(&self) -> BTreeMap<String, Vec<(String, Value)>> {
        let mut all = BTreeMap::new();
        for projection in stakeholders::projections() {
            for collection in projection.collections() {
                let docs = self.store.documents(&collection).await.unwrap();
                all.insert(collection, docs);
            }
        }
        all
    }
}

// -- bodies and dates -----------------------------------------------------------------------

/// A fresh school slug.
pub fn unique_school() -> String {
    format!("school-{}", &Uuid::new_v4().simple().to_string()[..8])
}

/// The district's date today (UTC), as the service decides it.
pub fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// The date `n` days from today (negative: ago).
pub fn in_days(n: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(n)).to_string()
}

/// A person's profile, with an e-mail address of their own (addresses are one person's: the
/// same name registered twice gets two addresses).
pub fn person_body(name: &str, role: &str, school: Option<&str>) -> Value {
    let tag = &Uuid::new_v4().simple().to_string()[..8];
    let email = format!("{}.{tag}@district.example", name.to_lowercase().replace(' ', "."));
    json!({
        "name": name, "email": email, "phone": "+1 (555) 010-4477",
        "role": role, "school_id": school,
    })
}

pub fn conversation() -> Value {
    json!({
        "held_at": (chrono::Utc::now() - chrono::TimeDelta::hours(2)).to_rfc3339(),
        "location": "Her office",
        "their_vision": "Every fourth grader codes by spring.",
        "stars": ["Fast projector fixes", "A friendly help desk"],
        "wish": "Loaner laptops the same day",
        "notes": "Mentioned the robotics club",
    })
}

pub fn promise_body(to: Value, due_on: &str) -> Value {
    json!({"to": to, "text": "The projector in room 12 fixed", "due_on": due_on})
}

/// `body` with `key` set to `value`.
pub fn with(mut body: Value, key: &str, value: Value) -> Value {
    body.as_object_mut().unwrap().insert(key.to_owned(), value);
    body
}

/// `body` without `key`.
pub fn without(mut body: Value, key: &str) -> Value {
    body.as_object_mut().unwrap().remove(key);
    body
}
