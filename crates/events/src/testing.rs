//! What tests of the published language share, here and in the services (the `testing`
//! feature): typical events to start from, and the round-trip check of an event family.
//!
//! A test states what matters to it and takes the rest from here:
//!
//! ```ignore
//! let card = PurchaseSubmitted { payment_method: PaymentMethod::PCard, ..testing::submitted(id) };
//! ```

use uuid::Uuid;

use crate::EventFamily;
use crate::calendar::{BusinessHours, ClockTime, TimeZoneName, Weekday};
use crate::card::{CardTransactionRecorded, TechnologyReason, transaction_id};
use crate::district::{BusinessMinutes, DistrictSet, SlaTargets};
use crate::gate::{Decision, PurchaseDecided, PurchaseLine, PurchaseSubmitted, Reason, ReasonCode};
use crate::values::{
    BankReference, CardLast4, Category, Currency, Email, ExternalRef, Mcc, Money, PaymentMethod,
    Quantity, SchoolId, ShortText,
};

/// The district "Springfield" in `zone` (an IANA name), open 08:00 to 17:00 on weekdays.
pub fn district_set(zone: &str) -> DistrictSet {
    DistrictSet {
        name: ShortText::parse("Springfield").expect("a valid name"),
        time_zone: TimeZoneName::parse(zone).expect("an IANA time zone"),
        business_hours: weekdays("08:00", "17:00"),
        school_year_starts_in: None,
    }
}

/// The clocks' targets most tests start from: first contact within 60 business minutes, a
/// decision within 480, advisory outreach within 240; a warning at half; no escalation and the
/// same for every payment method.
pub fn sla_targets() -> SlaTargets {
    let minutes = |n| BusinessMinutes::new(n).expect("a number of minutes");
    SlaTargets {
        first_contact_minutes: minutes(60),
        decision_minutes: minutes(480),
        advisory_outreach_minutes: minutes(240),
        warn_at_percent: vec![50],
        escalate_to: None,
        by_payment_method: Default::default(),
    }
}

/// A check's submission as the gate records it: `REQ-{id}` from `finance-erp`, one tablet at
/// 300.00 USD from Gadget Barn for `lincoln-elem`, by purchase order, asked by
/// `pat@district.org`, entered when it was asked.
pub fn submitted(id: Uuid) -> PurchaseSubmitted {
    PurchaseSubmitted {
        purchase_id: id,
        external_ref: ExternalRef::parse(&format!("REQ-{id}")).expect("a reference"),
        idempotency_key: None,
        submitted_by: "finance-erp".into(),
        request_hash: "ab".repeat(32),
        school_id: SchoolId::parse("lincoln-elem").expect("a slug"),
        requester_email: Email::parse("pat@district.org").expect("an address"),
        vendor: ShortText::parse("Gadget Barn").expect("a name"),
        payment_method: PaymentMethod::PurchaseOrder,
        merchant_category_code: None,
        currency: Currency::parse("USD").expect("a currency"),
        lines: vec![line("Tablet", "tablets", 1, "300.00")],
        purpose: None,
        total: Money::parse("300.00").expect("an amount"),
        requested_at: None,
    }
}

/// A check for one tablet at `price`, otherwise as [`submitted`].
pub fn priced(id: Uuid, price: &str) -> PurchaseSubmitted {
    PurchaseSubmitted {
        lines: vec![line("Tablet", "tablets", 1, price)],
        total: Money::parse(price).expect("an amount"),
        ..submitted(id)
    }
}

/// Business hours from `start` to `end` (`HH:MM`), Monday to Friday.
pub fn weekdays(start: &str, end: &str) -> BusinessHours {
    let time = |t: &str| ClockTime::parse(t).expect("HH:MM");
    BusinessHours::new(time(start), time(end), Weekday::ALL[..5].to_vec())
        .expect("weekday business hours")
}

/// The purchase the gate was built for: a gaming laptop at 2,499.00 USD bought on a purchasing
/// card, otherwise as [`submitted`].
pub fn gaming_laptop(id: Uuid) -> PurchaseSubmitted {
    PurchaseSubmitted {
        payment_method: PaymentMethod::PCard,
        lines: vec![line("Gaming laptop", "laptops", 1, "2499.00")],
        total: Money::parse("2499.00").expect("an amount"),
        ..submitted(id)
    }
}

/// `quantity` of `description` in `category` at `unit_price` each, without a SKU.
pub fn line(description: &str, category: &str, quantity: u32, unit_price: &str) -> PurchaseLine {
    PurchaseLine {
        sku: None,
        description: ShortText::parse(description).expect("a description"),
        category: Category::parse(category).expect("a slug"),
        quantity: Quantity::new(quantity).expect("a quantity"),
        unit_price: Money::parse(unit_price).expect("an amount"),
    }
}

/// The gate's answer to [`gaming_laptop`]: held, its one line not in the catalog (policy 1, at
/// a school that signed).
pub fn laptop_held() -> PurchaseDecided {
    PurchaseDecided {
        decision: Decision::Held,
        reasons: vec![Reason {
            code: ReasonCode::NotInCatalog,
            line: Some(0),
            detail: "The gaming laptop is not in the district's standards catalog.".into(),
        }],
        policy_version: 1,
        school_gated: true,
    }
}

/// A card transaction as a statement import records it: `reference`, 1,299.99 USD at BEST BUY
/// #1234 (MCC 5732, technology by its MCC) on 2025-10-03, on the card ending 4821 of
/// `pat.lee@district.org` at `lincoln-elem`, line 2 of statement 1, under policy 3.
pub fn card_transaction(reference: &str) -> CardTransactionRecorded {
    let reference = BankReference::parse(reference).expect("a bank reference");
    CardTransactionRecorded {
        transaction_id: transaction_id(&reference),
        reference,
        statement_id: Uuid::from_u128(1),
        line: 2,
        card_id: Uuid::from_u128(2),
        card_last4: CardLast4::parse("4821").expect("four digits"),
        holder_email: Email::parse("pat.lee@district.org").expect("an address"),
        school_id: SchoolId::parse("lincoln-elem").expect("a slug"),
        transaction_date: "2025-10-03".parse().expect("a date"),
        posted_on: None,
        merchant: ShortText::parse("BEST BUY #1234").expect("a merchant"),
        mcc: Mcc::parse("5732").expect("an MCC"),
        amount: Money::parse("1299.99").expect("an amount"),
        credit: false,
        currency: Currency::parse("USD").expect("a currency"),
        technology: Some(TechnologyReason::Mcc),
        policy_version: 3,
    }
}

/// Every event of `events` comes back equal from its wire form (its type and its data,
/// written out as JSON text and read back), and `events` covers every event type of `F`.
pub fn round_trip<F: EventFamily + PartialEq + std::fmt::Debug>(events: Vec<F>) {
    let mut types: Vec<&str> = events.iter().map(|e| e.event_type()).collect();
    types.sort_unstable();
    types.dedup();
    let mut all = F::EVENT_TYPES.to_vec();
    all.sort_unstable();
    assert_eq!(types, all, "the test must cover every event type");
    for event in events {
        let text = serde_json::to_string(&event.to_data()).expect("data serializes");
        let reparsed: serde_json::Value = serde_json::from_str(&text).expect("JSON reads back");
        let back = F::from_parts(event.event_type(), &reparsed).expect("the event decodes");
        assert_eq!(back, event);
    }
}
