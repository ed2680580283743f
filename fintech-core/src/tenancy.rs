//! Tenants, their users and API keys as [`crate::Platform`] returns them (the records are
//! kept by the platform's storage, which is not public).

pub use crate::storage::{ApiKeyRecord, KeyUsage, Tenant, TenantSettings, User};
