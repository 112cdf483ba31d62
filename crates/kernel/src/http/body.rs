//! Request bodies: one type is both the schema the OpenAPI document shows (`ToSchema`) and the
//! parser that accepts it ([`FromJson`]), so the documented and the accepted shape cannot drift.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, Json};
use actix_web::{FromRequest, HttpRequest};
use serde_json::{Map, Value};
use web::{ApiError, Fields};

/// A body type that parses itself from a JSON object, field by field, recording every bad
/// field in `fields` (one 422 lists them all).
///
/// ```ignore
/// #[derive(Debug, ToSchema)]
/// pub struct CancelBody {
///     /// Why, for the requester and the record.
///     pub reason: LongText,
/// }
///
/// impl FromJson for CancelBody {
///     fn from_json(f: &mut Fields, body: &Map<String, Value>) -> Option<Self> {
///         let reason = f.string("reason", body.get("reason"), LongText::parse);
///         Some(Self { reason: reason? })
///     }
/// }
/// ```
pub trait FromJson: Sized {
    /// The value, or `None` after recording why in `fields`. Parse every field before using
    /// `?`, so every bad field is reported at once.
    fn from_json(fields: &mut Fields, body: &Map<String, Value>) -> Option<Self>;
}

/// `body` parsed as `T`: a 422 `validation` problem listing every bad field otherwise.
pub fn parse_object<T: FromJson>(body: &Value) -> Result<T, ApiError> {
    let mut fields = Fields::new();
    let value =
        web::input::object(&mut fields, "", body).and_then(|map| T::from_json(&mut fields, map));
    fields.finish(value)
}

/// A JSON body to parse into `T`: extracting it answers 400 (malformed JSON), 413 (too large)
/// and 415 (not JSON); [`Body::parse`] answers 422 listing every invalid field.
///
/// Put it after the [`Caller`](super::Caller) in a handler's arguments: extractors run in
/// order, so a caller without the role gets 403 before their body is read. Parse it after the
/// path, so a bad path is a 400 whatever the body.
#[derive(Debug)]
pub struct Body<T> {
    value: Value,
    parsed: PhantomData<T>,
}

impl<T: FromJson> Body<T> {
    /// The body as `T`, or a 422 `validation` problem listing every bad field.
    pub fn parse(&self) -> Result<T, ApiError> {
        parse_object(&self.value)
    }

    /// The body as sent (JSON): what an `Idempotency-Key` names with the path.
    pub fn json(&self) -> &Value {
        &self.value
    }
}

impl<T: FromJson + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The app's `JsonConfig` (see `web::json_config`) turns JSON failures into problems.
        let json = Json::<Value>::from_request(req, payload);
        Box::pin(async move { Ok(Self { value: json.await?.into_inner(), parsed: PhantomData }) })
    }
}

/// An optional JSON body to parse into `T`: an empty body, or JSON `null` (the document's
/// `oneOf [T, null]`), reads as `{}`. Read it as the [`Body`] it derefs to: `parse` and `json`
/// (`{}` when empty).
#[derive(Debug)]
pub struct OptionalBody<T>(Body<T>);

impl<T> std::ops::Deref for OptionalBody<T> {
    type Target = Body<T>;

    fn deref(&self) -> &Body<T> {
        &self.0
    }
}

impl<T: FromJson + 'static> FromRequest for OptionalBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let value = match optional_json(&req, &bytes.await?)? {
                Value::Null => Value::Object(Map::new()),
                value => value,
            };
            Ok(Self(Body { value, parsed: PhantomData }))
        })
    }
}

/// An optional JSON body: empty means `{}`; otherwise it must be JSON (415/400 problems).
pub fn optional_json(req: &HttpRequest, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let json =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(ApiError::unsupported_media_type(
            "Send the body as application/json (or send no body).",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("malformed-json", format!("The body is not valid JSON: {e}"))
            .with_title("Malformed JSON")
    })
}
