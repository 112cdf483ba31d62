//! The gate service's streams and events.
//!
//! ## Streams
//!
//! | stream | family | what |
//! |---|---|---|
//! | `standards-district` ([`STANDARDS_STREAM`]) | [`StandardsEvent`] | the catalog (supported products, approved vendors) and the gate policy, all in one stream |
//! | `purchase-{uuid}` ([`purchase_stream`]) | [`PurchaseEvent`] | one purchase check and everything IT did with it |
//! | `idempotency-{uuid}` ([`idempotency_stream`]) | [`IdempotencyEvent`] | one caller's use of one `Idempotency-Key`, in any service: the request it names |
//!
//! The catalog and the policy share one stream on purpose: the stream's version names one
//! exact state of the standards, so the **policy version** a decision records
//! ([`PurchaseDecided::policy_version`]) is the version of `standards-district` the decision was
//! made against. An auditor replays that stream up to that version to see exactly which
//! products, vendors and policy the gate applied.
//!
//! ## A purchase's life
//!
//! `purchase-submitted` and `purchase-decided` are appended together when a finance system asks.
//! A `held` or `advisory` purchase is *flagged*: IT may then log `call-logged` and
//! `alternative-proposed`. A held purchase ends with `purchase-approved` (as submitted, or after
//! `alternative-accepted`, as amended) or `purchase-cancelled`. The gate writes
//! `alternative-accepted` only after a call that reached the requester, and
//! `purchase-cancelled` only after such a call and a proposed alternative (call before cancel,
//! [`crate::rules::CallBeforeCancel`]).
//!
//! ## When things took place
//!
//! The log records when each event was appended (`recorded_at`), and never anything else: a
//! purchase entered after the fact keeps its true recording times. What it may say besides is
//! when the fact itself took place: the check's `requested_at`, a call's `occurred_at`, an
//! alternative's, an approval's or a cancellation's `occurred_at`. Every reader measuring how
//! long IT took (the clocks, the reports, call before cancel) takes the time a fact took place
//! from one function, [`crate::clocks::took_place_at`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::stakeholders::Phone;
use crate::values::{
    Category, Currency, Email, ExternalRef, IdempotencyKey, LongText, Mcc, Money, PaymentMethod,
    Quantity, SchoolId, ShortText, Sku, TechnologyTerm, VendorId,
};

/// The category of the standards stream.
pub const STANDARDS_CATEGORY: &str = "standards";
/// The one stream holding the catalog and the policy.
pub const STANDARDS_STREAM: &str = "standards-district";
/// The category of purchase streams.
pub const PURCHASE_CATEGORY: &str = "purchase";

/// The stream of the purchase `id`: `purchase-{id}`.
pub fn purchase_stream(id: Uuid) -> String {
    format!("{PURCHASE_CATEGORY}-{id}")
}

// ---------------------------------------------------------------------------------------------
// Standards

/// A product IT supports was added to the catalog or changed. Keyed by `sku`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductUpserted {
    pub sku: Sku,
    /// The product's name, for people.
    pub name: ShortText,
    pub category: Category,
    /// The only vendor it may be bought from (an id on the vendor list): a purchase of it from
    /// another vendor is not supported (`not-from-catalog-vendor`). Absent: it may be bought
    /// from any approved vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<VendorId>,
    /// The usual price, for reference; given together with `currency`.
    pub unit_price: Option<Money>,
    pub currency: Option<Currency>,
}

/// A product was taken out of the catalog: purchases of it are no longer supported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductRemoved {
    pub sku: Sku,
}

/// A vendor was added to the vendor list or changed. Keyed by `vendor_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VendorUpserted {
    pub vendor_id: VendorId,
    /// The vendor's name; purchase checks may name the vendor by id or by this name.
    pub name: ShortText,
    /// Whether purchases of technology from this vendor are supported.
    pub approved: bool,
}

