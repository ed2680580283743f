//! `fintech`: the operator command line. Thin: parse flags, build a `Platform` from the one
//! `Config`, act as the chosen tenant's operator (interface `cli`, so every change is audited
//! as coming from here), print a table or JSON.
//!
//! Exit codes: 0 ok, 2 usage or invalid input, 3 authentication/permission, 4 not found,
//! 5 conflict, held or over a limit, 6 provider, 1 anything else.

mod cmd;
mod output;

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use fintech_core::banking::TransactionQuery;
use fintech_core::id::{ApiKeyId, CustomerId, ItemId, OrderId, PaymentId, TenantId, UserId};
use fintech_core::payments::{
    AttachPaymentMethod, CaptureMethod, NewCustomer, NewPayment, NewRefund, PaymentStatus,
};
use fintech_core::platform::{LogQuery, NewApiKey, OrderQuery, PaymentQuery};
use fintech_core::policy::KeyLimits;
use fintech_core::trading::{OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce};
use fintech_core::{Config, Error, ErrorKind, Interface, Money, Platform, Principal, Role, Scope};
use fintech_providers::SimProviders;
use output::{opt, show, Format};
use rust_decimal::Decimal;

#[derive(Parser)]
#[command(
    name = "fintech",
    version,
    about = "Operate the fintech platform: tenants, keys, banking, payments, trading, approvals, audit",
    after_help = "Every command works on the embedded default (fintech.db here) or any --database-url.\nExit codes: 2 usage, 3 auth, 4 not found, 5 conflict/held/limit, 6 provider, 1 other."
)]
struct Cli {
    /// Database URL (default: the SQLite file fintech.db in the working directory).
    #[arg(long, env = "FINTECH_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Configuration file (default: fintech.toml when present).
    #[arg(long, env = "FINTECH_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,
    /// Tenant to act on (default: the only tenant, or the first one created).
    #[arg(long, env = "FINTECH_TENANT", global = true)]
    tenant: Option<String>,
    /// Act as this API key (its scopes and limits) instead of as the tenant's operator.
    #[arg(long, env = "FINTECH_API_KEY", global = true, hide_env_values = true)]
    api_key: Option<String>,
    /// Output format (default: table on a terminal, JSON when piped).
    #[arg(long, short, value_enum, global = true)]
    output: Option<Format>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and migrate the database, and a sandbox tenant.
    Init {
        /// Name of the tenant to create.
        #[arg(long, default_value = "sandbox")]
        tenant_name: String,
    },
    /// Apply database migrations.
    Migrate,
    /// Tenants.
    #[command(subcommand)]
    Tenants(TenantCmd),
    /// Users of the tenant.
    #[command(subcommand)]
    Users(UserCmd),
    /// API keys of the tenant: create (secret shown once), list, revoke, set limits.
    #[command(subcommand)]
    Keys(KeyCmd),
    /// Bank data: link, accounts, sync, transactions.
    #[command(subcommand)]
    Banking(BankingCmd),
    /// Payments.
    #[command(subcommand)]
    Payments(PaymentCmd),
    /// Customers and their payment methods.
    #[command(subcommand)]
    Customers(CustomerCmd),
    /// Refunds.
    #[command(subcommand)]
    Refunds(RefundCmd),
    /// Brokerage.
    #[command(subcommand)]
    Trading(TradingCmd),
    /// Held payments and orders: list, approve, reject.
    #[command(subcommand)]
    Approvals(ApprovalCmd),
    /// Fraud screening: rule sets, review cases, backtests.
    #[command(subcommand)]
    Fraud(FraudCmd),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The event log.
    #[command(subcommand)]
    Events(EventCmd),
    /// The effective configuration (secrets redacted).
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Make the simulator produce a realistic event: payment.succeeded, payment.failed,
    /// payment.held, order.filled, transactions.updated, fraud.case_opened (card testing
    /// against the active rule set: repeated charges until one is held for review).
    Trigger {
        /// The event to cause.
        #[arg(value_parser = ["payment.succeeded", "payment.failed", "payment.held", "order.filled", "transactions.updated", "fraud.case_opened"])]
        event: String,
    },
    /// Forward new events, signed like webhooks, to a local endpoint (for developing a
    /// receiver). Prints the signing secret of the session.
    Listen {
        /// Where to POST each event.
        #[arg(long)]
        forward_to: String,
        /// Only these event types (comma-separated); all when absent.
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
    },
    /// Any operation of the catalog by name, arguments as JSON:
    /// `fintech op payments_timeline --json '{"payment_id": "pay_…"}'`. Alone: lists them.
    Op(cmd::op::OpArgs),
    /// Shell completion script.
    Completions {
        /// Shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    /// List tenants.
    List,
    /// Create a tenant.
    Create {
        /// Name.
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// List users.
    List,
    /// Add a user.
    Create {
        /// E-mail.
        email: String,
        /// Role.
        #[arg(long, value_parser = ["admin", "operator", "viewer"], default_value = "operator")]
        role: String,
    },
    /// Set a user's password (read from FINTECH_PASSWORD or the first line of stdin).
    Password {
        /// User id (`usr_…`).
        user: String,
    },
}

#[derive(clap::Args)]
struct LimitArgs {
    /// Most one payment may be (e.g. 500 or 500USD).
    #[arg(long)]
    max_per_payment: Option<String>,
    /// Most spent per UTC day.
    #[arg(long)]
    max_per_day: Option<String>,
    /// Largest order notional.
    #[arg(long)]
    max_order_notional: Option<String>,
    /// Above this, payments and orders wait for approval.
    #[arg(long)]
    approval_threshold: Option<String>,
    /// Over MCP, money moves up to this run without a confirmation step.
    #[arg(long)]
    confirm_above: Option<String>,
    /// Currency of the amounts above.
    #[arg(long, default_value = "USD")]
    currency: String,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Create a key; the secret is printed once.
    Create {
        /// A label.
        #[arg(long)]
        name: String,
        /// Scopes (banking:read, payments:write, approvals:write, admin …).
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// List keys (prefix and last use; never secrets).
    List,
    /// Revoke a key.
    Revoke {
        /// Key id (`key_…`).
        id: String,
    },
    /// Replace a key's limits.
    Limits {
        /// Key id (`key_…`).
        id: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Requests per UTC day of a key.
    Usage {
        /// Key id (`key_…`).
        id: String,
    },
}

#[derive(Subcommand)]
enum BankingCmd {
    /// Link a sandbox institution (no Link UI).
    Link {
        /// Institution id.
        #[arg(long, default_value = "ins_109508")]
        institution: String,
    },
    /// Linked items.
    Items,
    /// Accounts and balances.
    Accounts {
        /// Only this item.
        #[arg(long)]
        item: Option<String>,
    },
    /// Sync an item's transactions from the provider.
    Sync {
        /// Item id (`itm_…`).
        item: String,
    },
    /// Remove a linked item, at the provider and here.
    ///
    /// Its accounts and transactions stop listing and it can no longer be synced. Removing a
    /// removed item shows it again.
    RemoveItem {
        /// Item id (`itm_…`).
        item: String,
    },
    /// Stored transactions, newest first.
    Transactions {
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// On or after (YYYY-MM-DD).
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// On or before (YYYY-MM-DD).
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
        /// Merchant or description contains this (case-insensitive).
        #[arg(long)]
        merchant: Option<String>,
        /// Category equals this (case-insensitive).
        #[arg(long)]
        category: Option<String>,
        /// Amount at least this (major units; positive is money out).
        #[arg(long, allow_hyphen_values = true)]
        min_amount: Option<rust_decimal::Decimal>,
        /// Amount at most this.
        #[arg(long, allow_hyphen_values = true)]
        max_amount: Option<rust_decimal::Decimal>,
        /// Continue after this transaction id (the last one of the previous page).
        #[arg(long)]
        after: Option<String>,
        /// At most this many (1 to 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum PaymentCmd {
    /// Charge a tokenized payment method.
    Create {
        /// Amount (exact decimal, e.g. 12.34).
        #[arg(long)]
        amount: String,
        /// Currency.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Payment method token (pm_…); never a card number.
        #[arg(long, default_value = "pm_card_visa")]
        payment_method: String,
        /// Payee.
        #[arg(long)]
        payee: Option<String>,
        /// Statement text.
        #[arg(long)]
        description: Option<String>,
        /// The customer paying (`cus_…`).
        #[arg(long)]
        customer: Option<String>,
        /// `manual`: authorize and hold the funds (requires_capture) until `payments capture`.
        #[arg(long, default_value = "automatic", value_parser = ["automatic", "manual"])]
        capture: String,
        /// Idempotency key (generated and printed when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Capture an authorized payment (created with `--capture manual`), in full or in part.
    Capture {
        /// Payment id.
        id: String,
        /// Amount (default: all that was authorized).
        #[arg(long)]
        amount: Option<String>,
        /// Idempotency key (generated and printed when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// The balance at the payments provider, per currency.
    Balance,
    /// A payment.
    Get {
        /// Payment id (`pay_…`).
        id: String,
    },
    /// Payments, newest first.
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Cancel a held or processing payment.
    Cancel {
        /// Payment id.
        id: String,
    },
}

#[derive(Subcommand)]
enum CustomerCmd {
    /// Create a customer at the payments provider.
    Create {
        /// Contact e-mail.
        #[arg(long)]
        email: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Idempotency key (generated and printed when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// A customer.
    Get {
        /// Customer id (`cus_…`).
        id: String,
    },
    /// Attach a tokenized payment method (pm_…) to a customer; never a card number.
    Attach {
        /// Customer id.
        id: String,
        /// Payment method token.
        #[arg(long)]
        payment_method: String,
    },
    /// Payment methods attached to a customer.
    Methods {
        /// Customer id.
        id: String,
    },
}

#[derive(Subcommand)]
enum RefundCmd {
    /// Refund part or all of a payment.
    Create {
        /// Payment id.
        payment: String,
        /// Amount (default: what is left).
        #[arg(long)]
        amount: Option<String>,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Idempotency key (generated and printed when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Subcommand)]
enum TradingCmd {
    /// Cash, buying power, equity and mode.
    Account,
    /// Open positions.
    Positions,
    /// Latest quote.
    Quote {
        /// Symbol.
        symbol: String,
    },
    /// An asset: name, exchange, status, and what the broker allows.
    ///
    /// Tradable, fractionable, shortable, marginable, easy to borrow.
    Asset {
        /// Symbol.
        symbol: String,
    },
    /// Market clock.
    Clock,
    /// Orders.
    #[command(subcommand)]
    Orders(OrderCmd),
}

#[derive(Subcommand)]
enum OrderCmd {
    /// Place an order.
    Place {
        /// Symbol.
        symbol: String,
        /// buy or sell.
        #[arg(long, value_parser = ["buy", "sell"])]
        side: String,
        /// Shares.
        #[arg(long)]
        qty: Decimal,
        /// market, limit, stop, stop_limit.
        #[arg(long, default_value = "market")]
        r#type: String,
        /// day, gtc, ioc, fok, opg, cls.
        #[arg(long, default_value = "day")]
        tif: String,
        /// Limit price (USD).
        #[arg(long)]
        limit_price: Option<String>,
        /// Stop price (USD).
        #[arg(long)]
        stop_price: Option<String>,
        /// Idempotency key (generated and printed when absent).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// An order (refreshed from the broker).
    Get {
        /// Order id (`ord_…`).
        id: String,
    },
    /// Orders, newest first.
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Cancel an order.
    Cancel {
        /// Order id.
        id: String,
    },
}

#[derive(Subcommand)]
enum ApprovalCmd {
    /// Held payments and orders.
    List,
    /// Approve a held payment (`pay_…`) or order (`ord_…`).
    Approve {
        /// Id.
        id: String,
        /// Comment for the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a held payment or order.
    Reject {
        /// Id.
        id: String,
        /// Comment for the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
}

#[derive(Subcommand)]
enum FraudCmd {
    /// Rule sets.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Review cases.
    #[command(subcommand)]
    Cases(CaseCmd),
}

#[derive(Subcommand)]
enum RulesCmd {
    /// The active rule set (its source on stdout with --output table).
    Show {
        /// A stored version instead of the active one.
        #[arg(long)]
        version: Option<i64>,
    },
    /// Load and activate a rule file (TOML, or JSON with --format json).
    Load {
        /// The file (see docs/fraud.md).
        file: std::path::PathBuf,
        /// Source format.
        #[arg(long, value_parser = ["toml", "json"], default_value = "toml")]
        format: String,
    },
    /// Load a rule file with every rule in shadow mode: recorded on assessments, never
    /// enforced, so operators see what it would have done.
    Shadow {
        /// The file (TOML).
        file: std::path::PathBuf,
    },
    /// Replay rules over labelled history and report precision, recall and volume flagged.
    Backtest {
        /// Rule file to try (default: the active rule set).
        #[arg(long)]
        rules: Option<std::path::PathBuf>,
        /// Labelled transactions as CSV (default: the tenant's stored history).
        #[arg(long)]
        csv: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum CaseCmd {
    /// Cases, newest first.
    List {
        /// open, approved or rejected.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// A case with the rules that hit and the values they saw.
    Show {
        /// Case id (`fcs_…`).
        id: String,
    },
    /// Approve: the held operation proceeds, exactly once.
    Approve {
        /// Case id.
        id: String,
        /// Why (required; kept in the audit log).
        #[arg(long)]
        comment: String,
    },
    /// Reject: the held operation is cancelled; money never moves.
    Reject {
        /// Case id.
        id: String,
        /// Why (required; kept in the audit log).
        #[arg(long)]
        comment: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Audit records after a sequence number.
    List {
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Verify the hash chain; exit 5 and name the first bad record when broken.
    Verify,
    /// Every record as JSON lines (for archiving).
    Export,
}

#[derive(Subcommand)]
enum EventCmd {
    /// Events after a sequence number.
    List {
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Follow new events (JSON lines) until interrupted.
    Tail {
        /// Start after this sequence number (default: the latest).
        #[arg(long)]
        after: Option<i64>,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Print the effective configuration, secrets redacted.
    Show,
}

fn usage(msg: impl Into<String>) -> Error {
    Error::validation("arguments", msg.into())
}

fn money(amount: &str, currency: &str) -> fintech_core::Result<Money> {
    let amount = amount.trim();
    let (num, cur) = match amount.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&amount[..i], &amount[i..]),
        None => (amount, currency),
    };
    Money::parse(num.trim(), cur.trim())
}

fn limits(a: &LimitArgs) -> fintech_core::Result<KeyLimits> {
    let m = |v: &Option<String>| v.as_deref().map(|s| money(s, &a.currency)).transpose();
    Ok(KeyLimits {
        max_per_payment: m(&a.max_per_payment)?,
        max_per_day: m(&a.max_per_day)?,
        max_order_notional: m(&a.max_order_notional)?,
        approval_threshold: m(&a.approval_threshold)?,
        confirm_above: m(&a.confirm_above)?,
    })
}

/// An amount typed on the command line, in the currency of the payment it applies to.
async fn in_payment_currency(
    p: &Platform,
    op: &Principal,
    payment: &PaymentId,
    amount: &Option<String>,
) -> Result<Option<Money>, Error> {
    match amount {
        Some(a) => {
            let currency = p.payment(op, payment).await?.amount.currency();
            Ok(Some(money(a, currency.code())?))
        }
        None => Ok(None),
    }
}

fn idem(key: &Option<String>) -> String {
    let k = key
        .clone()
        .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4()));
    eprintln!("idempotency key: {k}");
    k
}

async fn platform_with(cli: &Cli, sim: Arc<SimProviders>) -> fintech_core::Result<Platform> {
    if let Some(path) = &cli.config {
        std::env::set_var("FINTECH_CONFIG", path);
    }
    let mut config = Config::load()?;
    if let Some(url) = &cli.database_url {
        config.database_url = url.clone();
    }
    let providers = fintech_providers::from_env_with(sim)?;
    Platform::builder(config)
        .with_providers(Arc::new(providers))
        .build()
        .await
}

async fn operator(cli: &Cli, p: &Platform) -> fintech_core::Result<Principal> {
    if let Some(key) = &cli.api_key {
        return p.authenticate(key, Interface::Cli).await;
    }
    let tenant = match &cli.tenant {
        Some(t) => {
            let id = TenantId::parse(t)?;
            let principal = Principal::system(id, Interface::Cli);
            p.tenant(&principal).await?;
            return Ok(principal);
        }
        None => {
            let all = p.tenants().await?;
            match all.len() {
                0 => return Err(Error::not_found("tenant", "(none: run `fintech init`)")),
                _ => all
                    .into_iter()
                    .min_by_key(|t| t.created_at)
                    .map(|t| t.id)
                    .ok_or_else(|| Error::internal("tenant list"))?,
            }
        }
    };
    Ok(Principal::system(tenant, Interface::Cli))
}

fn payment_rows(ps: &[fintech_core::payments::Payment]) -> Vec<Vec<String>> {
    ps.iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.status.as_str().into(),
                p.amount.to_string(),
                p.amount_refunded.to_string(),
                opt(&p.payee),
                opt(&p.failure_code),
                p.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect()
}
const CUSTOMER_HEADERS: &[&str] = &["ID", "EMAIL", "NAME", "PROVIDER ID", "CREATED"];

fn customer_rows(cs: &[fintech_core::payments::Customer]) -> Vec<Vec<String>> {
    cs.iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                opt(&c.email),
                opt(&c.name),
                c.provider_customer_id.clone(),
                c.created_at.to_rfc3339(),
            ]
        })
        .collect()
}

const METHOD_HEADERS: &[&str] = &["ID", "TYPE", "BRAND", "LAST4", "EXPIRES"];

fn method_rows(ms: &[fintech_core::payments::PaymentMethod]) -> Vec<Vec<String>> {
    ms.iter()
        .map(|m| {
            let card = m.card.as_ref();
            vec![
                m.id.clone(),
                m.kind.clone(),
                card.map(|c| c.brand.clone()).unwrap_or_else(|| "-".into()),
                card.map(|c| c.last4.clone()).unwrap_or_else(|| "-".into()),
                card.map(|c| format!("{:02}/{}", c.exp_month, c.exp_year))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect()
}

const PAYMENT_HEADERS: &[&str] = &[
    "ID", "STATUS", "AMOUNT", "REFUNDED", "PAYEE", "FAILURE", "CREATED",
];

fn order_rows(os: &[fintech_core::trading::Order]) -> Vec<Vec<String>> {
    os.iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                o.status.to_string(),
                o.side.to_string(),
                o.symbol.clone(),
                o.qty.to_string(),
                o.order_type.to_string(),
                o.filled_qty.to_string(),
                opt(&o.filled_avg_price),
            ]
        })
        .collect()
}
const ORDER_HEADERS: &[&str] = &[
    "ID",
    "STATUS",
    "SIDE",
    "SYMBOL",
    "QTY",
    "TYPE",
    "FILLED",
    "AVG PRICE",
];

async fn run(cli: Cli) -> fintech_core::Result<()> {
    let fmt = Format::resolve(cli.output);
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "fintech",
            &mut std::io::stdout(),
        );
        return Ok(());
    }
    let sim = Arc::new(SimProviders::new());
    let p = platform_with(&cli, sim.clone()).await?;
    match &cli.command {
        Command::Completions { .. } => {}
        Command::Init { tenant_name } => {
            let t = p.create_tenant(tenant_name, Interface::Cli).await?;
            show(
                fmt,
                &t,
                &["TENANT", "NAME"],
                vec![vec![t.id.to_string(), t.name.clone()]],
            );
        }
        Command::Migrate => {
            p.store().migrate().await?;
            eprintln!("migrations applied");
        }
        Command::Config(ConfigCmd::Show) => {
            let mut config = Config::load()?;
            if let Some(url) = &cli.database_url {
                config.database_url = url.clone();
            }
            let v = serde_json::json!({
                "database_url": fintech_core::config::redact_url(&config.database_url),
                "encryption_key": config.encryption_key.as_ref().map(|_| "[redacted]"),
                "max_connections": config.max_connections,
                "providers": "simulated",
            });
            show(
                fmt,
                &v,
                &["SETTING", "VALUE"],
                v.as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| {
                                vec![k.clone(), v.to_string().trim_matches('"').to_owned()]
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            );
        }
        Command::Tenants(TenantCmd::List) => {
            let ts = p.tenants().await?;
            let rows = ts
                .iter()
                .map(|t| vec![t.id.to_string(), t.name.clone(), t.created_at.to_rfc3339()])
                .collect();
            show(fmt, &ts, &["ID", "NAME", "CREATED"], rows);
        }
        Command::Tenants(TenantCmd::Create { name }) => {
            let t = p.create_tenant(name, Interface::Cli).await?;
            show(
                fmt,
                &t,
                &["ID", "NAME"],
                vec![vec![t.id.to_string(), t.name.clone()]],
            );
        }
        Command::Trigger { event } => {
            let op = operator(&cli, &p).await?;
            trigger(&p, &sim, &op, event, fmt).await?;
        }
        Command::Listen { forward_to, events } => {
            let op = operator(&cli, &p).await?;
            listen(&p, &op, forward_to, events).await?;
        }
        Command::Op(args) => {
            let op = operator(&cli, &p).await?;
            cmd::op::run(&p, &op, args, fmt).await?;
        }
        cmd => {
            let op = operator(&cli, &p).await?;
            tenant_command(&p, &op, cmd, fmt).await?;
        }
    }
    p.store().close().await;
    Ok(())
}

async fn tenant_command(
    p: &Platform,
    op: &Principal,
    cmd: &Command,
    fmt: Format,
) -> fintech_core::Result<()> {
    match cmd {
        Command::Users(UserCmd::List) => {
            let us = p.users(op).await?;
            let rows = us
                .iter()
                .map(|u| vec![u.id.to_string(), u.email.clone(), u.role.as_str().into()])
                .collect();
            show(fmt, &us, &["ID", "EMAIL", "ROLE"], rows);
        }
        Command::Users(UserCmd::Create { email, role }) => {
            let u = p.create_user(op, email, Role::parse(role)?).await?;
            show(
                fmt,
                &u,
                &["ID", "EMAIL", "ROLE"],
                vec![vec![
                    u.id.to_string(),
                    u.email.clone(),
                    u.role.as_str().into(),
                ]],
            );
        }
        Command::Users(UserCmd::Password { user }) => {
            let password = match std::env::var("FINTECH_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| usage(format!("reading the password from stdin: {e}")))?;
                    line.trim_end_matches(['\n', '\r']).to_owned()
                }
            };
            p.set_user_password(op, &UserId::parse(user)?, &password)
                .await?;
            eprintln!("password set");
        }
        Command::Keys(KeyCmd::Create {
            name,
            scopes,
            limits: l,
        }) => {
            let scopes = scopes
                .iter()
                .map(|s| Scope::parse(s.trim()))
                .collect::<fintech_core::Result<BTreeSet<_>>>()?;
            let created = p
                .create_api_key(
                    op,
                    NewApiKey {
                        name: name.clone(),
                        scopes,
                        limits: limits(l)?,
                    },
                )
                .await?;
            eprintln!("the secret is shown once; store it now");
            show(
                fmt,
                &created,
                &["ID", "SECRET"],
                vec![vec![created.key.id.to_string(), created.secret.clone()]],
            );
        }
        Command::Keys(KeyCmd::List) => {
            let ks = p.api_keys(op).await?;
            let rows = ks
                .iter()
                .map(|k| {
                    let scopes: Vec<_> = k.scopes.iter().map(|s| s.as_str()).collect();
                    vec![
                        k.id.to_string(),
                        k.name.clone(),
                        k.prefix.clone(),
                        scopes.join(","),
                        opt(&k
                            .last_used_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())),
                        if k.revoked_at.is_some() {
                            "revoked".into()
                        } else {
                            "active".into()
                        },
                    ]
                })
                .collect();
            show(
                fmt,
                &ks,
                &["ID", "NAME", "PREFIX", "SCOPES", "LAST USED", "STATE"],
                rows,
            );
        }
        Command::Keys(KeyCmd::Revoke { id }) => {
            p.revoke_api_key(op, &ApiKeyId::parse(id)?).await?;
            eprintln!("revoked {id}");
        }
        Command::Keys(KeyCmd::Limits { id, limits: l }) => {
            let k = p
                .set_key_limits(op, &ApiKeyId::parse(id)?, limits(l)?)
                .await?;
            show(
                fmt,
                &k,
                &["ID", "LIMITS"],
                vec![vec![
                    k.id.to_string(),
                    serde_json::to_string(&k.limits).unwrap_or_default(),
                ]],
            );
        }
        Command::Keys(KeyCmd::Usage { id }) => {
            let usage = p.api_key_usage(op, &ApiKeyId::parse(id)?).await?;
            let rows = usage
                .iter()
                .map(|u| vec![u.day.clone(), u.requests.to_string()])
                .collect();
            show(fmt, &usage, &["DAY", "REQUESTS"], rows);
        }
        Command::Banking(BankingCmd::Link { institution }) => {
            let token = p.sandbox_public_token(op, institution).await?;
            let item = p.link_item(op, &token, None).await?;
            show(
                fmt,
                &item,
                &["ITEM", "INSTITUTION"],
                vec![vec![item.id.to_string(), item.institution_name.clone()]],
            );
        }
        Command::Banking(BankingCmd::Items) => {
            let items = p.items(op).await?;
            let rows = items
                .iter()
                .map(|i| {
                    vec![
                        i.id.to_string(),
                        i.institution_name.clone(),
                        i.provider.clone(),
                    ]
                })
                .collect();
            show(fmt, &items, &["ITEM", "INSTITUTION", "PROVIDER"], rows);
        }
        Command::Banking(BankingCmd::Accounts { item }) => {
            let item = item.as_deref().map(ItemId::parse).transpose()?;
            let accts = p.bank_accounts(op, item.as_ref()).await?;
            let rows = accts
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.name.clone(),
                        opt(&a.mask),
                        a.kind.as_str().into(),
                        a.current.to_string(),
                        opt(&a.available),
                    ]
                })
                .collect();
            show(
                fmt,
                &accts,
                &["ID", "NAME", "MASK", "TYPE", "CURRENT", "AVAILABLE"],
                rows,
            );
        }
        Command::Banking(BankingCmd::Sync { item }) => {
            let item = ItemId::parse(item)?;
            let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let progress = move |s: fintech_core::platform::SyncProgress| {
                let n = s.changes;
                if tty {
                    eprint!("\rsyncing… {n} changes");
                } else {
                    eprintln!("synced {n} changes");
                }
            };
            let summary = p.sync_transactions(op, &item, Some(&progress)).await?;
            if tty {
                eprintln!();
            }
            show(
                fmt,
                &summary,
                &["ADDED", "MODIFIED", "REMOVED", "PAGES"],
                vec![vec![
                    summary.added.to_string(),
                    summary.modified.to_string(),
                    summary.removed.to_string(),
                    summary.pages.to_string(),
                ]],
            );
        }
        Command::Banking(BankingCmd::RemoveItem { item }) => {
            let item = ItemId::parse(item)?;
            let i = p.remove_item(op, &item).await?;
            show(
                fmt,
                &i,
                &["ITEM", "INSTITUTION", "PROVIDER", "REMOVED AT"],
                vec![vec![
                    i.id.to_string(),
                    i.institution_name.clone(),
                    i.provider.clone(),
                    i.removed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                ]],
            );
        }
        Command::Banking(BankingCmd::Transactions {
            account,
            since,
            until,
            merchant,
            category,
            min_amount,
            max_amount,
            after,
            limit,
        }) => {
            let q = TransactionQuery {
                account_id: account
                    .as_deref()
                    .map(fintech_core::id::BankAccountId::parse)
                    .transpose()?,
                start_date: *since,
                end_date: *until,
                merchant: merchant.clone(),
                category: category.clone(),
                min_amount: *min_amount,
                max_amount: *max_amount,
                starting_after: after
                    .as_deref()
                    .map(fintech_core::id::TransactionId::parse)
                    .transpose()?,
                limit: Some(*limit),
            };
            let txns = p.bank_transactions(op, &q).await?;
            let rows = txns
                .iter()
                .map(|t| {
                    vec![
                        t.date.to_string(),
                        t.amount.to_string(),
                        t.name.clone(),
                        opt(&t.category),
                        if t.pending {
                            "pending".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            show(
                fmt,
                &txns,
                &["DATE", "AMOUNT", "NAME", "CATEGORY", ""],
                rows,
            );
        }
        Command::Payments(PaymentCmd::Create {
            amount,
            currency,
            payment_method,
            payee,
            description,
            customer,
            capture,
            idempotency_key,
        }) => {
            let req = NewPayment {
                amount: money(amount, currency)?,
                payment_method: payment_method.clone(),
                customer_id: customer.as_deref().map(CustomerId::parse).transpose()?,
                payee: payee.clone(),
                description: description.clone(),
                capture_method: Some(CaptureMethod::parse(capture)?),
            };
            let pay = p
                .create_payment(op, req, Some(idem(idempotency_key)))
                .await?;
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
            if pay.status.is_held() {
                eprintln!("held for approval: fintech approvals approve {}", pay.id);
            }
        }
        Command::Payments(PaymentCmd::Get { id }) => {
            let pay = p.payment(op, &PaymentId::parse(id)?).await?;
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
        Command::Payments(PaymentCmd::List { status, limit }) => {
            let q = PaymentQuery {
                status: status.as_deref().map(PaymentStatus::parse).transpose()?,
                before: None,
                limit: Some(*limit),
            };
            let ps = p.payments(op, &q).await?;
            show(fmt, &ps, PAYMENT_HEADERS, payment_rows(&ps));
        }
        Command::Payments(PaymentCmd::Capture {
            id,
            amount,
            idempotency_key,
        }) => {
            let payment_id = PaymentId::parse(id)?;
            let amount = in_payment_currency(p, op, &payment_id, amount).await?;
            let pay = p
                .capture_payment(op, &payment_id, amount, Some(idem(idempotency_key)))
                .await?;
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
        Command::Payments(PaymentCmd::Balance) => {
            let b = p.payments_balance(op).await?;
            let rows = b
                .iter()
                .map(|b| {
                    vec![
                        b.available.currency().code().to_owned(),
                        b.available.amount().to_string(),
                        b.pending.amount().to_string(),
                    ]
                })
                .collect();
            show(fmt, &b, &["CURRENCY", "AVAILABLE", "PENDING"], rows);
        }
        Command::Customers(CustomerCmd::Create {
            email,
            name,
            idempotency_key,
        }) => {
            let c = p
                .create_customer(
                    op,
                    NewCustomer {
                        email: email.clone(),
                        name: name.clone(),
                    },
                    Some(idem(idempotency_key)),
                )
                .await?;
            show(
                fmt,
                &c,
                CUSTOMER_HEADERS,
                customer_rows(std::slice::from_ref(&c)),
            );
        }
        Command::Customers(CustomerCmd::Get { id }) => {
            let c = p.customer(op, &CustomerId::parse(id)?).await?;
            show(
                fmt,
                &c,
                CUSTOMER_HEADERS,
                customer_rows(std::slice::from_ref(&c)),
            );
        }
        Command::Customers(CustomerCmd::Attach { id, payment_method }) => {
            let m = p
                .attach_payment_method(
                    op,
                    &CustomerId::parse(id)?,
                    AttachPaymentMethod {
                        payment_method: payment_method.clone(),
                    },
                    None,
                )
                .await?;
            show(
                fmt,
                &m,
                METHOD_HEADERS,
                method_rows(std::slice::from_ref(&m)),
            );
        }
        Command::Customers(CustomerCmd::Methods { id }) => {
            let ms = p.payment_methods(op, &CustomerId::parse(id)?).await?;
            show(fmt, &ms, METHOD_HEADERS, method_rows(&ms));
        }
        Command::Payments(PaymentCmd::Cancel { id }) => {
            let pay = p.cancel_payment(op, &PaymentId::parse(id)?).await?;
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
        Command::Refunds(RefundCmd::Create {
            payment,
            amount,
            reason,
            idempotency_key,
        }) => {
            let payment_id = PaymentId::parse(payment)?;
            let amount = in_payment_currency(p, op, &payment_id, amount).await?;
            let r = p
                .create_refund(
                    op,
                    NewRefund {
                        payment_id,
                        amount,
                        reason: reason.clone(),
                    },
                    Some(idem(idempotency_key)),
                )
                .await?;
            show(
                fmt,
                &r,
                &["REFUND", "PAYMENT", "AMOUNT", "STATUS"],
                vec![vec![
                    r.id.to_string(),
                    r.payment_id.to_string(),
                    r.amount.to_string(),
                    r.status.as_str().into(),
                ]],
            );
        }
        Command::Trading(TradingCmd::Account) => {
            let a = p.brokerage_account(op).await?;
            show(
                fmt,
                &a,
                &["ACCOUNT", "CASH", "BUYING POWER", "EQUITY", "MODE"],
                vec![vec![
                    a.account_number.clone(),
                    a.cash.to_string(),
                    a.buying_power.to_string(),
                    a.equity.to_string(),
                    a.mode.to_string(),
                ]],
            );
        }
        Command::Trading(TradingCmd::Positions) => {
            let ps = p.positions(op).await?;
            let rows = ps
                .iter()
                .map(|x| {
                    vec![
                        x.symbol.clone(),
                        x.qty.to_string(),
                        x.avg_entry_price.to_string(),
                        x.current_price.to_string(),
                        x.market_value.to_string(),
                        x.unrealized_pl.to_string(),
                    ]
                })
                .collect();
            show(
                fmt,
                &ps,
                &[
                    "SYMBOL",
                    "QTY",
                    "AVG ENTRY",
                    "PRICE",
                    "VALUE",
                    "UNREALIZED P/L",
                ],
                rows,
            );
        }
        Command::Trading(TradingCmd::Quote { symbol }) => {
            let q = p.quote(op, symbol).await?;
            show(
                fmt,
                &q,
                &["SYMBOL", "BID", "ASK", "AT"],
                vec![vec![
                    q.symbol.clone(),
                    q.bid.to_string(),
                    q.ask.to_string(),
                    q.at.to_rfc3339(),
                ]],
            );
        }
        Command::Trading(TradingCmd::Asset { symbol }) => {
            let a = p.asset(op, symbol).await?;
            let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
            show(
                fmt,
                &a,
                &[
                    "SYMBOL",
                    "NAME",
                    "EXCHANGE",
                    "CLASS",
                    "STATUS",
                    "TRADABLE",
                    "FRACTIONABLE",
                    "SHORTABLE",
                    "MARGINABLE",
                    "EASY TO BORROW",
                ],
                vec![vec![
                    a.symbol.clone(),
                    a.name.clone(),
                    a.exchange.clone(),
                    a.asset_class.as_str().into(),
                    a.status.as_str().into(),
                    yes(a.tradable),
                    yes(a.fractionable),
                    yes(a.shortable),
                    yes(a.marginable),
                    yes(a.easy_to_borrow),
                ]],
            );
        }
        Command::Trading(TradingCmd::Clock) => {
            let c = p.market_clock(op).await?;
            show(
                fmt,
                &c,
                &["NOW", "OPEN", "NEXT OPEN", "NEXT CLOSE"],
                vec![vec![
                    c.timestamp.to_rfc3339(),
                    c.is_open.to_string(),
                    c.next_open.to_rfc3339(),
                    c.next_close.to_rfc3339(),
                ]],
            );
        }
        Command::Trading(TradingCmd::Orders(OrderCmd::Place {
            symbol,
            side,
            qty,
            r#type,
            tif,
            limit_price,
            stop_price,
            idempotency_key,
        })) => {
            let req = OrderRequest {
                symbol: symbol.to_ascii_uppercase(),
                side: OrderSide::parse(side)?,
                qty: *qty,
                order_type: OrderType::parse(r#type)?,
                time_in_force: TimeInForce::parse(tif)?,
                limit_price: limit_price
                    .as_deref()
                    .map(|v| money(v, "USD"))
                    .transpose()?,
                stop_price: stop_price.as_deref().map(|v| money(v, "USD")).transpose()?,
            };
            let o = p.place_order(op, req, Some(idem(idempotency_key))).await?;
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
        Command::Trading(TradingCmd::Orders(OrderCmd::Get { id })) => {
            let o = p.order(op, &OrderId::parse(id)?).await?;
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
        Command::Trading(TradingCmd::Orders(OrderCmd::List { status, limit })) => {
            let q = OrderQuery {
                status: status.as_deref().map(OrderStatus::parse).transpose()?,
                before: None,
                limit: Some(*limit),
            };
            let os = p.orders(op, &q).await?;
            show(fmt, &os, ORDER_HEADERS, order_rows(&os));
        }
        Command::Trading(TradingCmd::Orders(OrderCmd::Cancel { id })) => {
            let o = p.cancel_order(op, &OrderId::parse(id)?).await?;
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
        Command::Approvals(ApprovalCmd::List) => {
            let payments = p.held_payments(op).await?;
            let orders = p.held_orders(op).await?;
            let v = serde_json::json!({"payments": payments, "orders": orders});
            let mut rows: Vec<Vec<String>> = payments
                .iter()
                .map(|x| {
                    vec![
                        x.id.to_string(),
                        x.status.as_str().into(),
                        x.amount.to_string(),
                        x.created_by.clone(),
                    ]
                })
                .collect();
            rows.extend(orders.iter().map(|o| {
                vec![
                    o.id.to_string(),
                    o.status.to_string(),
                    format!("{} {} {}", o.side, o.qty, o.symbol),
                    o.created_by.clone(),
                ]
            }));
            show(fmt, &v, &["ID", "STATUS", "WHAT", "REQUESTED BY"], rows);
        }
        Command::Approvals(ApprovalCmd::Approve { id, comment })
        | Command::Approvals(ApprovalCmd::Reject { id, comment }) => {
            let approve = matches!(cmd, Command::Approvals(ApprovalCmd::Approve { .. }));
            if id.starts_with("pay_") {
                let pid = PaymentId::parse(id)?;
                let pay = if approve {
                    p.approve_payment(op, &pid, comment.clone()).await?
                } else {
                    p.reject_payment(op, &pid, comment.clone()).await?
                };
                show(
                    fmt,
                    &pay,
                    PAYMENT_HEADERS,
                    payment_rows(std::slice::from_ref(&pay)),
                );
            } else if id.starts_with("ord_") {
                let oid = OrderId::parse(id)?;
                let o = if approve {
                    p.approve_order(op, &oid, comment.clone()).await?
                } else {
                    p.reject_order(op, &oid, comment.clone()).await?
                };
                show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
            } else {
                return Err(usage("expected a payment (pay_…) or order (ord_…) id"));
            }
        }
        Command::Fraud(FraudCmd::Rules(cmd)) => fraud_rules(p, op, cmd, fmt).await?,
        Command::Fraud(FraudCmd::Cases(cmd)) => {
            let cases = match cmd {
                CaseCmd::List { status, limit } => {
                    let q = fintech_core::platform::CaseQuery {
                        status: status
                            .as_deref()
                            .map(fintech_core::fraud::CaseStatus::parse)
                            .transpose()?,
                        limit: Some(*limit),
                    };
                    p.fraud_cases(op, &q).await?
                }
                CaseCmd::Show { id } => vec![
                    p.fraud_case(op, &fintech_core::id::CaseId::parse(id)?)
                        .await?,
                ],
                CaseCmd::Approve { id, comment } => {
                    vec![
                        p.approve_fraud_case(
                            op,
                            &fintech_core::id::CaseId::parse(id)?,
                            comment.clone(),
                        )
                        .await?,
                    ]
                }
                CaseCmd::Reject { id, comment } => {
                    vec![
                        p.reject_fraud_case(
                            op,
                            &fintech_core::id::CaseId::parse(id)?,
                            comment.clone(),
                        )
                        .await?,
                    ]
                }
            };
            let rows = cases
                .iter()
                .map(|c| {
                    let hits: Vec<_> = c
                        .assessment
                        .hits
                        .iter()
                        .map(|h| format!("{}: {}", h.rule, h.reason))
                        .collect();
                    vec![
                        c.id.to_string(),
                        c.status.as_str().into(),
                        c.object_id.clone(),
                        c.assessment.score.to_string(),
                        hits.join("; "),
                    ]
                })
                .collect();
            if matches!(cmd, CaseCmd::List { .. }) {
                show(
                    fmt,
                    &cases,
                    &["CASE", "STATUS", "OBJECT", "SCORE", "REASONS"],
                    rows,
                );
            } else if let Some(c) = cases.first() {
                show(
                    fmt,
                    c,
                    &["CASE", "STATUS", "OBJECT", "SCORE", "REASONS"],
                    rows,
                );
            }
        }
        Command::Audit(AuditCmd::List { after, limit }) => {
            let rs = p
                .audit_log(
                    op,
                    LogQuery {
                        after: *after,
                        limit: Some(*limit),
                    },
                )
                .await?;
            let rows = rs
                .iter()
                .map(|r| {
                    vec![
                        r.seq.to_string(),
                        r.entry.actor.clone(),
                        r.entry.interface.clone(),
                        r.entry.action.clone(),
                        r.entry.object_id.clone(),
                        r.entry.outcome.clone(),
                    ]
                })
                .collect();
            show(
                fmt,
                &rs,
                &["SEQ", "ACTOR", "VIA", "ACTION", "OBJECT", "OUTCOME"],
                rows,
            );
        }
        Command::Audit(AuditCmd::Verify) => {
            let v = p.verify_audit(op).await?;
            show(
                fmt,
                &v,
                &["RECORDS", "INTACT"],
                vec![vec![v.records.to_string(), v.is_ok().to_string()]],
            );
            if let Some(b) = v.first_bad {
                return Err(Error::conflict(
                    fintech_core::ConflictCode::InvalidState,
                    format!("audit chain broken at record {}: {}", b.seq, b.reason),
                ));
            }
        }
        Command::Audit(AuditCmd::Export) => {
            let mut after = 0;
            loop {
                let page = p
                    .audit_log(
                        op,
                        LogQuery {
                            after,
                            limit: Some(500),
                        },
                    )
                    .await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for r in &page {
                    println!("{}", serde_json::to_string(r).unwrap_or_default());
                }
            }
        }
        Command::Events(EventCmd::List { after, limit }) => {
            let es = p
                .events(
                    op,
                    LogQuery {
                        after: *after,
                        limit: Some(*limit),
                    },
                )
                .await?;
            let rows = es
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.event_type.clone(),
                        e.object_id.clone(),
                        e.created_at.to_rfc3339(),
                    ]
                })
                .collect();
            show(fmt, &es, &["SEQ", "TYPE", "OBJECT", "AT"], rows);
        }
        Command::Events(EventCmd::Tail { after }) => {
            let mut after = match after {
                Some(a) => *a,
                None => {
                    // Start at the end of the log.
                    let mut last = 0;
                    loop {
                        let page = p
                            .events(
                                op,
                                LogQuery {
                                    after: last,
                                    limit: Some(500),
                                },
                            )
                            .await?;
                        match page.last() {
                            Some(e) => last = e.seq,
                            None => break last,
                        }
                    }
                }
            };
            loop {
                let page = p
                    .events(
                        op,
                        LogQuery {
                            after,
                            limit: Some(500),
                        },
                    )
                    .await?;
                for e in &page {
                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                    after = e.seq;
                }
                if page.is_empty() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        _ => return Err(usage("unsupported command")),
    }
    Ok(())
}

fn read_file(path: &std::path::Path) -> fintech_core::Result<String> {
    std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read {}: {e}", path.display())))
}

async fn fraud_rules(
    p: &Platform,
    op: &Principal,
    cmd: &RulesCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    use fintech_core::fraud::RuleFormat;
    let stored = match cmd {
        RulesCmd::Show { version: Some(v) } => p.fraud_rules_version(op, *v).await?,
        RulesCmd::Show { version: None } => p.fraud_rules(op).await?.ok_or_else(|| {
            Error::not_found("rule_set", "(none loaded: every operation is allowed)")
        })?,
        RulesCmd::Load { file, format } => {
            let format = if format == "json" {
                RuleFormat::Json
            } else {
                RuleFormat::Toml
            };
            p.set_fraud_rules(op, &read_file(file)?, format).await?
        }
        RulesCmd::Shadow { file } => {
            let mut doc: toml::Table = read_file(file)?
                .parse()
                .map_err(|e| Error::validation("rules", format!("not TOML: {e}")))?;
            if let Some(rules) = doc.get_mut("rule").and_then(|r| r.as_array_mut()) {
                for rule in rules.iter_mut().filter_map(|r| r.as_table_mut()) {
                    rule.insert("shadow".into(), toml::Value::Boolean(true));
                }
            }
            let source = toml::to_string(&doc).map_err(|e| Error::internal(e.to_string()))?;
            p.set_fraud_rules(op, &source, RuleFormat::Toml).await?
        }
        RulesCmd::Backtest { rules, csv } => {
            let rules = match rules {
                Some(f) => fintech_core::platform::BacktestRules::Source {
                    source: read_file(f)?,
                    format: RuleFormat::Toml,
                },
                None => fintech_core::platform::BacktestRules::Active,
            };
            let report = match csv {
                Some(f) => p.backtest_csv(op, &rules, &read_file(f)?).await?,
                None => p.backtest_stored(op, &rules).await?,
            };
            let opt_dec = |d: &Option<rust_decimal::Decimal>| {
                d.map(|d| d.to_string()).unwrap_or_else(|| "-".into())
            };
            show(
                fmt,
                &report,
                &[
                    "TXNS",
                    "FRAUD",
                    "REVIEWED",
                    "BLOCKED",
                    "PRECISION",
                    "RECALL",
                ],
                vec![vec![
                    report.transactions.to_string(),
                    report.labelled_fraud.to_string(),
                    report.reviewed.to_string(),
                    report.blocked.to_string(),
                    opt_dec(&report.precision),
                    opt_dec(&report.recall),
                ]],
            );
            return Ok(());
        }
    };
    match fmt {
        Format::Json => show(fmt, &stored, &[], vec![]),
        Format::Table => {
            eprintln!(
                "rule set version {} ({}), loaded by {} at {}",
                stored.version,
                if stored.format == RuleFormat::Json {
                    "json"
                } else {
                    "toml"
                },
                stored.created_by,
                stored.created_at.to_rfc3339()
            );
            println!("{}", stored.source);
        }
    }
    Ok(())
}

async fn trigger(
    p: &Platform,
    sim: &SimProviders,
    op: &Principal,
    event: &str,
    fmt: Format,
) -> fintech_core::Result<()> {
    let pay = |pm: &str, amount: &str| NewPayment {
        amount: Money::parse(amount, "USD")
            .unwrap_or_else(|_| Money::zero(fintech_core::Currency::USD)),
        payment_method: pm.to_owned(),
        customer_id: None,
        payee: Some("Triggered Test Merchant".into()),
        description: Some(format!("fintech trigger {event}")),
        capture_method: None,
    };
    match event {
        "payment.succeeded" | "payment.failed" => {
            let pm = if event == "payment.succeeded" {
                "pm_card_visa"
            } else {
                "pm_card_chargeDeclined"
            };
            let pay = p.create_payment(op, pay(pm, "25.00"), None).await?;
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
        "payment.held" => {
            // Held needs an approval threshold: a short-lived key with one, used once.
            let key = p
                .create_api_key(
                    op,
                    NewApiKey {
                        name: "fintech trigger".into(),
                        scopes: BTreeSet::from([Scope::PaymentsWrite, Scope::PaymentsRead]),
                        limits: KeyLimits {
                            approval_threshold: Some(Money::from_minor(
                                100,
                                fintech_core::Currency::USD,
                            )),
                            ..Default::default()
                        },
                    },
                )
                .await?;
            let agent = p.authenticate(&key.secret, Interface::Cli).await?;
            let held = p
                .create_payment(&agent, pay("pm_card_visa", "25.00"), None)
                .await;
            p.revoke_api_key(op, &key.key.id).await?;
            let held = held?;
            show(
                fmt,
                &held,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&held)),
            );
        }
        "order.filled" => {
            let req = OrderRequest {
                symbol: "AAPL".into(),
                side: OrderSide::Buy,
                qty: Decimal::ONE,
                order_type: OrderType::Market,
                time_in_force: TimeInForce::Day,
                limit_price: None,
                stop_price: None,
            };
            let o = p.place_order(op, req, None).await?;
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
        "transactions.updated" => {
            let items = p.items(op).await?;
            if items.is_empty() {
                return Err(Error::not_found(
                    "item",
                    "(none: run `fintech banking link`)",
                ));
            }
            let mut rows = Vec::new();
            for item in &items {
                // Catch up, let a simulated day pass, and sync what it brought.
                p.sync_transactions(op, &item.id, None).await?;
                sim.banking_sim(&op.tenant_id).advance();
                let s = p.sync_transactions(op, &item.id, None).await?;
                rows.push(vec![
                    item.id.to_string(),
                    s.added.to_string(),
                    s.modified.to_string(),
                    s.removed.to_string(),
                ]);
            }
            show(
                fmt,
                &rows,
                &["ITEM", "ADDED", "MODIFIED", "REMOVED"],
                rows.clone(),
            );
        }
        "fraud.case_opened" => {
            if p.fraud_rules(op).await?.is_none() {
                return Err(Error::not_found(
                    "rule_set",
                    "(none active: load one first, e.g. `fintech fraud rules load fintech-core/rules/starter.toml`)",
                ));
            }
            // Card testing: small charges on one card until the rules hold one for review.
            for _ in 0..12 {
                let pay = p
                    .create_payment(op, pay("pm_card_visa", "4.99"), None)
                    .await;
                match pay {
                    Ok(pay) if pay.status == PaymentStatus::PendingReview => {
                        let cases = p
                            .fraud_cases(
                                op,
                                &fintech_core::platform::CaseQuery {
                                    status: Some(fintech_core::fraud::CaseStatus::Open),
                                    limit: Some(1),
                                },
                            )
                            .await?;
                        show(
                            fmt,
                            &cases,
                            &["CASE", "OBJECT"],
                            cases
                                .iter()
                                .map(|c| vec![c.id.to_string(), c.object_id.clone()])
                                .collect(),
                        );
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Limit => {
                        return Err(usage(format!(
                            "the active rules block before they review: {e}"
                        )));
                    }
                    Err(e) => return Err(e),
                }
            }
            return Err(usage(
                "the active rules opened no case after 12 small charges on one card",
            ));
        }
        other => return Err(usage(format!("unknown event {other}"))),
    }
    Ok(())
}

async fn listen(
    p: &Platform,
    op: &Principal,
    url: &str,
    types: &[String],
) -> fintech_core::Result<()> {
    let target = reqwest::Url::parse(url).map_err(|e| usage(format!("--forward-to: {e}")))?;
    let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
    eprintln!("forwarding events to {target}; signing secret for this session: {secret}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::internal(format!("http client: {e}")))?;
    let mut after = 0;
    loop {
        let page = p
            .events(
                op,
                LogQuery {
                    after,
                    limit: Some(500),
                },
            )
            .await?;
        match page.last() {
            Some(e) => after = e.seq,
            None => break,
        }
    }
    loop {
        let page = p
            .events(
                op,
                LogQuery {
                    after,
                    limit: Some(100),
                },
            )
            .await?;
        for e in &page {
            after = e.seq;
            if !types.is_empty() && !types.contains(&e.event_type) {
                continue;
            }
            let body = serde_json::to_string(e).map_err(|err| Error::internal(err.to_string()))?;
            let sig = fintech_core::webhooks::sign(
                &secret,
                chrono::Utc::now().timestamp(),
                body.as_bytes(),
            );
            let res = client
                .post(target.clone())
                .header("content-type", "application/json")
                .header(fintech_core::webhooks::SIGNATURE_HEADER, sig)
                .header(fintech_core::webhooks::EVENT_ID_HEADER, e.id.as_str())
                .body(body)
                .send()
                .await;
            match res {
                Ok(r) => eprintln!("--> {} {} [{}]", e.event_type, e.id, r.status().as_u16()),
                Err(err) => eprintln!(
                    "--> {} {} [failed: {}]",
                    e.event_type,
                    e.id,
                    err.without_url()
                ),
            }
        }
        if page.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::Validation => 2,
                ErrorKind::Unauthenticated | ErrorKind::Forbidden => 3,
                ErrorKind::NotFound => 4,
                ErrorKind::Conflict | ErrorKind::Limit => 5,
                ErrorKind::Provider => 6,
                _ => 1,
            })
        }
    }
}
