//! `GET /v1/reports/promises`: the promises IT made, and whether it kept them.
//!
//! # Definitions
//!
//! - A promise is **kept** or **broken** once `promise-kept` or `promise-broken` says so; until
//!   then it is **overdue** when its `due_on` is before today (the district's date;
//!   [`events::rules::is_past_due`], as the stakeholder service counts it) and **open**
//!   otherwise.
//! - The purchasing agreement's standing promise ([`CALL_BEFORE_CANCEL`]: IT never cancels a
//!   purchase of the school before calling the requester and proposing an alternative) is not
//!   settled by those events: it is **kept by construction**. The gate refuses a cancellation
//!   unless a call that reached the requester (recording their goal, after the flag) and a
//!   proposed alternative came first, and this report checks that against the log: every
//!   cancelled held purchase of a gated school is attributed to the school's standing promise in
//!   force when the gate held it (the latest made before the decision), and the promise counts
//!   as kept when every such cancellation had a reached call and an alternative first (so also
//!   when there was none), broken otherwise. `call_before_cancel` gives the detail.
//! - **By owner**: the promise's `owner` (who made it). **By school**: the school the promise was
//!   made to, or for a promise made to a person, the school that person worked at when it was
//!   made (none for district staff).
//!
//! - **A period** (`?from=`, `?to=`, `?school_year=`): the promises made in it, the standing
//!   promises made by its end whose school did not withdraw before it began, checked against the
//!   cancellations of held purchases flagged in it. Schools are named beside their ids.
//!
//! Promises and stakeholders' schools are kept by the `reporting.promises` projection here; the
//! cancelled held purchases by the shared purchase projection ([`super::purchases`]).

use std::collections::BTreeMap;

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get};
use chrono::NaiveDate;
use eventlog::{DocKey, Filter};
use events::Published;
use events::rules::is_past_due;
use events::stakeholders::{
    CALL_BEFORE_CANCEL, PromiseEvent, PromiseMade, PromiseTo, StakeholderEvent,
};
use kernel::http::Caller;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use web::ApiError;

use super::adoption::{self, Change, ChangeDoc};
use super::csv::{Cell, Csv};
use super::figures::share;
use super::purchases::{HELD, HeldDoc, Purchases};
use super::{Report, ReportParams, ReportPeriod, ReportReaders, Scope, parse_query, render};
use crate::Reporting;

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.promises";
/// One document per promise: [`PromiseDoc`].
pub const PROMISES: &str = "reporting.promises.promises";
/// One document per stakeholder: [`StakeholderDoc`].
pub const STAKEHOLDERS: &str = "reporting.promises.stakeholders";

/// Kept or broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Kept,
    Broken,
}

/// A promise as the report needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromiseDoc {
    pub promise_id: Uuid,
    /// The log sequence of `promise-made`.
    pub sequence: u64,
    pub owner: String,
    /// The school it concerns (see the module docs).
    pub school_id: Option<String>,
    pub to: PromiseTo,
    pub due_on: NaiveDate,
    pub made_on: NaiveDate,
    pub kind: Option<String>,
    pub outcome: Option<Outcome>,
    pub settled_on: Option<NaiveDate>,
}

impl PromiseDoc {
    fn is_call_before_cancel(&self) -> bool {
        self.kind.as_deref() == Some(CALL_BEFORE_CANCEL)
    }
}

/// Where a stakeholder works.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StakeholderDoc {
    pub school_id: Option<String>,
}

/// Keeps promises and stakeholders' schools.
#[derive(Debug, Default)]
pub struct Promises;

const TYPES: [&str; 5] = [
    "stakeholder-registered",
    "stakeholder-updated",
    "promise-made",
    "promise-kept",
    "promise-broken",
];

impl ReadModel for Promises {
    const NAME: &'static str = NAME;
    const COLLECTION: &'static str = PROMISES;
    const SKIP_UNDECODABLE: bool = true;
    type Doc = PromiseDoc;

