//! Card statements over HTTP: all or nothing, dry runs that write nothing, re-imports that
//! add nothing, reconciliation with card-paid checks, and unchecked technology in IT's
//! outreach queue. The files are the fixtures the README shows.

use events::calendar::{BusinessHours, ClockTime, DistrictCalendar, TimeZoneName};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const PROCGATE: &str = include_str!("../fixtures/statement-procgate.csv");
const USBANK: &str = include_str!("../fixtures/statement-usbank.csv");
const MUNIS: &str = include_str!("../fixtures/statement-munis.txt");
const MAPPING: &str = include_str!("../fixtures/statement-mapping.csv");
const BAD: &str = include_str!("../fixtures/statement-bad.csv");

/// The fixtures' cards: 4821 (Pat, the gated school) and 0042 (Sam, the other).
pub const PAT_CARD: &str = "0193a5e0-0000-7000-8000-000000004821";
pub const SAM_CARD: &str = "0193a5e0-0000-7000-8000-000000000042";

impl TestApp {
    /// The district, its two cards, and Geek Squad listed as a technology merchant.
    pub async fn seed_cards(&self) {
        self.seed().await;
        self.put_card(PAT_CARD, "4821", "pat.lee@district.org", GATED).await.expect(201);
        self.put_card(SAM_CARD, "0042", "sam.ortiz@district.org", UNGATED).await.expect(201);
        let settings = json!({
            "amount_tolerance": "5.00", "amount_tolerance_percent": 2, "date_window_days": 7,
            "min_vendor_similarity": 60, "technology_merchants": ["Geek Squad"],
        });
        self.put(Who::ItStaff, "/v1/reconciliation", &settings).await.expect(200);
    }

    pub async fn put_card(&self, id: &str, last4: &str, email: &str, school: &str) -> Reply {
        let body = json!({"last4": last4, "holder_email": email, "school_id": school});
        self.put(Who::ItStaff, &format!("/v1/cards/{id}"), &body).await
    }

    /// Sends a statement file as `who`, with `query` (`profile=…&dry_run=…`).
    pub async fn statement_as(&self, who: Who, query: &str, file: &str) -> Reply {
        let req = self
            .request(who, Method::POST, &format!("/v1/card-statements?{query}"))
            .header("content-type", "text/csv")
            .body(file.to_owned());
        Reply::read(req.send().await.unwrap()).await
    }

    pub async fn statement(&self, query: &str, file: &str) -> Reply {
        self.statement_as(Who::Finance, query, file).await
    }

    /// The card transactions IT sees with `query`.
    pub async fn transactions(&self, query: &str) -> Vec<Value> {
        let page = self.get(Who::ItStaff, &format!("/v1/card-transactions?{query}")).await;
        page.expect(200)["transactions"].as_array().unwrap().clone()
    }
}

fn counts(answer: &Value) -> [u64; 8] {
    [
        "transactions",
        "recorded",
        "already_recorded",
        "matched",
        "ambiguous",
        "unchecked_technology",
        "not_technology",
        "credits",
    ]
    .map(|k| answer[k].as_u64().unwrap_or_else(|| panic!("no {k} in {answer:#}")))
}

on_both_backends!(
    a_dry_run_answers_as_the_import_would_and_writes_nothing,
    a_bad_row_refuses_the_whole_file_naming_each_line,
    importing_again_or_an_overlapping_statement_adds_nothing,
    unchecked_technology_is_in_it_s_outreach_queue,
    outreach_logged_without_a_time_took_place_by_the_gate_s_clock,
    a_card_paid_check_is_matched_and_it_can_undo_and_choose,
    statements_imported_at_once_match_a_check_once,
    a_purchase_bought_as_amended_is_matched_at_the_alternative_s_price,
    a_charge_for_a_cancelled_purchase_stays_unchecked,
    a_held_purchase_bought_once_approved_is_matched_however_long_it_was_held,
    an_evening_check_is_matched_with_a_transaction_of_the_district_s_day,
    the_reconciliation_settings_are_replaced_whole,
    every_profile_imports_its_sample,
    an_idempotency_key_answers_the_first_import_again,
    who_may_import_and_read,
);

