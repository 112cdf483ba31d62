//! The stakeholder relations service's HTTP API (../shared/API.md, "Stakeholder relations
//! service").
//!
//! Every handler parses, runs and renders. It takes a [`Read`] or [`Change`] context first (a
//! [`kernel::http::Context`]: the caller with [`Readers`] or [`Writers`], 401 without a valid
//! token, 403 without the role, before anything else is looked at, and the service's state),
//! then the body ([`bodies`], each type both the schema the document shows and the parser that
//! accepts it); it reads the path from the context, then parses the body.
//!
//! Writes (IT staff and admins) run the aggregate's `handle` through the kernel's command
//! runner ([`kernel::Commands::run`]): it reads the aggregate's stream and the streams of
//! whatever else the rule needs (the signer's profile, the school a stakeholder works at),
//! appends what the core decides at the version it read (one atomic append when the decision
//! opens other streams too: a signature and its standing promise; a conversation and its wish),
//! and decides again when another writer got there first.
//!
//! Reads (every role but `finance`) are the queries of [`crate::queries`] over the read models,
//! after waiting for them to reach the log's head, so a read sees every change answered before
//! it; a write answers with the resource as a read right after it would show it.
//!
//! # Time
//!
//! `now` is the service's clock ([`now`]). `today`, the date that dates are checked against (a
//! signature, a withdrawal, a promise's or follow-up's settling date not in the future; a
//! promise or follow-up not due before today; overdue means due before today), is the
//! **district's date** at `now`, in the time zone of its calendar in force (`district-settings`,
//! set with the gate's `PUT /v1/district`; read from the stream's tail on every use, so a
//! change answered before a request is seen by it): the same on every instance, whatever its
//! host's time zone. Until the district sets its time zone, its calendar is UTC's, and today
//! is the UTC date ([`today`], [`time`]).

mod advocacy;
mod bodies;
mod follow_ups;
mod privacy;
mod promises;
mod reminders;
mod reports;
mod rounds;
mod schools;
mod stakeholders;
mod vision;
mod wishes;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use auth::Role;
use chrono::{DateTime, NaiveDate, Utc};
use eventlog::{Metadata, RecordedEvent, StreamName};
pub(crate) use kernel::http::Written;
use kernel::http::{BearerAuth, Context, Idempotency, Roles};
use kernel::{Aggregate, Decision, Executed, View};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use web::ApiError;

use crate::app::State;
use crate::domain::health::AsOf;
use crate::domain::school::School;
use crate::domain::stakeholder::Stakeholder;
use crate::domain::{DomainError, ErrorKind};

/// IT staff, auditors and admins: people's records are personal data, for neither finance nor
/// integration tokens.
pub(crate) struct Readers;
impl Roles for Readers {
    const ROLES: &'static [Role] = &[Role::ItStaff, Role::Auditor, Role::Admin];
}

/// IT staff and admins.
pub(crate) struct Writers;
impl Roles for Writers {
    const ROLES: &'static [Role] = &[Role::ItStaff, Role::Admin];
}

/// A read: the caller, one of the [`Readers`] (checked first), the state and the request.
pub(crate) type Read = Context<State, Readers>;

/// A change: the caller, one of the [`Writers`] (checked first), the state and the request.
pub(crate) type Change = Context<State, Writers>;

/// The 403 of a read: who may read people's records.
const READERS_ONLY: &str =
    "Not IT staff, an auditor or an admin (finance and integration tokens included)";

/// The 403 of a new record or a setting: who may write.
const WRITERS_ONLY: &str = "Not IT staff or an admin";

pub(crate) use kernel::http::Secured;

