//! Settings: environment variables with the `PROCGATE_` prefix, mirrored by flags.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use auth::{AuthConfig, Issuer, KeyConfig, OidcConfig, SigningKeyConfig, Verifier};
use base64::Engine;
use clap::{Args, ValueEnum};
use eventlog::Store;

mod console;
pub use console::{ConsoleSettings, ConsoleStart};

/// Where the event log is, and the key that seals its personal data.
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// Directory of the embedded store (and the generated JWT secret).
    #[arg(long, env = "PROCGATE_DATA_DIR", default_value = "./procgate-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL instead of the embedded store, e.g. postgres://user:pass@host/procgate.
    #[arg(long, env = "PROCGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The district's master key (32 bytes, base64: `openssl rand -base64 32`): it wraps each
    /// person's data key, which seals their personal data in the log. Every instance needs the
    /// same one, and losing it loses every sealed field. Default: the `master-key` file in the
    /// data directory, created on the first start (the embedded store only).
    #[arg(long, env = "PROCGATE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
}

const MASTER_KEY_FILE: &str = "master-key";

impl StoreSettings {
    /// Opens the store, running its migrations, with personal data sealed under the master
    /// key.
    pub async fn open(&self) -> anyhow::Result<Store> {
        let master = self.master_key(true)?;
        Ok(kernel::privacy::sealed(self.open_log().await?, master))
    }

    /// Opens a store that is there already, for an audit to read: an auditor pointed at the
    /// wrong place is told there is no log, and neither a log nor a master key is made there.
    pub async fn open_existing(&self, why: &str) -> anyhow::Result<Store> {
        self.ensure_exists(why)?;
        let master = self.master_key(false)?;
        Ok(kernel::privacy::sealed(self.open_log().await?, master))
    }

    /// Fails, saying what to set, when the embedded store is not where it is looked for (a
    /// PostgreSQL database is there or the connection says not).
    pub fn ensure_exists(&self, why: &str) -> anyhow::Result<()> {
        if self.database_url.is_some() {
            return Ok(());
        }
        let file = self.data_dir.join(eventlog::EMBEDDED_FILE);
        anyhow::ensure!(
            file.exists(),
            "there is no log to {why}: {} does not exist (set PROCGATE_DATA_DIR to the directory \
             `procgate serve` uses, or PROCGATE_DATABASE_URL)",
            file.display()
        );
        Ok(())
    }

    /// Opens the log as stored, without opening sealed fields: enough to migrate it or verify
    /// its chain (which covers the ciphertext).
    pub async fn open_log(&self) -> anyhow::Result<Store> {
        let what = match &self.database_url {
            Some(_) => "PostgreSQL (PROCGATE_DATABASE_URL)".to_owned(),
            None => format!("the embedded store in {}", self.data_dir.display()),
        };
        eventlog::open(self.database_url.as_deref(), &self.data_dir)
            .await
            .with_context(|| format!("cannot open {what}"))
    }

