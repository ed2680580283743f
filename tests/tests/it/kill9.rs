//! kill -9 under load: the real `fintech-server` binary as a child process, loaded over real
//! sockets with payments under unique idempotency keys, killed with SIGKILL mid-load and
//! started again. Then every acknowledged payment exists exactly once, a retry with its key
//! replays it (same id, `Idempotent-Replayed: true`), every unanswered key resolves to exactly
//! one payment on retry, no payment exists that no key accounts for, and `fintech audit
//! verify` and `fintech ledger verify` pass. On SQLite, on PostgreSQL, and with two instances
//! on one PostgreSQL where one is killed while the other carries on.
//!
//! CI runs `FINTECH_KILL9_CYCLES` (default 2) cycles of each; `scripts/kill9.sh` runs 50
//! (docs/reliability.md).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fintech_tests::process::{ServerProcess, ServerSpec};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};
use serde_json::{json, Value};

/// Cycles per backend: `FINTECH_KILL9_CYCLES`, 2 by default.
fn cycles() -> usize {
    std::env::var("FINTECH_KILL9_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// Concurrent clients during the load.
const CLIENTS: usize = 8;

/// The body sent under `key` (the same on every retry, so a retry is the same request).
pub(crate) fn body(key: &str) -> Value {
    let cents = key.bytes().map(u64::from).sum::<u64>() % 9_000 + 100;
    json!({
        "amount": {"amount": format!("{}.{:02}", cents / 100, cents % 100), "currency": "USD"},
        "payment_method": "pm_card_visa",
        "payee": "kill -9",
    })
}

/// What the clients saw.
#[derive(Default)]
pub(crate) struct Seen {
    /// key -> payment id, for every 201.
    pub(crate) acked: BTreeMap<String, String>,
    /// Keys sent without an answer (or with an error): their outcome is unknown.
    pub(crate) unknown: BTreeSet<String>,
    /// What each failed request answered (`no answer: …` when the connection failed).
    pub(crate) failures: Vec<String>,
}

pub(crate) enum Answer {
    Created { id: String, replayed: bool },
    InProgress,
    Failed(String),
}

pub(crate) async fn pay(client: &reqwest::Client, base: &str, token: &str, key: &str) -> Answer {
    let sent = client
        .post(format!("{base}/v1/payments"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body(key))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let res = match sent {
        Ok(r) => r,
        Err(e) => return Answer::Failed(format!("no answer: {e}")),
    };
    let status = res.status().as_u16();
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let json: Value = match res.json().await {
        Ok(v) => v,
        Err(e) => return Answer::Failed(format!("{status}: unreadable body: {e}")),
    };
    match (status, json["id"].as_str(), json["code"].as_str()) {
        (201, Some(id), _) => Answer::Created {
            id: id.to_owned(),
            replayed,
        },
        (409, _, Some("idempotency_in_progress")) => Answer::InProgress,
        _ => Answer::Failed(format!("{status}: {json}")),
    }
}

/// Loads `bases` round-robin with fresh keys until `stop`, counting acknowledgements.
pub(crate) async fn load(
    bases: Vec<String>,
    token: String,
    prefix: String,
    seen: Arc<Mutex<Seen>>,
    acks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (bases, token, prefix, seen, acks, stop, client) = (
            bases.clone(),
            token.clone(),
            prefix.clone(),
            seen.clone(),
            acks.clone(),
            stop.clone(),
            client.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let key = format!("{prefix}-c{c}-{n}");
                let base = &bases[(c + n) % bases.len()];
                n += 1;
                match pay(&client, base, &token, &key).await {
                    Answer::Created { id, .. } => {
                        seen.lock().unwrap().acked.insert(key, id);
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    answer => {
                        {
                            let mut seen = seen.lock().unwrap();
                            seen.unknown.insert(key);
                            if let Answer::Failed(e) = answer {
                                seen.failures.push(e);
                            }
                        }
                        // a refused connection fails at once: do not spin
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("load client");
    }
}

/// Waits until `acks` reaches `n` (or the load has run 60 s).
pub(crate) async fn until_acked(acks: &AtomicUsize, n: usize) {
    for _ in 0..600 {
        if acks.load(Ordering::SeqCst) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "only {} payments acknowledged in 60 s",
        acks.load(Ordering::SeqCst)
    );
}

/// Every payment id of the tenant, through the paginated list.
pub(crate) async fn all_payment_ids(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/payments?limit=500");
        if let Some(b) = &before {
            url.push_str(&format!("&before={b}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .expect("list payments")
            .json()
            .await
            .expect("payments json");
        let page = page.as_array().expect("a list").clone();
        let Some(last) = page.last() else { break };
        before = last["id"].as_str().map(str::to_owned);
        ids.extend(
            page.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned)),
        );
    }
    ids
}

/// The totals of one backend's run.
#[derive(Default)]
struct Totals {
    cycles: usize,
    acked: usize,
    unknown: usize,
    unknown_committed: usize,
}

/// After a crash and restart: acknowledged keys replay, unknown keys resolve once, the
/// payments are exactly those the keys account for, and the chain and ledger verify.
async fn check(
    spec: &ServerSpec,
    base: &str,
    token: &str,
    seen: &Seen,
    all: &mut BTreeMap<String, String>,
    totals: &mut Totals,
) {
    let client = reqwest::Client::new();
    for (key, id) in &seen.acked {
        match pay(&client, base, token, key).await {
            Answer::Created {
                id: again,
                replayed,
            } => {
                assert_eq!(
                    &again, id,
                    "the retry of acknowledged key {key} answered another payment"
                );
                assert!(
                    replayed,
                    "the retry of acknowledged key {key} was not a replay"
                );
            }
            Answer::InProgress => {
                panic!("acknowledged key {key} is still in progress after the restart")
            }
            Answer::Failed(e) => panic!("the retry of acknowledged key {key} failed: {e}"),
        }
        all.insert(key.clone(), id.clone());
    }
    for key in &seen.unknown {
        // a dead holder's claim is taken over once its lease runs out
        let mut answer = None;
        for _ in 0..300 {
            match pay(&client, base, token, key).await {
                Answer::Created { id, replayed } => {
                    answer = Some((id, replayed));
                    break;
                }
                Answer::InProgress => tokio::time::sleep(Duration::from_millis(100)).await,
                Answer::Failed(e) => panic!("the retry of unanswered key {key} failed: {e}"),
            }
        }
        let (id, replayed) =
            answer.unwrap_or_else(|| panic!("unanswered key {key} stayed in progress for 30 s"));
        if replayed {
            totals.unknown_committed += 1;
        }
        all.insert(key.clone(), id);
    }
    let ids = all_payment_ids(&client, base, token).await;
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "the payment list repeats a payment"
    );
    let by_keys: BTreeSet<&String> = all.values().collect();
    assert_eq!(
        by_keys.len(),
        all.len(),
        "two keys answered with one payment"
    );
    let extra: Vec<&&String> = distinct.difference(&by_keys).take(5).collect();
    let missing: Vec<&&String> = by_keys.difference(&distinct).take(5).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "payments no key accounts for: {extra:?}; keys whose payment is missing: {missing:?}"
    );
    for what in [["audit", "verify"], ["ledger", "verify"]] {
        let (ok, out) = spec.cli(&what).await.expect("run fintech");
        assert!(ok, "fintech {} {} failed: {out}", what[0], what[1]);
    }
    totals.acked += seen.acked.len();
    totals.unknown += seen.unknown.len();
    totals.cycles += 1;
}

/// `cycles` rounds of load, kill -9 of `victim` (one of `instances`), restart, check.
async fn run(label: &str, database_url: String, instances: usize) -> Totals {
    let dir = tempfile::tempdir().expect("work dir");
    let spec = ServerSpec::new(database_url, dir.path());
    let mut servers = Vec::new();
    for _ in 0..instances {
        servers.push(
            ServerProcess::start(&spec)
                .await
                .expect("start fintech-server"),
        );
    }
    let token = servers[0]
        .admin_key
        .clone()
        .expect("the first start prints an admin key");
    let mut all = BTreeMap::new();
    let mut totals = Totals::default();
    for cycle in 0..cycles() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let acks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        let loader = tokio::spawn(load(
            bases,
            token.clone(),
            format!("{label}-{cycle}"),
            seen.clone(),
            acks.clone(),
            stop.clone(),
        ));
        // kill at a different point each cycle
        until_acked(&acks, 20 + (cycle * 37) % 60).await;
        let victim = servers.remove(0);
        victim.kill9().await.expect("kill -9");
        if !servers.is_empty() {
            // the survivor carries on under load
            let at_kill = acks.load(Ordering::SeqCst);
            until_acked(&acks, at_kill + 20).await;
        }
        stop.store(true, Ordering::SeqCst);
        loader.await.expect("load");
        servers.push(
            ServerProcess::start(&spec)
                .await
                .expect("restart fintech-server"),
        );
        let base = servers.last().expect("restarted").base.clone();
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        check(&spec, &base, &token, &seen, &mut all, &mut totals).await;
    }
    for s in servers {
        s.kill9().await.expect("stop");
    }
    totals
}

fn summary(suite: &str, t: &Totals) {
    report(&format!(
        "{suite}: {} passed, 0 failed (acknowledged {}, unanswered at the kill {}, of which committed {})",
        t.cycles, t.acked, t.unknown, t.unknown_committed
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_kill9_under_load() {
    let (_guard, url) = fresh_sqlite_database().expect("temp sqlite");
    let t = run("sqlite", url, 1).await;
    summary("sqlite kill -9", &t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_kill9_under_load() {
    let Some(server) = postgres_url() else { return };
    let url = fresh_postgres_database(&server).await.expect("database");
    let t = run("postgres", url, 1).await;
    summary("postgres kill -9", &t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_one_killed() {
    let Some(server) = postgres_url() else { return };
    let url = fresh_postgres_database(&server).await.expect("database");
    let t = run("two", url, 2).await;
    summary("postgres kill -9 of one of two instances", &t);
}