    fn collections(&self) -> Vec<&'static str> {
        vec![PROMISES, STAKEHOLDERS]
    }

    fn filter(&self) -> Filter {
        Filter::all().with_types(TYPES)
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        match event.event {
            Published::Promise(_) => vec![event.stream_id().to_owned()],
            _ => vec![],
        }
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        match event.event {
            Published::Stakeholder(_) => vec![DocKey::new(STAKEHOLDERS, event.stream_id())],
            Published::Promise(PromiseEvent::Made(PromiseMade {
                to: PromiseTo::Stakeholder { stakeholder_id },
                ..
            })) => vec![DocKey::new(STAKEHOLDERS, stakeholder_id.to_string())],
            _ => vec![],
        }
    }

    fn update(
        &self,
        event: &Recorded<'_>,
        docs: &mut Documents<'_, PromiseDoc>,
    ) -> Result<(), String> {
        let id = event.stream_id();
        match event.event {
            Published::Stakeholder(stakeholder) => {
                let school = match stakeholder {
                    StakeholderEvent::Registered(e) => &e.school_id,
                    StakeholderEvent::Updated(e) => &e.school_id,
                    StakeholderEvent::ConversationHeld(_)
                    | StakeholderEvent::StarsAcknowledged(_)
                    | StakeholderEvent::SpokeForIt(_) => return Ok(()),
                };
                let doc = StakeholderDoc { school_id: school.as_ref().map(|s| s.to_string()) };
                docs.of::<StakeholderDoc>(STAKEHOLDERS).put(id, &doc);
            }
            Published::Promise(PromiseEvent::Made(m)) => {
                let school_id = match &m.to {
                    PromiseTo::School { school_id } => Some(school_id.to_string()),
                    PromiseTo::Stakeholder { stakeholder_id } => docs
                        .of::<StakeholderDoc>(STAKEHOLDERS)
                        .get(&stakeholder_id.to_string())
                        .and_then(|s| s.school_id),
                };
                let doc = PromiseDoc {
                    promise_id: m.promise_id,
                    sequence: event.position,
                    owner: m.owner.clone(),
                    school_id,
                    to: m.to.clone(),
                    due_on: m.due_on,
                    made_on: m.made_on,
                    kind: m.kind.clone(),
                    outcome: None,
                    settled_on: None,
                };
                docs.put(id, &doc);
            }
            Published::Promise(settled @ (PromiseEvent::Kept(_) | PromiseEvent::Broken(_))) => {
                let Some(mut doc) = docs.get(id) else { return Ok(()) };
                if doc.is_call_before_cancel() {
                    // Settled by the gate's record, never by these events.
                    return Ok(());
                }
                (doc.outcome, doc.settled_on) = match settled {
                    PromiseEvent::Kept(k) => (Some(Outcome::Kept), Some(k.on)),
                    PromiseEvent::Broken(b) => (Some(Outcome::Broken), Some(b.on)),
                    PromiseEvent::Made(_) => unreachable!("matched above"),
                };
                docs.put(id, &doc);
            }
            _ => {}
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The report

/// The promises report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PromisesReport {
    /// The day (the district's date) against which `overdue` is counted.
    pub as_of: NaiveDate,
    /// The promises made in this period, and the cancellations of purchases flagged in it.
    pub period: ReportPeriod,
    /// Every promise, the standing call-before-cancel promises included.
    pub all: PromiseGroup,
    /// By owner, ordered by owner.
    pub by_owner: Vec<PromiseGroup>,
    /// By school, ordered by school id; promises concerning no school last (`key` null).
    pub by_school: Vec<PromiseGroup>,
    /// The purchasing agreement's standing promise, checked against the gate's record.
    pub call_before_cancel: CallBeforeCancel,
}

/// The promises of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct PromiseGroup {
    /// The owner or the school; `null` for all promises and for promises concerning no school.
    pub key: Option<String>,
    /// The school's name, for a school.
    pub name: Option<String>,
    pub made: u64,
    pub kept: u64,
    pub broken: u64,
    /// Neither kept nor broken, due before today.
    pub overdue: u64,
    /// Neither kept nor broken, not yet due.
    pub open: u64,
    /// `kept / (kept + broken)`, to four decimals; `null` before any is settled.
    pub kept_share: Option<f64>,
}

