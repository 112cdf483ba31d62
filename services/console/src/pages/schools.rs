//! The district: each school's agreement, principal, last meeting and health, and the
//! principals and advocates going cold; a school's page; a person's profile with their vision, stars and wish, promises, follow-ups and purchases.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

use super::{Viewer, list, n, ok, opt, s, uuid_of};
use crate::api::Svc;
use crate::layout::{PageError, encode, money, status_badge, when, when_opt};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/schools", web::get().to(schools))
        .route("/schools/{id}", web::get().to(school))
        .route("/stakeholders/{id}", web::get().to(stakeholder));
}

fn agreement(status: &str) -> Markup {
    let (class, text) = match status {
        "signed" => ("ok", "Signed"),
        "withdrawn" => ("bad", "Withdrawn"),
        _ => ("warn", "Not signed"),
    };
    html! { span class={ "badge " (class) } { (text) } }
}

fn health(score: i64) -> Markup {
    let (class, word) = match score {
        70.. => ("ok", "good"),
        40..=69 => ("warn", "fair"),
        _ => ("bad", "poor"),
    };
    html! { span class={ "badge " (class) } { (score) " · " (word) } }
}

async fn schools(person: Viewer) -> Result<HttpResponse, PageError> {
    let (schools, principals, coverage, cold, themes) = tokio::join!(
        person.get(Svc::Stakeholders, "/v1/schools?limit=1000"),
        person.get(Svc::Stakeholders, "/v1/stakeholders?role=principal&limit=1000"),
        person.get(Svc::Stakeholders, "/v1/reports/coverage"),
        person.get(Svc::Stakeholders, "/v1/reports/going-cold"),
        person.get(Svc::Stakeholders, "/v1/reports/themes"),
    );
    let (schools, principals, coverage, cold) = (schools?, principals?, coverage?, cold?);
    let themes = themes?;
    let by_school: HashMap<&str, &Value> =
        list(&principals, "stakeholders").iter().map(|p| (s(p, "school_id"), p)).collect();
    let rows = list(&schools, "schools");
    let signed = rows.iter().filter(|sc| s(sc, "agreement_status") == "signed").count();
    let body = html! {
        p { (signed) " of " (rows.len()) " schools have signed the purchasing agreement." }
        (meeting_plan(&coverage))
        table {
            caption { "Schools" }
            thead { tr {
                th scope="col" { "School" } th scope="col" { "Agreement" } th scope="col" { "Principal" }
                th scope="col" { "Last meeting" } th scope="col" { "Health" }
            } }
            tbody {
                @for sc in rows {
                    @let principal = by_school.get(s(sc, "school_id"));
                    tr data-row {
                        td { a href={ "/console/schools/" (s(sc, "school_id")) } { (s(sc, "name")) } }
                        td { (agreement(s(sc, "agreement_status"))) }
                        td { @match principal {
                            Some(p) => { a href={ "/console/stakeholders/" (s(p, "stakeholder_id")) } { (s(p, "name")) } }
                            None => { span.none { "—" } }
                        } }
                        td { (when_opt(principal.and_then(|p| opt(p, "last_contact")))) }
                        td { @match principal { Some(p) => { (health(n(p, "health_score"))) } None => { span.none { "—" } } } }
                    }
                }
            }
        }
        (going_cold(&cold))
        (themes_carrying(&themes))
    };
    Ok(ok(&person, "/console/schools", "Schools", body))
}

/// Which themes of IT's vision carry which schools (`GET /v1/reports/themes`).
fn themes_carrying(report: &Value) -> Markup {
    let themes = list(report, "themes");
    let without = list(report, "schools_without_a_theme");
    html! {
        @if !themes.is_empty() {
            table {
                caption { "The themes of IT's vision that carry the schools" }
                thead { tr { th scope="col" { "Theme" } th scope="col" { "Schools" } th scope="col" .num { "People" } } }
                tbody { @for t in themes { tr {
                    td { (s(t, "title")) }
                    td { @if list(t, "schools").is_empty() { span.none { "No school yet" } }
                        @for (i, sc) in list(t, "schools").iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/console/schools/" (s(sc, "school_id")) } { (s(sc, "school_name")) }
                        } }
                    td.num { (n(t, "people")) }
                } } }
            }
            @if !without.is_empty() {
                p { "Not connected to a theme yet: "
                    @for (i, sc) in without.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "/console/schools/" (s(sc, "school_id")) } { (s(sc, "school_name")) }
                    }
                }
            }
        }
    }
}

