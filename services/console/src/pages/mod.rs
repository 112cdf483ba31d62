//! The console's pages. Each reads what it shows from the API with the person's token, and
//! each form sends what it says to the API; nothing is decided here.

mod audit;
mod due;
mod notifications;
mod outreach;
mod purchase;
mod queue;
mod reports;
mod schools;

use actix_web::{HttpResponse, web};
use maud::Markup;
use serde_json::Value;

use crate::api::{Api, ApiError, Svc};
use crate::layout::{PageError, page};
use crate::session::{Person, Posted};

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    queue::routes(cfg);
    purchase::routes(cfg);
    outreach::routes(cfg);
    due::routes(cfg);
    schools::routes(cfg);
    reports::routes(cfg);
    audit::routes(cfg);
    notifications::routes(cfg);
}

/// A page as an answer, with `status`.
pub(crate) fn html(
    status: actix_web::http::StatusCode,
    person: &Person,
    current: &str,
    title: &str,
    body: Markup,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page(Some(person), current, title, body).into_string())
}

/// The query of a page a form sends back to: `done` names what was done, for a notice.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Done {
    pub(crate) done: Option<String>,
}

/// `id` as the id of the thing `what` names (`"promise id"`): a bad form otherwise.
pub(crate) fn uuid_of(id: &str, what: &str) -> Result<uuid::Uuid, PageError> {
    id.parse().map_err(|_| PageError::BadForm(format!("{id:?} is not a {what}")))
}

/// Sends what a person posted on to the API: `POST path` with `body`, their token, and the
/// form's `idempotency_key` as the `Idempotency-Key` (a form sent twice is written once).
pub(crate) async fn post_form(
    api: &Api,
    posted: &Posted,
    svc: Svc,
    path: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let key = posted.fields.get("idempotency_key");
    api.post(&posted.person.token, svc, path, body, key).await
}

/// A page as a 200 answer.
pub(crate) fn ok(person: &Person, current: &str, title: &str, body: Markup) -> HttpResponse {
    html(actix_web::http::StatusCode::OK, person, current, title, body)
}

/// A string field of a JSON object, or "".
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An optional string field.
pub(crate) fn opt<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A number field, or 0.
pub(crate) fn n(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or_default()
}

/// An array field, or nothing.
pub(crate) fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// A float field, or 0.
pub(crate) fn f(v: &Value, key: &str) -> f64 {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or_default(),
        Some(Value::String(s)) => s.parse().unwrap_or_default(),
        _ => 0.0,
    }
}
