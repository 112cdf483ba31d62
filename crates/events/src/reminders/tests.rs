use chrono::TimeDelta;
use serde_json::json;

use super::*;
use crate::calendar::{BusinessHours, TimeZoneName, Weekday};
use crate::district::{DistrictEvent, DistrictSet};
use crate::stakeholders::{
    CALL_BEFORE_CANCEL, FollowUpDone, FollowUpScheduled, PromiseKept, PromiseMade,
};
use crate::values::{LongText, ShortText};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn lead(n: u8) -> BusinessDays {
    BusinessDays::new(n).unwrap()
}

/// Chicago, 08:00 to 16:30 on weekdays.
fn chicago() -> DistrictCalendar {
    DistrictCalendar::new(
        TimeZoneName::parse("America/Chicago").unwrap(),
        BusinessHours::new(
            ClockTime::parse("08:00").unwrap(),
            ClockTime::parse("16:30").unwrap(),
            Weekday::ALL[..5].to_vec(),
        )
        .unwrap(),
    )
}

/// The district with the Chicago calendar (version 1).
fn district() -> District {
    let set = DistrictSet {
        name: ShortText::parse("Springfield").unwrap(),
        time_zone: TimeZoneName::parse("America/Chicago").unwrap(),
        business_hours: chicago().hours().clone(),
        school_year_starts_in: None,
    };
    District::from_events([(&DistrictEvent::from(set), 1, t("2024-01-01T00:00:00Z"))])
}

const FOLLOW_UP: Uuid = Uuid::from_u128(7);
const PROMISE: Uuid = Uuid::from_u128(8);
const PERSON: Uuid = Uuid::from_u128(9);

fn follow_up(due_on: &str) -> ItemReminders {
    let mut item = ItemReminders::default();
    item.apply_follow_up(
        &FollowUpScheduled {
            followup_id: FOLLOW_UP,
            stakeholder_id: PERSON,
            about: LongText::parse("The loaner laptops").unwrap(),
            due_on: day(due_on),
        }
        .into(),
    );
    item
}

fn promise(due_on: &str, kind: Option<&str>) -> ItemReminders {
    let mut item = ItemReminders::default();
    item.apply_promise(
        &PromiseMade {
            promise_id: PROMISE,
            to: PromiseTo::Stakeholder { stakeholder_id: PERSON },
            text: LongText::parse("The projector fixed").unwrap(),
            due_on: day(due_on),
            owner: "it-jdoe".into(),
            made_on: day("2024-09-02"),
            kind: kind.map(str::to_owned),
        }
        .into(),
    );
    item
}

#[test]
fn due_soon_is_the_opening_of_the_lead_business_day() {
    let cal = chicago();
    // Friday 2024-09-13; Chicago is on CDT (UTC-5): 08:00 is 13:00Z.
    let friday = day("2024-09-13");
    let cases = [
        (2, "2024-09-11T13:00:00Z", "Wednesday"),
        (0, "2024-09-13T13:00:00Z", "the due day itself"),
        (1, "2024-09-12T13:00:00Z", "Thursday"),
        (5, "2024-09-06T13:00:00Z", "a week before: the weekend is skipped"),
    ];
    for (n, expected, why) in cases {
        assert_eq!(due_soon_at(&cal, friday, lead(n)), t(expected), "lead {n}: {why}");
    }
    // Due on a Saturday: counted from Friday.
    assert_eq!(due_soon_at(&cal, day("2024-09-14"), lead(0)), t("2024-09-13T13:00:00Z"));
    assert_eq!(due_soon_at(&cal, day("2024-09-15"), lead(1)), t("2024-09-12T13:00:00Z"));
    // Closures are skipped: Labor Day (Monday 2024-09-02), and a snow day on the Wednesday.
    let closed = chicago()
        .with_closure(day("2024-09-02"), "Labor Day")
        .with_closure(day("2024-09-11"), "Snow");
    assert_eq!(due_soon_at(&closed, friday, lead(2)), t("2024-09-10T13:00:00Z"));
    assert_eq!(due_soon_at(&closed, day("2024-09-03"), lead(1)), t("2024-08-30T13:00:00Z"));
}

