//! Signing in with the district's OpenID Connect provider: authorization code with PKCE.
//!
//! `/console/sign-in/oidc` sends the browser to the provider with a PKCE challenge, a `state`
//! and a `nonce` kept in the session; `/console/sign-in/callback` checks the `state`, exchanges
//! the code with the PKCE verifier, verifies the ID token (signature with the provider's keys,
//! issuer, audience, expiry and nonce) and keeps the **access token** in the session: that is
//! what the services verify, with the same provider's keys, for the audience configured as
//! the resource (RFC 8707 resource indicator) the console asks the token for.
//!
//! The provider's metadata is discovered once, on the first sign-in, and again after a failure.
//! HTTP to the provider goes through the console's own client, which never follows redirects.

use std::future::Future;
use std::pin::Pin;

use actix_session::Session;
use actix_web::{HttpResponse, web};
use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::State;
use crate::layout::PageError;
use crate::session::{self, Person};
use crate::sign_in::{SignIn, safe_next, see_other};

const PENDING: &str = "oidc-pending";

/// The console as a client of a discovered provider: its authorization endpoint set, its
/// token and user-info endpoints as the provider's metadata has them.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// How the console signs people in with the provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL (`PROCGATE_OIDC_ISSUER`).
    pub issuer: String,
    /// The console's client id at the provider.
    pub client_id: String,
    /// Its secret, for a confidential client (PKCE is used either way).
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back: `{public URL}/console/sign-in/callback`.
    pub redirect_url: String,
    /// The resource (audience) the access token is asked for: the services' audience.
    pub resource: Option<String>,
    /// The scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim of the access token that holds the roles (a name or a dotted path).
    pub roles_claim: String,
}

/// The provider, as the console talks to it.
#[derive(Debug)]
pub struct OidcClient {
    settings: OidcSettings,
    http: reqwest::Client,
    metadata: RwLock<Option<CoreProviderMetadata>>,
}

/// What the session keeps between the redirect to the provider and the way back.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

impl OidcClient {
    /// A client for `settings`; nothing is fetched until someone signs in.
    pub fn new(settings: OidcSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        IssuerUrl::new(settings.issuer.clone())?;
        RedirectUrl::new(settings.redirect_url.clone())?;
        Ok(Self { settings, http, metadata: RwLock::new(None) })
    }

    /// Sends one request to the provider (openidconnect's HTTP client interface).
    fn send(
        &self,
        req: openidconnect::HttpRequest,
    ) -> Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + '_>>
    {
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let res = self
                .http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpError(e.to_string()))?;
            let mut out = openidconnect::http::Response::builder().status(res.status());
            for (name, value) in res.headers() {
                out = out.header(name, value);
            }
            let bytes = res.bytes().await.map_err(|e| HttpError(e.to_string()))?;
            out.body(bytes.to_vec()).map_err(|e| HttpError(e.to_string()))
        })
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata, PageError> {
        if let Some(known) = self.metadata.read().await.clone() {
            return Ok(known);
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| PageError::internal(e.to_string()))?;
        let http = |req| self.send(req);
        let found = CoreProviderMetadata::discover_async(issuer, &http).await.map_err(|e| {
            // The provider being away is a wait, not the console's fault: 503, Retry-After.
            PageError::Api(crate::api::ApiError::Unreachable(format!(
                "the identity provider could not be reached: {e}"
            )))
        })?;
        *self.metadata.write().await = Some(found.clone());
        Ok(found)
    }

    /// The console as the provider's client, with the provider's metadata.
    async fn client(&self) -> Result<Client, PageError> {
        let metadata = self.metadata().await?;
        let settings = &self.settings;
        let redirect = RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| PageError::internal(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.clone()),
            settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    async fn forget_metadata(&self) {
        *self.metadata.write().await = None;
    }
}

