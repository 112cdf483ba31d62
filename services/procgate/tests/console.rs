//! The console over HTTP, as a browser without JavaScript meets it, against the real binary:
//! signed-out visitors are sent to sign in; the one-time link works once; every page loads
//! nothing from outside the server; a form without its CSRF token is refused and changes
//! nothing; a refused cancel explains call before cancel; the technician's day goes through to
//! the cancellation; reports download as CSV; signing out ends the session.

mod support;

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::Value;
use support::Server;

const PAGES: [&str; 7] = [
    "/console/queue",
    "/console/outreach",
    "/console/due",
    "/console/schools",
    "/console/reports",
    "/console/audit",
    "/console/notifications",
];

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Every `src` and `href` of the page points at this server.
fn assert_local(page: &str, html: &str) {
    for attr in ["src=\"", "href=\"", "action=\""] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            let value = &value[..value.find('"').unwrap()];
            assert!(
                value.starts_with('/') && !value.starts_with("//") || value.starts_with('#'),
                "{page} refers to {value:?}, outside the server"
            );
        }
    }
}

/// The value of the first hidden input named `name`.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} field in the page"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn api_get(server: &Server, token: &str, path: &str) -> Value {
    let res = reqwest::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_it_technicians_day_in_the_console() {
    let server = Server::start(&[("PROCGATE_WEBHOOKS_ALLOW_PRIVATE", "true")]);
    server.demo(6, 60);
    // A webhook to a system that does not answer: the notifications page shows it.
    let admin = server.token("admin@district.org", &["admin"]);
    let hook = reqwest::Client::new()
        .post(format!("{}/v1/webhooks", server.url))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"url": "http://127.0.0.1:9/procgate-events"}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::CREATED);
    let browser = browser();
    let get = |path: &str| browser.get(format!("{}{path}", server.url)).send();

    // Signed out: every page sends the visitor to sign in, and back afterwards.
    for page in PAGES {
        let res = get(page).await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}");
        assert!(location(&res).starts_with("/console/sign-in?next=%2Fconsole%2F"), "{page}");
    }
    // A form sent once the session is gone comes back to the page it was sent from (its own
    // address takes only a POST).
    let page = format!("/console/purchases/{}", uuid::Uuid::now_v7());
    let res = browser
        .post(format!("{}{page}/cancel", server.url))
        .header("referer", format!("{}{page}", server.url))
        .form(&[("reason", "Not needed")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = format!("/console/sign-in?next={}", page.replace('/', "%2F"));
    assert_eq!(location(&res), back);
    let res = get("/console/sign-in").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("one-time sign-in link"));

    // The one-time link signs in, once.
    let res = browser.get(&server.link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/console/queue");
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/console", "Max-Age="] {
        assert!(cookie.contains(flag), "the session cookie lacks {flag}: {cookie}");
    }
    let again = reqwest::Client::new().get(&server.link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN, "a sign-in link works once");

    // Every page answers, loads nothing from elsewhere, and says so in its CSP.
    for page in PAGES {
        let res = get(page).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
        let html = res.text().await.unwrap();
        assert_local(page, &html);
        assert!(html.contains("/console/assets/htmx.min.js"), "{page} loads htmx from the server");
    }
    let notifications = get("/console/notifications").await.unwrap().text().await.unwrap();
    assert!(notifications.contains("http://127.0.0.1:9/procgate-events"), "the webhook is listed");
    assert!(notifications.contains("for admin@district.org"), "whose it is: {notifications}");
    let htmx = get("/console/assets/htmx.min.js").await.unwrap();
    assert_eq!(htmx.status(), StatusCode::OK);
    assert!(htmx.text().await.unwrap().contains("version:\"2.0.11\""));
    let licence = get("/console/assets/htmx-LICENSE").await.unwrap().text().await.unwrap();
    assert!(licence.contains("Zero-Clause BSD"));

    // A held purchase from the queue.
    let token = server.token("auditor@district.org", &["auditor"]);
    let held = api_get(&server, &token, "/v1/purchases?status=held&sort=due&limit=1").await;
    let id = held["purchases"][0]["purchase_id"].as_str().expect("the demo holds purchases");
    let queue = get("/console/queue").await.unwrap().text().await.unwrap();
    assert!(queue.contains(&format!("/console/purchases/{id}")), "the queue lists it first");
    assert!(queue.contains("soonest breach first"), "{queue}");
    let oldest = get("/console/queue?sort=submitted").await.unwrap().text().await.unwrap();
    assert!(oldest.contains("held purchases, oldest first"), "{oldest}");

    // The Schools page lists the principals going cold, as the report has them.
    let cold = api_get(&server, &token, "/v1/reports/going-cold").await;
    let schools = get("/console/schools").await.unwrap().text().await.unwrap();
    assert!(schools.contains("Going cold"), "the Schools page has its going-cold list");
    assert!(
        schools.contains("The themes of IT&#39;s vision that carry the schools")
            || schools.contains("The themes of IT's vision that carry the schools"),
        "the Schools page shows which themes carry which schools"
    );
    assert!(schools.contains(&format!("{} business days", cold["business_days"])));
    for row in cold["rows"].as_array().unwrap() {
        let person = format!("/console/stakeholders/{}", row["stakeholder_id"].as_str().unwrap());
        assert!(schools.contains(&person), "{person} is going cold and listed");
    }
    // A principal's profile: their wishes as they said them, their school's held purchases.
    let principal = cold["rows"][0]["stakeholder_id"].as_str().expect("someone is going cold");
    let profile = api_get(&server, &token, &format!("/v1/stakeholders/{principal}")).await;
    let html = get(&format!("/console/stakeholders/{principal}")).await.unwrap();
    let html = html.text().await.unwrap();
    let wishes = profile["wishes"].as_array().unwrap();
    assert!(!wishes.is_empty(), "the demo's principals have wishes");
    for wish in wishes {
        let text = wish["text"].as_str().unwrap();
        assert!(html.contains(&text.replace('\'', "&#39;")) || html.contains(text), "{text}");
    }
    let school_held = profile["held_purchases"].as_array().expect("a principal's profile");
    assert!(html.contains("Held purchases they asked for"), "{html}");
    if let Some(first) = school_held.first() {
        assert!(
            html.contains("Their school&#39;s held purchases")
                || html.contains("Their school's held purchases")
        );
        assert!(
            html.contains(&format!(
                "/console/purchases/{}",
                first["purchase_id"].as_str().unwrap()
            ))
        );
    }
    // A school's page lists its latest purchases, the newest first.
    let school = profile["school_id"].as_str().unwrap();
    let all =
        api_get(&server, &token, &format!("/v1/purchases?school_id={school}&limit=1000")).await;
    let newest = all["purchases"].as_array().unwrap().last().expect("the school has purchases");
    let html = get(&format!("/console/schools/{school}")).await.unwrap().text().await.unwrap();
    let first_listed = html.find("/console/purchases/").expect("purchases are listed");
    let newest_id = newest["purchase_id"].as_str().unwrap();
    assert_eq!(&html[first_listed + 19..first_listed + 19 + newest_id.len()], newest_id);

    let page = get(&format!("/console/purchases/{id}")).await.unwrap().text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    // A form posted from the signed-in browser: its answer.
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let sent = browser.post(format!("{}{path}", server.url)).form(&form).send();
        async move { sent.await.unwrap() }
    };
    let status = || async {
        api_get(&server, &token, &format!("/v1/purchases/{id}")).await["status"].clone()
    };

    // A form without the session's CSRF token is refused, and nothing is written.
    let forged =
        post(format!("/console/purchases/{id}/cancel"), vec![("reason", "forged".into())]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("Nothing was changed"), "the page says why");
    let wrong = post(
        format!("/console/purchases/{id}/cancel"),
        vec![("reason", "forged".into()), ("csrf", "not-the-token".into())],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert_eq!(status().await, "held");

    // Cancelling before the call is refused, and the page explains call before cancel.
    let refused = post(
        format!("/console/purchases/{id}/cancel"),
        vec![("reason", "Not supported".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let text = refused.text().await.unwrap();
    assert!(text.contains("role=\"alert\""), "the refusal is announced");
    assert!(text.contains("Call before cancel"), "the refusal explains the rule");
    assert_eq!(status().await, "held");

    // The call, the alternative, then the cancellation.
    let call = post(
        format!("/console/purchases/{id}/calls"),
        vec![
            ("requester_reached", "true".into()),
            ("goal", "Students need devices for the reading lab".into()),
            ("name", "Pat Requester".into()),
            ("phone", "555-0100".into()),
            ("csrf", csrf.clone()),
            ("idempotency_key", "call-1".into()),
        ],
    )
    .await;
    assert_eq!(call.status(), StatusCode::SEE_OTHER, "{}", call.text().await.unwrap());
    assert_eq!(location(&call), format!("/console/purchases/{id}?done=call"));
    let alternative = post(
        format!("/console/purchases/{id}/alternatives"),
        vec![
            ("description", "The supported Chromebook from the catalog".into()),
            ("csrf", csrf.clone()),
        ],
    )
    .await;
    assert_eq!(alternative.status(), StatusCode::SEE_OTHER);
    let cancel = post(
        format!("/console/purchases/{id}/cancel"),
        vec![("reason", "Replaced by the supported model".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(cancel.status(), StatusCode::SEE_OTHER);
    assert_eq!(status().await, "cancelled");
    let page = get(&format!("/console/purchases/{id}?done=cancel")).await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("The purchase is cancelled."));
    assert!(page.contains("Students need devices for the reading lab"), "the call is shown");

    // The same form sent twice (a double click) logs one call.
    let calls = |p: Value| p["calls"].as_array().map(Vec::len).unwrap_or_default();
    let before = calls(api_get(&server, &token, &format!("/v1/purchases/{id}")).await);
    for _ in 0..2 {
        post(
            format!("/console/purchases/{id}/calls"),
            vec![
                ("requester_reached", "false".into()),
                ("csrf", csrf.clone()),
                ("idempotency_key", "call-2".into()),
            ],
        )
        .await;
    }
    let after = calls(api_get(&server, &token, &format!("/v1/purchases/{id}")).await);
    assert!(after <= before + 1, "a form sent twice wrote {} calls", after - before);

    // The webhook fails on the day's events (nothing listens there): the page says so.
    let hook_id = hook.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while api_get(&server, &admin, &format!("/v1/webhooks/{hook_id}")).await["failing"].is_null() {
        assert!(std::time::Instant::now() < deadline, "the webhook never failed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let notifications = get("/console/notifications").await.unwrap().text().await.unwrap();
    assert!(notifications.contains("Failing"), "{notifications}");

    // Reports as CSV, downloaded rather than fetched into the page by htmx.
    let reports = get("/console/reports").await.unwrap().text().await.unwrap();
    assert!(
        reports.contains("href=\"/console/reports/adoption.csv\" download hx-boost=\"false\""),
        "{reports}"
    );
    let csv = get("/console/reports/adoption.csv").await.unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    assert!(!csv.text().await.unwrap().is_empty());
    // Of a school year long before the demo's district: its months only, no signing.
    let csv = get("/console/reports/adoption.csv?school_year=2019-20").await.unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("dimension,month,") && !text.contains("\r\nsigning,"), "{text}");
    assert!(!text.contains("\r\nmonth,"), "no month of 2019-20 has figures: {text}");
    let page = get("/console/reports?school_year=2019-20").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/reports/adoption.csv?school_year=2019-20"), "{html}");
    assert!(html.contains("<option value=\"2019-20\" selected"), "the year asked for is chosen");
    // A year chosen with dates left in the form: the year; a range given backwards: read
    // forwards.
    let page = get("/console/reports?school_year=2019-20&from=2026-01-01&to=2025-01-01").await;
    assert_eq!(page.unwrap().status(), StatusCode::OK);
    let page = get("/console/reports?from=2026-01-01&to=2025-01-01").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("adoption.csv?from=2025-01-01&amp;to=2026-01-01"), "{html}");
    // A date that is not one is left out and said, the page still shown.
    let page = get("/console/reports?from=2025-02-30").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Not a date, left out: 2025-02-30"), "{html}");
    assert_eq!(
        get("/console/reports/nothing.csv").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );

    // Signing out needs the token too, and ends the session: a copy of its cookie kept
    // elsewhere is refused as well.
    let copy = cookie.split(';').next().unwrap().to_owned();
    let with_copy = || {
        let elsewhere = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        elsewhere.get(format!("{}/console/queue", server.url)).header("cookie", copy.clone()).send()
    };
    assert_eq!(with_copy().await.unwrap().status(), StatusCode::OK);
    let res = post("/console/sign-out".into(), vec![]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post("/console/sign-out".into(), vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/console/sign-in");
    assert_eq!(get("/console/queue").await.unwrap().status(), StatusCode::SEE_OTHER);
    assert_eq!(with_copy().await.unwrap().status(), StatusCode::SEE_OTHER, "the copy still works");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_names_who_is_signed_in_and_shows_the_apis_refusals() {
    let server = Server::start(&[("PROCGATE_CONSOLE_OPERATOR", "cto@district.org")]);
    let browser = browser();
    let res = browser.get(&server.link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = browser.get(format!("{}/console/queue", server.url)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("cto@district.org"), "the page names who is signed in");
    assert!(html.contains("Nothing is waiting for IT"), "an empty queue says so");
    // An unknown purchase is the API's 404, shown as a page.
    let missing = browser
        .get(format!("{}/console/purchases/{}", server.url, uuid::Uuid::nil()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let text = missing.text().await.unwrap();
    assert!(text.contains("<h1>The request was refused</h1>"), "{text}");
    let bad = browser.get(format!("{}/console/purchases/not-an-id", server.url)).send().await;
    assert_eq!(bad.unwrap().status(), StatusCode::BAD_REQUEST);
    // Before the district sets its clocks' targets, the reports show without them.
    let reports = browser.get(format!("{}/console/reports", server.url)).send().await.unwrap();
    assert_eq!(reports.status(), StatusCode::OK);
    assert!(reports.text().await.unwrap().contains("the adoption report as CSV"));
    // Without an identity provider, its sign-in is refused, not a server error.
    let oidc = browser.get(format!("{}/console/sign-in/oidc", server.url)).send().await.unwrap();
    assert_eq!(oidc.status(), StatusCode::FORBIDDEN);
    assert!(oidc.text().await.unwrap().contains("one-time links"));
}
