//! # fintech-server
//!
//! The HTTP API over [`fintech_core::Platform`]: REST under `/v1`, Server-Sent Events, an
//! OpenAPI 3.1 document and health checks, as [`app`] (a plain
//! [`axum::Router`], so tests call it without a socket), Prometheus metrics as [`metrics_app`]
//! (served on a listen address of their own), and a thin binary.
//!
//! Every handler authenticates the bearer API key into a [`fintech_core::Principal`] and calls
//! one `Platform` method: authorization, validation, idempotency, limits, fraud screening,
//! ledger, audit and events all happen in core, the same for every shell.

mod catalog;
mod error;
mod extract;
mod inbound;
pub mod instrument;
mod metrics;
pub mod oidc;
mod openapi;
pub mod ops_metrics;
mod routes;
pub mod session;
mod sse;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::Router;
use fintech_core::Platform;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, Problem};
pub use metrics::metrics_app;
pub use openapi::openapi;

/// Tunables of the HTTP shell (the `Platform` carries everything else).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Requests per second each API key may make (0: no limit).
    pub rate_limit_per_second: u32,
    /// Burst allowance on top of the steady rate.
    pub rate_limit_burst: u32,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Origins allowed by CORS; empty: CORS off (no CORS headers at all).
    pub cors_origins: Vec<String>,
    /// How often an SSE stream looks for new events in the database (the event log is the
    /// source of truth, so every instance on a shared PostgreSQL sees every event).
    pub sse_poll: Duration,
    /// Interval of SSE keep-alive comments.
    pub sse_keep_alive: Duration,
    /// Let webhook endpoints target private, loopback and link-local addresses and plain
    /// `http://` (local development only: it opens the server to SSRF).
    pub webhooks_allow_private: bool,
    /// The MCP endpoints (`/mcp`, `/sse`, `/messages`): allowed `Host`/`Origin` values, body
    /// limit, and the token that closes every MCP session on shutdown.
    pub mcp: fintech_mcp::http::HttpOptions,
    /// Optional OIDC sign-in (`POST /v1/auth/oidc`); off when `None`.
    pub oidc: Option<oidc::OidcConfig>,
    /// Label metrics with API key and user ids (`fintech_api_key_requests_total{key}`); off by
    /// default, so the metrics endpoint exposes no tenant, key or user identifiers.
    pub metrics_id_labels: bool,
    /// Verification of provider webhooks (`/v1/providers/{stripe,plaid}/webhook`); those
    /// routes answer 404 when `None`.
    pub inbound: Option<Arc<fintech_providers::inbound::InboundVerifier>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            body_limit: 64 * 1024,
            cors_origins: Vec::new(),
            sse_poll: Duration::from_millis(250),
            sse_keep_alive: Duration::from_secs(15),
            webhooks_allow_private: false,
            mcp: fintech_mcp::http::HttpOptions::default(),
            oidc: None,
            metrics_id_labels: false,
            inbound: None,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    platform: Platform,
    options: ServerOptions,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// Sign-in attempts per tenant and e-mail.
    login_limiter: DefaultKeyedRateLimiter<String>,
    /// The OIDC verifier, when configured.
    oidc: Option<oidc::Oidc>,
}

impl AppState {
    /// State over a platform with the given options.
    pub fn new(platform: Platform, options: ServerOptions) -> Self {
        let limiter = std::num::NonZeroU32::new(options.rate_limit_per_second).map(|rate| {
            let burst = std::num::NonZeroU32::new(options.rate_limit_burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let oidc = options.oidc.clone().map(oidc::Oidc::new);
        Self {
            inner: Arc::new(Inner {
                platform,
                oidc,
                options,
                limiter,
                login_limiter: RateLimiter::keyed(Quota::per_minute(
                    std::num::NonZeroU32::MIN.saturating_add(9),
                )),
            }),
        }
    }

    /// The platform.
    pub fn platform(&self) -> &Platform {
        &self.inner.platform
    }

    /// The options.
    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }
}

/// The whole HTTP API: `/v1/...`, `/v1/events/stream`, `/healthz`, `/readyz`,
/// `/openapi.json`, `/docs`, and MCP for agents (`/mcp`, legacy `/sse` + `/messages`).
/// Prometheus metrics are served apart, by [`metrics_app`] on a listener of their own.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = routes::router()
        .merge(sse::router())
        .merge(openapi::router())
        .layer(DefaultBodyLimit::max(state.options().body_limit))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(
            |req: &axum::http::Request<axum::body::Body>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The URI path only: query strings may carry filters, never log headers.
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            },
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));
    let origins: Vec<HeaderValue> = state
        .options()
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if !origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                    HeaderName::from_static("idempotency-key"),
                    HeaderName::from_static("last-event-id"),
                ]),
        );
    }
    let mcp = fintech_mcp::http::router(
        fintech_mcp::McpState::new(state.platform().clone(), fintech_mcp::McpOptions::default()),
        state.options().mcp.clone(),
    );
    // Unknown paths answer 404 problem+json here, not through the MCP router's authentication
    // layer (which would make every unknown path a 401).
    router.with_state(state).merge(mcp).fallback(|| async {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "no such route (see /openapi.json)",
        )
    })
}
