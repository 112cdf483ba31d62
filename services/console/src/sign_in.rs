//! Signing in and out.
//!
//! Two ways, chosen by configuration:
//!
//! - **one-time links** ([`SignInLinks`]), on the embedded default: `procgate serve` prints a
//!   link whose code works once (as Jupyter's does); opening it signs the operator in with a
//!   token the server signs itself. Codes live in memory for a day at most.
//! - **OpenID Connect** ([`crate::oidc::OidcClient`]) when the district's provider is
//!   configured: authorization code with PKCE; the provider's access token is the one sent to
//!   the services, which verify it with the provider's keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use crate::State;
use crate::layout::{PageError, page};
use crate::oidc::OidcClient;
use crate::session::{self, Person, Posted, random_token};

/// How people sign in.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// One-time links printed by `procgate serve`.
    Link(Arc<SignInLinks>),
    /// The district's OpenID Connect provider.
    Oidc(Arc<OidcClient>),
}

/// One-time sign-in codes, and what signing in with one grants.
pub struct SignInLinks {
    issuer: auth::Issuer,
    subject: String,
    roles: Vec<auth::Role>,
    ttl: Duration,
    codes: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for SignInLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInLinks")
            .field("subject", &self.subject)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl SignInLinks {
    /// How long an unused code stays valid.
    pub const CODE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

    /// Links that sign in as `subject` with `roles`, with tokens from `issuer` valid for
    /// `ttl`.
    pub fn new(
        issuer: auth::Issuer,
        subject: impl Into<String>,
        roles: Vec<auth::Role>,
        ttl: Duration,
    ) -> Self {
        Self { issuer, subject: subject.into(), roles, ttl, codes: Mutex::default() }
    }

    /// A new code, valid once within [`Self::CODE_LIFETIME`].
    pub fn create(&self) -> String {
        let code = random_token();
        let mut codes = self.codes.lock().unwrap_or_else(PoisonError::into_inner);
        codes.retain(|_, made| made.elapsed() < Self::CODE_LIFETIME);
        codes.insert(code.clone(), Instant::now());
        code
    }

    /// The path of the sign-in link for `code`.
    pub fn path(code: &str) -> String {
        format!("/console/sign-in/link?code={code}")
    }

    /// Uses up `code`: the person it signs in, or `None` when it is unknown, used or old.
    fn redeem(&self, code: &str) -> Option<Person> {
        let made = self.codes.lock().unwrap_or_else(PoisonError::into_inner).remove(code)?;
        if made.elapsed() >= Self::CODE_LIFETIME {
            return None;
        }
        let token = self.issuer.issue(&self.subject, &self.roles, self.ttl);
        let expires_at = chrono::Utc::now().timestamp() + self.ttl.as_secs() as i64;
        let roles = self.roles.iter().map(|r| r.as_str().to_owned()).collect();
        Some(Person::new(self.subject.clone(), roles, token, expires_at))
    }
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(home))
        .route("/", web::get().to(home))
        .route("/sign-in", web::get().to(sign_in_page))
        .route("/sign-in/link", web::get().to(with_link))
        .route("/sign-in/oidc", web::get().to(crate::oidc::start))
        .route("/sign-in/callback", web::get().to(crate::oidc::callback))
        .route("/sign-out", web::post().to(sign_out));
}

async fn home() -> HttpResponse {
    see_other("/console/queue")
}

/// A redirect after a form or a sign-in (303: the browser follows with a GET).
pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

/// Where to go after signing in: a console path only, never another site, and nothing a
/// `Location` header cannot carry (a control character).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console/")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/console/queue".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    next: Option<String>,
    expired: Option<String>,
    code: Option<String>,
}

async fn sign_in_page(state: web::Data<State>, q: web::Query<SignInQuery>) -> HttpResponse {
    let next = safe_next(q.next.as_deref());
    let body = html! {
        @if q.expired.is_some() {
            div.notice role="status" { "Your session ended. Sign in again to go on where you were." }
        }
        section.card {
            @match &state.sign_in {
                SignIn::Oidc(_) => {
                    p { "Sign in with your district account." }
                    // A whole-page navigation: the provider is another site.
                    p { a.button hx-boost="false" href={ "/console/sign-in/oidc?next=" (crate::layout::encode(&next)) } { "Sign in with the district's identity provider" } }
                }
                SignIn::Link(_) => {
                    p { "Open the one-time sign-in link that " code { "procgate serve" } " printed when it started. Each link works once; restart the server for a new one." }
                }
            }
        }
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page(None, "", "Sign in to procgate", body).into_string())
}

async fn with_link(
    state: web::Data<State>,
    session: Session,
    q: web::Query<SignInQuery>,
) -> Result<HttpResponse, PageError> {
    let person = match (&state.sign_in, q.code.as_deref()) {
        (SignIn::Link(links), Some(code)) => links.redeem(code),
        _ => None,
    };
    let Some(person) = person else {
        let body = html! {
            div.problem role="alert" {
                p { strong { "This sign-in link does not work." } }
                p { "A link works once, for a day. Restart " code { "procgate serve" } " for a new one." }
            }
        };
        return Ok(HttpResponse::Forbidden()
            .content_type("text/html; charset=utf-8")
            .body(page(None, "", "Sign in to procgate", body).into_string()));
    };
    session::sign_in(&session, &person)?;
    tracing::info!(subject = %person.subject, "signed in to the console with a one-time link");
    Ok(see_other(&safe_next(q.next.as_deref())))
}

async fn sign_out(req: HttpRequest, posted: Posted) -> HttpResponse {
    tracing::info!(subject = %posted.person.subject, "signed out of the console");
    session::sign_out(&req, &posted.person);
    see_other("/console/sign-in")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> SignInLinks {
        let issuer = auth::Issuer::hs256(vec![7u8; 32], "procgate", "procgate").unwrap();
        SignInLinks::new(issuer, "operator", vec![auth::Role::Admin], Duration::from_secs(60))
    }

    #[test]
    fn a_code_signs_in_once() {
        let links = links();
        let code = links.create();
        let person = links.redeem(&code).expect("a fresh code works");
        assert_eq!(person.subject, "operator");
        assert_eq!(person.roles, vec!["admin"]);
        assert!(links.redeem(&code).is_none(), "a code works once");
        assert!(links.redeem("made-up").is_none());
    }

    #[test]
    fn next_stays_inside_the_console() {
        assert_eq!(safe_next(Some("/console/purchases/1")), "/console/purchases/1");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console/queue");
        assert_eq!(safe_next(Some("//evil.example/console/")), "/console/queue");
        assert_eq!(safe_next(None), "/console/queue");
        assert_eq!(safe_next(Some("/console/\nSet-Cookie: x")), "/console/queue");
    }
}
