//! Shared helpers for the end-to-end tests and benchmarks: fresh databases per backend.
//!
//! PostgreSQL suites run when `FINTECH_TEST_POSTGRES_URL` points at a server whose user may
//! create databases; each test gets a database of its own. With `FINTECH_REQUIRE_POSTGRES=1`
//! (set by `.ci/run`) a missing URL is a failure instead of a skip.

use sqlx::Connection;

pub mod bench;
pub mod process;

/// The PostgreSQL server URL for tests, `None` to skip, or a panic when CI requires it.
pub fn postgres_url() -> Option<String> {
    match std::env::var("FINTECH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("FINTECH_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("FINTECH_REQUIRE_POSTGRES=1 but FINTECH_TEST_POSTGRES_URL is not set: the PostgreSQL suite must run");
            }
            eprintln!("FINTECH_TEST_POSTGRES_URL not set: skipping the PostgreSQL suite");
            None
        }
    }
}

/// Creates a fresh database on the server at `server_url` and returns its URL.
pub async fn fresh_postgres_database(server_url: &str) -> anyhow::Result<String> {
    let name = format!("fintech_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(server_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(replace_database(server_url, &name))
}

/// `postgres://u:p@h:5432/old?x=y` with the database replaced by `name`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// Prints a suite's summary line and, when `FINTECH_TEST_REPORT` names a file, appends it
/// there: `.ci/run` reads that file to prove the PostgreSQL suite ran instead of skipping.
pub fn report(line: &str) {
    println!("{line}");
    eprintln!("{line}");
    if let Ok(path) = std::env::var("FINTECH_TEST_REPORT") {
        use std::io::Write;
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            panic!("cannot append to FINTECH_TEST_REPORT={path}: {e}");
        }
    }
}

/// A fresh SQLite database file URL in a new temporary directory (kept alive by the guard).
pub fn fresh_sqlite_database() -> anyhow::Result<(tempfile::TempDir, String)> {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fintech.db").display()
    );
    Ok((dir, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            replace_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
