//! Simulated payments in the Stripe test-mode model: test payment-method tokens decide the
//! outcome, idempotency keys are honoured (same key + same request replays, same key +
//! different request is refused), refunds never exceed the charge.
//!
//! State (namespace `sim.payments`, one JSON record each): `customer_key`, `payment_key`,
//! `refund_key` and `capture_key` by idempotency key (the request's fingerprint and what it
//! made), `payment` by provider id, `methods` by customer. Every change is one state
//! transaction, so a key is claimed once even by two processes at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use fintech_core::payments::{
    CaptureMethod, CardDetails, NewCustomer, PaymentMethod, PaymentProvider, ProviderBalance,
    ProviderCaptureRequest, ProviderCustomer, ProviderPayment, ProviderPaymentRequest,
    ProviderPaymentStatus, ProviderRefund, ProviderRefundRequest, RefundStatus,
};
use fintech_core::{ConflictCode, Error, Money, ProviderMode, ProviderStateTx, Result};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{sim_error, SimState};

/// What a test payment method does when charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeed,
    /// Held for review at the provider (`processing`), then succeeds on the next look.
    Review,
    /// Processing (an asynchronous method), then succeeds on the next look.
    Processing,
    Decline(&'static str, &'static str),
}

/// The test payment-method tokens the simulator knows, with what they do. Any other token is
/// refused as `resource_missing`, as Stripe refuses an unknown payment method.
pub const TEST_PAYMENT_METHODS: &[(&str, &str)] = &[
    ("pm_card_visa", "succeeds"),
    ("pm_card_visa_debit", "succeeds"),
    ("pm_card_mastercard", "succeeds"),
    ("pm_card_amex", "succeeds"),
    ("pm_card_discover", "succeeds"),
    (
        "pm_card_processing",
        "processing, succeeds when next retrieved",
    ),
    (
        "pm_card_riskLevelElevated",
        "held for review (processing), then succeeds",
    ),
    ("pm_card_chargeDeclined", "declined: card_declined"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "declined: insufficient_funds",
    ),
    ("pm_card_chargeDeclinedFraudulent", "declined: fraudulent"),
    (
        "pm_card_chargeDeclinedExpiredCard",
        "declined: expired_card",
    ),
    (
        "pm_card_chargeDeclinedIncorrectCvc",
        "declined: incorrect_cvc",
    ),
    (
        "pm_card_chargeDeclinedProcessingError",
        "declined: processing_error",
    ),
    ("pm_card_chargeDeclinedLostCard", "declined: lost_card"),
    ("pm_card_chargeDeclinedStolenCard", "declined: stolen_card"),
    (
        "pm_card_authenticationRequired",
        "declined: authentication_required",
    ),
];

fn outcome(pm: &str) -> Option<Outcome> {
    Some(match pm {
        "pm_card_visa" | "pm_card_visa_debit" | "pm_card_mastercard" | "pm_card_amex"
        | "pm_card_discover" => Outcome::Succeed,
        "pm_card_processing" => Outcome::Processing,
        "pm_card_riskLevelElevated" => Outcome::Review,
        "pm_card_chargeDeclined" => Outcome::Decline("card_declined", "Your card was declined."),
        "pm_card_chargeDeclinedInsufficientFunds" => {
            Outcome::Decline("insufficient_funds", "Your card has insufficient funds.")
        }
        "pm_card_chargeDeclinedFraudulent" => {
            Outcome::Decline("fraudulent", "Your card was declined.")
        }
        "pm_card_chargeDeclinedExpiredCard" => {
            Outcome::Decline("expired_card", "Your card has expired.")
        }
        "pm_card_chargeDeclinedIncorrectCvc" => {
            Outcome::Decline("incorrect_cvc", "Your card's security code is incorrect.")
        }
        "pm_card_chargeDeclinedProcessingError" => Outcome::Decline(
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
        "pm_card_chargeDeclinedLostCard" => {
            Outcome::Decline("lost_card", "Your card was declined.")
        }
        "pm_card_chargeDeclinedStolenCard" => {
            Outcome::Decline("stolen_card", "Your card was declined.")
        }
        "pm_card_authenticationRequired" => Outcome::Decline(
            "authentication_required",
            "Your card was declined. This transaction requires authentication.",
        ),
        _ => return None,
    })
}

/// Card details (brand, last four digits) of the test tokens, as Stripe reports them for its
/// own test cards.
fn card_of(pm: &str) -> Option<(&'static str, &'static str)> {
    Some(match pm {
        "pm_card_visa" => ("visa", "4242"),
        "pm_card_visa_debit" => ("visa", "5556"),
        "pm_card_mastercard" => ("mastercard", "4444"),
        "pm_card_amex" => ("amex", "8431"),
        "pm_card_discover" => ("discover", "1117"),
        "pm_card_processing" => ("visa", "0077"),
        "pm_card_riskLevelElevated" => ("visa", "9235"),
        "pm_card_chargeDeclined" => ("visa", "0002"),
        "pm_card_chargeDeclinedInsufficientFunds" => ("visa", "9995"),
        "pm_card_chargeDeclinedFraudulent" => ("visa", "0019"),
        "pm_card_chargeDeclinedExpiredCard" => ("visa", "0069"),
        "pm_card_chargeDeclinedIncorrectCvc" => ("visa", "0127"),
        "pm_card_chargeDeclinedProcessingError" => ("visa", "0119"),
        "pm_card_chargeDeclinedLostCard" => ("visa", "9987"),
        "pm_card_chargeDeclinedStolenCard" => ("visa", "9979"),
        "pm_card_authenticationRequired" => ("visa", "3184"),
        _ => return None,
    })
}

/// A payment as the simulator keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimPayment {
    amount: Money,
    /// What moved: the amount, or the part of it captured.
    captured: Money,
    refunded: Money,
    status: Status,
    /// Authorize only; money moves on capture.
    manual: bool,
    /// Rebuilt from its id (made before the simulator kept state in the database), so what
    /// happened to it since is unknown; left out of the balance.
    #[serde(default)]
    restored: bool,
}

