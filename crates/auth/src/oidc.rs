//! Keys from the district's identity provider: OpenID Connect discovery, the JWKS, and the cache
//! that lets a verification stay synchronous.
//!
//! [`crate::Verifier::oidc`] finds the JWKS (from `{issuer}/.well-known/openid-configuration`'s
//! `jwks_uri`, or a configured URL) and keeps its signing keys in memory. Verifying never waits
//! for the network: the actix-web extractors that call it are synchronous (they return `Ready`
//! futures, and `kernel`'s `Caller` relies on that). Instead:
//!
//! - the first fetch starts when the verifier is built, in the background; until it succeeds a
//!   token is refused with [`AuthError::KeysUnavailable`] (503 with `Retry-After`);
//! - a token whose `kid` is not cached is refused ([`AuthError::UnknownKey`], 401) **and** starts
//!   a background refetch, so once the provider has rotated its keys the next request with
//!   the new key passes, without a restart;
//! - keys older than [`OidcConfig::max_key_age`] are still used while a background refetch
//!   replaces them, so keys the provider publishes ahead of a rotation are usually known before
//!   the first token signed with them arrives;
//! - refetches start at most once per [`OidcConfig::min_refresh_interval`] (30 s), never two
//!   at once, so tokens with made-up `kid`s cannot make procgate hammer the provider;
//! - a failed refetch keeps the keys already held, and so does a JWKS without one usable key.
//!
//! Each key pins its algorithm: the JWK's `alg` when it has one, else the only one its type
//! allows here (RSA: RS256, P-256: ES256, P-384: ES384, Ed25519: EdDSA). `none`, symmetric
//! (`oct`) keys, encryption keys and RSA keys under 2048 bits are never used. URLs must be https,
//! except on loopback (for tests and a provider on the same host); redirects are not followed.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Url;
use serde_json::Value;

use crate::verify::{AuthError, validation};

/// The largest discovery document or JWKS read (providers publish a few kilobytes).
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// The smallest RSA modulus accepted, in bits (RFC 7518, section 3.3).
const MIN_RSA_BITS: usize = 2048;

/// Where the identity provider's keys are and what its tokens must say.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The required `iss`. Unless [`jwks_url`](Self::jwks_url) is set, also where discovery
    /// starts: `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal it.
    pub issuer: String,
    /// The JWKS URL, when given directly (then no discovery is done).
    pub jwks_url: Option<String>,
    /// The required `aud`.
    pub audience: String,
    /// The claim that holds the roles: a name, or a dotted path into nested objects
    /// (`realm_access.roles`); a claim whose whole name matches is preferred, so
    /// `https://district.example/roles` works too. A list of strings or one space-separated
    /// string.
    pub roles_claim: String,
    /// Allowed clock skew for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// The shortest time between two fetches of the keys.
    pub min_refresh_interval: Duration,
    /// How long fetched keys are used before they are refreshed in the background.
    pub max_key_age: Duration,
    /// Timeout of each HTTP request to the provider.
    pub http_timeout: Duration,
}

impl OidcConfig {
    /// The default shortest time between two fetches: 30 seconds.
    pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
    /// The default age after which keys are refreshed in the background: 10 minutes.
    pub const DEFAULT_MAX_KEY_AGE: Duration = Duration::from_secs(600);
    /// The default HTTP timeout: 10 seconds.
    pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default roles claim: `roles`.
    pub const DEFAULT_ROLES_CLAIM: &'static str = "roles";

    /// Keys found by OpenID Connect discovery from `issuer`, tokens for `audience`, the other
    /// settings at their defaults.
    pub fn discover(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: None,
            audience: audience.into(),
            roles_claim: Self::DEFAULT_ROLES_CLAIM.to_owned(),
            leeway_secs: crate::AuthConfig::DEFAULT_LEEWAY_SECS,
            min_refresh_interval: Self::DEFAULT_MIN_REFRESH_INTERVAL,
            max_key_age: Self::DEFAULT_MAX_KEY_AGE,
            http_timeout: Self::DEFAULT_HTTP_TIMEOUT,
        }
    }

    /// Keys from the JWKS at `jwks_url` (no discovery), tokens from `issuer` for `audience`.
    pub fn jwks(
        jwks_url: impl Into<String>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self { jwks_url: Some(jwks_url.into()), ..Self::discover(issuer, audience) }
    }
}

