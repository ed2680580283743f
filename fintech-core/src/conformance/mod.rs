//! Behaviour every backend must show, written once (object_store pattern).
//!
//! Each module holds `pub async fn` scenarios that panic with a clear message on failure;
//! each backend's tests call the same list: `storage` on SQLite and PostgreSQL; `banking`,
//! `payments` and `brokerage` on the simulator now and on the real provider clients later.
//!
//! A provider scenario takes the provider as a trait object (`&dyn BankingProvider` ...) and,
//! when it needs more than the trait offers (a day passing, a pinned price, test tokens), a
//! small harness of hooks the backend supplies. A scenario whose hook is missing, or that
//! needs an open market when it is closed, returns [`Outcome::Skipped`] instead of passing
//! silently, so a run against a real provider says what it did not check.

pub mod banking;
pub mod brokerage;
pub mod moves;
pub mod payments;
pub mod storage;

/// What a provider scenario did, when it did not panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check ran and held.
    Passed,
    /// The scenario could not run on this backend (a hook is missing, the market is closed).
    Skipped(String),
}

impl Outcome {
    /// A skip, with why.
    pub fn skipped(why: impl Into<String>) -> Self {
        Outcome::Skipped(why.into())
    }
}
