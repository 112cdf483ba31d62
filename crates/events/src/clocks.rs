//! The clocks on a flagged purchase, in business time, and the events their scheduler writes.
//!
//! ## Clocks
//!
//! A purchase flagged `held` has two clocks, one flagged `advisory` has one:
//!
//! | clock | purchase | stops at | target |
//! |---|---|---|---|
//! | `first_contact` | held | the first call logged (reached or not), or the approval or cancellation | `first_contact_minutes` |
//! | `decision` | held | the approval or cancellation | `decision_minutes` |
//! | `advisory_outreach` | advisory | the first call logged | `advisory_outreach_minutes` |
//!
//! A clock starts when the purchase is flagged (or, for one flagged before the district had
//! targets, when the first targets were set) and keeps the targets in force then, for the
//! purchase's payment method ([`District::clock_terms`]). Each clock starts and stops when its
//! facts *took place* ([`took_place_at`]): a purchase is flagged when it was requested (the
//! check's `requested_at`, for one entered after the fact; else when the log recorded its
//! decision), and IT's approval or cancellation stops the clocks at its `occurred_at` (else when
//! the log recorded it). It counts business time in the
//! district's calendar *now in force*: a closure added, even for today or a day past, moves
//! every open deadline ([`DistrictCalendar`]).
//!
//! **Waiting on the requester.** A call that did not reach the requester, or IT saying it waits
//! on them (`waiting-on-requester`: they will send the details), pauses the decision clock
//! from then until a call that reached them (their answer); the first contact was made by the
//! first call, so it is not paused. Calls count by when they took place
//! (`occurred_at`), as for call before cancel.
//!
//! A clock is `met` when it stopped at or before its due time, `breached` when it stopped
//! after it or is still running past it, `warning` when running past a warning threshold
//! (`warn_at_percent` of its target), else `on_track`.
//!
//! ## Events
//!
//! The scheduler records what happens to the clocks in the purchase's `sla-{purchase_id}`
//! stream ([`sla_stream`]): `purchase-sla-warning` at each threshold, `purchase-sla-breached`
//! at the due time, and with it `purchase-escalated` when the targets name someone to tell.
//! Each carries the time it is about (the threshold, the due time), not when it was written,
//! so a scheduler that was down over a deadline writes it later with the right time
//! ([`PurchaseClocks::due_events`]). A purchase entered after the fact may have passed
//! thresholds and due times before the log even held it, or pass one minutes after: nothing
//! of it is recorded sooner than [`ENTRY_GRACE`] after it was entered, so that its history
//! (calls, IT's decision, each dated when it took place) is in first, and only a clock still running past its due time is
//! recorded as breached. Each has a deterministic id ([`SlaEvent::event_id`]): any
//! number of schedulers deciding the same event append the same id, and the log stores it once.
//! When the district's calendar changes, `purchase-sla-rescheduled` records each running
//! clock's due time before and after ([`PurchaseClocks::rescheduled`]): the recomputation, on
//! the record.

use std::cmp::Ordering;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::calendar::{DistrictCalendar, whole_minutes};
use crate::district::{BusinessMinutes, District};
use crate::gate::{Decision, PurchaseEvent};
use crate::values::{Email, PaymentMethod};

/// The category of the streams of the purchases' clock events.
pub const SLA_CATEGORY: &str = "sla";

/// The stream of the clock events of purchase `id`: `sla-{id}`.
pub fn sla_stream(purchase_id: Uuid) -> String {
    format!("{SLA_CATEGORY}-{purchase_id}")
}

/// How long after a purchase entered after the fact was recorded the scheduler waits before
/// recording what its clocks passed before that (see the module docs): time for whoever
/// enters it to enter the rest of its history.
pub const ENTRY_GRACE: TimeDelta = TimeDelta::minutes(5);

