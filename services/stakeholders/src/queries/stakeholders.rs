//! Stakeholders as the API shows them: the profile with what they said, what IT owes them,
//! and relationship health; for a principal, also their school's promises and held purchases
//! with how fast IT answered each.

use chrono::{DateTime, Utc};
use events::card::CardSpend;
use events::stakeholders::{
    ConversationHeld, Phone, SpokeForIt, StakeholderRole, StarsAcknowledged,
};
use events::values::{Email, SchoolId, ShortText};
use kernel::{ReadModel, View};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::follow_ups::{FollowUpView, follow_up_views};
use super::promises::{Joins, PromiseView, promise_views};
use super::wishes::{WishView, sort_wishes, wish_view};
use super::{Collections, HealthDocs, Names, health_inputs, health_scores, requested_by};
use crate::domain::health::{AsOf, Health, health};
use crate::read_models::{
    ALL, CardSpends, FollowUpDoc, FollowUps, HeldPurchase, HeldPurchaseDoc, HeldPurchases,
    PromiseDoc, Promises, SchoolDoc, Schools, StakeholderDoc, Stakeholders, WishDoc, Wishes,
};

/// The read models a stakeholder's view (and the list, with health) is built from: all.
pub const READS: &[&str] = ALL;

/// The read models a conversation's view is built from.
pub const CONVERSATION_READS: &[&str] = &[Stakeholders::NAME, Wishes::NAME];

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
    /// When their personal data was erased (`DELETE /v1/stakeholders/{id}/personal-data`):
    /// their name, contact details and words then read `(erased)`.
    pub erased_at: Option<DateTime<Utc>>,
    /// Relationship health: the score, the counts behind it and every deduction.
    pub health: Health,
    /// Every conversation, in the order they were recorded.
    pub conversations: Vec<ConversationHeld>,
    /// Their stars IT praised in public, in the order recorded.
    pub acknowledgements: Vec<StarsAcknowledged>,
    /// When they spoke for IT, and to whom, in the order recorded.
    pub spoke_for_it: Vec<SpokeForIt>,
    /// Their wishes, oldest first.
    pub wishes: Vec<WishView>,
    /// Promises made to them and, for a principal, to their school; overdue first.
    pub promises: Vec<PromiseView>,
    /// Follow-ups owed to them, overdue first.
    pub follow_ups: Vec<FollowUpView>,
    /// Principals only: their school's purchases that the gate held, with how fast IT
    /// answered each.
    pub held_purchases: Option<Vec<HeldPurchaseView>>,
    /// The purchases they requested themselves (their e-mail on the check) that the gate
    /// held, with how fast IT answered each and how it ended, oldest first.
    pub requested_purchases: Vec<HeldPurchaseView>,
}

/// A purchase of a principal's school that the gate held, and how fast IT answered it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldPurchaseView {
    #[serde(flatten)]
    pub purchase: HeldPurchaseDoc,
    /// When IT answered: the first call that reached the requester, or the approval if it came
    /// first. Absent while the requester waits.
    pub answered_at: Option<DateTime<Utc>>,
    /// Hours from the flag to the answer (or, while waiting, until now), to a tenth.
    pub hours_to_answer: Option<f64>,
}

/// The held purchase as of `now`.
pub fn held_purchase_view(doc: HeldPurchaseDoc, now: DateTime<Utc>) -> HeldPurchaseView {
    let answered_at = doc.answered_at();
    let hours_to_answer = doc.flagged_at.map(|flagged| {
        let seconds = (answered_at.unwrap_or(now) - flagged).num_seconds().max(0);
        (seconds as f64 / 360.0).round() / 10.0
    });
    HeldPurchaseView { purchase: doc, answered_at, hours_to_answer }
}

/// A conversation held, and the wish it recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationView {
    pub stakeholder_id: Uuid,
    pub conversation: ConversationHeld,
    /// The conversation's wish, now tracked (`GET /v1/wishes/{wish_id}`); `null` when the
    /// conversation recorded none.
    pub wish: Option<WishView>,
}

/// What a stakeholder's view joins: the person, what IT owes them and, for a principal, their
/// school with its held purchases.
#[derive(Debug, Clone)]
pub struct StakeholderDocs {
    pub who: StakeholderDoc,
    pub wishes: Vec<WishDoc>,
    pub follow_ups: Vec<FollowUpDoc>,
    /// Promises to them and, for a principal, to their school.
    pub promises: Vec<PromiseDoc>,
    /// For a principal: their school and its held purchases (other schools' are left out).
    pub school: Option<(SchoolDoc, Vec<HeldPurchaseDoc>)>,
    /// The held purchases they requested, with their clocks.
    pub requested: Vec<HeldPurchase>,
    /// The technology card transactions of their school (none without one).
    pub card_spend: Vec<CardSpend>,
}

