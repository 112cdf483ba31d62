//! IT's own vision for the district (`vision-district`): a statement and its themes, set as a
//! whole by `PUT /v1/vision`; each change is a new version. Conversations name the themes a
//! person's vision connects to ([`super::stakeholder::HoldConversation`]).
//!
//! Rules: theme ids are distinct; setting the vision in force emits nothing, so a repeated
//! `PUT` neither grows the log nor moves the version.

use events::stakeholders::{DistrictVision, Theme, VisionEvent, VisionSet};
use events::values::LongText;
use kernel::{Aggregate, At, Decision, Versioned};

use super::DomainError;

/// The `vision-district` stream.
pub fn vision_stream() -> eventlog::StreamName {
    kernel::stream(events::stakeholders::VISION_STREAM)
}

/// IT's vision as an aggregate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vision(pub DistrictVision);

/// `PUT /v1/vision`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetVision {
    pub statement: LongText,
    pub themes: Vec<Theme>,
}

impl Aggregate for Vision {
    type Event = VisionEvent;
    type Command = SetVision;
    type Error = DomainError;

    fn handle(&self, command: SetVision) -> Result<Decision<VisionEvent>, DomainError> {
        for (i, theme) in command.themes.iter().enumerate() {
            if command.themes[..i].iter().any(|t| t.theme_id == theme.theme_id) {
                return Err(DomainError::DuplicateTheme { theme: theme.theme_id.clone() });
            }
        }
        let set = VisionSet { statement: command.statement, themes: command.themes };
        Ok(if self.0.current.as_ref() == Some(&set) {
            Decision::nothing()
        } else {
            vec![set.into()].into()
        })
    }

    fn apply(&mut self, event: &VisionEvent, at: At) {
        self.0.apply(event, at.version);
    }
}

impl Versioned for Vision {
    fn version(&self) -> u64 {
        self.0.version
    }
}

#[cfg(test)]
mod tests {
    use events::values::{ShortText, ThemeId};
    use kernel::testing::given;

    use super::*;

    fn theme(id: &str, title: &str) -> Theme {
        Theme { theme_id: ThemeId::parse(id).unwrap(), title: ShortText::parse(title).unwrap() }
    }

    fn set(themes: Vec<Theme>) -> SetVision {
        SetVision { statement: LongText::parse("Every child, every tool").unwrap(), themes }
    }

    #[test]
    fn the_vision_is_set_whole_and_once() {
        let themes = vec![theme("equity", "Digital equity"), theme("coding", "Coding for all")];
        let event: VisionEvent =
            VisionSet { statement: set(vec![]).statement, themes: themes.clone() }.into();
        given::<Vision>([]).when(set(themes.clone())).then_expect_events(vec![event.clone()]);
        // Given that vision, setting it again changes nothing; another version is an event.
        given::<Vision>([event.clone()]).when(set(themes.clone())).then_expect_nothing();
        given::<Vision>([event]).when(set(themes[..1].to_vec())).then_expect_events(vec![
            VisionSet { statement: set(vec![]).statement, themes: themes[..1].to_vec() }.into(),
        ]);
    }

    #[test]
    fn theme_ids_are_distinct() {
        given::<Vision>([])
            .when(set(vec![theme("equity", "A"), theme("equity", "B")]))
            .then_expect_error(DomainError::DuplicateTheme {
                theme: ThemeId::parse("equity").unwrap(),
            });
    }
}
