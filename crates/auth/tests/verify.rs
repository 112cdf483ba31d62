//! Token verification: what is accepted, and each way a token is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::{AuthConfig, AuthError, Issuer, KeyConfig, Role, SigningKeyConfig, Verifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const SECRET: &[u8] = b"test-secret-that-is-at-least-32-bytes-long";
const ISS: &str = "procgate";
const AUD: &str = "procgate";
const RSA_PRIVATE: &str = include_str!("keys/rsa-test-private.pem");
const RSA_PUBLIC: &str = include_str!("keys/rsa-test-public.pem");

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn hs256_verifier() -> Verifier {
    Verifier::new(AuthConfig::hs256(SECRET, ISS, AUD)).unwrap()
}

/// A verifier of tokens from [`ISS`] for [`AUD`] signed with `key`, 30 seconds of leeway.
fn verifier(key: KeyConfig) -> Verifier {
    Verifier::new(AuthConfig {
        key,
        issuer: ISS.to_owned(),
        audience: AUD.to_owned(),
        leeway_secs: 30,
    })
    .unwrap()
}

/// Claims that pass, to be spoiled one member at a time.
fn good_claims() -> Value {
    json!({
        "sub": "finance-system-1",
        "roles": ["finance"],
        "iss": ISS,
        "aud": AUD,
        "iat": now(),
        "exp": now() + 600,
    })
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn hs256(claims: &Value) -> String {
    sign(Algorithm::HS256, &EncodingKey::from_secret(SECRET), claims)
}

fn without(mut claims: Value, member: &str) -> Value {
    claims.as_object_mut().unwrap().remove(member);
    claims
}

fn with(mut claims: Value, member: &str, value: Value) -> Value {
    claims[member] = value;
    claims
}

/// An Ed25519 key pair from a fixed seed, as PKCS#8 private and SPKI public PEMs.
fn ed25519_pems(seed: u8) -> (String, String) {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let private = signing.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public = signing.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
    (private, public)
}

#[test]
fn accepts_a_valid_hs256_token() {
    let token = hs256(&with(good_claims(), "roles", json!(["finance", "auditor", "janitor", 7])));
    // A non-string role makes the claim invalid (said in our words, not serde's); an unknown
    // string is only ignored.
    let err = hs256_verifier().verify(&token).unwrap_err();
    assert!(matches!(err, AuthError::InvalidClaim(_)));
    let message = err.to_string();
    assert!(message.contains("`roles` a list of strings"), "{message}");
    assert!(!message.contains("invalid type") && !message.contains("column"), "{message}");

    let token = hs256(&with(good_claims(), "roles", json!(["finance", "auditor", "janitor"])));
    let claims = hs256_verifier().verify(&token).unwrap();
    assert_eq!(claims.sub, "finance-system-1");
    assert_eq!(claims.roles, vec![Role::Finance, Role::Auditor]);
    assert_eq!(claims.iss, ISS);
    assert_eq!(claims.aud, vec![AUD.to_owned()]);
    assert!(claims.exp > now());
}

#[test]
fn missing_roles_claim_means_no_roles() {
    let claims = hs256_verifier().verify(&hs256(&without(good_claims(), "roles"))).unwrap();
    assert!(claims.roles.is_empty());
}

#[test]
fn audience_may_be_a_list() {
    let token = hs256(&with(good_claims(), "aud", json!(["other", AUD])));
    let claims = hs256_verifier().verify(&token).unwrap();
    assert_eq!(claims.aud, vec!["other".to_owned(), AUD.to_owned()]);
}

#[test]
fn issuer_tokens_verify() {
    let issuer = Issuer::hs256(SECRET, ISS, AUD).unwrap();
    let token = issuer.issue("alice", &[Role::ItStaff, Role::Admin], Duration::from_secs(60));
    let claims = hs256_verifier().verify(&token).unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.roles, vec![Role::ItStaff, Role::Admin]);
    assert!(claims.jti.is_some());
    assert!(claims.iat.is_some());
}

