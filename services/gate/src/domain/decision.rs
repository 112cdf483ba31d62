//! The answer to a purchase check: [`decide`].
//!
//! Rules, in the order they are applied:
//!
//! 1. No policy has been set yet: no answer ([`DecisionError::NoPolicy`]).
//! 2. A check has 1 to [`MAX_LINES`] lines ([`DecisionError::NoLines`],
//!    [`DecisionError::TooManyLines`]) and is in the policy's currency
//!    ([`DecisionError::CurrencyMismatch`]).
//! 3. The total is the sum of quantity × unit price over **all** lines, with checked arithmetic
//!    ([`DecisionError::TotalTooLarge`] past `Money::MAX`).
//! 4. Each line is **classified** ([`classify`]), failing closed:
//!    - **technology** when its category is one of the policy's technology categories, or the
//!      check's merchant category code is one of the policy's technology codes (then every line
//!      of the check is technology: a computer store sells computers);
//!    - else, under one of the policy's non-technology categories, **not technology**, unless
//!      its description names one of the policy's technology terms (whole words, ignoring case:
//!      [`TechnologyTerm::found_in`]): then it **looks like technology**;
//!    - else **unclassified**: the policy lists its category neither way.
//! 5. The vendor is **approved** when the check's `vendor` text names an approved vendor by id
//!    or by name, ignoring case ([`Standards::approved_vendor`]).
//! 6. A technology line is **supported** when it has a SKU, the SKU is in the catalog, the
//!    vendor is approved, and, when the catalog names the only vendor the product may come from
//!    (its `vendor_id`), the check's vendor is that one ([`Standards::names_vendor`]). A
//!    catalog product without a vendor may be bought from any approved vendor.
//! 7. The purchase **needs review** when it has an unsupported technology line, an
//!    unclassified line or a line that looks like technology, or it has technology lines and
//!    its total is over the policy's review threshold (strictly over). So neither of the last
//!    two is ever approved.
//! 8. A purchase that needs review is `held` when the school has signed the purchasing
//!    agreement, else `advisory`; any other purchase is `approved`.
//!
//! Every rule that fires gives a reason, in this order: per line, `not-technology` (a
//! non-technology line), `unclassified-category`, `looks-like-technology` (naming the term
//! found), `in-catalog` (a supported line), `not-in-catalog` (a technology line without a SKU
//! or with a SKU not in the catalog) or `not-from-catalog-vendor` (a catalog SKU whose catalog
//! vendor is not the check's; a catalog SKU bought from an unapproved vendor gets no line
//! reason, the purchase-wide `vendor-not-approved` covers it); then, for the whole purchase,
//! `vendor-not-approved` (technology lines and an unapproved vendor), `over-review-threshold`,
//! and `school-not-gated` (the decision is advisory because the school has not signed). Each
//! reason carries a sentence for people.
//!
//! An alternative IT proposes is judged line by line the same way ([`assess_lines`]), without
//! a vendor or a merchant code: its catalog lines are supported whatever vendor IT buys them
//! from.

use chrono::{DateTime, Utc};
use events::gate::{
    Decision, LinesAssessed, PolicySet, PurchaseDecided, PurchaseLine, Reason, ReasonCode,
};
use events::school::SchoolStatus;
use events::values::{
    Currency, Email, ExternalRef, LongText, Mcc, Money, PaymentMethod, SchoolId, ShortText,
    TechnologyTerm,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::standards::{Standards, Vendor};

/// The most lines a purchase check may have.
pub const MAX_LINES: usize = 500;

/// A purchase check as a finance system sends it, parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseCheck {
    /// The caller's id for the purchase; with the caller's identity, the idempotency key.
    pub external_ref: ExternalRef,
    pub school_id: SchoolId,
    pub requester_email: Email,
    /// The vendor, as the caller names it.
    pub vendor: ShortText,
    pub payment_method: PaymentMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_category_code: Option<Mcc>,
    pub currency: Currency,
    pub lines: Vec<PurchaseLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<LongText>,
    /// When the requester asked for the purchase, for a check sent after the fact (the
    /// purchase's clocks run from then); absent: when the check is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
}

