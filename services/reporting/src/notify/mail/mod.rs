//! E-mail for people: IT staff hear of a new held purchase, a clock's warning and breach; the
//! escalation contact of an escalation; the requester that their purchase is held (and why,
//! in plain words) and then decided; the owners of promises and follow-ups that they are due.
//! Through the district's SMTP relay (`lettre`), each message once, whatever the number of
//! instances, and never to an address whose person opted out.
//!
//! The mailer is a `kernel::schedule` in every reporting instance with a relay set: it follows
//! the log,
//! composes the messages each event calls for ([`compose`]), and sends each one under a claim
//! (`mail-claimed`, appended on the message's own `mail-{id}` stream at the version read: of
//! two instances only one claims) and records the relay's answer (`mail-sent`, or
//! `mail-failed` with the next try: 1, 5, 15, 60, 240 minutes, then given up). A claim that
//! never got an answer (its instance stopped mid-send) may be taken again after 5 minutes.
//! Messages about events more than a day old when first seen are not sent (a first start on
//! an old log does not flood anyone). A reminder of a promise or follow-up is not sent once
//! the item is settled (kept, broken, done), even if the reminder was queued (or written)
//! before: the relay may be down for hours, and "not kept yet" must not reach someone who
//! kept it.

pub mod api;
pub mod compose;
pub mod preference;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use eventlog::{
    Actor, ExpectedVersion, Filter, Metadata, NewEvent, RecordedEvent, Store, StoreError,
};
use events::Published;
use events::gate::PurchaseEvent;
use events::notifications::{
    Mail, MailClaimed, MailEvent, MailFailed, MailPreferenceEvent, MailSent, mail_id,
    mail_retry_at, mail_stream,
};
use events::stakeholders::{FollowUpEvent, PromiseEvent};
use kernel::schedule::{RETRY_AFTER, Schedule, Wakes};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use uuid::Uuid;

use compose::{Facts, Message, Purchase};

/// Messages about events older than this when first seen are not sent.
pub const MAX_AGE: TimeDelta = TimeDelta::hours(24);

/// How the relay is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP, upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (a relay on the same host or a closed network; tests).
    None,
}

/// The district's mail relay and who hears what.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// User name and password, when the relay asks for them.
    pub credentials: Option<(String, String)>,
    /// The sender (`procgate <procgate@district.org>`).
    pub from: String,
    /// IT staff's addresses: held purchases, warnings, breaches.
    pub it_staff: Vec<String>,
    /// This instance's name on claims.
    pub instance: String,
    /// The only domains e-mail goes to (`PROCGATE_MAIL_DOMAINS`; empty: any). Addresses come
    /// from finance systems' purchase checks: this keeps a misused finance token from making
    /// the district's relay write to anyone.
    pub allowed_domains: Vec<String>,
}

impl MailSettings {
    /// The sender as a mailbox, or why `from` is not one: checked when procgate starts, so a
    /// bad sender does not fail every message later.
    pub fn sender(&self) -> Result<lettre::message::Mailbox, String> {
        self.from.parse().map_err(|e| format!("the sender {:?}: {e}", self.from))
    }

    /// Whether e-mail may go to `address`.
    pub fn may_write_to(&self, address: &str) -> bool {
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase();
        self.allowed_domains.is_empty()
            || self.allowed_domains.iter().any(|d| {
                let d = d.trim_start_matches('@').to_ascii_lowercase();
                domain == d || domain.ends_with(&format!(".{d}"))
            })
    }
}

impl MailSettings {
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let builder = match self.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host)
                    .map_err(|e| e.to_string())?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host)
                .map_err(|e| e.to_string())?,
        };
        let mut builder = builder.port(self.port).timeout(Some(Duration::from_secs(30)));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }
}

/// Starts the mailer on `store`; it stops when the returned handle is dropped.
pub fn spawn(
    store: Store,
    clock: kernel::Clock,
    settings: MailSettings,
) -> Result<kernel::schedule::Running, String> {
    let transport = settings.transport()?;
    let settings = Arc::new(settings);
    Ok(kernel::schedule::spawn(store, clock, move || {
        Mailer::new(settings.clone(), transport.clone())
    }))
}

