//! Provider webhooks into the server: a Stripe event signed here is accepted and acknowledged,
//! a bad or stale signature is refused with nothing changed, and an unconfigured server
//! answers 404. A replayed event is acknowledged but applied once (on SQLite and PostgreSQL),
//! and an event whose application failed is applied when the provider retries it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use fintech_core::banking::BankingProvider;
use fintech_core::id::TenantId;
use fintech_core::payments::{
    CaptureMethod, NewCustomer, NewPayment, PaymentMethod, PaymentProvider, PaymentStatus,
    ProviderBalance, ProviderCaptureRequest, ProviderCustomer, ProviderPayment,
    ProviderPaymentRequest, ProviderRefund, ProviderRefundRequest,
};
use fintech_core::platform::Inbound;
use fintech_core::trading::BrokerageProvider;
use fintech_core::{Config, Interface, Money, Platform, Principal, ProviderMode, ProviderSet};
use fintech_providers::inbound::InboundVerifier;
use fintech_providers::SimProviders;
use fintech_server::{app, AppState, ServerOptions};
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use serde_json::{json, Value};
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

/// The simulator's payments under the name `stripe` (so Stripe webhooks find its payments),
/// counting `get_payment` calls (what applying a `payment_intent.*` event costs) and failing
/// the next one when told to.
struct Counting {
    sim: Arc<SimProviders>,
    gets: Arc<AtomicUsize>,
    fail_next: Arc<AtomicBool>,
}

struct CountingPayments {
    inner: Arc<dyn PaymentProvider>,
    gets: Arc<AtomicUsize>,
    fail_next: Arc<AtomicBool>,
}

impl ProviderSet for Counting {
    fn banking(&self, tenant: &TenantId) -> Arc<dyn BankingProvider> {
        self.sim.banking(tenant)
    }
    fn payments(&self, tenant: &TenantId) -> Arc<dyn PaymentProvider> {
        Arc::new(CountingPayments {
            inner: self.sim.payments(tenant),
            gets: self.gets.clone(),
            fail_next: self.fail_next.clone(),
        })
    }
    fn brokerage(&self, tenant: &TenantId) -> Arc<dyn BrokerageProvider> {
        self.sim.brokerage(tenant)
    }
    fn attach_state(&self, state: &fintech_core::ProviderState) {
        self.sim.attach_state(state);
    }
}

#[async_trait]
impl PaymentProvider for CountingPayments {
    fn name(&self) -> &'static str {
        "stripe"
    }
    fn mode(&self) -> ProviderMode {
        self.inner.mode()
    }
    async fn create_customer(
        &self,
        req: &NewCustomer,
        key: &str,
    ) -> fintech_core::Result<ProviderCustomer> {
        self.inner.create_customer(req, key).await
    }
    async fn create_payment(
        &self,
        req: &ProviderPaymentRequest,
    ) -> fintech_core::Result<ProviderPayment> {
        self.inner.create_payment(req).await
    }
    async fn get_payment(&self, id: &str) -> fintech_core::Result<ProviderPayment> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(fintech_core::Error::Provider {
                provider: "stripe",
                code: "unavailable".into(),
                message: "the stand-in fails this call".into(),
                request_id: None,
                retryable: true,
            });
        }
        self.inner.get_payment(id).await
    }
    async fn cancel_payment(&self, id: &str) -> fintech_core::Result<ProviderPayment> {
        self.inner.cancel_payment(id).await
    }
    async fn payment_method_exists(&self, pm: &str) -> fintech_core::Result<bool> {
        self.inner.payment_method_exists(pm).await
    }
    async fn create_refund(
        &self,
        req: &ProviderRefundRequest,
    ) -> fintech_core::Result<ProviderRefund> {
        self.inner.create_refund(req).await
    }
    async fn capture_payment(
        &self,
        req: &ProviderCaptureRequest,
    ) -> fintech_core::Result<ProviderPayment> {
        self.inner.capture_payment(req).await
    }
    async fn attach_payment_method(
        &self,
        pm: &str,
        customer: &str,
    ) -> fintech_core::Result<PaymentMethod> {
        self.inner.attach_payment_method(pm, customer).await
    }
    async fn payment_methods(&self, customer: &str) -> fintech_core::Result<Vec<PaymentMethod>> {
        self.inner.payment_methods(customer).await
    }
    async fn balance(&self) -> fintech_core::Result<Vec<ProviderBalance>> {
        self.inner.balance().await
    }
}

/// A Stripe event about `pi`, signed now.
fn stripe_event(id: &str, pi: &str) -> (String, String) {
    let body = serde_json::json!({
        "id": id, "type": "payment_intent.amount_capturable_updated",
        "data": { "object": { "id": pi } }
    })
    .to_string();
    let signature = sign("whsec_test", chrono::Utc::now().timestamp(), &body);
    (body, signature)
}

