//! State a provider keeps per tenant, in the platform's own database: the narrow door through
//! which the offline simulator (`fintech_providers::sim`) keeps its customers, payments,
//! idempotency keys, orders, positions and items, so the CLI, the server and `fintech-mcp`
//! opening one database see one simulated world, across restarts.
//!
//! A [`ProviderState`] holds small records (text, usually JSON) addressed by tenant, namespace
//! (the provider and domain, such as `sim.payments`), kind and key. Reads outside a
//! transaction see committed records. Every change happens in a [`ProviderStateTx`], which
//! first takes the (tenant, namespace) lock row, so transactions on one tenant's namespace
//! run one after another — across processes on SQLite and PostgreSQL alike — and a
//! read-modify-write inside one never races another; dropping it without
//! [`ProviderStateTx::commit`] changes nothing.
//!
//! [`ProviderState::in_memory`] keeps the same records in this process only (for a provider
//! used without a platform, as the simulator's own conformance tests do). The platform gives
//! its database-backed state to its providers when it is built
//! ([`crate::ProviderSet::attach_state`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::TenantId;
use crate::storage::{Store, Tx};

/// The records of one (tenant, namespace) in memory: (kind, key) → value.
type Records = BTreeMap<(String, String), String>;

/// One (tenant, namespace) in memory: the committed records, and the lock its transactions
/// hold one at a time (readers outside a transaction do not wait for it).
#[derive(Default)]
struct SpaceInner {
    writer: Arc<tokio::sync::Mutex<()>>,
    records: Mutex<Records>,
}

impl SpaceInner {
    fn records(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

type Space = Arc<SpaceInner>;

/// Per-tenant provider state: in the platform's database, or in this process's memory.
#[derive(Clone)]
pub struct ProviderState {
    backing: Backing,
}

#[derive(Clone)]
enum Backing {
    Memory(Arc<Memory>),
    Database(Store),
}

#[derive(Default)]
struct Memory {
    spaces: Mutex<HashMap<(TenantId, String), Space>>,
}

impl Memory {
    fn space(&self, tenant: &TenantId, namespace: &str) -> Space {
        let mut spaces = self
            .spaces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        spaces
            .entry((tenant.clone(), namespace.to_owned()))
            .or_default()
            .clone()
    }
}

impl std::fmt::Debug for ProviderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.backing {
            Backing::Memory(_) => "ProviderState::in_memory",
            Backing::Database(_) => "ProviderState::database",
        })
    }
}

fn check_name(field: &'static str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > 200 {
        return Err(Error::validation(field, "must be 1 to 200 characters"));
    }
    Ok(())
}

impl ProviderState {
    /// State kept in this process only: gone when the process ends, invisible to others.
    pub fn in_memory() -> Self {
        Self {
            backing: Backing::Memory(Arc::new(Memory::default())),
        }
    }

    /// State in the platform's database.
    pub(crate) fn database(store: Store) -> Self {
        Self {
            backing: Backing::Database(store),
        }
    }

    /// True when the records live in a database every process opening it shares.
    pub fn is_persistent(&self) -> bool {
        matches!(self.backing, Backing::Database(_))
    }

    /// One committed record, if present.
    pub async fn get(
        &self,
        tenant: &TenantId,
        namespace: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<String>> {
        match &self.backing {
            Backing::Database(store) => {
                store
                    .provider_state_get(tenant.as_str(), namespace, kind, key)
                    .await
            }
            Backing::Memory(m) => {
                let space = m.space(tenant, namespace);
                let records = space.records();
                Ok(records.get(&(kind.to_owned(), key.to_owned())).cloned())
            }
        }
    }

    /// One committed record parsed from JSON, if present.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        tenant: &TenantId,
        namespace: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<T>> {
        self.get(tenant, namespace, kind, key)
            .await?
            .map(|s| parse(&s))
            .transpose()
    }

    /// Every committed record of a kind, ordered by key.
    pub async fn list(
        &self,
        tenant: &TenantId,
        namespace: &str,
        kind: &str,
    ) -> Result<Vec<(String, String)>> {
        match &self.backing {
            Backing::Database(store) => {
                store
                    .provider_state_list(tenant.as_str(), namespace, kind)
                    .await
            }
            Backing::Memory(m) => {
                let space = m.space(tenant, namespace);
                let records = space.records();
                Ok(of_kind(&records, kind))
            }
        }
    }

    /// Starts a transaction on one tenant's namespace. It waits until no other transaction
    /// (in this or another process) holds the same (tenant, namespace), and holds it until
    /// committed or dropped.
    pub async fn begin(&self, tenant: &TenantId, namespace: &str) -> Result<ProviderStateTx> {
        check_name("namespace", namespace)?;
        let inner = match &self.backing {
            Backing::Database(store) => {
                let mut tx = store.begin().await?;
                tx.lock_provider_state(tenant.as_str(), namespace).await?;
                TxInner::Database(tx)
            }
            Backing::Memory(m) => {
                let space = m.space(tenant, namespace);
                let writer = space.writer.clone().lock_owned().await;
                TxInner::Memory {
                    space,
                    _writer: writer,
                    pending: BTreeMap::new(),
                }
            }
        };
        Ok(ProviderStateTx {
            tenant: tenant.clone(),
            namespace: namespace.to_owned(),
            inner,
        })
    }
}

fn parse<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::internal(format!("stored provider state: {e}")))
}

fn of_kind(records: &Records, kind: &str) -> Vec<(String, String)> {
    records
        .range((kind.to_owned(), String::new())..)
        .take_while(|((k, _), _)| k == kind)
        .map(|((_, key), v)| (key.clone(), v.clone()))
        .collect()
}

