//! `POST /v1/card-statements`: import a card statement, all or nothing.
//!
//! The body is the file itself, streamed: it flows chunk by chunk into a blocking task that
//! reads it with the profile's [`Layout`] (the `csv` crate, record by record) and checks each
//! row as it comes, so the file is never held whole; only the transactions it holds are.
//! Then, in order:
//!
//! 1. any bad row refuses the whole statement: 422 `invalid-statement` listing every error
//!    with its line and field;
//! 2. the streams of the statement's transactions are read (one round trip on PostgreSQL):
//!    those that exist were recorded by an earlier statement and are left out;
//! 3. the rest are classified and reconciled ([`plan`]) and appended with the statement's
//!    summary in **one** `append_streams`, each transaction's stream expected not to exist.
//!    If another import recorded one of them meanwhile, the append writes nothing and step 2
//!    runs again: a transaction is never counted twice, whatever runs at once.
//!
//! A dry run stops before the append and answers what the import would do. With an
//! `Idempotency-Key`, the statement's id is derived from the caller and the key: the same key
//! with the same file answers the first import again; with another file, 409.

mod record;
mod upload;

use actix_web::http::header;
use actix_web::web::{Payload, Query};
use actix_web::{HttpRequest, HttpResponse, post};
use auth::Role;
use chrono::NaiveDate;
use events::card::StatementImported;
use events::values::IdempotencyKey;
use kernel::ReadModel;
use kernel::http::{self, Reply, Roles};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::{ApiError, FieldError};

use self::record::{Recorded, record};
use self::upload::read_statement;
use crate::app::State;
use crate::domain::statements::{
    CardInfo, Collected, Collector, Context, Layout, Mapping, RowError, StatementFile,
};
use crate::read_models::{CardPurchases, Cards};

/// Finance systems, IT staff and admins import statements.
pub(crate) struct Importers;
impl Roles for Importers {
    const ROLES: &'static [Role] = &[Role::Finance, Role::ItStaff, Role::Admin];
}

/// A request to import, with its caller and the gate's state.
type Importing = kernel::http::Context<State, Importers>;

/// The largest statement file accepted, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 256 * 1024 * 1024;

/// Namespace of statement ids sent with an idempotency key: v5(namespace, subject ␀ key).
const STATEMENT_NAMESPACE: Uuid = Uuid::from_u128(0x3b8e_6a0c_91f4_4d27_8c5e_7a13_d2f0_9b64);

/// How to read the statement. An unknown parameter is a 400: a misspelled `dry_run` must not
/// import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// `procgate` (default), `usbank`, `munis`, or `mapping` (then name the columns below).
    #[param(pattern = "^(procgate|usbank|munis|mapping)$")]
    profile: Option<String>,
    /// `true`: answer what the import would do, and write nothing.
    dry_run: Option<bool>,
    /// `mapping`: one character, or `tab` or `pipe` (default `,`).
    delimiter: Option<String>,
    /// `mapping`: a strftime date format (default `%Y-%m-%d`).
    date_format: Option<String>,
    /// `mapping`: the header of the column holding each field.
    reference: Option<String>,
    transaction_date: Option<String>,
    posted_on: Option<String>,
    card_last4: Option<String>,
    merchant: Option<String>,
    mcc: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    credit_indicator: Option<String>,
}

impl StatementQuery {
    fn layout(&self) -> Result<Layout, ApiError> {
        let profile = self.profile.as_deref().unwrap_or("procgate");
        if profile == "mapping" {
            let columns = [
                ("reference", &self.reference),
                ("transaction_date", &self.transaction_date),
                ("posted_on", &self.posted_on),
                ("card_last4", &self.card_last4),
                ("merchant", &self.merchant),
                ("mcc", &self.mcc),
                ("amount", &self.amount),
                ("currency", &self.currency),
                ("credit_indicator", &self.credit_indicator),
            ];
            let mapping = Mapping {
                delimiter: self.delimiter.clone(),
                date_format: self.date_format.clone(),
                columns: columns
                    .into_iter()
                    .filter_map(|(f, h)| h.clone().map(|h| (f.to_owned(), h)))
                    .collect(),
            };
            return mapping.layout().map_err(|problems| {
                ApiError::validation(
                    problems.into_iter().map(|(p, m)| FieldError::new(p, m)).collect(),
                )
            });
        }
        Layout::named(profile).ok_or_else(|| {
            ApiError::bad_request(
                "invalid-query",
                format!("There is no profile {profile:?}: use procgate, usbank, munis or mapping."),
            )
        })
    }
}

