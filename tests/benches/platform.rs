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

use std::sync::Arc;
use std::time::Duration;

use fintech_core::payments::NewPayment;
use fintech_core::platform::Backend;
use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::{Config, Interface, Money, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_tests::bench::{drive, pgbench, raw_baseline, show, Run};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database};

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
                None,
            )
            .await?
            .into_value()
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
                        capture_method: None,
                        confirmation_token: None,
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
        ..Config::default()
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
    let duration = fintech_tests::bench::duration();
    println!(
        "Platform payments through the SDK vs a raw two-row insert transaction, {} s per figure",
        duration.as_secs()
    );
    let (dir, url) = fresh_sqlite_database()?;
    bench_backend("sqlite", &url, None, duration).await?;
    drop(dir);
    match fintech_tests::bench::postgres_server() {
        Some(server) => {
            let url = fresh_postgres_database(&server).await?;
            bench_backend("postgres", &url, Some(&server), duration).await?;
        }
        None => println!("postgres: skipped (set FINTECH_BENCH_POSTGRES_URL)"),
    }
    Ok(())
}
