//! Schools (`school-{school_id}` streams) and their purchasing agreements.
//!
//! A signature is appended together with the standing call-before-cancel promise it carries
//! (`agreement-signed` on the school's stream and `promise-made` on a new promise stream, in
//! one atomic append). The gate reads the school's stream at every purchase check, so a
//! signature or a withdrawal changes the next decision at once.

use actix_web::http::header;
use actix_web::web::Query;
use actix_web::{HttpResponse, delete, get, put};
use events::school::school_stream;
use events::stakeholders::stakeholder_stream;
use events::values::SchoolId;
use kernel::http::{Body, Context, Page, Paging, Reply};
use kernel::{Aggregate, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::bodies::{SchoolBody, SignatureBody, WithdrawalBody};
use super::{
    Change, ChangeErrors, ListErrors, Read, Secured, load, naming, read_models, run, today,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::school::{School, SchoolCommand, Signer};
use crate::domain::stakeholder::Stakeholder;
use crate::queries::schools::{self, SchoolDocs, SchoolSummary, SchoolView};
use crate::read_models::AgreementStatus;

/// The school as the read models have it once they include `position` (the head now, when
/// `None`).
async fn school_view(
    state: &State,
    school_id: &SchoolId,
    position: Option<u64>,
) -> Result<SchoolView, ApiError> {
    let view = read_models(state, position, schools::READS).await?;
    let docs = SchoolDocs::read(&view, school_id).await?.ok_or(DomainError::UnknownSchool)?;
    Ok(docs.view(today(state).await?))
}

/// The school the path names (`{school_id}`), or 400 `invalid-path`.
fn school_id<R>(cx: &Context<State, R>) -> Result<SchoolId, ApiError> {
    cx.path("school_id", SchoolId::parse)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchoolQuery {
    /// Only schools whose agreement stands so.
    agreement_status: Option<AgreementStatus>,
}

/// A page of schools, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolList {
    pub schools: Vec<SchoolSummary>,
    #[serde(flatten)]
    pub page: Page,
}

/// List schools and where their agreements stand, by name.
#[utoipa::path(
    tag = "schools",
    params(SchoolQuery, Paging),
    responses((status = 200, body = SchoolList), ListErrors),
)]
#[get("/v1/schools")]
pub async fn list_schools(cx: Read, query: Query<SchoolQuery>, paging: Query<Paging>) -> Reply {
    let view = read_models(&cx.state, None, schools::LIST_READS).await?;
    let list = schools::schools(&view, query.agreement_status).await?;
    let (schools, page) = paging.page(list)?;
    Ok(HttpResponse::Ok().json(SchoolList { schools, page }))
}

/// One school: its agreement status and history, the call-before-cancel promise's record,
/// the promises made to it and its principals.
#[utoipa::path(
    tag = "schools",
    params(("school_id" = events::values::SchoolId, Path, description = "The school's slug (`lincoln-elem`)")),
    responses(
        (status = 200, body = SchoolView),
        (status = 400, description = "`invalid-path`: not a school slug", body = web::Problem),
        (status = 404, description = "`unknown-school`", body = web::Problem),
        Secured,
    ),
)]
#[get("/v1/schools/{school_id}")]
pub async fn get_school(cx: Read) -> Reply {
    let school_id = self::school_id(&cx)?;
    Ok(HttpResponse::Ok().json(school_view(&cx.state, &school_id, None).await?))
}

/// Register a school under the slug the district chose, or rename it.
///
/// `201` when the school is new, `200` when it was registered already (renamed if the name
/// differs; nothing is written if it is the same, so the call is safe to repeat).
#[utoipa::path(
    tag = "schools",
    params(("school_id" = events::values::SchoolId, Path, description = "The slug the district chose: lowercase letters, digits and single '-' (`lincoln-elem`)")),
    request_body = SchoolBody,
    responses(
        (status = 201, description = "Registered", body = SchoolView),
        (status = 200, description = "Already registered; renamed if the name differs", body = SchoolView),
        (status = 400, description = "`invalid-path` (not a slug), `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or an admin", body = web::Problem),
        (status = 415, description = "Not JSON", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
)]
#[put("/v1/schools/{school_id}")]
pub async fn put_school(cx: Change, body: Body<SchoolBody>) -> Reply {
    let school_id = self::school_id(&cx)?;
    let name = body.parse()?.name;
    let own = stream(school_stream(&school_id));
    let done = run(&cx, own, &[], |school: &School, _| {
        let command = SchoolCommand::Put { school_id: school_id.clone(), name: name.clone() };
        Ok(school.handle(command)?)
    })
    .await?;
    let view = school_view(&cx.state, &school_id, done.position).await?;
    if done.before.status.registered {
        return Ok(HttpResponse::Ok().json(view));
    }
    let location = (header::LOCATION, format!("/v1/schools/{school_id}"));
    Ok(HttpResponse::Created().insert_header(location).json(view))
}