impl StakeholderDocs {
    /// The documents of the stakeholder `id`, if registered.
    pub async fn read(view: &View<'_>, id: Uuid) -> Result<Option<Self>, ApiError> {
        let Some(who) = view.one::<Stakeholders>(&id.to_string()).await? else { return Ok(None) };
        let school = match who.principal_of() {
            Some(school_id) => view.one::<Schools>(school_id.as_str()).await?,
            None => None,
        };
        let promise_ids = who.promise_ids.iter().chain(school.iter().flat_map(|s| &s.promise_ids));
        let card_spend = async {
            match &who.school_id {
                Some(_) => view.all::<CardSpends>().await,
                None => Ok(vec![]),
            }
        };
        let (wishes, follow_ups, promises, held, card_spend) = futures::try_join!(
            view.some::<Wishes>(who.wish_ids.iter().map(Uuid::to_string)),
            view.some::<FollowUps>(who.followup_ids.iter().map(Uuid::to_string)),
            view.some::<Promises>(promise_ids.map(Uuid::to_string)),
            view.all::<HeldPurchases>(),
            card_spend,
        )?;
        let card_spend = card_spend
            .into_iter()
            .filter(|s| who.school_id.as_ref() == Some(&s.school_id))
            .collect();
        let requested = held.iter().filter(|p| requested_by(&who, &p.purchase)).cloned().collect();
        let school = school.map(|s| {
            let held = held
                .into_iter()
                .map(|p| p.purchase)
                .filter(|p| p.school_id == s.school_id)
                .collect();
            (s, held)
        });
        Ok(Some(Self { who, wishes, follow_ups, promises, school, requested, card_spend }))
    }

    /// The profile as of a moment.
    pub fn view(self, as_of: &AsOf) -> StakeholderView {
        let (now, today) = (as_of.now, as_of.today());
        let Self { who, wishes, follow_ups, promises, school, requested, card_spend } = self;
        let inputs = health_inputs(HealthDocs {
            stakeholder: &who,
            follow_ups: &follow_ups,
            wishes: &wishes,
            promises: &promises,
            school: school.as_ref().map(|(s, held)| (s, held.as_slice())),
            requested: &requested,
            card_spend: &card_spend,
        });
        let names: Names = [(who.stakeholder_id, who.name.clone())].into();
        let mut wishes: Vec<WishView> =
            wishes.into_iter().map(|w| wish_view(w, now, &names)).collect();
        sort_wishes(&mut wishes);
        let held_purchases = school.as_ref().map(|(_, held)| {
            let mut held: Vec<HeldPurchaseView> =
                held.iter().cloned().map(|p| held_purchase_view(p, now)).collect();
            held.sort_by_key(|p| (p.purchase.flagged_at, p.purchase.purchase_id));
            held
        });
        let mut requested_purchases: Vec<HeldPurchaseView> =
            requested.into_iter().map(|p| held_purchase_view(p.purchase, now)).collect();
        requested_purchases.sort_by_key(|p| (p.purchase.flagged_at, p.purchase.purchase_id));
        let joins = match school {
            Some((school, held)) => Joins::new(vec![school], held),
            None => Joins::default(),
        };
        StakeholderView {
            health: health(&inputs, as_of),
            follow_ups: follow_up_views(follow_ups, today, &names),
            promises: promise_views(promises, today, &joins),
            stakeholder_id: who.stakeholder_id,
            name: who.name,
            email: who.email,
            phone: who.phone,
            role: who.role,
            school_id: who.school_id,
            registered_at: who.registered_at,
            updated_at: who.updated_at,
            erased_at: who.erased_at,
            conversations: who.conversations,
            acknowledgements: who.acknowledgements,
            spoke_for_it: who.spoke_for_it,
            wishes,
            held_purchases,
            requested_purchases,
        }
    }
}

/// Which stakeholders a list shows; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct StakeholderFilter {
    pub role: Option<StakeholderRole>,
    /// People of this school.
    pub school_id: Option<SchoolId>,
}

