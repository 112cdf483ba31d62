//! The gate service: its state, its start-up and its place in a server.

use std::sync::Arc;

use auth::Verifier;
use eventlog::{RecordedEvent, Store};
use events::gate::{IdempotencyEvent, IdempotencyKeyUsed};
use events::school::SchoolStatus;
use events::values::SchoolId;
use kernel::http::{Handlers, store_error};
use kernel::{Commands, ReadModels};
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use uuid::Uuid;
use web::ApiError;

use crate::api;
use crate::clock::Clock;
use crate::domain::{self, DistrictSettings, Purchase, Standards};
use crate::latest::Latest;
use crate::read_models;
use crate::scheduler;

/// The gate: purchase checks, the standards catalog, the flagged-order queue.
#[derive(Debug, Clone)]
pub struct Gate {
    handlers: Handlers<State>,
}

/// What a purchase check reads before it decides.
#[derive(Debug)]
pub(crate) struct CheckInputs {
    pub purchase: Purchase,
    pub records: Vec<RecordedEvent>,
    /// The earlier use of the request's idempotency key, if any.
    pub key_use: Option<IdempotencyKeyUsed>,
    pub school: SchoolStatus,
    pub standards: Arc<Standards>,
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct State {
    pub commands: Commands,
    pub read_models: ReadModels,
    /// The time now, for the handlers (the domain is told it).
    pub clock: Clock,
    /// The standards as last read; refreshed from the stream's tail on every use.
    standards: Latest<Standards>,
    /// The district's settings, likewise.
    district: Latest<DistrictSettings>,
    /// The clocks' scheduler, stopped with the state.
    scheduler: scheduler::Running,
}

impl Gate {
    /// Starts the gate's projections on `store` and returns the service.
    pub async fn start(store: Store, verifier: Arc<Verifier>) -> anyhow::Result<Self> {
        Self::start_with(store, verifier, Clock::system()).await
    }

    /// [`start`](Self::start) with a clock of the caller's (tests move it forward).
    pub async fn start_with(
        store: Store,
        verifier: Arc<Verifier>,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let read_models = ReadModels::spawn(&store, read_models::all());
        let scheduler = scheduler::spawn(store.clone(), clock.clone());
        let state = State {
            scheduler,
            commands: Commands::new(store),
            read_models,
            clock,
            standards: Latest::new(domain::standards_stream()),
            district: Latest::new(domain::district_stream()),
        };
        state.standards().await.map_err(|e| anyhow::anyhow!("cannot read the standards: {e}"))?;
        Ok(Self { handlers: Handlers::new(state, verifier, api::routes) })
    }

    /// Stops the clocks' scheduler of this instance (it also stops when the service is
    /// dropped): for tests of instances that stop.
    pub fn stop_scheduler(&self) {
        self.handlers.state().scheduler.stop();
    }

    /// Waits until the gate's projections have applied the log up to its head as it is now.
    pub async fn caught_up(&self) -> eventlog::Result<()> {
        let head = self.handlers.state().store().head().await?;
        self.handlers.state().read_models.wait(head, &[]).await
    }
}

impl web::Service for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }

    fn configure(&self, cfg: &mut actix_web::web::ServiceConfig) {
        self.handlers.configure(cfg);
    }

    fn openapi(&self) -> OpenApi {
        openapi()
    }
}

/// The gate's OpenAPI document, from the same route configuration the server uses.
pub fn openapi() -> OpenApi {
    kernel::http::document(api::ApiDoc::openapi(), api::routes)
}

impl State {
    pub fn store(&self) -> &Store {
        self.commands.store()
    }

    /// The standards now (see [`Latest::now`]).
    pub async fn standards(&self) -> Result<Arc<Standards>, ApiError> {
        self.standards.now(self.store()).await
    }

    /// The district's settings now: calendar and targets.
    pub async fn district(&self) -> Result<Arc<DistrictSettings>, ApiError> {
        self.district.now(self.store()).await
    }

    /// What a purchase check needs, in one read: the purchase (empty if new), the use of its
    /// idempotency key (if it has one), the school's status and the standards now.
    pub async fn check_inputs(
        &self,
        purchase: Uuid,
        key: Option<Uuid>,
        school: &SchoolId,
    ) -> Result<CheckInputs, ApiError> {
        let cached = self.standards.cached();
        let mut streams = vec![
            (domain::purchase_stream(purchase), 1),
            (domain::school_stream(school), 1),
            (self.standards.stream().clone(), cached.version + 1),
        ];
        if let Some(key) = key {
            streams.push((domain::idempotency_stream(key), 1));
        }
        let mut read = self.store().read_streams(&streams).await.map_err(store_error)?.into_iter();
        let mut next = || read.next().unwrap_or_default();
        let (records, school_records, tail, key_records) = (next(), next(), next(), next());
        let key_use = match key_records.first() {
            Some(record) => match domain::decode::<IdempotencyEvent>(record) {
                Ok(IdempotencyEvent::KeyUsed(used)) => Some(used),
                // The key names another request of the caller's (not a check).
                Ok(IdempotencyEvent::RequestRecorded(other)) => {
                    return Err(ApiError::conflict(
                        "idempotency-conflict",
                        format!(
                            "This Idempotency-Key was already used for another request ({}); use a new key for a new purchase check.",
                            other.request
                        ),
                    ));
                }
                Err(e) => return Err(ApiError::internal(e)),
            },
            None => None,
        };
        Ok(CheckInputs {
            purchase: domain::load(&records).map_err(ApiError::internal)?,
            records,
            key_use,
            school: domain::load_school(&school_records).map_err(ApiError::internal)?,
            standards: self.standards.with_tail(cached, &tail)?,
        })
    }

    /// A purchase and its recorded events; an empty purchase when there are none.
    pub async fn purchase(&self, id: Uuid) -> Result<(Purchase, Vec<RecordedEvent>), ApiError> {
        let records = self
            .store()
            .read_stream_to_end(&domain::purchase_stream(id))
            .await
            .map_err(store_error)?;
        let purchase = domain::load(&records).map_err(ApiError::internal)?;
        Ok((purchase, records))
    }
}
