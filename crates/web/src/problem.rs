//! RFC 9457 problem details: the one error shape every procgate service answers with.
//!
//! [`ApiError`] is what handlers and extractors return; it implements
//! [`actix_web::ResponseError`] and renders `application/problem+json`. [`Problem`] is the body
//! on the wire, with a [`utoipa::ToSchema`] so services can reference it in their OpenAPI
//! responses, and `Deserialize` so tests can parse responses.
//!
//! Two members depend on the request rather than on the error: `instance` (the request path)
//! and `request_id`. `ResponseError::error_response` cannot see the request, so the
//! [`crate::request_id`] middleware fills them in on the way out.
//!
//! The line this module draws: a client sees the `detail` a constructor was given, never the
//! cause of an internal error. [`ApiError::internal`] logs its cause with `tracing` (inside the
//! request's span, so the log line carries the request id) and tells the client only to quote
//! the request id.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The base of every problem `type` URI: a problem's type is `PROBLEM_BASE` followed by its slug
/// (`https://procgate.dev/problems/call-required`). Stable: clients match on it.
pub const PROBLEM_BASE: &str = "https://procgate.dev/problems/";

/// The media type of a problem body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The slug of [`ApiError::validation`] problems.
pub const VALIDATION_SLUG: &str = "validation";

/// One invalid field of a request, listed in a `validation` problem's `errors` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path into the request (`lines[2].unit_price`), or a query or path
    /// parameter's name.
    pub field: String,
    /// What is wrong with it, as a sentence a person can act on.
    pub message: String,
}

impl FieldError {
    /// A field error for `field` saying `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// An RFC 9457 problem details body, as sent on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "https://procgate.dev/problems/call-required",
    "title": "Call required",
    "status": 409,
    "detail": "Log a call with the requester and propose an alternative before cancelling this purchase.",
    "instance": "/v1/purchases/0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d2e/cancel",
    "request_id": "0190c1a2-7b7e-7c3e-9a51-2f1f0c6f1d2f"
}))]
pub struct Problem {
    /// A URI naming the kind of problem; stable, so clients can match on it.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short summary of the kind of problem; the same for every occurrence of a `type`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, as a sentence a person can act on.
    pub detail: String,
    /// The path of the request that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request's id (also in the `x-request-id` header): quote it when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For `validation` problems: each invalid field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Other members particular to a problem type (for example `actual_version`). Left out of
    /// the schema, which allows additional members anyway; each service documents its own.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// The slug of this problem's `type` (`call-required`), if the type is one of ours.
    pub fn slug(&self) -> Option<&str> {
        self.type_.strip_prefix(PROBLEM_BASE)
    }
}

/// The type URI for a slug.
pub fn problem_type(slug: &str) -> String {
    format!("{PROBLEM_BASE}{slug}")
}

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error a handler or extractor returns; rendered as an RFC 9457 problem.
///
/// Build one with a constructor (`ApiError::not_found(..)`, `ApiError::conflict(slug, ..)`),
/// optionally add members with [`with_extension`](Self::with_extension) or headers with
/// [`with_header`](Self::with_header), and return it. The `type` is
/// [`PROBLEM_BASE`]` + slug`; the `title` defaults to the status's reason phrase.
///
/// It is one pointer wide (the contents are boxed), so `Result<T, ApiError>` stays small.
pub struct ApiError(Box<Inner>);

struct Inner {
    status: StatusCode,
    slug: Cow<'static, str>,
    title: Cow<'static, str>,
    detail: String,
    errors: Vec<FieldError>,
    extensions: Map<String, Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Kept for `source()` and server-side logs; never rendered.
    cause: Option<Cause>,
}

/// How long a client is asked to wait before retrying after a 503, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;
const RETRY_AFTER_SECS_TEXT: &str = "5";

impl ApiError {
    /// A problem with any status, slug and detail. Prefer the named constructors.
    pub fn new(
        status: StatusCode,
        slug: impl Into<Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Self(Box::new(Inner {
            status,
            slug: slug.into(),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            detail: detail.into(),
            errors: Vec::new(),
            extensions: Map::new(),
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// 400: the request is wrong in a way described by `slug` (`malformed-json`,
    /// `invalid-query`, …).
    pub fn bad_request(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, slug, detail)
    }

    /// 422 `validation`: the request is well-formed but these fields are invalid.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("The field `{}` is invalid: {}", one.field, one.message),
            many => format!(
                "{} fields are invalid; correct each one listed in `errors` and send the request again.",
                many.len()
            ),
        };
        let mut err = Self::new(StatusCode::UNPROCESSABLE_ENTITY, VALIDATION_SLUG, detail)
            .with_title("Invalid request fields");
        err.0.errors = errors;
        err
    }

    /// 401 `unauthorized`: no valid credentials. The `auth` crate adds the
    /// `WWW-Authenticate` header.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403 `forbidden`: authenticated, but not allowed to do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404 `not-found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 405 `method-not-allowed`.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", detail)
    }

