//! The purchase list (and the held queue): purchases joined with their schools as the gate
//! knows them now. A pure function of the two read models, testable without HTTP.

use std::collections::HashMap;

use events::gate::PurchaseStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PurchaseSummary, SchoolDoc};

/// A purchase in the list, with its school as the gate knows it now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListedPurchase {
    #[serde(flatten)]
    pub purchase: PurchaseSummary,
    pub school_name: Option<String>,
    /// Whether the school has the purchasing agreement in force now.
    pub school_gated_now: bool,
}

/// A page of purchases, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PurchaseList {
    pub purchases: Vec<ListedPurchase>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// Which purchases to list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<PurchaseStatus>,
    pub school_id: Option<String>,
    /// Only purchases submitted after this log position.
    pub after: u64,
    /// At most this many.
    pub limit: usize,
}

/// The page of `purchases` that `filter` and `visible` (whether the caller may see a purchase
/// submitted by that subject) select, oldest first, each with its school.
pub fn list(
    purchases: Vec<PurchaseSummary>,
    schools: &HashMap<String, SchoolDoc>,
    filter: &ListFilter,
    visible: impl Fn(&str) -> bool,
) -> PurchaseList {
    let mut purchases: Vec<PurchaseSummary> = purchases
        .into_iter()
        .filter(|p| p.sequence > filter.after)
        .filter(|p| filter.status.is_none_or(|s| p.status == s))
        .filter(|p| filter.school_id.as_ref().is_none_or(|s| &p.school_id == s))
        .filter(|p| visible(&p.submitted_by))
        .collect();
    purchases.sort_by_key(|p| p.sequence);
    let limit = filter.limit;
    let next_after = (purchases.len() > limit).then(|| purchases[limit - 1].sequence);
    purchases.truncate(limit);
    let purchases = purchases
        .into_iter()
        .map(|purchase| {
            let school = schools.get(&purchase.school_id);
            ListedPurchase {
                school_name: school.and_then(|s| s.status.name.as_ref()).map(ToString::to_string),
                school_gated_now: school.is_some_and(|s| s.status.is_gated()),
                purchase,
            }
        })
        .collect();
    PurchaseList { purchases, next_after }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use events::school::SchoolStatus;

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
        let page = list(all.clone(), &schools, &filter(2), |_| true);
        let seqs: Vec<u64> = page.purchases.iter().map(|p| p.purchase.sequence).collect();
        assert_eq!((seqs, page.next_after), (vec![3, 5], Some(5)));
        assert_eq!(page.purchases[0].school_name.as_deref(), Some("Lincoln"));
        assert!(!page.purchases[0].school_gated_now);
        assert_eq!(page.purchases[1].school_name, None);

        let held = ListFilter { status: Some(Held), after: 3, ..filter(10) };
        let page = list(all, &schools, &held, |_| true);
        let seqs: Vec<u64> = page.purchases.iter().map(|p| p.purchase.sequence).collect();
        assert_eq!((seqs, page.next_after), (vec![9], None));
    }

    #[test]
    fn a_caller_sees_only_what_it_may() {
        let all = vec![
            summary(1, "a", PurchaseStatus::Held, "erp-1"),
            summary(2, "a", PurchaseStatus::Held, "erp-2"),
        ];
        let page = list(all, &HashMap::new(), &filter(10), |by| by == "erp-2");
        assert_eq!(page.purchases.len(), 1);
        assert_eq!(page.purchases[0].purchase.submitted_by, "erp-2");
    }
}
