//! The webhook endpoints' API: register, list, read, delete, rotate the secret, list the
//! delivery attempts, replay.
//!
//! Admins see and manage every endpoint; finance and integration systems their own (another
//! owner's endpoint is `404`, as if it did not exist). The secret is in the answer to the
//! registration and to a rotation only.

use actix_web::http::{StatusCode, header};
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpRequest, HttpResponse, delete, get, post};
use auth::{Principal, Role};
use chrono::{DateTime, Duration, Utc};
use eventlog::Direction;
use events::notifications::{
    DeliveryAttempt, Failing, Owner, Webhook, WebhookDisabled, WebhookEvent, WebhookRegistered,
    webhook_stream,
};
use kernel::http::{
    self, Body, Caller, FromJson, Idempotency, IdempotencyKeyHeader, OptionalBody, Reply, Written,
    store_error,
};
use kernel::{ReadModel, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::{ApiError, Fields};

use super::endpoint::{DEFAULT_OVERLAP, Endpoint, EndpointCommand, EndpointError};
use super::read_model::Webhooks;
use super::transport::check_url;
use super::{Notifier, WebhookOwners, event_types};
use crate::Reporting;

/// A webhook endpoint to register.
#[derive(Debug, ToSchema)]
pub struct WebhookBody {
    /// Where deliveries are POSTed: `https`, to a public address (unless the operator allows
    /// private targets).
    #[schema(example = "https://erp.example.org/procgate/hooks")]
    pub url: String,
    /// Only these event types (for example `purchase-decided`); absent or empty: every event
    /// the caller's role may receive.
    #[schema(required = false, max_items = 100)]
    pub event_types: Vec<String>,
    /// What the endpoint is for, for the people who read the list (at most 200 characters).
    pub description: Option<String>,
}

impl FromJson for WebhookBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let url = f.string("url", map.get("url"), |s: &str| Ok::<_, String>(s.trim().to_owned()));
        let event_types = event_types(f, map);
        let description = match map.get("description") {
            None | Some(Value::Null) => Some(None),
            value => f
                .string("description", value, |s: &str| {
                    events::values::ShortText::parse(s).map(|t| t.to_string())
                })
                .map(Some),
        };
        Some(Self { url: url?, event_types: event_types?, description: description? })
    }
}

/// How long the current secret keeps signing after a rotation.
#[derive(Debug, ToSchema)]
pub struct RotateBody {
    /// Hours (0 to 168, default 24) during which deliveries carry both signatures.
    pub overlap_hours: Option<u32>,
}

impl FromJson for RotateBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let hours = match map.get("overlap_hours") {
            None | Some(Value::Null) => Some(None),
            value => f
                .integer("overlap_hours", value, |n: u64| {
                    if n <= 168 { Ok(n as u32) } else { Err("must be at most 168".to_owned()) }
                })
                .map(Some),
        };
        Some(Self { overlap_hours: hours? })
    }
}

/// Where to deliver again from.
#[derive(Debug, ToSchema)]
pub struct ReplayBody {
    /// Deliver again every event after this log position (0: from the beginning).
    pub after: u64,
}

impl FromJson for ReplayBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let after = f.integer("after", map.get("after"), web::input::int64);
        Some(Self { after: after? })
    }
}

/// A webhook endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    /// The event types delivered; empty: every type the owner may receive.
    pub event_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who registered it: what it receives follows from their role.
    pub owner: Owner,
    pub created_at: Option<DateTime<Utc>>,
    /// `active` or `disabled`.
    pub status: String,
    /// Why it was disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<WebhookDisabled>,
    /// The signing secret: in the answer to the registration and to a rotation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: Option<String>,
    /// The secret's generation (1, then one more per rotation).
    pub secret_generation: u32,
    /// Until when the previous secret also signs deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Every event up to this log position that the endpoint receives has been delivered.
    pub delivered_through: u64,
    /// The event being retried, if the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<Failing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// Attempts that succeeded, and that failed.
    pub delivered: u64,
    pub failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl WebhookView {
    fn of(hook: &Webhook, secret: Option<String>) -> Option<Self> {
        let r = hook.registered.as_ref()?;
        Some(Self {
            id: r.webhook_id,
            url: r.url.clone(),
            event_types: r.event_types.clone(),
            description: r.description.clone(),
            owner: r.owner.clone(),
            created_at: hook.registered_at,
            status: if hook.disabled.is_some() { "disabled" } else { "active" }.into(),
            disabled: hook.disabled.clone(),
            secret,
            secret_generation: hook.generation,
            previous_secret_expires_at: hook.previous_expires_at.filter(|_| hook.generation > 1),
            delivered_through: hook.delivered_through,
            failing: hook.failing.clone(),
            failing_since: hook.failing_since,
            delivered: hook.delivered,
            failed: hook.failed,
            last_attempt_at: hook.last_attempt_at,
        })
    }
}

