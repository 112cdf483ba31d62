//! Promises (`promise-{uuid}` streams): what IT promised a stakeholder or a school, and
//! whether it kept it. The purchasing agreement's standing call-before-cancel promise is made
//! by the signature and settled by the gate's record, never by hand.

use actix_web::http::StatusCode;
use actix_web::web::Query;
use actix_web::{HttpResponse, get, post};
use eventlog::{RecordedEvent, StreamName};
use events::school::school_stream;
use events::stakeholders::{PromiseTo, promise_stream, stakeholder_stream};
use events::values::SchoolId;
use kernel::http::{self, Body, IdempotencyKeyHeader, Page, Paging, Reply};
use kernel::{Aggregate, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::bodies::{OutcomeBody, PromiseBody};
use super::{
    Change, ItemErrors, KeyedCreateErrors, ListErrors, Read, body_reference_error, created,
    read_models, registered_school, registered_stakeholder, run_keyed, today,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::promise::Promise;
use crate::queries::promises::{self, PromiseFilter, PromiseState, PromiseView};

/// The promise as the read models have it once they include `position` (the head now, when
/// `None`).
async fn promise(state: &State, id: Uuid, position: Option<u64>) -> Result<PromiseView, ApiError> {
    let view = read_models(state, position, promises::READS).await?;
    Ok(promises::promise(&view, id, today(state).await?)
        .await?
        .ok_or(DomainError::UnknownPromise)?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PromiseQuery {
    /// Only promises that stand so today (`open` excludes `overdue`).
    status: Option<PromiseState>,
    /// Only promises made to this person.
    stakeholder_id: Option<Uuid>,
    /// Only promises made to this school.
    #[param(value_type = Option<events::values::SchoolId>)]
    school_id: Option<String>,
    /// Only promises made by this person (the JWT subject that made them).
    owner: Option<String>,
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
    params(PromiseQuery, Paging),
    responses((status = 200, body = PromiseList), ListErrors),
)]
#[get("/v1/promises")]
pub async fn list_promises(cx: Read, query: Query<PromiseQuery>, paging: Query<Paging>) -> Reply {
    let school_id = http::query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    let (status, stakeholder_id, owner) = (query.status, query.stakeholder_id, query.owner.clone());
    let filter = PromiseFilter { status, stakeholder_id, school_id, owner };
    let view = read_models(&cx.state, None, promises::READS).await?;
    let list = promises::promises(&view, &filter, today(&cx.state).await?).await?;
    let (promises, page) = paging.page(list)?;
    Ok(HttpResponse::Ok().json(PromiseList { promises, page }))
}

/// One promise, and where it stands today.
#[utoipa::path(
    tag = "promises",
    params(("id" = Uuid, Path, description = "The promise id")),
    responses(
        (status = 200, body = PromiseView),
        (status = 404, description = "`unknown-promise`", body = web::Problem),
        ItemErrors,
    ),
)]
#[get("/v1/promises/{id}")]
pub async fn get_promise(cx: Read) -> Reply {
    let id = cx.path_id("id")?;
    Ok(HttpResponse::Ok().json(promise(&cx.state, id, None).await?))
}

/// Make a promise to a stakeholder or a school; you are its owner.
#[utoipa::path(
    tag = "promises",
    params(IdempotencyKeyHeader),
    request_body = PromiseBody,
    responses(
        (status = 201, description = "Made", body = PromiseView),
        (status = 422, description = "`validation`; `unknown-stakeholder`, `unknown-school`; `date-too-early` (`due_on` before today)", body = web::Problem),
        KeyedCreateErrors,
    ),
)]
#[post("/v1/promises")]
pub async fn make_promise(cx: Change, body: Body<PromiseBody>) -> Reply {
    let new = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let today = today(&cx.state).await?;
    let id = Uuid::now_v7();
    let (own, to) = (stream(promise_stream(id)), recipient_stream(&new.to));
    let written = run_keyed(&cx, once, &[id], own, &[to], |promise: &Promise, lookups| {
        let to_exists = recipient_registered(&new.to, &lookups[0])?;
        let command = new.command(id, to_exists, &cx.who.subject, today);
        promise.handle(command).map_err(body_reference_error)
    })
    .await?;
    let id = written.created(0)?;
    let view = promise(&cx.state, id, written.position).await?;
    Ok(created(&written, Some(format!("/v1/promises/{id}")), view))
}

/// The stream of whom a promise is made `to`, read with the promise.
fn recipient_stream(to: &PromiseTo) -> StreamName {
    match to {
        PromiseTo::Stakeholder { stakeholder_id } => stream(stakeholder_stream(*stakeholder_id)),
        PromiseTo::School { school_id } => stream(school_stream(school_id)),
    }
}

/// Whether whom a promise is made `to` is registered, by their stream's `records`.
fn recipient_registered(to: &PromiseTo, records: &[RecordedEvent]) -> Result<bool, ApiError> {
    match to {
        PromiseTo::Stakeholder { .. } => registered_stakeholder(records),
        PromiseTo::School { .. } => registered_school(records),
    }
}

kernel::problem_responses! {
    /// Keeping or breaking a promise: [`super::KeyedChangeErrors`], no such promise, or a bad
    /// date.
    SettleErrors {
        "400" => "`invalid-path`, `malformed-json`, `invalid-header` (the Idempotency-Key)",
        "401" => "",
        "403" => "",
        "404" => "`unknown-promise`",
        "415" => "",
        "422" => "`validation`; `date-in-future`, `date-too-early` (`on`)",
    }
}

/// Keeps (`kept`) or breaks the promise at the path, with the body's evidence.
async fn settle(cx: &Change, body: &Body<OutcomeBody>, kept: bool) -> Reply {
    let id = cx.path_id("id")?;
    let outcome = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let today = today(&cx.state).await?;
    let own = stream(promise_stream(id));
    let written = run_keyed(cx, once, &[], own, &[], |p: &Promise, _| {
        Ok(p.handle(outcome.command(kept, today))?)
    })
    .await?;
    Ok(written.respond(StatusCode::OK).json(promise(&cx.state, id, written.position).await?))
}

/// The promise was kept.
#[utoipa::path(
    tag = "promises",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "The promise now", body = PromiseView),
        (status = 409, description = "`promise-already-settled`; `standing-promise` (the agreement's promise is settled by the gate's record); `idempotency-conflict`", body = web::Problem),
        SettleErrors,
    ),
)]
#[post("/v1/promises/{id}/kept")]
pub async fn keep_promise(cx: Change, body: Body<OutcomeBody>) -> Reply {
    settle(&cx, &body, true).await
}

/// The promise was broken.
#[utoipa::path(
    tag = "promises",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "The promise now", body = PromiseView),
        (status = 409, description = "`promise-already-settled`; `standing-promise`; `idempotency-conflict`", body = web::Problem),
        SettleErrors,
    ),
)]
#[post("/v1/promises/{id}/broken")]
pub async fn break_promise(cx: Change, body: Body<OutcomeBody>) -> Reply {
    settle(&cx, &body, false).await
}
