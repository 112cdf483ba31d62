//! Standard Webhooks 1.0 signatures, and endpoint secrets derived from the district's key.
//!
//! A delivery carries `webhook-id` (the event id: the same on every retry), `webhook-timestamp`
//! (Unix seconds of this attempt) and `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
//! `{id}.{timestamp}.{body}` under the endpoint's secret, once per secret in force, separated
//! by spaces (both secrets during a rotation's overlap).
//!
//! An endpoint's secret is never stored: generation `n` of endpoint `id` is the HMAC-SHA256 of
//! `procgate webhook secret {id} {n}` under the district's webhook key
//! (`PROCGATE_WEBHOOK_KEY`, or the `webhook-key` file `procgate serve` creates), shown to its
//! owner once as `whsec_` and the base64 of its 32 bytes. Every instance with the same key
//! signs alike; changing the key changes every endpoint's secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The district's webhook key, from which every endpoint's secrets are derived.
#[derive(Clone)]
pub struct WebhookKey(std::sync::Arc<[u8]>);

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(…)")
    }
}

impl WebhookKey {
    /// A key of at least 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 32 {
            return Err(format!(
                "the webhook key must be at least 32 bytes long; it has {}",
                bytes.len()
            ));
        }
        Ok(Self(bytes.into()))
    }

    /// The secret of generation `generation` of endpoint `id`.
    pub fn secret(&self, id: Uuid, generation: u32) -> Secret {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(format!("procgate webhook secret {id} {generation}").as_bytes());
        Secret(mac.finalize().into_bytes().to_vec())
    }
}

/// An endpoint's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// As shown to the endpoint's owner: `whsec_` and base64.
    pub fn reveal(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    /// A secret as its owner has it (`whsec_…`).
    pub fn parse(shown: &str) -> Option<Self> {
        STANDARD.decode(shown.strip_prefix("whsec_")?).ok().map(Self)
    }

    /// `v1,` and the signature of one delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret, separated by spaces.
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|s| s.sign(id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_derived_per_endpoint_and_generation() {
        let key = WebhookKey::new(&[7; 32]).unwrap();
        let a = Uuid::from_u128(1);
        assert_eq!(key.secret(a, 1), key.secret(a, 1));
        assert_ne!(key.secret(a, 1), key.secret(a, 2));
        assert_ne!(key.secret(a, 1), key.secret(Uuid::from_u128(2), 1));
        assert!(key.secret(a, 1).reveal().starts_with("whsec_"));
        assert!(WebhookKey::new(&[7; 31]).is_err());
    }

    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        // The specification's own example: this secret, id, timestamp and body give this
        // signature.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(
            signature_header(
                &[secret.clone(), secret],
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                body
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