/// A transaction on one tenant's provider namespace (see [`ProviderState::begin`]). Its writes
/// are seen by its own reads and by everyone else once [`ProviderStateTx::commit`] returns.
pub struct ProviderStateTx {
    tenant: TenantId,
    namespace: String,
    inner: TxInner,
}

enum TxInner {
    Database(Tx),
    Memory {
        space: Space,
        /// Held until commit or drop: the namespace's one writer.
        _writer: tokio::sync::OwnedMutexGuard<()>,
        /// Writes not committed yet: `None` deletes.
        pending: BTreeMap<(String, String), Option<String>>,
    },
}

impl std::fmt::Debug for ProviderStateTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderStateTx")
            .field("tenant", &self.tenant)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl ProviderStateTx {
    /// One record, with this transaction's own writes.
    pub async fn get(&mut self, kind: &str, key: &str) -> Result<Option<String>> {
        match &mut self.inner {
            TxInner::Database(tx) => {
                tx.provider_state_get(self.tenant.as_str(), &self.namespace, kind, key)
                    .await
            }
            TxInner::Memory { space, pending, .. } => {
                let k = (kind.to_owned(), key.to_owned());
                Ok(match pending.get(&k) {
                    Some(v) => v.clone(),
                    None => space.records().get(&k).cloned(),
                })
            }
        }
    }

    /// One record parsed from JSON, with this transaction's own writes.
    pub async fn get_json<T: DeserializeOwned>(
        &mut self,
        kind: &str,
        key: &str,
    ) -> Result<Option<T>> {
        self.get(kind, key).await?.map(|s| parse(&s)).transpose()
    }

    /// Every record of a kind, ordered by key, with this transaction's own writes.
    pub async fn list(&mut self, kind: &str) -> Result<Vec<(String, String)>> {
        match &mut self.inner {
            TxInner::Database(tx) => {
                tx.provider_state_list(self.tenant.as_str(), &self.namespace, kind)
                    .await
            }
            TxInner::Memory { space, pending, .. } => {
                let mut all: BTreeMap<String, String> =
                    of_kind(&space.records(), kind).into_iter().collect();
                for ((k, key), v) in pending.iter() {
                    if k != kind {
                        continue;
                    }
                    match v {
                        Some(v) => all.insert(key.clone(), v.clone()),
                        None => all.remove(key),
                    };
                }
                Ok(all.into_iter().collect())
            }
        }
    }

    /// Writes a record (insert or replace).
    pub async fn put(&mut self, kind: &str, key: &str, value: &str) -> Result<()> {
        check_name("kind", kind)?;
        check_name("key", key)?;
        match &mut self.inner {
            TxInner::Database(tx) => {
                tx.provider_state_put(self.tenant.as_str(), &self.namespace, kind, key, value)
                    .await
            }
            TxInner::Memory { pending, .. } => {
                pending.insert((kind.to_owned(), key.to_owned()), Some(value.to_owned()));
                Ok(())
            }
        }
    }

    /// Writes a record as JSON.
    pub async fn put_json<T: Serialize>(&mut self, kind: &str, key: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string(value)
            .map_err(|e| Error::internal(format!("provider state: {e}")))?;
        self.put(kind, key, &text).await
    }

    /// Deletes a record (nothing when absent).
    pub async fn delete(&mut self, kind: &str, key: &str) -> Result<()> {
        match &mut self.inner {
            TxInner::Database(tx) => {
                tx.provider_state_delete(self.tenant.as_str(), &self.namespace, kind, key)
                    .await
            }
            TxInner::Memory { pending, .. } => {
                pending.insert((kind.to_owned(), key.to_owned()), None);
                Ok(())
            }
        }
    }

    /// Makes every write of this transaction visible at once, and lets the next one in.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Database(tx) => tx.commit().await,
            TxInner::Memory { space, pending, .. } => {
                let mut records = space.records();
                for (k, v) in pending {
                    match v {
                        Some(v) => records.insert(k, v),
                        None => records.remove(&k),
                    };
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_transactions_see_their_writes_and_drop_them_unless_committed() {
        let state = ProviderState::in_memory();
        let t = TenantId::generate();
        let mut tx = state.begin(&t, "ns").await.expect("begin");
        tx.put("k", "a", "1").await.expect("put");
        tx.put("k", "b", "2").await.expect("put");
        tx.put("other", "a", "x").await.expect("put");
        assert_eq!(tx.get("k", "a").await.expect("get").as_deref(), Some("1"));
        assert_eq!(state.get(&t, "ns", "k", "a").await.expect("get"), None);
        drop(tx);
        assert!(state.list(&t, "ns", "k").await.expect("list").is_empty());
        let mut tx = state.begin(&t, "ns").await.expect("begin");
        tx.put("k", "a", "1").await.expect("put");
        tx.put("k", "b", "2").await.expect("put");
        tx.commit().await.expect("commit");
        let mut tx = state.begin(&t, "ns").await.expect("begin");
        tx.delete("k", "a").await.expect("delete");
        tx.put("k", "c", "3").await.expect("put");
        assert_eq!(
            tx.list("k").await.expect("list"),
            vec![("b".into(), "2".into()), ("c".into(), "3".into())]
        );
        tx.commit().await.expect("commit");
        assert_eq!(
            state.list(&t, "ns", "k").await.expect("list"),
            vec![("b".into(), "2".into()), ("c".into(), "3".into())]
        );
        let other = TenantId::generate();
        assert!(state
            .list(&other, "ns", "k")
            .await
            .expect("list")
            .is_empty());
    }
}
