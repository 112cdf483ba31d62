//! Request bodies into domain types, reporting every bad field at once (see `web::input`).
//!
//! Each function reads one endpoint's body field by field through [`Fields`]: a missing
//! field, a value of the wrong JSON type and a value its type refuses (a blank name, an email
//! without `@`, a phone with letters, a slug with capitals, a date that is not `YYYY-MM-DD`)
//! each become one entry of a single 422 `validation` problem. What depends on the state or
//! the clock (exactly two stars, dates in the future, a due date before today) is the
//! domain's to refuse, with its own problem type.

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, NaiveDate, Utc};
use events::stakeholders::{Phone, PromiseTo, StakeholderRole, WishStatus};
use events::values::{Email, LongText, SchoolId, ShortText};
use serde_json::{Map, Value};
use uuid::Uuid;
use web::{ApiError, Fields};

use crate::domain::stakeholder::Profile;

type Object = Map<String, Value>;

/// The most stars a body may carry: anything but two is refused by the domain
/// (`exactly-two-stars`); this only bounds what is parsed.
const MAX_STARS: usize = 100;

/// The body as a JSON object.
fn object(body: &Value) -> Result<&Object, ApiError> {
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
            .with_title("Malformed JSON")
    })
}

pub fn date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("must be a date such as 2024-09-03 (YYYY-MM-DD), not {s:?}"))
}

fn time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("must be an RFC 3339 time such as 2024-09-03T14:05:00Z, not {s:?}"))
}

fn uuid(s: &str) -> Result<Uuid, String> {
    Uuid::parse_str(s).map_err(|_| format!("must be a UUID, not {s:?}"))
}

/// A value of one of our snake_case enums, by its wire name.
fn one_of<T: serde::de::DeserializeOwned>(
    names: &'static str,
) -> impl Fn(&str) -> Result<T, String> {
    move |s| {
        serde_json::from_value(Value::String(s.to_owned()))
            .map_err(|_| format!("must be one of {names}, not {s:?}"))
    }
}

pub const ROLES: &str =
    "principal, teacher, librarian, business_officer, instruction_lead, it, other";
pub const WISH_STATUSES: &str = "open, in_progress, done, declined";

/// `PUT /v1/schools/{school_id}`: the school's `name`.
pub fn school(body: &Value) -> Result<ShortText, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let name = f.string("name", map.get("name"), ShortText::parse);
    f.finish(name)
}

/// `PUT /v1/schools/{school_id}/agreement`.
#[derive(Debug)]
pub struct Signature {
    pub principal_id: Uuid,
    pub signed_on: NaiveDate,
}

pub fn signature(body: &Value) -> Result<Signature, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let principal_id = f.string("principal_id", map.get("principal_id"), uuid);
    let signed_on = f.string("signed_on", map.get("signed_on"), date);
    let signature = (|| Some(Signature { principal_id: principal_id?, signed_on: signed_on? }))();
    f.finish(signature)
}

/// `DELETE /v1/schools/{school_id}/agreement`.
#[derive(Debug)]
pub struct Withdrawal {
    pub reason: LongText,
    /// Default: today.
    pub withdrawn_on: Option<NaiveDate>,
}

pub fn withdrawal(body: &Value) -> Result<Withdrawal, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let reason = f.string("reason", map.get("reason"), LongText::parse);
    let withdrawn_on = f.optional_string("withdrawn_on", map.get("withdrawn_on"), date);
    let withdrawal = (|| Some(Withdrawal { reason: reason?, withdrawn_on: withdrawn_on? }))();
    f.finish(withdrawal)
}

