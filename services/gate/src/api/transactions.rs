//! Card transactions: the list (`GET /v1/card-transactions?status=`), one transaction, what
//! IT does with them (confirm or undo a match, choose the check, log outreach), and IT's
//! outreach queue (`GET /v1/outreach`): the unchecked technology whose card holder IT has not
//! reached yet.

use super::{Change, ItemErrors, Secured};
use actix_web::http::StatusCode;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get, post};
use eventlog::{RecordedEvent, StreamName};
use events::card::{
    CardMatchClaimed, CardMatchEvent, CardMatchReleased, CardTransactionEvent, card_match_stream,
    matched_transaction, transaction_stream,
};
use events::clocks::took_place_at;
use events::gate::{AmendedTotal, PurchaseEvent, PurchaseStatus};
use events::values::SchoolId;
use kernel::http::{self, Body, Caller, IdempotencyKeyHeader, OptionalBody, Reply, Written};
use kernel::{Aggregate, Decision, Opened, ReadModel, decode, stream};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use uuid::Uuid;
use web::ApiError;

use super::card_bodies::{ChooseBody, OutreachBody, UndoBody};
use super::cards::CardReaders;
use crate::app::State;
use crate::domain::{
    self, CardTransaction, ChosenPurchase, LogOutreach, TransactionCommand, TransactionError,
};
use crate::read_models::{
    CardPurchases, CardTransactions, OutreachQueue, Schools, TransactionDoc, TransactionFilter,
    TransactionList, list_transactions, outreach_queue,
};

impl From<TransactionError> for ApiError {
    fn from(e: TransactionError) -> Self {
        let status = match e {
            TransactionError::NotFound | TransactionError::UnknownPurchase { .. } => {
                StatusCode::NOT_FOUND
            }
            TransactionError::AlreadyMatched { .. }
            | TransactionError::NotMatched
            | TransactionError::PurchaseCancelled
            | TransactionError::InvalidState { .. } => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.slug(), e.to_string())
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransactionQuery {
    /// `matched`, `ambiguous`, `unchecked_technology`, `not_technology` or `credit`.
    #[param(pattern = "^(matched|ambiguous|unchecked_technology|not_technology|credit)$")]
    status: Option<String>,
    #[param(value_type = Option<events::values::SchoolId>)]
    school_id: Option<String>,
    /// Only the transactions a statement recorded.
    #[param(value_type = Option<uuid::Uuid>)]
    statement_id: Option<String>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<usize>,
    /// Continue after this `sequence` (the `next_after` of the previous page).
    after: Option<u64>,
}

impl TransactionQuery {
    /// The filter asked for, or a 400 `invalid-query` problem naming the bad parameter.
    fn filter(&self) -> Result<TransactionFilter, ApiError> {
        let after = http::after(self.after)?;
        let status = http::query_param("status", self.status.as_deref(), str::parse)?;
        let school_id = http::query_param("school_id", self.school_id.as_deref(), SchoolId::parse)?;
        let statement_id =
            http::query_param("statement_id", self.statement_id.as_deref(), Uuid::parse_str)?;
        let limit = http::limit(self.limit)?;
        let school_id = school_id.map(String::from);
        Ok(TransactionFilter { status, school_id, statement_id, after, limit })
    }
}

/// Card transactions, in the order they were recorded.
///
/// Lists every transaction recorded before the request.
#[utoipa::path(
    tag = "card statements",
    params(TransactionQuery),
    responses(
        (status = 200, body = TransactionList),
        (status = 400, description = "A bad query parameter", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff, auditor or admin", body = web::Problem),
    ),
)]
#[get("/v1/card-transactions")]
pub async fn list_card_transactions(
    state: Data<State>,
    _: Caller<CardReaders>,
    query: Query<TransactionQuery>,
) -> Reply {
    let filter = query.filter()?;
    state.read_models.caught_up(&[CardTransactions::NAME]).await?;
    let docs = state.read_models.view().all::<CardTransactions>().await?;
    Ok(HttpResponse::Ok().json(list_transactions(docs, &filter)))
}

/// One transaction as the list shows it, once the read model has what was written before.
async fn transaction(state: &State, id: Uuid) -> Result<TransactionDoc, ApiError> {
    state.read_models.caught_up(&[CardTransactions::NAME]).await?;
    let doc = state.read_models.view().one::<CardTransactions>(&id.to_string()).await?;
    doc.ok_or_else(|| TransactionError::NotFound.into())
}

/// One card transaction: the statement's facts, its reconciliation, IT's outreach.
#[utoipa::path(
    tag = "card statements",
    params(("id" = Uuid, Path, description = "The transaction id (UUID v5 of its reference)")),
    responses(
        (status = 200, body = TransactionDoc),
        (status = 400, body = web::Problem),
        ItemErrors,
    ),
)]
#[get("/v1/card-transactions/{id}")]
pub async fn get_card_transaction(
    state: Data<State>,
    _: Caller<CardReaders>,
    id: Path<String>,
) -> Reply {
    let id = http::path_id("id", &id)?;
    Ok(HttpResponse::Ok().json(transaction(&state, id).await?))
}

