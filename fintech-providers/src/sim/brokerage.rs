//! A simulated broker in the Alpaca paper-trading model: one cash account, orders matched
//! against the deterministic price feed of [`super::prices`], positions, quotes, bars and a
//! clock.
//!
//! The simulated market trades around the clock (so demos and tests work at any hour); a
//! trading day is a UTC calendar day, and `day`, `opg` and `cls` orders expire when it ends.
//! Its clock reads closed in a day's last minute, so `next_close` (23:59 UTC) and `next_open`
//! (midnight) are two instants as at a real broker; orders still match in that minute.
//! Orders are matched whenever anyone looks (placing, fetching, listing positions): buys fill
//! at the ask, sells at the bid, limit orders when the price reaches the limit, stop orders
//! once the stop price has traded. `ioc` and `fok` orders that cannot fill at once are
//! cancelled. Buying power is cash minus what open buy orders reserve; there is no margin and
//! no short selling.
//!
//! State (namespace `sim.brokerage`): `account` (cash, positions and the ids of open
//! orders), `order` by id, `client` (client order id → order id). Matching reads and writes
//! them in one state transaction, so fills are counted once whichever process looks.
//! Pinned prices ([`SimBrokerage::set_price`]) stay in this process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};
use fintech_core::trading::{
    validate_symbol, Asset, AssetClass, AssetStatus, Bar, BarTimeframe, BrokerageAccount,
    BrokerageProvider, MarketClock, OrderRequest, OrderSide, OrderStatus, OrderType, Position,
    ProviderOrder, Quote, TimeInForce,
};
use fintech_core::{Currency, Error, Money, ProviderMode, Result};
use rust_decimal::Decimal;

use super::prices::{hash_parts, price_cents, SPREAD};
use fintech_core::ProviderStateTx;
use serde::{Deserialize, Serialize};

use super::{lock, SimClock, SimState};

/// The assets the simulator lists: `(symbol, name, exchange, fractionable)`, all active,
/// tradable, shortable, marginable and easy to borrow. The price feed prices any well-formed
/// ticker, so orders for unlisted symbols still trade (the simulator is a sandbox); asset
/// lookups answer only these and [`UNTRADABLE`].
pub const ASSETS: &[(&str, &str, &str, bool)] = &[
    ("AAPL", "Apple Inc. Common Stock", "NASDAQ", true),
    ("MSFT", "Microsoft Corporation Common Stock", "NASDAQ", true),
    (
        "GOOGL",
        "Alphabet Inc. Class A Common Stock",
        "NASDAQ",
        true,
    ),
    ("AMZN", "Amazon.com, Inc. Common Stock", "NASDAQ", true),
    ("NVDA", "NVIDIA Corporation Common Stock", "NASDAQ", true),
    ("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", true),
    (
        "META",
        "Meta Platforms, Inc. Class A Common Stock",
        "NASDAQ",
        true,
    ),
    ("SPY", "SPDR S&P 500 ETF Trust", "ARCA", true),
    ("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", true),
    ("BRK.B", "Berkshire Hathaway Inc. Class B", "NYSE", false),
];

/// A listed but inactive, untradable asset (a delisted company): its lookup answers
/// `tradable: false` and every order for it is rejected, as Alpaca does.
pub const UNTRADABLE: (&str, &str, &str) = ("HALT", "Sim Halted Holdings (delisted)", "OTC");

fn sim_asset(symbol: &str) -> Option<Asset> {
    let asset =
        |symbol: &str, name: &str, exchange: &str, listed: bool, fractionable: bool| Asset {
            id: format!("sim-asset-{}", symbol.to_ascii_lowercase()),
            symbol: symbol.to_owned(),
            name: name.to_owned(),
            exchange: exchange.to_owned(),
            asset_class: AssetClass::UsEquity,
            status: if listed {
                AssetStatus::Active
            } else {
                AssetStatus::Inactive
            },
            tradable: listed,
            fractionable,
            shortable: listed,
            marginable: listed,
            easy_to_borrow: listed,
        };
    if symbol == UNTRADABLE.0 {
        return Some(asset(
            UNTRADABLE.0,
            UNTRADABLE.1,
            UNTRADABLE.2,
            false,
            false,
        ));
    }
    ASSETS
        .iter()
        .find(|(s, ..)| *s == symbol)
        .map(|(s, name, exchange, fractionable)| asset(s, name, exchange, true, *fractionable))
}

