//! `GET /v1/reports/adoption`: how many schools route their technology purchases through IT,
//! over time, and how much of the technology spend went through gated schools.
//!
//! # Definitions
//!
//! - A school **counts** from the day it was registered (the district's date when the log
//!   recorded `school-registered`) or, if earlier, the date of its first agreement change. It is
//!   **gated** while its purchasing agreement stands: from an `agreement-signed` (dated
//!   `signed_on`) to an `agreement-withdrawn` (dated `withdrawn_on`).
//! - A purchase check is **technology** when its decision has at least one reason other than
//!   `not-technology`: at least one of its lines is technology (in the catalog or not), so the
//!   gate had something to say about it. A purchase whose every line is `not-technology` is not.
//! - **Technology spend** is the sum of the submitted totals of technology purchase checks,
//!   counted on the district's day they were asked about (when the gate decided, or for a
//!   check sent after the fact, when the purchase was requested; the day in the time zone in
//!   force when the gate decided), whatever IT did with them later: it
//!   measures what schools set out to buy, which is what the gate is meant to see. It is kept
//!   per currency.
//! - Spend **through gated schools** is the part whose decision recorded that the school had
//!   signed the agreement (`school_gated`): held for review or approved as supported.
//!
//! # Figures
//!
//! - `schools`: the schools counted and gated now (by the order of the log), and the share.
//! - `technology_spend`: per currency, in the period (all time without one).
//! - `months`: one entry per calendar month of the district
//!   from the first month with a school or a check to the current month (the district's
//!   today's: `as_of`): schools counted and gated at the month's end (by agreement dates), and
//!   that month's technology spend per currency (for a period that ends within a month, at
//!   the period's end).
//!   `gated_share_of_all` divides the schools gated at the month's end by every school counted
//!   now: a district that registers its schools after entering the agreements they signed
//!   earlier still sees its curve from the first signature to every school.
//! - `agreement_changes`: every signature and withdrawal in date order, with the schools gated
//!   and counted after it.
//!
//! - `signings`: every signature, by date, with the principal who signed and the **advocates**
//!   whose word came first: the people who spoke for IT to that principal (`spoke-for-it`) on
//!   or before the day they signed ([`events::rules::followed_advocacy`], the rule the
//!   stakeholders' advocates report uses too), since the school's previous withdrawal, each
//!   once; `advocacy` counts the signings that followed an advocate's word, and their share.
//! - Schools and people are named beside their ids (names as the log has them now).
//! - **A period** (`?from=`, `?to=`, `?school_year=`): the months it overlaps, the spend asked
//!   about in it, the agreement changes and signings dated in it; `schools` at its last day
//!   when it has ended (by the agreements' dates), else now.
//!
//! The CSV has one row per month and currency (`dimension` `month`; a month without checks has
//! one row with an empty currency), then one per signing (`signing`: school, day, principal,
//! advocates with the day of their first word).
//!
//! Schools and agreement changes are kept by the `reporting.schools` projection here; the spend
//! sums by the shared purchase projection ([`super::purchases`]).

use kernel::http::Reply;
use std::collections::{BTreeMap, BTreeSet};

use actix_web::get;
use chrono::{DateTime, NaiveDate, Utc};
use eventlog::{DocKey, Filter};
use events::Published;
use events::rules::followed_advocacy;
use events::school::SchoolEvent;
use events::stakeholders::StakeholderEvent;
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::csv::{Cell, Csv};
use super::figures::{last_day_of, month_of_day, months_between, share, share_cents};
use super::purchases::{self, SpendDoc, SpendSums};
use crate::Reporting;

use super::{
    Report, ReportParams, ReportPeriod, ReportRequest, ReportResponses, Scope, format_cents,
};

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.schools";
/// One document per school: [`SchoolDoc`].
pub const SCHOOLS: &str = "reporting.schools.schools";
/// One document per agreement change, keyed by its sequence: [`ChangeDoc`].
pub const CHANGES: &str = "reporting.schools.changes";
/// One document per stakeholder: [`PersonDoc`].
pub const PEOPLE: &str = "reporting.schools.people";
/// One document per time someone spoke for IT, keyed by its sequence: [`AdvocacyDoc`].
pub const ADVOCACY: &str = "reporting.schools.advocacy";

/// A school as the adoption report needs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchoolDoc {
    pub school_id: String,
    pub name: Option<String>,
    /// The day (UTC) its registration was recorded, in documents written before
    /// `registered_at` was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_on: Option<NaiveDate>,
    /// When its registration was recorded: the report takes the district's date of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<DateTime<Utc>>,
    /// Whether its agreement stands now (by the order of the log).
    pub gated: bool,
}

