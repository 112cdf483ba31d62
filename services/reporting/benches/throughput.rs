//! The reporting service at scale, on PostgreSQL: a log of a million realistic events, read
//! three ways against the fastest way out of PostgreSQL.
//!
//! `cargo bench -p reporting --bench throughput`. PostgreSQL as the tests find it (testkit:
//! `PROCGATE_TEST_DATABASE_URL`, `DATABASE_URL`, else 127.0.0.1:5432; a throwaway database).
//! `BENCH_EVENTS` sets the log's size (default 1,000,000; `BENCH_EVENTS=100000` for a quick
//! run).
//!
//! 1. **Fill**: a district's history (its calendar and SLA targets, schools, agreements with
//!    their standing promises, purchase checks and what IT did with the flagged ones: most
//!    advisory ones called, the others breached as the gate's scheduler records it,
//!    stakeholders, conversations,
//!    wishes and their progress, promises kept), built with the `events` types so every report
//!    has real work to do, appended with `append_streams` in batches of about 10,000 events.
//! 2. **Baseline**: `COPY (SELECT … FROM events ORDER BY position) TO STDOUT` through
//!    tokio-postgres `copy_out`: every column a reader needs, with no decoding at all.
//! 3. The store's `read_all` in pages of 1000 (what both of the following sit on).
//! 4. **Rebuild**: `reporting::rebuild`, the report projections from scratch, in one pass.
//! 5. **Feed**: `GET /v1/events?limit=1000` page after page over HTTP, one client (the service
//!    is started after the rebuild, so its projections are idle).
//! 6. Each report over HTTP on the full log, beside a page of the feed: once, then
//!    `BENCH_REPORT_READS` times (default 100) with the projections idle (the report's own
//!    work), then as many times right after a small write that moves every report's projections
//!    (the read also waits for them to apply it): p50 and p99 of each, and the p99s as ratios
//!    of the feed page's.
//!
//! Steps 2 to 5 run `BENCH_REPEAT` times each (default 3); the median is reported (with the
//! best), since other work on a small machine can slow any single run.
//!
//! Goals: feed ≥ 50,000 events/s, rebuild ≥ 100,000 events/s, each report's p99 ≤ 20 ms (its
//! own work: the idle reads).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use eventlog::{
    Actor, ExpectedVersion, Filter, Metadata, NewEvent, PgOptions, PgStore, Store, StreamAppend,
    StreamName,
};
use events::EventFamily;
use events::calendar::{BusinessHours, TimeZoneName};
use events::clocks::{ClockKind, PurchaseClocks, PurchaseSlaBreached, SlaEvent, sla_stream};
use events::district::{DISTRICT_STREAM, DistrictEvent, DistrictSet};
use events::gate::{
    AlternativeProposed, CallLogged, Decision, PurchaseApproved, PurchaseCancelled,
    PurchaseDecided, PurchaseEvent, PurchaseLine, PurchaseSubmitted, Reason, ReasonCode,
    purchase_stream,
};
use events::school::{AgreementSigned, SchoolEvent, SchoolRegistered, school_stream};
use events::stakeholders::{
    CALL_BEFORE_CANCEL, ConversationHeld, PromiseEvent, PromiseKept, PromiseMade, PromiseTo,
    StakeholderEvent, StakeholderRegistered, StakeholderRole, WishEvent, WishProgressed,
    WishRecorded, WishStatus, promise_stream, stakeholder_stream, wish_stream,
};
use events::values::{
    Category, Currency, Email, ExternalRef, LongText, Money, PaymentMethod, Quantity, SchoolId,
    ShortText, Sku,
};
use futures::StreamExt;
use reporting::Reporting;
use uuid::Uuid;

mod common;

use common::{auditor_token, env_number, read_feed, verifier};

const SCHOOLS: usize = 200;
const APPEND_BATCH: usize = 10_000;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 0..n
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// true with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn long(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

