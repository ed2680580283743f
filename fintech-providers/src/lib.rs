//! Providers for the fintech SDK.
//!
//! [`sim`] is the offline simulator: deterministic banking, payments and brokerage that need
//! no keys and no network. It is the zero-setup default ([`SimProviders`]); the real Plaid,
//! Stripe and Alpaca clients implement the same `fintech-core` traits.

#[cfg(feature = "alpaca")]
pub mod alpaca;
pub mod configured;
pub mod http;
pub mod inbound;
#[cfg(feature = "plaid")]
pub mod plaid;
pub mod sim;
#[cfg(feature = "stripe")]
pub mod stripe;

pub use configured::{from_env, from_env_with, ConfiguredProviders};
pub use sim::SimProviders;
