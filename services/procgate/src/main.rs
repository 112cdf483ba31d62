//! `procgate`: the command line of the district's technology-purchase gate.

mod demo;
mod import;
mod settings;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auth::Role;
use clap::{Args, Parser, Subcommand, ValueEnum};
use web::{Application, Service};

use settings::{JwtSettings, StoreSettings};

/// The services allocate many small values for a short time (JSON, the events each follower of
/// the log reads): mimalloc serves those faster than the system's allocator (README,
/// Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "procgate", version, about = "The school district's technology-purchase gate")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the services: all of them in one process, or the one named.
    Serve(Box<Serve>),
    /// Create or update the event log's tables, then exit.
    Migrate {
        #[command(flatten)]
        store: StoreSettings,
    },
    /// Print a signed token for the configured key.
    Token(Token),
    /// Fill a running procgate with a realistic district, through its HTTP API.
    Demo(DemoArgs),
    /// Rebuild the read models from the log (stop the services on this store first).
    Rebuild {
        /// Only this service's read models (default: all).
        #[arg(value_enum)]
        service: Option<ServiceName>,
        #[command(flatten)]
        store: StoreSettings,
    },
    /// What auditors do: verify the log, replay a purchase's decision history.
    #[command(subcommand)]
    Audit(Audit),
    /// Import files through a running server's API.
    #[command(subcommand)]
    Import(Import),
}

#[derive(Debug, Subcommand)]
enum Import {
    /// A card statement, checked whole and imported all or nothing (see `--profile`).
    Statement {
        #[command(flatten)]
        args: import::StatementArgs,
        /// The address `procgate serve` listens on, read as `serve` reads it.
        #[arg(long, env = "PROCGATE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        store: StoreSettings,
        #[command(flatten)]
        jwt: JwtSettings,
    },
}

