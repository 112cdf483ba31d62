use super::*;
use crate::domain::standards::Policy;
use crate::domain::testing::fixtures::*;
use ReasonCode::*;
use events::gate::ProductUpserted;

fn codes_and_lines(outcome: &Outcome) -> Vec<(ReasonCode, Option<usize>)> {
    outcome.reasons.iter().map(|r| (r.code, r.line)).collect()
}

#[test]
fn no_policy_no_answer() {
    let mut standards = standards();
    standards.policy = None;
    let err = decide(&check(), &gated_school(), &standards).unwrap_err();
    assert_eq!(err, DecisionError::NoPolicy);
    assert_eq!(err.slug(), "no-policy");
}

#[test]
fn currency_must_be_the_policy_currency() {
    let check = PurchaseCheck { currency: currency("EUR"), ..check() };
    let err = decide(&check, &gated_school(), &standards()).unwrap_err();
    assert_eq!(
        err,
        DecisionError::CurrencyMismatch { check: currency("EUR"), policy: currency("USD") }
    );
    assert_eq!(err.slug(), "currency-mismatch");
}

#[test]
fn lines_are_bounded() {
    let none = PurchaseCheck { lines: vec![], ..check() };
    assert_eq!(decide(&none, &gated_school(), &standards()), Err(DecisionError::NoLines));
    let many = PurchaseCheck { lines: vec![supported_line(); MAX_LINES + 1], ..check() };
    let err = decide(&many, &gated_school(), &standards()).unwrap_err();
    assert_eq!(err, DecisionError::TooManyLines { count: MAX_LINES + 1 });
    assert_eq!(err.slug(), "invalid-lines");
    let max = PurchaseCheck { lines: vec![paper(); MAX_LINES], ..check() };
    assert!(decide(&max, &gated_school(), &standards()).is_ok());
}

#[test]
fn total_is_checked() {
    let huge = PurchaseLine {
        quantity: quantity(100_000),
        unit_price: money("1000.01"),
        ..supported_line()
    };
    let huge = PurchaseCheck { lines: vec![huge], ..check() };
    let err = decide(&huge, &gated_school(), &standards()).unwrap_err();
    assert_eq!(err, DecisionError::TotalTooLarge);
    assert_eq!(err.slug(), "total-too-large");
    let two = PurchaseCheck {
        lines: vec![
            PurchaseLine { unit_price: Money::MAX, quantity: quantity(1), ..paper() },
            PurchaseLine { unit_price: money("0.01"), quantity: quantity(1), ..paper() },
        ],
        ..check()
    };
    assert_eq!(two.total(), None);
}

#[test]
fn supported_technology_is_approved() {
    let outcome = decide(&check(), &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Approved);
    assert_eq!(codes_and_lines(&outcome), vec![(InCatalog, Some(0))]);
    assert_eq!(outcome.total, money("1798.00"));
    assert_eq!(outcome.policy_version, standards().version);
    assert!(outcome.school_gated);
    assert!(outcome.reasons[0].detail.contains("LAT-5440"), "{}", outcome.reasons[0].detail);
}

#[test]
fn non_technology_is_approved_whatever_the_vendor() {
    let check =
        PurchaseCheck { vendor: text("Paper Palace"), lines: vec![paper(), paper()], ..check() };
    let outcome = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Approved);
    assert_eq!(codes_and_lines(&outcome), vec![(NotTechnology, Some(0)), (NotTechnology, Some(1))]);
    assert!(!outcome.codes().contains(&VendorNotApproved));
    assert!(outcome.reasons[0].detail.contains("not technology"));
}

#[test]
fn non_technology_over_the_threshold_is_approved() {
    let big = PurchaseLine { quantity: quantity(10_000), ..paper() };
    let check = PurchaseCheck { lines: vec![big], ..check() };
    let outcome = decide(&check, &ungated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Approved);
    assert_eq!(outcome.codes(), vec![NotTechnology]);
}

#[test]
fn unknown_sku_is_held_for_a_gated_school() {
    let check = PurchaseCheck { lines: vec![unknown_laptop()], ..check() };
    let outcome = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Held);
    assert_eq!(codes_and_lines(&outcome), vec![(NotInCatalog, Some(0))]);
    assert!(outcome.reasons[0].detail.contains("not in the catalog"));
}

