//! The reminders' settings: how many business days before its due date a promise or a
//! follow-up is due soon, in the `reminder-settings` stream (the published
//! [`events::reminders`] says when reminders fall due and folds the settings).
//!
//! Rule: setting the lead already in force (2 business days until set) emits nothing, so a
//! repeated `PUT` neither grows the log nor moves the settings' version.

use events::reminders::{BusinessDays, ReminderEvent, ReminderSettings, RemindersSet};
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
    /// `PUT /v1/reminder-settings`.
    Set { due_soon_business_days: BusinessDays },
}

impl Aggregate for Reminders {
    type Event = ReminderEvent;
    type Command = RemindersCommand;
    /// Nothing is refused.
    type Error = std::convert::Infallible;

    fn handle(&self, command: RemindersCommand) -> Result<Decision<ReminderEvent>, Self::Error> {
        let RemindersCommand::Set { due_soon_business_days } = command;
        Ok(if self.0.due_soon_business_days == due_soon_business_days {
            Decision::nothing()
        } else {
            vec![RemindersSet { due_soon_business_days }.into()].into()
        })
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
    use kernel::testing::given;

    use super::*;

    fn days(n: u8) -> BusinessDays {
        BusinessDays::new(n).unwrap()
    }

    fn set(n: u8) -> RemindersCommand {
        RemindersCommand::Set { due_soon_business_days: days(n) }
    }

    #[test]
    fn setting_the_lead_in_force_emits_nothing() {
        given::<Reminders>([]).when(set(2)).then_expect_events(vec![]);
        given::<Reminders>([])
            .when(set(3))
            .then_expect_events(vec![RemindersSet { due_soon_business_days: days(3) }.into()]);
        let set3 = RemindersSet { due_soon_business_days: days(3) };
        given::<Reminders>([set3.clone().into()]).when(set(3)).then_expect_events(vec![]);
        given::<Reminders>([set3.into()])
            .when(set(2))
            .then_expect_events(vec![RemindersSet { due_soon_business_days: days(2) }.into()]);
    }
}
