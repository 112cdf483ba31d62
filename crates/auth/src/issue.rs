//! Token signing, for `procgate token`, the demo and tests.
//!
//! Production tokens normally come from the district's identity provider; procgate signs its own
//! only for the zero-set-up default (HS256 with the shared secret) and for operators holding an
//! EdDSA or RSA private key.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::role::Role;
use crate::verify::{AuthError, MIN_HS256_SECRET_LEN, ensure_crypto_provider};

/// The key an [`Issuer`] signs with; it must match the verifiers' [`crate::KeyConfig`].
#[derive(Clone)]
pub enum SigningKeyConfig {
    /// HS256 with the shared secret (at least 32 bytes).
    Hs256 {
        /// The shared secret.
        secret: Vec<u8>,
    },
    /// EdDSA (Ed25519) with a PKCS#8 private key PEM (`BEGIN PRIVATE KEY`).
    EdDsa {
        /// The private key PEM.
        private_pem: String,
    },
    /// RS256 with an RSA private key PEM (PKCS#1 or PKCS#8).
    Rs256 {
        /// The private key PEM.
        private_pem: String,
    },
}

/// Never prints key material.
impl fmt::Debug for SigningKeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            SigningKeyConfig::Hs256 { .. } => "Hs256",
            SigningKeyConfig::EdDsa { .. } => "EdDsa",
            SigningKeyConfig::Rs256 { .. } => "Rs256",
        };
        f.debug_struct(name).finish_non_exhaustive()
    }
}

/// The claims procgate puts in the tokens it signs.
#[derive(Serialize)]
struct IssuedClaims<'a> {
    sub: &'a str,
    roles: Vec<&'static str>,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

/// Signs tokens that a [`crate::Verifier`] with the matching key, issuer and audience accepts.
pub struct Issuer {
    key: EncodingKey,
    algorithm: Algorithm,
    issuer: String,
    audience: String,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer signing with `key`, naming `issuer` and `audience` in its tokens. Fails if the
    /// key cannot be parsed or cannot sign (checked here, so [`issue`](Self::issue) cannot
    /// fail), or if an HS256 secret is shorter than 32 bytes.
    pub fn new(
        key: SigningKeyConfig,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, AuthError> {
        ensure_crypto_provider();
        let (key, algorithm) = match &key {
            SigningKeyConfig::Hs256 { secret } => {
                if secret.len() < MIN_HS256_SECRET_LEN {
                    return Err(AuthError::InvalidKey(format!(
                        "the HS256 secret is {} bytes; it must be at least {MIN_HS256_SECRET_LEN}",
                        secret.len()
                    )));
                }
                (EncodingKey::from_secret(secret), Algorithm::HS256)
            }
            SigningKeyConfig::EdDsa { private_pem } => (
                EncodingKey::from_ed_pem(private_pem.as_bytes())
                    .map_err(|e| AuthError::InvalidKey(format!("EdDSA private key: {e}")))?,
                Algorithm::EdDSA,
            ),
            SigningKeyConfig::Rs256 { private_pem } => (
                EncodingKey::from_rsa_pem(private_pem.as_bytes())
                    .map_err(|e| AuthError::InvalidKey(format!("RS256 private key: {e}")))?,
                Algorithm::RS256,
            ),
        };
        let issuer = Self { key, algorithm, issuer: issuer.into(), audience: audience.into() };
        // Sign once now, so a key that parses but cannot sign fails at startup.
        issuer.try_issue("probe", &[], Duration::from_secs(1))?;
        Ok(issuer)
    }

    /// An HS256 issuer.
    pub fn hs256(
        secret: impl Into<Vec<u8>>,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, AuthError> {
        Self::new(SigningKeyConfig::Hs256 { secret: secret.into() }, issuer, audience)
    }

    /// A token for `subject` with `roles`, valid from now for `ttl`, with a fresh `jti`.
    pub fn issue(&self, subject: &str, roles: &[Role], ttl: Duration) -> String {
        self.try_issue(subject, roles, ttl)
            .expect("the key signed a probe token when the issuer was built")
    }

    fn try_issue(&self, subject: &str, roles: &[Role], ttl: Duration) -> Result<String, AuthError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let claims = IssuedClaims {
            sub: subject,
            roles: roles.iter().map(|r| r.as_str()).collect(),
            iss: &self.issuer,
            aud: &self.audience,
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.key)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }
}
