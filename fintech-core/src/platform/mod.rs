//! The one door: every operation of every shell goes through [`Platform`], with a
//! [`Principal`], and runs these steps in this order:
//!
//! 1. authorization (scopes; objects of another tenant answer `NotFound`);
//! 2. input validation;
//! 3. idempotency (claim the key in the database; replay a finished result);
//! 4. policy (per-key limits, approval threshold);
//! 5. fraud screening (money movement);
//! 6. the provider call, with the provider idempotency key derived from ours;
//! 7. one database transaction: domain row, ledger postings, event, audit record, and the
//!    idempotency result — all or nothing.

mod banking;
mod confirm;
mod decision;
mod fraud;
mod inbound;
mod integrity;
mod mandates;
mod ops;
mod payments;
mod sessions;
mod tenancy;
mod timeline;
mod trading;
mod watch;
mod webhooks;

pub use sessions::{FederatedIdentity, Session, REFRESH_TTL_SECS};

mod cache;

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::{AuditEntry, AuditRecord, AuditVerification};
use crate::auth::{Actor, Principal, Scope};
use crate::config::Config;
use crate::crypto::SecretBox;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::fraud::{FraudScreen, StoredRules};
use crate::ledger::AccountBalance;
use crate::provider::ProviderSet;
pub use crate::storage::Backend;
use crate::storage::{Claim, ClaimState, Lease, Store, Tx};

pub use banking::SyncProgress;
pub use decision::{DecisionStatus, LimitUse, MoveDecision};
pub use fraud::{BacktestRules, CaseQuery};
pub use inbound::Inbound;
pub use integrity::Backup;
pub use ops::{AuditSweep, QueueFigures};
pub use payments::PaymentQuery;
pub use tenancy::{CreatedApiKey, NewApiKey, WhoAmI};
pub use timeline::{PaymentTimeline, TimelineEntry, TimelineKind};
pub use trading::OrderQuery;
pub use watch::{Watch, WatchFrom};

/// The SDK's entry point. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    providers: Arc<dyn ProviderSet>,
    fraud: Arc<dyn FraudScreen>,
    secrets: SecretBox,
    auth_cache: tenancy::AuthCache,
    /// How long an idempotency claim is protected before a retry may take it over.
    lease: std::time::Duration,
    /// A tenant's bank accounts (the unfiltered list), for a busy reader.
    accounts_cache: cache::TtlCache<crate::id::TenantId, Vec<crate::banking::BankAccount>>,
    /// Confirmation tokens of money moves above a key's `confirm_above`.
    confirmations: confirm::Confirmations,
}

/// Builds a [`Platform`]: `PlatformBuilder::new(config).with_providers(p).build().await`.
pub struct PlatformBuilder {
    config: Config,
    providers: Option<Arc<dyn ProviderSet>>,
    fraud: Option<Arc<dyn FraudScreen>>,
    store: Option<Store>,
    auth_cache_ttl: std::time::Duration,
    read_cache_ttl: std::time::Duration,
    lease: Option<std::time::Duration>,
    confirmation_ttl: std::time::Duration,
}

