//! `procgate import statement` against the real `procgate serve`: the file is streamed to the
//! gate in chunks (this one spans several), what the gate answered is printed, and a second
//! import of the same file records nothing again.

mod support;

use support::{Api, Server};

/// More rows than one chunk of the upload carries (256 KiB), so the file is sent in several.
const ROWS: usize = 3500;

fn import(server: &Server, file: &std::path::Path) -> String {
    let file = file.to_str().expect("a UTF-8 path");
    let out = server.run(&["import", "statement", file, "--url", &server.url]);
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
    let cards = Api::new(&server, token).json("/v1/cards").await;
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
