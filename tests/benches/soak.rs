//! Soak: the release `fintech-server` as a child process under mixed load for
//! `FINTECH_SOAK_SECS` (default 1800), sampling its resident set size, open files and the
//! p99 latency of each window. Mixed load: payments (automatic and manual capture), captures,
//! partial refunds, orders, reads of a payment, lists and ledger balances, from 8 clients
//! with unique idempotency keys. At the end: a table per window, and whether RSS, open files
//! and p99 stayed flat (the last third of the windows against the second, the first being
//! warm-up); exits 1 when one grew by more than the tolerance. Then `fintech audit verify`
//! and `fintech ledger verify` must pass.
//!
//! On demand only: `scripts/soak.sh [SECONDS]` (docs/reliability.md). SQLite by default;
//! PostgreSQL with `FINTECH_BENCH_POSTGRES_URL`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fintech_tests::process::{ServerProcess, ServerSpec};
use serde_json::{json, Value};

const CLIENTS: usize = 8;
const WINDOWS: u64 = 30;
/// How much the last third may exceed the second third before it is called growth.
const RSS_TOLERANCE: f64 = 1.20;
const FILES_TOLERANCE: f64 = 1.20;
const P99_TOLERANCE: f64 = 1.50;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    prefix: String,
    n: u64,
}

impl Client {
    async fn post(&mut self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.n += 1;
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", format!("{}-{}", self.prefix, self.n))
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {v}");
        Ok(v)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {v}");
        Ok(v)
    }

    /// One round of the mix; each request's latency goes to `lat`.
    async fn round(&mut self, i: u64, lat: &Mutex<Vec<Duration>>) -> anyhow::Result<()> {
        let timed = Instant::now();
        let cents = 100 + i % 5_000;
        let amount =
            json!({"amount": format!("{}.{:02}", cents / 100, cents % 100), "currency": "USD"});
        let record = |t: Instant| lat.lock().unwrap().push(t.elapsed());
        let paid = self
            .post(
                "/v1/payments",
                json!({"amount": amount, "payment_method": "pm_card_visa", "payee": "soak"}),
            )
            .await?;
        record(timed);
        let id = paid["id"].as_str().unwrap_or_default().to_owned();
        match i % 4 {
            0 => {
                let t = Instant::now();
                self.post(
                    "/v1/refunds",
                    json!({"payment_id": id, "amount": {"amount": "0.50", "currency": "USD"}}),
                )
                .await?;
                record(t);
            }
            1 => {
                let t = Instant::now();
                let held = self
                    .post(
                        "/v1/payments",
                        json!({"amount": amount, "payment_method": "pm_card_visa", "capture_method": "manual"}),
                    )
                    .await?;
                record(t);
                let t = Instant::now();
                let held_id = held["id"].as_str().unwrap_or_default();
                self.post(&format!("/v1/payments/{held_id}/capture"), json!({}))
                    .await?;
                record(t);
            }
            2 => {
                let t = Instant::now();
                self.post(
                    "/v1/orders",
                    json!({"symbol": "AAPL", "side": "buy", "qty": "1", "type": "market", "time_in_force": "day"}),
                )
                .await?;
                record(t);
            }
            _ => {
                for path in [
                    format!("/v1/payments/{id}"),
                    "/v1/payments?limit=50".to_owned(),
                    "/v1/ledger/balances".to_owned(),
                ] {
                    let t = Instant::now();
                    self.get(&path).await?;
                    record(t);
                }
            }
        }
        Ok(())
    }
}

fn p99(mut v: Vec<Duration>) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

