//! Stripe as a [`PaymentProvider`]: customers, payment methods (attached by token, listed),
//! PaymentIntents (created and confirmed in one call with a tokenized payment method, charged
//! at once or authorized for a later capture in full or in part; retrieve, cancel), refunds
//! (full and partial), the balance.
//! Bodies are form-encoded as Stripe expects; every POST carries an `Idempotency-Key`, the
//! same on every retry, so a retried charge never charges twice. Amounts go out in exact minor
//! units. Stripe errors map to core errors: a `card_error` is a decline (`Ok` with a failed
//! status and Stripe's `decline_code`), `invalid_request_error` a validation error,
//! `idempotency_error` a conflict, rate limits and `api_error` retryable provider errors.

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use fintech_core::payments::{
    validate_payment_method, CaptureMethod, CardDetails, NewCustomer, PaymentMethod,
    PaymentProvider, ProviderBalance, ProviderCaptureRequest, ProviderCustomer, ProviderPayment,
    ProviderPaymentRequest, ProviderPaymentStatus, ProviderRefund, ProviderRefundRequest,
    RefundStatus,
};
use fintech_core::{ConflictCode, Currency, Error, Money, ProviderMode, Result};

use crate::http::{secret_header, Answer, Body, Call, Http, HttpSettings};

/// Stripe credentials.
#[derive(Clone)]
pub struct StripeConfig {
    /// Secret key: `sk_test_…` (test mode) or `sk_live_…` (real money).
    pub secret_key: SecretString,
    /// API base (default `https://api.stripe.com`).
    pub base_url: Option<String>,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// The Stripe client.
pub struct Stripe {
    config: StripeConfig,
    http: Http,
    base: String,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe")
            .field("config", &self.config)
            .finish()
    }
}

/// The API version this client speaks (matches the document it is tested against).
pub const API_VERSION: &str = "2023-08-16";

fn malformed(what: &str) -> Error {
    Error::Provider {
        provider: "stripe",
        code: "malformed_response".into(),
        message: format!("Stripe answered without a valid {what}"),
        request_id: None,
        retryable: false,
    }
}

/// A PaymentIntent object as our payment state.
pub fn payment_from(v: &Value) -> Result<ProviderPayment> {
    let id = v["id"]
        .as_str()
        .ok_or_else(|| malformed("payment intent id"))?;
    let status = match v["status"].as_str().unwrap_or_default() {
        "succeeded" => ProviderPaymentStatus::Succeeded,
        "canceled" => ProviderPaymentStatus::Canceled,
        "requires_payment_method" => {
            let e = &v["last_payment_error"];
            ProviderPaymentStatus::Failed {
                code: e["decline_code"]
                    .as_str()
                    .or(e["code"].as_str())
                    .unwrap_or("payment_failed")
                    .to_owned(),
                message: e["message"]
                    .as_str()
                    .unwrap_or("the payment method was declined")
                    .to_owned(),
            }
        }
        "requires_capture" => ProviderPaymentStatus::RequiresCapture,
        // processing, requires_action, requires_confirmation
        _ => ProviderPaymentStatus::Processing,
    };
    Ok(ProviderPayment {
        provider_id: id.to_owned(),
        status,
    })
}

/// A PaymentMethod object as ours (card brand, last four digits and expiry; Stripe never
/// returns the number, and nothing here would keep it).
pub fn payment_method_from(v: &Value) -> Result<PaymentMethod> {
    let id = v["id"]
        .as_str()
        .ok_or_else(|| malformed("payment method id"))?;
    let card = &v["card"];
    let card = if card.is_object() {
        let num = |k: &str| {
            card[k]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| malformed("card expiry"))
        };
        Some(CardDetails {
            brand: card["brand"].as_str().unwrap_or("unknown").to_owned(),
            last4: card["last4"]
                .as_str()
                .ok_or_else(|| malformed("card last4"))?
                .to_owned(),
            exp_month: num("exp_month")?,
            exp_year: num("exp_year")?,
        })
    } else {
        None
    };
    Ok(PaymentMethod {
        id: id.to_owned(),
        kind: v["type"].as_str().unwrap_or("card").to_owned(),
        card,
    })
}