    /// The master key; on the embedded store without one set, the data directory's, made
    /// there first when `create`.
    fn master_key(&self, create: bool) -> anyhow::Result<eventlog::MasterKey> {
        let text = match &self.master_key {
            Some(key) => not_placeholder("PROCGATE_MASTER_KEY", key, MASTER_KEY_HOW)?,
            None if self.database_url.is_some() => bail!(
                "PROCGATE_MASTER_KEY is not set: on PostgreSQL every instance must open personal \
                 data with the same key (openssl rand -base64 32), so it cannot be generated \
                 per instance"
            ),
            None => {
                let path = self.data_dir.join(MASTER_KEY_FILE);
                if path.exists() {
                    read(&path)?
                } else if !create {
                    bail!(
                        "there is no master key in {} (set PROCGATE_MASTER_KEY to the key \
                         `procgate serve` uses): personal data cannot be opened without it",
                        path.display()
                    )
                } else {
                    let key = eventlog::MasterKey::generate().map_err(anyhow::Error::msg)?;
                    std::fs::create_dir_all(&self.data_dir)
                        .with_context(|| format!("cannot create {}", self.data_dir.display()))?;
                    write_private(&path, &key)?;
                    key
                }
            }
        };
        eventlog::MasterKey::parse(&text).map_err(|e| anyhow::anyhow!("PROCGATE_MASTER_KEY: {e}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Algorithm {
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    Rs256,
}

/// How tokens are checked (and, for `procgate token`, signed).
#[derive(Debug, Clone, Args)]
pub struct JwtSettings {
    /// The algorithm tokens must use; never taken from the token itself.
    #[arg(long, env = "PROCGATE_JWT_ALGORITHM", value_enum, default_value = "HS256")]
    pub jwt_algorithm: Algorithm,
    /// HS256 shared secret (at least 32 bytes). Without it (and without a public key) a random
    /// secret is created in the data directory on first start, on the embedded store only: on
    /// PostgreSQL every instance must share it, so it must be set.
    #[arg(long, env = "PROCGATE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// EdDSA or RS256: a PEM file with the public key that verifies tokens.
    #[arg(long, env = "PROCGATE_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// EdDSA or RS256: a PEM file with the private key, for `procgate token` only.
    #[arg(long, env = "PROCGATE_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
    /// The `iss` tokens must carry.
    #[arg(long, env = "PROCGATE_JWT_ISSUER", default_value = "procgate")]
    pub jwt_issuer: String,
    /// The `aud` tokens must carry.
    #[arg(long, env = "PROCGATE_JWT_AUDIENCE", default_value = "procgate")]
    pub jwt_audience: String,
    /// The district's identity provider (its OpenID Connect issuer URL): tokens are then
    /// verified with the keys it publishes (found by discovery) and must carry it as `iss`;
    /// the keys above are not used, and `procgate token` signs none.
    #[arg(long, env = "PROCGATE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The identity provider's JWKS URL, instead of discovery (`iss` is then
    /// PROCGATE_OIDC_ISSUER, or PROCGATE_JWT_ISSUER when that is unset).
    #[arg(long, env = "PROCGATE_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The claim of the identity provider's tokens holding procgate roles: a name or a dotted
    /// path (`realm_access.roles`); a list of strings or one space-separated string.
    #[arg(long, env = "PROCGATE_OIDC_ROLES_CLAIM", default_value = "roles")]
    pub oidc_roles_claim: String,
}

const SECRET_FILE: &str = "jwt-secret";

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A setting given a non-blank value.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl JwtSettings {
    /// The identity provider's settings, when tokens come from one (PROCGATE_OIDC_ISSUER or
    /// PROCGATE_JWKS_URL set).
    pub fn oidc(&self) -> Option<OidcConfig> {
        let issuer = given(&self.oidc_issuer);
        let config = match (issuer, given(&self.jwks_url)) {
            (None, None) => return None,
            (Some(issuer), None) => OidcConfig::discover(issuer, &self.jwt_audience),
            (issuer, Some(jwks)) => {
                OidcConfig::jwks(jwks, issuer.unwrap_or(&self.jwt_issuer), &self.jwt_audience)
            }
        };
        Some(OidcConfig { roles_claim: self.oidc_roles_claim.clone(), ..config })
    }

    /// The HS256 secret: configured, or the one in the data directory (created when asked,
    /// but never for a store instances share: `shared`, PostgreSQL). Returns whether it was
    /// created now.
    fn secret(
        &self,
        data_dir: &Path,
        create: bool,
        shared: bool,
    ) -> anyhow::Result<(Vec<u8>, bool)> {
        if let Some(secret) = &self.jwt_secret {
            // The example's value is published: anyone could sign an administrator's token.
            let secret = not_placeholder("PROCGATE_JWT_SECRET", secret, SECRET_HOW)?;
            return Ok((secret.into_bytes(), false));
        }
        let path = self.secret_file(data_dir);
        if path.exists() {
            return Ok((read(&path)?.trim().as_bytes().to_vec(), false));
        }
        if !create {
            bail!(
                "no JWT secret: {} does not exist. Use the PROCGATE_JWT_SECRET (or the \
                 PROCGATE_DATA_DIR) that `procgate serve` uses: serve creates the file on its \
                 first start on the embedded store; on PostgreSQL the secret is set",
                path.display()
            );
        }
        if shared {
            // Each instance would make its own, and refuse the tokens of every other.
            bail!(
                "PROCGATE_JWT_SECRET is not set: on PostgreSQL every instance must verify tokens \
                 with the same secret (openssl rand -base64 48), so it cannot be generated per \
                 instance"
            );
        }
        Ok((new_secret_file(data_dir, &path)?.into_bytes(), true))
    }

    /// The file holding the generated HS256 secret: `jwt-secret` in the data directory, one
    /// line of URL-safe base64 whose text (not its decoding) is the secret.
    pub fn secret_file(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(SECRET_FILE)
    }

    /// Where tokens' signing key comes from, in words, for error messages.
    pub fn key_source(&self, data_dir: &Path) -> String {
        match (self.jwt_algorithm, &self.jwt_secret) {
            (Algorithm::Hs256, Some(_)) => "PROCGATE_JWT_SECRET".to_owned(),
            (Algorithm::Hs256, None) => self.secret_file(data_dir).display().to_string(),
            _ => "PROCGATE_JWT_PRIVATE_KEY_FILE".to_owned(),
        }
    }

    /// The verifier the services use. Returns whether a secret was created now. With the
    /// identity provider's settings, its keys are fetched in the background on the current
    /// tokio runtime (tokens are answered 503 until they are there) and refetched when it
    /// rotates them.
    /// On a store instances share (`shared`, PostgreSQL), an HS256 secret must be set.
    pub fn verifier(&self, data_dir: &Path, shared: bool) -> anyhow::Result<(Arc<Verifier>, bool)> {
        if let Some(config) = self.oidc() {
            let keys_from = match &config.jwks_url {
                Some(url) => url.clone(),
                None => format!("discovery from {}", config.issuer),
            };
            tracing::info!(
                keys = %keys_from,
                issuer = %config.issuer,
                audience = %config.audience,
                roles_claim = %config.roles_claim,
                "tokens are verified with the identity provider's keys"
            );
            let verifier = Verifier::oidc(config)
                .context("check PROCGATE_OIDC_ISSUER and PROCGATE_JWKS_URL")?;
            return Ok((Arc::new(verifier), false));
        }
        let (key, created) = match self.jwt_algorithm {
            Algorithm::Hs256 => {
                let (secret, created) = self.secret(data_dir, true, shared)?;
                (KeyConfig::Hs256 { secret }, created)
            }
            Algorithm::EdDsa | Algorithm::Rs256 => {
                let path = self.jwt_public_key_file.as_ref().context(
                    "EdDSA and RS256 need PROCGATE_JWT_PUBLIC_KEY_FILE (a PEM public key)",
                )?;
                let public_pem = read(path)?;
                let key = if self.jwt_algorithm == Algorithm::EdDsa {
                    KeyConfig::EdDsa { public_pem }
                } else {
                    KeyConfig::Rs256 { public_pem }
                };
                (key, false)
            }
        };
        let config = AuthConfig {
            key,
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            leeway_secs: 30,
        };
        let verifier = Verifier::new(config).context("invalid JWT settings")?;
        Ok((Arc::new(verifier), created))
    }

    /// The issuer for `procgate token` (and the demo and import): only for procgate's own
    /// keys; with an identity provider, tokens come from it.
    pub fn issuer(&self, data_dir: &Path) -> anyhow::Result<Issuer> {
        if let Some(config) = self.oidc() {
            let provider = match given(&self.oidc_issuer) {
                Some(issuer) => format!("PROCGATE_OIDC_ISSUER={issuer}"),
                None => format!("PROCGATE_JWKS_URL={}", config.jwks_url.unwrap_or_default()),
            };
            bail!(
                "tokens come from the district's identity provider ({provider}): get an access \
                 token from it for the audience {} with procgate roles in its `{}` claim. \
                 procgate signs tokens only with its own keys, when PROCGATE_OIDC_ISSUER and \
                 PROCGATE_JWKS_URL are unset",
                config.audience,
                config.roles_claim
            );
        }
        let key = match self.jwt_algorithm {
            Algorithm::Hs256 => {
                SigningKeyConfig::Hs256 { secret: self.secret(data_dir, false, false)?.0 }
            }
            Algorithm::EdDsa | Algorithm::Rs256 => {
                let path = self
                    .jwt_private_key_file
                    .as_ref()
                    .context("signing EdDSA or RS256 tokens needs PROCGATE_JWT_PRIVATE_KEY_FILE")?;
                let private_pem = read(path)?;
                if self.jwt_algorithm == Algorithm::EdDsa {
                    SigningKeyConfig::EdDsa { private_pem }
                } else {
                    SigningKeyConfig::Rs256 { private_pem }
                }
            }
        };
        Issuer::new(key, &self.jwt_issuer, &self.jwt_audience).context("invalid JWT settings")
    }
}

const MASTER_KEY_HOW: &str = "32 random bytes in base64 (openssl rand -base64 32)";
const SECRET_HOW: &str = "a long random secret (openssl rand -base64 48)";

/// A secret's value, refused while it is still `procgate.env.example`'s published
/// placeholder; `real` says what to set instead.
fn not_placeholder(var: &str, value: &str, real: &str) -> anyhow::Result<String> {
    if value.contains("replace-me") {
        bail!("{var} is still the example's placeholder: set {real}");
    }
    Ok(value.to_owned())
}

/// A new random secret (48 bytes, URL-safe base64) written to `path` in `dir`, readable by
/// its owner only.
fn new_secret_file(dir: &Path, path: &Path) -> anyhow::Result<String> {
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_private(path, &secret)?;
    Ok(secret)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file =
        options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// The URL of a server listening on `listen` (`host:port`), as seen from this machine: a
/// wildcard address (`0.0.0.0`, `[::]`) is reached on loopback.
pub fn url_of_listen(listen: &str) -> String {
    let listen = listen.trim();
    let reachable = if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = listen.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        listen.to_owned()
    };
    format!("http://{reachable}")
}

/// Webhook deliveries.
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// The district's webhook key (at least 32 characters): every endpoint's signing secret is
    /// derived from it, so every instance must have the same. Default: the `webhook-key` file
    /// in the data directory, created on the first start.
    #[arg(long, env = "PROCGATE_WEBHOOK_KEY", hide_env_values = true)]
    pub webhook_key: Option<String>,
    /// This instance's name on delivery leases: unique among running instances, stable across
    /// restarts of one (default: the host name and the listen address).
    #[arg(long, env = "PROCGATE_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Allow webhook URLs that are `http`, or private, loopback or link-local addresses (only
    /// on a closed network: it lets API callers make the server reach inside).
    #[arg(long, env = "PROCGATE_WEBHOOKS_ALLOW_PRIVATE", default_value_t = false)]
    pub webhooks_allow_private: bool,
    /// Whether this instance delivers to webhook endpoints (every instance serves the API).
    #[arg(long, env = "PROCGATE_WEBHOOKS_DELIVER", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhooks_deliver: bool,
}

const WEBHOOK_KEY_FILE: &str = "webhook-key";

impl WebhookSettings {
    /// The notification settings of an instance listening on `listen`. Returns whether the
    /// key file was created now.
    pub fn notify(
        &self,
        store: &StoreSettings,
        listen: &str,
    ) -> anyhow::Result<(reporting::notify::Settings, bool)> {
        let data_dir = &store.data_dir;
        let (key, created) = match &self.webhook_key {
            Some(key) => (not_placeholder("PROCGATE_WEBHOOK_KEY", key, SECRET_HOW)?, false),
            None if store.database_url.is_some() => bail!(
                "PROCGATE_WEBHOOK_KEY is not set: on PostgreSQL every instance must sign \
                 webhooks with the same key (openssl rand -base64 48), so it cannot be generated \
                 per instance"
            ),
            None => {
                let path = data_dir.join(WEBHOOK_KEY_FILE);
                if path.exists() {
                    (read(&path)?.trim().to_owned(), false)
                } else {
                    (new_secret_file(data_dir, &path)?, true)
                }
            }
        };
        let key = reporting::notify::WebhookKey::new(key.as_bytes())
            .map_err(|e| anyhow::anyhow!("PROCGATE_WEBHOOK_KEY: {e}"))?;
        let instance = self.instance_id.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "procgate".to_owned());
            format!("{host}/{listen}")
        });
        let mut settings = reporting::notify::Settings::new(key, instance);
        if self.webhooks_allow_private {
            settings.targets = reporting::notify::Targets::AllowPrivate;
        }
        settings.deliver = self.webhooks_deliver;
        Ok((settings, created))
    }
}