kernel::problem_responses! {
    /// A read: no token, or not a reader.
    pub(crate) ReadErrors { "401" => "", "403" => READERS_ONLY }
    /// A list: [`ReadErrors`], or a query parameter that does not parse.
    pub(crate) ListErrors { "400" => "`invalid-query`", "401" => "", "403" => READERS_ONLY }
    /// One record by the id in the path: no token, not the role, or not an id.
    pub(crate) ItemErrors { "400" => "`invalid-path`", "401" => "", "403" => "" }
    /// A change with a JSON body to a record the path names: [`Secured`](kernel::http::Secured), or not JSON.
    pub(crate) ChangeErrors { "401" => "", "403" => "", "415" => "" }
    /// A change that takes an `Idempotency-Key`: [`ChangeErrors`], or a bad path, body or key.
    pub(crate) KeyedChangeErrors {
        "400" => "`invalid-path`, `malformed-json`, `invalid-header` (the Idempotency-Key)",
        "401" => "",
        "403" => "",
        "415" => "",
    }
    /// A new record or a setting: no token, not a writer, or not JSON.
    pub(crate) WriteErrors { "401" => "", "403" => WRITERS_ONLY, "415" => "" }
    /// A new record that takes an `Idempotency-Key`: [`WriteErrors`], a bad body or key, or
    /// the key used before for another body.
    pub(crate) KeyedCreateErrors {
        "400" => "`malformed-json`, `invalid-header` (the Idempotency-Key)",
        "401" => "",
        "403" => WRITERS_ONLY,
        "409" => "`idempotency-conflict`",
        "415" => "",
    }
    /// A setting: [`WriteErrors`], or malformed JSON.
    pub(crate) SettingErrors {
        "400" => "`malformed-json`",
        "401" => "",
        "403" => WRITERS_ONLY,
        "415" => "",
    }
}

/// Registers the service's routes; the OpenAPI document is built from the same function.
pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(schools::list_schools)
        .service(schools::get_school)
        .service(schools::put_school)
        .service(schools::sign_agreement)
        .service(schools::withdraw_agreement)
        .service(stakeholders::list_stakeholders)
        .service(stakeholders::register_stakeholder)
        .service(stakeholders::get_stakeholder)
        .service(stakeholders::update_stakeholder)
        .service(stakeholders::hold_conversation)
        .service(privacy::erase_personal_data)
        .service(wishes::list_wishes)
        .service(wishes::get_wish)
        .service(wishes::progress_wish)
        .service(promises::list_promises)
        .service(promises::make_promise)
        .service(promises::get_promise)
        .service(promises::keep_promise)
        .service(promises::break_promise)
        .service(follow_ups::list_follow_ups)
        .service(follow_ups::schedule_follow_up)
        .service(follow_ups::get_follow_up)
        .service(follow_ups::complete_follow_up)
        .service(reminders::get_reminder_settings)
        .service(reminders::put_reminder_settings)
        .service(vision::get_vision)
        .service(vision::put_vision)
        .service(reports::coverage_report)
        .service(rounds::plan_round)
        .service(rounds::list_rounds)
        .service(rounds::get_round)
        .service(reports::going_cold_report)
        .service(reports::themes_report)
        .service(advocacy::acknowledge_stars)
        .service(advocacy::speak_for_it)
        .service(advocacy::advocates_report);
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "procgate stakeholder relations",
        description = "The relationships IT keeps with the district's schools: schools and their \
                       purchasing agreements (opt-in; a signed agreement makes the gate hold the \
                       school's technology purchases for IT review, with the standing promise that \
                       IT calls before it cancels one), stakeholders and the conversations held \
                       with them (their vision, two stars and a wish), the wishes and the headway \
                       on each, the promises IT made and kept, and the follow-ups it owes.\n\n\
                       Writes need the `it_staff` or `admin` role; reads `it_staff`, `auditor` or `admin` \
                       (people's records are personal data: neither `finance` nor `integration`). \
                       Times are RFC 3339; dates are `YYYY-MM-DD`, and *today* (what dates are \
                       checked against, and what *overdue* is measured from) is the district's \
                       date in the time zone of its calendar (`GET /v1/district`), or the UTC \
                       date while the district has not set one. Errors are RFC 9457 problem documents \
                       (`application/problem+json`) with a stable `type`; a refused request \
                       writes nothing.",
    ),
    tags(
        (name = "schools", description = "Schools and their purchasing agreements."),
        (name = "stakeholders", description = "People, conversations and relationship health."),
        (name = "wishes", description = "The wish of every conversation, and the headway on it."),
        (name = "promises", description = "Promises IT made, and whether it kept them."),
        (name = "follow-ups", description = "Things to come back to people about."),
        (name = "reminders", description = "When promises and follow-ups are due soon, and overdue; when people go cold, and how fast contact decays."),
        (name = "vision", description = "IT's own vision for the district, which conversations connect to."),
        (name = "reports", description = "The meeting plan's coverage, the people going cold, the advocates, and which themes of IT's vision carry which schools."),
    ),
    components(schemas(web::Problem, web::FieldError)),
    modifiers(&BearerAuth),
)]
pub(crate) struct ApiDoc;

