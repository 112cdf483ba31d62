//! Request ids, and the last touch every error response gets.
//!
//! [`middleware`] is the outermost layer of every procgate app. For each request it
//!
//! 1. takes the caller's `x-request-id` if it is sane (1 to 64 visible ASCII characters), or
//!    generates a UUID v7, and stores it as a [`RequestId`] in the request extensions, where the
//!    tracing root span, handlers (through the [`RequestId`] extractor) and event metadata find
//!    it;
//! 2. makes every error response a problem: a `problem+json` body gets the `instance` (the
//!    request path) and `request_id` members filled in; an actix-web error that is not a
//!    problem, or an error status with an empty body (actix's own 404 and 405), is replaced by
//!    a problem for its status;
//! 3. echoes the id in the `x-request-id` response header, on every response.
//!
//! Register it with `.wrap(actix_web::middleware::from_fn(web::request_id::middleware))` as
//! the *last* `wrap` (outermost), or let [`crate::with_plumbing`] do it. An inner middleware
//! that fails with `Err` instead of answering bypasses steps 2 and 3: middleware should answer
//! with an error *response* (`ServiceResponse::from_err`, or `req.error_response(api_error)`).

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::body::{BodySize, BoxBody, MessageBody, to_bytes_limited};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::problem::{ApiError, PROBLEM_JSON, problem_body};

/// The request and response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest incoming request id that is accepted; longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The id of one request: the caller's `x-request-id` when sane, else a UUID v7.
///
/// Also an extractor: a handler can take a `RequestId` argument (for example to put it in
/// event metadata as the correlation id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id (UUID v7: time-ordered, so ids sort roughly by arrival).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Accepts an incoming id if it is 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters
    /// (no spaces, no control characters), so it is safe to log and to echo in a header.
    pub fn parse(candidate: &str) -> Option<Self> {
        let sane = !candidate.is_empty()
            && candidate.len() <= MAX_REQUEST_ID_LEN
            && candidate.bytes().all(|b| b.is_ascii_graphic());
        sane.then(|| Self(candidate.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request id the middleware assigned to `req`, if it ran.
pub fn request_id(req: &HttpRequest) -> Option<RequestId> {
    req.extensions().get::<RequestId>().cloned()
}

impl FromRequest for RequestId {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    /// The id the middleware assigned; a fresh one if the middleware is not installed (so the
    /// extractor never fails).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(request_id(req).unwrap_or_else(RequestId::generate)))
    }
}

/// The request-id middleware (see the module docs). Use with
/// [`actix_web::middleware::from_fn`].
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());

    // Handlers' and extractors' errors arrive here as responses. An `Err` can only come from a
    // middleware that fails instead of answering; it is passed on (actix renders it, without
    // the header), because the request cannot be cloned before routing to build a response
    // for it here. Middleware of ours should answer with a problem response instead.
    let res = next.call(req).await?.map_into_boxed_body();

    let mut res = complete_problem(res, &id).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

/// The largest problem body that is read back to fill in missing members.
const MAX_PROBLEM_BODY: usize = 64 * 1024;

/// Makes an error response a complete problem (see the module docs). Success responses, and
/// error responses with a non-problem body of their own, pass through unchanged.
async fn complete_problem(
    res: ServiceResponse<BoxBody>,
    id: &RequestId,
) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (req, mut resp) = res.into_parts();
    let path = req.path().to_owned();
    if status == actix_web::http::StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::ALLOW)
    {
        let allow = req
            .app_data::<actix_web::web::Data<crate::AllowedMethods>>()
            .map_or_else(|| "GET, HEAD".to_owned(), |table| table.allow(&path));
        if let Ok(value) = HeaderValue::from_str(&allow) {
            resp.headers_mut().insert(header::ALLOW, value);
        }
    }

    let api_error = resp.error().and_then(|e| e.as_error::<ApiError>());
    let resp = if is_html(&resp) {
        // A page for people (the console's) that explains the error itself.
        resp
    } else if let Some(api_error) = api_error {
        // Ours: render it again, now with the request's members.
        let body = problem_body(&api_error.to_problem(Some(&path), Some(id.as_str())));
        resp.set_body(BoxBody::new(body))
    } else if is_problem_json(&resp) {
        fill_in_problem(resp, &path, id).await
    } else if let Some(err) = resp.error() {
        let problem = ApiError::for_status(status, Some(err.to_string()));
        replace_with_problem(resp, &problem, &path, id)
    } else if matches!(resp.body().size(), BodySize::None | BodySize::Sized(0)) {
        let problem = ApiError::for_status(status, None);
        replace_with_problem(resp, &problem, &path, id)
    } else {
        resp
    };
    ServiceResponse::new(req, resp)
}

fn is_html(resp: &HttpResponse<BoxBody>) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"))
}

fn is_problem_json(resp: &HttpResponse<BoxBody>) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON))
}

/// Adds `instance` and `request_id` to a problem body someone else rendered, when they are
/// missing. A body of unknown or large size, or one that is not a JSON object, is left alone.
async fn fill_in_problem(
    resp: HttpResponse<BoxBody>,
    path: &str,
    id: &RequestId,
) -> HttpResponse<BoxBody> {
    let small = matches!(resp.body().size(), BodySize::Sized(n) if n <= MAX_PROBLEM_BODY as u64);
    if !small {
        return resp;
    }
    let (head, body) = resp.into_parts();
    let bytes = match to_bytes_limited(body, MAX_PROBLEM_BODY).await {
        Ok(Ok(bytes)) => bytes,
        // The size was checked and the body failed to produce its bytes: nothing to send.
        _ => return head.set_body(BoxBody::new(())),
    };
    let Ok(Value::Object(mut members)) = serde_json::from_slice::<Value>(&bytes) else {
        return head.set_body(BoxBody::new(bytes));
    };
    members.entry("instance").or_insert_with(|| Value::String(path.to_owned()));
    members.entry("request_id").or_insert_with(|| Value::String(id.as_str().to_owned()));
    match serde_json::to_vec(&Value::Object(members)) {
        Ok(filled) => head.set_body(BoxBody::new(filled)),
        Err(_) => head.set_body(BoxBody::new(bytes)),
    }
}

/// Replaces the body with `problem`, keeping the status, the other headers and the attached
/// error (so outer layers still see it).
fn replace_with_problem(
    resp: HttpResponse<BoxBody>,
    problem: &ApiError,
    path: &str,
    id: &RequestId,
) -> HttpResponse<BoxBody> {
    let (mut head, _old_body) = resp.into_parts();
    head.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let body = problem_body(&problem.to_problem(Some(path), Some(id.as_str())));
    head.set_body(BoxBody::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_sane_ids() {
        assert!(RequestId::parse("abc-123_XYZ.:/").is_some());
        assert!(RequestId::parse(&"a".repeat(64)).is_some());
    }

    #[test]
    fn refuses_insane_ids() {
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse(&"a".repeat(65)).is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse("tab\there").is_none());
        assert!(RequestId::parse("é").is_none());
    }

    #[test]
    fn generated_ids_are_uuid_v7() {
        let id = RequestId::generate();
        let uuid = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
    }
}