/// One usable key of the provider, with the validation that pins its algorithm.
pub(crate) struct ProviderKey {
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
    pub(crate) algorithm: Algorithm,
    pub(crate) validation: Validation,
}

/// The keys held, and when they were fetched (`None`: never yet).
pub(crate) struct KeySet {
    pub(crate) keys: Vec<ProviderKey>,
    fetched_at: Option<Instant>,
}

impl KeySet {
    pub(crate) fn is_loaded(&self) -> bool {
        self.fetched_at.is_some()
    }

    /// The key named `kid`; a token without `kid` may use the only key there is.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&ProviderKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }
}

/// When fetches ran; decides whether another may start.
#[derive(Debug, Default)]
struct RefreshState {
    last_started: Option<Instant>,
    in_flight: bool,
}

impl RefreshState {
    /// Starts a fetch at `now` unless one is running or one started less than `min_interval`
    /// ago.
    fn try_begin(&mut self, now: Instant, min_interval: Duration) -> bool {
        let too_soon = self.last_started.is_some_and(|t| now.duration_since(t) < min_interval);
        if self.in_flight || too_soon {
            return false;
        }
        self.in_flight = true;
        self.last_started = Some(now);
        true
    }
}

/// The provider's keys, shared by the verifier and its background fetches.
pub(crate) struct ProviderKeys {
    config: OidcConfig,
    template: Validation,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    cache: RwLock<Arc<KeySet>>,
    refresh: Mutex<RefreshState>,
}

impl fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("issuer", &self.config.issuer)
            .field("jwks_url", &self.config.jwks_url)
            .field("audience", &self.config.audience)
            .field("roles_claim", &self.config.roles_claim)
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

/// Resets `in_flight` when the fetch ends, however it ends (also when the runtime drops it).
struct InFlight(Arc<ProviderKeys>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.refresh.lock().unwrap_or_else(PoisonError::into_inner).in_flight = false;
    }
}