/// A message the log called for, and where it stands.
#[derive(Debug)]
struct Pending {
    message: Message,
    /// The promise or follow-up a reminder is about: not sent once it is settled.
    about: Option<Uuid>,
    source_id: Uuid,
    source_sequence: u64,
    source_at: DateTime<Utc>,
    mail: Mail,
}

/// The mailer's schedule.
pub struct Mailer {
    settings: Arc<MailSettings>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    facts: Facts,
    opted_out: HashSet<String>,
    /// The promises and follow-ups settled (kept, broken, done): no reminder of them is sent.
    settled: HashSet<Uuid>,
    pending: HashMap<Uuid, Pending>,
    wakes: Wakes<Uuid>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("pending", &self.pending.len()).finish()
    }
}

impl Mailer {
    fn new(settings: Arc<MailSettings>, transport: AsyncSmtpTransport<Tokio1Executor>) -> Self {
        let facts = Facts { it_staff: settings.it_staff.clone(), ..Facts::default() };
        Self {
            settings,
            transport,
            facts,
            opted_out: HashSet::new(),
            settled: HashSet::new(),
            pending: HashMap::new(),
            wakes: Wakes::default(),
        }
    }

    fn forget(&mut self, id: Uuid) {
        self.pending.remove(&id);
        self.wakes.set(id, None);
    }

    /// Claims, sends and records one message.
    async fn send(&mut self, store: &Store, id: Uuid, now: DateTime<Utc>) {
        let Some(p) = self.pending.get(&id) else { return };
        if self.opted_out.contains(&p.message.to.to_ascii_lowercase()) {
            tracing::debug!(to = %p.message.to, "opted out: not sent");
            return self.forget(id);
        }
        if !self.settings.may_write_to(&p.message.to) {
            tracing::warn!(to = %p.message.to, "not an allowed mail domain: not sent");
            return self.forget(id);
        }
        if p.mail.claimed.is_none() && now - p.source_at > MAX_AGE {
            return self.forget(id);
        }
        match p.mail.claimable_at() {
            None => return self.forget(id),
            Some(at) if at > now => return self.wakes.set(id, Some(at)),
            Some(_) => {}
        }
        let stream = kernel::stream(mail_stream(id));
        let claimed = MailClaimed {
            to: p.message.to.clone(),
            template: p.message.template.to_owned(),
            subject: p.message.subject.clone(),
            source_event_id: p.source_id,
            source_sequence: p.source_sequence,
            holder: self.settings.instance.clone(),
            attempt: p.mail.attempts() + 1,
        };
        let version = p.mail.version;
        let event = MailEvent::from(claimed);
        match store.append(&stream, ExpectedVersion::after(version), vec![new_event(&event)]).await
        {
            Ok(_) => {}
            Err(StoreError::WrongExpectedVersion { .. }) => {
                // Another instance claimed it: the log brings its claim.
                return self.wakes.set(id, Some(now + RETRY_AFTER));
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "could not claim an e-mail");
                return self.wakes.set(id, Some(now + RETRY_AFTER));
            }
        }
        let attempt = match &event {
            MailEvent::Claimed(c) => c.attempt,
            _ => 1,
        };
        let outcome = match self.deliver(id).await {
            Ok(response) => MailEvent::from(MailSent { response }),
            Err(error) => {
                tracing::warn!(%id, %error, "the mail relay did not take an e-mail");
                MailEvent::from(MailFailed { error, retry_at: mail_retry_at(now, attempt) })
            }
        };
        // The attempt happened: record it whatever else was appended meanwhile.
        if let Err(e) = store.append(&stream, ExpectedVersion::Any, vec![new_event(&outcome)]).await
        {
            tracing::warn!(%id, error = %e, "could not record an e-mail's outcome");
        }
        if let Some(p) = self.pending.get_mut(&id) {
            p.mail.apply(&event, version + 1, now);
            p.mail.apply(&outcome, version + 2, now);
            let next = p.mail.claimable_at();
            self.wakes.set(id, next);
            if next.is_none() {
                self.pending.remove(&id);
            }
        }
    }

    async fn deliver(&self, id: Uuid) -> Result<String, String> {
        let p = self.pending.get(&id).ok_or("no such message")?;
        let from = self.settings.sender()?;
        let to = p.message.to.parse().map_err(|e| format!("the address {}: {e}", p.message.to))?;
        let email = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(&p.message.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(p.message.body.clone())
            .map_err(|e| e.to_string())?;
        let response = self.transport.send(email).await.map_err(|e| e.to_string())?;
        Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
    }
}