    /// 409: the request conflicts with the current state (`call-required`,
    /// `idempotency-conflict`, `version-conflict`, …).
    pub fn conflict(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, detail)
    }

    /// 422: well-formed, but the domain refuses it for the reason `slug` names.
    pub fn unprocessable(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, slug, detail)
    }

    /// 413 `payload-too-large`.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", detail)
    }

    /// 415 `unsupported-media-type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", detail)
    }

    /// 500 `internal`: something failed on our side. The cause is logged here, with its
    /// source chain, inside the current request's span; the client gets a generic detail and
    /// (through the middleware) the request id to quote.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        let cause: Cause = cause.into();
        tracing::error!(cause = %ErrorChain(&*cause), "internal error");
        let mut err = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The server failed to handle this request. Try again; if it keeps failing, report the request id to IT.",
        );
        err.0.cause = Some(cause);
        err
    }

    /// 503 `unavailable`: a dependency (the event store, …) is not answering. `detail` is
    /// shown to the client, so say what is unavailable, not why. It carries `Retry-After`
    /// ([`RETRY_AFTER_SECS`] seconds), so clients back off rather than hammer.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
            .with_header(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS_TEXT))
    }

    /// Replaces the title (by default the status's reason phrase).
    pub fn with_title(mut self, title: impl Into<Cow<'static, str>>) -> Self {
        self.0.title = title.into();
        self
    }

    /// Adds an extension member to the body (`actual_version`, `purchase_id`, …). Values that
    /// fail to serialize are skipped. Reserved names (`type`, `title`, `status`, `detail`,
    /// `instance`, `request_id`, `errors`) are ignored.
    pub fn with_extension(mut self, key: impl Into<String>, value: impl Serialize) -> Self {
        let key = key.into();
        const RESERVED: [&str; 7] =
            ["type", "title", "status", "detail", "instance", "request_id", "errors"];
        if RESERVED.contains(&key.as_str()) {
            return self;
        }
        if let Ok(value) = serde_json::to_value(value) {
            self.0.extensions.insert(key, value);
        }
        self
    }

    /// Adds a response header (for example `WWW-Authenticate` or `Retry-After`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The slug (the last part of the `type` URI).
    pub fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The detail the client will see.
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The body for this error, with the request-dependent members given.
    pub fn to_problem(&self, instance: Option<&str>, request_id: Option<&str>) -> Problem {
        Problem {
            type_: problem_type(&self.0.slug),
            title: self.0.title.to_string(),
            status: self.0.status.as_u16(),
            detail: self.0.detail.clone(),
            instance: instance.map(str::to_owned),
            request_id: request_id.map(str::to_owned),
            errors: self.0.errors.clone(),
            extensions: self.0.extensions.clone(),
        }
    }

    /// A generic problem for an error status that carries no problem of its own (a plain
    /// actix-web error, an empty 404/405). For 4xx the actix error's message is shown (it
    /// describes the client's input); for 5xx a generic detail is shown and the message logged.
    pub(crate) fn for_status(status: StatusCode, message: Option<String>) -> Self {
        let reason = status.canonical_reason().unwrap_or("Error");
        let slug: Cow<'static, str> = match status {
            StatusCode::NOT_FOUND => "not-found".into(),
            StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed".into(),
            StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large".into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type".into(),
            StatusCode::UNAUTHORIZED => "unauthorized".into(),
            StatusCode::FORBIDDEN => "forbidden".into(),
            StatusCode::SERVICE_UNAVAILABLE => "unavailable".into(),
            StatusCode::INTERNAL_SERVER_ERROR => "internal".into(),
            _ => reason.to_ascii_lowercase().replace(' ', "-").into(),
        };
        if status.is_server_error() {
            if let Some(message) = message {
                tracing::error!(cause = %message, status = status.as_u16(), "server error");
            }
            return Self::new(
                status,
                slug,
                "The server failed to handle this request. Try again; if it keeps failing, report the request id to IT.",
            );
        }
        let detail = match (status, message) {
            (_, Some(m)) if !m.is_empty() => m,
            (StatusCode::NOT_FOUND, _) => {
                "There is nothing at this path; check the path against the API documentation at /docs.".to_owned()
            }
            (StatusCode::METHOD_NOT_ALLOWED, _) => {
                "This path does not accept this HTTP method; check the API documentation at /docs.".to_owned()
            }
            _ => format!("The request was refused: {reason}."),
        };
        Self::new(status, slug, detail)
    }

    /// The full response for this error, with the request-dependent members given.
    pub fn render(&self, instance: Option<&str>, request_id: Option<&str>) -> HttpResponse {
        let mut builder = HttpResponse::build(self.0.status);
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        for (name, value) in &self.0.headers {
            builder.append_header((name.clone(), value.clone()));
        }
        builder.body(problem_body(&self.to_problem(instance, request_id)))
    }
}