impl ProviderKeys {
    /// Checks the configuration and starts the first fetch on the current tokio runtime.
    pub(crate) fn start(config: OidcConfig) -> Result<Arc<Self>, AuthError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            AuthError::InvalidSettings(
                "keys from an identity provider need a tokio runtime to fetch them in".to_owned(),
            )
        })?;
        match &config.jwks_url {
            Some(url) => check_url(url, "the JWKS URL"),
            None => check_url(&config.issuer, "the issuer URL"),
        }
        .map_err(AuthError::InvalidSettings)?;
        if config.roles_claim.trim().is_empty() {
            return Err(AuthError::InvalidSettings("the roles claim name is empty".to_owned()));
        }
        let client = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("procgate-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                AuthError::InvalidSettings(format!("cannot build the HTTP client: {e}"))
            })?;

        // Each key gets a copy with its own algorithm (see `provider_key`).
        let template =
            validation(Algorithm::RS256, &config.issuer, &config.audience, config.leeway_secs);

        let keys = Arc::new(Self {
            config,
            template,
            client,
            runtime,
            cache: RwLock::new(Arc::new(KeySet { keys: Vec::new(), fetched_at: None })),
            refresh: Mutex::new(RefreshState::default()),
        });
        keys.refresh_in_background("first fetch");
        Ok(keys)
    }

    /// The keys held now; starts a background refresh when they are old.
    pub(crate) fn current(self: &Arc<Self>) -> Arc<KeySet> {
        let keys = self.cache.read().unwrap_or_else(PoisonError::into_inner).clone();
        if keys.fetched_at.is_none_or(|at| at.elapsed() >= self.config.max_key_age) {
            self.refresh_in_background("keys are old or missing");
        }
        keys
    }

    /// The `kid`s held, in the JWKS's order (keys without one are listed as empty).
    pub(crate) fn key_ids(&self) -> Vec<String> {
        let keys = self.cache.read().unwrap_or_else(PoisonError::into_inner).clone();
        keys.keys.iter().map(|k| k.kid.clone().unwrap_or_default()).collect()
    }

    /// Starts a fetch in the background, unless one is running or the last started less than
    /// `min_refresh_interval` ago. Never waits.
    pub(crate) fn refresh_in_background(self: &Arc<Self>, why: &'static str) {
        let started = self
            .refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_begin(Instant::now(), self.config.min_refresh_interval);
        if !started {
            return;
        }
        tracing::debug!(reason = why, "fetching the identity provider's keys");
        let guard = InFlight(Arc::clone(self));
        self.runtime.spawn(async move {
            if let Err(e) = guard.0.refresh_now().await {
                tracing::warn!(error = %e, "the identity provider's keys could not be refreshed; keeping the keys held");
            }
            drop(guard);
        });
    }

    /// Fetches the keys now and installs them; returns how many are usable. On failure the
    /// keys held stay.
    pub(crate) async fn refresh_now(&self) -> Result<usize, AuthError> {
        {
            let mut state = self.refresh.lock().unwrap_or_else(PoisonError::into_inner);
            state.last_started = Some(Instant::now());
        }
        let keys = self.fetch().await.map_err(AuthError::KeyFetch)?;
        let count = keys.len();
        let ids: Vec<&str> = keys.iter().map(|k| k.kid.as_deref().unwrap_or("")).collect();
        tracing::info!(keys = ?ids, "fetched the identity provider's signing keys");
        let set = Arc::new(KeySet { keys, fetched_at: Some(Instant::now()) });
        *self.cache.write().unwrap_or_else(PoisonError::into_inner) = set;
        Ok(count)
    }

    async fn fetch(&self) -> Result<Vec<ProviderKey>, String> {
        let jwks_url = match &self.config.jwks_url {
            Some(url) => url.clone(),
            None => self.discover().await?,
        };
        let jwks = self.get_json(&jwks_url).await?;
        parse_jwks(&jwks, &self.template).map_err(|e| format!("{jwks_url}: {e}"))
    }

    /// The `jwks_uri` of the provider's discovery document (OpenID Connect Discovery 1.0).
    async fn discover(&self) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let document = self.get_json(&url).await?;
        match document.get("issuer").and_then(Value::as_str) {
            Some(issuer) if issuer == self.config.issuer => {}
            Some(other) => {
                return Err(format!(
                    "{url} names the issuer `{other}`, not the configured `{}`",
                    self.config.issuer
                ));
            }
            None => return Err(format!("{url} has no `issuer`")),
        }
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{url} has no `jwks_uri`"))?;
        check_url(jwks_uri, &format!("the jwks_uri of {url}"))?;
        Ok(jwks_uri.to_owned())
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

/// `url` must parse, and be https unless its host is loopback.
fn check_url(url: &str, what: &str) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("{what} `{url}` is not a URL: {e}"))?;
    let host = parsed.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("{what} `{url}` must use https (plain http only on loopback)")),
    }
}

/// The usable signing keys of a JWKS; keys that cannot be used are skipped (and logged).
fn parse_jwks(jwks: &Value, template: &Validation) -> Result<Vec<ProviderKey>, String> {
    let entries =
        jwks.get("keys").and_then(Value::as_array).ok_or("the JWKS has no `keys` list")?;
    let mut keys: Vec<ProviderKey> = Vec::new();
    for entry in entries {
        let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("");
        match provider_key(entry, template) {
            Ok(Some(key)) => {
                if key.kid.is_some() && keys.iter().any(|k| k.kid == key.kid) {
                    tracing::warn!(kid, "the JWKS lists this kid twice; using the first");
                } else {
                    keys.push(key);
                }
            }
            Ok(None) => {}
            Err(reason) => tracing::warn!(kid, %reason, "skipping a key of the JWKS"),
        }
    }
    if keys.is_empty() {
        return Err("the JWKS holds no usable signing key".to_owned());
    }
    Ok(keys)
}

