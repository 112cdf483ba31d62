//! The district's retention of conversation notes: notes of conversations held more than the
//! configured number of years ago are erased, automatically, in every instance.
//!
//! Each conversation's notes are sealed with a key of their own (`conversation-{id}`, dated by
//! the conversation's `held_at`; see `kernel::privacy`). The scheduler keeps every
//! conversation's expiry in order, wakes at the first, destroys every notes key dated before
//! the cut-off in one statement (a key is destroyed by exactly one instance: the statement
//! takes only keys not yet destroyed) and appends `retention-erased` with the keys it
//! destroyed, on the day's `privacy-…` stream. The notes then read `(erased)` everywhere; the
//! rest of the conversation stays. The announcement is what makes every reader forget its
//! cached keys and every read model holding notes rebuild, so when it cannot be appended, the
//! keys the instance destroyed are kept and announced with its next attempt, even when the
//! schedule starts again after losing the log (the store hands a destroyed key out only once).
//!
//! A process that stops between the two steps leaves keys destroyed and unannounced, and no
//! instance is handed them again. A conversation leaves the schedule only when an
//! announcement names its key, so such notes stay due: an instance whose erasure did not
//! destroy a due conversation's key waits [`GRACE`] (and a jitter of its own) for another
//! instance's announcement (the normal case when several run), then reads the store and
//! announces the keys it finds destroyed; a due conversation without a destroyed key leaves
//! the schedule unannounced. Readers forget them and read models rebuild, as after any
//! erasure. While it waits, the instance's next wake is the end of that wait.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Datelike, Months, NaiveTime, TimeDelta, Utc};
use eventlog::{Actor, ExpectedVersion, Filter, KeySelector, Metadata, NewEvent, RecordedEvent};
use events::Published;
use events::privacy::{
    PURPOSE_CONVERSATION_NOTES, PrivacyEvent, RetentionErased, retention_stream,
};
use events::stakeholders::StakeholderEvent;
use kernel::Schedule;
use uuid::Uuid;

/// How long after a failed erasure it is tried again.
const RETRY: TimeDelta = TimeDelta::minutes(5);

/// How long an instance waits for the announcement of due keys another instance destroyed
/// before it announces them itself (that instance may have stopped before announcing); each
/// instance adds up to [`JITTER`] of its own, so that after a crash the first to announce is
/// usually heard by the others before their turn.
pub(crate) const GRACE: TimeDelta = TimeDelta::minutes(15);

/// The most an instance adds to [`GRACE`].
const JITTER: TimeDelta = TimeDelta::minutes(5);

/// When notes of a conversation held at `held_at` expire: `years` later, to the instant. Notes
/// held on 29 February expire at the start of 1 March of a year without one, so that notes held
/// later never expire earlier (a clamp to 28 February at the same time would put them before
/// notes held on the 28th later that day): the notes expired at any moment are then exactly
/// those held before its [`cut_off`].
fn expiry(held_at: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    let Some(at) = held_at.checked_add_months(Months::new(years.saturating_mul(12))) else {
        return DateTime::<Utc>::MAX_UTC;
    };
    if at.day() == held_at.day() {
        return at;
    }
    at.date_naive().succ_opt().map_or(at, |march| march.and_time(NaiveTime::MIN).and_utc())
}

/// The first moment of conversations whose notes have not expired at `now`: notes held before
/// it are exactly those whose [`expiry`] has come. Keys are dated to the microsecond, so the
/// last moment held notes can expire by is followed by the next microsecond.
fn cut_off(now: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    let Some(last) = now.checked_sub_months(Months::new(years.saturating_mul(12))) else {
        return DateTime::<Utc>::MIN_UTC;
    };
    if last.day() != now.day() {
        // `now` is 29 February and `years` ago had none: notes held up to the end of that
        // year's 28 February expired on this year's 28th; those of 1 March have not.
        return last.date_naive().succ_opt().map_or(last, |d| d.and_time(NaiveTime::MIN).and_utc());
    }
    last + TimeDelta::microseconds(1)
}

/// The retention schedule: every conversation with notes, by when its notes expire.
#[derive(Debug)]
pub(crate) struct Retention {
    years: u32,
    /// Until an announcement names its key.
    expiring: BTreeSet<(DateTime<Utc>, Uuid)>,
    not_before: Option<DateTime<Utc>>,
    /// Due conversations whose key someone else destroyed, by when this instance first found
    /// them so: announced by this one once they are still unannounced [`GRACE`] later.
    destroyed_elsewhere: BTreeMap<Uuid, DateTime<Utc>>,
    /// [`GRACE`] and this instance's jitter.
    grace: TimeDelta,
    /// Keys this instance destroyed whose announcement failed: announced with the next
    /// attempt, since the store will not hand them out again.
    unannounced: Unannounced,
}

