use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use eventlog::{Actor, DocKey, Metadata, RecordedEvent};
use events::calendar::{BusinessHours, ClockTime, DistrictCalendar, TimeZoneName, Weekday};
use events::district::{ClosureAdded, District, DistrictEvent, DistrictSet};
use kernel::ReadModel;

use super::{ADVISORY_BY_DAY, ADVISORY_FIGURES, HELD, HELD_FIGURES, HeldDoc, Purchases};
use crate::reports::ReportPeriod;
use crate::reports::rogue_spend::DaySpend;
use crate::reports::rollup::{self, Rollup};
use events::gate::{
    AlternativeProposed, CallLogged, Decision, PurchaseCancelled, PurchaseDecided, PurchaseEvent,
    PurchaseSubmitted, purchase_stream,
};
use events::values::{ExternalRef, LongText, Money, SchoolId, ShortText};
use uuid::Uuid;

/// 2024-09-02T09:00:00Z plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_725_267_600, 0).unwrap() + TimeDelta::minutes(minutes)
}

pub fn long(s: &str) -> LongText {
    LongText::parse(s).unwrap()
}

pub fn submitted(id: Uuid) -> PurchaseEvent {
    let laptop = events::testing::gaming_laptop(id);
    PurchaseSubmitted { external_ref: ExternalRef::parse("REQ-1").unwrap(), ..laptop }.into()
}

pub fn held() -> PurchaseEvent {
    PurchaseDecided {
        decision: Decision::Held,
        reasons: vec![],
        policy_version: 4,
        school_gated: true,
    }
    .into()
}

/// A call that reached the requester, took place `minutes` after t0, with or without the
/// goal.
pub fn reached(minutes: i64, goal: bool) -> PurchaseEvent {
    CallLogged {
        call_id: Uuid::from_u128(minutes.unsigned_abs().into()),
        requester_reached: true,
        goal: goal.then(|| long("Laptops for the robotics club")),
        notes: None,
        occurred_at: at(minutes),
        spoke_with: None,
    }
    .into()
}

pub fn alternative() -> PurchaseEvent {
    AlternativeProposed {
        alternative_id: Uuid::from_u128(7),
        description: long("The standard model"),
        lines: vec![],
        call_id: None,
        assessment: None,
        occurred_at: None,
    }
    .into()
}

pub fn cancelled() -> PurchaseEvent {
    PurchaseCancelled { reason: long("Not needed"), occurred_at: None }.into()
}

pub fn approved() -> PurchaseEvent {
    events::gate::PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into()
}

/// [`submitted`] at another school.
pub fn submitted_at(id: Uuid, school: &str) -> PurchaseEvent {
    match submitted(id) {
        PurchaseEvent::Submitted(mut s) => {
            s.school_id = SchoolId::parse(school).unwrap();
            s.into()
        }
        _ => unreachable!("submitted() is a submission"),
    }
}

/// The scope a property test asks for: from `from` days after t0 (open without), for
/// `length` days more (open without), in `calendar`, with Adams named.
pub fn generated_scope(
    from: Option<i64>,
    length: Option<i64>,
    calendar: DistrictCalendar,
) -> crate::reports::Scope {
    let t0 = at(0).date_naive();
    let from = from.map(|d| t0 + TimeDelta::days(d));
    let to = from.zip(length).map(|(f, l)| f + TimeDelta::days(l));
    crate::reports::Scope {
        period: crate::reports::ReportPeriod::between(from, to),
        calendar,
        names: [("adams", "Adams")].into(),
    }
}

/// A district working around the clock, every day, in UTC: business time is wall time.
pub fn always_settings() -> Vec<DistrictEvent> {
    let hours = BusinessHours::new(
        ClockTime::parse("00:00").unwrap(),
        ClockTime::END_OF_DAY,
        Weekday::ALL.to_vec(),
    )
    .unwrap();
    vec![settings("UTC", hours)]
}

/// Chicago, 08:00 to 16:30 on weekdays, closed on Labor Day (Monday 2024-09-02).
pub fn chicago_settings_with_labor_day() -> Vec<DistrictEvent> {
    let hours = BusinessHours::new(
        ClockTime::parse("08:00").unwrap(),
        ClockTime::parse("16:30").unwrap(),
        Weekday::ALL[..5].to_vec(),
    )
    .unwrap();
    let labor_day = ClosureAdded {
        date: "2024-09-02".parse().unwrap(),
        reason: ShortText::parse("Labor Day").unwrap(),
    };
    vec![settings("America/Chicago", hours), labor_day.into()]
}

/// 08:00 to 16:30 on weekdays in `zone` (`Pacific/Kiritimati`, say: 14 hours ahead of UTC).
pub fn office_settings(zone: &str) -> Vec<DistrictEvent> {
    let hours = BusinessHours::new(
        ClockTime::parse("08:00").unwrap(),
        ClockTime::parse("16:30").unwrap(),
        Weekday::ALL[..5].to_vec(),
    )
    .unwrap();
    vec![settings(zone, hours)]
}

fn settings(zone: &str, business_hours: BusinessHours) -> DistrictEvent {
    DistrictSet {
        name: ShortText::parse("Springfield").unwrap(),
        time_zone: TimeZoneName::parse(zone).unwrap(),
        business_hours,
        school_year_starts_in: None,
    }
    .into()
}

/// The calendar `settings` make.
pub fn calendar_of(settings: &[DistrictEvent]) -> DistrictCalendar {
    let mut district = District::default();
    settings.iter().zip(1..).for_each(|(e, v)| district.apply(e, v, at(0)));
    district.calendar
}

