//! `fintech trigger`: realistic events from the simulator, for developing against them.

use crate::*;

/// `fintech trigger <event>`: makes the simulator produce a realistic event.
pub(crate) async fn trigger(
    p: &Platform,
    sim: &SimProviders,
    op: &Principal,
    event: &str,
    fmt: Format,
) -> fintech_core::Result<()> {
    let pay = |pm: &str, amount: &str| payment(event, pm, amount);
    match event {
        "payment.succeeded" | "payment.failed" => {
            let card = quiet_test_card(p, op).await?;
            let pm = if event == "payment.succeeded" {
                card
            } else {
                "pm_card_chargeDeclined"
            };
            let pay = crate::output::value(p.create_payment(op, pay(pm, "25.00"), None).await?);
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
        "payment.held" => {
            let card = quiet_test_card(p, op).await?;
            let held = held_payment(p, op, pay(card, "25.00")).await?;
            show(
                fmt,
                &held,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&held)),
            );
        }
        "order.filled" => {
            let req = OrderRequest {
                symbol: "AAPL".into(),
                side: OrderSide::Buy,
                qty: Decimal::ONE,
                order_type: OrderType::Market,
                time_in_force: TimeInForce::Day,
                limit_price: None,
                stop_price: None,
                confirmation_token: None,
            };
            let o = crate::output::value(p.place_order(op, req, None).await?);
            show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
        }
        "transactions.updated" => transactions_updated(p, sim, op, fmt).await?,
        "fraud.case_opened" => return fraud_case_opened(p, op, event, fmt).await,
        other => return Err(usage(format!("unknown event {other}"))),
    }
    Ok(())
}

/// Test cards `trigger` pays with: none is the walkthrough's default (`pm_card_visa`), so the
/// payments a user makes by hand and the triggered ones do not add up on one card.
const TRIGGER_CARDS: &[&str] = &[
    "pm_card_mastercard",
    "pm_card_amex",
    "pm_card_discover",
    "pm_card_visa_debit",
];

/// The trigger card used least in the last hour, so repeated triggers stay clear of the
/// per-card velocity rules of the starter set as long as they can (the rules still decide).
pub(crate) async fn quiet_test_card(
    p: &Platform,
    op: &Principal,
) -> fintech_core::Result<&'static str> {
    let recent = p
        .payments(
            op,
            &PaymentQuery {
                status: None,
                before: None,
                limit: Some(200),
            },
        )
        .await?;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let uses = |card: &str| {
        recent
            .iter()
            .filter(|x| x.payment_method == card && x.created_at >= since)
            .count()
    };
    Ok(TRIGGER_CARDS
        .iter()
        .copied()
        .min_by_key(|c| uses(c))
        .unwrap_or("pm_card_mastercard"))
}

/// A payment of the triggered event.
fn payment(event: &str, pm: &str, amount: &str) -> NewPayment {
    NewPayment {
        amount: Money::parse(amount, "USD")
            .unwrap_or_else(|_| Money::zero(fintech_core::Currency::USD)),
        payment_method: pm.to_owned(),
        customer_id: None,
        payee: Some("Triggered Test Merchant".into()),
        description: Some(format!("fintech trigger {event}")),
        capture_method: None,
        confirmation_token: None,
    }
}

/// A payment held for approval: made through a short-lived key with an approval threshold,
/// used once and revoked.
async fn held_payment(
    p: &Platform,
    op: &Principal,
    req: NewPayment,
) -> fintech_core::Result<fintech_core::payments::Payment> {
    let key = crate::output::value(
        p.create_api_key(
            op,
            NewApiKey {
                name: "fintech trigger".into(),
                scopes: BTreeSet::from([Scope::PaymentsWrite, Scope::PaymentsRead]),
                limits: KeyLimits {
                    approval_threshold: Some(Money::from_minor(100, fintech_core::Currency::USD)),
                    ..Default::default()
                },
            },
            None,
        )
        .await?,
    );
    let agent = p.authenticate(&key.secret, Interface::Cli).await?;
    let held = p.create_payment(&agent, req, None).await;
    p.revoke_api_key(op, &key.key.id, None).await?;
    held.map(crate::output::value)
}

/// Catches every item up, lets a simulated day pass, and syncs what it brought.
async fn transactions_updated(
    p: &Platform,
    sim: &SimProviders,
    op: &Principal,
    fmt: Format,
) -> fintech_core::Result<()> {
    let items = p.items(op).await?;
    if items.is_empty() {
        return Err(Error::not_found(
            "item",
            "(none: run `fintech banking link`)",
        ));
    }
    let mut rows = Vec::new();
    for item in &items {
        // Catch up, let a simulated day pass, and sync what it brought.
        p.sync_transactions(op, &item.id, None, None).await?;
        sim.banking_sim(&op.tenant_id).advance().await?;
        let s = crate::output::value(p.sync_transactions(op, &item.id, None, None).await?);
        rows.push(vec![
            item.id.to_string(),
            s.added.to_string(),
            s.modified.to_string(),
            s.removed.to_string(),
        ]);
    }
    show(
        fmt,
        &rows,
        &["ITEM", "ADDED", "MODIFIED", "REMOVED"],
        rows.clone(),
    );
    Ok(())
}

/// Card testing against the active rule set: small charges on one card until one is held
/// for review; prints the case.
async fn fraud_case_opened(
    p: &Platform,
    op: &Principal,
    event: &str,
    fmt: Format,
) -> fintech_core::Result<()> {
    if p.fraud_rules(op).await?.is_none() {
        return Err(Error::not_found(
            "rule_set",
            "(none active: load one first, e.g. `fintech fraud rules load --starter`)",
        ));
    }
    // Card testing by a short-lived agent key (so the operator may approve the case): small
    // charges on one card until the rules hold one for review.
    let card = quiet_test_card(p, op).await?;
    let key = crate::output::value(
        p.create_api_key(
            op,
            NewApiKey {
                name: "fintech trigger".into(),
                scopes: BTreeSet::from([Scope::PaymentsWrite, Scope::PaymentsRead]),
                limits: KeyLimits::default(),
            },
            None,
        )
        .await?,
    );
    let agent = p.authenticate(&key.secret, Interface::Cli).await?;
    let outcome = card_testing(p, op, &agent, card, payment(event, card, "4.99"), fmt).await;
    p.revoke_api_key(op, &key.key.id, None).await?;
    outcome
}

/// Charges `attempt` up to 12 times until the active rules hold one for review, and shows the
/// case that opened.
async fn card_testing(
    p: &Platform,
    op: &Principal,
    agent: &Principal,
    card: &str,
    attempt: NewPayment,
    fmt: Format,
) -> fintech_core::Result<()> {
    for _ in 0..12 {
        let pay = p.create_payment(agent, attempt.clone(), None).await;
        match pay {
            Ok(pay) if pay.status == PaymentStatus::PendingReview => {
                let cases = p
                    .fraud_cases(
                        op,
                        &fintech_core::platform::CaseQuery {
                            status: Some(fintech_core::fraud::CaseStatus::Open),
                            limit: Some(1),
                        },
                    )
                    .await?;
                show(
                    fmt,
                    &cases,
                    &["CASE", "OBJECT"],
                    cases
                        .iter()
                        .map(|c| vec![c.id.to_string(), c.object_id.clone()])
                        .collect(),
                );
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Limit => {
                return Err(usage(format!(
                    "the active rules block charges on {card} before they review (it was used much in the last minutes; try again later): {e}"
                )));
            }
            Err(e) => return Err(e),
        }
    }
    Err(usage(
        "the active rules opened no case after 12 small charges on one card",
    ))
}