/// Cash in a new simulated account: 100,000.00 USD.
pub const STARTING_CASH: i64 = 10_000_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimOrder {
    id: String,
    client_order_id: String,
    req: OrderRequest,
    created_at: DateTime<Utc>,
    status: OrderStatus,
    triggered: bool,
    filled_avg_price: Option<Money>,
    reject_reason: Option<String>,
}

impl SimOrder {
    fn view(&self) -> ProviderOrder {
        ProviderOrder {
            provider_id: self.id.clone(),
            client_order_id: self.client_order_id.clone(),
            status: self.status,
            filled_qty: if self.status == OrderStatus::Filled {
                self.req.qty
            } else {
                Decimal::ZERO
            },
            filled_avg_price: self.filled_avg_price,
            reject_reason: self.reject_reason.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holding {
    qty: Decimal,
    /// Total cost of the shares held (exact, USD).
    cost: Money,
}

/// The account record: cash, positions and which orders are still open.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountRecord {
    cash: Money,
    positions: BTreeMap<String, Holding>,
    open: Vec<String>,
}

impl Default for AccountRecord {
    fn default() -> Self {
        Self {
            cash: usd(STARTING_CASH),
            positions: BTreeMap::new(),
            open: Vec::new(),
        }
    }
}

const ACCOUNT: &str = "account";
const ACCOUNT_KEY: &str = "main";
const ORDER: &str = "order";
const CLIENT: &str = "client";

/// The account with its open orders (and any other order a call looks at), loaded in a state
/// transaction, and the prices pinned in this process.
#[derive(Debug)]
struct Book {
    cash: Money,
    positions: BTreeMap<String, Holding>,
    orders: HashMap<String, SimOrder>,
    /// The stored form of each loaded order, to write back only what changed.
    loaded: HashMap<String, String>,
    overrides: HashMap<String, i64>,
}

/// The simulated broker of one tenant.
#[derive(Debug)]
pub struct SimBrokerage {
    account_number: String,
    clock: SimClock,
    state: SimState,
    overrides: Mutex<HashMap<String, i64>>,
}

fn usd(cents: i64) -> Money {
    Money::from_minor(cents, Currency::USD)
}

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::internal(format!("simulator state: {e}")))
}

impl Book {
    /// The account as committed, without a transaction (the view of a reader when no order is
    /// open, so nothing can change by looking).
    fn from_record(account: AccountRecord, overrides: HashMap<String, i64>) -> Self {
        Self {
            cash: account.cash,
            positions: account.positions,
            orders: HashMap::new(),
            loaded: HashMap::new(),
            overrides,
        }
    }

    /// Loads the account and its open orders.
    async fn load(tx: &mut ProviderStateTx, overrides: HashMap<String, i64>) -> Result<Self> {
        let account = tx
            .get_json::<AccountRecord>(ACCOUNT, ACCOUNT_KEY)
            .await?
            .unwrap_or_default();
        let open = account.open.clone();
        let mut book = Self::from_record(account, overrides);
        for id in &open {
            book.load_order(tx, id).await?;
        }
        Ok(book)
    }

    /// Loads one more order (no effect when loaded or unknown).
    async fn load_order(&mut self, tx: &mut ProviderStateTx, id: &str) -> Result<()> {
        if self.orders.contains_key(id) {
            return Ok(());
        }
        if let Some(text) = tx.get(ORDER, id).await? {
            let order: SimOrder = serde_json::from_str(&text)
                .map_err(|e| Error::internal(format!("simulator order {id}: {e}")))?;
            self.orders.insert(id.to_owned(), order);
            self.loaded.insert(id.to_owned(), text);
        }
        Ok(())
    }

    /// Writes back the orders that changed and the account with its open orders.
    async fn save(&self, tx: &mut ProviderStateTx) -> Result<()> {
        let mut open: Vec<(DateTime<Utc>, String)> = Vec::new();
        for (id, o) in &self.orders {
            let text = to_json(o)?;
            if self.loaded.get(id) != Some(&text) {
                tx.put(ORDER, id, &text).await?;
            }
            if !o.status.is_final() {
                open.push((o.created_at, id.clone()));
            }
        }
        open.sort();
        let account = AccountRecord {
            cash: self.cash,
            positions: self.positions.clone(),
            open: open.into_iter().map(|(_, id)| id).collect(),
        };
        tx.put_json(ACCOUNT, ACCOUNT_KEY, &account).await
    }