impl PlatformBuilder {
    /// Starts from a configuration.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            providers: None,
            fraud: None,
            store: None,
            auth_cache_ttl: std::time::Duration::from_secs(5),
            read_cache_ttl: std::time::Duration::from_secs(1),
            lease: None,
            confirmation_ttl: std::time::Duration::from_secs(300),
        }
    }

    /// How long a confirmation token (a money move above a key's `confirm_above`) stays
    /// valid (default 300 s).
    pub fn with_confirmation_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.confirmation_ttl = ttl;
        self
    }

    /// How long this process reuses a tenant's bank account list (default 1 s; zero turns it
    /// off). Links, syncs and removals made through this process show at once; those made by
    /// other processes on the same database within this time.
    pub fn with_read_cache_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.read_cache_ttl = ttl;
        self
    }

    /// How long an authenticated API key is remembered in this process (default 5 s; zero
    /// turns the cache off). Revoking a key or changing its limits takes effect at once in the
    /// process that did it, and within this time in other processes sharing the database.
    pub fn with_auth_cache_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.auth_cache_ttl = ttl;
        self
    }

    /// How long an idempotency claim is protected before a retry may take it over (default:
    /// the configuration's `idempotency_lease_secs`, 120 s). An operation under a claim —
    /// its provider call with every retry included — is cut off at three quarters of it, so
    /// it ends before a retry could take over; a holder that is late anyway cannot complete
    /// (the claim is fenced by a token).
    pub fn with_idempotency_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// The providers (required): `fintech_providers::SimProviders` for the offline default.
    pub fn with_providers(mut self, providers: Arc<dyn ProviderSet>) -> Self {
        self.providers = Some(providers);
        self
    }

    /// The fraud screen (default: [`StoredRules`], each tenant's stored rule set with velocity
    /// counted in the database; a tenant without rules is allowed everything).
    pub fn with_fraud_screen(mut self, fraud: Arc<dyn FraudScreen>) -> Self {
        self.fraud = Some(fraud);
        self
    }

    /// Reuses an open store instead of connecting with the configuration's URL.
    pub(crate) fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Shares `other`'s database connections (pool) instead of connecting with the
    /// configuration's URL: a second platform over the same data, for example with other
    /// cache or token lifetimes.
    pub fn sharing_database_with(self, other: &Platform) -> Self {
        self.with_store(other.inner.store.clone())
    }

    /// Connects (creating and migrating the database if needed) and returns the platform.
    pub async fn build(self) -> Result<Platform> {
        let providers = self
            .providers
            .ok_or_else(|| Error::validation("providers", "a PlatformBuilder needs providers"))?;
        let secrets = self.config.secret_box()?;
        let lease = self.lease.unwrap_or(std::time::Duration::from_secs(
            self.config.idempotency_lease_secs,
        ));
        if lease < std::time::Duration::from_millis(100) {
            return Err(Error::validation(
                "idempotency_lease_secs",
                "the idempotency lease must be at least 100 ms",
            ));
        }
        let store = match self.store {
            Some(s) => s,
            None => Store::connect(&self.config).await?,
        };
        let day_ago = crate::storage::now_micros() - 24 * 3600 * 1_000_000;
        store.purge_idempotency(day_ago).await?;
        providers.attach_state(&crate::provider_state::ProviderState::database(
            store.clone(),
        ));
        let fraud = self
            .fraud
            .unwrap_or_else(|| Arc::new(StoredRules::over(store.clone())));
        let confirmations =
            confirm::Confirmations::new(secrets.signing_key(), self.confirmation_ttl);
        Ok(Platform {
            inner: Arc::new(Inner {
                store,
                providers,
                fraud,
                secrets,
                auth_cache: tenancy::AuthCache::new(self.auth_cache_ttl),
                lease,
                accounts_cache: cache::TtlCache::new(self.read_cache_ttl, 10_000),
                confirmations,
            }),
        })
    }
}

/// A page request for logs: records after `after`, at most `limit` (default 100, max 500).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct LogQuery {
    /// Sequence number to start after (0: from the beginning).
    #[serde(default)]
    pub after: i64,
    /// Page size.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
}

impl Platform {
    /// A builder.
    pub fn builder(config: Config) -> PlatformBuilder {
        PlatformBuilder::new(config)
    }

    /// The database engine this platform runs on.
    pub fn backend(&self) -> Backend {
        self.inner.store.backend()
    }

    /// Applies the embedded migrations (idempotent; safe from several processes at once).
    /// [`PlatformBuilder::build`] already does this when it connects.
    pub async fn migrate(&self) -> Result<()> {
        self.inner.store.migrate().await
    }

    /// True when every embedded migration has been applied (readiness checks).
    pub async fn migrations_applied(&self) -> Result<bool> {
        self.inner.store.migrations_applied().await
    }

