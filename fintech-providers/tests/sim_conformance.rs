//! The provider conformance scenarios of `fintech_core::conformance`, on the simulator. Each
//! scenario gets a fresh simulator with every hook; all failures are reported together, and a
//! scenario the simulator skips counts as a failure (the simulator can run them all).

use std::future::Future;
use std::sync::Arc;

use chrono::TimeZone;
use fintech_core::conformance::{banking, brokerage, payments, Outcome};
use fintech_core::id::TenantId;
use fintech_providers::sim::{SimClock, SimProviders, TEST_PAYMENT_METHODS};
use futures::FutureExt;

/// Runs every scenario of `names`, each through `run`, and reports all failures at once.
async fn suite<F, Fut>(domain: &str, names: &'static [&'static str], run: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut failed = Vec::new();
    for &name in names {
        match std::panic::AssertUnwindSafe(run(name)).catch_unwind().await {
            Ok(Outcome::Passed) => {}
            Ok(Outcome::Skipped(why)) => {
                eprintln!("sim {domain} scenario {name} FAILED: skipped on the simulator: {why}");
                failed.push(name);
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("sim {domain} scenario {name} FAILED: {msg}");
                failed.push(name);
            }
        }
    }
    println!(
        "sim {domain} scenarios: {} passed, {} failed",
        names.len() - failed.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "sim {domain} scenarios failed: {failed:?}"
    );
}

/// A fresh simulator on a manual clock (a Tuesday afternoon, UTC) and a tenant.
fn fresh() -> (Arc<SimProviders>, TenantId) {
    let start = chrono::Utc
        .with_ymd_and_hms(2026, 11, 24, 15, 30, 0)
        .single()
        .expect("time");
    (
        Arc::new(SimProviders::with_clock(SimClock::manual(start))),
        TenantId::generate(),
    )
}

#[tokio::test]
async fn sim_banking() {
    suite("banking", banking::SCENARIOS, |name| async move {
        let (sim, tenant) = fresh();
        let bank = sim.banking_sim(&tenant);
        let advancer = bank.clone();
        let h = banking::BankingHarness {
            institution: "ins_109508".into(),
            advance: Some(Box::new(move || {
                let advancer = advancer.clone();
                Box::pin(async move {
                    advancer.advance().await.expect("a simulated day");
                })
            })),
        };
        banking::run(name, bank.as_ref(), &h).await
    })
    .await;
}

#[tokio::test]
async fn sim_payments() {
    let declines: Vec<(String, String)> = TEST_PAYMENT_METHODS
        .iter()
        .filter_map(|(pm, what)| {
            what.strip_prefix("declined: ")
                .map(|code| (pm.to_string(), code.to_string()))
        })
        .collect();
    assert!(
        declines.len() >= 5,
        "the simulator has declining test cards"
    );
    suite("payments", payments::SCENARIOS, |name| {
        let declines = declines.clone();
        async move {
            let (sim, tenant) = fresh();
            let pay = sim.payments_sim(&tenant);
            let counter = pay.clone();
            let h = payments::PaymentsHarness {
                succeeds: "pm_card_visa".into(),
                declines,
                processing: Some("pm_card_processing".into()),
                charges: Some(Box::new(move || counter.charge_count())),
            };
            payments::run(name, pay.as_ref(), &h).await
        }
    })
    .await;
}

#[tokio::test]
async fn sim_brokerage() {
    suite("brokerage", brokerage::SCENARIOS, |name| async move {
        let (sim, tenant) = fresh();
        let broker = sim.brokerage_sim(&tenant);
        let pricer = broker.clone();
        let clock = sim.clock().clone();
        let h = brokerage::BrokerageHarness {
            set_price: Some(Box::new(move |symbol, price| {
                pricer
                    .set_price(symbol, Some(price))
                    .expect("a valid simulated price");
            })),
            advance_clock: Some(Box::new(move |by| clock.advance(by))),
        };
        brokerage::run(name, broker.as_ref(), &h).await
    })
    .await;
}
