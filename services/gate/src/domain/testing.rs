//! Test support: given/when/then for aggregates, after cqrs-es's `TestFramework`, and sample
//! data ([`fixtures`]).
//!
//! ```
//! use gate::domain::testing::{fixtures, given};
//! use gate::domain::{Purchase, PurchaseCommand, PurchaseError};
//!
//! given::<Purchase>(fixtures::held_purchase())
//!     .when(PurchaseCommand::Cancel { reason: fixtures::long("Not needed"), occurred: None })
//!     .then_expect_error(PurchaseError::CallRequired {
//!         reached_call: false,
//!         alternative_proposed: false,
//!     });
//! ```
//!
//! Events given without a time are recorded at [`t0`]; give `(event, time)` pairs to
//! [`given_at`] when times matter (a purchase is flagged when its decision is recorded).

pub use kernel::testing::{Given, Then, given, given_at, t0};

/// Sample data: a small district's standards, two schools, purchase checks and purchases.
///
/// The policy: `laptops`, `tablets` and `software` are technology, as is merchant category
/// code 5734; `office-supplies` and `furniture` are not; the technology terms are the defaults;
/// the review threshold is 5000.00 USD. The vendor list: Dell (`dell`, approved), CDW (`cdw`,
/// approved) and Gadget Barn (`gadget-barn`, not approved). The catalog: `LAT-5440`, a laptop
/// at 899.00 bought only from Dell.
pub mod fixtures {
    use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
    use events::gate::{
        Decision, PolicySet, ProductUpserted, PurchaseEvent, PurchaseLine, VendorUpserted,
    };
    use events::school::{AgreementSigned, SchoolEvent, SchoolRegistered, SchoolStatus};
    use events::values::{
        Category, Currency, Email, ExternalRef, LongText, Mcc, Money, PaymentMethod, Quantity,
        SchoolId, ShortText, Sku, VendorId,
    };
    use uuid::Uuid;

    use super::t0;
    use crate::domain::decision::{Outcome, PurchaseCheck, decide};
    use crate::domain::purchase::{Purchase, PurchaseCommand, Submit};
    use crate::domain::standards::Standards;

