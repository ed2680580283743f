//! One error shape for every route: `application/problem+json` (RFC 9457) with a stable
//! `code`, mapped from the kind of [`fintech_core::Error`] as ARCHITECTURE.md says.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fintech_core::{ConflictCode, Error};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` plus the code).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the status.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable machine-readable code (`validation_error`, `not_found`, `limit_exceeded` ...).
    pub code: String,
    /// What went wrong and what to do, for humans. Never contains secrets.
    pub detail: String,
    /// The field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The provider's request id, for provider errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_request_id: Option<String>,
    /// Whether retrying the same request later may succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// `confirmation_required` (428): what the money move would do. Send the same request
    /// again with `confirmation_token` to execute it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Box<fintech_core::platform::MoveDecision>>,
    /// `confirmation_required` (428): the token that executes exactly this request once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
}

/// An error on its way out as a problem document.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    problem: Box<Problem>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            problem: Box::new(Problem {
                kind: format!("https://docs.fintech.invalid/errors#{code}"),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                status: status.as_u16(),
                code: code.to_owned(),
                detail: detail.into(),
                field: None,
                provider_request_id: None,
                retryable: None,
                decision: None,
                confirmation_token: None,
            }),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests for this key; retry after {retry_after_secs} s"),
        );
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    /// A malformed request body or query (not JSON, wrong types, unknown fields).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem's stable code.
    pub fn code(&self) -> &str {
        &self.problem.code
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::Validation { field, message } => {
                let mut a = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_error",
                    format!("invalid {field}: {message}"),
                );
                a.problem.field = Some(field);
                a
            }
            Error::Unauthenticated(_) => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
            }
            Error::Forbidden { .. } => Self::new(StatusCode::FORBIDDEN, "forbidden", detail),
            Error::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not_found", detail),
            Error::Conflict { code, .. } => {
                let status = match code {
                    ConflictCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::CONFLICT,
                };
                Self::new(status, code.as_str(), detail)
            }
            Error::LimitExceeded { .. } => {
                Self::new(StatusCode::PAYMENT_REQUIRED, "limit_exceeded", detail)
            }
            Error::Blocked { .. } => Self::new(StatusCode::PAYMENT_REQUIRED, "blocked", detail),
            Error::Provider {
                code,
                request_id,
                retryable,
                ..
            } => {
                let mut a = Self::new(StatusCode::BAD_GATEWAY, "provider_error", detail);
                a.problem.provider_request_id = request_id;
                a.problem.retryable = Some(retryable);
                a.problem.field = None;
                a.problem.code = format!("provider_error.{code}");
                a
            }
            Error::ConfirmationRequired(decision) => {
                let mut a = Self::new(
                    StatusCode::PRECONDITION_REQUIRED,
                    "confirmation_required",
                    detail,
                );
                a.problem.confirmation_token = decision.confirmation_token.clone();
                a.problem.decision = Some(decision);
                a
            }
            Error::Unavailable(_) => {
                let mut a = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    detail,
                );
                a.retry_after = Some(1);
                a
            }
            Error::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error; it has been logged",
                )
            }
            other => {
                tracing::error!(error = %other, "unmapped error kind");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"fintech\""),
            );
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
