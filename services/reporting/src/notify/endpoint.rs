//! A webhook endpoint as the API changes it: register, rotate its secret, delete, replay.
//! Deliveries are recorded by the workers ([`super::deliver`]), not decided here.

use chrono::{DateTime, Duration, Utc};
use events::notifications::{
    Webhook, WebhookDeleted, WebhookEvent, WebhookRegistered, WebhookReplayRequested,
    WebhookSecretRotated,
};
use kernel::{Aggregate, At, Decision};

/// How long a rotated-out secret keeps signing, by default: a day to deploy the new one.
pub const DEFAULT_OVERLAP: Duration = Duration::hours(24);
/// The longest overlap a rotation may ask for.
pub const MAX_OVERLAP: Duration = Duration::days(7);

/// An endpoint, from its stream.
#[derive(Debug, Clone, Default)]
pub struct Endpoint(pub Webhook);

/// What the API asks of an endpoint.
#[derive(Debug, Clone)]
pub enum EndpointCommand {
    Register(WebhookRegistered),
    /// A new secret; the current one signs too until `now + overlap`.
    Rotate {
        now: DateTime<Utc>,
        overlap: Duration,
    },
    Delete,
    /// Deliver again after `after`.
    Replay {
        after: u64,
    },
}

/// Why the endpoint refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("there is no such webhook endpoint")]
    NotFound,
    #[error("this webhook endpoint is already registered")]
    Exists,
}

impl Aggregate for Endpoint {
    type Event = WebhookEvent;
    type Command = EndpointCommand;
    type Error = EndpointError;

    fn handle(&self, command: EndpointCommand) -> Result<Decision<WebhookEvent>, EndpointError> {
        let hook = &self.0;
        if let EndpointCommand::Register(registered) = command {
            if hook.registered.is_some() {
                return Err(EndpointError::Exists);
            }
            return Ok(vec![WebhookEvent::from(registered)].into());
        }
        if hook.registered.is_none() || hook.deleted {
            return Err(EndpointError::NotFound);
        }
        let event = match command {
            EndpointCommand::Register(_) => unreachable!("handled above"),
            EndpointCommand::Rotate { now, overlap } => WebhookEvent::from(WebhookSecretRotated {
                generation: hook.generation + 1,
                previous_expires_at: now + overlap.clamp(Duration::zero(), MAX_OVERLAP),
            }),
            EndpointCommand::Delete => WebhookEvent::from(WebhookDeleted {}),
            EndpointCommand::Replay { after } => {
                WebhookEvent::from(WebhookReplayRequested { after })
            }
        };
        Ok(vec![event].into())
    }

    fn apply(&mut self, event: &WebhookEvent, at: At) {
        self.0.apply(event, at.version, at.recorded_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::notifications::Owner;
    use kernel::testing::{given, t0};
    use uuid::Uuid;

    fn registered() -> WebhookRegistered {
        WebhookRegistered {
            webhook_id: Uuid::nil(),
            url: "https://erp.example.org/hooks".into(),
            event_types: vec!["purchase-decided".into()],
            description: Some("ERP".into()),
            owner: Owner { subject: "erp".into(), role: "finance".into() },
            start_after: 7,
        }
    }

    #[test]
    fn given_nothing_when_registered_then_it_is_registered_once() {
        given::<Endpoint>([])
            .when(EndpointCommand::Register(registered()))
            .then_expect_events(vec![WebhookEvent::from(registered())]);
        given::<Endpoint>([WebhookEvent::from(registered())])
            .when(EndpointCommand::Register(registered()))
            .then_expect_error(EndpointError::Exists);
    }

    #[test]
    fn given_an_endpoint_when_rotated_then_the_old_secret_signs_for_the_overlap_at_most_a_week() {
        given::<Endpoint>([WebhookEvent::from(registered())])
            .when(EndpointCommand::Rotate { now: t0(), overlap: Duration::hours(2) })
            .then_expect_events(vec![WebhookEvent::from(WebhookSecretRotated {
                generation: 2,
                previous_expires_at: t0() + Duration::hours(2),
            })]);
        given::<Endpoint>([WebhookEvent::from(registered())])
            .when(EndpointCommand::Rotate { now: t0(), overlap: Duration::days(30) })
            .then_expect_events(vec![WebhookEvent::from(WebhookSecretRotated {
                generation: 2,
                previous_expires_at: t0() + MAX_OVERLAP,
            })]);
    }

    #[test]
    fn given_a_deleted_endpoint_nothing_more_can_be_asked_of_it() {
        let deleted = [WebhookEvent::from(registered()), WebhookEvent::from(WebhookDeleted {})];
        for command in [
            EndpointCommand::Delete,
            EndpointCommand::Replay { after: 0 },
            EndpointCommand::Rotate { now: t0(), overlap: DEFAULT_OVERLAP },
        ] {
            given::<Endpoint>(deleted.clone())
                .when(command)
                .then_expect_error(EndpointError::NotFound);
        }
        given::<Endpoint>([])
            .when(EndpointCommand::Replay { after: 0 })
            .then_expect_error(EndpointError::NotFound);
    }

    #[test]
    fn given_an_endpoint_when_replayed_then_deliveries_start_again_after_the_position() {
        given::<Endpoint>([WebhookEvent::from(registered())])
            .when(EndpointCommand::Replay { after: 3 })
            .then_expect_events(vec![WebhookEvent::from(WebhookReplayRequested { after: 3 })])
            .then_apply()
            .when(EndpointCommand::Delete)
            .then_expect_events(vec![WebhookEvent::from(WebhookDeleted {})]);
    }
}
