//! The HTTP layer every real provider client shares: one `reqwest` client per provider
//! (rustls, connect and request timeouts), bounded retries with exponential backoff and full
//! jitter on 429 (honouring `Retry-After`), 5xx and connection errors, only for requests that
//! are safe to repeat (reads, and writes carrying an idempotency key), a `tracing` span per
//! call, and the provider's request id kept on errors. Secrets travel in headers the caller
//! adds; they are never logged (the span records method and path only).

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use tracing::Instrument;

use fintech_core::{Error, Result};

/// Retry bounds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt.
    pub base_delay: Duration,
    /// Largest backoff (and largest `Retry-After` honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Timeouts and retries of one provider's client.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Budget of one call, every attempt and backoff included: no retry starts that could end
    /// after it, and an attempt is cut off when it runs out. Kept below the platform's
    /// idempotency lease (default 120 s, operations cut off at 90 s), so a slow provider
    /// cannot outlive the claim it runs under.
    pub total: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            total: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

/// A request body.
pub(crate) enum Body {
    None,
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded` (Stripe).
    Form(Vec<(String, String)>),
}

/// One logical call.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
    /// Repeating it cannot do anything twice (a read, or a write with an idempotency key).
    pub retry_safe: bool,
    /// For the span: which operation (`accounts`, `place_order`).
    pub operation: &'a str,
}

/// A provider's answer (any status).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// One provider's HTTP client.
pub(crate) struct Http {
    provider: &'static str,
    client: reqwest::Client,
    retry: RetryPolicy,
    timeout: Duration,
    total: Duration,
}

impl Http {
    pub(crate) fn new(provider: &'static str, settings: HttpSettings) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fintech/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("{provider} http client: {e}")))?;
        Ok(Self {
            provider,
            client,
            retry: settings.retry,
            timeout: settings.timeout,
            total: settings.total,
        })
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(r) = retry_after {
            return r.min(self.retry.max_delay);
        }
        let cap = self
            .retry
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.retry.max_delay);
        // full jitter: anywhere in [0, cap]
        let ms = rand::thread_rng().gen_range(0..=cap.as_millis().max(1) as u64);
        Duration::from_millis(ms)
    }

    /// Sends a call, retrying what is safe to retry; answers the final response whatever its
    /// status, or a provider error when no response came.
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<Answer> {
        let path = reqwest::Url::parse(&call.url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        let span = tracing::info_span!("provider", provider = self.provider, op = call.operation, method = %call.method, path = %path);
        async {
            let started = std::time::Instant::now();
            let over_budget = |pause: Duration| started.elapsed() + pause >= self.total;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let remaining = self.total.saturating_sub(started.elapsed());
                let mut req = self
                    .client
                    .request(call.method.clone(), &call.url)
                    .timeout(remaining.min(self.timeout));
                for (k, v) in &call.headers {
                    req = req.header(k, v.clone());
                }
                req = match &call.body {
                    Body::None => req,
                    Body::Json(v) => req.json(v),
                    Body::Form(pairs) => req.form(pairs),
                };
                let last = attempt >= self.retry.max_attempts || !call.retry_safe;
                match req.send().await {
                    Ok(res) => {
                        let status = res.status();
                        let retry_after = res
                            .headers()
                            .get(reqwest::header::RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_secs);
                        let transient =
                            status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                        let pause = self.backoff(attempt, retry_after);
                        if transient && !last && !over_budget(pause) {
                            tracing::debug!(%status, attempt, "transient answer; retrying");
                            tokio::time::sleep(pause).await;
                            continue;
                        }
                        let headers = res.headers().clone();
                        let body = match res.bytes().await {
                            Ok(b) => b,
                            Err(e) if !last && !over_budget(self.backoff(attempt, None)) => {
                                tracing::debug!(error = %e, attempt, "body cut off; retrying");
                                tokio::time::sleep(self.backoff(attempt, None)).await;
                                continue;
                            }
                            Err(e) => return Err(self.unavailable(&e)),
                        };
                        tracing::debug!(%status, attempt, "answered");
                        return Ok(Answer {
                            status,
                            headers,
                            body,
                        });
                    }
                    Err(e) if !last && !over_budget(self.backoff(attempt, None)) => {
                        tracing::debug!(error = %e, attempt, "no answer; retrying");
                        tokio::time::sleep(self.backoff(attempt, None)).await;
                    }
                    Err(e) => return Err(self.unavailable(&e)),
                }
            }
        }
        .instrument(span)
        .await
    }

    fn unavailable(&self, e: &reqwest::Error) -> Error {
        // reqwest errors carry the URL, never headers; drop the URL anyway (query strings)
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "the connection failed"
        };
        Error::Provider {
            provider: self.provider,
            code: "unavailable".into(),
            message: format!("{} {what}; try again later", self.provider),
            request_id: None,
            retryable: true,
        }
    }
}

/// A header value from a secret, marked sensitive so it never shows in `Debug`.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| Error::validation("credentials", "not a valid header value"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// Exact decimal from a JSON number or string (`12.34`, `"12.34"`): a JSON number is read
/// through its shortest round-trip text, which is exact for the provider's decimal amounts.
pub(crate) fn decimal(v: &serde_json::Value) -> Option<rust_decimal::Decimal> {
    use std::str::FromStr;
    match v {
        serde_json::Value::Number(n) => rust_decimal::Decimal::from_str(&n.to_string())
            .or_else(|_| rust_decimal::Decimal::from_scientific(&n.to_string()))
            .ok(),
        serde_json::Value::String(s) => rust_decimal::Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}