/// When a fact of a purchase's stream took place, for its clocks and for every reader that
/// measures how long IT took (the gate's views and its scheduler, call before cancel, the
/// reports, the stakeholders' records): the time the event states, else when the log recorded
/// it (`recorded_at`). `requested_at` is the purchase's, from its submission
/// ([`PurchaseSubmitted::requested_at`](crate::gate::PurchaseSubmitted::requested_at)).
///
/// | event | took place |
/// |---|---|
/// | `purchase-submitted` | its `requested_at` (not after it was recorded), else when recorded |
/// | `purchase-decided` | when the purchase was requested (`requested_at`, not after it was recorded), else when recorded: a `held` or `advisory` decision flags the purchase from then |
/// | `call-logged` | its `occurred_at` |
/// | `waiting-on-requester` | its `since` |
/// | `alternative-proposed`, `purchase-approved`, `purchase-cancelled` | its `occurred_at`, else when recorded |
/// | `alternative-accepted` | when recorded (the `purchase-approved` appended with it says when IT decided) |
///
/// Events written before procgate kept these times state none, and read as they always did:
/// when they were recorded.
pub fn took_place_at(
    event: &PurchaseEvent,
    recorded_at: DateTime<Utc>,
    requested_at: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let stated = match event {
        PurchaseEvent::Submitted(s) => Some(requested(s.requested_at, recorded_at)),
        PurchaseEvent::Decided(_) => Some(requested(requested_at, recorded_at)),
        PurchaseEvent::CallLogged(c) => Some(c.occurred_at),
        PurchaseEvent::WaitingOnRequester(w) => Some(w.since),
        PurchaseEvent::AlternativeProposed(a) => a.occurred_at,
        PurchaseEvent::Approved(a) => a.occurred_at,
        PurchaseEvent::Cancelled(c) => c.occurred_at,
        PurchaseEvent::AlternativeAccepted(_) => None,
    };
    stated.unwrap_or(recorded_at)
}

/// When a purchase was requested: its check's `requested_at`, but not after the log recorded
/// the check (`recorded_at`; a finance system's clock a few minutes ahead does not make a
/// purchase requested later than it arrived), else when the check was recorded.
pub fn requested(requested_at: Option<DateTime<Utc>>, recorded_at: DateTime<Utc>) -> DateTime<Utc> {
    requested_at.map_or(recorded_at, |at| at.min(recorded_at))
}

/// The namespace of the clock events' ids (UUID v5).
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x3c5e_2a0d_8f1b_4d6e_9a47_51c2_e0b9_77d4);

/// Which clock.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// A held purchase's first call with the requester.
    FirstContact,
    /// A held purchase approved or cancelled.
    Decision,
    /// An advisory purchase's first call: IT reaching out.
    AdvisoryOutreach,
}

impl ClockKind {
    /// The wire name (`first_contact`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstContact => "first_contact",
            Self::Decision => "decision",
            Self::AdvisoryOutreach => "advisory_outreach",
        }
    }
}

/// Where a clock, or a purchase's clocks together, stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Running, before any warning threshold.
    OnTrack,
    /// Running, past a warning threshold.
    Warning,
    /// Past its due time: still running, or stopped late.
    Breached,
    /// Stopped at or before its due time.
    Met,
}

// ---------------------------------------------------------------------------------------------
// Events

/// A clock passed a warning threshold (`percent` of its target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseSlaWarning {
    pub purchase_id: Uuid,
    pub clock: ClockKind,
    pub percent: u8,
    /// When the threshold was passed.
    pub warned_at: DateTime<Utc>,
    /// The clock's due time as it stood then; absent while it was paused.
    pub due_at: Option<DateTime<Utc>>,
    /// The version of `district-settings` the clock was judged against.
    pub district_version: u64,
}

/// A clock passed its due time before it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseSlaBreached {
    pub purchase_id: Uuid,
    pub clock: ClockKind,
    /// When it breached: the due time.
    pub due_at: DateTime<Utc>,
    pub target_minutes: BusinessMinutes,
    /// The version of `district-settings` the clock was judged against.
    pub district_version: u64,
}

/// A breach was escalated to the targets' `escalate_to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseEscalated {
    pub purchase_id: Uuid,
    pub clock: ClockKind,
    pub escalate_to: Email,
    /// The due time that was breached.
    pub due_at: DateTime<Utc>,
}

/// The district's calendar changed (a closure added or lifted, other hours or time zone) and a
/// running clock's due time moved with it: the recomputation, on the record for auditors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PurchaseSlaRescheduled {
    pub purchase_id: Uuid,
    pub clock: ClockKind,
    /// The due time before the change; absent while the clock was paused.
    pub previous_due_at: Option<DateTime<Utc>>,
    /// The due time after it; absent while the clock is paused.
    pub due_at: Option<DateTime<Utc>>,
    /// The version of `district-settings` whose event moved it.
    pub district_version: u64,
}

