//! District time (../shared/API.md, "District time and clocks"): the district's calendar
//! (`/v1/district`, its closures) and the clocks' targets (`/v1/sla`), all in the
//! `district-settings` stream. Any role reads; admins set the district; IT staff and admins
//! declare closures and set the targets.

mod bodies;

use super::{Change, Secured};
use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpResponse, delete, get, put};
use auth::Role;
use chrono::{DateTime, NaiveDate, Utc};
use events::calendar::{BusinessHours, TimeZoneName};
use events::district::{District, DistrictSet, SlaTargets};
use events::school_year::StartMonth;
use events::values::ShortText;
use kernel::http::Context;
use kernel::http::{self, Body, Caller, Reply, Roles};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use web::ApiError;

pub use bodies::{ClosureBody, DistrictBody, SlaBody};

use super::AnyRole;
use crate::app::State;
use crate::domain::{DistrictCommand, DistrictError, DistrictSettings};

/// Admins: they set the district itself.
pub(crate) struct Admins;
impl Roles for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// A day the district is closed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClosureView {
    pub date: NaiveDate,
    pub reason: ShortText,
}

/// The district's calendar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DistrictView {
    /// Absent until an admin sets the district.
    pub name: Option<ShortText>,
    /// `UTC` until set.
    pub time_zone: TimeZoneName,
    /// 09:00 to 17:00, Monday to Friday, until set.
    pub business_hours: BusinessHours,
    /// Every closure, by date.
    pub closures: Vec<ClosureView>,
    /// The district's date now: "today" for every due date.
    pub today: NaiveDate,
    /// The month its school year starts in (7, July, until set).
    pub school_year_starts_in: StartMonth,
    /// The school year today falls in, as the reports name it (`2025-26`).
    #[schema(example = "2025-26")]
    pub school_year: String,
    /// Whether it is business hours on a business day now.
    pub open_now: bool,
    /// The version of the `district-settings` stream (0: nothing set yet).
    pub version: u64,
}

impl DistrictView {
    fn of(district: &District, now: DateTime<Utc>) -> Self {
        let calendar = &district.calendar;
        Self {
            name: district.name.clone(),
            time_zone: calendar.time_zone().clone(),
            business_hours: calendar.hours().clone(),
            closures: calendar
                .closures()
                .iter()
                .map(|(date, reason)| ClosureView { date: *date, reason: reason.clone() })
                .collect(),
            today: calendar.today(now),
            school_year_starts_in: district.school_year_starts_in,
            school_year: district.school_year(calendar.today(now)).name(),
            open_now: calendar.is_open(now),
            version: district.version,
        }
    }
}

/// The clocks' targets. `escalate_to` is a person's address: a role other than IT staff,
/// auditor or admin reads `redacted@redacted.invalid` in its place.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SlaView {
    #[serde(flatten)]
    pub targets: SlaTargets,
    /// The version of the `district-settings` stream.
    pub version: u64,
}

impl From<DistrictError> for ApiError {
    fn from(e: DistrictError) -> Self {
        let status = match e {
            DistrictError::ClosureNotFound { .. } => StatusCode::NOT_FOUND,
        };
        ApiError::new(status, e.slug(), e.to_string())
    }
}

/// Runs a command on the district's settings; returns them afterwards.
async fn change<R>(cx: &Context<State, R>, command: DistrictCommand) -> Result<District, ApiError> {
    let (state, meta) = (&cx.state, cx.metadata("gate"));
    let stream = crate::domain::district_stream();
    state
        .commands
        .run(&meta, stream, &[], |d: &DistrictSettings, _| Ok(d.decide(command.clone())?.into()))
        .await?;
    Ok(state.district().await?.0.clone())
}

fn date<R>(cx: &Context<State, R>) -> Result<NaiveDate, ApiError> {
    cx.path("date", |s| http::date(s).ok_or("it must be a date, YYYY-MM-DD"))
}

/// The district's calendar: time zone, business hours, closures, and its date today.
#[utoipa::path(
    tag = "district",
    responses(
        (status = 200, body = DistrictView),
        (status = 401, body = web::Problem),
        (status = 403, description = "A token without any procgate role", body = web::Problem),
    ),
)]
#[get("/v1/district")]
pub async fn get_district(state: Data<State>, _: Caller<AnyRole>) -> Reply {
    let district = state.district().await?;
    Ok(HttpResponse::Ok().json(DistrictView::of(&district.0, state.clock.now())))
}

