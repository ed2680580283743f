//! The SDK end to end on the embedded default: an SQLite file and the simulated providers.
//!
//! Creates a tenant, links a sandbox bank and syncs its transactions, gives an AI agent a
//! scoped API key with limits, lets it pay (one payment held for approval, then approved by
//! an operator), refunds part of a payment, trades, prints the ledger, and verifies the audit
//! chain.
//!
//! ```text
//! cargo run -p fintech-examples --bin quickstart
//! ```
//!
//! The database is `fintech.db` in the current directory unless `FINTECH_DATABASE_URL` or
//! `fintech.toml` says otherwise (a PostgreSQL URL works too, with `FINTECH_ENCRYPTION_KEY`).
//! Every run adds a new tenant, so it can be run again and again.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{ensure, Context};
use fintech_core::payments::{NewPayment, NewRefund, PaymentStatus};
use fintech_core::platform::NewApiKey;
use fintech_core::policy::KeyLimits;
use fintech_core::trading::{OrderRequest, OrderSide, OrderType, TimeInForce};
use fintech_core::{id::UserId, Config, Interface, Money, Platform, Principal, Role, Scope};
use fintech_providers::SimProviders;
use rust_decimal::Decimal;

fn usd(amount: &str) -> anyhow::Result<Money> {
    Ok(Money::parse(amount, "USD")?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    println!(
        "database: {}",
        fintech_core::config::redact_url(&config.database_url)
    );
    let platform = Platform::builder(config)
        .with_providers(Arc::new(SimProviders::new()))
        .build()
        .await
        .context("opening the database")?;

    // 1. A tenant, and its admin acting through the SDK.
    let tenant = platform
        .create_tenant("Quickstart Co", Interface::Sdk)
        .await?;
    let admin = Principal::system(tenant.id.clone(), Interface::Sdk);
    println!("tenant {} ({})", tenant.name, tenant.id);

    // 2. Bank data: link a sandbox institution and sync its transactions.
    let public_token = platform
        .sandbox_public_token(&admin, "ins_109508", None)
        .await?;
    let item = platform.link_item(&admin, &public_token, None).await?;
    let accounts = platform.bank_accounts(&admin, Some(&item.id)).await?;
    println!(
        "linked {} with {} accounts:",
        item.institution_name,
        accounts.len()
    );
    for a in &accounts {
        println!("  {:<18} {:>14}", a.name, a.current.to_string());
    }
    let sync = platform
        .sync_transactions(&admin, &item.id, None, None)
        .await?;
    println!(
        "synced: {} added, {} modified, {} removed in {} page(s)",
        sync.added, sync.modified, sync.removed, sync.pages
    );

    // 3. An agent's API key: payments only, 500 per payment, 1,000 a day, approval above 250.
    let created = platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "billing agent".into(),
                scopes: BTreeSet::from([
                    Scope::PaymentsRead,
                    Scope::PaymentsWrite,
                    Scope::TradingRead,
                    Scope::TradingWrite,
                ]),
                limits: KeyLimits {
                    max_per_payment: Some(usd("500")?),
                    max_per_day: Some(usd("1000")?),
                    max_order_notional: Some(usd("5000")?),
                    approval_threshold: Some(usd("250")?),
                    confirm_above: None,
                },
            },
            None,
        )
        .await?
        .into_value();
    println!(
        "api key {} created (secret shown once, prefix {})",
        created.key.id, created.key.prefix
    );
    let agent = platform
        .authenticate(&created.secret, Interface::Sdk)
        .await?;

    // 4. The agent pays. The same idempotency key twice charges once.
    let coffee = NewPayment {
        amount: usd("42.50")?,
        payment_method: "pm_card_visa".into(),
        customer_id: None,
        payee: Some("Blue Bottle Coffee".into()),
        description: Some("team coffee".into()),
        capture_method: None,
        confirmation_token: None,
    };
    let paid = platform
        .create_payment(&agent, coffee.clone(), Some("coffee-2026-11-25".into()))
        .await?;
    let again = platform
        .create_payment(&agent, coffee, Some("coffee-2026-11-25".into()))
        .await?;
    ensure!(
        paid.id == again.id,
        "an idempotent retry returns the same payment"
    );
    println!(
        "paid {} -> {} ({})",
        paid.amount,
        paid.status.as_str(),
        paid.id
    );

    // 5. Above the approval threshold: held until an operator decides.
    let laptop = NewPayment {
        amount: usd("300.00")?,
        payment_method: "pm_card_visa".into(),
        customer_id: None,
        payee: Some("Framework Computer".into()),
        description: Some("laptop".into()),
        capture_method: None,
        confirmation_token: None,
    };
    let held = platform.create_payment(&agent, laptop, None).await?;
    ensure!(held.status == PaymentStatus::PendingApproval, "held");
    println!("held {} -> {}", held.amount, held.status.as_str());
    let operator = Principal::user(
        tenant.id.clone(),
        UserId::generate(),
        Role::Operator,
        Interface::Cli,
    );
    let approved = platform
        .approve_payment(&operator, &held.id, Some("ok, budgeted".into()), None)
        .await?;
    println!("approved by an operator -> {}", approved.status.as_str());

    // 6. A partial refund.
    let refund = platform
        .create_refund(
            &admin,
            NewRefund {
                payment_id: paid.id.clone(),
                amount: Some(usd("10.00")?),
                reason: Some("one coffee was cold".into()),
                confirmation_token: None,
            },
            None,
        )
        .await?;
    println!("refunded {} of {}", refund.amount, paid.id);

    // 7. Trading on the simulated broker.
    let quote = platform.quote(&agent, "AAPL").await?;
    let order = platform
        .place_order(
            &agent,
            OrderRequest {
                symbol: "AAPL".into(),
                side: OrderSide::Buy,
                qty: Decimal::ONE,
                order_type: OrderType::Market,
                time_in_force: TimeInForce::Day,
                limit_price: None,
                stop_price: None,
                confirmation_token: None,
            },
            None,
        )
        .await?;
    println!(
        "AAPL bid {} ask {}; bought {} -> {} at {}",
        quote.bid,
        quote.ask,
        order.qty,
        order.status,
        order
            .filled_avg_price
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into())
    );
    for p in platform.positions(&agent).await? {
        println!("  position {} x {} = {}", p.symbol, p.qty, p.market_value);
    }

    // 8. The agent's day so far, the ledger, and the audit chain.
    let who = platform.whoami(&agent).await?;
    println!(
        "agent spent {} today, {} left (payments provider: {})",
        who.spent_today.map(|m| m.to_string()).unwrap_or_default(),
        who.remaining_today
            .map(|m| m.to_string())
            .unwrap_or_default(),
        who.payments_mode
    );
    println!("ledger:");
    for b in platform.ledger_balances(&admin).await? {
        println!("  {:<28} {:>14}", b.account, b.balance.to_string());
    }
    let verified = platform.verify_audit(&admin).await?;
    ensure!(
        verified.is_ok(),
        "audit chain broken: {:?}",
        verified.first_bad
    );
    println!("audit chain verified: {} records", verified.records);
    Ok(())
}
