//! The district: its name, its calendar (time zone, business hours, closures) and the targets
//! of the clocks on flagged purchases, all in one stream, `district-settings`
//! ([`DISTRICT_STREAM`]), written by the gate.
//!
//! The stream's version names one exact state of the district, as `standards-district`'s does
//! for the standards: a clock event records the version it was judged against.
//!
//! | event | what |
//! |---|---|
//! | `district-set` | name, time zone and business hours, replacing the previous ones |
//! | `closure-added` | the district is closed on a date (a holiday, a snow day), with the reason; also for a date already past, or today |
//! | `closure-removed` | the district is open again on a date |
//! | `sla-targets-set` | the clocks' targets, replacing the previous ones (see [`SlaTargets`]) |
//!
//! [`District`] folds the stream: the [`DistrictCalendar`] now in force, and every set of
//! targets with the time it took effect (a clock keeps the targets in force when it started).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::{BusinessHours, DistrictCalendar, TimeZoneName};
use crate::school_year::{SchoolYear, StartMonth};
use crate::values::{Email, PaymentMethod, ShortText, ValueError, int_value};

/// The category of the district stream.
pub const DISTRICT_CATEGORY: &str = "district";
/// The one stream holding the district's settings.
pub const DISTRICT_STREAM: &str = "district-settings";

// ---------------------------------------------------------------------------------------------
// Events

/// The district's name, time zone and business hours were set (replacing the previous ones;
/// closures stay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DistrictSet {
    pub name: ShortText,
    pub time_zone: TimeZoneName,
    pub business_hours: BusinessHours,
    /// The month the school year starts in (the reports' `?school_year=`); July when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_year_starts_in: Option<StartMonth>,
}

/// The district is closed on `date` (a local date): a holiday, a snow day. Added again for a
/// date already closed, it replaces the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClosureAdded {
    pub date: NaiveDate,
    pub reason: ShortText,
}

/// The district is open again on `date`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClosureRemoved {
    pub date: NaiveDate,
}

/// A number of business minutes for a clock's target: a whole number from 1 to
/// [`BusinessMinutes::MAX`] (100,000, about 208 days of eight business hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BusinessMinutes(u32);

impl BusinessMinutes {
    pub const MAX: u32 = 100_000;

    pub fn new(minutes: u32) -> Result<Self, ValueError> {
        if (1..=Self::MAX).contains(&minutes) {
            Ok(Self(minutes))
        } else {
            Err(ValueError::new(
                "business minutes",
                format!(
                    "a target must be a whole number of business minutes from 1 to {}; found {minutes}",
                    Self::MAX
                ),
            ))
        }
    }
}

int_value!(
    BusinessMinutes(u32),
    1,
    BusinessMinutes::MAX,
    "Business minutes: a whole number from 1 to 100000.",
    240
);

/// Targets that differ for one payment method; what is absent is the default's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TargetOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_contact_minutes: Option<BusinessMinutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_minutes: Option<BusinessMinutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory_outreach_minutes: Option<BusinessMinutes>,
}

/// Targets by payment method: a card purchase at the till needs a faster answer than a
/// purchase order. A method that is absent has the default targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ByPaymentMethod {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_order: Option<TargetOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_card: Option<TargetOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reimbursement: Option<TargetOverride>,
}

impl ByPaymentMethod {
    pub fn get(&self, method: PaymentMethod) -> Option<&TargetOverride> {
        match method {
            PaymentMethod::PurchaseOrder => self.purchase_order.as_ref(),
            PaymentMethod::PCard => self.p_card.as_ref(),
            PaymentMethod::Reimbursement => self.reimbursement.as_ref(),
        }
    }
}

/// The clocks' targets, in business minutes, replacing the previous ones. A clock keeps the
/// targets in force when it started.
///
/// - `first_contact_minutes`: a held purchase's first call with the requester;
/// - `decision_minutes`: a held purchase approved or cancelled;
/// - `advisory_outreach_minutes`: an advisory purchase's first call (IT reaching out);
/// - `warn_at_percent`: a warning when a clock has used this share of its target (1 to 99;
///   stored sorted, without repeats);
/// - `escalate_to`: who is told when a clock breaches (no escalation when absent);
/// - `by_payment_method`: other targets for some payment methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlaTargetsSet {
    pub first_contact_minutes: BusinessMinutes,
    pub decision_minutes: BusinessMinutes,
    pub advisory_outreach_minutes: BusinessMinutes,
    #[serde(default)]
    #[schema(value_type = Vec<u8>, example = json!([50, 75]))]
    pub warn_at_percent: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<Email>,
    #[serde(default)]
    pub by_payment_method: ByPaymentMethod,
}

