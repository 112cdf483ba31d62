use super::*;
use crate::DecodeError;
use crate::testing::round_trip;
use serde_json::json;

fn line() -> PurchaseLine {
    PurchaseLine {
        sku: Some(Sku::parse("LAT-5440").unwrap()),
        description: ShortText::parse("Latitude 5440").unwrap(),
        category: Category::parse("laptops").unwrap(),
        quantity: Quantity::new(2).unwrap(),
        unit_price: Money::parse("899.00").unwrap(),
    }
}

fn standards_events() -> Vec<StandardsEvent> {
    vec![
        ProductUpserted {
            sku: Sku::parse("LAT-5440").unwrap(),
            name: ShortText::parse("Latitude 5440").unwrap(),
            category: Category::parse("laptops").unwrap(),
            vendor_id: Some(VendorId::parse("dell").unwrap()),
            unit_price: Some(Money::parse("899").unwrap()),
            currency: Some(Currency::parse("USD").unwrap()),
        }
        .into(),
        ProductRemoved { sku: Sku::parse("OLD-1").unwrap() }.into(),
        VendorUpserted {
            vendor_id: VendorId::parse("dell").unwrap(),
            name: ShortText::parse("Dell Technologies").unwrap(),
            approved: true,
        }
        .into(),
        PolicySet {
            technology_categories: vec![Category::parse("laptops").unwrap()],
            non_technology_categories: vec![Category::parse("office-supplies").unwrap()],
            technology_mccs: vec![Mcc::parse("5734").unwrap()],
            review_threshold: Money::parse("5000").unwrap(),
            currency: Currency::parse("USD").unwrap(),
            technology_terms: vec![TechnologyTerm::parse("3D printer").unwrap()],
        }
        .into(),
    ]
}

fn purchase_events() -> Vec<PurchaseEvent> {
    let t = "2024-09-03T14:05:00Z".parse().unwrap();
    vec![
        PurchaseSubmitted {
            purchase_id: Uuid::nil(),
            external_ref: ExternalRef::parse("REQ-1").unwrap(),
            idempotency_key: Some(IdempotencyKey::parse("k-1").unwrap()),
            submitted_by: "finance-erp".into(),
            request_hash: "ab".repeat(32),
            school_id: SchoolId::parse("lincoln-elem").unwrap(),
            requester_email: Email::parse("pat@district.org").unwrap(),
            vendor: ShortText::parse("Dell").unwrap(),
            payment_method: PaymentMethod::PCard,
            merchant_category_code: Some(Mcc::parse("5732").unwrap()),
            currency: Currency::parse("USD").unwrap(),
            lines: vec![line()],
            purpose: Some(LongText::parse("Robotics club").unwrap()),
            total: Money::parse("1798.00").unwrap(),
            requested_at: None,
        }
        .into(),
        PurchaseDecided {
            decision: Decision::Held,
            reasons: vec![
                Reason {
                    code: ReasonCode::NotInCatalog,
                    line: Some(0),
                    detail: "Line 1 is not in the catalog.".into(),
                },
                Reason {
                    code: ReasonCode::VendorNotApproved,
                    line: None,
                    detail: "The vendor is not approved.".into(),
                },
            ],
            policy_version: 4,
            school_gated: true,
        }
        .into(),
        CallLogged {
            call_id: Uuid::from_u128(1),
            requester_reached: true,
            goal: Some(LongText::parse("Laptops for robotics").unwrap()),
            notes: None,
            occurred_at: t,
            spoke_with: Some(PersonReached::stakeholder(Uuid::from_u128(3))),
        }
        .into(),
        AlternativeProposed {
            alternative_id: Uuid::from_u128(2),
            description: LongText::parse("Use the standard model").unwrap(),
            lines: vec![line()],
            call_id: Some(Uuid::from_u128(1)),
            assessment: Some(LinesAssessed {
                supported: true,
                reasons: vec![Reason {
                    code: ReasonCode::InCatalog,
                    line: Some(0),
                    detail: "In the catalog.".into(),
                }],
                policy_version: 4,
            }),
            occurred_at: None,
        }
        .into(),
        AlternativeAccepted { alternative_id: Uuid::from_u128(2) }.into(),
        PurchaseApproved {
            note: None,
            alternative_id: Some(Uuid::from_u128(2)),
            occurred_at: None,
        }
        .into(),
        PurchaseCancelled {
            reason: LongText::parse("Duplicate order").unwrap(),
            occurred_at: None,
        }
        .into(),
        WaitingOnRequester {
            note: LongText::parse("The quote from the vendor").unwrap(),
            since: t,
        }
        .into(),
    ]
}

