//! The HTTP conventions every service keeps, stated once in its OpenAPI document
//! ([`conventions`]), so that a client generated from the document expects exactly what the
//! server sends:
//!
//! - every operation needs the bearer token: one without `security` has the document's, or the
//!   `bearer` requirement when the document states none (an operation that must be open sets
//!   an empty list, `Some([])`, in a `Modify`: `#[utoipa::path(security(()))]` means optional
//!   auth, not none);
//! - every response has a description;
//! - problems are `application/problem+json` (RFC 9457), never `application/json`;
//! - every status the plumbing can answer is documented on the operations it applies to: 401
//!   and 403 where a token is needed (and 429, the caller's rate limit), 400 where there are
//!   path or query parameters or a body,
//!   413, 415 and 422 where there is a body, and 503 with `Retry-After` everywhere (the event
//!   log may go away at any moment);
//! - every `Idempotency-Key` header is the one parser's
//!   ([`idempotency_key_header_schema`](super::idempotency::idempotency_key_header_schema)),
//!   whatever type its operation names it with.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Type, schema::ObjectBuilder,
};

/// The media type of a problem.
const PROBLEM_JSON: &str = "application/problem+json";

/// Applies the conventions to `doc` (see the module docs).
pub fn conventions(doc: &mut OpenApi) {
    let secured_by_default = doc.security.as_ref().is_some_and(|s| !s.is_empty());
    for item in doc.paths.paths.values_mut() {
        let item_params = item.parameters.clone().unwrap_or_default();
        for op in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
            .into_iter()
            .flatten()
        {
            let params = op.parameters.iter().flatten().chain(&item_params);
            let (mut in_path, mut in_query) = (false, false);
            for param in params {
                if let RefOr::T(p) = param {
                    in_path |= matches!(p.parameter_in, ParameterIn::Path);
                    in_query |= matches!(p.parameter_in, ParameterIn::Query);
                }
            }
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = param
                    && matches!(p.parameter_in, ParameterIn::Header)
                    && p.name.eq_ignore_ascii_case(super::IDEMPOTENCY_KEY)
                {
                    p.schema = Some(super::idempotency::idempotency_key_header_schema().into());
                }
            }
            let secured = match &op.security {
                Some(requirements) => !requirements.is_empty(),
                None if secured_by_default => true,
                None => {
                    op.security = Some(vec![bearer()]);
                    true
                }
            };
            apply(op, secured, in_path || in_query, op.request_body.is_some());
        }
    }
}

/// The `bearer` scheme's requirement: a JWT with the roles the operation needs.
fn bearer() -> SecurityRequirement {
    SecurityRequirement::new("bearer", Vec::<String>::new())
}

fn apply(op: &mut Operation, secured: bool, parameters: bool, body: bool) {
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    if parameters || body {
        wanted
            .push(("400", "A malformed request: a bad path or query parameter, or malformed JSON"));
    }
    if secured {
        wanted.push(("401", "No valid bearer token"));
        wanted.push(("403", "The token lacks the role this needs"));
        wanted.push((
            "429",
            "`rate-limited`: this subject's budget of writes, expensive reads or live streams is spent; try again after `Retry-After` seconds",
        ));
    }
    if body {
        wanted.push(("413", "The body is too large"));
        wanted.push(("415", "The body is not JSON"));
        wanted.push(("422", "`validation`: the fields listed in `errors` are invalid"));
    }
    wanted.push(("503", "The event log is unavailable: try again after `Retry-After` seconds"));
    for (status, description) in wanted {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(PROBLEM_JSON, problem_content())
                    .build(),
            )
        });
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        if response.description.is_empty() {
            response.description = reason(status).to_owned();
        }
        if let Some(json) = response.content.shift_remove("application/json") {
            if refers_to_problem(&json) {
                response.content.insert(PROBLEM_JSON.to_owned(), json);
            } else {
                response.content.insert("application/json".to_owned(), json);
            }
        }
        if (status == "503" || status == "429") && !response.headers.contains_key("Retry-After") {
            let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).build();
            response.headers.insert(
                "Retry-After".to_owned(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(seconds))
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                ),
            );
        }
    }
}

fn problem_content() -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build()
}

fn refers_to_problem(content: &RefOr<utoipa::openapi::Content>) -> bool {
    let RefOr::T(content) = content else { return false };
    matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
}

