//! Notifications: webhook endpoints and their deliveries, durable named subscriptions.
//!
//! ## Webhook endpoints
//!
//! Each endpoint is a `webhook-{uuid}` stream ([`webhook_stream`]): its registration, secret
//! rotations, deletion or disabling, and its delivery record. The endpoint is a consumer of
//! the log: its checkpoint is the last event delivered ([`Webhook::delivered_through`]), kept
//! in its own stream, so a restart resumes where deliveries stopped and the record of every
//! attempt is on the log for IT and auditors.
//!
//! With several instances running, the instance that delivers is the one holding the
//! endpoint's **lease** (`webhook-lease-taken`, appended at the stream's version, so two
//! instances cannot both take it); the holder records its attempts at the version it knows,
//! so an instance that lost the lease learns it at its next append. An instance sends only
//! while its lease has more time left than one attempt can take ([`Webhook::may_send`]):
//! each event reaches the endpoint once per attempt, not once per instance.
//!
//! Retries follow the Standard Webhooks schedule ([`RETRY_SCHEDULE`]: 5 s, 5 min, 30 min,
//! 2 h, 5 h, 10 h, then every 10 h) with jitter, or the endpoint's `Retry-After` when it asks
//! for longer ([`next_attempt_at`]). Events go out in log order: an event that keeps failing
//! holds up the events after it on that endpoint only. An endpoint that answers `410 Gone` is
//! disabled at once; one that has failed without a success for [`DISABLE_AFTER_DAYS`] days is
//! disabled too, with an event saying so ([`Webhook::should_disable`]).
//!
//! Secrets are never on the log: an endpoint's secret of generation `n` is derived from the
//! district's webhook key, the endpoint id and `n` (by the reporting service). Rotating
//! (`webhook-secret-rotated`) starts generation `n + 1`; the previous one stays valid until
//! `previous_expires_at`, and deliveries carry both signatures meanwhile
//! ([`Webhook::generations_at`]).
//!
//! | event | what |
//! |---|---|
//! | `webhook-registered` | URL, event types, description, owner, where deliveries start |
//! | `webhook-secret-rotated` | a new secret generation; the previous one's expiry |
//! | `webhook-deleted` | the owner or an admin deleted it |
//! | `webhook-disabled` | `410 Gone`, or failing for days |
//! | `webhook-lease-taken` | an instance delivers for the endpoint until `until` |
//! | `webhook-attempts-recorded` | attempts made (each: event, outcome, status, next retry) |
//! | `webhook-replay-requested` | deliver again from `after` |
//!
//! ## Subscriptions
//!
//! A durable named subscription (`subscription-{name}`, [`subscription_stream`]) is created
//! once with its owner and filters; its checkpoint, moved by the consumer's acknowledgements,
//! is kept beside the log's other consumers' checkpoints.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The category of webhook endpoints' streams.
pub const WEBHOOK_CATEGORY: &str = "webhook";
/// The category of durable subscriptions' streams.
pub const SUBSCRIPTION_CATEGORY: &str = "subscription";

/// The stream of the webhook endpoint `id`: `webhook-{id}`.
pub fn webhook_stream(id: Uuid) -> String {
    format!("{WEBHOOK_CATEGORY}-{id}")
}

/// The stream of the subscription `name`: `subscription-{name}`.
pub fn subscription_stream(name: &str) -> String {
    format!("{SUBSCRIPTION_CATEGORY}-{name}")
}

/// Who registered an endpoint or created a subscription: what it may receive follows from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Owner {
    /// The token subject.
    pub subject: String,
    /// The role it acted in (`admin`, `finance`, `integration`).
    pub role: String,
}

/// A webhook endpoint was registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookRegistered {
    pub webhook_id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Only these event types are delivered; empty: every type the owner may receive.
    pub event_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub owner: Owner,
    /// Deliveries start after this log position (the head when it was registered).
    pub start_after: u64,
}

