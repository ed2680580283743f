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
//! | `FINTECH_PROVIDERS_FILE` | a TOML file of named accounts and which tenant uses which |
//!
//! The file names provider accounts by alias and picks one per domain for every tenant
//! (`[default]`) or for one tenant (`[tenants.<tenant id>]`); secrets stay in environment
//! variables the file names (`*_env`), never in the file:
//!
//! ```toml
//! [accounts.acme-stripe]
//! provider = "stripe"
//! secret_key_env = "ACME_STRIPE_KEY"
//!
//! [accounts.plaid-prod]
//! provider = "plaid"
//! client_id = "5f…"
//! secret_env = "PLAID_PROD_SECRET"
//! environment = "production"
//!
//! [default]
//! banking = "plaid-prod"
//!
//! [tenants.ten_0194…]
//! payments = "acme-stripe"
//! brokerage = "sim"          # the built-in simulator account
//! ```
//!
//! Resolution per tenant and domain: the tenant's choice, else `[default]`, else the
//! `FINTECH_*` variables above, else the simulator. A tenant uses one account per domain.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;

use fintech_core::banking::BankingProvider;
use fintech_core::id::TenantId;
use fintech_core::payments::PaymentProvider;
use fintech_core::trading::BrokerageProvider;
use fintech_core::{Error, ProviderSet, Result};

use crate::http::HttpSettings;
use crate::sim::SimProviders;

/// A chosen account: the simulator (per tenant) or a real client.
enum Slot<T: ?Sized> {
    Sim,
    Real(Arc<T>),
}

impl<T: ?Sized> Clone for Slot<T> {
    fn clone(&self) -> Self {
        match self {
            Slot::Sim => Slot::Sim,
            Slot::Real(a) => Slot::Real(a.clone()),
        }
    }
}

/// One tenant's own choices (`None`: not chosen, fall through).
#[derive(Clone)]
struct Overrides {
    banking: Option<Slot<dyn BankingProvider>>,
    payments: Option<Slot<dyn PaymentProvider>>,
    brokerage: Option<Slot<dyn BrokerageProvider>>,
}

impl Overrides {
    fn none() -> Self {
        Self {
            banking: None,
            payments: None,
            brokerage: None,
        }
    }
}

/// Real clients where configured, the simulator elsewhere.
pub struct ConfiguredProviders {
    sim: Arc<SimProviders>,
    banking: Option<Arc<dyn BankingProvider>>,
    payments: Option<Arc<dyn PaymentProvider>>,
    brokerage: Option<Arc<dyn BrokerageProvider>>,
    default: Overrides,
    tenants: HashMap<TenantId, Overrides>,
}

