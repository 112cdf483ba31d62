//! A small district's history, written straight to the log with the `events` types, at times
//! the test sets (see [`crate::common::Clocked`]). The reports' expected figures are worked out
//! by hand in `reports.rs` from what is written here.
//!
//! Schools: lincoln-elem (registered 2024-08-01, signed 2024-08-20), roosevelt-high (registered
//! 2024-08-05, never signs), washington-middle (registered 2024-09-02, signed 2024-09-10,
//! withdrew 2024-10-15). Each signature comes with its standing call-before-cancel promise.
//!
//! Purchases (USD), decided at the times given:
//!
//! | | school | decision | total | decided | then |
//! |---|---|---|---|---|---|
//! | P1 | lincoln | held | 1500.00 | 09-02 08:00 | unreached call 09:00, reached call 10:00, alternative, approved 09-03 08:00 |
//! | P2 | lincoln | held | 800.00 | 09-05 12:00 | reached call 12:30, alternative, cancelled 09-07 00:00 |
//! | P3 | washington | held | 2000.00 | 09-20 00:00 | nothing yet |
//! | P4 | roosevelt | advisory | 700.00 (Best Buy) | 09-12 00:00 | |
//! | P5 | roosevelt | advisory | 12000.00 (Amazon) | 10-03 00:00 | |
//! | P6 | lincoln | approved, in catalog | 300.00 | 10-04 00:00 | |
//! | P7 | roosevelt | approved, not technology | 250.00 | 10-05 00:00 | |
//! | P8 | washington | held | 1000.00 | 10-01 00:00 | reached call 04:00, alternative, cancelled 10-02 00:00 |
//!
//! Stakeholders: Dana (principal, lincoln), Sam (teacher, roosevelt), Pat (district IT).
//! Promises: A to Dana by cto, kept; B to roosevelt by tech, broken; C to Sam by tech, due in
//! 2000, never settled (overdue); D to Pat by cto, due 2999 (open).
//!
//! Wishes: W1 lincoln 2023-01-10, in progress 2023-03-01; W2 lincoln 2023-02-01, done
//! 2024-06-01; W3 roosevelt 2023-05-01, nothing; W4 roosevelt ten days ago, nothing; W5 Pat
//! 2024-01-01, declined 2024-02-01; W6 washington 2024-03-01, a note (still open) 2024-03-10.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use eventlog::{Actor, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use events::gate::{
    AlternativeProposed, CallLogged, Decision, PurchaseApproved, PurchaseCancelled,
    PurchaseDecided, PurchaseEvent, PurchaseSubmitted, Reason, ReasonCode, purchase_stream,
};
use events::school::{
    AgreementSigned, AgreementWithdrawn, SchoolEvent, SchoolRegistered, school_stream,
};
use events::stakeholders::{
    CALL_BEFORE_CANCEL, PromiseBroken, PromiseEvent, PromiseKept, PromiseMade, PromiseTo,
    SpokeForIt, StakeholderEvent, StakeholderRegistered, StakeholderRole, WishEvent,
    WishProgressed, WishRecorded, WishStatus, promise_stream, stakeholder_stream, wish_stream,
};
use events::values::{Email, LongText, Money, PaymentMethod, SchoolId, ShortText};
use uuid::Uuid;

use crate::common::TestApp;

pub const LINCOLN: &str = "lincoln-elem";
pub const ROOSEVELT: &str = "roosevelt-high";
pub const WASHINGTON: &str = "washington-middle";
pub const CTO: &str = "cto@district.org";
pub const TECH: &str = "tech@district.org";

