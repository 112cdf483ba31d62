//! Recording a statement that was read without errors: what is new in it, reconciled and
//! appended with the statement's summary in one `append_streams`.

use std::collections::HashSet;

use actix_web::HttpResponse;
use actix_web::http::header;

use eventlog::{ExpectedVersion, Metadata, StoreError, StreamAppend, StreamName};
use events::card::{
    CardMatchClaimed, CardMatchEvent, CardTransactionEvent, CardTransactionRecorded,
    StatementEvent, card_match_stream, statement_stream, transaction_stream,
};
use kernel::http;
use kernel::{RETRIES, ReadModel, decode, new_event, stream};
use uuid::Uuid;
use web::ApiError;

use super::StatementAnswer;
use crate::api::transactions::match_claim;
use crate::app::State;
use crate::domain::matching::CheckRef;
use crate::domain::statements::{Context, ImportPlan, StatementFile, plan};
use crate::read_models::CardPurchases;

/// What recording a statement came to.
pub(super) enum Recorded {
    /// Its new transactions and its summary were appended now.
    Appended(StatementAnswer),
    /// Nothing was appended: a dry run, a statement with nothing new (without a key), or a
    /// repeat of an idempotency key answered as the first import was.
    NotAppended(StatementAnswer),
}

impl Recorded {
    /// 201 with the statement's transactions as `Location` when appended now; else 200.
    pub(super) fn respond(self) -> HttpResponse {
        match self {
            Recorded::Appended(answer) => HttpResponse::Created()
                .insert_header((header::LOCATION, answer.links.transactions.clone()))
                .json(answer),
            Recorded::NotAppended(answer) => HttpResponse::Ok().json(answer),
        }
    }
}

/// Records `transactions`, the statement `context.statement_id` read from `file`.
///
/// Reads the streams of its transactions and of the statement in one round trip: those that
/// exist were recorded by an earlier statement and are left out (the statement's own stream
/// exists when an earlier import used the idempotency key). The rest are reconciled with the
/// card checks not yet matched ([`plan`]) and appended with the statement's summary in one
/// `append_streams`, each stream expected not to exist. If another import recorded one of
/// them meanwhile, the append writes nothing and this runs again (at most [`RETRIES`] times):
/// a transaction is never counted twice, whatever runs at once.
pub(super) async fn record(
    state: &State,
    meta: &Metadata,
    context: &Context,
    file: StatementFile,
    transactions: &[CardTransactionRecorded],
    dry_run: bool,
) -> Result<Recorded, ApiError> {
    let statement = stream(statement_stream(context.statement_id));
    let mut requests: Vec<(StreamName, u64)> =
        transactions.iter().map(|t| (stream(transaction_stream(t.transaction_id)), 1)).collect();
    requests.push((statement.clone(), 1));
    for _ in 0..RETRIES {
        let mut read = state.store().read_streams(&requests).await.map_err(http::store_error)?;
        let earlier = earlier_import(&read.pop().unwrap_or_default(), &file.file_sha256, dry_run)?;
        if let Some(answer) = earlier {
            return Ok(Recorded::NotAppended(answer));
        }
        let existing: HashSet<_> = transactions
            .iter()
            .zip(&read)
            .filter(|(_, events)| !events.is_empty())
            .map(|(t, _)| t.transaction_id)
            .collect();
        drop(read);
        let checks = open_checks(state).await?;
        let planned = plan(context, file.clone(), transactions, &existing, &checks);
        let answer = StatementAnswer::new(&planned.imported, dry_run);
        if dry_run || (planned.transactions.is_empty() && file.idempotency_key.is_none()) {
            return Ok(Recorded::NotAppended(answer));
        }
        // Each check matched is claimed in the same append, at its match stream's version:
        // one another import or IT matched meanwhile makes this look again.
        let Some(claims) = claims(state, &planned, meta).await? else { continue };
        let mut appends = appends(planned, &statement, meta);
        appends.extend(claims);
        match state.store().append_streams(appends).await {
            Ok(_) => return Ok(Recorded::Appended(answer)),
            // Another import recorded some of these (or used the key) meanwhile: look again.
            Err(StoreError::WrongExpectedVersion { .. }) => continue,
            Err(e) => return Err(http::store_error(e)),
        }
    }
    Err(http::concurrent_update())
}