/// The clocks' targets: the data of the last `sla-targets-set`.
pub type SlaTargets = SlaTargetsSet;

/// The targets of one purchase's clocks, its payment method applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub first_contact: BusinessMinutes,
    pub decision: BusinessMinutes,
    pub advisory_outreach: BusinessMinutes,
}

impl SlaTargetsSet {
    /// The most warning thresholds.
    pub const MAX_WARNINGS: usize = 10;

    /// Checks a percentage list: each from 1 to 99, at most [`Self::MAX_WARNINGS`]; returns it
    /// sorted without repeats.
    pub fn warnings(mut percents: Vec<u8>) -> Result<Vec<u8>, ValueError> {
        if let Some(bad) = percents.iter().find(|p| !(1..=99).contains(*p)) {
            return Err(ValueError::new(
                "percentage",
                format!("a warning is at a percentage of the target from 1 to 99; found {bad}"),
            ));
        }
        percents.sort_unstable();
        percents.dedup();
        if percents.len() > Self::MAX_WARNINGS {
            return Err(ValueError::new(
                "percentage",
                format!("at most {} warnings", Self::MAX_WARNINGS),
            ));
        }
        Ok(percents)
    }

    /// The targets for a purchase paid by `method`.
    pub fn for_payment(&self, method: PaymentMethod) -> Targets {
        let over = self.by_payment_method.get(method).cloned().unwrap_or_default();
        Targets {
            first_contact: over.first_contact_minutes.unwrap_or(self.first_contact_minutes),
            decision: over.decision_minutes.unwrap_or(self.decision_minutes),
            advisory_outreach: over
                .advisory_outreach_minutes
                .unwrap_or(self.advisory_outreach_minutes),
        }
    }
}

event_family! {
    /// The events of the `district-settings` stream.
    pub enum DistrictEvent in "district" {
        /// `district-set`
        DistrictSet(DistrictSet) = "district-set",
        /// `closure-added`
        ClosureAdded(ClosureAdded) = "closure-added",
        /// `closure-removed`
        ClosureRemoved(ClosureRemoved) = "closure-removed",
        /// `sla-targets-set`
        SlaTargetsSet(SlaTargetsSet) = "sla-targets-set",
    }
}

// ---------------------------------------------------------------------------------------------
// The fold

/// The district as of [`version`](District::version) of its stream: a pure fold.
///
/// Before any event: no name, the default calendar ([`DistrictCalendar::default`]: UTC,
/// 09:00–17:00 on weekdays) and no targets, so no clocks run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct District {
    pub name: Option<ShortText>,
    pub calendar: DistrictCalendar,
    /// The month its school year starts in.
    pub school_year_starts_in: StartMonth,
    /// Every set of targets with the time the log recorded it, oldest first.
    targets: Vec<(DateTime<Utc>, SlaTargets)>,
    /// The version of `district-settings` applied (0: no events).
    pub version: u64,
}

/// The targets a clock runs against, and when it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockTerms<'a> {
    /// When the clock starts: the flag, or, for a purchase flagged before the district had any
    /// targets, when the first targets were set.
    pub starts_at: DateTime<Utc>,
    pub targets: &'a SlaTargets,
}