/// A new secret generation; the previous one signs too until `previous_expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookSecretRotated {
    pub generation: u32,
    pub previous_expires_at: DateTime<Utc>,
}

/// The endpoint was deleted: nothing more is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDeleted {}

/// The endpoint was disabled: nothing more is delivered until it is replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDisabled {
    /// `gone` (it answered 410) or `failing` (no success for days).
    pub reason: DisableReason,
    /// In words, for the people who read the endpoint.
    pub detail: String,
}

/// Why an endpoint was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisableReason {
    Gone,
    Failing,
}

/// An instance delivers for the endpoint until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookLeaseTaken {
    /// The instance.
    pub holder: String,
    pub until: DateTime<Utc>,
}

/// Delivery attempts, in the order they were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookAttemptsRecorded {
    pub attempts: Vec<DeliveryAttempt>,
    /// How many replays the endpoint had when the attempts began ([`Webhook::replays`]): the
    /// attempts of a batch that a replay overtook are history only, and move nothing.
    #[serde(default)]
    pub replays: u32,
}

/// One POST of one event to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    /// The event's log position.
    pub sequence: u64,
    /// The event's id (the `webhook-id` header).
    pub event_id: Uuid,
    pub event_type: String,
    /// 1 for the first attempt at this event.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// The HTTP status the endpoint answered, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in words (a timeout, a refused connection, the status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the endpoint's answer (at most 200 characters; nothing more is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
    pub duration_ms: u64,
    /// When the event will be tried again (failed attempts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered,
    /// Anything else: it will be tried again.
    Failed,
    /// `410 Gone`: the endpoint was disabled.
    Gone,
}

/// Deliver again every event after `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookReplayRequested {
    pub after: u64,
}

event_family! {
    /// The events of a `webhook-{uuid}` stream.
    pub enum WebhookEvent in "webhook" {
        Registered(WebhookRegistered) = "webhook-registered",
        SecretRotated(WebhookSecretRotated) = "webhook-secret-rotated",
        Deleted(WebhookDeleted) = "webhook-deleted",
        Disabled(WebhookDisabled) = "webhook-disabled",
        LeaseTaken(WebhookLeaseTaken) = "webhook-lease-taken",
        AttemptsRecorded(WebhookAttemptsRecorded) = "webhook-attempts-recorded",
        ReplayRequested(WebhookReplayRequested) = "webhook-replay-requested",
    }
}

/// A durable named subscription was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionCreated {
    pub name: String,
    /// Only these event types; empty: every type the owner may receive.
    pub event_types: Vec<String>,
    pub owner: Owner,
    /// Its checkpoint starts here (0: the beginning of the log).
    pub start_after: u64,
}

event_family! {
    /// The events of a `subscription-{name}` stream.
    pub enum SubscriptionEvent in "subscription" {
        Created(SubscriptionCreated) = "subscription-created",
    }
}

/// The category of e-mail notifications' streams (`mail-{uuid}`, one per message).
pub const MAIL_CATEGORY: &str = "mail";
/// The category of people's e-mail preferences (`mailpref-{uuid}`, one per address).
pub const MAIL_PREFERENCE_CATEGORY: &str = "mailpref";

/// The namespace of messages' and addresses' stream ids (UUID v5).
const MAIL_NAMESPACE: Uuid = Uuid::from_u128(0x8c1e_6a0f_52d4_4b7e_9f3a_d21c_07b5_e946);

/// The id of the message `template` about event `source` to `to`: the same in every instance,
/// so each message has one stream, whoever sends it.
pub fn mail_id(source: Uuid, template: &str, to: &str) -> Uuid {
    let name = format!("{source}:{template}:{}", to.to_ascii_lowercase());
    Uuid::new_v5(&MAIL_NAMESPACE, name.as_bytes())
}

/// The stream of message `id`: `mail-{id}`.
pub fn mail_stream(id: Uuid) -> String {
    format!("{MAIL_CATEGORY}-{id}")
}