/// The gate policy was set (replacing the previous one whole).
///
/// The gate fails closed: a line whose category is in neither `technology_categories` nor
/// `non_technology_categories` is *unclassified* and IT reviews it, until IT classifies the
/// category (a new policy); a line under a non-technology category whose description names one
/// of the `technology_terms` *looks like technology* and IT reviews it too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicySet {
    /// A purchase line in one of these categories is technology.
    pub technology_categories: Vec<Category>,
    /// A purchase line in one of these categories is not technology (unless its description
    /// names technology). Absent in policies set before the gate knew the list: every
    /// category not listed as technology was then unclassified.
    #[serde(default)]
    pub non_technology_categories: Vec<Category>,
    /// Every line of a purchase paid at a merchant with one of these category codes is
    /// technology.
    pub technology_mccs: Vec<Mcc>,
    /// A technology purchase whose total is over this amount always needs IT review.
    pub review_threshold: Money,
    /// The currency of the threshold; purchase checks must be in it.
    pub currency: Currency,
    /// Words and product names that name technology: a line filed under a non-technology
    /// category whose description names one (whole words, ignoring case, the last word may be
    /// plural) needs IT review. Left out, the defaults ([`DEFAULT_TECHNOLOGY_TERMS`]); `[]` for
    /// none.
    #[serde(default = "default_technology_terms")]
    pub technology_terms: Vec<TechnologyTerm>,
}

/// The technology terms of a policy that does not list its own: common devices, peripherals,
/// network gear and software, by the words and product names people write on orders.
pub const DEFAULT_TECHNOLOGY_TERMS: &[&str] = &[
    "laptop",
    "notebook computer",
    "desktop computer",
    "Chromebook",
    "MacBook",
    "iMac",
    "iPad",
    "iPhone",
    "smartphone",
    "tablet",
    "e-reader",
    "projector",
    "printer",
    "3D printer",
    "scanner",
    "monitor",
    "smartboard",
    "smart board",
    "interactive whiteboard",
    "interactive display",
    "router",
    "access point",
    "network switch",
    "modem",
    "Wi-Fi",
    "hotspot",
    "server",
    "camera",
    "webcam",
    "drone",
    "headset",
    "software",
    "software licence",
    "software license",
];

/// [`DEFAULT_TECHNOLOGY_TERMS`] as terms.
pub fn default_technology_terms() -> Vec<TechnologyTerm> {
    DEFAULT_TECHNOLOGY_TERMS
        .iter()
        .map(|t| TechnologyTerm::parse(t).expect("the default terms are valid"))
        .collect()
}

event_family! {
    /// The events of the `standards-district` stream: catalog and policy.
    pub enum StandardsEvent in "standards" {
        /// `product-upserted`
        ProductUpserted(ProductUpserted) = "product-upserted",
        /// `product-removed`
        ProductRemoved(ProductRemoved) = "product-removed",
        /// `vendor-upserted`
        VendorUpserted(VendorUpserted) = "vendor-upserted",
        /// `policy-set`
        PolicySet(PolicySet) = "policy-set",
    }
}

// ---------------------------------------------------------------------------------------------
// Purchases

/// One line of a purchase, or of an alternative IT proposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseLine {
    /// The catalog SKU, when the buyer knows it; a technology line without one is not in the
    /// catalog.
    pub sku: Option<Sku>,
    pub description: ShortText,
    pub category: Category,
    pub quantity: Quantity,
    /// The price of one unit, in the purchase's currency.
    pub unit_price: Money,
}

/// A finance system asked about a purchase. Always followed, in the same append, by
/// `purchase-decided`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseSubmitted {
    pub purchase_id: Uuid,
    /// The finance system's own id for the purchase.
    pub external_ref: ExternalRef,
    /// The `Idempotency-Key` the request carried, if any.
    pub idempotency_key: Option<IdempotencyKey>,
    /// The JWT subject of the finance system that asked.
    pub submitted_by: String,
    /// Hex SHA-256 of the canonical form of the request: a repeat with the same
    /// `external_ref` must have the same hash.
    pub request_hash: String,
    pub school_id: SchoolId,
    /// Who at the school wants to buy: the person IT calls.
    pub requester_email: Email,
    /// The vendor, as the finance system names it.
    pub vendor: ShortText,
    pub payment_method: PaymentMethod,
    /// The card merchant's category code, for card purchases.
    pub merchant_category_code: Option<Mcc>,
    pub currency: Currency,
    pub lines: Vec<PurchaseLine>,
    /// What the purchase is for, in the requester's words.
    pub purpose: Option<LongText>,
    /// The sum of quantity × unit price over all lines.
    pub total: Money,
    /// When the requester asked for the purchase, for a check the finance system sends after
    /// the fact (a purchase entered late, or history brought over from another system): the
    /// purchase's clocks run from then ([`crate::clocks::took_place_at`]). Absent: when the log
    /// recorded the check, as for every check sent when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
}

/// What the gate answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Supported technology, or not technology at all: go ahead.
    Approved,
    /// Needs IT review and the school has signed the purchasing agreement: finance must wait.
    Held,
    /// Needs IT review but the school has not signed: it may go ahead, and IT is told.
    Advisory,
}

