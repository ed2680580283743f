//! Tenants, users, API keys and `whoami`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{audit_entry, finish, finish_once, Executed, Platform};
use crate::auth::{hash_api_key, Actor, Interface, NewApiKeySecret, Principal, Role, Scope};
use crate::error::{ConflictCode, Error, Result};
use crate::id::{ApiKeyId, TenantId, UserId};
use crate::money::Money;
use crate::policy::KeyLimits;
use crate::provider::ProviderMode;
use crate::storage::{ApiKeyRecord, KeyUsage, Tenant, TenantSettings, User};

/// Input for a new API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// A label (`reporting agent`).
    pub name: String,
    /// What it may do.
    pub scopes: BTreeSet<Scope>,
    /// Its guard rails.
    #[serde(default)]
    pub limits: KeyLimits,
}

/// A created key: the record, and the secret shown this once (a retry with the creating
/// request's idempotency key shows it again: that answer is kept sealed for 24 hours).
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    /// The stored record.
    pub key: ApiKeyRecord,
    /// The secret. It is not stored and cannot be shown again.
    pub secret: String,
}

/// Redacts the secret: `Debug` output ends up in logs.
impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Who the caller is and what it may still do today.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Actor (`key_…`, `usr_…`, `system`).
    pub actor: String,
    /// Interface.
    pub interface: Interface,
    /// Scopes.
    pub scopes: BTreeSet<Scope>,
    /// Limits.
    pub limits: KeyLimits,
    /// Spent (reserved) today against `max_per_day`.
    pub spent_today: Option<Money>,
    /// What remains of `max_per_day` today.
    pub remaining_today: Option<Money>,
    /// Banking provider mode.
    pub banking_mode: ProviderMode,
    /// Payments provider mode.
    pub payments_mode: ProviderMode,
    /// Brokerage provider mode.
    pub brokerage_mode: ProviderMode,
}

/// Today's key for daily limits (UTC).
pub(super) fn today() -> String {
    crate::storage::now().format("%Y-%m-%d").to_string()
}