event_family! {
    /// The events of an `sla-{purchase_id}` stream: what happened to a purchase's clocks.
    pub enum SlaEvent in "sla" {
        /// `purchase-sla-warning`
        Warning(PurchaseSlaWarning) = "purchase-sla-warning",
        /// `purchase-sla-breached`
        Breached(PurchaseSlaBreached) = "purchase-sla-breached",
        /// `purchase-escalated`
        Escalated(PurchaseEscalated) = "purchase-escalated",
        /// `purchase-sla-rescheduled`
        Rescheduled(PurchaseSlaRescheduled) = "purchase-sla-rescheduled",
    }
}

const WARNING: &str = "purchase-sla-warning";
const BREACHED: &str = "purchase-sla-breached";

/// UUID v5 of `{purchase}/{event type}/{clock}[/{suffix}]`.
fn clock_event_id(
    purchase: Uuid,
    event_type: &str,
    clock: ClockKind,
    suffix: Option<String>,
) -> Uuid {
    let mut name = format!("{purchase}/{event_type}/{}", clock.as_str());
    if let Some(suffix) = suffix {
        name.push('/');
        name.push_str(&suffix);
    }
    Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes())
}

impl SlaEvent {
    /// The event's deterministic id: UUID v5 of the purchase, the event type, the clock, and
    /// for a warning the percentage, for a reschedule the district's version. One clock has one
    /// breach, one escalation, one warning per threshold and one reschedule per calendar
    /// change, whoever decides them and whenever.
    pub fn event_id(&self) -> Uuid {
        let (purchase, clock, suffix) = match self {
            Self::Warning(e) => (e.purchase_id, e.clock, Some(e.percent.to_string())),
            Self::Breached(e) => (e.purchase_id, e.clock, None),
            Self::Escalated(e) => (e.purchase_id, e.clock, None),
            Self::Rescheduled(e) => {
                (e.purchase_id, e.clock, Some(format!("v{}", e.district_version)))
            }
        };
        clock_event_id(purchase, self.event_type(), clock, suffix)
    }

    /// The purchase the event is about.
    pub fn purchase_id(&self) -> Uuid {
        match self {
            Self::Warning(e) => e.purchase_id,
            Self::Breached(e) => e.purchase_id,
            Self::Escalated(e) => e.purchase_id,
            Self::Rescheduled(e) => e.purchase_id,
        }
    }

    /// The clock the event is about.
    pub fn clock(&self) -> ClockKind {
        match self {
            Self::Warning(e) => e.clock,
            Self::Breached(e) => e.clock,
            Self::Escalated(e) => e.clock,
            Self::Rescheduled(e) => e.clock,
        }
    }

    /// The instant the event is about: the threshold, the due time (for a reschedule, the new
    /// one, or the previous one when the clock is paused).
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Warning(e) => e.warned_at,
            Self::Breached(e) => e.due_at,
            Self::Escalated(e) => e.due_at,
            Self::Rescheduled(e) => {
                e.due_at.or(e.previous_due_at).unwrap_or(DateTime::<Utc>::MIN_UTC)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fold

/// A purchase's clocks: a fold of its `purchase-…` stream (and of its `sla-…` stream, for what
/// the scheduler already recorded). It keeps the facts; due times and states are computed
/// against a [`District`] and an instant ([`status`](Self::status)), so a calendar change moves
/// them at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PurchaseClocks {
    #[serde(skip_serializing_if = "Option::is_none")]
    purchase_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_method: Option<PaymentMethod>,
    /// When the purchase was requested, for one entered after the fact.
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_at: Option<DateTime<Utc>>,
    /// The flagging decision, when it flagged the purchase and when the log recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    flagged: Option<Flag>,
    /// Every call, as `(occurred_at, requester_reached)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    calls: Vec<(DateTime<Utc>, bool)>,
    /// When the approval or cancellation took place.
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_at: Option<DateTime<Utc>>,
    /// The ids of the clock events already recorded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recorded: Vec<Uuid>,
    /// When IT said it waits on the requester.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    waits: Vec<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Flag {
    held: bool,
    /// When it flagged the purchase: when the purchase was requested ([`took_place_at`]).
    at: DateTime<Utc>,
    /// When the log recorded it, when not `at` (a purchase entered after the fact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recorded_at: Option<DateTime<Utc>>,
}

impl Flag {
    fn recorded_at(&self) -> DateTime<Utc> {
        self.recorded_at.unwrap_or(self.at)
    }
}

impl PurchaseClocks {
    /// Folds in an event of the purchase's stream, recorded at `recorded_at`; it counts from
    /// when it took place ([`took_place_at`]).
    pub fn apply(&mut self, event: &PurchaseEvent, recorded_at: DateTime<Utc>) {
        let took_place = took_place_at(event, recorded_at, self.requested_at);
        match event {
            PurchaseEvent::Submitted(s) => {
                self.purchase_id = Some(s.purchase_id);
                self.payment_method = Some(s.payment_method);
                self.requested_at = s.requested_at;
            }
            PurchaseEvent::Decided(d) if d.decision.flags() => {
                self.flagged = Some(Flag {
                    held: d.decision == Decision::Held,
                    at: took_place,
                    recorded_at: (took_place != recorded_at).then_some(recorded_at),
                });
            }
            PurchaseEvent::CallLogged(c) => self.calls.push((took_place, c.requester_reached)),
            // Waiting on them counts, for the clocks, as a call that did not reach them.
            PurchaseEvent::WaitingOnRequester(_) => self.waits.push(took_place),
            PurchaseEvent::Approved(_) | PurchaseEvent::Cancelled(_) => {
                self.resolved_at.get_or_insert(took_place);
            }
            PurchaseEvent::Decided(_)
            | PurchaseEvent::AlternativeProposed(_)
            | PurchaseEvent::AlternativeAccepted(_) => {}
        }
    }

