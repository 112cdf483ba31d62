//! A durable subscription as the API changes it: created once, under its name. Its checkpoint
//! is kept with the log's other consumers' checkpoints, not in its stream
//! ([`super::subscriptions`]).

use std::convert::Infallible;

use events::notifications::{SubscriptionCreated, SubscriptionEvent};
use kernel::{Aggregate, At, Decision};

/// A subscription, from its stream: what created it, if anything has.
#[derive(Debug, Clone, Default)]
pub struct Subscription(pub Option<SubscriptionCreated>);

/// What the API asks of a subscription.
#[derive(Debug, Clone)]
pub enum SubscriptionCommand {
    /// Create it as `SubscriptionCreated` says, unless it exists.
    Create(SubscriptionCreated),
}

impl Aggregate for Subscription {
    type Event = SubscriptionEvent;
    type Command = SubscriptionCommand;
    /// Creating is never refused: a subscription that exists is answered as it stands.
    type Error = Infallible;

    fn handle(
        &self,
        command: SubscriptionCommand,
    ) -> Result<Decision<SubscriptionEvent>, Infallible> {
        let SubscriptionCommand::Create(created) = command;
        if self.0.is_some() {
            return Ok(Decision::nothing());
        }
        Ok(vec![SubscriptionEvent::from(created)].into())
    }

    fn apply(&mut self, event: &SubscriptionEvent, _: At) {
        let SubscriptionEvent::Created(created) = event;
        self.0.get_or_insert_with(|| created.clone());
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use events::notifications::Owner;
    use kernel::testing::given;

    /// `erp-orders`, an integration's subscription to decisions, starting after `start_after`.
    pub(crate) fn created(start_after: u64) -> SubscriptionCreated {
        SubscriptionCreated {
            name: "erp-orders".into(),
            event_types: vec!["purchase-decided".into()],
            owner: Owner { subject: "erp".into(), role: "integration".into() },
            start_after,
        }
    }

    #[test]
    fn given_nothing_when_created_then_it_is_created() {
        given::<Subscription>([])
            .when(SubscriptionCommand::Create(created(7)))
            .then_expect_events(vec![SubscriptionEvent::from(created(7))]);
    }

    #[test]
    fn given_a_subscription_when_created_again_then_nothing_changes() {
        let given = given::<Subscription>([SubscriptionEvent::from(created(7))]);
        assert_eq!(given.state().0, Some(created(7)));
        given.when(SubscriptionCommand::Create(created(9))).then_expect_nothing();
    }
}
