//! Operations endpoints and instrumentation: `/healthz`, `/readyz`, Prometheus `/metrics`,
//! and the middleware that counts requests by route and status.
//!
//! `/metrics` is not on the public router: [`metrics_app`] serves it on a listener of its own
//! (the binary's `--metrics-addr`, loopback by default). Labels never carry tenant, key or
//! user ids unless the operator opts in (`ServerOptions::metrics_id_labels`).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fintech_core::payments::Payment;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::AppState;

/// The process-wide Prometheus recorder, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "a metrics recorder was already installed; /metrics shows only this one's"
            );
        }
        handle
    })
}

/// Installs the process-wide recorder now (before background tasks report), if not yet.
pub(crate) fn install() {
    handle();
}

/// Counts and times every request by method, route template and status.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    handle();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("fintech_http_requests_total", &labels).increment(1);
    metrics::histogram!("fintech_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    res
}

/// Counts a new payment by status and its fraud decision.
pub(crate) fn payment_outcome(p: &Payment) {
    metrics::counter!("fintech_payments_total", "status" => p.status.as_str()).increment(1);
    if let Some(a) = &p.assessment {
        let decision = serde_json::to_value(a.decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        metrics::counter!("fintech_fraud_decisions_total", "decision" => decision).increment(1);
    }
}

/// `/metrics` in the Prometheus text format, alone: serve it on its own listen address (the
/// binary's `--metrics-addr`), never on the public API's.
pub fn metrics_app() -> Router {
    Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                handle().render(),
            )
        }),
    )
}

/// `/healthz` (the process answers) and `/readyz` (database reachable, migrations applied).
pub(crate) fn health_router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
}

async fn readyz(State(s): State<AppState>) -> Response {
    match s.platform().migrations_applied().await {
        Ok(true) => Json(json!({"status": "ready"})).into_response(),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "reason": "migrations not applied"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not ready", "reason": "database unreachable"})),
            )
                .into_response()
        }
    }
}
