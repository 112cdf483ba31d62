//! `procgate demo`: fills a running procgate, in any deployment, with a realistic district,
//! through the HTTP API only.
//!
//! About 30 schools with their principals and other stakeholders, and the relationship story
//! the product is built on ([`story`], told by [`relations`]): a round of meetings in which IT
//! meets each principal on their own turf, one a work day for about 30 work days from the
//! start of the school year (vision, two stars and a wish); promises, some kept, some broken,
//! some still open, and follow-ups; headway on every wish; about 60% of the schools signing
//! the purchasing agreement in the weeks after their meeting, their principals speaking for
//! IT to the principals of the others, and those schools signing over the following months,
//! until every school has. Then the district's calendar (Chicago, the holidays of this school
//! year and the last) and its clocks' targets; a catalog and a policy; a few hundred purchase
//! checks over the school year behind today, entered after the fact in the order they were
//! requested, with the signatures between them on their days (a school's purchases are
//! advisory before it signed, held after), and IT handling the flagged ones (a call, an
//! alternative, then for a held one approval, an accepted alternative or, after both, a
//! cancellation), each step dated when it happened in business time, most within the
//! district's targets and some not ([`timeline`]), but the latest few held ones, requested in
//! the last business days and left in the queue for the README's tour. The same `--seed` gives
//! the same district. Running it again is harmless: schools and the catalog are PUTs, people
//! are matched by email, the round by its name, principals met before are not met again,
//! schools signed before do not sign again, advocacy recorded before is not recorded again,
//! purchase checks reuse their `external_ref`s (the gate answers a repeat with the first
//! answer; a check sent on another day, its dates moved with today, is taken as the purchase
//! already there), and IT does only the steps not done yet.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
use auth::{Issuer, Role};
use chrono::{DateTime, TimeDelta, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{Client, Method};
use serde_json::{Value, json};

use relations::School;

mod district;
mod handling;
mod relations;
mod statement;
mod story;
mod timeline;

/// A small deterministic generator (SplitMix64): the same seed, the same district.
///
/// Every item (a school, a conversation, a wish, a purchase) draws from a generator of its own,
/// derived from the seed, the kind of item and its number, never from one shared sequence: a
/// second run against a server that already holds the district skips what exists, and must not
/// shift what the later items draw (a purchase check sent again with a different body would be
/// an idempotency conflict).
struct Rng(u64);

impl Rng {
    /// The generator of item `n` of kind `kind`, for `seed`.
    fn derived(seed: u64, kind: &str, n: usize) -> Self {
        // FNV-1a over the kind, then the number, mixed into the seed.
        let kind = kind.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let mut rng = Self(seed ^ kind ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        rng.0 = rng.next();
        rng
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NAMES: &[&str] = &[
    "Lincoln",
    "Washington",
    "Roosevelt",
    "Jefferson",
    "Madison",
    "Franklin",
    "Kennedy",
    "Adams",
    "Hamilton",
    "Jackson",
    "Monroe",
    "Carver",
    "Douglass",
    "Tubman",
    "Parks",
    "Chavez",
    "Keller",
    "Curie",
    "Edison",
    "Whitman",
    "Emerson",
    "Thoreau",
    "Dewey",
    "Mann",
    "Bethune",
    "Muir",
    "Earhart",
    "Ride",
    "Sagan",
    "Hopper",
];
const LEVELS: &[(&str, &str)] =
    &[("elem", "Elementary"), ("middle", "Middle School"), ("high", "High School")];
const FIRST: &[&str] = &[
    "Maria", "James", "Aisha", "Daniel", "Mei", "Robert", "Priya", "Carlos", "Hannah", "Omar",
    "Grace", "Luis", "Fatima", "Ethan", "Sofia", "Kwame", "Elena", "Noah", "Yuki", "Samuel",
];
const LAST: &[&str] = &[
    "Garcia", "Johnson", "Okafor", "Nguyen", "Smith", "Patel", "Rivera", "Kim", "Brown", "Haddad",
    "Lopez", "Chen", "Williams", "Mensah", "Rossi", "Tanaka", "Davis", "Singh", "Moore", "Silva",
];
/// Principals' visions, each with the theme of IT's vision it connects to.
const VISIONS: &[(&str, &str)] = &[
    (
        "literacy",
        "Every student reads at grade level by third grade, with devices in every classroom.",
    ),
    ("making", "A maker space where students build robots and learn to code after school."),
    (
        "time-for-teaching",
        "Teachers spend less time on logistics and more on students; paperwork goes digital.",
    ),
    ("families", "Families can follow their children's progress online, in their own language."),
    (
        "literacy",
        "A library that is a media lab: video, podcasts, and research skills for every student.",
    ),
    (
        "making",
        "Every graduate leaves with a portfolio of real projects and a digital skills certificate.",
    ),
];
/// IT's own vision for the district, and its themes.
const IT_VISION: &str = "Technology that every school can count on, chosen with the people who \
                         use it, so that teaching and learning come first.";
const THEMES: &[(&str, &str)] = &[
    ("literacy", "Reading and research for every student"),
    ("making", "Making, coding and real projects"),
    ("time-for-teaching", "Time back for teaching"),
    ("families", "Families in the loop"),
];
const STARS: &[&str] = &[
    "Laptop repairs come back within two days",
    "The help desk answers the phone",
    "Wi-Fi in the gym finally works",
    "Password resets are quick",
    "The new projectors were installed before school started",
    "IT staff explain things without jargon",
    "Chromebook carts are always charged",
];
const WISHES: &[&str] = &[
    "Tell us before changing which software teachers can install",
    "A faster way to buy classroom apps",
    "More training for new teachers in August",
    "Someone on site on testing days",
    "Loaner devices while laptops are in repair",
    "A clear list of what we can buy without asking",
];
const ROLES: &[&str] = &["teacher", "librarian", "business_officer", "instruction_lead"];

/// Where the services are, and who the demo acts as.
pub struct Demo {
    client: Client,
    gate: String,
    stakeholders: String,
    reporting: String,
    it: String,
    finance: String,
    admin: String,
    seed: u64,
    schools: usize,
    checks: usize,
}

/// The share of the held purchases, the latest, that IT has not handled yet (one in this many,
/// at least [`LEFT_WAITING_MIN`]), so that the queue has something to work.
const LEFT_WAITING_SHARE: usize = 10;
const LEFT_WAITING_MIN: usize = 3;
/// The latest checks (a tenth, at least this many) come from the last business days.
const RECENT_MIN: usize = 15;

impl Demo {
    /// Checks that each service answers and accepts the demo's tokens, and says what to do
    /// when not: the usual first-hour mistakes are a server not started, another address, and
    /// another data directory (so another secret).
    pub async fn preflight(&self, key_source: &str) -> anyhow::Result<()> {
        for base in [&self.gate, &self.stakeholders, &self.reporting] {
            let url = format!("{base}/v1/catalog");
            let probe = if base == &self.gate { url } else { format!("{base}/health/live") };
            let response = self.client.get(&probe).bearer_auth(&self.it).send().await.map_err(|e| {
                anyhow::anyhow!(
                    "no procgate answers at {base} ({e}). Start `procgate serve` first, or point \
                     the demo at it with --url (by default it reads PROCGATE_LISTEN, as serve does)"
                )
            })?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                bail!(
                    "the server at {base} refused the demo's token, signed with {key_source}: \
                     that is not the server's key. Run the demo with the PROCGATE_DATA_DIR (or \
                     PROCGATE_JWT_SECRET) that `procgate serve` uses"
                );
            }
        }
        Ok(())
    }

    pub fn new(
        urls: [String; 3],
        issuer: &Issuer,
        seed: u64,
        schools: usize,
        checks: usize,
    ) -> anyhow::Result<Self> {
        let hour = Duration::from_secs(3600);
        let [gate, stakeholders, reporting] = urls.map(|u| u.trim_end_matches('/').to_owned());
        Ok(Self {
            client: Client::builder().timeout(Duration::from_secs(30)).build()?,
            gate,
            stakeholders,
            reporting,
            it: issuer.issue("it-director@district.org", &[Role::ItStaff], hour),
            finance: issuer.issue("district-erp", &[Role::Finance], hour),
            admin: issuer.issue("district-admin", &[Role::Admin], hour),
            seed,
            schools: schools.clamp(1, NAMES.len() * LEVELS.len()),
            checks,
        })
    }

    async fn call(
        &self,
        method: Method,
        url: String,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        self.send(method, url, token, body, None).await
    }

    /// A request, with an `Idempotency-Key` when given.
    async fn send(
        &self,
        method: Method,
        url: String,
        token: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut request = self.client.request(method.clone(), &url).bearer_auth(token);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {url}: {status}: {}", value["detail"].as_str().unwrap_or(""));
        }
        Ok(value)
    }

    /// Sends a purchase check; returns the purchase's id and the gate's decision. A check sent
    /// again on another day (its dates moved with today, so its body with them) is taken as
    /// the purchase its `external_ref` already names.
    async fn check(&self, body: Value) -> anyhow::Result<(String, String)> {
        let external_ref = body["external_ref"].as_str().unwrap_or_default().to_owned();
        let url = format!("{}/v1/purchase-checks", self.gate);
        let response = self
            .client
            .post(&url)
            .bearer_auth(&self.finance)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("purchase check {external_ref}"))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let conflict = status == reqwest::StatusCode::CONFLICT
            && answer["type"].as_str().is_some_and(|t| t.ends_with("idempotency-conflict"));
        let answer = match (status.is_success(), conflict, answer["purchase_id"].as_str()) {
            (true, ..) => answer,
            (false, true, Some(id)) => {
                let path = format!("/v1/purchases/{id}");
                self.it(Method::GET, &self.gate, &path, None).await?
            }
            _ => bail!(
                "purchase check {external_ref}: {status}: {}",
                answer["detail"].as_str().unwrap_or("")
            ),
        };
        let id = answer["purchase_id"].as_str().context("a purchase id")?.to_owned();
        Ok((id, answer["decision"].as_str().unwrap_or("?").to_owned()))
    }

    /// The generator of item `n` of kind `kind` (see [`Rng`]).
    fn rng(&self, kind: &str, n: usize) -> Rng {
        Rng::derived(self.seed, kind, n)
    }

    async fn it(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        self.call(method, format!("{base}{path}"), &self.it, body).await
    }

    /// An IT `POST` done once per `key` (the demo's, derived from what it does): sent again,
    /// by a second run or after an interruption, it gets the first answer and writes nothing.
    async fn it_once(
        &self,
        base: &str,
        path: &str,
        body: Option<Value>,
        key: &str,
    ) -> anyhow::Result<Value> {
        let key = format!("demo-{}-{key}", self.seed);
        self.send(Method::POST, format!("{base}{path}"), &self.it, body, Some(&key)).await
    }

    /// Runs the demo, printing what it does.
    pub async fn run(self) -> anyhow::Result<()> {
        println!("procgate demo: a district of {} schools (seed {})", self.schools, self.seed);
        // The district's time first: its date is what the services check dates against, and
        // its calendar dates what happened in the school year behind today.
        let (today, calendar) = self.district_time().await?;
        let year_start = today - TimeDelta::days(timeline::YEAR_DAYS);

        // The standards.
        for (id, name, approved) in [
            ("dell", "Dell Technologies", true),
            ("apple", "Apple", true),
            ("lenovo", "Lenovo", true),
            ("cdw", "CDW Education", true),
            ("gadget-barn", "Gadget Barn", false),
            ("marketplace", "Online Marketplace", false),
        ] {
            self.it(
                Method::PUT,
                &self.gate,
                &format!("/v1/catalog/vendors/{id}"),
                Some(json!({"name": name, "approved": approved})),
            )
            .await?;
        }
        // Most products come from their maker; the docking station from any approved vendor.
        for (sku, name, category, vendor) in [
            ("LAT-5440", "Dell Latitude 5440", "laptops", Some("dell")),
            ("CB-3110", "Dell Chromebook 3110", "chromebooks", Some("dell")),
            ("IPAD-10", "iPad 10th generation", "tablets", Some("apple")),
            ("TP-E14", "Lenovo ThinkPad E14", "laptops", Some("lenovo")),
            ("DOC-USB-C", "USB-C docking station", "peripherals", None),
            ("PROJ-4K", "Classroom projector 4K", "av-equipment", Some("cdw")),
        ] {
            let body = json!({"name": name, "category": category, "vendor_id": vendor});
            self.it(Method::PUT, &self.gate, &format!("/v1/catalog/products/{sku}"), Some(body))
                .await?;
        }
        self.it(
            Method::PUT,
            &self.gate,
            "/v1/catalog/policy",
            Some(json!({
                "technology_categories": ["laptops", "chromebooks", "tablets", "peripherals",
                                          "av-equipment", "software", "networking"],
                "non_technology_categories": ["supplies", "office-supplies", "furniture", "books",
                                              "classroom-materials"],
                "technology_mccs": ["5045", "5732", "5734"],
                "review_threshold": "5000.00", "currency": "USD"})),
        )
        .await?;
        println!(
            "  catalog: 6 vendors (4 approved), 6 products, the policy (review over 5000.00 USD)"
        );

        // Schools and their people.
        let existing =
            self.it(Method::GET, &self.stakeholders, "/v1/stakeholders?limit=1000", None).await?;
        let mut by_email: HashMap<String, (String, u64)> = existing["stakeholders"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let id = s["stakeholder_id"].as_str()?.to_owned();
                let conversations = s["conversations"].as_u64().unwrap_or(0);
                Some((s["email"].as_str()?.to_owned(), (id, conversations)))
            })
            .collect();
        let mut schools: Vec<School> = Vec::new();
        let mut people = 0;
        for i in 0..self.schools {
            let (slug, level) = LEVELS[i / NAMES.len() % LEVELS.len()];
            let name = format!("{} {level}", NAMES[i % NAMES.len()]);
            let id = format!("{}-{slug}", NAMES[i % NAMES.len()].to_lowercase());
            self.it(
                Method::PUT,
                &self.stakeholders,
                &format!("/v1/schools/{id}"),
                Some(json!({"name": name})),
            )
            .await?;
            let (mut principal, mut conversations) = (String::new(), 0);
            let mut rng = self.rng("school", i);
            for (n, role) in std::iter::once("principal")
                .chain(ROLES.iter().copied().take(1 + rng.below(2)))
                .enumerate()
            {
                let (first, last) = (*rng.pick(FIRST), *rng.pick(LAST));
                let phone = format!("555-01{:02}", rng.below(100));
                let email = format!(
                    "{}.{}{n}@{id}.district.org",
                    first.to_lowercase(),
                    last.to_lowercase()
                );
                let (sid, held) = match by_email.get(&email).cloned() {
                    Some(known) => known,
                    None => {
                        let body = json!({"name": format!("{first} {last}"), "email": email, "role": role,
                                          "phone": phone, "school_id": id});
                        let created = self
                            .it(Method::POST, &self.stakeholders, "/v1/stakeholders", Some(body))
                            .await?;
                        let sid = created["stakeholder_id"]
                            .as_str()
                            .context("a stakeholder id")?
                            .to_owned();
                        people += 1;
                        by_email.insert(email, (sid.clone(), 0));
                        (sid, 0)
                    }
                };
                if role == "principal" {
                    (principal, conversations) = (sid, held);
                }
            }
            schools.push(School { id, name, principal, conversations });
        }
        println!(
            "  {} schools, {people} new stakeholders (principals, teachers, librarians, business officers)",
            schools.len()
        );

        // IT's vision, which each principal's is joined to.
        let themes: Vec<_> =
            THEMES.iter().map(|(id, title)| json!({"theme_id": id, "title": title})).collect();
        let vision = json!({"statement": IT_VISION, "themes": themes});
        self.it(Method::PUT, &self.stakeholders, "/v1/vision", Some(vision)).await?;

        // The round of meetings: IT meets each principal on their own turf, one a work day
        // from the start of the school year (their vision, two stars and a wish); promises and
        // follow-ups; headway on the wishes.
        let story = story::story(&calendar, year_start, today, schools.len(), self.seed);
        let round_id = self.plan_round(&story, &schools).await?;
        let meetings = self.meet_principals(&story, &schools, today).await?;
        let round = self
            .it(Method::GET, &self.stakeholders, &format!("/v1/meeting-rounds/{round_id}"), None)
            .await?;
        println!(
            "  a round of meetings, \"{}\": {} of {} principals met ({} now), {} on their own turf, \
             one a work day from {} ({} work days taken of {}; complete: {}); each was asked for \
             their vision, two stars and a wish",
            story::ROUND_NAME,
            round["met"],
            round["people"],
            meetings.met,
            round["met_on_their_turf"],
            story.round_starts_on,
            round["work_days_taken"],
            round["work_days"],
            round["complete"],
        );
        let progressed = self.progress_wishes().await?;
        println!(
            "  {} promises made now ({} kept, {} broken, {} still open), {} follow-ups ({} done), \
             headway on {progressed} wishes",
            meetings.kept + meetings.broken + meetings.open,
            meetings.kept,
            meetings.broken,
            meetings.open,
            meetings.followups,
            meetings.followups_done,
        );

        // A school year of purchase checks, entered after the fact in the order they were
        // requested, with the schools' signatures between them on their days: a school's
        // technology purchase is advisory before it signed, held for IT after. IT handles
        // each flagged one at once; the latest come from the last business days.
        let listed =
            self.it(Method::GET, &self.stakeholders, "/v1/schools?limit=1000", None).await?;
        let already = relations::signed_on(&listed);
        let mut signatures = relations::Signatures::default();
        let mut spoken = self.advocacy_recorded().await?;
        let mut to_sign: Vec<usize> = (0..schools.len())
            .filter(|n| {
                let signed = already.contains_key(&schools[*n].id);
                signatures.before += usize::from(signed);
                !signed
            })
            .collect();
        to_sign.sort_by_key(|n| (story.schools[*n].signed_on, *n));
        let mut to_sign = to_sign.into_iter().peekable();
        let recent_from = self.checks - (self.checks / 10).max(RECENT_MIN).min(self.checks);
        let mut checks: Vec<(usize, Rng, Value, DateTime<Utc>)> = (0..self.checks)
            .map(|n| {
                let mut rng = self.rng("purchase", n);
                let school = &schools[rng.below(schools.len())].id;
                let mut body = purchase(&mut rng, n, school);
                let mut when = self.rng("requested", n);
                let requested = timeline::requested_at(
                    &calendar,
                    today,
                    year_start,
                    n >= recent_from,
                    &mut when,
                );
                body["requested_at"] = json!(requested.to_rfc3339());
                (n, rng, body, requested)
            })
            .collect();
        checks.sort_by_key(|(n, _, _, requested)| (*requested, *n));
        let bar = ProgressBar::new(self.checks as u64);
        bar.set_style(ProgressStyle::with_template(
            "  purchase checks {bar:40} {pos}/{len} {msg}",
        )?);
        let mut tally: HashMap<String, usize> = HashMap::new();
        let mut recent = Vec::new();
        for (n, mut rng, body, requested) in checks {
            // The schools that signed before the day it was requested.
            let day = calendar.today(requested);
            while let Some(s) = to_sign.next_if(|s| story.schools[*s].signed_on < day) {
                let plot = &story.schools[s];
                self.sign(s, &schools, plot, &calendar, &mut spoken, &mut signatures).await?;
            }
            let (pid, decision) = self.check(body).await?;
            *tally.entry(decision.clone()).or_default() += 1;
            if decision != "approved" {
                if n >= recent_from {
                    recent.push((rng, pid, decision));
                } else {
                    self.handle(&mut rng, &pid, &decision, &calendar, &mut tally).await?;
                }
            }
            bar.inc(1);
        }
        for s in to_sign {
            self.sign(s, &schools, &story.schools[s], &calendar, &mut spoken, &mut signatures)
                .await?;
        }
        // IT works the latest flagged purchases too, but the latest held ones are left for the
        // tour: IT has not got to them yet.
        let held = tally.get("held").copied().unwrap_or(0);
        let mut waiting = held.div_ceil(LEFT_WAITING_SHARE).max(LEFT_WAITING_MIN).min(held);
        for (mut rng, pid, decision) in recent.into_iter().rev() {
            if decision == "held" && waiting > 0 {
                waiting -= 1;
                *tally.entry("waiting".into()).or_default() += 1;
                continue;
            }
            self.handle(&mut rng, &pid, &decision, &calendar, &mut tally).await?;
        }
        bar.finish_with_message("done");
        self.print_signatures(&story, &schools, &signatures).await?;
        let count = |k: &str| tally.get(k).copied().unwrap_or(0);
        println!(
            "  {} checks: {} approved, {} held, {} advisory; IT called and proposed alternatives on the held ones: \
             {} approved as submitted, {} approved as amended, {} cancelled after a call and an alternative; \
             {} held ones still wait for IT in the queue",
            self.checks,
            count("approved"),
            count("held"),
            count("advisory"),
            count("approved-after-review"),
            count("approved-as-amended"),
            count("cancelled"),
            count("waiting")
        );
        let school_ids: Vec<String> = schools.iter().map(|s| s.id.clone()).collect();
        self.card_statement(&school_ids, today).await?;
        println!("\nWhere to look (with an it_staff or auditor token):");
        for path in ["/v1/purchases?status=held", "/v1/outreach", "/v1/catalog"] {
            println!("  {}{path}", self.gate);
        }
        for path in [
            "/v1/schools",
            "/v1/stakeholders",
            "/v1/meeting-rounds",
            "/v1/wishes",
            "/v1/promises",
            "/v1/follow-ups",
            "/v1/reports/coverage",
            "/v1/reports/advocates",
            "/v1/reports/themes",
        ] {
            println!("  {}{path}", self.stakeholders);
        }
        for path in [
            "/v1/reports/adoption",
            "/v1/reports/response-times",
            "/v1/reports/sla",
            "/v1/reports/promises",
            "/v1/reports/rogue-spend",
            "/v1/reports/wishes",
            "/v1/events",
            "/v1/audit/verify",
        ] {
            println!("  {}{path}", self.reporting);
        }
        println!("  API docs: {}/docs", self.gate);
        Ok(())
    }
}

