//! Tenants, users and API keys.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use super::{col, from_json, now_micros, to_json, ts, Store, Tx};
use crate::audit::GENESIS_HASH;
use crate::auth::{Role, Scope};
use crate::error::{ConflictCode, Error, Result};
use crate::id::{ApiKeyId, TenantId, UserId};
use crate::policy::KeyLimits;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A tenant's settings. Each change is audited (`tenants.settings`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantSettings {
    /// A human operator (a user, or the operator acting through the CLI or an embedding
    /// program) may approve a held payment or order they created themselves. Off by default:
    /// a second person approves. API keys never approve their own holds.
    #[serde(default)]
    pub allow_self_approval: bool,
}

/// A user of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Login e-mail.
    pub email: String,
    /// Role.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An API key as stored and listed: prefix, scopes, limits; never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyRecord {
    /// Id.
    pub id: ApiKeyId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Label.
    pub name: String,
    /// The visible start of the secret (`fk_1a2b3c4d`).
    pub prefix: String,
    /// Scopes.
    pub scopes: BTreeSet<Scope>,
    /// Limits.
    pub limits: KeyLimits,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who created it (`usr_…`, `key_…`, `system`); a developer manages only its own keys.
    #[serde(default)]
    pub created_by: String,
}

/// Requests one key made on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyUsage {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Authenticated requests that day.
    pub requests: u64,
}