    /// The earliest instant at which the scheduler records a threshold or due time passed at
    /// `at`: then, unless the purchase was entered after the fact; then no sooner than
    /// [`ENTRY_GRACE`] after the log recorded its flag (see the module docs), whether `at`
    /// passed before the entry or in the minutes after it.
    fn recordable_from(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self.flagged {
            Some(flag) if flag.recorded_at.is_some() => at.max(flag.recorded_at() + ENTRY_GRACE),
            _ => at,
        }
    }

    /// Folds in an event of the purchase's `sla-…` stream.
    pub fn apply_recorded(&mut self, event: &SlaEvent) {
        let id = event.event_id();
        if !self.recorded.contains(&id) {
            self.recorded.push(id);
        }
    }

    /// Whether the scheduler recorded `event` (by its deterministic id).
    pub fn has_recorded(&self, event: &SlaEvent) -> bool {
        self.recorded.contains(&event.event_id())
    }

    /// The purchase's id, once submitted.
    pub fn purchase_id(&self) -> Option<Uuid> {
        self.purchase_id
    }

    /// When the purchase was requested, for one entered after the fact (its check's
    /// `requested_at`).
    pub fn requested_at(&self) -> Option<DateTime<Utc>> {
        self.requested_at
    }

    /// Whether the purchase was flagged (held or advisory): only flagged purchases have clocks.
    pub fn is_flagged(&self) -> bool {
        self.flagged.is_some()
    }

    /// Whether every clock the purchase has stopped: a held one approved or cancelled, an
    /// advisory one called. A stopped clock never runs again, whatever the calendar does.
    pub fn stopped(&self) -> bool {
        match self.flagged {
            Some(Flag { held: true, .. }) => self.resolved_at.is_some(),
            Some(Flag { held: false, .. }) => !self.calls.is_empty(),
            None => false,
        }
    }

    /// The purchase's clocks under `district`'s targets (none while it has none, or when the
    /// purchase is not flagged).
    pub fn clocks(&self, district: &District) -> Vec<Clock> {
        let (Some(flag), Some(method)) = (self.flagged, self.payment_method) else {
            return vec![];
        };
        let Some(terms) = district.clock_terms(flag.at, flag.recorded_at()) else { return vec![] };
        let targets = terms.targets.for_payment(method);
        let start = terms.starts_at;
        let first_call = self.calls.iter().map(|(at, _)| *at).min();
        let clock = |kind, target, stopped_at, pauses| Clock {
            kind,
            started_at: start,
            target,
            warn_at_percent: terms.targets.warn_at_percent.clone(),
            escalate_to: terms.targets.escalate_to.clone(),
            pauses,
            stopped_at,
        };
        if flag.held {
            let contacted = match (first_call, self.resolved_at) {
                (Some(call), Some(resolved)) => Some(call.min(resolved)),
                (call, resolved) => call.or(resolved),
            };
            vec![
                clock(ClockKind::FirstContact, targets.first_contact, contacted, vec![]),
                clock(ClockKind::Decision, targets.decision, self.resolved_at, self.pauses(start)),
            ]
        } else {
            vec![clock(ClockKind::AdvisoryOutreach, targets.advisory_outreach, first_call, vec![])]
        }
    }

