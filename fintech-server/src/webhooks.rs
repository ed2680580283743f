//! The webhook delivery worker: sends due deliveries from the database queue, signed, with
//! retries scheduled by core. Any number of instances may run it against one PostgreSQL: each
//! delivery is claimed with a lease before it is sent.
//!
//! Unless private targets are allowed, each target host is resolved before sending and the
//! request is pinned to a checked public address (no DNS-rebinding back to a private one),
//! and redirects are not followed.

use std::net::{IpAddr, SocketAddr};
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
    send_checked(d, options, is_private).await
}

/// Where a delivery may connect: `Ok(None)` for an address literal (nothing to resolve),
/// `Ok(Some((name, addrs)))` for a host name and every address it resolves to, each checked.
/// The same check as at registration ([`is_private`]) applies to what the name resolves to
/// now, so a name that was public at registration and points inward later (DNS rebinding)
/// is refused.
async fn checked_target(
    url: &reqwest::Url,
    blocked: fn(IpAddr) -> bool,
) -> Result<Option<(String, Vec<SocketAddr>)>, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let ip = match url.host() {
        None => return Err("URL without a host".to_owned()),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        // The URL keeps IPv6 literals in brackets (`[2001:…]`), which no resolver knows:
        // the literal is the address.
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(name)) => {
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((name, port)).await {
                Ok(a) => a.collect(),
                Err(e) => return Err(format!("cannot resolve {name}: {e}")),
            };
            if addrs.is_empty() || addrs.iter().any(|a| blocked(a.ip())) {
                return Err(format!("{name} resolves to a private address; refused"));
            }
            return Ok(Some((name.to_owned(), addrs)));
        }
    };
    if blocked(ip) {
        return Err(format!("{ip} is a private address; refused"));
    }
    Ok(None)
}

async fn send_checked(
    d: &DueDelivery,
    options: &WorkerOptions,
    blocked: fn(IpAddr) -> bool,
) -> AttemptOutcome {
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
        match checked_target(&url, blocked).await {
            Err(e) => return failed(None, e),
            // pinned to the checked addresses: no second lookup between check and connect
            Ok(Some((name, addrs))) => builder = builder.resolve_to_addrs(&name, &addrs),
            Ok(None) => {}
        }
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

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;
    use std::sync::{Arc, Mutex};

    use axum::http::HeaderMap;
    use fintech_core::id::{EventId, WebhookDeliveryId, WebhookEndpointId};
    use fintech_core::webhooks::{DeliveryStatus, WebhookDelivery};

    use super::*;

    /// A receiver on `bind` that records the `Host` header of every request.
    async fn receiver(bind: &str) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let seen = hosts.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let host = headers
                        .get("host")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().expect("lock").push(host);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, hosts)
    }

    fn due(url: String) -> DueDelivery {
        let now = chrono::Utc::now();
        DueDelivery {
            delivery: WebhookDelivery {
                id: WebhookDeliveryId::generate(),
                endpoint_id: WebhookEndpointId::generate(),
                event_id: EventId::generate(),
                event_type: "payments.payment_succeeded".into(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: now,
                last_status: None,
                last_error: None,
                created_at: now,
                delivered_at: None,
            },
            url,
            secret: "whsec_test".into(),
            body: "{}".into(),
        }
    }

    /// The test's `::1` stands in for a public IPv6 address: everything else keeps the
    /// production check.
    fn blocked_but_test_loopback(ip: IpAddr) -> bool {
        ip != IpAddr::V6(Ipv6Addr::LOCALHOST) && is_private(ip)
    }

    #[tokio::test]
    async fn public_ipv6_literals_are_delivered() {
        let (addr, hosts) = receiver("[::1]:0").await;
        let options = WorkerOptions::default();
        let outcome = send_checked(
            &due(format!("http://[::1]:{}/hook", addr.port())),
            &options,
            blocked_but_test_loopback,
        )
        .await;
        assert_eq!(outcome, AttemptOutcome::Delivered { status: 200 });
        assert_eq!(
            *hosts.lock().expect("lock"),
            vec![format!("[::1]:{}", addr.port())],
            "the Host header carries the bracketed literal"
        );
    }

    #[tokio::test]
    async fn private_targets_are_refused_at_delivery() {
        let (v4, hosts4) = receiver("127.0.0.1:0").await;
        let (v6, hosts6) = receiver("[::1]:0").await;
        let options = WorkerOptions::default();
        for url in [
            // a name that resolves inward now (DNS rebinding after registration)
            format!("http://localhost:{}/hook", v4.port()),
            format!("http://127.0.0.1:{}/hook", v4.port()),
            format!("http://[::ffff:127.0.0.1]:{}/hook", v4.port()),
            format!("http://[::1]:{}/hook", v6.port()),
        ] {
            let outcome = send(&due(url.clone()), &options).await;
            assert!(
                matches!(&outcome, AttemptOutcome::Failed { status: None, error } if error.contains("refused")),
                "{url}: {outcome:?}"
            );
        }
        assert!(hosts4.lock().expect("lock").is_empty());
        assert!(hosts6.lock().expect("lock").is_empty());
        // allowed for local development
        let allow = WorkerOptions {
            allow_private: true,
            ..WorkerOptions::default()
        };
        let outcome = send(&due(format!("http://localhost:{}/hook", v4.port())), &allow).await;
        assert_eq!(outcome, AttemptOutcome::Delivered { status: 200 });
    }
}