#[test]
fn standards_events_round_trip() {
    round_trip(standards_events());
}

#[test]
fn purchase_events_round_trip() {
    round_trip(purchase_events());
}

#[test]
fn wire_form_is_snake_case_with_strings_for_money() {
    let data = purchase_events()[0].to_data();
    assert_eq!(data["total"], "1798.00");
    assert_eq!(data["lines"][0]["unit_price"], "899.00");
    assert_eq!(data["lines"][0]["quantity"], 2);
    assert_eq!(data["payment_method"], "p_card");
    assert_eq!(data["merchant_category_code"], "5732");
    let decided = purchase_events()[1].to_data();
    assert_eq!(decided["decision"], "held");
    assert_eq!(decided["reasons"][0]["code"], "not-in-catalog");
    assert_eq!(decided["reasons"][1]["line"], json!(null));
    let call = purchase_events()[2].to_data();
    assert_eq!(call["occurred_at"], "2024-09-03T14:05:00Z");
}

#[test]
fn reason_codes_match_their_wire_names() {
    for code in [
        ReasonCode::NotTechnology,
        ReasonCode::InCatalog,
        ReasonCode::NotInCatalog,
        ReasonCode::VendorNotApproved,
        ReasonCode::OverReviewThreshold,
        ReasonCode::SchoolNotGated,
        ReasonCode::UnclassifiedCategory,
        ReasonCode::LooksLikeTechnology,
        ReasonCode::NotFromCatalogVendor,
    ] {
        assert_eq!(serde_json::to_value(code).unwrap(), json!(code.as_str()));
    }
}

#[test]
fn unknown_type_and_bad_data_are_errors() {
    assert!(matches!(
        PurchaseEvent::from_parts("purchase-teleported", &json!({})),
        Err(DecodeError::UnknownType { category: "purchase", .. })
    ));
    let err = PurchaseEvent::from_parts("purchase-cancelled", &json!({"reason": " "})).unwrap_err();
    assert!(matches!(err, DecodeError::InvalidData { event_type: "purchase-cancelled", .. }));
    assert!(err.to_string().contains("must not be empty"), "{err}");
    // A float for money in stored data is refused, too.
    let mut data = purchase_events()[0].to_data();
    data["total"] = json!(1798.0);
    let err = PurchaseEvent::from_parts("purchase-submitted", &data).unwrap_err();
    assert!(err.to_string().contains("not a JSON number"), "{err}");
    // Product events belong to the standards family only.
    assert!(StandardsEvent::from_parts("purchase-submitted", &data).is_err());
}

#[test]
fn optional_fields_may_be_missing_and_alternative_lines_default_to_empty() {
    let call = json!({
        "call_id": Uuid::nil(), "requester_reached": false,
        "occurred_at": "2024-09-03T14:05:00Z"
    });
    assert!(PurchaseEvent::from_parts("call-logged", &call).is_ok());
    let alt = json!({"alternative_id": Uuid::nil(), "description": "Wait for the refresh"});
    let PurchaseEvent::AlternativeProposed(alt) =
        PurchaseEvent::from_parts("alternative-proposed", &alt).unwrap()
    else {
        panic!("wrong variant");
    };
    assert!(alt.lines.is_empty());
}