/// The stakeholders `filter` lets through, by name, each with their health score as of a
/// moment.
pub async fn stakeholders(
    view: &View<'_>,
    filter: &StakeholderFilter,
    as_of: &AsOf,
) -> Result<Vec<StakeholderSummary>, ApiError> {
    let (people, wishes, follow_ups, promises, schools, held) = futures::try_join!(
        view.all::<Stakeholders>(),
        view.all::<Wishes>(),
        view.all::<FollowUps>(),
        view.all::<Promises>(),
        view.all::<Schools>(),
        view.all::<HeldPurchases>(),
    )?;
    let people: Vec<StakeholderDoc> = people
        .into_iter()
        .filter(|p| filter.role.is_none_or(|r| p.role == r))
        .filter(|p| filter.school_id.as_ref().is_none_or(|s| p.school_id.as_ref() == Some(s)))
        .collect();
    let all = Collections { wishes, follow_ups, promises, schools, held };
    let scores = health_scores(&people, all, as_of);
    let mut list: Vec<StakeholderSummary> = people
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
    list.sort_by(|a, b| {
        (a.name.as_str().to_lowercase(), a.stakeholder_id)
            .cmp(&(b.name.as_str().to_lowercase(), b.stakeholder_id))
    });
    Ok(list)
}

/// Who `people` (the register) has with `email`, ignoring case: the first registered. For an
/// address never claimed (its holder registered before addresses were claimed), the holder.
pub fn registered_with(people: Vec<StakeholderDoc>, email: &Email) -> Option<Uuid> {
    people
        .into_iter()
        .filter(|d| d.email.is(email))
        .min_by_key(|d| d.registered_at)
        .map(|d| d.stakeholder_id)
}

/// The conversation `conversation_id` of `who`, with its wish as of `now`; `None` if `who`
/// does not have it.
pub fn conversation_view(
    who: &StakeholderDoc,
    conversation_id: Uuid,
    wish: Option<WishDoc>,
    now: DateTime<Utc>,
) -> Option<ConversationView> {
    let conversation =
        who.conversations.iter().find(|c| c.conversation_id == conversation_id)?.clone();
    let names: Names = [(who.stakeholder_id, who.name.clone())].into();
    Some(ConversationView {
        stakeholder_id: who.stakeholder_id,
        conversation,
        wish: wish.map(|wish| wish_view(wish, now, &names)),
    })
}

