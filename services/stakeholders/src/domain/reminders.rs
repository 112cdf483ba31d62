//! The reminders' settings, in the `reminder-settings` stream (the published
//! [`events::reminders`] says when reminders fall due and folds the settings): how many
//! business days before its due date a promise or a follow-up is due soon, and when a
//! relationship needs a nudge ([`ContactSettings`]): how many business days without a
//! conversation make a person going cold, and the half-life of the contact's worth in their
//! health ([`crate::domain::health`]).
//!
//! Rules:
//! - A setting the command leaves out stays as it is (so a client that only knows the lead
//!   keeps the district's contact settings).
//! - Setting what is already in force (a lead of 2, going cold after 20 and a half-life of 45
//!   business days until set) emits nothing, so a repeated `PUT` neither grows the log nor
//!   moves the settings' version. A change writes every setting, so each `reminders-set` reads
//!   whole.

use events::reminders::{
    BusinessDaySpan, BusinessDays, ContactSettings, ReminderEvent, ReminderSettings,
};
use kernel::{Aggregate, At, Decision, Versioned};

/// The `reminder-settings` stream.
pub fn settings_stream() -> eventlog::StreamName {
    kernel::stream(events::reminders::REMINDER_SETTINGS_STREAM)
}

/// The reminders' settings as an aggregate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reminders(pub ReminderSettings);

/// What can be done to the reminders' settings.
#[derive(Debug, Clone, PartialEq)]
pub enum RemindersCommand {
    /// `PUT /v1/reminder-settings`; `None`: as it is.
    Set {
        due_soon_business_days: BusinessDays,
        going_cold_after_business_days: Option<BusinessDaySpan>,
        contact_half_life_business_days: Option<BusinessDaySpan>,
    },
}

impl Aggregate for Reminders {
    type Event = ReminderEvent;
    type Command = RemindersCommand;
    /// Nothing is refused.
    type Error = std::convert::Infallible;

    fn handle(&self, command: RemindersCommand) -> Result<Decision<ReminderEvent>, Self::Error> {
        let RemindersCommand::Set {
            due_soon_business_days,
            going_cold_after_business_days,
            contact_half_life_business_days,
        } = command;
        let now = self.0;
        let wanted = ReminderSettings {
            due_soon_business_days,
            contact: ContactSettings {
                going_cold_after: going_cold_after_business_days
                    .unwrap_or(now.contact.going_cold_after),
                half_life: contact_half_life_business_days.unwrap_or(now.contact.half_life),
            },
            version: now.version,
        };
        Ok(if wanted == now { Decision::nothing() } else { vec![wanted.set_event().into()].into() })
    }

    fn apply(&mut self, event: &ReminderEvent, at: At) {
        self.0.apply(event, at.version);
    }
}

impl Versioned for Reminders {
    fn version(&self) -> u64 {
        self.0.version
    }
}

#[cfg(test)]
mod tests {
    use events::reminders::RemindersSet;
    use kernel::testing::given;

    use super::*;

    fn days(n: u8) -> BusinessDays {
        BusinessDays::new(n).unwrap()
    }

    fn span(n: u16) -> BusinessDaySpan {
        BusinessDaySpan::new(n).unwrap()
    }

    fn set(n: u8) -> RemindersCommand {
        RemindersCommand::Set {
            due_soon_business_days: days(n),
            going_cold_after_business_days: None,
            contact_half_life_business_days: None,
        }
    }

    /// What a change writes: every setting.
    fn written(lead: u8, cold: u16, half_life: u16) -> ReminderEvent {
        RemindersSet {
            due_soon_business_days: days(lead),
            going_cold_after_business_days: Some(span(cold)),
            contact_half_life_business_days: Some(span(half_life)),
        }
        .into()
    }

    #[test]
    fn setting_the_lead_in_force_emits_nothing() {
        given::<Reminders>([]).when(set(2)).then_expect_events(vec![]);
        given::<Reminders>([]).when(set(3)).then_expect_events(vec![written(3, 20, 45)]);
        given::<Reminders>([written(3, 20, 45)]).when(set(3)).then_expect_events(vec![]);
        given::<Reminders>([written(3, 20, 45)])
            .when(set(2))
            .then_expect_events(vec![written(2, 20, 45)]);
    }

    #[test]
    fn contact_settings_left_out_stay_as_they_are() {
        // Given a district that set them, when a client that knows only the lead sets it,
        // then the contact settings are written as they were.
        given::<Reminders>([written(2, 10, 90)])
            .when(set(4))
            .then_expect_events(vec![written(4, 10, 90)]);
        // An event from before the contact settings existed leaves the defaults.
        let older = RemindersSet { due_soon_business_days: days(3), ..Default::default() };
        given::<Reminders>([older.into()]).when(set(3)).then_expect_events(vec![]);
        let change = RemindersCommand::Set {
            due_soon_business_days: days(2),
            going_cold_after_business_days: Some(span(15)),
            contact_half_life_business_days: None,
        };
        given::<Reminders>([]).when(change.clone()).then_expect_events(vec![written(2, 15, 45)]);
        given::<Reminders>([written(2, 15, 45)]).when(change).then_expect_events(vec![]);
    }
}
