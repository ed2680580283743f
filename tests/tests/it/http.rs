//! The HTTP API end to end, in process (`app(state).oneshot(request)`), on SQLite and on
//! PostgreSQL: authentication on every route, tenant isolation, scopes, idempotency headers,
//! strict bodies, approvals, the SSE stream, rate limits, and secrets kept out of logs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::{Config, Interface, Money, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_server::{app, AppState, ServerOptions};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Api {
    router: Router,
    platform: Platform,
    _dir: Option<tempfile::TempDir>,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Api {
    async fn new(url: String, dir: Option<tempfile::TempDir>, options: ServerOptions) -> Self {
        let config = Config {
            database_url: url,
            encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
            max_connections: 16,
            ..Config::default()
        };
        let platform = Platform::builder(config)
            .with_providers(Arc::new(SimProviders::new()))
            .build()
            .await
            .expect("platform");
        let router = app(AppState::new(platform.clone(), options));
        Self {
            router,
            platform,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        for (h, v) in extra {
            req = req.header(*h, *v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends a body exactly as written (JSON that a `Value` cannot hold, such as a repeated key).
    async fn raw(&self, method: Method, path: &str, key: &str, body: &str) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .expect("request");
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn tenant_key(
        &self,
        name: &str,
        scopes: &[Scope],
        limits: KeyLimits,
    ) -> (Principal, String) {
        let t = self
            .platform
            .create_tenant(name, Interface::Http)
            .await
            .expect("tenant");
        let admin = Principal::system(t.id, Interface::Http);
        let key = self.key(&admin, scopes, limits).await;
        (admin, key)
    }

    async fn key(&self, admin: &Principal, scopes: &[Scope], limits: KeyLimits) -> String {
        self.platform
            .create_api_key(
                admin,
                NewApiKey {
                    name: "test".into(),
                    scopes: scopes.iter().copied().collect::<BTreeSet<_>>(),
                    limits,
                },
                None,
            )
            .await
            .expect("key")
            .into_value()
            .secret
    }
}

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").expect("amount")
}

fn payment(amount: &str) -> Value {
    json!({"amount": {"amount": amount, "currency": "USD"}, "payment_method": "pm_card_visa", "payee": "Acme"})
}

const ALL: &[Scope] = &[
    Scope::Admin,
    Scope::BankingRead,
    Scope::BankingWrite,
    Scope::PaymentsRead,
    Scope::PaymentsWrite,
    Scope::TradingRead,
    Scope::TradingWrite,
    Scope::FraudRead,
];

/// Every documented operation without a key answers 401 with `WWW-Authenticate`.
async fn every_route_requires_auth(api: &Api) {
    let doc = serde_json::to_value(fintech_server::openapi()).expect("doc");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 30, "documented paths: {}", paths.len());
    for (path, ops) in paths {
        if path.starts_with("/v1/auth/") || path.starts_with("/v1/providers/") {
            // sign-in itself is public; provider webhooks authenticate by signature
            // (tests/it/inbound.rs)
            continue;
        }
        let concrete = path.replace("{id}", "pay_0").replace("{symbol}", "AAPL");
        for method in ops.as_object().expect("ops").keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = (m == Method::POST || m == Method::PUT).then(|| json!({}));
            let r = api.call(m.clone(), &concrete, None, body, &[]).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {path}");
            assert!(
                r.headers.contains_key(header::WWW_AUTHENTICATE),
                "{m} {path}"
            );
            assert_eq!(r.body["code"], "unauthenticated");
        }
    }
    let r = api
        .call(Method::GET, "/v1/whoami", Some("fk_nonsense"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A key of tenant B gets 404 for tenant A's payment; a key without the scope gets 403.
async fn tenants_and_scopes(api: &Api) {
    let (_, a) = api.tenant_key("a", ALL, KeyLimits::default()).await;
    let (admin_b, b) = api.tenant_key("b", ALL, KeyLimits::default()).await;
    let created = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&a),
            Some(payment("10.00")),
            &[],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let foreign = api
        .call(
            Method::GET,
            &format!("/v1/payments/{id}"),
            Some(&b),
            None,
            &[],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let refund = api
        .call(
            Method::POST,
            "/v1/refunds",
            Some(&b),
            Some(json!({"payment_id": id})),
            &[],
        )
        .await;
    assert_eq!(refund.status, StatusCode::NOT_FOUND);
    let reader = api
        .key(&admin_b, &[Scope::PaymentsRead], KeyLimits::default())
        .await;
    let denied = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&reader),
            Some(payment("1.00")),
            &[],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["code"], "forbidden");
    let keys = api
        .call(Method::GET, "/v1/keys", Some(&reader), None, &[])
        .await;
    assert_eq!(keys.status, StatusCode::FORBIDDEN);
}

/// Replays carry `Idempotent-Replayed: true`; another body with the key is 422; unknown
/// fields (mass assignment of `status`) are 400 and change nothing; bodies are size-limited.
async fn idempotency_and_strict_bodies(api: &Api) {
    let (admin, k) = api.tenant_key("idem", ALL, KeyLimits::default()).await;
    let hdr = [("idempotency-key", "order-1042")];
    let first = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&k),
            Some(payment("25.00")),
            &hdr,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.headers["idempotent-replayed"], "false");
    let again = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&k),
            Some(payment("25.00")),
            &hdr,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    let other = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&k),
            Some(payment("26.00")),
            &hdr,
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.body["code"], "idempotency_key_reused");
    let other_path = api
        .call(
            Method::POST,
            "/v1/customers",
            Some(&k),
            Some(json!({"email": null, "name": "x"})),
            &hdr,
        )
        .await;
    assert_eq!(
        other_path.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        other_path.body
    );

    let mut forged = payment("5.00");
    forged["status"] = json!("succeeded");
    let r = api
        .call(Method::POST, "/v1/payments", Some(&k), Some(forged), &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(r.body["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("status"));
    let float =
        json!({"amount": {"amount": 5.0, "currency": "USD"}, "payment_method": "pm_card_visa"});
    let r = api
        .call(Method::POST, "/v1/payments", Some(&k), Some(float), &[])
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "JSON numbers are refused for money: {:?}",
        r.body
    );
    let pan = json!({"amount": {"amount": "5.00", "currency": "USD"}, "payment_method": "4242424242424242"});
    let r = api
        .call(Method::POST, "/v1/payments", Some(&k), Some(pan), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        !r.body.to_string().contains("4242424242"),
        "card number echoed: {}",
        r.body
    );
    let big = json!({"amount": {"amount": "5.00", "currency": "USD"}, "payment_method": "pm_card_visa", "description": "x".repeat(100_000)});
    let r = api
        .call(Method::POST, "/v1/payments", Some(&k), Some(big), &[])
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Strict JSON (issue 12): the same key twice, at the top or nested, and an array where an
    // object belongs are 400; an amount past the cap is 422; nothing is charged for any.
    for (raw, why) in [
        (
            r#"{"amount":{"amount":"1.00","currency":"USD"},"payment_method":"pm_card_visa","amount":{"amount":"900.00","currency":"USD"}}"#,
            "duplicate key",
        ),
        (
            r#"{"amount":{"amount":"1.00","amount":"900.00","currency":"USD"},"payment_method":"pm_card_visa"}"#,
            "duplicate key",
        ),
        (
            r#"{"amount":["1.00","USD"],"payment_method":"pm_card_visa"}"#,
            "invalid",
        ),
    ] {
        let r = api.raw(Method::POST, "/v1/payments", &k, raw).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{raw}: {:?}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap_or_default().contains(why),
            "{raw}: {:?}",
            r.body
        );
    }
    let huge = json!({"amount": {"amount": "92233720368547758.07", "currency": "USD"}, "payment_method": "pm_card_visa"});
    let r = api
        .call(Method::POST, "/v1/payments", Some(&k), Some(huge), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let card = json!({"amount": {"amount": "5.00", "currency": "USD"}, "payment_method": "pm_card_visa", "payee": "4242 4242 4242 4242"});
    let r = api
        .call(Method::POST, "/v1/payments", Some(&k), Some(card), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(!r.body.to_string().contains("4242"), "echoed: {}", r.body);
    let list = api
        .platform
        .payments(&admin, &Default::default())
        .await
        .expect("list");
    assert_eq!(list.len(), 1, "only the first payment exists");
    let balances = api
        .call(Method::GET, "/v1/ledger/balances", Some(&k), None, &[])
        .await;
    assert_eq!(balances.status, StatusCode::OK, "{:?}", balances.body);
}

/// 50 concurrent requests with one key create exactly one payment.
async fn concurrent_duplicates(api: &Api) {
    let (admin, k) = api.tenant_key("dup", ALL, KeyLimits::default()).await;
    let calls = (0..50).map(|_| {
        api.call(
            Method::POST,
            "/v1/payments",
            Some(&k),
            Some(payment("7.00")),
            &[("idempotency-key", "same")],
        )
    });
    let replies = futures::future::join_all(calls).await;
    for r in &replies {
        assert!(
            r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT,
            "{} {:?}",
            r.status,
            r.body
        );
    }
    assert!(replies.iter().any(|r| r.status == StatusCode::CREATED));
    let list = api
        .platform
        .payments(&admin, &Default::default())
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
}

/// Above the threshold a payment is held (201, `pending_approval`), shows in approvals, and an
/// operator key approves it; a limit breach is 402 `limit_exceeded`.
async fn approvals_and_limits(api: &Api) {
    let limits = KeyLimits {
        max_per_payment: Some(usd("500")),
        approval_threshold: Some(usd("100")),
        ..Default::default()
    };
    let (admin, agent) = api
        .tenant_key(
            "approvals",
            &[Scope::PaymentsRead, Scope::PaymentsWrite],
            limits,
        )
        .await;
    let held = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&agent),
            Some(payment("150.00")),
            &[],
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED);
    assert_eq!(held.body["status"], "pending_approval");
    let over = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&agent),
            Some(payment("600.00")),
            &[],
        )
        .await;
    assert_eq!(over.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(over.body["code"], "limit_exceeded");
    let operator = api
        .key(
            &admin,
            &[Scope::PaymentsRead, Scope::ApprovalsWrite],
            KeyLimits::default(),
        )
        .await;
    let queue = api
        .call(Method::GET, "/v1/approvals", Some(&operator), None, &[])
        .await;
    assert_eq!(queue.status, StatusCode::OK);
    assert_eq!(queue.body["payments"].as_array().map(Vec::len), Some(1));
    let id = held.body["id"].as_str().expect("id");
    let self_approve = api
        .call(
            Method::POST,
            &format!("/v1/payments/{id}/approve"),
            Some(&agent),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(self_approve.status, StatusCode::FORBIDDEN);
    let approve = format!("/v1/payments/{id}/approve");
    let key = [("idempotency-key", "approve-1")];
    let ok = api
        .call(
            Method::POST,
            &approve,
            Some(&operator),
            Some(json!({"comment": "fine"})),
            &key,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["status"], "succeeded");
    assert_eq!(ok.headers["idempotent-replayed"], "false");
    // every POST takes Idempotency-Key: a retry of the approval answers the first result
    let retry = api
        .call(
            Method::POST,
            &approve,
            Some(&operator),
            Some(json!({"comment": "fine"})),
            &key,
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.body, ok.body);
    let other_body = api
        .call(
            Method::POST,
            &approve,
            Some(&operator),
            Some(json!({"comment": "other"})),
            &key,
        )
        .await;
    assert_eq!(other_body.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other_body.body["code"], "idempotency_key_reused");
    let other_route = api
        .call(
            Method::POST,
            &format!("/v1/payments/{id}/reject"),
            Some(&operator),
            Some(json!({"comment": "fine"})),
            &key,
        )
        .await;
    assert_eq!(other_route.status, StatusCode::UNPROCESSABLE_ENTITY);
    let core_key = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&agent),
            Some(payment("5.00")),
            &[("idempotency-key", "approve-1")],
        )
        .await;
    assert_eq!(
        core_key.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a key kept by the replay layer is not reused by a core operation: {:?}",
        core_key.body
    );
    let twice = api
        .call(
            Method::POST,
            &format!("/v1/payments/{id}/approve"),
            Some(&operator),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
}

