//! Secrets stay out of logs: a session with keys and payments, logged at TRACE level through
//! the HTTP stack, contains no API key secret and no `Authorization` header.
//!
//! Its own test binary: it installs the process-wide tracing subscriber, which must not race
//! with other tests' threads.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request};
use fintech_core::platform::NewApiKey;
use fintech_core::{Config, Interface, Platform, Principal, Scope};
use fintech_providers::SimProviders;
use fintech_server::{app, AppState, ServerOptions};
use fintech_tests::fresh_sqlite_database;
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_stay_out_of_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let (_dir, url) = fresh_sqlite_database().expect("sqlite");
    let platform = Platform::builder(Config {
        database_url: url,
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 4,
        ..Config::default()
    })
    .with_providers(Arc::new(SimProviders::new()))
    .build()
    .await
    .expect("platform");
    let t = platform
        .create_tenant("logs", Interface::Http)
        .await
        .expect("tenant");
    let admin = Principal::system(t.id, Interface::Http);
    let secret = platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "k".into(),
                scopes: BTreeSet::from([Scope::Admin]),
                limits: Default::default(),
            },
            None,
        )
        .await
        .expect("key")
        .into_value()
        .secret;
    let router = app(AppState::new(platform, ServerOptions::default()));
    let requests = [
        (
            "POST",
            "/v1/payments",
            Some(
                r#"{"amount":{"amount":"3.00","currency":"USD"},"payment_method":"pm_card_visa"}"#,
            ),
            secret.as_str(),
        ),
        (
            "POST",
            "/v1/keys",
            Some(r#"{"name":"n","scopes":["payments:read"]}"#),
            secret.as_str(),
        ),
        ("GET", "/v1/whoami", None, "fk_wrong_secret_value"),
    ];
    let mut new_secret = String::new();
    for (method, path, body, key) in requests {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"));
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        let res = router.clone().oneshot(req).await.expect("infallible");
        let bytes = http_body_util::BodyExt::collect(res.into_body())
            .await
            .expect("body")
            .to_bytes();
        if path == "/v1/keys" {
            let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            new_secret = v["secret"].as_str().expect("new secret").to_owned();
        }
    }
    let logs = String::from_utf8_lossy(&captured.0.lock().expect("log buffer")).to_string();
    assert!(
        logs.contains("http{"),
        "the trace layer logged requests: {logs}"
    );
    for s in [
        secret.as_str(),
        new_secret.as_str(),
        "fk_wrong_secret_value",
    ] {
        assert!(!logs.contains(s), "a secret reached the logs");
        assert!(
            !logs.contains(&s[3..20]),
            "part of a secret reached the logs"
        );
    }
    assert!(
        !logs.to_ascii_lowercase().contains("bearer "),
        "an Authorization header reached the logs"
    );
}