/// [`ProviderPaymentStatus`] as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
enum Status {
    Succeeded,
    Processing,
    RequiresCapture,
    Failed { code: String, message: String },
    Canceled,
}

impl From<&Status> for ProviderPaymentStatus {
    fn from(s: &Status) -> Self {
        match s {
            Status::Succeeded => Self::Succeeded,
            Status::Processing => Self::Processing,
            Status::RequiresCapture => Self::RequiresCapture,
            Status::Failed { code, message } => Self::Failed {
                code: code.clone(),
                message: message.clone(),
            },
            Status::Canceled => Self::Canceled,
        }
    }
}

/// An idempotency key's first request (its fingerprint) and what it made.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Keyed {
    fingerprint: String,
    id: String,
    /// A capture's payment status after it, a refund's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_status: Option<RefundStatus>,
}

const CUSTOMER_KEY: &str = "customer_key";
const PAYMENT_KEY: &str = "payment_key";
const REFUND_KEY: &str = "refund_key";
const CAPTURE_KEY: &str = "capture_key";
const PAYMENT: &str = "payment";
const METHODS: &str = "methods";

/// The simulated payments provider of one tenant.
#[derive(Debug)]
pub struct SimPayments {
    state: SimState,
    charges: AtomicUsize,
    refunds: AtomicUsize,
}

impl Default for SimPayments {
    fn default() -> Self {
        Self::new()
    }
}

impl SimPayments {
    /// An empty simulator of its own, kept in memory.
    pub fn new() -> Self {
        Self::with_state(SimState::standalone("sim.payments"))
    }

    pub(crate) fn with_state(state: SimState) -> Self {
        Self {
            state,
            charges: AtomicUsize::new(0),
            refunds: AtomicUsize::new(0),
        }
    }

    /// Charges this process made through this simulator (distinct payments created; replays
    /// of an idempotency key not counted).
    pub fn charge_count(&self) -> usize {
        self.charges.load(Ordering::SeqCst)
    }

