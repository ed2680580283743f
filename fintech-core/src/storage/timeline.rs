//! An object's history: its events and audit records, by object id (indexed), for timelines.

use super::journal::{audit_from_row, event_from_row};
use super::Store;
use crate::audit::AuditRecord;
use crate::error::Result;
use crate::events::Event;
use crate::id::TenantId;

/// At most this many rows of each kind per timeline.
const HISTORY_LIMIT: i64 = 1_000;

/// `$2, $3, …` for `n` object ids after the tenant.
fn placeholders(n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The tenant's events about any of `objects`, oldest first.
    pub async fn object_events(&self, tenant: &TenantId, objects: &[String]) -> Result<Vec<Event>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, seq, event_type, object_id, data, created_at FROM events \
             WHERE tenant_id = $1 AND object_id IN ({}) ORDER BY seq LIMIT {HISTORY_LIMIT}",
            placeholders(objects.len())
        );
        let mut q = sqlx::query(&sql).bind(tenant.as_str());
        for o in objects {
            q = q.bind(o.as_str());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The tenant's audit records about any of `objects`, oldest first.
    pub async fn object_audit(
        &self,
        tenant: &TenantId,
        objects: &[String],
    ) -> Result<Vec<AuditRecord>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT seq, at_micros, actor, interface, action, object_type, object_id, idempotency_key, outcome, prev_hash, hash \
             FROM audit_log WHERE tenant_id = $1 AND object_id IN ({}) ORDER BY seq LIMIT {HISTORY_LIMIT}",
            placeholders(objects.len())
        );
        let mut q = sqlx::query(&sql).bind(tenant.as_str());
        for o in objects {
            q = q.bind(o.as_str());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(audit_from_row).collect()
    }
}
