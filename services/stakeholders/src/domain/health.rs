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
//! | principals: the median time IT took to answer their school's held purchases is over 24 hours (anyone else: the held purchases they requested) | 10 | 10 |
//! | principals: the longest such time is over 72 hours (anyone else: of those they requested) | 10 | 10 |
//!
//! The score is never below 0. The answer time of a held purchase is the time from the flag to
//! the first call that reached the requester (or to its approval, if IT approved it without
//! such a call); a purchase still waiting counts with the time it has waited so far. Only
//! purchases flagged in the last 365 days count. Every deduction is listed in
//! [`Health::penalties`] with its reason, so the score explains itself.
//!
//! # What happened to them (counted, not scored)
//!
//! Beside the score, [`Health`] counts what IT did for the person, from the facts other
//! services published, each by the rule that publishes it, never re-derived here:
//!
//! - **Their requests** ([`RequestCounts`]): the held purchases they requested (their e-mail
//!   on the check): answered and decided *within the district's targets* (the gate's clocks,
//!   `events::clocks::PurchaseClocks`, judged against the district's calendar and SLA targets
//!   in force, exactly as the gate's `sla` and its `purchase-sla-breached` judge them), or
//!   past them; alternatives offered and accepted; approved, cancelled, cancelled without a
//!   call.
//! - **Promises to them** kept, broken, open and overdue ([`PromiseCounts`]), and **their
//!   wishes** by status, with those that had headway ([`WishCounts`]).
//! - **Unchecked card spend at their school** ([`UncheckedCardSpend`]): technology bought on
//!   purchasing cards at their school that no purchase check covered (the published rule,
//!   `events::card::CardSpend`), in the last year. The school's, not theirs, and not a measure
//!   of IT's side of the relationship, so it costs no points; it is what to talk about.
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
//!   ([`DistrictCalendar::business_days_after`](events::calendar::DistrictCalendar::business_days_after):
//!   working weekdays, closures left out)
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

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use events::calendar::DistrictCalendar;
use events::card::CardSpend;
use events::clocks::{ClockKind, PurchaseClocks, SlaState};
use events::district::District;
use events::reminders::ContactSettings;
use events::stakeholders::WishStatus;
use events::values::{Currency, SchoolId, format_cents};
use serde::Serialize;
use utoipa::ToSchema;

use super::promise::Outcome;
use super::{followup, promise};

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

/// Whether a wish is **stale** at `now`: not closed, and neither recorded nor progressed
/// (`last_activity_at`) in the last [`STALE_WISH_DAYS`] days. The wish views' `stale` and the
/// `wishes-without-headway` penalty both count by it.
pub fn is_stale_wish(
    status: WishStatus,
    last_activity_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    !status.is_closed() && last_activity_at < now - TimeDelta::days(STALE_WISH_DAYS)
}
/// Points off when the median answer time is over [`SLOW_MEDIAN_HOURS`].
pub const SLOW_MEDIAN: u32 = 10;
pub const SLOW_MEDIAN_HOURS: f64 = 24.0;
/// Points off when the longest answer time is over [`SLOW_MAX_HOURS`].
pub const SLOW_MAX: u32 = 10;
pub const SLOW_MAX_HOURS: f64 = 72.0;
/// Held purchases flagged longer ago than this do not count towards answer speed.
pub const ANSWER_WINDOW_DAYS: i64 = 365;

/// The moment health is judged at: the time now, the district in force (its calendar: its
/// today, its business days; its SLA targets) and its contact settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AsOf {
    pub now: DateTime<Utc>,
    pub district: District,
    pub contact: ContactSettings,
}

impl AsOf {
    /// At `now` in a district with `calendar` and no SLA targets.
    pub fn new(now: DateTime<Utc>, calendar: DistrictCalendar, contact: ContactSettings) -> Self {
        let mut district = District::default();
        district.calendar = calendar;
        Self::in_district(now, district, contact)
    }

    /// At `now` in `district` (its calendar and targets).
    pub fn in_district(now: DateTime<Utc>, district: District, contact: ContactSettings) -> Self {
        Self { now, district, contact }
    }

    /// The district's calendar in force.
    pub fn calendar(&self) -> &DistrictCalendar {
        &self.district.calendar
    }

    /// The district's date now.
    pub fn today(&self) -> NaiveDate {
        self.calendar().today(self.now)
    }

