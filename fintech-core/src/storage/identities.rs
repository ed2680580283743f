//! Federated identities: the link from an identity provider's (issuer, subject) to a user.

use super::{col, now_micros, Store, Tx};
use crate::error::Result;
use crate::id::{TenantId, UserId};

impl Store {
    /// The user linked to `(issuer, subject)` in a tenant, if any.
    pub async fn federated_user(
        &self,
        tenant: &TenantId,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>> {
        let row = sqlx::query(
            "SELECT user_id FROM federated_identities WHERE tenant_id = $1 AND issuer = $2 AND subject = $3",
        )
        .bind(tenant.as_str())
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| UserId::parse(&col::<String>(&r, "user_id")?))
            .transpose()
    }
}

impl Tx {
    /// Links `(issuer, subject)` to a user (fails when the pair is linked already).
    pub async fn insert_federated_identity(
        &mut self,
        tenant: &TenantId,
        issuer: &str,
        subject: &str,
        user: &UserId,
    ) -> Result<()> {
        sqlx::query("INSERT INTO federated_identities (tenant_id, issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(tenant.as_str())
            .bind(issuer)
            .bind(subject)
            .bind(user.as_str())
            .bind(now_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