/// Serializes a problem; a `Problem` always serializes, but never panic in an error path.
pub(crate) fn problem_body(problem: &Problem) -> String {
    serde_json::to_string(problem).unwrap_or_else(|_| {
        format!(
            r#"{{"type":"{PROBLEM_BASE}internal","title":"Internal Server Error","status":500,"detail":"The server failed to render an error."}}"#
        )
    })
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ApiError");
        d.field("status", &self.0.status.as_u16())
            .field("slug", &self.0.slug)
            .field("detail", &self.0.detail);
        if !self.0.errors.is_empty() {
            d.field("errors", &self.0.errors);
        }
        if !self.0.extensions.is_empty() {
            d.field("extensions", &self.0.extensions);
        }
        if let Some(cause) = &self.0.cause {
            d.field("cause", &ErrorChain(&**cause).to_string());
        }
        d.finish()
    }
}

/// Server-side text (logs, tracing-actix-web's error event): status, slug and detail, plus
/// the cause for internal errors. Never sent to a client.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.slug, self.0.detail)?;
        if let Some(cause) = &self.0.cause {
            write!(f, " (cause: {})", ErrorChain(&**cause))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.cause.as_deref().map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// A rule that is never refused (its error is `Infallible`) is run with `?` like any other.
impl From<std::convert::Infallible> for ApiError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    /// The problem without `instance` and `request_id`; the request-id middleware adds them.
    fn error_response(&self) -> HttpResponse {
        self.render(None, None)
    }
}

/// Displays an error and its `source()` chain: `outer: inner: root`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_asks_the_client_to_retry_later() {
        let response = ApiError::unavailable("The event log is unavailable.").error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok());
        assert_eq!(retry, Some(RETRY_AFTER_SECS.to_string().as_str()));
    }

    #[test]
    fn type_uri_is_base_plus_slug() {
        let p = ApiError::conflict("call-required", "Call first.").to_problem(None, None);
        assert_eq!(p.type_, "https://procgate.dev/problems/call-required");
        assert_eq!(p.slug(), Some("call-required"));
        assert_eq!(p.status, 409);
        assert_eq!(p.title, "Conflict");
    }

    #[test]
    fn extensions_are_flattened_and_reserved_names_ignored() {
        let err = ApiError::conflict("version-conflict", "Reload and retry.")
            .with_extension("actual_version", 7)
            .with_extension("status", 200);
        let json = serde_json::to_value(err.to_problem(Some("/x"), Some("rid"))).unwrap();
        assert_eq!(json["actual_version"], 7);
        assert_eq!(json["status"], 409);
        assert_eq!(json["instance"], "/x");
        assert_eq!(json["request_id"], "rid");
    }

    #[test]
    fn validation_lists_fields() {
        let err = ApiError::validation(vec![
            FieldError::new("stars", "give exactly two stars"),
            FieldError::new("wish", "must not be empty"),
        ]);
        let p = err.to_problem(None, None);
        assert_eq!(p.status, 422);
        assert_eq!(p.slug(), Some("validation"));
        assert_eq!(p.errors.len(), 2);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["errors"][0]["field"], "stars");
    }

    #[test]
    fn internal_cause_is_kept_server_side_only() {
        let err = ApiError::internal(std::io::Error::other("password=hunter2"));
        let body = problem_body(&err.to_problem(None, None));
        assert!(!body.contains("hunter2"));
        assert!(err.to_string().contains("hunter2"));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn problem_round_trips() {
        let p = ApiError::not_found("No purchase 7.")
            .with_extension("purchase_id", "7")
            .to_problem(Some("/v1/purchases/7"), Some("abc"));
        let back: Problem = serde_json::from_str(&problem_body(&p)).unwrap();
        assert_eq!(back, p);
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;
    use utoipa::OpenApi;

    #[derive(OpenApi)]
    #[openapi(components(schemas(Problem, FieldError)))]
    struct Doc;

    #[test]
    fn problem_schema_names_the_rfc_9457_members() {
        let json = serde_json::to_value(Doc::openapi()).unwrap();
        let problem = &json["components"]["schemas"]["Problem"];
        for member in ["type", "title", "status", "detail", "instance", "request_id", "errors"] {
            assert!(
                problem.to_string().contains(&format!("\"{member}\"")),
                "{member} missing from {problem:#}"
            );
        }
        assert_eq!(problem["required"], serde_json::json!(["type", "title", "status", "detail"]));
    }
}
