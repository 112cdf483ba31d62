//! The console's static files, compiled into the binary: the console works with no internet.
//!
//! htmx 2.0.11 (`htmx.org` from the npm registry, `dist/htmx.min.js`, Zero-Clause BSD: its
//! licence is served beside it at `/console/assets/htmx-LICENSE`), the style sheet, the
//! keyboard navigation script and the icon.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const FILES: [(&str, &str, &[u8]); 5] = [
    ("htmx.min.js", "text/javascript; charset=utf-8", include_bytes!("../assets/htmx.min.js")),
    ("htmx-LICENSE", "text/plain; charset=utf-8", include_bytes!("../assets/htmx-LICENSE")),
    ("console.css", "text/css; charset=utf-8", include_bytes!("../assets/console.css")),
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../assets/console.js")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../assets/favicon.svg")),
];

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{name}", web::get().to(asset));
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, kind, bytes)) => HttpResponse::Ok()
            .content_type(*kind)
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*bytes),
        None => HttpResponse::NotFound().content_type("text/plain").body("no such file"),
    }
}
