//! Fault tests for the real clients' HTTP layer, against a small server of the test's own
//! that applies each request and then, for a share of calls, answers 500, 429 with
//! `Retry-After`, or nothing until the client times out. Each logical operation must reach
//! the server's side effect exactly once; errors that cannot succeed are not retried; retries
//! stop at the bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fintech_core::trading::{BrokerageProvider, OrderRequest, OrderSide, OrderType, TimeInForce};
use fintech_core::Error;
use fintech_providers::alpaca::{Alpaca, AlpacaConfig};
use fintech_providers::http::{HttpSettings, RetryPolicy};
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct Broker {
    /// client_order_id -> how many times an order was created for it
    placed: Arc<Mutex<HashMap<String, usize>>>,
    requests: Arc<AtomicUsize>,
    creates: Arc<AtomicUsize>,
    /// answer mode for the next calls: 0 ok, 1 500, 2 429, 3 hang, 4 always 503
    fault_every: usize,
    always_unavailable: bool,
    /// the account answers only after 2 s (past every client timeout here)
    always_slow: bool,
}

fn order_json(coid: &str) -> Value {
    json!({ "id": format!("o-{coid}"), "client_order_id": coid, "status": "filled",
            "filled_qty": "1", "filled_avg_price": "10.00" })
}

async fn create(State(b): State<Broker>, Json(body): Json<Value>) -> Response {
    b.requests.fetch_add(1, Ordering::SeqCst);
    let n = b.creates.fetch_add(1, Ordering::SeqCst);
    let coid = body["client_order_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    {
        let mut placed = b.placed.lock().unwrap();
        if placed.contains_key(&coid) {
            // Alpaca refuses a duplicate client order id
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"message": "client_order_id must be unique"})),
            )
                .into_response();
        }
        placed.insert(coid.clone(), 1);
    }
    // the side effect happened; now, sometimes, the answer is lost
    match if b.fault_every > 0 {
        n % b.fault_every
    } else {
        1
    } {
        0 => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        2 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")]).into_response(),
        3 => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Json(order_json(&coid)).into_response()
        }
        _ => Json(order_json(&coid)).into_response(),
    }
}

async fn by_client_id(
    State(b): State<Broker>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    b.requests.fetch_add(1, Ordering::SeqCst);
    let coid = q.get("client_order_id").cloned().unwrap_or_default();
    if b.placed.lock().unwrap().contains_key(&coid) {
        Json(order_json(&coid)).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "order not found"})),
        )
            .into_response()
    }
}

async fn account(State(b): State<Broker>) -> Response {
    let n = b.requests.fetch_add(1, Ordering::SeqCst);
    if b.always_unavailable {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if b.always_slow {
        tokio::time::sleep(Duration::from_secs(2)).await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if n % 2 == 0 {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")]).into_response();
    }
    Json(json!({ "account_number": "PA1", "cash": "1000.00", "buying_power": "2000.00", "equity": "1000.00" })).into_response()
}

async fn order_by_id(State(b): State<Broker>, Path(id): Path<String>) -> Response {
    b.requests.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": format!("order {id} not found")})),
    )
        .into_response()
}

async fn serve(b: Broker) -> String {
    let router = Router::new()
        .route("/v2/orders", post(create))
        .route("/v2/orders:by_client_order_id", get(by_client_id))
        .route("/v2/orders/{id}", get(order_by_id))
        .route("/v2/account", get(account))
        .with_state(b);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    url
}

fn client(url: &str) -> Alpaca {
    client_with(
        url,
        Duration::from_secs(60),
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        },
    )
}

fn client_with(url: &str, total: Duration, retry: RetryPolicy) -> Alpaca {
    Alpaca::new(
        AlpacaConfig {
            key_id: "PKTEST".into(),
            secret_key: "secret".to_owned().into(),
            paper: true,
            trading_url: Some(url.to_owned()),
            data_url: Some(url.to_owned()),
        },
        HttpSettings {
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_millis(300),
            total,
            retry,
        },
    )
    .unwrap()
}

fn buy() -> OrderRequest {
    OrderRequest {
        symbol: "AAPL".into(),
        side: OrderSide::Buy,
        qty: 1.into(),
        order_type: OrderType::Market,
        time_in_force: TimeInForce::Day,
        limit_price: None,
        stop_price: None,
        confirmation_token: None,
    }
}

#[tokio::test]
async fn every_order_is_placed_exactly_once_when_answers_are_lost() {
    // creates cycle through: 500, ok, 429 + Retry-After, hang past the client's timeout, ok
    // (all after applying the order): 3 of 5 answers lost
    let broker = Broker {
        fault_every: 5,
        ..Default::default()
    };
    let url = serve(broker.clone()).await;
    let alpaca = client(&url);
    for i in 0..40 {
        let coid = format!("coid-{i}");
        let o = alpaca
            .place_order(&buy(), &coid)
            .await
            .unwrap_or_else(|e| panic!("{coid}: {e}"));
        assert_eq!(o.client_order_id, coid);
    }
    let placed = broker.placed.lock().unwrap();
    assert_eq!(placed.len(), 40);
    assert!(placed.values().all(|&n| n == 1), "no order placed twice");
    // 24 lost answers, each followed by a lookup that found the order
    assert_eq!(broker.requests.load(Ordering::SeqCst), 40 + 24);
}

#[tokio::test]
async fn reads_retry_429_and_stop_at_the_bound() {
    let broker = Broker::default();
    let url = serve(broker.clone()).await;
    let a = client(&url).account().await.expect("429 then 200");
    assert_eq!(a.cash.amount().to_string(), "1000.00");
    assert_eq!(broker.requests.load(Ordering::SeqCst), 2);

    let down = Broker {
        always_unavailable: true,
        ..Default::default()
    };
    let url = serve(down.clone()).await;
    let err = client(&url).account().await.expect_err("always 503");
    assert!(
        matches!(
            err,
            Error::Provider {
                retryable: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        down.requests.load(Ordering::SeqCst),
        4,
        "stops after max_attempts"
    );
}

#[tokio::test]
async fn a_call_stops_retrying_when_its_total_budget_is_spent() {
    // Every attempt hangs past the 300 ms request timeout; ten attempts would be allowed, but
    // the 500 ms budget leaves room for two: no retry may outlive the idempotency lease.
    let slow = Broker {
        always_slow: true,
        ..Default::default()
    };
    let url = serve(slow.clone()).await;
    let retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(5),
    };
    let err = client_with(&url, Duration::from_millis(500), retry)
        .account()
        .await
        .expect_err("never answers in time");
    assert!(matches!(err, Error::Provider { .. }), "{err:?}");
    let attempts = slow.requests.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&attempts),
        "stopped by the budget, not by max_attempts: {attempts} attempts"
    );
}

#[tokio::test]
async fn errors_that_cannot_succeed_are_not_retried() {
    let broker = Broker::default();
    let url = serve(broker.clone()).await;
    let err = client(&url).get_order("nope").await.expect_err("404");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(broker.requests.load(Ordering::SeqCst), 1);
}

#[test]
fn debug_never_shows_the_secret() {
    let c = AlpacaConfig {
        key_id: "PK".into(),
        secret_key: "super-secret-value".to_owned().into(),
        paper: true,
        trading_url: None,
        data_url: None,
    };
    assert!(!format!("{c:?}").contains("super-secret-value"));
}
