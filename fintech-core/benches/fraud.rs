//! Fraud engine benchmark: assessments per second per core and latency percentiles for the
//! starter rule set with warm in-memory velocity windows, next to a one-rule baseline (one
//! amount threshold) measured in the same run on the same workload; then the same starter
//! set through `StoredRules` on SQLite, where the windows are counted in the database.
//!
//! ```sh
//! FINTECH_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5499/postgres \
//!   cargo bench -p fintech-core --bench fraud      # FINTECH_BENCH_QUICK=1 for a short run
//! ```
//!
//! Workload: 30 days of the deterministic synthetic data set (300 customers, planted fraud)
//! warm the windows; the measured assessments replay the last day again and again, shifted
//! one day further each pass, so windows stay warm and realistic. One assessment = record
//! the operation in the windows, count every window the set needs, evaluate every rule.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fintech_core::fraud::backtest::{synthetic, LabelledTxn};
use fintech_core::fraud::{MemoryWindows, RuleFormat, RuleSet, WindowStat};

const DAY: i64 = 86_400_000_000;

const BASELINE: &str = r#"
review_score = 50
block_score = 100
[[rule]]
name = "large-amount"
action = "review"
score = 40
when.amount_above = { amount = { USD = "10000.00" } }
"#;

struct Figure {
    per_sec: f64,
    p50_ns: u64,
    p99_ns: u64,
    p999_ns: u64,
    flagged: u64,
}

/// Warms windows with `warm`, then runs `n` assessments over `day` shifted pass by pass.
fn measure(rules: &RuleSet, warm: &[LabelledTxn], day: &[LabelledTxn], n: usize) -> Figure {
    let mut windows = MemoryWindows::for_rules(rules);
    let mut stats: Vec<WindowStat> = Vec::with_capacity(rules.windows().len());
    for r in warm {
        windows.record(&r.txn.txn());
    }
    let mut flagged = 0u64;
    let mut run = |count: usize, pass0: i64, mut lat: Option<&mut Vec<u64>>| -> Duration {
        let start = Instant::now();
        let mut i = 0;
        let mut pass = pass0;
        'outer: loop {
            for r in day {
                if i == count {
                    break 'outer;
                }
                let mut txn = r.txn.txn();
                txn.at_micros += pass * DAY;
                let t0 = lat.as_ref().map(|_| Instant::now());
                windows.record(&txn);
                windows.stats(rules, &txn, &mut stats);
                let a = rules.evaluate(&txn, &stats);
                if let (Some(t0), Some(l)) = (t0, lat.as_deref_mut()) {
                    l.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
                }
                flagged += u64::from(a.decision != fintech_core::fraud::Decision::Allow);
                black_box(a);
                i += 1;
            }
            pass += 1;
        }
        start.elapsed()
    };
    // Throughput without per-call timers, then latencies with them, on later days.
    let elapsed = run(n, 1, None);
    let passes = i64::try_from(n / day.len().max(1) + 2).unwrap_or(i64::MAX / 4);
    let mut lat = Vec::with_capacity(n);
    run(n, passes + 1, Some(&mut lat));
    lat.sort_unstable();
    let pct = |p: usize| lat[(lat.len() * p / 1000).min(lat.len() - 1)];
    Figure {
        per_sec: n as f64 / elapsed.as_secs_f64(),
        p50_ns: pct(500),
        p99_ns: pct(990),
        p999_ns: pct(999),
        flagged,
    }
}

fn print(name: &str, f: &Figure, base: &Figure) {
    println!(
        "{name:<34} {:>12.0} {:>8} {:>8} {:>9} {:>9.2}x",
        f.per_sec,
        f.p50_ns,
        f.p99_ns,
        f.p999_ns,
        f.per_sec / base.per_sec
    );
}