#[test]
fn refuses_a_wrong_secret() {
    let token = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-that-is-also-32-bytes-long"),
        &good_claims(),
    );
    assert_eq!(hs256_verifier().verify(&token), Err(AuthError::InvalidSignature));
}

#[test]
fn refuses_a_tampered_payload() {
    let token = hs256(&good_claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&with(good_claims(), "roles", json!(["admin"]))).unwrap());
    parts[1] = &forged;
    assert_eq!(hs256_verifier().verify(&parts.join(".")), Err(AuthError::InvalidSignature));
}

#[test]
fn refuses_an_expired_token_beyond_the_leeway() {
    let expired = hs256(&with(good_claims(), "exp", json!(now() - 120)));
    assert_eq!(hs256_verifier().verify(&expired), Err(AuthError::Expired));

    // Within the 30 s leeway it still passes.
    let just_expired = hs256(&with(good_claims(), "exp", json!(now() - 5)));
    assert!(hs256_verifier().verify(&just_expired).is_ok());

    // With no leeway it does not.
    let strict =
        Verifier::new(AuthConfig { leeway_secs: 0, ..AuthConfig::hs256(SECRET, ISS, AUD) })
            .unwrap();
    assert_eq!(strict.verify(&just_expired), Err(AuthError::Expired));
}

#[test]
fn refuses_a_token_not_valid_yet() {
    let future = hs256(&with(good_claims(), "nbf", json!(now() + 3600)));
    assert_eq!(hs256_verifier().verify(&future), Err(AuthError::NotYetValid));

    let past = hs256(&with(good_claims(), "nbf", json!(now() - 10)));
    assert!(hs256_verifier().verify(&past).is_ok());
}

#[test]
fn refuses_a_wrong_issuer() {
    let token = hs256(&with(good_claims(), "iss", json!("evil-idp")));
    assert_eq!(hs256_verifier().verify(&token), Err(AuthError::WrongIssuer));
}

#[test]
fn refuses_a_wrong_audience() {
    let token = hs256(&with(good_claims(), "aud", json!("payroll")));
    assert_eq!(hs256_verifier().verify(&token), Err(AuthError::WrongAudience));
}

#[test]
fn refuses_missing_required_claims() {
    for claim in ["sub", "exp", "iss", "aud"] {
        let token = hs256(&without(good_claims(), claim));
        assert_eq!(
            hs256_verifier().verify(&token),
            Err(AuthError::MissingClaim(claim.to_owned())),
            "{claim}"
        );
    }
}

#[test]
fn refuses_an_empty_subject() {
    let token = hs256(&with(good_claims(), "sub", json!("  ")));
    assert!(matches!(hs256_verifier().verify(&token), Err(AuthError::InvalidClaim(_))));
}

#[test]
fn refuses_alg_none() {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good_claims()).unwrap());
    for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
        assert_eq!(
            hs256_verifier().verify(&token),
            Err(AuthError::AlgorithmMismatch { expected: "HS256", found: "none".to_owned() })
        );
    }
}

#[test]
fn an_alg_from_the_header_is_bounded_and_cannot_forge_a_log_line() {
    let forged = format!("x\n2026-12-01T00:00:00Z INFO signed in subject=admin{}", "y".repeat(200));
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!({"alg": forged})).unwrap());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good_claims()).unwrap());
    let Err(AuthError::AlgorithmMismatch { found, .. }) =
        hs256_verifier().verify(&format!("{header}.{payload}.c2ln"))
    else {
        panic!("the forged alg was not refused as a mismatch");
    };
    assert_eq!(found.chars().count(), 64);
    assert!(found.starts_with("x?2026-12-01") && !found.contains('\n'), "{found}");
}

#[test]
fn refuses_other_algorithms_when_hs256_is_pinned() {
    let rs256 = sign(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
        &good_claims(),
    );
    let hs512 = sign(Algorithm::HS512, &EncodingKey::from_secret(SECRET), &good_claims());
    let (ed_private, _) = ed25519_pems(1);
    let eddsa = sign(
        Algorithm::EdDSA,
        &EncodingKey::from_ed_pem(ed_private.as_bytes()).unwrap(),
        &good_claims(),
    );
    for (token, alg) in [(rs256, "RS256"), (hs512, "HS512"), (eddsa, "EdDSA")] {
        assert_eq!(
            hs256_verifier().verify(&token),
            Err(AuthError::AlgorithmMismatch { expected: "HS256", found: alg.to_owned() })
        );
    }
}

