//! Fraud screening as seen by the [`crate::Platform`]: a [`FraudScreen`] turns a
//! [`ScreenRequest`] into an [`Assessment`] (allow / review / block, with reasons).
//!
//! The rule engine is its own module (a later piece of work); the default screen here is an
//! empty rule set, which allows everything and says so.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::auth::{Actor, Interface};
use crate::error::Result;
use crate::id::TenantId;
use crate::money::Money;
use crate::trading::OrderSide;

/// The outcome of screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Proceed.
    Allow,
    /// Hold for an operator.
    Review,
    /// Refuse.
    Block,
}

/// One rule that matched, with the reason in words and the values it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleHit {
    /// The rule's name.
    pub rule: String,
    /// What the rule asks for.
    pub action: Decision,
    /// Its score weight.
    pub score: u32,
    /// Why it matched, for humans.
    pub reason: String,
    /// Recorded, not enforced.
    pub shadow: bool,
}

/// The scored result of screening one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assessment {
    /// The decision enforced.
    pub decision: Decision,
    /// Sum of the weights of enforced hits.
    pub score: u32,
    /// Every rule that matched.
    pub hits: Vec<RuleHit>,
    /// The rule-set version used (`None` for the empty default).
    pub rule_set_version: Option<i64>,
}

impl Assessment {
    /// The assessment of the empty rule set.
    pub fn allow() -> Self {
        Self {
            decision: Decision::Allow,
            score: 0,
            hits: Vec::new(),
            rule_set_version: None,
        }
    }

    /// The reasons of the enforced hits, joined for an error message.
    pub fn reasons(&self) -> String {
        let reasons: Vec<_> = self
            .hits
            .iter()
            .filter(|h| !h.shadow)
            .map(|h| format!("{}: {}", h.rule, h.reason))
            .collect();
        if reasons.is_empty() {
            "no reason given".to_owned()
        } else {
            reasons.join("; ")
        }
    }
}

/// What is being screened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Screened {
    /// A payment.
    Payment {
        /// Amount.
        amount: Money,
        /// Payee, if given.
        payee: Option<String>,
        /// Payment method token.
        payment_method: String,
        /// Customer id, if given.
        customer_id: Option<String>,
    },
    /// A brokerage order.
    Order {
        /// Ticker.
        symbol: String,
        /// Side.
        side: OrderSide,
        /// Estimated notional (quantity times a reference price).
        notional: Money,
    },
}

/// The input of a screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScreenRequest {
    /// The tenant.
    pub tenant_id: TenantId,
    /// Who acts.
    pub actor: Actor,
    /// Through which shell.
    pub interface: Interface,
    /// What.
    pub subject: Screened,
}

/// A fraud screen. Implementations must be cheap: this runs on every money movement.
#[async_trait]
pub trait FraudScreen: Send + Sync {
    /// Assesses one operation.
    async fn assess(&self, req: &ScreenRequest) -> Result<Assessment>;
}

/// The empty rule set: allows everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyRuleSet;

#[async_trait]
impl FraudScreen for EmptyRuleSet {
    async fn assess(&self, _req: &ScreenRequest) -> Result<Assessment> {
        Ok(Assessment::allow())
    }
}
