//! Platform-wide gauges for alerting, from a periodic task: the webhook delivery backlog, the
//! fraud review queue and the audit chain verification sweep. Core reads and decides
//! ([`Platform::queue_figures`], [`Platform::verify_all_audit_chains`]); this only reports.
//!
//! Every instance reports the same platform-wide values: aggregate them with `max`, not
//! `sum` (deploy/prometheus does).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fintech_core::platform::{AuditSweep, QueueFigures};
use fintech_core::Platform;
use tokio::task::JoinHandle;

/// `fintech_webhook_deliveries_pending`: deliveries waiting (including retries).
pub const WEBHOOK_PENDING: &str = "fintech_webhook_deliveries_pending";
/// `fintech_webhook_oldest_pending_age_seconds`: how long the oldest has waited.
pub const WEBHOOK_OLDEST_AGE: &str = "fintech_webhook_oldest_pending_age_seconds";
/// `fintech_fraud_review_cases_open`: review cases awaiting a decision.
pub const CASES_OPEN: &str = "fintech_fraud_review_cases_open";
/// `fintech_fraud_review_oldest_open_age_seconds`: how long the oldest open case has waited.
pub const CASE_OLDEST_AGE: &str = "fintech_fraud_review_oldest_open_age_seconds";
/// `fintech_audit_chains_verified`: tenant audit chains intact at the last sweep.
pub const AUDIT_VERIFIED: &str = "fintech_audit_chains_verified";
/// `fintech_audit_chains_failed`: tenant audit chains that failed the last sweep.
pub const AUDIT_FAILED: &str = "fintech_audit_chains_failed";
/// `fintech_audit_verification_last_run_timestamp_seconds`: when the last sweep finished.
pub const AUDIT_LAST_RUN: &str = "fintech_audit_verification_last_run_timestamp_seconds";

/// How often the task reads the figures.
#[derive(Debug, Clone, Copy)]
pub struct OpsMetricsOptions {
    /// Queue figures (two aggregate queries).
    pub queues_every: Duration,
    /// The audit sweep (reads every chain in full).
    pub audit_every: Duration,
}

impl Default for OpsMetricsOptions {
    fn default() -> Self {
        Self {
            queues_every: Duration::from_secs(15),
            audit_every: Duration::from_secs(15 * 60),
        }
    }
}

/// Sets the queue gauges.
pub fn publish_queues(f: &QueueFigures) {
    metrics::gauge!(WEBHOOK_PENDING).set(f.webhook_deliveries_pending as f64);
    metrics::gauge!(WEBHOOK_OLDEST_AGE).set(f.webhook_oldest_pending_age.as_secs_f64());
    metrics::gauge!(CASES_OPEN).set(f.fraud_cases_open as f64);
    metrics::gauge!(CASE_OLDEST_AGE).set(f.fraud_oldest_open_age.as_secs_f64());
}

/// Sets the audit gauges, stamping the run with `finished`.
pub fn publish_audit(s: &AuditSweep, finished: SystemTime) {
    metrics::gauge!(AUDIT_VERIFIED).set(s.verified as f64);
    metrics::gauge!(AUDIT_FAILED).set(s.failed as f64);
    let at = finished
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    metrics::gauge!(AUDIT_LAST_RUN).set(at);
}

/// Starts the task: queue figures every `queues_every`, the audit sweep at start and every
/// `audit_every`. A failed read is logged and retried at the next tick (the audit timestamp
/// then stops advancing, which the staleness alert catches).
pub fn spawn(platform: Platform, opts: OpsMetricsOptions) -> JoinHandle<()> {
    crate::metrics::install();
    tokio::spawn(async move {
        let mut queues = tokio::time::interval(opts.queues_every);
        let mut audit = tokio::time::interval(opts.audit_every);
        queues.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        audit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = queues.tick() => match platform.queue_figures().await {
                    Ok(f) => publish_queues(&f),
                    Err(e) => tracing::warn!(error = %e, "could not read the queue figures"),
                },
                _ = audit.tick() => match platform.verify_all_audit_chains().await {
                    Ok(s) => publish_audit(&s, SystemTime::now()),
                    Err(e) => tracing::warn!(error = %e, "could not verify the audit chains"),
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn figures_become_gauges() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            publish_queues(&QueueFigures {
                webhook_deliveries_pending: 42,
                webhook_oldest_pending_age: Duration::from_millis(90_500),
                fraud_cases_open: 3,
                fraud_oldest_open_age: Duration::from_secs(7200),
            });
            publish_audit(
                &AuditSweep {
                    verified: 5,
                    failed: 1,
                },
                UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            );
        });
        let text = handle.render();
        for line in [
            "fintech_webhook_deliveries_pending 42",
            "fintech_webhook_oldest_pending_age_seconds 90.5",
            "fintech_fraud_review_cases_open 3",
            "fintech_fraud_review_oldest_open_age_seconds 7200",
            "fintech_audit_chains_verified 5",
            "fintech_audit_chains_failed 1",
            "fintech_audit_verification_last_run_timestamp_seconds 1700000000",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
