//! The shared brokerage scenarios on the Alpaca client, end to end over HTTP: a stand-in
//! server speaks Alpaca's wire format (the Trading and Market Data v2 JSON shapes: decimal
//! strings, `bp`/`ap` quotes, `client_order_id`, `orders:by_client_order_id`, 422 on a
//! duplicate client order id) and keeps its market in the offline simulator, whose price and
//! clock hooks the scenarios drive. What this checks is the client's mapping both ways under
//! stateful behaviour (fills, rests, cancels, stops, expiry); the request side is also held
//! to Alpaca's document by `prism_contract.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::TimeZone;
use fintech_core::conformance::brokerage::{run, BrokerageHarness, SCENARIOS};
use fintech_core::conformance::Outcome;
use fintech_core::id::TenantId;
use fintech_core::trading::{
    Asset, BarTimeframe, BrokerageProvider, OrderRequest, OrderSide, OrderStatus, OrderType,
    ProviderOrder, TimeInForce,
};
use fintech_core::{Error, Money};
use fintech_providers::alpaca::{Alpaca, AlpacaConfig};
use fintech_providers::http::HttpSettings;
use fintech_providers::sim::{SimClock, SimProviders};
use serde_json::{json, Value};

#[derive(Clone)]
struct Wire {
    broker: Arc<dyn BrokerageProvider>,
}

fn status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Canceled => "canceled",
        OrderStatus::Expired => "expired",
        OrderStatus::Rejected => "rejected",
        _ => "new",
    }
}

fn order_json(o: &ProviderOrder) -> Value {
    json!({
        "id": o.provider_id, "client_order_id": o.client_order_id, "status": status(o.status),
        "filled_qty": o.filled_qty.to_string(),
        "filled_avg_price": o.filled_avg_price.map(|p| p.amount().to_string()),
    })
}