#[test]
fn unknown_sku_is_advisory_for_an_ungated_school() {
    let check = PurchaseCheck { lines: vec![unknown_laptop()], ..check() };
    let outcome = decide(&check, &ungated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Advisory);
    assert_eq!(codes_and_lines(&outcome), vec![(NotInCatalog, Some(0)), (SchoolNotGated, None)]);
    assert!(!outcome.school_gated);
    assert!(outcome.reasons[1].detail.contains("has not signed"));
    let unknown_school = decide(&check, &SchoolStatus::default(), &standards()).unwrap();
    assert_eq!(unknown_school.decision, Decision::Advisory);
    assert!(unknown_school.reasons[1].detail.contains("not a registered school"));
}

#[test]
fn technology_line_without_sku_is_not_in_catalog() {
    let line = PurchaseLine { sku: None, ..supported_line() };
    let check = PurchaseCheck { lines: vec![line], ..check() };
    let outcome = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Held);
    assert_eq!(codes_and_lines(&outcome), vec![(NotInCatalog, Some(0))]);
    assert!(outcome.reasons[0].detail.contains("no SKU"));
}

#[test]
fn unapproved_vendor_is_held_once_not_per_line() {
    let check = PurchaseCheck {
        vendor: text("Gadget Barn"),
        lines: vec![supported_line(), paper(), supported_line()],
        ..check()
    };
    let outcome = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Held);
    assert_eq!(
        codes_and_lines(&outcome),
        vec![(NotTechnology, Some(1)), (VendorNotApproved, None)]
    );
    assert!(outcome.reasons[1].detail.contains("Gadget Barn"));
}

#[test]
fn vendor_may_be_named_by_name_in_any_case() {
    let check = PurchaseCheck { vendor: text("DELL TECHNOLOGIES"), ..check() };
    let outcome = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Approved);
}

#[test]
fn over_threshold_technology_needs_review_even_when_supported() {
    let line = PurchaseLine { quantity: quantity(6), ..supported_line() };
    let check = PurchaseCheck { lines: vec![line], ..check() };
    let held = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(held.decision, Decision::Held);
    assert_eq!(codes_and_lines(&held), vec![(InCatalog, Some(0)), (OverReviewThreshold, None)]);
    assert!(held.reasons[1].detail.contains("5394.00 USD"), "{}", held.reasons[1].detail);
    let advisory = decide(&check, &ungated_school(), &standards()).unwrap();
    assert_eq!(advisory.decision, Decision::Advisory);
    assert_eq!(advisory.codes(), vec![InCatalog, OverReviewThreshold, SchoolNotGated]);
}

#[test]
fn threshold_is_strictly_over_and_counts_all_lines() {
    // 899.00 × 5 = 4495.00, plus paper to exactly 5000.00: not over.
    let paper_505 = PurchaseLine { unit_price: money("505.00"), quantity: quantity(1), ..paper() };
    let line = PurchaseLine { quantity: quantity(5), ..supported_line() };
    let exact = PurchaseCheck { lines: vec![line.clone(), paper_505.clone()], ..check() };
    let outcome = decide(&exact, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.total, money("5000.00"));
    assert_eq!(outcome.decision, Decision::Approved);
    let over_line = PurchaseLine { unit_price: money("505.01"), ..paper_505 };
    let over = PurchaseCheck { lines: vec![line, over_line], ..check() };
    let outcome = decide(&over, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Held);
    assert!(outcome.codes().contains(&OverReviewThreshold));
}

#[test]
fn technology_mcc_makes_every_line_technology() {
    let check = PurchaseCheck {
        merchant_category_code: Some(mcc("5734")),
        lines: vec![paper(), supported_line()],
        ..check()
    };
    let outcome = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Held);
    assert_eq!(codes_and_lines(&outcome), vec![(NotInCatalog, Some(0)), (InCatalog, Some(1))]);
    assert!(outcome.reasons[0].detail.contains("merchant category code 5734"));

    let other_mcc = PurchaseCheck { merchant_category_code: Some(mcc("5111")), ..check };
    let outcome = decide(&other_mcc, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.codes(), vec![NotTechnology, InCatalog]);
    assert!(outcome.reasons[0].detail.contains("5111 is not a technology code"));
}

