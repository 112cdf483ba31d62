//! `gate.cards`: each purchasing card, for the card list and for statement imports.

use chrono::{DateTime, Utc};
use events::Published;
use events::card::{CARD_CATEGORY, CardEvent};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A purchasing card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CardDoc {
    pub card_id: Uuid,
    /// The last four digits of its number.
    pub last4: String,
    pub holder_email: String,
    pub school_id: String,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The card stream's version.
    pub version: u64,
}

/// Keeps `gate.cards`.
#[derive(Debug, Default)]
pub struct Cards;

impl ReadModel for Cards {
    const NAME: &'static str = "gate.cards";
    type Doc = CardDoc;

    const CATEGORIES: &'static [&'static str] = &[CARD_CATEGORY];

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, CardDoc>) -> Applied {
        let Published::Card(card) = event.event else { return Ok(()) };
        let key = event.stream_id();
        let at = event.recorded_at;
        let (card_id, last4, holder_email, school_id) = match card {
            CardEvent::Registered(c) => (c.card_id, &c.last4, &c.holder_email, &c.school_id),
            CardEvent::Updated(c) => (c.card_id, &c.last4, &c.holder_email, &c.school_id),
        };
        let registered_at = docs.get(key).map_or(at, |d| d.registered_at);
        let doc = CardDoc {
            card_id,
            last4: last4.to_string(),
            holder_email: holder_email.to_string(),
            school_id: school_id.to_string(),
            registered_at,
            updated_at: at,
            version: event.version,
        };
        docs.put(key, &doc);
        Ok(())
    }
}
