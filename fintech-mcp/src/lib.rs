//! # fintech-mcp
//!
//! The MCP server for AI agents over [`fintech_core::Platform`]: tools by domain (`banking_*`,
//! `payments_*`, `trading_*`, `fraud_*`, `whoami`), resources with live update subscriptions,
//! and prompts. Every call goes through the same door as the REST API and the CLI, so scopes,
//! spending limits, approval holds, fraud screening, idempotency and the audit trail apply.
//!
//! What this layer adds for agents:
//! - a key sees and can call only the tools its scopes allow;
//! - money moves (payments, refunds, orders) are two-step: core decides when a move needs
//!   confirmation (`fintech_core::platform::MoveDecision`: above the key's `confirm_above`,
//!   or every move over MCP when the key sets none) and issues a short-lived token bound to
//!   the exact request; this layer shows the decision and the token, or asks a client that
//!   supports elicitation to confirm, and executes with the token;
//! - provider free text (merchant names, descriptions) is marked as untrusted data;
//! - business failures are tool results with `isError`, invalid arguments protocol errors.
//!
//! Transports: stdio ([`serve_stdio`]), Streamable HTTP and the legacy HTTP+SSE pair
//! ([`http::router`], which `fintech-server` mounts at `/mcp`).

mod handler;
pub mod http;
mod prompts;
mod resources;
mod tools;
mod watch;

use std::sync::Arc;
use std::time::Duration;

pub use handler::FintechMcp;

use fintech_core::{Platform, Principal};

/// Settings of the MCP handler shared by every transport. (How long a confirmation token
/// stays valid is the platform's: `PlatformBuilder::with_confirmation_ttl`.)
#[derive(Debug, Clone)]
pub struct McpOptions {
    /// How often subscriptions poll the event log for changes.
    pub watch_interval: Duration,
}

impl Default for McpOptions {
    fn default() -> Self {
        Self {
            watch_interval: Duration::from_millis(500),
        }
    }
}

/// What every session of one server shares: the platform door and the settings.
#[derive(Clone)]
pub struct McpState {
    pub(crate) platform: Platform,
    pub(crate) options: Arc<McpOptions>,
}

impl McpState {
    /// State over a platform.
    pub fn new(platform: Platform, options: McpOptions) -> Self {
        Self {
            platform,
            options: Arc::new(options),
        }
    }

    /// A handler for one session. `principal` fixes who is calling (stdio, legacy SSE);
    /// `None` takes the principal from each HTTP request's extensions (Streamable HTTP).
    pub fn handler(&self, principal: Option<Principal>) -> FintechMcp {
        FintechMcp::new(self.clone(), principal)
    }
}

/// Serves one session over stdin/stdout until the client closes it. Nothing but protocol is
/// written to stdout; log to stderr.
pub async fn serve_stdio(state: McpState, principal: Principal) -> anyhow::Result<()> {
    serve_lines(state, principal, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves one session over newline-delimited JSON-RPC (the stdio transport) on any pipe pair.
/// Each incoming line is read strictly first: a message that repeats a key in any object is
/// answered with a JSON-RPC error (`-32600`, with its id when it has one) and never reaches
/// the handler, since a parsed message would keep only the last of the two values.
pub async fn serve_lines<R, W>(
    state: McpState,
    principal: Principal,
    input: R,
    output: W,
) -> anyhow::Result<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use rmcp::ServiceExt;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // rmcp reads `to_rmcp` and writes `from_rmcp`; whole lines from it and our refusals share
    // one writer, so they never interleave.
    let (mut to_rmcp, rmcp_in) = tokio::io::duplex(256 * 1024);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(256 * 1024);
    let (lines, mut outgoing) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = outgoing.recv().await {
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let replies = lines.clone();
    let forwarder = tokio::spawn(async move {
        let mut from_rmcp = BufReader::new(from_rmcp);
        loop {
            let mut line = Vec::new();
            match from_rmcp.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if replies.send(line).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = line.trim_ascii();
            let refused = !text.is_empty()
                && serde_json::from_slice::<serde_json::Value>(text).is_ok()
                && fintech_core::json::check_text(text).is_err();
            if refused {
                let id = serde_json::from_slice::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(serde_json::Value::Null);
                let mut reply = serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": id,
                    "error": {
                        "code": -32600,
                        "message": "invalid message: a key is repeated in an object; each key may appear once",
                    },
                })
                .to_string()
                .into_bytes();
                reply.push(b'\n');
                if lines.send(reply).await.is_err() {
                    break;
                }
            } else if to_rmcp.write_all(&line).await.is_err() {
                break;
            }
        }
        // end of input: rmcp sees end of file and the session ends
        drop(to_rmcp);
    });
    let service = state
        .handler(Some(principal))
        .serve((rmcp_in, rmcp_out))
        .await?;
    service.waiting().await?;
    // everything rmcp wrote reaches the output before this returns (the process may exit next)
    let _ = forwarder.await;
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
    Ok(())
}