/// Where a promise stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Kept,
    Broken,
    Overdue,
    Open,
}

impl PromiseGroup {
    fn add(&mut self, standing: Standing) {
        self.made += 1;
        match standing {
            Standing::Kept => self.kept += 1,
            Standing::Broken => self.broken += 1,
            Standing::Overdue => self.overdue += 1,
            Standing::Open => self.open += 1,
        }
    }

    fn finish(mut self) -> Self {
        self.kept_share = share(self.kept, self.kept + self.broken);
        self
    }
}

/// The standing call-before-cancel promises and the cancellations they cover.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct CallBeforeCancel {
    /// Standing promises made (one per agreement signed).
    pub promises: u64,
    /// Of those, kept: every cancellation they cover had a reached call and an alternative
    /// first.
    pub kept: u64,
    pub broken: u64,
    /// Cancelled held purchases of gated schools.
    pub cancellations: u64,
    /// Of those, with a reached call (after the flag, goal recorded) and a proposed alternative
    /// before the cancellation.
    pub call_and_alternative_first: u64,
    /// Of those, without.
    pub without: u64,
    /// By school, ordered by school id.
    pub by_school: Vec<CallBeforeCancelSchool>,
}

/// One school's standing promises and cancellations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct CallBeforeCancelSchool {
    pub school_id: String,
    pub school_name: Option<String>,
    /// Who made its latest standing promise.
    pub owner: Option<String>,
    pub promises: u64,
    pub kept: u64,
    pub broken: u64,
    pub cancellations: u64,
    pub call_and_alternative_first: u64,
    pub without: u64,
}