/// A call at `at` that reached the requester and recorded the goal.
fn reached_call(at: DateTime<Utc>) -> PurchaseEvent {
    CallLogged {
        call_id: Uuid::now_v7(),
        requester_reached: true,
        goal: Some(long("Laptops the club can take home")),
        notes: None,
        occurred_at: at,
        spoke_with: None,
    }
    .into()
}

fn short(s: &str) -> ShortText {
    ShortText::parse(s).unwrap()
}

/// The district whose history is written.
struct District {
    rng: Rng,
    /// Its settings ([`District::settings`]), folded: the clocks' due times.
    settings: events::district::District,
    schools: Vec<(SchoolId, bool)>,
    stakeholders: Vec<(Uuid, usize)>,
    purchases: u64,
    day: NaiveDate,
}

const VENDORS: [&str; 8] =
    ["Dell", "Lenovo", "Apple", "Best Buy", "Amazon", "CDW", "Staples", "Micro Center"];

impl District {
    fn new() -> Self {
        let mut rng = Rng(0x5eed_cafe_f00d_1234);
        let schools = (0..SCHOOLS)
            .map(|i| (SchoolId::parse(&format!("school-{i:03}")).unwrap(), rng.chance(60)))
            .collect();
        let mut settings = events::district::District::default();
        for (event, version) in Self::settings().iter().zip(1..) {
            settings.apply(event, version, Utc::now());
        }
        Self {
            rng,
            settings,
            schools,
            stakeholders: Vec::new(),
            purchases: 0,
            day: NaiveDate::from_ymd_opt(2024, 8, 1).unwrap(),
        }
    }

    fn meta(subject: &str, role: &str, service: &str) -> Metadata {
        Metadata::new(Actor::new(subject, role), service)
    }

    fn append<E: EventFamily>(stream: String, meta: &Metadata, events: Vec<E>) -> StreamAppend {
        let events = events
            .iter()
            .map(|e| NewEvent::new(e.event_type(), e.to_data(), meta.clone()))
            .collect();
        StreamAppend::new(StreamName::new(stream).unwrap(), ExpectedVersion::NoStream, events)
    }

    /// The district's calendar (Chicago, office hours) and SLA targets.
    fn settings() -> Vec<DistrictEvent> {
        vec![
            DistrictSet {
                name: short("Springfield"),
                time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
                business_hours: BusinessHours::office(),
                school_year_starts_in: None,
            }
            .into(),
            events::testing::sla_targets().into(),
        ]
    }

    /// The district's settings, then the schools, their agreements and standing promises.
    fn opening(&self) -> Vec<StreamAppend> {
        let admin = Self::meta("admin@district.org", "admin", "gate");
        let mut out = vec![Self::append(DISTRICT_STREAM.into(), &admin, Self::settings())];
        let meta = Self::meta("cto@district.org", "it_staff", "stakeholders");
        for (id, gated) in &self.schools {
            let mut events: Vec<SchoolEvent> =
                vec![SchoolRegistered { school_id: id.clone(), name: short(id.as_str()) }.into()];
            if *gated {
                events.push(
                    AgreementSigned {
                        school_id: id.clone(),
                        principal_id: Uuid::now_v7(),
                        signed_on: self.day,
                    }
                    .into(),
                );
                let promise_id = Uuid::now_v7();
                let promise: PromiseEvent = PromiseMade {
                    promise_id,
                    to: PromiseTo::School { school_id: id.clone() },
                    text: long("We call before we cancel, and find an alternative."),
                    due_on: self.day,
                    owner: "cto@district.org".into(),
                    made_on: self.day,
                    kind: Some(CALL_BEFORE_CANCEL.into()),
                }
                .into();
                out.push(Self::append(promise_stream(promise_id), &meta, vec![promise]));
            }
            out.push(Self::append(school_stream(id), &meta, events));
        }
        out
    }

