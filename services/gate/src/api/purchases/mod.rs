//! The purchases: the list (and the held queue), one purchase, and what IT staff do with a
//! flagged one. Cancelling is refused (409 `call-required`) until a call that reached the
//! requester (with their goal) was logged after the flag and an alternative was proposed.

mod actions;
mod view;

use super::Secured;
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get};
use auth::Principal;
use events::gate::PurchaseStatus;
use events::values::SchoolId;
use kernel::ReadModel;
use kernel::http::{self, Caller, Reply};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use uuid::Uuid;
use web::ApiError;

pub use actions::*;
pub use view::PurchaseView;

use super::Readers;
use crate::app::State;
use crate::domain::PurchaseError;
use crate::read_models::{self, ListFilter, ListOrder, PurchaseList, Purchases, Schools};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only purchases in this status; `held` is IT's queue.
    status: Option<PurchaseStatus>,
    #[param(value_type = Option<events::values::SchoolId>)]
    school_id: Option<String>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<usize>,
    /// Only purchases after this `sequence`: the `next_after` of the previous page, in
    /// submission order.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    after: Option<u64>,
    /// `submitted` (oldest first, the default), `due` (the soonest breach first) or `newest`
    /// (the newest first).
    sort: Option<ListOrder>,
    /// Skip this many of the purchases in order: the `next_offset` of the previous page, with
    /// `sort=due` or `sort=newest`.
    #[param(minimum = 0, maximum = 1000000000)]
    offset: Option<usize>,
}

impl ListQuery {
    /// The filter asked for, or a 400 `invalid-query` problem naming the bad parameter.
    fn filter(&self) -> Result<ListFilter, ApiError> {
        let (after, offset) = (http::after(self.after)?, http::offset(self.offset)?);
        let school_id = http::query_param("school_id", self.school_id.as_deref(), SchoolId::parse)?;
        Ok(ListFilter {
            status: self.status,
            school_id: school_id.map(String::from),
            after,
            offset,
            limit: http::limit(self.limit)?,
            order: self.sort.unwrap_or_default(),
        })
    }
}

/// List purchases, oldest first: the held queue is `?status=held`; `?status=held&sort=due`
/// lists the soonest breach first; `?school_id=…&sort=newest` a school's latest purchases.
///
/// IT staff, auditors and admins see every purchase; a finance system sees its own (a token
/// that is an integration's too sees every one, without personal data, as in the feed). The
/// list includes every purchase whose check was answered before the request; each held or
/// advisory one carries its clocks (`sla`) as of the request.
#[utoipa::path(
    tag = "purchases",
    params(ListQuery),
    responses(
        (status = 200, body = PurchaseList),
        (status = 400, description = "A bad query parameter", body = web::Problem),
        Secured,
    ),
)]
#[get("/v1/purchases")]
pub async fn list_purchases(
    state: Data<State>,
    who: Caller<Readers>,
    query: Query<ListQuery>,
) -> Reply {
    let filter = query.filter()?;
    // Everything answered before this request is in the list.
    state.read_models.caught_up(&[Purchases::NAME, Schools::NAME]).await?;
    let view = state.read_models.view();
    let (purchases, schools, district) =
        futures::try_join!(view.all::<Purchases>(), view.keyed::<Schools>(), state.district())?;
    let schools = schools.into_iter().collect();
    let (now, audience) = (state.clock.now(), kernel::privacy::audience(&who));
    let may_see = |by: &str| audience.reads_purchase_of(Some(by));
    let page = read_models::list(purchases, &schools, &filter, may_see, &district.0, now);
    // As the caller may read them: an integration's token reads no requester's e-mail.
    Ok(HttpResponse::Ok().json(audience.shown(&page).map_err(ApiError::internal)?))
}

/// A purchase the caller may see, as the caller may read it ([`PurchaseView::shown_to`]), or
/// 404.
async fn visible(state: &State, principal: &Principal, id: Uuid) -> Result<Value, ApiError> {
    let ((purchase, records), district) = futures::try_join!(state.purchase(id), state.district())?;
    let audience = kernel::privacy::audience(principal);
    let submitted_by = purchase.submission.as_ref().map(|s| s.submitted_by.clone());
    match submitted_by {
        Some(by) if audience.reads_purchase_of(Some(&by)) => {
            let view = view::view(purchase, &records, &district.0, state.clock.now())?;
            view.shown_to(&audience)
        }
        _ => Err(PurchaseError::NotFound.into()),
    }
}

/// One purchase: its lines, the decision and every reason, calls, alternatives and timeline.
///
/// A finance system reads its own purchases as the feed gives them: without whom IT spoke with
/// or a call's notes, and with IT's people named by their role in the timeline.
#[utoipa::path(
    tag = "purchases",
    params(("id" = Uuid, Path, description = "The purchase id")),
    responses(
        (status = 200, body = PurchaseView),
        (status = 400, description = "Not a purchase id", body = web::Problem),
        Secured,
        (status = 404, description = "No such purchase (or not yours)", body = web::Problem),
    ),
)]
#[get("/v1/purchases/{id}")]
pub async fn get_purchase(state: Data<State>, who: Caller<Readers>, id: Path<String>) -> Reply {
    let id = http::path_id("id", &id)?;
    Ok(HttpResponse::Ok().json(visible(&state, &who, id).await?))
}
