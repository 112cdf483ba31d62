//! A service's OpenAPI document, built from the same route configuration the server uses.

use std::collections::BTreeMap;

use actix_web::App;
use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};
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

/// Problem responses (RFC 9457, `application/problem+json` with the `Problem` schema), by status
/// and description, as an `IntoResponses` set returns them. An empty description is filled with
/// the status's reason phrase by the [conventions](super::conventions). Sets are declared with
/// [`problem_responses!`](crate::problem_responses).
pub fn problem_responses(list: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    let content = || ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    list.iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content("application/problem+json", content())
                .build();
            ((*status).to_owned(), RefOr::T(response))
        })
        .collect()
}

crate::problem_responses! {
    /// No token (401), or not the role the operation needs (403), described by their reason
    /// phrases (the conventions fill them in): what every operation behind the token may answer.
    pub Secured { "401" => "", "403" => "" }
}

/// Declares a named set of problem responses that operations list beside their own in
/// `#[utoipa::path(responses(...))]`, so that what many operations answer alike is written once:
///
/// ```ignore
/// kernel::problem_responses! {
///     /// What every report may answer besides its 200.
///     pub ReportErrors {
///         "400" => "A query parameter is invalid (`invalid-query`).",
///         "401" => "",
///     }
/// }
/// #[utoipa::path(responses((status = 200, body = Report), ReportErrors))]
/// ```
#[macro_export]
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $vis:vis $name:ident { $($status:literal => $description:expr),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        $vis struct $name;
        impl ::utoipa::IntoResponses for $name {
            fn responses() -> ::std::collections::BTreeMap<
                String,
                ::utoipa::openapi::RefOr<::utoipa::openapi::response::Response>,
            > {
                $crate::http::problem_responses(&[$(($status, $description)),*])
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use utoipa::Path;

    crate::problem_responses! {
        /// A set for the test.
        Errors {
            "400" => "`invalid-query`",
            "401" => "",
        }
    }

    #[utoipa::path(get, path = "/by-hand", responses(
        (status = 200, description = "Fine"),
        (status = 400, description = "`invalid-query`", body = web::Problem, content_type = "application/problem+json"),
        (status = 401, body = web::Problem, content_type = "application/problem+json"),
    ))]
    #[allow(dead_code)]
    fn by_hand() {}

    #[utoipa::path(get, path = "/by-set", responses((status = 200, description = "Fine"), Errors))]
    #[allow(dead_code)]
    fn by_set() {}

    #[test]
    fn a_set_documents_what_the_same_responses_written_out_document() {
        let responses = |op: utoipa::openapi::path::Operation| {
            serde_json::to_value(op.responses).expect("responses serialize")
        };
        assert_eq!(responses(__path_by_set::operation()), responses(__path_by_hand::operation()));
    }
}