/// The SSE stream replays the log from `Last-Event-ID` and filters by type.
async fn event_stream(api: &Api) {
    let (_, k) = api.tenant_key("sse", ALL, KeyLimits::default()).await;
    for amount in ["1.00", "2.00"] {
        let r = api
            .call(
                Method::POST,
                "/v1/payments",
                Some(&k),
                Some(payment(amount)),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let events = api
        .call(Method::GET, "/v1/events", Some(&k), None, &[])
        .await;
    let all = events.body.as_array().expect("events").clone();
    assert!(all.len() >= 4, "{all:?}");
    let req = Request::builder()
        .uri("/v1/events/stream")
        .header(header::AUTHORIZATION, format!("Bearer {k}"))
        .header("last-event-id", "1")
        .body(Body::empty())
        .expect("request");
    let res = api.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body();
    let mut text = String::new();
    let wanted = all.len() - 1;
    while text.matches("\nid: ").count() + usize::from(text.starts_with("id: ")) < wanted {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("events arrive")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(!text.contains("id: 1\n"), "resumed after event 1: {text}");
    assert!(text.contains("id: 2\n"), "{text}");
    let bad = api
        .call(
            Method::GET,
            "/v1/events/stream",
            Some(&k),
            None,
            &[("last-event-id", "x")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

/// Operators sign in with a password: access tokens act with the role's scopes, refresh
/// tokens rotate, a reused refresh token revokes the login, forged tokens are refused.
async fn operator_sessions(api: &Api) {
    let (admin, key) = api
        .tenant_key("sessions", &[Scope::Admin], KeyLimits::default())
        .await;
    let user = api
        .platform
        .create_user(
            &admin,
            "ops@example.com",
            fintech_core::Role::Operator,
            None,
        )
        .await
        .expect("user");
    let r = api
        .call(
            Method::PUT,
            &format!("/v1/users/{}/password", user.id),
            Some(&key),
            Some(json!({"password": "short"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = api
        .call(
            Method::PUT,
            &format!("/v1/users/{}/password", user.id),
            Some(&key),
            Some(json!({"password": "correct horse battery"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let login = |password: &str| json!({"tenant_id": admin.tenant_id.as_str(), "email": "OPS@example.com", "password": password});
    let bad = api
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(login("wrong password!!")),
            &[],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let unknown = api
        .call(Method::POST, "/v1/auth/login", None, Some(json!({"tenant_id": admin.tenant_id.as_str(), "email": "nobody@example.com", "password": "correct horse battery"})), &[])
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown.body["detail"], bad.body["detail"],
        "no hint which part was wrong"
    );
    let ok = api
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(login("correct horse battery")),
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let access = ok.body["access_token"].as_str().expect("access").to_owned();
    let refresh1 = ok.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let who = api
        .call(Method::GET, "/v1/whoami", Some(&access), None, &[])
        .await;
    assert_eq!(who.status, StatusCode::OK);
    assert_eq!(who.body["actor"], user.id.as_str());
    let list = api
        .call(Method::GET, "/v1/payments", Some(&access), None, &[])
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let keys = api
        .call(Method::GET, "/v1/keys", Some(&access), None, &[])
        .await;
    assert_eq!(
        keys.status,
        StatusCode::FORBIDDEN,
        "an operator is not an admin"
    );
    let mut forged = access.clone();
    forged.pop();
    forged.push(if access.ends_with('A') { 'B' } else { 'A' });
    let r = api
        .call(Method::GET, "/v1/whoami", Some(&forged), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let next = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh1})),
            &[],
        )
        .await;
    assert_eq!(next.status, StatusCode::OK);
    let refresh2 = next.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(refresh2, refresh1);
    let reuse = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh1})),
            &[],
        )
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    let after = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh2})),
            &[],
        )
        .await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "reuse revoked the whole login"
    );
    let log = api
        .platform
        .audit_log(&admin, Default::default())
        .await
        .expect("audit");
    assert!(log
        .iter()
        .any(|r| r.entry.action == "auth.login" && r.entry.outcome == "ok"));
    assert!(log
        .iter()
        .any(|r| r.entry.action == "auth.login" && r.entry.outcome.starts_with("denied")));
}

/// Fraud over HTTP: an admin loads rules, a payment above the review amount is held with a
/// case, an operator approves the case and the payment goes through; a bad rule file is refused.
async fn fraud_review_flow(api: &Api) {
    let (admin, key) = api
        .tenant_key("fraud", &[Scope::Admin], KeyLimits::default())
        .await;
    let bad = api
        .call(
            Method::PUT,
            "/v1/fraud/rules",
            Some(&key),
            Some(json!({"source": "name = 1\n[[rule]]"})),
            &[],
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );
    let none = api
        .call(Method::GET, "/v1/fraud/rules", Some(&key), None, &[])
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let source = "name = \"http\"\nreview_score = 50\nblock_score = 100\n\n[[rule]]\nname = \"big\"\naction = \"review\"\nscore = 50\nwhen.amount_above = { amount = { USD = \"100.00\" } }\n";
    let loaded = api
        .call(
            Method::PUT,
            "/v1/fraud/rules",
            Some(&key),
            Some(json!({"source": source, "format": "toml"})),
            &[],
        )
        .await;
    assert_eq!(loaded.status, StatusCode::OK, "{:?}", loaded.body);
    let held = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&key),
            Some(payment("150.00")),
            &[],
        )
        .await;
    assert_eq!(held.status, StatusCode::CREATED, "{:?}", held.body);
    assert_eq!(held.body["status"], "pending_review");
    let small = api
        .call(
            Method::POST,
            "/v1/payments",
            Some(&key),
            Some(payment("20.00")),
            &[],
        )
        .await;
    assert_eq!(small.body["status"], "succeeded");
    let cases = api
        .call(Method::GET, "/v1/fraud/cases", Some(&key), None, &[])
        .await;
    assert_eq!(cases.status, StatusCode::OK);
    let case_id = cases.body[0]["id"].as_str().expect("a case").to_owned();
    let no_comment = api
        .call(
            Method::POST,
            &format!("/v1/fraud/cases/{case_id}/approve"),
            Some(&key),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(no_comment.status, StatusCode::BAD_REQUEST);
    let operator = api
        .key(
            &admin,
            &[Scope::FraudRead, Scope::ApprovalsWrite, Scope::PaymentsRead],
            KeyLimits::default(),
        )
        .await;
    let ok = api
        .call(
            Method::POST,
            &format!("/v1/fraud/cases/{case_id}/approve"),
            Some(&operator),
            Some(json!({"comment": "known customer"})),
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let id = held.body["id"].as_str().expect("id");
    let paid = api
        .call(
            Method::GET,
            &format!("/v1/payments/{id}"),
            Some(&operator),
            None,
            &[],
        )
        .await;
    assert_eq!(paid.body["status"], "succeeded");
    let report = api
        .call(
            Method::POST,
            "/v1/fraud/backtests",
            Some(&key),
            Some(json!({"rules": {"rules": "active"}})),
            &[],
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
    assert!(report.body["transactions"].as_u64().unwrap_or(0) >= 2);
}

/// Manual capture over HTTP: an authorization answers `requires_capture`; a partial capture
/// replays with its `Idempotency-Key`; a second capture is 409; another tenant's payment is
/// 404; a payment method attaches by token (card data 422, not echoed) and lists; the balance
/// holds what was captured.
async fn capture_and_payment_methods(api: &Api) {
    let (_, k) = api.tenant_key("capture", ALL, KeyLimits::default()).await;
    let (_, other) = api
        .tenant_key("capture-other", ALL, KeyLimits::default())
        .await;
    let mut body = payment("80.00");
    body["capture_method"] = json!("manual");
    let auth = api
        .call(Method::POST, "/v1/payments", Some(&k), Some(body), &[])
        .await;
    assert_eq!(auth.status, StatusCode::CREATED, "{:?}", auth.body);
    assert_eq!(auth.body["status"], "requires_capture");
    assert_eq!(auth.body["amount_captured"]["amount"], "0.00");
    let path = format!("/v1/payments/{}/capture", auth.body["id"].as_str().unwrap());
    let foreign = api
        .call(Method::POST, &path, Some(&other), Some(json!({})), &[])
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let part = json!({"amount": {"amount": "30.00", "currency": "USD"}});
    let hdr = [("idempotency-key", "capture-1")];
    let first = api
        .call(Method::POST, &path, Some(&k), Some(part.clone()), &hdr)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["status"], "succeeded");
    assert_eq!(first.body["amount_captured"]["amount"], "30.00");
    let replay = api
        .call(Method::POST, &path, Some(&k), Some(part), &hdr)
        .await;
    assert_eq!(replay.body, first.body);
    let second = api
        .call(Method::POST, &path, Some(&k), Some(json!({})), &[])
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{:?}", second.body);
    let balance = api
        .call(Method::GET, "/v1/balance", Some(&k), None, &[])
        .await;
    assert_eq!(balance.status, StatusCode::OK);
    assert_eq!(balance.body[0]["available"]["amount"], "30.00");

    let customer = api
        .call(
            Method::POST,
            "/v1/customers",
            Some(&k),
            Some(json!({"email": "w@example.com", "name": null})),
            &[],
        )
        .await;
    let methods = format!(
        "/v1/customers/{}/payment_methods",
        customer.body["id"].as_str().unwrap()
    );
    let pan = api
        .call(
            Method::POST,
            &methods,
            Some(&k),
            Some(json!({"payment_method": "4242424242424242"})),
            &[],
        )
        .await;
    assert_eq!(pan.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!pan.body.to_string().contains("4242424242"), "{}", pan.body);
    let attached = api
        .call(
            Method::POST,
            &methods,
            Some(&k),
            Some(json!({"payment_method": "pm_card_mastercard"})),
            &[],
        )
        .await;
    assert_eq!(attached.status, StatusCode::CREATED, "{:?}", attached.body);
    assert_eq!(attached.body["card"]["brand"], "mastercard");
    let listed = api.call(Method::GET, &methods, Some(&k), None, &[]).await;
    assert_eq!(listed.body, json!([attached.body]));
    let foreign = api
        .call(Method::GET, &methods, Some(&other), None, &[])
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

/// Link, sync, remove over HTTP: the removed item, its accounts and transactions stop
/// listing, sync answers 409, a second removal answers the first, exactly one audit record
/// and one `banking.item_removed` event are written; another tenant's key gets 404 and a
/// read-only key 403, and neither changes anything. Assets: listed, unlisted, malformed.
async fn item_removal_and_assets(api: &Api) {
    let (admin, k) = api.tenant_key("removal", ALL, KeyLimits::default()).await;
    let (_, other) = api
        .tenant_key("removal-other", ALL, KeyLimits::default())
        .await;
    let reader = api
        .key(&admin, &[Scope::BankingRead], KeyLimits::default())
        .await;
    let key = k.clone();
    let get = |path: &'static str| {
        let key = key.clone();
        async move {
            let r = api.call(Method::GET, path, Some(&key), None, &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
            r.body.as_array().map(Vec::len).expect("a list")
        }
    };
    let mut ids = Vec::new();
    for _ in 0..2 {
        let public = api
            .call(
                Method::POST,
                "/v1/banking/sandbox/public_tokens",
                Some(&k),
                Some(json!({"institution_id": "ins_109508"})),
                &[],
            )
            .await;
        assert_eq!(public.status, StatusCode::CREATED, "{:?}", public.body);
        let item = api
            .call(
                Method::POST,
                "/v1/banking/items",
                Some(&k),
                Some(json!({"public_token": public.body["public_token"]})),
                &[],
            )
            .await;
        assert_eq!(item.status, StatusCode::CREATED, "{:?}", item.body);
        let id = item.body["id"].as_str().expect("id").to_owned();
        let sync = api
            .call(
                Method::POST,
                &format!("/v1/banking/items/{id}/sync"),
                Some(&k),
                None,
                &[],
            )
            .await;
        assert_eq!(sync.status, StatusCode::OK, "{:?}", sync.body);
        ids.push(id);
    }
    let (gone, kept) = (&ids[0], &ids[1]);
    assert_eq!(get("/v1/banking/items").await, 2);
    assert_eq!(get("/v1/accounts").await, 6);
    let all_txns = get("/v1/transactions?limit=500").await;
    assert!(all_txns > 0);
    let path = format!("/v1/banking/items/{gone}");
    for (key, status) in [
        (&other, StatusCode::NOT_FOUND),
        (&reader, StatusCode::FORBIDDEN),
    ] {
        let r = api.call(Method::DELETE, &path, Some(key), None, &[]).await;
        assert_eq!(r.status, status, "{:?}", r.body);
        assert_eq!(
            r.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/problem+json"[..])
        );
    }
    assert_eq!(get("/v1/banking/items").await, 2, "refusals change nothing");
    let removed = api.call(Method::DELETE, &path, Some(&k), None, &[]).await;
    assert_eq!(removed.status, StatusCode::OK, "{:?}", removed.body);
    assert_eq!(removed.body["id"], json!(gone));
    assert!(removed.body["removed_at"].is_string(), "{:?}", removed.body);

    let items = api
        .call(Method::GET, "/v1/banking/items", Some(&k), None, &[])
        .await;
    let listed: Vec<&str> = items
        .body
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(listed, vec![kept.as_str()], "only the kept item lists");
    assert_eq!(
        get("/v1/accounts").await,
        3,
        "the removed item's accounts are gone"
    );
    let by_item = api
        .call(
            Method::GET,
            &format!("/v1/accounts?item_id={gone}"),
            Some(&k),
            None,
            &[],
        )
        .await;
    assert_eq!(by_item.body, json!([]));
    let left = get("/v1/transactions?limit=500").await;
    assert!(
        left > 0 && left < all_txns,
        "{left} of {all_txns} transactions left"
    );
    let sync = api
        .call(Method::POST, &format!("{path}/sync"), Some(&k), None, &[])
        .await;
    assert_eq!(sync.status, StatusCode::CONFLICT, "{:?}", sync.body);
    assert_eq!(sync.body["code"], "invalid_state");
    assert!(
        sync.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("removed")),
        "{:?}",
        sync.body
    );
    let kept_sync = api
        .call(
            Method::POST,
            &format!("/v1/banking/items/{kept}/sync"),
            Some(&k),
            None,
            &[],
        )
        .await;
    assert_eq!(
        kept_sync.status,
        StatusCode::OK,
        "the other item still syncs"
    );
    let again = api.call(Method::DELETE, &path, Some(&k), None, &[]).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(
        again.body["removed_at"], removed.body["removed_at"],
        "idempotent"
    );

    let events = api
        .call(Method::GET, "/v1/events", Some(&k), None, &[])
        .await;
    let removals: Vec<&Value> = events
        .body
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "banking.item_removed")
        .collect();
    assert_eq!(removals.len(), 1, "one event for one removal");
    assert_eq!(removals[0]["object_id"], json!(gone));
    assert_eq!(
        removals[0]["data"]["removed_at"],
        removed.body["removed_at"]
    );
    let log = api
        .platform
        .audit_log(&admin, Default::default())
        .await
        .expect("audit");
    let audits: Vec<_> = log
        .iter()
        .filter(|r| r.entry.action == "banking.remove")
        .collect();
    assert_eq!(audits.len(), 1, "one audit record for one removal");
    assert_eq!(audits[0].entry.object_id, *gone);
    assert!(api
        .platform
        .verify_audit(&admin)
        .await
        .expect("verify")
        .is_ok());
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT access_token_enc FROM bank_items WHERE id = $1")
            .bind(gone.as_str())
            .fetch_one(api.platform.store().pool())
            .await
            .expect("row");
    assert!(sealed.is_empty(), "the dead access token is not kept");

    let aapl = api
        .call(Method::GET, "/v1/assets/AAPL", Some(&k), None, &[])
        .await;
    assert_eq!(aapl.status, StatusCode::OK, "{:?}", aapl.body);
    assert_eq!(aapl.body["symbol"], "AAPL");
    assert_eq!(aapl.body["tradable"], true);
    let unlisted = api
        .call(Method::GET, "/v1/assets/ZZZZQ", Some(&k), None, &[])
        .await;
    assert_eq!(unlisted.status, StatusCode::NOT_FOUND);
    let malformed = api
        .call(Method::GET, "/v1/assets/aapl", Some(&k), None, &[])
        .await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_scope = api
        .call(Method::GET, "/v1/assets/AAPL", Some(&reader), None, &[])
        .await;
    assert_eq!(no_scope.status, StatusCode::FORBIDDEN);
}

