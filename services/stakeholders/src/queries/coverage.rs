//! The meeting plan's coverage (`GET /v1/reports/coverage`): for each school, whether IT has
//! met its principal, when, and whether on the principal's own turf; and the work days (business
//! days of the district's calendar) the round of first meetings has taken, from the first to
//! the latest. The seed's CTO met every principal, on their turf, 30 meetings in 30 work days.

use chrono::{DateTime, NaiveDate, Utc};
use events::calendar::DistrictCalendar;
use events::rules::is_past_due;
use events::stakeholders::{ConversationHeld, StakeholderRole};
use events::values::{SchoolId, ShortText};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::read_models::{RoundDoc, SchoolDoc, StakeholderDoc, school_principal};

/// One school in the meeting plan.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CoverageRow {
    pub school_id: SchoolId,
    pub school_name: ShortText,
    /// Its principal (the first registered, when there are several); `null` when none is.
    pub principal_id: Option<Uuid>,
    pub principal_name: Option<ShortText>,
    /// Whether IT has held a conversation with the principal.
    pub met: bool,
    /// When the first one was held.
    pub first_met_at: Option<DateTime<Utc>>,
    /// Where.
    pub location: Option<ShortText>,
    /// Whether the first meeting was on the principal's own turf.
    pub on_their_turf: bool,
    /// Which work day of the round it fell on (1: the round's first), in the district's
    /// calendar.
    pub work_day: Option<u32>,
    /// Conversations held with the principal in all.
    pub conversations: u32,
}

/// The meeting plan's coverage.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CoverageReport {
    pub as_of: DateTime<Utc>,
    /// Schools in the district.
    pub schools: u32,
    /// Schools whose principal IT has met.
    pub met: u32,
    /// Of those, met on the principal's own turf the first time.
    pub met_on_their_turf: u32,
    /// The day of the round's first meeting, in the district's time zone.
    pub started_on: Option<NaiveDate>,
    /// The day of its latest first meeting.
    pub latest_on: Option<NaiveDate>,
    /// Work days from the first to the latest first meeting, both counted (closures and
    /// non-working days are not).
    pub work_days: u32,
    /// Every school, those whose principal IT has not met first (by name), then by when they
    /// were met.
    pub rows: Vec<CoverageRow>,
}

fn first_meeting(person: &StakeholderDoc) -> Option<&ConversationHeld> {
    person.conversations.iter().min_by_key(|c| c.held_at)
}

/// The coverage of `schools` by conversations with their principals among `people`.
pub fn coverage(
    schools: &[SchoolDoc],
    people: &[StakeholderDoc],
    calendar: &DistrictCalendar,
    now: DateTime<Utc>,
) -> CoverageReport {
    let firsts: Vec<DateTime<Utc>> = schools
        .iter()
        .filter_map(|s| {
            school_principal(people, &s.school_id).and_then(first_meeting).map(|c| c.held_at)
        })
        .collect();
    let started_on = firsts.iter().min().map(|t| calendar.today(*t));
    let latest_on = firsts.iter().max().map(|t| calendar.today(*t));
    let mut rows: Vec<CoverageRow> = schools
        .iter()
        .map(|school| {
            let principal = school_principal(people, &school.school_id);
            let first = principal.and_then(first_meeting);
            CoverageRow {
                school_id: school.school_id.clone(),
                school_name: school.name.clone(),
                principal_id: principal.map(|p| p.stakeholder_id),
                principal_name: principal.map(|p| p.name.clone()),
                met: first.is_some(),
                first_met_at: first.map(|c| c.held_at),
                location: first.map(|c| c.location.clone()),
                on_their_turf: first.is_some_and(|c| c.on_their_turf),
                work_day: first.zip(started_on).map(|(c, start)| {
                    calendar.business_days_from(start, calendar.today(c.held_at)).max(1)
                }),
                conversations: principal.map_or(0, |p| p.conversations.len() as u32),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.met, a.first_met_at, a.school_name.as_str().to_lowercase()).cmp(&(
            b.met,
            b.first_met_at,
            b.school_name.as_str().to_lowercase(),
        ))
    });
    CoverageReport {
        as_of: now,
        schools: rows.len() as u32,
        met: rows.iter().filter(|r| r.met).count() as u32,
        met_on_their_turf: rows.iter().filter(|r| r.on_their_turf).count() as u32,
        started_on,
        latest_on,
        work_days: started_on.zip(latest_on).map_or(0, |(a, b)| calendar.business_days_from(a, b)),
        rows,
    }
}

