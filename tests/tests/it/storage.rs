//! The storage scenarios of `fintech_core::conformance::storage`, unchanged, on SQLite and on
//! PostgreSQL. Each scenario gets a fresh database; the suite prints how many passed.

use std::sync::Arc;

use fintech_core::conformance::storage::{run, Harness, SCENARIOS};
use fintech_core::{Config, Platform};
use fintech_providers::SimProviders;
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};

async fn harness(url: &str) -> Harness {
    let sim = Arc::new(SimProviders::new());
    let config = Config {
        database_url: url.to_owned(),
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 16,
    };
    let platform = Platform::builder(config)
        .with_providers(sim.clone())
        .build()
        .await
        .expect("platform");
    let counter = sim.clone();
    Harness {
        platform,
        charges: Arc::new(move |tenant| counter.payments_sim(tenant).charge_count()),
    }
}

/// Runs every scenario, each in its own task and database, and reports all failures at once.
async fn suite(
    backend: &str,
    make_url: impl Fn() -> futures::future::BoxFuture<'static, (Option<tempfile::TempDir>, String)>,
) {
    let mut failed = Vec::new();
    for name in SCENARIOS {
        let (guard, url) = make_url().await;
        let h = harness(&url).await;
        let outcome = tokio::spawn(async move {
            run(name, &h).await;
            h.platform.store().close().await;
        })
        .await;
        drop(guard);
        if let Err(e) = outcome {
            eprintln!("{backend} scenario {name} FAILED: {e}");
            failed.push(*name);
        }
    }
    let passed = SCENARIOS.len() - failed.len();
    report(&format!(
        "{backend} storage scenarios: {passed} passed, {} failed",
        failed.len()
    ));
    assert!(failed.is_empty(), "{backend} scenarios failed: {failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_storage_scenarios() {
    suite("sqlite", || {
        Box::pin(async {
            let (dir, url) = fresh_sqlite_database().expect("temp sqlite");
            (Some(dir), url)
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_storage_scenarios() {
    let Some(server) = postgres_url() else { return };
    suite("postgres", move || {
        let server = server.clone();
        Box::pin(async move {
            (
                None,
                fresh_postgres_database(&server)
                    .await
                    .expect("create test database"),
            )
        })
    })
    .await;
}
