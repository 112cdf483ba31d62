//! What a handler that acts on the log starts from: who asks, the service's state and the
//! request, extracted as one argument ([`Context`]).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::web::{Data, Path};
use actix_web::{FromRequest, HttpRequest};
use eventlog::Metadata;
use serde_json::Value;
use uuid::Uuid;
use web::ApiError;

use super::{Caller, Idempotency, Roles};

/// The caller holding one of `R`'s roles (checked first: 401 or 403 before the path or the
/// body is read), the service's state `S`, and the request, for the metadata and the
/// `Idempotency-Key` of what the handler appends:
///
/// ```ignore
/// pub async fn cancel(cx: Context<State, Writers>, body: Body<CancelBody>) -> Reply {
///     let id = cx.path_id("id")?;
///     …
/// }
/// ```
#[derive(Debug)]
pub struct Context<S: 'static, R> {
    pub state: Data<S>,
    pub who: Caller<R>,
    pub req: HttpRequest,
}

impl<S: 'static, R> Context<S, R> {
    /// The UUID in the path segment `name` (`{id}`), or 400 `invalid-path`.
    pub fn path_id(&self, name: &str) -> Result<Uuid, ApiError> {
        super::path_id(name, &segment(&self.req, name))
    }

    /// The path segment `name` parsed, or 400 `invalid-path` ([`super::path`]).
    pub fn path<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ApiError> {
        super::path(name, &segment(&self.req, name), parse)
    }

    /// The metadata of the events this request appends in `service` ([`super::metadata`]).
    pub fn metadata(&self, service: &str) -> Metadata {
        super::metadata(&self.who, &self.req, service)
    }

    /// The request's `Idempotency-Key` with what it names (`body` with the path), if it sent
    /// one ([`Idempotency::of`]).
    pub fn idempotency(&self, body: &Value) -> Result<Option<Idempotency>, ApiError> {
        Idempotency::of(&self.who, &self.req, body)
    }
}

impl<S: 'static, R: Roles> FromRequest for Context<S, R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let context = Caller::<R>::from_request(req, payload).into_inner().and_then(|who| {
            let state = req.app_data::<Data<S>>().cloned().ok_or_else(|| {
                ApiError::internal(format!(
                    "the service's state ({}) is not registered",
                    std::any::type_name::<S>()
                ))
            })?;
            Ok(Self { state, who, req: req.clone() })
        });
        ready(context)
    }
}

/// The path segment `name` of `req`, decoded as actix's `Path` decodes it (`%2F`, `%25` and
/// `%2B` too, which the router leaves as sent); empty when the route has no such segment.
fn segment(req: &HttpRequest, name: &str) -> String {
    let Some(at) = req.match_info().iter().position(|(key, _)| key == name) else {
        return String::new();
    };
    let decoded = Path::<Vec<String>>::extract(req).into_inner();
    decoded
        .ok()
        .and_then(|mut segments| segments.get_mut(at).map(std::mem::take))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::segment;

    #[test]
    fn a_segment_is_decoded_as_a_path_extractor_decodes_it() {
        let req = TestRequest::default()
            .param("id", "42")
            .param("sku", "LAT%2B5440%2F2")
            .to_http_request();
        assert_eq!(segment(&req, "sku"), "LAT+5440/2");
        assert_eq!(segment(&req, "id"), "42");
        let req = TestRequest::default().to_http_request();
        assert_eq!(segment(&req, "id"), "");
    }
}
