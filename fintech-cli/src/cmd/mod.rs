//! Subcommands split out of `main.rs`, by domain.

pub mod approvals;
pub mod banking;
pub mod logs;
pub mod mandates;
pub mod op;
pub mod payments;
pub mod tenancy;
pub mod trading;
pub mod trigger;
