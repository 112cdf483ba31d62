//! The held queue: soonest breach first, with the clock, whether a call was logged, school,
//! requester and amount; filters by school and clock state; `j`/`k` and Enter to work it.

use actix_web::web;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::{Viewer, list, n, ok, opt, s};
use crate::api::Svc;
use crate::layout::{PageError, business_minutes, encode, money, sla_badge, when_opt};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/queue", web::get().to(queue));
}

#[derive(Debug, Deserialize)]
struct Filters {
    school_id: Option<String>,
    state: Option<String>,
    sort: Option<String>,
}

/// The most held purchases the page lists (the API's largest page is 1,000).
const QUEUE_LIMIT: usize = 500;

const STATES: [(&str, &str); 3] =
    [("breached", "Breached"), ("warning", "Warning"), ("on_track", "On track")];

async fn queue(
    person: Viewer,
    q: web::Query<Filters>,
) -> Result<actix_web::HttpResponse, PageError> {
    let school = q.school_id.as_deref().filter(|v| !v.is_empty());
    let sla_state = q.state.as_deref().filter(|v| !v.is_empty());
    let sort = if q.sort.as_deref() == Some("submitted") { "submitted" } else { "due" };
    let mut path = format!("/v1/purchases?status=held&sort={sort}&limit={QUEUE_LIMIT}");
    if let Some(school) = school {
        path.push_str(&format!("&school_id={}", encode(school)));
    }
    let (purchases, schools) = tokio::join!(
        person.get(Svc::Gate, &path),
        person.get(Svc::Stakeholders, "/v1/schools?limit=1000"),
    );
    let purchases = purchases?;
    let more = has_more(&purchases);
    let order = if sort == "due" { "soonest breach first" } else { "oldest first" };
    // The school filter lists schools when the person may read them; the queue works without.
    let schools = schools.unwrap_or(Value::Null);
    let rows: Vec<&Value> = list(&purchases, "purchases")
        .iter()
        .filter(|p| {
            sla_state
                .is_none_or(|want| p.pointer("/sla/state").and_then(Value::as_str) == Some(want))
        })
        .collect();
    let body = html! {
        form.filters method="get" action="/console/queue" role="search" aria-label="Filter the queue" {
            div {
                label for="f-school" { "School" }
                select #f-school name="school_id" {
                    option value="" { "All schools" }
                    @for sc in list(&schools, "schools") {
                        option value=(s(sc, "school_id")) selected[school == Some(s(sc, "school_id"))] {
                            (opt(sc, "name").unwrap_or(s(sc, "school_id")))
                        }
                    }
                }
            }
            div {
                label for="f-state" { "Clock" }
                select #f-state name="state" {
                    option value="" { "Any state" }
                    @for (value, name) in STATES {
                        option value=(value) selected[sla_state == Some(value)] { (name) }
                    }
                }
            }
            div {
                label for="f-sort" { "Order" }
                select #f-sort name="sort" {
                    option value="due" selected[sort == "due"] { "Soonest breach first" }
                    option value="submitted" selected[sort == "submitted"] { "Oldest first" }
                }
            }
            button type="submit" { "Filter" }
        }
        p.kbd-hint { "Keys: " kbd { "j" } " next, " kbd { "k" } " previous, " kbd { "Enter" } " open." }
        @if more {
            p.card role="status" { "More than " (QUEUE_LIMIT) " purchases are held: these are the first " (QUEUE_LIMIT) " in this order. Choose a school to see the rest." }
        }
        (table(&rows, order))
    };
    Ok(ok(&person, "/console/queue", "Held queue", body))
}

/// Whether the API's page of purchases says where a next one starts (`next_offset` in due
/// order, `next_after` in submission order).
fn has_more(page: &Value) -> bool {
    ["next_offset", "next_after"].iter().any(|key| page.get(*key).is_some_and(|v| !v.is_null()))
}

fn table(rows: &[&Value], order: &str) -> Markup {
    html! {
        @if rows.is_empty() {
            p.card { "Nothing is waiting for IT. Every held purchase has been answered." }
        } @else {
            table #queue {
                caption { (rows.len()) " held " (if rows.len() == 1 { "purchase" } else { "purchases" }) ", " (order) }
                thead { tr {
                    th scope="col" { "Purchase" }
                    th scope="col" { "School" }
                    th scope="col" .hide-narrow { "Requester" }
                    th scope="col" .num { "Amount" }
                    th scope="col" { "Clock" }
                    th scope="col" { "Next due" }
                    th scope="col" { "Call logged" }
                } }
                tbody {
                    @for p in rows {
                        (row(p))
                    }
                }
            }
        }
    }
}

fn row(p: &Value) -> Markup {
    let sla = p.get("sla").filter(|v| !v.is_null());
    let called = n(p, "calls") > 0;
    html! {
        tr data-row {
            td {
                a href={ "/console/purchases/" (s(p, "purchase_id")) } { (s(p, "vendor")) }
                br; span.muted { (s(p, "external_ref")) }
            }
            td { (opt(p, "school_name").unwrap_or(s(p, "school_id"))) }
            td.hide-narrow { (s(p, "requester_email")) }
            td.num { (money(s(p, "total"), s(p, "currency"))) }
            td {
                @if let Some(sla) = sla {
                    (sla_badge(s(sla, "state")))
                    @if let Some(left) = sla.get("business_minutes_left").and_then(Value::as_i64) {
                        br; span.muted { (business_minutes(left)) }
                    }
                } @else { span.none { "—" } }
            }
            td { (when_opt(sla.and_then(|v| opt(v, "next_due_at")))) }
            td { @if called { "Yes" } @else { strong { "No" } } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_with_a_next_one_says_more_are_held() {
        assert!(has_more(&json!({"purchases": [], "next_offset": 500})));
        assert!(has_more(&json!({"purchases": [], "next_after": 812})));
        assert!(!has_more(&json!({"purchases": [], "next_after": null})));
        assert!(!has_more(&json!({"purchases": []})));
    }
}