fn scopes_to_text(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn key_from_row(r: &AnyRow) -> Result<ApiKeyRecord> {
    let scopes: String = col(r, "scopes")?;
    Ok(ApiKeyRecord {
        id: ApiKeyId::parse(&col::<String>(r, "id")?)?,
        tenant_id: TenantId::parse(&col::<String>(r, "tenant_id")?)?,
        name: col(r, "name")?,
        prefix: col(r, "prefix")?,
        scopes: scopes
            .split_whitespace()
            .map(Scope::parse)
            .collect::<Result<_>>()?,
        limits: from_json(&col::<String>(r, "limits")?)?,
        created_at: ts(col(r, "created_at")?),
        last_used_at: col::<Option<i64>>(r, "last_used_at")?.map(ts),
        revoked_at: col::<Option<i64>>(r, "revoked_at")?.map(ts),
        created_by: col(r, "created_by")?,
    })
}

/// How stale `last_used_at` may get before an authentication refreshes it.
const LAST_USED_RESOLUTION_MICROS: i64 = 60 * 1_000_000;

const KEY_COLUMNS: &str =
    "id, tenant_id, name, prefix, scopes, limits, created_at, last_used_at, revoked_at, created_by";

impl Tx {
    /// Creates a tenant and its audit/event heads.
    pub async fn insert_tenant(&mut self, tenant: &Tenant) -> Result<()> {
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(tenant.id.as_str())
            .bind(&tenant.name)
            .bind(tenant.created_at.timestamp_micros())
            .execute(self.conn())
            .await?;
        sqlx::query("INSERT INTO tenant_heads (tenant_id, audit_seq, audit_hash, event_seq) VALUES ($1, 0, $2, 0)")
            .bind(tenant.id.as_str())
            .bind(GENESIS_HASH)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Creates a user; the e-mail is unique within the tenant.
    pub async fn insert_user(&mut self, user: &User, password_hash: Option<&str>) -> Result<()> {
        sqlx::query("INSERT INTO users (id, tenant_id, email, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, email) DO NOTHING")
            .bind(user.id.as_str())
            .bind(user.tenant_id.as_str())
            .bind(&user.email)
            .bind(user.role.as_str())
            .bind(password_hash)
            .bind(user.created_at.timestamp_micros())
            .execute(self.conn())
            .await
            .map_err(Error::from)
            .and_then(|r| {
                if r.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(Error::conflict(ConflictCode::AlreadyExists, format!("a user with e-mail {} exists", user.email)))
                }
            })
    }

    /// Stores a key by the hash of its secret.
    pub async fn insert_api_key(&mut self, key: &ApiKeyRecord, secret_hash: &str) -> Result<()> {
        sqlx::query("INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes, limits, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(key.id.as_str())
            .bind(key.tenant_id.as_str())
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(secret_hash)
            .bind(scopes_to_text(&key.scopes))
            .bind(to_json(&key.limits)?)
            .bind(key.created_at.timestamp_micros())
            .bind(&key.created_by)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Revokes a key of a tenant; `false` when no such active key exists.
    pub async fn revoke_api_key(&mut self, tenant: &TenantId, id: &ApiKeyId) -> Result<bool> {
        Ok(sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
            .bind(now_micros())
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(self.conn())
            .await?
            .rows_affected()
            == 1)
    }

    /// Replaces a key's limits; `false` when no such key exists.
    pub async fn set_key_limits(
        &mut self,
        tenant: &TenantId,
        id: &ApiKeyId,
        limits: &KeyLimits,
    ) -> Result<bool> {
        Ok(
            sqlx::query("UPDATE api_keys SET limits = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(to_json(limits)?)
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(self.conn())
                .await?
                .rows_affected()
                == 1,
        )
    }
}

impl Tx {
    /// Replaces a tenant's settings; false when the tenant does not exist.
    pub async fn set_tenant_settings(
        &mut self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<bool> {
        Ok(
            sqlx::query("UPDATE tenants SET allow_self_approval = $1 WHERE id = $2")
                .bind(i64::from(settings.allow_self_approval))
                .bind(tenant.as_str())
                .execute(self.conn())
                .await?
                .rows_affected()
                == 1,
        )
    }
}

impl Store {
    /// A tenant's settings (`None` when the tenant does not exist).
    pub async fn tenant_settings(&self, id: &TenantId) -> Result<Option<TenantSettings>> {
        let row = sqlx::query("SELECT allow_self_approval FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(TenantSettings {
                allow_self_approval: col::<i64>(&r, "allow_self_approval")? != 0,
            })
        })
        .transpose()
    }

    /// A tenant by id.
    pub async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Tenant {
                id: TenantId::parse(&col::<String>(&r, "id")?)?,
                name: col(&r, "name")?,
                created_at: ts(col(&r, "created_at")?),
            })
        })
        .transpose()
    }

    /// Every tenant, oldest first.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM tenants ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Tenant {
                    id: TenantId::parse(&col::<String>(r, "id")?)?,
                    name: col(r, "name")?,
                    created_at: ts(col(r, "created_at")?),
                })
            })
            .collect()
    }

    /// Users of a tenant.
    pub async fn users(&self, tenant: &TenantId) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT id, tenant_id, email, role, created_at FROM users WHERE tenant_id = $1 ORDER BY email")
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    id: UserId::parse(&col::<String>(r, "id")?)?,
                    tenant_id: TenantId::parse(&col::<String>(r, "tenant_id")?)?,
                    email: col(r, "email")?,
                    role: Role::parse(&col::<String>(r, "role")?)?,
                    created_at: ts(col(r, "created_at")?),
                })
            })
            .collect()
    }

    /// The active key whose secret hashes to `secret_hash`; marks it used (to the minute).
    pub async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let key = key_from_row(&row)?;
        // Last use is kept to the minute: writing it on every request would add a durable
        // commit to every authenticated call.
        let now = now_micros();
        let stale = key
            .last_used_at
            .is_none_or(|t| now - t.timestamp_micros() >= LAST_USED_RESOLUTION_MICROS);
        if stale {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(key.id.as_str())
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(key))
    }

    /// A key of a tenant.
    pub async fn api_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Adds request counts (`key id -> requests`) to `day`'s usage rows.
    pub async fn add_key_usage(&self, day: &str, counts: &[(String, u64)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (key, n) in counts {
            sqlx::query(
                "INSERT INTO api_key_usage (key_id, day, requests) VALUES ($1, $2, $3)
                 ON CONFLICT (key_id, day) DO UPDATE SET requests = api_key_usage.requests + excluded.requests",
            )
            .bind(key)
            .bind(day)
            .bind(i64::try_from(*n).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A key's usage on its last `days` days with requests, newest first.
    pub async fn key_usage(&self, key: &ApiKeyId, days: i64) -> Result<Vec<KeyUsage>> {
        let rows = sqlx::query(
            "SELECT day, requests FROM api_key_usage WHERE key_id = $1 ORDER BY day DESC LIMIT $2",
        )
        .bind(key.as_str())
        .bind(days)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyUsage {
                    day: col(r, "day")?,
                    requests: u64::try_from(col::<i64>(r, "requests")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Keys of a tenant, newest first.
    pub async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshTokenRow {
    /// Tenant.
    pub tenant_id: TenantId,
    /// User.
    pub user_id: UserId,
    /// Login family.
    pub family: String,
    /// Expiry, micros.
    pub expires_at: i64,
    /// Already rotated out or logged out.
    pub revoked: bool,
}

impl Tx {
    /// Stores a user's password hash; false when the user is not the tenant's.
    pub async fn set_password_hash(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        hash: &str,
    ) -> Result<bool> {
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(hash)
            .bind(tenant.as_str())
            .bind(user.as_str())
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Sets a user's role; `false` when no such user exists.
    pub async fn set_user_role(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
    ) -> Result<bool> {
        let n = sqlx::query("UPDATE users SET role = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(role.as_str())
            .bind(tenant.as_str())
            .bind(user.as_str())
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Stores a refresh token's hash.
    pub async fn insert_refresh_token(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        hash: &str,
        family: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO refresh_tokens (id, tenant_id, user_id, token_hash, family, expires_at, revoked_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(tenant.as_str())
            .bind(user.as_str())
            .bind(hash)
            .bind(family)
            .bind(expires_at)
            .bind(now_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Revokes one refresh token if it is still live; false if something else did first.
    pub async fn revoke_refresh_token(&mut self, hash: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now_micros())
            .bind(hash)
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

impl Store {
    /// A user and their password hash, by tenant and e-mail.
    pub async fn user_credentials(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>> {
        let row = sqlx::query("SELECT id, tenant_id, email, role, created_at, password_hash FROM users WHERE tenant_id = $1 AND email = $2")
            .bind(tenant.as_str())
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                User {
                    id: UserId::parse(&col::<String>(&r, "id")?)?,
                    tenant_id: TenantId::parse(&col::<String>(&r, "tenant_id")?)?,
                    email: col(&r, "email")?,
                    role: Role::parse(&col::<String>(&r, "role")?)?,
                    created_at: ts(col(&r, "created_at")?),
                },
                col::<Option<String>>(&r, "password_hash")?,
            ))
        })
        .transpose()
    }

    /// A user of a tenant.
    pub async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>> {
        Ok(self.users(tenant).await?.into_iter().find(|u| &u.id == id))
    }

    /// A refresh token by hash.
    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshTokenRow>> {
        let row = sqlx::query("SELECT tenant_id, user_id, family, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(RefreshTokenRow {
                tenant_id: TenantId::parse(&col::<String>(&r, "tenant_id")?)?,
                user_id: UserId::parse(&col::<String>(&r, "user_id")?)?,
                family: col(&r, "family")?,
                expires_at: col(&r, "expires_at")?,
                revoked: col::<Option<i64>>(&r, "revoked_at")?.is_some(),
            })
        })
        .transpose()
    }

    /// Revokes every live token of a login family.
    pub async fn revoke_refresh_family(&self, family: &str) -> Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
        )
        .bind(now_micros())
        .bind(family)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
