//! Every published event in one enum: a recorded event decoded once, by its stream category,
//! into its family's enum.
//!
//! Readers that follow several categories (the services' read models, the reports) match on
//! [`Published`] instead of comparing type strings, so an event is decoded in one place and a
//! renamed type cannot silently stop matching.

use serde_json::Value;

use crate::DecodeError;
use crate::anchors::AnchorEvent;
use crate::card::{
    CardEvent, CardMatchEvent, CardTransactionEvent, ReconciliationEvent, StatementEvent,
};
use crate::clocks::SlaEvent;
use crate::district::DistrictEvent;
use crate::gate::{IdempotencyEvent, PurchaseEvent, StandardsEvent};
use crate::notifications::{MailEvent, MailPreferenceEvent, SubscriptionEvent, WebhookEvent};
use crate::privacy::PrivacyEvent;
use crate::reminders::ReminderEvent;
use crate::rounds::RoundEvent;
use crate::school::SchoolEvent;
use crate::stakeholders::{
    EmailEvent, FollowUpEvent, PromiseEvent, StakeholderEvent, VisionEvent, WishEvent,
};

/// A published event of any family.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    Standards(StandardsEvent),
    Purchase(PurchaseEvent),
    Idempotency(IdempotencyEvent),
    School(SchoolEvent),
    Stakeholder(StakeholderEvent),
    Wish(WishEvent),
    Promise(PromiseEvent),
    FollowUp(FollowUpEvent),
    Email(EmailEvent),
    Card(CardEvent),
    Statement(StatementEvent),
    CardTransaction(CardTransactionEvent),
    Reconciliation(ReconciliationEvent),
    CardMatch(CardMatchEvent),
    District(DistrictEvent),
    Sla(SlaEvent),
    Reminder(ReminderEvent),
    Webhook(WebhookEvent),
    Subscription(SubscriptionEvent),
    Mail(MailEvent),
    MailPreference(MailPreferenceEvent),
    Anchor(AnchorEvent),
    Vision(VisionEvent),
    Privacy(PrivacyEvent),
    Round(RoundEvent),
}