/// The key `entry` describes, with its one algorithm; `None` for a key not meant for
/// signatures.
fn provider_key(entry: &Value, template: &Validation) -> Result<Option<ProviderKey>, String> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|e| format!("unreadable: {e}"))?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Ok(None);
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Ok(None);
    }
    let allowed: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let bits = modulus_bits(&rsa.n)?;
            if bits < MIN_RSA_BITS {
                return Err(format!("an RSA key of {bits} bits (at least {MIN_RSA_BITS})"));
            }
            &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ]
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => &[Algorithm::ES256],
            EllipticCurve::P384 => &[Algorithm::ES384],
            _ => return Err("an EC key on an unsupported curve".to_owned()),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
            _ => return Err("an OKP key on an unsupported curve".to_owned()),
        },
        AlgorithmParameters::OctetKey(_) => {
            return Err("a symmetric (oct) key: shared secrets are never taken from a JWKS".into());
        }
        _ => return Err("a key type that is not supported".to_owned()),
    };
    let algorithm = match jwk.common.key_algorithm {
        None => allowed[0],
        Some(named) => {
            let algorithm = Algorithm::try_from(named)
                .map_err(|_| format!("the algorithm {named} is not supported"))?;
            if !allowed.contains(&algorithm) {
                return Err(format!("its alg {named} does not fit its key type"));
            }
            algorithm
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable: {e}"))?;
    let mut validation = template.clone();
    validation.algorithms = vec![algorithm];
    Ok(Some(ProviderKey { kid: jwk.common.key_id.clone(), key, algorithm, validation }))
}

/// The size of an RSA modulus given as base64url, in bits.
fn modulus_bits(n: &str) -> Result<usize, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(n.trim_end_matches('='))
        .map_err(|_| "an RSA key whose modulus is not base64url".to_owned())?;
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let significant = &bytes[start..];
    Ok(significant
        .first()
        .map_or(0, |first| significant.len() * 8 - first.leading_zeros() as usize))
}

