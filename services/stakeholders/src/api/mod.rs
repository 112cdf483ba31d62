//! The stakeholder relations service's HTTP API (../shared/API.md, "Stakeholder relations
//! service").
//!
//! Writes (IT staff and admins) parse the request into domain types, read the aggregate's
//! stream and the streams of whatever else the rule needs (the signer's profile, the school a
//! stakeholder works at), call the pure core, and append what it decides at the version they
//! read: one atomic `append_streams` when the decision opens other streams too (a signature
//! and its standing promise; a conversation and its wish). When another writer got there
//! first they read and decide again ([`kernel::Commands::run`]).
//!
//! Reads (every role but `finance`) come from the read models ([`crate::read_models`]), after
//! waiting for them to reach the log's head, so a read sees every change answered before it;
//! a write answers with the resource as a read right after it would show it.
//!
//! # Time
//!
//! `now` is the server clock. `today`, the district's date that dates are checked against (a
//! signature, a withdrawal, a promise's or follow-up's settling date not in the future; a
//! promise or follow-up not due before today; overdue means due before today), is the **UTC
//! date** of `now` ([`today`]): the same on every instance, whatever its host's time zone.
//! What it costs a district away from UTC: west of it (the Americas), UTC's date turns over in
//! the local afternoon or evening, so from then on nothing can be due on the local today and
//! what was due that day counts as overdue; east of it, the local today is "in the future"
//! until UTC's midnight. A district time zone setting would end both (not there yet).

mod follow_ups;
mod parse;
mod promises;
mod schools;
mod stakeholders;
mod views;
mod wishes;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use auth::{Principal, Role};
use chrono::{DateTime, NaiveDate, Utc};
use eventlog::{Actor, Metadata, RecordedEvent};
use kernel::Aggregate;
use kernel::http::BearerAuth;
pub(crate) use kernel::stream;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use web::ApiError;

use crate::domain::{DomainError, ErrorKind};
use crate::read_models::ALL;

/// Who may read: every role but `finance` (a finance system has no business with people).
const READERS: &[Role] = &[Role::ItStaff, Role::Auditor, Role::Admin];
/// Who may write.
const WRITERS: &[Role] = &[Role::ItStaff, Role::Admin];

/// Registers the service's routes; the OpenAPI document is built from the same function.
pub(crate) fn routes(cfg: &mut ServiceConfig) {
    cfg.service(schools::list_schools)
        .service(schools::get_school)
        .service(schools::put_school)
        .service(schools::sign_agreement)
        .service(schools::withdraw_agreement)
        .service(stakeholders::list_stakeholders)
        .service(stakeholders::register_stakeholder)
        .service(stakeholders::get_stakeholder)
        .service(stakeholders::update_stakeholder)
        .service(stakeholders::hold_conversation)
        .service(wishes::list_wishes)
        .service(wishes::get_wish)
        .service(wishes::progress_wish)
        .service(promises::list_promises)
        .service(promises::make_promise)
        .service(promises::get_promise)
        .service(promises::keep_promise)
        .service(promises::break_promise)
        .service(follow_ups::list_follow_ups)
        .service(follow_ups::schedule_follow_up)
        .service(follow_ups::get_follow_up)
        .service(follow_ups::complete_follow_up);
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "procgate stakeholder relations",
        description = "The relationships IT keeps with the district's schools: schools and their \
                       purchasing agreements (opt-in; a signed agreement makes the gate hold the \
                       school's technology purchases for IT review, with the standing promise that \
                       IT calls before it cancels one), stakeholders and the conversations held \
                       with them (their vision, two stars and a wish), the wishes and the headway \
                       on each, the promises IT made and kept, and the follow-ups it owes.\n\n\
                       Writes need the `it_staff` or `admin` role; reads any role but `finance`. \
                       Times are RFC 3339; dates are `YYYY-MM-DD`, and *today* (what dates are \
                       checked against, and what *overdue* is measured from) is the current UTC \
                       date. Errors are RFC 9457 problem documents \
                       (`application/problem+json`) with a stable `type`; a refused request \
                       writes nothing.",
    ),
    tags(
        (name = "schools", description = "Schools and their purchasing agreements."),
        (name = "stakeholders", description = "People, conversations and relationship health."),
        (name = "wishes", description = "The wish of every conversation, and the headway on it."),
        (name = "promises", description = "Promises IT made, and whether it kept them."),
        (name = "follow-ups", description = "Things to come back to people about."),
    ),
    components(schemas(web::Problem, web::FieldError)),
    modifiers(&BearerAuth),
)]
pub(crate) struct ApiDoc;

/// The time now, from the server clock.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

/// The district's date at `now`: the UTC date (see the module docs).
pub(crate) fn today(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}

/// The metadata of events written for this request: who, and its correlation id (the request
/// id when it is a UUID).
pub(crate) fn metadata(principal: &Principal, req: &HttpRequest) -> Metadata {
    let correlation = web::request_id::request_id(req)
        .and_then(|id| Uuid::parse_str(id.as_str()).ok())
        .unwrap_or_else(Uuid::now_v7);
    Metadata::new(Actor::new(principal.subject.clone(), principal.actor_role()), "stakeholders")
        .correlated(correlation, None)
}

/// A refusal of the domain as a problem: the status from [`DomainError::kind`] (404, 409,
/// 422), the slug and title of the error, its message as the detail (capitalized), and the
/// field it is about (and the earliest allowed date, or the stars found) as extensions.
pub(crate) fn domain_error(e: DomainError) -> ApiError {
    let status = match e.kind() {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
    };
    refusal(status, e)
}

