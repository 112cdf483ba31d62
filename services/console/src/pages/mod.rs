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

use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use maud::Markup;
use serde_json::Value;

use crate::State;
use crate::api::{Api, ApiError, Svc};
use crate::layout::{PageError, page};
use crate::session::{Fields, Person, Posted, Signed};

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

/// A signed-in person on a page, with the API as them (their token on every request). Derefs
/// to the [`Person`].
pub(crate) struct Viewer {
    pub(crate) person: Person,
    state: web::Data<State>,
}

impl Viewer {
    fn new(person: Person, state: Option<web::Data<State>>) -> Result<Self, PageError> {
        let state = state.ok_or_else(|| PageError::internal("the console's state is not set"))?;
        Ok(Self { person, state })
    }

    /// The services' API.
    pub(crate) fn api(&self) -> &Api {
        &self.state.api
    }

    /// `GET path` of `svc` as the person.
    pub(crate) async fn get(&self, svc: Svc, path: &str) -> Result<Value, ApiError> {
        self.state.api.get(&self.person.token, svc, path).await
    }
}

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Ready<Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let signed = Signed::from_request(req, payload).into_inner();
        ready(signed.and_then(|Signed(person)| Self::new(person, state)))
    }
}

impl Deref for Viewer {
    type Target = Person;

    fn deref(&self) -> &Person {
        &self.person
    }
}

/// A form a signed-in person sent (see [`Posted`]: its CSRF token checked), with the API as
/// them. Derefs to the [`Viewer`].
pub(crate) struct Submitted {
    pub(crate) viewer: Viewer,
    /// What they filled in.
    pub(crate) fields: Fields,
}

impl Submitted {
    /// Sends the form on to the API: `POST path` of `svc` with `body`, as the person, with the
    /// form's `idempotency_key` as the `Idempotency-Key` (a form sent twice is written once).
    pub(crate) async fn post(&self, svc: Svc, path: &str, body: &Value) -> Result<Value, ApiError> {
        let key = self.fields.get("idempotency_key");
        self.api().post(&self.person.token, svc, path, body, key).await
    }
}

impl Deref for Submitted {
    type Target = Viewer;

    fn deref(&self) -> &Viewer {
        &self.viewer
    }
}

impl FromRequest for Submitted {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let posted = Posted::from_request(req, payload);
        Box::pin(async move {
            let Posted { person, fields } = posted.await?;
            Ok(Self { viewer: Viewer::new(person, state)?, fields })
        })
    }
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
