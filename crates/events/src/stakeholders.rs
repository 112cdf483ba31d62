//! The stakeholder relations service's streams and events.
//!
//! ## Streams
//!
//! | stream | family | what |
//! |---|---|---|
//! | `stakeholder-{uuid}` ([`stakeholder_stream`]) | [`StakeholderEvent`] | a person at a school or in the district: profile and the conversations IT held with them |
//! | `wish-{uuid}` ([`wish_stream`]) | [`WishEvent`] | the wish of one conversation ("2 stars and a wish") and the headway on it |
//! | `promise-{uuid}` ([`promise_stream`]) | [`PromiseEvent`] | a promise IT made to a stakeholder or a school, and whether it was kept |
//! | `followup-{uuid}` ([`followup_stream`]) | [`FollowUpEvent`] | something to come back to a stakeholder about |
//! | `email-{uuid}` ([`email_stream`]) | [`EmailEvent`] | which stakeholder holds an e-mail address (ignoring case): what makes e-mails unique among stakeholders, race-free |
//! | `vision-district` ([`VISION_STREAM`]) | [`VisionEvent`] | IT's own vision for the district: its statement and themes, each version an event |
//!
//! The school streams (`school-{school_id}`) are written by the same service but published in
//! [`crate::school`], because the gate reads them.
//!
//! ## Appends that span streams
//!
//! - `conversation-held` on `stakeholder-{id}` is appended together with `wish-recorded` on a
//!   new `wish-{wish_id}` stream: every conversation's wish is tracked.
//! - `agreement-signed` on `school-{id}` is appended together with `promise-made` on a new
//!   `promise-{uuid}` stream, of kind [`CALL_BEFORE_CANCEL`], made to the school: the standing
//!   promise that IT will not cancel a purchase of the school before calling the requester and
//!   proposing an alternative. That promise is never settled by `promise-kept`/`promise-broken`:
//!   its outcome is read from the gate's purchase events.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rules::{Claim, claim_holder};
use crate::values::{
    Email, LongText, SchoolId, ShortText, ThemeId, ValueError, quote, string_schema, string_value,
};

/// The category of stakeholder streams.
pub const STAKEHOLDER_CATEGORY: &str = "stakeholder";
/// The category of wish streams.
pub const WISH_CATEGORY: &str = "wish";
/// The category of promise streams.
pub const PROMISE_CATEGORY: &str = "promise";
/// The category of follow-up streams.
pub const FOLLOWUP_CATEGORY: &str = "followup";
/// The category of e-mail claim streams.
pub const EMAIL_CATEGORY: &str = "email";
/// The namespace of e-mail claim ids: v5(namespace, the address lowercased).
const EMAIL_NAMESPACE: Uuid = Uuid::from_u128(0x8d3e_0b6a_41f2_4c97_a5d0_7e21_c9b4_3f6e);

/// The [`PromiseMade::kind`] of the purchasing agreement's standing promise: IT will not cancel
/// a purchase of the school before calling the requester and proposing an alternative.
pub const CALL_BEFORE_CANCEL: &str = "call-before-cancel";

/// The stream of the stakeholder `id`: `stakeholder-{id}`.
pub fn stakeholder_stream(id: Uuid) -> String {
    format!("{STAKEHOLDER_CATEGORY}-{id}")
}

/// The stream of the wish `id`: `wish-{id}`.
pub fn wish_stream(id: Uuid) -> String {
    format!("{WISH_CATEGORY}-{id}")
}

/// The stream of the promise `id`: `promise-{id}`.
pub fn promise_stream(id: Uuid) -> String {
    format!("{PROMISE_CATEGORY}-{id}")
}

/// The stream of the follow-up `id`: `followup-{id}`.
pub fn followup_stream(id: Uuid) -> String {
    format!("{FOLLOWUP_CATEGORY}-{id}")
}

/// The stream of the claim on `email`: `email-{uuid}`, the uuid derived from the address
/// lowercased whole (`Pat.Lee@District.org` and `pat.lee@district.org` are one address), so
/// the address itself is not in the stream's name.
pub fn email_stream(email: &Email) -> String {
    let id = Uuid::new_v5(&EMAIL_NAMESPACE, email.key().as_bytes());
    format!("{EMAIL_CATEGORY}-{id}")
}

// ---------------------------------------------------------------------------------------------
// Values