/// Set the district's name, time zone and business hours (closures stay).
///
/// Every open clock is measured in the new calendar from then on.
#[utoipa::path(
    tag = "district",
    request_body = DistrictSet,
    responses(
        (status = 200, description = "The district now", body = DistrictView),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not an admin", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
)]
#[put("/v1/district")]
pub async fn put_district(cx: Context<State, Admins>, body: Body<DistrictBody>) -> Reply {
    let DistrictBody(set) = body.parse()?;
    let district = change(&cx, DistrictCommand::Set(set)).await?;
    Ok(HttpResponse::Ok().json(DistrictView::of(&district, cx.state.clock.now())))
}

/// Close the district on a day (a holiday, a snow day), in the past, today or ahead.
///
/// Every open deadline moves: a closure for today gives back the business time already counted
/// today.
#[utoipa::path(
    tag = "district",
    params(("date" = chrono::NaiveDate, Path, description = "The local date, YYYY-MM-DD")),
    request_body = ClosureBody,
    responses(
        (status = 200, description = "The district now", body = DistrictView),
        (status = 400, description = "`invalid-path`: not a date", body = web::Problem),
        Secured,
        (status = 422, description = "`validation`", body = web::Problem),
    ),
)]
#[put("/v1/district/closures/{date}")]
pub async fn put_closure(cx: Change, body: Body<ClosureBody>) -> Reply {
    let date = self::date(&cx)?;
    let reason = body.parse()?.reason;
    let district = change(&cx, DistrictCommand::Close { date, reason }).await?;
    Ok(HttpResponse::Ok().json(DistrictView::of(&district, cx.state.clock.now())))
}

/// Open the district again on a day.
#[utoipa::path(
    tag = "district",
    params(("date" = chrono::NaiveDate, Path, description = "The local date, YYYY-MM-DD")),
    responses(
        (status = 200, description = "The district now", body = DistrictView),
        (status = 400, description = "`invalid-path`: not a date", body = web::Problem),
        Secured,
        (status = 404, description = "`closure-not-found`", body = web::Problem),
    ),
)]
#[delete("/v1/district/closures/{date}")]
pub async fn delete_closure(cx: Change) -> Reply {
    let date = self::date(&cx)?;
    let district = change(&cx, DistrictCommand::Reopen { date }).await?;
    Ok(HttpResponse::Ok().json(DistrictView::of(&district, cx.state.clock.now())))
}

fn sla_view(district: &District) -> Result<SlaView, ApiError> {
    let targets = district.targets().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "sla-not-set",
            "No targets are set yet, so flagged purchases have no clocks; set them with PUT /v1/sla.",
        )
    })?;
    Ok(SlaView { targets, version: district.version })
}

/// The clocks' targets, in business minutes.
///
/// `escalate_to` is a person's address, so only IT staff, auditors and admins read it; any
/// other role reads `redacted@redacted.invalid` in its place, as in the feed: breaches are
/// escalated, but to whom is not its business.
#[utoipa::path(
    tag = "district",
    responses(
        (status = 200, body = SlaView),
        (status = 401, body = web::Problem),
        (status = 403, description = "A token without any procgate role", body = web::Problem),
        (status = 404, description = "`sla-not-set`: no targets yet", body = web::Problem),
    ),
)]
#[get("/v1/sla")]
pub async fn get_sla(state: Data<State>, who: Caller<AnyRole>) -> Reply {
    let view = sla_view(&state.district().await?.0)?;
    let shown = kernel::privacy::audience(&who).shown(&view).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(shown))
}

/// Set the clocks' targets (replacing them).
///
/// `first_contact_minutes` (a call logged) and `decision_minutes` (approved or cancelled) for
/// held purchases, `advisory_outreach_minutes` for advisory ones; `warn_at_percent`;
/// `escalate_to`. Other targets for a payment method go in `by_payment_method`, keyed by the
/// method (`purchase_order`, `p_card`, `reimbursement`), each giving any of the three minute
/// targets (the others stay the defaults): `{"p_card": {"first_contact_minutes": 30}}`.
/// A clock keeps the targets in force when it started.
#[utoipa::path(
    tag = "district",
    request_body = SlaTargets,
    responses(
        (status = 200, description = "The targets now", body = SlaView),
        Secured,
        (status = 422, description = "`validation`", body = web::Problem),
    ),
)]
#[put("/v1/sla")]
pub async fn put_sla(cx: Change, body: Body<SlaBody>) -> Reply {
    let SlaBody(targets) = body.parse()?;
    let district = change(&cx, DistrictCommand::SetTargets(targets)).await?;
    Ok(HttpResponse::Ok().json(sla_view(&district)?))
}
