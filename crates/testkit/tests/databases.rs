//! testkit against a real server: run through `scripts/test`, which provides one.

use std::collections::HashSet;

use testkit::{TestDatabase, admin_url, empty_pg_database, pg_database, sqlite_path};

async fn database_exists(name: &str) -> bool {
    let (admin, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    admin
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", &[&name])
        .await
        .unwrap()
        .get(0)
}

async fn has_table(db: &TestDatabase, table: &str) -> bool {
    db.connect()
        .await
        .query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn two_databases_are_distinct() {
    let a = pg_database().await;
    let b = pg_database().await;
    assert_ne!(a.name(), b.name());
    assert_ne!(a.url(), b.url());

    a.connect().await.batch_execute("CREATE TABLE only_in_a (id int)").await.unwrap();
    assert!(has_table(&a, "only_in_a").await);
    assert!(!has_table(&b, "only_in_a").await, "a table created in one database shows in another");
}

#[tokio::test]
async fn a_database_comes_migrated_and_an_empty_one_does_not() {
    let migrated = pg_database().await;
    let empty = empty_pg_database().await;
    assert!(has_table(&migrated, "refinery_schema_history").await, "the template was not migrated");
    assert!(!has_table(&empty, "refinery_schema_history").await, "the empty database has tables");
    // The empty database is usable for migration tests.
    let mut client = empty.connect().await;
    eventlog::postgres::migrate(&mut client).await.unwrap();
    assert!(has_table(&empty, "refinery_schema_history").await);
}

#[tokio::test]
async fn a_database_is_gone_after_drop() {
    let db = pg_database().await;
    let name = db.name().to_owned();
    // A session still open at drop time must not stop the drop (WITH (FORCE)).
    let client = db.connect().await;
    client.batch_execute("SELECT 1").await.unwrap();
    assert!(database_exists(&name).await);
    drop(db);
    assert!(!database_exists(&name).await, "database {name} still exists after drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrently_created_databases_work() {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12_i32 {
        tasks.spawn(async move {
            let db = if i % 4 == 0 { empty_pg_database().await } else { pg_database().await };
            let client = db.connect().await;
            let n: i32 = client.query_one("SELECT $1::int + 1", &[&i]).await.unwrap().get(0);
            assert_eq!(n, i + 1);
            db
        });
    }
    let databases: Vec<TestDatabase> = tasks.join_all().await;
    let names: HashSet<String> = databases.iter().map(|db| db.name().to_owned()).collect();
    assert_eq!(names.len(), databases.len(), "two tasks got the same database");
    drop(databases);
    for name in &names {
        assert!(!database_exists(name).await, "database {name} still exists after drop");
    }
}

#[test]
fn sqlite_path_lives_in_a_temporary_directory_removed_with_its_guard() {
    let (guard, path) = sqlite_path();
    let dir = path.parent().unwrap().to_owned();
    assert!(dir.is_dir());
    assert!(!path.exists(), "the store file is for the store to create");
    std::fs::write(&path, b"x").unwrap();
    drop(guard);
    assert!(!dir.exists(), "the temporary directory outlived its guard");
}
