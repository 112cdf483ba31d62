//! E-mail notifications against a real SMTP server (Python's aiosmtpd, started by each test on
//! loopback, writing what it receives to a maildir), on both backends.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use auth::Role;
use chrono::TimeDelta;
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, Store};
use events::gate::{PurchaseEvent, PurchaseSubmitted};
use events::values::ExternalRef;
use reporting::Reporting;
use reporting::notify::mail::{MailSettings, SmtpSecurity};
use serde_json::json;
use testkit::{Backend, eventually};
use uuid::Uuid;

use crate::common::{self, TestApp, stream};

const WAIT: Duration = Duration::from_secs(30);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

on_each_backend!(
    a_held_purchase_reaches_it_staff_and_the_requester_once_with_two_mailers,
    an_opted_out_person_gets_nothing_and_a_relay_that_was_down_gets_it_later,
    a_reminder_of_a_follow_up_done_meanwhile_is_not_sent,
);

/// The python with aiosmtpd: `PROCGATE_TEST_PYTHON` (set by scripts/test), else the project's
/// tool venv.
fn python() -> PathBuf {
    let candidate =
        std::env::var_os("PROCGATE_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python")
        });
    let ok = Command::new(&candidate)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the e-mail tests need Python with aiosmtpd: run scripts/test (it installs aiosmtpd into \
         .tools/venv), or set PROCGATE_TEST_PYTHON to a python that has it (pip install aiosmtpd)"
    );
    candidate
}