    /// Refunds this process made (replays not counted).
    pub fn refund_count(&self) -> usize {
        self.refunds.load(Ordering::SeqCst)
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_sim_{}", uuid::Uuid::new_v4().simple())
}

/// Rebuilds a payment from its id (`pi_sim_<uuid>_<minor>_<CUR>_<s|p|a|f>`): the id carries
/// the amount, currency and outcome, so a payment made before the simulator kept its state in
/// the database is known again: settled if it was processing, with nothing refunded yet (the
/// platform tracks refunds and refuses more than the payment itself).
fn restore(id: &str) -> Option<SimPayment> {
    let mut parts = id.strip_prefix("pi_sim_")?.split('_');
    let (_uuid, minor, cur, kind) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let currency = fintech_core::Currency::from_code(cur).ok()?;
    let amount = Money::from_minor(minor.parse().ok()?, currency);
    let status = match kind {
        "s" | "p" => Status::Succeeded,
        "a" => Status::RequiresCapture,
        "f" => Status::Failed {
            code: "card_declined".into(),
            message: "Your card was declined.".into(),
        },
        _ => return None,
    };
    Some(SimPayment {
        amount,
        captured: if status == Status::Succeeded {
            amount
        } else {
            Money::zero(currency)
        },
        refunded: Money::zero(currency),
        manual: kind == "a",
        status,
        restored: true,
    })
}

/// A payment by id inside a state transaction: stored, or restored from its id.
async fn lookup(tx: &mut ProviderStateTx, id: &str) -> Result<SimPayment> {
    if let Some(p) = tx.get_json::<SimPayment>(PAYMENT, id).await? {
        return Ok(p);
    }
    restore(id).ok_or_else(|| Error::not_found("payment", id))
}

fn reused_key(what: &str) -> Error {
    Error::conflict(
        ConflictCode::IdempotencyKeyReused,
        format!(
            "idempotency key already used for a different {what} request; use a new key for a new request"
        ),
    )
}

fn snapshot(id: &str, p: &SimPayment) -> ProviderPayment {
    ProviderPayment {
        provider_id: id.to_owned(),
        status: (&p.status).into(),
    }
}

/// What is kept of a request to recognize it again: a SHA-256 of its parts, so names,
/// emails and descriptions are not copied into the simulator's records.
fn fingerprint(parts: &str) -> String {
    hex::encode(Sha256::digest(parts.as_bytes()))
}

/// The fingerprint of a customer request.
fn customer_fingerprint(req: &NewCustomer) -> Result<String> {
    let json = serde_json::to_string(req)
        .map_err(|e| Error::internal(format!("customer request: {e}")))?;
    Ok(fingerprint(&json))
}

#[async_trait]
impl PaymentProvider for SimPayments {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn mode(&self) -> ProviderMode {
        ProviderMode::Simulated
    }

    async fn create_customer(
        &self,
        req: &NewCustomer,
        idempotency_key: &str,
    ) -> Result<ProviderCustomer> {
        let fingerprint = customer_fingerprint(req)?;
        let mut tx = self.state.begin().await?;
        if let Some(first) = tx.get_json::<Keyed>(CUSTOMER_KEY, idempotency_key).await? {
            if first.fingerprint != fingerprint {
                return Err(reused_key("customer"));
            }
            return Ok(ProviderCustomer {
                provider_id: first.id,
            });
        }
        let id = new_id("cus");
        let keyed = Keyed {
            fingerprint,
            id: id.clone(),
            status: None,
            refund_status: None,
        };
        tx.put_json(CUSTOMER_KEY, idempotency_key, &keyed).await?;
        tx.put_json(METHODS, &id, &Vec::<PaymentMethod>::new())
            .await?;
        tx.commit().await?;
        Ok(ProviderCustomer { provider_id: id })
    }

