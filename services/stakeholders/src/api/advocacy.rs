//! The practices that carry the relationships: praising a person's stars in public, and
//! recording when a person spoke for IT to another (an advocate); the advocates report.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post};
use chrono::NaiveDate;
use eventlog::Direction;
use events::stakeholders::{SpokeForIt, StakeholderEvent, StarsAcknowledged, stakeholder_stream};
use events::values::{LongText, ShortText};
use kernel::http::{self, Body, FromJson, IdempotencyKeyHeader, Reply, Written};
use kernel::{Aggregate, stream};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use web::{ApiError, Fields};

use super::bodies::{day, not_null};
use super::{Change, ChangeErrors, Read, ReadErrors, load, now, run_keyed, time};
use crate::domain::stakeholder::{AcknowledgeStars, SpeakForIt, Stakeholder, StakeholderCommand};
use crate::queries::advocates::{AdvocatesReport, advocates};

/// Where and when IT praised a person's stars.
#[derive(Debug, ToSchema)]
pub struct AcknowledgementBody {
    /// Where: the meeting or the publication (`School Committee, March meeting`).
    #[schema(value_type = ShortText)]
    pub r#where: ShortText,
    /// The day (default: today, the district's date); not in the future, nor before the
    /// conversation.
    #[schema(required = false, nullable = false)]
    pub on: Option<NaiveDate>,
}

impl FromJson for AcknowledgementBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let place = f.string("where", map.get("where"), ShortText::parse);
        let on = not_null(f, map, "on", day);
        Some(Self { r#where: place?, on: on? })
    }
}

