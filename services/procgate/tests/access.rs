//! Who may do what, for every operation of the three services, proved against the real
//! `procgate serve` (all three services in one process) on PostgreSQL and on the embedded store.
//!
//! The operations come from the published documents (`openapi/gate.json`,
//! `openapi/stakeholders.json`, `openapi/reporting.json`), so none can be forgotten: the test
//! fails when a documented operation has no row in the tables below, or a row names an
//! operation its document no longer has. Each row says which roles may call the operation
//! (API.md: each table's role column and "Roles"); every operation is then called as each role,
//! with a token holding no role, and without a token:
//!
//! - a role the row does not name gets `403` (a token without a role too), no token `401`;
//! - a role the row names gets past authorization: anything but `401` and `403` (`404` for an
//!   id that does not exist, `422` for the empty body every write is sent, `409`… are fine).
//!
//! Path parameters get syntactically valid values ([`value_of`]); writes send `{}`. Rate limits
//! are off, so the hundreds of requests never meet a `429`. The live feed is only opened: its
//! status line and headers are read, then it is dropped.
//!
//! `admin`: API.md names it in some tables and not in others (the purchase actions and the
//! catalog's writes say `it_staff`, the purchase reads `it_staff, auditor, finance`, the streams
//! `auditor, it_staff`, replay and verify `auditor`). The services let an admin do what IT staff
//! and auditors may everywhere (the console signs its operator in as an admin, and that
//! operator works the queue); the rows say so, marked `admin: beyond API.md's table`.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::Server;
use testkit::Backend;

testkit::on_each_backend!(every_operation_answers_each_role_as_its_row_says);

/// Every procgate role, by its wire name.
const ROLES: [&str; 5] = ["finance", "it_staff", "auditor", "admin", "integration"];

/// Any procgate role.
const ANY: &[&str] = &ROLES;
/// IT staff and admins: the queue's work, the standards, people's records.
const IT: &[&str] = &["it_staff", "admin"];
/// Those who read people's personal data (API.md, "Roles").
const STAFF: &[&str] = &["it_staff", "auditor", "admin"];
/// Auditors (and admins: beyond API.md's table for replay and verify; its own for anchors).
const AUDIT: &[&str] = &["auditor", "admin"];
/// Webhook owners: admins (any), finance and integration systems (their own).
const HOOKS: &[&str] = &["admin", "finance", "integration"];
/// Durable subscriptions.
const SUBSCRIBERS: &[&str] = &["integration", "admin"];

/// One operation and the roles that may call it. No role at all: a public operation (the
/// documents have none yet; its row must then say so, and it is called without a token).
type Row = (&'static str, &'static str, &'static [&'static str]);

/// `openapi/gate.json`.
const GATE: &[Row] = &[
    ("POST", "/v1/purchase-checks", &["finance"]),
    // admin: beyond API.md's table (`it_staff, auditor, finance (its own)`).
    ("GET", "/v1/purchases", &["it_staff", "auditor", "admin", "finance"]),
    ("GET", "/v1/purchases/{id}", &["it_staff", "auditor", "admin", "finance"]),
    // admin: beyond API.md's table (`it_staff`), for the five actions.
    ("POST", "/v1/purchases/{id}/calls", IT),
    ("POST", "/v1/purchases/{id}/alternatives", IT),
    ("POST", "/v1/purchases/{id}/alternatives/{alt_id}/accept", IT),
    ("POST", "/v1/purchases/{id}/approve", IT),
    ("POST", "/v1/purchases/{id}/cancel", IT),
    ("POST", "/v1/purchases/{id}/waiting", IT),
    ("GET", "/v1/catalog", ANY),
    // admin: beyond API.md's table (`it_staff (write)`), for the catalog's writes.
    ("PUT", "/v1/catalog/products/{sku}", IT),
    ("DELETE", "/v1/catalog/products/{sku}", IT),
    ("PUT", "/v1/catalog/vendors/{vendor_id}", IT),
    ("PUT", "/v1/catalog/policy", IT),
    ("PUT", "/v1/catalog/categories/{category}", IT),
    ("GET", "/v1/district", ANY),
    ("PUT", "/v1/district", &["admin"]),
    ("PUT", "/v1/district/closures/{date}", IT),
    ("DELETE", "/v1/district/closures/{date}", IT),
    // Any role reads the targets; `escalate_to` only staff (see `the_targets_escalate_to`).
    ("GET", "/v1/sla", ANY),
    ("PUT", "/v1/sla", IT),
    ("GET", "/v1/cards", IT),
    ("PUT", "/v1/cards/{card_id}", IT),
    ("POST", "/v1/card-statements", &["finance", "it_staff", "admin"]),
    ("GET", "/v1/card-transactions", STAFF),
    // Not in API.md: as the list they belong to, and IT's writes.
    ("GET", "/v1/card-transactions/{id}", STAFF),
    ("POST", "/v1/card-transactions/{id}/confirm", IT),
    ("POST", "/v1/card-transactions/{id}/match", IT),
    ("POST", "/v1/card-transactions/{id}/undo-match", IT),
    ("POST", "/v1/card-transactions/{id}/outreach", IT),
    ("GET", "/v1/outreach", STAFF),
    ("GET", "/v1/reconciliation", STAFF),
    ("PUT", "/v1/reconciliation", IT),
];

