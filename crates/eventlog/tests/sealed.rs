//! `SealedStore` on both backends: personal fields are ciphertext at rest and open on every
//! read; a destroyed key masks them everywhere while the chain verifies; a tampered field or
//! the wrong master key is an error, never a silent mask.

use std::sync::Arc;

use eventlog::{
    Actor, DataKey, DocKey, Docs, ExpectedVersion, Filter, KeySelector, Mask, MasterKey, Metadata,
    NewEvent, Projection, RecordedEvent, SealRule, SealedStore, Sealing, Store, StoreError,
    StreamName, Subject,
};
use serde_json::{Value, json};
use testkit::{Backend, TestStore};

testkit::on_each_backend!(
    sealed_fields_open_mask_and_verify,
    retention_destroys_dated_keys_only,
    a_tampered_field_is_an_error,
    a_runner_reset_by_another_instance_forgets_destroyed_keys,
    no_key_is_added_under_an_erased_owner,
);

const RULES: &[SealRule] = &[
    SealRule {
        event_type: "person-registered",
        subject: Subject::Stream,
        owner: None,
        purpose: "person",
        dated: None,
        fields: &[("name", Mask::Text), ("email", Mask::Email), ("phone", Mask::Null)],
    },
    SealRule {
        event_type: "note-taken",
        subject: Subject::Field { prefix: "note", path: &["note_id"] },
        owner: Some(Subject::Stream),
        purpose: "notes",
        dated: Some("at"),
        fields: &[("text", Mask::Text), ("tags", Mask::Text)],
    },
];

fn sealed(inner: Store, key: u8) -> Store {
    Arc::new(SealedStore::new(inner, Sealing { rules: RULES }, MasterKey::new(&[key; 32])))
}

fn event(event_type: &str, data: Value) -> NewEvent {
    NewEvent::new(event_type, data, Metadata::new(Actor::system("test"), "test"))
}

async fn write(store: &Store, stream: &str, events: Vec<NewEvent>) {
    let stream = StreamName::new(stream).unwrap();
    store.append(&stream, ExpectedVersion::Any, events).await.unwrap();
}

async fn data(store: &Store, stream: &str) -> Vec<Value> {
    let stream = StreamName::new(stream).unwrap();
    let events = store.read_stream_to_end(&stream).await.unwrap();
    events.into_iter().map(|e| e.data).collect()
}

async fn stored(store: &Store) -> String {
    let rows = store.chain_rows(0, 1000).await.unwrap();
    let data: Vec<Value> = rows.into_iter().filter_map(|r| r.event.map(|e| e.data)).collect();
    serde_json::to_string(&data).unwrap()
}

