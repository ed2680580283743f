//! The real `fintech` binary: `--help` snapshots of every command, and an operator session
//! end to end (init, link a bank, sync, pay, a payment held for approval and approved, trade,
//! verify the audit chain) with JSON output, on SQLite and on PostgreSQL.

use assert_cmd::Command;
use serde_json::Value;

const GROUPS: &[&[&str]] = &[
    &[],
    &["init"],
    &["tenants"],
    &["users"],
    &["keys"],
    &["keys", "create"],
    &["banking"],
    &["payments"],
    &["payments", "create"],
    &["refunds", "create"],
    &["trading"],
    &["trading", "orders", "place"],
    &["approvals"],
    &["audit"],
    &["events"],
    &["config"],
    &["trigger"],
    &["fraud"],
    &["fraud", "rules"],
    &["fraud", "cases"],
    &["listen"],
    &["op"],
    &["mandates", "verify"],
];

/// `--help` of every command matches `tests/snapshots/`; `UPDATE_SNAPSHOTS=1` rewrites them.
#[test]
fn help_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    let mut mismatched = Vec::new();
    for args in GROUPS {
        let out = Command::cargo_bin("fintech")
            .expect("binary")
            .args(*args)
            .arg("--help")
            .env_clear()
            .env("COLUMNS", "100")
            .output()
            .expect("run");
        assert!(out.status.success(), "{args:?} --help failed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let name = if args.is_empty() {
            "fintech".to_owned()
        } else {
            format!("fintech-{}", args.join("-"))
        };
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::write(&path, &text).expect("write snapshot");
        } else {
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != text {
                mismatched.push(name);
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "help changed for {mismatched:?}; review and rerun with UPDATE_SNAPSHOTS=1"
    );
}

struct Session {
    dir: tempfile::TempDir,
    url: String,
}

impl Session {
    fn run(&self, args: &[&str], key: Option<&str>) -> (i32, Value, String) {
        let mut cmd = Command::cargo_bin("fintech").expect("binary");
        cmd.current_dir(self.dir.path())
            .env("FINTECH_DATABASE_URL", &self.url)
            .env_remove("FINTECH_API_KEY")
            .env_remove("FINTECH_TENANT")
            .args(args)
            .args(["--output", "json"]);
        if !self.url.starts_with("sqlite") {
            cmd.env(
                "FINTECH_ENCRYPTION_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            );
        }
        if let Some(k) = key {
            cmd.env("FINTECH_API_KEY", k);
        }
        let out = cmd.output().expect("run");
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap_or(-1),
            json,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str], key: Option<&str>) -> Value {
        let (code, json, err) = self.run(args, key);
        assert_eq!(code, 0, "{args:?}: {err}");
        json
    }
}

/// The shape of a JSON value: the paths of its fields (arrays by their first element). Values
/// and their types are left out: optional fields are `null` or a value depending on the data.
fn shape(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                shape(x, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => match a.first() {
            Some(x) => shape(x, &format!("{path}[]"), out),
            None => out.push(format!("{path}[]")),
        },
        _ => out.push(path.to_owned()),
    }
}

/// `--output json` shapes of the main commands match `tests/snapshots/json-shapes.txt`.
fn check_shapes(s: &Session) {
    let mut out = Vec::new();
    for args in [
        &["tenants", "list"][..],
        &["keys", "list"],
        &["banking", "accounts"],
        &["banking", "transactions", "--limit", "1"],
        &["payments", "list", "--limit", "1"],
        &["approvals", "list"],
        &["fraud", "cases", "list"],
        &["trading", "account"],
        &["trading", "orders", "list", "--limit", "1"],
        &["audit", "list", "--limit", "1"],
        &["audit", "verify"],
        &["events", "list", "--limit", "1"],
    ] {
        let v = s.ok(args, None);
        let mut lines = Vec::new();
        shape(&v, "", &mut lines);
        lines.sort();
        lines.dedup();
        out.push(format!("## fintech {}", args.join(" ")));
        out.extend(lines);
    }
    let text = out.join("\n") + "\n";
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/json-shapes.txt");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write snapshot");
    } else {
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            want, text,
            "JSON output shapes changed; review and rerun with UPDATE_SNAPSHOTS=1"
        );
    }
}

