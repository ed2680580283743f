//! Resources: what an agent can read and subscribe to, by URI.
//!
//! | URI | scope |
//! |---|---|
//! | `fintech://accounts` | banking:read |
//! | `fintech://accounts/{account_id}/transactions` | banking:read |
//! | `fintech://portfolio` | trading:read |
//! | `fintech://payments/{payment_id}` | payments:read |
//! | `fintech://fraud/cases` | fraud:read |
//! | `fintech://limits` | any key |

use rmcp::model::{Resource, ResourceContents, ResourceTemplate};
use serde_json::{json, Value};

use fintech_core::banking::TransactionQuery;
use fintech_core::events::Event;
use fintech_core::id::{BankAccountId, PaymentId};
use fintech_core::platform::CaseQuery;
use fintech_core::{Platform, Principal, Scope};

pub(crate) const ACCOUNTS: &str = "fintech://accounts";
pub(crate) const PORTFOLIO: &str = "fintech://portfolio";
pub(crate) const CASES: &str = "fintech://fraud/cases";
pub(crate) const LIMITS: &str = "fintech://limits";
const TRANSACTIONS_PREFIX: &str = "fintech://accounts/";
const PAYMENTS_PREFIX: &str = "fintech://payments/";

/// A parsed resource URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Uri {
    Accounts,
    Transactions(String),
    Portfolio,
    Payment(String),
    Cases,
    Limits,
}

impl Uri {
    pub(crate) fn parse(uri: &str) -> Option<Uri> {
        match uri {
            ACCOUNTS => return Some(Uri::Accounts),
            PORTFOLIO => return Some(Uri::Portfolio),
            CASES => return Some(Uri::Cases),
            LIMITS => return Some(Uri::Limits),
            _ => {}
        }
        if let Some(rest) = uri.strip_prefix(TRANSACTIONS_PREFIX) {
            let id = rest.strip_suffix("/transactions")?;
            return (!id.is_empty() && !id.contains('/')).then(|| Uri::Transactions(id.into()));
        }
        let id = uri.strip_prefix(PAYMENTS_PREFIX)?;
        (!id.is_empty() && !id.contains('/')).then(|| Uri::Payment(id.into()))
    }

    fn scope(&self) -> Option<Scope> {
        match self {
            Uri::Accounts | Uri::Transactions(_) => Some(Scope::BankingRead),
            Uri::Portfolio => Some(Scope::TradingRead),
            Uri::Payment(_) => Some(Scope::PaymentsRead),
            Uri::Cases => Some(Scope::FraudRead),
            Uri::Limits => None,
        }
    }

    /// Whether the resource holds provider free text.
    fn untrusted(&self) -> bool {
        matches!(self, Uri::Accounts | Uri::Transactions(_) | Uri::Payment(_))
    }
}

fn allowed(p: &Principal, scope: Option<Scope>) -> bool {
    scope.is_none_or(|s| p.has(s))
}

/// The fixed resources `p` may read.
pub(crate) fn list(p: &Principal) -> Vec<Resource> {
    [
        (
            ACCOUNTS,
            "accounts",
            "Bank accounts and balances",
            Uri::Accounts,
        ),
        (
            PORTFOLIO,
            "portfolio",
            "Brokerage account and positions",
            Uri::Portfolio,
        ),
        (CASES, "fraud-cases", "Open fraud review cases", Uri::Cases),
        (
            LIMITS,
            "limits",
            "This key's scopes, limits, what remains today, provider modes",
            Uri::Limits,
        ),
    ]
    .into_iter()
    .filter(|(_, _, _, u)| allowed(p, u.scope()))
    .map(|(uri, name, description, _)| {
        Resource::new(uri, name)
            .with_description(description)
            .with_mime_type("application/json")
    })
    .collect()
}

/// The resource templates `p` may read.
pub(crate) fn templates(p: &Principal) -> Vec<ResourceTemplate> {
    let mut out = Vec::new();
    if p.has(Scope::BankingRead) {
        out.push(
            ResourceTemplate::new(
                "fintech://accounts/{account_id}/transactions",
                "transactions",
            )
            .with_description("The latest 100 transactions of a bank account")
            .with_mime_type("application/json"),
        );
    }
    if p.has(Scope::PaymentsRead) {
        out.push(
            ResourceTemplate::new("fintech://payments/{payment_id}", "payment")
                .with_description("One payment, its status and fraud assessment")
                .with_mime_type("application/json"),
        );
    }
    out
}

/// Why a read failed.
pub(crate) enum ReadError {
    /// Unknown URI, not visible to this key, or no such object in its tenant.
    NotFound(String),
    /// Anything else.
    Platform(fintech_core::Error),
}

impl From<fintech_core::Error> for ReadError {
    fn from(e: fintech_core::Error) -> Self {
        match e.kind() {
            fintech_core::ErrorKind::NotFound
            | fintech_core::ErrorKind::Forbidden
            | fintech_core::ErrorKind::Validation => ReadError::NotFound(e.to_string()),
            _ => ReadError::Platform(e),
        }
    }
}

