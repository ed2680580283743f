//! Customers, payments and refunds.

use sqlx::any::AnyRow;

use super::{col, from_json, now_micros, page_limit, to_json, ts, Store, Tx};
use crate::error::Result;
use crate::id::{CustomerId, PaymentId, RefundId, TenantId};
use crate::money::{Currency, Money};
use crate::payments::{CaptureMethod, Customer, Payment, PaymentStatus, Refund, RefundStatus};

const PAYMENT_COLUMNS: &str = "id, currency, amount_minor, captured_minor, capture_method, refunded_minor, payment_method, customer_id, payee, description, status, failure_code, failure_message, provider, provider_payment_id, created_by, assessment, created_at, updated_at";

/// A payment row plus the columns the platform needs but callers do not see.
#[derive(Debug, Clone)]
pub struct PaymentRow {
    /// The payment.
    pub payment: Payment,
    /// The idempotency key sent to the provider (stable across retries and approval).
    pub provider_idempotency_key: String,
    /// The API key that created it, for spending reservations.
    pub api_key_id: Option<String>,
}

fn payment_from_row(r: &AnyRow) -> Result<Payment> {
    let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
    let assessment: Option<String> = col(r, "assessment")?;
    let status = PaymentStatus::parse(&col::<String>(r, "status")?)?;
    let amount_minor: i64 = col(r, "amount_minor")?;
    // rows from before manual capture have no captured amount: a succeeded one captured all
    let captured_minor =
        col::<Option<i64>>(r, "captured_minor")?.unwrap_or(if status == PaymentStatus::Succeeded {
            amount_minor
        } else {
            0
        });
    Ok(Payment {
        id: PaymentId::parse(&col::<String>(r, "id")?)?,
        amount: Money::from_minor(amount_minor, currency),
        amount_captured: Money::from_minor(captured_minor, currency),
        capture_method: CaptureMethod::parse(&col::<String>(r, "capture_method")?)?,
        amount_refunded: Money::from_minor(col(r, "refunded_minor")?, currency),
        payment_method: col(r, "payment_method")?,
        customer_id: col::<Option<String>>(r, "customer_id")?
            .map(|c| CustomerId::parse(&c))
            .transpose()?,
        payee: col(r, "payee")?,
        description: col(r, "description")?,
        status,
        failure_code: col(r, "failure_code")?,
        failure_message: col(r, "failure_message")?,
        provider: col(r, "provider")?,
        provider_payment_id: col(r, "provider_payment_id")?,
        created_by: col(r, "created_by")?,
        assessment: assessment.as_deref().map(from_json).transpose()?,
        created_at: ts(col(r, "created_at")?),
        updated_at: ts(col(r, "updated_at")?),
    })
}

fn refund_from_row(r: &AnyRow) -> Result<Refund> {
    let currency = Currency::from_code(&col::<String>(r, "currency")?)?;
    Ok(Refund {
        id: RefundId::parse(&col::<String>(r, "id")?)?,
        payment_id: PaymentId::parse(&col::<String>(r, "payment_id")?)?,
        amount: Money::from_minor(col(r, "amount_minor")?, currency),
        status: RefundStatus::parse(&col::<String>(r, "status")?)?,
        reason: col(r, "reason")?,
        provider_refund_id: col(r, "provider_refund_id")?,
        created_at: ts(col(r, "created_at")?),
    })
}

