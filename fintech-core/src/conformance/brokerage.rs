//! Scenarios every [`BrokerageProvider`] passes: the simulator now, Alpaca paper later.
//! Scenarios that need to move the market or the clock run when the backend offers the hook.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::money::Money;
use crate::trading::{
    BarTimeframe, BrokerageProvider, OrderRequest, OrderSide, OrderStatus, OrderType, TimeInForce,
};

/// Pins a symbol's mid price (`None`: back to the feed).
pub type SetPrice = Box<dyn Fn(&str, Option<Money>) + Send + Sync>;

/// Moves the broker's clock forward.
pub type AdvanceClock = Box<dyn Fn(chrono::Duration) + Send + Sync>;

/// A brokerage provider under test and the backend's hooks.
pub struct BrokerageHarness {
    /// The provider.
    pub provider: Arc<dyn BrokerageProvider>,
    /// Pins a symbol's mid price (`None`: back to the feed), when the backend can.
    pub set_price: Option<SetPrice>,
    /// Moves the broker's clock forward, when the backend can.
    pub advance_clock: Option<AdvanceClock>,
}

/// Every scenario, by name.
pub const SCENARIOS: &[&str] = &[
    "account_and_clock",
    "market_buy_fills_into_a_position",
    "client_order_id_places_once",
    "no_short_selling",
    "buying_power_is_enforced",
    "limit_orders_wait_for_their_price",
    "ioc_and_fok_do_not_rest",
    "stop_orders_trigger",
    "day_orders_expire",
    "quotes_and_bars",
];

/// Runs the scenario called `name`.
pub async fn run(name: &str, h: &BrokerageHarness) {
    match name {
        "account_and_clock" => account_and_clock(h).await,
        "market_buy_fills_into_a_position" => market_buy_fills_into_a_position(h).await,
        "client_order_id_places_once" => client_order_id_places_once(h).await,
        "no_short_selling" => no_short_selling(h).await,
        "buying_power_is_enforced" => buying_power_is_enforced(h).await,
        "limit_orders_wait_for_their_price" => limit_orders_wait_for_their_price(h).await,
        "ioc_and_fok_do_not_rest" => ioc_and_fok_do_not_rest(h).await,
        "stop_orders_trigger" => stop_orders_trigger(h).await,
        "day_orders_expire" => day_orders_expire(h).await,
        "quotes_and_bars" => quotes_and_bars(h).await,
        other => panic!("unknown brokerage scenario {other}"),
    }
}

fn usd(s: &str) -> Money {
    Money::parse(s, "USD").expect("amount")
}

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
    }
}

/// The account has cash, buying power and a mode; the clock is consistent.
pub async fn account_and_clock(h: &BrokerageHarness) {
    let a = h.provider.account().await.expect("account");
    assert!(a.cash.is_positive());
    assert!(a.buying_power.is_positive());
    assert!(a
        .equity
        .checked_cmp(&a.cash)
        .expect("same currency")
        .is_ge());
    assert_eq!(
        a.mode,
        h.provider.mode(),
        "the account reports the provider's mode"
    );
    let c = h.provider.clock().await.expect("clock");
    assert!(c.next_close > c.timestamp || !c.is_open);
    assert!(c.next_open > c.timestamp || c.is_open);
}

/// A market buy fills at a positive price, shows in positions and costs cash.
pub async fn market_buy_fills_into_a_position(h: &BrokerageHarness) {
    let before = h.provider.account().await.expect("account").cash;
    let o = h
        .provider
        .place_order(
            &order(
                "AAPL",
                OrderSide::Buy,
                2,
                OrderType::Market,
                TimeInForce::Day,
            ),
            &coid(),
        )
        .await
        .expect("order");
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.filled_qty, Decimal::from(2));
    let price = o.filled_avg_price.expect("fill price");
    assert!(price.is_positive());
    let positions = h.provider.positions().await.expect("positions");
    let aapl = positions
        .iter()
        .find(|p| p.symbol == "AAPL")
        .expect("AAPL position");
    assert!(aapl.qty >= Decimal::from(2));
    let after = h.provider.account().await.expect("account").cash;
    assert_eq!(
        before.checked_sub(&after).expect("same currency"),
        price.checked_mul(Decimal::from(2)).expect("notional"),
        "cash paid equals the fill"
    );
}