async fn a_dry_run_answers_as_the_import_would_and_writes_nothing(app: TestApp) {
    app.seed_cards().await;
    let head = app.head().await;
    let dry = app.statement("dry_run=true", PROCGATE).await.expect(200).clone();
    assert_eq!(dry["dry_run"], true);
    // 1 Best Buy laptop and 1 Apple (technology codes), Geek Squad (listed), paper, a credit.
    assert_eq!(counts(&dry), [5, 5, 0, 0, 0, 3, 1, 1]);
    assert_eq!(app.head().await, head, "a dry run wrote to the log");
    assert!(app.transactions("").await.is_empty());

    let real = app.statement("profile=procgate", PROCGATE).await.expect(201).clone();
    assert_eq!(real["dry_run"], false);
    assert_eq!(counts(&real), counts(&dry));
    // One atomic append: the statement and five transactions, three of them flagged.
    assert_eq!(app.head().await, head + 1 + 5 + 3);
    let listed =
        app.transactions(&format!("statement_id={}", real["statement_id"].as_str().unwrap())).await;
    assert_eq!(listed.len(), 5);
}

async fn a_bad_row_refuses_the_whole_file_naming_each_line(app: TestApp) {
    app.seed_cards().await;
    let head = app.head().await;
    for query in ["", "dry_run=true"] {
        let reply = app.statement(query, BAD).await;
        let problem = reply.expect_problem(422, "invalid-statement");
        let errors: Vec<(u64, &str)> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap()))
            .collect();
        assert_eq!(
            errors,
            [
                (3, "transaction_date"),
                (4, "card_last4"),
                (5, "mcc"),
                (5, "amount"),
                (6, "currency")
            ]
        );
        assert_eq!(problem["error_count"], 5);
        assert!(problem["detail"].as_str().unwrap().contains("line(s) 3, 4, 5"), "{problem:#}");
    }
    // Line 2 was fine, and it was not imported either.
    assert_eq!(app.head().await, head);
    assert!(app.transactions("").await.is_empty());

    let wrong_header = app.statement("profile=usbank", PROCGATE).await;
    let problem = wrong_header.expect_problem(422, "invalid-statement");
    assert_eq!(problem["errors"][0]["line"], 1, "{problem:#}");
    app.statement("profile=visa", PROCGATE).await.expect_problem(400, "invalid-query");
    // A misspelled dry run must not import.
    app.statement("dryrun=true", PROCGATE).await.expect_problem(400, "invalid-query");
    let json = app.post(Who::Finance, "/v1/card-statements", &json!({"rows": []})).await;
    json.expect_problem(415, "unsupported-media-type");
    assert_eq!(app.head().await, head);
}

async fn importing_again_or_an_overlapping_statement_adds_nothing(app: TestApp) {
    app.seed_cards().await;
    app.statement("", PROCGATE).await.expect(201);
    let head = app.head().await;
    let again = app.statement("", PROCGATE).await.expect(200).clone();
    assert_eq!(counts(&again), [5, 0, 5, 0, 0, 0, 0, 0]);
    assert_eq!(app.head().await, head, "a re-import wrote to the log");

    // The next statement repeats the last two transactions and adds one.
    let lines: Vec<&str> = PROCGATE.lines().collect();
    let overlapping = format!(
        "{}\n{}\n{}\n24692165001000000000006,2025-10-12,2025-10-13,4821,STAPLES 00110,5943,19.99,USD\n",
        lines[0], lines[4], lines[5]
    );
    let answer = app.statement("", &overlapping).await.expect(201).clone();
    assert_eq!(counts(&answer), [3, 1, 2, 0, 0, 0, 1, 0]);
    assert_eq!(app.head().await, head + 2);
    assert_eq!(app.transactions("").await.len(), 6);
    assert_eq!(app.events_of_type("card-transaction-recorded").await.len(), 6);
}