/// The keys an instance destroyed and has not announced yet. Shared by every schedule the
/// instance starts, so that one started again (after it lost the log) still announces them.
pub(crate) type Unannounced = Arc<Mutex<BTreeSet<String>>>;

impl Retention {
    pub(crate) fn new(years: u32, unannounced: Unannounced) -> Self {
        Self {
            years,
            expiring: BTreeSet::new(),
            not_before: None,
            destroyed_elsewhere: BTreeMap::new(),
            grace: GRACE + TimeDelta::seconds(fastrand::i64(0..JITTER.num_seconds())),
            unannounced,
        }
    }

    fn unannounced(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.unannounced.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Folds one event in: a conversation with notes, or keys destroyed.
    fn fold(&mut self, event: &Published) {
        match event {
            Published::Stakeholder(StakeholderEvent::ConversationHeld(c)) if c.notes.is_some() => {
                self.expiring.insert((expiry(c.held_at, self.years), c.conversation_id));
            }
            Published::Privacy(
                PrivacyEvent::PersonalDataErased(events::privacy::PersonalDataErased {
                    keys, ..
                })
                | PrivacyEvent::RetentionErased(RetentionErased { keys, .. }),
            ) => {
                self.announced(keys);
            }
            _ => {}
        }
    }

    /// Forgets the conversations whose notes keys `keys` names: erased and announced.
    fn announced(&mut self, keys: &[String]) {
        let gone: BTreeSet<Uuid> =
            keys.iter().filter_map(|k| k.strip_prefix("conversation-")?.parse().ok()).collect();
        self.expiring.retain(|(_, id)| !gone.contains(id));
        self.destroyed_elsewhere.retain(|id, _| !gone.contains(id));
        // Whoever announced them, this instance need not any more.
        self.unannounced().retain(|key| !keys.contains(key));
    }

    /// Destroys every notes key dated before `before` that no instance destroyed yet, and
    /// announces them, with any this instance destroyed before but could not announce, and any
    /// due key found destroyed by someone else [`GRACE`] ago and still unannounced: how many
    /// it announced.
    async fn erase(
        &mut self,
        store: &eventlog::Store,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> eventlog::Result<usize> {
        let reason = format!("the district keeps conversation notes {} years", self.years);
        let which =
            KeySelector::DatedBefore { purpose: PURPOSE_CONVERSATION_NOTES.to_owned(), before };
        let destroyed = store.destroy_data_keys(&which, &reason).await?;
        let mut keys: BTreeSet<String> = {
            let mut unannounced = self.unannounced();
            unannounced.extend(destroyed);
            unannounced.clone()
        };
        keys.extend(self.left_unannounced(store, now, before, &keys).await?);
        if keys.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = keys.into_iter().collect();
        let count = keys.len();
        let event = PrivacyEvent::from(RetentionErased {
            purpose: PURPOSE_CONVERSATION_NOTES.to_owned(),
            before,
            years: self.years,
            keys: keys.clone(),
        });
        let meta = Metadata::new(Actor::system("stakeholders"), "stakeholders");
        let new = NewEvent::new(event.event_type(), event.to_data(), meta);
        let stream = kernel::stream(retention_stream(now.date_naive()));
        store.append(&stream, ExpectedVersion::Any, vec![new]).await?;
        self.announced(&keys);
        Ok(count)
    }

    /// The keys of due conversations (held before `before`) that someone else destroyed (not
    /// in `ours`) and nobody announced within [`GRACE`] of this instance finding them so, as
    /// the store holds them: destroyed. A due conversation with no key, or a key still whole,
    /// has nothing to announce and leaves the schedule.
    async fn left_unannounced(
        &mut self,
        store: &eventlog::Store,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
        ours: &BTreeSet<String>,
    ) -> eventlog::Result<Vec<String>> {
        let subject = |id: &Uuid| format!("conversation-{id}");
        let due: Vec<Uuid> = self
            .expiring
            .iter()
            .filter(|(at, id)| *at <= now && !ours.contains(&subject(id)))
            .map(|(_, id)| *id)
            .collect();
        for id in &due {
            self.destroyed_elsewhere.entry(*id).or_insert(now);
        }
        let waited: Vec<String> = self
            .destroyed_elsewhere
            .iter()
            .filter(|(_, found)| **found + self.grace <= now)
            .map(|(id, _)| subject(id))
            .collect();
        if waited.is_empty() {
            return Ok(vec![]);
        }
        let keys = store.data_keys(&waited).await?;
        let destroyed: Vec<String> = keys
            .into_iter()
            .filter(|k| k.wrapped.is_none() && k.dated.is_some_and(|d| d < before))
            .map(|k| k.subject)
            .collect();
        let nothing: Vec<String> = waited.into_iter().filter(|s| !destroyed.contains(s)).collect();
        if !nothing.is_empty() {
            tracing::warn!(?nothing, "due conversation notes with no destroyed key: not announced");
            self.announced(&nothing);
        }
        Ok(destroyed)
    }
}

impl Schedule for Retention {
    const NAME: &'static str = "stakeholders.retention";

    fn filter(&self) -> Filter {
        Filter::categories([events::stakeholders::STAKEHOLDER_CATEGORY, PrivacyEvent::CATEGORY])
            .with_types(
                ["conversation-held"].into_iter().chain(PrivacyEvent::EVENT_TYPES.iter().copied()),
            )
    }

    fn apply(&mut self, record: &RecordedEvent) {
        match Published::decode(record.category(), &record.event_type, &record.data) {
            Ok(event) => self.fold(&event),
            Err(e) => {
                tracing::warn!(position = record.position, error = %e, "retention skips an event")
            }
        }
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        let first = self.expiring.first().map(|(at, _)| *at)?;
        Some(self.not_before.map_or(first, |n| n.max(first)))
    }

    async fn run_due(&mut self, store: &eventlog::Store, now: DateTime<Utc>) {
        let before = cut_off(now, self.years);
        let outcome = self.erase(store, now, before).await;
        match outcome {
            Ok(count) => {
                if count > 0 {
                    tracing::info!(count, %before, "conversation notes past retention erased");
                }
                // Due notes destroyed elsewhere are looked at again once their grace is over
                // (unless their announcement comes first).
                self.not_before = self.destroyed_elsewhere.values().min().map(|f| *f + self.grace);
            }
            Err(e) => {
                tracing::warn!(error = %e, "conversation notes past retention not erased; retrying");
                self.not_before = Some(now + RETRY);
            }
        }
    }

    fn counts(&self) -> (usize, usize) {
        (self.expiring.len(), self.expiring.len())
    }
}

#[cfg(test)]
mod tests {
    use events::stakeholders::ConversationHeld;
    use events::values::{LongText, ShortText};

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn conversation(id: u128, held_at: &str, notes: Option<&str>) -> Published {
        Published::Stakeholder(StakeholderEvent::ConversationHeld(ConversationHeld {
            conversation_id: Uuid::from_u128(id),
            held_at: t(held_at),
            location: ShortText::parse("Her office").unwrap(),
            their_vision: LongText::parse("Robots").unwrap(),
            stars: None,
            wish: None,
            notes: notes.map(|n| LongText::parse(n).unwrap()),
            wish_id: None,
            connections: vec![],
            on_their_turf: true,
        }))
    }

    #[test]
    fn given_conversations_with_notes_then_it_wakes_when_the_oldest_expires() {
        let mut retention = Retention::new(3, Unannounced::default());
        retention.fold(&conversation(1, "2024-05-02T15:00:00Z", Some("b")));
        retention.fold(&conversation(2, "2023-09-01T15:00:00Z", Some("a")));
        retention.fold(&conversation(3, "2022-01-01T15:00:00Z", None));
        assert_eq!(retention.next_wake(), Some(t("2026-09-01T15:00:00Z")));
        assert_eq!(cut_off(t("2026-11-30T00:00:00Z"), 3), t("2023-11-30T00:00:00.000001Z"));
    }

    #[test]
    fn given_notes_held_on_a_leap_day_then_the_wake_at_their_expiry_erases_them() {
        let mut retention = Retention::new(1, Unannounced::default());
        retention.fold(&conversation(1, "2024-02-29T10:00:00Z", Some("Leap day")));
        let wake = retention.next_wake().unwrap();
        assert_eq!(wake, t("2025-03-01T00:00:00Z"));
        assert!(t("2024-02-29T10:00:00Z") < cut_off(wake, 1));
        assert!(t("2024-03-01T00:00:01Z") >= cut_off(wake, 1));
    }

    #[test]
    fn given_any_moment_then_notes_held_before_its_cut_off_are_exactly_those_expired() {
        let held = [
            "2023-02-28T09:00:00Z",
            "2023-02-28T23:59:59.999999Z",
            "2023-03-01T00:00:00Z",
            "2024-02-28T11:00:00Z",
            "2024-02-29T00:00:00Z",
            "2024-02-29T10:00:00Z",
            "2024-02-29T23:59:59.999999Z",
            "2024-03-01T00:00:00Z",
            "2024-03-01T10:00:00Z",
            "2024-12-31T23:59:59.999999Z",
        ];
        for years in [1, 3, 4] {
            let mut moments: Vec<DateTime<Utc>> = vec![];
            for h in held.map(t) {
                let e = expiry(h, years);
                moments.extend([e - TimeDelta::microseconds(1), e, e + TimeDelta::microseconds(1)]);
            }
            moments.extend(["2027-02-28T10:00:00Z", "2028-02-29T10:00:00Z"].map(t));
            for now in moments {
                for h in held.map(t) {
                    let expired = expiry(h, years) <= now;
                    assert_eq!(
                        h < cut_off(now, years),
                        expired,
                        "{years} years, held {h}, at {now}"
                    );
                }
            }
        }
    }

    /// A PostgreSQL store whose log refuses (`refuse`) or accepts again (`accept`) every
    /// announcement of an erasure, as a database would that failed at that moment.
    struct Refusing {
        store: eventlog::Store,
        client: tokio_postgres::Client,
        _database: testkit::TestDatabase,
    }

    impl Refusing {
        async fn open() -> Self {
            let database = testkit::pg_database().await;
            let pg = eventlog::PgStore::connect(database.url(), Default::default()).await.unwrap();
            let client = database.connect().await;
            client
                .batch_execute(
                    "CREATE FUNCTION refuse_erasures() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'the database failed'; END $$",
                )
                .await
                .unwrap();
            Self { store: std::sync::Arc::new(pg), client, _database: database }
        }

        async fn refuse(&self) {
            let sql = "CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW \
                       WHEN (NEW.category = 'privacy') EXECUTE FUNCTION refuse_erasures()";
            self.client.batch_execute(sql).await.unwrap();
        }

        async fn accept(&self) {
            self.client.batch_execute("DROP TRIGGER refuse ON events").await.unwrap();
        }

        async fn announced(&self) -> Vec<Vec<String>> {
            let filter = Filter::categories([PrivacyEvent::CATEGORY]);
            let events = self.store.read_all(0, &filter, 100).await.unwrap();
            events.iter().map(|e| serde_json::from_value(e.data["keys"].clone()).unwrap()).collect()
        }
    }

    #[tokio::test]
    async fn given_an_announcement_that_failed_then_the_next_attempt_announces_its_keys() {
        let log = Refusing::open().await;
        let key = |id: u128, held_at: &str| eventlog::DataKey {
            subject: format!("conversation-{}", Uuid::from_u128(id)),
            owner: None,
            purpose: PURPOSE_CONVERSATION_NOTES.into(),
            dated: Some(t(held_at)),
            wrapped: Some(vec![7; 60]),
        };
        let unannounced = Unannounced::default();
        let mut retention = Retention::new(2, unannounced.clone());
        retention.fold(&conversation(1, "2027-06-01T15:00:00Z", Some("Old notes")));
        log.store.add_data_keys(&[key(1, "2027-06-01T15:00:00Z")]).await.unwrap();

        // The key is destroyed, but the log refuses its announcement.
        log.refuse().await;
        retention.run_due(&log.store, t("2030-01-10T18:00:00Z")).await;
        assert_eq!(log.announced().await, Vec::<Vec<String>>::new());
        let subject = key(1, "2027-06-01T15:00:00Z").subject;
        let keys = log.store.data_keys(std::slice::from_ref(&subject)).await.unwrap();
        assert!(keys.iter().all(|k| k.wrapped.is_none()), "{keys:?}");

        // The next attempt announces it, though the store has nothing left to destroy, along
        // with what it destroys then: even a schedule started again, which reads the log anew.
        log.accept().await;
        let mut retention = Retention::new(2, unannounced);
        retention.fold(&conversation(1, "2027-06-01T15:00:00Z", Some("Old notes")));
        retention.fold(&conversation(2, "2027-12-01T15:00:00Z", Some("Newer notes")));
        log.store.add_data_keys(&[key(2, "2027-12-01T15:00:00Z")]).await.unwrap();
        retention.run_due(&log.store, t("2030-01-10T18:05:00Z")).await;
        let both = vec![subject.clone(), key(2, "2027-12-01T15:00:00Z").subject];
        assert_eq!(log.announced().await, vec![both.clone()]);

        // Announced once: an attempt with nothing new announces nothing.
        retention.run_due(&log.store, t("2030-01-10T18:10:00Z")).await;
        assert_eq!(log.announced().await, vec![both]);
    }

    #[tokio::test]
    async fn given_keys_destroyed_by_an_instance_that_stopped_then_another_announces_them_after_its_grace()
     {
        let log = Refusing::open().await;
        let key = |id: u128| eventlog::DataKey {
            subject: format!("conversation-{}", Uuid::from_u128(id)),
            owner: None,
            purpose: PURPOSE_CONVERSATION_NOTES.into(),
            dated: Some(t("2027-06-01T15:00:00Z")),
            wrapped: Some(vec![7; 60]),
        };
        let fresh = || {
            let mut retention = Retention::new(2, Unannounced::default());
            retention.grace = GRACE;
            retention.fold(&conversation(1, "2027-06-01T15:00:00Z", Some("Old notes")));
            // Notes the store has no key for (nothing was sealed with one).
            retention.fold(&conversation(2, "2027-06-01T15:00:00Z", Some("Unsealed")));
            retention
        };
        log.store.add_data_keys(&[key(1)]).await.unwrap();
        // Given an instance that destroyed the due key and stopped before announcing it.
        let now = t("2030-01-10T18:00:00Z");
        let which = KeySelector::DatedBefore {
            purpose: PURPOSE_CONVERSATION_NOTES.into(),
            before: cut_off(now, 2),
        };
        assert_eq!(log.store.destroy_data_keys(&which, "retention").await.unwrap().len(), 1);

        // When another instance wakes: it waits for that instance's announcement first.
        let mut other = fresh();
        other.run_due(&log.store, now).await;
        assert_eq!(log.announced().await, Vec::<Vec<String>>::new());
        assert_eq!(other.next_wake(), Some(now + GRACE));
        // An announcement within the grace settles it: nothing more to announce.
        let mut patient = fresh();
        patient.run_due(&log.store, now).await;
        patient.fold(&Published::Privacy(PrivacyEvent::RetentionErased(RetentionErased {
            purpose: PURPOSE_CONVERSATION_NOTES.into(),
            before: cut_off(now, 2),
            years: 2,
            keys: vec![key(1).subject],
        })));
        patient.run_due(&log.store, now + GRACE).await;
        assert_eq!(log.announced().await, Vec::<Vec<String>>::new());

        // Then, none having come, it announces the key it finds destroyed, once; the notes
        // with no key have nothing to announce and are no longer awaited.
        other.run_due(&log.store, now + GRACE - TimeDelta::seconds(1)).await;
        assert_eq!(log.announced().await, Vec::<Vec<String>>::new());
        other.run_due(&log.store, now + GRACE).await;
        assert_eq!(log.announced().await, vec![vec![key(1).subject]]);
        assert_eq!(other.next_wake(), None);
        other.run_due(&log.store, now + GRACE + GRACE).await;
        assert_eq!(log.announced().await, vec![vec![key(1).subject]]);
    }

    #[test]
    fn given_notes_erased_then_they_are_no_longer_awaited() {
        let mut retention = Retention::new(3, Unannounced::default());
        retention.fold(&conversation(1, "2024-05-02T15:00:00Z", Some("b")));
        retention.fold(&conversation(2, "2023-09-01T15:00:00Z", Some("a")));
        let erased = RetentionErased {
            purpose: PURPOSE_CONVERSATION_NOTES.into(),
            before: t("2026-09-02T00:00:00Z"),
            years: 3,
            keys: vec![format!("conversation-{}", Uuid::from_u128(2))],
        };
        retention.fold(&Published::Privacy(PrivacyEvent::RetentionErased(erased.clone())));
        assert_eq!(retention.next_wake(), Some(t("2027-05-02T15:00:00Z")));
        // Still awaited once due, until an announcement names its key.
        let erased = RetentionErased {
            before: t("2027-05-03T00:00:00Z"),
            keys: vec![format!("conversation-{}", Uuid::from_u128(1))],
            ..erased
        };
        retention.fold(&Published::Privacy(PrivacyEvent::RetentionErased(erased)));
        assert_eq!(retention.next_wake(), None);
    }
}
