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

use super::{CLOCK_SKEW, DomainError, not_before};

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

/// An update carries the whole profile, as a registration does
/// ([`StakeholderRegistered::profile`]).
impl From<StakeholderUpdated> for Profile {
    fn from(e: StakeholderUpdated) -> Self {
        let StakeholderUpdated { name, email, phone, role, school_id } = e;
        Self { name, email, phone, role, school_id }
    }
}

impl From<Profile> for StakeholderUpdated {
    fn from(p: Profile) -> Self {
        let Profile { name, email, phone, role, school_id } = p;
        Self { name, email, phone, role, school_id }
    }
}

/// A stakeholder, rebuilt from their stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stakeholder {
    pub stakeholder_id: Option<Uuid>,
    pub profile: Option<Profile>,
    pub conversations: u32,
    pub last_contact: Option<DateTime<Utc>>,
    /// The conversations that recorded two stars, with when each was held.
    pub starred: Vec<(Uuid, DateTime<Utc>)>,
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
    /// The district's date of the conversation (`None`: unknown): the praise is not before.
    pub held_on: Option<NaiveDate>,
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
    /// Whether the person's personal data was erased (`personal-data-erased`).
    pub erased: bool,
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

impl Stakeholder {
    /// When the conversation `conversation_id` that recorded their two stars was held; `None`
    /// when it is not theirs or recorded none.
    pub fn held_at(&self, conversation_id: Uuid) -> Option<DateTime<Utc>> {
        self.starred.iter().find(|(id, _)| *id == conversation_id).map(|(_, at)| *at)
    }
}

impl Aggregate for Stakeholder {
    type Event = StakeholderEvent;
    type Command = StakeholderCommand;
    type Error = DomainError;

    fn apply(&mut self, event: &StakeholderEvent, _: At) {
        match event {
            StakeholderEvent::Registered(e) => {
                self.stakeholder_id = Some(e.stakeholder_id);
                self.profile = Some(Profile::from(e.profile()));
            }
            StakeholderEvent::Updated(e) => self.profile = Some(Profile::from(e.clone())),
            StakeholderEvent::ConversationHeld(e) => {
                self.conversations += 1;
                self.last_contact = self.last_contact.max(Some(e.held_at));
                if e.stars.is_some() {
                    self.starred.push((e.conversation_id, e.held_at));
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
                let claimed = EmailClaimed { stakeholder_id: id }.into();
                let claim = on_claim(&cmd.profile.email, cmd.email, claimed);
                let registered = StakeholderRegistered::new(id, cmd.profile.into());
                Ok(Decision::events(vec![registered.into()]).opening(claim))
            }
            StakeholderCommand::Update(cmd) => {
                let current = self.profile.as_ref().ok_or(DomainError::UnknownStakeholder)?;
                if *current == cmd.profile {
                    return Ok(Decision::nothing());
                }
                let (new, now) = (&cmd.profile, current);
                if cmd.erased
                    && (new.name != now.name || !new.email.is(&now.email) || new.phone != now.phone)
                {
                    return Err(DomainError::Erased);
                }
                check_school(&cmd.profile, cmd.school_exists)?;
                let id = self.stakeholder_id.ok_or(DomainError::UnknownStakeholder)?;
                let moved = !current.email.is(&cmd.profile.email);
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
                let decision = Decision::events(vec![StakeholderUpdated::from(cmd.profile).into()]);
                Ok(claims.into_iter().fold(decision, Decision::opening))
            }
            StakeholderCommand::HoldConversation(cmd) => self.hold_conversation(cmd),
            StakeholderCommand::AcknowledgeStars(cmd) => {
                if self.stakeholder_id.is_none() {
                    return Err(DomainError::UnknownStakeholder);
                }
                if self.held_at(cmd.conversation_id).is_none() {
                    return Err(DomainError::NoStarsToAcknowledge);
                }
                if cmd.on > cmd.today {
                    return Err(DomainError::DateInFuture { field: "on" });
                }
                if let Some(held_on) = cmd.held_on {
                    let because = "stars are praised on the day of their conversation or later";
                    not_before("on", cmd.on, held_on, because)?;
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
mod tests;
