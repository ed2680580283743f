//! Operations figures for monitoring, read by the shells to report as metrics: queue depths
//! and ages (webhook deliveries, fraud review cases) and a sweep verifying every tenant's
//! audit chain. They carry counts and durations only, never a tenant's data or id.

use std::time::Duration;

use super::Platform;
use crate::error::Result;

/// What waits in the platform's queues, across tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueFigures {
    /// Webhook deliveries waiting to be delivered (including those waiting for a retry).
    pub webhook_deliveries_pending: u64,
    /// How long the oldest of them has waited (zero when none waits).
    pub webhook_oldest_pending_age: Duration,
    /// Fraud review cases still open (payments and orders held for a decision).
    pub fraud_cases_open: u64,
    /// How long the oldest open case has waited (zero when none is open).
    pub fraud_oldest_open_age: Duration,
}

/// The outcome of verifying every tenant's audit chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditSweep {
    /// Chains verified intact.
    pub verified: u64,
    /// Chains with a bad record or missing records.
    pub failed: u64,
}

fn age(now_micros: i64, since_micros: Option<i64>) -> Duration {
    since_micros
        .map(|t| Duration::from_micros(u64::try_from(now_micros - t).unwrap_or(0)))
        .unwrap_or_default()
}

impl Platform {
    /// Queue depths and ages across tenants, for monitoring.
    pub async fn queue_figures(&self) -> Result<QueueFigures> {
        let row = self.inner.store.queue_row().await?;
        let now = crate::storage::now_micros();
        Ok(QueueFigures {
            webhook_deliveries_pending: u64::try_from(row.webhook_pending).unwrap_or(0),
            webhook_oldest_pending_age: age(now, row.webhook_oldest_micros),
            fraud_cases_open: u64::try_from(row.cases_open).unwrap_or(0),
            fraud_oldest_open_age: age(now, row.case_oldest_micros),
        })
    }

    /// Verifies every tenant's audit chain (reads each chain in full: run it every few
    /// minutes, not per request). A failed chain is logged with its tenant and first bad
    /// record; the result only counts.
    pub async fn verify_all_audit_chains(&self) -> Result<AuditSweep> {
        let mut sweep = AuditSweep::default();
        for t in self.inner.store.tenants().await? {
            let v = self.inner.store.verify_audit(&t.id).await?;
            match &v.first_bad {
                None => sweep.verified += 1,
                Some(bad) => {
                    tracing::error!(tenant = %t.id, seq = bad.seq, reason = %bad.reason, "audit chain verification failed");
                    sweep.failed += 1;
                }
            }
        }
        Ok(sweep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_is_zero_without_an_item_or_from_the_future() {
        assert_eq!(age(5_000_000, None), Duration::ZERO);
        assert_eq!(age(5_000_000, Some(7_000_000)), Duration::ZERO);
        assert_eq!(age(5_000_000, Some(2_000_000)), Duration::from_secs(3));
    }
}
