//! Notifications: the webhooks the district's other systems receive events through, whether
//! they are being delivered, and the latest attempts: so nobody has to poll to know that
//! nobody is polling.

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

use super::{Viewer, list, n, ok, opt, s};
use crate::api::{ApiError, Svc};
use crate::layout::{PageError, problem_box, when_opt};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(notifications));
}

/// How many of each endpoint's latest attempts are shown.
const ATTEMPTS: usize = 5;

async fn notifications(person: Viewer) -> Result<HttpResponse, PageError> {
    let hooks = person.get(Svc::Reporting, "/v1/webhooks").await;
    let body = match hooks {
        Ok(hooks) => {
            let mut sections = Vec::new();
            for hook in list(&hooks, "webhooks") {
                let path = format!("/v1/webhooks/{}/deliveries?limit={ATTEMPTS}", s(hook, "id"));
                let attempts = person.get(Svc::Reporting, &path).await;
                sections.push(endpoint(hook, attempts.ok()));
            }
            html! {
                p.muted { "Events reach the district's other systems as signed webhooks (Standard Webhooks), and people by e-mail." }
                @if sections.is_empty() { p.card { "No webhook is registered (POST /v1/webhooks)." } }
                @for section in sections { (section) }
            }
        }
        Err(ApiError::Refused(problem)) if problem.status == 403 => html! {
            (problem_box(&problem, Some(html! { p { "The district's webhooks are an administrator's to see." } })))
        },
        Err(e) => return Err(e.into()),
    };
    Ok(ok(&person, "/console/notifications", "Notifications", body))
}

fn endpoint(hook: &Value, attempts: Option<Value>) -> Markup {
    // `failing` is the event being retried (an object), absent or null while all goes well.
    let failing = hook.get("failing").is_some_and(|f| !f.is_null());
    let disabled = s(hook, "status") == "disabled";
    html! {
        section.card {
            h2 { (s(hook, "url")) }
            p {
                @if disabled { span.badge.bad { "Disabled" } }
                @else if failing { span.badge.warn { "Failing" } " since " (when_opt(opt(hook, "failing_since"))) }
                @else { span.badge.ok { "Delivering" } }
                " · " (n(hook, "delivered")) " delivered, " (n(hook, "failed")) " failed · last attempt " (when_opt(opt(hook, "last_attempt_at")))
                " · for " (hook.pointer("/owner/subject").and_then(Value::as_str).unwrap_or("—"))
            }
            @if let Some(attempts) = attempts {
                @let rows = list(&attempts, "deliveries");
                @if !rows.is_empty() {
                    table {
                        caption { "Latest attempts" }
                        thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Outcome" } th scope="col" { "Next retry" } } }
                        tbody { @for a in rows { tr {
                            td { (when_opt(opt(a, "at"))) }
                            td { (s(a, "event_type")) " #" (n(a, "sequence")) }
                            td { (s(a, "outcome")) @if let Some(status) = a.get("status").and_then(Value::as_i64) { " (" (status) ")" } }
                            td { (when_opt(opt(a, "next_attempt_at"))) }
                        } } }
                    }
                }
            }
        }
    }
}
