//! HTTP in tests of the services: a served app called as someone ([`Calls`]), and its answers
//! read whole, with assertions on procgate's conventions (request ids, RFC 9457 problems,
//! validation errors).

use std::future::Future;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The HTTP client of the tests: a minute before a request gives up.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// A served app that tests call as someone (`Self::Who`): with that caller's bearer token, or
/// without an `Authorization` header.
pub trait Calls {
    /// Who calls.
    type Who: Copy;

    /// The app's base URL (`http://127.0.0.1:<port>`).
    fn base(&self) -> &str;

    /// The HTTP client.
    fn client(&self) -> &reqwest::Client;

    /// The bearer token `who` sends (`None`: no `Authorization` header).
    fn bearer(&self, who: Self::Who) -> Option<String>;

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// A request as `who` (with its token, if it has one).
    fn request(&self, who: Self::Who, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.client().request(method, self.url(path));
        match self.bearer(who) {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// Sends a request as `who`, with `body` as JSON when given.
    fn send(
        &self,
        who: Self::Who,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> impl Future<Output = Reply> {
        let mut req = self.request(who, method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        async move { Reply::read(req.send().await.unwrap()).await }
    }

    fn get(&self, who: Self::Who, path: &str) -> impl Future<Output = Reply> {
        self.send(who, Method::GET, path, None)
    }

    fn post(&self, who: Self::Who, path: &str, body: &Value) -> impl Future<Output = Reply> {
        self.send(who, Method::POST, path, Some(body))
    }

    fn put(&self, who: Self::Who, path: &str, body: &Value) -> impl Future<Output = Reply> {
        self.send(who, Method::PUT, path, Some(body))
    }

    fn delete(&self, who: Self::Who, path: &str, body: &Value) -> impl Future<Output = Reply> {
        self.send(who, Method::DELETE, path, Some(body))
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON (`null` when it is not JSON).
    pub body: Value,
}

impl Reply {
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self { status, headers, text, body }
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    /// The body of an answer with `status`.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert!(!self.header("x-request-id").is_empty(), "no x-request-id: {self:?}");
        &self.body
    }

    /// The problem of an answer with `status` and problem type `slug`, checking its shape:
    /// `application/problem+json`, `status`, a `detail`, and the request id (also in the
    /// `x-request-id` header).
    #[track_caller]
    pub fn expect_problem(&self, status: u16, slug: &str) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        let content_type = self.header("content-type");
        assert!(
            content_type.starts_with("application/problem+json"),
            "content type {content_type:?}: {}",
            self.text
        );
        let p = &self.body;
        assert_eq!(p["type"], format!("https://procgate.dev/problems/{slug}"), "{}", self.text);
        assert_eq!(p["status"], status, "{}", self.text);
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{}", self.text);
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", self.text);
        let request_id = self.header("x-request-id");
        assert!(!request_id.is_empty(), "no x-request-id header");
        assert_eq!(p["request_id"], request_id, "{}", self.text);
        p
    }

    /// A 422 `validation` problem naming `field` in its `errors`.
    #[track_caller]
    pub fn expect_invalid(&self, field: &str) {
        self.expect_problem(422, "validation");
        let fields = self.invalid_fields();
        assert!(fields.iter().any(|f| f == field), "{field} not among {fields:?}: {}", self.text);
    }

    /// A 422 `validation` problem naming exactly `fields` in its `errors`, in order.
    #[track_caller]
    pub fn expect_invalid_fields(&self, fields: &[&str]) {
        self.expect_problem(422, "validation");
        assert_eq!(self.invalid_fields(), fields, "{}", self.text);
    }

    /// The `field`s of a validation problem's `errors`.
    pub fn invalid_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect()
            })
            .unwrap_or_default()
    }
}
