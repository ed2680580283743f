//! Provider webhooks into the server: a Stripe event signed here is accepted and acknowledged,
//! a bad or stale signature is refused with nothing changed, and an unconfigured server
//! answers 404.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fintech_core::{Config, Platform};
use fintech_providers::inbound::InboundVerifier;
use fintech_providers::SimProviders;
use fintech_server::{app, AppState, ServerOptions};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::Sha256;
use tower::ServiceExt;

fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn post(router: &axum::Router, signature: &str, body: &str) -> (StatusCode, Value) {
    let mut req =
        Request::post("/v1/providers/stripe/webhook").header("content-type", "application/json");
    if !signature.is_empty() {
        req = req.header("stripe-signature", signature);
    }
    let req = req.body(Body::from(body.to_owned())).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn stripe_webhooks_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::builder(Config {
        database_url: format!("sqlite://{}/in.db?mode=rwc", dir.path().display()),
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 4,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await
    .unwrap();
    let verifier = InboundVerifier {
        stripe_secrets: vec!["whsec_test".to_owned().into()],
        stripe_tolerance: std::time::Duration::from_secs(300),
        ..Default::default()
    };
    let router = app(AppState::new(
        platform.clone(),
        ServerOptions {
            inbound: Some(Arc::new(verifier)),
            ..ServerOptions::default()
        },
    ));
    let body =
        r#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_unknown"}}}"#;
    let now = chrono::Utc::now().timestamp();
    let (status, ack) = post(&router, &sign("whsec_test", now, body), body).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["event_type"], "payment_intent.succeeded");
    assert_eq!(ack["matched"], false, "no payment has that id");
    for (what, sig) in [
        ("wrong secret", sign("whsec_other", now, body)),
        ("stale", sign("whsec_test", now - 600, body)),
        ("malformed", "t=1".to_owned()),
    ] {
        let (status, problem) = post(&router, &sig, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(problem["code"], "invalid_signature", "{what}");
    }
    let (status, _) = post(&router, "", body).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a missing header is a bad request"
    );
    let plain = app(AppState::new(platform, ServerOptions::default()));
    let (status, _) = post(&plain, &sign("whsec_test", now, body), body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