impl Tx {
    /// Inserts a customer.
    pub async fn insert_customer(
        &mut self,
        tenant: &TenantId,
        c: &Customer,
        provider: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO customers (id, tenant_id, email, name, provider, provider_customer_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(c.id.as_str())
            .bind(tenant.as_str())
            .bind(c.email.as_deref())
            .bind(c.name.as_deref())
            .bind(provider)
            .bind(&c.provider_customer_id)
            .bind(c.created_at.timestamp_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Inserts a payment.
    pub async fn insert_payment(&mut self, tenant: &TenantId, row: &PaymentRow) -> Result<()> {
        let p = &row.payment;
        sqlx::query(
            "INSERT INTO payments (id, tenant_id, currency, amount_minor, refunded_minor, payment_method, customer_id, payee, description, status,
              failure_code, failure_message, provider, provider_payment_id, provider_idempotency_key, api_key_id, created_by, assessment, created_at, updated_at,
              captured_minor, capture_method)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
        )
        .bind(p.id.as_str())
        .bind(tenant.as_str())
        .bind(p.amount.currency().code())
        .bind(p.amount.to_minor()?)
        .bind(p.amount_refunded.to_minor()?)
        .bind(&p.payment_method)
        .bind(p.customer_id.as_ref().map(|c| c.as_str().to_owned()))
        .bind(p.payee.as_deref())
        .bind(p.description.as_deref())
        .bind(p.status.as_str())
        .bind(p.failure_code.as_deref())
        .bind(p.failure_message.as_deref())
        .bind(&p.provider)
        .bind(p.provider_payment_id.as_deref())
        .bind(&row.provider_idempotency_key)
        .bind(row.api_key_id.as_deref())
        .bind(&p.created_by)
        .bind(p.assessment.as_ref().map(to_json).transpose()?)
        .bind(p.created_at.timestamp_micros())
        .bind(p.updated_at.timestamp_micros())
        .bind(p.amount_captured.to_minor()?)
        .bind(p.capture_method.as_str())
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Moves a payment from `from` to the state in `p` (status, failure, provider id, captured
    /// amount, `updated_at` as the caller set it, so what it returns is what is stored). Returns
    /// `false` when the payment was no longer in `from` (someone else moved it first).
    pub async fn transition_payment(
        &mut self,
        tenant: &TenantId,
        p: &Payment,
        from: PaymentStatus,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE payments SET status = $1, failure_code = $2, failure_message = $3, provider_payment_id = $4, refunded_minor = $5, updated_at = $6,
              captured_minor = $10
             WHERE tenant_id = $7 AND id = $8 AND status = $9",
        )
        .bind(p.status.as_str())
        .bind(p.failure_code.as_deref())
        .bind(p.failure_message.as_deref())
        .bind(p.provider_payment_id.as_deref())
        .bind(p.amount_refunded.to_minor()?)
        .bind(p.updated_at.timestamp_micros())
        .bind(tenant.as_str())
        .bind(p.id.as_str())
        .bind(from.as_str())
        .bind(p.amount_captured.to_minor()?)
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1)
    }

    /// Adds to a payment's refunded amount, only while it stays within the amount paid.
    pub async fn add_refunded(
        &mut self,
        tenant: &TenantId,
        id: &PaymentId,
        amount: &Money,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE payments SET refunded_minor = refunded_minor + $1, updated_at = $2
             WHERE tenant_id = $3 AND id = $4 AND status = 'succeeded' AND refunded_minor + $1 <= COALESCE(captured_minor, amount_minor)",
        )
        .bind(amount.to_minor()?)
        .bind(now_micros())
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(self.conn())
        .await?
        .rows_affected()
            == 1)
    }

    /// Inserts a refund.
    pub async fn insert_refund(&mut self, tenant: &TenantId, r: &Refund) -> Result<()> {
        sqlx::query("INSERT INTO refunds (id, tenant_id, payment_id, currency, amount_minor, status, reason, provider_refund_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(r.id.as_str())
            .bind(tenant.as_str())
            .bind(r.payment_id.as_str())
            .bind(r.amount.currency().code())
            .bind(r.amount.to_minor()?)
            .bind(r.status.as_str())
            .bind(r.reason.as_deref())
            .bind(&r.provider_refund_id)
            .bind(r.created_at.timestamp_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// A customer of a tenant, with its provider.
    pub async fn customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<Option<Customer>> {
        let row = sqlx::query("SELECT id, email, name, provider_customer_id, created_at FROM customers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Customer {
                id: CustomerId::parse(&col::<String>(&r, "id")?)?,
                email: col(&r, "email")?,
                name: col(&r, "name")?,
                provider_customer_id: col(&r, "provider_customer_id")?,
                created_at: ts(col(&r, "created_at")?),
            })
        })
        .transpose()
    }

    /// A payment of a tenant with its internal columns.
    pub async fn payment_row(
        &self,
        tenant: &TenantId,
        id: &PaymentId,
    ) -> Result<Option<PaymentRow>> {
        let sql = format!("SELECT {PAYMENT_COLUMNS}, provider_idempotency_key, api_key_id FROM payments WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(PaymentRow {
                payment: payment_from_row(&r)?,
                provider_idempotency_key: col(&r, "provider_idempotency_key")?,
                api_key_id: col(&r, "api_key_id")?,
            })
        })
        .transpose()
    }

    /// The tenant and id of the payment a provider knows as `provider_payment_id`.
    pub async fn payment_by_provider_id(
        &self,
        provider: &str,
        provider_payment_id: &str,
    ) -> Result<Option<(TenantId, PaymentId)>> {
        let row = sqlx::query(
            "SELECT tenant_id, id FROM payments WHERE provider = $1 AND provider_payment_id = $2",
        )
        .bind(provider)
        .bind(provider_payment_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok((
                TenantId::parse(&col::<String>(&r, "tenant_id")?)?,
                PaymentId::parse(&col::<String>(&r, "id")?)?,
            ))
        })
        .transpose()
    }

    /// Payments of a tenant, newest first, optionally of one status, before a cursor id.
    pub async fn payments(
        &self,
        tenant: &TenantId,
        status: Option<PaymentStatus>,
        before: Option<&PaymentId>,
        limit: Option<u32>,
    ) -> Result<Vec<Payment>> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(status.map(|s| s.as_str()).unwrap_or(""))
            .bind(before.map(|b| b.as_str()).unwrap_or(""))
            .bind(page_limit(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(payment_from_row).collect()
    }

    /// Refunds of a payment.
    pub async fn refunds(&self, tenant: &TenantId, payment: &PaymentId) -> Result<Vec<Refund>> {
        let rows = sqlx::query("SELECT id, payment_id, currency, amount_minor, status, reason, provider_refund_id, created_at FROM refunds WHERE tenant_id = $1 AND payment_id = $2 ORDER BY created_at, id")
            .bind(tenant.as_str())
            .bind(payment.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(refund_from_row).collect()
    }
}
