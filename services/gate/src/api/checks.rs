//! `POST /v1/purchase-checks`: a finance system asks about a purchase.
//!
//! The purchase's id is derived from the caller's identity and its idempotency key (the
//! `Idempotency-Key` header, else `external_ref`): UUID v5, so the same question always lands on
//! the same stream. The first answer is appended with "no stream yet" as the expected version;
//! a repeat finds the stream and gets the stored answer (200), or a 409 if its body differs. Two
//! identical requests at the same moment: one appends, the other's append conflicts, and it
//! answers from what the first stored.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web::Data, web::Json};
use auth::{Principal, Role};
use eventlog::{ExpectedVersion, RecordedEvent, StoreError};
use events::gate::{Decision, PurchaseEvent, PurchaseLine, Reason};
use events::values::{
    Currency, Email, ExternalRef, IdempotencyKey, LongText, Mcc, Money, PaymentMethod, SchoolId,
    ShortText,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::{decision_error, metadata, parse, purchase_error, store_error};
use crate::app::State;
use crate::domain::{self, Purchase, PurchaseCommand, PurchaseError, Submit};

/// Namespace of purchase ids: v5(namespace, subject ␀ key).
const PURCHASE_NAMESPACE: Uuid = Uuid::from_u128(0x6f0b_52c2_8c8e_4f6c_9a3b_4f1e_2d7a_0c31);

/// A purchase check, as sent by a finance system.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PurchaseCheckBody {
    /// Your id for the purchase. With your identity it is the idempotency key: the same
    /// `external_ref` with the same body gets the same answer, never a second purchase.
    external_ref: ExternalRef,
    school_id: SchoolId,
    /// Who at the school wants to buy: the person IT will call.
    requester_email: Email,
    vendor: ShortText,
    payment_method: PaymentMethod,
    merchant_category_code: Option<Mcc>,
    /// ISO 4217; must be the policy's currency.
    currency: Currency,
    /// 1 to 500 lines.
    lines: Vec<PurchaseLine>,
    purpose: Option<LongText>,
}

/// Links to follow from an answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckLinks {
    /// The purchase: its state, reasons, calls and timeline.
    pub purchase: String,
}

/// The gate's answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckAnswer {
    pub purchase_id: Uuid,
    /// `approved`: go ahead. `held`: wait for IT. `advisory`: you may go ahead; IT was told.
    pub decision: Decision,
    /// Every rule that fired, per line where it applies.
    pub reasons: Vec<Reason>,
    pub total: Money,
    pub currency: Currency,
    /// The version of the standards (catalog and policy) the decision was made against.
    pub policy_version: u64,
    /// Whether the school has signed the purchasing agreement.
    pub school_gated: bool,
    pub links: CheckLinks,
}

impl CheckAnswer {
    /// The answer recorded in a purchase's events.
    pub fn from_records(records: &[RecordedEvent]) -> Result<Self, ApiError> {
        let mut submitted = None;
        let mut decided = None;
        for record in records.iter().take(2) {
            match domain::decode::<PurchaseEvent>(record).map_err(ApiError::internal)? {
                PurchaseEvent::Submitted(s) => submitted = Some(s),
                PurchaseEvent::Decided(d) => decided = Some(d),
                _ => {}
            }
        }
        let (Some(s), Some(d)) = (submitted, decided) else {
            return Err(ApiError::internal(
                "a purchase stream without its submission and decision",
            ));
        };
        Ok(Self {
            purchase_id: s.purchase_id,
            decision: d.decision,
            reasons: d.reasons,
            total: s.total,
            currency: s.currency,
            policy_version: d.policy_version,
            school_gated: d.school_gated,
            links: CheckLinks { purchase: format!("/v1/purchases/{}", s.purchase_id) },
        })
    }
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else { return Ok(None) };
    let text = value.to_str().map_err(|_| {
        ApiError::bad_request("invalid-header", "The Idempotency-Key header must be visible ASCII.")
    })?;
    IdempotencyKey::parse(text).map(Some).map_err(|e| {
        ApiError::bad_request(
            "invalid-header",
            format!("The Idempotency-Key header is invalid: {}", e.message()),
        )
    })
}

