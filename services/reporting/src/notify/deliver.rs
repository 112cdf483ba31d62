//! Delivering the log to webhook endpoints: one worker per endpoint in every instance, the
//! endpoint's lease deciding which one sends (`events::notifications` has the rules).
//!
//! A worker reads the endpoint's stream, then, while the endpoint is active:
//!
//! 1. reads the events after its checkpoint that its owner receives (filtered by type, then
//!    by the audience rule), up to a batch; with none, it waits for the log to move;
//! 2. waits until the failing event's retry time, if one is failing;
//! 3. takes or renews the lease (appended at the stream's version: another instance that got
//!    there first wins, and this one waits for the lease to end);
//! 4. POSTs the events in order, each signed, while its lease has time for an attempt,
//!    stopping at the first failure;
//! 5. records the attempts (`webhook-attempts-recorded`), and disables the endpoint on `410
//!    Gone` or after days of failure (`webhook-disabled`).
//!
//! Every step reads and appends through the log, so a restarted instance resumes from the
//! record; the events sent since the last record are sent again (with the same `webhook-id`,
//! which receivers use to drop duplicates).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use eventlog::{
    Actor, Direction, ExpectedVersion, Filter, Metadata, RecordedEvent, StoreError, StreamName,
};
use events::notifications::{
    AttemptOutcome, DeliveryAttempt, DisableReason, Webhook, WebhookAttemptsRecorded,
    WebhookDisabled, WebhookEvent, WebhookLeaseTaken, WebhookRegistered, next_attempt_at,
};
use kernel::Clock;
use uuid::Uuid;

use super::Notifier;
use super::signing::signature_header;
use crate::scope::Scope;

/// How long the worker waits after the log failed it.
const BACKOFF: Duration = Duration::from_secs(2);
/// The most of an answer kept in the record.
const EXCERPT: usize = 200;
/// Categories never delivered: the endpoints' own records (they would feed themselves).
const NEVER_DELIVERED: [&str; 1] = [events::notifications::WEBHOOK_CATEGORY];

/// Starts the supervisor: it follows registrations and replays, and keeps one worker running
/// per active endpoint.
pub(crate) fn spawn(notifier: Notifier) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = supervise(&notifier).await {
                tracing::warn!(error = %e, "webhook supervisor stopped; starting again");
                tokio::time::sleep(BACKOFF).await;
            }
        }
    })
}

async fn supervise(notifier: &Notifier) -> eventlog::Result<()> {
    let store = &notifier.store;
    let filter = Filter::categories([events::notifications::WEBHOOK_CATEGORY])
        .with_types(["webhook-registered", "webhook-replay-requested"]);
    let mut log = eventlog::Subscription::new(store.watch_head(), 0, filter, 1000);
    // Dropped with the supervisor (when the service stops): every worker stops with it.
    let mut workers: HashMap<Uuid, Task> = HashMap::new();
    loop {
        let records = log.next(&**store).await?;
        for record in records {
            let Ok(id) = record.stream_id().parse::<Uuid>() else { continue };
            if workers.get(&id).is_some_and(|w| !w.0.is_finished()) {
                continue;
            }
            let worker = Worker::new(notifier.clone(), id);
            workers.insert(id, Task(tokio::spawn(worker.run())));
        }
    }
}

