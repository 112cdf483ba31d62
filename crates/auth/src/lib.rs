//! Bearer-token authentication for procgate's services.
//!
//! Every request to a `/v1` endpoint carries `Authorization: Bearer <JWT>`. This crate
//!
//! - verifies the token with a key from configuration, the algorithm pinned by that key and
//!   never taken from the token ([`AuthConfig`], [`KeyConfig`], [`Verifier`]), or with the
//!   keys the district's identity provider publishes (OpenID Connect discovery and JWKS,
//!   cached and refetched when the provider rotates them: [`OidcConfig`], [`Verifier::oidc`]);
//! - turns the `roles` claim (or the provider's configured claim) into [`Role`]s, ignoring
//!   names it does not know;
//! - gives handlers the caller as a [`Principal`] (an actix-web extractor) with role checks that
//!   answer 401 and 403 as RFC 9457 problems (the `web` crate's [`web::ApiError`]);
//! - signs tokens for `procgate token`, the demo and tests ([`Issuer`]).
//!
//! It depends on `web` (for the error type), never the other way round; services depend on
//! both.

mod issue;
mod oidc;
mod principal;
mod role;
mod verify;

pub use issue::{Issuer, SigningKeyConfig};
pub use oidc::OidcConfig;
pub use principal::{
    CHALLENGE, CHALLENGE_INSUFFICIENT_SCOPE, CHALLENGE_INVALID_TOKEN, Principal, unauthorized,
};
pub use role::{Role, UnknownRole, parse_roles};
pub use verify::{AuthConfig, AuthError, Claims, KeyConfig, MIN_HS256_SECRET_LEN, Verifier};
