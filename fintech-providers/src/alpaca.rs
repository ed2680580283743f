//! Alpaca (Trading API v2 and Market Data v2) as a [`BrokerageProvider`]. Paper and live are
//! different base URLs and the mode is reported to callers. Every order carries our
//! `client_order_id`, reused on retry; after an ambiguous failure (no answer, 5xx) the order is
//! looked up by that id before anything is placed again, so one logical order is placed once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderName;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use fintech_core::trading::{
    validate_symbol, Asset, AssetClass, AssetStatus, Bar, BarTimeframe, BrokerageAccount,
    BrokerageProvider, MarketClock, OrderRequest, OrderStatus, Position, ProviderOrder, Quote,
};
use fintech_core::{Currency, Error, Money, ProviderMode, Result};

use crate::http::{decimal, secret_header, Answer, Body, Call, Http, HttpSettings};

/// Alpaca credentials and endpoints.
#[derive(Clone)]
pub struct AlpacaConfig {
    /// `APCA-API-KEY-ID`.
    pub key_id: String,
    /// `APCA-API-SECRET-KEY`.
    pub secret_key: SecretString,
    /// Paper trading (no real money) or live.
    pub paper: bool,
    /// Trading API base (default by `paper`).
    pub trading_url: Option<String>,
    /// Market data base (default `https://data.alpaca.markets`).
    pub data_url: Option<String>,
}

impl std::fmt::Debug for AlpacaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaConfig")
            .field("key_id", &self.key_id)
            .field("secret_key", &"[redacted]")
            .field("paper", &self.paper)
            .finish()
    }
}

/// The Alpaca client.
pub struct Alpaca {
    config: AlpacaConfig,
    http: Http,
    trading: String,
    data: String,
}

impl std::fmt::Debug for Alpaca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alpaca")
            .field("config", &self.config)
            .finish()
    }
}

fn usd(v: &Value, what: &str) -> Result<Money> {
    let d = decimal(v).ok_or_else(|| malformed(what))?;
    // prices may carry more digits than cents (sub-penny quotes): round half-even to cents
    Ok(Money::rounded(d, Currency::USD))
}

fn malformed(what: &str) -> Error {
    Error::Provider {
        provider: "alpaca",
        code: "malformed_response".into(),
        message: format!("Alpaca answered without a valid {what}"),
        request_id: None,
        retryable: false,
    }
}

fn time(v: &Value, what: &str) -> Result<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| malformed(what))
}

fn status(s: &str) -> OrderStatus {
    match s {
        "partially_filled" => OrderStatus::PartiallyFilled,
        "filled" => OrderStatus::Filled,
        "canceled" | "pending_cancel" | "replaced" | "done_for_day" => OrderStatus::Canceled,
        "expired" => OrderStatus::Expired,
        "rejected" | "suspended" | "stopped" => OrderStatus::Rejected,
        _ => OrderStatus::New,
    }
}

fn order(v: &Value) -> Result<ProviderOrder> {
    Ok(ProviderOrder {
        provider_id: v["id"]
            .as_str()
            .ok_or_else(|| malformed("order id"))?
            .to_owned(),
        client_order_id: v["client_order_id"].as_str().unwrap_or_default().to_owned(),
        status: status(v["status"].as_str().unwrap_or("new")),
        filled_qty: decimal(&v["filled_qty"]).unwrap_or_default(),
        filled_avg_price: match &v["filled_avg_price"] {
            Value::Null => None,
            p => Some(usd(p, "filled_avg_price")?),
        },
        reject_reason: None,
    })
}

impl Alpaca {
    /// A client.
    pub fn new(config: AlpacaConfig, settings: HttpSettings) -> Result<Self> {
        let trading = config.trading_url.clone().unwrap_or_else(|| {
            if config.paper {
                "https://paper-api.alpaca.markets".into()
            } else {
                "https://api.alpaca.markets".into()
            }
        });
        let data = config
            .data_url
            .clone()
            .unwrap_or_else(|| "https://data.alpaca.markets".into());
        Ok(Self {
            http: Http::new("alpaca", settings)?,
            trading: trading.trim_end_matches('/').to_owned(),
            data: data.trim_end_matches('/').to_owned(),
            config,
        })
    }

    async fn call(
        &self,
        operation: &str,
        method: Method,
        url: String,
        body: Option<Value>,
        retry_safe: bool,
    ) -> Result<Answer> {
        self.http
            .send(Call {
                method,
                url,
                headers: vec![
                    (
                        HeaderName::from_static("apca-api-key-id"),
                        secret_header(&self.config.key_id)?,
                    ),
                    (
                        HeaderName::from_static("apca-api-secret-key"),
                        secret_header(self.config.secret_key.expose_secret())?,
                    ),
                ],
                body: body.map(Body::Json).unwrap_or(Body::None),
                retry_safe,
                operation,
            })
            .await
    }

    async fn get(&self, operation: &str, url: String) -> Result<Value> {
        let a = self.call(operation, Method::GET, url, None, true).await?;
        json_or_error(a)
    }
}