impl AcknowledgementBody {
    /// The command to record the praise of the stars of `conversation_id`, held on `held_on`.
    fn command(
        &self,
        conversation_id: Uuid,
        today: NaiveDate,
        held_on: Option<NaiveDate>,
    ) -> StakeholderCommand {
        let (place, on) = (self.r#where.clone(), self.on.unwrap_or(today));
        let ack = AcknowledgeStars { conversation_id, place, on, today, held_on };
        StakeholderCommand::AcknowledgeStars(ack)
    }

    /// The praise as recorded: the answer.
    fn recorded(self, conversation_id: Uuid, today: NaiveDate) -> StarsAcknowledged {
        let acknowledged_on = self.on.unwrap_or(today);
        StarsAcknowledged { conversation_id, place: self.r#where, acknowledged_on }
    }
}

/// Praise a person's two stars in public, as the district's CTO did at School Committee
/// meetings: recorded on their profile (`acknowledgements`).
#[utoipa::path(
    tag = "stakeholders",
    params(
        ("id" = Uuid, Path, description = "The stakeholder id"),
        ("conversation_id" = Uuid, Path, description = "The conversation whose stars are praised"),
        IdempotencyKeyHeader,
    ),
    request_body = AcknowledgementBody,
    responses(
        (status = 201, description = "Recorded", body = StarsAcknowledged),
        (status = 400, description = "`invalid-path`, `malformed-json`, `invalid-header`", body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`; `no-stars-to-acknowledge`: not their conversation, or one without stars", body = web::Problem),
        (status = 409, description = "`idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`; `date-in-future`, `date-too-early` (`on`)", body = web::Problem),
        ChangeErrors,
    ),
)]
#[post("/v1/stakeholders/{id}/conversations/{conversation_id}/acknowledgements")]
pub async fn acknowledge_stars(cx: Change, body: Body<AcknowledgementBody>) -> Reply {
    let id = cx.path_id("id")?;
    let conversation_id = cx.path_id("conversation_id")?;
    let ack = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let district = cx.state.district.now(cx.state.commands.store()).await?;
    let today = district.today(now(&cx.state));
    let own = stream(stakeholder_stream(id));
    let written = run_keyed(&cx, once, &[], own, &[], |s: &Stakeholder, _| {
        let held_on = s.held_at(conversation_id).map(|at| district.today(at));
        Ok(s.handle(ack.command(conversation_id, today, held_on))?)
    })
    .await?;
    let fresh = ack.recorded(conversation_id, today);
    let answer = as_recorded(&cx, id, &written, fresh, |e| match e {
        StakeholderEvent::StarsAcknowledged(recorded) => Some(recorded),
        _ => None,
    });
    Ok(written.respond(StatusCode::CREATED).json(answer.await?))
}

/// The answer to a request `written` wrote on stakeholder `id`'s stream: `fresh`, what this
/// request recorded, or for a repeat what the first one recorded (the stream's event at the
/// version it left), as `pick` reads it: a default such as today's date may have moved on.
async fn as_recorded<T>(
    cx: &Change,
    id: Uuid,
    written: &Written,
    fresh: T,
    pick: impl FnOnce(StakeholderEvent) -> Option<T>,
) -> Result<T, ApiError> {
    let Some(version) = written.first_version else { return Ok(fresh) };
    let own = stream(stakeholder_stream(id));
    let store = cx.state.commands.store();
    let records = store.read_stream(&own, version, Direction::Forwards, 1).await;
    let first = records.map_err(http::store_error)?.into_iter().next();
    let event = first.as_ref().map(kernel::decode::<StakeholderEvent>).transpose();
    let event = event.map_err(ApiError::internal)?;
    event.and_then(pick).ok_or_else(|| ApiError::internal("a repeat's first event is not there"))
}

/// Who an advocate spoke to, about what, when.
#[derive(Debug, ToSchema)]
pub struct AdvocacyBody {
    /// Whom they spoke to for IT (a registered stakeholder, not themselves).
    pub to_stakeholder_id: Uuid,
    pub about: LongText,
    /// The day (default: today, the district's date); not in the future.
    #[schema(required = false, nullable = false)]
    pub on: Option<NaiveDate>,
}

impl FromJson for AdvocacyBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let to = f.string("to_stakeholder_id", map.get("to_stakeholder_id"), |s: &str| {
            s.parse::<Uuid>().map_err(|_| "must be a stakeholder id (a UUID)".to_owned())
        });
        let about = f.string("about", map.get("about"), LongText::parse);
        let on = not_null(f, map, "on", day);
        Some(Self { to_stakeholder_id: to?, about: about?, on: on? })
    }
}

impl AdvocacyBody {
    /// The command to record that they spoke, to someone who `to_exists` or not.
    fn command(&self, to_exists: bool, today: NaiveDate) -> StakeholderCommand {
        let (to, about, on) =
            (self.to_stakeholder_id, self.about.clone(), self.on.unwrap_or(today));
        StakeholderCommand::SpeakForIt(SpeakForIt { to, to_exists, about, on, today })
    }

    /// What was recorded: the answer.
    fn recorded(self, today: NaiveDate) -> SpokeForIt {
        let on = self.on.unwrap_or(today);
        SpokeForIt { to_stakeholder_id: self.to_stakeholder_id, about: self.about, on }
    }
}

/// Record that the person spoke for IT to another: a principal who signed the agreement
/// telling one who has not what it did for their school. The advocates report
/// (`GET /v1/reports/advocates`) joins these to the schools' signatures.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The advocate: who spoke for IT"), IdempotencyKeyHeader),
    request_body = AdvocacyBody,
    responses(
        (status = 201, description = "Recorded", body = SpokeForIt),
        (status = 400, description = "`invalid-path`, `malformed-json`, `invalid-header`", body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`: the advocate", body = web::Problem),
        (status = 409, description = "`idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`; `unknown-listener`; `spoke-to-themselves`; `date-in-future` (`on`)", body = web::Problem),
        ChangeErrors,
    ),
)]
#[post("/v1/stakeholders/{id}/advocacy")]
pub async fn speak_for_it(cx: Change, body: Body<AdvocacyBody>) -> Reply {
    let id = cx.path_id("id")?;
    let advocacy = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let (_, today) = time(&cx.state).await?;
    let own = stream(stakeholder_stream(id));
    // Whom they spoke to is read with the advocate, so an unknown person is refused.
    let lookups = [stream(stakeholder_stream(advocacy.to_stakeholder_id))];
    let written = run_keyed(&cx, once, &[], own, &lookups, |s: &Stakeholder, l| {
        let to_exists = load::<Stakeholder>(&l[0])?.stakeholder_id.is_some();
        Ok(s.handle(advocacy.command(to_exists, today))?)
    })
    .await?;
    let answer = as_recorded(&cx, id, &written, advocacy.recorded(today), |e| match e {
        StakeholderEvent::SpokeForIt(recorded) => Some(recorded),
        _ => None,
    });
    Ok(written.respond(StatusCode::CREATED).json(answer.await?))
}

/// The advocates: who spoke for IT to whom; for each school that has not signed, the signed
/// principals who spoke to its principal; and which signings followed an advocate's word.
#[utoipa::path(
    tag = "reports",
    responses((status = 200, body = AdvocatesReport), ReadErrors),
)]
#[get("/v1/reports/advocates")]
pub async fn advocates_report(cx: Read) -> Reply {
    let (schools, people) = super::reports::schools_and_people(&cx.state).await?;
    Ok(HttpResponse::Ok().json(advocates(&schools, &people)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse<T: FromJson>(body: Value) -> T {
        kernel::http::parse_object(&body).unwrap()
    }

    #[test]
    fn praise_and_advocacy_are_dated_today_unless_the_body_says() {
        let today: NaiveDate = "2024-09-10".parse().unwrap();
        let id = Uuid::from_u128(7);
        let ack: AcknowledgementBody = parse(json!({"where": "School Committee"}));
        assert_eq!(ack.recorded(id, today).acknowledged_on, today);
        let ack: AcknowledgementBody = parse(json!({"where": "PTA", "on": "2024-09-02"}));
        let StakeholderCommand::AcknowledgeStars(cmd) = ack.command(id, today, None) else {
            panic!("an acknowledgement")
        };
        assert_eq!((cmd.on, cmd.today), ("2024-09-02".parse().unwrap(), today));
        let to = id.to_string();
        let spoke: AdvocacyBody = parse(json!({"to_stakeholder_id": to, "about": "Loaners"}));
        let StakeholderCommand::SpeakForIt(cmd) = spoke.command(true, today) else {
            panic!("advocacy")
        };
        assert_eq!((cmd.on, cmd.to, cmd.to_exists), (today, id, true));
        assert_eq!(spoke.recorded(today).on, today);
    }
}