/// Runs an IT command on a transaction, once per `Idempotency-Key` (`body` is what the key
/// names with the path); answers with it afterwards, with `status` (a repeat says so:
/// `Idempotent-Replayed: true`).
async fn act(
    (cx, body): (&Change, &Value),
    id: Uuid,
    lookups: &[StreamName],
    status: StatusCode,
    decide: impl Fn(&CardTransaction, &[Vec<RecordedEvent>]) -> Result<Decided, ApiError>,
) -> Reply {
    let (state, once, meta) = (&cx.state, cx.idempotency(body)?, cx.metadata("gate"));
    let own = stream(transaction_stream(id));
    let run =
        state.commands.run_idempotent(&meta, once.as_ref(), &[], own, lookups, decide).await?;
    Ok(Written::of(run, &[]).respond(status).json(transaction(state, id).await?))
}

/// What a command on a transaction decided.
type Decided = Decision<CardTransactionEvent>;

/// Which transaction holds the match of a purchase check, by its match stream's `records`,
/// and the version read.
pub(super) fn match_claim(records: &[RecordedEvent]) -> Result<(Option<Uuid>, u64), ApiError> {
    let events: Vec<CardMatchEvent> = records
        .iter()
        .map(decode::<CardMatchEvent>)
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    Ok((matched_transaction(&events), records.last().map_or(0, |r| r.version)))
}

/// `decided`, telling purchase `purchase_id`'s match stream (read at `version`) `event` in the
/// same append, when it changes the transaction at all.
fn with_claim(decided: Decided, purchase_id: Uuid, version: u64, event: CardMatchEvent) -> Decided {
    if decided.is_empty() {
        return decided;
    }
    decided.opening(Opened::new(stream(card_match_stream(purchase_id)), &event).after(version))
}

/// Confirm the purchase check a transaction was matched with.
#[utoipa::path(
    tag = "card statements",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    responses(
        (status = 200, body = TransactionDoc),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or admin", body = web::Problem),
        (status = 404, body = web::Problem),
        (status = 409, description = "`not-matched`; `idempotency-conflict`", body = web::Problem),
    ),
)]
#[post("/v1/card-transactions/{id}/confirm")]
pub async fn confirm_match(cx: Change) -> Reply {
    let id = cx.path_id("id")?;
    let confirm = |t: &CardTransaction, _: &[_]| Ok(t.handle(TransactionCommand::Confirm)?);
    act((&cx, &Value::Null), id, &[], StatusCode::OK, confirm).await
}

