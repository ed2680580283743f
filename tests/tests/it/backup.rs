//! Backup and restore while the server is under load. SQLite: `fintech backup --to FILE`
//! (core's `Platform::backup_to`, `VACUUM INTO`) taken mid-load; PostgreSQL: `pg_dump -Fc`
//! taken mid-load and `pg_restore` into a new database (the procedure of
//! docs/operations.md). Each restored copy passes `fintech audit verify` and `fintech ledger
//! verify`, holds every payment acknowledged before the backup began, and a server started on
//! it replays their keys.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fintech_tests::process::{ServerProcess, ServerSpec};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};

use crate::kill9::{all_payment_ids, load, pay, until_acked, Answer, Seen};

/// Starts load on `spec`'s database, runs `backup` once 30 payments are acknowledged, stops
/// the load, and returns what was acknowledged before the backup began.
async fn backup_under_load<F, Fut>(
    spec: &ServerSpec,
    label: &str,
    backup: F,
) -> (ServerProcess, String, Vec<(String, String)>)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let server = ServerProcess::start(spec)
        .await
        .expect("start fintech-server");
    let token = server.admin_key.clone().expect("admin key");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let acks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(load(
        vec![server.base.clone()],
        token.clone(),
        label.to_owned(),
        seen.clone(),
        acks.clone(),
        stop.clone(),
    ));
    until_acked(&acks, 30).await;
    let before: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .acked
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    backup().await;
    let during = acks.load(Ordering::SeqCst);
    // the load went on while the copy was taken
    until_acked(&acks, during + 10).await;
    stop.store(true, Ordering::SeqCst);
    loader.await.expect("load");
    (server, token, before)
}

/// The restored copy verifies, holds the payments acknowledged before the backup, and a
/// server on it replays their keys.
async fn check_restored(restored: &ServerSpec, token: &str, before: &[(String, String)]) {
    for what in [["audit", "verify"], ["ledger", "verify"]] {
        let (ok, out) = restored.cli(&what).await.expect("run fintech");
        assert!(
            ok,
            "fintech {} {} on the restored copy: {out}",
            what[0], what[1]
        );
    }
    let server = ServerProcess::start(restored)
        .await
        .expect("a server on the restored copy");
    let client = reqwest::Client::new();
    let ids = all_payment_ids(&client, &server.base, token).await;
    for (key, id) in before {
        assert!(
            ids.contains(id),
            "payment {id} acknowledged before the backup is missing"
        );
        match pay(&client, &server.base, token, key).await {
            Answer::Created {
                id: again,
                replayed,
            } => {
                assert_eq!(&again, id);
                assert!(replayed, "key {key} did not replay on the restored copy");
            }
            Answer::InProgress => panic!("key {key} in progress on the restored copy"),
            Answer::Failed(e) => panic!("key {key} on the restored copy: {e}"),
        }
    }
    server.kill9().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_online_backup_restores() {
    let (dir, url) = fresh_sqlite_database().expect("temp sqlite");
    let spec = ServerSpec::new(url, dir.path());
    let copy: PathBuf = dir.path().join("copy").join("fintech-backup.db");
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir");
    let to = copy.to_str().expect("utf-8").to_owned();
    let (server, token, before) = backup_under_load(&spec, "backup", || async {
        let (ok, out) = spec
            .cli(&["backup", "--to", &to])
            .await
            .expect("run fintech");
        assert!(ok, "fintech backup: {out}");
    })
    .await;
    // a second backup to the same file is refused, and leaves the first intact
    let (ok, out) = spec
        .cli(&["backup", "--to", &to])
        .await
        .expect("run fintech");
    assert!(!ok && out.contains("must not exist"), "{out}");
    server.kill9().await.expect("stop");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the copy is readable by others: {mode:o}");
    }
    let mut restored = spec.clone();
    restored.database_url = format!("sqlite://{to}?mode=rw");
    check_restored(&restored, &token, &before).await;
    // the ledger check is not a formality: a changed posting and a changed payment are named
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&restored.database_url)
            .await
            .expect("open the copy");
        sqlx::query("UPDATE postings SET amount_minor = amount_minor + 1 WHERE rowid = (SELECT MIN(rowid) FROM postings)")
            .execute(&mut conn)
            .await
            .expect("tamper");
        sqlx::query("UPDATE payments SET captured_minor = 1 WHERE id = $1")
            .bind(&before[0].1)
            .execute(&mut conn)
            .await
            .expect("tamper");
        conn.close().await.expect("close");
    }
    let (ok, out) = restored
        .cli(&["ledger", "verify"])
        .await
        .expect("run fintech");
    assert!(!ok, "a tampered ledger verified: {out}");
    assert!(
        out.contains("unbalanced") && out.contains(&format!("payment {}", before[0].1)),
        "{out}"
    );
    report(&format!(
        "sqlite backup and restore: 1 passed, 0 failed ({} payments acknowledged before the copy)",
        before.len()
    ));
}

/// `pg_dump`/`pg_restore`: on PATH, else the newest under /usr/lib/postgresql.
fn pg_tool(name: &str) -> String {
    let on_path = std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        return name.to_owned();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    found.retain(|p| p.exists());
    found.sort();
    found
        .pop()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| panic!("{name} not found on PATH or under /usr/lib/postgresql"))
}

async fn run_tool(program: &str, args: &[&str]) {
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_dump_restores() {
    let Some(server) = postgres_url() else { return };
    let url = fresh_postgres_database(&server).await.expect("database");
    let dir = tempfile::tempdir().expect("dir");
    let spec = ServerSpec::new(url.clone(), dir.path());
    let dump = dir.path().join("fintech.dump");
    let dump_path = dump.to_str().expect("utf-8").to_owned();
    let pg_dump = pg_tool("pg_dump");
    let (running, token, before) = backup_under_load(&spec, "pgdump", || async {
        run_tool(&pg_dump, &["-Fc", "-f", &dump_path, "-d", &url]).await;
    })
    .await;
    running.kill9().await.expect("stop");
    let target = fresh_postgres_database(&server).await.expect("database");
    run_tool(
        &pg_tool("pg_restore"),
        &["--no-owner", "--exit-on-error", "-d", &target, &dump_path],
    )
    .await;
    let mut restored = spec.clone();
    restored.database_url = target;
    check_restored(&restored, &token, &before).await;
    report(&format!(
        "postgres backup and restore: 1 passed, 0 failed ({} payments acknowledged before the dump)",
        before.len()
    ));
}
