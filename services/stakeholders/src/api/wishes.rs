//! Wishes (`wish-{uuid}` streams): every conversation's wish, and the headway on it.

use actix_web::http::StatusCode;
use actix_web::web::Query;
use actix_web::{HttpResponse, get, post};
use events::stakeholders::{WishStatus, wish_stream};
use events::values::SchoolId;
use kernel::http::{self, Body, IdempotencyKeyHeader, Page, Paging, Reply};
use kernel::{Aggregate, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::bodies::ProgressBody;
use super::{Change, ItemErrors, KeyedChangeErrors, ListErrors, Read, now, read_models, run_keyed};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::wish::Wish;
use crate::queries::wishes::{self, WishFilter, WishView};

/// The wish as the read models have it once they include `position` (the head now, when
/// `None`).
async fn wish(state: &State, id: Uuid, position: Option<u64>) -> Result<WishView, ApiError> {
    let view = read_models(state, position, wishes::READS).await?;
    Ok(wishes::wish(&view, id, now(state)).await?.ok_or(DomainError::UnknownWish)?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WishQuery {
    status: Option<WishStatus>,
    /// Only this person's wishes.
    stakeholder_id: Option<Uuid>,
    /// Only wishes made at this school (the person's school when they said it).
    #[param(value_type = Option<events::values::SchoolId>)]
    school_id: Option<String>,
}

/// A page of wishes, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WishList {
    pub wishes: Vec<WishView>,
    #[serde(flatten)]
    pub page: Page,
}

/// List wishes, oldest first, with the headway on each.
#[utoipa::path(
    tag = "wishes",
    params(WishQuery, Paging),
    responses((status = 200, body = WishList), ListErrors),
)]
#[get("/v1/wishes")]
pub async fn list_wishes(cx: Read, query: Query<WishQuery>, paging: Query<Paging>) -> Reply {
    let school_id = http::query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    let filter =
        WishFilter { status: query.status, stakeholder_id: query.stakeholder_id, school_id };
    let view = read_models(&cx.state, None, wishes::READS).await?;
    let list = wishes::wishes(&view, &filter, now(&cx.state)).await?;
    let (wishes, page) = paging.page(list)?;
    Ok(HttpResponse::Ok().json(WishList { wishes, page }))
}

/// One wish, with every headway on it.
#[utoipa::path(
    tag = "wishes",
    params(("id" = Uuid, Path, description = "The wish id")),
    responses(
        (status = 200, body = WishView),
        (status = 404, description = "`unknown-wish`", body = web::Problem),
        ItemErrors,
    ),
)]
#[get("/v1/wishes/{id}")]
pub async fn get_wish(cx: Read) -> Reply {
    let id = cx.path_id("id")?;
    Ok(HttpResponse::Ok().json(wish(&cx.state, id, None).await?))
}

/// Record headway on a wish, and its status after it.
#[utoipa::path(
    tag = "wishes",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = ProgressBody,
    responses(
        (status = 201, description = "Recorded: the wish as it is now", body = WishView),
        (status = 404, description = "`unknown-wish`", body = web::Problem),
        (status = 409, description = "`wish-closed`: done or declined, and not reopened; `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
        KeyedChangeErrors,
    ),
)]
#[post("/v1/wishes/{id}/progress")]
pub async fn progress_wish(cx: Change, body: Body<ProgressBody>) -> Reply {
    let id = cx.path_id("id")?;
    let progress = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let at = now(&cx.state);
    let own = stream(wish_stream(id));
    let written =
        run_keyed(&cx, once, &[], own, &[], |w: &Wish, _| Ok(w.handle(progress.command(at))?))
            .await?;
    Ok(written.respond(StatusCode::CREATED).json(wish(&cx.state, id, written.position).await?))
}