/// Like [`domain_error`], for a thing the request *body* names (a signer, a school to work at,
/// the stakeholder of a promise or follow-up): when it does not exist the request is
/// unprocessable (422), while the resource at the path is there (404 is kept for the path).
pub(crate) fn body_reference_error(e: DomainError) -> ApiError {
    match e.kind() {
        ErrorKind::NotFound => refusal(StatusCode::UNPROCESSABLE_ENTITY, e),
        _ => domain_error(e),
    }
}

fn refusal(status: StatusCode, e: DomainError) -> ApiError {
    let message = e.to_string();
    let field = match &e {
        DomainError::DateInFuture { field } | DomainError::DateTooEarly { field, .. } => {
            Some(*field)
        }
        _ => None,
    };
    // A sentence: "`signed_on` may not be …", "The school is not registered; …".
    let detail = match field.and_then(|f| Some((f, message.strip_prefix(f)?))) {
        Some((field, rest)) => format!("`{field}`{rest}."),
        None => {
            let mut chars = message.chars();
            match chars.next() {
                Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
                None => message,
            }
        }
    };
    let err = ApiError::new(status, e.slug(), detail).with_title(e.title());
    match e {
        DomainError::DateInFuture { field } => err.with_extension("field", field),
        DomainError::DateTooEarly { field, earliest, .. } => {
            err.with_extension("field", field).with_extension("earliest", earliest)
        }
        DomainError::ExactlyTwoStars { found } => {
            err.with_extension("field", "stars").with_extension("found", found)
        }
        _ => err,
    }
}

/// A path segment parsed, or a 400 `invalid-path` problem naming it.
pub(crate) fn path<T, E: std::fmt::Display>(
    name: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| {
        ApiError::bad_request(
            "invalid-path",
            format!("The path parameter `{name}` is invalid: {e}"),
        )
    })
}

/// A UUID path segment (`{id}`).
pub(crate) fn path_id(name: &str, raw: &str) -> Result<Uuid, ApiError> {
    path(name, raw, |s| Uuid::parse_str(s).map_err(|_| "it must be a UUID"))
}

/// A query parameter parsed, or a 400 `invalid-query` problem naming it.
pub(crate) fn query_param<T, E: std::fmt::Display>(
    name: &str,
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, ApiError> {
    raw.map(|raw| {
        parse(raw).map_err(|e| {
            ApiError::bad_request(
                "invalid-query",
                format!("The query parameter `{name}` is invalid: {e}"),
            )
        })
    })
    .transpose()
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Page {
    /// How many items match the filters, over all pages.
    pub total: usize,
    /// Pass as `offset` for the next page; absent on the last page.
    pub next_offset: Option<usize>,
}

/// The page of `items` from `offset` (default 0), at most `limit` (1 to 1000, default 100).
pub(crate) fn page<T>(
    mut items: Vec<T>,
    limit: Option<usize>,
    offset: Option<usize>,
) -> Result<(Vec<T>, Page), ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid-query", "`limit` must be from 1 to 1000."));
    }
    let offset = offset.unwrap_or(0);
    let total = items.len();
    let end = offset.saturating_add(limit).min(total);
    let next_offset = (end < total).then_some(end);
    let items = if offset >= total { Vec::new() } else { items.drain(offset..end).collect() };
    Ok((items, Page { total, next_offset }))
}

/// The aggregate `records` fold into (a lookup of another stream a rule needs facts from).
pub(crate) fn load<A: Aggregate>(records: &[RecordedEvent]) -> Result<A, ApiError> {
    kernel::load(records).map_err(|e| {
        let stream = records.first().map_or("a stream", |r| r.stream.as_str());
        ApiError::internal(format!("{stream} does not load: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let (items, page) = super::page((0..5).collect(), Some(2), None).unwrap();
        assert_eq!((items, page.total, page.next_offset), (vec![0, 1], 5, Some(2)));
        let (items, page) = super::page((0..5).collect(), Some(2), Some(4)).unwrap();
        assert_eq!((items, page.next_offset), (vec![4], None));
        let (items, page) = super::page((0..5).collect::<Vec<i32>>(), None, Some(9)).unwrap();
        assert_eq!((items.len(), page.total, page.next_offset), (0, 5, None));
        assert!(super::page(vec![1], Some(0), None).is_err());
        assert!(super::page(vec![1], Some(1001), None).is_err());
    }

    #[test]
    fn refusals_keep_slug_title_status_and_field() {
        let p =
            domain_error(DomainError::DateInFuture { field: "signed_on" }).to_problem(None, None);
        assert_eq!(
            (p.status, p.slug(), p.title.as_str()),
            (422, Some("date-in-future"), "Date in the future")
        );
        assert_eq!(p.detail, "`signed_on` may not be in the future.");
        assert_eq!(p.extensions["field"], "signed_on");
        let p = domain_error(DomainError::UnknownSchool).to_problem(None, None);
        assert_eq!(p.status, 404);
        let p = body_reference_error(DomainError::UnknownSchool).to_problem(None, None);
        assert_eq!((p.status, p.slug()), (422, Some("unknown-school")));
        let p = body_reference_error(DomainError::AgreementAlreadySigned).to_problem(None, None);
        assert_eq!(p.status, 409);
        let p = domain_error(DomainError::ExactlyTwoStars { found: 3 }).to_problem(None, None);
        assert_eq!(
            (p.extensions["field"].as_str(), p.extensions["found"].as_u64()),
            (Some("stars"), Some(3))
        );
    }
}
