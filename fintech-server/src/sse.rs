//! `GET /v1/events/stream`: the tenant's persisted event log as Server-Sent Events.
//!
//! The stream reads the database (the event log is the source of truth), so every server
//! instance sharing a PostgreSQL delivers every event, whichever instance wrote it. Each SSE
//! `id` is the event's per-tenant sequence number: reconnecting with `Last-Event-ID` (or
//! `?after=`) resumes exactly after the last event seen. Core's `Platform::watch_events`
//! decides what the key may see (its domains' events; `fraud:read` sees all) and checks the
//! key again before each read of the log.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use fintech_core::events::Event;
use fintech_core::platform::{Watch, WatchFrom};
use futures::StreamExt;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Query};
use crate::AppState;

/// Stream filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    /// Comma-separated event types (`payment.succeeded,order.filled`); all when absent.
    types: Option<String>,
    /// Start after this sequence number (`Last-Event-ID` wins when both are sent).
    after: Option<i64>,
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/events/stream", get(stream_events))
}

async fn stream_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Response> {
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be an event sequence number")
                })?,
        ),
    };
    let after = last_event_id.or(q.after).unwrap_or(0).max(0);
    let types: Option<Vec<String>> = q.types.map(|t| {
        t.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let watch = Watch {
        from: WatchFrom::After(after),
        types,
        poll: s.options().sse_poll,
    };
    // Access is checked before the stream starts, so a missing scope is a 403, not a dead stream.
    let events = s.platform().watch_events(&p, watch).await?;
    Ok(
        Sse::new(events.scan((), |_, e| std::future::ready(render(e))))
            .keep_alive(KeepAlive::new().interval(s.options().sse_keep_alive))
            .into_response(),
    )
}

/// One event as an SSE message. An error ends the stream (a revoked key, a database outage):
/// the client reconnects with `Last-Event-ID` and gets a proper error status then.
fn render(event: fintech_core::Result<Event>) -> Option<Result<SseEvent, Infallible>> {
    match event {
        Ok(e) => {
            let data = serde_json::to_string(&e).unwrap_or_default();
            Some(Ok(SseEvent::default()
                .id(e.seq.to_string())
                .event(e.event_type.clone())
                .data(data)))
        }
        Err(e) => {
            tracing::warn!(error = %e, "event stream ended");
            None
        }
    }
}
