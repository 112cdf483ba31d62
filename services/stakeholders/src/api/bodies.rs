//! The request bodies: each type is both the schema the OpenAPI document shows (`ToSchema`)
//! and the parser that accepts it ([`FromJson`]), reporting every bad field at once.
//!
//! Each reads one endpoint's body field by field through [`Fields`]: a missing field, a value
//! of the wrong JSON type and a value its type refuses (a blank name, an email without `@`, a
//! phone with letters, a slug with capitals, a date that is not `YYYY-MM-DD`) each become one
//! entry of a single 422 `validation` problem. What depends on the state or the clock (exactly
//! two stars, dates in the future, a due date before today) is the domain's to refuse, with
//! its own problem type.

use chrono::{DateTime, NaiveDate, Utc};
use events::stakeholders::{DistrictVision, Phone, PromiseTo, StakeholderRole, WishStatus};
use events::values::{Email, LongText, SchoolId, ShortText, ThemeId};
use kernel::http::{self, FromJson};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use web::Fields;

use crate::domain::followup::{CompleteFollowUp, FollowUpCommand, ScheduleFollowUp};
use crate::domain::promise::{MakePromise, PromiseCommand, Settle};
use crate::domain::school::{SchoolCommand, SignAgreement, Signer, WithdrawAgreement};
use crate::domain::stakeholder::{HoldConversation, Profile, StakeholderCommand};
use crate::domain::wish::ProgressWish;

type Object = Map<String, Value>;

/// The most stars a body may carry: anything but two is refused by the domain
/// (`exactly-two-stars`); this only bounds what is parsed.
const MAX_STARS: usize = 100;
/// The most themes a conversation connects to.
const MAX_CONNECTIONS: usize = 20;

fn date(s: &str) -> Result<NaiveDate, String> {
    http::date(s)
        .ok_or_else(|| format!("must be a date such as 2024-09-03 (YYYY-MM-DD), not {s:?}"))
}

/// A date of a practice or a round (`YYYY-MM-DD`).
pub(super) fn day(s: &str) -> Result<NaiveDate, String> {
    http::date(s).ok_or_else(|| format!("must be a date (YYYY-MM-DD), not {s:?}"))
}

/// An optional string field that is not nullable: absent is `None`; anything else, `null`
/// included, is read as [`Fields::string`] reads it.
pub(super) fn not_null<T, E: std::fmt::Display>(
    f: &mut Fields,
    map: &Object,
    field: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    match map.get(field) {
        None => Some(None),
        value => f.string(field, value, parse).map(Some),
    }
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

const ROLES: &str = "principal, teacher, librarian, business_officer, instruction_lead, it, other";
const WISH_STATUSES: &str = "open, in_progress, done, declined";

/// A school's details.
#[derive(Debug, ToSchema)]
pub struct SchoolBody {
    pub name: ShortText,
}

impl FromJson for SchoolBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        Some(Self { name: f.string("name", map.get("name"), ShortText::parse)? })
    }
}

/// The principal's signature.
#[derive(Debug, ToSchema)]
pub struct SignatureBody {
    /// The stakeholder id of the principal signing: registered with the role `principal` at
    /// this school.
    pub principal_id: Uuid,
    /// When it was signed: not in the future, and not before the previous withdrawal.
    pub signed_on: NaiveDate,
}

impl FromJson for SignatureBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let principal_id = f.string("principal_id", map.get("principal_id"), uuid);
        let signed_on = f.string("signed_on", map.get("signed_on"), date);
        Some(Self { principal_id: principal_id?, signed_on: signed_on? })
    }
}

impl SignatureBody {
    /// The signature by `signer` (the principal as registered; `None` if not), recorded on
    /// `today` by `recorded_by`, with `promise_id` for its standing promise.
    pub fn command(
        &self,
        signer: Option<Signer>,
        today: NaiveDate,
        promise_id: Uuid,
        recorded_by: &str,
    ) -> SchoolCommand {
        SchoolCommand::SignAgreement(SignAgreement {
            principal_id: self.principal_id,
            signer,
            signed_on: self.signed_on,
            today,
            promise_id,
            recorded_by: recorded_by.to_owned(),
        })
    }
}

/// Why the school withdraws.
#[derive(Debug, ToSchema)]
pub struct WithdrawalBody {
    pub reason: LongText,
    /// When (default: today); not in the future, not before the signing.
    pub withdrawn_on: Option<NaiveDate>,
}