async fn suite(
    backend: &str,
    make: impl Fn() -> futures::future::BoxFuture<'static, (Option<tempfile::TempDir>, String)>,
) {
    let (dir, url) = make().await;
    let api = Api::new(
        url,
        dir,
        ServerOptions {
            rate_limit_per_second: 0,
            ..Default::default()
        },
    )
    .await;
    every_route_requires_auth(&api).await;
    tenants_and_scopes(&api).await;
    idempotency_and_strict_bodies(&api).await;
    concurrent_duplicates(&api).await;
    approvals_and_limits(&api).await;
    event_stream(&api).await;
    operator_sessions(&api).await;
    fraud_review_flow(&api).await;
    capture_and_payment_methods(&api).await;
    item_removal_and_assets(&api).await;
    api.platform.store().close().await;
    report(&format!("{backend} http scenarios: 10 passed, 0 failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_http_api() {
    suite("sqlite", || {
        Box::pin(async {
            let (dir, url) = fresh_sqlite_database().expect("sqlite");
            (Some(dir), url)
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_http_api() {
    let Some(server) = postgres_url() else { return };
    suite("postgres", move || {
        let server = server.clone();
        Box::pin(async move {
            (
                None,
                fresh_postgres_database(&server).await.expect("database"),
            )
        })
    })
    .await;
}

/// Per-key rate limits answer 429 with `Retry-After`; another key is unaffected.
#[tokio::test]
async fn rate_limits_per_key() {
    let (dir, url) = fresh_sqlite_database().expect("sqlite");
    let api = Api::new(
        url,
        Some(dir),
        ServerOptions {
            rate_limit_per_second: 1,
            rate_limit_burst: 3,
            ..Default::default()
        },
    )
    .await;
    let (admin, k) = api.tenant_key("rl", ALL, KeyLimits::default()).await;
    let other = api.key(&admin, ALL, KeyLimits::default()).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            api.call(Method::GET, "/v1/whoami", Some(&k), None, &[])
                .await,
        );
    }
    let limited = statuses
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .expect("the 4th or 5th request is limited");
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(limited.body["code"], "rate_limited");
    let r = api
        .call(Method::GET, "/v1/whoami", Some(&other), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Two server instances (separate pools, separate simulators, one PostgreSQL): concurrent
/// duplicates split across them execute once, and an SSE stream on one delivers an event
/// created through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances() {
    let Some(server) = postgres_url() else { return };
    let url = fresh_postgres_database(&server).await.expect("database");
    let options = || ServerOptions {
        rate_limit_per_second: 0,
        sse_poll: Duration::from_millis(50),
        ..Default::default()
    };
    let a = Api::new(url.clone(), None, options()).await;
    let (admin, k) = a.tenant_key("shared", ALL, KeyLimits::default()).await;
    let b = Api::new(url, None, options()).await;

    // An SSE client on B, from the start of the log.
    let req = Request::builder()
        .uri("/v1/events/stream?types=payments.payment_succeeded")
        .header(header::AUTHORIZATION, format!("Bearer {k}"))
        .body(Body::empty())
        .expect("request");
    let res = b.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::OK);
    let mut stream = res.into_body();

    let calls = (0..20).map(|i| {
        let api = if i % 2 == 0 { &a } else { &b };
        api.call(
            Method::POST,
            "/v1/payments",
            Some(&k),
            Some(payment("9.00")),
            &[("idempotency-key", "cross-instance")],
        )
    });
    let replies = futures::future::join_all(calls).await;
    let created: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    for r in &replies {
        assert!(
            r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT,
            "{}",
            r.status
        );
    }
    let ids: BTreeSet<_> = created.iter().map(|r| r.body["id"].to_string()).collect();
    assert_eq!(ids.len(), 1, "one payment across both instances");
    let stored = b
        .platform
        .payments(&admin, &Default::default())
        .await
        .expect("list");
    assert_eq!(stored.len(), 1);

    let mut text = String::new();
    while !text.contains("event: payments.payment_succeeded") {
        let frame = tokio::time::timeout(Duration::from_secs(10), stream.frame())
            .await
            .expect("the event reaches the other instance")
            .expect("open")
            .expect("frame");
        if let Ok(d) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&d));
        }
    }
    assert!(text.contains(stored[0].id.as_str()), "{text}");
    report("postgres two-instance scenario: 1 passed, 0 failed");
}

/// The metrics listener's `/metrics` text.
async fn scrape() -> String {
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .expect("request");
    let res = fintech_server::metrics_app()
        .oneshot(req)
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::OK);
    String::from_utf8_lossy(&res.into_body().collect().await.expect("body").to_bytes()).into_owned()
}

/// `/metrics` counts requests by route template and status, payments by outcome, and provider
/// calls by operation (through the instrumented provider set the binary uses). It is served by
/// the metrics listener only (the public router answers 404), and its labels carry no tenant,
/// key or user ids unless the operator opts in.
#[tokio::test]
async fn metrics_are_exported() {
    let (dir, url) = fresh_sqlite_database().expect("sqlite");
    let platform = Platform::builder(Config {
        database_url: url,
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 4,
        ..Config::default()
    })
    .with_providers(Arc::new(fintech_server::instrument::Instrumented(
        Arc::new(SimProviders::new()),
    )))
    .build()
    .await
    .expect("platform");
    let api = Api {
        router: app(AppState::new(platform.clone(), ServerOptions::default())),
        platform: platform.clone(),
        _dir: Some(dir),
    };
    let (admin, k) = api.tenant_key("metrics", ALL, KeyLimits::default()).await;
    let declined = json!({"amount": {"amount": "3.00", "currency": "USD"}, "payment_method": "pm_card_chargeDeclined"});
    assert_eq!(
        api.call(Method::POST, "/v1/payments", Some(&k), Some(declined), &[])
            .await
            .status,
        StatusCode::CREATED
    );
    // not on the public router, with or without a key
    for bearer in [None, Some(k.as_str())] {
        assert_eq!(
            api.call(Method::GET, "/metrics", bearer, None, &[])
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
    let text = scrape().await;
    for needle in [
        r#"fintech_http_requests_total{method="POST",route="/v1/payments",status="201"}"#,
        r#"fintech_payments_total{status="failed"}"#,
        r#"fintech_fraud_decisions_total{decision="allow"}"#,
        r#"fintech_provider_call_duration_seconds_bucket{provider="sim",domain="payments",operation="create_payment""#,
        "fintech_http_request_duration_seconds_bucket",
        r#"fintech_authenticated_requests_total{kind="api_key"}"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    let key_id = platform.api_keys(&admin).await.expect("keys")[0]
        .id
        .to_string();
    for id in [admin.tenant_id.to_string(), key_id] {
        assert!(!text.contains(&id), "{id} is in the metrics:\n{text}");
    }

    // an operator may opt in to per-key labels
    let labelled = app(AppState::new(
        platform.clone(),
        ServerOptions {
            metrics_id_labels: true,
            ..ServerOptions::default()
        },
    ));
    let (admin, k) = api
        .tenant_key("metrics-labelled", ALL, KeyLimits::default())
        .await;
    let req = Request::builder()
        .uri("/v1/whoami")
        .header(header::AUTHORIZATION, format!("Bearer {k}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        labelled.oneshot(req).await.expect("infallible").status(),
        StatusCode::OK
    );
    let key_id = platform.api_keys(&admin).await.expect("keys")[0]
        .id
        .to_string();
    let text = scrape().await;
    assert!(
        text.contains(&format!(
            r#"fintech_api_key_requests_total{{key="{key_id}"}}"#
        )),
        "{text}"
    );
}
