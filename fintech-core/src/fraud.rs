//! Fraud screening: declarative rules per tenant ([`rules`], TOML or JSON, versioned in the
//! database), their evaluation into a scored [`Assessment`] with a reason per hit, velocity
//! windows counted in the database ([`StoredRules`], the `Platform`'s default screen) or in
//! memory ([`MemoryWindows`]), the review queue's [`FraudCase`], and [`backtest`]ing a rule set
//! over labelled history.
//!
//! ```
//! use fintech_core::fraud::{RuleSet, Txn, Decision, MemoryWindows};
//! use fintech_core::Money;
//!
//! let rules = RuleSet::starter().unwrap();
//! let mut windows = MemoryWindows::for_rules(&rules);
//! let txn = Txn::payment(1_700_000_000_000_000, Money::parse("12000.00", "USD").unwrap()).unwrap();
//! windows.record(&txn);
//! let mut stats = Vec::new();
//! windows.stats(&rules, &txn, &mut stats);
//! let a = rules.evaluate(&txn, &stats);
//! assert_eq!(a.decision, Decision::Review);
//! assert_eq!(a.hits[0].rule, "large-amount");
//! ```
//!
//! Reference and evaluation order: `docs/fraud.md`.

pub mod backtest;
mod engine;
pub mod rules;
#[cfg(test)]
mod tests;
mod window;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{Actor, Interface};
use crate::error::{Error, Result};
use crate::id::{CaseId, TenantId};
use crate::money::Money;
use crate::trading::OrderSide;

pub use backtest::{BacktestReport, LabelledTxn};
pub use engine::{OwnedTxn, StoredRules};
pub use rules::{RuleFormat, RuleSet, RuleSetSpec, Txn, WindowStat, STARTER_RULES};
pub use window::MemoryWindows;

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
    /// What else is known about the operation (IP, country, category, portfolio).
    #[serde(default)]
    pub context: ScreenContext,
    /// A dry run: assess without recording the operation in the velocity windows.
    #[serde(default)]
    pub dry_run: bool,
}

/// Optional facts about an operation that some rules use; a rule whose fact is absent does
/// not hit.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScreenContext {
    /// The caller's IP address.
    #[serde(default)]
    pub ip: Option<String>,
    /// ISO 3166 country code of the counterparty or card.
    #[serde(default)]
    pub country: Option<String>,
    /// Merchant category.
    #[serde(default)]
    pub category: Option<String>,
    /// Account equity (orders).
    #[serde(default)]
    pub equity: Option<Money>,
    /// The value of the position after a buy (orders).
    #[serde(default)]
    pub position_after: Option<Money>,
}

/// The state of a review case.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Waiting for an operator; the operation is held.
    Open,
    /// An operator approved it; the held operation proceeded (once).
    Approved,
    /// An operator rejected it; the operation was cancelled and no money moved.
    Rejected,
}

impl CaseStatus {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(CaseStatus::Open),
            "approved" => Ok(CaseStatus::Approved),
            "rejected" => Ok(CaseStatus::Rejected),
            _ => Err(Error::validation(
                "status",
                format!("unknown case status {s:?}; expected open, approved or rejected"),
            )),
        }
    }
}

/// A review case: an operation held because screening said `review`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FraudCase {
    /// Id.
    pub id: CaseId,
    /// `payment` or `order`.
    pub object_type: String,
    /// The held payment's or order's id.
    pub object_id: String,
    /// Open, approved or rejected.
    pub status: CaseStatus,
    /// The assessment that opened it (hits, reasons, values, rule-set version).
    pub assessment: Assessment,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// When.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The operator's comment.
    pub comment: Option<String>,
}

/// A stored version of a tenant's rule set.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRuleSet {
    /// Version, 1, 2, 3 … per tenant; the highest is active.
    pub version: i64,
    /// Source format.
    pub format: RuleFormat,
    /// The source as given.
    pub source: String,
    /// Who installed it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
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