/// The stream of an address's preferences: `mailpref-{uuid v5 of the address}` (ignoring
/// case).
pub fn mail_preference_stream(email: &str) -> String {
    let id = Uuid::new_v5(&MAIL_NAMESPACE, email.to_ascii_lowercase().as_bytes());
    format!("{MAIL_PREFERENCE_CATEGORY}-{id}")
}

/// An instance took a message to send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailClaimed {
    pub to: String,
    /// `purchase-held`, `purchase-held-requester`, `purchase-decided`, `sla-warning`,
    /// `sla-breached`, `sla-escalated`, `promise-due`, `followup-due`.
    pub template: String,
    pub subject: String,
    /// The event it is about.
    pub source_event_id: Uuid,
    pub source_sequence: u64,
    /// The instance sending it.
    pub holder: String,
    /// Attempts so far, this one included.
    pub attempt: u32,
}

/// The mail relay accepted the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailSent {
    /// The relay's answer.
    pub response: String,
}

/// The mail relay did not take the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailFailed {
    pub error: String,
    /// When it is tried again; absent: given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
}

event_family! {
    /// The events of a `mail-{uuid}` stream: one e-mail notification.
    pub enum MailEvent in "mail" {
        Claimed(MailClaimed) = "mail-claimed",
        Sent(MailSent) = "mail-sent",
        Failed(MailFailed) = "mail-failed",
    }
}

/// A person's choice about notification e-mails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailPreferenceSet {
    pub email: String,
    /// Whether they receive no notification e-mails.
    pub opted_out: bool,
}

event_family! {
    /// The events of a `mailpref-{uuid}` stream.
    pub enum MailPreferenceEvent in "mailpref" {
        Set(MailPreferenceSet) = "mail-preference-set",
    }
}

/// Where one message stands, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mail {
    pub version: u64,
    pub claimed: Option<(MailClaimed, DateTime<Utc>)>,
    pub sent: bool,
    /// The last failure's retry time; `Some(None)`: given up.
    pub failed: Option<Option<DateTime<Utc>>>,
}

/// How long a claim without an outcome holds off other instances (the claimer may have
/// stopped mid-send).
pub const MAIL_CLAIM_TIMEOUT: Duration = Duration::minutes(5);
/// The most attempts at one message.
pub const MAIL_ATTEMPTS: u32 = 6;

