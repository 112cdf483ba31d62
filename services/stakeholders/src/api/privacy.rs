//! Erasing a person's personal data (`DELETE /v1/stakeholders/{id}/personal-data`).
//!
//! Their data keys are destroyed in the store's key table (every field sealed with them, in
//! every event of the log, then reads as erased), then `personal-data-erased` is appended on
//! `privacy-{id}`, with `email-released` on the claim of their address (free again, it no
//! longer leads to them): every reader forgets the keys it holds and every read model is
//! rebuilt from the log, where the data now reads `(erased)`. The chain covers the ciphertext,
//! so the log still verifies. Asked again, it destroys whatever key of theirs was made since
//! (none, normally) and answers with the erasure recorded first. An attempt that destroyed the
//! keys but stopped before recording the erasure (the process stopped, the append failed) is
//! finished by asking again: the erasure is recorded then, naming the keys destroyed before
//! (not the notes keys retention erased and announced: `first_erasure_keys`). The first
//! erasure is recorded once (it expects no `privacy-{id}` stream): of requests asking at the
//! same time, one records it and the others answer with it.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete};
use auth::Role;
use chrono::{DateTime, Utc};
use eventlog::{
    ExpectedVersion, Filter, KeySelector, Metadata, NewEvent, RecordedEvent, Store, StoreError,
    StreamAppend, StreamName,
};
use events::privacy::{PersonalDataErased, PrivacyEvent, erasure_stream};
use events::stakeholders::{
    EMAIL_CATEGORY, EmailEvent, EmailReleased, email_holder, stakeholder_stream,
};
use events::values::LongText;
use kernel::http::{self, Body, Context, FromJson, Reply, Roles, store_error};
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
/// day, a purchase, a call) stay; their e-mail address is free to register again. Cannot be
/// undone.
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
        (status = 409, description = "`concurrent-update`: their address changed meanwhile; ask again", body = web::Problem),
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
        let claims = claims_held(store, id).await?;
        if record(store, id, first, ExpectedVersion::NoStream, &claims, meta.clone()).await? {
            return answer(store, id).await;
        }
    }
    // No first erasure here: the request raced a change of their address, not an erasure.
    let first = first_erasure(store, id).await?.ok_or_else(http::concurrent_update)?;
    let named = decode(&first)?.keys;
    let rest = destroyed.into_iter().filter(|k| !named.contains(k)).collect();
    let again = announcement(true, id, rest, &erasure.reason, by);
    // The claims still theirs are released with it; a request releasing them at the same
    // moment makes this one read them again (and find them released).
    for _ in 0..kernel::RETRIES {
        let claims = claims_held(store, id).await?;
        if record(store, id, again.clone(), ExpectedVersion::Any, &claims, meta.clone()).await? {
            return Ok(HttpResponse::Ok().json(view(&first)?));
        }
    }
    Err(http::concurrent_update())
}

/// The answer: the erasure of stakeholder `id` recorded first.
async fn answer(store: &Store, id: Uuid) -> Reply {
    let first = first_erasure(store, id).await?;
    let first = first.ok_or_else(|| ApiError::internal("the erasure is not there"))?;
    Ok(HttpResponse::Ok().json(view(&first)?))
}

/// Every event of the log that `filter` selects, a page at a time, to `each`.
async fn read_every(
    store: &Store,
    filter: &Filter,
    mut each: impl FnMut(&RecordedEvent),
) -> Result<(), ApiError> {
    let mut after = 0;
    loop {
        let page = store.read_all(after, filter, 1000).await.map_err(store_error)?;
        let Some(last) = page.last() else { return Ok(()) };
        after = last.position;
        page.iter().for_each(&mut each);
    }
}

/// The claims on e-mail addresses that stakeholder `id` holds, each with its stream's version:
/// an erasure releases them, so that the address is free again and no longer leads to the
/// erased record (`409 email-taken` names the holder).
async fn claims_held(store: &Store, id: Uuid) -> Result<Vec<(StreamName, u64)>, ApiError> {
    let mut claims: BTreeMap<String, (Vec<EmailEvent>, u64)> = BTreeMap::new();
    let mut undecodable = None;
    read_every(store, &Filter::categories([EMAIL_CATEGORY]), |event| {
        match kernel::decode::<EmailEvent>(event) {
            Ok(e) => {
                let claim = claims.entry(event.stream.to_string()).or_default();
                claim.0.push(e);
                claim.1 = event.version;
            }
            Err(e) => undecodable = Some(e),
        }
    })
    .await?;
    if let Some(e) = undecodable {
        return Err(ApiError::internal(e));
    }
    let held = claims.into_iter().filter(|(_, (events, _))| email_holder(events) == Some(id));
    Ok(held.map(|(name, (_, version))| (stream(name), version)).collect())
}

/// Every key retention announced it erased (an event that does not decode is passed over, as
/// the retention schedule passes it over).
async fn retention_announced(store: &Store) -> Result<BTreeSet<String>, ApiError> {
    let filter = Filter::categories([PrivacyEvent::CATEGORY]).with_types(["retention-erased"]);
    let mut keys = BTreeSet::new();
    read_every(store, &filter, |event| {
        match kernel::decode::<PrivacyEvent>(event) {
            Ok(PrivacyEvent::RetentionErased(erased)) => keys.extend(erased.keys),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(position = event.position, error = %e, "a retention-erased event passed over")
            }
        }
    })
    .await?;
    Ok(keys)
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

/// Appends the erasure `event` of stakeholder `id`, if any, with `expected` of their privacy
/// stream, together with the release of each of the `claims` they hold (at the version read);
/// `false` when a stream moved meanwhile (another request's erasure, a change of address).
async fn record(
    store: &Store,
    id: Uuid,
    event: Option<PersonalDataErased>,
    expected: ExpectedVersion,
    claims: &[(StreamName, u64)],
    meta: Metadata,
) -> Result<bool, ApiError> {
    let new = |event: Value, kind: &str| NewEvent::new(kind, event, meta.clone());
    let mut appends: Vec<StreamAppend> = event
        .map(PrivacyEvent::from)
        .map(|e| {
            let erased = new(e.to_data(), e.event_type());
            StreamAppend::new(stream(erasure_stream(id)), expected, vec![erased])
        })
        .into_iter()
        .collect();
    for (claim, version) in claims {
        let released = EmailEvent::from(EmailReleased { stakeholder_id: id });
        let released = new(released.to_data(), released.event_type());
        appends.push(StreamAppend::new(
            claim.clone(),
            ExpectedVersion::Exact(*version),
            vec![released],
        ));
    }
    if appends.is_empty() {
        return Ok(true);
    }
    match store.append_streams(appends).await {
        Ok(_) => Ok(true),
        Err(StoreError::WrongExpectedVersion { .. }) => Ok(false),
        Err(e) => Err(store_error(e)),
    }
}

/// The erasure of stakeholder `id` recorded first, if any.
async fn first_erasure(store: &Store, id: Uuid) -> Result<Option<RecordedEvent>, ApiError> {
    let recorded = store.read_stream_to_end(&stream(erasure_stream(id))).await;
    Ok(recorded.map_err(store_error)?.into_iter().next())
}