impl FromJson for WithdrawalBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let reason = f.string("reason", map.get("reason"), LongText::parse);
        let withdrawn_on = f.optional_string("withdrawn_on", map.get("withdrawn_on"), date);
        Some(Self { reason: reason?, withdrawn_on: withdrawn_on? })
    }
}

impl WithdrawalBody {
    /// The withdrawal, on `today` unless the body dates it.
    pub fn command(&self, today: NaiveDate) -> SchoolCommand {
        SchoolCommand::WithdrawAgreement(WithdrawAgreement {
            reason: self.reason.clone(),
            withdrawn_on: self.withdrawn_on.unwrap_or(today),
            today,
        })
    }
}

/// A person's profile.
#[derive(Debug, ToSchema)]
pub struct ProfileBody {
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    /// Their school (registered); absent for district staff.
    pub school_id: Option<SchoolId>,
}

impl FromJson for ProfileBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let name = f.string("name", map.get("name"), ShortText::parse);
        let email = f.string("email", map.get("email"), Email::parse);
        let phone = f.optional_string("phone", map.get("phone"), Phone::parse);
        let role = f.string("role", map.get("role"), one_of::<StakeholderRole>(ROLES));
        let school_id = f.optional_string("school_id", map.get("school_id"), SchoolId::parse);
        Some(Self { name: name?, email: email?, phone: phone?, role: role?, school_id: school_id? })
    }
}

impl From<ProfileBody> for Profile {
    fn from(b: ProfileBody) -> Self {
        Self { name: b.name, email: b.email, phone: b.phone, role: b.role, school_id: b.school_id }
    }
}

/// A meeting with the person.
#[derive(Debug, ToSchema)]
pub struct ConversationBody {
    /// When it took place: in the past, or at most 5 minutes ahead of the server clock.
    pub held_at: DateTime<Utc>,
    pub location: ShortText,
    /// Their vision for their school or work, in their words.
    pub their_vision: LongText,
    /// Exactly two things IT does well: required at the first conversation with the person;
    /// later ones may leave it out.
    #[schema(required = false, nullable = false, min_items = 2, max_items = 2)]
    pub stars: Option<Vec<ShortText>>,
    /// One thing IT should do better: it becomes a tracked wish. Required at the first
    /// conversation with the person; later ones may leave it out.
    #[schema(required = false, nullable = false)]
    pub wish: Option<LongText>,
    pub notes: Option<LongText>,
    /// The themes of IT's vision (`GET /v1/vision`) their vision connects to (theme ids).
    #[schema(required = false, max_items = 20)]
    pub connections: Vec<ThemeId>,
    /// Whether IT met them on their own turf (their school or office). Default `false`.
    #[schema(required = false)]
    pub on_their_turf: bool,
}

impl FromJson for ConversationBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let held_at = f.string("held_at", map.get("held_at"), time);
        let location = f.string("location", map.get("location"), ShortText::parse);
        let their_vision = f.string("their_vision", map.get("their_vision"), LongText::parse);
        // Optional, not nullable: whether they are required is the domain's rule (the first
        // conversation asks). Any number is parsed; the domain refuses anything but two.
        let stars = f.optional_array("stars", map.get("stars"), 0, MAX_STARS, |f, path, v| {
            f.string(path, Some(v), ShortText::parse)
        });
        let wish = not_null(f, map, "wish", LongText::parse);
        let notes = f.optional_string("notes", map.get("notes"), LongText::parse);
        // Optional, not nullable.
        let connections = map.get("connections");
        let connections =
            f.optional_array("connections", connections, 0, MAX_CONNECTIONS, |f, path, v| {
                f.string(path, Some(v), ThemeId::parse)
            });
        let on_their_turf = match map.get("on_their_turf") {
            None => Some(false),
            value => f.boolean("on_their_turf", value),
        };
        Some(Self {
            held_at: held_at?,
            location: location?,
            their_vision: their_vision?,
            stars: stars?,
            wish: wish?,
            notes: notes?,
            connections: connections?.unwrap_or_default(),
            on_their_turf: on_their_turf?,
        })
    }
}

impl ConversationBody {
    /// The ids a conversation held with `ids` creates: the conversation's, and its wish's when
    /// it records one.
    pub fn created(&self, (conversation_id, wish_id): (Uuid, Uuid)) -> Vec<Uuid> {
        match self.wish {
            Some(_) => vec![conversation_id, wish_id],
            None => vec![conversation_id],
        }
    }

