//! `procgate import statement` against the real `procgate serve`: the file is streamed to the
//! gate in chunks (this one spans several), what the gate answered is printed, and a second
//! import of the same file records nothing again.

mod support;

use std::process::Command;

use serde_json::Value;
use support::Server;

/// More rows than one chunk of the upload carries (256 KiB), so the file is sent in several.
const ROWS: usize = 3500;

fn import(server: &Server, file: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_procgate"))
        .args(["import", "statement"])
        .arg(file)
        .args(["--url", &server.url])
        .env("PROCGATE_DATA_DIR", server.data_dir.path())
        .env_remove("PROCGATE_JWT_SECRET")
        .env_remove("PROCGATE_OIDC_ISSUER")
        .env_remove("PROCGATE_TOKEN")
        .output()
        .expect("procgate runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import failed: {stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_larger_than_a_chunk_is_imported_once() {
    let server = tokio::task::spawn_blocking(|| {
        let server = Server::start(&[]);
        server.demo(1, 5);
        server
    })
    .await
    .unwrap();
    let token = server.token("it-import-test", &["it_staff"]);
    let cards: Value = reqwest::Client::new()
        .get(format!("{}/v1/cards", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last4 = cards["cards"][0]["last4"].as_str().expect("the demo registered a card");

    let mut csv = String::from(
        "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n",
    );
    for n in 0..ROWS {
        csv.push_str(&format!(
            "IMPORTTEST{n:013},2025-10-03,2025-10-05,{last4},LAKESHORE LEARNING #{n},5945,12.{:02},USD\n",
            n % 100
        ));
    }
    assert!(csv.len() > 256 * 1024, "the file must span more than one chunk");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statement.csv");
    std::fs::write(&file, &csv).unwrap();

    let first = tokio::task::spawn_blocking({
        let (server, file) = (server, file);
        move || {
            let first = import(&server, &file);
            let second = import(&server, &file);
            (first, second)
        }
    })
    .await
    .unwrap();
    let (first, second) = first;
    assert!(
        first.contains(&format!("{ROWS} rows, {ROWS} transactions; recorded {ROWS} (0 already")),
        "{first}"
    );
    assert!(first.contains(&format!("not technology {ROWS}")), "{first}");
    assert!(second.contains(&format!("recorded 0 ({ROWS} already recorded before)")), "{second}");
}