async fn unchecked_technology_is_in_it_s_outreach_queue(app: TestApp) {
    app.seed_cards().await;
    app.statement("", PROCGATE).await.expect(201);
    let unchecked = app.transactions("status=unchecked_technology").await;
    assert_eq!(unchecked.len(), 3);
    assert_eq!(app.transactions("status=credit").await.len(), 1);
    assert_eq!(app.transactions("status=not_technology").await.len(), 1);
    app.get(Who::ItStaff, "/v1/card-transactions?status=rogue")
        .await
        .expect_problem(400, "invalid-query");

    let queue = app.get(Who::ItStaff, "/v1/outreach").await.expect(200).clone();
    assert_eq!(queue["waiting"], 3);
    assert_eq!(queue["totals"]["USD"], "1877.99");
    let first = &queue["items"][0];
    assert_eq!(first["school_id"], GATED);
    assert_eq!(first["school_name"], "Lincoln Elementary");
    assert_eq!(first["holder_email"], "pat.lee@district.org");
    assert_eq!(
        (first["amount"].as_str(), first["merchant"].as_str()),
        (Some("1299.99"), Some("BEST BUY #1234"))
    );
    let only_jefferson = app.get(Who::Auditor, &format!("/v1/outreach?school_id={UNGATED}")).await;
    assert_eq!(only_jefferson.expect(200)["waiting"], 2);

    // Outreach, not cancellation: a call that reached the holder takes it off the queue.
    let id = first["transaction_id"].as_str().unwrap();
    let path = format!("/v1/card-transactions/{id}/outreach");
    let missed = app.post(Who::ItStaff, &path, &json!({"holder_reached": false})).await;
    assert_eq!(missed.expect(201)["outreach"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(Who::ItStaff, "/v1/outreach").await.expect(200)["waiting"], 3);
    let notes = "Needed a laptop for the makerspace; IT will loan one and order the standard model";
    let reached = json!({"holder_reached": true, "notes": notes});
    app.post(Who::ItStaff, &path, &reached).await.expect(201);
    assert_eq!(app.get(Who::ItStaff, "/v1/outreach").await.expect(200)["waiting"], 2);
    let plain = app.transactions("status=not_technology").await;
    let plain_id = plain[0]["transaction_id"].as_str().unwrap();
    let refused = app
        .post(Who::ItStaff, &format!("/v1/card-transactions/{plain_id}/outreach"), &reached)
        .await;
    refused.expect_problem(409, "invalid-state");
}

async fn outreach_logged_without_a_time_took_place_by_the_gate_s_clock(app: TestApp) {
    // Given unchecked technology, and a gate whose clock reads a day behind the server's.
    app.seed_cards().await;
    app.statement("", PROCGATE).await.expect(201);
    let queue = app.get(Who::ItStaff, "/v1/outreach").await.expect(200).clone();
    let id = queue["items"][0]["transaction_id"].as_str().unwrap().to_owned();
    let yesterday = chrono::Utc::now() - chrono::TimeDelta::days(1);
    let clock = gate::Clock::system();
    clock.set(yesterday);
    let (base, handle, gate) = serve_with(app.store.clone(), clock).await;
    // When IT logs a call there without saying when it took place.
    let logged = app
        .client()
        .post(format!("{base}/v1/card-transactions/{id}/outreach"))
        .bearer_auth(app.bearer(Who::ItStaff).unwrap())
        .json(&json!({"holder_reached": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), 201);
    let doc: Value = logged.json().await.unwrap();
    // Then it took place by that gate's clock, as everything else the gate dates.
    let at: chrono::DateTime<chrono::Utc> =
        doc["outreach"][0]["occurred_at"].as_str().unwrap().parse().unwrap();
    let off = (at - yesterday).num_seconds();
    assert!((0..60).contains(&off), "{at} is not the gate's clock ({yesterday})");
    gate.stop_scheduler();
    handle.stop(false).await;
}

/// A card-paid check of the school without the agreement: Apple, 329.00, the day before.
fn apple_check(external_ref: &str) -> Value {
    json!({
        "external_ref": external_ref,
        "school_id": UNGATED,
        "requester_email": "sam.ortiz@district.org",
        "vendor": "Apple",
        "payment_method": "p_card",
        "merchant_category_code": "5734",
        "currency": "USD",
        "lines": [line(None, "iPad 10th generation", "tablets", 1, "329.00")],
    })
}

async fn a_card_paid_check_is_matched_and_it_can_undo_and_choose(app: TestApp) {
    app.seed_cards().await;
    let purchase = app.submit(&apple_check(&unique_ref()), "advisory").await;
    // The statement's Apple transaction is dated 2025-10-07; the check is today. Widen the
    // window so the two meet, as a district importing an old statement would.
    let wide = json!({
        "amount_tolerance": "5.00", "amount_tolerance_percent": 2, "date_window_days": 366,
        "min_vendor_similarity": 60, "technology_merchants": ["Geek Squad"],
    });
    app.put(Who::ItStaff, "/v1/reconciliation", &wide).await.expect(200);
    let dated = PROCGATE.replace(
        "2025-10-07,2025-10-09",
        &chrono::Utc::now().format("%Y-%m-%d,%Y-%m-%d").to_string(),
    );
    let answer = app.statement("", &dated).await.expect(201).clone();
    assert_eq!(
        (answer["matched"].as_u64(), answer["unchecked_technology"].as_u64()),
        (Some(1), Some(2))
    );

    let matched = app.transactions("status=matched").await;
    assert_eq!(matched.len(), 1);
    let m = &matched[0];
    assert_eq!(m["matched"]["purchase_id"], purchase.as_str());
    assert_eq!(m["matched"]["how"]["method"], "exact");
    assert_eq!(m["matched"]["how"]["vendor_similarity"], 100);
    assert_eq!(m["confirmed"], false);
    let id = m["transaction_id"].as_str().unwrap();
    let at = |action: &str| format!("/v1/card-transactions/{id}/{action}");

    let confirmed = app.post(Who::ItStaff, &at("confirm"), &json!({})).await.expect(200).clone();
    assert_eq!(confirmed["confirmed"], true);
    let reason =
        json!({"reason": "The receipt is for the library's iPad, bought on another check"});
    let undone = app.post(Who::ItStaff, &at("undo-match"), &reason).await.expect(200).clone();
    assert_eq!(undone["status"], "unchecked_technology");
    assert_eq!(app.get(Who::ItStaff, "/v1/outreach").await.expect(200)["waiting"], 3);
    app.post(Who::ItStaff, &at("confirm"), &json!({})).await.expect_problem(409, "not-matched");

    let chosen = app.post(Who::ItStaff, &at("match"), &json!({"purchase_id": purchase})).await;
    let chosen = chosen.expect(200).clone();
    assert_eq!(
        (chosen["status"].as_str(), chosen["confirmed"].as_bool()),
        (Some("matched"), Some(true))
    );
    assert_eq!(chosen["matched"]["how"]["method"], "chosen_by_it");
    // The Best Buy laptop is Lincoln's: a Jefferson check cannot be it.
    let laptop = app.transactions(&format!("status=unchecked_technology&school_id={GATED}")).await;
    let laptop_id = laptop[0]["transaction_id"].as_str().unwrap();
    let other = app.submit(&apple_check(&unique_ref()), "advisory").await;
    let wrong = app
        .post(
            Who::ItStaff,
            &format!("/v1/card-transactions/{laptop_id}/match"),
            &json!({"purchase_id": other}),
        )
        .await;
    wrong.expect_problem(422, "school-mismatch");
    let taken = app
        .post(
            Who::ItStaff,
            &format!("/v1/card-transactions/{laptop_id}/match"),
            &json!({"purchase_id": purchase}),
        )
        .await;
    taken.expect_problem(409, "purchase-already-matched");

    // Two of IT choosing the check for two transactions at the same moment: one gets it.
    app.post(Who::ItStaff, &at("undo-match"), &reason).await.expect(200);
    let open = app.transactions(&format!("status=unchecked_technology&school_id={UNGATED}")).await;
    let paths: Vec<String> = open
        .iter()
        .map(|t| format!("/v1/card-transactions/{}/match", t["transaction_id"].as_str().unwrap()))
        .collect();
    assert_eq!(paths.len(), 2, "the Apple and Geek Squad transactions");
    let choice = json!({"purchase_id": purchase});
    let replies =
        futures::future::join_all(paths.iter().map(|p| app.post(Who::ItStaff, p, &choice))).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    let lost = replies.iter().find(|r| r.status != 200).unwrap();
    lost.expect_problem(409, "purchase-already-matched");
    assert_eq!(app.transactions("status=matched").await.len(), 1);
}

async fn statements_imported_at_once_match_a_check_once(app: TestApp) {
    app.seed_cards().await;
    let purchase = app.submit(&apple_check(&unique_ref()), "advisory").await;
    // Two statements, each with its own transaction that fits the one open check.
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let file = |reference: &str| {
        format!(
            "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n\
             {reference},{today},{today},0042,APPLE.COM/US,5734,329.00,USD\n"
        )
    };
    let (one, two) = (file("24692165009000000000001"), file("24692165009000000000002"));
    let (one, two) = futures::join!(app.statement("", &one), app.statement("", &two));
    let matched: Vec<u64> =
        [one.expect(201), two.expect(201)].iter().map(|a| a["matched"].as_u64().unwrap()).collect();
    assert_eq!(matched.iter().sum::<u64>(), 1, "{matched:?}");
    let transactions = app.transactions("status=matched").await;
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0]["matched"]["purchase_id"], purchase.as_str());
    assert_eq!(app.transactions("status=unchecked_technology").await.len(), 1);
}

