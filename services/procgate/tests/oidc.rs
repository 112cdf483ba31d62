//! The binary with tokens from the district's identity provider: `serve` checks them with the
//! keys of a real OpenID provider (panva's `oidc-provider`, run from the script in
//! `crates/auth/tests/oidc`) found from `PROCGATE_OIDC_ISSUER`; `token` refuses to sign.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod support;

use support::{Running, start_provider};

const AUDIENCE: &str = "urn:procgate";
/// The secret of the provider script's clients.
const CLIENT_SECRET: &str = "test-client-secret-not-a-real-one";

fn procgate(args: &[&str], data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_procgate"));
    command
        .args(args)
        .env_remove("PROCGATE_DATABASE_URL")
        .env_remove("PROCGATE_JWT_SECRET")
        .env_remove("PROCGATE_JWKS_URL")
        .env("PROCGATE_DATA_DIR", data_dir)
        .env("PROCGATE_JWT_AUDIENCE", AUDIENCE);
    command
}

#[test]
fn token_says_tokens_come_from_the_identity_provider() {
    let dir = tempfile::tempdir().unwrap();
    let out = procgate(&["token", "--role", "it_staff", "--subject", "me"], dir.path())
        .env("PROCGATE_OIDC_ISSUER", "https://login.district.example/realms/staff")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tokens come from the district's identity provider"), "{err}");
    assert!(err.contains("https://login.district.example/realms/staff"), "{err}");
    assert!(!dir.path().join("jwt-secret").exists(), "no secret is made for nothing");
}

#[tokio::test]
async fn serve_checks_tokens_with_the_identity_providers_keys() {
    let keys = tempfile::tempdir().unwrap();
    let (_provider, issuer) = start_provider(keys.path(), &[]);
    let data = tempfile::tempdir().unwrap();
    let listen = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let _server = Running(
        procgate(&["serve", "--listen", &listen], data.path())
            .env("PROCGATE_OIDC_ISSUER", &issuer)
            .env("PROCGATE_OIDC_ROLES_CLAIM", "realm_access.roles")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{issuer}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id=finance-system&client_secret={CLIENT_SECRET}\
             &resource=urn%3Aprocgate"
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The server is up once it answers; its keys arrive in the background just after.
    let catalog = format!("http://{listen}/v1/catalog");
    let mut last = String::new();
    for _ in 0..300 {
        if let Ok(res) = http.get(&catalog).bearer_auth(&token).send().await {
            let status = res.status();
            if status == 200 {
                last.clear();
                break;
            }
            last = format!("{status}: {}", res.text().await.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.is_empty(), "the provider's token was not accepted: {last}");

    // finance-system's `roles` claim says finance, its `realm_access.roles` auditor: the
    // anchors are for auditors, so the roles came from the configured claim.
    let res = http
        .get(format!("http://{listen}/v1/audit/anchors"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    let res = http.get(&catalog).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("identity provider"), "{body}");
    let forged = format!("{}x", &token[..token.len() - 1]);
    let res = http.get(&catalog).bearer_auth(forged).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
