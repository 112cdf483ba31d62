//! Test support for the read models and the queries: an in-memory log the aggregates write to
//! as the command runner would, the projections applied to it in batches as the store applies
//! them, and a small district's story to read.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use eventlog::projection::apply_in_memory;
use eventlog::{Actor, DocKey, Metadata, Projection, RecordedEvent};
use events::EventFamily;
use events::card::{
    CardTransactionEvent, CardTransactionFlagged, CardTransactionMatched, CardTransactionRecorded,
    FlagReason, MatchHow, MatchMethod, TechnologyReason, transaction_id, transaction_stream,
};
use events::gate::{
    AlternativeProposed, CallLogged, Decision as GateDecision, PurchaseApproved, PurchaseCancelled,
    PurchaseDecided, PurchaseEvent, PurchaseLine, PurchaseSubmitted,
};
use events::stakeholders::{
    FollowUpDone, FollowUpEvent, FollowUpScheduled, PromiseEvent, PromiseKept, PromiseMade,
    PromiseTo, StakeholderRole, WishEvent, WishProgressed, WishStatus, followup_stream,
    promise_stream, wish_stream,
};
use events::values::{
    BankReference, CardLast4, Category, Currency, Email, ExternalRef, LongText, Mcc, Money,
    PaymentMethod, Quantity, SchoolId, ShortText,
};
use kernel::{Aggregate, ReadModel};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::school::{School, SchoolCommand, SignAgreement, Signer, WithdrawAgreement};
use crate::domain::stakeholder::{
    HoldConversation, Profile, RegisterStakeholder, Stakeholder, StakeholderCommand,
};

/// Events as the store would record them, grouped by atomic append.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub events: Vec<RecordedEvent>,
    pub appends: Vec<Vec<usize>>,
    versions: BTreeMap<String, u64>,
    pub clock: DateTime<Utc>,
}

impl Log {
    pub(crate) fn new() -> Self {
        Self { clock: "2024-08-01T08:00:00Z".parse().unwrap(), ..Self::default() }
    }

