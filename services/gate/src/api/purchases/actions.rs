//! What IT staff do with a flagged purchase. Cancelling is refused (409 `call-required`) until
//! a call that reached the requester (with their goal) was logged after the flag and an
//! alternative was proposed; accepting an alternative, until such a call was logged.
//!
//! Every action takes an optional `Idempotency-Key` ([`kernel::http::Idempotency`]): the same
//! key and body again change nothing and get the first answer (with `Idempotent-Replayed:
//! true`), another body under the key is 409 `idempotency-conflict`. The answer is the purchase
//! as the action left it (the stream up to the action's events), so a repeat gets the same
//! purchase as the first request did, whatever happened since (its clocks aside, which are as
//! of now).

use super::super::{ActionErrors, Change, Secured};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post};
use events::values::Email;
use kernel::ReadModel;
use kernel::Run;
use kernel::http::{Body, IdempotencyKeyHeader, OptionalBody, Reply, Written};
use serde_json::Value;
use uuid::Uuid;
use web::ApiError;

use super::super::bodies::{
    AcceptBody, AlternativeBody, ApproveBody, CallBody, CancelBody, WaitingBody,
};
use super::PurchaseView;
use crate::app::State;
use crate::domain::{
    self, Occurred, ProposeAlternative, Purchase, PurchaseCommand, PurchaseError, assess_lines,
};
use crate::read_models::{StakeholderEmails, stakeholder_with_email};

/// The purchase as an action left it, and what the action wrote (or, for a repeat, that it
/// was one).
struct Acted {
    view: PurchaseView,
    written: Written,
}

impl Acted {
    /// The answer with `status`; a repeat says so (`Idempotent-Replayed: true`).
    fn respond(self, status: StatusCode) -> HttpResponse {
        self.written.respond(status).json(self.view)
    }
}

/// Runs an IT command on a purchase, once per `Idempotency-Key` (`body` is what the key
/// names with the path): the kernel's runner decides it against the purchase as stored (404
/// when there is none) and appends it with the key's use; `created` are the ids of what it
/// creates. Returns the purchase as the command (or, for a repeat, the first one) left it.
async fn act(
    cx: &Change,
    id: Uuid,
    body: &Value,
    created: &[Uuid],
    command: impl Fn(&Purchase) -> PurchaseCommand,
) -> Result<Acted, ApiError> {
    let (state, once) = (&cx.state, cx.idempotency(body)?);
    let meta = cx.metadata("gate");
    let stream = domain::purchase_stream(id);
    let run = state
        .commands
        .run_idempotent(&meta, once.as_ref(), created, stream, &[], |purchase: &Purchase, _| {
            if purchase.version == 0 {
                return Err(PurchaseError::NotFound.into());
            }
            Ok(purchase.handle(command(purchase))?.into())
        })
        .await?;
    let version = match &run {
        Run::Done(done) => done.after,
        Run::Repeat(first) => first.version,
    };
    let written = Written::of(run, created);
    let ((_, mut records), district) = futures::try_join!(state.purchase(id), state.district())?;
    records.truncate(usize::try_from(version).unwrap_or(usize::MAX));
    let purchase = domain::load(&records).map_err(ApiError::internal)?;
    let view = super::view::view(purchase, &records, &district.0, cx.state.clock.now())?;
    Ok(Acted { view, written })
}

/// When a step logged after the fact took place (`occurred_at`, if given), with the server's
/// time now.
fn occurred(state: &State, occurred_at: Option<chrono::DateTime<chrono::Utc>>) -> Option<Occurred> {
    occurred_at.map(|at| Occurred { at, now: state.clock.now() })
}

/// The registered stakeholder whose e-mail is the requester's of purchase `id`, if any (none
/// for an unknown purchase: the command then answers 404). Waits for `gate.stakeholders` to
/// reach the log's head, so a stakeholder registered before the request is known.
async fn requester_of(state: &State, id: Uuid) -> Result<Option<Uuid>, ApiError> {
    let (purchase, _) = state.purchase(id).await?;
    let Some(email): Option<Email> = purchase.submission.map(|s| s.requester_email) else {
        return Ok(None);
    };
    state.read_models.caught_up(&[StakeholderEmails::NAME]).await?;
    let docs = state.read_models.view().all::<StakeholderEmails>().await?;
    Ok(stakeholder_with_email(&docs, &email))
}

