//! Relationship health: how well IT is keeping up its side of a relationship, as a score from
//! 0 to 100 with the counts behind it. A pure function of read-model facts ([`HealthInputs`],
//! built by [`crate::queries::health_inputs`]) and the moment it is judged at ([`AsOf`]: the
//! time now, the district's calendar and its contact settings).
//!
//! # The score
//!
//! Start at **100** and subtract:
//!
//! | what | points | at most |
//! |---|---|---|
//! | each overdue follow-up (due before today, not done) | 10 | 30 |
//! | each broken promise (to them; for a principal also to their school) | 15 | 30 |
//! | each overdue promise (due before today, neither kept nor broken) | 10 | 30 |
//! | contact lost to decay: 30 − 30 × ½^(business days since the last conversation ÷ the half-life), rounded; all 30 when none was ever held | 0 to 30 | 30 |
//! | each wish `open` or `in_progress` without headway (recorded or progressed) in the last 60 days | 5 | 15 |
//! | principals: the median time IT took to answer their school's held purchases is over 24 hours | 10 | 10 |
//! | principals: the longest such time is over 72 hours | 10 | 10 |
//!
//! The score is never below 0. The answer time of a held purchase is the time from the flag to
//! the first call that reached the requester (or to its approval, if IT approved it without
//! such a call); a purchase still waiting counts with the time it has waited so far. Only
//! purchases flagged in the last 365 days count. Every deduction is listed in
//! [`Health::penalties`] with its reason, so the score explains itself.
//!
//! # Trust decays
//!
//! Contact is worth [`CONTACT_POINTS`] (30) points the day of a conversation, and loses half of
//! what it has left every `half_life` business days without another one
//! ([`ContactSettings::half_life`], 45 until the district sets it with `PUT
//! /v1/reminder-settings`): after 45 business days it is worth 15, after 90 worth 7.5, and
//! someone never met starts at 0. [`Health::contact`] shows the half-life, the business days
//! since the last conversation and what contact is worth now; the deduction is the
//! `contact-decay` penalty (`no-contact` when no conversation was ever held).
//!
//! - **Business days**, not calendar days: the product measures everything in the district's
//!   business time, so the days counted are the district's business days
//!   ([`crate::domain::district::business_days_after`]: working weekdays, closures left out)
//!   after the day of the last conversation (in the district's time zone) up to and including
//!   today. Weekends, holidays and the breaks the district records as closures cost nothing.
//!   Whole days: the worth steps down once a business day, never within one.
//! - **Meaningful contact is a conversation** (`POST /v1/stakeholders/{id}/conversations`):
//!   a meeting where IT listened to the person (their vision, their stars and wish). A call
//!   IT logs on one of their held purchases does **not** count: it is IT answering its own
//!   gate, the person did not choose it, and its speed is already scored (answer speed, the
//!   call-before-cancel promise); counting it would let the friction of held purchases hide a
//!   relationship going cold. [`crate::queries::last_meaningful_contact`] is the one place
//!   that says what counts, should that change.
//!
//! Two properties hold, and are proven by property tests below: with nothing else changing,
//! the score never rises as time passes (the one exception by design: a slow held purchase
//! leaving the 365-day window); and a new conversation never lowers it. (A meeting written up
//! more than 60 days after it was held brings its wish in already without headway, which costs
//! that wish's 5 points: the wish really has waited that long.)

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::calendar::DistrictCalendar;
use events::reminders::ContactSettings;
use events::stakeholders::WishStatus;
use serde::Serialize;
use utoipa::ToSchema;

use super::district::business_days_after;
use super::is_past_due;
use super::promise::Outcome;

/// Points off per overdue follow-up, and at most.
pub const OVERDUE_FOLLOW_UP: (u32, u32) = (10, 30);
/// Points off per broken promise, and at most.
pub const BROKEN_PROMISE: (u32, u32) = (15, 30);
/// Points off per overdue promise, and at most.
pub const OVERDUE_PROMISE: (u32, u32) = (10, 30);
/// What contact is worth the day of a conversation; it decays from there (see the module
/// docs), and someone never met has none of it.
pub const CONTACT_POINTS: u32 = 30;
/// Points off per wish without headway in [`STALE_WISH_DAYS`], and at most.
pub const STALE_WISH: (u32, u32) = (5, 15);
pub const STALE_WISH_DAYS: i64 = 60;
/// Points off when the median answer time is over [`SLOW_MEDIAN_HOURS`].
pub const SLOW_MEDIAN: u32 = 10;
pub const SLOW_MEDIAN_HOURS: f64 = 24.0;
/// Points off when the longest answer time is over [`SLOW_MAX_HOURS`].
pub const SLOW_MAX: u32 = 10;
pub const SLOW_MAX_HOURS: f64 = 72.0;
/// Held purchases flagged longer ago than this do not count towards answer speed.
pub const ANSWER_WINDOW_DAYS: i64 = 365;