/// A Balance object as our balances per currency (minor units back to exact amounts).
pub fn balance_from(v: &Value) -> Result<Vec<ProviderBalance>> {
    fn amounts(v: &Value, key: &str) -> Result<Vec<Money>> {
        v[key]
            .as_array()
            .ok_or_else(|| malformed("balance"))?
            .iter()
            .map(|a| {
                let currency = Currency::from_code(
                    &a["currency"]
                        .as_str()
                        .ok_or_else(|| malformed("balance currency"))?
                        .to_ascii_uppercase(),
                )?;
                let minor = a["amount"]
                    .as_i64()
                    .ok_or_else(|| malformed("balance amount"))?;
                Ok(Money::from_minor(minor, currency))
            })
            .collect()
    }
    let mut out: Vec<ProviderBalance> = Vec::new();
    for m in amounts(v, "available")? {
        match out
            .iter_mut()
            .find(|b| b.available.currency() == m.currency())
        {
            Some(b) => b.available = b.available.checked_add(&m)?,
            None => out.push(ProviderBalance {
                available: m,
                pending: Money::zero(m.currency()),
            }),
        }
    }
    for m in amounts(v, "pending")? {
        match out
            .iter_mut()
            .find(|b| b.pending.currency() == m.currency())
        {
            Some(b) => b.pending = b.pending.checked_add(&m)?,
            None => out.push(ProviderBalance {
                available: Money::zero(m.currency()),
                pending: m,
            }),
        }
    }
    Ok(out)
}

/// A Refund object as our refund.
pub fn refund_from(v: &Value) -> Result<ProviderRefund> {
    Ok(ProviderRefund {
        provider_id: v["id"]
            .as_str()
            .ok_or_else(|| malformed("refund id"))?
            .to_owned(),
        status: match v["status"].as_str().unwrap_or_default() {
            "succeeded" => RefundStatus::Succeeded,
            "failed" | "canceled" => RefundStatus::Failed,
            _ => RefundStatus::Pending,
        },
    })
}

impl Stripe {
    /// A client.
    pub fn new(config: StripeConfig, settings: HttpSettings) -> Result<Self> {
        let base = config
            .base_url
            .clone()
            .unwrap_or_else(|| "https://api.stripe.com".into())
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            http: Http::new("stripe", settings)?,
            config,
            base,
        })
    }

    async fn call(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        form: Option<Vec<(String, String)>>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer> {
        let mut headers = vec![
            (
                reqwest::header::AUTHORIZATION,
                secret_header(&format!(
                    "Bearer {}",
                    self.config.secret_key.expose_secret()
                ))?,
            ),
            (
                HeaderName::from_static("stripe-version"),
                HeaderValue::from_static(API_VERSION),
            ),
        ];
        if let Some(key) = idempotency_key {
            headers.push((
                HeaderName::from_static("idempotency-key"),
                HeaderValue::from_str(key)
                    .map_err(|_| Error::validation("idempotency_key", "not a header value"))?,
            ));
        }
        self.http
            .send(Call {
                method: method.clone(),
                url: format!("{}{path}", self.base),
                headers,
                body: form.map(Body::Form).unwrap_or(Body::None),
                // reads are safe; POSTs carry an idempotency key
                retry_safe: method == Method::GET || idempotency_key.is_some(),
                operation,
            })
            .await
    }
}

