//! In-process tests: an rmcp client and the fintech handler over `tokio::io::duplex`, and the
//! HTTP guards over a real socket.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::{Config, Interface, Money, Platform, Principal, Scope};
use fintech_mcp::{McpOptions, McpState};
use fintech_providers::SimProviders;
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

struct World {
    platform: Platform,
    config: Config,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        database_url: format!("sqlite://{}/mcp.db?mode=rwc", dir.path().display()),
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 8,
        ..Config::default()
    };
    let platform = Platform::builder(config.clone())
        .with_providers(Arc::new(SimProviders::new()))
        .build()
        .await
        .expect("platform");
    World {
        platform,
        config,
        _dir: dir,
    }
}

const AGENT: &[Scope] = &[
    Scope::BankingRead,
    Scope::BankingWrite,
    Scope::PaymentsRead,
    Scope::PaymentsWrite,
    Scope::TradingRead,
    Scope::TradingWrite,
    Scope::FraudRead,
];

/// A tenant and a key in it; returns the key's secret and principal.
async fn key(w: &World, tenant: &str, scopes: &[Scope], limits: KeyLimits) -> (String, Principal) {
    let t = w
        .platform
        .create_tenant(tenant, Interface::Sdk)
        .await
        .expect("tenant");
    let admin = Principal::system(t.id, Interface::Sdk);
    let created = w
        .platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "agent".into(),
                scopes: scopes.iter().copied().collect::<BTreeSet<_>>(),
                limits,
            },
            None,
        )
        .await
        .expect("key")
        .into_value();
    let p = w
        .platform
        .authenticate(&created.secret, Interface::Mcp)
        .await
        .expect("auth");
    (created.secret, p)
}

async fn client(w: &World, p: &Principal, options: McpOptions) -> RunningService<RoleClient, ()> {
    let state = McpState::new(w.platform.clone(), options);
    let handler = state.handler(Some(p.clone()));
    let (server_io, client_io) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = handler.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client")
}

async fn call(c: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    c.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn structured(r: &CallToolResult) -> &Value {
    r.structured_content.as_ref().expect("structured content")
}

fn text(r: &CallToolResult) -> String {
    serde_json::to_string(&r.content).expect("content")
}

#[tokio::test]
async fn tool_catalog_matches_the_snapshot_and_its_schemas_resolve() {
    let w = world().await;
    let (_, p) = key(&w, "snap", &[Scope::Admin], KeyLimits::default()).await;
    let c = client(&w, &p, McpOptions::default()).await;
    let tools = c.list_all_tools().await.expect("tools");
    let mut lines = Vec::new();
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        let input = Value::Object((*t.input_schema).clone());
        let output = Value::Object((**t.output_schema.as_ref().expect("output schema")).clone());
        assert_eq!(input["type"], "object", "{}", t.name);
        assert_eq!(output["type"], "object", "{}", t.name);
        // every $ref points at a definition that exists
        let defs = output.get("$defs").cloned().unwrap_or(json!({}));
        let mut refs = Vec::new();
        collect_refs(&output, &mut refs);
        for r in refs {
            let name = r.trim_start_matches("#/$defs/");
            assert!(defs.get(name).is_some(), "{}: dangling {r}", t.name);
        }
        let mut props: Vec<_> = input["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        props.sort();
        lines.push(format!(
            "{} ro={} destructive={} idempotent={} open_world={} in=[{}] out=[{}]",
            t.name,
            a.read_only_hint.unwrap_or_default(),
            a.destructive_hint.unwrap_or_default(),
            a.idempotent_hint.unwrap_or_default(),
            a.open_world_hint.unwrap_or_default(),
            props.join(","),
            output["properties"]
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
                .unwrap_or_default(),
        ));
    }
    let got = lines.join("\n") + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/tools.txt");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots")).unwrap();
        std::fs::write(path, &got).unwrap();
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        got, want,
        "tool catalog changed; rerun with UPDATE_SNAPSHOTS=1 and review"
    );
    c.cancel().await.ok();
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The tool list is the catalog: for a key with one scope, exactly the operations that need
/// no scope or that scope; for an admin key, all of them. Every tool MCP renders itself has
/// its arm (a call with no arguments is refused as invalid, not as unknown).
#[tokio::test]
async fn every_catalog_operation_is_a_tool_for_exactly_the_keys_its_scope_allows() {
    use fintech_core::catalog::{Serve, OPERATIONS};
    let w = world().await;
    for scope in Scope::ALL {
        let (_, p) = key(
            &w,
            &format!("scope-{scope}"),
            &[scope],
            KeyLimits::default(),
        )
        .await;
        let c = client(&w, &p, McpOptions::default()).await;
        let names: BTreeSet<String> = c
            .list_all_tools()
            .await
            .expect("tools")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        let want: BTreeSet<String> = OPERATIONS
            .iter()
            .filter(|op| scope == Scope::Admin || op.scope.is_none_or(|s| s == scope))
            .map(|op| op.name.to_owned())
            .collect();
        assert_eq!(names, want, "tools of a key with {scope}");
        for op in OPERATIONS
            .iter()
            .filter(|op| op.mcp == Serve::Custom && names.contains(op.name))
        {
            let err = c
                .call_tool(
                    CallToolRequestParams::new(op.name.to_owned())
                        .with_arguments(Default::default()),
                )
                .await
                .expect_err("no arguments");
            assert!(
                !err.to_string().contains("unknown tool"),
                "{}: {err}",
                op.name
            );
        }
        c.cancel().await.ok();
    }
}

