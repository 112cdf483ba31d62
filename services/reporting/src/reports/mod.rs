//! Reports: read models of the log, kept by projections, and the handlers that serve them.
//!
//! Six read models ([`kernel::ReadModel`]s, run as projections of the log) keep small JSON
//! documents in the store's database (written in one transaction with each projection's
//! checkpoint), and each report has a pure `build` function that turns those documents into the
//! figures when the report is asked for. The figures are kept as [rollups](rollup): sums by the
//! district's day an item counts on and its school, one partition per such day and one per
//! month, so that a report sums the whole months and odd days of its period rather than fold
//! every purchase, promise or wish (durations, counted by the hundredth of an hour, still grow
//! with the purchases of the period; see [`rollup`]). A request does only what depends on the
//! time it is asked (clocks still before their due time, promises overdue by their due day,
//! wishes whose year has passed) and what later facts decide (an agreement signed after a
//! purchase, names):
//!
//! | projection | reads | documents | for |
//! |---|---|---|---|
//! | [`purchases`] `reporting.purchases` | purchase and district events | held purchases' figures by day of the flag and school (held, resolved, business time to the first reached call and to the resolution, cancellations with and without call before cancel); advisory purchases' spend by day and school (by vendor and amount band); technology spend by day; one document per held purchase (its own state) | response-times, promises, rogue-spend, adoption |
//! | [`adoption`] `reporting.schools` | school and stakeholder events | schools, agreement changes, people, advocates' words | adoption, rogue-spend, every report's names |
//! | [`promises`] `reporting.promises` | stakeholder and promise events | promises by day made and school, per owner (kept, broken, open by the day due); standing promises; one per open promise (its own state); stakeholders' schools | promises |
//! | [`wishes`] `reporting.wishes` | wish and district events | wishes by day made and school (states as running totals, first headway, the wishes still waiting by when made); one per wish (its own state); the district's settings | wishes |
//! | [`card_spend`] `reporting.card_spend` | card transaction and statement events | unchecked technology spend by transaction date and school (by merchant and amount band, added and taken away as the status changes); one per technology card transaction (its own state); the days statements cover | rogue-spend |
//! | [`clocks`] `reporting.clocks` | purchase and district events | SLA figures by the day the clocks started and school (purchases, stopped clocks judged when they stopped); the purchases with a running clock; one per flagged purchase (its own state); the district's settings | sla; the district's calendar, *today* and months for every report |
//!
//! The purchase events are the bulk of the log, so one projection folds them for the reports
//! in money and counts: each is decoded once and touches its purchase's document and the
//! partitions of its day and month (kept decoded for the whole batch); the clocks projection
//! folds the few that move a flagged purchase's clocks.
//!
//! **District time.** Durations are in business time, and days and months are the district's.
//! A figure is measured when it happens, in the calendar in force then (time zone, business
//! hours, closures: each projection that measures keeps the `district-settings` events), and
//! stays as measured: a later change of calendar counts from then on. Clocks still running are
//! judged when asked, in the calendar now in force ([`Reporting::district`]); until the
//! district sets its calendar, UTC's.
//!
//! The kernel decodes each event once into the `events` crate's published enums
//! ([`events::Published`]), and the read models match on them and fold them here (the reporting
//! service depends on no other service). An event whose data does not match its published schema
//! is skipped with a warning ([`kernel::ReadModel::SKIP_UNDECODABLE`]), so that one bad event
//! cannot stop every report; `GET /v1/audit/verify` is how a changed event is found.
//!
//! Every report is served at `GET /v1/reports/{name}` as JSON, or as CSV (`?format=csv`, a
//! header row, then one row per figure group). A read first waits until the report's
//! projections have reached the log's head as it was when the request arrived, so a report read
//! after a write includes it.
//!
//! [`projections`] lists the projections; [`rebuild`] rebuilds them all from the log in
//! one pass.

pub mod adoption;
pub mod card_spend;
pub mod clocks;
pub mod promises;
pub mod purchases;
pub mod response_times;
pub mod rogue_spend;
pub mod sla;
pub mod wishes;