    /// The waits on the requester after `start`: from a call that did not reach them to the
    /// next one that did (`None`: still waiting).
    fn pauses(&self, start: DateTime<Utc>) -> Vec<Pause> {
        // By time; at the same instant an unanswered call, then a reached one, then a wait
        // (IT reached them and now waits on what they will send).
        let mut contacts: Vec<(DateTime<Utc>, u8, bool)> =
            self.calls.iter().map(|(at, reached)| (*at, u8::from(*reached), *reached)).collect();
        contacts.extend(self.waits.iter().map(|at| (*at, 2, false)));
        contacts.sort();
        let mut pauses = Vec::new();
        let mut waiting: Option<DateTime<Utc>> = None;
        for (at, _, reached) in contacts {
            match (reached, waiting) {
                (false, None) => waiting = Some(at),
                (true, Some(since)) => {
                    pauses.push(Pause { from: since, until: Some(at) });
                    waiting = None;
                }
                _ => {}
            }
        }
        pauses.extend(waiting.map(|since| Pause { from: since, until: None }));
        pauses
            .into_iter()
            .filter(|p| p.until.is_none_or(|until| until > start))
            .map(|p| Pause { from: p.from.max(start), ..p })
            .collect()
    }

    /// The clocks' state at `now` under `district`; `None` when the purchase has no clocks.
    pub fn status(&self, district: &District, now: DateTime<Utc>) -> Option<SlaStatus> {
        let clocks: Vec<ClockStatus> =
            self.clocks(district).iter().map(|c| c.status(&district.calendar, now)).collect();
        SlaStatus::of(clocks)
    }

    /// What the scheduler should record at `now`: every threshold and due time passed while
    /// its clock ran, not recorded yet, in time order; a breach with its escalation when the
    /// targets name someone. For a purchase entered after the fact, what passed before the log
    /// recorded it waits [`ENTRY_GRACE`] from then.
    pub fn due_events(&self, district: &District, now: DateTime<Utc>) -> Vec<SlaEvent> {
        let Some(purchase_id) = self.purchase_id else { return vec![] };
        let calendar = &district.calendar;
        let mut events = Vec::new();
        for clock in self.clocks(district) {
            let due_at = clock.due_at(calendar);
            let ran_past = |at: DateTime<Utc>| {
                self.recordable_from(at) <= now && clock.stopped_at.is_none_or(|s| at < s)
            };
            for (percent, warned_at) in clock.thresholds(calendar) {
                if ran_past(warned_at) {
                    events.push(SlaEvent::from(PurchaseSlaWarning {
                        purchase_id,
                        clock: clock.kind,
                        percent,
                        warned_at,
                        due_at,
                        district_version: district.version,
                    }));
                }
            }
            if let Some(due_at) = due_at
                && ran_past(due_at)
            {
                events.push(
                    PurchaseSlaBreached {
                        purchase_id,
                        clock: clock.kind,
                        due_at,
                        target_minutes: clock.target,
                        district_version: district.version,
                    }
                    .into(),
                );
                if let Some(escalate_to) = clock.escalate_to.clone() {
                    let escalated =
                        PurchaseEscalated { purchase_id, clock: clock.kind, escalate_to, due_at };
                    events.push(escalated.into());
                }
            }
        }
        events.retain(|e| !self.has_recorded(e));
        events.sort_by_key(SlaEvent::at);
        events
    }

    /// When the scheduler next has something to record: the earliest threshold or due time of
    /// a running clock not recorded yet (possibly past: then at once; for a purchase entered
    /// after the fact, what passed before it was entered [`ENTRY_GRACE`] after that). `None`
    /// when nothing is left to record unless the purchase or the district changes.
    pub fn next_wake(&self, district: &District) -> Option<DateTime<Utc>> {
        let purchase_id = self.purchase_id?;
        let calendar = &district.calendar;
        let mut pending = Vec::new();
        for clock in self.clocks(district) {
            let warnings = clock.thresholds(calendar).into_iter().map(|(percent, at)| {
                (at, clock_event_id(purchase_id, WARNING, clock.kind, Some(percent.to_string())))
            });
            let breach = clock
                .due_at(calendar)
                .map(|at| (at, clock_event_id(purchase_id, BREACHED, clock.kind, None)));
            pending.extend(
                warnings
                    .chain(breach)
                    .filter(|(at, _)| clock.stopped_at.is_none_or(|stop| *at < stop))
                    .filter(|(_, id)| !self.recorded.contains(id))
                    .map(|(at, _)| self.recordable_from(at)),
            );
        }
        pending.into_iter().min()
    }

