//! One simulated world: the simulator keeps its state in the platform's database, so two
//! platforms opened on one database — as the CLI, the server and `fintech-mcp` are, each a
//! process with its own simulator — see the same customers, payment methods, balance,
//! positions and removed items, and a platform opened later (a restart) still sees them. The
//! second platform is built as the server builds its own (`Instrumented` around the
//! configured providers), so a provider set that wraps the simulator passes the database on.
//! Two simulators on one database claiming one Stripe idempotency key at once charge once.
//! On SQLite and PostgreSQL.

use std::sync::Arc;

use fintech_core::banking::BankingProvider;
use fintech_core::payments::{
    AttachPaymentMethod, CaptureMethod, NewCustomer, NewPayment, PaymentProvider,
    ProviderPaymentRequest,
};
use fintech_core::trading::{OrderRequest, OrderSide, OrderType, TimeInForce};
use fintech_core::{Config, ErrorKind, Interface, Money, Platform, Principal, ProviderSet};
use fintech_providers::{ConfiguredProviders, SimProviders};
use rust_decimal::Decimal;
use secrecy::SecretString;

use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};

async fn open(url: &str, key: &SecretString, providers: Arc<dyn ProviderSet>) -> Platform {
    let config = Config {
        database_url: url.to_owned(),
        encryption_key: Some(key.clone()),
        max_connections: 8,
        ..Config::default()
    };
    Platform::builder(config)
        .with_providers(providers)
        .build()
        .await
        .expect("platform")
}

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").expect("amount")
}

async fn one_world(backend: &str, url: &str) {
    let key = fintech_core::crypto::SecretBox::generate_key();
    // "The CLI": a platform with a simulator of its own.
    let cli_sim = Arc::new(SimProviders::new());
    let cli = open(url, &key, cli_sim.clone()).await;
    assert!(
        cli_sim.is_persistent(),
        "the platform gave the simulator its database"
    );
    let tenant = cli
        .create_tenant("one world", Interface::Cli)
        .await
        .expect("tenant");
    let op = Principal::system(tenant.id.clone(), Interface::Cli);

    let customer = cli
        .create_customer(
            &op,
            NewCustomer {
                email: Some("ada@example.com".into()),
                name: Some("Ada".into()),
            },
            None,
        )
        .await
        .expect("customer")
        .value;
    cli.attach_payment_method(
        &op,
        &customer.id,
        AttachPaymentMethod {
            payment_method: "pm_card_mastercard".into(),
        },
        None,
    )
    .await
    .expect("attach");
    for amount in ["12.50", "7.25"] {
        cli.create_payment(
            &op,
            NewPayment {
                amount: usd(amount),
                payment_method: "pm_card_visa".into(),
                customer_id: Some(customer.id.clone()),
                payee: None,
                description: None,
                capture_method: Some(CaptureMethod::Automatic),
                confirmation_token: None,
            },
            None,
        )
        .await
        .expect("charge");
    }
    let order = OrderRequest {
        symbol: "AAPL".into(),
        side: OrderSide::Buy,
        qty: Decimal::from(3),
        order_type: OrderType::Market,
        time_in_force: TimeInForce::Day,
        limit_price: None,
        stop_price: None,
        confirmation_token: None,
    };
    cli.place_order(&op, order, None).await.expect("order");
    // An item linked and removed at the simulated bank, straight through the provider (the
    // platform keeps the token sealed): its access token must stay refused.
    let bank = cli_sim.banking_sim(&tenant.id);
    let public = bank
        .sandbox_public_token("ins_109508")
        .await
        .expect("public token");
    let item = bank.exchange_public_token(&public).await.expect("exchange");
    bank.remove_item(&item.access_token).await.expect("remove");

    // "The server": another platform on the same database, providers as the server builds them.
    let server_sim = Arc::new(SimProviders::new());
    let server_providers: Arc<dyn ProviderSet> =
        Arc::new(fintech_server::instrument::Instrumented(Arc::new(
            fintech_providers::from_env_with(server_sim.clone()).expect("providers"),
        )));
    let server = open(url, &key, server_providers).await;
    let customers = server.customer(&op, &customer.id).await.expect("customer");
    assert_eq!(customers.email.as_deref(), Some("ada@example.com"));
    let methods = server
        .payment_methods(&op, &customer.id)
        .await
        .expect("methods");
    assert_eq!(
        methods.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec!["pm_card_mastercard"],
        "the method the CLI attached"
    );
    let balance = server.payments_balance(&op).await.expect("balance");
    assert_eq!(balance.len(), 1, "{balance:?}");
    assert_eq!(balance[0].available, usd("19.75"), "both charges");
    let positions = server.positions(&op).await.expect("positions");
    assert_eq!(positions.len(), 1, "{positions:?}");
    assert_eq!(positions[0].symbol, "AAPL");
    assert_eq!(positions[0].qty, Decimal::from(3));
    let account = server.brokerage_account(&op).await.expect("account");
    assert!(
        account
            .cash
            .checked_cmp(&usd("100000.00"))
            .expect("usd")
            .is_lt(),
        "the shares were paid for: {}",
        account.cash
    );
    let removed = server_sim
        .banking_sim(&tenant.id)
        .accounts(&item.access_token)
        .await
        .expect_err("a removed item");
    assert!(
        removed.to_string().contains("the item was removed"),
        "removed stays removed: {removed}"
    );
    // A public token works once, in whichever process.
    assert_eq!(
        server_sim
            .banking_sim(&tenant.id)
            .exchange_public_token(&public)
            .await
            .map_err(|e| e.kind())
            .err(),
        Some(ErrorKind::Validation)
    );
    server.store().close().await;
    cli.store().close().await;

    // A restart: a new platform and simulator see everything still.
    let later_sim = Arc::new(ConfiguredProviders::simulated());
    let later = open(url, &key, later_sim).await;
    let positions = later.positions(&op).await.expect("positions");
    assert_eq!(positions.len(), 1, "positions survive a restart");
    let balance = later.payments_balance(&op).await.expect("balance");
    assert_eq!(balance[0].available, usd("19.75"));
    let methods = later
        .payment_methods(&op, &customer.id)
        .await
        .expect("methods");
    assert_eq!(methods.len(), 1);

    // Two simulators (two processes) claim one idempotency key at once: one charge.
    let a = Arc::new(SimProviders::new());
    let b = Arc::new(SimProviders::new());
    a.attach_state(&later.provider_state());
    b.attach_state(&later.provider_state());
    let req = ProviderPaymentRequest {
        amount: usd("5.00"),
        payment_method: "pm_card_visa".into(),
        customer: None,
        description: None,
        capture_method: CaptureMethod::Automatic,
        idempotency_key: "race-1".into(),
    };
    let (pa, pb) = (a.payments_sim(&tenant.id), b.payments_sim(&tenant.id));
    let (ra, rb) = tokio::join!(pa.create_payment(&req), pb.create_payment(&req));
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(ra.provider_id, rb.provider_id, "one payment for one key");
    assert_eq!(pa.charge_count() + pb.charge_count(), 1, "charged once");
    let balance = later.payments_balance(&op).await.expect("balance");
    assert_eq!(balance[0].available, usd("24.75"), "the raced charge, once");
    later.store().close().await;
    report(&format!("{backend} one world: 1 passed, 0 failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_one_world() {
    let (_dir, url) = fresh_sqlite_database().expect("temp sqlite");
    one_world("sqlite", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_one_world() {
    let Some(server) = postgres_url() else { return };
    let url = fresh_postgres_database(&server).await.expect("database");
    one_world("postgres", &url).await;
}