#[test]
fn refuses_hs256_signed_with_the_public_key_when_rs256_is_pinned() {
    // The key-confusion attack: HMAC over the token with the RSA *public* key as the secret.
    let verifier = verifier(KeyConfig::Rs256 { public_pem: RSA_PUBLIC.to_owned() });
    let forged =
        sign(Algorithm::HS256, &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()), &good_claims());
    assert_eq!(
        verifier.verify(&forged),
        Err(AuthError::AlgorithmMismatch { expected: "RS256", found: "HS256".to_owned() })
    );
}

#[test]
fn refuses_garbage() {
    for token in ["", "abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.!!!.sig"] {
        assert!(hs256_verifier().verify(token).is_err(), "{token:?}");
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT"}"#);
    assert!(matches!(
        hs256_verifier().verify(&format!("{header}.e30.sig")),
        Err(AuthError::AlgorithmMismatch { .. })
    ));
}

#[test]
fn eddsa_round_trip() {
    let (private, public) = ed25519_pems(42);
    let issuer = Issuer::new(SigningKeyConfig::EdDsa { private_pem: private }, ISS, AUD).unwrap();
    let verifier = verifier(KeyConfig::EdDsa { public_pem: public });
    let token = issuer.issue("auditor-7", &[Role::Auditor], Duration::from_secs(60));
    let claims = verifier.verify(&token).unwrap();
    assert_eq!(claims.sub, "auditor-7");
    assert_eq!(claims.roles, vec![Role::Auditor]);

    // A token from another Ed25519 key is refused.
    let (other_private, _) = ed25519_pems(43);
    let other =
        Issuer::new(SigningKeyConfig::EdDsa { private_pem: other_private }, ISS, AUD).unwrap();
    let token = other.issue("mallory", &[Role::Admin], Duration::from_secs(60));
    assert_eq!(verifier.verify(&token), Err(AuthError::InvalidSignature));
}

#[test]
fn rs256_round_trip() {
    let issuer =
        Issuer::new(SigningKeyConfig::Rs256 { private_pem: RSA_PRIVATE.to_owned() }, ISS, AUD)
            .unwrap();
    let verifier = verifier(KeyConfig::Rs256 { public_pem: RSA_PUBLIC.to_owned() });
    let token = issuer.issue("it-bob", &[Role::ItStaff], Duration::from_secs(60));
    assert_eq!(verifier.verify(&token).unwrap().sub, "it-bob");
}

#[test]
fn refuses_unusable_keys() {
    assert!(matches!(
        Verifier::new(AuthConfig::hs256(b"short".to_vec(), ISS, AUD)),
        Err(AuthError::InvalidKey(_))
    ));
    assert!(matches!(Issuer::hs256(b"short".to_vec(), ISS, AUD), Err(AuthError::InvalidKey(_))));
    for key in [
        KeyConfig::EdDsa { public_pem: "not a pem".to_owned() },
        KeyConfig::Rs256 { public_pem: "not a pem".to_owned() },
    ] {
        let config =
            AuthConfig { key, issuer: ISS.to_owned(), audience: AUD.to_owned(), leeway_secs: 30 };
        assert!(matches!(Verifier::new(config), Err(AuthError::InvalidKey(_))));
    }
    assert!(
        Issuer::new(SigningKeyConfig::EdDsa { private_pem: "not a pem".to_owned() }, ISS, AUD)
            .is_err()
    );
}

#[test]
fn debug_output_hides_secrets() {
    let config = AuthConfig::hs256(SECRET, ISS, AUD);
    let text = format!("{config:?} {:?}", Verifier::new(config.clone()).unwrap());
    assert!(!text.contains("test-secret"), "{text}");
}
