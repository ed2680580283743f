//! Simulated payments in the Stripe test-mode model: test payment-method tokens decide the
//! outcome, idempotency keys are honoured (same key + same request replays, same key +
//! different request is refused), refunds never exceed the charge.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use fintech_core::payments::{
    CaptureMethod, CardDetails, NewCustomer, PaymentMethod, PaymentProvider, ProviderBalance,
    ProviderCaptureRequest, ProviderCustomer, ProviderPayment, ProviderPaymentRequest,
    ProviderPaymentStatus, ProviderRefund, ProviderRefundRequest, RefundStatus,
};
use fintech_core::{ConflictCode, Error, Money, ProviderMode, Result};

use super::{lock, sim_error};

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

#[derive(Debug)]
struct SimPayment {
    amount: Money,
    /// What moved: the amount, or the part of it captured.
    captured: Money,
    refunded: Money,
    status: ProviderPaymentStatus,
    /// Authorize only; money moves on capture.
    manual: bool,
    /// Rebuilt from its id by a later process, which cannot know what happened since.
    restored: bool,
}

#[derive(Debug, Default)]
struct State {
    customers: HashMap<String, (NewCustomer, String)>,
    /// Idempotency key → (fingerprint of the request, provider payment id).
    payment_keys: HashMap<String, (String, String)>,
    payments: HashMap<String, SimPayment>,
    /// Idempotency key → (fingerprint, refund).
    refund_keys: HashMap<String, (String, ProviderRefund)>,
    /// Idempotency key → (fingerprint, the payment after its capture).
    capture_keys: HashMap<String, (String, ProviderPayment)>,
    /// Provider customer id → payment methods attached to it.
    attached: HashMap<String, Vec<PaymentMethod>>,
    charges: usize,
    refunds: usize,
}

/// The simulated payments provider of one tenant.
#[derive(Debug, Default)]
pub struct SimPayments {
    state: Mutex<State>,
}

impl SimPayments {
    /// An empty simulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Charges made (distinct payments created; replays of an idempotency key not counted).
    pub fn charge_count(&self) -> usize {
        lock(&self.state).charges
    }