    /// Closes the database connections (at shutdown; later calls fail).
    pub async fn close(&self) {
        self.inner.store.close().await;
    }

    /// The store, for test suites and benchmarks that check rows directly.
    #[cfg(feature = "testing")]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The providers.
    pub fn providers(&self) -> &Arc<dyn ProviderSet> {
        &self.inner.providers
    }

    /// Provider state in this platform's database (what the simulator keeps there; see
    /// [`crate::provider_state`]).
    pub fn provider_state(&self) -> crate::provider_state::ProviderState {
        crate::provider_state::ProviderState::database(self.inner.store.clone())
    }

    /// Verifies the principal's tenant's audit chain; reports the first bad record.
    pub async fn verify_audit(&self, p: &Principal) -> Result<AuditVerification> {
        p.require(Scope::FraudRead)?;
        self.inner.store.verify_audit(&p.tenant_id).await
    }

    /// Audit records of the principal's tenant.
    pub async fn audit_log(&self, p: &Principal, q: LogQuery) -> Result<Vec<AuditRecord>> {
        p.require(Scope::FraudRead)?;
        validate_limit(q.limit)?;
        self.inner
            .store
            .audit_records(&p.tenant_id, q.after, crate::storage::page_limit(q.limit))
            .await
    }

    /// Events of the principal's tenant after a sequence number.
    pub async fn events(&self, p: &Principal, q: LogQuery) -> Result<Vec<Event>> {
        p.require(Scope::FraudRead)?;
        validate_limit(q.limit)?;
        let events = self
            .inner
            .store
            .events_after(&p.tenant_id, q.after, crate::storage::page_limit(q.limit))
            .await?;
        self.events_seen(&p.tenant_id, &events);
        Ok(events)
    }

    /// Ledger balances of the principal's tenant, derived from postings.
    pub async fn ledger_balances(&self, p: &Principal) -> Result<Vec<AccountBalance>> {
        p.require(Scope::FraudRead)?;
        self.inner.store.ledger_balances(&p.tenant_id).await
    }

    // ---- shared steps ----

    /// Step 3 around `body`: claims the key, replays a finished result, releases the claim
    /// when `body` fails (it changed nothing durable: any provider side effect is keyed and is
    /// found again by a retry). `body` must call [`Tx::complete_idempotency`] (through
    /// [`finish`]) in its final transaction, and is cut off at three quarters of the lease.
    /// A holder that lost its lease to a retry anyway answers with the retry's result.
    async fn idempotent<T, F, Fut>(
        &self,
        p: &Principal,
        key: Option<String>,
        operation: &str,
        request_hash: String,
        body: F,
    ) -> Result<Executed<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(Idem) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let key = match key {
            Some(k) => validate_idempotency_key(&k)?,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let lease = match self.claim(p, &key, operation, &request_hash).await? {
            Claim::Completed(response) => {
                return Ok(Executed {
                    value: self.stored_answer(p, &key, &response)?,
                    replayed: true,
                });
            }
            Claim::Acquired(lease) => lease,
        };
        let idem = Idem {
            provider_key: derive_key(&format!("{}:{}", p.tenant_id, lease.epoch), &key),
            key: key.clone(),
            lease: lease.clone(),
            keep: true,
        };
        let deadline = self.inner.lease * 3 / 4;
        let result = match tokio::time::timeout(deadline, body(idem)).await {
            Ok(r) => r,
            Err(_) => Err(Error::Provider {
                provider: "platform",
                code: "timeout".to_owned(),
                message: format!(
                    "the operation did not finish within {} ms; retry with the same idempotency key to learn its outcome",
                    deadline.as_millis()
                ),
                request_id: None,
                retryable: true,
            }),
        };
        match result {
            Ok(v) => Ok(Executed::fresh(v)),
            Err(e) => self.after_failure(p, &key, &lease, e).await,
        }
    }

