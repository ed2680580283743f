//! The arguments of the catalog's operations, one struct per shape: strict (unknown fields are
//! refused), with descriptions and bounds that become the JSON Schema every shell publishes
//! (feature `schema`). Ids, amounts and enums arrive as strings and are parsed by the
//! operation's invoker, so a bad value is a [`crate::Error::Validation`] naming its field.

use serde::{Deserialize, Serialize};

/// No arguments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Arguments of `banking_sandbox_public_token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SandboxTokenArgs {
    /// Institution id of the sandbox (e.g. `ins_109508`).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub institution_id: String,
}

/// Arguments of `banking_link_complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkCompleteArgs {
    /// The public token the Link flow (or `banking_sandbox_public_token`) returned.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 512)))]
    pub public_token: String,
}

/// Arguments of `banking_accounts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountsArgs {
    /// Only accounts of this linked item (`item_…`).
    #[serde(default)]
    pub item_id: Option<String>,
}

/// One linked item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemArgs {
    /// The linked item (`item_…`).
    pub item_id: String,
}

/// Filters and page of `banking_transactions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TransactionArgs {
    /// Only this account (`acct_…`).
    #[serde(default)]
    pub account_id: Option<String>,
    /// On or after this date (YYYY-MM-DD).
    #[serde(default)]
    pub start_date: Option<chrono::NaiveDate>,
    /// On or before this date (YYYY-MM-DD).
    #[serde(default)]
    pub end_date: Option<chrono::NaiveDate>,
    /// Merchant or description contains this text (case-insensitive).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub merchant: Option<String>,
    /// Category equals this (case-insensitive), e.g. `groceries`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub category: Option<String>,
    /// Amount at least this, as an exact decimal string in major units (positive amounts are
    /// money leaving the account).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$"))
    )]
    pub min_amount: Option<String>,
    /// Amount at most this, as an exact decimal string.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$"))
    )]
    pub max_amount: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 500)))]
    pub limit: Option<u32>,
}

/// How to group a spending summary.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By category.
    #[default]
    Category,
    /// By merchant.
    Merchant,
}

/// Arguments of `banking_spending_summary`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SpendingArgs {
    /// Only this account (`acct_…`).
    #[serde(default)]
    pub account_id: Option<String>,
    /// On or after this date (YYYY-MM-DD).
    #[serde(default)]
    pub start_date: Option<chrono::NaiveDate>,
    /// On or before this date (YYYY-MM-DD).
    #[serde(default)]
    pub end_date: Option<chrono::NaiveDate>,
    /// Grouping (default `category`).
    #[serde(default)]
    pub group_by: GroupBy,
}

/// Arguments of `payments_customer_create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerCreateArgs {
    /// Email address.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 254)))]
    pub email: Option<String>,
    /// Name.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub name: Option<String>,
}

/// One customer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerArgs {
    /// The customer (`cus_…`).
    pub customer_id: String,
}

/// Arguments of `payments_create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentCreateArgs {
    /// Amount as an exact decimal string in major units, e.g. `"12.50"`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"))
    )]
    pub amount: String,
    /// ISO 4217 currency code (default `USD`).
    #[serde(default = "usd")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[A-Z]{3}$")))]
    pub currency: String,
    /// A tokenized payment method (`pm_…`); never a card number.
    #[cfg_attr(feature = "schema", schemars(length(min = 3, max = 255)))]
    pub payment_method: String,
    /// The customer being charged (`cus_…`).
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Who is paid, as shown to operators and fraud rules.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub payee: Option<String>,
    /// Free-text description.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 500)))]
    pub description: Option<String>,
    /// `automatic` (default): charged at once. `manual`: authorized and held
    /// (`requires_capture`) until `payments_capture` moves the money, or `payments_cancel`
    /// releases it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["automatic", "manual"])))]
    pub capture_method: Option<String>,
    /// Makes retries safe: the same key returns the first result.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub idempotency_key: Option<String>,
}

fn usd() -> String {
    "USD".into()
}

/// One payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentArgs {
    /// The payment (`pay_…`).
    pub payment_id: String,
}

/// Filters and page of `payments_list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentListArgs {
    /// Only payments in this status.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["pending_approval", "pending_review", "processing", "requires_capture", "succeeded", "failed", "canceled", "rejected"])))]
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 500)))]
    pub limit: Option<u32>,
}

/// Arguments of `payments_capture`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CaptureArgs {
    /// The authorized payment (`pay_…`, status `requires_capture`).
    pub payment_id: String,
    /// Amount to capture as an exact decimal string, in the payment's currency; the whole
    /// authorized amount when absent. The rest of the hold is released.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"))
    )]
    pub amount: Option<String>,
    /// Makes retries safe: the same key returns the first result.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub idempotency_key: Option<String>,
}

/// Arguments of `payments_method_attach`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachArgs {
    /// The customer (`cus_…`).
    pub customer_id: String,
    /// A payment method token (`pm_…`) from the provider's client-side tokenization; never a
    /// card number.
    #[cfg_attr(feature = "schema", schemars(length(min = 4, max = 255)))]
    pub payment_method: String,
}

