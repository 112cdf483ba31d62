//! Extractor configuration, so bad input always gets a problem, never actix's plain text.
//!
//! Register the configs as app data (or let [`crate::with_plumbing`] do it):
//!
//! | input | status | slug |
//! |---|---|---|
//! | body over the limit | 413 | `payload-too-large` |
//! | body without `Content-Type: application/json` | 415 | `unsupported-media-type` |
//! | body that is not JSON, or JSON of the wrong shape | 400 | `malformed-json` |
//! | query string that does not parse | 400 | `invalid-query` |
//! | path segment that does not parse | 400 | `invalid-path` |
//! | a path nothing is registered at | 404 | `not-found` |
//! | a registered path with the wrong method | 405 | `method-not-allowed` |
//!
//! The serde messages are shown as the detail: they describe the client's own input (field
//! names, expected types, line and column) and help the caller fix it.

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::problem::ApiError;

/// The default JSON body limit: 256 KiB, ample for a 500-line purchase check.
pub const DEFAULT_JSON_LIMIT: usize = 256 * 1024;

/// A `JsonConfig` with a body limit of `limit_bytes` whose errors are problems.
pub fn json_config(limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit_bytes).error_handler(|err, _req| json_error(err).into())
}

/// Maps a JSON extraction failure to its problem.
pub fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::payload_too_large(
            format!("The request body is {length} bytes; the limit is {limit} bytes."),
        ),
        JsonPayloadError::Overflow { limit } => ApiError::payload_too_large(format!(
            "The request body is larger than the limit of {limit} bytes."
        )),
        JsonPayloadError::ContentType => ApiError::unsupported_media_type(
            "Send the request body as JSON, with the header `Content-Type: application/json`.",
        ),
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(
            "malformed-json",
            format!("The request body is not valid JSON for this endpoint: {e}."),
        )
        .with_title("Malformed JSON"),
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            ApiError::payload_too_large("The request body is larger than the limit.")
        }
        JsonPayloadError::Payload(e) => ApiError::bad_request(
            "bad-payload",
            format!("The request body could not be read: {e}."),
        ),
        // Serialization is ours, not the client's.
        other => ApiError::internal(other.to_string()),
    }
}

/// A `QueryConfig` whose errors are 400 `invalid-query` problems.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let detail = match err {
            QueryPayloadError::Deserialize(e) => format!("The query string is invalid: {e}."),
            other => format!("The query string is invalid: {other}."),
        };
        ApiError::bad_request("invalid-query", detail).with_title("Invalid query string").into()
    })
}

/// A `PathConfig` whose errors are 400 `invalid-path` problems.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let detail = match err {
            PathError::Deserialize(e) => format!("A path parameter is invalid: {e}."),
            other => format!("A path parameter is invalid: {other}."),
        };
        ApiError::bad_request("invalid-path", detail).with_title("Invalid path parameter").into()
    })
}

/// The default service for requests no route matched: 405 `method-not-allowed` when some
/// resource has this path (only the method is wrong), 404 `not-found` otherwise. Register with
/// `App::default_service(actix_web::web::to(web::not_found))`.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    Err(if req.resource_map().has_resource(path) {
        ApiError::method_not_allowed(format!(
            "{} is not allowed on {path}; check the API documentation at /docs for the methods it accepts.",
            req.method()
        ))
    } else {
        ApiError::not_found(format!(
            "There is nothing at {path}; check the path against the API documentation at /docs."
        ))
    })
}