/// Links to follow from an answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementLinks {
    /// The statement's transactions.
    pub transactions: String,
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementAnswer {
    pub statement_id: Uuid,
    /// Whether this request was a dry run: nothing written (with a used `Idempotency-Key`,
    /// the answer is that import's).
    pub dry_run: bool,
    pub profile: String,
    /// Data rows in the file.
    pub rows: u64,
    /// Distinct transactions in the file (a reference twice is one).
    pub transactions: u64,
    /// Transactions this import records.
    pub recorded: u64,
    /// Transactions an earlier statement recorded: not counted again.
    pub already_recorded: u64,
    /// Of those recorded: matched with a purchase check…
    pub matched: u64,
    /// …fitting several checks (IT chooses)…
    pub ambiguous: u64,
    /// …technology no check covers (IT's outreach queue)…
    pub unchecked_technology: u64,
    /// …not technology, no check…
    pub not_technology: u64,
    /// …and credits.
    pub credits: u64,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    /// Always empty in an accepted statement; a refused one is a 422 problem listing them.
    pub errors: Vec<RowError>,
    pub links: StatementLinks,
}

impl StatementAnswer {
    fn new(s: &StatementImported, dry_run: bool) -> Self {
        Self {
            statement_id: s.statement_id,
            dry_run,
            profile: s.profile.clone(),
            rows: s.rows,
            transactions: s.transactions,
            recorded: s.recorded,
            already_recorded: s.already_recorded,
            matched: s.matched,
            ambiguous: s.ambiguous,
            unchecked_technology: s.unchecked_technology,
            not_technology: s.not_technology,
            credits: s.credits,
            first_date: s.first_date,
            last_date: s.last_date,
            errors: vec![],
            links: StatementLinks {
                transactions: format!("/v1/card-transactions?statement_id={}", s.statement_id),
            },
        }
    }
}

/// Statements are files: anything but JSON and forms is read as one.
fn check_media_type(req: &HttpRequest) -> Result<(), ApiError> {
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/json" | "multipart/form-data" | "application/x-www-form-urlencoded") => {
            Err(ApiError::unsupported_media_type(
                "Send the statement file itself as the body (text/csv, or the bank's text format).",
            ))
        }
        _ => Ok(()),
    }
}

/// What checking a statement needs: the cards, the policy, the settings.
async fn context(state: &State, statement_id: Uuid) -> Result<Context, ApiError> {
    let standards = state.standards().await?;
    let Some(policy) = standards.policy.clone() else {
        return Err(crate::domain::DecisionError::NoPolicy.into());
    };
    state.read_models.caught_up(&[Cards::NAME, CardPurchases::NAME]).await?;
    let view = state.read_models.view();
    let (cards, reconciliation) = futures::try_join!(view.all::<Cards>(), state.reconciliation())?;
    let mut by_last4 = std::collections::HashMap::<_, Vec<CardInfo>>::new();
    for card in cards {
        let parse = |e: events::values::ValueError| ApiError::internal(e.message().to_owned());
        let info = CardInfo {
            card_id: card.card_id,
            last4: events::values::CardLast4::parse(&card.last4).map_err(parse)?,
            holder_email: events::values::Email::parse(&card.holder_email).map_err(parse)?,
            school_id: events::values::SchoolId::parse(&card.school_id).map_err(parse)?,
        };
        by_last4.entry(info.last4.clone()).or_default().push(info);
    }
    Ok(Context {
        statement_id,
        cards: by_last4,
        currency: policy.currency,
        technology_mccs: policy.technology_mccs.iter().cloned().collect(),
        policy_version: standards.version,
        settings: reconciliation.current(),
    })
}