/// The conversation `conversation_id` of the stakeholder `id`, with its wish `wish_id` (when
/// it recorded one) as of `now`; `None` unless all are in the read models.
pub async fn conversation(
    view: &View<'_>,
    id: Uuid,
    (conversation_id, wish_id): (Uuid, Option<Uuid>),
    now: DateTime<Utc>,
) -> Result<Option<ConversationView>, ApiError> {
    let who = view.one::<Stakeholders>(&id.to_string()).await?;
    let wish = match wish_id {
        Some(wish_id) => match view.one::<Wishes>(&wish_id.to_string()).await? {
            Some(wish) => Some(wish),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(who.and_then(|who| conversation_view(&who, conversation_id, wish, now)))
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::read_models::testing::*;

    /// Dana's or Sam's documents from the district's story.
    fn docs_of(id: Uuid) -> StakeholderDocs {
        let docs = district_docs();
        let who = doc::<Stakeholders>(&docs, id);
        let school = who.principal_of().map(|s| {
            let held = held_docs(&docs).into_iter().filter(|p| &p.school_id == s).collect();
            (doc::<Schools>(&docs, s.as_str()), held)
        });
        let promise_ids: Vec<Uuid> = who
            .promise_ids
            .iter()
            .chain(school.iter().flat_map(|(s, _)| &s.promise_ids))
            .copied()
            .collect();
        let requested = collection::<HeldPurchases>(&docs)
            .into_iter()
            .filter(|p| requested_by(&who, &p.purchase))
            .collect();
        let card_spend = collection::<CardSpends>(&docs)
            .into_iter()
            .filter(|s| who.school_id.as_ref() == Some(&s.school_id))
            .collect();
        StakeholderDocs {
            requested,
            card_spend,
            wishes: collection::<Wishes>(&docs)
                .into_iter()
                .filter(|w| who.wish_ids.contains(&w.wish_id))
                .collect(),
            follow_ups: collection::<FollowUps>(&docs)
                .into_iter()
                .filter(|f| who.followup_ids.contains(&f.followup_id))
                .collect(),
            promises: collection::<Promises>(&docs)
                .into_iter()
                .filter(|p| promise_ids.contains(&p.promise_id))
                .collect(),
            who,
            school,
        }
    }

    fn now() -> DateTime<Utc> {
        "2024-08-10T12:00:00Z".parse().unwrap()
    }

    fn as_of() -> AsOf {
        AsOf::new(
            now(),
            events::calendar::DistrictCalendar::default(),
            events::reminders::ContactSettings::default(),
        )
    }

    #[test]
    fn an_address_is_held_by_the_first_registered_with_it_ignoring_case() {
        let docs = district_docs();
        let person = |id: u128, email: &str, registered: &str| {
            let mut doc = doc::<Stakeholders>(&docs, DANA);
            doc.stakeholder_id = Uuid::from_u128(id);
            doc.email = Email::parse(email).unwrap();
            doc.registered_at = registered.parse().unwrap();
            doc
        };
        let people = vec![
            person(1, "pat@lincoln.example", "2024-08-03T00:00:00Z"),
            person(2, "Pat@Lincoln.example", "2024-08-01T00:00:00Z"),
            person(3, "sam@lincoln.example", "2024-07-01T00:00:00Z"),
        ];
        let pat = Email::parse("PAT@lincoln.example").unwrap();
        assert_eq!(registered_with(people.clone(), &pat), Some(Uuid::from_u128(2)));
        let nobody = Email::parse("kim@lincoln.example").unwrap();
        assert_eq!(registered_with(people, &nobody), None);
    }

    #[test]
    fn a_principals_profile_has_their_schools_promises_and_held_purchases() {
        let view = docs_of(DANA).view(&as_of());
        assert_eq!(view.health.score, 47, "as health_from_the_read_models scores it");
        assert_eq!(view.promises.len(), 4, "hers, the school's and both standing promises");
        assert_eq!(view.follow_ups.len(), 2);
        assert_eq!(view.wishes.len(), 1);
        let held = view.held_purchases.unwrap();
        let ids: Vec<_> = held.iter().map(|p| p.purchase.purchase_id).collect();
        assert_eq!(ids, [CANCELLED, APPROVED_AFTER_HOLD, WAITING, LATER], "in the order held");
        assert_eq!(held[0].hours_to_answer, Some(2.0));
        assert!(held[1].hours_to_answer.unwrap() > 30.0);
        let waiting = &held[2];
        assert_eq!(waiting.answered_at, None);
        let waited = now() - waiting.purchase.flagged_at.unwrap();
        assert_eq!(
            waiting.hours_to_answer,
            Some((waited.num_minutes() as f64 / 6.0).round() / 10.0)
        );
    }

    #[test]
    fn a_teachers_profile_has_no_school_figures() {
        let view = docs_of(SAM).view(&as_of());
        assert!(view.held_purchases.is_none());
        assert_eq!(view.promises.len(), 1);
        assert_eq!(view.health.score, 97, "contact decay alone");
    }

    #[test]
    fn anyone_with_a_school_sees_its_unchecked_card_spend() {
        // Lincoln's: the transaction no check covered, not the matched one, the credit or
        // paper, nor Washington High's.
        for who in [DANA, SAM] {
            let spend = docs_of(who).view(&as_of()).health.unchecked_card_spend.unwrap();
            assert_eq!(spend.school_id, lincoln());
            assert_eq!(spend.since, day("2023-08-11"));
            assert_eq!(spend.transactions, 1);
            let totals: Vec<_> = spend
                .by_currency
                .iter()
                .map(|c| (c.currency.as_str(), c.transactions, c.total.as_str()))
                .collect();
            assert_eq!(totals, [("USD", 1, "1299.99")]);
        }
        // A year later it has left the window.
        let later = AsOf { now: now() + chrono::TimeDelta::days(366), ..as_of() };
        let spend = docs_of(DANA).view(&later).health.unchecked_card_spend.unwrap();
        assert_eq!((spend.transactions, spend.by_currency.len()), (0, 0));
    }

    #[test]
    fn a_conversation_with_its_wish() {
        let docs = district_docs();
        let dana = doc::<Stakeholders>(&docs, DANA);
        let wish = doc::<Wishes>(&docs, WISH_DANA);
        let held = dana.conversations[0].conversation_id;
        let view = conversation_view(&dana, held, Some(wish.clone()), now()).unwrap();
        let made = view.wish.unwrap();
        assert_eq!((view.stakeholder_id, made.wish.wish_id), (DANA, WISH_DANA));
        assert_eq!(made.stakeholder_name, Some(dana.name.clone()));
        let later = now() + TimeDelta::days(1);
        assert!(conversation_view(&dana, Uuid::nil(), Some(wish), later).is_none());
    }
}
