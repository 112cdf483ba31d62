//! `procgate import statement FILE`: sends a card statement to a running gate, with a
//! progress bar while the file goes up.
//!
//! It talks HTTP, as `demo` does, rather than writing to the store: the gate's import is the
//! one place a statement is checked, classified, reconciled and appended atomically (with the
//! cards, the policy and the purchase checks it reads), so the command cannot disagree with
//! the API, works against any deployment (the all-in-one, or the gate behind a load
//! balancer), and its writes carry a token's identity in their metadata like every other.
//! The file is streamed from disk as the request body, never read whole.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use auth::{Issuer, Role};
use clap::Args;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use tokio_util::io::ReaderStream;

/// How much of the file each chunk of the upload carries.
const CHUNK: usize = 256 * 1024;

/// `procgate import statement`.
#[derive(Debug, Args)]
pub struct StatementArgs {
    /// The statement file.
    pub file: PathBuf,
    /// How to read it: procgate (API.md's CSV), usbank, munis, or mapping.
    #[arg(long, default_value = "procgate")]
    pub profile: String,
    /// Check the whole file and show what importing it would do; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// For `--profile mapping`: FIELD=HEADER, the column holding each field (repeat), e.g.
    /// `--map reference="Txn Ref" --map amount=Amount`.
    #[arg(long = "map", value_name = "FIELD=HEADER")]
    pub map: Vec<String>,
    /// For `--profile mapping`: the delimiter (one character, `tab` or `pipe`).
    #[arg(long)]
    pub delimiter: Option<String>,
    /// For `--profile mapping`: the date format (strftime, e.g. %m/%d/%Y).
    #[arg(long)]
    pub date_format: Option<String>,
    /// The gate (default: the address `procgate serve` listens on, PROCGATE_LISTEN).
    #[arg(long)]
    pub url: Option<String>,
    /// A token to send (default: one signed here for an it_staff `--subject`, with the key
    /// `serve` uses).
    #[arg(long, env = "PROCGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Who the import is recorded as, when the token is signed here.
    #[arg(long, default_value = "procgate-import")]
    pub subject: String,
}

/// The request's query string: the profile, the dry run and a mapping's columns.
pub fn query(args: &StatementArgs) -> anyhow::Result<Vec<(String, String)>> {
    let mut query = vec![("profile".to_owned(), args.profile.clone())];
    if args.dry_run {
        query.push(("dry_run".into(), "true".into()));
    }
    for (name, value) in [("delimiter", &args.delimiter), ("date_format", &args.date_format)] {
        if let Some(value) = value {
            query.push((name.into(), value.clone()));
        }
    }
    for pair in &args.map {
        let Some((field, header)) = pair.split_once('=') else {
            bail!("--map {pair:?}: write it as FIELD=HEADER, e.g. reference=\"Txn Ref\"");
        };
        query.push((field.trim().to_owned(), header.trim().to_owned()));
    }
    Ok(query)
}

/// Sends the statement and prints what the gate answered; an error when it refused it.
pub async fn run(args: StatementArgs, url: String, issuer: Option<Issuer>) -> anyhow::Result<()> {
    let token = match (&args.token, issuer) {
        (Some(token), _) => token.clone(),
        (None, Some(issuer)) => {
            issuer.issue(&args.subject, &[Role::ItStaff], Duration::from_secs(3600))
        }
        (None, None) => bail!("no token: set PROCGATE_TOKEN, or the JWT settings `serve` uses"),
    };
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().await?.len();
    let bar = ProgressBar::new(size).with_style(ProgressStyle::with_template(
        "  {msg:12} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )?);
    bar.set_message("uploading");
    let progress = bar.clone();
    // The file as a stream of chunks, read as the request body is sent.
    let chunks = ReaderStream::with_capacity(file, CHUNK).map(move |chunk| {
        if let Ok(chunk) = &chunk {
            progress.inc(chunk.len() as u64);
        }
        chunk
    });
    let endpoint = format!("{}/v1/card-statements", url.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3600)).build()?;
    let endpoint = reqwest::Url::parse_with_params(&endpoint, &query(&args)?)
        .with_context(|| format!("{url} is not a URL"))?;
    let response = client
        .post(endpoint)
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let ticker = bar.clone();
    let spin = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if ticker.position() >= ticker.length().unwrap_or(0) {
                ticker.set_message("reconciling");
                ticker.tick();
            }
        }
    });
    let response = response.await.with_context(|| format!("no gate answers at {url}"));
    spin.abort();
    bar.finish_and_clear();
    let response = response?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        print_answer(&args, &body);
        return Ok(());
    }
    if let Some(errors) = body["errors"].as_array() {
        eprintln!("The statement was refused; nothing was imported:");
        for e in errors {
            let line = e["line"].as_u64().map_or(String::new(), |l| format!("line {l}: "));
            eprintln!(
                "  {line}{}: {}",
                e["field"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            );
        }
        let total = body["error_count"].as_u64().unwrap_or(errors.len() as u64);
        if total > errors.len() as u64 {
            eprintln!("  … {} problems in all", total);
        }
    }
    bail!("{status}: {}", body["detail"].as_str().unwrap_or("the gate refused the statement"))
}

fn print_answer(args: &StatementArgs, a: &Value) {
    let n = |k: &str| a[k].as_u64().unwrap_or(0);
    let verb = if args.dry_run { "would record" } else { "recorded" };
    println!(
        "{}: {} rows, {} transactions; {verb} {} ({} already recorded before)",
        args.file.display(),
        n("rows"),
        n("transactions"),
        n("recorded"),
        n("already_recorded"),
    );
    println!(
        "  matched {}, ambiguous (IT chooses) {}, unchecked technology {}, not technology {}, credits {}",
        n("matched"),
        n("ambiguous"),
        n("unchecked_technology"),
        n("not_technology"),
        n("credits"),
    );
    if !args.dry_run && n("unchecked_technology") > 0 {
        println!("  IT's outreach queue: GET /v1/outreach");
    }
}
