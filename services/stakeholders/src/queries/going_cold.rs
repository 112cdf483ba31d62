//! People going cold (`GET /v1/reports/going-cold`): the people whose goodwill the gate rests
//! on, not contacted for N business days of the district's calendar, most overdue first, so
//! that IT calls on them before their trust runs out.
//!
//! - **Who is watched** ([`watched`], the one place that says so): principals, whose signatures
//!   the gate rests on, and advocates, whatever their role: people who have spoken for IT to
//!   someone else (`POST /v1/stakeholders/{id}/advocacy`), whose word brought others over.
//!   Speaking for IT is not contact with IT: it does not warm the advocate up.
//! - **Contact** is a conversation ([`last_meaningful_contact`], as relationship health has
//!   it). Someone never met counts from the day they were registered: IT has known of them
//!   that long without meeting them.
//! - **N** is the district's `going_cold_after_business_days` (`GET /v1/reminder-settings`,
//!   20 until set), or the request's `business_days`. Someone is going cold once N business
//!   days have passed since the contact's day: on the Nth business day after it.

use chrono::{DateTime, NaiveDate, Utc};
use events::reminders::BusinessDaySpan;
use events::stakeholders::StakeholderRole;
use events::values::{SchoolId, ShortText};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use web::csv::{Cell, Csv};

use super::last_meaningful_contact;
use crate::domain::health::{AsOf, contact_decay};
use crate::read_models::{SchoolDoc, StakeholderDoc};

/// A person going cold.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GoingColdRow {
    pub stakeholder_id: Uuid,
    pub name: ShortText,
    pub role: StakeholderRole,
    /// They have spoken for IT to someone: an advocate (whatever their role).
    pub advocate: bool,
    pub school_id: Option<SchoolId>,
    pub school_name: Option<ShortText>,
    /// When the last conversation with them was held; `null`: never.
    pub last_contact: Option<DateTime<Utc>>,
    /// Business days since the last conversation's day or, if none was ever held, since the
    /// day they were registered.
    pub business_days_since: u32,
    /// When the count starts: the last conversation, or their registration.
    pub since: DateTime<Utc>,
    /// No conversation was ever held with them.
    pub never_contacted: bool,
    /// What contact is worth now in their relationship health (of 30 points; see
    /// `health.contact` on their profile).
    pub contact_worth: f64,
}

/// People going cold.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GoingColdReport {
    pub as_of: DateTime<Utc>,
    /// The district's date then.
    pub today: NaiveDate,
    /// A person is listed when this many business days or more have passed without contact:
    /// the request's `business_days`, else the district's setting.
    #[schema(minimum = 1, maximum = 260)]
    pub business_days: u16,
    /// The half-life of contact's worth (the district's setting), for `contact_worth`.
    #[schema(minimum = 1, maximum = 260)]
    pub half_life_business_days: u16,
    /// People watched for going cold: principals and advocates.
    pub watched: u32,
    /// Those going cold, most overdue first (never met before met at the same count, then by
    /// name).
    pub rows: Vec<GoingColdRow>,
}

/// Whether a person is watched for going cold: a principal, or an advocate, not erased (an
/// erased person left, or asked to be forgotten: nobody is to reach out to them).
pub fn watched(person: &StakeholderDoc) -> bool {
    person.erased_at.is_none() && (person.role == StakeholderRole::Principal || is_advocate(person))
}

/// Whether they have spoken for IT to someone.
fn is_advocate(person: &StakeholderDoc) -> bool {
    !person.spoke_for_it.is_empty()
}

