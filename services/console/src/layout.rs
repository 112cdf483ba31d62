//! The page shell, errors as pages, security headers, and the small formatters every page uses.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::api::{ApiError, Problem};
use crate::session::Person;

/// htmx's settings: no inline styles (the CSP forbids them), no `eval`, and error pages are
/// swapped in like any other (a refused cancel is a page that explains it, not silence).
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"historyCacheSize":0,"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true}]}"#;

/// The sections of the console, in the order of the navigation.
const SECTIONS: [(&str, &str); 7] = [
    ("/console/queue", "Held queue"),
    ("/console/outreach", "Outreach"),
    ("/console/due", "Due"),
    ("/console/schools", "Schools"),
    ("/console/reports", "Reports"),
    ("/console/audit", "Audit"),
    ("/console/notifications", "Notifications"),
];

/// A whole page: navigation for `person` (none on the sign-in pages), `title` as its heading.
pub fn page(person: Option<&Person>, current: &str, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · procgate" }
                link rel="stylesheet" href="/console/assets/console.css";
                link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml";
                meta name="htmx-config" content=(HTMX_CONFIG);
                script src="/console/assets/htmx.min.js" defer {}
                script src="/console/assets/console.js" defer {}
            }
            body hx-boost="true" {
                a.skip href="#main" { "Skip to the content" }
                header.top {
                    a.brand href="/console/queue" { "procgate" }
                    @if let Some(person) = person {
                        nav aria-label="Sections" {
                            ul {
                                @for (href, name) in SECTIONS {
                                    li {
                                        @if current == href {
                                            a href=(href) aria-current="page" { (name) }
                                        } @else {
                                            a href=(href) { (name) }
                                        }
                                    }
                                }
                            }
                        }
                        form.sign-out method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(person.csrf);
                            span.who { (person.subject) " · " (person.roles.join(", ")) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A hidden CSRF field, in every form.
pub fn csrf(person: &Person) -> Markup {
    html! { input type="hidden" name="csrf" value=(person.csrf); }
}

/// A hidden idempotency key: the API writes a form's effect once, however often it is sent.
pub fn once() -> Markup {
    html! { input type="hidden" name="idempotency_key" value=(crate::session::random_token()); }
}

/// A refusal from the API, explained where the person acted.
pub fn problem_box(problem: &Problem, explanation: Option<Markup>) -> Markup {
    html! {
        div.problem role="alert" {
            p { strong { (problem.title) } }
            @if !problem.detail.is_empty() { p { (problem.detail) } }
            @if let Some(explanation) = explanation { (explanation) }
            @if !problem.errors.is_empty() {
                ul { @for e in &problem.errors { li { code { (e.field) } ": " (e.message) } } }
            }
        }
    }
}

/// A line of confirmation after a form did what it said.
pub fn notice(text: &str) -> Markup {
    html! { div.notice role="status" { (text) } }
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Nobody is signed in (or the session expired): sign in, then come back to `next`.
    #[error("sign in first")]
    SignedOut {
        /// Where to come back to.
        next: String,
        /// Whether a session existed and ran out.
        expired: bool,
    },
    /// A form without the session's CSRF token.
    #[error("the form was not sent from this console")]
    Csrf,
    /// A form that could not be read.
    #[error("the form could not be read: {0}")]
    BadForm(String),
    /// The API refused, or did not answer.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The identity provider's answer could not sign the person in.
    #[error("the sign-in failed: {0}")]
    SignInRefused(String),
    /// Something the console itself could not do.
    #[error("{0}")]
    Internal(String),
}

impl PageError {
    pub(crate) fn internal(what: impl Into<String>) -> Self {
        Self::Internal(what.into())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignedOut { .. } => StatusCode::SEE_OTHER,
            PageError::Csrf | PageError::SignInRefused(_) => StatusCode::FORBIDDEN,
            PageError::BadForm(_) => StatusCode::BAD_REQUEST,
            PageError::Api(ApiError::Refused(p)) => {
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            PageError::Api(ApiError::Unreachable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::SignedOut { next, expired } = self {
            let mut to = format!("/console/sign-in?next={}", encode(next));
            if *expired {
                to.push_str("&expired=1");
            }
            // htmx follows a redirect inside its request; HX-Redirect moves the whole page.
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to.clone()))
                .insert_header(("HX-Redirect", to))
                .finish();
        }
        let (title, body) = match self {
            PageError::Csrf => (
                "This form has expired",
                html! {
                    p { "The form was not sent from this console's page (its security token is missing or old). Nothing was changed." }
                    p { a href="/console/queue" { "Back to the queue" } ", then try again." }
                },
            ),
            PageError::SignInRefused(why) => (
                "The sign-in failed",
                html! {
                    div.problem role="alert" { p { (why) } }
                    p { a href="/console/sign-in" { "Try again" } }
                },
            ),
            PageError::BadForm(why) => ("The form could not be read", html! { p { (why) } }),
            PageError::Api(ApiError::Refused(problem)) => {
                ("The request was refused", problem_box(problem, None))
            }
            PageError::Api(ApiError::Unreachable(why)) => (
                "procgate's services do not answer",
                html! { p { "The console could not reach the API: " (why) ". Try again in a moment." } },
            ),
            PageError::Internal(why) => ("Something went wrong", html! { p { (why) } }),
            PageError::SignedOut { .. } => unreachable!("answered above"),
        };
        let mut res = HttpResponse::build(self.status_code());
        // The API unreachable, or answering that its store is (503): try again shortly.
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        res.content_type("text/html; charset=utf-8").body(page(None, "", title, body).into_string())
    }
}

/// Percent-encodes a value for a query string.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The headers of every console response: the page loads nothing from anywhere but this
/// server, runs no inline script, and is never framed or cached.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_asset = req.path().starts_with("/console/assets/");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// An amount with its currency: `$1,499.00`, or `1,499.00 EUR`.
pub fn money(amount: &str, currency: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, "00"));
    let (sign, digits) = whole.strip_prefix('-').map_or(("", whole), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match currency {
        "USD" | "" => format!("{sign}${grouped}.{cents}"),
        other => format!("{sign}{grouped}.{cents} {other}"),
    }
}

/// A time for people: `30 Nov 2026, 14:05 UTC`, in a `<time>` element with the exact value.
pub fn when(rfc3339: &str) -> Markup {
    let shown = chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&chrono::Utc).format("%-d %b %Y, %H:%M UTC").to_string())
        .unwrap_or_else(|_| rfc3339.to_owned());
    html! { time datetime=(rfc3339) { (shown) } }
}

/// An optional time, or a dash.
pub fn when_opt(value: Option<&str>) -> Markup {
    match value {
        Some(v) => when(v),
        None => html! { span.none { "—" } },
    }
}

/// Business minutes as people say them: `3 h 20 min`, `45 min`, `2 h overdue`.
pub fn business_minutes(minutes: i64) -> String {
    let (over, m) = (minutes < 0, minutes.unsigned_abs());
    let text = match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    };
    if over { format!("{text} overdue") } else { format!("{text} left") }
}

