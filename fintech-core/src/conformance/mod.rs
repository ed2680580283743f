//! Behaviour every backend must show, written once (object_store pattern).
//!
//! Each module holds `pub async fn` scenarios that panic with a clear message on failure;
//! each backend's tests call the same list: `storage` on SQLite and PostgreSQL; `banking`,
//! `payments` and `brokerage` on the simulator now and on the real provider clients later.

pub mod banking;
pub mod brokerage;
pub mod payments;
pub mod storage;
