//! `GET /v1/reports/promises`: the promises IT made, and whether it kept them.
//!
//! # Definitions
//!
//! - A promise is **kept** or **broken** once `promise-kept` or `promise-broken` says so; until
//!   then it is **overdue** when its `due_on` is before today (the district's date;
//!   [`events::rules::is_past_due`], as the stakeholder service counts it) and **open**
//!   otherwise.
//! - The purchasing agreement's standing promise ([`is_call_before_cancel`]: IT never cancels a
//!   purchase of the school before calling the requester and proposing an alternative) is not
//!   settled by those events: it is **kept by construction**. The gate refuses a cancellation
//!   unless a call that reached the requester (recording their goal, after the flag) and a proposed
//!   alternative came first, and this report checks that against the log: every cancelled held
//!   purchase of a gated school is attributed to the school's standing promise in force when the
//!   gate held it (the latest made before the decision), and the promise counts as kept when every
//!   such cancellation had a reached call and an alternative first (so also when there was none),
//!   broken otherwise. `call_before_cancel` gives the detail.
//! - **By owner**: the promise's `owner` (who made it). **By school**: the school the promise was
//!   made to, or for a promise made to a person, the school that person worked at when it was
//!   made (none for district staff).
//!
//! - **A period** (`?from=`, `?to=`, `?school_year=`): the promises made in it, the standing
//!   promises made by its end whose school did not withdraw before it began, checked against the
//!   cancellations of held purchases flagged in it. Schools are named beside their ids.
//!
//! # What is kept
//!
//! The `reporting.promises` projection keeps what the report needs as the events arrive, so
//! that a read does not grow with the number of promises:
//!
//! - `reporting.promises.by_day`: every ordinary promise as a [rollup](super::rollup):
//!   [`PromiseFigures`] by the day the promise was made and its school ([`NO_SCHOOL`] for
//!   none), by owner: kept, broken, and the **open** ones counted by the day they are due
//!   (whether one is overdue is the day of the request's question, answered from those
//!   counts), one partition per day promises were made. A promise counts as open when it is
//!   made, and is taken out of `open` and counted kept or broken when it is first settled (the
//!   stakeholder service refuses to settle a settled promise), both on the day it was made.
//!   And the same by month (`reporting.promises.by_month`), for whole months of a period.
//! - `reporting.promises.standing`: one [`PromiseDoc`] per **standing** call-before-cancel
//!   promise (one per agreement signed, checked against the cancellations of the period asked
//!   for), which the report reads.
//! - `reporting.promises.promises`: one [`PromiseDoc`] per open ordinary promise, what settling
//!   it needs to know (removed when it is settled); the report does not read them.
//! - `reporting.promises.stakeholders`: each stakeholder's school, for the school of a promise
//!   made to a person.
//!
//! The cancellations of held purchases come from the shared purchase projection's rollup
//! ([`super::purchases::HELD_FIGURES`]): by the district's day (and month) of the flag (in the
//! calendar in force when it was flagged) and school, those with a reached call and an alternative
//! first counted, those without listed by the log sequence of their `held` decision, which is all
//! that finding the standing promise in force then takes. A read sums the whole months of the
//! period and its other days.

use kernel::http::Reply;
use std::collections::BTreeMap;

use actix_web::get;
use chrono::NaiveDate;
use eventlog::{DocKey, Filter};
use events::Published;
use events::rules::is_past_due;
use events::stakeholders::{
    PromiseEvent, PromiseMade, PromiseTo, StakeholderEvent, is_call_before_cancel,
};
use kernel::Applied;
use kernel::{Documents, ReadModel, Recorded};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::adoption::{self, Change, ChangeDoc};
use super::csv::{Cell, Csv};
use super::figures::share;
use super::purchases::{HELD_FIGURES, HeldCancellations, Purchases};
use super::rollup::{self, Grains, Rollup, Sum};
use super::{Report, ReportParams, ReportPeriod, ReportRequest, ReportResponses, Scope};

