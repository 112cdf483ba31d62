//! Token verification: configuration, [`Verifier`], [`Claims`] and [`AuthError`].
//!
//! The algorithm is pinned by the key: by [`KeyConfig`] for a key from configuration, by each
//! key of the identity provider's JWKS for [`Verifier::oidc`] (see [`crate::OidcConfig`]). A
//! token whose header names any other algorithm (`none`, `HS512`, or `HS256` when an RSA public
//! key is configured, the classic key-confusion attack) is refused before its signature is
//! looked at. A token must carry `exp`, `iss`, `aud` and `sub`; `iss` and `aud` must equal the
//! configured ones; `nbf` is checked when present; both time checks allow `leeway_secs` of
//! clock skew.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::oidc::{OidcConfig, ProviderKeys, algorithm_name};
use crate::role::{Role, parse_roles};

/// The shortest HS256 secret accepted: 32 bytes, the hash size (RFC 7518, section 3.2).
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// The key that checks signatures, and with it the one algorithm tokens may use.
#[derive(Clone)]
pub enum KeyConfig {
    /// HMAC-SHA256 with a shared secret (at least [`MIN_HS256_SECRET_LEN`] bytes): the
    /// zero-set-up default.
    Hs256 {
        /// The shared secret.
        secret: Vec<u8>,
    },
    /// Ed25519 signatures, checked with this public key (PEM, `BEGIN PUBLIC KEY`).
    EdDsa {
        /// The SubjectPublicKeyInfo PEM.
        public_pem: String,
    },
    /// RSASSA-PKCS1-v1_5 with SHA-256, checked with this public key (PEM).
    Rs256 {
        /// The public key PEM (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
        public_pem: String,
    },
}

impl KeyConfig {
    /// The JOSE name of the pinned algorithm (`HS256`, `EdDSA`, `RS256`).
    pub fn algorithm_name(&self) -> &'static str {
        match self {
            KeyConfig::Hs256 { .. } => "HS256",
            KeyConfig::EdDsa { .. } => "EdDSA",
            KeyConfig::Rs256 { .. } => "RS256",
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            KeyConfig::Hs256 { .. } => Algorithm::HS256,
            KeyConfig::EdDsa { .. } => Algorithm::EdDSA,
            KeyConfig::Rs256 { .. } => Algorithm::RS256,
        }
    }
}

/// Never prints the secret.
impl fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyConfig::Hs256 { secret } => f
                .debug_struct("Hs256")
                .field("secret", &format_args!("<{} bytes redacted>", secret.len()))
                .finish(),
            KeyConfig::EdDsa { .. } => f.debug_struct("EdDsa").finish_non_exhaustive(),
            KeyConfig::Rs256 { .. } => f.debug_struct("Rs256").finish_non_exhaustive(),
        }
    }
}

/// What a [`Verifier`] accepts.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The verification key, which pins the algorithm.
    pub key: KeyConfig,
    /// The required `iss` (procgate's default: `procgate`).
    pub issuer: String,
    /// The required `aud` (procgate's default: `procgate`).
    pub audience: String,
    /// Allowed clock skew for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl AuthConfig {
    /// The default leeway: 30 seconds of clock skew.
    pub const DEFAULT_LEEWAY_SECS: u64 = 30;

    /// An HS256 configuration with the default leeway.
    pub fn hs256(
        secret: impl Into<Vec<u8>>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            key: KeyConfig::Hs256 { secret: secret.into() },
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs: Self::DEFAULT_LEEWAY_SECS,
        }
    }
}

