//! MCP over HTTP: Streamable HTTP at `/mcp` (rmcp's service) and the legacy HTTP+SSE pair
//! (`GET /sse` + `POST /messages?sessionId=`) built here on rmcp's `Transport` trait, both
//! behind the same guards:
//!
//! 1. `Host` and `Origin` validated against the allowed lists (403), against DNS rebinding;
//! 2. a bearer API key required (401 with `WWW-Authenticate`); the principal goes into the
//!    request's extensions, where the handler reads it;
//! 3. sessions bound to the principal that opened them: another key presenting the id gets
//!    404, as an unknown session does. Session ids come from the OS CSPRNG (rmcp's UUIDv4 for
//!    Streamable HTTP, 128 random bits here for SSE).
//!
//! Bodies are size-limited. Listeners must set `TCP_NODELAY` (the binaries do).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures::StreamExt;
use rand::RngCore;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService, Transport};
use rmcp::{RoleServer, ServiceExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use fintech_core::{Interface, Principal};

use crate::McpState;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Accepted `Host` values: a name (any port) or `name:port`. Default: loopback names.
    pub allowed_hosts: Vec<String>,
    /// Accepted `Origin` values besides origins on an allowed host (e.g.
    /// `https://app.example.com`). A request without `Origin` (not a browser) passes.
    pub allowed_origins: Vec<String>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// SSE keep-alive interval.
    pub keep_alive: Duration,
    /// Cancelled on shutdown: closes every session.
    pub shutdown: CancellationToken,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            allowed_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            shutdown: CancellationToken::new(),
        }
    }
}

#[derive(Clone)]
struct Shared {
    state: McpState,
    options: Arc<HttpOptions>,
    /// Streamable HTTP session id -> owner.
    owners: Arc<Mutex<HashMap<String, String>>>,
    /// Legacy SSE sessions.
    sse: Arc<Mutex<HashMap<String, SseSession>>>,
}

struct SseSession {
    owner: String,
    inbound: mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
}

fn owner(p: &Principal) -> String {
    format!("{}/{}", p.tenant_id, p.actor)
}

/// The MCP routes: `/mcp` (Streamable HTTP), `/sse` and `/messages` (legacy HTTP+SSE).
pub fn router(state: McpState, options: HttpOptions) -> Router {
    // rmcp checks Host too; give it the same names (it wants IPv6 without brackets)
    let mut hosts = options.allowed_hosts.clone();
    hosts.extend(
        options
            .allowed_hosts
            .iter()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned()),
    );
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_json_response(true)
        .with_sse_keep_alive(Some(options.keep_alive))
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(options.shutdown.child_token());
    let factory_state = state.clone();
    let streamable = StreamableHttpService::new(
        move || Ok(factory_state.handler(None)),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let shared = Shared {
        state,
        options: Arc::new(options.clone()),
        owners: Arc::default(),
        sse: Arc::default(),
    };
    let mcp = Router::new()
        .route_service("/mcp", streamable)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            bind_sessions,
        ))
        .layer(middleware::from_fn_with_state(shared.clone(), strict_json));
    let legacy = Router::new()
        .route("/sse", get(sse_open))
        .route("/messages", post(sse_message));
    mcp.merge(legacy)
        .layer(axum::extract::DefaultBodyLimit::max(options.max_body_bytes))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .layer(middleware::from_fn_with_state(shared.clone(), guard_origin))
        .with_state(shared)
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty()
                && port.chars().all(|c| c.is_ascii_digit())
                && !host.ends_with(']') =>
        {
            name.to_owned()
        }
        _ => host.clone(),
    };
    allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == host || a == name
    })
}

/// Refuses a POSTed message that repeats a key in any object (JSON-RPC parse error, 400)
/// before rmcp parses it (a parsed message keeps only the last of two equal keys, so a tool's
/// arguments could differ from what a proxy or a log reader saw).
async fn strict_json(State(s): State<Shared>, req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, s.options.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    if let Err(e) = fintech_core::json::check_text(&bytes) {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": -32700, "message": e.to_string() },
            })
            .to_string(),
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// 403 unless `Host` is allowed and `Origin`, when present, is on an allowed host or listed.
async fn guard_origin(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let Some(host) = host else {
        return plain(StatusCode::FORBIDDEN, "missing Host header");
    };
    if !host_allowed(&s.options.allowed_hosts, &host) {
        return plain(StatusCode::FORBIDDEN, "Host not allowed");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let listed = s.options.allowed_origins.iter().any(|o| o == origin);
        let on_allowed_host = url::Url::parse(origin).ok().is_some_and(|u| {
            u.host_str().is_some_and(|h| {
                let with_port = match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                };
                host_allowed(&s.options.allowed_hosts, &with_port)
            })
        });
        if !listed && !on_allowed_host {
            return plain(StatusCode::FORBIDDEN, "Origin not allowed");
        }
    }
    next.run(req).await
}

