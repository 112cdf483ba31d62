use events::district::{BusinessMinutes, DistrictEvent, SlaTargetsSet};
use events::gate::{Decision as GateDecision, PurchaseApproved, PurchaseCancelled, PurchaseEvent};
use events::reminders::BusinessDaySpan;
use events::values::Money;
use proptest::prelude::*;

use super::*;
use crate::read_models::testing::{self, day};

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
        wishes: vec![WishFact {
            status: WishStatus::InProgress,
            last_activity_at: ago(20),
            headway: 1,
        }],
        held_purchases: None,
        requests: vec![],
        school_card_spend: None,
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
        requests: vec![],
        school_card_spend: None,
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
        let found: Vec<_> = self.0.penalties.iter().map(|p| (p.code.as_str(), p.points)).collect();
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
    let h = given(inputs.clone()).when_judged(&at(now() + TimeDelta::weeks(18))).then_score(78).0;
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
    inputs.wishes.push(WishFact {
        status: WishStatus::Open,
        last_activity_at: ago(61),
        headway: 0,
    }); // 5
    inputs.wishes.push(WishFact {
        status: WishStatus::Done,
        last_activity_at: ago(400),
        headway: 0,
    }); // 0
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
        vec![PromiseFact { due_on: today(), outcome: Some(Outcome::Broken), standing: false }; 3];
    given(inputs.clone()).when_judged(&at(now())).then_score(100 - 30 - 30 - 5 - 30);
    inputs.wishes =
        vec![WishFact { status: WishStatus::Open, last_activity_at: ago(99), headway: 0 }; 9];
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
    let (speed, ..) = answer_speed(&held, now());
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
    inputs.held_purchases =
        Some(vec![HeldPurchaseFact { flagged_at: ago(5), answered_at: hours_after(ago(5), 25) }]);
    given(inputs.clone())
        .when_judged(&at(now()))
        .then_score(90)
        .then_penalties(&[("slow-median-answer", 10)]);
    // Just past the limit is past it, though it shows as 24.0 hours (a tenth of an hour).
    let just_over = ago(5) + TimeDelta::hours(24) + TimeDelta::minutes(2);
    inputs.held_purchases =
        Some(vec![HeldPurchaseFact { flagged_at: ago(5), answered_at: Some(just_over) }]);
    let h = given(inputs.clone())
        .when_judged(&at(now()))
        .then_score(90)
        .then_penalties(&[("slow-median-answer", 10)])
        .0;
    assert_eq!(h.answer_speed.unwrap().median_hours, Some(24.0));
    // No held purchases: no figures, no deduction.
    inputs.held_purchases = Some(vec![]);
    let h = given(inputs).when_judged(&at(now())).then_score(100).0;
    assert_eq!(h.answer_speed, Some(AnswerSpeed::default()));
    // A call logged as taking place before the flag counts as zero hours.
    let early = vec![HeldPurchaseFact { flagged_at: ago(1), answered_at: hours_after(ago(1), -3) }];
    assert_eq!(answer_speed(&early, now()).0.max_hours, Some(0.0));
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
        prop::collection::vec((date(200), prop::option::of(any::<bool>()), any::<bool>()), 0..6),
        prop::collection::vec((wish_status(), before(400)), 0..6),
        prop::option::of(prop::collection::vec((before(300), prop::option::of(0i64..400)), 0..6)),
    )
        .prop_map(|(last_contact, conversations, follow_ups, promises, wishes, held)| {
            HealthInputs {
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
                    .map(|(status, last_activity_at)| WishFact {
                        status,
                        last_activity_at,
                        headway: 0,
                    })
                    .collect(),
                held_purchases: held.map(|held| {
                    held.into_iter()
                        .map(|(flagged_at, hours)| HeldPurchaseFact {
                            flagged_at,
                            answered_at: hours.map(|h| flagged_at + TimeDelta::hours(h)),
                        })
                        .collect()
                }),
                requests: vec![],
                school_card_spend: None,
            }
        })
}

/// The clocks of a purchase paid by card, held at `flagged` (the log records each event when
/// it took place), then `events` at the hours after the flag given.
fn clocks(flagged: DateTime<Utc>, events: Vec<(i64, PurchaseEvent)>) -> PurchaseClocks {
    let mut clocks = PurchaseClocks::default();
    let id = uuid::Uuid::from_u128(0x77);
    clocks.apply(&testing::submitted(id, testing::lincoln()), flagged);
    clocks.apply(&testing::decided(GateDecision::Held), flagged);
    for (hours, event) in events {
        clocks.apply(&event, flagged + TimeDelta::hours(hours));
    }
    clocks
}

fn reached(flagged: DateTime<Utc>, hours: i64) -> (i64, PurchaseEvent) {
    (hours, testing::call(true, flagged + TimeDelta::hours(hours)))
}

fn approved() -> PurchaseEvent {
    PurchaseApproved { note: None, alternative_id: None, occurred_at: None }.into()
}