/// The moment health is judged at: the time now, the district's calendar (its today, its
/// business days) and its contact settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AsOf {
    pub now: DateTime<Utc>,
    pub calendar: DistrictCalendar,
    pub contact: ContactSettings,
}

impl AsOf {
    pub fn new(now: DateTime<Utc>, calendar: DistrictCalendar, contact: ContactSettings) -> Self {
        Self { now, calendar, contact }
    }

    /// The district's date now.
    pub fn today(&self) -> NaiveDate {
        self.calendar.today(self.now)
    }

    /// The district's business days after the day of `at` (in its time zone), up to and
    /// including today: 0 on the day itself (or for a moment in the future).
    pub fn business_days_since(&self, at: DateTime<Utc>) -> u32 {
        business_days_after(&self.calendar, self.calendar.today(at), self.today())
    }
}

/// A follow-up owed to the stakeholder.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpFact {
    pub due_on: NaiveDate,
    pub done: bool,
}

/// A promise made to the stakeholder (or to a principal's school).
#[derive(Debug, Clone, PartialEq)]
pub struct PromiseFact {
    pub due_on: NaiveDate,
    /// Kept or broken; for the standing call-before-cancel promise, what the gate's record
    /// shows so far.
    pub outcome: Option<Outcome>,
    /// The standing call-before-cancel promise: never overdue.
    pub standing: bool,
}

/// One of the stakeholder's wishes.
#[derive(Debug, Clone, PartialEq)]
pub struct WishFact {
    pub status: WishStatus,
    /// When it was recorded or last progressed.
    pub last_activity_at: DateTime<Utc>,
}

/// A held purchase of a principal's school.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldPurchaseFact {
    pub flagged_at: DateTime<Utc>,
    /// The first reached call (or the approval, if it came first); `None` while waiting.
    pub answered_at: Option<DateTime<Utc>>,
}

/// What health is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthInputs {
    /// When the last meaningful contact (the latest conversation) was held.
    pub last_contact: Option<DateTime<Utc>>,
    pub conversations: u32,
    pub follow_ups: Vec<FollowUpFact>,
    pub promises: Vec<PromiseFact>,
    pub wishes: Vec<WishFact>,
    /// For a principal: their school's held purchases. `None` for everyone else.
    pub held_purchases: Option<Vec<HeldPurchaseFact>>,
}

/// Follow-ups owed to the stakeholder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct FollowUpCounts {
    /// Not done yet (overdue ones included).
    pub open: u32,
    pub overdue: u32,
}

/// Promises made to the stakeholder (and, for a principal, to their school).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct PromiseCounts {
    /// Neither kept nor broken yet (overdue ones included).
    pub open: u32,
    pub kept: u32,
    pub broken: u32,
    pub overdue: u32,
}

/// The stakeholder's wishes by status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct WishCounts {
    pub open: u32,
    pub in_progress: u32,
    pub done: u32,
    pub declined: u32,
    /// Open or in progress without headway in the last 60 days.
    pub without_headway: u32,
}

/// How fast IT answered a principal's school's held purchases (flagged in the last 365 days).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AnswerSpeed {
    /// Held purchases counted.
    pub held_purchases: u32,
    pub answered: u32,
    /// Still waiting for a first reached call.
    pub waiting: u32,
    /// Hours from flag to answer (waiting ones: so far), to a tenth of an hour.
    pub median_hours: Option<f64>,
    pub max_hours: Option<f64>,
}

