//! Notifications: webhook endpoints fed straight from the log, and durable named
//! subscriptions for the district's systems.
//!
//! | endpoint | roles | module |
//! |---|---|---|
//! | `POST`/`GET /v1/webhooks`, `GET`/`DELETE /v1/webhooks/{id}`, `POST /v1/webhooks/{id}/rotate-secret`, `GET /v1/webhooks/{id}/deliveries`, `POST /v1/webhooks/{id}/replay` | admin (any endpoint); finance and integration (their own) | [`api`] |
//! | `PUT /v1/subscriptions/{name}`, `GET /v1/subscriptions/{name}/events`, `POST /v1/subscriptions/{name}/ack` | integration, admin | [`subscriptions`] |
//! | `GET`/`PUT /v1/email-preferences/{email}` | it_staff, admin; anyone for their own address | [`mail::api`] |
//!
//! E-mail to people (held purchases, clocks, decisions, promises and follow-ups due) goes
//! through the district's SMTP relay ([`mail`]).
//!
//! Deliveries ([`deliver`]) follow Standard Webhooks 1.0 ([`signing`]) over a client that
//! cannot be pointed inside the district's network ([`transport`]); what an owner receives is
//! the audience rule of `events::audience` ([`crate::scope`]).

pub mod api;
pub mod deliver;
pub mod endpoint;
pub mod mail;
pub mod read_model;
pub mod signing;
pub mod subscription;
pub mod subscriptions;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use auth::Role;
use eventlog::Store;
use kernel::http::Roles;
use serde_json::{Map, Value};
use web::{ApiError, Fields};

pub use signing::{Secret, WebhookKey};
pub use transport::Targets;

/// How deliveries are made; [`Settings::new`] has the production defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The district's webhook key: every endpoint's secrets are derived from it.
    pub key: WebhookKey,
    /// This instance's name on leases (`PROCGATE_INSTANCE_ID`): unique per running instance,
    /// and the same across restarts of one, so a restarted instance takes its lease back at
    /// once.
    pub instance: String,
    /// Whether `http` and private addresses are allowed (`PROCGATE_WEBHOOKS_ALLOW_PRIVATE`).
    pub targets: Targets,
    /// How long one attempt may take (15 s).
    pub attempt_timeout: Duration,
    /// How long a lease lasts (60 s): how long an endpoint waits when its instance stops.
    pub lease: Duration,
    /// Events read per batch (100).
    pub batch: usize,
    /// Whether this instance delivers (`PROCGATE_WEBHOOKS_DELIVER`, default true); one that
    /// does not still serves the API.
    pub deliver: bool,
}

impl Settings {
    pub fn new(key: WebhookKey, instance: impl Into<String>) -> Self {
        Self {
            key,
            instance: instance.into(),
            targets: Targets::PublicOnly,
            attempt_timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            batch: 100,
            deliver: true,
        }
    }
}

/// The running notifications of one instance.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub(crate) store: Store,
    pub(crate) settings: Arc<Settings>,
    pub(crate) client: reqwest::Client,
    pub(crate) clock: kernel::Clock,
}

impl Notifier {
    pub fn new(store: Store, settings: Settings, clock: kernel::Clock) -> Self {
        let client = transport::client(settings.targets, settings.attempt_timeout);
        Self { store, settings: Arc::new(settings), client, clock }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// Who may have webhook endpoints: admins (any), finance and integration systems (their own).
pub(crate) struct WebhookOwners;
impl Roles for WebhookOwners {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Finance, Role::Integration];
}

/// Who may have durable subscriptions.
pub(crate) struct Subscribers;
impl Roles for Subscribers {
    const ROLES: &'static [Role] = &[Role::Integration, Role::Admin];
}

/// The body's optional `event_types` (absent or empty: every type), each an event type of the
/// log, at most [`MAX_EVENT_TYPES`]; `None` when a field is invalid (recorded in `f`).
pub(crate) fn event_types(f: &mut Fields, map: &Map<String, Value>) -> Option<Vec<String>> {
    let known = events::event_schemas();
    // Optional, not nullable.
    let types =
        f.optional_array("event_types", map.get("event_types"), 0, MAX_EVENT_TYPES, |f, p, v| {
            f.string(p, Some(v), |s: &str| {
                if known.iter().any(|k| k.event_type == s) {
                    Ok(s.to_owned())
                } else {
                    Err(format!("`{s}` is not an event type of procgate's log"))
                }
            })
        });
    types.map(Option::unwrap_or_default)
}

/// The most event types one endpoint or subscription may filter on.
pub(crate) const MAX_EVENT_TYPES: usize = 100;

/// A 422 `validation` problem when the log position `value` of the field `name` is past the
/// log's `head`: nothing is there yet to deliver again from or to acknowledge.
pub(crate) fn not_past_head(name: &str, value: u64, head: u64) -> Result<(), ApiError> {
    if value > head {
        return Err(ApiError::unprocessable(
            "validation",
            format!("`{name}` is {value}, past the log's head ({head})."),
        ));
    }
    Ok(())
}

/// Registers the notification routes.
pub(crate) fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(api::register_webhook)
        .service(api::list_webhooks)
        .service(api::get_webhook)
        .service(api::delete_webhook)
        .service(api::rotate_secret)
        .service(api::list_deliveries)
        .service(api::replay)
        .service(subscriptions::put_subscription)
        .service(subscriptions::subscription_events)
        .service(subscriptions::ack)
        .service(mail::api::get_preference)
        .service(mail::api::put_preference);
}

#[cfg(test)]
mod tests {
    use super::not_past_head;

    #[test]
    fn a_position_up_to_the_head_is_accepted_and_one_past_it_refused() {
        assert!(not_past_head("after", 0, 0).is_ok());
        assert!(not_past_head("after", 10, 10).is_ok());
        let refused = not_past_head("sequence", 11, 10).unwrap_err();
        assert_eq!((refused.status().as_u16(), refused.slug()), (422, "validation"));
        assert_eq!(refused.detail(), "`sequence` is 11, past the log's head (10).");
    }
}