/// A telephone number as people write it: 3 to 40 characters of digits, spaces and
/// `+ - ( ) . / #`, or `x`/`ext` for an extension, with at least 3 digits. Trimmed; otherwise
/// kept as given (numbers are dialled by people, not parsed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// The longest number accepted.
    pub const MAX: usize = 40;

    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let phone = input.trim();
        let allowed = |c: char| c.is_ascii_digit() || " +-()./#xXeEtT".contains(c);
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if phone.chars().count() > Self::MAX || digits < 3 || !phone.chars().all(allowed) {
            return Err(ValueError::new(
                "phone",
                format!(
                    "a phone number has 3 to 40 characters: digits, spaces, '+-().' and 'ext' for an extension, like \"+1 (555) 010-4477 ext 12\"; found {}",
                    quote(input)
                ),
            ));
        }
        Ok(Self(phone.to_owned()))
    }
}

string_value!(
    Phone,
    string_schema(
        "A phone number: 3 to 40 characters of digits, spaces, '+-()./#' and 'x'/'ext' for an extension.",
        Some(r"^[0-9 +\-()./#xXeEtT]+$"),
        Some(3),
        Some(Phone::MAX),
        "+1 (555) 010-4477 ext 12",
    )
);

/// What a stakeholder does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StakeholderRole {
    /// Runs a school; the only role that signs its purchasing agreement.
    Principal,
    Teacher,
    Librarian,
    BusinessOfficer,
    InstructionLead,
    /// District or school IT staff.
    It,
    Other,
}

impl StakeholderRole {
    /// The wire name (`business_officer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Principal => "principal",
            Self::Teacher => "teacher",
            Self::Librarian => "librarian",
            Self::BusinessOfficer => "business_officer",
            Self::InstructionLead => "instruction_lead",
            Self::It => "it",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for StakeholderRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a wish stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WishStatus {
    /// Recorded (or reopened); no work under way.
    Open,
    /// IT is working on it.
    InProgress,
    /// Granted.
    Done,
    /// IT decided not to grant it (the note says why).
    Declined,
}

impl WishStatus {
    /// The wire name (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Done => "done",
            Self::Declined => "declined",
        }
    }

    /// Whether the wish is closed (`done` or `declined`).
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Done | Self::Declined)
    }
}

impl std::fmt::Display for WishStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// To whom a promise was made: `{"type": "stakeholder", "stakeholder_id": …}` or
/// `{"type": "school", "school_id": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PromiseTo {
    /// A person.
    Stakeholder { stakeholder_id: Uuid },
    /// A whole school (the agreement's standing promise is made to the school).
    School { school_id: SchoolId },
}

// ---------------------------------------------------------------------------------------------
// Stakeholders

/// A person was registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StakeholderRegistered {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    /// The school they work at; absent for district staff. The school was registered when
    /// this was written.
    pub school_id: Option<SchoolId>,
}

/// A person's profile changed: the whole profile as it is now (not a patch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StakeholderUpdated {
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    pub school_id: Option<SchoolId>,
}

impl StakeholderRegistered {
    /// `stakeholder_id` registered with `profile`.
    pub fn new(stakeholder_id: Uuid, profile: StakeholderUpdated) -> Self {
        let StakeholderUpdated { name, email, phone, role, school_id } = profile;
        Self { stakeholder_id, name, email, phone, role, school_id }
    }

    /// The profile the person was registered with.
    pub fn profile(&self) -> StakeholderUpdated {
        StakeholderUpdated {
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            role: self.role,
            school_id: self.school_id.clone(),
        }
    }
}

/// IT met the person: their vision and, at the first conversation with them, "2 stars and a
/// wish" (two things IT does well, one it should do better); later conversations record them
/// when they were asked. A wish is appended with `wish-recorded` on `wish-{wish_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationHeld {
    pub conversation_id: Uuid,
    /// When the meeting took place.
    pub held_at: DateTime<Utc>,
    pub location: ShortText,
    /// Their vision for their school or work, in their words.
    pub their_vision: LongText,
    /// Exactly two things IT does well; `null` when this conversation did not ask (never the
    /// first with a person).
    #[schema(min_items = 2, max_items = 2)]
    #[serde(default)]
    pub stars: Option<[ShortText; 2]>,
    /// One thing IT should do better, tracked as the wish `wish_id`; `null` when this
    /// conversation did not ask (never the first with a person).
    #[serde(default)]
    pub wish: Option<LongText>,
    pub notes: Option<LongText>,
    #[serde(default)]
    pub wish_id: Option<Uuid>,
    /// The themes of IT's vision (`GET /v1/vision`) their vision connects to, as IT heard it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ThemeId>,
    /// Whether IT met them on their own turf (their school or office), not called them in.
    #[serde(default)]
    pub on_their_turf: bool,
}