/// The reason phrase of a status, as a response's description.
fn reason(status: &str) -> &'static str {
    status
        .parse::<u16>()
        .ok()
        .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("A response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::OpenApiBuilder;
    use utoipa::openapi::path::{
        HttpMethod, OperationBuilder, ParameterBuilder, PathItem, PathsBuilder,
    };
    use utoipa::openapi::request_body::RequestBodyBuilder;

    fn doc() -> OpenApi {
        let problem =
            || ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        let get = OperationBuilder::new()
            .parameter(ParameterBuilder::new().name("id").parameter_in(ParameterIn::Path).build())
            .response("200", ResponseBuilder::new().build())
            .response("404", ResponseBuilder::new().content("application/json", problem()).build())
            .build();
        let key = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()));
        let open = OperationBuilder::new()
            .securities(Some(Vec::<SecurityRequirement>::new()))
            .parameter(key)
            .request_body(Some(RequestBodyBuilder::new().build()))
            .response("201", ResponseBuilder::new().description("Made").build())
            .build();
        let paths = PathsBuilder::new()
            .path("/v1/things/{id}", PathItem::new(HttpMethod::Get, get))
            .path("/v1/things", PathItem::new(HttpMethod::Post, open));
        OpenApiBuilder::new().paths(paths).build()
    }

    fn response(
        doc: &OpenApi,
        path: &str,
        post: bool,
        status: &str,
    ) -> Option<utoipa::openapi::Response> {
        let item = &doc.paths.paths[path];
        let op = if post { item.post.as_ref() } else { item.get.as_ref() }.unwrap();
        match op.responses.responses.get(status)? {
            RefOr::T(r) => Some(r.clone()),
            RefOr::Ref(_) => None,
        }
    }

    #[test]
    fn every_response_is_described_and_problems_are_problem_json() {
        let mut doc = doc();
        conventions(&mut doc);
        let ok = response(&doc, "/v1/things/{id}", false, "200").unwrap();
        assert_eq!(ok.description, "OK");
        let missing = response(&doc, "/v1/things/{id}", false, "404").unwrap();
        assert_eq!(missing.description, "Not Found");
        assert!(missing.content.contains_key(PROBLEM_JSON));
        assert!(!missing.content.contains_key("application/json"));
        let made = response(&doc, "/v1/things", true, "201").unwrap();
        assert_eq!(made.description, "Made");
    }

    #[test]
    fn the_plumbings_statuses_are_documented_where_they_apply() {
        let mut doc = doc();
        conventions(&mut doc);
        let has = |path, post, status| response(&doc, path, post, status).is_some();
        // A GET with a path parameter, secured by default.
        let get = doc.paths.paths["/v1/things/{id}"].get.as_ref().unwrap();
        assert!(get.security == Some(vec![bearer()]), "a GET without security needs the token");
        for status in ["400", "401", "403", "503"] {
            assert!(has("/v1/things/{id}", false, status), "GET lacks {status}");
        }
        assert!(!has("/v1/things/{id}", false, "415"));
        // An open POST with a body: it said it needs no token.
        let post = doc.paths.paths["/v1/things"].post.as_ref().unwrap();
        assert!(post.security == Some(vec![]), "an open POST stays open");
        for status in ["400", "413", "415", "422", "503"] {
            assert!(has("/v1/things", true, status), "POST lacks {status}");
        }
        assert!(!has("/v1/things", true, "401"));
        let unavailable = response(&doc, "/v1/things", true, "503").unwrap();
        assert!(unavailable.headers.contains_key("Retry-After"));
        assert!(unavailable.content.contains_key(PROBLEM_JSON));
    }

    #[test]
    fn every_idempotency_key_has_the_parsers_schema() {
        let mut doc = doc();
        conventions(&mut doc);
        let post = doc.paths.paths["/v1/things"].post.as_ref().unwrap();
        let Some(RefOr::T(key)) = post.parameters.as_ref().and_then(|p| p.first()) else {
            panic!("no parameter")
        };
        let schema = serde_json::to_value(&key.schema).unwrap();
        assert_eq!(schema["pattern"], r"^[!-~]{1,128}[ \t]*$");
        assert_eq!(schema["minLength"], 1);
    }
}