/// An SLA state as a badge people can read without colour.
pub fn sla_badge(state: &str) -> Markup {
    let (class, text) = match state {
        "on_track" => ("ok", "On track"),
        "warning" => ("warn", "Warning"),
        "breached" => ("bad", "Breached"),
        "met" => ("ok", "Met"),
        other => ("", other),
    };
    html! { span class={ "badge " (class) } { (text) } }
}

/// A purchase status as a badge.
pub fn status_badge(status: &str) -> Markup {
    let class = match status {
        "approved" => "ok",
        "held" => "warn",
        "advisory" => "info",
        "cancelled" => "bad",
        _ => "",
    };
    html! { span class={ "badge " (class) } { (status) } }
}

/// A reason code in plain words.
pub fn reason_words(code: &str) -> &'static str {
    match code {
        "not-technology" => "Not technology: no review needed.",
        "in-catalog" => "A supported product from the catalog.",
        "not-in-catalog" => "Not in the catalog of supported products.",
        "vendor-not-approved" => "The vendor is not one of the district's approved vendors.",
        "over-review-threshold" => "Over the amount IT always reviews.",
        "school-not-gated" => {
            "The school has not signed the purchasing agreement: the purchase may go ahead, and IT is told."
        }
        "unclassified-category" => {
            "The category is listed neither as technology nor as not technology: IT classifies it once, and later checks follow."
        }
        "looks-like-technology" => {
            "Filed under a category that is not technology, but the description names technology."
        }
        "not-from-catalog-vendor" => {
            "The catalog names the vendors this product may come from, and this is not one."
        }
        _ => "A rule of the district's policy.",
    }
}

/// Raw text the console itself wrote (an SVG chart), inserted as it is.
pub fn raw(text: String) -> Markup {
    PreEscaped(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_with_its_currency() {
        assert_eq!(money("1499.00", "USD"), "$1,499.00");
        assert_eq!(money("999.5", "USD"), "$999.5");
        assert_eq!(money("1234567.89", "EUR"), "1,234,567.89 EUR");
        assert_eq!(money("-120.00", "USD"), "-$120.00");
        assert_eq!(money("12", "USD"), "$12.00");
    }

    #[test]
    fn business_minutes_read_as_time_left_or_overdue() {
        assert_eq!(business_minutes(45), "45 min left");
        assert_eq!(business_minutes(120), "2 h left");
        assert_eq!(business_minutes(200), "3 h 20 min left");
        assert_eq!(business_minutes(-90), "1 h 30 min overdue");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("/console/purchases/1?x=a b"), "%2Fconsole%2Fpurchases%2F1%3Fx%3Da%20b");
    }

    #[test]
    fn every_reason_code_has_words() {
        for code in [
            "not-technology",
            "in-catalog",
            "not-in-catalog",
            "vendor-not-approved",
            "over-review-threshold",
            "school-not-gated",
            "unclassified-category",
            "looks-like-technology",
            "not-from-catalog-vendor",
        ] {
            assert_ne!(reason_words(code), reason_words("no-such-code"), "{code}");
        }
    }
}
