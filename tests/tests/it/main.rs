//! End-to-end tests across crates. One test binary (fast linking); modules by topic.

mod backup;
mod catalog;
mod dbfaults;
mod http;
mod idempotency;
mod inbound;
mod kill9;
mod mandates;
mod moves;
mod oidc;
mod preview;
mod storage;
mod webhooks;
mod world;
