//! Durable named subscriptions: a system of the district reads the next events after its
//! checkpoint, handles them, and acknowledges how far it got; the checkpoint survives
//! restarts (of procgate and of the consumer), as KurrentDB's persistent subscriptions do.
//!
//! The subscription itself is an event (`subscription-created` on `subscription-{name}`:
//! owner, filters, where it starts); its checkpoint is kept with the log's other consumers'
//! checkpoints, so acknowledging does not grow the log. What a subscription reads follows its
//! owner's role ([`super::scope`]).

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post, put};
use auth::Role;
use chrono::{DateTime, Utc};
use eventlog::{ExpectedVersion, Filter, StoreError};
use events::notifications::{Owner, SubscriptionCreated, SubscriptionEvent, subscription_stream};
use kernel::http::{self, Body, Caller, FromJson, OptionalBody, Reply, store_error};
use kernel::stream;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use web::{ApiError, Fields};

use super::{Subscribers, event_types};
use crate::Reporting;
use crate::scope::Scope;

/// A subscription to create.
#[derive(Debug, ToSchema)]
pub struct SubscriptionBody {
    /// Only these event types; absent or empty: every event the caller's role may receive.
    #[schema(required = false, max_items = 100)]
    pub event_types: Vec<String>,
    /// `now` (the default: the events appended from now on) or `beginning` (the whole log).
    pub start: Option<String>,
}

impl FromJson for SubscriptionBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let event_types = event_types(f, map);
        let start = match map.get("start") {
            None | Some(Value::Null) => Some(None),
            value => f
                .string("start", value, |s: &str| match s {
                    "now" | "beginning" => Ok(s.to_owned()),
                    _ => Err("must be `now` or `beginning`".to_owned()),
                })
                .map(Some),
        };
        Some(Self { event_types: event_types?, start: start? })
    }
}

/// How far the consumer got.
#[derive(Debug, ToSchema)]
pub struct AckBody {
    /// Every event up to this log position has been handled (a page's `next_after`, or the
    /// last handled event's `sequence`).
    pub sequence: u64,
}

impl FromJson for AckBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let sequence = f.integer("sequence", map.get("sequence"), web::input::int64);
        Some(Self { sequence: sequence? })
    }
}

/// A durable subscription and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub name: String,
    pub event_types: Vec<String>,
    pub owner: Owner,
    pub created_at: DateTime<Utc>,
    /// Every event up to here has been acknowledged.
    pub checkpoint: u64,
    /// The log's last position now.
    pub head: u64,
}

/// The next events of a subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionPage {
    /// The events after the checkpoint, oldest first, as the owner may receive them.
    #[schema(value_type = Vec<crate::schemas::FeedEvent>)]
    pub events: Vec<Value>,
    /// The checkpoint they follow.
    pub checkpoint: u64,
    /// Acknowledge this once the events are handled: everything for the subscription up to
    /// here is on this page (it moves past stretches of the log that hold nothing for it).
    pub next_after: u64,
    pub head: u64,
}

/// Query parameters of a subscription's events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NextParams {
    /// The most events to return: 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<usize>,
}

const MAX_NAME: usize = 100;

fn subscription_name(raw: &str) -> Result<String, ApiError> {
    let ok = (1..=MAX_NAME).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad_request(
            "invalid-path",
            format!(
                "`{raw}` is not a subscription name: 1 to {MAX_NAME} lowercase letters, digits, \
                 `-`, `_` or `.`."
            ),
        )
        .with_title("Invalid path parameter"))
    }
}

fn checkpoint_name(name: &str) -> String {
    format!("subscription:{name}")
}

struct Found {
    created: SubscriptionCreated,
    created_at: DateTime<Utc>,
}

impl Reporting {
    /// The subscription `name` as `who` may use it: 404 when it does not exist or is another
    /// owner's (admins may use any).
    async fn subscription(
        &self,
        who: &auth::Principal,
        name: &str,
    ) -> Result<Option<Found>, ApiError> {
        let records = self
            .store()
            .read_stream_to_end(&stream(subscription_stream(name)))
            .await
            .map_err(store_error)?;
        let Some(first) = records.first() else { return Ok(None) };
        let SubscriptionEvent::Created(created) =
            kernel::decode::<SubscriptionEvent>(first).map_err(ApiError::internal)?;
        if created.owner.subject != who.subject && !who.has(Role::Admin) {
            return Err(ApiError::conflict(
                "subscription-taken",
                format!("The subscription name `{name}` is another system's; choose another."),
            ));
        }
        Ok(Some(Found { created, created_at: first.recorded_at }))
    }

    async fn view(&self, found: Found) -> Result<SubscriptionView, ApiError> {
        let store = self.store();
        let name = &found.created.name;
        let checkpoint = store.checkpoint(&checkpoint_name(name)).await.map_err(store_error)?;
        Ok(SubscriptionView {
            name: name.clone(),
            event_types: found.created.event_types,
            owner: found.created.owner,
            created_at: found.created_at,
            checkpoint: checkpoint.unwrap_or(found.created.start_after),
            head: store.head().await.map_err(store_error)?,
        })
    }
}

kernel::problem_responses! {
    /// What an operation on an existing subscription may answer besides its own responses.
    SubscriptionErrors {
        "401" => "",
        "403" => "",
        "404" => "No such subscription",
        "409" => "`subscription-taken`: another system's",
        "503" => "",
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("There is no subscription `{name}`; create it with PUT first."))
}