/// Undo a match: the check was another purchase. Technology is unchecked again.
#[utoipa::path(
    tag = "card statements",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = UndoBody,
    responses(
        (status = 200, body = TransactionDoc),
        ItemErrors,
        (status = 409, description = "`not-matched`; `idempotency-conflict`; `concurrent-update`: matched with another check meanwhile", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
)]
#[post("/v1/card-transactions/{id}/undo-match")]
pub async fn undo_match(cx: Change, body: Body<UndoBody>) -> Reply {
    let id = cx.path_id("id")?;
    let reason = body.parse()?.reason;
    cx.idempotency(body.json())?;
    // The check it is matched with is released in the same append.
    let matched = transaction(&cx.state, id).await?.matched.map(|m| m.purchase_id);
    let claims: Vec<_> = matched.iter().map(|p| stream(card_match_stream(*p))).collect();
    act((&cx, body.json()), id, &claims, StatusCode::OK, |t, found| {
        let undone = t.handle(TransactionCommand::Undo { reason: reason.clone() })?;
        // Matched with another check since it was read: its match stream was not read.
        if t.purchase_id() != matched {
            return Err(http::concurrent_update());
        }
        let (Some(purchase_id), Some(records)) = (matched, found.first()) else {
            return Ok(undone);
        };
        let released = CardMatchReleased { transaction_id: id };
        Ok(with_claim(undone, purchase_id, match_claim(records)?.1, released.into()))
    })
    .await
}

/// Choose the purchase check a transaction is (for an ambiguous or unchecked one).
///
/// The check must be one reconciliation could fit: the transaction's school and currency,
/// paid by card, not cancelled (a charge for a cancelled purchase stays unchecked technology,
/// for outreach). The match is measured against what the purchase costs now: its accepted
/// alternative's total, when that alternative priced its lines.
#[utoipa::path(
    tag = "card statements",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = ChooseBody,
    responses(
        (status = 200, body = TransactionDoc),
        Secured,
        (status = 404, description = "No such transaction or purchase", body = web::Problem),
        (status = 409, description = "`already-matched`, `purchase-already-matched`, `purchase-cancelled`, `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`, `school-mismatch`, `currency-mismatch`, `credit`, `not-card-purchase`", body = web::Problem),
    ),
)]
#[post("/v1/card-transactions/{id}/match")]
pub async fn choose_match(cx: Change, body: Body<ChooseBody>) -> Reply {
    let id = cx.path_id("id")?;
    let purchase_id = body.parse()?.purchase_id;
    let (_, district) =
        futures::try_join!(not_matched_elsewhere(&cx.state, purchase_id, id), cx.state.district())?;
    let lookups = [domain::purchase_stream(purchase_id), stream(card_match_stream(purchase_id))];
    act((&cx, body.json()), id, &lookups, StatusCode::OK, |t, found| {
        let (purchase, calendar) = (chosen(&found[0])?, district.0.calendar.clone());
        let (holder, version) = match_claim(&found[1])?;
        if let Some(other) = holder.filter(|other| *other != id) {
            return Err(already_matched(purchase_id, other));
        }
        let decided = t.handle(TransactionCommand::Choose { purchase_id, purchase, calendar })?;
        let claimed = CardMatchClaimed { transaction_id: id };
        Ok(with_claim(decided, purchase_id, version, claimed.into()))
    })
    .await
}

/// 409 `purchase-already-matched` when transaction `id` may not take `purchase_id`: another
/// transaction is matched with it.
async fn not_matched_elsewhere(state: &State, purchase_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    state.read_models.caught_up(&[CardPurchases::NAME]).await?;
    let claimed = state.read_models.view().one::<CardPurchases>(&purchase_id.to_string()).await?;
    match claimed.and_then(|c| c.matched_by).filter(|by| *by != id) {
        Some(by) => Err(already_matched(purchase_id, by)),
        None => Ok(()),
    }
}