/// Pat's held card purchase: the XPS 13 laptop at 1299.00, not in the catalog, from Dell;
/// requested `days_ago` (entered after the fact), else now.
async fn held_card_purchase(app: &TestApp, days_ago: Option<i64>) -> String {
    let mut body = with(held_body(&unique_ref()), "/payment_method", json!("p_card"));
    if let Some(days) = days_ago {
        let requested = chrono::Utc::now() - chrono::TimeDelta::days(days);
        body = with(body, "/requested_at", json!(requested.to_rfc3339()));
    }
    app.submit(&with(body, "/merchant_category_code", json!("5732")), "held").await
}

/// A statement of one charge on Pat's card today, from `merchant`, of `amount`.
fn one_charge(reference: &str, merchant: &str, amount: &str) -> String {
    let today = chrono::Utc::now().format("%Y-%m-%d");
    format!(
        "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n\
         {reference},{today},{today},4821,{merchant},5732,{amount},USD\n"
    )
}

async fn a_purchase_bought_as_amended_is_matched_at_the_alternative_s_price(app: TestApp) {
    // Given Pat's held card purchase, amended to the supported Latitude at 899.00 after a call,
    app.seed_cards().await;
    let id = held_card_purchase(&app, None).await;
    app.reached_call(&id).await;
    let alternative = app.propose(&id).await;
    let accept = format!("/v1/purchases/{id}/alternatives/{alternative}/accept");
    app.post(Who::ItStaff, &accept, &json!({})).await.expect(200);
    // when the card statement shows Dell's charge of 899.00,
    let file = one_charge("24692165009000000000011", "DELL", "899.00");
    let answer = app.statement("", &file).await.expect(201).clone();
    // then it is that purchase, bought as amended: not unchecked technology.
    assert_eq!(
        (answer["matched"].as_u64(), answer["unchecked_technology"].as_u64()),
        (Some(1), Some(0)),
        "{answer}"
    );
    let matched = app.transactions("status=matched").await;
    assert_eq!(matched[0]["matched"]["purchase_id"], id.as_str());
    assert_eq!(matched[0]["matched"]["how"]["method"], "exact");
}

