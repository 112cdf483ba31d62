//! The request bodies: each type is both the schema the OpenAPI document shows (`ToSchema`)
//! and the parser that accepts it ([`FromJson`]), reporting every bad field at once.

use chrono::{DateTime, Utc};
use events::gate::{
    PersonReached, PolicySet, ProductUpserted, PurchaseLine, VendorUpserted,
    default_technology_terms,
};
use events::stakeholders::Phone;
use events::values::{
    Category, Currency, Email, ExternalRef, LongText, Mcc, Money, PaymentMethod, Quantity,
    SchoolId, ShortText, Sku, TechnologyTerm, VendorId,
};
use kernel::http::FromJson;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use web::Fields;

use crate::domain::standards::MAX_POLICY_ENTRIES;
use crate::domain::{LogCall, MAX_LINES, PurchaseCheck};

type Object = Map<String, Value>;

/// A purchase check, as sent by a finance system.
#[derive(Debug, ToSchema)]
pub struct PurchaseCheckBody {
    /// Your id for the purchase. With your identity it is the idempotency key: the same
    /// `external_ref` with the same body gets the same answer, never a second purchase.
    external_ref: ExternalRef,
    school_id: SchoolId,
    /// Who at the school wants to buy: the person IT will call.
    requester_email: Email,
    vendor: ShortText,
    payment_method: PaymentMethod,
    merchant_category_code: Option<Mcc>,
    /// ISO 4217; must be the policy's currency.
    currency: Currency,
    /// 1 to 500 lines.
    #[schema(min_items = 1, max_items = 500)]
    lines: Vec<PurchaseLine>,
    purpose: Option<LongText>,
    /// When the requester asked for the purchase, for a check you send after the fact (a
    /// purchase entered late, or history brought over from another system): its clocks run
    /// from then, and IT's calls and decisions on it may be dated from then. Default: now. At
    /// most 400 days before the server's time, and not more than five minutes after it. The
    /// log still records when the check arrived.
    requested_at: Option<DateTime<Utc>>,
}

impl FromJson for PurchaseCheckBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let external_ref = f.string("external_ref", map.get("external_ref"), ExternalRef::parse);
        let school_id = f.string("school_id", map.get("school_id"), SchoolId::parse);
        let requester_email = f.string("requester_email", map.get("requester_email"), Email::parse);
        let vendor = f.string("vendor", map.get("vendor"), ShortText::parse);
        let payment_method = f.string("payment_method", map.get("payment_method"), payment_method);
        let code = map.get("merchant_category_code");
        let merchant_category_code = f.optional_string("merchant_category_code", code, Mcc::parse);
        let currency = f.string("currency", map.get("currency"), Currency::parse);
        let lines = f.array("lines", map.get("lines"), 1, MAX_LINES, line);
        let purpose = f.optional_string("purpose", map.get("purpose"), LongText::parse);
        let requested_at = f.optional_string("requested_at", map.get("requested_at"), time);
        Some(Self {
            external_ref: external_ref?,
            school_id: school_id?,
            requester_email: requester_email?,
            vendor: vendor?,
            payment_method: payment_method?,
            merchant_category_code: merchant_category_code?,
            currency: currency?,
            lines: lines?,
            purpose: purpose?,
            requested_at: requested_at?,
        })
    }
}

impl From<PurchaseCheckBody> for PurchaseCheck {
    fn from(b: PurchaseCheckBody) -> Self {
        Self {
            external_ref: b.external_ref,
            school_id: b.school_id,
            requester_email: b.requester_email,
            vendor: b.vendor,
            payment_method: b.payment_method,
            merchant_category_code: b.merchant_category_code,
            currency: b.currency,
            lines: b.lines,
            purpose: b.purpose,
            requested_at: b.requested_at,
        }
    }
}

