//! `Idempotency-Key` for the POST routes whose operation has no idempotency step in core
//! (approvals, cancellations, syncs, administrative creates): the first request with a key runs
//! and, when it succeeds, its status and body are kept; a repeat with the same key, route and
//! body answers them again with `Idempotent-Replayed: true`, without running anything. The
//! same key with another route or body is 422 `idempotency_key_reused`, a concurrent duplicate
//! 409 `idempotency_in_progress`, as on the routes whose idempotency lives in core. Failures
//! are not kept: a retry runs again.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fintech_core::platform::{request_fingerprint, Replay};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{Auth, Authenticated};
use crate::AppState;

/// What a replay answers.
#[derive(Serialize, Deserialize)]
struct Kept {
    status: u16,
    body: String,
}

enum Answer {
    /// Not kept (a failure): passed through as it came.
    Passed(Response),
    /// Kept: rebuilt from its parts.
    Kept(axum::http::response::Parts, Bytes),
}

/// The middleware (a route layer, so the matched route is known).
pub(crate) async fn replayable_post(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let key = match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => return next.run(req).await,
        Some(Ok(k)) => k.to_owned(),
        Some(Err(_)) => {
            return ApiError::bad_request("Idempotency-Key must be printable ASCII").into_response()
        }
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let (mut parts, body) = req.into_parts();
    // the key belongs to the caller's tenant: authenticate once, here, for the handler too
    let principal = match Auth::from_request_parts(&mut parts, &s).await {
        Ok(Auth(p)) => p,
        Err(e) => return e.into_response(),
    };
    parts.extensions.insert(Authenticated(principal.clone()));
    let bytes = match to_bytes(body, s.options().body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than the limit",
            )
            .into_response()
        }
    };
    let fingerprint = request_fingerprint(&[parts.uri.path().as_bytes(), &bytes]);
    let operation = format!("POST {route}");
    let req = Request::from_parts(parts, Body::from(bytes));
    let outcome = s
        .platform()
        .replayable(&principal, &key, &operation, &fingerprint, || async move {
            let res = next.run(req).await;
            if !res.status().is_success() {
                return (Answer::Passed(res), None);
            }
            let (parts, body) = res.into_parts();
            match to_bytes(body, usize::MAX).await {
                Ok(b) => {
                    let kept = serde_json::to_string(&Kept {
                        status: parts.status.as_u16(),
                        body: String::from_utf8_lossy(&b).into_owned(),
                    })
                    .ok();
                    (Answer::Kept(parts, b), kept)
                }
                Err(_) => (
                    Answer::Passed(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
                    None,
                ),
            }
        })
        .await;
    let (mut res, replayed) = match outcome {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(Replay::Fresh(Answer::Passed(res))) => return res,
        Ok(Replay::Fresh(Answer::Kept(parts, body))) => {
            (Response::from_parts(parts, Body::from(body)), false)
        }
        Ok(Replay::Stored(text)) => match serde_json::from_str::<Kept>(&text) {
            Ok(kept) => {
                let mut res = Response::new(Body::from(kept.body.clone()));
                *res.status_mut() = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
                if !kept.body.is_empty() {
                    res.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                }
                (res, true)
            }
            // the key was used with a route whose idempotency lives in core
            Err(_) => {
                return ApiError::from(fintech_core::Error::conflict(
                    fintech_core::ConflictCode::IdempotencyKeyReused,
                    "this idempotency key was used for another request; use a new key",
                ))
                .into_response()
            }
        },
    };
    res.headers_mut().insert(
        "idempotent-replayed",
        HeaderValue::from_static(if replayed { "true" } else { "false" }),
    );
    res
}