    /// Step 3 for an operation whose idempotency key is optional (every change that is not a
    /// provider-keyed money move): with a key, as [`Self::idempotent`] (the request is `operation`
    /// and `request`); without one, `body` runs unclaimed, since nothing could replay it.
    /// `body` gets the claim, if any, and must keep its answer in its final transaction
    /// ([`Self::kept`] and [`finish`], or [`Self::keep_answer`] when it writes nothing else).
    async fn once<T, F, Fut>(
        &self,
        p: &Principal,
        key: Option<String>,
        operation: &str,
        request: &impl Serialize,
        body: F,
    ) -> Result<Executed<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(Option<Idem>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match key {
            None => body(None).await.map(Executed::fresh),
            Some(key) => {
                let hash = hash_request(operation, request)?;
                self.idempotent(p, Some(key), operation, hash, |idem| body(Some(idem)))
                    .await
            }
        }
    }

    /// The answer to keep under a claim: the value's JSON, or (`secret`: the value holds a
    /// secret shown once, an API key or a signing secret) the JSON sealed with the platform's
    /// key, bound to the tenant and the idempotency key, so no secret rests in the clear.
    fn kept<T: Serialize>(
        &self,
        p: &Principal,
        idem: Option<&Idem>,
        value: &T,
        secret: bool,
    ) -> Result<Option<String>> {
        let Some(idem) = idem.filter(|i| i.keep) else {
            return Ok(None);
        };
        let json = serde_json::to_string(value).map_err(Error::internal)?;
        if !secret {
            return Ok(Some(json));
        }
        let sealed = self
            .inner
            .secrets
            .seal(&json, &answer_context(p, &idem.key))?;
        Ok(Some(format!("{SEALED}{}", hex::encode(sealed))))
    }

    /// A kept answer, read back for a replay.
    fn stored_answer<T: DeserializeOwned>(
        &self,
        p: &Principal,
        key: &str,
        stored: &str,
    ) -> Result<T> {
        match stored.strip_prefix(SEALED) {
            None => crate::storage::from_json(stored),
            Some(sealed) => {
                let bytes = hex::decode(sealed)
                    .map_err(|e| Error::internal(format!("sealed answer: {e}")))?;
                let json = self.inner.secrets.open(&bytes, &answer_context(p, key))?;
                crate::storage::from_json(secrecy::ExposeSecret::expose_secret(&json))
            }
        }
    }

    /// Keeps the answer of a claimed operation that writes nothing else (a provider call, a
    /// computation, a change that had already happened): its own transaction, which is then
    /// the operation's only one.
    async fn keep_answer<T: Serialize>(
        &self,
        p: &Principal,
        idem: Option<&Idem>,
        value: &T,
    ) -> Result<()> {
        let (Some(idem), Some(answer)) = (idem, self.kept(p, idem, value, false)?) else {
            return Ok(());
        };
        let mut tx = self.inner.store.begin().await?;
        tx.complete_idempotency(&p.tenant_id, &idem.key, &idem.lease, &answer)
            .await?;
        tx.commit().await
    }

    /// Whether `object_id` was approved (`action`) under this claim's key: the approval's
    /// transaction committed, so a retry resumes what followed it instead of refusing a
    /// no-longer-held object.
    async fn approved_under(
        &self,
        p: &Principal,
        object_id: &str,
        action: &str,
        idem: Option<&Idem>,
    ) -> Result<bool> {
        let Some(idem) = idem else { return Ok(false) };
        let records = self
            .inner
            .store
            .object_audit(&p.tenant_id, &[object_id.to_owned()])
            .await?;
        Ok(records.iter().any(|r| {
            r.entry.action == action && r.entry.idempotency_key.as_deref() == Some(&idem.key)
        }))
    }

