//! Reports with charts, for the CTO: the adoption curve with the 60% and 100% marks, response
//! times against the targets, rogue spend by month and school, wishes from open to done, and
//! promises kept, open, overdue and broken; each with its CSV. A school year or a range of
//! dates narrows every report on the page and its CSV.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::Value;

use super::{Viewer, f, list, n, ok, s};
use crate::api::{ApiError, Svc};
use crate::charts::{Mark, Series, bars, lines};
use crate::layout::{PageError, money};

/// The reports the console shows, by their API names.
const REPORTS: [&str; 6] =
    ["adoption", "response-times", "sla", "rogue-spend", "wishes", "promises"];

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(reports)).route("/reports/{name}.csv", web::get().to(csv));
}

/// The period the page shows: a school year (`2025-26`) or a range of dates; every report
/// on the page and its CSV take it as it is (the reporting service checks it).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(super) struct PeriodQuery {
    #[serde(default)]
    school_year: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl PeriodQuery {
    /// The query string to pass on (`school_year=2025-26`, or `from=…&to=…`), from the values
    /// that look like a year or a date (anything else is left out rather than sent on); a
    /// school year chosen wins over dates left in the form.
    fn query(&self) -> String {
        let plain = |v: &str| {
            !v.is_empty() && v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        };
        let fields = if plain(&self.school_year) {
            vec![("school_year", &self.school_year)]
        } else {
            vec![("from", &self.from), ("to", &self.to)]
        };
        fields
            .into_iter()
            .filter(|(_, v)| plain(v))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `path` with the period's query.
    fn on(&self, path: &str) -> String {
        let query = self.query();
        let join = if path.contains('?') { '&' } else { '?' };
        if query.is_empty() { path.to_owned() } else { format!("{path}{join}{query}") }
    }
}

/// The current school year and the two before it, by name, from the district's current one
/// (`2025-26`, or `2026` for a district whose school year starts in January).
fn recent_school_years(current: &str) -> Vec<String> {
    let Some(year) = current.get(..4).and_then(|y| y.parse::<i32>().ok()) else { return vec![] };
    let spans = current.contains('-');
    (0..3)
        .map(|back| {
            let y = year - back;
            if spans { format!("{y}-{:02}", (y + 1) % 100) } else { y.to_string() }
        })
        .collect()
}

async fn reports(
    person: Viewer,
    period: web::Query<PeriodQuery>,
) -> Result<HttpResponse, PageError> {
    let mut p = period.into_inner();
    // A date that is not one is left out, and said; a range that ends before it starts is
    // read the other way round, rather than refused.
    let mut not_dates = Vec::new();
    for field in [&mut p.from, &mut p.to] {
        if !field.is_empty() && field.parse::<chrono::NaiveDate>().is_err() {
            not_dates.push(std::mem::take(field));
        }
    }
    if !p.from.is_empty() && !p.to.is_empty() && p.to < p.from {
        std::mem::swap(&mut p.from, &mut p.to);
    }
    let [adoption, times, rogue, wishes, promises] =
        ["adoption", "response-times", "rogue-spend", "wishes", "promises"]
            .map(|name| p.on(&format!("/v1/reports/{name}")));
    let (adoption, times, rogue, wishes, promises, sla, district) = tokio::join!(
        person.get(Svc::Reporting, &adoption),
        person.get(Svc::Reporting, &times),
        person.get(Svc::Reporting, &rogue),
        person.get(Svc::Reporting, &wishes),
        person.get(Svc::Reporting, &promises),
        person.get(Svc::Gate, "/v1/sla"),
        person.get(Svc::Gate, "/v1/district"),
    );
    // Without targets (`404 sla-not-set` until they are set) the chart has no marks.
    let sla = match sla {
        Err(ApiError::Refused(problem)) if problem.slug() == "sla-not-set" => Value::Null,
        sla => sla?,
    };
    let mut years = recent_school_years(s(&district?, "school_year"));
    if !p.school_year.is_empty() && !years.contains(&p.school_year) {
        years.push(p.school_year.clone());
    }
    let body = html! {
        @if !not_dates.is_empty() {
            div.problem role="alert" { "Not a date, left out: " (not_dates.join(", ")) }
        }
        form.filters method="get" action="/console/reports" {
            label for="school_year" { "School year" }
            select #school_year name="school_year" {
                option value="" selected[p.school_year.is_empty()] { "All time" }
                @for y in &years { option value=(y) selected[p.school_year == *y] { (y) } }
            }
            label for="from" { "or from" }
            input #from type="date" name="from" value=(p.from);
            label for="to" { "to" }
            input #to type="date" name="to" value=(p.to);
            button type="submit" { "Show" }
        }
        p.muted { "Each chart's figures are in the table below it, and each report downloads as CSV." }
        (adoption_section(&adoption?, &p))
        (response_section(&times?, &sla, &p))
        (rogue_section(&rogue?, &p))
        div.grid2 {
            (wishes_section(&wishes?, &p))
            (promises_section(&promises?, &p))
        }
    };
    Ok(ok(&person, "/console/reports", "Reports", body))
}

fn csv_link(name: &str, what: &str, period: &PeriodQuery) -> Markup {
    let href = period.on(&format!("/console/reports/{name}.csv"));
    // Not boosted: htmx would fetch the file into the page instead of saving it.
    html! { p { a href=(href) download hx-boost="false" { "Download " (what) " as CSV" } } }
}

