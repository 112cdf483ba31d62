//! A person's choice about notification e-mails: `GET`/`PUT /v1/email-preferences/{email}`.
//! IT staff and admins set it for anyone (a principal who asked them); anyone for the address
//! their token is for.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, get, put};
use auth::{Principal, Role};
use eventlog::Metadata;
use events::notifications::{MailPreferenceSet, mail_preference_stream};
use events::values::Email;
use kernel::Aggregate;
use kernel::http::{self, Body, Caller, FromJson, Reply, Roles, store_error};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use web::{ApiError, Fields};

use super::preference::Preference;
use crate::Reporting;

/// Any procgate role (each may set their own address's preference).
pub(crate) struct AnyRole;
impl Roles for AnyRole {
    const ROLES: &'static [Role] = &Role::ALL;
}

kernel::problem_responses! {
    /// What both preference operations may answer besides their own responses.
    PreferenceErrors {
        "401" => "",
        "403" => "Another person's address, and not IT staff or admin",
        "503" => "",
    }
}

/// The choice to record.
#[derive(Debug, ToSchema)]
pub struct PreferenceBody {
    /// `true`: no notification e-mails to this address.
    pub opted_out: bool,
}

impl FromJson for PreferenceBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let opted_out = match map.get("opted_out") {
            Some(Value::Bool(b)) => Some(*b),
            _ => {
                f.error("opted_out", "must be true or false");
                None
            }
        };
        Some(Self { opted_out: opted_out? })
    }
}

/// An address's choice.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferenceView {
    pub email: String,
    pub opted_out: bool,
}

fn address(raw: &str, who: &Principal) -> Result<Email, ApiError> {
    let email = http::path("email", raw, Email::parse)?;
    let staff = who.has(Role::ItStaff) || who.has(Role::Admin);
    if !staff && !who.subject.eq_ignore_ascii_case(email.as_str()) {
        return Err(ApiError::forbidden(
            "Only IT staff, admins and the address's owner may read or change its e-mail preference.",
        ));
    }
    Ok(email)
}

/// The address's choice as it stands now.
async fn preference_view(service: &Reporting, email: Email) -> Reply {
    let stream = kernel::stream(mail_preference_stream(email.as_str()));
    let records = service.store().read_stream_to_end(&stream).await.map_err(store_error)?;
    let Preference { opted_out } = kernel::load(&records).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(PreferenceView { email: email.to_string(), opted_out }))
}

impl Reporting {
    /// Records that `email` opts out of notification e-mails (or back in), unless that is its
    /// choice already. Others changing it at the same moment, again and again, have the last
    /// word: the choice is then answered as they left it.
    async fn set_preference(
        &self,
        meta: &Metadata,
        email: &Email,
        opted_out: bool,
    ) -> Result<(), ApiError> {
        let stream = kernel::stream(mail_preference_stream(email.as_str()));
        let set = MailPreferenceSet { email: email.to_string(), opted_out };
        let run =
            self.commands.run(meta, stream, &[], |p: &Preference, _| Ok(p.handle(set.clone())?));
        match run.await {
            Err(e) if kernel::http::is_concurrent_update(&e) => Ok(()),
            done => done.map(|_| ()),
        }
    }
}

/// Whether an address receives notification e-mails.
#[utoipa::path(
    tag = "notifications",
    params(("email" = String, Path, format = "email")),
    responses(
        (status = 200, body = PreferenceView),
        (status = 400, description = "`invalid-path`: not an e-mail address", body = web::Problem),
        PreferenceErrors,
    ),
    security(("bearer" = [])),
)]
#[get("/v1/email-preferences/{email}")]
pub async fn get_preference(
    who: Caller<AnyRole>,
    service: Data<Reporting>,
    email: Path<String>,
) -> Reply {
    let email = address(&email, &who)?;
    preference_view(&service, email).await
}

/// Opt an address out of notification e-mails, or back in.
#[utoipa::path(
    tag = "notifications",
    params(("email" = String, Path, format = "email")),
    request_body = PreferenceBody,
    responses(
        (status = 200, body = PreferenceView),
        (status = 400, description = "`invalid-path`, `malformed-json`", body = web::Problem),
        (status = 422, description = "`validation`", body = web::Problem),
        PreferenceErrors,
    ),
    security(("bearer" = [])),
)]
#[put("/v1/email-preferences/{email}")]
pub async fn put_preference(
    who: Caller<AnyRole>,
    service: Data<Reporting>,
    req: HttpRequest,
    email: Path<String>,
    body: Body<PreferenceBody>,
) -> Reply {
    let email = address(&email, &who)?;
    let opted_out = body.parse()?.opted_out;
    service.set_preference(&http::metadata(&who, &req, "reporting"), &email, opted_out).await?;
    preference_view(&service, email).await
}