    /// The conversation `ids` (its own, its wish's), reported at `now`, with IT's `vision` as
    /// it stands.
    pub fn command(
        &self,
        (conversation_id, wish_id): (Uuid, Uuid),
        now: DateTime<Utc>,
        vision: DistrictVision,
    ) -> StakeholderCommand {
        StakeholderCommand::HoldConversation(HoldConversation {
            conversation_id,
            wish_id,
            held_at: self.held_at,
            now,
            location: self.location.clone(),
            their_vision: self.their_vision.clone(),
            stars: self.stars.clone(),
            wish: self.wish.clone(),
            notes: self.notes.clone(),
            connections: self.connections.clone(),
            on_their_turf: self.on_their_turf,
            vision,
        })
    }
}

/// Headway on a wish.
#[derive(Debug, ToSchema)]
pub struct ProgressBody {
    /// What happened (or, when reopening, why).
    pub note: LongText,
    /// The status after it. `done` and `declined` wishes only reopen (`open`, `in_progress`).
    pub status: WishStatus,
}

impl FromJson for ProgressBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let note = f.string("note", map.get("note"), LongText::parse);
        let status = f.string("status", map.get("status"), one_of::<WishStatus>(WISH_STATUSES));
        Some(Self { note: note?, status: status? })
    }
}

impl ProgressBody {
    /// The headway, at `at`.
    pub fn command(&self, at: DateTime<Utc>) -> ProgressWish {
        ProgressWish { note: self.note.clone(), status: self.status, at }
    }
}

/// A promise to make.
#[derive(Debug, ToSchema)]
pub struct PromiseBody {
    /// `{"type": "stakeholder", "stakeholder_id": …}` or `{"type": "school", "school_id": …}`;
    /// registered.
    pub to: PromiseTo,
    pub text: LongText,
    /// Today or later.
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

impl FromJson for PromiseBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let to = promise_to(f, map.get("to"));
        let text = f.string("text", map.get("text"), LongText::parse);
        let due_on = f.string("due_on", map.get("due_on"), date);
        Some(Self { to: to?, text: text?, due_on: due_on? })
    }
}

impl PromiseBody {
    /// The promise `promise_id` by `owner` on `today`; `to_exists` says whether its addressee
    /// is registered.
    pub fn command(
        &self,
        promise_id: Uuid,
        to_exists: bool,
        owner: &str,
        today: NaiveDate,
    ) -> PromiseCommand {
        PromiseCommand::Make(MakePromise {
            promise_id,
            to: self.to.clone(),
            to_exists,
            text: self.text.clone(),
            due_on: self.due_on,
            owner: owner.to_owned(),
            today,
        })
    }
}

/// What shows the promise was kept, or broken.
#[derive(Debug, ToSchema)]
pub struct OutcomeBody {
    pub evidence: LongText,
    /// When (default: today); not in the future, not before the promise was made.
    pub on: Option<NaiveDate>,
}

impl FromJson for OutcomeBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let evidence = f.string("evidence", map.get("evidence"), LongText::parse);
        let on = f.optional_string("on", map.get("on"), date);
        Some(Self { evidence: evidence?, on: on? })
    }
}

impl OutcomeBody {
    /// The promise kept (`kept`) or broken, on `today` unless the body dates it.
    pub fn command(&self, kept: bool, today: NaiveDate) -> PromiseCommand {
        let settle =
            Settle { evidence: self.evidence.clone(), on: self.on.unwrap_or(today), today };
        if kept { PromiseCommand::Keep(settle) } else { PromiseCommand::Break(settle) }
    }
}

/// Something to come back to a person about.
#[derive(Debug, ToSchema)]
pub struct FollowUpBody {
    /// A registered stakeholder.
    pub stakeholder_id: Uuid,
    pub about: LongText,
    /// Today or later.
    pub due_on: NaiveDate,
}

impl FromJson for FollowUpBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let stakeholder_id = f.string("stakeholder_id", map.get("stakeholder_id"), uuid);
        let about = f.string("about", map.get("about"), LongText::parse);
        let due_on = f.string("due_on", map.get("due_on"), date);
        Some(Self { stakeholder_id: stakeholder_id?, about: about?, due_on: due_on? })
    }
}