#[test]
fn events_written_before_the_new_fields_still_decode() {
    // A product with its vendor, a policy without the non-technology list or the terms, a
    // call without who was reached, an alternative without its call or assessment.
    let product = json!({"sku": "LAT-5440", "name": "Latitude", "category": "laptops",
                         "vendor_id": "dell", "unit_price": null, "currency": null});
    let StandardsEvent::ProductUpserted(p) =
        StandardsEvent::from_parts("product-upserted", &product).unwrap()
    else {
        panic!("wrong variant");
    };
    assert_eq!(p.vendor_id, Some(VendorId::parse("dell").unwrap()));
    let policy = json!({"technology_categories": ["laptops"], "technology_mccs": [],
                        "review_threshold": "5000.00", "currency": "USD"});
    let StandardsEvent::PolicySet(p) = StandardsEvent::from_parts("policy-set", &policy).unwrap()
    else {
        panic!("wrong variant");
    };
    assert!(p.non_technology_categories.is_empty());
    assert_eq!(p.technology_terms, default_technology_terms());
    let call = json!({"call_id": Uuid::nil(), "requester_reached": true, "goal": "Laptops",
                      "notes": null, "occurred_at": "2024-09-03T14:05:00Z"});
    let PurchaseEvent::CallLogged(c) = PurchaseEvent::from_parts("call-logged", &call).unwrap()
    else {
        panic!("wrong variant");
    };
    assert_eq!(c.spoke_with, None);
    // And the new optional fields are left out when absent.
    assert!(c.to_owned().spoke_with.is_none());
    let data = PurchaseEvent::from(c).to_data();
    assert!(data.get("spoke_with").is_none(), "{data}");
    let product = StandardsEvent::from(ProductUpserted { vendor_id: None, ..p_product() });
    assert!(product.to_data().get("vendor_id").is_none());
}

fn p_product() -> ProductUpserted {
    let StandardsEvent::ProductUpserted(p) = standards_events()[0].clone() else { panic!() };
    p
}

#[test]
fn a_person_reached_is_named() {
    assert!(PersonReached::stakeholder(Uuid::nil()).names_someone());
    let name = Some(ShortText::parse("Pat Lee").unwrap());
    let nobody =
        PersonReached { stakeholder_id: None, name: name.clone(), phone: None, email: None };
    assert!(!nobody.names_someone());
    let phone = Some(Phone::parse("555-0100").unwrap());
    assert!(PersonReached { phone, ..nobody.clone() }.names_someone());
    let email = Some(Email::parse("pat@district.org").unwrap());
    assert!(PersonReached { email, ..nobody }.names_someone());
}

#[test]
fn default_terms_are_valid_and_distinct() {
    let terms = default_technology_terms();
    assert_eq!(terms.len(), DEFAULT_TECHNOLOGY_TERMS.len());
    let distinct: std::collections::BTreeSet<_> =
        terms.iter().map(|t| t.as_str().to_lowercase()).collect();
    assert_eq!(distinct.len(), terms.len());
    for (description, found) in [
        ("Dell Latitude laptop", true),
        ("Chromebooks for 3rd grade", true),
        ("Epson classroom projector", true),
        ("Wireless access points", true),
        ("MakerBot 3D printer", true),
        ("Reading software licence, 30 seats", true),
        ("Copy paper, 10 reams", false),
        ("Whiteboard markers", false),
        ("Tablespoons", false),
    ] {
        assert_eq!(terms.iter().any(|t| t.found_in(description)), found, "{description}");
    }
}

#[test]
fn idempotency_keys_are_per_caller() {
    let a = idempotency_key_id("erp", "k-1");
    assert_eq!(a, idempotency_key_id("erp", "k-1"));
    assert_ne!(a, idempotency_key_id("card", "k-1"));
    assert_ne!(a, idempotency_key_id("erp", "k-2"));
    let recorded = IdempotencyEvent::from(IdempotentRequestRecorded {
        request_hash: "ab".repeat(32),
        request: "POST /v1/purchases/x/calls".into(),
        stream: purchase_stream(Uuid::nil()),
        version: 3,
        created: vec![Uuid::from_u128(1)],
    });
    let back = IdempotencyEvent::from_parts(recorded.event_type(), &recorded.to_data()).unwrap();
    assert_eq!(back, recorded);
}

