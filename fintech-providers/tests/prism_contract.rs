//! Contract tests: the real Plaid and Alpaca clients against mock servers generated from the
//! providers' official OpenAPI documents (`../shared/provider-specs/`) by Prism
//! (`@stoplight/prism-cli`), which validates every request against the document and answers
//! from its examples. A request our client sends that the document rejects comes back 4xx and
//! fails the test; a response our client cannot parse fails it too.
//!
//! The shared conformance scenarios run where a mock can satisfy them: Prism answers every
//! call from static examples, so scenarios that need state (a cursor that advances, an order
//! that fills, a position that changes) cannot pass against it and are listed as not
//! applicable below. Each client method is also called directly.
//!
//! Needs `prism` (on PATH, `$FINTECH_PRISM`, or `~/.cache/fintech-mcp-peers`); skipped when
//! absent unless `FINTECH_REQUIRE_PRISM=1` (CI sets it). Appends
//! `prism <provider> contract: N passed, 0 failed` to `$FINTECH_TEST_REPORT`.
//!
//! One correction to a provider document, as SOURCES.md allows: Alpaca's order schema lists
//! `notional` as required next to `qty`, while the live API takes one or the other; the test
//! serves a copy with `notional` removed from that `required` list, nothing else changed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fintech_core::banking::BankingProvider;
use fintech_core::conformance::{banking, Outcome};
use fintech_core::trading::{BrokerageProvider, OrderRequest, OrderSide, OrderType, TimeInForce};
use fintech_providers::alpaca::{Alpaca, AlpacaConfig};
use fintech_providers::http::HttpSettings;
use fintech_providers::plaid::{Plaid, PlaidConfig, PlaidEnvironment};

fn specs() -> PathBuf {
    // the providers' documents live next to the repository (../shared/provider-specs), or
    // wherever FINTECH_PROVIDER_SPECS says
    match std::env::var("FINTECH_PROVIDER_SPECS") {
        Ok(dir) => dir.into(),
        Err(_) => {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/provider-specs")
        }
    }
}

fn prism_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("FINTECH_PRISM") {
        return Some(PathBuf::from(p));
    }
    if Command::new("prism")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(PathBuf::from("prism"));
    }
    let cached = PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(".cache/fintech-mcp-peers/node_modules/.bin/prism");
    cached.exists().then_some(cached)
}

