//! Idempotency of every change through core, on SQLite and PostgreSQL: for each operation the
//! HTTP shell used to key in a layer of its own (administrative creates, link tokens, syncs,
//! approvals, rejections, cancellations, fraud cases, backtests, webhook endpoints and
//! deliveries) and the other changes (key limits and revocation, rule sets, endpoint deletion), a retry with the same key answers the first result with `replayed` and makes
//! no second effect, and another request under the key is `Conflict(idempotency_key_reused)`.
//! And the answer lives in the operation's own transaction: when keeping it fails, the effect
//! is rolled back with it, and a retry runs the operation once.

use std::collections::BTreeSet;
use std::sync::Arc;

use fintech_core::fraud::{CaseStatus, RuleFormat};
use fintech_core::id::UserId;
use fintech_core::payments::{NewPayment, PaymentStatus};
use fintech_core::platform::{BacktestRules, CaseQuery, LogQuery, NewApiKey};
use fintech_core::policy::KeyLimits;
use fintech_core::storage::Backend;
use fintech_core::trading::{OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce};
use fintech_core::webhooks::NewWebhookEndpoint;
use fintech_core::{
    Config, ConflictCode, Error, Interface, Money, Platform, Principal, Role, Scope,
};
use fintech_providers::SimProviders;
use fintech_tests::{fresh_postgres_database, fresh_sqlite_database, postgres_url, report};

/// Runs `$call` twice: the first answer is fresh, the second a replay of the same value.
macro_rules! replays {
    ($what:literal, $call:expr) => {{
        let first = $call.await.expect(concat!($what, ": first call"));
        let again = $call.await.expect(concat!($what, ": retry"));
        assert!(!first.replayed, "{}: the first call runs", $what);
        assert!(again.replayed, "{}: the retry is a replay", $what);
        assert_eq!(
            serde_json::to_value(&first.value).expect("json"),
            serde_json::to_value(&again.value).expect("json"),
            "{}: the retry answers the first result",
            $what
        );
        first.into_value()
    }};
}

/// `$call` under a used key with another request is refused as a reused key.
macro_rules! reused {
    ($what:literal, $call:expr) => {{
        match $call.await {
            Err(Error::Conflict {
                code: ConflictCode::IdempotencyKeyReused,
                ..
            }) => {}
            other => panic!("{}: expected idempotency_key_reused, got {other:?}", $what),
        }
    }};
}

struct World {
    platform: Platform,
    sim: Arc<SimProviders>,
    admin: Principal,
    ops: Principal,
    agent: Principal,
}

fn key(k: &str) -> Option<String> {
    Some(k.to_owned())
}

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").expect("usd")
}

fn pay(amount: &str) -> NewPayment {
    NewPayment {
        amount: usd(amount),
        payment_method: "pm_card_visa".into(),
        customer_id: None,
        payee: Some("Acme Supplies".into()),
        description: None,
        capture_method: None,
        confirmation_token: None,
    }
}

fn order() -> OrderRequest {
    OrderRequest {
        symbol: "AAPL".into(),
        side: OrderSide::Buy,
        qty: rust_decimal::Decimal::ONE,
        order_type: OrderType::Market,
        time_in_force: TimeInForce::Day,
        limit_price: None,
        stop_price: None,
        confirmation_token: None,
    }
}

async fn world(url: &str) -> World {
    let sim = Arc::new(SimProviders::new());
    let platform = Platform::builder(Config {
        database_url: url.to_owned(),
        encryption_key: Some(fintech_core::crypto::SecretBox::generate_key()),
        max_connections: 8,
        ..Config::default()
    })
    .with_providers(sim.clone())
    .build()
    .await
    .expect("platform");
    let tenant = platform
        .create_tenant("idem", Interface::Sdk)
        .await
        .expect("tenant");
    let admin = Principal::system(tenant.id.clone(), Interface::Sdk);
    let ops = Principal::user(
        tenant.id,
        UserId::generate(),
        Role::Operator,
        Interface::Cli,
    );
    // an agent whose payments and orders above 1 USD wait for an operator
    let created = platform
        .create_api_key(
            &admin,
            NewApiKey {
                name: "agent".into(),
                scopes: BTreeSet::from([
                    Scope::PaymentsRead,
                    Scope::PaymentsWrite,
                    Scope::TradingRead,
                    Scope::TradingWrite,
                ]),
                limits: KeyLimits {
                    approval_threshold: Some(usd("1.00")),
                    ..KeyLimits::default()
                },
            },
            None,
        )
        .await
        .expect("agent key");
    let agent = platform
        .authenticate(&created.secret, Interface::Sdk)
        .await
        .expect("agent");
    World {
        platform,
        sim,
        admin,
        ops,
        agent,
    }
}

