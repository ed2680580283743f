//! The HTTP API under load, measured end to end through real sockets (`TCP_NODELAY` on both
//! ends), next to baselines measured in the same run:
//!
//! * `POST /v1/payments` (auth, idempotency, limits, screening, ledger, audit, event) vs the
//!   raw two-row insert transaction on the same database (and pgbench tpcb-like on PostgreSQL);
//! * `GET /v1/accounts` vs an axum hello-world on the same runtime;
//! * the idle RSS of the release `fintech-server` binary, when it has been built.
//!
//! ```text
//! cargo build --release -p fintech-server      # for the RSS figure
//! FINTECH_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5499/postgres \
//!     cargo bench -p fintech-tests --bench http   # FINTECH_BENCH_QUICK=1: 2 s per figure
//! ```

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use fintech_core::platform::NewApiKey;
use fintech_core::{Config, Interface, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_server::{app, AppState, ServerOptions};
use fintech_tests::bench::{drive, pgbench, raw_baseline, Run};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database};

const CONNECTIONS: usize = 50;

async fn serve(router: Router) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?)
}

async fn get_loop(url: String, key: Option<String>, duration: Duration) -> anyhow::Result<Run> {
    let client = client()?;
    drive(CONNECTIONS, duration, move |_, _| {
        let mut req = client.get(&url);
        if let Some(k) = &key {
            req = req.bearer_auth(k);
        }
        async move {
            let res = req.send().await?;
            anyhow::ensure!(res.status().is_success(), "GET answered {}", res.status());
            res.bytes().await?;
            Ok(())
        }
    })
    .await
}

async fn payment_loop(base: String, keys: Vec<String>, duration: Duration) -> anyhow::Result<Run> {
    let client = client()?;
    let keys = Arc::new(keys);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    drive(CONNECTIONS, duration, move |w, i| {
        let req = client
            .post(format!("{base}/v1/payments"))
            .bearer_auth(&keys[w % keys.len()])
            .header("idempotency-key", format!("{run_id}-{w}-{i}"))
            .json(&serde_json::json!({
                "amount": {"amount": "12.34", "currency": "USD"},
                "payment_method": "pm_card_visa",
                "payee": "Load Test Supplies"
            }));
        async move {
            let res = req.send().await?;
            anyhow::ensure!(
                res.status().as_u16() == 201,
                "POST answered {}",
                res.status()
            );
            res.bytes().await?;
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

async fn bench_backend(
    name: &str,
    url: String,
    pg_server: Option<&str>,
    duration: Duration,
) -> anyhow::Result<()> {
    let platform = Platform::builder(Config {
        database_url: url,
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 16,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await?;
    let mut keys = Vec::new();
    for t in 0..8 {
        let tenant = platform
            .create_tenant(&format!("load-{t}"), Interface::Http)
            .await?;
        let admin = Principal::system(tenant.id, Interface::Http);
        let token = platform
            .sandbox_public_token(&admin, "ins_109508", None)
            .await?;
        let item = platform.link_item(&admin, &token, None).await?;
        platform
            .sync_transactions(&admin, &item.id, None, None)
            .await?;
        keys.push(
            platform
                .create_api_key(
                    &admin,
                    NewApiKey {
                        name: "load".into(),
                        scopes: BTreeSet::from([
                            Scope::BankingRead,
                            Scope::PaymentsRead,
                            Scope::PaymentsWrite,
                        ]),
                        limits: Default::default(),
                    },
                    None,
                )
                .await?
                .into_value()
                .secret,
        );
    }
    let options = ServerOptions {
        rate_limit_per_second: 0,
        ..Default::default()
    };
    let api = serve(app(AppState::new(platform.clone(), options))).await?;
    let hello = serve(Router::new().route("/", get(|| async { "Hello, World!" }))).await?;
    let base = format!("http://{api}");
    println!(
        "{name} ({CONNECTIONS} connections, {} s per figure):",
        duration.as_secs()
    );

    let h = get_loop(format!("http://{hello}/"), None, duration).await?;
    line("GET hello-world (axum)", &h, None);
    let g = get_loop(
        format!("{base}/v1/accounts"),
        Some(keys[0].clone()),
        duration,
    )
    .await?;
    line("GET /v1/accounts", &g, Some(("hello-world", h.per_sec())));

    let raw = raw_baseline(&platform, 8, duration).await?;
    line("raw 2-row insert tx (8 workers)", &raw, None);
    // One tenant: its audit chain serializes its payments. Eight: the spread of real traffic.
    let one = payment_loop(base.clone(), vec![keys[0].clone()], duration).await?;
    line(
        "POST /v1/payments, 1 tenant",
        &one,
        Some(("raw", raw.per_sec())),
    );
    let many = payment_loop(base, keys.clone(), duration).await?;
    line(
        "POST /v1/payments, 8 tenants",
        &many,
        Some(("raw", raw.per_sec())),
    );
    if let Some(server) = pg_server {
        match pgbench(server, 8, duration).await {
            Ok(tps) => println!(
                "  pgbench tpcb-like, 8 clients: {tps:.0} tps; payments (8 tenants) / pgbench = {:.2}x",
                many.per_sec() / tps
            ),
            Err(e) => println!("  pgbench skipped: {e}"),
        }
    }
    Ok(())
}

/// Idle RSS of the release server binary next to this bench, after it has started.
async fn idle_rss() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("fintech-server");
    if !bin.exists() {
        return None;
    }
    let dir = tempfile::tempdir().ok()?;
    let mut child = std::process::Command::new(&bin)
        .args(["--addr", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok();
    let _ = child.kill();
    let _ = child.wait();
    status?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let duration = fintech_tests::bench::duration();
    let (dir, url) = fresh_sqlite_database()?;
    bench_backend("sqlite", url, None, duration).await?;
    drop(dir);
    match fintech_tests::bench::postgres_server() {
        Some(server) => {
            let url = fresh_postgres_database(&server).await?;
            bench_backend("postgres", url, Some(&server), duration).await?;
        }
        None => println!("postgres: skipped (set FINTECH_BENCH_POSTGRES_URL)"),
    }
    match idle_rss().await {
        Some(rss) => {
            println!("fintech-server idle RSS (SQLite, demo data, 3 s after start): {rss}")
        }
        None => println!(
            "idle RSS: build the release binary first (cargo build --release -p fintech-server)"
        ),
    }
    Ok(())
}
