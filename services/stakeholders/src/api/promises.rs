//! Promises (`promise-{uuid}` streams): what IT promised a stakeholder or a school, and
//! whether it kept it. The purchasing agreement's standing call-before-cancel promise is made
//! by the signature and settled by the gate's record, never by hand.

use actix_web::http::header;
use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth::Principal;
use chrono::NaiveDate;
use events::school::school_stream;
use events::stakeholders::{PromiseTo, promise_stream, stakeholder_stream};
use events::values::{LongText, SchoolId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::views::{Joins, PromiseState, PromiseView, promise_view, sort_promises};
use super::{
    Page, READERS, WRITERS, body_reference_error, domain_error, load, metadata, now, page, parse,
    path_id, query_param, stream, today,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::promise::{MakePromise, Promise, PromiseCommand, Settle};
use crate::domain::school::School;
use crate::domain::stakeholder::Stakeholder;
use crate::read_models::{HeldPurchases, PromiseDoc, Promises, Schools};
use kernel::{Aggregate, ReadModel};

/// The read models promise views are built from.
const VIEW: &[&str] = &[Promises::NAME, Schools::NAME, HeldPurchases::NAME];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PromiseQuery {
    /// Only promises that stand so today (`open` excludes `overdue`).
    status: Option<PromiseState>,
    /// Only promises made to this person.
    stakeholder_id: Option<Uuid>,
    /// Only promises made to this school.
    school_id: Option<String>,
    /// Only promises made by this person (the JWT subject that made them).
    owner: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
    /// Skip this many (the `next_offset` of the previous page).
    offset: Option<usize>,
}

/// A page of promises: overdue first, then open, then kept or broken; by due date.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromiseList {
    pub promises: Vec<PromiseView>,
    #[serde(flatten)]
    pub page: Page,
}

/// List promises with where each stands today: overdue first, then open, then kept or broken.
#[utoipa::path(
    tag = "promises",
    params(PromiseQuery),
    responses(
        (status = 200, body = PromiseList),
        (status = 400, description = "`invalid-query`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/promises")]
pub async fn list_promises(
    state: Data<State>,
    principal: Principal,
    query: Query<PromiseQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let school_id = query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    state.read_models.caught_up(VIEW).await?;
    let docs: Vec<PromiseDoc> = state
        .read_models
        .view()
        .all::<Promises>()
        .await?
        .into_iter()
        .filter(|p| match (&p.to, query.stakeholder_id, &school_id) {
            (_, None, None) => true,
            (PromiseTo::Stakeholder { stakeholder_id }, Some(wanted), None) => {
                *stakeholder_id == wanted
            }
            (PromiseTo::School { school_id }, None, Some(wanted)) => school_id == wanted,
            _ => false,
        })
        .filter(|p| query.owner.as_ref().is_none_or(|o| &p.owner == o))
        .collect();
    let joins = Joins::for_promises(&state, &docs).await?;
    let today = today(now());
    let mut promises: Vec<PromiseView> = docs
        .into_iter()
        .map(|p| promise_view(p, today, &joins))
        .filter(|p| query.status.is_none_or(|s| p.status == s))
        .collect();
    sort_promises(&mut promises);
    let (promises, page) = page(promises, query.limit, query.offset)?;
    Ok(HttpResponse::Ok().json(PromiseList { promises, page }))
}

/// The promise as the read models have it once they include `position` (the head now, when
/// `None`).
async fn promise(state: &State, id: Uuid, position: Option<u64>) -> Result<PromiseView, ApiError> {
    match position {
        Some(position) => state.read_models.at(position, VIEW).await?,
        None => state.read_models.caught_up(VIEW).await?,
    }
    let doc: PromiseDoc = state
        .read_models
        .view()
        .one::<Promises>(&id.to_string())
        .await?
        .ok_or_else(|| domain_error(DomainError::UnknownPromise))?;
    let docs = [doc];
    let joins = Joins::for_promises(state, &docs).await?;
    let [doc] = docs;
    Ok(promise_view(doc, today(now()), &joins))
}

/// One promise, and where it stands today.
#[utoipa::path(
    tag = "promises",
    params(("id" = Uuid, Path, description = "The promise id")),
    responses(
        (status = 200, body = PromiseView),
        (status = 400, description = "`invalid-path`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-promise`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/promises/{id}")]
pub async fn get_promise(
    state: Data<State>,
    principal: Principal,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let id = path_id("id", &id)?;
    Ok(HttpResponse::Ok().json(promise(&state, id, None).await?))
}

/// A promise to make.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct PromiseBody {
    /// `{"type": "stakeholder", "stakeholder_id": …}` or `{"type": "school", "school_id": …}`;
    /// registered.
    to: PromiseTo,
    text: LongText,
    /// Today or later.
    due_on: NaiveDate,
}