#[test]
fn moments_follow_daylight_saving_time() {
    let cal = chicago();
    // Chicago falls back on Sunday 2024-11-03 at 02:00 (CDT UTC-5 to CST UTC-6).
    assert_eq!(due_soon_at(&cal, day("2024-11-04"), lead(1)), t("2024-11-01T13:00:00Z"));
    assert_eq!(due_soon_at(&cal, day("2024-11-04"), lead(0)), t("2024-11-04T14:00:00Z"));
    assert_eq!(overdue_at(&cal, day("2024-11-02")), t("2024-11-03T05:00:00Z"));
    assert_eq!(overdue_at(&cal, day("2024-11-03")), t("2024-11-04T06:00:00Z"));
    // And springs forward on Sunday 2024-03-10.
    assert_eq!(overdue_at(&cal, day("2024-03-09")), t("2024-03-10T06:00:00Z"));
    assert_eq!(overdue_at(&cal, day("2024-03-10")), t("2024-03-11T05:00:00Z"));
    assert_eq!(due_soon_at(&cal, day("2024-03-11"), lead(1)), t("2024-03-08T14:00:00Z"));
    // Until the district sets a calendar: UTC.
    let utc = DistrictCalendar::default();
    assert_eq!(overdue_at(&utc, day("2024-09-13")), t("2024-09-14T00:00:00Z"));
    assert_eq!(due_soon_at(&utc, day("2024-09-13"), lead(2)), t("2024-09-11T09:00:00Z"));
}

#[test]
fn overdue_is_when_the_districts_today_passes_the_due_date() {
    let cal = chicago();
    let due_on = day("2024-09-13");
    let at = overdue_at(&cal, due_on);
    let before = at - TimeDelta::microseconds(1);
    assert!(!crate::rules::is_past_due(due_on, cal.today(before)));
    assert!(crate::rules::is_past_due(due_on, cal.today(at)));
}

#[test]
fn each_reminder_in_turn_then_nothing() {
    let district = district();
    let mut item = follow_up("2024-09-13");
    let soon = t("2024-09-11T13:00:00Z");
    let overdue = t("2024-09-14T05:00:00Z");
    assert_eq!(item.next_wake(&district, lead(2)), Some(soon));
    assert!(item.due_events(&district, lead(2), soon - TimeDelta::seconds(1)).is_empty());

    let due = item.due_events(&district, lead(2), soon);
    let expected = ReminderEvent::from(FollowUpDueSoon {
        followup_id: FOLLOW_UP,
        stakeholder_id: PERSON,
        due_on: day("2024-09-13"),
        due_soon_at: soon,
        lead_business_days: lead(2),
        district_version: 1,
    });
    assert_eq!(due, vec![expected.clone()]);
    item.apply_recorded(&expected);
    assert!(item.due_events(&district, lead(2), soon + TimeDelta::days(1)).is_empty());
    assert_eq!(item.next_wake(&district, lead(2)), Some(overdue));

    let due = item.due_events(&district, lead(2), overdue);
    assert_eq!(due.len(), 1);
    assert!(matches!(&due[0], ReminderEvent::FollowUpOverdue(e) if e.overdue_at == overdue));
    item.apply_recorded(&due[0]);
    assert!(item.finished());
    assert_eq!(item.next_wake(&district, lead(2)), None);
    assert!(item.due_events(&district, lead(2), overdue + TimeDelta::days(30)).is_empty());
}

#[test]
fn already_overdue_when_judged_gets_only_the_overdue_reminder() {
    let district = district();
    let item = promise("2024-09-13", None);
    let late = t("2024-09-20T15:00:00Z");
    let due = item.due_events(&district, lead(2), late);
    assert_eq!(due.len(), 1, "{due:?}");
    let ReminderEvent::PromiseOverdue(e) = &due[0] else { panic!("{due:?}") };
    assert_eq!((e.overdue_at, e.owner.as_str()), (t("2024-09-14T05:00:00Z"), "it-jdoe"));
    // Its wake is due now (the due-soon moment passed unrecorded).
    assert!(item.next_wake(&district, lead(2)).is_some_and(|at| at <= late));
}

#[test]
fn settled_or_standing_things_get_no_reminders() {
    let district = district();
    let late = t("2024-09-20T15:00:00Z");
    let mut done = follow_up("2024-09-13");
    done.apply_follow_up(
        &FollowUpDone { on: day("2024-09-10"), note: None, stakeholder_id: None }.into(),
    );
    let mut kept = promise("2024-09-13", None);
    kept.apply_promise(
        &PromiseKept { evidence: LongText::parse("Fixed").unwrap(), on: day("2024-09-10") }.into(),
    );
    let standing = promise("2024-09-13", Some(CALL_BEFORE_CANCEL));
    for item in [done, kept, standing, ItemReminders::default()] {
        assert!(item.due_events(&district, lead(2), late).is_empty(), "{item:?}");
        assert_eq!(item.next_wake(&district, lead(2)), None, "{item:?}");
    }
}