/// The school's principal signs the purchasing agreement.
///
/// From now on the gate holds the school's technology purchases that need IT review, and IT
/// promises never to cancel one before calling the requester personally, hearing what they
/// are trying to accomplish and proposing an alternative: the signature and that standing
/// promise are written together, in one atomic append. The same signature again (the same
/// principal and `signed_on`: a retried request) writes nothing and answers 200; another
/// while the agreement is in force is `409 agreement-already-signed`.
#[utoipa::path(
    tag = "schools",
    params(("school_id" = events::values::SchoolId, Path)),
    request_body = SignatureBody,
    responses(
        (status = 201, description = "Signed: the school as it is now", body = SchoolView),
        (status = 200, description = "Signed so already: the school as it is", body = SchoolView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 404, description = "`unknown-school`", body = web::Problem),
        (status = 409, description = "`agreement-already-signed`: by another principal or on another day", body = web::Problem),
        (status = 422, description = "`validation`; `unknown-stakeholder` (no such principal); `not-a-principal-of-school`; `date-in-future`, `date-too-early` (with `field`)", body = web::Problem),
        ChangeErrors,
    ),
)]
#[put("/v1/schools/{school_id}/agreement")]
pub async fn sign_agreement(cx: Change, body: Body<SignatureBody>) -> Reply {
    let school_id = self::school_id(&cx)?;
    let signature = body.parse()?;
    let today = today(&cx.state).await?;
    let promise_id = Uuid::now_v7();
    let (school, signer) = (school_stream(&school_id), stakeholder_stream(signature.principal_id));
    let done = run(&cx, stream(school), &[stream(signer)], |school: &School, lookups| {
        let signer = load::<Stakeholder>(&lookups[0])?.profile.as_ref().map(Signer::from);
        let command = signature.command(signer, today, promise_id, &cx.who.subject);
        school.handle(command).map_err(naming(DomainError::UnknownStakeholder))
    })
    .await?;
    let view = school_view(&cx.state, &school_id, done.position).await?;
    Ok(if done.position.is_some() { HttpResponse::Created() } else { HttpResponse::Ok() }
        .json(view))
}

/// The school withdraws from the purchasing agreement.
///
/// From now on the gate lets the school's purchases that need review through as `advisory`
/// (IT is told, so it can reach out). The school may sign again later. The same withdrawal
/// again (the same `reason` and `withdrawn_on`: a retried request) writes nothing and answers
/// with the school as it is.
#[utoipa::path(
    tag = "schools",
    params(("school_id" = events::values::SchoolId, Path)),
    request_body = WithdrawalBody,
    responses(
        (status = 200, description = "Withdrawn: the school as it is now", body = SchoolView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 404, description = "`unknown-school`", body = web::Problem),
        (status = 409, description = "`agreement-not-signed` (and not withdrawn so already)", body = web::Problem),
        (status = 422, description = "`validation`; `date-in-future`, `date-too-early` (with `field`)", body = web::Problem),
        ChangeErrors,
    ),
)]
#[delete("/v1/schools/{school_id}/agreement")]
pub async fn withdraw_agreement(cx: Change, body: Body<WithdrawalBody>) -> Reply {
    let school_id = self::school_id(&cx)?;
    let withdrawal = body.parse()?;
    let today = today(&cx.state).await?;
    let own = stream(school_stream(&school_id));
    let done =
        run(&cx, own, &[], |school: &School, _| Ok(school.handle(withdrawal.command(today))?))
            .await?;
    Ok(HttpResponse::Ok().json(school_view(&cx.state, &school_id, done.position).await?))
}
