//! The append planner: the one place a batch of appends is decided and numbered.
//!
//! Both backends plan here, from what they looked up under the log's write lock: where the
//! batch's event ids are already stored, the versions of its streams and, when the events are
//! numbered here rather than by the database, the head. [`Plan::new`] decides each request of
//! the batch on its own, in order, as if it ran alone after the ones before it:
//!
//! 1. an event id stored in (or appended earlier in the batch to) another stream is
//!    [`StoreError::DuplicateEventId`];
//! 2. if every id is already there, each in the stream it is sent to, the request is an
//!    idempotent retry: the original versions and positions, `already_stored`, nothing written
//!    and no expected version checked; if only some are, it is [`StoreError::PartlyStored`],
//!    naming the first stored one;
//! 3. otherwise each stream's expected version is checked against its version, the first
//!    mismatch being [`StoreError::WrongExpectedVersion`];
//! 4. and the request's events are planned: stream versions, content hashes and, given the
//!    head, positions and chain links after it (without, positions count from 1, for the
//!    database to number and chain: PostgreSQL's one-flight appends).
//!
//! A refused request plans nothing, and the requests after it are decided as if it had not been
//! sent. The planner does no IO and reads no clock: the backend looks things up, passes the
//! time to record, and writes what was planned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::event::{AppendResult, NewEvent, StreamAppend};
use crate::hash::{self, GENESIS, Hash};

/// Where an event id already is: stored, or appended earlier in the same batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placed {
    pub stream: String,
    pub version: u64,
    pub position: u64,
}

/// What a backend looked up about the log where a batch goes.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Where the batch's event ids are stored; an id not stored is absent.
    pub placed: HashMap<Uuid, Placed>,
    /// The versions of the batch's streams; a stream absent is at 0 (it does not exist).
    pub versions: HashMap<String, u64>,
    /// The head, position and chain link. Given, the events are numbered and chained after it;
    /// not, they are numbered from 1 and left unchained.
    pub head: Option<(u64, Hash)>,
}

/// One event of the batch, as it is to be written.
#[derive(Debug)]
pub(crate) struct Planned<'a> {
    pub append: &'a StreamAppend,
    pub event: &'a NewEvent,
    /// After the head, or counted from 1 when the plan was not given the head.
    pub position: u64,
    pub version: u64,
    pub content: Hash,
    /// The chain link, when the plan was given the head.
    pub link: Option<Hash>,
}

/// A batch decided in memory: the events to write, in position order, each request's outcome,
/// the head after the batch (its link only when chained) and the versions of the batch's
/// streams after it.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub events: Vec<Planned<'a>>,
    pub outcomes: Vec<Result<Vec<AppendResult>>>,
    pub head: (u64, Hash),
    pub versions: HashMap<String, u64>,
    pub recorded_at: DateTime<Utc>,
}

