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
        ..Config::default()
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

/// Two processes on one database: a tenant's account list cached by one is refreshed when it
/// reads the other's `banking.*` events from the log, and otherwise within the read-cache TTL.
#[tokio::test]
async fn cached_accounts_follow_another_processs_changes() {
    let (_dir, url) = fresh_sqlite_database().expect("temp sqlite");
    let key = fintech_core::crypto::SecretBox::generate_key();
    let open = |ttl: std::time::Duration| {
        let config = Config {
            database_url: url.clone(),
            encryption_key: Some(key.clone()),
            max_connections: 4,
            ..Config::default()
        };
        async move {
            Platform::builder(config)
                .with_providers(Arc::new(SimProviders::new()))
                .with_read_cache_ttl(ttl)
                .build()
                .await
                .expect("platform")
        }
    };
    let reader = open(std::time::Duration::from_secs(3600)).await;
    let writer = open(std::time::Duration::from_secs(3600)).await;
    let tenant = writer
        .create_tenant("two-processes", fintech_core::Interface::Sdk)
        .await
        .expect("tenant");
    let p = fintech_core::Principal::system(tenant.id, fintech_core::Interface::Sdk);
    assert!(reader
        .bank_accounts(&p, None)
        .await
        .expect("read")
        .is_empty());
    let token = writer
        .sandbox_public_token(&p, "ins_109508", None)
        .await
        .expect("token");
    writer.link_item(&p, &token, None).await.expect("link");
    assert!(
        reader
            .bank_accounts(&p, None)
            .await
            .expect("read")
            .is_empty(),
        "within its TTL the reader answers what it cached"
    );
    assert!(!writer
        .bank_accounts(&p, None)
        .await
        .expect("read")
        .is_empty());
    reader
        .events(&p, Default::default())
        .await
        .expect("the reader follows the log");
    assert!(
        !reader
            .bank_accounts(&p, None)
            .await
            .expect("read")
            .is_empty(),
        "an item_linked event read from the log refreshes the cache"
    );
}
