//! `procgate`: the command line of the district's technology-purchase gate.

mod settings;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auth::Role;
use clap::{Args, Parser, Subcommand, ValueEnum};
use web::{Application, Service};

use settings::{JwtSettings, StoreSettings};

#[derive(Debug, Parser)]
#[command(name = "procgate", version, about = "The school district's technology-purchase gate")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the services: all of them in one process, or the one named.
    Serve(Serve),
    /// Create or update the event log's tables, then exit.
    Migrate {
        #[command(flatten)]
        store: StoreSettings,
    },
    /// Print a signed token for the configured key.
    Token(Token),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServiceName {
    Gate,
    Reporting,
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
    #[arg(long, env = "PROCGATE_WORKERS")]
    workers: Option<usize>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "PROCGATE_LOG_JSON", default_value_t = false)]
    log_json: bool,
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    jwt: JwtSettings,
}

#[derive(Debug, Args)]
struct Token {
    /// A role the token grants (repeat for several): finance, it_staff, auditor, admin.
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
        Command::Serve(serve) => run_serve(serve).await,
        Command::Migrate { store } => {
            let store = store.open().await?;
            println!(
                "the {} event log is migrated (head at {})",
                store.backend(),
                store.head().await?
            );
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

async fn run_serve(serve: Serve) -> anyhow::Result<()> {
    web::init_tracing(serve.log_json);
    let store = serve.store.open().await?;
    let (verifier, created) = serve.jwt.verifier(&serve.store.data_dir)?;
    let wanted = |name| serve.service.is_none_or(|s| s == name);
    let mut services: Vec<Arc<dyn Service>> = Vec::new();
    if wanted(ServiceName::Gate) {
        services.push(Arc::new(gate::Gate::start(store.clone(), verifier.clone()).await?));
    }
    if wanted(ServiceName::Reporting) {
        services
            .push(Arc::new(reporting::Reporting::start(store.clone(), verifier.clone()).await?));
    }
    let listener = TcpListener::bind(&serve.listen)
        .with_context(|| format!("cannot listen on {}", serve.listen))?;
    let address = listener.local_addr()?;
    let ready_store = store.clone();
    let ready = Arc::new(move || {
        let store = ready_store.clone();
        async move {
            store
                .ping()
                .await
                .map_err(|e| web::NotReady::new("the event log does not answer").with_cause(e))
        }
    });
    let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
    let app = Application::build(listener, services, ready, serve.workers)?;

    println!(
        "procgate ({}) on the {} event log, listening on http://{address}",
        names.join(", "),
        store.backend()
    );
    println!("  API docs:  http://{address}/docs");
    if created {
        println!("  created a JWT secret in {}", serve.store.data_dir.display());
    }
    if serve.jwt.jwt_secret.is_none() && serve.jwt.jwt_public_key_file.is_none() {
        println!(
            "  a token:   cargo run -p procgate -- token --role it_staff --subject you@district.org \
             (same PROCGATE_DATA_DIR)"
        );
    }
    app.run_until_stopped().await?;
    println!("procgate stopped");
    Ok(())
}