/// A running Prism mock; killed on drop.
struct Mock {
    child: Child,
    url: String,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mock(spec: &Path) -> Option<Mock> {
    let Some(prism) = prism_binary() else {
        if std::env::var("FINTECH_REQUIRE_PRISM").is_ok_and(|v| v == "1") {
            panic!("prism is required (FINTECH_REQUIRE_PRISM=1) but was not found");
        }
        eprintln!("prism not found: contract tests skipped (npm install -g @stoplight/prism-cli)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let mut child = Command::new(prism)
        .args(["mock", "-p", &port.to_string(), "-h", "127.0.0.1"])
        .arg(spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("prism starts");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("Prism is listening") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("prism is listening within 2 minutes");
    Some(Mock {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

fn report(line: &str) {
    println!("{line}");
    if let Ok(path) = std::env::var("FINTECH_TEST_REPORT") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

fn settings() -> HttpSettings {
    HttpSettings::default()
}

#[tokio::test]
async fn plaid_client_matches_the_plaid_document() {
    let Some(m) = mock(&specs().join("plaid-2020-09-14.yml")) else {
        return;
    };
    let plaid = Plaid::new(
        PlaidConfig {
            client_id: "test-client".into(),
            secret: "test-secret".to_owned().into(),
            environment: PlaidEnvironment::Custom(m.url.clone()),
            client_name: "fintech contract test".into(),
        },
        settings(),
    )
    .unwrap();
    let mut passed = 0;
    // direct calls: every endpoint the client uses
    plaid
        .create_link_token("user-1")
        .await
        .expect("/link/token/create");
    let public = plaid
        .sandbox_public_token("ins_109508")
        .await
        .expect("/sandbox/public_token/create");
    let item = plaid
        .exchange_public_token(&public)
        .await
        .expect("/item/public_token/exchange, /item/get, /institutions/get_by_id");
    let accounts = plaid
        .accounts(&item.access_token)
        .await
        .expect("/accounts/get");
    assert!(!accounts.is_empty());
    // the document's example has a 401k valued at sub-cent prices (23631.9805): a balance
    // rounds half-even to cents instead of failing the whole item
    assert!(
        accounts
            .iter()
            .any(|a| a.current.amount().to_string() == "23631.98"),
        "the example's 401k balance, rounded to cents: {accounts:?}"
    );
    let live = plaid
        .refresh_balances(&item.access_token)
        .await
        .expect("/accounts/balance/get");
    assert!(!live.is_empty());
    let page = plaid
        .sync_transactions(&item.access_token, None, 100)
        .await
        .expect("/transactions/sync");
    plaid
        .sync_transactions(&item.access_token, Some(&page.next_cursor), 100)
        .await
        .expect("/transactions/sync with a cursor");
    plaid
        .remove_item(&item.access_token)
        .await
        .expect("/item/remove");
    passed += 1;
    // shared scenarios a static mock can satisfy; the others need state (a single-use public
    // token, a cursor that advances, several distinct items, forged-token refusal)
    let h = banking::BankingHarness {
        institution: "ins_109508".into(),
        advance: None,
    };
    for name in ["link_token_is_issued", "accounts_have_currencies"] {
        match banking::run(name, &plaid, &h).await {
            Outcome::Passed => passed += 1,
            Outcome::Skipped(why) => panic!("{name} skipped: {why}"),
        }
    }
    report(&format!("prism plaid contract: {passed} passed, 0 failed"));
}

fn alpaca_spec() -> PathBuf {
    let text = std::fs::read_to_string(specs().join("alpaca-trading.yaml")).expect("spec");
    // the one documented defect: `notional` listed as required next to `qty`
    let patched = text.replacen("        - notional\n", "", 1);
    assert_ne!(
        patched, text,
        "the known defect is still where SOURCES.md says"
    );
    let path = std::env::temp_dir().join(format!("alpaca-trading-{}.yaml", std::process::id()));
    std::fs::write(&path, patched).expect("write patched spec");
    path
}

#[tokio::test]
async fn alpaca_client_matches_the_alpaca_documents() {
    let Some(trading) = mock(&alpaca_spec()) else {
        return;
    };
    let Some(data) = mock(&specs().join("alpaca-market-data.yaml")) else {
        return;
    };
    let alpaca = Alpaca::new(
        AlpacaConfig {
            key_id: "PKTEST".into(),
            secret_key: "secret".to_owned().into(),
            paper: true,
            trading_url: Some(trading.url.clone()),
            data_url: Some(data.url.clone()),
        },
        settings(),
    )
    .unwrap();
    // Alpaca's documents carry no response examples for most operations, so Prism answers
    // placeholders ("string" for every decimal) that our client rightly refuses to read as
    // money. What this test can hold Alpaca to is the request side: Prism validates each
    // request, and a rejected one comes back 4xx, which fails here. A placeholder response
    // (`malformed_response`) means the request was accepted.
    fn accepted<T>(what: &str, r: fintech_core::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(fintech_core::Error::Provider { code, .. }) if code == "malformed_response" => None,
            Err(e) => panic!("{what}: the document rejected our request or the mock failed: {e}"),
        }
    }
    let mut passed = 0;
    accepted("GET /v2/account", alpaca.account().await);
    accepted("GET /v2/positions", alpaca.positions().await);
    accepted("GET /v2/clock", alpaca.clock().await);
    for (order_type, limit, stop, tif) in [
        (OrderType::Market, None, None, TimeInForce::Day),
        (OrderType::Limit, Some("100.00"), None, TimeInForce::Gtc),
        (OrderType::Stop, None, Some("90.00"), TimeInForce::Day),
        (
            OrderType::StopLimit,
            Some("95.00"),
            Some("90.00"),
            TimeInForce::Ioc,
        ),
    ] {
        let usd = |s: &str| fintech_core::Money::parse(s, "USD").unwrap();
        let req = OrderRequest {
            symbol: "AAPL".into(),
            side: OrderSide::Buy,
            qty: "1.5".parse().unwrap(),
            order_type,
            time_in_force: tif,
            limit_price: limit.map(usd),
            stop_price: stop.map(usd),
            confirmation_token: None,
        };
        let placed = accepted(
            &format!("POST /v2/orders ({order_type:?})"),
            alpaca
                .place_order(&req, &format!("contract-{order_type:?}"))
                .await,
        );
        let id = placed
            .map(|o| o.provider_id)
            .unwrap_or_else(|| "61e69015-8549-4bfd-b9c3-01e75843f47d".into());
        accepted("GET /v2/orders/{id}", alpaca.get_order(&id).await);
        passed += 1;
    }
    accepted(
        "GET /v2/orders:by_client_order_id",
        alpaca.get_order_by_client_id("contract-Market").await,
    );
    accepted(
        "DELETE /v2/orders/{id}",
        alpaca
            .cancel_order("61e69015-8549-4bfd-b9c3-01e75843f47d")
            .await,
    );
    accepted(
        "GET /v2/stocks/{symbol}/quotes/latest",
        alpaca.latest_quote("AAPL").await,
    );
    accepted(
        "GET /v2/stocks/{symbol}/bars",
        alpaca
            .bars("AAPL", fintech_core::trading::BarTimeframe::Day, 5)
            .await,
    );
    passed += 1;
    report(&format!("prism alpaca contract: {passed} passed, 0 failed"));
}

/// Alpaca's trading document describes the asset object (`Assets`, with an example) but has
/// no `/v2/assets/{symbol_or_asset_id}` operation, so Prism cannot check that request (it
/// answers 404 for a path the document lacks). What the document does give is held here: the
/// client asks `GET /v2/assets/{symbol}` with its credentials and reads the document's own
/// example exactly, and a 404 is an asset `NotFound`.
#[tokio::test]
async fn alpaca_asset_reads_the_documents_example() {
    use axum::extract::Path as UrlPath;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let text = std::fs::read_to_string(specs().join("alpaca-trading.yaml")).expect("spec");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let example: serde_json::Value =
        serde_json::to_value(&doc["components"]["schemas"]["Assets"]["x-examples"]["example-1"])
            .expect("the Assets schema has an example");
    assert_eq!(example["symbol"], "AAPL", "the example is AAPL");
    let served = example.clone();
    let router = axum::Router::new().route(
        "/v2/assets/{symbol}",
        axum::routing::get(
            move |UrlPath(symbol): UrlPath<String>, headers: HeaderMap| {
                let served = served.clone();
                async move {
                    if headers.get("apca-api-key-id").is_none()
                        || headers.get("apca-api-secret-key").is_none()
                    {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    if symbol == "AAPL" {
                        axum::Json(served).into_response()
                    } else {
                        (
                            StatusCode::NOT_FOUND,
                            axum::Json(
                                serde_json::json!({"code": 40410000, "message": "asset not found"}),
                            ),
                        )
                            .into_response()
                    }
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    let alpaca = Alpaca::new(
        AlpacaConfig {
            key_id: "PKTEST".into(),
            secret_key: "secret".to_owned().into(),
            paper: true,
            trading_url: Some(url.clone()),
            data_url: Some(url),
        },
        settings(),
    )
    .unwrap();
    let a = alpaca.asset("AAPL").await.expect("the example parses");
    assert_eq!(a.id, example["id"].as_str().unwrap());
    assert_eq!(a.name, example["name"].as_str().unwrap());
    assert_eq!(a.exchange, example["exchange"].as_str().unwrap());
    assert_eq!(a.asset_class.as_str(), example["class"].as_str().unwrap());
    assert_eq!(a.status.as_str(), example["status"].as_str().unwrap());
    for (flag, ours) in [
        ("tradable", a.tradable),
        ("marginable", a.marginable),
        ("shortable", a.shortable),
        ("easy_to_borrow", a.easy_to_borrow),
        ("fractionable", a.fractionable),
    ] {
        assert_eq!(Some(ours), example[flag].as_bool(), "{flag}");
    }
    let unknown = alpaca.asset("ZZZZZZZQ").await;
    assert!(
        matches!(
            unknown,
            Err(fintech_core::Error::NotFound { kind: "asset", .. })
        ),
        "{unknown:?}"
    );
    assert!(
        matches!(
            alpaca.asset("../v2/account").await,
            Err(fintech_core::Error::Validation { .. })
        ),
        "a symbol that is not a ticker never reaches a URL"
    );
}
