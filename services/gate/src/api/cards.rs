//! Purchasing cards (`PUT /v1/cards/{card_id}`, `GET /v1/cards`) and the reconciliation
//! settings (`GET`/`PUT /v1/reconciliation`).

use super::{Change, Secured};
use actix_web::http::StatusCode;
use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse, get, put};
use auth::Role;
use events::card::{ReconciliationSet, card_stream};
use events::values::SchoolId;
use kernel::http::{self, Body, Caller, Reply, Roles};
use kernel::{Aggregate, ReadModel, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use web::ApiError;

use super::Writers;
use super::card_bodies::{CardBody, ReconciliationBody};
use crate::app::State;
use crate::domain::{self, Card, CardError, PutCard, Reconciliation, ReconciliationError};
use crate::read_models::{CardDoc, Cards};

/// Registers the routes of cards, statements and card transactions.
pub(crate) fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    use super::{statements, transactions};
    cfg.service(put_card)
        .service(list_cards)
        .service(get_reconciliation)
        .service(put_reconciliation)
        .service(statements::import_statement)
        .service(transactions::list_card_transactions)
        .service(transactions::get_card_transaction)
        .service(transactions::confirm_match)
        .service(transactions::undo_match)
        .service(transactions::choose_match)
        .service(transactions::log_outreach)
        .service(transactions::get_outreach);
}

/// IT, auditors and admins: they read cards, transactions and the settings.
pub(crate) struct CardReaders;
impl Roles for CardReaders {
    const ROLES: &'static [Role] = &[Role::ItStaff, Role::Auditor, Role::Admin];
}

impl From<CardError> for ApiError {
    fn from(e: CardError) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.slug(), e.to_string())
    }
}

impl From<ReconciliationError> for ApiError {
    fn from(e: ReconciliationError) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.slug(), e.to_string())
    }
}

/// Register a purchasing card, or change its holder or school.
///
/// Card ids are the district's (a UUID). A statement's transaction is attributed to the card
/// whose last four digits it shows, so two cards with the same last four digits cannot be
/// told apart on a statement (the import names such rows).
#[utoipa::path(
    tag = "cards",
    params(("card_id" = Uuid, Path)),
    request_body = CardBody,
    responses(
        (status = 201, description = "Registered", body = CardDoc),
        (status = 200, description = "Updated, or unchanged", body = CardDoc),
        (status = 400, description = "Not a UUID", body = web::Problem),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or admin", body = web::Problem),
        (status = 422, description = "`validation`, `unknown-school`", body = web::Problem),
    ),
)]
#[put("/v1/cards/{card_id}")]
pub async fn put_card(cx: Change, body: Body<CardBody>) -> Reply {
    let card_id = cx.path_id("card_id")?;
    let details = body.parse()?.registered(card_id);
    let (own, school) = (stream(card_stream(card_id)), domain::school_stream(&details.school_id));
    let done = cx
        .state
        .commands
        .run(&cx.metadata("gate"), own, &[school], |card: &Card, lookups| {
            let school = domain::load_school(&lookups[0]).map_err(ApiError::internal)?;
            let put = PutCard { details: details.clone(), school_registered: school.registered };
            Ok(card.handle(put)?)
        })
        .await?;
    let status = if done.version == 0 { StatusCode::CREATED } else { StatusCode::OK };
    Ok(HttpResponse::build(status).json(written_card(&cx.state, card_id, done.position).await?))
}

/// The card `card_id` as `gate.cards` holds it once it includes `position`, the write's.
async fn written_card(
    state: &State,
    card_id: Uuid,
    position: Option<u64>,
) -> Result<CardDoc, ApiError> {
    state.read_models.include(position, &[Cards::NAME]).await?;
    let card = state.read_models.view().one::<Cards>(&card_id.to_string()).await?;
    card.ok_or_else(|| ApiError::internal("a card just written is not in gate.cards"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardQuery {
    /// Only this school's cards.
    #[param(value_type = Option<events::values::SchoolId>)]
    school_id: Option<String>,
}

/// The purchasing cards.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CardList {
    pub cards: Vec<CardDoc>,
}

/// The purchasing cards, by school and last four digits.
#[utoipa::path(
    tag = "cards",
    params(CardQuery),
    responses(
        (status = 200, body = CardList),
        (status = 401, body = web::Problem),
        (status = 403, description = "Not IT staff or admin", body = web::Problem),
    ),
)]
#[get("/v1/cards")]
pub async fn list_cards(state: Data<State>, _: Caller<Writers>, query: Query<CardQuery>) -> Reply {
    let school = http::query_param("school_id", query.school_id.as_deref(), SchoolId::parse)?;
    state.read_models.caught_up(&[Cards::NAME]).await?;
    let mut cards = state.read_models.view().all::<Cards>().await?;
    cards.retain(|c| school.as_ref().is_none_or(|s| c.school_id == s.as_str()));
    cards.sort_by(|a, b| {
        (&a.school_id, &a.last4, a.card_id).cmp(&(&b.school_id, &b.last4, b.card_id))
    });
    Ok(HttpResponse::Ok().json(CardList { cards }))
}

/// The reconciliation settings in force.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationView {
    /// The version of `reconciliation-district` (0: IT has not set them; the defaults apply).
    pub version: u64,
    pub settings: ReconciliationSet,
}

impl State {
    /// The reconciliation settings, read from their stream.
    pub async fn reconciliation(&self) -> Result<Reconciliation, ApiError> {
        let records = self
            .store()
            .read_stream_to_end(&reconciliation_stream())
            .await
            .map_err(http::store_error)?;
        domain::load(&records).map_err(ApiError::internal)
    }
}

pub(crate) fn reconciliation_stream() -> eventlog::StreamName {
    stream(events::card::RECONCILIATION_STREAM)
}

fn reconciliation_view(r: &Reconciliation) -> ReconciliationView {
    ReconciliationView { version: r.version, settings: r.current() }
}

/// How card transactions are matched with purchase checks, and which merchants are
/// technology whatever their category code.
#[utoipa::path(
    tag = "cards",
    responses(
        (status = 200, body = ReconciliationView),
        Secured,
    ),
)]
#[get("/v1/reconciliation")]
pub async fn get_reconciliation(state: Data<State>, _: Caller<CardReaders>) -> Reply {
    Ok(HttpResponse::Ok().json(reconciliation_view(&state.reconciliation().await?)))
}

/// Set the reconciliation settings (replacing them whole).
#[utoipa::path(
    tag = "cards",
    request_body = ReconciliationSet,
    responses(
        (status = 200, description = "The settings now", body = ReconciliationView),
        Secured,
        (status = 422, description = "`validation`, `out-of-range`", body = web::Problem),
    ),
)]
#[put("/v1/reconciliation")]
pub async fn put_reconciliation(
    state: Data<State>,
    who: Caller<Writers>,
    req: HttpRequest,
    body: Body<ReconciliationBody>,
) -> Reply {
    let set = body.parse()?.0;
    let meta = http::metadata(&who, &req, "gate");
    state
        .commands
        .run(
            &meta,
            reconciliation_stream(),
            &[],
            |r: &Reconciliation, _| Ok(r.handle(set.clone())?),
        )
        .await?;
    Ok(HttpResponse::Ok().json(reconciliation_view(&state.reconciliation().await?)))
}
