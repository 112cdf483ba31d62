//! procgate's console: the web pages IT staff work the queue in and leadership reads the
//! figures in.
//!
//! It is a client of the three services' public HTTP API, with the signed-in person's own
//! token, so every rule and every role is enforced once, by the services; the console keeps no
//! state but sessions. Pages are rendered on the server ([`maud`]); htmx (2.0.11, served from
//! the binary with its licence, see `assets/`) makes navigation and forms partial updates;
//! charts are SVG drawn on the server ([`plotters`]).
//!
//! - [`session`]: sessions in encrypted, signed, `HttpOnly`, `SameSite=Lax` cookies with an
//!   expiry; the [`session::Signed`] extractor sends a signed-out visitor to sign in; the
//!   [`session::Posted`] extractor refuses any form without the session's CSRF token.
//! - [`sign_in`]: the one-time link `procgate serve` prints on the embedded default, and OpenID
//!   Connect (authorization code with PKCE) against the district's provider.
//! - [`api`]: the services' API, with problems (RFC 9457) kept to explain refusals.
//! - [`pages`]: the queue, a purchase, outreach, schools and people, what is due, reports and
//!   the auditor's pages.

pub mod api;
mod assets;
mod charts;
mod layout;
pub mod oidc;
mod pages;
pub mod session;
pub mod sign_in;

use std::sync::Arc;

use actix_web::web;
use utoipa::openapi::{OpenApi, OpenApiBuilder};

pub use sign_in::{SignIn, SignInLinks};

/// Where the console finds the services, and how people sign in.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The gate's base URL (`http://127.0.0.1:8080` on the all-in-one server).
    pub gate_url: String,
    /// Stakeholder relations' base URL.
    pub stakeholders_url: String,
    /// Reporting's base URL.
    pub reporting_url: String,
    /// The key that encrypts and signs session cookies (64 bytes).
    pub session_key: Vec<u8>,
    /// Mark cookies `Secure` (the console is reached over https).
    pub secure_cookies: bool,
    /// How long a session lasts, at most (the token's own expiry may end it sooner).
    pub session_hours: u64,
}

impl Settings {
    /// All three services at one base URL (the all-in-one server).
    pub fn one_server(url: &str, session_key: Vec<u8>) -> Self {
        let url = url.trim_end_matches('/').to_owned();
        Self {
            gate_url: url.clone(),
            stakeholders_url: url.clone(),
            reporting_url: url,
            session_key,
            secure_cookies: false,
            session_hours: 8,
        }
    }
}

/// The console, served under `/console`.
#[derive(Clone)]
pub struct Console {
    state: web::Data<State>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

/// The largest form the console reads, in bytes.
const FORM_LIMIT: usize = 256 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) api: api::Api,
    pub(crate) sign_in: SignIn,
    pub(crate) settings: Settings,
    /// Sessions signed out of this console before they expire.
    pub(crate) signed_out: session::SignedOut,
}

impl Console {
    /// A console over the services at `settings`' URLs, signing people in by `sign_in`. Fails
    /// when the session key is shorter than 64 bytes.
    pub fn new(settings: Settings, sign_in: SignIn) -> anyhow::Result<Self> {
        anyhow::ensure!(
            settings.session_key.len() >= 64,
            "the console's session key must be at least 64 bytes"
        );
        let api = api::Api::new(&settings)?;
        let signed_out = session::SignedOut::default();
        Ok(Self { state: web::Data::new(State { api, sign_in, settings, signed_out }) })
    }

    /// The one-time sign-in links, when people sign in with them (the embedded default).
    pub fn links(&self) -> Option<Arc<SignInLinks>> {
        match &self.state.sign_in {
            SignIn::Link(links) => Some(links.clone()),
            SignIn::Oidc(_) => None,
        }
    }
}

impl ::web::Service for Console {
    fn name(&self) -> &'static str {
        "console"
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        let session = session::middleware(&self.state.settings);
        cfg.service(
            web::scope("/console")
                .app_data(self.state.clone())
                // The API takes 4,000 characters a field: a form of a few such fields, in any
                // script, percent-encoded.
                .app_data(web::FormConfig::default().limit(FORM_LIMIT))
                .wrap(actix_web::middleware::from_fn(session::end_refused_sessions))
                .wrap(actix_web::middleware::from_fn(layout::security_headers))
                .wrap(session)
                .configure(assets::routes)
                .configure(sign_in::routes)
                .configure(pages::routes),
        );
    }

    /// The console is HTML for people; it has no API of its own to document.
    fn openapi(&self) -> OpenApi {
        OpenApiBuilder::new().build()
    }

    fn documented(&self) -> bool {
        false
    }
}
