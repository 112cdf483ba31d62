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
use eventlog::{Direction, Metadata, RecordedEvent};
use events::notifications::{
    DeliveryAttempt, Failing, Owner, Webhook, WebhookDisabled, WebhookEvent, WebhookRegistered,
    webhook_stream,
};
use kernel::http::{
    self, Body, Caller, FromJson, Idempotency, IdempotencyKeyHeader, OptionalBody, Reply, Written,
    store_error,
};
use kernel::{Aggregate, Decision, ReadModel, stream};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::{ApiError, Fields};

use super::endpoint::{DEFAULT_OVERLAP, Endpoint, EndpointCommand, EndpointError};
use super::read_model::Webhooks;
use super::transport::{Targets, check_url};
use super::{Notifier, WebhookOwners, event_types, not_past_head};
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
        self.read_models().include(position, &[Webhooks::NAME]).await?;
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
        let done =
            self.commands.run(&meta, stream(webhook_stream(id)), &[], decide(command)).await?;
        Ok(done.position)
    }

    /// Registers an endpoint at `url` for `owner`, delivering what is appended after the log's
    /// head now; once per `Idempotency-Key` (`once`).
    async fn register(
        &self,
        meta: &Metadata,
        once: Option<&Idempotency>,
        owner: Owner,
        url: Url,
        body: WebhookBody,
    ) -> Result<Written, ApiError> {
        let id = Uuid::now_v7();
        let head = self.store().head().await.map_err(store_error)?;
        let registered = WebhookRegistered {
            webhook_id: id,
            url: url.to_string(),
            event_types: body.event_types,
            description: body.description,
            owner,
            start_after: head,
        };
        let register = decide(EndpointCommand::Register(registered));
        let webhook = stream(webhook_stream(id));
        let run = self.commands.run_idempotent(meta, once, &[id], webhook, &[], register).await?;
        Ok(Written::of(run, &[id]))
    }

    /// The endpoint a registration wrote, as `who` may see it (see [`repeat_of_deleted`]).
    async fn registered(
        &self,
        who: &Principal,
        id: Uuid,
        written: &Written,
    ) -> Result<Webhook, ApiError> {
        repeat_of_deleted(self.endpoint(who, id, written.position).await, written, id)
    }

    /// The endpoint's last `limit` delivery attempts, newest first, read back from its stream.
    async fn deliveries(&self, id: Uuid, limit: usize) -> Result<Vec<DeliveryAttempt>, ApiError> {
        let stream = stream(webhook_stream(id));
        let mut deliveries = Vec::new();
        let mut from = u64::MAX;
        loop {
            let records = self
                .store()
                .read_stream(&stream, from, Direction::Backwards, DELIVERY_BATCH)
                .await
                .map_err(store_error)?;
            let Some(last) = records.last() else { break };
            from = last.version.saturating_sub(1);
            let events = records.iter().filter_map(|r| kernel::decode::<WebhookEvent>(r).ok());
            if newest_attempts(events, &mut deliveries, limit)
                || from == 0
                || records.len() < DELIVERY_BATCH
            {
                break;
            }
        }
        Ok(deliveries)
    }
}

/// How many records of an endpoint's stream are read at a time for its delivery list.
const DELIVERY_BATCH: usize = 100;

/// Adds the attempts of `events` (newest first) to `deliveries`, newest first, until it holds
/// `limit`; whether it does.
fn newest_attempts(
    events: impl Iterator<Item = WebhookEvent>,
    deliveries: &mut Vec<DeliveryAttempt>,
    limit: usize,
) -> bool {
    for event in events {
        if let WebhookEvent::AttemptsRecorded(r) = event {
            for attempt in r.attempts.into_iter().rev() {
                deliveries.push(attempt);
                if deliveries.len() == limit {
                    return true;
                }
            }
        }
    }
    false
}

/// The command runner's decision for `command` on an endpoint.
fn decide(
    command: EndpointCommand,
) -> impl Fn(&Endpoint, &[Vec<RecordedEvent>]) -> Result<Decision<WebhookEvent>, ApiError> {
    move |endpoint, _| Ok(endpoint.handle(command.clone())?)
}

/// `raw` as a URL deliveries may go to (see [`check_url`]): a 422 `invalid-url` problem on the
/// field `url` otherwise.
fn checked_url(raw: &str, targets: Targets) -> Result<Url, ApiError> {
    check_url(raw, targets).map_err(|detail| {
        ApiError::unprocessable("invalid-url", detail).with_extension("field", "url")
    })
}

/// The endpoint a registration wrote (`found`): a repeat whose endpoint has been deleted since
/// cannot be answered as the first was, so it is 404 saying so.
fn repeat_of_deleted(
    found: Result<Webhook, ApiError>,
    written: &Written,
    id: Uuid,
) -> Result<Webhook, ApiError> {
    match found {
        Err(e) if written.replayed && e.status() == StatusCode::NOT_FOUND => {
            Err(ApiError::not_found(format!(
                "This Idempotency-Key registered the webhook endpoint {id}, which has been \
                 deleted since; register another with a new key."
            )))
        }
        found => found,
    }
}