/// The card-paid checks a new transaction may be reconciled with (not cancelled, not matched),
/// each dated on the district's day it was asked, in the calendar now in force.
async fn open_checks(state: &State) -> Result<Vec<CheckRef>, ApiError> {
    state.read_models.caught_up(&[CardPurchases::NAME]).await?;
    let view = state.read_models.view();
    let (checks, district) = futures::try_join!(view.all::<CardPurchases>(), state.district())?;
    let calendar = &district.0.calendar;
    Ok(checks.into_iter().filter(|c| c.open()).map(|c| c.check_ref(calendar)).collect())
}

/// The claims on the checks `planned` matches, each at its match stream's version; `None` when
/// one of them is matched already (the read model had not caught up with that match yet).
async fn claims(
    state: &State,
    planned: &ImportPlan,
    meta: &Metadata,
) -> Result<Option<Vec<StreamAppend>>, ApiError> {
    let matched: Vec<(Uuid, Uuid)> = planned
        .transactions
        .iter()
        .flat_map(|(id, events)| events.iter().map(move |e| (*id, e)))
        .filter_map(|(id, event)| match event {
            CardTransactionEvent::Matched(m) => Some((id, m.purchase_id)),
            _ => None,
        })
        .collect();
    if matched.is_empty() {
        return Ok(Some(vec![]));
    }
    let streams: Vec<(StreamName, u64)> =
        matched.iter().map(|(_, p)| (stream(card_match_stream(*p)), 1)).collect();
    let read = state.store().read_streams(&streams).await.map_err(http::store_error)?;
    let mut claims = Vec::with_capacity(matched.len());
    for (((transaction_id, _), (claim, _)), records) in matched.iter().zip(streams).zip(read) {
        let (holder, version) = match_claim(&records)?;
        if holder.is_some() {
            return Ok(None);
        }
        let claimed = CardMatchEvent::from(CardMatchClaimed { transaction_id: *transaction_id });
        let event = new_event(&claimed, meta.clone());
        claims.push(StreamAppend::new(claim, ExpectedVersion::after(version), vec![event]));
    }
    Ok(Some(claims))
}

/// The plan as appends: the statement's summary first, then each new transaction's stream,
/// every one expected not to exist yet.
fn appends(planned: ImportPlan, statement: &StreamName, meta: &Metadata) -> Vec<StreamAppend> {
    let imported = StatementEvent::from(planned.imported);
    let summary = vec![new_event(&imported, meta.clone())];
    let transactions = planned.transactions.into_iter().map(|(id, events)| {
        let events = events.iter().map(|e| new_event(e, meta.clone())).collect();
        StreamAppend::new(stream(transaction_stream(id)), ExpectedVersion::NoStream, events)
    });
    std::iter::once(StreamAppend::new(statement.clone(), ExpectedVersion::NoStream, summary))
        .chain(transactions)
        .collect()
}

/// The answer the import of statement `statement_id` gave, when an earlier use of its
/// idempotency key imported it; a 409 when that was another file. Asked before a file's rows
/// are refused too: a retry of an import that succeeded (its answer lost) gets that answer,
/// even when the cards or the policy changed since and its rows would now be refused. A dry
/// run with a used key gets it too, saying `dry_run: true`: what the import would answer, with
/// nothing written now.
pub(super) async fn earlier_answer(
    state: &State,
    statement_id: Uuid,
    file_sha256: &str,
    dry_run: bool,
) -> Result<Option<StatementAnswer>, ApiError> {
    let statement = stream(statement_stream(statement_id));
    let read = state.store().read_streams(&[(statement, 1)]).await.map_err(http::store_error)?;
    earlier_import(read.first().map_or(&[][..], Vec::as_slice), file_sha256, dry_run)
}

/// The answer an earlier import with the same idempotency key gave, if there was one, saying
/// whether this request is a `dry_run`; a 409 when it imported another file.
fn earlier_import(
    records: &[eventlog::RecordedEvent],
    file_sha256: &str,
    dry_run: bool,
) -> Result<Option<StatementAnswer>, ApiError> {
    let Some(record) = records.first() else { return Ok(None) };
    let StatementEvent::Imported(earlier) =
        decode::<StatementEvent>(record).map_err(ApiError::internal)?;
    if earlier.file_sha256 != file_sha256 {
        return Err(ApiError::conflict(
            "idempotency-conflict",
            "This Idempotency-Key was used for another statement file.",
        )
        .with_extension("statement_id", earlier.statement_id));
    }
    Ok(Some(StatementAnswer::new(&earlier, dry_run)))
}
