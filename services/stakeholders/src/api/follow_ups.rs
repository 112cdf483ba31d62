//! Follow-ups (`followup-{uuid}` streams): things to come back to a stakeholder about.

use actix_web::http::header;
use actix_web::web::{Bytes, Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth::Principal;
use chrono::NaiveDate;
use events::stakeholders::{followup_stream, stakeholder_stream};
use events::values::LongText;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::views::{FollowUpState, FollowUpView, Names, follow_up_view};
use super::{
    Page, READERS, WRITERS, body_reference_error, domain_error, load, metadata, now, page, parse,
    path_id, stream, today,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::followup::{CompleteFollowUp, FollowUp, FollowUpCommand, ScheduleFollowUp};
use crate::domain::stakeholder::Stakeholder;
use crate::read_models::{FollowUpDoc, FollowUps, StakeholderDoc, Stakeholders, sort_follow_ups};
use kernel::{Aggregate, ReadModel};

const VIEW: &[&str] = &[FollowUps::NAME, Stakeholders::NAME];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowUpQuery {
    /// Only follow-ups that stand so today (`open` excludes `overdue`).
    status: Option<FollowUpState>,
    /// Only follow-ups owed to this person.
    stakeholder_id: Option<Uuid>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
    /// Skip this many (the `next_offset` of the previous page).
    offset: Option<usize>,
}

/// A page of follow-ups: overdue first, then open, then done; by due date.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpList {
    pub follow_ups: Vec<FollowUpView>,
    #[serde(flatten)]
    pub page: Page,
}

/// List follow-ups: overdue first, then open, then done; by due date within each.
#[utoipa::path(
    tag = "follow-ups",
    params(FollowUpQuery),
    responses(
        (status = 200, body = FollowUpList),
        (status = 400, description = "`invalid-query`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/follow-ups")]
pub async fn list_follow_ups(
    state: Data<State>,
    principal: Principal,
    query: Query<FollowUpQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = state.read_models.view();
    principal.require(READERS)?;
    state.read_models.caught_up(VIEW).await?;
    let (docs, people) = futures::try_join!(view.all::<FollowUps>(), view.all::<Stakeholders>(),)?;
    let names: Names = people.into_iter().map(|p| (p.stakeholder_id, p.name)).collect();
    let today = today(now());
    let mut docs: Vec<FollowUpDoc> = docs
        .into_iter()
        .filter(|f| query.stakeholder_id.is_none_or(|s| f.stakeholder_id == s))
        .collect();
    sort_follow_ups(&mut docs, today);
    let follow_ups: Vec<FollowUpView> = docs
        .into_iter()
        .map(|f| follow_up_view(f, today, &names))
        .filter(|f| query.status.is_none_or(|s| f.status == s))
        .collect();
    let (follow_ups, page) = page(follow_ups, query.limit, query.offset)?;
    Ok(HttpResponse::Ok().json(FollowUpList { follow_ups, page }))
}

/// The follow-up as the read models have it once they include `position` (the head now,
/// when `None`).
async fn follow_up(
    state: &State,
    id: Uuid,
    position: Option<u64>,
) -> Result<FollowUpView, ApiError> {
    let view = state.read_models.view();
    match position {
        Some(position) => state.read_models.at(position, VIEW).await?,
        None => state.read_models.caught_up(VIEW).await?,
    }
    let doc: FollowUpDoc = state
        .read_models
        .view()
        .one::<FollowUps>(&id.to_string())
        .await?
        .ok_or_else(|| domain_error(DomainError::UnknownFollowUp))?;
    let who: Option<StakeholderDoc> =
        view.one::<Stakeholders>(&doc.stakeholder_id.to_string()).await?;
    let names: Names = who.into_iter().map(|p| (p.stakeholder_id, p.name)).collect();
    Ok(follow_up_view(doc, today(now()), &names))
}

/// One follow-up.
#[utoipa::path(
    tag = "follow-ups",
    params(("id" = Uuid, Path, description = "The follow-up id")),
    responses(
        (status = 200, body = FollowUpView),
        (status = 400, description = "`invalid-path`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-follow-up`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/follow-ups/{id}")]
pub async fn get_follow_up(
    state: Data<State>,
    principal: Principal,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let id = path_id("id", &id)?;
    Ok(HttpResponse::Ok().json(follow_up(&state, id, None).await?))
}

/// Something to come back to a person about.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FollowUpBody {
    /// A registered stakeholder.
    stakeholder_id: Uuid,
    about: LongText,
    /// Today or later.
    due_on: NaiveDate,
}

/// Schedule a follow-up with a stakeholder.
#[utoipa::path(
    tag = "follow-ups",
    request_body = FollowUpBody,
    responses(
        (status = 201, description = "Scheduled", body = FollowUpView),
        (status = 400, description = "`malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or an admin", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `unknown-stakeholder`; `date-too-early` (`due_on` before today)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/follow-ups")]
pub async fn schedule_follow_up(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let new = parse::follow_up(&body)?;
    let meta = metadata(&principal, &req);
    let today = today(now());
    let id = Uuid::now_v7();
    let done = state
        .commands
        .run::<FollowUp>(
            &meta,
            stream(followup_stream(id)),
            &[stream(stakeholder_stream(new.stakeholder_id))],
            |follow_up, lookups| {
                let command = FollowUpCommand::Schedule(ScheduleFollowUp {
                    followup_id: id,
                    stakeholder_id: new.stakeholder_id,
                    stakeholder_exists: load::<Stakeholder>(&lookups[0])?.profile.is_some(),
                    about: new.about.clone(),
                    due_on: new.due_on,
                    today,
                });
                follow_up.handle(command).map_err(body_reference_error)
            },
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/follow-ups/{id}")))
        .json(follow_up(&state, id, done.position).await?))
}

/// How it went (optional).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DoneBody {
    /// When (default: today); not in the future.
    on: Option<NaiveDate>,
    note: Option<LongText>,
}

/// The follow-up was done.
#[utoipa::path(
    tag = "follow-ups",
    params(("id" = Uuid, Path)),
    request_body(content = Option<DoneBody>, description = "Optional"),
    responses(
        (status = 200, description = "The follow-up now", body = FollowUpView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-follow-up`", body = web::Problem),
        (status = 409, description = "`follow-up-already-done`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `date-in-future` (`on`)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/follow-ups/{id}/done")]
pub async fn complete_follow_up(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = path_id("id", &id)?;
    let done = parse::done(&parse::optional_json(&req, &body)?)?;
    let meta = metadata(&principal, &req);
    let today = today(now());
    let executed = state
        .commands
        .run::<FollowUp>(&meta, stream(followup_stream(id)), &[], |follow_up, _| {
            let command = FollowUpCommand::Done(CompleteFollowUp {
                on: done.on.unwrap_or(today),
                note: done.note.clone(),
                today,
            });
            follow_up.handle(command).map_err(domain_error)
        })
        .await?;
    Ok(HttpResponse::Ok().json(follow_up(&state, id, executed.position).await?))
}
