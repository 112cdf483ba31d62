use super::*;
use crate::DecodeError;
use crate::testing::round_trip;
use crate::values::test_support::de_err;
use serde_json::json;

fn short(s: &str) -> ShortText {
    ShortText::parse(s).unwrap()
}

#[test]
fn an_email_is_claimed_ignoring_case_and_held_until_released() {
    let a = Email::parse("Pat.Lee@District.org").unwrap();
    let b = Email::parse("pat.lee@district.org").unwrap();
    assert_eq!(email_stream(&a), email_stream(&b));
    assert!(email_stream(&a).starts_with("email-"));
    assert!(!email_stream(&a).contains("pat"), "the address is not in the stream name");
    let (pat, dana) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let claimed = EmailEvent::from(EmailClaimed { stakeholder_id: pat });
    let released = EmailEvent::from(EmailReleased { stakeholder_id: pat });
    assert_eq!(email_holder([]), None);
    assert_eq!(email_holder([&claimed]), Some(pat));
    assert_eq!(email_holder([&claimed, &released]), None);
    let other = EmailEvent::from(EmailReleased { stakeholder_id: dana });
    assert_eq!(email_holder([&claimed, &other]), Some(pat));
    let again = EmailEvent::from(EmailClaimed { stakeholder_id: dana });
    assert_eq!(email_holder([&claimed, &released, &again]), Some(dana));
    for event in [claimed, released] {
        assert_eq!(EmailEvent::from_parts(event.event_type(), &event.to_data()).unwrap(), event);
    }
}

