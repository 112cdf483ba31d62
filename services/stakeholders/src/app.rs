//! The stakeholder relations service: its state, its start-up and its place in a server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::App;
use auth::Verifier;
use eventlog::{EventStore, Projection, ProjectionHandle, Store, spawn_projection};
use kernel::Commands;
use serde::de::DeserializeOwned;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa_actix_web::AppExt;
use web::ApiError;

use crate::api;

/// The stakeholder relations service: schools and their purchasing agreements, stakeholders,
/// conversations, wishes, promises and follow-ups.
#[derive(Debug, Clone)]
pub struct Stakeholders {
    state: actix_web::web::Data<State>,
    verifier: actix_web::web::Data<Verifier>,
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct State {
    pub store: Store,
    /// Runs the service's commands against the log.
    pub commands: Commands,
    /// Every projection of [`projections`], running, by name (the name of its collection).
    read_models: HashMap<String, ProjectionHandle>,
}

/// How long a read waits for the read models to reach the log's head before answering 503.
const READ_MODEL_WAIT: Duration = Duration::from_secs(5);

impl Stakeholders {
    /// Starts the service's projections on `store` (each catches up from its checkpoint, then
    /// follows the log) and returns the service.
    pub async fn start(store: Store, verifier: Arc<Verifier>) -> anyhow::Result<Self> {
        let read_models = projections()
            .into_iter()
            .map(|p| (p.name().to_owned(), spawn_projection(store.clone(), p)))
            .collect();
        let commands = Commands::new(store.clone());
        let state = State { store, commands, read_models };
        Ok(Self {
            state: actix_web::web::Data::new(state),
            verifier: actix_web::web::Data::from(verifier),
        })
    }
}

impl web::Service for Stakeholders {
    fn name(&self) -> &'static str {
        "stakeholders"
    }

    fn configure(&self, cfg: &mut actix_web::web::ServiceConfig) {
        cfg.app_data(self.state.clone()).app_data(self.verifier.clone());
        api::routes(&mut utoipa_actix_web::service_config::ServiceConfig::new(cfg));
    }

    fn openapi(&self) -> OpenApi {
        openapi()
    }
}

/// The service's OpenAPI document, from the same route configuration the server uses.
pub fn openapi() -> OpenApi {
    App::new()
        .into_utoipa_app()
        .openapi(api::ApiDoc::openapi())
        .configure(api::routes)
        .split_for_parts()
        .1
}

/// Every read model of the service, as projections: what [`Stakeholders::start`] runs and
/// [`rebuild`] rebuilds.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    crate::projections::all()
}

/// Rebuilds every read model of the service from position 0 (for `procgate rebuild`): each
/// projection's documents and checkpoint are cleared, then the whole log is applied again.
/// `progress` is told the position reached after each batch. Returns the events applied, over
/// all projections.
///
/// Run it while no instance of the service is running: a running projection would go on
/// applying from its own position while the rebuild clears its documents.
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

impl State {
    /// Waits until the read models `names` have applied every event up to `position`; a 503
    /// problem if that takes longer than [`READ_MODEL_WAIT`].
    pub async fn read_models_at(&self, position: u64, names: &[&str]) -> Result<(), ApiError> {
        let waits = names.iter().map(|name| {
            let handle = self.read_models.get(*name);
            async move {
                match handle {
                    Some(handle) => handle.wait_for(position).await,
                    None => Err(eventlog::StoreError::Unavailable(format!(
                        "the read model {name} is not running"
                    ))),
                }
            }
        });
        match tokio::time::timeout(READ_MODEL_WAIT, futures::future::try_join_all(waits)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(api::store_error(e)),
            Err(_) => Err(ApiError::unavailable(
                "The stakeholder records are catching up with the event log; try again shortly.",
            )),
        }
    }

    /// Waits until the read models `names` include everything in the log now: a read sees
    /// every change answered before it.
    pub async fn caught_up(&self, names: &[&str]) -> Result<(), ApiError> {
        let head = self.store.head().await.map_err(api::store_error)?;
        self.read_models_at(head, names).await
    }

    /// Every document of a collection.
    pub async fn all<T: DeserializeOwned>(&self, collection: &str) -> Result<Vec<T>, ApiError> {
        let docs = self.store.documents(collection).await.map_err(api::store_error)?;
        docs.into_iter().map(|(key, doc)| parse_doc(collection, &key, doc)).collect()
    }

    /// One document, if it exists.
    pub async fn one<T: DeserializeOwned>(
        &self,
        collection: &str,
        key: &str,
    ) -> Result<Option<T>, ApiError> {
        let doc = self.store.document(collection, key).await.map_err(api::store_error)?;
        doc.map(|doc| parse_doc(collection, key, doc)).transpose()
    }

    /// The documents with these keys that exist, in the order of the keys.
    pub async fn some<T: DeserializeOwned>(
        &self,
        collection: &str,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<Vec<T>, ApiError> {
        let reads = keys.into_iter().map(|key| async move { self.one(collection, &key).await });
        let docs = futures::future::try_join_all(reads).await?;
        Ok(docs.into_iter().flatten().collect())
    }
}

fn parse_doc<T: DeserializeOwned>(
    collection: &str,
    key: &str,
    doc: serde_json::Value,
) -> Result<T, ApiError> {
    serde_json::from_value(doc).map_err(|e| {
        ApiError::internal(format!("the document {collection}/{key} does not parse: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_projection_has_a_distinct_name() {
        let names: std::collections::BTreeSet<String> =
            projections().iter().map(|p| p.name().to_owned()).collect();
        assert_eq!(names.len(), projections().len());
        for collection in [
            crate::projections::SCHOOLS,
            crate::projections::STAKEHOLDERS,
            crate::projections::WISHES,
            crate::projections::PROMISES,
            crate::projections::FOLLOW_UPS,
            crate::projections::HELD_PURCHASES,
        ] {
            assert!(names.contains(collection), "{collection} is not a projection's name");
        }
    }
}
