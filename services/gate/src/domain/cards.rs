//! Purchasing cards and the district's reconciliation settings: small aggregates IT keeps.
//!
//! - [`Card`] (`card-{uuid}`): a `PUT` registers the card, or updates it when its details
//!   changed; the same details again emit nothing. The school must be registered (the
//!   handler reads the school's stream and passes whether it is).
//! - [`Reconciliation`] (`reconciliation-district`): the tolerances and IT's list of
//!   technology merchants, replaced whole; bounded so a typo cannot match everything.

use events::card::{
    CardEvent, CardRegistered, CardUpdated, ReconciliationEvent, ReconciliationSet,
};
use kernel::{Aggregate, At, Decision};

/// A purchasing card: its details as last registered or updated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Card {
    pub details: Option<CardRegistered>,
    pub version: u64,
}

/// `PUT /v1/cards/{card_id}`: the card as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct PutCard {
    pub details: CardRegistered,
    /// Whether the card's school is registered.
    pub school_registered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("There is no school {0}; IT registers schools first.")]
    UnknownSchool(String),
}

impl CardError {
    pub fn slug(&self) -> &'static str {
        match self {
            Self::UnknownSchool(_) => "unknown-school",
        }
    }
}

impl Aggregate for Card {
    type Event = CardEvent;
    type Command = PutCard;
    type Error = CardError;

    fn handle(&self, put: PutCard) -> Result<Decision<CardEvent>, CardError> {
        let new = put.details;
        if self.details.as_ref() == Some(&new) {
            return Ok(Decision::nothing());
        }
        if !put.school_registered {
            return Err(CardError::UnknownSchool(new.school_id.to_string()));
        }
        let event = match self.details {
            None => CardEvent::Registered(new),
            Some(_) => CardEvent::Updated(CardUpdated {
                card_id: new.card_id,
                last4: new.last4,
                holder_email: new.holder_email,
                school_id: new.school_id,
            }),
        };
        Ok(Decision::events(vec![event]))
    }

    fn apply(&mut self, event: &CardEvent, at: At) {
        self.details = Some(match event {
            CardEvent::Registered(r) => r.clone(),
            CardEvent::Updated(u) => CardRegistered {
                card_id: u.card_id,
                last4: u.last4.clone(),
                holder_email: u.holder_email.clone(),
                school_id: u.school_id.clone(),
            },
        });
        self.version = at.version;
    }
}

/// The most merchants IT may list as technology.
pub const MAX_TECHNOLOGY_MERCHANTS: usize = 200;

/// The district's reconciliation settings: [`ReconciliationSet::default`] until IT sets them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciliation {
    pub settings: Option<ReconciliationSet>,
    pub version: u64,
}

impl Reconciliation {
    /// The settings in force.
    pub fn current(&self) -> ReconciliationSet {
        self.settings.clone().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconciliationError {
    #[error("{field} must be at most {max}.")]
    OutOfRange { field: &'static str, max: u32 },
}

impl ReconciliationError {
    pub fn slug(&self) -> &'static str {
        "out-of-range"
    }
}

impl Aggregate for Reconciliation {
    type Event = ReconciliationEvent;
    type Command = ReconciliationSet;
    type Error = ReconciliationError;

    fn handle(
        &self,
        mut set: ReconciliationSet,
    ) -> Result<Decision<ReconciliationEvent>, ReconciliationError> {
        let limits: [(&'static str, u32, u32); 4] = [
            ("amount_tolerance_percent", set.amount_tolerance_percent.into(), 100),
            ("date_window_days", set.date_window_days.into(), 366),
            ("min_vendor_similarity", set.min_vendor_similarity.into(), 100),
            (
                "technology_merchants",
                u32::try_from(set.technology_merchants.len()).unwrap_or(u32::MAX),
                MAX_TECHNOLOGY_MERCHANTS as u32,
            ),
        ];
        if let Some((field, _, max)) = limits.into_iter().find(|(_, value, max)| value > max) {
            return Err(ReconciliationError::OutOfRange { field, max });
        }
        set.technology_merchants.sort();
        set.technology_merchants.dedup();
        if self.settings.as_ref() == Some(&set) {
            return Ok(Decision::nothing());
        }
        Ok(Decision::events(vec![set.into()]))
    }

    fn apply(&mut self, event: &ReconciliationEvent, at: At) {
        let ReconciliationEvent::Set(set) = event;
        self.settings = Some(set.clone());
        self.version = at.version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::values::{CardLast4, Email, SchoolId, ShortText};
    use kernel::testing::given;
    use uuid::Uuid;

    fn details(email: &str) -> CardRegistered {
        CardRegistered {
            card_id: Uuid::from_u128(1),
            last4: CardLast4::parse("4821").unwrap(),
            holder_email: Email::parse(email).unwrap(),
            school_id: SchoolId::parse("lincoln-elem").unwrap(),
        }
    }

    fn put(email: &str) -> PutCard {
        PutCard { details: details(email), school_registered: true }
    }

    #[test]
    fn a_card_is_registered_then_updated_and_the_same_put_twice_is_nothing() {
        given::<Card>([])
            .when(put("pat@district.org"))
            .then_expect_events(vec![CardEvent::Registered(details("pat@district.org"))]);
        let registered = [CardEvent::Registered(details("pat@district.org"))];
        given::<Card>(registered.clone()).when(put("pat@district.org")).then_expect_nothing();
        let then = given::<Card>(registered).when(put("kim@district.org"));
        assert!(matches!(then.decision().events[..], [CardEvent::Updated(_)]));
    }

    #[test]
    fn a_card_needs_a_registered_school() {
        let unknown = PutCard { school_registered: false, ..put("pat@district.org") };
        given::<Card>([])
            .when(unknown)
            .then_expect_error(CardError::UnknownSchool("lincoln-elem".into()));
    }

    #[test]
    fn settings_are_bounded_and_kept_sorted() {
        let too_wide = ReconciliationSet { date_window_days: 400, ..ReconciliationSet::default() };
        given::<Reconciliation>([]).when(too_wide).then_expect_error(
            ReconciliationError::OutOfRange { field: "date_window_days", max: 366 },
        );
        let names = |n: &[&str]| n.iter().map(|s| ShortText::parse(s).unwrap()).collect();
        let set = ReconciliationSet {
            technology_merchants: names(&["Geek Squad", "B&H Photo", "Geek Squad"]),
            ..ReconciliationSet::default()
        };
        let sorted = ReconciliationSet {
            technology_merchants: names(&["B&H Photo", "Geek Squad"]),
            ..set.clone()
        };
        given::<Reconciliation>([])
            .when(set.clone())
            .then_expect_events(vec![sorted.clone().into()]);
        given::<Reconciliation>([sorted.into()]).when(set).then_expect_nothing();
    }
}
