//! Scenarios every [`BrokerageProvider`] passes: the simulator now, Alpaca paper later.
//!
//! Scenarios that need to move the market or the clock run when the backend offers the hook
//! and are skipped otherwise. Scenarios that need fills are skipped while the market is
//! closed. Each scenario trades its own symbol and compares before and after, so a paper
//! account that already holds positions passes too; orders a scenario leaves resting are
//! cancelled before it returns. A real broker fills asynchronously, so orders expected to
//! reach a final state are polled until they do (the simulator answers at once).

use std::time::Duration;

use rust_decimal::Decimal;

use super::Outcome;
use crate::error::ErrorKind;
use crate::money::{Currency, Money};
use crate::trading::{
    AssetClass, AssetStatus, BarTimeframe, BrokerageProvider, OrderRequest, OrderSide, OrderStatus,
    OrderType, ProviderOrder, TimeInForce,
};

/// Pins a symbol's mid price (bid and ask around it) until pinned again.
pub type SetPrice = Box<dyn Fn(&str, Money) + Send + Sync>;

/// Moves the broker's clock forward.
pub type AdvanceClock = Box<dyn Fn(chrono::Duration) + Send + Sync>;

/// What a brokerage backend supplies beyond the trait.
pub struct BrokerageHarness {
    /// Pins a symbol's price, when the backend can; limit and stop scenarios are skipped
    /// without it.
    pub set_price: Option<SetPrice>,
    /// Moves the broker's clock forward, when the backend can; the expiry scenario is skipped
    /// without it.
    pub advance_clock: Option<AdvanceClock>,
}

/// Every scenario, by name.
pub const SCENARIOS: &[&str] = &[
    "account_has_cash_buying_power_and_mode",
    "clock_is_consistent",
    "market_buy_fills_into_a_position",
    "client_order_id_places_once",
    "sell_reduces_then_closes_a_position",
    "sell_more_than_held_is_rejected",
    "buying_power_exceeded_is_rejected",
    "limit_buy_rests_until_the_price_comes_down",
    "open_order_cancels",
    "ioc_limit_that_cannot_fill_is_canceled",
    "fok_limit_that_cannot_fill_is_canceled",
    "marketable_ioc_limit_fills",
    "buy_stop_triggers_when_the_price_rises",
    "sell_stop_triggers_when_the_price_falls",
    "stop_limit_remembers_its_trigger",
    "day_order_expires_at_the_close",
    "quote_bid_is_below_ask",
    "bars_are_consistent",
    "unknown_order_is_not_found",
    "malformed_orders_are_validation_errors",
    "asset_is_described_and_unlisted_is_not_found",
];

/// Runs the scenario called `name` against `provider`.
pub async fn run(name: &str, provider: &dyn BrokerageProvider, h: &BrokerageHarness) -> Outcome {
    let p = provider;
    match name {
        "account_has_cash_buying_power_and_mode" => account_has_cash_buying_power_and_mode(p).await,
        "clock_is_consistent" => clock_is_consistent(p).await,
        "market_buy_fills_into_a_position" => market_buy_fills_into_a_position(p).await,
        "client_order_id_places_once" => client_order_id_places_once(p).await,
        "sell_reduces_then_closes_a_position" => sell_reduces_then_closes_a_position(p).await,
        "sell_more_than_held_is_rejected" => sell_more_than_held_is_rejected(p).await,
        "buying_power_exceeded_is_rejected" => buying_power_exceeded_is_rejected(p).await,
        "limit_buy_rests_until_the_price_comes_down" => {
            limit_buy_rests_until_the_price_comes_down(p, h).await
        }
        "open_order_cancels" => open_order_cancels(p).await,
        "ioc_limit_that_cannot_fill_is_canceled" => {
            limit_that_cannot_fill_is_canceled(p, TimeInForce::Ioc, "KO").await
        }
        "fok_limit_that_cannot_fill_is_canceled" => {
            limit_that_cannot_fill_is_canceled(p, TimeInForce::Fok, "PEP").await
        }
        "marketable_ioc_limit_fills" => marketable_ioc_limit_fills(p).await,
        "buy_stop_triggers_when_the_price_rises" => {
            buy_stop_triggers_when_the_price_rises(p, h).await
        }
        "sell_stop_triggers_when_the_price_falls" => {
            sell_stop_triggers_when_the_price_falls(p, h).await
        }
        "stop_limit_remembers_its_trigger" => stop_limit_remembers_its_trigger(p, h).await,
        "day_order_expires_at_the_close" => day_order_expires_at_the_close(p, h).await,
        "quote_bid_is_below_ask" => quote_bid_is_below_ask(p).await,
        "bars_are_consistent" => bars_are_consistent(p).await,
        "unknown_order_is_not_found" => unknown_order_is_not_found(p).await,
        "malformed_orders_are_validation_errors" => malformed_orders_are_validation_errors(p).await,
        "asset_is_described_and_unlisted_is_not_found" => {
            asset_is_described_and_unlisted_is_not_found(p).await
        }
        other => panic!("unknown brokerage scenario {other}"),
    }
}