mod csv;
mod figures;
mod period;
pub mod rollup;

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
pub use web::csv::ReportFormat;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use auth::Role;
use chrono::NaiveDate;
use eventlog::{EventStore, Filter, Projection, RecordedEvent, Seen};
use futures::future::LocalBoxFuture;
use kernel::ReadModel;
use kernel::http::{Context, Roles, store_error};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};
use web::ApiError;

pub use csv::Csv;
pub use figures::{Stats, format_cents, month_of, percentile, share};
pub use period::{ReportPeriod, SchoolNames, Scope};

use crate::Reporting;

/// Who may read reports.
pub const REPORT_ROLES: [Role; 3] = [Role::ItStaff, Role::Auditor, Role::Admin];

/// [`REPORT_ROLES`].
pub(crate) struct ReportReaders;

impl Roles for ReportReaders {
    const ROLES: &'static [Role] = &REPORT_ROLES;
    const COST: kernel::http::Cost = kernel::http::Cost::Expensive;
}

kernel::problem_responses! {
    /// What every report may answer besides the report itself.
    ReportErrors {
        "400" => "A query parameter is invalid (`invalid-query`).",
        "401" => "No valid bearer token.",
        "403" => "Needs it_staff, auditor or admin.",
        "503" => "The event store is not answering, or the report is still catching up with the log.",
    }
}

/// How many events a rebuild reads at a time.
pub const REBUILD_BATCH: usize = 5000;

/// The report projections, in a fixed order: purchases, schools, promises, wishes, card spend,
/// clocks.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![
        purchases::Purchases::default().into_projection(),
        adoption::Schools.into_projection(),
        promises::Promises.into_projection(),
        wishes::Wishes::default().into_projection(),
        card_spend::CardSpend.into_projection(),
        clocks::Clocks::default().into_projection(),
        crate::notify::read_model::Webhooks.into_projection(),
    ]
}

