//! The demo's relationships, told through the API as [`story`](super::story) dates them: the
//! round of meetings and the meeting with each principal on their turf (their vision, two stars
//! and a wish), the promises made since (some kept, some broken, some still open) and the
//! follow-ups, the headway on the wishes, the signatures and the advocates who spoke for IT
//! before the later ones. Each step is done once: a second run finds the round by its name,
//! skips the principals already met and the schools already signed, and records no advocacy
//! twice.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::calendar::{ClockTime, DistrictCalendar};
use reqwest::Method;
use serde_json::{Value, json};

use super::story::{ROUND_NAME, SchoolStory, Story};
use super::{Demo, STARS, VISIONS, WISHES};

/// A school of the demo and its principal.
#[derive(Debug, Clone)]
pub(super) struct School {
    pub id: String,
    pub name: String,
    pub principal: String,
    /// Conversations already held with the principal (by an earlier run).
    pub conversations: u64,
}

/// What the meetings left: promises by outcome, follow-ups.
#[derive(Debug, Default)]
pub(super) struct Meetings {
    pub met: usize,
    pub kept: usize,
    pub broken: usize,
    pub open: usize,
    pub followups: usize,
    pub followups_done: usize,
}

/// What the signatures left.
#[derive(Debug, Default)]
pub(super) struct Signatures {
    /// Schools that signed in this run, and before it.
    pub recorded: usize,
    pub before: usize,
    /// Times a signed principal spoke for IT, recorded in this run.
    pub advocacy: usize,
}

const PROMISES: &[(&str, &str, &str)] = &[
    (
        "Same-week turnaround on repairs for the classroom laptops",
        "Repair tickets for the school closed within five days",
        "Three laptops waited two weeks for a part; the school was not told",
    ),
    (
        "A technician on site for the spring testing days",
        "A technician was on site each testing day",
        "The technician was called to another school on the first testing day",
    ),
    (
        "Training for the new teachers before the term starts",
        "Two sessions held; every new teacher attended one",
        "The sessions were postponed twice and not held before the term",
    ),
];

impl Demo {
    /// Plans the round of meetings, unless an earlier run did: every principal of the demo,
    /// from the first work day of the school year, one a work day. Returns its id.
    pub(super) async fn plan_round(
        &self,
        story: &Story,
        schools: &[School],
    ) -> anyhow::Result<String> {
        let rounds = self.it(Method::GET, &self.stakeholders, "/v1/meeting-rounds", None).await?;
        // By its name: a run on another day has another school year's start.
        let planned =
            rounds["rounds"].as_array().into_iter().flatten().find(|r| r["name"] == ROUND_NAME);
        if let Some(id) = planned.and_then(|r| r["round_id"].as_str()) {
            return Ok(id.to_owned());
        }
        let principals: Vec<&str> = schools.iter().map(|s| s.principal.as_str()).collect();
        let body = json!({"name": ROUND_NAME, "stakeholder_ids": principals,
                          "starts_on": story.round_starts_on.to_string(),
                          "work_days": story.round_work_days});
        let round =
            self.it_once(&self.stakeholders, "/v1/meeting-rounds", Some(body), "round").await?;
        Ok(round["round_id"].as_str().context("a round id")?.to_owned())
    }

