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
    doc
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
