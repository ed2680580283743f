//! The Stripe client against Stripe's own documents, without a mock server (Prism cannot load
//! Stripe's 4 MB document in CI time): a local server of the test's own records every request
//! the client sends and answers with Stripe's example objects (`stripe-fixtures3.json`); each
//! recorded request is then validated against its operation's request body schema in
//! `stripe-spec3.yaml` (every parameter must exist in the schema, with the schema's type and
//! enum; required parameters present; nothing the schema forbids). A request the document
//! rejects fails the test; a control case shows the validator does reject.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use fintech_core::payments::{
    CaptureMethod, NewCustomer, PaymentProvider, ProviderCaptureRequest, ProviderPaymentRequest,
    ProviderPaymentStatus, ProviderRefundRequest, RefundStatus,
};
use fintech_core::Money;
use fintech_providers::http::{HttpSettings, RetryPolicy};
use fintech_providers::stripe::{
    balance_from, payment_from, payment_method_from, refund_from, Stripe, StripeConfig,
};
use serde_json::json;

mod common;
use common::stripe_doc::{fixtures, path_item, request_schema, specs, validate, validate_query};

#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: BTreeMap<String, String>,
    form: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Server {
    log: Arc<Mutex<Vec<Recorded>>>,
    fail_first_post: Arc<Mutex<bool>>,
}

async fn handle(
    State(s): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    s.log.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        form: form.clone(),
    });
    if method == Method::POST && std::mem::take(&mut *s.fail_first_post.lock().unwrap()) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": {"type": "api_error", "message": "try again"}})),
        )
            .into_response();
    }
    let fx = fixtures();
    let path = uri.path();
    let pm = form
        .iter()
        .find(|(k, _)| k == "payment_method")
        .map(|(_, v)| v.as_str());
    let answer = match (method.as_str(), path) {
        ("POST", "/v1/customers") => fx["customer"].clone(),
        ("POST", "/v1/payment_intents")
            if pm == Some("pm_card_chargeDeclinedInsufficientFunds") =>
        {
            let mut pi = fx["payment_intent"].clone();
            pi["last_payment_error"] = json!({"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."});
            return (
                StatusCode::PAYMENT_REQUIRED,
                axum::Json(json!({"error": {
                "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.", "payment_intent": pi }})),
            )
                .into_response();
        }
        ("POST", "/v1/payment_intents")
            if form.contains(&("capture_method".to_owned(), "manual".to_owned())) =>
        {
            let mut pi = fx["payment_intent"].clone();
            pi["status"] = json!("requires_capture");
            pi
        }
        ("POST", "/v1/payment_intents") => {
            let mut pi = fx["payment_intent"].clone();
            pi["status"] = json!("succeeded");
            pi
        }
        ("POST", p) if p.starts_with("/v1/payment_intents/") && p.ends_with("/capture") => {
            let mut pi = fx["payment_intent"].clone();
            pi["status"] = json!("succeeded");
            pi
        }
        ("POST", p) if p.starts_with("/v1/payment_methods/") && p.ends_with("/attach") => {
            fx["payment_method"].clone()
        }
        ("GET", p) if p.starts_with("/v1/customers/") && p.ends_with("/payment_methods") => {
            json!({"object": "list", "data": [fx["payment_method"].clone()], "has_more": false,
                   "url": p})
        }
        ("GET", "/v1/balance") => fx["balance"].clone(),
        ("GET", p) if p.starts_with("/v1/payment_intents/") => fx["payment_intent"].clone(),
        ("POST", p) if p.ends_with("/cancel") => {
            let mut pi = fx["payment_intent"].clone();
            pi["status"] = json!("canceled");
            pi
        }
        ("POST", "/v1/refunds") => fx["refund"].clone(),
        _ => {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(
                    json!({"error": {"type": "invalid_request_error", "message": "no such route"}}),
                ),
            )
                .into_response()
        }
    };
    axum::Json(answer).into_response()
}