/// Why a token was refused, or a key could not be used. The messages of the token errors are
/// safe to show the caller (they describe the token it sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token in the request.
    #[error("no bearer token was sent")]
    MissingToken,
    /// Not three base64url parts with a JSON header, or unreadable claims.
    #[error("the token is not a well-formed JWT")]
    MalformedToken,
    /// The header names an algorithm other than the configured one.
    #[error("the token is signed with {found}, but this service accepts only {expected}")]
    AlgorithmMismatch {
        /// The configured algorithm.
        expected: &'static str,
        /// The header's `alg` (or `missing`).
        found: String,
    },
    /// The signature does not verify with the configured key.
    #[error("the token's signature is not valid for this service's key")]
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet (its nbf is in the future)")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by someone this service does not trust (wrong iss)")]
    WrongIssuer,
    /// `aud` does not include the configured audience.
    #[error("the token is meant for another audience (wrong aud)")]
    WrongAudience,
    /// A required claim is absent.
    #[error("the token lacks the required claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong type or an unusable value.
    #[error("the token's claims are invalid: {0}")]
    InvalidClaim(String),
    /// The token names a signing key (`kid`) the identity provider does not publish, or not
    /// yet: the keys are refetched in the background, so after a rotation a retry passes.
    #[error(
        "the token is signed with the key `{0}`, which is not one of the identity provider's \
         keys (if the provider has just rotated its keys, try again in a few seconds)"
    )]
    UnknownKey(String),
    /// The token names no signing key (`kid`), and the identity provider publishes several.
    #[error("the token does not say which of the identity provider's keys signed it (no kid)")]
    MissingKeyId,
    /// The identity provider's keys have not been fetched yet (the provider is unreachable, or
    /// the first fetch is still running): not the caller's fault.
    #[error("the identity provider's signing keys are not available yet")]
    KeysUnavailable,
    /// Fetching the identity provider's keys failed (configuration or network).
    #[error("the identity provider's keys could not be fetched: {0}")]
    KeyFetch(String),
    /// The identity provider's settings cannot be used (configuration error).
    #[error("the identity provider settings are unusable: {0}")]
    InvalidSettings(String),
    /// The configured key cannot be used (configuration error, not the caller's).
    #[error("the configured key is unusable: {0}")]
    InvalidKey(String),
    /// Signing failed (configuration error).
    #[error("signing failed: {0}")]
    Signing(String),
}

/// What a token's claims must look like, said when they do not.
const CLAIM_SHAPES: &str = "a claim has a value of the wrong type: `sub`, `iss` and `jti` are \
     strings, `aud` a string or a list of strings, `exp`, `nbf` and `iat` numbers of seconds, \
     and `roles` a list of strings";

/// The verified claims of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Who: a person's or service account's id (becomes the event actor).
    pub sub: String,
    /// The procgate roles granted, unknown names dropped, without duplicates.
    pub roles: Vec<Role>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not-before, when present.
    pub nbf: Option<u64>,
    /// Issued-at, when present.
    pub iat: Option<u64>,
    /// The issuer (equal to the configured one).
    pub iss: String,
    /// The audiences (including the configured one).
    pub aud: Vec<String>,
    /// The token id, when present.
    pub jti: Option<String>,
}

/// `aud` may be one string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims procgate reads, but the roles (see [`RolesClaim`]).
#[derive(Deserialize)]
struct RawClaims {
    // The required claims are optional here: the JWT library deserializes the claims before it
    // checks that the required ones are present, so a missing one would otherwise be reported
    // as a deserialization error rather than as missing.
    sub: Option<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    aud: Option<Audience>,
    jti: Option<String>,
}

fn required<T>(claim: Option<T>, name: &str) -> Result<T, AuthError> {
    claim.ok_or_else(|| AuthError::MissingClaim(name.to_owned()))
}

/// Where a token's roles are.
#[derive(Debug, Clone)]
enum RolesClaim {
    /// procgate's own `roles`: absent, or a list of strings (anything else is refused).
    Procgate,
    /// An identity provider's claim: a name or a dotted path (a claim named exactly so wins),
    /// holding a list of strings or one space-separated string; absent or null means none.
    Provider(String),
}

impl RolesClaim {
    fn read(&self, claims: &Value) -> Result<Vec<Role>, AuthError> {
        match self {
            RolesClaim::Procgate => match claims.get("roles") {
                None => Ok(Vec::new()),
                Some(value) => strings(value)
                    .map(|names| parse_roles(&names))
                    .ok_or_else(|| AuthError::InvalidClaim(CLAIM_SHAPES.to_owned())),
            },
            RolesClaim::Provider(path) => {
                let value = claims.get(path.as_str()).or_else(|| {
                    path.split('.').try_fold(claims, |value, member| value.get(member))
                });
                match value {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::String(spaced)) => {
                        Ok(parse_roles(&spaced.split_whitespace().collect::<Vec<_>>()))
                    }
                    Some(value) => {
                        strings(value).map(|names| parse_roles(&names)).ok_or_else(|| {
                            AuthError::InvalidClaim(format!(
                                "the roles claim `{path}` must be a list of strings or one \
                                 space-separated string"
                            ))
                        })
                    }
                }
            }
        }
    }
}

/// The strings of a JSON list of strings.
fn strings(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
}

/// Reads the header ourselves, so any algorithm (including `none` and names the JWT library
/// does not know) can be refused by name before the library is asked.
fn read_header(token: &str) -> Result<RawHeader, AuthError> {
    let header_b64 = token.split('.').next().ok_or(AuthError::MalformedToken)?;
    let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| AuthError::MalformedToken)?;
    serde_json::from_slice(&header_json).map_err(|_| AuthError::MalformedToken)
}

/// Checks tokens against one [`AuthConfig`], or against the identity provider's keys
/// ([`Verifier::oidc`]). Build it once at startup and share it (as `web::Data<Verifier>` or
/// `Arc<Verifier>` app data for the [`crate::Principal`] extractor).
pub struct Verifier {
    mode: Mode,
}

