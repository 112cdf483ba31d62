//! Stakeholders (`stakeholder-{uuid}` streams), the conversations held with them, and their
//! profile with relationship health.
//!
//! A conversation is appended together with its wish (`conversation-held` on the
//! stakeholder's stream and `wish-recorded` on a new wish stream, in one atomic append).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::web::{Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse, get, post, put};
use auth::Principal;
use chrono::{DateTime, Utc};
use events::school::school_stream;
use events::stakeholders::{ConversationHeld, Phone, StakeholderRole, stakeholder_stream};
use events::values::{Email, LongText, SchoolId, ShortText};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::views::{
    FollowUpView, HeldPurchaseView, Joins, Names, PromiseView, WishView, follow_up_view,
    held_purchase_view, promise_view, sort_promises, sort_wishes, wish_view,
};
use super::{
    ALL, Page, READERS, WRITERS, body_reference_error, domain_error, load, metadata, now, page,
    parse, path_id, query_param, stream, today,
};
use crate::app::State;
use crate::domain::DomainError;
use crate::domain::health::{Health, health};
use crate::domain::school::School;
use crate::domain::stakeholder::{
    HoldConversation, Profile, RegisterStakeholder, Stakeholder, StakeholderCommand,
    UpdateStakeholder,
};
use crate::queries::{HealthDocs, health_inputs};
use crate::read_models::{
    FollowUpDoc, FollowUps, HeldPurchaseDoc, PromiseDoc, Promises, SchoolDoc, Schools,
    StakeholderDoc, Stakeholders, WishDoc, Wishes, sort_follow_ups,
};
use kernel::{Aggregate, ReadModel};

/// A stakeholder in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StakeholderSummary {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    /// Their school; absent for district staff.
    pub school_id: Option<SchoolId>,
    pub conversations: u32,
    /// When the latest conversation was held.
    pub last_contact: Option<DateTime<Utc>>,
    /// Relationship health, 0 to 100 (see `GET /v1/stakeholders/{id}` for the formula).
    pub health_score: u32,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stakeholder's profile: who they are, what they said, what IT owes them, and how well IT
/// keeps up its side of the relationship.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StakeholderView {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub email: Email,
    pub phone: Option<Phone>,
    pub role: StakeholderRole,
    pub school_id: Option<SchoolId>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Relationship health: the score, the counts behind it and every deduction.
    pub health: Health,
    /// Every conversation, in the order they were recorded.
    pub conversations: Vec<ConversationHeld>,
    /// Their wishes, oldest first.
    pub wishes: Vec<WishView>,
    /// Promises made to them and, for a principal, to their school; overdue first.
    pub promises: Vec<PromiseView>,
    /// Follow-ups owed to them, overdue first.
    pub follow_ups: Vec<FollowUpView>,
    /// Principals only: their school's purchases that the gate held, with how fast IT
    /// answered each.
    pub held_purchases: Option<Vec<HeldPurchaseView>>,
}

