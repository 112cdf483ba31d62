//! The district's request bodies: each parses itself field by field (one 422 lists every bad
//! field) and shows the event's own schema, so the documented and the accepted shape are one.

use events::calendar::{BusinessHours, ClockTime, TimeZoneName, Weekday};
use events::district::{BusinessMinutes, ByPaymentMethod, DistrictSet, SlaTargets, TargetOverride};
use events::school_year::StartMonth;
use events::values::{Email, ShortText};
use kernel::http::FromJson;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use web::Fields;

type Object = Map<String, Value>;

/// The district's name, time zone, business hours and school year: the schema is `DistrictSet`'s.
#[derive(Debug)]
pub struct DistrictBody(pub DistrictSet);

impl FromJson for DistrictBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let name = f.string("name", map.get("name"), ShortText::parse);
        let time_zone = f.string("time_zone", map.get("time_zone"), TimeZoneName::parse);
        let business_hours = business_hours(f, map.get("business_hours"));
        let school_year_starts_in = match map.get("school_year_starts_in") {
            None | Some(Value::Null) => Some(None),
            value => f
                .integer("school_year_starts_in", value, |n| {
                    u32::try_from(n)
                        .map_err(|_| "must be a month from 1 to 12".to_owned())
                        .and_then(|n| StartMonth::new(n).map_err(|e| e.message().to_owned()))
                })
                .map(Some),
        };
        Some(Self(DistrictSet {
            name: name?,
            time_zone: time_zone?,
            business_hours: business_hours?,
            school_year_starts_in: school_year_starts_in?,
        }))
    }
}

fn business_hours(f: &mut Fields, value: Option<&Value>) -> Option<BusinessHours> {
    const FIELD: &str = "business_hours";
    let Some(value) = value.filter(|v| !v.is_null()) else {
        f.error(FIELD, "is required");
        return None;
    };
    let map = web::input::object(f, FIELD, value)?;
    let start = f.string("business_hours.start", map.get("start"), ClockTime::parse);
    let end = f.string("business_hours.end", map.get("end"), ClockTime::parse);
    let days = f.array("business_hours.days", map.get("days"), 1, 7, |f, path, v| {
        f.string(path, Some(v), Weekday::parse)
    });
    let (start, end, days) = (start?, end?, days?);
    match BusinessHours::new(start, end, days) {
        Ok(hours) => Some(hours),
        Err(e) => {
            f.error(FIELD, e.message());
            None
        }
    }
}

/// Why the district is closed on a day.
#[derive(Debug, ToSchema)]
pub struct ClosureBody {
    /// A holiday's name, "Snow day", …
    pub reason: ShortText,
}

impl FromJson for ClosureBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        Some(Self { reason: f.string("reason", map.get("reason"), ShortText::parse)? })
    }
}

/// The clocks' targets: the schema is `SlaTargets`'s.
#[derive(Debug)]
pub struct SlaBody(pub SlaTargets);

impl FromJson for SlaBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let first_contact = minutes(f, "first_contact_minutes", map.get("first_contact_minutes"));
        let decision = minutes(f, "decision_minutes", map.get("decision_minutes"));
        let outreach =
            minutes(f, "advisory_outreach_minutes", map.get("advisory_outreach_minutes"));
        let max = SlaTargets::MAX_WARNINGS;
        let warn = map.get("warn_at_percent");
        let warn = f.optional_array("warn_at_percent", warn, 0, max, |f, path, v| {
            f.integer(path, Some(v), |n| match u8::try_from(n) {
                Ok(p) if (1..=99).contains(&p) => Ok(p),
                _ => Err("must be a percentage from 1 to 99"),
            })
        });
        let escalate_to = f.optional_string("escalate_to", map.get("escalate_to"), Email::parse);
        let by_payment_method = by_payment_method(f, map.get("by_payment_method"));
        let warn_at_percent = SlaTargets::warnings(warn?.unwrap_or_default()).ok()?;
        Some(Self(SlaTargets {
            first_contact_minutes: first_contact?,
            decision_minutes: decision?,
            advisory_outreach_minutes: outreach?,
            warn_at_percent,
            escalate_to: escalate_to?,
            by_payment_method: by_payment_method?,
        }))
    }
}

fn minutes(f: &mut Fields, field: &str, value: Option<&Value>) -> Option<BusinessMinutes> {
    f.integer(field, value, |n| {
        u32::try_from(n)
            .map_err(|_| format!("must be at most {}", BusinessMinutes::MAX))
            .and_then(|n| BusinessMinutes::new(n).map_err(|e| e.message().to_owned()))
    })
}