/// IT praised the person's two stars in public (a School Committee meeting, a newsletter), as
/// the district's CTO did for every principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StarsAcknowledged {
    /// The conversation whose stars were praised.
    pub conversation_id: Uuid,
    /// Where: the meeting, the publication.
    #[serde(rename = "where")]
    pub place: ShortText,
    pub acknowledged_on: NaiveDate,
}

/// The person spoke for IT to another (a principal who signed, telling one who had not what
/// the gate did for their school): on the advocate's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SpokeForIt {
    /// Whom they spoke to (a stakeholder id).
    pub to_stakeholder_id: Uuid,
    /// What about, in IT's words.
    pub about: LongText,
    /// The day they spoke.
    pub on: NaiveDate,
}

event_family! {
    /// The events of a `stakeholder-{uuid}` stream.
    pub enum StakeholderEvent in "stakeholder" {
        /// `stakeholder-registered`
        Registered(StakeholderRegistered) = "stakeholder-registered",
        /// `stakeholder-updated`
        Updated(StakeholderUpdated) = "stakeholder-updated",
        /// `conversation-held`
        ConversationHeld(ConversationHeld) = "conversation-held",
        /// `stars-acknowledged`
        StarsAcknowledged(StarsAcknowledged) = "stars-acknowledged",
        /// `spoke-for-it`
        SpokeForIt(SpokeForIt) = "spoke-for-it",
    }
}

// ---------------------------------------------------------------------------------------------
// IT's vision

/// The stream of IT's vision for the district.
pub const VISION_STREAM: &str = "vision-district";

/// A theme of IT's vision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Theme {
    pub theme_id: ThemeId,
    pub title: ShortText,
}

/// IT set its vision for the district: the whole statement and its themes as they are now.
/// The stream's version is the vision's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VisionSet {
    pub statement: LongText,
    /// Its themes, each with a distinct id, in IT's order.
    pub themes: Vec<Theme>,
}

event_family! {
    /// The events of the `vision-district` stream.
    pub enum VisionEvent in "vision" {
        /// `vision-set`
        Set(VisionSet) = "vision-set",
    }
}

/// IT's vision, folded from its stream: the fold every reader uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DistrictVision {
    /// `None` until IT sets it.
    pub current: Option<VisionSet>,
    /// The stream's version: 0 until set.
    pub version: u64,
}

impl DistrictVision {
    /// Folds one event at stream `version`.
    pub fn apply(&mut self, event: &VisionEvent, version: u64) {
        let VisionEvent::Set(set) = event;
        self.current = Some(set.clone());
        self.version = version;
    }

    /// Whether `theme` is one of the vision's themes now.
    pub fn has_theme(&self, theme: &ThemeId) -> bool {
        self.current.as_ref().is_some_and(|v| v.themes.iter().any(|t| &t.theme_id == theme))
    }
}

// ---------------------------------------------------------------------------------------------
// Wishes

/// A wish from a conversation, now tracked. Its status starts `open`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WishRecorded {
    pub wish_id: Uuid,
    /// Whose wish it is.
    pub stakeholder_id: Uuid,
    /// Their school when the wish was made, if any.
    pub school_id: Option<SchoolId>,
    pub text: LongText,
    /// The conversation it came from.
    pub conversation_id: Uuid,
    /// When it was said (the conversation's `held_at`).
    pub recorded_at: DateTime<Utc>,
}

/// Headway on a wish: what happened, and its status after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WishProgressed {
    pub note: LongText,
    pub status: WishStatus,
    pub at: DateTime<Utc>,
}

impl WishProgressed {
    /// Whether this progress is **headway**: anything that does not decline the wish (work
    /// started or done, a note of progress, a reopening). Declining is an answer, not headway.
    /// The wishes report and relationship health both count headway by this.
    pub fn is_headway(&self) -> bool {
        self.status != WishStatus::Declined
    }
}