    /// The record of what a change of the district from `before` to `after` did to the
    /// purchase's running clocks: one `purchase-sla-rescheduled` for each whose due time moved.
    /// Stopped clocks are not moved (a verdict stands), nor are clocks a change of targets
    /// starts (the targets set is their record).
    pub fn rescheduled(&self, before: &District, after: &District) -> Vec<SlaEvent> {
        let Some(purchase_id) = self.purchase_id else { return vec![] };
        let previous = self.clocks(before);
        self.clocks(after)
            .into_iter()
            .filter(|clock| clock.stopped_at.is_none())
            .filter_map(|clock| {
                let old = previous.iter().find(|c| c.kind == clock.kind)?;
                let (previous_due_at, due_at) =
                    (old.due_at(&before.calendar), clock.due_at(&after.calendar));
                (previous_due_at != due_at).then(|| {
                    SlaEvent::from(PurchaseSlaRescheduled {
                        purchase_id,
                        clock: clock.kind,
                        previous_due_at,
                        due_at,
                        district_version: after.version,
                    })
                })
            })
            .collect()
    }
}

/// A wait on the requester: the decision clock does not run from `from` until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub from: DateTime<Utc>,
    /// `None`: still waiting.
    pub until: Option<DateTime<Utc>>,
}

/// One clock of a purchase, with its terms: see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub kind: ClockKind,
    pub started_at: DateTime<Utc>,
    pub target: BusinessMinutes,
    pub warn_at_percent: Vec<u8>,
    pub escalate_to: Option<Email>,
    /// In time order, none overlapping, none before `started_at`.
    pub pauses: Vec<Pause>,
    pub stopped_at: Option<DateTime<Utc>>,
}

impl Clock {
    fn target_time(&self) -> TimeDelta {
        TimeDelta::minutes(self.target.get().into())
    }

    /// The instant the clock has run `amount` of business time; `None` when it is paused, with
    /// no end in sight, before that.
    pub fn reaches(&self, calendar: &DistrictCalendar, amount: TimeDelta) -> Option<DateTime<Utc>> {
        let (mut from, mut remaining) = (self.started_at, amount);
        for pause in &self.pauses {
            let candidate = calendar.add_business_time(from, remaining);
            if candidate <= pause.from {
                return Some(candidate);
            }
            remaining -= calendar.business_time_between(from, pause.from);
            from = pause.until?.max(from);
        }
        Some(calendar.add_business_time(from, remaining))
    }

    /// When the clock is due: its target reached.
    pub fn due_at(&self, calendar: &DistrictCalendar) -> Option<DateTime<Utc>> {
        self.reaches(calendar, self.target_time())
    }

    /// The warning thresholds `(percent, instant)` the clock reaches (those it reaches while
    /// not paused for good), valid percentages only.
    fn thresholds(&self, calendar: &DistrictCalendar) -> Vec<(u8, DateTime<Utc>)> {
        let target = self.target_time().num_microseconds().unwrap_or(i64::MAX);
        self.warn_at_percent
            .iter()
            .filter(|p| (1..=99).contains(*p))
            .filter_map(|p| {
                let amount = TimeDelta::microseconds(target / 100 * i64::from(*p));
                self.reaches(calendar, amount).map(|at| (*p, at))
            })
            .collect()
    }

    /// The business time the clock ran up to `at` (or up to when it stopped).
    pub fn elapsed(&self, calendar: &DistrictCalendar, at: DateTime<Utc>) -> TimeDelta {
        let end = self.stopped_at.map_or(at, |stop| stop.min(at));
        if end <= self.started_at {
            return TimeDelta::zero();
        }
        let mut elapsed = calendar.business_time_between(self.started_at, end);
        for pause in &self.pauses {
            let until = pause.until.map_or(end, |u| u.min(end));
            if until > pause.from {
                elapsed -= calendar.business_time_between(pause.from, until);
            }
        }
        elapsed
    }