impl ConfiguredProviders {
    /// Only the simulator.
    pub fn simulated() -> Self {
        Self {
            sim: Arc::new(SimProviders::new()),
            banking: None,
            payments: None,
            brokerage: None,
            default: Overrides::none(),
            tenants: HashMap::new(),
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
        default: Overrides::none(),
        tenants: HashMap::new(),
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
    if let Some(path) = var("FINTECH_PROVIDERS_FILE") {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::validation("FINTECH_PROVIDERS_FILE", format!("cannot read {path}: {e}"))
        })?;
        p = apply_file(p, &text, var)?;
    }
    Ok(p)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvidersFile {
    #[serde(default)]
    accounts: BTreeMap<String, AccountSpec>,
    #[serde(default)]
    default: Choice,
    #[serde(default)]
    tenants: BTreeMap<String, Choice>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Choice {
    banking: Option<String>,
    payments: Option<String>,
    brokerage: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
enum AccountSpec {
    Plaid {
        client_id: String,
        secret_env: String,
        #[serde(default)]
        environment: Option<String>,
    },
    Stripe {
        secret_key_env: String,
        #[serde(default)]
        base_url: Option<String>,
    },
    Alpaca {
        key_id: String,
        secret_key_env: String,
        #[serde(default = "yes")]
        paper: bool,
        #[serde(default)]
        trading_url: Option<String>,
        #[serde(default)]
        data_url: Option<String>,
    },
}

enum Account {
    Banking(Arc<dyn BankingProvider>),
    Payments(Arc<dyn PaymentProvider>),
    Brokerage(Arc<dyn BrokerageProvider>),
}

fn build_account(
    alias: &str,
    spec: AccountSpec,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Account> {
    let secret = |name: &str| {
        var(name).ok_or_else(|| {
            Error::validation(
                "FINTECH_PROVIDERS_FILE",
                format!("account {alias}: environment variable {name} is not set"),
            )
        })
    };
    Ok(match spec {
        #[cfg(feature = "plaid")]
        AccountSpec::Plaid {
            client_id,
            secret_env,
            environment,
        } => Account::Banking(Arc::new(crate::plaid::Plaid::new(
            crate::plaid::PlaidConfig {
                client_id,
                secret: secret(&secret_env)?.into(),
                environment: crate::plaid::PlaidEnvironment::parse(
                    environment.as_deref().unwrap_or("sandbox"),
                )?,
                client_name: "fintech".into(),
            },
            HttpSettings::default(),
        )?)),
        #[cfg(feature = "stripe")]
        AccountSpec::Stripe {
            secret_key_env,
            base_url,
        } => Account::Payments(Arc::new(crate::stripe::Stripe::new(
            crate::stripe::StripeConfig {
                secret_key: secret(&secret_key_env)?.into(),
                base_url,
            },
            HttpSettings::default(),
        )?)),
        #[cfg(feature = "alpaca")]
        AccountSpec::Alpaca {
            key_id,
            secret_key_env,
            paper,
            trading_url,
            data_url,
        } => Account::Brokerage(Arc::new(crate::alpaca::Alpaca::new(
            crate::alpaca::AlpacaConfig {
                key_id,
                secret_key: secret(&secret_key_env)?.into(),
                paper,
                trading_url,
                data_url,
            },
            HttpSettings::default(),
        )?)),
        #[allow(unreachable_patterns)]
        _ => {
            return Err(Error::validation(
                "FINTECH_PROVIDERS_FILE",
                format!("account {alias}: this build lacks that provider's feature"),
            ))
        }
    })
}

/// Applies a providers file on top of the environment's choices.
fn apply_file(
    mut p: ConfiguredProviders,
    text: &str,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<ConfiguredProviders> {
    let bad = |m: String| Error::validation("FINTECH_PROVIDERS_FILE", m);
    let file: ProvidersFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut accounts = HashMap::new();
    for (alias, spec) in file.accounts {
        if alias == "sim" {
            return Err(bad("the alias sim is the built-in simulator".into()));
        }
        let built = build_account(&alias, spec, var)?;
        accounts.insert(alias, built);
    }
    let slot = |domain: &str, alias: &Option<String>| -> Result<Option<&Account>> {
        match alias.as_deref() {
            None | Some("sim") => Ok(None),
            Some(a) => {
                let acc = accounts
                    .get(a)
                    .ok_or_else(|| bad(format!("{domain} = {a:?}: no such account")))?;
                let fits = matches!(
                    (domain, acc),
                    ("banking", Account::Banking(_))
                        | ("payments", Account::Payments(_))
                        | ("brokerage", Account::Brokerage(_))
                );
                if !fits {
                    return Err(bad(format!(
                        "{domain} = {a:?}: that account is not a {domain} provider"
                    )));
                }
                Ok(Some(acc))
            }
        }
    };
    let resolve = |choice: &Choice| -> Result<Overrides> {
        let mut o = Overrides::none();
        if choice.banking.is_some() {
            o.banking = Some(match slot("banking", &choice.banking)? {
                Some(Account::Banking(b)) => Slot::Real(b.clone()),
                _ => Slot::Sim,
            });
        }
        if choice.payments.is_some() {
            o.payments = Some(match slot("payments", &choice.payments)? {
                Some(Account::Payments(b)) => Slot::Real(b.clone()),
                _ => Slot::Sim,
            });
        }
        if choice.brokerage.is_some() {
            o.brokerage = Some(match slot("brokerage", &choice.brokerage)? {
                Some(Account::Brokerage(b)) => Slot::Real(b.clone()),
                _ => Slot::Sim,
            });
        }
        Ok(o)
    };
    p.default = resolve(&file.default)?;
    for (tenant, choice) in &file.tenants {
        let id = TenantId::parse(tenant)
            .map_err(|_| bad(format!("[tenants.{tenant}]: not a tenant id")))?;
        p.tenants.insert(id, resolve(choice)?);
    }
    Ok(p)
}

impl ConfiguredProviders {
    fn chosen<T: ?Sized>(
        &self,
        tenant: &TenantId,
        get: impl Fn(&Overrides) -> &Option<Slot<T>>,
    ) -> Option<Slot<T>> {
        self.tenants
            .get(tenant)
            .and_then(|o| get(o).clone())
            .or_else(|| get(&self.default).clone())
    }
}

impl ProviderSet for ConfiguredProviders {
    fn banking(&self, tenant: &TenantId) -> Arc<dyn BankingProvider> {
        match self.chosen(tenant, |o| &o.banking) {
            Some(Slot::Real(b)) => b,
            Some(Slot::Sim) => self.sim.banking(tenant),
            None => match &self.banking {
                Some(b) => b.clone(),
                None => self.sim.banking(tenant),
            },
        }
    }

    fn payments(&self, tenant: &TenantId) -> Arc<dyn PaymentProvider> {
        match self.chosen(tenant, |o| &o.payments) {
            Some(Slot::Real(b)) => b,
            Some(Slot::Sim) => self.sim.payments(tenant),
            None => match &self.payments {
                Some(b) => b.clone(),
                None => self.sim.payments(tenant),
            },
        }
    }

    fn brokerage(&self, tenant: &TenantId) -> Arc<dyn BrokerageProvider> {
        match self.chosen(tenant, |o| &o.brokerage) {
            Some(Slot::Real(b)) => b,
            Some(Slot::Sim) => self.sim.brokerage(tenant),
            None => match &self.brokerage {
                Some(b) => b.clone(),
                None => self.sim.brokerage(tenant),
            },
        }
    }

    fn attach_state(&self, state: &fintech_core::ProviderState) {
        self.sim.attach_state(state);
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

    #[test]
    fn a_providers_file_picks_accounts_per_tenant_by_alias() {
        let dir = std::env::temp_dir().join(format!("providers-{}.toml", std::process::id()));
        let acme = TenantId::generate();
        let other = TenantId::generate();
        std::fs::write(
            &dir,
            format!(
                r#"
[accounts.acme-stripe]
provider = "stripe"
secret_key_env = "ACME_STRIPE_KEY"

[accounts.paper]
provider = "alpaca"
key_id = "PK1"
secret_key_env = "ALPACA_SECRET"

[default]
brokerage = "paper"

[tenants.{acme}]
payments = "acme-stripe"
brokerage = "sim"
"#
            ),
        )
        .unwrap();
        let path = dir.display().to_string();
        let p = from_vars(
            Arc::new(SimProviders::new()),
            &vars(&[
                ("FINTECH_PROVIDERS_FILE", path.as_str()),
                ("ACME_STRIPE_KEY", "sk_test_acme"),
                ("ALPACA_SECRET", "s"),
            ]),
        )
        .unwrap();
        assert_eq!(p.payments(&acme).name(), "stripe");
        assert_eq!(p.payments(&other).name(), "sim", "no choice: the simulator");
        assert_eq!(
            p.brokerage(&acme).name(),
            "sim",
            "the tenant's choice beats the default"
        );
        assert_eq!(p.brokerage(&other).name(), "alpaca", "the default");
        assert_eq!(p.banking(&acme).name(), "sim");
    }

    #[test]
    fn a_bad_providers_file_is_refused() {
        let cases = [
            ("[default]\npayments = \"nope\"\n", "no such account"),
            (
                "[accounts.a]\nprovider = \"stripe\"\nsecret_key_env = \"K\"\n[default]\nbanking = \"a\"\n",
                "not a banking provider",
            ),
            (
                "[accounts.a]\nprovider = \"stripe\"\nsecret_key_env = \"MISSING\"\n",
                "MISSING is not set",
            ),
            ("[accounts.a]\nprovider = \"stripe\"\nsecret_key = \"sk_live_inline\"\n", "unknown field"),
            ("[tenants.bogus]\npayments = \"sim\"\n", "not a tenant id"),
        ];
        for (text, expected) in cases {
            let err = apply_file(
                ConfiguredProviders::simulated(),
                text,
                &vars(&[("K", "sk_test_1")]),
            )
            .err()
            .unwrap_or_else(|| panic!("{text} was accepted"));
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
    }
}
