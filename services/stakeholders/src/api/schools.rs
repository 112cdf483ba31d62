//! Schools (`school-{school_id}` streams) and their purchasing agreements.
//!
//! A signature is appended together with the standing call-before-cancel promise it carries
//! (`agreement-signed` on the school's stream and `promise-made` on a new promise stream, in
//! one atomic append). The gate reads the school's stream at every purchase check, so a
//! signature or a withdrawal changes the next decision at once.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, delete, get, put};
use auth::Principal;
use chrono::{DateTime, NaiveDate, Utc};
use events::school::school_stream;
use events::stakeholders::stakeholder_stream;
use events::values::{Email, LongText, SchoolId, ShortText};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::views::{Joins, PromiseView, promise_view, sort_promises};
use super::{
    Page, READERS, WRITERS, body_reference_error, domain_error, load, metadata, now, page, parse,
    path, stream, today,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::school::{School, SchoolCommand, SignAgreement, Signer, WithdrawAgreement};
use crate::domain::stakeholder::Stakeholder;
use crate::queries::{CallBeforeCancelRecord, call_before_cancel_record};
use crate::read_models::{
    AgreementRecord, AgreementStatus, HeldPurchaseDoc, HeldPurchases, Promises, SchoolDoc, Schools,
    StakeholderDoc, Stakeholders,
};
use kernel::{Aggregate, ReadModel};

/// The read models a school's view is built from.
const VIEW: &[&str] = &[Schools::NAME, Stakeholders::NAME, Promises::NAME, HeldPurchases::NAME];

/// The agreement in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrentAgreement {
    /// The principal who signed (a stakeholder id).
    pub principal_id: Uuid,
    pub principal_name: Option<ShortText>,
    pub signed_on: NaiveDate,
    /// Its standing call-before-cancel promise.
    pub promise_id: Option<Uuid>,
}

/// A school and where its purchasing agreement stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchoolSummary {
    pub school_id: SchoolId,
    pub name: ShortText,
    pub agreement_status: AgreementStatus,
    /// Whether the agreement is in force: the gate holds the school's technology purchases
    /// that need review (`held`) rather than letting them through with a note (`advisory`).
    pub gated: bool,
    pub agreement: Option<CurrentAgreement>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One signing of the agreement, and the record of its standing promise.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgreementView {
    #[serde(flatten)]
    pub agreement: AgreementRecord,
    pub principal_name: Option<ShortText>,
    /// The gate's record of the school's purchases held under this agreement.
    pub call_before_cancel: Option<CallBeforeCancelRecord>,
}

/// A principal of the school: who can sign its agreement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrincipalRef {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub email: Email,
}

/// A school: its agreement status and history, the record of the call-before-cancel promise,
/// the promises made to it and its principals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchoolView {
    #[serde(flatten)]
    pub summary: SchoolSummary,
    /// The record of the latest agreement's standing promise (IT never cancels a purchase of
    /// the school before calling the requester and proposing an alternative): the purchases
    /// held under it, how many were cancelled, and whether each cancellation was preceded by a
    /// reached call and an alternative. Absent if the school never signed.
    pub call_before_cancel: Option<CallBeforeCancelRecord>,
    /// Every signing, oldest first.
    pub agreements: Vec<AgreementView>,
    /// Every promise made to the school (the standing ones included), overdue first.
    pub promises: Vec<PromiseView>,
    /// The school's registered principals.
    pub principals: Vec<PrincipalRef>,
}

fn names(people: &[StakeholderDoc]) -> HashMap<Uuid, ShortText> {
    people.iter().map(|p| (p.stakeholder_id, p.name.clone())).collect()
}

fn summary(doc: &SchoolDoc, names: &HashMap<Uuid, ShortText>) -> SchoolSummary {
    SchoolSummary {
        school_id: doc.school_id.clone(),
        name: doc.name.clone(),
        agreement_status: doc.agreement_status,
        gated: doc.agreement_in_force().is_some(),
        agreement: doc.agreement_in_force().map(|a| CurrentAgreement {
            principal_id: a.principal_id,
            principal_name: names.get(&a.principal_id).cloned(),
            signed_on: a.signed_on,
            promise_id: a.promise_id,
        }),
        registered_at: doc.registered_at,
        updated_at: doc.updated_at,
    }
}

