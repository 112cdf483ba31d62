//! Relationship health: how well IT is keeping up its side of a relationship, as a score from
//! 0 to 100 with the counts behind it. A pure function of read-model facts ([`HealthInputs`],
//! built by [`crate::queries::health_inputs`]) and the time now.
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
//! | no conversation in the last 90 days (or none ever) | 15 | 15 |
//! | each wish `open` or `in_progress` without headway (recorded or progressed) in the last 60 days | 5 | 15 |
//! | principals: the median time IT took to answer their school's held purchases is over 24 hours | 10 | 10 |
//! | principals: the longest such time is over 72 hours | 10 | 10 |
//!
//! The score is never below 0. The answer time of a held purchase is the time from the flag to
//! the first call that reached the requester (or to its approval, if IT approved it without
//! such a call); a purchase still waiting counts with the time it has waited so far. Only
//! purchases flagged in the last 365 days count. Every deduction is listed in
//! [`Health::penalties`] with its reason, so the score explains itself.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use events::stakeholders::WishStatus;
use serde::Serialize;
use utoipa::ToSchema;

use super::is_past_due;
use super::promise::Outcome;

/// Points off per overdue follow-up, and at most.
pub const OVERDUE_FOLLOW_UP: (u32, u32) = (10, 30);
/// Points off per broken promise, and at most.
pub const BROKEN_PROMISE: (u32, u32) = (15, 30);
/// Points off per overdue promise, and at most.
pub const OVERDUE_PROMISE: (u32, u32) = (10, 30);
/// Points off when the last conversation is older than [`NO_CONTACT_DAYS`] (or there is none).
pub const NO_CONTACT: u32 = 15;
pub const NO_CONTACT_DAYS: i64 = 90;
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
    /// When the latest conversation was held.
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

/// One deduction from the score.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Penalty {
    /// Stable name: `overdue-follow-ups`, `broken-promises`, `overdue-promises`, `no-recent-contact`,
    /// `wishes-without-headway`, `slow-median-answer`, `slow-longest-answer`.
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
    /// Whole days since the last conversation.
    pub days_since_contact: Option<i64>,
    pub conversations: u32,
    pub follow_ups: FollowUpCounts,
    pub promises: PromiseCounts,
    pub wishes: WishCounts,
    /// Principals only.
    pub answer_speed: Option<AnswerSpeed>,
    pub penalties: Vec<Penalty>,
}

/// Computes health at `now` (with `today`, the district's date now).
pub fn health(inputs: &HealthInputs, now: DateTime<Utc>, today: NaiveDate) -> Health {
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
    if days_since_contact.is_none_or(|days| days >= NO_CONTACT_DAYS) {
        penalties.push(Penalty {
            code: "no-recent-contact".into(),
            points: NO_CONTACT,
            detail: match days_since_contact {
                Some(days) => {
                    format!("the last conversation was {days} days ago (over {NO_CONTACT_DAYS})")
                }
                None => "no conversation has been held yet".into(),
            },
        });
    }

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
    use super::*;

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

    fn healthy() -> HealthInputs {
        HealthInputs {
            last_contact: Some(ago(10)),
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

    #[test]
    fn a_kept_up_relationship_scores_100() {
        let h = health(&healthy(), now(), today());
        assert_eq!(h.score, 100, "{:?}", h.penalties);
        assert_eq!(h.days_since_contact, Some(10));
        assert_eq!(h.follow_ups, FollowUpCounts { open: 1, overdue: 0 });
        assert_eq!(h.promises.kept, 1);
        assert_eq!(h.wishes.in_progress, 1);
        assert!(h.answer_speed.is_none());
    }

    #[test]
    fn never_met_costs_15() {
        let inputs = HealthInputs {
            last_contact: None,
            conversations: 0,
            follow_ups: vec![],
            promises: vec![],
            wishes: vec![],
            held_purchases: None,
        };
        let h = health(&inputs, now(), today());
        assert_eq!(h.score, 85);
        assert_eq!(h.penalties[0].code, "no-recent-contact");
        let mut recent = inputs.clone();
        recent.last_contact = Some(ago(89));
        assert_eq!(health(&recent, now(), today()).score, 100);
        recent.last_contact = Some(ago(90));
        assert_eq!(health(&recent, now(), today()).score, 85);
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
        let h = health(&inputs, now(), today());
        assert_eq!(h.follow_ups, FollowUpCounts { open: 5, overdue: 5 });
        assert_eq!(h.promises, PromiseCounts { open: 2, kept: 0, broken: 1, overdue: 1 });
        assert_eq!(h.wishes.without_headway, 1);
        let points: Vec<_> = h.penalties.iter().map(|p| (p.code.as_str(), p.points)).collect();
        assert_eq!(
            points,
            [
                ("overdue-follow-ups", 30),
                ("broken-promises", 15),
                ("overdue-promises", 10),
                ("wishes-without-headway", 5)
            ]
        );
        assert_eq!(h.score, 40);
        inputs.last_contact = None;
        inputs.promises =
            vec![
                PromiseFact { due_on: today(), outcome: Some(Outcome::Broken), standing: false };
                3
            ];
        assert_eq!(health(&inputs, now(), today()).score, 100 - 30 - 30 - 5 - 15);
        inputs.wishes = vec![WishFact { status: WishStatus::Open, last_activity_at: ago(99) }; 9];
        inputs.promises.extend(vec![
            PromiseFact {
                due_on: today() - TimeDelta::days(3),
                outcome: None,
                standing: false
            };
            3
        ]);
        assert_eq!(health(&inputs, now(), today()).score, 0);
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
        let h = health(&inputs, now(), today());
        assert_eq!(h.score, 90, "{:?}", h.penalties);
        assert_eq!(h.penalties[0].code, "slow-longest-answer");
        // A slow median too.
        inputs.held_purchases = Some(vec![HeldPurchaseFact {
            flagged_at: ago(5),
            answered_at: hours_after(ago(5), 25),
        }]);
        let h = health(&inputs, now(), today());
        assert_eq!(h.score, 90);
        assert_eq!(h.penalties[0].code, "slow-median-answer");
        // No held purchases: no figures, no deduction.
        inputs.held_purchases = Some(vec![]);
        let h = health(&inputs, now(), today());
        assert_eq!(h.answer_speed, Some(AnswerSpeed::default()));
        assert_eq!(h.score, 100);
        // A call logged as taking place before the flag counts as zero hours.
        let early =
            vec![HeldPurchaseFact { flagged_at: ago(1), answered_at: hours_after(ago(1), -3) }];
        assert_eq!(answer_speed(&early, now()).max_hours, Some(0.0));
    }
}
