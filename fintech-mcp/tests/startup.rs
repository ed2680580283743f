//! The `fintech-mcp` binary's first words: which database it opened, and, when a key is not
//! accepted, which database it was checked against and how to point at the server's.

use std::process::{Command, Stdio};

#[test]
fn says_which_database_and_how_to_point_at_the_servers() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_fintech-mcp"))
        .current_dir(dir.path())
        .env_remove("FINTECH_DATABASE_URL")
        .env_remove("FINTECH_CONFIG")
        .env(
            "FINTECH_API_KEY",
            format!("fk_{}", "ab".repeat(32)), // well formed, made on no database here
        )
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("fintech-mcp: database sqlite://fintech.db")
            && err.contains("created here: it is new and empty"),
        "{err}"
    );
    assert!(
        err.contains("not accepted by the database sqlite://fintech.db"),
        "{err}"
    );
    assert!(
        err.contains("FINTECH_DATABASE_URL") && err.contains("--database-url"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "stdout carries only protocol");
}