/// One person of a round of meetings.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RoundRow {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub role: StakeholderRole,
    pub school_id: Option<SchoolId>,
    /// Whether IT has held a conversation with them since the round started.
    pub met: bool,
    /// When the first of those was held.
    pub met_at: Option<DateTime<Utc>>,
    pub location: Option<ShortText>,
    /// Whether it was on their own turf.
    pub on_their_turf: bool,
    /// Which work day of the round it fell on (1: its first day).
    pub work_day: Option<u32>,
}

/// A round of meetings and its coverage.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RoundView {
    pub round_id: Uuid,
    pub name: ShortText,
    pub starts_on: NaiveDate,
    /// Its last work day.
    pub due_on: NaiveDate,
    /// The work days it was given.
    pub work_days: u32,
    pub planned_at: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    /// People to meet, and how many are met (on their own turf).
    pub people: u32,
    pub met: u32,
    pub met_on_their_turf: u32,
    /// Work days the round has taken: to its last meeting once everyone is met, else to today
    /// (0 before it starts).
    pub work_days_taken: u32,
    /// Everyone met.
    pub complete: bool,
    /// Past its last work day with someone not met.
    pub overdue: bool,
    /// Everyone in the round: those not met first (in the round's order), then by when met.
    pub rows: Vec<RoundRow>,
}

/// The coverage of `round` by the conversations of `people` (the round's people missing from
/// them, erased or unknown, are left out).
pub fn round_coverage(
    round: &RoundDoc,
    people: &[StakeholderDoc],
    calendar: &DistrictCalendar,
    now: DateTime<Utc>,
) -> RoundView {
    let planned = &round.planned;
    let start = planned.starts_on;
    let mut rows: Vec<(usize, RoundRow)> = planned
        .stakeholder_ids
        .iter()
        .enumerate()
        .filter_map(|(order, id)| {
            let person = people.iter().find(|p| p.stakeholder_id == *id)?;
            let first = person
                .conversations
                .iter()
                .filter(|c| calendar.today(c.held_at) >= start)
                .min_by_key(|c| c.held_at);
            let row = RoundRow {
                stakeholder_id: *id,
                name: person.name.clone(),
                role: person.role,
                school_id: person.school_id.clone(),
                met: first.is_some(),
                met_at: first.map(|c| c.held_at),
                location: first.map(|c| c.location.clone()),
                on_their_turf: first.is_some_and(|c| c.on_their_turf),
                work_day: first
                    .map(|c| calendar.business_days_from(start, calendar.today(c.held_at)).max(1)),
            };
            Some((order, row))
        })
        .collect();
    rows.sort_by_key(|(order, r)| (r.met, r.met_at, *order));
    let rows: Vec<RoundRow> = rows.into_iter().map(|(_, r)| r).collect();
    let today = calendar.today(now);
    let complete = !rows.is_empty() && rows.iter().all(|r| r.met);
    let last = rows.iter().filter_map(|r| r.met_at).max().map(|t| calendar.today(t));
    let until = if complete { last.unwrap_or(today) } else { today };
    RoundView {
        round_id: planned.round_id,
        name: planned.name.clone(),
        starts_on: start,
        due_on: planned.due_on,
        work_days: planned.work_days,
        planned_at: round.planned_at,
        as_of: now,
        people: rows.len() as u32,
        met: rows.iter().filter(|r| r.met).count() as u32,
        met_on_their_turf: rows.iter().filter(|r| r.on_their_turf).count() as u32,
        work_days_taken: if until < start { 0 } else { calendar.business_days_from(start, until) },
        complete,
        overdue: !complete && is_past_due(planned.due_on, today),
        rows,
    }
}