/// Signed or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Signed,
    Withdrawn,
}

/// One agreement change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeDoc {
    pub sequence: u64,
    pub school_id: String,
    pub change: Change,
    /// `signed_on` or `withdrawn_on`.
    pub on: NaiveDate,
    /// Who signed (a signature recorded before this was kept has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<Uuid>,
}

/// A person, as the report names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonDoc {
    pub stakeholder_id: Uuid,
    pub name: String,
    pub school_id: Option<String>,
}

/// One time a person spoke for IT to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvocacyDoc {
    pub advocate_id: Uuid,
    pub to_id: Uuid,
    pub on: NaiveDate,
}

/// Keeps the schools, their agreement changes, the people (names and schools) and who spoke
/// for IT to whom.
#[derive(Debug, Default)]
pub struct Schools;

const TYPES: [&str; 7] = [
    "school-registered",
    "school-updated",
    "agreement-signed",
    "agreement-withdrawn",
    "stakeholder-registered",
    "stakeholder-updated",
    "spoke-for-it",
];

impl ReadModel for Schools {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = SCHOOLS;
    const SKIP_UNDECODABLE: bool = true;
    /// 2: keeps people and advocates' words, and each signing's principal (a log followed
    /// before them gets them on its next start).
    const VERSION: u64 = 2;
    type Doc = SchoolDoc;

    fn collections(&self) -> Vec<&'static str> {
        vec![SCHOOLS, CHANGES, PEOPLE, ADVOCACY]
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::School(_) => vec![event.stream_id().to_owned()],
            _ => vec![],
        }
    }

    fn filter(&self) -> Filter {
        Filter::all().with_types(TYPES)
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        match event.event {
            Published::School(
                SchoolEvent::AgreementSigned(_) | SchoolEvent::AgreementWithdrawn(_),
            ) => {
                vec![DocKey::new(CHANGES, change_key(event.position))]
            }
            Published::Stakeholder(StakeholderEvent::SpokeForIt(_)) => {
                vec![DocKey::new(ADVOCACY, change_key(event.position))]
            }
            Published::Stakeholder(
                StakeholderEvent::Registered(_) | StakeholderEvent::Updated(_),
            ) => vec![DocKey::new(PEOPLE, event.stream_id())],
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, SchoolDoc>) -> Applied {
        let id = event.stream_id();
        let school_event = match event.event {
            Published::School(school_event) => school_event,
            Published::Stakeholder(stakeholder) => {
                let person = match stakeholder {
                    StakeholderEvent::Registered(e) => Some((&e.name, &e.school_id)),
                    StakeholderEvent::Updated(e) => Some((&e.name, &e.school_id)),
                    StakeholderEvent::SpokeForIt(e) => {
                        let Ok(advocate_id) = id.parse::<Uuid>() else { return Ok(()) };
                        let doc = AdvocacyDoc { advocate_id, to_id: e.to_stakeholder_id, on: e.on };
                        docs.of::<AdvocacyDoc>(ADVOCACY).put(&change_key(event.position), &doc);
                        None
                    }
                    _ => None,
                };
                if let Some((name, school)) = person
                    && let Ok(stakeholder_id) = id.parse::<Uuid>()
                {
                    let doc = PersonDoc {
                        stakeholder_id,
                        name: name.to_string(),
                        school_id: school.as_ref().map(|s| s.to_string()),
                    };
                    docs.of::<PersonDoc>(PEOPLE).put(id, &doc);
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        let mut school = docs
            .get(id)
            .unwrap_or_else(|| SchoolDoc { school_id: id.to_owned(), ..SchoolDoc::default() });
        let change = match school_event {
            SchoolEvent::Registered(e) => {
                school.name = Some(e.name.to_string());
                if school.registered_at.is_none() && school.registered_on.is_none() {
                    school.registered_at = Some(event.recorded_at);
                }
                None
            }
            SchoolEvent::Updated(e) => {
                school.name = Some(e.name.to_string());
                None
            }
            SchoolEvent::AgreementSigned(e) => {
                school.gated = true;
                Some((Change::Signed, e.signed_on, Some(e.principal_id)))
            }
            SchoolEvent::AgreementWithdrawn(e) => {
                school.gated = false;
                Some((Change::Withdrawn, e.withdrawn_on, None))
            }
        };
        if let Some((change, on, principal_id)) = change {
            let doc = ChangeDoc {
                sequence: event.position,
                school_id: id.to_owned(),
                change,
                on,
                principal_id,
            };
            docs.of::<ChangeDoc>(CHANGES).put(&change_key(event.position), &doc);
        }
        docs.put(id, &school);
        Ok(())
    }
}

/// Change documents sort by sequence.
fn change_key(position: u64) -> String {
    format!("{position:020}")
}

// ---------------------------------------------------------------------------------------------
// The report

/// The adoption report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdoptionReport {
    /// The day the report was made (the district's date).
    pub as_of: NaiveDate,
    /// The months, spend, agreement changes and signings in this period.
    pub period: ReportPeriod,
    /// Schools now (or, for a period that has ended, at its last day).
    pub schools: SchoolCounts,
    /// Technology spend per currency: in the period, or all time without one.
    pub technology_spend: Vec<Spend>,
    /// Month by month, from the first month with a school or a check to the current month.
    pub months: Vec<AdoptionMonth>,
    /// Every signature and withdrawal, by date.
    pub agreement_changes: Vec<AgreementChange>,
    /// Every signature, by date: who signed, and the advocates whose word came first.
    pub signings: Vec<Signing>,
    /// How many signings followed an advocate's word.
    pub advocacy: AdvocacyShare,
}

/// A school's signature, and who spoke for IT to its principal before it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Signing {
    pub school_id: String,
    pub school_name: Option<String>,
    pub signed_on: NaiveDate,
    /// The principal who signed (absent for a signature recorded before it was kept).
    pub principal: Option<PersonName>,
    /// Who spoke for IT to the principal on or before the day they signed, each once, by the
    /// day of their first word.
    pub advocates: Vec<AdvocateWord>,
}

/// A person, named, with their school.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PersonName {
    pub stakeholder_id: Uuid,
    pub name: Option<String>,
    pub school_id: Option<String>,
    pub school_name: Option<String>,
}