/// How often and how long an order expected to become final is polled.
const POLLS: usize = 50;
const POLL_EVERY: Duration = Duration::from_millis(200);

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").expect("amount")
}

fn cents(amount: Decimal) -> Money {
    Money::rounded(amount, Currency::USD)
}

/// A fresh client order id.
fn coid() -> String {
    format!("conf-{}", uuid::Uuid::new_v4().simple())
}

fn order(symbol: &str, side: OrderSide, qty: i64, t: OrderType, tif: TimeInForce) -> OrderRequest {
    OrderRequest {
        symbol: symbol.into(),
        side,
        qty: Decimal::from(qty),
        order_type: t,
        time_in_force: tif,
        limit_price: None,
        stop_price: None,
        confirmation_token: None,
    }
}

fn market(symbol: &str, side: OrderSide, qty: i64) -> OrderRequest {
    order(symbol, side, qty, OrderType::Market, TimeInForce::Day)
}

fn limit(symbol: &str, side: OrderSide, qty: i64, tif: TimeInForce, price: Money) -> OrderRequest {
    let mut req = order(symbol, side, qty, OrderType::Limit, tif);
    req.limit_price = Some(price);
    req
}

fn le(a: &Money, b: &Money) -> bool {
    a.checked_cmp(b).expect("same currency").is_le()
}

fn lt(a: &Money, b: &Money) -> bool {
    a.checked_cmp(b).expect("same currency").is_lt()
}

async fn place(p: &dyn BrokerageProvider, req: &OrderRequest) -> ProviderOrder {
    let id = coid();
    let o = p.place_order(req, &id).await.unwrap_or_else(|e| {
        panic!(
            "{} {} {} {}: {e}",
            req.side, req.qty, req.symbol, req.order_type
        )
    });
    assert_eq!(
        o.client_order_id, id,
        "the order carries its client order id"
    );
    o
}

