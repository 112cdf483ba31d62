//! The reminders' settings (`reminder-settings`): how many business days before its due date
//! a promise or a follow-up is due soon. The reminders themselves are events the service's
//! scheduler writes ([`events::reminders`]), read from the log (`GET /v1/events`).

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, get, put};
use events::reminders::BusinessDays;
use kernel::http::{Body, Caller, FromJson};
use kernel::{Aggregate, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use web::{ApiError, Fields};

use super::{Readers, Writers, metadata};
use crate::app::State;
use crate::domain::reminders::{Reminders, RemindersCommand, settings_stream};

/// The reminders' settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReminderSettingsView {
    /// How many business days (in the district's calendar) before its due date an open
    /// promise or follow-up is due soon: its `promise-due-soon` or `followup-due-soon` is
    /// written at the opening of that business day. 0: on the due day's opening. 2 until set.
    pub due_soon_business_days: BusinessDays,
    /// The version of the `reminder-settings` stream (0: never set).
    pub version: u64,
}

impl ReminderSettingsView {
    fn of(reminders: &Reminders) -> Self {
        Self {
            due_soon_business_days: reminders.0.due_soon_business_days,
            version: reminders.version(),
        }
    }
}

/// The reminders' settings to set.
#[derive(Debug, ToSchema)]
pub struct ReminderSettingsBody {
    /// How many business days before its due date something is due soon: 0 to 20.
    pub due_soon_business_days: BusinessDays,
}

impl FromJson for ReminderSettingsBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        const FIELD: &str = "due_soon_business_days";
        let days = f.integer(FIELD, map.get(FIELD), |n| {
            u8::try_from(n)
                .map_err(|_| format!("must be from 0 to {}", BusinessDays::MAX))
                .and_then(|n| BusinessDays::new(n).map_err(|e| e.message().to_owned()))
        });
        Some(Self { due_soon_business_days: days? })
    }
}

/// The reminders' settings.
///
/// An open promise (never the purchasing agreement's standing one) or follow-up not done gets
/// two events, once each, in its `reminder-{id}` stream: `promise-due-soon` or
/// `followup-due-soon` at the opening of business hours `due_soon_business_days` business days
/// before its due date (counted back from the last business day on or before it), and
/// `promise-overdue` or `followup-overdue` at the start of the day after its due date, both in
/// the district's calendar (`GET /v1/district`). Something made within its lead is due soon at
/// once; something already overdue when first judged gets only its overdue reminder.
#[utoipa::path(
    tag = "reminders",
    responses(
        (status = 200, body = ReminderSettingsView),
        (status = 401, body = web::Problem),
        (status = 403, description = "A finance token, or one without a procgate role", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/v1/reminder-settings")]
pub async fn get_reminder_settings(
    _: Caller<Readers>,
    state: Data<State>,
) -> Result<HttpResponse, ApiError> {
    let reminders = state.reminders.now(state.commands.store()).await?;
    Ok(HttpResponse::Ok().json(ReminderSettingsView::of(&reminders)))
}

/// Set the reminders' settings; reminders not written yet follow the new lead.
#[utoipa::path(
    tag = "reminders",
    request_body = ReminderSettingsBody,
    responses(
        (status = 200, description = "The settings now", body = ReminderSettingsView),
        (status = 400, description = "`malformed-json`", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or an admin", body = web::Problem),
        (status = 415, body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
    ),
    security(("bearer" = [])),
)]
#[put("/v1/reminder-settings")]
pub async fn put_reminder_settings(
    who: Caller<Writers>,
    state: Data<State>,
    req: HttpRequest,
    body: Body<ReminderSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let due_soon_business_days = body.parse()?.due_soon_business_days;
    let command = RemindersCommand::Set { due_soon_business_days };
    state
        .commands
        .run(&metadata(&who, &req), settings_stream(), &[], |r: &Reminders, _| {
            Ok(r.handle(command.clone()).unwrap_or_else(|never| match never {}))
        })
        .await?;
    let reminders = state.reminders.now(state.commands.store()).await?;
    Ok(HttpResponse::Ok().json(ReminderSettingsView::of(&reminders)))
}