impl Decision {
    /// Whether the decision flags the purchase for IT: `held` and `advisory` do, `approved` does
    /// not. A purchase is flagged at the time the log recorded such a decision.
    pub fn flags(self) -> bool {
        match self {
            Self::Held | Self::Advisory => true,
            Self::Approved => false,
        }
    }
}

/// Why the gate decided as it did; every rule that fired gives one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCode {
    /// This line is not technology (its category is not a technology category and the
    /// merchant category code is not a technology one): the gate does not concern itself
    /// with it.
    NotTechnology,
    /// This technology line is supported: its SKU is in the catalog and the vendor is approved.
    InCatalog,
    /// This technology line has no SKU, or a SKU that is not in the catalog.
    NotInCatalog,
    /// The purchase has technology lines and its vendor is not an approved vendor.
    VendorNotApproved,
    /// The purchase has technology lines and its total is over the policy's review threshold.
    OverReviewThreshold,
    /// The purchase needs review, but its school has not signed the purchasing agreement, so
    /// the decision is advisory rather than held.
    SchoolNotGated,
    /// This line's category is in neither of the policy's lists (technology, not technology):
    /// the gate fails closed and IT reviews it, until IT classifies the category.
    UnclassifiedCategory,
    /// This line is filed under a non-technology category, but its description names
    /// technology (one of the policy's `technology_terms`): IT reviews it.
    LooksLikeTechnology,
    /// This line's SKU is in the catalog, but the catalog names the only vendor it may come
    /// from, and the purchase's vendor is another.
    NotFromCatalogVendor,
}

impl ReasonCode {
    /// The wire name (`not-in-catalog`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotTechnology => "not-technology",
            Self::InCatalog => "in-catalog",
            Self::NotInCatalog => "not-in-catalog",
            Self::VendorNotApproved => "vendor-not-approved",
            Self::OverReviewThreshold => "over-review-threshold",
            Self::SchoolNotGated => "school-not-gated",
            Self::UnclassifiedCategory => "unclassified-category",
            Self::LooksLikeTechnology => "looks-like-technology",
            Self::NotFromCatalogVendor => "not-from-catalog-vendor",
        }
    }
}

/// One reason for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    pub code: ReasonCode,
    /// The 0-based index of the line the reason is about; absent for reasons about the whole
    /// purchase.
    pub line: Option<usize>,
    /// The reason as a sentence for people.
    pub detail: String,
}

/// The gate's decision on a purchase. Appended with `purchase-submitted`; when the decision is
/// `held` or `advisory`, the time it was recorded is when the purchase was flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseDecided {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    /// The version of the `standards-district` stream the decision was made against.
    pub policy_version: u64,
    /// Whether the school had signed the purchasing agreement when the gate decided.
    pub school_gated: bool,
}

/// IT called (or tried to call) the requester about a flagged purchase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallLogged {
    pub call_id: Uuid,
    /// Whether IT spoke with the requester.
    pub requester_reached: bool,
    /// What the requester is trying to accomplish; always present when they were reached.
    pub goal: Option<LongText>,
    pub notes: Option<LongText>,
    /// When the call took place.
    pub occurred_at: DateTime<Utc>,
    /// Who IT spoke with. When the requester was reached: the requester's stakeholder id if
    /// their e-mail belongs to a registered stakeholder, else their name and a phone or e-mail.
    /// Absent when nobody was reached, and on calls logged before the gate recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spoke_with: Option<PersonReached>,
}

/// A person IT spoke with on a call: a registered stakeholder (by id), or someone named, with a
/// phone number or an e-mail address to reach them again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PersonReached {
    /// The stakeholder, when the person is a registered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stakeholder_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ShortText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

impl PersonReached {
    /// The registered stakeholder `id`.
    pub fn stakeholder(id: Uuid) -> Self {
        Self { stakeholder_id: Some(id), name: None, phone: None, email: None }
    }

    /// Whether it names someone: a stakeholder, or a name with a phone or an e-mail.
    pub fn names_someone(&self) -> bool {
        self.stakeholder_id.is_some()
            || (self.name.is_some() && (self.phone.is_some() || self.email.is_some()))
    }
}

/// IT proposed an alternative to a flagged purchase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlternativeProposed {
    pub alternative_id: Uuid,
    pub description: LongText,
    /// The lines the purchase would have instead; may be empty (advice without a priced list).
    #[serde(default)]
    pub lines: Vec<PurchaseLine>,
    /// The call (of this purchase) in which it was discussed with the requester, if named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<Uuid>,
    /// How the gate judged its lines against the standards when it was proposed; absent
    /// without lines (and on alternatives proposed before the gate judged them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<LinesAssessed>,
    /// When it was proposed to the requester, when IT logs it after the fact; absent: when the
    /// log recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// How the gate judged an alternative's lines against the standards, line by line, as it