/// The school as the read models have it once they include `position` (the head now, when
/// `None`).
async fn school_view(
    state: &State,
    school_id: &SchoolId,
    position: Option<u64>,
) -> Result<SchoolView, ApiError> {
    let view = state.read_models.view();
    match position {
        Some(position) => state.read_models.at(position, VIEW).await?,
        None => state.read_models.caught_up(VIEW).await?,
    }
    let school: SchoolDoc = state
        .read_models
        .view()
        .one::<Schools>(school_id.as_str())
        .await?
        .ok_or_else(|| domain_error(DomainError::UnknownSchool))?;
    let (promises, held, people) = futures::try_join!(
        view.some::<Promises>(school.promise_ids.iter().map(Uuid::to_string)),
        super::views::held_purchases(&view),
        view.all::<Stakeholders>(),
    )?;
    let held: Vec<HeldPurchaseDoc> =
        held.into_iter().filter(|p| p.school_id == school.school_id).collect();
    let names = names(&people);
    let record_of = |a: &AgreementRecord| {
        let promise = promises.iter().find(|p| Some(p.promise_id) == a.promise_id)?;
        call_before_cancel_record(promise, &school, &held)
    };
    let agreements: Vec<AgreementView> = school
        .agreements
        .iter()
        .map(|a| AgreementView {
            agreement: a.clone(),
            principal_name: names.get(&a.principal_id).cloned(),
            call_before_cancel: record_of(a),
        })
        .collect();
    let call_before_cancel = agreements.last().and_then(|a| a.call_before_cancel.clone());
    let principals = people
        .iter()
        .filter(|p| p.principal_of() == Some(&school.school_id))
        .map(|p| PrincipalRef {
            stakeholder_id: p.stakeholder_id,
            name: p.name.clone(),
            email: p.email.clone(),
        })
        .collect();
    let today = today(now());
    let joins = Joins::new(vec![school.clone()], held);
    let mut promises: Vec<PromiseView> =
        promises.into_iter().map(|p| promise_view(p, today, &joins)).collect();
    sort_promises(&mut promises);
    Ok(SchoolView {
        summary: summary(&school, &names),
        call_before_cancel,
        agreements,
        promises,
        principals,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchoolQuery {
    /// Only schools whose agreement stands so.
    agreement_status: Option<AgreementStatus>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
    /// Skip this many (the `next_offset` of the previous page).
    offset: Option<usize>,
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
    params(SchoolQuery),
    responses(
        (status = 200, body = SchoolList),
        (status = 400, description = "`invalid-query`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/schools")]
pub async fn list_schools(
    state: Data<State>,
    principal: Principal,
    query: Query<SchoolQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = state.read_models.view();
    principal.require(READERS)?;
    state.read_models.caught_up(&[Schools::NAME, Stakeholders::NAME]).await?;
    let (schools, people) = futures::try_join!(view.all::<Schools>(), view.all::<Stakeholders>(),)?;
    let names = names(&people);
    let mut schools: Vec<SchoolSummary> = schools
        .iter()
        .filter(|s| query.agreement_status.is_none_or(|status| s.agreement_status == status))
        .map(|s| summary(s, &names))
        .collect();
    schools.sort_by(|a, b| {
        (a.name.as_str().to_lowercase(), a.school_id.as_str())
            .cmp(&(b.name.as_str().to_lowercase(), b.school_id.as_str()))
    });
    let (schools, page) = page(schools, query.limit, query.offset)?;
    Ok(HttpResponse::Ok().json(SchoolList { schools, page }))
}

fn school_id(raw: &str) -> Result<SchoolId, ApiError> {
    path("school_id", raw, SchoolId::parse)
}

/// One school: its agreement status and history, the call-before-cancel promise's record,
/// the promises made to it and its principals.
#[utoipa::path(
    tag = "schools",
    params(("school_id" = String, Path, description = "The school's slug (`lincoln-elem`)")),
    responses(
        (status = 200, body = SchoolView),
        (status = 400, description = "`invalid-path`: not a school slug", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-school`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/schools/{school_id}")]
pub async fn get_school(
    state: Data<State>,
    principal: Principal,
    raw: Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let school_id = school_id(&raw)?;
    Ok(HttpResponse::Ok().json(school_view(&state, &school_id, None).await?))
}

/// A school's details.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SchoolBody {
    name: ShortText,
}

/// Register a school under the slug the district chose, or rename it.
///
/// `201` when the school is new, `200` when it was registered already (renamed if the name
/// differs; nothing is written if it is the same, so the call is safe to repeat).
#[utoipa::path(
    tag = "schools",
    params(("school_id" = String, Path, description = "The slug the district chose: lowercase letters, digits and single '-' (`lincoln-elem`)")),
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
    security(("bearer" = [])),
)]
#[put("/v1/schools/{school_id}")]
pub async fn put_school(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    raw: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let school_id = school_id(&raw)?;
    let name = parse::school(&body)?;
    let meta = metadata(&principal, &req);
    let done = state
        .commands
        .run::<School>(&meta, stream(school_stream(&school_id)), &[], |school, _| {
            let command = SchoolCommand::Put { school_id: school_id.clone(), name: name.clone() };
            school.handle(command).map_err(domain_error)
        })
        .await?;
    let view = school_view(&state, &school_id, done.position).await?;
    if done.before.status.registered {
        Ok(HttpResponse::Ok().json(view))
    } else {
        Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/schools/{school_id}")))
            .json(view))
    }
}

/// The principal's signature.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SignatureBody {
    /// The stakeholder id of the principal signing: registered with the role `principal` at
    /// this school.
    principal_id: Uuid,
    /// When it was signed: not in the future, and not before the previous withdrawal.
    signed_on: NaiveDate,
}

/// The school's principal signs the purchasing agreement.
///
/// From now on the gate holds the school's technology purchases that need IT review, and IT
/// promises never to cancel one before calling the requester personally, hearing what they
/// are trying to accomplish and proposing an alternative: the signature and that standing
/// promise are written together, in one atomic append.
#[utoipa::path(
    tag = "schools",
    params(("school_id" = String, Path)),
    request_body = SignatureBody,
    responses(
        (status = 201, description = "Signed: the school as it is now", body = SchoolView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-school`", body = web::Problem),
        (status = 409, description = "`agreement-already-signed`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `unknown-stakeholder` (no such principal); `not-a-principal-of-school`; `date-in-future`, `date-too-early` (with `field`)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/schools/{school_id}/agreement")]
pub async fn sign_agreement(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    raw: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let school_id = school_id(&raw)?;
    let signature = parse::signature(&body)?;
    let meta = metadata(&principal, &req);
    let today = today(now());
    let promise_id = Uuid::now_v7();
    let signer_stream = stream(stakeholder_stream(signature.principal_id));
    let done = state
        .commands
        .run::<School>(
            &meta,
            stream(school_stream(&school_id)),
            &[signer_stream],
            |school, lookups| {
                let signer = load::<Stakeholder>(&lookups[0])?
                    .profile
                    .map(|p| Signer { role: p.role, school_id: p.school_id });
                let command = SchoolCommand::SignAgreement(SignAgreement {
                    principal_id: signature.principal_id,
                    signer,
                    signed_on: signature.signed_on,
                    today,
                    promise_id,
                    recorded_by: principal.subject.clone(),
                });
                school.handle(command).map_err(|e| match e {
                    DomainError::UnknownStakeholder => body_reference_error(e),
                    e => domain_error(e),
                })
            },
        )
        .await?;
    let view = school_view(&state, &school_id, done.position).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Why the school withdraws.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct WithdrawalBody {
    reason: LongText,
    /// When (default: today); not in the future, not before the signing.
    withdrawn_on: Option<NaiveDate>,
}

/// The school withdraws from the purchasing agreement.
///
/// From now on the gate lets the school's purchases that need review through as `advisory`
/// (IT is told, so it can reach out). The school may sign again later.
#[utoipa::path(
    tag = "schools",
    params(("school_id" = String, Path)),
    request_body = WithdrawalBody,
    responses(
        (status = 200, description = "Withdrawn: the school as it is now", body = SchoolView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-school`", body = web::Problem),
        (status = 409, description = "`agreement-not-signed`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `date-in-future`, `date-too-early` (with `field`)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[delete("/v1/schools/{school_id}/agreement")]
pub async fn withdraw_agreement(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    raw: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let school_id = school_id(&raw)?;
    let withdrawal = parse::withdrawal(&body)?;
    let meta = metadata(&principal, &req);
    let today = today(now());
    let done = state
        .commands
        .run::<School>(&meta, stream(school_stream(&school_id)), &[], |school, _| {
            let command = SchoolCommand::WithdrawAgreement(WithdrawAgreement {
                reason: withdrawal.reason.clone(),
                withdrawn_on: withdrawal.withdrawn_on.unwrap_or(today),
                today,
            });
            school.handle(command).map_err(domain_error)
        })
        .await?;
    let view = school_view(&state, &school_id, done.position).await?;
    Ok(HttpResponse::Ok().json(view))
}
