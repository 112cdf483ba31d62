//! The console in a real browser: Debian's Chromium, headless, driven through chromedriver
//! (WebDriver, from Rust with fantoccini), against the real binary filled by `procgate demo`.
//!
//! It walks an IT technician's day (sign in with the one-time link, open the queue, move with
//! `j` and open with Enter, try to cancel and read why not, log the call, propose an
//! alternative, cancel) and the CTO's (open the reports and see the charts), and on every page
//! runs axe-core (from the npm registry, pinned in `tests/browser/package.json`) for WCAG 2.1 A
//! and AA: no serious or critical violation may remain. It also checks that no page loaded a
//! resource from outside the server.
//!
//! Screenshots of the queue, a purchase and the reports are written to `docs/screenshots/`
//! with `UPDATE_SCREENSHOTS=1` (that is how the README's are made), else to a temporary
//! directory.
//!
//! A second walk signs in through a real OpenID provider (panva's `oidc-provider`, from
//! `crates/auth/tests/oidc`): authorization code with PKCE, the provider's login form, and the
//! pages then served with the provider's access token, which the services verify.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! `scripts/test` installs them) and npm for axe-core.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{Running, Server, free_port, start_provider};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// axe-core's source: `npm ci` in tests/browser when it is missing (one process at a time).
fn axe_source() -> String {
    let dir = browser_dir();
    let file = dir.join("node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let lock =
            std::fs::File::create(std::env::temp_dir().join("procgate-axe-npm-ci.lock")).unwrap();
        lock.lock().unwrap();
        if !file.exists() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run npm ({e}): install nodejs and npm (apt-get install nodejs npm)"
                    )
                });
            assert!(status.success(), "npm ci in {} failed", dir.display());
        }
    }
    std::fs::read_to_string(file).unwrap()
}

/// chromedriver on a free port, and a headless Chromium session through it.
async fn chromium() -> (Running, Client, tempfile::TempDir) {
    let (Some(driver), Some(chrome)) =
        (which("chromedriver"), which("chromium").or_else(|| which("chromium-browser")))
    else {
        panic!(
            "the console's browser tests need Chromium and its driver: apt-get install chromium \
             chromium-driver (scripts/test installs them when it runs as root)"
        )
    };
    let port = free_port();
    let process = Running(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chrome,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => break client,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no Chromium session through chromedriver: {e}"),
        }
    };
    (process, client, profile)
}

/// Where screenshots go.
fn screenshots() -> PathBuf {
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        std::env::temp_dir().join(format!("procgate-screenshots-{}", std::process::id()))
    }
}

struct Session {
    client: Client,
    axe: String,
    origin: String,
}

impl Session {
    async fn h1(&self) -> String {
        self.client.find(Locator::Css("h1")).await.unwrap().text().await.unwrap()
    }

