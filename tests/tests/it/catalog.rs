//! The operation catalog against its shells and its `Platform` methods: the REST document has
//! every operation with the catalog's scope, every `Platform` method refuses a key without the
//! catalog's scope and accepts one with only that scope, and the payment timeline — added to
//! the catalog without touching a shell — is served over REST. (MCP's tool list against the
//! catalog is in `fintech-mcp/tests/mcp.rs`, `fintech op` in `fintech-cli/tests/cli.rs`.)
//! The storage-touching parts run on SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use fintech_core::catalog::{Serve, OPERATIONS};
use fintech_core::payments::{NewPayment, NewRefund};
use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::{Config, ErrorKind, Interface, Money, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_server::{app, AppState, ServerOptions};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

/// REST operations that take an API key but are not in the catalog yet (administration,
/// approvals, logs, webhooks, fraud rules): each still calls one `Platform` method that checks
/// its scope. Moving one into the catalog removes it from here.
const REST_ONLY: &[&str] = &[
    // previews of money moves (MCP previews through the two-step tools themselves)
    "POST /v1/payments/preview",
    "POST /v1/payments/{}/capture/preview",
    "POST /v1/refunds/preview",
    "POST /v1/orders/preview",
    "POST /v1/keys",
    "DELETE /v1/keys/{}",
    "PUT /v1/keys/{}/limits",
    "POST /v1/users",
    "PUT /v1/users/{}/password",
    "GET /v1/approvals",
    "POST /v1/webhook_endpoints",
    "DELETE /v1/webhook_endpoints/{}",
    "POST /v1/webhook_deliveries/{}/replay",
    "PUT /v1/fraud/rules",
    "POST /v1/fraud/backtests",
];

fn route_key(method: &str, path: &str) -> String {
    let shape: Vec<&str> = path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "{}" } else { seg })
        .collect();
    format!("{} {}", method.to_uppercase(), shape.join("/"))
}

/// Every catalog operation is in the OpenAPI document at its method and path, with the
/// catalog's scope and name; every keyed operation of the document is a catalog operation or
/// listed in `REST_ONLY`; names are unique.
#[test]
fn the_rest_document_has_every_operation_with_its_scope() {
    let doc = serde_json::to_value(fintech_server::openapi()).expect("doc");
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = std::collections::BTreeMap::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("item") {
            documented.insert(route_key(method, path), operation.clone());
        }
    }
    let mut names = BTreeSet::new();
    for op in OPERATIONS {
        assert!(names.insert(op.name), "{} twice in the catalog", op.name);
        let key = route_key(op.method.as_str(), op.path);
        let operation = documented
            .get(&key)
            .unwrap_or_else(|| panic!("REST lacks {} ({key})", op.name));
        assert_eq!(operation["x-fintech-operation"], op.name, "{key}");
        let scopes: Vec<&str> = op.scope.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            operation["security"],
            json!([{ "api_key": scopes }]),
            "{} ({key}): scope",
            op.name
        );
        if op.rest == Serve::Generic {
            assert_eq!(operation["operationId"], op.name);
            let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
            assert_eq!(schema["type"], "object", "{}", op.name);
            for status in ["401", "403", "404", "422"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{}: {status} is documented",
                    op.name
                );
            }
        }
    }
    let mut uncatalogued = Vec::new();
    for (key, operation) in &documented {
        let keyed = operation["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some()));
        if keyed && operation.get("x-fintech-operation").is_none() && !REST_ONLY.contains(&&**key) {
            uncatalogued.push(key.clone());
        }
    }
    assert!(
        uncatalogued.is_empty(),
        "REST operations neither in the catalog nor in REST_ONLY: {uncatalogued:?}"
    );
    // every schema the document refers to exists
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut refs = Vec::new();
    collect_refs(&doc["paths"], &mut refs);
    for r in refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(name), "dangling {r}");
    }
}