impl World {
    /// How many audit records of `action` the tenant has: one per effect.
    async fn audits(&self, action: &str) -> usize {
        let mut n = 0;
        let mut after = 0;
        loop {
            let page = self
                .platform
                .audit_log(
                    &self.admin,
                    LogQuery {
                        after,
                        limit: Some(500),
                    },
                )
                .await
                .expect("audit");
            n += page.iter().filter(|r| r.entry.action == action).count();
            match page.last() {
                Some(last) if page.len() == 500 => after = last.seq,
                _ => return n,
            }
        }
    }

    fn charges(&self) -> usize {
        self.sim.payments_sim(&self.admin.tenant_id).charge_count()
    }

    async fn held_payment(&self) -> fintech_core::id::PaymentId {
        let p = self
            .platform
            .create_payment(&self.agent, pay("25.00"), None)
            .await
            .expect("held payment");
        assert!(p.status.is_held(), "{:?}", p.status);
        p.value.id
    }

    async fn held_order(&self) -> fintech_core::id::OrderId {
        let o = self
            .platform
            .place_order(&self.agent, order(), None)
            .await
            .expect("held order");
        assert_eq!(o.status, OrderStatus::PendingApproval);
        o.value.id
    }
}

/// Every formerly shell-keyed operation: replays, no second effect, a reused key refused.
async fn every_change_replays(w: &World) {
    let (pl, admin, ops) = (&w.platform, &w.admin, &w.ops);

    // keys: the secret is answered again, and rests sealed, never in the clear
    let new_key = |name: &str| NewApiKey {
        name: name.into(),
        scopes: BTreeSet::from([Scope::PaymentsRead]),
        limits: KeyLimits::default(),
    };
    let created = replays!(
        "keys.create",
        pl.create_api_key(admin, new_key("reader"), key("k-key"))
    );
    assert_eq!(
        w.audits("keys.create").await,
        2,
        "the agent's key and this one"
    );
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT response FROM idempotency_keys WHERE idem_key = 'k-key'")
            .fetch_all(pl.store().pool())
            .await
            .expect("stored answer");
    assert!(
        stored.len() == 1 && !stored[0].contains(&created.secret),
        "the kept answer does not hold the secret in the clear"
    );
    pl.authenticate(&created.secret, Interface::Sdk)
        .await
        .expect("the replayed secret is the key's");
    reused!(
        "keys.create",
        pl.create_api_key(admin, new_key("other"), key("k-key"))
    );
    replays!(
        "keys.set_limits",
        pl.set_key_limits(
            admin,
            &created.key.id,
            KeyLimits::default(),
            key("k-limits")
        )
    );
    assert_eq!(w.audits("keys.set_limits").await, 1);
    replays!(
        "keys.revoke",
        pl.revoke_api_key(admin, &created.key.id, key("k-revoke"))
    );
    assert_eq!(w.audits("keys.revoke").await, 1, "revoked once");

    // users
    replays!(
        "users.create",
        pl.create_user(admin, "ops@example.com", Role::Operator, key("k-user"))
    );
    assert_eq!(pl.users(admin).await.expect("users").len(), 1);
    reused!(
        "users.create",
        pl.create_user(admin, "dev@example.com", Role::Operator, key("k-user"))
    );

    // banking: link token, public token, sync
    replays!(
        "banking.link_token",
        pl.create_link_token(admin, "user-1", key("k-lt"))
    );
    reused!(
        "banking.link_token",
        pl.create_link_token(admin, "user-2", key("k-lt"))
    );
    let token = replays!(
        "banking.sandbox_public_token",
        pl.sandbox_public_token(admin, "ins_109508", key("k-pt"))
    );
    let item = pl
        .link_item(admin, &token, None)
        .await
        .expect("link")
        .into_value();
    replays!(
        "banking.sync",
        pl.sync_transactions(admin, &item.id, None, key("k-sync"))
    );
    assert_eq!(w.audits("banking.sync").await, 1, "one sync ran");
    reused!(
        "banking.sync",
        pl.sync_transactions(admin, &item.id, None, key("k-user"))
    );
    replays!(
        "banking.remove",
        pl.remove_item(admin, &item.id, key("k-remove"))
    );
    assert_eq!(w.audits("banking.remove").await, 1);

    // payments: approve (charged once), reject, cancel, assess
    let held = w.held_payment().await;
    let charges = w.charges();
    let approved = replays!(
        "payments.approve",
        pl.approve_payment(ops, &held, Some("fine".into()), key("k-approve"))
    );
    assert_eq!(approved.status, PaymentStatus::Succeeded);
    assert_eq!(w.charges(), charges + 1, "charged once");
    assert_eq!(w.audits("payments.approve").await, 1);
    reused!(
        "payments.approve",
        pl.approve_payment(ops, &held, Some("other".into()), key("k-approve"))
    );
    let held = w.held_payment().await;
    let rejected = replays!(
        "payments.reject",
        pl.reject_payment(ops, &held, None, key("k-reject"))
    );
    assert_eq!(rejected.status, PaymentStatus::Rejected);
    assert_eq!(w.audits("payments.reject").await, 1);
    let held = w.held_payment().await;
    let canceled = replays!(
        "payments.cancel",
        pl.cancel_payment(&w.agent, &held, key("k-cancel"))
    );
    assert_eq!(canceled.status, PaymentStatus::Canceled);
    assert_eq!(w.audits("payments.cancel").await, 1);
    reused!(
        "payments.cancel",
        pl.cancel_payment(&w.agent, &w.held_payment().await, key("k-cancel"))
    );
    replays!(
        "payments.assess",
        pl.assess_payment(&w.agent, &pay("3.00"), key("k-assess"))
    );
    reused!(
        "payments.assess",
        pl.assess_payment(&w.agent, &pay("4.00"), key("k-assess"))
    );

    // orders: approve (sent once), reject, cancel
    let held = w.held_order().await;
    let sent = replays!(
        "orders.approve",
        pl.approve_order(ops, &held, None, key("k-oapprove"))
    );
    assert!(!sent.status.is_held());
    assert_eq!(w.audits("orders.approve").await, 1);
    let held = w.held_order().await;
    replays!(
        "orders.reject",
        pl.reject_order(ops, &held, Some("no".into()), key("k-oreject"))
    );
    reused!(
        "orders.reject",
        pl.reject_order(ops, &held, Some("yes".into()), key("k-oreject"))
    );
    let held = w.held_order().await;
    replays!(
        "orders.cancel",
        pl.cancel_order(&w.agent, &held, key("k-ocancel"))
    );
    assert_eq!(w.audits("orders.cancel").await, 1);

    // fraud cases: a rule holds every payment for review
    let rules = "review_score = 50\nblock_score = 100\n[[rule]]\nname = \"all\"\naction = \"review\"\nscore = 50\nwhen.amount_above = { amount = { USD = \"0.00\" } }\n";
    replays!(
        "fraud.rules.set",
        pl.set_fraud_rules(admin, rules, RuleFormat::Toml, key("k-rules"))
    );
    assert_eq!(w.audits("fraud.rules.set").await, 1, "one version stored");
    reused!(
        "fraud.rules.set",
        pl.set_fraud_rules(
            admin,
            "review_score = 60\nblock_score = 100\n",
            RuleFormat::Toml,
            key("k-rules")
        )
    );
    let reviewed = |amount: &'static str| async move {
        let p = pl
            .create_payment(admin, pay(amount), None)
            .await
            .expect("reviewed payment");
        assert_eq!(p.status, PaymentStatus::PendingReview);
        let cases = pl
            .fraud_cases(
                admin,
                &CaseQuery {
                    status: Some(CaseStatus::Open),
                    limit: None,
                },
            )
            .await
            .expect("cases");
        cases
            .into_iter()
            .find(|c| c.object_id == p.id.as_str())
            .expect("its case")
            .id
    };
    let case = reviewed("5.00").await;
    let charges = w.charges();
    let approved = replays!(
        "fraud_cases.approve",
        pl.approve_fraud_case(ops, &case, "known customer".into(), key("k-case"))
    );
    assert_eq!(approved.status, CaseStatus::Approved);
    assert_eq!(w.charges(), charges + 1, "charged once");
    reused!(
        "fraud_cases.approve",
        pl.approve_fraud_case(ops, &case, "another reason".into(), key("k-case"))
    );
    let case = reviewed("6.00").await;
    let rejected = replays!(
        "fraud_cases.reject",
        pl.reject_fraud_case(ops, &case, "stolen card".into(), key("k-case-r"))
    );
    assert_eq!(rejected.status, CaseStatus::Rejected);
    assert_eq!(w.audits("payments.reject").await, 2, "one more rejection");

    // backtests
    replays!(
        "fraud.backtest_stored",
        pl.backtest_stored(admin, &BacktestRules::Active, key("k-bt"))
    );

    // webhook endpoints and deliveries
    let endpoint = || NewWebhookEndpoint {
        url: "http://127.0.0.1:9/hook".into(),
        event_types: vec!["*".into()],
    };
    let created = replays!(
        "webhooks.create",
        pl.create_webhook_endpoint(admin, endpoint(), true, key("k-hook"))
    );
    assert_eq!(pl.webhook_endpoints(admin).await.expect("list").len(), 1);
    pl.create_payment(&w.agent, pay("0.50"), None)
        .await
        .expect("an event to deliver");
    let deliveries = pl
        .webhook_deliveries(admin, &created.endpoint.id, None)
        .await
        .expect("deliveries");
    let delivery = &deliveries.first().expect("a delivery").id;
    replays!(
        "webhooks.replay",
        pl.replay_webhook_delivery(admin, delivery, key("k-redeliver"))
    );
    assert_eq!(w.audits("webhooks.replay").await, 1);
    reused!(
        "webhooks.replay",
        pl.replay_webhook_delivery(admin, delivery, key("k-hook"))
    );
    replays!(
        "webhooks.delete",
        pl.delete_webhook_endpoint(admin, &created.endpoint.id, key("k-unhook"))
    );
    assert_eq!(w.audits("webhooks.delete").await, 1, "deleted once");
}