/// The principals and advocates going cold (`GET /v1/reports/going-cold`): not met for the
/// district's threshold of business days, most overdue first.
fn going_cold(report: &Value) -> Markup {
    let rows = list(report, "rows");
    let days = n(report, "business_days");
    html! {
        section.card aria-labelledby="cold" {
            h2 #cold { "Going cold" }
            @if rows.is_empty() {
                p.none { "Every principal has had a conversation with IT in the last " (days) " business days." }
            } @else {
                table {
                    caption { "Principals and advocates without a conversation for " (days) " business days or more, most overdue first" }
                    thead { tr {
                        th scope="col" { "Person" } th scope="col" { "School" }
                        th scope="col" { "Last conversation" } th scope="col" { "Business days since" }
                    } }
                    tbody {
                        @for r in rows {
                            tr {
                                td {
                                    a href={ "/console/stakeholders/" (s(r, "stakeholder_id")) } { (s(r, "name")) }
                                    @if r.get("advocate").and_then(Value::as_bool) == Some(true) { " " span.badge.ok { "advocate" } }
                                }
                                td { @match opt(r, "school_name") { Some(name) => { (name) } None => { span.none { "—" } } } }
                                td { @match opt(r, "last_contact") {
                                    Some(at) => { (when(at)) }
                                    None => { span.none { "never (registered " (when(s(r, "since"))) ")" } }
                                } }
                                td { (n(r, "business_days_since")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The meeting plan: the principals not met yet first, and the work days the round has taken.
fn meeting_plan(coverage: &Value) -> Markup {
    let rows = list(coverage, "rows");
    html! {
        section.card aria-labelledby="plan" {
            h2 #plan { "The meeting plan" }
            p {
                (n(coverage, "met")) " of " (n(coverage, "schools")) " principals met, "
                (n(coverage, "met_on_their_turf")) " on their own turf; the round has taken "
                (n(coverage, "work_days")) " work days"
                @if let (Some(a), Some(b)) = (opt(coverage, "started_on"), opt(coverage, "latest_on")) { " (" (a) " to " (b) ")" }
                "."
            }
            @let waiting: Vec<&Value> = rows.iter().filter(|r| r.get("met").and_then(Value::as_bool) != Some(true)).collect();
            @if !waiting.is_empty() {
                p { "Not met yet: "
                    @for (i, r) in waiting.iter().enumerate() {
                        @if i > 0 { ", " }
                        (opt(r, "principal_name").unwrap_or("no principal")) " (" (s(r, "school_name")) ")"
                    }
                }
            }
        }
    }
}

async fn school(person: Viewer, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    let id = encode(&id);
    let (school_path, purchases_path) =
        (format!("/v1/schools/{id}"), format!("/v1/purchases?school_id={id}&limit=50&sort=newest"));
    let (school, purchases) = tokio::join!(
        person.get(Svc::Stakeholders, &school_path),
        person.get(Svc::Gate, &purchases_path),
    );
    let school = school?;
    let purchases = purchases?;
    let body = html! {
        section.card {
            dl.facts {
                dt { "Agreement" } dd { (agreement(s(&school, "agreement_status"))) }
                @for p in list(&school, "principals") {
                    dt { "Principal" } dd { a href={ "/console/stakeholders/" (s(p, "stakeholder_id")) } { (s(p, "name")) } " · " (s(p, "email")) }
                }
            }
        }
        h2 { "Agreements" }
        @if list(&school, "agreements").is_empty() { p.none { "Never signed." } }
        ul { @for a in list(&school, "agreements") {
            li { "Signed " (s(a, "signed_on")) @if let Some(name) = opt(a, "principal_name") { " by " (name) }
                 @if let Some(w) = opt(a, "withdrawn_on") { ", withdrawn " (w) } }
        } }
        h2 { "Purchases" }
        (purchase_table(list(&purchases, "purchases")))
    };
    Ok(ok(&person, "/console/schools", s(&school, "name"), body))
}

fn purchase_table(purchases: &[Value]) -> Markup {
    html! {
        @if purchases.is_empty() { p.none { "No purchase yet." } } @else {
            table {
                caption { "Latest purchases" }
                thead { tr { th scope="col" { "Purchase" } th scope="col" { "Status" } th scope="col" .num { "Amount" } th scope="col" { "Submitted" } } }
                tbody { @for p in purchases {
                    tr data-row {
                        td { a href={ "/console/purchases/" (s(p, "purchase_id")) } { (s(p, "vendor")) } br; span.muted { (s(p, "external_ref")) } }
                        td { (status_badge(s(p, "status"))) }
                        td.num { (money(s(p, "total"), s(p, "currency"))) }
                        td { (when(s(p, "submitted_at"))) }
                    }
                } }
            }
        }
    }
}

/// Held purchases as a profile keeps them, under `caption`: what happened and how fast IT
/// answered (while the requester waits, the hours so far).
fn held_table(caption: &str, held: &[Value]) -> Markup {
    html! {
        @if held.is_empty() { p.none { (caption) ": none." } } @else {
            table {
                caption { (caption) }
                thead { tr { th scope="col" { "Flagged" } th scope="col" { "Outcome" } th scope="col" { "Called before cancel" } th scope="col" .num { "Hours to answer" } } }
                tbody { @for p in held {
                    tr data-row {
                        td { a href={ "/console/purchases/" (s(p, "purchase_id")) } { "Purchase flagged " (when(s(p, "flagged_at"))) } }
                        td { (status_badge(s(p, "state"))) }
                        td { @match p.get("call_before_cancel").and_then(Value::as_bool) { Some(true) => { "Yes" } Some(false) => { strong { "No" } } None => { "—" } } }
                        td.num {
                            @let hours = p.get("hours_to_answer").and_then(Value::as_f64).map(|h| format!("{h:.1}"));
                            @match (opt(p, "answered_at"), hours) {
                                (Some(_), Some(h)) => { (h) }
                                (None, Some(h)) => { "waiting (" (h) " so far)" }
                                (_, None) => { "—" }
                            }
                        }
                    }
                } }
            }
        }
    }
}

async fn stakeholder(person: Viewer, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    let id = uuid_of(&id, "person's id")?;
    let path = format!("/v1/stakeholders/{id}");
    let (who, vision) = tokio::join!(
        person.get(Svc::Stakeholders, &path),
        person.get(Svc::Stakeholders, "/v1/vision"),
    );
    let who = who?;
    // The profile shows without IT's vision when it cannot be read.
    let vision = vision.unwrap_or_default();
    let health_doc = who.get("health").cloned().unwrap_or_default();
    let conversations = list(&who, "conversations");
    // The latest conversation that asked for two stars and a wish (later ones may not).
    let latest = conversations
        .iter()
        .filter(|c| c.get("stars").is_some_and(|v| !v.is_null()))
        .max_by_key(|c| s(c, "held_at").to_owned());
    let requested = list(&who, "requested_purchases");
    // A principal's profile also carries their school's held purchases.
    let school_held = who.get("held_purchases").and_then(Value::as_array);
    let body = html! {
        div.grid2 {
            section.card aria-labelledby="who" {
                h2 #who { "Who" }
                dl.facts {
                    dt { "Role" } dd { (s(&who, "role").replace('_', " ")) }
                    dt { "School" } dd { @match opt(&who, "school_id") { Some(sc) => { a href={ "/console/schools/" (sc) } { (sc) } } None => { "—" } } }
                    dt { "Email" } dd { (s(&who, "email")) }
                    dt { "Phone" } dd { (opt(&who, "phone").unwrap_or("—")) }
                    dt { "Health" } dd { (health(n(&health_doc, "score"))) }
                    dt { "Last contact" } dd { (when_opt(opt(&health_doc, "last_contact"))) }
                }
                @let penalties = list(&health_doc, "penalties");
                @if !penalties.is_empty() {
                    h3 { "What lowers their health" }
                    ul { @for p in penalties { li { (s(p, "detail")) " (−" (n(p, "points")) ")" } } }
                }
            }
            section.card aria-labelledby="vision" {
                h2 #vision { "Their vision" }
                @match latest {
                    Some(c) => {
                        p { (s(c, "their_vision")) }
                        h3 { "Two stars" }
                        ul { @for star in list(c, "stars") { li { (star.as_str().unwrap_or_default()) } } }
                        h3 { "A wish" }
                        p { (s(c, "wish")) }
                        p.muted {
                            "From the meeting of " (when(s(c, "held_at"))) " at " (s(c, "location"))
                            @if c.get("on_their_turf").and_then(Value::as_bool) == Some(true) { ", on their own turf" }
                            "."
                        }
                    }
                    None => { p.none { "No conversation yet: ask about their vision, two stars and a wish." } }
                }
            }
            section.card aria-labelledby="it-vision" {
                h2 #it-vision { "IT's vision, and where theirs connects" }
                @match opt(&vision, "statement") {
                    Some(statement) => {
                        p { (statement) }
                        @let connected: Vec<&str> = conversations.iter().flat_map(|c| list(c, "connections")).filter_map(Value::as_str).collect();
                        ul {
                            @for theme in list(&vision, "themes") {
                                li {
                                    (s(theme, "title"))
                                    @if connected.contains(&s(theme, "theme_id")) { " " span.badge.ok { "Connected" } }
                                }
                            }
                        }
                    }
                    None => { p.none { "IT has not set its vision yet (PUT /v1/vision)." } }
                }
            }
        }
        section.card aria-labelledby="wishes" {
            h2 #wishes { "Wishes" }
            @if list(&who, "wishes").is_empty() { p.none { "None yet." } }
            ul { @for w in list(&who, "wishes") { li { (s(w, "text")) " · " span.badge.info { (s(w, "status").replace('_', " ")) } } } }
        }
        div.grid2 {
            section.card aria-labelledby="promises" {
                h2 #promises { "Promises to them" }
                @if list(&who, "promises").is_empty() { p.none { "None." } }
                ul { @for p in list(&who, "promises") { li { (s(p, "text")) " · due " (s(p, "due_on")) " · " strong { (s(p, "status")) } } } }
            }
            section.card aria-labelledby="follow-ups" {
                h2 #follow-ups { "Follow-ups" }
                @if list(&who, "follow_ups").is_empty() { p.none { "None." } }
                ul { @for f in list(&who, "follow_ups") { li { (s(f, "about")) " · due " (s(f, "due_on")) " · " strong { (s(f, "status")) } } } }
            }
        }
        section.card aria-labelledby="purchases" {
            h2 #purchases { "Their held purchases" }
            (held_table("Held purchases they asked for", requested))
            @if let Some(school_held) = school_held {
                (held_table("Their school's held purchases", school_held))
            }
        }
        @let praised = list(&who, "acknowledgements");
        @let spoke = list(&who, "spoke_for_it");
        @if !praised.is_empty() || !spoke.is_empty() {
            section.card aria-labelledby="practices" {
                h2 #practices { "Stars praised, and words for IT" }
                ul {
                    @for a in praised { li { "Their stars praised at " (s(a, "where")) " on " (s(a, "acknowledged_on")) } }
                    @for w in spoke {
                        li { "Spoke for IT on " (s(w, "on")) " to "
                             a href={ "/console/stakeholders/" (s(w, "to_stakeholder_id")) } { "another person" }
                             ": " (s(w, "about")) }
                    }
                }
            }
        }
        section.card aria-labelledby="conversations" {
            h2 #conversations { "Conversations" }
            ul { @for c in conversations { li { (when(s(c, "held_at"))) " · " (s(c, "location")) @if let Some(notes) = opt(c, "notes") { br; span.muted { (notes) } } } } }
        }
    };
    Ok(ok(&person, "/console/schools", s(&who, "name"), body))
}