    /// IT meets each principal not met yet, on their turf, on their day of the round: their
    /// vision, two stars and a wish (the first conversation asks for both); a promise, which
    /// IT keeps, breaks or still owes; a follow-up on the wish.
    pub(super) async fn meet_principals(
        &self,
        story: &Story,
        schools: &[School],
        today: NaiveDate,
    ) -> anyhow::Result<Meetings> {
        let mut done = Meetings::default();
        for (n, (school, plot)) in schools.iter().zip(&story.schools).enumerate() {
            if school.conversations > 0 {
                continue; // met in an earlier run
            }
            let mut rng = self.rng("conversation", n);
            let words = Words::of(&mut rng);
            let body = json!({
                "held_at": plot.met_at.to_rfc3339(), "location": format!("{}, principal's office", school.name),
                "on_their_turf": true, "connections": [words.theme],
                "their_vision": words.vision, "stars": words.stars, "wish": words.wish,
                "notes": "Met on their turf; tied their vision to the district's technology plan."});
            let path = format!("/v1/stakeholders/{}/conversations", school.principal);
            self.it(Method::POST, &self.stakeholders, &path, Some(body)).await?;
            done.met += 1;

            // A promise, made today (the log records when) and due in the coming weeks: IT
            // keeps two in five at once, breaks one in five, and still owes the rest.
            let (text, kept, broken) = PROMISES[n % PROMISES.len()];
            let due = today + TimeDelta::days(7 + rng.below(50) as i64);
            let body = json!({"to": {"type": "stakeholder", "stakeholder_id": school.principal},
                              "text": text, "due_on": due.to_string()});
            let made =
                self.it(Method::POST, &self.stakeholders, "/v1/promises", Some(body)).await?;
            let pid = made["promise_id"].as_str().context("a promise id")?;
            match n % 5 {
                0 | 1 => {
                    let path = format!("/v1/promises/{pid}/kept");
                    let body = json!({"evidence": kept});
                    self.it_once(&self.stakeholders, &path, Some(body), &format!("{pid}-kept"))
                        .await?;
                    done.kept += 1;
                }
                2 => {
                    let path = format!("/v1/promises/{pid}/broken");
                    let body = json!({"evidence": broken});
                    self.it_once(&self.stakeholders, &path, Some(body), &format!("{pid}-broken"))
                        .await?;
                    done.broken += 1;
                    // A broken promise is owned: IT goes back to say so and set it right.
                    let body = json!({"stakeholder_id": school.principal,
                                      "about": "Apologize in person for the broken promise and agree a new date",
                                      "due_on": (today + TimeDelta::days(3)).to_string()});
                    self.it(Method::POST, &self.stakeholders, "/v1/follow-ups", Some(body)).await?;
                    done.followups += 1;
                }
                _ => done.open += 1,
            }
            if rng.chance(60) {
                let due = today + TimeDelta::days(rng.below(60) as i64);
                let body = json!({"stakeholder_id": school.principal,
                                  "about": "Check in on the wish from our first meeting",
                                  "due_on": due.to_string()});
                let made =
                    self.it(Method::POST, &self.stakeholders, "/v1/follow-ups", Some(body)).await?;
                done.followups += 1;
                // Some are done already (today: a follow-up is not dated earlier).
                if due == today || rng.chance(30) {
                    let fid = made["followup_id"].as_str().context("a follow-up id")?;
                    let body = json!({"note": "Stopped by; the wish has a plan and a date"});
                    let path = format!("/v1/follow-ups/{fid}/done");
                    self.it_once(&self.stakeholders, &path, Some(body), &format!("{fid}-done"))
                        .await?;
                    done.followups_done += 1;
                }
            }
        }
        Ok(done)
    }

    /// Headway on every open wish: done, or in progress. Returns how many moved.
    pub(super) async fn progress_wishes(&self) -> anyhow::Result<usize> {
        let wishes =
            self.it(Method::GET, &self.stakeholders, "/v1/wishes?limit=1000", None).await?;
        let mut progressed = 0;
        for (n, wish) in wishes["wishes"].as_array().into_iter().flatten().enumerate() {
            let Some(wid) = wish["wish_id"].as_str() else { continue };
            if wish["status"] != "open" {
                continue;
            }
            let mut rng = self.rng("wish", n);
            let (status, note) = if rng.chance(40) {
                ("done", "Done: the change is in place and the school was told")
            } else {
                ("in_progress", "Raised at the IT team meeting; a plan is in motion")
            };
            let body = json!({"note": note, "status": status});
            let path = format!("/v1/wishes/{wid}/progress");
            self.it_once(&self.stakeholders, &path, Some(body), &format!("{wid}-progress")).await?;
            progressed += 1;
        }
        Ok(progressed)
    }

    /// Who has spoken for IT to whom already (advocate, listener).
    pub(super) async fn advocacy_recorded(&self) -> anyhow::Result<HashSet<(String, String)>> {
        let report =
            self.it(Method::GET, &self.stakeholders, "/v1/reports/advocates", None).await?;
        Ok(report["advocacy"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| {
                let advocate = a["advocate"]["stakeholder_id"].as_str()?;
                let to = a["to"]["stakeholder_id"].as_str()?;
                Some((advocate.to_owned(), to.to_owned()))
            })
            .collect())
    }

