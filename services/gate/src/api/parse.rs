//! Request bodies into domain types, reporting every bad field at once (see `web::input`).

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, Utc};
use events::gate::{PolicySet, PurchaseLine};
use events::values::{
    Category, Currency, Email, ExternalRef, LongText, Mcc, Money, PaymentMethod, Quantity,
    SchoolId, ShortText, Sku, VendorId,
};
use serde_json::{Map, Value};
use web::{ApiError, Fields};

use crate::domain::{MAX_LINES, PurchaseCheck};

type Object = Map<String, Value>;

/// The body as a JSON object.
pub fn object(body: &Value) -> Result<&Object, ApiError> {
    let mut fields = Fields::new();
    let map = web::input::object(&mut fields, "", body);
    fields.finish(map)
}

/// An optional JSON body: empty means `{}`; otherwise it must be JSON (415/400 problems).
pub fn optional_json(req: &HttpRequest, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let json =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(ApiError::unsupported_media_type(
            "Send the body as application/json (or send no body).",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("malformed-json", format!("The body is not valid JSON: {e}"))
    })
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

/// `POST /v1/purchase-checks`.
pub fn purchase_check(body: &Value) -> Result<PurchaseCheck, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let external_ref = f.string("external_ref", map.get("external_ref"), ExternalRef::parse);
    let school_id = f.string("school_id", map.get("school_id"), SchoolId::parse);
    let requester_email = f.string("requester_email", map.get("requester_email"), Email::parse);
    let vendor = f.string("vendor", map.get("vendor"), ShortText::parse);
    let payment_method = f.string("payment_method", map.get("payment_method"), payment_method);
    let mcc =
        f.optional_string("merchant_category_code", map.get("merchant_category_code"), Mcc::parse);
    let currency = f.string("currency", map.get("currency"), Currency::parse);
    let lines = f.array("lines", map.get("lines"), 1, MAX_LINES, line);
    let purpose = f.optional_string("purpose", map.get("purpose"), LongText::parse);
    let check = (|| {
        Some(PurchaseCheck {
            external_ref: external_ref?,
            school_id: school_id?,
            requester_email: requester_email?,
            vendor: vendor?,
            payment_method: payment_method?,
            merchant_category_code: mcc?,
            currency: currency?,
            lines: lines?,
            purpose: purpose?,
        })
    })();
    f.finish(check)
}

/// A logged call's fields: `requester_reached`, `goal`, `notes`, `occurred_at` (default: now).
pub struct CallFields {
    pub requester_reached: bool,
    pub goal: Option<LongText>,
    pub notes: Option<LongText>,
    pub occurred_at: Option<DateTime<Utc>>,
}

fn time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 time such as 2026-11-24T15:30:00Z".to_owned())
}

pub fn call(body: &Value) -> Result<CallFields, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let reached = f.boolean("requester_reached", map.get("requester_reached"));
    let goal = f.optional_string("goal", map.get("goal"), LongText::parse);
    let notes = f.optional_string("notes", map.get("notes"), LongText::parse);
    let occurred_at = f.optional_string("occurred_at", map.get("occurred_at"), time);
    let call = (|| {
        Some(CallFields {
            requester_reached: reached?,
            goal: goal?,
            notes: notes?,
            occurred_at: occurred_at?,
        })
    })();
    f.finish(call)
}

/// An alternative: `description` and optional `lines`.
pub fn alternative(body: &Value) -> Result<(LongText, Vec<PurchaseLine>), ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let description = f.string("description", map.get("description"), LongText::parse);
    let lines = f.array("lines", map.get("lines"), 0, MAX_LINES, line);
    let alternative = (|| Some((description?, lines?)))();
    f.finish(alternative)
}

/// An optional text field of an otherwise empty body (`note`).
pub fn optional_text(body: &Value, field: &str) -> Result<Option<LongText>, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let text = f.optional_string(field, map.get(field), LongText::parse);
    f.finish(text)
}

/// A required text field (`reason`).
pub fn required_text(body: &Value, field: &str) -> Result<LongText, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let text = f.string(field, map.get(field), LongText::parse);
    f.finish(text)
}

/// A path segment parsed, or a 400 problem naming it.
pub fn path<T, E: std::fmt::Display>(
    name: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| {
        ApiError::bad_request(
            "invalid-path",
            format!("The path parameter `{name}` is invalid: {e}"),
        )
    })
}

/// `PUT /v1/catalog/products/{sku}`: the product (the SKU comes from the path).
pub fn product(sku: Sku, body: &Value) -> Result<events::gate::ProductUpserted, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let name = f.string("name", map.get("name"), ShortText::parse);
    let category = f.string("category", map.get("category"), Category::parse);
    let vendor_id = f.string("vendor_id", map.get("vendor_id"), VendorId::parse);
    let unit_price = match map.get("unit_price") {
        None | Some(Value::Null) => Some(None),
        value => money(&mut f, "unit_price", value).map(Some),
    };
    let currency = f.optional_string("currency", map.get("currency"), Currency::parse);
    let product = (|| {
        Some(events::gate::ProductUpserted {
            sku,
            name: name?,
            category: category?,
            vendor_id: vendor_id?,
            unit_price: unit_price?,
            currency: currency?,
        })
    })();
    f.finish(product)
}

/// `PUT /v1/catalog/vendors/{vendor_id}`.
pub fn vendor(vendor_id: VendorId, body: &Value) -> Result<events::gate::VendorUpserted, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let name = f.string("name", map.get("name"), ShortText::parse);
    let approved = f.boolean("approved", map.get("approved"));
    let vendor =
        (|| Some(events::gate::VendorUpserted { vendor_id, name: name?, approved: approved? }))();
    f.finish(vendor)
}

/// `PUT /v1/catalog/policy`.
pub fn policy(body: &Value) -> Result<PolicySet, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let max = crate::domain::standards::MAX_POLICY_ENTRIES;
    let categories =
        f.array("technology_categories", map.get("technology_categories"), 0, max, |f, p, v| {
            f.string(p, Some(v), Category::parse)
        });
    let mccs = f.array("technology_mccs", map.get("technology_mccs"), 0, max, |f, p, v| {
        f.string(p, Some(v), Mcc::parse)
    });
    let threshold = money(&mut f, "review_threshold", map.get("review_threshold"));
    let currency = f.string("currency", map.get("currency"), Currency::parse);
    let policy = (|| {
        Some(PolicySet {
            technology_categories: categories?,
            technology_mccs: mccs?,
            review_threshold: threshold?,
            currency: currency?,
        })
    })();
    f.finish(policy)
}
