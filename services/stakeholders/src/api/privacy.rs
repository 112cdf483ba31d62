//! Erasing a person's personal data (`DELETE /v1/stakeholders/{id}/personal-data`).
//!
//! Their data keys are destroyed in the store's key table (every field sealed with them, in
//! every event of the log, then reads as erased), then `personal-data-erased` is appended on
//! `privacy-{id}`: every reader forgets the keys it holds and every read model is rebuilt
//! from the log, where the data now reads `(erased)`. The chain covers the ciphertext, so the
//! log still verifies. Asked again, it destroys whatever key of theirs was made since (none,
//! normally) and answers with the erasure recorded first. An attempt that destroyed the keys
//! but stopped before recording the erasure (the process stopped, the append failed) is
//! finished by asking again: the erasure is recorded then, naming the keys destroyed before
//! (not the notes keys retention erased and announced: `first_erasure_keys`). The first
//! erasure is recorded once (it expects no `privacy-{id}` stream): of requests asking at the
//! same time, one records it and the others answer with it.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete};
use auth::Role;
use chrono::{DateTime, Utc};
use eventlog::{
    ExpectedVersion, Filter, KeySelector, Metadata, NewEvent, RecordedEvent, Store, StoreError,
};
use events::privacy::{PersonalDataErased, PrivacyEvent, RetentionErased, erasure_stream};
use events::stakeholders::stakeholder_stream;
use events::values::LongText;
use kernel::http::{Body, Context, FromJson, Reply, Roles, store_error};
use kernel::stream;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use web::{ApiError, Fields};

use super::metadata;
use crate::app::State;
use crate::domain::privacy::{announcement, first_erasure_keys};

/// Administrators only.
pub(crate) struct Admins;
impl Roles for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Why a person's data is erased: recorded in the log.
#[derive(Debug, ToSchema)]
pub struct ErasureBody {
    #[schema(value_type = LongText)]
    pub reason: LongText,
}

impl FromJson for ErasureBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let reason = f.string("reason", map.get("reason"), LongText::parse);
        Some(Self { reason: reason? })
    }
}

/// A person's erasure, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureView {
    pub stakeholder_id: Uuid,
    pub reason: LongText,
    /// Who erased it.
    pub erased_by: String,
    /// When it was recorded.
    pub erased_at: DateTime<Utc>,
    /// How many data keys were destroyed.
    pub keys_destroyed: usize,
}

/// A recorded erasure.
fn decode(record: &RecordedEvent) -> Result<PersonalDataErased, ApiError> {
    match PrivacyEvent::from_parts(&record.event_type, &record.data) {
        Ok(PrivacyEvent::PersonalDataErased(e)) => Ok(e),
        Ok(_) => Err(ApiError::internal(format!("{} holds another event", record.stream))),
        Err(e) => Err(ApiError::internal(format!("{}: {e}", record.stream))),
    }
}

/// A recorded erasure as the API shows it.
fn view(record: &RecordedEvent) -> Result<ErasureView, ApiError> {
    let e = decode(record)?;
    Ok(ErasureView {
        stakeholder_id: e.stakeholder_id,
        reason: e.reason,
        erased_by: e.erased_by,
        erased_at: record.recorded_at,
        keys_destroyed: e.keys.len(),
    })
}

