//! Wishes (`wish-{uuid}` streams): every conversation's wish, and the headway on it.

use std::collections::HashMap;

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth::Principal;
use events::stakeholders::{WishStatus, wish_stream};
use events::values::{LongText, SchoolId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::views::{Names, WishView, sort_wishes, wish_has, wish_view};
use super::{
    Page, READERS, WRITERS, domain_error, metadata, now, page, parse, path_id, query_param, stream,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::wish::{ProgressWish, Wish};
use crate::read_models::{StakeholderDoc, Stakeholders, WishDoc, Wishes};
use kernel::{Aggregate, ReadModel};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WishQuery {
    status: Option<WishStatus>,
    /// Only this person's wishes.
    stakeholder_id: Option<Uuid>,
    /// Only wishes made at this school (the person's school when they said it).
    school_id: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
    /// Skip this many (the `next_offset` of the previous page).
    offset: Option<usize>,
}

/// A page of wishes, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WishList {
    pub wishes: Vec<WishView>,
    #[serde(flatten)]
    pub page: Page,
}

async fn names(state: &State) -> Result<Names, ApiError> {
    let view = state.read_models.view();
    let people: Vec<StakeholderDoc> = view.all::<Stakeholders>().await?;
    Ok(people.into_iter().map(|p| (p.stakeholder_id, p.name)).collect::<HashMap<_, _>>())
}

/// List wishes, oldest first, with the headway on each.
#[utoipa::path(
    tag = "wishes",
    params(WishQuery),
    responses(
        (status = 200, body = WishList),
        (status = 400, description = "`invalid-query`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/wishes")]
pub async fn list_wishes(
    state: Data<State>,
    principal: Principal,
    query: Query<WishQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = state.read_models.view();
    principal.require(READERS)?;
    let school_id = query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    state.read_models.caught_up(&[Wishes::NAME, Stakeholders::NAME]).await?;
    let (docs, names) = futures::try_join!(view.all::<Wishes>(), names(&state))?;
    let now = now();
    let mut wishes: Vec<WishView> = docs
        .into_iter()
        .filter(|w| query.stakeholder_id.is_none_or(|s| w.stakeholder_id == s))
        .filter(|w| school_id.as_ref().is_none_or(|s| w.school_id.as_ref() == Some(s)))
        .map(|w| wish_view(w, now, &names))
        .filter(|w| wish_has(w, query.status))
        .collect();
    sort_wishes(&mut wishes);
    let (wishes, page) = page(wishes, query.limit, query.offset)?;
    Ok(HttpResponse::Ok().json(WishList { wishes, page }))
}

/// The wish as the read models have it once they include `position` (the head now, when
/// `None`).
async fn wish(state: &State, id: Uuid, position: Option<u64>) -> Result<WishView, ApiError> {
    let view = state.read_models.view();
    let read_models = &[Wishes::NAME, Stakeholders::NAME];
    match position {
        Some(position) => state.read_models.at(position, read_models).await?,
        None => state.read_models.caught_up(read_models).await?,
    }
    let doc: WishDoc = state
        .read_models
        .view()
        .one::<Wishes>(&id.to_string())
        .await?
        .ok_or_else(|| domain_error(DomainError::UnknownWish))?;
    let who: Option<StakeholderDoc> =
        view.one::<Stakeholders>(&doc.stakeholder_id.to_string()).await?;
    let names: Names = who.into_iter().map(|p| (p.stakeholder_id, p.name)).collect();
    Ok(wish_view(doc, now(), &names))
}

/// One wish, with every headway on it.
#[utoipa::path(
    tag = "wishes",
    params(("id" = Uuid, Path, description = "The wish id")),
    responses(
        (status = 200, body = WishView),
        (status = 400, description = "`invalid-path`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-wish`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/wishes/{id}")]
pub async fn get_wish(
    state: Data<State>,
    principal: Principal,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let id = path_id("id", &id)?;
    Ok(HttpResponse::Ok().json(wish(&state, id, None).await?))
}

/// Headway on a wish.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ProgressBody {
    /// What happened (or, when reopening, why).
    note: LongText,
    /// The status after it. `done` and `declined` wishes only reopen (`open`, `in_progress`).
    status: WishStatus,
}

/// Record headway on a wish, and its status after it.
#[utoipa::path(
    tag = "wishes",
    params(("id" = Uuid, Path)),
    request_body = ProgressBody,
    responses(
        (status = 201, description = "Recorded: the wish as it is now", body = WishView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-wish`", body = web::Problem),
        (status = 409, description = "`wish-closed`: done or declined, and not reopened", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/wishes/{id}/progress")]
pub async fn progress_wish(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = path_id("id", &id)?;
    let progress = parse::progress(&body)?;
    let meta = metadata(&principal, &req);
    let at = now();
    let done = state
        .commands
        .run::<Wish>(&meta, stream(wish_stream(id)), &[], |wish, _| {
            let command = ProgressWish { note: progress.note.clone(), status: progress.status, at };
            wish.handle(command).map_err(domain_error)
        })
        .await?;
    Ok(HttpResponse::Created().json(wish(&state, id, done.position).await?))
}
