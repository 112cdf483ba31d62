//! The reports over HTTP, against figures worked out by hand from the history in `history.rs`.

use auth::Role;
use serde_json::{Value, json};

use crate::common::{TestApp, header, table};
use crate::history::{
    CTO, LINCOLN, ROOSEVELT, TECH, WASHINGTON, register_school, sign_by, spoke_for_it, stakeholder,
    write_history,
};
use events::stakeholders::StakeholderRole;

on_both_backends!(
    adoption,
    response_times,
    promises,
    rogue_spend,
    wishes,
    an_empty_log_has_empty_reports,
    a_report_read_after_a_write_includes_it,
    adoption_names_the_advocates_and_counts_a_school_year,
    every_report_takes_a_period_and_refuses_a_contradictory_one
);

/// GETs a report as CSV: its rows (header first), checking the content type.
async fn csv(app: &TestApp, name: &str) -> Vec<String> {
    let res = app
        .get(&format!("/v1/reports/{name}?format=csv"), Some(&[Role::Auditor]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        header(&res, "content-type").starts_with("text/csv"),
        "{}",
        header(&res, "content-type")
    );
    assert!(header(&res, "content-disposition").contains(&format!("procgate-{name}.csv")));
    let body = res.text().await.unwrap();
    assert!(body.ends_with("\r\n"), "{body}");
    body.split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn find<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no {field} = {value} in {list}"))
}

async fn adoption(app: TestApp) {
    write_history(&app).await;
    let report = app.get_json("/v1/reports/adoption", Role::ItStaff).await;
    // Three schools; washington withdrew, so only lincoln is gated now.
    assert_eq!(report["schools"], json!({"total": 3, "gated": 1, "gated_share": 0.3333}));
    // Technology checks: every one but P7 (not technology); through gated schools: P1, P2,
    // P3, P6, P8 = 1500 + 800 + 2000 + 300 + 1000.
    assert_eq!(
        report["technology_spend"],
        json!([{
            "currency": "USD", "checks": 8, "technology_checks": 7, "technology_spend": "18300.00",
            "gated_checks": 5, "gated_spend": "5600.00", "gated_spend_share": 0.306
        }])
    );
    let months = &report["months"];
    assert_eq!(months[0]["month"], "2024-08");
    assert_eq!(months[0]["schools"], json!({"total": 2, "gated": 1, "gated_share": 0.5}));
    assert_eq!(months[0]["technology_spend"], json!([]));
    let september = find(months, "month", "2024-09");
    assert_eq!(september["schools"], json!({"total": 3, "gated": 2, "gated_share": 0.6667}));
    assert_eq!(
        september["technology_spend"],
        json!([{
            "currency": "USD", "checks": 4, "technology_checks": 4, "technology_spend": "5000.00",
            "gated_checks": 3, "gated_spend": "4300.00", "gated_spend_share": 0.86
        }])
    );
    let october = find(months, "month", "2024-10");
    assert_eq!(october["schools"], json!({"total": 3, "gated": 1, "gated_share": 0.3333}));
    assert_eq!(october["technology_spend"][0]["technology_spend"], "13300.00");
    assert_eq!(october["technology_spend"][0]["gated_spend"], "1300.00");
    assert_eq!(october["technology_spend"][0]["gated_spend_share"], 0.0977);
    // Up to the current month.
    let today = chrono::Utc::now().date_naive();
    assert_eq!(report["as_of"], today.to_string());
    assert_eq!(
        months.as_array().unwrap().last().unwrap()["month"],
        today.format("%Y-%m").to_string()
    );
    assert_eq!(
        table(&report["agreement_changes"], &["/on", "/school_id", "/change", "/schools/gated"]),
        json!([
            ["2024-08-20", LINCOLN, "signed", 1],
            ["2024-09-10", WASHINGTON, "signed", 2],
            ["2024-10-15", WASHINGTON, "withdrawn", 1]
        ])
    );

    let rows = csv(&app, "adoption").await;
    assert_eq!(
        rows[0],
        "dimension,month,schools_total,schools_gated,schools_gated_share,gated_share_of_all,currency,checks,technology_checks,technology_spend,gated_checks,gated_spend,gated_spend_share,school_id,school_name,signed_on,principal,advocates"
    );
    assert_eq!(rows[1], "month,2024-08,2,1,0.5,0.3333,,,,,,,,,,,,");
    assert_eq!(rows[2], "month,2024-09,3,2,0.6667,0.6667,USD,4,4,5000.00,3,4300.00,0.86,,,,,");
    assert_eq!(rows[3], "month,2024-10,3,1,0.3333,0.3333,USD,4,3,13300.00,2,1300.00,0.0977,,,,,");
    // The signings last, the schools named (their principals were not registered).
    let signings: Vec<&String> = rows.iter().filter(|r| r.starts_with("signing,")).collect();
    assert_eq!(signings.len(), 2, "{rows:?}");
    assert!(signings[0].contains(",lincoln-elem,Lincoln Elementary,2024-08-20,"), "{rows:?}");
    app.stop().await;
}

async fn response_times(app: TestApp) {
    write_history(&app).await;
    let report = app.get_json("/v1/reports/response-times", Role::Auditor).await;
    // In business time: the district has not set its calendar, so UTC, 09:00 to 17:00 on
    // weekdays. Held: P1 (flagged Monday 08:00, reached at 10:00: 1 business hour; approved
    // Tuesday 08:00: 8), P2 (Thursday 12:00, reached 12:30: 0.5; cancelled Saturday 00:00:
    // 5 + 8 = 13), P3 (nothing yet), P8 (Tuesday 00:00, reached 04:00: 0; cancelled Wednesday
    // 00:00: 8).
    assert_eq!(
        report["all"],
        json!({
            "key": "all", "name": null, "held": 4, "open": 1, "approved": 1, "cancelled": 2,
            "to_first_reached_call": {"count": 3, "p50_business_hours": 0.5, "p90_business_hours": 1.0, "max_business_hours": 1.0},
            "to_resolution": {"count": 3, "p50_business_hours": 8.0, "p90_business_hours": 13.0, "max_business_hours": 13.0}
        })
    );
    assert_eq!(
        report["by_school"],
        json!([
            {
                "key": LINCOLN, "name": "Lincoln Elementary", "held": 2, "open": 0, "approved": 1, "cancelled": 1,
                "to_first_reached_call": {"count": 2, "p50_business_hours": 0.5, "p90_business_hours": 1.0, "max_business_hours": 1.0},
                "to_resolution": {"count": 2, "p50_business_hours": 8.0, "p90_business_hours": 13.0, "max_business_hours": 13.0}
            },
            {
                "key": WASHINGTON, "name": "Washington Middle", "held": 2, "open": 1, "approved": 0, "cancelled": 1,
                "to_first_reached_call": {"count": 1, "p50_business_hours": 0.0, "p90_business_hours": 0.0, "max_business_hours": 0.0},
                "to_resolution": {"count": 1, "p50_business_hours": 8.0, "p90_business_hours": 8.0, "max_business_hours": 8.0}
            }
        ])
    );
    assert_eq!(
        table(&report["by_month"], &["/key", "/held", "/open"]),
        json!([["2024-09", 3, 1], ["2024-10", 1, 0]])
    );
    assert_eq!(report["by_month"][0]["to_first_reached_call"]["p50_business_hours"], 0.5);

    let rows = csv(&app, "response-times").await;
    assert_eq!(
        rows[0],
        "dimension,key,name,held,open,approved,cancelled,reached_count,to_first_reached_call_p50_business_hours,to_first_reached_call_p90_business_hours,to_first_reached_call_max_business_hours,resolved_count,to_resolution_p50_business_hours,to_resolution_p90_business_hours,to_resolution_max_business_hours"
    );
    assert_eq!(rows[1], "all,all,,4,1,1,2,3,0.5,1,1,3,8,13,13");
    assert_eq!(rows[2], "school,lincoln-elem,Lincoln Elementary,2,0,1,1,2,0.5,1,1,2,8,13,13");
    assert_eq!(rows.len(), 1 + 1 + 2 + 2);
    app.stop().await;
}

async fn promises(app: TestApp) {
    write_history(&app).await;
    let report = app.get_json("/v1/reports/promises", Role::Admin).await;
    // A kept, B broken, C overdue, D open, and the two standing promises kept (P2 and P8
    // were cancelled after a reached call and an alternative).
    assert_eq!(
        report["all"],
        json!({"key": null, "name": null, "made": 6, "kept": 3, "broken": 1, "overdue": 1, "open": 1, "kept_share": 0.75})
    );
    assert_eq!(
        report["by_owner"],
        json!([
            {"key": CTO, "name": null, "made": 4, "kept": 3, "broken": 0, "overdue": 0, "open": 1, "kept_share": 1.0},
            {"key": TECH, "name": null, "made": 2, "kept": 0, "broken": 1, "overdue": 1, "open": 0, "kept_share": 0.0}
        ])
    );
    assert_eq!(
        report["by_school"],
        json!([
            {"key": LINCOLN, "name": "Lincoln Elementary", "made": 2, "kept": 2, "broken": 0, "overdue": 0, "open": 0, "kept_share": 1.0},
            {"key": ROOSEVELT, "name": "Roosevelt High", "made": 2, "kept": 0, "broken": 1, "overdue": 1, "open": 0, "kept_share": 0.0},
            {"key": WASHINGTON, "name": "Washington Middle", "made": 1, "kept": 1, "broken": 0, "overdue": 0, "open": 0, "kept_share": 1.0},
            {"key": null, "name": null, "made": 1, "kept": 0, "broken": 0, "overdue": 0, "open": 1, "kept_share": null}
        ])
    );
    let cbc = &report["call_before_cancel"];
    assert_eq!(
        (cbc["promises"].as_u64(), cbc["kept"].as_u64(), cbc["broken"].as_u64()),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(
        (
            cbc["cancellations"].as_u64(),
            cbc["call_and_alternative_first"].as_u64(),
            cbc["without"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(
        cbc["by_school"][0],
        json!({
            "school_id": LINCOLN, "school_name": "Lincoln Elementary", "owner": CTO, "promises": 1, "kept": 1, "broken": 0,
            "cancellations": 1, "call_and_alternative_first": 1, "without": 0
        })
    );
    assert_eq!(report["as_of"], chrono::Utc::now().date_naive().to_string());

    let rows = csv(&app, "promises").await;
    assert_eq!(rows[0], "dimension,key,name,made,kept,broken,overdue,open,kept_share");
    assert_eq!(rows[1], "all,,,6,3,1,1,1,0.75");
    assert!(rows.contains(&"owner,tech@district.org,,2,0,1,1,0,0".to_owned()), "{rows:?}");
    assert_eq!(rows.last().unwrap(), "school,,,1,0,0,0,1,");
    app.stop().await;
}

async fn rogue_spend(app: TestApp) {
    write_history(&app).await;
    let report = app.get_json("/v1/reports/rogue-spend", Role::ItStaff).await;
    // No card statement: advisory purchases only, P4 (Best Buy, 700.00) and P5 (Amazon,
    // 12000.00), both at roosevelt. Card spend is in `rogue_spend.rs`.
    let advisory = |total: &str, n: u64| {
        json!({"unchecked_transactions": 0, "unchecked_total": "0.00",
               "advisory_purchases": n, "advisory_total": total, "currency": "USD"})
    };
    let with = |mut group: serde_json::Value, field: &str, value: &str| {
        group[field] = json!(value);
        group
    };
    assert_eq!(report["covered"], Value::Null);
    assert_eq!(report["totals"], json!([advisory("12700.00", 2)]));
    let roosevelt = with(advisory("12700.00", 2), "school_id", ROOSEVELT);
    assert_eq!(report["by_school"], json!([with(roosevelt, "school_name", "Roosevelt High")]));
    assert_eq!(
        report["by_vendor"],
        json!([
            with(advisory("12000.00", 1), "vendor", "Amazon"),
            with(advisory("700.00", 1), "vendor", "Best Buy")
        ])
    );
    assert_eq!(report["by_school_and_vendor"].as_array().unwrap().len(), 2);
    assert_eq!(
        report["by_amount"],
        json!([
            with(advisory("12000.00", 1), "amount_band", "10000-and-over"),
            with(advisory("700.00", 1), "amount_band", "500-2500")
        ])
    );
    // By the day the gate decided: September and October.
    assert_eq!(table(&report["by_month"], &["/month"]), json!([["2024-09"], ["2024-10"]]));
    // Without a statement, no days to compare.
    assert_eq!(report["signing"], json!([]));
    assert_eq!(report["trend"], json!([]));
    let rows = csv(&app, "rogue-spend").await;
    assert_eq!(
        rows[0],
        "dimension,school_id,school_name,month,period,vendor,amount_band,currency,signed_on,days,unchecked_transactions,unchecked_total,unchecked_per_30_days,advisory_purchases,advisory_total,advisory_per_30_days,reduced"
    );
    assert_eq!(rows[1], "all,,,,,,,USD,,,0,0.00,,2,12700.00,,");
    assert!(
        rows.contains(
            &"school_and_vendor,roosevelt-high,Roosevelt High,,,Best Buy,,USD,,,0,0.00,,1,700.00,,"
                .to_owned()
        )
    );
    assert!(rows.contains(
        &"school_and_month,roosevelt-high,Roosevelt High,2024-09,before_signing,,,USD,,,0,0.00,,1,700.00,,"
            .to_owned()
    ));
    // all, school, two months, two school-months, two vendors, two school-vendors, two bands.
    assert_eq!(rows.len(), 1 + 1 + 1 + 2 + 2 + 2 + 2 + 2);
    app.stop().await;
}

async fn wishes(app: TestApp) {
    write_history(&app).await;
    let report = app.get_json("/v1/reports/wishes", Role::Auditor).await;
    // W3 and W4 open, W1 and W6 with headway, W2 done (late), W5 declined; known: all but W4
    // (ten days old); in time: W1 and W6.
    assert_eq!(
        report["all"],
        json!({
            "school_id": null, "school_name": null, "wishes": 6, "open": 2, "headway": 2, "done": 1, "declined": 1,
            "within_a_year": {"known": 5, "met": 2, "pending": 1, "share": 0.4}
        })
    );
    assert_eq!(
        table(&report["by_school"], &["/school_id", "/wishes", "/within_a_year/share"]),
        json!([[LINCOLN, 2, 0.5], [ROOSEVELT, 2, 0.0], [WASHINGTON, 1, 1.0], [null, 1, 0.0]])
    );
    let rows = csv(&app, "wishes").await;
    assert_eq!(
        rows[0],
        "dimension,school_id,school_name,wishes,open,headway,done,declined,within_a_year_known,within_a_year_met,within_a_year_pending,within_a_year_share"
    );
    assert_eq!(rows[1], "all,,,6,2,2,1,1,5,2,1,0.4");
    assert_eq!(rows[3], "school,roosevelt-high,Roosevelt High,2,2,0,0,0,1,0,1,0");
    app.stop().await;
}

async fn an_empty_log_has_empty_reports(app: TestApp) {
    let adoption = app.get_json("/v1/reports/adoption", Role::Admin).await;
    assert_eq!(adoption["schools"], json!({"total": 0, "gated": 0, "gated_share": null}));
    assert_eq!(adoption["months"], json!([]));
    let times = app.get_json("/v1/reports/response-times", Role::Admin).await;
    assert_eq!(times["all"]["held"], 0);
    assert_eq!(times["all"]["to_resolution"]["p50_seconds"], Value::Null);
    let promises = app.get_json("/v1/reports/promises", Role::Admin).await;
    assert_eq!(promises["all"]["made"], 0);
    let rogue = app.get_json("/v1/reports/rogue-spend", Role::Admin).await;
    assert_eq!(rogue["totals"], json!([]));
    let wishes = app.get_json("/v1/reports/wishes", Role::Admin).await;
    assert_eq!(wishes["all"]["within_a_year"]["share"], Value::Null);
    for name in ["adoption", "response-times", "promises", "rogue-spend", "wishes"] {
        let rows = csv(&app, name).await;
        assert!(!rows.is_empty() && rows[0].contains(','), "{name}: {rows:?}");
    }
    let (status, problem) =
        app.get_problem("/v1/reports/adoption?format=xml", Some(&[Role::Admin])).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (400, Some("https://procgate.dev/problems/invalid-query"))
    );
    let (status, _) = app.get_problem("/v1/reports/nonsense", Some(&[Role::Admin])).await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn a_report_read_after_a_write_includes_it(app: TestApp) {
    write_history(&app).await;
    for round in 0..5 {
        // Each write is followed at once by a read: it must be in the figures.
        crate::common::append(
            &app.store,
            &format!("school-late-{round}"),
            "school-registered",
            json!({"school_id": format!("late-{round}"), "name": "Late"}),
        )
        .await;
        let report = app.get_json("/v1/reports/adoption", Role::Admin).await;
        assert_eq!(report["schools"]["total"], 4 + round, "round {round}");

        // The promises report gives the same figures twice while nothing changes, and a new
        // promise in them at once.
        let before = app.get_json("/v1/reports/promises", Role::Admin).await;
        assert_eq!(app.get_json("/v1/reports/promises", Role::Admin).await, before);
        let school = events::values::SchoolId::parse(LINCOLN).unwrap();
        let to = events::stakeholders::PromiseTo::School { school_id: school };
        crate::history::promise(&app, to, CTO, "2999-01-01", None).await;
        let after = app.get_json("/v1/reports/promises", Role::Admin).await;
        let made = |r: &Value| r["all"]["made"].as_u64().unwrap();
        assert_eq!(made(&after), made(&before) + 1, "round {round}");
        let open = |r: &Value| r["all"]["open"].as_u64().unwrap();
        assert_eq!(open(&after), open(&before) + 1, "round {round}");
    }
    app.stop().await;
}

/// Lincoln signs in August 2024; its principal Dana speaks for IT to Rae, Roosevelt's principal,
/// who signs in September 2025.
async fn adoption_names_the_advocates_and_counts_a_school_year(app: TestApp) {
    register_school(&app, LINCOLN, "Lincoln Elementary", "2024-08-01T10:00:00Z").await;
    register_school(&app, ROOSEVELT, "Roosevelt High", "2024-08-05T10:00:00Z").await;
    let dana = stakeholder(&app, "Dana", StakeholderRole::Principal, Some(LINCOLN)).await;
    let rae = stakeholder(&app, "Rae", StakeholderRole::Principal, Some(ROOSEVELT)).await;
    sign_by(&app, LINCOLN, "2024-08-20", dana).await;
    spoke_for_it(&app, dana, rae, "2025-09-01").await;
    sign_by(&app, ROOSEVELT, "2025-09-15", rae).await;

    let report = app.get_json("/v1/reports/adoption", Role::ItStaff).await;
    assert_eq!(report["period"], json!({"from": null, "to": null, "school_year": null}));
    assert_eq!(report["advocacy"], json!({"signings": 2, "after_advocacy": 1, "share": 0.5}));
    let roosevelt = &report["signings"][1];
    assert_eq!(roosevelt["school_name"], "Roosevelt High");
    assert_eq!(roosevelt["signed_on"], "2025-09-15");
    assert_eq!(roosevelt["principal"]["name"], "Rae");
    assert_eq!(
        roosevelt["advocates"],
        json!([{
            "advocate": {"stakeholder_id": dana, "name": "Dana", "school_id": LINCOLN,
                         "school_name": "Lincoln Elementary"},
            "on": "2025-09-01"
        }])
    );
    assert_eq!(report["signings"][0]["advocates"], json!([]));
    assert_eq!(report["agreement_changes"][0]["school_name"], "Lincoln Elementary");

    // The school year 2025-26 (July to June): its months, its one signing, both schools
    // gated at its end.
    let year = app.get_json("/v1/reports/adoption?school_year=2025-26", Role::Auditor).await;
    assert_eq!(
        year["period"],
        json!({"from": "2025-07-01", "to": "2026-06-30", "school_year": "2025-26"})
    );
    let months: Vec<&str> =
        year["months"].as_array().unwrap().iter().map(|m| m["month"].as_str().unwrap()).collect();
    assert_eq!(months.len(), 12, "{months:?}");
    assert_eq!((months[0], months[11]), ("2025-07", "2026-06"));
    assert_eq!(year["months"][0]["schools"], json!({"total": 2, "gated": 1, "gated_share": 0.5}));
    assert_eq!(year["months"][11]["schools"], json!({"total": 2, "gated": 2, "gated_share": 1.0}));
    assert_eq!(year["schools"], json!({"total": 2, "gated": 2, "gated_share": 1.0}));
    assert_eq!(year["signings"].as_array().unwrap().len(), 1);
    assert_eq!(year["advocacy"]["share"], 1.0);
    // The year before: Lincoln alone signed, from its first month with a school.
    let before = app.get_json("/v1/reports/adoption?school_year=2024", Role::Auditor).await;
    assert_eq!(before["months"][0]["month"], "2024-08");
    assert_eq!(before["schools"], json!({"total": 2, "gated": 1, "gated_share": 0.5}));
    // A range.
    let range = "/v1/reports/adoption?from=2025-09-10&to=2025-09-30";
    let september = app.get_json(range, Role::Auditor).await;
    assert_eq!(september["months"].as_array().unwrap().len(), 1);
    assert_eq!(september["signings"][0]["school_id"], ROOSEVELT);

    let res = app
        .get("/v1/reports/adoption?format=csv&school_year=2025-26", Some(&[Role::Auditor]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("\r\nsigning,,,,,,,,,,,,,roosevelt-high,Roosevelt High,2025-09-15,Rae,Dana (2025-09-01)\r\n"),
        "{body}"
    );
    assert!(!body.contains("lincoln-elem"), "{body}");
    app.stop().await;
}

async fn every_report_takes_a_period_and_refuses_a_contradictory_one(app: TestApp) {
    write_history(&app).await;
    for name in ["adoption", "response-times", "sla", "promises", "rogue-spend", "wishes"] {
        // October 2024 alone.
        let path = format!("/v1/reports/{name}?from=2024-10-01&to=2024-10-31");
        let report = app.get_json(&path, Role::Auditor).await;
        let period =
            if name == "rogue-spend" { &report["report_period"] } else { &report["period"] };
        assert_eq!(period, &json!({"from": "2024-10-01", "to": "2024-10-31", "school_year": null}));
        for bad in [
            "school_year=2024-26",
            "school_year=2024-25&from=2024-10-01",
            "from=2024-10-02&to=2024-10-01",
            "from=yesterday",
            "from=%2B20000-01-01",
            "to=2024-1-31",
        ] {
            let (status, problem) =
                app.get_problem(&format!("/v1/reports/{name}?{bad}"), Some(&[Role::Auditor])).await;
            assert_eq!(status, 400, "{name}?{bad}: {problem}");
            assert!(problem["type"].as_str().unwrap().ends_with("invalid-query"), "{problem}");
        }
    }
    // Held purchases flagged in October: P8 only (Washington).
    let october = "/v1/reports/response-times?from=2024-10-01&to=2024-10-31";
    let report = app.get_json(october, Role::Auditor).await;
    assert_eq!(report["all"]["held"], 1);
    assert_eq!(report["by_school"][0]["name"], "Washington Middle");
    // Advisory purchases asked about in October: P5 (Amazon) only.
    let october = "/v1/reports/rogue-spend?from=2024-10-01&to=2024-10-31";
    let report = app.get_json(october, Role::Auditor).await;
    assert_eq!(report["totals"][0]["advisory_total"], "12000.00");
    assert_eq!(report["by_school"][0]["school_name"], "Roosevelt High");
    // The school year 2024-25 holds the whole history; 2023-24 none of it.
    let year = app.get_json("/v1/reports/response-times?school_year=2024-25", Role::Auditor).await;
    assert_eq!(year["all"]["held"], 4);
    let year = app.get_json("/v1/reports/response-times?school_year=2023", Role::Auditor).await;
    assert_eq!(year["all"]["held"], 0);
    app.stop().await;
}