/// `openapi/stakeholders.json`. API.md: "Writes need `it_staff` or `admin`; reads any
/// authenticated role except `finance`" — but its "Roles" gives `integration` the feed and
/// subscriptions, "nothing else", and no role but staff people's personal data: reads are
/// staff's.
const STAKEHOLDERS: &[Row] = &[
    ("PUT", "/v1/schools/{school_id}", IT),
    ("GET", "/v1/schools", STAFF),
    ("GET", "/v1/schools/{school_id}", STAFF),
    ("PUT", "/v1/schools/{school_id}/agreement", IT),
    ("DELETE", "/v1/schools/{school_id}/agreement", IT),
    ("POST", "/v1/stakeholders", IT),
    ("GET", "/v1/stakeholders", STAFF),
    ("GET", "/v1/stakeholders/{id}", STAFF),
    ("PUT", "/v1/stakeholders/{id}", IT),
    ("POST", "/v1/stakeholders/{id}/conversations", IT),
    ("DELETE", "/v1/stakeholders/{id}/personal-data", &["admin"]),
    ("GET", "/v1/wishes", STAFF),
    ("GET", "/v1/wishes/{id}", STAFF),
    ("POST", "/v1/wishes/{id}/progress", IT),
    ("POST", "/v1/promises", IT),
    ("GET", "/v1/promises", STAFF),
    ("GET", "/v1/promises/{id}", STAFF),
    ("POST", "/v1/promises/{id}/kept", IT),
    ("POST", "/v1/promises/{id}/broken", IT),
    ("POST", "/v1/follow-ups", IT),
    ("GET", "/v1/follow-ups", STAFF),
    ("GET", "/v1/follow-ups/{id}", STAFF),
    ("POST", "/v1/follow-ups/{id}/done", IT),
    ("GET", "/v1/vision", STAFF),
    ("PUT", "/v1/vision", IT),
    ("GET", "/v1/reports/coverage", STAFF),
    ("POST", "/v1/meeting-rounds", IT),
    ("GET", "/v1/meeting-rounds", STAFF),
    ("GET", "/v1/meeting-rounds/{id}", STAFF),
    ("POST", "/v1/stakeholders/{id}/conversations/{conversation_id}/acknowledgements", IT),
    ("POST", "/v1/stakeholders/{id}/advocacy", IT),
    ("GET", "/v1/reports/advocates", STAFF),
    ("GET", "/v1/reports/going-cold", STAFF),
    ("GET", "/v1/reports/themes", STAFF),
    ("GET", "/v1/reminder-settings", STAFF),
    ("PUT", "/v1/reminder-settings", IT),
];

