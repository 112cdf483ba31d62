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
use auth::{Principal, Role};
use chrono::{DateTime, Utc};
use eventlog::{Filter, Metadata, RecordedEvent};
use events::notifications::{Owner, SubscriptionCreated, SubscriptionEvent, subscription_stream};
use kernel::http::{self, Body, Caller, FromJson, OptionalBody, Reply, store_error};
use kernel::{Aggregate, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use web::{ApiError, Fields};

use super::subscription::Subscription;
use super::{Subscribers, event_types, not_past_head};
use crate::Reporting;
use crate::scope::{Scope, Shown};

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

impl SubscriptionBody {
    /// 409 `subscription-exists` when the subscription `name` (`existing`) filters on other
    /// event types than the body names (naming none agrees with any).
    fn agrees_with(&self, name: &str, existing: &SubscriptionCreated) -> Result<(), ApiError> {
        if !self.event_types.is_empty() && self.event_types != existing.event_types {
            return Err(ApiError::conflict(
                "subscription-exists",
                format!("The subscription `{name}` exists with other event types."),
            ));
        }
        Ok(())
    }

    /// Whether the subscription starts at the beginning of the log (rather than now).
    fn starts_at_the_beginning(&self) -> bool {
        self.start.as_deref() == Some("beginning")
    }

    /// The subscription `name` it creates for `who`, starting after `start_after`: owned as an
    /// admin by an admin, as an integration by anyone else.
    fn created(&self, name: &str, who: &Principal, start_after: u64) -> SubscriptionCreated {
        let role = if who.has(Role::Admin) { Role::Admin } else { Role::Integration };
        SubscriptionCreated {
            name: name.to_owned(),
            event_types: self.event_types.clone(),
            owner: Owner { subject: who.subject.clone(), role: role.as_str().to_owned() },
            start_after,
        }
    }
}

/// The status of a `PUT` that found no subscription and created one: 201 when the subscription
/// now there is the one it created (its start and owner), 200 when another request created it
/// at the same moment.
fn created_status(found: &SubscriptionCreated, start_after: u64, who: &Principal) -> StatusCode {
    if found.start_after == start_after && found.owner.subject == who.subject {
        StatusCode::CREATED
    } else {
        StatusCode::OK
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

    /// The subscription `name` as `who` may use it (see [`Reporting::subscription`]); 404 when
    /// it does not exist.
    async fn existing(&self, who: &Principal, name: &str) -> Result<Found, ApiError> {
        self.subscription(who, name).await?.ok_or_else(|| not_found(name))
    }

    /// Where a new subscription's checkpoint starts: 0, or the log's head now.
    async fn start_after(&self, body: &SubscriptionBody) -> Result<u64, ApiError> {
        if body.starts_at_the_beginning() {
            return Ok(0);
        }
        self.store().head().await.map_err(store_error)
    }

    /// Creates the subscription `created` describes, unless it exists (created by another
    /// request at the same moment: it is then answered as it stands).
    async fn create_subscription(
        &self,
        meta: &Metadata,
        created: SubscriptionCreated,
    ) -> Result<(), ApiError> {
        let stream = stream(subscription_stream(&created.name));
        self.commands
            .run(meta, stream, &[], |s: &Subscription, _| Ok(s.handle(created.clone())?))
            .await?;
        Ok(())
    }

    /// The next events of the subscription `view`, at most `limit`, as its owner may receive
    /// them.
    async fn next_events(
        &self,
        view: &SubscriptionView,
        limit: usize,
    ) -> Result<SubscriptionPage, ApiError> {
        let mut scope = Scope::for_owner(&view.owner);
        let store = self.store();
        let head = store.head().await.map_err(store_error)?;
        let filter = Filter::all().with_types(view.event_types.iter().cloned());
        let mut next = NextEvents { events: Vec::new(), after: view.checkpoint, limit };
        let next_after = match scope.narrow(&filter) {
            None => head,
            Some(filter) => loop {
                let read = store.read_all(next.after, &filter, limit).await.map_err(store_error)?;
                let shown = scope.admit(&**store, &read).await.map_err(store_error)?;
                if let Some(next_after) = next.take(&read, &shown, head)? {
                    break next_after;
                }
            },
        };
        Ok(SubscriptionPage { events: next.events, checkpoint: view.checkpoint, next_after, head })
    }

    /// Moves the checkpoint of the subscription `name` from `checkpoint` to `sequence`, if that
    /// is forward, also of what another acknowledgement stored meanwhile.
    async fn acknowledge(
        &self,
        name: &str,
        checkpoint: u64,
        sequence: u64,
    ) -> Result<(), ApiError> {
        if sequence > checkpoint {
            let store = self.store();
            let name = checkpoint_name(name);
            store.advance_checkpoint(&name, sequence).await.map_err(store_error)?;
        }
        Ok(())
    }
}

/// A subscription's page of next events as it is collected, read after read.
struct NextEvents {
    /// What the owner receives, so far.
    events: Vec<Value>,
    /// Every event up to here has been looked at.
    after: u64,
    /// The most events the page holds, and the most each read returns.
    limit: usize,
}

impl NextEvents {
    /// Takes a read of at most `limit` events after `after` (`read`, of which the owner
    /// receives `shown`): the page's `next_after` once the page is done, that is full (its last
    /// event) or short of a full read (everything up to `head` was looked at); `None` to read
    /// on from `after`.
    fn take(
        &mut self,
        read: &[RecordedEvent],
        shown: &[Shown<'_>],
        head: u64,
    ) -> Result<Option<u64>, ApiError> {
        for s in shown {
            if self.events.len() == self.limit {
                break;
            }
            self.events.push(serde_json::to_value(s.cloud()).map_err(ApiError::internal)?);
            self.after = s.event.position;
        }
        if self.events.len() == self.limit {
            return Ok(Some(self.after));
        }
        self.after = read.last().map_or(self.after, |r| r.position);
        if read.len() < self.limit {
            return Ok(Some(self.after.max(head)));
        }
        Ok(None)
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
        body.agrees_with(&name, &found.created)?;
        return Ok(HttpResponse::Ok().json(service.view(found).await?));
    }
    let start_after = service.start_after(&body).await?;
    let created = body.created(&name, &who, start_after);
    service.create_subscription(&http::metadata(&who, &req, "reporting"), created).await?;
    let found = service.existing(&who, &name).await?;
    // Another request may have created it meanwhile: it must agree with this one, too.
    body.agrees_with(&name, &found.created)?;
    let status = created_status(&found.created, start_after, &who);
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
    let view = service.view(service.existing(&who, &name).await?).await?;
    Ok(HttpResponse::Ok().json(service.next_events(&view, limit).await?))
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
    let view = service.view(service.existing(&who, &name).await?).await?;
    not_past_head("sequence", sequence, view.head)?;
    service.acknowledge(&name, view.checkpoint, sequence).await?;
    Ok(HttpResponse::Ok().json(service.view(service.existing(&who, &name).await?).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::subscription::tests::created;
    use eventlog::Actor;

    fn body(event_types: &[&str], start: Option<&str>) -> SubscriptionBody {
        SubscriptionBody {
            event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
            start: start.map(str::to_owned),
        }
    }

    #[test]
    fn putting_a_subscription_again_agrees_unless_it_names_other_event_types() {
        assert!(body(&[], None).agrees_with("erp-orders", &created(0)).is_ok());
        assert!(body(&["purchase-decided"], None).agrees_with("erp-orders", &created(0)).is_ok());
        let refused =
            body(&["purchase-held"], None).agrees_with("erp-orders", &created(0)).unwrap_err();
        assert_eq!((refused.status().as_u16(), refused.slug()), (409, "subscription-exists"));
        assert!(refused.detail().contains("`erp-orders`"));
    }

    #[test]
    fn a_subscription_starts_now_unless_asked_for_the_beginning() {
        assert!(!body(&[], None).starts_at_the_beginning());
        assert!(!body(&[], Some("now")).starts_at_the_beginning());
        assert!(body(&[], Some("beginning")).starts_at_the_beginning());
    }

    #[test]
    fn an_admins_subscription_is_owned_as_an_admin_anyone_elses_as_an_integration() {
        let admin = Principal::new("root", vec![Role::Admin, Role::Integration]);
        let created = body(&["purchase-decided"], None).created("erp-orders", &admin, 7);
        assert_eq!(
            (created.owner.subject.as_str(), created.owner.role.as_str()),
            ("root", "admin")
        );
        assert_eq!((created.name.as_str(), created.start_after), ("erp-orders", 7));
        let erp = Principal::new("erp", vec![Role::Integration]);
        let created = body(&[], None).created("erp-orders", &erp, 7);
        assert_eq!(created.owner.role, "integration");
    }

    #[test]
    fn a_put_that_created_the_subscription_is_201_and_one_that_met_another_200() {
        let erp = Principal::new("erp", vec![Role::Integration]);
        assert_eq!(created_status(&created(7), 7, &erp), StatusCode::CREATED);
        assert_eq!(created_status(&created(7), 9, &erp), StatusCode::OK);
        let other = Principal::new("root", vec![Role::Admin]);
        assert_eq!(created_status(&created(7), 7, &other), StatusCode::OK);
    }

    fn event(position: u64) -> RecordedEvent {
        RecordedEvent {
            position,
            id: uuid::Uuid::now_v7(),
            stream: "school-lincoln".into(),
            version: position,
            event_type: "school-registered".into(),
            data: serde_json::json!({}),
            metadata: Metadata::new(Actor::new("jdoe", "admin"), "stakeholders"),
            recorded_at: Utc::now(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_page_ends_at_its_last_event_when_full() {
        let read: Vec<RecordedEvent> = (4..=6).map(event).collect();
        let shown: Vec<Shown<'_>> = read.iter().map(Shown::whole).collect();
        let mut next = NextEvents { events: Vec::new(), after: 3, limit: 2 };
        assert_eq!(next.take(&read[..2], &shown[..2], 100).unwrap(), Some(5));
        assert_eq!(next.events.len(), 2);
    }

    #[test]
    fn a_full_read_of_events_the_owner_does_not_receive_reads_on_after_them() {
        let read: Vec<RecordedEvent> = (4..=5).map(event).collect();
        let shown: Vec<Shown<'_>> = read.iter().take(1).map(Shown::whole).collect();
        let mut next = NextEvents { events: Vec::new(), after: 3, limit: 2 };
        assert_eq!(next.take(&read, &shown, 100).unwrap(), None);
        assert_eq!((next.events.len(), next.after), (1, 5));
    }

    #[test]
    fn a_short_read_moves_the_page_on_to_the_head() {
        let read = vec![event(4)];
        let shown: Vec<Shown<'_>> = read.iter().map(Shown::whole).collect();
        let mut next = NextEvents { events: Vec::new(), after: 3, limit: 2 };
        assert_eq!(next.take(&read, &shown, 100).unwrap(), Some(100));
        let mut nothing = NextEvents { events: Vec::new(), after: 3, limit: 2 };
        assert_eq!(nothing.take(&[], &[], 100).unwrap(), Some(100));
    }
}
