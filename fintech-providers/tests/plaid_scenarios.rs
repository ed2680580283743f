//! The shared banking scenarios on the Plaid client, end to end over HTTP: a stand-in server
//! speaks Plaid's wire format (JSON numbers for amounts, `iso_currency_code`,
//! `personal_finance_category`, `/transactions/sync` pages with `added`/`modified`/`removed`,
//! Plaid error objects, `ITEM_NOT_FOUND` for a removed item's token) and keeps its bank in the offline simulator, whose "a day passes"
//! hook the scenarios drive. It checks the client's mapping both ways under stateful
//! behaviour (cursors that advance, single-use public tokens, changes arriving); the request
//! side is also held to Plaid's document by `prism_contract.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::TimeZone;
use fintech_core::banking::{BankingProvider, ProviderTransaction};
use fintech_core::conformance::banking::{run, BankingHarness, SCENARIOS};
use fintech_core::conformance::Outcome;
use fintech_core::id::TenantId;
use fintech_core::{Error, ErrorKind};
use fintech_providers::http::HttpSettings;
use fintech_providers::plaid::{Plaid, PlaidConfig, PlaidEnvironment};
use fintech_providers::sim::{SimBanking, SimClock, SimProviders};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

#[derive(Clone)]
struct Wire {
    bank: Arc<SimBanking>,
    /// access token -> institution id; institution id -> name
    items: Arc<Mutex<HashMap<String, String>>>,
    institutions: Arc<Mutex<HashMap<String, String>>>,
}

fn plaid_error(e: Error) -> Response {
    let (kind, code) = match &e {
        Error::Provider { code, .. } if code == "ITEM_NOT_FOUND" => {
            ("ITEM_ERROR", "ITEM_NOT_FOUND")
        }
        _ if e.kind() == ErrorKind::Validation => ("INVALID_REQUEST", "INVALID_FIELD"),
        _ => ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"),
    };
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error_type": kind, "error_code": code, "error_message": e.to_string(), "request_id": "req-standin" })),
    )
        .into_response()
}

fn number(m: &fintech_core::Money) -> Value {
    serde_json::from_str(&m.amount().to_string()).unwrap_or(Value::Null)
}

fn tx(t: &ProviderTransaction) -> Value {
    json!({
        "transaction_id": t.provider_transaction_id, "account_id": t.provider_account_id,
        "amount": number(&t.amount), "iso_currency_code": t.amount.currency().code(),
        "date": t.date.format("%Y-%m-%d").to_string(), "name": t.name,
        "merchant_name": t.merchant_name, "pending": t.pending,
        "personal_finance_category": t.category.as_ref().map(|c| json!({ "primary": c })),
    })
}

fn token(b: &Value) -> SecretString {
    SecretString::from(b["access_token"].as_str().unwrap_or_default().to_owned())
}

async fn link_token(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    match w.bank.create_link_token(b["user"]["client_user_id"].as_str().unwrap_or_default()).await {
        Ok(t) => Json(json!({ "link_token": t.link_token, "expiration": t.expiration.to_rfc3339(), "request_id": "r" })).into_response(),
        Err(e) => plaid_error(e),
    }
}

async fn sandbox_public_token(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    match w
        .bank
        .sandbox_public_token(b["institution_id"].as_str().unwrap_or_default())
        .await
    {
        Ok(t) => Json(json!({ "public_token": t, "request_id": "r" })).into_response(),
        Err(e) => plaid_error(e),
    }
}

async fn exchange(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    match w
        .bank
        .exchange_public_token(b["public_token"].as_str().unwrap_or_default())
        .await
    {
        Ok(item) => {
            let access = item.access_token.expose_secret().to_owned();
            w.items
                .lock()
                .unwrap()
                .insert(access.clone(), item.institution_id.clone());
            w.institutions
                .lock()
                .unwrap()
                .insert(item.institution_id, item.institution_name);
            Json(json!({ "access_token": access, "item_id": item.provider_item_id, "request_id": "r" })).into_response()
        }
        Err(e) => plaid_error(e),
    }
}

async fn item(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    let access = b["access_token"].as_str().unwrap_or_default();
    match w.items.lock().unwrap().get(access) {
        Some(inst) => {
            Json(json!({ "item": { "institution_id": inst }, "request_id": "r" })).into_response()
        }
        None => plaid_error(Error::Unauthenticated("unknown access token".into())),
    }
}

