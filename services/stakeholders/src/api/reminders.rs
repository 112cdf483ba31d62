//! The reminders' settings (`reminder-settings`): how many business days before its due date
//! a promise or a follow-up is due soon, and when a relationship needs a nudge: how many
//! business days without a conversation make a person going cold (`GET
//! /v1/reports/going-cold`), and the half-life of the contact's worth in relationship health.
//! The reminders themselves are events the service's scheduler writes
//! ([`events::reminders`]), read from the log (`GET /v1/events`).

use actix_web::{HttpResponse, get, put};
use events::reminders::{BusinessDaySpan, BusinessDays};
use kernel::http::{Body, FromJson, Reply};
use kernel::{Aggregate, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use web::Fields;

use super::{Change, Read, ReadErrors, SettingErrors, run};
use crate::domain::reminders::{Reminders, RemindersCommand, settings_stream};

/// The reminders' settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReminderSettingsView {
    /// How many business days (in the district's calendar) before its due date an open
    /// promise or follow-up is due soon: its `promise-due-soon` or `followup-due-soon` is
    /// written at the opening of that business day. 0: on the due day's opening. 2 until set.
    pub due_soon_business_days: BusinessDays,
    /// A principal or an advocate not contacted (no conversation) for this many business days
    /// is going cold
    /// (`GET /v1/reports/going-cold`). 20 until set.
    pub going_cold_after_business_days: BusinessDaySpan,
    /// The contact's worth in relationship health (30 points) halves every this many business
    /// days without a conversation. 45 until set.
    pub contact_half_life_business_days: BusinessDaySpan,
    /// The version of the `reminder-settings` stream (0: never set).
    pub version: u64,
}

impl ReminderSettingsView {
    fn of(reminders: &Reminders) -> Self {
        let settings = reminders.0;
        Self {
            due_soon_business_days: settings.due_soon_business_days,
            going_cold_after_business_days: settings.contact.going_cold_after,
            contact_half_life_business_days: settings.contact.half_life,
            version: reminders.version(),
        }
    }
}

/// The reminders' settings to set.
#[derive(Debug, ToSchema)]
pub struct ReminderSettingsBody {
    /// How many business days before its due date something is due soon: 0 to 20.
    pub due_soon_business_days: BusinessDays,
    /// How many business days without a conversation make a person going cold: 1 to 260;
    /// left out, it stays as it is.
    pub going_cold_after_business_days: Option<BusinessDaySpan>,
    /// The half-life of the contact's worth in relationship health, in business days: 1 to
    /// 260; left out, it stays as it is.
    pub contact_half_life_business_days: Option<BusinessDaySpan>,
}

impl FromJson for ReminderSettingsBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        const FIELD: &str = "due_soon_business_days";
        let days = f.integer(FIELD, map.get(FIELD), |n| {
            u8::try_from(n)
                .map_err(|_| format!("must be from 0 to {}", BusinessDays::MAX))
                .and_then(|n| BusinessDays::new(n).map_err(|e| e.message().to_owned()))
        });
        let mut span = |field: &'static str| match map.get(field) {
            None | Some(Value::Null) => Some(None),
            given => f
                .integer(field, given, |n| {
                    u16::try_from(n)
                        .map_err(|_| format!("must be from 1 to {}", BusinessDaySpan::MAX))
                        .and_then(|n| BusinessDaySpan::new(n).map_err(|e| e.message().to_owned()))
                })
                .map(Some),
        };
        let cold = span("going_cold_after_business_days");
        let half_life = span("contact_half_life_business_days");
        Some(Self {
            due_soon_business_days: days?,
            going_cold_after_business_days: cold?,
            contact_half_life_business_days: half_life?,
        })
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
///
/// The same settings say when a relationship needs a nudge: a principal or an advocate with no
/// conversation for `going_cold_after_business_days` business days is going cold (`GET
/// /v1/reports/going-cold`), and the contact's worth in a person's relationship health halves
/// every `contact_half_life_business_days` business days without one (`GET
/// /v1/stakeholders/{id}`).
#[utoipa::path(
    tag = "reminders",
    responses((status = 200, body = ReminderSettingsView), ReadErrors),
)]
#[get("/v1/reminder-settings")]
pub async fn get_reminder_settings(cx: Read) -> Reply {
    let reminders = cx.state.reminders.now(cx.state.commands.store()).await?;
    Ok(HttpResponse::Ok().json(ReminderSettingsView::of(&reminders)))
}

/// Set the reminders' settings; reminders not written yet follow the new lead, health and the
/// going-cold report the new contact settings at once. A contact setting left out stays as it
/// is; setting what is in force writes nothing.
#[utoipa::path(
    tag = "reminders",
    request_body = ReminderSettingsBody,
    responses(
        (status = 200, description = "The settings now", body = ReminderSettingsView),
        (status = 422, description = "`validation`", body = web::Problem),
        SettingErrors,
    ),
)]
#[put("/v1/reminder-settings")]
pub async fn put_reminder_settings(cx: Change, body: Body<ReminderSettingsBody>) -> Reply {
    let body = body.parse()?;
    let command = RemindersCommand::Set {
        due_soon_business_days: body.due_soon_business_days,
        going_cold_after_business_days: body.going_cold_after_business_days,
        contact_half_life_business_days: body.contact_half_life_business_days,
    };
    run(&cx, settings_stream(), &[], |r: &Reminders, _| Ok(r.handle(command.clone())?)).await?;
    let reminders = cx.state.reminders.now(cx.state.commands.store()).await?;
    Ok(HttpResponse::Ok().json(ReminderSettingsView::of(&reminders)))
}