/// The time now, by the service's clock.
pub(crate) fn now(state: &State) -> DateTime<Utc> {
    state.clock.now()
}

/// The time now and the district's date then (see the module docs).
pub(crate) async fn time(state: &State) -> Result<(DateTime<Utc>, NaiveDate), ApiError> {
    let district = state.district.now(state.commands.store()).await?;
    let now = now(state);
    Ok((now, district.today(now)))
}

/// The district's date now (see the module docs).
pub(crate) async fn today(state: &State) -> Result<NaiveDate, ApiError> {
    Ok(time(state).await?.1)
}

/// The moment relationships are judged at: now, the district in force (its calendar and its
/// SLA targets) and its contact settings (`reminder-settings`), each read from its stream's
/// tail.
pub(crate) async fn as_of(state: &State) -> Result<AsOf, ApiError> {
    let store = state.commands.store();
    let (district, reminders) =
        futures::try_join!(state.district.now(store), state.reminders.now(store))?;
    Ok(AsOf::in_district(now(state), district.0.clone(), reminders.0.contact))
}

/// The metadata of events written for this request: who, and its correlation id.
fn metadata<R>(cx: &Context<State, R>) -> Metadata {
    cx.metadata("stakeholders")
}

/// Runs a command with this request's metadata ([`kernel::Commands::run`]): `decide` on the
/// aggregate of `own`, with the streams of `lookups`.
async fn run<A: Aggregate>(
    cx: &Change,
    own: StreamName,
    lookups: &[StreamName],
    decide: impl Fn(&A, &[Vec<RecordedEvent>]) -> Result<Decision<A::Event>, ApiError>,
) -> Result<Executed<A>, ApiError> {
    cx.state.commands.run(&metadata(cx), own, lookups, decide).await
}

/// Runs a command that may carry an `Idempotency-Key` (`once`), with this request's metadata
/// ([`kernel::Commands::run_idempotent`]): `decide` on the aggregate of `own`, with the streams
/// of `lookups`, creating `created`. What it wrote, or for a repeat what the first request did.
async fn run_keyed<A: Aggregate>(
    cx: &Change,
    once: Option<Idempotency>,
    created: &[Uuid],
    own: StreamName,
    lookups: &[StreamName],
    decide: impl Fn(&A, &[Vec<RecordedEvent>]) -> Result<Decision<A::Event>, ApiError>,
) -> Result<Written, ApiError> {
    let meta = metadata(cx);
    let commands = &cx.state.commands;
    let run = commands.run_idempotent(&meta, once.as_ref(), created, own, lookups, decide).await?;
    Ok(Written::of(run, created))
}

/// The read models `names` once they include `position` (everything in the log now, when
/// `None`): a write answers with what a read right after it would show.
async fn read_models<'a>(
    state: &'a State,
    position: Option<u64>,
    names: &[&str],
) -> Result<View<'a>, ApiError> {
    state.read_models.include(position, names).await?;
    Ok(state.read_models.view())
}

/// Whether the stakeholder whose stream's `records` were read with a command is registered.
fn registered_stakeholder(records: &[RecordedEvent]) -> Result<bool, ApiError> {
    Ok(load::<Stakeholder>(records)?.profile.is_some())
}

/// Whether the school whose stream's `records` were read with a command is registered.
fn registered_school(records: &[RecordedEvent]) -> Result<bool, ApiError> {
    Ok(load::<School>(records)?.status.registered)
}

