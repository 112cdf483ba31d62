//! `POST /v1/purchase-checks`: a finance system asks about a purchase.
//!
//! The purchase's id is derived from the caller's identity and its `external_ref` (UUID v5),
//! so the same question always lands on the same stream. An `Idempotency-Key`, when sent, is
//! recorded too, on a stream of its own derived from the caller and the key, in the same atomic
//! append. Both are appended with "no stream yet" as the expected version. A repeat, by either,
//! gets the stored answer (200), or a 409 `idempotency-conflict` if it asks something else. Two
//! identical requests at the same moment: one appends, the other's append conflicts, and it
//! answers from what the first stored.
//!
//! A repeat gets the original answer (the decision and its reasons, as they were) with the
//! purchase's current `status` beside it: a held purchase may since have been approved or
//! cancelled by IT.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web::Data};
use eventlog::{ExpectedVersion, Metadata, RecordedEvent, StoreError, StreamAppend};
use events::gate::{
    Decision, IdempotencyEvent, IdempotencyKeyUsed, PurchaseDecided, PurchaseEvent, PurchaseStatus,
    PurchaseSubmitted, Reason, idempotency_key_id,
};
use events::values::{Currency, IdempotencyKey, Money, SchoolId};
use kernel::http::{self, Body, Caller, Reply};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::FinanceSystems;
use super::bodies::PurchaseCheckBody;
use crate::app::{CheckInputs, State};
use crate::domain::{self, Purchase, PurchaseCheck, PurchaseCommand, PurchaseError, Submit};

/// Namespace of purchase ids: v5(namespace, subject ␀ external_ref).
const PURCHASE_NAMESPACE: Uuid = Uuid::from_u128(0x6f0b_52c2_8c8e_4f6c_9a3b_4f1e_2d7a_0c31);

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
    /// A repeat gets the original decision.
    pub decision: Decision,
    /// Where the purchase stands now: its decision, until IT approves or cancels it. A repeat
    /// of a held check says here whether IT has since approved (`approved`) or cancelled
    /// (`cancelled`) it.
    pub status: PurchaseStatus,
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
    /// The answer its submission and decision record.
    pub fn new(s: &PurchaseSubmitted, d: &PurchaseDecided) -> Self {
        Self {
            purchase_id: s.purchase_id,
            decision: d.decision,
            status: d.decision.into(),
            reasons: d.reasons.clone(),
            total: s.total,
            currency: s.currency,
            policy_version: d.policy_version,
            school_gated: d.school_gated,
            links: CheckLinks { purchase: format!("/v1/purchases/{}", s.purchase_id) },
        }
    }

    /// The answer recorded in a purchase's first two events, or in the events a submission
    /// decided.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = &'a PurchaseEvent>,
    ) -> Result<Self, ApiError> {
        let (mut submitted, mut decided) = (None, None);
        for event in events.into_iter().take(2) {
            match event {
                PurchaseEvent::Submitted(s) => submitted = Some(s),
                PurchaseEvent::Decided(d) => decided = Some(d),
                _ => {}
            }
        }
        match (submitted, decided) {
            (Some(s), Some(d)) => Ok(Self::new(s, d)),
            _ => Err(ApiError::internal("a purchase stream without its submission and decision")),
        }
    }

    /// The answer recorded in a purchase's events.
    pub fn from_records(records: &[RecordedEvent]) -> Result<Self, ApiError> {
        let events = records
            .iter()
            .take(2)
            .map(domain::decode::<PurchaseEvent>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        Self::from_events(&events)
    }
}

/// The answer already given to this question, if it was asked before: by the same
/// `Idempotency-Key` or the same `external_ref` (200), or a 409 when either was used for a
/// different request.
async fn earlier_answer(
    state: &State,
    inputs: &CheckInputs,
    hash: &str,
) -> Result<Option<CheckAnswer>, ApiError> {
    if let Some(used) = &inputs.key_use {
        if used.request_hash != hash {
            return Err(idempotency_conflict(used.purchase_id));
        }
        let (purchase, records) = state.purchase(used.purchase_id).await?;
        return repeat(&purchase, &records, hash).map(Some);
    }
    if inputs.purchase.version > 0 {
        return repeat(&inputs.purchase, &inputs.records, hash).map(Some);
    }
    Ok(None)
}

/// The stored answer to a repeat, with the purchase's status now, or a conflict when the
/// repeat asks something else.
fn repeat(
    purchase: &Purchase,
    records: &[RecordedEvent],
    hash: &str,
) -> Result<CheckAnswer, ApiError> {
    let stored = purchase.submission.as_ref().map(|s| s.request_hash.as_str());
    if stored != Some(hash) {
        return Err(idempotency_conflict(purchase.id().unwrap_or_default()));
    }
    let mut answer = CheckAnswer::from_records(records)?;
    if let Some(status) = purchase.status {
        answer.status = status;
    }
    Ok(answer)
}

fn idempotency_conflict(purchase_id: Uuid) -> ApiError {
    ApiError::from(PurchaseError::IdempotencyConflict { purchase_id })
        .with_extension("purchase_id", purchase_id)
}