    fn price(&self, symbol: &str, at: DateTime<Utc>) -> i64 {
        self.overrides
            .get(symbol)
            .copied()
            .unwrap_or_else(|| price_cents(symbol, at))
    }

    fn held(&self, symbol: &str) -> Decimal {
        self.positions
            .get(symbol)
            .map(|h| h.qty)
            .unwrap_or(Decimal::ZERO)
    }

    /// Cash and shares that open orders (other than `except`) have set aside.
    fn reserved(
        &self,
        now: DateTime<Utc>,
        except: Option<&str>,
    ) -> Result<(Money, HashMap<String, Decimal>)> {
        let mut cash = usd(0);
        let mut shares: HashMap<String, Decimal> = HashMap::new();
        for o in self.orders.values() {
            if o.status.is_final() || Some(o.id.as_str()) == except {
                continue;
            }
            match o.req.side {
                OrderSide::Buy => {
                    let unit = o
                        .req
                        .limit_price
                        .or(o.req.stop_price)
                        .unwrap_or_else(|| usd(self.price(&o.req.symbol, now) + SPREAD));
                    cash = cash.checked_add(&unit.checked_mul(o.req.qty)?)?;
                }
                OrderSide::Sell => {
                    *shares.entry(o.req.symbol.clone()).or_default() += o.req.qty;
                }
            }
        }
        Ok((cash, shares))
    }

    fn buying_power(&self, now: DateTime<Utc>) -> Result<Money> {
        let (reserved, _) = self.reserved(now, None)?;
        self.cash.checked_sub(&reserved)
    }

    /// Refuses a new order the account cannot carry, with the reason Alpaca would give.
    fn admission(&self, o: &SimOrder, now: DateTime<Utc>) -> Result<Option<String>> {
        if o.req.symbol == UNTRADABLE.0 {
            return Ok(Some(format!("asset {} is not tradable", o.req.symbol)));
        }
        let (reserved_cash, reserved_shares) = self.reserved(now, Some(&o.id))?;
        match o.req.side {
            OrderSide::Buy => {
                let unit = o
                    .req
                    .limit_price
                    .or(o.req.stop_price)
                    .unwrap_or_else(|| usd(self.price(&o.req.symbol, now) + SPREAD));
                let needed = unit.checked_mul(o.req.qty)?;
                let power = self.cash.checked_sub(&reserved_cash)?;
                if needed.checked_cmp(&power)?.is_gt() {
                    return Ok(Some(format!(
                        "insufficient buying power: the order needs {needed}, {power} is available"
                    )));
                }
            }
            OrderSide::Sell => {
                let free = self.held(&o.req.symbol)
                    - reserved_shares
                        .get(&o.req.symbol)
                        .copied()
                        .unwrap_or(Decimal::ZERO);
                if o.req.qty > free {
                    return Ok(Some(format!(
                        "insufficient qty available for order (requested: {}, available: {free}); the simulator does not sell short",
                        o.req.qty
                    )));
                }
            }
        }
        Ok(None)
    }