async fn sealed_fields_open_mask_and_verify(backend: Backend) {
    let test = TestStore::open(backend).await;
    let store = sealed(test.shared(), 7);
    let pat = json!({"name": "Pat Lee", "email": "pat@district.org", "phone": "555-0101", "role": "principal"});
    let note = json!({"note_id": "n1", "text": "Pat's daughter is ill", "tags": ["family", "health"],
                      "at": "2026-03-01T10:00:00Z", "phone": "kept"});
    let other = json!({"name": "Sam Ortiz", "email": "sam@district.org", "phone": null});
    write(
        &store,
        "person-pat",
        vec![event("person-registered", pat.clone()), event("note-taken", note.clone())],
    )
    .await;
    write(&store, "person-sam", vec![event("person-registered", other.clone())]).await;
    write(
        &store,
        "school-x",
        vec![event("school-registered", json!({"name": "Pat Lee Elementary"}))],
    )
    .await;

    // At rest: ciphertext; read: as written. A field no rule names stays as it is.
    let at_rest = stored(&store).await;
    for secret in ["pat@district.org", "daughter", "555-0101", "Sam Ortiz"] {
        assert!(!at_rest.contains(secret), "{secret} is stored in clear");
    }
    assert!(at_rest.contains("Pat Lee Elementary") && at_rest.contains("\"kept\""));
    assert_eq!(data(&store, "person-pat").await, vec![pat.clone(), note.clone()]);
    assert_eq!(data(&store, "person-sam").await, vec![other.clone()]);
    let all = store.read_all(0, &Filter::all(), 100).await.unwrap();
    assert_eq!(all[0].data, pat);

    // Another process with the same master key reads them; with another key it is an error.
    let again = sealed(test.shared(), 7);
    assert_eq!(data(&again, "person-pat").await[1], note);
    let wrong = sealed(test.shared(), 8);
    let stream = StreamName::new("person-pat").unwrap();
    match wrong.read_stream_to_end(&stream).await {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("master key"), "{message}"),
        other => panic!("the wrong master key read {other:?}"),
    }

    // Erasing Pat destroys their key and the note's (theirs), once; which of theirs are
    // destroyed can be asked after, in the same order (Sam's, whole, is not).
    let person = KeySelector::Person("person-pat".into());
    assert!(store.destroyed_data_keys(&person).await.unwrap().is_empty());
    let destroyed = store.destroy_data_keys(&person, "left").await.unwrap();
    assert_eq!(destroyed, vec!["note-n1".to_owned(), "person-pat".to_owned()]);
    assert!(store.destroy_data_keys(&person, "left").await.unwrap().is_empty());
    assert_eq!(store.destroyed_data_keys(&person).await.unwrap(), destroyed);
    let sam = KeySelector::Person("person-sam".into());
    assert!(store.destroyed_data_keys(&sam).await.unwrap().is_empty());
    let masked = data(&store, "person-pat").await;
    assert_eq!(masked[0]["name"], "(erased)");
    assert_eq!(masked[0]["email"], "erased.personpat@erased.invalid");
    assert_eq!(masked[0]["phone"], Value::Null);
    assert_eq!(masked[0]["role"], "principal");
    assert_eq!(masked[1]["text"], "(erased)");
    assert_eq!(masked[1]["tags"], json!(["(erased)", "(erased)"]));
    assert_eq!(data(&store, "person-sam").await, vec![other]);
    // A process that cached Pat's key forgets it when it reads an erasure announcement.
    assert_eq!(data(&again, "person-pat").await[0], pat);
    write(&store, "privacy-pat", vec![event("personal-data-erased", json!({"keys": destroyed}))])
        .await;
    let _ = again.read_all(0, &Filter::categories(["privacy"]), 10).await.unwrap();
    assert_eq!(data(&again, "person-pat").await, masked);

    // Written after the erasure: stored as erased. The chain covers the ciphertext.
    write(
        &store,
        "person-pat",
        vec![event(
            "note-taken",
            json!({"note_id": "n1", "text": "More", "at": "2026-04-01T00:00:00Z"}),
        )],
    )
    .await;
    assert_eq!(data(&store, "person-pat").await[2]["text"], "(erased)");
    // So is a new note of theirs: no key is made for an erased person's data.
    let later =
        json!({"note_id": "n2", "text": "Her leave ends in May", "at": "2026-04-02T00:00:00Z"});
    write(&store, "person-pat", vec![event("note-taken", later)]).await;
    assert_eq!(data(&store, "person-pat").await[3]["text"], "(erased)");
    assert_eq!(data(&sealed(test.shared(), 7), "person-pat").await[3]["text"], "(erased)");
    assert!(!stored(&store).await.contains("leave ends"), "stored in clear");
    let verified = store.verify(1, None, &|_| {}).await.unwrap();
    assert!(verified.ok, "{verified:?}");
}

async fn retention_destroys_dated_keys_only(backend: Backend) {
    let test = TestStore::open(backend).await;
    let store = sealed(test.shared(), 7);
    for (id, at) in [("old", "2020-01-01T00:00:00Z"), ("new", "2026-01-01T00:00:00Z")] {
        let note = json!({"note_id": id, "text": format!("{id} note"), "at": at});
        write(&store, "person-pat", vec![event("note-taken", note)]).await;
    }
    let before = "2023-01-01T00:00:00Z".parse().unwrap();
    let which = KeySelector::DatedBefore { purpose: "notes".into(), before };
    assert_eq!(
        store.destroy_data_keys(&which, "retention").await.unwrap(),
        vec!["note-old".to_owned()]
    );
    assert_eq!(store.destroyed_data_keys(&which).await.unwrap(), vec!["note-old".to_owned()]);
    let notes = data(&store, "person-pat").await;
    assert_eq!(
        (notes[0]["text"].as_str(), notes[1]["text"].as_str()),
        (Some("(erased)"), Some("new note"))
    );
}