/// An SMTP server on loopback writing every message it accepts to a maildir.
struct Smtp {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Smtp {
    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    async fn start(port: u16) -> Self {
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c"])
            .arg("aiosmtpd.handlers.Mailbox")
            .arg(maildir.path().join("box"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        eventually(WAIT, POLL, async || {
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up { Ok(()) } else { Err("aiosmtpd did not start".to_owned()) }
        })
        .await;
        Self { child, port, maildir }
    }

    /// Every message received: (to, subject, body).
    fn messages(&self) -> Vec<(String, String, String)> {
        let new = self.maildir.path().join("box/new");
        let Ok(entries) = std::fs::read_dir(new) else { return vec![] };
        let mut out: Vec<(String, String, String)> = entries
            .map(|e| {
                let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
                let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                        .unwrap_or_default()
                        .to_owned()
                };
                (header("To"), header("Subject"), body.replace("=\n", "").replace("=3D", "="))
            })
            .collect();
        out.sort();
        out
    }

    async fn wait_for(&self, n: usize) -> Vec<(String, String, String)> {
        eventually(WAIT, POLL, async || {
            let got = self.messages();
            if got.len() >= n {
                return Ok(got);
            }
            Err(format!("{} of {n} e-mails: {got:?}", got.len()))
        })
        .await
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(port: u16, instance: &str) -> MailSettings {
    MailSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        credentials: None,
        from: "procgate <procgate@district.org>".into(),
        it_staff: vec!["it@district.org".into()],
        instance: instance.into(),
        allowed_domains: vec!["district.org".into()],
    }
}

async fn mailer(store: &Store, clock: &kernel::Clock, port: u16, instance: &str) -> Reporting {
    common::instance(store, clock).await.with_mail(settings(port, instance)).unwrap()
}

/// A purchase held because its laptop is not in the catalog; returns its id.
async fn held_purchase(store: &Store) -> Uuid {
    let id = Uuid::now_v7();
    let submitted = PurchaseEvent::from(PurchaseSubmitted {
        external_ref: ExternalRef::parse("REQ-77").unwrap(),
        ..events::testing::gaming_laptop(id)
    });
    let decided = PurchaseEvent::from(events::testing::laptop_held());
    let meta = Metadata::new(Actor::new("erp", "finance"), "gate");
    let events: Vec<NewEvent> =
        [submitted, decided].iter().map(|e| kernel::new_event(e, meta.clone())).collect();
    store
        .append(&stream(&format!("purchase-{id}")), ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    id
}

async fn a_held_purchase_reaches_it_staff_and_the_requester_once_with_two_mailers(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let smtp = Smtp::start(Smtp::free_port()).await;
    let clock = kernel::Clock::system();
    let other_store: Store = match &app.pg_url {
        Some(url) => Arc::new(eventlog::PgStore::connect(url, Default::default()).await.unwrap()),
        None => app.store.clone(),
    };
    let one = mailer(&app.store, &clock, smtp.port, "one").await;
    let two = mailer(&other_store, &clock, smtp.port, "two").await;
    held_purchase(&app.store).await;
    let got = smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_now = smtp.messages();
    assert_eq!(got_now.len(), 2, "one e-mail each, not one per mailer: {got_now:?}");
    assert_eq!(got[0].0, "it@district.org");
    assert!(got[0].1.starts_with("Held for review: purchase REQ-77"), "{}", got[0].1);
    assert_eq!(got[1].0, "pat@district.org");
    assert!(got[1].2.contains("not in the district's standards catalog"), "{}", got[1].2);
    assert!(got[1].2.contains("will not cancel it without talking to you"), "{}", got[1].2);
    // The log records each message: claimed once, sent once.
    let mail = app.store.read_category("mail", 0, 100).await.unwrap();
    let types: Vec<&str> = mail.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types.iter().filter(|t| **t == "mail-claimed").count(), 2, "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "mail-sent").count(), 2, "{types:?}");
    drop((one, two));
    app.stop().await;
}

async fn an_opted_out_person_gets_nothing_and_a_relay_that_was_down_gets_it_later(
    backend: Backend,
) {
    let app = TestApp::spawn_notifying(
        backend,
        kernel::Clock::system(),
        reporting::notify::Settings::new(
            reporting::notify::WebhookKey::new(&[9; 32]).unwrap(),
            "api",
        ),
    )
    .await;
    // The requester opts out (their own token may; another person's may not).
    let put = |subject: &str, roles: &[Role]| {
        app.client
            .put(format!("{}/v1/email-preferences/pat@district.org", app.base))
            .bearer_auth(app.token_for(subject, roles))
            .json(&json!({"opted_out": true}))
            .send()
    };
    assert_eq!(put("lee@district.org", &[Role::Finance]).await.unwrap().status(), 403);
    let res = put("pat@district.org", &[Role::Finance]).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["opted_out"], true);

    // The relay is down when the purchase is held.
    let port = Smtp::free_port();
    let clock = kernel::Clock::system();
    let sender = mailer(&app.store, &clock, port, "one").await;
    held_purchase(&app.store).await;
    let failed = eventually(WAIT, POLL, async || {
        let mail = app.store.read_category("mail", 0, 100).await.unwrap();
        let failed = mail.into_iter().find(|e| e.event_type == "mail-failed");
        failed.ok_or_else(|| "no failure recorded".to_owned())
    })
    .await;
    assert!(failed.data["retry_at"].is_string(), "{}", failed.data);
    // It comes back; a minute later (by the clock) the e-mail is sent, to IT only.
    let smtp = Smtp::start(port).await;
    clock.advance(TimeDelta::minutes(2));
    let got = smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "{got:?}");
    assert_eq!(got[0].0, "it@district.org");
    drop(sender);
    app.stop().await;
}

/// Appends `event` to `stream_name` as `subject` did.
async fn record<E: events::EventFamily>(store: &Store, stream_name: &str, subject: &str, event: E) {
    let meta = Metadata::new(Actor::new(subject, "it_staff"), "stakeholders");
    let events = vec![kernel::new_event(&event, meta)];
    store.append(&stream(stream_name), ExpectedVersion::Any, events).await.unwrap();
}

async fn a_reminder_of_a_follow_up_done_meanwhile_is_not_sent(backend: Backend) {
    use events::reminders::{BusinessDays, FollowUpDueSoon, ReminderEvent, reminder_stream};
    use events::stakeholders::{FollowUpDone, FollowUpEvent, FollowUpScheduled, followup_stream};
    let app = TestApp::spawn(backend).await;
    // Given Kim's follow-up, due soon, whose reminder the relay (down) could not take.
    let port = Smtp::free_port();
    let clock = kernel::Clock::system();
    let sender = mailer(&app.store, &clock, port, "one").await;
    let (id, kim) = (Uuid::now_v7(), "kim@district.org");
    let today = chrono::Utc::now().date_naive();
    let scheduled = FollowUpScheduled {
        followup_id: id,
        stakeholder_id: Uuid::now_v7(),
        about: events::values::LongText::parse("The maker space budget").unwrap(),
        due_on: today,
    };
    record(&app.store, &followup_stream(id), kim, FollowUpEvent::from(scheduled)).await;
    let due_soon = FollowUpDueSoon {
        followup_id: id,
        stakeholder_id: Uuid::now_v7(),
        due_on: today,
        due_soon_at: chrono::Utc::now(),
        lead_business_days: BusinessDays::DEFAULT,
        district_version: 1,
    };
    record(&app.store, &reminder_stream(id), "stakeholders", ReminderEvent::from(due_soon)).await;
    eventually(WAIT, POLL, async || {
        let mail = app.store.read_category("mail", 0, 100).await.unwrap();
        let failed = mail.iter().any(|e| e.event_type == "mail-failed");
        if failed { Ok(()) } else { Err("no failure recorded".to_owned()) }
    })
    .await;
    // When Kim does it before the relay comes back,
    let done = FollowUpDone { on: today, note: None, stakeholder_id: None };
    record(&app.store, &followup_stream(id), kim, FollowUpEvent::from(done)).await;
    let smtp = Smtp::start(port).await;
    // (a purchase held meanwhile: what the relay gets once it is back)
    held_purchase(&app.store).await;
    clock.advance(TimeDelta::minutes(2));
    // Then the relay gets the held purchase (IT's and the requester's), and no reminder of
    // what is done.
    smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = smtp.messages();
    assert!(got.iter().all(|(to, _, _)| to != kim), "{got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
    drop(sender);
    app.stop().await;
}
