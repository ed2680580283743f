//! Brokerage: account, positions, market data, orders with approval holds, fills into the ledger.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::decision::{DecisionStatus, Mode};
use super::{
    api_key_of, audit_entry, finish, finish_once, hash_request, to_value, validate_text, Executed,
    Idem, Platform,
};
use crate::auth::{Principal, Scope};
use crate::error::{ConflictCode, Error, Result};
use crate::events::types;
use crate::fraud::CaseStatus;
use crate::id::{FillId, OrderId};
use crate::ledger::JournalEntry;
use crate::money::Money;
use crate::storage::OrderRow;
use crate::trading::{
    validate_symbol, Asset, Bar, BarTimeframe, BrokerageAccount, Fill, MarketClock, Order,
    OrderRequest, OrderStatus, Position, ProviderOrder, Quote,
};

/// Filters for listing orders.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<OrderStatus>,
    /// Cursor: only orders older than this one.
    #[serde(default)]
    pub before: Option<OrderId>,
    /// Page size (default 100, max 500).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
}

fn apply_provider(order: &mut Order, po: &ProviderOrder) {
    // a broker that refuses an order outright (no order created) gives no id
    order.provider_order_id = (!po.provider_id.is_empty()).then(|| po.provider_id.clone());
    order.status = po.status;
    order.filled_qty = po.filled_qty;
    order.filled_avg_price = po.filled_avg_price;
    order.reject_reason = po.reject_reason.clone();
    order.updated_at = crate::storage::now();
}

/// Cost of the filled part of an order: quantity times average price, rounded to the cent.
fn filled_notional(qty: Decimal, avg: Option<Money>) -> Result<Option<Money>> {
    match avg {
        Some(price) if qty > Decimal::ZERO => Ok(Some(price.checked_mul(qty)?)),
        _ => Ok(None),
    }
}

impl Platform {
    /// The brokerage account.
    pub async fn brokerage_account(&self, p: &Principal) -> Result<BrokerageAccount> {
        p.require(Scope::TradingRead)?;
        self.inner.providers.brokerage(&p.tenant_id).account().await
    }

    /// Open positions.
    pub async fn positions(&self, p: &Principal) -> Result<Vec<Position>> {
        p.require(Scope::TradingRead)?;
        self.inner
            .providers
            .brokerage(&p.tenant_id)
            .positions()
            .await
    }

    /// An asset the broker lists: name, exchange, class, status and what may be done with it
    /// (tradable, fractionable, shortable, marginable, easy to borrow). An unlisted symbol is
    /// `NotFound`.
    pub async fn asset(&self, p: &Principal, symbol: &str) -> Result<Asset> {
        p.require(Scope::TradingRead)?;
        validate_symbol(symbol)?;
        self.inner
            .providers
            .brokerage(&p.tenant_id)
            .asset(symbol)
            .await
    }

    /// Latest quote.
    pub async fn quote(&self, p: &Principal, symbol: &str) -> Result<Quote> {
        p.require(Scope::TradingRead)?;
        validate_symbol(symbol)?;
        self.inner
            .providers
            .brokerage(&p.tenant_id)
            .latest_quote(symbol)
            .await
    }

    /// Recent bars, oldest first (at most 1000).
    pub async fn bars(
        &self,
        p: &Principal,
        symbol: &str,
        timeframe: BarTimeframe,
        limit: u32,
    ) -> Result<Vec<Bar>> {
        p.require(Scope::TradingRead)?;
        validate_symbol(symbol)?;
        if !(1..=1000).contains(&limit) {
            return Err(Error::validation("limit", "between 1 and 1000"));
        }
        self.inner
            .providers
            .brokerage(&p.tenant_id)
            .bars(symbol, timeframe, limit)
            .await
    }

    /// The market clock.
    pub async fn market_clock(&self, p: &Principal) -> Result<MarketClock> {
        p.require(Scope::TradingRead)?;
        self.inner.providers.brokerage(&p.tenant_id).clock().await
    }