impl Mail {
    pub fn apply(&mut self, event: &MailEvent, version: u64, at: DateTime<Utc>) {
        self.version = version;
        match event {
            MailEvent::Claimed(c) => {
                self.claimed = Some((c.clone(), at));
                self.failed = None;
            }
            MailEvent::Sent(_) => self.sent = true,
            MailEvent::Failed(f) => self.failed = Some(f.retry_at),
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.claimed.as_ref().map_or(0, |(c, _)| c.attempt)
    }

    /// When the message may next be claimed: `None` when it never will be (sent, given up).
    pub fn claimable_at(&self) -> Option<DateTime<Utc>> {
        if self.sent {
            return None;
        }
        match (&self.claimed, self.failed) {
            (None, _) => Some(DateTime::<Utc>::MIN_UTC),
            (Some(_), Some(retry_at)) => retry_at,
            (Some((_, at)), None) => Some(*at + MAIL_CLAIM_TIMEOUT),
        }
    }
}

/// When to try a message again after its `attempt`-th failure: 1, 5, 15, 60 and 240 minutes;
/// `None` after [`MAIL_ATTEMPTS`].
pub fn mail_retry_at(now: DateTime<Utc>, attempt: u32) -> Option<DateTime<Utc>> {
    const WAITS: [i64; 5] = [1, 5, 15, 60, 240];
    (attempt < MAIL_ATTEMPTS)
        .then(|| now + Duration::minutes(WAITS[(attempt.max(1) as usize - 1).min(WAITS.len() - 1)]))
}

/// The Standard Webhooks retry schedule: the wait before attempt 2, 3, …; after the last, every
/// 10 hours, until the endpoint is disabled.
pub const RETRY_SCHEDULE: [Duration; 6] = [
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
];

/// An endpoint that has failed for this many days without one success is disabled.
pub const DISABLE_AFTER_DAYS: i64 = 5;

/// The most an endpoint's `Retry-After` may put off the next attempt.
pub const MAX_RETRY_AFTER: Duration = Duration::hours(10);

/// When to try again after the `failed`-th failed attempt (1 for the first): the schedule's
/// wait, spread by `jitter` (a fraction from -1 to 1 scaling ±10 % of the wait, so that many
/// endpoints failing together do not retry together), or the endpoint's `Retry-After` when it
/// asks for longer (at most [`MAX_RETRY_AFTER`]).
pub fn next_attempt_at(
    now: DateTime<Utc>,
    failed: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> DateTime<Utc> {
    let step = (failed.max(1) as usize - 1).min(RETRY_SCHEDULE.len() - 1);
    let wait = RETRY_SCHEDULE[step];
    let spread = (wait.num_milliseconds() as f64 * 0.1 * jitter.clamp(-1.0, 1.0)) as i64;
    let wait = wait + Duration::milliseconds(spread);
    let wait = match retry_after {
        Some(asked) => wait.max(asked.min(MAX_RETRY_AFTER)),
        None => wait,
    };
    now + wait
}

/// The event that keeps failing, and where its retries stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Failing {
    pub sequence: u64,
    /// Attempts made at it so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
}

/// A webhook endpoint, folded from its stream (also the reporting service's document of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub version: u64,
    pub registered: Option<WebhookRegistered>,
    pub registered_at: Option<DateTime<Utc>>,
    /// The secret generation in use (1 when registered).
    pub generation: u32,
    /// Until when the previous generation signs too.
    pub previous_expires_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub disabled: Option<WebhookDisabled>,
    pub lease: Option<WebhookLeaseTaken>,
    /// Every event up to here that the endpoint receives has been delivered.
    pub delivered_through: u64,
    /// The event being retried, if the last attempt failed.
    pub failing: Option<Failing>,
    /// The first failure since the last success.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered: u64,
    pub failed: u64,
    /// How many replays were requested: a batch records the count it began under.
    #[serde(default)]
    pub replays: u32,
}

impl Webhook {
    /// Folds one event of the endpoint's stream in, recorded at `at`.
    pub fn apply(&mut self, event: &WebhookEvent, version: u64, at: DateTime<Utc>) {
        self.version = version;
        match event {
            WebhookEvent::Registered(r) => {
                self.delivered_through = r.start_after;
                self.generation = 1;
                self.registered = Some(r.clone());
                self.registered_at = Some(at);
            }
            WebhookEvent::SecretRotated(r) => {
                self.generation = r.generation;
                self.previous_expires_at = Some(r.previous_expires_at);
            }
            WebhookEvent::Deleted(_) => self.deleted = true,
            WebhookEvent::Disabled(d) => self.disabled = Some(d.clone()),
            WebhookEvent::LeaseTaken(l) => self.lease = Some(l.clone()),
            WebhookEvent::AttemptsRecorded(r) => {
                let current = r.replays == self.replays;
                for attempt in &r.attempts {
                    self.record(attempt, current);
                }
            }
            WebhookEvent::ReplayRequested(r) => {
                self.replays += 1;
                self.delivered_through = r.after;
                self.failing = None;
                self.failing_since = None;
                self.disabled = None;
            }
        }
    }

    /// Counts an attempt; moves the checkpoint and the retries only when it is `current` (not
    /// overtaken by a replay).
    fn record(&mut self, attempt: &DeliveryAttempt, current: bool) {
        self.last_attempt_at = Some(attempt.at);
        if !current {
            match attempt.outcome {
                AttemptOutcome::Delivered => self.delivered += 1,
                AttemptOutcome::Failed | AttemptOutcome::Gone => self.failed += 1,
            }
            return;
        }
        match attempt.outcome {
            AttemptOutcome::Delivered => {
                self.delivered += 1;
                self.delivered_through = self.delivered_through.max(attempt.sequence);
                self.failing = None;
                self.failing_since = None;
            }
            AttemptOutcome::Failed | AttemptOutcome::Gone => {
                self.failed += 1;
                self.failing_since.get_or_insert(attempt.at);
                self.failing = Some(Failing {
                    sequence: attempt.sequence,
                    attempts: attempt.attempt,
                    next_attempt_at: attempt.next_attempt_at.unwrap_or(attempt.at),
                });
            }
        }
    }

