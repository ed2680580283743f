//! The anchors of the external load test (`tests/load/run.sh`): what the fintech binaries are
//! measured against, built from this repository so the comparison is like for like.
//!
//! * [`hello_router`]: an axum hello-world, the ceiling of an HTTP request on this stack;
//! * [`bare_mcp_router`]: an rmcp server with one constant tool over stateless Streamable HTTP
//!   with JSON responses, the ceiling of an MCP `tools/call`;
//! * [`sqlite_raw`]: transactions of two inserts on SQLite with the Store's settings (WAL,
//!   `synchronous=FULL`, `BEGIN IMMEDIATE`), the ceiling of a durable write on that file.
//!
//! The in-process benchmarks (`tests/benches/mcp.rs`) use the same bare server.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// Serves `router` on `addr` with `TCP_NODELAY` on every accepted connection (as
/// `fintech-server` does), returning the bound address.
pub async fn serve(addr: SocketAddr, router: Router) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(bound)
}

/// `GET /` answering `Hello, World!`.
pub fn hello_router() -> Router {
    Router::new().route("/", get(|| async { "Hello, World!" }))
}

/// The bare MCP server: one tool, `whoami`, answering a constant.
#[derive(Clone, Debug)]
pub struct Bare;

impl ServerHandler for Bare {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "whoami",
            "constant",
            Arc::new(serde_json::Map::from_iter([(
                "type".to_owned(),
                serde_json::json!("object"),
            )])),
        )]))
    }

    async fn call_tool(
        &self,
        _: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text("{\"whoami\":{}}")]).into())
    }
}

/// [`Bare`] at `/mcp`, Streamable HTTP with JSON responses (the transport settings
/// `fintech-mcp` uses).
pub fn bare_mcp_router() -> Router {
    let config = StreamableHttpServerConfig::default().with_json_response(true);
    let service = StreamableHttpService::new(
        || Ok(Bare),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new().route_service("/mcp", service)
}

/// Transactions committed by [`sqlite_raw`] and the time they took.
#[derive(Debug, Clone, Copy)]
pub struct RawRun {
    /// Transactions committed.
    pub transactions: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl RawRun {
    /// Transactions per second.
    pub fn per_sec(&self) -> f64 {
        self.transactions as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `workers` loops of `BEGIN IMMEDIATE; INSERT payment; INSERT posting; COMMIT` on the
/// SQLite file at `path` for `duration`, with the Store's pragmas: WAL, `synchronous=FULL`
/// (each commit fsyncs the WAL), a 10 s busy timeout, foreign keys on.
pub async fn sqlite_raw(path: &str, workers: usize, duration: Duration) -> anyhow::Result<RawRun> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(workers.max(1) as u32)
        .connect_with(options)
        .await?;
    for ddl in [
        "CREATE TABLE IF NOT EXISTS raw_payments (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS raw_postings (id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, account TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(&pool).await?;
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for w in 0..workers.max(1) {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let id = format!("pay_{w}_{n}");
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query("INSERT INTO raw_payments (id, tenant_id, amount_minor, currency, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&id)
                    .bind("ten_load")
                    .bind(1234_i64)
                    .bind("USD")
                    .bind("succeeded")
                    .bind(0_i64)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO raw_postings (id, payment_id, account, amount_minor, currency) VALUES ($1, $2, $3, $4, $5)")
                    .bind(format!("{id}-1"))
                    .bind(&id)
                    .bind("assets:processor_balance")
                    .bind(1234_i64)
                    .bind("USD")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut transactions = 0;
    for t in tasks {
        transactions += t.await??;
    }
    let elapsed = started.elapsed();
    pool.close().await;
    Ok(RawRun {
        transactions,
        elapsed,
    })
}
