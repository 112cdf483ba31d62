//! A person IT works with (stream `stakeholder-{uuid}`), and the conversations held with them.
//!
//! - **Register**: a new stakeholder; their school, when given, is registered (the caller
//!   looks it up and says so in the command).
//! - **Update**: the whole profile; nothing is written when nothing changed.
//! - **One person per e-mail address** (ignoring case): registering takes the address's claim
//!   (`email-claimed` on `email-{uuid}`, [`email_stream`], appended in the same atomic append
//!   at the version the caller read, so two registrations at once cannot both take it);
//!   changing one's address takes the new one and releases the old one (`email-released`).
//!   An address another stakeholder holds is `email-taken`, naming them. The caller reads the
//!   claim streams ([`EmailClaim`]), and for people registered before addresses were claimed,
//!   the register.
//! - **Hold a conversation**: their vision, exactly two stars and one wish, where and when.
//!   `held_at` may be in the past (meetings are often written up later) but at most
//!   [`CLOCK_SKEW`] after `now`. The wish becomes a tracked wish: `wish-recorded` opens
//!   `wish-{wish_id}` in the same append, with the stakeholder's current school and
//!   `recorded_at = held_at`.

use chrono::{DateTime, NaiveDate, Utc};
use events::stakeholders::{
    ConversationHeld, DistrictVision, EmailClaimed, EmailEvent, EmailReleased, Phone, SpokeForIt,
    StakeholderEvent, StakeholderRegistered, StakeholderRole, StakeholderUpdated,
    StarsAcknowledged, WishEvent, WishRecorded, email_stream, wish_stream,
};
use events::values::{Email, LongText, SchoolId, ShortText, ThemeId};
use kernel::{Aggregate, At, Decision, Opened, stream};
use uuid::Uuid;

use super::{CLOCK_SKEW, DomainError};

/// What the register holds about a person.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    /// Their school; `None` for district staff.
    pub school_id: Option<SchoolId>,
}

/// A stakeholder, rebuilt from their stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stakeholder {
    pub stakeholder_id: Option<Uuid>,
    pub profile: Option<Profile>,
    pub conversations: u32,
    pub last_contact: Option<DateTime<Utc>>,
    /// The conversations that recorded two stars.
    pub starred: Vec<Uuid>,
}

/// What can be asked about a stakeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum StakeholderCommand {
    Register(RegisterStakeholder),
    Update(UpdateStakeholder),
    HoldConversation(HoldConversation),
    AcknowledgeStars(AcknowledgeStars),
    SpeakForIt(SpeakForIt),
}

/// `POST /v1/stakeholders/{id}/conversations/{conversation_id}/acknowledgements`.
#[derive(Debug, Clone, PartialEq)]
pub struct AcknowledgeStars {
    pub conversation_id: Uuid,
    pub place: ShortText,
    pub on: NaiveDate,
    /// The district's date now.
    pub today: NaiveDate,
}

/// `POST /v1/stakeholders/{id}/advocacy`: they spoke for IT to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakForIt {
    pub to: Uuid,
    /// Whether `to` is a registered stakeholder (read with the command).
    pub to_exists: bool,
    pub about: LongText,
    pub on: NaiveDate,
    /// The district's date now.
    pub today: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegisterStakeholder {
    pub stakeholder_id: Uuid,
    pub profile: Profile,
    /// Whether `profile.school_id` names a registered school (ignored without a school).
    pub school_exists: bool,
    /// Who holds `profile.email`.
    pub email: EmailClaim,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdateStakeholder {
    pub profile: Profile,
    /// Whether `profile.school_id` names a registered school (ignored without a school).
    pub school_exists: bool,
    /// Who holds `profile.email` (the new address), and who holds the current one: used when
    /// the address changes.
    pub email: EmailClaim,
    pub current_email: EmailClaim,
}

/// Who holds an e-mail address, as the caller read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmailClaim {
    /// The stakeholder holding it: by its claim stream, or, for someone registered before
    /// addresses were claimed, by the register. `None`: free.
    pub holder: Option<Uuid>,
    /// The claim stream's version when it was read (0: never claimed).
    pub version: u64,
}