/// Ask about a purchase.
///
/// Answered at once: `approved`, `held` (the school signed the purchasing agreement and IT must
/// review: wait) or `advisory` (the school has not signed: you may go ahead, IT is told), with
/// every reason. `201` for a new purchase; `200` with the original answer when the same
/// `external_ref` (or `Idempotency-Key`) comes again with the same body, its `status` telling
/// where the purchase stands now; `409 idempotency-conflict` when it comes with a different
/// body.
///
/// A check sent after the fact (a purchase entered late, or history brought over from another
/// system) says when the requester asked (`requested_at`): the purchase's clocks run from then,
/// and IT may date its calls and decisions on it from then. The log records when the check
/// arrived, as always.
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
        (status = 409, description = "`idempotency-conflict`: the key was used for another request; `concurrent-update`: another check got in the way, send it again", body = web::Problem),
        (status = 415, description = "Not JSON", body = web::Problem),
        (status = 422, description = "`validation` (see `errors`), `unknown-school`, `currency-mismatch`, `total-too-large`, `requested-in-future`, `requested-too-long-ago`", body = web::Problem),
        (status = 503, description = "`no-policy`: IT has not set the policy yet", body = web::Problem),
    ),
)]
#[post("/v1/purchase-checks")]
pub async fn check_purchase(
    state: Data<State>,
    who: Caller<FinanceSystems>,
    req: HttpRequest,
    body: Body<PurchaseCheckBody>,
) -> Reply {
    let check = body.parse()?.into();
    let key = http::idempotency_key(&req)?;
    let meta = http::metadata(&who, &req, "gate");
    match answer(&state, &who.subject, key, check, meta).await? {
        Answered::Repeat(answer) => Ok(HttpResponse::Ok().json(answer)),
        Answered::New(answer) => Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, answer.links.purchase.clone()))
            .json(answer)),
    }
}

/// How a check was answered.
enum Answered {
    /// A new purchase, decided now.
    New(CheckAnswer),
    /// The same question again: the answer it got then.
    Repeat(CheckAnswer),
}

/// Answers `check` from `caller`: the stored answer to a repeat, else the decision on a new
/// purchase, appended with its key's use as new streams (see the module docs).
async fn answer(
    state: &State,
    caller: &str,
    key: Option<IdempotencyKey>,
    check: PurchaseCheck,
    meta: Metadata,
) -> Result<Answered, ApiError> {
    let scoped = |name: &str| format!("{caller}\u{0}{name}");
    let purchase_id =
        Uuid::new_v5(&PURCHASE_NAMESPACE, scoped(check.external_ref.as_str()).as_bytes());
    let key_id = key.as_ref().map(|k| idempotency_key_id(caller, k.as_str()));
    let hash = check.request_hash();
    let school_id = check.school_id.clone();

    let inputs = state.check_inputs(purchase_id, key_id, &school_id).await?;
    if let Some(answer) = earlier_answer(state, &inputs, &hash).await? {
        // A repeat by `external_ref` under a key not used yet: the key names this purchase
        // from now on, as it would had it come with the first check.
        if let (Some(key_id), None) = (key_id, &inputs.key_use) {
            let used = key_use(key_id, purchase_id, &hash, &meta);
            if let Err(e) = state.commands.store().append_streams(vec![used]).await {
                return answer_again(state, e, purchase_id, Some(key_id), &school_id, &hash).await;
            }
        }
        return Ok(Answered::Repeat(answer));
    }
    if !inputs.school.registered {
        return Err(ApiError::unprocessable(
            "unknown-school",
            format!("There is no school {school_id}; IT registers schools first."),
        )
        .with_extension("school_id", school_id.as_str()));
    }
    let submit = Submit::new(
        purchase_id,
        check,
        caller.to_owned(),
        key,
        &inputs.school,
        &inputs.standards,
        state.clock.now(),
    )?;
    let decided = Purchase::default().handle(PurchaseCommand::Submit(submit))?;
    let new_events = decided.iter().map(|e| domain::new_event(e, meta.clone())).collect();
    let stream = domain::purchase_stream(purchase_id);
    let mut appends = vec![StreamAppend::new(stream, ExpectedVersion::NoStream, new_events)];
    appends.extend(key_id.map(|key_id| key_use(key_id, purchase_id, &hash, &meta)));
    match state.commands.store().append_streams(appends).await {
        Ok(_) => Ok(Answered::New(CheckAnswer::from_events(&decided)?)),
        Err(e) => answer_again(state, e, purchase_id, key_id, &school_id, &hash).await,
    }
}

/// The append that records idempotency key `key_id`'s use for `purchase_id`: the key's stream,
/// new.
fn key_use(key_id: Uuid, purchase_id: Uuid, hash: &str, meta: &Metadata) -> StreamAppend {
    let used =
        IdempotencyEvent::from(IdempotencyKeyUsed { purchase_id, request_hash: hash.to_owned() });
    let event = domain::new_event(&used, meta.clone());
    StreamAppend::new(domain::idempotency_stream(key_id), ExpectedVersion::NoStream, vec![event])
}

/// After an append refused with `error`: when another check took the purchase or the key at the
/// same moment, the answer from what it stored (or a conflict); any other error as it is.
async fn answer_again(
    state: &State,
    error: StoreError,
    purchase_id: Uuid,
    key_id: Option<Uuid>,
    school_id: &SchoolId,
    hash: &str,
) -> Result<Answered, ApiError> {
    let StoreError::WrongExpectedVersion { .. } = error else {
        return Err(http::store_error(error));
    };
    let inputs = state.check_inputs(purchase_id, key_id, school_id).await?;
    earlier_answer(state, &inputs, hash).await?.map(Answered::Repeat).ok_or_else(|| {
        ApiError::conflict("concurrent-update", "Another check got in the way; send it again.")
    })
}
