//! The story `procgate demo` tells, end to end against the real `procgate serve` on PostgreSQL
//! and on the embedded store, read back from the reports: IT met every one of 30 principals on
//! their own turf, one a work day, in a round of 30 work days; about 60% of the schools signed
//! first and every school had signed by today; principals of signed schools spoke for IT to the
//! others before they signed; promises were kept and broken; every wish moved; a school's
//! purchases were advisory before it signed and held after. A second run adds nothing.

mod support;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use support::{Api, Server};
use testkit::Backend;

testkit::on_each_backend!(the_demo_tells_the_districts_story);

const SCHOOLS: usize = 30;
/// Enough purchase checks for every school to buy before and after it signed, few enough to
/// keep the run short.
const CHECKS: usize = 300;

impl Api {
    /// What a second run of the demo must not add to.
    async fn counts(&self) -> Vec<(&'static str, usize)> {
        let people = self.list("/v1/stakeholders?limit=1000", "stakeholders").await;
        let conversations: u64 = people.iter().map(|p| p["conversations"].as_u64().unwrap()).sum();
        let advocates = self.json("/v1/reports/advocates").await;
        vec![
            ("people", people.len()),
            ("conversations", conversations as usize),
            ("rounds", self.list("/v1/meeting-rounds", "rounds").await.len()),
            ("promises", self.list("/v1/promises?limit=1000", "promises").await.len()),
            ("follow-ups", self.list("/v1/follow-ups?limit=1000", "follow_ups").await.len()),
            ("wishes", self.list("/v1/wishes?limit=1000", "wishes").await.len()),
            ("advocacy", advocates["advocacy"].as_array().unwrap().len()),
            ("purchases", self.list("/v1/purchases?limit=1000", "purchases").await.len()),
            (
                "agreements",
                self.json("/v1/reports/adoption").await["agreement_changes"]
                    .as_array()
                    .unwrap()
                    .len(),
            ),
        ]
    }
}

fn day(value: &Value) -> NaiveDate {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a date: {value}"))
}