/// `openapi/reporting.json`.
const REPORTING: &[Row] = &[
    // Everyone reads the feed: finance its own purchases' events, integration no personal data.
    ("GET", "/v1/events", ANY),
    ("GET", "/v1/events/live", ANY),
    // admin: beyond API.md's table (`auditor, it_staff`).
    ("GET", "/v1/streams/{stream}", &["auditor", "it_staff", "admin"]),
    ("GET", "/v1/reports/adoption", STAFF),
    ("GET", "/v1/reports/response-times", STAFF),
    ("GET", "/v1/reports/promises", STAFF),
    ("GET", "/v1/reports/rogue-spend", STAFF),
    ("GET", "/v1/reports/wishes", STAFF),
    ("GET", "/v1/reports/sla", STAFF),
    // admin: beyond API.md's table (`auditor`), for replay and verify.
    ("GET", "/v1/audit/purchases/{id}", AUDIT),
    ("GET", "/v1/audit/verify", AUDIT),
    ("GET", "/v1/audit/anchors", AUDIT),
    ("POST", "/v1/audit/anchors", AUDIT),
    ("POST", "/v1/audit/anchors/verify", AUDIT),
    ("POST", "/v1/webhooks", HOOKS),
    ("GET", "/v1/webhooks", HOOKS),
    ("GET", "/v1/webhooks/{id}", HOOKS),
    ("DELETE", "/v1/webhooks/{id}", HOOKS),
    ("GET", "/v1/webhooks/{id}/deliveries", HOOKS),
    ("POST", "/v1/webhooks/{id}/replay", HOOKS),
    ("POST", "/v1/webhooks/{id}/rotate-secret", HOOKS),
    ("PUT", "/v1/subscriptions/{name}", SUBSCRIBERS),
    ("GET", "/v1/subscriptions/{name}/events", SUBSCRIBERS),
    ("POST", "/v1/subscriptions/{name}/ack", SUBSCRIBERS),
    // Someone else's address ([`value_of`]): IT staff and admins; each role may read and set
    // its own (see `each_role_has_its_own_address`).
    ("GET", "/v1/email-preferences/{email}", IT),
    ("PUT", "/v1/email-preferences/{email}", IT),
];

/// Operations API.md has that no document publishes yet: each may be missing from its
/// document; once published it is checked like any other row (then move it to its table).
const AWAITED: &[(&str, Row)] = &[];

/// The tables, by the document they come from.
const DOCUMENTS: [(&str, &[Row]); 3] =
    [("gate", GATE), ("stakeholders", STAKEHOLDERS), ("reporting", REPORTING)];

/// A syntactically valid value for a path parameter, by its name. A parameter not listed here
/// fails the test: give it a value.
fn value_of(parameter: &str) -> &'static str {
    match parameter {
        "id" => "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00",
        "alt_id" => "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d01",
        "card_id" => "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d02",
        "conversation_id" => "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d03",
        "sku" => "LAT-5440",
        "vendor_id" => "dell",
        "category" => "laptops",
        "date" => "2026-12-24",
        "school_id" => "lincoln-elem",
        "stream" => "purchase-0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d00",
        "name" => "access-matrix",
        // Nobody's own: each caller's token is for `<role>@access.example`.
        "email" => "someone-else@district.example",
        other => panic!("no value for the path parameter {{{other}}}: add one to value_of"),
    }
}

/// `template` with each `{parameter}` filled by [`value_of`].
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(parameter) => value_of(parameter),
            None => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A documented operation: its method, path template, and whether it needs a token.
#[derive(Debug)]
struct Operation {
    method: String,
    path: String,
    secured: bool,
}

/// Every operation of `openapi/<name>.json`. An operation needs a token when its own
/// `security`, or else the document's, names a scheme.
fn documented(name: &str) -> Vec<Operation> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../openapi/{name}.json"));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let document: Value = serde_json::from_str(&text).unwrap();
    let secured = |security: &Value| security.as_array().is_some_and(|s| !s.is_empty());
    let default = secured(&document["security"]);
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if !["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                continue;
            }
            let secured = match operation.get("security") {
                Some(security) => secured(security),
                None => default,
            };
            operations.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                secured,
            });
        }
    }
    operations
}

