//! Platform-wide figures for monitoring: how many webhook deliveries wait and how many review
//! cases are open, with the oldest of each. Counts and timestamps only, across tenants.

use super::Store;
use crate::error::Result;

/// What waits in the platform's queues, read in one pass per queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueRow {
    /// Webhook deliveries not yet delivered nor given up (`pending`, including those waiting
    /// for a retry).
    pub webhook_pending: i64,
    /// When the oldest pending delivery was queued (micros), if any.
    pub webhook_oldest_micros: Option<i64>,
    /// Fraud review cases still open.
    pub cases_open: i64,
    /// When the oldest open case was opened (micros), if any.
    pub case_oldest_micros: Option<i64>,
}

impl Store {
    /// Counts and oldest timestamps of pending webhook deliveries and open review cases.
    pub async fn queue_row(&self) -> Result<QueueRow> {
        let (webhook_pending, webhook_oldest_micros): (i64, Option<i64>) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), MIN(created_at) FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        let (cases_open, case_oldest_micros): (i64, Option<i64>) = sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT), MIN(created_at) FROM fraud_cases WHERE status = 'open'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueRow {
            webhook_pending,
            webhook_oldest_micros,
            cases_open,
            case_oldest_micros,
        })
    }
}
