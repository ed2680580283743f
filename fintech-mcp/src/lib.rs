//! # fintech-mcp
//!
//! The MCP server for AI agents over [`fintech_core::Platform`]: tools by domain (`banking_*`,
//! `payments_*`, `trading_*`, `fraud_*`, `whoami`), resources with live update subscriptions,
//! and prompts. Every call goes through the same door as the REST API and the CLI, so scopes,
//! spending limits, approval holds, fraud screening, idempotency and the audit trail apply.
//!
//! What this layer adds for agents:
//! - a key sees and can call only the tools its scopes allow;
//! - money moves (payments, refunds, orders) are two-step: a call without a confirmation
//!   returns a preview and a short-lived token bound to the exact arguments; the second call
//!   with the token executes once ([`confirm`]); a client that supports elicitation is asked
//!   to confirm instead; a key's `confirm_above` limit lets small moves run at once;
//! - provider free text (merchant names, descriptions) is marked as untrusted data;
//! - business failures are tool results with `isError`, invalid arguments protocol errors.
//!
//! Transports: stdio ([`serve_stdio`]), Streamable HTTP and the legacy HTTP+SSE pair
//! ([`http::router`], which `fintech-server` mounts at `/mcp`).

pub mod confirm;
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

/// Settings of the MCP handler shared by every transport.
#[derive(Debug, Clone)]
pub struct McpOptions {
    /// How long a confirmation token stays valid.
    pub confirmation_ttl: Duration,
    /// How often subscriptions poll the event log for changes.
    pub watch_interval: Duration,
}

impl Default for McpOptions {
    fn default() -> Self {
        Self {
            confirmation_ttl: Duration::from_secs(300),
            watch_interval: Duration::from_millis(500),
        }
    }
}

/// What every session of one server shares: the platform door and the settings.
#[derive(Clone)]
pub struct McpState {
    pub(crate) platform: Platform,
    pub(crate) options: Arc<McpOptions>,
    pub(crate) confirmations: Arc<confirm::Confirmations>,
}

impl McpState {
    /// State over a platform. Confirmation tokens are keyed from the platform's signing key, so
    /// every instance sharing the database and encryption key accepts every instance's tokens.
    pub fn new(platform: Platform, options: McpOptions) -> Self {
        let confirmations =
            confirm::Confirmations::new(platform.session_signing_key(), options.confirmation_ttl);
        Self {
            platform,
            options: Arc::new(options),
            confirmations: Arc::new(confirmations),
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
    use rmcp::ServiceExt;
    let service = state
        .handler(Some(principal))
        .serve(rmcp::transport::stdio())
        .await?;
    service.waiting().await?;
    Ok(())
}
