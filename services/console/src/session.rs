//! Sessions, signed-in people and CSRF.
//!
//! A session lives in one cookie (`procgate_console`), encrypted and authenticated with the
//! console's key (AES-GCM, by actix-session's private cookies), `HttpOnly`, `SameSite=Lax` (the
//! identity provider's redirect back is a cross-site navigation that must carry it), `Secure`
//! when the console is served over https, and limited to `/console`. It holds the person's API
//! token, who they are, their roles, its expiry and a CSRF token: the console stores nothing
//! else, anywhere.
//!
//! - [`Signed`]: a handler that takes it runs only for a signed-in person; anyone else is sent to
//!   sign in (a plain redirect, or `HX-Redirect` for htmx requests), and so is a person whose
//!   session or token has expired.
//! - [`Posted`]: every form the console accepts goes through it; a form whose `csrf` field is
//!   not the session's token is refused with 403 and nothing is sent to the API.

use std::future::Future;
use std::pin::Pin;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionExt, SessionMiddleware};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::{Deserialize, Serialize};

use crate::Settings;
use crate::layout::PageError;

/// The session cookie's name.
pub const COOKIE: &str = "procgate_console";
const PERSON: &str = "person";

/// The session middleware for `/console`.
pub(crate) fn middleware(settings: &Settings) -> SessionMiddleware<CookieSessionStore> {
    let key = Key::from(&settings.session_key);
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(COOKIE.to_owned())
        .cookie_path("/console".to_owned())
        .cookie_http_only(true)
        .cookie_secure(settings.secure_cookies)
        .cookie_same_site(SameSite::Lax)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default().session_ttl(actix_web::cookie::time::Duration::hours(
                settings.session_hours as i64,
            )),
        )
        .build()
}

/// The signed-in person, as the session keeps them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    /// Who they are (the token's subject).
    pub subject: String,
    /// Their roles (wire names), for what the pages offer; the API decides what they may do.
    pub roles: Vec<String>,
    /// The bearer token sent to the services.
    pub token: String,
    /// When the session ends (Unix seconds): the token's expiry, or the session's, the sooner.
    pub expires_at: i64,
    /// The CSRF token every form carries.
    pub csrf: String,
}

impl Person {
    /// A person signed in now, with a fresh CSRF token.
    pub fn new(subject: String, roles: Vec<String>, token: String, expires_at: i64) -> Self {
        Self { subject, roles, token, expires_at, csrf: random_token() }
    }

    /// Whether they hold `role`.
    pub fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether they may work the queue (IT staff, or an administrator).
    pub fn works_queue(&self) -> bool {
        self.has("it_staff") || self.has("admin")
    }

    /// Whether they may read the auditors' pages.
    pub fn audits(&self) -> bool {
        self.has("auditor") || self.has("admin")
    }
}

/// 32 random bytes, base64url: CSRF tokens, sign-in codes, PKCE verifiers, idempotency keys.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Starts a session for `person`, replacing any other (a new cookie: no session fixation).
pub(crate) fn sign_in(session: &Session, person: &Person) -> Result<(), PageError> {
    session.renew();
    session.insert(PERSON, person).map_err(|e| PageError::internal(e.to_string()))
}

/// Ends the session.
pub(crate) fn sign_out(session: &Session) {
    session.purge();
}

/// A request from a signed-in person.
#[derive(Debug, Clone)]
pub struct Signed(pub Person);

impl Signed {
    fn from_session(req: &HttpRequest) -> Result<Self, PageError> {
        let session = req.get_session();
        let next = back_to(req);
        let person = session.get::<Person>(PERSON).ok().flatten();
        match person {
            Some(person) if person.expires_at > chrono::Utc::now().timestamp() => Ok(Self(person)),
            Some(_) => {
                session.purge();
                Err(PageError::SignedOut { next, expired: true })
            }
            None => Err(PageError::SignedOut { next, expired: false }),
        }
    }
}

/// Where a person signed out by the request comes back to once signed in: the page itself for
/// a page; for a form (a POST, whose address only takes a POST) the page it was sent from.
fn back_to(req: &HttpRequest) -> String {
    let page = if req.method() == actix_web::http::Method::GET {
        Some(req.uri().clone())
    } else {
        let from = req.headers().get(actix_web::http::header::REFERER);
        from.and_then(|r| r.to_str().ok()).and_then(|r| r.parse::<actix_web::http::Uri>().ok())
    };
    let page = page.as_ref().and_then(|uri| uri.path_and_query()).map(|p| p.as_str());
    page.unwrap_or("/console/queue").to_owned()
}

impl FromRequest for Signed {
    type Error = PageError;
    type Future = std::future::Ready<Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::from_session(req))
    }
}

/// The fields of a submitted form, in order (a name may repeat).
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl FromIterator<(String, String)> for Fields {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self(pairs.into_iter().collect())
    }
}

impl Fields {
    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "false" && v != "off")
    }
}

/// A form posted by a signed-in person, with the session's CSRF token.
#[derive(Debug)]
pub struct Posted {
    /// Who posted it.
    pub person: Person,
    /// What they filled in (the `csrf` field removed).
    pub fields: Fields,
}

impl FromRequest for Posted {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed = Signed::from_session(req);
        let form = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        Box::pin(async move {
            let Signed(person) = signed?;
            let web::Form(pairs) = form.await.map_err(|e| PageError::BadForm(e.to_string()))?;
            let sent = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
            if !sent.is_some_and(|sent| same(sent, &person.csrf)) {
                return Err(PageError::Csrf);
            }
            let fields: Fields = pairs.into_iter().filter(|(k, _)| k != "csrf").collect();
            Ok(Self { person, fields })
        })
    }
}

/// Compares two tokens in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }

    #[test]
    fn fields_trim_and_treat_blank_as_absent() {
        let fields = Fields(vec![
            ("goal".into(), "  a lab  ".into()),
            ("notes".into(), "   ".into()),
            ("reached".into(), "on".into()),
        ]);
        assert_eq!(fields.get("goal"), Some("a lab"));
        assert_eq!(fields.get("notes"), None);
        assert!(fields.checked("reached"));
        assert!(!fields.checked("missing"));
    }
}