/// Import a card statement: all or nothing.
///
/// The body is the file (`text/csv`, or the bank's text format), read with `profile`. Every
/// bad row is listed in one 422 `invalid-statement` problem (`errors`: `line`, `field`,
/// `message`; the first 1,000, `error_count` counts them all) and nothing is written. A
/// transaction already recorded (by its `reference`) is not recorded again. `dry_run=true`
/// answers the same and writes nothing.
#[utoipa::path(
    tag = "card statements",
    params(StatementQuery, ("Idempotency-Key" = Option<String>, Header,
            description = "Optional: the same key with the same file answers the first import again.")),
    request_body(content = String, content_type = "text/csv", description = "The statement file"),
    responses(
        (status = 201, description = "Imported", body = StatementAnswer),
        (status = 200, description = "A dry run, a statement that adds nothing new, or a repeat of an idempotency key", body = StatementAnswer),
        (status = 400, description = "An unknown profile or a bad header", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not finance, IT staff or admin", body = web::Problem),
        (status = 409, description = "`idempotency-conflict`: the key was used for another file", body = web::Problem),
        (status = 415, description = "A JSON or form body", body = web::Problem),
        (status = 422, description = "`invalid-statement` (see `errors`), or `validation` of a mapping", body = web::Problem),
        (status = 503, description = "`no-policy`: IT has not set the policy yet", body = web::Problem),
    ),
)]
#[post("/v1/card-statements")]
pub async fn import_statement(
    cx: Importing,
    query: Query<StatementQuery>,
    payload: Payload,
) -> Reply {
    let layout = query.layout()?;
    check_media_type(&cx.req)?;
    let key = http::idempotency_key(&cx.req)?;
    let context = context(&cx.state, statement_id(&cx.who.subject, key.as_ref())).await?;
    let profile = layout.profile.clone();
    let (collected, file_sha256) =
        read_statement(payload, layout, Collector::new(context.clone())).await?;
    let dry_run = query.dry_run.unwrap_or(false);
    let (rows, transactions) = match collected {
        Collected::Valid { rows, transactions } => (rows, transactions),
        Collected::Refused { rows, errors, error_count } => {
            let (id, sha256) = (context.statement_id, &file_sha256);
            if key.is_some()
                && let Some(answer) = record::earlier_answer(&cx.state, id, sha256, dry_run).await?
            {
                return Ok(Recorded::NotAppended(answer).respond());
            }
            return Ok(refused(&cx.req, rows, errors, error_count));
        }
    };
    let file = StatementFile { profile, file_sha256, idempotency_key: key, rows };
    let meta = cx.metadata("gate");
    Ok(record(&cx.state, &meta, &context, file, &transactions, dry_run).await?.respond())
}

/// A new statement's id: derived from the caller and the idempotency key when there is one
/// (v5 of `subject ␀ key`), so that the key's second use finds the first import's stream.
fn statement_id(subject: &str, key: Option<&IdempotencyKey>) -> Uuid {
    match key {
        Some(key) => Uuid::new_v5(&STATEMENT_NAMESPACE, format!("{subject}\u{0}{key}").as_bytes()),
        None => Uuid::now_v7(),
    }
}

/// 422 `invalid-statement`: every bad row, nothing written. A problem document whose
/// `errors` name the line (the kernel's validation problems name JSON fields instead).
fn refused(req: &HttpRequest, rows: u64, errors: Vec<RowError>, error_count: u64) -> HttpResponse {
    let lines: Vec<String> = errors.iter().take(5).map(|e| e.line.to_string()).collect();
    let detail = format!(
        "The statement was not imported: {error_count} problem(s), on line(s) {}{}. Nothing was written; correct each one listed in `errors` and send the whole file again.",
        lines.join(", "),
        if errors.len() > 5 { ", …" } else { "" }
    );
    let problem = ApiError::unprocessable("invalid-statement", detail)
        .with_title("Invalid statement")
        .with_extension("error_count", error_count)
        .with_extension("rows", rows);
    let request_id = web::request_id::request_id(req);
    let body = problem.to_problem(Some(req.path()), request_id.as_ref().map(|id| id.as_str()));
    let mut body = serde_json::to_value(body).unwrap_or_default();
    body["errors"] = serde_json::to_value(errors).unwrap_or_default();
    HttpResponse::UnprocessableEntity().content_type(web::PROBLEM_JSON).json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_one_statement_per_caller() {
        let key = IdempotencyKey::parse("stmt-2025-10").unwrap();
        let first = statement_id("finance-erp", Some(&key));
        assert_eq!(statement_id("finance-erp", Some(&key)), first);
        assert_ne!(statement_id("another-erp", Some(&key)), first);
        let other = IdempotencyKey::parse("stmt-2025-11").unwrap();
        assert_ne!(statement_id("finance-erp", Some(&other)), first);
        assert_ne!(statement_id("finance-erp", None), statement_id("finance-erp", None));
    }
}