/// `settings` as the `district-settings` stream, recorded 60 days before t0, from global
/// position `first_position` on.
pub fn district_log(first_position: u64, settings: Vec<DistrictEvent>) -> Vec<RecordedEvent> {
    settings
        .iter()
        .zip(0u64..)
        .map(|(e, i)| RecordedEvent {
            position: first_position + i,
            id: Uuid::now_v7(),
            stream: "district-settings".into(),
            version: i + 1,
            event_type: e.event_type().into(),
            data: e.to_data(),
            metadata: Metadata::new(Actor::new("admin", "admin"), "gate"),
            recorded_at: at(-60 * 24),
            hash: String::new(),
        })
        .collect()
}

/// Every document the purchase projection keeps after `events`, one batch per event.
fn projected(events: &[RecordedEvent]) -> BTreeMap<DocKey, serde_json::Value> {
    kernel::testing::project(&*Purchases::default().into_projection(), events)
}

/// The held purchases' documents after `events`, by purchase id.
pub fn held_documents(events: &[RecordedEvent]) -> BTreeMap<String, HeldDoc> {
    projected(events)
        .into_iter()
        .filter(|(k, _)| k.collection == HELD)
        .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
        .collect()
}

/// The held purchases' rollup partitions after `events` that `period` needs, read as the
/// reports read them (whole months by month, the rest by day).
pub fn held_partitions<E: serde::de::DeserializeOwned>(
    events: &[RecordedEvent],
    period: &ReportPeriod,
) -> Vec<Rollup<E>> {
    rollup::read_in_memory(&projected(events), HELD_FIGURES, period)
}

/// `(event, minutes after t0 it was recorded)` pairs as the purchase `id`'s stream, from
/// global position `first_position` on.
pub fn recorded(
    id: Uuid,
    first_position: u64,
    events: &[(PurchaseEvent, i64)],
) -> Vec<RecordedEvent> {
    events
        .iter()
        .zip(0u64..)
        .map(|((event, minutes), i)| RecordedEvent {
            position: first_position + i,
            id: Uuid::now_v7(),
            stream: purchase_stream(id),
            version: i + 1,
            event_type: event.event_type().into(),
            data: event.to_data(),
            metadata: Metadata::new(Actor::new("jdoe", "it_staff"), "gate"),
            recorded_at: at(*minutes),
            hash: String::new(),
        })
        .collect()
}

/// Targets: first contact in 60 business minutes, a decision in 480, advisory outreach in
/// 240, a warning at half; the same for every payment method.
pub fn sla_targets() -> DistrictEvent {
    events::testing::sla_targets().into()
}

/// The gate's `advisory` decision: IT reaches out, finance does not wait.
pub fn advisory() -> PurchaseEvent {
    PurchaseDecided {
        decision: Decision::Advisory,
        reasons: vec![],
        policy_version: 4,
        school_gated: false,
    }
    .into()
}

/// A call that did not reach the requester, took place `minutes` after t0.
pub fn unreached(minutes: i64) -> PurchaseEvent {
    CallLogged {
        call_id: Uuid::from_u128(1_000_000 + u128::from(minutes.unsigned_abs())),
        requester_reached: false,
        goal: None,
        notes: None,
        occurred_at: at(minutes),
        spoke_with: None,
    }
    .into()
}

/// An event of `stream` recorded at `recorded_at`; its position and version are set by
/// [`in_log_order`].
pub fn event_at(
    stream: String,
    event_type: &str,
    data: serde_json::Value,
    recorded_at: DateTime<Utc>,
) -> RecordedEvent {
    RecordedEvent {
        position: 0,
        id: Uuid::now_v7(),
        stream,
        version: 0,
        event_type: event_type.into(),
        data,
        metadata: Metadata::new(Actor::new("jdoe", "it_staff"), "stakeholders"),
        recorded_at,
        hash: String::new(),
    }
}

/// `events` (of any streams) as the log records them: in the order they were recorded (a
/// stable sort: events recorded at the same time keep their order), at positions from 1,
/// each stream's versions from 1.
pub fn in_log_order(mut events: Vec<RecordedEvent>) -> Vec<RecordedEvent> {
    events.sort_by_key(|e| e.recorded_at);
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for (event, position) in events.iter_mut().zip(1..) {
        event.position = position;
        let version = versions.entry(event.stream.clone()).or_default();
        *version += 1;
        event.version = *version;
    }
    events
}

/// [`submitted`] at `school`, from `vendor` (as spelled), for a total of `cents`.
pub fn submitted_from(id: Uuid, school: &str, vendor: &str, cents: i64) -> PurchaseEvent {
    match submitted_at(id, school) {
        PurchaseEvent::Submitted(mut s) => {
            s.vendor = ShortText::parse(vendor).unwrap();
            s.total = Money::from_cents(cents).unwrap();
            s.into()
        }
        _ => unreachable!("submitted_at() is a submission"),
    }
}

/// The advisory purchases' rollup partitions after `events` that `period` needs, the months
/// of `split` read by day, as the rogue-spend report reads them.
pub fn advisory_rollups(
    events: &[RecordedEvent],
    period: &ReportPeriod,
    split: &std::collections::BTreeSet<chrono::NaiveDate>,
) -> Vec<Rollup<DaySpend>> {
    rollup::read_splitting_in_memory(&projected(events), ADVISORY_FIGURES, period, split)
}

/// The advisory purchases' day partitions after `events`, by partition key.
pub fn advisory_partitions(events: &[RecordedEvent]) -> Vec<(String, Rollup<DaySpend>)> {
    projected(events)
        .into_iter()
        .filter(|(k, _)| k.collection == ADVISORY_BY_DAY)
        .map(|(k, v)| (k.key, serde_json::from_value(v).unwrap()))
        .collect()
}
