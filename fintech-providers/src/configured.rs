//! Providers chosen by configuration: a real client where its credentials are set, the
//! simulator elsewhere. `from_env()` reads:
//!
//! | variable | meaning |
//! |---|---|
//! | `FINTECH_PLAID_CLIENT_ID`, `FINTECH_PLAID_SECRET` | use Plaid for banking |
//! | `FINTECH_PLAID_ENV` | `sandbox` (default), `production`, or a base URL |
//! | `FINTECH_ALPACA_KEY_ID`, `FINTECH_ALPACA_SECRET_KEY` | use Alpaca for brokerage |
//! | `FINTECH_ALPACA_PAPER` | `true` (default) for paper trading, `false` for live money |
//! | `FINTECH_ALPACA_TRADING_URL`, `FINTECH_ALPACA_DATA_URL` | other base URLs (mocks, proxies) |
//!
//! | `FINTECH_STRIPE_API_KEY` | use Stripe for payments (`sk_test_…`: test mode, `sk_live_…`: live) |
//! | `FINTECH_STRIPE_BASE_URL` | another base URL (a mock, a proxy) |
//!
//! Every tenant shares the configured accounts (per-tenant accounts and aliases are not built
//! yet).

use std::sync::Arc;

use fintech_core::banking::BankingProvider;
use fintech_core::id::TenantId;
use fintech_core::payments::PaymentProvider;
use fintech_core::trading::BrokerageProvider;
use fintech_core::{Error, ProviderSet, Result};

use crate::http::HttpSettings;
use crate::sim::SimProviders;

/// Real clients where configured, the simulator elsewhere.
pub struct ConfiguredProviders {
    sim: Arc<SimProviders>,
    banking: Option<Arc<dyn BankingProvider>>,
    payments: Option<Arc<dyn PaymentProvider>>,
    brokerage: Option<Arc<dyn BrokerageProvider>>,
}

impl ConfiguredProviders {
    /// Only the simulator.
    pub fn simulated() -> Self {
        Self {
            sim: Arc::new(SimProviders::new()),
            banking: None,
            payments: None,
            brokerage: None,
        }
    }

    /// Uses `banking` for every tenant.
    pub fn with_banking(mut self, banking: Arc<dyn BankingProvider>) -> Self {
        self.banking = Some(banking);
        self
    }

    /// Uses `payments` for every tenant.
    pub fn with_payments(mut self, payments: Arc<dyn PaymentProvider>) -> Self {
        self.payments = Some(payments);
        self
    }

    /// Uses `brokerage` for every tenant.
    pub fn with_brokerage(mut self, brokerage: Arc<dyn BrokerageProvider>) -> Self {
        self.brokerage = Some(brokerage);
        self
    }