    /// One purchase check and what IT did with it: 2 to 6 events; for an advisory one IT did
    /// not call, the breach of its outreach in its `sla-…` stream, as the gate's scheduler
    /// records it.
    fn purchase(&mut self) -> Vec<StreamAppend> {
        self.purchases += 1;
        if self.purchases.is_multiple_of(2000) {
            self.day = self.day.succ_opt().unwrap();
        }
        let asked = self.moment();
        let id = Uuid::now_v7();
        let school = self.rng.below(SCHOOLS as u64) as usize;
        let (school_id, gated) = self.schools[school].clone();
        let vendor = VENDORS[self.rng.below(VENDORS.len() as u64) as usize];
        let technology = self.rng.chance(90);
        let in_catalog = technology && self.rng.chance(50);
        let lines: Vec<PurchaseLine> = (0..1 + self.rng.below(3))
            .map(|i| PurchaseLine {
                sku: in_catalog.then(|| Sku::parse(&format!("LAT-{}", 5400 + i)).unwrap()),
                description: short("14-inch student laptop"),
                category: Category::parse(if technology { "laptops" } else { "furniture" })
                    .unwrap(),
                quantity: Quantity::new(1 + self.rng.below(5) as u32).unwrap(),
                unit_price: Money::from_cents(5_000 + self.rng.below(150_000) as i64).unwrap(),
            })
            .collect();
        let total = lines.iter().fold(Money::ZERO, |sum, l| {
            sum.checked_add(l.unit_price.checked_mul(l.quantity).unwrap()).unwrap()
        });
        let (decision, codes) = match (technology, in_catalog, gated) {
            (false, _, _) => (Decision::Approved, vec![ReasonCode::NotTechnology]),
            (true, true, _) => (Decision::Approved, vec![ReasonCode::InCatalog]),
            (true, false, true) => (Decision::Held, vec![ReasonCode::NotInCatalog]),
            (true, false, false) => {
                (Decision::Advisory, vec![ReasonCode::NotInCatalog, ReasonCode::SchoolNotGated])
            }
        };
        let mut events: Vec<PurchaseEvent> = vec![
            PurchaseSubmitted {
                purchase_id: id,
                external_ref: ExternalRef::parse(&format!("PO-{}", self.purchases)).unwrap(),
                idempotency_key: None,
                submitted_by: "finance-erp".into(),
                request_hash: "ab".repeat(32),
                school_id,
                requester_email: Email::parse(&format!("teacher{}@district.org", school)).unwrap(),
                vendor: short(vendor),
                payment_method: PaymentMethod::PCard,
                merchant_category_code: None,
                currency: Currency::parse("USD").unwrap(),
                lines,
                purpose: Some(long("For the robotics club")),
                total,
                // Entered after the fact, as a district moving its history in does: so the
                // figures count on the days of the history (the log records it all today).
                requested_at: Some(asked),
            }
            .into(),
            PurchaseDecided {
                decision,
                reasons: codes
                    .iter()
                    .map(|c| Reason { code: *c, line: Some(0), detail: c.as_str().into() })
                    .collect(),
                policy_version: 12,
                school_gated: gated,
            }
            .into(),
        ];
        if decision == Decision::Held {
            let now = asked + TimeDelta::minutes(30 + self.rng.below(600) as i64);
            if self.rng.chance(30) {
                events.push(
                    CallLogged {
                        call_id: Uuid::now_v7(),
                        requester_reached: false,
                        goal: None,
                        notes: Some(long("Voicemail")),
                        occurred_at: now,
                        spoke_with: None,
                    }
                    .into(),
                );
            }
            events.push(reached_call(now + TimeDelta::seconds(1)));
            events.push(
                AlternativeProposed {
                    alternative_id: Uuid::now_v7(),
                    description: long("The standard laptop from the catalog"),
                    lines: vec![],
                    call_id: None,
                    assessment: None,
                    occurred_at: None,
                }
                .into(),
            );
            let resolved = Some(now + TimeDelta::minutes(60 + self.rng.below(1200) as i64));
            events.push(if self.rng.chance(70) {
                PurchaseApproved { note: None, alternative_id: None, occurred_at: resolved }.into()
            } else {
                PurchaseCancelled {
                    reason: long("Took the catalog model instead"),
                    occurred_at: resolved,
                }
                .into()
            });
        }
        let mut breach = None;
        if decision == Decision::Advisory {
            if self.rng.chance(80) {
                let at = asked + TimeDelta::minutes(60 + self.rng.below(900) as i64);
                events.push(reached_call(at));
            } else {
                breach = self.outreach_breached(&events);
            }
        }
        let meta = Self::meta("finance-erp", "finance", "gate");
        let mut out = vec![Self::append(purchase_stream(id), &meta, events)];
        out.extend(breach);
        out
    }

