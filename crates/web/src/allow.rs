//! The methods each path accepts, for the `Allow` header of a 405 (RFC 9110 §15.5.6 requires
//! it). Taken from the OpenAPI document of the services served (the same routes), plus the
//! plumbing's own paths, which all accept `GET` only.

use actix_web::http::Method;
use utoipa::openapi::OpenApi;

/// Path templates (`/v1/purchases/{id}`) with the methods each accepts.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods {
    routes: Vec<(Vec<String>, Vec<Method>)>,
}

impl AllowedMethods {
    /// The table of `routes`: path templates with their methods.
    pub fn new<'a>(routes: impl IntoIterator<Item = (&'a str, Vec<Method>)>) -> Self {
        Self { routes: routes.into_iter().map(|(t, m)| (segments(t), m)).collect() }
    }

    /// The table of `doc`'s paths.
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    (item.get.is_some(), Method::GET),
                    (item.put.is_some(), Method::PUT),
                    (item.post.is_some(), Method::POST),
                    (item.delete.is_some(), Method::DELETE),
                    (item.patch.is_some(), Method::PATCH),
                ]
                .into_iter()
                .filter_map(|(present, m)| present.then_some(m))
                .collect();
                (segments(template), methods)
            })
            .collect();
        Self { routes }
    }

    /// The `Allow` header's value for a request to `path` whose method is not accepted.
    pub fn allow(&self, path: &str) -> String {
        let asked = segments(path);
        let methods = self
            .routes
            .iter()
            .find(|(template, _)| matches(template, &asked))
            .map_or_else(|| vec![Method::GET], |(_, methods)| methods.clone());
        let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
        if names.contains(&"GET") {
            names.push("HEAD");
        }
        names.join(", ")
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/').split('/').map(str::to_owned).collect()
}

fn matches(template: &[String], asked: &[String]) -> bool {
    template.len() == asked.len()
        && template
            .iter()
            .zip(asked)
            .all(|(t, a)| (t.starts_with('{') && t.ends_with('}')) || t == a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::OpenApiBuilder;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};

    #[test]
    fn names_the_methods_of_the_matching_template() {
        let op = || OperationBuilder::new().build();
        let mut item = PathItem::new(HttpMethod::Get, op());
        item.post = Some(op());
        let paths = PathsBuilder::new()
            .path("/v1/purchases/{id}", item)
            .path("/v1/purchases/{id}/cancel", PathItem::new(HttpMethod::Post, op()));
        let doc = OpenApiBuilder::new().paths(paths).build();
        let table = AllowedMethods::from_openapi(&doc);
        assert_eq!(table.allow("/v1/purchases/7f3a"), "GET, POST, HEAD");
        assert_eq!(table.allow("/v1/purchases/7f3a/cancel"), "POST");
        assert_eq!(table.allow("/health/live"), "GET, HEAD");
    }
}