/// A call with the requester to log.
#[derive(Debug, ToSchema)]
pub struct CallBody {
    /// Whether you spoke with the requester.
    pub requester_reached: bool,
    /// What the requester is trying to accomplish: required when they were reached.
    pub goal: Option<LongText>,
    pub notes: Option<LongText>,
    /// When the call took place (default: now). Not before the purchase was flagged, nor more
    /// than five minutes after the server's time.
    pub occurred_at: Option<DateTime<Utc>>,
    /// Whom you spoke with. When the purchase's `requester_email` belongs to a registered
    /// stakeholder, a reached requester is that person and the call records their id (leave
    /// this out, or give their `stakeholder_id`); otherwise a reached requester needs their
    /// `name` and a `phone` or `email`. When the requester was not reached, you may name whom
    /// you spoke with instead.
    pub spoke_with: Option<PersonReached>,
}

impl CallBody {
    /// The call as logged: `call_id`, to `requester` (the stakeholder whose e-mail the
    /// purchase names, if any), at `now` unless the body says when it took place.
    pub fn logged(&self, call_id: Uuid, requester: Option<Uuid>, now: DateTime<Utc>) -> LogCall {
        LogCall {
            call_id,
            requester_reached: self.requester_reached,
            goal: self.goal.clone(),
            notes: self.notes.clone(),
            occurred_at: self.occurred_at.unwrap_or(now),
            now,
            spoke_with: self.spoke_with.clone(),
            requester,
        }
    }
}

impl FromJson for CallBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let requester_reached = f.boolean("requester_reached", map.get("requester_reached"));
        let goal = f.optional_string("goal", map.get("goal"), LongText::parse);
        let notes = f.optional_string("notes", map.get("notes"), LongText::parse);
        let occurred_at = f.optional_string("occurred_at", map.get("occurred_at"), time);
        let spoke_with = match map.get("spoke_with") {
            None | Some(Value::Null) => Some(None),
            Some(value) => person(f, "spoke_with", value).map(Some),
        };
        Some(Self {
            requester_reached: requester_reached?,
            goal: goal?,
            notes: notes?,
            occurred_at: occurred_at?,
            spoke_with: spoke_with?,
        })
    }
}

/// A person IT spoke with: `stakeholder_id`, or `name` with `phone` and/or `email`.
fn person(f: &mut Fields, path: &str, value: &Value) -> Option<PersonReached> {
    let map = web::input::object(f, path, value)?;
    let at = |name: &str| format!("{path}.{name}");
    let stakeholder_id = f.optional_string(&at("stakeholder_id"), map.get("stakeholder_id"), uuid);
    let name = f.optional_string(&at("name"), map.get("name"), ShortText::parse);
    let phone = f.optional_string(&at("phone"), map.get("phone"), Phone::parse);
    let email = f.optional_string(&at("email"), map.get("email"), Email::parse);
    Some(PersonReached {
        stakeholder_id: stakeholder_id?,
        name: name?,
        phone: phone?,
        email: email?,
    })
}

fn uuid(s: &str) -> Result<Uuid, String> {
    Uuid::parse_str(s).map_err(|_| "must be a UUID".to_owned())
}

/// An alternative to propose.
#[derive(Debug, ToSchema)]
pub struct AlternativeBody {
    pub description: LongText,
    /// What the purchase would be instead (optional). They are judged against the standards
    /// like a check's lines; the answer's `assessment` says whether they are supported.
    pub lines: Option<Vec<PurchaseLine>>,
    /// The call (of this purchase) in which you discussed it with the requester.
    pub call_id: Option<Uuid>,
    /// When it was proposed to the requester, when you log it after the fact (default: now).
    /// Not before the purchase was flagged, nor more than five minutes after the server's time.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl FromJson for AlternativeBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let description = f.string("description", map.get("description"), LongText::parse);
        // Optional and nullable (`Option`): absent or null is no lines.
        let lines = match map.get("lines") {
            None | Some(Value::Null) => Some(Vec::new()),
            lines => f.array("lines", lines, 0, MAX_LINES, line),
        };
        let call_id = f.optional_string("call_id", map.get("call_id"), uuid);
        let occurred_at = f.optional_string("occurred_at", map.get("occurred_at"), time);
        Some(Self {
            description: description?,
            lines: Some(lines?),
            call_id: call_id?,
            occurred_at: occurred_at?,
        })
    }
}