/// Erase a person's personal data: their name, e-mail and phone, what they said (visions,
/// stars, wishes, what they said for IT), the notes of conversations and calls with them, and
/// follow-ups about them read `(erased)` everywhere from now on (profiles, lists, reports and
/// their CSV, the feed, live streams, replays, webhooks), while `GET /v1/audit/verify` still
/// passes. What they are (a principal of a school) and what happened (a conversation on a
/// day, a purchase, a call) stay. Cannot be undone.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The stakeholder id")),
    request_body = ErasureBody,
    responses(
        (status = 200, description = "Erased (or erased before: the first erasure)", body = ErasureView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not an admin", body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation` (`reason`)", body = web::Problem),
    ),
)]
#[delete("/v1/stakeholders/{id}/personal-data")]
pub async fn erase_personal_data(cx: Context<State, Admins>, body: Body<ErasureBody>) -> Reply {
    let id = cx.path_id("id")?;
    let erasure = body.parse()?;
    let store = cx.state.commands.store();
    let earlier = earlier_erasures(store, id).await?;
    let selector = KeySelector::Person(stakeholder_stream(id));
    let destroyed =
        store.destroy_data_keys(&selector, erasure.reason.as_str()).await.map_err(store_error)?;
    let (meta, by) = (metadata(&cx), cx.who.subject.as_str());
    if earlier.is_empty() {
        // The keys of theirs destroyed by others: an attempt that stopped before recording
        // the erasure, a request asking at the same time, or retention (announced then).
        let all = store.destroyed_data_keys(&selector).await.map_err(store_error)?;
        let others: Vec<String> = all.into_iter().filter(|k| !destroyed.contains(k)).collect();
        let announced =
            if others.is_empty() { BTreeSet::new() } else { retention_announced(store).await? };
        let keys = first_erasure_keys(destroyed.clone(), others, &announced);
        let first = announcement(false, id, keys, &erasure.reason, by);
        // The first erasure is recorded once: a request that loses the race to another's
        // records, as one asked again, what it destroyed that the first does not name.
        if record(store, id, first, ExpectedVersion::NoStream, meta.clone()).await? {
            return Ok(HttpResponse::Ok().json(view(&first_erasure(store, id).await?)?));
        }
    }
    let first = first_erasure(store, id).await?;
    let named = decode(&first)?.keys;
    let rest = destroyed.into_iter().filter(|k| !named.contains(k)).collect();
    if let Some(again) = announcement(true, id, rest, &erasure.reason, by) {
        record(store, id, Some(again), ExpectedVersion::Any, meta).await?;
    }
    Ok(HttpResponse::Ok().json(view(&first)?))
}

/// Every key retention announced it erased (an event that does not decode is passed over, as
/// the retention schedule passes it over).
async fn retention_announced(store: &Store) -> Result<BTreeSet<String>, ApiError> {
    let filter = Filter::categories([PrivacyEvent::CATEGORY]).with_types(["retention-erased"]);
    let mut keys = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store.read_all(after, &filter, 1000).await.map_err(store_error)?;
        let Some(last) = page.last() else { return Ok(keys) };
        after = last.position;
        for event in &page {
            match serde_json::from_value::<RetentionErased>(event.data.clone()) {
                Ok(erased) => keys.extend(erased.keys),
                Err(e) => {
                    tracing::warn!(position = event.position, error = %e, "a retention-erased event passed over")
                }
            }
        }
    }
}

/// The erasures recorded of stakeholder `id` (none yet, or the first and any since), or 404
/// `unknown-stakeholder` when there is no such stakeholder.
async fn earlier_erasures(store: &Store, id: Uuid) -> Result<Vec<RecordedEvent>, ApiError> {
    let (person, privacy) = (stream(stakeholder_stream(id)), stream(erasure_stream(id)));
    let [person_events, earlier] = <[Vec<RecordedEvent>; 2]>::try_from(
        store.read_streams(&[(person, 1), (privacy, 1)]).await.map_err(store_error)?,
    )
    .map_err(|_| ApiError::internal("read_streams answered the wrong number of lists"))?;
    if person_events.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-stakeholder",
            format!("There is no stakeholder {id}."),
        ));
    }
    Ok(earlier)
}

/// Appends the erasure `event` of stakeholder `id`, if any, with `meta` and `expected` of
/// their privacy stream; `false` when another request's erasure took the version expected.
async fn record(
    store: &Store,
    id: Uuid,
    event: Option<PersonalDataErased>,
    expected: ExpectedVersion,
    meta: Metadata,
) -> Result<bool, ApiError> {
    let Some(event) = event.map(PrivacyEvent::from) else { return Ok(true) };
    let new = NewEvent::new(event.event_type(), event.to_data(), meta);
    match store.append(&stream(erasure_stream(id)), expected, vec![new]).await {
        Ok(_) => Ok(true),
        Err(StoreError::WrongExpectedVersion { .. }) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

/// The erasure of stakeholder `id` recorded first.
async fn first_erasure(store: &Store, id: Uuid) -> Result<RecordedEvent, ApiError> {
    let recorded = store.read_stream_to_end(&stream(erasure_stream(id))).await;
    let first = recorded.map_err(store_error)?.into_iter().next();
    first.ok_or_else(|| ApiError::internal("the erasure is not there"))
}