/// Every round of `rounds` with its coverage ([`round_coverage`]), the newest planned first.
pub fn rounds_coverage(
    rounds: &[RoundDoc],
    people: &[StakeholderDoc],
    calendar: &DistrictCalendar,
    now: DateTime<Utc>,
) -> Vec<RoundView> {
    let mut views: Vec<RoundView> =
        rounds.iter().map(|round| round_coverage(round, people, calendar, now)).collect();
    views.sort_by_key(|r| std::cmp::Reverse((r.planned_at, r.round_id)));
    views
}

/// Whom a round is to meet, each with whether `people` (the register) has them: those
/// `requested`, or by default every principal registered, by school and then by when they
/// were registered.
pub fn round_invitees(requested: Option<&[Uuid]>, people: &[StakeholderDoc]) -> Vec<(Uuid, bool)> {
    match requested {
        Some(ids) => {
            ids.iter().map(|id| (*id, people.iter().any(|p| p.stakeholder_id == *id))).collect()
        }
        None => {
            let mut principals: Vec<_> =
                people.iter().filter(|p| p.role == StakeholderRole::Principal).collect();
            principals.sort_by_key(|p| (p.school_id.clone(), p.registered_at));
            principals.iter().map(|p| (p.stakeholder_id, true)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_models::Stakeholders;
    use crate::read_models::testing::*;

    /// A person of the district's story, as `role` at `school`, registered at `registered`.
    fn person(
        id: u128,
        role: StakeholderRole,
        school: Option<SchoolId>,
        registered: &str,
    ) -> StakeholderDoc {
        let mut doc = doc::<Stakeholders>(&district_docs(), DANA);
        doc.stakeholder_id = Uuid::from_u128(id);
        doc.role = role;
        doc.school_id = school;
        doc.registered_at = registered.parse().unwrap();
        doc
    }

    fn register() -> Vec<StakeholderDoc> {
        use StakeholderRole::{Principal, Teacher};
        vec![
            person(1, Principal, Some(washington()), "2024-08-01T00:00:00Z"),
            person(2, Teacher, Some(lincoln()), "2024-08-01T00:00:00Z"),
            person(3, Principal, Some(lincoln()), "2024-08-03T00:00:00Z"),
            person(4, Principal, Some(lincoln()), "2024-08-02T00:00:00Z"),
        ]
    }

    #[test]
    fn a_round_meets_every_principal_by_school_then_registration_unless_told_whom() {
        let ids = |ns: &[u128]| ns.iter().map(|n| (Uuid::from_u128(*n), true)).collect::<Vec<_>>();
        assert_eq!(round_invitees(None, &register()), ids(&[4, 3, 1]));
        let asked = [Uuid::from_u128(2), Uuid::from_u128(9), Uuid::from_u128(2)];
        assert_eq!(
            round_invitees(Some(&asked), &register()),
            vec![(asked[0], true), (asked[1], false), (asked[2], true)]
        );
        assert_eq!(round_invitees(None, &[]), vec![]);
    }

    #[test]
    fn rounds_are_listed_newest_first() {
        let people = collection::<Stakeholders>(&district_docs());
        let round = |id: u128, planned_at: &str| RoundDoc {
            planned: events::rounds::RoundPlanned {
                round_id: Uuid::from_u128(id),
                name: short("Every principal"),
                stakeholder_ids: vec![DANA],
                starts_on: day("2024-09-02"),
                work_days: 30,
                due_on: day("2024-10-11"),
            },
            planned_at: planned_at.parse().unwrap(),
        };
        let rounds = [
            round(1, "2024-09-01T00:00:00Z"),
            round(2, "2024-09-03T00:00:00Z"),
            round(3, "2024-09-01T00:00:00Z"),
        ];
        let listed =
            rounds_coverage(&rounds, &people, &DistrictCalendar::default(), kernel::testing::t0());
        let order: Vec<u128> = listed.iter().map(|r| r.round_id.as_u128()).collect();
        assert_eq!(order, vec![2, 3, 1]);
    }
}