/// Polls an order until it is final (filled, canceled, expired, rejected) or time runs out.
async fn settle(p: &dyn BrokerageProvider, mut o: ProviderOrder) -> ProviderOrder {
    for _ in 0..POLLS {
        if o.status.is_final() {
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
        o = p.get_order(&o.provider_id).await.expect("get order");
    }
    o
}

/// Places an order and waits for it to be final.
async fn place_final(p: &dyn BrokerageProvider, req: &OrderRequest) -> ProviderOrder {
    let o = place(p, req).await;
    settle(p, o).await
}

async fn get(p: &dyn BrokerageProvider, o: &ProviderOrder) -> ProviderOrder {
    p.get_order(&o.provider_id).await.expect("get order")
}

/// Cancels an order a scenario leaves resting, so real accounts stay clean.
async fn tidy(p: &dyn BrokerageProvider, o: &ProviderOrder) {
    let _ = p.cancel_order(&o.provider_id).await;
}

async fn held(p: &dyn BrokerageProvider, symbol: &str) -> Decimal {
    p.positions()
        .await
        .expect("positions")
        .into_iter()
        .find(|pos| pos.symbol == symbol)
        .map(|pos| pos.qty)
        .unwrap_or(Decimal::ZERO)
}

async fn cash(p: &dyn BrokerageProvider) -> Money {
    p.account().await.expect("account").cash
}

async fn buying_power(p: &dyn BrokerageProvider) -> Money {
    p.account().await.expect("account").buying_power
}

async fn market_is_open(p: &dyn BrokerageProvider) -> bool {
    p.clock().await.expect("clock").is_open
}

fn closed() -> Outcome {
    Outcome::skipped("needs fills and the market is closed")
}

/// Half the current bid, in cents: a buy limit that will not fill.
async fn far_below(p: &dyn BrokerageProvider, symbol: &str) -> Money {
    let q = p.latest_quote(symbol).await.expect("quote");
    let half = cents(q.bid.amount() / Decimal::TWO);
    if half.is_positive() {
        half
    } else {
        usd("0.01")
    }
}

fn assert_filled(o: &ProviderOrder, qty: i64, what: &str) -> Money {
    assert_eq!(
        o.status,
        OrderStatus::Filled,
        "{what} fills (reason: {:?})",
        o.reject_reason
    );
    assert_eq!(o.filled_qty, Decimal::from(qty), "{what} fills completely");
    let price = o
        .filled_avg_price
        .unwrap_or_else(|| panic!("{what}: a filled order has a fill price"));
    assert!(price.is_positive(), "{what}: the fill price is positive");
    price
}

fn assert_rejected(o: &ProviderOrder, what: &str) {
    assert_eq!(o.status, OrderStatus::Rejected, "{what} is rejected");
    assert!(
        o.reject_reason.as_deref().is_some_and(|r| !r.is_empty()),
        "{what}: a rejection says why"
    );
    assert_eq!(o.filled_qty, Decimal::ZERO, "{what}: nothing filled");
}

/// The account has positive cash and buying power, equity in the same currency, and reports
/// the provider's mode.
pub async fn account_has_cash_buying_power_and_mode(p: &dyn BrokerageProvider) -> Outcome {
    let a = p.account().await.expect("account");
    assert!(!a.account_number.is_empty(), "the account has a number");
    assert!(a.cash.is_positive(), "cash {} is positive", a.cash);
    assert!(
        a.buying_power.is_positive(),
        "buying power {} is positive",
        a.buying_power
    );
    assert_eq!(a.equity.currency(), a.cash.currency());
    assert_eq!(a.buying_power.currency(), a.cash.currency());
    assert_eq!(a.mode, p.mode(), "the account reports the provider's mode");
    Outcome::Passed
}

/// The clock's fields agree: while open the close comes first, while closed the open does.
pub async fn clock_is_consistent(p: &dyn BrokerageProvider) -> Outcome {
    let c = p.clock().await.expect("clock");
    if c.is_open {
        assert!(
            c.timestamp < c.next_close && c.next_close <= c.next_open,
            "open: now {} < next close {} <= next open {}",
            c.timestamp,
            c.next_close,
            c.next_open
        );
    } else {
        assert!(
            c.timestamp < c.next_open && c.next_open < c.next_close,
            "closed: now {} < next open {} < next close {}",
            c.timestamp,
            c.next_open,
            c.next_close
        );
    }
    let later = p.clock().await.expect("clock again");
    assert!(later.timestamp >= c.timestamp, "the clock does not go back");
    Outcome::Passed
}

/// A market buy fills at a positive price near the quote, shows in positions and costs
/// exactly its notional in cash.
pub async fn market_buy_fills_into_a_position(p: &dyn BrokerageProvider) -> Outcome {
    if !market_is_open(p).await {
        return closed();
    }
    let symbol = "AAPL";
    let (cash_before, held_before) = (cash(p).await, held(p, symbol).await);
    let q = p.latest_quote(symbol).await.expect("quote");
    let o = place_final(p, &market(symbol, OrderSide::Buy, 2)).await;
    let price = assert_filled(&o, 2, "a market buy");
    let (lo, hi) = (
        cents(q.bid.amount() * Decimal::new(9, 1)),
        cents(q.ask.amount() * Decimal::new(11, 1)),
    );
    assert!(
        le(&lo, &price) && le(&price, &hi),
        "fill {price} is near the quote {} / {}",
        q.bid,
        q.ask
    );
    let positions = p.positions().await.expect("positions");
    let pos = positions
        .iter()
        .find(|pos| pos.symbol == symbol)
        .expect("a position after a buy");
    assert_eq!(
        pos.qty - held_before,
        Decimal::from(2),
        "the position grew by 2"
    );
    assert!(pos.avg_entry_price.is_positive() && pos.current_price.is_positive());
    assert!(pos.market_value.is_positive());
    let cash_after = cash(p).await;
    assert_eq!(
        cash_before.checked_sub(&cash_after).expect("same currency"),
        price.checked_mul(Decimal::from(2)).expect("notional"),
        "cash paid equals the fill"
    );
    Outcome::Passed
}

/// An order is found by its client order id; placing again with the same client order id
/// returns the same order and places nothing (cash and position unchanged).
pub async fn client_order_id_places_once(p: &dyn BrokerageProvider) -> Outcome {
    let symbol = "MSFT";
    let open = market_is_open(p).await;
    let req = if open {
        market(symbol, OrderSide::Buy, 1)
    } else {
        limit(
            symbol,
            OrderSide::Buy,
            1,
            TimeInForce::Gtc,
            far_below(p, symbol).await,
        )
    };
    let id = coid();
    let first = p.place_order(&req, &id).await.expect("order");
    let first = if open { settle(p, first).await } else { first };
    if open {
        assert_filled(&first, 1, "a market buy");
    }
    let (cash_before, held_before) = (cash(p).await, held(p, symbol).await);
    let found = p
        .get_order_by_client_id(&id)
        .await
        .expect("lookup by client order id")
        .expect("found by client order id");
    assert_eq!(found.provider_id, first.provider_id);
    assert_eq!(found.client_order_id, id);
    for attempt in 1..=2 {
        let again = p
            .place_order(&req, &id)
            .await
            .unwrap_or_else(|e| panic!("placing again ({attempt}): {e}"));
        assert_eq!(
            again.provider_id, first.provider_id,
            "placing again ({attempt}) returns the first order"
        );
    }
    assert_eq!(cash(p).await, cash_before, "no second fill: cash unchanged");
    assert_eq!(
        held(p, symbol).await,
        held_before,
        "no second fill: position unchanged"
    );
    let unknown = p
        .get_order_by_client_id(&coid())
        .await
        .expect("lookup of an unknown client order id");
    assert!(unknown.is_none(), "an unknown client order id: {unknown:?}");
    tidy(p, &first).await;
    Outcome::Passed
}

/// Selling part of a position reduces it and pays its notional; selling the rest closes it.
pub async fn sell_reduces_then_closes_a_position(p: &dyn BrokerageProvider) -> Outcome {
    if !market_is_open(p).await {
        return closed();
    }
    let symbol = "GOOGL";
    let before = held(p, symbol).await;
    assert_filled(
        &place_final(p, &market(symbol, OrderSide::Buy, 3)).await,
        3,
        "a market buy",
    );
    let cash_before = cash(p).await;
    let sold = place_final(p, &market(symbol, OrderSide::Sell, 1)).await;
    let price = assert_filled(&sold, 1, "a market sell");
    assert_eq!(
        held(p, symbol).await - before,
        Decimal::from(2),
        "one of three sold"
    );
    assert_eq!(
        cash(p)
            .await
            .checked_sub(&cash_before)
            .expect("same currency"),
        price,
        "the sale pays its fill"
    );
    assert_filled(
        &place_final(p, &market(symbol, OrderSide::Sell, 2)).await,
        2,
        "selling the rest",
    );
    assert_eq!(
        held(p, symbol).await,
        before,
        "the position is back where it was"
    );
    if before.is_zero() {
        let positions = p.positions().await.expect("positions");
        assert!(
            positions.iter().all(|pos| pos.symbol != symbol),
            "a closed position is not listed"
        );
    }
    Outcome::Passed
}

/// Selling more than is held is rejected with a reason; nothing moves.
pub async fn sell_more_than_held_is_rejected(p: &dyn BrokerageProvider) -> Outcome {
    let symbol = "TSLA";
    if market_is_open(p).await {
        assert_filled(
            &place_final(p, &market(symbol, OrderSide::Buy, 1)).await,
            1,
            "a market buy",
        );
    }
    let (cash_before, held_before) = (cash(p).await, held(p, symbol).await);
    let mut req = market(symbol, OrderSide::Sell, 5);
    req.qty += held_before;
    let o = place_final(p, &req).await;
    assert_rejected(&o, "selling more than held");
    assert_eq!(cash(p).await, cash_before, "cash unchanged");
    assert_eq!(held(p, symbol).await, held_before, "position unchanged");
    Outcome::Passed
}

/// A buy beyond buying power is rejected with a reason; nothing moves.
pub async fn buying_power_exceeded_is_rejected(p: &dyn BrokerageProvider) -> Outcome {
    let symbol = "SPY";
    let a = p.account().await.expect("account");
    let q = p.latest_quote(symbol).await.expect("quote");
    let qty = (a.buying_power.amount() / q.ask.amount()).ceil() + Decimal::ONE;
    let held_before = held(p, symbol).await;
    let mut req = market(symbol, OrderSide::Buy, 1);
    req.qty = qty;
    let o = place_final(p, &req).await;
    assert_rejected(
        &o,
        &format!(
            "buying {qty} {symbol} with {} of buying power",
            a.buying_power
        ),
    );
    assert_eq!(cash(p).await, a.cash, "cash unchanged");
    assert_eq!(held(p, symbol).await, held_before, "position unchanged");
    Outcome::Passed
}

/// A buy limit below the price rests (and holds buying power); it fills, never above its
/// limit, once the price comes down below it.
pub async fn limit_buy_rests_until_the_price_comes_down(
    p: &dyn BrokerageProvider,
    h: &BrokerageHarness,
) -> Outcome {
    let Some(set_price) = &h.set_price else {
        return Outcome::skipped("needs the `set_price` hook");
    };
    let symbol = "NVDA";
    set_price(symbol, usd("100.00"));
    let (power_before, held_before) = (buying_power(p).await, held(p, symbol).await);
    let o = place(
        p,
        &limit(symbol, OrderSide::Buy, 3, TimeInForce::Gtc, usd("90.00")),
    )
    .await;
    assert_eq!(o.status, OrderStatus::New, "a limit below the price rests");
    assert_eq!(o.filled_qty, Decimal::ZERO);
    assert_eq!(get(p, &o).await.status, OrderStatus::New, "it still rests");
    assert!(
        lt(&buying_power(p).await, &power_before),
        "a resting buy holds buying power"
    );
    set_price(symbol, usd("95.00"));
    assert_eq!(
        get(p, &o).await.status,
        OrderStatus::New,
        "still above the limit"
    );
    let cash_before = cash(p).await;
    set_price(symbol, usd("89.00"));
    let filled = settle(p, get(p, &o).await).await;
    let price = assert_filled(&filled, 3, "the limit buy below the new price");
    assert!(
        le(&price, &usd("90.00")),
        "a buy limit never fills above its limit: {price}"
    );
    assert_eq!(held(p, symbol).await - held_before, Decimal::from(3));
    assert_eq!(
        cash_before
            .checked_sub(&cash(p).await)
            .expect("same currency"),
        price.checked_mul(Decimal::from(3)).expect("notional"),
        "cash paid equals the fill"
    );
    Outcome::Passed
}

/// A resting order cancels; it reads back canceled, cancelling again is harmless, and the
/// buying power it held is released.
pub async fn open_order_cancels(p: &dyn BrokerageProvider) -> Outcome {
    let symbol = "AMZN";
    let price = far_below(p, symbol).await;
    let power_before = buying_power(p).await;
    let o = place(
        p,
        &limit(symbol, OrderSide::Buy, 2, TimeInForce::Gtc, price),
    )
    .await;
    assert!(
        !o.status.is_final(),
        "a buy limit at half the price rests, got {:?}",
        o.status
    );
    let power_resting = buying_power(p).await;
    assert!(
        lt(&power_resting, &power_before),
        "a resting buy holds buying power"
    );
    let canceled = p.cancel_order(&o.provider_id).await.expect("cancel");
    let canceled = settle(p, canceled).await;
    assert_eq!(
        canceled.status,
        OrderStatus::Canceled,
        "cancel of an open order"
    );
    assert_eq!(canceled.filled_qty, Decimal::ZERO);
    assert_eq!(
        get(p, &o).await.status,
        OrderStatus::Canceled,
        "reads back canceled"
    );
    let again = p
        .cancel_order(&o.provider_id)
        .await
        .expect("cancelling a canceled order answers with its status");
    assert_eq!(again.status, OrderStatus::Canceled);
    assert!(
        lt(&power_resting, &buying_power(p).await),
        "cancelling releases the buying power"
    );
    Outcome::Passed
}

/// An IOC or FOK limit that cannot fill now is canceled, not left resting.
pub async fn limit_that_cannot_fill_is_canceled(
    p: &dyn BrokerageProvider,
    tif: TimeInForce,
    symbol: &str,
) -> Outcome {
    if !market_is_open(p).await {
        return closed();
    }
    let price = far_below(p, symbol).await;
    let held_before = held(p, symbol).await;
    let o = place_final(p, &limit(symbol, OrderSide::Buy, 1, tif, price)).await;
    assert_eq!(
        o.status,
        OrderStatus::Canceled,
        "a {tif} limit at half the price is canceled"
    );
    assert_eq!(o.filled_qty, Decimal::ZERO, "{tif}: nothing filled");
    assert_eq!(held(p, symbol).await, held_before);
    Outcome::Passed
}

/// An IOC limit above the ask fills at once, never above its limit.
pub async fn marketable_ioc_limit_fills(p: &dyn BrokerageProvider) -> Outcome {
    if !market_is_open(p).await {
        return closed();
    }
    let symbol = "JPM";
    let q = p.latest_quote(symbol).await.expect("quote");
    let cap = cents(q.ask.amount() * Decimal::new(105, 2));
    let o = place_final(p, &limit(symbol, OrderSide::Buy, 1, TimeInForce::Ioc, cap)).await;
    let price = assert_filled(&o, 1, "a marketable IOC limit");
    assert!(le(&price, &cap), "filled at {price}, above the limit {cap}");
    Outcome::Passed
}

/// A buy stop waits while the price stays below the stop and fills once it rises to it.
pub async fn buy_stop_triggers_when_the_price_rises(
    p: &dyn BrokerageProvider,
    h: &BrokerageHarness,
) -> Outcome {
    let Some(set_price) = &h.set_price else {
        return Outcome::skipped("needs the `set_price` hook");
    };
    let symbol = "META";
    set_price(symbol, usd("500.00"));
    let mut req = order(symbol, OrderSide::Buy, 1, OrderType::Stop, TimeInForce::Gtc);
    req.stop_price = Some(usd("510.00"));
    let o = place(p, &req).await;
    assert_eq!(
        o.status,
        OrderStatus::New,
        "a buy stop above the price waits"
    );
    set_price(symbol, usd("505.00"));
    assert_eq!(
        get(p, &o).await.status,
        OrderStatus::New,
        "505 is below the stop"
    );
    set_price(symbol, usd("512.00"));
    let filled = settle(p, get(p, &o).await).await;
    let price = assert_filled(&filled, 1, "the buy stop once the price passed it");
    assert!(
        le(&usd("510.00"), &price),
        "a triggered buy stop fills at the market, at or above the stop: {price}"
    );
    Outcome::Passed
}

/// A sell stop below the price protects a position: it fills once the price falls to it.
pub async fn sell_stop_triggers_when_the_price_falls(
    p: &dyn BrokerageProvider,
    h: &BrokerageHarness,
) -> Outcome {
    let Some(set_price) = &h.set_price else {
        return Outcome::skipped("needs the `set_price` hook");
    };
    let symbol = "AMD";
    set_price(symbol, usd("150.00"));
    let before = held(p, symbol).await;
    assert_filled(
        &place_final(p, &market(symbol, OrderSide::Buy, 2)).await,
        2,
        "a market buy",
    );
    let mut req = order(
        symbol,
        OrderSide::Sell,
        2,
        OrderType::Stop,
        TimeInForce::Gtc,
    );
    req.stop_price = Some(usd("140.00"));
    let o = place(p, &req).await;
    assert_eq!(
        o.status,
        OrderStatus::New,
        "a sell stop below the price waits"
    );
    set_price(symbol, usd("145.00"));
    assert_eq!(
        get(p, &o).await.status,
        OrderStatus::New,
        "145 is above the stop"
    );
    set_price(symbol, usd("139.00"));
    let filled = settle(p, get(p, &o).await).await;
    let price = assert_filled(&filled, 2, "the sell stop once the price fell to it");
    assert!(
        le(&price, &usd("140.00")),
        "a triggered sell stop fills at the market, at or below the stop: {price}"
    );
    assert_eq!(held(p, symbol).await, before, "the position is sold");
    Outcome::Passed
}

/// A buy stop-limit triggered above its limit waits for the limit, and stays triggered when
/// the price falls back below the stop.
pub async fn stop_limit_remembers_its_trigger(
    p: &dyn BrokerageProvider,
    h: &BrokerageHarness,
) -> Outcome {
    let Some(set_price) = &h.set_price else {
        return Outcome::skipped("needs the `set_price` hook");
    };
    let symbol = "NFLX";
    set_price(symbol, usd("500.00"));
    let mut req = order(
        symbol,
        OrderSide::Buy,
        1,
        OrderType::StopLimit,
        TimeInForce::Gtc,
    );
    req.stop_price = Some(usd("510.00"));
    req.limit_price = Some(usd("515.00"));
    let o = place(p, &req).await;
    assert_eq!(o.status, OrderStatus::New, "below the stop: waits");
    set_price(symbol, usd("520.00"));
    assert_eq!(
        get(p, &o).await.status,
        OrderStatus::New,
        "triggered at 520, but above the 515 limit: waits"
    );
    set_price(symbol, usd("505.00"));
    let filled = settle(p, get(p, &o).await).await;
    let price = assert_filled(&filled, 1, "the triggered stop-limit back under its limit");
    assert!(le(&price, &usd("515.00")), "never above the limit: {price}");
    Outcome::Passed
}

/// A resting day order lives until the close and expires after it; a GTC order does not.
pub async fn day_order_expires_at_the_close(
    p: &dyn BrokerageProvider,
    h: &BrokerageHarness,
) -> Outcome {
    let Some(advance) = &h.advance_clock else {
        return Outcome::skipped("needs the `advance_clock` hook");
    };
    let clock = p.clock().await.expect("clock");
    if !clock.is_open {
        return Outcome::skipped("day orders placed while closed wait for the open");
    }
    let symbol = "QQQ";
    let price = far_below(p, symbol).await;
    let day = place(
        p,
        &limit(symbol, OrderSide::Buy, 1, TimeInForce::Day, price),
    )
    .await;
    let gtc = place(
        p,
        &limit(symbol, OrderSide::Buy, 1, TimeInForce::Gtc, price),
    )
    .await;
    assert_eq!(
        day.status,
        OrderStatus::New,
        "a day limit at half the price rests"
    );
    let to_close = clock.next_close - clock.timestamp;
    advance(to_close / 2);
    assert_eq!(
        get(p, &day).await.status,
        OrderStatus::New,
        "a day order lives until the close"
    );
    advance(to_close);
    assert_eq!(
        get(p, &day).await.status,
        OrderStatus::Expired,
        "a day order expires after the close"
    );
    assert_eq!(
        get(p, &gtc).await.status,
        OrderStatus::New,
        "a GTC order does not"
    );
    tidy(p, &gtc).await;
    Outcome::Passed
}

/// A quote has a positive bid below the ask; a malformed symbol is a validation error.
pub async fn quote_bid_is_below_ask(p: &dyn BrokerageProvider) -> Outcome {
    let q = p.latest_quote("AAPL").await.expect("quote");
    assert_eq!(q.symbol, "AAPL");
    assert!(q.bid.is_positive(), "bid {} is positive", q.bid);
    assert!(lt(&q.bid, &q.ask), "bid {} is below ask {}", q.bid, q.ask);
    match p.latest_quote("not a symbol").await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Validation, "{e}"),
        Ok(q) => panic!("a quote for a malformed symbol: {q:?}"),
    }
    Outcome::Passed
}

