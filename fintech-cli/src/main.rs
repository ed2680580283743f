//! `fintech`: the operator command line. Thin: parse flags, build a `Platform` from the one
//! `Config`, act as the chosen tenant's operator (interface `cli`, so every change is audited
//! as coming from here), print a table or JSON.
//!
//! Exit codes: 0 ok, 2 usage or invalid input, 3 authentication/permission, 4 not found,
//! 5 conflict, held or over a limit, 6 provider, 1 anything else.

#[macro_use]
mod output;
mod cmd;

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
use fintech_core::platform::{LogQuery, MoveDecision, NewApiKey, OrderQuery, PaymentQuery};
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
    /// The double-entry ledger: balances, and the check that it agrees with itself.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    /// Copy the SQLite database to a file while it stays in use (admin; PostgreSQL is backed
    /// up with pg_dump). The encryption key is not in the copy: keep it apart.
    Backup {
        /// The file to write (must not exist).
        #[arg(long)]
        to: std::path::PathBuf,
    },
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
    /// AP2 payment mandates: verify a presented chain (decoded, with its verdict and reason).
    #[command(subcommand)]
    Mandates(MandateCmd),
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
enum MandateCmd {
    /// Verify a presented mandate chain against trusted issuer keys, audience, nonce and time;
    /// print it decoded and the verdict; exit 3 on a refusal.
    Verify(cmd::mandates::VerifyArgs),
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
    /// Show the tenant's settings, or change them (admin; every change is audited).
    Settings {
        /// Let a single operator approve the payments and orders they created themselves
        /// (off by default: a second person approves; API keys never approve their own).
        #[arg(long)]
        allow_self_approval: Option<bool>,
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
    /// Money moves above this need a confirmation token (every interface; over MCP, all of
    /// them when unset).
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
        /// Show what would happen (the decision core makes) and do nothing.
        #[arg(long)]
        preview: bool,
        /// The confirmation token a previous run printed: executes exactly that request once.
        #[arg(long, value_name = "TOKEN")]
        confirm: Option<String>,
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
        /// Show what would happen and do nothing.
        #[arg(long)]
        preview: bool,
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
        /// Show what would happen (the decision core makes) and do nothing.
        #[arg(long)]
        preview: bool,
        /// The confirmation token a previous run printed: executes exactly that request once.
        #[arg(long, value_name = "TOKEN")]
        confirm: Option<String>,
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
        /// Show what would happen (the decision core makes) and do nothing.
        #[arg(long)]
        preview: bool,
        /// The confirmation token a previous run printed: executes exactly that request once.
        #[arg(long, value_name = "TOKEN")]
        confirm: Option<String>,
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
    /// Load and activate a rule file (TOML, or JSON with --format json), or the starter set.
    Load {
        /// The file (see docs/fraud.md).
        #[arg(required_unless_present = "starter", conflicts_with = "starter")]
        file: Option<std::path::PathBuf>,
        /// The starter rule set shipped in this binary (card testing, velocity, structuring,
        /// large amounts, sanctioned countries, order checks; docs/fraud.md).
        #[arg(long)]
        starter: bool,
        /// Source format.
        #[arg(long, value_parser = ["toml", "json"], default_value = "toml")]
        format: String,
    },
    /// Load a rule file with every rule in shadow mode: recorded on assessments, never
    /// enforced, so operators see what it would have done.
    ///
    /// It replaces the active rule set: until another is loaded, nothing is held or blocked.
    /// Asks to confirm on a terminal; scripts pass --yes.
    Shadow {
        /// The file (TOML).
        file: std::path::PathBuf,
        /// Replace the enforced rules without asking (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
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
enum LedgerCmd {
    /// Balances per account and currency, derived from the postings.
    Balances,
    /// Check that every journal entry balances and agrees with the payment, refund or order
    /// it records; exit 5 and name what disagrees otherwise.
    Verify,
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

/// Shows a money move's decision: what it would do, why, and whether it needs confirmation.
fn show_decision(fmt: Format, d: &MoveDecision) -> fintech_core::Result<()> {
    show(
        fmt,
        d,
        &["OPERATION", "STATUS", "AMOUNT", "CONFIRM", "SUMMARY"],
        vec![vec![
            d.operation.clone(),
            d.status.to_string(),
            d.amount.to_string(),
            if d.confirmation_required {
                "required"
            } else {
                "no"
            }
            .to_owned(),
            d.summary.clone(),
        ]],
    );
    if fmt == Format::Table {
        for r in &d.reasons {
            eprintln!("reason: {r}");
        }
    }
    if let Some(token) = &d.confirmation_token {
        eprintln!(
            "to execute it: {} --confirm {token}",
            command_line(&["--preview"])
        );
    }
    Ok(())
}

/// This process's command line without `drop` flags, quoted for a POSIX shell.
fn command_line(drop: &[&str]) -> String {
    std::env::args()
        .filter(|a| !drop.contains(&a.as_str()))
        .filter(|a| !a.starts_with("--confirm"))
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn idem(key: &Option<String>) -> String {
    let k = key
        .clone()
        .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4()));
    note!("idempotency key: {k}");
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
                p.amount_captured.to_string(),
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
    "ID", "STATUS", "AMOUNT", "CAPTURED", "REFUNDED", "PAYEE", "FAILURE", "CREATED",
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

/// Said once, where a database is set up, so nobody assumes screening is on.
const NO_RULES_NOTICE: &str = "no fraud rules are active: every payment and order is allowed; load the starter set with `fintech fraud rules load --starter` (docs/fraud.md)";

/// What to do about a payment held by `pay`, for the person who just created it.
async fn held_hint(p: &Platform, op: &Principal, pay: &fintech_core::payments::Payment) -> String {
    let id = &pay.id;
    let why = if pay.status == PaymentStatus::PendingReview {
        "held for fraud review"
    } else {
        "held for approval (over the key's approval threshold)"
    };
    if pay.created_by != op.actor.to_string() {
        return format!("{why}: approve with `fintech approvals approve {id}`");
    }
    let self_ok = !matches!(op.actor, fintech_core::Actor::ApiKey(_))
        && p.tenant_settings(op)
            .await
            .is_ok_and(|s| s.allow_self_approval);
    if self_ok {
        return format!(
            "{why}: this tenant allows self-approval, so `fintech approvals approve {id}` (audited as approved by its creator)"
        );
    }
    let as_key = if matches!(op.actor, fintech_core::Actor::ApiKey(_)) {
        format!("the operator approves it without this key: `fintech approvals approve {id}` (unset FINTECH_API_KEY / --api-key)")
    } else {
        format!(
            "a second person must approve it (whoever created a hold cannot approve it): add one with `fintech users create EMAIL --role operator` (they approve over HTTP or MCP), or give one a key with `fintech keys create --name approver --scopes approvals:write,payments:read` to run `fintech --api-key fk_… approvals approve {id}`; a single-operator tenant can allow self-approval: `fintech tenants settings --allow-self-approval true` (audited)"
        )
    };
    format!("{why}: {as_key}")
}

/// `fintech config show`: the effective configuration, secrets redacted.
fn show_config(cli: &Cli, fmt: Format) -> fintech_core::Result<()> {
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
                    .map(|(k, v)| vec![k.clone(), v.to_string().trim_matches('"').to_owned()])
                    .collect()
            })
            .unwrap_or_default(),
    );
    Ok(())
}

async fn run(cli: Cli) -> fintech_core::Result<()> {
    let fmt = Format::resolve(cli.output);
    if let Command::Completions { shell } = &cli.command {
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut Cli::command(), "fintech", &mut script);
        output::bytes(&script);
        return Ok(());
    }
    if let Command::Mandates(MandateCmd::Verify(args)) = &cli.command {
        // needs no database: everything it checks is in the arguments
        return cmd::mandates::verify(args, fmt);
    }
    let sim = Arc::new(SimProviders::new());
    let p = platform_with(&cli, sim.clone()).await?;
    match &cli.command {
        Command::Completions { .. } | Command::Mandates(_) => {}
        Command::Init { tenant_name } => {
            let t = p.init_tenant(tenant_name, Interface::Cli).await?;
            show(
                fmt,
                &t,
                &["TENANT", "NAME"],
                vec![vec![t.id.to_string(), t.name.clone()]],
            );
            let op = Principal::system(t.id.clone(), Interface::Cli);
            if p.fraud_rules(&op).await?.is_none() {
                note!("{NO_RULES_NOTICE}");
            }
        }
        Command::Migrate => {
            p.migrate().await?;
            note!("migrations applied");
        }
        Command::Config(ConfigCmd::Show) => show_config(&cli, fmt)?,
        Command::Tenants(TenantCmd::List) => {
            let ts = p.tenants().await?;
            let rows = ts
                .iter()
                .map(|t| vec![t.id.to_string(), t.name.clone(), t.created_at.to_rfc3339()])
                .collect();
            show(fmt, &ts, &["ID", "NAME", "CREATED"], rows);
        }
        Command::Tenants(TenantCmd::Settings {
            allow_self_approval,
        }) => {
            let op = operator(&cli, &p).await?;
            let settings = match allow_self_approval {
                Some(v) => {
                    p.set_tenant_settings(
                        &op,
                        fintech_core::tenancy::TenantSettings {
                            allow_self_approval: *v,
                        },
                    )
                    .await?
                }
                None => p.tenant_settings(&op).await?,
            };
            show(
                fmt,
                &settings,
                &["SETTING", "VALUE"],
                vec![vec![
                    "allow_self_approval".into(),
                    settings.allow_self_approval.to_string(),
                ]],
            );
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
            cmd::trigger::trigger(&p, &sim, &op, event, fmt).await?;
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
    p.close().await;
    Ok(())
}

async fn tenant_command(
    p: &Platform,
    op: &Principal,
    cmd: &Command,
    fmt: Format,
) -> fintech_core::Result<()> {
    match cmd {
        Command::Users(c) => crate::cmd::tenancy::users(p, op, c, fmt).await?,
        Command::Keys(c) => crate::cmd::tenancy::keys(p, op, c, fmt).await?,
        Command::Banking(c) => crate::cmd::banking::banking(p, op, c, fmt).await?,
        Command::Payments(c) => crate::cmd::payments::payments(p, op, c, fmt).await?,
        Command::Customers(c) => crate::cmd::payments::customers(p, op, c, fmt).await?,
        Command::Refunds(c) => crate::cmd::payments::refunds(p, op, c, fmt).await?,
        Command::Trading(c) => crate::cmd::trading::trading(p, op, c, fmt).await?,
        Command::Approvals(c) => crate::cmd::approvals::approvals(p, op, c, fmt).await?,
        Command::Fraud(c) => crate::cmd::approvals::fraud(p, op, c, fmt).await?,
        Command::Audit(c) => crate::cmd::logs::audit(p, op, c, fmt).await?,
        Command::Ledger(c) => crate::cmd::logs::ledger(p, op, c, fmt).await?,
        Command::Backup { to } => crate::cmd::logs::backup(p, op, to, fmt).await?,
        Command::Events(c) => crate::cmd::logs::events(p, op, c, fmt).await?,
        _ => return Err(usage("unsupported command")),
    }
    Ok(())
}

/// `fraud rules shadow` replaces what is enforced: say so, and go on only when confirmed.
async fn confirm_shadow(p: &Platform, op: &Principal, yes: bool) -> fintech_core::Result<()> {
    let active = p.fraud_rules(op).await?;
    let Some(active) = active else {
        return Ok(()); // nothing enforced now, nothing turned off
    };
    let warning = format!(
        "this replaces the active rule set (version {}) with one that enforces nothing: until another set is loaded, no payment or order is held for review or blocked",
        active.version
    );
    if yes {
        note!("warning: {warning}");
        return Ok(());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(usage(format!(
            "{warning}; pass --yes to do it without a terminal to confirm on"
        )));
    }
    note!("warning: {warning}");
    {
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), "turn enforcement off? [y/N] ");
    }
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| usage(format!("reading the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(usage("not confirmed; the active rules stay enforced"))
    }
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
        RulesCmd::Load {
            file,
            starter,
            format,
        } => match (file, starter) {
            (Some(file), false) => {
                let format = if format == "json" {
                    RuleFormat::Json
                } else {
                    RuleFormat::Toml
                };
                p.set_fraud_rules(op, &read_file(file)?, format, None)
                    .await?
                    .into_value()
            }
            _ => p
                .set_fraud_rules(
                    op,
                    fintech_core::fraud::STARTER_RULES,
                    RuleFormat::Toml,
                    None,
                )
                .await?
                .into_value(),
        },
        RulesCmd::Shadow { file, yes } => {
            confirm_shadow(p, op, *yes).await?;
            let mut doc: toml::Table = read_file(file)?
                .parse()
                .map_err(|e| Error::validation("rules", format!("not TOML: {e}")))?;
            if let Some(rules) = doc.get_mut("rule").and_then(|r| r.as_array_mut()) {
                for rule in rules.iter_mut().filter_map(|r| r.as_table_mut()) {
                    rule.insert("shadow".into(), toml::Value::Boolean(true));
                }
            }
            let source = toml::to_string(&doc).map_err(|e| Error::internal(e.to_string()))?;
            p.set_fraud_rules(op, &source, RuleFormat::Toml, None)
                .await?
                .into_value()
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
                Some(f) => p
                    .backtest_csv(op, &rules, &read_file(f)?, None)
                    .await?
                    .into_value(),
                None => p.backtest_stored(op, &rules, None).await?.into_value(),
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
            note!(
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
            out!("{}", stored.source);
        }
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
    note!("forwarding events to {target}; signing secret for this session: {secret}");
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
                Ok(r) => note!("--> {} {} [{}]", e.event_type, e.id, r.status().as_u16()),
                Err(err) => note!(
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
        Err(Error::ConfirmationRequired(d)) => {
            // core decided this move needs the caller's confirmation: show what it would do
            // and how to confirm it (nothing was done)
            println!(
                "{}",
                serde_json::to_string_pretty(&d).unwrap_or_else(|_| "null".into())
            );
            eprintln!("confirmation required: {}", d.summary);
            for r in &d.reasons {
                eprintln!("reason: {r}");
            }
            if let Some(token) = &d.confirmation_token {
                eprintln!("to execute it: {} --confirm {token}", command_line(&[]));
            }
            ExitCode::from(5)
        }
        Err(e) => {
            note!("error: {e}");
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