impl PurchaseCheck {
    /// Hex SHA-256 of the check's canonical form: its JSON serialization, with fields in
    /// declaration order, values normalized by their types (`"5"` and `"5.00"` are the same
    /// amount, `lat-5440` and `LAT-5440` the same SKU, text trimmed) and absent optional
    /// fields left out. Two requests with the same hash ask the same question.
    ///
    /// New fields must be optional and left out when absent, or the hashes of stored
    /// purchases would change.
    pub fn request_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("a purchase check always serializes");
        hex::encode(Sha256::digest(&canonical))
    }

    /// The sum of quantity × unit price over all lines, or `None` past `Money::MAX`.
    pub fn total(&self) -> Option<Money> {
        events::gate::lines_total(&self.lines)
    }
}

/// The gate's answer to a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    /// The sum of quantity × unit price over all lines.
    pub total: Money,
    /// The version of `standards-district` decided against.
    pub policy_version: u64,
    /// Whether the school had signed the purchasing agreement.
    pub school_gated: bool,
}

impl Outcome {
    /// The `purchase-decided` event recording this outcome.
    pub fn to_event(&self) -> PurchaseDecided {
        PurchaseDecided {
            decision: self.decision,
            reasons: self.reasons.clone(),
            policy_version: self.policy_version,
            school_gated: self.school_gated,
        }
    }

    /// The codes of the reasons, in order (handy in tests and logs).
    pub fn codes(&self) -> Vec<ReasonCode> {
        self.reasons.iter().map(|r| r.code).collect()
    }
}

/// Why the gate cannot answer a check. The `Display` text is the problem's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error(
        "The gate has no policy yet: IT must set which categories count as technology (PUT /v1/catalog/policy) before purchases can be checked."
    )]
    NoPolicy,
    #[error("A purchase check needs at least one line.")]
    NoLines,
    #[error("A purchase check may have at most {max} lines; this one has {count}.", max = MAX_LINES)]
    TooManyLines { count: usize },
    #[error(
        "The purchase is in {check}, but the gate's policy is in {policy}; send the check in {policy}."
    )]
    CurrencyMismatch { check: Currency, policy: Currency },
    #[error("The purchase's total is over {max}, the largest amount the gate accepts.", max = Money::MAX)]
    TotalTooLarge,
}

impl DecisionError {
    /// The stable problem-type slug: `no-policy` (503: the gate is not configured yet);
    /// the others are 422.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::NoPolicy => "no-policy",
            Self::NoLines | Self::TooManyLines { .. } => "invalid-lines",
            Self::CurrencyMismatch { .. } => "currency-mismatch",
            Self::TotalTooLarge => "total-too-large",
        }
    }
}

