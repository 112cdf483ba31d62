//! The `Idempotency-Key` header of every `POST` that creates something, written once.
//!
//! A client that is not sure its request arrived (a timeout, a dropped connection) sends it
//! again with the same key: the second one must change nothing and get the first one's answer.
//! The key names one request of one caller: the same key with another body, or to another
//! path, is `409 idempotency-conflict`.
//!
//! How: a request with a key ([`Idempotency::of`]) runs its command through
//! [`Commands::run_idempotent`](crate::Commands::run_idempotent), which reads the key's stream,
//! `idempotency-{uuid v5(caller, key)}` ([`events::gate::idempotency_key_id`]), in the same round
//! trip as the aggregate, and appends `idempotent-request-recorded` to it, with expected version
//! "no stream", in the same atomic append as the command's events. So a key is used once or
//! not at all, whatever the number of instances: of two identical requests at the same moment,
//! one appends, the other's append conflicts, and it reads again and answers as a repeat.
//!
//! ```ignore
//! #[utoipa::path(params(("id" = Uuid, Path), IdempotencyKeyHeader), …)]
//! #[post("/v1/purchases/{id}/calls")]
//! pub async fn log_call(cx: Context<State, Writers>, body: Body<CallBody>) -> Reply {
//!     let once = cx.idempotency(body.json())?;
//!     …
//!     match cx.state.commands.run_idempotent(&meta, once.as_ref(), &[call_id], stream, &[], decide).await? {
//!         Run::Done(done) => …,        // answer 201
//!         Run::Repeat(first) => …,     // answer 201 again, from `first`, with `replayed()`
//!     }
//! }
//! ```

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponseBuilder};
use auth::Principal;
use eventlog::StreamName;
use events::gate::{IdempotencyEvent, IdempotentRequestRecorded, idempotency_key_id};
use events::values::IdempotencyKey;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use uuid::Uuid;
use web::ApiError;

use crate::Run;

/// The header's name.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The response header set on a repeat's answer (`Idempotent-Replayed: true`).
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// The request's `Idempotency-Key`, if it sent one; 400 `invalid-header` when it is not 1 to
/// 128 visible ASCII characters, as documented: an empty header is a malformed key, not none.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else { return Ok(None) };
    let text = value.to_str().map_err(|_| {
        ApiError::bad_request("invalid-header", "The Idempotency-Key header must be visible ASCII.")
    })?;
    IdempotencyKey::parse(text).map(Some).map_err(|e| {
        ApiError::bad_request(
            "invalid-header",
            format!("The Idempotency-Key header is invalid: {}", e.message()),
        )
    })
}

/// A request sent with an `Idempotency-Key`: the key's stream (the caller's own) and what the
/// request asks (its method, path and body), to tell a repeat from another request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The key as sent.
    pub key: IdempotencyKey,
    /// `idempotency-{uuid}`: the caller's use of the key.
    pub stream: StreamName,
    /// Hex SHA-256 of the method, the path (with its query) and the body in canonical form
    /// (object members sorted, no whitespace).
    pub request_hash: String,
    /// The method and path, for people.
    pub request: String,
}

impl Idempotency {
    /// The key of `req` from `caller` asking `body` (`Value::Null` without a body), or `None`
    /// when it sent none; 400 `invalid-header` when the key is malformed.
    pub fn of(
        caller: &Principal,
        req: &HttpRequest,
        body: &Value,
    ) -> Result<Option<Self>, ApiError> {
        let Some(key) = idempotency_key(req)? else { return Ok(None) };
        let path = match req.query_string() {
            "" => req.path().to_owned(),
            query => format!("{}?{query}", req.path()),
        };
        Ok(Some(Self::new(&caller.subject, key, req.method().as_str(), &path, body)))
    }

