//! The stakeholder relations service: its state, its start-up and its place in a server.

use std::sync::Arc;

use auth::Verifier;
use eventlog::{EventStore, Projection, Store};
use kernel::http::Handlers;
use kernel::{Clock, Commands, Latest, ReadModels};
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;

use crate::api;
use crate::domain::district::{District, district_stream};
use crate::domain::reminders::{Reminders, settings_stream};
use crate::domain::vision::{Vision, vision_stream};
use crate::scheduler;

/// The stakeholder relations service: schools and their purchasing agreements, stakeholders,
/// conversations, wishes, promises and follow-ups.
#[derive(Debug, Clone)]
pub struct Stakeholders {
    handlers: Handlers<State>,
}

/// What the handlers share: the service's command runner, its running read models, its clock
/// and the district's calendar.
#[derive(Debug)]
pub(crate) struct State {
    pub commands: Commands,
    /// Every read model of [`projections`], running.
    pub read_models: ReadModels,
    /// The time now, for the handlers (the domain is told it).
    pub clock: Clock,
    /// The district's settings as last read; refreshed from the stream's tail on every use.
    pub district: Latest<District>,
    /// The reminders' settings, likewise.
    pub reminders: Latest<Reminders>,
    /// IT's vision, likewise.
    pub vision: Latest<Vision>,
    /// The reminders' scheduler, stopped with the state.
    scheduler: scheduler::Running,
    /// The retention of conversation notes, when the district set one.
    _retention: Option<scheduler::Running>,
}

/// What a district may set for the service.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// Conversation notes are erased this many years after the conversation (`None`: kept).
    pub notes_retention_years: Option<u32>,
}

impl Stakeholders {
    /// Starts the service's projections on `store` (each catches up from its checkpoint, then
    /// follows the log) and returns the service.
    pub async fn start(store: Store, verifier: Arc<Verifier>) -> anyhow::Result<Self> {
        Self::start_with(store, verifier, Clock::system()).await
    }

    /// [`start`](Self::start) with a clock of the caller's (tests move it).
    pub async fn start_with(
        store: Store,
        verifier: Arc<Verifier>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        Self::start_configured(store, verifier, clock, Settings::default()).await
    }

    /// [`start_with`](Self::start_with), with the district's settings.
    pub async fn start_configured(
        store: Store,
        verifier: Arc<Verifier>,
        clock: Clock,
        settings: Settings,
    ) -> anyhow::Result<Self> {
        let retention = settings.notes_retention_years.map(|years| {
            let unannounced = scheduler::Unannounced::default();
            let fresh = move || scheduler::Retention::new(years, unannounced.clone());
            kernel::schedule::spawn(store.clone(), clock.clone(), fresh)
        });
        let state = State {
            read_models: ReadModels::spawn(&store, projections()),
            scheduler: scheduler::spawn(store.clone(), clock.clone()),
            _retention: retention,
            commands: Commands::new(store),
            clock,
            district: Latest::new(district_stream()),
            reminders: Latest::new(settings_stream()),
            vision: Latest::new(vision_stream()),
        };
        Ok(Self { handlers: Handlers::new(state, verifier, api::routes) })
    }

    /// Stops the reminders' scheduler of this instance (it also stops when the service is
    /// dropped): for tests of instances that stop.
    pub fn stop_scheduler(&self) {
        self.handlers.state().scheduler.stop();
    }
}

impl web::Service for Stakeholders {
    fn name(&self) -> &'static str {
        "stakeholders"
    }

    fn configure(&self, cfg: &mut actix_web::web::ServiceConfig) {
        self.handlers.configure(cfg);
    }

    fn openapi(&self) -> OpenApi {
        openapi()
    }
}

/// The service's OpenAPI document, from the same route configuration the server uses.
pub fn openapi() -> OpenApi {
    kernel::http::document(api::ApiDoc::openapi(), api::routes)
}

/// Every read model of the service, as projections: what [`Stakeholders::start`] runs and
/// [`rebuild`] rebuilds.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    crate::read_models::all()
}

/// Rebuilds every read model of the service from position 0 (for `procgate rebuild`): each
/// projection's documents and checkpoint are cleared, then the whole log is applied again.
/// `progress` is told the position reached after each batch. Returns the events applied, over
/// all projections.
///
/// Run it while no instance of the service is running: a running projection notices the
/// reset and rebuilds too, beside this rebuild, doing the work twice.
pub async fn rebuild(
    store: &dyn EventStore,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> eventlog::Result<u64> {
    let mut applied = 0;
    for projection in projections() {
        applied += eventlog::rebuild(store, &*projection, progress).await?;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_projection_has_a_distinct_name() {
        let names: std::collections::BTreeSet<String> =
            projections().iter().map(|p| p.name().to_owned()).collect();
        assert_eq!(names.len(), projections().len());
        for collection in crate::read_models::ALL {
            assert!(names.contains(*collection), "{collection} is not a projection's name");
        }
    }
}
