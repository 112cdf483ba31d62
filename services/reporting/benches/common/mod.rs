//! What the benches share: the tokens' secret, numbers from the environment, and the feed read
//! over HTTP page after page.

use std::sync::Arc;
use std::time::Duration;

use auth::{AuthConfig, Issuer, Role, Verifier};

/// The secret the benches' tokens are signed with.
const SECRET: &[u8] = b"reporting-bench-secret-at-least-32-bytes";

/// The number the environment variable `name` holds, or `default`.
pub fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// What checks the benches' tokens.
pub fn verifier() -> Arc<Verifier> {
    Arc::new(Verifier::new(AuthConfig::hs256(SECRET, "procgate", "procgate")).unwrap())
}

/// An auditor's token, good for `ttl`.
pub fn auditor_token(ttl: Duration) -> String {
    Issuer::hs256(SECRET, "procgate", "procgate").unwrap().issue("bench", &[Role::Auditor], ttl)
}

/// Of a page of the feed, only what paging needs (serde still checks the whole body, without
/// building it).
#[derive(serde::Deserialize)]
struct Cursor {
    next_after: u64,
}

/// Reads `GET /v1/events` at `base` in pages of 1000 until the log's `head`; returns the bytes
/// read.
pub async fn read_feed(client: &reqwest::Client, base: &str, token: &str, head: u64) -> usize {
    let (mut after, mut bytes) = (0u64, 0usize);
    while after < head {
        let body = client
            .get(format!("{base}/v1/events?after={after}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        bytes += body.len();
        let page: Cursor = serde_json::from_slice(&body).unwrap();
        after = page.next_after;
    }
    bytes
}
