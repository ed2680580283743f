//! Payments, customers and their payment methods, refunds.

use crate::*;

/// `fintech payments …`
pub(crate) async fn payments(
    p: &Platform,
    op: &Principal,
    command: &PaymentCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        PaymentCmd::Create {
            amount,
            currency,
            payment_method,
            payee,
            description,
            customer,
            capture,
            idempotency_key,
            preview,
            confirm,
        } => {
            let req = NewPayment {
                amount: money(amount, currency)?,
                payment_method: payment_method.clone(),
                customer_id: customer.as_deref().map(CustomerId::parse).transpose()?,
                payee: payee.clone(),
                description: description.clone(),
                capture_method: Some(CaptureMethod::parse(capture)?),
                confirmation_token: confirm.clone(),
            };
            if *preview {
                return show_decision(fmt, &p.preview_payment(op, &req).await?);
            }
            let pay = crate::output::value(
                p.create_payment(op, req, Some(idem(idempotency_key)))
                    .await?,
            );
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
            if pay.status.is_held() {
                note!("{}", held_hint(p, op, &pay).await);
            }
        }
        PaymentCmd::Get { id } => {
            let pay = p.payment(op, &PaymentId::parse(id)?).await?;
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
        PaymentCmd::List { status, limit } => {
            let q = PaymentQuery {
                status: status.as_deref().map(PaymentStatus::parse).transpose()?,
                before: None,
                limit: Some(*limit),
            };
            let ps = p.payments(op, &q).await?;
            show(fmt, &ps, PAYMENT_HEADERS, payment_rows(&ps));
        }
        PaymentCmd::Capture {
            id,
            amount,
            idempotency_key,
            preview,
        } => {
            let payment_id = PaymentId::parse(id)?;
            let amount = in_payment_currency(p, op, &payment_id, amount).await?;
            if *preview {
                return show_decision(fmt, &p.preview_capture(op, &payment_id, amount).await?);
            }
            let pay = crate::output::value(
                p.capture_payment(op, &payment_id, amount, Some(idem(idempotency_key)))
                    .await?,
            );
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
        PaymentCmd::Balance => {
            let b = p.payments_balance(op).await?;
            let rows = b
                .iter()
                .map(|b| {
                    vec![
                        b.available.currency().code().to_owned(),
                        b.available.amount().to_string(),
                        b.pending.amount().to_string(),
                    ]
                })
                .collect();
            show(fmt, &b, &["CURRENCY", "AVAILABLE", "PENDING"], rows);
        }
        PaymentCmd::Cancel { id } => {
            let pay =
                crate::output::value(p.cancel_payment(op, &PaymentId::parse(id)?, None).await?);
            show(
                fmt,
                &pay,
                PAYMENT_HEADERS,
                payment_rows(std::slice::from_ref(&pay)),
            );
        }
    }
    Ok(())
}

/// `fintech customers …`
pub(crate) async fn customers(
    p: &Platform,
    op: &Principal,
    command: &CustomerCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        CustomerCmd::Create {
            email,
            name,
            idempotency_key,
        } => {
            let c = crate::output::value(
                p.create_customer(
                    op,
                    NewCustomer {
                        email: email.clone(),
                        name: name.clone(),
                    },
                    Some(idem(idempotency_key)),
                )
                .await?,
            );
            show(
                fmt,
                &c,
                CUSTOMER_HEADERS,
                customer_rows(std::slice::from_ref(&c)),
            );
        }
        CustomerCmd::Get { id } => {
            let c = p.customer(op, &CustomerId::parse(id)?).await?;
            show(
                fmt,
                &c,
                CUSTOMER_HEADERS,
                customer_rows(std::slice::from_ref(&c)),
            );
        }
        CustomerCmd::Attach { id, payment_method } => {
            let m = crate::output::value(
                p.attach_payment_method(
                    op,
                    &CustomerId::parse(id)?,
                    AttachPaymentMethod {
                        payment_method: payment_method.clone(),
                    },
                    None,
                )
                .await?,
            );
            show(
                fmt,
                &m,
                METHOD_HEADERS,
                method_rows(std::slice::from_ref(&m)),
            );
        }
        CustomerCmd::Methods { id } => {
            let ms = p.payment_methods(op, &CustomerId::parse(id)?).await?;
            show(fmt, &ms, METHOD_HEADERS, method_rows(&ms));
        }
    }
    Ok(())
}

/// `fintech refunds …`
pub(crate) async fn refunds(
    p: &Platform,
    op: &Principal,
    command: &RefundCmd,
    fmt: Format,
) -> fintech_core::Result<()> {
    match command {
        RefundCmd::Create {
            payment,
            amount,
            reason,
            idempotency_key,
            preview,
            confirm,
        } => {
            let payment_id = PaymentId::parse(payment)?;
            let amount = in_payment_currency(p, op, &payment_id, amount).await?;
            let req = NewRefund {
                payment_id,
                amount,
                reason: reason.clone(),
                confirmation_token: confirm.clone(),
            };
            if *preview {
                return show_decision(fmt, &p.preview_refund(op, &req).await?);
            }
            let r = crate::output::value(
                p.create_refund(op, req, Some(idem(idempotency_key)))
                    .await?,
            );
            show(
                fmt,
                &r,
                &["REFUND", "PAYMENT", "AMOUNT", "STATUS"],
                vec![vec![
                    r.id.to_string(),
                    r.payment_id.to_string(),
                    r.amount.to_string(),
                    r.status.as_str().into(),
                ]],
            );
        }
    }
    Ok(())
}
