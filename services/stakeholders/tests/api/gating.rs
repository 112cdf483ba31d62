//! From agreement to gate: the principal signs here, and the gate (served beside this service,
//! as in the all-in-one server) holds the school's next purchase that needs review; after a
//! withdrawal the next one is only advisory. The standing promise's record follows what IT
//! does with the held purchase in the gate.

use serde_json::{Value, json};

use crate::common::{Calls, TestApp, Who, in_days, unique_school};

on_both_backends!(
    signing_gates_the_school_and_withdrawing_ungates_it,
    a_requester_sees_the_purchases_they_asked_for_and_what_became_of_them,
    a_person_with_a_school_sees_the_school_s_unchecked_card_spend,
);

/// A purchase check for `school`: a laptop that is not in the catalog (technology that needs
/// review).
fn check(school: &str, external_ref: &str) -> Value {
    json!({
        "external_ref": external_ref,
        "school_id": school,
        "requester_email": "pat.lee@district.org",
        "vendor": "Dell",
        "payment_method": "p_card",
        "currency": "USD",
        "lines": [{
            "sku": "XPS-9999", "description": "XPS 13", "category": "laptops",
            "quantity": 1, "unit_price": "1299.00",
        }],
        "purpose": "A laptop for the robotics club",
    })
}

async fn decision(app: &TestApp, school: &str, external_ref: &str) -> (String, String) {
    let answer = app.post(Who::Finance, "/v1/purchase-checks", &check(school, external_ref)).await;
    let answer = answer.expect(201);
    (
        answer["decision"].as_str().unwrap().to_owned(),
        answer["purchase_id"].as_str().unwrap().to_owned(),
    )
}