/// Log a call with the requester of a flagged purchase.
///
/// The call records whom IT spoke with (`spoke_with`): when the purchase's `requester_email`
/// belongs to a registered stakeholder, a call that reached the requester is with that person
/// and records their stakeholder id; otherwise it names the person reached (`name`, and
/// `phone` or `email`). A call may not predate the flag, nor be more than five minutes ahead of
/// the server's clock.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = CallBody,
    responses(
        (status = 201, description = "Logged; the purchase as the call left it", body = PurchaseView),
        (status = 400, description = "`invalid-path`, `malformed-json`, `invalid-header` (the Idempotency-Key)", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or an admin", body = web::Problem),
        (status = 404, body = web::Problem),
        (status = 409, description = "`invalid-state`: the purchase is not held or advisory; `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`, `goal-required`, `call-before-flag`, `call-in-future`, `reached-person-required`, `not-the-requester`", body = web::Problem),
    ),
)]
#[post("/v1/purchases/{id}/calls")]
pub async fn log_call(cx: Change, body: Body<CallBody>) -> Reply {
    let id = cx.path_id("id")?;
    let call = body.parse()?;
    let requester = requester_of(&cx.state, id).await?;
    let call_id = Uuid::now_v7();
    let acted = act(&cx, id, body.json(), &[call_id], |_| {
        PurchaseCommand::LogCall(call.logged(call_id, requester, cx.state.clock.now()))
    })
    .await?;
    Ok(acted.respond(StatusCode::CREATED))
}

/// Propose an alternative to a flagged purchase.
///
/// It may name the call in which it was discussed (`call_id`). Its lines are judged against
/// the standards like a check's (`assessment`): an alternative whose lines are themselves
/// unsupported says so in its reasons. Logged after the fact, it says when it was proposed
/// (`occurred_at`): not before the flag, nor more than five minutes ahead of the server's
/// clock.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = AlternativeBody,
    responses(
        (status = 201, description = "Proposed; the purchase as the proposal left it", body = PurchaseView),
        ActionErrors,
        (status = 409, description = "`invalid-state`; `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`, `call-not-found`, `occurred-before-flag`, `occurred-in-future`", body = web::Problem),
    ),
)]
#[post("/v1/purchases/{id}/alternatives")]
pub async fn propose_alternative(cx: Change, body: Body<AlternativeBody>) -> Reply {
    let id = cx.path_id("id")?;
    let proposal = body.parse()?;
    let lines = proposal.lines.clone().unwrap_or_default();
    let assessment = assess_lines(&lines, &*cx.state.standards().await?);
    let alternative_id = Uuid::now_v7();
    let acted = act(&cx, id, body.json(), &[alternative_id], |_| {
        PurchaseCommand::ProposeAlternative(ProposeAlternative {
            alternative_id,
            description: proposal.description.clone(),
            lines: lines.clone(),
            call_id: proposal.call_id,
            assessment: assessment.clone(),
            occurred: occurred(&cx.state, proposal.occurred_at),
        })
    })
    .await?;
    Ok(acted.respond(StatusCode::CREATED))
}