#[derive(Debug, Subcommand)]
enum Audit {
    /// Recompute the hash chain of the whole log; exits non-zero if it is broken, or, with
    /// `--anchor`, if the log no longer holds what a saved anchor signed.
    Verify {
        #[command(flatten)]
        store: StoreSettings,
        /// Anchors saved from `GET /v1/audit/anchors` (that export, a list, or one anchor),
        /// checked against the log with the anchor key's public half.
        #[arg(long)]
        anchor: Option<std::path::PathBuf>,
        #[command(flatten)]
        anchors: settings::AnchorSettings,
    },
    /// Replay a purchase from the log: each event, who, when, and the state after it.
    Replay {
        /// The purchase id.
        #[arg(long)]
        purchase: uuid::Uuid,
        /// Only what was recorded up to this time (RFC 3339).
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
        /// Print JSON instead of a timeline.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreSettings,
    },
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// The server (the all-in-one, or a load balancer routing by path); default: the address
    /// `procgate serve` listens on (PROCGATE_LISTEN).
    #[arg(long)]
    url: Option<String>,
    /// The address `procgate serve` listens on, read as `serve` reads it.
    #[arg(long, env = "PROCGATE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The gate, when it runs apart (default: --url).
    #[arg(long)]
    gate_url: Option<String>,
    /// Stakeholder relations, when it runs apart (default: --url).
    #[arg(long)]
    stakeholders_url: Option<String>,
    /// Reporting, when it runs apart (default: --url).
    #[arg(long)]
    reporting_url: Option<String>,
    /// The same seed makes the same district.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// How many schools (at most 90).
    #[arg(long, default_value_t = 30)]
    schools: usize,
    /// How many purchase checks over the school year.
    #[arg(long, default_value_t = 300)]
    checks: usize,
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    jwt: JwtSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServiceName {
    Gate,
    Stakeholders,
    Reporting,
    Console,
}

#[derive(Debug, Args)]
struct Serve {
    /// Only this service (default: all).
    #[arg(value_enum)]
    service: Option<ServiceName>,
    /// The address to listen on.
    #[arg(long, env = "PROCGATE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PROCGATE_WORKERS", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    workers: Option<usize>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "PROCGATE_LOG_JSON", default_value_t = false)]
    log_json: bool,
    /// Erase conversation notes this many years after the conversation (every instance the
    /// same; default: kept). The rest of the conversation stays.
    #[arg(long, env = "PROCGATE_NOTES_RETENTION_YEARS", value_parser = clap::value_parser!(u32).range(1..=100))]
    notes_retention_years: Option<u32>,
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    jwt: JwtSettings,
    #[command(flatten)]
    webhooks: settings::WebhookSettings,
    #[command(flatten)]
    smtp: settings::SmtpSettings,
    #[command(flatten)]
    anchors: settings::AnchorSettings,
    #[command(flatten)]
    rates: settings::RateSettings,
    #[command(flatten)]
    console: settings::ConsoleSettings,
}

#[derive(Debug, Args)]
struct Token {
    /// A role the token grants (repeat for several): finance, it_staff, auditor, admin,
    /// integration.
    #[arg(long = "role", required = true, value_parser = parse_role)]
    roles: Vec<Role>,
    /// Who the token is for (the `sub` claim): a person or a finance system.
    #[arg(long)]
    subject: String,
    /// How long the token is valid, in hours.
    #[arg(long, default_value_t = 8)]
    hours: u64,
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    jwt: JwtSettings,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|_| format!("unknown role {s:?}: finance, it_staff, auditor or admin"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("procgate: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("procgate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(serve) => run_serve(*serve).await,
        Command::Migrate { store } => {
            let store = store.open_log().await?;
            println!(
                "the {} event log is migrated (head at {})",
                store.backend(),
                store.head().await?
            );
            Ok(())
        }
        Command::Demo(args) => {
            let issuer = args.jwt.issuer(&args.store.data_dir)?;
            let url = args.url.clone().unwrap_or_else(|| settings::url_of_listen(&args.listen));
            let or_url = |u: Option<String>| u.unwrap_or_else(|| url.clone());
            let urls = [
                or_url(args.gate_url.clone()),
                or_url(args.stakeholders_url.clone()),
                or_url(args.reporting_url.clone()),
            ];
            let demo = demo::Demo::new(urls, &issuer, args.seed, args.schools, args.checks)?;
            demo.preflight(&args.jwt.key_source(&args.store.data_dir)).await?;
            demo.run().await
        }
        Command::Import(Import::Statement { args, listen, store, jwt }) => {
            let url = args.url.clone().unwrap_or_else(|| settings::url_of_listen(&listen));
            let issuer = match args.token {
                Some(_) => None,
                None => Some(jwt.issuer(&store.data_dir)?),
            };
            import::run(args, url, issuer).await
        }
        Command::Rebuild { service, store } => {
            anyhow::ensure!(
                service != Some(ServiceName::Console),
                "the console keeps no read models: nothing to rebuild"
            );
            // Pointed at the wrong place, it says so rather than rebuild an empty store it made.
            let store = store.open_existing("rebuild").await?;
            rebuild(&*store, service).await
        }
        Command::Audit(Audit::Verify { store: settings, anchor, anchors }) => {
            // An auditor asking about a log that is not there is told so, not that it is
            // intact (and no empty store is made where it was looked for).
            settings.ensure_exists("verify")?;
            let store = settings.open_log().await?;
            let head = store.head().await?;
            anyhow::ensure!(
                head > 0,
                "the log holds no events: nothing to verify (is this the store `procgate serve` \
                 writes to?)"
            );
            let bar = progress_bar(head, "verifying");
            let report = reporting::verify_log(&*store, &|p| bar.set_position(p)).await?;
            bar.finish_and_clear();
            if report.ok {
                println!("the log is intact: {} events checked", report.checked);
                match anchor {
                    Some(file) => check_anchor_file(&*store, &file, &anchors, &settings).await,
                    None => Ok(()),
                }
            } else {
                anyhow::bail!(
                    "the log is broken at sequence {}: {} ({} events before it check out)",
                    report.first_bad_sequence.unwrap_or_default(),
                    report.problem.unwrap_or_default(),
                    report.checked
                )
            }
        }
        Command::Audit(Audit::Replay { purchase, as_of, json, store }) => {
            let store = store.open_existing("replay").await?;
            let replay = reporting::replay_purchase(&*store, purchase, as_of).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&replay)?);
            } else {
                print!("{}", reporting::render_timeline(&replay));
            }
            Ok(())
        }
        Command::Token(token) => {
            let issuer = token.jwt.issuer(&token.store.data_dir)?;
            let ttl = Duration::from_secs(token.hours.saturating_mul(3600));
            println!("{}", issuer.issue(&token.subject, &token.roles, ttl));
            Ok(())
        }
    }
}

fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{what} {{bar:40}} {{pos}}/{{len}} events ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Rebuilds the read models of one service, or of all, from position 0.
async fn rebuild(
    store: &dyn eventlog::EventStore,
    service: Option<ServiceName>,
) -> anyhow::Result<()> {
    let head = store.head().await?;
    let wanted = |name| service.is_none_or(|s| s == name);
    if wanted(ServiceName::Gate) {
        for projection in gate::projections() {
            let bar = progress_bar(head, &format!("gate {:<22}", projection.name()));
            eventlog::rebuild(store, &*projection, &|p| bar.set_position(p)).await?;
            bar.finish();
        }
    }
    if wanted(ServiceName::Stakeholders) {
        let bar = progress_bar(head, "stakeholder relations");
        stakeholders::rebuild(store, &|p| bar.set_position(p)).await?;
        bar.finish();
    }
    if wanted(ServiceName::Reporting) {
        let bar = progress_bar(head, "reports");
        reporting::rebuild(store, &|p| bar.set_position(p)).await?;
        bar.finish();
    }
    println!("rebuilt from {head} events in the log");
    Ok(())
}

/// `procgate audit verify --anchor FILE`.
async fn check_anchor_file(
    store: &dyn eventlog::EventStore,
    file: &std::path::Path,
    anchors: &settings::AnchorSettings,
    settings: &StoreSettings,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the anchors in {}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let list = match &json {
        serde_json::Value::Object(o) if o.contains_key("anchors") => json["anchors"].clone(),
        serde_json::Value::Array(_) => json.clone(),
        _ => serde_json::Value::Array(vec![json.clone()]),
    };
    let list: Vec<events::anchors::AnchorSigned> = serde_json::from_value(list)
        .with_context(|| format!("{} does not hold anchors", file.display()))?;
    anyhow::ensure!(!list.is_empty(), "{} holds no anchors: nothing to check", file.display());
    let (key, _) = anchors.key(settings, false)?;
    let key = key.context(
        "no anchor key to check the signatures with: set PROCGATE_ANCHOR_KEY_FILE (or the \
         PROCGATE_DATA_DIR that `procgate serve` uses)",
    )?;
    let check = reporting::anchors::check_anchors(store, &list, &[key.public()]).await?;
    if check.ok {
        println!(
            "the log holds what {} anchor(s) signed, up to sequence {}",
            check.checked,
            check.last_matching_sequence.unwrap_or_default()
        );
        Ok(())
    } else {
        anyhow::bail!("{}", check.problem.unwrap_or_default())
    }
}