async fn signing_gates_the_school_and_withdrawing_ungates_it(app: TestApp) {
    // The standards, through the gate's API.
    let vendor = json!({"name": "Dell Technologies", "approved": true});
    app.put(Who::ItStaff, "/v1/catalog/vendors/dell", &vendor).await.expect(200);
    let product = json!({
        "name": "Latitude 5440", "category": "laptops", "vendor_id": "dell",
        "unit_price": "899.00", "currency": "USD",
    });
    app.put(Who::ItStaff, "/v1/catalog/products/LAT-5440", &product).await.expect(200);
    let policy = json!({
        "technology_categories": ["laptops", "tablets", "software"],
        "technology_mccs": ["5732", "5734"],
        "review_threshold": "5000.00",
        "currency": "USD",
    });
    app.put(Who::ItStaff, "/v1/catalog/policy", &policy).await.expect(200);

    // The school and its principal, through this service.
    let school = unique_school();
    let registered = app.school(&school, "Lincoln Elementary").await;
    assert_eq!(
        (registered["gated"].as_bool(), registered["agreement_status"].as_str()),
        (Some(false), Some("never_signed"))
    );
    let principal = app.person("Dana Whitfield", "principal", Some(&school)).await;
    assert_eq!(decision(&app, &school, "REQ-1").await.0, "advisory");

    // The principal signs: the agreement and its standing promise in one append.
    let head = app.head().await;
    let signed = app.sign(&school, &principal).await;
    assert_eq!(app.head().await, head + 2, "a signature is its event and its promise's");
    assert_eq!(signed["gated"], true);
    assert_eq!(signed["agreement_status"], "signed");
    assert_eq!(signed["agreement"]["principal_id"], principal.as_str());
    assert_eq!(signed["agreement"]["principal_name"], "Dana Whitfield");
    let promise_id = signed["agreement"]["promise_id"].as_str().unwrap().to_owned();
    let appended = app.store.read_all(head, &eventlog::Filter::all(), 10).await.unwrap();
    let written: Vec<(&str, &str)> =
        appended.iter().map(|e| (e.stream.as_str(), e.event_type.as_str())).collect();
    let promise_stream = format!("promise-{promise_id}");
    assert_eq!(
        written,
        [
            (format!("school-{school}").as_str(), "agreement-signed"),
            (promise_stream.as_str(), "promise-made")
        ]
    );
    assert!(appended.iter().all(|e| e.metadata.service == "stakeholders"
        && e.metadata.actor.subject == "it-jdoe"
        && e.metadata.actor.role == "it_staff"));
    assert_eq!(appended[0].metadata.correlation_id, appended[1].metadata.correlation_id);
    let standing = &signed["promises"][0];
    assert_eq!(
        (standing["promise_id"].as_str(), standing["standing"].as_bool()),
        (Some(promise_id.as_str()), Some(true))
    );
    assert_eq!(
        (standing["status"].as_str(), standing["kind"].as_str()),
        (Some("kept"), Some("call-before-cancel"))
    );
    assert_eq!(signed["call_before_cancel"]["in_force"], true);
    assert_eq!(signed["call_before_cancel"]["held_purchases"], 0);

    // The gate holds the school's next purchase that needs review.
    let (held, purchase) = decision(&app, &school, "REQ-2").await;
    assert_eq!(held, "held");
    let profile = app.get(Who::Auditor, &format!("/v1/stakeholders/{principal}")).await;
    let profile = profile.expect(200);
    let held_purchases = profile["held_purchases"].as_array().unwrap();
    assert_eq!(held_purchases.len(), 1, "{profile:#}");
    assert_eq!(
        (held_purchases[0]["purchase_id"].as_str(), held_purchases[0]["state"].as_str()),
        (Some(purchase.as_str()), Some("held"))
    );
    let speed = &profile["health"]["answer_speed"];
    assert_eq!((speed["held_purchases"].as_u64(), speed["waiting"].as_u64()), (Some(1), Some(1)));

    // IT calls the requester, proposes an alternative and cancels: the promise was honoured.
    let call = json!({"requester_reached": true, "goal": "Run the robotics software",
                      "spoke_with": {"name": "Sam Ortiz", "phone": "555-0101"}});
    app.post(Who::ItStaff, &format!("/v1/purchases/{purchase}/calls"), &call).await.expect(201);
    let alternative = json!({"description": "The supported Latitude 5440 runs it"});
    app.post(Who::ItStaff, &format!("/v1/purchases/{purchase}/alternatives"), &alternative)
        .await
        .expect(201);
    let cancel = json!({"reason": "The requester took the Latitude instead"});
    app.post(Who::ItStaff, &format!("/v1/purchases/{purchase}/cancel"), &cancel).await.expect(200);
    let view = app.get(Who::Auditor, &format!("/v1/schools/{school}")).await.expect(200).clone();
    let record = &view["call_before_cancel"];
    assert_eq!(
        (
            record["held_purchases"].as_u64(),
            record["cancelled"].as_u64(),
            record["honoured"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{view:#}"
    );
    assert_eq!(
        (record["outcome"].as_str(), record["breaches"].as_array().map(Vec::len)),
        (Some("kept"), Some(0))
    );
    assert_eq!(view["principals"][0]["stakeholder_id"], principal.as_str());
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{principal}")).await;
    let speed = &profile.expect(200)["health"]["answer_speed"];
    assert_eq!((speed["answered"].as_u64(), speed["waiting"].as_u64()), (Some(1), Some(0)));

    // The school withdraws: the next check is advisory.
    let reason = json!({"reason": "The new principal wants to review it"});
    let withdrawn =
        app.delete(Who::Admin, &format!("/v1/schools/{school}/agreement"), &reason).await;
    let withdrawn = withdrawn.expect(200);
    assert_eq!(
        (withdrawn["gated"].as_bool(), withdrawn["agreement_status"].as_str()),
        (Some(false), Some("withdrawn"))
    );
    assert!(withdrawn["agreement"].is_null());
    assert_eq!(
        withdrawn["agreements"][0]["withdrawal_reason"],
        "The new principal wants to review it"
    );
    assert_eq!(withdrawn["call_before_cancel"]["in_force"], false);
    assert_eq!(decision(&app, &school, "REQ-3").await.0, "advisory");

    // The school lists as withdrawn.
    let list = app.get(Who::Auditor, "/v1/schools?agreement_status=withdrawn").await;
    let schools = list.expect(200)["schools"].as_array().unwrap().clone();
    assert_eq!(schools.len(), 1);
    assert_eq!(schools[0]["school_id"], school.as_str());

    // And may sign again: gated at once.
    app.sign(&school, &principal).await;
    assert_eq!(decision(&app, &school, "REQ-4").await.0, "held");
    let view = app.get(Who::Auditor, &format!("/v1/schools/{school}")).await.expect(200).clone();
    assert_eq!(view["agreements"].as_array().unwrap().len(), 2);
    assert_eq!(view["call_before_cancel"]["held_purchases"], 1, "{view:#}");
    app.stop().await;
}

async fn a_requester_sees_the_purchases_they_asked_for_and_what_became_of_them(app: TestApp) {
    app.laptop_policy().await;
    // The district's targets: a first call within two business hours, a decision within two
    // business days.
    let targets = json!({
        "first_contact_minutes": 120, "decision_minutes": 960,
        "advisory_outreach_minutes": 480, "warn_at_percent": [50],
    });
    app.put(Who::Admin, "/v1/sla", &targets).await.expect(200);
    let school = unique_school();
    app.school(&school, "Lincoln Elementary").await;
    let principal = app.person("Dana Whitfield", "principal", Some(&school)).await;
    app.sign(&school, &principal).await;
    // The requester of the checks is a person IT knows (the address's case differs).
    let pat = json!({"name": "Pat Lee", "email": "Pat.Lee@District.org", "role": "teacher",
                     "school_id": school});
    let pat = app.post(Who::ItStaff, "/v1/stakeholders", &pat).await.expect(201).clone();
    let pat = pat["stakeholder_id"].as_str().unwrap().to_owned();
    let (held, purchase) = decision(&app, &school, "REQ-7").await;
    assert_eq!(held, "held");

    let profile = app.get(Who::Auditor, &format!("/v1/stakeholders/{pat}")).await;
    let profile = profile.expect(200).clone();
    let requested = profile["requested_purchases"].as_array().unwrap();
    assert_eq!(requested.len(), 1, "{profile:#}");
    assert_eq!(requested[0]["purchase_id"], json!(purchase));
    assert_eq!(profile["held_purchases"], Value::Null, "not a principal");
    let counts = &profile["health"]["requests"];
    assert_eq!((counts["held"].as_u64(), counts["waiting"].as_u64()), (Some(1), Some(1)));
    assert_eq!(
        profile["health"]["answer_speed"]["held_purchases"], 1,
        "answered for what they asked"
    );
    // No card spend at their school yet.
    let spend = &profile["health"]["unchecked_card_spend"];
    assert_eq!((&spend["school_id"], &spend["transactions"]), (&json!(school), &json!(0)));

    // IT reaches them at once and offers an alternative: answered within the target (the
    // gate's first-contact clock met), an alternative offered.
    let call = json!({"requester_reached": true, "goal": "A laptop for the robotics club"});
    app.post(Who::ItStaff, &format!("/v1/purchases/{purchase}/calls"), &call).await.expect(201);
    let alternative = json!({"description": "The supported Latitude 5440"});
    let view = app
        .post(Who::ItStaff, &format!("/v1/purchases/{purchase}/alternatives"), &alternative)
        .await
        .expect(201)
        .clone();
    let profile = app.get(Who::Auditor, &format!("/v1/stakeholders/{pat}")).await;
    let counts = profile.expect(200)["health"]["requests"].clone();
    assert_eq!(
        counts,
        json!({"held": 1, "waiting": 0, "answered_within_a_day": 1,
               "answered_within_target": 1, "decided_within_target": 0, "missed_target": 0,
               "offered_alternatives": 1, "alternatives_accepted": 0,
               "approved": 0, "cancelled": 0, "cancelled_without_a_call": 0})
    );
    // They accept it: approved as amended, decided within the target.
    let alt = view["alternatives"][0]["alternative_id"].as_str().unwrap();
    let accept = format!("/v1/purchases/{purchase}/alternatives/{alt}/accept");
    app.post(Who::ItStaff, &accept, &json!({})).await.expect(200);
    let profile = app.get(Who::Auditor, &format!("/v1/stakeholders/{pat}")).await;
    let profile = profile.expect(200).clone();
    let counts = &profile["health"]["requests"];
    assert_eq!(
        [
            &counts["alternatives_accepted"],
            &counts["approved"],
            &counts["decided_within_target"],
            &counts["missed_target"],
        ],
        [&json!(1), &json!(1), &json!(1), &json!(0)],
        "{counts:#}"
    );
    assert_eq!(profile["requested_purchases"][0]["accepted_alternative"], json!(alt));

    // The principal's profile counts it for the school, not as theirs.
    let dana = app.get(Who::Auditor, &format!("/v1/stakeholders/{principal}")).await;
    let dana = dana.expect(200).clone();
    assert_eq!(dana["requested_purchases"], json!([]));
    assert_eq!(dana["held_purchases"].as_array().unwrap().len(), 1);
    assert_eq!(dana["health"]["requests"]["held"], 0);
    app.stop().await;
}

async fn a_person_with_a_school_sees_the_school_s_unchecked_card_spend(app: TestApp) {
    app.laptop_policy().await;
    let school = unique_school();
    app.school(&school, "Lincoln Elementary").await;
    let other = unique_school();
    app.school(&other, "Washington High").await;
    let principal = app.person("Dana Whitfield", "principal", Some(&school)).await;
    let teacher = app.person("Sam Ortiz", "teacher", Some(&school)).await;
    let district_staff = app.person("Chris Park", "it", None).await;
    let card = |id: &str, last4: &str, school: &str| {
        let body = json!({"last4": last4, "holder_email": "pat.lee@district.org",
                          "school_id": school});
        (format!("/v1/cards/{id}"), body)
    };
    for (path, body) in [
        card("0193a5e0-0000-7000-8000-000000004821", "4821", &school),
        card("0193a5e0-0000-7000-8000-000000000042", "0042", &other),
    ] {
        app.put(Who::ItStaff, &path, &body).await.expect(201);
    }
    // Technology on the school's card twice (one a credit), paper, and technology at the
    // other school; no purchase check covers any of them.
    let day = in_days(-2);
    let file = format!(
        "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n\
         T-1,{day},{day},4821,BEST BUY #1234,5732,1299.99,USD\n\
         T-2,{day},{day},4821,BEST BUY #1234,5732,-100.00,USD\n\
         T-3,{day},{day},4821,OFFICE DEPOT,5943,12.00,USD\n\
         T-4,{day},{day},0042,BEST BUY #1234,5732,89.50,USD\n"
    );
    app.import_card_statement("/v1/card-statements?profile=procgate", file).await;

    for who in [&principal, &teacher] {
        let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{who}")).await;
        let spend = profile.expect(200)["health"]["unchecked_card_spend"].clone();
        assert_eq!(spend["school_id"], json!(school));
        assert_eq!(
            (&spend["transactions"], &spend["by_currency"]),
            (&json!(1), &json!([{"currency": "USD", "transactions": 1, "total": "1299.99"}])),
            "{spend:#}"
        );
    }
    let profile = app.get(Who::ItStaff, &format!("/v1/stakeholders/{district_staff}")).await;
    assert_eq!(profile.expect(200)["health"]["unchecked_card_spend"], Value::Null, "no school");
    app.stop().await;
}