struct Window {
    at: u64,
    requests: usize,
    errors: u64,
    p99: Duration,
    rss_kb: u64,
    files: u64,
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::var("FINTECH_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800);
    let dir = tempfile::tempdir()?;
    let (backend, url) = match std::env::var("FINTECH_BENCH_POSTGRES_URL") {
        Ok(server) if !server.is_empty() => (
            "postgres",
            fintech_tests::fresh_postgres_database(&server).await?,
        ),
        _ => (
            "sqlite",
            format!("sqlite://{}?mode=rwc", dir.path().join("soak.db").display()),
        ),
    };
    let mut spec = ServerSpec::new(url, dir.path());
    spec.lease_secs = 120;
    spec.max_connections = 10;
    let server = ServerProcess::start(&spec).await?;
    let token = server.admin_key.clone().expect("admin key");
    println!(
        "soak: {backend}, {secs} s, {CLIENTS} clients, binary {}",
        fintech_tests::process::binary("fintech-server")?.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(Mutex::new(Vec::new()));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client = Client {
            http: reqwest::Client::new(),
            base: server.base.clone(),
            token: token.clone(),
            prefix: format!("soak-{c}"),
            n: 0,
        };
        let (stop, errors, lat, first_error) = (
            stop.clone(),
            errors.clone(),
            lat.clone(),
            first_error.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = c as u64;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = client.round(i, &lat).await {
                    errors.fetch_add(1, Ordering::Relaxed);
                    first_error.lock().unwrap().get_or_insert(e.to_string());
                }
                i += CLIENTS as u64;
            }
        }));
    }
    let window = Duration::from_secs((secs / WINDOWS).max(1));
    let mut windows = Vec::new();
    let start = Instant::now();
    println!(
        "{:>6} {:>9} {:>6} {:>9} {:>9} {:>6}",
        "at s", "requests", "errors", "p99 ms", "RSS KiB", "files"
    );
    while start.elapsed().as_secs() < secs {
        tokio::time::sleep(window).await;
        let sample = std::mem::take(&mut *lat.lock().unwrap());
        let (rss_kb, files) = server.resources().unwrap_or((0, 0));
        let w = Window {
            at: start.elapsed().as_secs(),
            requests: sample.len(),
            errors: errors.swap(0, Ordering::Relaxed),
            p99: p99(sample),
            rss_kb,
            files,
        };
        println!(
            "{:>6} {:>9} {:>6} {:>9.1} {:>9} {:>6}",
            w.at,
            w.requests,
            w.errors,
            w.p99.as_secs_f64() * 1e3,
            w.rss_kb,
            w.files
        );
        windows.push(w);
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let third = (windows.len() / 3).max(1);
    let middle = &windows[third.min(windows.len() - 1)..(2 * third).min(windows.len())];
    let last = &windows[windows.len().saturating_sub(third)..];
    let ratio = |f: &dyn Fn(&Window) -> f64| {
        mean(last.iter().map(f)) / mean(middle.iter().map(f)).max(f64::MIN_POSITIVE)
    };
    let rss = ratio(&|w| w.rss_kb as f64);
    let files = ratio(&|w| w.files as f64);
    let lat99 = ratio(&|w| w.p99.as_secs_f64());
    let total: usize = windows.iter().map(|w| w.requests).sum();
    let errs: u64 = windows.iter().map(|w| w.errors).sum();
    println!(
        "total {total} requests ({:.0}/s), {errs} failed rounds; last third / second third: RSS x{rss:.2}, open files x{files:.2}, p99 x{lat99:.2}",
        total as f64 / start.elapsed().as_secs_f64()
    );
    if let Some(e) = first_error.lock().unwrap().take() {
        println!("first failure: {e}");
    }
    let mut ok = errs == 0;
    for (what, r, tol) in [
        ("RSS", rss, RSS_TOLERANCE),
        ("open files", files, FILES_TOLERANCE),
        ("p99", lat99, P99_TOLERANCE),
    ] {
        if r > tol {
            println!("NOT FLAT: {what} grew x{r:.2} (tolerance x{tol:.2})");
            ok = false;
        }
    }
    server.kill9().await?;
    for what in [["audit", "verify"], ["ledger", "verify"]] {
        let (passed, out) = spec.cli(&what).await?;
        println!(
            "fintech {} {}: {}",
            what[0],
            what[1],
            if passed { "ok" } else { &out }
        );
        ok &= passed;
    }
    println!("{}", if ok { "soak: flat" } else { "soak: FAILED" });
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
