//! Webhook endpoints and the delivery queue.

use sqlx::any::AnyRow;

use super::{col, from_json, now_micros, to_json, ts, Store, Tx};
use crate::error::Result;
use crate::events::Event;
use crate::id::{EventId, TenantId, WebhookDeliveryId, WebhookEndpointId};
use crate::webhooks::{
    backoff_secs, matches, AttemptOutcome, DeliveryStatus, WebhookDelivery, WebhookEndpoint,
    MAX_ATTEMPTS,
};

/// A due delivery as claimed, before the secret is opened.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub delivery: WebhookDelivery,
    /// Target URL.
    pub url: String,
    /// The sealed signing secret (base64).
    pub secret_enc: String,
    /// The event, as JSON text.
    pub body: String,
}

const ENDPOINT_COLUMNS: &str = "id, url, event_types, created_by, created_at, disabled_at";
const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at";

fn endpoint_from_row(r: &AnyRow) -> Result<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::parse(&col::<String>(r, "id")?)?,
        url: col(r, "url")?,
        event_types: from_json(&col::<String>(r, "event_types")?)?,
        created_by: col(r, "created_by")?,
        created_at: ts(col(r, "created_at")?),
        disabled_at: col::<Option<i64>>(r, "disabled_at")?.map(ts),
    })
}

fn delivery_from_row(r: &AnyRow) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: WebhookDeliveryId::parse(&col::<String>(r, "id")?)?,
        endpoint_id: WebhookEndpointId::parse(&col::<String>(r, "endpoint_id")?)?,
        event_id: EventId::parse(&col::<String>(r, "event_id")?)?,
        event_type: col(r, "event_type")?,
        status: DeliveryStatus::parse(&col::<String>(r, "status")?)?,
        attempts: col::<i64>(r, "attempts")?,
        next_attempt_at: ts(col(r, "next_attempt_at")?),
        last_status: col::<Option<i64>>(r, "last_status")?,
        last_error: col(r, "last_error")?,
        created_at: ts(col(r, "created_at")?),
        delivered_at: col::<Option<i64>>(r, "delivered_at")?.map(ts),
    })
}

impl Tx {
    /// Registers an endpoint.
    pub async fn insert_webhook_endpoint(
        &mut self,
        tenant: &TenantId,
        e: &WebhookEndpoint,
        secret_enc: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret_enc, created_by, created_at, disabled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)")
            .bind(e.id.as_str())
            .bind(tenant.as_str())
            .bind(&e.url)
            .bind(to_json(&e.event_types)?)
            .bind(secret_enc)
            .bind(&e.created_by)
            .bind(e.created_at.timestamp_micros())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Stops new deliveries to an endpoint; false when it is not the tenant's or already off.
    pub async fn disable_webhook_endpoint(
        &mut self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> Result<bool> {
        let n = sqlx::query("UPDATE webhook_endpoints SET disabled_at = $1 WHERE tenant_id = $2 AND id = $3 AND disabled_at IS NULL")
            .bind(now_micros())
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Queues each of `events` for every active endpoint of the tenant subscribed to its type
    /// (the endpoints read once): in the events' own transaction, so an event and its
    /// deliveries exist together or not at all.
    pub async fn queue_webhook_deliveries_for(
        &mut self,
        tenant: &TenantId,
        events: &[Event],
    ) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id, event_types FROM webhook_endpoints WHERE tenant_id = $1 AND disabled_at IS NULL",
        )
        .bind(tenant.as_str())
        .fetch_all(self.conn())
        .await?;
        let now = now_micros();
        let mut endpoints = Vec::with_capacity(rows.len());
        for r in rows {
            let types: Vec<String> = from_json(&col::<String>(&r, "event_types")?)?;
            endpoints.push((col::<String>(&r, "id")?, types));
        }
        for event in events {
            self.queue_for_endpoints(tenant, event, &endpoints, now)
                .await?;
        }
        Ok(())
    }

