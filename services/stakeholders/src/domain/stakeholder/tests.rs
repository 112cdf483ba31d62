use super::*;
use chrono::TimeDelta;
use kernel::testing::{given, t0};

const ID: Uuid = Uuid::from_u128(1);
const CONVERSATION: Uuid = Uuid::from_u128(2);
const WISH: Uuid = Uuid::from_u128(3);

fn short(s: &str) -> ShortText {
    ShortText::parse(s).unwrap()
}

fn long(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

fn school() -> SchoolId {
    SchoolId::parse("lincoln-elem").unwrap()
}

fn now() -> DateTime<Utc> {
    "2024-09-10T15:00:00Z".parse().unwrap()
}

fn profile() -> Profile {
    Profile {
        name: short("Dana Whitfield"),
        email: Email::parse("dana@lincoln.example").unwrap(),
        phone: None,
        role: StakeholderRole::Principal,
        school_id: Some(school()),
    }
}

/// [`profile`] registered as [`ID`].
fn registration() -> StakeholderRegistered {
    StakeholderRegistered::new(ID, profile().into())
}

fn registered() -> StakeholderEvent {
    registration().into()
}

/// Registering `profile` as [`ID`], its school registered or not, its address held as `email`
/// says.
fn register(profile: Profile, school_exists: bool, email: EmailClaim) -> StakeholderCommand {
    StakeholderCommand::Register(RegisterStakeholder {
        stakeholder_id: ID,
        profile,
        school_exists,
        email,
    })
}

fn conversation(stars: &[&str], held_at: DateTime<Utc>) -> StakeholderCommand {
    StakeholderCommand::HoldConversation(HoldConversation {
        conversation_id: CONVERSATION,
        wish_id: WISH,
        held_at,
        now: now(),
        location: short("Her office"),
        their_vision: long("Every fourth grader codes."),
        stars: Some(stars.iter().map(|s| short(s)).collect()),
        wish: Some(long("Loaners the same day")),
        notes: Some(long("Mentioned the robotics club")),
        connections: vec![],
        on_their_turf: true,
        vision: DistrictVision::default(),
    })
}

fn vision(themes: &[&str]) -> DistrictVision {
    let themes = themes
        .iter()
        .map(|t| events::stakeholders::Theme { theme_id: theme(t), title: short(t) })
        .collect();
    DistrictVision {
        current: Some(events::stakeholders::VisionSet { statement: long("Every child"), themes }),
        version: 1,
    }
}

fn theme(id: &str) -> ThemeId {
    ThemeId::parse(id).unwrap()
}

fn connected(connections: &[&str], themes: &[&str]) -> StakeholderCommand {
    let StakeholderCommand::HoldConversation(cmd) = conversation(&["a", "b"], now()) else {
        unreachable!()
    };
    StakeholderCommand::HoldConversation(HoldConversation {
        connections: connections.iter().map(|c| theme(c)).collect(),
        vision: vision(themes),
        ..cmd
    })
}

#[test]
fn the_first_conversation_asks_for_two_stars_and_a_wish_later_ones_may_not() {
    let StakeholderCommand::HoldConversation(full) = conversation(&["a", "b"], now()) else {
        unreachable!()
    };
    let bare = HoldConversation { stars: None, wish: None, ..full.clone() };
    let no_wish = HoldConversation { wish: None, ..full.clone() };
    // Given a person never met, when a conversation records neither, or no wish: refused.
    given::<Stakeholder>([registered()])
        .when(StakeholderCommand::HoldConversation(bare.clone()))
        .then_expect_error(DomainError::FirstConversationAsks { missing: "stars and wish" });
    given::<Stakeholder>([registered()])
        .when(StakeholderCommand::HoldConversation(no_wish))
        .then_expect_error(DomainError::FirstConversationAsks { missing: "wish" });
    // Given a first conversation, a later one may record neither: no wish is opened.
    let then = given::<Stakeholder>([registered()])
        .when(StakeholderCommand::HoldConversation(full))
        .then_apply()
        .when(StakeholderCommand::HoldConversation(bare));
    let StakeholderEvent::ConversationHeld(held) = &then.decision().events[0] else {
        panic!("a conversation")
    };
    assert_eq!((held.stars.clone(), held.wish.clone(), held.wish_id), (None, None, None));
    then.then_expect_opens(vec![]);
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn stars_are_acknowledged_in_public_once_recorded() {
    let ack = |conversation_id| {
        StakeholderCommand::AcknowledgeStars(AcknowledgeStars {
            conversation_id,
            place: short("School Committee, March meeting"),
            on: day("2026-03-02"),
            today: day("2026-03-10"),
            held_on: Some(day("2026-03-02")),
        })
    };
    // Given a conversation with two stars, when IT praises them in public: recorded.
    let held = given::<Stakeholder>([registered()])
        .when(conversation(&["a", "b"], now() - TimeDelta::days(1)))
        .then_apply();
    held.when(ack(CONVERSATION)).then_expect_events(vec![
        StarsAcknowledged {
            conversation_id: CONVERSATION,
            place: short("School Committee, March meeting"),
            acknowledged_on: day("2026-03-02"),
        }
        .into(),
    ]);
    // Not before the day of the conversation.
    let early = |cmd| match cmd {
        StakeholderCommand::AcknowledgeStars(a) => {
            StakeholderCommand::AcknowledgeStars(AcknowledgeStars { on: day("2026-03-01"), ..a })
        }
        other => other,
    };
    let held = given::<Stakeholder>([registered()])
        .when(conversation(&["a", "b"], now() - TimeDelta::days(1)))
        .then_apply();
    held.when(early(ack(CONVERSATION))).then_expect_error(DomainError::DateTooEarly {
        field: "on",
        earliest: day("2026-03-02"),
        because: "stars are praised on the day of their conversation or later",
    });
    // A conversation that is not theirs, or without stars, has none to praise.
    given::<Stakeholder>([registered()])
        .when(ack(Uuid::from_u128(99)))
        .then_expect_error(DomainError::NoStarsToAcknowledge);
}

#[test]
fn an_advocate_speaks_for_it_to_someone_else_who_is_registered() {
    let speak = |to, to_exists, on: &str| {
        StakeholderCommand::SpeakForIt(SpeakForIt {
            to,
            to_exists,
            about: long("How the gate got her school its Chromebooks in a week"),
            on: day(on),
            today: day("2026-03-10"),
        })
    };
    let other = Uuid::from_u128(42);
    given::<Stakeholder>([registered()]).when(speak(other, true, "2026-03-09")).then_expect_events(
        vec![
            events::stakeholders::SpokeForIt {
                to_stakeholder_id: other,
                about: long("How the gate got her school its Chromebooks in a week"),
                on: day("2026-03-09"),
            }
            .into(),
        ],
    );
    given::<Stakeholder>([registered()])
        .when(speak(ID, true, "2026-03-09"))
        .then_expect_error(DomainError::SpokeToThemselves);
    given::<Stakeholder>([registered()])
        .when(speak(other, false, "2026-03-09"))
        .then_expect_error(DomainError::UnknownListener);
    given::<Stakeholder>([registered()])
        .when(speak(other, true, "2026-03-11"))
        .then_expect_error(DomainError::DateInFuture { field: "on" });
}

#[test]
fn a_conversation_connects_only_to_themes_of_the_vision() {
    // Given a vision with two themes, when a conversation names one twice and the other,
    // then it records each once, in order, with where it was held.
    let then = given::<Stakeholder>([registered()])
        .when(connected(&["reading", "coding", "reading"], &["coding", "reading"]));
    let events = &then.decision().events;
    let StakeholderEvent::ConversationHeld(held) = &events[0] else { panic!("{events:?}") };
    assert_eq!(held.connections, vec![theme("coding"), theme("reading")]);
    assert!(held.on_their_turf);
    // When it names a theme the vision does not have (or there is no vision), it is refused.
    given::<Stakeholder>([registered()])
        .when(connected(&["robots"], &["coding"]))
        .then_expect_error(DomainError::UnknownTheme { theme: theme("robots") });
    given::<Stakeholder>([registered()])
        .when(connected(&["coding"], &[]))
        .then_expect_error(DomainError::UnknownTheme { theme: theme("coding") });
}

#[test]
fn register_once() {
    given::<Stakeholder>([])
        .when(register(profile(), true, EmailClaim::default()))
        .then_expect_events(vec![registered()]);
    given::<Stakeholder>([registered()])
        .when(register(profile(), true, EmailClaim::default()))
        .then_expect_error(DomainError::AlreadyExists { what: "stakeholder" });
}

#[test]
fn the_school_must_exist_when_given() {
    given::<Stakeholder>([])
        .when(register(profile(), false, EmailClaim::default()))
        .then_expect_error(DomainError::UnknownSchool);
    let district = Profile { school_id: None, role: StakeholderRole::It, ..profile() };
    given::<Stakeholder>([])
        .when(register(district, false, EmailClaim::default()))
        .then_expect_events(vec![
            StakeholderRegistered { role: StakeholderRole::It, school_id: None, ..registration() }
                .into(),
        ]);
}

#[test]
fn update_writes_only_changes() {
    given::<Stakeholder>([registered()])
        .when(StakeholderCommand::Update(UpdateStakeholder {
            profile: profile(),
            school_exists: true,
            email: EmailClaim::default(),
            current_email: EmailClaim::default(),
            erased: false,
        }))
        .then_expect_nothing();
    let phone = Some(Phone::parse("555 0101").unwrap());
    given::<Stakeholder>([registered()])
        .when(StakeholderCommand::Update(UpdateStakeholder {
            profile: Profile { phone: phone.clone(), ..profile() },
            school_exists: true,
            email: EmailClaim::default(),
            current_email: EmailClaim::default(),
            erased: false,
        }))
        .then_expect_events(vec![
            StakeholderUpdated {
                name: short("Dana Whitfield"),
                email: Email::parse("dana@lincoln.example").unwrap(),
                phone,
                role: StakeholderRole::Principal,
                school_id: Some(school()),
            }
            .into(),
        ]);
    given::<Stakeholder>([registered()])
        .when(StakeholderCommand::Update(UpdateStakeholder {
            profile: Profile { school_id: Some(SchoolId::parse("nowhere").unwrap()), ..profile() },
            school_exists: false,
            email: EmailClaim::default(),
            current_email: EmailClaim::default(),
            erased: false,
        }))
        .then_expect_error(DomainError::UnknownSchool);
    given::<Stakeholder>([])
        .when(StakeholderCommand::Update(UpdateStakeholder {
            profile: profile(),
            school_exists: true,
            email: EmailClaim::default(),
            current_email: EmailClaim::default(),
            erased: false,
        }))
        .then_expect_error(DomainError::UnknownStakeholder);
}

#[test]
fn an_erased_person_changes_role_or_school_but_gets_no_personal_data_again() {
    let update = |profile| {
        StakeholderCommand::Update(UpdateStakeholder {
            profile,
            school_exists: true,
            email: EmailClaim::default(),
            current_email: EmailClaim::default(),
            erased: true,
        })
    };
    // Given an erased person, when IT gives them a name, an address or a phone, then it is
    // refused;
    for given_again in [
        Profile { name: short("Dana Returns"), ..profile() },
        Profile { email: Email::parse("dana@new.example").unwrap(), ..profile() },
        Profile { phone: Some(Phone::parse("555 0101").unwrap()), ..profile() },
    ] {
        given::<Stakeholder>([registered()])
            .when(update(given_again))
            .then_expect_error(DomainError::Erased);
    }
    // when IT moves them to another role, then that is recorded, without any claim.
    let librarian = Profile { role: StakeholderRole::Librarian, ..profile() };
    let then = given::<Stakeholder>([registered()]).when(update(librarian.clone()));
    assert!(then.decision().opens.is_empty());
    then.then_expect_events(vec![StakeholderUpdated::from(librarian).into()]);
}

fn claimed(email: &str, version: u64, by: Uuid) -> Opened {
    let email = Email::parse(email).unwrap();
    on_claim(
        &email,
        EmailClaim { holder: None, version },
        EmailClaimed { stakeholder_id: by }.into(),
    )
}

#[test]
fn registering_takes_the_address() {
    let register = |email| register(profile(), true, email);
    given::<Stakeholder>([])
        .when(register(EmailClaim::default()))
        .then_expect_events(vec![registered()])
        .then_expect_opens(vec![claimed("dana@lincoln.example", 0, ID)]);
    // Released by someone before: taken again at the version read.
    given::<Stakeholder>([])
        .when(register(EmailClaim { holder: None, version: 2 }))
        .then_expect_opens(vec![claimed("dana@lincoln.example", 2, ID)]);
    // Held by someone else (by the claim, or the register): refused, naming them.
    let other = Uuid::from_u128(9);
    let err = given::<Stakeholder>([])
        .when(register(EmailClaim { holder: Some(other), version: 1 }))
        .then_expect_error(DomainError::EmailTaken { stakeholder_id: other });
    assert_eq!(err.slug(), "email-taken");
    assert!(err.to_string().contains(&other.to_string()));
    given::<Stakeholder>([])
        .when(register(EmailClaim { holder: Some(other), version: 0 }))
        .then_expect_error(DomainError::EmailTaken { stakeholder_id: other });
}

#[test]
fn a_new_address_is_taken_and_the_old_one_released() {
    let moved = Profile { email: Email::parse("dana@district.example").unwrap(), ..profile() };
    let update = |email, current_email, profile: Profile| {
        StakeholderCommand::Update(UpdateStakeholder {
            profile,
            school_exists: true,
            email,
            current_email,
            erased: false,
        })
    };
    let mine = EmailClaim { holder: Some(ID), version: 1 };
    let released = on_claim(&profile().email, mine, EmailReleased { stakeholder_id: ID }.into());
    given::<Stakeholder>([registered()])
        .when(update(EmailClaim::default(), mine, moved.clone()))
        .then_expect_opens(vec![claimed("dana@district.example", 0, ID), released]);
    // Registered before addresses were claimed: nothing of theirs to release.
    given::<Stakeholder>([registered()])
        .when(update(EmailClaim::default(), EmailClaim::default(), moved.clone()))
        .then_expect_opens(vec![claimed("dana@district.example", 0, ID)]);
    // Someone else's address: refused.
    let other = Uuid::from_u128(9);
    given::<Stakeholder>([registered()])
        .when(update(EmailClaim { holder: Some(other), version: 1 }, mine, moved))
        .then_expect_error(DomainError::EmailTaken { stakeholder_id: other });
    // The same address in other letters: no claim changes hands.
    let shouted = Profile { email: Email::parse("DANA@lincoln.example").unwrap(), ..profile() };
    given::<Stakeholder>([registered()])
        .when(update(mine, mine, shouted))
        .then_expect_opens(vec![]);
}

#[test]
fn a_conversation_records_its_wish() {
    let held_at = now() - TimeDelta::days(2);
    given::<Stakeholder>([registered()])
        .when(conversation(&["Fast fixes", "Friendly desk"], held_at))
        .then_expect_events(vec![
            ConversationHeld {
                conversation_id: CONVERSATION,
                held_at,
                location: short("Her office"),
                their_vision: long("Every fourth grader codes."),
                stars: Some([short("Fast fixes"), short("Friendly desk")]),
                wish: Some(long("Loaners the same day")),
                notes: Some(long("Mentioned the robotics club")),
                wish_id: Some(WISH),
                connections: vec![],
                on_their_turf: true,
            }
            .into(),
        ])
        .then_expect_opens(vec![Opened::new(
            stream(wish_stream(WISH)),
            &WishEvent::from(WishRecorded {
                wish_id: WISH,
                stakeholder_id: ID,
                school_id: Some(school()),
                text: long("Loaners the same day"),
                conversation_id: CONVERSATION,
                recorded_at: held_at,
            }),
        )]);
}

#[test]
fn exactly_two_stars() {
    for stars in [&[][..], &["one"], &["one", "two", "three"]] {
        given::<Stakeholder>([registered()])
            .when(conversation(stars, now()))
            .then_expect_error(DomainError::ExactlyTwoStars { found: stars.len() });
    }
}

#[test]
fn held_at_may_be_a_little_ahead_but_not_in_the_future() {
    let stars = ["a", "b"];
    let then = given::<Stakeholder>([registered()]).when(conversation(&stars, now() + CLOCK_SKEW));
    assert_eq!(then.decision().events.len(), 1);
    let too_late = now() + CLOCK_SKEW + TimeDelta::seconds(1);
    given::<Stakeholder>([registered()])
        .when(conversation(&stars, too_late))
        .then_expect_error(DomainError::DateInFuture { field: "held_at" });
}

#[test]
fn conversations_need_a_registered_stakeholder_and_count() {
    given::<Stakeholder>([])
        .when(conversation(&["a", "b"], now()))
        .then_expect_error(DomainError::UnknownStakeholder);
    let s = given::<Stakeholder>([registered()])
        .when(conversation(&["a", "b"], now()))
        .then_state(t0());
    assert_eq!((s.conversations, s.last_contact), (1, Some(now())));
}