/// An advocate, and the day they first spoke for IT to the principal.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdvocateWord {
    pub advocate: PersonName,
    pub on: NaiveDate,
}

/// Signings that followed an advocate's word.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AdvocacyShare {
    pub signings: u64,
    pub after_advocacy: u64,
    /// `after_advocacy / signings`, to four decimals; `null` without signings.
    pub share: Option<f64>,
}

/// How many schools are counted and gated.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SchoolCounts {
    /// Schools counted.
    pub total: u64,
    /// Schools whose purchasing agreement stands.
    pub gated: u64,
    /// `gated / total`, to four decimals; `null` without schools.
    pub gated_share: Option<f64>,
}

/// Technology spend in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Spend {
    #[schema(example = "USD")]
    pub currency: String,
    /// Every purchase check decided (technology or not).
    pub checks: u64,
    /// Technology checks.
    pub technology_checks: u64,
    /// Their submitted totals.
    #[schema(example = "12500.00")]
    pub technology_spend: String,
    /// Technology checks of schools whose agreement stood when the gate decided.
    pub gated_checks: u64,
    /// Their submitted totals.
    #[schema(example = "9000.00")]
    pub gated_spend: String,
    /// `gated_spend / technology_spend`, to four decimals; `null` without technology spend.
    pub gated_spend_share: Option<f64>,
}

impl Spend {
    fn of(currency: &str, sums: &SpendSums) -> Self {
        Self {
            currency: currency.to_owned(),
            checks: sums.checks,
            technology_checks: sums.technology_checks,
            technology_spend: format_cents(sums.technology_cents),
            gated_checks: sums.gated_checks,
            gated_spend: format_cents(sums.gated_cents),
            gated_spend_share: share_cents(sums.gated_cents, sums.technology_cents),
        }
    }
}

/// One month.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AdoptionMonth {
    #[schema(example = "2024-09")]
    pub month: String,
    /// Schools counted and gated at the month's end.
    pub schools: SchoolCounts,
    /// Schools gated at the month's end over every school counted now, to four decimals
    /// (`null` without schools): the curve toward every school of the district, also where
    /// schools were registered after the agreements they signed were entered.
    pub gated_share_of_all: Option<f64>,
    /// The technology spend decided in the month, per currency.
    pub technology_spend: Vec<Spend>,
}

/// A signature or a withdrawal.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgreementChange {
    /// The log sequence of the event.
    pub sequence: u64,
    pub on: NaiveDate,
    pub school_id: String,
    pub school_name: Option<String>,
    pub change: Change,
    /// Schools counted and gated after it.
    pub schools: SchoolCounts,
}