    /// Whether deliveries go out: registered, neither deleted nor disabled.
    pub fn active(&self) -> bool {
        self.registered.is_some() && !self.deleted && self.disabled.is_none()
    }

    /// Whether `holder` holds the lease with more than `attempt` left at `now`: long enough
    /// for one attempt to end before anyone else may take the lease.
    pub fn may_send(&self, holder: &str, now: DateTime<Utc>, attempt: Duration) -> bool {
        self.lease.as_ref().is_some_and(|l| l.holder == holder && l.until - now > attempt)
    }

    /// Who holds the lease at `now`, if anyone does. Another instance's lease counts for
    /// `grace` past its end: its last attempt and record may still be under way, and clocks
    /// differ a little between machines.
    pub fn lease_holder(&self, now: DateTime<Utc>, grace: Duration) -> Option<&str> {
        self.lease.as_ref().filter(|l| l.until + grace > now).map(|l| l.holder.as_str())
    }

    /// The attempt number of the next POST of `sequence`.
    pub fn attempt_of(&self, sequence: u64) -> u32 {
        match &self.failing {
            Some(f) if f.sequence == sequence => f.attempts + 1,
            _ => 1,
        }
    }

    /// When the next attempt may be made: now, or the failing event's retry time.
    pub fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.failing.as_ref().map(|f| f.next_attempt_at)
    }

    /// Whether the endpoint has failed without a success for [`DISABLE_AFTER_DAYS`] days.
    pub fn should_disable(&self, now: DateTime<Utc>) -> bool {
        self.failing_since.is_some_and(|since| now - since >= Duration::days(DISABLE_AFTER_DAYS))
    }

    /// The secret generations that sign a delivery made at `now`: the current one, and the
    /// previous one during a rotation's overlap.
    pub fn generations_at(&self, now: DateTime<Utc>) -> Vec<u32> {
        let mut out = vec![self.generation];
        if self.generation > 1 && self.previous_expires_at.is_some_and(|until| now < until) {
            out.push(self.generation - 1);
        }
        out
    }
}

