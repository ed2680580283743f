//! Integrity checks that read the whole of a tenant's ledger, and the online copy of an
//! SQLite database. Used after faults (a killed process, a restored backup) to prove that
//! nothing was half-written.

use std::path::Path;

use super::{Backend, Store};
use crate::error::{Error, Result};
use crate::id::TenantId;
use crate::ledger::{accounts, LedgerVerification};

/// How many mismatched objects a check names at most (the count of journals is exact).
const MISMATCH_LIMIT: i64 = 100;

/// Journals per object posting to one account: `(object_id, total)`.
fn totals_by_object(account_param: &str) -> String {
    format!(
        "SELECT j.object_id AS object_id, SUM(po.amount_minor) AS total
         FROM journal_entries j JOIN postings po ON po.journal_id = j.id
         WHERE j.tenant_id = $1 AND po.account = {account_param}
         GROUP BY j.object_id"
    )
}

impl Store {
    /// Checks a tenant's ledger: balanced entries, and postings that agree with the payments,
    /// refunds and orders they record.
    pub async fn verify_ledger(&self, tenant: &TenantId) -> Result<LedgerVerification> {
        let journals: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM journal_entries WHERE tenant_id = $1",
        )
        .bind(tenant.as_str())
        .fetch_one(&self.pool)
        .await?;
        let unbalanced = self.unbalanced_journals(tenant).await?;
        let mut mismatched = Vec::new();
        // A payment's income credits are minus what it captured (nothing unless it succeeded).
        let payments: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT p.id FROM payments p LEFT JOIN ({}) x ON x.object_id = p.id
             WHERE p.tenant_id = $1 AND COALESCE(x.total, 0) +
               (CASE WHEN p.status = 'succeeded' THEN COALESCE(p.captured_minor, p.amount_minor) ELSE 0 END) <> 0
             ORDER BY p.id LIMIT $3",
            totals_by_object("$2")
        ))
        .bind(tenant.as_str())
        .bind(accounts::PAYMENTS_INCOME)
        .bind(MISMATCH_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        mismatched.extend(payments.into_iter().map(|id| format!("payment {id}")));
        // A refund that did not fail posted its amount; the payment's refunded total is the
        // sum of them.
        let refunds: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT r.id FROM refunds r LEFT JOIN ({}) x ON x.object_id = r.id
             WHERE r.tenant_id = $1 AND COALESCE(x.total, 0) <>
               (CASE WHEN r.status = 'failed' THEN 0 ELSE r.amount_minor END)
             ORDER BY r.id LIMIT $3",
            totals_by_object("$2")
        ))
        .bind(tenant.as_str())
        .bind(accounts::REFUNDS)
        .bind(MISMATCH_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        mismatched.extend(refunds.into_iter().map(|id| format!("refund {id}")));
        let refunded: Vec<String> = sqlx::query_scalar(
            "SELECT p.id FROM payments p WHERE p.tenant_id = $1 AND p.refunded_minor <>
               (SELECT COALESCE(SUM(r.amount_minor), 0) FROM refunds r
                WHERE r.payment_id = p.id AND r.status <> 'failed')
             ORDER BY p.id LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(MISMATCH_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        mismatched.extend(
            refunded
                .into_iter()
                .map(|id| format!("payment {id} (refunded total)")),
        );
        // One journal entry per fill.
        let orders: Vec<String> = sqlx::query_scalar(
            "SELECT o.id FROM orders o WHERE o.tenant_id = $1 AND
               (SELECT COUNT(*) FROM fills f WHERE f.order_id = o.id) <>
               (SELECT COUNT(*) FROM journal_entries j WHERE j.tenant_id = $1 AND j.object_id = o.id)
             ORDER BY o.id LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(MISMATCH_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        mismatched.extend(orders.into_iter().map(|id| format!("order {id}")));
        let orphans: Vec<String> = sqlx::query_scalar(
            "SELECT j.id FROM journal_entries j WHERE j.tenant_id = $1
               AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.tenant_id = $1 AND p.id = j.object_id)
               AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.tenant_id = $1 AND r.id = j.object_id)
               AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.tenant_id = $1 AND o.id = j.object_id)
             ORDER BY j.id LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(MISMATCH_LIMIT)
        .fetch_all(&self.pool)
        .await?;
        mismatched.extend(orphans.into_iter().map(|id| format!("journal {id}")));
        Ok(LedgerVerification {
            journals: u64::try_from(journals).unwrap_or(0),
            unbalanced,
            mismatched,
        })
    }

    /// Writes a consistent copy of an SQLite database to `path` while it stays in use
    /// (`VACUUM INTO`: one read transaction, writers carry on), with owner-only permissions,
    /// flushed to disk. Refuses an existing `path` and a PostgreSQL database (whose backups
    /// are `pg_dump`'s job). Returns the copy's size in bytes.
    pub async fn backup_sqlite(&self, path: &Path) -> Result<u64> {
        if self.backend != Backend::Sqlite {
            return Err(Error::validation(
                "backup",
                "online backup here copies an SQLite database; back up PostgreSQL with pg_dump (docs/operations.md)",
            ));
        }
        let text = path
            .to_str()
            .ok_or_else(|| Error::validation("to", "the backup path must be valid UTF-8"))?;
        // Created empty first: owner-only, and never over an existing file.
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(path).map_err(|e| {
            Error::validation(
                "to",
                format!("cannot create the backup file {text}: {e} (it must not exist yet)"),
            )
        })?;
        let copied = sqlx::query("VACUUM INTO $1")
            .bind(text)
            .execute(&self.pool)
            .await;
        if let Err(e) = copied {
            let _ = std::fs::remove_file(path);
            return Err(Error::internal(format!("backup to {text} failed: {e}")));
        }
        let file = std::fs::File::open(path)
            .and_then(|f| f.sync_all().map(|()| f))
            .and_then(|f| f.metadata())
            .map_err(|e| Error::internal(format!("backup to {text}: {e}")))?;
        Ok(file.len())
    }
}