/// The projection's (and checkpoint's) name.
pub const NAME: &str = "reporting.promises";
/// One document per open promise (what settling it needs to know): [`PromiseDoc`].
pub const PROMISES: &str = "reporting.promises.promises";
/// One document per standing (call-before-cancel) promise: [`PromiseDoc`].
pub const STANDING: &str = "reporting.promises.standing";
/// One document per stakeholder: [`StakeholderDoc`].
pub const STAKEHOLDERS: &str = "reporting.promises.stakeholders";
/// The promises' figures: one [`Rollup<PromiseFigures>`] per day promises were made.
pub const BY_DAY: &str = "reporting.promises.by_day";
/// The same, one [`Rollup<PromiseFigures>`] per month promises were made.
pub const BY_MONTH: &str = "reporting.promises.by_month";
/// The promises' figures at both grains.
pub const PROMISE_FIGURES: Grains = Grains { days: BY_DAY, months: BY_MONTH };
/// The school key, in [`BY_DAY`], of the promises that concern no school (made to
/// district staff). A school id is never empty.
pub const NO_SCHOOL: &str = "";

/// An open promise (neither kept nor broken yet), or a standing call-before-cancel promise.
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
}

impl PromiseDoc {
    /// The promise as `made` (recorded at `position`) says. The school it concerns is the one
    /// it was made to, or the school of the stakeholder it was made to as their documents
    /// (`stakeholders`) have it then.
    fn made(
        made: &PromiseMade,
        position: u64,
        mut stakeholders: Documents<'_, StakeholderDoc>,
    ) -> Self {
        let school_id = match &made.to {
            PromiseTo::School { school_id } => Some(school_id.to_string()),
            PromiseTo::Stakeholder { stakeholder_id } => {
                stakeholders.get(&stakeholder_id.to_string()).and_then(|s| s.school_id)
            }
        };
        Self {
            promise_id: made.promise_id,
            sequence: position,
            owner: made.owner.clone(),
            school_id,
            to: made.to.clone(),
            due_on: made.due_on,
            made_on: made.made_on,
            kind: made.kind.clone(),
        }
    }

    fn is_call_before_cancel(&self) -> bool {
        is_call_before_cancel(self.kind.as_deref())
    }
}

/// The promises made on one day concerning one school, by owner: kept and broken, and the
/// ones still open by the day they are due.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PromiseFigures(pub BTreeMap<String, Settled>);

/// How many promises were kept, how many broken, and how many are open by the day they are
/// due (zeros are left out of the stored JSON). Whether an open promise is overdue depends on
/// the day of the request: it is read from `open` (made +1, settled −1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settled {
    #[serde(skip_serializing_if = "is_zero")]
    pub kept: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub broken: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub open: BTreeMap<NaiveDate, i64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Settled {
    fn add(&mut self, other: &Self) {
        self.kept += other.kept;
        self.broken += other.broken;
        for (due, n) in &other.open {
            let sum = self.open.entry(*due).or_default();
            *sum += n;
            if *sum == 0 {
                self.open.remove(due);
            }
        }
    }

    /// How many of the open promises are overdue on `today`, and how many still open.
    fn open_on(&self, today: NaiveDate) -> (u64, u64) {
        let (mut overdue, mut open) = (0, 0);
        for (due, n) in &self.open {
            let n = u64::try_from(*n).unwrap_or(0);
            if is_past_due(*due, today) { overdue += n } else { open += n }
        }
        (overdue, open)
    }
}

impl Sum for PromiseFigures {
    fn add(&mut self, other: &Self) {
        for (owner, settled) in &other.0 {
            match self.0.get_mut(owner) {
                Some(sum) => sum.add(settled),
                None => {
                    self.0.insert(owner.clone(), settled.clone());
                }
            }
        }
    }
}

impl PromiseFigures {
    /// Kept, broken and open, whoever the owner.
    fn total(&self) -> Settled {
        let mut total = Settled::default();
        self.0.values().for_each(|s| total.add(s));
        total
    }
}

/// Where a stakeholder works.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StakeholderDoc {
    pub school_id: Option<String>,
}

impl StakeholderDoc {
    /// Keeps in `stakeholders` where the stakeholder `id` works after `event`: the school a
    /// registration or an update names (the other events do not say).
    fn keep(event: &StakeholderEvent, id: &str, mut stakeholders: Documents<'_, Self>) {
        let school = match event {
            StakeholderEvent::Registered(e) => &e.school_id,
            StakeholderEvent::Updated(e) => &e.school_id,
            StakeholderEvent::ConversationHeld(_)
            | StakeholderEvent::StarsAcknowledged(_)
            | StakeholderEvent::SpokeForIt(_) => return,
        };
        stakeholders.put(id, &Self { school_id: school.as_ref().map(|s| s.to_string()) });
    }
}

