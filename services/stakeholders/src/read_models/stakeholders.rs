//! `stakeholders.stakeholders`: each person's profile, what they said, and references to what
//! IT owes them (their wishes, follow-ups and promises, whose own documents are elsewhere).

use chrono::{DateTime, Utc};
use eventlog::Filter;
use events::Published;
use events::privacy::{PRIVACY_CATEGORY, PrivacyEvent};
use events::stakeholders::{
    ConversationHeld, FOLLOWUP_CATEGORY, FollowUpEvent, PROMISE_CATEGORY, Phone, PromiseEvent,
    PromiseTo, STAKEHOLDER_CATEGORY, SpokeForIt, StakeholderEvent, StakeholderRegistered,
    StakeholderRole, StakeholderUpdated, StarsAcknowledged, WISH_CATEGORY, WishEvent,
};
use events::values::{Email, SchoolId, ShortText};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stakeholder (`stakeholders.stakeholders`): the profile, what they said, and references to
/// what IT owes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StakeholderDoc {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    pub school_id: Option<SchoolId>,
    /// Every conversation, in the order they were recorded.
    pub conversations: Vec<ConversationHeld>,
    /// When the latest conversation was held.
    pub last_contact: Option<DateTime<Utc>>,
    pub wish_ids: Vec<Uuid>,
    pub followup_ids: Vec<Uuid>,
    /// Promises made to them personally.
    pub promise_ids: Vec<Uuid>,
    /// Their stars IT praised in public.
    #[serde(default)]
    pub acknowledgements: Vec<StarsAcknowledged>,
    /// When they spoke for IT, and to whom.
    #[serde(default)]
    pub spoke_for_it: Vec<SpokeForIt>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When their personal data was erased.
    #[serde(default)]
    pub erased_at: Option<DateTime<Utc>>,
}

impl StakeholderDoc {
    /// A person registered at `at`: their profile, nothing said or owed yet.
    pub fn registered(r: StakeholderRegistered, at: DateTime<Utc>) -> Self {
        let StakeholderRegistered { stakeholder_id, name, email, phone, role, school_id } = r;
        Self {
            stakeholder_id,
            name,
            email,
            phone,
            role,
            school_id,
            conversations: vec![],
            last_contact: None,
            wish_ids: vec![],
            followup_ids: vec![],
            promise_ids: vec![],
            acknowledgements: vec![],
            spoke_for_it: vec![],
            registered_at: at,
            updated_at: at,
            erased_at: None,
        }
    }

    /// Their profile as an update has it: whole.
    fn profile(&mut self, u: StakeholderUpdated) {
        let StakeholderUpdated { name, email, phone, role, school_id } = u;
        (self.name, self.email, self.phone, self.role) = (name, email, phone, role);
        self.school_id = school_id;
    }

    /// Whether they are a principal of a school (the school's promises and held purchases then
    /// count towards their relationship health).
    pub fn principal_of(&self) -> Option<&SchoolId> {
        self.school_id.as_ref().filter(|_| self.role == StakeholderRole::Principal)
    }
}

/// **The principal** of `school` among `people` (the register), as the reports name one: the
/// first registered of its principals not erased (a successor before a principal who left and
/// was erased), else the first registered; `None` when it has none.
pub fn school_principal<'a>(
    people: &'a [StakeholderDoc],
    school: &SchoolId,
) -> Option<&'a StakeholderDoc> {
    people
        .iter()
        .filter(|p| p.principal_of() == Some(school))
        .min_by_key(|p| (p.erased_at.is_some(), p.registered_at))
}

/// Keeps `stakeholders.stakeholders`.
#[derive(Debug, Default)]
pub struct Stakeholders;

/// The events of other streams that name a stakeholder.
const STAKEHOLDER_REFERENCES: [&str; 4] =
    ["wish-recorded", "followup-scheduled", "promise-made", "personal-data-erased"];

/// The stakeholder an event is about, if it touches a stakeholder document.
fn key(event: &Recorded<'_>) -> Option<String> {
    match event.event {
        Published::Stakeholder(_) => Some(event.stream_id().to_owned()),
        Published::Privacy(PrivacyEvent::PersonalDataErased(e)) => {
            Some(e.stakeholder_id.to_string())
        }
        Published::Wish(WishEvent::Recorded(r)) => Some(r.stakeholder_id.to_string()),
        Published::FollowUp(FollowUpEvent::Scheduled(s)) => Some(s.stakeholder_id.to_string()),
        Published::Promise(PromiseEvent::Made(m)) => match m.to {
            PromiseTo::Stakeholder { stakeholder_id } => Some(stakeholder_id.to_string()),
            PromiseTo::School { .. } => None,
        },
        _ => None,
    }
}

impl ReadModel for Stakeholders {
    const NAME: &'static str = "stakeholders.stakeholders";
    type Doc = StakeholderDoc;

