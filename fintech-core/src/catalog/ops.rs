//! The operations, in a stable order (by domain). Each entry is the whole description of an
//! operation: to add one, add an entry here and its `Platform` method (docs/ARCHITECTURE.md).

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{json, Value};

use super::args::*;
#[cfg(feature = "openapi")]
use super::schema::{
    balances_output, many, money_move, one, one_or_null, order_output, public_token_output,
};
use super::{parse_args, write, Invoke, Method, Operation, Serve, LIVE, READ};
use crate::banking::{BankAccount, SpendingGroup, SpendingQuery, TransactionQuery};
use crate::fraud::CaseStatus;
use crate::id::{
    ApiKeyId, BankAccountId, CaseId, CustomerId, ItemId, OrderId, PaymentId, TransactionId,
    WebhookEndpointId,
};
use crate::payments::{
    AttachPaymentMethod, CaptureMethod, NewCustomer, NewPayment, NewRefund, PaymentStatus,
};
use crate::platform::{CaseQuery, Executed, LogQuery, OrderQuery, PaymentQuery};
use crate::trading::{BarTimeframe, OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce};
use crate::{Error, Money, Platform, Principal, Result, Scope};

#[cfg(feature = "openapi")]
use crate::{
    audit::{AuditRecord, AuditVerification},
    banking::{BankTransaction, LinkToken, LinkedItem, SpendingBucket, SyncSummary},
    events::Event,
    fraud::{Assessment, FraudCase, StoredRuleSet},
    ledger::AccountBalance,
    payments::{Customer, Payment, PaymentMethod, ProviderBalance, Refund},
    platform::{PaymentTimeline, WhoAmI},
    tenancy::{ApiKeyRecord, KeyUsage, Tenant, User},
    trading::{Asset, BrokerageAccount, MarketClock, Order, Position, Quote},
    trading::{Bar, Fill},
    webhooks::{WebhookDelivery, WebhookEndpoint},
};

/// Output fields that carry provider-originated free text.
const BANK_TEXT: &[&str] = &["name", "merchant_name", "category", "institution_name"];
const PAYMENT_TEXT: &[&str] = &["failure_message", "payee", "description"];
const ORDER_TEXT: &[&str] = &["reject_reason"];
const ASSET_TEXT: &[&str] = &["name"];

/// One descriptor. `input` is the argument type (its schema and its parser); `invoke` the body
/// of the invoker, with the parsed arguments bound to the given pattern.
macro_rules! op {
    (
        name: $name:literal, title: $title:literal, description: $description:literal,
        http: $method:ident $path:literal $(id = $id:literal)?,
        scope: $scope:expr, moves_money: $moves:literal, effect: $effect:expr,
        untrusted: $untrusted:expr, rest: $rest:ident, mcp: $mcp:ident,
        input: $input:ty, output: $output:expr,
        invoke: |$pl:ident, $p:ident, $x:pat_param $(, $key:ident)?| $body:block $(,)?
    ) => {
        Operation {
            name: $name,
            title: $title,
            description: $description,
            method: Method::$method,
            path: $path,
            path_id: op!(@id $($id)?),
            scope: $scope,
            moves_money: $moves,
            effect: $effect,
            untrusted: $untrusted,
            rest: Serve::$rest,
            mcp: Serve::$mcp,
            #[cfg(feature = "schema")]
            input_schema: super::schema::input::<$input>,
            #[cfg(feature = "openapi")]
            output_schema: $output,
            invoke: {
                fn invoke<'a>(
                    $pl: &'a Platform,
                    $p: &'a Principal,
                    args: Value,
                    op!(@key $($key)?): Option<String>,
                ) -> BoxFuture<'a, Result<Executed<Value>>> {
                    Box::pin(async move {
                        let $x: $input = parse_args(args)?;
                        let out = $body;
                        out.map(Into::into)
                    })
                }
                invoke as Invoke
            },
        }
    };
    (@id $id:literal) => { Some($id) };
    (@id) => { None };
    (@key $key:ident) => { $key };
    (@key) => { _ };
}

/// `{key: value}`.
fn keyed(key: &str, value: impl Serialize) -> Result<Value> {
    let value = serde_json::to_value(value).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Value::Object(
        [(key.to_owned(), value)].into_iter().collect(),
    ))
}

/// `{key: value}` of an executed operation, keeping whether it was replayed.
fn executed(key: &str, value: Executed<impl Serialize>) -> Result<Executed<Value>> {
    Ok(Executed {
        replayed: value.replayed,
        value: keyed(key, value.value)?,
    })
}

/// The result of an executed money move: `{status: "executed", <key>: value, replayed}`.
fn money_moved(key: &str, value: Executed<impl Serialize>) -> Result<Executed<Value>> {
    let replayed = value.replayed;
    let mut v = executed(key, value)?;
    v.value["status"] = json!("executed");
    v.value["replayed"] = json!(replayed);
    Ok(v)
}

/// `{key: items, next_cursor}`: the cursor is the last item's id when the page is full.
fn page<T: Serialize>(key: &str, items: Vec<T>, limit: u32, id: fn(&T) -> String) -> Result<Value> {
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(id))
        .flatten();
    let mut v = keyed(key, items)?;
    v["next_cursor"] = json!(next);
    Ok(v)
}

/// An id argument: one that does not parse is a validation error naming the argument.
fn id<T>(parse: fn(&str) -> Result<T>, field: &str, raw: &str) -> Result<T> {
    parse(raw).map_err(|e| match e {
        Error::Validation { message, .. } => Error::validation(field, message),
        other => other,
    })
}

