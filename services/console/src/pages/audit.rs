//! For auditors: the chain's verification, the signed anchors, and a purchase's decision history
//! replayed from the log.

use actix_web::{HttpResponse, web};
use maud::html;
use serde_json::Value;

use super::{Viewer, list, n, ok, opt, s, uuid_of};
use crate::api::{ApiError, Svc};
use crate::layout::{PageError, problem_box, when, when_opt};
use crate::session::Signed;
use crate::sign_in::see_other;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(audit))
        .route("/audit/replay", web::get().to(replay_form))
        .route("/audit/purchases/{id}", web::get().to(replay));
}

async fn audit(person: Viewer) -> Result<HttpResponse, PageError> {
    let (verify, anchors) = tokio::join!(
        person.get(Svc::Reporting, "/v1/audit/verify"),
        person.get(Svc::Reporting, "/v1/audit/anchors"),
    );
    let body = html! {
        section.card aria-labelledby="chain" {
            h2 #chain { "The log's hash chain" }
            @match &verify {
                Ok(v) if v.get("ok").and_then(Value::as_bool) == Some(true) => {
                    p { span.badge.ok { "Intact" } " " (n(v, "checked")) " events checked, sequences " (n(v, "from")) " to " (n(v, "to")) "." }
                }
                Ok(v) => {
                    div.problem role="alert" {
                        p { strong { "The chain is broken at sequence " (n(v, "first_bad_sequence")) "." } }
                        p { (s(v, "problem")) }
                        p { (n(v, "checked")) " events before it check out." }
                    }
                }
                Err(ApiError::Refused(p)) => { (problem_box(p, None)) }
                Err(e) => { p { (e.to_string()) } }
            }
        }
        section.card aria-labelledby="anchors" {
            h2 #anchors { "Signed anchors" }
            @match &anchors {
                Ok(a) => {
                    @let items = list(a, "anchors");
                    @if items.is_empty() { p.none { "No anchor signed yet." } } @else {
                        table {
                            caption { "Statements of the chain's head, signed with Ed25519" }
                            thead { tr { th scope="col" { "Sequence" } th scope="col" { "Chain hash" } th scope="col" { "Signed" } th scope="col" { "Key" } } }
                            tbody { @for x in items.iter().rev().take(20) {
                                tr { td.num { (n(x, "sequence")) } td { code { (s(x, "chain_hash").get(..16).unwrap_or_default()) "…" } } td { (when_opt(opt(x, "signed_at"))) } td { code { (s(x, "key_id")) } } }
                            } }
                        }
                    }
                }
                Err(ApiError::Refused(p)) => { (problem_box(p, None)) }
                Err(e) => { p { (e.to_string()) } }
            }
        }
        section.card aria-labelledby="replay" {
            h2 #replay { "Replay a purchase" }
            form method="get" action="/console/audit/replay" {
                div.field {
                    label for="r-id" { "Purchase id" }
                    input #r-id type="text" name="purchase_id" required pattern="[0-9a-fA-F-]{36}" size="40";
                }
                div.field {
                    label for="r-asof" { "As of (optional, RFC 3339)" }
                    input #r-asof type="text" name="as_of" placeholder="2026-11-30T12:00:00Z";
                }
                button type="submit" { "Replay" }
            }
        }
    };
    Ok(ok(&person, "/console/audit", "Audit", body))
}

#[derive(Debug, serde::Deserialize)]
struct ReplayQuery {
    purchase_id: Option<String>,
    as_of: Option<String>,
}

async fn replay_form(q: web::Query<ReplayQuery>, _: Signed) -> Result<HttpResponse, PageError> {
    let id: uuid::Uuid = q
        .purchase_id
        .as_deref()
        .unwrap_or_default()
        .trim()
        .parse()
        .map_err(|_| PageError::BadForm("that is not a purchase id".into()))?;
    let as_of = q.as_of.as_deref().map(str::trim).filter(|v| !v.is_empty());
    Ok(see_other(&match as_of {
        Some(t) => format!("/console/audit/purchases/{id}?as_of={}", crate::layout::encode(t)),
        None => format!("/console/audit/purchases/{id}"),
    }))
}

async fn replay(
    person: Viewer,
    id: web::Path<String>,
    q: web::Query<ReplayQuery>,
) -> Result<HttpResponse, PageError> {
    let id = uuid_of(&id, "purchase id")?;
    let mut path = format!("/v1/audit/purchases/{id}");
    if let Some(t) = q.as_of.as_deref().filter(|v| !v.is_empty()) {
        path.push_str(&format!("?as_of={}", crate::layout::encode(t)));
    }
    let replay = person.get(Svc::Reporting, &path).await?;
    let steps = list(&replay, "events");
    let body = html! {
        p { (steps.len()) " of " (n(&replay, "events_in_stream")) " events of stream " code { (s(&replay, "stream")) } " replayed"
            @if let Some(t) = opt(&replay, "as_of") { ", as recorded up to " (when(t)) } "." }
        p { a href={ "/console/purchases/" (id) } { "The purchase as it stands" } }
        ol.timeline {
            @for step in steps {
                li {
                    strong { (s(step, "type").replace('-', " ")) } " · " (when_opt(opt(step, "recorded_at").or(opt(step, "at"))))
                    " · " (s(step, "actor")) span.muted { " (" (s(step, "role")) ")" }
                    @if let Some(state_after) = step.get("state").filter(|v| !v.is_null()) {
                        br; span.muted { "Then: " (s(state_after, "status")) }
                    }
                }
            }
        }
    };
    Ok(ok(&person, "/console/audit", "Replay from the log", body))
}