async fn the_demo_tells_the_districts_story(backend: Backend) {
    let database = support::database_for(backend).await;
    let env =
        support::quiet_env(database.as_ref(), "the-story-test-webhook-key-of-at-least-32-bytes");
    let started = Instant::now();
    let server = tokio::task::block_in_place(|| {
        let server = Server::start(&env);
        server.demo(SCHOOLS, CHECKS);
        server
    });
    eprintln!("the demo of {SCHOOLS} schools on {backend:?}: {:?}", started.elapsed());
    let token = server.token("cto@district.example", &["it_staff"]);
    let api = Api::new(&server, token);

    // Every principal met, on their own turf, one a work day: 30 meetings in 30 work days.
    let coverage = api.json("/v1/reports/coverage").await;
    assert_eq!(coverage["schools"], SCHOOLS, "{coverage}");
    assert_eq!(coverage["met"], SCHOOLS, "{coverage}");
    assert_eq!(coverage["met_on_their_turf"], SCHOOLS, "{coverage}");
    assert_eq!(coverage["work_days"], 30, "{coverage}");
    let mut work_days: Vec<u64> = coverage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            assert!(row["met"] == true && row["on_their_turf"] == true, "{row}");
            assert!(row["location"].as_str().unwrap().ends_with("principal's office"), "{row}");
            row["work_day"].as_u64().unwrap()
        })
        .collect();
    work_days.sort_unstable();
    assert_eq!(work_days, (1..=30).collect::<Vec<u64>>(), "one principal a work day");
    // The round planned for it: complete within its work days.
    let rounds = api.list("/v1/meeting-rounds", "rounds").await;
    assert_eq!(rounds.len(), 1, "{rounds:?}");
    let round = &rounds[0];
    assert_eq!(round["people"], SCHOOLS, "{round}");
    assert_eq!(round["met_on_their_turf"], SCHOOLS, "{round}");
    assert_eq!(round["complete"], true, "{round}");
    assert_eq!(round["overdue"], false, "{round}");
    assert_eq!(round["work_days"], 30, "{round}");
    assert_eq!(round["work_days_taken"], 30, "{round}");
    let round_start = day(&round["starts_on"]);
    assert_eq!(day(&coverage["started_on"]), round_start);

    // The adoption curve: 60% first, every school by today, as the share of every school the
    // district has now (the demo registers its schools today, after the history it enters).
    // Every principal's vision was joined to a theme of IT's: each school is carried by one.
    let themes = api.json("/v1/reports/themes").await;
    assert_eq!(themes["schools_without_a_theme"], serde_json::json!([]), "{themes}");
    let carried: u64 = themes["themes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["school_count"].as_u64().unwrap())
        .sum();
    assert!(carried >= SCHOOLS as u64, "{themes}");

    let adoption = api.json("/v1/reports/adoption").await;
    let months = adoption["months"].as_array().unwrap();
    let gated: Vec<u64> = months.iter().map(|m| m["schools"]["gated"].as_u64().unwrap()).collect();
    let shares: Vec<f64> =
        months.iter().map(|m| m["gated_share_of_all"].as_f64().unwrap()).collect();
    assert!(shares.contains(&0.6), "a month at 60% of the schools: {shares:?}");
    assert_eq!(shares.last(), Some(&1.0), "{shares:?}");
    assert!(shares.iter().filter(|s| **s < 1.0).count() >= 4, "{shares:?}");
    assert!(gated.windows(2).all(|w| w[0] <= w[1]), "the curve never falls: {gated:?}");
    let last = &months.last().unwrap()["schools"];
    assert_eq!(last["total"], SCHOOLS, "{last}");
    assert_eq!(last["gated"], SCHOOLS, "{last}");
    assert_eq!(last["gated_share"], 1.0, "{last}");
    assert!(gated.contains(&18), "a month with 18 of the 30 schools signed: {gated:?}");
    let before_all = gated.iter().filter(|g| **g < SCHOOLS as u64).count();
    assert!(before_all >= 4, "months passed before every school signed: {gated:?}");
    let signed: HashMap<String, NaiveDate> = adoption["agreement_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["change"], "signed", "{c}");
            (c["school_id"].as_str().unwrap().to_owned(), day(&c["on"]))
        })
        .collect();
    assert_eq!(signed.len(), SCHOOLS);
    // The first 18 signed in the weeks after the round, the others months later.
    let mut dates: Vec<NaiveDate> = signed.values().copied().collect();
    dates.sort_unstable();
    let round_end = day(&coverage["latest_on"]);
    assert!(dates[17] <= round_end + chrono::TimeDelta::days(35), "{dates:?}");
    assert!(dates[18] > round_end + chrono::TimeDelta::days(60), "{dates:?}");

    // The advocates: signed principals spoke for IT to each of the 12 others before they
    // signed.
    let advocates = api.json("/v1/reports/advocates").await;
    assert!(!advocates["advocacy"].as_array().unwrap().is_empty(), "{advocates}");
    assert_eq!(advocates["unsigned_schools"], serde_json::json!([]), "{advocates}");
    let after = advocates["signings_after_advocacy"].as_array().unwrap();
    assert_eq!(after.len(), 12, "{advocates}");
    for signing in after {
        let school = signing["school_id"].as_str().unwrap();
        assert_eq!(day(&signing["signed_on"]), signed[school], "{signing}");
        for advocate in signing["advocates"].as_array().unwrap() {
            let theirs = advocate["school_id"].as_str().unwrap();
            assert!(signed[theirs] < signed[school], "an advocate's school signed first");
        }
    }
    for spoke in advocates["advocacy"].as_array().unwrap() {
        let (from, to) = (&spoke["advocate"], &spoke["to"]);
        assert!(from["role"] == "principal" && to["role"] == "principal", "{spoke}");
        let on = day(&spoke["on"]);
        assert!(signed[from["school_id"].as_str().unwrap()] < on, "{spoke}");
        assert!(on < signed[to["school_id"].as_str().unwrap()], "{spoke}");
    }

    // Promises: some kept, some broken, some still owed; every signature's standing promise.
    let promises = api.json("/v1/reports/promises").await;
    let all = &promises["all"];
    for outcome in ["kept", "broken", "open"] {
        assert!(all[outcome].as_u64().unwrap() > 0, "{outcome}: {promises}");
    }
    assert_eq!(promises["call_before_cancel"]["promises"], SCHOOLS, "{promises}");
    // Every wish moved.
    let wishes = api.list("/v1/wishes?limit=1000", "wishes").await;
    assert_eq!(wishes.len(), SCHOOLS);
    assert!(wishes.iter().all(|w| w["status"] != "open"), "{wishes:?}");

    // A school's technology purchases: advisory before it signed, held for IT after.
    let purchases = api.list("/v1/purchases?limit=1000", "purchases").await;
    let (mut advisory, mut held) = (0, 0);
    // The district's dates, in Chicago's time zone (daylight saving time included).
    let zone = events::calendar::TimeZoneName::parse("America/Chicago").unwrap();
    let chicago =
        events::calendar::DistrictCalendar::new(zone, events::calendar::BusinessHours::office());
    for p in purchases.iter().filter(|p| p["flagged_at"].is_string()) {
        let at: DateTime<Utc> = p["flagged_at"].as_str().unwrap().parse().unwrap();
        let local = chicago.today(at);
        let signed_on = signed[p["school_id"].as_str().unwrap()];
        if p["reasons"].as_array().unwrap().iter().any(|r| r == "school-not-gated") {
            assert!(local <= signed_on, "advisory after its school signed: {p}");
            advisory += 1;
        } else {
            assert!(local > signed_on, "held before its school signed: {p}");
            held += 1;
        }
    }
    assert!(advisory > 0 && held > 0, "{advisory} advisory, {held} held");

    // A second run finds everything there and adds nothing.
    let before = api.counts().await;
    let again = Instant::now();
    tokio::task::block_in_place(|| server.demo(SCHOOLS, CHECKS));
    eprintln!("the demo again on {backend:?}: {:?}", again.elapsed());
    assert_eq!(api.counts().await, before);
}