/// `POST /v1/stakeholders`, `PUT /v1/stakeholders/{id}`: the whole profile.
pub fn profile(body: &Value) -> Result<Profile, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let name = f.string("name", map.get("name"), ShortText::parse);
    let email = f.string("email", map.get("email"), Email::parse);
    let phone = f.optional_string("phone", map.get("phone"), Phone::parse);
    let role = f.string("role", map.get("role"), one_of::<StakeholderRole>(ROLES));
    let school_id = f.optional_string("school_id", map.get("school_id"), SchoolId::parse);
    let profile = (|| {
        Some(Profile {
            name: name?,
            email: email?,
            phone: phone?,
            role: role?,
            school_id: school_id?,
        })
    })();
    f.finish(profile)
}

/// `POST /v1/stakeholders/{id}/conversations`.
#[derive(Debug)]
pub struct Conversation {
    pub held_at: DateTime<Utc>,
    pub location: ShortText,
    pub their_vision: LongText,
    /// Any number; the domain refuses anything but two.
    pub stars: Vec<ShortText>,
    pub wish: LongText,
    pub notes: Option<LongText>,
}

pub fn conversation(body: &Value) -> Result<Conversation, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let held_at = f.string("held_at", map.get("held_at"), time);
    let location = f.string("location", map.get("location"), ShortText::parse);
    let their_vision = f.string("their_vision", map.get("their_vision"), LongText::parse);
    let stars = match map.get("stars") {
        None | Some(Value::Null) => {
            f.error("stars", "is required: two things IT does well");
            None
        }
        value => f.array("stars", value, 0, MAX_STARS, |f, path, v| {
            f.string(path, Some(v), ShortText::parse)
        }),
    };
    let wish = f.string("wish", map.get("wish"), LongText::parse);
    let notes = f.optional_string("notes", map.get("notes"), LongText::parse);
    let conversation = (|| {
        Some(Conversation {
            held_at: held_at?,
            location: location?,
            their_vision: their_vision?,
            stars: stars?,
            wish: wish?,
            notes: notes?,
        })
    })();
    f.finish(conversation)
}

/// `POST /v1/wishes/{id}/progress`.
#[derive(Debug)]
pub struct Progress {
    pub note: LongText,
    pub status: WishStatus,
}

pub fn progress(body: &Value) -> Result<Progress, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let note = f.string("note", map.get("note"), LongText::parse);
    let status = f.string("status", map.get("status"), one_of::<WishStatus>(WISH_STATUSES));
    let progress = (|| Some(Progress { note: note?, status: status? }))();
    f.finish(progress)
}

/// `POST /v1/promises`.
#[derive(Debug)]
pub struct NewPromise {
    pub to: PromiseTo,
    pub text: LongText,
    pub due_on: NaiveDate,
}

fn promise_to(f: &mut Fields, value: Option<&Value>) -> Option<PromiseTo> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        f.error(
            "to",
            "is required: {\"type\": \"stakeholder\", \"stakeholder_id\": …} or {\"type\": \"school\", \"school_id\": …}",
        );
        return None;
    };
    let map = web::input::object(f, "to", value)?;
    let kind = f.string("to.type", map.get("type"), |s| match s {
        "stakeholder" | "school" => Ok(s.to_owned()),
        other => Err(format!("must be stakeholder or school, not {other:?}")),
    })?;
    if kind == "stakeholder" {
        let id = f.string("to.stakeholder_id", map.get("stakeholder_id"), uuid)?;
        Some(PromiseTo::Stakeholder { stakeholder_id: id })
    } else {
        let id = f.string("to.school_id", map.get("school_id"), SchoolId::parse)?;
        Some(PromiseTo::School { school_id: id })
    }
}

pub fn promise(body: &Value) -> Result<NewPromise, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let to = promise_to(&mut f, map.get("to"));
    let text = f.string("text", map.get("text"), LongText::parse);
    let due_on = f.string("due_on", map.get("due_on"), date);
    let promise = (|| Some(NewPromise { to: to?, text: text?, due_on: due_on? }))();
    f.finish(promise)
}

/// `POST /v1/promises/{id}/kept` and `…/broken`.
#[derive(Debug)]
pub struct Outcome {
    pub evidence: LongText,
    /// Default: today.
    pub on: Option<NaiveDate>,
}

