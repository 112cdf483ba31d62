//! A person IT works with (stream `stakeholder-{uuid}`), and the conversations held with them.
//!
//! - **Register**: a new stakeholder; their school, when given, is registered (the caller
//!   looks it up and says so in the command).
//! - **Update**: the whole profile; nothing is written when nothing changed.
//! - **Hold a conversation**: their vision, exactly two stars and one wish, where and when.
//!   `held_at` may be in the past (meetings are often written up later) but at most
//!   [`CLOCK_SKEW`] after `now`. The wish becomes a tracked wish: `wish-recorded` opens
//!   `wish-{wish_id}` in the same append, with the stakeholder's current school and
//!   `recorded_at = held_at`.

use chrono::{DateTime, Utc};
use events::stakeholders::{
    ConversationHeld, Phone, StakeholderEvent, StakeholderRegistered, StakeholderRole,
    StakeholderUpdated, WishEvent, WishRecorded, wish_stream,
};
use events::values::{Email, LongText, SchoolId, ShortText};
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
}

/// What can be asked about a stakeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum StakeholderCommand {
    Register(RegisterStakeholder),
    Update(UpdateStakeholder),
    HoldConversation(HoldConversation),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegisterStakeholder {
    pub stakeholder_id: Uuid,
    pub profile: Profile,
    /// Whether `profile.school_id` names a registered school (ignored without a school).
    pub school_exists: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdateStakeholder {
    pub profile: Profile,
    /// Whether `profile.school_id` names a registered school (ignored without a school).
    pub school_exists: bool,
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
    /// Must be exactly two.
    pub stars: Vec<ShortText>,
    pub wish: LongText,
    pub notes: Option<LongText>,
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
            }
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
                let p = cmd.profile;
                Ok(Decision::events(vec![
                    StakeholderRegistered {
                        stakeholder_id: cmd.stakeholder_id,
                        name: p.name,
                        email: p.email,
                        phone: p.phone,
                        role: p.role,
                        school_id: p.school_id,
                    }
                    .into(),
                ]))
            }
            StakeholderCommand::Update(cmd) => {
                let current = self.profile.as_ref().ok_or(DomainError::UnknownStakeholder)?;
                if *current == cmd.profile {
                    return Ok(Decision::nothing());
                }
                check_school(&cmd.profile, cmd.school_exists)?;
                let p = cmd.profile;
                Ok(Decision::events(vec![
                    StakeholderUpdated {
                        name: p.name,
                        email: p.email,
                        phone: p.phone,
                        role: p.role,
                        school_id: p.school_id,
                    }
                    .into(),
                ]))
            }
            StakeholderCommand::HoldConversation(cmd) => self.hold_conversation(cmd),
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
        let found = cmd.stars.len();
        let stars: [ShortText; 2] =
            cmd.stars.try_into().map_err(|_| DomainError::ExactlyTwoStars { found })?;
        if cmd.held_at > cmd.now + CLOCK_SKEW {
            return Err(DomainError::DateInFuture { field: "held_at" });
        }
        let wish = WishRecorded {
            wish_id: cmd.wish_id,
            stakeholder_id,
            school_id: profile.school_id.clone(),
            text: cmd.wish.clone(),
            conversation_id: cmd.conversation_id,
            recorded_at: cmd.held_at,
        };
        let held = ConversationHeld {
            conversation_id: cmd.conversation_id,
            held_at: cmd.held_at,
            location: cmd.location,
            their_vision: cmd.their_vision,
            stars,
            wish: cmd.wish,
            notes: cmd.notes,
            wish_id: cmd.wish_id,
        };
        let wish = Opened::new(stream(wish_stream(cmd.wish_id)), &WishEvent::from(wish));
        Ok(Decision::events(vec![held.into()]).opening(wish))
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
            stars: stars.iter().map(|s| short(s)).collect(),
            wish: long("Loaners the same day"),
            notes: Some(long("Mentioned the robotics club")),
        })
    }

    #[test]
    fn register_once() {
        given::<Stakeholder>([])
            .when(StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: profile(),
                school_exists: true,
            }))
            .then_expect_events(vec![registered()]);
        given::<Stakeholder>([registered()])
            .when(StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: profile(),
                school_exists: true,
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
            }))
            .then_expect_error(DomainError::UnknownSchool);
        let district = Profile { school_id: None, role: StakeholderRole::It, ..profile() };
        given::<Stakeholder>([])
            .when(StakeholderCommand::Register(RegisterStakeholder {
                stakeholder_id: ID,
                profile: district,
                school_exists: false,
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
            }))
            .then_expect_nothing();
        let phone = Some(Phone::parse("555 0101").unwrap());
        given::<Stakeholder>([registered()])
            .when(StakeholderCommand::Update(UpdateStakeholder {
                profile: Profile { phone: phone.clone(), ..profile() },
                school_exists: true,
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
            }))
            .then_expect_error(DomainError::UnknownSchool);
        given::<Stakeholder>([])
            .when(StakeholderCommand::Update(UpdateStakeholder {
                profile: profile(),
                school_exists: true,
            }))
            .then_expect_error(DomainError::UnknownStakeholder);
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
                    stars: [short("Fast fixes"), short("Friendly desk")],
                    wish: long("Loaners the same day"),
                    notes: Some(long("Mentioned the robotics club")),
                    wish_id: WISH,
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
