//! Stakeholders (`stakeholder-{uuid}` streams), the conversations held with them, and their
//! profile with relationship health.
//!
//! A conversation is appended together with its wish (`conversation-held` on the
//! stakeholder's stream and `wish-recorded` on a new wish stream, in one atomic append).
//!
//! A person's e-mail address is theirs alone: registering takes its claim (`email-{uuid}`, read
//! with the command and appended to at the version read, so two registrations at once cannot
//! both take it), a new address is taken and the old one released; for people registered
//! before addresses were claimed, the register (`stakeholders.stakeholders`) says who has it.
//! Registering an address someone has is `409 email-taken`, naming them.
//!
//! Registering and holding a conversation take an optional `Idempotency-Key`
//! ([`kernel::http::Idempotency`]).

use actix_web::web::Query;
use actix_web::{HttpResponse, get, post, put};
use chrono::{DateTime, Utc};
use eventlog::{RecordedEvent, StreamName};
use events::privacy::erasure_stream;
use events::school::school_stream;
use events::stakeholders::{
    EmailEvent, StakeholderRole, email_holder, email_stream, stakeholder_stream,
};
use events::values::{Email, SchoolId};
use kernel::http::{self, Body, IdempotencyKeyHeader, Page, Paging, Reply};
use kernel::{Aggregate, ReadModel, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::bodies::{ConversationBody, ProfileBody};
use super::{
    Change, ChangeErrors, KeyedChangeErrors, ListErrors, Read, Secured, WriteErrors, Written,
    as_of, body_reference_error, created, load, naming, now, read_models, registered_school, run,
    run_keyed,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::stakeholder::{
    EmailClaim, Profile, RegisterStakeholder, Stakeholder, StakeholderCommand, UpdateStakeholder,
};
use crate::domain::vision::{Vision, vision_stream};
use crate::queries::stakeholders::{
    self, ConversationView, StakeholderDocs, StakeholderFilter, StakeholderSummary, StakeholderView,
};
use crate::read_models::Stakeholders as Register;

/// The stakeholder as the read models have it once they include `position` (the head now,
/// when `None`).
async fn stakeholder_view(
    state: &State,
    id: Uuid,
    position: Option<u64>,
) -> Result<StakeholderView, ApiError> {
    let view = read_models(state, position, stakeholders::READS).await?;
    let docs = StakeholderDocs::read(&view, id).await?.ok_or(DomainError::UnknownStakeholder)?;
    Ok(docs.view(&as_of(state).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StakeholderQuery {
    role: Option<StakeholderRole>,
    /// Only people of this school.
    #[param(value_type = Option<events::values::SchoolId>)]
    school_id: Option<String>,
}

/// A page of stakeholders, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct StakeholderList {
    pub stakeholders: Vec<StakeholderSummary>,
    #[serde(flatten)]
    pub page: Page,
}

/// List stakeholders by name, each with their relationship health score.
#[utoipa::path(
    tag = "stakeholders",
    params(StakeholderQuery, Paging),
    responses((status = 200, body = StakeholderList), ListErrors),
)]
#[get("/v1/stakeholders")]
pub async fn list_stakeholders(
    cx: Read,
    query: Query<StakeholderQuery>,
    paging: Query<Paging>,
) -> Reply {
    let school_id = http::query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    let filter = StakeholderFilter { role: query.role, school_id };
    let view = read_models(&cx.state, None, stakeholders::READS).await?;
    let list = stakeholders::stakeholders(&view, &filter, &as_of(&cx.state).await?).await?;
    let (stakeholders, page) = paging.page(list)?;
    Ok(HttpResponse::Ok().json(StakeholderList { stakeholders, page }))
}

/// What a profile is checked against: who holds its address (and, for a change of profile, the
/// address the person has now), and whether its school is registered. The claims and the
/// school are read with the stakeholder, in the command's round trip ([`Self::lookups`]).
struct ProfileChecks<'a> {
    profile: &'a Profile,
    /// Who the register has with the profile's address: its holder when it was never claimed.
    registered: Option<Uuid>,
    /// The address the person has now, for a change of profile.
    current: Option<Email>,
    /// Whether the person's personal data was erased, for a change of profile.
    erased: bool,
    /// The claims of the profile's address and (for a change) of the current one, then the
    /// school's stream when the profile names one.
    lookups: Vec<StreamName>,
}

impl<'a> ProfileChecks<'a> {
    /// The checks of registering `profile`.
    async fn registering(state: &State, profile: &'a Profile) -> Result<Self, ApiError> {
        Self::read(state, profile, None, []).await
    }

    /// The checks of replacing with `profile` the profile of stakeholder `id`: the claim of
    /// their address now too, which a new address releases, and whether they were erased (an
    /// erasure is final: read before, not locked).
    async fn replacing(state: &State, profile: &'a Profile, id: Uuid) -> Result<Self, ApiError> {
        let store = state.commands.store();
        let (own, erasure) = (stream(stakeholder_stream(id)), stream(erasure_stream(id)));
        let mut read =
            store.read_streams(&[(own, 1), (erasure, 1)]).await.map_err(http::store_error)?;
        let erased = !read.pop().unwrap_or_default().is_empty();
        let current = load::<Stakeholder>(&read[0])?.profile.map(|p| p.email);
        let claim = stream(email_stream(current.as_ref().unwrap_or(&profile.email)));
        Ok(Self { erased, ..Self::read(state, profile, current, [claim]).await? })
    }

    /// The checks of `profile` for someone whose address is `current`, reading the claim of
    /// `current_claim` too.
    async fn read(
        state: &State,
        profile: &'a Profile,
        current: Option<Email>,
        current_claim: impl IntoIterator<Item = StreamName>,
    ) -> Result<Self, ApiError> {
        let registered = registered_with(state, &profile.email).await?;
        let mut lookups = vec![stream(email_stream(&profile.email))];
        lookups.extend(current_claim);
        lookups.extend(profile.school_id.iter().map(|s| stream(school_stream(s))));
        Ok(Self { profile, registered, current, erased: false, lookups })
    }

    /// Whether the profile's school, read as the last of `read`, is registered (`false`
    /// without one).
    fn school_exists(&self, read: &[Vec<RecordedEvent>]) -> Result<bool, ApiError> {
        match (&self.profile.school_id, read.last()) {
            (Some(_), Some(records)) => registered_school(records),
            _ => Ok(false),
        }
    }

    /// Registering stakeholder `id`, by what was `read` of [`Self::lookups`].
    fn register(
        &self,
        id: Uuid,
        read: &[Vec<RecordedEvent>],
    ) -> Result<StakeholderCommand, ApiError> {
        Ok(StakeholderCommand::Register(RegisterStakeholder {
            stakeholder_id: id,
            profile: self.profile.clone(),
            school_exists: self.school_exists(read)?,
            email: email_claim(&read[0], self.registered)?,
        }))
    }

    /// Replacing the profile of `stakeholder`, by what was `read` of [`Self::lookups`]; a
    /// conflict when their address changed since it was read (the claims read are not theirs).
    fn replace(
        &self,
        stakeholder: &Stakeholder,
        read: &[Vec<RecordedEvent>],
    ) -> Result<StakeholderCommand, ApiError> {
        if stakeholder.profile.as_ref().map(|p| &p.email) != self.current.as_ref() {
            return Err(http::concurrent_update());
        }
        Ok(StakeholderCommand::Update(UpdateStakeholder {
            profile: self.profile.clone(),
            school_exists: self.school_exists(read)?,
            email: email_claim(&read[0], self.registered)?,
            current_email: email_claim(&read[1], None)?,
            erased: self.erased,
        }))
    }
}

/// The stakeholder the register has with `email` (ignoring case), the first registered: who
/// holds an address never claimed (registered before addresses were claimed).
async fn registered_with(state: &State, email: &Email) -> Result<Option<Uuid>, ApiError> {
    let view = read_models(state, None, &[Register::NAME]).await?;
    Ok(stakeholders::registered_with(view.all::<Register>().await?, email))
}

/// Who holds an address by its claim stream's `records`, or, never claimed, by the register
/// (`registered`).
fn email_claim(
    records: &[RecordedEvent],
    registered: Option<Uuid>,
) -> Result<EmailClaim, ApiError> {
    let Some(last) = records.last() else {
        return Ok(EmailClaim { holder: registered, version: 0 });
    };
    let events: Vec<EmailEvent> = records
        .iter()
        .map(kernel::decode::<EmailEvent>)
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    Ok(EmailClaim { holder: email_holder(&events), version: last.version })
}

/// Register a person: a principal, teacher, librarian, business officer, instruction lead,
/// IT person or other.
///
/// An e-mail address is one person's: registering an address a stakeholder already has
/// (ignoring case) is `409 email-taken`, naming them (`stakeholder_id`), even when two
/// registrations come at the same moment.
#[utoipa::path(
    tag = "stakeholders",
    params(IdempotencyKeyHeader),
    request_body = ProfileBody,
    responses(
        (status = 201, description = "Registered: the profile", body = StakeholderView),
        (status = 400, description = "`malformed-json`, `invalid-header` (the Idempotency-Key)", body = web::Problem),
        (status = 409, description = "`email-taken`: a stakeholder has this address (`stakeholder_id`, `stakeholder`); `idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation` (bad name, email, phone, role or school slug); `unknown-school`", body = web::Problem),
        WriteErrors,
    ),
)]
#[post("/v1/stakeholders")]
pub async fn register_stakeholder(cx: Change, body: Body<ProfileBody>) -> Reply {
    let profile = Profile::from(body.parse()?);
    let once = cx.idempotency(body.json())?;
    let checks = ProfileChecks::registering(&cx.state, &profile).await?;
    let id = Uuid::now_v7();
    let own = stream(stakeholder_stream(id));
    let written = run_keyed(&cx, once, &[id], own, &checks.lookups, |s: &Stakeholder, read| {
        s.handle(checks.register(id, read)?).map_err(body_reference_error)
    })
    .await?;
    let id = written.created(0)?;
    let view = stakeholder_view(&cx.state, id, written.position).await?;
    Ok(created(&written, Some(format!("/v1/stakeholders/{id}")), view))
}