/// A worker's task: aborted when dropped.
struct Task(tokio::task::JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the worker does next.
enum Next {
    /// Go round again at once.
    Again,
    /// Wait for the log to move, the clock to be moved, or `until`.
    Wait(Option<DateTime<Utc>>),
    /// The endpoint is deleted or disabled.
    Stop,
}

struct Worker {
    notifier: Notifier,
    id: Uuid,
    stream: StreamName,
    hook: Webhook,
    /// What the owner receives (set once the registration is read).
    scope: Option<Scope>,
    /// Nothing for the endpoint before here (past its checkpoint): where the next read starts.
    scanned: u64,
}

impl Worker {
    fn new(notifier: Notifier, id: Uuid) -> Self {
        let stream = kernel::stream(events::notifications::webhook_stream(id));
        Self { notifier, id, stream, hook: Webhook::default(), scope: None, scanned: 0 }
    }

    fn clock(&self) -> &Clock {
        &self.notifier.clock
    }

    async fn run(mut self) {
        let mut head = self.notifier.store.watch_head();
        let mut moved = self.clock().moved();
        loop {
            // Marked seen before the log is read, so that an append during the read still
            // wakes the wait below (marking it after would lose it).
            head.borrow_and_update();
            moved.borrow_and_update();
            let next = match self.step().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(webhook = %self.id, error = %e, "webhook delivery paused");
                    tokio::time::sleep(BACKOFF).await;
                    Next::Again
                }
            };
            match next {
                Next::Again => {}
                Next::Stop => return,
                Next::Wait(until) => {
                    let sleep =
                        until.map(|at| (at - self.clock().now()).to_std().unwrap_or_default());
                    tokio::select! {
                        _ = head.changed() => {}
                        _ = moved.changed() => {}
                        _ = kernel::schedule::sleep_for(sleep) => {}
                    }
                }
            }
        }
    }

    /// Reads what the endpoint's stream gained since the last read.
    async fn refresh(&mut self) -> eventlog::Result<()> {
        let store = &self.notifier.store;
        loop {
            let from = self.hook.version + 1;
            let records = store.read_stream(&self.stream, from, Direction::Forwards, 1000).await?;
            let done = records.len() < 1000;
            let before = self.hook.delivered_through;
            for record in &records {
                let event = kernel::decode::<WebhookEvent>(record)
                    .map_err(|e| StoreError::InvalidEvent(e.to_string()))?;
                self.hook.apply(&event, record.version, record.recorded_at);
            }
            if self.hook.delivered_through < before {
                self.scanned = 0; // a replay
            }
            if done {
                break;
            }
        }
        if let (None, Some(registered)) = (&self.scope, &self.hook.registered) {
            self.scope = Some(Scope::for_owner(&registered.owner));
        }
        Ok(())
    }

    async fn step(&mut self) -> eventlog::Result<Next> {
        // Whether the log moved since the endpoint was read (a deletion, a rotation or a replay
        // would have moved it).
        let mut moved = self.notifier.store.watch_head();
        moved.borrow_and_update();
        self.refresh().await?;
        if !self.hook.active() {
            return Ok(Next::Stop);
        }
        let now = self.clock().now();
        if self.hook.should_disable(now) {
            let detail = format!(
                "no delivery has succeeded since {}: disabled after {} days of failure",
                self.hook.failing_since.map(|t| t.to_rfc3339()).unwrap_or_default(),
                events::notifications::DISABLE_AFTER_DAYS
            );
            let disabled = WebhookDisabled { reason: DisableReason::Failing, detail };
            self.append(vec![WebhookEvent::from(disabled)]).await?;
            return Ok(Next::Stop);
        }
        let pending = self.pending().await?;
        // The batch belongs to the replays known when it was read: one asked for while the
        // lease is taken below must not be counted as delivered by it.
        let replays = self.hook.replays;
        self.notifier.record_oldest(self.id, pending.first().map(|(e, _)| e.recorded_at), now);
        if pending.is_empty() {
            return Ok(Next::Wait(None));
        }
        if let Some(at) = self.hook.next_attempt_at()
            && at > now
        {
            return Ok(Next::Wait(Some(at)));
        }
        let settings = &self.notifier.settings;
        let instance = settings.instance.clone();
        let needed = attempt_time(settings.attempt_timeout);
        if !self.hook.may_send(&instance, now, needed * 2) {
            if let Some(holder) = self.hook.lease_holder(now, needed)
                && holder != instance
            {
                let until = self.hook.lease.as_ref().map(|l| l.until + needed);
                return Ok(Next::Wait(until));
            }
            let lease = WebhookLeaseTaken {
                holder: instance.clone(),
                until: now + lease_time(settings.lease),
            };
            match self.append(vec![WebhookEvent::from(lease)]).await {
                Ok(()) => {}
                Err(StoreError::WrongExpectedVersion { .. }) => return Ok(Next::Again),
                Err(e) => return Err(e),
            }
            self.refresh().await?;
        }
        let mut attempts = Vec::new();
        let mut gone = false;
        for (event, body) in &pending {
            // A deletion, a secret's rotation or a replay asked for while the batch goes out
            // holds from the next event on: the endpoint is read again when the log moved.
            if moved.has_changed().unwrap_or(true) {
                moved.borrow_and_update();
                if self.refresh().await.is_err() {
                    break;
                }
            }
            let (active, now) = (self.hook.active(), self.clock().now());
            if !active
                || self.hook.replays != replays
                || !self.hook.may_send(&instance, now, needed)
            {
                break;
            }
            let attempt = self.post(event, body).await;
            let outcome = attempt.outcome;
            self.notifier.count(outcome);
            attempts.push(attempt);
            match outcome {
                AttemptOutcome::Delivered => {}
                AttemptOutcome::Failed => break,
                AttemptOutcome::Gone => {
                    gone = true;
                    break;
                }
            }
        }
        if attempts.is_empty() {
            return Ok(Next::Again);
        }
        let mut record = vec![WebhookEvent::from(WebhookAttemptsRecorded { attempts, replays })];
        if gone {
            record.push(WebhookEvent::from(WebhookDisabled {
                reason: DisableReason::Gone,
                detail: "the endpoint answered 410 Gone: it no longer wants deliveries".into(),
            }));
        }
        // The attempts were made: record them even if the stream moved meanwhile.
        for _ in 0..kernel::RETRIES {
            match self.append(record.clone()).await {
                Err(StoreError::WrongExpectedVersion { .. }) => self.refresh().await?,
                other => return other.map(|()| Next::Again),
            }
        }
        Err(StoreError::Unavailable("the webhook's stream kept moving".into()))
    }

    /// The next events the endpoint receives, after its checkpoint, with their bodies.
    async fn pending(&mut self) -> eventlog::Result<Vec<(RecordedEvent, Vec<u8>)>> {
        let (Some(registered), Some(scope)) = (&self.hook.registered, &mut self.scope) else {
            return Ok(vec![]);
        };
        let store = self.notifier.store.clone();
        let Some(filter) = scope.narrow(&filter_of(registered)) else { return Ok(vec![]) };
        let batch = self.notifier.settings.batch;
        let mut out = Vec::new();
        let mut after = self.hook.delivered_through.max(self.scanned);
        // The failing event is read first again: it is sent again before anything after it.
        if let Some(failing) = &self.hook.failing {
            after = after.min(failing.sequence - 1);
        }
        loop {
            let head = store.head().await?;
            let records = store.read_all(after, &filter, batch).await?;
            let full = records.len() == batch;
            let reached = records.last().map_or(after, |r| r.position);
            for shown in scope.admit(&*store, &records).await? {
                let body = serde_json::to_vec(&shown.cloud()).expect("CloudEvents serialize");
                out.push((shown.event.clone(), body));
            }
            if !out.is_empty() {
                return Ok(out);
            }
            // Nothing here for the endpoint: start after it next time.
            self.scanned = if full { reached } else { reached.max(head) };
            after = self.scanned;
            if !full {
                return Ok(out);
            }
        }
    }

    /// One POST of one event.
    async fn post(&self, event: &RecordedEvent, body: &[u8]) -> DeliveryAttempt {
        let registered = self.hook.registered.as_ref().expect("only active endpoints send");
        let now = self.clock().now();
        let attempt = self.hook.attempt_of(event.position);
        let id = event.id.to_string();
        // The receiver checks the timestamp against its own clock: the real time, always.
        let timestamp = Utc::now().timestamp();
        let secrets: Vec<_> = self
            .hook
            .generations_at(now)
            .into_iter()
            .map(|g| self.notifier.settings.key.secret(self.id, g))
            .collect();
        let signature = signature_header(&secrets, &id, timestamp, body);
        let started = Instant::now();
        let sent =
            match super::transport::check_url(&registered.url, self.notifier.settings.targets) {
                Ok(url) => self
                    .notifier
                    .client
                    .post(url)
                    .header("content-type", "application/cloudevents+json")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body.to_vec())
                    .send()
                    .await
                    .map_err(|e| describe(&e)),
                Err(refused) => Err(refused),
            };
        let mut out = DeliveryAttempt {
            sequence: event.position,
            event_id: event.id,
            event_type: event.event_type.clone(),
            attempt,
            at: now,
            outcome: AttemptOutcome::Failed,
            status: None,
            error: None,
            response_excerpt: None,
            duration_ms: 0,
            next_attempt_at: None,
        };
        let mut retry_after = None;
        match sent {
            Ok(response) => {
                let status = response.status();
                out.status = Some(status.as_u16());
                retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| asked_to_wait(v, now));
                out.response_excerpt = excerpt(response).await;
                if status.is_success() {
                    out.outcome = AttemptOutcome::Delivered;
                } else if status.as_u16() == 410 {
                    out.outcome = AttemptOutcome::Gone;
                    out.error = Some("410 Gone".into());
                } else {
                    out.error = Some(format!("the endpoint answered {status}"));
                }
            }
            Err(error) => out.error = Some(error),
        }
        out.duration_ms = started.elapsed().as_millis() as u64;
        if out.outcome == AttemptOutcome::Failed {
            out.next_attempt_at = Some(next_attempt_at(now, attempt, retry_after, jitter()));
        }
        out
    }

    /// Appends `events` at the version the worker knows.
    async fn append(&self, events: Vec<WebhookEvent>) -> eventlog::Result<()> {
        let meta = Metadata::new(Actor::system("reporting"), "reporting");
        let events = events.iter().map(|e| kernel::new_event(e, meta.clone())).collect();
        self.notifier
            .store
            .append(&self.stream, ExpectedVersion::after(self.hook.version), events)
            .await
            .map(|_| ())
    }
}