#[test]
fn removed_products_and_unapproved_vendors_change_the_answer_with_the_version() {
    let mut standards = standards();
    let v = standards.version;
    standards.apply(v + 1, &events::gate::ProductRemoved { sku: laptop().sku }.into());
    let outcome = decide(&check(), &gated_school(), &standards).unwrap();
    assert_eq!(outcome.decision, Decision::Held);
    assert_eq!(outcome.policy_version, v + 1);
}

#[test]
fn every_reason_has_a_detail_sentence() {
    let check = PurchaseCheck {
        vendor: text("Gadget Barn"),
        lines: vec![
            paper(),
            unknown_laptop(),
            PurchaseLine { quantity: quantity(9), ..supported_line() },
        ],
        ..check()
    };
    let outcome = decide(&check, &ungated_school(), &standards()).unwrap();
    assert_eq!(
        outcome.codes(),
        vec![NotTechnology, NotInCatalog, VendorNotApproved, OverReviewThreshold, SchoolNotGated]
    );
    for r in &outcome.reasons {
        assert!(r.detail.ends_with('.') && r.detail.len() > 20, "{r:?}");
    }
    assert_eq!(outcome.to_event().reasons, outcome.reasons);
}

#[test]
fn policy_with_only_mccs() {
    let mut standards = standards();
    let policy = Policy { technology_categories: vec![], ..standards.policy.clone().unwrap() };
    standards.apply(standards.version + 1, &policy.into());
    // Laptops are now classified neither way: reviewed, never approved.
    let outcome = decide(&check(), &gated_school(), &standards).unwrap();
    assert_eq!(outcome.codes(), vec![UnclassifiedCategory]);
    assert_eq!(outcome.decision, Decision::Held);
    // Paid at a technology merchant, they are technology again.
    let at_a_computer_store =
        PurchaseCheck { merchant_category_code: Some(mcc("5734")), ..check() };
    let outcome = decide(&at_a_computer_store, &gated_school(), &standards).unwrap();
    assert_eq!(outcome.codes(), vec![InCatalog]);
}

fn office(description: &str, category: &str) -> PurchaseLine {
    PurchaseLine { description: text(description), category: self::category(category), ..paper() }
}

#[test]
fn a_category_in_neither_list_is_reviewed_never_approved() {
    let check =
        PurchaseCheck { lines: vec![office("Classroom globe", "classroom-decor")], ..check() };
    let held = decide(&check, &gated_school(), &standards()).unwrap();
    assert_eq!(held.decision, Decision::Held);
    assert_eq!(codes_and_lines(&held), vec![(UnclassifiedCategory, Some(0))]);
    let detail = &held.reasons[0].detail;
    assert!(detail.contains("classroom-decor") && detail.contains("neither"), "{detail}");
    let advisory = decide(&check, &ungated_school(), &standards()).unwrap();
    assert_eq!(advisory.decision, Decision::Advisory);
    assert_eq!(advisory.codes(), vec![UnclassifiedCategory, SchoolNotGated]);
    // Once IT classifies the category, checks follow it.
    let mut standards = standards();
    let version = standards.version + 1;
    let classified = standards
        .handle(crate::domain::StandardsCommand::ClassifyCategory {
            category: category("classroom-decor"),
            technology: false,
        })
        .unwrap();
    standards.apply(version, &classified[0]);
    let outcome = decide(&check, &gated_school(), &standards).unwrap();
    assert_eq!((outcome.decision, outcome.codes()), (Decision::Approved, vec![NotTechnology]));
    assert_eq!(outcome.policy_version, version);
}