    /// Appends events atomically, an hour after the previous append.
    pub(crate) fn append(&mut self, events: Vec<(String, &'static str, Value)>) {
        self.clock += TimeDelta::hours(1);
        let mut group = vec![];
        for (stream, event_type, data) in events {
            let version = self.versions.entry(stream.clone()).or_default();
            *version += 1;
            group.push(self.events.len());
            self.events.push(RecordedEvent {
                position: self.events.len() as u64 + 1,
                id: Uuid::from_u128(1_000_000 + self.events.len() as u128),
                stream,
                version: *version,
                event_type: event_type.into(),
                data,
                metadata: Metadata::new(Actor::new("cto@district", "it_staff"), "test"),
                recorded_at: self.clock,
                hash: String::new(),
            });
        }
        self.appends.push(group);
    }

    /// Appends one event to `stream`.
    pub(crate) fn write<E: EventFamily>(&mut self, stream: String, event: impl Into<E>) {
        let event = event.into();
        self.append(vec![(stream, event.event_type(), event.to_data())]);
    }

    pub(crate) fn purchase(&mut self, id: Uuid, events: Vec<PurchaseEvent>) {
        let stream = events::gate::purchase_stream(id);
        self.append(events.iter().map(|e| (stream.clone(), e.event_type(), e.to_data())).collect());
    }

    pub(crate) fn advance(&mut self, hours: i64) {
        self.clock += TimeDelta::hours(hours);
    }

    /// Runs a command on the aggregate rebuilt from its stream and appends the decision:
    /// its own events, then the streams it opens.
    pub(crate) fn run<A: Aggregate>(&mut self, stream: &str, command: A::Command) {
        let past: Vec<RecordedEvent> =
            self.events.iter().filter(|e| e.stream == stream).cloned().collect();
        let aggregate: A = kernel::load(&past).unwrap();
        let decision = aggregate.handle(command).unwrap();
        let own = decision.events.iter().map(|e| (stream.to_owned(), e.event_type(), e.to_data()));
        let opened =
            decision.opens.into_iter().map(|o| (o.stream.to_string(), o.event_type, o.data));
        self.append(own.chain(opened).collect());
    }
}

/// The documents the projections keep after `events`, applied in batches of `batch` the way
/// the store does it (fetch the documents the batch reads, apply, write the changes).
pub(crate) fn project(
    projections: &[Arc<dyn Projection>],
    events: &[RecordedEvent],
    batch: usize,
) -> BTreeMap<DocKey, Value> {
    let mut store: BTreeMap<DocKey, Value> = BTreeMap::new();
    for projection in projections {
        let mut checkpoint = 0;
        for chunk in events.chunks(batch) {
            let changes =
                apply_in_memory(&**projection, chunk, checkpoint, |k| store.get(k).cloned())
                    .unwrap();
            for (k, v) in changes {
                assert!(
                    projection.collections().contains(&k.collection),
                    "{k:?} is not {}'s",
                    projection.name()
                );
                match v {
                    Some(v) => store.insert(k, v),
                    None => store.remove(&k),
                };
            }
            checkpoint = chunk.last().map_or(checkpoint, |e| e.position);
        }
    }
    store
}

/// The document of read model `R` at `key`.
pub(crate) fn doc<R: ReadModel>(docs: &BTreeMap<DocKey, Value>, key: impl ToString) -> R::Doc {
    let key = DocKey::new(R::NAME, key.to_string());
    serde_json::from_value(docs.get(&key).unwrap_or_else(|| panic!("no {key:?}")).clone()).unwrap()
}

/// Every document of read model `R`.
pub(crate) fn collection<R: ReadModel>(docs: &BTreeMap<DocKey, Value>) -> Vec<R::Doc> {
    docs.iter()
        .filter(|(k, _)| k.collection == R::NAME)
        .map(|(_, v)| serde_json::from_value(v.clone()).unwrap())
        .collect()
}

/// Every held purchase, as the API shows it.
pub(crate) fn held_docs(docs: &BTreeMap<DocKey, Value>) -> Vec<super::HeldPurchaseDoc> {
    collection::<super::HeldPurchases>(docs).into_iter().map(|h| h.purchase).collect()
}

/// The documents of every read model after the district's story.
pub(crate) fn district_docs() -> BTreeMap<DocKey, Value> {
    project(&super::all(), &district().events, 1000)
}

// A district's story.

pub(crate) fn short(s: &str) -> ShortText {
    ShortText::parse(s).unwrap()
}

pub(crate) fn long(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

pub(crate) fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub(crate) fn lincoln() -> SchoolId {
    SchoolId::parse("lincoln-elem").unwrap()
}

pub(crate) fn washington() -> SchoolId {
    SchoolId::parse("washington-high").unwrap()
}

pub(crate) const DANA: Uuid = Uuid::from_u128(0xD);
pub(crate) const SAM: Uuid = Uuid::from_u128(0x5);
pub(crate) const WISH_DANA: Uuid = Uuid::from_u128(0x101);
pub(crate) const WISH_SAM: Uuid = Uuid::from_u128(0x102);
pub(crate) const STANDING_1: Uuid = Uuid::from_u128(0x201);
pub(crate) const STANDING_2: Uuid = Uuid::from_u128(0x202);
pub(crate) const PROMISE_DANA: Uuid = Uuid::from_u128(0x203);
pub(crate) const PROMISE_SAM: Uuid = Uuid::from_u128(0x204);
pub(crate) const PROMISE_SCHOOL: Uuid = Uuid::from_u128(0x205);
pub(crate) const FOLLOWUP_LATE: Uuid = Uuid::from_u128(0x301);
pub(crate) const FOLLOWUP_DONE: Uuid = Uuid::from_u128(0x302);
pub(crate) const FOLLOWUP_SAM: Uuid = Uuid::from_u128(0x303);
pub(crate) const APPROVED_AT_ONCE: Uuid = Uuid::from_u128(0x401);
pub(crate) const CANCELLED: Uuid = Uuid::from_u128(0x402);
pub(crate) const APPROVED_AFTER_HOLD: Uuid = Uuid::from_u128(0x403);
pub(crate) const ADVISORY: Uuid = Uuid::from_u128(0x404);
pub(crate) const WAITING: Uuid = Uuid::from_u128(0x405);
pub(crate) const LATER: Uuid = Uuid::from_u128(0x406);

pub(crate) fn submitted(id: Uuid, school: SchoolId) -> PurchaseEvent {
    PurchaseSubmitted {
        purchase_id: id,
        external_ref: ExternalRef::parse(&format!("REQ-{id}")).unwrap(),
        idempotency_key: None,
        submitted_by: "finance-erp".into(),
        request_hash: "00".repeat(32),
        school_id: school,
        requester_email: Email::parse("sam@lincoln.example").unwrap(),
        vendor: short("Gadgets Inc"),
        payment_method: PaymentMethod::PCard,
        merchant_category_code: None,
        currency: Currency::parse("USD").unwrap(),
        lines: vec![PurchaseLine {
            sku: None,
            description: short("Tablet"),
            category: Category::parse("tablets").unwrap(),
            quantity: Quantity::new(1).unwrap(),
            unit_price: Money::parse("499.00").unwrap(),
        }],
        purpose: None,
        total: Money::parse("499.00").unwrap(),
        requested_at: None,
    }
    .into()
}

pub(crate) fn decided(decision: GateDecision) -> PurchaseEvent {
    PurchaseDecided {
        decision,
        reasons: vec![],
        policy_version: 1,
        school_gated: decision == GateDecision::Held,
    }
    .into()
}

pub(crate) fn call(reached: bool, occurred_at: DateTime<Utc>) -> PurchaseEvent {
    CallLogged {
        call_id: Uuid::now_v7(),
        requester_reached: reached,
        goal: reached.then(|| long("A tablet for reading groups")),
        notes: None,
        occurred_at,
        spoke_with: None,
    }
    .into()
}

pub(crate) fn alternative() -> PurchaseEvent {
    AlternativeProposed {
        alternative_id: Uuid::from_u128(9),
        description: long("The standard tablet"),
        lines: vec![],
        call_id: None,
        assessment: None,
        occurred_at: None,
    }
    .into()
}

pub(crate) fn put_school(log: &mut Log, id: SchoolId, name: &str) {
    let stream = events::school::school_stream(&id);
    log.run::<School>(&stream, SchoolCommand::Put { school_id: id, name: short(name) });
}

pub(crate) fn register(
    log: &mut Log,
    id: Uuid,
    name: &str,
    role: StakeholderRole,
    school: Option<SchoolId>,
) {
    let profile = Profile {
        name: short(name),
        email: Email::parse(&format!("{}@district.example", name.to_lowercase().replace(' ', ".")))
            .unwrap(),
        phone: None,
        role,
        school_id: school,
    };
    let cmd = StakeholderCommand::Register(RegisterStakeholder {
        stakeholder_id: id,
        profile,
        school_exists: true,
        email: Default::default(),
    });
    log.run::<Stakeholder>(&events::stakeholders::stakeholder_stream(id), cmd);
}

pub(crate) fn converse(log: &mut Log, id: Uuid, wish_id: Uuid, wish: &str) {
    let cmd = StakeholderCommand::HoldConversation(HoldConversation {
        conversation_id: Uuid::from_u128(wish_id.as_u128() + 0x1000),
        wish_id,
        held_at: log.clock,
        now: log.clock,
        location: short("School office"),
        their_vision: long("Every child reads and codes."),
        stars: Some(vec![short("Quick fixes"), short("Kind help desk")]),
        wish: Some(long(wish)),
        notes: None,
        connections: vec![],
        on_their_turf: true,
        vision: Default::default(),
    });
    log.run::<Stakeholder>(&events::stakeholders::stakeholder_stream(id), cmd);
}

pub(crate) fn sign(log: &mut Log, promise_id: Uuid, on: &str) {
    let cmd = SchoolCommand::SignAgreement(SignAgreement {
        principal_id: DANA,
        signer: Some(Signer { role: StakeholderRole::Principal, school_id: Some(lincoln()) }),
        signed_on: day(on),
        today: log.clock.date_naive(),
        promise_id,
        recorded_by: "cto@district".into(),
    });
    log.run::<School>("school-lincoln-elem", cmd);
}

pub(crate) fn promise(log: &mut Log, id: Uuid, to: PromiseTo, due_on: &str) {
    log.write::<PromiseEvent>(
        promise_stream(id),
        PromiseMade {
            promise_id: id,
            to,
            text: long("Projector fixed by Friday"),
            due_on: day(due_on),
            owner: "cto@district".into(),
            made_on: day("2024-08-01"),
            kind: None,
        },
    );
}

pub(crate) fn followup(log: &mut Log, id: Uuid, who: Uuid, due_on: &str) {
    log.write::<FollowUpEvent>(
        followup_stream(id),
        FollowUpScheduled {
            followup_id: id,
            stakeholder_id: who,
            about: long("Check in"),
            due_on: day(due_on),
        },
    );
}

/// A small district's first weeks: two schools, a principal and a teacher, conversations,
/// wishes, promises, follow-ups, an agreement signed, withdrawn and signed again, and the
/// gate's purchases of both schools.
pub(crate) fn district() -> Log {
    let mut log = Log::new();
    put_school(&mut log, lincoln(), "Lincoln");
    put_school(&mut log, washington(), "Washington High");
    put_school(&mut log, lincoln(), "Lincoln Elementary");
    register(&mut log, DANA, "Dana Whitfield", StakeholderRole::Principal, Some(lincoln()));
    register(&mut log, SAM, "Sam Ortiz", StakeholderRole::Teacher, Some(lincoln()));
    converse(&mut log, DANA, WISH_DANA, "Loaners the same day");
    converse(&mut log, SAM, WISH_SAM, "A faster wifi in room 12");
    let at = log.clock;
    log.write::<WishEvent>(
        wish_stream(WISH_DANA),
        WishProgressed { note: long("Ten loaners staged"), status: WishStatus::InProgress, at },
    );
    log.write::<WishEvent>(
        wish_stream(WISH_DANA),
        WishProgressed {
            note: long("Done"),
            status: WishStatus::Done,
            at: at + TimeDelta::hours(1),
        },
    );
    sign(&mut log, STANDING_1, "2024-08-01");
    promise(&mut log, PROMISE_DANA, PromiseTo::Stakeholder { stakeholder_id: DANA }, "2024-08-09");
    promise(&mut log, PROMISE_SAM, PromiseTo::Stakeholder { stakeholder_id: SAM }, "2024-08-09");
    log.write::<PromiseEvent>(
        promise_stream(PROMISE_SAM),
        PromiseKept { evidence: long("Fixed"), on: day("2024-08-02") },
    );
    promise(&mut log, PROMISE_SCHOOL, PromiseTo::School { school_id: lincoln() }, "2024-08-05");
    followup(&mut log, FOLLOWUP_LATE, DANA, "2024-08-03");
    followup(&mut log, FOLLOWUP_DONE, DANA, "2024-08-04");
    log.write::<FollowUpEvent>(
        followup_stream(FOLLOWUP_DONE),
        FollowUpDone { on: day("2024-08-02"), note: None, stakeholder_id: None },
    );
    followup(&mut log, FOLLOWUP_SAM, SAM, "2024-08-20");
    // The gate's purchases.
    log.purchase(
        APPROVED_AT_ONCE,
        vec![submitted(APPROVED_AT_ONCE, lincoln()), decided(GateDecision::Approved)],
    );
    log.purchase(
        ADVISORY,
        vec![submitted(ADVISORY, washington()), decided(GateDecision::Advisory)],
    );
    log.purchase(CANCELLED, vec![submitted(CANCELLED, lincoln()), decided(GateDecision::Held)]);
    let flagged = log.clock;
    log.purchase(CANCELLED, vec![call(false, flagged + TimeDelta::hours(1))]);
    // Logged as it ends (the log records each append an hour after the last).
    log.purchase(CANCELLED, vec![call(true, flagged + TimeDelta::hours(2))]);
    log.purchase(CANCELLED, vec![alternative()]);
    log.purchase(
        CANCELLED,
        vec![
            PurchaseCancelled { reason: long("Duplicate of a district order"), occurred_at: None }
                .into(),
        ],
    );
    log.purchase(
        APPROVED_AFTER_HOLD,
        vec![submitted(APPROVED_AFTER_HOLD, lincoln()), decided(GateDecision::Held)],
    );
    log.advance(30);
    log.purchase(
        APPROVED_AFTER_HOLD,
        vec![PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into()],
    );
    log.purchase(WAITING, vec![submitted(WAITING, lincoln()), decided(GateDecision::Held)]);
    // Withdrawn, then signed again; a purchase held under the second agreement.
    let cmd = SchoolCommand::WithdrawAgreement(WithdrawAgreement {
        reason: long("The new assistant principal wants to review it"),
        withdrawn_on: log.clock.date_naive(),
        today: log.clock.date_naive(),
    });
    log.run::<School>("school-lincoln-elem", cmd);
    let again = log.clock.date_naive().to_string();
    sign(&mut log, STANDING_2, &again);
    log.purchase(LATER, vec![submitted(LATER, lincoln()), decided(GateDecision::Held)]);
    // The card statement: technology bought at Lincoln that no check covered, a tablet a check
    // covered, unchecked technology at Washington High, a credit and paper.
    card(
        &mut log,
        "REF-1",
        lincoln(),
        "1299.99",
        Some(flagged_unchecked()),
        true,
        false,
        "2024-08-05",
    );
    card(
        &mut log,
        "REF-2",
        lincoln(),
        "499.00",
        Some(matched_with(LATER)),
        true,
        false,
        "2024-08-06",
    );
    card(
        &mut log,
        "REF-3",
        washington(),
        "89.50",
        Some(flagged_unchecked()),
        true,
        false,
        "2024-08-07",
    );
    card(&mut log, "REF-4", lincoln(), "1299.99", None, true, true, "2024-08-08");
    card(&mut log, "REF-5", lincoln(), "12.00", None, false, false, "2024-08-08");
    log
}

/// The reconciliation that flags a transaction as unchecked technology.
pub(crate) fn flagged_unchecked() -> CardTransactionEvent {
    CardTransactionFlagged { reason: FlagReason::UncheckedTechnology }.into()
}

/// The reconciliation that matches a transaction with purchase `id`.
pub(crate) fn matched_with(id: Uuid) -> CardTransactionEvent {
    let how = MatchHow {
        method: MatchMethod::Exact,
        amount_difference: Money::ZERO,
        days_apart: 0,
        vendor_similarity: 100,
    };
    CardTransactionMatched { purchase_id: id, how }.into()
}

/// A card transaction at `school` recorded, with its reconciliation in the same append.
#[allow(clippy::too_many_arguments)]
pub(crate) fn card(
    log: &mut Log,
    reference: &str,
    school: SchoolId,
    amount: &str,
    reconciliation: Option<CardTransactionEvent>,
    technology: bool,
    credit: bool,
    on: &str,
) {
    let reference = BankReference::parse(reference).unwrap();
    let id = transaction_id(&reference);
    let recorded = CardTransactionEvent::from(CardTransactionRecorded {
        transaction_id: id,
        reference,
        statement_id: Uuid::from_u128(0x501),
        line: 2,
        card_id: Uuid::from_u128(0x502),
        card_last4: CardLast4::parse("4821").unwrap(),
        holder_email: Email::parse("sam@lincoln.example").unwrap(),
        school_id: school,
        transaction_date: day(on),
        posted_on: None,
        merchant: short("BEST BUY #1234"),
        mcc: Mcc::parse("5732").unwrap(),
        amount: Money::parse(amount).unwrap(),
        credit,
        currency: Currency::parse("USD").unwrap(),
        technology: technology.then_some(TechnologyReason::Mcc),
        policy_version: 1,
    });
    let stream = transaction_stream(id);
    let events = std::iter::once(recorded).chain(reconciliation);
    log.append(events.map(|e| (stream.clone(), e.event_type(), e.to_data())).collect());
}