/// The events any report projection reads: the union of their filters (each filters by event
/// type only).
fn union_filter(projections: &[Arc<dyn Projection>]) -> Filter {
    let mut types: Vec<String> = Vec::new();
    for p in projections {
        let filter = p.filter();
        debug_assert!(filter.categories.is_empty(), "report projections filter by type only");
        for t in filter.event_types {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    Filter::all().with_types(types)
}

/// Rebuilds every report projection from the start of the log, reading the log once.
///
/// Each projection's documents and checkpoint are cleared, then the log is read in batches of
/// [`REBUILD_BATCH`] events (only the types some report reads), and each batch is applied to
/// the projections concurrently while the next batch is read. `progress` is told the
/// position reached after each batch. Returns how many events were read.
///
/// It runs in the calling task: the database works on the read and the writes while the task
/// decodes and applies. (Reading on threads of its own, ahead of the applying, was measured
/// slower on two cores: the applying, mostly the database's writes, sets the pace, and more
/// threads only compete with it.)
///
/// Run it while no reporting service runs on the store (as `procgate` does before it serves):
/// a service's projection moving a checkpoint meanwhile stops the rebuild with an error
/// saying so. A rebuild of a consistent state gives the same documents as following the
/// log event by event (tested), so it is also how a changed report definition reaches old
/// events.
pub async fn rebuild(
    store: &dyn EventStore,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> eventlog::Result<u64> {
    let projections = projections();
    for p in &projections {
        store.reset_projection(&**p).await?;
    }
    let head = store.head().await?;
    let (read, after) = rebuild_in_one_task(store, &projections, progress).await?;
    // Every event up to the head that a projection reads has been applied to it.
    let end = head.max(after);
    for p in &projections {
        if store.checkpoint(p.name()).await?.unwrap_or(0) < end {
            store.save_checkpoint(p.name(), end).await?;
        }
    }
    if after < end {
        progress(end);
    }
    Ok(read)
}

/// Applies one batch to every projection that reads something in it (concurrently), each from
/// its checkpoint as last applied (`seen`, moved on here). A projection with nothing in the
/// batch is left alone (its checkpoint is moved on at the end): a transaction per projection
/// and batch is most of the cost of a small one.
async fn apply_batch(
    store: &dyn EventStore,
    projections: &[Arc<dyn Projection>],
    filters: &[Filter],
    seen: &mut [Seen],
    batch: &[RecordedEvent],
) -> eventlog::Result<()> {
    let last = batch.last().map_or(0, |e| e.position);
    let applied = futures::future::try_join_all(
        projections
            .iter()
            .zip(filters)
            .zip(seen.iter_mut())
            .filter(|((_, f), _)| batch.iter().any(|e| f.matches(e)))
            .map(|((p, _), seen)| async move {
                let checkpoint = store.apply_projection(&**p, *seen, batch).await?;
                seen.checkpoint = checkpoint;
                Ok::<_, eventlog::StoreError>((p.name(), checkpoint))
            }),
    )
    .await?;
    match applied.into_iter().find(|(_, checkpoint)| *checkpoint < last) {
        // Reset meanwhile: something else works on these documents.
        Some((name, _)) => Err(eventlog::StoreError::Projection {
            projection: name.to_owned(),
            position: last,
            message: "reset by another instance during the rebuild: stop the reporting \
                      services on this store and rebuild again"
                .into(),
        }),
        None => Ok(()),
    }
}

/// Reads the next batch while applying this one: (events read, last position read).
async fn rebuild_in_one_task(
    store: &dyn EventStore,
    projections: &[Arc<dyn Projection>],
    progress: &(dyn Fn(u64) + Send + Sync),
) -> eventlog::Result<(u64, u64)> {
    let filter = union_filter(projections);
    let filters: Vec<Filter> = projections.iter().map(|p| p.filter()).collect();
    // Each from the start, knowing the erasures it was last reset for (its keys forgotten).
    let mut seen = Vec::with_capacity(projections.len());
    for p in projections {
        let erasure = eventlog::projection::learn_erasures(store, &**p, 0).await?;
        seen.push(Seen { checkpoint: 0, erasure });
    }
    let (mut read, mut after) = (0u64, 0u64);
    let mut batch = store.read_all(0, &filter, REBUILD_BATCH).await?;
    while let Some(last) = batch.last() {
        after = last.position;
        read += batch.len() as u64;
        let full = batch.len() == REBUILD_BATCH;
        let apply = apply_batch(store, projections, &filters, &mut seen, &batch);
        let next = async {
            if full { store.read_all(after, &filter, REBUILD_BATCH).await } else { Ok(vec![]) }
        };
        let (_, next) = futures::future::try_join(apply, next).await?;
        progress(after);
        batch = next;
    }
    Ok((read, after))
}

/// Query parameters of every report.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// `json` (the default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
    /// The first day counted (the district's date, `YYYY-MM-DD`); open when absent.
    #[serde(default, deserialize_with = "kernel::http::optional_date")]
    pub from: Option<NaiveDate>,
    /// The last day counted (included); open when absent.
    #[serde(default, deserialize_with = "kernel::http::optional_date")]
    pub to: Option<NaiveDate>,
    /// A school year instead of a range: `2025-26`, or the year it starts in (`2025`).
    #[param(example = "2025-26")]
    pub school_year: Option<String>,
}

/// Parses a query string into `T`, or a 400 `invalid-query` problem. Handlers call it after
/// checking the caller's role, so that a caller without the role learns nothing about the
/// parameters (401 and 403 come before 400).
pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    actix_web::web::Query::<T>::from_query(query).map(|q| q.into_inner()).map_err(|e| {
        let detail = match e {
            actix_web::error::QueryPayloadError::Deserialize(e) => {
                format!("The query string is invalid: {e}.")
            }
            other => format!("The query string is invalid: {other}."),
        };
        crate::query::invalid_query(detail)
    })
}

/// What a report's operation answers, for its OpenAPI document: the report `R` as JSON or as
/// CSV ([`Report::CSV_EXAMPLE`]), and the problems every report may answer ([`ReportErrors`]).
/// `R`'s schema is among the document's components (see [`crate::openapi`]).
pub(crate) struct ReportResponses<R>(PhantomData<R>);

impl<R: Report + ToSchema> IntoResponses for ReportResponses<R> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let json = ContentBuilder::new().schema(Some(Ref::from_schema_name(R::name()))).build();
        let csv = ContentBuilder::new()
            .schema(Some(String::schema()))
            .example(Some(R::CSV_EXAMPLE.into()))
            .build();
        let report = ResponseBuilder::new()
            .description("The report, as JSON or (`?format=csv`) CSV with a header row.")
            .content("application/json", json)
            .content("text/csv", csv)
            .build();
        let mut responses = ReportErrors::responses();
        responses.insert("200".to_owned(), report.into());
        responses
    }
}