/// What contact with the person is worth now: [`CONTACT_POINTS`] the day of a conversation,
/// halving every half-life of business days since.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContactDecay {
    /// When the last conversation was held; `null`: never.
    pub last_contact: Option<DateTime<Utc>>,
    /// The district's business days since the day of the last conversation (0 on that day);
    /// `null`: never.
    pub business_days_since: Option<u32>,
    /// Contact's worth halves every this many business days (the district's setting).
    #[schema(minimum = 1, maximum = 260)]
    pub half_life_business_days: u16,
    /// What contact is worth the day of a conversation: 30.
    pub full_points: u32,
    /// What it is worth now, to a tenth: `full_points × ½^(business_days_since ÷
    /// half_life_business_days)`; 0 when never met.
    pub worth: f64,
    /// Points the score loses to decay: `full_points` less `worth` rounded to a whole point
    /// (the `contact-decay` or `no-contact` penalty).
    pub lost: u32,
}

/// Contact's worth at `as_of` with the last conversation at `last_contact`.
pub fn contact_decay(last_contact: Option<DateTime<Utc>>, as_of: &AsOf) -> ContactDecay {
    let half_life = as_of.contact.half_life.get();
    let since = last_contact.map(|at| as_of.business_days_since(at));
    let worth = since.map_or(0.0, |days| {
        f64::from(CONTACT_POINTS) * (-f64::from(days) / f64::from(half_life)).exp2()
    });
    let kept = (worth.round() as u32).min(CONTACT_POINTS);
    ContactDecay {
        last_contact,
        business_days_since: since,
        half_life_business_days: half_life,
        full_points: CONTACT_POINTS,
        worth: (worth * 10.0).round() / 10.0,
        lost: CONTACT_POINTS - kept,
    }
}

impl ContactDecay {
    /// The deduction, when decay cost anything.
    fn penalty(&self, as_of: &AsOf) -> Option<Penalty> {
        if self.lost == 0 {
            return None;
        }
        let (full, half_life) = (self.full_points, self.half_life_business_days);
        Some(match (self.last_contact, self.business_days_since) {
            (Some(at), Some(days)) => Penalty {
                code: "contact-decay".into(),
                points: self.lost,
                detail: format!(
                    "the last conversation was {days} business days ago (on {}); contact halves every {half_life} business days, so it is worth {} of its {full} points",
                    as_of.calendar.today(at),
                    self.worth
                ),
            },
            _ => Penalty {
                code: "no-contact".into(),
                points: self.lost,
                detail: format!(
                    "no conversation has been held yet, so contact is worth none of its {full} points (it would halve every {half_life} business days)"
                ),
            },
        })
    }
}

/// One deduction from the score.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Penalty {
    /// Stable name: `overdue-follow-ups`, `broken-promises`, `overdue-promises`,
    /// `contact-decay` (contact's worth has decayed since the last conversation), `no-contact`
    /// (none was ever held), `wishes-without-headway`, `slow-median-answer`,
    /// `slow-longest-answer`.
    pub code: String,
    pub points: u32,
    pub detail: String,
}

/// A relationship's health.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Health {
    /// 0 to 100; see the module docs for the formula.
    pub score: u32,
    pub last_contact: Option<DateTime<Utc>>,
    /// Whole (calendar) days since the last conversation; `contact` has the business days.
    pub days_since_contact: Option<i64>,
    /// What contact is worth now, and the half-life it decays with.
    pub contact: ContactDecay,
    pub conversations: u32,
    pub follow_ups: FollowUpCounts,
    pub promises: PromiseCounts,
    pub wishes: WishCounts,
    /// Principals only.
    pub answer_speed: Option<AnswerSpeed>,
    pub penalties: Vec<Penalty>,
}

