//! The brokerage: account, positions, market data, orders.

use crate::*;

/// `fintech trading …`
pub(crate) async fn trading(
    p: &Platform,
    op: &Principal,
    command: &TradingCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        TradingCmd::Account => {
            let a = p.brokerage_account(op).await?;
            show(
                fmt,
                &a,
                &["ACCOUNT", "CASH", "BUYING POWER", "EQUITY", "MODE"],
                vec![vec![
                    a.account_number.clone(),
                    a.cash.to_string(),
                    a.buying_power.to_string(),
                    a.equity.to_string(),
                    a.mode.to_string(),
                ]],
            );
        }
        TradingCmd::Positions => {
            let ps = p.positions(op).await?;
            let rows = ps
                .iter()
                .map(|x| {
                    vec![
                        x.symbol.clone(),
                        x.qty.to_string(),
                        x.avg_entry_price.to_string(),
                        x.current_price.to_string(),
                        x.market_value.to_string(),
                        x.unrealized_pl.to_string(),
                    ]
                })
                .collect();
            show(
                fmt,
                &ps,
                &[
                    "SYMBOL",
                    "QTY",
                    "AVG ENTRY",
                    "PRICE",
                    "VALUE",
                    "UNREALIZED P/L",
                ],
                rows,
            );
        }
        TradingCmd::Quote { symbol } => {
            let q = p.quote(op, symbol).await?;
            show(
                fmt,
                &q,
                &["SYMBOL", "BID", "ASK", "AT"],
                vec![vec![
                    q.symbol.clone(),
                    q.bid.to_string(),
                    q.ask.to_string(),
                    q.at.to_rfc3339(),
                ]],
            );
        }
        TradingCmd::Asset { symbol } => {
            let a = p.asset(op, symbol).await?;
            let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
            show(
                fmt,
                &a,
                &[
                    "SYMBOL",
                    "NAME",
                    "EXCHANGE",
                    "CLASS",
                    "STATUS",
                    "TRADABLE",
                    "FRACTIONABLE",
                    "SHORTABLE",
                    "MARGINABLE",
                    "EASY TO BORROW",
                ],
                vec![vec![
                    a.symbol.clone(),
                    a.name.clone(),
                    a.exchange.clone(),
                    a.asset_class.as_str().into(),
                    a.status.as_str().into(),
                    yes(a.tradable),
                    yes(a.fractionable),
                    yes(a.shortable),
                    yes(a.marginable),
                    yes(a.easy_to_borrow),
                ]],
            );
        }
        TradingCmd::Clock => {
            let c = p.market_clock(op).await?;
            show(
                fmt,
                &c,
                &["NOW", "OPEN", "NEXT OPEN", "NEXT CLOSE"],
                vec![vec![
                    c.timestamp.to_rfc3339(),
                    c.is_open.to_string(),
                    c.next_open.to_rfc3339(),
                    c.next_close.to_rfc3339(),
                ]],
            );
        }
        TradingCmd::Orders(command) => orders(p, op, command, fmt).await?,
    }
    Ok(())
}

/// `fintech trading orders …`
async fn orders(
    p: &Platform,
    op: &Principal,
    command: &OrderCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        OrderCmd::Place {
            symbol,
            side,
            qty,
            r#type,
            tif,
            limit_price,
            stop_price,
            idempotency_key,
            preview,
            confirm,
        } => {
            let req = OrderRequest {
                symbol: symbol.to_ascii_uppercase(),
                side: OrderSide::parse(side)?,
                qty: *qty,
                order_type: OrderType::parse(r#type)?,
                time_in_force: TimeInForce::parse(tif)?,
                limit_price: limit_price
                    .as_deref()
                    .map(|v| money(v, "USD"))
                    .transpose()?,
                stop_price: stop_price.as_deref().map(|v| money(v, "USD")).transpose()?,
                confirmation_token: confirm.clone(),
            };
            if *preview {
                return show_decision(fmt, &p.preview_order(op, &req).await?);
            }
            let o =
                crate::output::value(p.place_order(op, req, Some(idem(idempotency_key))).await?);
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
        OrderCmd::Get { id } => {
            let o = p.order(op, &OrderId::parse(id)?).await?;
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
        OrderCmd::List { status, limit } => {
            let q = OrderQuery {
                status: status.as_deref().map(OrderStatus::parse).transpose()?,
                before: None,
                limit: Some(*limit),
            };
            let os = p.orders(op, &q).await?;
            show(fmt, &os, ORDER_HEADERS, order_rows(&os));
        }
        OrderCmd::Cancel { id } => {
            let o = crate::output::value(p.cancel_order(op, &OrderId::parse(id)?, None).await?);
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
    }
    Ok(())
}
