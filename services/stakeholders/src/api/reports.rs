//! The relationship reports this service answers itself: the meeting plan's coverage, the
//! people going cold, and which themes of IT's vision carry which schools.

use actix_web::{HttpRequest, HttpResponse, get};
use events::reminders::BusinessDaySpan;
use kernel::ReadModel;
use kernel::http::Reply;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use web::ApiError;
use web::csv::{Csv, ReportFormat};

use super::{Read, ReadErrors, as_of, now, read_models};
use crate::app::State;
use crate::queries::coverage::{CoverageReport, coverage};
use crate::queries::going_cold::{GoingColdReport, going_cold};
use crate::queries::themes::{ThemesReport, themes};
use crate::read_models::{SchoolDoc, Schools, StakeholderDoc, Stakeholders};

/// The meeting plan's coverage: for each school, whether IT has met its principal, when,
/// where and whether on their own turf, and on which work day of the round; the principals not
/// yet met first. The round is counted in the district's work days (`GET /v1/district`), from
/// the first principal met to the latest.
#[utoipa::path(
    tag = "reports",
    responses((status = 200, body = CoverageReport), ReadErrors),
)]
#[get("/v1/reports/coverage")]
pub async fn coverage_report(cx: Read) -> Reply {
    let now = now(&cx.state);
    let district = cx.state.district.now(cx.state.commands.store()).await?;
    let (schools, people) = schools_and_people(&cx.state).await?;
    Ok(HttpResponse::Ok().json(coverage(&schools, &people, &district.0.calendar, now)))
}

/// Every school and every person, as the read models have them once they include everything
/// in the log now: what the relationship reports are computed from.
pub(super) async fn schools_and_people(
    state: &State,
) -> Result<(Vec<SchoolDoc>, Vec<StakeholderDoc>), ApiError> {
    let view = read_models(state, None, &[Schools::NAME, Stakeholders::NAME]).await?;
    Ok(futures::try_join!(view.all::<Schools>(), view.all::<Stakeholders>())?)
}

/// A report's query string as `P`, parsed after the caller's role was checked (401 and 403
/// come before 400): a 400 `invalid-query` problem for what is not `P` as documented.
fn report_params<P: DeserializeOwned>(req: &HttpRequest) -> Result<P, ApiError> {
    actix_web::web::Query::<P>::from_query(req.query_string())
        .map(actix_web::web::Query::into_inner)
        .map_err(|e| invalid_query(format!("The query string is invalid: {e}.")))
}

/// 400 `invalid-query`, with `detail`.
fn invalid_query(detail: String) -> ApiError {
    ApiError::bad_request("invalid-query", detail).with_title("Invalid query string")
}

/// The going-cold report's parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GoingColdParams {
    /// List the people with no contact for at least this many business days: 1 to 260. The
    /// district's `going_cold_after_business_days` (`GET /v1/reminder-settings`) when left out.
    #[param(minimum = 1, maximum = 260)]
    pub business_days: Option<u16>,
    /// `json` (the default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// The going-cold report's parameters, or 400 `invalid-query` ([`report_params`]).
fn parse_params(req: &HttpRequest) -> Result<(Option<BusinessDaySpan>, ReportFormat), ApiError> {
    let params: GoingColdParams = report_params(req)?;
    let days = params.business_days.map(BusinessDaySpan::new).transpose().map_err(|e| {
        invalid_query(format!("The query parameter `business_days` is invalid: {}.", e.message()))
    })?;
    Ok((days, params.format.unwrap_or_default()))
}

/// People going cold: the principals and the advocates (anyone who has spoken for IT, `POST
/// /v1/stakeholders/{id}/advocacy`; `advocate` says so), never an erased person, IT has not had a conversation with for
/// `business_days` business days or more (the district's `going_cold_after_business_days`, 20
/// until set with `PUT /v1/reminder-settings`, when left out), most overdue first, with their
/// school, their role, the last conversation and the business days since.
///
/// Business days are the district's (`GET /v1/district`): its working weekdays, closures
/// left out, counted after the day of the last conversation up to and including today.
/// Someone never met counts from the day they were registered (`never_contacted`). Only a
/// conversation counts as contact, as in relationship health, whose contact worth (of 30
/// points, halving every `half_life_business_days`) each row shows. `?format=csv` gives a
/// row per person.
#[utoipa::path(
    tag = "reports",
    params(GoingColdParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (GoingColdReport = "application/json"),
            (String = "text/csv", example = json!("stakeholder_id,name,role,advocate,school_id,school_name,last_contact,never_contacted,business_days_since,contact_worth\r\n0190a5c4-7e2a-7f18-b6c1-0a9e42d7e83f,Dana Whitfield,principal,false,lincoln-elem,Lincoln Elementary,2024-09-06T15:00:00Z,false,21,21.7\r\n")),
        )),
        (status = 400, description = "`invalid-query`: `business_days` not from 1 to 260, `format` neither `json` nor `csv`, or another parameter", body = web::Problem),
        ReadErrors,
    ),
)]
#[get("/v1/reports/going-cold")]
pub async fn going_cold_report(cx: Read) -> Reply {
    let (days, format) = parse_params(&cx.req)?;
    let as_of = as_of(&cx.state).await?;
    let (schools, people) = schools_and_people(&cx.state).await?;
    let days = days.unwrap_or(as_of.contact.going_cold_after);
    let report = going_cold(&people, &schools, &as_of, days);
    Ok(in_format(format, "going-cold", &report, GoingColdReport::csv))
}

/// `report` as `format` asks: JSON, or its `csv` as an attachment named `name`.
fn in_format<R: Serialize>(
    format: ReportFormat,
    name: &str,
    report: &R,
    csv: impl FnOnce(&R) -> Csv,
) -> HttpResponse {
    match format {
        ReportFormat::Json => HttpResponse::Ok().json(report),
        ReportFormat::Csv => web::csv::attachment(name, csv(report)),
    }
}

/// The themes report's parameters.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ThemesParams {
    /// `json` (the default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// Which themes of IT's vision carry which schools: for each theme of the vision in force
/// (`GET /v1/vision`), in IT's order, the schools whose people's visions IT connected to it in a
/// conversation (`connections`), most people first, with the conversations that did and the
/// latest; the themes no school shares yet; and the schools connected to no theme. A person
/// counts for the school they work at now. `?format=csv` gives a row per theme and school (a
/// theme without a school has one row), then one per school without a theme.
#[utoipa::path(
    tag = "reports",
    params(ThemesParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (ThemesReport = "application/json"),
            (String = "text/csv", example = json!("theme_id,title,school_id,school_name,people,conversations,last_connected_at\r\nreliable,Reliable devices,lincoln-elem,Lincoln Elementary,2,3,2025-10-03T15:00:00Z\r\n")),
        )),
        (status = 400, description = "`invalid-query`: `format` neither `json` nor `csv`, or another parameter", body = web::Problem),
        ReadErrors,
    ),
)]
#[get("/v1/reports/themes")]
pub async fn themes_report(cx: Read) -> Reply {
    let params: ThemesParams = report_params(&cx.req)?;
    let vision = cx.state.vision.now(cx.state.commands.store()).await?;
    let (schools, people) = schools_and_people(&cx.state).await?;
    let report = themes(&vision.0, &schools, &people);
    Ok(in_format(params.format.unwrap_or_default(), "themes", &report, ThemesReport::csv))
}
