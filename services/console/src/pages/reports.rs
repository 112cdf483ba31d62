//! Reports with charts, for the CTO: the adoption curve with the 60% and 100% marks, response
//! times against the targets, rogue spend by month and school, wishes from open to done, and
//! promises kept, open, overdue and broken; each with its CSV.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

use super::{f, list, n, ok, s};
use crate::State;
use crate::api::Svc;
use crate::charts::{Mark, Series, bars, lines};
use crate::layout::{PageError, money};
use crate::session::Signed;

/// The reports the console shows, by their API names.
const REPORTS: [&str; 6] =
    ["adoption", "response-times", "sla", "rogue-spend", "wishes", "promises"];

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(reports)).route("/reports/{name}.csv", web::get().to(csv));
}

async fn reports(
    state: web::Data<State>,
    Signed(person): Signed,
) -> Result<HttpResponse, PageError> {
    let api = &state.api;
    let t = &person.token;
    let (adoption, times, rogue, wishes, promises, sla) = tokio::join!(
        api.get(t, Svc::Reporting, "/v1/reports/adoption"),
        api.get(t, Svc::Reporting, "/v1/reports/response-times"),
        api.get(t, Svc::Reporting, "/v1/reports/rogue-spend"),
        api.get(t, Svc::Reporting, "/v1/reports/wishes"),
        api.get(t, Svc::Reporting, "/v1/reports/promises"),
        api.get(t, Svc::Gate, "/v1/sla"),
    );
    let body = html! {
        p.muted { "Each chart's figures are in the table below it, and each report downloads as CSV." }
        (adoption_section(&adoption?))
        (response_section(&times?, &sla?))
        (rogue_section(&rogue?))
        div.grid2 {
            (wishes_section(&wishes?))
            (promises_section(&promises?))
        }
    };
    Ok(ok(&person, "/console/reports", "Reports", body))
}

fn csv_link(name: &str, what: &str) -> Markup {
    html! { p { a href={ "/console/reports/" (name) ".csv" } download { "Download " (what) " as CSV" } } }
}

fn percent(share: Option<f64>) -> Option<f64> {
    share.map(|v| (v * 1000.0).round() / 10.0)
}

fn adoption_section(a: &Value) -> Markup {
    let months = list(a, "months");
    let labels: Vec<String> = months.iter().map(|m| s(m, "month").to_owned()).collect();
    let schools: Vec<Option<f64>> = months
        .iter()
        .map(|m| percent(m.get("gated_share_of_all").and_then(Value::as_f64)))
        .collect();
    let spend: Vec<Option<f64>> = months
        .iter()
        .map(|m| {
            percent(
                list(m, "technology_spend")
                    .iter()
                    .find(|c| s(c, "currency") == "USD")
                    .or(list(m, "technology_spend").first())
                    .and_then(|c| c.get("gated_spend_share").and_then(Value::as_f64)),
            )
        })
        .collect();
    let now = a.get("schools").cloned().unwrap_or_default();
    let summary = format!(
        "{} of {} schools gated now ({}%).",
        n(&now, "gated"),
        n(&now, "total"),
        percent(now.get("gated_share").and_then(Value::as_f64)).unwrap_or_default()
    );
    let series = vec![
        Series { name: "Share of schools gated".into(), values: schools },
        Series { name: "Share of technology spend gated".into(), values: spend },
    ];
    let marks = vec![
        Mark { value: 60.0, label: "60%: the first signers".into() },
        Mark { value: 100.0, label: "100%: every school".into() },
    ];
    html! {
        section aria-labelledby="adoption" {
            h2 #adoption { "Adoption" }
            p { (summary) }
            (lines("The adoption curve, by month", &summary, &labels, &series, &marks, 105.0, "%"))
            @let changes = list(a, "agreement_changes");
            @if !changes.is_empty() {
                details.data {
                    summary { "When each school signed (" (changes.len()) ")" }
                    table {
                        thead { tr { th scope="col" { "Date" } th scope="col" { "School" } th scope="col" { "Change" } th scope="col" .num { "Schools gated after" } } }
                        tbody { @for c in changes { tr {
                            td { (s(c, "on")) } td { a href={ "/console/schools/" (s(c, "school_id")) } { (s(c, "school_id")) } }
                            td { (s(c, "change")) } td.num { (c.pointer("/schools/gated").and_then(Value::as_i64).unwrap_or_default()) }
                        } } }
                    }
                }
            }
            (csv_link("adoption", "the adoption report"))
        }
    }
}

fn response_section(r: &Value, sla: &Value) -> Markup {
    let months = list(r, "by_month");
    let labels: Vec<String> = months.iter().map(|m| s(m, "key").to_owned()).collect();
    let median = |m: &Value, what: &str| {
        m.get(what).and_then(|v| v.get("p50_business_hours")).and_then(Value::as_f64)
    };
    let p90 = |m: &Value, what: &str| {
        m.get(what).and_then(|v| v.get("p90_business_hours")).and_then(Value::as_f64)
    };
    let series = vec![
        Series {
            name: "First call that reached them (median)".into(),
            values: months.iter().map(|m| median(m, "to_first_reached_call")).collect(),
        },
        Series {
            name: "Decision (median)".into(),
            values: months.iter().map(|m| median(m, "to_resolution")).collect(),
        },
        Series {
            name: "Decision (90th percentile)".into(),
            values: months.iter().map(|m| p90(m, "to_resolution")).collect(),
        },
    ];
    let hours = |key: &str| sla.get(key).and_then(Value::as_f64).map(|m| m / 60.0);
    let mut marks = Vec::new();
    if let Some(h) = hours("first_contact_minutes") {
        marks.push(Mark { value: h, label: format!("first-contact target: {h:.1} h") });
    }
    if let Some(h) = hours("decision_minutes") {
        marks.push(Mark { value: h, label: format!("decision target: {h:.1} h") });
    }
    let all = r.get("all").cloned().unwrap_or_default();
    let summary = format!(
        "{} held purchases, {} still open; median decision {} business hours.",
        n(&all, "held"),
        n(&all, "open"),
        median(&all, "to_resolution").map(|h| format!("{h:.1}")).unwrap_or_else(|| "—".into())
    );
    html! {
        section aria-labelledby="response" {
            h2 #response { "Response times against the targets" }
            p { (summary) " Times are in business hours of the district's calendar." }
            (bars("Business hours from the flag, by month", &summary, &labels, &series, &marks, "h"))
            (csv_link("response-times", "response times"))
            (csv_link("sla", "SLA attainment"))
        }
    }
}

