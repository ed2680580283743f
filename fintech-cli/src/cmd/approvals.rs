//! Held payments and orders, and fraud review cases.

use crate::*;

/// `fintech approvals …`
pub(crate) async fn approvals(
    p: &Platform,
    op: &Principal,
    command: &ApprovalCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        ApprovalCmd::List => {
            let payments = p.held_payments(op).await?;
            let orders = p.held_orders(op).await?;
            let v = serde_json::json!({"payments": payments, "orders": orders});
            let mut rows: Vec<Vec<String>> = payments
                .iter()
                .map(|x| {
                    vec![
                        x.id.to_string(),
                        x.status.as_str().into(),
                        x.amount.to_string(),
                        x.created_by.clone(),
                    ]
                })
                .collect();
            rows.extend(orders.iter().map(|o| {
                vec![
                    o.id.to_string(),
                    o.status.to_string(),
                    format!("{} {} {}", o.side, o.qty, o.symbol),
                    o.created_by.clone(),
                ]
            }));
            show(fmt, &v, &["ID", "STATUS", "WHAT", "REQUESTED BY"], rows);
        }
        ApprovalCmd::Approve { id, comment } | ApprovalCmd::Reject { id, comment } => {
            let approve = matches!(command, ApprovalCmd::Approve { .. });
            if id.starts_with("pay_") {
                let pid = PaymentId::parse(id)?;
                let pay = if approve {
                    match p.approve_payment(op, &pid, comment.clone(), None).await {
                        Ok(pay) => pay.into_value(),
                        Err(e) => {
                            // Refused as its creator: say how to get a second approver.
                            if e.kind() == ErrorKind::Forbidden && op.has(Scope::ApprovalsWrite) {
                                if let Ok(pay) = p.payment(op, &pid).await {
                                    if pay.created_by == op.actor.to_string() {
                                        note!("{}", held_hint(p, op, &pay).await);
                                    }
                                }
                            }
                            return Err(e);
                        }
                    }
                } else {
                    p.reject_payment(op, &pid, comment.clone(), None)
                        .await?
                        .into_value()
                };
                show(
                    fmt,
                    &pay,
                    PAYMENT_HEADERS,
                    payment_rows(std::slice::from_ref(&pay)),
                );
            } else if id.starts_with("ord_") {
                let oid = OrderId::parse(id)?;
                let o = if approve {
                    p.approve_order(op, &oid, comment.clone(), None)
                        .await?
                        .into_value()
                } else {
                    p.reject_order(op, &oid, comment.clone(), None)
                        .await?
                        .into_value()
                };
                show(fmt, &o, ORDER_HEADERS, order_rows(std::slice::from_ref(&o)));
            } else {
                return Err(usage("expected a payment (pay_…) or order (ord_…) id"));
            }
        }
    }
    Ok(())
}

/// `fintech fraud …`
pub(crate) async fn fraud(
    p: &Platform,
    op: &Principal,
    command: &FraudCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        FraudCmd::Rules(cmd) => fraud_rules(p, op, cmd, fmt).await?,
        FraudCmd::Cases(cmd) => {
            let cases = match cmd {
                CaseCmd::List { status, limit } => {
                    let q = fintech_core::platform::CaseQuery {
                        status: status
                            .as_deref()
                            .map(fintech_core::fraud::CaseStatus::parse)
                            .transpose()?,
                        limit: Some(*limit),
                    };
                    p.fraud_cases(op, &q).await?
                }
                CaseCmd::Show { id } => vec![
                    p.fraud_case(op, &fintech_core::id::CaseId::parse(id)?)
                        .await?,
                ],
                CaseCmd::Approve { id, comment } => {
                    vec![p
                        .approve_fraud_case(
                            op,
                            &fintech_core::id::CaseId::parse(id)?,
                            comment.clone(),
                            None,
                        )
                        .await?
                        .into_value()]
                }
                CaseCmd::Reject { id, comment } => {
                    vec![p
                        .reject_fraud_case(
                            op,
                            &fintech_core::id::CaseId::parse(id)?,
                            comment.clone(),
                            None,
                        )
                        .await?
                        .into_value()]
                }
            };
            let rows = cases
                .iter()
                .map(|c| {
                    let hits: Vec<_> = c
                        .assessment
                        .hits
                        .iter()
                        .map(|h| format!("{}: {}", h.rule, h.reason))
                        .collect();
                    vec![
                        c.id.to_string(),
                        c.status.as_str().into(),
                        c.object_id.clone(),
                        c.assessment.score.to_string(),
                        hits.join("; "),
                    ]
                })
                .collect();
            if matches!(cmd, CaseCmd::List { .. }) {
                show(
                    fmt,
                    &cases,
                    &["CASE", "STATUS", "OBJECT", "SCORE", "REASONS"],
                    rows,
                );
            } else if let Some(c) = cases.first() {
                show(
                    fmt,
                    c,
                    &["CASE", "STATUS", "OBJECT", "SCORE", "REASONS"],
                    rows,
                );
            }
        }
    }
    Ok(())
}