/// The rows to call: each table against its document. Panics, listing every problem, when an
/// operation has no row, a row no operation, a row names a role that does not exist, or a
/// row's need for a token is not its document's.
fn rows() -> Vec<Row> {
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    for (name, table) in DOCUMENTS {
        let operations = documented(name);
        let awaited = AWAITED.iter().filter(|(doc, _)| *doc == name).map(|(_, row)| row);
        let mut seen = BTreeSet::new();
        for row @ &(method, path, roles) in table.iter().chain(awaited.clone()) {
            if !seen.insert((method, path)) {
                problems.push(format!("{name}: {method} {path} has two rows"));
            }
            for role in roles {
                if !ROLES.contains(role) {
                    problems.push(format!("{name}: {method} {path} names {role}, not a role"));
                }
            }
            let found = operations.iter().find(|o| o.method == method && o.path == path);
            match found {
                None if awaited.clone().any(|r| r == row) => {}
                None => problems.push(format!(
                    "{name}: {method} {path} has a row, but openapi/{name}.json has no such \
                     operation: remove the row"
                )),
                Some(operation) if operation.secured == roles.is_empty() => problems.push(format!(
                    "{name}: {method} {path}: the document says it {}, its row {}",
                    if operation.secured { "needs a token" } else { "is public" },
                    if roles.is_empty() { "that it is public" } else { "names roles" },
                )),
                Some(_) => rows.push(*row),
            }
        }
        for operation in &operations {
            if !seen.contains(&(operation.method.as_str(), operation.path.as_str())) {
                problems.push(format!(
                    "{name}: {} {} is in openapi/{name}.json but has no row: say who may call it",
                    operation.method, operation.path
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the access tables (services/procgate/tests/access.rs) and the documents:\n{}",
        problems.join("\n")
    );
    rows
}

#[test]
fn every_documented_operation_has_a_row_and_every_row_an_operation() {
    let rows = rows();
    let documented: usize = DOCUMENTS.iter().map(|(name, _)| documented(name).len()).sum();
    assert_eq!(rows.len(), documented);
}

/// Who calls: a role's token, a token without a role, or no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Role(&'static str),
    NoRole,
    Nobody,
}

/// What a call must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `401`: no token.
    Unauthorized,
    /// `403`: a token without the role.
    Forbidden,
    /// Past authorization: anything but `401` and `403`, and not `500` either (an allowed
    /// caller must not break the server).
    Through,
}

impl Expect {
    fn admits(self, status: u16) -> bool {
        match self {
            Expect::Unauthorized => status == 401,
            Expect::Forbidden => status == 403,
            Expect::Through => !matches!(status, 401 | 403 | 500),
        }
    }
}

/// The server's HS256 secret: the test signs its tokens with it.
const SECRET: &str = "the-access-test-secret-of-at-least-32-bytes";

/// `procgate serve` on `backend`, and a token for each caller.
struct Running {
    server: Server,
    tokens: Vec<(Caller, String)>,
    http: reqwest::Client,
    _database: Option<testkit::TestDatabase>,
}

impl Running {
    async fn start(backend: Backend) -> Self {
        let database = support::database_for(backend).await;
        let mut env = support::quiet_env(
            database.as_ref(),
            "the-access-test-webhook-key-of-at-least-32-bytes",
        );
        env.push(("PROCGATE_JWT_SECRET", SECRET));
        let server = tokio::task::block_in_place(|| Server::start(&env));
        let issuer = auth::Issuer::hs256(SECRET, "procgate", "procgate").unwrap();
        let hour = Duration::from_secs(3600);
        let mut tokens: Vec<(Caller, String)> = ROLES
            .iter()
            .map(|role| {
                let roles = [role.parse().unwrap()];
                (Caller::Role(role), issuer.issue(&own_address(role), &roles, hour))
            })
            .collect();
        tokens.push((Caller::NoRole, issuer.issue("nobody@access.example", &[], hour)));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Self { server, tokens, http, _database: database }
    }

    fn callers(&self) -> impl Iterator<Item = Caller> + '_ {
        self.tokens.iter().map(|(caller, _)| *caller).chain([Caller::Nobody])
    }

    /// Sends `method path` as `caller` (`{}` as the body of a write); returns the status and
    /// the headers' content type, without reading the body (a live feed never ends).
    async fn send(&self, caller: Caller, method: &str, path: &str) -> (u16, String) {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let write = [Method::POST, Method::PUT, Method::PATCH].contains(&method);
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.server.url));
        if let Some((_, token)) = self.tokens.iter().find(|(c, _)| *c == caller) {
            request = request.bearer_auth(token);
        }
        if write {
            request = request.json(&json!({}));
        }
        let response = tokio::time::timeout(Duration::from_secs(10), request.send())
            .await
            .unwrap_or_else(|_| panic!("{method} {path} as {caller:?}: no answer in 10 s"))
            .unwrap_or_else(|e| panic!("{method} {path} as {caller:?}: {e}"));
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (response.status().as_u16(), kind)
    }

    async fn get_json(&self, role: &'static str, path: &str) -> Value {
        let (_, token) = self.tokens.iter().find(|(c, _)| *c == Caller::Role(role)).unwrap();
        let response = self
            .http
            .get(format!("{}{path}", self.server.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path} as {role}");
        response.json().await.unwrap()
    }
}