/// Notification e-mail through the district's relay (off unless a host is set).
#[derive(Debug, Clone, Args)]
pub struct SmtpSettings {
    /// The SMTP relay's host name; e-mail is off without it.
    #[arg(long, env = "PROCGATE_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// Its port (default: 465 with `tls`, else 587).
    #[arg(long, env = "PROCGATE_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// `starttls` (required), `tls` (SMTPS) or `none` (a relay on a closed network).
    #[arg(long, env = "PROCGATE_SMTP_SECURITY", default_value = "starttls", value_parser = ["starttls", "tls", "none"])]
    pub smtp_security: String,
    /// The user name, when the relay asks for one.
    #[arg(long, env = "PROCGATE_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// The password that goes with it.
    #[arg(long, env = "PROCGATE_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// The sender of notification e-mails.
    #[arg(long, env = "PROCGATE_MAIL_FROM", default_value = "procgate <procgate@localhost>")]
    pub mail_from: String,
    /// IT staff's addresses, comma-separated: held purchases, clock warnings and breaches.
    #[arg(long, env = "PROCGATE_NOTIFY_IT", value_delimiter = ',')]
    pub notify_it: Vec<String>,
    /// The only domains e-mail goes to, comma-separated (subdomains included); empty: any.
    #[arg(long, env = "PROCGATE_MAIL_DOMAINS", value_delimiter = ',')]
    pub mail_domains: Vec<String>,
}