fn session(s: &Session) {
    let t = s.ok(&["init"], None);
    assert!(t["id"].as_str().is_some_and(|id| id.starts_with("ten_")));
    let item = s.ok(&["banking", "link"], None);
    let item_id = item["id"].as_str().expect("item").to_owned();
    let sync = s.ok(&["banking", "sync", &item_id], None);
    assert!(sync["added"].as_u64().unwrap_or(0) > 0);
    let accounts = s.ok(&["banking", "accounts"], None);
    assert_eq!(accounts.as_array().map(Vec::len), Some(3));
    let txns = s.ok(&["banking", "transactions", "--limit", "5"], None);
    assert_eq!(txns.as_array().map(Vec::len), Some(5));
    // a second item, removed: the first one's accounts stay, the removed one is gone
    let other = s.ok(&["banking", "link"], None);
    let other_id = other["id"].as_str().expect("item").to_owned();
    assert_eq!(
        s.ok(&["banking", "accounts"], None)
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    let removed = s.ok(&["banking", "remove-item", &other_id], None);
    assert!(removed["removed_at"].is_string(), "{removed}");
    let again = s.ok(&["banking", "remove-item", &other_id], None);
    assert_eq!(again["removed_at"], removed["removed_at"], "idempotent");
    let items = s.ok(&["banking", "items"], None);
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    assert_eq!(items[0]["id"], item["id"]);
    assert_eq!(
        s.ok(&["banking", "accounts"], None)
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let (code, _, err) = s.run(&["banking", "sync", &other_id], None);
    assert_eq!(code, 5, "a removed item cannot be synced: {err}");
    assert!(err.contains("removed"), "{err}");
    let (code, _, _) = s.run(&["banking", "remove-item", "itm_missing"], None);
    assert_eq!(code, 4, "an unknown item is not found");

    let key = s.ok(
        &[
            "keys",
            "create",
            "--name",
            "agent",
            "--scopes",
            "payments:read,payments:write",
            "--approval-threshold",
            "100",
        ],
        None,
    );
    let secret = key["secret"].as_str().expect("secret").to_owned();
    let paid = s.ok(
        &[
            "payments",
            "create",
            "--amount",
            "42.50",
            "--idempotency-key",
            "k-1",
        ],
        Some(&secret),
    );
    assert_eq!(paid["status"], "succeeded");
    let (code, _, err) = s.run(
        &[
            "payments",
            "create",
            "--amount",
            "42.51",
            "--idempotency-key",
            "k-1",
        ],
        Some(&secret),
    );
    assert_eq!(code, 5, "same key, other amount: conflict ({err})");
    let held = s.ok(&["payments", "create", "--amount", "150.00"], Some(&secret));
    assert_eq!(held["status"], "pending_approval");
    let held_id = held["id"].as_str().expect("id").to_owned();
    let (code, _, _) = s.run(&["approvals", "approve", &held_id], Some(&secret));
    assert_eq!(code, 3, "the key lacks approvals:write");
    let queue = s.ok(&["approvals", "list"], None);
    assert_eq!(queue["payments"].as_array().map(Vec::len), Some(1));
    let approved = s.ok(&["approvals", "approve", &held_id, "--comment", "ok"], None);
    assert_eq!(approved["status"], "succeeded");
    let refund = s.ok(&["refunds", "create", &held_id, "--amount", "50"], None);
    assert_eq!(refund["amount"]["amount"], "50.00");

    // authorize in one process, capture part in another, refund in a third
    let auth = s.ok(
        &[
            "payments",
            "create",
            "--amount",
            "80",
            "--capture",
            "manual",
        ],
        None,
    );
    assert_eq!(auth["status"], "requires_capture");
    let auth_id = auth["id"].as_str().expect("id").to_owned();
    let captured = s.ok(&["payments", "capture", &auth_id, "--amount", "30"], None);
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["amount_captured"]["amount"], "30.00");
    let (code, _, _) = s.run(&["payments", "capture", &auth_id], None);
    assert_eq!(code, 5, "a second capture is a conflict");
    let (code, _, _) = s.run(&["refunds", "create", &auth_id, "--amount", "30.01"], None);
    assert_eq!(code, 2, "a refund beyond the capture is refused");
    s.ok(&["refunds", "create", &auth_id], None);

    // any catalog operation by name: the timeline was added to core only
    let timeline = s.ok(
        &[
            "op",
            "payments_timeline",
            "--json",
            &format!(r#"{{"payment_id": "{auth_id}"}}"#),
        ],
        None,
    );
    assert_eq!(timeline["payment"]["id"], auth_id.as_str());
    let types: Vec<&str> = timeline["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["event"]["type"].as_str())
        .collect();
    assert!(
        types.len() >= 3,
        "authorized, captured, refunded: {types:?}"
    );
    let audited: Vec<&str> = timeline["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["audit"]["interface"].as_str())
        .collect();
    assert!(
        !audited.is_empty() && audited.iter().all(|i| *i == "cli"),
        "{audited:?}"
    );
    let (code, _, err) = s.run(
        &["op", "payments_timeline", "--json", "{\"payment_id\": 1}"],
        None,
    );
    assert_eq!(code, 2, "bad arguments are a usage error: {err}");
    let (code, _, _) = s.run(&["op", "no_such_operation"], None);
    assert_eq!(code, 2);
    let (code, _, _) = s.run(
        &[
            "op",
            "payments_timeline",
            "--json",
            &format!(r#"{{"payment_id": "{auth_id}"}}"#),
        ],
        Some(&secret),
    );
    assert_eq!(code, 0, "the agent key reads payments");
    let listed = s.ok(&["op"], Some(&secret));
    let names: Vec<&str> = listed
        .as_array()
        .expect("operations")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert!(
        names.contains(&"payments_timeline") && !names.contains(&"trading_order_place"),
        "{names:?}"
    );
    let customer = s.ok(&["customers", "create", "--email", "ada@example.com"], None);
    let customer_id = customer["id"].as_str().expect("id").to_owned();
    let method = s.ok(
        &[
            "customers",
            "attach",
            &customer_id,
            "--payment-method",
            "pm_card_amex",
        ],
        None,
    );
    assert_eq!(method["card"]["brand"], "amex");
    let (code, _, err) = s.run(
        &[
            "customers",
            "attach",
            &customer_id,
            "--payment-method",
            "4242424242424242",
        ],
        None,
    );
    assert_eq!(code, 2, "card data is a usage error");
    assert!(!err.contains("4242424242"), "{err}");

    let order = s.ok(
        &[
            "trading", "orders", "place", "AAPL", "--side", "buy", "--qty", "3",
        ],
        None,
    );
    assert_eq!(order["status"], "filled");
    let order_id = order["id"].as_str().expect("id").to_owned();
    let again = s.ok(&["trading", "orders", "get", &order_id], None);
    assert_eq!(again["filled_qty"], "3");
    let account = s.ok(&["trading", "account"], None);
    assert_eq!(account["mode"], "simulated");
    let asset = s.ok(&["trading", "asset", "AAPL"], None);
    assert_eq!(asset["tradable"], true);
    assert_eq!(asset["asset_class"], "us_equity");
    let (code, _, _) = s.run(&["trading", "asset", "ZZZZQ"], None);
    assert_eq!(code, 4, "an unlisted symbol is not found");

    let (code, _, _) = s.run(&["payments", "get", "pay_missing"], None);
    assert_eq!(code, 4);
    let (code, _, _) = s.run(&["payments", "create", "--amount", "1.001"], None);
    assert_eq!(code, 2);
    let (code, _, _) = s.run(
        &[
            "payments",
            "create",
            "--amount",
            "5",
            "--payment-method",
            "4242424242424242",
        ],
        None,
    );
    assert_eq!(code, 2);

    let audit = s.ok(&["audit", "list"], None);
    let records = audit.as_array().expect("records");
    assert!(
        records.iter().all(|r| r["interface"] == "cli"),
        "every change is audited as cli"
    );
    let v = s.ok(&["audit", "verify"], None);
    assert_eq!(v["first_bad"], Value::Null);
    assert!(v["records"].as_u64().unwrap_or(0) >= 8);
}

/// `fintech op` lists exactly the catalog's operations for the operator, with the catalog's
/// scopes and routes.
#[test]
fn op_lists_every_catalog_operation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Session {
        url: format!("sqlite://{}/op.db?mode=rwc", dir.path().display()),
        dir,
    };
    s.ok(&["init"], None);
    let listed = s.ok(&["op"], None);
    let listed = listed.as_array().expect("operations");
    let names: Vec<&str> = listed.iter().filter_map(|o| o["name"].as_str()).collect();
    let want: Vec<&str> = fintech_core::catalog::OPERATIONS
        .iter()
        .map(|op| op.name)
        .collect();
    assert_eq!(names, want);
    for (o, op) in listed.iter().zip(fintech_core::catalog::OPERATIONS) {
        assert_eq!(o["scope"], serde_json::json!(op.scope), "{}", op.name);
        assert_eq!(o["path"], op.path, "{}", op.name);
    }
}

#[test]
fn sqlite_session() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fintech.db").display()
    );
    let s = Session { dir, url };
    session(&s);
    check_shapes(&s);
    fintech_tests::report("sqlite cli session: 1 passed, 0 failed");
}

#[test]
fn postgres_session() {
    let Some(server) = fintech_tests::postgres_url() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = rt
        .block_on(fintech_tests::fresh_postgres_database(&server))
        .expect("database");
    session(&Session {
        dir: tempfile::tempdir().expect("dir"),
        url,
    });
    fintech_tests::report("postgres cli session: 1 passed, 0 failed");
}

/// `fintech listen --forward-to` posts new events, signed with the session's secret, and
/// `fintech trigger` makes the simulator produce them.
#[test]
fn listen_forwards_triggered_events() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fintech.db").display()
    );
    let s = Session { dir, url };
    s.ok(&["init"], None);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let sink = got.clone();
    let addr = rt.block_on(async move {
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let sink = sink.clone();
                async move {
                    let sig = headers
                        .get("fintech-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    sink.lock().expect("lock").push((sig, body));
                    "ok"
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    });
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("fintech"))
        .current_dir(s.dir.path())
        .env("FINTECH_DATABASE_URL", &s.url)
        .args([
            "listen",
            "--forward-to",
            &format!("http://{addr}/hook"),
            "--events",
            "payments.payment_succeeded",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("listen");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let paid = s.ok(&["trigger", "payment.succeeded"], None);
    let failed = s.ok(&["trigger", "payment.failed"], None);
    assert_eq!(failed["status"], "failed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while got.lock().expect("lock").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    let _ = child.kill();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let _ = child.wait();
    let secret = stderr
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .expect("the session's secret is printed")
        .to_owned();
    let got = got.lock().expect("lock");
    assert_eq!(
        got.len(),
        1,
        "only the subscribed type is forwarded: {got:?}"
    );
    let (sig, body) = &got[0];
    let event: Value = serde_json::from_str(body).expect("event");
    assert_eq!(event["type"], "payments.payment_succeeded");
    assert_eq!(event["object_id"], paid["id"]);
    let now = chrono::Utc::now().timestamp();
    assert!(
        fintech_core::webhooks::verify_signature(&secret, sig, body.as_bytes(), now, 300).is_ok()
    );
}

fn fresh_sqlite() -> Session {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fintech.db").display()
    );
    Session { dir, url }
}

impl Session {
    /// Runs with a table on stdout (as on a terminal): (exit code, stdout, stderr).
    fn table(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::cargo_bin("fintech")
            .expect("binary")
            .current_dir(self.dir.path())
            .env("FINTECH_DATABASE_URL", &self.url)
            .env_remove("FINTECH_API_KEY")
            .env_remove("FINTECH_TENANT")
            .args(args)
            .args(["--output", "table"])
            .output()
            .expect("run");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// `fintech init` on a database that is already set up creates nothing, exits 5 and says
/// which tenant exists and how to go on; the first init says that no fraud rules are active.
#[test]
fn init_twice_refuses_and_names_the_tenant() {
    let s = fresh_sqlite();
    let (code, first, err) = s.run(&["init"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("no fraud rules are active") && err.contains("--starter"),
        "{err}"
    );
    let id = first["id"].as_str().expect("id").to_owned();
    let (code, _, err) = s.run(&["init"], None);
    assert_eq!(code, 5, "a second init is a conflict: {err}");
    assert!(err.contains(&id) && err.contains("sandbox"), "{err}");
    assert!(err.contains("fintech tenants create"), "{err}");
    let (code, _, _) = s.run(&["init", "--tenant-name", "other"], None);
    assert_eq!(code, 5);
    let tenants = s.ok(&["tenants", "list"], None);
    assert_eq!(tenants.as_array().map(Vec::len), Some(1), "{tenants}");
    // a deliberate second tenant is still possible
    s.ok(&["tenants", "create", "second"], None);
    assert_eq!(
        s.ok(&["tenants", "list"], None).as_array().map(Vec::len),
        Some(2)
    );
}

/// A reader that closes the pipe early (`fintech completions bash | head`) ends the program
/// quietly with success, for completions and for table and JSON output alike.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let s = fresh_sqlite();
    s.ok(&["init"], None);
    for args in [
        &["completions", "bash"][..],
        &["audit", "list", "--output", "json"],
        &["tenants", "list", "--output", "table"],
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("fintech"))
            .current_dir(s.dir.path())
            .env("FINTECH_DATABASE_URL", &s.url)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// Starter rules from the binary; `fraud rules shadow` asks before it turns enforcement off;
/// a hold the operator made says that a second person approves and how, and the tenant's
/// audited self-approval setting lets a single operator approve their own hold.
#[test]
fn rules_shadow_holds_and_self_approval() {
    let s = fresh_sqlite();
    s.ok(&["init"], None);
    let rules = s.ok(&["fraud", "rules", "load", "--starter"], None);
    assert_eq!(rules["version"], 1);
    assert!(rules["source"]
        .as_str()
        .is_some_and(|src| src.contains("name = \"starter\"")));
    let (code, _, _) = s.run(&["fraud", "rules", "load"], None);
    assert_eq!(code, 2, "a file or --starter is required");

    // shadow: refused without a terminal unless --yes, and nothing changes
    std::fs::write(
        s.dir.path().join("candidate.toml"),
        "name = \"candidate\"\nreview_score = 50\nblock_score = 100\n[[rule]]\nname = \"big\"\naction = \"block\"\nwhen.amount_above = { amount = { USD = \"1.00\" } }\n",
    )
    .expect("write");
    let (code, _, err) = s.run(&["fraud", "rules", "shadow", "candidate.toml"], None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--yes") && err.contains("enforces nothing"),
        "{err}"
    );
    assert_eq!(s.ok(&["fraud", "rules", "show"], None)["version"], 1);
    let (code, shadowed, err) = s.run(
        &["fraud", "rules", "shadow", "candidate.toml", "--yes"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning"), "{err}");
    assert_eq!(shadowed["version"], 2);
    s.ok(&["fraud", "rules", "load", "--starter"], None);

    // an operator's own hold: the hint names the way forward, approve is refused as creator
    let (code, held, err) = s.run(&["payments", "create", "--amount", "12000"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(held["status"], "pending_review", "{held}");
    let held_id = held["id"].as_str().expect("id").to_owned();
    assert!(
        err.contains("second person")
            && err.contains("fintech users create")
            && err.contains("--allow-self-approval"),
        "{err}"
    );
    let (code, _, err) = s.run(&["approvals", "approve", &held_id], None);
    assert_eq!(code, 3, "{err}");
    assert!(!err.contains("missing scope"), "{err}");
    assert!(err.contains("second person"), "{err}");
    let settings = s.ok(&["tenants", "settings"], None);
    assert_eq!(settings["allow_self_approval"], false);
    let settings = s.ok(
        &["tenants", "settings", "--allow-self-approval", "true"],
        None,
    );
    assert_eq!(settings["allow_self_approval"], true);
    let approved = s.ok(
        &["approvals", "approve", &held_id, "--comment", "solo"],
        None,
    );
    assert_eq!(approved["status"], "succeeded");
    let audit = s.ok(&["audit", "list", "--limit", "500"], None);
    let records = audit.as_array().expect("records");
    assert!(records.iter().any(|r| r["action"] == "tenants.settings"
        && r["outcome"] == "ok: allow_self_approval true (was false)"));
    assert!(records.iter().any(|r| r["action"] == "payments.approve"
        && r["object_id"] == held_id.as_str()
        && r["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("by its creator"))));
}

/// With the starter rules loaded, the walkthrough's own payments on the default card do not
/// make `trigger` fail, and a case opened by `trigger fraud.case_opened` can be approved by
/// the operator who ran it.
#[test]
fn walkthrough_defaults_do_not_collide_with_the_starter_rules() {
    let s = fresh_sqlite();
    s.ok(&["init"], None);
    s.ok(&["fraud", "rules", "load", "--starter"], None);
    for amount in ["10", "11", "12", "13", "14", "15"] {
        s.run(&["payments", "create", "--amount", amount], None);
    }
    for _ in 0..3 {
        let paid = s.ok(&["trigger", "payment.succeeded"], None);
        assert_eq!(paid["status"], "succeeded", "{paid}");
    }
    let cases = s.ok(&["trigger", "fraud.case_opened"], None);
    let case = cases[0]["id"].as_str().expect("case").to_owned();
    assert!(case.starts_with("fcs_"));
    let resolved = s.ok(
        &["fraud", "cases", "approve", &case, "--comment", "checked"],
        None,
    );
    assert_eq!(resolved["status"], "approved");
}

/// The payments table shows what was captured.
#[test]
fn the_capture_table_shows_the_captured_amount() {
    let s = fresh_sqlite();
    s.ok(&["init"], None);
    let auth = s.ok(
        &[
            "payments",
            "create",
            "--amount",
            "80",
            "--capture",
            "manual",
        ],
        None,
    );
    let id = auth["id"].as_str().expect("id").to_owned();
    let (code, out, err) = s.table(&["payments", "capture", &id, "--amount", "30"]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    let header = lines.next().expect("header");
    let row = lines.next().expect("row");
    let at = header.find("CAPTURED").expect("a CAPTURED column");
    assert!(row[at..].starts_with("30.00 USD"), "{out}");
    let amount = header.find("AMOUNT").expect("AMOUNT");
    assert!(row[amount..].starts_with("80.00 USD"), "{out}");
}

/// Fractional shares only for market day orders: a fractional `fok` is refused (by core, so
/// every shell refuses it) and nothing is placed; the clock's next open and close differ.
#[test]
fn fractional_quantities_only_for_market_day_orders() {
    let s = fresh_sqlite();
    s.ok(&["init"], None);
    let (code, _, err) = s.run(
        &[
            "trading", "orders", "place", "AAPL", "--side", "buy", "--qty", "0.5", "--tif", "fok",
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("market day orders only"), "{err}");
    assert_eq!(
        s.ok(&["trading", "orders", "list"], None)
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let day = s.ok(
        &[
            "trading", "orders", "place", "AAPL", "--side", "buy", "--qty", "0.5",
        ],
        None,
    );
    assert_eq!(day["status"], "filled", "{day}");
    let clock = s.ok(&["trading", "clock"], None);
    assert_ne!(clock["next_open"], clock["next_close"], "{clock}");
}

/// `fintech mandates verify --vector FILE` prints, for every interoperability vector, the
/// verdict (and reason) the vector recorded, one line per presentation; a single chain is
/// shown decoded and a refusal exits 3 with its reason code.
#[test]
fn mandates_verify_runs_every_vector() {
    let file: Value =
        serde_json::from_str(include_str!("../../fintech-core/testdata/ap2/vectors.json"))
            .expect("vectors");
    let dir = tempfile::tempdir().expect("dir");
    let mut ran = 0;
    for v in file["vectors"].as_array().expect("vectors") {
        let path = dir.path().join("v.json");
        std::fs::write(&path, v.to_string()).expect("write");
        let out = Command::cargo_bin("fintech")
            .expect("binary")
            .args(["mandates", "verify", "--vector"])
            .arg(&path)
            .env_clear()
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", v["id"]);
        let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        let expected: Vec<&Value> = match v["presentations"].as_array() {
            Some(ps) => ps.iter().collect(),
            None => vec![v],
        };
        assert_eq!(got.len(), expected.len(), "{}", v["id"]);
        for (line, want) in got.iter().zip(expected) {
            let mut ok = vec![match want["reason"].as_str() {
                None => "accept".to_string(),
                Some(r) => format!("reject {r}"),
            }];
            for a in want["also_accepted_reasons"]
                .as_array()
                .into_iter()
                .flatten()
            {
                ok.push(format!("reject {}", a.as_str().unwrap_or_default()));
            }
            assert!(
                ok.contains(line),
                "{}: printed {line}, want {ok:?}",
                v["id"]
            );
            ran += 1;
        }
    }
    assert_eq!(ran, 62);

    // One chain, decoded, with the expected audience and nonce; then a wrong nonce.
    let v = file["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["id"] == "pm-accept-all-constraints")
        .expect("vector");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        serde_json::json!({"keys": v["trusted_issuer_jwks"]}).to_string(),
    )
    .expect("write");
    let verify = |nonce: &str| {
        Command::cargo_bin("fintech")
            .expect("binary")
            .args(["mandates", "verify", "--output", "json", "--token"])
            .arg(v["token"].as_str().expect("token"))
            .arg("--trusted-jwks")
            .arg(&jwks)
            .args(["--aud", v["expected_aud"].as_str().expect("aud")])
            .args(["--nonce", nonce])
            .args(["--now", &v["now"].to_string()])
            .args([
                "--checkout-hash",
                v["open_checkout_hash"].as_str().expect("hash"),
            ])
            .env_clear()
            .output()
            .expect("run")
    };
    let out = verify(v["expected_nonce"].as_str().expect("nonce"));
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["verdict"], "accept");
    assert_eq!(report["chain"]["closed"], v["closed_mandate"]);
    assert_eq!(report["chain"]["issuer_kid"], "user-key-1");
    let out = verify("another-nonce");
    assert_eq!(out.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["reason"], "WRONG_NONCE");
    assert_eq!(
        report["decoded"]["closed"]["payload"]["delegate_payload"][0]["payee"]["id"],
        "merchant-1"
    );
}
