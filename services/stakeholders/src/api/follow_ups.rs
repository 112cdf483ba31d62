//! Follow-ups (`followup-{uuid}` streams): things to come back to a stakeholder about.

use actix_web::http::StatusCode;
use actix_web::web::Query;
use actix_web::{HttpResponse, get, post};
use events::stakeholders::{followup_stream, stakeholder_stream};
use kernel::http::{Body, IdempotencyKeyHeader, OptionalBody, Page, Paging, Reply};
use kernel::{Aggregate, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::bodies::{DoneBody, FollowUpBody};
use super::{
    Change, ItemErrors, KeyedChangeErrors, KeyedCreateErrors, ListErrors, Read,
    body_reference_error, created, now, read_models, registered_stakeholder, run_keyed, today,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::followup::FollowUp;
use crate::queries::follow_ups::{self, FollowUpState, FollowUpView};

/// The follow-up as the read models have it once they include `position` (the head now,
/// when `None`).
async fn follow_up(
    state: &State,
    id: Uuid,
    position: Option<u64>,
) -> Result<FollowUpView, ApiError> {
    let view = read_models(state, position, follow_ups::READS).await?;
    let follow_up = follow_ups::follow_up(&view, id, today(state).await?).await?;
    Ok(follow_up.ok_or(DomainError::UnknownFollowUp)?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FollowUpQuery {
    /// Only follow-ups that stand so today (`open` excludes `overdue`).
    status: Option<FollowUpState>,
    /// Only follow-ups owed to this person.
    stakeholder_id: Option<Uuid>,
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
    params(FollowUpQuery, Paging),
    responses((status = 200, body = FollowUpList), ListErrors),
)]
#[get("/v1/follow-ups")]
pub async fn list_follow_ups(
    cx: Read,
    query: Query<FollowUpQuery>,
    paging: Query<Paging>,
) -> Reply {
    let view = read_models(&cx.state, None, follow_ups::READS).await?;
    let today = today(&cx.state).await?;
    let list = follow_ups::follow_ups(&view, query.stakeholder_id, query.status, today).await?;
    let (follow_ups, page) = paging.page(list)?;
    Ok(HttpResponse::Ok().json(FollowUpList { follow_ups, page }))
}

/// One follow-up.
#[utoipa::path(
    tag = "follow-ups",
    params(("id" = Uuid, Path, description = "The follow-up id")),
    responses(
        (status = 200, body = FollowUpView),
        (status = 404, description = "`unknown-follow-up`", body = web::Problem),
        ItemErrors,
    ),
)]
#[get("/v1/follow-ups/{id}")]
pub async fn get_follow_up(cx: Read) -> Reply {
    let id = cx.path_id("id")?;
    Ok(HttpResponse::Ok().json(follow_up(&cx.state, id, None).await?))
}

/// Schedule a follow-up with a stakeholder.
#[utoipa::path(
    tag = "follow-ups",
    params(IdempotencyKeyHeader),
    request_body = FollowUpBody,
    responses(
        (status = 201, description = "Scheduled", body = FollowUpView),
        (status = 422, description = "`validation`; `unknown-stakeholder`; `date-too-early` (`due_on` before today)", body = web::Problem),
        KeyedCreateErrors,
    ),
)]
#[post("/v1/follow-ups")]
pub async fn schedule_follow_up(cx: Change, body: Body<FollowUpBody>) -> Reply {
    let new = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let today = today(&cx.state).await?;
    let id = Uuid::now_v7();
    let (own, to) = (stream(followup_stream(id)), stream(stakeholder_stream(new.stakeholder_id)));
    let written = run_keyed(&cx, once, &[id], own, &[to], |f: &FollowUp, lookups| {
        let stakeholder_exists = registered_stakeholder(&lookups[0])?;
        f.handle(new.command(id, stakeholder_exists, today)).map_err(body_reference_error)
    })
    .await?;
    let id = written.created(0)?;
    let view = follow_up(&cx.state, id, written.position).await?;
    Ok(created(&written, Some(format!("/v1/follow-ups/{id}")), view))
}

/// The follow-up was done.
#[utoipa::path(
    tag = "follow-ups",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body(content = Option<DoneBody>, description = "Optional"),
    responses(
        (status = 200, description = "The follow-up now", body = FollowUpView),
        (status = 404, description = "`unknown-follow-up`", body = web::Problem),
        (status = 409, description = "`follow-up-already-done`; `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`; `date-in-future`, `date-too-early` (`on`)", body = web::Problem),
        KeyedChangeErrors,
    ),
)]
#[post("/v1/follow-ups/{id}/done")]
pub async fn complete_follow_up(cx: Change, body: OptionalBody<DoneBody>) -> Reply {
    let id = cx.path_id("id")?;
    let done = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let district = cx.state.district.now(cx.state.commands.store()).await?;
    let today = district.today(now(&cx.state));
    let own = stream(followup_stream(id));
    let written = run_keyed(&cx, once, &[], own, &[], |f: &FollowUp, _| {
        let scheduled_on = f.scheduled_at.map(|at| district.today(at));
        Ok(f.handle(done.command(today, scheduled_on))?)
    })
    .await?;
    Ok(written.respond(StatusCode::OK).json(follow_up(&cx.state, id, written.position).await?))
}