impl SmtpSettings {
    /// The mail settings, when a relay is set.
    pub fn mail(
        &self,
        instance: &str,
    ) -> anyhow::Result<Option<reporting::notify::mail::MailSettings>> {
        use reporting::notify::mail::{MailSettings, SmtpSecurity};
        let Some(host) = &self.smtp_host else { return Ok(None) };
        let (security, port) = match self.smtp_security.as_str() {
            "tls" => (SmtpSecurity::Tls, 465),
            "none" => (SmtpSecurity::None, 587),
            _ => (SmtpSecurity::StartTls, 587),
        };
        let credentials = match (&self.smtp_username, &self.smtp_password) {
            (Some(user), Some(password)) => Some((user.clone(), password.clone())),
            (None, None) => None,
            _ => bail!("PROCGATE_SMTP_USERNAME and PROCGATE_SMTP_PASSWORD go together"),
        };
        let it_staff: Vec<String> =
            self.notify_it.iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect();
        for address in &it_staff {
            events::values::Email::parse(address)
                .map_err(|e| anyhow::anyhow!("PROCGATE_NOTIFY_IT: `{address}`: {e}"))?;
        }
        let settings = MailSettings {
            host: host.clone(),
            port: self.smtp_port.unwrap_or(port),
            security,
            credentials,
            from: self.mail_from.clone(),
            it_staff,
            instance: instance.to_owned(),
            allowed_domains: self
                .mail_domains
                .iter()
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty())
                .collect(),
        };
        settings.sender().map_err(|e| anyhow::anyhow!("PROCGATE_MAIL_FROM: {e}"))?;
        Ok(Some(settings))
    }
}