/// The people of `people` going cold as of a moment: watched, and without contact for
/// `business_days` business days or more.
pub fn going_cold(
    people: &[StakeholderDoc],
    schools: &[SchoolDoc],
    as_of: &AsOf,
    business_days: BusinessDaySpan,
) -> GoingColdReport {
    let school_name =
        |id: &SchoolId| schools.iter().find(|s| &s.school_id == id).map(|s| s.name.clone());
    let watched: Vec<&StakeholderDoc> = people.iter().filter(|p| watched(p)).collect();
    let mut rows: Vec<GoingColdRow> = watched
        .iter()
        .map(|p| {
            let last_contact = last_meaningful_contact(p);
            let since = last_contact.unwrap_or(p.registered_at);
            GoingColdRow {
                stakeholder_id: p.stakeholder_id,
                name: p.name.clone(),
                role: p.role,
                advocate: is_advocate(p),
                school_id: p.school_id.clone(),
                school_name: p.school_id.as_ref().and_then(school_name),
                last_contact,
                business_days_since: as_of.business_days_since(since),
                since,
                never_contacted: last_contact.is_none(),
                contact_worth: contact_decay(last_contact, as_of).worth,
            }
        })
        .filter(|row| row.business_days_since >= u32::from(business_days.get()))
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &GoingColdRow| {
            (
                std::cmp::Reverse(r.business_days_since),
                !r.never_contacted,
                r.name.as_str().to_lowercase(),
                r.stakeholder_id,
            )
        };
        key(a).cmp(&key(b))
    });
    GoingColdReport {
        as_of: as_of.now,
        today: as_of.today(),
        business_days: business_days.get(),
        half_life_business_days: as_of.contact.half_life.get(),
        watched: watched.len() as u32,
        rows,
    }
}

impl GoingColdReport {
    /// The report as CSV: a header row and a row per person, most overdue first.
    pub fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "stakeholder_id",
            "name",
            "role",
            "advocate",
            "school_id",
            "school_name",
            "last_contact",
            "never_contacted",
            "business_days_since",
            "contact_worth",
        ]);
        for r in &self.rows {
            csv.row([
                Cell::Owned(r.stakeholder_id.to_string()),
                Cell::Text(r.name.as_str()),
                Cell::Text(r.role.as_str()),
                Cell::Text(if r.advocate { "true" } else { "false" }),
                r.school_id.as_ref().map(SchoolId::as_str).into(),
                r.school_name.as_ref().map(ShortText::as_str).into(),
                r.last_contact.map_or(Cell::Empty, |t| Cell::Owned(rfc3339(t))),
                Cell::Text(if r.never_contacted { "true" } else { "false" }),
                Cell::Number(i64::from(r.business_days_since)),
                Cell::Float(Some(r.contact_worth)),
            ]);
        }
        csv
    }
}