/// Bars come as many as asked, oldest first, none in the future, each with
/// `low <= open, close <= high`.
pub async fn bars_are_consistent(p: &dyn BrokerageProvider) -> Outcome {
    let now = p.clock().await.expect("clock").timestamp;
    for timeframe in [BarTimeframe::Minute, BarTimeframe::Hour, BarTimeframe::Day] {
        for limit in [1, 30] {
            let bars = p
                .bars("AAPL", timeframe, limit)
                .await
                .unwrap_or_else(|e| panic!("{timeframe:?} bars: {e}"));
            assert_eq!(bars.len(), limit as usize, "{limit} {timeframe:?} bars");
            for pair in bars.windows(2) {
                assert!(pair[0].t < pair[1].t, "{timeframe:?} bars are oldest first");
            }
            for b in &bars {
                assert!(
                    b.t <= now,
                    "a {timeframe:?} bar starts in the future: {}",
                    b.t
                );
                assert!(b.low.is_positive(), "low {} is positive", b.low);
                assert!(le(&b.low, &b.high), "low {} <= high {}", b.low, b.high);
                for price in [&b.open, &b.close] {
                    assert!(
                        le(&b.low, price) && le(price, &b.high),
                        "{timeframe:?} bar at {}: {price} outside {}..{}",
                        b.t,
                        b.low,
                        b.high
                    );
                }
            }
        }
    }
    Outcome::Passed
}