    async fn queue_for_endpoints(
        &mut self,
        tenant: &TenantId,
        event: &Event,
        endpoints: &[(String, Vec<String>)],
        now: i64,
    ) -> Result<()> {
        for (endpoint_id, types) in endpoints {
            if !matches(types, &event.event_type) {
                continue;
            }
            sqlx::query("INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_seq, event_id, event_type, status, attempts, next_attempt_at, locked_until, last_status, last_error, created_at, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, NULL, NULL, $7, NULL)")
                .bind(WebhookDeliveryId::generate().as_str())
                .bind(tenant.as_str())
                .bind(endpoint_id)
                .bind(event.seq)
                .bind(event.id.as_str())
                .bind(&event.event_type)
                .bind(now)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// Endpoints of a tenant, newest first (deleted ones included, marked).
    pub async fn webhook_endpoints(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at DESC");
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(endpoint_from_row)
            .collect()
    }

    /// One endpoint of a tenant.
    pub async fn webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"
        );
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(endpoint_from_row)
            .transpose()
    }

    /// Deliveries to an endpoint, newest first.
    pub async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3");
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(endpoint.as_str())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(delivery_from_row)
            .collect()
    }

    /// Puts a delivery back in the queue, due now, with a fresh attempt budget.
    pub async fn replay_webhook_delivery(
        &self,
        tenant: &TenantId,
        id: &WebhookDeliveryId,
    ) -> Result<Option<WebhookDelivery>> {
        let n = sqlx::query("UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, locked_until = 0 WHERE tenant_id = $2 AND id = $3")
            .bind(now_micros())
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        delivery_from_row(&row).map(Some)
    }

    /// Claims up to `limit` due deliveries for `lease_micros`: a conditional update per
    /// delivery, so concurrent workers (other instances) never send the same one at once.
    pub async fn claim_webhook_deliveries(
        &self,
        limit: i64,
        lease_micros: i64,
    ) -> Result<Vec<ClaimedDelivery>> {
        let now = now_micros();
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 AND locked_until <= $1 ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for id in ids {
            let won = sqlx::query("UPDATE webhook_deliveries SET locked_until = $1 WHERE id = $2 AND status = 'pending' AND locked_until <= $3")
                .bind(now + lease_micros)
                .bind(&id)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
            if won == 0 {
                continue;
            }
            let row = sqlx::query(
                "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at, d.tenant_id, d.event_seq, e.url, e.secret_enc
                 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_one(&self.pool)
            .await?;
            let tenant_id = TenantId::parse(&col::<String>(&row, "tenant_id")?)?;
            let seq: i64 = col(&row, "event_seq")?;
            let events = self.events_after(&tenant_id, seq - 1, 1).await?;
            let event = events
                .into_iter()
                .find(|e| e.seq == seq)
                .ok_or_else(|| crate::Error::internal("delivery of a missing event"))?;
            claimed.push(ClaimedDelivery {
                delivery: delivery_from_row(&row)?,
                url: col(&row, "url")?,
                secret_enc: col(&row, "secret_enc")?,
                body: to_json(&event)?,
            });
        }
        Ok(claimed)
    }

    /// Records an attempt: delivered, or failed with the next attempt scheduled (or given up).
    pub async fn record_webhook_attempt(
        &self,
        id: &WebhookDeliveryId,
        outcome: &AttemptOutcome,
    ) -> Result<()> {
        let now = now_micros();
        match outcome {
            AttemptOutcome::Delivered { status } => {
                sqlx::query("UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = $1, last_error = NULL, delivered_at = $2, locked_until = 0 WHERE id = $3")
                    .bind(i64::from(*status))
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&self.pool)
                    .await?;
            }
            AttemptOutcome::Failed { status, error } => {
                let attempts: i64 =
                    sqlx::query_scalar("SELECT attempts FROM webhook_deliveries WHERE id = $1")
                        .bind(id.as_str())
                        .fetch_one(&self.pool)
                        .await?;
                let attempts = attempts + 1;
                let status_text = if attempts >= MAX_ATTEMPTS {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Pending
                };
                sqlx::query("UPDATE webhook_deliveries SET status = $1, attempts = $2, last_status = $3, last_error = $4, next_attempt_at = $5, locked_until = 0 WHERE id = $6")
                    .bind(status_text.as_str())
                    .bind(attempts)
                    .bind(status.map(i64::from))
                    .bind(error.chars().take(500).collect::<String>())
                    .bind(now + backoff_secs(attempts - 1) * 1_000_000)
                    .bind(id.as_str())
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }
}