/// Computes health as of a moment.
pub fn health(inputs: &HealthInputs, as_of: &AsOf) -> Health {
    let (now, today) = (as_of.now, as_of.today());
    let mut penalties = Vec::new();
    let mut per_item = |code: &str, (each, cap): (u32, u32), count: u32, what: &str| {
        if count > 0 {
            penalties.push(Penalty {
                code: code.into(),
                points: (each * count).min(cap),
                detail: format!("{count} {what} ({each} points each, at most {cap})"),
            });
        }
    };

    let mut follow_ups = FollowUpCounts::default();
    for f in inputs.follow_ups.iter().filter(|f| !f.done) {
        follow_ups.open += 1;
        follow_ups.overdue += u32::from(is_past_due(f.due_on, today));
    }
    per_item("overdue-follow-ups", OVERDUE_FOLLOW_UP, follow_ups.overdue, "overdue follow-ups");

    let mut promises = PromiseCounts::default();
    for p in &inputs.promises {
        match p.outcome {
            Some(Outcome::Kept) => promises.kept += 1,
            Some(Outcome::Broken) => promises.broken += 1,
            None => {
                promises.open += 1;
                promises.overdue += u32::from(!p.standing && is_past_due(p.due_on, today));
            }
        }
    }
    per_item("broken-promises", BROKEN_PROMISE, promises.broken, "broken promises");
    per_item("overdue-promises", OVERDUE_PROMISE, promises.overdue, "overdue promises");

    let mut wishes = WishCounts::default();
    let stale_before = now - TimeDelta::days(STALE_WISH_DAYS);
    for w in &inputs.wishes {
        match w.status {
            WishStatus::Open => wishes.open += 1,
            WishStatus::InProgress => wishes.in_progress += 1,
            WishStatus::Done => wishes.done += 1,
            WishStatus::Declined => wishes.declined += 1,
        }
        wishes.without_headway +=
            u32::from(!w.status.is_closed() && w.last_activity_at < stale_before);
    }
    per_item(
        "wishes-without-headway",
        STALE_WISH,
        wishes.without_headway,
        &format!("open wishes without headway in {STALE_WISH_DAYS} days"),
    );

    let days_since_contact = inputs.last_contact.map(|at| (now - at).num_days());
    let contact = contact_decay(inputs.last_contact, as_of);
    penalties.extend(contact.penalty(as_of));

    let answer_speed = inputs.held_purchases.as_deref().map(|held| answer_speed(held, now));
    if let Some(speed) = &answer_speed {
        if let Some(median) = speed.median_hours.filter(|h| *h > SLOW_MEDIAN_HOURS) {
            penalties.push(Penalty {
                code: "slow-median-answer".into(),
                points: SLOW_MEDIAN,
                detail: format!("IT took {median} hours (median) to answer the school's held purchases; over {SLOW_MEDIAN_HOURS}"),
            });
        }
        if let Some(max) = speed.max_hours.filter(|h| *h > SLOW_MAX_HOURS) {
            penalties.push(Penalty {
                code: "slow-longest-answer".into(),
                points: SLOW_MAX,
                detail: format!("a held purchase of the school waited {max} hours for an answer; over {SLOW_MAX_HOURS}"),
            });
        }
    }

    let lost: u32 = penalties.iter().map(|p| p.points).sum();
    Health {
        score: 100u32.saturating_sub(lost),
        last_contact: inputs.last_contact,
        days_since_contact,
        contact,
        conversations: inputs.conversations,
        follow_ups,
        promises,
        wishes,
        answer_speed,
        penalties,
    }
}

/// Answer times of the held purchases flagged in the window.
pub fn answer_speed(held: &[HeldPurchaseFact], now: DateTime<Utc>) -> AnswerSpeed {
    let since = now - TimeDelta::days(ANSWER_WINDOW_DAYS);
    let mut speed = AnswerSpeed::default();
    let mut hours: Vec<f64> = Vec::new();
    for p in held.iter().filter(|p| p.flagged_at >= since) {
        speed.held_purchases += 1;
        let until = match p.answered_at {
            Some(at) => {
                speed.answered += 1;
                at
            }
            None => {
                speed.waiting += 1;
                now
            }
        };
        let seconds = (until - p.flagged_at).num_seconds().max(0);
        hours.push(seconds as f64 / 3600.0);
    }
    hours.sort_by(f64::total_cmp);
    let tenth = |h: f64| (h * 10.0).round() / 10.0;
    speed.max_hours = hours.last().copied().map(tenth);
    speed.median_hours = match hours.len() {
        0 => None,
        n if n % 2 == 1 => Some(tenth(hours[n / 2])),
        n => Some(tenth((hours[n / 2 - 1] + hours[n / 2]) / 2.0)),
    };
    speed
}

#[cfg(test)]
mod tests {
    use events::reminders::BusinessDaySpan;
    use proptest::prelude::*;

    use super::*;

    /// Tuesday 2024-09-10, noon UTC.
    fn now() -> DateTime<Utc> {
        "2024-09-10T12:00:00Z".parse().unwrap()
    }

    fn today() -> NaiveDate {
        now().date_naive()
    }

    fn ago(days: i64) -> DateTime<Utc> {
        now() - TimeDelta::days(days)
    }

    fn hours_after(at: DateTime<Utc>, hours: i64) -> Option<DateTime<Utc>> {
        Some(at + TimeDelta::hours(hours))
    }