/// One stakeholder's profile, with relationship health.
///
/// The profile: conversations, wishes, promises, follow-ups, and relationship health with the
/// counts behind it. For a principal, the promises include those made to their school (the purchasing
/// agreement's standing call-before-cancel promise among them, with the gate's record), and
/// `held_purchases` lists their school's purchases the gate held, with how fast IT answered.
///
/// **How the health score is computed** (`stakeholders::domain::health`): start at **100**
/// and subtract:
///
/// | what | points | at most |
/// |---|---|---|
/// | each overdue follow-up (due before today, not done) | 10 | 30 |
/// | each broken promise (to them; for a principal also to their school) | 15 | 30 |
/// | each overdue promise (due before today, neither kept nor broken) | 10 | 30 |
/// | contact lost to decay: 30 − 30 × ½^(business days since the last conversation ÷ the half-life), rounded; all 30 when none was ever held | 0 to 30 | 30 |
/// | each wish `open` or `in_progress` without headway (recorded or progressed) in the last 60 days | 5 | 15 |
/// | the median time IT took to answer the held purchases they answer for (a principal: their school's; anyone else: those they requested) is over 24 hours | 10 | 10 |
/// | the longest such time is over 72 hours | 10 | 10 |
///
/// The score is never below 0. The answer time of a held purchase is the time from the flag to
/// the first call that reached the requester (or to its approval, if IT approved it without
/// such a call); a purchase still waiting counts with the time it has waited so far. Only
/// purchases flagged in the last 365 days count. A standing call-before-cancel promise is
/// never overdue; it counts as broken once a purchase held under its agreement was cancelled
/// without a reached call and an alternative. Every deduction is listed in
/// `health.penalties` with its reason, so the score explains itself. *Today* is the district's
/// date (`GET /v1/district`).
///
/// **Trust decays**: contact is worth 30 points the day of a conversation and loses half of
/// what it has left every `contact_half_life_business_days` (45 until set with `PUT
/// /v1/reminder-settings`) of the district's business days without another one (weekends and
/// closures do not count); someone never met has none of it. `health.contact` shows the
/// business days since the last conversation, the half-life and what contact is worth now.
/// Only a conversation counts as contact: a call on one of their held purchases does not (its
/// speed is scored on its own). With nothing else changing the score never rises as time
/// passes, and a new conversation never lowers it.
///
/// **Counted, not scored**: `health.requests` counts what became of the held purchases they
/// requested (their e-mail on the check): answered (`answered_within_target`) and decided
/// (`decided_within_target`) within the district's SLA targets (`GET /v1/sla`: business
/// minutes in the district's calendar, judged by the gate's own clocks, as each purchase's
/// `sla` shows), or past one (`missed_target`); alternatives offered and accepted; approved,
/// cancelled, and cancelled without a call. `answered_within_a_day` is deprecated (24 calendar
/// hours, whatever the targets). `health.promises` counts promises to them kept and broken,
/// `health.wishes.progressed` their wishes IT recorded headway on. For anyone with a school,
/// `health.unchecked_card_spend` shows the technology bought on purchasing cards at the school
/// in the last 365 days that no purchase check covered (unchecked technology, as `GET
/// /v1/reports/rogue-spend` counts it), per currency.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The stakeholder id")),
    responses(
        (status = 200, body = StakeholderView),
        (status = 400, description = "`invalid-path`: not a UUID", body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        Secured,
    ),
)]
#[get("/v1/stakeholders/{id}")]
pub async fn get_stakeholder(cx: Read) -> Reply {
    let id = cx.path_id("id")?;
    Ok(HttpResponse::Ok().json(stakeholder_view(&cx.state, id, None).await?))
}