/// The caller's endpoints (every endpoint, for an admin).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// Delivery attempts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryAttempt>,
}

kernel::problem_responses! {
    /// What the webhook operations may answer besides their own responses: no valid token, not
    /// a role that may own endpoints, the store not answering.
    OwnerErrors {
        "401" => "",
        "403" => "",
        "503" => "",
    }
    /// What an operation on one endpoint may answer besides its own responses: as
    /// [`OwnerErrors`], and no such endpoint of the caller's.
    EndpointErrors {
        "401" => "",
        "403" => "",
        "404" => "No such endpoint of the caller's",
        "503" => "",
    }
}

/// The owner a caller registers as: admin if they are one, else finance, else integration.
fn owner_of(who: &Principal) -> Owner {
    let role = [Role::Admin, Role::Finance, Role::Integration]
        .into_iter()
        .find(|r| who.has(*r))
        .unwrap_or(Role::Integration);
    Owner { subject: who.subject.clone(), role: role.as_str().to_owned() }
}

/// Whether `who` may see and manage the endpoint.
fn may_manage(who: &Principal, hook: &Webhook) -> bool {
    who.has(Role::Admin) || hook.registered.as_ref().is_some_and(|r| r.owner.subject == who.subject)
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(format!("There is no webhook endpoint {id} of yours."))
}

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::NotFound => ApiError::not_found(e.to_string()),
            EndpointError::Exists => ApiError::conflict("webhook-exists", e.to_string()),
        }
    }
}

impl Reporting {
    fn notifier(&self) -> Result<&Notifier, ApiError> {
        self.notifier.as_ref().ok_or_else(|| {
            ApiError::unavailable("Webhooks are not configured on this instance (no webhook key).")
        })
    }

    /// The endpoint `id` as `who` may see it, from the read model once it holds `position`.
    async fn endpoint(
        &self,
        who: &Principal,
        id: Uuid,
        position: Option<u64>,
    ) -> Result<Webhook, ApiError> {
        match position {
            Some(p) => self.read_models().at(p, &[Webhooks::NAME]).await?,
            None => self.read_models().caught_up(&[Webhooks::NAME]).await?,
        }
        let hook = self.read_models().view().one::<Webhooks>(&id.to_string()).await?;
        match hook {
            Some(hook) if !hook.deleted && may_manage(who, &hook) => Ok(hook),
            _ => Err(not_found(id)),
        }
    }

    /// Runs `command` on the endpoint `id` that `who` manages.
    async fn change(
        &self,
        who: &Caller<WebhookOwners>,
        req: &HttpRequest,
        id: Uuid,
        command: EndpointCommand,
    ) -> Result<Option<u64>, ApiError> {
        self.endpoint(who, id, None).await?;
        let meta = http::metadata(who, req, "reporting");
        let done = self
            .commands
            .run(&meta, stream(webhook_stream(id)), &[], |e: &Endpoint, _| {
                Ok(kernel::Aggregate::handle(e, command.clone())?)
            })
            .await?;
        Ok(done.position)
    }
}