/// Decides a purchase check against the school's status and the standards (see the module
/// docs for the rules).
pub fn decide(
    check: &PurchaseCheck,
    school: &SchoolStatus,
    standards: &Standards,
) -> Result<Outcome, DecisionError> {
    let policy = standards.policy.as_ref().ok_or(DecisionError::NoPolicy)?;
    if check.lines.is_empty() {
        return Err(DecisionError::NoLines);
    }
    if check.lines.len() > MAX_LINES {
        return Err(DecisionError::TooManyLines { count: check.lines.len() });
    }
    if check.currency != policy.currency {
        return Err(DecisionError::CurrencyMismatch {
            check: check.currency,
            policy: policy.currency,
        });
    }
    let total = check.total().ok_or(DecisionError::TotalTooLarge)?;

    let technology_mcc =
        check.merchant_category_code.as_ref().filter(|mcc| policy.technology_mccs.contains(mcc));
    let vendor = standards.approved_vendor(check.vendor.as_str());

    let mut reasons = Vec::new();
    let mut technology_lines = 0;
    let mut unsupported_lines = 0;
    for (index, line) in check.lines.iter().enumerate() {
        let class = classify(line, policy, technology_mcc);
        let buyer = Buyer::Check {
            vendor,
            named: check.vendor.as_str(),
            merchant_code: check.merchant_category_code.as_ref(),
        };
        let judged = judge(index, line, &class, standards, buyer);
        technology_lines += usize::from(matches!(class, Class::Technology { .. }));
        unsupported_lines += usize::from(judged.needs_review);
        reasons.extend(judged.reason);
    }

    let technology = technology_lines > 0;
    if technology && vendor.is_none() {
        reasons.push(reason(
            ReasonCode::VendorNotApproved,
            None,
            format!("{:?} is not an approved technology vendor.", check.vendor.as_str()),
        ));
    }
    let over_threshold = technology && total > policy.review_threshold;
    if over_threshold {
        reasons.push(reason(
            ReasonCode::OverReviewThreshold,
            None,
            format!(
                "The total of {total} {currency} is over the review threshold of {threshold} {currency}, so IT reviews it.",
                currency = policy.currency,
                threshold = policy.review_threshold
            ),
        ));
    }

    let needs_review = unsupported_lines > 0 || over_threshold;
    let school_gated = school.is_gated();
    let decision = if !needs_review {
        Decision::Approved
    } else if school_gated {
        Decision::Held
    } else {
        let detail = if school.registered {
            format!(
                "School {} has not signed the purchasing agreement, so the purchase may go ahead; IT has been told and may reach out.",
                check.school_id
            )
        } else {
            format!(
                "{} is not a registered school with a purchasing agreement, so the purchase may go ahead; IT has been told and may reach out.",
                check.school_id
            )
        };
        reasons.push(reason(ReasonCode::SchoolNotGated, None, detail));
        Decision::Advisory
    };

    Ok(Outcome { decision, reasons, total, policy_version: standards.version, school_gated })
}

fn reason(code: ReasonCode, line: Option<usize>, detail: String) -> Reason {
    Reason { code, line, detail }
}

/// What a line is, by the policy ([`classify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class<'a> {
    /// Technology: by its category, or by the check's merchant category code.
    Technology { by_mcc: Option<&'a Mcc> },
    /// Not technology: its category is a non-technology one, and its description names no
    /// technology term.
    NotTechnology,
    /// Filed under a non-technology category, but its description names `term`.
    LooksLikeTechnology { term: &'a TechnologyTerm },
    /// Its category is in neither of the policy's lists.
    Unclassified,
}

/// What `line` is by `policy`, paid with the technology merchant code `technology_mcc` (the
/// check's code when the policy lists it), failing closed (see the module docs).
pub fn classify<'a>(
    line: &PurchaseLine,
    policy: &'a PolicySet,
    technology_mcc: Option<&'a Mcc>,
) -> Class<'a> {
    if policy.technology_categories.contains(&line.category) {
        return Class::Technology { by_mcc: None };
    }
    if let Some(mcc) = technology_mcc {
        return Class::Technology { by_mcc: Some(mcc) };
    }
    if !policy.non_technology_categories.contains(&line.category) {
        return Class::Unclassified;
    }
    // The most specific term found names it ("3D printer" rather than "printer").
    let found = policy.technology_terms.iter().filter(|t| t.found_in(line.description.as_str()));
    match found.max_by_key(|t| t.as_str().len()) {
        Some(term) => Class::LooksLikeTechnology { term },
        None => Class::NotTechnology,
    }
}

/// Who buys a line: the check's vendor (approved or not, as named, with the merchant's code),
/// or IT for an alternative.
#[derive(Debug, Clone, Copy)]
enum Buyer<'a> {
    Check { vendor: Option<&'a Vendor>, named: &'a str, merchant_code: Option<&'a Mcc> },
    Alternative,
}

/// A line's reason (none for a catalog line from an unapproved vendor: the purchase-wide
/// `vendor-not-approved` says it) and whether it needs review.
struct Judged {
    reason: Option<Reason>,
    needs_review: bool,
}