/// An order id the broker never issued is not found, for reading and for cancelling.
pub async fn unknown_order_is_not_found(p: &dyn BrokerageProvider) -> Outcome {
    let unknown = uuid::Uuid::new_v4().to_string();
    match p.get_order(&unknown).await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
        Ok(o) => panic!("an unknown order was found: {o:?}"),
    }
    match p.cancel_order(&unknown).await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
        Ok(o) => panic!("an unknown order was cancelled: {o:?}"),
    }
    Outcome::Passed
}

/// A listed asset is described (AAPL: a tradable, active US equity with a name and an
/// exchange); a well-formed symbol the broker does not list is `NotFound`.
pub async fn asset_is_described_and_unlisted_is_not_found(p: &dyn BrokerageProvider) -> Outcome {
    let aapl = p.asset("AAPL").await.expect("AAPL is listed");
    assert_eq!(aapl.symbol, "AAPL");
    assert!(!aapl.id.is_empty(), "an asset has an id");
    assert!(!aapl.name.is_empty(), "an asset has a name");
    assert!(!aapl.exchange.is_empty(), "an asset has an exchange");
    assert_eq!(
        aapl.asset_class,
        AssetClass::UsEquity,
        "AAPL is a US equity"
    );
    assert_eq!(aapl.status, AssetStatus::Active, "AAPL is listed");
    assert!(aapl.tradable, "AAPL is tradable");
    match p.asset("ZZZZZZZQ").await {
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
        Ok(a) => panic!("an unlisted symbol was found: {a:?}"),
    }
    Outcome::Passed
}

