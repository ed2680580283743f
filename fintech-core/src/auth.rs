//! Tenancy and principals: who is calling, for which tenant, with which scopes, through which
//! interface. Every [`crate::Platform`] operation takes a [`Principal`].
//!
//! API keys are 256-bit random secrets with a visible prefix (`fk_…`). Only their SHA-256 is
//! stored (a fast hash is right for high-entropy secrets; passwords would need argon2), and the
//! secret is returned once, at creation.

use std::collections::BTreeSet;
use std::fmt;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::id::{ApiKeyId, TenantId, UserId};
use crate::policy::KeyLimits;

/// A permission. `admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub enum Scope {
    /// Read linked items, accounts, transactions.
    #[serde(rename = "banking:read")]
    BankingRead,
    /// Link items, sync transactions.
    #[serde(rename = "banking:write")]
    BankingWrite,
    /// Read customers, payments, refunds.
    #[serde(rename = "payments:read")]
    PaymentsRead,
    /// Create customers, payments, refunds; cancel payments.
    #[serde(rename = "payments:write")]
    PaymentsWrite,
    /// Read the brokerage account, positions, orders, quotes.
    #[serde(rename = "trading:read")]
    TradingRead,
    /// Place and cancel orders.
    #[serde(rename = "trading:write")]
    TradingWrite,
    /// Read fraud assessments and cases, the ledger, audit and events.
    #[serde(rename = "fraud:read")]
    FraudRead,
    /// Approve or reject held payments and orders (an operator's power; never give it to an agent).
    #[serde(rename = "approvals:write")]
    ApprovalsWrite,
    /// Self-service for developers: create, list and revoke the keys one created (with scopes
    /// one holds), and manage the tenant's webhook endpoints and deliveries.
    #[serde(rename = "developer")]
    Developer,
    /// Everything, including tenants, users and keys.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope, in a stable order.
    pub const ALL: [Scope; 10] = [
        Scope::BankingRead,
        Scope::BankingWrite,
        Scope::PaymentsRead,
        Scope::PaymentsWrite,
        Scope::TradingRead,
        Scope::TradingWrite,
        Scope::FraudRead,
        Scope::ApprovalsWrite,
        Scope::Developer,
        Scope::Admin,
    ];

    /// The string form (`payments:write`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::BankingRead => "banking:read",
            Scope::BankingWrite => "banking:write",
            Scope::PaymentsRead => "payments:read",
            Scope::PaymentsWrite => "payments:write",
            Scope::TradingRead => "trading:read",
            Scope::TradingWrite => "trading:write",
            Scope::FraudRead => "fraud:read",
            Scope::ApprovalsWrite => "approvals:write",
            Scope::Developer => "developer",
            Scope::Admin => "admin",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Scope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                Error::validation(
                    "scope",
                    format!("unknown scope {s:?}; known: {}", known.join(", ")),
                )
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's role within a tenant; it decides the user's scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// All domain reads and writes plus approvals; no tenant or key administration.
    Operator,
    /// Builds integrations: domain reads and writes, own keys, webhooks; no approvals.
    Developer,
    /// Read only.
    Viewer,
}

impl Role {
    /// The scopes this role grants.
    pub fn scopes(self) -> BTreeSet<Scope> {
        use Scope::*;
        match self {
            Role::Admin => [Admin].into(),
            Role::Operator => [
                BankingRead,
                BankingWrite,
                PaymentsRead,
                PaymentsWrite,
                TradingRead,
                TradingWrite,
                FraudRead,
                ApprovalsWrite,
            ]
            .into(),
            Role::Developer => [
                Developer,
                BankingRead,
                BankingWrite,
                PaymentsRead,
                PaymentsWrite,
                TradingRead,
                TradingWrite,
                FraudRead,
            ]
            .into(),
            Role::Viewer => [BankingRead, PaymentsRead, TradingRead, FraudRead].into(),
        }
    }

    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    /// Parses the string form.
    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "admin" => Ok(Role::Admin),
            "operator" => Ok(Role::Operator),
            "developer" => Ok(Role::Developer),
            "viewer" => Ok(Role::Viewer),
            _ => Err(Error::validation(
                "role",
                format!("unknown role {s:?}; known: admin, operator, developer, viewer"),
            )),
        }
    }
}

