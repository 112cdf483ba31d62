//! The purchase list (and the held queue): purchases joined with their schools as the gate
//! knows them now, each with its clocks at the time of the request. A pure function of the two
//! read models, the district and the time, testable without HTTP.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use events::clocks::SlaStatus;
use events::district::District;
use events::gate::PurchaseStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PurchaseDoc, PurchaseSummary, SchoolDoc};

/// A purchase in the list, with its school as the gate knows it now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListedPurchase {
    #[serde(flatten)]
    pub purchase: PurchaseSummary,
    pub school_name: Option<String>,
    /// Whether the school has the purchasing agreement in force now.
    pub school_gated_now: bool,
    /// Its clocks now (held and advisory purchases, once the district has targets).
    pub sla: Option<SlaStatus>,
}

/// A page of purchases.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseList {
    pub purchases: Vec<ListedPurchase>,
    /// In submission order: pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
    /// In `sort=due` or `sort=newest` order: pass as `offset` for the next page; absent on the
    /// last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// The order of the list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    /// Oldest first (paged with `after`).
    #[default]
    Submitted,
    /// The soonest due first: purchases whose running clocks are due soonest (the most overdue
    /// first), then those without a running clock, oldest first (paged with `offset`).
    Due,
    /// The newest first (paged with `offset`): a school's latest purchases.
    Newest,
}

/// Which purchases to list, in which order.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<PurchaseStatus>,
    pub school_id: Option<String>,
    /// Only purchases submitted after this log position (submission order).
    pub after: u64,
    /// Skip this many (due and newest order).
    pub offset: usize,
    /// At most this many.
    pub limit: usize,
    pub order: ListOrder,
}

