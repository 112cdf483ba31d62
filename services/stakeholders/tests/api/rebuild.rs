//! The read models fed through HTTP (and the gate's purchases) equal the read models rebuilt
//! from position 0 with `stakeholders::rebuild`, collection by collection.

use serde_json::json;

use crate::common::{Calls, TestApp, Who, in_days};

on_both_backends!(rebuilt_read_models_equal_the_incremental_ones);

async fn rebuilt_read_models_equal_the_incremental_ones(app: TestApp) {
    // A district's first days, through the API.
    let (lincoln, dana) = app.school_with_principal().await;
    app.school(&lincoln, "Lincoln Elementary School").await;
    let sam = app.person("Sam Ortiz", "teacher", Some(&lincoln)).await;
    for who in [&dana, &sam] {
        let wish = app.converse(who).await["wish"]["wish_id"].as_str().unwrap().to_owned();
        let body = json!({"note": "Started", "status": "in_progress"});
        app.post(Who::ItStaff, &format!("/v1/wishes/{wish}/progress"), &body).await.expect(201);
    }
    let promise = app.promise_to(&sam).await;
    app.post(Who::ItStaff, &format!("/v1/promises/{promise}/kept"), &json!({"evidence": "Done"}))
        .await
        .expect(200);
    app.promise_to(&dana).await;
    let to_school = json!({
        "to": {"type": "school", "school_id": lincoln}, "text": "Wifi survey", "due_on": in_days(5),
    });
    app.post(Who::ItStaff, "/v1/promises", &to_school).await.expect(201);
    let follow_up = app.follow_up(&dana).await;
    app.post(Who::ItStaff, &format!("/v1/follow-ups/{follow_up}/done"), &json!({}))
        .await
        .expect(200);
    app.follow_up(&sam).await;
    app.sign(&lincoln, &dana).await;
    let reason = json!({"reason": "Review", "withdrawn_on": crate::common::today()});
    app.delete(Who::ItStaff, &format!("/v1/schools/{lincoln}/agreement"), &reason)
        .await
        .expect(200);
    app.sign(&lincoln, &dana).await;
    // The gate's purchases: one held for the gated school.
    app.laptop_policy().await;
    let check = json!({
        "external_ref": "REQ-1", "school_id": lincoln, "requester_email": "sam@lincoln.example",
        "vendor": "Dell", "payment_method": "p_card", "currency": "USD",
        "lines": [{"description": "XPS 13", "category": "laptops", "quantity": 1, "unit_price": "1299.00"}],
    });
    let answer = app.post(Who::Finance, "/v1/purchase-checks", &check).await.expect(201).clone();
    assert_eq!(answer["decision"], "held");
    // A card statement: technology at Lincoln that no check covers.
    let card =
        json!({"last4": "4821", "holder_email": "sam@lincoln.example", "school_id": lincoln});
    app.put(Who::ItStaff, "/v1/cards/0193a5e0-0000-7000-8000-000000004821", &card)
        .await
        .expect(201);
    let day = in_days(-2);
    let file = format!(
        "reference,transaction_date,posted_on,card_last4,merchant,mcc,amount,currency\n\
         T-1,{day},{day},4821,BEST BUY #1234,5732,1299.99,USD\n"
    );
    app.import_card_statement("/v1/card-statements", file).await;

    app.post(Who::ItStaff, "/v1/meeting-rounds", &json!({"name": "Every principal"}))
        .await
        .expect(201);

    // Incrementally: a read waits for every read model to reach the head.
    app.get(Who::Auditor, "/v1/stakeholders").await.expect(200);
    let incremental = app.read_models().await;
    assert_eq!(incremental.len(), 8);
    for (collection, docs) in &incremental {
        assert!(!docs.is_empty(), "{collection} is empty");
    }
    app.stop().await;

    let applied = stakeholders::rebuild(&*app.store, &|_| {}).await.unwrap();
    assert!(applied > 0);
    let rebuilt = app.read_models().await;
    for (collection, docs) in &incremental {
        assert_eq!(&rebuilt[collection], docs, "{collection} differs after the rebuild");
    }
    assert_eq!(rebuilt, incremental);
}
