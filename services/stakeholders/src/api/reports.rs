//! The relationship reports this service answers itself: the meeting plan's coverage.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use kernel::ReadModel;
use web::ApiError;

use super::{Readers, now, read_models};
use crate::app::State;
use crate::queries::coverage::{CoverageReport, coverage};
use crate::read_models::{Schools, Stakeholders};

/// The meeting plan's coverage: for each school, whether IT has met its principal, when,
/// where and whether on their own turf, and on which work day of the round; the principals not
/// yet met first. The round is counted in the district's work days (`GET /v1/district`), from
/// the first principal met to the latest.
#[utoipa::path(
    tag = "reports",
    responses(
        (status = 200, body = CoverageReport),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/reports/coverage")]
pub async fn coverage_report(
    _: kernel::http::Caller<Readers>,
    state: Data<State>,
) -> Result<HttpResponse, ApiError> {
    let now = now(&state);
    let district = state.district.now(state.commands.store()).await?;
    let view = read_models(&state, None, &[Schools::NAME, Stakeholders::NAME]).await?;
    let (schools, people) = futures::try_join!(view.all::<Schools>(), view.all::<Stakeholders>())?;
    Ok(HttpResponse::Ok().json(coverage(&schools, &people, &district.0.calendar, now)))
}