#[test]
fn a_non_technology_line_that_names_technology_is_reviewed() {
    for (description, term) in [
        ("Dell laptops for the front office", "laptop"),
        ("Two 3D PRINTERS", "3D printer"),
        ("Wireless access point, ceiling mount", "access point"),
        ("Reading software licence, 30 seats", "software licence"),
    ] {
        let check =
            PurchaseCheck { lines: vec![office(description, "office-supplies")], ..check() };
        let outcome = decide(&check, &gated_school(), &standards()).unwrap();
        assert_eq!(outcome.decision, Decision::Held, "{description}");
        assert_eq!(codes_and_lines(&outcome), vec![(LooksLikeTechnology, Some(0))]);
        let detail = &outcome.reasons[0].detail;
        assert!(detail.contains(&format!("{term:?}")), "{detail}");
        assert!(detail.contains("whole words"), "{detail}");
    }
    // Whole words: tablespoons are not tablets, monitoring is not a monitor.
    for description in ["Tablespoons, 3 boxes", "Monitoring service for the boiler"] {
        let check =
            PurchaseCheck { lines: vec![office(description, "office-supplies")], ..check() };
        let outcome = decide(&check, &gated_school(), &standards()).unwrap();
        assert_eq!(outcome.codes(), vec![NotTechnology], "{description}");
    }
    // The policy's own terms decide; with none, nothing looks like technology.
    let mut standards = standards();
    let mut policy = standards.policy.clone().unwrap();
    policy.technology_terms = vec![];
    standards.apply(standards.version + 1, &policy.into());
    let laptop = PurchaseCheck { lines: vec![office("Dell laptop", "office-supplies")], ..check() };
    assert_eq!(decide(&laptop, &gated_school(), &standards).unwrap().codes(), vec![NotTechnology]);
}

#[test]
fn a_catalog_product_that_names_its_vendor_comes_only_from_it() {
    // LAT-5440 names Dell: from CDW, another approved vendor, it is reviewed.
    let from_cdw = PurchaseCheck { vendor: text("CDW Education"), ..check() };
    let outcome = decide(&from_cdw, &gated_school(), &standards()).unwrap();
    assert_eq!(outcome.decision, Decision::Held);
    assert_eq!(codes_and_lines(&outcome), vec![(NotFromCatalogVendor, Some(0))]);
    assert!(outcome.reasons[0].detail.contains("only from Dell Technologies"));
    // A product naming no vendor comes from any approved one.
    let mut standards = standards();
    let anywhere = ProductUpserted { vendor_id: None, ..laptop() };
    standards.apply(standards.version + 1, &anywhere.into());
    let outcome = decide(&from_cdw, &gated_school(), &standards).unwrap();
    assert_eq!((outcome.decision, outcome.codes()), (Decision::Approved, vec![InCatalog]));
    // But not from an unapproved one.
    let from_gadget_barn = PurchaseCheck { vendor: text("Gadget Barn"), ..check() };
    let outcome = decide(&from_gadget_barn, &gated_school(), &standards).unwrap();
    assert_eq!(outcome.codes(), vec![VendorNotApproved]);
}

#[test]
fn an_alternatives_lines_are_judged_without_a_vendor() {
    let lines = vec![
        PurchaseLine { quantity: quantity(1), ..supported_line() },
        unknown_laptop(),
        paper(),
        office("Classroom globe", "classroom-decor"),
    ];
    let assessed = assess_lines(&lines, &standards()).unwrap();
    assert!(!assessed.supported);
    assert_eq!(assessed.policy_version, standards().version);
    let codes: Vec<_> = assessed.reasons.iter().map(|r| (r.code, r.line)).collect();
    assert_eq!(
        codes,
        vec![
            (InCatalog, Some(0)),
            (NotInCatalog, Some(1)),
            (NotTechnology, Some(2)),
            (UnclassifiedCategory, Some(3)),
        ]
    );
    let supported = assess_lines(&[supported_line(), paper()], &standards()).unwrap();
    assert!(supported.supported);
    assert_eq!(assess_lines(&[], &standards()), None);
}

#[test]
fn request_hash_is_canonical() {
    let a = check();
    let mut b = check();
    b.lines[0].unit_price = money("899");
    b.lines[0].sku = Some(sku("lat-5440"));
    assert_eq!(a.request_hash(), b.request_hash());
    assert_eq!(a.request_hash().len(), 64);
    let c = PurchaseCheck { purpose: Some(long("Something else")), ..check() };
    assert_ne!(a.request_hash(), c.request_hash());
    let json = serde_json::to_value(&a).unwrap();
    assert!(json.get("merchant_category_code").is_none(), "absent options are left out");
}