fn long(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn stakeholder_events() -> Vec<StakeholderEvent> {
    vec![
        StakeholderRegistered {
            stakeholder_id: Uuid::from_u128(1),
            name: short("Dana Whitfield"),
            email: Email::parse("dana@lincoln.k12.example").unwrap(),
            phone: Some(Phone::parse("+1 555 010 4477").unwrap()),
            role: StakeholderRole::Principal,
            school_id: Some(SchoolId::parse("lincoln-elem").unwrap()),
        }
        .into(),
        StakeholderUpdated {
            name: short("Dana Whitfield"),
            email: Email::parse("dana@lincoln.k12.example").unwrap(),
            phone: None,
            role: StakeholderRole::BusinessOfficer,
            school_id: None,
        }
        .into(),
        ConversationHeld {
            conversation_id: Uuid::from_u128(2),
            held_at: "2024-09-03T14:05:00Z".parse().unwrap(),
            location: short("Her office"),
            their_vision: long("Every fourth grader codes."),
            stars: Some([short("Fast projector fixes"), short("Friendly help desk")]),
            wish: Some(long("Loaner laptops the same day")),
            notes: None,
            wish_id: Some(Uuid::from_u128(3)),
            connections: vec![ThemeId::parse("coding").unwrap()],
            on_their_turf: true,
        }
        .into(),
        StarsAcknowledged {
            conversation_id: Uuid::from_u128(2),
            place: short("School Committee, October"),
            acknowledged_on: day("2024-10-08"),
        }
        .into(),
        SpokeForIt {
            to_stakeholder_id: Uuid::from_u128(9),
            about: long("How the gate got her school its Chromebooks in a week"),
            on: day("2024-10-09"),
        }
        .into(),
    ]
}

fn wish_events() -> Vec<WishEvent> {
    vec![
        WishRecorded {
            wish_id: Uuid::from_u128(3),
            stakeholder_id: Uuid::from_u128(1),
            school_id: Some(SchoolId::parse("lincoln-elem").unwrap()),
            text: long("Loaner laptops the same day"),
            conversation_id: Uuid::from_u128(2),
            recorded_at: "2024-09-03T14:05:00Z".parse().unwrap(),
        }
        .into(),
        WishProgressed {
            note: long("Ten loaners staged at the library"),
            status: WishStatus::InProgress,
            at: "2024-09-10T09:00:00Z".parse().unwrap(),
        }
        .into(),
    ]
}

#[test]
fn given_a_progress_then_it_is_headway_unless_it_declines_the_wish() {
    let progress = |status| WishProgressed { note: long("Looked into it"), status, at: Utc::now() };
    assert!(progress(WishStatus::Open).is_headway());
    assert!(progress(WishStatus::InProgress).is_headway());
    assert!(progress(WishStatus::Done).is_headway());
    assert!(!progress(WishStatus::Declined).is_headway());
}

#[test]
fn given_a_promise_then_only_the_call_before_cancel_kind_is_the_standing_promise() {
    assert!(is_call_before_cancel(Some(CALL_BEFORE_CANCEL)));
    assert!(!is_call_before_cancel(Some("other")));
    assert!(!is_call_before_cancel(None));
    let standing = promise_events().remove(0);
    let PromiseEvent::Made(made) = standing else { panic!("{standing:?}") };
    assert!(made.is_call_before_cancel());
}

fn promise_events() -> Vec<PromiseEvent> {
    vec![
        PromiseMade {
            promise_id: Uuid::from_u128(4),
            to: PromiseTo::School { school_id: SchoolId::parse("lincoln-elem").unwrap() },
            text: long("We will call before cancelling any purchase."),
            due_on: day("2024-09-03"),
            owner: "cto@district".into(),
            made_on: day("2024-09-03"),
            kind: Some(CALL_BEFORE_CANCEL.into()),
        }
        .into(),
        PromiseKept { evidence: long("Ticket 4411 closed"), on: day("2024-09-05") }.into(),
        PromiseBroken { evidence: long("Missed the date"), on: day("2024-09-05") }.into(),
    ]
}

fn followup_events() -> Vec<FollowUpEvent> {
    vec![
        FollowUpScheduled {
            followup_id: Uuid::from_u128(5),
            stakeholder_id: Uuid::from_u128(1),
            about: long("How the loaners work out"),
            due_on: day("2024-10-01"),
        }
        .into(),
        FollowUpDone {
            on: day("2024-09-30"),
            note: Some(long("Going well")),
            stakeholder_id: Some(Uuid::from_u128(1)),
        }
        .into(),
    ]
}

#[test]
fn families_round_trip() {
    round_trip(stakeholder_events());
    round_trip(wish_events());
    round_trip(promise_events());
    round_trip(followup_events());
}

#[test]
fn wire_form() {
    let registered = stakeholder_events()[0].to_data();
    assert_eq!(registered["role"], "principal");
    assert_eq!(registered["school_id"], "lincoln-elem");
    let held = stakeholder_events()[2].to_data();
    assert_eq!(held["stars"], json!(["Fast projector fixes", "Friendly help desk"]));
    assert_eq!(held["held_at"], "2024-09-03T14:05:00Z");
    let made = promise_events()[0].to_data();
    assert_eq!(made["to"], json!({"type": "school", "school_id": "lincoln-elem"}));
    assert_eq!(made["due_on"], "2024-09-03");
    assert_eq!(made["kind"], "call-before-cancel");
    assert_eq!(wish_events()[1].to_data()["status"], "in_progress");
    let to = PromiseTo::Stakeholder { stakeholder_id: Uuid::nil() };
    assert_eq!(serde_json::to_value(to).unwrap()["type"], "stakeholder");
}

#[test]
fn exactly_two_stars_on_the_wire() {
    let mut data = stakeholder_events()[2].to_data();
    data["stars"] = json!(["one", "two", "three"]);
    assert!(StakeholderEvent::from_parts("conversation-held", &data).is_err());
    data["stars"] = json!(["one"]);
    assert!(StakeholderEvent::from_parts("conversation-held", &data).is_err());
    data["stars"] = json!(["one", " "]);
    assert!(StakeholderEvent::from_parts("conversation-held", &data).is_err());
}

#[test]
fn unknown_types_are_errors() {
    assert!(matches!(
        WishEvent::from_parts("promise-made", &json!({})),
        Err(DecodeError::UnknownType { category: "wish", .. })
    ));
    let data = promise_events()[0].to_data();
    assert!(PromiseEvent::from_parts("promise-made", &data).unwrap() == promise_events()[0]);
    let PromiseEvent::Made(made) = &promise_events()[0] else { unreachable!() };
    assert!(made.is_call_before_cancel());
}

#[test]
fn phone() {
    for good in ["+1 (555) 010-4477", "555", "0301 12345 ext 12", "555.010.4477 x3"] {
        assert!(Phone::parse(good).is_ok(), "{good:?}");
    }
    assert_eq!(Phone::parse("  555 1234 ").unwrap().as_str(), "555 1234");
    for bad in ["", "12", "call me", "555-CALL", &"5".repeat(41), "555\n1234"] {
        assert!(Phone::parse(bad).is_err(), "{bad:?}");
    }
    assert!(de_err::<Phone>("\"nope\"").contains("phone number"));
}

#[test]
fn schemas_fit_with_the_rest() {
    let ours = [
        StakeholderEvent::event_schemas(),
        WishEvent::event_schemas(),
        PromiseEvent::event_schemas(),
        FollowUpEvent::event_schemas(),
    ]
    .concat();
    let mut seen = std::collections::BTreeMap::new();
    for event in crate::event_schemas().into_iter().chain(ours.iter().cloned()) {
        let refs = event.references.iter().cloned();
        for (name, schema) in refs.chain([(event.schema_name.clone(), event.schema.clone())]) {
            let json = serde_json::to_string(&schema).unwrap();
            if let Some(previous) = seen.insert(name.clone(), json.clone()) {
                assert_eq!(previous, json, "two different schemas are named {name}");
            }
        }
    }
    let held = ours.iter().find(|e| e.event_type == "conversation-held").unwrap();
    let schema = serde_json::to_value(&held.schema).unwrap();
    assert_eq!(schema["properties"]["stars"]["minItems"], 2, "{schema}");
    assert_eq!(schema["properties"]["stars"]["maxItems"], 2);
    let names: Vec<_> = ours.iter().map(|e| e.schema_name.as_str()).collect();
    assert!(names.contains(&"PromiseMade") && names.contains(&"FollowUpDone"));
}

#[test]
fn streams() {
    assert_eq!(stakeholder_stream(Uuid::nil()), format!("stakeholder-{}", Uuid::nil()));
    assert_eq!(wish_stream(Uuid::nil()), format!("wish-{}", Uuid::nil()));
    assert_eq!(promise_stream(Uuid::nil()), format!("promise-{}", Uuid::nil()));
    assert_eq!(followup_stream(Uuid::nil()), format!("followup-{}", Uuid::nil()));
    assert_eq!(StakeholderEvent::CATEGORY, STAKEHOLDER_CATEGORY);
    assert_eq!(WishEvent::CATEGORY, WISH_CATEGORY);
    assert_eq!(PromiseEvent::CATEGORY, PROMISE_CATEGORY);
    assert_eq!(FollowUpEvent::CATEGORY, FOLLOWUP_CATEGORY);
}