    /// Matches one order against the price at `now`.
    fn evaluate(&mut self, id: &str, now: DateTime<Utc>, first_look: bool) -> Result<()> {
        let Some(mut o) = self.orders.get(id).cloned() else {
            return Ok(());
        };
        if o.status.is_final() {
            return Ok(());
        }
        let expires_at_day_end = matches!(
            o.req.time_in_force,
            TimeInForce::Day | TimeInForce::Opg | TimeInForce::Cls
        );
        if expires_at_day_end && now.date_naive() > o.created_at.date_naive() {
            o.status = OrderStatus::Expired;
            self.orders.insert(o.id.clone(), o);
            return Ok(());
        }
        let price = self.price(&o.req.symbol, now);
        let (bid, ask) = (usd(price - SPREAD), usd(price + SPREAD));
        let touch = match o.req.side {
            OrderSide::Buy => ask,
            OrderSide::Sell => bid,
        };
        // Buy stops trigger when the price rises to the stop, sell stops when it falls to it.
        let crossed = |level: &Money| -> Result<bool> {
            Ok(match o.req.side {
                OrderSide::Buy => touch.checked_cmp(level)?.is_ge(),
                OrderSide::Sell => touch.checked_cmp(level)?.is_le(),
            })
        };
        if matches!(o.req.order_type, OrderType::Stop | OrderType::StopLimit) && !o.triggered {
            if let Some(stop) = &o.req.stop_price {
                o.triggered = crossed(stop)?;
            }
        }
        let marketable = match o.req.order_type {
            OrderType::Market => true,
            OrderType::Stop => o.triggered,
            OrderType::Limit | OrderType::StopLimit => {
                let stop_ok = o.req.order_type == OrderType::Limit || o.triggered;
                let limit_ok = match (&o.req.limit_price, o.req.side) {
                    (Some(l), OrderSide::Buy) => touch.checked_cmp(l)?.is_le(),
                    (Some(l), OrderSide::Sell) => touch.checked_cmp(l)?.is_ge(),
                    (None, _) => false,
                };
                stop_ok && limit_ok
            }
        };
        if marketable {
            if let Some(reason) = self.fill(&o, touch)? {
                o.status = OrderStatus::Rejected;
                o.reject_reason = Some(reason);
            } else {
                o.status = OrderStatus::Filled;
                o.filled_avg_price = Some(touch);
            }
        } else if first_look && matches!(o.req.time_in_force, TimeInForce::Ioc | TimeInForce::Fok) {
            o.status = OrderStatus::Canceled;
        }
        self.orders.insert(o.id.clone(), o);
        Ok(())
    }

    /// Moves cash and shares for a complete fill, or says why it cannot happen.
    fn fill(&mut self, o: &SimOrder, price: Money) -> Result<Option<String>> {
        let notional = price.checked_mul(o.req.qty)?;
        match o.req.side {
            OrderSide::Buy => {
                if notional.checked_cmp(&self.cash)?.is_gt() {
                    return Ok(Some(format!(
                        "insufficient buying power at fill: {notional} needed, {} in cash",
                        self.cash
                    )));
                }
                self.cash = self.cash.checked_sub(&notional)?;
                let h = self
                    .positions
                    .entry(o.req.symbol.clone())
                    .or_insert_with(|| Holding {
                        qty: Decimal::ZERO,
                        cost: usd(0),
                    });
                h.qty += o.req.qty;
                h.cost = h.cost.checked_add(&notional)?;
            }
            OrderSide::Sell => {
                let held = self.held(&o.req.symbol);
                if o.req.qty > held {
                    return Ok(Some(format!(
                        "insufficient qty at fill (requested: {}, held: {held})",
                        o.req.qty
                    )));
                }
                self.cash = self.cash.checked_add(&notional)?;
                if o.req.qty == held {
                    self.positions.remove(&o.req.symbol);
                } else if let Some(h) = self.positions.get_mut(&o.req.symbol) {
                    // The cost of the shares sold leaves at the average entry price.
                    let sold_cost =
                        Money::rounded(h.cost.amount() * o.req.qty / h.qty, Currency::USD);
                    h.qty -= o.req.qty;
                    h.cost = h.cost.checked_sub(&sold_cost)?;
                }
            }
        }
        Ok(None)
    }

    fn evaluate_all(&mut self, now: DateTime<Utc>) -> Result<()> {
        let mut open: Vec<(DateTime<Utc>, String)> = self
            .orders
            .values()
            .filter(|o| !o.status.is_final())
            .map(|o| (o.created_at, o.id.clone()))
            .collect();
        open.sort();
        for (_, id) in open {
            self.evaluate(&id, now, false)?;
        }
        Ok(())
    }
}

impl SimBrokerage {
    /// A fresh account with [`STARTING_CASH`], of its own, kept in memory.
    pub fn new(account_number: String, clock: SimClock) -> Self {
        Self::with_state(SimState::standalone("sim.brokerage"), account_number, clock)
    }

    pub(crate) fn with_state(state: SimState, account_number: String, clock: SimClock) -> Self {
        Self {
            account_number,
            clock,
            state,
            overrides: Mutex::new(HashMap::new()),
        }
    }