/// Make a promise to a stakeholder or a school; you are its owner.
#[utoipa::path(
    tag = "promises",
    request_body = PromiseBody,
    responses(
        (status = 201, description = "Made", body = PromiseView),
        (status = 400, description = "`malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or an admin", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `unknown-stakeholder`, `unknown-school`; `date-too-early` (`due_on` before today)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/promises")]
pub async fn make_promise(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let new = parse::promise(&body)?;
    let meta = metadata(&principal, &req);
    let today = today(now());
    let id = Uuid::now_v7();
    let to_stream = match &new.to {
        PromiseTo::Stakeholder { stakeholder_id } => stream(stakeholder_stream(*stakeholder_id)),
        PromiseTo::School { school_id } => stream(school_stream(school_id)),
    };
    let done = state
        .commands
        .run::<Promise>(&meta, stream(promise_stream(id)), &[to_stream], |promise, lookups| {
            let to_exists = match &new.to {
                PromiseTo::Stakeholder { .. } => {
                    load::<Stakeholder>(&lookups[0])?.profile.is_some()
                }
                PromiseTo::School { .. } => load::<School>(&lookups[0])?.status.registered,
            };
            let command = PromiseCommand::Make(MakePromise {
                promise_id: id,
                to: new.to.clone(),
                to_exists,
                text: new.text.clone(),
                due_on: new.due_on,
                owner: principal.subject.clone(),
                today,
            });
            promise.handle(command).map_err(body_reference_error)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/promises/{id}")))
        .json(promise(&state, id, done.position).await?))
}

/// What shows the promise was kept, or broken.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OutcomeBody {
    evidence: LongText,
    /// When (default: today); not in the future, not before the promise was made.
    on: Option<NaiveDate>,
}

async fn settle(
    state: &State,
    principal: &Principal,
    req: &HttpRequest,
    id: &str,
    body: &Value,
    kept: bool,
) -> Result<PromiseView, ApiError> {
    let id = path_id("id", id)?;
    let outcome = parse::outcome(body)?;
    let meta = metadata(principal, req);
    let today = today(now());
    let done = state
        .commands
        .run::<Promise>(&meta, stream(promise_stream(id)), &[], |promise, _| {
            let settle = Settle {
                evidence: outcome.evidence.clone(),
                on: outcome.on.unwrap_or(today),
                today,
            };
            let command =
                if kept { PromiseCommand::Keep(settle) } else { PromiseCommand::Break(settle) };
            promise.handle(command).map_err(domain_error)
        })
        .await?;
    promise(state, id, done.position).await
}

/// The promise was kept.
#[utoipa::path(
    tag = "promises",
    params(("id" = Uuid, Path)),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "The promise now", body = PromiseView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-promise`", body = web::Problem),
        (status = 409, description = "`promise-already-settled`; `standing-promise` (the agreement's promise is settled by the gate's record)", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `date-in-future`, `date-too-early` (`on`)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/promises/{id}/kept")]
pub async fn keep_promise(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    Ok(HttpResponse::Ok().json(settle(&state, &principal, &req, &id, &body, true).await?))
}

/// The promise was broken.
#[utoipa::path(
    tag = "promises",
    params(("id" = Uuid, Path)),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "The promise now", body = PromiseView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-promise`", body = web::Problem),
        (status = 409, description = "`promise-already-settled`; `standing-promise`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `date-in-future`, `date-too-early` (`on`)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/promises/{id}/broken")]
pub async fn break_promise(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    Ok(HttpResponse::Ok().json(settle(&state, &principal, &req, &id, &body, false).await?))
}