#[test]
fn the_validator_rejects_what_the_document_rejects() {
    let spec = std::fs::read_to_string(specs().join("stripe-spec3.yaml")).unwrap();
    let schema = request_schema(&spec, "/v1/payment_intents", "post");
    let ok = vec![
        ("amount".to_owned(), "1000".to_owned()),
        ("currency".to_owned(), "usd".to_owned()),
    ];
    assert!(validate(&schema, &ok).is_empty());
    for bad in [
        vec![
            ("amount".to_owned(), "10.00".to_owned()),
            ("currency".to_owned(), "usd".to_owned()),
        ],
        vec![("currency".to_owned(), "usd".to_owned())],
        vec![
            ("amount".to_owned(), "1".to_owned()),
            ("currency".to_owned(), "usd".to_owned()),
            ("idempotency_key".to_owned(), "x".to_owned()),
        ],
        vec![
            ("amount".to_owned(), "1".to_owned()),
            ("currency".to_owned(), "usd".to_owned()),
            (
                "automatic_payment_methods[allow_redirects]".to_owned(),
                "sometimes".to_owned(),
            ),
        ],
        vec![
            ("amount".to_owned(), "1".to_owned()),
            ("currency".to_owned(), "usd".to_owned()),
            ("confirm".to_owned(), "yes".to_owned()),
        ],
    ] {
        assert!(
            !validate(&schema, &bad).is_empty(),
            "{bad:?} should be rejected"
        );
    }
}