async fn run_serve(serve: Serve) -> anyhow::Result<()> {
    web::init_tracing(serve.log_json);
    // The port first: a taken port is said before any store is created or migrated.
    let listener = TcpListener::bind(&serve.listen).with_context(|| {
        format!(
            "cannot listen on {} (is another procgate running? set PROCGATE_LISTEN or --listen)",
            serve.listen
        )
    })?;
    // The console alone keeps nothing: it reads and writes through the services' API.
    let console_only = serve.service == Some(ServiceName::Console);
    let store = if console_only { None } else { Some(serve.store.open().await?) };
    let log = || store.clone().context("the services need the event log");
    let shared = serve.store.database_url.is_some();
    let (verifier, created) = serve.jwt.verifier(&serve.store.data_dir, shared)?;
    kernel::http::limits::install(serve.rates.limits());
    let wanted = |name| serve.service.is_none_or(|s| s == name);
    let mut services: Vec<Arc<dyn Service>> = Vec::new();
    if wanted(ServiceName::Gate) {
        services.push(Arc::new(gate::Gate::start(log()?, verifier.clone()).await?));
    }
    if wanted(ServiceName::Stakeholders) {
        let settings =
            stakeholders::Settings { notes_retention_years: serve.notes_retention_years };
        let clock = kernel::Clock::system();
        let service =
            stakeholders::Stakeholders::start_configured(log()?, verifier.clone(), clock, settings);
        services.push(Arc::new(service.await?));
    }
    let mut webhook_key_created = false;
    let mut anchor_key_created = false;
    if wanted(ServiceName::Reporting) {
        let (notify, created) = serve.webhooks.notify(&serve.store, &serve.listen)?;
        webhook_key_created = created;
        let mail = serve.smtp.mail(&notify.instance)?;
        let mut reporting =
            reporting::Reporting::start(log()?, verifier.clone()).await?.with_notifications(notify);
        if let Some(mail) = mail {
            reporting = reporting.with_mail(mail)?;
        }
        let (anchor_key, created) = serve.anchors.key(&serve.store, true)?;
        anchor_key_created = created;
        match anchor_key {
            Some(key) => reporting = reporting.with_anchors(key, serve.anchors.interval()),
            None => tracing::warn!(
                "the log is not anchored: set PROCGATE_ANCHOR_KEY_FILE (an Ed25519 key in \
                 PKCS#8 PEM) to sign its head"
            ),
        }
        services.push(Arc::new(reporting));
    }
    let mut console_line = None;
    if wanted(ServiceName::Console) {
        console_line =
            Some(match serve.console.start(&serve.listen, &serve.store, &serve.jwt)? {
                settings::ConsoleStart::Link(console, link) => {
                    services.push(Arc::new(console));
                    format!("  console:   {link} (a one-time sign-in link)")
                }
                settings::ConsoleStart::Oidc(console) => {
                    services.push(Arc::new(console));
                    format!(
                        "  console:   {}/console/ (sign in through the identity provider)",
                        serve
                            .console
                            .public_url
                            .clone()
                            .unwrap_or_else(|| settings::url_of_listen(&serve.listen))
                    )
                }
                settings::ConsoleStart::Off(why) => format!("  console:   off: {why}"),
            });
    }
    let address = listener.local_addr()?;
    let ready_store = store.clone();
    let ready = Arc::new(move || {
        let store = ready_store.clone();
        async move {
            match store {
                Some(store) => store
                    .ping()
                    .await
                    .map_err(|e| web::NotReady::new("the event log does not answer").with_cause(e)),
                None => Ok(()),
            }
        }
    });
    let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
    let app = Application::build(listener, services, ready, serve.workers)?;

    match &store {
        Some(store) => println!(
            "procgate ({}) on the {} event log, listening on http://{address}",
            names.join(", "),
            store.backend()
        ),
        None => println!("procgate ({}) listening on http://{address}", names.join(", ")),
    }
    println!("  API docs:  http://{address}/docs");
    if let Some(line) = console_line {
        println!("{line}");
    }
    if created {
        println!(
            "  created the JWT secret {} (HS256; the file's text is the secret)",
            serve.jwt.secret_file(&serve.store.data_dir).display()
        );
    }
    if anchor_key_created {
        println!(
            "  created the anchor key {} (Ed25519; it signs anchors of the log's chain)",
            serve.store.data_dir.join("anchor-key.pem").display()
        );
    }
    if webhook_key_created {
        println!(
            "  created the webhook key {} (webhook secrets are derived from it)",
            serve.store.data_dir.join("webhook-key").display()
        );
    }
    if serve.jwt.jwt_secret.is_none()
        && serve.jwt.jwt_public_key_file.is_none()
        && serve.jwt.oidc().is_none()
    {
        println!(
            "  a token:   cargo run -p procgate -- token --role it_staff --subject you@district.org \
             (same PROCGATE_DATA_DIR)"
        );
    }
    app.run_until_stopped().await?;
    println!("procgate stopped");
    Ok(())
}
