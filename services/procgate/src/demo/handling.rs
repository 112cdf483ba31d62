//! IT works a flagged purchase of the demo: calls the requester, proposes an alternative, and,
//! for a held one, approves it, accepts the alternative, or cancels it. Each step is dated when
//! it happened in the school year ([`timeline::answer`]), after the fact, unless that is still
//! ahead: then it happens now.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use events::calendar::DistrictCalendar;
use reqwest::Method;
use serde_json::{Value, json};

use super::district::{CARD_TARGETS, TARGETS};
use super::{Demo, Rng, line, timeline};

impl Demo {
    /// IT works the flagged purchase `id` (decided `decision`): what it has not done yet, each
    /// step once (its own `Idempotency-Key`), so a second run, or one that picks up after an
    /// interruption, does only what was not done.
    pub(super) async fn handle(
        &self,
        rng: &mut Rng,
        id: &str,
        decision: &str,
        calendar: &DistrictCalendar,
        tally: &mut HashMap<String, usize>,
    ) -> anyhow::Result<()> {
        if decision == "approved" {
            return Ok(());
        }
        let purchase =
            self.it(Method::GET, &self.gate, &format!("/v1/purchases/{id}"), None).await?;
        if purchase["status"] != decision {
            return Ok(()); // a repeat of an earlier run: already decided
        }
        let flagged: DateTime<Utc> = purchase["flagged_at"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("a flagged purchase's flagged_at")?;
        let targets = if purchase["payment_method"] == "p_card" { CARD_TARGETS } else { TARGETS };
        let held = decision == "held";
        let answer = timeline::answer(calendar, flagged, targets, held, rng);
        // A step still ahead in the school year's story happens now.
        let now = chrono::Utc::now() - TimeDelta::minutes(1);
        let dated = |at: DateTime<Utc>| (at < now).then(|| at.to_rfc3339());
        let step = |name: &str| format!("{id}-{name}");

        // The requester is the school's requests desk, not a registered stakeholder: the call
        // names whom IT reached.
        let mut call_id = purchase["calls"][0]["call_id"].clone();
        if call_id.is_null() {
            let requester = purchase["requester_email"].clone();
            let call = json!({"requester_reached": true,
                              "goal": "Students need devices for the new reading program",
                              "notes": "Walked through the supported options together",
                              "spoke_with": {"name": "The school's office manager", "email": requester},
                              "occurred_at": dated(answer.call)});
            let path = format!("/v1/purchases/{id}/calls");
            let call = without_nulls(call);
            let called = self.it_once(&self.gate, &path, Some(call), &step("call")).await?;
            call_id = called["calls"][0]["call_id"].clone();
        }
        let mut alternative_id = purchase["alternatives"][0]["alternative_id"].clone();
        if alternative_id.is_null() {
            let alternative = json!({"description": "The supported model from the catalog, with district warranty and setup",
                                     "lines": [line(Some("IPAD-10"), "iPad 10th generation", "tablets", 2, "349.00")],
                                     "call_id": call_id,
                                     "occurred_at": dated(answer.alternative)});
            let path = format!("/v1/purchases/{id}/alternatives");
            let alternative = without_nulls(alternative);
            let after =
                self.it_once(&self.gate, &path, Some(alternative), &step("alternative")).await?;
            alternative_id = after["alternatives"][0]["alternative_id"].clone();
        }
        if !held {
            return Ok(());
        }
        let occurred_at = dated(answer.decision);
        let (path, body, key, outcome) = match rng.below(10) {
            0..5 => {
                let alt = alternative_id.as_str().context("an alternative id")?;
                let path = format!("/v1/purchases/{id}/alternatives/{alt}/accept");
                (path, json!({"occurred_at": occurred_at}), "accept", "approved-as-amended")
            }
            5..8 => (
                format!("/v1/purchases/{id}/approve"),
                json!({"note": "Fits the plan after all", "occurred_at": occurred_at}),
                "approve",
                "approved-after-review",
            ),
            _ => (
                format!("/v1/purchases/{id}/cancel"),
                json!({"reason": "The requester chose the supported alternative, ordered separately",
                       "occurred_at": occurred_at}),
                "cancel",
                "cancelled",
            ),
        };
        self.it_once(&self.gate, &path, Some(without_nulls(body)), &step(key)).await?;
        *tally.entry(outcome.into()).or_default() += 1;
        Ok(())
    }
}

/// `body` without its `null` fields (an `occurred_at` left out: now).
fn without_nulls(mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    body
}
