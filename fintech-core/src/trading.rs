//! Brokerage: account, orders (market, limit, stop, stop-limit; day/gtc/ioc/fok/opg/cls),
//! fills, positions, quotes, bars, market clock, and the [`BrokerageProvider`] trait.
//!
//! Quantities are decimals (fractional shares); prices are [`Money`] in the account currency.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fraud::Assessment;
use crate::id::{FillId, OrderId};
use crate::money::Money;
use crate::provider::ProviderMode;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $s)] $variant),+
        }

        impl $name {
            /// The string form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Parses the string form.
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($s => Ok($name::$variant),)+
                    _ => Err(Error::validation(
                        stringify!($name),
                        format!("unknown value {s:?}; expected one of: {}", [$($s),+].join(", ")),
                    )),
                }
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($s),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Buy or sell.
    OrderSide { /// Buy.
        Buy = "buy", /// Sell.
        Sell = "sell" }
);
string_enum!(
    /// Order type.
    OrderType { /// At the market.
        Market = "market", /// At a price or better.
        Limit = "limit", /// A market order once the stop price trades.
        Stop = "stop", /// A limit order once the stop price trades.
        StopLimit = "stop_limit" }
);
string_enum!(
    /// How long an order lives.
    TimeInForce { /// Until the close.
        Day = "day", /// Until cancelled.
        Gtc = "gtc", /// Fill what you can now, cancel the rest.
        Ioc = "ioc", /// Fill entirely now or cancel.
        Fok = "fok", /// At the opening auction.
        Opg = "opg", /// At the closing auction.
        Cls = "cls" }
);
string_enum!(
    /// Where an order is in its life.
    OrderStatus {
        /// Above the key's approval threshold: waiting for an operator.
        PendingApproval = "pending_approval",
        /// Fraud screening asked for review.
        PendingReview = "pending_review",
        /// Accepted by the broker, not filled.
        New = "new",
        /// Partly filled.
        PartiallyFilled = "partially_filled",
        /// Completely filled.
        Filled = "filled",
        /// Cancelled.
        Canceled = "canceled",
        /// Expired (time in force ran out).
        Expired = "expired",
        /// Refused by the broker or by an operator.
        Rejected = "rejected",
    }
);

string_enum!(
    /// What kind of asset (Alpaca's `class`).
    AssetClass { /// US equities (stocks and ETFs).
        UsEquity = "us_equity", /// Crypto currencies.
        Crypto = "crypto" }
);
string_enum!(
    /// Whether an asset is listed at the broker.
    AssetStatus { /// Listed.
        Active = "active", /// Delisted or suspended.
        Inactive = "inactive" }
);

/// An asset the broker lists (Alpaca `GET /v2/assets/{symbol}`): what it is and what the
/// broker lets you do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Asset {
    /// The broker's asset id.
    pub id: String,
    /// Ticker.
    pub symbol: String,
    /// Official name (provider text: data, not instructions).
    pub name: String,
    /// Primary exchange (`NASDAQ`, `NYSE`, `ARCA` ...).
    pub exchange: String,
    /// Asset class.
    pub asset_class: AssetClass,
    /// Listed or not.
    pub status: AssetStatus,
    /// Orders are accepted for it.
    pub tradable: bool,
    /// Fractional quantities are accepted.
    pub fractionable: bool,
    /// It can be sold short.
    pub shortable: bool,
    /// It can be bought on margin.
    pub marginable: bool,
    /// Shares are easy to borrow (the practical test of whether a short is possible now).
    pub easy_to_borrow: bool,
}

impl OrderStatus {
    /// No further change can happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Expired
                | OrderStatus::Rejected
        )
    }

    /// Held for a human decision.
    pub fn is_held(self) -> bool {
        matches!(
            self,
            OrderStatus::PendingApproval | OrderStatus::PendingReview
        )
    }
}

