//! procgate's reporting service: what the log says, for IT leadership, auditors and the
//! district's other systems.
//!
//! It reads the log through the `eventlog` store interface, so it runs on either backend and
//! beside any number of gate and stakeholder instances, and appends only its own records: the
//! webhook endpoints and their deliveries (`webhook-…`) and the durable subscriptions
//! (`subscription-…`). It knows the other services only through the event types they publish
//! (the `events` crate).
//!
//! | endpoint | roles | module |
//! |---|---|---|
//! | `GET /v1/events` | any | [`feed`]: the log as CloudEvents ([`cloudevent`]), in pages, as the caller's role may see it ([`scope`]) |
//! | `GET /v1/events/live` | any | [`live`]: the same as server-sent events, catch-up then live |
//! | `GET /v1/streams/{stream}` | auditor, it_staff, admin | [`feed`]: one stream's events |
//! | `GET /v1/reports/{adoption,response-times,promises,rogue-spend,wishes,sla}` | it_staff, auditor, admin | [`reports`]: figures kept by projections, JSON or CSV; durations in the district's business time |
//! | `GET /v1/audit/purchases/{id}` | auditor, admin | [`replay`]: one purchase's history, replayed from its stream |
//! | `GET /v1/audit/verify` | auditor, admin | [`audit`]: recompute the hash chain |
//! | `GET`/`POST /v1/audit/anchors`, `POST /v1/audit/anchors/verify` | auditor, admin | [`anchors`]: signed statements of the chain's head, and checking the log against them |
//! | `/v1/webhooks…` | admin; finance and integration for their own | [`notify`]: signed webhook deliveries straight from the log |
//! | `/v1/subscriptions/{name}…` | integration, admin | [`notify`]: durable named subscriptions |
//!
//! The OpenAPI document types every event's `data` by its `type` ([`schemas`]).
//!
//! # For the command line
//!
//! - [`replay_purchase`] and [`render_timeline`]: `procgate audit replay --purchase ID`.
//! - [`verify_log`]: `procgate audit verify`.
//! - [`projections`] and [`rebuild`]: rebuild every report from the log, in one pass.
//!
//! # Wiring
//!
//! The service is built on the kernel (`kernel`): the reports are `kernel::ReadModel`s, run by
//! `kernel::ReadModels`; handlers take a `kernel::http::Caller` of the roles they need (a
//! report handler a `reports::ReportRequest`, which holds one); store
//! failures read as `kernel::http::store_error` says; the document is `kernel::http::document`
//! with the kernel's `BearerAuth`.
//!
//! [`Reporting::start`] starts the report projections (each follows the log from its stored
//! checkpoint) and [`Reporting`] implements [`web::Service`]: [`routes`] registers every handler
//! through `utoipa_actix_web`'s `ServiceConfig`, and [`Reporting::openapi`](web::Service::openapi)
//! derives the document from that same function, so the routes and the document cannot
//! drift. The committed copy is `openapi/reporting.json` (a test fails on drift; regenerate it
//! with `UPDATE_OPENAPI=1 cargo test -p reporting`).

pub mod anchors;
pub mod audit;
pub mod cloudevent;
pub mod feed;
pub mod live;
pub mod notify;
pub mod query;
pub mod replay;
pub mod reports;
pub mod schemas;
pub mod scope;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventlog::Store;
use kernel::ReadModels;
use kernel::http::BearerAuth;
use utoipa::{Modify, OpenApi};

pub use audit::{VerifyReport, verify_log};
pub use cloudevent::CloudEvent;
pub use live::DEFAULT_HEARTBEAT;
pub use replay::{Replay, ReplayError, render_timeline, replay_purchase};
pub use reports::{projections, rebuild};

/// The name of the bearer security scheme in the OpenAPI document.
pub const SECURITY_SCHEME: &str = "bearer";

