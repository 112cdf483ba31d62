//! An address's choice about notification e-mails as the API changes it: the last choice
//! recorded stands, and choosing what stands records nothing.

use std::convert::Infallible;

use events::notifications::{MailPreferenceEvent, MailPreferenceSet};
use kernel::{Aggregate, At, Decision};

/// An address's choice, from its stream: whether it receives no notification e-mails (an
/// address that never chose receives them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preference {
    pub opted_out: bool,
}

impl Aggregate for Preference {
    type Event = MailPreferenceEvent;
    /// The choice to record, with the address it is for.
    type Command = MailPreferenceSet;
    /// A choice is never refused.
    type Error = Infallible;

    fn handle(&self, set: MailPreferenceSet) -> Result<Decision<MailPreferenceEvent>, Infallible> {
        if set.opted_out == self.opted_out {
            return Ok(Decision::nothing());
        }
        Ok(vec![MailPreferenceEvent::from(set)].into())
    }

    fn apply(&mut self, event: &MailPreferenceEvent, _: At) {
        let MailPreferenceEvent::Set(set) = event;
        self.opted_out = set.opted_out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::testing::given;

    fn set(opted_out: bool) -> MailPreferenceSet {
        MailPreferenceSet { email: "principal@lincoln.example.org".into(), opted_out }
    }

    #[test]
    fn given_no_choice_when_opting_out_then_it_is_recorded() {
        given::<Preference>([])
            .when(set(true))
            .then_expect_events(vec![MailPreferenceEvent::from(set(true))]);
    }

    #[test]
    fn given_no_choice_when_opting_in_then_nothing_is_recorded() {
        given::<Preference>([]).when(set(false)).then_expect_nothing();
    }

    #[test]
    fn given_an_opt_out_when_opting_out_again_then_nothing_and_when_back_in_then_recorded() {
        let opted_out = [MailPreferenceEvent::from(set(true))];
        given::<Preference>(opted_out.clone()).when(set(true)).then_expect_nothing();
        given::<Preference>(opted_out)
            .when(set(false))
            .then_expect_events(vec![MailPreferenceEvent::from(set(false))]);
    }
}