/// A request for a report, as every report handler takes it: the caller may read reports (401
/// and 403 come first), the query parameters parse ([`ReportParams`], else 400), and the period
/// they ask for is known, in the district's calendar and with the schools' names, once the
/// clocks and schools projections have reached the log's head ([`Reporting::scope`]).
pub(crate) struct ReportRequest {
    pub service: Data<Reporting>,
    pub params: ReportParams,
    pub scope: Scope,
}

impl ReportRequest {
    /// `report` in the format the request asks for.
    pub fn render<R: Report>(&self, report: &R) -> HttpResponse {
        match self.params.format.unwrap_or_default() {
            ReportFormat::Json => HttpResponse::Ok().json(report),
            ReportFormat::Csv => HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8; header=present"))
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"procgate-{}.csv\"", R::NAME),
                ))
                .body(report.csv().finish()),
        }
    }
}

impl FromRequest for ReportRequest {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let cx = Context::<Reporting, ReportReaders>::from_request(req, payload).into_inner();
        let query = req.query_string().to_owned();
        Box::pin(async move {
            let service = cx?.state;
            let params: ReportParams = parse_query(&query)?;
            let scope = service.scope(&params).await?;
            Ok(Self { service, params, scope })
        })
    }
}

/// A report that can be served.
pub(crate) trait Report: Serialize {
    /// The report's name in its path (`adoption`).
    const NAME: &'static str;
    /// An example of the report as CSV, for its OpenAPI document.
    const CSV_EXAMPLE: &'static str;
    /// The report as CSV: a header row and the rows.
    fn csv(&self) -> Csv;
}

impl Reporting {
    /// Waits until the report's read models (`names`) have reached the head as it is now (at
    /// most the configured wait), so that the report includes every write acknowledged before
    /// the request.
    pub(crate) async fn wait_for(&self, names: &[&str]) -> Result<(), ApiError> {
        let head = self.store().head().await.map_err(store_error)?;
        let wait = self.settings().report_wait;
        match tokio::time::timeout(wait, self.read_models().wait(head, names)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(store_error(e)),
            Err(_) => {
                let reached = names.iter().filter_map(|n| self.read_models().position(n));
                let behind = reached.min().unwrap_or(0);
                Err(ApiError::unavailable(format!(
                    "The report is still catching up with the log (at sequence {behind} of {head}); try again shortly."
                ))
                .with_header(header::RETRY_AFTER, header::HeaderValue::from_static("2")))
            }
        }
    }

    /// The district as the clocks projection has it (wait for [`clocks::Clocks`] first): its
    /// calendar now in force and its targets; UTC's calendar until it sets one.
    pub(crate) async fn district(&self) -> Result<events::district::District, ApiError> {
        let doc = self.store().document(clocks::DISTRICT, clocks::DISTRICT_KEY).await;
        let doc = doc.map_err(store_error)?.and_then(|v| serde_json::from_value(v).ok());
        Ok(doc.map(|d: clocks::DistrictDoc| d.district()).unwrap_or_default())
    }

    /// The period `params` ask for, the district's calendar and the schools' names, once the
    /// clocks and schools projections have reached the log's head.
    pub(crate) async fn scope(&self, params: &ReportParams) -> Result<Scope, ApiError> {
        self.wait_for(&[clocks::Clocks::NAME, adoption::Schools::NAME]).await?;
        let (district, names) = futures::try_join!(self.district(), self.school_names())?;
        let period = ReportPeriod::of(params, &district)?;
        Ok(Scope { period, calendar: district.calendar, names })
    }

