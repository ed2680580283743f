//! Benchmark machinery shared by the bench binaries: a closed-loop driver with latency
//! percentiles, the raw two-row insert baseline and pgbench.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fintech_core::platform::Backend;
use fintech_core::Platform;

use crate::fresh_postgres_database;

/// Latencies of one run, and how many operations completed.
pub struct Run {
    /// Operations completed.
    pub ops: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Latency of each operation.
    pub latencies: Vec<Duration>,
}

impl Run {
    /// Operations per second.
    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p` quantile of latency (0.5, 0.99).
    pub fn pct(&self, p: f64) -> Duration {
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
pub async fn drive<F, Fut>(workers: usize, duration: Duration, op: F) -> anyhow::Result<Run>
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

/// The raw baseline: transactions of two inserts (a payment and a posting) through the
/// platform's own pool, with the same concurrency.
pub async fn raw_baseline(
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
pub async fn pgbench(server: &str, clients: usize, duration: Duration) -> Result<f64, String> {
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

/// `SHOW setting` on the platform's database.
pub async fn show(platform: &Platform, setting: &str) -> String {
    sqlx::query_scalar::<_, String>(&format!("SHOW {setting}"))
        .fetch_one(platform.store().pool())
        .await
        .unwrap_or_else(|e| format!("? ({e})"))
}

/// Seconds per figure: 10, or 2 with `--quick` / `FINTECH_BENCH_QUICK=1`.
pub fn duration() -> Duration {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var("FINTECH_BENCH_QUICK").is_ok_and(|v| v == "1");
    Duration::from_secs(if quick { 2 } else { 10 })
}

/// The PostgreSQL server to benchmark on (`FINTECH_BENCH_POSTGRES_URL`, else
/// `FINTECH_TEST_POSTGRES_URL`), if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("FINTECH_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("FINTECH_TEST_POSTGRES_URL"))
        .ok()
        .filter(|s| !s.is_empty())
}
