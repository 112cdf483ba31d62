//! The district's settings: name, calendar (time zone, business hours, closures) and the
//! clocks' targets, all in the `district-settings` stream, folded by the published
//! [`events::district::District`].
//!
//! Rules of the commands ([`DistrictSettings::handle`]):
//!
//! - Setting the district, a closure or the targets to what is already there emits nothing, so
//!   repeating a `PUT` neither grows the log nor moves the district's version.
//! - A closure may be added for any date, past, today or future: a snow day declared at 10:00
//!   closes today, and every open clock gives back today's business time.
//! - Removing a closure that is not there is `closure-not-found`.

use chrono::NaiveDate;
use eventlog::StreamName;
use events::district::{
    ClosureAdded, ClosureRemoved, District, DistrictEvent, DistrictSet, SlaTargets,
};
use events::values::ShortText;
use kernel::{Aggregate, At, Decision};

/// The `district-settings` stream.
pub fn district_stream() -> StreamName {
    kernel::stream(events::district::DISTRICT_STREAM)
}

/// The district's settings as an aggregate: the published fold, deciding IT's commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistrictSettings(pub District);

/// What can be done to the district's settings.
#[derive(Debug, Clone, PartialEq)]
pub enum DistrictCommand {
    /// `PUT /v1/district`.
    Set(DistrictSet),
    /// `PUT /v1/district/closures/{date}`.
    Close { date: NaiveDate, reason: ShortText },
    /// `DELETE /v1/district/closures/{date}`.
    Reopen { date: NaiveDate },
    /// `PUT /v1/sla`.
    SetTargets(SlaTargets),
}

/// Why a district command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistrictError {
    #[error("The district is not closed on {date}.")]
    ClosureNotFound { date: NaiveDate },
}

impl DistrictError {
    /// The stable problem-type slug (`closure-not-found`: 404).
    pub fn slug(&self) -> &'static str {
        match self {
            Self::ClosureNotFound { .. } => "closure-not-found",
        }
    }
}

impl DistrictSettings {
    /// The events `command` produces, or why it is refused (see the module docs).
    pub fn decide(&self, command: DistrictCommand) -> Result<Vec<DistrictEvent>, DistrictError> {
        let district = &self.0;
        let calendar = &district.calendar;
        Ok(match command {
            DistrictCommand::Set(set) => {
                let same = district.name.as_ref() == Some(&set.name)
                    && calendar.time_zone() == &set.time_zone
                    && calendar.hours() == &set.business_hours
                    && district.school_year_starts_in
                        == set.school_year_starts_in.unwrap_or_default();
                if same { vec![] } else { vec![set.into()] }
            }
            DistrictCommand::Close { date, reason } => {
                if calendar.closures().get(&date) == Some(&reason) {
                    vec![]
                } else {
                    vec![ClosureAdded { date, reason }.into()]
                }
            }
            DistrictCommand::Reopen { date } => {
                if !calendar.closures().contains_key(&date) {
                    return Err(DistrictError::ClosureNotFound { date });
                }
                vec![ClosureRemoved { date }.into()]
            }
            DistrictCommand::SetTargets(targets) => {
                if district.targets() == Some(&targets) {
                    vec![]
                } else {
                    vec![targets.into()]
                }
            }
        })
    }
}

impl Aggregate for DistrictSettings {
    type Event = DistrictEvent;
    type Command = DistrictCommand;
    type Error = DistrictError;

    fn handle(&self, command: DistrictCommand) -> Result<Decision<DistrictEvent>, DistrictError> {
        self.decide(command).map(Decision::events)
    }

    fn apply(&mut self, event: &DistrictEvent, at: At) {
        self.0.apply(event, at.version, at.recorded_at);
    }
}

#[cfg(test)]
mod tests {

    use events::district::{BusinessMinutes, ByPaymentMethod};
    use kernel::testing::given;

    use super::*;

    fn set(zone: &str) -> DistrictSet {
        events::testing::district_set(zone)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn close(date: &str, reason: &str) -> DistrictCommand {
        DistrictCommand::Close { date: day(date), reason: ShortText::parse(reason).unwrap() }
    }

    fn targets(first_contact: u32) -> SlaTargets {
        let minutes = |n| BusinessMinutes::new(n).unwrap();
        SlaTargets {
            first_contact_minutes: minutes(first_contact),
            decision_minutes: minutes(960),
            advisory_outreach_minutes: minutes(480),
            warn_at_percent: vec![50],
            escalate_to: None,
            by_payment_method: ByPaymentMethod::default(),
        }
    }

    #[test]
    fn setting_the_district_records_it_once() {
        given::<DistrictSettings>([])
            .when(DistrictCommand::Set(set("America/Chicago")))
            .then_expect_events(vec![set("America/Chicago").into()]);
        given::<DistrictSettings>([set("America/Chicago").into()])
            .when(DistrictCommand::Set(set("America/Chicago")))
            .then_expect_nothing();
        given::<DistrictSettings>([set("America/Chicago").into()])
            .when(DistrictCommand::Set(set("America/New_York")))
            .then_expect_events(vec![set("America/New_York").into()]);
    }

    #[test]
    fn a_closure_is_added_once_and_may_be_removed() {
        let snow =
            ClosureAdded { date: day("2024-12-10"), reason: ShortText::parse("Snow").unwrap() };
        given::<DistrictSettings>([])
            .when(close("2024-12-10", "Snow"))
            .then_expect_events(vec![snow.clone().into()]);
        given::<DistrictSettings>([snow.clone().into()])
            .when(close("2024-12-10", "Snow"))
            .then_expect_nothing();
        // Another reason replaces it.
        given::<DistrictSettings>([snow.clone().into()])
            .when(close("2024-12-10", "Ice storm"))
            .then_expect_events(vec![
                ClosureAdded {
                    date: day("2024-12-10"),
                    reason: ShortText::parse("Ice storm").unwrap(),
                }
                .into(),
            ]);
        given::<DistrictSettings>([snow.into()])
            .when(DistrictCommand::Reopen { date: day("2024-12-10") })
            .then_expect_events(vec![ClosureRemoved { date: day("2024-12-10") }.into()]);
    }

    #[test]
    fn removing_a_closure_that_is_not_there_is_refused() {
        let err = given::<DistrictSettings>([])
            .when(DistrictCommand::Reopen { date: day("2024-12-10") })
            .then_expect_error(DistrictError::ClosureNotFound { date: day("2024-12-10") });
        assert_eq!(err.slug(), "closure-not-found");
    }

    #[test]
    fn targets_are_recorded_when_they_change() {
        given::<DistrictSettings>([targets(120).into()])
            .when(DistrictCommand::SetTargets(targets(120)))
            .then_expect_nothing();
        given::<DistrictSettings>([targets(120).into()])
            .when(DistrictCommand::SetTargets(targets(60)))
            .then_expect_events(vec![targets(60).into()]);
    }

    #[test]
    fn the_aggregate_is_the_published_fold() {
        let state = given::<DistrictSettings>([set("America/Chicago").into(), targets(120).into()])
            .state()
            .clone();
        assert_eq!(state.0.version, 2);
        assert_eq!(state.0.calendar.time_zone().as_str(), "America/Chicago");
        assert_eq!(state.0.targets(), Some(&targets(120)));
    }
}