async fn a_held_purchase_bought_once_approved_is_matched_however_long_it_was_held(app: TestApp) {
    // Given Pat's held card purchase, asked twenty days ago and approved by IT today,
    app.seed_cards().await;
    let id = held_card_purchase(&app, Some(20)).await;
    app.act(&id, "approve", &json!({})).await.expect(200);
    // when Dell's charge comes on today's statement (past the 7 days from when it was asked),
    let file = one_charge("24692165009000000000013", "DELL", "1299.00");
    let answer = app.statement("", &file).await.expect(201).clone();
    // then it is that purchase, bought once approved: 0 days from its approval.
    assert_eq!(
        (answer["matched"].as_u64(), answer["unchecked_technology"].as_u64()),
        (Some(1), Some(0))
    );
    let matched = app.transactions("status=matched").await;
    assert_eq!(matched[0]["matched"]["purchase_id"], id.as_str());
    assert_eq!(matched[0]["matched"]["how"]["days_apart"], 0);
}

async fn a_charge_for_a_cancelled_purchase_stays_unchecked(app: TestApp) {
    // Given Pat's held card purchase, cancelled after a call and an alternative,
    app.seed_cards().await;
    let id = held_card_purchase(&app, None).await;
    app.reached_call(&id).await;
    app.propose(&id).await;
    app.act(&id, "cancel", &json!({"reason": "Not supported"})).await.expect(200);
    // when Dell's charge of 1299.00 comes on the statement anyway,
    let file = one_charge("24692165009000000000012", "DELL", "1299.00");
    let answer = app.statement("", &file).await.expect(201).clone();
    // then it is unchecked technology, and IT cannot make it the cancelled purchase.
    assert_eq!(answer["unchecked_technology"].as_u64(), Some(1), "{answer}");
    let unchecked = app.transactions("status=unchecked_technology").await;
    let path = format!("/v1/card-transactions/{}/match", unchecked[0]["transaction_id"]);
    let path = path.replace('"', "");
    let head = app.head().await;
    let refused = app.post(Who::ItStaff, &path, &json!({"purchase_id": id})).await;
    refused.expect_problem(409, "purchase-cancelled");
    assert_eq!(app.head().await, head, "a refused choice wrote something");
}