#[test]
fn ids_name_the_item_the_type_and_the_due_date() {
    let district = district();
    let item = follow_up("2024-09-13");
    let soon = item.due_events(&district, lead(2), t("2024-09-12T00:00:00Z"));
    // Another lead, another calendar version: the same reminder, the same id.
    let again = item.due_events(&district, lead(3), t("2024-09-12T00:00:00Z"));
    assert_eq!(soon[0].event_id(), again[0].event_id());
    assert_ne!(soon[0], again[0]);
    let overdue = item.due_events(&district, lead(2), t("2024-09-15T00:00:00Z"));
    assert_ne!(soon[0].event_id(), overdue[0].event_id());
    let other_date =
        follow_up("2024-09-16").due_events(&district, lead(2), t("2024-09-13T00:00:00Z"));
    assert_ne!(soon[0].event_id(), other_date[0].event_id());
    let settings =
        ReminderEvent::from(RemindersSet { due_soon_business_days: lead(1), ..Default::default() });
    assert_eq!(settings.event_id(), None);
}

#[test]
fn events_round_trip_and_cover_the_family() {
    let district = district();
    let at = t("2024-09-12T00:00:00Z");
    let late = t("2024-09-15T00:00:00Z");
    let mut events = vec![ReminderEvent::from(RemindersSet {
        due_soon_business_days: lead(3),
        ..Default::default()
    })];
    for item in [follow_up("2024-09-13"), promise("2024-09-13", None)] {
        events.extend(item.due_events(&district, lead(2), at));
        events.extend(item.due_events(&district, lead(2), late));
    }
    let mut types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    types.sort_unstable();
    let mut all = ReminderEvent::EVENT_TYPES.to_vec();
    all.sort_unstable();
    assert_eq!(types, all);
    for event in events {
        let back = ReminderEvent::from_parts(event.event_type(), &event.to_data()).unwrap();
        assert_eq!(back, event);
    }
    assert!(REMINDER_SETTINGS_STREAM.starts_with(REMINDER_CATEGORY));
    assert_eq!(reminder_stream(PROMISE), format!("reminder-{PROMISE}"));
    let bad = json!({"due_soon_business_days": 21});
    assert!(ReminderEvent::from_parts("reminders-set", &bad).is_err());
}

#[test]
fn settings_fold_and_default() {
    let mut settings = ReminderSettings::default();
    assert_eq!((settings.due_soon_business_days.get(), settings.version), (2, 0));
    settings
        .apply(&RemindersSet { due_soon_business_days: lead(0), ..Default::default() }.into(), 1);
    assert_eq!((settings.due_soon_business_days.get(), settings.version), (0, 1));
    assert!(BusinessDays::new(21).is_err());
}

#[test]
fn contact_settings_default_and_an_older_event_leaves_them() {
    let span = |n| BusinessDaySpan::new(n).unwrap();
    let mut settings = ReminderSettings::default();
    assert_eq!(
        settings.contact,
        ContactSettings { going_cold_after: span(20), half_life: span(45) }
    );
    let set = settings_of(
        json!({"due_soon_business_days": 1, "going_cold_after_business_days": 10, "contact_half_life_business_days": 90}),
    );
    settings.apply(&set, 1);
    assert_eq!(
        settings.contact,
        ContactSettings { going_cold_after: span(10), half_life: span(90) }
    );
    assert_eq!(ReminderEvent::from(settings.set_event()), set);
    // Written before the contact settings existed: they stay as they are.
    settings.apply(&settings_of(json!({"due_soon_business_days": 3})), 2);
    assert_eq!((settings.due_soon_business_days.get(), settings.contact.half_life.get()), (3, 90));
    for bad in [0, 261] {
        assert!(BusinessDaySpan::new(bad).is_err());
        let data = json!({"due_soon_business_days": 1, "contact_half_life_business_days": bad});
        assert!(ReminderEvent::from_parts("reminders-set", &data).is_err());
    }
    assert_eq!(span(260).get(), BusinessDaySpan::MAX);
}

fn settings_of(data: serde_json::Value) -> ReminderEvent {
    ReminderEvent::from_parts("reminders-set", &data).unwrap()
}