    /// Pins the price of a symbol in this process (the mid price; bid and ask are one cent
    /// either side), or returns it to the feed with `None`. For tests and demos of limit and
    /// stop orders; other processes keep reading the feed.
    pub fn set_price(&self, symbol: &str, price: Option<Money>) -> Result<()> {
        let mut overrides = lock(&self.overrides);
        match price {
            Some(p) => {
                if p.currency() != Currency::USD || p.to_minor()? <= SPREAD {
                    return Err(Error::validation(
                        "price",
                        "a simulated price is a USD amount above 0.01",
                    ));
                }
                overrides.insert(symbol.to_owned(), p.to_minor()?);
            }
            None => {
                overrides.remove(symbol);
            }
        }
        Ok(())
    }

    fn overrides(&self) -> HashMap<String, i64> {
        lock(&self.overrides).clone()
    }

    fn price(&self, symbol: &str, at: DateTime<Utc>) -> i64 {
        lock(&self.overrides)
            .get(symbol)
            .copied()
            .unwrap_or_else(|| price_cents(symbol, at))
    }

    /// The account with every open order matched at `now`: read as committed when no order is
    /// open, else matched and written back in one state transaction.
    async fn matched_book(&self, now: DateTime<Utc>) -> Result<Book> {
        let committed = self
            .state
            .get::<AccountRecord>(ACCOUNT, ACCOUNT_KEY)
            .await?
            .unwrap_or_default();
        if committed.open.is_empty() {
            return Ok(Book::from_record(committed, self.overrides()));
        }
        let mut tx = self.state.begin().await?;
        let mut book = Book::load(&mut tx, self.overrides()).await?;
        book.evaluate_all(now)?;
        book.save(&mut tx).await?;
        tx.commit().await?;
        Ok(book)
    }

    async fn order_view(&self, provider_id: &str) -> Result<ProviderOrder> {
        if let Some(o) = self.state.get::<SimOrder>(ORDER, provider_id).await? {
            if o.status.is_final() {
                return Ok(o.view());
            }
        }
        let mut tx = self.state.begin().await?;
        let mut book = Book::load(&mut tx, self.overrides()).await?;
        book.load_order(&mut tx, provider_id).await?;
        book.evaluate(provider_id, self.clock.now(), false)?;
        let view = book
            .orders
            .get(provider_id)
            .map(SimOrder::view)
            .ok_or_else(|| Error::not_found("order", provider_id))?;
        book.save(&mut tx).await?;
        tx.commit().await?;
        Ok(view)
    }
}

fn usd_only(field: &'static str, m: &Option<Money>) -> Result<()> {
    match m {
        Some(m) if m.currency() != Currency::USD => Err(Error::validation(
            field,
            "the simulated broker trades in USD",
        )),
        _ => Ok(()),
    }
}

#[async_trait]
impl BrokerageProvider for SimBrokerage {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn mode(&self) -> ProviderMode {
        ProviderMode::Simulated
    }

    async fn account(&self) -> Result<BrokerageAccount> {
        let now = self.clock.now();
        let book = self.matched_book(now).await?;
        let mut equity = book.cash;
        for (symbol, h) in &book.positions {
            equity = equity.checked_add(&usd(book.price(symbol, now)).checked_mul(h.qty)?)?;
        }
        Ok(BrokerageAccount {
            account_number: self.account_number.clone(),
            cash: book.cash,
            buying_power: book.buying_power(now)?,
            equity,
            mode: ProviderMode::Simulated,
        })
    }