    /// The schools' names (wait for [`adoption::Schools`] first).
    pub(crate) async fn school_names(&self) -> Result<SchoolNames, ApiError> {
        Ok(SchoolNames::of(&self.documents::<adoption::SchoolDoc>(adoption::SCHOOLS).await?))
    }

    /// The district's date now, once the clocks projection has reached the log's head.
    pub(crate) async fn today(&self) -> Result<NaiveDate, ApiError> {
        self.wait_for(&[clocks::Clocks::NAME]).await?;
        Ok(self.district().await?.calendar.today(self.now()))
    }

    /// The day partitions of `collection` (a rollup kept by day alone) that `period` needs
    /// ([`rollup::days_of`]), decoded, in key order.
    pub(crate) async fn partitions<T: DeserializeOwned>(
        &self,
        collection: &'static str,
        period: &ReportPeriod,
    ) -> Result<Vec<T>, ApiError> {
        self.read(&rollup::days_of(collection, period)).await
    }

    /// The partitions of a rollup kept at two grains that `period` needs ([`rollup::reads`]:
    /// its whole months, and the days of the months it covers in part), decoded.
    pub(crate) async fn rollup<E: DeserializeOwned>(
        &self,
        grains: rollup::Grains,
        period: &ReportPeriod,
    ) -> Result<Vec<rollup::Rollup<E>>, ApiError> {
        self.rollup_splitting(grains, period, &BTreeSet::new()).await
    }

    /// As [`Reporting::rollup`], with the whole months that start on the days of `split` read
    /// by day ([`rollup::reads_splitting`]).
    pub(crate) async fn rollup_splitting<E: DeserializeOwned>(
        &self,
        grains: rollup::Grains,
        period: &ReportPeriod,
        split: &BTreeSet<NaiveDate>,
    ) -> Result<Vec<rollup::Rollup<E>>, ApiError> {
        let reads = rollup::reads_splitting(grains, period, split);
        let reads = futures::future::try_join_all(reads.iter().map(|read| self.read(read)));
        Ok(reads.await?.into_iter().flatten().collect())
    }

    /// The partitions `read` names, in one range query, decoded; a document that does not is
    /// a fault of the service.
    async fn read<T: DeserializeOwned>(&self, read: &rollup::Read) -> Result<Vec<T>, ApiError> {
        let (first, last) = (read.first.as_deref(), read.last.as_deref());
        let docs = self.store().documents_between(read.collection, first, last).await;
        docs.map_err(store_error)?
            .into_iter()
            .filter(|(key, _)| read.wants(key))
            .map(|(key, doc)| {
                serde_json::from_str(&doc).map_err(|e| {
                    let collection = read.collection;
                    ApiError::internal(format!(
                        "the document {collection}/{key} does not parse: {e}"
                    ))
                })
            })
            .collect()
    }

    /// The documents of `collection` at `keys` that exist, decoded (documents that do not
    /// decode are skipped), read in one query.
    pub(crate) async fn documents_at<T: DeserializeOwned>(
        &self,
        collection: &str,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<Vec<T>, ApiError> {
        let keys: Vec<String> = keys.into_iter().collect();
        let docs = self.store().documents_at(collection, &keys).await.map_err(store_error)?;
        Ok(docs.into_iter().filter_map(|(_, doc)| serde_json::from_value(doc).ok()).collect())
    }

    /// Every document of `collection`, in key order, decoded (documents that do not decode
    /// are skipped).
    pub(crate) async fn documents<T: DeserializeOwned>(
        &self,
        collection: &str,
    ) -> Result<Vec<T>, ApiError> {
        let docs = self.store().documents(collection).await.map_err(store_error)?;
        Ok(docs.into_iter().filter_map(|(_, doc)| serde_json::from_value(doc).ok()).collect())
    }
}

impl Reporting {
    /// The district's date today, once the read models `names` have reached the log's head
    /// (see [`Reporting::wait_for`]): what a report built from their documents needs first.
    pub(crate) async fn caught_up_today(&self, names: &[&str]) -> Result<NaiveDate, ApiError> {
        self.wait_for(names).await?;
        self.today().await
    }
}

/// How long a report read waits for its projection by default.
pub const DEFAULT_REPORT_WAIT: Duration = Duration::from_secs(10);