/// The reporting service.
///
/// Cheap to clone (handles only); the handlers get a clone as app data.
#[derive(Debug, Clone)]
pub struct Reporting {
    store: Store,
    verifier: Arc<auth::Verifier>,
    settings: Settings,
    state: Arc<State>,
    read_models: Arc<ReadModels>,
    /// The time now: the district's today, and where running clocks stand.
    clock: kernel::Clock,
    /// Appends the service's own records (webhook endpoints).
    commands: kernel::Commands,
    /// Webhook deliveries, when the service has a webhook key.
    notifier: Option<notify::Notifier>,
    /// The delivery supervisor: stops when the last clone of the service is dropped.
    delivering: Option<Arc<AbortOnDrop>>,
    /// The mailer, likewise.
    mailing: Option<Arc<kernel::schedule::Running>>,
    /// The key that signs anchors of the chain, and the periodic signer.
    anchor_key: Option<anchors::AnchorKey>,
    anchoring: Option<Arc<AbortOnDrop>>,
}

/// Aborts a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Tunables; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long a live stream may stay silent before it sends a `: keep-alive` comment
    /// (default 15 s). Proxies and load balancers close connections idle for longer than about
    /// a minute, and a write is how a server learns that its client has gone.
    pub heartbeat: Duration,
    /// The reconnection delay live clients are told (`retry:`), in milliseconds.
    pub retry_ms: u64,
    /// How long a report read waits for its projection to reach the log's head before it
    /// answers 503 (default 10 s; only a service catching up with a long log waits that long).
    pub report_wait: Duration,
    /// The most live streams one subject may have open at once (default 20).
    pub live_streams_per_subject: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            heartbeat: DEFAULT_HEARTBEAT,
            retry_ms: 3000,
            report_wait: reports::DEFAULT_REPORT_WAIT,
            live_streams_per_subject: 20,
        }
    }
}

/// Shared, process-wide state of one service instance.
#[derive(Debug, Default)]
struct State {
    /// Live streams open now.
    live_streams: AtomicUsize,
    /// Live streams open now, by subject.
    live_by_subject: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// One chain verification at a time: it reads the whole range, and two at once would
    /// only compete for the same database.
    verifying: tokio::sync::Mutex<()>,
}

impl Reporting {
    /// Starts the service on `store`, authenticating requests with `verifier`, and starts the
    /// report projections on the current tokio runtime: each catches up from its checkpoint in
    /// the background, then follows the log (retrying while the store does not answer), and
    /// they stop when the last clone of the service is dropped.
    pub async fn start(store: Store, verifier: Arc<auth::Verifier>) -> anyhow::Result<Self> {
        let read_models = Arc::new(ReadModels::spawn(&store, reports::projections()));
        Ok(Self {
            commands: kernel::Commands::new(store.clone()),
            store,
            verifier,
            settings: Settings::default(),
            state: Arc::default(),
            read_models,
            clock: kernel::Clock::system(),
            notifier: None,
            delivering: None,
            mailing: None,
            anchor_key: None,
            anchoring: None,
        })
    }

    /// Starts delivering to webhook endpoints (on the current tokio runtime) with `settings`;
    /// without it, the webhook endpoints answer 503. Call it after
    /// [`with_clock`](Self::with_clock).
    pub fn with_notifications(mut self, settings: notify::Settings) -> Self {
        let deliver = settings.deliver;
        let notifier = notify::Notifier::new(self.store.clone(), settings, self.clock.clone());
        if deliver {
            let task = notify::deliver::spawn(notifier.clone());
            self.delivering = Some(Arc::new(AbortOnDrop(task)));
        }
        self.notifier = Some(notifier);
        self
    }

    /// Signs anchors of the chain with `key`: on request, and every `interval` while the log
    /// moves (`None`: on request only).
    pub fn with_anchors(
        mut self,
        key: anchors::AnchorKey,
        interval: Option<std::time::Duration>,
    ) -> Self {
        if let Some(interval) = interval {
            let task = anchors::spawn_signer(self.store.clone(), key.clone(), interval);
            self.anchoring = Some(Arc::new(AbortOnDrop(task)));
        }
        self.anchor_key = Some(key);
        self
    }

    /// Starts sending notification e-mails through `settings`' relay (on the current tokio
    /// runtime). Call it after [`with_clock`](Self::with_clock).
    pub fn with_mail(mut self, settings: notify::mail::MailSettings) -> anyhow::Result<Self> {
        let running = notify::mail::spawn(self.store.clone(), self.clock.clone(), settings)
            .map_err(|e| anyhow::anyhow!("the mail relay settings: {e}"))?;
        self.mailing = Some(Arc::new(running));
        Ok(self)
    }