/// The JOSE name of `algorithm`, one a provider's key may have (never HMAC).
pub(crate) fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        // HMAC, and algorithms newer versions of the library may add: no key has them.
        _ => "an algorithm no key of the provider has",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const RSA_PUBLIC: &str = include_str!("../tests/keys/rsa-test-public.pem");

    fn template() -> Validation {
        Validation::new(Algorithm::RS256)
    }

    /// The test RSA public key as a JWK, with `extra` members merged in.
    fn rsa_jwk(extra: Value) -> Value {
        let key = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(Jwk::from_decoding_key(&key, None).unwrap()).unwrap();
        for (name, value) in extra.as_object().unwrap() {
            jwk[name] = value.clone();
        }
        jwk
    }

    fn ed_jwk(extra: Value) -> Value {
        let mut jwk = json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        });
        for (name, value) in extra.as_object().unwrap() {
            jwk[name] = value.clone();
        }
        jwk
    }

    fn algorithm_of(jwk: Value) -> Result<Option<Algorithm>, String> {
        provider_key(&jwk, &template()).map(|k| k.map(|k| k.algorithm))
    }

    #[test]
    fn each_key_pins_one_algorithm() {
        ensure();
        assert_eq!(algorithm_of(rsa_jwk(json!({"alg": null}))), Ok(Some(Algorithm::RS256)));
        assert_eq!(algorithm_of(rsa_jwk(json!({"alg": "PS256"}))), Ok(Some(Algorithm::PS256)));
        assert_eq!(algorithm_of(ed_jwk(json!({}))), Ok(Some(Algorithm::EdDSA)));
        assert_eq!(algorithm_of(ed_jwk(json!({"alg": "EdDSA"}))), Ok(Some(Algorithm::EdDSA)));
        let p256 = json!({
            "kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        });
        assert_eq!(algorithm_of(p256.clone()), Ok(Some(Algorithm::ES256)));
        // An algorithm the key does not have is refused, not adopted.
        let mut wrong = p256;
        wrong["alg"] = json!("ES384");
        assert!(algorithm_of(wrong).is_err());
        assert!(algorithm_of(rsa_jwk(json!({"alg": "EdDSA"}))).is_err());
        assert!(algorithm_of(rsa_jwk(json!({"alg": "HS256"}))).is_err());
        assert!(algorithm_of(ed_jwk(json!({"alg": "RS256"}))).is_err());
    }

    #[test]
    fn secrets_weak_keys_and_encryption_keys_are_not_used() {
        ensure();
        let oct = json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "alg": "HS256"});
        assert!(algorithm_of(oct).unwrap_err().contains("symmetric"));
        let small = json!({"kty": "RSA", "e": "AQAB", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128])});
        assert!(algorithm_of(small).unwrap_err().contains("1024 bits"));
        assert_eq!(algorithm_of(rsa_jwk(json!({"use": "enc"}))), Ok(None));
        assert_eq!(algorithm_of(rsa_jwk(json!({"key_ops": ["encrypt"]}))), Ok(None));
        assert!(algorithm_of(rsa_jwk(json!({"alg": "RSA-OAEP"}))).is_err());
        assert!(algorithm_of(json!({"kty": "OKP", "crv": "X25519", "x": "abc"})).is_err());
    }

    #[test]
    fn a_jwks_keeps_its_usable_keys() {
        ensure();
        let jwks = json!({"keys": [
            rsa_jwk(json!({"kid": "r1"})),
            {"kty": "oct", "k": "AAAA", "kid": "secret"},
            ed_jwk(json!({"kid": "e1"})),
            rsa_jwk(json!({"kid": "r1", "alg": "PS512"})),
        ]});
        let keys = parse_jwks(&jwks, &template()).unwrap();
        let ids: Vec<_> = keys.iter().map(|k| (k.kid.as_deref().unwrap(), k.algorithm)).collect();
        assert_eq!(ids, [("r1", Algorithm::RS256), ("e1", Algorithm::EdDSA)]);
        let set = KeySet { keys, fetched_at: None };
        assert!(set.find(Some("e1")).is_some());
        assert!(set.find(Some("secret")).is_none());
        assert!(set.find(None).is_none(), "no kid, several keys: none is guessed");

        let only = parse_jwks(&json!({"keys": [ed_jwk(json!({}))]}), &template()).unwrap();
        assert!(KeySet { keys: only, fetched_at: None }.find(None).is_some());

        assert!(parse_jwks(&json!({"keys": [{"kty": "oct", "k": "AAAA"}]}), &template()).is_err());
        assert!(parse_jwks(&json!({"nokeys": []}), &template()).is_err());
    }

    #[test]
    fn refreshes_are_rate_limited() {
        let mut state = RefreshState::default();
        let t0 = Instant::now();
        let min = Duration::from_secs(30);
        assert!(state.try_begin(t0, min));
        assert!(!state.try_begin(t0, min), "one at a time");
        state.in_flight = false;
        assert!(!state.try_begin(t0 + Duration::from_secs(29), min), "not within 30 s");
        assert!(state.try_begin(t0 + Duration::from_secs(30), min));
    }

    #[test]
    fn urls_must_be_https_unless_loopback() {
        assert!(check_url("https://login.district.example/realms/staff", "x").is_ok());
        assert!(check_url("http://127.0.0.1:8080", "x").is_ok());
        assert!(check_url("http://[::1]:8080/jwks", "x").is_ok());
        assert!(check_url("http://localhost/jwks", "x").is_ok());
        assert!(check_url("http://login.district.example", "x").is_err());
        assert!(check_url("http://10.0.0.5/jwks", "x").is_err());
        assert!(check_url("file:///etc/jwks.json", "x").is_err());
        assert!(check_url("login.district.example", "x").is_err());
    }

    #[test]
    fn modulus_sizes() {
        assert_eq!(modulus_bits(&URL_SAFE_NO_PAD.encode([0u8, 0x80, 0, 0])), Ok(24));
        assert_eq!(modulus_bits(&URL_SAFE_NO_PAD.encode([0x01u8, 0xFF])), Ok(9));
        assert_eq!(modulus_bits(""), Ok(0));
    }

    fn ensure() {
        crate::verify::ensure_crypto_provider();
    }
}