async fn a_tampered_field_is_an_error(backend: Backend) {
    let test = TestStore::open(backend).await;
    let store = sealed(test.shared(), 7);
    write(&store, "person-pat", vec![event("person-registered", json!({"name": "Pat Lee"}))]).await;
    // A ciphertext moved to another event (the same key, another event id) does not open.
    let raw = store.chain_rows(0, 10).await.unwrap().remove(0).event.unwrap().data;
    write(&test.shared(), "person-pat", vec![event("person-registered", raw)]).await;
    let stream = StreamName::new("person-pat").unwrap();
    match store.read_stream_to_end(&stream).await {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("does not open"), "{message}")
        }
        other => panic!("a moved ciphertext read {other:?}"),
    }
}

/// Each person's name, kept by stream: personal data, so rebuilt after an erasure.
struct Names;

impl Projection for Names {
    fn name(&self) -> &str {
        "names"
    }
    fn filter(&self) -> Filter {
        Filter::categories(["person"])
    }
    fn collections(&self) -> Vec<String> {
        vec!["names".into()]
    }
    fn keys(&self, e: &RecordedEvent) -> Vec<DocKey> {
        vec![DocKey::new("names", &e.stream)]
    }
    fn apply(&self, e: &RecordedEvent, docs: &mut Docs) -> Result<(), String> {
        docs.put("names", &e.stream, e.data["name"].clone());
        Ok(())
    }
    fn rebuilds_after_erasure(&self) -> bool {
        true
    }
}

async fn a_runner_reset_by_another_instance_forgets_destroyed_keys(backend: Backend) {
    // Given two instances on one database; the second has read Pat's name (and cached the key).
    let test = TestStore::open(backend).await;
    let (first, second) = (sealed(test.shared(), 7), sealed(test.shared(), 7));
    let pat = json!({"name": "Pat Lee", "email": "pat@district.org"});
    write(&first, "person-pat", vec![event("person-registered", pat)]).await;
    write(&first, "person-sam", vec![event("person-registered", json!({"name": "Sam"}))]).await;
    let names = |store: &Store| {
        let store = store.clone();
        async move { store.read_all(0, &Filter::categories(["person"]), 10).await.unwrap() }
    };
    assert_eq!(names(&second).await[0].data["name"], "Pat Lee");

    // When the first erases Pat, announces it and resets the projection for it, before the
    // second has read the announcement.
    let person = KeySelector::Person("person-pat".into());
    let destroyed = first.destroy_data_keys(&person, "left").await.unwrap();
    write(&first, "privacy-pat", vec![event("personal-data-erased", json!({"keys": destroyed}))])
        .await;
    let erasure = first.head().await.unwrap();
    assert!(first.reset_projection_after_erasure(&Names, erasure).await.unwrap());
    assert_eq!(names(&second).await[0].data["name"], "Pat Lee", "the second still has the key");

    // Then the second, refused its batch, learns of the erasure before it reads the log again:
    // it rebuilds Pat's name as erased, and passes over the erasure it was reset for.
    let handled = eventlog::projection::learn_erasures(&*second, &Names, 0).await.unwrap();
    assert_eq!(handled, erasure);
    assert_eq!(names(&second).await[0].data["name"], "(erased)");
    eventlog::projection::catch_up(&*second, &Names, &|_| {}).await.unwrap();
    let rebuilt = second.documents("names").await.unwrap();
    assert_eq!(
        rebuilt,
        vec![("person-pat".into(), json!("(erased)")), ("person-sam".into(), json!("Sam"))]
    );
}

fn key(subject: &str, owner: Option<&str>) -> DataKey {
    let owner = owner.map(str::to_owned);
    let (purpose, wrapped) = ("notes".to_owned(), Some(vec![1u8; 40]));
    DataKey { subject: subject.into(), owner, purpose, dated: None, wrapped }
}