enum Mode {
    /// One key from configuration.
    Static { key: DecodingKey, expected_alg: &'static str, validation: Box<Validation> },
    /// The identity provider's keys, fetched and cached.
    Provider { keys: Arc<ProviderKeys>, roles: RolesClaim },
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.mode {
            Mode::Static { expected_alg, validation, .. } => f
                .debug_struct("Verifier")
                .field("algorithm", expected_alg)
                .field("issuer", &validation.iss)
                .field("audience", &validation.aud)
                .field("leeway_secs", &validation.leeway)
                .finish_non_exhaustive(),
            Mode::Provider { keys, .. } => {
                f.debug_struct("Verifier").field("provider", keys).finish_non_exhaustive()
            }
        }
    }
}

/// Makes RustCrypto jsonwebtoken's provider (the only backend built); harmless if one is set.
pub(crate) fn ensure_crypto_provider() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}

impl Verifier {
    /// A verifier for `config`; fails if the key cannot be parsed or an HS256 secret is
    /// shorter than [`MIN_HS256_SECRET_LEN`] bytes.
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        ensure_crypto_provider();
        let key = match &config.key {
            KeyConfig::Hs256 { secret } => {
                if secret.len() < MIN_HS256_SECRET_LEN {
                    return Err(AuthError::InvalidKey(format!(
                        "the HS256 secret is {} bytes; it must be at least {MIN_HS256_SECRET_LEN}",
                        secret.len()
                    )));
                }
                DecodingKey::from_secret(secret)
            }
            KeyConfig::EdDsa { public_pem } => DecodingKey::from_ed_pem(public_pem.as_bytes())
                .map_err(|e| AuthError::InvalidKey(format!("EdDSA public key: {e}")))?,
            KeyConfig::Rs256 { public_pem } => DecodingKey::from_rsa_pem(public_pem.as_bytes())
                .map_err(|e| AuthError::InvalidKey(format!("RS256 public key: {e}")))?,
        };

        let validation = validation(
            config.key.algorithm(),
            &config.issuer,
            &config.audience,
            config.leeway_secs,
        );

        let expected_alg = config.key.algorithm_name();
        Ok(Self { mode: Mode::Static { key, expected_alg, validation: Box::new(validation) } })
    }

    /// A verifier of the identity provider's tokens, with the keys of its JWKS (found by
    /// OpenID Connect discovery, or at [`OidcConfig::jwks_url`]). Must be called within a tokio
    /// runtime: the keys are fetched in the background on it, starting now, and verifying
    /// never waits for them (see [`crate::OidcConfig`] for when they are refetched). Fails if
    /// a URL is not https (plain http is allowed on loopback only) or there is no runtime;
    /// an unreachable provider is not an error here (tokens are refused until it answers).
    pub fn oidc(config: OidcConfig) -> Result<Self, AuthError> {
        ensure_crypto_provider();
        let roles = RolesClaim::Provider(config.roles_claim.trim().to_owned());
        let keys = ProviderKeys::start(config)?;
        Ok(Self { mode: Mode::Provider { keys, roles } })
    }

    /// The pinned algorithm's JOSE name; `JWKS` for the identity provider's keys (each of
    /// them pins its own).
    pub fn algorithm(&self) -> &'static str {
        match &self.mode {
            Mode::Static { expected_alg, .. } => expected_alg,
            Mode::Provider { .. } => "JWKS",
        }
    }

    /// Whether tokens are checked with the identity provider's keys ([`Verifier::oidc`]).
    pub fn is_oidc(&self) -> bool {
        matches!(self.mode, Mode::Provider { .. })
    }

    /// Fetches the identity provider's keys now, whatever the rate limit, and returns how
    /// many are usable; on failure the keys held stay. A verifier with a key from
    /// configuration has nothing to fetch: `Ok(0)`.
    pub async fn refresh_keys(&self) -> Result<usize, AuthError> {
        match &self.mode {
            Mode::Static { .. } => Ok(0),
            Mode::Provider { keys, .. } => keys.refresh_now().await,
        }
    }

    /// The `kid`s of the identity provider's keys held now (empty for a key from
    /// configuration, or before the first fetch).
    pub fn key_ids(&self) -> Vec<String> {
        match &self.mode {
            Mode::Static { .. } => Vec::new(),
            Mode::Provider { keys, .. } => keys.key_ids(),
        }
    }

    /// Verifies `token` (the compact JWT, without `Bearer `) and returns its claims. Never
    /// waits: with the identity provider's keys, a token signed by a key not held yet is
    /// refused and a background refetch is started (see [`crate::OidcConfig`]).
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = read_header(token)?;
        match &self.mode {
            Mode::Static { key, expected_alg, validation } => {
                check_alg(header.alg.as_deref(), expected_alg)?;
                decode(token, key, validation, expected_alg, &RolesClaim::Procgate)
            }
            Mode::Provider { keys, roles } => {
                // `none`, a missing `alg` and HMAC (a shared secret is never a provider's key)
                // are refused before any key is looked up.
                let refused = match header.alg.as_deref() {
                    None => Some("missing"),
                    Some(alg) if alg.eq_ignore_ascii_case("none") || alg.starts_with("HS") => {
                        Some(alg)
                    }
                    Some(_) => None,
                };
                if let Some(found) = refused {
                    return Err(AuthError::AlgorithmMismatch {
                        expected: "an algorithm of the identity provider's keys",
                        found: callers_text(found),
                    });
                }
                let held = keys.current();
                if !held.is_loaded() {
                    return Err(AuthError::KeysUnavailable);
                }
                let Some(key) = held.find(header.kid.as_deref()) else {
                    return Err(match header.kid {
                        Some(kid) => {
                            keys.refresh_in_background("a token names an unknown kid");
                            AuthError::UnknownKey(callers_text(&kid))
                        }
                        None => AuthError::MissingKeyId,
                    });
                };
                let expected = algorithm_name(key.algorithm);
                check_alg(header.alg.as_deref(), expected)?;
                decode(token, &key.key, &key.validation, expected, roles)
            }
        }
    }
}