/// Folds a whole stream's events (with their versions and times).
pub fn fold_webhook<'a>(
    events: impl IntoIterator<Item = (&'a WebhookEvent, u64, DateTime<Utc>)>,
) -> Webhook {
    let mut hook = Webhook::default();
    for (event, version, at) in events {
        hook.apply(event, version, at);
    }
    hook
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn registered() -> WebhookEvent {
        WebhookEvent::from(WebhookRegistered {
            webhook_id: Uuid::nil(),
            url: "https://erp.example.org/hooks".into(),
            event_types: vec![],
            description: None,
            owner: Owner { subject: "erp".into(), role: "finance".into() },
            start_after: 40,
        })
    }

    fn attempt(sequence: u64, n: u32, outcome: AttemptOutcome, at: i64) -> DeliveryAttempt {
        DeliveryAttempt {
            sequence,
            event_id: Uuid::nil(),
            event_type: "purchase-decided".into(),
            attempt: n,
            at: t(at),
            outcome,
            status: Some(if outcome == AttemptOutcome::Delivered { 204 } else { 500 }),
            error: None,
            response_excerpt: None,
            duration_ms: 3,
            next_attempt_at: (outcome == AttemptOutcome::Failed)
                .then(|| next_attempt_at(t(at), n, None, 0.0)),
        }
    }

    fn recorded(attempts: Vec<DeliveryAttempt>) -> WebhookEvent {
        WebhookEvent::from(WebhookAttemptsRecorded { attempts, replays: 0 })
    }

    fn fold(events: &[WebhookEvent]) -> Webhook {
        fold_webhook(events.iter().enumerate().map(|(i, e)| (e, i as u64 + 1, t(i as i64))))
    }

    #[test]
    fn given_a_registration_deliveries_start_after_the_head_it_saw() {
        let hook = fold(&[registered()]);
        assert!(hook.active());
        assert_eq!(hook.delivered_through, 40);
        assert_eq!(hook.generation, 1);
        assert_eq!(hook.attempt_of(41), 1);
    }

    #[test]
    fn given_failures_the_event_is_retried_on_the_schedule_and_a_success_clears_them() {
        let hook = fold(&[
            registered(),
            recorded(vec![
                attempt(41, 1, AttemptOutcome::Delivered, 10),
                attempt(42, 1, AttemptOutcome::Failed, 11),
            ]),
        ]);
        assert_eq!(hook.delivered_through, 41);
        assert_eq!(hook.attempt_of(42), 2);
        assert_eq!(hook.next_attempt_at(), Some(t(16)));
        assert_eq!(hook.failing_since, Some(t(11)));

        let hook = fold(&[
            registered(),
            recorded(vec![attempt(42, 1, AttemptOutcome::Failed, 11)]),
            recorded(vec![attempt(42, 2, AttemptOutcome::Failed, 16)]),
        ]);
        assert_eq!(hook.attempt_of(42), 3);
        assert_eq!(hook.next_attempt_at(), Some(t(16 + 300)));
        assert_eq!(hook.failing_since, Some(t(11)), "the first failure since the last success");

        let hook = fold(&[
            registered(),
            recorded(vec![attempt(42, 1, AttemptOutcome::Failed, 11)]),
            recorded(vec![attempt(42, 2, AttemptOutcome::Delivered, 16)]),
        ]);
        assert_eq!(
            (hook.delivered_through, hook.failing.clone(), hook.failing_since),
            (42, None, None)
        );
        assert_eq!((hook.delivered, hook.failed), (1, 1));
    }

    #[test]
    fn the_schedule_is_standard_webhooks_with_jitter_and_retry_after() {
        let waits: Vec<i64> =
            (1..=8).map(|n| (next_attempt_at(t(0), n, None, 0.0) - t(0)).num_seconds()).collect();
        assert_eq!(waits, [5, 300, 1800, 7200, 18000, 36000, 36000, 36000]);
        // Jitter spreads by at most a tenth of the wait.
        assert_eq!(next_attempt_at(t(0), 2, None, 1.0), t(330));
        assert_eq!(next_attempt_at(t(0), 2, None, -1.0), t(270));
        // Retry-After asks for longer: honoured, up to ten hours; never sooner than scheduled.
        assert_eq!(next_attempt_at(t(0), 1, Some(Duration::seconds(120)), 0.0), t(120));
        assert_eq!(next_attempt_at(t(0), 2, Some(Duration::seconds(1)), 0.0), t(300));
        assert_eq!(next_attempt_at(t(0), 1, Some(Duration::days(3)), 0.0), t(36000));
    }

    #[test]
    fn given_days_of_failure_the_endpoint_is_disabled_and_a_replay_enables_it() {
        let hook = fold(&[registered(), recorded(vec![attempt(42, 1, AttemptOutcome::Failed, 0)])]);
        assert!(!hook.should_disable(t(0) + Duration::days(5) - Duration::seconds(1)));
        assert!(hook.should_disable(t(0) + Duration::days(5)));

        let disabled = WebhookEvent::from(WebhookDisabled {
            reason: DisableReason::Gone,
            detail: "410".into(),
        });
        let replay = WebhookEvent::from(WebhookReplayRequested { after: 10 });
        let hook = fold(&[registered(), disabled.clone()]);
        assert!(!hook.active());
        let hook = fold(&[registered(), disabled, replay]);
        assert!(hook.active());
        assert_eq!(hook.delivered_through, 10);
    }

    #[test]
    fn given_a_replay_during_a_batch_the_batch_is_history_and_the_replay_holds() {
        let replay = WebhookEvent::from(WebhookReplayRequested { after: 0 });
        // A batch begun before the replay is recorded after it.
        let hook = fold(&[
            registered(),
            replay,
            recorded(vec![
                attempt(41, 1, AttemptOutcome::Delivered, 10),
                attempt(42, 1, AttemptOutcome::Failed, 11),
            ]),
        ]);
        assert_eq!((hook.delivered_through, hook.failing.clone()), (0, None));
        assert_eq!((hook.delivered, hook.failed, hook.replays), (1, 1, 1));
        // A batch begun after it moves things on.
        let after = WebhookEvent::from(WebhookAttemptsRecorded {
            attempts: vec![attempt(5, 1, AttemptOutcome::Delivered, 12)],
            replays: 1,
        });
        let hook =
            fold(&[registered(), WebhookEvent::from(WebhookReplayRequested { after: 0 }), after]);
        assert_eq!(hook.delivered_through, 5);
    }

    #[test]
    fn only_the_lease_holder_with_time_for_an_attempt_may_send() {
        let lease = WebhookEvent::from(WebhookLeaseTaken { holder: "a".into(), until: t(60) });
        let hook = fold(&[registered(), lease]);
        let attempt = Duration::seconds(20);
        assert!(hook.may_send("a", t(0), attempt));
        assert!(!hook.may_send("b", t(0), attempt));
        assert!(!hook.may_send("a", t(40), attempt), "the lease could end mid-attempt");
        assert_eq!(hook.lease_holder(t(59), Duration::zero()), Some("a"));
        assert_eq!(hook.lease_holder(t(60), Duration::zero()), None);
        assert_eq!(hook.lease_holder(t(79), Duration::seconds(20)), Some("a"));
    }

    #[test]
    fn a_message_is_claimed_once_retried_after_failures_and_never_after_it_was_sent() {
        let claimed = |attempt| {
            MailEvent::from(MailClaimed {
                to: "it@district.org".into(),
                template: "purchase-held".into(),
                subject: "A purchase is held".into(),
                source_event_id: Uuid::nil(),
                source_sequence: 7,
                holder: "a".into(),
                attempt,
            })
        };
        let mut mail = Mail::default();
        assert_eq!(mail.claimable_at(), Some(DateTime::<Utc>::MIN_UTC), "new: at once");
        mail.apply(&claimed(1), 1, t(0));
        assert_eq!(mail.claimable_at(), Some(t(0) + MAIL_CLAIM_TIMEOUT), "claimed: held off");
        let retry = mail_retry_at(t(1), 1);
        assert_eq!(retry, Some(t(61)));
        mail.apply(&MailEvent::from(MailFailed { error: "421".into(), retry_at: retry }), 2, t(1));
        assert_eq!((mail.claimable_at(), mail.attempts()), (retry, 1));
        mail.apply(&claimed(2), 3, t(61));
        mail.apply(&MailEvent::from(MailSent { response: "250 OK".into() }), 4, t(62));
        assert_eq!(mail.claimable_at(), None);
        assert_eq!(mail_retry_at(t(0), MAIL_ATTEMPTS), None, "given up");
        assert_eq!(mail_id(Uuid::nil(), "x", "A@b.org"), mail_id(Uuid::nil(), "x", "a@B.org"));
    }

    #[test]
    fn during_a_rotation_both_generations_sign() {
        let rotated =
            WebhookEvent::from(WebhookSecretRotated { generation: 2, previous_expires_at: t(100) });
        let hook = fold(&[registered(), rotated]);
        assert_eq!(hook.generations_at(t(99)), vec![2, 1]);
        assert_eq!(hook.generations_at(t(100)), vec![2]);
        assert_eq!(fold(&[registered()]).generations_at(t(0)), vec![1]);
    }
}