fn counts(total: u64, gated: u64) -> SchoolCounts {
    SchoolCounts { total, gated, gated_share: share(gated, total) }
}

/// The documents the report is made from.
#[derive(Debug, Clone, Default)]
pub struct AdoptionDocs {
    pub schools: Vec<SchoolDoc>,
    pub changes: Vec<ChangeDoc>,
    pub spend: Vec<SpendDoc>,
    pub people: Vec<PersonDoc>,
    pub advocacy: Vec<AdvocacyDoc>,
}

/// The report from the projections' documents, on `today`, for the scope's period (in the
/// district's calendar).
pub fn build(docs: &AdoptionDocs, today: NaiveDate, scope: &Scope) -> AdoptionReport {
    let (calendar, period, names) = (&scope.calendar, &scope.period, &scope.names);
    let schools = &docs.schools;
    let mut changes: Vec<&ChangeDoc> = docs.changes.iter().collect();
    changes.sort_by_key(|c| (c.on, c.sequence));
    // When each school starts to count.
    let mut counted_from: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for s in schools {
        if let Some(day) = s.registered_at.map(|at| calendar.today(at)).or(s.registered_on) {
            counted_from.insert(&s.school_id, day);
        }
    }
    for c in &changes {
        let day = counted_from.entry(&c.school_id).or_insert(c.on);
        *day = (*day).min(c.on);
    }
    let counted_by = |day: NaiveDate| counted_from.values().filter(|d| **d <= day).count() as u64;

    // Agreement changes in date order, with the schools gated after each.
    let mut agreement_changes = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        if period.contains(c.on) {
            let gated = gated_after(&changes[..=i]);
            agreement_changes.push(AgreementChange {
                sequence: c.sequence,
                on: c.on,
                school_id: c.school_id.clone(),
                school_name: names.get(&c.school_id),
                change: c.change,
                schools: counts(counted_by(c.on), gated.len() as u64),
            });
        }
    }
    let signings = signings(docs, &changes, scope);
    let after_advocacy = signings.iter().filter(|s| !s.advocates.is_empty()).count() as u64;
    let advocacy = AdvocacyShare {
        signings: signings.len() as u64,
        after_advocacy,
        share: share(after_advocacy, signings.len() as u64),
    };

    // Per month and currency, and over the period per currency.
    let mut spend_by_month: BTreeMap<String, BTreeMap<&str, SpendSums>> = BTreeMap::new();
    let mut all_time: BTreeMap<&str, SpendSums> = BTreeMap::new();
    let days = docs.spend.iter().flat_map(|s| &s.by_day).filter(|(d, _)| period.contains(**d));
    for (day, currencies) in days {
        let month = spend_by_month.entry(month_of_day(*day)).or_default();
        for (currency, sums) in currencies {
            month.entry(currency).or_default().add(sums);
            all_time.entry(currency).or_default().add(sums);
        }
    }
    let counted_now = counted_from.len() as u64;
    let first = counted_from
        .values()
        .map(|d| month_of_day(*d))
        .chain(spend_by_month.keys().cloned())
        .min()
        .map(|m| period.from.map_or(m.clone(), |from| m.max(month_of_day(from))));
    let last = counted_from
        .values()
        .chain(changes.iter().map(|c| &c.on))
        .map(|d| month_of_day(*d))
        .chain(spend_by_month.keys().cloned())
        .chain([month_of_day(today)])
        .max()
        .unwrap_or_else(|| month_of_day(today));
    let last = period.to.map_or(last.clone(), |to| last.min(month_of_day(to)));
    let mut months = Vec::new();
    if let Some(first) = first {
        for month in months_between(&first, &last) {
            // The month's end, or the period's when it ends within the month.
            let Some(end) = last_day_of(&month).map(|end| period.last_day(end)) else { continue };
            let gated_then = gated_on(&changes, end);
            let technology_spend = spend_by_month
                .get(month.as_str())
                .map(|s| s.iter().map(|(c, sums)| Spend::of(c, sums)).collect())
                .unwrap_or_default();
            months.push(AdoptionMonth {
                schools: counts(counted_by(end), gated_then.len() as u64),
                gated_share_of_all: share(gated_then.len() as u64, counted_now),
                month,
                technology_spend,
            });
        }
    }

    // Schools now, or at the end of a period that has ended (by the agreements' dates).
    let schools_now = match period.to.filter(|to| *to < today) {
        None => counts(schools.len() as u64, schools.iter().filter(|s| s.gated).count() as u64),
        Some(end) => counts(counted_by(end), gated_on(&changes, end).len() as u64),
    };

    AdoptionReport {
        as_of: today,
        period: period.clone(),
        schools: schools_now,
        technology_spend: all_time.iter().map(|(c, sums)| Spend::of(c, sums)).collect(),
        months,
        agreement_changes,
        signings,
        advocacy,
    }
}

