//! [`PaymentMethod`]: how a purchase would be paid.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How the purchase would be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// A purchase order through the district's finance office.
    PurchaseOrder,
    /// A purchasing card (credit card) held by school staff.
    PCard,
    /// Staff pay and are reimbursed afterwards.
    Reimbursement,
}

impl PaymentMethod {
    /// The wire name (`purchase_order`, `p_card`, `reimbursement`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PurchaseOrder => "purchase_order",
            Self::PCard => "p_card",
            Self::Reimbursement => "reimbursement",
        }
    }
}

impl std::fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::test_support::de_err;

    #[test]
    fn wire_names() {
        for m in [PaymentMethod::PurchaseOrder, PaymentMethod::PCard, PaymentMethod::Reimbursement]
        {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            assert_eq!(serde_json::from_str::<PaymentMethod>(&json).unwrap(), m);
        }
        assert!(de_err::<PaymentMethod>("\"credit_card\"").contains("unknown variant"));
    }
}
