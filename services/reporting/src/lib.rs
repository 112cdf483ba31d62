//! procgate's reporting service: what the log says, for IT leadership, auditors and the
//! district's other systems.
//!
//! It only reads the log (it never appends), through the `eventlog` store interface, so it
//! runs on either backend and beside any number of gate and stakeholder instances.
//!
//! | endpoint | roles | module |
//! |---|---|---|
//! | `GET /v1/events` | any | [`feed`]: the log as CloudEvents ([`cloudevent`]), in pages |
//! | `GET /v1/events/live` | any | [`live`]: the same as server-sent events, catch-up then live |
//! | `GET /v1/streams/{stream}` | auditor, it_staff, admin | [`feed`]: one stream's events |
//! | `GET /v1/audit/verify` | auditor, admin | [`audit`]: recompute the hash chain |
//!
//! Reports (`/v1/reports/*`) and the purchase replay (`/v1/audit/purchases/{id}`) come next:
//! they need the event contracts of the `events` crate. Reports will be projections
//! (`eventlog::Projection`) started by [`Reporting::start`] and living in `src/reports/`; their
//! handlers go into [`routes`] like the others, which is all it takes for them to be served and
//! documented.
//!
//! # Wiring
//!
//! [`Reporting`] implements [`web::Service`]: [`routes`] registers every handler through
//! `utoipa_actix_web`'s `ServiceConfig`, and [`Reporting::openapi`](web::Service::openapi)
//! derives the document from that same function, so the routes and the document cannot
//! drift. The committed copy is `openapi/reporting.json` (a test fails on drift; regenerate it
//! with `UPDATE_OPENAPI=1 cargo test -p reporting`).

pub mod audit;
pub mod cloudevent;
pub mod feed;
pub mod live;
pub mod query;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::App;
use eventlog::{Store, StoreError};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use web::ApiError;

pub use cloudevent::CloudEvent;
pub use live::DEFAULT_HEARTBEAT;

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
}

impl Default for Settings {
    fn default() -> Self {
        Self { heartbeat: DEFAULT_HEARTBEAT, retry_ms: 3000 }
    }
}

/// Shared, process-wide state of one service instance.
#[derive(Debug, Default)]
struct State {
    /// Live streams open now.
    live_streams: AtomicUsize,
    /// One chain verification at a time: it reads the whole range, and two at once would
    /// only compete for the same database.
    verifying: tokio::sync::Mutex<()>,
}

impl Reporting {
    /// Starts the service on `store`, authenticating requests with `verifier`.
    ///
    /// Today this only assembles the handles; when reports arrive it starts their projections
    /// (and so can fail, hence the `Result`).
    pub async fn start(store: Store, verifier: Arc<auth::Verifier>) -> anyhow::Result<Self> {
        Ok(Self { store, verifier, settings: Settings::default(), state: Arc::default() })
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
        .service(audit::verify);
}

/// The service's OpenAPI document, collected from [`routes`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(routes).split_for_parts().1
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "procgate reporting",
        description = "The public event feed (CloudEvents 1.0, paged and live), stream reads and \
            log verification of procgate, a school district's technology-purchase gate. Every \
            endpoint needs `Authorization: Bearer <JWT>`; errors are RFC 9457 problems.",
    ),
    components(schemas(web::Problem, web::FieldError)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "feed", description = "The log as CloudEvents: in pages, live, or one stream."),
        (name = "audit", description = "Tamper evidence: recompute the hash chain."),
    )
)]
struct ApiDoc;

/// Adds the bearer (JWT) security scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        scheme.description = Some(
            "A JWT with `iss` and `aud` `procgate` (by default) and procgate roles in the `roles` \
             claim; `procgate token --role ROLE --subject NAME` makes one."
                .to_owned(),
        );
        components.add_security_scheme(SECURITY_SCHEME, SecurityScheme::Http(scheme));
    }
}

/// A store failure as a problem: unavailable is 503 (try again), anything else a 500 whose
/// cause is logged, never shown.
pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Unavailable(_) => {
            tracing::warn!(error = %err, "event store unavailable");
            ApiError::unavailable("The event store is not answering; try again shortly.")
        }
        other => ApiError::internal(other),
    }
}