/// A district in the default calendar (UTC, 09:00 to 17:00 on weekdays) whose targets are a
/// first contact within 240 business minutes and a decision within two business days (960),
/// set long before.
fn with_targets(now: DateTime<Utc>) -> AsOf {
    let minutes = |n| BusinessMinutes::new(n).unwrap();
    let targets = SlaTargetsSet {
        first_contact_minutes: minutes(240),
        decision_minutes: minutes(960),
        advisory_outreach_minutes: minutes(480),
        warn_at_percent: vec![50],
        escalate_to: None,
        by_payment_method: Default::default(),
    };
    let mut district = District::default();
    district.apply(&DistrictEvent::SlaTargetsSet(targets), 1, ago(400));
    AsOf::in_district(now, district, ContactSettings::default())
}

#[test]
fn given_purchases_they_requested_then_health_counts_what_happened_to_them() {
    // Flagged Monday 2024-08-26 at 10:00 (UTC, the default calendar's zone).
    let flagged: DateTime<Utc> = "2024-08-26T10:00:00Z".parse().unwrap();
    let request = |answered: Option<i64>, alternatives, outcome, clocks| RequestFact {
        flagged_at: flagged,
        answered_at: answered.map(|h| flagged + TimeDelta::hours(h)),
        alternatives_proposed: alternatives,
        alternative_accepted: false,
        outcome,
        clocks,
    };
    let mut inputs = healthy();
    inputs.requests = vec![
        // Reached two hours after the flag, approved the next day: both clocks met.
        request(
            Some(2),
            1,
            RequestOutcome::Approved,
            clocks(flagged, vec![reached(flagged, 2), (24, approved())]),
        ),
        // Reached Tuesday at 16:00 (fourteen business hours, over the four of the target),
        // cancelled then: first contact late, the decision in time.
        request(
            Some(30),
            1,
            RequestOutcome::Cancelled { call_before_cancel: true },
            clocks(
                flagged,
                vec![
                    reached(flagged, 30),
                    (
                        30,
                        PurchaseCancelled {
                            reason: testing::long("Not needed"),
                            occurred_at: None,
                        }
                        .into(),
                    ),
                ],
            ),
        ),
        // Still waiting, two weeks on: both clocks breached.
        request(None, 0, RequestOutcome::Open, clocks(flagged, vec![])),
        // Reached within the hour, cancelled without an alternative.
        request(
            Some(1),
            0,
            RequestOutcome::Cancelled { call_before_cancel: false },
            clocks(
                flagged,
                vec![
                    reached(flagged, 1),
                    (
                        1,
                        PurchaseCancelled {
                            reason: testing::long("Not needed"),
                            occurred_at: None,
                        }
                        .into(),
                    ),
                ],
            ),
        ),
    ];
    let health = given(inputs.clone()).when_judged(&with_targets(now())).0;
    assert_eq!(
        health.requests,
        RequestCounts {
            held: 4,
            waiting: 1,
            answered_within_a_day: 2,
            answered_within_target: 2,
            decided_within_target: 3,
            missed_target: 2,
            offered_alternatives: 2,
            alternatives_accepted: 0,
            approved: 1,
            cancelled: 2,
            cancelled_without_a_call: 1,
        }
    );
    // Counted, not scored: the score is what it was without them.
    assert_eq!(health.score, given(healthy()).when_judged(&with_targets(now())).0.score);
    // While the district has set no targets, no clock runs: nothing is within or past one.
    let untimed = given(inputs).when_judged(&at(now())).0.requests;
    assert_eq!(
        (untimed.answered_within_target, untimed.decided_within_target, untimed.missed_target),
        (0, 0, 0)
    );
    assert_eq!(untimed.answered_within_a_day, 2);
}

#[test]
fn given_a_weekend_or_a_closure_between_flag_and_call_then_only_business_time_counts() {
    // Flagged Friday 2024-08-30 at 16:00; the target is four business hours.
    let flagged: DateTime<Utc> = "2024-08-30T16:00:00Z".parse().unwrap();
    let reached_after = |hours| RequestFact {
        flagged_at: flagged,
        answered_at: Some(flagged + TimeDelta::hours(hours)),
        alternatives_proposed: 0,
        alternative_accepted: false,
        outcome: RequestOutcome::Open,
        clocks: clocks(flagged, vec![reached(flagged, hours)]),
    };
    // Reached Monday at 11:00: three business hours, though 67 hours passed.
    let counts = request_counts(&[reached_after(67)], &with_targets(now()));
    assert_eq!((counts.answered_within_target, counts.answered_within_a_day), (1, 0));
    // Reached Monday at 14:00: six business hours, late…
    let counts = request_counts(&[reached_after(70)], &with_targets(now()));
    assert_eq!(counts.answered_within_target, 0);
    // …unless the district was closed that Monday (Labor Day): one business hour, in time.
    let mut closed = with_targets(now());
    closed.district.calendar.close(day("2024-09-02"), testing::short("Labor Day"));
    let counts = request_counts(&[reached_after(70)], &closed);
    assert_eq!(counts.answered_within_target, 1);
    // Still undecided ten days on, either way: past the decision target.
    assert_eq!(counts.missed_target, 1);
}

