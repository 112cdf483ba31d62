//! The standards: supported products, approved vendors and the policy, all in the
//! `standards-district` stream (its version is the policy version decisions record).

use super::{Change, Secured};
use actix_web::web::Data;
use actix_web::{HttpResponse, delete, get, put};
use events::gate::{PolicySet, ProductUpserted, VendorUpserted};
use events::values::{Category, Sku, VendorId};
use kernel::http::{Body, Caller, Reply};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use web::ApiError;

use super::AnyRole;
use super::bodies::{ClassificationBody, PolicyBody, ProductBody, VendorBody};
use crate::app::State;
use crate::domain::{self, Standards, StandardsCommand};

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
)]
#[get("/v1/catalog")]
pub async fn get_catalog(state: Data<State>, _: Caller<AnyRole>) -> Reply {
    Ok(HttpResponse::Ok().json(catalog_view(&*state.standards().await?)))
}

/// Runs an IT command on the standards; returns them afterwards.
async fn change(cx: &Change, command: StandardsCommand) -> Result<CatalogView, ApiError> {
    let (state, meta) = (&cx.state, cx.metadata("gate"));
    let stream = domain::standards_stream();
    state
        .commands
        .run(&meta, stream, &[], |s: &Standards, _| Ok(s.handle(command.clone())?.into()))
        .await?;
    Ok(catalog_view(&*state.standards().await?))
}

/// Add a product to the catalog, or replace it.
#[utoipa::path(
    tag = "catalog",
    params(("sku" = events::values::Sku, Path)),
    request_body = ProductBody,
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        Secured,
        (status = 422, description = "`validation`, `unknown-vendor`, `incomplete-price`, `currency-mismatch`", body = web::Problem),
    ),
)]
#[put("/v1/catalog/products/{sku}")]
pub async fn put_product(cx: Change, body: Body<ProductBody>) -> Reply {
    let sku = cx.path("sku", Sku::parse)?;
    let product = body.parse()?.into_product(sku);
    let view = change(&cx, StandardsCommand::UpsertProduct(product)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Take a product out of the catalog.
#[utoipa::path(
    tag = "catalog",
    params(("sku" = events::values::Sku, Path)),
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        Secured,
        (status = 404, description = "`not-found`", body = web::Problem),
    ),
)]
#[delete("/v1/catalog/products/{sku}")]
pub async fn delete_product(cx: Change) -> Reply {
    let sku = cx.path("sku", Sku::parse)?;
    let view = change(&cx, StandardsCommand::RemoveProduct { sku }).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Add a vendor, or replace it.
#[utoipa::path(
    tag = "catalog",
    params(("vendor_id" = events::values::VendorId, Path)),
    request_body = VendorBody,
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        Secured,
        (status = 422, description = "`validation`", body = web::Problem),
    ),
)]
#[put("/v1/catalog/vendors/{vendor_id}")]
pub async fn put_vendor(cx: Change, body: Body<VendorBody>) -> Reply {
    let vendor_id = cx.path("vendor_id", VendorId::parse)?;
    let vendor = body.parse()?.into_vendor(vendor_id);
    let view = change(&cx, StandardsCommand::UpsertVendor(vendor)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Set the policy: which categories and merchant category codes are technology, which
/// categories are not, the words that name technology, and the amount over which IT always
/// reviews.
///
/// The gate fails closed: a line whose category is in neither list is `unclassified-category`
/// and IT reviews it; a line under a non-technology category whose description names one of
/// `technology_terms` (whole words, ignoring case; the defaults when left out) is
/// `looks-like-technology` and IT reviews it too.
#[utoipa::path(
    tag = "catalog",
    request_body = PolicySet,
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        Secured,
        (status = 422, description = "`validation`, `empty-policy`, `too-many-entries`, `currency-mismatch`, `category-in-both-lists`", body = web::Problem),
    ),
)]
#[put("/v1/catalog/policy")]
pub async fn put_policy(cx: Change, body: Body<PolicyBody>) -> Reply {
    let policy = body.parse()?.0;
    let view = change(&cx, StandardsCommand::SetPolicy(policy)).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Classify a category once: whether its lines are technology.
///
/// Moves the category into the policy's `technology_categories` or `non_technology_categories`
/// (a new policy version, unless it is already there): later checks follow it, and a category
/// no longer comes back `unclassified-category`.
#[utoipa::path(
    tag = "catalog",
    params(("category" = String, Path, min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$",
            description = "The category: a slug of at most 64 characters (lowercased), without the spaces around it a body's category may have")),
    request_body = ClassificationBody,
    responses(
        (status = 200, description = "The catalog now", body = CatalogView),
        Secured,
        (status = 409, description = "`no-policy`: set the policy first", body = web::Problem),
        (status = 422, description = "`validation`, `empty-policy` (the last technology category made not technology), `too-many-entries`", body = web::Problem),
    ),
)]
#[put("/v1/catalog/categories/{category}")]
pub async fn put_category(cx: Change, body: Body<ClassificationBody>) -> Reply {
    // In a path, a category is exactly its slug: no spaces around it to trim, so its document
    // can bound its length.
    let category = cx.path("category", |raw: &str| {
        if raw.trim() != raw {
            return Err("a category in a path has no spaces around it".to_owned());
        }
        Category::parse(raw).map_err(|e| e.to_string())
    })?;
    let technology = body.parse()?.technology;
    let command = StandardsCommand::ClassifyCategory { category, technology };
    let view = change(&cx, command).await?;
    Ok(HttpResponse::Ok().json(view))
}
