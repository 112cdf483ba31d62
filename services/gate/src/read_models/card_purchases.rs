//! `gate.card-purchases`: the purchase checks paid by card (`p_card`), the candidates a
//! statement's transactions are reconciled with, what each costs now (as submitted, or as
//! amended by an accepted alternative, [`AmendedTotal`]) and which transaction each is matched
//! with.

use chrono::{DateTime, Utc};
use events::Published;
use events::calendar::DistrictCalendar;
use events::card::{CardTransactionEvent, TRANSACTION_CATEGORY};
use events::clocks::took_place_at;
use events::gate::{AmendedTotal, PURCHASE_CATEGORY, PurchaseEvent, PurchaseStatus};
use events::values::{Currency, Money, PaymentMethod, SchoolId};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::matching::{CheckRef, asked_on};

/// A purchase check paid by card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardPurchaseDoc {
    pub purchase_id: Uuid,
    pub school_id: SchoolId,
    pub vendor: String,
    /// The total as submitted.
    pub total: Money,
    /// The priced alternatives, and the one accepted: what the purchase costs now.
    #[serde(default, skip_serializing_if = "AmendedTotal::is_empty")]
    pub amended: AmendedTotal,
    pub currency: Currency,
    pub submitted_at: DateTime<Utc>,
    /// When the purchase was requested, for a check sent after the fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    pub status: Option<PurchaseStatus>,
    /// When IT approved it (when that took place), for a held purchase approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// The transaction it is matched with, if any.
    pub matched_by: Option<Uuid>,
}

impl CardPurchaseDoc {
    /// Whether a new transaction may be reconciled with it: not cancelled, not matched.
    pub fn open(&self) -> bool {
        self.matched_by.is_none() && self.status != Some(PurchaseStatus::Cancelled)
    }

    /// The check as reconciliation sees it, at what it costs now, dated in the district's
    /// `calendar`. The document keeps the instants, not the day, so a change of the district's
    /// zone needs no rebuild.
    pub fn check_ref(&self, calendar: &DistrictCalendar) -> CheckRef {
        CheckRef {
            purchase_id: self.purchase_id,
            school_id: self.school_id.clone(),
            vendor: self.vendor.clone(),
            total: self.amended.total(self.total),
            currency: self.currency,
            date: asked_on(self.requested_at, self.submitted_at, calendar),
            approved_on: self.approved_at.map(|at| calendar.today(at)),
        }
    }
}

/// Keeps `gate.card-purchases`.
#[derive(Debug, Default)]
pub struct CardPurchases;

impl ReadModel for CardPurchases {
    const NAME: &'static str = "gate.card-purchases";
    /// 2: documents keep the priced alternatives ([`CardPurchaseDoc::amended`]) and when a
    /// held purchase was approved ([`CardPurchaseDoc::approved_at`]).
    const VERSION: u64 = 2;
    type Doc = CardPurchaseDoc;

    const CATEGORIES: &'static [&'static str] = &[PURCHASE_CATEGORY, TRANSACTION_CATEGORY];

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::Purchase(_) => vec![event.stream_id().to_owned()],
            Published::CardTransaction(CardTransactionEvent::Matched(m)) => {
                vec![m.purchase_id.to_string()]
            }
            Published::CardTransaction(CardTransactionEvent::MatchUndone(u)) => {
                vec![u.purchase_id.to_string()]
            }
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, CardPurchaseDoc>) -> Applied {
        match event.event {
            Published::Purchase(PurchaseEvent::Submitted(s))
                if s.payment_method == PaymentMethod::PCard =>
            {
                let doc = CardPurchaseDoc {
                    purchase_id: s.purchase_id,
                    school_id: s.school_id.clone(),
                    vendor: s.vendor.to_string(),
                    total: s.total,
                    amended: AmendedTotal::default(),
                    currency: s.currency,
                    submitted_at: event.recorded_at,
                    requested_at: s.requested_at,
                    status: None,
                    approved_at: None,
                    matched_by: None,
                };
                docs.put(event.stream_id(), &doc);
            }
            Published::Purchase(PurchaseEvent::Submitted(_)) => {}
            Published::Purchase(purchase) => {
                if let Some(mut doc) = docs.get(event.stream_id()) {
                    doc.status = PurchaseStatus::after(doc.status, purchase);
                    doc.amended.apply(purchase);
                    if let PurchaseEvent::Approved(_) = purchase {
                        let at = event.recorded_at;
                        doc.approved_at = Some(took_place_at(purchase, at, doc.requested_at));
                    }
                    docs.put(event.stream_id(), &doc);
                }
            }
            Published::CardTransaction(CardTransactionEvent::Matched(m)) => {
                let key = m.purchase_id.to_string();
                if let Some(mut doc) = docs.get(&key) {
                    let transaction = event.stream_id().parse().map_err(|e| format!("{e}"))?;
                    doc.matched_by = Some(transaction);
                    docs.put(&key, &doc);
                }
            }
            Published::CardTransaction(CardTransactionEvent::MatchUndone(u)) => {
                let key = u.purchase_id.to_string();
                if let Some(mut doc) = docs.get(&key) {
                    doc.matched_by = None;
                    docs.put(&key, &doc);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use events::calendar::{BusinessHours, TimeZoneName};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stored_check_is_dated_on_the_district_s_day_in_the_calendar_asked_for() {
        // Given a document as the read model has always written it: the instants, no day.
        let doc: CardPurchaseDoc = serde_json::from_value(json!({
            "purchase_id": Uuid::from_u128(7), "school_id": "lincoln-elem", "vendor": "Apple",
            "total": "329.00", "currency": "USD", "submitted_at": "2025-10-07T00:30:00Z",
            "status": "advisory", "matched_by": null,
        }))
        .unwrap();
        // When it is read in Chicago's calendar, then it is the 6th there (19:30 CDT);
        // in the calendar before the district sets its zone, the 7th (UTC).
        let zone = TimeZoneName::parse("America/Chicago").unwrap();
        let chicago = DistrictCalendar::new(zone, BusinessHours::office());
        assert_eq!(doc.check_ref(&chicago).date.to_string(), "2025-10-06");
        assert_eq!(doc.check_ref(&DistrictCalendar::default()).date.to_string(), "2025-10-07");
        // A check sent after the fact is dated when it was requested: 20:00 on the 3rd there.
        let requested =
            CardPurchaseDoc { requested_at: Some("2025-10-04T01:00:00Z".parse().unwrap()), ..doc };
        assert_eq!(requested.check_ref(&chicago).date.to_string(), "2025-10-03");
    }
}
