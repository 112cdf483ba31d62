//! Reminders: promises and follow-ups due soon, and overdue, on the record once each.
//!
//! ## When
//!
//! Both moments are in the district's calendar now in force ([`DistrictCalendar`]):
//!
//! - **due soon** ([`due_soon_at`]): at the opening of business hours on the business day
//!   `due_soon_business_days` business days before the due date (counting back from the last
//!   business day on or before it). With the default lead of 2, something due on a Friday is
//!   due soon from Wednesday's opening; with 0, from the opening of its due day (or of the
//!   business day before, when it falls on a weekend or a closure). Something made inside its
//!   lead is due soon at once.
//! - **overdue** ([`overdue_at`]): at the start of the day after the due date in the
//!   district's time zone, when the district's today passes it, as
//!   [`is_past_due`](crate::rules::is_past_due) has it.
//!
//! Only what is still open gets reminders: a promise neither kept nor broken (never the
//! purchasing agreement's standing call-before-cancel promise, which the gate's record
//! settles), a follow-up not done. Something already overdue when it is first judged (a
//! scheduler that was down over both moments) gets only its overdue reminder.
//!
//! ## Events
//!
//! The stakeholder relations service's scheduler writes them to the `reminder-{id}` stream of
//! the promise or follow-up ([`reminder_stream`]), each carrying the moment it is about (not
//! when it was written), with a deterministic id ([`ReminderEvent::event_id`]: the item, the
//! event type and the due date), so any number of schedulers write each once. The lead is the
//! district's setting, `reminders-set`, in the `reminder-settings` stream
//! ([`REMINDER_SETTINGS_STREAM`]), folded by [`ReminderSettings`].
//!
//! ## People going cold
//!
//! The same settings say when a relationship needs a nudge too ([`ContactSettings`]): how many
//! business days without a conversation make a person *going cold*
//! (`going_cold_after_business_days`, 20 until set), and the half-life of the contact's worth
//! in their relationship health (`contact_half_life_business_days`, 45 until set): the
//! stakeholder relations service's health score and its going-cold report read them. Both
//! fields came after the lead: a `reminders-set` without them (written before they existed)
//! leaves them as they were, that is, at their defaults.
//!
//! | event | stream | what |
//! |---|---|---|
//! | `reminders-set` | `reminder-settings` | the lead of due-soon reminders, in business days; when people go cold, and how fast contact decays |
//! | `promise-due-soon`, `followup-due-soon` | `reminder-{id}` | the lead began |
//! | `promise-overdue`, `followup-overdue` | `reminder-{id}` | the due date passed unsettled |

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::calendar::{ClockTime, DistrictCalendar};
use crate::district::District;
use crate::stakeholders::{FollowUpEvent, PromiseEvent, PromiseTo};
use crate::values::{ValueError, int_value};

/// The category of the reminders' streams (and of their settings').
pub const REMINDER_CATEGORY: &str = "reminder";
/// The stream of the reminders' settings.
pub const REMINDER_SETTINGS_STREAM: &str = "reminder-settings";

/// The stream of the reminders of the promise or follow-up `id`: `reminder-{id}`.
pub fn reminder_stream(id: Uuid) -> String {
    format!("{REMINDER_CATEGORY}-{id}")
}

/// The namespace of the reminders' ids (UUID v5).
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5d0b_93c4_7e2a_4f18_b6c1_0a9e_42d7_e83f);

/// A lead in business days: a whole number from 0 to [`BusinessDays::MAX`] (20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct BusinessDays(u8);

impl BusinessDays {
    pub const MAX: u8 = 20;
    /// Until the district sets one: two business days.
    pub const DEFAULT: Self = Self(2);

    pub fn new(days: u8) -> Result<Self, ValueError> {
        if days <= Self::MAX {
            Ok(Self(days))
        } else {
            Err(ValueError::new(
                "business days",
                format!(
                    "a lead is a whole number of business days from 0 to {}; found {days}",
                    Self::MAX
                ),
            ))
        }
    }
}

impl Default for BusinessDays {
    fn default() -> Self {
        Self::DEFAULT
    }
}

int_value!(
    BusinessDays(u8),
    0,
    BusinessDays::MAX,
    "Business days: a whole number from 0 to 20.",
    2
);

/// A span of business days in the district's calendar: a whole number from 1 to
/// [`BusinessDaySpan::MAX`] (260, a year of weekdays). How long without contact makes a person
/// going cold, and the half-life of the contact's worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct BusinessDaySpan(u16);

impl BusinessDaySpan {
    pub const MAX: u16 = 260;