/// A Stripe error answer as a core error; `Ok(object)` for a card decline that carries the
/// PaymentIntent (the caller reads the failed status from it).
fn stripe_error(a: &Answer) -> std::result::Result<Value, Error> {
    let body: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    let e = &body["error"];
    let request_id = a
        .headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let kind = e["type"].as_str().unwrap_or("api_error");
    let code = e["code"].as_str().unwrap_or(kind).to_owned();
    let message = redact_digits(e["message"].as_str().unwrap_or("Stripe answered an error"));
    match (kind, a.status) {
        ("card_error", _) if e["payment_intent"].is_object() => Ok(e["payment_intent"].clone()),
        ("card_error", _) => Err(Error::Provider {
            provider: "stripe",
            code: e["decline_code"].as_str().unwrap_or(&code).to_owned(),
            message,
            request_id,
            retryable: false,
        }),
        ("idempotency_error", _) => Err(Error::conflict(
            ConflictCode::IdempotencyKeyReused,
            format!("Stripe: {message}"),
        )),
        ("invalid_request_error", StatusCode::NOT_FOUND) => Err(Error::NotFound {
            kind: "payment",
            id: e["param"].as_str().unwrap_or("id").to_owned(),
        }),
        // "No such payment_intent" on a create answers 400 with this code
        ("invalid_request_error", _)
            if code == "resource_missing" && e["param"] != "payment_method" =>
        {
            Err(Error::NotFound {
                kind: "payment",
                id: e["param"].as_str().unwrap_or("id").to_owned(),
            })
        }
        ("invalid_request_error", _) => Err(Error::validation(
            e["param"].as_str().unwrap_or("request").to_owned(),
            format!("Stripe: {message}"),
        )),
        (_, s) => Err(Error::Provider {
            provider: "stripe",
            code: if s == StatusCode::TOO_MANY_REQUESTS {
                "rate_limited".into()
            } else {
                code
            },
            message: format!("Stripe: {message}"),
            request_id,
            retryable: s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error(),
        }),
    }
}

/// An id as one path segment: Stripe ids are `[A-Za-z0-9_]`; anything else is refused
/// rather than sent (a slash or `?` would address another resource).
fn path_segment(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(id)
    } else {
        Err(Error::validation("id", "not a Stripe object id"))
    }
}

