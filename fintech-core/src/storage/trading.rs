//! Orders and fills.

use std::str::FromStr;

use rust_decimal::Decimal;
use sqlx::any::AnyRow;

use super::{col, from_json, now_micros, page_limit, to_json, ts, Store, Tx};
use crate::error::{Error, Result};
use crate::id::{FillId, OrderId, TenantId};
use crate::money::{Currency, Money};
use crate::trading::{Fill, Order, OrderSide, OrderStatus, OrderType, TimeInForce};

const ORDER_COLUMNS: &str = "id, client_order_id, symbol, side, qty, order_type, time_in_force, currency, limit_price_minor, stop_price_minor, status, filled_qty, filled_avg_price, reject_reason, provider, provider_order_id, created_by, assessment, created_at, updated_at, api_key_id";

/// An order row plus the columns the platform needs but callers do not see.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// The order.
    pub order: Order,
    /// The API key that placed it.
    pub api_key_id: Option<String>,
}

fn dec(s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|e| Error::internal(format!("stored decimal {s:?}: {e}")))
}

fn order_from_row(r: &AnyRow) -> Result<OrderRow> {
    let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
    let price = |name: &str| -> Result<Option<Money>> {
        Ok(col::<Option<i64>>(r, name)?.map(|m| Money::from_minor(m, currency)))
    };
    let assessment: Option<String> = col(r, "assessment")?;
    let avg: Option<String> = col(r, "filled_avg_price")?;
    Ok(OrderRow {
        order: Order {
            id: OrderId::parse(&col::<String>(r, "id")?)?,
            client_order_id: col(r, "client_order_id")?,
            symbol: col(r, "symbol")?,
            side: OrderSide::parse(&col::<String>(r, "side")?)?,
            qty: dec(&col::<String>(r, "qty")?)?,
            order_type: OrderType::parse(&col::<String>(r, "order_type")?)?,
            time_in_force: TimeInForce::parse(&col::<String>(r, "time_in_force")?)?,
            limit_price: price("limit_price_minor")?,
            stop_price: price("stop_price_minor")?,
            status: OrderStatus::parse(&col::<String>(r, "status")?)?,
            filled_qty: dec(&col::<String>(r, "filled_qty")?)?,
            filled_avg_price: avg
                .map(|a| Ok::<_, Error>(Money::rounded(dec(&a)?, currency)))
                .transpose()?,
            reject_reason: col(r, "reject_reason")?,
            provider: col(r, "provider")?,
            provider_order_id: col(r, "provider_order_id")?,
            created_by: col(r, "created_by")?,
            assessment: assessment.as_deref().map(from_json).transpose()?,
            created_at: ts(col(r, "created_at")?),
            updated_at: ts(col(r, "updated_at")?),
        },
        api_key_id: col(r, "api_key_id")?,
    })
}

fn minor(m: &Option<Money>) -> Result<Option<i64>> {
    m.as_ref().map(Money::to_minor).transpose()
}

impl Tx {
    /// Inserts an order.
    pub async fn insert_order(&mut self, tenant: &TenantId, row: &OrderRow) -> Result<()> {
        let o = &row.order;
        let currency = o
            .limit_price
            .or(o.stop_price)
            .map(|m| m.currency())
            .unwrap_or(Currency::USD);
        sqlx::query(
            "INSERT INTO orders (id, tenant_id, client_order_id, symbol, side, qty, order_type, time_in_force, currency, limit_price_minor, stop_price_minor,
              status, filled_qty, filled_avg_price, reject_reason, provider, provider_order_id, api_key_id, created_by, assessment, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
        )
        .bind(o.id.as_str())
        .bind(tenant.as_str())
        .bind(&o.client_order_id)
        .bind(&o.symbol)
        .bind(o.side.as_str())
        .bind(o.qty.to_string())
        .bind(o.order_type.as_str())
        .bind(o.time_in_force.as_str())
        .bind(currency.code())
        .bind(minor(&o.limit_price)?)
        .bind(minor(&o.stop_price)?)
        .bind(o.status.as_str())
        .bind(o.filled_qty.to_string())
        .bind(o.filled_avg_price.map(|p| p.amount().to_string()))
        .bind(o.reject_reason.as_deref())
        .bind(&o.provider)
        .bind(o.provider_order_id.as_deref())
        .bind(row.api_key_id.as_deref())
        .bind(&o.created_by)
        .bind(o.assessment.as_ref().map(to_json).transpose()?)
        .bind(o.created_at.timestamp_micros())
        .bind(o.updated_at.timestamp_micros())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Moves an order from (`from_status`, `from_filled`) to the state in `o`. `false` when
    /// another writer changed it first (the caller re-reads and retries).
    pub async fn transition_order(
        &mut self,
        tenant: &TenantId,
        o: &Order,
        from_status: OrderStatus,
        from_filled: Decimal,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE orders SET status = $1, filled_qty = $2, filled_avg_price = $3, reject_reason = $4, provider_order_id = $5, updated_at = $6
             WHERE tenant_id = $7 AND id = $8 AND status = $9 AND filled_qty = $10",
        )
        .bind(o.status.as_str())
        .bind(o.filled_qty.to_string())
        .bind(o.filled_avg_price.map(|p| p.amount().to_string()))
        .bind(o.reject_reason.as_deref())
        .bind(o.provider_order_id.as_deref())
        .bind(now_micros())
        .bind(tenant.as_str())
        .bind(o.id.as_str())
        .bind(from_status.as_str())
        .bind(from_filled.to_string())
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1)
    }

    /// Inserts a fill.
    pub async fn insert_fill(&mut self, tenant: &TenantId, f: &Fill) -> Result<()> {
        sqlx::query("INSERT INTO fills (id, tenant_id, order_id, qty, currency, price_minor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(f.id.as_str())
            .bind(tenant.as_str())
            .bind(f.order_id.as_str())
            .bind(f.qty.to_string())
            .bind(f.price.currency().code())
            .bind(f.price.to_minor()?)
            .bind(f.created_at.timestamp_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// An order of a tenant.
    pub async fn order_row(&self, tenant: &TenantId, id: &OrderId) -> Result<Option<OrderRow>> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// Orders of a tenant, newest first, optionally of one status, before a cursor id.
    pub async fn orders(
        &self,
        tenant: &TenantId,
        status: Option<OrderStatus>,
        before: Option<&OrderId>,
        limit: Option<u32>,
    ) -> Result<Vec<Order>> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(status.map(|s| s.as_str()).unwrap_or(""))
            .bind(before.map(|b| b.as_str()).unwrap_or(""))
            .bind(page_limit(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| order_from_row(r).map(|o| o.order))
            .collect()
    }

    /// Fills of an order.
    pub async fn fills(&self, tenant: &TenantId, order: &OrderId) -> Result<Vec<Fill>> {
        let rows = sqlx::query("SELECT id, order_id, qty, currency, price_minor, created_at FROM fills WHERE tenant_id = $1 AND order_id = $2 ORDER BY created_at, id")
            .bind(tenant.as_str())
            .bind(order.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
                Ok(Fill {
                    id: FillId::parse(&col::<String>(r, "id")?)?,
                    order_id: OrderId::parse(&col::<String>(r, "order_id")?)?,
                    qty: dec(&col::<String>(r, "qty")?)?,
                    price: Money::from_minor(col(r, "price_minor")?, currency),
                    created_at: ts(col(r, "created_at")?),
                })
            })
            .collect()
    }
}
