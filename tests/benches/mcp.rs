//! MCP tool calls over Streamable HTTP, 50 concurrent clients, through real sockets with
//! `TCP_NODELAY`: stateless 2026-07-28 `tools/call` requests with JSON responses, against
//!
//! * fintech-mcp (`whoami`: bearer-key authentication against the database, scope filtering,
//!   the platform call, structured output);
//! * a bare rmcp server with one trivial tool, same rmcp version and config (the ceiling);
//! * a server on the official Python SDK (`mcp` 2.x `MCPServer`, stateless JSON) with an
//!   equivalent read tool, in its own process (skipped when `python3 -c 'import mcp'` fails);
//!
//! and the idle RSS of the release `fintech-mcp` binary on stdio, when it has been built.
//!
//! ```text
//! cargo build --release -p fintech-mcp -p fintech-cli   # for the RSS figure
//! cargo bench -p fintech-tests --bench mcp              # FINTECH_BENCH_QUICK=1: 2 s per figure
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use fintech_core::platform::NewApiKey;
use fintech_core::{Config, Interface, Platform, Principal, Scope};
use fintech_load::bare_mcp_router;
use fintech_mcp::http::HttpOptions;
use fintech_mcp::{McpOptions, McpState};
use fintech_providers::SimProviders;
use fintech_tests::bench::{drive, Run};

const CLIENTS: usize = 50;

async fn serve(router: Router) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

async fn calls(url: String, key: Option<String>, duration: Duration) -> anyhow::Result<Run> {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "whoami", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "bench", "version": "0" }
        }}
    })
    .to_string();
    drive(CLIENTS, duration, move |_, _| {
        let mut req = client
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "whoami")
            .body(body.clone());
        if let Some(k) = &key {
            req = req.bearer_auth(k);
        }
        async move {
            let res = req.send().await?;
            anyhow::ensure!(
                res.status().is_success(),
                "tools/call answered {}",
                res.status()
            );
            let bytes = res.bytes().await?;
            anyhow::ensure!(
                bytes.windows(8).any(|w| w == b"\"result\""),
                "not a result: {}",
                String::from_utf8_lossy(&bytes)
            );
            Ok(())
        }
    })
    .await
}

fn line(what: &str, r: &Run, baseline: Option<(&str, f64)>) {
    let ratio = baseline
        .map(|(name, b)| format!("{:.2}x of {name} ({b:.0}/s)", r.per_sec() / b))
        .unwrap_or_default();
    println!(
        "  {what:<34} {:>9.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {ratio}",
        r.per_sec(),
        r.pct(0.5).as_secs_f64() * 1e3,
        r.pct(0.99).as_secs_f64() * 1e3,
    );
}

/// The Python SDK server in its own process, when the SDK is installed.
async fn python_server() -> Option<(tokio::process::Child, u16)> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/peers/python_mcp_server.py"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
        l.local_addr().ok()?.port()
    };
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Some((child, port));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Idle RSS of the release binary serving stdio, in MiB.
async fn idle_rss(db_url: &str, key: &str, encryption_key: &str) -> Option<f64> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("release/fintech-mcp");
    if !bin.exists() {
        return None;
    }
    let mut child = tokio::process::Command::new(&bin)
        .env("FINTECH_DATABASE_URL", db_url)
        .env("FINTECH_API_KEY", key)
        .env("FINTECH_ENCRYPTION_KEY", encryption_key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = child.id()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .ok()?;
    let _ = child.kill().await;
    Some(kb / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let duration = fintech_tests::bench::duration();
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}/mcp-bench.db?mode=rwc", dir.path().display());
    let key_file = fintech_core::crypto::SecretBox::generate_key();
    let platform = Platform::builder(Config {
        database_url: db_url.clone(),
        encryption_key: Some(key_file.clone()),
        max_connections: 16,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await?;
    let tenant = platform.create_tenant("bench", Interface::Mcp).await?;
    let admin = Principal::system(tenant.id, Interface::Mcp);
    let key = platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "bench".into(),
                scopes: BTreeSet::from([Scope::BankingRead, Scope::PaymentsRead]),
                limits: Default::default(),
            },
            None,
        )
        .await?
        .into_value()
        .secret;

    let state = McpState::new(platform.clone(), McpOptions::default());
    let fintech = serve(fintech_mcp::http::router(state, HttpOptions::default())).await?;
    let bare = serve(bare_mcp_router()).await?;

    println!("MCP tools/call over Streamable HTTP, {CLIENTS} clients, stateless 2026-07-28, JSON responses, {duration:?} each");
    // warm up connections and caches
    calls(
        format!("http://{bare}/mcp"),
        None,
        Duration::from_millis(300),
    )
    .await?;
    calls(
        format!("http://{fintech}/mcp"),
        Some(key.clone()),
        Duration::from_millis(300),
    )
    .await?;
    let bare_run = calls(format!("http://{bare}/mcp"), None, duration).await?;
    line("bare rmcp, one trivial tool", &bare_run, None);
    let python = match python_server().await {
        Some((child, port)) => {
            let url = format!("http://127.0.0.1:{port}/mcp");
            calls(url.clone(), None, Duration::from_millis(300)).await?;
            let run = calls(url, None, duration).await?;
            line("python sdk MCPServer, one tool", &run, None);
            drop(child);
            Some(run.per_sec())
        }
        None => {
            println!("  python sdk MCPServer: skipped (pip install 'mcp>=2.3')");
            None
        }
    };
    let ours = calls(format!("http://{fintech}/mcp"), Some(key.clone()), duration).await?;
    line(
        "fintech-mcp whoami (key, scopes)",
        &ours,
        Some(("bare rmcp", bare_run.per_sec())),
    );
    if let Some(py) = python {
        println!(
            "  {:<34} {:.1}x of the python sdk ({py:.0}/s); goal >= 10x",
            "",
            ours.per_sec() / py
        );
    }
    println!("  goal: >= 0.7x of bare rmcp");
    // the RSS process opens the same SQLite file with the same encryption key
    match idle_rss(
        &db_url,
        &key,
        secrecy::ExposeSecret::expose_secret(&key_file),
    )
    .await
    {
        Some(mib) => println!("  fintech-mcp idle RSS on stdio: {mib:.1} MiB"),
        None => println!("  fintech-mcp idle RSS: skipped (cargo build --release -p fintech-mcp)"),
    }
    Ok(())
}
