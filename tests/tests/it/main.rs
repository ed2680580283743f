//! End-to-end tests across crates. One test binary (fast linking); modules by topic.

mod catalog;
mod http;
mod idempotency;
mod inbound;
mod mandates;
mod moves;
mod oidc;
mod preview;
mod storage;
mod webhooks;
mod world;
