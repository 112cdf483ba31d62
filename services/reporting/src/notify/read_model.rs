//! The `webhooks` read model: each endpoint's fold ([`Webhook`]), kept from its stream, for
//! the API's lists and views (the delivery workers fold the stream themselves).

use eventlog::Filter;
use events::Published;
use events::notifications::{Webhook, WebhookEvent};
use kernel::{Applied, Documents, ReadModel, Recorded};

/// The endpoints, by id.
#[derive(Debug, Clone, Copy)]
pub struct Webhooks;

impl ReadModel for Webhooks {
    const NAME: &'static str = "reporting.webhooks";
    type Doc = Webhook;

    fn filter(&self) -> Filter {
        Filter::all().with_types(WebhookEvent::EVENT_TYPES.iter().copied())
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, Webhook>) -> Applied {
        let Published::Webhook(e) = event.event else { return Ok(()) };
        let key = event.stream_id();
        let mut hook = docs.get(key).unwrap_or_default();
        hook.apply(e, event.version, event.recorded_at);
        docs.put(key, &hook);
        Ok(())
    }
}