/// A decision's `occurred_at` (see [`ApproveBody::occurred_at`]).
fn decided_at(f: &mut Fields, map: &Object) -> Option<Option<DateTime<Utc>>> {
    f.optional_string("occurred_at", map.get("occurred_at"), time)
}

#[derive(Debug, ToSchema)]
pub struct ApproveBody {
    pub note: Option<LongText>,
    /// When IT decided, when you log the decision after the fact (default: now): the
    /// purchase's clocks stop then. Not before the purchase was flagged, nor before a call or
    /// an alternative logged on it, nor more than five minutes after the server's time.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl FromJson for ApproveBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let note = f.optional_string("note", map.get("note"), LongText::parse);
        let occurred_at = decided_at(f, map);
        Some(Self { note: note?, occurred_at: occurred_at? })
    }
}

/// The requester's acceptance of an alternative, when logged after the fact.
#[derive(Debug, ToSchema)]
pub struct AcceptBody {
    /// When the requester accepted, when you log it after the fact (default: now): the
    /// purchase's clocks stop then. Not before the purchase was flagged, nor before a call or
    /// an alternative logged on it, nor more than five minutes after the server's time.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl FromJson for AcceptBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        Some(Self { occurred_at: decided_at(f, map)? })
    }
}

#[derive(Debug, ToSchema)]
pub struct CancelBody {
    /// Why, for the requester and the record.
    pub reason: LongText,
    /// When IT decided, when you log the decision after the fact (default: now): the
    /// purchase's clocks stop then. Not before the purchase was flagged, nor before a call or
    /// an alternative logged on it (the call that reached the requester and the alternative
    /// come first), nor more than five minutes after the server's time.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl FromJson for CancelBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let reason = f.string("reason", map.get("reason"), LongText::parse);
        let occurred_at = decided_at(f, map);
        Some(Self { reason: reason?, occurred_at: occurred_at? })
    }
}

/// What IT waits on the requester for.
#[derive(Debug, ToSchema)]
pub struct WaitingBody {
    /// What they will come back with (`the quote from the vendor`).
    pub note: LongText,
}

impl FromJson for WaitingBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        Some(Self { note: f.string("note", map.get("note"), LongText::parse)? })
    }
}

/// A product IT supports.
#[derive(Debug, ToSchema)]
pub struct ProductBody {
    name: ShortText,
    category: Category,
    /// The only vendor it may be bought from (a vendor on the vendor list). Leave it out when
    /// it may be bought from any approved vendor.
    vendor_id: Option<VendorId>,
    /// A reference price, given with `currency` (the policy's).
    unit_price: Option<Money>,
    currency: Option<Currency>,
}

impl FromJson for ProductBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let name = f.string("name", map.get("name"), ShortText::parse);
        let category = f.string("category", map.get("category"), Category::parse);
        let vendor_id = f.optional_string("vendor_id", map.get("vendor_id"), VendorId::parse);
        let unit_price = match map.get("unit_price") {
            None | Some(Value::Null) => Some(None),
            value => money(f, "unit_price", value).map(Some),
        };
        let currency = f.optional_string("currency", map.get("currency"), Currency::parse);
        Some(Self {
            name: name?,
            category: category?,
            vendor_id: vendor_id?,
            unit_price: unit_price?,
            currency: currency?,
        })
    }
}

impl ProductBody {
    /// The product at `sku` (the SKU comes from the path).
    pub fn into_product(self, sku: Sku) -> ProductUpserted {
        ProductUpserted {
            sku,
            name: self.name,
            category: self.category,
            vendor_id: self.vendor_id,
            unit_price: self.unit_price,
            currency: self.currency,
        }
    }
}

/// A vendor.
#[derive(Debug, ToSchema)]
pub struct VendorBody {
    name: ShortText,
    /// Whether technology purchases from this vendor are supported.
    approved: bool,
}