async fn an_evening_check_is_matched_with_a_transaction_of_the_district_s_day(app: TestApp) {
    // Given a district in Chicago that matches a check only with a transaction of its day…
    app.seed_cards().await;
    app.put(Who::Admin, "/v1/district", &crate::district::chicago()).await.expect(200);
    let same_day = json!({
        "amount_tolerance": "5.00", "amount_tolerance_percent": 2, "date_window_days": 0,
        "min_vendor_similarity": 60, "technology_merchants": ["Geek Squad"],
    });
    app.put(Who::ItStaff, "/v1/reconciliation", &same_day).await.expect(200);
    // …and a card-paid check requested at 19:00 there a few days ago: the next day in UTC.
    let chicago = DistrictCalendar::new(
        TimeZoneName::parse("America/Chicago").unwrap(),
        BusinessHours::office(),
    );
    let day = chicago.today(chrono::Utc::now()) - chrono::TimeDelta::days(3);
    let evening = chicago.instant(day, ClockTime::parse("19:00").unwrap()).unwrap();
    assert_eq!(evening.date_naive(), day.succ_opt().unwrap());
    let check = with(apple_check(&unique_ref()), "/requested_at", json!(evening.to_rfc3339()));
    let purchase = app.submit(&check, "advisory").await;

    // When a statement whose Apple transaction is dated that day is imported.
    let dated = PROCGATE.replace("2025-10-07,2025-10-09", &format!("{day},{day}"));
    let answer = app.statement("", &dated).await.expect(201).clone();

    // Then they are matched, 0 days apart: the same day.
    assert_eq!(answer["matched"], 1, "{answer:#}");
    let matched = app.transactions("status=matched").await;
    assert_eq!(matched[0]["matched"]["purchase_id"], purchase.as_str());
    assert_eq!(matched[0]["matched"]["how"]["days_apart"], 0);
    // And IT choosing it again after an undo measures it the same way.
    let id = matched[0]["transaction_id"].as_str().unwrap();
    let at = |action: &str| format!("/v1/card-transactions/{id}/{action}");
    let reason = json!({"reason": "Checking the receipt with the school"});
    app.post(Who::ItStaff, &at("undo-match"), &reason).await.expect(200);
    let chosen = app.post(Who::ItStaff, &at("match"), &json!({"purchase_id": purchase})).await;
    let how = &chosen.expect(200)["matched"]["how"];
    assert_eq!(
        (how["method"].as_str(), how["days_apart"].as_u64()),
        (Some("chosen_by_it"), Some(0))
    );
}