fn new_event(event: &MailEvent) -> NewEvent {
    kernel::new_event(event, Metadata::new(Actor::system("reporting"), "reporting"))
}

impl Schedule for Mailer {
    const NAME: &'static str = "mailer";

    fn filter(&self) -> Filter {
        Filter::categories([
            PurchaseEvent::CATEGORY,
            events::clocks::SLA_CATEGORY,
            events::reminders::REMINDER_CATEGORY,
            FollowUpEvent::CATEGORY,
            MailEvent::CATEGORY,
            MailPreferenceEvent::CATEGORY,
            PromiseEvent::CATEGORY,
        ])
    }

    fn apply(&mut self, record: &RecordedEvent) {
        let Ok(event) = Published::decode(record.category(), &record.event_type, &record.data)
        else {
            return;
        };
        match &event {
            Published::Purchase(PurchaseEvent::Submitted(s)) => {
                let purchase = Purchase {
                    requester: s.requester_email.to_string(),
                    school: s.school_id.to_string(),
                    reference: s.external_ref.to_string(),
                    vendor: s.vendor.to_string(),
                };
                self.facts.purchases.insert(s.purchase_id, purchase);
            }
            Published::FollowUp(FollowUpEvent::Scheduled(f)) => {
                self.facts
                    .followup_owners
                    .insert(f.followup_id, record.metadata.actor.subject.clone());
            }
            Published::Promise(PromiseEvent::Kept(_) | PromiseEvent::Broken(_))
            | Published::FollowUp(FollowUpEvent::Done(_)) => {
                let Ok(item) = record.stream_id().parse::<Uuid>() else { return };
                self.settled.insert(item);
                let unsent: Vec<Uuid> = self
                    .pending
                    .iter()
                    .filter(|(_, p)| p.about == Some(item))
                    .map(|(id, _)| *id)
                    .collect();
                for id in unsent {
                    self.pending.remove(&id);
                    self.wakes.set(id, None);
                }
                return;
            }
            Published::MailPreference(MailPreferenceEvent::Set(p)) => {
                let email = p.email.to_ascii_lowercase();
                if p.opted_out {
                    self.opted_out.insert(email);
                } else {
                    self.opted_out.remove(&email);
                }
                return;
            }
            Published::Mail(mail) => {
                let Ok(id) = record.stream_id().parse::<Uuid>() else { return };
                if let Some(p) = self.pending.get_mut(&id) {
                    p.mail.apply(mail, record.version, record.recorded_at);
                    let next = p.mail.claimable_at();
                    self.wakes.set(id, next);
                    if next.is_none() {
                        self.pending.remove(&id);
                    }
                }
                return;
            }
            _ => {}
        }
        let about = match &event {
            Published::Reminder(reminder) => reminder.about().map(|(item, _)| item),
            _ => None,
        };
        if about.is_some_and(|item| self.settled.contains(&item)) {
            return;
        }
        for message in compose::messages(&event, record.stream_id(), &self.facts) {
            let id = mail_id(record.id, message.template, &message.to);
            if self.pending.contains_key(&id) {
                continue;
            }
            self.pending.insert(
                id,
                Pending {
                    message,
                    about,
                    source_id: record.id,
                    source_sequence: record.position,
                    source_at: record.recorded_at,
                    mail: Mail::default(),
                },
            );
            self.wakes.set(id, Some(record.recorded_at));
        }
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.wakes.next()
    }

    async fn run_due(&mut self, store: &Store, now: DateTime<Utc>) {
        for id in self.wakes.due(now) {
            self.send(store, id, now).await;
        }
    }

    fn counts(&self) -> (usize, usize) {
        (self.pending.len(), self.wakes.len())
    }
}