/// The ids the tests look up.
#[derive(Debug, Clone)]
pub struct History {
    /// P1 … P8, by index 0 … 7.
    pub purchases: Vec<Uuid>,
}

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn long(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

fn school(id: &str) -> SchoolId {
    SchoolId::parse(id).unwrap()
}

fn meta(subject: &str, role: &str, service: &str) -> Metadata {
    Metadata::new(Actor::new(subject, role), service)
}

/// Appends events of one family to one stream, at time `at`.
async fn write<E>(app: &TestApp, at: DateTime<Utc>, stream: &str, meta: Metadata, events: Vec<E>)
where
    E: events::EventFamily,
{
    write_many(app, at, vec![(stream.to_owned(), meta, event_parts(events))]).await;
}

/// Events of one stream: their types and data.
type Parts = Vec<(&'static str, serde_json::Value)>;

/// Appends to several streams at once (one atomic append), at time `at`.
async fn write_many(app: &TestApp, at: DateTime<Utc>, streams: Vec<(String, Metadata, Parts)>) {
    app.clock.set(Some(at));
    let appends = streams
        .into_iter()
        .map(|(stream, meta, events)| {
            let events =
                events.into_iter().map(|(t, data)| NewEvent::new(t, data, meta.clone())).collect();
            StreamAppend::new(StreamName::new(stream).unwrap(), ExpectedVersion::Any, events)
        })
        .collect();
    app.store.append_streams(appends).await.unwrap();
    app.clock.set(None);
}

fn event_parts<E: events::EventFamily>(events: Vec<E>) -> Parts {
    events.iter().map(|e| (e.event_type(), e.to_data())).collect()
}

pub async fn register_school(app: &TestApp, id: &str, name: &str, at: &str) {
    let registered: SchoolEvent =
        SchoolRegistered { school_id: school(id), name: ShortText::parse(name).unwrap() }.into();
    write(
        app,
        t(at),
        &school_stream(&school(id)),
        meta(CTO, "it_staff", "stakeholders"),
        vec![registered],
    )
    .await;
}

/// `agreement-signed` with its standing promise, in one append.
async fn sign(app: &TestApp, id: &str, on: &str) {
    sign_by(app, id, on, Uuid::now_v7()).await;
}

/// `agreement-signed` by `principal`, with its standing promise, in one append.
pub async fn sign_by(app: &TestApp, id: &str, on: &str, principal: Uuid) {
    let promise_id = Uuid::now_v7();
    let signed: SchoolEvent =
        AgreementSigned { school_id: school(id), principal_id: principal, signed_on: day(on) }
            .into();
    let promise: PromiseEvent = PromiseMade {
        promise_id,
        to: PromiseTo::School { school_id: school(id) },
        text: long("IT will not cancel a purchase before calling the requester and proposing an alternative."),
        due_on: day(on),
        owner: CTO.into(),
        made_on: day(on),
        kind: Some(CALL_BEFORE_CANCEL.into()),
    }
    .into();
    let m = meta(CTO, "it_staff", "stakeholders");
    write_many(
        app,
        t(&format!("{on}T09:00:00Z")),
        vec![
            (school_stream(&school(id)), m.clone(), event_parts(vec![signed])),
            (promise_stream(promise_id), m, event_parts(vec![promise])),
        ],
    )
    .await;
}

async fn withdraw(app: &TestApp, id: &str, on: &str) {
    let withdrawn: SchoolEvent = AgreementWithdrawn {
        school_id: school(id),
        reason: long("New principal wants to review it"),
        withdrawn_on: day(on),
    }
    .into();
    write(
        app,
        t(&format!("{on}T09:00:00Z")),
        &school_stream(&school(id)),
        meta(CTO, "it_staff", "stakeholders"),
        vec![withdrawn],
    )
    .await;
}

/// A purchase check: `purchase-submitted` and `purchase-decided` in one append, at `at`.
#[allow(clippy::too_many_arguments)]
async fn check(
    app: &TestApp,
    at: &str,
    school_id: &str,
    vendor: &str,
    total: &str,
    decision: Decision,
    codes: &[ReasonCode],
    gated: bool,
) -> Uuid {
    let id = Uuid::now_v7();
    let submitted: PurchaseEvent = PurchaseSubmitted {
        school_id: school(school_id),
        requester_email: Email::parse("requester@district.org").unwrap(),
        vendor: ShortText::parse(vendor).unwrap(),
        payment_method: PaymentMethod::PCard,
        lines: vec![events::testing::line("Something", "laptops", 1, total)],
        purpose: Some(long("For the robotics club")),
        total: Money::parse(total).unwrap(),
        ..events::testing::submitted(id)
    }
    .into();
    let decided: PurchaseEvent = PurchaseDecided {
        decision,
        reasons: codes
            .iter()
            .map(|code| Reason { code: *code, line: Some(0), detail: code.as_str().into() })
            .collect(),
        policy_version: 3,
        school_gated: gated,
    }
    .into();
    write(
        app,
        t(at),
        &purchase_stream(id),
        meta("finance-erp", "finance", "gate"),
        vec![submitted, decided],
    )
    .await;
    id
}

async fn purchase_event(app: &TestApp, id: Uuid, at: &str, event: PurchaseEvent) {
    write(app, t(at), &purchase_stream(id), meta("jdoe", "it_staff", "gate"), vec![event]).await;
}

fn call(reached: bool, occurred_at: &str) -> PurchaseEvent {
    CallLogged {
        call_id: Uuid::now_v7(),
        requester_reached: reached,
        goal: reached.then(|| long("Laptops the robotics club can take home")),
        notes: None,
        occurred_at: t(occurred_at),
        spoke_with: None,
    }
    .into()
}

fn alternative() -> PurchaseEvent {
    AlternativeProposed {
        alternative_id: Uuid::now_v7(),
        description: long("The standard student laptop, with a carrying case"),
        lines: vec![],
        call_id: None,
        assessment: None,
        occurred_at: None,
    }
    .into()
}

fn approved() -> PurchaseEvent {
    PurchaseApproved {
        note: Some(long("Supported after the call")),
        alternative_id: None,
        occurred_at: None,
    }
    .into()
}

fn cancelled() -> PurchaseEvent {
    PurchaseCancelled {
        reason: long("The requester took the alternative through the catalog"),
        occurred_at: None,
    }
    .into()
}

pub async fn stakeholder(
    app: &TestApp,
    name: &str,
    role: StakeholderRole,
    school_id: Option<&str>,
) -> Uuid {
    let id = Uuid::now_v7();
    let registered: StakeholderEvent = StakeholderRegistered {
        stakeholder_id: id,
        name: ShortText::parse(name).unwrap(),
        email: Email::parse(&format!("{}@district.org", name.to_lowercase())).unwrap(),
        phone: None,
        role,
        school_id: school_id.map(school),
    }
    .into();
    write(
        app,
        t("2024-08-02T09:00:00Z"),
        &stakeholder_stream(id),
        meta(CTO, "it_staff", "stakeholders"),
        vec![registered],
    )
    .await;
    id
}

/// `advocate` spoke for IT to `to` on `on`.
pub async fn spoke_for_it(app: &TestApp, advocate: Uuid, to: Uuid, on: &str) {
    let spoke: StakeholderEvent = SpokeForIt {
        to_stakeholder_id: to,
        about: long("What the gate did for our school's laptops"),
        on: day(on),
    }
    .into();
    let at = t(&format!("{on}T15:00:00Z"));
    write(
        app,
        at,
        &stakeholder_stream(advocate),
        meta(CTO, "it_staff", "stakeholders"),
        vec![spoke],
    )
    .await;
}

pub async fn promise(app: &TestApp, to: PromiseTo, owner: &str, due: &str, outcome: Option<bool>) {
    let id = Uuid::now_v7();
    let mut events: Vec<PromiseEvent> = vec![
        PromiseMade {
            promise_id: id,
            to,
            text: long("Same-day loaners"),
            due_on: day(due),
            owner: owner.into(),
            made_on: day("2000-01-01"),
            kind: None,
        }
        .into(),
    ];
    match outcome {
        Some(true) => {
            events.push(PromiseKept { evidence: long("Ticket 4411"), on: day(due) }.into())
        }
        Some(false) => {
            events.push(PromiseBroken { evidence: long("Missed it"), on: day(due) }.into())
        }
        None => {}
    }
    write(
        app,
        t("2024-08-03T09:00:00Z"),
        &promise_stream(id),
        meta(owner, "it_staff", "stakeholders"),
        events,
    )
    .await;
}

async fn wish(
    app: &TestApp,
    stakeholder_id: Uuid,
    school_id: Option<&str>,
    made: DateTime<Utc>,
    progress: Option<(WishStatus, &str)>,
) {
    let id = Uuid::now_v7();
    let mut events: Vec<WishEvent> = vec![
        WishRecorded {
            wish_id: id,
            stakeholder_id,
            school_id: school_id.map(school),
            text: long("Loaner laptops the same day"),
            conversation_id: Uuid::now_v7(),
            recorded_at: made,
        }
        .into(),
    ];
    if let Some((status, at)) = progress {
        events.push(WishProgressed { note: long("Ten loaners staged"), status, at: t(at) }.into());
    }
    write(app, made, &wish_stream(id), meta(CTO, "it_staff", "stakeholders"), events).await;
}

/// Writes the history in the module docs.
pub async fn write_history(app: &TestApp) -> History {
    register_school(app, LINCOLN, "Lincoln Elementary", "2024-08-01T10:00:00Z").await;
    register_school(app, ROOSEVELT, "Roosevelt High", "2024-08-05T10:00:00Z").await;
    sign(app, LINCOLN, "2024-08-20").await;
    register_school(app, WASHINGTON, "Washington Middle", "2024-09-02T10:00:00Z").await;
    sign(app, WASHINGTON, "2024-09-10").await;

    use Decision::{Advisory, Approved, Held};
    use ReasonCode::{InCatalog, NotInCatalog, NotTechnology, SchoolNotGated};
    let p1 =
        check(app, "2024-09-02T08:00:00Z", LINCOLN, "Dell", "1500.00", Held, &[NotInCatalog], true)
            .await;
    purchase_event(app, p1, "2024-09-02T09:05:00Z", call(false, "2024-09-02T09:00:00Z")).await;
    purchase_event(app, p1, "2024-09-02T10:05:00Z", call(true, "2024-09-02T10:00:00Z")).await;
    purchase_event(app, p1, "2024-09-02T10:10:00Z", alternative()).await;
    purchase_event(app, p1, "2024-09-03T08:00:00Z", approved()).await;

    let p2 =
        check(app, "2024-09-05T12:00:00Z", LINCOLN, "Dell", "800.00", Held, &[NotInCatalog], true)
            .await;
    purchase_event(app, p2, "2024-09-05T12:35:00Z", call(true, "2024-09-05T12:30:00Z")).await;
    purchase_event(app, p2, "2024-09-05T13:00:00Z", alternative()).await;
    purchase_event(app, p2, "2024-09-07T00:00:00Z", cancelled()).await;

    let p3 = check(
        app,
        "2024-09-20T00:00:00Z",
        WASHINGTON,
        "Lenovo",
        "2000.00",
        Held,
        &[NotInCatalog],
        true,
    )
    .await;
    let p4 = check(
        app,
        "2024-09-12T00:00:00Z",
        ROOSEVELT,
        "Best Buy",
        "700.00",
        Advisory,
        &[NotInCatalog, SchoolNotGated],
        false,
    )
    .await;
    let p5 = check(
        app,
        "2024-10-03T00:00:00Z",
        ROOSEVELT,
        "Amazon",
        "12000.00",
        Advisory,
        &[NotInCatalog, SchoolNotGated],
        false,
    )
    .await;
    let p6 =
        check(app, "2024-10-04T00:00:00Z", LINCOLN, "Dell", "300.00", Approved, &[InCatalog], true)
            .await;
    let p7 = check(
        app,
        "2024-10-05T00:00:00Z",
        ROOSEVELT,
        "Office Depot",
        "250.00",
        Approved,
        &[NotTechnology],
        false,
    )
    .await;

    let p8 = check(
        app,
        "2024-10-01T00:00:00Z",
        WASHINGTON,
        "Lenovo",
        "1000.00",
        Held,
        &[NotInCatalog],
        true,
    )
    .await;
    purchase_event(app, p8, "2024-10-01T04:05:00Z", call(true, "2024-10-01T04:00:00Z")).await;
    purchase_event(app, p8, "2024-10-01T05:00:00Z", alternative()).await;
    purchase_event(app, p8, "2024-10-02T00:00:00Z", cancelled()).await;
    withdraw(app, WASHINGTON, "2024-10-15").await;

    let dana = stakeholder(app, "Dana", StakeholderRole::Principal, Some(LINCOLN)).await;
    let sam = stakeholder(app, "Sam", StakeholderRole::Teacher, Some(ROOSEVELT)).await;
    let pat = stakeholder(app, "Pat", StakeholderRole::It, None).await;
    promise(app, PromiseTo::Stakeholder { stakeholder_id: dana }, CTO, "2000-01-10", Some(true))
        .await;
    promise(
        app,
        PromiseTo::School { school_id: school(ROOSEVELT) },
        TECH,
        "2000-02-01",
        Some(false),
    )
    .await;
    promise(app, PromiseTo::Stakeholder { stakeholder_id: sam }, TECH, "2000-03-01", None).await;
    promise(app, PromiseTo::Stakeholder { stakeholder_id: pat }, CTO, "2999-01-01", None).await;

    use WishStatus::{Declined, Done, InProgress, Open};
    // Who made each wish, for which school, when, and how it moved on.
    let wishes = [
        (
            dana,
            Some(LINCOLN),
            t("2023-01-10T00:00:00Z"),
            Some((InProgress, "2023-03-01T00:00:00Z")),
        ),
        (dana, Some(LINCOLN), t("2023-02-01T00:00:00Z"), Some((Done, "2024-06-01T00:00:00Z"))),
        (sam, Some(ROOSEVELT), t("2023-05-01T00:00:00Z"), None),
        (sam, Some(ROOSEVELT), Utc::now() - TimeDelta::days(10), None),
        (pat, None, t("2024-01-01T00:00:00Z"), Some((Declined, "2024-02-01T00:00:00Z"))),
        (pat, Some(WASHINGTON), t("2024-03-01T00:00:00Z"), Some((Open, "2024-03-10T00:00:00Z"))),
    ];
    for (stakeholder_id, school_id, made, progress) in wishes {
        wish(app, stakeholder_id, school_id, made, progress).await;
    }

    History { purchases: vec![p1, p2, p3, p4, p5, p6, p7, p8] }
}
