//! An internal error's cause goes to the log, inside the request's span with its request id.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web as aweb};
use web::ApiError;

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn boom() -> Result<HttpResponse, ApiError> {
    Err(ApiError::internal(std::io::Error::other("disk full on /var/lib/procgate")))
}

#[actix_web::test]
async fn internal_cause_is_logged_with_the_request_id() {
    let captured = Captured::default();
    let subscriber =
        tracing_subscriber::fmt().with_writer(captured.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = test::init_service(web::with_plumbing(
        App::new().route("/boom", aweb::get().to(boom)),
        1024,
    ))
    .await;
    let req = test::TestRequest::get()
        .uri("/boom")
        .insert_header(("x-request-id", "trace-1"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(!body.contains("disk full"), "{body}");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|l| l.contains("internal error"))
        .unwrap_or_else(|| panic!("no internal error logged in:\n{logs}"));
    assert!(line.contains("disk full on /var/lib/procgate"), "{line}");
    assert!(line.contains("request_id=trace-1"), "{line}");
    assert!(line.contains("http.route=/boom"), "{line}");
}