/// The stored answer to a repeat, or a conflict when the repeat asks something else.
fn repeat(
    purchase: &Purchase,
    records: &[RecordedEvent],
    hash: &str,
) -> Result<HttpResponse, ApiError> {
    let stored = purchase.submission.as_ref().map(|s| s.request_hash.as_str());
    if stored != Some(hash) {
        let id = purchase.id().unwrap_or_default();
        return Err(purchase_error(PurchaseError::IdempotencyConflict { purchase_id: id })
            .with_extension("purchase_id", id));
    }
    Ok(HttpResponse::Ok().json(CheckAnswer::from_records(records)?))
}

/// Ask about a purchase.
///
/// Answered at once: `approved`, `held` (the school signed the purchasing agreement and IT must
/// review: wait) or `advisory` (the school has not signed: you may go ahead, IT is told), with
/// every reason. `201` for a new purchase; `200` with the original answer when the same
/// `external_ref` (or `Idempotency-Key`) comes again with the same body; `409
/// idempotency-conflict` when it comes with a different body.
#[utoipa::path(
    tag = "purchase checks",
    request_body = PurchaseCheckBody,
    params(("Idempotency-Key" = Option<String>, Header,
            description = "Optional: identifies the purchase instead of `external_ref`.")),
    responses(
        (status = 201, description = "A new purchase, decided", body = CheckAnswer),
        (status = 200, description = "A repeat: the original answer", body = CheckAnswer),
        (status = 400, description = "Malformed JSON or header", body = web::Problem),
        (status = 401, description = "No valid token", body = web::Problem),
        (status = 403, description = "Not a finance system", body = web::Problem),
        (status = 409, description = "`idempotency-conflict`: the key was used for another request", body = web::Problem),
        (status = 415, description = "Not JSON", body = web::Problem),
        (status = 422, description = "`validation` (see `errors`), `unknown-school`, `currency-mismatch`", body = web::Problem),
        (status = 503, description = "`no-policy`: IT has not set the policy yet", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/purchase-checks")]
pub async fn check_purchase(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(&[Role::Finance])?;
    let check = parse::purchase_check(&body)?;
    let key = idempotency_key(&req)?;
    let name = format!(
        "{}\u{0}{}",
        principal.subject,
        key.as_ref().map_or(check.external_ref.as_str(), IdempotencyKey::as_str)
    );
    let purchase_id = Uuid::new_v5(&PURCHASE_NAMESPACE, name.as_bytes());
    let hash = check.request_hash();

    let (existing, records, school, standards) =
        state.check_inputs(purchase_id, &check.school_id).await?;
    if existing.version > 0 {
        return repeat(&existing, &records, &hash);
    }
    if !school.registered {
        return Err(ApiError::unprocessable(
            "unknown-school",
            format!("There is no school {}; IT registers schools first.", check.school_id),
        )
        .with_extension("school_id", check.school_id.as_str()));
    }
    let submit =
        Submit::new(purchase_id, check, principal.subject.clone(), key, &school, &standards)
            .map_err(decision_error)?;
    let answer_events =
        Purchase::default().handle(PurchaseCommand::Submit(submit)).map_err(purchase_error)?;
    let meta = metadata(&principal, &req);
    let new_events = answer_events.iter().map(|e| domain::new_event(e, meta.clone())).collect();
    let stream = domain::purchase_stream(purchase_id);
    match state.store.append(&stream, ExpectedVersion::NoStream, new_events).await {
        Ok(_) => {}
        // The same question at the same moment: answer from what the other one stored.
        Err(StoreError::WrongExpectedVersion { .. }) => {
            let (purchase, records) = state.purchase(purchase_id).await?;
            return repeat(&purchase, &records, &hash);
        }
        Err(e) => return Err(store_error(e)),
    }
    let (submitted, decided) = match answer_events.as_slice() {
        [PurchaseEvent::Submitted(s), PurchaseEvent::Decided(d)] => (s, d),
        _ => return Err(ApiError::internal("a submission is a submitted and a decided event")),
    };
    let answer = CheckAnswer {
        purchase_id,
        decision: decided.decision,
        reasons: decided.reasons.clone(),
        total: submitted.total,
        currency: submitted.currency,
        policy_version: decided.policy_version,
        school_gated: decided.school_gated,
        links: CheckLinks { purchase: format!("/v1/purchases/{purchase_id}") },
    };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, answer.links.purchase.clone()))
        .json(answer))
}
