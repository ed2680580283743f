//! Mandate issuer keys (sealed) and the mandates a tenant issued.

use sqlx::any::AnyRow;

use super::{col, from_json, now_micros, to_json, ts, Store, Tx};
use crate::error::Result;
use crate::id::{ApiKeyId, MandateId, TenantId};
use crate::mandate::{Jwk, MandateRecord, Usage};

/// A stored issuer key, private half still sealed.
#[derive(Debug, Clone)]
pub struct StoredIssuerKey {
    /// Key id.
    pub kid: String,
    /// Sealed PKCS#8 (base64 of the sealed bytes).
    pub private_enc: String,
    /// The public key.
    pub public_jwk: Jwk,
    /// Retired keys no longer sign, but stay published.
    pub retired: bool,
}

const MANDATE_COLUMNS: &str = "id, api_key_id, issuer_kid, mandate_digest, token, open_json, created_by, created_at, expires_at, revoked_at, used_amount, used_count";

fn mandate_from_row(r: &AnyRow) -> Result<MandateRecord> {
    Ok(MandateRecord {
        id: MandateId::parse(&col::<String>(r, "id")?)?,
        api_key_id: ApiKeyId::parse(&col::<String>(r, "api_key_id")?)?,
        issuer_kid: col(r, "issuer_kid")?,
        mandate_digest: col(r, "mandate_digest")?,
        token: col(r, "token")?,
        mandate: from_json(&col::<String>(r, "open_json")?)?,
        created_by: col(r, "created_by")?,
        created_at: ts(col(r, "created_at")?),
        expires_at: ts(col(r, "expires_at")?),
        revoked_at: col::<Option<i64>>(r, "revoked_at")?.map(ts),
        usage: Usage {
            total_amount: col(r, "used_amount")?,
            total_uses: u32::try_from(col::<i64>(r, "used_count")?).unwrap_or(u32::MAX),
        },
    })
}

fn key_from_row(r: &AnyRow) -> Result<StoredIssuerKey> {
    Ok(StoredIssuerKey {
        kid: col(r, "kid")?,
        private_enc: col(r, "private_enc")?,
        public_jwk: from_json(&col::<String>(r, "public_jwk")?)?,
        retired: col::<Option<i64>>(r, "retired_at")?.is_some(),
    })
}

impl Store {
    /// Every issuer key of the tenant, newest first.
    pub async fn mandate_issuer_keys(&self, tenant: &TenantId) -> Result<Vec<StoredIssuerKey>> {
        sqlx::query("SELECT kid, private_enc, public_jwk, retired_at FROM mandate_issuer_keys WHERE tenant_id = $1 ORDER BY created_at DESC, kid DESC")
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(key_from_row)
            .collect()
    }

    /// Mandates of the tenant (of one key when given), newest first.
    pub async fn mandates(
        &self,
        tenant: &TenantId,
        key: Option<&ApiKeyId>,
    ) -> Result<Vec<MandateRecord>> {
        let sql = format!("SELECT {MANDATE_COLUMNS} FROM mandates WHERE tenant_id = $1 AND ($2 = '' OR api_key_id = $2) ORDER BY created_at DESC");
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(key.map(|k| k.as_str()).unwrap_or(""))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(mandate_from_row)
            .collect()
    }

    /// One mandate of the tenant.
    pub async fn mandate(
        &self,
        tenant: &TenantId,
        id: &MandateId,
    ) -> Result<Option<MandateRecord>> {
        let sql =
            format!("SELECT {MANDATE_COLUMNS} FROM mandates WHERE tenant_id = $1 AND id = $2");
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(mandate_from_row)
            .transpose()
    }
}

impl Tx {
    /// Retires every signing key of the tenant (rotation; they stay published).
    pub async fn retire_mandate_issuer_keys(&mut self, tenant: &TenantId) -> Result<()> {
        sqlx::query("UPDATE mandate_issuer_keys SET retired_at = $1 WHERE tenant_id = $2 AND retired_at IS NULL")
            .bind(now_micros())
            .bind(tenant.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Stores a new issuer key (sealed private half).
    pub async fn insert_mandate_issuer_key(
        &mut self,
        tenant: &TenantId,
        kid: &str,
        private_enc: &str,
        public_jwk: &Jwk,
    ) -> Result<()> {
        sqlx::query("INSERT INTO mandate_issuer_keys (tenant_id, kid, private_enc, public_jwk, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, NULL)")
            .bind(tenant.as_str())
            .bind(kid)
            .bind(private_enc)
            .bind(to_json(public_jwk)?)
            .bind(now_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Stores an issued mandate.
    pub async fn insert_mandate(&mut self, tenant: &TenantId, m: &MandateRecord) -> Result<()> {
        sqlx::query("INSERT INTO mandates (id, tenant_id, api_key_id, issuer_kid, mandate_digest, token, open_json, created_by, created_at, expires_at, revoked_at, used_amount, used_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, 0)")
            .bind(m.id.as_str())
            .bind(tenant.as_str())
            .bind(m.api_key_id.as_str())
            .bind(&m.issuer_kid)
            .bind(&m.mandate_digest)
            .bind(&m.token)
            .bind(to_json(&m.mandate)?)
            .bind(&m.created_by)
            .bind(m.created_at.timestamp_micros())
            .bind(m.expires_at.timestamp_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Revokes a mandate; false when it is not the tenant's or already revoked.
    pub async fn revoke_mandate(&mut self, tenant: &TenantId, id: &MandateId) -> Result<bool> {
        let n = sqlx::query("UPDATE mandates SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
            .bind(now_micros())
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}