#[test]
fn streams() {
    assert_eq!(purchase_stream(Uuid::nil()), "purchase-00000000-0000-0000-0000-000000000000");
    assert!(STANDARDS_STREAM.starts_with(STANDARDS_CATEGORY));
    assert_eq!(StandardsEvent::CATEGORY, STANDARDS_CATEGORY);
    assert_eq!(PurchaseEvent::CATEGORY, PURCHASE_CATEGORY);
    assert_eq!(PurchaseStatus::from(Decision::Held).as_str(), "held");
}

#[test]
fn held_and_advisory_decisions_flag_the_purchase() {
    assert!(Decision::Held.flags());
    assert!(Decision::Advisory.flags());
    assert!(!Decision::Approved.flags());
}

#[test]
fn a_purchase_stands_at_its_decision_until_it_is_approved_or_cancelled() {
    let events = purchase_events();
    let (submitted, decided, call, proposed, accepted, approved, cancelled) =
        (&events[0], &events[1], &events[2], &events[3], &events[4], &events[5], &events[6]);
    assert_eq!(PurchaseStatus::after(None, submitted), None);
    let held = PurchaseStatus::after(None, decided);
    assert_eq!(held, Some(PurchaseStatus::Held));
    for unchanged in [submitted, call, proposed, accepted] {
        assert_eq!(PurchaseStatus::after(held, unchanged), held);
    }
    assert_eq!(PurchaseStatus::after(held, approved), Some(PurchaseStatus::Approved));
    assert_eq!(PurchaseStatus::after(held, cancelled), Some(PurchaseStatus::Cancelled));
}

fn proposed(n: u128, lines: Vec<PurchaseLine>) -> PurchaseEvent {
    let description = LongText::parse("Use the standard model").unwrap();
    let (call_id, assessment, occurred_at) = (None, None, None);
    let alternative_id = Uuid::from_u128(n);
    AlternativeProposed { alternative_id, description, lines, call_id, assessment, occurred_at }
        .into()
}

fn approved() -> PurchaseEvent {
    let alternative_id = Some(Uuid::from_u128(2));
    PurchaseApproved { note: None, alternative_id, occurred_at: None }.into()
}

fn accepted(n: u128) -> PurchaseEvent {
    AlternativeAccepted { alternative_id: Uuid::from_u128(n) }.into()
}

/// The total after `history`, for a purchase submitted at 2,598.00.
fn amended(history: &[PurchaseEvent]) -> String {
    let mut total = AmendedTotal::default();
    history.iter().for_each(|e| total.apply(e));
    total.total(Money::parse("2598.00").unwrap()).to_string()
}

#[test]
fn a_purchase_costs_what_the_accepted_alternative_priced() {
    // Given two priced alternatives (two laptops at 899.00, then one) and an unpriced one,
    let (two, one) = (
        proposed(1, vec![line()]),
        proposed(2, vec![PurchaseLine { quantity: Quantity::new(1).unwrap(), ..line() }]),
    );
    let advice = proposed(3, vec![]);
    let history = [two.clone(), one.clone(), advice.clone()];
    // when none is accepted, then it costs what was submitted;
    assert_eq!(amended(&history), "2598.00");
    // when the second is accepted, then it costs that alternative's 899.00;
    let taken = [history.as_slice(), &[accepted(2), approved()]].concat();
    assert_eq!(amended(&taken), "899.00");
    // and what is left of the proposals is forgotten once the purchase is approved.
    let mut total = AmendedTotal::default();
    taken.iter().for_each(|e| total.apply(e));
    assert!(total.proposed.is_empty());
    // when the advice without lines is accepted, then it still costs what was submitted.
    assert_eq!(amended(&[two, one, advice, accepted(3)]), "2598.00");
}

#[test]
fn an_alternative_priced_past_the_largest_amount_leaves_the_total_as_submitted() {
    let huge = PurchaseLine { unit_price: Money::MAX, ..line() };
    assert_eq!(lines_total(std::slice::from_ref(&huge)), None);
    assert_eq!(amended(&[proposed(1, vec![huge]), accepted(1)]), "2598.00");
    assert_eq!(lines_total(&[line(), line()]), Some(Money::parse("3596.00").unwrap()));
}