    pub fn new(days: u16) -> Result<Self, ValueError> {
        if (1..=Self::MAX).contains(&days) {
            Ok(Self(days))
        } else {
            Err(ValueError::new(
                "business days",
                format!(
                    "a span is a whole number of business days from 1 to {}; found {days}",
                    Self::MAX
                ),
            ))
        }
    }
}

int_value!(
    BusinessDaySpan(u16),
    1,
    BusinessDaySpan::MAX,
    "Business days: a whole number from 1 to 260.",
    20
);

/// When a relationship needs a nudge: part of the reminders' settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactSettings {
    /// A person not contacted for this many business days is going cold (20 until set).
    pub going_cold_after: BusinessDaySpan,
    /// The contact's worth in relationship health halves every this many business days
    /// without a conversation (45 until set).
    pub half_life: BusinessDaySpan,
}

impl ContactSettings {
    /// Until the district sets them: going cold after 20 business days (four weeks), a
    /// half-life of 45 business days (about a quarter of a school year).
    pub const DEFAULT: Self =
        Self { going_cold_after: BusinessDaySpan(20), half_life: BusinessDaySpan(45) };
}

impl Default for ContactSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

// ---------------------------------------------------------------------------------------------
// Events

/// The reminders' settings, replacing the previous ones (a field absent leaves its setting as
/// it was: events written before it existed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RemindersSet {
    /// How many business days before its due date something is due soon (see the module docs).
    pub due_soon_business_days: BusinessDays,
    /// A person not contacted for this many business days is going cold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub going_cold_after_business_days: Option<BusinessDaySpan>,
    /// The half-life, in business days, of the contact's worth in relationship health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_half_life_business_days: Option<BusinessDaySpan>,
}

/// A promise's lead began: it is due soon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromiseDueSoon {
    pub promise_id: Uuid,
    pub to: PromiseTo,
    /// Who made it (the JWT subject).
    pub owner: String,
    pub due_on: NaiveDate,
    /// When it became due soon: the opening of the lead's first business day.
    pub due_soon_at: DateTime<Utc>,
    pub lead_business_days: BusinessDays,
    /// The version of `district-settings` it was judged against.
    pub district_version: u64,
}

/// A promise's due date passed with the promise neither kept nor broken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PromiseOverdue {
    pub promise_id: Uuid,
    pub to: PromiseTo,
    pub owner: String,
    pub due_on: NaiveDate,
    /// When it became overdue: the start of the next day in the district's time zone.
    pub overdue_at: DateTime<Utc>,
    pub district_version: u64,
}

/// A follow-up's lead began: it is due soon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FollowUpDueSoon {
    pub followup_id: Uuid,
    pub stakeholder_id: Uuid,
    pub due_on: NaiveDate,
    pub due_soon_at: DateTime<Utc>,
    pub lead_business_days: BusinessDays,
    pub district_version: u64,
}

/// A follow-up's due date passed with the follow-up not done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FollowUpOverdue {
    pub followup_id: Uuid,
    pub stakeholder_id: Uuid,
    pub due_on: NaiveDate,
    pub overdue_at: DateTime<Utc>,
    pub district_version: u64,
}

event_family! {
    /// The events of the `reminder-settings` and `reminder-{id}` streams.
    pub enum ReminderEvent in "reminder" {
        /// `reminders-set`
        Set(RemindersSet) = "reminders-set",
        /// `promise-due-soon`
        PromiseDueSoon(PromiseDueSoon) = "promise-due-soon",
        /// `promise-overdue`
        PromiseOverdue(PromiseOverdue) = "promise-overdue",
        /// `followup-due-soon`
        FollowUpDueSoon(FollowUpDueSoon) = "followup-due-soon",
        /// `followup-overdue`
        FollowUpOverdue(FollowUpOverdue) = "followup-overdue",
    }
}

impl ReminderEvent {
    /// A reminder's deterministic id: UUID v5 of the promise or follow-up, the event type and
    /// the due date. `None` for the settings (an ordinary command's event).
    pub fn event_id(&self) -> Option<Uuid> {
        let (id, due_on) = self.about()?;
        let name = format!("{id}/{}/{due_on}", self.event_type());
        Some(Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes()))
    }

    /// The promise or follow-up a reminder is about, and its due date.
    pub fn about(&self) -> Option<(Uuid, NaiveDate)> {
        match self {
            Self::Set(_) => None,
            Self::PromiseDueSoon(e) => Some((e.promise_id, e.due_on)),
            Self::PromiseOverdue(e) => Some((e.promise_id, e.due_on)),
            Self::FollowUpDueSoon(e) => Some((e.followup_id, e.due_on)),
            Self::FollowUpOverdue(e) => Some((e.followup_id, e.due_on)),
        }
    }

    /// The instant a reminder is about: when it became due soon, or overdue.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Set(_) => None,
            Self::PromiseDueSoon(e) => Some(e.due_soon_at),
            Self::PromiseOverdue(e) => Some(e.overdue_at),
            Self::FollowUpDueSoon(e) => Some(e.due_soon_at),
            Self::FollowUpOverdue(e) => Some(e.overdue_at),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// When