/// Signed anchors of the hash chain.
#[derive(Debug, Clone, Args)]
pub struct AnchorSettings {
    /// The Ed25519 private key (PKCS#8 PEM) that signs anchors. Default: `anchor-key.pem` in
    /// the data directory, created on the embedded store's first start; on PostgreSQL anchors
    /// need this file (the same in every instance).
    #[arg(long, env = "PROCGATE_ANCHOR_KEY_FILE")]
    pub anchor_key_file: Option<PathBuf>,
    /// How often the head is anchored while the log moves, in minutes (0: on request only).
    #[arg(long, env = "PROCGATE_ANCHOR_INTERVAL_MINUTES", default_value_t = 60)]
    pub anchor_interval_minutes: u64,
}

const ANCHOR_KEY_FILE: &str = "anchor-key.pem";

impl AnchorSettings {
    /// The anchor key: the configured file, or the data directory's (created when `create` and
    /// on the embedded store). `None` on PostgreSQL without a file. Returns whether it was
    /// created now.
    pub fn key(
        &self,
        store: &StoreSettings,
        create: bool,
    ) -> anyhow::Result<(Option<reporting::anchors::AnchorKey>, bool)> {
        use reporting::anchors::AnchorKey;
        let parse = |path: &Path| -> anyhow::Result<AnchorKey> {
            AnchorKey::from_pem(&read(path)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        };
        if let Some(path) = &self.anchor_key_file {
            return Ok((Some(parse(path)?), false));
        }
        if store.database_url.is_some() {
            return Ok((None, false));
        }
        let path = store.data_dir.join(ANCHOR_KEY_FILE);
        if path.exists() {
            return Ok((Some(parse(&path)?), false));
        }
        if !create {
            return Ok((None, false));
        }
        let key = AnchorKey::generate().map_err(|e| anyhow::anyhow!(e))?;
        std::fs::create_dir_all(&store.data_dir)
            .with_context(|| format!("cannot create {}", store.data_dir.display()))?;
        write_private(&path, &key.to_pem().map_err(|e| anyhow::anyhow!(e))?)?;
        Ok((Some(key), true))
    }

    pub fn interval(&self) -> Option<std::time::Duration> {
        (self.anchor_interval_minutes > 0)
            .then(|| std::time::Duration::from_secs(self.anchor_interval_minutes * 60))
    }
}

/// Per-subject rate limits (OWASP API4).
#[derive(Debug, Clone, Args)]
pub struct RateSettings {
    /// Writes (POST, PUT, DELETE) per subject and minute, also the burst allowed (0: no limit).
    #[arg(long, env = "PROCGATE_RATE_WRITES_PER_MINUTE", default_value_t = 3000)]
    pub rate_writes_per_minute: u32,
    /// Reports, verifications and replays per subject and minute (0: no limit).
    #[arg(long, env = "PROCGATE_RATE_EXPENSIVE_PER_MINUTE", default_value_t = 120)]
    pub rate_expensive_per_minute: u32,
}

impl RateSettings {
    pub fn limits(&self) -> kernel::http::RateLimits {
        kernel::http::RateLimits::per_minute(
            self.rate_writes_per_minute,
            self.rate_expensive_per_minute,
        )
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::SmtpSettings;

    #[derive(Debug, Parser)]
    struct Smtp {
        #[command(flatten)]
        smtp: SmtpSettings,
    }

    fn smtp(args: &[&str]) -> SmtpSettings {
        Smtp::try_parse_from(std::iter::once("procgate").chain(args.iter().copied()))
            .expect("the arguments parse")
            .smtp
    }

    #[test]
    fn given_a_relay_then_the_port_follows_its_security_unless_set() {
        let port = |args: &[&str]| smtp(args).mail("a").unwrap().unwrap().port;
        assert_eq!(port(&["--smtp-host", "relay"]), 587);
        assert_eq!(port(&["--smtp-host", "relay", "--smtp-security", "tls"]), 465);
        assert_eq!(port(&["--smtp-host", "relay", "--smtp-security", "none"]), 587);
        assert_eq!(
            port(&["--smtp-host", "relay", "--smtp-security", "tls", "--smtp-port", "2465"]),
            2465
        );
    }

    #[test]
    fn given_a_sender_that_is_no_mailbox_then_it_is_refused_at_start() {
        for bad in ["noreply", "IT <noreply@district.org"] {
            let error = smtp(&["--smtp-host", "relay", "--mail-from", bad]).mail("a").unwrap_err();
            assert!(error.to_string().contains("PROCGATE_MAIL_FROM"), "{error}");
        }
        assert!(
            smtp(&["--smtp-host", "relay", "--mail-from", "IT <it@district.org>"])
                .mail("a")
                .is_ok()
        );
        assert!(smtp(&["--mail-from", "noreply"]).mail("a").unwrap().is_none(), "mail is off");
    }
}