    /// Judged at `now` in the default calendar (UTC, Monday to Friday) with the default
    /// contact settings (going cold after 20, a half-life of 45 business days).
    fn at(now: DateTime<Utc>) -> AsOf {
        AsOf::new(now, DistrictCalendar::default(), ContactSettings::default())
    }

    fn half_life(days: u16) -> ContactSettings {
        ContactSettings { half_life: BusinessDaySpan::new(days).unwrap(), ..Default::default() }
    }

    /// Met this morning, nothing overdue.
    fn healthy() -> HealthInputs {
        HealthInputs {
            last_contact: Some(now() - TimeDelta::hours(3)),
            conversations: 3,
            follow_ups: vec![FollowUpFact { due_on: today(), done: false }],
            promises: vec![PromiseFact {
                due_on: today(),
                outcome: Some(Outcome::Kept),
                standing: false,
            }],
            wishes: vec![WishFact { status: WishStatus::InProgress, last_activity_at: ago(20) }],
            held_purchases: None,
        }
    }

    fn never_met() -> HealthInputs {
        HealthInputs {
            last_contact: None,
            conversations: 0,
            follow_ups: vec![],
            promises: vec![],
            wishes: vec![],
            held_purchases: None,
        }
    }

    /// Given/when/then for health: given the facts, when judged at a moment, then the score
    /// and its deductions.
    struct Given(HealthInputs);

    fn given(inputs: HealthInputs) -> Given {
        Given(inputs)
    }

    impl Given {
        fn when_judged(self, as_of: &AsOf) -> Then {
            Then(health(&self.0, as_of))
        }
    }

    struct Then(Health);

    impl Then {
        fn then_score(self, score: u32) -> Self {
            assert_eq!(self.0.score, score, "{:#?}", self.0.penalties);
            self
        }

        fn then_penalties(self, expected: &[(&str, u32)]) -> Self {
            let found: Vec<_> =
                self.0.penalties.iter().map(|p| (p.code.as_str(), p.points)).collect();
            assert_eq!(found, expected);
            self
        }
    }

    #[test]
    fn a_kept_up_relationship_scores_100() {
        let h = given(healthy()).when_judged(&at(now())).then_score(100).then_penalties(&[]).0;
        assert_eq!(h.days_since_contact, Some(0));
        assert_eq!(h.contact.business_days_since, Some(0));
        assert_eq!((h.contact.worth, h.contact.lost), (30.0, 0));
        assert_eq!(h.follow_ups, FollowUpCounts { open: 1, overdue: 0 });
        assert_eq!(h.promises.kept, 1);
        assert_eq!(h.wishes.in_progress, 1);
        assert!(h.answer_speed.is_none());
    }

    #[test]
    fn never_met_has_no_contact_worth() {
        let h = given(never_met())
            .when_judged(&at(now()))
            .then_score(70)
            .then_penalties(&[("no-contact", 30)])
            .0;
        assert_eq!(h.contact.business_days_since, None);
        assert_eq!(h.contact.half_life_business_days, 45);
        assert!(
            h.penalties[0].detail.contains("halve every 45 business days"),
            "{}",
            h.penalties[0].detail
        );
    }

    #[test]
    fn contact_halves_every_half_life_of_business_days() {
        // Given a conversation on Tuesday 2024-09-10,
        let mut inputs = never_met();
        inputs.last_contact = Some(now());
        inputs.conversations = 1;
        // when judged 45 business days later (nine weeks: Tuesday 2024-11-12), then contact is
        // worth half of its 30 points;
        let nine_weeks = now() + TimeDelta::weeks(9);
        let h = given(inputs.clone()).when_judged(&at(nine_weeks)).then_score(85).0;
        assert_eq!((h.contact.business_days_since, h.contact.worth), (Some(45), 15.0));
        assert_eq!(
            h.penalties[0].detail,
            "the last conversation was 45 business days ago (on 2024-09-10); contact halves every 45 business days, so it is worth 15 of its 30 points"
        );
        // 90 business days: a quarter (7.5, counted as 8).
        let h =
            given(inputs.clone()).when_judged(&at(now() + TimeDelta::weeks(18))).then_score(78).0;
        assert_eq!(h.contact.worth, 7.5);
        // The weekend costs nothing: Friday and the Monday after differ by one business day.
        let friday = given(inputs.clone()).when_judged(&at(now() + TimeDelta::days(3))).0.contact;
        let saturday = given(inputs.clone()).when_judged(&at(now() + TimeDelta::days(4))).0.contact;
        let sunday = given(inputs.clone()).when_judged(&at(now() + TimeDelta::days(5))).0.contact;
        let monday = given(inputs.clone()).when_judged(&at(now() + TimeDelta::days(6))).0.contact;
        assert_eq!(friday.business_days_since, Some(3));
        assert_eq!(friday, saturday);
        assert_eq!(saturday, sunday);
        assert_eq!(monday.business_days_since, Some(4));
        // A closure costs nothing either: the district closed every day of the week after.
        let mut calendar = DistrictCalendar::default();
        for day in today().iter_days().skip(1).take(7) {
            calendar = calendar.with_closure(day, "Fall break");
        }
        let later = now() + TimeDelta::days(7);
        let closed = AsOf::new(later, calendar, ContactSettings::default());
        assert_eq!(contact_decay(inputs.last_contact, &closed).business_days_since, Some(0));
        // A shorter half-life decays faster.
        let fast = AsOf::new(nine_weeks, DistrictCalendar::default(), half_life(15));
        given(inputs).when_judged(&fast).then_score(74).then_penalties(&[("contact-decay", 26)]);
    }

