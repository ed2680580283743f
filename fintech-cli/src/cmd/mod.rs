//! Subcommands split out of `main.rs`, by domain.

pub mod op;