/// Arguments of `payments_refund`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RefundArgs {
    /// The succeeded payment to refund (`pay_…`).
    pub payment_id: String,
    /// Amount to refund as an exact decimal string; the whole remaining amount when absent.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"))
    )]
    pub amount: Option<String>,
    /// Why.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 500)))]
    pub reason: Option<String>,
    /// Makes retries safe: the same key returns the first result.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub idempotency_key: Option<String>,
}

/// One ticker symbol.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SymbolArgs {
    /// Ticker symbol, e.g. `AAPL`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = crate::trading::SYMBOL_INPUT_PATTERN))
    )]
    pub symbol: String,
}

/// Arguments of `trading_order_place`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderPlaceArgs {
    /// Ticker symbol, e.g. `AAPL`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = crate::trading::SYMBOL_INPUT_PATTERN))
    )]
    pub symbol: String,
    /// `buy` or `sell`.
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["buy", "sell"])))]
    pub side: String,
    /// Quantity (exact decimal string; fractional shares allowed for market day orders).
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"))
    )]
    pub qty: String,
    /// Order type (default `market`).
    #[serde(default = "market")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["market", "limit", "stop", "stop_limit"])))]
    pub order_type: String,
    /// Time in force (default `day`).
    #[serde(default = "day")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["day", "gtc", "ioc", "fok", "opg", "cls"])))]
    pub time_in_force: String,
    /// Limit price (exact decimal, USD), for `limit` and `stop_limit`.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,12}(\.[0-9]{1,4})?$"))
    )]
    pub limit_price: Option<String>,
    /// Stop price (exact decimal, USD), for `stop` and `stop_limit`.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,12}(\.[0-9]{1,4})?$"))
    )]
    pub stop_price: Option<String>,
    /// Makes retries safe: the same key returns the first result.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub idempotency_key: Option<String>,
}

fn market() -> String {
    "market".into()
}

fn day() -> String {
    "day".into()
}

/// One order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderArgs {
    /// The order (`ord_…`).
    pub order_id: String,
}

/// Filters and page of `trading_orders_list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderListArgs {
    /// Only orders in this status.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["pending_approval", "pending_review", "new", "partially_filled", "filled", "canceled", "expired", "rejected"])))]
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 500)))]
    pub limit: Option<u32>,
}

/// Arguments of `fraud_assess`: the payment to screen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AssessArgs {
    /// Amount as an exact decimal string in major units.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[0-9]{1,15}(\.[0-9]{1,4})?$"))
    )]
    pub amount: String,
    /// ISO 4217 currency code (default `USD`).
    #[serde(default = "usd")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[A-Z]{3}$")))]
    pub currency: String,
    /// A tokenized payment method (`pm_…`).
    #[cfg_attr(feature = "schema", schemars(length(min = 3, max = 255)))]
    pub payment_method: String,
    /// The customer (`cus_…`).
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Who would be paid.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 200)))]
    pub payee: Option<String>,
}

/// Filters of `fraud_cases_list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseListArgs {
    /// Only cases in this status (default: all).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["open", "approved", "rejected"])))]
    pub status: Option<String>,
    /// At most this many, 1 to 500 (default 50).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 500)))]
    pub limit: Option<u32>,
}

/// One fraud case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseArgs {
    /// The case (`fcs_…`).
    pub case_id: String,
}

/// A page of a sequence-numbered log (events, audit records).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LogArgs {
    /// Only entries after this sequence number (default 0: from the beginning).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub after: Option<i64>,
    /// Page size, 1 to 500 (default 100).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 500)))]
    pub limit: Option<u32>,
}

/// Arguments of `trading_bars`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BarArgs {
    /// Ticker symbol, e.g. `AAPL`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9.-]{0,11}$"))
    )]
    pub symbol: String,
    /// Bar width (default `1Day`).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["1Min", "1Hour", "1Day"])))]
    pub timeframe: Option<String>,
    /// How many bars, 1 to 1000 (default 30).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1000)))]
    pub limit: Option<u32>,
}

/// An operator's decision on a held payment or order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeldPaymentDecision {
    /// The held payment (`pay_…`).
    pub payment_id: String,
    /// Why (kept in the audit log).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 500)))]
    pub comment: Option<String>,
}

/// An operator's decision on a held order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeldOrderDecision {
    /// The held order (`ord_…`).
    pub order_id: String,
    /// Why (kept in the audit log).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = 500)))]
    pub comment: Option<String>,
}

/// An operator's resolution of a fraud case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseResolution {
    /// The case (`fcs_…`).
    pub case_id: String,
    /// Why (required; kept in the audit log).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 500)))]
    pub comment: String,
}

/// One API key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyArgs {
    /// The key (`key_…`).
    pub key_id: String,
}

/// Deliveries of one webhook endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DeliveryListArgs {
    /// The endpoint (`whe_…`).
    pub endpoint_id: String,
    /// At most this many, 1 to 500 (default 50).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 500)))]
    pub limit: Option<u32>,
}

/// One version of the fraud rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RulesVersionArgs {
    /// The version (1, 2, 3 …).
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub version: i64,
}