/// 401 unless a valid API key is presented as a bearer token.
async fn authenticate(State(s): State<Shared>, mut req: Request, next: Next) -> Response {
    let secret = bearer(req.headers());
    let principal = match secret {
        Some(secret) => s
            .state
            .platform
            .authenticate(secret, Interface::Mcp)
            .await
            .ok(),
        None => None,
    };
    let Some(principal) = principal else {
        let mut r = plain(
            StatusCode::UNAUTHORIZED,
            "a valid API key is required: Authorization: Bearer fk_…",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="fintech-mcp", error="invalid_token""#),
        );
        return r;
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

const SESSION_HEADER: &str = "mcp-session-id";

/// Binds Streamable HTTP sessions to the principal that created them.
async fn bind_sessions(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let Some(p) = req.extensions().get::<Principal>().cloned() else {
        return plain(StatusCode::UNAUTHORIZED, "not authenticated");
    };
    let me = owner(&p);
    let presented = req
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &presented {
        let known = s.owners.lock().expect("lock").get(id).cloned();
        if known.as_deref().is_some_and(|o| o != me) {
            return plain(StatusCode::NOT_FOUND, "session not found");
        }
    }
    let deleting = req.method() == axum::http::Method::DELETE;
    let mut response = next.run(req).await;
    // rmcp answers a terminated session 202; clients (the Python SDK among them) expect 200
    // or 204 for a DELETE that worked
    if deleting && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    match (&presented, response.headers().get(SESSION_HEADER)) {
        (None, Some(created)) => {
            if let Ok(created) = created.to_str() {
                s.owners
                    .lock()
                    .expect("lock")
                    .insert(created.to_owned(), me);
            }
        }
        (Some(id), _) if deleting && response.status().is_success() => {
            s.owners.lock().expect("lock").remove(id);
        }
        _ => {}
    }
    response
}

// ------------------------------------------------------------------ legacy HTTP+SSE

/// One legacy SSE session as an rmcp transport: inbound messages arrive from `POST
/// /messages`, outbound ones leave on the event stream.
struct SseTransport {
    inbound: mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    outbound: mpsc::Sender<TxJsonRpcMessage<RoleServer>>,
}

impl Transport<RoleServer> for SseTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outbound = self.outbound.clone();
        async move {
            outbound.send(item).await.map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "SSE stream closed")
            })
        }
    }

    fn receive(
        &mut self,
    ) -> impl std::future::Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.inbound.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inbound.close();
        Ok(())
    }
}

/// Removes a legacy session when its event stream is dropped (the client went away).
struct SessionGuard {
    id: String,
    sessions: Arc<Mutex<HashMap<String, SseSession>>>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.sessions.lock().expect("lock").remove(&self.id);
    }
}

async fn sse_open(State(s): State<Shared>, Extension(p): Extension<Principal>) -> Response {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let id = hex::encode(raw);
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, out_rx) = mpsc::channel::<TxJsonRpcMessage<RoleServer>>(64);
    s.sse.lock().expect("lock").insert(
        id.clone(),
        SseSession {
            owner: owner(&p),
            inbound: in_tx,
        },
    );
    let handler = s.state.handler(Some(p));
    let transport = SseTransport {
        inbound: in_rx,
        outbound: out_tx,
    };
    let shutdown = s.options.shutdown.clone();
    tokio::spawn(async move {
        match handler.serve(transport).await {
            Ok(running) => {
                tokio::select! {
                    _ = running.waiting() => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            Err(e) => tracing::debug!(error = %e, "legacy SSE session ended before initialize"),
        }
    });
    let guard = SessionGuard {
        id: id.clone(),
        sessions: s.sse.clone(),
    };
    let endpoint = futures::stream::once(async move {
        Ok::<_, Infallible>(
            Event::default()
                .event("endpoint")
                .data(format!("/messages?sessionId={id}")),
        )
    });
    let messages = tokio_stream::wrappers::ReceiverStream::new(out_rx).map(move |msg| {
        let _keep = &guard;
        Ok::<_, Infallible>(
            Event::default()
                .event("message")
                .data(serde_json::to_string(&msg).unwrap_or_default()),
        )
    });
    let shutdown = s.options.shutdown.clone();
    let stream = endpoint
        .chain(messages)
        .take_until(async move { shutdown.cancelled().await });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(s.options.keep_alive))
        .into_response()
}

#[derive(Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

async fn sse_message(
    State(s): State<Shared>,
    Extension(p): Extension<Principal>,
    Query(q): Query<SessionQuery>,
    body: axum::body::Bytes,
) -> Response {
    let inbound = {
        let sessions = s.sse.lock().expect("lock");
        match sessions.get(&q.session_id) {
            Some(session) if session.owner == owner(&p) => session.inbound.clone(),
            _ => return plain(StatusCode::NOT_FOUND, "session not found"),
        }
    };
    if let Err(e) = fintech_core::json::check_text(&body) {
        return plain(
            StatusCode::BAD_REQUEST,
            &format!("not a JSON-RPC message: {e}"),
        );
    }
    let message: RxJsonRpcMessage<RoleServer> = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                &format!("not a JSON-RPC message: {e}"),
            )
        }
    };
    if inbound.send(message).await.is_err() {
        return plain(StatusCode::NOT_FOUND, "session closed");
    }
    Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_by_name_or_exact_authority() {
        let allowed = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "[::1]".to_owned(),
            "mcp.example.com:8443".to_owned(),
        ];
        for ok in [
            "localhost",
            "localhost:3000",
            "127.0.0.1:9",
            "[::1]:80",
            "[::1]",
            "mcp.example.com:8443",
            "LOCALHOST",
        ] {
            assert!(host_allowed(&allowed, ok), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:80",
            "mcp.example.com",
            "localhost.evil.com",
            "127.0.0.1.nip.io",
        ] {
            assert!(!host_allowed(&allowed, bad), "{bad}");
        }
    }
}
