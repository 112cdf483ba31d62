//! The three services' public API, called with the signed-in person's token.
//!
//! The console decides nothing itself: a refusal comes back as the service's problem (RFC
//! 9457), and the page shows its title and detail beside the form that caused it.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::Settings;

/// Which service a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Svc {
    /// Purchases, catalog, clocks, cards.
    Gate,
    /// Schools, people, promises, follow-ups, wishes.
    Stakeholders,
    /// Reports and audit.
    Reporting,
}

/// A problem the API answered with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Problem {
    /// The HTTP status.
    #[serde(default)]
    pub status: u16,
    /// The problem type URI (its last segment is the slug: `call-required`).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// A short summary.
    #[serde(default)]
    pub title: String,
    /// What happened in this case.
    #[serde(default)]
    pub detail: String,
    /// The fields that were wrong, for a validation problem.
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

/// One wrong field of a request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FieldError {
    /// The field's JSON pointer or name.
    #[serde(default)]
    pub field: String,
    /// What is wrong with it.
    #[serde(default)]
    pub message: String,
}

impl Problem {
    /// The slug of the problem type (`call-required`).
    pub fn slug(&self) -> &str {
        self.kind.rsplit('/').next().unwrap_or_default()
    }
}

/// Why a call to the API did not give an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered with a problem.
    #[error("{}: {}", .0.title, .0.detail)]
    Refused(Problem),
    /// The service could not be reached, or answered something that is not its API.
    #[error("procgate's API did not answer: {0}")]
    Unreachable(String),
}

/// The client of the three services.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    gate: String,
    stakeholders: String,
    reporting: String,
}

impl Api {
    pub(crate) fn new(settings: &Settings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let base = |u: &str| u.trim_end_matches('/').to_owned();
        Ok(Self {
            http,
            gate: base(&settings.gate_url),
            stakeholders: base(&settings.stakeholders_url),
            reporting: base(&settings.reporting_url),
        })
    }

    fn url(&self, svc: Svc, path: &str) -> String {
        let base = match svc {
            Svc::Gate => &self.gate,
            Svc::Stakeholders => &self.stakeholders,
            Svc::Reporting => &self.reporting,
        };
        format!("{base}{path}")
    }

    /// `GET path` as JSON.
    pub async fn get(&self, token: &str, svc: Svc, path: &str) -> Result<Value, ApiError> {
        let res = self.http.get(self.url(svc, path)).bearer_auth(token).send().await;
        json_of(res).await
    }

    /// `GET path` as text (a CSV report), with its content type.
    pub async fn get_text(
        &self,
        token: &str,
        svc: Svc,
        path: &str,
    ) -> Result<(String, String), ApiError> {
        let res = self
            .http
            .get(self.url(svc, path))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(e.to_string()))?;
        let res = refused(res).await?;
        let kind = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/plain")
            .to_owned();
        let text = res.text().await.map_err(|e| ApiError::Unreachable(e.to_string()))?;
        Ok((kind, text))
    }

    /// `POST path` with a JSON body and, when given, an `Idempotency-Key` (so a form sent
    /// twice, by a double click or a reload, is written once).
    pub async fn post(
        &self,
        token: &str,
        svc: Svc,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Value, ApiError> {
        let mut req = self.http.post(self.url(svc, path)).bearer_auth(token).json(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        json_of(req.send().await).await
    }
}

async fn refused(res: reqwest::Response) -> Result<reqwest::Response, ApiError> {
    if res.status().is_success() {
        return Ok(res);
    }
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    let mut problem: Problem = serde_json::from_str(&text).unwrap_or_default();
    problem.status = status;
    if problem.title.is_empty() {
        problem.title = format!("the API answered {status}");
    }
    Err(ApiError::Refused(problem))
}

async fn json_of(res: reqwest::Result<reqwest::Response>) -> Result<Value, ApiError> {
    let res = refused(res.map_err(|e| ApiError::Unreachable(e.to_string()))?).await?;
    if res.status() == reqwest::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    res.json().await.map_err(|e| ApiError::Unreachable(format!("an answer that is not JSON: {e}")))
}
