//! The request bodies of cards, reconciliation and card transactions: each type is both its
//! schema (`ToSchema`) and its parser ([`FromJson`]).

use chrono::{DateTime, Utc};
use events::card::{CardRegistered, ReconciliationSet};
use events::values::{CardLast4, Email, LongText, Money, SchoolId, ShortText};
use kernel::http::FromJson;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use web::Fields;

use crate::domain::cards::MAX_TECHNOLOGY_MERCHANTS;

type Object = Map<String, Value>;

/// A purchasing card.
#[derive(Debug, ToSchema)]
pub struct CardBody {
    /// The last four digits of the card's number (never the whole number).
    pub last4: CardLast4,
    /// Who holds it: the person IT calls about its transactions.
    pub holder_email: Email,
    /// The school its spending counts for.
    pub school_id: SchoolId,
}

impl CardBody {
    /// The card `card_id` as the body describes it.
    pub fn registered(self, card_id: Uuid) -> CardRegistered {
        let Self { last4, holder_email, school_id } = self;
        CardRegistered { card_id, last4, holder_email, school_id }
    }
}

impl FromJson for CardBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let last4 = f.string("last4", map.get("last4"), CardLast4::parse);
        let holder_email = f.string("holder_email", map.get("holder_email"), Email::parse);
        let school_id = f.string("school_id", map.get("school_id"), SchoolId::parse);
        Some(Self { last4: last4?, holder_email: holder_email?, school_id: school_id? })
    }
}

/// The reconciliation settings, parsed: the body's schema is the event's own
/// ([`ReconciliationSet`]).
#[derive(Debug)]
pub struct ReconciliationBody(pub ReconciliationSet);

impl FromJson for ReconciliationBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let tolerance = match map.get("amount_tolerance") {
            Some(Value::Number(_)) => {
                f.error(
                    "amount_tolerance",
                    "must be a decimal string such as \"5.00\", not a number",
                );
                None
            }
            value => f.string("amount_tolerance", value, Money::parse),
        };
        let small = |max: u64| {
            move |n: u64| if n <= max { Ok(n) } else { Err(format!("must be at most {max}")) }
        };
        let percent =
            f.integer("amount_tolerance_percent", map.get("amount_tolerance_percent"), small(100));
        let days = f.integer("date_window_days", map.get("date_window_days"), small(366));
        let similarity =
            f.integer("min_vendor_similarity", map.get("min_vendor_similarity"), small(100));
        // Required, as the settings are replaced whole (`[]` for none); never null.
        let merchants = f.array(
            "technology_merchants",
            map.get("technology_merchants"),
            0,
            MAX_TECHNOLOGY_MERCHANTS,
            |f, p, v| f.string(p, Some(v), ShortText::parse),
        );
        Some(Self(ReconciliationSet {
            amount_tolerance: tolerance?,
            amount_tolerance_percent: u8::try_from(percent?).ok()?,
            date_window_days: u16::try_from(days?).ok()?,
            min_vendor_similarity: u8::try_from(similarity?).ok()?,
            technology_merchants: merchants?,
        }))
    }
}

/// Why IT undoes a match.
#[derive(Debug, ToSchema)]
pub struct UndoBody {
    pub reason: LongText,
}

impl FromJson for UndoBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        Some(Self { reason: f.string("reason", map.get("reason"), LongText::parse)? })
    }
}

/// The purchase check IT chooses for a transaction.
#[derive(Debug, ToSchema)]
pub struct ChooseBody {
    pub purchase_id: Uuid,
}

impl FromJson for ChooseBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let id = f.string("purchase_id", map.get("purchase_id"), |s| {
            Uuid::parse_str(s).map_err(|_| "must be a UUID")
        });
        Some(Self { purchase_id: id? })
    }
}

/// IT's outreach to a card holder about unchecked technology.
#[derive(Debug, ToSchema)]
pub struct OutreachBody {
    /// Whether IT spoke with the holder.
    pub holder_reached: bool,
    /// What they needed, and what IT offered.
    pub notes: Option<LongText>,
    /// When it took place (default: now).
    pub occurred_at: Option<DateTime<Utc>>,
}

impl FromJson for OutreachBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let holder_reached = f.boolean("holder_reached", map.get("holder_reached"));
        let notes = f.optional_string("notes", map.get("notes"), LongText::parse);
        let occurred_at = f.optional_string("occurred_at", map.get("occurred_at"), |s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| "must be an RFC 3339 time such as 2026-11-24T15:30:00Z")
        });
        Some(Self { holder_reached: holder_reached?, notes: notes?, occurred_at: occurred_at? })
    }
}
