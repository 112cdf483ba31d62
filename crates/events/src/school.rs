//! Schools and their purchasing agreements: written by the stakeholder relations service, read
//! by the gate.
//!
//! Each school has one stream, `school-{school_id}` ([`school_stream`]). A school is *gated*
//! while its principal's purchasing agreement stands: from `agreement-signed` until
//! `agreement-withdrawn` (and again after a new `agreement-signed`). The gate folds a school's
//! events into a [`SchoolStatus`] and holds, rather than merely flags, the purchases of gated
//! schools.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::values::{LongText, SchoolId, ShortText};

/// The category of school streams.
pub const SCHOOL_CATEGORY: &str = "school";

/// The stream of the school `id`: `school-{id}` (`school-lincoln-elem`).
pub fn school_stream(id: &SchoolId) -> String {
    format!("{SCHOOL_CATEGORY}-{id}")
}

/// A school was registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolRegistered {
    pub school_id: SchoolId,
    pub name: ShortText,
}

/// A school's details changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolUpdated {
    pub school_id: SchoolId,
    pub name: ShortText,
}

/// The school's principal signed the purchasing agreement: the school's technology purchases
/// now go through IT, and IT never cancels one before calling the requester and proposing an
/// alternative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgreementSigned {
    pub school_id: SchoolId,
    /// The stakeholder id of the principal who signed.
    pub principal_id: Uuid,
    pub signed_on: NaiveDate,
}

/// The school withdrew from the purchasing agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgreementWithdrawn {
    pub school_id: SchoolId,
    pub reason: LongText,
    pub withdrawn_on: NaiveDate,
}

event_family! {
    /// The events of a `school-{school_id}` stream.
    pub enum SchoolEvent in "school" {
        /// `school-registered`
        Registered(SchoolRegistered) = "school-registered",
        /// `school-updated`
        Updated(SchoolUpdated) = "school-updated",
        /// `agreement-signed`
        AgreementSigned(AgreementSigned) = "agreement-signed",
        /// `agreement-withdrawn`
        AgreementWithdrawn(AgreementWithdrawn) = "agreement-withdrawn",
    }
}

/// The agreement a school has signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgreementInfo {
    pub principal_id: Uuid,
    pub signed_on: NaiveDate,
}

/// A school as the gate needs it: a pure fold of its stream. An unknown school (no events) is
/// not registered and not gated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SchoolStatus {
    pub registered: bool,
    pub name: Option<ShortText>,
    /// The agreement in force, if any.
    pub agreement: Option<AgreementInfo>,
}

impl SchoolStatus {
    /// The status after `events`, in stream order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a SchoolEvent>) -> Self {
        let mut status = Self::default();
        for event in events {
            status.apply(event);
        }
        status
    }

    /// Applies one event. A later signature replaces an earlier one; a withdrawal ends it.
    pub fn apply(&mut self, event: &SchoolEvent) {
        match event {
            SchoolEvent::Registered(e) => {
                self.registered = true;
                self.name = Some(e.name.clone());
            }
            SchoolEvent::Updated(e) => self.name = Some(e.name.clone()),
            SchoolEvent::AgreementSigned(e) => {
                self.agreement =
                    Some(AgreementInfo { principal_id: e.principal_id, signed_on: e.signed_on });
            }
            SchoolEvent::AgreementWithdrawn(_) => self.agreement = None,
        }
    }

    /// Whether the school's purchases are gated: it has a purchasing agreement in force.
    pub fn is_gated(&self) -> bool {
        self.agreement.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecodeError, EventFamily};

    fn id() -> SchoolId {
        SchoolId::parse("lincoln-elem").unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn events() -> Vec<SchoolEvent> {
        vec![
            SchoolRegistered { school_id: id(), name: ShortText::parse("Lincoln").unwrap() }.into(),
            SchoolUpdated {
                school_id: id(),
                name: ShortText::parse("Lincoln Elementary").unwrap(),
            }
            .into(),
            AgreementSigned {
                school_id: id(),
                principal_id: Uuid::from_u128(7),
                signed_on: day("2024-08-20"),
            }
            .into(),
            AgreementWithdrawn {
                school_id: id(),
                reason: LongText::parse("New principal wants to review it").unwrap(),
                withdrawn_on: day("2025-01-10"),
            }
            .into(),
        ]
    }

    #[test]
    fn events_round_trip() {
        let events = events();
        let mut types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
        types.sort_unstable();
        let mut all = SchoolEvent::EVENT_TYPES.to_vec();
        all.sort_unstable();
        assert_eq!(types, all);
        for event in events {
            let back = SchoolEvent::from_parts(event.event_type(), &event.to_data()).unwrap();
            assert_eq!(back, event);
        }
        assert_eq!(events_data_of("agreement-signed")["signed_on"], "2024-08-20");
    }

    fn events_data_of(event_type: &str) -> serde_json::Value {
        events().into_iter().find(|e| e.event_type() == event_type).unwrap().to_data()
    }

    #[test]
    fn decode_errors() {
        assert!(matches!(
            <SchoolEvent as EventFamily>::from_parts("school-closed", &serde_json::json!({})),
            Err(DecodeError::UnknownType { category: "school", .. })
        ));
        let bad = serde_json::json!({"school_id": "Lincoln Elem", "name": "x"});
        assert!(SchoolEvent::from_parts("school-registered", &bad).is_err());
    }

    #[test]
    fn status_fold() {
        let events = events();
        assert!(!SchoolStatus::default().is_gated());
        let registered = SchoolStatus::from_events(&events[..1]);
        assert!(registered.registered && !registered.is_gated());
        let signed = SchoolStatus::from_events(&events[..3]);
        assert!(signed.is_gated());
        assert_eq!(signed.name.as_ref().unwrap().as_str(), "Lincoln Elementary");
        assert_eq!(
            signed.agreement,
            Some(AgreementInfo { principal_id: Uuid::from_u128(7), signed_on: day("2024-08-20") })
        );
        let withdrawn = SchoolStatus::from_events(&events);
        assert!(withdrawn.registered && !withdrawn.is_gated());
        let mut resigned = withdrawn.clone();
        resigned.apply(&events[2]);
        assert!(resigned.is_gated());
    }

    #[test]
    fn stream_name() {
        assert_eq!(school_stream(&id()), "school-lincoln-elem");
    }
}