async fn subjects(store: &Store, subjects: &[&str]) -> Vec<(String, bool)> {
    let subjects: Vec<String> = subjects.iter().map(|s| (*s).to_owned()).collect();
    let mut keys = store.data_keys(&subjects).await.unwrap();
    keys.sort_by(|a, b| a.subject.cmp(&b.subject));
    keys.into_iter().map(|k| (k.subject, k.wrapped.is_some())).collect()
}

async fn no_key_is_added_under_an_erased_owner(backend: Backend) {
    // Given Pat, erased, and Sam, not.
    let test = TestStore::open(backend).await;
    let store = test.shared();
    store.add_data_keys(&[key("person-pat", None), key("person-sam", None)]).await.unwrap();
    store.destroy_data_keys(&KeySelector::Person("person-pat".into()), "left").await.unwrap();
    // When keys are added under each (as a writer that checked Pat before the erasure would),
    // under an owner with no key yet, and under none.
    let new = [
        key("note-pat", Some("person-pat")),
        key("note-sam", Some("person-sam")),
        key("note-kim", Some("person-kim")),
        key("note-any", None),
    ];
    store.add_data_keys(&new).await.unwrap();
    // Then every one is added but Pat's.
    let added = subjects(&store, &["note-pat", "note-sam", "note-kim", "note-any"]).await;
    let live = |s: &str| (s.to_owned(), true);
    assert_eq!(added, vec![live("note-any"), live("note-kim"), live("note-sam")]);
}

/// On PostgreSQL: runs `sql` in a transaction another instance holds open, then `op`, which
/// must wait for that transaction; returns what `op` answers once it is committed.
async fn waits_for<T, F>(test: &TestStore, sql: &str, op: F) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let url = test.database_url().unwrap().to_owned();
    let (mut client, connection) =
        tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let held = client.transaction().await.unwrap();
    held.batch_execute(sql).await.unwrap();
    let op = tokio::spawn(op);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!op.is_finished(), "it did not wait for the transaction in flight");
    held.commit().await.unwrap();
    op.await.unwrap()
}

/// On PostgreSQL, an erasure and a key being added under the person at the same moment: the
/// erasure waits for the add and destroys the new key too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_erasure_destroys_a_key_added_while_it_began() {
    let test = TestStore::open(Backend::Postgres).await;
    let store = test.shared();
    store.add_data_keys(&[key("person-pat", None)]).await.unwrap();
    // An add in flight, not yet committed: it share-locked Pat's row, as adds do, and wrote.
    let add = "SELECT 1 FROM data_keys WHERE subject = 'person-pat' AND wrapped IS NOT NULL \
               FOR SHARE; INSERT INTO data_keys (subject, owner, purpose, wrapped) \
               VALUES ('note-pat', 'person-pat', 'notes', '\\x01');";
    let erasing = store.clone();
    let pat = KeySelector::Person("person-pat".into());
    let erasure = async move { erasing.destroy_data_keys(&pat, "left").await.unwrap() };
    let destroyed = waits_for(&test, add, erasure).await;
    assert_eq!(destroyed, vec!["note-pat".to_owned(), "person-pat".to_owned()]);
    let left = subjects(&store, &["note-pat", "person-pat"]).await;
    assert_eq!(left, vec![("note-pat".into(), false), ("person-pat".into(), false)]);
}

/// On PostgreSQL, the other way round: a key added under a person while their erasure is under
/// way waits for it, and is not added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_key_added_as_its_owner_is_erased_is_not_added() {
    let test = TestStore::open(Backend::Postgres).await;
    let store = test.shared();
    store.add_data_keys(&[key("person-pat", None)]).await.unwrap();
    // An erasure in flight, not yet committed: it locked Pat's row, as erasures do, and
    // destroyed the keys.
    let erasure = "SELECT 1 FROM data_keys WHERE subject = 'person-pat' FOR UPDATE; \
                   UPDATE data_keys SET wrapped = NULL, destroyed_at = now(), \
                   destroy_reason = 'left' WHERE subject = 'person-pat' OR owner = 'person-pat';";
    let adding = store.clone();
    let add = async move { adding.add_data_keys(&[key("note-pat", Some("person-pat"))]).await };
    waits_for(&test, erasure, add).await.unwrap();
    assert_eq!(subjects(&store, &["note-pat"]).await, vec![], "a key under the erased person");
}