/// Provider messages may echo what was sent ("No such PaymentMethod: '4242…'"): runs of 12
/// or more digits (a card number pasted where a token belongs) are masked.
fn redact_digits(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 12 {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in message.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

fn object(a: Answer) -> Result<Value> {
    if a.status.is_success() {
        return serde_json::from_slice(&a.body).map_err(|_| malformed("object"));
    }
    stripe_error(&a)
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn mode(&self) -> ProviderMode {
        if self
            .config
            .secret_key
            .expose_secret()
            .starts_with("sk_live_")
            || self
                .config
                .secret_key
                .expose_secret()
                .starts_with("rk_live_")
        {
            ProviderMode::Live
        } else {
            ProviderMode::Sandbox
        }
    }

    async fn create_customer(
        &self,
        req: &NewCustomer,
        idempotency_key: &str,
    ) -> Result<ProviderCustomer> {
        let mut form = Vec::new();
        if let Some(email) = &req.email {
            form.push(("email".to_owned(), email.clone()));
        }
        if let Some(name) = &req.name {
            form.push(("name".to_owned(), name.clone()));
        }
        let a = self
            .call(
                "create_customer",
                Method::POST,
                "/v1/customers",
                Some(form),
                Some(idempotency_key),
            )
            .await?;
        let v = object(a)?;
        Ok(ProviderCustomer {
            provider_id: v["id"]
                .as_str()
                .ok_or_else(|| malformed("customer id"))?
                .to_owned(),
        })
    }

    async fn create_payment(&self, req: &ProviderPaymentRequest) -> Result<ProviderPayment> {
        validate_payment_method(&req.payment_method)?;
        let minor = req.amount.to_minor()?;
        let mut form = vec![
            ("amount".to_owned(), minor.to_string()),
            (
                "currency".to_owned(),
                req.amount.currency().code().to_ascii_lowercase(),
            ),
            ("payment_method".to_owned(), req.payment_method.clone()),
            ("confirm".to_owned(), "true".to_owned()),
            // no redirect-based methods: a server-side charge cannot follow a redirect
            (
                "automatic_payment_methods[enabled]".to_owned(),
                "true".to_owned(),
            ),
            (
                "automatic_payment_methods[allow_redirects]".to_owned(),
                "never".to_owned(),
            ),
        ];
        if req.capture_method == CaptureMethod::Manual {
            form.push(("capture_method".to_owned(), "manual".to_owned()));
        }
        if let Some(c) = &req.customer {
            form.push(("customer".to_owned(), c.clone()));
        }
        if let Some(d) = &req.description {
            form.push(("description".to_owned(), d.clone()));
        }
        let a = self
            .call(
                "create_payment",
                Method::POST,
                "/v1/payment_intents",
                Some(form),
                Some(&req.idempotency_key),
            )
            .await?;
        payment_from(&object(a)?)
    }

    async fn get_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        let a = self
            .call(
                "get_payment",
                Method::GET,
                &format!("/v1/payment_intents/{}", path_segment(provider_id)?),
                None,
                None,
            )
            .await?;
        payment_from(&object(a)?)
    }

    async fn cancel_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        let key = format!("cancel-{provider_id}");
        let a = self
            .call(
                "cancel_payment",
                Method::POST,
                &format!("/v1/payment_intents/{}/cancel", path_segment(provider_id)?),
                Some(Vec::new()),
                Some(&key),
            )
            .await?;
        payment_from(&object(a)?)
    }

    async fn create_refund(&self, req: &ProviderRefundRequest) -> Result<ProviderRefund> {
        let form = vec![
            ("payment_intent".to_owned(), req.provider_payment_id.clone()),
            ("amount".to_owned(), req.amount.to_minor()?.to_string()),
        ];
        let a = self
            .call(
                "create_refund",
                Method::POST,
                "/v1/refunds",
                Some(form),
                Some(&req.idempotency_key),
            )
            .await?;
        refund_from(&object(a)?)
    }

    async fn capture_payment(&self, req: &ProviderCaptureRequest) -> Result<ProviderPayment> {
        let form = vec![(
            "amount_to_capture".to_owned(),
            req.amount.to_minor()?.to_string(),
        )];
        let a = self
            .call(
                "capture_payment",
                Method::POST,
                &format!(
                    "/v1/payment_intents/{}/capture",
                    path_segment(&req.provider_payment_id)?
                ),
                Some(form),
                Some(&req.idempotency_key),
            )
            .await?;
        payment_from(&object(a)?)
    }

    async fn attach_payment_method(
        &self,
        payment_method: &str,
        provider_customer: &str,
    ) -> Result<PaymentMethod> {
        // a token only: card data never reaches a URL
        validate_payment_method(payment_method)?;
        // attaching the same method to the same customer again is harmless: keyed by both
        let key = format!("attach-{payment_method}-{provider_customer}");
        let a = self
            .call(
                "attach_payment_method",
                Method::POST,
                &format!(
                    "/v1/payment_methods/{}/attach",
                    path_segment(payment_method)?
                ),
                Some(vec![("customer".to_owned(), provider_customer.to_owned())]),
                Some(&key),
            )
            .await?;
        payment_method_from(&object(a)?)
    }

    async fn payment_method_exists(&self, payment_method: &str) -> Result<bool> {
        // a token only: card data never reaches a URL
        validate_payment_method(payment_method)?;
        let found = self
            .call(
                "get_payment_method",
                Method::GET,
                &format!("/v1/payment_methods/{}", path_segment(payment_method)?),
                None,
                None,
            )
            .await;
        match found {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn payment_methods(&self, provider_customer: &str) -> Result<Vec<PaymentMethod>> {
        let a = self
            .call(
                "payment_methods",
                Method::GET,
                &format!(
                    "/v1/customers/{}/payment_methods?type=card&limit=100",
                    path_segment(provider_customer)?
                ),
                None,
                None,
            )
            .await?;
        let v = object(a)?;
        v["data"]
            .as_array()
            .ok_or_else(|| malformed("payment method list"))?
            .iter()
            .map(payment_method_from)
            .collect()
    }

    async fn balance(&self) -> Result<Vec<ProviderBalance>> {
        let a = self
            .call("balance", Method::GET, "/v1/balance", None, None)
            .await?;
        balance_from(&object(a)?)
    }
}