impl FollowUpBody {
    /// The follow-up `followup_id`, scheduled on `today`; `stakeholder_exists` says whether
    /// its stakeholder is registered.
    pub fn command(
        &self,
        followup_id: Uuid,
        stakeholder_exists: bool,
        today: NaiveDate,
    ) -> FollowUpCommand {
        FollowUpCommand::Schedule(ScheduleFollowUp {
            followup_id,
            stakeholder_id: self.stakeholder_id,
            stakeholder_exists,
            about: self.about.clone(),
            due_on: self.due_on,
            today,
        })
    }
}

/// How it went (optional).
#[derive(Debug, ToSchema)]
pub struct DoneBody {
    /// When (default: today); not in the future, nor before the day it was scheduled.
    pub on: Option<NaiveDate>,
    pub note: Option<LongText>,
}

impl FromJson for DoneBody {
    fn from_json(f: &mut Fields, map: &Object) -> Option<Self> {
        let on = f.optional_string("on", map.get("on"), date);
        let note = f.optional_string("note", map.get("note"), LongText::parse);
        Some(Self { on: on?, note: note? })
    }
}

impl DoneBody {
    /// The follow-up done, on `today` unless the body dates it; it was scheduled on
    /// `scheduled_on`.
    pub fn command(&self, today: NaiveDate, scheduled_on: Option<NaiveDate>) -> FollowUpCommand {
        FollowUpCommand::Done(CompleteFollowUp {
            on: self.on.unwrap_or(today),
            note: self.note.clone(),
            today,
            scheduled_on,
        })
    }
}

#[cfg(test)]
mod tests {
    use kernel::http::parse_object;
    use serde_json::json;
    use web::ApiError;

    use super::*;

    fn fields(err: ApiError) -> Vec<String> {
        err.to_problem(None, None).errors.into_iter().map(|e| e.field).collect()
    }

    fn bad<T: FromJson + std::fmt::Debug>(body: Value) -> Vec<String> {
        fields(parse_object::<T>(&body).unwrap_err())
    }

    #[test]
    fn every_bad_field_is_listed() {
        let profile = json!({
            "name": " ", "email": "not-an-email", "phone": "call me",
            "role": "janitor", "school_id": "Lincoln Elem",
        });
        assert_eq!(bad::<ProfileBody>(profile), ["name", "email", "phone", "role", "school_id"]);
        let conversation = json!({"held_at": "yesterday", "stars": ["ok", 3]});
        assert_eq!(
            bad::<ConversationBody>(conversation),
            ["held_at", "location", "their_vision", "stars[1]"]
        );
        let promise = json!({"to": {"type": "parent"}, "due_on": "2024-13-01"});
        assert_eq!(bad::<PromiseBody>(promise), ["to.type", "text", "due_on"]);
        let promise = json!({"to": {"type": "school", "school_id": "-x"}});
        assert_eq!(bad::<PromiseBody>(promise), ["to.school_id", "text", "due_on"]);
        assert_eq!(bad::<SchoolBody>(json!([1])), [""]);
    }

    #[test]
    fn good_bodies() {
        let p: ProfileBody = parse_object(&json!({
            "name": "Dana Whitfield", "email": "dana@lincoln.example", "role": "principal",
            "school_id": "lincoln-elem",
        }))
        .unwrap();
        assert_eq!(p.role, StakeholderRole::Principal);
        assert!(p.phone.is_none());
        let c: ConversationBody = parse_object(&json!({
            "held_at": "2024-09-03T14:05:00+02:00", "location": "Her office",
            "their_vision": "Every child codes", "stars": ["a", "b", "c"], "wish": "Loaners",
        }))
        .unwrap();
        assert_eq!(c.stars.map(|s| s.len()), Some(3));
        assert_eq!(c.held_at.to_rfc3339(), "2024-09-03T12:05:00+00:00");
        let n: PromiseBody = parse_object(&json!({
            "to": {"type": "stakeholder", "stakeholder_id": Uuid::nil()},
            "text": "Projector fixed", "due_on": "2024-09-13",
        }))
        .unwrap();
        assert_eq!(n.to, PromiseTo::Stakeholder { stakeholder_id: Uuid::nil() });
        assert!(parse_object::<DoneBody>(&json!({})).unwrap().on.is_none());
        let progress: ProgressBody =
            parse_object(&json!({"note": "x", "status": "in_progress"})).unwrap();
        assert_eq!(progress.status, WishStatus::InProgress);
    }
}
