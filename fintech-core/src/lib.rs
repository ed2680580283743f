//! # fintech-core
//!
//! The domain, provider traits and the one door, [`Platform`], of the fintech SDK: bank data
//! (Plaid model), payments (Stripe model) and brokerage (Alpaca model) behind one provider
//! abstraction, guarded by scopes, per-key limits, approval holds, fraud screening and
//! idempotency, and recorded in a double-entry ledger, a hash-chained audit log and a
//! sequence-numbered event log — all written in one database transaction per change.
//!
//! Money is exact ([`Money`]: `rust_decimal` + ISO 4217 exponent), never a float.
//!
//! Providers live in `fintech-providers` (the offline simulator is the default); storage is
//! SQLite (embedded default) or PostgreSQL through sqlx.
#![warn(clippy::float_arithmetic)]

pub mod audit;
pub mod auth;
pub mod banking;
pub mod catalog;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod crypto;
pub mod error;
pub mod events;
pub mod fraud;
pub mod id;
pub mod json;
pub mod ledger;
pub mod mandate;
pub mod money;
pub mod payments;
pub mod platform;
pub mod policy;
pub mod provider;
pub mod provider_state;
/// Storage is the platform's own: shells reach the database only through [`Platform`].
/// Test suites and benchmarks that check rows directly enable the `testing` feature.
#[cfg(feature = "testing")]
pub mod storage;
#[cfg(not(feature = "testing"))]
pub(crate) mod storage;
pub mod tenancy;
pub mod trading;
pub mod webhooks;

pub use auth::{Actor, Interface, Principal, Role, Scope};
pub use config::Config;
pub use error::{ConflictCode, Error, ErrorKind, Result};
pub use money::{Currency, Money};
pub use platform::{Platform, PlatformBuilder};
pub use provider::{ProviderMode, ProviderSet};
pub use provider_state::{ProviderState, ProviderStateTx};