    async fn place_order(
        &self,
        req: &OrderRequest,
        client_order_id: &str,
    ) -> Result<ProviderOrder> {
        req.validate()?;
        usd_only("limit_price", &req.limit_price)?;
        usd_only("stop_price", &req.stop_price)?;
        if client_order_id.is_empty() || client_order_id.len() > 128 {
            return Err(Error::validation(
                "client_order_id",
                "must be 1 to 128 characters",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.state.begin().await?;
        if let Some(id) = tx.get_json::<String>(CLIENT, client_order_id).await? {
            drop(tx);
            return self.order_view(&id).await;
        }
        let mut book = Book::load(&mut tx, self.overrides()).await?;
        let mut order = SimOrder {
            id: uuid::Uuid::new_v4().to_string(),
            client_order_id: client_order_id.to_owned(),
            req: req.clone(),
            created_at: now,
            status: OrderStatus::New,
            triggered: false,
            filled_avg_price: None,
            reject_reason: None,
        };
        if let Some(reason) = book.admission(&order, now)? {
            order.status = OrderStatus::Rejected;
            order.reject_reason = Some(reason);
        }
        let id = order.id.clone();
        book.orders.insert(id.clone(), order);
        book.evaluate(&id, now, true)?;
        let placed = book
            .orders
            .get(&id)
            .map(SimOrder::view)
            .ok_or_else(|| Error::internal("simulated order vanished"))?;
        book.save(&mut tx).await?;
        tx.put_json(CLIENT, client_order_id, &id).await?;
        tx.commit().await?;
        Ok(placed)
    }

    async fn get_order(&self, provider_id: &str) -> Result<ProviderOrder> {
        self.order_view(provider_id).await
    }

    async fn get_order_by_client_id(&self, client_order_id: &str) -> Result<Option<ProviderOrder>> {
        match self.state.get::<String>(CLIENT, client_order_id).await? {
            Some(id) => Ok(Some(self.order_view(&id).await?)),
            None => Ok(None),
        }
    }

    async fn cancel_order(&self, provider_id: &str) -> Result<ProviderOrder> {
        let now = self.clock.now();
        let mut tx = self.state.begin().await?;
        let mut book = Book::load(&mut tx, self.overrides()).await?;
        book.load_order(&mut tx, provider_id).await?;
        book.evaluate(provider_id, now, false)?;
        let o = book
            .orders
            .get_mut(provider_id)
            .ok_or_else(|| Error::not_found("order", provider_id))?;
        if !o.status.is_final() {
            o.status = OrderStatus::Canceled;
        }
        let view = o.view();
        book.save(&mut tx).await?;
        tx.commit().await?;
        Ok(view)
    }

    async fn positions(&self) -> Result<Vec<Position>> {
        let now = self.clock.now();
        let book = self.matched_book(now).await?;
        book.positions
            .iter()
            .map(|(symbol, h)| {
                let current = usd(book.price(symbol, now));
                let market_value = current.checked_mul(h.qty)?;
                Ok(Position {
                    symbol: symbol.clone(),
                    qty: h.qty,
                    avg_entry_price: Money::rounded(h.cost.amount() / h.qty, Currency::USD),
                    current_price: current,
                    market_value,
                    unrealized_pl: market_value.checked_sub(&h.cost)?,
                })
            })
            .collect()
    }

    async fn latest_quote(&self, symbol: &str) -> Result<Quote> {
        validate_symbol(symbol)?;
        let now = self.clock.now();
        let price = self.price(symbol, now);
        Ok(Quote {
            symbol: symbol.to_owned(),
            bid: usd(price - SPREAD),
            ask: usd(price + SPREAD),
            at: now,
        })
    }

    async fn bars(&self, symbol: &str, timeframe: BarTimeframe, limit: u32) -> Result<Vec<Bar>> {
        validate_symbol(symbol)?;
        if !(1..=1000).contains(&limit) {
            return Err(Error::validation("limit", "must be between 1 and 1000"));
        }
        let width = match timeframe {
            BarTimeframe::Minute => Duration::minutes(1),
            BarTimeframe::Hour => Duration::hours(1),
            BarTimeframe::Day => Duration::days(1),
        };
        let now = self.clock.now();
        let current = now
            .duration_trunc(width)
            .map_err(|e| Error::internal(format!("bar alignment: {e}")))?;
        let mut bars = Vec::with_capacity(limit as usize);
        for back in (0..i64::from(limit)).rev() {
            let t = current - width * back as i32;
            let last = t + width - Duration::minutes(1);
            // Open, close and four points between: enough for a believable high and low.
            let samples: Vec<i64> = (0..6)
                .map(|k| self.price(symbol, t + (last - t) * k / 5))
                .collect();
            let volume = 1_000
                + hash_parts(&[symbol.as_bytes(), b"volume", &t.timestamp().to_be_bytes()])
                    % 100_000;
            bars.push(Bar {
                t,
                open: usd(samples[0]),
                high: usd(samples.iter().copied().max().unwrap_or(samples[0])),
                low: usd(samples.iter().copied().min().unwrap_or(samples[0])),
                close: usd(samples[5]),
                volume: volume * width.num_minutes().max(1) as u64,
            });
        }
        Ok(bars)
    }

    async fn clock(&self) -> Result<MarketClock> {
        sim_market_clock(self.clock.now())
    }

    async fn asset(&self, symbol: &str) -> Result<Asset> {
        validate_symbol(symbol)?;
        sim_asset(symbol).ok_or_else(|| Error::not_found("asset", symbol))
    }
}

/// The clock of a market whose trading day is a UTC calendar day, reported the way Alpaca
/// reports one: a session closes at the last minute of its day (23:59 UTC) and the next opens
/// at midnight, so while open the next close comes before the next open, and in that last
/// minute the market reads as closed. (Orders are still matched then; the minute only keeps
/// `next_open` and `next_close` apart, as they are at a real broker.)
pub(crate) fn sim_market_clock(now: DateTime<Utc>) -> Result<MarketClock> {
    let day_start = now
        .duration_trunc(Duration::days(1))
        .map_err(|e| Error::internal(format!("clock: {e}")))?;
    let next_day = day_start + Duration::days(1);
    let close = next_day - Duration::minutes(1);
    Ok(if now < close {
        MarketClock {
            timestamp: now,
            is_open: true,
            next_close: close,
            next_open: next_day,
        }
    } else {
        MarketClock {
            timestamp: now,
            is_open: false,
            next_open: next_day,
            next_close: next_day + Duration::days(1) - Duration::minutes(1),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clock_never_reports_the_open_and_the_close_at_one_instant() {
        let day = DateTime::parse_from_rfc3339("2026-12-03T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        for (offset, open) in [
            (Duration::zero(), true),
            (Duration::hours(12), true),
            (Duration::minutes(23 * 60 + 58), true),
            (Duration::minutes(23 * 60 + 59), false),
            (Duration::seconds(24 * 3600 - 1), false),
        ] {
            let now = day + offset;
            let c = sim_market_clock(now).expect("clock");
            assert_eq!(c.is_open, open, "at {now}");
            assert_ne!(c.next_open, c.next_close, "at {now}");
            if c.is_open {
                assert!(now < c.next_close && c.next_close < c.next_open, "{c:?}");
                assert_eq!(c.next_close, day + Duration::minutes(23 * 60 + 59));
            } else {
                assert!(now < c.next_open && c.next_open < c.next_close, "{c:?}");
            }
            assert_eq!(c.next_open, day + Duration::days(1), "opens at midnight");
        }
    }

    use super::*;

    fn broker() -> SimBrokerage {
        let at = DateTime::from_timestamp(1_795_000_000, 0).expect("time");
        SimBrokerage::new("SIM-1".into(), SimClock::manual(at))
    }

    #[tokio::test]
    async fn the_untradable_asset_is_listed_and_refuses_orders() {
        let b = broker();
        let halt = b.asset(UNTRADABLE.0).await.expect("listed");
        assert!(!halt.tradable && !halt.shortable && !halt.fractionable);
        assert_eq!(halt.status, AssetStatus::Inactive);
        let req = OrderRequest {
            symbol: UNTRADABLE.0.into(),
            side: OrderSide::Buy,
            qty: Decimal::ONE,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Day,
            limit_price: None,
            stop_price: None,
            confirmation_token: None,
        };
        let o = b.place_order(&req, "coid-halt").await.expect("answered");
        assert_eq!(o.status, OrderStatus::Rejected);
        assert!(o
            .reject_reason
            .as_deref()
            .is_some_and(|r| r.contains("not tradable")));
        assert_eq!(
            b.account().await.expect("account").cash,
            usd(STARTING_CASH),
            "nothing was bought"
        );
        let brk = b.asset("BRK.B").await.expect("listed");
        assert!(brk.tradable && !brk.fractionable);
        assert_eq!(
            b.asset("aapl").await.map_err(|e| e.kind()).err(),
            Some(fintech_core::ErrorKind::Validation),
            "a malformed symbol is a validation error"
        );
    }
}
