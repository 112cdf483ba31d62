//! IT's own vision for the district (`vision-district`): a statement and its themes. The
//! conversations IT holds name the themes each person's vision connects to.

use actix_web::{HttpResponse, get, put};
use events::stakeholders::Theme;
use events::values::{LongText, ShortText, ThemeId};
use kernel::http::{Body, FromJson, Reply};
use kernel::{Aggregate, Versioned};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use web::Fields;

use super::{Change, Read, ReadErrors, SettingErrors, run};
use crate::domain::vision::{SetVision, Vision, vision_stream};

/// The most themes a vision has.
const MAX_THEMES: usize = 20;

/// IT's vision for the district.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisionView {
    /// The vision, in IT's words; `null` until IT sets it.
    pub statement: Option<LongText>,
    /// Its themes, in IT's order.
    pub themes: Vec<Theme>,
    /// The version of the `vision-district` stream: each change is one (0: never set).
    pub version: u64,
}

impl VisionView {
    fn of(vision: &Vision) -> Self {
        let current = vision.0.current.clone();
        Self {
            statement: current.as_ref().map(|v| v.statement.clone()),
            themes: current.map(|v| v.themes).unwrap_or_default(),
            version: vision.version(),
        }
    }
}

/// IT's vision to set, whole.
#[derive(Debug, ToSchema)]
pub struct VisionBody {
    pub statement: LongText,
    /// Its themes (at most 20), each with its own `theme_id`.
    #[schema(max_items = 20)]
    pub themes: Vec<Theme>,
}

impl FromJson for VisionBody {
    fn from_json(f: &mut Fields, map: &Map<String, Value>) -> Option<Self> {
        let statement = f.string("statement", map.get("statement"), LongText::parse);
        let themes = f.array("themes", map.get("themes"), 0, MAX_THEMES, |f, path, v| {
            let Value::Object(theme) = v else {
                f.error(path, "must be an object with `theme_id` and `title`");
                return None;
            };
            let id = f.string(&format!("{path}.theme_id"), theme.get("theme_id"), ThemeId::parse);
            let title = f.string(&format!("{path}.title"), theme.get("title"), ShortText::parse);
            Some(Theme { theme_id: id?, title: title? })
        });
        Some(Self { statement: statement?, themes: themes? })
    }
}

/// IT's vision for the district.
#[utoipa::path(
    tag = "vision",
    responses((status = 200, body = VisionView), ReadErrors),
)]
#[get("/v1/vision")]
pub async fn get_vision(cx: Read) -> Reply {
    let vision = cx.state.vision.now(cx.state.commands.store()).await?;
    Ok(HttpResponse::Ok().json(VisionView::of(&vision)))
}

/// Set IT's vision for the district: the statement and its themes, as a whole. Setting the
/// vision in force changes nothing; any other is a new version. Conversations held from then
/// on may connect to its themes (`connections`).
#[utoipa::path(
    tag = "vision",
    request_body = VisionBody,
    responses(
        (status = 200, description = "The vision now", body = VisionView),
        (status = 422, description = "`validation`; `duplicate-theme`", body = web::Problem),
        SettingErrors,
    ),
)]
#[put("/v1/vision")]
pub async fn put_vision(cx: Change, body: Body<VisionBody>) -> Reply {
    let VisionBody { statement, themes } = body.parse()?;
    let command = SetVision { statement, themes };
    run(&cx, vision_stream(), &[], |v: &Vision, _| Ok(v.handle(command.clone())?)).await?;
    let vision = cx.state.vision.now(cx.state.commands.store()).await?;
    Ok(HttpResponse::Ok().json(VisionView::of(&vision)))
}