/// The `n`th purchase: mostly supported technology, some unsupported, some not technology,
/// some over the threshold, some from vendors IT does not approve.
fn purchase(rng: &mut Rng, n: usize, school: &str) -> Value {
    let kind = rng.below(100);
    let (vendor, lines, mcc) = match kind {
        0..=34 => (
            "Dell",
            vec![line(
                Some("LAT-5440"),
                "Latitude 5440 for the front office",
                "laptops",
                1 + rng.below(3),
                "899.00",
            )],
            None,
        ),
        35..=49 => (
            "Apple",
            vec![line(
                Some("IPAD-10"),
                "iPads for the reading program",
                "tablets",
                4 + rng.below(8),
                "349.00",
            )],
            None,
        ),
        50..=64 => (
            "Gadget Barn",
            vec![line(None, "Smart board from a trade show", "av-equipment", 1, "2499.00")],
            Some("5732"),
        ),
        65..=74 => (
            "Online Marketplace",
            vec![line(None, "Gaming laptop for the esports club", "laptops", 2, "1299.00")],
            Some("5732"),
        ),
        75..=84 => (
            "Office Depot",
            vec![line(None, "Copy paper, 10 cases", "supplies", 10, "42.50")],
            None,
        ),
        _ => (
            "Dell",
            vec![line(Some("CB-3110"), "Chromebook cart refresh", "chromebooks", 30, "289.00")],
            None,
        ),
    };
    let method = if mcc.is_some() { "p_card" } else { "purchase_order" };
    let mut body = json!({
        "external_ref": format!("DEMO-{n:04}-{school}"), "school_id": school,
        "requester_email": format!("requests@{school}.district.org"), "vendor": vendor,
        "payment_method": method, "currency": "USD", "lines": lines,
        "purpose": "For the new term"});
    if let Some(mcc) = mcc {
        body["merchant_category_code"] = json!(mcc);
    }
    body
}

fn line(
    sku: Option<&str>,
    description: &str,
    category: &str,
    quantity: usize,
    price: &str,
) -> Value {
    json!({"sku": sku, "description": description, "category": category, "quantity": quantity, "unit_price": price})
}