    /// Replaces the clock (tests move it forward).
    pub fn with_clock(mut self, clock: kernel::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The time now, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Replaces the settings (tests use a short heartbeat).
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// The store it reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Waits until every report projection has read the log up to its head as it is now.
    pub async fn reports_caught_up(&self) -> eventlog::Result<()> {
        let head = self.store.head().await?;
        self.read_models.wait(head, &[]).await
    }

    /// The report projections, running.
    pub(crate) fn read_models(&self) -> &ReadModels {
        &self.read_models
    }

    /// How many live streams (`GET /v1/events/live`) are open now.
    pub fn live_streams(&self) -> usize {
        self.state.live_streams.load(Ordering::Relaxed)
    }
}

impl web::Service for Reporting {
    fn name(&self) -> &'static str {
        "reporting"
    }

    fn configure(&self, cfg: &mut actix_web::web::ServiceConfig) {
        cfg.app_data(actix_web::web::Data::new(self.clone())).app_data(Arc::clone(&self.verifier));
        routes(&mut utoipa_actix_web::service_config::ServiceConfig::new(cfg));
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        openapi()
    }
}

/// Every route of the service. The OpenAPI document is collected from this same function.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(feed::list_events)
        .service(live::live_events)
        .service(feed::read_stream)
        .service(reports::adoption::adoption_report)
        .service(reports::response_times::response_times_report)
        .service(reports::promises::promises_report)
        .service(reports::rogue_spend::rogue_spend_report)
        .service(reports::wishes::wishes_report)
        .service(reports::sla::sla_report)
        .service(replay::purchase_history)
        .service(audit::verify)
        .service(anchors::list_anchors)
        .service(anchors::create_anchor)
        .service(anchors::verify_anchors);
    notify::routes(cfg);
}

/// The service's OpenAPI document, collected from [`routes`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    kernel::http::document(ApiDoc::openapi(), routes)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "procgate reporting",
        description = "The public event feed (CloudEvents 1.0, paged and live, every event's \
            `data` typed by its `type`: see `FeedEvent`), stream reads, reports (JSON or CSV), \
            decision-history replay and log verification of procgate, a school district's \
            technology-purchase gate. Every endpoint needs `Authorization: Bearer <JWT>`; errors \
            are RFC 9457 problems.",
    ),
    components(schemas(
        web::Problem,
        web::FieldError,
        schemas::FeedEvent,
        // The reports' responses refer to them ([`reports::ReportResponses`]).
        reports::adoption::AdoptionReport,
        reports::promises::PromisesReport,
        reports::response_times::ResponseTimesReport,
        reports::rogue_spend::RogueSpendReport,
        reports::sla::SlaReport,
        reports::wishes::WishesReport,
    )),
    modifiers(&BearerAuth, &EventSchemas),
    security(("bearer" = [])),
    tags(
        (name = "feed", description = "The log as CloudEvents: in pages, live, or one stream."),
        (name = "reports", description = "Figures for IT leadership, kept by projections of the log: JSON, or CSV with `?format=csv`."),
        (name = "audit", description = "Decision history replayed from the log, and tamper evidence: recompute the hash chain."),
        (name = "webhooks", description = "Signed deliveries (Standard Webhooks 1.0) of the log's events to the district's systems, in log order, with retries."),
        (name = "subscriptions", description = "Durable named subscriptions: the next events after a checkpoint the consumer acknowledges."),
        (name = "notifications", description = "People's choices about notification e-mails."),
    )
)]
struct ApiDoc;

/// Adds every event type's data schema (and the schemas they refer to) to the components, so
/// that the typed envelopes of [`schemas::FeedEvent`] resolve.
struct EventSchemas;

impl Modify for EventSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut all = Vec::new();
        <schemas::FeedEvent as utoipa::ToSchema>::schemas(&mut all);
        for (name, schema) in all {
            components.schemas.entry(name).or_insert(schema);
        }
    }
}
