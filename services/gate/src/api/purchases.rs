//! The purchases: the list (and the held queue), one purchase, and what IT staff do with a
//! flagged one. Cancelling is refused (409 `call-required`) until a call that reached the
//! requester (with their goal) was logged after the flag and an alternative was proposed.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web::{Bytes, Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post};
use auth::{Principal, Role};
use chrono::{DateTime, Utc};
use eventlog::{ExpectedVersion, RecordedEvent, StoreError};
use events::gate::{
    AlternativeProposed, CallLogged, Decision, PurchaseApproved, PurchaseCancelled, PurchaseLine,
    PurchaseStatus, Reason,
};
use events::values::{
    Currency, Email, ExternalRef, LongText, Mcc, Money, PaymentMethod, SchoolId, ShortText,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::{RETRIES, metadata, parse, purchase_error, store_error};
use crate::app::State;
use crate::domain::{self, LogCall, ProposeAlternative, Purchase, PurchaseCommand, PurchaseError};
use crate::projections::{PURCHASES, PurchaseSummary, SCHOOLS, SchoolDoc};

const READERS: &[Role] = &[Role::ItStaff, Role::Auditor, Role::Admin, Role::Finance];
const WRITERS: &[Role] = &[Role::ItStaff, Role::Admin];

/// Finance systems see only their own purchases; others see all of them.
fn may_see(principal: &Principal, submitted_by: &str) -> bool {
    principal.has_any(&[Role::ItStaff, Role::Auditor, Role::Admin])
        || principal.subject == submitted_by
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only purchases in this status; `held` is IT's queue.
    status: Option<PurchaseStatus>,
    school_id: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
    /// Continue after this `sequence` (the `next_after` of the previous page).
    after: Option<u64>,
}

/// A purchase in the list, with its school as the gate knows it now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListedPurchase {
    #[serde(flatten)]
    pub purchase: PurchaseSummary,
    pub school_name: Option<String>,
    /// Whether the school has the purchasing agreement in force now.
    pub school_gated_now: bool,
}

/// A page of purchases, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseList {
    pub purchases: Vec<ListedPurchase>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// List purchases, oldest first: the held queue is `?status=held`.