/// The endpoint with its current signing secret shown.
fn revealed(notifier: &Notifier, hook: &Webhook, id: Uuid) -> Result<WebhookView, ApiError> {
    let secret = notifier.settings.key.secret(id, hook.generation).reveal();
    WebhookView::of(hook, Some(secret)).ok_or_else(|| not_found(id))
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
    let url = checked_url(&parsed.url, notifier.settings.targets)?;
    let once = Idempotency::of(&who, &req, body.json())?;
    let meta = http::metadata(&who, &req, "reporting");
    let written = service.register(&meta, once.as_ref(), owner_of(&who), url, parsed).await?;
    let id = written.created(0)?;
    let hook = service.registered(&who, id, &written).await?;
    Ok(written
        .respond(StatusCode::CREATED)
        .insert_header((header::LOCATION, format!("/v1/webhooks/{id}")))
        .json(revealed(notifier, &hook, id)?))
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
    Ok(HttpResponse::Ok().json(revealed(&notifier, &hook, id)?))
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
    let deliveries = service.deliveries(id, limit).await?;
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
    not_past_head("after", after, head)?;
    let position = service.change(&who, &req, id, EndpointCommand::Replay { after }).await?;
    let hook = service.endpoint(&who, id, position).await?;
    Ok(HttpResponse::Accepted().json(WebhookView::of(&hook, None).ok_or_else(|| not_found(id))?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::notifications::{AttemptOutcome, WebhookAttemptsRecorded, WebhookDeleted};

    fn attempt(sequence: u64) -> DeliveryAttempt {
        DeliveryAttempt {
            sequence,
            event_id: Uuid::nil(),
            event_type: "purchase-decided".into(),
            attempt: 1,
            at: DateTime::UNIX_EPOCH,
            outcome: AttemptOutcome::Delivered,
            status: Some(204),
            error: None,
            response_excerpt: None,
            duration_ms: 3,
            next_attempt_at: None,
        }
    }

    fn recorded(sequences: &[u64]) -> WebhookEvent {
        let attempts = sequences.iter().copied().map(attempt).collect();
        WebhookEvent::from(WebhookAttemptsRecorded { attempts, replays: 0 })
    }

    fn sequences(deliveries: &[DeliveryAttempt]) -> Vec<u64> {
        deliveries.iter().map(|d| d.sequence).collect()
    }

    #[test]
    fn deliveries_are_listed_newest_first_up_to_the_limit() {
        // The stream read backwards: the last batch of attempts first.
        let newest_first = || {
            [recorded(&[5, 6]), WebhookEvent::from(WebhookDeleted {}), recorded(&[3, 4])]
                .into_iter()
        };
        let mut all = Vec::new();
        assert!(!newest_attempts(newest_first(), &mut all, 10));
        assert_eq!(sequences(&all), [6, 5, 4, 3]);
        let mut three = Vec::new();
        assert!(newest_attempts(newest_first(), &mut three, 3));
        assert_eq!(sequences(&three), [6, 5, 4]);
        // Read on in the next batch, from where the last left off.
        let mut two = vec![attempt(9)];
        assert!(newest_attempts(std::iter::once(recorded(&[7, 8])), &mut two, 2));
        assert_eq!(sequences(&two), [9, 8]);
    }

    #[test]
    fn deliveries_go_to_https_urls_only_unless_private_targets_are_allowed() {
        let refused = checked_url("http://example.org/hooks", Targets::PublicOnly).unwrap_err();
        assert_eq!((refused.status().as_u16(), refused.slug()), (422, "invalid-url"));
        let field = refused.to_problem(None, None).extensions.get("field").cloned();
        assert_eq!(field, Some(serde_json::json!("url")));
        assert!(checked_url("https://example.org/hooks", Targets::PublicOnly).is_ok());
    }

    #[test]
    fn a_repeated_registration_whose_endpoint_was_deleted_says_so() {
        let id = Uuid::from_u128(1);
        let written =
            |replayed| Written { position: None, created: vec![id], replayed, first_version: None };
        let gone = || Err(not_found(id));
        let repeat = repeat_of_deleted(gone(), &written(true), id).unwrap_err();
        assert_eq!(repeat.status(), StatusCode::NOT_FOUND);
        assert!(repeat.detail().starts_with("This Idempotency-Key registered"));
        let first = repeat_of_deleted(gone(), &written(false), id).unwrap_err();
        assert_eq!(first.detail(), not_found(id).detail());
        let found = repeat_of_deleted(Ok(Webhook::default()), &written(true), id);
        assert!(found.is_ok());
    }
}
