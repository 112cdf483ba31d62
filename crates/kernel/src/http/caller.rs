//! The caller, with the roles an endpoint needs checked while the request is extracted.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest};
use auth::{Principal, Role};
use web::ApiError;

use super::limits::Cost;

/// A set of roles, as a type: `struct Writers; impl Roles for Writers { const ROLES = … }`.
pub trait Roles {
    const ROLES: &'static [Role];
    /// What a read by these roles costs ([`Cost::Expensive`] for reports, verification,
    /// replay: rate-limited per subject).
    const COST: Cost = Cost::Normal;
}

/// The authenticated caller holding one of `R`'s roles: 401 without a valid token, 403 without
/// the role. As a handler's first argument it is checked before the body is read.
#[derive(Debug)]
pub struct Caller<R> {
    pub principal: Principal,
    roles: PhantomData<R>,
}

impl<R> Deref for Caller<R> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<R: Roles> FromRequest for Caller<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Principal::from_request(req, payload).into_inner().and_then(|principal| {
            principal.require(R::ROLES)?;
            let write = !matches!(*req.method(), Method::GET | Method::HEAD);
            super::limits::check(&principal.subject, write, R::COST)?;
            Ok(Self { principal, roles: PhantomData })
        });
        ready(caller)
    }
}
