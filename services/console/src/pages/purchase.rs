//! A purchase: what was asked, why the gate decided as it did, in plain words; the clock; the
//! calls and alternatives; the timeline; and the forms IT acts with. A refused action is shown
//! where it was tried, with the rule that refused it (call before cancel, above all).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{Done, Submitted, Viewer, html as page_with, list, n, opt, s, uuid_of};
use crate::api::{ApiError, Problem, Svc};
use crate::layout::{
    PageError, business_minutes, csrf, money, notice, once, problem_box, reason_words, sla_badge,
    status_badge, when, when_opt,
};
use crate::session::{Fields, Person};
use crate::sign_in::see_other;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/purchases/{id}", web::get().to(show))
        .route("/purchases/{id}/calls", web::post().to(log_call))
        .route("/purchases/{id}/alternatives/{alt}/accept", web::post().to(accept))
        .route("/purchases/{id}/{action}", web::post().to(simple));
}

/// Which form a refusal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Call,
    Alternative,
    Accept,
    Approve,
    Cancel,
    Wait,
}

fn id_of(id: &str) -> Result<uuid::Uuid, PageError> {
    uuid_of(id, "purchase id")
}

async fn show(
    person: Viewer,
    id: web::Path<String>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let id = id_of(&id)?;
    let purchase = person.get(Svc::Gate, &format!("/v1/purchases/{id}")).await?;
    let done = q.done.as_deref().map(|d| match d {
        "call" => "The call is logged.",
        "alternative" => "The alternative is proposed.",
        "accept" => "The alternative is accepted: the purchase is approved as amended.",
        "approve" => "The purchase is approved.",
        "cancel" => "The purchase is cancelled.",
        "waiting" => "Waiting on the requester: the decision clock is paused until they answer.",
        _ => "Done.",
    });
    let body = view(&person, &purchase, done, None);
    Ok(page_with(StatusCode::OK, &person, "/console/queue", &title(&purchase), body))
}

fn title(p: &Value) -> String {
    format!("{} · {}", s(p, "vendor"), s(p, "external_ref"))
}

/// Sends a form's effect to the API, then shows the purchase: with a notice when it was done,
/// with the problem beside the form when it was refused.
async fn act(
    posted: &Submitted,
    id: uuid::Uuid,
    path: &str,
    body: Value,
    form: Form,
    done: &str,
) -> Result<HttpResponse, PageError> {
    let person = &posted.person;
    match posted.post(Svc::Gate, path, &body).await {
        Ok(_) => Ok(see_other(&format!("/console/purchases/{id}?done={done}"))),
        Err(ApiError::Refused(problem)) if problem.status != 401 => {
            let purchase = posted.get(Svc::Gate, &format!("/v1/purchases/{id}")).await?;
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            let refused = Refused { form, problem: &problem, fields: &posted.fields };
            let body = view(person, &purchase, None, Some(refused));
            Ok(page_with(status, person, "/console/queue", &title(&purchase), body))
        }
        // A 401 too: the middleware ends the session ([`crate::session::end_refused_sessions`]).
        Err(e) => Err(e.into()),
    }
}

/// An instant the person typed in the district's local time, as RFC 3339.
fn instant(local: Option<&str>, time_zone: &str) -> Result<Option<String>, PageError> {
    let Some(local) = local else { return Ok(None) };
    let civil: jiff::civil::DateTime = local
        .parse()
        .map_err(|_| PageError::BadForm(format!("{local:?} is not a date and time")))?;
    let zoned = civil
        .in_tz(time_zone)
        .map_err(|e| PageError::BadForm(format!("{local:?} in {time_zone}: {e}")))?;
    Ok(Some(zoned.timestamp().to_string()))
}

async fn log_call(posted: Submitted, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    let id = id_of(&id)?;
    let f = &posted.fields;
    let district = posted.get(Svc::Gate, "/v1/district").await?;
    let occurred_at = instant(f.get("occurred_at"), s(&district, "time_zone"))?;
    let spoke_with = match (f.get("name"), f.get("phone"), f.get("email")) {
        (None, None, None) => Value::Null,
        (name, phone, email) => json!({ "name": name, "phone": phone, "email": email }),
    };
    let body = json!({
        "requester_reached": f.checked("requester_reached"),
        "goal": f.get("goal"),
        "notes": f.get("notes"),
        "occurred_at": occurred_at,
        "spoke_with": spoke_with,
    });
    let path = format!("/v1/purchases/{id}/calls");
    act(&posted, id, &path, body, Form::Call, "call").await
}

