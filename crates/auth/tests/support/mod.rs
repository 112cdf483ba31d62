//! What the extractor tests and the provider tests both send.

use actix_web::http::header;
use actix_web::test::TestRequest;

/// `req` carrying `token` as its bearer token.
pub fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
}