    /// Waits until the page's heading contains `text` (htmx swaps the page in place).
    async fn heading(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(h1) = self.client.find(Locator::Css("h1")).await
                && h1.text().await.unwrap_or_default().contains(text)
            {
                return;
            }
            if Instant::now() >= deadline {
                let main = self.client.find(Locator::Css("main")).await;
                let said = match main {
                    Ok(main) => main.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("no page headed {text:?}; at {:?}: {said}", self.h1().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css` whose text contains `text`.
    async fn shows(&self, css: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            for e in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
                if e.text().await.unwrap_or_default().contains(text) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "no {css} saying {text:?} on {:?}", self.h1().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    }

    /// Fills `fields` (selector, text), submits the form of the section `section` names (its
    /// `aria-labelledby`), and waits for `css` saying `text`.
    async fn submit(&self, section: &str, fields: &[(&str, &str)], css: &str, text: &str) {
        for (field, value) in fields {
            self.fill(field, value).await;
        }
        self.click(&format!("section[aria-labelledby={section}] button[type=submit]")).await;
        self.shows(css, text).await;
    }

    async fn key(&self, key: char) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await.unwrap();
    }

    /// axe-core on the page as it is: no serious or critical WCAG 2.1 A/AA violation.
    async fn accessible(&self, page: &str) {
        let loaded = self.client.execute("return typeof axe !== 'undefined';", vec![]).await;
        if loaded.unwrap() != json!(true) {
            self.client.execute(&format!("{}\nreturn true;", self.axe), vec![]).await.unwrap();
        }
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag',
                     values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                       help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }))))
                   .catch(e => done([{ id: 'axe-failed', impact: 'critical', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap();
        let serious: Vec<&Value> = violations
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "{page}: accessibility violations: {serious:#?}");
    }

    /// Every resource the page loaded came from the server.
    async fn local_only(&self, page: &str) {
        let names = self
            .client
            .execute("return performance.getEntriesByType('resource').map(e => e.name);", vec![])
            .await
            .unwrap();
        for name in names.as_array().unwrap() {
            let name = name.as_str().unwrap();
            assert!(name.starts_with(&self.origin), "{page} loaded {name} from outside");
        }
    }

    async fn check(&self, page: &str) {
        self.accessible(page).await;
        self.local_only(page).await;
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_it_technicians_day_and_the_ctos_reports_in_chromium() {
    let axe = axe_source();
    let server = Server::start(&[]);
    server.demo(10, 120);
    let (_driver, client, _profile) = chromium().await;
    let b = Session { client, axe, origin: server.url.clone() };

    // Sign in with the one-time link: the queue, soonest breach first.
    b.client.goto(&server.link).await.unwrap();
    b.heading("Held queue").await;
    b.check("the queue").await;
    b.screenshot("queue").await;
    // On a tablet held upright the queue fits the width: nothing to scroll sideways.
    b.client.set_window_size(820, 1180).await.unwrap();
    let fits = b
        .client
        .execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the queue is wider than a tablet");
    b.check("the queue on a tablet").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // j selects the first purchase, Enter opens it.
    b.client.find(Locator::Css("body")).await.unwrap();
    b.key('j').await;
    let first = b.client.find(Locator::Css("tr[data-row].selected a")).await.unwrap();
    let vendor = first.text().await.unwrap();
    b.key(char::from(Key::Enter)).await;
    b.heading(&vendor).await;
    b.check("a purchase").await;

    // Cancelling first is refused, and the page says why: call before cancel.
    let reason = [("#x-reason", "Not a supported model")];
    b.submit("cancel", &reason, ".problem", "Call before cancel").await;
    b.check("a refused cancel").await;
    // The screenshot shows the refusal, where it was tried.
    let show = "document.querySelector('.problem').scrollIntoView({block: 'center'}); return true;";
    b.client.execute(show, vec![]).await.unwrap();
    b.screenshot("purchase").await;

    // The call that reached the requester, with their goal.
    b.click("#c-reached").await;
    let call = [
        ("#c-goal", "A reading lab with tablets for every pupil"),
        ("#c-name", "Pat Requester"),
        ("#c-phone", "555-0100"),
    ];
    b.submit("log-call", &call, ".notice", "The call is logged.").await;

    // An alternative, then the cancellation goes through.
    let alternative = [("#a-description", "The supported tablet from the catalog, with a case")];
    b.submit("propose", &alternative, ".notice", "The alternative is proposed.").await;
    let reason = [("#x-reason", "Replaced by the supported tablet")];
    b.submit("cancel", &reason, ".notice", "The purchase is cancelled.").await;
    b.shows(".badge", "cancelled").await;
    b.check("a cancelled purchase").await;

    // The other pages of the day.
    for (path, heading) in [
        ("/console/outreach", "Outreach"),
        ("/console/due", "Promises and follow-ups due"),
        ("/console/schools", "Schools"),
        ("/console/audit", "Audit"),
        ("/console/notifications", "Notifications"),
    ] {
        if path == "/console/schools" {
            // The meeting plan: every principal of the demo's district was met on their turf.
            b.client.goto(&format!("{}{path}", server.url)).await.unwrap();
            b.shows("#plan + p", "on their own turf").await;
        }
        b.client.goto(&format!("{}{path}", server.url)).await.unwrap();
        b.heading(heading).await;
        b.check(path).await;
    }
    // A principal's profile, from the schools.
    b.client.goto(&format!("{}/console/schools", server.url)).await.unwrap();
    b.heading("Schools").await;
    let principal = b.client.find(Locator::Css("a[href^='/console/stakeholders/']")).await;
    principal.unwrap().click().await.unwrap();
    b.shows("h2", "Their vision").await;
    // Their vision beside IT's, with the theme the conversation connected it to.
    b.shows("h2", "IT's vision").await;
    b.shows(".badge", "Connected").await;
    b.check("a stakeholder's profile").await;

    // The CTO: the reports, with their charts.
    b.client.set_window_size(1280, 2400).await.unwrap();
    b.client.goto(&format!("{}/console/reports", server.url)).await.unwrap();
    b.heading("Reports").await;
    let charts = b.client.find_all(Locator::Css("figure.chart svg")).await.unwrap();
    assert!(charts.len() >= 5, "the reports draw {} charts", charts.len());
    let caption = b.client.find(Locator::Css("figure.chart figcaption")).await.unwrap();
    assert_eq!(caption.text().await.unwrap(), "The adoption curve, by month");
    b.check("the reports").await;
    b.screenshot("reports").await;
    // A CSV link saves the file: the page stays as it was (htmx does not fetch it into the page).
    let before = b.client.current_url().await.unwrap();
    b.click("a[href^='/console/reports/adoption.csv']").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(b.client.current_url().await.unwrap(), before, "the CSV replaced the page");
    b.heading("Reports").await;
    // A school year narrows every report on the page.
    let option = b.client.find(Locator::Css("select#school_year option:nth-child(2)")).await;
    let year = option.unwrap().attr("value").await.unwrap().expect("the current school year");
    b.client.goto(&format!("{}/console/reports?school_year={year}", server.url)).await.unwrap();
    b.heading("Reports").await;
    let selected = b.client.find(Locator::Css("select#school_year option[selected]")).await;
    assert_eq!(selected.unwrap().text().await.unwrap(), year);
    b.check("the reports of a school year").await;

    // Signing out sends the browser to sign in.
    b.client.set_window_size(1280, 900).await.unwrap();
    b.click("form.sign-out button").await;
    b.heading("Sign in to procgate").await;
    b.client.goto(&format!("{}/console/queue", server.url)).await.unwrap();
    b.heading("Sign in to procgate").await;
    b.client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_through_the_districts_identity_provider() {
    let axe = axe_source();
    let port = free_port();
    let keys = tempfile::tempdir().unwrap();
    let redirect = format!("http://127.0.0.1:{port}/console/sign-in/callback");
    let (provider, issuer) =
        start_provider(keys.path(), &[("OIDC_CONSOLE_REDIRECT", redirect.as_str())]);
    let server = Server::start_on(
        port,
        &[
            ("PROCGATE_OIDC_ISSUER", issuer.as_str()),
            ("PROCGATE_JWT_AUDIENCE", "urn:procgate"),
            ("PROCGATE_OIDC_CLIENT_ID", "procgate-console"),
            ("PROCGATE_OIDC_SCOPES", "email api"),
        ],
    );
    let (_driver, client, _profile) = chromium().await;
    let b = Session { client, axe, origin: server.url.clone() };

    // A signed-out visitor is sent to sign in, and from there to the provider.
    b.client.goto(&format!("{}/console/due", server.url)).await.unwrap();
    b.heading("Sign in to procgate").await;
    b.check("the sign-in page").await;
    // A link made elsewhere, carrying an error and text of its maker's choosing: refused
    // before anything it says is shown on the console's page.
    let forged = "error=access_denied&error_description=Call+555-0100+now&state=forged";
    let forged = format!("{}/console/sign-in/callback?{forged}", server.url);
    b.client.goto(&forged).await.unwrap();
    b.heading("The sign-in failed").await;
    assert!(!b.client.source().await.unwrap().contains("555-0100"), "the forged text is shown");
    b.client.goto(&format!("{}/console/due", server.url)).await.unwrap();
    b.heading("Sign in to procgate").await;
    sign_in_at_the_provider(&b, &issuer).await;

    // Back where they were going, as themselves, with the roles the provider gave them; the
    // page's figures come from the services, which accepted the provider's token.
    b.heading("Promises and follow-ups due").await;
    b.shows(".who", "tech@district.org").await;
    b.shows(".who", "it_staff").await;
    b.shows("p.card", "No promise is open.").await;
    b.client.goto(&format!("{}/console/queue", server.url)).await.unwrap();
    b.shows("p.card", "Nothing is waiting for IT").await;
    b.check("the queue, signed in through the provider").await;

    // The provider rotates its signing keys (it restarts publishing only a new one): the next
    // sign-in still verifies, with the keys read again.
    b.click("form.sign-out button").await;
    b.heading("Sign in to procgate").await;
    drop(provider);
    let port = issuer.rsplit(':').next().unwrap().to_owned();
    let env = [
        ("OIDC_CONSOLE_REDIRECT", redirect.as_str()),
        ("OIDC_PORT", port.as_str()),
        ("OIDC_KEYS", "k2:RS256"),
    ];
    let (_provider, again) = start_provider(keys.path(), &env);
    assert_eq!(again, issuer);
    b.client.goto(&format!("{}/console/queue", server.url)).await.unwrap();
    b.heading("Sign in to procgate").await;
    sign_in_at_the_provider(&b, &issuer).await;
    // Signed in (the ID token verified with the new key); the services take the access token
    // once they have fetched the new key too (at most 30 s after their last fetch), the queue
    // showing then.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h1 = b.h1().await;
        assert_ne!(h1, "The sign-in failed", "the ID token signed with the new key was refused");
        if h1.contains("Held queue") {
            break;
        }
        assert!(Instant::now() < deadline, "the services never took the new key: at {h1:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
        b.client.goto(&format!("{}/console/queue", server.url)).await.unwrap();
    }
    b.shows(".who", "tech@district.org").await;
    b.client.close().await.unwrap();
}

/// From the sign-in page, through the provider's login form and consent prompt, back to the
/// console.
async fn sign_in_at_the_provider(b: &Session, issuer: &str) {
    b.click("a.button").await;
    let login = b.client.wait().for_element(Locator::Css("input[name=login]")).await.unwrap();
    assert!(b.client.current_url().await.unwrap().as_str().starts_with(issuer));
    login.send_keys("tech@district.org").await.unwrap();
    b.fill("input[name=password]", "any password").await;
    b.click("button[type=submit]").await;
    // The provider asks to authorize the console (its consent prompt), once.
    let deadline = Instant::now() + Duration::from_secs(15);
    while b.client.current_url().await.unwrap().as_str().starts_with(issuer) {
        if let Ok(button) = b.client.find(Locator::Css("button[type=submit]")).await {
            let _ = button.click().await;
        }
        if Instant::now() >= deadline {
            let url = b.client.current_url().await.unwrap();
            let source = b.client.source().await.unwrap_or_default();
            std::fs::write(std::env::temp_dir().join("procgate-oidc-stuck.html"), &source).ok();
            panic!("the provider did not send the browser back: at {url}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