/// The forms whose body is one or two of their fields: which form, the API's action, the
/// notice's key, and the JSON body built from the fields.
fn simple_action(action: &str, f: &Fields) -> Option<(Form, &'static str, Value)> {
    let text = |name: &str| f.get(name).unwrap_or_default().to_owned();
    Some(match action {
        "alternatives" => (
            Form::Alternative,
            "alternative",
            json!({ "description": text("description"), "call_id": f.get("call_id") }),
        ),
        "approve" => (Form::Approve, "approve", json!({ "note": f.get("note") })),
        "cancel" => (Form::Cancel, "cancel", json!({ "reason": text("reason") })),
        "waiting" => (Form::Wait, "waiting", json!({ "note": text("note") })),
        _ => return None,
    })
}

/// `POST /console/purchases/{id}/{action}`: propose an alternative, approve, cancel, wait.
async fn simple(
    posted: Submitted,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let id = id_of(&id)?;
    let Some((form, done, body)) = simple_action(&action, &posted.fields) else {
        return Err(PageError::BadForm(format!("there is no action {action:?}")));
    };
    let path = format!("/v1/purchases/{id}/{action}");
    act(&posted, id, &path, body, form, done).await
}

async fn accept(
    posted: Submitted,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (id, alt) = path.into_inner();
    let id = id_of(&id)?;
    let alt = id_of(&alt)?;
    let path = format!("/v1/purchases/{id}/alternatives/{alt}/accept");
    act(&posted, id, &path, json!({}), Form::Accept, "accept").await
}

/// The promise the principals signed for, said where a cancel is refused.
fn call_before_cancel() -> Markup {
    html! {
        p {
            "Call before cancel: the purchasing agreement promises every principal that IT "
            "calls them before cancelling what they asked for. A purchase can be cancelled "
            "only after a call that " strong { "reached the requester" } " was logged after "
            "the purchase was flagged, with " strong { "what they are trying to accomplish" }
            ", and an " strong { "alternative was proposed" } " after the flag."
        }
        p { "Log the call and propose an alternative on this page, then cancel." }
    }
}

/// A form the API refused: which, why, and what the person had typed in it (shown again, so
/// that nothing is typed twice).
#[derive(Clone, Copy)]
struct Refused<'a> {
    form: Form,
    problem: &'a Problem,
    fields: &'a Fields,
}

/// What the person typed in field `name` of `form`, when that form was refused; else nothing.
fn typed<'a>(refused: Option<Refused<'a>>, form: Form, name: &str) -> &'a str {
    match refused {
        Some(r) if r.form == form => r.fields.get(name).unwrap_or_default(),
        _ => "",
    }
}

fn refusal(form: Form, refused: Option<Refused<'_>>) -> Markup {
    match refused {
        Some(Refused { form: at, problem, .. }) if at == form => {
            let explain = (problem.slug() == "call-required").then(call_before_cancel);
            problem_box(problem, explain)
        }
        _ => html! {},
    }
}

