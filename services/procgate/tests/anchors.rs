//! Signed anchors against an administrator who rewrites the log behind the server's back and
//! recomputes the chain: `procgate audit verify` alone cannot tell, `--anchor FILE` names the
//! stretch that changed; a truncated tail is caught too. On PostgreSQL, with the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use eventlog::hash::{chain_link, content_hash};
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, PgOptions, PgStore, Store, StreamName};
use reporting::anchors::{AnchorKey, anchor_head, check_log_against, stored_anchors};
use serde_json::json;

fn verify(url: &str, key: &Path, anchors: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_procgate"));
    command.args(["audit", "verify"]);
    if let Some(file) = anchors {
        command.arg("--anchor").arg(file);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PROCGATE_") {
            command.env_remove(name);
        }
    }
    command.env("PROCGATE_DATABASE_URL", url).env("PROCGATE_ANCHOR_KEY_FILE", key).output().unwrap()
}

fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

async fn append(store: &Store, n: u64) {
    for i in 0..n {
        let meta = Metadata::new(Actor::new("jdoe", "it_staff"), "stakeholders");
        let event = NewEvent::new(
            "school-registered",
            json!({"school_id": format!("s{i}"), "name": "A school"}),
            meta,
        );
        store
            .append(
                &StreamName::new(format!("school-s{i}")).unwrap(),
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .unwrap();
    }
}

/// Changes event `position`'s data, as an administrator with write access to the database
/// could; the content hashes of the events from `position` on, recomputed from their rows.
async fn rewrite(client: &tokio_postgres::Client, position: i64) -> Vec<(i64, i64, [u8; 32])> {
    client
        .execute("UPDATE events SET data = '{\"school_id\": \"s-forged\", \"name\": \"Forged\"}' WHERE position = $1", &[&position])
        .await
        .unwrap();
    let rows = client
        .query("SELECT position, event_id, stream, version, event_type, data, metadata, recorded_at FROM events WHERE position >= $1 ORDER BY position", &[&position])
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let metadata: serde_json::Value = row.get(6);
            let hash = content_hash(
                &row.get(1),
                row.get::<_, &str>(2),
                row.get::<_, &str>(4),
                &row.get(7),
                &row.get(5),
                &serde_json::from_value::<Metadata>(metadata).unwrap(),
            );
            (row.get(0), row.get(3), hash)
        })
        .collect()
}

/// [`rewrite`]s event `position` and recomputes its hash and every later link.
async fn rewrite_and_rechain(client: &tokio_postgres::Client, position: i64) {
    let hashes = rewrite(client, position).await;
    let previous: Vec<u8> = client
        .query_one("SELECT chain FROM events WHERE position = $1", &[&(position - 1)])
        .await
        .unwrap()
        .get(0);
    let mut link: [u8; 32] = previous.try_into().unwrap();
    for (pos, version, hash) in hashes {
        link = chain_link(&link, pos as u64, version as u64, &hash);
        client
            .execute(
                "UPDATE events SET hash = $2, chain = $3 WHERE position = $1",
                &[&pos, &hash.to_vec(), &link.to_vec()],
            )
            .await
            .unwrap();
    }
    client.execute("UPDATE log_head SET chain = $1", &[&link.to_vec()]).await.unwrap();
}

/// [`rewrite`]s event `position` and recomputes its hash only, keeping every link.
async fn rehash_only(client: &tokio_postgres::Client, position: i64) {
    let (_, _, hash) = rewrite(client, position).await[0];
    client
        .execute("UPDATE events SET hash = $2 WHERE position = $1", &[&position, &hash.to_vec()])
        .await
        .unwrap();
}

/// A log on a database of its own, a directory, and an anchor key saved in it.
struct Setup {
    db: testkit::TestDatabase,
    store: Store,
    dir: tempfile::TempDir,
    key: AnchorKey,
    key_file: PathBuf,
}