    /// Places an order through the door: validation, confirmation (above the key's
    /// `confirm_above` without a valid `confirmation_token` it answers
    /// [`Error::ConfirmationRequired`] and does nothing), idempotency (the broker's
    /// `client_order_id` is derived from the key), the decision ([`Platform::preview_order`]
    /// makes the same one: notional limit, fraud screening, approval threshold), the broker
    /// call, then order + fill + ledger + event + audit at once.
    pub async fn place_order(
        &self,
        p: &Principal,
        mut req: OrderRequest,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Order>> {
        p.require(Scope::TradingWrite)?;
        let token = req.confirmation_token.take();
        req.validate()?;
        let idempotency_key = self
            .confirm_order(p, &req, token.as_deref())
            .await?
            .or(idempotency_key);
        let request_hash = hash_request("orders.place", &req)?;
        self.idempotent(
            p,
            idempotency_key,
            "orders.place",
            request_hash,
            |idem| async move {
                let id = OrderId::generate();
                let broker = self.inner.providers.brokerage(&p.tenant_id);
                let plan = self.decide_order(p, &req, Mode::Execute).await?;
                if let Some(e) = plan.refusal {
                    self.audit_denial(p, "orders.place", "order", id.as_str(), Some(&idem.key), &e)
                        .await?;
                    return Err(e);
                }
                let held = match plan.decision.status {
                    DecisionStatus::PendingReview => Some(OrderStatus::PendingReview),
                    DecisionStatus::PendingApproval => Some(OrderStatus::PendingApproval),
                    _ => None,
                };
                let now = crate::storage::now();
                let mut order = Order {
                    id,
                    client_order_id: idem.provider_key.clone(),
                    symbol: req.symbol.clone(),
                    side: req.side,
                    qty: req.qty,
                    order_type: req.order_type,
                    time_in_force: req.time_in_force,
                    limit_price: req.limit_price,
                    stop_price: req.stop_price,
                    status: held.unwrap_or(OrderStatus::New),
                    filled_qty: Decimal::ZERO,
                    filled_avg_price: None,
                    reject_reason: None,
                    provider: broker.name().to_owned(),
                    provider_order_id: None,
                    created_by: p.actor.to_string(),
                    assessment: plan.decision.assessment,
                    created_at: now,
                    updated_at: now,
                };
                if held.is_none() {
                    let po = broker.place_order(&req, &order.client_order_id).await?;
                    apply_provider(&mut order, &po);
                }
                let response = serde_json::to_string(&order).map_err(Error::internal)?;
                let mut tx = self.inner.store.begin().await?;
                tx.insert_order(
                    &p.tenant_id,
                    &OrderRow {
                        order: order.clone(),
                        api_key_id: api_key_of(p),
                    },
                )
                .await?;
                let mut events = vec![(types::ORDER_CREATED, order.id.as_str(), to_value(&order)?)];
                if order.status == OrderStatus::PendingReview {
                    let case = self
                        .open_case(&mut tx, p, "order", order.id.as_str(), &order.assessment)
                        .await?;
                    events.push((types::FRAUD_CASE_OPENED, order.id.as_str(), case));
                }
                if let Some(notional) = filled_notional(order.filled_qty, order.filled_avg_price)? {
                    self.record_fill(&mut tx, p, &order, order.filled_qty, notional)
                        .await?;
                    events.push((types::ORDER_FILLED, order.id.as_str(), to_value(&order)?));
                }
                let audit = audit_entry(
                    p,
                    "orders.place",
                    "order",
                    order.id.as_str(),
                    Some(&idem.key),
                    order.status.as_str(),
                );
                finish(&mut tx, p, Some((&idem, &response)), &events, audit).await?;
                tx.commit().await?;
                Ok(order)
            },
        )
        .await
    }

    async fn record_fill(
        &self,
        tx: &mut crate::storage::Tx,
        p: &Principal,
        order: &Order,
        qty: Decimal,
        notional: Money,
    ) -> Result<()> {
        let price = Money::rounded(notional.amount() / qty, notional.currency());
        let fill = Fill {
            id: FillId::generate(),
            order_id: order.id.clone(),
            qty,
            price,
            created_at: crate::storage::now(),
        };
        tx.insert_fill(&p.tenant_id, &fill).await?;
        tx.post_journal(
            &p.tenant_id,
            order.id.as_str(),
            &JournalEntry::fill(fill.id.as_str(), order.side, notional)?,
        )
        .await?;
        Ok(())
    }

    async fn order_row(&self, p: &Principal, id: &OrderId) -> Result<OrderRow> {
        self.inner
            .store
            .order_row(&p.tenant_id, id)
            .await?
            .ok_or_else(|| Error::not_found("order", id))
    }

    /// An order, refreshed from the broker when it is still open; new fills are recorded.
    pub async fn order(&self, p: &Principal, id: &OrderId) -> Result<Order> {
        p.require(Scope::TradingRead)?;
        let row = self.order_row(p, id).await?;
        if row.order.status.is_final() || row.order.status.is_held() {
            return Ok(row.order);
        }
        self.refresh_order(p, row.order).await
    }

    /// Asks the broker for an order's state and records what changed (fills, status).
    async fn refresh_order(&self, p: &Principal, stored: Order) -> Result<Order> {
        self.refresh_keyed(p, stored, None).await
    }

    /// [`Self::refresh_order`] as the last step of a claimed operation (an approval, a
    /// cancellation): its answer is kept in the transaction that records the outcome, or on
    /// its own when nothing changed.
    async fn refresh_keyed(
        &self,
        p: &Principal,
        stored: Order,
        idem: Option<&Idem>,
    ) -> Result<Order> {
        let broker = self.inner.providers.brokerage(&p.tenant_id);
        let po = match &stored.provider_order_id {
            Some(pid) => broker.get_order(pid).await?,
            None => match broker
                .get_order_by_client_id(&stored.client_order_id)
                .await?
            {
                Some(po) => po,
                None => {
                    // Approved but never sent (interrupted): send it now, same client order id.
                    let req = OrderRequest {
                        symbol: stored.symbol.clone(),
                        side: stored.side,
                        qty: stored.qty,
                        order_type: stored.order_type,
                        time_in_force: stored.time_in_force,
                        limit_price: stored.limit_price,
                        stop_price: stored.stop_price,
                        confirmation_token: None,
                    };
                    broker.place_order(&req, &stored.client_order_id).await?
                }
            },
        };
        let mut order = stored.clone();
        apply_provider(&mut order, &po);
        if order.status == stored.status
            && order.filled_qty == stored.filled_qty
            && stored.provider_order_id.is_some()
        {
            self.keep_answer(p, idem, &stored).await?;
            return Ok(stored);
        }
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .transition_order(&p.tenant_id, &order, stored.status, stored.filled_qty)
            .await?
        {
            drop(tx);
            let now = self.order_row(p, &order.id).await?.order;
            self.keep_answer(p, idem, &now).await?;
            return Ok(now);
        }
        let mut events = vec![(types::ORDER_UPDATED, order.id.as_str(), to_value(&order)?)];
        if order.filled_qty > stored.filled_qty {
            let before = filled_notional(stored.filled_qty, stored.filled_avg_price)?;
            let after = filled_notional(order.filled_qty, order.filled_avg_price)?
                .ok_or_else(|| Error::internal("broker reported fills without a price"))?;
            let delta = match before {
                Some(b) => after.checked_sub(&b)?,
                None => after,
            };
            if delta.is_positive() {
                self.record_fill(
                    &mut tx,
                    p,
                    &order,
                    order.filled_qty - stored.filled_qty,
                    delta,
                )
                .await?;
            }
            events.push((types::ORDER_FILLED, order.id.as_str(), to_value(&order)?));
        }
        let answer = self.kept(p, idem, &order, false)?;
        finish_once(
            &mut tx,
            p,
            idem,
            answer.as_deref(),
            &events,
            audit_entry(
                p,
                "orders.update",
                "order",
                order.id.as_str(),
                idem.map(|i| i.key.as_str()),
                order.status.as_str(),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Orders of the tenant, newest first (as stored; fetch one to refresh it).
    pub async fn orders(&self, p: &Principal, q: &OrderQuery) -> Result<Vec<Order>> {
        p.require(Scope::TradingRead)?;
        super::validate_limit(q.limit)?;
        self.inner
            .store
            .orders(&p.tenant_id, q.status, q.before.as_ref(), q.limit)
            .await
    }

    /// Fills of an order.
    pub async fn fills(&self, p: &Principal, id: &OrderId) -> Result<Vec<Fill>> {
        p.require(Scope::TradingRead)?;
        self.order_row(p, id).await?;
        self.inner.store.fills(&p.tenant_id, id).await
    }

    /// Cancels an order: a held one is closed; an open one is cancelled at the broker.
    pub async fn cancel_order(
        &self,
        p: &Principal,
        id: &OrderId,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Order>> {
        p.require(Scope::TradingWrite)?;
        self.once(p, idempotency_key, "orders.cancel", id, |idem| {
            self.cancel_order_once(p, id, idem)
        })
        .await
    }

    async fn cancel_order_once(
        &self,
        p: &Principal,
        id: &OrderId,
        idem: Option<Idem>,
    ) -> Result<Order> {
        let row = self.order_row(p, id).await?;
        if row.order.status.is_held() {
            return self
                .close_held_order(
                    p,
                    row.order,
                    OrderStatus::Canceled,
                    "orders.cancel",
                    None,
                    idem,
                )
                .await;
        }
        if row.order.status.is_final() {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("order {id} is {} and cannot be cancelled", row.order.status),
            ));
        }
        let pid = row.order.provider_order_id.clone().ok_or_else(|| {
            Error::conflict(
                ConflictCode::InvalidState,
                "order has not reached the broker yet",
            )
        })?;
        self.inner
            .providers
            .brokerage(&p.tenant_id)
            .cancel_order(&pid)
            .await?;
        self.refresh_keyed(p, row.order, idem.as_ref()).await
    }

    /// Approves a held order (operator); it is then sent to the broker once.
    ///
    /// Under an idempotency key the answer is kept with the broker's outcome; a retry of an
    /// approval that committed but was interrupted before the order was sent resumes it.
    pub async fn approve_order(
        &self,
        p: &Principal,
        id: &OrderId,
        comment: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Order>> {
        p.require(Scope::ApprovalsWrite)?;
        validate_text("comment", &comment, 1000)?;
        let request = (id, &comment);
        self.once(p, idempotency_key, "orders.approve", &request, |idem| {
            self.approve_order_once(p, id, comment.clone(), idem)
        })
        .await
    }

    pub(super) async fn approve_order_once(
        &self,
        p: &Principal,
        id: &OrderId,
        comment: Option<String>,
        idem: Option<Idem>,
    ) -> Result<Order> {
        let idem = idem.as_ref();
        let row = self.order_row(p, id).await?;
        if row.order.status == OrderStatus::New
            && row.order.provider_order_id.is_none()
            && self
                .approved_under(p, id.as_str(), "orders.approve", idem)
                .await?
        {
            // this key's approval committed, and sending was interrupted: resume it
            return self.refresh_keyed(p, row.order, idem).await;
        }
        if !row.order.status.is_held() {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("order {id} is {}, not held", row.order.status),
            ));
        }
        let self_approved = self
            .check_approver(p, &row.order.created_by, "order")
            .await?;
        let mut claimed = row.order.clone();
        claimed.status = OrderStatus::New;
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .transition_order(
                &p.tenant_id,
                &claimed,
                row.order.status,
                row.order.filled_qty,
            )
            .await?
        {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("order {id} was already decided"),
            ));
        }
        let mut events = Vec::new();
        if row.order.status == OrderStatus::PendingReview {
            let case = self
                .resolve_case(
                    &mut tx,
                    p,
                    "order",
                    id.as_str(),
                    CaseStatus::Approved,
                    comment.as_deref(),
                )
                .await?;
            events.push((types::FRAUD_CASE_RESOLVED, id.as_str(), case));
        }
        let outcome = format!(
            "approved{}{}",
            if self_approved {
                " by its creator (tenant allows self-approval)"
            } else {
                ""
            },
            comment.map(|c| format!(": {c}")).unwrap_or_default()
        );
        finish(
            &mut tx,
            p,
            None,
            &events,
            audit_entry(
                p,
                "orders.approve",
                "order",
                id.as_str(),
                idem.map(|i| i.key.as_str()),
                &outcome,
            ),
        )
        .await?;
        tx.commit().await?;
        self.refresh_keyed(p, claimed, idem).await
    }

