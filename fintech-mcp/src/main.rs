//! `fintech-mcp`: the MCP server for AI agents.
//!
//! - stdio (default): one session; the principal is the API key in `FINTECH_API_KEY`, or the
//!   first tenant's operator with `--local-operator`. stdout carries only protocol; logs go to
//!   stderr.
//! - `--http ADDR`: Streamable HTTP at `/mcp` and legacy HTTP+SSE at `/sse` + `/messages`,
//!   bearer API keys, loopback by default.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use fintech_core::{Config, Interface, Platform, Principal, Role};
use fintech_mcp::http::{router, HttpOptions};
use fintech_mcp::{serve_stdio, McpOptions, McpState};
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

/// Serve fintech to AI agents over MCP.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Serve Streamable HTTP and legacy SSE on this address instead of stdio. Binding beyond
    /// loopback needs --allowed-host and TLS in front.
    #[arg(long, env = "FINTECH_MCP_HTTP")]
    http: Option<SocketAddr>,
    /// Database URL (default: the SQLite file fintech.db in the working directory).
    #[arg(long, env = "FINTECH_DATABASE_URL")]
    database_url: Option<String>,
    /// The API key an stdio session acts as.
    #[arg(long, env = "FINTECH_API_KEY", hide_env_values = true)]
    api_key: Option<SecretString>,
    /// stdio without a key: act as an operator of the first tenant (local use only).
    #[arg(long)]
    local_operator: bool,
    /// Extra accepted Host values for HTTP (name or name:port), comma-separated.
    #[arg(long, env = "FINTECH_MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_host: Vec<String>,
    /// Accepted browser Origins for HTTP, comma-separated.
    #[arg(long, env = "FINTECH_MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origin: Vec<String>,
    /// Seconds a confirmation token stays valid.
    #[arg(long, default_value_t = 300)]
    confirmation_ttl: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = EnvFilter::try_from_env("FINTECH_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    let mut config = Config::load()?;
    if let Some(url) = &args.database_url {
        config.database_url = url.clone();
    }
    // Say which database this is: a key works only on the database it was made on, and a
    // folder without one gets a new, empty file.
    let shown = fintech_core::config::redact_url(&config.database_url);
    let new_file = config.sqlite_path().is_some_and(|p| !p.exists());
    let platform = Platform::builder(config)
        .with_providers(Arc::new(
            fintech_providers::from_env().context("provider configuration")?,
        ))
        .with_confirmation_ttl(std::time::Duration::from_secs(args.confirmation_ttl))
        .build()
        .await
        .with_context(|| format!("opening the database {shown}"))?;
    let tenants = platform.tenants().await?.len();
    eprintln!(
        "fintech-mcp: database {shown}{}",
        if new_file {
            " (created here: it is new and empty)"
        } else if tenants == 0 {
            " (no tenant yet)"
        } else {
            ""
        }
    );
    if new_file || tenants == 0 {
        eprintln!("fintech-mcp: {POINT_AT_THE_SERVER}");
    }
    let state = McpState::new(platform.clone(), McpOptions::default());

    // per-key request counts are gathered in memory and written every 10 s
    let usage = platform.spawn_key_usage_flush(std::time::Duration::from_secs(10));
    match args.http {
        Some(addr) => {
            let mut options = HttpOptions::default();
            options
                .allowed_hosts
                .extend(args.allowed_host.iter().cloned());
            options.allowed_origins = args.allowed_origin.clone();
            let shutdown = options.shutdown.clone();
            let app = router(state, options);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            // Without TCP_NODELAY, streamed responses wait ~40 ms for delayed ACKs.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!(error = %e, "could not set TCP_NODELAY");
                }
            });
            eprintln!("fintech-mcp: Streamable HTTP at http://{addr}/mcp, legacy SSE at http://{addr}/sse");
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    shutdown.cancel();
                })
                .await?;
        }
        None => {
            let principal = stdio_principal(&platform, &args, &shown).await?;
            serve_stdio(state, principal).await?;
        }
    }
    usage.abort();
    let _ = platform.flush_key_usage().await;
    Ok(())
}

/// How to reach the data a running server serves.
const POINT_AT_THE_SERVER: &str = "to act on a server's data, give fintech-mcp the server's database with FINTECH_DATABASE_URL or --database-url (in the server's folder the default fintech.db is the same file), or connect to the server's own MCP endpoint, http://127.0.0.1:8080/mcp, with the key as a bearer token";

async fn stdio_principal(
    platform: &Platform,
    args: &Args,
    database: &str,
) -> anyhow::Result<Principal> {
    if let Some(key) = &args.api_key {
        return platform
            .authenticate(key.expose_secret(), Interface::Mcp)
            .await
            .with_context(|| {
                format!(
                    "FINTECH_API_KEY was not accepted by the database {database}: a key works only on the database it was made on; {POINT_AT_THE_SERVER}"
                )
            });
    }
    if args.local_operator {
        let tenants = platform.tenants().await?;
        let Some(tenant) = tenants.first() else {
            bail!("no tenant yet: run `fintech init` or start fintech-server once");
        };
        let mut p = Principal::system(tenant.id.clone(), Interface::Mcp);
        p.scopes = Role::Operator.scopes();
        return Ok(p);
    }
    bail!("set FINTECH_API_KEY to an API key (fintech keys create), or pass --local-operator")
}