async fn institution(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    let id = b["institution_id"].as_str().unwrap_or_default();
    let name = w
        .institutions
        .lock()
        .unwrap()
        .get(id)
        .cloned()
        .unwrap_or_else(|| id.to_owned());
    Json(json!({ "institution": { "institution_id": id, "name": name }, "request_id": "r" }))
        .into_response()
}

/// `/accounts/get` (cached) and `/accounts/balance/get` (real-time) answer the same shape;
/// the simulated bank has no cache, so both read it, each through its own trait method.
async fn cached_accounts(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    accounts_json(w.bank.accounts(&token(&b)).await)
}

async fn balances(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    accounts_json(w.bank.refresh_balances(&token(&b)).await)
}

async fn remove(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    match w.bank.remove_item(&token(&b)).await {
        Ok(()) => {
            w.items
                .lock()
                .unwrap()
                .remove(b["access_token"].as_str().unwrap_or_default());
            Json(json!({ "request_id": "r" })).into_response()
        }
        Err(e) => plaid_error(e),
    }
}

fn accounts_json(
    answer: fintech_core::Result<Vec<fintech_core::banking::ProviderAccount>>,
) -> Response {
    match answer {
        Ok(accounts) => Json(json!({ "accounts": accounts.iter().map(|a| json!({
            "account_id": a.provider_account_id, "name": a.name, "mask": a.mask,
            "type": a.kind.as_str(), "subtype": a.subtype,
            "balances": { "current": number(&a.current), "available": a.available.as_ref().map(number),
                          "iso_currency_code": a.current.currency().code() },
        })).collect::<Vec<_>>(), "request_id": "r" })).into_response(),
        Err(e) => plaid_error(e),
    }
}

async fn sync(State(w): State<Wire>, Json(b): Json<Value>) -> Response {
    let count = b["count"].as_u64().unwrap_or(100) as u32;
    match w.bank.sync_transactions(&token(&b), b["cursor"].as_str(), count).await {
        Ok(page) => Json(json!({
            "added": page.added.iter().map(tx).collect::<Vec<_>>(),
            "modified": page.modified.iter().map(tx).collect::<Vec<_>>(),
            "removed": page.removed.iter().map(|id| json!({ "transaction_id": id })).collect::<Vec<_>>(),
            "next_cursor": page.next_cursor, "has_more": page.has_more, "request_id": "r",
        })).into_response(),
        Err(e) => plaid_error(e),
    }
}

async fn serve(bank: Arc<SimBanking>) -> String {
    let router = Router::new()
        .route("/link/token/create", post(link_token))
        .route("/sandbox/public_token/create", post(sandbox_public_token))
        .route("/item/public_token/exchange", post(exchange))
        .route("/item/get", post(item))
        .route("/institutions/get_by_id", post(institution))
        .route("/accounts/get", post(cached_accounts))
        .route("/accounts/balance/get", post(balances))
        .route("/item/remove", post(remove))
        .route("/transactions/sync", post(sync))
        .with_state(Wire {
            bank,
            items: Arc::default(),
            institutions: Arc::default(),
        });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    url
}

#[tokio::test]
async fn plaid_client_passes_the_banking_scenarios_over_the_wire() {
    let mut passed = 0;
    let mut skipped = Vec::new();
    let mut failed = Vec::new();
    for name in SCENARIOS {
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 15, 30, 0)
            .single()
            .unwrap();
        let sim = Arc::new(SimProviders::with_clock(SimClock::manual(start)));
        let bank = sim.banking_sim(&TenantId::generate());
        let url = serve(bank.clone()).await;
        let plaid = Plaid::new(
            PlaidConfig {
                client_id: "c".into(),
                secret: "s".to_owned().into(),
                environment: PlaidEnvironment::Custom(url),
                client_name: "scenarios".into(),
            },
            HttpSettings::default(),
        )
        .unwrap();
        let advancer = bank.clone();
        let h = BankingHarness {
            institution: "ins_109508".into(),
            advance: Some(Box::new(move || {
                let advancer = advancer.clone();
                Box::pin(async move {
                    advancer.advance().await.expect("a simulated day");
                })
            })),
        };
        match tokio::spawn(async move { run(name, &plaid, &h).await }).await {
            Ok(Outcome::Passed) => passed += 1,
            Ok(Outcome::Skipped(why)) => skipped.push(format!("{name}: {why}")),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    println!("plaid banking scenarios: {passed} passed, skipped {skipped:?}, failed {failed:?}");
    assert!(failed.is_empty(), "failed: {failed:#?}");
    if let Ok(path) = std::env::var("FINTECH_TEST_REPORT") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "plaid banking scenarios: {passed} passed, 0 failed").unwrap();
    }
}