fn rogue_section(r: &Value) -> Markup {
    let months = list(r, "by_month");
    let labels: Vec<String> = months.iter().map(|m| s(m, "month").to_owned()).collect();
    let series = vec![
        Series {
            name: "Technology on cards, never checked".into(),
            values: months.iter().map(|m| Some(f(m, "unchecked_total"))).collect(),
        },
        Series {
            name: "Advisory purchases (asked, not gated)".into(),
            values: months.iter().map(|m| Some(f(m, "advisory_total"))).collect(),
        },
    ];
    let mut schools: Vec<&Value> =
        list(r, "by_school").iter().filter(|g| f(g, "unchecked_total") > 0.0).collect();
    schools.sort_by(|a, b| f(b, "unchecked_total").total_cmp(&f(a, "unchecked_total")));
    let total = list(r, "totals").first().cloned().unwrap_or_default();
    let summary = format!(
        "{} technology card transactions with no check, {} in all.",
        n(&total, "unchecked_transactions"),
        money(s(&total, "unchecked_total"), s(&total, "currency"))
    );
    html! {
        section aria-labelledby="rogue" {
            h2 #rogue { "Rogue spend" }
            p { (summary) }
            (bars("Spend by month", &summary, &labels, &series, &[], "$"))
            @if !schools.is_empty() {
                table {
                    caption { "Unchecked technology card spend by school" }
                    thead { tr { th scope="col" { "School" } th scope="col" .num { "Transactions" } th scope="col" .num { "Amount" } } }
                    tbody { @for g in schools { tr {
                        td { a href={ "/console/schools/" (s(g, "school_id")) } { (s(g, "school_id")) } }
                        td.num { (n(g, "unchecked_transactions")) }
                        td.num { (money(s(g, "unchecked_total"), s(g, "currency"))) }
                    } } }
                }
            }
            (csv_link("rogue-spend", "rogue spend"))
        }
    }
}

fn wishes_section(w: &Value) -> Markup {
    let all = w.get("all").cloned().unwrap_or_default();
    let labels: Vec<String> =
        ["Open", "Headway", "Done", "Declined"].iter().map(|s| (*s).to_owned()).collect();
    let series = vec![Series {
        name: "Wishes".into(),
        values: ["open", "headway", "done", "declined"]
            .iter()
            .map(|k| Some(n(&all, k) as f64))
            .collect(),
    }];
    let summary = format!(
        "{} wishes: {} open, {} with headway, {} done, {} declined.",
        n(&all, "wishes"),
        n(&all, "open"),
        n(&all, "headway"),
        n(&all, "done"),
        n(&all, "declined")
    );
    html! {
        section aria-labelledby="wishes" {
            h2 #wishes { "Wishes, from open to done" }
            p { (summary) }
            (bars("Wishes by where they stand", &summary, &labels, &series, &[], ""))
            (csv_link("wishes", "wishes"))
        }
    }
}

fn promises_section(p: &Value) -> Markup {
    let all = p.get("all").cloned().unwrap_or_default();
    let labels: Vec<String> =
        ["Kept", "Open", "Overdue", "Broken"].iter().map(|s| (*s).to_owned()).collect();
    let series = vec![Series {
        name: "Promises".into(),
        values: ["kept", "open", "overdue", "broken"]
            .iter()
            .map(|k| Some(n(&all, k) as f64))
            .collect(),
    }];
    let share = percent(all.get("kept_share").and_then(Value::as_f64));
    let summary = format!(
        "{} promises made: {} kept, {} open, {} overdue, {} broken{}.",
        n(&all, "made"),
        n(&all, "kept"),
        n(&all, "open"),
        n(&all, "overdue"),
        n(&all, "broken"),
        share.map(|s| format!("; {s}% of the settled ones kept")).unwrap_or_default()
    );
    html! {
        section aria-labelledby="promises" {
            h2 #promises { "Promises" }
            p { (summary) }
            (bars("Promises by where they stand", &summary, &labels, &series, &[], ""))
            (csv_link("promises", "promises"))
        }
    }
}

async fn csv(
    state: web::Data<State>,
    Signed(person): Signed,
    name: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let Some(name) = REPORTS.iter().find(|r| **r == name.as_str()) else {
        return Err(PageError::BadForm(format!("there is no report {name:?}")));
    };
    let (kind, text) = state
        .api
        .get_text(&person.token, Svc::Reporting, &format!("/v1/reports/{name}?format=csv"))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"procgate-{name}.csv\""),
        ))
        .body(text))
}