/// The subject of `role`'s token: an address of its own.
fn own_address(role: &str) -> String {
    format!("{role}@access.example")
}

async fn every_operation_answers_each_role_as_its_row_says(backend: Backend) {
    let rows = rows();
    let started = Instant::now();
    let running = Running::start(backend).await;
    let ready = started.elapsed();
    let mut wrong = Vec::new();
    let mut calls = 0;
    for (method, template, roles) in &rows {
        let path = fill(template);
        for caller in running.callers() {
            let (status, kind) = running.send(caller, method, &path).await;
            calls += 1;
            let expected = match caller {
                _ if roles.is_empty() => Expect::Through,
                Caller::Nobody => Expect::Unauthorized,
                Caller::NoRole => Expect::Forbidden,
                Caller::Role(role) if roles.contains(&role) => Expect::Through,
                Caller::Role(_) => Expect::Forbidden,
            };
            if !expected.admits(status) {
                wrong.push(format!(
                    "{method} {template} as {caller:?}: {status} ({kind}), expected {expected:?}"
                ));
            }
        }
    }
    each_role_has_its_own_address(&running, &mut wrong).await;
    the_targets_escalate_to(&running, &mut wrong).await;
    assert!(wrong.is_empty(), "{backend:?}: {} wrong answers:\n{}", wrong.len(), wrong.join("\n"));
    eprintln!(
        "{backend:?}: {} operations, {calls} calls, in {:.1?} (the server ready in {ready:.1?})",
        rows.len(),
        started.elapsed()
    );
}

/// Every role reads and sets the e-mail preference of its own address (the token's subject).
async fn each_role_has_its_own_address(running: &Running, wrong: &mut Vec<String>) {
    for role in ROLES {
        let path = format!("/v1/email-preferences/{}", own_address(role));
        for method in ["GET", "PUT"] {
            let (status, _) = running.send(Caller::Role(role), method, &path).await;
            if !Expect::Through.admits(status) {
                wrong.push(format!("{method} {path} as {role}, its own: {status}"));
            }
        }
    }
}

/// `GET /v1/sla`: any role reads the targets, but whom breaches are escalated to (a person's
/// address) only staff; the others read the feed's redacted address in its place.
async fn the_targets_escalate_to(running: &Running, wrong: &mut Vec<String>) {
    let (_, token) = running.tokens.iter().find(|(c, _)| *c == Caller::Role("admin")).unwrap();
    let targets = json!({"first_contact_minutes": 120, "decision_minutes": 960,
        "advisory_outreach_minutes": 480, "escalate_to": "cto@district.example"});
    let set = running
        .http
        .put(format!("{}/v1/sla", running.server.url))
        .bearer_auth(token)
        .json(&targets)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200, "PUT /v1/sla as admin");
    for role in ROLES {
        let read = running.get_json(role, "/v1/sla").await;
        let expected = if STAFF.contains(&role) {
            "cto@district.example"
        } else {
            events::audience::REDACTED_EMAIL
        };
        if read["escalate_to"] != expected {
            wrong.push(format!("GET /v1/sla as {role}: escalate_to {}", read["escalate_to"]));
        }
        if read["first_contact_minutes"] != 120 {
            wrong.push(format!("GET /v1/sla as {role}: {read}"));
        }
    }
}