impl FromJson for VendorBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let name = f.string("name", map.get("name"), ShortText::parse);
        let approved = f.boolean("approved", map.get("approved"));
        Some(Self { name: name?, approved: approved? })
    }
}

impl VendorBody {
    /// The vendor `vendor_id` (the id comes from the path).
    pub fn into_vendor(self, vendor_id: VendorId) -> VendorUpserted {
        VendorUpserted { vendor_id, name: self.name, approved: self.approved }
    }
}

/// The policy, parsed: the body's schema is the event's own ([`PolicySet`]).
#[derive(Debug)]
pub struct PolicyBody(pub PolicySet);

impl FromJson for PolicyBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let max = MAX_POLICY_ENTRIES;
        let categories = map.get("technology_categories");
        let categories = f.array("technology_categories", categories, 0, max, |f, p, v| {
            f.string(p, Some(v), Category::parse)
        });
        let mccs = f.array("technology_mccs", map.get("technology_mccs"), 0, max, |f, p, v| {
            f.string(p, Some(v), Mcc::parse)
        });
        let threshold = money(f, "review_threshold", map.get("review_threshold"));
        let currency = f.string("currency", map.get("currency"), Currency::parse);
        let non_technology = map.get("non_technology_categories");
        // Optional, not nullable: left out, none are listed…
        let non_technology =
            f.optional_array("non_technology_categories", non_technology, 0, max, |f, p, v| {
                f.string(p, Some(v), Category::parse)
            });
        // …and left out, the default terms (`[]` for none).
        let terms = map.get("technology_terms");
        let terms = f.optional_array("technology_terms", terms, 0, max, |f, p, v| {
            f.string(p, Some(v), TechnologyTerm::parse)
        });
        Some(Self(PolicySet {
            technology_categories: categories?,
            non_technology_categories: non_technology?.unwrap_or_default(),
            technology_mccs: mccs?,
            review_threshold: threshold?,
            currency: currency?,
            technology_terms: terms?.unwrap_or_else(default_technology_terms),
        }))
    }
}

/// Whether a category is technology.
#[derive(Debug, ToSchema)]
pub struct ClassificationBody {
    /// `true`: its lines are technology; `false`: they are not (unless their description
    /// names technology).
    pub technology: bool,
}

impl FromJson for ClassificationBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        Some(Self { technology: f.boolean("technology", map.get("technology"))? })
    }
}

fn money(fields: &mut Fields, field: &str, value: Option<&Value>) -> Option<Money> {
    if let Some(Value::Number(_)) = value {
        fields.error(field, "must be a decimal string such as \"499.00\", not a number");
        return None;
    }
    fields.string(field, value, Money::parse)
}

fn payment_method(s: &str) -> Result<PaymentMethod, String> {
    serde_json::from_value(Value::String(s.to_owned()))
        .map_err(|_| "must be one of purchase_order, p_card, reimbursement".to_owned())
}

fn time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 time such as 2026-11-24T15:30:00Z".to_owned())
}

/// One purchase line (of a check or an alternative).
fn line(fields: &mut Fields, path: &str, value: &Value) -> Option<PurchaseLine> {
    let map = web::input::object(fields, path, value)?;
    let at = |name: &str| format!("{path}.{name}");
    let sku = fields.optional_string(&at("sku"), map.get("sku"), Sku::parse);
    let description = fields.string(&at("description"), map.get("description"), ShortText::parse);
    let category = fields.string(&at("category"), map.get("category"), Category::parse);
    let quantity = fields.integer(&at("quantity"), map.get("quantity"), |n| {
        u32::try_from(n)
            .map_err(|_| format!("must be at most {}", Quantity::MAX))
            .and_then(|n| Quantity::new(n).map_err(|e| e.message().to_owned()))
    });
    let unit_price = money(fields, &at("unit_price"), map.get("unit_price"));
    Some(PurchaseLine {
        sku: sku?,
        description: description?,
        category: category?,
        quantity: quantity?,
        unit_price: unit_price?,
    })
}
