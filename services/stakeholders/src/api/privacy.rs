//! Erasing a person's personal data (`DELETE /v1/stakeholders/{id}/personal-data`).
//!
//! Their data keys are destroyed in the store's key table (every field sealed with them, in
//! every event of the log, then reads as erased), then `personal-data-erased` is appended on
//! `privacy-{id}`: every reader forgets the keys it holds and every read model is rebuilt
//! from the log, where the data now reads `(erased)`. The chain covers the ciphertext, so the
//! log still verifies. Asked again, it destroys whatever key of theirs was made since (none,
//! normally) and answers with the erasure recorded first.

use actix_web::{HttpResponse, delete};
use auth::Role;
use chrono::{DateTime, Utc};
use eventlog::{ExpectedVersion, KeySelector, NewEvent, RecordedEvent};
use events::privacy::{PersonalDataErased, PrivacyEvent, erasure_stream};
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

/// The erasure to announce: `None` when an earlier one stands and no key of theirs was left
/// to destroy (asking again changes nothing).
pub(crate) fn announcement(
    earlier: bool,
    stakeholder_id: Uuid,
    destroyed: Vec<String>,
    reason: &LongText,
    by: &str,
) -> Option<PersonalDataErased> {
    (!earlier || !destroyed.is_empty()).then(|| PersonalDataErased {
        stakeholder_id,
        reason: reason.clone(),
        erased_by: by.to_owned(),
        keys: destroyed,
    })
}

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
    let (person, privacy) = (stream(stakeholder_stream(id)), stream(erasure_stream(id)));
    let [person_events, earlier] = <[Vec<RecordedEvent>; 2]>::try_from(
        store.read_streams(&[(person, 1), (privacy.clone(), 1)]).await.map_err(store_error)?,
    )
    .map_err(|_| ApiError::internal("read_streams answered the wrong number of lists"))?;
    if person_events.is_empty() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "unknown-stakeholder",
            format!("There is no stakeholder {id}."),
        ));
    }
    let selector = KeySelector::Person(stakeholder_stream(id));
    let destroyed =
        store.destroy_data_keys(&selector, erasure.reason.as_str()).await.map_err(store_error)?;
    let Some(event) =
        announcement(!earlier.is_empty(), id, destroyed, &erasure.reason, &cx.who.subject)
    else {
        return Ok(HttpResponse::Ok().json(view(&earlier[0])?));
    };
    let event = PrivacyEvent::from(event);
    let new = NewEvent::new(event.event_type(), event.to_data(), metadata(&cx));
    store.append(&privacy, ExpectedVersion::Any, vec![new]).await.map_err(store_error)?;
    let recorded = store.read_stream_to_end(&privacy).await.map_err(store_error)?;
    let first = recorded.first().ok_or_else(|| ApiError::internal("the erasure is not there"))?;
    Ok(HttpResponse::Ok().json(view(first)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason() -> LongText {
        LongText::parse("Left the district").unwrap()
    }

    #[test]
    fn given_no_erasure_when_erasing_then_it_is_announced_even_without_keys() {
        let e = announcement(false, Uuid::from_u128(1), vec![], &reason(), "admin").unwrap();
        assert_eq!(e.keys, Vec::<String>::new());
        assert_eq!(e.erased_by, "admin");
    }

    #[test]
    fn given_an_erasure_when_erasing_again_then_only_new_keys_are_announced() {
        assert_eq!(announcement(true, Uuid::from_u128(1), vec![], &reason(), "admin"), None);
        let again = announcement(true, Uuid::from_u128(1), vec!["call-9".into()], &reason(), "a");
        assert_eq!(again.unwrap().keys, vec!["call-9".to_owned()]);
    }
}