    /// The district's business days after the day of `at` (in its time zone), up to and
    /// including today: 0 on the day itself (or for a moment in the future).
    pub fn business_days_since(&self, at: DateTime<Utc>) -> u32 {
        self.calendar().business_days_after(self.calendar().today(at), self.today())
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
    /// The headway IT recorded on it (`wish-progressed`).
    pub headway: u32,
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
    /// For a principal: their school's held purchases; for anyone else who requested held
    /// purchases: those. `None` for everyone else.
    pub held_purchases: Option<Vec<HeldPurchaseFact>>,
    /// The held purchases they requested themselves (their e-mail on the check).
    pub requests: Vec<RequestFact>,
    /// For someone with a school: the school and its technology card transactions (as the
    /// published rule follows them, [`CardSpend`]). `None` for district staff.
    pub school_card_spend: Option<(SchoolId, Vec<CardSpend>)>,
}

/// A purchase the person requested that the gate held, and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFact {
    pub flagged_at: DateTime<Utc>,
    /// The first reached call (or the approval, if it came first); `None` while waiting.
    pub answered_at: Option<DateTime<Utc>>,
    pub alternatives_proposed: u32,
    /// The requester accepted one of them (`alternative-accepted`).
    pub alternative_accepted: bool,
    pub outcome: RequestOutcome,
    /// The purchase's clocks, the gate's published fold over its events: judged against the
    /// district's targets when health is.
    pub clocks: PurchaseClocks,
}

/// Where a requested purchase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    Open,
    Approved,
    /// Cancelled; whether IT had called them and proposed an alternative first.
    Cancelled {
        call_before_cancel: bool,
    },
}

/// What happened to the purchases the person requested that the gate held: how fast IT
/// answered them, against the district's targets, whether it offered alternatives and they
/// took one, and how each ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct RequestCounts {
    pub held: u32,
    /// Still waiting for a first reached call.
    pub waiting: u32,
    /// Deprecated: use `answered_within_target`. A first reached call (or the approval) within
    /// 24 hours of the flag, in calendar time, whatever the district's targets.
    #[schema(deprecated)]
    pub answered_within_a_day: u32,
    /// IT's first contact came within the district's first-contact target: the gate's
    /// `first_contact` clock (business minutes in the district's calendar, to the first call
    /// logged or IT's decision) stopped at or before its due time (`met`). 0 while the district
    /// has set no targets (`PUT /v1/sla`).
    pub answered_within_target: u32,
    /// IT approved or cancelled within the district's decision target: the gate's `decision`
    /// clock `met` (paused while IT waited on the requester).
    pub decided_within_target: u32,
    /// A clock breached its target: IT's first contact or its decision came late, or is late
    /// now (`breached`, as the gate's `sla.state` says and its `purchase-sla-breached` records).
    pub missed_target: u32,
    /// IT proposed an alternative.
    pub offered_alternatives: u32,
    /// They accepted one (`alternative-accepted`): the purchase was approved as amended.
    pub alternatives_accepted: u32,
    pub approved: u32,
    pub cancelled: u32,
    /// Cancelled without a reached call and a proposed alternative first (call before cancel
    /// broken).
    pub cancelled_without_a_call: u32,
}

/// The counts of `requests` as of a moment: their clocks judged by the gate's published fold
/// ([`PurchaseClocks::status`]) against the district in force then.
pub fn request_counts(requests: &[RequestFact], as_of: &AsOf) -> RequestCounts {
    let day = TimeDelta::seconds((SLOW_MEDIAN_HOURS * 3600.0) as i64);
    let mut counts = RequestCounts::default();
    for r in requests {
        counts.held += 1;
        match r.answered_at {
            None => counts.waiting += 1,
            Some(at) => counts.answered_within_a_day += u32::from(at - r.flagged_at <= day),
        }
        if let Some(sla) = r.clocks.status(&as_of.district, as_of.now) {
            let met = |kind| sla.clocks.iter().any(|c| c.clock == kind && c.state == SlaState::Met);
            counts.answered_within_target += u32::from(met(ClockKind::FirstContact));
            counts.decided_within_target += u32::from(met(ClockKind::Decision));
            counts.missed_target += u32::from(sla.state == SlaState::Breached);
        }
        counts.offered_alternatives += u32::from(r.alternatives_proposed > 0);
        counts.alternatives_accepted += u32::from(r.alternative_accepted);
        match r.outcome {
            RequestOutcome::Open => {}
            RequestOutcome::Approved => counts.approved += 1,
            RequestOutcome::Cancelled { call_before_cancel } => {
                counts.cancelled += 1;
                counts.cancelled_without_a_call += u32::from(!call_before_cancel);
            }
        }
    }
    counts
}

/// Card transactions dated this many days before today (the district's) and since count
/// towards a school's unchecked card spend: a year, as for answer speed.
pub const CARD_SPEND_WINDOW_DAYS: u64 = 365;

/// Technology bought on purchasing cards at the person's school that no purchase check covered
/// (unchecked technology, as the rogue-spend report counts it), dated in the last 365 days. The
/// school's, not the person's: what IT has to talk about with them, not a measure of the
/// relationship (it costs no points).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UncheckedCardSpend {
    pub school_id: SchoolId,
    /// The first transaction date counted: 365 days before today, the district's.
    pub since: NaiveDate,
    /// Unchecked technology transactions, every currency.
    pub transactions: u32,
    /// Per currency, by currency code.
    pub by_currency: Vec<SpendInCurrency>,
}