    /// The `purchase-sla-breached` of the outreach of the advisory purchase of `events`, at
    /// its due time as the gate's fold has it (the purchase recorded now), with the scheduler's
    /// deterministic id.
    fn outreach_breached(&self, events: &[PurchaseEvent]) -> Option<StreamAppend> {
        let mut clocks = PurchaseClocks::default();
        let now = Utc::now();
        events.iter().for_each(|e| clocks.apply(e, now));
        let purchase_id = clocks.purchase_id()?;
        let outreach = clocks.clocks(&self.settings).into_iter().next()?;
        let due_at = outreach.due_at(&self.settings.calendar)?;
        let event = SlaEvent::from(PurchaseSlaBreached {
            purchase_id,
            clock: ClockKind::AdvisoryOutreach,
            due_at,
            target_minutes: outreach.target,
            district_version: self.settings.version,
        });
        let meta = Metadata::new(Actor::system("gate"), "gate");
        let new =
            NewEvent::new(event.event_type(), event.to_data(), meta).with_id(event.event_id());
        let stream = StreamName::new(sla_stream(purchase_id)).unwrap();
        Some(StreamAppend::new(stream, ExpectedVersion::NoStream, vec![new]))
    }

    /// A moment of the history's current day, in office hours (13:00 to 21:00 UTC).
    fn moment(&mut self) -> DateTime<Utc> {
        let start = self.day.and_hms_opt(13, 0, 0).unwrap().and_utc();
        start + TimeDelta::minutes(self.rng.below(480) as i64)
    }

    /// A stakeholder, a conversation with its wish, headway on it, and a promise kept: about
    /// eight events over four streams.
    fn relations(&mut self) -> Vec<StreamAppend> {
        let meta = Self::meta("cto@district.org", "it_staff", "stakeholders");
        let school = self.rng.below(SCHOOLS as u64) as usize;
        let school_id = self.schools[school].0.clone();
        let id = Uuid::now_v7();
        let wish_id = Uuid::now_v7();
        let conversation_id = Uuid::now_v7();
        let held_at = self.moment();
        let stakeholder: Vec<StakeholderEvent> = vec![
            StakeholderRegistered {
                stakeholder_id: id,
                name: short("Dana Whitfield"),
                email: Email::parse(&format!("s{}@district.org", self.stakeholders.len())).unwrap(),
                phone: None,
                role: StakeholderRole::Teacher,
                school_id: Some(school_id.clone()),
            }
            .into(),
            ConversationHeld {
                conversation_id,
                held_at,
                location: short("The library"),
                their_vision: long("Every fourth grader codes."),
                stars: Some([short("Fast projector fixes"), short("Friendly help desk")]),
                wish: Some(long("Loaner laptops the same day")),
                notes: None,
                wish_id: Some(wish_id),
                connections: vec![],
                on_their_turf: true,
            }
            .into(),
        ];
        self.stakeholders.push((id, school));
        let mut wish: Vec<WishEvent> = vec![
            WishRecorded {
                wish_id,
                stakeholder_id: id,
                school_id: Some(school_id),
                text: long("Loaner laptops the same day"),
                conversation_id,
                recorded_at: held_at,
            }
            .into(),
        ];
        if self.rng.chance(70) {
            wish.push(
                WishProgressed {
                    note: long("Ten loaners staged"),
                    status: WishStatus::InProgress,
                    at: held_at,
                }
                .into(),
            );
        }
        let promise_id = Uuid::now_v7();
        let mut promise: Vec<PromiseEvent> = vec![
            PromiseMade {
                promise_id,
                to: PromiseTo::Stakeholder { stakeholder_id: id },
                text: long("Loaners by Friday"),
                due_on: self.day,
                owner: "tech@district.org".into(),
                made_on: self.day,
                kind: None,
            }
            .into(),
        ];
        if self.rng.chance(80) {
            promise.push(PromiseKept { evidence: long("Ticket 4411"), on: self.day }.into());
        }
        vec![
            Self::append(stakeholder_stream(id), &meta, stakeholder),
            Self::append(wish_stream(wish_id), &meta, wish),
            Self::append(promise_stream(promise_id), &meta, promise),
        ]
    }