impl EmailClaim {
    /// Refused when someone other than `me` holds it.
    fn free_for(self, me: Uuid) -> Result<(), DomainError> {
        match self.holder {
            Some(holder) if holder != me => Err(DomainError::EmailTaken { stakeholder_id: holder }),
            _ => Ok(()),
        }
    }
}

/// Two addresses are one when they are equal ignoring case.
fn same_address(a: &Email, b: &Email) -> bool {
    a.as_str().eq_ignore_ascii_case(b.as_str())
}

/// `event` on the claim stream of `email`, read at `claim.version`.
fn on_claim(email: &Email, claim: EmailClaim, event: EmailEvent) -> Opened {
    Opened::new(stream(email_stream(email)), &event).after(claim.version)
}

#[derive(Debug, Clone, PartialEq)]
pub struct HoldConversation {
    pub conversation_id: Uuid,
    /// The id of the wish's new stream.
    pub wish_id: Uuid,
    pub held_at: DateTime<Utc>,
    /// The time now.
    pub now: DateTime<Utc>,
    pub location: ShortText,
    pub their_vision: LongText,
    /// Exactly two when given; required at the first conversation with the person.
    pub stars: Option<Vec<ShortText>>,
    /// Required at the first conversation with the person.
    pub wish: Option<LongText>,
    pub notes: Option<LongText>,
    /// The themes of IT's vision their vision connects to.
    pub connections: Vec<ThemeId>,
    /// Whether it was held on their own turf.
    pub on_their_turf: bool,
    /// IT's vision as it stood when the request was read.
    pub vision: DistrictVision,
}

fn check_school(profile: &Profile, school_exists: bool) -> Result<(), DomainError> {
    if profile.school_id.is_some() && !school_exists {
        return Err(DomainError::UnknownSchool);
    }
    Ok(())
}

impl Aggregate for Stakeholder {
    type Event = StakeholderEvent;
    type Command = StakeholderCommand;
    type Error = DomainError;

    fn apply(&mut self, event: &StakeholderEvent, _: At) {
        match event {
            StakeholderEvent::Registered(e) => {
                self.stakeholder_id = Some(e.stakeholder_id);
                self.profile = Some(Profile {
                    name: e.name.clone(),
                    email: e.email.clone(),
                    phone: e.phone.clone(),
                    role: e.role,
                    school_id: e.school_id.clone(),
                });
            }
            StakeholderEvent::Updated(e) => {
                self.profile = Some(Profile {
                    name: e.name.clone(),
                    email: e.email.clone(),
                    phone: e.phone.clone(),
                    role: e.role,
                    school_id: e.school_id.clone(),
                });
            }
            StakeholderEvent::ConversationHeld(e) => {
                self.conversations += 1;
                self.last_contact = self.last_contact.max(Some(e.held_at));
                if e.stars.is_some() {
                    self.starred.push(e.conversation_id);
                }
            }
            StakeholderEvent::StarsAcknowledged(_) | StakeholderEvent::SpokeForIt(_) => {}
        }
    }