fn alpaca_error(e: Error) -> Response {
    let (code, message) = match &e {
        Error::NotFound { .. } => (StatusCode::NOT_FOUND, "order not found".to_owned()),
        Error::Validation { message, .. } => (StatusCode::UNPROCESSABLE_ENTITY, message.clone()),
        Error::Provider { code, message, .. }
            if code.contains("buying_power") || code.contains("insufficient") =>
        {
            (StatusCode::FORBIDDEN, message.clone())
        }
        other => (StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    };
    (
        code,
        Json(json!({ "code": u32::from(code.as_u16()) * 10000, "message": message })),
    )
        .into_response()
}

fn usd(v: &Value) -> Option<Money> {
    v.as_str().and_then(|s| Money::parse(s, "USD").ok())
}

async fn place(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    let parse = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
    let req = match (|| -> fintech_core::Result<OrderRequest> {
        Ok(OrderRequest {
            symbol: parse("symbol"),
            side: OrderSide::parse(&parse("side"))?,
            qty: parse("qty")
                .parse()
                .map_err(|_| Error::validation("qty", "not a decimal"))?,
            order_type: OrderType::parse(&parse("type"))?,
            time_in_force: TimeInForce::parse(&parse("time_in_force"))?,
            limit_price: usd(&b["limit_price"]),
            stop_price: usd(&b["stop_price"]),
            confirmation_token: None,
        })
    })() {
        Ok(r) => r,
        Err(e) => return alpaca_error(e),
    };
    let coid = parse("client_order_id");
    if let Ok(Some(_)) = w.broker.get_order_by_client_id(&coid).await {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"code": 40010001, "message": "client_order_id must be unique"})),
        )
            .into_response();
    }
    match w.broker.place_order(&req, &coid).await {
        // Alpaca refuses such orders at the door with 403 and a reason
        Ok(o) if o.status == OrderStatus::Rejected => (
            StatusCode::FORBIDDEN,
            Json(json!({"code": 40310000, "message": o.reject_reason.unwrap_or_default()})),
        )
            .into_response(),
        Ok(o) => Json(order_json(&o)).into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn order(State(w): State<Wire>, Path(id): Path<String>) -> Response {
    match w.broker.get_order(&id).await {
        Ok(o) => Json(order_json(&o)).into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn cancel(State(w): State<Wire>, Path(id): Path<String>) -> Response {
    match w.broker.cancel_order(&id).await {
        Ok(o) if o.status == OrderStatus::Canceled => StatusCode::NO_CONTENT.into_response(),
        Ok(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"code": 42210000, "message": "order is not cancelable"})),
        )
            .into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn by_client_id(State(w): State<Wire>, Query(q): Query<HashMap<String, String>>) -> Response {
    match w
        .broker
        .get_order_by_client_id(q.get("client_order_id").map(String::as_str).unwrap_or(""))
        .await
    {
        Ok(Some(o)) => Json(order_json(&o)).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"code": 40410000, "message": "order not found"})),
        )
            .into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn account(State(w): State<Wire>) -> Response {
    match w.broker.account().await {
        Ok(a) => Json(json!({ "id": "acct", "account_number": a.account_number, "status": "ACTIVE", "currency": "USD",
            "cash": a.cash.amount().to_string(), "buying_power": a.buying_power.amount().to_string(),
            "equity": a.equity.amount().to_string() })).into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn positions(State(w): State<Wire>) -> Response {
    match w.broker.positions().await {
        Ok(ps) => Json(Value::Array(ps.iter().map(|p| json!({
            "symbol": p.symbol, "qty": p.qty.to_string(), "avg_entry_price": p.avg_entry_price.amount().to_string(),
            "current_price": p.current_price.amount().to_string(), "market_value": p.market_value.amount().to_string(),
            "unrealized_pl": p.unrealized_pl.amount().to_string() })).collect())).into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn clock(State(w): State<Wire>) -> Response {
    match w.broker.clock().await {
        Ok(c) => Json(
            json!({ "timestamp": c.timestamp.to_rfc3339(), "is_open": c.is_open,
            "next_open": c.next_open.to_rfc3339(), "next_close": c.next_close.to_rfc3339() }),
        )
        .into_response(),
        Err(e) => alpaca_error(e),
    }
}

fn number(m: Money) -> Value {
    // the data API sends prices as JSON numbers
    serde_json::from_str(&m.amount().to_string()).unwrap_or(Value::Null)
}

async fn quote(State(w): State<Wire>, Path(symbol): Path<String>) -> Response {
    match w.broker.latest_quote(&symbol).await {
        Ok(q) => Json(json!({ "symbol": q.symbol, "quote": { "bp": number(q.bid), "ap": number(q.ask), "t": q.at.to_rfc3339() } })).into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn bars(
    State(w): State<Wire>,
    Path(symbol): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let tf = match q.get("timeframe").map(String::as_str) {
        Some("1Hour") => BarTimeframe::Hour,
        Some("1Day") => BarTimeframe::Day,
        _ => BarTimeframe::Minute,
    };
    let limit = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    match w.broker.bars(&symbol, tf, limit).await {
        Ok(bs) => Json(json!({ "symbol": symbol, "bars": bs.iter().map(|b| json!({
            "t": b.t.to_rfc3339(), "o": number(b.open), "h": number(b.high), "l": number(b.low),
            "c": number(b.close), "v": b.volume })).collect::<Vec<_>>() }))
        .into_response(),
        Err(e) => alpaca_error(e),
    }
}

/// Alpaca's asset object (the document's `Assets` schema: `class`, not `asset_class`).
fn asset_json(a: &Asset) -> Value {
    json!({
        "id": a.id, "class": a.asset_class.as_str(), "exchange": a.exchange, "symbol": a.symbol,
        "name": a.name, "status": a.status.as_str(), "tradable": a.tradable,
        "marginable": a.marginable, "shortable": a.shortable, "easy_to_borrow": a.easy_to_borrow,
        "fractionable": a.fractionable,
    })
}

async fn asset(State(w): State<Wire>, Path(symbol): Path<String>) -> Response {
    match w.broker.asset(&symbol).await {
        Ok(a) => Json(asset_json(&a)).into_response(),
        Err(Error::NotFound { .. }) => (
            StatusCode::NOT_FOUND,
            Json(json!({"code": 40410000, "message": "asset not found"})),
        )
            .into_response(),
        Err(e) => alpaca_error(e),
    }
}

async fn serve(broker: Arc<dyn BrokerageProvider>) -> String {
    let router = Router::new()
        .route("/v2/orders", post(place))
        .route("/v2/orders:by_client_order_id", get(by_client_id))
        .route("/v2/orders/{id}", get(order).delete(cancel))
        .route("/v2/account", get(account))
        .route("/v2/positions", get(positions))
        .route("/v2/clock", get(clock))
        .route("/v2/assets/{symbol}", get(asset))
        .route("/v2/stocks/{symbol}/quotes/latest", get(quote))
        .route("/v2/stocks/{symbol}/bars", get(bars))
        .with_state(Wire { broker });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    url
}

#[tokio::test]
async fn alpaca_client_passes_the_brokerage_scenarios_over_the_wire() {
    let mut passed = 0;
    let mut skipped = Vec::new();
    let mut failed = Vec::new();
    for name in SCENARIOS {
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 15, 30, 0)
            .single()
            .unwrap();
        let sim = Arc::new(SimProviders::with_clock(SimClock::manual(start)));
        let tenant = TenantId::generate();
        let broker = sim.brokerage_sim(&tenant);
        let url = serve(broker.clone()).await;
        let alpaca = Alpaca::new(
            AlpacaConfig {
                key_id: "PK".into(),
                secret_key: "s".to_owned().into(),
                paper: true,
                trading_url: Some(url.clone()),
                data_url: Some(url),
            },
            HttpSettings::default(),
        )
        .unwrap();
        let pricer = broker.clone();
        let clock = sim.clock().clone();
        let h = BrokerageHarness {
            set_price: Some(Box::new(move |symbol, price| {
                pricer.set_price(symbol, Some(price)).expect("price");
            })),
            advance_clock: Some(Box::new(move |by| clock.advance(by))),
        };
        let outcome = tokio::spawn(async move { run(name, &alpaca, &h).await }).await;
        match outcome {
            Ok(Outcome::Passed) => passed += 1,
            Ok(Outcome::Skipped(why)) => skipped.push(format!("{name}: {why}")),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    println!("alpaca brokerage scenarios: {passed} passed, skipped {skipped:?}, failed {failed:?}");
    assert!(failed.is_empty(), "failed: {failed:#?}");
    if let Ok(path) = std::env::var("FINTECH_TEST_REPORT") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "alpaca brokerage scenarios: {passed} passed, 0 failed").unwrap();
    }
}

/// The stand-in's asset objects hold to the `Assets` schema of Alpaca's document: every
/// required property present, with the schema's type and, where it has one, a value of its
/// enum; for every asset the simulator lists.
#[tokio::test]
async fn the_stand_ins_assets_follow_the_document() {
    let dir = std::env::var("FINTECH_PROVIDER_SPECS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/provider-specs")
        });
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("alpaca-trading.yaml")).unwrap())
            .unwrap();
    let schemas = &doc["components"]["schemas"];
    let schema = &schemas["Assets"];
    let required: Vec<&str> = schema["required"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        required.len() >= 10,
        "the schema lists its required properties"
    );
    let sim = SimProviders::with_clock(SimClock::manual(chrono::Utc::now()));
    let broker = sim.brokerage_sim(&TenantId::generate());
    let symbols = fintech_providers::sim::ASSETS
        .iter()
        .map(|a| a.0)
        .chain([fintech_providers::sim::UNTRADABLE.0]);
    for symbol in symbols {
        let a = broker.asset(symbol).await.unwrap();
        let wire = asset_json(&a);
        for key in &required {
            let value = &wire[*key];
            let mut prop = &schema["properties"][*key];
            if let Some(r) = prop["$ref"].as_str() {
                prop = &schemas[r.trim_start_matches("#/components/schemas/")];
            }
            match prop["type"].as_str() {
                Some("string") => assert!(value.is_string(), "{symbol}.{key} is a string"),
                Some("boolean") => assert!(value.is_boolean(), "{symbol}.{key} is a boolean"),
                other => panic!("{key}: unexpected schema type {other:?}"),
            }
            if let Some(allowed) = prop["enum"].as_sequence() {
                assert!(
                    allowed.iter().any(|v| v.as_str() == value.as_str()),
                    "{symbol}.{key} = {value} is one of the document's values"
                );
            }
        }
    }
}
