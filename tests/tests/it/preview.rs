//! Previews equal executions: a property test over random amounts, key limits (per payment,
//! per day, order notional, approval threshold, confirm_above), fraud rule sets, payment
//! methods (valid, declined, processing and unknown), capture methods, order types, sides and
//! times in force. For each generated move the preview (`Platform::preview_*`) is taken first;
//! then the move is executed (with the preview's confirmation token when one is required) and
//! its outcome must be what the preview said: the same status class, the same refusal, the
//! same fraud assessment. Through the SDK on SQLite and PostgreSQL, and for fewer cases
//! through REST (`/v1/payments/preview`, then `POST /v1/payments` answering 428 with the same
//! decision and a token) and MCP (`payments_create`, `trading_order_place`).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use fintech_core::fraud::RuleFormat;
use fintech_core::payments::{CaptureMethod, NewPayment};
use fintech_core::platform::{DecisionStatus, MoveDecision, NewApiKey};
use fintech_core::policy::KeyLimits;
use fintech_core::trading::{OrderRequest, OrderSide, OrderType, TimeInForce};
use fintech_core::{Config, Error, Interface, Money, Platform, Principal, Scope};
use fintech_providers::sim::SimClock;
use fintech_providers::SimProviders;
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tower::ServiceExt;

use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};

const SCOPES: &[Scope] = &[
    Scope::PaymentsRead,
    Scope::PaymentsWrite,
    Scope::TradingRead,
    Scope::TradingWrite,
];

/// Fraud rule sets a case runs under.
const RULES: &[Option<&str>] = &[
    None,
    Some(
        r#"
review_score = 50
block_score = 100
[[rule]]
name = "large"
action = "review"
score = 50
when.amount_above = { amount = { USD = "120.00" } }
[[rule]]
name = "large-order"
action = "review"
score = 50
when.order_notional_above = { amount = { USD = "1500.00" } }
"#,
    ),
    Some(
        r#"
review_score = 50
block_score = 100
[[rule]]
name = "huge"
action = "block"
score = 100
when.amount_above = { amount = { USD = "300.00" } }
[[rule]]
name = "huge-order"
action = "block"
score = 100
when.order_notional_above = { amount = { USD = "3000.00" } }
"#,
    ),
    Some(
        r#"
review_score = 50
block_score = 100
[[rule]]
name = "card-velocity"
action = "block"
score = 100
when.velocity = { key = "payment_method", window = "1h", max_count = 2 }
"#,
    ),
];

const METHODS: &[&str] = &[
    "pm_card_visa",
    "pm_card_mastercard",
    "pm_card_processing",
    "pm_card_chargeDeclined",
    "pm_card_riskLevelElevated",
    "pm_card_doesNotExist",
    "pm_unknown",
];

/// One generated case: a key's limits, a rule set, and the moves made with the key.
#[derive(Debug, Clone)]
struct Case {
    limits: KeyLimits,
    rules: usize,
    moves: Vec<Move>,
}

#[derive(Debug, Clone)]
enum Move {
    Pay(NewPayment),
    Order(OrderRequest),
}

fn cents(lo: i64, hi: i64) -> impl Strategy<Value = Money> {
    (lo..=hi).prop_map(|c| Money::from_minor(c, fintech_core::money::Currency::USD))
}

fn limits() -> impl Strategy<Value = KeyLimits> {
    (
        proptest::option::of(cents(5_000, 60_000)),
        proptest::option::of(cents(10_000, 90_000)),
        proptest::option::of(cents(50_000, 500_000)),
        proptest::option::of(cents(2_000, 40_000)),
        proptest::option::of(cents(1_000, 40_000)),
    )
        .prop_map(
            |(
                max_per_payment,
                max_per_day,
                max_order_notional,
                approval_threshold,
                confirm_above,
            )| {
                KeyLimits {
                    max_per_payment,
                    max_per_day,
                    max_order_notional,
                    approval_threshold,
                    confirm_above,
                }
            },
        )
}