    fn handle(
        &self,
        command: StakeholderCommand,
    ) -> Result<Decision<StakeholderEvent>, DomainError> {
        match command {
            StakeholderCommand::Register(cmd) => {
                if self.profile.is_some() {
                    return Err(DomainError::AlreadyExists { what: "stakeholder" });
                }
                check_school(&cmd.profile, cmd.school_exists)?;
                let id = cmd.stakeholder_id;
                cmd.email.free_for(id)?;
                let p = cmd.profile;
                let claimed = EmailClaimed { stakeholder_id: id }.into();
                let claim = on_claim(&p.email, cmd.email, claimed);
                Ok(Decision::events(vec![
                    StakeholderRegistered {
                        stakeholder_id: id,
                        name: p.name,
                        email: p.email,
                        phone: p.phone,
                        role: p.role,
                        school_id: p.school_id,
                    }
                    .into(),
                ])
                .opening(claim))
            }
            StakeholderCommand::Update(cmd) => {
                let current = self.profile.as_ref().ok_or(DomainError::UnknownStakeholder)?;
                if *current == cmd.profile {
                    return Ok(Decision::nothing());
                }
                check_school(&cmd.profile, cmd.school_exists)?;
                let id = self.stakeholder_id.ok_or(DomainError::UnknownStakeholder)?;
                let moved = !same_address(&current.email, &cmd.profile.email);
                let mut claims = Vec::new();
                if moved {
                    cmd.email.free_for(id)?;
                    let claimed = EmailClaimed { stakeholder_id: id }.into();
                    claims.push(on_claim(&cmd.profile.email, cmd.email, claimed));
                    if cmd.current_email.holder == Some(id) {
                        let released = EmailReleased { stakeholder_id: id }.into();
                        claims.push(on_claim(&current.email, cmd.current_email, released));
                    }
                }
                let p = cmd.profile;
                let decision = Decision::events(vec![
                    StakeholderUpdated {
                        name: p.name,
                        email: p.email,
                        phone: p.phone,
                        role: p.role,
                        school_id: p.school_id,
                    }
                    .into(),
                ]);
                Ok(claims.into_iter().fold(decision, Decision::opening))
            }
            StakeholderCommand::HoldConversation(cmd) => self.hold_conversation(cmd),
            StakeholderCommand::AcknowledgeStars(cmd) => {
                if self.stakeholder_id.is_none() {
                    return Err(DomainError::UnknownStakeholder);
                }
                if !self.starred.contains(&cmd.conversation_id) {
                    return Err(DomainError::NoStarsToAcknowledge);
                }
                if cmd.on > cmd.today {
                    return Err(DomainError::DateInFuture { field: "on" });
                }
                let acknowledged = StarsAcknowledged {
                    conversation_id: cmd.conversation_id,
                    place: cmd.place,
                    acknowledged_on: cmd.on,
                };
                Ok(vec![acknowledged.into()].into())
            }
            StakeholderCommand::SpeakForIt(cmd) => {
                let Some(me) = self.stakeholder_id else {
                    return Err(DomainError::UnknownStakeholder);
                };
                if cmd.to == me {
                    return Err(DomainError::SpokeToThemselves);
                }
                if !cmd.to_exists {
                    return Err(DomainError::UnknownListener);
                }
                if cmd.on > cmd.today {
                    return Err(DomainError::DateInFuture { field: "on" });
                }
                let spoke = SpokeForIt { to_stakeholder_id: cmd.to, about: cmd.about, on: cmd.on };
                Ok(vec![spoke.into()].into())
            }
        }
    }
}

impl Stakeholder {
    fn hold_conversation(
        &self,
        cmd: HoldConversation,
    ) -> Result<Decision<StakeholderEvent>, DomainError> {
        let (Some(stakeholder_id), Some(profile)) = (self.stakeholder_id, &self.profile) else {
            return Err(DomainError::UnknownStakeholder);
        };
        // The first conversation asks for two stars and a wish; later ones may record neither.
        if self.conversations == 0 {
            let missing = match (&cmd.stars, &cmd.wish) {
                (None, None) => Some("stars and wish"),
                (None, Some(_)) => Some("stars"),
                (Some(_), None) => Some("wish"),
                (Some(_), Some(_)) => None,
            };
            if let Some(missing) = missing {
                return Err(DomainError::FirstConversationAsks { missing });
            }
        }
        let stars: Option<[ShortText; 2]> = match cmd.stars {
            None => None,
            Some(stars) => {
                let found = stars.len();
                Some(stars.try_into().map_err(|_| DomainError::ExactlyTwoStars { found })?)
            }
        };
        if cmd.held_at > cmd.now + CLOCK_SKEW {
            return Err(DomainError::DateInFuture { field: "held_at" });
        }
        if let Some(theme) = cmd.connections.iter().find(|t| !cmd.vision.has_theme(t)) {
            return Err(DomainError::UnknownTheme { theme: theme.clone() });
        }
        let mut connections = cmd.connections;
        connections.sort();
        connections.dedup();
        let wish = cmd.wish.clone().map(|text| WishRecorded {
            wish_id: cmd.wish_id,
            stakeholder_id,
            school_id: profile.school_id.clone(),
            text,
            conversation_id: cmd.conversation_id,
            recorded_at: cmd.held_at,
        });
        let held = ConversationHeld {
            conversation_id: cmd.conversation_id,
            held_at: cmd.held_at,
            location: cmd.location,
            their_vision: cmd.their_vision,
            stars,
            wish: cmd.wish,
            notes: cmd.notes,
            wish_id: wish.as_ref().map(|w| w.wish_id),
            connections,
            on_their_turf: cmd.on_their_turf,
        };
        let decision = Decision::events(vec![held.into()]);
        Ok(match wish {
            Some(wish) => decision
                .opening(Opened::new(stream(wish_stream(wish.wish_id)), &WishEvent::from(wish))),
            None => decision,
        })
    }
}