/// The schools gated after `changes` (agreement changes in date order).
fn gated_after<'a>(changes: &[&'a ChangeDoc]) -> BTreeSet<&'a str> {
    let mut gated = BTreeSet::new();
    for c in changes {
        match c.change {
            Change::Signed => gated.insert(c.school_id.as_str()),
            Change::Withdrawn => gated.remove(c.school_id.as_str()),
        };
    }
    gated
}

/// The schools gated at the end of `day`, by the agreements' dates (`changes` in date order).
fn gated_on<'a>(changes: &[&'a ChangeDoc], day: NaiveDate) -> BTreeSet<&'a str> {
    gated_after(&changes[..changes.partition_point(|c| c.on <= day)])
}

/// Every signature in the scope's period, by date, with the advocates whose word came first
/// ([`followed_advocacy`]): each advocate once, by the day of their first word to the
/// principal since the school's previous withdrawal.
fn signings(docs: &AdoptionDocs, changes: &[&ChangeDoc], scope: &Scope) -> Vec<Signing> {
    let people: BTreeMap<Uuid, &PersonDoc> =
        docs.people.iter().map(|p| (p.stakeholder_id, p)).collect();
    let named = |id: Uuid| {
        let person = people.get(&id);
        let school_id = person.and_then(|p| p.school_id.clone());
        PersonName {
            stakeholder_id: id,
            name: person.map(|p| p.name.clone()),
            school_name: scope.names.of_some(school_id.as_deref()),
            school_id,
        }
    };
    let mut words: Vec<&AdvocacyDoc> = docs.advocacy.iter().collect();
    words.sort_by_key(|w| w.on);
    let mut withdrawn: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    let mut signings = Vec::new();
    for c in changes {
        if c.change == Change::Withdrawn {
            withdrawn.insert(&c.school_id, c.on);
            continue;
        }
        if !scope.contains(c.on) {
            continue;
        }
        let since = withdrawn.get(c.school_id.as_str()).copied();
        let mut advocates: Vec<AdvocateWord> = Vec::new();
        if let Some(principal) = c.principal_id {
            for w in &words {
                let counts = followed_advocacy(principal, c.on, since, w.to_id, w.on);
                if counts && !advocates.iter().any(|a| a.advocate.stakeholder_id == w.advocate_id) {
                    advocates.push(AdvocateWord { advocate: named(w.advocate_id), on: w.on });
                }
            }
        }
        signings.push(Signing {
            school_id: c.school_id.clone(),
            school_name: scope.names.get(&c.school_id),
            signed_on: c.on,
            principal: c.principal_id.map(named),
            advocates,
        });
    }
    signings
}