/// Unchecked technology transactions in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SpendInCurrency {
    pub currency: Currency,
    pub transactions: u32,
    /// Their amounts, summed: a decimal string.
    #[schema(example = "1299.99")]
    pub total: String,
}

/// The unchecked technology card spend of `school` among `spend` as of a moment.
pub fn unchecked_card_spend(
    school: &SchoolId,
    spend: &[CardSpend],
    as_of: &AsOf,
) -> UncheckedCardSpend {
    let since =
        as_of.today().checked_sub_days(Days::new(CARD_SPEND_WINDOW_DAYS)).unwrap_or_default();
    let mut by_currency: BTreeMap<Currency, (u32, i64)> = BTreeMap::new();
    let counted = spend
        .iter()
        .filter(|s| s.school_id == *school && s.transaction_date >= since && s.is_unchecked());
    for s in counted {
        let (count, cents) = by_currency.entry(s.currency).or_default();
        *count += 1;
        *cents += s.amount.cents();
    }
    UncheckedCardSpend {
        school_id: school.clone(),
        since,
        transactions: by_currency.values().map(|(n, _)| n).sum(),
        by_currency: by_currency
            .into_iter()
            .map(|(currency, (transactions, cents))| SpendInCurrency {
                currency,
                transactions,
                total: format_cents(cents),
            })
            .collect(),
    }
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
    /// Wishes IT recorded headway on at least once (`POST /v1/wishes/{id}/progress`), whatever
    /// their status now.
    pub progressed: u32,
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
                    as_of.calendar().today(at),
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
    /// Principals (their school's held purchases) and people who requested held purchases.
    pub answer_speed: Option<AnswerSpeed>,
    /// What happened to the held purchases they requested themselves.
    pub requests: RequestCounts,
    /// The unchecked technology card spend at their school in the last 365 days; `null` for
    /// someone without a school. Counted, not scored.
    pub unchecked_card_spend: Option<UncheckedCardSpend>,
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
        follow_ups.overdue += u32::from(followup::is_overdue(f.due_on, f.done, today));
    }
    per_item("overdue-follow-ups", OVERDUE_FOLLOW_UP, follow_ups.overdue, "overdue follow-ups");

    let mut promises = PromiseCounts::default();
    for p in &inputs.promises {
        match p.outcome {
            Some(Outcome::Kept) => promises.kept += 1,
            Some(Outcome::Broken) => promises.broken += 1,
            None => {
                promises.open += 1;
                promises.overdue +=
                    u32::from(promise::is_overdue(p.due_on, p.standing, false, today));
            }
        }
    }
    per_item("broken-promises", BROKEN_PROMISE, promises.broken, "broken promises");
    per_item("overdue-promises", OVERDUE_PROMISE, promises.overdue, "overdue promises");

    let mut wishes = WishCounts::default();
    for w in &inputs.wishes {
        match w.status {
            WishStatus::Open => wishes.open += 1,
            WishStatus::InProgress => wishes.in_progress += 1,
            WishStatus::Done => wishes.done += 1,
            WishStatus::Declined => wishes.declined += 1,
        }
        wishes.without_headway += u32::from(is_stale_wish(w.status, w.last_activity_at, now));
        wishes.progressed += u32::from(w.headway > 0);
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

    let measured = inputs.held_purchases.as_deref().map(|held| answer_speed(held, now));
    // The limits are on the hours as measured (said to a hundredth); the figures show a tenth.
    if let Some(&(_, median, max)) = measured.as_ref() {
        if let Some(median) = median.filter(|h| *h > SLOW_MEDIAN_HOURS) {
            let median = format!("{median:.2}");
            penalties.push(Penalty {
                code: "slow-median-answer".into(),
                points: SLOW_MEDIAN,
                detail: format!("IT took {median} hours (median) to answer the school's held purchases; over {SLOW_MEDIAN_HOURS}"),
            });
        }
        if let Some(max) = max.filter(|h| *h > SLOW_MAX_HOURS) {
            let max = format!("{max:.2}");
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
        answer_speed: measured.map(|(speed, ..)| speed),
        requests: request_counts(&inputs.requests, as_of),
        unchecked_card_spend: inputs
            .school_card_spend
            .as_ref()
            .map(|(school, spend)| unchecked_card_spend(school, spend, as_of)),
        penalties,
    }
}

/// Answer times of the held purchases flagged in the window, to a tenth of an hour; with the
/// median and the longest in hours as measured (before rounding): what the slow-answer
/// penalties compare with their limits.
fn answer_speed(
    held: &[HeldPurchaseFact],
    now: DateTime<Utc>,
) -> (AnswerSpeed, Option<f64>, Option<f64>) {
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
    let max = hours.last().copied();
    let median = match hours.len() {
        0 => None,
        n if n % 2 == 1 => Some(hours[n / 2]),
        n => Some((hours[n / 2 - 1] + hours[n / 2]) / 2.0),
    };
    speed.max_hours = max.map(tenth);
    speed.median_hours = median.map(tenth);
    (speed, median, max)
}

#[cfg(test)]
mod tests;