impl Setup {
    async fn new() -> Self {
        let db = testkit::pg_database().await;
        let store: Store =
            Arc::new(PgStore::connect(db.url(), PgOptions::default()).await.unwrap());
        let dir = tempfile::tempdir().unwrap();
        let key = AnchorKey::generate().unwrap();
        let key_file = dir.path().join("anchor-key.pem");
        std::fs::write(&key_file, key.to_pem().unwrap()).unwrap();
        Self { db, store, dir, key, key_file }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_and_rechained_log_fails_its_anchors() {
    let Setup { db, store, dir, key, key_file } = Setup::new().await;

    // Anchors at 10, 21 and 32 (each anchor is an event itself).
    append(&store, 10).await;
    assert_eq!(anchor_head(&*store, &key).await.unwrap().sequence, 10);
    append(&store, 10).await;
    assert_eq!(anchor_head(&*store, &key).await.unwrap().sequence, 21);
    append(&store, 10).await;
    assert_eq!(anchor_head(&*store, &key).await.unwrap().sequence, 32);
    let export = dir.path().join("anchors.json");
    let anchors = stored_anchors(&*store).await.unwrap();
    assert_eq!(anchors.len(), 3);
    std::fs::write(&export, serde_json::to_string(&json!({"anchors": anchors})).unwrap()).unwrap();
    let out = verify(db.url(), &key_file, Some(&export));
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("what 3 anchor(s) signed, up to sequence 32"), "{}", said(&out));

    // An administrator changes event 5 and its hash, keeping the links: each anchor's link
    // still matches, but the chain no longer recomputes, and the check over HTTP says so.
    let client = db.connect().await;
    let original: (serde_json::Value, Vec<u8>) = {
        let row = client.query_one("SELECT data, hash FROM events WHERE position = 5", &[]).await;
        let row = row.unwrap();
        (row.get(0), row.get(1))
    };
    rehash_only(&client, 5).await;
    let check = check_log_against(&*store, &anchors, &[key.public()]).await.unwrap();
    assert!(!check.ok, "{check:?}");
    assert_eq!((check.last_matching_sequence, check.first_failing_sequence), (None, Some(10)));
    assert!(check.problem.as_deref().unwrap().contains("sequence 5"), "{check:?}");
    let trusted = [key.public()];
    let links_only = reporting::anchors::check_anchors(&*store, &anchors, &trusted).await;
    assert!(links_only.unwrap().ok, "the links alone cannot tell");
    client
        .execute(
            "UPDATE events SET data = $1, hash = $2 WHERE position = 5",
            &[&original.0, &original.1],
        )
        .await
        .unwrap();
    assert!(check_log_against(&*store, &anchors, &[key.public()]).await.unwrap().ok);

    // An administrator rewrites event 15 and recomputes the chain after it.
    rewrite_and_rechain(&client, 15).await;
    let out = verify(db.url(), &key_file, None);
    assert!(out.status.success(), "the chain alone cannot tell: {}", said(&out));
    let out = verify(db.url(), &key_file, Some(&export));
    assert!(!out.status.success());
    let message = said(&out);
    assert!(message.contains("the chain at sequence 21"), "{message}");
    assert!(message.contains("from sequence 11 to 21"), "{message}");

    // An anchor altered after it was signed, or signed by another key, is refused.
    let mut forged = anchors.clone();
    forged[0].chain_hash = "00".repeat(32);
    std::fs::write(&export, serde_json::to_string(&forged).unwrap()).unwrap();
    let message = said(&verify(db.url(), &key_file, Some(&export)));
    assert!(message.contains("altered after it was signed"), "{message}");
    let other = dir.path().join("other.pem");
    std::fs::write(&other, AnchorKey::generate().unwrap().to_pem().unwrap()).unwrap();
    std::fs::write(&export, serde_json::to_string(&anchors[..1]).unwrap()).unwrap();
    let message = said(&verify(db.url(), &other, Some(&export)));
    assert!(message.contains("does not trust"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_log_fails_its_anchors() {
    let Setup { db, store, dir, key, key_file } = Setup::new().await;
    append(&store, 12).await;
    let anchor = anchor_head(&*store, &key).await.unwrap();
    let export = dir.path().join("anchor.json");
    std::fs::write(&export, serde_json::to_string(&anchor).unwrap()).unwrap();
    drop(store);

    // The tail goes, and the head is moved back to match: the chain verifies.
    let client = db.connect().await;
    client.execute("DELETE FROM events WHERE position > 8", &[]).await.unwrap();
    client
        .execute("UPDATE log_head SET position = 8, chain = (SELECT chain FROM events WHERE position = 8)", &[])
        .await
        .unwrap();
    let out = verify(db.url(), &key_file, None);
    assert!(out.status.success(), "{}", said(&out));
    let message = said(&verify(db.url(), &key_file, Some(&export)));
    assert!(message.contains("the log ends at sequence 8"), "{message}");
    assert!(message.contains("events were removed"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_and_no_anchors_are_not_an_intact_log() {
    let Setup { db, store, dir, key, key_file } = Setup::new().await;
    // An empty log is nothing to verify.
    let out = verify(db.url(), &key_file, None);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("the log holds no events"), "{}", said(&out));
    // An anchors file with none in it checks nothing.
    append(&store, 3).await;
    anchor_head(&*store, &key).await.unwrap();
    let empty = dir.path().join("none.json");
    std::fs::write(&empty, r#"{"anchors": []}"#).unwrap();
    let out = verify(db.url(), &key_file, Some(&empty));
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("holds no anchors"), "{}", said(&out));
    // A data directory without an embedded store is not made one.
    let missing = dir.path().join("not-the-data-dir");
    let audit = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_procgate"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PROCGATE_") {
                command.env_remove(name);
            }
        }
        command.arg("audit").args(args).env("PROCGATE_DATA_DIR", &missing).output().unwrap()
    };
    let out = audit(&["verify"]);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("there is no log to verify"), "{}", said(&out));
    assert!(!missing.exists(), "verify made a store");
    // Nor is one (with a master key of its own) made to replay a purchase in.
    let purchase = uuid::Uuid::now_v7().to_string();
    let out = audit(&["replay", "--purchase", &purchase]);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("there is no log to replay"), "{}", said(&out));
    assert!(!missing.exists(), "replay made a store");
}