fn payment() -> impl Strategy<Value = Move> {
    (cents(1, 50_000), 0..METHODS.len(), any::<bool>()).prop_map(|(amount, m, manual)| {
        Move::Pay(NewPayment {
            amount,
            payment_method: METHODS[m].to_owned(),
            customer_id: None,
            payee: Some("Acme".into()),
            description: None,
            capture_method: manual.then_some(CaptureMethod::Manual),
            confirmation_token: None,
        })
    })
}

fn order() -> impl Strategy<Value = Move> {
    let kinds = prop_oneof![
        Just(OrderType::Market),
        Just(OrderType::Limit),
        Just(OrderType::Stop),
        Just(OrderType::StopLimit)
    ];
    let tifs = prop_oneof![
        Just(TimeInForce::Day),
        Just(TimeInForce::Gtc),
        Just(TimeInForce::Ioc),
        Just(TimeInForce::Fok)
    ];
    (
        prop_oneof![Just("AAPL"), Just("MSFT"), Just("SPY")],
        any::<bool>(),
        1u32..=15,
        kinds,
        tifs,
        cents(1_000, 60_000),
        cents(1_000, 60_000),
    )
        .prop_map(|(symbol, buy, qty, kind, tif, limit, stop)| {
            let needs_limit = matches!(kind, OrderType::Limit | OrderType::StopLimit);
            let needs_stop = matches!(kind, OrderType::Stop | OrderType::StopLimit);
            Move::Order(OrderRequest {
                symbol: symbol.into(),
                side: if buy { OrderSide::Buy } else { OrderSide::Sell },
                qty: Decimal::from(qty),
                order_type: kind,
                time_in_force: tif,
                limit_price: needs_limit.then_some(limit),
                stop_price: needs_stop.then_some(stop),
                confirmation_token: None,
            })
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        limits(),
        0..RULES.len(),
        proptest::collection::vec(prop_oneof![3 => payment(), 2 => order()], 1..=3),
    )
        .prop_map(|(limits, rules, moves)| Case {
            limits,
            rules,
            moves,
        })
}

/// What a move ends as, in the terms a preview can predict.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Recorded with this decision status (and, for payments and orders, this assessment).
    Done(DecisionStatus, Option<fintech_core::fraud::Assessment>),
    /// Refused with this error.
    Failed(String),
}