impl Published {
    /// Every stream category with published events.
    pub const CATEGORIES: &'static [&'static str] = &[
        StandardsEvent::CATEGORY,
        PurchaseEvent::CATEGORY,
        IdempotencyEvent::CATEGORY,
        SchoolEvent::CATEGORY,
        StakeholderEvent::CATEGORY,
        WishEvent::CATEGORY,
        PromiseEvent::CATEGORY,
        FollowUpEvent::CATEGORY,
        EmailEvent::CATEGORY,
        CardEvent::CATEGORY,
        StatementEvent::CATEGORY,
        CardTransactionEvent::CATEGORY,
        ReconciliationEvent::CATEGORY,
        CardMatchEvent::CATEGORY,
        DistrictEvent::CATEGORY,
        SlaEvent::CATEGORY,
        ReminderEvent::CATEGORY,
        WebhookEvent::CATEGORY,
        SubscriptionEvent::CATEGORY,
        MailEvent::CATEGORY,
        MailPreferenceEvent::CATEGORY,
        AnchorEvent::CATEGORY,
        VisionEvent::CATEGORY,
        PrivacyEvent::CATEGORY,
        RoundEvent::CATEGORY,
    ];

    /// The event of a stream of `category`, from its type and data.
    pub fn decode(category: &str, event_type: &str, data: &Value) -> Result<Self, DecodeError> {
        Ok(match category {
            StandardsEvent::CATEGORY => {
                Self::Standards(StandardsEvent::from_parts(event_type, data)?)
            }
            PurchaseEvent::CATEGORY => Self::Purchase(PurchaseEvent::from_parts(event_type, data)?),
            IdempotencyEvent::CATEGORY => {
                Self::Idempotency(IdempotencyEvent::from_parts(event_type, data)?)
            }
            SchoolEvent::CATEGORY => Self::School(SchoolEvent::from_parts(event_type, data)?),
            StakeholderEvent::CATEGORY => {
                Self::Stakeholder(StakeholderEvent::from_parts(event_type, data)?)
            }
            VisionEvent::CATEGORY => Self::Vision(VisionEvent::from_parts(event_type, data)?),
            WishEvent::CATEGORY => Self::Wish(WishEvent::from_parts(event_type, data)?),
            PromiseEvent::CATEGORY => Self::Promise(PromiseEvent::from_parts(event_type, data)?),
            FollowUpEvent::CATEGORY => Self::FollowUp(FollowUpEvent::from_parts(event_type, data)?),
            EmailEvent::CATEGORY => Self::Email(EmailEvent::from_parts(event_type, data)?),
            DistrictEvent::CATEGORY => Self::District(DistrictEvent::from_parts(event_type, data)?),
            SlaEvent::CATEGORY => Self::Sla(SlaEvent::from_parts(event_type, data)?),
            ReminderEvent::CATEGORY => Self::Reminder(ReminderEvent::from_parts(event_type, data)?),
            CardEvent::CATEGORY => Self::Card(CardEvent::from_parts(event_type, data)?),
            StatementEvent::CATEGORY => {
                Self::Statement(StatementEvent::from_parts(event_type, data)?)
            }
            CardTransactionEvent::CATEGORY => {
                Self::CardTransaction(CardTransactionEvent::from_parts(event_type, data)?)
            }
            ReconciliationEvent::CATEGORY => {
                Self::Reconciliation(ReconciliationEvent::from_parts(event_type, data)?)
            }
            CardMatchEvent::CATEGORY => {
                Self::CardMatch(CardMatchEvent::from_parts(event_type, data)?)
            }
            WebhookEvent::CATEGORY => Self::Webhook(WebhookEvent::from_parts(event_type, data)?),
            SubscriptionEvent::CATEGORY => {
                Self::Subscription(SubscriptionEvent::from_parts(event_type, data)?)
            }
            MailEvent::CATEGORY => Self::Mail(MailEvent::from_parts(event_type, data)?),
            MailPreferenceEvent::CATEGORY => {
                Self::MailPreference(MailPreferenceEvent::from_parts(event_type, data)?)
            }
            AnchorEvent::CATEGORY => Self::Anchor(AnchorEvent::from_parts(event_type, data)?),
            PrivacyEvent::CATEGORY => Self::Privacy(PrivacyEvent::from_parts(event_type, data)?),
            RoundEvent::CATEGORY => Self::Round(RoundEvent::from_parts(event_type, data)?),
            other => return Err(DecodeError::UnknownCategory { category: other.to_owned() }),
        })
    }

    /// The event's type on the wire.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Standards(e) => e.event_type(),
            Self::Purchase(e) => e.event_type(),
            Self::Idempotency(e) => e.event_type(),
            Self::School(e) => e.event_type(),
            Self::Stakeholder(e) => e.event_type(),
            Self::Wish(e) => e.event_type(),
            Self::Promise(e) => e.event_type(),
            Self::FollowUp(e) => e.event_type(),
            Self::Email(e) => e.event_type(),
            Self::District(e) => e.event_type(),
            Self::Sla(e) => e.event_type(),
            Self::Reminder(e) => e.event_type(),
            Self::Card(e) => e.event_type(),
            Self::Statement(e) => e.event_type(),
            Self::CardTransaction(e) => e.event_type(),
            Self::Reconciliation(e) => e.event_type(),
            Self::CardMatch(e) => e.event_type(),
            Self::Webhook(e) => e.event_type(),
            Self::Subscription(e) => e.event_type(),
            Self::Mail(e) => e.event_type(),
            Self::MailPreference(e) => e.event_type(),
            Self::Anchor(e) => e.event_type(),
            Self::Vision(e) => e.event_type(),
            Self::Privacy(e) => e.event_type(),
            Self::Round(e) => e.event_type(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::school::SchoolRegistered;
    use crate::values::{SchoolId, ShortText};

    #[test]
    fn decodes_by_category_and_refuses_unknown_ones() {
        let event = SchoolEvent::from(SchoolRegistered {
            school_id: SchoolId::parse("lincoln-elem").unwrap(),
            name: ShortText::parse("Lincoln").unwrap(),
        });
        let decoded = Published::decode("school", event.event_type(), &event.to_data()).unwrap();
        assert_eq!(decoded, Published::School(event.clone()));
        assert_eq!(decoded.event_type(), "school-registered");
        assert!(matches!(
            Published::decode("purchase", event.event_type(), &event.to_data()),
            Err(DecodeError::UnknownType { .. })
        ));
        assert!(matches!(
            Published::decode("weather", "rain", &Value::Null),
            Err(DecodeError::UnknownCategory { .. })
        ));
        assert_eq!(Published::CATEGORIES.len(), 25);
    }
}