    async fn create_payment(&self, req: &ProviderPaymentRequest) -> Result<ProviderPayment> {
        if !req.amount.is_positive() {
            return Err(sim_error(
                "parameter_invalid_integer",
                "amount must be greater than zero",
            ));
        }
        let fingerprint = fingerprint(&format!(
            "{}|{}|{:?}|{:?}|{:?}",
            req.amount, req.payment_method, req.customer, req.description, req.capture_method
        ));
        let manual = req.capture_method == CaptureMethod::Manual;
        let mut tx = self.state.begin().await?;
        if let Some(first) = tx
            .get_json::<Keyed>(PAYMENT_KEY, &req.idempotency_key)
            .await?
        {
            if first.fingerprint != fingerprint {
                return Err(reused_key("payment"));
            }
            let p = tx
                .get_json::<SimPayment>(PAYMENT, &first.id)
                .await?
                .ok_or_else(|| Error::internal("simulator lost a keyed payment"))?;
            return Ok(snapshot(&first.id, &p));
        }
        let outcome = outcome(&req.payment_method).ok_or_else(|| {
            sim_error(
                "resource_missing",
                "no such payment method; the simulator accepts the test tokens listed in fintech_providers::sim::TEST_PAYMENT_METHODS",
            )
        })?;
        let status = match outcome {
            Outcome::Succeed if manual => Status::RequiresCapture,
            Outcome::Succeed => Status::Succeeded,
            Outcome::Processing | Outcome::Review => Status::Processing,
            Outcome::Decline(code, message) => Status::Failed {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        };
        // The id carries what is needed to know the payment without its record (`restore`).
        let kind = match &status {
            Status::Succeeded => 's',
            Status::Processing if manual => 'a',
            Status::Processing => 'p',
            Status::RequiresCapture => 'a',
            _ => 'f',
        };
        let id = format!(
            "pi_sim_{}_{}_{}_{kind}",
            uuid::Uuid::new_v4().simple(),
            req.amount.to_minor()?,
            req.amount.currency().code()
        );
        let payment = SimPayment {
            amount: req.amount,
            captured: if status == Status::Succeeded {
                req.amount
            } else {
                Money::zero(req.amount.currency())
            },
            refunded: Money::zero(req.amount.currency()),
            status,
            manual,
            restored: false,
        };
        let out = snapshot(&id, &payment);
        tx.put_json(PAYMENT, &id, &payment).await?;
        let keyed = Keyed {
            fingerprint,
            id,
            status: None,
            refund_status: None,
        };
        tx.put_json(PAYMENT_KEY, &req.idempotency_key, &keyed)
            .await?;
        tx.commit().await?;
        self.charges.fetch_add(1, Ordering::SeqCst);
        Ok(out)
    }

    async fn get_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        if let Some(p) = self.state.get::<SimPayment>(PAYMENT, provider_id).await? {
            if p.status != Status::Processing {
                return Ok(snapshot(provider_id, &p));
            }
        }
        let mut tx = self.state.begin().await?;
        let mut p = lookup(&mut tx, provider_id).await?;
        // Processing settles by the time anyone looks again: deterministic, no timers.
        if p.status == Status::Processing {
            if p.manual {
                p.status = Status::RequiresCapture;
            } else {
                p.status = Status::Succeeded;
                p.captured = p.amount;
            }
        }
        tx.put_json(PAYMENT, provider_id, &p).await?;
        tx.commit().await?;
        Ok(snapshot(provider_id, &p))
    }

    async fn cancel_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        let mut tx = self.state.begin().await?;
        let mut p = lookup(&mut tx, provider_id).await?;
        match p.status {
            Status::Processing | Status::RequiresCapture => p.status = Status::Canceled,
            Status::Canceled => {}
            _ => return Err(Error::conflict(
                ConflictCode::InvalidState,
                "only a processing or uncaptured payment can be cancelled; refund a succeeded one",
            )),
        }
        tx.put_json(PAYMENT, provider_id, &p).await?;
        tx.commit().await?;
        Ok(snapshot(provider_id, &p))
    }

