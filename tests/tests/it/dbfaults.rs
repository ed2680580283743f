//! Database faults under load, against the real `fintech-server` binary:
//!
//! * PostgreSQL restarted mid-load (`FINTECH_FAULT_PG_RESTART`: a shell command restarting the
//!   server of `FINTECH_TEST_POSTGRES_URL`; `.ci/run` runs this test alone, since the restart
//!   would break every other suite on that server): each request answers — a payment or a
//!   clean `503 database_unavailable` — the pool recovers without a restart of the
//!   application, and afterwards the rule of docs/reliability.md holds.
//! * SQLite on a full disk (the database on a small tmpfs, filled up; needs root to mount):
//!   payments answer `503 database_unavailable` saying the disk is full, nothing is
//!   half-written (`PRAGMA integrity_check`, the audit chain and the ledger), and payments
//!   succeed again once space returns, without a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fintech_tests::process::{ServerProcess, ServerSpec};
use fintech_tests::{fresh_postgres_database, postgres_url, report};

use crate::kill9::{all_payment_ids, load, pay, until_acked, Answer, Seen};

/// The rule after a fault: acknowledged keys replay, unanswered keys resolve once, no other
/// payment exists, `fintech audit verify` and `fintech ledger verify` pass.
async fn check_exactly_once(spec: &ServerSpec, base: &str, token: &str, seen: &Seen) {
    let client = reqwest::Client::new();
    let mut ids = std::collections::BTreeSet::new();
    for (key, id) in &seen.acked {
        match pay(&client, base, token, key).await {
            Answer::Created {
                id: again,
                replayed,
            } => {
                assert_eq!(&again, id, "key {key} answered another payment");
                assert!(replayed, "key {key} was not replayed");
            }
            Answer::InProgress => panic!("acknowledged key {key} in progress"),
            Answer::Failed(e) => panic!("acknowledged key {key}: {e}"),
        }
        ids.insert(id.clone());
    }
    for key in &seen.unknown {
        let mut resolved = None;
        for _ in 0..300 {
            match pay(&client, base, token, key).await {
                Answer::Created { id, .. } => {
                    resolved = Some(id);
                    break;
                }
                Answer::InProgress => tokio::time::sleep(Duration::from_millis(100)).await,
                Answer::Failed(e) => panic!("the retry of key {key} failed: {e}"),
            }
        }
        let id = resolved.unwrap_or_else(|| panic!("key {key} stayed in progress"));
        assert!(ids.insert(id), "two keys answered one payment");
    }
    let listed = all_payment_ids(&client, base, token).await;
    let listed: std::collections::BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(
        listed, ids,
        "the payments are not exactly those the keys account for"
    );
    for what in [["audit", "verify"], ["ledger", "verify"]] {
        let (ok, out) = spec.cli(&what).await.expect("run fintech");
        assert!(ok, "fintech {} {}: {out}", what[0], what[1]);
    }
}