    /// Claims `key` with this platform's lease.
    async fn claim(
        &self,
        p: &Principal,
        key: &str,
        operation: &str,
        request_hash: &str,
    ) -> Result<Claim> {
        let lease = i64::try_from(self.inner.lease.as_micros()).unwrap_or(i64::MAX);
        self.inner
            .store
            .claim_idempotency(&p.tenant_id, key, operation, request_hash, lease)
            .await
    }

    /// A claimed operation failed. If this holder still owns the claim, it is released so a
    /// retry may run; if a retry took it over and finished, its result is the answer (the
    /// rolled-back attempt changed nothing); if the retry still runs, say so.
    async fn after_failure<T: DeserializeOwned>(
        &self,
        p: &Principal,
        key: &str,
        lease: &Lease,
        e: Error,
    ) -> Result<Executed<T>> {
        let store = &self.inner.store;
        match store.idempotency_state(&p.tenant_id, key, lease).await {
            Ok((ClaimState::Done(response), mine)) if !mine => Ok(Executed {
                value: self.stored_answer(p, key, &response)?,
                replayed: true,
            }),
            Ok((ClaimState::Running, false)) => Err(Error::conflict(
                crate::error::ConflictCode::IdempotencyInProgress,
                "a retry with this idempotency key took the request over and is still running; retry later",
            )),
            _ => {
                if let Err(release) = store.release_idempotency(&p.tenant_id, key, lease).await {
                    tracing::error!(error = %release, "could not release an idempotency claim; it expires with its lease");
                }
                Err(e)
            }
        }
    }

    /// Records a refused attempt (policy, fraud, scope) in the audit log, in its own transaction.
    async fn audit_denial(
        &self,
        p: &Principal,
        action: &str,
        object_type: &str,
        object_id: &str,
        idem: Option<&str>,
        err: &Error,
    ) -> Result<()> {
        let mut tx = self.inner.store.begin().await?;
        tx.append_audit(
            &p.tenant_id,
            &audit_entry(
                p,
                action,
                object_type,
                object_id,
                idem,
                &format!("denied: {err}"),
            ),
        )
        .await?;
        tx.commit().await
    }
}

/// The result of a mutating operation: its value, and whether it was replayed (an earlier
/// request with the same idempotency key ran the operation, and this is its stored answer;
/// nothing ran now). Shells render `replayed` (REST's `Idempotent-Replayed` header, MCP's
/// `replayed` field). It dereferences to the value, so a caller that does not care reads it as
/// the value (`executed.id`); [`Executed::into_value`] takes the value out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed<T> {
    /// What the operation answered.
    pub value: T,
    /// Whether the answer is a replay of an earlier request with the same idempotency key.
    pub replayed: bool,
}

impl<T> Executed<T> {
    /// An answer of the operation run now.
    pub fn fresh(value: T) -> Self {
        Self {
            value,
            replayed: false,
        }
    }

    /// The value.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The same answer with its value transformed.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Executed<U> {
        Executed {
            value: f(self.value),
            replayed: self.replayed,
        }
    }
}

impl<T> From<T> for Executed<T> {
    fn from(value: T) -> Self {
        Self::fresh(value)
    }
}

impl<T> std::ops::Deref for Executed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// Marks a kept answer that is sealed (hex of the ciphertext follows).
const SEALED: &str = "sealed:";

/// What a sealed answer is bound to: its tenant and idempotency key.
fn answer_context(p: &Principal, key: &str) -> String {
    format!("idempotency:{}:{key}", p.tenant_id)
}

/// The keys of one idempotent execution.
#[derive(Debug, Clone)]
struct Idem {
    /// The caller's key (or the generated one).
    key: String,
    /// The claim this execution holds; its final transaction completes the key only while
    /// the lease is still this one's.
    lease: Lease,
    /// The key sent to the provider: derived from the tenant, the caller's key and the claim's
    /// epoch, so a retry after a crash or a failure sends the same one and the provider does
    /// not act twice, while a key reused after it was purged (24 h) is a new request.
    provider_key: String,
    /// Whether this step keeps its answer under the claim; `false` for a step of a larger
    /// operation that keeps its own answer (it still records the key in its audit record).
    keep: bool,
}