impl Platform {
    /// Creates a tenant. A bootstrap operation for operators (`fintech init`, first server
    /// start): it is audited in the new tenant's chain with actor `system`.
    pub async fn create_tenant(&self, name: &str, interface: Interface) -> Result<Tenant> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(Error::validation("name", "1 to 200 printable characters"));
        }
        crate::payments::refuse_card_number("name", name)?;
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.to_owned(),
            created_at: crate::storage::now(),
        };
        let p = Principal::system(tenant.id.clone(), interface);
        let mut tx = self.inner.store.begin().await?;
        tx.insert_tenant(&tenant).await?;
        finish(
            &mut tx,
            &p,
            None,
            &[],
            audit_entry(
                &p,
                "tenants.create",
                "tenant",
                tenant.id.as_str(),
                None,
                "ok",
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Sets up a fresh database's first tenant (`fintech init`). When the database already has
    /// tenants nothing is created: [`ConflictCode::AlreadyExists`] names them and says how to
    /// go on (act on the existing one, or add another tenant deliberately with
    /// [`Platform::create_tenant`]).
    pub async fn init_tenant(&self, name: &str, interface: Interface) -> Result<Tenant> {
        let existing = self.inner.store.tenants().await?;
        if !existing.is_empty() {
            let names: Vec<String> = existing
                .iter()
                .map(|t| {
                    format!(
                        "{} ({}, created {})",
                        t.name,
                        t.id,
                        t.created_at.format("%Y-%m-%d %H:%M UTC")
                    )
                })
                .collect();
            return Err(Error::conflict(
                ConflictCode::AlreadyExists,
                format!(
                    "this database is already set up with tenant {}; every command acts on the oldest tenant (or the one given with --tenant / FINTECH_TENANT), so go on without init; to add another tenant on purpose, use `fintech tenants create NAME`",
                    names.join(", ")
                ),
            ));
        }
        self.create_tenant(name, interface).await
    }

    /// A tenant's settings (any principal of the tenant).
    pub async fn tenant_settings(&self, p: &Principal) -> Result<TenantSettings> {
        self.inner
            .store
            .tenant_settings(&p.tenant_id)
            .await?
            .ok_or_else(|| Error::not_found("tenant", &p.tenant_id))
    }

    /// Replaces the tenant's settings (admin). Audited as `tenants.settings` with the old and
    /// the new value of what changed.
    pub async fn set_tenant_settings(
        &self,
        p: &Principal,
        settings: TenantSettings,
    ) -> Result<TenantSettings> {
        p.require(Scope::Admin)?;
        let before = self.tenant_settings(p).await?;
        let mut tx = self.inner.store.begin().await?;
        if !tx.set_tenant_settings(&p.tenant_id, &settings).await? {
            return Err(Error::not_found("tenant", &p.tenant_id));
        }
        finish(
            &mut tx,
            p,
            None,
            &[],
            audit_entry(
                p,
                "tenants.settings",
                "tenant",
                p.tenant_id.as_str(),
                None,
                &format!(
                    "ok: allow_self_approval {} (was {})",
                    settings.allow_self_approval, before.allow_self_approval
                ),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(settings)
    }

    /// Separation of duties for approving a held payment or order: `Ok(false)` when the
    /// approver did not create it; `Ok(true)` when they did and the tenant allows a human
    /// operator to approve their own holds ([`TenantSettings::allow_self_approval`]); else
    /// [`Error::Forbidden`] saying that someone else must approve. An API key never approves
    /// what it created.
    pub(super) async fn check_approver(
        &self,
        p: &Principal,
        created_by: &str,
        what: &str,
    ) -> Result<bool> {
        if created_by != p.actor.to_string() {
            return Ok(false);
        }
        let human = !matches!(p.actor, Actor::ApiKey(_));
        if human && self.tenant_settings(p).await?.allow_self_approval {
            return Ok(true);
        }
        Err(Error::Forbidden {
            required: format!(
                "approval by someone other than the {what}'s creator ({created_by}): a second person with approvals:write approves it{}",
                if human {
                    ", or an admin allows self-approval for this tenant (allow_self_approval)"
                } else {
                    ""
                }
            ),
        })
    }

    /// Every tenant (operators).
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.inner.store.tenants().await
    }

    /// The principal's tenant.
    pub async fn tenant(&self, p: &Principal) -> Result<Tenant> {
        self.inner
            .store
            .tenant(&p.tenant_id)
            .await?
            .ok_or_else(|| Error::not_found("tenant", &p.tenant_id))
    }

    /// Adds a user to the principal's tenant (admin).
    pub async fn create_user(
        &self,
        p: &Principal,
        email: &str,
        role: Role,
        idempotency_key: Option<String>,
    ) -> Result<Executed<User>> {
        p.require(Scope::Admin)?;
        let email = email.trim().to_ascii_lowercase();
        let valid = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(a, d)| !a.is_empty() && d.contains('.'))
            && !email.chars().any(char::is_whitespace);
        if !valid {
            return Err(Error::validation(
                "email",
                "expected an e-mail address like ops@example.com",
            ));
        }
        let request = (email.clone(), role);
        self.once(
            p,
            idempotency_key,
            "users.create",
            &request,
            |idem| async move {
                let user = User {
                    id: UserId::generate(),
                    tenant_id: p.tenant_id.clone(),
                    email,
                    role,
                    created_at: crate::storage::now(),
                };
                let idem = idem.as_ref();
                let answer = self.kept(p, idem, &user, false)?;
                let mut tx = self.inner.store.begin().await?;
                tx.insert_user(&user, None).await?;
                finish_once(
                    &mut tx,
                    p,
                    idem,
                    answer.as_deref(),
                    &[],
                    audit_entry(
                        p,
                        "users.create",
                        "user",
                        user.id.as_str(),
                        idem.map(|i| i.key.as_str()),
                        &format!("ok: role {}", role.as_str()),
                    ),
                )
                .await?;
                tx.commit().await?;
                Ok(user)
            },
        )
        .await
    }

    /// Users of the principal's tenant.
    pub async fn users(&self, p: &Principal) -> Result<Vec<User>> {
        p.require(Scope::Admin)?;
        self.inner.store.users(&p.tenant_id).await
    }

    /// Creates an API key (admin; or a developer, with scopes it holds itself, never
    /// `admin`, `developer` or `approvals:write`). The secret is in the result and nowhere else.
    pub async fn create_api_key(
        &self,
        p: &Principal,
        req: NewApiKey,
        idempotency_key: Option<String>,
    ) -> Result<Executed<CreatedApiKey>> {
        p.require(Scope::Developer)?;
        if !p.has(Scope::Admin) {
            if let Some(s) = req.scopes.iter().find(|s| {
                matches!(s, Scope::Admin | Scope::Developer | Scope::ApprovalsWrite) || !p.has(**s)
            }) {
                return Err(Error::Forbidden {
                    required: format!("scope `{s}`: a developer's keys carry only scopes it holds, never admin, developer or approvals:write"),
                });
            }
        }
        let name = req.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::validation("name", "1 to 100 printable characters"));
        }
        crate::payments::refuse_card_number("name", &name)?;
        if req.scopes.is_empty() {
            return Err(Error::validation(
                "scopes",
                "a key needs at least one scope",
            ));
        }
        req.limits.validate()?;
        // A key made by a non-admin key spends no more than its creator can.
        let limits = if p.has(Scope::Admin) {
            req.limits.clone()
        } else {
            req.limits.bounded_by(&p.limits)?
        };
        let request = req.clone();
        self.once(
            p,
            idempotency_key,
            "keys.create",
            &request,
            |idem| async move {
                let secret = NewApiKeySecret::generate();
                let key = ApiKeyRecord {
                    id: ApiKeyId::generate(),
                    tenant_id: p.tenant_id.clone(),
                    name,
                    prefix: secret.prefix(),
                    scopes: req.scopes,
                    limits,
                    created_at: crate::storage::now(),
                    last_used_at: None,
                    revoked_at: None,
                    created_by: p.actor.to_string(),
                };
                let hash = hash_api_key(secret.expose());
                let created = CreatedApiKey {
                    key,
                    secret: secret.expose().to_owned(),
                };
                let idem = idem.as_ref();
                let answer = self.kept(p, idem, &created, true)?;
                let mut tx = self.inner.store.begin().await?;
                tx.insert_api_key(&created.key, &hash).await?;
                let scopes: Vec<_> = created.key.scopes.iter().map(|s| s.as_str()).collect();
                finish_once(
                    &mut tx,
                    p,
                    idem,
                    answer.as_deref(),
                    &[],
                    audit_entry(
                        p,
                        "keys.create",
                        "api_key",
                        created.key.id.as_str(),
                        idem.map(|i| i.key.as_str()),
                        &format!("ok: scopes {}", scopes.join(" ")),
                    ),
                )
                .await?;
                tx.commit().await?;
                Ok(created)
            },
        )
        .await
    }

    /// Keys of the principal's tenant: prefixes, never secrets. An admin sees every key, a
    /// developer the keys it created.
    pub async fn api_keys(&self, p: &Principal) -> Result<Vec<ApiKeyRecord>> {
        p.require(Scope::Developer)?;
        let mut keys = self.inner.store.api_keys(&p.tenant_id).await?;
        if !p.has(Scope::Admin) {
            let me = p.actor.to_string();
            keys.retain(|k| k.created_by == me);
        }
        Ok(keys)
    }

    /// A key the principal may manage: any key of the tenant for an admin, its own for a
    /// developer; `NotFound` otherwise.
    async fn managed_key(&self, p: &Principal, id: &ApiKeyId) -> Result<ApiKeyRecord> {
        p.require(Scope::Developer)?;
        let key = self
            .inner
            .store
            .api_key(&p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("api_key", id))?;
        if !p.has(Scope::Admin) && key.created_by != p.actor.to_string() {
            return Err(Error::not_found("api_key", id));
        }
        Ok(key)
    }

    /// Requests per UTC day of a key (its newest 30 days with traffic), counted at
    /// authentication; this process's pending counts are flushed first.
    pub async fn api_key_usage(&self, p: &Principal, id: &ApiKeyId) -> Result<Vec<KeyUsage>> {
        self.managed_key(p, id).await?;
        self.flush_key_usage().await?;
        self.inner.store.key_usage(id, 30).await
    }

    /// Writes the request counts this process has gathered since the last flush (the server
    /// calls it every few seconds and at shutdown). Counts add up across processes.
    pub async fn flush_key_usage(&self) -> Result<()> {
        let (day, counts) = self.inner.auth_cache.take_usage();
        if counts.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.inner.store.add_key_usage(&day, &counts).await {
            // keep them for the next flush
            self.inner.auth_cache.restore_usage(&day, counts);
            return Err(e);
        }
        Ok(())
    }

    /// Flushes usage counts every `every` in a background task (abort it at shutdown, then
    /// flush once more).
    pub fn spawn_key_usage_flush(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let platform = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = platform.flush_key_usage().await {
                    tracing::warn!(error = %e, "could not write key usage counts; retrying");
                }
            }
        })
    }

    /// Revokes a key (admin, or the developer who created it).
    pub async fn revoke_api_key(
        &self,
        p: &Principal,
        id: &ApiKeyId,
        idempotency_key: Option<String>,
    ) -> Result<Executed<()>> {
        self.managed_key(p, id).await?;
        self.once(p, idempotency_key, "keys.revoke", id, |idem| async move {
            let idem = idem.as_ref();
            let mut tx = self.inner.store.begin().await?;
            if !tx.revoke_api_key(&p.tenant_id, id).await? {
                return Err(Error::not_found("api_key", id));
            }
            self.inner.auth_cache.forget(id);
            let answer = self.kept(p, idem, &(), false)?;
            let audit = audit_entry(
                p,
                "keys.revoke",
                "api_key",
                id.as_str(),
                idem.map(|i| i.key.as_str()),
                "ok",
            );
            finish_once(&mut tx, p, idem, answer.as_deref(), &[], audit).await?;
            tx.commit().await
        })
        .await
    }

    /// Replaces a key's limits and approval threshold (admin).
    pub async fn set_key_limits(
        &self,
        p: &Principal,
        id: &ApiKeyId,
        limits: KeyLimits,
        idempotency_key: Option<String>,
    ) -> Result<Executed<ApiKeyRecord>> {
        let mut record = self.managed_key(p, id).await?;
        limits.validate()?;
        let limits = if p.has(Scope::Admin) {
            limits
        } else {
            limits.bounded_by(&p.limits)?
        };
        let request = (id, limits.clone());
        self.once(
            p,
            idempotency_key,
            "keys.set_limits",
            &request,
            |idem| async move {
                let idem = idem.as_ref();
                let mut tx = self.inner.store.begin().await?;
                if !tx.set_key_limits(&p.tenant_id, id, &limits).await? {
                    return Err(Error::not_found("api_key", id));
                }
                self.inner.auth_cache.forget(id);
                let summary = serde_json::to_string(&limits).unwrap_or_default();
                record.limits = limits.clone();
                let answer = self.kept(p, idem, &record, false)?;
                finish_once(
                    &mut tx,
                    p,
                    idem,
                    answer.as_deref(),
                    &[],
                    audit_entry(
                        p,
                        "keys.set_limits",
                        "api_key",
                        id.as_str(),
                        idem.map(|i| i.key.as_str()),
                        &format!("ok: {summary}"),
                    ),
                )
                .await?;
                tx.commit().await?;
                Ok(record)
            },
        )
        .await
    }

    /// Turns an API key secret into a principal, or `Unauthenticated`. Keys are remembered
    /// for a few seconds by the SHA-256 of their secret (see
    /// [`PlatformBuilder::with_auth_cache_ttl`](crate::PlatformBuilder::with_auth_cache_ttl)).
    pub async fn authenticate(&self, secret: &str, interface: Interface) -> Result<Principal> {
        let unauthenticated = || Error::Unauthenticated("invalid or revoked API key".to_owned());
        if !secret.starts_with("fk_") || secret.len() > 200 {
            return Err(unauthenticated());
        }
        let hash = hash_api_key(secret);
        let key = match self.inner.auth_cache.get(&hash) {
            Some(key) => key,
            None => {
                let generation = self.inner.auth_cache.generation();
                let key = self
                    .inner
                    .store
                    .api_key_by_hash(&hash)
                    .await?
                    .ok_or_else(unauthenticated)?;
                self.inner.auth_cache.put(hash, &key, generation);
                key
            }
        };
        self.inner.auth_cache.count(&key.id);
        Ok(Principal {
            tenant_id: key.tenant_id,
            actor: Actor::ApiKey(key.id),
            scopes: key.scopes,
            interface,
            limits: key.limits,
        })
    }

    /// The caller as it stands now: for an API key, its current scopes and limits, or
    /// `Unauthenticated` once it is revoked — read through the same cache as
    /// [`Platform::authenticate`], so a change shows within the same window on every
    /// transport. Long-lived sessions (MCP over stdio or legacy SSE) call it on every request
    /// instead of keeping the principal they opened with. Other callers are returned as they are.
    pub async fn current_principal(&self, p: &Principal) -> Result<Principal> {
        let Actor::ApiKey(id) = &p.actor else {
            return Ok(p.clone());
        };
        let revoked = || Error::Unauthenticated("the API key was revoked".to_owned());
        let cache = &self.inner.auth_cache;
        let key = match cache.by_id.get(id) {
            Some(key) => key,
            None => {
                let generation = cache.by_id.generation();
                let key = self
                    .inner
                    .store
                    .api_key(&p.tenant_id, id)
                    .await?
                    .ok_or_else(revoked)?;
                cache.by_id.put(id.clone(), key.clone(), generation);
                key
            }
        };
        if key.revoked_at.is_some() {
            return Err(revoked());
        }
        cache.count(&key.id);
        Ok(Principal {
            tenant_id: key.tenant_id,
            actor: Actor::ApiKey(key.id),
            scopes: key.scopes,
            interface: p.interface,
            limits: key.limits,
        })
    }

    /// Who the caller is, what it may do, what remains of its daily limit, and whether each
    /// provider is simulated, sandbox/paper or live.
    pub async fn whoami(&self, p: &Principal) -> Result<WhoAmI> {
        let (spent_today, remaining_today) = match (&p.actor, &p.limits.max_per_day) {
            (Actor::ApiKey(id), Some(max)) => {
                let spent = self
                    .inner
                    .store
                    .spent(id.as_str(), &today(), max.currency())
                    .await?;
                let remaining = max.checked_sub(&spent)?;
                (Some(spent), Some(remaining))
            }
            _ => (None, None),
        };
        let providers = &self.inner.providers;
        Ok(WhoAmI {
            tenant_id: p.tenant_id.clone(),
            actor: p.actor.to_string(),
            interface: p.interface,
            scopes: p.scopes.clone(),
            limits: p.limits.clone(),
            spent_today,
            remaining_today,
            banking_mode: providers.banking(&p.tenant_id).mode(),
            payments_mode: providers.payments(&p.tenant_id).mode(),
            brokerage_mode: providers.brokerage(&p.tenant_id).mode(),
        })
    }
}