    /// `key` of the caller `subject`, for the request `method path` with `body`.
    pub fn new(subject: &str, key: IdempotencyKey, method: &str, path: &str, body: &Value) -> Self {
        let mut canonical = Vec::new();
        canonical.extend_from_slice(method.as_bytes());
        canonical.push(b' ');
        canonical.extend_from_slice(path.as_bytes());
        canonical.push(b'\n');
        write_canonical(body, &mut canonical);
        let id = idempotency_key_id(subject, key.as_str());
        let stream = StreamName::new(events::gate::idempotency_stream(id))
            .expect("idempotency-{uuid} is a valid stream name");
        Self {
            key,
            stream,
            request_hash: hex::encode(Sha256::digest(&canonical)),
            request: format!("{method} {path}"),
        }
    }

    /// What the key's stream says about this request: nothing yet (`Ok(None)`), the first
    /// answer to repeat (`Ok(Some(..))`), or 409 `idempotency-conflict` when the key names
    /// another request.
    pub fn earlier(
        &self,
        recorded: Option<&IdempotencyEvent>,
    ) -> Result<Option<IdempotentRequestRecorded>, ApiError> {
        match recorded {
            None => Ok(None),
            Some(IdempotencyEvent::RequestRecorded(first))
                if first.request_hash == self.request_hash =>
            {
                Ok(Some(first.clone()))
            }
            Some(IdempotencyEvent::RequestRecorded(first)) => Err(conflict(&first.request)),
            Some(IdempotencyEvent::KeyUsed(_)) => Err(conflict("a purchase check")),
        }
    }

    /// The event recording that this request appended up to `version` of `stream`, creating
    /// `created`.
    pub fn recorded(
        &self,
        stream: &StreamName,
        version: u64,
        created: &[uuid::Uuid],
    ) -> IdempotencyEvent {
        IdempotentRequestRecorded {
            request_hash: self.request_hash.clone(),
            request: self.request.clone(),
            stream: stream.to_string(),
            version,
            created: created.to_vec(),
        }
        .into()
    }
}

/// 409 `idempotency-conflict`: the key already names `request`, with another body.
fn conflict(request: &str) -> ApiError {
    ApiError::conflict(
        "idempotency-conflict",
        format!(
            "This Idempotency-Key was already used for another request ({request}); send a new key with a new request, or the same request again with this key."
        ),
    )
}

/// `value` as canonical JSON: object members sorted by name, no whitespace.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(name.clone()).to_string().as_bytes());
                out.push(b':');
                write_canonical(member, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

/// The `Idempotency-Key` header as an OpenAPI parameter: `params(IdempotencyKeyHeader)` on
/// every operation that takes it.
#[derive(Debug)]
pub struct IdempotencyKeyHeader;

/// The schema of the header's value: 1 to 128 visible ASCII characters. Spaces and tabs after
/// a header's value are no part of it in HTTP (RFC 9110, section 5.5: the server never sees
/// them), so the pattern lets them follow the key rather than promise that `k1 ` is refused.
/// Every operation's `Idempotency-Key` has it ([`super::conventions`]).
pub fn idempotency_key_header_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "An idempotency key: 1 to 128 visible ASCII characters (spaces or tabs after it are \
             not part of an HTTP header's value).",
        ))
        .min_length(Some(1))
        .pattern(Some(r"^[!-~]{1,128}[ \t]*$"))
        .examples(["0b8e6f5c-2b9e-4c53-9c1c-6f7f4f0c1d2e"])
        .into()
}

impl IntoParams for IdempotencyKeyHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let schema = idempotency_key_header_schema();
        vec![
            ParameterBuilder::new()
                .name(IDEMPOTENCY_KEY)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Optional: your id for this request (1 to 128 visible ASCII characters). The \
                     same key with the same body again creates nothing and gets the first \
                     answer (with `Idempotent-Replayed: true`); the same key with another body \
                     or path is `409 idempotency-conflict`. Keys are per caller.",
                ))
                .schema(Some(schema))
                .build(),
        ]
    }
}

