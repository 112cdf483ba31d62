//! The shape of a scheduler, written once: a task in every instance of a service that follows
//! the log, keeps what it must do in order of when ([`Wakes`]), sleeps until the first of it,
//! or until the log moves or the service's [`Clock`] is moved (tests), and writes what falls
//! due. It never scans on a timer.
//!
//! What a [`Schedule`] writes it writes **once, whatever the number of instances**: it decides
//! from the streams as read just then, and appends events with deterministic ids at the
//! version it read. Two instances deciding the same event append the same id: the log keeps
//! one and answers the other as a retry; one that read too early meets the expected version,
//! reads again and finds nothing left to do. No leader, no lock. On start it reads its events
//! from the beginning of the log, so it also writes whatever fell due while no instance ran,
//! each event with the time it is about.
//!
//! The gate's clocks (`purchase-sla-…`) and the stakeholder relations service's reminders
//! (`promise-due-soon`, `followup-overdue`, …) are schedules.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventlog::{Filter, RecordedEvent, Store, Subscription};

use crate::Clock;

/// How long the loop waits before starting again after the log failed it.
const BACKOFF: Duration = Duration::from_secs(2);
/// How many events a poll of the log reads at most.
const BATCH: usize = 1000;

/// What a scheduler folds from the log and writes when something falls due.
pub trait Schedule: Send + 'static {
    /// Its name in the service's logs.
    const NAME: &'static str;

    /// The events it follows, from the beginning of the log.
    fn filter(&self) -> Filter;

    /// Folds in one recorded event, in the log's order.
    fn apply(&mut self, record: &RecordedEvent);

    /// After the events of a poll were applied: writes what they call for at once (the gate
    /// records the due times a calendar change moved). Nothing by default.
    fn settle(&mut self, _store: &Store) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// When it next needs to act.
    fn next_wake(&self) -> Option<DateTime<Utc>>;

    /// Writes what is due at `now`. It must move every wake it handled past `now` (done, the
    /// next moment, or a retry a little later, after a failure), or it is called again at once.
    fn run_due(&mut self, store: &Store, now: DateTime<Utc>) -> impl Future<Output = ()> + Send;

    /// How many things it follows, and how many of them have a wake: for the log line when it
    /// caught up.
    fn counts(&self) -> (usize, usize);
}

/// A running scheduler: stops when dropped.
#[derive(Debug)]
pub struct Running(tokio::task::AbortHandle);

impl Running {
    pub fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts a scheduler on `store`, telling time by `clock`; `fresh` makes its empty state,
/// again each time it starts over after the log failed it.
pub fn spawn<S: Schedule>(
    store: Store,
    clock: Clock,
    fresh: impl Fn() -> S + Send + 'static,
) -> Running {
    let task = tokio::spawn(async move {
        loop {
            let mut schedule = fresh();
            if let Err(e) = run(&store, &clock, &mut schedule).await {
                tracing::warn!(scheduler = S::NAME, error = %e, "the scheduler stopped; starting again");
                tokio::time::sleep(BACKOFF).await;
            }
        }
    });
    Running(task.abort_handle())
}

/// Catches up from the beginning of the log, then follows it, writing what falls due.
async fn run<S: Schedule>(store: &Store, clock: &Clock, schedule: &mut S) -> eventlog::Result<()> {
    let mut log = Subscription::new(store.watch_head(), 0, schedule.filter(), BATCH);
    let mut moved = clock.moved();
    let mut caught_up = false;
    loop {
        while let Some(records) = log.poll(&**store).await? {
            for record in &records {
                schedule.apply(record);
            }
        }
        schedule.settle(store).await;
        if !caught_up {
            caught_up = true;
            let (tracked, waking) = schedule.counts();
            tracing::info!(
                scheduler = S::NAME,
                tracked,
                waking,
                position = log.position(),
                "scheduler caught up"
            );
        }
        let now = clock.now();
        let next = schedule.next_wake();
        if next.is_some_and(|at| at <= now) {
            schedule.run_due(store, now).await;
            continue;
        }
        let sleep = next.map(|at| (at - now).to_std().unwrap_or(Duration::ZERO));
        tokio::select! {
            changed = log.changed() => changed?,
            _ = sleep_for(sleep) => {}
            _ = moved.changed() => {}
        }
    }
}

/// Sleeps for `duration`, at most a year (tokio's timer reaches about two): a caller looks
/// again then, so a wake further off is slept toward, not forgotten. Forever for `None`.
pub async fn sleep_for(duration: Option<Duration>) {
    const LONGEST: Duration = Duration::from_secs(60 * 60 * 24 * 365);
    match duration {
        Some(duration) => tokio::time::sleep(duration.min(LONGEST)).await,
        None => std::future::pending::<()>().await,
    }
}

/// When each of some things next needs its scheduler, in order: at most one wake per key.
#[derive(Debug, Clone)]
pub struct Wakes<K> {
    in_order: BTreeSet<(DateTime<Utc>, K)>,
    of: HashMap<K, DateTime<Utc>>,
}

impl<K> Default for Wakes<K> {
    fn default() -> Self {
        Self { in_order: BTreeSet::new(), of: HashMap::new() }
    }
}

impl<K: Ord + Hash + Copy> Wakes<K> {
    /// Sets (or, with `None`, removes) the wake of `key`.
    pub fn set(&mut self, key: K, at: Option<DateTime<Utc>>) {
        if let Some(old) = self.of.remove(&key) {
            self.in_order.remove(&(old, key));
        }
        if let Some(at) = at {
            self.in_order.insert((at, key));
            self.of.insert(key, at);
        }
    }