/// The log filter of an endpoint: its event types, in every category but the endpoints' own.
fn filter_of(registered: &WebhookRegistered) -> Filter {
    let categories =
        events::Published::CATEGORIES.iter().copied().filter(|c| !NEVER_DELIVERED.contains(c));
    Filter::categories(categories).with_types(registered.event_types.iter().cloned())
}

/// An attempt can take the timeout and a little more.
fn attempt_time(timeout: Duration) -> TimeDelta {
    TimeDelta::from_std(timeout).unwrap_or(TimeDelta::seconds(15)) + TimeDelta::seconds(5)
}

fn lease_time(lease: Duration) -> TimeDelta {
    TimeDelta::from_std(lease).unwrap_or(TimeDelta::seconds(60))
}

/// How long a `Retry-After` header `value` asks to wait from `now`: delay-seconds or an
/// HTTP-date (RFC 9110, section 10.2.3; a date already past asks for no wait). `None` for
/// anything else.
fn asked_to_wait(value: &str, now: DateTime<Utc>) -> Option<TimeDelta> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(TimeDelta::seconds(i64::from(seconds)));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).max(TimeDelta::zero()))
}

/// A fraction from -1 to 1.
fn jitter() -> f64 {
    fastrand::f64() * 2.0 - 1.0
}

