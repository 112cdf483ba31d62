//! The demo's card statement: a card for each school, and a month of card transactions, some
//! of them technology bought without a purchase check (the reason card statements are
//! imported at all). References come from the seed, so a second run records nothing new.

use anyhow::Context;
use chrono::{NaiveDate, TimeDelta};
use reqwest::Method;
use serde_json::{Value, json};

use super::Demo;

/// (merchant, MCC, technology?): what principals buy on cards.
const MERCHANTS: [(&str, &str, bool); 9] = [
    ("BEST BUY #1234", "5732", true),
    ("SQ *GEEK SQUAD #12", "7379", true),
    ("APPLE.COM/US", "5734", true),
    ("B&H PHOTO 800-606-6969", "5732", true),
    ("OFFICE DEPOT #1105", "5943", false),
    ("STAPLES 00110", "5943", false),
    ("TRADER JOES #552", "5411", false),
    ("LAKESHORE LEARNING", "5945", false),
    ("SCHOLASTIC BOOK FAIRS", "5942", false),
];

impl Demo {
    /// Registers a card per school, lists Geek Squad as a technology merchant, and imports a
    /// statement of the 30 days before `today` (the district's date, as a bank dates its
    /// statement in local days); returns the import's answer.
    pub(super) async fn card_statement(
        &self,
        schools: &[String],
        today: NaiveDate,
    ) -> anyhow::Result<Value> {
        let mut csv = String::from(
            "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n",
        );
        for (i, school) in schools.iter().enumerate() {
            let mut rng = self.rng("card", i);
            let last4 = format!("{:04}", 1000 + i * 37 % 9000);
            let card_id = format!("00000000-0000-4000-8000-{:012x}", rng.next() & 0xffff_ffff_ffff);
            let body = json!({"last4": last4, "holder_email": format!("pcard.{school}@district.org"),
                              "school_id": school});
            self.it(Method::PUT, &self.gate, &format!("/v1/cards/{card_id}"), Some(body)).await?;
            for n in 0..2 + rng.below(4) {
                let (merchant, mcc, technology) = *rng.pick(&MERCHANTS);
                // A technology purchase skips the gate about one time in two.
                if technology && rng.below(2) == 0 {
                    continue;
                }
                let day = today - TimeDelta::days(1 + rng.below(30) as i64);
                let amount = if technology { 150 + rng.below(1800) } else { 8 + rng.below(240) };
                let cents = rng.below(100);
                csv.push_str(&format!(
                    "DEMO{:08}{i:03}{n},{day},{},{last4},{merchant},{mcc},{amount}.{cents:02},USD\n",
                    self.seed % 100_000_000,
                    (day + TimeDelta::days(2)).min(today),
                ));
            }
        }
        let settings = json!({
            "amount_tolerance": "5.00", "amount_tolerance_percent": 2, "date_window_days": 7,
            "min_vendor_similarity": 60, "technology_merchants": ["Geek Squad", "B&H Photo"],
        });
        self.it(Method::PUT, &self.gate, "/v1/reconciliation", Some(settings)).await?;
        let url = format!("{}/v1/card-statements?profile=procgate", self.gate);
        let response = self
            .client
            .request(Method::POST, &url)
            .bearer_auth(&self.finance)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!("POST {url}: {status}: {}", answer["detail"].as_str().unwrap_or(""));
        }
        println!(
            "  card statement: {} transactions on {} cards, {} recorded now ({} before): {} matched with a check, \
             {} unchecked technology for IT's outreach",
            answer["transactions"],
            schools.len(),
            answer["recorded"],
            answer["already_recorded"],
            answer["matched"],
            answer["unchecked_technology"],
        );
        Ok(answer)
    }
}