/// Create a durable subscription (or read it, if it exists).
///
/// Idempotent: the same `PUT` again answers the subscription as it stands. The name is the
/// caller's once created; another system's name is `409 subscription-taken`.
#[utoipa::path(
    tag = "subscriptions",
    params(("name" = String, Path, description = "1 to 100 lowercase letters, digits, `-`, `_` or `.`", pattern = "^[a-z0-9._-]{1,100}$")),
    request_body(content = Option<SubscriptionBody>),
    responses(
        (status = 201, description = "Created", body = SubscriptionView),
        (status = 200, description = "It exists: as it stands", body = SubscriptionView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not integration or admin", body = web::Problem),
        (status = 409, description = "`subscription-taken`; `subscription-exists` (with other event types)", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
        (status = 503, body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/subscriptions/{name}")]
pub async fn put_subscription(
    who: Caller<Subscribers>,
    service: Data<Reporting>,
    req: HttpRequest,
    name: Path<String>,
    body: OptionalBody<SubscriptionBody>,
) -> Reply {
    let name = subscription_name(&name)?;
    let body = body.parse()?;
    if let Some(found) = service.subscription(&who, &name).await? {
        if !body.event_types.is_empty() && body.event_types != found.created.event_types {
            return Err(ApiError::conflict(
                "subscription-exists",
                format!("The subscription `{name}` exists with other event types."),
            ));
        }
        return Ok(HttpResponse::Ok().json(service.view(found).await?));
    }
    let store = service.store();
    let start_after = match body.start.as_deref() {
        Some("beginning") => 0,
        _ => store.head().await.map_err(store_error)?,
    };
    let role = if who.has(Role::Admin) { Role::Admin } else { Role::Integration };
    let created = SubscriptionCreated {
        name: name.clone(),
        event_types: body.event_types,
        owner: Owner { subject: who.subject.clone(), role: role.as_str().to_owned() },
        start_after,
    };
    let meta = http::metadata(&who, &req, "reporting");
    let event = kernel::new_event(&SubscriptionEvent::from(created), meta);
    match store
        .append(&stream(subscription_stream(&name)), ExpectedVersion::NoStream, vec![event])
        .await
    {
        Ok(_) => {}
        // Created by another request at the same moment: answer it as it stands.
        Err(StoreError::WrongExpectedVersion { .. }) => {}
        Err(e) => return Err(store_error(e)),
    }
    let found = service.subscription(&who, &name).await?.ok_or_else(|| not_found(&name))?;
    let status =
        if found.created.start_after == start_after && found.created.owner.subject == who.subject {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
    Ok(HttpResponse::build(status).json(service.view(found).await?))
}

/// The next events after the subscription's checkpoint (it does not move until acknowledged:
/// reading again answers the same events).
#[utoipa::path(
    tag = "subscriptions",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,100}$"), NextParams),
    responses(
        (status = 200, body = SubscriptionPage),
        (status = 400, description = "`invalid-path`, `invalid-query`", body = web::Problem),
        SubscriptionErrors,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/subscriptions/{name}/events")]
pub async fn subscription_events(
    who: Caller<Subscribers>,
    service: Data<Reporting>,
    name: Path<String>,
    params: Query<NextParams>,
) -> Reply {
    let name = subscription_name(&name)?;
    let limit = http::limit(params.limit)?;
    let found = service.subscription(&who, &name).await?.ok_or_else(|| not_found(&name))?;
    let view = service.view(found).await?;
    let mut scope = Scope::for_owner(&view.owner);
    let store = service.store();
    let head = store.head().await.map_err(store_error)?;
    let filter = Filter::all().with_types(view.event_types.iter().cloned());
    let Some(filter) = scope.narrow(&filter) else {
        let page = SubscriptionPage {
            events: vec![],
            checkpoint: view.checkpoint,
            next_after: head,
            head,
        };
        return Ok(HttpResponse::Ok().json(page));
    };
    let mut out: Vec<Value> = Vec::new();
    let mut after = view.checkpoint;
    let next_after = loop {
        let records = store.read_all(after, &filter, limit).await.map_err(store_error)?;
        let full = records.len() == limit;
        let shown = scope.admit(&**store, &records).await.map_err(store_error)?;
        for s in shown {
            if out.len() == limit {
                break;
            }
            out.push(serde_json::to_value(s.cloud()).map_err(ApiError::internal)?);
            after = s.event.position;
        }
        if out.len() == limit {
            break after;
        }
        after = records.last().map_or(after, |r| r.position);
        if !full {
            break after.max(head);
        }
    };
    let page = SubscriptionPage { events: out, checkpoint: view.checkpoint, next_after, head };
    Ok(HttpResponse::Ok().json(page))
}

/// Acknowledge: every event up to `sequence` is handled. The checkpoint only moves forward
/// (an older `sequence` changes nothing).
#[utoipa::path(
    tag = "subscriptions",
    params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,100}$")),
    request_body = AckBody,
    responses(
        (status = 200, description = "The subscription with its checkpoint", body = SubscriptionView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 422, description = "`validation`: `sequence` is past the log's head", body = web::Problem),
        SubscriptionErrors,
    ),
    security(("bearer" = [])),
)]
#[post("/v1/subscriptions/{name}/ack")]
pub async fn ack(
    who: Caller<Subscribers>,
    service: Data<Reporting>,
    name: Path<String>,
    body: Body<AckBody>,
) -> Reply {
    let name = subscription_name(&name)?;
    let sequence = body.parse()?.sequence;
    let found = service.subscription(&who, &name).await?.ok_or_else(|| not_found(&name))?;
    let view = service.view(found).await?;
    if sequence > view.head {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("`sequence` is {sequence}, past the log's head ({}).", view.head),
        ));
    }
    let store = service.store();
    if sequence > view.checkpoint {
        store.save_checkpoint(&checkpoint_name(&name), sequence).await.map_err(store_error)?;
    }
    let found = service.subscription(&who, &name).await?.ok_or_else(|| not_found(&name))?;
    Ok(HttpResponse::Ok().json(service.view(found).await?))
}
