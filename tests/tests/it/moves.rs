//! Money moves as a property, on SQLite and PostgreSQL: proptest generates a key's limits and
//! rounds of payments, captures, refunds, cancels, approvals and rejections (some sent twice
//! under one idempotency key); `fintech_core::conformance::moves::run_plan` runs each round's
//! moves concurrently and checks after every round that each journal entry balances, the
//! processor balance is captured minus refunded, refunds stay within captures and captures
//! within authorizations, and the key stays within its per-payment and daily limits. A
//! failure shrinks to a short plan.

use std::sync::Arc;

use fintech_core::conformance::moves::{run_plan, Move, Plan, Tally};
use fintech_core::conformance::storage::Harness;
use fintech_core::{Config, Platform};
use fintech_providers::SimProviders;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};

use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};

fn a_move() -> impl Strategy<Value = Move> {
    let pick = 0usize..8;
    prop_oneof![
        4 => (1i64..=40_000, any::<bool>(), prop::bool::weighted(0.1), prop::bool::weighted(0.2))
            .prop_map(|(cents, manual, declined, twice)| Move::Pay { cents, manual, declined, twice }),
        2 => (pick.clone(), prop::option::of(1i64..=30_000))
            .prop_map(|(pick, cents)| Move::Capture { pick, cents }),
        2 => (pick.clone(), 1i64..=30_000).prop_map(|(pick, cents)| Move::Refund { pick, cents }),
        1 => pick.clone().prop_map(|pick| Move::Cancel { pick }),
        1 => pick.clone().prop_map(|pick| Move::Approve { pick }),
        1 => pick.prop_map(|pick| Move::Reject { pick }),
    ]
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        10_000i64..=40_000,
        20_000i64..=120_000,
        2_000i64..=30_000,
        prop::collection::vec(prop::collection::vec(a_move(), 1..=4), 1..=6),
    )
        .prop_map(
            |(max_per_payment, max_per_day, approval_threshold, rounds)| Plan {
                max_per_payment,
                max_per_day,
                approval_threshold,
                rounds,
            },
        )
}

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
    Harness {
        platform,
        charges: Arc::new(move |tenant| sim.payments_sim(tenant).charge_count()),
    }
}

fn property(backend: &str, cases: u32, url: String, _guard: Option<tempfile::TempDir>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let h = rt.block_on(harness(&url));
    let total = std::sync::Mutex::new(Tally::default());
    TestRunner::new(PropConfig {
        cases,
        failure_persistence: None,
        ..PropConfig::default()
    })
    .run(&plan(), |plan| {
        let tally = rt.block_on(run_plan(&h, &plan));
        let mut total = total.lock().expect("tally");
        total.moves += tally.moves;
        for (t, n) in total.succeeded.iter_mut().zip(tally.succeeded) {
            *t += n;
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{backend}: the books broke: {e}"));
    rt.block_on(h.platform.store().close());
    let total = total.into_inner().expect("tally");
    // the generator reaches every kind of move, so the property says something about each
    assert!(
        total.succeeded.iter().all(|&n| n > 0),
        "{backend}: some kind of move never succeeded (pay, capture, refund, cancel, approve, reject): {total:?}"
    );
    report(&format!(
        "{backend} money moves property: {cases} passed, 0 failed ({} moves, {:?} succeeded)",
        total.moves, total.succeeded
    ));
}

#[test]
fn sqlite_money_moves_keep_the_books() {
    let (dir, url) = fresh_sqlite_database().expect("sqlite");
    property("sqlite", 48, url, Some(dir));
}

#[test]
fn postgres_money_moves_keep_the_books() {
    let Some(server) = postgres_url() else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = rt
        .block_on(fresh_postgres_database(&server))
        .expect("database");
    drop(rt);
    property("postgres", 32, url, None);
}
