//! The `Platform`'s default screen: each tenant's active rule set from the database, with
//! velocity windows counted in the database.
//!
//! Multi-instance correctness: each screened operation is first inserted into
//! `fraud_observations` (its own statement, committed), then every window is counted with a
//! query that includes it. Of several concurrent operations — on any number of instances
//! sharing one database — the one whose count runs last sees all of them, so a limit of N is
//! never passed silently by N + 1 concurrent attempts (at worst an extra one is flagged).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::rules::{Key, RuleFormat, RuleSet, Subject, Txn, WindowStat};
use super::{Assessment, FraudScreen, ScreenRequest, Screened};
use crate::auth::Actor;
use crate::error::{Error, Result};
use crate::id::TenantId;
use crate::money::Currency;
use crate::storage::Store;

/// A [`Txn`] with owned strings, built from a [`ScreenRequest`] or a CSV row.
#[derive(Debug, Clone)]
pub struct OwnedTxn {
    /// Payment or order.
    pub subject: Subject,
    /// When (micros).
    pub at_micros: i64,
    /// Currency.
    pub currency: Currency,
    /// Amount or notional, minor units.
    pub amount_minor: i64,
    /// Key values by [`Key::index`].
    pub keys: [Option<String>; 5],
    /// Country.
    pub country: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Symbol.
    pub symbol: Option<String>,
    /// Position after a buy, minor units.
    pub position_after_minor: Option<i64>,
    /// Equity, minor units.
    pub equity_minor: Option<i64>,
}

impl OwnedTxn {
    /// From a screen request, at `at_micros`.
    pub fn from_request(req: &ScreenRequest, at_micros: i64) -> Result<Self> {
        let api_key = match &req.actor {
            Actor::ApiKey(id) => Some(id.to_string()),
            _ => None,
        };
        let ctx = &req.context;
        let mut keys: [Option<String>; 5] = Default::default();
        keys[Key::ApiKey.index()] = api_key;
        keys[Key::Ip.index()] = ctx.ip.clone();
        let (subject, amount, symbol) = match &req.subject {
            Screened::Payment {
                amount,
                payee,
                payment_method,
                customer_id,
            } => {
                keys[Key::Payer.index()] =
                    Some(customer_id.clone().unwrap_or_else(|| req.actor.to_string()));
                keys[Key::Payee.index()] = payee.clone();
                keys[Key::PaymentMethod.index()] = Some(payment_method.clone());
                (Subject::Payment, *amount, None)
            }
            Screened::Order {
                symbol, notional, ..
            } => {
                keys[Key::Payer.index()] = Some(req.actor.to_string());
                (Subject::Order, *notional, Some(symbol.clone()))
            }
        };
        let currency = amount.currency();
        let in_currency = |m: &Option<crate::money::Money>| -> Result<Option<i64>> {
            match m {
                Some(m) if m.currency() == currency => Ok(Some(m.to_minor()?)),
                _ => Ok(None),
            }
        };
        Ok(Self {
            subject,
            at_micros,
            currency,
            amount_minor: amount.to_minor()?,
            keys,
            country: ctx.country.clone(),
            category: ctx.category.clone(),
            symbol,
            position_after_minor: in_currency(&ctx.position_after)?,
            equity_minor: in_currency(&ctx.equity)?,
        })
    }

    /// The borrowed view the rules evaluate.
    pub fn txn(&self) -> Txn<'_> {
        Txn {
            subject: self.subject,
            at_micros: self.at_micros,
            currency: self.currency,
            amount_minor: self.amount_minor,
            keys: [
                self.keys[0].as_deref(),
                self.keys[1].as_deref(),
                self.keys[2].as_deref(),
                self.keys[3].as_deref(),
                self.keys[4].as_deref(),
            ],
            country: self.country.as_deref(),
            category: self.category.as_deref(),
            symbol: self.symbol.as_deref(),
            position_after_minor: self.position_after_minor,
            equity_minor: self.equity_minor,
        }
    }
}

/// Screens with each tenant's active (highest-version) stored rule set; a tenant without one
/// is allowed with no hits. Compiled sets are cached by `(tenant, version)`; the version is
/// read from the database on every assessment, so a new version installed through any
/// instance applies to the next operation everywhere.
pub struct StoredRules {
    store: Store,
    cache: Mutex<HashMap<String, Arc<RuleSet>>>,
}

impl StoredRules {
    /// A screen over a store (benchmarks; the platform builds its own).
    #[cfg(feature = "testing")]
    pub fn new(store: Store) -> Self {
        Self::over(store)
    }

    /// A screen over the platform's store.
    pub(crate) fn over(store: Store) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's active compiled rule set.
    pub async fn active(&self, tenant: &TenantId) -> Result<Option<Arc<RuleSet>>> {
        let Some(version) = self.store.active_rule_set_version(tenant).await? else {
            return Ok(None);
        };
        if let Some(set) = self
            .cache
            .lock()
            .map_err(|_| Error::internal("rule cache poisoned"))?
            .get(tenant.as_str())
            .filter(|s| s.version() == Some(version))
        {
            return Ok(Some(set.clone()));
        }
        let stored = self
            .store
            .rule_set(tenant, version)
            .await?
            .ok_or_else(|| Error::internal("active rule set vanished"))?;
        let set = Arc::new(compile_stored(&stored.source, stored.format)?.with_version(version));
        self.cache
            .lock()
            .map_err(|_| Error::internal("rule cache poisoned"))?
            .insert(tenant.as_str().to_owned(), set.clone());
        Ok(Some(set))
    }
}

fn compile_stored(source: &str, format: RuleFormat) -> Result<RuleSet> {
    RuleSet::from_source(source, format)
        .map_err(|e| Error::internal(format!("stored rule set no longer compiles: {e}")))
}

#[async_trait]
impl FraudScreen for StoredRules {
    async fn assess(&self, req: &ScreenRequest) -> Result<Assessment> {
        let Some(rules) = self.active(&req.tenant_id).await? else {
            return Ok(Assessment::allow());
        };
        let owned = OwnedTxn::from_request(req, crate::storage::now_micros())?;
        let txn = owned.txn();
        if !req.dry_run {
            self.store.record_observation(&req.tenant_id, &txn).await?;
        }
        let lookups: Vec<_> = rules.windows().iter().map(|w| w.lookup(&txn)).collect();
        let wanted: Vec<_> = lookups.iter().flatten().copied().collect();
        let mut counted = self
            .store
            .window_stats(&req.tenant_id, &wanted)
            .await?
            .into_iter();
        let mut stats = Vec::with_capacity(lookups.len());
        for l in &lookups {
            let stat = match l {
                Some(l) => {
                    let mut s = counted.next().unwrap_or_default();
                    if req.dry_run {
                        // Count the operation itself, as if it had been recorded.
                        let in_band = l
                            .band
                            .is_none_or(|(lo, hi)| txn.amount_minor >= lo && txn.amount_minor < hi);
                        if in_band {
                            s.count += 1;
                            s.sum_minor = s.sum_minor.saturating_add(txn.amount_minor);
                        }
                    }
                    s
                }
                None => WindowStat::default(),
            };
            stats.push(stat);
        }
        Ok(rules.evaluate(&txn, &stats))
    }
}