    /// Refunds made (replays not counted).
    pub fn refund_count(&self) -> usize {
        lock(&self.state).refunds
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_sim_{}", uuid::Uuid::new_v4().simple())
}

/// A payment by id. The simulator keeps payments in memory, but each id carries the amount,
/// currency and outcome (`pi_sim_<uuid>_<minor>_<CUR>_<s|p|f>`), so a payment made by an
/// earlier process (a CLI invocation, a server before its restart) is known again: settled if
/// it was processing, with nothing refunded yet (the platform tracks refunds and refuses more
/// than the payment itself).
fn lookup<'a>(st: &'a mut State, id: &str) -> Result<&'a mut SimPayment> {
    if !st.payments.contains_key(id) {
        let restored = (|| {
            let mut parts = id.strip_prefix("pi_sim_")?.split('_');
            let (_uuid, minor, cur, kind) =
                (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let currency = fintech_core::Currency::from_code(cur).ok()?;
            let amount = Money::from_minor(minor.parse().ok()?, currency);
            let status = match kind {
                "s" | "p" => ProviderPaymentStatus::Succeeded,
                "a" => ProviderPaymentStatus::RequiresCapture,
                "f" => ProviderPaymentStatus::Failed {
                    code: "card_declined".into(),
                    message: "Your card was declined.".into(),
                },
                _ => return None,
            };
            Some(SimPayment {
                amount,
                captured: if status == ProviderPaymentStatus::Succeeded {
                    amount
                } else {
                    Money::zero(currency)
                },
                refunded: Money::zero(currency),
                manual: kind == "a",
                status,
                restored: true,
            })
        })();
        if let Some(p) = restored {
            st.payments.insert(id.to_owned(), p);
        }
    }
    st.payments
        .get_mut(id)
        .ok_or_else(|| Error::not_found("payment", id))
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
        status: p.status.clone(),
    }
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
        let mut st = lock(&self.state);
        if let Some((first, id)) = st.customers.get(idempotency_key) {
            if first != req {
                return Err(reused_key("customer"));
            }
            return Ok(ProviderCustomer {
                provider_id: id.clone(),
            });
        }
        let id = new_id("cus");
        st.customers
            .insert(idempotency_key.to_owned(), (req.clone(), id.clone()));
        Ok(ProviderCustomer { provider_id: id })
    }

    async fn create_payment(&self, req: &ProviderPaymentRequest) -> Result<ProviderPayment> {
        if !req.amount.is_positive() {
            return Err(sim_error(
                "parameter_invalid_integer",
                "amount must be greater than zero",
            ));
        }
        let fingerprint = format!(
            "{}|{}|{:?}|{:?}|{:?}",
            req.amount, req.payment_method, req.customer, req.description, req.capture_method
        );
        let manual = req.capture_method == CaptureMethod::Manual;
        let mut st = lock(&self.state);
        if let Some((first, id)) = st.payment_keys.get(&req.idempotency_key) {
            if *first != fingerprint {
                return Err(reused_key("payment"));
            }
            let p = st
                .payments
                .get(id)
                .ok_or_else(|| Error::internal("simulator lost a keyed payment"))?;
            return Ok(snapshot(id, p));
        }
        let outcome = outcome(&req.payment_method).ok_or_else(|| {
            sim_error(
                "resource_missing",
                "no such payment method; the simulator accepts the test tokens listed in fintech_providers::sim::TEST_PAYMENT_METHODS",
            )
        })?;
        let status = match outcome {
            Outcome::Succeed if manual => ProviderPaymentStatus::RequiresCapture,
            Outcome::Succeed => ProviderPaymentStatus::Succeeded,
            Outcome::Processing | Outcome::Review => ProviderPaymentStatus::Processing,
            Outcome::Decline(code, message) => ProviderPaymentStatus::Failed {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        };
        // The id carries what a later process needs to know the payment (see `lookup`).
        let kind = match &status {
            ProviderPaymentStatus::Succeeded => 's',
            ProviderPaymentStatus::Processing if manual => 'a',
            ProviderPaymentStatus::Processing => 'p',
            ProviderPaymentStatus::RequiresCapture => 'a',
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
            captured: if status == ProviderPaymentStatus::Succeeded {
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
        st.payments.insert(id.clone(), payment);
        st.payment_keys
            .insert(req.idempotency_key.clone(), (fingerprint, id));
        st.charges += 1;
        Ok(out)
    }

    async fn get_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        let mut st = lock(&self.state);
        let p = lookup(&mut st, provider_id)?;
        // Processing settles by the time anyone looks again: deterministic, no timers.
        if p.status == ProviderPaymentStatus::Processing {
            if p.manual {
                p.status = ProviderPaymentStatus::RequiresCapture;
            } else {
                p.status = ProviderPaymentStatus::Succeeded;
                p.captured = p.amount;
            }
        }
        Ok(snapshot(provider_id, p))
    }

    async fn cancel_payment(&self, provider_id: &str) -> Result<ProviderPayment> {
        let mut st = lock(&self.state);
        let p = lookup(&mut st, provider_id)?;
        match p.status {
            ProviderPaymentStatus::Processing | ProviderPaymentStatus::RequiresCapture => {
                p.status = ProviderPaymentStatus::Canceled
            }
            ProviderPaymentStatus::Canceled => {}
            _ => return Err(Error::conflict(
                ConflictCode::InvalidState,
                "only a processing or uncaptured payment can be cancelled; refund a succeeded one",
            )),
        }
        Ok(snapshot(provider_id, p))
    }

    async fn create_refund(&self, req: &ProviderRefundRequest) -> Result<ProviderRefund> {
        let fingerprint = format!("{}|{}", req.provider_payment_id, req.amount);
        let mut st = lock(&self.state);
        if let Some((first, refund)) = st.refund_keys.get(&req.idempotency_key) {
            if *first != fingerprint {
                return Err(reused_key("refund"));
            }
            return Ok(refund.clone());
        }
        let p = lookup(&mut st, &req.provider_payment_id)?;
        if p.restored && p.status == ProviderPaymentStatus::RequiresCapture {
            // authorized in an earlier process and captured since, as the platform knows
            p.status = ProviderPaymentStatus::Succeeded;
            p.captured = p.amount;
        }
        if p.status != ProviderPaymentStatus::Succeeded {
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
        st.refund_keys
            .insert(req.idempotency_key.clone(), (fingerprint, refund.clone()));
        st.refunds += 1;
        Ok(refund)
    }

    async fn capture_payment(&self, req: &ProviderCaptureRequest) -> Result<ProviderPayment> {
        let fingerprint = format!("{}|{}", req.provider_payment_id, req.amount);
        let mut st = lock(&self.state);
        if let Some((first, captured)) = st.capture_keys.get(&req.idempotency_key) {
            if *first != fingerprint {
                return Err(reused_key("capture"));
            }
            return Ok(captured.clone());
        }
        let p = lookup(&mut st, &req.provider_payment_id)?;
        if p.status != ProviderPaymentStatus::RequiresCapture {
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
        p.status = ProviderPaymentStatus::Succeeded;
        let out = snapshot(&req.provider_payment_id, p);
        st.capture_keys
            .insert(req.idempotency_key.clone(), (fingerprint, out.clone()));
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
        let mut st = lock(&self.state);
        let list = st.attached.entry(provider_customer.to_owned()).or_default();
        if !list.iter().any(|m| m.id == method.id) {
            list.push(method.clone());
        }
        Ok(method)
    }

    async fn payment_method_exists(&self, payment_method: &str) -> Result<bool> {
        Ok(outcome(payment_method).is_some())
    }

    async fn payment_methods(&self, provider_customer: &str) -> Result<Vec<PaymentMethod>> {
        Ok(lock(&self.state)
            .attached
            .get(provider_customer)
            .cloned()
            .unwrap_or_default())
    }

    async fn balance(&self) -> Result<Vec<ProviderBalance>> {
        let st = lock(&self.state);
        let mut by_currency: Vec<ProviderBalance> = Vec::new();
        for p in st.payments.values().filter(|p| !p.restored) {
            let currency = p.amount.currency();
            let i = match by_currency
                .iter()
                .position(|b| b.available.currency() == currency)
            {
                Some(i) => i,
                None => {
                    by_currency.push(ProviderBalance {
                        available: Money::zero(currency),
                        pending: Money::zero(currency),
                    });
                    by_currency.len() - 1
                }
            };
            let b = &mut by_currency[i];
            match p.status {
                ProviderPaymentStatus::Succeeded => {
                    b.available = b
                        .available
                        .checked_add(&p.captured.checked_sub(&p.refunded)?)?;
                }
                ProviderPaymentStatus::Processing => {
                    b.pending = b.pending.checked_add(&p.amount)?;
                }
                _ => {}
            }
        }
        by_currency.sort_by(|a, b| {
            a.available
                .currency()
                .code()
                .cmp(b.available.currency().code())
        });
        if by_currency.is_empty() {
            let usd = fintech_core::Currency::from_code("USD")?;
            by_currency.push(ProviderBalance {
                available: Money::zero(usd),
                pending: Money::zero(usd),
            });
        }
        Ok(by_currency)
    }
}
