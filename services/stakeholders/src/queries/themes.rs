//! Which themes of IT's vision carry which schools (`GET /v1/reports/themes`): for each theme
//! of the vision in force, the schools whose people's visions IT has connected to it in a
//! conversation (`connections`), with how many people and conversations, and the latest; the
//! themes no school has connected to yet are listed too (a theme nobody shares is worth
//! knowing), and so are the schools connected to no theme.
//!
//! A conversation counts for the school the person works at now. A connection to a theme the
//! vision no longer has is left out (the vision in force is what leadership acts on).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use events::stakeholders::DistrictVision;
use events::values::{SchoolId, ShortText, ThemeId};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use web::csv::{Cell, Csv};

use crate::read_models::{SchoolDoc, StakeholderDoc};

/// The themes report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ThemesReport {
    /// The version of IT's vision the themes are from (0: no vision set yet).
    pub vision_version: u64,
    /// Every theme of the vision, in IT's order.
    pub themes: Vec<ThemeSchools>,
    /// Schools none of whose people's visions is connected to a theme yet, by name.
    pub schools_without_a_theme: Vec<SchoolRef>,
}

/// One theme and the schools it carries.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ThemeSchools {
    pub theme_id: ThemeId,
    pub title: ShortText,
    /// The schools connected to it, most people first, then by name.
    pub schools: Vec<ThemeSchool>,
    /// How many schools, and how many people (any school or none) connected to it.
    pub school_count: u32,
    pub people: u32,
}

/// A school carried by a theme.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ThemeSchool {
    pub school_id: SchoolId,
    pub school_name: ShortText,
    /// People at the school whose visions IT connected to the theme.
    pub people: u32,
    /// Conversations that made the connection.
    pub conversations: u32,
    /// The latest of them.
    pub last_connected_at: DateTime<Utc>,
}

/// A school, named.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SchoolRef {
    pub school_id: SchoolId,
    pub school_name: ShortText,
}

#[derive(Default)]
struct Tally {
    people: BTreeSet<Uuid>,
    conversations: u32,
    last: Option<DateTime<Utc>>,
}

/// The report from the vision in force, the schools and the people.
pub fn themes(
    vision: &DistrictVision,
    schools: &[SchoolDoc],
    people: &[StakeholderDoc],
) -> ThemesReport {
    let names: BTreeMap<&SchoolId, &ShortText> =
        schools.iter().map(|s| (&s.school_id, &s.name)).collect();
    let themes = vision.current.as_ref().map(|v| v.themes.as_slice()).unwrap_or_default();
    // (theme, school) → tally; theme → people anywhere.
    let mut by_school: BTreeMap<(&ThemeId, &SchoolId), Tally> = BTreeMap::new();
    let mut people_by_theme: BTreeMap<&ThemeId, BTreeSet<Uuid>> = BTreeMap::new();
    for person in people {
        for conversation in &person.conversations {
            for theme in &conversation.connections {
                let Some(theme) = themes.iter().map(|t| &t.theme_id).find(|t| *t == theme) else {
                    continue;
                };
                people_by_theme.entry(theme).or_default().insert(person.stakeholder_id);
                let Some(school) = person.school_id.as_ref().filter(|s| names.contains_key(s))
                else {
                    continue;
                };
                let tally = by_school.entry((theme, school)).or_default();
                tally.people.insert(person.stakeholder_id);
                tally.conversations += 1;
                tally.last = tally.last.max(Some(conversation.held_at));
            }
        }
    }
    let connected: BTreeSet<&SchoolId> = by_school.keys().map(|(_, s)| *s).collect();
    let themes = themes
        .iter()
        .map(|theme| {
            let mut schools: Vec<ThemeSchool> = by_school
                .iter()
                .filter(|((t, _), _)| **t == theme.theme_id)
                .filter_map(|((_, school), tally)| {
                    Some(ThemeSchool {
                        school_id: (*school).clone(),
                        school_name: (*names.get(school)?).clone(),
                        people: tally.people.len() as u32,
                        conversations: tally.conversations,
                        last_connected_at: tally.last?,
                    })
                })
                .collect();
            schools.sort_by(|a, b| {
                b.people
                    .cmp(&a.people)
                    .then_with(|| a.school_name.as_str().cmp(b.school_name.as_str()))
            });
            ThemeSchools {
                theme_id: theme.theme_id.clone(),
                title: theme.title.clone(),
                school_count: schools.len() as u32,
                people: people_by_theme.get(&theme.theme_id).map_or(0, |p| p.len() as u32),
                schools,
            }
        })
        .collect();
    let mut schools_without_a_theme: Vec<SchoolRef> = schools
        .iter()
        .filter(|s| !connected.contains(&s.school_id))
        .map(|s| SchoolRef { school_id: s.school_id.clone(), school_name: s.name.clone() })
        .collect();
    schools_without_a_theme.sort_by(|a, b| a.school_name.as_str().cmp(b.school_name.as_str()));
    ThemesReport { vision_version: vision.version, themes, schools_without_a_theme }
}