/// Register a webhook endpoint.
///
/// Deliveries start with the events appended after the registration, POSTed one at a time in
/// log order, each a CloudEvent signed per Standard Webhooks 1.0 (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`). The answer holds the signing secret
/// (`whsec_…`): keep it, it is not shown again (rotate it to get a new one). A finance
/// system's endpoint receives only its own purchases' events; an integration's, no personal
/// data.
#[utoipa::path(
    tag = "webhooks",
    params(IdempotencyKeyHeader),
    request_body = WebhookBody,
    responses(
        (status = 201, description = "Registered; `secret` is shown this once", body = WebhookView),
        (status = 400, description = "`malformed-json`, `invalid-header`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not admin, finance or integration", body = web::Problem),
        (status = 404, description = "`not-found`: the same `Idempotency-Key` again, after the endpoint it registered was deleted", body = web::Problem),
        (status = 409, description = "`idempotency-conflict`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation` (an unknown event type); `invalid-url` (not https, or not a public address)", body = web::Problem),
        (status = 503, body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/webhooks")]
pub async fn register_webhook(
    who: Caller<WebhookOwners>,
    service: Data<Reporting>,
    req: HttpRequest,
    body: Body<WebhookBody>,
) -> Reply {
    let parsed = body.parse()?;
    let notifier = service.notifier()?;
    let url = check_url(&parsed.url, notifier.settings.targets).map_err(|detail| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-url", detail)
            .with_extension("field", "url")
    })?;
    let once = Idempotency::of(&who, &req, body.json())?;
    let id = Uuid::now_v7();
    let head = service.store().head().await.map_err(store_error)?;
    let registered = WebhookRegistered {
        webhook_id: id,
        url: url.to_string(),
        event_types: parsed.event_types,
        description: parsed.description,
        owner: owner_of(&who),
        start_after: head,
    };
    let meta = http::metadata(&who, &req, "reporting");
    let run = service
        .commands
        .run_idempotent(
            &meta,
            once.as_ref(),
            &[id],
            stream(webhook_stream(id)),
            &[],
            |e: &Endpoint, _| {
                Ok(kernel::Aggregate::handle(e, EndpointCommand::Register(registered.clone()))?)
            },
        )
        .await?;
    let written = Written::of(run, &[id]);
    let id = written.created(0)?;
    let hook = match service.endpoint(&who, id, written.position).await {
        // A repeat whose endpoint is gone cannot be answered as the first was.
        Err(e) if written.replayed && e.status() == StatusCode::NOT_FOUND => {
            return Err(ApiError::not_found(format!(
                "This Idempotency-Key registered the webhook endpoint {id}, which has been \
                 deleted since; register another with a new key."
            )));
        }
        found => found?,
    };
    let secret = notifier.settings.key.secret(id, hook.generation).reveal();
    let view = WebhookView::of(&hook, Some(secret)).ok_or_else(|| not_found(id))?;
    Ok(written
        .respond(StatusCode::CREATED)
        .insert_header((header::LOCATION, format!("/v1/webhooks/{id}")))
        .json(view))
}

/// The caller's webhook endpoints (every one, for an admin), oldest first.
#[utoipa::path(
    tag = "webhooks",
    responses(
        (status = 200, body = WebhookList),
        OwnerErrors,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/webhooks")]
pub async fn list_webhooks(who: Caller<WebhookOwners>, service: Data<Reporting>) -> Reply {
    service.read_models().caught_up(&[Webhooks::NAME]).await?;
    let all = service.read_models().view().all::<Webhooks>().await?;
    let mut webhooks: Vec<WebhookView> = all
        .iter()
        .filter(|h| !h.deleted && may_manage(&who, h))
        .filter_map(|h| WebhookView::of(h, None))
        .collect();
    webhooks.sort_by_key(|w| (w.created_at, w.id));
    Ok(HttpResponse::Ok().json(WebhookList { webhooks }))
}

/// One webhook endpoint: where its deliveries stand.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = WebhookView),
        (status = 400, description = "`invalid-path`", body = web::Problem),
        EndpointErrors,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/webhooks/{id}")]
pub async fn get_webhook(
    who: Caller<WebhookOwners>,
    service: Data<Reporting>,
    id: Path<String>,
) -> Reply {
    let id = http::path_id("id", &id)?;
    let hook = service.endpoint(&who, id, None).await?;
    Ok(HttpResponse::Ok().json(WebhookView::of(&hook, None).ok_or_else(|| not_found(id))?))
}

/// Delete a webhook endpoint: nothing more is delivered to it.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalid-path`", body = web::Problem),
        EndpointErrors,
    ),
    security(("bearer" = [])),
)]
#[delete("/v1/webhooks/{id}")]
pub async fn delete_webhook(
    who: Caller<WebhookOwners>,
    service: Data<Reporting>,
    req: HttpRequest,
    id: Path<String>,
) -> Reply {
    let id = http::path_id("id", &id)?;
    service.change(&who, &req, id, EndpointCommand::Delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate the endpoint's signing secret.
///
/// The answer holds the new secret. The current one keeps signing for `overlap_hours` (24 by
/// default): meanwhile every delivery's `webhook-signature` carries both signatures, so the
/// receiver can switch secrets without missing a delivery.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    request_body(content = Option<RotateBody>),
    responses(
        (status = 200, description = "Rotated; `secret` is the new one, shown this once", body = WebhookView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
        EndpointErrors,
    ),
    security(("bearer" = [])),
)]
#[post("/v1/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    who: Caller<WebhookOwners>,
    service: Data<Reporting>,
    req: HttpRequest,
    id: Path<String>,
    body: OptionalBody<RotateBody>,
) -> Reply {
    let id = http::path_id("id", &id)?;
    let body = body.parse()?;
    let notifier = service.notifier()?.clone();
    let overlap = body.overlap_hours.map_or(DEFAULT_OVERLAP, |h| Duration::hours(h.into()));
    let command = EndpointCommand::Rotate { now: service.now(), overlap };
    let position = service.change(&who, &req, id, command).await?;
    let hook = service.endpoint(&who, id, position).await?;
    let secret = notifier.settings.key.secret(id, hook.generation).reveal();
    Ok(HttpResponse::Ok().json(WebhookView::of(&hook, Some(secret)).ok_or_else(|| not_found(id))?))
}