/// Recently authenticated keys by the SHA-256 of their secret (never the secret), so a busy
/// key costs one database lookup per TTL instead of one per request.
pub(super) struct AuthCache {
    entries: super::cache::TtlCache<String, ApiKeyRecord>,
    /// The same records by key id, for sessions that re-check their key on every call.
    by_id: super::cache::TtlCache<ApiKeyId, ApiKeyRecord>,
    /// Requests per key since the last flush, and the UTC day they belong to.
    usage: std::sync::Mutex<(String, std::collections::HashMap<String, u64>)>,
}

impl AuthCache {
    const MAX_ENTRIES: usize = 10_000;

    pub(super) fn new(ttl: std::time::Duration) -> Self {
        Self {
            entries: super::cache::TtlCache::new(ttl, Self::MAX_ENTRIES),
            by_id: super::cache::TtlCache::new(ttl, Self::MAX_ENTRIES),
            usage: Default::default(),
        }
    }

    /// Counts one request. Pending counts belong to the UTC day counting started on (at most
    /// one flush interval of requests lands on the previous day around midnight).
    fn count(&self, id: &ApiKeyId) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if usage.1.is_empty() {
            usage.0 = today();
        }
        *usage.1.entry(id.as_str().to_owned()).or_default() += 1;
    }

    fn take_usage(&self) -> (String, Vec<(String, u64)>) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let day = std::mem::replace(&mut usage.0, today());
        let counts = std::mem::take(&mut usage.1).into_iter().collect();
        (day, counts)
    }

    fn restore_usage(&self, day: &str, counts: Vec<(String, u64)>) {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if usage.0 == day {
            for (k, n) in counts {
                *usage.1.entry(k).or_default() += n;
            }
        }
    }

    fn generation(&self) -> u64 {
        self.entries.generation()
    }

    fn get(&self, hash: &str) -> Option<ApiKeyRecord> {
        self.entries.get(&hash.to_owned())
    }

    fn put(&self, hash: String, key: &ApiKeyRecord, generation: u64) {
        self.entries.put(hash, key.clone(), generation);
    }

    fn forget(&self, id: &ApiKeyId) {
        self.entries.forget_where(|_, key| &key.id == id);
        self.by_id.forget(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_debug_hides_the_secret() {
        let secret = NewApiKeySecret::generate();
        let created = CreatedApiKey {
            key: ApiKeyRecord {
                id: ApiKeyId::generate(),
                tenant_id: TenantId::generate(),
                name: "k".into(),
                prefix: secret.prefix(),
                scopes: BTreeSet::new(),
                limits: KeyLimits::default(),
                created_at: crate::storage::now(),
                last_used_at: None,
                revoked_at: None,
                created_by: "system".into(),
            },
            secret: secret.expose().to_owned(),
        };
        let shown = format!("{created:?}");
        assert!(!shown.contains(secret.expose()), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