async fn stored(url: &str, warm: &[LabelledTxn], day: &[LabelledTxn], n: usize) -> (f64, f64) {
    use fintech_core::fraud::{FraudScreen, ScreenContext, ScreenRequest, Screened, StoredRules};
    use fintech_core::storage::Store;
    use fintech_core::{Actor, Interface, Money};
    let store = Store::connect_url(url, 4).await.expect("store");
    let tenant = fintech_core::id::TenantId::generate();
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, 'bench', 0)")
        .bind(tenant.as_str())
        .execute(store.pool())
        .await
        .expect("tenant");
    sqlx::query("INSERT INTO fraud_rule_sets (tenant_id, version, format, source, created_by, created_at) VALUES ($1, 1, 'toml', $2, 'bench', 0)")
        .bind(tenant.as_str())
        .bind(fintech_core::fraud::STARTER_RULES)
        .execute(store.pool())
        .await
        .expect("rules");
    // Warm: the last week of history as observations (relative to now).
    let now = chrono::Utc::now().timestamp_micros();
    let last = warm.last().map(|r| r.txn.at_micros).unwrap_or(0);
    let mut tx = store.pool().begin().await.expect("tx");
    for r in warm.iter().filter(|r| r.txn.at_micros > last - 7 * DAY) {
        let mut t = r.txn.txn();
        t.at_micros = now - (last - t.at_micros);
        sqlx::query("INSERT INTO fraud_observations (tenant_id, subject, at_micros, currency, amount_minor, payer, payee, payment_method, api_key, ip) VALUES ($1, 'payment', $2, $3, $4, $5, $6, $7, NULL, $8)")
            .bind(tenant.as_str())
            .bind(t.at_micros)
            .bind(t.currency.code())
            .bind(t.amount_minor)
            .bind(t.keys[0])
            .bind(t.keys[1])
            .bind(t.keys[2])
            .bind(t.keys[4])
            .execute(&mut *tx)
            .await
            .expect("warm");
    }
    tx.commit().await.expect("commit");
    let screen = StoredRules::new(store.clone());
    let reqs: Vec<ScreenRequest> = day
        .iter()
        .map(|r| ScreenRequest {
            tenant_id: tenant.clone(),
            actor: Actor::System,
            interface: Interface::Sdk,
            subject: Screened::Payment {
                amount: Money::from_minor(r.txn.amount_minor, r.txn.currency),
                payee: r.txn.keys[1].clone(),
                payment_method: r.txn.keys[2].clone().unwrap_or_default(),
                customer_id: r.txn.keys[0].clone(),
            },
            context: ScreenContext {
                ip: r.txn.keys[4].clone(),
                country: r.txn.country.clone(),
                ..ScreenContext::default()
            },
            dry_run: false,
        })
        .collect();
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for req in reqs.iter().cycle().take(n) {
        let t0 = Instant::now();
        black_box(screen.assess(req).await.expect("assess"));
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    let per_sec = n as f64 / start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    store.close().await;
    (per_sec, lat[lat.len() * 99 / 100])
}

fn main() {
    let quick = std::env::var_os("FINTECH_BENCH_QUICK").is_some();
    let n = if quick { 300_000 } else { 3_000_000 };
    let data = synthetic(20261125, 31);
    let split = data
        .iter()
        .position(|r| {
            r.txn.at_micros >= data[0].txn.at_micros - data[0].txn.at_micros % DAY + 30 * DAY
        })
        .unwrap_or(data.len());
    let (warm, day) = data.split_at(split);
    let starter = RuleSet::starter().expect("starter");
    let baseline = RuleSet::from_source(BASELINE, RuleFormat::Toml).expect("baseline");

    println!(
        "fraud engine, one thread; warm windows: {} operations of history; {} assessments per figure",
        warm.len(),
        n
    );
    println!(
        "{:<34} {:>12} {:>8} {:>8} {:>9} {:>10}",
        "rule set", "assess/s", "p50 ns", "p99 ns", "p99.9 ns", "vs base"
    );
    let base = measure(&baseline, warm, day, n);
    print("baseline: 1 amount rule", &base, &base);
    let full = measure(&starter, warm, day, n);
    print(
        &format!(
            "starter: {} rules, {} windows",
            starter.len(),
            starter.windows().len()
        ),
        &full,
        &base,
    );
    println!(
        "flagged (review or block) in the 2 × {n} assessments of each row: baseline {}, starter {}",
        base.flagged, full.flagged
    );
    let met = full.per_sec >= 1_000_000.0 && full.p99_ns < 20_000;
    println!(
        "goal 1,000,000 assessments/s/core and p99 < 20 µs: {}",
        if met { "met" } else { "NOT met" }
    );

    let db_n = if quick { 500 } else { 3_000 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("fintech-fraud-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let (db_per_sec, db_p99_us) = rt.block_on(stored(&sqlite, warm, day, db_n));
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "starter via StoredRules on SQLite (windows counted in the database, {db_n} assessments): {db_per_sec:.0}/s, p99 {db_p99_us:.0} µs, {:.4}x the in-memory figure",
        db_per_sec / full.per_sec
    );
    if let Ok(server) = std::env::var("FINTECH_BENCH_POSTGRES_URL") {
        let name = format!("fintech_fraud_bench_{}", std::process::id());
        let (per_sec, p99) = rt.block_on(async {
            use sqlx::Connection;
            let mut admin = sqlx::postgres::PgConnection::connect(&server)
                .await
                .expect("postgres");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("create");
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            let r = stored(&format!("{base}/{name}"), warm, day, db_n).await;
            sqlx::query(&format!("DROP DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("drop");
            r
        });
        println!(
            "starter via StoredRules on PostgreSQL ({db_n} assessments): {per_sec:.0}/s, p99 {p99:.0} µs, {:.4}x the in-memory figure",
            per_sec / full.per_sec
        );
    }
}