/// How far back a lead is looked for: a calendar closed that long has no business day to
/// remind on, and the reminder falls on the due date's own start.
const SEARCH_DAYS: u32 = 400;

/// When something due on `due_on` is due soon, with a lead of `lead` business days: the
/// opening of the `lead`-th business day before the last business day on or before `due_on`.
pub fn due_soon_at(
    calendar: &DistrictCalendar,
    due_on: NaiveDate,
    lead: BusinessDays,
) -> DateTime<Utc> {
    let mut day = due_on;
    let mut left = i32::from(lead.get());
    for _ in 0..SEARCH_DAYS {
        if calendar.is_business_day(day) {
            if left == 0 {
                let opening = calendar.instant(day, calendar.hours().start);
                return opening.unwrap_or_else(|| start_of(calendar, due_on));
            }
            left -= 1;
        }
        let Some(before) = day.pred_opt() else { break };
        day = before;
    }
    start_of(calendar, due_on)
}

/// When something due on `due_on` and unsettled is overdue: the start of the next day in the
/// district's time zone.
pub fn overdue_at(calendar: &DistrictCalendar, due_on: NaiveDate) -> DateTime<Utc> {
    calendar.instant(due_on, ClockTime::END_OF_DAY).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The start of `date` in the district's time zone.
fn start_of(calendar: &DistrictCalendar, date: NaiveDate) -> DateTime<Utc> {
    let midnight = ClockTime::hm(0, 0).expect("00:00 is a time of day");
    calendar.instant(date, midnight).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

// ---------------------------------------------------------------------------------------------
// The folds

/// The reminders' settings: a fold of `reminder-settings`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReminderSettings {
    pub due_soon_business_days: BusinessDays,
    /// When people go cold, and how fast contact decays.
    pub contact: ContactSettings,
    /// The version of `reminder-settings` applied (0: never set).
    pub version: u64,
}

impl ReminderSettings {
    /// Folds in the event recorded at `version` (reminders themselves are not settings).
    pub fn apply(&mut self, event: &ReminderEvent, version: u64) {
        if let ReminderEvent::Set(set) = event {
            self.due_soon_business_days = set.due_soon_business_days;
            if let Some(days) = set.going_cold_after_business_days {
                self.contact.going_cold_after = days;
            }
            if let Some(days) = set.contact_half_life_business_days {
                self.contact.half_life = days;
            }
        }
        self.version = version;
    }

    /// The event that sets all of these settings (what a change writes).
    pub fn set_event(&self) -> RemindersSet {
        RemindersSet {
            due_soon_business_days: self.due_soon_business_days,
            going_cold_after_business_days: Some(self.contact.going_cold_after),
            contact_half_life_business_days: Some(self.contact.half_life),
        }
    }
}

/// What is reminded of: a promise or a follow-up, as its first event has it.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Promise { promise_id: Uuid, to: PromiseTo, owner: String, due_on: NaiveDate },
    FollowUp { followup_id: Uuid, stakeholder_id: Uuid, due_on: NaiveDate },
}

/// One promise's or follow-up's reminders: a fold of its `promise-…` or `followup-…` stream
/// and of its `reminder-…` stream (what was already recorded). The moments are computed
/// against a [`District`] and the lead, so a closure moves them at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemReminders {
    item: Option<Item>,
    settled: bool,
    /// The ids of the reminders already recorded.
    recorded: Vec<Uuid>,
}

impl ItemReminders {
    /// Folds in an event of a `promise-…` stream.
    pub fn apply_promise(&mut self, event: &PromiseEvent) {
        match event {
            // The standing promise is settled by the gate's record, never reminded of.
            PromiseEvent::Made(made) if made.is_call_before_cancel() => self.settled = true,
            PromiseEvent::Made(made) => {
                self.item = Some(Item::Promise {
                    promise_id: made.promise_id,
                    to: made.to.clone(),
                    owner: made.owner.clone(),
                    due_on: made.due_on,
                });
            }
            PromiseEvent::Kept(_) | PromiseEvent::Broken(_) => self.settled = true,
        }
    }