/// Every field is required, as the document says: the merchant list is `[]` for none, never
/// null nor left out.
async fn the_reconciliation_settings_are_replaced_whole(app: TestApp) {
    let settings = json!({
        "amount_tolerance": "5.00", "amount_tolerance_percent": 2, "date_window_days": 7,
        "min_vendor_similarity": 60, "technology_merchants": ["Geek Squad"],
    });
    app.put(Who::ItStaff, "/v1/reconciliation", &settings).await.expect(200);
    let head = app.head().await;
    let mut null = settings.clone();
    null["technology_merchants"] = Value::Null;
    let mut absent = settings.clone();
    absent.as_object_mut().unwrap().remove("technology_merchants");
    for bad in [null, absent] {
        app.put(Who::ItStaff, "/v1/reconciliation", &bad)
            .await
            .expect_invalid_fields(&["technology_merchants"]);
    }
    assert_eq!(app.head().await, head, "nothing refused was written");
    let read = app.get(Who::ItStaff, "/v1/reconciliation").await.expect(200).clone();
    assert_eq!(read["settings"]["technology_merchants"], json!(["Geek Squad"]));

    let mut none = settings.clone();
    none["technology_merchants"] = json!([]);
    let set = app.put(Who::ItStaff, "/v1/reconciliation", &none).await.expect(200).clone();
    assert_eq!(set["settings"]["technology_merchants"], json!([]));
}

async fn every_profile_imports_its_sample(app: TestApp) {
    app.seed_cards().await;
    let usbank = app.statement("profile=usbank", USBANK).await.expect(201).clone();
    assert_eq!(counts(&usbank), [4, 4, 0, 0, 0, 1, 2, 1]);
    let munis = app.statement("profile=munis", MUNIS).await.expect(201).clone();
    assert_eq!(counts(&munis), [3, 3, 0, 0, 0, 2, 1, 0]);
    let mapping = "profile=mapping&delimiter=%3B&date_format=%25m%2F%25d%2F%25Y&reference=Txn%20Ref\
                   &transaction_date=Date&card_last4=Card&merchant=Vendor&mcc=MCC&amount=Amount";
    let mapped = app.statement(mapping, MAPPING).await.expect(201).clone();
    assert_eq!(counts(&mapped), [2, 2, 0, 0, 0, 1, 1, 0]);
    assert_eq!(mapped["profile"], "mapping");
    let incomplete = app.statement("profile=mapping&reference=Txn%20Ref", MAPPING).await;
    incomplete.expect_invalid_fields(&[
        "transaction_date",
        "card_last4",
        "merchant",
        "mcc",
        "amount",
    ]);
    assert_eq!(app.transactions("limit=1000").await.len(), 9);
}