#[tokio::test]
async fn every_request_matches_the_stripe_document_and_fixtures_parse() {
    let server = Server::default();
    *server.fail_first_post.lock().unwrap() = true;
    let router = Router::new().fallback(handle).with_state(server.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    let stripe = Stripe::new(
        StripeConfig {
            secret_key: "sk_test_contract".to_owned().into(),
            base_url: Some(base),
        },
        HttpSettings {
            retry: RetryPolicy {
                base_delay: std::time::Duration::from_millis(5),
                ..RetryPolicy::default()
            },
            ..HttpSettings::default()
        },
    )
    .unwrap();
    let usd = |s: &str| Money::parse(s, "USD").unwrap();

    let customer = stripe
        .create_customer(
            &NewCustomer {
                email: Some("ada@example.com".into()),
                name: Some("Ada".into()),
            },
            "cus-key-1",
        )
        .await
        .expect("customer (after one 500, retried with the same key)");
    assert!(customer.provider_id.starts_with("cus_"));
    let paid = stripe
        .create_payment(&ProviderPaymentRequest {
            amount: usd("12.34"),
            payment_method: "pm_card_visa".into(),
            customer: Some(customer.provider_id.clone()),
            description: Some("contract test".into()),
            capture_method: CaptureMethod::Automatic,
            idempotency_key: "pay-key-1".into(),
        })
        .await
        .expect("payment");
    assert_eq!(paid.status, ProviderPaymentStatus::Succeeded);
    let declined = stripe
        .create_payment(&ProviderPaymentRequest {
            amount: usd("5.00"),
            payment_method: "pm_card_chargeDeclinedInsufficientFunds".into(),
            customer: None,
            description: None,
            capture_method: CaptureMethod::Automatic,
            idempotency_key: "pay-key-2".into(),
        })
        .await
        .expect("a decline is an answer, not an error");
    assert!(
        matches!(&declined.status, ProviderPaymentStatus::Failed { code, .. } if code == "insufficient_funds"),
        "{declined:?}"
    );
    stripe
        .get_payment(&paid.provider_id)
        .await
        .expect("retrieve");
    let canceled = stripe
        .cancel_payment(&paid.provider_id)
        .await
        .expect("cancel");
    assert_eq!(canceled.status, ProviderPaymentStatus::Canceled);
    let refund = stripe
        .create_refund(&ProviderRefundRequest {
            provider_payment_id: paid.provider_id.clone(),
            amount: usd("2.50"),
            idempotency_key: "ref-key-1".into(),
        })
        .await
        .expect("refund");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    let held = stripe
        .create_payment(&ProviderPaymentRequest {
            amount: usd("40.00"),
            payment_method: "pm_card_visa".into(),
            customer: None,
            description: None,
            capture_method: CaptureMethod::Manual,
            idempotency_key: "pay-key-3".into(),
        })
        .await
        .expect("authorization");
    assert_eq!(held.status, ProviderPaymentStatus::RequiresCapture);
    let captured = stripe
        .capture_payment(&ProviderCaptureRequest {
            provider_payment_id: held.provider_id.clone(),
            amount: usd("25.00"),
            idempotency_key: "cap-key-1".into(),
        })
        .await
        .expect("capture");
    assert_eq!(captured.status, ProviderPaymentStatus::Succeeded);
    let method = stripe
        .attach_payment_method("pm_card_visa", &customer.provider_id)
        .await
        .expect("attach");
    assert!(method.id.starts_with("pm_"), "{method:?}");
    let card = method.card.clone().expect("card details");
    assert_eq!(card.last4.len(), 4);
    let listed = stripe
        .payment_methods(&customer.provider_id)
        .await
        .expect("list payment methods");
    assert_eq!(listed, vec![method]);
    let balance = stripe.balance().await.expect("balance");
    assert!(!balance.is_empty(), "the fixture's balance has a currency");
    let pan = stripe
        .attach_payment_method("4242424242424242", &customer.provider_id)
        .await
        .expect_err("card data is refused before anything is sent");
    assert!(!pan.to_string().contains("4242"), "{pan}");

    // validate everything that was sent
    let spec = std::fs::read_to_string(specs().join("stripe-spec3.yaml")).unwrap();
    let log = server.log.lock().unwrap().clone();
    assert_eq!(log.len(), 12, "one retry, eleven calls: {log:#?}");
    assert_eq!(
        log[0].headers.get("idempotency-key"),
        log[1].headers.get("idempotency-key"),
        "a retry reuses the key"
    );
    for r in &log {
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some("Bearer sk_test_contract")
        );
        assert_eq!(
            r.headers.get("stripe-version").map(String::as_str),
            Some(fintech_providers::stripe::API_VERSION)
        );
        let template = match r.path.as_str() {
            "/v1/customers" | "/v1/payment_intents" | "/v1/refunds" | "/v1/balance" => {
                r.path.clone()
            }
            p if p.ends_with("/cancel") => "/v1/payment_intents/{intent}/cancel".into(),
            p if p.ends_with("/capture") => "/v1/payment_intents/{intent}/capture".into(),
            p if p.ends_with("/attach") => "/v1/payment_methods/{payment_method}/attach".into(),
            p if p.ends_with("/payment_methods") => {
                "/v1/customers/{customer}/payment_methods".into()
            }
            _ => "/v1/payment_intents/{intent}".into(),
        };
        let method = r.method.to_ascii_lowercase();
        let operation = &path_item(&spec, &template)[&method];
        assert!(
            operation.is_object(),
            "{method} {template} is in the document"
        );
        let problems = validate_query(operation, &r.query);
        assert!(
            problems.is_empty(),
            "{method} {template} query: {problems:?}"
        );
        if method == "post" {
            assert!(
                r.headers.contains_key("idempotency-key"),
                "every POST carries an Idempotency-Key"
            );
            assert!(r
                .headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")));
            let problems = validate(&request_schema(&spec, &template, "post"), &r.form);
            assert!(problems.is_empty(), "{method} {template}: {problems:?}");
        }
    }
    let amount = log
        .iter()
        .find(|r| r.path == "/v1/payment_intents")
        .unwrap();
    assert!(
        amount
            .form
            .contains(&("amount".to_owned(), "1234".to_owned())),
        "exact minor units"
    );

    // Stripe's own example objects parse
    let fx = fixtures();
    assert!(payment_from(&fx["payment_intent"]).is_ok());
    assert!(refund_from(&fx["refund"]).is_ok());
    assert!(payment_method_from(&fx["payment_method"]).is_ok());
    assert!(balance_from(&fx["balance"]).is_ok());
    if let Ok(path) = std::env::var("FINTECH_TEST_REPORT") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "stripe document contract: 12 passed, 0 failed").unwrap();
    }
}
