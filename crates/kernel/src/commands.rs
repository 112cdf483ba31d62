//! The command runner: load the streams a decision needs, decide, append with expected
//! versions, and decide again when another writer got there first.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use eventlog::{
    ExpectedVersion, Metadata, NewEvent, RecordedEvent, Store, StoreError, StreamAppend, StreamName,
};
use events::gate::{IdempotencyEvent, IdempotentRequestRecorded};
use uuid::Uuid;
use web::ApiError;

use crate::aggregate::{Aggregate, Decision, decode, load, new_event};
use crate::http::{Idempotency, concurrent_update, store_error};

/// How many times a command is decided again when another writer appended to its stream first.
pub const RETRIES: usize = 5;

/// How many stripes the per-instance stream locks are spread over.
const LOCK_STRIPES: usize = 64;

/// Runs commands against the log for one service.
///
/// Within one instance, commands on one stream take turns (striped locks), so concurrent
/// requests do not use up each other's retries; writers in other instances are met by the
/// expected-version check and the retries.
#[derive(Debug, Clone)]
pub struct Commands {
    store: Store,
    locks: Arc<Vec<tokio::sync::Mutex<()>>>,
}

/// What a command did.
#[derive(Debug)]
pub struct Executed<A> {
    /// The aggregate as it was when the command was decided.
    pub before: A,
    /// The aggregate's stream version when it was decided.
    pub version: u64,
    /// The aggregate's stream version once the command's events were appended (`version` when
    /// it appended none there).
    pub after: u64,
    /// The log position of the last event appended; `None` when the command changed nothing.
    pub position: Option<u64>,
}

/// What a command sent with an `Idempotency-Key` did
/// ([`Commands::run_idempotent`]).
#[derive(Debug)]
pub enum Run<A> {
    /// It was decided now (and appended, unless it changed nothing).
    Done(Executed<A>),
    /// The same request came with the key before: what the first one recorded, to answer as
    /// it was answered. Nothing was appended.
    Repeat(IdempotentRequestRecorded),
}

impl Commands {
    pub fn new(store: Store) -> Self {
        Self { store, locks: Arc::new((0..LOCK_STRIPES).map(|_| Default::default()).collect()) }
    }

