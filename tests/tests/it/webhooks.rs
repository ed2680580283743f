//! Outgoing webhooks end to end: register through the HTTP API, an event queues a delivery in
//! its own transaction, the worker sends it signed to a real local receiver, a failure is
//! retried, a replay resends, a restarted worker picks up what was pending, and private
//! targets are refused unless the deployment allows them. On SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use fintech_core::payments::NewPayment;
use fintech_core::platform::NewApiKey;
use fintech_core::webhooks::DeliveryStatus;
use fintech_core::{Config, Interface, Money, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_server::webhooks::{run_once, WorkerOptions};
use fintech_server::{app, AppState, ServerOptions};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};
use hmac::Mac;
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Default)]
struct Receiver {
    /// (signature header, event id header, body) of each request received.
    got: Mutex<Vec<(String, String, String)>>,
    /// Statuses to answer, in order; 200 once exhausted.
    script: Mutex<Vec<u16>>,
}

async fn receiver(r: Arc<Receiver>) -> String {
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                r.got.lock().expect("lock").push((
                    h("fintech-signature"),
                    h("fintech-event-id"),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                let mut script = r.script.lock().expect("lock");
                let status = if script.is_empty() {
                    200
                } else {
                    script.remove(0)
                };
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

/// HMAC-SHA256 over "t.body", computed here rather than with the crate's own `sign`.
fn check_signature(secret: &str, header: &str, body: &str) {
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        if let Some(x) = part.strip_prefix("t=") {
            t = x;
        }
        if let Some(x) = part.strip_prefix("v1=") {
            v1 = x;
        }
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1, "signature");
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().expect("t");
    assert!((0..60).contains(&age), "fresh timestamp");
}

async fn platform(url: &str, key: &secrecy::SecretString) -> Platform {
    Platform::builder(Config {
        database_url: url.to_owned(),
        encryption_key: Some(key.clone()),
        max_connections: 8,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await
    .expect("platform")
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(b.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let res = router
        .clone()
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn scenario(backend: &str, url: String) {
    let enc = fintech_core::crypto::SecretBox::generate_key();
    let platform1 = platform(&url, &enc).await;
    let tenant = platform1
        .create_tenant("hooks", Interface::Http)
        .await
        .expect("tenant");
    let admin = Principal::system(tenant.id, Interface::Http);
    let key = platform1
        .create_api_key(
            &admin,
            NewApiKey {
                name: "dev".into(),
                scopes: BTreeSet::from([Scope::Admin]),
                limits: Default::default(),
            },
            None,
        )
        .await
        .expect("key")
        .into_value()
        .secret;
    let strict = app(AppState::new(platform1.clone(), ServerOptions::default()));
    let rcv = Arc::new(Receiver::default());
    let hook_url = receiver(rcv.clone()).await;
    let (status, body) = call(
        &strict,
        "POST",
        "/v1/webhook_endpoints",
        &key,
        Some(json!({"url": hook_url, "event_types": ["payments.payment_succeeded"]})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "loopback refused by default: {body}"
    );
    for bad in [
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/x",
        "http://example.com/x",
    ] {
        let (status, _) = call(
            &strict,
            "POST",
            "/v1/webhook_endpoints",
            &key,
            Some(json!({"url": bad, "event_types": ["*"]})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    let dev = app(AppState::new(
        platform1.clone(),
        ServerOptions {
            webhooks_allow_private: true,
            ..Default::default()
        },
    ));
    let (status, created) = call(
        &dev,
        "POST",
        "/v1/webhook_endpoints",
        &key,
        Some(json!({"url": hook_url, "event_types": ["payments.payment_succeeded"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    let endpoint_id = created["endpoint"]["id"].as_str().expect("id").to_owned();
    let (_, listed) = call(&dev, "GET", "/v1/webhook_endpoints", &key, None).await;
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is never listed"
    );

    let pay = |amount: &str| NewPayment {
        amount: Money::parse(amount, "USD").expect("amount"),
        payment_method: "pm_card_visa".into(),
        customer_id: None,
        payee: None,
        description: None,
        capture_method: None,
        confirmation_token: None,
    };
    let payment = platform1
        .create_payment(&admin, pay("10.00"), None)
        .await
        .expect("pay");
    let worker = WorkerOptions {
        allow_private: true,
        ..Default::default()
    };
    // The receiver fails the first attempt.
    rcv.script.lock().expect("lock").push(500);
    assert_eq!(
        run_once(&platform1, &worker).await.expect("run"),
        1,
        "one delivery: created events are not subscribed"
    );
    let (_, deliveries) = call(
        &dev,
        "GET",
        &format!("/v1/webhook_endpoints/{endpoint_id}/deliveries"),
        &key,
        None,
    )
    .await;
    let d = &deliveries[0];
    assert_eq!(d["status"], "pending");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_status"], 500);
    assert_eq!(
        run_once(&platform1, &worker).await.expect("run"),
        0,
        "the retry waits for its backoff"
    );

    // A replay makes it due now; this time the receiver accepts.
    let delivery_id = d["id"].as_str().expect("id").to_owned();
    let (status, _) = call(
        &dev,
        "POST",
        &format!("/v1/webhook_deliveries/{delivery_id}/replay"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run_once(&platform1, &worker).await.expect("run"), 1);
    let (_, deliveries) = call(
        &dev,
        "GET",
        &format!("/v1/webhook_endpoints/{endpoint_id}/deliveries"),
        &key,
        None,
    )
    .await;
    assert_eq!(deliveries[0]["status"], "delivered");
    {
        let got = rcv.got.lock().expect("lock");
        assert_eq!(got.len(), 2, "one failed attempt, one delivered");
        for (sig, event_id, body) in got.iter() {
            check_signature(&secret, sig, body);
            let event: Value = serde_json::from_str(body).expect("event JSON");
            assert_eq!(
                event["id"],
                event_id.as_str(),
                "the event id header matches the body"
            );
            assert_eq!(event["type"], "payments.payment_succeeded");
            assert_eq!(event["object_id"], payment.id.as_str());
        }
    }

    // Survives a restart: a delivery queued by one instance is sent by a fresh one.
    platform1
        .create_payment(&admin, pay("11.00"), None)
        .await
        .expect("pay");
    platform1.store().close().await;
    let platform2 = platform(&url, &enc).await;
    assert_eq!(run_once(&platform2, &worker).await.expect("run"), 1);
    assert_eq!(rcv.got.lock().expect("lock").len(), 3);
    let all = platform2
        .webhook_deliveries(
            &admin,
            &fintech_core::id::WebhookEndpointId::parse(&endpoint_id).expect("id"),
            None,
        )
        .await
        .expect("deliveries");
    assert!(all.iter().all(|d| d.status == DeliveryStatus::Delivered));

    // A strict worker refuses to send to a loopback target even when it got queued.
    platform2
        .create_payment(&admin, pay("12.00"), None)
        .await
        .expect("pay");
    assert_eq!(
        run_once(&platform2, &WorkerOptions::default())
            .await
            .expect("run"),
        1
    );
    assert_eq!(
        rcv.got.lock().expect("lock").len(),
        3,
        "nothing sent to a private address"
    );
    platform2.store().close().await;
    report(&format!("{backend} webhook scenarios: 1 passed, 0 failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_webhooks() {
    let (_dir, url) = fresh_sqlite_database().expect("sqlite");
    scenario("sqlite", url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_webhooks() {
    let Some(server) = postgres_url() else { return };
    scenario(
        "postgres",
        fresh_postgres_database(&server).await.expect("db"),
    )
    .await;
}