    /// Which providers are real, for a startup line: `banking=plaid(sandbox) …`.
    pub fn describe(&self) -> String {
        let t = TenantId::generate();
        format!(
            "banking={}({}) payments={}({}) brokerage={}({})",
            self.banking(&t).name(),
            self.banking(&t).mode(),
            self.payments(&t).name(),
            self.payments(&t).mode(),
            self.brokerage(&t).name(),
            self.brokerage(&t).mode()
        )
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Providers from `FINTECH_*` environment variables (see the module docs); the simulator
/// when none are set. Half a credential pair is an error, not a silent fallback.
pub fn from_env() -> Result<ConfiguredProviders> {
    from_env_with(Arc::new(SimProviders::new()))
}

/// Like [`from_env`], with the simulator to fall back on (the CLI keeps a handle on it to
/// trigger simulated events).
pub fn from_env_with(sim: Arc<SimProviders>) -> Result<ConfiguredProviders> {
    from_vars(sim, &var)
}

/// The selection, reading settings through `var`.
fn from_vars(
    sim: Arc<SimProviders>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<ConfiguredProviders> {
    let mut p = ConfiguredProviders {
        sim,
        banking: None,
        payments: None,
        brokerage: None,
    };
    #[cfg(feature = "plaid")]
    match (var("FINTECH_PLAID_CLIENT_ID"), var("FINTECH_PLAID_SECRET")) {
        (Some(client_id), Some(secret)) => {
            let environment = crate::plaid::PlaidEnvironment::parse(
                &var("FINTECH_PLAID_ENV").unwrap_or_else(|| "sandbox".into()),
            )?;
            let plaid = crate::plaid::Plaid::new(
                crate::plaid::PlaidConfig {
                    client_id,
                    secret: secret.into(),
                    environment,
                    client_name: var("FINTECH_PLAID_CLIENT_NAME")
                        .unwrap_or_else(|| "fintech".into()),
                },
                HttpSettings::default(),
            )?;
            p = p.with_banking(Arc::new(plaid));
        }
        (None, None) => {}
        _ => {
            return Err(Error::validation(
                "FINTECH_PLAID_CLIENT_ID",
                "set both FINTECH_PLAID_CLIENT_ID and FINTECH_PLAID_SECRET, or neither",
            ))
        }
    }
    #[cfg(feature = "stripe")]
    if let Some(key) = var("FINTECH_STRIPE_API_KEY") {
        if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            return Err(Error::validation(
                "FINTECH_STRIPE_API_KEY",
                "expected a secret or restricted key (sk_… or rk_…)",
            ));
        }
        let stripe = crate::stripe::Stripe::new(
            crate::stripe::StripeConfig {
                secret_key: key.into(),
                base_url: var("FINTECH_STRIPE_BASE_URL"),
            },
            HttpSettings::default(),
        )?;
        p = p.with_payments(Arc::new(stripe));
    }
    #[cfg(feature = "alpaca")]
    match (
        var("FINTECH_ALPACA_KEY_ID"),
        var("FINTECH_ALPACA_SECRET_KEY"),
    ) {
        (Some(key_id), Some(secret_key)) => {
            let paper = match var("FINTECH_ALPACA_PAPER").as_deref() {
                None | Some("true") | Some("1") => true,
                Some("false") | Some("0") => false,
                Some(other) => {
                    return Err(Error::validation(
                        "FINTECH_ALPACA_PAPER",
                        format!("{other:?}: expected true or false"),
                    ))
                }
            };
            let alpaca = crate::alpaca::Alpaca::new(
                crate::alpaca::AlpacaConfig {
                    key_id,
                    secret_key: secret_key.into(),
                    paper,
                    trading_url: var("FINTECH_ALPACA_TRADING_URL"),
                    data_url: var("FINTECH_ALPACA_DATA_URL"),
                },
                HttpSettings::default(),
            )?;
            p = p.with_brokerage(Arc::new(alpaca));
        }
        (None, None) => {}
        _ => {
            return Err(Error::validation(
                "FINTECH_ALPACA_KEY_ID",
                "set both FINTECH_ALPACA_KEY_ID and FINTECH_ALPACA_SECRET_KEY, or neither",
            ))
        }
    }
    Ok(p)
}

impl ProviderSet for ConfiguredProviders {
    fn banking(&self, tenant: &TenantId) -> Arc<dyn BankingProvider> {
        match &self.banking {
            Some(b) => b.clone(),
            None => self.sim.banking(tenant),
        }
    }

    fn payments(&self, tenant: &TenantId) -> Arc<dyn PaymentProvider> {
        match &self.payments {
            Some(p) => p.clone(),
            None => self.sim.payments(tenant),
        }
    }

    fn brokerage(&self, tenant: &TenantId) -> Arc<dyn BrokerageProvider> {
        match &self.brokerage {
            Some(b) => b.clone(),
            None => self.sim.brokerage(tenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fintech_core::ProviderMode;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn nothing_configured_is_the_simulator() {
        let p = from_vars(Arc::new(SimProviders::new()), &vars(&[])).unwrap();
        assert_eq!(
            p.describe(),
            "banking=sim(simulated) payments=sim(simulated) brokerage=sim(simulated)"
        );
    }

    #[test]
    fn credentials_select_real_clients_and_their_modes() {
        let p = from_vars(
            Arc::new(SimProviders::new()),
            &vars(&[
                ("FINTECH_PLAID_CLIENT_ID", "cid"),
                ("FINTECH_PLAID_SECRET", "s"),
                ("FINTECH_ALPACA_KEY_ID", "k"),
                ("FINTECH_ALPACA_SECRET_KEY", "s"),
                ("FINTECH_ALPACA_PAPER", "false"),
                ("FINTECH_STRIPE_API_KEY", "sk_test_123"),
            ]),
        )
        .unwrap();
        assert_eq!(p.payments(&TenantId::generate()).name(), "stripe");
        assert_eq!(
            p.payments(&TenantId::generate()).mode(),
            ProviderMode::Sandbox
        );
        let t = TenantId::generate();
        assert_eq!(p.banking(&t).name(), "plaid");
        assert_eq!(p.banking(&t).mode(), ProviderMode::Sandbox);
        assert_eq!(p.brokerage(&t).name(), "alpaca");
        assert_eq!(
            p.brokerage(&t).mode(),
            ProviderMode::Live,
            "paper=false is real money"
        );
    }

    #[test]
    fn half_a_credential_pair_is_an_error() {
        for pairs in [
            &[("FINTECH_PLAID_CLIENT_ID", "cid")][..],
            &[("FINTECH_ALPACA_SECRET_KEY", "s")][..],
            &[
                ("FINTECH_ALPACA_KEY_ID", "k"),
                ("FINTECH_ALPACA_SECRET_KEY", "s"),
                ("FINTECH_ALPACA_PAPER", "maybe"),
            ][..],
            &[
                ("FINTECH_PLAID_CLIENT_ID", "c"),
                ("FINTECH_PLAID_SECRET", "s"),
                ("FINTECH_PLAID_ENV", "staging"),
            ][..],
        ] {
            assert!(
                from_vars(Arc::new(SimProviders::new()), &vars(pairs)).is_err(),
                "{pairs:?}"
            );
        }
    }
}
