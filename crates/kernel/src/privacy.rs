//! Which fields of which events are personal, and under whose key they are sealed: the one
//! table every store of procgate is opened with ([`sealed`]).
//!
//! A person's key (`stakeholder-{id}`) seals what identifies them and what they said; a
//! conversation's notes and a call's notes have keys of their own, owned by the person, so the
//! district's retention can erase old notes alone and erasing the person erases them all. The
//! requester's e-mail on a purchase check is not sealed: it is the district's purchasing record
//! (who asked to spend public money), which finance systems send and auditors must keep; it is
//! shown only to the roles that may read personal data (see `events::audience`).

use std::sync::Arc;

use auth::{Principal, Role};
use eventlog::{Mask, MasterKey, SealRule, SealedStore, Sealing, Store, Subject};
use events::audience::{Audience, PEOPLE_ROLES};
use events::privacy::{PURPOSE_CALL_NOTES, PURPOSE_CONVERSATION_NOTES, PURPOSE_PERSON};

const STAKEHOLDER: Subject = Subject::Stream;

/// The personal fields of procgate's events.
pub const RULES: &[SealRule] = &[
    person("stakeholder-registered", STAKEHOLDER, &[NAME, EMAIL, PHONE]),
    person("stakeholder-updated", STAKEHOLDER, &[NAME, EMAIL, PHONE]),
    person(
        "conversation-held",
        STAKEHOLDER,
        &[("their_vision", Mask::Text), ("stars", Mask::Text), ("wish", Mask::Text)],
    ),
    SealRule {
        event_type: "conversation-held",
        subject: Subject::Field { prefix: "conversation", path: &["conversation_id"] },
        owner: Some(STAKEHOLDER),
        purpose: PURPOSE_CONVERSATION_NOTES,
        dated: Some("held_at"),
        fields: &[("notes", Mask::Text)],
    },
    person("spoke-for-it", STAKEHOLDER, &[("about", Mask::Text)]),
    person("wish-recorded", BY_STAKEHOLDER_ID, &[("text", Mask::Text)]),
    person("followup-scheduled", BY_STAKEHOLDER_ID, &[("about", Mask::Text)]),
    person("followup-done", BY_STAKEHOLDER_ID, &[("note", Mask::Text)]),
    SealRule {
        event_type: "call-logged",
        subject: Subject::Field { prefix: "call", path: &["call_id"] },
        owner: Some(Subject::Field {
            prefix: "stakeholder",
            path: &["spoke_with", "stakeholder_id"],
        }),
        purpose: PURPOSE_CALL_NOTES,
        dated: Some("occurred_at"),
        // Whom IT spoke with: a stakeholder's id, or the name and phone or e-mail of someone
        // not registered, which only this key can erase.
        fields: &[("goal", Mask::Text), ("notes", Mask::Text), ("spoke_with", Mask::Null)],
    },
];

/// The person named by the event's `stakeholder_id`.
const BY_STAKEHOLDER_ID: Subject =
    Subject::Field { prefix: "stakeholder", path: &["stakeholder_id"] };

const NAME: (&str, Mask) = ("name", Mask::Text);
const EMAIL: (&str, Mask) = ("email", Mask::Email);
const PHONE: (&str, Mask) = ("phone", Mask::Null);

const fn person(
    event_type: &'static str,
    subject: Subject,
    fields: &'static [(&'static str, Mask)],
) -> SealRule {
    SealRule { event_type, subject, owner: None, purpose: PURPOSE_PERSON, dated: None, fields }
}

/// The sealing rules of procgate.
pub const SEALING: Sealing = Sealing { rules: RULES };

/// `store`, with procgate's personal fields sealed under `master`.
pub fn sealed(store: Store, master: MasterKey) -> Store {
    Arc::new(SealedStore::new(store, SEALING, master))
}

/// What a caller reads of personal data, in every service's answers and in the feed: as its
/// widest role (staff, then integration, then finance) would.
pub fn audience(principal: &Principal) -> Audience {
    let widest = [Role::Admin, Role::ItStaff, Role::Auditor, Role::Integration, Role::Finance]
        .into_iter()
        .find(|r| principal.has(*r));
    audience_of_role(widest, &principal.subject)
}

/// The audience of one role (an endpoint's or a subscription's owner) and its subject: people
/// ([`PEOPLE_ROLES`]: IT staff, auditors, administrators) read personal data (API.md, "Roles"); a finance system
/// reads its own purchases; integrations, and any role unknown, read no personal data.
pub fn audience_of_role(role: Option<Role>, subject: &str) -> Audience {
    match role {
        Some(role) if PEOPLE_ROLES.contains(&role.as_str()) => Audience::Staff,
        Some(Role::Finance) => Audience::Finance { subject: subject.to_owned() },
        _ => Audience::Integration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_reads_personal_data_as_its_widest_role() {
        let with = |roles: Vec<Role>| audience(&Principal::new("erp", roles));
        assert_eq!(with(vec![Role::Finance, Role::Auditor]), Audience::Staff);
        assert_eq!(with(vec![Role::ItStaff]), Audience::Staff);
        assert_eq!(with(vec![Role::Finance, Role::Integration]), Audience::Integration);
        assert_eq!(with(vec![Role::Finance]), Audience::Finance { subject: "erp".into() });
        assert_eq!(with(vec![]), Audience::Integration);
        assert_eq!(audience_of_role("admin".parse().ok(), "root"), Audience::Staff);
        assert_eq!(audience_of_role("nobody".parse().ok(), "x"), Audience::Integration);
    }

    #[test]
    fn rules_name_published_event_types_and_fields() {
        let schemas = events::event_schemas();
        for rule in RULES {
            let schema = schemas
                .iter()
                .find(|s| s.event_type == rule.event_type)
                .unwrap_or_else(|| panic!("{} is not a published event type", rule.event_type));
            let json = serde_json::to_string(&schema.schema).unwrap();
            for (field, _) in rule.fields {
                assert!(
                    json.contains(&format!("\"{field}\"")),
                    "{} has no {field}",
                    rule.event_type
                );
            }
        }
    }

    #[test]
    fn the_store_and_the_events_agree_on_erasures() {
        assert_eq!(eventlog::sealed::ERASURE_CATEGORY, events::privacy::PRIVACY_CATEGORY);
        assert_eq!(
            eventlog::sealed::ERASURE_TYPES.to_vec(),
            events::privacy::PrivacyEvent::EVENT_TYPES.to_vec()
        );
    }
}