    pub fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }
    pub fn quantity(n: u32) -> Quantity {
        Quantity::new(n).unwrap()
    }
    pub fn currency(s: &str) -> Currency {
        Currency::parse(s).unwrap()
    }
    pub fn category(s: &str) -> Category {
        Category::parse(s).unwrap()
    }
    pub fn mcc(s: &str) -> Mcc {
        Mcc::parse(s).unwrap()
    }
    pub fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }
    pub fn text(s: &str) -> ShortText {
        ShortText::parse(s).unwrap()
    }
    pub fn long(s: &str) -> LongText {
        LongText::parse(s).unwrap()
    }
    /// `t0` plus `minutes`.
    /// The clocks' targets: first contact within 60 business minutes, a decision within 480,
    /// advisory outreach within 240; no warnings, no escalation.
    pub fn targets() -> events::district::SlaTargets {
        let minutes = |n| events::district::BusinessMinutes::new(n).unwrap();
        events::district::SlaTargets {
            first_contact_minutes: minutes(60),
            decision_minutes: minutes(480),
            advisory_outreach_minutes: minutes(240),
            warn_at_percent: vec![],
            escalate_to: None,
            by_payment_method: Default::default(),
        }
    }

    pub fn at(minutes: i64) -> DateTime<Utc> {
        t0() + TimeDelta::minutes(minutes)
    }

    pub fn dell() -> VendorUpserted {
        VendorUpserted {
            vendor_id: VendorId::parse("dell").unwrap(),
            name: text("Dell Technologies"),
            approved: true,
        }
    }

    pub fn gadget_barn() -> VendorUpserted {
        VendorUpserted {
            vendor_id: VendorId::parse("gadget-barn").unwrap(),
            name: text("Gadget Barn"),
            approved: false,
        }
    }

    pub fn laptop() -> ProductUpserted {
        ProductUpserted {
            sku: sku("LAT-5440"),
            name: text("Latitude 5440"),
            category: category("laptops"),
            vendor_id: Some(dell().vendor_id),
            unit_price: Some(money("899.00")),
            currency: Some(currency("USD")),
        }
    }

    pub fn cdw() -> VendorUpserted {
        VendorUpserted {
            vendor_id: VendorId::parse("cdw").unwrap(),
            name: text("CDW Education"),
            approved: true,
        }
    }

    pub fn policy() -> PolicySet {
        PolicySet {
            technology_categories: vec![
                category("laptops"),
                category("software"),
                category("tablets"),
            ],
            non_technology_categories: vec![category("furniture"), category("office-supplies")],
            technology_mccs: vec![mcc("5734")],
            review_threshold: money("5000.00"),
            currency: currency("USD"),
            technology_terms: events::gate::default_technology_terms(),
        }
    }

    /// The standards at version 5: Dell, Gadget Barn, the laptop, the policy, CDW.
    pub fn standards() -> Standards {
        let mut standards = Standards::default();
        standards.apply(1, &dell().into());
        standards.apply(2, &gadget_barn().into());
        standards.apply(3, &laptop().into());
        standards.apply(4, &policy().into());
        standards.apply(5, &cdw().into());
        standards
    }

    pub fn school_id() -> SchoolId {
        SchoolId::parse("lincoln-elem").unwrap()
    }

    /// Lincoln Elementary, registered, without an agreement.
    pub fn ungated_school() -> SchoolStatus {
        SchoolStatus::from_events(&[SchoolEvent::from(SchoolRegistered {
            school_id: school_id(),
            name: text("Lincoln Elementary"),
        })])
    }

    /// Lincoln Elementary, whose principal signed the agreement.
    pub fn gated_school() -> SchoolStatus {
        let mut school = ungated_school();
        school.apply(
            &AgreementSigned {
                school_id: school_id(),
                principal_id: Uuid::from_u128(0x9),
                signed_on: NaiveDate::from_ymd_opt(2024, 8, 20).unwrap(),
            }
            .into(),
        );
        school
    }

    /// Two catalog laptops: 1798.00.
    pub fn supported_line() -> PurchaseLine {
        PurchaseLine {
            sku: Some(sku("LAT-5440")),
            description: text("Latitude 5440 laptop"),
            category: category("laptops"),
            quantity: quantity(2),
            unit_price: money("899.00"),
        }
    }

    /// A laptop that is not in the catalog.
    pub fn unknown_laptop() -> PurchaseLine {
        PurchaseLine {
            sku: Some(sku("GAMER-9000")),
            description: text("Gaming laptop"),
            category: category("laptops"),
            quantity: quantity(1),
            unit_price: money("2499.00"),
        }
    }

    /// Ten reams of paper: not technology.
    pub fn paper() -> PurchaseLine {
        PurchaseLine {
            sku: None,
            description: text("Copy paper, 10 reams"),
            category: category("office-supplies"),
            quantity: quantity(10),
            unit_price: money("5.49"),
        }
    }

    /// A check for two catalog laptops from Dell, for Lincoln Elementary.
    pub fn check() -> PurchaseCheck {
        PurchaseCheck {
            external_ref: ExternalRef::parse("REQ-2024-0173").unwrap(),
            school_id: school_id(),
            requester_email: Email::parse("pat.lee@lincoln.district.org").unwrap(),
            vendor: text("Dell"),
            payment_method: PaymentMethod::PCard,
            merchant_category_code: None,
            currency: currency("USD"),
            lines: vec![supported_line()],
            purpose: Some(long("Laptops for the robotics club")),
            requested_at: None,
        }
    }

    /// A check with a laptop that is not in the catalog.
    pub fn unsupported_check() -> PurchaseCheck {
        PurchaseCheck { lines: vec![unknown_laptop()], ..check() }
    }

    pub fn purchase_id() -> Uuid {
        Uuid::from_u128(0x0190_c1a2_7b7e_7c3e_9a51_2f1f_0c6f_1d2e)
    }

    /// The command submitting `check` for `school`, decided against [`standards`].
    pub fn submit(check: PurchaseCheck, school: &SchoolStatus) -> Submit {
        Submit::new(purchase_id(), check, "finance-erp", None, school, &standards(), t0()).unwrap()
    }

    /// The outcome of `check` for `school` against [`standards`].
    pub fn outcome(check: &PurchaseCheck, school: &SchoolStatus) -> Outcome {
        decide(check, school, &standards()).unwrap()
    }

    fn submitted(check: PurchaseCheck, school: &SchoolStatus) -> Vec<PurchaseEvent> {
        Purchase::default().handle(PurchaseCommand::Submit(submit(check, school))).unwrap()
    }

    /// A held purchase's events: an unsupported laptop for a gated school.
    pub fn held_purchase() -> Vec<PurchaseEvent> {
        let events = submitted(unsupported_check(), &gated_school());
        assert!(matches!(&events[1], PurchaseEvent::Decided(d) if d.decision == Decision::Held));
        events
    }

    /// An advisory purchase's events: an unsupported laptop for an ungated school.
    pub fn advisory_purchase() -> Vec<PurchaseEvent> {
        let events = submitted(unsupported_check(), &ungated_school());
        assert!(
            matches!(&events[1], PurchaseEvent::Decided(d) if d.decision == Decision::Advisory)
        );
        events
    }

    /// An approved purchase's events: catalog laptops.
    pub fn approved_purchase() -> Vec<PurchaseEvent> {
        let events = submitted(check(), &gated_school());
        assert!(
            matches!(&events[1], PurchaseEvent::Decided(d) if d.decision == Decision::Approved)
        );
        events
    }
}