impl District {
    /// The district after `events` (each with its version and recorded time), in stream order.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = (&'a DistrictEvent, u64, DateTime<Utc>)>,
    ) -> Self {
        let mut district = Self::default();
        for (event, version, at) in events {
            district.apply(event, version, at);
        }
        district
    }

    /// Folds in the event recorded at `version`, at `recorded_at`.
    pub fn apply(&mut self, event: &DistrictEvent, version: u64, recorded_at: DateTime<Utc>) {
        match event {
            DistrictEvent::DistrictSet(e) => {
                self.name = Some(e.name.clone());
                self.calendar.set(e.time_zone.clone(), e.business_hours.clone());
                self.school_year_starts_in = e.school_year_starts_in.unwrap_or_default();
            }
            DistrictEvent::ClosureAdded(e) => self.calendar.close(e.date, e.reason.clone()),
            DistrictEvent::ClosureRemoved(e) => {
                self.calendar.reopen(e.date);
            }
            DistrictEvent::SlaTargetsSet(t) => self.targets.push((recorded_at, t.clone())),
        }
        self.version = version;
    }

    /// The school year `day` (a district date) falls in.
    pub fn school_year(&self, day: NaiveDate) -> SchoolYear {
        SchoolYear::containing(day, self.school_year_starts_in)
    }

    /// The targets in force now, if any were set.
    pub fn targets(&self) -> Option<&SlaTargets> {
        self.targets.last().map(|(_, t)| t)
    }

    /// The terms of a clock on a purchase flagged at `flagged_at` (when it was requested,
    /// [`crate::clocks::took_place_at`]) whose flag the log recorded at `recorded_at` (the same
    /// instant, but for a purchase entered after the fact): the targets in force at the flag,
    /// from the flag; for a purchase requested before any targets but entered while some were
    /// in force, those, from the flag (it is judged by the targets the district had when it
    /// entered it); for a purchase flagged before any targets, the first targets, from when
    /// they were set. `None` while the district has no targets.
    pub fn clock_terms(
        &self,
        flagged_at: DateTime<Utc>,
        recorded_at: DateTime<Utc>,
    ) -> Option<ClockTerms<'_>> {
        let in_force =
            |at: DateTime<Utc>| self.targets.iter().rev().find(|(since, _)| *since <= at);
        match in_force(flagged_at).or_else(|| in_force(recorded_at)) {
            Some((_, targets)) => Some(ClockTerms { starts_at: flagged_at, targets }),
            None => self
                .targets
                .first()
                .map(|(since, targets)| ClockTerms { starts_at: *since, targets }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::{ClockTime, Weekday};
    use chrono::TimeDelta;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn minutes(n: u32) -> BusinessMinutes {
        BusinessMinutes::new(n).unwrap()
    }

    /// First contact in `first_contact` business minutes (30 for a card purchase), decision 960,
    /// outreach 480; warnings at 50 and 75%; breaches escalated to the CTO.
    pub(crate) fn targets(first_contact: u32) -> SlaTargets {
        SlaTargets {
            first_contact_minutes: minutes(first_contact),
            decision_minutes: minutes(960),
            advisory_outreach_minutes: minutes(480),
            warn_at_percent: vec![50, 75],
            escalate_to: Some(Email::parse("cto@district.org").unwrap()),
            by_payment_method: ByPaymentMethod {
                p_card: Some(TargetOverride {
                    first_contact_minutes: Some(minutes(30)),
                    ..TargetOverride::default()
                }),
                ..ByPaymentMethod::default()
            },
        }
    }

    fn events() -> Vec<DistrictEvent> {
        vec![
            DistrictSet {
                name: ShortText::parse("Springfield Public Schools").unwrap(),
                time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
                business_hours: BusinessHours::new(
                    ClockTime::parse("07:30").unwrap(),
                    ClockTime::parse("16:30").unwrap(),
                    Weekday::ALL[..5].to_vec(),
                )
                .unwrap(),
                school_year_starts_in: None,
            }
            .into(),
            ClosureAdded {
                date: "2024-09-02".parse().unwrap(),
                reason: ShortText::parse("Labor Day").unwrap(),
            }
            .into(),
            ClosureRemoved { date: "2024-09-02".parse().unwrap() }.into(),
            targets(120).into(),
        ]
    }

    #[test]
    fn events_round_trip_and_cover_the_family() {
        let events = events();
        let mut types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
        types.sort_unstable();
        let mut all = DistrictEvent::EVENT_TYPES.to_vec();
        all.sort_unstable();
        assert_eq!(types, all);
        for event in events {
            let back = DistrictEvent::from_parts(event.event_type(), &event.to_data()).unwrap();
            assert_eq!(back, event);
        }
        assert_eq!(DistrictEvent::CATEGORY, DISTRICT_CATEGORY);
        assert!(DISTRICT_STREAM.starts_with(DISTRICT_CATEGORY));
    }

    #[test]
    fn wire_form_of_the_targets() {
        let data = DistrictEvent::from(targets(120)).to_data();
        assert_eq!(
            data,
            json!({
                "first_contact_minutes": 120, "decision_minutes": 960,
                "advisory_outreach_minutes": 480, "warn_at_percent": [50, 75],
                "escalate_to": "cto@district.org",
                "by_payment_method": {"p_card": {"first_contact_minutes": 30}},
            })
        );
        let bad = json!({"first_contact_minutes": 0, "decision_minutes": 1, "advisory_outreach_minutes": 1});
        assert!(DistrictEvent::from_parts("sla-targets-set", &bad).is_err());
        let minimal = json!({"first_contact_minutes": 1, "decision_minutes": 1, "advisory_outreach_minutes": 1});
        assert!(DistrictEvent::from_parts("sla-targets-set", &minimal).is_ok());
    }

    #[test]
    fn targets_by_payment_method_fall_back_to_the_defaults() {
        let t = targets(120);
        let card = t.for_payment(PaymentMethod::PCard);
        assert_eq!((card.first_contact.get(), card.decision.get()), (30, 960));
        let order = t.for_payment(PaymentMethod::PurchaseOrder);
        assert_eq!((order.first_contact.get(), order.advisory_outreach.get()), (120, 480));
    }

    #[test]
    fn warnings_are_checked_sorted_and_unique() {
        assert_eq!(SlaTargets::warnings(vec![75, 50, 75]).unwrap(), vec![50, 75]);
        assert!(SlaTargets::warnings(vec![0]).is_err());
        assert!(SlaTargets::warnings(vec![100]).is_err());
        assert!(SlaTargets::warnings((1..=11).collect()).is_err());
    }

    #[test]
    fn the_fold_keeps_the_calendar_and_the_targets_with_their_time() {
        let events = events();
        let at = t("2024-09-01T12:00:00Z");
        let district = District::from_events(
            events.iter().zip(1..).map(|(e, v)| (e, v, at + TimeDelta::minutes(v as i64))),
        );
        assert_eq!(district.version, 4);
        assert_eq!(district.name.as_ref().unwrap().as_str(), "Springfield Public Schools");
        assert_eq!(district.calendar.time_zone().as_str(), "America/Chicago");
        assert!(district.calendar.closures().is_empty(), "the closure was removed");
        assert_eq!(district.targets(), Some(&targets(120)));
        assert!(District::default().targets().is_none());
        assert!(District::default().clock_terms(at, at).is_none());
    }

    #[test]
    fn a_clock_keeps_the_targets_in_force_when_it_started() {
        let mut district = District::default();
        district.apply(&targets(120).into(), 1, t("2024-09-02T12:00:00Z"));
        district.apply(&targets(60).into(), 2, t("2024-09-03T12:00:00Z"));
        let terms_at = |at: &str| district.clock_terms(t(at), t(at)).unwrap();
        let terms = terms_at("2024-09-02T15:00:00Z");
        assert_eq!(terms.starts_at, t("2024-09-02T15:00:00Z"));
        assert_eq!(terms.targets.first_contact_minutes.get(), 120);
        let later = terms_at("2024-09-04T09:00:00Z");
        assert_eq!(later.targets.first_contact_minutes.get(), 60);
        // Flagged before any targets: the clock starts when the first ones were set.
        let early = terms_at("2024-08-30T09:00:00Z");
        assert_eq!(early.starts_at, t("2024-09-02T12:00:00Z"));
        assert_eq!(early.targets.first_contact_minutes.get(), 120);
    }

    #[test]
    fn a_purchase_entered_after_the_fact_is_judged_from_its_request() {
        let mut district = District::default();
        district.apply(&targets(120).into(), 1, t("2024-09-02T12:00:00Z"));
        district.apply(&targets(60).into(), 2, t("2024-09-03T12:00:00Z"));
        // Given a purchase requested while the first targets stood, entered under the second:
        // when its clocks are set, then they run from the request under the first.
        let terms = district.clock_terms(t("2024-09-02T15:00:00Z"), t("2024-09-05T09:00:00Z"));
        let terms = terms.unwrap();
        assert_eq!(terms.starts_at, t("2024-09-02T15:00:00Z"));
        assert_eq!(terms.targets.first_contact_minutes.get(), 120);
        // Given one requested before any targets but entered once there were some: from its
        // request, under the targets in force when it was entered.
        let terms = district.clock_terms(t("2024-08-01T15:00:00Z"), t("2024-09-05T09:00:00Z"));
        let terms = terms.unwrap();
        assert_eq!(terms.starts_at, t("2024-08-01T15:00:00Z"));
        assert_eq!(terms.targets.first_contact_minutes.get(), 60);
        // Given one requested and entered before any targets: from the first targets.
        let terms = district.clock_terms(t("2024-08-01T15:00:00Z"), t("2024-08-02T09:00:00Z"));
        assert_eq!(terms.unwrap().starts_at, t("2024-09-02T12:00:00Z"));
    }
}