/// The report from the projection's documents, on `today`, for the scope's period: the
/// promises made in it, the standing promises that stood in it (made by its end, their school
/// not withdrawn before its start; `changes` are the agreement changes), and the cancellations
/// of held purchases flagged in it.
pub fn build(
    promises: &[PromiseDoc],
    held: &[HeldDoc],
    changes: &[ChangeDoc],
    today: NaiveDate,
    scope: &Scope,
) -> PromisesReport {
    let period = &scope.period;
    // Standing promises by school, in log order, and the cancellations each covers. One stood
    // in the period when it was made by its end and its school did not withdraw between then
    // and its start.
    let mut standing: BTreeMap<&str, Vec<(&PromiseDoc, bool)>> = BTreeMap::new();
    let withdrawn_before_period = |p: &PromiseDoc| {
        period.from.is_some_and(|from| {
            changes.iter().any(|c| {
                c.change == Change::Withdrawn
                    && p.school_id.as_deref() == Some(c.school_id.as_str())
                    && p.made_on <= c.on
                    && c.on < from
            })
        })
    };
    let standing_then =
        |p: &&PromiseDoc| period.to.is_none_or(|to| p.made_on <= to) && !withdrawn_before_period(p);
    for p in promises.iter().filter(|p| p.is_call_before_cancel()).filter(standing_then) {
        if let Some(school) = p.school_id.as_deref() {
            standing.entry(school).or_default().push((p, true));
        }
    }
    for list in standing.values_mut() {
        list.sort_by_key(|(p, _)| p.sequence);
    }
    let mut cbc_schools: BTreeMap<&str, CallBeforeCancelSchool> = BTreeMap::new();
    let mut cbc = CallBeforeCancel::default();
    let flagged_in_period =
        |h: &&HeldDoc| period.is_all() || h.flagged_at.is_some_and(|at| scope.contains_at(at));
    for h in held.iter().filter(flagged_in_period) {
        let Some(first) = h.call_and_alternative_first else { continue };
        cbc.cancellations += 1;
        let school = cbc_schools.entry(&h.school_id).or_default();
        school.cancellations += 1;
        if first {
            cbc.call_and_alternative_first += 1;
            school.call_and_alternative_first += 1;
        } else {
            cbc.without += 1;
            school.without += 1;
        }
        // The promise in force when the gate held it.
        let covering = standing
            .get_mut(h.school_id.as_str())
            .and_then(|list| list.iter_mut().rev().find(|(p, _)| p.sequence < h.decided_sequence));
        if let Some((_, kept)) = covering {
            *kept &= first;
        }
    }

    // Where each promise stands today.
    let mut standings: Vec<(&PromiseDoc, Standing)> = promises
        .iter()
        .filter(|p| !p.is_call_before_cancel() && period.contains(p.made_on))
        .map(|p| {
            let s = match p.outcome {
                Some(Outcome::Kept) => Standing::Kept,
                Some(Outcome::Broken) => Standing::Broken,
                None if is_past_due(p.due_on, today) => Standing::Overdue,
                None => Standing::Open,
            };
            (p, s)
        })
        .collect();
    for (school, list) in &standing {
        let entry = cbc_schools.entry(school).or_default();
        for (p, kept) in list {
            standings.push((p, if *kept { Standing::Kept } else { Standing::Broken }));
            cbc.promises += 1;
            entry.promises += 1;
            entry.owner = Some(p.owner.clone());
            if *kept {
                cbc.kept += 1;
                entry.kept += 1;
            } else {
                cbc.broken += 1;
                entry.broken += 1;
            }
        }
    }
    let mut all = PromiseGroup::default();
    let mut by_owner: BTreeMap<&str, PromiseGroup> = BTreeMap::new();
    let mut by_school: BTreeMap<Option<&str>, PromiseGroup> = BTreeMap::new();
    for (p, s) in standings {
        all.add(s);
        by_owner.entry(&p.owner).or_default().add(s);
        by_school.entry(p.school_id.as_deref()).or_default().add(s);
    }
    cbc.by_school = cbc_schools
        .into_iter()
        .map(|(school, mut s)| {
            s.school_id = school.to_owned();
            s.school_name = scope.names.get(school);
            s
        })
        .collect();

    let keyed = |key: Option<&str>, name: Option<String>, g: PromiseGroup| PromiseGroup {
        key: key.map(str::to_owned),
        name,
        ..g.finish()
    };
    let mut by_school: Vec<PromiseGroup> =
        by_school.into_iter().map(|(k, g)| keyed(k, scope.names.of_some(k), g)).collect();
    by_school.sort_by_key(|g| (g.key.is_none(), g.key.clone()));
    PromisesReport {
        as_of: today,
        period: period.clone(),
        all: all.finish(),
        by_owner: by_owner.into_iter().map(|(k, g)| keyed(Some(k), None, g)).collect(),
        by_school,
        call_before_cancel: cbc,
    }
}

impl Report for PromisesReport {
    const NAME: &'static str = "promises";

    fn csv(&self) -> Csv {
        let mut csv = Csv::new(&[
            "dimension",
            "key",
            "name",
            "made",
            "kept",
            "broken",
            "overdue",
            "open",
            "kept_share",
        ]);
        let groups = std::iter::once(("all", &self.all))
            .chain(self.by_owner.iter().map(|g| ("owner", g)))
            .chain(self.by_school.iter().map(|g| ("school", g)));
        for (dimension, g) in groups {
            csv.row([
                Cell::Text(dimension),
                g.key.as_deref().into(),
                g.name.as_deref().into(),
                g.made.into(),
                g.kept.into(),
                g.broken.into(),
                g.overdue.into(),
                g.open.into(),
                g.kept_share.into(),
            ]);
        }
        csv
    }
}