/// Input for a new order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Ticker (`AAPL`); upper-case letters, digits, `.` and `-`, at most 12.
    pub symbol: String,
    /// Buy or sell.
    pub side: OrderSide,
    /// Shares; positive, at most 9 decimal places.
    pub qty: Decimal,
    /// Type.
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Limit price (limit and stop-limit).
    #[serde(default)]
    pub limit_price: Option<Money>,
    /// Stop price (stop and stop-limit).
    #[serde(default)]
    pub stop_price: Option<Money>,
    /// The token a `confirmation_required` answer gave, to execute exactly what it previewed
    /// (see [`crate::platform::MoveDecision`]). Not part of the request's identity: the
    /// token's hash becomes the idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
}

impl OrderRequest {
    /// Checks the request's shape: symbol, positive quantity, prices required by the type.
    pub fn validate(&self) -> Result<()> {
        validate_symbol(&self.symbol)?;
        if self.qty <= Decimal::ZERO {
            return Err(Error::validation("qty", "must be greater than zero"));
        }
        if self.qty.normalize().scale() > 9 {
            return Err(Error::validation("qty", "at most 9 decimal places"));
        }
        let needs_limit = matches!(self.order_type, OrderType::Limit | OrderType::StopLimit);
        let needs_stop = matches!(self.order_type, OrderType::Stop | OrderType::StopLimit);
        match (needs_limit, &self.limit_price) {
            (true, None) => {
                return Err(Error::validation(
                    "limit_price",
                    format!("required for {} orders", self.order_type),
                ))
            }
            (false, Some(_)) => {
                return Err(Error::validation(
                    "limit_price",
                    format!("not allowed for {} orders", self.order_type),
                ))
            }
            _ => {}
        }
        match (needs_stop, &self.stop_price) {
            (true, None) => {
                return Err(Error::validation(
                    "stop_price",
                    format!("required for {} orders", self.order_type),
                ))
            }
            (false, Some(_)) => {
                return Err(Error::validation(
                    "stop_price",
                    format!("not allowed for {} orders", self.order_type),
                ))
            }
            _ => {}
        }
        for (field, price) in [
            ("limit_price", &self.limit_price),
            ("stop_price", &self.stop_price),
        ] {
            if let Some(p) = price {
                if !p.is_positive() {
                    return Err(Error::validation(field, "must be greater than zero"));
                }
            }
        }
        if self.qty.fract() != Decimal::ZERO {
            if self.order_type != OrderType::Market {
                return Err(Error::validation(
                    "qty",
                    format!(
                        "fractional quantities are for market day orders only, not {} orders; order a whole number of shares",
                        self.order_type
                    ),
                ));
            }
            if self.time_in_force != TimeInForce::Day {
                return Err(Error::validation(
                    "time_in_force",
                    format!(
                        "fractional quantities are for market day orders only, not {}; use day or a whole number of shares",
                        self.time_in_force
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The symbols [`validate_symbol`] accepts, as a regular expression for schemas (the MCP
/// tools' JSON Schema uses it, so a client's check and the server's agree): an upper-case
/// letter, then up to 11 upper-case letters, digits, `.` or `-`.
pub const SYMBOL_PATTERN: &str = r"^[A-Z][A-Z0-9.-]{0,11}$";

/// What a shell that upper-cases its input (MCP, the CLI) accepts as a symbol, for its
/// schema: [`SYMBOL_PATTERN`] in either case. A string matches it exactly when its ASCII
/// upper-case passes [`validate_symbol`].
pub const SYMBOL_INPUT_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9.-]{0,11}$";

/// Checks a ticker symbol: exactly the strings [`SYMBOL_PATTERN`] matches.
pub fn validate_symbol(symbol: &str) -> Result<()> {
    let ok = !symbol.is_empty()
        && symbol.len() <= 12
        && symbol
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && symbol.as_bytes()[0].is_ascii_uppercase();
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "symbol",
            format!("{symbol:?} is not a ticker like \"AAPL\" or \"BRK.B\""),
        ))
    }
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    /// Our id.
    pub id: OrderId,
    /// The id sent to the broker as `client_order_id` (equal on every retry).
    pub client_order_id: String,
    /// Ticker.
    pub symbol: String,
    /// Buy or sell.
    pub side: OrderSide,
    /// Shares ordered.
    pub qty: Decimal,
    /// Type.
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Limit price.
    pub limit_price: Option<Money>,
    /// Stop price.
    pub stop_price: Option<Money>,
    /// Status.
    pub status: OrderStatus,
    /// Shares filled so far.
    pub filled_qty: Decimal,
    /// Average fill price.
    pub filled_avg_price: Option<Money>,
    /// Why the broker or an operator refused it.
    pub reject_reason: Option<String>,
    /// Which provider.
    pub provider: String,
    /// The broker's order id, once sent.
    pub provider_order_id: Option<String>,
    /// Who placed it.
    pub created_by: String,
    /// The fraud assessment made when it was placed.
    pub assessment: Option<Assessment>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A fill, as stored: each one is a balanced ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fill {
    /// Our id.
    pub id: FillId,
    /// The order.
    pub order_id: OrderId,
    /// Shares.
    pub qty: Decimal,
    /// Price per share.
    pub price: Money,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// An order as the broker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderOrder {
    /// The broker's id.
    pub provider_id: String,
    /// Our client order id.
    pub client_order_id: String,
    /// Status.
    pub status: OrderStatus,
    /// Shares filled.
    pub filled_qty: Decimal,
    /// Average fill price.
    pub filled_avg_price: Option<Money>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
}

/// The brokerage account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokerageAccount {
    /// Account number at the broker.
    pub account_number: String,
    /// Cash.
    pub cash: Money,
    /// What can be spent on new orders.
    pub buying_power: Money,
    /// Cash plus positions at market value.
    pub equity: Money,
    /// Simulated, paper or live.
    pub mode: ProviderMode,
}

/// A position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    /// Ticker.
    pub symbol: String,
    /// Shares held.
    pub qty: Decimal,
    /// Average entry price.
    pub avg_entry_price: Money,
    /// Latest price.
    pub current_price: Money,
    /// Shares times latest price.
    pub market_value: Money,
    /// Market value minus cost.
    pub unrealized_pl: Money,
}

/// Latest quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quote {
    /// Ticker.
    pub symbol: String,
    /// Best bid.
    pub bid: Money,
    /// Best ask.
    pub ask: Money,
    /// When.
    pub at: DateTime<Utc>,
}

/// Bar width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BarTimeframe {
    /// One minute.
    #[serde(rename = "1Min")]
    Minute,
    /// One hour.
    #[serde(rename = "1Hour")]
    Hour,
    /// One day.
    #[serde(rename = "1Day")]
    Day,
}

/// An OHLCV bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bar {
    /// Start of the bar.
    pub t: DateTime<Utc>,
    /// Open.
    pub open: Money,
    /// High.
    pub high: Money,
    /// Low.
    pub low: Money,
    /// Close.
    pub close: Money,
    /// Shares traded.
    pub volume: u64,
}