fn percent(share: Option<f64>) -> Option<f64> {
    share.map(|v| (v * 1000.0).round() / 10.0)
}

fn adoption_section(a: &Value, period: &PeriodQuery) -> Markup {
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
                            td { (s(c, "on")) } td { a href={ "/console/schools/" (s(c, "school_id")) } { (school_name(c)) } }
                            td { (s(c, "change")) } td.num { (c.pointer("/schools/gated").and_then(Value::as_i64).unwrap_or_default()) }
                        } } }
                    }
                }
            }
            @let signings = list(a, "signings");
            @if !signings.is_empty() {
                details.data {
                    summary { "Signings and the advocates whose word came first (" (n(a.get("advocacy").unwrap_or(&Value::Null), "after_advocacy")) " of " (signings.len()) ")" }
                    table {
                        thead { tr { th scope="col" { "Signed" } th scope="col" { "School" } th scope="col" { "Principal" } th scope="col" { "Advocates (first word)" } } }
                        tbody { @for g in signings { tr {
                            td { (s(g, "signed_on")) }
                            td { a href={ "/console/schools/" (s(g, "school_id")) } { (school_name(g)) } }
                            td { (g.pointer("/principal/name").and_then(Value::as_str).unwrap_or("")) }
                            td { @for (i, w) in list(g, "advocates").iter().enumerate() {
                                @if i > 0 { ", " }
                                (w.pointer("/advocate/name").and_then(Value::as_str).unwrap_or("")) " (" (s(w, "on")) ")"
                            } }
                        } } }
                    }
                }
            }
            (csv_link("adoption", "the adoption report", period))
        }
    }
}

/// The school's name beside its id in a report row, or the id when it has none.
fn school_name(row: &Value) -> &str {
    row.get("school_name").and_then(Value::as_str).unwrap_or_else(|| s(row, "school_id"))
}

fn response_section(r: &Value, sla: &Value, period: &PeriodQuery) -> Markup {
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
            (csv_link("response-times", "response times", period))
            (csv_link("sla", "SLA attainment", period))
        }
    }
}

fn rogue_section(r: &Value, period: &PeriodQuery) -> Markup {
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
                        td { a href={ "/console/schools/" (s(g, "school_id")) } { (school_name(g)) } }
                        td.num { (n(g, "unchecked_transactions")) }
                        td.num { (money(s(g, "unchecked_total"), s(g, "currency"))) }
                    } } }
                }
            }
            (csv_link("rogue-spend", "rogue spend", period))
        }
    }
}

/// A report whose things are counted by where they stand, shown as one bar per state.
struct Standing<'a> {
    /// The report's name: the section's anchor and its CSV's name.
    report: &'static str,
    heading: &'static str,
    /// What is counted (`Wishes`): the series' name and the chart's subject.
    things: &'static str,
    /// Each state's label and the key of its count in `all`.
    states: [(&'static str, &'static str); 4],
    /// The report's counts for the whole period.
    all: &'a Value,
}

impl Standing<'_> {
    fn section(&self, summary: &str, period: &PeriodQuery) -> Markup {
        let labels: Vec<String> =
            self.states.iter().map(|(label, _)| (*label).to_owned()).collect();
        let values = self.states.iter().map(|(_, key)| Some(n(self.all, key) as f64)).collect();
        let series = vec![Series { name: self.things.into(), values }];
        let title = format!("{} by where they stand", self.things);
        html! {
            section aria-labelledby=(self.report) {
                h2 id=(self.report) { (self.heading) }
                p { (summary) }
                (bars(&title, summary, &labels, &series, &[], ""))
                (csv_link(self.report, self.report, period))
            }
        }
    }
}

fn wishes_section(w: &Value, period: &PeriodQuery) -> Markup {
    let all = w.get("all").cloned().unwrap_or_default();
    let summary = format!(
        "{} wishes: {} open, {} with headway, {} done, {} declined.",
        n(&all, "wishes"),
        n(&all, "open"),
        n(&all, "headway"),
        n(&all, "done"),
        n(&all, "declined")
    );
    let wishes = Standing {
        report: "wishes",
        heading: "Wishes, from open to done",
        things: "Wishes",
        states: [
            ("Open", "open"),
            ("Headway", "headway"),
            ("Done", "done"),
            ("Declined", "declined"),
        ],
        all: &all,
    };
    wishes.section(&summary, period)
}

fn promises_section(p: &Value, period: &PeriodQuery) -> Markup {
    let all = p.get("all").cloned().unwrap_or_default();
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
    let promises = Standing {
        report: "promises",
        heading: "Promises",
        things: "Promises",
        states: [("Kept", "kept"), ("Open", "open"), ("Overdue", "overdue"), ("Broken", "broken")],
        all: &all,
    };
    promises.section(&summary, period)
}

async fn csv(
    person: Viewer,
    name: web::Path<String>,
    period: web::Query<PeriodQuery>,
) -> Result<HttpResponse, PageError> {
    let Some(name) = REPORTS.iter().find(|r| **r == name.as_str()) else {
        return Err(PageError::BadForm(format!("there is no report {name:?}")));
    };
    let (kind, text) = person
        .api()
        .get_text(
            &person.token,
            Svc::Reporting,
            &period.on(&format!("/v1/reports/{name}?format=csv")),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(kind)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"procgate-{name}.csv\""),
        ))
        .body(text))
}