#[tokio::test]
async fn a_key_sees_and_calls_only_the_tools_its_scopes_allow() {
    let w = world().await;
    let (_, p) = key(&w, "scoped", &[Scope::BankingRead], KeyLimits::default()).await;
    let c = client(&w, &p, McpOptions::default()).await;
    let names: BTreeSet<String> = c
        .list_all_tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.contains("whoami") && names.contains("banking_transactions"));
    assert!(
        names
            .iter()
            .all(|n| n == "whoami" || n == "tenant_get" || n.starts_with("banking_")),
        "{names:?}"
    );
    assert!(!names.contains("banking_sync"), "sync needs banking:write");
    let err = c
        .call_tool(
            CallToolRequestParams::new("payments_create").with_arguments(
                json!({"amount": "1.00", "payment_method": "pm_card_visa"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .expect_err("hidden tool");
    assert!(err.to_string().contains("unknown tool"), "{err}");
    let resources = c.list_all_resources().await.expect("resources");
    let uris: Vec<_> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["fintech://accounts", "fintech://limits"]);
    c.cancel().await.ok();
}

#[tokio::test]
async fn no_tool_or_resource_reaches_another_tenants_objects() {
    let w = world().await;
    let (_, alice) = key(&w, "alice", AGENT, KeyLimits::default()).await;
    let (_, mallory) = key(&w, "mallory", AGENT, KeyLimits::default()).await;
    let a = client(&w, &alice, McpOptions::default()).await;
    let args = json!({"amount": "30.00", "payment_method": "pm_card_visa"});
    let preview = call(&a, "payments_create", args.clone()).await;
    let token = structured(&preview)["confirmation_token"].clone();
    let done = call(
        &a,
        "payments_create",
        json!({"amount": "30.00", "payment_method": "pm_card_visa", "confirmation_token": token}),
    )
    .await;
    let payment_id = structured(&done)["payment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let m = client(&w, &mallory, McpOptions::default()).await;
    for (tool, args) in [
        ("payments_get", json!({ "payment_id": payment_id })),
        ("payments_cancel", json!({ "payment_id": payment_id })),
        ("payments_refunds_list", json!({ "payment_id": payment_id })),
        ("payments_refund", json!({ "payment_id": payment_id })),
        ("payments_timeline", json!({ "payment_id": payment_id })),
    ] {
        let r = call(&m, tool, args).await;
        assert_eq!(r.is_error, Some(true), "{tool}: {}", text(&r));
        assert!(text(&r).contains("not_found"), "{tool}: {}", text(&r));
    }
    let uri = format!("fintech://payments/{payment_id}");
    assert!(m
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .is_err());
    #[allow(deprecated)]
    let sub = m
        .subscribe(rmcp::model::SubscribeRequestParams::new(uri.clone()))
        .await;
    assert!(
        sub.is_err(),
        "subscribing to another tenant's payment is refused"
    );
    // the owner can read it
    assert!(a
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .is_ok());
    a.cancel().await.ok();
    m.cancel().await.ok();
}

#[tokio::test]
async fn confirmation_tokens_are_bound_single_use_and_expire() {
    let w = world().await;
    let (_, p) = key(&w, "tokens", AGENT, KeyLimits::default()).await;
    let (_, other) = key(&w, "other", AGENT, KeyLimits::default()).await;
    let c = client(&w, &p, McpOptions::default()).await;
    let args = json!({"amount": "42.00", "payment_method": "pm_card_visa", "payee": "Acme"});
    let preview = call(&c, "payments_create", args.clone()).await;
    let s = structured(&preview);
    assert_eq!(s["status"], "confirmation_required");
    assert_eq!(s["preview"]["amount"]["amount"], "42.00");
    assert_eq!(s["preview"]["status"], "execute");
    assert_eq!(s["preview"]["confirmation_required"], true);
    assert!(s["preview"]["summary"]
        .as_str()
        .unwrap()
        .contains("charged now"));
    assert!(
        w.platform
            .payments(&p, &Default::default())
            .await
            .unwrap()
            .is_empty(),
        "a preview moves nothing"
    );
    let token = s["confirmation_token"].as_str().unwrap().to_owned();

    // changed arguments
    let mut changed = args.clone();
    changed["payee"] = json!("Someone Else");
    changed["confirmation_token"] = json!(token);
    let r = call(&c, "payments_create", changed).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("confirmation_invalid"));
    // another key
    let o = client(&w, &other, McpOptions::default()).await;
    let mut stolen = args.clone();
    stolen["confirmation_token"] = json!(token);
    assert_eq!(
        call(&o, "payments_create", stolen.clone()).await.is_error,
        Some(true)
    );
    // the same amount written differently is the same argument
    let mut same = stolen.clone();
    same["amount"] = json!("42");
    let first = call(&c, "payments_create", same).await;
    assert_eq!(structured(&first)["status"], "executed", "{}", text(&first));
    assert_eq!(structured(&first)["replayed"], false);
    // reuse replays, once
    let again = call(&c, "payments_create", stolen).await;
    assert_eq!(structured(&again)["replayed"], true);
    assert_eq!(
        structured(&again)["payment"]["id"],
        structured(&first)["payment"]["id"]
    );
    assert_eq!(
        w.platform
            .payments(&p, &Default::default())
            .await
            .unwrap()
            .len(),
        1
    );

    // expiry: the platform's token lifetime (another instance on the same database and key)
    let quick = Platform::builder(w.config.clone())
        .sharing_database_with(&w.platform)
        .with_providers(Arc::new(SimProviders::new()))
        .with_confirmation_ttl(Duration::ZERO)
        .build()
        .await
        .expect("platform");
    let quick = client(
        &World {
            platform: quick,
            config: w.config.clone(),
            _dir: tempfile::tempdir().expect("tempdir"),
        },
        &p,
        McpOptions::default(),
    )
    .await;
    let preview = call(&quick, "payments_create", args.clone()).await;
    let mut late = args.clone();
    late["confirmation_token"] = structured(&preview)["confirmation_token"].clone();
    let r = call(&quick, "payments_create", late).await;
    assert!(text(&r).contains("confirmation_expired"), "{}", text(&r));
    c.cancel().await.ok();
    o.cancel().await.ok();
    quick.cancel().await.ok();
}

#[tokio::test]
async fn a_key_can_skip_confirmation_under_its_limit_and_limits_hold() {
    let w = world().await;
    let usd = |s: &str| Some(Money::parse(s, "USD").unwrap());
    let limits = KeyLimits {
        confirm_above: usd("20"),
        max_per_payment: usd("100"),
        approval_threshold: usd("50"),
        ..Default::default()
    };
    let (_, p) = key(&w, "skip", AGENT, limits).await;
    let c = client(&w, &p, McpOptions::default()).await;
    let small = call(
        &c,
        "payments_create",
        json!({"amount": "20.00", "payment_method": "pm_card_visa"}),
    )
    .await;
    assert_eq!(structured(&small)["status"], "executed");
    let big = call(
        &c,
        "payments_create",
        json!({"amount": "60.00", "payment_method": "pm_card_visa"}),
    )
    .await;
    let s = structured(&big);
    assert_eq!(s["status"], "confirmation_required");
    assert_eq!(s["preview"]["status"], "pending_approval", "{s}");
    assert!(
        s["preview"]["summary"]
            .as_str()
            .unwrap()
            .contains("approval"),
        "{s}"
    );
    let token = s["confirmation_token"].clone();
    let held = call(
        &c,
        "payments_create",
        json!({"amount": "60.00", "payment_method": "pm_card_visa", "confirmation_token": token}),
    )
    .await;
    assert_eq!(structured(&held)["payment"]["status"], "pending_approval");
    let held_list = call(&c, "payments_held", json!({})).await;
    assert_eq!(
        structured(&held_list)["payments"].as_array().unwrap().len(),
        1
    );
    // over the limit: refused at once (nothing to confirm), a business failure the agent can
    // read, not a protocol error
    let over = call(
        &c,
        "payments_create",
        json!({"amount": "150.00", "payment_method": "pm_card_visa"}),
    )
    .await;
    assert_eq!(over.is_error, Some(true));
    assert!(text(&over).contains("limit_exceeded"), "{}", text(&over));
    // invalid arguments are protocol errors
    for bad in [
        json!({"amount": "abc", "payment_method": "pm_card_visa"}),
        json!({"amount": "1.00", "payment_method": "pm_card_visa", "surprise": true}),
        json!({"amount": "1.00"}),
    ] {
        let e = c
            .call_tool(
                CallToolRequestParams::new("payments_create")
                    .with_arguments(bad.as_object().unwrap().clone()),
            )
            .await
            .expect_err("invalid params");
        assert!(
            e.to_string().contains("-32602") || e.to_string().to_lowercase().contains("invalid"),
            "{e}"
        );
    }
    c.cancel().await.ok();
}

#[tokio::test]
async fn every_tool_answers_on_the_simulator() {
    let w = world().await;
    let (_, p) = key(
        &w,
        "all",
        AGENT,
        KeyLimits {
            confirm_above: Some(Money::parse("100000", "USD").unwrap()),
            ..Default::default()
        },
    )
    .await;
    let c = client(&w, &p, McpOptions::default()).await;
    let called = std::cell::RefCell::new(BTreeSet::new());
    let run = |name: &'static str, r: CallToolResult| {
        assert_ne!(r.is_error, Some(true), "{name}: {}", text(&r));
        called.borrow_mut().insert(name);
        r
    };
    run("whoami", call(&c, "whoami", json!({})).await);
    run(
        "banking_link_start",
        call(&c, "banking_link_start", json!({})).await,
    );
    let public = run(
        "banking_sandbox_public_token",
        call(
            &c,
            "banking_sandbox_public_token",
            json!({"institution_id": "ins_109508"}),
        )
        .await,
    );
    let token = structured(&public)["public_token"].clone();
    let item = run(
        "banking_link_complete",
        call(&c, "banking_link_complete", json!({"public_token": token})).await,
    );
    let item_id = structured(&item)["item"]["id"].clone();
    run("banking_items", call(&c, "banking_items", json!({})).await);
    let accounts = run(
        "banking_accounts",
        call(&c, "banking_accounts", json!({"item_id": item_id})).await,
    );
    let account_id = structured(&accounts)["accounts"][0]["id"].clone();
    run(
        "banking_balances",
        call(&c, "banking_balances", json!({})).await,
    );
    let sync = run(
        "banking_sync",
        call(&c, "banking_sync", json!({"item_id": item_id})).await,
    );
    assert!(structured(&sync)["summary"]["added"].as_u64().unwrap() > 0);
    let page = run(
        "banking_transactions",
        call(
            &c,
            "banking_transactions",
            json!({"account_id": account_id, "limit": 3}),
        )
        .await,
    );
    assert_eq!(
        structured(&page)["transactions"].as_array().unwrap().len(),
        3
    );
    assert!(
        text(&page).contains("<untrusted-data"),
        "provider text is fenced"
    );
    assert!(page
        .meta
        .as_ref()
        .is_some_and(|m| m.0.contains_key("dev.fintech/untrusted")));
    let cursor = structured(&page)["next_cursor"].clone();
    let next = call(
        &c,
        "banking_transactions",
        json!({"account_id": account_id, "limit": 3, "cursor": cursor}),
    )
    .await;
    assert_ne!(
        structured(&next)["transactions"][0]["id"],
        structured(&page)["transactions"][0]["id"]
    );
    run(
        "banking_spending_summary",
        call(
            &c,
            "banking_spending_summary",
            json!({"group_by": "merchant"}),
        )
        .await,
    );
    let customer = run(
        "payments_customer_create",
        call(
            &c,
            "payments_customer_create",
            json!({"email": "a@example.com"}),
        )
        .await,
    );
    let customer_id = structured(&customer)["customer"]["id"].clone();
    run(
        "payments_customer_get",
        call(
            &c,
            "payments_customer_get",
            json!({"customer_id": customer_id}),
        )
        .await,
    );
    let attached = run(
        "payments_method_attach",
        call(
            &c,
            "payments_method_attach",
            json!({"customer_id": customer_id, "payment_method": "pm_card_visa"}),
        )
        .await,
    );
    assert_eq!(
        structured(&attached)["payment_method"]["card"]["last4"],
        "4242"
    );
    let methods = run(
        "payments_methods_list",
        call(
            &c,
            "payments_methods_list",
            json!({"customer_id": customer_id}),
        )
        .await,
    );
    assert_eq!(
        structured(&methods)["payment_methods"][0]["id"],
        structured(&attached)["payment_method"]["id"]
    );
    let held = run(
        "payments_create",
        call(
            &c,
            "payments_create",
            json!({"amount": "9.00", "payment_method": "pm_card_visa", "capture_method": "manual"}),
        )
        .await,
    );
    assert_eq!(structured(&held)["payment"]["status"], "requires_capture");
    let captured = run(
        "payments_capture",
        call(
            &c,
            "payments_capture",
            json!({"payment_id": structured(&held)["payment"]["id"], "amount": "4.00"}),
        )
        .await,
    );
    assert_eq!(structured(&captured)["payment"]["status"], "succeeded");
    assert_eq!(
        structured(&captured)["payment"]["amount_captured"]["amount"],
        "4.00"
    );
    let balance = run(
        "payments_balance",
        call(&c, "payments_balance", json!({})).await,
    );
    assert_eq!(
        structured(&balance)["balances"][0]["available"]["amount"],
        "4.00",
        "the simulator's balance holds what was captured"
    );
    let pay = run("payments_create", call(&c, "payments_create", json!({"amount": "10.00", "payment_method": "pm_card_visa", "customer_id": customer_id})).await);
    let payment_id = structured(&pay)["payment"]["id"].clone();
    run(
        "payments_get",
        call(&c, "payments_get", json!({"payment_id": payment_id})).await,
    );
    run(
        "payments_list",
        call(&c, "payments_list", json!({"status": "succeeded"})).await,
    );
    run("payments_held", call(&c, "payments_held", json!({})).await);
    run(
        "payments_refund",
        call(
            &c,
            "payments_refund",
            json!({"payment_id": payment_id, "amount": "2.50"}),
        )
        .await,
    );
    let refunds = run(
        "payments_refunds_list",
        call(
            &c,
            "payments_refunds_list",
            json!({"payment_id": payment_id}),
        )
        .await,
    );
    assert_eq!(
        structured(&refunds)["refunds"][0]["amount"]["amount"],
        "2.50"
    );
    // the timeline: added to the core catalog only, served here without MCP code
    let timeline = run(
        "payments_timeline",
        call(&c, "payments_timeline", json!({"payment_id": payment_id})).await,
    );
    let timeline = structured(&timeline);
    assert_eq!(timeline["payment"]["id"], payment_id);
    assert_eq!(
        timeline["audit_included"], true,
        "the key reads the audit log"
    );
    let kinds: Vec<&str> = timeline["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert!(
        kinds.contains(&"event") && kinds.contains(&"audit"),
        "{kinds:?}"
    );
    assert!(
        timeline["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"]["object_id"]
                .as_str()
                .is_some_and(|o| o.starts_with("ref_"))),
        "the refund's events are on the payment's timeline"
    );
    // the logs, the ledger and the rules (fraud:read)
    let events = run(
        "events_list",
        call(&c, "events_list", json!({"limit": 500})).await,
    );
    assert!(
        structured(&events)["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["object_id"] == payment_id)),
        "the payment's events are in the log"
    );
    let records = run(
        "audit_list",
        call(&c, "audit_list", json!({"after": 0})).await,
    );
    assert!(structured(&records)["records"]
        .as_array()
        .is_some_and(|r| !r.is_empty()));
    let verified = run("audit_verify", call(&c, "audit_verify", json!({})).await);
    assert!(structured(&verified)["verification"]["first_bad"].is_null());
    run(
        "ledger_balances",
        call(&c, "ledger_balances", json!({})).await,
    );
    let rules = run(
        "fraud_rules_get",
        call(&c, "fraud_rules_get", json!({})).await,
    );
    assert!(structured(&rules).get("rule_set").is_some());
    let version = call(&c, "fraud_rules_version", json!({"version": 99})).await;
    assert_eq!(
        version.is_error,
        Some(true),
        "no such version: {}",
        text(&version)
    );
    called.borrow_mut().insert("fraud_rules_version");
    let tenant = run("tenant_get", call(&c, "tenant_get", json!({})).await);
    assert_eq!(structured(&tenant)["tenant"]["name"], "all");
    let cancel = call(&c, "payments_cancel", json!({"payment_id": payment_id})).await;
    assert_eq!(
        cancel.is_error,
        Some(true),
        "a succeeded payment cannot be cancelled"
    );
    called.borrow_mut().insert("payments_cancel");
    let removed = run(
        "banking_remove_item",
        call(&c, "banking_remove_item", json!({"item_id": item_id})).await,
    );
    assert!(
        structured(&removed)["item"]["removed_at"].is_string(),
        "the removed item says when"
    );
    let items = call(&c, "banking_items", json!({})).await;
    assert_eq!(
        structured(&items)["items"].as_array().map(Vec::len),
        Some(0),
        "a removed item no longer lists"
    );
    let again = call(&c, "banking_sync", json!({"item_id": item_id})).await;
    assert_eq!(
        again.is_error,
        Some(true),
        "a removed item cannot be synced"
    );
    assert!(text(&again).contains("removed"), "{}", text(&again));
    let twice = call(&c, "banking_remove_item", json!({"item_id": item_id})).await;
    assert_ne!(twice.is_error, Some(true), "removal is idempotent");
    assert_eq!(
        structured(&twice)["item"]["removed_at"],
        structured(&removed)["item"]["removed_at"],
        "a second removal answers the first"
    );
    run(
        "trading_account",
        call(&c, "trading_account", json!({})).await,
    );
    run(
        "trading_quote",
        call(&c, "trading_quote", json!({"symbol": "AAPL"})).await,
    );
    let asset = run(
        "trading_asset",
        call(&c, "trading_asset", json!({"symbol": "AAPL"})).await,
    );
    assert_eq!(structured(&asset)["asset"]["tradable"], json!(true));
    let unlisted = call(&c, "trading_asset", json!({"symbol": "ZZZZQ"})).await;
    assert_eq!(
        unlisted.is_error,
        Some(true),
        "an unlisted symbol is not found"
    );
    run("trading_clock", call(&c, "trading_clock", json!({})).await);
    let order = run(
        "trading_order_place",
        call(
            &c,
            "trading_order_place",
            json!({"symbol": "AAPL", "side": "buy", "qty": "2"}),
        )
        .await,
    );
    let order_id = structured(&order)["order"]["id"].clone();
    run(
        "trading_order_get",
        call(&c, "trading_order_get", json!({"order_id": order_id})).await,
    );
    let fills = run(
        "trading_order_fills",
        call(&c, "trading_order_fills", json!({"order_id": order_id})).await,
    );
    assert!(structured(&fills)["fills"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
    let bars = run(
        "trading_bars",
        call(
            &c,
            "trading_bars",
            json!({"symbol": "aapl", "timeframe": "1Hour", "limit": 3}),
        )
        .await,
    );
    assert_eq!(structured(&bars)["bars"].as_array().map(Vec::len), Some(3));
    run(
        "trading_orders_list",
        call(&c, "trading_orders_list", json!({})).await,
    );
    run(
        "trading_orders_held",
        call(&c, "trading_orders_held", json!({})).await,
    );
    run(
        "trading_positions",
        call(&c, "trading_positions", json!({})).await,
    );
    let limit = run("trading_order_place", call(&c, "trading_order_place", json!({"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "limit", "limit_price": "1.00", "time_in_force": "gtc"})).await);
    let limit_id = structured(&limit)["order"]["id"].clone();
    run(
        "trading_order_cancel",
        call(&c, "trading_order_cancel", json!({"order_id": limit_id})).await,
    );
    run(
        "fraud_assess",
        call(
            &c,
            "fraud_assess",
            json!({"amount": "10.00", "payment_method": "pm_card_visa"}),
        )
        .await,
    );
    run(
        "fraud_cases_list",
        call(&c, "fraud_cases_list", json!({})).await,
    );
    let missing = call(
        &c,
        "fraud_case_get",
        json!({"case_id": fintech_core::id::CaseId::generate().to_string()}),
    )
    .await;
    assert_eq!(missing.is_error, Some(true));
    called.borrow_mut().insert("fraud_case_get");
    let all: BTreeSet<String> = c
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let called: BTreeSet<String> = called.into_inner().into_iter().map(str::to_owned).collect();
    assert_eq!(called, all, "every tool is exercised");
    c.cancel().await.ok();
}

#[tokio::test]
async fn http_guards_reject_bad_host_origin_key_and_foreign_sessions() {
    let w = world().await;
    let (alice, _) = key(&w, "alice", AGENT, KeyLimits::default()).await;
    let (bob, _) = key(&w, "bob", AGENT, KeyLimits::default()).await;
    let state = McpState::new(w.platform.clone(), McpOptions::default());
    let app = fintech_mcp::http::router(state, fintech_mcp::http::HttpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    let url = format!("http://{addr}/mcp");
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let post = |key: Option<&str>| {
        let mut r = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r
    };
    let r = post(None).json(&init).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(
        post(Some("fk_wrong"))
            .json(&init)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // a message that repeats a key is refused before it reaches a tool (issue 12)
    let twice = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"},"capabilities":{}}}"#;
    let r = post(Some(&alice)).body(twice).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key"),
        "{body}"
    );
    let r = post(Some(&alice))
        .header("host", "evil.example.com")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(Some(&alice))
        .header("origin", "https://evil.example.com")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(Some(&alice))
        .header("origin", format!("http://localhost:{}", addr.port()))
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r
        .headers()
        .get("mcp-session-id")
        .expect("session id")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        session.len() >= 32,
        "session ids are long random values: {session}"
    );
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    let as_bob = post(Some(&bob))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_bob.status(),
        404,
        "a session belongs to the key that opened it"
    );
    let unknown = post(Some(&alice))
        .header("mcp-session-id", "0123456789abcdef0123456789abcdef")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&ping)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // legacy SSE: another key cannot post into alice's session
    let sse = http
        .get(format!("http://{addr}/sse"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut body = sse.bytes_stream();
    use futures::StreamExt;
    let first = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
    let endpoint = first
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("endpoint event")
        .to_owned();
    let r = http
        .post(format!("http://{addr}{endpoint}"))
        .bearer_auth(&bob)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("http://{addr}{endpoint}"))
        .bearer_auth(&alice)
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

/// A client that records progress and resource-updated notifications.
#[derive(Clone, Default)]
struct Recorder {
    progress: Arc<std::sync::Mutex<Vec<f64>>>,
    updated: Arc<std::sync::Mutex<Vec<String>>>,
}

impl rmcp::ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params.progress);
    }

    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
    }
}

#[tokio::test]
async fn sync_reports_progress_and_subscriptions_see_changes_made_elsewhere() {
    let w = world().await;
    let (_, p) = key(&w, "notify", AGENT, KeyLimits::default()).await;
    let state = McpState::new(
        w.platform.clone(),
        McpOptions {
            watch_interval: Duration::from_millis(50),
        },
    );
    let handler = state.handler(Some(p.clone()));
    let (server_io, client_io) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = handler.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let recorder = Recorder::default();
    let c = recorder.clone().serve(client_io).await.expect("client");
    let call = |tool: &str, args: Value| {
        let Value::Object(args) = args else {
            unreachable!()
        };
        CallToolRequestParams::new(tool.to_owned()).with_arguments(args)
    };
    let public = c
        .call_tool(call(
            "banking_sandbox_public_token",
            json!({"institution_id": "ins_109508"}),
        ))
        .await
        .unwrap();
    let item = c
        .call_tool(call(
            "banking_link_complete",
            json!({"public_token": structured(&public)["public_token"]}),
        ))
        .await
        .unwrap();
    let item_id = structured(&item)["item"]["id"].clone();
    let mut sync = call("banking_sync", json!({"item_id": item_id}));
    sync.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(7)),
    ));
    let summary = c.call_tool(sync).await.unwrap();
    let pages = structured(&summary)["summary"]["pages"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let progress = recorder.progress.lock().unwrap().clone();
    assert_eq!(
        progress.len() as u64,
        pages,
        "one progress notification per page"
    );
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "progress increases: {progress:?}"
    );

    // subscribe to the limits and a payment; change them through the platform directly
    #[allow(deprecated)]
    c.subscribe(rmcp::model::SubscribeRequestParams::new("fintech://limits"))
        .await
        .expect("subscribe");
    // made elsewhere: the same key through the SDK (no MCP confirmation step)
    let elsewhere = Principal {
        interface: Interface::Sdk,
        ..p.clone()
    };
    let payment = w
        .platform
        .create_payment(
            &elsewhere,
            fintech_core::payments::NewPayment {
                amount: Money::parse("9.99", "USD").unwrap(),
                payment_method: "pm_card_visa".into(),
                customer_id: None,
                payee: None,
                description: None,
                capture_method: None,
                confirmation_token: None,
            },
            None,
        )
        .await
        .unwrap();
    let uri = format!("fintech://payments/{}", payment.id);
    #[allow(deprecated)]
    c.subscribe(rmcp::model::SubscribeRequestParams::new(uri.clone()))
        .await
        .expect("subscribe to own payment");
    w.platform
        .create_refund(
            &elsewhere,
            fintech_core::payments::NewRefund {
                payment_id: payment.id.clone(),
                amount: None,
                reason: None,
                confirmation_token: None,
            },
            None,
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = recorder.updated.lock().unwrap().clone();
        if got.contains(&uri) && got.iter().any(|u| u == "fintech://limits") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "updates seen: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.cancel().await.ok();
}

/// A session opened over stdio or legacy SSE acts with its key's current state: a lowered
/// limit refuses the next payment, and a revoked key stops the next call (issue 12: a
/// payment used to succeed after the key was revoked or its limit lowered).
#[tokio::test]
async fn a_fixed_session_sees_its_keys_current_limits_and_revocation() {
    let w = world().await;
    let (_, p) = key(
        &w,
        "live",
        AGENT,
        KeyLimits {
            max_per_payment: Some(Money::parse("100", "USD").unwrap()),
            confirm_above: Some(Money::parse("100", "USD").unwrap()),
            ..Default::default()
        },
    )
    .await;
    let c = client(&w, &p, McpOptions::default()).await;
    let pay = json!({"amount": "40.00", "currency": "USD", "payment_method": "pm_card_visa"});
    let first = call(&c, "payments_create", pay.clone()).await;
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    let admin = Principal::system(p.tenant_id.clone(), Interface::Sdk);
    let fintech_core::Actor::ApiKey(id) = &p.actor else {
        panic!("a key principal")
    };
    w.platform
        .set_key_limits(
            &admin,
            id,
            KeyLimits {
                max_per_payment: Some(Money::parse("5", "USD").unwrap()),
                confirm_above: Some(Money::parse("100", "USD").unwrap()),
                ..Default::default()
            },
            None,
        )
        .await
        .expect("lower the limit");
    let refused = call(&c, "payments_create", pay.clone()).await;
    assert_eq!(refused.is_error, Some(true), "{}", text(&refused));
    assert!(
        text(&refused).contains("max_per_payment"),
        "{}",
        text(&refused)
    );
    w.platform
        .revoke_api_key(&admin, id, None)
        .await
        .expect("revoke");
    let after = c
        .call_tool(CallToolRequestParams::new("whoami").with_arguments(serde_json::Map::new()))
        .await;
    assert!(
        after.is_err(),
        "a revoked key's session is refused: {after:?}"
    );
    let payments = w
        .platform
        .payments(&admin, &Default::default())
        .await
        .expect("list");
    assert_eq!(payments.len(), 1, "only the payment made before the change");
    c.cancel().await.ok();
}

/// Over stdio, a message that repeats a key is answered with an error carrying its id and
/// never reaches a tool; well-formed messages on the same pipe still work.
#[tokio::test]
async fn stdio_refuses_a_message_with_a_repeated_key() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let w = world().await;
    let (_, p) = key(&w, "stdio", AGENT, KeyLimits::default()).await;
    let state = McpState::new(w.platform.clone(), McpOptions::default());
    let (mut client_w, server_r) = tokio::io::duplex(64 * 1024);
    let (server_w, client_r) = tokio::io::duplex(64 * 1024);
    tokio::spawn(fintech_mcp::serve_lines(
        state,
        p.clone(),
        server_r,
        server_w,
    ));
    let mut lines = BufReader::new(client_r).lines();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
    client_w
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(answer["id"], 1, "{answer}");
    client_w
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await
        .unwrap();
    let twice = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"payments_create","arguments":{"amount":"1.00","currency":"USD","payment_method":"pm_card_visa","amount":"900.00"}}}"#;
    client_w
        .write_all(format!("{twice}\n").as_bytes())
        .await
        .unwrap();
    let refused: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(refused["id"], 7, "{refused}");
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    let ok = r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;
    client_w
        .write_all(format!("{ok}\n").as_bytes())
        .await
        .unwrap();
    let answer: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(answer["id"], 8, "{answer}");
    assert!(answer.get("result").is_some(), "{answer}");
    let admin = Principal::system(p.tenant_id.clone(), Interface::Sdk);
    let payments = w
        .platform
        .payments(&admin, &Default::default())
        .await
        .expect("list");
    assert!(payments.is_empty(), "nothing was charged");
}

