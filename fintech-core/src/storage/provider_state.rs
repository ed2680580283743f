//! Provider state records (`provider_state`) and their per-(tenant, namespace) lock row
//! (`provider_state_heads`): the SQL behind [`crate::provider_state::ProviderState`].

use super::{col, now_micros, Store, Tx};
use crate::error::Result;

impl Store {
    /// One committed record, if present.
    pub(crate) async fn provider_state_get(
        &self,
        tenant: &str,
        namespace: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT value FROM provider_state \
             WHERE tenant_id = $1 AND namespace = $2 AND kind = $3 AND record_key = $4",
        )
        .bind(tenant)
        .bind(namespace)
        .bind(kind)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| col(&r, "value")).transpose()
    }

    /// Every committed record of a kind, by key.
    pub(crate) async fn provider_state_list(
        &self,
        tenant: &str,
        namespace: &str,
        kind: &str,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT record_key, value FROM provider_state \
             WHERE tenant_id = $1 AND namespace = $2 AND kind = $3 ORDER BY record_key",
        )
        .bind(tenant)
        .bind(namespace)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((col(r, "record_key")?, col(r, "value")?)))
            .collect()
    }
}

impl Tx {
    /// Takes the (tenant, namespace) head row for the rest of the transaction (creating it on
    /// first use): every other transaction on the same provider state waits here.
    pub(crate) async fn lock_provider_state(
        &mut self,
        tenant: &str,
        namespace: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO provider_state_heads (tenant_id, namespace, version) VALUES ($1, $2, 1) \
             ON CONFLICT (tenant_id, namespace) \
             DO UPDATE SET version = provider_state_heads.version + 1",
        )
        .bind(tenant)
        .bind(namespace)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// One record as this transaction sees it.
    pub(crate) async fn provider_state_get(
        &mut self,
        tenant: &str,
        namespace: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT value FROM provider_state \
             WHERE tenant_id = $1 AND namespace = $2 AND kind = $3 AND record_key = $4",
        )
        .bind(tenant)
        .bind(namespace)
        .bind(kind)
        .bind(key)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| col(&r, "value")).transpose()
    }

    /// Every record of a kind as this transaction sees it, by key.
    pub(crate) async fn provider_state_list(
        &mut self,
        tenant: &str,
        namespace: &str,
        kind: &str,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT record_key, value FROM provider_state \
             WHERE tenant_id = $1 AND namespace = $2 AND kind = $3 ORDER BY record_key",
        )
        .bind(tenant)
        .bind(namespace)
        .bind(kind)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| Ok((col(r, "record_key")?, col(r, "value")?)))
            .collect()
    }

    /// Writes a record (insert or replace).
    pub(crate) async fn provider_state_put(
        &mut self,
        tenant: &str,
        namespace: &str,
        kind: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO provider_state (tenant_id, namespace, kind, record_key, value, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, namespace, kind, record_key) \
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(namespace)
        .bind(kind)
        .bind(key)
        .bind(value)
        .bind(now_micros())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes a record (nothing when absent).
    pub(crate) async fn provider_state_delete(
        &mut self,
        tenant: &str,
        namespace: &str,
        kind: &str,
        key: &str,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM provider_state \
             WHERE tenant_id = $1 AND namespace = $2 AND kind = $3 AND record_key = $4",
        )
        .bind(tenant)
        .bind(namespace)
        .bind(kind)
        .bind(key)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
