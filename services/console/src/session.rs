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
//! - Signing out deletes the cookie, and the console remembers the session as ended until it
//!   would have expired ([`SignedOut`]): a copy of the cookie kept elsewhere is refused too, by
//!   this console process (each instance keeps its own list).
//! - A page the API refuses with 401 (the token expired early, was signed with a key no longer
//!   in use) ends the session and sends the person to sign in again ([`end_refused_sessions`]),
//!   unless they signed in a moment ago (the services may not know a new key yet).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionExt, SessionMiddleware};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use serde::{Deserialize, Serialize};

use crate::layout::PageError;
use crate::{Settings, State};

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
    /// When they signed in (Unix seconds; 0 for a session from before it was kept).
    #[serde(default)]
    pub signed_in_at: i64,
}

impl Person {
    /// A person signed in now, with a fresh CSRF token.
    pub fn new(subject: String, roles: Vec<String>, token: String, expires_at: i64) -> Self {
        let signed_in_at = chrono::Utc::now().timestamp();
        Self { subject, roles, token, expires_at, csrf: random_token(), signed_in_at }
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

/// The most a browser keeps of one cookie, in bytes.
const COOKIE_LIMIT: usize = 4096;

/// Starts a session for `person`, replacing any other (a new cookie: no session fixation).
/// Refused, saying why, when the cookie would be larger than a browser keeps (an identity
/// provider's token carrying many groups or roles): the browser would drop it silently.
pub(crate) fn sign_in(session: &Session, person: &Person) -> Result<(), PageError> {
    let json = serde_json::to_string(&serde_json::json!({ PERSON: person }))
        .map_err(|e| PageError::internal(e.to_string()))?;
    // Encrypted (a 12-byte nonce and a 16-byte tag), then base64, behind the cookie's name and
    // attributes.
    let cookie = (json.len() + 28).div_ceil(3) * 4 + COOKIE.len() + 120;
    if cookie > COOKIE_LIMIT {
        return Err(PageError::SignInRefused(format!(
            "the access token is too large for the console's session ({} bytes; a browser \
             keeps at most {COOKIE_LIMIT}): ask the identity provider's administrators to leave \
             groups and other roles out of the tokens it issues for procgate",
            person.token.len()
        )));
    }
    session.renew();
    session.insert(PERSON, person).map_err(|e| PageError::internal(e.to_string()))
}

/// Ends the session: its cookie is deleted, and this console refuses it from now on.
pub(crate) fn sign_out(req: &HttpRequest, person: &Person) {
    if let Some(state) = req.app_data::<web::Data<State>>() {
        state.signed_out.add(person);
    }
    req.get_session().purge();
}

/// Sessions signed out before they expire, by their CSRF token (random, one per session), with
/// when each would have expired; forgotten once it has.
#[derive(Debug, Default)]
pub(crate) struct SignedOut(Mutex<HashMap<String, i64>>);

impl SignedOut {
    fn add(&self, person: &Person) {
        let now = chrono::Utc::now().timestamp();
        let mut ended = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ended.retain(|_, expires_at| *expires_at > now);
        ended.insert(person.csrf.clone(), person.expires_at);
    }

    fn contains(&self, person: &Person) -> bool {
        let ended = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ended.contains_key(&person.csrf)
    }
}

/// How long after signing in a 401 from the API is taken for the services not knowing the
/// identity provider's new signing key yet (they fetch it within 30 s), not for a token that
/// is no longer good.
const FRESH_SECONDS: i64 = 90;

/// Middleware: a page the API answered 401 (the person's token is no longer accepted) ends the
/// session and sends them to sign in, back to where they were; the error page would have
/// left them with a session that can do nothing until it expires. In a session just begun
/// the refusal is shown instead: signing in again would not help.
pub(crate) async fn end_refused_sessions(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if res.status() != actix_web::http::StatusCode::UNAUTHORIZED {
        return Ok(res.map_into_boxed_body());
    }
    let session = res.request().get_session();
    let person = session.get::<Person>(PERSON).ok().flatten();
    let now = chrono::Utc::now().timestamp();
    if person.is_some_and(|p| now - p.signed_in_at < FRESH_SECONDS) {
        return Ok(res.map_into_boxed_body());
    }
    let (req, _) = res.into_parts();
    req.get_session().purge();
    let signed_out = PageError::SignedOut { next: back_to(&req), expired: true };
    Ok(ServiceResponse::new(req, signed_out.error_response()))
}

/// A request from a signed-in person.
#[derive(Debug, Clone)]
pub struct Signed(pub Person);

impl Signed {
    fn from_session(req: &HttpRequest) -> Result<Self, PageError> {
        let session = req.get_session();
        let next = back_to(req);
        let person = session.get::<Person>(PERSON).ok().flatten();
        let ended = |person: &Person| {
            let state = req.app_data::<web::Data<State>>();
            state.is_some_and(|state| state.signed_out.contains(person))
        };
        match person {
            Some(person) if ended(&person) => {
                session.purge();
                Err(PageError::SignedOut { next, expired: false })
            }
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

    fn app_settings() -> Settings {
        Settings::one_server("http://127.0.0.1:9", vec![7u8; 64])
    }

    /// The console's session and refusal middlewares around two routes: one signing in with a
    /// token of `token_len` bytes, `fresh` (just now) or `FRESH_SECONDS` ago, one that is a page
    /// the API refused with 401.
    macro_rules! app {
        ($token_len:expr, $fresh:expr) => {{
            use actix_web::{App, HttpResponse};
            let (token_len, fresh): (usize, bool) = ($token_len, $fresh);
            let sign_in = move |session: Session| async move {
                let mut person =
                    Person::new("p@d.org".into(), vec![], "t".repeat(token_len), i64::MAX);
                if !fresh {
                    person.signed_in_at -= FRESH_SECONDS;
                }
                sign_in(&session, &person).map(|()| HttpResponse::Ok().finish())
            };
            let refused = || async {
                let problem = crate::api::Problem { status: 401, ..Default::default() };
                Err::<HttpResponse, _>(PageError::Api(crate::api::ApiError::Refused(problem)))
            };
            actix_web::test::init_service(
                App::new().service(
                    web::scope("/console")
                        .wrap(actix_web::middleware::from_fn(end_refused_sessions))
                        .wrap(middleware(&app_settings()))
                        .route("/in", web::get().to(sign_in))
                        .route("/queue", web::get().to(refused)),
                ),
            )
            .await
        }};
    }

    /// The queue page the API refuses with 401, asked for in a session signed in just now
    /// (`fresh`) or `FRESH_SECONDS` ago.
    macro_rules! refused_page {
        ($fresh:expr) => {{
            let app = app!(20, $fresh);
            let signed_in = actix_web::test::TestRequest::get().uri("/console/in").to_request();
            let res = actix_web::test::call_service(&app, signed_in).await;
            let cookie = res.response().cookies().next().expect("a session cookie").into_owned();
            let page = actix_web::test::TestRequest::get().uri("/console/queue").cookie(cookie);
            actix_web::test::call_service(&app, page.to_request()).await
        }};
    }

    #[actix_web::test]
    async fn a_page_the_api_refuses_with_401_ends_the_session_and_asks_to_sign_in_again() {
        let res = refused_page!(false);
        assert_eq!(res.status(), actix_web::http::StatusCode::SEE_OTHER);
        let to = res.headers().get("location").unwrap().to_str().unwrap();
        assert_eq!(to, "/console/sign-in?next=%2Fconsole%2Fqueue&expired=1");
        let removed = res.response().cookies().find(|c| c.name() == COOKIE).expect("removed");
        assert_eq!(removed.value(), "", "the session cookie is deleted");
        // Just signed in, the refusal is shown: the services may not have the provider's new
        // key yet, and signing in again would not help.
        let res = refused_page!(true);
        assert_eq!(res.status(), actix_web::http::StatusCode::UNAUTHORIZED);
    }

    #[actix_web::test]
    async fn a_token_too_large_for_a_cookie_is_refused_at_sign_in_not_dropped_by_the_browser() {
        let small = actix_web::test::TestRequest::get().uri("/console/in").to_request();
        let res = actix_web::test::call_service(&app!(1500, false), small).await;
        assert_eq!(res.status(), actix_web::http::StatusCode::OK);
        let cookie = res.response().cookies().next().unwrap().to_string();
        assert!(cookie.len() <= COOKIE_LIMIT, "{} bytes", cookie.len());
        let large = actix_web::test::TestRequest::get().uri("/console/in").to_request();
        let res = actix_web::test::call_service(&app!(3200, false), large).await;
        assert_eq!(res.status(), actix_web::http::StatusCode::FORBIDDEN);
        assert!(res.response().cookies().next().is_none(), "no session was started");
    }

    #[test]
    fn a_signed_out_session_is_refused_until_it_would_have_expired() {
        let ended = SignedOut::default();
        let now = chrono::Utc::now().timestamp();
        let person = Person::new("p@d.org".into(), vec![], "t".into(), now + 3600);
        let other = Person::new("p@d.org".into(), vec![], "t".into(), now + 3600);
        ended.add(&person);
        assert!(ended.contains(&person) && !ended.contains(&other));
        // Past its expiry it is forgotten (the session is refused as expired anyway).
        let old = Person::new("p@d.org".into(), vec![], "t".into(), now - 1);
        ended.add(&old);
        ended.add(&other);
        assert!(!ended.contains(&old) && ended.contains(&other));
    }

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