    /// Rejects a held order (operator): it never reaches the broker.
    pub async fn reject_order(
        &self,
        p: &Principal,
        id: &OrderId,
        comment: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Executed<Order>> {
        p.require(Scope::ApprovalsWrite)?;
        validate_text("comment", &comment, 1000)?;
        let request = (id, &comment);
        self.once(p, idempotency_key, "orders.reject", &request, |idem| {
            self.reject_order_once(p, id, comment.clone(), idem)
        })
        .await
    }

    pub(super) async fn reject_order_once(
        &self,
        p: &Principal,
        id: &OrderId,
        comment: Option<String>,
        idem: Option<Idem>,
    ) -> Result<Order> {
        let row = self.order_row(p, id).await?;
        if !row.order.status.is_held() {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("order {id} is {}, not held", row.order.status),
            ));
        }
        self.close_held_order(
            p,
            row.order,
            OrderStatus::Rejected,
            "orders.reject",
            comment,
            idem,
        )
        .await
    }

    async fn close_held_order(
        &self,
        p: &Principal,
        stored: Order,
        to: OrderStatus,
        action: &str,
        comment: Option<String>,
        idem: Option<Idem>,
    ) -> Result<Order> {
        let idem = idem.as_ref();
        let mut order = stored.clone();
        order.status = to;
        order.reject_reason = comment.clone().or(order.reject_reason);
        order.updated_at = crate::storage::now();
        let mut tx = self.inner.store.begin().await?;
        if !tx
            .transition_order(&p.tenant_id, &order, stored.status, stored.filled_qty)
            .await?
        {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                format!("order {} was already decided", order.id),
            ));
        }
        let mut events = vec![(types::ORDER_UPDATED, order.id.as_str(), to_value(&order)?)];
        if stored.status == OrderStatus::PendingReview {
            let case = self
                .resolve_case(
                    &mut tx,
                    p,
                    "order",
                    order.id.as_str(),
                    CaseStatus::Rejected,
                    comment.as_deref(),
                )
                .await?;
            events.push((types::FRAUD_CASE_RESOLVED, order.id.as_str(), case));
        }
        let outcome = format!(
            "{}{}",
            to.as_str(),
            comment.map(|c| format!(": {c}")).unwrap_or_default()
        );
        let answer = self.kept(p, idem, &order, false)?;
        finish_once(
            &mut tx,
            p,
            idem,
            answer.as_deref(),
            &events,
            audit_entry(
                p,
                action,
                "order",
                order.id.as_str(),
                idem.map(|i| i.key.as_str()),
                &outcome,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// Orders waiting for an operator: all of the tenant's for a caller with
    /// `approvals:write`, else those the caller created.
    pub async fn held_orders(&self, p: &Principal) -> Result<Vec<Order>> {
        p.require(Scope::TradingRead)?;
        let mut held = self
            .inner
            .store
            .orders(
                &p.tenant_id,
                Some(OrderStatus::PendingApproval),
                None,
                Some(500),
            )
            .await?;
        held.extend(
            self.inner
                .store
                .orders(
                    &p.tenant_id,
                    Some(OrderStatus::PendingReview),
                    None,
                    Some(500),
                )
                .await?,
        );
        // An operator who decides (approvals:write) sees every held item of the tenant; any
        // other caller (an agent's key) the ones it created.
        if !p.has(Scope::ApprovalsWrite) {
            let me = p.actor.to_string();
            held.retain(|x| x.created_by == me);
        }
        Ok(held)
    }
}
