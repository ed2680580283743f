//! Behaviour every backend must show, written once (object_store pattern).
//!
//! Each module holds `pub async fn` scenarios that panic with a clear message on failure;
//! each backend's tests call the same list.

pub mod storage;
