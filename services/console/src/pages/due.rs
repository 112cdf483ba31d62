//! What IT owes people: promises and follow-ups, overdue first, with the forms that settle them.

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Done, Submitted, Viewer, list, ok, opt, s, uuid_of};
use crate::api::Svc;
use crate::layout::{PageError, csrf, notice, once};
use crate::session::Person;
use crate::sign_in::see_other;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/due", web::get().to(due))
        .route("/due/promises/{id}/{outcome}", web::post().to(settle_promise))
        .route("/due/follow-ups/{id}/done", web::post().to(follow_up_done));
}

/// Overdue first, then by due date.
fn overdue_first<'a>(items: &'a [Value], states: &[&str]) -> Vec<&'a Value> {
    let mut open: Vec<&Value> = items.iter().filter(|i| states.contains(&s(i, "status"))).collect();
    open.sort_by_key(|i| (s(i, "status") != "overdue", s(i, "due_on").to_owned()));
    open
}

async fn due(person: Viewer, q: web::Query<Done>) -> Result<HttpResponse, PageError> {
    let (promises, follow_ups) = tokio::join!(
        person.get(Svc::Stakeholders, "/v1/promises?limit=1000"),
        person.get(Svc::Stakeholders, "/v1/follow-ups?limit=1000"),
    );
    let (promises, follow_ups) = (promises?, follow_ups?);
    let promises = overdue_first(list(&promises, "promises"), &["overdue", "open"]);
    let follow_ups = overdue_first(list(&follow_ups, "follow_ups"), &["overdue", "open"]);
    let body = html! {
        @if let Some(done) = &q.done { (notice(if done == "follow-up" { "The follow-up is done." } else { "The promise is settled." })) }
        section aria-labelledby="promises" {
            h2 #promises { "Promises" }
            @if promises.is_empty() { p.card { "No promise is open." } } @else {
                table {
                    caption { (promises.len()) " open promises, overdue first" }
                    thead { tr { th scope="col" { "Promise" } th scope="col" { "Due" } th scope="col" { "State" } th scope="col" { "Settle" } } }
                    tbody { @for p in promises { (promise_row(&person, p)) } }
                }
            }
        }
        section aria-labelledby="follow-ups" {
            h2 #follow-ups { "Follow-ups" }
            @if follow_ups.is_empty() { p.card { "No follow-up is open." } } @else {
                table {
                    caption { (follow_ups.len()) " open follow-ups, overdue first" }
                    thead { tr { th scope="col" { "About" } th scope="col" { "With" } th scope="col" { "Due" } th scope="col" { "State" } th scope="col" { "Done" } } }
                    tbody { @for f in follow_ups { (follow_up_row(&person, f)) } }
                }
            }
        }
    };
    Ok(ok(&person, "/console/due", "Promises and follow-ups due", body))
}

fn state_badge(state: &str) -> Markup {
    let class = if state == "overdue" { "bad" } else { "info" };
    html! { span class={ "badge " (class) } { (state) } }
}

fn promise_row(person: &Person, p: &Value) -> Markup {
    let id = s(p, "promise_id");
    let to = p.get("to").cloned().unwrap_or_default();
    html! {
        tr data-row {
            td {
                (s(p, "text")) br;
                span.muted {
                    "To "
                    @match s(&to, "type") {
                        "school" => { a href={ "/console/schools/" (s(&to, "school_id")) } { (s(&to, "school_id")) } }
                        _ => { a href={ "/console/stakeholders/" (s(&to, "stakeholder_id")) } { "a person" } }
                    }
                    " · by " (s(p, "owner"))
                }
            }
            td { (s(p, "due_on")) }
            td { (state_badge(s(p, "status"))) }
            td {
                @if person.works_queue() && p.get("standing").and_then(Value::as_bool) != Some(true) {
                    form method="post" action={ "/console/due/promises/" (id) "/kept" } {
                        (csrf(person)) (once())
                        label for={ "e-" (id) } { "Evidence" }
                        input id={ "e-" (id) } type="text" name="evidence" required;
                        " " button.secondary type="submit" { "Kept" }
                        " " button.secondary type="submit" formaction={ "/console/due/promises/" (id) "/broken" } { "Broken" }
                    }
                }
            }
        }
    }
}

fn follow_up_row(person: &Person, f: &Value) -> Markup {
    let id = s(f, "followup_id");
    html! {
        tr data-row {
            td { (s(f, "about")) }
            td { a href={ "/console/stakeholders/" (s(f, "stakeholder_id")) } { (opt(f, "stakeholder_name").unwrap_or("the person")) } }
            td { (s(f, "due_on")) }
            td { (state_badge(s(f, "status"))) }
            td {
                @if person.works_queue() {
                    form method="post" action={ "/console/due/follow-ups/" (id) "/done" } {
                        (csrf(person)) (once())
                        label for={ "n-" (id) } { "Note" }
                        input id={ "n-" (id) } type="text" name="note";
                        " " button.secondary type="submit" { "Done" }
                    }
                }
            }
        }
    }
}

async fn settle_promise(
    posted: Submitted,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, outcome) = path.into_inner();
    let id = uuid_of(&id, "promise id")?;
    if outcome != "kept" && outcome != "broken" {
        return Err(PageError::BadForm(format!("{outcome:?}: a promise is kept or broken")));
    }
    let body = json!({ "evidence": posted.fields.get("evidence").unwrap_or_default() });
    let path = format!("/v1/promises/{id}/{outcome}");
    posted.post(Svc::Stakeholders, &path, &body).await?;
    Ok(see_other("/console/due?done=promise"))
}

async fn follow_up_done(
    posted: Submitted,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = uuid_of(&id, "follow-up id")?;
    let body = json!({ "note": posted.fields.get("note") });
    let path = format!("/v1/follow-ups/{id}/done");
    posted.post(Svc::Stakeholders, &path, &body).await?;
    Ok(see_other("/console/due?done=follow-up"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_comes_first_then_the_soonest() {
        let items = vec![
            json!({"status": "open", "due_on": "2026-12-01"}),
            json!({"status": "kept", "due_on": "2026-01-01"}),
            json!({"status": "overdue", "due_on": "2026-11-20"}),
            json!({"status": "open", "due_on": "2026-11-29"}),
            json!({"status": "overdue", "due_on": "2026-11-01"}),
        ];
        let order: Vec<&str> =
            overdue_first(&items, &["overdue", "open"]).iter().map(|i| s(i, "due_on")).collect();
        assert_eq!(order, vec!["2026-11-01", "2026-11-20", "2026-11-29", "2026-12-01"]);
    }
}
