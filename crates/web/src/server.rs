//! Running services: one, or several on one address.
//!
//! A service ([`Service`]) registers its routes and describes them in an OpenAPI document. An
//! [`Application`] serves a set of services on one listener with the shared plumbing, health,
//! metrics and docs: the all-in-one server serves all three; `procgate serve gate` serves one;
//! tests bind port 0 and talk HTTP to the real thing. The services' paths are disjoint, so
//! they share one address without routing rules.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

use crate::health::{ReadinessCheck, health_routes};
use crate::metrics::metrics_routes;
use crate::openapi::{openapi_routes, openapi_routes_at};
use crate::{DEFAULT_JSON_LIMIT, with_plumbing};

/// How long a stopping server lets requests finish.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 5;

/// One procgate service, as the server sees it.
pub trait Service: Send + Sync + 'static {
    /// `gate`, `stakeholders` or `reporting`.
    fn name(&self) -> &'static str;
    /// Registers its routes and the app data they need.
    fn configure(&self, cfg: &mut web::ServiceConfig);
    /// The OpenAPI document of its routes.
    fn openapi(&self) -> OpenApi;
    /// Whether its routes are an API to document: the console's HTML pages are not, and get
    /// neither a document nor docs of their own.
    fn documented(&self) -> bool {
        true
    }
}

/// The OpenAPI document of several services served together.
pub fn merged_openapi(services: &[Arc<dyn Service>]) -> OpenApi {
    let documented: Vec<&Arc<dyn Service>> = services.iter().filter(|s| s.documented()).collect();
    if let [only] = documented[..] {
        return only.openapi();
    }
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("procgate")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("The gate, stakeholder relations and reporting services."))
                .build(),
        )
        .build();
    for service in documented {
        doc.merge(service.openapi());
    }
    doc
}

/// A running HTTP server.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    /// Serves `services` on `listener`. `/openapi.json` and `/docs` describe all of them;
    /// with several, each one's own document is also at `/openapi/{name}.json`.
    /// `workers`: HTTP worker threads (`None`: one per core).
    pub fn build(
        listener: TcpListener,
        services: Vec<Arc<dyn Service>>,
        ready: Arc<dyn ReadinessCheck>,
        workers: Option<usize>,
    ) -> std::io::Result<Self> {
        let port = listener.local_addr()?.port();
        let merged = merged_openapi(&services);
        let allowed = actix_web::web::Data::new(crate::AllowedMethods::from_openapi(&merged));
        // Each service's own document too, when there are several (paths leaked once per
        // server: the routes need them for its whole life).
        let documented = services.iter().filter(|s| s.documented()).count();
        let own: Arc<[(&'static str, &'static str, OpenApi)]> = if documented > 1 {
            services
                .iter()
                .filter(|s| s.documented())
                .map(|s| {
                    let json = format!("/openapi/{}.json", s.name());
                    let docs = format!("/docs/{}", s.name());
                    (
                        &*Box::leak(json.into_boxed_str()),
                        &*Box::leak(docs.into_boxed_str()),
                        s.openapi(),
                    )
                })
                .collect()
        } else {
            Arc::new([])
        };
        let services: Arc<[Arc<dyn Service>]> = services.into();
        let mut server = HttpServer::new(move || {
            let (services, own) = (Arc::clone(&services), Arc::clone(&own));
            let (merged, ready) = (merged.clone(), Arc::clone(&ready));
            let app = App::new()
                .app_data(allowed.clone())
                .configure(|cfg| {
                    health_routes(cfg, ready);
                    metrics_routes(cfg);
                    // Before the combined docs, whose `/docs/{…}` would match these paths.
                    for (json, docs, doc) in own.iter() {
                        openapi_routes_at(cfg, doc.clone(), json, docs);
                    }
                    openapi_routes(cfg, merged);
                })
                .configure(|cfg| {
                    for s in services.iter() {
                        s.configure(cfg);
                    }
                });
            with_plumbing(app, DEFAULT_JSON_LIMIT)
        })
        .listen(listener)?
        // On SIGTERM, finish requests for up to 5 s, then close: live streams never finish by
        // themselves, and their clients resume exactly (`Last-Event-ID`). Orchestrators'
        // stop grace periods (docker's is 10 s) are longer than this.
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        Ok(Self { port, server: server.run() })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (gracefully, or not) from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until stopped: SIGINT/SIGTERM (graceful) or the handle.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