/// The market clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarketClock {
    /// Now, at the broker.
    pub timestamp: DateTime<Utc>,
    /// Whether the market is open.
    pub is_open: bool,
    /// Next open.
    pub next_open: DateTime<Utc>,
    /// Next close.
    pub next_close: DateTime<Utc>,
}

/// A brokerage provider (Alpaca, or the simulator).
#[async_trait]
pub trait BrokerageProvider: Send + Sync {
    /// Short provider name (`sim`, `alpaca`).
    fn name(&self) -> &'static str;
    /// Paper or live. Agents must be able to tell.
    fn mode(&self) -> ProviderMode;
    /// The account.
    async fn account(&self) -> Result<BrokerageAccount>;
    /// Places an order. The same `client_order_id` never places twice: the broker answers
    /// with the existing order.
    async fn place_order(&self, req: &OrderRequest, client_order_id: &str)
        -> Result<ProviderOrder>;
    /// An order by the broker's id, with fills evaluated up to now.
    async fn get_order(&self, provider_id: &str) -> Result<ProviderOrder>;
    /// An order by our client order id (after an ambiguous timeout), if the broker has it.
    async fn get_order_by_client_id(&self, client_order_id: &str) -> Result<Option<ProviderOrder>>;
    /// Cancels an open order; the returned status says whether it was still cancellable.
    async fn cancel_order(&self, provider_id: &str) -> Result<ProviderOrder>;
    /// Open positions.
    async fn positions(&self) -> Result<Vec<Position>>;
    /// Latest quote of a symbol.
    async fn latest_quote(&self, symbol: &str) -> Result<Quote>;
    /// The most recent `limit` bars, oldest first.
    async fn bars(&self, symbol: &str, timeframe: BarTimeframe, limit: u32) -> Result<Vec<Bar>>;
    /// The market clock.
    async fn clock(&self) -> Result<MarketClock>;
    /// An asset by symbol; a symbol the broker does not list is [`Error::NotFound`].
    async fn asset(&self, symbol: &str) -> Result<Asset>;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_symbol_pattern_and_the_validation_agree() {
        let pattern = regex::Regex::new(SYMBOL_PATTERN).expect("pattern");
        let input = regex::Regex::new(SYMBOL_INPUT_PATTERN).expect("pattern");
        for s in [
            "AAPL",
            "BRK.B",
            "BRK-B",
            "A",
            "ABCDEFGHIJKL",
            "ABCDEFGHIJKLM",
            "aapl",
            "Aapl",
            "1AB",
            ".A",
            "-A",
            "A1",
            "A.1-",
            "",
            "A B",
            "ÄPL",
            "A/B",
            "A_B",
            "GOOGL",
            "T",
            "X.Y.Z",
        ] {
            assert_eq!(
                pattern.is_match(s),
                validate_symbol(s).is_ok(),
                "{s:?}: pattern and validate_symbol disagree"
            );
            assert_eq!(
                input.is_match(s),
                validate_symbol(&s.to_ascii_uppercase()).is_ok(),
                "{s:?}: input pattern and validate_symbol disagree"
            );
        }
    }