fn optional_minutes(
    f: &mut Fields,
    field: &str,
    value: Option<&Value>,
) -> Option<Option<BusinessMinutes>> {
    match value {
        None | Some(Value::Null) => Some(None),
        value => minutes(f, field, value).map(Some),
    }
}

/// Absent: the default targets for every method. The object itself is not nullable; a method
/// set to null (as its document allows) has the default targets.
fn by_payment_method(f: &mut Fields, value: Option<&Value>) -> Option<ByPaymentMethod> {
    const FIELD: &str = "by_payment_method";
    let Some(value) = value else {
        return Some(ByPaymentMethod::default());
    };
    let map = web::input::object(f, FIELD, value)?;
    let mut by = ByPaymentMethod::default();
    let mut ok = true;
    for (method, value) in map {
        let path = format!("{FIELD}.{method}");
        let slot = match method.as_str() {
            "purchase_order" => &mut by.purchase_order,
            "p_card" => &mut by.p_card,
            "reimbursement" => &mut by.reimbursement,
            _ => {
                f.error(
                    path,
                    "is not a payment method: use purchase_order, p_card or reimbursement",
                );
                ok = false;
                continue;
            }
        };
        if value.is_null() {
            continue;
        }
        let Some(over) = web::input::object(f, &path, value) else {
            ok = false;
            continue;
        };
        let field = |name: &str| format!("{path}.{name}");
        let first =
            optional_minutes(f, &field("first_contact_minutes"), over.get("first_contact_minutes"));
        let decision =
            optional_minutes(f, &field("decision_minutes"), over.get("decision_minutes"));
        let outreach = optional_minutes(
            f,
            &field("advisory_outreach_minutes"),
            over.get("advisory_outreach_minutes"),
        );
        match (first, decision, outreach) {
            (
                Some(first_contact_minutes),
                Some(decision_minutes),
                Some(advisory_outreach_minutes),
            ) => {
                *slot = Some(TargetOverride {
                    first_contact_minutes,
                    decision_minutes,
                    advisory_outreach_minutes,
                });
            }
            _ => ok = false,
        }
    }
    ok.then_some(by)
}

#[cfg(test)]
mod tests {
    use kernel::http::parse_object;
    use serde_json::json;

    use super::*;

    fn fields_of(err: web::ApiError) -> Vec<String> {
        let problem = err.to_problem(None, None);
        problem.errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_district_body_lists_every_bad_field() {
        let good = json!({
            "name": "Springfield", "time_zone": "America/Chicago",
            "business_hours": {"start": "08:00", "end": "17:00", "days": ["mon", "fri"]},
        });
        let DistrictBody(set) = parse_object::<DistrictBody>(&good).unwrap();
        assert_eq!(set.business_hours.days, vec![Weekday::Mon, Weekday::Fri]);
        let bad = json!({
            "name": "", "time_zone": "Mars/Base",
            "business_hours": {"start": "8", "end": "17:00", "days": ["funday"]},
        });
        let err = parse_object::<DistrictBody>(&bad).unwrap_err();
        assert_eq!(
            fields_of(err),
            ["name", "time_zone", "business_hours.start", "business_hours.days[0]"]
        );
        let backwards = json!({
            "name": "S", "time_zone": "UTC",
            "business_hours": {"start": "17:00", "end": "08:00", "days": ["mon"]},
        });
        assert_eq!(
            fields_of(parse_object::<DistrictBody>(&backwards).unwrap_err()),
            ["business_hours"]
        );
    }

    #[test]
    fn an_sla_body_parses_the_overrides_and_refuses_bad_numbers() {
        let good = json!({
            "first_contact_minutes": 120, "decision_minutes": 960, "advisory_outreach_minutes": 480,
            "warn_at_percent": [75, 50], "escalate_to": "cto@district.org",
            "by_payment_method": {"p_card": {"first_contact_minutes": 30}},
        });
        let SlaBody(targets) = parse_object::<SlaBody>(&good).unwrap();
        assert_eq!(targets.warn_at_percent, vec![50, 75]);
        assert_eq!(
            targets.by_payment_method.p_card.unwrap().first_contact_minutes.unwrap().get(),
            30
        );
        let bad = json!({
            "first_contact_minutes": 0, "decision_minutes": "960", "advisory_outreach_minutes": 1,
            "warn_at_percent": [100], "escalate_to": "nobody",
            "by_payment_method": {"cash": {}, "p_card": {"decision_minutes": -1}},
        });
        let err = parse_object::<SlaBody>(&bad).unwrap_err();
        assert_eq!(
            fields_of(err),
            [
                "first_contact_minutes",
                "decision_minutes",
                "warn_at_percent[0]",
                "escalate_to",
                "by_payment_method.cash",
                "by_payment_method.p_card.decision_minutes",
            ]
        );
    }
}
