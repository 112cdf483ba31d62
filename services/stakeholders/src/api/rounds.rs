//! Rounds of meetings: IT plans to meet a set of people (every principal, by default) in so
//! many work days; each round's coverage says who was met, where, on which of its work days,
//! and what is left.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post};
use chrono::NaiveDate;
use events::calendar::DistrictCalendar;
use events::rounds::round_stream;
use events::values::ShortText;
use kernel::http::{Body, FromJson, IdempotencyKeyHeader, Reply};
use kernel::{Aggregate, ReadModel, stream};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use web::{ApiError, Fields};

use super::bodies::{day, not_null};
use super::{Change, Read, ReadErrors, WriteErrors, now, read_models, run_keyed};
use crate::app::State;
use crate::domain::round::{MAX_WORK_DAYS, PlanRound, Round};
use crate::queries::coverage::{RoundView, round_coverage, round_invitees, rounds_coverage};
use crate::read_models::{RoundDoc, Rounds, Stakeholders};

/// The work days a round is given unless the body says.
const DEFAULT_WORK_DAYS: u32 = 30;

/// A round of meetings to plan.
#[derive(Debug, ToSchema)]
pub struct RoundBody {
    #[schema(value_type = ShortText)]
    pub name: ShortText,
    /// Whom to meet (default: every principal registered now).
    #[schema(required = false, nullable = false, max_items = 500)]
    pub stakeholder_ids: Option<Vec<Uuid>>,
    /// Its first day (default: today, the district's date).
    #[schema(required = false, nullable = false)]
    pub starts_on: Option<NaiveDate>,
    /// Work days it is given, 1 to 250 (default 30).
    #[schema(required = false, nullable = false, minimum = 1, maximum = 250)]
    pub work_days: Option<u32>,
}

impl FromJson for RoundBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let name = f.string("name", map.get("name"), ShortText::parse);
        let ids =
            f.optional_array("stakeholder_ids", map.get("stakeholder_ids"), 1, 500, |f, p, v| {
                f.string(p, Some(v), |s| Uuid::parse_str(s).map_err(|_| "must be a stakeholder id"))
            });
        let starts_on = not_null(f, map, "starts_on", day);
        let work_days = match map.get("work_days") {
            None => Some(None),
            value => f
                .integer("work_days", value, |n| match u32::try_from(n) {
                    Ok(n @ 1..=MAX_WORK_DAYS) => Ok(n),
                    _ => Err(format!("must be 1 to {MAX_WORK_DAYS} work days")),
                })
                .map(Some),
        };
        Some(Self {
            name: name?,
            stakeholder_ids: ids?,
            starts_on: starts_on?,
            work_days: work_days?,
        })
    }
}

impl RoundBody {
    /// The command to plan round `round_id` with `invitees`, from `today` and for
    /// [`DEFAULT_WORK_DAYS`] unless the body says, counted in `calendar`.
    fn command(
        self,
        round_id: Uuid,
        invitees: Vec<(Uuid, bool)>,
        today: NaiveDate,
        calendar: &DistrictCalendar,
    ) -> PlanRound {
        PlanRound {
            round_id,
            name: self.name,
            invitees,
            starts_on: self.starts_on.unwrap_or(today),
            work_days: self.work_days.unwrap_or(DEFAULT_WORK_DAYS),
            calendar: calendar.clone(),
        }
    }
}

/// Every round of meetings, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundList {
    pub rounds: Vec<RoundView>,
}

/// Plan a round of meetings: whom IT is to meet (every principal, by default), from which
/// day, in how many work days. Its coverage counts the conversations held with them from its
/// first day (`GET /v1/meeting-rounds/{id}`).
#[utoipa::path(
    tag = "stakeholders",
    params(IdempotencyKeyHeader),
    request_body = RoundBody,
    responses(
        (status = 201, description = "Planned: the round and its coverage now", body = RoundView),
        (status = 400, description = "`malformed-json`, `invalid-header`", body = web::Problem),
        (status = 409, description = "`idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`; `empty-round` (no principal registered); `unknown-invitee`; `date-too-late` (its last work day would fall after 9999-12-31)", body = web::Problem),
        WriteErrors,
    ),
)]
#[post("/v1/meeting-rounds")]
pub async fn plan_round(cx: Change, body: Body<RoundBody>) -> Reply {
    let plan = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let district = cx.state.district.now(cx.state.commands.store()).await?;
    let now = now(&cx.state);
    let invitees = invitees(&cx.state, plan.stakeholder_ids.as_deref()).await?;
    let round_id = Uuid::now_v7();
    let command = plan.command(round_id, invitees, district.today(now), &district.0.calendar);
    let own = stream(round_stream(round_id));
    let written =
        run_keyed(&cx, once, &[round_id], own, &[], |r: &Round, _| Ok(r.handle(command.clone())?))
            .await?;
    let id = written.created.first().copied().unwrap_or(round_id);
    let round = one_round(&cx.state, id, written.position, &district.0.calendar, now).await?;
    Ok(written.respond(StatusCode::CREATED).json(round))
}

/// Whom the round is to meet ([`round_invitees`]): those `requested`, or every principal, as
/// the register has them now.
async fn invitees(
    state: &State,
    requested: Option<&[Uuid]>,
) -> Result<Vec<(Uuid, bool)>, ApiError> {
    let view = read_models(state, None, &[Stakeholders::NAME]).await?;
    Ok(round_invitees(requested, &view.all::<Stakeholders>().await?))
}

/// The round `id` and its coverage, once the read models include `position`.
async fn one_round(
    state: &State,
    id: Uuid,
    position: Option<u64>,
    calendar: &DistrictCalendar,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RoundView, ApiError> {
    let view = read_models(state, position, &[Rounds::NAME, Stakeholders::NAME]).await?;
    let round: RoundDoc = view.one::<Rounds>(&id.to_string()).await?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "unknown-round", format!("There is no round {id}."))
    })?;
    let people = view.all::<Stakeholders>().await?;
    Ok(round_coverage(&round, &people, calendar, now))
}

/// Every round of meetings with its coverage, the newest first.
#[utoipa::path(
    tag = "stakeholders",
    responses((status = 200, body = RoundList), ReadErrors),
)]
#[get("/v1/meeting-rounds")]
pub async fn list_rounds(cx: Read) -> Reply {
    let district = cx.state.district.now(cx.state.commands.store()).await?;
    let now = now(&cx.state);
    let view = read_models(&cx.state, None, &[Rounds::NAME, Stakeholders::NAME]).await?;
    let (rounds, people) = futures::try_join!(view.all::<Rounds>(), view.all::<Stakeholders>())?;
    let rounds = rounds_coverage(&rounds, &people, &district.0.calendar, now);
    Ok(HttpResponse::Ok().json(RoundList { rounds }))
}

/// One round of meetings and its coverage: everyone in it, those not yet met first; where and
/// on which of its work days each was met; the work days it has taken; whether it is complete
/// or overdue.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The round id")),
    responses(
        (status = 200, body = RoundView),
        (status = 400, description = "`invalid-path`", body = web::Problem),
        (status = 404, description = "`unknown-round`", body = web::Problem),
        ReadErrors,
    ),
)]
#[get("/v1/meeting-rounds/{id}")]
pub async fn get_round(cx: Read) -> Reply {
    let id = cx.path_id("id")?;
    let district = cx.state.district.now(cx.state.commands.store()).await?;
    let round = one_round(&cx.state, id, None, &district.0.calendar, now(&cx.state)).await?;
    Ok(HttpResponse::Ok().json(round))
}