/// Promises IT made: kept, broken, overdue (due before the district's today) and open, by
/// owner and by school.
///
/// The purchasing agreement's standing call-before-cancel promise is included, kept by
/// construction: for every cancelled held purchase of a gated school, a call that reached the
/// requester and a proposed alternative came first (`call_before_cancel` shows the check).
/// `?format=csv` gives one row for all promises, one per owner and one per school.
#[utoipa::path(
    tag = "reports",
    operation_id = "promises_report",
    params(ReportParams),
    responses(
        (status = 200, description = "The report, as JSON or (`?format=csv`) CSV with a header row.", content(
            (PromisesReport = "application/json"),
            (String = "text/csv", example = json!("dimension,key,name,made,kept,broken,overdue,open,kept_share\r\nall,,,5,3,1,1,0,0.75\r\nowner,cto@district.org,,5,3,1,1,0,0.75\r\nschool,lincoln-elem,Lincoln Elementary,2,1,0,1,0,1\r\n")),
        )),
        (status = 400, description = "A query parameter is invalid (`invalid-query`).", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token.", body = web::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs it_staff, auditor or admin.", body = web::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is not answering, or the report is still catching up with the log.", body = web::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/reports/promises")]
pub async fn promises_report(
    _caller: Caller<ReportReaders>,
    service: Data<Reporting>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params: ReportParams = parse_query(req.query_string())?;
    let service = &**service;
    let scope = service.scope(&params).await?;
    let scope = &scope;
    let names = [Promises::NAME, Purchases::NAME, adoption::Schools::NAME];
    let report = service
        .cached_report(&names, &scope.period, |today| async move {
            let (promises, held, changes) = futures::try_join!(
                service.documents::<PromiseDoc>(PROMISES),
                service.documents::<HeldDoc>(HELD),
                service.documents::<ChangeDoc>(adoption::CHANGES),
            )?;
            Ok(build(&promises, &held, &changes, today, scope))
        })
        .await?;
    Ok(render(&*report, params.format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::values::SchoolId;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn promise(
        seq: u64,
        owner: &str,
        school: Option<&str>,
        due: &str,
        kind: Option<&str>,
    ) -> PromiseDoc {
        PromiseDoc {
            promise_id: Uuid::from_u128(seq.into()),
            sequence: seq,
            owner: owner.into(),
            school_id: school.map(str::to_owned),
            to: PromiseTo::School { school_id: SchoolId::parse("a").unwrap() },
            due_on: day(due),
            made_on: day("2024-01-01"),
            kind: kind.map(str::to_owned),
            outcome: None,
            settled_on: None,
        }
    }

    fn cancelled(school: &str, decided: u64, first: bool) -> HeldDoc {
        HeldDoc {
            school_id: school.into(),
            decided_sequence: decided,
            call_and_alternative_first: Some(first),
            ..HeldDoc::default()
        }
    }

    #[test]
    fn outcomes_and_the_standing_promise() {
        let today = day("2025-01-10");
        let mut kept = promise(1, "cto", Some("a"), "2025-01-01", None);
        kept.outcome = Some(Outcome::Kept);
        let mut broken = promise(2, "tech", None, "2025-01-01", None);
        broken.outcome = Some(Outcome::Broken);
        let promises = [
            kept,
            broken,
            promise(3, "tech", Some("a"), "2025-01-09", None),
            promise(4, "cto", Some("b"), "2025-01-10", None),
            promise(5, "cto", Some("a"), "2024-01-01", Some(CALL_BEFORE_CANCEL)),
            promise(6, "cto", Some("b"), "2024-01-01", Some(CALL_BEFORE_CANCEL)),
            promise(20, "cto", Some("b"), "2024-01-01", Some(CALL_BEFORE_CANCEL)),
        ];
        let held = [
            cancelled("a", 10, true),
            cancelled("a", 11, true),
            // Covered by b's first promise, which is then broken; its second stays kept.
            cancelled("b", 12, false),
            // Still held: not a cancellation.
            HeldDoc { call_and_alternative_first: None, ..cancelled("b", 21, true) },
        ];
        let report = build(&promises, &held, &[], today, &Scope::all());
        let all = &report.all;
        assert_eq!((all.made, all.kept, all.broken, all.overdue, all.open), (7, 3, 2, 1, 1));
        assert_eq!(all.kept_share, Some(0.6));
        let owners: Vec<(Option<&str>, u64, u64)> =
            report.by_owner.iter().map(|g| (g.key.as_deref(), g.made, g.kept)).collect();
        assert_eq!(owners, [(Some("cto"), 5, 3), (Some("tech"), 2, 0)]);
        let schools: Vec<(Option<&str>, u64)> =
            report.by_school.iter().map(|g| (g.key.as_deref(), g.made)).collect();
        assert_eq!(schools, [(Some("a"), 3), (Some("b"), 3), (None, 1)]);
        let cbc = &report.call_before_cancel;
        assert_eq!((cbc.promises, cbc.kept, cbc.broken), (3, 2, 1));
        assert_eq!((cbc.cancellations, cbc.call_and_alternative_first, cbc.without), (3, 2, 1));
        assert_eq!(cbc.by_school[1].school_id, "b");
        assert_eq!((cbc.by_school[1].promises, cbc.by_school[1].broken), (2, 1));
        let csv = report.csv().finish();
        assert!(csv.starts_with("dimension,key,name,made,kept,broken,overdue,open,kept_share\r\n"));
        assert!(csv.contains("\r\nschool,,,1,0,1,0,0,0\r\n"), "{csv}");

        // 2025 only: promises 3 and 4 (made in 2025), the standing promises made before, and
        // the cancellations flagged in 2025 (b's); schools named.
        let mut promises = promises.to_vec();
        for p in &mut promises[2..4] {
            p.made_on = day("2025-01-02");
        }
        let mut held = held.to_vec();
        held[2].flagged_at = Some("2025-01-03T15:00:00Z".parse().unwrap());
        let scope = Scope {
            period: ReportPeriod::between(Some(day("2025-01-01")), Some(day("2025-12-31"))),
            names: [("a", "Adams Elementary"), ("b", "Bryant Elementary")].into(),
            ..Scope::all()
        };
        let report = build(&promises, &held, &[], today, &scope);
        let all = &report.all;
        assert_eq!((all.made, all.kept, all.broken, all.overdue, all.open), (5, 2, 1, 1, 1));
        let cbc = &report.call_before_cancel;
        assert_eq!((cbc.cancellations, cbc.without), (1, 1));
        let named: Vec<(&str, Option<&str>)> = cbc
            .by_school
            .iter()
            .map(|s| (s.school_id.as_str(), s.school_name.as_deref()))
            .collect();
        assert_eq!(named, [("a", Some("Adams Elementary")), ("b", Some("Bryant Elementary"))]);
        assert_eq!(report.by_school[0].name.as_deref(), Some("Adams Elementary"));
        // Before any standing promise was made, none stands.
        let scope = Scope { period: ReportPeriod::between(None, Some(day("2023-12-31"))), ..scope };
        assert_eq!(build(&promises, &held, &[], today, &scope).call_before_cancel.promises, 0);
        // School b withdrew in 2024, before 2025: its standing promises stood no more.
        let withdrawn = ChangeDoc {
            sequence: 30,
            school_id: "b".into(),
            change: Change::Withdrawn,
            on: day("2024-06-01"),
            principal_id: None,
        };
        let scope =
            Scope { period: ReportPeriod::between(Some(day("2025-01-01")), None), ..Scope::all() };
        let report = build(&promises, &held, std::slice::from_ref(&withdrawn), today, &scope);
        assert_eq!(report.call_before_cancel.promises, 1);
        assert_eq!(report.call_before_cancel.by_school[0].school_id, "a");
    }
}