/// Placing again with the same client order id returns the same order, no second fill.
pub async fn client_order_id_places_once(h: &BrokerageHarness) {
    let id = coid();
    let req = order(
        "MSFT",
        OrderSide::Buy,
        1,
        OrderType::Market,
        TimeInForce::Day,
    );
    let first = h.provider.place_order(&req, &id).await.expect("order");
    let cash = h.provider.account().await.expect("account").cash;
    let again = h.provider.place_order(&req, &id).await.expect("again");
    assert_eq!(again.provider_id, first.provider_id);
    assert_eq!(h.provider.account().await.expect("account").cash, cash);
    let found = h
        .provider
        .get_order_by_client_id(&id)
        .await
        .expect("lookup")
        .expect("found by client order id");
    assert_eq!(found.provider_id, first.provider_id);
    assert!(h
        .provider
        .get_order_by_client_id(&coid())
        .await
        .expect("lookup")
        .is_none());
}

/// Selling more than is held is rejected with a reason.
pub async fn no_short_selling(h: &BrokerageHarness) {
    let o = h
        .provider
        .place_order(
            &order(
                "TSLA",
                OrderSide::Sell,
                5,
                OrderType::Market,
                TimeInForce::Day,
            ),
            &coid(),
        )
        .await
        .expect("answered");
    assert_eq!(o.status, OrderStatus::Rejected);
    assert!(o.reject_reason.is_some_and(|r| !r.is_empty()));
}

/// An order beyond buying power is rejected.
pub async fn buying_power_is_enforced(h: &BrokerageHarness) {
    let o = h
        .provider
        .place_order(
            &order(
                "SPY",
                OrderSide::Buy,
                1_000_000,
                OrderType::Market,
                TimeInForce::Day,
            ),
            &coid(),
        )
        .await
        .expect("answered");
    assert_eq!(o.status, OrderStatus::Rejected);
}

/// A buy limit below the market rests; it fills when the price comes down; a resting order
/// cancels.
pub async fn limit_orders_wait_for_their_price(h: &BrokerageHarness) {
    let Some(set_price) = &h.set_price else {
        return;
    };
    set_price("NVDA", Some(usd("100.00")));
    let mut req = order(
        "NVDA",
        OrderSide::Buy,
        3,
        OrderType::Limit,
        TimeInForce::Gtc,
    );
    req.limit_price = Some(usd("90.00"));
    let o = h.provider.place_order(&req, &coid()).await.expect("limit");
    assert_eq!(o.status, OrderStatus::New);
    let other = h.provider.place_order(&req, &coid()).await.expect("limit");
    set_price("NVDA", Some(usd("89.00")));
    let filled = h.provider.get_order(&o.provider_id).await.expect("get");
    assert_eq!(filled.status, OrderStatus::Filled);
    let price = filled.filled_avg_price.expect("price");
    assert!(
        price.checked_cmp(&usd("90.00")).expect("usd").is_le(),
        "never worse than the limit"
    );
    let canceled = h
        .provider
        .cancel_order(&other.provider_id)
        .await
        .expect("cancel");
    assert_eq!(
        canceled.status,
        OrderStatus::Filled,
        "it had filled too when the price fell"
    );
    set_price("NVDA", Some(usd("100.00")));
    let resting = h.provider.place_order(&req, &coid()).await.expect("limit");
    let canceled = h
        .provider
        .cancel_order(&resting.provider_id)
        .await
        .expect("cancel");
    assert_eq!(canceled.status, OrderStatus::Canceled);
    set_price("NVDA", None);
}

