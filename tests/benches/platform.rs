//! `Platform` payments per second through the SDK (no HTTP): authentication, idempotency
//! claim, policy, fraud screen, simulated provider, ledger, audit and event, committed
//! together. Next to it, in the same run and on the same database and pool, the raw baseline:
//! a loop of transactions that each insert two rows (a payment and a posting); on PostgreSQL
//! also `pgbench` (tpcb-like) when the binary is found.
//!
//! ```text
//! cargo bench -p fintech-tests --bench platform                     # SQLite; 10 s per figure
//! FINTECH_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/postgres \
//!     cargo bench -p fintech-tests --bench platform                 # + PostgreSQL
//! FINTECH_BENCH_QUICK=1 cargo bench -p fintech-tests --bench platform   # 2 s smoke run
//! ```

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fintech_core::payments::NewPayment;
use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::storage::Backend;
use fintech_core::{Config, Interface, Money, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database};

/// Latencies of one run, and how many operations completed.
struct Run {
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut l = self.latencies.clone();
        l.sort();
        let idx = ((l.len() as f64 - 1.0) * p).round() as usize;
        l[idx]
    }
}

/// Runs `op` from `workers` tasks for `duration`; each call is one timed operation.
async fn drive<F, Fut>(workers: usize, duration: Duration, op: F) -> anyhow::Result<Run>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let op = op.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                op(w, i).await?;
                lat.push(t.elapsed());
                i += 1;
            }
            anyhow::Ok(lat)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    Ok(Run {
        ops: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    })
}

async fn platform_payments(
    platform: &Platform,
    workers: usize,
    tenants: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let mut keys = Vec::new();
    for t in 0..tenants {
        let tenant = platform
            .create_tenant(&format!("bench-{workers}-{t}"), Interface::Sdk)
            .await?;
        let admin = Principal::system(tenant.id, Interface::Sdk);
        let key = platform
            .create_api_key(
                &admin,
                NewApiKey {
                    name: "bench".into(),
                    scopes: BTreeSet::from([Scope::PaymentsWrite, Scope::PaymentsRead]),
                    limits: KeyLimits {
                        max_per_payment: Some(Money::parse("1000", "USD")?),
                        ..Default::default()
                    },
                },
            )
            .await?
            .secret;
        keys.push(key);
    }
    let platform = platform.clone();
    let keys = Arc::new(keys);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    drive(workers, duration, move |w, i| {
        let platform = platform.clone();
        let keys = keys.clone();
        let idem = format!("{run_id}-{w}-{i}");
        async move {
            let key = &keys[w % keys.len()];
            let p = platform.authenticate(key, Interface::Sdk).await?;
            let payment = platform
                .create_payment(
                    &p,
                    NewPayment {
                        amount: Money::parse("12.34", "USD")?,
                        payment_method: "pm_card_visa".into(),
                        customer_id: None,
                        payee: Some("Bench Supplies".into()),
                        description: None,
                    },
                    Some(idem),
                )
                .await?;
            anyhow::ensure!(payment.amount.to_minor()? == 1234);
            Ok(())
        }
    })
    .await
}