    /// About `events` events' worth of appends.
    fn batch(&mut self, events: usize) -> (Vec<StreamAppend>, usize) {
        let mut out = Vec::new();
        let mut count = 0;
        while count < events {
            let appends = if self.purchases.is_multiple_of(40) && self.rng.chance(50) {
                let mut r = self.relations();
                r.extend(self.purchase());
                r
            } else {
                self.purchase()
            };
            count += appends.iter().map(|a| a.events.len()).sum::<usize>();
            out.extend(appends);
        }
        (out, count)
    }
}

async fn fill(store: &Store, n: usize) -> usize {
    let mut district = District::new();
    let opening = district.opening();
    let mut written: usize = opening.iter().map(|a| a.events.len()).sum();
    store.append_streams(opening).await.unwrap();
    // Generate the next batch while the previous one is written.
    let (mut next, mut count) = district.batch(APPEND_BATCH.min(n.saturating_sub(written)));
    while written < n {
        written += count;
        let more = written < n;
        let write = store.append_streams(next);
        let generate = async {
            if more {
                tokio::task::block_in_place(|| {
                    district.batch(APPEND_BATCH.min(n.saturating_sub(written)))
                })
            } else {
                (vec![], 0)
            }
        };
        let (written_ok, generated) = tokio::join!(write, generate);
        written_ok.unwrap();
        (next, count) = generated;
    }
    written
}