/// IOC and FOK orders that cannot fill now are cancelled, not left resting.
pub async fn ioc_and_fok_do_not_rest(h: &BrokerageHarness) {
    let Some(set_price) = &h.set_price else {
        return;
    };
    set_price("AMZN", Some(usd("200.00")));
    for tif in [TimeInForce::Ioc, TimeInForce::Fok] {
        let mut req = order("AMZN", OrderSide::Buy, 1, OrderType::Limit, tif);
        req.limit_price = Some(usd("150.00"));
        let o = h.provider.place_order(&req, &coid()).await.expect("order");
        assert_eq!(o.status, OrderStatus::Canceled, "{tif}");
    }
    let mut req = order(
        "AMZN",
        OrderSide::Buy,
        1,
        OrderType::Limit,
        TimeInForce::Ioc,
    );
    req.limit_price = Some(usd("250.00"));
    let o = h.provider.place_order(&req, &coid()).await.expect("order");
    assert_eq!(o.status, OrderStatus::Filled, "a marketable IOC fills");
    set_price("AMZN", None);
}

/// A buy stop waits until the price rises to it, then fills.
pub async fn stop_orders_trigger(h: &BrokerageHarness) {
    let Some(set_price) = &h.set_price else {
        return;
    };
    set_price("META", Some(usd("500.00")));
    let mut req = order("META", OrderSide::Buy, 1, OrderType::Stop, TimeInForce::Gtc);
    req.stop_price = Some(usd("510.00"));
    let o = h.provider.place_order(&req, &coid()).await.expect("stop");
    assert_eq!(o.status, OrderStatus::New);
    set_price("META", Some(usd("505.00")));
    assert_eq!(
        h.provider
            .get_order(&o.provider_id)
            .await
            .expect("get")
            .status,
        OrderStatus::New
    );
    set_price("META", Some(usd("512.00")));
    let filled = h.provider.get_order(&o.provider_id).await.expect("get");
    assert_eq!(filled.status, OrderStatus::Filled);
    set_price("META", None);
}

/// A resting day order expires when the trading day ends; a GTC order does not.
pub async fn day_orders_expire(h: &BrokerageHarness) {
    let (Some(set_price), Some(advance)) = (&h.set_price, &h.advance_clock) else {
        return;
    };
    set_price("QQQ", Some(usd("400.00")));
    let mut day = order("QQQ", OrderSide::Buy, 1, OrderType::Limit, TimeInForce::Day);
    day.limit_price = Some(usd("300.00"));
    let mut gtc = day.clone();
    gtc.time_in_force = TimeInForce::Gtc;
    let d = h.provider.place_order(&day, &coid()).await.expect("day");
    let g = h.provider.place_order(&gtc, &coid()).await.expect("gtc");
    advance(chrono::Duration::days(1));
    assert_eq!(
        h.provider
            .get_order(&d.provider_id)
            .await
            .expect("get")
            .status,
        OrderStatus::Expired
    );
    assert_eq!(
        h.provider
            .get_order(&g.provider_id)
            .await
            .expect("get")
            .status,
        OrderStatus::New
    );
    set_price("QQQ", None);
}

/// Quotes have bid below ask; bars come as many as asked, each internally consistent.
pub async fn quotes_and_bars(h: &BrokerageHarness) {
    let q = h.provider.latest_quote("AAPL").await.expect("quote");
    assert!(q.bid.checked_cmp(&q.ask).expect("usd").is_lt());
    assert!(h.provider.latest_quote("not a symbol").await.is_err());
    let bars = h
        .provider
        .bars("AAPL", BarTimeframe::Minute, 30)
        .await
        .expect("bars");
    assert_eq!(bars.len(), 30);
    for pair in bars.windows(2) {
        assert!(pair[0].t < pair[1].t, "oldest first");
    }
    for b in &bars {
        for p in [&b.open, &b.close] {
            assert!(b.low.checked_cmp(p).expect("usd").is_le());
            assert!(p.checked_cmp(&b.high).expect("usd").is_le());
        }
    }
}