fn json_or_error(a: Answer) -> Result<Value> {
    let body: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    if a.status.is_success() {
        return Ok(body);
    }
    let request_id = a
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let message = body["message"]
        .as_str()
        .unwrap_or("Alpaca answered an error")
        .to_owned();
    Err(match a.status {
        StatusCode::NOT_FOUND => Error::NotFound {
            kind: "order",
            id: message,
        },
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
            Error::validation("order", format!("Alpaca refused the request: {message}"))
        }
        StatusCode::FORBIDDEN => Error::Provider {
            provider: "alpaca",
            code: "forbidden".into(),
            message: format!("Alpaca refused: {message} (buying power, or account restrictions)"),
            request_id,
            retryable: false,
        },
        s => Error::Provider {
            provider: "alpaca",
            code: if s == StatusCode::TOO_MANY_REQUESTS {
                "rate_limited".into()
            } else if s.is_server_error() {
                "unavailable".into()
            } else {
                format!("http_{}", s.as_u16())
            },
            message: format!("Alpaca: {message}"),
            request_id,
            retryable: s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error(),
        },
    })
}

#[async_trait]
impl BrokerageProvider for Alpaca {
    fn name(&self) -> &'static str {
        "alpaca"
    }

    fn mode(&self) -> ProviderMode {
        if self.config.paper {
            ProviderMode::Sandbox
        } else {
            ProviderMode::Live
        }
    }

    async fn account(&self) -> Result<BrokerageAccount> {
        let a = self
            .get("account", format!("{}/v2/account", self.trading))
            .await?;
        Ok(BrokerageAccount {
            account_number: a["account_number"].as_str().unwrap_or_default().to_owned(),
            cash: usd(&a["cash"], "cash")?,
            buying_power: usd(&a["buying_power"], "buying_power")?,
            equity: usd(&a["equity"], "equity")?,
            mode: self.mode(),
        })
    }

    async fn place_order(
        &self,
        req: &OrderRequest,
        client_order_id: &str,
    ) -> Result<ProviderOrder> {
        let mut body = json!({
            "symbol": req.symbol,
            "qty": req.qty.normalize().to_string(),
            "side": req.side.as_str(),
            "type": req.order_type.as_str(),
            "time_in_force": req.time_in_force.as_str(),
            "client_order_id": client_order_id,
        });
        if let Some(p) = &req.limit_price {
            body["limit_price"] = json!(p.amount().to_string());
        }
        if let Some(p) = &req.stop_price {
            body["stop_price"] = json!(p.amount().to_string());
        }
        let url = format!("{}/v2/orders", self.trading);
        // not blindly retried: a retry after an ambiguous failure first asks whether the
        // order exists under our client order id
        for attempt in 0..3 {
            let sent = self
                .call(
                    "place_order",
                    Method::POST,
                    url.clone(),
                    Some(body.clone()),
                    false,
                )
                .await;
            let ambiguous = match &sent {
                Err(Error::Provider {
                    retryable: true, ..
                }) => true,
                Ok(a) => a.status.is_server_error() || a.status == StatusCode::TOO_MANY_REQUESTS,
                _ => false,
            };
            if !ambiguous {
                let answer = sent?;
                let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                let message = body["message"].as_str().unwrap_or_default().to_owned();
                // Alpaca refuses an order it will not take (buying power, short selling,
                // quantity held) with 403: the order is rejected, nothing was created
                if answer.status == StatusCode::FORBIDDEN {
                    return Ok(ProviderOrder {
                        provider_id: String::new(),
                        client_order_id: client_order_id.to_owned(),
                        status: OrderStatus::Rejected,
                        filled_qty: rust_decimal::Decimal::ZERO,
                        filled_avg_price: None,
                        reject_reason: Some(if message.is_empty() {
                            "refused by Alpaca".to_owned()
                        } else {
                            message
                        }),
                    });
                }
                // the same client order id again: the order exists, answer it
                if answer.status == StatusCode::UNPROCESSABLE_ENTITY
                    && message.contains("client_order_id")
                {
                    if let Some(existing) = self.get_order_by_client_id(client_order_id).await? {
                        return Ok(existing);
                    }
                }
                return order(&json_or_error(answer)?);
            }
            if let Some(existing) = self.get_order_by_client_id(client_order_id).await? {
                return Ok(existing);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
        }
        Err(Error::Provider {
            provider: "alpaca",
            code: "unavailable".into(),
            message: "Alpaca did not confirm the order; it was not placed. Try again later".into(),
            request_id: None,
            retryable: true,
        })
    }

    async fn get_order(&self, provider_id: &str) -> Result<ProviderOrder> {
        order(
            &self
                .get(
                    "get_order",
                    format!("{}/v2/orders/{provider_id}", self.trading),
                )
                .await?,
        )
    }

    async fn get_order_by_client_id(&self, client_order_id: &str) -> Result<Option<ProviderOrder>> {
        let url = format!(
            "{}/v2/orders:by_client_order_id?client_order_id={client_order_id}",
            self.trading
        );
        match self.get("order_by_client_id", url).await {
            Ok(v) => Ok(Some(order(&v)?)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn cancel_order(&self, provider_id: &str) -> Result<ProviderOrder> {
        let a = self
            .call(
                "cancel_order",
                Method::DELETE,
                format!("{}/v2/orders/{provider_id}", self.trading),
                None,
                true,
            )
            .await?;
        if !a.status.is_success() && a.status != StatusCode::UNPROCESSABLE_ENTITY {
            json_or_error(a)?;
        }
        // 204: cancel requested; 422: no longer cancellable. Either way the order says.
        self.get_order(provider_id).await
    }

    async fn positions(&self) -> Result<Vec<Position>> {
        let v = self
            .get("positions", format!("{}/v2/positions", self.trading))
            .await?;
        v.as_array()
            .ok_or_else(|| malformed("positions"))?
            .iter()
            .map(|p| {
                Ok(Position {
                    symbol: p["symbol"].as_str().unwrap_or_default().to_owned(),
                    qty: decimal(&p["qty"]).ok_or_else(|| malformed("qty"))?,
                    avg_entry_price: usd(&p["avg_entry_price"], "avg_entry_price")?,
                    current_price: usd(&p["current_price"], "current_price")?,
                    market_value: usd(&p["market_value"], "market_value")?,
                    unrealized_pl: usd(&p["unrealized_pl"], "unrealized_pl")?,
                })
            })
            .collect()
    }

    async fn latest_quote(&self, symbol: &str) -> Result<Quote> {
        let v = self
            .get(
                "quote",
                format!("{}/v2/stocks/{symbol}/quotes/latest", self.data),
            )
            .await?;
        let q = &v["quote"];
        Ok(Quote {
            symbol: v["symbol"].as_str().unwrap_or(symbol).to_owned(),
            bid: usd(&q["bp"], "bid")?,
            ask: usd(&q["ap"], "ask")?,
            at: time(&q["t"], "quote time")?,
        })
    }

    async fn bars(&self, symbol: &str, timeframe: BarTimeframe, limit: u32) -> Result<Vec<Bar>> {
        let tf = match timeframe {
            BarTimeframe::Minute => "1Min",
            BarTimeframe::Hour => "1Hour",
            BarTimeframe::Day => "1Day",
        };
        let v = self
            .get(
                "bars",
                format!(
                    "{}/v2/stocks/{symbol}/bars?timeframe={tf}&limit={}",
                    self.data,
                    limit.clamp(1, 10_000)
                ),
            )
            .await?;
        v["bars"]
            .as_array()
            .map(|bars| {
                bars.iter()
                    .map(|b| {
                        Ok(Bar {
                            t: time(&b["t"], "bar time")?,
                            open: usd(&b["o"], "open")?,
                            high: usd(&b["h"], "high")?,
                            low: usd(&b["l"], "low")?,
                            close: usd(&b["c"], "close")?,
                            volume: b["v"].as_u64().unwrap_or(0),
                        })
                    })
                    .collect()
            })
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    async fn clock(&self) -> Result<MarketClock> {
        let c = self
            .get("clock", format!("{}/v2/clock", self.trading))
            .await?;
        Ok(MarketClock {
            timestamp: time(&c["timestamp"], "timestamp")?,
            is_open: c["is_open"].as_bool().unwrap_or(false),
            next_open: time(&c["next_open"], "next_open")?,
            next_close: time(&c["next_close"], "next_close")?,
        })
    }

    async fn asset(&self, symbol: &str) -> Result<Asset> {
        // the symbol becomes a path segment: only a well-formed ticker goes out
        validate_symbol(symbol)?;
        let v = match self
            .get("asset", format!("{}/v2/assets/{symbol}", self.trading))
            .await
        {
            Err(Error::NotFound { .. }) => return Err(Error::not_found("asset", symbol)),
            other => other?,
        };
        asset(&v)
    }
}

/// An Alpaca asset object (the `Assets` schema of the Trading API document).
fn asset(v: &Value) -> Result<Asset> {
    let text = |key: &str| -> Result<String> {
        v[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| malformed(&format!("asset {key}")))
    };
    let flag = |key: &str| -> Result<bool> {
        v[key]
            .as_bool()
            .ok_or_else(|| malformed(&format!("asset {key}")))
    };
    Ok(Asset {
        id: text("id")?,
        symbol: text("symbol")?,
        name: text("name")?,
        exchange: text("exchange")?,
        asset_class: AssetClass::parse(&text("class")?).map_err(|_| malformed("asset class"))?,
        status: AssetStatus::parse(&text("status")?).map_err(|_| malformed("asset status"))?,
        tradable: flag("tradable")?,
        fractionable: flag("fractionable")?,
        shortable: flag("shortable")?,
        marginable: flag("marginable")?,
        easy_to_borrow: flag("easy_to_borrow")?,
    })
}