/// Every failure answered with a clean 503 `database_unavailable` (not a dropped connection,
/// not a generic 500) whose detail contains `expect`, or — when `cut_off_ok`, for a request
/// that waited for the database past the idempotency lease's cut-off — the retryable timeout
/// telling the caller to retry with the same key. Returns how many there were.
fn failures_are_clean(seen: &Seen, expect: &str, cut_off_ok: bool) -> usize {
    for f in &seen.failures {
        let unavailable =
            f.starts_with("503") && f.contains("database_unavailable") && f.contains(expect);
        let cut_off = cut_off_ok
            && f.starts_with("502")
            && f.contains("\"retryable\":true")
            && f.contains("retry with the same idempotency key");
        assert!(
            unavailable || cut_off,
            "a request failed without a clear answer: {f}"
        );
    }
    seen.failures.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_mid_load() {
    let Ok(restart) = std::env::var("FINTECH_FAULT_PG_RESTART") else {
        // `.ci/run` sets it for a run of this test alone and requires its report line
        eprintln!("FINTECH_FAULT_PG_RESTART not set: skipping the PostgreSQL restart test");
        return;
    };
    let server = postgres_url().expect("FINTECH_TEST_POSTGRES_URL for the restart test");
    let url = fresh_postgres_database(&server).await.expect("database");
    let dir = tempfile::tempdir().expect("dir");
    let spec = ServerSpec::new(url, dir.path());
    let app = ServerProcess::start(&spec)
        .await
        .expect("start fintech-server");
    let token = app.admin_key.clone().expect("admin key");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let acks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(load(
        vec![app.base.clone()],
        token.clone(),
        "pgrestart".into(),
        seen.clone(),
        acks.clone(),
        stop.clone(),
    ));
    until_acked(&acks, 30).await;
    let status = tokio::process::Command::new("sh")
        .args(["-c", &restart])
        .status()
        .await
        .expect("run the restart command");
    assert!(status.success(), "{restart}: {status}");
    // the same process serves again once the database is back
    let after = acks.load(Ordering::SeqCst);
    until_acked(&acks, after + 30).await;
    stop.store(true, Ordering::SeqCst);
    loader.await.expect("load");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let failed = failures_are_clean(&seen, "", true);
    check_exactly_once(&spec, &app.base, &token, &seen).await;
    app.kill9().await.expect("stop");
    report(&format!(
        "postgres restart mid-load: 1 passed, 0 failed (acknowledged {}, failed cleanly {failed})",
        seen.acked.len()
    ));
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes zeros into `path` until the filesystem refuses more.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = f.sync_all();
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_full_disk() {
    let dir = tempfile::tempdir().expect("dir");
    let mnt = dir.path().join("db");
    std::fs::create_dir_all(&mnt).expect("mkdir");
    let Some(_tmpfs) = Tmpfs::mount(&mnt, "16m") else {
        if std::env::var("FINTECH_REQUIRE_TMPFS").is_ok_and(|v| v == "1") {
            panic!("FINTECH_REQUIRE_TMPFS=1 but a tmpfs cannot be mounted (run as root)");
        }
        eprintln!("cannot mount a tmpfs (not root): skipping the SQLite full-disk test");
        return;
    };
    let db = mnt.join("fintech.db");
    let spec = ServerSpec::new(format!("sqlite://{}?mode=rwc", db.display()), dir.path());
    let app = ServerProcess::start(&spec)
        .await
        .expect("start fintech-server");
    let token = app.admin_key.clone().expect("admin key");
    let client = reqwest::Client::new();
    let mut seen = Seen::default();
    for n in 0..10 {
        let key = format!("before-full-{n}");
        let Answer::Created { id, .. } = pay(&client, &app.base, &token, &key).await else {
            panic!("payment before the disk filled up");
        };
        seen.acked.insert(key, id);
    }
    let filler = mnt.join("filler");
    fill(&filler);
    let mut refused = 0;
    for n in 0..40 {
        let key = format!("full-{n}");
        match pay(&client, &app.base, &token, &key).await {
            Answer::Created { id, .. } => {
                seen.acked.insert(key, id);
            }
            Answer::InProgress => panic!("a fresh key in progress"),
            Answer::Failed(e) => {
                refused += 1;
                seen.unknown.insert(key);
                seen.failures.push(e);
            }
        }
    }
    assert!(refused > 0, "no payment was refused on a full disk");
    failures_are_clean(&seen, "full", false);
    // space returns: the same process carries on
    std::fs::remove_file(&filler).expect("free the space");
    for n in 0..10 {
        let key = format!("after-full-{n}");
        let answer = pay(&client, &app.base, &token, &key).await;
        let Answer::Created { id, .. } = answer else {
            panic!("payment {n} after space returned did not succeed");
        };
        seen.acked.insert(key, id);
    }
    check_exactly_once(&spec, &app.base, &token, &seen).await;
    app.kill9().await.expect("stop");
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .expect("open");
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .expect("integrity_check");
        assert_eq!(integrity, "ok");
        conn.close().await.expect("close");
    }
    report(&format!(
        "sqlite full disk: 1 passed, 0 failed (refused cleanly {refused} of 40 on the full disk)"
    ));
}