/// Malformed orders are validation errors and place nothing.
pub async fn malformed_orders_are_validation_errors(p: &dyn BrokerageProvider) -> Outcome {
    let cash_before = cash(p).await;
    let mut zero = market("AAPL", OrderSide::Buy, 1);
    zero.qty = Decimal::ZERO;
    let no_limit = order(
        "AAPL",
        OrderSide::Buy,
        1,
        OrderType::Limit,
        TimeInForce::Gtc,
    );
    let mut stop_on_market = market("AAPL", OrderSide::Buy, 1);
    stop_on_market.stop_price = Some(usd("1.00"));
    let lower = market("aapl", OrderSide::Buy, 1);
    for (what, req) in [
        ("a zero quantity", &zero),
        ("a limit order without a limit price", &no_limit),
        ("a market order with a stop price", &stop_on_market),
        ("a lower-case symbol", &lower),
    ] {
        let id = coid();
        match p.place_order(req, &id).await {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Validation, "{what}: {e}"),
            Ok(o) => panic!("{what} was placed: {o:?}"),
        }
        let placed = p.get_order_by_client_id(&id).await.expect("lookup");
        assert!(placed.is_none(), "{what} left an order: {placed:?}");
    }
    match p.place_order(&market("AAPL", OrderSide::Buy, 1), "").await {
        Err(e) => assert_eq!(
            e.kind(),
            ErrorKind::Validation,
            "an empty client order id: {e}"
        ),
        Ok(o) => panic!("an order without a client order id was placed: {o:?}"),
    }
    assert_eq!(cash(p).await, cash_before, "nothing was bought");
    Outcome::Passed
}
