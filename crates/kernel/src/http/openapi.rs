//! A service's OpenAPI document, built from the same route configuration the server uses.

use actix_web::App;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

/// The document: `info` (title, description, tags, components) with the paths `routes`
/// registers, so routes and document cannot drift, and the HTTP conventions every service
/// keeps ([`super::conventions`]).
pub fn document(info: OpenApi, routes: fn(&mut ServiceConfig)) -> OpenApi {
    let mut doc = App::new().into_utoipa_app().openapi(info).configure(routes).split_for_parts().1;
    super::conventions(&mut doc);
    asserted_formats(doc)
}

/// The patterns of the formats the parsers hold strings to. In OpenAPI 3.1 (JSON Schema
/// 2020-12) `format` only annotates: a validator or a fuzzer may take `""` for a `date`. Each
/// string schema with one of these formats also gets its pattern, so that the document says
/// what the parsers accept.
const FORMAT_PATTERNS: [(&str, &str); 3] = [
    ("date", r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"),
    (
        "date-time",
        r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
    ),
    ("uuid", r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
];

fn asserted_formats(doc: OpenApi) -> OpenApi {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                let format = map.get("format").and_then(|f| f.as_str()).map(str::to_owned);
                if let Some(format) = format
                    && !map.contains_key("pattern")
                    && let Some((_, pattern)) = FORMAT_PATTERNS.iter().find(|(f, _)| *f == format)
                {
                    map.insert("pattern".into(), serde_json::Value::from(*pattern));
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let Ok(mut value) = serde_json::to_value(&doc) else { return doc };
    walk(&mut value);
    serde_json::from_value(value).unwrap_or(doc)
}

/// The `bearer` security scheme: a JWT with the caller's roles in `roles`, and how to make one.
#[derive(Debug)]
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with `iss` and `aud` `procgate` (by default) and procgate roles \
                         in the `roles` claim; `procgate token --role ROLE --subject NAME` makes \
                         one.",
                    ))
                    .build(),
            ),
        );
    }
}
