//! The gate service: its state, its start-up and its place in a server.

use std::sync::{Arc, Mutex, PoisonError};

use auth::Verifier;
use eventlog::{RecordedEvent, Store};
use events::gate::{IdempotencyEvent, IdempotencyKeyUsed};
use events::school::SchoolStatus;
use events::values::SchoolId;
use kernel::http::store_error;
use kernel::{Commands, ReadModels};
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use uuid::Uuid;
use web::ApiError;

use crate::api;
use crate::domain::{self, Purchase, Standards};
use crate::read_models;

/// The gate: purchase checks, the standards catalog, the flagged-order queue.
#[derive(Debug, Clone)]
pub struct Gate {
    state: actix_web::web::Data<State>,
    verifier: actix_web::web::Data<Verifier>,
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
    /// The standards as last read; refreshed from the stream's tail on every use.
    standards: Mutex<Arc<Standards>>,
}

impl Gate {
    /// Starts the gate's projections on `store` and returns the service.
    pub async fn start(store: Store, verifier: Arc<Verifier>) -> anyhow::Result<Self> {
        let read_models = ReadModels::spawn(&store, read_models::all());
        let state =
            State { commands: Commands::new(store), read_models, standards: Mutex::default() };
        state.standards().await.map_err(|e| anyhow::anyhow!("cannot read the standards: {e}"))?;
        Ok(Self {
            state: actix_web::web::Data::new(state),
            verifier: actix_web::web::Data::from(verifier),
        })
    }

    /// Waits until the gate's projections have applied the log up to its head as it is now.
    pub async fn caught_up(&self) -> eventlog::Result<()> {
        let head = self.state.store().head().await?;
        self.state.read_models.wait(head, &[]).await
    }
}

impl web::Service for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }

    fn configure(&self, cfg: &mut actix_web::web::ServiceConfig) {
        cfg.app_data(self.state.clone()).app_data(self.verifier.clone());
        api::routes(&mut utoipa_actix_web::service_config::ServiceConfig::new(cfg));
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

    /// The standards now: the cached state plus whatever the stream has gained since (one
    /// read of the stream's tail; the lock is taken only to install a newer state).
    pub async fn standards(&self) -> Result<Arc<Standards>, ApiError> {
        let cached = self.cached_standards();
        let stream = domain::standards_stream();
        let tail = self
            .store()
            .read_streams(&[(stream, cached.version + 1)])
            .await
            .map_err(store_error)?
            .pop()
            .unwrap_or_default();
        self.standards_with(cached, &tail)
    }

    fn cached_standards(&self) -> Arc<Standards> {
        self.standards.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// `cached` with `tail` (its stream's events after it) applied, kept if newer.
    fn standards_with(
        &self,
        cached: Arc<Standards>,
        tail: &[RecordedEvent],
    ) -> Result<Arc<Standards>, ApiError> {
        if tail.is_empty() {
            return Ok(cached);
        }
        let mut fresh = (*cached).clone();
        for record in tail {
            fresh.apply(record.version, &domain::decode(record).map_err(ApiError::internal)?);
        }
        let fresh = Arc::new(fresh);
        let mut slot = self.standards.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.version < fresh.version {
            *slot = fresh.clone();
        }
        Ok(fresh)
    }

    /// What a purchase check needs, in one read: the purchase (empty if new), the use of its
    /// idempotency key (if it has one), the school's status and the standards now.
    pub async fn check_inputs(
        &self,
        purchase: Uuid,
        key: Option<Uuid>,
        school: &SchoolId,
    ) -> Result<CheckInputs, ApiError> {
        let cached = self.cached_standards();
        let mut streams = vec![
            (domain::purchase_stream(purchase), 1),
            (domain::school_stream(school), 1),
            (domain::standards_stream(), cached.version + 1),
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
                Err(e) => return Err(ApiError::internal(e)),
            },
            None => None,
        };
        Ok(CheckInputs {
            purchase: domain::load(&records).map_err(ApiError::internal)?,
            records,
            key_use,
            school: domain::load_school(&school_records).map_err(ApiError::internal)?,
            standards: self.standards_with(cached, &tail)?,
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