    async fn create_refund(&self, req: &ProviderRefundRequest) -> Result<ProviderRefund> {
        let fingerprint = fingerprint(&format!("{}|{}", req.provider_payment_id, req.amount));
        let mut tx = self.state.begin().await?;
        if let Some(first) = tx
            .get_json::<Keyed>(REFUND_KEY, &req.idempotency_key)
            .await?
        {
            if first.fingerprint != fingerprint {
                return Err(reused_key("refund"));
            }
            return Ok(ProviderRefund {
                provider_id: first.id,
                status: first.refund_status.unwrap_or(RefundStatus::Succeeded),
            });
        }
        let mut p = lookup(&mut tx, &req.provider_payment_id).await?;
        if p.restored && p.status == Status::RequiresCapture {
            // authorized before the simulator kept state, captured since, as the platform knows
            p.status = Status::Succeeded;
            p.captured = p.amount;
        }
        if p.status != Status::Succeeded {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                "only a succeeded payment can be refunded",
            ));
        }
        if !req.amount.is_positive() {
            return Err(Error::validation("amount", "must be greater than zero"));
        }
        let total = p.refunded.checked_add(&req.amount)?;
        if total.checked_cmp(&p.captured)? == std::cmp::Ordering::Greater {
            return Err(Error::validation(
                "amount",
                format!(
                    "refund of {} exceeds the {} left on the payment",
                    req.amount,
                    p.captured.checked_sub(&p.refunded)?
                ),
            ));
        }
        p.refunded = total;
        let refund = ProviderRefund {
            provider_id: new_id("re"),
            status: RefundStatus::Succeeded,
        };
        tx.put_json(PAYMENT, &req.provider_payment_id, &p).await?;
        let keyed = Keyed {
            fingerprint,
            id: refund.provider_id.clone(),
            status: None,
            refund_status: Some(refund.status),
        };
        tx.put_json(REFUND_KEY, &req.idempotency_key, &keyed)
            .await?;
        tx.commit().await?;
        self.refunds.fetch_add(1, Ordering::SeqCst);
        Ok(refund)
    }

    async fn capture_payment(&self, req: &ProviderCaptureRequest) -> Result<ProviderPayment> {
        let fingerprint = fingerprint(&format!("{}|{}", req.provider_payment_id, req.amount));
        let mut tx = self.state.begin().await?;
        if let Some(first) = tx
            .get_json::<Keyed>(CAPTURE_KEY, &req.idempotency_key)
            .await?
        {
            if first.fingerprint != fingerprint {
                return Err(reused_key("capture"));
            }
            return Ok(ProviderPayment {
                provider_id: first.id,
                status: first.status.as_ref().unwrap_or(&Status::Succeeded).into(),
            });
        }
        let mut p = lookup(&mut tx, &req.provider_payment_id).await?;
        if p.status != Status::RequiresCapture {
            return Err(Error::conflict(
                ConflictCode::InvalidState,
                "only an authorized payment (requires_capture) can be captured",
            ));
        }
        if !req.amount.is_positive() {
            return Err(Error::validation("amount", "must be greater than zero"));
        }
        if req.amount.checked_cmp(&p.amount)? == std::cmp::Ordering::Greater {
            return Err(Error::validation(
                "amount",
                format!(
                    "capture of {} exceeds the {} authorized",
                    req.amount, p.amount
                ),
            ));
        }
        p.captured = req.amount;
        p.status = Status::Succeeded;
        let out = snapshot(&req.provider_payment_id, &p);
        tx.put_json(PAYMENT, &req.provider_payment_id, &p).await?;
        let keyed = Keyed {
            fingerprint,
            id: req.provider_payment_id.clone(),
            status: Some(p.status.clone()),
            refund_status: None,
        };
        tx.put_json(CAPTURE_KEY, &req.idempotency_key, &keyed)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn attach_payment_method(
        &self,
        payment_method: &str,
        provider_customer: &str,
    ) -> Result<PaymentMethod> {
        let (brand, last4) = card_of(payment_method).ok_or_else(|| {
            sim_error(
                "resource_missing",
                "no such payment method; the simulator accepts the test tokens listed in fintech_providers::sim::TEST_PAYMENT_METHODS",
            )
        })?;
        if !provider_customer.starts_with("cus_") {
            return Err(sim_error("resource_missing", "no such customer"));
        }
        let method = PaymentMethod {
            id: payment_method.to_owned(),
            kind: "card".into(),
            card: Some(CardDetails {
                brand: brand.into(),
                last4: last4.into(),
                exp_month: 12,
                exp_year: 2034,
            }),
        };
        let mut tx = self.state.begin().await?;
        let mut list = tx
            .get_json::<Vec<PaymentMethod>>(METHODS, provider_customer)
            .await?
            .unwrap_or_default();
        if !list.iter().any(|m| m.id == method.id) {
            list.push(method.clone());
            tx.put_json(METHODS, provider_customer, &list).await?;
            tx.commit().await?;
        }
        Ok(method)
    }

    async fn payment_method_exists(&self, payment_method: &str) -> Result<bool> {
        Ok(outcome(payment_method).is_some())
    }

    async fn payment_methods(&self, provider_customer: &str) -> Result<Vec<PaymentMethod>> {
        Ok(self
            .state
            .get::<Vec<PaymentMethod>>(METHODS, provider_customer)
            .await?
            .unwrap_or_default())
    }

    async fn balance(&self) -> Result<Vec<ProviderBalance>> {
        let payments = self.state.list::<SimPayment>(PAYMENT).await?;
        let mut by_currency: HashMap<&'static str, ProviderBalance> = HashMap::new();
        for (_, p) in payments.iter().filter(|(_, p)| !p.restored) {
            let currency = p.amount.currency();
            let b = by_currency
                .entry(currency.code())
                .or_insert_with(|| ProviderBalance {
                    available: Money::zero(currency),
                    pending: Money::zero(currency),
                });
            match p.status {
                Status::Succeeded => {
                    b.available = b
                        .available
                        .checked_add(&p.captured.checked_sub(&p.refunded)?)?;
                }
                Status::Processing => {
                    b.pending = b.pending.checked_add(&p.amount)?;
                }
                _ => {}
            }
        }
        let mut out: Vec<ProviderBalance> = by_currency.into_values().collect();
        out.sort_by(|a, b| {
            a.available
                .currency()
                .code()
                .cmp(b.available.currency().code())
        });
        if out.is_empty() {
            let usd = fintech_core::Currency::from_code("USD")?;
            out.push(ProviderBalance {
                available: Money::zero(usd),
                pending: Money::zero(usd),
            });
        }
        Ok(out)
    }
}
