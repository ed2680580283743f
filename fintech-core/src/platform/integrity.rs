//! After a fault: is everything still whole? The ledger check (balanced entries that agree
//! with the rows they record) and the online backup of an SQLite database, whose copy is
//! checked the same way once restored (docs/reliability.md).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{audit_entry, finish, Platform};
use crate::auth::{Principal, Scope};
use crate::error::Result;
use crate::ledger::LedgerVerification;

/// A finished online backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// Where the copy was written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Platform {
    /// Checks the principal's tenant's ledger: every journal entry balances per currency,
    /// each payment's postings equal what it captured, each refund's its amount, each order
    /// has one entry per fill, and no entry records an unknown object.
    pub async fn verify_ledger(&self, p: &Principal) -> Result<LedgerVerification> {
        p.require(Scope::FraudRead)?;
        self.inner.store.verify_ledger(&p.tenant_id).await
    }

    /// Copies the whole SQLite database to `to` while it stays in use (a consistent snapshot;
    /// writers are not blocked), readable by the owner only; `to` must not exist. Admin only,
    /// since the copy holds every tenant's data; recorded in the principal's audit chain as
    /// `database.backup` once written. PostgreSQL answers a validation error naming
    /// `pg_dump`. The encryption key (`FINTECH_ENCRYPTION_KEY` or `<database>.key`) is not
    /// part of the copy: keep it, apart from the backups.
    pub async fn backup_to(&self, p: &Principal, to: &Path) -> Result<Backup> {
        p.require(Scope::Admin)?;
        let bytes = self.inner.store.backup_sqlite(to).await?;
        let mut tx = self.inner.store.begin().await?;
        finish(
            &mut tx,
            p,
            None,
            &[],
            audit_entry(
                p,
                "database.backup",
                "database",
                "sqlite",
                None,
                &format!("ok: {bytes} bytes"),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(Backup {
            path: to.to_path_buf(),
            bytes,
        })
    }
}
