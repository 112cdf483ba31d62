//! Serving a service's OpenAPI document, and keeping the committed copy honest.
//!
//! [`openapi_routes`] serves the document at `/openapi.json` and Swagger UI at `/docs`. The UI's
//! files are compiled into the binary (utoipa-swagger-ui's `vendored` feature), so the docs work
//! without internet access.
//!
//! [`check_openapi_file`] is the drift check behind `openapi/*.json`: each service has a test
//! that builds its document and calls it with the committed file's path. When the code and the
//! file disagree the test fails, naming the command that regenerates the file
//! (`UPDATE_OPENAPI=1 cargo test -p <crate>`), in the manner of rust-analyzer's `UPDATE_EXPECT`.
//! [`check_operations`] is its companion: the document has exactly the operations the API
//! lists, each behind the bearer token.

use std::path::Path;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// The environment variable that makes [`check_openapi_file`] write the file instead of
/// comparing.
pub const UPDATE_OPENAPI_ENV: &str = "UPDATE_OPENAPI";

/// Serves `doc` at `GET /openapi.json` and Swagger UI at `GET /docs` (redirecting to `/docs/`).
pub fn openapi_routes(cfg: &mut web::ServiceConfig, doc: OpenApi) {
    openapi_routes_at(cfg, doc, "/openapi.json", "/docs");
}

/// Like [`openapi_routes`], at other paths (for a process serving several documents, such as
/// the all-in-one server). `docs_path` has no trailing slash (`/docs/gate`).
pub fn openapi_routes_at(
    cfg: &mut web::ServiceConfig,
    doc: OpenApi,
    json_path: &'static str,
    docs_path: &'static str,
) {
    let slashed = format!("{docs_path}/");
    cfg.route(
        docs_path,
        web::get().to(move || {
            let location = slashed.clone();
            async move {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, location))
                    .finish()
            }
        }),
    )
    .service(SwaggerUi::new(format!("{docs_path}/{{_:.*}}")).url(json_path, doc));
}

/// The committed form of a document: pretty JSON with a final newline.
pub fn openapi_json(doc: &OpenApi) -> String {
    let mut json = doc.to_pretty_json().expect("an OpenAPI document always serializes to JSON");
    json.push('\n');
    json
}

/// Compares `doc` with the committed file at `path`; panics, saying how to regenerate, when they
/// differ or the file is missing. With `UPDATE_OPENAPI=1` in the environment it writes the file
/// (creating its folder) instead. Call it from a test.
pub fn check_openapi_file(doc: &OpenApi, path: &Path) {
    let update = std::env::var(UPDATE_OPENAPI_ENV).is_ok_and(|v| v == "1");
    check_or_update(doc, path, update);
}

/// Checks that `doc` has exactly `operations` (method and path), each secured by the `bearer`
/// scheme and documenting every one of `statuses`, and that it defines the `bearer` scheme and
/// the component `schemas`; panics naming what is missing. Call it from a test.
pub fn check_operations(
    doc: &OpenApi,
    operations: &[(&str, &str)],
    statuses: &[&str],
    schemas: &[&str],
) {
    let doc = serde_json::to_value(doc).expect("an OpenAPI document always serializes to JSON");
    let paths = doc["paths"].as_object().expect("the document has paths");
    for (method, path) in operations {
        let operation = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is missing; the paths are {:?}", paths.keys()))
            [method];
        assert!(operation.is_object(), "{method} {path} is missing");
        assert_eq!(operation["security"][0]["bearer"], serde_json::json!([]), "{method} {path}");
        let responses = operation["responses"].as_object().expect("an operation has responses");
        for status in statuses {
            assert!(responses.contains_key(*status), "{method} {path} does not document {status}");
        }
    }
    let count: usize = paths.values().map(|p| p.as_object().map_or(0, |p| p.len())).sum();
    assert_eq!(count, operations.len(), "operations not listed: {:?}", paths.keys());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    for schema in schemas {
        assert!(doc["components"]["schemas"][schema].is_object(), "no schema {schema}");
    }
}

fn check_or_update(doc: &OpenApi, path: &Path, update: bool) {
    let expected = openapi_json(doc);
    let crate_name = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<crate>".to_owned());

    if update {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        }
        std::fs::write(path, &expected)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }

    let regenerate = format!(
        "regenerate it with `UPDATE_OPENAPI=1 cargo test -p {crate_name}` and commit the result"
    );
    let committed = match std::fs::read_to_string(path) {
        Ok(text) => text.replace("\r\n", "\n"),
        Err(e) => {
            panic!("the OpenAPI document {} cannot be read ({e}); {regenerate}", path.display())
        }
    };
    if committed != expected {
        let line = committed
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(expected.lines().count()))
            + 1;
        panic!(
            "the OpenAPI document {} is out of date with the code (first difference at line {line}); {regenerate}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::{InfoBuilder, OpenApiBuilder};

    fn doc(version: &str) -> OpenApi {
        OpenApiBuilder::new()
            .info(InfoBuilder::new().title("test").version(version).build())
            .build()
    }

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "procgate-web-openapi-{}-{}",
            std::process::id(),
            name
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("openapi").join("svc.json")
    }

    #[test]
    fn update_writes_then_check_passes() {
        let path = temp_file("update");
        check_or_update(&doc("1.0.0"), &path, true);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        check_or_update(&doc("1.0.0"), &path, false);
        check_openapi_file(&doc("1.0.0"), &path);
    }

    #[test]
    fn drift_panics_with_the_regenerate_command() {
        let path = temp_file("drift");
        check_or_update(&doc("1.0.0"), &path, true);
        let err = std::panic::catch_unwind(|| check_or_update(&doc("2.0.0"), &path, false))
            .expect_err("a drifted document must fail");
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("UPDATE_OPENAPI=1 cargo test -p web"), "{message}");
        assert!(message.contains("out of date"), "{message}");
    }

    #[test]
    fn missing_file_panics_with_the_regenerate_command() {
        let path = temp_file("missing");
        let err = std::panic::catch_unwind(|| check_or_update(&doc("1.0.0"), &path, false))
            .expect_err("a missing document must fail");
        let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("UPDATE_OPENAPI=1"), "{message}");
    }
}