    #[test]
    fn business_days_are_counted_in_the_districts_time_zone() {
        use events::calendar::{BusinessHours, TimeZoneName};
        // Monday 2024-09-09 at 23:30 in Chicago is already Tuesday in UTC: the conversation was
        // on Monday there, so on Tuesday evening (Chicago) one business day has passed.
        let chicago = DistrictCalendar::new(
            TimeZoneName::parse("America/Chicago").unwrap(),
            BusinessHours::office(),
        );
        let mut inputs = never_met();
        inputs.last_contact = Some("2024-09-10T04:30:00Z".parse().unwrap());
        let tuesday_evening =
            AsOf::new("2024-09-11T03:00:00Z".parse().unwrap(), chicago, ContactSettings::default());
        let h = given(inputs).when_judged(&tuesday_evening).0;
        assert_eq!(h.contact.business_days_since, Some(1));
        assert!(h.penalties.is_empty(), "one business day of 45 costs less than half a point");
    }

    #[test]
    fn deductions_add_up_and_are_capped() {
        let mut inputs = healthy();
        let overdue = FollowUpFact { due_on: today() - TimeDelta::days(1), done: false };
        inputs.follow_ups = vec![overdue.clone(); 5]; // 50, capped at 30
        inputs.follow_ups.push(FollowUpFact { done: true, ..overdue });
        inputs.promises = vec![
            PromiseFact { due_on: today(), outcome: Some(Outcome::Broken), standing: false }, // 15
            PromiseFact { due_on: today() - TimeDelta::days(1), outcome: None, standing: false }, // 10
            PromiseFact { due_on: today() - TimeDelta::days(100), outcome: None, standing: true }, // 0
        ];
        inputs.wishes.push(WishFact { status: WishStatus::Open, last_activity_at: ago(61) }); // 5
        inputs.wishes.push(WishFact { status: WishStatus::Done, last_activity_at: ago(400) }); // 0
        let h = given(inputs.clone())
            .when_judged(&at(now()))
            .then_penalties(&[
                ("overdue-follow-ups", 30),
                ("broken-promises", 15),
                ("overdue-promises", 10),
                ("wishes-without-headway", 5),
            ])
            .then_score(40)
            .0;
        assert_eq!(h.follow_ups, FollowUpCounts { open: 5, overdue: 5 });
        assert_eq!(h.promises, PromiseCounts { open: 2, kept: 0, broken: 1, overdue: 1 });
        assert_eq!(h.wishes.without_headway, 1);
        inputs.last_contact = None;
        inputs.promises =
            vec![
                PromiseFact { due_on: today(), outcome: Some(Outcome::Broken), standing: false };
                3
            ];
        given(inputs.clone()).when_judged(&at(now())).then_score(100 - 30 - 30 - 5 - 30);
        inputs.wishes = vec![WishFact { status: WishStatus::Open, last_activity_at: ago(99) }; 9];
        inputs.promises.extend(vec![
            PromiseFact {
                due_on: today() - TimeDelta::days(3),
                outcome: None,
                standing: false
            };
            3
        ]);
        given(inputs).when_judged(&at(now())).then_score(0);
    }