async fn raw_baseline(
    platform: &Platform,
    workers: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let pool = platform.store().pool().clone();
    for ddl in [
        "CREATE TABLE IF NOT EXISTS bench_raw_payments (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS bench_raw_postings (id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, account TEXT NOT NULL, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(&pool).await?;
    }
    let backend = platform.store().backend();
    drive(workers, duration, move |_, _| {
        let pool = pool.clone();
        async move {
            let mut tx = match backend {
                // The same writer lock the Store takes on SQLite.
                Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
                _ => pool.begin().await?,
            };
            let id = uuid::Uuid::now_v7().to_string();
            sqlx::query("INSERT INTO bench_raw_payments (id, tenant_id, amount_minor, currency, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind("ten_bench")
                .bind(1234_i64)
                .bind("USD")
                .bind("succeeded")
                .bind(0_i64)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO bench_raw_postings (id, payment_id, account, amount_minor, currency) VALUES ($1, $2, $3, $4, $5)")
                .bind(format!("{id}-1"))
                .bind(&id)
                .bind("assets:processor_balance")
                .bind(1234_i64)
                .bind("USD")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }
    })
    .await
}

fn pgbench_binary() -> Option<PathBuf> {
    if let Ok(out) = std::process::Command::new("pgbench")
        .arg("--version")
        .output()
    {
        if out.status.success() {
            return Some(PathBuf::from("pgbench"));
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

/// pgbench tpcb-like TPS on a scratch database of the same server, or why it did not run.
async fn pgbench(server: &str, clients: usize, duration: Duration) -> Result<f64, String> {
    let bin = pgbench_binary().ok_or("pgbench not found")?;
    let url = fresh_postgres_database(server)
        .await
        .map_err(|e| format!("scratch database: {e}"))?;
    let init = std::process::Command::new(&bin)
        .args(["-i", "-s", "1", "-q", &url])
        .output()
        .map_err(|e| e.to_string())?;
    if !init.status.success() {
        return Err(String::from_utf8_lossy(&init.stderr).into_owned());
    }
    let run = std::process::Command::new(&bin)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &duration.as_secs().max(1).to_string(),
            "-b",
            "tpcb-like",
            &url,
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let out = String::from_utf8_lossy(&run.stdout);
    out.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no tps in pgbench output: {out}"))
}

async fn show(platform: &Platform, setting: &str) -> String {
    sqlx::query_scalar::<_, String>(&format!("SHOW {setting}"))
        .fetch_one(platform.store().pool())
        .await
        .unwrap_or_else(|e| format!("? ({e})"))
}

async fn bench_backend(
    name: &str,
    url: &str,
    pg_server: Option<&str>,
    duration: Duration,
) -> anyhow::Result<()> {
    let config = Config {
        database_url: url.to_owned(),
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 16,
    };
    let platform = Platform::builder(config)
        .with_providers(Arc::new(SimProviders::new()))
        .build()
        .await?;
    if platform.store().backend() == Backend::Postgres {
        let fsync = show(&platform, "fsync").await;
        let sync = show(&platform, "synchronous_commit").await;
        println!("{name}: fsync={fsync} synchronous_commit={sync}");
        if fsync != "on" {
            println!(
                "WARNING: fsync is off on this server: figures are not durable-commit figures"
            );
        }
    } else {
        println!("{name}: journal_mode=WAL synchronous=FULL (the Store's settings)");
    }
    println!(
        "{:<10} {:>7} {:>7} {:>12} {:>8} {:>8} {:>12} {:>7}",
        "backend", "workers", "tenants", "platform/s", "p50 ms", "p99 ms", "raw tx/s", "ratio"
    );
    for (workers, tenants) in [(1, 1), (8, 1), (8, 8)] {
        let p = platform_payments(&platform, workers, tenants, duration).await?;
        let r = raw_baseline(&platform, workers, duration).await?;
        println!(
            "{:<10} {:>7} {:>7} {:>12.0} {:>8.2} {:>8.2} {:>12.0} {:>6.2}x",
            name,
            workers,
            tenants,
            p.per_sec(),
            p.pct(0.50).as_secs_f64() * 1e3,
            p.pct(0.99).as_secs_f64() * 1e3,
            r.per_sec(),
            p.per_sec() / r.per_sec()
        );
        if let Some(server) = pg_server {
            if (workers, tenants) == (8, 8) {
                match pgbench(server, workers, duration).await {
                    Ok(tps) => println!(
                        "{name}: pgbench tpcb-like, 8 clients: {tps:.0} tps; platform (8 tenants) / pgbench = {:.2}x",
                        p.per_sec() / tps
                    ),
                    Err(e) => println!("pgbench skipped: {e}"),
                }
            }
        }
    }
    platform.store().close().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var("FINTECH_BENCH_QUICK").is_ok_and(|v| v == "1");
    let duration = Duration::from_secs(if quick { 2 } else { 10 });
    println!(
        "Platform payments through the SDK vs a raw two-row insert transaction, {} s per figure",
        duration.as_secs()
    );
    let (dir, url) = fresh_sqlite_database()?;
    bench_backend("sqlite", &url, None, duration).await?;
    drop(dir);
    let server = std::env::var("FINTECH_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("FINTECH_TEST_POSTGRES_URL"))
        .ok()
        .filter(|s| !s.is_empty());
    match server {
        Some(server) => {
            let url = fresh_postgres_database(&server).await?;
            bench_backend("postgres", &url, Some(&server), duration).await?;
        }
        None => println!("postgres: skipped (set FINTECH_BENCH_POSTGRES_URL)"),
    }
    Ok(())
}