/// Refuses a header `alg` other than `expected`.
fn check_alg(found: Option<&str>, expected: &'static str) -> Result<(), AuthError> {
    match found {
        Some(alg) if alg == expected => Ok(()),
        found => Err(AuthError::AlgorithmMismatch {
            expected,
            found: callers_text(found.unwrap_or("missing")),
        }),
    }
}

/// Text from an unverified token header, as errors carry it into the logs and back to the
/// caller: at most 64 characters, control characters (a newline would forge a log line) as
/// `?`.
fn callers_text(text: &str) -> String {
    text.chars().take(64).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Checks the signature and the claims, and reads them.
fn decode(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
    expected_alg: &'static str,
    roles: &RolesClaim,
) -> Result<Claims, AuthError> {
    let data = jsonwebtoken::decode::<Value>(token, key, validation)
        .map_err(|e| map_error(e, expected_alg))?;
    let raw = RawClaims::deserialize(&data.claims).map_err(|e| {
        tracing::debug!(error = %e, "token claims do not parse");
        AuthError::InvalidClaim(CLAIM_SHAPES.to_owned())
    })?;
    let roles = roles.read(&data.claims)?;
    let sub = required(raw.sub, "sub")?;
    if sub.trim().is_empty() {
        return Err(AuthError::InvalidClaim("`sub` is empty".to_owned()));
    }
    Ok(Claims {
        sub,
        roles,
        exp: required(raw.exp, "exp")?,
        nbf: raw.nbf,
        iat: raw.iat,
        iss: required(raw.iss, "iss")?,
        aud: match required(raw.aud, "aud")? {
            Audience::One(a) => vec![a],
            Audience::Many(a) => a,
        },
        jti: raw.jti,
    })
}

fn map_error(err: jsonwebtoken::errors::Error, expected_alg: &'static str) -> AuthError {
    match err.into_kind() {
        ErrorKind::InvalidSignature => AuthError::InvalidSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim),
        ErrorKind::InvalidClaimFormat(claim) => {
            AuthError::InvalidClaim(format!("`{claim}` has the wrong type"))
        }
        ErrorKind::InvalidAlgorithm => AuthError::AlgorithmMismatch {
            expected: expected_alg,
            found: "another algorithm".to_owned(),
        },
        // serde's wording (types, line and column) means nothing to a caller: say what the
        // claims must be instead, and keep the detail for the log.
        ErrorKind::Json(e) => {
            tracing::debug!(error = %e, "token claims do not parse");
            AuthError::InvalidClaim(CLAIM_SHAPES.to_owned())
        }
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidEddsaKey | ErrorKind::InvalidRsaKey(_) => {
            AuthError::InvalidKey("the key does not fit the algorithm".to_owned())
        }
        _ => AuthError::MalformedToken,
    }
}

/// The checks every token passes, whichever key signed it: signed with `algorithm`, not expired
/// and already valid (both allowing `leeway_secs`), issued by `issuer` for `audience`, and
/// carrying the claims procgate reads.
pub(crate) fn validation(
    algorithm: Algorithm,
    issuer: &str,
    audience: &str,
    leeway_secs: u64,
) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = leeway_secs;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}
