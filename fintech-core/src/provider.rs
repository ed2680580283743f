//! What every provider shares: its mode (simulated, sandbox/paper, live) and a resolver that
//! gives the [`crate::Platform`] the provider of each domain for a tenant.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::banking::BankingProvider;
use crate::id::TenantId;
use crate::payments::PaymentProvider;
use crate::trading::BrokerageProvider;

/// Whether a provider moves real money. Agents can ask; operators see it everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProviderMode {
    /// The offline simulator.
    Simulated,
    /// A provider sandbox or paper-trading account: real API, no real money.
    Sandbox,
    /// Production: real money.
    Live,
}

impl fmt::Display for ProviderMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderMode::Simulated => "simulated",
            ProviderMode::Sandbox => "sandbox",
            ProviderMode::Live => "live",
        })
    }
}

/// Gives the provider of each domain for a tenant. Implemented by `fintech-providers`
/// (simulator per tenant by default, real clients from configuration).
pub trait ProviderSet: Send + Sync {
    /// The banking provider of a tenant.
    fn banking(&self, tenant: &TenantId) -> Arc<dyn BankingProvider>;
    /// The payments provider of a tenant.
    fn payments(&self, tenant: &TenantId) -> Arc<dyn PaymentProvider>;
    /// The brokerage provider of a tenant.
    fn brokerage(&self, tenant: &TenantId) -> Arc<dyn BrokerageProvider>;

    /// Gives the providers the platform's database to keep their own per-tenant state in.
    /// [`crate::PlatformBuilder::build`] calls it once it has opened the database; providers
    /// that keep state (the simulator) keep it there, so every process opening the database
    /// sees the same provider world. A set that wraps another must pass it on. The default
    /// does nothing (real clients keep their state at the provider).
    fn attach_state(&self, state: &crate::provider_state::ProviderState) {
        let _ = state;
    }
}
