//! The IT staff console's settings: the services' URLs, the session key, and how people sign
//! in (one-time links, or the district's identity provider).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::{JwtSettings, StoreSettings, given, read, url_of_listen, write_private};

/// The IT staff console (`/console/`).
#[derive(Debug, Clone, Args)]
pub struct ConsoleSettings {
    /// The gate's base URL, for the console (default: this server's own address; set the
    /// three when the console runs apart, `procgate serve console`).
    #[arg(long, env = "PROCGATE_GATE_URL")]
    pub gate_url: Option<String>,
    /// Stakeholder relations' base URL, for the console (default: this server's own address).
    #[arg(long, env = "PROCGATE_STAKEHOLDERS_URL")]
    pub stakeholders_url: Option<String>,
    /// Reporting's base URL, for the console (default: this server's own address).
    #[arg(long, env = "PROCGATE_REPORTING_URL")]
    pub reporting_url: Option<String>,
    /// The URL browsers reach the server at (default: the listen address): the identity
    /// provider sends people back to `{it}/console/sign-in/callback`; https marks the session
    /// cookie `Secure`.
    #[arg(long, env = "PROCGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The file holding the key that encrypts and signs console sessions (the same file in
    /// every instance). Default: `console-key` in the data directory, created on first start.
    #[arg(long, env = "PROCGATE_CONSOLE_KEY_FILE")]
    pub console_key_file: Option<PathBuf>,
    /// Who the one-time sign-in link signs in (the embedded default's operator).
    #[arg(long, env = "PROCGATE_CONSOLE_OPERATOR", default_value = "operator")]
    pub console_operator: String,
    /// How long a console session lasts, in hours.
    #[arg(long, env = "PROCGATE_CONSOLE_SESSION_HOURS", default_value_t = 8)]
    pub console_session_hours: u64,
    /// The console's client id at the district's identity provider (with
    /// PROCGATE_OIDC_ISSUER): people sign in there (authorization code with PKCE).
    #[arg(long, env = "PROCGATE_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// The console's client secret, for a confidential client.
    #[arg(long, env = "PROCGATE_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// The scopes the console asks the provider for, space-separated (`openid` is always
    /// asked).
    #[arg(long, env = "PROCGATE_OIDC_SCOPES", default_value = "email profile")]
    pub oidc_scopes: String,
}

const CONSOLE_KEY_FILE: &str = "console-key";

/// What `serve` prints about the console.
#[derive(Debug)]
pub enum ConsoleStart {
    /// Served, people sign in with this one-time link path.
    Link(procgate_console::Console, String),
    /// Served, people sign in through the identity provider.
    Oidc(procgate_console::Console),
    /// Not served, and why.
    Off(String),
}

impl ConsoleSettings {
    /// The session key: the configured file's, or the data directory's (created).
    fn session_key(&self, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
        let path = match &self.console_key_file {
            Some(path) => path.clone(),
            None => data_dir.join(CONSOLE_KEY_FILE),
        };
        if path.exists() {
            let text = read(&path)?;
            let key = hex::decode(text.trim())
                .with_context(|| format!("{} does not hold a hex key", path.display()))?;
            anyhow::ensure!(key.len() >= 64, "{} holds fewer than 64 bytes", path.display());
            return Ok(key);
        }
        anyhow::ensure!(
            self.console_key_file.is_none(),
            "the console key file {} does not exist",
            path.display()
        );
        let mut key = vec![0u8; 64];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        write_private(&path, &hex::encode(&key))?;
        Ok(key)
    }

    /// The console for a server listening on `listen`, with the token settings of `jwt`.
    pub fn start(
        &self,
        listen: &str,
        store: &StoreSettings,
        jwt: &JwtSettings,
    ) -> anyhow::Result<ConsoleStart> {
        let own = url_of_listen(listen);
        let or_own = |url: &Option<String>| given(url).unwrap_or(&own).to_owned();
        let mut settings =
            procgate_console::Settings::one_server(&own, self.session_key(&store.data_dir)?);
        settings.gate_url = or_own(&self.gate_url);
        settings.stakeholders_url = or_own(&self.stakeholders_url);
        settings.reporting_url = or_own(&self.reporting_url);
        let public = given(&self.public_url).unwrap_or(&own).trim_end_matches('/').to_owned();
        settings.secure_cookies = public.starts_with("https://");
        settings.session_hours = self.console_session_hours.max(1);
        if let Some(oidc) = jwt.oidc() {
            // Tokens checked with a JWKS URL alone: the console has no provider to send people
            // to (it finds one by discovery from the issuer). The API serves on.
            let Some(issuer) = given(&jwt.oidc_issuer) else {
                return Ok(ConsoleStart::Off(
                    "the console signs people in through the identity provider \
                     PROCGATE_OIDC_ISSUER names; with PROCGATE_JWKS_URL alone it is off"
                        .into(),
                ));
            };
            let Some(client_id) = given(&self.oidc_client_id) else {
                return Ok(ConsoleStart::Off(
                    "set PROCGATE_OIDC_CLIENT_ID (the console's client at the identity provider) \
                     to sign people in to the console"
                        .into(),
                ));
            };
            let client =
                procgate_console::oidc::OidcClient::new(procgate_console::oidc::OidcSettings {
                    issuer: issuer.to_owned(),
                    client_id: client_id.to_owned(),
                    client_secret: given(&self.oidc_client_secret).map(str::to_owned),
                    redirect_url: format!("{public}/console/sign-in/callback"),
                    resource: Some(oidc.audience.clone()),
                    scopes: self.oidc_scopes.split_whitespace().map(str::to_owned).collect(),
                    roles_claim: oidc.roles_claim.clone(),
                })?;
            let console = procgate_console::Console::new(
                settings,
                procgate_console::SignIn::Oidc(Arc::new(client)),
            )?;
            return Ok(ConsoleStart::Oidc(console));
        }
        let issuer = match jwt.issuer(&store.data_dir) {
            Ok(issuer) => issuer,
            Err(e) => return Ok(ConsoleStart::Off(format!("no sign-in link: {e:#}"))),
        };
        let ttl = std::time::Duration::from_secs(settings.session_hours * 3600);
        let roles = vec![auth::Role::Admin, auth::Role::ItStaff, auth::Role::Auditor];
        let links =
            procgate_console::SignInLinks::new(issuer, self.console_operator.clone(), roles, ttl);
        let links = Arc::new(links);
        let path = procgate_console::SignInLinks::path(&links.create());
        let console =
            procgate_console::Console::new(settings, procgate_console::SignIn::Link(links))?;
        Ok(ConsoleStart::Link(console, format!("{public}{path}")))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{ConsoleSettings, ConsoleStart};
    use crate::settings::{JwtSettings, StoreSettings};

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        store: StoreSettings,
        #[command(flatten)]
        jwt: JwtSettings,
        #[command(flatten)]
        console: ConsoleSettings,
    }

    #[test]
    fn given_tokens_checked_by_a_jwks_url_alone_then_the_console_is_off_not_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let args = [
            "procgate",
            "--data-dir",
            data_dir,
            "--jwks-url",
            "https://idp.district.example/keys",
            "--oidc-client-id",
            "procgate-console",
        ];
        let serve = Serve::try_parse_from(args).expect("the arguments parse");
        let started = serve.console.start("127.0.0.1:8080", &serve.store, &serve.jwt).unwrap();
        assert!(matches!(started, ConsoleStart::Off(why) if why.contains("PROCGATE_OIDC_ISSUER")));
    }
}
