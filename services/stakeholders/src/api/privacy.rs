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
//! (not the notes keys retention erased and announced: `first_erasure_keys`).

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete};
use auth::Role;
use chrono::{DateTime, Utc};
use eventlog::{ExpectedVersion, Filter, KeySelector, Metadata, NewEvent, RecordedEvent, Store};
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

/// A recorded erasure as the API shows it.
fn view(record: &RecordedEvent) -> Result<ErasureView, ApiError> {
    let PrivacyEvent::PersonalDataErased(e) =
        PrivacyEvent::from_parts(&record.event_type, &record.data)
            .map_err(|e| ApiError::internal(format!("{}: {e}", record.stream)))?
    else {
        return Err(ApiError::internal(format!("{} holds another event", record.stream)));
    };
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
    // Before destroying anything (so that a failure here destroys nothing): the keys of theirs
    // destroyed already, by an attempt that stopped before recording the erasure or by
    // retention (announced then).
    let (before, announced) = if earlier.is_empty() {
        let before = store.destroyed_data_keys(&selector).await.map_err(store_error)?;
        let announced =
            if before.is_empty() { BTreeSet::new() } else { retention_announced(store).await? };
        (before, announced)
    } else {
        (vec![], BTreeSet::new())
    };
    let mut destroyed =
        store.destroy_data_keys(&selector, erasure.reason.as_str()).await.map_err(store_error)?;
    if earlier.is_empty() {
        destroyed = first_erasure_keys(destroyed, before, &announced);
    }
    let Some(event) =
        announcement(!earlier.is_empty(), id, destroyed, &erasure.reason, &cx.who.subject)
    else {
        return Ok(HttpResponse::Ok().json(view(&earlier[0])?));
    };
    let first = record(store, id, event, metadata(&cx)).await?;
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

/// Appends the erasure `event` of stakeholder `id` with `meta`, and reads back the erasure
/// recorded first (another request's, when two came at once).
async fn record(
    store: &Store,
    id: Uuid,
    event: PersonalDataErased,
    meta: Metadata,
) -> Result<RecordedEvent, ApiError> {
    let privacy = stream(erasure_stream(id));
    let event = PrivacyEvent::from(event);
    let new = NewEvent::new(event.event_type(), event.to_data(), meta);
    store.append(&privacy, ExpectedVersion::Any, vec![new]).await.map_err(store_error)?;
    let recorded = store.read_stream_to_end(&privacy).await.map_err(store_error)?;
    recorded.into_iter().next().ok_or_else(|| ApiError::internal("the erasure is not there"))
}