/// Replace a person's profile (a new email, a move to another school or role).
///
/// The whole profile is sent; nothing is written when nothing changed. A new e-mail address
/// must be no other stakeholder's (`409 email-taken`); the old one is free again. A person
/// whose personal data was erased keeps what reads as erased: their role and school may
/// change, a name, e-mail address or phone given again is refused (`409 stakeholder-erased`:
/// register the person anew).
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path)),
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The profile now", body = StakeholderView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        (status = 409, description = "`email-taken`: another stakeholder has the new address (`stakeholder_id`); `stakeholder-erased`: a name, address or phone for an erased person; `concurrent-update`", body = web::Problem),
        (status = 422, description = "`validation`; `unknown-school`", body = web::Problem),
        ChangeErrors,
    ),
)]
#[put("/v1/stakeholders/{id}")]
pub async fn update_stakeholder(cx: Change, body: Body<ProfileBody>) -> Reply {
    let id = cx.path_id("id")?;
    let profile = Profile::from(body.parse()?);
    let checks = ProfileChecks::replacing(&cx.state, &profile, id).await?;
    let done = run(
        &cx,
        stream(stakeholder_stream(id)),
        &checks.lookups,
        |stakeholder: &Stakeholder, read| {
            let command = checks.replace(stakeholder, read)?;
            stakeholder.handle(command).map_err(naming(DomainError::UnknownSchool))
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(stakeholder_view(&cx.state, id, done.position).await?))
}

/// Record a conversation: their vision and, at the first conversation with the person, two
/// stars and a wish (later ones may record neither).
///
/// A wish becomes a tracked wish (status `open`) in the same atomic append.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The stakeholder id"), IdempotencyKeyHeader),
    request_body = ConversationBody,
    responses(
        (status = 201, description = "Recorded, with its wish", body = ConversationView),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        (status = 409, description = "`idempotency-conflict`", body = web::Problem),
        (status = 422, description = "`validation`; `exactly-two-stars` (with `found`); `date-in-future` (`held_at`); `unknown-theme` (a connection the vision does not have); `two-stars-and-a-wish-first` (the first conversation with a person without them)", body = web::Problem),
        KeyedChangeErrors,
    ),
)]
#[post("/v1/stakeholders/{id}/conversations")]
pub async fn hold_conversation(cx: Change, body: Body<ConversationBody>) -> Reply {
    let id = cx.path_id("id")?;
    let conversation = body.parse()?;
    let once = cx.idempotency(body.json())?;
    let ids = (Uuid::now_v7(), Uuid::now_v7());
    let creates = conversation.created(ids);
    let now = now(&cx.state);
    // IT's vision is read with the stakeholder, so the themes checked are those in force.
    let (own, lookups) = (stream(stakeholder_stream(id)), [vision_stream()]);
    let written = run_keyed(&cx, once, &creates, own, &lookups, |s: &Stakeholder, l| {
        let vision = load::<Vision>(&l[0])?.0;
        Ok(s.handle(conversation.command(ids, now, vision))?)
    })
    .await?;
    let held = held_ids(&written, creates.len())?;
    let view = conversation_held(&cx.state, id, held, written.position, now).await?;
    Ok(created(&written, held.1.map(|wish_id| format!("/v1/wishes/{wish_id}")), view))
}

