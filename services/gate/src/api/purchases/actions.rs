//! What IT staff do with a flagged purchase. Cancelling is refused (409 `call-required`) until
//! a call that reached the requester (with their goal) was logged after the flag and an
//! alternative was proposed.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, post};
use kernel::http::{self, Body, Caller, OptionalBody};
use uuid::Uuid;
use web::ApiError;

use super::super::Writers;
use super::super::bodies::{AlternativeBody, ApproveBody, CallBody, CancelBody};
use super::PurchaseView;
use crate::app::State;
use crate::domain::{self, LogCall, ProposeAlternative, Purchase, PurchaseCommand, PurchaseError};

/// Runs an IT command on a purchase: the kernel's runner decides it against the purchase as
/// stored (404 when there is none) and appends it; returns the purchase afterwards.
async fn act(
    state: &State,
    who: &Caller<Writers>,
    req: &HttpRequest,
    id: Uuid,
    command: impl Fn(&Purchase) -> PurchaseCommand,
) -> Result<PurchaseView, ApiError> {
    let meta = http::metadata(who, req, "gate");
    state
        .commands
        .run(&meta, domain::purchase_stream(id), &[], |purchase: &Purchase, _| {
            if purchase.version == 0 {
                return Err(PurchaseError::NotFound.into());
            }
            Ok(purchase.handle(command(purchase))?.into())
        })
        .await?;
    let ((purchase, records), district) = futures::try_join!(state.purchase(id), state.district())?;
    super::view::view(purchase, &records, &district.0, state.clock.now())
}

/// Log a call with the requester of a flagged purchase.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path)),
    request_body = CallBody,
    responses(
        (status = 201, description = "Logged; the purchase as it is now", body = PurchaseView),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff", body = web::Problem),
        (status = 404, body = web::Problem),
        (status = 409, description = "`invalid-state`: the purchase is not held or advisory", body = web::Problem),
        (status = 422, description = "`validation`, `goal-required`, `call-before-flag`, `call-in-future`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/purchases/{id}/calls")]
pub async fn log_call(
    state: Data<State>,
    who: Caller<Writers>,
    req: HttpRequest,
    id: Path<String>,
    body: Body<CallBody>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &id)?;
    let body = body.parse()?;
    let call_id = Uuid::now_v7();
    let view = act(&state, &who, &req, id, |_| {
        let now = state.clock.now();
        PurchaseCommand::LogCall(LogCall {
            call_id,
            requester_reached: body.requester_reached,
            goal: body.goal.clone(),
            notes: body.notes.clone(),
            occurred_at: body.occurred_at.unwrap_or(now),
            now,
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Propose an alternative to a flagged purchase.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path)),
    request_body = AlternativeBody,
    responses(
        (status = 201, description = "Proposed; the purchase as it is now", body = PurchaseView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, body = web::Problem),
        (status = 409, description = "`invalid-state`", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/purchases/{id}/alternatives")]
pub async fn propose_alternative(
    state: Data<State>,
    who: Caller<Writers>,
    req: HttpRequest,
    id: Path<String>,
    body: Body<AlternativeBody>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &id)?;
    let body = body.parse()?;
    let alternative_id = Uuid::now_v7();
    let view = act(&state, &who, &req, id, |_| {
        PurchaseCommand::ProposeAlternative(ProposeAlternative {
            alternative_id,
            description: body.description.clone(),
            lines: body.lines.clone().unwrap_or_default(),
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The requester accepted an alternative: the purchase is approved as amended.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path), ("alt_id" = Uuid, Path)),
    responses(
        (status = 200, body = PurchaseView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "No such purchase or alternative", body = web::Problem),
        (status = 409, description = "`invalid-state`: not held", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/purchases/{id}/alternatives/{alt_id}/accept")]
pub async fn accept_alternative(
    state: Data<State>,
    who: Caller<Writers>,
    req: HttpRequest,
    ids: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &ids.0)?;
    let alternative_id = http::path_id("alt_id", &ids.1)?;
    let view =
        act(&state, &who, &req, id, |_| PurchaseCommand::AcceptAlternative { alternative_id })
            .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Approve a held purchase as submitted.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path)),
    request_body(content = Option<ApproveBody>, description = "Optional"),
    responses(
        (status = 200, body = PurchaseView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, body = web::Problem),
        (status = 409, description = "`invalid-state`: not held", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/purchases/{id}/approve")]
pub async fn approve(
    state: Data<State>,
    who: Caller<Writers>,
    req: HttpRequest,
    id: Path<String>,
    body: OptionalBody<ApproveBody>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &id)?;
    let note = body.parse()?.note;
    let view =
        act(&state, &who, &req, id, |_| PurchaseCommand::Approve { note: note.clone() }).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Cancel a held purchase: only after calling the requester and proposing an alternative.
///
/// Refused with 409 `call-required` unless a call with `requester_reached: true` (and the
/// requester's goal) was logged after the purchase was flagged, and an alternative was
/// proposed. A refusal changes nothing.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path)),
    request_body = CancelBody,
    responses(
        (status = 200, body = PurchaseView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, body = web::Problem),
        (status = 409, description = "`call-required`, or `invalid-state` (not held)", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/purchases/{id}/cancel")]
pub async fn cancel(
    state: Data<State>,
    who: Caller<Writers>,
    req: HttpRequest,
    id: Path<String>,
    body: Body<CancelBody>,
) -> Result<HttpResponse, ApiError> {
    let id = http::path_id("id", &id)?;
    let reason = body.parse()?.reason;
    let view =
        act(&state, &who, &req, id, |_| PurchaseCommand::Cancel { reason: reason.clone() }).await?;
    Ok(HttpResponse::Ok().json(view))
}