fn judge(
    index: usize,
    line: &PurchaseLine,
    class: &Class<'_>,
    standards: &Standards,
    buyer: Buyer<'_>,
) -> Judged {
    let description = line.description.as_str();
    let category = &line.category;
    let flagged = |code, detail| Judged {
        reason: Some(reason(code, Some(index), detail)),
        needs_review: true,
    };
    let by_mcc = match class {
        Class::Technology { by_mcc } => *by_mcc,
        Class::NotTechnology => {
            let mcc = match buyer {
                Buyer::Check { merchant_code: Some(mcc), .. } => {
                    format!(" and merchant category code {mcc} is not a technology code")
                }
                _ => String::new(),
            };
            let detail = format!(
                "{description:?} is not technology: category {category} is not a technology category{mcc}."
            );
            return Judged {
                reason: Some(reason(ReasonCode::NotTechnology, Some(index), detail)),
                needs_review: false,
            };
        }
        Class::Unclassified => {
            return flagged(
                ReasonCode::UnclassifiedCategory,
                format!(
                    "{description:?} is filed under category {category}, which the policy lists neither as technology nor as not technology, so IT reviews it; IT classifies a category once, in the policy, and later checks follow it."
                ),
            );
        }
        Class::LooksLikeTechnology { term } => {
            return flagged(
                ReasonCode::LooksLikeTechnology,
                format!(
                    "{description:?} is filed under {category}, a category that is not technology, but its description names technology: the words {:?} (the policy's technology terms are matched as whole words, ignoring case), so IT reviews it.",
                    term.as_str()
                ),
            );
        }
    };
    let why = match by_mcc {
        Some(mcc) => format!("merchant category code {mcc}"),
        None => format!("category {category}"),
    };
    let product = line.sku.as_ref().and_then(|sku| standards.product(sku));
    match (&line.sku, product) {
        (Some(sku), Some(product)) => match buyer {
            Buyer::Alternative => Judged {
                reason: Some(reason(
                    ReasonCode::InCatalog,
                    Some(index),
                    format!("{description:?} is supported: SKU {sku} is in the catalog."),
                )),
                needs_review: false,
            },
            // Unsupported only because of the vendor: `vendor-not-approved` says so.
            Buyer::Check { vendor: None, .. } => Judged { reason: None, needs_review: true },
            Buyer::Check { vendor: Some(v), named, .. } => match &product.vendor_id {
                Some(only) if !standards.names_vendor(named, only) => flagged(
                    ReasonCode::NotFromCatalogVendor,
                    format!(
                        "{description:?} (SKU {sku}) is in the catalog, but only from {}; {named:?} is not that vendor.",
                        standards.vendors.get(only).map_or(only.as_str(), |o| o.name.as_str())
                    ),
                ),
                _ => Judged {
                    reason: Some(reason(
                        ReasonCode::InCatalog,
                        Some(index),
                        format!(
                            "{description:?} is supported: SKU {sku} is in the catalog and {} is an approved vendor.",
                            v.name
                        ),
                    )),
                    needs_review: false,
                },
            },
        },
        (Some(sku), None) => flagged(
            ReasonCode::NotInCatalog,
            format!(
                "{description:?} is technology ({why}) but SKU {sku} is not in the catalog of supported products."
            ),
        ),
        (None, _) => flagged(
            ReasonCode::NotInCatalog,
            format!(
                "{description:?} is technology ({why}) but has no SKU, so it cannot be matched to the catalog."
            ),
        ),
    }
}

/// An alternative's `lines` judged against `standards` as a check's are (see the module
/// docs), without a vendor or a merchant code; `None` without lines or without a policy.
pub fn assess_lines(lines: &[PurchaseLine], standards: &Standards) -> Option<LinesAssessed> {
    let policy = standards.policy.as_ref()?;
    if lines.is_empty() {
        return None;
    }
    let mut reasons = Vec::new();
    let mut supported = true;
    for (index, line) in lines.iter().enumerate() {
        let class = classify(line, policy, None);
        let judged = judge(index, line, &class, standards, Buyer::Alternative);
        supported &= !judged.needs_review;
        reasons.extend(judged.reason);
    }
    Some(LinesAssessed { supported, reasons, policy_version: standards.version })
}

#[cfg(test)]
mod tests;