async fn an_idempotency_key_answers_the_first_import_again(app: TestApp) {
    app.seed_cards().await;
    let send = |query: &str, file: &'static str| {
        app.request(Who::Finance, Method::POST, &format!("/v1/card-statements?{query}"))
            .header("content-type", "text/csv")
            .header("idempotency-key", "statement-2025-10")
            .body(file)
            .send()
    };
    let first = Reply::read(send("", PROCGATE).await.unwrap()).await.expect(201).clone();
    let head = app.head().await;
    let again = Reply::read(send("", PROCGATE).await.unwrap()).await.expect(200).clone();
    assert_eq!(again["statement_id"], first["statement_id"]);
    assert_eq!(counts(&again), counts(&first));
    assert_eq!(
        (first["dry_run"].as_bool(), again["dry_run"].as_bool()),
        (Some(false), Some(false))
    );
    // A dry run with the key says what the import would answer, and that it wrote nothing.
    let dry = Reply::read(send("dry_run=true", PROCGATE).await.unwrap()).await.expect(200).clone();
    assert_eq!(
        (dry["statement_id"].clone(), counts(&dry)),
        (first["statement_id"].clone(), counts(&first))
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(app.head().await, head, "the repeat wrote nothing");
    // A card registered since shares Pat's last four digits, so the file's rows would now be
    // refused; the retry of the import that succeeded still gets its answer.
    let twin = "0193a5e0-0000-7000-8000-00000000aaaa";
    app.put_card(twin, "4821", "kim.wu@district.org", GATED).await.expect(201);
    let head = app.head().await;
    app.statement("dry_run=true", PROCGATE).await.expect_problem(422, "invalid-statement");
    let retried = Reply::read(send("", PROCGATE).await.unwrap()).await.expect(200).clone();
    assert_eq!(retried["statement_id"], first["statement_id"]);
    assert_eq!(counts(&retried), counts(&first));
    let dry = Reply::read(send("dry_run=true", PROCGATE).await.unwrap()).await.expect(200).clone();
    assert_eq!((dry["dry_run"].as_bool(), counts(&dry)), (Some(true), counts(&first)));
    Reply::read(send("profile=munis", MUNIS).await.unwrap())
        .await
        .expect_problem(409, "idempotency-conflict");
    assert_eq!(app.head().await, head);
}

async fn who_may_import_and_read(app: TestApp) {
    app.seed_cards().await;
    app.statement_as(Who::Auditor, "dry_run=true", PROCGATE).await.expect_problem(403, "forbidden");
    app.statement_as(Who::Nobody, "dry_run=true", PROCGATE).await.expect(401);
    app.statement_as(Who::ItStaff, "dry_run=true", PROCGATE).await.expect(200);
    app.get(Who::Finance, "/v1/card-transactions").await.expect_problem(403, "forbidden");
    app.get(Who::Finance, "/v1/outreach").await.expect_problem(403, "forbidden");
    app.get(Who::Auditor, "/v1/card-transactions").await.expect(200);
    app.get(Who::Auditor, "/v1/cards").await.expect_problem(403, "forbidden");
    let cards = app.get(Who::Admin, "/v1/cards").await.expect(200).clone();
    assert_eq!(cards["cards"].as_array().unwrap().len(), 2);
    let updated = app.put_card(PAT_CARD, "4821", "pat.lee@district.org", UNGATED).await;
    assert_eq!(updated.expect(200)["school_id"], UNGATED);
    let unknown = app.put_card(PAT_CARD, "4821", "pat.lee@district.org", "nowhere-elem").await;
    unknown.expect_problem(422, "unknown-school");
    app.put_card("not-a-uuid", "4821", "pat.lee@district.org", GATED)
        .await
        .expect_problem(400, "invalid-path");
    app.put_card(SAM_CARD, "42", "sam", GATED)
        .await
        .expect_invalid_fields(&["last4", "holder_email"]);
}