/// The stakeholder as the read models have it once they include `position` (the head now,
/// when `None`).
async fn stakeholder_view(
    state: &State,
    id: Uuid,
    position: Option<u64>,
) -> Result<StakeholderView, ApiError> {
    let view = state.read_models.view();
    match position {
        Some(position) => state.read_models.at(position, ALL).await?,
        None => state.read_models.caught_up(ALL).await?,
    }
    let who: StakeholderDoc = state
        .read_models
        .view()
        .one::<Stakeholders>(&id.to_string())
        .await?
        .ok_or_else(|| domain_error(DomainError::UnknownStakeholder))?;
    let school: Option<SchoolDoc> = match who.principal_of() {
        Some(school_id) => view.one::<Schools>(school_id.as_str()).await?,
        None => None,
    };
    let promise_ids = who.promise_ids.iter().chain(school.iter().flat_map(|s| &s.promise_ids));
    let (wishes, follow_ups, promises, held) = futures::try_join!(
        view.some::<Wishes>(who.wish_ids.iter().map(Uuid::to_string)),
        view.some::<FollowUps>(who.followup_ids.iter().map(Uuid::to_string)),
        view.some::<Promises>(promise_ids.map(Uuid::to_string)),
        async {
            match &school {
                Some(_) => super::views::held_purchases(&view).await,
                None => Ok(Vec::new()),
            }
        },
    )?;
    let held: Vec<HeldPurchaseDoc> = match &school {
        Some(s) => held.into_iter().filter(|p| p.school_id == s.school_id).collect(),
        None => held,
    };
    let now = now();
    let today = today(now);
    let health = health(
        &health_inputs(HealthDocs {
            stakeholder: &who,
            follow_ups: &follow_ups,
            wishes: &wishes,
            promises: &promises,
            school: school.as_ref().map(|s| (s, held.as_slice())),
        }),
        now,
        today,
    );
    let names: Names = [(who.stakeholder_id, who.name.clone())].into();
    let mut wishes: Vec<WishView> = wishes.into_iter().map(|w| wish_view(w, now, &names)).collect();
    sort_wishes(&mut wishes);
    let mut follow_ups = follow_ups;
    sort_follow_ups(&mut follow_ups, today);
    let follow_ups = follow_ups.into_iter().map(|f| follow_up_view(f, today, &names)).collect();
    let held_purchases = school.as_ref().map(|_| {
        let mut held: Vec<HeldPurchaseView> =
            held.iter().cloned().map(|p| held_purchase_view(p, now)).collect();
        held.sort_by_key(|p| (p.purchase.flagged_at, p.purchase.purchase_id));
        held
    });
    let joins = Joins::new(school.into_iter().collect(), held);
    let mut promises: Vec<PromiseView> =
        promises.into_iter().map(|p| promise_view(p, today, &joins)).collect();
    sort_promises(&mut promises);
    Ok(StakeholderView {
        stakeholder_id: who.stakeholder_id,
        name: who.name,
        email: who.email,
        phone: who.phone,
        role: who.role,
        school_id: who.school_id,
        registered_at: who.registered_at,
        updated_at: who.updated_at,
        health,
        conversations: who.conversations,
        wishes,
        promises,
        follow_ups,
        held_purchases,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StakeholderQuery {
    role: Option<StakeholderRole>,
    /// Only people of this school.
    school_id: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
    /// Skip this many (the `next_offset` of the previous page).
    offset: Option<usize>,
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
    params(StakeholderQuery),
    responses(
        (status = 200, body = StakeholderList),
        (status = 400, description = "`invalid-query`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/stakeholders")]
pub async fn list_stakeholders(
    state: Data<State>,
    principal: Principal,
    query: Query<StakeholderQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = state.read_models.view();
    principal.require(READERS)?;
    let school_id = query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    state.read_models.caught_up(ALL).await?;
    let (people, wishes, follow_ups, promises, schools, held) = futures::try_join!(
        view.all::<Stakeholders>(),
        view.all::<Wishes>(),
        view.all::<FollowUps>(),
        view.all::<Promises>(),
        view.all::<Schools>(),
        super::views::held_purchases(&view),
    )?;
    let people: Vec<StakeholderDoc> = people
        .into_iter()
        .filter(|p| query.role.is_none_or(|r| p.role == r))
        .filter(|p| school_id.as_ref().is_none_or(|s| p.school_id.as_ref() == Some(s)))
        .collect();
    let scores = health_scores(&people, wishes, follow_ups, promises, schools, held);
    let mut stakeholders: Vec<StakeholderSummary> = people
        .into_iter()
        .map(|p| StakeholderSummary {
            health_score: scores.get(&p.stakeholder_id).copied().unwrap_or(100),
            stakeholder_id: p.stakeholder_id,
            conversations: p.conversations.len() as u32,
            last_contact: p.last_contact,
            name: p.name,
            email: p.email,
            phone: p.phone,
            role: p.role,
            school_id: p.school_id,
            registered_at: p.registered_at,
            updated_at: p.updated_at,
        })
        .collect();
    stakeholders.sort_by(|a, b| {
        (a.name.as_str().to_lowercase(), a.stakeholder_id)
            .cmp(&(b.name.as_str().to_lowercase(), b.stakeholder_id))
    });
    let (stakeholders, page) = page(stakeholders, query.limit, query.offset)?;
    Ok(HttpResponse::Ok().json(StakeholderList { stakeholders, page }))
}

/// Each person's health score, from whole collections grouped once.
fn health_scores(
    people: &[StakeholderDoc],
    wishes: Vec<WishDoc>,
    follow_ups: Vec<FollowUpDoc>,
    promises: Vec<PromiseDoc>,
    schools: Vec<SchoolDoc>,
    held: Vec<HeldPurchaseDoc>,
) -> HashMap<Uuid, u32> {
    use events::stakeholders::PromiseTo;
    let mut wishes_of: HashMap<Uuid, Vec<WishDoc>> = HashMap::new();
    for w in wishes {
        wishes_of.entry(w.stakeholder_id).or_default().push(w);
    }
    let mut follow_ups_of: HashMap<Uuid, Vec<FollowUpDoc>> = HashMap::new();
    for f in follow_ups {
        follow_ups_of.entry(f.stakeholder_id).or_default().push(f);
    }
    let mut promises_to: HashMap<Uuid, Vec<PromiseDoc>> = HashMap::new();
    let mut promises_to_school: HashMap<String, Vec<PromiseDoc>> = HashMap::new();
    for p in promises {
        match &p.to {
            PromiseTo::Stakeholder { stakeholder_id } => {
                promises_to.entry(*stakeholder_id).or_default().push(p)
            }
            PromiseTo::School { school_id } => {
                promises_to_school.entry(school_id.as_str().to_owned()).or_default().push(p)
            }
        }
    }
    let mut held_of: HashMap<String, Vec<HeldPurchaseDoc>> = HashMap::new();
    for p in held {
        held_of.entry(p.school_id.as_str().to_owned()).or_default().push(p);
    }
    let schools: HashMap<String, SchoolDoc> =
        schools.into_iter().map(|s| (s.school_id.as_str().to_owned(), s)).collect();
    let now = now();
    let today = today(now);
    let none: Vec<HeldPurchaseDoc> = Vec::new();
    people
        .iter()
        .map(|who| {
            let school = who.principal_of().and_then(|id| schools.get(id.as_str()));
            let mut promises = promises_to.get(&who.stakeholder_id).cloned().unwrap_or_default();
            if let Some(s) = school {
                promises.extend(
                    promises_to_school.get(s.school_id.as_str()).into_iter().flatten().cloned(),
                );
            }
            let held = school.and_then(|s| held_of.get(s.school_id.as_str())).unwrap_or(&none);
            let inputs = health_inputs(HealthDocs {
                stakeholder: who,
                follow_ups: follow_ups_of.get(&who.stakeholder_id).map_or(&[], Vec::as_slice),
                wishes: wishes_of.get(&who.stakeholder_id).map_or(&[], Vec::as_slice),
                promises: &promises,
                school: school.map(|s| (s, held.as_slice())),
            });
            (who.stakeholder_id, health(&inputs, now, today).score)
        })
        .collect()
}

/// A person's profile.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ProfileBody {
    name: ShortText,
    email: Email,
    phone: Option<Phone>,
    role: StakeholderRole,
    /// Their school (registered); absent for district staff.
    school_id: Option<SchoolId>,
}

/// Looks up whether the profile's school is registered (from its stream), and decides.
fn school_lookup(profile: &Profile) -> Vec<eventlog::StreamName> {
    profile.school_id.iter().map(|s| stream(school_stream(s))).collect()
}

fn school_exists(lookups: &[Vec<eventlog::RecordedEvent>]) -> Result<bool, ApiError> {
    match lookups.first() {
        Some(records) => Ok(load::<School>(records)?.status.registered),
        None => Ok(false),
    }
}

/// Register a person: a principal, teacher, librarian, business officer, instruction lead,
/// IT person or other.
#[utoipa::path(
    tag = "stakeholders",
    request_body = ProfileBody,
    responses(
        (status = 201, description = "Registered: the profile", body = StakeholderView),
        (status = 400, description = "`malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or an admin", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation` (bad name, email, phone, role or school slug); `unknown-school`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/stakeholders")]
pub async fn register_stakeholder(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let profile = parse::profile(&body)?;
    let meta = metadata(&principal, &req);
    let id = Uuid::now_v7();
    let done = state
        .commands
        .run::<Stakeholder>(
            &meta,
            stream(stakeholder_stream(id)),
            &school_lookup(&profile),
            |stakeholder, lookups| {
                let command = StakeholderCommand::Register(RegisterStakeholder {
                    stakeholder_id: id,
                    profile: profile.clone(),
                    school_exists: school_exists(lookups)?,
                });
                stakeholder.handle(command).map_err(body_reference_error)
            },
        )
        .await?;
    let view = stakeholder_view(&state, id, done.position).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/stakeholders/{id}")))
        .json(view))
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
/// | no conversation in the last 90 days (or none ever) | 15 | 15 |
/// | each wish `open` or `in_progress` without headway (recorded or progressed) in the last 60 days | 5 | 15 |
/// | principals: the median time IT took to answer their school's held purchases is over 24 hours | 10 | 10 |
/// | principals: the longest such time is over 72 hours | 10 | 10 |
///
/// The score is never below 0. The answer time of a held purchase is the time from the flag to
/// the first call that reached the requester (or to its approval, if IT approved it without
/// such a call); a purchase still waiting counts with the time it has waited so far. Only
/// purchases flagged in the last 365 days count. A standing call-before-cancel promise is
/// never overdue; it counts as broken once a purchase held under its agreement was cancelled
/// without a reached call and an alternative. Every deduction is listed in
/// `health.penalties` with its reason, so the score explains itself. *Today* is the UTC date.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The stakeholder id")),
    responses(
        (status = 200, body = StakeholderView),
        (status = 400, description = "`invalid-path`: not a UUID", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/stakeholders/{id}")]
pub async fn get_stakeholder(
    state: Data<State>,
    principal: Principal,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(READERS)?;
    let id = path_id("id", &id)?;
    Ok(HttpResponse::Ok().json(stakeholder_view(&state, id, None).await?))
}

/// Replace a person's profile (a new email, a move to another school or role).
///
/// The whole profile is sent; nothing is written when nothing changed.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path)),
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The profile now", body = StakeholderView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `unknown-school`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/stakeholders/{id}")]
pub async fn update_stakeholder(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    principal.require(WRITERS)?;
    let id = path_id("id", &id)?;
    let profile = parse::profile(&body)?;
    let meta = metadata(&principal, &req);
    let done = state
        .commands
        .run::<Stakeholder>(
            &meta,
            stream(stakeholder_stream(id)),
            &school_lookup(&profile),
            |stakeholder, lookups| {
                let command = StakeholderCommand::Update(UpdateStakeholder {
                    profile: profile.clone(),
                    school_exists: school_exists(lookups)?,
                });
                stakeholder.handle(command).map_err(|e| match e {
                    DomainError::UnknownSchool => body_reference_error(e),
                    e => domain_error(e),
                })
            },
        )
        .await?;
    let view = stakeholder_view(&state, id, done.position).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A meeting with the person.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ConversationBody {
    /// When it took place: in the past, or at most 5 minutes ahead of the server clock.
    held_at: DateTime<Utc>,
    location: ShortText,
    /// Their vision for their school or work, in their words.
    their_vision: LongText,
    /// Exactly two things IT does well.
    #[schema(min_items = 2, max_items = 2)]
    stars: Vec<ShortText>,
    /// One thing IT should do better: it becomes a tracked wish.
    wish: LongText,
    notes: Option<LongText>,
}

/// A conversation held, and the wish it recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationView {
    pub stakeholder_id: Uuid,
    pub conversation: ConversationHeld,
    /// The conversation's wish, now tracked (`GET /v1/wishes/{wish_id}`).
    pub wish: WishView,
}

/// Record a conversation: their vision, two stars and a wish.
///
/// The wish becomes a tracked wish (status `open`) in the same atomic append.
#[utoipa::path(
    tag = "stakeholders",
    params(("id" = Uuid, Path, description = "The stakeholder id")),
    request_body = ConversationBody,
    responses(
        (status = 201, description = "Recorded, with its wish", body = ConversationView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, body = web::Problem),
        (status = 404, description = "`unknown-stakeholder`", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`; `exactly-two-stars` (with `found`); `date-in-future` (`held_at`)", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[post("/v1/stakeholders/{id}/conversations")]
pub async fn hold_conversation(
    state: Data<State>,
    principal: Principal,
    req: HttpRequest,
    id: Path<String>,
    body: Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let view = state.read_models.view();
    principal.require(WRITERS)?;
    let id = path_id("id", &id)?;
    let c = parse::conversation(&body)?;
    let meta = metadata(&principal, &req);
    let (conversation_id, wish_id) = (Uuid::now_v7(), Uuid::now_v7());
    let now = now();
    let done = state
        .commands
        .run::<Stakeholder>(&meta, stream(stakeholder_stream(id)), &[], |stakeholder, _| {
            let command = StakeholderCommand::HoldConversation(HoldConversation {
                conversation_id,
                wish_id,
                held_at: c.held_at,
                now,
                location: c.location.clone(),
                their_vision: c.their_vision.clone(),
                stars: c.stars.clone(),
                wish: c.wish.clone(),
                notes: c.notes.clone(),
            });
            stakeholder.handle(command).map_err(domain_error)
        })
        .await?;
    let position = done.position.unwrap_or_default();
    state.read_models.at(position, &[Stakeholders::NAME, Wishes::NAME]).await?;
    let (who_key, wish_key) = (id.to_string(), wish_id.to_string());
    let (who, wish) =
        futures::try_join!(view.one::<Stakeholders>(&who_key), view.one::<Wishes>(&wish_key),)?;
    let who = who.ok_or_else(|| ApiError::internal("a stakeholder missing after a write"))?;
    let wish = wish.ok_or_else(|| ApiError::internal("a wish missing after its write"))?;
    let conversation = who
        .conversations
        .iter()
        .find(|c| c.conversation_id == conversation_id)
        .cloned()
        .ok_or_else(|| ApiError::internal("a conversation missing after its write"))?;
    let names: Names = [(who.stakeholder_id, who.name.clone())].into();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/wishes/{wish_id}")))
        .json(ConversationView {
            stakeholder_id: id,
            conversation,
            wish: wish_view(wish, now, &names),
        }))
}