/// The drifts of issue 13: the MCP preview is core's decision, so it says what execution does.
#[tokio::test]
async fn the_preview_is_the_decision_core_makes() {
    let w = world().await;
    let usd = |s: &str| Some(Money::parse(s, "USD").unwrap());
    let (_, p) = key(
        &w,
        "drifts",
        AGENT,
        KeyLimits {
            approval_threshold: usd("50"),
            confirm_above: usd("500"),
            ..Default::default()
        },
    )
    .await;
    let admin = Principal::system(p.tenant_id.clone(), Interface::Sdk);
    w.platform
        .set_fraud_rules(
            &admin,
            r#"
review_score = 50
block_score = 100
[[rule]]
name = "large"
action = "review"
score = 50
when.amount_above = { amount = { USD = "100.00" } }
[[rule]]
name = "large-order"
action = "review"
score = 50
when.order_notional_above = { amount = { USD = "1000.00" } }
"#,
            fintech_core::fraud::RuleFormat::Toml,
            None,
        )
        .await
        .expect("rules");
    let c = client(&w, &p, McpOptions::default()).await;

    // over the approval threshold AND flagged for review: review goes first, as execution does
    let args = json!({"amount": "600.00", "payment_method": "pm_card_visa"});
    let first = call(&c, "payments_create", args.clone()).await;
    let s = structured(&first);
    assert_eq!(s["status"], "confirmation_required", "{s}");
    assert_eq!(s["preview"]["status"], "pending_review", "{s}");
    let mut confirmed = args.clone();
    confirmed["confirmation_token"] = s["confirmation_token"].clone();
    let done = call(&c, "payments_create", confirmed).await;
    assert_eq!(
        structured(&done)["payment"]["status"],
        "pending_review",
        "{}",
        text(&done)
    );

    // a stop order is priced at its stop price in the preview as in execution: 1 share with a
    // stop at 900 is 900 of notional (above confirm_above), whatever the quote
    let stop = json!({"symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "stop", "stop_price": "900"});
    let r = call(&c, "trading_order_place", stop).await;
    let s = structured(&r);
    assert_eq!(s["status"], "confirmation_required", "{s}");
    assert_eq!(s["preview"]["amount"]["amount"], "900.00", "{s}");
    assert_eq!(s["preview"]["reference_price"]["amount"], "900.00", "{s}");

    // the order preview runs the fraud screen
    let big = json!({"symbol": "AAPL", "side": "buy", "qty": "10", "order_type": "limit", "limit_price": "150"});
    let r = call(&c, "trading_order_place", big).await;
    let s = structured(&r);
    assert_eq!(s["preview"]["assessment"]["decision"], "review", "{s}");
    assert_eq!(s["preview"]["status"], "pending_review", "{s}");

    // an unknown payment method is refused in the decision, before anything is held or charged
    let e = c
        .call_tool(
            CallToolRequestParams::new("payments_create").with_arguments(
                json!({"amount": "600.00", "payment_method": "pm_card_doesNotExist"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .expect_err("unknown method");
    assert!(e.to_string().contains("payment_method"), "{e}");

    // one symbol validation: the tool's schema pattern is core's
    let tools = c.list_all_tools().await.expect("tools");
    let place = tools
        .iter()
        .find(|t| t.name == "trading_order_place")
        .expect("tool");
    assert_eq!(
        place.input_schema["properties"]["symbol"]["pattern"],
        fintech_core::trading::SYMBOL_INPUT_PATTERN
    );

    // payments_held answers the caller's held payments, not another key's
    let other = w
        .platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "other agent".into(),
                scopes: AGENT.iter().copied().collect::<BTreeSet<_>>(),
                limits: KeyLimits {
                    approval_threshold: usd("10"),
                    ..Default::default()
                },
            },
            None,
        )
        .await
        .expect("key")
        .into_value();
    let other = w
        .platform
        .authenticate(&other.secret, Interface::Sdk)
        .await
        .expect("auth");
    let theirs = w
        .platform
        .create_payment(
            &other,
            fintech_core::payments::NewPayment {
                amount: Money::parse("20.00", "USD").unwrap(),
                payment_method: "pm_card_visa".into(),
                customer_id: None,
                payee: None,
                description: None,
                capture_method: None,
                confirmation_token: None,
            },
            None,
        )
        .await
        .expect("held");
    assert_eq!(theirs.status.as_str(), "pending_approval");
    let held = call(&c, "payments_held", json!({})).await;
    let ids: Vec<_> = structured(&held)["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.contains(&theirs.id.to_string()), "{ids:?}");
    assert_eq!(ids.len(), 1, "only the caller's own held payment: {ids:?}");
    // an operator who decides (approvals:write) sees all of them
    let all = w.platform.held_payments(&admin).await.expect("held");
    assert_eq!(all.len(), 2);
    c.cancel().await.ok();
}

/// Preview equals execution over MCP, for a grid of amounts, payment methods (valid, declined,
/// processing, unknown), capture methods and order types: what core previews for the call is
/// what the tool does (the SDK and REST run the randomized property in `tests/it/preview.rs`).
#[tokio::test]
async fn mcp_moves_end_as_core_previews_them() {
    use fintech_core::platform::DecisionStatus;
    let w = world().await;
    let usd = |s: &str| Some(Money::parse(s, "USD").unwrap());
    let (_, p) = key(
        &w,
        "grid",
        AGENT,
        KeyLimits {
            max_per_payment: usd("300"),
            approval_threshold: usd("50"),
            confirm_above: usd("100"),
            max_order_notional: usd("5000"),
            ..Default::default()
        },
    )
    .await;
    let admin = Principal::system(p.tenant_id.clone(), Interface::Sdk);
    w.platform
        .set_fraud_rules(
            &admin,
            "review_score = 50\nblock_score = 100\n[[rule]]\nname = \"large\"\naction = \"review\"\nscore = 50\nwhen.amount_above = { amount = { USD = \"200.00\" } }\n",
            fintech_core::fraud::RuleFormat::Toml, None
        )
        .await
        .expect("rules");
    let c = client(&w, &p, McpOptions::default()).await;
    let mut cases = 0;
    for amount in ["10.00", "60.00", "150.00", "250.00", "400.00"] {
        for pm in [
            "pm_card_visa",
            "pm_card_processing",
            "pm_card_chargeDeclined",
            "pm_card_nope",
        ] {
            for manual in [false, true] {
                let req = fintech_core::payments::NewPayment {
                    amount: Money::parse(amount, "USD").unwrap(),
                    payment_method: pm.into(),
                    customer_id: None,
                    payee: None,
                    description: None,
                    capture_method: manual.then_some(fintech_core::payments::CaptureMethod::Manual),
                    confirmation_token: None,
                };
                let preview = w.platform.preview_payment(&p, &req).await;
                let mut args = json!({"amount": amount, "payment_method": pm});
                if manual {
                    args["capture_method"] = json!("manual");
                }
                let tool = CallToolRequestParams::new("payments_create")
                    .with_arguments(args.as_object().unwrap().clone());
                let first = c.call_tool(tool).await;
                let d = match (&preview, first) {
                    (Err(e), Err(protocol)) => {
                        assert!(
                            protocol.to_string().contains("payment_method"),
                            "{e} / {protocol}"
                        );
                        cases += 1;
                        continue;
                    }
                    (Ok(d), Ok(r)) => (d.clone(), r),
                    (preview, first) => panic!("{amount} {pm}: {preview:?} vs {first:?}"),
                };
                let (d, r) = d;
                let r = if !d.status.goes_ahead() {
                    assert_eq!(r.is_error, Some(true), "{amount} {pm}: {}", text(&r));
                    assert!(text(&r).contains(if d.status == DecisionStatus::Blocked {
                        "blocked"
                    } else {
                        "limit_exceeded"
                    }));
                    cases += 1;
                    continue;
                } else if d.confirmation_required {
                    let s = structured(&r);
                    assert_eq!(s["status"], "confirmation_required", "{amount} {pm}: {s}");
                    assert_eq!(s["preview"]["status"], d.status.as_str(), "{amount} {pm}");
                    args["confirmation_token"] = s["confirmation_token"].clone();
                    call(&c, "payments_create", args).await
                } else {
                    r
                };
                let s = structured(&r);
                assert_eq!(s["status"], "executed", "{amount} {pm}: {s}");
                let status = serde_json::from_value(s["payment"]["status"].clone()).unwrap();
                assert_eq!(
                    DecisionStatus::of_payment(status, req.capture_method.unwrap_or_default()),
                    d.status,
                    "{amount} {pm} manual={manual}: {s}"
                );
                cases += 1;
            }
        }
    }
    for (kind, limit, stop) in [
        ("market", None, None),
        ("limit", Some("120"), None),
        ("stop", None, Some("900")),
        ("stop_limit", Some("30"), Some("20")),
    ] {
        for side in ["buy", "sell"] {
            let mut args = json!({"symbol": "AAPL", "side": side, "qty": "3", "order_type": kind});
            if let Some(l) = limit {
                args["limit_price"] = json!(l);
            }
            if let Some(s) = stop {
                args["stop_price"] = json!(s);
            }
            let req = fintech_core::trading::OrderRequest {
                symbol: "AAPL".into(),
                side: fintech_core::trading::OrderSide::parse(side).unwrap(),
                qty: 3.into(),
                order_type: fintech_core::trading::OrderType::parse(kind).unwrap(),
                time_in_force: fintech_core::trading::TimeInForce::Day,
                limit_price: limit.map(|l| Money::parse(l, "USD").unwrap()),
                stop_price: stop.map(|s| Money::parse(s, "USD").unwrap()),
                confirmation_token: None,
            };
            let d = w.platform.preview_order(&p, &req).await.expect("preview");
            let r = call(&c, "trading_order_place", args.clone()).await;
            let r = if d.confirmation_required {
                let s = structured(&r);
                assert_eq!(
                    s["preview"]["status"],
                    d.status.as_str(),
                    "{kind} {side}: {s}"
                );
                assert_eq!(
                    s["preview"]["amount"],
                    json!(d.amount),
                    "{kind} {side}: priced alike"
                );
                args["confirmation_token"] = s["confirmation_token"].clone();
                call(&c, "trading_order_place", args).await
            } else {
                r
            };
            let s = structured(&r);
            let status = serde_json::from_value(s["order"]["status"].clone()).unwrap();
            assert_eq!(
                DecisionStatus::of_order(status),
                d.status,
                "{kind} {side}: {s}"
            );
            cases += 1;
        }
    }
    assert_eq!(cases, 48);
    c.cancel().await.ok();
}