impl<'a> Plan<'a> {
    /// Plans `requests` (each one caller's append) on what is `known`, recording `recorded_at`.
    pub(crate) fn new(
        requests: &[&'a [StreamAppend]],
        known: Known,
        recorded_at: DateTime<Utc>,
    ) -> Self {
        Self::planned(requests, known, recorded_at, &[])
    }

    /// [`Plan::new`], with the content hashes of the batch computed beforehand (for the time
    /// they were computed for).
    pub(crate) fn with_contents(
        requests: &[&'a [StreamAppend]],
        known: Known,
        contents: &Contents,
    ) -> Self {
        Self::planned(requests, known, contents.recorded_at, &contents.hashes)
    }

    /// Plans, taking each event's content hash from `contents` (every event of the batch, in
    /// order) when it is there, else computing it.
    fn planned(
        requests: &[&'a [StreamAppend]],
        known: Known,
        recorded_at: DateTime<Utc>,
        contents: &[Hash],
    ) -> Self {
        let Known { mut placed, mut versions, head } = known;
        let chained = head.is_some();
        let (mut position, mut link) = head.unwrap_or((0, GENESIS));
        let mut events = Vec::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut hasher = hash::Hasher::default();
        // The index among the batch's events of the next request's first one.
        let mut next = 0;
        for &appends in requests {
            let mut index = next;
            next += appends.iter().map(|a| a.events.len()).sum::<usize>();
            let mut outcome = decide(appends, &placed, &versions);
            if let Ok(results) = &mut outcome
                && !results.iter().any(|r| r.already_stored)
            {
                for (append, result) in appends.iter().zip(results.iter_mut()) {
                    let mut version = versions.get(append.stream.as_str()).copied().unwrap_or(0);
                    for event in &append.events {
                        position += 1;
                        version += 1;
                        let content = contents.get(index).copied().unwrap_or_else(|| {
                            hasher.event_hash(append.stream.as_str(), event, &recorded_at)
                        });
                        index += 1;
                        let event_link = if chained {
                            link = hash::chain_link(&link, position, version, &content);
                            Some(link)
                        } else {
                            None
                        };
                        events.push(Planned {
                            append,
                            event,
                            position,
                            version,
                            content,
                            link: event_link,
                        });
                        result.positions.push(position);
                        placed.insert(
                            event.id,
                            Placed { stream: append.stream.to_string(), version, position },
                        );
                    }
                    result.stream_version = version;
                    versions.insert(append.stream.to_string(), version);
                }
            }
            outcomes.push(outcome);
        }
        Self { events, outcomes, head: (position, link), versions, recorded_at }
    }
}

/// The content hashes of every event of a batch, request by request, in order, for the time to
/// record: what a plan computes for the events it appends, computed beforehand (PostgreSQL
/// hashes a large batch while it waits for the lookups the plan needs).
#[derive(Debug)]
pub(crate) struct Contents {
    recorded_at: DateTime<Utc>,
    hashes: Vec<Hash>,
}

impl Contents {
    pub(crate) fn new(requests: &[&[StreamAppend]], recorded_at: DateTime<Utc>) -> Self {
        let mut hasher = hash::Hasher::default();
        let events = requests
            .iter()
            .flat_map(|r| r.iter())
            .flat_map(|a| a.events.iter().map(move |e| (a.stream.as_str(), e)));
        let hashes = events.map(|(stream, e)| hasher.event_hash(stream, e, &recorded_at)).collect();
        Self { recorded_at, hashes }
    }
}

/// What one request would do, before anything of it is written: a conflict, a retry of events
/// already placed, or empty results to fill in.
fn decide(
    appends: &[StreamAppend],
    placed: &HashMap<Uuid, Placed>,
    versions: &HashMap<String, u64>,
) -> Result<Vec<AppendResult>> {
    let events = || appends.iter().flat_map(|a| a.events.iter().map(move |e| (a, e)));
    let mut first_stored = None;
    let mut stored = 0;
    for (append, event) in events() {
        if let Some(p) = placed.get(&event.id) {
            if p.stream != append.stream.as_str() {
                return Err(StoreError::DuplicateEventId {
                    event_id: event.id,
                    stored_in: p.stream.clone(),
                    sent_to: append.stream.to_string(),
                });
            }
            first_stored.get_or_insert(event.id);
            stored += 1;
        }
    }
    let fresh = |already_stored| {
        appends
            .iter()
            .map(|a| AppendResult {
                stream: a.stream.clone(),
                stream_version: 0,
                positions: Vec::with_capacity(a.events.len()),
                already_stored,
            })
            .collect::<Vec<_>>()
    };
    if let Some(event_id) = first_stored {
        if stored < events().count() {
            return Err(StoreError::PartlyStored { event_id });
        }
        let mut results = fresh(true);
        for (result, append) in results.iter_mut().zip(appends) {
            for event in &append.events {
                let p = &placed[&event.id];
                result.positions.push(p.position);
                result.stream_version = result.stream_version.max(p.version);
            }
        }
        return Ok(results);
    }
    for append in appends {
        let current = versions.get(append.stream.as_str()).copied().unwrap_or(0);
        if !append.expected.accepts(current) {
            return Err(StoreError::WrongExpectedVersion {
                stream: append.stream.clone(),
                expected: append.expected,
                actual: current,
            });
        }
    }
    Ok(fresh(false))
}

#[cfg(test)]
mod tests {
    //! The planner without a database: what each request is decided to be, and how the events
    //! are numbered, hashed and chained.

    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::event::{Actor, ExpectedVersion, Metadata, StreamName};

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
    }

    fn event(n: u32) -> NewEvent {
        NewEvent::new("tested", json!({ "n": n }), Metadata::new(Actor::system("t"), "t"))
    }

    fn events(n: u32) -> Vec<NewEvent> {
        (0..n).map(event).collect()
    }

    fn append(stream: &str, expected: ExpectedVersion, events: Vec<NewEvent>) -> StreamAppend {
        StreamAppend::new(StreamName::new(stream).unwrap(), expected, events)
    }

    /// A log holding `a-1` at version 2 (positions 1 and 2) and `b-1` at version 1 (position 3).
    fn log() -> Known {
        Known {
            placed: HashMap::new(),
            versions: HashMap::from([("a-1".to_owned(), 2), ("b-1".to_owned(), 1)]),
            head: Some((3, [7; 32])),
        }
    }

    fn plan<'a>(requests: &[&'a [StreamAppend]], known: Known) -> Plan<'a> {
        Plan::new(requests, known, at())
    }

    /// `(position, stream, version)` of each planned event.
    fn numbered(plan: &Plan<'_>) -> Vec<(u64, String, u64)> {
        plan.events.iter().map(|p| (p.position, p.append.stream.to_string(), p.version)).collect()
    }

    fn ok(outcome: &Result<Vec<AppendResult>>) -> Vec<(u64, Vec<u64>, bool)> {
        let results = outcome.as_ref().unwrap();
        results.iter().map(|r| (r.stream_version, r.positions.clone(), r.already_stored)).collect()
    }

    #[test]
    fn expected_versions_any_no_stream_and_exact() {
        let accepted = [
            append("a-1", ExpectedVersion::Any, events(1)),
            append("a-1", ExpectedVersion::Exact(2), events(1)),
            append("new-1", ExpectedVersion::NoStream, events(1)),
            append("new-1", ExpectedVersion::Exact(0), events(1)),
            append("new-1", ExpectedVersion::Any, events(1)),
        ];
        for a in &accepted {
            let p = plan(&[std::slice::from_ref(a)], log());
            assert!(p.outcomes[0].is_ok(), "{a:?}: {:?}", p.outcomes[0]);
        }
        let refused = [
            (append("a-1", ExpectedVersion::NoStream, events(1)), 2),
            (append("a-1", ExpectedVersion::Exact(0), events(1)), 2),
            (append("a-1", ExpectedVersion::Exact(1), events(1)), 2),
            (append("a-1", ExpectedVersion::Exact(3), events(1)), 2),
            (append("new-1", ExpectedVersion::Exact(1), events(1)), 0),
        ];
        for (a, at_version) in &refused {
            let p = plan(&[std::slice::from_ref(a)], log());
            match &p.outcomes[0] {
                Err(StoreError::WrongExpectedVersion { stream, expected, actual }) => {
                    assert_eq!((stream, expected, actual), (&a.stream, &a.expected, at_version));
                }
                other => panic!("{a:?}: expected a wrong version, got {other:?}"),
            }
            assert!(p.events.is_empty());
            assert_eq!(p.head, (3, [7; 32]));
        }
    }

    #[test]
    fn a_wrong_version_names_the_stream_and_both_versions() {
        let a = [append("a-1", ExpectedVersion::Exact(5), events(1))];
        let p = plan(&[&a], log());
        let message = p.outcomes[0].as_ref().unwrap_err().to_string();
        assert_eq!(message, "stream a-1 is at version 2, not the expected Exact(5)");
    }

    #[test]
    fn events_are_numbered_hashed_and_chained_after_the_head() {
        let a = [
            append("a-1", ExpectedVersion::Exact(2), events(2)),
            append("c-1", ExpectedVersion::NoStream, events(1)),
        ];
        let p = plan(&[&a], log());
        assert_eq!(ok(&p.outcomes[0]), [(4, vec![4, 5], false), (1, vec![6], false)]);
        assert_eq!(
            numbered(&p),
            [(4, "a-1".into(), 3), (5, "a-1".into(), 4), (6, "c-1".into(), 1)]
        );
        let mut link = [7; 32];
        for planned in &p.events {
            let e = planned.event;
            let content = hash::content_hash(
                &e.id,
                planned.append.stream.as_str(),
                &e.event_type,
                &at(),
                &e.data,
                &e.metadata,
            );
            assert_eq!(planned.content, content);
            link = hash::chain_link(&link, planned.position, planned.version, &content);
            assert_eq!(planned.link, Some(link));
        }
        assert_eq!(p.head, (6, link));
        assert_eq!(p.recorded_at, at());
        assert_eq!(p.versions["a-1"], 4);
        assert_eq!(p.versions["b-1"], 1);
        assert_eq!(p.versions["c-1"], 1);
    }

    #[test]
    fn without_the_head_events_count_from_one_unchained() {
        let a = [append("a-1", ExpectedVersion::Any, events(2))];
        let p = plan(&[&a], Known { head: None, ..log() });
        assert_eq!(numbered(&p), [(1, "a-1".into(), 3), (2, "a-1".into(), 4)]);
        assert!(p.events.iter().all(|e| e.link.is_none()));
        assert_eq!(p.head, (2, GENESIS));
    }

    #[test]
    fn contents_computed_beforehand_plan_the_same_events() {
        let stored = event(9);
        let known = || {
            let mut known = log();
            known
                .placed
                .insert(stored.id, Placed { stream: "a-1".into(), version: 2, position: 2 });
            known
        };
        // A refused request and a retry between appended ones: the hashes stay aligned.
        let first = [
            append("c-1", ExpectedVersion::NoStream, events(2)),
            append("a-1", ExpectedVersion::Exact(2), events(1)),
        ];
        let refused = [append("b-1", ExpectedVersion::NoStream, events(3))];
        let retry = [append("a-1", ExpectedVersion::Any, vec![stored.clone()])];
        let last = [append("d-1", ExpectedVersion::Any, events(2))];
        let requests: [&[StreamAppend]; 4] = [&first, &refused, &retry, &last];
        let planned = Plan::new(&requests, known(), at());
        let contents = Contents::new(&requests, at());
        let beforehand = Plan::with_contents(&requests, known(), &contents);
        let rows = |p: &Plan<'_>| {
            p.events.iter().map(|e| (e.event.id, e.position, e.content, e.link)).collect::<Vec<_>>()
        };
        assert_eq!(rows(&planned).len(), 5);
        assert_eq!(rows(&beforehand), rows(&planned));
        assert_eq!(beforehand.head, planned.head);
        assert_eq!(beforehand.recorded_at, at());
    }

    #[test]
    fn several_appends_to_one_stream_in_a_batch_follow_each_other() {
        let first = [append("a-1", ExpectedVersion::Exact(2), events(2))];
        let second = [append("a-1", ExpectedVersion::Exact(4), events(1))];
        let stale = [append("a-1", ExpectedVersion::Exact(2), events(1))];
        let p = plan(&[&first, &second, &stale], log());
        assert_eq!(ok(&p.outcomes[0]), [(4, vec![4, 5], false)]);
        assert_eq!(ok(&p.outcomes[1]), [(5, vec![6], false)]);
        assert!(matches!(p.outcomes[2], Err(StoreError::WrongExpectedVersion { actual: 5, .. })));
        assert_eq!(
            numbered(&p),
            [(4, "a-1".into(), 3), (5, "a-1".into(), 4), (6, "a-1".into(), 5)]
        );
        assert_eq!(p.versions["a-1"], 5);
    }

    #[test]
    fn a_refused_request_plans_nothing_and_refuses_no_other() {
        let fine = [append("c-1", ExpectedVersion::NoStream, events(1))];
        // The second stream's expectation fails: nothing of the first is planned either.
        let refused = [
            append("d-1", ExpectedVersion::NoStream, events(2)),
            append("b-1", ExpectedVersion::NoStream, events(1)),
        ];
        let after = [append("d-1", ExpectedVersion::NoStream, events(1))];
        let p = plan(&[&fine, &refused, &after], log());
        assert_eq!(ok(&p.outcomes[0]), [(1, vec![4], false)]);
        match &p.outcomes[1] {
            Err(StoreError::WrongExpectedVersion { stream, actual: 1, .. }) => {
                assert_eq!(stream.as_str(), "b-1")
            }
            other => panic!("expected a conflict on b-1, got {other:?}"),
        }
        // `d-1` was not created by the refused request.
        assert_eq!(ok(&p.outcomes[2]), [(1, vec![5], false)]);
        assert_eq!(numbered(&p), [(4, "c-1".into(), 1), (5, "d-1".into(), 1)]);
        assert_eq!(p.head.0, 5);
    }

    #[test]
    fn a_retry_of_stored_ids_returns_the_original_result() {
        let stored = events(2);
        let mut known = log();
        for (i, e) in stored.iter().enumerate() {
            let n = u64::try_from(i).unwrap() + 1;
            known.placed.insert(e.id, Placed { stream: "a-1".into(), version: n, position: n });
        }
        // The expected version no longer holds: a retry does not check it.
        let retry = [append("a-1", ExpectedVersion::NoStream, stored)];
        let p = plan(&[&retry], known);
        assert_eq!(ok(&p.outcomes[0]), [(2, vec![1, 2], true)]);
        assert!(p.events.is_empty());
        assert_eq!(p.head, (3, [7; 32]));
    }

    #[test]
    fn a_request_partly_stored_is_no_retry_and_names_a_stored_event() {
        let stored = event(1);
        let mut known = log();
        known.placed.insert(stored.id, Placed { stream: "a-1".into(), version: 2, position: 2 });
        // A new event first: the error names the stored one.
        let mixed = [append("a-1", ExpectedVersion::Any, vec![event(2), stored.clone()])];
        let p = plan(&[&mixed], known);
        match &p.outcomes[0] {
            Err(e @ StoreError::PartlyStored { event_id }) => {
                assert_eq!(*event_id, stored.id);
                assert!(e.is_conflict());
            }
            other => panic!("expected PartlyStored, got {other:?}"),
        }
        assert!(p.events.is_empty());
    }

    #[test]
    fn an_id_stored_in_another_stream_conflicts() {
        let stored = event(1);
        let mut known = log();
        known.placed.insert(stored.id, Placed { stream: "a-1".into(), version: 1, position: 1 });
        let elsewhere = [append("b-1", ExpectedVersion::Any, vec![stored.clone()])];
        let p = plan(&[&elsewhere], known);
        let error = p.outcomes[0].as_ref().unwrap_err();
        match error {
            StoreError::DuplicateEventId { event_id, stored_in, sent_to } => {
                assert_eq!(
                    (event_id, stored_in.as_str(), sent_to.as_str()),
                    (&stored.id, "a-1", "b-1")
                );
            }
            other => panic!("expected DuplicateEventId, got {other:?}"),
        }
        assert_eq!(
            error.to_string(),
            format!("event {} is already stored in stream a-1, not b-1", stored.id)
        );
        assert!(p.events.is_empty());
    }

    #[test]
    fn an_id_sent_twice_in_a_batch_is_a_retry_or_a_conflict() {
        let e = event(1);
        let first = [append("c-1", ExpectedVersion::NoStream, vec![e.clone()])];
        let again = [append("c-1", ExpectedVersion::NoStream, vec![e.clone()])];
        let elsewhere = [append("d-1", ExpectedVersion::Any, vec![e.clone()])];
        let p = plan(&[&first, &again, &elsewhere], log());
        assert_eq!(ok(&p.outcomes[0]), [(1, vec![4], false)]);
        // The same stream: a retry of what the first request appended.
        assert_eq!(ok(&p.outcomes[1]), [(1, vec![4], true)]);
        // Another stream: a conflict with the first request.
        match &p.outcomes[2] {
            Err(StoreError::DuplicateEventId { event_id, stored_in, sent_to }) => {
                assert_eq!((event_id, stored_in.as_str(), sent_to.as_str()), (&e.id, "c-1", "d-1"));
            }
            other => panic!("expected DuplicateEventId, got {other:?}"),
        }
        assert_eq!(numbered(&p), [(4, "c-1".into(), 1)]);
    }
}