/// The one door: no shell reaches the database but through `Platform` (storage is private to
/// core; the `testing` feature that opens it is for test suites, and a shell's source must not
/// lean on it through feature unification either).
#[test]
fn shells_reach_the_database_only_through_the_platform() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offending = Vec::new();
    for shell in ["fintech-server/src", "fintech-mcp/src", "fintech-cli/src"] {
        let mut dirs = vec![root.join(shell)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("shell sources") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source");
                for (n, line) in text.lines().enumerate() {
                    if ["fintech_core::storage", ".store()", "sqlx::"]
                        .iter()
                        .any(|door| line.contains(door))
                    {
                        offending.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(offending.is_empty(), "side doors: {offending:#?}");
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

/// A plausible value for a required argument, by its name.
fn sample(name: &str) -> Value {
    if name == "version" {
        return json!(1);
    }
    json!(match name {
        "payment_id" => "pay_0",
        "customer_id" => "cus_0",
        "item_id" => "itm_0",
        "order_id" => "ord_0",
        "case_id" => "fcs_0",
        "symbol" => "AAPL",
        "amount" => "1.00",
        "payment_method" => "pm_card_visa",
        "public_token" => "public-sandbox-0",
        "institution_id" => "ins_109508",
        "side" => "buy",
        "qty" => "1",
        "comment" => "checked",
        "key_id" => "key_0",
        "endpoint_id" => "whe_0",
        other => panic!("no sample for the required argument {other}; add one"),
    })
}

fn sample_args(op: &fintech_core::catalog::Operation) -> Value {
    let schema = (op.input_schema)();
    let mut args = Map::new();
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten() {
        let name = name.as_str().expect("name");
        args.insert(name.to_owned(), sample(name));
    }
    Value::Object(args)
}

struct World {
    platform: Platform,
    tenant: fintech_core::id::TenantId,
    _dir: Option<tempfile::TempDir>,
}

async fn world(url: String, dir: Option<tempfile::TempDir>) -> World {
    let config = Config {
        database_url: url,
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 8,
        ..Config::default()
    };
    let platform = Platform::builder(config)
        .with_providers(Arc::new(SimProviders::new()))
        .build()
        .await
        .expect("platform");
    let tenant = platform
        .create_tenant("catalog", Interface::Sdk)
        .await
        .expect("tenant")
        .id;
    World {
        platform,
        tenant,
        _dir: dir,
    }
}

impl World {
    async fn key(&self, scopes: impl IntoIterator<Item = Scope>) -> (String, Principal) {
        let admin = Principal::system(self.tenant.clone(), Interface::Sdk);
        let created = self
            .platform
            .create_api_key(
                &admin,
                NewApiKey {
                    name: "catalog".into(),
                    scopes: scopes.into_iter().collect(),
                    limits: KeyLimits::default(),
                },
                None,
            )
            .await
            .expect("key")
            .into_value();
        let p = self
            .platform
            .authenticate(&created.secret, Interface::Http)
            .await
            .expect("auth");
        (created.secret, p)
    }
}

/// Each operation's `Platform` method (called through the invoker, past the catalog's own
/// check) refuses a key holding every other scope, and does not refuse one holding only the
/// catalog's scope: the catalog and the method agree.
async fn scopes_agree(w: &World) {
    for op in OPERATIONS {
        let Some(scope) = op.scope else { continue };
        let others = Scope::ALL
            .into_iter()
            .filter(|s| *s != scope && *s != Scope::Admin);
        let (_, without) = w.key(others).await;
        let r = (op.invoke)(&w.platform, &without, sample_args(op), None).await;
        assert_eq!(
            r.as_ref().err().map(|e| e.kind()),
            Some(ErrorKind::Forbidden),
            "{}: a key without {scope} got {r:?}",
            op.name
        );
        let (_, only) = w.key([scope]).await;
        let r = (op.invoke)(&w.platform, &only, sample_args(op), None).await;
        assert!(
            r.as_ref()
                .err()
                .is_none_or(|e| e.kind() != ErrorKind::Forbidden),
            "{}: a key with only {scope} got {r:?}",
            op.name
        );
    }
}

async fn get(router: &axum::Router, path: &str, key: &str) -> (StatusCode, Value) {
    let r = router
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = r.status();
    let bytes = r.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The payment timeline over REST (a generic route): a captured-then-refunded payment's events
/// and audit records in order; a payments:read key sees the events only; another tenant's key
/// and a malformed id get 404; the query string is typed by the input schema.
async fn timeline_over_rest(w: &World) {
    let router = app(AppState::new(w.platform.clone(), ServerOptions::default()));
    let admin = Principal::system(w.tenant.clone(), Interface::Sdk);
    let payment = w
        .platform
        .create_payment(
            &admin,
            NewPayment {
                amount: Money::parse("12.50", "USD").expect("money"),
                payment_method: "pm_card_visa".into(),
                customer_id: None,
                payee: Some("Coffee".into()),
                description: None,
                capture_method: None,
                confirmation_token: None,
            },
            None,
        )
        .await
        .expect("payment");
    w.platform
        .create_refund(
            &admin,
            NewRefund {
                payment_id: payment.id.clone(),
                amount: Some(Money::parse("2.50", "USD").expect("money")),
                reason: None,
                confirmation_token: None,
            },
            None,
        )
        .await
        .expect("refund");
    let path = format!("/v1/payments/{}/timeline", payment.id);

    let (auditor, _) = w.key([Scope::PaymentsRead, Scope::FraudRead]).await;
    let (status, body) = get(&router, &path, &auditor).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payment"]["id"], payment.id.as_str());
    assert_eq!(body["audit_included"], true);
    let entries = body["entries"].as_array().expect("entries");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"audit") && kinds.contains(&"event"),
        "{kinds:?}"
    );
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    // RFC 3339 in UTC with a fixed precision sorts as text
    assert_eq!(times, sorted, "entries are in time order");
    let event_types: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["event"]["type"].as_str())
        .collect();
    assert!(
        event_types.iter().any(|t| t.starts_with("payment")),
        "{event_types:?}"
    );
    assert!(
        event_types.iter().any(|t| t.contains("refund")),
        "the refund's events belong to the payment's timeline: {event_types:?}"
    );
    let audit_objects: BTreeSet<&str> = entries
        .iter()
        .filter_map(|e| e["audit"]["object_id"].as_str())
        .collect();
    assert!(
        audit_objects.contains(payment.id.as_str()),
        "{audit_objects:?}"
    );

    let (reader, _) = w.key([Scope::PaymentsRead]).await;
    let (status, body) = get(&router, &path, &reader).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["audit_included"], false);
    assert!(body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .all(|e| e["kind"] == "event"));

    let (trader, _) = w.key([Scope::TradingRead]).await;
    assert_eq!(get(&router, &path, &trader).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&router, "/v1/payments/nonsense/timeline", &reader)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let other = w
        .platform
        .create_tenant("other", Interface::Sdk)
        .await
        .expect("tenant");
    let foreign = w
        .platform
        .create_api_key(
            &Principal::system(other.id, Interface::Sdk),
            NewApiKey {
                name: "foreign".into(),
                scopes: [Scope::PaymentsRead].into(),
                limits: KeyLimits::default(),
            },
            None,
        )
        .await
        .expect("key")
        .into_value()
        .secret;
    assert_eq!(get(&router, &path, &foreign).await.0, StatusCode::NOT_FOUND);

    // a generic GET with a typed query: held payments take no arguments, so one is refused
    let (status, body) = get(&router, "/v1/payments/held?limit=5", &reader).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = get(&router, "/v1/payments/held", &reader).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["payments"].is_array());
}

async fn suite(backend: &str, url: String, dir: Option<tempfile::TempDir>) {
    let w = world(url, dir).await;
    scopes_agree(&w).await;
    timeline_over_rest(&w).await;
    w.platform.store().close().await;
    report(&format!("{backend} catalog: 2 passed, 0 failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_catalog() {
    let (dir, url) = fresh_sqlite_database().expect("temp sqlite");
    suite("sqlite", url, Some(dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_catalog() {
    let Some(server) = postgres_url() else { return };
    let url = fresh_postgres_database(&server)
        .await
        .expect("create test database");
    suite("postgres", url, None).await;
}
