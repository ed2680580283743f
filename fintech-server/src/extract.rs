//! Extractors: the authenticated principal, JSON bodies and queries with problem+json
//! rejections, and the `Idempotency-Key` header.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fintech_core::platform::Executed;
use fintech_core::{Actor, Interface, Principal};
use governor::clock::{Clock, DefaultClock};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use crate::AppState;

/// The caller, authenticated from `Authorization: Bearer <api key>` and rate limited per key.
pub struct Auth(pub Principal);

/// A caller a middleware already authenticated for this request (counted and rate limited
/// once): the handler's [`Auth`] takes it instead of authenticating again.
#[derive(Clone)]
pub(crate) struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(Authenticated(p)) = parts.extensions.get::<Authenticated>() {
            return Ok(Auth(p.clone()));
        }
        let secret = bearer(&parts.headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "send an API key as `Authorization: Bearer fk_…`",
            )
        })?;
        // API keys start with `fk_`; anything else must be a signed, unexpired session token.
        let principal = if secret.starts_with("fk_") {
            state
                .platform()
                .authenticate(secret, Interface::Http)
                .await?
        } else {
            crate::session::principal(state, secret).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "invalid or expired access token; refresh it or sign in again",
                )
            })?
        };
        let actor = match &principal.actor {
            Actor::ApiKey(id) => id.to_string(),
            other => other.to_string(),
        };
        if let Some(limiter) = &state.inner.limiter {
            if let Err(not_until) = limiter.check_key(&actor) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(ApiError::rate_limited(wait.as_secs() + 1));
            }
        }
        let kind = match &principal.actor {
            Actor::ApiKey(_) => "api_key",
            Actor::User(_) => "user",
            Actor::System => "system",
        };
        ::metrics::counter!("fintech_authenticated_requests_total", "kind" => kind).increment(1);
        // Key and user ids are identifiers an operator opts in to exposing (per-key usage is
        // also in core: `GET /v1/keys/{id}/usage`).
        if state.options().metrics_id_labels {
            ::metrics::counter!("fintech_api_key_requests_total", "key" => actor).increment(1);
        }
        Ok(Auth(principal))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// A JSON body; malformed JSON, wrong types and unknown fields answer 400 problem+json.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let essence = v.split(';').next().unwrap_or_default().trim();
                essence.eq_ignore_ascii_case("application/json")
                    || essence.to_ascii_lowercase().ends_with("+json")
            });
        if !json_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "send the body as application/json",
            ));
        }
        // Strict JSON (fintech_core::json): a repeated key or an array where an object belongs
        // is refused at any depth, so what a proxy or reviewer reads is what runs.
        match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => match fintech_core::json::from_slice::<serde_json::Value>(&bytes) {
                Ok(v) if !v.is_object() => Err(ApiError::bad_request(
                    "the request body must be a JSON object",
                )),
                Ok(v) => fintech_core::json::from_value(v)
                    .map(Body)
                    .map_err(|e| match e {
                        // an amount out of range or too precise: a value error, 422
                        fintech_core::Error::Validation { ref field, .. } if field != "body" => {
                            ApiError::from(e)
                        }
                        e => ApiError::bad_request(format!("invalid request body: {e}")),
                    }),
                Err(e) => Err(ApiError::bad_request(format!("invalid request body: {e}"))),
            },
            // A body that does not parse into the type (syntax, types, unknown fields) is a
            // 400; size (413) and content type (415) keep their own statuses. Values that parse
            // but are invalid are core validation errors: 422.
            Err(rejection) => {
                let status = match rejection.status() {
                    StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
                    other => other,
                };
                Err(ApiError::new(
                    status,
                    "invalid_request",
                    rejection.body_text(),
                ))
            }
        }
    }
}

/// Query parameters; bad ones answer 400 problem+json.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// The `Idempotency-Key` header, if sent (1 to 255 printable ASCII characters; core checks).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get("idempotency-key") {
            None => Ok(IdempotencyKey(None)),
            Some(v) => v
                .to_str()
                .map(|s| IdempotencyKey(Some(s.to_owned())))
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be printable ASCII")),
        }
    }
}

/// The answer of a change: its status (`201 Created` for a created object, `200 OK` otherwise)
/// and JSON body, with `Idempotent-Replayed: true` when an earlier request with the same
/// `Idempotency-Key` produced it (core says so: [`Executed::replayed`]).
pub struct Answer<T> {
    /// The status.
    pub status: StatusCode,
    /// The object.
    pub body: T,
    /// Replayed from a stored result.
    pub replayed: bool,
}

impl<T> Answer<T> {
    /// `201 Created`.
    pub fn created(e: Executed<T>) -> Self {
        Self {
            status: StatusCode::CREATED,
            body: e.value,
            replayed: e.replayed,
        }
    }

    /// `200 OK`.
    pub fn ok(e: Executed<T>) -> Self {
        Self {
            status: StatusCode::OK,
            body: e.value,
            replayed: e.replayed,
        }
    }
}

impl<T: Serialize> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body)).into_response();
        res.headers_mut().insert(
            "idempotent-replayed",
            HeaderValue::from_static(if self.replayed { "true" } else { "false" }),
        );
        res
    }
}

/// `204 No Content` for a change without a body, with `Idempotent-Replayed` as [`Answer`].
#[allow(dead_code)] // used by the routes of changes without a body
pub struct NoContent(pub Executed<()>);

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        let mut res = StatusCode::NO_CONTENT.into_response();
        res.headers_mut().insert(
            "idempotent-replayed",
            HeaderValue::from_static(if self.0.replayed { "true" } else { "false" }),
        );
        res
    }
}
