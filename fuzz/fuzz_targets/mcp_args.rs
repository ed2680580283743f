//! MCP tool arguments through the operation catalog: every operation's invoker (the strict
//! argument parser, then the one `Platform` method) on a real platform (SQLite in a temporary
//! directory, the simulated providers). Any arguments answer a result or an error, never a
//! panic, and the ledger stays balanced whatever runs. Input: one byte (the operation, and
//! whether the key calls over MCP or the SDK, under a few idempotency keys), then the
//! arguments as JSON.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use fintech_core::catalog::OPERATIONS;
use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::{Config, Interface, Money, Platform, Principal, Scope};
use fintech_providers::sim::SimProviders;
use libfuzzer_sys::fuzz_target;

struct World {
    rt: tokio::runtime::Runtime,
    platform: Platform,
    mcp: Principal,
    sdk: Principal,
    system: Principal,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let (platform, mcp, sdk, system) = rt.block_on(async {
            let config = Config {
                database_url: format!("sqlite://{}/fuzz.db?mode=rwc", dir.path().display()),
                encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
                max_connections: 2,
                ..Config::default()
            };
            let platform = Platform::builder(config)
                .with_providers(Arc::new(SimProviders::new()))
                .build()
                .await
                .expect("platform");
            let tenant = platform
                .create_tenant("fuzz", Interface::Sdk)
                .await
                .expect("tenant");
            let system = Principal::system(tenant.id, Interface::Sdk);
            let usd = |s: &str| Money::parse(s, "USD").expect("amount");
            let key = platform
                .create_api_key(
                    &system,
                    NewApiKey {
                        name: "fuzz agent".into(),
                        // every scope an agent or an operator may hold, short of managing keys
                        scopes: Scope::ALL
                            .into_iter()
                            .filter(|s| !matches!(s, Scope::Admin | Scope::Developer))
                            .collect::<BTreeSet<_>>(),
                        limits: KeyLimits {
                            max_per_payment: Some(usd("1000")),
                            max_per_day: Some(usd("5000")),
                            max_order_notional: Some(usd("2000")),
                            approval_threshold: Some(usd("500")),
                            confirm_above: None,
                        },
                    },
                    None,
                )
                .await
                .expect("key");
            let mcp = platform
                .authenticate(&key.secret, Interface::Mcp)
                .await
                .expect("auth");
            let sdk = platform
                .authenticate(&key.secret, Interface::Sdk)
                .await
                .expect("auth");
            (platform, mcp, sdk, system)
        });
        World {
            rt,
            platform,
            mcp,
            sdk,
            system,
            _dir: dir,
        }
    })
}

/// Every currency's postings sum to zero.
async fn assert_balanced(w: &World) {
    let balances = w
        .platform
        .ledger_balances(&w.system)
        .await
        .expect("balances");
    let mut sums: BTreeMap<&str, Money> = BTreeMap::new();
    for b in &balances {
        let c = b.balance.currency();
        let sum = sums.entry(c.code()).or_insert_with(|| Money::zero(c));
        *sum = sum.checked_add(&b.balance).expect("sum");
    }
    for (code, sum) in sums {
        assert!(sum.is_zero(), "ledger unbalanced in {code}: {sum}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, args)) = data.split_first() else {
        return;
    };
    let Ok(args) = serde_json::from_slice::<serde_json::Value>(args) else {
        return;
    };
    let w = world();
    let op = &OPERATIONS[usize::from(which & 0x7F) % OPERATIONS.len()];
    let p = if which & 0x80 == 0 { &w.mcp } else { &w.sdk };
    w.rt.block_on(async {
        // the SDK caller retries under a handful of keys: replays and reused keys both happen
        let key = (which & 0x80 != 0).then(|| format!("fuzz-{}", which % 3));
        let _ = op.call(&w.platform, p, args, key).await;
        static CALLS: AtomicU64 = AtomicU64::new(0);
        if CALLS.fetch_add(1, Ordering::Relaxed) % 64 == 0 {
            assert_balanced(w).await;
        }
    });
});