/// A time as the JSON shows it.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use events::calendar::DistrictCalendar;
    use events::reminders::ContactSettings;

    use super::*;
    use crate::read_models::testing::*;
    use crate::read_models::{Schools, Stakeholders};

    fn span(n: u16) -> BusinessDaySpan {
        BusinessDaySpan::new(n).unwrap()
    }

    fn as_of(now: DateTime<Utc>) -> AsOf {
        AsOf::new(now, DistrictCalendar::default(), ContactSettings::default())
    }

    fn person(
        id: u128,
        name: &str,
        role: StakeholderRole,
        school: Option<SchoolId>,
        registered: &str,
        met: Option<&str>,
    ) -> StakeholderDoc {
        let registered_at: DateTime<Utc> = registered.parse().unwrap();
        let mut doc = doc::<Stakeholders>(&district_docs(), DANA);
        doc.stakeholder_id = Uuid::from_u128(id);
        doc.name = short(name);
        doc.role = role;
        doc.school_id = school;
        doc.registered_at = registered_at;
        doc.last_contact = met.map(|m| m.parse().unwrap());
        doc.spoke_for_it = vec![];
        doc
    }

    /// Lincoln's principal (id 1), registered 2024-08-01 and met Friday 2024-09-06.
    fn ada(name: &str) -> StakeholderDoc {
        let met = Some("2024-09-06T15:00:00Z");
        person(1, name, StakeholderRole::Principal, Some(lincoln()), "2024-08-01T00:00:00Z", met)
    }

    /// A principal without a school (id 4), registered Friday 2024-09-06 and never met.
    fn zed() -> StakeholderDoc {
        person(4, "Zed Principal", StakeholderRole::Principal, None, "2024-09-06T09:00:00Z", None)
    }

    /// `person` has spoken for IT to someone.
    fn advocate(mut person: StakeholderDoc) -> StakeholderDoc {
        person.spoke_for_it.push(events::stakeholders::SpokeForIt {
            to_stakeholder_id: DANA,
            about: long("How the loaner pool saved their science fair"),
            on: day("2024-09-02"),
        });
        person
    }

    #[test]
    fn principals_without_contact_for_n_business_days_most_overdue_first() {
        let schools = collection::<Schools>(&district_docs());
        // Monday 2024-10-07, noon.
        let now: DateTime<Utc> = "2024-10-07T12:00:00Z".parse().unwrap();
        let people = vec![
            // Met Friday 2024-09-06: 21 business days.
            ada("Ada Principal"),
            // Met Monday 2024-09-09: exactly 20, going cold today.
            person(
                2,
                "Bo Principal",
                StakeholderRole::Principal,
                Some(washington()),
                "2024-08-01T00:00:00Z",
                Some("2024-09-09T15:00:00Z"),
            ),
            // Met Tuesday 2024-09-10: 19, not yet.
            person(
                3,
                "Cy Principal",
                StakeholderRole::Principal,
                None,
                "2024-08-01T00:00:00Z",
                Some("2024-09-10T15:00:00Z"),
            ),
            // Never met, registered Friday 2024-09-06: 21, listed before Ada at the same count.
            zed(),
            // A teacher is not watched, however long ago.
            person(
                5,
                "Tea Cher",
                StakeholderRole::Teacher,
                Some(lincoln()),
                "2024-01-01T00:00:00Z",
                None,
            ),
            // Nor is an erased principal: nobody is to reach out to them.
            StakeholderDoc {
                erased_at: Some(now),
                ..person(
                    7,
                    "(erased)",
                    StakeholderRole::Principal,
                    None,
                    "2024-01-01T00:00:00Z",
                    None,
                )
            },
            // Unless they spoke for IT: an advocate, met Tuesday 2024-09-03 (24 business days).
            advocate(person(
                6,
                "Ann Advocate",
                StakeholderRole::Librarian,
                Some(washington()),
                "2024-01-01T00:00:00Z",
                Some("2024-09-03T15:00:00Z"),
            )),
        ];
        let report = going_cold(&people, &schools, &as_of(now), span(20));
        assert_eq!(
            (report.watched, report.business_days, report.half_life_business_days),
            (5, 20, 45)
        );
        let rows: Vec<_> = report
            .rows
            .iter()
            .map(|r| (r.name.as_str(), r.business_days_since, r.never_contacted))
            .collect();
        assert_eq!(
            rows,
            [
                ("Ann Advocate", 24, false),
                ("Zed Principal", 21, true),
                ("Ada Principal", 21, false),
                ("Bo Principal", 20, false)
            ]
        );
        let ann = &report.rows[0];
        assert_eq!((ann.role, ann.advocate), (StakeholderRole::Librarian, true));
        assert!(!report.rows[1].advocate);
        let ada = &report.rows[2];
        assert_eq!(ada.school_name.as_ref().map(ShortText::as_str), Some("Lincoln Elementary"));
        assert_eq!(ada.contact_worth, 21.7, "30 × ½^(21/45)");
        assert_eq!(report.rows[1].contact_worth, 0.0);
        assert_eq!(report.rows[1].since, people[3].registered_at);
        // A shorter threshold lists Cy too; a longer one only Ann.
        assert_eq!(going_cold(&people, &schools, &as_of(now), span(19)).rows.len(), 5);
        assert_eq!(going_cold(&people, &schools, &as_of(now), span(22)).rows.len(), 1);
        // A week later, with the district closed all that week, nothing has changed.
        let mut calendar = DistrictCalendar::default();
        for d in now.date_naive().iter_days().skip(1).take(7) {
            calendar = calendar.with_closure(d, "Fall break");
        }
        let closed = AsOf::new(now + TimeDelta::days(7), calendar, ContactSettings::default());
        assert_eq!(going_cold(&people, &schools, &closed, span(20)).rows, report.rows);
    }

    #[test]
    fn the_csv_has_a_row_per_person() {
        let schools = collection::<Schools>(&district_docs());
        let now: DateTime<Utc> = "2024-10-07T12:00:00Z".parse().unwrap();
        let people = vec![ada("Ada, Principal"), zed()];
        let csv = going_cold(&people, &schools, &as_of(now), span(20)).csv().finish();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "stakeholder_id,name,role,advocate,school_id,school_name,last_contact,never_contacted,business_days_since,contact_worth"
        );
        assert_eq!(
            lines[1],
            format!("{},Zed Principal,principal,false,,,,true,21,0", Uuid::from_u128(4))
        );
        assert_eq!(
            lines[2],
            format!(
                "{},\"Ada, Principal\",principal,false,lincoln-elem,Lincoln Elementary,2024-09-06T15:00:00Z,false,21,21.7",
                Uuid::from_u128(1)
            )
        );
        assert_eq!(lines.len(), 4, "and the last line's end");
    }
}