/// judges a purchase check's (the vendor aside: an alternative names none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LinesAssessed {
    /// Whether every line is supported technology or not technology at all; `false` when a
    /// line is unsupported technology, unclassified or looks like technology (its reasons say
    /// which).
    pub supported: bool,
    /// One reason per line (`in-catalog`, `not-in-catalog`, `not-technology`,
    /// `unclassified-category`, `looks-like-technology`).
    pub reasons: Vec<Reason>,
    /// The version of the standards the lines were judged against.
    pub policy_version: u64,
}

/// The requester accepted an alternative. Always followed, in the same append, by
/// `purchase-approved` naming the alternative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlternativeAccepted {
    pub alternative_id: Uuid,
}

/// IT approved a held purchase: as submitted, or as amended by an accepted alternative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseApproved {
    pub note: Option<LongText>,
    /// The accepted alternative the purchase was approved as, if any.
    pub alternative_id: Option<Uuid>,
    /// When IT decided, when it logs the decision after the fact: the purchase's clocks stop
    /// then. Absent: when the log recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// IT cancelled a held purchase, after a reached call and a proposed alternative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseCancelled {
    pub reason: LongText,
    /// When IT decided, when it logs the decision after the fact: the purchase's clocks stop
    /// then. Absent: when the log recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// IT is waiting on the requester (they said they would send the details, check with their
/// team, come back with a quote): the decision clock pauses from `since` until a call that
/// reaches them (their answer), as after a call that did not reach them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WaitingOnRequester {
    /// What IT is waiting for.
    pub note: LongText,
    /// Since when.
    pub since: DateTime<Utc>,
}

event_family! {
    /// The events of a `purchase-{uuid}` stream.
    pub enum PurchaseEvent in "purchase" {
        /// `purchase-submitted`
        Submitted(PurchaseSubmitted) = "purchase-submitted",
        /// `purchase-decided`
        Decided(PurchaseDecided) = "purchase-decided",
        /// `call-logged`
        CallLogged(CallLogged) = "call-logged",
        /// `alternative-proposed`
        AlternativeProposed(AlternativeProposed) = "alternative-proposed",
        /// `alternative-accepted`
        AlternativeAccepted(AlternativeAccepted) = "alternative-accepted",
        /// `purchase-approved`
        Approved(PurchaseApproved) = "purchase-approved",
        /// `purchase-cancelled`
        Cancelled(PurchaseCancelled) = "purchase-cancelled",
        /// `waiting-on-requester`
        WaitingOnRequester(WaitingOnRequester) = "waiting-on-requester",
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency keys

/// The category of the streams that record a caller's use of an `Idempotency-Key`, in any
/// service.
pub const IDEMPOTENCY_CATEGORY: &str = "idempotency";

/// The namespace of [`idempotency_key_id`]: v5(namespace, subject ␀ key).
pub const IDEMPOTENCY_KEY_NAMESPACE: Uuid =
    Uuid::from_u128(0x2c41_9e07_53d8_4a5e_b1f6_0d93_6a2e_7f48);

/// The id of the stream recording a caller's use of an `Idempotency-Key`: UUID v5 of the
/// caller's JWT subject and the key, so each caller has its own keys.
pub fn idempotency_key_id(subject: &str, key: &str) -> Uuid {
    Uuid::new_v5(&IDEMPOTENCY_KEY_NAMESPACE, format!("{subject}\u{0}{key}").as_bytes())
}

/// The stream recording the use of one caller's `Idempotency-Key`: `idempotency-{uuid}`, the
/// uuid derived from the caller and the key ([`idempotency_key_id`]).
pub fn idempotency_stream(id: Uuid) -> String {
    format!("{IDEMPOTENCY_CATEGORY}-{id}")
}

/// A finance system sent a purchase check with an `Idempotency-Key`: the key now names that
/// request. Appended with the purchase's first events, in the same atomic append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdempotencyKeyUsed {
    pub purchase_id: Uuid,
    /// The `request_hash` of the check the key was used for.
    pub request_hash: String,
}

/// A request that creates something (a call, an alternative, an approval, a conversation, a
/// promise…) was sent with an `Idempotency-Key` and changed the log: the key now names that
/// request. Appended with what the request changed, in the same atomic append, as the stream's
/// only event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdempotentRequestRecorded {
    /// Hex SHA-256 of the request: its method, path and body. A repeat must have the same.
    pub request_hash: String,
    /// The request's method and path, for people (`POST /v1/purchases/{id}/calls`).
    pub request: String,
    /// The stream the request's command appended to.
    pub stream: String,
    /// That stream's version once the request's events were appended.
    pub version: u64,
    /// The ids of what the request created, in an order its service knows, to answer a repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<Uuid>,
}