/// 409 `purchase-already-matched`: purchase `purchase_id` is transaction `by`'s.
fn already_matched(purchase_id: Uuid, by: Uuid) -> ApiError {
    ApiError::conflict(
        "purchase-already-matched",
        format!("Purchase {purchase_id} is matched with card transaction {by}; undo that first."),
    )
}

/// The purchase check a purchase's stream begins with, where the purchase stands and what it
/// costs now; `None` when there is no purchase.
fn chosen(records: &[eventlog::RecordedEvent]) -> Result<Option<Box<ChosenPurchase>>, ApiError> {
    let Some(first) = records.first() else { return Ok(None) };
    let PurchaseEvent::Submitted(submitted) = purchase_event(first)? else { return Ok(None) };
    let (mut status, mut amended, mut approved_at) = (None, AmendedTotal::default(), None);
    for record in &records[1..] {
        let event = purchase_event(record)?;
        status = PurchaseStatus::after(status, &event);
        amended.apply(&event);
        if let PurchaseEvent::Approved(_) = event {
            approved_at = Some(took_place_at(&event, record.recorded_at, submitted.requested_at));
        }
    }
    let recorded_at = first.recorded_at;
    let chosen = ChosenPurchase { submitted, recorded_at, status, amended, approved_at };
    Ok(Some(Box::new(chosen)))
}

fn purchase_event(record: &eventlog::RecordedEvent) -> Result<PurchaseEvent, ApiError> {
    domain::decode::<PurchaseEvent>(record).map_err(ApiError::internal)
}

/// Log outreach to the holder of a card that bought unchecked technology.
///
/// Outreach, not cancellation: the purchase already happened. IT calls to hear what the
/// holder needed and how IT can help next time; a call that reached them takes the
/// transaction off the outreach queue.
#[utoipa::path(
    tag = "card statements",
    params(("id" = Uuid, Path), IdempotencyKeyHeader),
    request_body = OutreachBody,
    responses(
        (status = 201, body = TransactionDoc),
        ItemErrors,
        (status = 409, description = "`invalid-state`: not unchecked technology; `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`, `outreach-in-future`", body = web::Problem),
    ),
)]
#[post("/v1/card-transactions/{id}/outreach")]
pub async fn log_outreach(cx: Change, body: OptionalBody<OutreachBody>) -> Reply {
    let id = cx.path_id("id")?;
    let outreach = body.parse()?;
    let outreach_id = Uuid::now_v7();
    // The service's clock, as every other handler reads it (a test's, when it sets one).
    let now = cx.state.clock.now();
    act((&cx, body.json()), id, &[], StatusCode::CREATED, |t, _| {
        Ok(t.handle(TransactionCommand::LogOutreach(LogOutreach {
            outreach_id,
            holder_reached: outreach.holder_reached,
            notes: outreach.notes.clone(),
            occurred_at: outreach.occurred_at.unwrap_or(now),
            now,
        }))?)
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutreachQuery {
    /// Only this school's.
    #[param(value_type = Option<events::values::SchoolId>)]
    school_id: Option<String>,
}

/// IT's outreach queue: technology bought on a card without a purchase check, whose holder
/// IT has not reached yet, oldest first, with the school, the holder and the amount.
#[utoipa::path(
    tag = "card statements",
    params(OutreachQuery),
    responses(
        (status = 200, body = OutreachQueue),
        Secured,
    ),
)]
#[get("/v1/outreach")]
pub async fn get_outreach(
    state: Data<State>,
    _: Caller<CardReaders>,
    query: Query<OutreachQuery>,
) -> Reply {
    let school = http::query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    state.read_models.caught_up(&[CardTransactions::NAME, Schools::NAME]).await?;
    let view = state.read_models.view();
    let (docs, schools) =
        futures::try_join!(view.all::<CardTransactions>(), view.keyed::<Schools>())?;
    let schools = schools.into_iter().collect();
    Ok(HttpResponse::Ok().json(outreach_queue(
        docs,
        &schools,
        school.as_ref().map(SchoolId::as_str),
    )))
}