impl ThemesReport {
    /// One row per theme and school it carries (a theme carrying none has one row without a
    /// school), then one per school without a theme.
    pub fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "theme_id",
            "title",
            "school_id",
            "school_name",
            "people",
            "conversations",
            "last_connected_at",
        ]);
        for theme in &self.themes {
            let lead = || [Cell::Text(theme.theme_id.as_str()), Cell::Text(theme.title.as_str())];
            if theme.schools.is_empty() {
                csv.row(lead().into_iter().chain(std::iter::repeat_n(Cell::Empty, 5)));
            }
            for s in &theme.schools {
                csv.row(lead().into_iter().chain([
                    Cell::Text(s.school_id.as_str()),
                    Cell::Text(s.school_name.as_str()),
                    Cell::Number(i64::from(s.people)),
                    Cell::Number(i64::from(s.conversations)),
                    Cell::Owned(
                        s.last_connected_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    ),
                ]));
            }
        }
        for s in &self.schools_without_a_theme {
            csv.row([
                Cell::Empty,
                Cell::Empty,
                Cell::Text(s.school_id.as_str()),
                Cell::Text(s.school_name.as_str()),
                Cell::Number(0),
                Cell::Number(0),
                Cell::Empty,
            ]);
        }
        csv
    }
}

#[cfg(test)]
mod tests {
    use events::stakeholders::{
        ConversationHeld, StakeholderRegistered, StakeholderRole, Theme, VisionSet,
    };
    use events::values::{Email, LongText};

    use super::*;
    use crate::read_models::AgreementStatus;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn school(id: &str, name: &str) -> SchoolDoc {
        SchoolDoc {
            school_id: SchoolId::parse(id).unwrap(),
            name: ShortText::parse(name).unwrap(),
            agreement_status: AgreementStatus::NeverSigned,
            agreements: vec![],
            promise_ids: vec![],
            registered_at: at("2025-08-01T00:00:00Z"),
            updated_at: at("2025-08-01T00:00:00Z"),
        }
    }

    fn person(school: &str) -> StakeholderDoc {
        let id = Uuid::now_v7();
        let registered = StakeholderRegistered {
            stakeholder_id: id,
            name: ShortText::parse("Dana Whitfield").unwrap(),
            email: Email::parse(&format!("{id}@district.org")).unwrap(),
            phone: None,
            role: StakeholderRole::Teacher,
            school_id: Some(SchoolId::parse(school).unwrap()),
        };
        StakeholderDoc::registered(registered, at("2025-08-01T00:00:00Z"))
    }

    fn theme(id: &str, title: &str) -> Theme {
        Theme { theme_id: ThemeId::parse(id).unwrap(), title: ShortText::parse(title).unwrap() }
    }

    fn vision() -> DistrictVision {
        let set = VisionSet {
            statement: LongText::parse("Technology every school can count on").unwrap(),
            themes: vec![
                theme("reliable", "Reliable devices"),
                theme("coding", "Every child codes"),
                theme("privacy", "Privacy first"),
            ],
        };
        DistrictVision { current: Some(set), version: 2 }
    }

    fn met(mut doc: StakeholderDoc, held_at: &str, themes: &[&str]) -> StakeholderDoc {
        doc.conversations.push(ConversationHeld {
            conversation_id: Uuid::now_v7(),
            held_at: at(held_at),
            location: ShortText::parse("The principal's office").unwrap(),
            their_vision: LongText::parse("Every child codes by fifth grade").unwrap(),
            stars: None,
            wish: None,
            notes: None,
            wish_id: None,
            connections: themes.iter().map(|t| ThemeId::parse(t).unwrap()).collect(),
            on_their_turf: true,
        });
        doc
    }

    #[test]
    fn each_theme_names_the_schools_it_carries() {
        let schools = [
            school("adams", "Adams Elementary"),
            school("bryant", "Bryant Middle"),
            school("cole", "Cole High"),
        ];
        let people = [
            met(person("adams"), "2025-09-02T15:00:00Z", &["reliable", "coding"]),
            met(
                met(person("adams"), "2025-09-03T15:00:00Z", &["reliable"]),
                "2025-10-03T15:00:00Z",
                &["reliable"],
            ),
            met(person("bryant"), "2025-09-04T15:00:00Z", &["reliable", "retired-theme"]),
        ];
        let report = themes(&vision(), &schools, &people);
        assert_eq!(report.vision_version, 2);
        let reliable = &report.themes[0];
        assert_eq!((reliable.school_count, reliable.people), (2, 3));
        assert_eq!(reliable.schools[0].school_name.as_str(), "Adams Elementary");
        assert_eq!((reliable.schools[0].people, reliable.schools[0].conversations), (2, 3));
        assert_eq!(reliable.schools[0].last_connected_at, at("2025-10-03T15:00:00Z"));
        assert_eq!(report.themes[1].school_count, 1);
        // A theme nobody shares yet, and a school with no theme.
        assert!(report.themes[2].schools.is_empty());
        assert_eq!(report.schools_without_a_theme.len(), 1);
        assert_eq!(report.schools_without_a_theme[0].school_id.as_str(), "cole");
        let csv = report.csv().finish();
        assert!(
            csv.contains(
                "\r\nreliable,Reliable devices,adams,Adams Elementary,2,3,2025-10-03T15:00:00Z\r\n"
            ),
            "{csv}"
        );
        assert!(csv.contains("\r\nprivacy,Privacy first,,,,,\r\n"), "{csv}");
        assert!(csv.ends_with("\r\n,,cole,Cole High,0,0,\r\n"), "{csv}");
    }

    #[test]
    fn without_a_vision_there_are_no_themes() {
        let report =
            themes(&DistrictVision::default(), &[school("adams", "Adams Elementary")], &[]);
        assert!(report.themes.is_empty());
        assert_eq!(report.schools_without_a_theme.len(), 1);
    }
}