/// Query parameters of the delivery list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// The most attempts to return: 1 to 1000, default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<usize>,
}

/// The endpoint's delivery attempts, newest first: each with its event, outcome, status, time
/// and, for a failure, when it is tried again.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path), DeliveryParams),
    responses(
        (status = 200, body = DeliveryList),
        (status = 400, description = "`invalid-path`, `invalid-query`", body = web::Problem),
        EndpointErrors,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    who: Caller<WebhookOwners>,
    service: Data<Reporting>,
    id: Path<String>,
    params: Query<DeliveryParams>,
) -> Reply {
    let id = http::path_id("id", &id)?;
    let limit = http::limit(params.limit)?;
    service.endpoint(&who, id, None).await?;
    let stream = stream(webhook_stream(id));
    let mut deliveries = Vec::new();
    let mut from = u64::MAX;
    'read: loop {
        let records = service
            .store()
            .read_stream(&stream, from, Direction::Backwards, 100)
            .await
            .map_err(store_error)?;
        let Some(last) = records.last() else { break };
        from = last.version.saturating_sub(1);
        for record in &records {
            if let Ok(WebhookEvent::AttemptsRecorded(r)) = kernel::decode::<WebhookEvent>(record) {
                for attempt in r.attempts.into_iter().rev() {
                    deliveries.push(attempt);
                    if deliveries.len() == limit {
                        break 'read;
                    }
                }
            }
        }
        if from == 0 || records.len() < 100 {
            break;
        }
    }
    Ok(HttpResponse::Ok().json(DeliveryList { deliveries }))
}

/// Deliver again every event after `after` (for a receiver that lost what it had, or a
/// disabled endpoint that works again: a replay enables it).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path)),
    request_body = ReplayBody,
    responses(
        (status = 202, description = "Deliveries start again after `after`", body = WebhookView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 422, description = "`validation`: `after` is past the log's head", body = web::Problem),
        EndpointErrors,
    ),
    security(("bearer" = [])),
)]
#[post("/v1/webhooks/{id}/replay")]
pub async fn replay(
    who: Caller<WebhookOwners>,
    service: Data<Reporting>,
    req: HttpRequest,
    id: Path<String>,
    body: Body<ReplayBody>,
) -> Reply {
    let id = http::path_id("id", &id)?;
    let after = body.parse()?.after;
    let head = service.store().head().await.map_err(store_error)?;
    if after > head {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("`after` is {after}, past the log's head ({head})."),
        ));
    }
    let position = service.change(&who, &req, id, EndpointCommand::Replay { after }).await?;
    let hook = service.endpoint(&who, id, position).await?;
    Ok(HttpResponse::Accepted().json(WebhookView::of(&hook, None).ok_or_else(|| not_found(id))?))
}
