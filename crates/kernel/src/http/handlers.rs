//! What a service gives its handlers: its state and the verifier of callers' tokens as actix
//! app data, with its routes ([`Handlers`]).

use std::sync::Arc;

use actix_web::web::Data;
use auth::Verifier;
use utoipa_actix_web::service_config::ServiceConfig;

/// A service's handlers: the state they share and the verifier [`Caller`](super::Caller)
/// checks tokens with, registered with the routes the service's OpenAPI document is built from
/// ([`document`](super::document)).
#[derive(Debug)]
pub struct Handlers<S> {
    state: Data<S>,
    verifier: Data<Verifier>,
    routes: fn(&mut ServiceConfig),
}

impl<S> Clone for Handlers<S> {
    fn clone(&self) -> Self {
        Self { state: self.state.clone(), verifier: self.verifier.clone(), routes: self.routes }
    }
}

impl<S: 'static> Handlers<S> {
    pub fn new(state: S, verifier: Arc<Verifier>, routes: fn(&mut ServiceConfig)) -> Self {
        Self { state: Data::new(state), verifier: Data::from(verifier), routes }
    }

    /// The state the handlers share.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Registers the state, the verifier and the routes on `cfg` (a [`web::Service`]'s
    /// `configure`).
    pub fn configure(&self, cfg: &mut actix_web::web::ServiceConfig) {
        cfg.app_data(self.state.clone()).app_data(self.verifier.clone());
        (self.routes)(&mut ServiceConfig::new(cfg));
    }
}