/// What the preview says the execution will end as.
fn predicted(preview: &Result<MoveDecision, Error>) -> Outcome {
    match preview {
        Ok(d) if d.status.goes_ahead() => Outcome::Done(d.status, d.assessment.clone()),
        Ok(d) => Outcome::Failed(d.reasons.first().cloned().unwrap_or_default()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

struct World {
    platform: Platform,
    _dir: Option<tempfile::TempDir>,
}

async fn world(url: String, dir: Option<tempfile::TempDir>) -> World {
    let config = Config {
        database_url: url,
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 8,
        ..Config::default()
    };
    // a pinned clock: quotes do not move between a preview and its execution
    let clock = SimClock::manual(
        chrono::DateTime::parse_from_rfc3339("2026-12-01T15:30:00Z")
            .expect("time")
            .into(),
    );
    let platform = Platform::builder(config)
        .with_providers(Arc::new(SimProviders::with_clock(clock)))
        .build()
        .await
        .expect("platform");
    World {
        platform,
        _dir: dir,
    }
}

/// A tenant with the case's rules, and a key with its limits: (admin, key secret, principal).
async fn setup(w: &World, c: &Case, interface: Interface) -> (Principal, String, Principal) {
    let t = w
        .platform
        .create_tenant(
            // a unique name without digit runs (those look like card numbers)
            &uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .chars()
                .map(|c| match c.to_digit(10) {
                    Some(d) => char::from(b'g' + d as u8),
                    None => c,
                })
                .collect::<String>(),
            Interface::Sdk,
        )
        .await
        .expect("tenant");
    let admin = Principal::system(t.id, Interface::Sdk);
    if let Some(rules) = RULES[c.rules] {
        w.platform
            .set_fraud_rules(&admin, rules, RuleFormat::Toml, None)
            .await
            .expect("rules");
    }
    // limits of one key share a currency; all are USD here
    let created = w
        .platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "agent".into(),
                scopes: SCOPES.iter().copied().collect::<BTreeSet<_>>(),
                limits: c.limits.clone(),
            },
            None,
        )
        .await
        .expect("key")
        .into_value();
    let p = w
        .platform
        .authenticate(&created.secret, interface)
        .await
        .expect("auth");
    (admin, created.secret, p)
}

/// Previews then executes one move through the SDK; answers (predicted, executed).
async fn sdk_move(w: &World, p: &Principal, m: &Move) -> (Outcome, Outcome) {
    match m {
        Move::Pay(req) => {
            let preview = w.platform.preview_payment(p, req).await;
            let mut req = req.clone();
            if let Ok(d) = &preview {
                if d.confirmation_required {
                    // without the token: confirmation required, with the same decision
                    match w.platform.create_payment(p, req.clone(), None).await {
                        Err(Error::ConfirmationRequired(again)) => {
                            assert_eq!(again.status, d.status, "{req:?}");
                            assert_eq!(again.amount, d.amount);
                        }
                        other => panic!("expected confirmation_required, got {other:?}"),
                    }
                    req.confirmation_token = d.confirmation_token.clone();
                }
            }
            let capture = req.capture_method.unwrap_or_default();
            let done = match w.platform.create_payment(p, req, None).await {
                Ok(pay) => Outcome::Done(
                    DecisionStatus::of_payment(pay.status, capture),
                    pay.value.assessment,
                ),
                Err(e) => Outcome::Failed(e.to_string()),
            };
            (predicted(&preview), done)
        }
        Move::Order(req) => {
            let preview = w.platform.preview_order(p, req).await;
            let mut req = req.clone();
            if let Ok(d) = &preview {
                if d.confirmation_required {
                    match w.platform.place_order(p, req.clone(), None).await {
                        Err(Error::ConfirmationRequired(again)) => {
                            assert_eq!(again.status, d.status, "{req:?}");
                            assert_eq!(again.amount, d.amount, "priced the same");
                        }
                        other => panic!("expected confirmation_required, got {other:?}"),
                    }
                    req.confirmation_token = d.confirmation_token.clone();
                }
            }
            let done = match w.platform.place_order(p, req, None).await {
                Ok(o) => Outcome::Done(DecisionStatus::of_order(o.status), o.value.assessment),
                Err(e) => Outcome::Failed(e.to_string()),
            };
            (predicted(&preview), done)
        }
    }
}

/// The kind of an outcome, for the coverage tally.
fn label(o: &Outcome) -> String {
    match o {
        Outcome::Done(s, _) => s.to_string(),
        Outcome::Failed(e) => e.split(':').next().unwrap_or_default().to_owned(),
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(PropConfig {
        cases,
        failure_persistence: None,
        ..PropConfig::default()
    })
}

/// Runs `cases` generated cases through the SDK on one backend.
fn sdk_property(backend: &str, cases: u32, make: impl Fn() -> (Option<tempfile::TempDir>, String)) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (dir, url) = make();
    let w = rt.block_on(world(url, dir));
    let moves = std::sync::atomic::AtomicUsize::new(0);
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    runner(cases)
        .run(&case(), |c| {
            rt.block_on(async {
                let (_, _, p) = setup(&w, &c, Interface::Sdk).await;
                for m in &c.moves {
                    let (want, got) = sdk_move(&w, &p, m).await;
                    prop_assert_eq!(&want, &got, "move {:?} of {:?}", m, c.limits);
                    moves.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    *seen.lock().expect("tally").entry(label(&got)).or_default() += 1;
                }
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{backend}: preview and execution disagree: {e}"));
    rt.block_on(w.platform.store().close());
    // the generator reaches every kind of outcome, so the property says something about each
    let seen = seen.into_inner().expect("tally");
    for kind in [
        "execute",
        "requires_capture",
        "pending_approval",
        "pending_review",
        "limit exceeded",
        "blocked",
        "invalid payment_method",
    ] {
        assert!(
            seen.keys().any(|k| k.starts_with(kind)),
            "{backend}: no case ended as {kind}: {seen:?}"
        );
    }
    report(&format!(
        "{backend} preview property: {cases} passed, 0 failed ({} moves)",
        moves.into_inner()
    ));
}

#[test]
fn sqlite_preview_equals_execution() {
    sdk_property("sqlite", 256, || {
        let (dir, url) = fresh_sqlite_database().expect("sqlite");
        (Some(dir), url)
    });
}

#[test]
fn postgres_preview_equals_execution() {
    let Some(server) = postgres_url() else { return };
    sdk_property("postgres", 96, || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        (
            None,
            rt.block_on(fresh_postgres_database(&server))
                .expect("database"),
        )
    });
}

// ------------------------------------------------------------------ REST

async fn rest(router: &axum::Router, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let res = router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The REST outcome in the SDK's terms: the preview's, and the execution's.
async fn rest_move(router: &axum::Router, key: &str, m: &Move) -> (Outcome, Outcome) {
    let (preview_path, path, mut body) = match m {
        Move::Pay(req) => ("/v1/payments/preview", "/v1/payments", json!(req)),
        Move::Order(req) => ("/v1/orders/preview", "/v1/orders", json!(req)),
    };
    let (status, preview) = rest(router, preview_path, key, &body).await;
    let want = if status == StatusCode::OK {
        let d: MoveDecision = serde_json::from_value(preview.clone()).expect("decision");
        if d.confirmation_required {
            let (s, problem) = rest(router, path, key, &body).await;
            assert_eq!(s, StatusCode::PRECONDITION_REQUIRED, "{problem}");
            assert_eq!(problem["code"], "confirmation_required");
            assert_eq!(problem["decision"]["status"], preview["status"]);
            body["confirmation_token"] = json!(d.confirmation_token);
        }
        predicted(&Ok(d))
    } else {
        Outcome::Failed(preview["detail"].as_str().unwrap_or_default().to_owned())
    };
    let (status, done) = rest(router, path, key, &body).await;
    let got = if status == StatusCode::CREATED {
        let assessment = serde_json::from_value(done["assessment"].clone()).expect("assessment");
        let decided = match m {
            Move::Pay(req) => DecisionStatus::of_payment(
                serde_json::from_value(done["status"].clone()).expect("status"),
                req.capture_method.unwrap_or_default(),
            ),
            Move::Order(_) => DecisionStatus::of_order(
                serde_json::from_value(done["status"].clone()).expect("status"),
            ),
        };
        Outcome::Done(decided, assessment)
    } else {
        Outcome::Failed(done["detail"].as_str().unwrap_or_default().to_owned())
    };
    // a refusal compares as text: the decision's reason, the problem's detail
    (want, got)
}

#[test]
fn rest_preview_equals_execution() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (dir, url) = fresh_sqlite_database().expect("sqlite");
    let w = rt.block_on(world(url, Some(dir)));
    let router = fintech_server::app(fintech_server::AppState::new(
        w.platform.clone(),
        fintech_server::ServerOptions {
            rate_limit_per_second: 0,
            ..Default::default()
        },
    ));
    runner(48)
        .run(&case(), |c| {
            rt.block_on(async {
                let (_, key, _) = setup(&w, &c, Interface::Http).await;
                for m in &c.moves {
                    let (want, got) = rest_move(&router, &key, m).await;
                    prop_assert_eq!(want, got, "move {:?}", m);
                }
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("REST: preview and execution disagree: {e}"));
}