    #[test]
    fn answer_speed_median_max_and_window() {
        let held = vec![
            HeldPurchaseFact { flagged_at: ago(30), answered_at: hours_after(ago(30), 2) },
            HeldPurchaseFact { flagged_at: ago(20), answered_at: hours_after(ago(20), 30) },
            HeldPurchaseFact { flagged_at: ago(10), answered_at: hours_after(ago(10), 4) },
            // Still waiting for 80 hours.
            HeldPurchaseFact { flagged_at: now() - TimeDelta::hours(80), answered_at: None },
            // Outside the window.
            HeldPurchaseFact { flagged_at: ago(400), answered_at: hours_after(ago(400), 900) },
        ];
        let speed = answer_speed(&held, now());
        assert_eq!(
            speed,
            AnswerSpeed {
                held_purchases: 4,
                answered: 3,
                waiting: 1,
                median_hours: Some(17.0),
                max_hours: Some(80.0)
            }
        );
        let mut inputs = healthy();
        inputs.held_purchases = Some(held);
        given(inputs.clone())
            .when_judged(&at(now()))
            .then_score(90)
            .then_penalties(&[("slow-longest-answer", 10)]);
        // A slow median too.
        inputs.held_purchases = Some(vec![HeldPurchaseFact {
            flagged_at: ago(5),
            answered_at: hours_after(ago(5), 25),
        }]);
        given(inputs.clone())
            .when_judged(&at(now()))
            .then_score(90)
            .then_penalties(&[("slow-median-answer", 10)]);
        // No held purchases: no figures, no deduction.
        inputs.held_purchases = Some(vec![]);
        let h = given(inputs).when_judged(&at(now())).then_score(100).0;
        assert_eq!(h.answer_speed, Some(AnswerSpeed::default()));
        // A call logged as taking place before the flag counts as zero hours.
        let early =
            vec![HeldPurchaseFact { flagged_at: ago(1), answered_at: hours_after(ago(1), -3) }];
        assert_eq!(answer_speed(&early, now()).max_hours, Some(0.0));
    }

    // -----------------------------------------------------------------------------------------
    // Properties

    /// Moments within about three years of 2024-01-01, to the second.
    fn moment() -> impl Strategy<Value = DateTime<Utc>> {
        let base: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        (0i64..3 * 365 * 86_400).prop_map(move |s| base + TimeDelta::seconds(s))
    }

    /// A calendar in one of a few zones, with some working weekdays and closures.
    fn calendar() -> impl Strategy<Value = DistrictCalendar> {
        use events::calendar::{BusinessHours, ClockTime, TimeZoneName, Weekday};
        (
            prop::sample::select(vec!["UTC", "America/Chicago", "Pacific/Auckland"]),
            prop::sample::subsequence(Weekday::ALL.to_vec(), 1..=7),
            prop::collection::vec(0u64..1200, 0..30),
        )
            .prop_map(|(zone, days, closures)| {
                let hours = BusinessHours::new(
                    ClockTime::hm(8, 0).unwrap(),
                    ClockTime::hm(16, 0).unwrap(),
                    days,
                )
                .unwrap();
                let mut calendar = DistrictCalendar::new(TimeZoneName::parse(zone).unwrap(), hours);
                let base: NaiveDate = "2024-01-01".parse().unwrap();
                for c in closures {
                    calendar = calendar.with_closure(base + chrono::Days::new(c), "Closed");
                }
                calendar
            })
    }

    fn settings() -> impl Strategy<Value = ContactSettings> {
        (1u16..=260, 1u16..=260).prop_map(|(cold, half)| ContactSettings {
            going_cold_after: BusinessDaySpan::new(cold).unwrap(),
            half_life: BusinessDaySpan::new(half).unwrap(),
        })
    }

    fn wish_status() -> impl Strategy<Value = WishStatus> {
        prop::sample::select(vec![
            WishStatus::Open,
            WishStatus::InProgress,
            WishStatus::Done,
            WishStatus::Declined,
        ])
    }