#[test]
fn given_an_accepted_alternative_then_it_is_counted_beside_those_offered() {
    let flagged = ago(3);
    let fact = |accepted| RequestFact {
        flagged_at: flagged,
        answered_at: Some(flagged + TimeDelta::hours(1)),
        alternatives_proposed: 2,
        alternative_accepted: accepted,
        outcome: RequestOutcome::Approved,
        clocks: PurchaseClocks::default(),
    };
    let counts = request_counts(&[fact(true), fact(false)], &at(now()));
    assert_eq!((counts.offered_alternatives, counts.alternatives_accepted), (2, 1));
}

#[test]
fn given_promises_and_wishes_then_health_counts_those_kept_broken_and_progressed() {
    let mut inputs = healthy();
    let promise = |outcome| PromiseFact { due_on: today(), outcome, standing: false };
    inputs.promises =
        vec![promise(Some(Outcome::Kept)), promise(Some(Outcome::Broken)), promise(None)];
    let wish = |status, headway| WishFact { status, last_activity_at: ago(5), headway };
    inputs.wishes = vec![
        wish(WishStatus::Open, 0),
        wish(WishStatus::InProgress, 1),
        wish(WishStatus::Done, 3),
        wish(WishStatus::Declined, 1),
    ];
    let h = given(inputs).when_judged(&at(now())).0;
    assert_eq!(h.promises, PromiseCounts { open: 1, kept: 1, broken: 1, overdue: 0 });
    assert_eq!(
        h.wishes,
        WishCounts {
            open: 1,
            in_progress: 1,
            done: 1,
            declined: 1,
            without_headway: 0,
            progressed: 3
        }
    );
}

#[test]
fn given_card_spend_at_their_school_then_the_unchecked_is_counted_per_currency() {
    let spend = |school: &str, date: &str, amount: &str, currency: &str, status| CardSpend {
        school_id: SchoolId::parse(school).unwrap(),
        transaction_date: day(date),
        amount: Money::parse(amount).unwrap(),
        currency: Currency::parse(currency).unwrap(),
        status,
    };
    use events::card::TransactionStatus::*;
    let lincoln = testing::lincoln();
    let mut inputs = healthy();
    inputs.school_card_spend = Some((
        lincoln.clone(),
        vec![
            spend("lincoln-elem", "2024-09-02", "1299.99", "USD", UncheckedTechnology),
            spend("lincoln-elem", "2024-03-01", "100.01", "USD", UncheckedTechnology),
            spend("lincoln-elem", "2024-05-01", "80.00", "CAD", UncheckedTechnology),
            // Matched, ambiguous: not unchecked.
            spend("lincoln-elem", "2024-09-03", "499.00", "USD", Matched),
            spend("lincoln-elem", "2024-09-03", "499.00", "USD", Ambiguous),
            // More than a year before today (2024-09-10): out of the window.
            spend("lincoln-elem", "2023-09-09", "5000.00", "USD", UncheckedTechnology),
            // Another school's.
            spend("washington-high", "2024-09-02", "10.00", "USD", UncheckedTechnology),
        ],
    ));
    let h = given(inputs).when_judged(&at(now())).0;
    let spend = h.unchecked_card_spend.unwrap();
    assert_eq!((spend.school_id, spend.since, spend.transactions), (lincoln, day("2023-09-11"), 3));
    let totals: Vec<_> = spend
        .by_currency
        .iter()
        .map(|c| (c.currency.as_str(), c.transactions, c.total.as_str()))
        .collect();
    assert_eq!(totals, [("CAD", 1, "80.00"), ("USD", 2, "1400.00")]);
    // Counted, not scored.
    assert_eq!(h.score, 100);
    // No school, no figure.
    assert_eq!(given(healthy()).when_judged(&at(now())).0.unchecked_card_spend, None);
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
            met.wishes.push(WishFact { status: WishStatus::Open, last_activity_at: held_at, headway: 0 });
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

#[test]
fn given_a_wish_then_it_is_stale_when_not_closed_and_quiet_over_sixty_days() {
    let last: DateTime<Utc> = "2024-06-01T12:00:00Z".parse().unwrap();
    let sixty = last + TimeDelta::days(STALE_WISH_DAYS);
    let later = sixty + TimeDelta::seconds(1);
    for status in [WishStatus::Open, WishStatus::InProgress] {
        assert!(!is_stale_wish(status, last, sixty), "{status}: sixty days is not over sixty");
        assert!(is_stale_wish(status, last, later), "{status}");
    }
    for status in [WishStatus::Done, WishStatus::Declined] {
        assert!(!is_stale_wish(status, last, later), "{status}: a closed wish is never stale");
    }
}