    /// The wake of `key`.
    pub fn get(&self, key: K) -> Option<DateTime<Utc>> {
        self.of.get(&key).copied()
    }

    /// The earliest wake.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.in_order.first().map(|(at, _)| *at)
    }

    /// The keys due at `now`, soonest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<K> {
        self.in_order.iter().take_while(|(at, _)| *at <= now).map(|(_, key)| *key).collect()
    }

    pub fn len(&self) -> usize {
        self.of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }
}

/// How many due items a schedule judges at once.
pub const CONCURRENCY: usize = 16;

/// How long after a failure, or a judgement its tracker cannot see yet, an item is tried again.
pub const RETRY_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// An item a schedule follows, folded from its own stream.
pub trait Folded: Default {
    /// The version of the item's stream it was folded to.
    fn version(&self) -> u64;
}

/// The items a schedule follows, by id, and when each next needs the scheduler.
#[derive(Debug)]
pub struct Followed<T> {
    items: HashMap<uuid::Uuid, T>,
    wakes: Wakes<uuid::Uuid>,
}

impl<T> Default for Followed<T> {
    fn default() -> Self {
        Self { items: HashMap::new(), wakes: Wakes::default() }
    }
}

impl<T: Folded> Followed<T> {
    /// The item `id`, if followed.
    pub fn get(&self, id: uuid::Uuid) -> Option<&T> {
        self.items.get(&id)
    }

    /// The item `id`, if followed, to change.
    pub fn get_mut(&mut self, id: uuid::Uuid) -> Option<&mut T> {
        self.items.get_mut(&id)
    }

    /// Every item followed.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.items.values()
    }

    /// The ids of every item followed.
    pub fn ids(&self) -> Vec<uuid::Uuid> {
        self.items.keys().copied().collect()
    }

    /// The item `id` to fold the event at `version` of its stream into (made by `new` when it
    /// is not followed yet), or `None` when it was folded that far already.
    pub fn to_fold(
        &mut self,
        id: uuid::Uuid,
        version: u64,
        new: impl FnOnce() -> T,
    ) -> Option<&mut T> {
        let item = self.items.entry(id).or_insert_with(new);
        (version > item.version()).then_some(item)
    }

    /// Puts a fresh read of `id` in place of what is kept, unless that was folded further.
    pub fn replace(&mut self, id: uuid::Uuid, item: T) {
        let known = self.items.entry(id).or_default();
        if item.version() >= known.version() {
            *known = item;
        }
    }

    /// Sets when `id` next needs the scheduler (`None`: not now, though it is still followed).
    pub fn set_wake(&mut self, id: uuid::Uuid, wake: Option<DateTime<Utc>>) {
        self.wakes.set(id, wake);
    }

    /// Stops following `id`: nothing more can be recorded for it.
    pub fn forget(&mut self, id: uuid::Uuid) {
        self.items.remove(&id);
        self.wakes.set(id, None);
    }

    /// Makes `id`, if followed, due again at `at`.
    pub fn retry_at(&mut self, id: uuid::Uuid, at: DateTime<Utc>) {
        if self.items.contains_key(&id) {
            self.wakes.set(id, Some(at));
        }
    }

    /// When `id` next needs the scheduler.
    pub fn wake(&self, id: uuid::Uuid) -> Option<DateTime<Utc>> {
        self.wakes.get(id)
    }

    /// The earliest wake.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.wakes.next()
    }

    /// The items due at `now`, soonest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<uuid::Uuid> {
        self.wakes.due(now)
    }

    /// How many items are followed, and how many of them have a wake.
    pub fn counts(&self) -> (usize, usize) {
        (self.items.len(), self.wakes.len())
    }
}

