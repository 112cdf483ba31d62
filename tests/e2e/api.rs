//! Talking to procgate over HTTP as the people and systems of the story, each with a token
//! minted for the deployment's secret.

use std::time::Duration;

use auth::{Issuer, Role};
use reqwest::{Client, Method};
use serde_json::Value;

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The district's ERP, a finance system (`district-erp`).
    Finance,
    /// The IT director (`it-director@district.org`).
    It,
    /// An auditor (`auditor@district.org`).
    Auditor,
}

/// The subjects of the tokens.
pub const FINANCE: &str = "district-erp";
pub const IT: &str = "it-director@district.org";
pub const AUDITOR: &str = "auditor@district.org";

/// An HTTP client with a token for each [`Who`].
#[derive(Debug, Clone)]
pub struct Api {
    pub http: Client,
    finance: String,
    it: String,
    auditor: String,
}

/// A response: its status and JSON body (`null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// `METHOD url`, for messages.
    pub request: String,
}

impl Answer {
    /// The body, after checking the status.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{} answered {} (expected {status}): {:#}",
            self.request, self.status, self.body
        );
        self.body
    }

    /// The problem document, after checking the status and the problem type's slug.
    #[track_caller]
    pub fn problem(self, status: u16, slug: &str) -> Value {
        let request = self.request.clone();
        let body = self.expect(status);
        let kind = body["type"].as_str().unwrap_or_default();
        assert!(
            kind.ends_with(&format!("/{slug}")),
            "{request}: expected the problem type {slug}, got {body:#}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{request}: no detail: {body:#}"
        );
        body
    }
}

impl Api {
    pub fn new(secret: &str) -> Self {
        let issuer = Issuer::hs256(secret.as_bytes().to_vec(), "procgate", "procgate")
            .expect("an HS256 issuer");
        let hour = Duration::from_secs(3600);
        Self {
            http: Client::builder().timeout(Duration::from_secs(30)).build().expect("a client"),
            finance: issuer.issue(FINANCE, &[Role::Finance], hour),
            it: issuer.issue(IT, &[Role::ItStaff], hour),
            auditor: issuer.issue(AUDITOR, &[Role::Auditor], hour),
        }
    }

    pub fn token(&self, who: Who) -> &str {
        match who {
            Who::Finance => &self.finance,
            Who::It => &self.it,
            Who::Auditor => &self.auditor,
        }
    }

    pub async fn send(&self, who: Who, method: Method, url: &str, body: Option<&Value>) -> Answer {
        let request = format!("{method} {url}");
        let mut builder = self.http.request(method, url).bearer_auth(self.token(who));
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = builder.send().await.unwrap_or_else(|e| panic!("{request}: {e}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_else(|e| panic!("{request}: {e}"));
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, body, request }
    }

    /// `GET`, expecting 200.
    pub async fn get(&self, who: Who, url: &str) -> Value {
        self.send(who, Method::GET, url, None).await.expect(200)
    }

    pub async fn post(&self, who: Who, url: &str, body: &Value) -> Answer {
        self.send(who, Method::POST, url, Some(body)).await
    }

    pub async fn put(&self, who: Who, url: &str, body: &Value) -> Answer {
        self.send(who, Method::PUT, url, Some(body)).await
    }
}

/// A string field, or a panic naming it.
#[track_caller]
pub fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_else(|| panic!("no string {field:?} in {value:#}")).to_owned()
}