/// Through which shell a call arrived; recorded in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Interface {
    /// The `fintech` CLI.
    Cli,
    /// The REST API.
    Http,
    /// The MCP server.
    Mcp,
    /// A program embedding the SDK.
    Sdk,
}

impl Interface {
    /// The string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Cli => "cli",
            Interface::Http => "http",
            Interface::Mcp => "mcp",
            Interface::Sdk => "sdk",
        }
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A program or agent holding an API key.
    ApiKey(ApiKeyId),
    /// A signed-in human.
    User(UserId),
    /// The platform itself (bootstrap, background work).
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::ApiKey(id) => write!(f, "{id}"),
            Actor::User(id) => write!(f, "{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// The caller of an operation: tenant, actor, scopes, interface and (for API keys) limits.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant every object touched must belong to.
    pub tenant_id: TenantId,
    /// Who acts.
    pub actor: Actor,
    /// What the actor may do.
    pub scopes: BTreeSet<Scope>,
    /// Through which shell.
    pub interface: Interface,
    /// Spending limits and approval threshold (API keys only; users have none).
    pub limits: KeyLimits,
}

impl Principal {
    /// A principal for a user with a role (operators in the CLI, signed-in humans).
    pub fn user(tenant_id: TenantId, user: UserId, role: Role, interface: Interface) -> Self {
        Self {
            tenant_id,
            actor: Actor::User(user),
            scopes: role.scopes(),
            interface,
            limits: KeyLimits::default(),
        }
    }

    /// The platform acting on a tenant with every scope (bootstrap, embedding programs).
    pub fn system(tenant_id: TenantId, interface: Interface) -> Self {
        Self {
            tenant_id,
            actor: Actor::System,
            scopes: [Scope::Admin].into(),
            interface,
            limits: KeyLimits::default(),
        }
    }

    /// True when the principal holds `scope` (or `admin`).
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// `Ok` when the principal holds `scope`, else [`Error::Forbidden`].
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Error::missing_scope(scope.as_str()))
        }
    }
}

/// A freshly generated API key secret. Shown once; only [`hash_api_key`] of it is stored.
pub struct NewApiKeySecret(SecretString);

impl NewApiKeySecret {
    /// Generates `fk_<64 hex chars>` from 32 bytes of OS randomness.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(SecretString::from(format!("fk_{}", hex::encode(bytes))))
    }

    /// The secret, to hand to the user exactly once.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The visible prefix stored and listed (`fk_1a2b3c4d`).
    pub fn prefix(&self) -> String {
        key_prefix(self.0.expose_secret())
    }
}

impl fmt::Debug for NewApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewApiKeySecret({}…[redacted])", self.prefix())
    }
}

/// The visible prefix of a key: its first 11 characters.
pub fn key_prefix(secret: &str) -> String {
    secret.chars().take(11).collect()
}

/// The stored form of a key: hex SHA-256 of the secret.
pub fn hash_api_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_redacted_in_debug() {
        let a = NewApiKeySecret::generate();
        let b = NewApiKeySecret::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("fk_") && a.expose().len() == 67);
        assert_eq!(a.prefix().len(), 11);
        let debug = format!("{a:?}");
        assert!(!debug.contains(&a.expose()[11..]));
        assert_ne!(hash_api_key(a.expose()), hash_api_key(b.expose()));
    }

    #[test]
    fn admin_implies_everything_and_roles_map_to_scopes() {
        let t = TenantId::generate();
        let p = Principal::system(t.clone(), Interface::Sdk);
        assert!(Scope::ALL.iter().all(|s| p.has(*s)));
        let viewer = Principal::user(t, UserId::generate(), Role::Viewer, Interface::Cli);
        assert!(viewer.has(Scope::PaymentsRead));
        assert!(matches!(
            viewer.require(Scope::PaymentsWrite),
            Err(Error::Forbidden { .. })
        ));
        assert_eq!(
            Scope::parse("payments:write").expect("known"),
            Scope::PaymentsWrite
        );
        assert!(Scope::parse("payments:delete").is_err());
    }
}
