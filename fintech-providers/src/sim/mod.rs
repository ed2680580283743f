//! The offline simulator: deterministic, in-process stand-ins for Plaid, Stripe and Alpaca.
//!
//! * [`SimBanking`]: sandbox institutions, accounts, and a cursor-based transaction sync with
//!   added/modified/removed pages. Everything is derived from the item id, so a sync works the
//!   same after a restart.
//! * [`SimPayments`]: customers, Stripe-style test payment-method tokens (`pm_card_visa`,
//!   `pm_card_chargeDeclined` ...), idempotency keys honoured as Stripe does, refunds.
//! * [`SimBrokerage`]: a 100,000 USD account, market/limit/stop/stop-limit orders with
//!   day/gtc/ioc/fok/opg/cls, fills from a deterministic price feed, positions, a clock.
//!
//! [`SimProviders`] gives each tenant its own simulator. Its state (customers, payments and
//! their idempotency keys, refunds, attached payment methods, items and their simulated days,
//! removed items, orders, cash and positions) lives in the platform's database once a
//! [`fintech_core::Platform`] is built with it ([`ProviderSet::attach_state`]), as records of
//! [`fintech_core::ProviderState`]: every process that opens the database (the CLI, the
//! server, `fintech-mcp`, an embedding program) sees one simulated world, across restarts.
//! Each change is one state transaction on the tenant's namespace, so two processes at once
//! serialize instead of racing. Used without a platform (the simulator's own tests), the
//! state is kept in memory. Time comes from a [`SimClock`] so tests can pin and advance it;
//! pinned prices ([`SimBrokerage::set_price`]) stay in the process that pinned them.

mod banking;
mod brokerage;
mod payments;
mod prices;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chrono::{DateTime, Utc};
use fintech_core::banking::BankingProvider;
use fintech_core::id::TenantId;
use fintech_core::payments::PaymentProvider;
use fintech_core::provider::ProviderSet;
use fintech_core::trading::BrokerageProvider;
use fintech_core::{ProviderState, ProviderStateTx, Result};
use serde::de::DeserializeOwned;

pub use banking::{SimBanking, INSTITUTIONS};
pub use brokerage::{SimBrokerage, ASSETS, STARTING_CASH, UNTRADABLE};
pub use payments::{SimPayments, TEST_PAYMENT_METHODS};
pub use prices::{price_at, SPREAD};

/// Where the simulator reads the time: the system clock, or a clock a test controls.
#[derive(Clone, Default)]
pub struct SimClock {
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl SimClock {
    /// The system clock.
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock that stays at `at` until [`SimClock::set`] or [`SimClock::advance`].
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self {
            fixed: Some(Arc::new(Mutex::new(at))),
        }
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            Some(t) => *lock(t),
            None => Utc::now(),
        }
    }

    /// Moves a manual clock to `at` (no effect on the system clock).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(t) = &self.fixed {
            *lock(t) = at;
        }
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(t) = &self.fixed {
            let mut t = lock(t);
            *t += by;
        }
    }
}

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.fixed {
            Some(_) => write!(f, "SimClock::manual({})", self.now()),
            None => f.write_str("SimClock::system"),
        }
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the simulator's
/// state stays consistent because every update is a single assignment or insert.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where the simulators of one [`SimProviders`] keep their state: the platform's database
/// once attached, this process's memory until then.
#[derive(Debug)]
struct StateCell {
    memory: ProviderState,
    attached: OnceLock<ProviderState>,
}

/// One tenant's view of the simulator's state, for one simulated provider.
#[derive(Debug, Clone)]
pub(crate) struct SimState {
    tenant: TenantId,
    namespace: &'static str,
    cell: Arc<StateCell>,
}

impl SimState {
    /// State of its own, in memory (a simulator built on its own, outside [`SimProviders`]).
    pub(crate) fn standalone(namespace: &'static str) -> Self {
        Self {
            tenant: TenantId::generate(),
            namespace,
            cell: Arc::new(StateCell {
                memory: ProviderState::in_memory(),
                attached: OnceLock::new(),
            }),
        }
    }

    fn state(&self) -> &ProviderState {
        self.cell.attached.get().unwrap_or(&self.cell.memory)
    }

    /// A transaction on this tenant's namespace (serialized with every other, in every
    /// process sharing the database).
    pub(crate) async fn begin(&self) -> Result<ProviderStateTx> {
        self.state().begin(&self.tenant, self.namespace).await
    }

