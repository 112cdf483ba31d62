//! The database going away under requests: every answer is a success or a 503 with
//! `Retry-After`, never a 500, and the gate recovers once the database is back. PostgreSQL
//! only: the test kills the gate's connections (`pg_terminate_backend`) while requests run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_503_with_retry_after_never_500() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.seed().await;
    let url = app.database_url.clone().expect("a PostgreSQL database");
    let database = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();

    // Kill every connection of the gate to its database, again and again, while requests run.
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (stop, kills) = (stop.clone(), kills.clone());
        tokio::spawn(async move {
            let (admin, connection) =
                tokio_postgres::connect(&testkit::admin_url(), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            tokio::spawn(connection);
            while !stop.load(Ordering::Relaxed) {
                let killed = admin
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = $1 AND pid <> pg_backend_pid()",
                        &[&database],
                    )
                    .await
                    .unwrap();
                kills.fetch_add(killed.len(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    // The requests start once the killing has (on a loaded machine, connecting the killer may
    // take longer than the requests would), and go on until one met a killed connection.
    let started = tokio::time::Instant::now();
    while kills.load(Ordering::Relaxed) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "no connection was killed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (mut ok, mut unavailable) = (0, 0);
    for n in 0.. {
        if n >= 24 && unavailable > 0 {
            break;
        }
        assert!(n < 1000, "no request met a killed connection ({ok} succeeded)");
        let reply = match n % 3 {
            0 => app.check(&held_body(&unique_ref())).await,
            1 => app.get(Who::ItStaff, "/v1/purchases?status=held").await,
            _ => app.get(Who::ItStaff, "/v1/catalog").await,
        };
        match reply.status {
            200 | 201 => ok += 1,
            503 => {
                reply.expect_problem(503, "unavailable");
                assert!(!reply.header("retry-after").is_empty(), "a 503 without Retry-After");
                unavailable += 1;
            }
            other => panic!("the database going away answered {other}: {}", reply.text),
        }
    }
    stop.store(true, Ordering::Relaxed);
    killer.await.unwrap();
    let kills = kills.load(Ordering::Relaxed);
    eprintln!("{ok} succeeded, {unavailable} answered 503 while {kills} connections were killed");

    // The database is back: the gate recovers by itself.
    let mut recovered = false;
    for _ in 0..50 {
        if app.check(&held_body(&unique_ref())).await.status == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the gate did not recover after the connections came back");
    app.stop().await;
}