/// The document key of a promise event: its promise's id; none for the other events.
fn promise_key(event: &Recorded<'_>) -> Vec<String> {
    match event.event {
        Published::Promise(_) => vec![event.stream_id().to_owned()],
        _ => vec![],
    }
}

/// Keeps the promises' figures by day, the open promises' and standing promises' documents,
/// and stakeholders' schools.
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
    /// 3: keeps the promises as figures (open ones by due day), standing ones apart. 4: one
    /// partition per day promises were made. 5: and per month ([`BY_MONTH`]).
    const VERSION: u64 = 5;
    type Doc = PromiseDoc;

    fn collections(&self) -> Vec<&'static str> {
        let mut collections = vec![PROMISES, STANDING, STAKEHOLDERS];
        collections.extend(PROMISE_FIGURES.collections());
        collections
    }

    fn filter(&self) -> Filter {
        Filter::all().with_types(TYPES)
    }

    fn keys(&self, event: &Recorded<'_>) -> Vec<String> {
        promise_key(event)
    }

    fn other_keys(&self, event: &Recorded<'_>) -> Vec<DocKey> {
        match event.event {
            Published::Stakeholder(_) => vec![DocKey::new(STAKEHOLDERS, event.stream_id())],
            // The school of a promise made to a person is in the person's document: `count`
            // asks for its month's partition.
            Published::Promise(PromiseEvent::Made(made)) => match &made.to {
                PromiseTo::School { school_id } => {
                    PROMISE_FIGURES.keys(made.made_on, school_id.as_str()).to_vec()
                }
                PromiseTo::Stakeholder { stakeholder_id } => vec![
                    DocKey::new(BY_DAY, rollup::partition_key(made.made_on)),
                    DocKey::new(STAKEHOLDERS, stakeholder_id.to_string()),
                ],
            },
            // The day a settled promise was made is in its document: `count` asks for its
            // partitions (see [`eventlog::projection`]).
            _ => vec![],
        }
    }

    fn update(&self, event: &Recorded<'_>, docs: &mut Documents<'_, PromiseDoc>) -> Applied {
        let id = event.stream_id();
        match event.event {
            Published::Stakeholder(e) => StakeholderDoc::keep(e, id, docs.of(STAKEHOLDERS)),
            Published::Promise(PromiseEvent::Made(m)) => {
                let doc = PromiseDoc::made(m, event.position, docs.of(STAKEHOLDERS));
                if doc.is_call_before_cancel() {
                    // Kept by construction, checked against the gate's record: see the report.
                    docs.of::<PromiseDoc>(STANDING).put(id, &doc);
                    return Ok(());
                }
                let made =
                    Settled { open: BTreeMap::from([(doc.due_on, 1)]), ..Settled::default() };
                count(&doc, made, event, docs)?;
                docs.put(id, &doc);
            }
            Published::Promise(settled @ (PromiseEvent::Kept(_) | PromiseEvent::Broken(_))) => {
                // Settled already (the document is gone), never made, or a standing promise
                // (settled by the gate's record, never by these events): nothing to count.
                let Some(doc) = docs.get(id) else { return Ok(()) };
                let mut change =
                    Settled { open: BTreeMap::from([(doc.due_on, -1)]), ..Settled::default() };
                match settled {
                    PromiseEvent::Kept(_) => change.kept = 1,
                    _ => change.broken = 1,
                }
                count(&doc, change, event, docs)?;
                docs.remove(id);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Adds `change` to the figures of `doc`'s owner on the day it was made, at its school.
fn count(
    doc: &PromiseDoc,
    change: Settled,
    event: &Recorded<'_>,
    docs: &mut Documents<'_, PromiseDoc>,
) -> Result<(), String> {
    let school = doc.school_id.as_deref().unwrap_or(NO_SCHOOL);
    let delta = PromiseFigures(BTreeMap::from([(doc.owner.clone(), change)]));
    rollup::add(docs, PROMISE_FIGURES, doc.made_on, school, &delta, event)
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
    /// `n` more promises standing so.
    fn add(&mut self, standing: Standing, n: u64) {
        self.made += n;
        match standing {
            Standing::Kept => self.kept += n,
            Standing::Broken => self.broken += n,
            Standing::Overdue => self.overdue += n,
            Standing::Open => self.open += n,
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

/// The report on `today`, for the scope's period, from the projection's documents: the open and
/// standing `promises`, the `settled` promises' rollup partitions and the `held` purchases' (those
/// the period needs, [`rollup::reads`]), and the agreement `changes`. It counts the promises made
/// in the period, the standing promises that stood in it (made by its end, their school not
/// withdrawn before its start), and the cancellations of held purchases flagged in it.
pub fn build<'a>(
    promises: &[PromiseDoc],
    settled: impl IntoIterator<Item = &'a Rollup<PromiseFigures>>,
    held: impl IntoIterator<Item = &'a Rollup<HeldCancellations>>,
    changes: &[ChangeDoc],
    today: NaiveDate,
    scope: &Scope,
) -> PromisesReport {
    let period = &scope.period;
    let mut cbc = CallBeforeCancel::default();
    let mut cbc_schools: BTreeMap<String, CallBeforeCancelSchool> = BTreeMap::new();
    let mut standing = standing_promises(promises, changes, period);
    // The cancellations of the held purchases flagged in the period, by school; each without
    // a reached call and an alternative first breaks the promise in force when the gate held
    // it (the latest made before the decision).
    let (_, held_by_school, _) =
        rollup::group(held, period).finish(&scope.names, &|f: HeldCancellations, k, _| (k, f));
    for (school, figures) in held_by_school {
        let without = figures.cancelled_without_call.len() as u64;
        let first = figures.cancelled_after_call;
        if first + without == 0 {
            continue;
        }
        cbc.cancellations += first + without;
        cbc.call_and_alternative_first += first;
        cbc.without += without;
        if let Some(list) = standing.get_mut(school.as_str()) {
            for decided in &figures.cancelled_without_call {
                let covering = list.iter_mut().rev().find(|(p, _)| p.sequence < *decided);
                if let Some((_, kept)) = covering {
                    *kept = false;
                }
            }
        }
        let entry = cbc_schools.entry(school).or_default();
        entry.cancellations += first + without;
        entry.call_and_alternative_first += first;
        entry.without += without;
    }

    let mut groups = Groups::default();
    // The promises made in the period, summed by owner over every school and by school over
    // every owner: kept, broken, and where the open ones stand today.
    let (all, by_school, _) =
        rollup::group(settled, period).finish(&scope.names, &|f: PromiseFigures, k, _| (k, f));
    for (owner, s) in all.1.0 {
        let (overdue, open) = s.open_on(today);
        groups.add_owner(&owner, Standing::Kept, s.kept);
        groups.add_owner(&owner, Standing::Broken, s.broken);
        groups.add_owner(&owner, Standing::Overdue, overdue);
        groups.add_owner(&owner, Standing::Open, open);
    }
    for (school, figures) in by_school {
        let school = (school != NO_SCHOOL).then_some(school.as_str());
        let s = figures.total();
        let (overdue, open) = s.open_on(today);
        groups.add_school(school, Standing::Kept, s.kept);
        groups.add_school(school, Standing::Broken, s.broken);
        groups.add_school(school, Standing::Overdue, overdue);
        groups.add_school(school, Standing::Open, open);
    }
    // The standing promises, kept unless a cancellation they cover broke them.
    for (school, list) in &standing {
        let entry = cbc_schools.entry((*school).to_owned()).or_default();
        for (p, kept) in list {
            let s = if *kept { Standing::Kept } else { Standing::Broken };
            groups.add(&p.owner, p.school_id.as_deref(), s, 1);
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
    cbc.by_school = cbc_schools
        .into_iter()
        .map(|(school, s)| CallBeforeCancelSchool {
            school_name: scope.names.get(&school),
            school_id: school,
            ..s
        })
        .collect();

    let Groups { all, by_owner, by_school } = groups;
    let keyed = |key: Option<String>, name: Option<String>, g: PromiseGroup| PromiseGroup {
        key,
        name,
        ..g.finish()
    };
    let mut by_school: Vec<PromiseGroup> = by_school
        .into_iter()
        .map(|(k, g)| {
            let name = scope.names.of_some(k.as_deref());
            keyed(k, name, g)
        })
        .collect();
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

/// The standing promises that stood in `period`, by school, in log order, each kept so far:
/// made by its end, their school not withdrawn after it (in the log) and before the period's
/// start (`changes`). A school may withdraw and sign again on one day: the withdrawal ends the
/// promise before it, not the new one.
fn standing_promises<'p>(
    promises: &'p [PromiseDoc],
    changes: &[ChangeDoc],
    period: &ReportPeriod,
) -> BTreeMap<&'p str, Vec<(&'p PromiseDoc, bool)>> {
    let withdrawn_before_period = |p: &PromiseDoc| {
        period.from.is_some_and(|from| {
            changes.iter().any(|c| {
                c.change == Change::Withdrawn
                    && p.school_id.as_deref() == Some(c.school_id.as_str())
                    && p.sequence < c.sequence
                    && c.on < from
            })
        })
    };
    let standing_then =
        |p: &&PromiseDoc| period.to.is_none_or(|to| p.made_on <= to) && !withdrawn_before_period(p);
    let mut standing: BTreeMap<&str, Vec<(&PromiseDoc, bool)>> = BTreeMap::new();
    for p in promises.iter().filter(|p| p.is_call_before_cancel()).filter(standing_then) {
        if let Some(school) = p.school_id.as_deref() {
            standing.entry(school).or_default().push((p, true));
        }
    }
    for list in standing.values_mut() {
        list.sort_by_key(|(p, _)| p.sequence);
    }
    standing
}

/// The promise groups: all, by owner, by school (`None`: concerning no school).
#[derive(Default)]
struct Groups {
    all: PromiseGroup,
    by_owner: BTreeMap<String, PromiseGroup>,
    by_school: BTreeMap<Option<String>, PromiseGroup>,
}

impl Groups {
    /// `n` promises of `owner` concerning `school` standing so.
    fn add(&mut self, owner: &str, school: Option<&str>, standing: Standing, n: u64) {
        self.add_owner(owner, standing, n);
        self.add_school(school, standing, n);
    }

    /// `n` promises of `owner` counted in all and by owner (not by school).
    fn add_owner(&mut self, owner: &str, standing: Standing, n: u64) {
        if n == 0 {
            return;
        }
        self.all.add(standing, n);
        match self.by_owner.get_mut(owner) {
            Some(g) => g.add(standing, n),
            None => self.by_owner.entry(owner.to_owned()).or_default().add(standing, n),
        }
    }

    /// `n` promises concerning `school` counted by school only.
    fn add_school(&mut self, school: Option<&str>, standing: Standing, n: u64) {
        if n == 0 {
            return;
        }
        self.by_school.entry(school.map(str::to_owned)).or_default().add(standing, n);
    }
}

impl Report for PromisesReport {
    const NAME: &'static str = "promises";
    const CSV_EXAMPLE: &'static str = "\
        dimension,key,name,made,kept,broken,overdue,open,kept_share\r\n\
        all,,,5,3,1,1,0,0.75\r\n\
        owner,cto@district.org,,5,3,1,1,0,0.75\r\n\
        school,lincoln-elem,Lincoln Elementary,2,1,0,1,0,1\r\n";

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
#[utoipa::path(tag = "reports", params(ReportParams), responses(ReportResponses<PromisesReport>))]
#[get("/v1/reports/promises")]
pub async fn promises_report(report: ReportRequest) -> Reply {
    let (service, scope) = (&report.service, &report.scope);
    let names = [Promises::NAME, Purchases::NAME, adoption::Schools::NAME];
    let today = service.caught_up_today(&names).await?;
    let period = &scope.period;
    let (promises, settled, held, changes) = futures::try_join!(
        service.documents::<PromiseDoc>(STANDING),
        service.rollup::<PromiseFigures>(PROMISE_FIGURES, period),
        service.rollup::<HeldCancellations>(HELD_FIGURES, period),
        service.documents::<ChangeDoc>(adoption::CHANGES),
    )?;
    Ok(report.render(&build(&promises, &settled, &held, &changes, today, scope)))
}

#[cfg(test)]
mod tests;
