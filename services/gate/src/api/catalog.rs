//! The standards: supported products, approved vendors and the policy, all in the
//! `standards-district` stream (its version is the policy version decisions record).

use actix_web::web::{Data, Json, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, put};
use auth::{Principal, Role};
use eventlog::{ExpectedVersion, StoreError};
use events::gate::{PolicySet, ProductUpserted, VendorUpserted};
use events::values::{Category, Currency, Money, ShortText, Sku, VendorId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use web::ApiError;

use super::{RETRIES, metadata, parse, standards_error, store_error};
use crate::app::State;
use crate::domain::{self, Standards, StandardsCommand};

const WRITERS: &[Role] = &[Role::ItStaff, Role::Admin];

/// The standards as of `version`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogView {
    /// The policy version: the version of the `standards-district` stream.
    pub version: u64,
    /// Absent until IT sets it; purchase checks are refused (503 `no-policy`) until then.
    pub policy: Option<PolicySet>,
    pub products: Vec<ProductUpserted>,
    pub vendors: Vec<VendorUpserted>,
}

fn catalog_view(standards: &Standards) -> CatalogView {
    CatalogView {
        version: standards.version,
        policy: standards.policy.clone(),
        products: standards.products.values().cloned().collect(),
        vendors: standards.vendors.values().cloned().collect(),
    }
}

/// The standards catalog: products, vendors and the policy.
#[utoipa::path(
    tag = "catalog",
    responses(
        (status = 200, body = CatalogView),
        (status = 401, body = web::Problem),
        (status = 403, description = "A token without any procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/catalog")]
pub async fn get_catalog(
    state: Data<State>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.require(&Role::ALL)?;
    Ok(HttpResponse::Ok().json(catalog_view(&*state.standards().await?)))
}

/// Runs an IT command on the standards, at the version read; again if another writer got
/// there first. Returns the standards afterwards.
async fn change(
    state: &State,
    principal: &Principal,
    req: &HttpRequest,
    command: StandardsCommand,
) -> Result<CatalogView, ApiError> {
    let meta = metadata(principal, req);
    let _serialized = state.lock_stream(&domain::standards_stream()).await;
    for _ in 0..RETRIES {
        let standards = state.standards().await?;
        let events = standards.handle(command.clone()).map_err(standards_error)?;
        if events.is_empty() {
            return Ok(catalog_view(&standards));
        }
        let new_events = events.iter().map(|e| domain::new_event(e, meta.clone())).collect();
        let expected = ExpectedVersion::after(standards.version);
        match state.store.append(&domain::standards_stream(), expected, new_events).await {
            Ok(_) => return Ok(catalog_view(&*state.standards().await?)),
            Err(StoreError::WrongExpectedVersion { .. }) => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(ApiError::conflict(
        "concurrent-update",
        "Others changed the catalog at the same moment; try again.",
    ))
}

/// A product IT supports.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ProductBody {
    name: ShortText,
    category: Category,
    /// A vendor on the vendor list.
    vendor_id: VendorId,
    /// A reference price, given with `currency` (the policy's).
    unit_price: Option<Money>,
    currency: Option<Currency>,
}

/// Add a product to the catalog, or replace it.
#[utoipa::path(
    tag = "catalog",
    params(("sku" = String, Path)),
    request_body = ProductBody,
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 422, description = "`validation`, `unknown-vendor`, `incomplete-price`, `currency-mismatch`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/catalog/products/{sku}")]
pub async fn put_product(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    sku: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let sku = parse::path("sku", &sku, Sku::parse)?;
    let product = parse::product(sku, &body)?;
    let view = change(&state, &principal, &req, StandardsCommand::UpsertProduct(product)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Take a product out of the catalog.
#[utoipa::path(
    tag = "catalog",
    params(("sku" = String, Path)),
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`not-found`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[delete("/v1/catalog/products/{sku}")]
pub async fn delete_product(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    sku: Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let sku = parse::path("sku", &sku, Sku::parse)?;
    let view = change(&state, &principal, &req, StandardsCommand::RemoveProduct { sku }).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A vendor.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct VendorBody {
    name: ShortText,
    /// Whether technology purchases from this vendor are supported.
    approved: bool,
}

/// Add a vendor, or replace it.
#[utoipa::path(
    tag = "catalog",
    params(("vendor_id" = String, Path)),
    request_body = VendorBody,
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/catalog/vendors/{vendor_id}")]
pub async fn put_vendor(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    vendor_id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let vendor_id = parse::path("vendor_id", &vendor_id, VendorId::parse)?;
    let vendor = parse::vendor(vendor_id, &body)?;
    let view = change(&state, &principal, &req, StandardsCommand::UpsertVendor(vendor)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Set the policy: which categories and merchant category codes are technology, and the
/// amount over which IT always reviews.
#[utoipa::path(
    tag = "catalog",
    request_body = PolicySet,
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 422, description = "`validation`, `empty-policy`, `too-many-entries`, `currency-mismatch`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/catalog/policy")]
pub async fn put_policy(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let policy = parse::policy(&body)?;
    let view = change(&state, &principal, &req, StandardsCommand::SetPolicy(policy)).await?;
    Ok(HttpResponse::Ok().json(view))
}