fn view(person: &Person, p: &Value, done: Option<&str>, refused: Option<Refused<'_>>) -> Markup {
    let id = s(p, "purchase_id");
    let status = s(p, "status");
    let open = matches!(status, "held" | "advisory");
    let acts = open && person.works_queue();
    // Only a held purchase is approved, cancelled or amended: an advisory one went ahead.
    let held = status == "held";
    let lines = list(p, "lines");
    let currency = s(p, "currency");
    html! {
        @if let Some(done) = done { (notice(done)) }
        div.grid2 {
            section.card aria-labelledby="facts" {
                h2 #facts { "The purchase" }
                dl.facts {
                    dt { "Status" } dd { (status_badge(status)) }
                    dt { "School" } dd { a href={ "/console/schools/" (s(p, "school_id")) } { (s(p, "school_id")) } }
                    dt { "Requester" } dd { (s(p, "requester_email")) }
                    dt { "Vendor" } dd { (s(p, "vendor")) }
                    dt { "Payment" } dd { (s(p, "payment_method").replace('_', " ")) }
                    dt { "Total" } dd { (money(s(p, "total"), currency)) }
                    dt { "Submitted" } dd { (when(s(p, "submitted_at"))) " by " (s(p, "submitted_by")) }
                    dt { "Flagged" } dd { (when_opt(opt(p, "flagged_at"))) }
                    @if let Some(purpose) = opt(p, "purpose") { dt { "Purpose" } dd { (purpose) } }
                }
            }
            (clock(p))
        }
        section.card aria-labelledby="why" {
            h2 #why { "Why the gate decided " (s(p, "decision")) }
            ul {
                @for r in list(p, "reasons") {
                    li {
                        (reason_words(s(r, "code")))
                        @if let Some(line) = r.get("line").and_then(Value::as_i64) {
                            " (line " (line + 1) ")"
                        }
                        @if !s(r, "detail").is_empty() { br; span.muted { (s(r, "detail")) } }
                    }
                }
            }
            table {
                caption { "Lines" }
                thead { tr {
                    th scope="col" { "#" } th scope="col" { "Description" } th scope="col" { "Category" }
                    th scope="col" .hide-narrow { "SKU" } th scope="col" .num { "Qty" } th scope="col" .num { "Unit price" }
                } }
                tbody {
                    @for (i, line) in lines.iter().enumerate() {
                        tr {
                            td { (i + 1) } td { (s(line, "description")) } td { (s(line, "category")) }
                            td.hide-narrow { (opt(line, "sku").unwrap_or("—")) }
                            td.num { (n(line, "quantity")) }
                            td.num { (money(s(line, "unit_price"), currency)) }
                        }
                    }
                }
            }
        }
        div.grid2 {
            section.card aria-labelledby="calls" {
                h2 #calls { "Calls" }
                @if list(p, "calls").is_empty() { p.none { "No call logged yet." } }
                ul {
                    @for c in list(p, "calls") {
                        li {
                            (when(s(c, "occurred_at"))) ": "
                            @if c.get("requester_reached").and_then(Value::as_bool) == Some(true) { strong { "reached the requester" } } @else { "did not reach the requester" }
                            @if let Some(who) = c.get("spoke_with").filter(|v| !v.is_null()) {
                                " (spoke with " (opt(who, "name").or(opt(who, "email")).or(opt(who, "stakeholder_id")).unwrap_or("someone")) ")"
                            }
                            @if let Some(goal) = opt(c, "goal") { br; "Goal: " (goal) }
                            @if let Some(notes) = opt(c, "notes") { br; span.muted { (notes) } }
                        }
                    }
                }
            }
            section.card aria-labelledby="alternatives" {
                h2 #alternatives { "Alternatives" }
                @if list(p, "alternatives").is_empty() { p.none { "No alternative proposed yet." } }
                (refusal(Form::Accept, refused))
                ul {
                    @for a in list(p, "alternatives") {
                        li {
                            (s(a, "description")) " "
                            span.muted { "(proposed " (when(s(a, "proposed_at"))) ")" }
                            @if a.get("accepted").and_then(Value::as_bool) == Some(true) {
                                " " span.badge.ok { "Accepted" }
                            } @else if acts && held {
                                form method="post" action={ "/console/purchases/" (id) "/alternatives/" (s(a, "alternative_id")) "/accept" } {
                                    (csrf(person)) (once())
                                    button.secondary type="submit" { "The requester accepted this" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if acts { (forms(person, p, refused)) }
        section.card aria-labelledby="timeline" {
            h2 #timeline { "Timeline" }
            ol.timeline {
                @for e in list(p, "timeline") {
                    li { (when(s(e, "at"))) " · " strong { (s(e, "type").replace('-', " ")) } " · " (s(e, "actor")) span.muted { " (" (s(e, "actor_role")) ")" } }
                }
            }
            @if person.audits() {
                p { a href={ "/console/audit/purchases/" (id) } { "Replay this purchase from the log" } }
            }
        }
    }
}

fn clock(p: &Value) -> Markup {
    let Some(sla) = p.get("sla").filter(|v| !v.is_null()) else {
        return html! {
            section.card aria-labelledby="clock" { h2 #clock { "Clock" } p.none { "No clock runs on this purchase." } }
        };
    };
    html! {
        section.card aria-labelledby="clock" {
            h2 #clock { "Clock" }
            p {
                (sla_badge(s(sla, "state")))
                @if sla.get("paused").and_then(Value::as_bool) == Some(true) { " " span.badge.info { "Paused: waiting on the requester" } }
                @if let Some(left) = sla.get("business_minutes_left").and_then(Value::as_i64) { " " (business_minutes(left)) " (business time)" }
            }
            table {
                caption { "Targets in business time" }
                thead { tr { th scope="col" { "Clock" } th scope="col" { "State" } th scope="col" { "Due" } } }
                tbody {
                    @for c in list(sla, "clocks") {
                        tr {
                            td { (s(c, "clock").replace('_', " ")) }
                            td { (sla_badge(s(c, "state"))) }
                            td { (when_opt(opt(c, "due_at"))) }
                        }
                    }
                }
            }
        }
    }
}

/// One action's card: its heading (`anchor`, `title`), the refusal this form last met, what
/// goes `before` the form, and the form posting `fields` to the purchase's `path` with the
/// session's CSRF token and a fresh idempotency key.
struct Card<'a> {
    form: Form,
    anchor: &'a str,
    title: &'a str,
    path: &'a str,
}

impl Card<'_> {
    fn render(
        &self,
        person: &Person,
        id: &str,
        refused: Option<Refused<'_>>,
        before: Markup,
        fields: Markup,
    ) -> Markup {
        html! {
            section.card aria-labelledby=(self.anchor) {
                h3 id=(self.anchor) { (self.title) }
                (refusal(self.form, refused))
                (before)
                form method="post" action={ "/console/purchases/" (id) (self.path) } {
                    (csrf(person)) (once())
                    (fields)
                }
            }
        }
    }
}

fn forms(person: &Person, p: &Value, refused: Option<Refused<'_>>) -> Markup {
    let id = s(p, "purchase_id");
    let calls = list(p, "calls");
    let cancellable = p.get("cancellable").and_then(Value::as_bool).unwrap_or(false);
    let card = |form, (anchor, title), path, before, fields| {
        Card { form, anchor, title, path }.render(person, id, refused, before, fields)
    };
    let call = |name| typed(refused, Form::Call, name);
    html! {
        h2 { "Act on it" }
        div.forms {
            (card(Form::Call, ("log-call", "Log a call"), "/calls", html! {}, html! {
                div.field.check {
                    input #c-reached type="checkbox" name="requester_reached" value="true" checked[!call("requester_reached").is_empty()];
                    " " label for="c-reached" { "I reached the requester (" (s(p, "requester_email")) ")" }
                }
                div.field {
                    label for="c-goal" { "What are they trying to accomplish?" }
                    textarea #c-goal name="goal" { (call("goal")) }
                    p.hint { "Needed when you reached them: cancelling depends on it." }
                }
                div.field {
                    label for="c-name" { "Whom you spoke with (when not a registered person)" }
                    input #c-name type="text" name="name" autocomplete="off" value=(call("name"));
                }
                div.field {
                    label for="c-phone" { "Their phone" }
                    input #c-phone type="tel" name="phone" autocomplete="off" value=(call("phone"));
                }
                div.field {
                    label for="c-email" { "Their email" }
                    input #c-email type="email" name="email" autocomplete="off" value=(call("email"));
                }
                div.field {
                    label for="c-when" { "When (district time; empty for now)" }
                    input #c-when type="datetime-local" name="occurred_at" value=(call("occurred_at"));
                }
                div.field {
                    label for="c-notes" { "Notes" }
                    textarea #c-notes name="notes" { (call("notes")) }
                }
                button type="submit" { "Log the call" }
            }))
            (card(Form::Alternative, ("propose", "Propose an alternative"), "/alternatives", html! {}, html! {
                div.field {
                    label for="a-description" { "The alternative" }
                    textarea #a-description name="description" required { (typed(refused, Form::Alternative, "description")) }
                }
                @if !calls.is_empty() {
                    div.field {
                        label for="a-call" { "Discussed in the call of" }
                        select #a-call name="call_id" {
                            option value="" { "No call" }
                            @for c in calls { option value=(s(c, "call_id")) { (s(c, "occurred_at")) } }
                        }
                    }
                }
                button type="submit" { "Propose it" }
            }))
            // Waiting, approving and cancelling are for a held purchase: an advisory one went
            // ahead, IT told.
            @if s(p, "status") == "held" {
                (card(Form::Wait, ("wait", "Waiting on the requester"), "/waiting", html! {}, html! {
                    div.field {
                        label for="w-note" { "What they will come back with" }
                        textarea #w-note name="note" required { (typed(refused, Form::Wait, "note")) }
                        p.hint { "The decision clock pauses until a call reaches them." }
                    }
                    button.secondary type="submit" { "Wait on them" }
                }))
                (card(Form::Approve, ("approve", "Approve as submitted"), "/approve", html! {}, html! {
                    div.field {
                        label for="ap-note" { "Note" }
                        textarea #ap-note name="note" { (typed(refused, Form::Approve, "note")) }
                    }
                    button type="submit" { "Approve" }
                }))
                (card(Form::Cancel, ("cancel", "Cancel"), "/cancel", html! {
                    @if !cancellable && refused.is_none_or(|r| r.form != Form::Cancel) {
                        p.hint { "Call before cancel: a call that reached the requester, with their goal, and an alternative proposed after the flag come first." }
                    }
                }, html! {
                    div.field {
                        label for="x-reason" { "Why it is cancelled" }
                        textarea #x-reason name="reason" required { (typed(refused, Form::Cancel, "reason")) }
                    }
                    button.danger type="submit" { "Cancel the purchase" }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_read_in_the_districts_zone() {
        let at = instant(Some("2026-11-30T09:15"), "America/Chicago").unwrap().unwrap();
        assert_eq!(at, "2026-11-30T15:15:00Z");
        assert_eq!(instant(None, "UTC").unwrap(), None);
        assert!(instant(Some("yesterday"), "UTC").is_err());
    }

    #[test]
    fn a_refused_form_comes_back_as_it_was_typed() {
        let person =
            Person::new("tech@district.org".into(), vec!["it_staff".into()], "t".into(), 0);
        let purchase = serde_json::json!({
            "purchase_id": "0190f5a0-0000-7000-8000-000000000001",
            "status": "held",
        });
        let typed: Fields = [
            ("requester_reached", "true"),
            ("goal", "A reading lab <for> every pupil"),
            ("name", "Pat Requester"),
            ("notes", "Call back Friday"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let problem = Problem {
            status: 422,
            kind: "https://procgate.dev/problems/reached-person-required".into(),
            title: "Say whom IT spoke with".into(),
            ..Problem::default()
        };
        let refused = Refused { form: Form::Call, problem: &problem, fields: &typed };
        let page = view(&person, &purchase, None, Some(refused)).into_string();
        assert!(page.contains("A reading lab &lt;for&gt; every pupil</textarea>"), "{page}");
        assert!(page.contains("value=\"Pat Requester\""), "{page}");
        assert!(page.contains("Call back Friday</textarea>"), "{page}");
        assert!(page.contains("name=\"requester_reached\" value=\"true\" checked"), "{page}");
        assert!(page.contains("Say whom IT spoke with"), "the refusal is shown");
        // The other forms are as new.
        assert!(page.contains("name=\"reason\" required></textarea>"), "{page}");
        let fresh = view(&person, &purchase, None, None).into_string();
        assert!(!fresh.contains("Pat Requester") && !fresh.contains(" checked"), "{fresh}");
    }

    /// The page of a purchase in `status`, as IT staff see it.
    fn page_of(status: &str) -> String {
        let person =
            Person::new("tech@district.org".into(), vec!["it_staff".into()], "t".into(), 0);
        let alternative = serde_json::json!({
            "alternative_id": "0190f5a0-0000-7000-8000-000000000002",
            "description": "The supported tablet",
            "proposed_at": "2026-11-30T15:00:00Z",
            "accepted": false,
        });
        let purchase = serde_json::json!({
            "purchase_id": "0190f5a0-0000-7000-8000-000000000001",
            "status": status,
            "alternatives": [alternative],
        });
        view(&person, &purchase, None, None).into_string()
    }

    #[test]
    fn only_a_held_purchase_offers_approve_cancel_and_accept() {
        let held = page_of("held");
        for action in ["/approve\"", "/cancel\"", "/accept\"", "/waiting\"", "/calls\""] {
            assert!(held.contains(action), "a held purchase offers {action}");
        }
        // An advisory purchase went ahead, IT told: the gate refuses these on it.
        let advisory = page_of("advisory");
        for action in ["/approve\"", "/cancel\"", "/accept\"", "/waiting\""] {
            assert!(!advisory.contains(action), "an advisory purchase offers {action}");
        }
        for action in ["/calls\"", "/alternatives\""] {
            assert!(advisory.contains(action), "an advisory purchase offers {action}");
        }
        assert!(!advisory.contains("Call before cancel"));
    }
}