/// What a write sent with an optional `Idempotency-Key` did ([`crate::Run`]): the position
/// the read models must reach to show it (`None`: the head, for a repeat or a write that
/// changed nothing), the ids of what the first request created, and whether this request was
/// a repeat of it (answered as the first, with `Idempotent-Replayed: true`).
#[derive(Debug)]
pub struct Written {
    pub position: Option<u64>,
    pub created: Vec<Uuid>,
    pub replayed: bool,
    /// For a repeat, the version the first request left its stream at (its events end
    /// there): what a handler that answers with what was recorded reads.
    pub first_version: Option<u64>,
}

impl Written {
    /// What `run` did, the request creating `created` (the first request's, for a repeat).
    pub fn of<A>(run: Run<A>, created: &[Uuid]) -> Self {
        match run {
            Run::Done(done) => Self {
                position: done.position,
                created: created.to_vec(),
                replayed: false,
                first_version: None,
            },
            Run::Repeat(first) => Self {
                position: None,
                created: first.created,
                replayed: true,
                first_version: Some(first.version),
            },
        }
    }

    /// The `n`th id the request created.
    pub fn created(&self, n: usize) -> Result<Uuid, ApiError> {
        self.created.get(n).copied().ok_or_else(|| {
            ApiError::internal("an idempotency key's record without the ids it created")
        })
    }

    /// The answer's start, with `status`.
    pub fn respond(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut response = HttpResponseBuilder::new(status);
        if self.replayed {
            response.insert_header((IDEMPOTENT_REPLAYED, "true"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> IdempotencyKey {
        IdempotencyKey::parse(k).unwrap()
    }

    #[test]
    fn the_hash_names_method_path_and_body_in_canonical_form() {
        let a = Idempotency::new(
            "it",
            key("k"),
            "POST",
            "/v1/x",
            &json!({"a": 1, "b": [1, {"d": 2, "c": 3}]}),
        );
        let b = Idempotency::new(
            "it",
            key("k"),
            "POST",
            "/v1/x",
            &json!({"b": [1, {"c": 3, "d": 2}], "a": 1}),
        );
        assert_eq!(a, b);
        assert_eq!(a.request, "POST /v1/x");
        for other in [
            Idempotency::new("it", key("k"), "POST", "/v1/y", &json!({"a": 1})),
            Idempotency::new("it", key("k"), "POST", "/v1/x", &json!({"a": 2})),
            Idempotency::new("it", key("k"), "PUT", "/v1/x", &json!({"a": 1})),
            Idempotency::new("it", key("k"), "POST", "/v1/x", &Value::Null),
        ] {
            assert_eq!(other.stream, a.stream, "one key, one stream");
            assert_ne!(other.request_hash, a.request_hash);
        }
        let theirs = Idempotency::new("someone-else", key("k"), "POST", "/v1/x", &json!({}));
        assert_ne!(theirs.stream, a.stream, "keys are per caller");
        let mut text = Vec::new();
        write_canonical(&json!({"z": "\"", "a": [true, null, 1.5]}), &mut text);
        assert_eq!(String::from_utf8(text).unwrap(), r#"{"a":[true,null,1.5],"z":"\""}"#);
    }

    #[test]
    fn a_repeat_gets_the_first_answer_and_another_request_a_conflict() {
        let once = Idempotency::new("it", key("k"), "POST", "/v1/x", &json!({"a": 1}));
        assert_eq!(once.earlier(None).unwrap(), None);
        let stream = StreamName::new("purchase-1").unwrap();
        let recorded = once.recorded(&stream, 4, &[uuid::Uuid::nil()]);
        let IdempotencyEvent::RequestRecorded(first) = &recorded else { panic!() };
        assert_eq!(once.earlier(Some(&recorded)).unwrap().as_ref(), Some(first));
        let other = Idempotency::new("it", key("k"), "POST", "/v1/x", &json!({"a": 2}));
        let err = other.earlier(Some(&recorded)).unwrap_err();
        assert_eq!(err.status(), actix_web::http::StatusCode::CONFLICT);
        let check = IdempotencyEvent::from(events::gate::IdempotencyKeyUsed {
            purchase_id: uuid::Uuid::nil(),
            request_hash: once.request_hash.clone(),
        });
        assert!(once.earlier(Some(&check)).is_err());
    }
}
