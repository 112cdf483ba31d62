//! Outreach: advisory purchases (schools that have not signed: they go ahead, IT reaches out)
//! and technology bought on cards without a check, which already happened and calls for a
//! conversation, not a cancellation.

use actix_web::{HttpResponse, web};
use maud::html;
use serde_json::{Value, json};

use super::{Done, Submitted, Viewer, list, ok, opt, s, uuid_of};
use crate::api::Svc;
use crate::layout::{PageError, csrf, money, notice, once, sla_badge, when, when_opt};
use crate::sign_in::see_other;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/outreach", web::get().to(outreach))
        .route("/outreach/cards/{id}", web::post().to(log_card_outreach));
}

async fn outreach(person: Viewer, q: web::Query<Done>) -> Result<HttpResponse, PageError> {
    let (advisory, cards) = tokio::join!(
        person.get(Svc::Gate, "/v1/purchases?status=advisory&sort=due&limit=500"),
        person.get(Svc::Gate, "/v1/outreach"),
    );
    let advisory = advisory?;
    let cards = cards?;
    let purchases = list(&advisory, "purchases");
    let items = list(&cards, "items");
    let body = html! {
        @if q.done.is_some() { (notice("The outreach is logged.")) }
        section aria-labelledby="advisory" {
            h2 #advisory { "Advisory purchases" }
            p.muted { "Schools that have not signed the purchasing agreement: the purchase goes ahead, and IT reaches out." }
            @if purchases.is_empty() {
                p.card { "No advisory purchase is waiting for outreach." }
            } @else {
                table {
                    caption { (purchases.len()) " advisory purchases, soonest outreach due first" }
                    thead { tr {
                        th scope="col" { "Purchase" } th scope="col" { "School" } th scope="col" .hide-narrow { "Requester" }
                        th scope="col" .num { "Amount" } th scope="col" { "Outreach clock" } th scope="col" { "Submitted" }
                    } }
                    tbody {
                        @for p in purchases {
                            tr data-row {
                                td { a href={ "/console/purchases/" (s(p, "purchase_id")) } { (s(p, "vendor")) } br; span.muted { (s(p, "external_ref")) } }
                                td { (opt(p, "school_name").unwrap_or(s(p, "school_id"))) }
                                td.hide-narrow { (s(p, "requester_email")) }
                                td.num { (money(s(p, "total"), s(p, "currency"))) }
                                td { @match p.get("sla").filter(|v| !v.is_null()) {
                                    Some(sla) => { (sla_badge(s(sla, "state"))) " " (when_opt(opt(sla, "next_due_at"))) }
                                    None => { span.none { "—" } }
                                } }
                                td { (when(s(p, "submitted_at"))) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="cards" {
            h2 #cards { "Technology bought on cards without a check" }
            p.muted { "From the card statements: technology no purchase check covered. It already happened; reach out to the card holder." }
            @if items.is_empty() {
                p.card { "No unchecked card spend is waiting for outreach." }
            } @else {
                table {
                    caption { (items.len()) " card transactions awaiting outreach" }
                    thead { tr {
                        th scope="col" { "Merchant" } th scope="col" { "School" } th scope="col" { "Card holder" }
                        th scope="col" .num { "Amount" } th scope="col" { "Date" } th scope="col" { "Outreach" }
                    } }
                    tbody {
                        @for t in items { (card_row(&person, t)) }
                    }
                }
            }
        }
    };
    Ok(ok(&person, "/console/outreach", "Outreach", body))
}

fn card_row(person: &crate::session::Person, t: &Value) -> maud::Markup {
    let id = s(t, "transaction_id");
    html! {
        tr data-row {
            td { (s(t, "merchant")) br; span.muted { "MCC " (s(t, "mcc")) " · card ending " (s(t, "card_last4")) } }
            td { (opt(t, "school_name").unwrap_or(s(t, "school_id"))) }
            td { (s(t, "holder_email")) }
            td.num { (money(s(t, "amount"), s(t, "currency"))) }
            td { (s(t, "transaction_date")) }
            td {
                @if person.works_queue() {
                    form method="post" action={ "/console/outreach/cards/" (id) } {
                        (csrf(person)) (once())
                        div.check {
                            input id={ "r-" (id) } type="checkbox" name="holder_reached" value="true";
                            " " label for={ "r-" (id) } { "Reached the holder" }
                        }
                        label for={ "o-" (id) } { "What they needed, what IT offered" }
                        input id={ "o-" (id) } type="text" name="notes";
                        " "
                        button.secondary type="submit" { "Log outreach" }
                    }
                } @else {
                    (t.get("attempts").and_then(Value::as_i64).unwrap_or_default()) " attempts"
                }
            }
        }
    }
}

async fn log_card_outreach(
    posted: Submitted,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = uuid_of(&id, "transaction id")?;
    let f = &posted.fields;
    let body = json!({ "holder_reached": f.checked("holder_reached"), "notes": f.get("notes") });
    let path = format!("/v1/card-transactions/{id}/outreach");
    posted.post(Svc::Gate, &path, &body).await?;
    Ok(see_other("/console/outreach?done=1"))
}