event_family! {
    /// The events of a `wish-{uuid}` stream.
    pub enum WishEvent in "wish" {
        /// `wish-recorded`
        Recorded(WishRecorded) = "wish-recorded",
        /// `wish-progressed`
        Progressed(WishProgressed) = "wish-progressed",
    }
}

// ---------------------------------------------------------------------------------------------
// Promises

/// IT promised something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromiseMade {
    pub promise_id: Uuid,
    pub to: PromiseTo,
    pub text: LongText,
    /// When it is due; never before `made_on`.
    pub due_on: NaiveDate,
    /// Who made it (the JWT subject).
    pub owner: String,
    pub made_on: NaiveDate,
    /// What sort of promise, when it is a standard one: [`CALL_BEFORE_CANCEL`] for the
    /// purchasing agreement's standing promise (made to the school, due the day it is signed,
    /// settled by the gate's record rather than by `promise-kept`/`promise-broken`).
    pub kind: Option<String>,
}

impl PromiseMade {
    /// Whether this is a purchasing agreement's standing call-before-cancel promise.
    pub fn is_call_before_cancel(&self) -> bool {
        is_call_before_cancel(self.kind.as_deref())
    }
}

/// Whether a promise of `kind` (a [`PromiseMade`]'s, as a reader keeps it) is a purchasing
/// agreement's standing call-before-cancel promise.
pub fn is_call_before_cancel(kind: Option<&str>) -> bool {
    kind == Some(CALL_BEFORE_CANCEL)
}

/// The promise was kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromiseKept {
    /// What shows it (a ticket, a date, what the stakeholder said).
    pub evidence: LongText,
    pub on: NaiveDate,
}

/// The promise was broken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromiseBroken {
    /// What happened.
    pub evidence: LongText,
    pub on: NaiveDate,
}

event_family! {
    /// The events of a `promise-{uuid}` stream.
    pub enum PromiseEvent in "promise" {
        /// `promise-made`
        Made(PromiseMade) = "promise-made",
        /// `promise-kept`
        Kept(PromiseKept) = "promise-kept",
        /// `promise-broken`
        Broken(PromiseBroken) = "promise-broken",
    }
}

// ---------------------------------------------------------------------------------------------
// Follow-ups

/// Something to come back to a stakeholder about, by a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FollowUpScheduled {
    pub followup_id: Uuid,
    pub stakeholder_id: Uuid,
    pub about: LongText,
    pub due_on: NaiveDate,
}

/// The follow-up was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FollowUpDone {
    pub on: NaiveDate,
    pub note: Option<LongText>,
    /// Whom the follow-up is about: the person whose key seals the `note`. Absent from the
    /// events recorded before it was added (their notes were not sealed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stakeholder_id: Option<Uuid>,
}

event_family! {
    /// The events of a `followup-{uuid}` stream.
    pub enum FollowUpEvent in "followup" {
        /// `followup-scheduled`
        Scheduled(FollowUpScheduled) = "followup-scheduled",
        /// `followup-done`
        Done(FollowUpDone) = "followup-done",
    }
}

// ---------------------------------------------------------------------------------------------
// E-mail claims

/// A stakeholder took an e-mail address: registered with it, or changed theirs to it. Appended
/// with that registration or change, in the same atomic append, at the claim stream's version
/// read ("no stream" for an address never claimed), so two people cannot take one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmailClaimed {
    pub stakeholder_id: Uuid,
}

/// The stakeholder holding the address changed theirs to another, or was erased: the address
/// is free again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmailReleased {
    pub stakeholder_id: Uuid,
}

event_family! {
    /// The events of an `email-{uuid}` stream.
    pub enum EmailEvent in "email" {
        /// `email-claimed`
        Claimed(EmailClaimed) = "email-claimed",
        /// `email-released`
        Released(EmailReleased) = "email-released",
    }
}

/// Who holds an e-mail address, folded from its claim stream: `None` when nobody does (never
/// claimed, or released).
pub fn email_holder<'a>(events: impl IntoIterator<Item = &'a EmailEvent>) -> Option<Uuid> {
    claim_holder(events.into_iter().map(|event| match event {
        EmailEvent::Claimed(c) => Claim::Taken(c.stakeholder_id),
        EmailEvent::Released(r) => Claim::Released(r.stakeholder_id),
    }))
}

#[cfg(test)]
mod tests;