async fn replay_scenario(backend: &str, url: String) {
    let gets = Arc::new(AtomicUsize::new(0));
    let fail_next = Arc::new(AtomicBool::new(false));
    let platform = Platform::builder(Config {
        database_url: url,
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 4,
        ..Config::default()
    })
    .with_providers(Arc::new(Counting {
        sim: Arc::new(SimProviders::new()),
        gets: gets.clone(),
        fail_next: fail_next.clone(),
    }))
    .build()
    .await
    .expect("platform");
    let tenant = platform
        .create_tenant("inbound", Interface::Http)
        .await
        .expect("tenant");
    let p = Principal::system(tenant.id, Interface::Http);
    // an authorized payment: every application of an event about it asks the provider
    let payment = platform
        .create_payment(
            &p,
            NewPayment {
                amount: Money::parse("12.00", "USD").expect("money"),
                payment_method: "pm_card_visa".into(),
                customer_id: None,
                payee: None,
                description: None,
                capture_method: Some(CaptureMethod::Manual),
                confirmation_token: None,
            },
            None,
        )
        .await
        .expect("payment");
    assert_eq!(payment.status, PaymentStatus::RequiresCapture);
    let pi = payment.provider_payment_id.clone().expect("provider id");
    let router = app(AppState::new(
        platform.clone(),
        ServerOptions {
            inbound: Some(Arc::new(InboundVerifier {
                stripe_secrets: vec!["whsec_test".to_owned().into()],
                stripe_tolerance: std::time::Duration::from_secs(300),
                ..Default::default()
            })),
            ..ServerOptions::default()
        },
    ));
    let calls = || gets.load(Ordering::SeqCst);
    let before = calls();

    // first delivery: applied
    let (body, signature) = stripe_event("evt_replayed", &pi);
    let (status, ack) = post(&router, &signature, &body).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(ack["matched"], true, "{ack}");
    assert_eq!(ack["duplicate"], false, "{ack}");
    assert_eq!(calls(), before + 1, "applied once");

    // the same request again, within the tolerance: acknowledged, not applied
    for _ in 0..3 {
        let (status, ack) = post(&router, &signature, &body).await;
        assert_eq!(status, StatusCode::OK, "{ack}");
        assert_eq!(ack["duplicate"], true, "{ack}");
        assert_eq!(ack["matched"], false, "{ack}");
    }
    // the same event re-signed (a duplicate delivery by the provider): not applied either
    let (_, resigned) = stripe_event("evt_replayed", &pi);
    let (status, ack) = post(&router, &resigned, &body).await;
    assert_eq!((status, &ack["duplicate"]), (StatusCode::OK, &json!(true)));
    assert_eq!(calls(), before + 1, "a replay costs no provider call");

    // another event about the same payment is applied
    let (body, signature) = stripe_event("evt_next", &pi);
    let (status, ack) = post(&router, &signature, &body).await;
    assert_eq!((status, &ack["duplicate"]), (StatusCode::OK, &json!(false)));
    assert_eq!(calls(), before + 2);

    // an application that fails is not remembered: the provider's retry applies it
    fail_next.store(true, Ordering::SeqCst);
    let (body, signature) = stripe_event("evt_failed_once", &pi);
    let (status, problem) = post(&router, &signature, &body).await;
    assert!(status.is_server_error(), "{status} {problem}");
    assert_eq!(calls(), before + 3);
    let (_, retry) = stripe_event("evt_failed_once", &pi);
    let (status, ack) = post(&router, &retry, &body).await;
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(
        (&ack["duplicate"], &ack["matched"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(calls(), before + 4);

    // core deduplicates on its own, whatever the shell: one row per event
    assert_eq!(
        platform
            .provider_payment_event("stripe", "evt_next", &pi, Interface::Http)
            .await
            .expect("event"),
        Inbound::Duplicate
    );
    assert_eq!(calls(), before + 4);

    // bank item events (Plaid's kind): the first delivery is applied (the item syncs in the
    // background), a replay is a duplicate; an unknown item is acknowledged unmatched
    let token = platform
        .sandbox_public_token(&p, "ins_109508", None)
        .await
        .expect("token");
    let item = platform.link_item(&p, &token, None).await.expect("item");
    let provider_item: String =
        sqlx::query_scalar("SELECT provider_item_id FROM bank_items WHERE id = $1")
            .bind(item.id.as_str())
            .fetch_one(platform.store().pool())
            .await
            .expect("provider item id");
    let item_provider = item.provider.clone();
    let item_event = |event: &'static str, item: String| {
        let platform = platform.clone();
        let provider = item_provider.clone();
        async move {
            platform
                .provider_item_event(&provider, event, &item, Interface::Http)
                .await
                .expect("item event")
        }
    };
    assert_eq!(
        item_event("jwt:first", provider_item.clone()).await,
        Inbound::Applied(true)
    );
    assert_eq!(
        item_event("jwt:first", provider_item.clone()).await,
        Inbound::Duplicate
    );
    assert_eq!(
        item_event("jwt:other", "item_unknown".into()).await,
        Inbound::Applied(false)
    );
    assert_eq!(
        item_event("jwt:other", "item_unknown".into()).await,
        Inbound::Duplicate
    );
    // an event without a usable id is refused, not applied
    assert!(platform
        .provider_item_event(&item.provider, "", &provider_item, Interface::Http)
        .await
        .is_err());
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound_events")
        .fetch_one(platform.store().pool())
        .await
        .expect("count");
    assert_eq!(rows, 5, "one row per event");
    report(&format!("{backend} inbound scenarios: 1 passed, 0 failed"));
}

#[tokio::test]
async fn sqlite_inbound_replays() {
    let (_dir, url) = fresh_sqlite_database().expect("sqlite");
    replay_scenario("sqlite", url).await;
}

#[tokio::test]
async fn postgres_inbound_replays() {
    let Some(server) = postgres_url() else { return };
    replay_scenario(
        "postgres",
        fresh_postgres_database(&server).await.expect("db"),
    )
    .await;
}