/// Keeping the answer fails inside the operation's transaction (a trigger refuses to mark
/// the key done): the effect is rolled back with it, nothing is kept, and a retry with the
/// key runs once. A stored answer written after the commit (the old shell layer) would have
/// left the effect without its answer here.
async fn the_answer_commits_with_the_effect(w: &World, backend: Backend) {
    let (pl, admin, ops) = (&w.platform, &w.admin, &w.ops);
    let pool = pl.store().pool();
    let (on, off): (&'static [&'static str], &'static [&'static str]) = match backend {
        Backend::Sqlite => (
            &["CREATE TRIGGER refuse_answer BEFORE UPDATE ON idempotency_keys WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"],
            &["DROP TRIGGER refuse_answer"],
        ),
        Backend::Postgres => (
            &[
                "CREATE FUNCTION refuse_answer() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END; $$",
                "CREATE TRIGGER refuse_answer BEFORE UPDATE ON idempotency_keys FOR EACH ROW WHEN (NEW.state = 'done') EXECUTE FUNCTION refuse_answer()",
            ],
            &["DROP TRIGGER refuse_answer ON idempotency_keys", "DROP FUNCTION refuse_answer()"],
        ),
    };
    let run = |sql: &'static [&'static str]| async move {
        for s in sql {
            sqlx::query(s).execute(pool).await.expect("trigger");
        }
    };
    let users = pl.users(admin).await.expect("users").len();
    let held = w.held_payment().await;
    let charges = w.charges();
    let (rejects, approvals) = (
        w.audits("payments.reject").await,
        w.audits("payments.approve").await,
    );
    run(on).await;
    pl.create_user(admin, "crash@example.com", Role::Operator, key("c-user"))
        .await
        .expect_err("keeping the answer fails");
    assert_eq!(
        pl.users(admin).await.expect("users").len(),
        users,
        "no user without its kept answer"
    );
    pl.reject_payment(ops, &held, None, key("c-reject"))
        .await
        .expect_err("keeping the answer fails");
    let still = pl.payment(admin, &held).await.expect("payment");
    assert!(still.status.is_held(), "not rejected: {:?}", still.status);
    assert_eq!(w.audits("payments.reject").await, rejects);
    pl.approve_payment(ops, &held, None, key("c-approve"))
        .await
        .expect_err("keeping the answer fails");
    run(off).await;
    let user = pl
        .create_user(admin, "crash@example.com", Role::Operator, key("c-user"))
        .await
        .expect("retry");
    assert!(!user.replayed, "nothing was kept: the retry runs");
    assert_eq!(pl.users(admin).await.expect("users").len(), users + 1);
    // the approval committed, its charge's record and answer did not: the retry resumes it
    let approved = pl
        .approve_payment(ops, &held, None, key("c-approve"))
        .await
        .expect("the retry resumes the approval");
    assert!(!approved.replayed);
    assert_eq!(approved.status, PaymentStatus::Succeeded);
    assert_eq!(w.charges(), charges + 1, "charged once across the attempts");
    assert_eq!(
        w.audits("payments.approve").await,
        approvals + 1,
        "approved once"
    );
    let again = pl
        .approve_payment(ops, &held, None, key("c-approve"))
        .await
        .expect("replay");
    assert!(again.replayed && again.value == approved.value);
}

async fn scenario(backend: &str, kind: Backend, url: String) {
    let w = world(&url).await;
    every_change_replays(&w).await;
    the_answer_commits_with_the_effect(&w, kind).await;
    w.platform.store().close().await;
    report(&format!(
        "{backend} idempotency scenarios: 2 passed, 0 failed"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_idempotency() {
    let (_dir, url) = fresh_sqlite_database().expect("sqlite");
    scenario("sqlite", Backend::Sqlite, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_idempotency() {
    let Some(server) = postgres_url() else { return };
    scenario(
        "postgres",
        Backend::Postgres,
        fresh_postgres_database(&server).await.expect("db"),
    )
    .await;
}