fn oidc(state: &State) -> Result<&OidcClient, PageError> {
    match &state.sign_in {
        SignIn::Oidc(client) => Ok(client),
        SignIn::Link(_) => {
            Err(PageError::SignInRefused("this console signs people in with one-time links".into()))
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    next: Option<String>,
}

/// `GET /console/sign-in/oidc`: off to the provider.
pub(crate) async fn start(
    state: web::Data<State>,
    session: Session,
    q: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let oidc = oidc(&state)?;
    let client = oidc.client().await?;
    let settings = &oidc.settings;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &settings.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(resource) = &settings.resource {
        request = request.add_extra_param("resource", resource.clone());
    }
    let (url, csrf, nonce) = request.url();
    let pending = Pending {
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next: safe_next(q.next.as_deref()),
    };
    session.insert(PENDING, &pending).map_err(|e| PageError::internal(e.to_string()))?;
    Ok(see_other(url.as_str()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /console/sign-in/callback`: back from the provider.
pub(crate) async fn callback(
    state: web::Data<State>,
    session: Session,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PageError> {
    let oidc = oidc(&state)?;
    let pending: Option<Pending> = session.get(PENDING).ok().flatten();
    let refused = |why: String| PageError::SignInRefused(why);
    let Some(pending) = pending else {
        return Err(refused(
            "the sign-in was not started from this browser, or took too long".into(),
        ));
    };
    // Before anything the answer says is shown or acted on: a link made elsewhere neither
    // puts its text on this console's page nor ends the sign-in under way.
    if q.state.as_deref() != Some(pending.state.as_str()) {
        return Err(refused(
            "the answer does not belong to this sign-in (its state differs)".into(),
        ));
    }
    session.remove(PENDING);
    if let Some(error) = &q.error {
        let detail = q.error_description.clone().unwrap_or_default();
        return Err(refused(format!("the identity provider answered {error}: {detail}")));
    }
    let Some(code) = q.code.clone() else {
        return Err(refused("the identity provider sent no authorization code".into()));
    };
    let client = oidc.client().await?;
    let settings = &oidc.settings;
    let mut exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| refused(format!("the identity provider publishes no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier));
    if let Some(resource) = &settings.resource {
        exchange = exchange.add_extra_param("resource", resource.clone());
    }
    let http = |req| oidc.send(req);
    let tokens = match exchange.request_async(&http).await {
        Ok(tokens) => tokens,
        Err(e) => {
            oidc.forget_metadata().await;
            return Err(refused(format!("the code could not be exchanged for tokens: {e}")));
        }
    };
    let id_token =
        tokens.id_token().ok_or_else(|| refused("the provider sent no ID token".into()))?;
    let nonce = Nonce::new(pending.nonce);
    let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Ok(claims) => claims,
        // The provider may have rotated its signing keys since the console read them (they
        // come with its metadata): read them again, once.
        Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
            oidc.forget_metadata().await;
            let client = oidc.client().await?;
            id_token
                .claims(&client.id_token_verifier(), &nonce)
                .map_err(|e| refused(format!("the ID token does not verify: {e}")))?
        }
        Err(e) => return Err(refused(format!("the ID token does not verify: {e}"))),
    };
    let subject = claims
        .email()
        .map(|e| e.as_str().to_owned())
        .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()))
        .unwrap_or_else(|| claims.subject().as_str().to_owned());
    let access = tokens.access_token().secret().clone();
    let access_claims = unverified_claims(&access).unwrap_or_default();
    let roles = roles_in(&access_claims, &settings.roles_claim);
    let now = chrono::Utc::now().timestamp();
    let expires_at = tokens
        .expires_in()
        .map(|d| now + d.as_secs() as i64)
        .or_else(|| access_claims.get("exp").and_then(|v| v.as_i64()))
        .unwrap_or(now + 3600)
        .min(now + state.settings.session_hours as i64 * 3600);
    let person = Person::new(subject, roles, access, expires_at);
    session::sign_in(&session, &person)?;
    tracing::info!(subject = %person.subject, "signed in to the console with the identity provider");
    Ok(see_other(&pending.next))
}

/// The claims of a JWT access token, read without checking them: only to show the person
/// their roles and shape the pages. The services verify the token on every call.
fn unverified_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The procgate roles in `claim` (a name, or a dotted path into nested objects; a list or one
/// space-separated string), as the services read it.
fn roles_in(claims: &serde_json::Map<String, serde_json::Value>, claim: &str) -> Vec<String> {
    let value = claims.get(claim).or_else(|| {
        let mut parts = claim.split('.');
        let first = claims.get(parts.next()?)?;
        parts.try_fold(first, |v, part| v.get(part))
    });
    let names: Vec<String> = match value {
        Some(serde_json::Value::Array(list)) => {
            list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
        }
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    auth::parse_roles(&names).into_iter().map(|r| r.as_str().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_read_from_a_name_or_a_path() {
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({
                "roles": ["it_staff", "janitor"],
                "realm_access": {"roles": ["auditor"]},
                "spaced": "admin finance",
            }))
            .unwrap();
        assert_eq!(roles_in(&claims, "roles"), vec!["it_staff"]);
        assert_eq!(roles_in(&claims, "realm_access.roles"), vec!["auditor"]);
        assert_eq!(roles_in(&claims, "spaced"), vec!["admin", "finance"]);
        assert!(roles_in(&claims, "missing").is_empty());
    }

    #[test]
    fn claims_of_a_jwt_are_read_from_its_payload() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x","exp":42}"#);
        let claims = unverified_claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!(claims["exp"], 42);
        assert!(unverified_claims("not-a-jwt").is_none());
    }
}