    fn filter(&self) -> Filter {
        Filter::categories([
            STAKEHOLDER_CATEGORY,
            WISH_CATEGORY,
            FOLLOWUP_CATEGORY,
            PROMISE_CATEGORY,
            PRIVACY_CATEGORY,
        ])
        .with_types(StakeholderEvent::EVENT_TYPES.iter().copied().chain(STAKEHOLDER_REFERENCES))
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        key(event).into_iter().collect()
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, StakeholderDoc>) -> Applied {
        let Some(key) = key(event) else { return Ok(()) };
        let at = event.recorded_at;
        if let Published::Stakeholder(StakeholderEvent::Registered(r)) = event.event {
            docs.put(&key, &StakeholderDoc::registered(r.clone(), at));
            return Ok(());
        }
        let mut doc = docs.require(&key, event)?;
        match event.event {
            Published::Stakeholder(StakeholderEvent::Updated(u)) => doc.profile(u.clone()),
            Published::Stakeholder(StakeholderEvent::ConversationHeld(c)) => {
                doc.last_contact = doc.last_contact.max(Some(c.held_at));
                doc.conversations.push(c.clone());
            }
            Published::Stakeholder(StakeholderEvent::StarsAcknowledged(a)) => {
                doc.acknowledgements.push(a.clone())
            }
            Published::Stakeholder(StakeholderEvent::SpokeForIt(s)) => {
                doc.spoke_for_it.push(s.clone())
            }
            Published::Privacy(PrivacyEvent::PersonalDataErased(_)) => {
                doc.erased_at.get_or_insert(at);
            }
            Published::Wish(WishEvent::Recorded(r)) => doc.wish_ids.push(r.wish_id),
            Published::FollowUp(FollowUpEvent::Scheduled(s)) => {
                doc.followup_ids.push(s.followup_id)
            }
            Published::Promise(PromiseEvent::Made(m)) => doc.promise_ids.push(m.promise_id),
            _ => {}
        }
        doc.updated_at = at;
        docs.put(&key, &doc);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use events::stakeholders::stakeholder_stream;

    use super::*;
    use crate::domain::stakeholder::{Profile, Stakeholder, StakeholderCommand, UpdateStakeholder};
    use crate::read_models::testing::*;

    #[test]
    fn the_principal_of_a_school_is_its_first_not_erased() {
        let docs = project(&crate::read_models::all(), &district().events, 1000);
        let dana: StakeholderDoc = doc::<Stakeholders>(&docs, DANA);
        let successor = StakeholderDoc {
            stakeholder_id: Uuid::from_u128(0xE),
            registered_at: dana.registered_at + chrono::TimeDelta::days(300),
            ..dana.clone()
        };
        let people = [dana.clone(), successor.clone()];
        assert_eq!(school_principal(&people, &lincoln()).map(|p| p.stakeholder_id), Some(DANA));
        // Dana leaves and is erased: her successor is the principal; alone, she still is.
        let erased = StakeholderDoc { erased_at: Some(successor.registered_at), ..dana };
        let people = [erased.clone(), successor];
        let principal = school_principal(&people, &lincoln()).map(|p| p.stakeholder_id);
        assert_eq!(principal, Some(Uuid::from_u128(0xE)));
        let alone = school_principal(std::slice::from_ref(&erased), &lincoln());
        assert_eq!(alone.map(|p| p.stakeholder_id), Some(DANA));
    }

    #[test]
    fn stakeholders_keep_profile_conversations_and_references() {
        let docs = project(&crate::read_models::all(), &district().events, 1000);
        let dana: StakeholderDoc = doc::<Stakeholders>(&docs, DANA);
        assert_eq!(dana.role, StakeholderRole::Principal);
        assert_eq!(dana.principal_of(), Some(&lincoln()));
        assert_eq!(dana.conversations.len(), 1);
        assert_eq!(dana.conversations[0].wish_id, Some(WISH_DANA));
        assert_eq!(dana.last_contact, Some(dana.conversations[0].held_at));
        assert_eq!(dana.wish_ids, [WISH_DANA]);
        assert_eq!(dana.followup_ids, [FOLLOWUP_LATE, FOLLOWUP_DONE]);
        assert_eq!(dana.promise_ids, [PROMISE_DANA]);
        let sam: StakeholderDoc = doc::<Stakeholders>(&docs, SAM);
        assert_eq!(sam.principal_of(), None);
        assert_eq!(
            (sam.wish_ids.as_slice(), sam.promise_ids.as_slice()),
            (&[WISH_SAM][..], &[PROMISE_SAM][..])
        );
    }

    #[test]
    fn a_profile_update_replaces_the_profile() {
        let mut log = district();
        let profile = Profile {
            name: short("Sam Ortiz"),
            email: Email::parse("sam@lincoln.example").unwrap(),
            phone: Some(Phone::parse("555 0101").unwrap()),
            role: StakeholderRole::Librarian,
            school_id: Some(washington()),
        };
        let cmd = StakeholderCommand::Update(UpdateStakeholder {
            profile,
            school_exists: true,
            email: Default::default(),
            current_email: Default::default(),
            erased: false,
        });
        log.run::<Stakeholder>(&stakeholder_stream(SAM), cmd);
        let docs = project(&crate::read_models::all(), &log.events, 1000);
        let sam: StakeholderDoc = doc::<Stakeholders>(&docs, SAM);
        assert_eq!(sam.role, StakeholderRole::Librarian);
        assert_eq!(sam.school_id, Some(washington()));
        assert_eq!(sam.phone.unwrap().as_str(), "555 0101");
        assert_eq!(sam.conversations.len(), 1, "conversations survive an update");
    }
}
