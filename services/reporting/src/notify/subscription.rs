//! A durable subscription as the API changes it: created once, under its name. Its checkpoint
//! is kept with the log's other consumers' checkpoints, not in its stream
//! ([`super::subscriptions`]).

use std::convert::Infallible;

use events::notifications::{SubscriptionCreated, SubscriptionEvent};
use kernel::{Aggregate, At, Decision};

/// A subscription, from its stream: whether anything created it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    pub exists: bool,
}

impl Aggregate for Subscription {
    type Event = SubscriptionEvent;
    /// The subscription to create, unless it exists.
    type Command = SubscriptionCreated;
    /// Creating is never refused: a subscription that exists is answered as it stands.
    type Error = Infallible;

    fn handle(
        &self,
        created: SubscriptionCreated,
    ) -> Result<Decision<SubscriptionEvent>, Infallible> {
        if self.exists {
            return Ok(Decision::nothing());
        }
        Ok(vec![SubscriptionEvent::from(created)].into())
    }

    fn apply(&mut self, event: &SubscriptionEvent, _: At) {
        let SubscriptionEvent::Created(_) = event;
        self.exists = true;
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
            .when(created(7))
            .then_expect_events(vec![SubscriptionEvent::from(created(7))]);
    }

    #[test]
    fn given_a_subscription_when_created_again_then_nothing_changes() {
        let given = given::<Subscription>([SubscriptionEvent::from(created(7))]);
        assert!(given.state().exists);
        given.when(created(9)).then_expect_nothing();
    }
}