    /// School `n` signs on its day, unless it signed already: the principals who spoke for IT
    /// to its principal first, then the signature, in the principal's office.
    pub(super) async fn sign(
        &self,
        n: usize,
        schools: &[School],
        plot: &SchoolStory,
        calendar: &DistrictCalendar,
        spoken: &mut HashSet<(String, String)>,
        tally: &mut Signatures,
    ) -> anyhow::Result<()> {
        let school = &schools[n];
        for (advocate, on) in &plot.advocates {
            let advocate = &schools[*advocate];
            let pair = (advocate.principal.clone(), school.principal.clone());
            if spoken.contains(&pair) {
                continue;
            }
            let about = format!(
                "Told {} how the purchasing agreement worked for {}: IT called before changing \
                 any order, and the laptops came with setup",
                school.name, advocate.name
            );
            let body = json!({"to_stakeholder_id": school.principal, "about": about, "on": on.to_string()});
            let path = format!("/v1/stakeholders/{}/advocacy", advocate.principal);
            self.it(Method::POST, &self.stakeholders, &path, Some(body)).await?;
            spoken.insert(pair);
            tally.advocacy += 1;
        }
        let body =
            json!({"principal_id": school.principal, "signed_on": plot.signed_on.to_string()});
        let path = format!("/v1/schools/{}/agreement", school.id);
        self.it(Method::PUT, &self.stakeholders, &path, Some(body)).await?;
        tally.recorded += 1;
        // The CTO was there: a conversation, which asks for no stars and no wish.
        let at = at_the_office(calendar, plot.signed_on, ClockTime::hm(15, 0)?);
        let note = if plot.first_wave {
            "Signed the purchasing agreement after our first meeting"
        } else {
            "Signed the purchasing agreement after hearing from principals who had"
        };
        let words = Words::of(&mut self.rng("conversation", n));
        let body = json!({"held_at": at.to_rfc3339(),
                          "location": format!("{}, principal's office", school.name),
                          "on_their_turf": true, "connections": [words.theme],
                          "their_vision": words.vision, "notes": note});
        let path = format!("/v1/stakeholders/{}/conversations", school.principal);
        self.it(Method::POST, &self.stakeholders, &path, Some(body)).await?;
        Ok(())
    }

    /// Says how the schools signed, as the server has it now: the first wave, the advocates,
    /// the later signatures, what this run recorded.
    pub(super) async fn print_signatures(
        &self,
        story: &Story,
        schools: &[School],
        signatures: &Signatures,
    ) -> anyhow::Result<()> {
        let listed =
            self.it(Method::GET, &self.stakeholders, "/v1/schools?limit=1000", None).await?;
        let signed = signed_on(&listed);
        let ours = |first: bool| -> Vec<NaiveDate> {
            let plots = schools.iter().zip(&story.schools);
            plots
                .filter(|(_, p)| p.first_wave == first)
                .filter_map(|(s, _)| signed.get(&s.id))
                .copied()
                .collect()
        };
        let (first, later) = (ours(true), ours(false));
        let advocates =
            self.it(Method::GET, &self.stakeholders, "/v1/reports/advocates", None).await?;
        let count = |field: &str| advocates[field].as_array().map_or(0, Vec::len);
        let span = |days: &[NaiveDate]| match (days.iter().min(), days.iter().max()) {
            (Some(a), Some(b)) => format!("from {a} to {b}"),
            _ => "-".to_owned(),
        };
        println!(
            "  the purchasing agreement: {} schools signed in the weeks after their meeting ({}); \
             signed principals spoke for IT {} times to the principals of the others, {} of \
             whom signed after hearing them ({}); {} of {} schools signed now, {} unsigned \
             ({} signatures and {} advocates' words recorded in this run, {} schools signed \
             before it)",
            first.len(),
            span(&first),
            count("advocacy"),
            count("signings_after_advocacy"),
            span(&later),
            signed.len(),
            listed["schools"].as_array().map_or(0, Vec::len),
            count("unsigned_schools"),
            signatures.recorded,
            signatures.advocacy,
            signatures.before,
        );
        Ok(())
    }
}

/// What principal `n` said at the first meeting: their vision (and the theme of IT's it
/// connects to), two stars and a wish; drawn again for a later conversation.
struct Words {
    theme: &'static str,
    vision: &'static str,
    stars: [&'static str; 2],
    wish: &'static str,
}

impl Words {
    fn of(rng: &mut super::Rng) -> Self {
        let first = rng.below(STARS.len());
        let second = (first + 1 + rng.below(STARS.len() - 1)) % STARS.len();
        let (theme, vision) = *rng.pick(VISIONS);
        Self { theme, vision, stars: [STARS[first], STARS[second]], wish: *rng.pick(WISHES) }
    }
}

/// `time` on `day` in the district, not later than a minute ago.
fn at_the_office(calendar: &DistrictCalendar, day: NaiveDate, time: ClockTime) -> DateTime<Utc> {
    let at = calendar
        .instant(day, time)
        .unwrap_or_else(|| day.and_time(chrono::NaiveTime::MIN).and_utc());
    at.min(Utc::now() - TimeDelta::minutes(1))
}

/// The schools already signed (by an earlier run) and the day each signed.
pub(super) fn signed_on(schools: &Value) -> std::collections::HashMap<String, NaiveDate> {
    schools["schools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let on = s["agreement"]["signed_on"].as_str()?.parse().ok()?;
            Some((s["school_id"].as_str()?.to_owned(), on))
        })
        .collect()
}