/// What went wrong with a request that got no answer, in words.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within the timeout".into()
    } else if e.is_connect() {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut last = e.to_string();
        while let Some(s) = source {
            last = s.to_string();
            source = s.source();
        }
        format!("could not connect: {last}")
    } else {
        format!("the request failed: {e}")
    }
}

/// The first [`EXCERPT`] characters of an answer; the rest is not read.
async fn excerpt(mut response: reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let text: String = text.chars().take(EXCERPT).collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl Notifier {
    fn count(&self, outcome: AttemptOutcome) {
        let outcome = match outcome {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Gone => "gone",
        };
        metrics::counter!("procgate_webhook_deliveries_total", "outcome" => outcome).increment(1);
    }

    fn record_oldest(&self, id: Uuid, oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let age = oldest.map_or(0.0, |at| (now - at).num_milliseconds().max(0) as f64 / 1000.0);
        metrics::gauge!("procgate_webhook_oldest_undelivered_seconds", "webhook" => id.to_string())
            .set(age);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_retry_after_then_seconds_and_http_dates_are_waits_from_now() {
        let now: DateTime<Utc> = "2026-12-02T11:59:00Z".parse().unwrap();
        assert_eq!(asked_to_wait(" 120 ", now), Some(TimeDelta::seconds(120)));
        let date = "Wed, 02 Dec 2026 12:00:00 GMT";
        assert_eq!(asked_to_wait(date, now), Some(TimeDelta::seconds(60)));
        // The obsolete forms a recipient still accepts.
        let rfc850 = "Wednesday, 02-Dec-26 12:00:00 GMT";
        assert_eq!(asked_to_wait(rfc850, now), Some(TimeDelta::seconds(60)));
        assert_eq!(asked_to_wait("Wed Dec  2 12:00:00 2026", now), Some(TimeDelta::seconds(60)));
        // A date past asks for no wait; anything else asks for nothing.
        let past = "Tue, 01 Dec 2026 12:00:00 GMT";
        assert_eq!(asked_to_wait(past, now), Some(TimeDelta::zero()));
        for junk in ["soon", "-5", "1.5", ""] {
            assert_eq!(asked_to_wait(junk, now), None, "{junk:?}");
        }
    }
}