/// Reads a resource as JSON.
pub(crate) async fn read(
    platform: &Platform,
    p: &Principal,
    uri: &str,
) -> Result<ResourceContents, ReadError> {
    let parsed = Uri::parse(uri)
        .filter(|u| allowed(p, u.scope()))
        .ok_or_else(|| ReadError::NotFound(format!("no resource {uri}")))?;
    let value: Value = match &parsed {
        Uri::Accounts => {
            let accounts = platform.bank_accounts(p, None).await?;
            json!({ "accounts": accounts, "totals": fintech_core::catalog::totals(&accounts)? })
        }
        Uri::Transactions(id) => {
            let account_id = BankAccountId::parse(id)?;
            let q = TransactionQuery {
                account_id: Some(account_id),
                limit: Some(100),
                ..Default::default()
            };
            json!({ "transactions": platform.bank_transactions(p, &q).await? })
        }
        Uri::Portfolio => json!({
            "account": platform.brokerage_account(p).await?,
            "positions": platform.positions(p).await?,
        }),
        Uri::Payment(id) => {
            let id = PaymentId::parse(id)?;
            json!({ "payment": platform.payment(p, &id).await? })
        }
        Uri::Cases => {
            let q = CaseQuery {
                status: Some(fintech_core::fraud::CaseStatus::Open),
                limit: Some(100),
            };
            json!({ "cases": platform.fraud_cases(p, &q).await? })
        }
        Uri::Limits => json!({ "whoami": platform.whoami(p).await? }),
    };
    let text = serde_json::to_string_pretty(&value)
        .map_err(|e| ReadError::Platform(fintech_core::Error::internal(e)))?;
    let mut contents = ResourceContents::text(text, uri).with_mime_type("application/json");
    if parsed.untrusted() {
        contents = contents.with_meta(crate::handler::untrusted_meta(&[
            "name",
            "merchant_name",
            "category",
            "payee",
            "description",
            "failure_message",
        ]));
    }
    Ok(contents)
}

/// Whether `p` may subscribe to `uri`: our URIs must be readable by it now (so no key learns
/// about another tenant's objects); other URIs are accepted and never updated.
pub(crate) async fn may_subscribe(platform: &Platform, p: &Principal, uri: &str) -> bool {
    if !uri.starts_with("fintech://") {
        return true;
    }
    match Uri::parse(uri) {
        None => false,
        Some(Uri::Portfolio) | Some(Uri::Accounts) | Some(Uri::Cases) | Some(Uri::Limits) => {
            allowed(p, Uri::parse(uri).and_then(|u| u.scope()))
        }
        Some(_) => read(platform, p, uri).await.is_ok(),
    }
}

/// The URIs an event changes.
pub(crate) fn touched_by(event: &Event) -> Vec<String> {
    let t = event.event_type.as_str();
    let mut out = Vec::new();
    if t.starts_with("banking.") {
        out.push(ACCOUNTS.to_owned());
        out.push(format!("{TRANSACTIONS_PREFIX}*"));
    } else if t.starts_with("payments.") {
        let payment = if t == fintech_core::events::types::REFUND_CREATED {
            event
                .data
                .get("payment_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        } else {
            Some(event.object_id.clone())
        };
        if let Some(id) = payment {
            out.push(format!("{PAYMENTS_PREFIX}{id}"));
        }
        out.push(LIMITS.to_owned());
    } else if t.starts_with("trading.") {
        out.push(PORTFOLIO.to_owned());
        out.push(LIMITS.to_owned());
    } else if t.starts_with("fraud.case") {
        out.push(CASES.to_owned());
        if let Some(object) = event.data.get("object_id").and_then(Value::as_str) {
            out.push(format!("{PAYMENTS_PREFIX}{object}"));
        }
    }
    out
}

/// Whether a subscribed URI matches a touched one (`…/*` covers every account).
pub(crate) fn matches(subscribed: &str, touched: &str) -> bool {
    if let Some(prefix) = touched.strip_suffix('*') {
        subscribed.starts_with(prefix) && subscribed.ends_with("/transactions")
    } else {
        subscribed == touched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_strictly() {
        assert_eq!(Uri::parse("fintech://accounts"), Some(Uri::Accounts));
        assert_eq!(
            Uri::parse("fintech://accounts/acct_1/transactions"),
            Some(Uri::Transactions("acct_1".into()))
        );
        assert_eq!(
            Uri::parse("fintech://payments/pay_1"),
            Some(Uri::Payment("pay_1".into()))
        );
        for bad in [
            "fintech://accounts//transactions",
            "fintech://accounts/a/b/transactions",
            "fintech://payments/",
            "fintech://payments/a/b",
            "fintech://nope",
        ] {
            assert_eq!(Uri::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn wildcard_matches_transaction_uris_only() {
        let touched = format!("{TRANSACTIONS_PREFIX}*");
        assert!(matches("fintech://accounts/acct_1/transactions", &touched));
        assert!(!matches("fintech://accounts", &touched));
        assert!(matches("fintech://limits", "fintech://limits"));
    }
}
