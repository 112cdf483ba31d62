//! Stakeholders (`stakeholder-{uuid}` streams), the conversations held with them, and their
//! profile with relationship health.
//!
//! A conversation is appended together with its wish (`conversation-held` on the
//! stakeholder's stream and `wish-recorded` on a new wish stream, in one atomic append).

use actix_web::http::header;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post, put};
use chrono::{DateTime, Utc};
use eventlog::{RecordedEvent, StreamName};
use events::school::school_stream;
use events::stakeholders::{StakeholderRole, stakeholder_stream};
use events::values::SchoolId;
use kernel::http::{self, Body, Caller, Page};
use kernel::{Aggregate, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::bodies::{ConversationBody, ProfileBody};
use super::{
    Readers, Writers, body_reference_error, load, metadata, naming, now, read_models, time,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::school::School;
use crate::domain::stakeholder::{
    Profile, RegisterStakeholder, Stakeholder, StakeholderCommand, UpdateStakeholder,
};
use crate::queries::stakeholders::{
    self, ConversationView, StakeholderDocs, StakeholderFilter, StakeholderSummary, StakeholderView,
};

/// The stakeholder as the read models have it once they include `position` (the head now,
/// when `None`).
async fn stakeholder_view(
    state: &State,
    id: Uuid,
    position: Option<u64>,
) -> Result<StakeholderView, ApiError> {
    let view = read_models(state, position, stakeholders::READS).await?;
    let docs = StakeholderDocs::read(&view, id).await?.ok_or(DomainError::UnknownStakeholder)?;
    let (now, today) = time(state).await?;
    Ok(docs.view(now, today))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StakeholderQuery {
    role: Option<StakeholderRole>,
    /// Only people of this school.
    school_id: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
    /// Skip this many (the `next_offset` of the previous page).
    offset: Option<usize>,
}

/// A page of stakeholders, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct StakeholderList {
    pub stakeholders: Vec<StakeholderSummary>,
    #[serde(flatten)]
    pub page: Page,
}

/// List stakeholders by name, each with their relationship health score.
#[utoipa::path(
    tag = "stakeholders",
    params(StakeholderQuery),
    responses(
        (status = 200, body = StakeholderList),
        (status = 400, description = "`invalid-query`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/stakeholders")]
pub async fn list_stakeholders(
    _: Caller<Readers>,
    state: Data<State>,
    query: Query<StakeholderQuery>,
) -> Result<HttpResponse, ApiError> {
    let school_id = http::query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    let filter = StakeholderFilter { role: query.role, school_id };
    let view = read_models(&state, None, stakeholders::READS).await?;
    let (now, today) = time(&state).await?;
    let list = stakeholders::stakeholders(&view, &filter, now, today).await?;
    let (stakeholders, page) = http::page(list, query.limit, query.offset)?;
    Ok(HttpResponse::Ok().json(StakeholderList { stakeholders, page }))
}

/// The stream of the profile's school, to look up whether it is registered.
fn school_lookup(profile: &Profile) -> Vec<StreamName> {
    profile.school_id.iter().map(|s| stream(school_stream(s))).collect()
}

/// Whether the looked-up school is registered (`false` without one).
fn school_exists(lookups: &[Vec<RecordedEvent>]) -> Result<bool, ApiError> {
    match lookups.first() {
        Some(records) => Ok(load::<School>(records)?.status.registered),
        None => Ok(false),
    }
}

/// Register a person: a principal, teacher, librarian, business officer, instruction lead,
/// IT person or other.
#[utoipa::path(
    tag = "stakeholders",
    request_body = ProfileBody,
    responses(
        (status = 201, description = "Registered: the profile", body = StakeholderView),
        (status = 400, description = "`malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or an admin", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation` (bad name, email, phone, role or school slug); `unknown-school`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/stakeholders")]
pub async fn register_stakeholder(
    who: Caller<Writers>,
    state: Data<State>,
    req: HttpRequest,
    body: Body<ProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let profile = Profile::from(body.parse()?);
    let id = Uuid::now_v7();
    let (stream, school) = (stream(stakeholder_stream(id)), school_lookup(&profile));
    let done = state
        .commands
        .run(&metadata(&who, &req), stream, &school, |stakeholder: &Stakeholder, lookups| {
            let command = StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: id,
                profile: profile.clone(),
                school_exists: school_exists(lookups)?,
            });
            stakeholder.handle(command).map_err(body_reference_error)
        })
        .await?;
    let view = stakeholder_view(&state, id, done.position).await?;
    let location = (header::LOCATION, format!("/v1/stakeholders/{id}"));
    Ok(HttpResponse::Created().insert_header(location).json(view))
}

/// One stakeholder's profile, with relationship health.
///
/// The profile: conversations, wishes, promises, follow-ups, and relationship health with the
/// counts behind it. For a principal, the promises include those made to their school (the purchasing
/// agreement's standing call-before-cancel promise among them, with the gate's record), and
/// `held_purchases` lists their school's purchases the gate held, with how fast IT answered.
///
/// **How the health score is computed** (`stakeholders::domain::health`): start at **100**
/// and subtract:
///
/// | what | points | at most |
/// |---|---|---|
/// | each overdue follow-up (due before today, not done) | 10 | 30 |
/// | each broken promise (to them; for a principal also to their school) | 15 | 30 |
/// | each overdue promise (due before today, neither kept nor broken) | 10 | 30 |
/// | no conversation in the last 90 days (or none ever) | 15 | 15 |
/// | each wish `open` or `in_progress` without headway (recorded or progressed) in the last 60 days | 5 | 15 |
/// | principals: the median time IT took to answer their school's held purchases is over 24 hours | 10 | 10 |
/// | principals: the longest such time is over 72 hours | 10 | 10 |
///
/// The score is never below 0. The answer time of a held purchase is the time from the flag to
/// the first call that reached the requester (or to its approval, if IT approved it without
/// such a call); a purchase still waiting counts with the time it has waited so far. Only
/// purchases flagged in the last 365 days count. A standing call-before-cancel promise is
/// never overdue; it counts as broken once a purchase held under its agreement was cancelled
/// without a reached call and an alternative. Every deduction is listed in
/// `health.penalties` with its reason, so the score explains itself. *Today* is the UTC date.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The stakeholder id")),
    responses(
        (status = 200, body = StakeholderView),
        (status = 400, description = "`invalid-path`: not a UUID", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/stakeholders/{id}")]
pub async fn get_stakeholder(
    _: Caller<Readers>,
    state: Data<State>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &id)?;
    Ok(HttpResponse::Ok().json(stakeholder_view(&state, id, None).await?))
}

/// Replace a person's profile (a new email, a move to another school or role).
///
/// The whole profile is sent; nothing is written when nothing changed.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path)),
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The profile now", body = StakeholderView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `unknown-school`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/stakeholders/{id}")]
pub async fn update_stakeholder(
    who: Caller<Writers>,
    state: Data<State>,
    req: HttpRequest,
    id: Path<String>,
    body: Body<ProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &id)?;
    let profile = Profile::from(body.parse()?);
    let (stream, school) = (stream(stakeholder_stream(id)), school_lookup(&profile));
    let done = state
        .commands
        .run(&metadata(&who, &req), stream, &school, |stakeholder: &Stakeholder, lookups| {
            let command = StakeholderCommand::Update(UpdateStakeholder {
                profile: profile.clone(),
                school_exists: school_exists(lookups)?,
            });
            stakeholder.handle(command).map_err(naming(DomainError::UnknownSchool))
        })
        .await?;
    Ok(HttpResponse::Ok().json(stakeholder_view(&state, id, done.position).await?))
}

/// Record a conversation: their vision, two stars and a wish.
///
/// The wish becomes a tracked wish (status `open`) in the same atomic append.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The stakeholder id")),
    request_body = ConversationBody,
    responses(
        (status = 201, description = "Recorded, with its wish", body = ConversationView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `exactly-two-stars` (with `found`); `date-in-future` (`held_at`)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/stakeholders/{id}/conversations")]
pub async fn hold_conversation(
    who: Caller<Writers>,
    state: Data<State>,
    req: HttpRequest,
    id: Path<String>,
    body: Body<ConversationBody>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &id)?;
    let conversation = body.parse()?;
    let ids @ (_, wish_id) = (Uuid::now_v7(), Uuid::now_v7());
    let now = now(&state);
    let stream = stream(stakeholder_stream(id));
    let done = state
        .commands
        .run(&metadata(&who, &req), stream, &[], |stakeholder: &Stakeholder, _| {
            Ok(stakeholder.handle(conversation.command(ids, now))?)
        })
        .await?;
    let view = conversation_held(&state, id, ids, done.position, now).await?;
    let location = (header::LOCATION, format!("/v1/wishes/{wish_id}"));
    Ok(HttpResponse::Created().insert_header(location).json(view))
}

/// The conversation just held by `id`, and its wish, once the read models include `position`.
async fn conversation_held(
    state: &State,
    id: Uuid,
    ids: (Uuid, Uuid),
    position: Option<u64>,
    now: DateTime<Utc>,
) -> Result<ConversationView, ApiError> {
    let reads = stakeholders::CONVERSATION_READS;
    let view = read_models(state, Some(position.unwrap_or_default()), reads).await?;
    let held = stakeholders::conversation(&view, id, ids, now).await?;
    held.ok_or_else(|| ApiError::internal("a conversation or its wish missing after its write"))
}
