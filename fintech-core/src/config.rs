//! One configuration, read the same way by every shell: built-in defaults, then an optional
//! `fintech.toml` (or the file named by `FINTECH_CONFIG`), then `FINTECH_*` environment
//! variables; shells apply their command-line flags last. With nothing configured, everything
//! runs on the embedded default: an SQLite file and simulated providers.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;

use crate::crypto::SecretBox;
use crate::error::{Error, Result};

/// The default database: an SQLite file in the working directory, created on first use.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://fintech.db?mode=rwc";

/// Platform configuration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://PATH?mode=rwc` or `postgres://…`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// Base64 of 32 bytes encrypting secrets at rest. Without it, an SQLite database keeps a
    /// generated key in `<database file>.key`; PostgreSQL requires it.
    #[serde(default)]
    pub encryption_key: Option<SecretString>,
    /// Largest number of pooled database connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Seconds an idempotency claim is protected before a retry with the same key may take it
    /// over (a crashed or stuck holder). Operations are cut off at three quarters of it, and a
    /// late holder cannot complete once taken over.
    #[serde(default = "default_idempotency_lease_secs")]
    pub idempotency_lease_secs: u64,
}

fn default_idempotency_lease_secs() -> u64 {
    120
}

fn default_database_url() -> String {
    DEFAULT_DATABASE_URL.to_owned()
}

fn default_max_connections() -> u32 {
    10
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: default_database_url(),
            encryption_key: None,
            max_connections: default_max_connections(),
            idempotency_lease_secs: default_idempotency_lease_secs(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "[redacted]"),
            )
            .field("max_connections", &self.max_connections)
            .field("idempotency_lease_secs", &self.idempotency_lease_secs)
            .finish()
    }
}

/// A database URL with any password replaced by `[redacted]`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:[redacted]{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// Defaults, then `fintech.toml` (or `$FINTECH_CONFIG`), then `FINTECH_*` variables.
    pub fn load() -> Result<Self> {
        let file = std::env::var("FINTECH_CONFIG").unwrap_or_else(|_| "fintech.toml".to_owned());
        Self::figment(Path::new(&file))
            .extract()
            .map_err(|e| Error::validation("config", e.to_string()))
    }

    /// The layered sources, for shells that merge their own flags on top.
    pub fn figment(file: &Path) -> Figment {
        Figment::new()
            .merge(Toml::file(file))
            .merge(Env::prefixed("FINTECH_").only(&[
                "database_url",
                "encryption_key",
                "max_connections",
            ]))
    }

    /// A configuration for an SQLite file at `path`.
    pub fn sqlite(path: impl AsRef<Path>) -> Self {
        Self {
            database_url: format!("sqlite://{}?mode=rwc", path.as_ref().display()),
            ..Self::default()
        }
    }

    /// The SQLite file this configuration points at, if it is an SQLite file URL.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// The key for secrets at rest: configured, or (SQLite only) kept in `<db>.key`, created
    /// with owner-only permissions on first use.
    pub fn secret_box(&self) -> Result<SecretBox> {
        if let Some(key) = &self.encryption_key {
            return SecretBox::from_base64(key);
        }
        let Some(db) = self.sqlite_path() else {
            return Err(Error::validation(
                "encryption_key",
                "set FINTECH_ENCRYPTION_KEY (base64 of 32 random bytes) for this database",
            ));
        };
        let mut key_path = db.into_os_string();
        key_path.push(".key");
        let key_path = PathBuf::from(key_path);
        match std::fs::read_to_string(&key_path) {
            Ok(s) => SecretBox::from_base64(&SecretString::from(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretBox::generate_key();
                write_private(&key_path, secrecy::ExposeSecret::expose_secret(&key))?;
                tracing::warn!(path = %key_path.display(), "generated an encryption key for secrets at rest; back it up with the database");
                SecretBox::from_base64(&key)
            }
            Err(e) => Err(Error::internal(format!(
                "cannot read {}: {e}",
                key_path.display()
            ))),
        }
    }
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = Config {
            database_url: "postgres://app:hunter2@db:5432/fintech".into(),
            encryption_key: Some(SecretString::from("c2VjcmV0")),
            max_connections: 3,
            ..Config::default()
        };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("c2VjcmV0"), "{s}");
        assert!(s.contains("app:[redacted]@db"));
    }

    #[test]
    fn sqlite_path_is_parsed() {
        assert_eq!(
            Config::default().sqlite_path(),
            Some(PathBuf::from("fintech.db"))
        );
        assert_eq!(
            Config::sqlite("/tmp/x.db").sqlite_path(),
            Some(PathBuf::from("/tmp/x.db"))
        );
        let pg = Config {
            database_url: "postgres://h/db".into(),
            ..Config::default()
        };
        assert_eq!(pg.sqlite_path(), None);
        assert!(pg.secret_box().is_err());
    }
}
