//! Storage through sqlx: SQLite (the embedded default, WAL) or PostgreSQL (production, shared by
//! several server instances), chosen by the URL. One set of SQL runs on both through sqlx's
//! `Any` driver; each backend has its own embedded migrations.
//!
//! Invariants:
//! - every change is written by one [`Tx`]: the domain row, its ledger postings, its audit
//!   record and its event commit together or not at all;
//! - a tenant's audit records and events are numbered under that tenant's `tenant_heads` row
//!   lock, taken last in each transaction, so numbers commit in order and never fork;
//! - nothing that must be shared between server instances lives only in process memory
//!   (idempotency claims, spending reservations, sequence numbers are all rows).

mod banking;
mod fraud;
mod identities;
mod inbound;
mod integrity;
mod journal;
mod mandates;
mod ops;
mod payments;
mod provider_state;
mod tenancy;
mod timeline;
mod trading;
mod webhooks;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor};

use crate::config::Config;
use crate::error::{Error, Result};

pub use banking::ItemRow;
pub use fraud::CaseResolution;
pub use journal::{Claim, ClaimState, Lease};
pub use payments::PaymentRow;
pub use tenancy::{ApiKeyRecord, KeyUsage, Tenant, TenantSettings, User};
pub use trading::OrderRow;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connection pool plus the backend it talks to.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
}

impl Store {
    /// Connects using the configuration's URL and pool size, then applies migrations.
    pub async fn connect(config: &Config) -> Result<Self> {
        Self::connect_url(&config.database_url, config.max_connections).await
    }

    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies migrations. SQLite files
    /// are created on first use when the URL says `mode=rwc`.
    pub async fn connect_url(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::validation(
                "database_url",
                "expected sqlite://PATH?mode=rwc or postgres://USER:PASSWORD@HOST/DB",
            ));
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| Error::validation("database_url", e.to_string()))?;
        let mut pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; FULL keeps a committed payment
                    // durable across power loss; the busy timeout queues writers of other
                    // processes (CLI beside a server) instead of failing them.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await.map_err(|e| match e {
            sqlx::Error::Configuration(_) | sqlx::Error::Database(_) | sqlx::Error::Io(_) => {
                Error::internal(format!(
                    "cannot open database {}: {e}",
                    crate::config::redact_url(url)
                ))
            }
            other => Error::from(other),
        })?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations of this backend (idempotent; safe from several
    /// processes at once: sqlx takes an advisory lock on PostgreSQL).
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// True when every embedded migration has been applied (readiness checks).
    pub async fn migrations_applied(&self) -> Result<bool> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(MAX(version) AS BIGINT) FROM _sqlx_migrations WHERE success = TRUE",
        )
        .fetch_one(&self.pool)
        .await
        .ok()
        .flatten();
        Ok(applied == Some(latest))
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The underlying pool (for tests and benchmarks that need raw SQL).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write lock is
    /// taken up front and waits (busy timeout) instead of failing on upgrade.
    ///
    /// Cancel-safe: the `BEGIN` runs in a task of its own, so a caller dropped while waiting
    /// (a client that disconnects mid-request) never returns a connection to the pool inside
    /// a transaction nobody owns. sqlx counts a custom `BEGIN` before it checks that it took
    /// effect; a future dropped between the two left the connection holding SQLite's write
    /// lock, and every later `begin_with` on it failed ("non-zero transaction depth"). Here
    /// the task always finishes, and a `Transaction` nobody receives is dropped, which rolls
    /// it back.
    pub async fn begin(&self) -> Result<Tx> {
        let pool = self.pool.clone();
        let backend = self.backend;
        let inner = tokio::spawn(async move {
            match backend {
                Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Backend::Postgres => pool.begin().await,
            }
        })
        .await
        .map_err(|e| Error::internal(format!("begin: {e}")))??;
        Ok(Tx { inner })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Tx {
    /// Commits every write of this transaction at once.
    pub async fn commit(self) -> Result<()> {
        self.inner.commit().await?;
        Ok(())
    }

    /// The connection, for queries.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }
}

/// Now, in microseconds since the epoch.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// Now, at the precision the database stores (microseconds), so a value returned to a caller
/// equals the value read back later.
pub fn now() -> DateTime<Utc> {
    ts(now_micros())
}

/// Microseconds to a timestamp.
pub(crate) fn ts(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// The select list of an overflow-safe `SUM` of an integer expression, as two columns
/// `{name}_hi` and `{name}_lo` (the sums of each value's billions and of its remainder), which
/// [`split_sum`] adds up as an `i128`. A plain `SUM` of `BIGINT` minor units raises "integer
/// overflow" on SQLite once a total passes `i64::MAX`; each part here stays within `i64`
/// for any number of rows a table can hold.
pub(crate) fn split_sum_sql(expr: &str, name: &str) -> String {
    format!(
        "CAST(COALESCE(SUM(({expr}) / 1000000000), 0) AS BIGINT) AS {name}_hi, \
         CAST(COALESCE(SUM(({expr}) % 1000000000), 0) AS BIGINT) AS {name}_lo"
    )
}

/// The total selected by [`split_sum_sql`] under `name`.
pub(crate) fn split_sum(row: &sqlx::any::AnyRow, name: &str) -> Result<i128> {
    let hi: i64 = col(row, &format!("{name}_hi"))?;
    let lo: i64 = col(row, &format!("{name}_lo"))?;
    Ok(i128::from(hi) * 1_000_000_000 + i128::from(lo))
}

/// Reads a column, turning a decode failure into an internal error.
pub(crate) fn col<'r, T>(row: &'r sqlx::any::AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    sqlx::Row::try_get(row, name).map_err(|e| Error::internal(format!("column {name}: {e}")))
}

/// Serializes to JSON text for a column.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(format!("serialize: {e}")))
}

/// Parses JSON text from a column.
pub fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::internal(format!("stored JSON: {e}")))
}

/// Clamps a page size.
pub fn page_limit(limit: Option<u32>) -> i64 {
    i64::from(limit.unwrap_or(100).clamp(1, 500))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Begins dropped at every point of their progress leave no connection inside a
    /// transaction: afterwards each pooled connection still begins and commits.
    async fn dropped_begins_leave_the_pool_usable(store: Store) {
        for polls in 0..200u32 {
            let begin = store.begin();
            tokio::pin!(begin);
            let mut done = false;
            for _ in 0..polls % 40 {
                if futures::poll!(begin.as_mut()).is_ready() {
                    done = true;
                    break;
                }
                tokio::task::yield_now().await;
            }
            if polls % 3 == 0 && !done {
                // give the worker time to finish the BEGIN the dropped future asked for
                std::thread::sleep(Duration::from_micros(u64::from(polls) * 5));
            }
        }
        for _ in 0..20 {
            let mut tx = store.begin().await.expect("a pooled connection is usable");
            sqlx::query("SELECT 1")
                .execute(tx.conn())
                .await
                .expect("query");
            tx.commit().await.expect("commit");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_begin_on_sqlite() {
        let path = std::env::temp_dir().join(format!("fintech-begin-{}.db", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = Store::connect_url(&url, 2).await.expect("store");
        dropped_begins_leave_the_pool_usable(store.clone()).await;
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