event_family! {
    /// The events of an `idempotency-{uuid}` stream.
    pub enum IdempotencyEvent in "idempotency" {
        /// `idempotency-key-used`
        KeyUsed(IdempotencyKeyUsed) = "idempotency-key-used",
        /// `idempotent-request-recorded`
        RequestRecorded(IdempotentRequestRecorded) = "idempotent-request-recorded",
    }
}

/// Where a purchase stands: its decision until IT acts, then `approved` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    /// Decided approved, or approved by IT.
    Approved,
    /// Waiting for IT: finance must not proceed.
    Held,
    /// May proceed; IT was told and may reach out.
    Advisory,
    /// Cancelled by IT after calling the requester and proposing an alternative.
    Cancelled,
}

impl PurchaseStatus {
    /// The wire name (`held`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Held => "held",
            Self::Advisory => "advisory",
            Self::Cancelled => "cancelled",
        }
    }
}

impl PurchaseStatus {
    /// Where a purchase stands after `event`, from where it stood (`None`: not decided yet):
    /// its decision, until IT approves it (directly or by accepting an alternative, which is
    /// followed by `purchase-approved`) or cancels it. The other events leave it as it was.
    pub fn after(status: Option<Self>, event: &PurchaseEvent) -> Option<Self> {
        match event {
            PurchaseEvent::Decided(d) => Some(d.decision.into()),
            PurchaseEvent::Approved(_) => Some(Self::Approved),
            PurchaseEvent::Cancelled(_) => Some(Self::Cancelled),
            PurchaseEvent::Submitted(_)
            | PurchaseEvent::CallLogged(_)
            | PurchaseEvent::AlternativeProposed(_)
            | PurchaseEvent::AlternativeAccepted(_)
            | PurchaseEvent::WaitingOnRequester(_) => status,
        }
    }
}

/// The sum of quantity × unit price over `lines`, or `None` past [`Money::MAX`]: a purchase
/// check's total, and a priced alternative's.
pub fn lines_total(lines: &[PurchaseLine]) -> Option<Money> {
    lines.iter().try_fold(Money::ZERO, |sum, line| {
        sum.checked_add(line.unit_price.checked_mul(line.quantity)?)
    })
}

/// What a purchase costs now, folded from its stream ([`Self::apply`]): its total as
/// submitted until the requester accepts an alternative that priced its lines, then that
/// alternative's total ([`Self::total`]). An alternative without lines (advice, not a priced
/// list) leaves the total as it was. Reconciliation matches a card charge against it, so that
/// a purchase bought as amended is not taken for one that never asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendedTotal {
    /// The totals of the priced alternatives proposed and not (yet) accepted, by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proposed: BTreeMap<Uuid, Money>,
    /// The total of the accepted alternative, when it priced its lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Money>,
}

impl AmendedTotal {
    /// Takes in one event of the purchase's stream.
    pub fn apply(&mut self, event: &PurchaseEvent) {
        match event {
            PurchaseEvent::AlternativeProposed(p) => {
                if let Some(total) = lines_total(&p.lines).filter(|_| !p.lines.is_empty()) {
                    self.proposed.insert(p.alternative_id, total);
                }
            }
            PurchaseEvent::AlternativeAccepted(a) => {
                self.accepted = self.proposed.get(&a.alternative_id).copied();
            }
            // Approved (as submitted, or as amended after the acceptance) or cancelled:
            // nothing else can be accepted.
            PurchaseEvent::Approved(_) | PurchaseEvent::Cancelled(_) => self.proposed.clear(),
            _ => {}
        }
    }

    /// What the purchase costs now, given its total as submitted.
    pub fn total(&self, submitted: Money) -> Money {
        self.accepted.unwrap_or(submitted)
    }

    /// Whether it says nothing: no priced alternative proposed or accepted.
    pub fn is_empty(&self) -> bool {
        self.proposed.is_empty() && self.accepted.is_none()
    }
}

impl From<Decision> for PurchaseStatus {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Approved => Self::Approved,
            Decision::Held => Self::Held,
            Decision::Advisory => Self::Advisory,
        }
    }
}

impl std::fmt::Display for PurchaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