///
/// IT staff, auditors and admins see every purchase; a finance system sees its own. The list
/// includes every purchase whose check was answered before the request.
#[utoipa::path(
    tag = "purchases",
    params(ListQuery),
    responses(
        (status = 200, body = PurchaseList),
        (status = 400, description = "A bad query parameter", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/purchases")]
pub async fn list_purchases(
    state: Data<State>,
    principal: Principal,
    query: Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid-query", "`limit` must be from 1 to 1000."));
    }
    // Everything answered before this request is in the list.
    let head = state.store.head().await.map_err(store_error)?;
    let caught_up =
        futures::future::try_join(state.purchases.wait_for(head), state.schools.wait_for(head));
    if tokio::time::timeout(Duration::from_secs(5), caught_up).await.is_err() {
        return Err(ApiError::unavailable("The purchase list is catching up; try again shortly."));
    }
    let (docs, schools) =
        futures::try_join!(state.store.documents(PURCHASES), state.store.documents(SCHOOLS),)
            .map_err(store_error)?;
    let schools: HashMap<String, SchoolDoc> = schools
        .into_iter()
        .filter_map(|(key, doc)| Some((key, serde_json::from_value(doc).ok()?)))
        .collect();
    let after = query.after.unwrap_or(0);
    let mut purchases: Vec<PurchaseSummary> = docs
        .into_iter()
        .filter_map(|(_, doc)| serde_json::from_value::<PurchaseSummary>(doc).ok())
        .filter(|p| p.sequence > after)
        .filter(|p| query.status.is_none_or(|s| p.status == s))
        .filter(|p| query.school_id.as_ref().is_none_or(|s| &p.school_id == s))
        .filter(|p| may_see(&principal, &p.submitted_by))
        .collect();
    purchases.sort_by_key(|p| p.sequence);
    let next_after = (purchases.len() > limit).then(|| purchases[limit - 1].sequence);
    purchases.truncate(limit);
    let purchases = purchases
        .into_iter()
        .map(|purchase| {
            let school = schools.get(&purchase.school_id);
            ListedPurchase {
                school_name: school.and_then(|s| s.status.name.as_ref()).map(ToString::to_string),
                school_gated_now: school.is_some_and(|s| s.status.is_gated()),
                purchase,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(PurchaseList { purchases, next_after }))
}

/// Who did something, and when.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    /// The event's position in the log.
    pub sequence: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_role: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    #[serde(flatten)]
    pub call: CallLogged,
    pub logged_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlternativeView {
    #[serde(flatten)]
    pub alternative: AlternativeProposed,
    pub proposed_at: DateTime<Utc>,
    pub accepted: bool,
}

/// A purchase: what was asked, what the gate decided and why, and what IT did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseView {
    pub purchase_id: Uuid,
    pub status: PurchaseStatus,
    pub external_ref: ExternalRef,
    pub school_id: SchoolId,
    pub requester_email: Email,
    pub vendor: ShortText,
    pub payment_method: PaymentMethod,
    pub merchant_category_code: Option<Mcc>,
    pub currency: Currency,
    pub lines: Vec<PurchaseLine>,
    pub purpose: Option<LongText>,
    pub total: Money,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub policy_version: u64,
    pub school_gated: bool,
    /// When the gate flagged it (held or advisory).
    pub flagged_at: Option<DateTime<Utc>>,
    pub calls: Vec<CallView>,
    pub alternatives: Vec<AlternativeView>,
    pub approval: Option<PurchaseApproved>,
    pub cancellation: Option<PurchaseCancelled>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether IT may cancel it now (a held purchase after a reached call and an alternative).
    pub cancellable: bool,
    pub timeline: Vec<TimelineEntry>,
    /// The purchase stream's version.
    pub version: u64,
}

fn view(purchase: Purchase, records: &[RecordedEvent]) -> Result<PurchaseView, ApiError> {
    let cancellable = purchase.can_cancel().is_ok();
    let (Some(s), Some(d), Some(status), Some(submitted_at)) =
        (purchase.submission, purchase.decision, purchase.status, purchase.submitted_at)
    else {
        return Err(ApiError::internal("a purchase stream without its submission and decision"));
    };
    Ok(PurchaseView {
        purchase_id: s.purchase_id,
        status,
        external_ref: s.external_ref,
        school_id: s.school_id,
        requester_email: s.requester_email,
        vendor: s.vendor,
        payment_method: s.payment_method,
        merchant_category_code: s.merchant_category_code,
        currency: s.currency,
        lines: s.lines,
        purpose: s.purpose,
        total: s.total,
        submitted_by: s.submitted_by,
        submitted_at,
        decision: d.decision,
        reasons: d.reasons,
        policy_version: d.policy_version,
        school_gated: d.school_gated,
        flagged_at: purchase.flagged_at,
        calls: purchase
            .calls
            .into_iter()
            .map(|c| CallView { call: c.call, logged_at: c.logged_at })
            .collect(),
        alternatives: purchase
            .alternatives
            .into_iter()
            .map(|a| AlternativeView {
                alternative: a.proposal,
                proposed_at: a.proposed_at,
                accepted: a.accepted,
            })
            .collect(),
        approval: purchase.approval,
        cancellation: purchase.cancellation,
        closed_at: purchase.closed_at,
        cancellable,
        timeline: records
            .iter()
            .map(|r| TimelineEntry {
                sequence: r.position,
                event_type: r.event_type.clone(),
                at: r.recorded_at,
                actor: r.metadata.actor.subject.clone(),
                actor_role: r.metadata.actor.role.clone(),
            })
            .collect(),
        version: purchase.version,
    })
}

fn purchase_id(raw: &str) -> Result<Uuid, ApiError> {
    parse::path("id", raw, Uuid::parse_str)
}

/// A purchase the caller may see, or 404.
async fn visible(state: &State, principal: &Principal, id: Uuid) -> Result<PurchaseView, ApiError> {
    let (purchase, records) = state.purchase(id).await?;
    let submitted_by = purchase.submission.as_ref().map(|s| s.submitted_by.clone());
    match submitted_by {
        Some(by) if may_see(principal, &by) => view(purchase, &records),
        _ => Err(purchase_error(PurchaseError::NotFound)),
    }
}

/// One purchase: its lines, the decision and every reason, calls, alternatives and timeline.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path, description = "The purchase id")),
    responses(
        (status = 200, body = PurchaseView),
        (status = 400, description = "Not a purchase id", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "No such purchase (or not yours)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/purchases/{id}")]
pub async fn get_purchase(
    state: Data<State>,
    principal: Principal,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let id = purchase_id(&id)?;
    Ok(HttpResponse::Ok().json(visible(&state, &principal, id).await?))
}

/// Runs an IT command on a purchase: read, decide, append at the version read; again if
/// another writer got there first. Returns the purchase afterwards.
async fn act(
    state: &State,
    principal: &Principal,
    req: &HttpRequest,
    id: Uuid,
    command: impl Fn(&Purchase) -> PurchaseCommand,
) -> Result<PurchaseView, ApiError> {
    let meta = metadata(principal, req);
    let stream = domain::purchase_stream(id);
    let _serialized = state.lock_stream(&stream).await;
    for _ in 0..RETRIES {
        let (purchase, _) = state.purchase(id).await?;
        if purchase.version == 0 {
            return Err(purchase_error(PurchaseError::NotFound));
        }
        let events = purchase.handle(command(&purchase)).map_err(purchase_error)?;
        let new_events = events.iter().map(|e| domain::new_event(e, meta.clone())).collect();
        match state
            .store
            .append(&stream, ExpectedVersion::Exact(purchase.version), new_events)
            .await
        {
            Ok(_) => {
                let (purchase, records) = state.purchase(id).await?;
                return view(purchase, &records);
            }
            Err(StoreError::WrongExpectedVersion { .. }) => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(ApiError::conflict(
        "concurrent-update",
        "Others changed this purchase at the same moment; try again.",
    ))
}

/// A call with the requester to log.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CallBody {
    /// Whether you spoke with the requester.
    requester_reached: bool,
    /// What the requester is trying to accomplish: required when they were reached.
    goal: Option<LongText>,
    notes: Option<LongText>,
    /// When the call took place (default: now). Not before the purchase was flagged.
    occurred_at: Option<DateTime<Utc>>,
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
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = purchase_id(&id)?;
    let call = parse::call(&body)?;
    let call_id = Uuid::now_v7();
    let view = act(&state, &principal, &req, id, |_| {
        let now = Utc::now();
        PurchaseCommand::LogCall(LogCall {
            call_id,
            requester_reached: call.requester_reached,
            goal: call.goal.clone(),
            notes: call.notes.clone(),
            occurred_at: call.occurred_at.unwrap_or(now),
            now,
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// An alternative to propose.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AlternativeBody {
    description: LongText,
    /// What the purchase would be instead (optional).
    lines: Option<Vec<PurchaseLine>>,
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
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = purchase_id(&id)?;
    let (description, lines) = parse::alternative(&body)?;
    let alternative_id = Uuid::now_v7();
    let view = act(&state, &principal, &req, id, |_| {
        PurchaseCommand::ProposeAlternative(ProposeAlternative {
            alternative_id,
            description: description.clone(),
            lines: lines.clone(),
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
    principal: Principal,
    req: HttpRequest,
    ids: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = purchase_id(&ids.0)?;
    let alternative_id = parse::path("alt_id", &ids.1, Uuid::parse_str)?;
    let view = act(&state, &principal, &req, id, |_| PurchaseCommand::AcceptAlternative {
        alternative_id,
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ApproveBody {
    note: Option<LongText>,
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
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = purchase_id(&id)?;
    let note = parse::optional_text(&parse::optional_json(&req, &body)?, "note")?;
    let view =
        act(&state, &principal, &req, id, |_| PurchaseCommand::Approve { note: note.clone() })
            .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CancelBody {
    /// Why, for the requester and the record.
    reason: LongText,
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
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = purchase_id(&id)?;
    let reason = parse::required_text(&body, "reason")?;
    let view =
        act(&state, &principal, &req, id, |_| PurchaseCommand::Cancel { reason: reason.clone() })
            .await?;
    Ok(HttpResponse::Ok().json(view))
}