fn opt_id<T>(parse: fn(&str) -> Result<T>, field: &str, raw: &Option<String>) -> Result<Option<T>> {
    raw.as_deref().map(|r| id(parse, field, r)).transpose()
}

fn decimal(raw: &Option<String>, field: &str) -> Result<Option<rust_decimal::Decimal>> {
    raw.as_deref()
        .map(|s| {
            s.parse::<rust_decimal::Decimal>()
                .map_err(|_| Error::validation(field, format!("{s:?} is not a decimal number")))
        })
        .transpose()
}

/// An amount in the currency of an existing payment.
async fn in_payment_currency(
    pl: &Platform,
    p: &Principal,
    payment: &PaymentId,
    amount: &Option<String>,
) -> Result<Option<Money>> {
    match amount {
        None => Ok(None),
        Some(s) => {
            let currency = pl.payment(p, payment).await?.amount.currency();
            Money::parse(s, currency.code()).map(Some)
        }
    }
}

/// Totals per currency of a set of accounts (available falls back to current).
pub fn totals(accounts: &[BankAccount]) -> Result<Vec<Value>> {
    let mut sums: BTreeMap<&'static str, (Money, Money)> = BTreeMap::new();
    for a in accounts {
        let c = a.current.currency();
        let entry = sums
            .entry(c.code())
            .or_insert_with(|| (Money::zero(c), Money::zero(c)));
        entry.0 = entry.0.checked_add(&a.current)?;
        entry.1 = entry
            .1
            .checked_add(a.available.as_ref().unwrap_or(&a.current))?;
    }
    Ok(sums
        .into_iter()
        .map(|(code, (current, available))| {
            json!({ "currency": code, "current": current, "available": available })
        })
        .collect())
}

/// The request of `payments_create` (and of `fraud_assess`, without the capture method).
fn new_payment(x: &PaymentCreateArgs) -> Result<NewPayment> {
    Ok(NewPayment {
        amount: Money::parse(&x.amount, &x.currency)?,
        payment_method: x.payment_method.clone(),
        customer_id: opt_id(CustomerId::parse, "customer_id", &x.customer_id)?,
        payee: x.payee.clone(),
        description: x.description.clone(),
        capture_method: x
            .capture_method
            .as_deref()
            .map(CaptureMethod::parse)
            .transpose()?,
        confirmation_token: None,
    })
}

/// The request of `trading_order_place`: the symbol upper-cased, prices in USD.
fn order_request(x: &OrderPlaceArgs) -> Result<OrderRequest> {
    let usd = |s: &Option<String>| s.as_deref().map(|v| Money::parse(v, "USD")).transpose();
    Ok(OrderRequest {
        symbol: x.symbol.to_uppercase(),
        side: OrderSide::parse(&x.side)?,
        qty: decimal(&Some(x.qty.clone()), "qty")?.unwrap_or_default(),
        order_type: OrderType::parse(&x.order_type)?,
        time_in_force: TimeInForce::parse(&x.time_in_force)?,
        limit_price: usd(&x.limit_price)?,
        stop_price: usd(&x.stop_price)?,
        confirmation_token: None,
    })
}