/// The ids of the conversation a write held, and of its wish when it recorded one (`created`
/// ids in all: the first request's, for a repeat).
fn held_ids(written: &Written, created: usize) -> Result<(Uuid, Option<Uuid>), ApiError> {
    let wish_id = if created > 1 { Some(written.created(1)?) } else { None };
    Ok((written.created(0)?, wish_id))
}

/// The conversation just held by `id`, and its wish, once the read models include `position`.
async fn conversation_held(
    state: &State,
    id: Uuid,
    ids: (Uuid, Option<Uuid>),
    position: Option<u64>,
    now: DateTime<Utc>,
) -> Result<ConversationView, ApiError> {
    let reads = stakeholders::CONVERSATION_READS;
    let view = read_models(state, position, reads).await?;
    let held = stakeholders::conversation(&view, id, ids, now).await?;
    held.ok_or_else(|| ApiError::internal("a conversation or its wish missing after its write"))
}

#[cfg(test)]
mod tests {
    use events::values::ShortText;

    use super::*;

    fn profile(email: &str) -> Profile {
        Profile {
            name: ShortText::parse("Pat Principal").unwrap(),
            email: Email::parse(email).unwrap(),
            phone: None,
            role: StakeholderRole::Principal,
            school_id: None,
        }
    }

    #[test]
    fn a_change_of_profile_checked_against_another_address_than_theirs_is_a_conflict() {
        let new = profile("new@lincoln.example");
        let current = Some(Email::parse("old@lincoln.example").unwrap());
        let (registered, erased, lookups) = (None, false, vec![]);
        let checks = ProfileChecks { profile: &new, registered, current, erased, lookups };
        let read = [vec![], vec![]];
        let them = |email| Stakeholder { profile: Some(profile(email)), ..Default::default() };
        let moved = checks.replace(&them("other@lincoln.example"), &read).unwrap_err();
        assert_eq!(moved.slug(), "concurrent-update");
        let command = checks.replace(&them("old@lincoln.example"), &read).unwrap();
        assert!(matches!(command, StakeholderCommand::Update(u) if u.profile == new));
    }
}