    /// One committed record.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<T>> {
        self.state()
            .get_json(&self.tenant, self.namespace, kind, key)
            .await
    }

    /// Every committed record of a kind, parsed.
    pub(crate) async fn list<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<(String, T)>> {
        self.state()
            .list(&self.tenant, self.namespace, kind)
            .await?
            .into_iter()
            .map(|(k, v)| {
                let parsed = serde_json::from_str(&v).map_err(|e| {
                    fintech_core::Error::internal(format!("simulator state {kind}/{k}: {e}"))
                })?;
                Ok((k, parsed))
            })
            .collect()
    }
}

/// The three simulated providers of one tenant.
#[derive(Debug, Clone)]
struct TenantSim {
    banking: Arc<SimBanking>,
    payments: Arc<SimPayments>,
    brokerage: Arc<SimBrokerage>,
}

/// A simulator per tenant, created on first use: the default [`ProviderSet`].
#[derive(Debug)]
pub struct SimProviders {
    clock: SimClock,
    cell: Arc<StateCell>,
    tenants: Mutex<HashMap<TenantId, TenantSim>>,
}

impl Default for SimProviders {
    fn default() -> Self {
        Self::new()
    }
}

impl SimProviders {
    /// Simulators on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SimClock::system())
    }

    /// Simulators on the given clock.
    pub fn with_clock(clock: SimClock) -> Self {
        Self {
            clock,
            cell: Arc::new(StateCell {
                memory: ProviderState::in_memory(),
                attached: OnceLock::new(),
            }),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The clock the simulators read.
    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    /// True once the simulators keep their state in a platform's database.
    pub fn is_persistent(&self) -> bool {
        self.cell.attached.get().is_some()
    }

    fn tenant(&self, tenant: &TenantId) -> TenantSim {
        let state = |namespace| SimState {
            tenant: tenant.clone(),
            namespace,
            cell: self.cell.clone(),
        };
        lock(&self.tenants)
            .entry(tenant.clone())
            .or_insert_with(|| TenantSim {
                banking: Arc::new(SimBanking::with_state(
                    state("sim.banking"),
                    self.clock.clone(),
                )),
                payments: Arc::new(SimPayments::with_state(state("sim.payments"))),
                brokerage: Arc::new(SimBrokerage::with_state(
                    state("sim.brokerage"),
                    account_number(tenant),
                    self.clock.clone(),
                )),
            })
            .clone()
    }

    /// The banking simulator of a tenant (to trigger new transactions in tests and demos).
    pub fn banking_sim(&self, tenant: &TenantId) -> Arc<SimBanking> {
        self.tenant(tenant).banking
    }

    /// The payments simulator of a tenant (to count charges in tests).
    pub fn payments_sim(&self, tenant: &TenantId) -> Arc<SimPayments> {
        self.tenant(tenant).payments
    }

    /// The brokerage simulator of a tenant (to pin prices in tests).
    pub fn brokerage_sim(&self, tenant: &TenantId) -> Arc<SimBrokerage> {
        self.tenant(tenant).brokerage
    }
}

/// A stable, tenant-specific account number (`SIM` + 9 digits).
fn account_number(tenant: &TenantId) -> String {
    let h = prices::hash64(tenant.as_str().as_bytes());
    format!("SIM{:09}", h % 1_000_000_000)
}

impl ProviderSet for SimProviders {
    fn banking(&self, tenant: &TenantId) -> Arc<dyn BankingProvider> {
        self.banking_sim(tenant)
    }

    fn payments(&self, tenant: &TenantId) -> Arc<dyn PaymentProvider> {
        self.payments_sim(tenant)
    }

    fn brokerage(&self, tenant: &TenantId) -> Arc<dyn BrokerageProvider> {
        self.brokerage_sim(tenant)
    }

    /// Keeps every simulator's state in the platform's database from now on. The first
    /// database attached stays: a simulator shared by two platforms must share their database.
    fn attach_state(&self, state: &ProviderState) {
        if state.is_persistent() {
            let _ = self.cell.attached.set(state.clone());
        }
    }
}

/// A provider error from the simulator.
pub(crate) fn sim_error(code: &str, message: impl Into<String>) -> fintech_core::Error {
    fintech_core::Error::Provider {
        provider: "sim",
        code: code.to_owned(),
        message: message.into(),
        request_id: None,
        retryable: false,
    }
}