/// The page of `purchases` that `filter` and `visible` (whether the caller may see a purchase
/// submitted by that subject) select, in `filter.order`, each with its school and with its
/// clocks under `district` at `now`.
pub fn list(
    purchases: Vec<PurchaseDoc>,
    schools: &HashMap<String, SchoolDoc>,
    filter: &ListFilter,
    visible: impl Fn(&str) -> bool,
    district: &District,
    now: DateTime<Utc>,
) -> PurchaseList {
    let selected = purchases
        .into_iter()
        .filter(|p| filter.status.is_none_or(|s| p.summary.status == s))
        .filter(|p| filter.school_id.as_ref().is_none_or(|s| &p.summary.school_id == s))
        .filter(|p| visible(&p.summary.submitted_by));
    let with_sla = |doc: PurchaseDoc| {
        let sla = doc.clocks.status(district, now);
        (doc.summary, sla)
    };
    let limit = filter.limit;
    let (page, next_after, next_offset) = match filter.order {
        ListOrder::Newest => {
            // Only the page's clocks are worked out.
            let mut docs: Vec<PurchaseDoc> =
                selected.filter(|p| p.summary.sequence > filter.after).collect();
            docs.sort_by_key(|p| std::cmp::Reverse(p.summary.sequence));
            let end = filter.offset.saturating_add(limit).min(docs.len());
            let next_offset = (end < docs.len()).then_some(end);
            let page = docs.into_iter().skip(filter.offset).take(limit).map(with_sla).collect();
            (page, None, next_offset)
        }
        ListOrder::Submitted => {
            let mut docs: Vec<PurchaseDoc> =
                selected.filter(|p| p.summary.sequence > filter.after).collect();
            docs.sort_by_key(|p| p.summary.sequence);
            docs.drain(..filter.offset.min(docs.len()));
            let next_after = (docs.len() > limit).then(|| docs[limit - 1].summary.sequence);
            docs.truncate(limit);
            (docs.into_iter().map(with_sla).collect::<Vec<_>>(), next_after, None)
        }
        ListOrder::Due => {
            let mut all: Vec<_> =
                selected.filter(|p| p.summary.sequence > filter.after).map(with_sla).collect();
            // Running clocks by due time (none due: last), then the oldest first.
            all.sort_by_key(|(summary, sla)| {
                let due = sla.as_ref().and_then(|s| s.next_due_at);
                (due.is_none(), due, summary.sequence)
            });
            let end = filter.offset.saturating_add(limit).min(all.len());
            let next_offset = (end < all.len()).then_some(end);
            let page = all.into_iter().skip(filter.offset).take(limit).collect();
            (page, None, next_offset)
        }
    };
    let purchases = page
        .into_iter()
        .map(|(purchase, sla)| {
            let school = schools.get(&purchase.school_id);
            ListedPurchase {
                school_name: school.and_then(|s| s.status.name.as_ref()).map(ToString::to_string),
                school_gated_now: school.is_some_and(|s| s.status.is_gated()),
                purchase,
                sla,
            }
        })
        .collect();
    PurchaseList { purchases, next_after, next_offset }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use events::clocks::PurchaseClocks;
    use events::school::SchoolStatus;

    use crate::domain::testing::fixtures;

    fn t0() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_725_267_600, 0).unwrap()
    }

    /// Summaries as documents without clocks.
    fn docs(summaries: Vec<PurchaseSummary>) -> Vec<PurchaseDoc> {
        summaries
            .into_iter()
            .map(|summary| PurchaseDoc { summary, clocks: PurchaseClocks::default() })
            .collect()
    }

    fn listed(
        all: Vec<PurchaseSummary>,
        schools: &HashMap<String, SchoolDoc>,
        filter: &ListFilter,
        visible: impl Fn(&str) -> bool,
    ) -> PurchaseList {
        list(docs(all), schools, filter, visible, &District::default(), t0())
    }

    fn summary(sequence: u64, school: &str, status: PurchaseStatus, by: &str) -> PurchaseSummary {
        let at = DateTime::<Utc>::from_timestamp(1_725_267_600, 0).unwrap();
        PurchaseSummary {
            purchase_id: uuid::Uuid::from_u128(sequence.into()),
            external_ref: format!("PO-{sequence}"),
            school_id: school.into(),
            requester_email: "p@district.example".into(),
            vendor: "Dell".into(),
            total: "10.00".into(),
            currency: "USD".into(),
            status,
            reasons: vec![],
            submitted_by: by.into(),
            submitted_at: at,
            flagged_at: None,
            calls: 0,
            first_reached_at: None,
            alternatives: 0,
            resolved_at: None,
            sequence,
            updated_at: at,
        }
    }

    fn filter(limit: usize) -> ListFilter {
        ListFilter { limit, ..ListFilter::default() }
    }

    #[test]
    fn lists_oldest_first_in_pages_with_the_school_joined() {
        use PurchaseStatus::*;
        let all = vec![
            summary(9, "lincoln", Held, "erp"),
            summary(3, "lincoln", Held, "erp"),
            summary(5, "adams", Approved, "erp"),
        ];
        let name = Some(events::values::ShortText::parse("Lincoln").unwrap());
        let status = SchoolStatus { name, ..SchoolStatus::default() };
        let schools = HashMap::from([(
            "lincoln".to_owned(),
            SchoolDoc { school_id: "lincoln".into(), status },
        )]);
        let page = listed(all.clone(), &schools, &filter(2), |_| true);
        let seqs: Vec<u64> = page.purchases.iter().map(|p| p.purchase.sequence).collect();
        assert_eq!((seqs, page.next_after), (vec![3, 5], Some(5)));
        assert_eq!(page.purchases[0].school_name.as_deref(), Some("Lincoln"));
        assert!(!page.purchases[0].school_gated_now);
        assert_eq!(page.purchases[1].school_name, None);

        let held = ListFilter { status: Some(Held), after: 3, ..filter(10) };
        let page = listed(all, &schools, &held, |_| true);
        let seqs: Vec<u64> = page.purchases.iter().map(|p| p.purchase.sequence).collect();
        assert_eq!((seqs, page.next_after), (vec![9], None));
    }

    #[test]
    fn the_newest_first_in_pages_by_offset() {
        use PurchaseStatus::*;
        let all = vec![
            summary(3, "lincoln", Held, "erp"),
            summary(9, "lincoln", Approved, "erp"),
            summary(5, "adams", Approved, "erp"),
            summary(7, "lincoln", Advisory, "erp"),
        ];
        let newest =
            ListFilter { order: ListOrder::Newest, school_id: Some("lincoln".into()), ..filter(2) };
        let page = listed(all.clone(), &HashMap::new(), &newest, |_| true);
        let seqs: Vec<u64> = page.purchases.iter().map(|p| p.purchase.sequence).collect();
        assert_eq!((seqs, page.next_offset, page.next_after), (vec![9, 7], Some(2), None));
        let rest = ListFilter { offset: 2, ..newest };
        let page = listed(all, &HashMap::new(), &rest, |_| true);
        let seqs: Vec<u64> = page.purchases.iter().map(|p| p.purchase.sequence).collect();
        assert_eq!((seqs, page.next_offset), (vec![3], None));
    }

    #[test]
    fn a_caller_sees_only_what_it_may() {
        let all = vec![
            summary(1, "a", PurchaseStatus::Held, "erp-1"),
            summary(2, "a", PurchaseStatus::Held, "erp-2"),
        ];
        let page = listed(all, &HashMap::new(), &filter(10), |by| by == "erp-2");
        assert_eq!(page.purchases.len(), 1);
        assert_eq!(page.purchases[0].purchase.submitted_by, "erp-2");
    }

    #[test]
    fn the_queue_by_due_time_puts_the_soonest_breach_first() {
        // A district whose first contact is due 60 business minutes (UTC, 09:00-17:00 on
        // weekdays; t0 is Monday 2 September 2024, 09:00).
        let mut district = District::default();
        district.apply(&fixtures::targets().into(), 1, t0() - TimeDelta::days(1));
        let flagged = |sequence: u64, minutes: i64, events: Vec<events::gate::PurchaseEvent>| {
            let mut clocks = PurchaseClocks::default();
            for event in &events {
                clocks.apply(event, t0() + TimeDelta::minutes(minutes));
            }
            let summary = summary(sequence, "a", PurchaseStatus::Held, "erp");
            PurchaseDoc { summary, clocks }
        };
        let all = vec![
            flagged(1, 30, fixtures::held_purchase()),
            flagged(2, 0, fixtures::held_purchase()),
            flagged(3, 0, fixtures::approved_purchase()),
            flagged(4, 10, fixtures::advisory_purchase()),
        ];
        let by_due = ListFilter { order: ListOrder::Due, ..filter(3) };
        let page = list(all.clone(), &HashMap::new(), &by_due, |_| true, &district, t0());
        let order: Vec<u64> = page.purchases.iter().map(|p| p.purchase.sequence).collect();
        assert_eq!(order, vec![2, 1, 4], "due 10:00, 10:30, 13:10; then the one without clocks");
        assert_eq!((page.next_offset, page.next_after), (Some(3), None));
        let sla = page.purchases[0].sla.as_ref().unwrap();
        assert_eq!(sla.first_contact_due_at, Some(t0() + TimeDelta::hours(1)));
        let rest = list(
            all,
            &HashMap::new(),
            &ListFilter { offset: 3, ..by_due },
            |_| true,
            &district,
            t0(),
        );
        assert_eq!(rest.purchases.len(), 1);
        assert!(rest.purchases[0].sla.is_none(), "approved at once: no clocks");
        assert_eq!(rest.next_offset, None);
    }
}