    /// The store the commands append to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Holds off this instance's other commands on `stream` until the guard is dropped.
    pub async fn lock_stream(&self, stream: &StreamName) -> tokio::sync::MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        stream.as_str().hash(&mut hasher);
        let stripe = (hasher.finish() % LOCK_STRIPES as u64) as usize;
        self.locks[stripe].lock().await
    }

    /// Runs a command on the aggregate of `stream`: reads it and the `lookups` (other streams
    /// the rule needs facts from, in the same round trip), lets `decide` decide, and appends
    /// the decision atomically: the aggregate's events at the version read, each stream the
    /// decision opens as a new stream, all with `meta`. When another writer appended first, it
    /// reads and decides again (at most [`RETRIES`] times), so `decide` must be repeatable.
    ///
    /// The lookups are read, not locked: the aggregate's own stream is the consistency
    /// boundary, as everywhere in the log.
    pub async fn run<A>(
        &self,
        meta: &Metadata,
        stream: StreamName,
        lookups: &[StreamName],
        decide: impl Fn(&A, &[Vec<RecordedEvent>]) -> Result<Decision<A::Event>, ApiError>,
    ) -> Result<Executed<A>, ApiError>
    where
        A: Aggregate,
    {
        match self.run_idempotent(meta, None, &[], stream, lookups, decide).await? {
            Run::Done(done) => Ok(done),
            Run::Repeat(_) => unreachable!("a command without a key is never a repeat"),
        }
    }

    /// [`run`](Self::run) for a request that may carry an `Idempotency-Key` (`once`; see
    /// [`crate::http::Idempotency`]).
    ///
    /// With a key, the key's stream is read with the aggregate's, in the same round trip: when
    /// the same request used the key before, nothing is decided and the first request's record
    /// comes back ([`Run::Repeat`]); when another request did, 409 `idempotency-conflict`.
    /// Otherwise the decision is appended together with `idempotent-request-recorded` on the
    /// key's stream, expected not to exist yet, naming `created` (the ids of what the request
    /// creates, for answering a repeat) and the aggregate's version after the append. Two
    /// identical requests at once: one appends, the other conflicts, reads again, and is a
    /// repeat. A decision that changes nothing records no use of the key.
    pub async fn run_idempotent<A>(
        &self,
        meta: &Metadata,
        once: Option<&Idempotency>,
        created: &[Uuid],
        stream: StreamName,
        lookups: &[StreamName],
        decide: impl Fn(&A, &[Vec<RecordedEvent>]) -> Result<Decision<A::Event>, ApiError>,
    ) -> Result<Run<A>, ApiError>
    where
        A: Aggregate,
    {
        let _serialized = self.lock_stream(&stream).await;
        let mut requests: Vec<(StreamName, u64)> =
            std::iter::once(&stream).chain(lookups).map(|s| (s.clone(), 1)).collect();
        if let Some(once) = once {
            requests.push((once.stream.clone(), 1));
        }
        for _ in 0..RETRIES {
            let mut read = self.store.read_streams(&requests).await.map_err(store_error)?;
            if let Some(once) = once {
                let used = read.pop().unwrap_or_default();
                let first = match used.first() {
                    Some(record) => Some(decode::<IdempotencyEvent>(record).map_err(|e| {
                        ApiError::internal(format!("{} does not load: {e}", once.stream))
                    })?),
                    None => None,
                };
                if let Some(first) = once.earlier(first.as_ref())? {
                    return Ok(Run::Repeat(first));
                }
            }
            let records = read.remove(0);
            let version = records.last().map_or(0, |r| r.version);
            let aggregate: A = load(&records)
                .map_err(|e| ApiError::internal(format!("{stream} does not load: {e}")))?;
            let decision = decide(&aggregate, &read)?;
            if decision.is_empty() {
                let done = Executed { before: aggregate, version, after: version, position: None };
                return Ok(Run::Done(done));
            }
            let after = version + decision.events.len() as u64;
            let mut appends = appends(decision, &stream, version, meta);
            if let Some(once) = once {
                let recorded = new_event(&once.recorded(&stream, after, created), meta.clone());
                appends.push(StreamAppend::new(
                    once.stream.clone(),
                    ExpectedVersion::NoStream,
                    vec![recorded],
                ));
            }
            match self.store.append_streams(appends).await {
                Ok(results) => {
                    let position = results.iter().map(|r| r.last_position()).max();
                    return Ok(Run::Done(Executed { before: aggregate, version, after, position }));
                }
                Err(StoreError::WrongExpectedVersion { .. }) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(concurrent_update())
    }
}

/// The decision as appends: the aggregate's own events expected at `version`, then every
/// stream it opens, expected not to exist yet, or at the version it was read at when the
/// decision appends to a looked-up stream ([`Opened::after`](crate::Opened::after)) (the own
/// stream first, so readers of one append see the signature before its promise, the
/// conversation before its wish).
fn appends<E: events::EventFamily>(
    decision: Decision<E>,
    own: &StreamName,
    version: u64,
    meta: &Metadata,
) -> Vec<StreamAppend> {
    let mut out = Vec::new();
    if !decision.events.is_empty() {
        let events = decision.events.iter().map(|e| new_event(e, meta.clone())).collect();
        out.push(StreamAppend::new(own.clone(), ExpectedVersion::after(version), events));
    }
    for opened in decision.opens {
        let event = NewEvent::new(opened.event_type, opened.data, meta.clone());
        match out.iter_mut().find(|a: &&mut StreamAppend| a.stream == opened.stream) {
            Some(append) => append.events.push(event),
            None => out.push(StreamAppend::new(
                opened.stream,
                ExpectedVersion::after(opened.read_at),
                vec![event],
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Opened, stream};
    use eventlog::Actor;
    use events::school::{SchoolEvent, SchoolRegistered};
    use events::values::{SchoolId, ShortText};

    fn registered(id: &str) -> SchoolEvent {
        SchoolRegistered {
            school_id: SchoolId::parse(id).unwrap(),
            name: ShortText::parse("A school").unwrap(),
        }
        .into()
    }

    #[test]
    fn own_events_come_first_at_the_version_read_and_opened_streams_are_new() {
        let meta = Metadata::new(Actor::new("it", "it_staff"), "test");
        let own = stream("school-a");
        let decision = Decision::events(vec![registered("a")])
            .opening(Opened::new(stream("school-b"), &registered("b")))
            .opening(Opened::new(stream("school-b"), &registered("b")));
        let plan = appends(decision, &own, 3, &meta);
        assert_eq!(plan.len(), 2);
        assert_eq!(
            (plan[0].stream.as_str(), plan[0].expected),
            ("school-a", ExpectedVersion::Exact(3))
        );
        assert_eq!(
            (plan[1].stream.as_str(), plan[1].expected),
            ("school-b", ExpectedVersion::NoStream)
        );
        assert_eq!(plan[1].events.len(), 2);
        let fresh = appends(Decision::events(vec![registered("a")]), &own, 0, &meta);
        assert_eq!(fresh[0].expected, ExpectedVersion::NoStream);
        // A looked-up stream appended to at the version it was read at.
        let looked_up = Decision::<SchoolEvent>::events(vec![])
            .opening(Opened::new(stream("school-c"), &registered("c")).after(2));
        let plan = appends(looked_up, &own, 3, &meta);
        assert_eq!(
            (plan[0].stream.as_str(), plan[0].expected),
            ("school-c", ExpectedVersion::Exact(2))
        );
    }
}

/// [`Commands::run_idempotent`] against a real store, on both backends.
#[cfg(test)]
mod idempotent {
    use super::*;
    use crate::aggregate::{At, stream};
    use crate::http::Idempotency;
    use eventlog::Actor;
    use events::school::{SchoolEvent, SchoolRegistered};
    use events::values::{IdempotencyKey, SchoolId, ShortText};
    use serde_json::json;
    use testkit::{Backend, TestStore};

    /// Counts the names a school was given.
    #[derive(Debug, Clone, Default)]
    struct Names(u64);

    #[derive(Debug, Clone, PartialEq)]
    struct Never;

    impl std::fmt::Display for Never {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("never")
        }
    }

    impl std::error::Error for Never {}

    impl crate::Aggregate for Names {
        type Event = SchoolEvent;
        type Command = String;
        type Error = Never;
        fn handle(&self, name: String) -> Result<Decision<SchoolEvent>, Never> {
            let event = SchoolRegistered {
                school_id: SchoolId::parse("a").unwrap(),
                name: ShortText::parse(&name).unwrap(),
            };
            Ok(Decision::events(vec![event.into()]))
        }
        fn apply(&mut self, _: &SchoolEvent, _: At) {
            self.0 += 1;
        }
    }

    fn once(key: &str, name: &str) -> Idempotency {
        let key = IdempotencyKey::parse(key).unwrap();
        Idempotency::new("it", key, "POST", "/v1/schools/a/names", &json!({"name": name}))
    }

    async fn name(
        commands: &Commands,
        once: Option<&Idempotency>,
        name: &str,
    ) -> Result<Run<Names>, ApiError> {
        let meta = Metadata::new(Actor::new("it", "it_staff"), "test");
        let name = name.to_owned();
        let created = [Uuid::from_u128(7)];
        commands
            .run_idempotent(&meta, once, &created, stream("school-a"), &[], |n: &Names, _| {
                Ok(n.handle(name.clone()).unwrap())
            })
            .await
    }

    async fn once_per_key(backend: Backend) {
        let test = TestStore::open(backend).await;
        let commands = Commands::new(test.shared());
        let store = commands.store().clone();
        // The first request with a key is done, and records the key's use with it.
        let first = once("k-1", "Lincoln");
        let Run::Done(done) = name(&commands, Some(&first), "Lincoln").await.unwrap() else {
            panic!("a first request is done")
        };
        assert_eq!((done.version, done.after), (0, 1));
        let head = store.head().await.unwrap();
        assert_eq!(head, 2, "the event and the key's use, in one append");
        // The same again: the first's record, nothing written.
        let Run::Repeat(recorded) = name(&commands, Some(&first), "Lincoln").await.unwrap() else {
            panic!("a repeat")
        };
        assert_eq!(
            (recorded.stream.as_str(), recorded.version, recorded.created.clone()),
            ("school-a", 1, vec![Uuid::from_u128(7)])
        );
        assert_eq!(store.head().await.unwrap(), head);
        // Another body under the key: 409, nothing written.
        let err = name(&commands, Some(&once("k-1", "Lincoln Elementary")), "Lincoln Elementary")
            .await
            .unwrap_err();
        assert_eq!((err.status().as_u16(), err.slug()), (409, "idempotency-conflict"));
        assert_eq!(store.head().await.unwrap(), head);
        // Without a key, as ever.
        assert!(matches!(name(&commands, None, "Lincoln").await.unwrap(), Run::Done(_)));
        // Identical requests at once with one key, on two runners (two instances): one does
        // it, the others are repeats.
        let (a, b) = (Commands::new(store.clone()), Commands::new(store.clone()));
        let key = once("k-2", "Lincoln");
        let runs = futures::future::join_all(
            (0..8).map(|i| name(if i % 2 == 0 { &a } else { &b }, Some(&key), "Lincoln")),
        )
        .await;
        let done = runs.iter().filter(|r| matches!(r, Ok(Run::Done(_)))).count();
        let repeats = runs.iter().filter(|r| matches!(r, Ok(Run::Repeat(_)))).count();
        assert_eq!((done, repeats), (1, 7), "{runs:?}");
        let names: Names =
            crate::load(&store.read_stream_to_end(&stream("school-a")).await.unwrap()).unwrap();
        assert_eq!(names.0, 3, "Lincoln, Lincoln without a key, Lincoln once for k-2");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_per_key_on_postgres() {
        once_per_key(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn once_per_key_on_sqlite() {
        once_per_key(Backend::Sqlite).await;
    }
}