    /// Folds in an event of a `followup-…` stream.
    pub fn apply_follow_up(&mut self, event: &FollowUpEvent) {
        match event {
            FollowUpEvent::Scheduled(s) => {
                self.item = Some(Item::FollowUp {
                    followup_id: s.followup_id,
                    stakeholder_id: s.stakeholder_id,
                    due_on: s.due_on,
                });
            }
            FollowUpEvent::Done(_) => self.settled = true,
        }
    }

    /// Folds in a reminder of its `reminder-…` stream: recorded.
    pub fn apply_recorded(&mut self, event: &ReminderEvent) {
        if let Some(id) = event.event_id()
            && !self.recorded.contains(&id)
        {
            self.recorded.push(id);
        }
    }

    /// Whether it is open: made or scheduled, and neither settled nor done.
    pub fn is_open(&self) -> bool {
        self.item.is_some() && !self.settled
    }

    /// Whether nothing more can be recorded: settled, or its overdue reminder recorded.
    pub fn finished(&self) -> bool {
        self.settled || (self.item.is_some() && self.recorded.contains(&self.overdue_id()))
    }

    /// The due date, once made.
    pub fn due_on(&self) -> Option<NaiveDate> {
        self.item.as_ref().map(|item| match item {
            Item::Promise { due_on, .. } | Item::FollowUp { due_on, .. } => *due_on,
        })
    }

    /// When it is due soon and when overdue, in the district's calendar, with `lead`.
    pub fn moments(
        &self,
        district: &District,
        lead: BusinessDays,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let due_on = self.due_on()?;
        let calendar = &district.calendar;
        Some((due_soon_at(calendar, due_on, lead), overdue_at(calendar, due_on)))
    }

    /// The reminders due at `now` and not recorded yet: the overdue one once overdue (and then
    /// no longer the due-soon one), else the due-soon one once due soon.
    pub fn due_events(
        &self,
        district: &District,
        lead: BusinessDays,
        now: DateTime<Utc>,
    ) -> Vec<ReminderEvent> {
        if !self.is_open() {
            return vec![];
        }
        let Some((soon, overdue)) = self.moments(district, lead) else { return vec![] };
        let event = if now >= overdue {
            self.overdue(overdue, district.version)
        } else if now >= soon {
            self.due_soon(soon, lead, district.version)
        } else {
            return vec![];
        };
        match event {
            Some(event) if !self.recorded.contains(&event.event_id().unwrap_or_default()) => {
                vec![event]
            }
            _ => vec![],
        }
    }

    /// When its scheduler next needs to look: the due-soon moment until that reminder is
    /// recorded, then the overdue moment; `None` once finished.
    pub fn next_wake(&self, district: &District, lead: BusinessDays) -> Option<DateTime<Utc>> {
        if !self.is_open() || self.finished() {
            return None;
        }
        let (soon, overdue) = self.moments(district, lead)?;
        let soon_recorded = self
            .due_soon(soon, lead, district.version)
            .and_then(|e| e.event_id())
            .is_some_and(|id| self.recorded.contains(&id));
        Some(if soon_recorded { overdue } else { soon.min(overdue) })
    }

    fn due_soon(
        &self,
        due_soon_at: DateTime<Utc>,
        lead: BusinessDays,
        district_version: u64,
    ) -> Option<ReminderEvent> {
        Some(match self.item.clone()? {
            Item::Promise { promise_id, to, owner, due_on } => PromiseDueSoon {
                promise_id,
                to,
                owner,
                due_on,
                due_soon_at,
                lead_business_days: lead,
                district_version,
            }
            .into(),
            Item::FollowUp { followup_id, stakeholder_id, due_on } => FollowUpDueSoon {
                followup_id,
                stakeholder_id,
                due_on,
                due_soon_at,
                lead_business_days: lead,
                district_version,
            }
            .into(),
        })
    }

    fn overdue(&self, overdue_at: DateTime<Utc>, district_version: u64) -> Option<ReminderEvent> {
        Some(match self.item.clone()? {
            Item::Promise { promise_id, to, owner, due_on } => {
                PromiseOverdue { promise_id, to, owner, due_on, overdue_at, district_version }
                    .into()
            }
            Item::FollowUp { followup_id, stakeholder_id, due_on } => FollowUpOverdue {
                followup_id,
                stakeholder_id,
                due_on,
                overdue_at,
                district_version,
            }
            .into(),
        })
    }

    /// The id of its overdue reminder (the id does not depend on the moment).
    fn overdue_id(&self) -> Uuid {
        self.overdue(DateTime::<Utc>::MIN_UTC, 0).and_then(|e| e.event_id()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