impl Report for AdoptionReport {
    const NAME: &'static str = "adoption";
    const CSV_EXAMPLE: &'static str = "\
        dimension,month,schools_total,schools_gated,schools_gated_share,gated_share_of_all,currency,checks,technology_checks,technology_spend,gated_checks,gated_spend,gated_spend_share,school_id,school_name,signed_on,principal,advocates\r\n\
        month,2024-09,3,2,0.6667,0.6667,USD,4,3,3000.00,2,2000.00,0.6667,,,,,\r\n\
        signing,,,,,,,,,,,,,lincoln-elem,Lincoln Elementary,2024-09-12,Ana Ruiz,Sam Lee (2024-09-03)\r\n";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "dimension",
            "month",
            "schools_total",
            "schools_gated",
            "schools_gated_share",
            "gated_share_of_all",
            "currency",
            "checks",
            "technology_checks",
            "technology_spend",
            "gated_checks",
            "gated_spend",
            "gated_spend_share",
            "school_id",
            "school_name",
            "signed_on",
            "principal",
            "advocates",
        ]);
        for m in &self.months {
            let schools = |csv: &mut Csv, spend: Option<&Spend>| {
                let mut cells: Vec<Cell> = vec![
                    Cell::Text("month"),
                    m.month.as_str().into(),
                    m.schools.total.into(),
                    m.schools.gated.into(),
                    m.schools.gated_share.into(),
                    m.gated_share_of_all.into(),
                ];
                match spend {
                    Some(s) => cells.extend([
                        s.currency.as_str().into(),
                        s.checks.into(),
                        s.technology_checks.into(),
                        s.technology_spend.as_str().into(),
                        s.gated_checks.into(),
                        s.gated_spend.as_str().into(),
                        s.gated_spend_share.into(),
                    ]),
                    None => cells.extend(std::iter::repeat_n(Cell::Empty, 7)),
                }
                cells.extend(std::iter::repeat_n(Cell::Empty, 5));
                csv.row(cells);
            };
            if m.technology_spend.is_empty() {
                schools(&mut csv, None);
            }
            for s in &m.technology_spend {
                schools(&mut csv, Some(s));
            }
        }
        for s in &self.signings {
            let name =
                |p: &PersonName| p.name.clone().unwrap_or_else(|| p.stakeholder_id.to_string());
            let advocates: Vec<String> =
                s.advocates.iter().map(|a| format!("{} ({})", name(&a.advocate), a.on)).collect();
            let mut cells: Vec<Cell> = vec![Cell::Text("signing")];
            cells.extend(std::iter::repeat_n(Cell::Empty, 12));
            cells.extend([
                s.school_id.as_str().into(),
                s.school_name.as_deref().into(),
                Cell::Owned(s.signed_on.to_string()),
                s.principal.as_ref().map_or(Cell::Empty, |p| Cell::Owned(name(p))),
                Cell::Owned(advocates.join("; ")),
            ]);
            csv.row(cells);
        }
        csv
    }
}

/// Schools signed over total, over time, and the share of technology spend through gated
/// schools.
///
/// A school is *gated* while its purchasing agreement stands. *Technology spend* is the sum of
/// the submitted totals of purchase checks with at least one technology line (a decision
/// reason other than `not-technology`), counted in the month the gate decided, whatever IT did
/// later; the *gated* part is that of checks decided while the school's agreement stood. A
/// check sent after the fact counts in the month the purchase was requested. Months are the
/// district's calendar months, in its time zone (`GET /v1/district`), up to the current one.
/// `signings` lists every signature by date with the principal who signed and the advocates
/// who spoke for IT to that principal on or before the day (`advocacy`: how many signings
/// followed an advocate's word). Schools and people are named beside their ids. With a period
/// (`?from=`, `?to=`, `?school_year=`): its months, the spend asked about, the changes and
/// signings dated in it, and the schools at its end. `?format=csv` gives one row per month
/// and currency (`dimension` `month`), then one per signing (`signing`).
#[utoipa::path(tag = "reports", params(ReportParams), responses(ReportResponses<AdoptionReport>))]
#[get("/v1/reports/adoption")]
pub async fn adoption_report(report: ReportRequest) -> Reply {
    let (service, scope) = (&report.service, &report.scope);
    service.wait_for(&[Schools::NAME, purchases::Purchases::NAME]).await?;
    let docs = service.adoption_docs(&scope.period).await?;
    let today = scope.calendar.today(service.now());
    Ok(report.render(&build(&docs, today, scope)))
}

impl Reporting {
    /// The documents of the adoption report for `period`, as the projections hold them now
    /// (wait for [`Schools`] and [`purchases::Purchases`] first).
    async fn adoption_docs(&self, period: &ReportPeriod) -> Result<AdoptionDocs, ApiError> {
        let (schools, changes, spend, advocacy) = futures::try_join!(
            self.documents::<SchoolDoc>(SCHOOLS),
            self.documents::<ChangeDoc>(CHANGES),
            self.partitions::<SpendDoc>(purchases::SPEND, period),
            self.documents::<AdvocacyDoc>(ADVOCACY),
        )?;
        let people = self.documents_at::<PersonDoc>(PEOPLE, named(&changes, &advocacy)).await?;
        Ok(AdoptionDocs { schools, changes, spend, people, advocacy })
    }
}

/// The keys of the people the signings name: the principals who signed and the advocates who
/// spoke for IT (only they are read).
fn named(changes: &[ChangeDoc], advocacy: &[AdvocacyDoc]) -> BTreeSet<String> {
    changes
        .iter()
        .filter_map(|c| c.principal_id)
        .chain(advocacy.iter().map(|a| a.advocate_id))
        .map(|id| id.to_string())
        .collect()
}

#[cfg(test)]
mod tests;