/// The answer to a write that created a resource: `201 Created`, its `location` (when it has
/// one to name), and `view`.
fn created(written: &Written, location: Option<String>, view: impl Serialize) -> HttpResponse {
    let mut answer = written.respond(StatusCode::CREATED);
    if let Some(location) = location {
        answer.insert_header((header::LOCATION, location));
    }
    answer.json(view)
}

/// The aggregate `records` fold into: another stream a rule needs facts from.
fn load<A: Aggregate>(records: &[RecordedEvent]) -> Result<A, ApiError> {
    kernel::load(records).map_err(|e| {
        let stream = records.first().map_or("a stream", |r| r.stream.as_str());
        ApiError::internal(format!("{stream} does not load: {e}"))
    })
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        domain_error(e)
    }
}

/// A refusal of the domain as a problem: the status from [`DomainError::kind`] (404, 409,
/// 422), the slug and title of the error, its message as the detail (capitalized), and the
/// field it is about (and the earliest allowed date, or the stars found) as extensions.
fn domain_error(e: DomainError) -> ApiError {
    let status = match e.kind() {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
    };
    refusal(status, e)
}

/// Like [`domain_error`], for a thing the request *body* names (a signer, a school to work at,
/// the stakeholder of a promise or follow-up): when it does not exist the request is
/// unprocessable (422), while the resource at the path is there (404 is kept for the path).
fn body_reference_error(e: DomainError) -> ApiError {
    match e.kind() {
        ErrorKind::NotFound => refusal(StatusCode::UNPROCESSABLE_ENTITY, e),
        _ => domain_error(e),
    }
}

fn refusal(status: StatusCode, e: DomainError) -> ApiError {
    let message = e.to_string();
    let field = match &e {
        DomainError::DateInFuture { field } | DomainError::DateTooEarly { field, .. } => {
            Some(*field)
        }
        _ => None,
    };
    // A sentence: "`signed_on` may not be …", "The school is not registered; …".
    let detail = match field.and_then(|f| Some((f, message.strip_prefix(f)?))) {
        Some((field, rest)) => format!("`{field}`{rest}."),
        None => {
            let mut chars = message.chars();
            match chars.next() {
                Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                None => message,
            }
        }
    };
    let err = ApiError::new(status, e.slug(), detail).with_title(e.title());
    match e {
        DomainError::DateInFuture { field } => err.with_extension("field", field),
        DomainError::DateTooEarly { field, earliest, .. } => {
            err.with_extension("field", field).with_extension("earliest", earliest)
        }
        DomainError::ExactlyTwoStars { found } => {
            err.with_extension("field", "stars").with_extension("found", found)
        }
        DomainError::EmailTaken { stakeholder_id } => err
            .with_extension("stakeholder_id", stakeholder_id)
            .with_extension("stakeholder", format!("/v1/stakeholders/{stakeholder_id}")),
        _ => err,
    }
}

/// [`domain_error`], but `named` (a thing the request body names) as [`body_reference_error`].
fn naming(named: DomainError) -> impl Fn(DomainError) -> ApiError {
    move |e| if e == named { body_reference_error(e) } else { domain_error(e) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_slug_title_status_and_field() {
        let p =
            domain_error(DomainError::DateInFuture { field: "signed_on" }).to_problem(None, None);
        assert_eq!(
            (p.status, p.slug(), p.title.as_str()),
            (422, Some("date-in-future"), "Date in the future")
        );
        assert_eq!(p.detail, "`signed_on` may not be in the future.");
        assert_eq!(p.extensions["field"], "signed_on");
        let p = domain_error(DomainError::UnknownSchool).to_problem(None, None);
        assert_eq!(p.status, 404);
        let p = body_reference_error(DomainError::UnknownSchool).to_problem(None, None);
        assert_eq!((p.status, p.slug()), (422, Some("unknown-school")));
        let p = body_reference_error(DomainError::AgreementAlreadySigned).to_problem(None, None);
        assert_eq!(p.status, 409);
        let p = domain_error(DomainError::ExactlyTwoStars { found: 3 }).to_problem(None, None);
        assert_eq!(
            (p.extensions["field"].as_str(), p.extensions["found"].as_u64()),
            (Some("stars"), Some(3))
        );
    }
}