pub fn outcome(body: &Value) -> Result<Outcome, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let evidence = f.string("evidence", map.get("evidence"), LongText::parse);
    let on = f.optional_string("on", map.get("on"), date);
    let outcome = (|| Some(Outcome { evidence: evidence?, on: on? }))();
    f.finish(outcome)
}

/// `POST /v1/follow-ups`.
#[derive(Debug)]
pub struct NewFollowUp {
    pub stakeholder_id: Uuid,
    pub about: LongText,
    pub due_on: NaiveDate,
}

pub fn follow_up(body: &Value) -> Result<NewFollowUp, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let stakeholder_id = f.string("stakeholder_id", map.get("stakeholder_id"), uuid);
    let about = f.string("about", map.get("about"), LongText::parse);
    let due_on = f.string("due_on", map.get("due_on"), date);
    let follow_up =
        (|| Some(NewFollowUp { stakeholder_id: stakeholder_id?, about: about?, due_on: due_on? }))(
        );
    f.finish(follow_up)
}

/// `POST /v1/follow-ups/{id}/done` (the body is optional).
#[derive(Debug)]
pub struct Done {
    /// Default: today.
    pub on: Option<NaiveDate>,
    pub note: Option<LongText>,
}

pub fn done(body: &Value) -> Result<Done, ApiError> {
    let map = object(body)?;
    let mut f = Fields::new();
    let on = f.optional_string("on", map.get("on"), date);
    let note = f.optional_string("note", map.get("note"), LongText::parse);
    let done = (|| Some(Done { on: on?, note: note? }))();
    f.finish(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(err: ApiError) -> Vec<String> {
        err.to_problem(None, None).errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_bad_field_is_listed() {
        let err = profile(&json!({
            "name": " ", "email": "not-an-email", "phone": "call me",
            "role": "janitor", "school_id": "Lincoln Elem",
        }))
        .unwrap_err();
        assert_eq!(fields(err), ["name", "email", "phone", "role", "school_id"]);
        let err = conversation(&json!({"held_at": "yesterday", "stars": ["ok", 3]})).unwrap_err();
        assert_eq!(fields(err), ["held_at", "location", "their_vision", "stars[1]", "wish"]);
        let err = promise(&json!({"to": {"type": "parent"}, "due_on": "2024-13-01"})).unwrap_err();
        assert_eq!(fields(err), ["to.type", "text", "due_on"]);
        let err = promise(&json!({"to": {"type": "school", "school_id": "-x"}})).unwrap_err();
        assert_eq!(fields(err), ["to.school_id", "text", "due_on"]);
        assert_eq!(fields(object(&json!([1])).map(|_| ()).unwrap_err()), [""]);
    }

    #[test]
    fn good_bodies() {
        let p = profile(&json!({
            "name": "Dana Whitfield", "email": "dana@lincoln.example", "role": "principal",
            "school_id": "lincoln-elem",
        }))
        .unwrap();
        assert_eq!(p.role, StakeholderRole::Principal);
        assert!(p.phone.is_none());
        let c = conversation(&json!({
            "held_at": "2024-09-03T14:05:00+02:00", "location": "Her office",
            "their_vision": "Every child codes", "stars": ["a", "b", "c"], "wish": "Loaners",
        }))
        .unwrap();
        assert_eq!(c.stars.len(), 3);
        assert_eq!(c.held_at.to_rfc3339(), "2024-09-03T12:05:00+00:00");
        let n = promise(&json!({
            "to": {"type": "stakeholder", "stakeholder_id": Uuid::nil()},
            "text": "Projector fixed", "due_on": "2024-09-13",
        }))
        .unwrap();
        assert_eq!(n.to, PromiseTo::Stakeholder { stakeholder_id: Uuid::nil() });
        assert!(done(&json!({})).unwrap().on.is_none());
        assert_eq!(
            progress(&json!({"note": "x", "status": "in_progress"})).unwrap().status,
            WishStatus::InProgress
        );
    }
}
