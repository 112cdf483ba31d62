//! The authenticated caller, and the actix-web extractor that produces it.
//!
//! A handler that takes a [`Principal`] argument only runs for a request with a valid
//! `Authorization: Bearer <JWT>`; otherwise the caller gets a 401 problem with
//! `WWW-Authenticate: Bearer realm="procgate"` (plus `error="invalid_token"` when a token was
//! sent but refused; 503 while the identity provider's keys have not been fetched yet, see
//! [`crate::OidcConfig`]). The handler then checks roles with [`Principal::require`], which gives a
//! 403 problem:
//!
//! ```
//! use actix_web::HttpResponse;
//! use auth::{Principal, Role};
//! use web::ApiError;
//!
//! async fn cancel(principal: Principal) -> Result<HttpResponse, ApiError> {
//!     principal.require(&[Role::ItStaff, Role::Admin])?;
//!     Ok(HttpResponse::NoContent().finish())
//! }
//! ```
//!
//! The extractor finds the [`Verifier`] in app data, as `web::Data<Verifier>` or
//! `Arc<Verifier>`. An `Option<Principal>` argument makes authentication optional.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use web::ApiError;

use crate::role::Role;
use crate::verify::{AuthError, Claims, Verifier};

/// The `WWW-Authenticate` challenge when no token was sent.
pub const CHALLENGE: &str = r#"Bearer realm="procgate""#;
/// The `WWW-Authenticate` challenge when the token sent was refused.
pub const CHALLENGE_INVALID_TOKEN: &str = r#"Bearer realm="procgate", error="invalid_token""#;
/// The `WWW-Authenticate` challenge on a 403 (valid token, wrong role).
pub const CHALLENGE_INSUFFICIENT_SCOPE: &str =
    r#"Bearer realm="procgate", error="insufficient_scope""#;

/// Who is calling, and with which roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`: the person or service account (the event actor).
    pub subject: String,
    /// The procgate roles the token grants.
    pub roles: Vec<Role>,
}

impl Principal {
    /// A principal (for tests and internal callers; requests get theirs from the extractor).
    pub fn new(subject: impl Into<String>, roles: Vec<Role>) -> Self {
        Self { subject: subject.into(), roles }
    }

    /// Whether the principal has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the principal has at least one of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// The most privileged role held (admin > it_staff > auditor > finance) as its wire name,
    /// for the `actor.role` of event metadata; `none` for a token without procgate roles.
    pub fn actor_role(&self) -> &'static str {
        self.roles.iter().max_by_key(|r| r.privilege()).map_or("none", |r| r.as_str())
    }

    /// `Ok` if the principal has one of `roles`, else a 403 `forbidden` problem naming the
    /// roles needed and the roles held.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.has_any(roles) {
            return Ok(());
        }
        let needed = join(roles.iter().map(|r| r.as_str()));
        let held = if self.roles.is_empty() {
            "no procgate role".to_owned()
        } else {
            join(self.roles.iter().map(|r| r.as_str()))
        };
        Err(ApiError::forbidden(format!(
            "This needs one of the roles {needed}; your token grants {held}. Ask IT for a token with the right role."
        ))
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE_INSUFFICIENT_SCOPE),
        ))
    }
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

impl From<Claims> for Principal {
    fn from(claims: Claims) -> Self {
        Self { subject: claims.sub, roles: claims.roles }
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// Authenticates `req`, caching the principal in the request extensions so a second extraction
/// in the same request does not verify again.
fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    if let Some(principal) = req.extensions().get::<Principal>() {
        return Ok(principal.clone());
    }
    let verifier = verifier(req).ok_or_else(|| {
        ApiError::internal(
            "auth::Verifier is not registered as app data (web::Data<Verifier> or Arc<Verifier>)",
        )
    })?;
    let token = bearer_token(req).ok_or_else(|| refusal(&AuthError::MissingToken, &verifier))?;
    let claims = verifier.verify(token).map_err(|err| {
        tracing::info!(reason = %err, "bearer token refused");
        refusal(&err, &verifier)
    })?;
    let principal = Principal::from(claims);
    req.extensions_mut().insert(principal.clone());
    Ok(principal)
}

fn verifier(req: &HttpRequest) -> Option<Arc<Verifier>> {
    req.app_data::<actix_web::web::Data<Verifier>>()
        .map(|data| data.clone().into_inner())
        .or_else(|| req.app_data::<Arc<Verifier>>().cloned())
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The problem for a refused token: 503 when the identity provider's keys are not there yet
/// (not the caller's fault: it may retry as is), else 401.
fn refusal(err: &AuthError, verifier: &Verifier) -> ApiError {
    match err {
        AuthError::KeysUnavailable => ApiError::unavailable(
            "The bearer token cannot be checked yet: the identity provider's signing keys are \
             not available. Try again shortly.",
        ),
        AuthError::MissingToken if verifier.is_oidc() => ApiError::unauthorized(
            "This needs a bearer token: send `Authorization: Bearer <JWT>` with an access token \
             from the district's identity provider.",
        )
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE)),
        other => unauthorized(other),
    }
}

/// The 401 problem for `err`, with the RFC 6750 challenge.
pub fn unauthorized(err: &AuthError) -> ApiError {
    let (challenge, detail) = match err {
        AuthError::MissingToken => (
            CHALLENGE,
            "This needs a bearer token: send `Authorization: Bearer <JWT>`. `procgate token` makes one for the configured key.".to_owned(),
        ),
        AuthError::InvalidKey(_)
        | AuthError::Signing(_)
        | AuthError::KeyFetch(_)
        | AuthError::InvalidSettings(_)
        | AuthError::KeysUnavailable => (
            CHALLENGE_INVALID_TOKEN,
            "The bearer token could not be checked. Report the request id to IT.".to_owned(),
        ),
        other => (
            CHALLENGE_INVALID_TOKEN,
            format!("The bearer token was refused: {other}. Get a new token and try again."),
        ),
    };
    ApiError::unauthorized(detail)
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge))
}