/// Every operation, in a stable order.
pub static OPERATIONS: &[Operation] = &[
    // ------------------------------------------------------------------ keys
    op! {
        name: "whoami", title: "Who am I",
        description: "The tenant, scopes and limits of this key, what remains of the daily limit today, and whether each provider is simulated, sandbox/paper or live (real money). Call this first.",
        http: Get "/v1/whoami", scope: None, moves_money: false, effect: READ, untrusted: &[],
        rest: Custom, mcp: Generic, input: NoArgs, output: || one::<WhoAmI>("whoami"),
        invoke: |pl, p, _| { keyed("whoami", pl.whoami(p).await?) },
    },
    // ------------------------------------------------------------------ banking
    op! {
        name: "banking_link_start", title: "Start a bank link",
        description: "Creates a link token to start linking a bank (Plaid Link or the simulator).",
        http: Post "/v1/banking/link_tokens", scope: Some(Scope::BankingWrite), moves_money: false,
        effect: write(false, false), untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || one::<LinkToken>("link_token"),
        invoke: |pl, p, _, key| { executed("link_token", pl.create_link_token(p, &p.actor.to_string(), key).await?) },
    },
    op! {
        name: "banking_sandbox_public_token", title: "Sandbox public token",
        description: "Sandbox and simulator only: a public token for an institution, skipping the Link UI.",
        http: Post "/v1/banking/sandbox/public_tokens", scope: Some(Scope::BankingWrite), moves_money: false,
        effect: write(false, false), untrusted: &[], rest: Custom, mcp: Generic,
        input: SandboxTokenArgs, output: public_token_output,
        invoke: |pl, p, x, key| { executed("public_token", pl.sandbox_public_token(p, &x.institution_id, key).await?) },
    },
    op! {
        name: "banking_link_complete", title: "Complete a bank link",
        description: "Exchanges a public token and stores the linked item and its accounts.",
        http: Post "/v1/banking/items", scope: Some(Scope::BankingWrite), moves_money: false,
        effect: write(false, false), untrusted: BANK_TEXT, rest: Custom, mcp: Generic,
        input: LinkCompleteArgs, output: || one::<LinkedItem>("item"),
        invoke: |pl, p, x, key| { executed("item", pl.link_item(p, &x.public_token, key).await?) },
    },
    op! {
        name: "banking_items", title: "Linked items", description: "Linked bank items (institutions).",
        http: Get "/v1/banking/items", scope: Some(Scope::BankingRead), moves_money: false,
        effect: READ, untrusted: BANK_TEXT, rest: Custom, mcp: Generic,
        input: NoArgs, output: || many::<LinkedItem>("items", false),
        invoke: |pl, p, _| { keyed("items", pl.items(p).await?) },
    },
    op! {
        name: "banking_accounts", title: "Bank accounts",
        description: "Bank accounts with their current and available balances as of the last sync.",
        http: Get "/v1/accounts", scope: Some(Scope::BankingRead), moves_money: false,
        effect: READ, untrusted: BANK_TEXT, rest: Custom, mcp: Generic,
        input: AccountsArgs, output: || many::<BankAccount>("accounts", false),
        invoke: |pl, p, x| {
            let item = opt_id(ItemId::parse, "item_id", &x.item_id)?;
            keyed("accounts", pl.bank_accounts(p, item.as_ref()).await?)
        },
    },
    op! {
        name: "banking_balances", title: "Balances",
        description: "Current and available balances per account, and their totals per currency.",
        http: Get "/v1/banking/balances", scope: Some(Scope::BankingRead), moves_money: false,
        effect: READ, untrusted: BANK_TEXT, rest: Generic, mcp: Generic,
        input: NoArgs, output: balances_output,
        invoke: |pl, p, _| {
            let accounts = pl.bank_accounts(p, None).await?;
            Ok(json!({ "totals": totals(&accounts)?, "accounts": accounts }))
        },
    },
    op! {
        name: "banking_sync", title: "Sync transactions",
        description: "Pulls every transaction change of a linked item from the provider (all pages). Reports progress; safe to cancel and to run again (an interrupted sync resumes).",
        http: Post "/v1/banking/items/{id}/sync" id = "item_id", scope: Some(Scope::BankingWrite),
        moves_money: false, effect: write(false, true), untrusted: &[], rest: Custom, mcp: Custom,
        input: ItemArgs, output: || one::<SyncSummary>("summary"),
        invoke: |pl, p, x, key| {
            let item = id(ItemId::parse, "item_id", &x.item_id)?;
            executed("summary", pl.sync_transactions(p, &item, None, key).await?)
        },
    },
    op! {
        name: "banking_remove_item", title: "Remove a linked item",
        description: "Disconnects a linked bank: removes the item at the provider (its access token stops working, billing ends) and here; its accounts and transactions stop listing and it can no longer be synced. Cannot be undone (link the bank again instead). Removing a removed item answers it again.",
        http: Delete "/v1/banking/items/{id}" id = "item_id", scope: Some(Scope::BankingWrite),
        moves_money: false, effect: write(true, true), untrusted: BANK_TEXT, rest: Custom, mcp: Generic,
        input: ItemArgs, output: || one::<LinkedItem>("item"),
        invoke: |pl, p, x, key| {
            let item = id(ItemId::parse, "item_id", &x.item_id)?;
            executed("item", pl.remove_item(p, &item, key).await?)
        },
    },
    op! {
        name: "banking_transactions", title: "Search transactions",
        description: "Stored bank transactions, newest first, filtered by account, dates, merchant, category and amount range, with cursor pagination.",
        http: Get "/v1/transactions", scope: Some(Scope::BankingRead), moves_money: false,
        effect: READ, untrusted: BANK_TEXT, rest: Custom, mcp: Generic,
        input: TransactionArgs, output: || many::<BankTransaction>("transactions", true),
        invoke: |pl, p, x| {
            let limit = x.limit.unwrap_or(50);
            let q = TransactionQuery {
                account_id: opt_id(BankAccountId::parse, "account_id", &x.account_id)?,
                start_date: x.start_date,
                end_date: x.end_date,
                merchant: x.merchant,
                category: x.category,
                min_amount: decimal(&x.min_amount, "min_amount")?,
                max_amount: decimal(&x.max_amount, "max_amount")?,
                starting_after: opt_id(TransactionId::parse, "cursor", &x.cursor)?,
                limit: Some(limit),
            };
            page("transactions", pl.bank_transactions(p, &q).await?, limit, |t| t.id.to_string())
        },
    },
    op! {
        name: "banking_spending_summary", title: "Spending summary",
        description: "Posted outflows in a date range grouped by category or merchant, largest first.",
        http: Get "/v1/spending", scope: Some(Scope::BankingRead), moves_money: false,
        effect: READ, untrusted: &["key"], rest: Custom, mcp: Generic,
        input: SpendingArgs, output: || many::<SpendingBucket>("buckets", false),
        invoke: |pl, p, x| {
            let q = SpendingQuery {
                account_id: opt_id(BankAccountId::parse, "account_id", &x.account_id)?,
                start_date: x.start_date,
                end_date: x.end_date,
                group_by: match x.group_by {
                    GroupBy::Category => SpendingGroup::Category,
                    GroupBy::Merchant => SpendingGroup::Merchant,
                },
            };
            keyed("buckets", pl.spending_summary(p, &q).await?)
        },
    },
    // ------------------------------------------------------------------ payments
    op! {
        name: "payments_customer_create", title: "Create a customer",
        description: "Creates a customer at the payments provider.",
        http: Post "/v1/customers", scope: Some(Scope::PaymentsWrite), moves_money: false,
        effect: write(false, false), untrusted: &[], rest: Custom, mcp: Generic,
        input: CustomerCreateArgs, output: || one::<Customer>("customer"),
        invoke: |pl, p, x, key| {
            let c = NewCustomer { email: x.email, name: x.name };
            executed("customer", pl.create_customer(p, c, key).await?)
        },
    },
    op! {
        name: "payments_customer_get", title: "Get a customer", description: "One customer.",
        http: Get "/v1/customers/{id}" id = "customer_id", scope: Some(Scope::PaymentsRead),
        moves_money: false, effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: CustomerArgs, output: || one::<Customer>("customer"),
        invoke: |pl, p, x| {
            let cid = id(CustomerId::parse, "customer_id", &x.customer_id)?;
            keyed("customer", pl.customer(p, &cid).await?)
        },
    },
    op! {
        name: "payments_create", title: "Create a payment",
        description: "Charges a tokenized payment method. Two steps: without confirmation_token it returns a preview (amount, fraud assessment, limits left, what will happen) and a token; call again with identical arguments plus the token to execute once. Large payments may be held for an operator's approval or a fraud review.",
        http: Post "/v1/payments", scope: Some(Scope::PaymentsWrite), moves_money: true,
        effect: write(true, false), untrusted: PAYMENT_TEXT, rest: Custom, mcp: Custom,
        input: PaymentCreateArgs, output: || money_move::<Payment>("payment"),
        invoke: |pl, p, x, key| {
            let req = new_payment(&x)?;
            let r = pl.create_payment(p, req, x.idempotency_key.or(key)).await?;
            money_moved("payment", r)
        },
    },
    op! {
        name: "payments_get", title: "Get a payment",
        description: "One payment with its status and fraud assessment.",
        http: Get "/v1/payments/{id}" id = "payment_id", scope: Some(Scope::PaymentsRead),
        moves_money: false, effect: READ, untrusted: PAYMENT_TEXT, rest: Custom, mcp: Generic,
        input: PaymentArgs, output: || one::<Payment>("payment"),
        invoke: |pl, p, x| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            keyed("payment", pl.payment(p, &pid).await?)
        },
    },
    op! {
        name: "payments_timeline", title: "Payment timeline",
        description: "A payment's history in order: every event about it and its refunds, and (for keys that may read the audit log, scope fraud:read) every audit record, oldest first.",
        http: Get "/v1/payments/{id}/timeline" id = "payment_id", scope: Some(Scope::PaymentsRead),
        moves_money: false, effect: READ, untrusted: PAYMENT_TEXT, rest: Generic, mcp: Generic,
        input: PaymentArgs, output: || super::schema::object::<PaymentTimeline>(),
        invoke: |pl, p, x| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            serde_json::to_value(pl.payment_timeline(p, &pid).await?)
                .map_err(|e| Error::Internal(e.to_string()))
        },
    },
    op! {
        name: "payments_list", title: "List payments",
        description: "Payments, newest first, with cursor pagination.",
        http: Get "/v1/payments", scope: Some(Scope::PaymentsRead), moves_money: false,
        effect: READ, untrusted: PAYMENT_TEXT, rest: Custom, mcp: Generic,
        input: PaymentListArgs, output: || many::<Payment>("payments", true),
        invoke: |pl, p, x| {
            let limit = x.limit.unwrap_or(50);
            let q = PaymentQuery {
                status: x.status.as_deref().map(PaymentStatus::parse).transpose()?,
                before: opt_id(PaymentId::parse, "cursor", &x.cursor)?,
                limit: Some(limit),
            };
            page("payments", pl.payments(p, &q).await?, limit, |t| t.id.to_string())
        },
    },
    op! {
        name: "payments_held", title: "Held payments",
        description: "Payments waiting for an operator: pending_approval (over the approval threshold) or pending_review (fraud).",
        http: Get "/v1/payments/held", scope: Some(Scope::PaymentsRead), moves_money: false,
        effect: READ, untrusted: PAYMENT_TEXT, rest: Generic, mcp: Generic,
        input: NoArgs, output: || many::<Payment>("payments", false),
        invoke: |pl, p, _| { keyed("payments", pl.held_payments(p).await?) },
    },
    op! {
        name: "payments_cancel", title: "Cancel a payment",
        description: "Cancels a payment that has not been charged (held or processing).",
        http: Post "/v1/payments/{id}/cancel" id = "payment_id", scope: Some(Scope::PaymentsWrite),
        moves_money: false, effect: write(true, true), untrusted: PAYMENT_TEXT, rest: Custom, mcp: Generic,
        input: PaymentArgs, output: || one::<Payment>("payment"),
        invoke: |pl, p, x, key| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            executed("payment", pl.cancel_payment(p, &pid, key).await?)
        },
    },
    op! {
        name: "payments_capture", title: "Capture a payment",
        description: "Captures a payment created with capture_method manual (status requires_capture), in full or in part: the money moves now, exactly once; the rest of the hold is released. A second capture is refused.",
        http: Post "/v1/payments/{id}/capture" id = "payment_id", scope: Some(Scope::PaymentsWrite),
        moves_money: true, effect: write(true, true), untrusted: PAYMENT_TEXT, rest: Custom, mcp: Custom,
        input: CaptureArgs, output: || one::<Payment>("payment"),
        invoke: |pl, p, x, key| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            let amount = in_payment_currency(pl, p, &pid, &x.amount).await?;
            executed("payment", pl.capture_payment(p, &pid, amount, x.idempotency_key.or(key)).await?)
        },
    },
    op! {
        name: "payments_method_attach", title: "Attach a payment method",
        description: "Attaches a tokenized payment method (pm_…) to a customer so it can pay again; pay with the returned id. Never pass card data.",
        http: Post "/v1/customers/{id}/payment_methods" id = "customer_id", scope: Some(Scope::PaymentsWrite),
        moves_money: false, effect: write(false, true), untrusted: &[], rest: Custom, mcp: Generic,
        input: AttachArgs, output: || one::<PaymentMethod>("payment_method"),
        invoke: |pl, p, x, key| {
            let cid = id(CustomerId::parse, "customer_id", &x.customer_id)?;
            let req = AttachPaymentMethod { payment_method: x.payment_method };
            executed("payment_method", pl.attach_payment_method(p, &cid, req, key).await?)
        },
    },
    op! {
        name: "payments_methods_list", title: "Payment methods of a customer",
        description: "Payment methods attached to a customer: card brand, last four digits, expiry.",
        http: Get "/v1/customers/{id}/payment_methods" id = "customer_id", scope: Some(Scope::PaymentsRead),
        moves_money: false, effect: LIVE, untrusted: &[], rest: Custom, mcp: Generic,
        input: CustomerArgs, output: || many::<PaymentMethod>("payment_methods", false),
        invoke: |pl, p, x| {
            let cid = id(CustomerId::parse, "customer_id", &x.customer_id)?;
            keyed("payment_methods", pl.payment_methods(p, &cid).await?)
        },
    },
    op! {
        name: "payments_balance", title: "Payments balance",
        description: "The balance at the payments provider per currency: available and pending.",
        http: Get "/v1/balance", scope: Some(Scope::PaymentsRead), moves_money: false,
        effect: LIVE, untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || many::<ProviderBalance>("balances", false),
        invoke: |pl, p, _| { keyed("balances", pl.payments_balance(p).await?) },
    },
    op! {
        name: "payments_refund", title: "Refund a payment",
        description: "Refunds part or all of a succeeded payment. Two steps, like payments_create.",
        http: Post "/v1/refunds", scope: Some(Scope::PaymentsWrite), moves_money: true,
        effect: write(true, false), untrusted: &[], rest: Custom, mcp: Custom,
        input: RefundArgs, output: || money_move::<Refund>("refund"),
        invoke: |pl, p, x, key| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            let amount = in_payment_currency(pl, p, &pid, &x.amount).await?;
            let req = NewRefund { payment_id: pid, amount, reason: x.reason, confirmation_token: None,  };
            let r = pl.create_refund(p, req, x.idempotency_key.or(key)).await?;
            money_moved("refund", r)
        },
    },
    op! {
        name: "payments_refunds_list", title: "Refunds of a payment", description: "Refunds of one payment.",
        http: Get "/v1/payments/{id}/refunds" id = "payment_id", scope: Some(Scope::PaymentsRead),
        moves_money: false, effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: PaymentArgs, output: || many::<Refund>("refunds", false),
        invoke: |pl, p, x| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            keyed("refunds", pl.refunds(p, &pid).await?)
        },
    },
    // ------------------------------------------------------------------ trading
    op! {
        name: "trading_account", title: "Brokerage account",
        description: "Cash, buying power, equity, and whether the account is paper or live.",
        http: Get "/v1/brokerage/account", scope: Some(Scope::TradingRead), moves_money: false,
        effect: LIVE, untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || one::<BrokerageAccount>("account"),
        invoke: |pl, p, _| { keyed("account", pl.brokerage_account(p).await?) },
    },
    op! {
        name: "trading_positions", title: "Positions", description: "Open positions with market value and unrealized P/L.",
        http: Get "/v1/positions", scope: Some(Scope::TradingRead), moves_money: false,
        effect: LIVE, untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || many::<Position>("positions", false),
        invoke: |pl, p, _| { keyed("positions", pl.positions(p).await?) },
    },
    op! {
        name: "trading_quote", title: "Quote", description: "Latest bid and ask of a symbol.",
        http: Get "/v1/quotes/{symbol}", scope: Some(Scope::TradingRead), moves_money: false,
        effect: LIVE, untrusted: &[], rest: Custom, mcp: Generic,
        input: SymbolArgs, output: || one::<Quote>("quote"),
        invoke: |pl, p, x| { keyed("quote", pl.quote(p, &x.symbol.to_uppercase()).await?) },
    },
    op! {
        name: "trading_asset", title: "Asset",
        description: "What the broker lists for a symbol: name, exchange, class, status, and whether it is tradable, fractionable, shortable, marginable and easy to borrow. Check before ordering an unfamiliar symbol.",
        http: Get "/v1/assets/{symbol}", scope: Some(Scope::TradingRead), moves_money: false,
        effect: LIVE, untrusted: ASSET_TEXT, rest: Custom, mcp: Generic,
        input: SymbolArgs, output: || one::<Asset>("asset"),
        invoke: |pl, p, x| { keyed("asset", pl.asset(p, &x.symbol.to_uppercase()).await?) },
    },
    op! {
        name: "trading_clock", title: "Market clock", description: "Whether the market is open, and the next open and close.",
        http: Get "/v1/clock", scope: Some(Scope::TradingRead), moves_money: false,
        effect: LIVE, untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || one::<MarketClock>("clock"),
        invoke: |pl, p, _| { keyed("clock", pl.market_clock(p).await?) },
    },
    op! {
        name: "trading_bars", title: "Price bars", description: "Recent OHLCV bars of a symbol, oldest first.",
        http: Get "/v1/bars/{symbol}", scope: Some(Scope::TradingRead), moves_money: false,
        effect: LIVE, untrusted: &[], rest: Custom, mcp: Generic,
        input: BarArgs, output: || many::<Bar>("bars", false),
        invoke: |pl, p, x| {
            let timeframe = match x.timeframe.as_deref() {
                None => BarTimeframe::Day,
                Some(t) => serde_json::from_value(json!(t)).map_err(|_| {
                    Error::validation("timeframe", format!("{t:?} is not 1Min, 1Hour or 1Day"))
                })?,
            };
            let bars = pl.bars(p, &x.symbol.to_uppercase(), timeframe, x.limit.unwrap_or(30)).await?;
            keyed("bars", bars)
        },
    },
    op! {
        name: "trading_order_place", title: "Place an order",
        description: "Places a market, limit, stop or stop-limit order. Two steps, like payments_create: the preview shows the quote, the estimated notional and the limits left.",
        http: Post "/v1/orders", scope: Some(Scope::TradingWrite), moves_money: true,
        effect: write(true, false), untrusted: ORDER_TEXT, rest: Custom, mcp: Custom,
        input: OrderPlaceArgs, output: || money_move::<Order>("order"),
        invoke: |pl, p, x, key| {
            let req = order_request(&x)?;
            let r = pl.place_order(p, req, x.idempotency_key.or(key)).await?;
            money_moved("order", r)
        },
    },
    op! {
        name: "trading_order_get", title: "Get an order", description: "One order with its fills.",
        http: Get "/v1/orders/{id}" id = "order_id", scope: Some(Scope::TradingRead),
        moves_money: false, effect: READ, untrusted: ORDER_TEXT, rest: Custom, mcp: Generic,
        input: OrderArgs, output: order_output,
        invoke: |pl, p, x| {
            let oid = id(OrderId::parse, "order_id", &x.order_id)?;
            let order = pl.order(p, &oid).await?;
            Ok(json!({ "order": order, "fills": pl.fills(p, &oid).await? }))
        },
    },
    op! {
        name: "trading_order_fills", title: "Fills of an order", description: "The executions of one order, oldest first.",
        http: Get "/v1/orders/{id}/fills" id = "order_id", scope: Some(Scope::TradingRead),
        moves_money: false, effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: OrderArgs, output: || many::<Fill>("fills", false),
        invoke: |pl, p, x| {
            let oid = id(OrderId::parse, "order_id", &x.order_id)?;
            keyed("fills", pl.fills(p, &oid).await?)
        },
    },
    op! {
        name: "trading_orders_list", title: "List orders", description: "Orders, newest first, with cursor pagination.",
        http: Get "/v1/orders", scope: Some(Scope::TradingRead), moves_money: false,
        effect: READ, untrusted: ORDER_TEXT, rest: Custom, mcp: Generic,
        input: OrderListArgs, output: || many::<Order>("orders", true),
        invoke: |pl, p, x| {
            let limit = x.limit.unwrap_or(50);
            let q = OrderQuery {
                status: x.status.as_deref().map(OrderStatus::parse).transpose()?,
                before: opt_id(OrderId::parse, "cursor", &x.cursor)?,
                limit: Some(limit),
            };
            page("orders", pl.orders(p, &q).await?, limit, |o| o.id.to_string())
        },
    },
    op! {
        name: "trading_orders_held", title: "Held orders",
        description: "Orders waiting for an operator's approval or a fraud review.",
        http: Get "/v1/orders/held", scope: Some(Scope::TradingRead), moves_money: false,
        effect: READ, untrusted: ORDER_TEXT, rest: Generic, mcp: Generic,
        input: NoArgs, output: || many::<Order>("orders", false),
        invoke: |pl, p, _| { keyed("orders", pl.held_orders(p).await?) },
    },
    op! {
        name: "trading_order_cancel", title: "Cancel an order", description: "Cancels an open or held order.",
        http: Post "/v1/orders/{id}/cancel" id = "order_id", scope: Some(Scope::TradingWrite),
        moves_money: false, effect: write(true, true), untrusted: ORDER_TEXT, rest: Custom, mcp: Generic,
        input: OrderArgs, output: || one::<Order>("order"),
        invoke: |pl, p, x, key| {
            let oid = id(OrderId::parse, "order_id", &x.order_id)?;
            executed("order", pl.cancel_order(p, &oid, key).await?)
        },
    },
    // ------------------------------------------------------------------ fraud
    op! {
        name: "fraud_assess", title: "Assess a payment (dry run)",
        description: "Runs the tenant's fraud rules on a payment without creating it: decision, score and the rules that fired.",
        http: Post "/v1/fraud/assessments", scope: Some(Scope::PaymentsRead), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: AssessArgs, output: || one::<Assessment>("assessment"),
        invoke: |pl, p, x, key| {
            let req = NewPayment {
                amount: Money::parse(&x.amount, &x.currency)?,
                payment_method: x.payment_method,
                customer_id: opt_id(CustomerId::parse, "customer_id", &x.customer_id)?,
                payee: x.payee,
                description: None,
                capture_method: None, confirmation_token: None,
            };
            executed("assessment", pl.assess_payment(p, &req, key).await?)
        },
    },
    op! {
        name: "fraud_cases_list", title: "Fraud cases", description: "Fraud review cases, newest first.",
        http: Get "/v1/fraud/cases", scope: Some(Scope::FraudRead), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: CaseListArgs, output: || many::<FraudCase>("cases", false),
        invoke: |pl, p, x| {
            let status = x
                .status
                .as_deref()
                .map(|s| {
                    serde_json::from_value::<CaseStatus>(json!(s))
                        .map_err(|_| Error::validation("status", format!("{s:?} is not open, approved or rejected")))
                })
                .transpose()?;
            let q = CaseQuery { status, limit: Some(x.limit.unwrap_or(50)) };
            keyed("cases", pl.fraud_cases(p, &q).await?)
        },
    },
    op! {
        name: "fraud_case_get", title: "Get a fraud case", description: "One fraud review case.",
        http: Get "/v1/fraud/cases/{id}" id = "case_id", scope: Some(Scope::FraudRead),
        moves_money: false, effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: CaseArgs, output: || one::<FraudCase>("case"),
        invoke: |pl, p, x| {
            let cid = id(CaseId::parse, "case_id", &x.case_id)?;
            keyed("case", pl.fraud_case(p, &cid).await?)
        },
    },
    op! {
        name: "fraud_rules_get", title: "Active fraud rules",
        description: "The tenant's active fraud rule set (version, rules, who loaded it), or null when none is active.",
        http: Get "/v1/fraud/rules", scope: Some(Scope::FraudRead), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || one_or_null::<StoredRuleSet>("rule_set"),
        invoke: |pl, p, _| { keyed("rule_set", pl.fraud_rules(p).await?) },
    },
    // ------------------------------------------------------------------ logs
    op! {
        name: "events_list", title: "Events",
        description: "The tenant's event log, oldest first, paged by sequence number (`after`).",
        http: Get "/v1/events", scope: Some(Scope::FraudRead), moves_money: false,
        effect: READ, untrusted: &["data"], rest: Custom, mcp: Generic,
        input: LogArgs, output: || many::<Event>("events", false),
        invoke: |pl, p, x| {
            let q = LogQuery { after: x.after.unwrap_or(0), limit: x.limit };
            keyed("events", pl.events(p, q).await?)
        },
    },
    op! {
        name: "audit_list", title: "Audit log",
        description: "The tenant's hash-chained audit records (who did what, through which interface), oldest first, paged by sequence number (`after`).",
        http: Get "/v1/audit", scope: Some(Scope::FraudRead), moves_money: false,
        effect: READ, untrusted: &["outcome"], rest: Custom, mcp: Generic,
        input: LogArgs, output: || many::<AuditRecord>("records", false),
        invoke: |pl, p, x| {
            let q = LogQuery { after: x.after.unwrap_or(0), limit: x.limit };
            keyed("records", pl.audit_log(p, q).await?)
        },
    },
    op! {
        name: "audit_verify", title: "Verify the audit chain",
        description: "Recomputes the tenant's audit hash chain and names the first record that fails, if any.",
        http: Get "/v1/audit/verify", scope: Some(Scope::FraudRead), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || one::<AuditVerification>("verification"),
        invoke: |pl, p, _| { keyed("verification", pl.verify_audit(p).await?) },
    },
    op! {
        name: "ledger_balances", title: "Ledger balances",
        description: "Balances of the double-entry ledger per account and currency (sums of postings).",
        http: Get "/v1/ledger/balances", scope: Some(Scope::FraudRead), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: NoArgs, output: || many::<AccountBalance>("balances", false),
        invoke: |pl, p, _| { keyed("balances", pl.ledger_balances(p).await?) },
    },
    // ------------------------------------------------------------------ approvals
    op! {
        name: "payments_approve", title: "Approve a held payment",
        description: "Approves a payment held for approval or review: it is sent to the provider, exactly once however many approvals race. The creator of a payment cannot approve it.",
        http: Post "/v1/payments/{id}/approve" id = "payment_id", scope: Some(Scope::ApprovalsWrite),
        moves_money: true, effect: write(true, true), untrusted: PAYMENT_TEXT, rest: Custom, mcp: Generic,
        input: HeldPaymentDecision, output: || one::<Payment>("payment"),
        invoke: |pl, p, x, key| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            executed("payment", pl.approve_payment(p, &pid, x.comment, key).await?)
        },
    },
    op! {
        name: "payments_reject", title: "Reject a held payment",
        description: "Rejects a held payment: money never moves.",
        http: Post "/v1/payments/{id}/reject" id = "payment_id", scope: Some(Scope::ApprovalsWrite),
        moves_money: false, effect: write(true, true), untrusted: PAYMENT_TEXT, rest: Custom, mcp: Generic,
        input: HeldPaymentDecision, output: || one::<Payment>("payment"),
        invoke: |pl, p, x, key| {
            let pid = id(PaymentId::parse, "payment_id", &x.payment_id)?;
            executed("payment", pl.reject_payment(p, &pid, x.comment, key).await?)
        },
    },
    op! {
        name: "trading_order_approve", title: "Approve a held order",
        description: "Approves an order held for approval or review: it is sent to the broker, exactly once.",
        http: Post "/v1/orders/{id}/approve" id = "order_id", scope: Some(Scope::ApprovalsWrite),
        moves_money: true, effect: write(true, true), untrusted: ORDER_TEXT, rest: Custom, mcp: Generic,
        input: HeldOrderDecision, output: || one::<Order>("order"),
        invoke: |pl, p, x, key| {
            let oid = id(OrderId::parse, "order_id", &x.order_id)?;
            executed("order", pl.approve_order(p, &oid, x.comment, key).await?)
        },
    },
    op! {
        name: "trading_order_reject", title: "Reject a held order",
        description: "Rejects a held order: it is never sent to the broker.",
        http: Post "/v1/orders/{id}/reject" id = "order_id", scope: Some(Scope::ApprovalsWrite),
        moves_money: false, effect: write(true, true), untrusted: ORDER_TEXT, rest: Custom, mcp: Generic,
        input: HeldOrderDecision, output: || one::<Order>("order"),
        invoke: |pl, p, x, key| {
            let oid = id(OrderId::parse, "order_id", &x.order_id)?;
            executed("order", pl.reject_order(p, &oid, x.comment, key).await?)
        },
    },
    op! {
        name: "fraud_case_approve", title: "Approve a fraud case",
        description: "Approves an open review case (comment required): the held payment or order proceeds, exactly once.",
        http: Post "/v1/fraud/cases/{id}/approve" id = "case_id", scope: Some(Scope::ApprovalsWrite),
        moves_money: true, effect: write(true, true), untrusted: &[], rest: Custom, mcp: Generic,
        input: CaseResolution, output: || one::<FraudCase>("case"),
        invoke: |pl, p, x, key| {
            let cid = id(CaseId::parse, "case_id", &x.case_id)?;
            executed("case", pl.approve_fraud_case(p, &cid, x.comment, key).await?)
        },
    },
    op! {
        name: "fraud_case_reject", title: "Reject a fraud case",
        description: "Rejects an open review case (comment required): the held operation is cancelled and money never moves.",
        http: Post "/v1/fraud/cases/{id}/reject" id = "case_id", scope: Some(Scope::ApprovalsWrite),
        moves_money: false, effect: write(true, true), untrusted: &[], rest: Custom, mcp: Generic,
        input: CaseResolution, output: || one::<FraudCase>("case"),
        invoke: |pl, p, x, key| {
            let cid = id(CaseId::parse, "case_id", &x.case_id)?;
            executed("case", pl.reject_fraud_case(p, &cid, x.comment, key).await?)
        },
    },
    op! {
        name: "fraud_rules_version", title: "A version of the fraud rules",
        description: "One stored version of the tenant's fraud rule set, active or not.",
        http: Get "/v1/fraud/rules/{version}", scope: Some(Scope::FraudRead), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: RulesVersionArgs, output: || one::<StoredRuleSet>("rule_set"),
        invoke: |pl, p, x| { keyed("rule_set", pl.fraud_rules_version(p, x.version).await?) },
    },
    // ------------------------------------------------------------------ tenancy
    op! {
        name: "tenant_get", title: "Tenant", description: "The caller's tenant.",
        http: Get "/v1/tenant", scope: None, moves_money: false, effect: READ, untrusted: &[],
        rest: Custom, mcp: Generic, input: NoArgs, output: || one::<Tenant>("tenant"),
        invoke: |pl, p, _| { keyed("tenant", pl.tenant(p).await?) },
    },
    op! {
        name: "keys_list", title: "API keys",
        description: "API keys of the tenant: prefixes, scopes, limits and last use, never secrets.",
        http: Get "/v1/keys", scope: Some(Scope::Developer), moves_money: false, effect: READ,
        untrusted: &[], rest: Custom, mcp: Generic, input: NoArgs,
        output: || many::<ApiKeyRecord>("keys", false),
        invoke: |pl, p, _| { keyed("keys", pl.api_keys(p).await?) },
    },
    op! {
        name: "key_usage", title: "Usage of an API key", description: "Requests per UTC day of a key, newest first.",
        http: Get "/v1/keys/{id}/usage" id = "key_id", scope: Some(Scope::Developer), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: KeyArgs, output: || many::<KeyUsage>("usage", false),
        invoke: |pl, p, x| {
            let kid = id(ApiKeyId::parse, "key_id", &x.key_id)?;
            keyed("usage", pl.api_key_usage(p, &kid).await?)
        },
    },
    op! {
        name: "users_list", title: "Users", description: "Users of the tenant and their roles.",
        http: Get "/v1/users", scope: Some(Scope::Admin), moves_money: false, effect: READ,
        untrusted: &[], rest: Custom, mcp: Generic, input: NoArgs,
        output: || many::<User>("users", false),
        invoke: |pl, p, _| { keyed("users", pl.users(p).await?) },
    },
    op! {
        name: "webhook_endpoints_list", title: "Webhook endpoints",
        description: "The tenant's webhook endpoints (URLs and event filters; never signing secrets).",
        http: Get "/v1/webhook_endpoints", scope: Some(Scope::Developer), moves_money: false,
        effect: READ, untrusted: &[], rest: Custom, mcp: Generic, input: NoArgs,
        output: || many::<WebhookEndpoint>("endpoints", false),
        invoke: |pl, p, _| { keyed("endpoints", pl.webhook_endpoints(p).await?) },
    },
    op! {
        name: "webhook_deliveries_list", title: "Webhook deliveries",
        description: "Deliveries of one endpoint, newest first, with their attempts and status.",
        http: Get "/v1/webhook_endpoints/{id}/deliveries" id = "endpoint_id", scope: Some(Scope::Developer),
        moves_money: false, effect: READ, untrusted: &[], rest: Custom, mcp: Generic,
        input: DeliveryListArgs, output: || many::<WebhookDelivery>("deliveries", false),
        invoke: |pl, p, x| {
            let eid = id(WebhookEndpointId::parse, "endpoint_id", &x.endpoint_id)?;
            keyed("deliveries", pl.webhook_deliveries(p, &eid, x.limit).await?)
        },
    },
];