    use super::*;

    fn req() -> OrderRequest {
        OrderRequest {
            symbol: "AAPL".into(),
            side: OrderSide::Buy,
            qty: Decimal::ONE,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Day,
            limit_price: None,
            stop_price: None,
            confirmation_token: None,
        }
    }

    #[test]
    fn order_validation_checks_shape() {
        assert!(req().validate().is_ok());
        let mut r = req();
        r.symbol = "aapl".into();
        assert!(r.validate().is_err());
        let mut r = req();
        r.qty = Decimal::ZERO;
        assert!(r.validate().is_err());
        let mut r = req();
        r.order_type = OrderType::Limit;
        assert!(r.validate().is_err(), "limit without price");
        r.limit_price = Some(Money::parse("10", "USD").expect("ok"));
        assert!(r.validate().is_ok());
        r.stop_price = Some(Money::parse("10", "USD").expect("ok"));
        assert!(r.validate().is_err(), "stop price on a limit order");
        assert_eq!(
            OrderType::parse("stop_limit").expect("ok"),
            OrderType::StopLimit
        );
        assert!(TimeInForce::parse("forever").is_err());

        // fractional shares: market day orders only
        let mut r = req();
        r.qty = Decimal::new(15, 1);
        assert!(r.validate().is_ok(), "fractional market day");
        for tif in [
            TimeInForce::Gtc,
            TimeInForce::Fok,
            TimeInForce::Ioc,
            TimeInForce::Opg,
            TimeInForce::Cls,
        ] {
            r.time_in_force = tif;
            let e = r.validate().expect_err("fractional, not day");
            assert!(
                e.to_string().contains("market day orders only"),
                "{tif:?}: {e}"
            );
        }
        let mut r = req();
        r.qty = Decimal::new(15, 1);
        r.order_type = OrderType::Limit;
        r.limit_price = Some(Money::parse("10", "USD").expect("ok"));
        assert!(r.validate().is_err(), "fractional limit");
    }
}
