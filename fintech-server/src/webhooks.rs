//! The webhook delivery worker: sends due deliveries from the database queue, signed, with
//! retries scheduled by core. Any number of instances may run it against one PostgreSQL: each
//! delivery is claimed with a lease before it is sent.
//!
//! Unless private targets are allowed, each target host is resolved before sending and the
//! request is pinned to a checked public address (no DNS-rebinding back to a private one),
//! and redirects are not followed.

use std::net::SocketAddr;
use std::time::Duration;

use fintech_core::webhooks::{
    is_private, sign, AttemptOutcome, DueDelivery, EVENT_ID_HEADER, SIGNATURE_HEADER,
};
use fintech_core::Platform;
use tokio::task::JoinHandle;

/// How the worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Allow private, loopback and link-local targets (local development).
    pub allow_private: bool,
    /// How often to look for due deliveries when the queue was empty.
    pub poll: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            allow_private: false,
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Starts the worker on the current runtime.
pub fn spawn_worker(platform: Platform, options: WorkerOptions) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&platform, &options).await {
                Ok(0) => tokio::time::sleep(options.poll).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "webhook worker: claiming deliveries failed");
                    tokio::time::sleep(options.poll).await;
                }
            }
        }
    })
}

/// Claims and sends one batch of due deliveries; returns how many were attempted.
pub async fn run_once(platform: &Platform, options: &WorkerOptions) -> fintech_core::Result<usize> {
    let due = platform
        .claim_webhook_deliveries(20, options.timeout * 3)
        .await?;
    let n = due.len();
    let sends = due.into_iter().map(|d| async move {
        let outcome = send(&d, options).await;
        match &outcome {
            AttemptOutcome::Delivered { status } => {
                tracing::info!(delivery = %d.delivery.id, status, "webhook delivered")
            }
            AttemptOutcome::Failed { status, error } => {
                tracing::warn!(delivery = %d.delivery.id, ?status, error = %error, "webhook attempt failed")
            }
        }
        if let Err(e) = platform
            .record_webhook_attempt(&d.delivery.id, &outcome)
            .await
        {
            tracing::error!(error = %e, delivery = %d.delivery.id, "recording a webhook attempt failed; the lease will expire and it is retried");
        }
    });
    futures::future::join_all(sends).await;
    Ok(n)
}

fn failed(status: Option<u16>, error: impl Into<String>) -> AttemptOutcome {
    AttemptOutcome::Failed {
        status,
        error: error.into(),
    }
}

async fn send(d: &DueDelivery, options: &WorkerOptions) -> AttemptOutcome {
    let url = match reqwest::Url::parse(&d.url) {
        Ok(u) => u,
        Err(e) => return failed(None, format!("bad URL: {e}")),
    };
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .user_agent(concat!("fintech-webhooks/", env!("CARGO_PKG_VERSION")));
    if !options.allow_private {
        let Some(host) = url.host_str() else {
            return failed(None, "URL without a host");
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
            Ok(a) => a.collect(),
            Err(e) => return failed(None, format!("cannot resolve {host}: {e}")),
        };
        if addrs.is_empty() || addrs.iter().any(|a| is_private(a.ip())) {
            return failed(
                None,
                format!("{host} resolves to a private address; refused"),
            );
        }
        builder = builder.resolve(host, addrs[0]);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return failed(None, format!("client: {e}")),
    };
    let now = chrono::Utc::now().timestamp();
    let res = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sign(&d.secret, now, d.body.as_bytes()))
        .header(EVENT_ID_HEADER, d.delivery.event_id.as_str())
        .body(d.body.clone())
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => AttemptOutcome::Delivered {
            status: r.status().as_u16(),
        },
        Ok(r) => failed(
            Some(r.status().as_u16()),
            format!("endpoint answered {}", r.status()),
        ),
        Err(e) if e.is_timeout() => failed(None, "timed out"),
        Err(e) => failed(None, format!("request failed: {}", e.without_url())),
    }
}