/// A schedule's tracker: the items it follows, and its rule for when each next needs the
/// scheduler. [`settle`] puts judged items back through it.
pub trait Tracks {
    /// An item as a judgement leaves it.
    type Item: Folded;

    /// The items followed.
    fn followed(&self) -> &Followed<Self::Item>;

    /// The items followed, to change.
    fn followed_mut(&mut self) -> &mut Followed<Self::Item>;

    /// Recomputes when the item next needs the scheduler, or forgets it when nothing more can
    /// be recorded for it.
    fn reschedule(&mut self, id: uuid::Uuid);

    /// Recomputes every item's wake (after a change of the settings they are judged by).
    fn reschedule_all(&mut self) {
        for id in self.followed().ids() {
            self.reschedule(id);
        }
    }

    /// Puts the freshly judged `item` in place of the one kept.
    fn replace(&mut self, id: uuid::Uuid, item: Self::Item) {
        self.followed_mut().replace(id, item);
        self.reschedule(id);
    }

    /// When the item is due next, by what the tracker knows.
    fn wake(&self, id: uuid::Uuid) -> Option<DateTime<Utc>> {
        self.followed().wake(id)
    }

    /// Makes the item due again at `at`.
    fn retry_at(&mut self, id: uuid::Uuid, at: DateTime<Utc>) {
        self.followed_mut().retry_at(id, at);
    }
}

/// Runs `judge` on each of `due`, [`CONCURRENCY`] at once.
pub async fn judge_all<K, T, Fut>(due: Vec<K>, judge: impl Fn(K) -> Fut) -> Vec<T>
where
    Fut: Future<Output = T>,
{
    use futures::StreamExt;
    futures::stream::iter(due).map(judge).buffer_unordered(CONCURRENCY).collect().await
}

/// Puts each judged item back in `tracker`: a failure, or an item still due by what the
/// tracker knows (its settings lag the read; the subscription brings them up to date), is
/// tried again after [`RETRY_AFTER`].
pub fn settle<T: Tracks>(
    tracker: &mut T,
    judged: Vec<(uuid::Uuid, Result<T::Item, eventlog::StoreError>)>,
    now: DateTime<Utc>,
    what: &str,
) {
    for (id, outcome) in judged {
        match outcome {
            Ok(fresh) => {
                tracker.replace(id, fresh);
                if tracker.wake(id).is_some_and(|at| at <= now) {
                    tracker.retry_at(id, now + RETRY_AFTER);
                }
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "could not record {what}");
                tracker.retry_at(id, now + RETRY_AFTER);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wake_more_than_a_year_off_is_slept_toward_and_none_is_waited_for() {
        let day = Duration::from_secs(24 * 3600);
        let woke = tokio::time::timeout(day * 366, sleep_for(Some(day * 400))).await;
        assert!(woke.is_ok(), "a wake 400 days off was never timed");
        let never = tokio::time::timeout(day * 800, sleep_for(None)).await;
        assert!(never.is_err(), "nothing to wake for, yet it woke");
    }

    #[test]
    fn wakes_keep_one_per_key_in_order() {
        let t0: DateTime<Utc> = "2024-09-02T09:00:00Z".parse().unwrap();
        let mut wakes = Wakes::default();
        wakes.set(1, Some(t0 + TimeDelta::hours(2)));
        wakes.set(2, Some(t0 + TimeDelta::hours(1)));
        wakes.set(3, Some(t0 + TimeDelta::hours(3)));
        assert_eq!(wakes.next(), Some(t0 + TimeDelta::hours(1)));
        assert_eq!(wakes.due(t0 + TimeDelta::hours(2)), vec![2, 1]);
        wakes.set(2, Some(t0 + TimeDelta::hours(4)));
        assert_eq!(wakes.due(t0 + TimeDelta::hours(2)), vec![1]);
        assert_eq!(wakes.get(2), Some(t0 + TimeDelta::hours(4)));
        wakes.set(1, None);
        assert_eq!((wakes.len(), wakes.next()), (2, Some(t0 + TimeDelta::hours(3))));
        assert!(wakes.due(t0).is_empty());
    }
}