    /// Whether it is paused at `at`.
    pub fn paused_at(&self, at: DateTime<Utc>) -> bool {
        self.stopped_at.is_none_or(|stop| at < stop)
            && self.pauses.iter().any(|p| p.from <= at && p.until.is_none_or(|u| at < u))
    }

    /// Where the clock stands at `now`.
    pub fn status(&self, calendar: &DistrictCalendar, now: DateTime<Utc>) -> ClockStatus {
        let due_at = self.due_at(calendar);
        let elapsed = self.elapsed(calendar, now);
        let used = whole_minutes(elapsed);
        let left = whole_minutes(self.target_time() - elapsed);
        let state = match (self.stopped_at, due_at) {
            (Some(stop), Some(due)) if stop > due => SlaState::Breached,
            (Some(_), _) => SlaState::Met,
            (None, Some(due)) if now >= due => SlaState::Breached,
            (None, _) => {
                let target = self.target_time();
                let warned = self
                    .warn_at_percent
                    .iter()
                    .filter(|p| (1..=99).contains(*p))
                    .any(|p| elapsed * 100 >= target * i32::from(*p));
                if warned { SlaState::Warning } else { SlaState::OnTrack }
            }
        };
        ClockStatus {
            clock: self.kind,
            started_at: self.started_at,
            target_minutes: self.target,
            due_at,
            state,
            paused: self.paused_at(now),
            stopped_at: self.stopped_at,
            business_minutes_used: used,
            business_minutes_left: left,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Status

/// One clock at an instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClockStatus {
    pub clock: ClockKind,
    pub started_at: DateTime<Utc>,
    pub target_minutes: BusinessMinutes,
    /// Absent while it is paused before reaching its target.
    pub due_at: Option<DateTime<Utc>>,
    pub state: SlaState,
    /// Waiting on the requester.
    pub paused: bool,
    /// When it stopped (met, or breached late).
    pub stopped_at: Option<DateTime<Utc>>,
    pub business_minutes_used: i64,
    /// Negative once overdue.
    pub business_minutes_left: i64,
}

/// A purchase's clocks at an instant: the `sla` of a purchase in the gate's views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SlaStatus {
    /// When the first call is due (for an advisory purchase, IT's outreach).
    pub first_contact_due_at: Option<DateTime<Utc>>,
    /// When the approval or cancellation is due (held purchases).
    pub decision_due_at: Option<DateTime<Utc>>,
    /// `breached` if any clock breached, `met` when all were met, else `warning` if any is past
    /// a warning threshold, else `on_track`.
    pub state: SlaState,
    /// Business minutes left on the running clock due soonest (negative once overdue); absent
    /// when none is running.
    pub business_minutes_left: Option<i64>,
    /// The due time of the running clock due soonest: the queue's order (`sort=due`).
    pub next_due_at: Option<DateTime<Utc>>,
    /// Waiting on the requester.
    pub paused: bool,
    pub clocks: Vec<ClockStatus>,
}

impl SlaStatus {
    fn of(clocks: Vec<ClockStatus>) -> Option<Self> {
        if clocks.is_empty() {
            return None;
        }
        let due = |kind: ClockKind| clocks.iter().find(|c| c.clock == kind).and_then(|c| c.due_at);
        let running: Vec<&ClockStatus> = clocks.iter().filter(|c| c.stopped_at.is_none()).collect();
        let any = |state| clocks.iter().any(|c| c.state == state);
        let state = if any(SlaState::Breached) {
            SlaState::Breached
        } else if running.is_empty() {
            SlaState::Met
        } else if any(SlaState::Warning) {
            SlaState::Warning
        } else {
            SlaState::OnTrack
        };
        let soonest = running.iter().min_by(|a, b| match (a.due_at, b.due_at) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.business_minutes_left.cmp(&b.business_minutes_left),
        });
        Some(Self {
            first_contact_due_at: due(ClockKind::FirstContact).or(due(ClockKind::AdvisoryOutreach)),
            decision_due_at: due(ClockKind::Decision),
            state,
            business_minutes_left: soonest.map(|c| c.business_minutes_left),
            next_due_at: soonest.and_then(|c| c.due_at),
            paused: running.iter().any(|c| c.paused),
            clocks,
        })
    }
}

#[cfg(test)]
mod tests;
