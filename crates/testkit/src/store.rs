//! A throwaway store of either backend, and the macro that runs a test on both.

use std::sync::Arc;

use eventlog::{PgOptions, PgStore, SqliteStore, Store};

use crate::TestDatabase;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A store on its own throwaway database ([`crate::pg_database`]) or directory
/// ([`crate::sqlite_path`]), both removed when it is dropped (the store first).
#[derive(Debug)]
pub enum TestStore {
    Postgres { store: PgStore, database: TestDatabase },
    Sqlite { store: SqliteStore, dir: tempfile::TempDir },
}

impl TestStore {
    /// A fresh, migrated store on `backend`.
    pub async fn open(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => {
                let database = crate::pg_database().await;
                let store = PgStore::connect(database.url(), PgOptions::default())
                    .await
                    .expect("connect to the test database");
                Self::Postgres { store, database }
            }
            Backend::Sqlite => {
                let (dir, path) = crate::sqlite_path();
                let store = SqliteStore::open(&path).await.expect("open the test SQLite store");
                Self::Sqlite { store, dir }
            }
        }
    }

    /// The store, as services take it.
    pub fn shared(&self) -> Store {
        match self {
            Self::Postgres { store, .. } => Arc::new(store.clone()),
            Self::Sqlite { store, .. } => Arc::new(store.clone()),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres { .. } => Backend::Postgres,
            Self::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// The PostgreSQL database's URL (`None` on SQLite), for a second instance on it.
    pub fn database_url(&self) -> Option<&str> {
        match self {
            Self::Postgres { database, .. } => Some(database.url()),
            Self::Sqlite { .. } => None,
        }
    }
}

/// Runs each listed `async fn name(app: TestApp)` against PostgreSQL and SQLite, as the
/// tests `on_postgres::name` and `on_sqlite::name`. The calling test crate provides
/// `crate::common::TestApp::spawn(testkit::Backend)`.
// `crate` is meant: it names the calling test crate, whose `common` module spawns its app.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::common::TestApp::spawn($crate::Backend::Postgres).await;
                    super::$name(app).await;
                }
            )*
        }
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::common::TestApp::spawn($crate::Backend::Sqlite).await;
                    super::$name(app).await;
                }
            )*
        }
    };
}

/// Runs each listed `async fn name(backend: testkit::Backend)` against PostgreSQL and SQLite,
/// as `on_postgres::name` and `on_sqlite::name`: for tests that set up their own app (several
/// instances, other settings) instead of the crate's `TestApp::spawn`.
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await;
                }
            )*
        }
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }
    };
}