#[cfg(test)]
mod tests {
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

    fn registered() -> StakeholderEvent {
        let p = profile();
        StakeholderRegistered {
            stakeholder_id: ID,
            name: p.name,
            email: p.email,
            phone: p.phone,
            role: p.role,
            school_id: p.school_id,
        }
        .into()
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
            current: Some(events::stakeholders::VisionSet {
                statement: long("Every child"),
                themes,
            }),
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
        given::<Stakeholder>([registered()])
            .when(speak(other, true, "2026-03-09"))
            .then_expect_events(vec![
                events::stakeholders::SpokeForIt {
                    to_stakeholder_id: other,
                    about: long("How the gate got her school its Chromebooks in a week"),
                    on: day("2026-03-09"),
                }
                .into(),
            ]);
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
            .when(StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: profile(),
                school_exists: true,
                email: EmailClaim::default(),
            }))
            .then_expect_events(vec![registered()]);
        given::<Stakeholder>([registered()])
            .when(StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: profile(),
                school_exists: true,
                email: EmailClaim::default(),
            }))
            .then_expect_error(DomainError::AlreadyExists { what: "stakeholder" });
    }

    #[test]
    fn the_school_must_exist_when_given() {
        given::<Stakeholder>([])
            .when(StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: profile(),
                school_exists: false,
                email: EmailClaim::default(),
            }))
            .then_expect_error(DomainError::UnknownSchool);
        let district = Profile { school_id: None, role: StakeholderRole::It, ..profile() };
        given::<Stakeholder>([])
            .when(StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: district,
                school_exists: false,
                email: EmailClaim::default(),
            }))
            .then_expect_events(vec![
                StakeholderRegistered {
                    stakeholder_id: ID,
                    name: short("Dana Whitfield"),
                    email: Email::parse("dana@lincoln.example").unwrap(),
                    phone: None,
                    role: StakeholderRole::It,
                    school_id: None,
                }
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
            }))
            .then_expect_nothing();
        let phone = Some(Phone::parse("555 0101").unwrap());
        given::<Stakeholder>([registered()])
            .when(StakeholderCommand::Update(UpdateStakeholder {
                profile: Profile { phone: phone.clone(), ..profile() },
                school_exists: true,
                email: EmailClaim::default(),
                current_email: EmailClaim::default(),
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
                profile: Profile {
                    school_id: Some(SchoolId::parse("nowhere").unwrap()),
                    ..profile()
                },
                school_exists: false,
                email: EmailClaim::default(),
                current_email: EmailClaim::default(),
            }))
            .then_expect_error(DomainError::UnknownSchool);
        given::<Stakeholder>([])
            .when(StakeholderCommand::Update(UpdateStakeholder {
                profile: profile(),
                school_exists: true,
                email: EmailClaim::default(),
                current_email: EmailClaim::default(),
            }))
            .then_expect_error(DomainError::UnknownStakeholder);
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
        let register = |email| {
            StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: profile(),
                school_exists: true,
                email,
            })
        };
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
            })
        };
        let mine = EmailClaim { holder: Some(ID), version: 1 };
        let released =
            on_claim(&profile().email, mine, EmailReleased { stakeholder_id: ID }.into());
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
        let then =
            given::<Stakeholder>([registered()]).when(conversation(&stars, now() + CLOCK_SKEW));
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
}