impl Idem {
    /// The same claim for a step whose answer is not the operation's.
    fn step(&self) -> Self {
        Self {
            keep: false,
            ..self.clone()
        }
    }
}

/// Page sizes are 1 to 500 (absent: 100); anything else is refused rather than clamped, so a
/// caller never silently gets fewer rows than it asked for.
pub(crate) fn validate_limit(limit: Option<u32>) -> Result<()> {
    match limit {
        Some(n) if !(1..=500).contains(&n) => Err(Error::validation(
            "limit",
            format!("{n} is outside 1 to 500"),
        )),
        _ => Ok(()),
    }
}

fn validate_idempotency_key(k: &str) -> Result<String> {
    let ok = !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic());
    crate::payments::refuse_card_number("idempotency_key", k)?;
    if ok {
        Ok(k.to_owned())
    } else {
        Err(Error::validation(
            "idempotency_key",
            "1 to 255 printable ASCII characters without spaces",
        ))
    }
}

fn hash_request(operation: &str, request: &impl Serialize) -> Result<String> {
    let json = serde_json::to_vec(request)
        .map_err(|e| Error::internal(format!("serialize request: {e}")))?;
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    h.update([0]);
    h.update(&json);
    Ok(hex::encode(h.finalize()))
}

/// A provider-side key from a scope and a key: `fk-` + 40 hex chars.
fn derive_key(scope: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    format!("fk-{}", &hex::encode(h.finalize())[..40])
}

fn audit_entry(
    p: &Principal,
    action: &str,
    object_type: &str,
    object_id: &str,
    idem: Option<&str>,
    outcome: &str,
) -> AuditEntry {
    AuditEntry {
        actor: p.actor.to_string(),
        interface: p.interface.as_str().to_owned(),
        action: action.to_owned(),
        object_type: object_type.to_owned(),
        object_id: object_id.to_owned(),
        idempotency_key: idem.map(str::to_owned),
        outcome: outcome.to_owned(),
    }
}

fn api_key_of(p: &Principal) -> Option<String> {
    match &p.actor {
        Actor::ApiKey(id) => Some(id.to_string()),
        _ => None,
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::internal(format!("serialize: {e}")))
}

/// Checks optional free text given by a caller: bounded, no control characters, no card
/// number (refused without being echoed, so it reaches no row, event, webhook or audit record).
fn validate_text(field: &str, value: &Option<String>, max: usize) -> Result<()> {
    if let Some(v) = value {
        if v.chars().count() > max {
            return Err(Error::validation(
                field,
                format!("at most {max} characters"),
            ));
        }
        if v.chars().any(|c| c.is_control()) {
            return Err(Error::validation(
                field,
                "control characters are not allowed",
            ));
        }
        crate::payments::refuse_card_number(field, v)?;
    }
    Ok(())
}

/// [`finish`] for an operation whose claim is optional ([`Platform::once`]): keeps `answer`
/// (from [`Platform::kept`]) under the claim when there is one.
async fn finish_once(
    tx: &mut Tx,
    p: &Principal,
    idem: Option<&Idem>,
    answer: Option<&str>,
    events: &[(&str, &str, serde_json::Value)],
    audit: AuditEntry,
) -> Result<()> {
    finish(tx, p, idem.zip(answer), events, audit).await
}

/// Writes the trailing records of a change — event then audit, which lock the tenant head last.
async fn finish(
    tx: &mut Tx,
    p: &Principal,
    idem: Option<(&Idem, &str)>,
    events: &[(&str, &str, serde_json::Value)],
    audit: AuditEntry,
) -> Result<()> {
    if let Some((idem, response)) = idem {
        tx.complete_idempotency(&p.tenant_id, &idem.key, &idem.lease, response)
            .await?;
    }
    tx.append_events_and_audit(&p.tenant_id, events, &audit)
        .await?;
    Ok(())
}