/// The requester accepted an alternative: the purchase is approved as amended.
///
/// Accepting replaces what the requester asked for, so it obeys call before cancel: 409
/// `call-required` until a call that reached the requester (with their goal) was logged after
/// the flag. A refusal changes nothing. Logged after the fact, it says when the requester
/// accepted (`occurred_at`): the purchase's clocks stop then.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path), ("alt_id" = Uuid, Path), IdempotencyKeyHeader),
    request_body(content = Option<AcceptBody>, description = "Optional"),
    responses(
        (status = 200, body = PurchaseView),
        (status = 400, description = "`invalid-path`, `malformed-json`, `invalid-header` (the Idempotency-Key)", body = web::Problem),
        Secured,
        (status = 404, description = "No such purchase or alternative", body = web::Problem),
        (status = 409, description = "`call-required`: no reached call after the flag yet; `invalid-state`: not held; `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`, `occurred-before-flag`, `occurred-in-future`, `occurred-out-of-order`", body = web::Problem),
    ),
)]
#[post("/v1/purchases/{id}/alternatives/{alt_id}/accept")]
pub async fn accept_alternative(cx: Change, body: OptionalBody<AcceptBody>) -> Reply {
    let id = cx.path_id("id")?;
    let alternative_id = cx.path_id("alt_id")?;
    let occurred_at = body.parse()?.occurred_at;
    let accept = |_: &Purchase| PurchaseCommand::AcceptAlternative {
        alternative_id,
        occurred: occurred(&cx.state, occurred_at),
    };
    // Without a body the key names the path alone, as it did before acceptances had one.
    let named = if occurred_at.is_none() && body.json().as_object().is_some_and(|m| m.is_empty()) {
        &Value::Null
    } else {
        body.json()
    };
    let acted = act(&cx, id, named, &[], accept).await?;
    Ok(acted.respond(StatusCode::OK))
}

/// Approve a held purchase as submitted.
///
/// Logged after the fact, it says when IT decided (`occurred_at`): the purchase's clocks stop
/// then. Not before the flag, nor before a call or an alternative logged on the purchase.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body(content = Option<ApproveBody>, description = "Optional"),
    responses(
        (status = 200, body = PurchaseView),
        ActionErrors,
        (status = 409, description = "`invalid-state`: not held; `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`, `occurred-before-flag`, `occurred-in-future`, `occurred-out-of-order`", body = web::Problem),
    ),
)]
#[post("/v1/purchases/{id}/approve")]
pub async fn approve(cx: Change, body: OptionalBody<ApproveBody>) -> Reply {
    let id = cx.path_id("id")?;
    let approval = body.parse()?;
    let approve = |_: &Purchase| PurchaseCommand::Approve {
        note: approval.note.clone(),
        occurred: occurred(&cx.state, approval.occurred_at),
    };
    let acted = act(&cx, id, body.json(), &[], approve).await?;
    Ok(acted.respond(StatusCode::OK))
}

/// Cancel a held purchase: only after calling the requester and proposing an alternative.
///
/// Refused with 409 `call-required` unless a call with `requester_reached: true` (and the
/// requester's goal) was logged after the purchase was flagged, and an alternative was
/// proposed after the flag. A refusal changes nothing. Logged after the fact, it says when IT
/// decided (`occurred_at`): the purchase's clocks stop then; the call and the alternative came
/// before it, so it may not be dated before them.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = CancelBody,
    responses(
        (status = 200, body = PurchaseView),
        ActionErrors,
        (status = 409, description = "`call-required`, or `invalid-state` (not held); `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`, `occurred-before-flag`, `occurred-in-future`, `occurred-out-of-order`", body = web::Problem),
    ),
)]
#[post("/v1/purchases/{id}/cancel")]
pub async fn cancel(cx: Change, body: Body<CancelBody>) -> Reply {
    let id = cx.path_id("id")?;
    let cancellation = body.parse()?;
    let cancel = |_: &Purchase| PurchaseCommand::Cancel {
        reason: cancellation.reason.clone(),
        occurred: occurred(&cx.state, cancellation.occurred_at),
    };
    let acted = act(&cx, id, body.json(), &[], cancel).await?;
    Ok(acted.respond(StatusCode::OK))
}

/// IT waits on the requester: they will send the details, check with their team, come back
/// with a quote. The decision clock pauses from now until a call that reaches them (their
/// answer), as after a call that did not reach them; `sla.paused` says so meanwhile.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = WaitingBody,
    responses(
        (status = 200, body = PurchaseView),
        ActionErrors,
        (status = 409, description = "`invalid-state` (not held); `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
)]
#[post("/v1/purchases/{id}/waiting")]
pub async fn wait_on_requester(cx: Change, body: Body<WaitingBody>) -> Reply {
    let id = cx.path_id("id")?;
    let note = body.parse()?.note;
    let now = cx.state.clock.now();
    let wait = |_: &Purchase| PurchaseCommand::WaitOnRequester { note: note.clone(), now };
    let acted = act(&cx, id, body.json(), &[], wait).await?;
    Ok(acted.respond(StatusCode::OK))
}