/// The baseline: every column a reader needs, straight out of PostgreSQL in COPY text format.
async fn copy_out(pg: &PgStore) -> (u64, usize) {
    let client = pg.pool().get().await.unwrap();
    let stream = client
        .copy_out(
            "COPY (SELECT position, event_id, stream, version, event_type, data, metadata, \
             recorded_at FROM events ORDER BY position) TO STDOUT",
        )
        .await
        .unwrap();
    futures::pin_mut!(stream);
    let (mut rows, mut bytes) = (0u64, 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len();
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    (rows, bytes)
}

fn rate(events: u64, start: Instant) -> f64 {
    events as f64 / start.elapsed().as_secs_f64()
}

/// Runs `measure` (which returns events/s) `repeat` times: (median, best).
async fn repeated<F, Fut>(repeat: usize, mut measure: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let mut rates = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        rates.push(measure().await);
    }
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], rates[rates.len() - 1])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_number("BENCH_EVENTS", 1_000_000.0) as usize;
    let db = testkit::pg_database().await;
    let pg = PgStore::connect(db.url(), PgOptions::default()).await.unwrap();
    let store: Store = Arc::new(pg.clone());

    let start = Instant::now();
    let written = fill(&store, n).await;
    let head = store.head().await.unwrap();
    assert_eq!(head as usize, written);
    println!(
        "fill      {head} events in {:.1} s ({:.0} events/s, generation included)",
        start.elapsed().as_secs_f64(),
        rate(head, start)
    );
    {
        let client = pg.pool().get().await.unwrap();
        client.batch_execute("VACUUM ANALYZE events").await.unwrap();
    }

    let repeat = env_number("BENCH_REPEAT", 3.0).max(1.0) as usize;
    // Once to warm the cache (and set hint bits), then measured.
    let (rows, bytes) = copy_out(&pg).await;
    assert_eq!(rows, head);
    let (copy, copy_best) = repeated(repeat, || async {
        let start = Instant::now();
        copy_out(&pg).await;
        rate(head, start)
    })
    .await;
    println!(
        "COPY      TO STDOUT, ordered by position  {copy:>10.0} events/s  (best {copy_best:.0}; {:.0} bytes/event)",
        bytes as f64 / rows as f64
    );

    let (read_all, read_all_best) = repeated(repeat, || async {
        let start = Instant::now();
        let mut after = 0;
        while after < head {
            let page = store.read_all(after, &Filter::all(), 1000).await.unwrap();
            after = page.last().unwrap().position;
        }
        rate(head, start)
    })
    .await;
    println!(
        "read_all  pages of 1000                   {read_all:>10.0} events/s  (best {read_all_best:.0})"
    );

    let read = std::cell::Cell::new(0);
    let (rebuild, rebuild_best) = repeated(repeat, || async {
        let start = Instant::now();
        read.set(reporting::rebuild(&*store, &|_| {}).await.unwrap());
        rate(head, start)
    })
    .await;
    println!(
        "rebuild   the report projections     {rebuild:>10.0} events/s  (best {rebuild_best:.0}; {} events read)",
        read.get()
    );

    if std::env::var("BENCH_DETAIL").is_ok_and(|v| v == "1") {
        // Each projection rebuilt alone (reading only its own event types).
        for p in reporting::projections() {
            let start = Instant::now();
            let applied = eventlog::rebuild(&*store, &*p, &|_| {}).await.unwrap();
            println!(
                "  alone   {:<28} {:>10.0} events/s of the log  ({applied} events, {:.1} s)",
                p.name(),
                rate(head, start),
                start.elapsed().as_secs_f64()
            );
        }
        reporting::rebuild(&*store, &|_| {}).await.unwrap();
        // Where the time goes: the log read into memory once, then each projection's work
        // without the read (pure apply, no database), and with its transactions.
        let projections = reporting::projections();
        let mut batches = Vec::new();
        let mut after = 0;
        let start = Instant::now();
        while after < head {
            let batch = store.read_all(after, &Filter::all(), 5000).await.unwrap();
            after = batch.last().unwrap().position;
            batches.push(batch);
        }
        println!("  read    into memory, batches of 5000  {:>10.0} events/s", rate(head, start));
        for p in &projections {
            let start = Instant::now();
            for batch in &batches {
                eventlog::projection::apply_in_memory(&**p, batch, 0, |_| None).unwrap();
            }
            let pure = rate(head, start);
            store.reset_projection(&**p).await.unwrap();
            let start = Instant::now();
            let mut seen = eventlog::Seen::default();
            for batch in &batches {
                seen.checkpoint = store.apply_projection(&**p, seen, batch).await.unwrap();
            }
            println!(
                "  apply   {:<28} pure {pure:>10.0} events/s, with the store {:>10.0} events/s",
                p.name(),
                rate(head, start)
            );
        }
        reporting::rebuild(&*store, &|_| {}).await.unwrap();
    }

    let reporting = Reporting::start(store.clone(), verifier()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = web::Application::build(
        listener,
        vec![Arc::new(reporting.clone())],
        web::always_ready(),
        Some(2),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    tokio::time::timeout(Duration::from_secs(60), reporting.reports_caught_up())
        .await
        .expect("the projections start at the rebuilt checkpoints")
        .unwrap();
    let token = auditor_token(Duration::from_secs(3600));
    let client = reqwest::Client::new();

    let bytes = std::cell::Cell::new(0usize);
    let (feed, feed_best) = repeated(repeat, || async {
        let start = Instant::now();
        bytes.set(read_feed(&client, &base, &token, head).await);
        rate(head, start)
    })
    .await;
    println!(
        "feed      GET /v1/events, pages of 1000   {feed:>10.0} events/s  (best {feed_best:.0}; {:.0} bytes/event)",
        bytes.get() as f64 / head as f64
    );

    println!();
    println!(
        "against COPY (medians): read_all {:.0}%, rebuild {:.0}%, feed {:.0}%",
        100.0 * read_all / copy,
        100.0 * rebuild / copy,
        100.0 * feed / copy
    );
    println!(
        "goals: feed {feed:.0} of 50000 events/s ({}), rebuild {rebuild:.0} of 100000 events/s ({})",
        if feed >= 50_000.0 { "met" } else { "missed" },
        if rebuild >= 100_000.0 { "met" } else { "missed" }
    );

    // 6. The reports, beside a feed page, on the whole log: each read once, then
    // `BENCH_REPORT_READS` times with the projections idle (the report's own work: reading its
    // documents and summing them), then as many times right after a small write that moves
    // every report's projections (a purchase check and what IT did, a person with a
    // conversation, a wish and a promise): the read then also waits for the projections to
    // apply the write, as a read after a write does.
    println!();
    let reads = env_number("BENCH_REPORT_READS", 100.0).max(1.0) as usize;
    let mut writer = District::new();
    let feed_page = format!("/v1/events?after={}&limit=1000", head.saturating_sub(1000));
    let paths: [(&str, &str); 8] = [
        ("feed page (baseline)", &feed_page),
        ("adoption", "/v1/reports/adoption"),
        ("adoption, a school year", "/v1/reports/adoption?school_year=2024-25"),
        ("response-times", "/v1/reports/response-times"),
        ("sla", "/v1/reports/sla"),
        ("promises", "/v1/reports/promises"),
        ("rogue-spend", "/v1/reports/rogue-spend"),
        ("wishes", "/v1/reports/wishes"),
    ];
    let get = |path: &str| {
        let (client, token, url) = (&client, &token, format!("{base}{path}"));
        async move {
            let start = Instant::now();
            let res = client.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let bytes = res.bytes().await.unwrap().len();
            (start.elapsed().as_secs_f64() * 1000.0, bytes)
        }
    };
    let quantiles = |mut samples: Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        let rank = |q: f64| samples[((q * reads as f64).ceil() as usize).clamp(1, reads) - 1];
        (rank(0.5), rank(0.99))
    };
    let mut baseline: Option<(f64, f64)> = None;
    for (name, path) in paths {
        let (first, bytes) = get(path).await;
        let mut idle = Vec::with_capacity(reads);
        for _ in 0..reads {
            idle.push(get(path).await.0);
        }
        let mut after_write = Vec::with_capacity(reads);
        for _ in 0..reads {
            let mut appends = writer.relations();
            appends.extend(writer.purchase());
            store.append_streams(appends).await.unwrap();
            after_write.push(get(path).await.0);
        }
        let ((p50, p99), (w50, w99)) = (quantiles(idle), quantiles(after_write));
        let ratio = baseline.map_or(String::new(), |(b, bw): (f64, f64)| {
            format!(" ({:.1}× / {:.1}× the feed page's)", p99 / b, w99 / bw)
        });
        baseline.get_or_insert((p99, w99));
        println!(
            "read      {name:<24} first {first:>7.1} ms; p50 {p50:>6.1} ms, p99 {p99:>6.1} ms; after a write p50 {w50:>6.1} ms, p99 {w99:>6.1} ms{ratio}, {bytes} bytes{}",
            if name.starts_with("feed") {
                String::new()
            } else if p99 <= 20.0 {
                "; goal met".into()
            } else {
                "; goal of 20 ms missed".into()
            }
        );
    }
    handle.stop(false).await;
}