    /// Facts as of `now`: anything dated up to two years before it. Held purchases are flagged
    /// in the 300 days before `now`, so none leaves the answer window in the 60 days after.
    fn inputs(now: DateTime<Utc>) -> impl Strategy<Value = HealthInputs> {
        let before = move |max_days: i64| {
            (0i64..max_days * 86_400).prop_map(move |s| now - TimeDelta::seconds(s))
        };
        let date = move |max_days: i64| {
            (-max_days..max_days).prop_map(move |d| now.date_naive() + TimeDelta::days(d))
        };
        (
            prop::option::of(before(730)),
            0u32..20,
            prop::collection::vec((date(200), any::<bool>()), 0..6),
            prop::collection::vec(
                (date(200), prop::option::of(any::<bool>()), any::<bool>()),
                0..6,
            ),
            prop::collection::vec((wish_status(), before(400)), 0..6),
            prop::option::of(prop::collection::vec(
                (before(300), prop::option::of(0i64..400)),
                0..6,
            )),
        )
            .prop_map(
                |(last_contact, conversations, follow_ups, promises, wishes, held)| HealthInputs {
                    last_contact,
                    conversations,
                    follow_ups: follow_ups
                        .into_iter()
                        .map(|(due_on, done)| FollowUpFact { due_on, done })
                        .collect(),
                    promises: promises
                        .into_iter()
                        .map(|(due_on, outcome, standing)| PromiseFact {
                            due_on,
                            outcome: outcome
                                .map(|kept| if kept { Outcome::Kept } else { Outcome::Broken }),
                            standing,
                        })
                        .collect(),
                    wishes: wishes
                        .into_iter()
                        .map(|(status, last_activity_at)| WishFact { status, last_activity_at })
                        .collect(),
                    held_purchases: held.map(|held| {
                        held.into_iter()
                            .map(|(flagged_at, hours)| HeldPurchaseFact {
                                flagged_at,
                                answered_at: hours.map(|h| flagged_at + TimeDelta::hours(h)),
                            })
                            .collect()
                    }),
                },
            )
    }

    /// Some facts at some moment, in some calendar, with some settings.
    fn scene() -> impl Strategy<Value = (HealthInputs, AsOf)> {
        (moment(), calendar(), settings()).prop_flat_map(|(now, calendar, contact)| {
            inputs(now).prop_map(move |inputs| (inputs, AsOf::new(now, calendar.clone(), contact)))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Without contact, trust only decays: as time passes with nothing else changing, the
        /// score never rises, and contact's worth never grows.
        #[test]
        fn without_contact_the_score_never_rises(
            (inputs, as_of) in scene(),
            later in 0i64..60 * 86_400,
        ) {
            let before = health(&inputs, &as_of);
            let after_as_of = AsOf { now: as_of.now + TimeDelta::seconds(later), ..as_of.clone() };
            let after = health(&inputs, &after_as_of);
            prop_assert!(after.score <= before.score, "{} then {}: {:#?} then {:#?}", before.score, after.score, before.penalties, after.penalties);
            prop_assert!(after.contact.worth <= before.contact.worth);
            prop_assert!(after.contact.lost >= before.contact.lost);
        }

        /// A new conversation (held at any time up to now; with a wish, one held in the last
        /// 60 days, which the domain records as a wish with no headway yet) never lowers the
        /// score.
        #[test]
        fn a_new_conversation_never_lowers_the_score(
            (inputs, as_of) in scene(),
            held_ago in 0i64..730 * 86_400,
            with_wish in any::<bool>(),
        ) {
            let held_ago = if with_wish { held_ago % (STALE_WISH_DAYS * 86_400) } else { held_ago };
            let held_at = as_of.now - TimeDelta::seconds(held_ago);
            let before = health(&inputs, &as_of);
            let mut met = inputs.clone();
            met.last_contact = met.last_contact.max(Some(held_at));
            met.conversations += 1;
            if with_wish {
                met.wishes.push(WishFact { status: WishStatus::Open, last_activity_at: held_at });
            }
            let after = health(&met, &as_of);
            prop_assert!(after.score >= before.score, "{} then {}: {:#?} then {:#?}", before.score, after.score, before.penalties, after.penalties);
            prop_assert!(after.contact.worth >= before.contact.worth);
        }

        /// The deductions explain the score, and contact's worth stays within its points.
        #[test]
        fn the_penalties_explain_the_score((inputs, as_of) in scene()) {
            let h = health(&inputs, &as_of);
            let lost: u32 = h.penalties.iter().map(|p| p.points).sum();
            prop_assert_eq!(h.score, 100u32.saturating_sub(lost));
            prop_assert!((0.0..=f64::from(CONTACT_POINTS)).contains(&h.contact.worth));
            let decay: u32 = h.penalties.iter().filter(|p| p.code == "contact-decay" || p.code == "no-contact").map(|p| p.points).sum();
            prop_assert_eq!(decay, h.contact.lost);
        }
    }
}
