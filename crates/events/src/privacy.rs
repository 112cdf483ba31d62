//! Erasures of personal data, announced in the log.
//!
//! Personal fields are stored sealed, each person's with a key of their own (see the
//! `eventlog::sealed` module and the rules in `kernel::privacy`): a person's `name`, `email`
//! and `phone`; what they said in a conversation (`their_vision`, `stars`, `wish`); the
//! conversation's `notes` (a key per conversation, so retention can erase notes alone); their
//! wish's `text`; what they said for IT (`about`); IT's `goal` and `notes` on a call with them;
//! a follow-up's `about`. Erasing destroys keys, outside the chained log; these events say that
//! it happened, and make every reader forget the keys it holds and rebuild what it derived.
//!
//! | stream | what |
//! |---|---|
//! | `privacy-{stakeholder_id}` ([`erasure_stream`]) | `personal-data-erased`: a person erased on request |
//! | `privacy-{uuid}` ([`retention_stream`]) | `retention-erased`: data past the district's retention erased, one stream per day |

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::values::LongText;

/// The category of the erasure announcements (the store reads every event of it as one).
pub const PRIVACY_CATEGORY: &str = "privacy";

/// What a key sealing a person's own data is for.
pub const PURPOSE_PERSON: &str = "person";
/// What a key sealing one conversation's notes is for (erased by retention).
pub const PURPOSE_CONVERSATION_NOTES: &str = "conversation-notes";
/// What a key sealing one call's notes is for.
pub const PURPOSE_CALL_NOTES: &str = "call-notes";

/// The namespace of retention streams: v5(namespace, the day).
const RETENTION_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_7f0a_2b94_4d6e_9a37_0e8c_b1f4_d259);

/// The stream announcing the erasure of the stakeholder `id`.
pub fn erasure_stream(id: Uuid) -> String {
    format!("{PRIVACY_CATEGORY}-{id}")
}

/// The stream of the retention erasures of `day`.
pub fn retention_stream(day: NaiveDate) -> String {
    let id = Uuid::new_v5(&RETENTION_NAMESPACE, day.to_string().as_bytes());
    format!("{PRIVACY_CATEGORY}-{id}")
}

/// A person's personal data was erased: their keys are destroyed, and everything sealed with
/// them reads as erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonalDataErased {
    pub stakeholder_id: Uuid,
    /// Why (a request under the district's policy, the person left…).
    pub reason: LongText,
    /// Who erased it (the JWT subject).
    pub erased_by: String,
    /// The keys destroyed (`stakeholder-{id}`, `conversation-{id}`, `call-{id}`…).
    pub keys: Vec<String>,
}

/// Data past the district's retention was erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RetentionErased {
    /// What kind of data (`conversation-notes`).
    pub purpose: String,
    /// Data about times before this was erased.
    pub before: DateTime<Utc>,
    /// The retention in years.
    pub years: u32,
    /// The keys destroyed.
    pub keys: Vec<String>,
}

event_family! {
    /// The events of a `privacy-{uuid}` stream.
    pub enum PrivacyEvent in "privacy" {
        /// `personal-data-erased`
        PersonalDataErased(PersonalDataErased) = "personal-data-erased",
        /// `retention-erased`
        RetentionErased(RetentionErased) = "retention-erased",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_of_the_privacy_category() {
        let id = Uuid::from_u128(7);
        assert_eq!(erasure_stream(id), format!("privacy-{id}"));
        let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(retention_stream(day), retention_stream(day));
        assert!(retention_stream(day).starts_with("privacy-"));
        assert_ne!(retention_stream(day), retention_stream(day.succ_opt().unwrap()));
    }

    #[test]
    fn round_trips() {
        let events = [
            PrivacyEvent::from(PersonalDataErased {
                stakeholder_id: Uuid::from_u128(1),
                reason: LongText::parse("Left the district; asked to be forgotten").unwrap(),
                erased_by: "admin@district.org".into(),
                keys: vec!["stakeholder-1".into()],
            }),
            PrivacyEvent::from(RetentionErased {
                purpose: PURPOSE_CONVERSATION_NOTES.into(),
                before: DateTime::parse_from_rfc3339("2020-11-30T00:00:00Z").unwrap().into(),
                years: 6,
                keys: vec![],
            }),
        ];
        for event in events {
            let back = PrivacyEvent::from_parts(event.event_type(), &event.to_data()).unwrap();
            assert_eq!(back, event);
        }
        assert_eq!(PrivacyEvent::CATEGORY, PRIVACY_CATEGORY);
    }
}
